// Types of `astro-hoist/runtime` (implementation: runtime.js).

declare global {
  namespace App {
    /** Astro's per-request `locals`. Merges with Astro's own declaration; augment it in `env.d.ts`. */
    interface Locals {}
  }
}

/** What every loader receives: the request it runs for, once per request. */
export interface LoaderContext {
  /** `Astro.params`: the route's dynamic segments. */
  params: Record<string, string | undefined>;
  /** `Astro.url`. */
  url: URL;
  /** `Astro.request`. */
  request: Request;
  /** `Astro.locals`, shared with middleware and every component of the request. */
  locals: App.Locals;
  /**
   * Aborts when the request ends (response sent or cancelled, client gone) or when this loader's
   * `timeout` fires. Pass it to `fetch` and database calls.
   */
  signal: AbortSignal;
  /**
   * Runs another loader in this request, or reuses its run: each loader runs at most once per
   * request. Rejects (never hangs) on a dependency cycle.
   */
  load<L extends Loader<any>>(loader: L): Promise<Awaited<ReturnType<L>>>;
}

/** A component's `export const loader`: produces the data its `getLoaderData()` reads. */
export type Loader<T = unknown> = (context: LoaderContext) => T | Promise<T>;

/**
 * The data of this component's `loader`, started early by its page's batch when it could be
 * hoisted, else now; once per request either way.
 *
 * Call it in the frontmatter of a `.astro` component that exports `loader`; the astro-hoist
 * integration must be installed (it binds each call to its component at build time).
 * Rejects with an Error naming the component, the loader's error as `cause`.
 *
 * @example
 * export const loader = defineLoader(async ({ params, signal }) => db.post(params.slug, { signal }));
 * const post = await getLoaderData<typeof loader>();
 */
export function getLoaderData<L extends (...args: any[]) => unknown = Loader>(): Promise<Awaited<ReturnType<L>>>;

/** Returns `loader` unchanged; lets TypeScript type its context and infer its result. */
export function defineLoader<T>(loader: (context: LoaderContext) => T): (context: LoaderContext) => T;

/** @internal The `Astro` fields the runtime reads. */
export interface AstroLike {
  locals: object;
  params?: Record<string, string | undefined>;
  url: URL;
  request: Request;
}

/** @internal One hoisted loader of a page's component tree, as generated code lists it. */
export interface BatchEntry {
  /** Stable component id (blake3 of the root-relative path). */
  key: string;
  loader: Loader<any> | undefined;
  /** Root-relative path of the component, e.g. `src/components/Card.astro`. */
  component: string;
  /** Reachable only through conditional usages: started only when `speculative`. */
  conditional?: boolean;
}

/** @internal Integration options, passed through generated code. */
export interface BatchOptions {
  /** Milliseconds per loader; on expiry its signal aborts and its readers reject. */
  timeout?: number;
  /** Most loaders in flight per request; the rest queue in start order. */
  concurrency?: number;
  /** Also start conditional entries; unread ones are aborted when the request ends. */
  speculative?: boolean;
  /** Add a `Server-Timing` header (default true). */
  serverTiming?: boolean;
  /** Keys in the order to start them (others follow in entry order). */
  order?: string[];
}

/** @internal The argument the Vite plugin adds to each `getLoaderData()` call. */
export interface LoaderBind {
  astro: AstroLike;
  key: string;
  loader: Loader<any> | undefined;
  component: string;
}

/** @internal One settled loader's timing (performance.now() milliseconds). */
export interface LoaderTiming {
  key: string | null;
  component: string | null;
  /** `component`, or the key or function name when no component is known. */
  name: string;
  start: number;
  end: number;
  ok: boolean;
}

/** @internal The request-scoped registry stored on `locals[Symbol.for('astro-hoist.request')]`. */
export interface RequestState {
  /** Aborted when the request ends. */
  readonly controller: AbortController;
  /** Whether the page asked for a `Server-Timing` header. */
  readonly serverTiming: boolean;
  /** Ends the request: aborts every loader's signal. Idempotent. */
  end(reason?: unknown): void;
  /** Resolves when the page's non-speculative batch has settled; never rejects. */
  settled(): Promise<void>;
  /** Timings of the loaders that have settled, by start time. */
  timings(): LoaderTiming[];
}

/** @internal The request's state, created on first use. */
export function __requestState(locals: object, request?: Request): RequestState;

/** @internal The request's state if a loader or batch created it; never throws. */
export function __existingRequestState(locals: unknown): RequestState | undefined;

/** @internal Called by generated page code: starts the page's hoisted loaders in one batch. */
export function __startBatch(astro: AstroLike, entries: BatchEntry[], options?: BatchOptions): void;

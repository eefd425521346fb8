// Types of `astro-hoist/runtime` (implementation: runtime.js).

declare global {
  namespace App {
    /** Astro's per-request `locals`. Merges with Astro's own declaration; augment it in `env.d.ts`. */
    interface Locals {}
  }
}

/**
 * What every loader receives: the request it runs for, and the props of the component instance
 * it runs for. A loader that reads `props` runs once per distinct props value in a request
 * (compared by structure); one that does not runs once per request.
 */
export interface LoaderContext<Props = Record<string, any>> {
  /** `Astro.params`: the route's dynamic segments. */
  params: Record<string, string | undefined>;
  /** `Astro.url`. */
  url: URL;
  /** `Astro.request`. */
  request: Request;
  /** `Astro.locals`, shared with middleware and every component of the request. */
  locals: App.Locals;
  /**
   * `Astro.props` of the instance this run is for. A loader that reads them starts when its
   * component renders; `{}` for a run started by `load()` or early in a batch.
   */
  props: Props;
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
export type Loader<T = unknown, Props = Record<string, any>> = (context: LoaderContext<Props>) => T | Promise<T>;

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

/** A loader run that settled (see `onLoaderSettled`). */
export interface LoaderSettledEvent {
  /** The component's stable id (blake3 of its root-relative path, as `astro-hoist analyze` lists it). */
  key: string | null;
  /** Root-relative path of the component. */
  component: string | null;
  /** The URL of the render it ran for. */
  url: string | undefined;
  /** `performance.now()` when the loader was called, and when it settled. */
  start: number;
  end: number;
  ok: boolean;
  /** What it threw or rejected with (or the abort reason), when not `ok`. */
  error?: unknown;
  /** For a cached loader: how the cross-request cache answered. */
  cache?: import('./cache.js').CacheState;
  /**
   * What started it: `batch` (its page's batch, at request start), `flow` (its props became
   * known), `render` (its component's `getLoaderData()`), `load` (another loader's `context.load()`).
   */
  origin?: 'batch' | 'flow' | 'render' | 'load';
  /** Read by a component inside a `<Defer>` before it settled. */
  deferred?: boolean;
}

/**
 * Calls `listener` each time a loader run settles, with its timing and outcome: the complete
 * per-loader timings (Server-Timing only carries what had settled when the head left). A
 * listener that throws is ignored. Returns a function that removes the listener.
 */
export function onLoaderSettled(listener: (event: LoaderSettledEvent) => void): () => void;

/**
 * Returns `loader` unchanged; lets TypeScript type its context and infer its result.
 * `defineLoader<Props>(…)` types `props` (TypeScript then cannot infer the result as well: write
 * `defineLoader<Props, Result>(…)`, or annotate the context instead,
 * `defineLoader(async ({ props }: LoaderContext<Props>) => …)`, which infers both).
 */
/** @internal The tags and shortest maxAge of the cached loader values a scope's renders used. */
export function __routeCacheHints(scope: RequestScope): { tags: string[]; maxAge: number };

/** @internal */
export function __cacheInfo(loader: Function, info: { id: string; reads: string[]; dev?: boolean }): void;

export function defineLoader<Props = Record<string, any>, T = any>(
  loader: (context: LoaderContext<Props>) => T,
  options?: LoaderOptions<T>,
): (context: LoaderContext<Props>) => T;

/** The second argument of `defineLoader`. */
export interface LoaderOptions<T = any> {
  /**
   * Keep the loader's value across requests (and servers, with a shared store): see
   * `astro-hoist/cache` and the README. Keyed by the component and the `params`, `props` and
   * `url` the loader reads, or by `key`. A cached loader that reads `request` or `locals` needs
   * a `key` (the build fails otherwise): no visitor may get another's data.
   */
  cache?: import('./cache.js').LoaderCacheOptions<Awaited<T>>;
}

/**
 * A loader that loads every instance of its component rendered together in one call (the N+1
 * problem of a list, solved): `load` gets the props of each instance (equal props once) and
 * returns one result per entry, in the same order. An entry that is an `Error` rejects only its
 * instance's `getLoaderData()`; a thrown error or a result of the wrong length rejects every
 * instance of the call. `getLoaderData<typeof loader>()` resolves to one entry.
 *
 * @example
 * export const loader = defineBatchLoader(async (propsList: Props[], { signal }) => {
 *   const cards = await db.cards(propsList.map((p) => p.id), { signal });
 *   return propsList.map((p) => cards.get(p.id));
 * });
 * const card = await getLoaderData<typeof loader>();
 */
export function defineBatchLoader<Props = Record<string, any>, T = any>(
  load: (propsList: Props[], context: LoaderContext<Record<string, never>>) => T[] | Promise<T[]>,
  options?: {
    /** Entries per call at most; more instances make more calls. Default: no limit. */
    maxBatchSize?: number;
  },
): (context: LoaderContext<Props>) => Promise<T>;

/** @internal The `Astro` fields the runtime reads. */
export interface AstroLike {
  locals: object;
  /** The instance's props (`Astro.props`). */
  props?: Record<string, unknown>;
  params?: Record<string, string | undefined>;
  url: URL;
  request: Request;
}

/**
 * @internal One hoisted loader of a page's component tree, as generated code lists it. A batch
 * may list a key alone (a string) for an unconditional entry whose loader was registered.
 */
export interface BatchEntry {
  /** Stable component id (blake3 of the root-relative path). */
  key: string;
  /** The component's own loader; other entries' loaders are found by key (`__registerLoader`). */
  loader?: Loader<any>;
  /** Root-relative path of the component, e.g. `src/components/Card.astro` (default: the registered one). */
  component?: string;
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
  /**
   * `Server-Timing` for this render: `'paths'` names component paths, `'opaque'` component ids,
   * `false` adds none; unset: `'paths'` when `dev`, else none.
   */
  serverTiming?: 'paths' | 'opaque' | false;
  /** The page was built by `astro dev`. */
  dev?: boolean;
}

/** @internal The argument the Vite plugin adds to each `getLoaderData()` call. */
export interface LoaderBind {
  astro: AstroLike;
  /** Astro's per-render `$$result`: the render this call belongs to. */
  result?: object;
  key: string;
  loader: Loader<any> | undefined;
  component: string;
  /** The integration's options (timeout, concurrency, Server-Timing): a render no batch configured still gets them. */
  options?: BatchOptions;
  /** The loader reads its props (or passes its whole context on): one run per distinct props. */
  props?: boolean;
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
  /** For a cached loader: how the cross-request cache answered. */
  cache?: import('./cache.js').CacheState;
}

/** @internal The registry of one render (one `$$result`). */
export interface RenderState {
  /** Aborted when the render ends. */
  readonly controller: AbortController;
  readonly serverTiming: BatchOptions['serverTiming'];
  readonly dev: boolean;
  /** Ends the render: aborts every loader's signal. Idempotent. */
  end(reason?: unknown): void;
  /** Timings of the loaders that have settled, by start time. */
  timings(): LoaderTiming[];
}

/** @internal One invocation of the astro-hoist middleware: the renders started under it. */
export class RequestScope {
  constructor(request: Request | undefined, parent: RequestScope | undefined);
  readonly parent: RequestScope | undefined;
  readonly children: RequestScope[];
  readonly signal: AbortSignal | undefined;
  readonly states: Set<RenderState>;
  ended: boolean;
  end(reason?: unknown): void;
  run<T>(fn: () => T): T;
  static current(): RequestScope | undefined;
}

/** @internal The render's state, created on first use. */
export function __renderState(astro: AstroLike, result?: object): RenderState;

/** @internal The render's state if a loader or batch created it; never throws. */
export function __existingRenderState(astro: AstroLike, result?: object): RenderState | undefined;

/** @internal Called by generated code: starts a component tree's hoisted loaders in one batch. */
export function __startBatch(astro: AstroLike, entries: (string | BatchEntry)[], options?: BatchOptions, result?: object): void;

/** @internal Registers a component's hoistable loader by key (generated code, at module evaluation). */
export function __registerLoader(key: string, loader: unknown, component?: string | null, replace?: boolean): void;
/** @internal A structural key of a props value (null: cannot be compared). */
export function propsKey(value: unknown): string | null;

// astro-hoist/runtime: the per-request registry and orchestrator of hoisted loaders.
//
// A page's generated frontmatter calls `__startBatch(Astro, entries, options)` before any of its
// own awaits, so every loader of the component tree starts in one batch. When a component renders,
// its `getLoaderData()` call (rewritten by the Vite plugin to pass a bind object) finds its loader
// already running or done. Loaders the plugin could not hoist start there instead, still once per
// request.
//
// Nothing request-scoped lives in this module: all of it hangs off
// `Astro.locals[Symbol.for('astro-hoist.request')]`. Astro creates one `locals` object per request
// and shares it between the middleware and every component, so concurrent requests never meet.

/**
 * @typedef {import('./runtime.js').LoaderContext} LoaderContext
 * @typedef {import('./runtime.js').AstroLike} AstroLike
 * @typedef {import('./runtime.js').BatchEntry} BatchEntry
 * @typedef {import('./runtime.js').BatchOptions} BatchOptions
 * @typedef {import('./runtime.js').LoaderBind} LoaderBind
 * @typedef {import('./runtime.js').LoaderTiming} LoaderTiming
 * @typedef {(context: LoaderContext) => unknown} LoaderFn
 * @typedef {Pick<LoaderContext, 'params' | 'url' | 'request' | 'locals'>} LoaderScope
 */

/**
 * One loader's execution within one request.
 * @typedef {object} Run
 * @property {string | null} key stable component id; null for a function only `context.load()` knows
 * @property {string | null} component root-relative path of the component that owns the loader
 * @property {LoaderFn} loader
 * @property {LoaderScope} scope the Astro fields handed to the loader
 * @property {AbortController} controller aborts on timeout or at the end of the request
 * @property {Promise<unknown>} promise the loader's own outcome (a no-op handler is attached)
 * @property {(value: unknown) => void} resolve
 * @property {(error: unknown) => void} reject
 * @property {'idle' | 'queued' | 'running' | 'settled'} status
 * @property {boolean} ok
 * @property {boolean} holdsSlot whether it counts against the concurrency limit
 * @property {ReturnType<typeof setTimeout> | undefined} timer
 * @property {number | undefined} start performance.now() when the loader was called
 * @property {number | undefined} end performance.now() when it settled
 * @property {Set<Run>} waitsOn runs this one asked for through `context.load()` (cycle detection)
 * @property {Map<string | null, Promise<unknown>>} reads one wrapped promise per reading component
 */

const STATE = Symbol.for('astro-hoist.request');
const PREFIX = '[astro-hoist]';
const noop = () => {};

const MISSING_BIND =
  `${PREFIX} getLoaderData() was called without its binding. Call it in the frontmatter of a ` +
  '.astro component that exports `loader` (`const data = await getLoaderData<typeof loader>()`), ' +
  'and install the astro-hoist integration in astro.config (`integrations: [hoist()]`): the ' +
  'integration rewrites these calls at build time; without it they cannot know their loader.';

/**
 * The request-scoped registry: every run, the concurrency queue, the request's AbortController and
 * the timings the middleware turns into `Server-Timing`.
 */
class RequestState {
  /** @param {Request | undefined} request */
  constructor(request) {
    /** Aborted when the request ends; every loader's signal follows it. */
    this.controller = new AbortController();
    /** @type {Map<string | LoaderFn, Run>} keyed runs by key, the others by function */
    this.runs = new Map();
    /** @type {Run[]} every run of this request, in creation order */
    this.list = [];
    /** @type {Map<LoaderFn, { key: string, component: string | null }>} loader -> its component */
    this.registry = new Map();
    /** @type {Run[]} runs waiting for a concurrency slot, in start order */
    this.queue = [];
    /** @type {Promise<unknown>[]} the non-speculative batch the middleware waits for */
    this.batch = [];
    this.active = 0;
    this.concurrency = Infinity;
    /** @type {number | undefined} */
    this.timeout = undefined;
    this.serverTiming = true;

    const { signal } = this.controller;
    // One listener for all loaders rather than one per loader: an AbortSignal warns past 10.
    // Settled runs are aborted too: a loader may have returned something (a fetch body, a stream)
    // that still listens to its signal, and the request that wanted it is over.
    signal.addEventListener(
      'abort',
      () => {
        for (const run of this.list) {
          if (!run.controller.signal.aborted) run.controller.abort(signal.reason);
        }
      },
      { once: true },
    );

    // A client that disconnects ends the request even if no middleware watches the body.
    const requestSignal = request?.signal;
    if (requestSignal) {
      if (requestSignal.aborted) {
        this.end(requestSignal.reason);
      } else {
        const onAbort = () => this.end(requestSignal.reason);
        requestSignal.addEventListener('abort', onAbort, { once: true });
        signal.addEventListener('abort', () => requestSignal.removeEventListener('abort', onAbort), {
          once: true,
        });
      }
    }
  }

  /**
   * Ends the request: aborts every loader's signal; runs still pending or queued reject with
   * `reason`. Idempotent, never throws.
   * @param {unknown} [reason]
   */
  end(reason) {
    if (this.controller.signal.aborted) return;
    this.controller.abort(
      reason ?? new DOMException(`${PREFIX} the request ended before this loader finished`, 'AbortError'),
    );
  }

  /**
   * Resolves once every loader of the non-speculative batch has settled; never rejects.
   * @returns {Promise<void>}
   */
  settled() {
    return Promise.allSettled(this.batch).then(noop);
  }

  /**
   * Start and end times of every loader that has run to completion (or failure), by start time.
   * @returns {LoaderTiming[]}
   */
  timings() {
    /** @type {LoaderTiming[]} */
    const timings = [];
    for (const run of this.list) {
      if (run.start === undefined || run.end === undefined) continue;
      timings.push({ key: run.key, component: run.component, name: describe(run), start: run.start, end: run.end, ok: run.ok });
    }
    return timings.sort((a, b) => a.start - b.start);
  }

  /**
   * Applies a batch's options. Later batches of the same request (a rewrite) override.
   * @param {BatchOptions} options
   */
  configure(options) {
    const { timeout, concurrency } = options;
    if (typeof timeout === 'number' && timeout > 0 && Number.isFinite(timeout)) this.timeout = timeout;
    if (typeof concurrency === 'number' && concurrency >= 1) this.concurrency = Math.floor(concurrency);
    if (options.serverTiming !== undefined) this.serverTiming = options.serverTiming !== false;
  }
}

/**
 * The request's state, created on first use (the middleware creates it before the page renders).
 * @param {object} locals `Astro.locals` / `context.locals`
 * @param {Request} [request] its `signal` ends the request on client disconnect
 * @returns {RequestState}
 */
export function __requestState(locals, request) {
  if (locals === null || (typeof locals !== 'object' && typeof locals !== 'function')) {
    throw new TypeError(`${PREFIX} Astro.locals is missing; astro-hoist needs Astro's per-request locals`);
  }
  const existing = /** @type {RequestState | undefined} */ (Reflect.get(locals, STATE));
  if (existing) return existing;
  const state = new RequestState(request);
  // Non-enumerable: users spreading or logging `locals` should not drag the registry along.
  Object.defineProperty(locals, STATE, { value: state, configurable: true });
  return state;
}

/**
 * The request's state if anything created it, without creating one; never throws.
 * @param {unknown} locals
 * @returns {RequestState | undefined}
 */
export function __existingRequestState(locals) {
  if (locals === null || (typeof locals !== 'object' && typeof locals !== 'function')) return undefined;
  return /** @type {RequestState | undefined} */ (Reflect.get(locals, STATE));
}

/**
 * Starts a page's hoisted loaders in one batch. Called by generated page code at the start of the
 * page's render; not part of the public API.
 * @param {AstroLike} astro the page's `Astro`
 * @param {BatchEntry[]} entries every hoisted loader of the page's component tree
 * @param {BatchOptions} [options]
 * @returns {void}
 */
export function __startBatch(astro, entries, options = {}) {
  const state = __requestState(astro.locals, astro.request);
  state.configure(options);
  // Register every entry, started now or not, so `context.load(loader)` dedupes by key.
  for (const entry of entries) {
    if (typeof entry.loader === 'function' && !state.registry.has(entry.loader)) {
      state.registry.set(entry.loader, { key: entry.key, component: entry.component });
    }
  }
  const speculative = options.speculative === true;
  const startable = entries.filter(
    (entry) => typeof entry.loader === 'function' && (!entry.conditional || speculative),
  );
  for (const entry of startOrder(startable, options.order)) {
    const loader = /** @type {LoaderFn} */ (entry.loader);
    // Once per request: an earlier batch, reader or context.load() may have started it.
    if (lookup(state, entry.key, loader, entry.component)) continue;
    const run = createRun(state, entry.key, loader, entry.component, astro);
    // Speculative work is not waited for: nobody may ever read it.
    if (!entry.conditional) state.batch.push(run.promise);
    schedule(state, run);
  }
  drain(state); // a batch may have raised the concurrency limit
}

/**
 * The data of this component's `loader`: the promise its page's batch already started, or, for
 * loaders that could not be hoisted, a run started now. Once per request either way.
 *
 * Call it without arguments in the frontmatter of a component that exports `loader`; the
 * astro-hoist integration adds the binding argument at build time.
 * @param {LoaderBind} [bind] added by the Vite plugin
 * @returns {Promise<unknown>} rejects with an Error naming the component, the loader's error as `cause`
 */
export function getLoaderData(bind) {
  if (bind === null || typeof bind !== 'object' || bind.astro === null || typeof bind.astro !== 'object') {
    throw new Error(MISSING_BIND);
  }
  const { astro, key, loader, component } = bind;
  if (typeof loader !== 'function') {
    throw new Error(
      `${PREFIX} getLoaderData() in ${component ?? 'a component'}: the component does not export a ` +
        '`loader`. Add one to its frontmatter, e.g. ' +
        '`export const loader = async ({ params, signal }) => { ... }`.',
    );
  }
  const state = __requestState(astro.locals, astro.request);
  let run = lookup(state, key, loader, component);
  if (!run) {
    run = createRun(state, key, loader, component, astro);
    schedule(state, run);
  }
  return read(run, component ?? run.component);
}

/**
 * Returns `loader` unchanged; exists so TypeScript infers the context parameter and the result.
 * @template T
 * @param {(context: LoaderContext) => T} loader
 * @returns {(context: LoaderContext) => T}
 */
export function defineLoader(loader) {
  return loader;
}

/**
 * Entries in start order: the keys of `order` first, in that order, then the rest in entry order.
 * @param {BatchEntry[]} entries
 * @param {string[] | undefined} order
 */
function startOrder(entries, order) {
  if (!Array.isArray(order)) return entries;
  const rank = new Map(order.map((key, index) => [key, index]));
  // Array#sort is stable, so unranked entries keep their relative order.
  return [...entries].sort((a, b) => (rank.get(a.key) ?? order.length) - (rank.get(b.key) ?? order.length));
}

/**
 * The run this request already has for a key (or, without a key, for a function).
 * @param {RequestState} state
 * @param {string | null | undefined} key
 * @param {LoaderFn} loader
 * @param {string | null | undefined} component
 * @returns {Run | undefined}
 */
function lookup(state, key, loader, component) {
  const known = key ?? state.registry.get(loader)?.key;
  if (known == null) return state.runs.get(loader);
  const run = state.runs.get(known);
  if (run) return run;
  // context.load() may have started this function before anything told us its key: adopt it.
  const loose = state.runs.get(loader);
  if (loose && loose.key === null) {
    loose.key = known;
    loose.component ??= component ?? state.registry.get(loader)?.component ?? null;
    state.runs.set(known, loose);
    if (!state.registry.has(loader)) state.registry.set(loader, { key: known, component: loose.component });
    return loose;
  }
  return undefined;
}

/**
 * A new, not yet started run, registered in the request's state.
 * @param {RequestState} state
 * @param {string | null | undefined} key
 * @param {LoaderFn} loader
 * @param {string | null | undefined} component
 * @param {AstroLike | LoaderScope} astro
 * @returns {Run}
 */
function createRun(state, key, loader, component, astro) {
  /** @type {Run} */
  const run = {
    key: key ?? null,
    component: component ?? null,
    loader,
    scope: { params: astro.params ?? {}, url: astro.url, request: astro.request, locals: astro.locals },
    controller: new AbortController(),
    promise: Promise.resolve(),
    resolve: noop,
    reject: noop,
    status: 'idle',
    ok: false,
    holdsSlot: false,
    timer: undefined,
    start: undefined,
    end: undefined,
    waitsOn: new Set(),
    reads: new Map(),
  };
  run.promise = new Promise((resolve, reject) => {
    run.resolve = resolve;
    run.reject = reject;
  });
  // A failure nobody reads (an unread speculative loader, a dependency) must not become an
  // unhandled rejection; readers get their own derived promise.
  run.promise.catch(noop);
  // Timeout or end of request: readers stop waiting even if the loader ignores its signal.
  const { signal } = run.controller;
  signal.addEventListener('abort', () => settle(state, run, false, signal.reason), { once: true });

  if (run.key === null) {
    state.runs.set(loader, run);
  } else {
    state.runs.set(run.key, run);
    if (!state.registry.has(loader)) state.registry.set(loader, { key: run.key, component: run.component });
  }
  state.list.push(run);
  // Started after the response went out (e.g. by a late context.load()): nothing will read it.
  if (state.controller.signal.aborted) run.controller.abort(state.controller.signal.reason);
  return run;
}

/**
 * Starts `run` now if a slot is free, else queues it.
 * @param {RequestState} state
 * @param {Run} run
 */
function schedule(state, run) {
  if (run.status !== 'idle') return;
  if (state.active < state.concurrency) {
    execute(state, run, true);
  } else {
    run.status = 'queued';
    state.queue.push(run);
  }
}

/**
 * Starts queued runs while slots are free.
 * @param {RequestState} state
 */
function drain(state) {
  while (state.active < state.concurrency && state.queue.length > 0) {
    const next = /** @type {Run} */ (state.queue.shift());
    // Skip runs aborted while queued, or started early as some loader's dependency.
    if (next.status === 'queued') execute(state, next, true);
  }
}

/**
 * Calls the loader. Its outcome, a timeout or the end of the request settles the run, whichever
 * comes first.
 * @param {RequestState} state
 * @param {Run} run
 * @param {boolean} holdsSlot
 */
function execute(state, run, holdsSlot) {
  if (run.status === 'settled' || run.status === 'running') return;
  run.status = 'running';
  run.holdsSlot = holdsSlot;
  if (holdsSlot) state.active++;
  run.start = performance.now();

  const timeout = state.timeout;
  if (timeout !== undefined) {
    run.timer = setTimeout(() => {
      run.controller.abort(new DOMException(`loader timed out after ${timeout} ms`, 'TimeoutError'));
    }, timeout);
    // A pending timeout must never keep the process (or a build) alive.
    run.timer.unref?.();
  }

  /** @type {LoaderContext} */
  const context = {
    ...run.scope,
    signal: run.controller.signal,
    load: /** @type {LoaderContext['load']} */ ((loader) => loadDependency(state, run, loader)),
  };
  /** @type {unknown} */
  let result;
  try {
    result = run.loader(context);
  } catch (error) {
    settle(state, run, false, error);
    return;
  }
  Promise.resolve(result).then(
    (value) => settle(state, run, true, value),
    (error) => settle(state, run, false, error),
  );
}

/**
 * Settles a run once: records its end, clears its timer, frees its slot.
 * @param {RequestState} state
 * @param {Run} run
 * @param {boolean} ok
 * @param {unknown} value the loader's value or error
 */
function settle(state, run, ok, value) {
  if (run.status === 'settled') return;
  if (run.status === 'running') run.end = performance.now();
  run.status = 'settled';
  run.ok = ok;
  clearTimeout(run.timer);
  run.timer = undefined;
  if (ok) run.resolve(value);
  else run.reject(value);
  if (run.holdsSlot) {
    run.holdsSlot = false;
    state.active--;
    drain(state);
  }
}

/**
 * `context.load(loader)`: the run for `loader` in this request, started if needed.
 * @param {RequestState} state
 * @param {Run} parent the loader calling `context.load()`
 * @param {unknown} loader
 * @returns {Promise<unknown>}
 */
function loadDependency(state, parent, loader) {
  if (typeof loader !== 'function') {
    return Promise.reject(
      new TypeError(`${PREFIX} context.load() in the loader of ${describe(parent)} expects a loader function, got ${typeof loader}`),
    );
  }
  const fn = /** @type {LoaderFn} */ (loader);
  const known = state.registry.get(fn);
  const run =
    lookup(state, known?.key, fn, known?.component) ??
    createRun(state, known?.key, fn, known?.component, parent.scope);
  if (run.status !== 'settled') {
    // A waits for B which waits for A would never settle: reject instead of hanging.
    const cycle = pathTo(run, parent, new Set());
    if (cycle) {
      return Promise.reject(
        new Error(`${PREFIX} loader dependency cycle: ${[parent, ...cycle].map(describe).join(' -> ')}`),
      );
    }
    parent.waitsOn.add(run);
  }
  // The dependency runs in its dependent's slot rather than queueing: the dependent waits for it,
  // so queueing it behind a full concurrency limit could deadlock.
  if (run.status === 'idle' || run.status === 'queued') execute(state, run, false);
  return run.promise;
}

/**
 * The chain of unsettled runs from `from` to `to` through `context.load()` edges, if any.
 * @param {Run} from
 * @param {Run} to
 * @param {Set<Run>} seen
 * @returns {Run[] | null}
 */
function pathTo(from, to, seen) {
  if (from === to) return [from];
  if (from.status === 'settled' || seen.has(from)) return null;
  seen.add(from);
  for (const next of from.waitsOn) {
    const rest = pathTo(next, to, seen);
    if (rest) return [from, ...rest];
  }
  return null;
}

/**
 * The promise a component reads: the run's outcome, with failures naming the component.
 * @param {Run} run
 * @param {string | null} component
 * @returns {Promise<unknown>}
 */
function read(run, component) {
  let promise = run.reads.get(component);
  if (!promise) {
    promise = run.promise.catch((error) => {
      throw loaderError(component ?? describe(run), error);
    });
    run.reads.set(component, promise);
  }
  return promise;
}

/**
 * @param {string} component
 * @param {unknown} error
 */
function loaderError(component, error) {
  const message =
    error instanceof Error || (typeof error === 'object' && error !== null && 'message' in error)
      ? String(/** @type {{ message: unknown }} */ (error).message)
      : String(error);
  return new Error(`${PREFIX} loader of ${component} failed: ${message}`, { cause: error });
}

/**
 * A human name for a run, for messages and timings.
 * @param {Run} run
 */
function describe(run) {
  return run.component ?? run.key ?? (run.loader.name || 'anonymous loader');
}

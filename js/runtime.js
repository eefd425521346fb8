// astro-hoist/runtime: the per-render registry and orchestrator of hoisted loaders.
//
// A component whose tree holds hoistable loaders calls `__startBatch(Astro, entries, options,
// $$result)` at the start of its render (after the frontmatter's guards), so every loader of that
// tree starts in one batch. When a component renders, its `getLoaderData()` call (rewritten by the
// Vite plugin to pass a bind object) finds its loader already running or done. Loaders the plugin
// could not hoist start there instead, still once per render.
//
// State belongs to one render of one URL. Astro creates a new `$$result` (its SSRResult) for every
// render: the page, each `next()` of a middleware, the render after a rewrite, an error page, a
// server island's request; every component of that render receives the same one. The state is
// keyed by it in a WeakMap, so a rewrite or an error page never sees another render's data, an
// object a host shares as `locals` across requests shares nothing, and a finished render's state
// is collected with it. Nothing request-scoped is module-global: the WeakMap and the
// AsyncLocalStorage of request scopes live on `globalThis` under registered symbols, so a second
// copy of this module (one bundled, one from node_modules) shares them.

import { AsyncLocalStorage } from 'node:async_hooks';
import { context as otelContext, SpanStatusCode, trace } from '@opentelemetry/api';
import { __setStableKey, CACHE, cacheSpec, cachedCall } from './cache.js';
import { evaluate, forEachInstance } from './flow.js';
import { processWide, REGISTER_LOADER, START_BATCH } from './process-wide.js';

export { __cacheInfo } from './cache.js';

/**
 * @typedef {import('./runtime.js').LoaderContext} LoaderContext
 * @typedef {import('./runtime.js').AstroLike} AstroLike
 * @typedef {import('./runtime.js').BatchEntry} BatchEntry
 * @typedef {import('./runtime.js').BatchOptions} BatchOptions
 * @typedef {import('./runtime.js').LoaderBind} LoaderBind
 * @typedef {import('./runtime.js').LoaderTiming} LoaderTiming
 * @typedef {(context: LoaderContext) => unknown} LoaderFn
 * @typedef {Pick<LoaderContext, 'params' | 'url' | 'request' | 'locals'> & { props?: Record<string, unknown> }} LoaderScope
 */

/**
 * One loader's execution within one render.
 * @typedef {object} Run
 * @property {string | null} key stable component id; null for a function only `context.load()` knows
 * @property {string | null} component root-relative path of the component that owns the loader
 * @property {LoaderFn} loader
 * @property {LoaderScope} scope the Astro fields handed to the loader
 * @property {AbortController | undefined} controller behind the loader's `signal`, made when the loader first reads it
 * @property {unknown} abortReason why the run was aborted (timeout, end of the render), once it was
 * @property {Promise<unknown>} promise the loader's own outcome (a no-op handler is attached)
 * @property {(value: unknown) => void} resolve
 * @property {(error: unknown) => void} reject
 * @property {'idle' | 'queued' | 'running' | 'settled'} status
 * @property {boolean} ok
 * @property {boolean} holdsSlot whether it counts against the concurrency limit
 * @property {ReturnType<typeof setTimeout> | undefined} timer
 * @property {number | undefined} start performance.now() when the loader was called
 * @property {number | undefined} end performance.now() when it settled
 * @property {Set<Run> | null} waitsOn runs this one asked for through `context.load()` (cycle detection), once it asked
 * @property {Map<string | null, Promise<unknown>> | null} reads one wrapped promise per reading component, once read
 * @property {'batch' | 'flow' | 'render' | 'load'} origin what started it: a batch, the dataflow walk (its props became known), its component's getLoaderData(), context.load()
 * @property {import('@opentelemetry/api').Span | undefined} span its OpenTelemetry span, when an SDK records it
 * @property {import('./cache.js').CacheState | undefined} cache how the cross-request cache answered, for a cached loader
 * @property {string[] | undefined} cacheTags the tags of a cached loader's value, once known
 * @property {boolean} [deferred] read by a component rendering inside a `<Defer>`
 */

const PREFIX = '[astro-hoist]';
const noop = () => {};

const MISSING_BIND =
  `${PREFIX} getLoaderData() was called without its binding. Call it in the frontmatter of a ` +
  '.astro component that exports `loader` (`const data = await getLoaderData<typeof loader>()`), ' +
  'and install the astro-hoist integration in astro.config (`integrations: [hoist()]`): the ' +
  'integration rewrites these calls at build time; without it they cannot know their loader.';

/** @type {WeakMap<object, RenderState>} render identity -> its state */
const renders = processWide('renders', () => new WeakMap());
/** @type {AsyncLocalStorage<RequestScope>} the middleware invocation a render runs under */
const scopes = processWide('scopes', () => new AsyncLocalStorage());
/** @type {Set<(event: import('./runtime.js').LoaderSettledEvent) => void>} */
const observers = processWide('observers', () => new Set());
/** @type {AsyncLocalStorage<true>} set while a `<Defer>` renders its content (defer.js) */
const deferredRenders = processWide('deferredRenders', () => new AsyncLocalStorage());

/**
 * Every hoistable loader of the process, by component key: each component module registers its
 * own when it is evaluated, which ESM does before any component that imports it renders. A batch
 * finds its descendants' loaders here, so no component imports another's module (Astro orders
 * CSS by import position, and every import edge costs its build). A key two different modules
 * register in one process (two Astro apps with the same component path) is ambiguous: a batch
 * leaves it to the component's own getLoaderData(), which has the right loader.
 * @type {Map<string, { loader: LoaderFn, component: string | null, ambiguous: boolean }>}
 */
const registered = processWide('loaders', () => new Map());

/** @type {WeakMap<AbortSignal, Set<RenderState>>} a client's signal -> the renders it ends */
const watchedSignals = processWide('signals', () => new WeakMap());

/**
 * The renders a client's signal ends when it aborts. One listener per signal, however many renders
 * (an error page, a rewrite) share the request: an AbortSignal warns past 10 listeners, and each
 * costs.
 * @param {AbortSignal} signal
 * @returns {Set<RenderState>}
 */
function watchSignal(signal) {
  let watching = watchedSignals.get(signal);
  if (!watching) {
    const states = new Set();
    watching = states;
    watchedSignals.set(signal, states);
    signal.addEventListener('abort', () => {
      for (const state of [...states]) state.end(signal.reason);
    }, { once: true });
  }
  return watching;
}

/**
 * Calls `listener` each time a loader run of any render settles, with its component, its start
 * and end (performance.now() ms) and its outcome: the complete per-loader timings, which a
 * streamed response's headers cannot carry. A listener that throws is ignored. Returns a
 * function that removes the listener.
 * @param {(event: import('./runtime.js').LoaderSettledEvent) => void} listener
 * @returns {() => void}
 */
export function onLoaderSettled(listener) {
  observers.add(listener);
  return () => {
    observers.delete(listener);
  };
}

/**
 * One invocation of the astro-hoist middleware: the renders started while its `next()` ran. Astro
 * runs the middleware again for a rewrite or an error page, nested in the first invocation's
 * async context, so scopes form a chain whose root is the HTTP request.
 */
export class RequestScope {
  /**
   * @param {Request | undefined} request
   * @param {RequestScope | undefined} parent
   */
  constructor(request, parent) {
    this.parent = parent;
    /** The HTTP request's signal (the root scope's): aborted when the client disconnects. */
    this.signal = parent ? parent.signal : request?.signal;
    /** @type {Set<RenderState>} */
    this.states = new Set();
    /** @type {RequestScope[]} scopes opened inside this one (a rewrite, another middleware's) */
    this.children = [];
    parent?.children.push(this);
    this.ended = false;
  }

  /**
   * Ends every render of this scope. Idempotent, never throws.
   * @param {unknown} [reason]
   */
  end(reason) {
    if (this.ended) return;
    this.ended = true;
    for (const state of this.states) state.end(reason);
  }

  /**
   * Runs `fn` with this scope as the current one (renders started inside register here).
   * @template T
   * @param {() => T} fn
   * @returns {T}
   */
  run(fn) {
    return scopes.run(this, fn);
  }

  /** The scope `next()` is running under, if the middleware runs. */
  static current() {
    return scopes.getStore();
  }
}

/**
 * The registry of one render: every run, the concurrency queue, the render's AbortController and
 * the timings the middleware turns into `Server-Timing`.
 */
class RenderState {
  /** @param {AstroLike} astro */
  constructor(astro) {
    /** Set once the render has ended: why. Every run of the render is aborted with it. */
    /** @type {{ reason: unknown } | null} */
    this.ended = null;
    /** @type {Map<string | LoaderFn, Run>} keyed runs by key, the others by function */
    this.runs = new Map();
    /** @type {Run[]} every run of this render, in creation order */
    this.list = [];
    /** @type {Map<LoaderFn, { key: string, component: string | null }>} loader -> its component */
    this.registry = new Map();
    /** @type {Run[]} runs waiting for a concurrency slot, in start order */
    this.queue = [];
    this.active = 0;
    this.concurrency = Infinity;
    /** @type {number | undefined} */
    this.timeout = undefined;
    /** @type {BatchOptions['serverTiming']} */
    this.serverTiming = undefined;
    /** Whether Server-Timing may name component paths (dev). */
    this.dev = false;
    /** Whether a batch (or a getLoaderData binding) has applied the integration's options. */
    this.configured = false;
    /** @type {(() => void)[]} what to undo when the render ends (listeners on the client's signal) */
    this.cleanups = [];
    /** @type {Map<LoaderFn, Run[]>} batch-loader runs waiting for their call, by loader */
    this.batchQueue = new Map();
    /** @type {Set<AbortController>} the batch calls in flight */
    this.batchCalls = new Set();
    /** @type {Run[][]} batch calls waiting for a concurrency slot, in start order */
    this.batchWaiting = [];
    /** Whether a drain of the queue is due in the next turn (see `schedule`). */
    this.drainScheduled = false;
    /** @type {WeakSet<object>} dataflow trees already walked in this render */
    this.flows = new WeakSet();

    const scope = RequestScope.current();
    if (scope && !scope.ended) scope.states.add(this);
    // A client that disconnects ends the render even if no middleware watches the body. A
    // rewrite's render has a copy of the request; the root scope still has the client's signal.
    for (const clientSignal of new Set([astro.request?.signal, scope?.signal])) {
      if (!clientSignal) continue;
      if (clientSignal.aborted) {
        this.end(clientSignal.reason);
        break;
      }
      const watching = watchSignal(clientSignal);
      watching.add(this);
      this.cleanups.push(() => watching.delete(this));
    }
  }

  /**
   * Ends the render: aborts every loader's signal (settled runs' too: a loader may have returned
   * something, a fetch body, a stream, that still listens to it); runs still pending or queued
   * reject with `reason`. Idempotent, never throws.
   * @param {unknown} [reason]
   */
  end(reason) {
    if (this.ended) return;
    const why = reason ?? new DOMException(`${PREFIX} the render ended before this loader finished`, 'AbortError');
    this.ended = { reason: why };
    for (const cleanup of this.cleanups.splice(0)) cleanup();
    for (const run of this.list) abortRun(this, run, why);
    for (const call of this.batchCalls) call.abort(why);
    this.batchCalls.clear();
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
      timings.push({ key: run.key?.split('\0')[0] ?? null, component: run.component, name: describe(run), start: run.start, end: run.end, ok: run.ok, cache: run.cache });
    }
    return timings.sort((a, b) => a.start - b.start);
  }

  /**
   * Applies a batch's options. A later batch of the same render overrides.
   * @param {BatchOptions} options
   */
  configure(options) {
    this.configured = true;
    const { timeout, concurrency } = options;
    if (typeof timeout === 'number' && timeout > 0 && Number.isFinite(timeout)) this.timeout = timeout;
    if (typeof concurrency === 'number' && concurrency >= 1) this.concurrency = Math.floor(concurrency);
    if (options.serverTiming !== undefined) this.serverTiming = options.serverTiming;
    if (options.dev !== undefined) this.dev = options.dev === true;
  }
}

/**
 * What the route cache entry of a scope's response must carry: the tags of every cached loader
 * value its renders used, and the shortest `maxAge` among those loaders (Infinity without any).
 * @param {RequestScope} scope
 * @returns {{ tags: string[], maxAge: number }}
 */
export function __routeCacheHints(scope) {
  /** @type {Set<string>} */
  const tags = new Set();
  let maxAge = Infinity;
  /** @type {RenderState[]} */
  const states = [];
  /** @param {RequestScope} s */
  const collect = (s) => {
    states.push(...s.states);
    s.children.forEach(collect);
  };
  collect(scope);
  for (const state of states) {
    for (const run of state.list) {
      const spec = /** @type {import('./cache.js').CacheSpec | undefined} */ (Reflect.get(run.loader, CACHE));
      if (!spec || !run.cacheTags) continue;
      for (const tag of run.cacheTags) tags.add(tag);
      maxAge = Math.min(maxAge, spec.maxAge);
    }
  }
  return { tags: [...tags], maxAge };
}

/**
 * The state of the render `astro` belongs to, created on first use.
 * @param {AstroLike} astro the component's `Astro`
 * @param {object} [result] Astro's per-render `$$result`; without it (a compiler that names it
 *   otherwise) the render is told apart by its request, which a rewrite replaces
 * @returns {RenderState}
 */
export function __renderState(astro, result) {
  if (astro === null || typeof astro !== 'object') {
    throw new TypeError(`${PREFIX} Astro is missing; getLoaderData() must be called in a component's frontmatter`);
  }
  const identity = renderIdentity(astro, result);
  let state = renders.get(identity);
  if (!state) {
    state = new RenderState(astro);
    renders.set(identity, state);
  }
  return state;
}

/**
 * The render's state if a loader or batch created it; never creates one, never throws.
 * @param {AstroLike} astro
 * @param {object} [result]
 * @returns {RenderState | undefined}
 */
export function __existingRenderState(astro, result) {
  if (astro === null || typeof astro !== 'object') return undefined;
  return renders.get(renderIdentity(astro, result));
}

/**
 * @param {AstroLike} astro
 * @param {object | undefined} result
 * @returns {object}
 */
function renderIdentity(astro, result) {
  if (result !== null && typeof result === 'object') return result;
  return astro.request ?? astro;
}

/**
 * Starts the hoisted loaders of a component's tree in one batch. Called by generated code at the
 * start of the component's render (after its guards); not part of the public API.
 * @param {AstroLike} astro the component's `Astro`
 * @param {(string | BatchEntry)[]} entries every hoisted loader of the component's tree, in start
 *   order; a key alone stands for an unconditional entry whose loader and component were registered
 * @param {BatchOptions} [options]
 * @param {object} [result] Astro's per-render `$$result`
 * @param {import('./flow.js').FlowNode} [flow] the tree's dataflow: instances started once their props are known
 * @returns {void}
 */
export function __startBatch(astro, entries, options = {}, result = undefined, flow = undefined) {
  const state = __renderState(astro, result);
  state.configure(options);
  if (flow) startFlow(state, astro, flow);
  // The common repeat: a layout's batch after its page's, every entry already started. Checked
  // without allocating: this runs before the page's first byte.
  let started = true;
  for (let i = 0; i < entries.length && started; i++) started = state.runs.has(entryKey(entries[i]));
  if (started) {
    scheduleDrain(state); // its options may have raised the concurrency limit
    return;
  }
  const speculative = options.speculative === true;
  /** @type {{ key: string, loader: LoaderFn, component: string | null, conditional: boolean }[]} */
  const resolved = [];
  for (const entry of entries) {
    const key = entryKey(entry);
    const given = typeof entry === 'string' ? undefined : entry;
    const known = registered.get(key);
    const loader = typeof given?.loader === 'function' ? /** @type {LoaderFn} */ (given.loader) : known && !known.ambiguous ? known.loader : undefined;
    if (!loader) continue;
    const component = given?.component ?? known?.component ?? null;
    // Register every entry, started now or not, so `context.load(loader)` dedupes by key.
    if (!state.registry.has(loader)) state.registry.set(loader, { key, component });
    resolved.push({ key, loader, component, conditional: given?.conditional === true });
  }
  // Entries come in start order (the core's, under a concurrency limit).
  for (const { key, loader, component, conditional } of resolved) {
    if (conditional && !speculative) continue;
    // Once per render: an earlier batch, reader or context.load() may have started it.
    if (lookup(state, key, loader, component)) continue;
    const run = createRun(state, key, loader, component, astro);
    run.origin = 'batch';
    schedule(state, run);
  }
  scheduleDrain(state); // a batch may have raised the concurrency limit
}

// A component that does not import this module itself (a page or layout whose tree holds loaders)
// starts its batch through this process-wide reference rather than an import of its own: every
// import edge costs Astro's build, whose CSS pass asks the bundler for each module's importers and
// imports once per CSS module per ancestor, 6 million times at 1,000 generated routes (an import
// added to each page and layout made the ids those calls copy a sixth more). Whenever such a batch has anything to start, this module
// has been loaded: each hoisted loader's component imports getLoaderData from here, and a page's
// static imports are evaluated before it renders. Without it (no loader in the tree was loaded)
// the call does nothing, as the batch would: it finds loaders only among registered ones.
processWide(START_BATCH, () => __startBatch);

/**
 * A batch entry's key: an entry is its key alone when nothing else about it differs from the
 * registered loader's (generated code keeps batches small: a page lists its whole tree).
 * @param {string | BatchEntry} entry
 * @returns {string}
 */
function entryKey(entry) {
  return typeof entry === 'string' ? entry : entry.key;
}

/**
 * Walks the tree's dataflow (the core's plan, see js/flow.js): each instance whose props (and
 * whether it renders) are proven to come from request values and its writer's data is started
 * as soon as those are known, instead of when its component renders. A run started here is
 * keyed by the props it was started with, like the one its render asks for: an instance that
 * renders with other props (a mistake of the proof, a frontmatter that changed the data) gets
 * its own run; it never reads another instance's data. Never throws: what cannot be evaluated
 * is left to the render.
 * @param {RenderState} state
 * @param {AstroLike} astro the root component's
 * @param {import('./flow.js').FlowNode} root
 */
function startFlow(state, astro, root) {
  if (state.ended || state.flows.has(root)) return;
  // A layout's batch repeats its page's walk of the same tree: once per render.
  state.flows.add(root);
  const props = astro.props !== null && typeof astro.props === 'object' ? /** @type {Record<string, unknown>} */ (astro.props) : {};
  const run = root.run ? flowRun(state, astro, root, props) : undefined;
  flowChildren(state, astro, root, props, run);
}

/**
 * The instances `node`'s component writes, once what they read of it is known.
 * @param {RenderState} state
 * @param {AstroLike} astro
 * @param {import('./flow.js').FlowNode} node
 * @param {unknown} props the node's props
 * @param {Run | undefined} run the node's loader run
 */
function flowChildren(state, astro, node, props, run) {
  const children = node.children;
  if (!children) return;
  /** @type {import('./flow.js').FlowNode[]} */
  const waiting = [];
  for (const child of children) {
    if (child.data) waiting.push(child);
    else flowVisit(state, astro, child, props, undefined);
  }
  if (waiting.length === 0 || !run) return;
  // Once the writer's data is in: its failure means its children do not render as planned.
  run.promise.then((data) => {
    if (state.ended) return;
    for (const child of waiting) flowVisit(state, astro, child, props, data);
  }, noop);
}

/**
 * Starts every instance of `node` its steps render, then walks on below each.
 * @param {RenderState} state
 * @param {AstroLike} astro
 * @param {import('./flow.js').FlowNode} node
 * @param {unknown} props its writer's props
 * @param {unknown} data its writer's loader data
 */
function flowVisit(state, astro, node, props, data) {
  /** @type {import('./flow.js').Env} */
  const env = { data, props, params: astro.params ?? {}, url: astro.url, items: [], indexes: [] };
  try {
    forEachInstance(node.steps, env, (instance) => {
      const value = node.props ? evaluate(node.props, instance) : {};
      if (value === null || typeof value !== 'object') return;
      const own = /** @type {Record<string, unknown>} */ (value);
      const run = node.run ? flowRun(state, astro, node, own) : undefined;
      flowChildren(state, astro, node, own, run);
    });
  } catch {
    // Where the render would throw too, or the proof met a value it did not expect: the
    // render decides, as without the walk.
  }
}

/**
 * The run of an instance's loader: its props' run (one per distinct props), or the loader's
 * one run. Started when new. None when the loader is not registered (its module is not loaded)
 * or its props cannot be keyed.
 * @param {RenderState} state
 * @param {AstroLike} astro
 * @param {import('./flow.js').FlowNode} node
 * @param {Record<string, unknown>} props
 * @returns {Run | undefined}
 */
function flowRun(state, astro, node, props) {
  const known = registered.get(node.id);
  if (!known || known.ambiguous) return undefined;
  const { loader } = known;
  let runKey = node.id;
  if (node.run === 'props') {
    const id = propsKey(props);
    if (id === null) return undefined;
    if (id !== EMPTY_PROPS) runKey = `${node.id}\0${id}`;
  }
  const existing = runKey === node.id ? lookup(state, node.id, loader, node.c) : state.runs.get(runKey);
  if (existing) return existing;
  const given = node.run === 'props' && runKey !== node.id ? (state.dev ? watchedProps(props, node.c, node.u) : props) : undefined;
  const run = createRun(state, runKey, loader, node.c, astro, given);
  run.origin = 'flow';
  schedule(state, run);
  return run;
}

/**
 * The data of this component's `loader`: the promise a batch already started, or, for loaders
 * that could not be hoisted, a run started now. Once per render either way.
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
  const { astro, key, loader, component, result, options } = bind;
  if (typeof loader !== 'function') {
    throw new Error(
      `${PREFIX} getLoaderData() in ${component ?? 'a component'}: the component does not export a ` +
        '`loader`. Add one to its frontmatter, e.g. ' +
        '`export const loader = async ({ params, signal }) => { ... }`.',
    );
  }
  const state = __renderState(astro, result);
  // A render that no batch configured (its tree had no batch to start) still gets the
  // integration's options: a timeout applies to every loader.
  if (options && !state.configured) state.configure(options);
  if (bind.props === true) return read(deferredRead(propsRun(state, bind)), component ?? null);
  let run = lookup(state, key, loader, component);
  if (!run) {
    run = createRun(state, key, loader, component, astro);
    schedule(state, run);
  }
  return read(deferredRead(run), component ?? run.component);
}

/**
 * Marks a run read from inside a `<Defer>` (for `onLoaderSettled`, which the dev toolbar shows).
 * @param {Run} run
 * @returns {Run}
 */
function deferredRead(run) {
  if (deferredRenders.getStore() === true) run.deferred = true;
  return run;
}

/**
 * The run of a loader that reads its props, for this instance's props: one per distinct props
 * value in the render. Rendered with no props, it is the loader's plain run (the one a batch or
 * `context.load()` starts, with empty props); props that cannot be compared (a function, a class
 * instance) get a run of their own.
 * @param {RenderState} state
 * @param {LoaderBind} bind
 * @returns {Run}
 */
function propsRun(state, bind) {
  const { astro, key, component } = bind;
  const loader = /** @type {LoaderFn} */ (bind.loader);
  const props = astro.props !== null && typeof astro.props === 'object' ? /** @type {Record<string, unknown>} */ (astro.props) : {};
  const id = propsKey(props);
  if (id === EMPTY_PROPS) {
    const shared = lookup(state, key, loader, component);
    if (shared) return shared;
  }
  const runKey = id === null ? null : id === EMPTY_PROPS ? key : `${key}\0${id}`;
  if (runKey !== null) {
    const known = state.runs.get(runKey);
    if (known) return known;
  } else if (state.dev) {
    noteOnce(
      `unkeyed\0${key}`,
      `${PREFIX} ${component}: its loader reads props that cannot be compared (a function, a class instance, a cycle), ` +
        'so it runs once per instance instead of once per distinct props.',
    );
  }
  const given = state.dev ? watchedProps(props, component ?? key) : props;
  const run = createRun(state, runKey ?? undefined, loader, component, astro, given, runKey === null);
  schedule(state, run);
  return run;
}

/** What the dev log was told, once per process. */
const noted = processWide('noted', () => new Set());

/**
 * Warns once per process.
 * @param {string} key
 * @param {string} message
 */
function noteOnce(key, message) {
  if (noted.has(key)) return;
  noted.add(key);
  console.warn(message);
}

/**
 * Dev: the props a loader receives, telling the dev log (once per component and prop) when the
 * loader reads a prop the instance was not given; it still gets `undefined`, as `Astro.props`.
 * @param {Record<string, unknown>} props
 * @param {string} component
 * @param {string} [usage] where the tag that passes them is written (file:line:column), when known
 * @returns {Record<string, unknown>}
 */
function watchedProps(props, component, usage = undefined) {
  return new Proxy(props, {
    get(target, name, receiver) {
      if (typeof name === 'string' && !(name in target) && name !== 'then' && name !== 'toJSON') {
        noteOnce(
          `prop\0${component}\0${name}`,
          usage
            ? `${PREFIX} ${component}: its loader reads props.${name}, which the tag at ${usage} does not pass: it gets undefined, ` +
                `as Astro.props would. Pass ${name}={…} there.`
            : `${PREFIX} ${component}: its loader reads props.${name}, which an instance is rendered without: it gets undefined, ` +
                `as Astro.props would. Pass ${name}={…} where the component is used.`,
        );
      }
      return Reflect.get(target, name, receiver);
    },
  });
}

// The cache keys a loader's props by the same structure.
__setStableKey(propsKey);

/** The props key of `{}`: a loader rendered without props shares the run a batch started. */
const EMPTY_PROPS = '{}';

/**
 * A structural key of a props value: equal for props a loader cannot tell apart (object keys in
 * any order, an `undefined` field and a missing one), different otherwise; null when a value
 * cannot be compared by structure. Written here because it must decide comparability (a class
 * instance or a function is never equal to a copy), which serializers do not report.
 * @param {unknown} value
 * @returns {string | null}
 */
export function propsKey(value) {
  // The common props: a plain object of strings, numbers and booleans, keyed without the
  // general walk's allocations (this runs once per instance a render or the dataflow starts).
  const flat = flatPropsKey(value);
  if (flat !== undefined) return flat;
  /** @type {Set<object>} */
  const path = new Set();
  /**
   * @param {unknown} v
   * @returns {string | null}
   */
  const key = (v) => {
    switch (typeof v) {
      case 'string':
        return JSON.stringify(v);
      case 'number':
        return Object.is(v, -0) ? '-0' : String(v);
      case 'boolean':
        return v ? 'true' : 'false';
      case 'undefined':
        return 'undefined';
      case 'bigint':
        return `${v}n`;
      case 'object':
        break;
      default:
        return null; // functions, symbols
    }
    if (v === null) return 'null';
    if (path.has(v)) return null;
    if (v instanceof Date) return `Date(${v.getTime()})`;
    if (v instanceof URL) return `URL(${JSON.stringify(v.href)})`;
    path.add(v);
    try {
      if (Array.isArray(v)) {
        const parts = [];
        for (const item of v) {
          const k = key(item);
          if (k === null) return null;
          parts.push(k);
        }
        return `[${parts.join(',')}]`;
      }
      const proto = Object.getPrototypeOf(v);
      if (proto !== Object.prototype && proto !== null) return null;
      const parts = [];
      for (const name of Object.keys(v).sort()) {
        const field = /** @type {Record<string, unknown>} */ (v)[name];
        if (field === undefined) continue;
        const k = key(field);
        if (k === null) return null;
        parts.push(`${JSON.stringify(name)}:${k}`);
      }
      return `{${parts.join(',')}}`;
    } finally {
      path.delete(v);
    }
  };
  return key(value);
}

/**
 * `propsKey` of a plain object whose fields are all primitives (the same key, character for
 * character); undefined for anything else.
 * @param {unknown} value
 * @returns {string | undefined}
 */
function flatPropsKey(value) {
  if (value === null || typeof value !== 'object') return undefined;
  const proto = Object.getPrototypeOf(value);
  if (proto !== Object.prototype && proto !== null) return undefined;
  const names = Object.keys(value);
  if (names.length > 1) names.sort();
  let out = '{';
  for (const name of names) {
    const field = /** @type {Record<string, unknown>} */ (value)[name];
    let k;
    switch (typeof field) {
      case 'string':
        k = JSON.stringify(field);
        break;
      case 'number':
        k = Object.is(field, -0) ? '-0' : String(field);
        break;
      case 'boolean':
        k = field ? 'true' : 'false';
        break;
      case 'undefined':
        continue;
      case 'object':
        if (field !== null) return undefined;
        k = 'null';
        break;
      default:
        return undefined;
    }
    out += `${out.length > 1 ? ',' : ''}${JSON.stringify(name)}:${k}`;
  }
  return `${out}}`;
}

/**
 * The request fields a loader receives from a component's `Astro`.
 * @param {AstroLike | LoaderScope} astro
 * @returns {LoaderScope}
 */
function scopeOf(astro) {
  return { params: astro.params ?? {}, url: astro.url, request: astro.request, locals: astro.locals };
}

/**
 * Returns `loader`; exists so TypeScript infers the context parameter and the result, and to
 * give the loader options (`cache`: see astro-hoist/cache), validated here.
 * @template [Props=Record<string, any>]
 * @template [T=any]
 * @param {(context: import('./runtime.js').LoaderContext<Props>) => T} loader
 * @param {import('./runtime.js').LoaderOptions<T>} [options]
 * @returns {(context: import('./runtime.js').LoaderContext<Props>) => T}
 */
export function defineLoader(loader, options = undefined) {
  if (options !== undefined) {
    if (options === null || typeof options !== 'object') throw new TypeError(`${PREFIX} defineLoader(loader, options): options must be an object, got ${options === null ? 'null' : typeof options}`);
    if (options.cache !== undefined) {
      if (typeof loader !== 'function') throw new TypeError(`${PREFIX} defineLoader(): a cached loader must be a function, got ${typeof loader}`);
      Object.defineProperty(loader, CACHE, { value: cacheSpec(options.cache), configurable: true });
    }
  }
  return loader;
}

/**
 * Registers a component's hoistable loader under its key, for batches to find (generated code
 * calls it when the component's module is evaluated).
 * @param {string} key
 * @param {unknown} loader
 * @param {string | null} [component] root-relative path of the component, for events and errors
 * @param {boolean} [replace] the dev server re-evaluates a changed module: its new loader wins
 */
export function __registerLoader(key, loader, component = null, replace = false) {
  if (typeof key !== 'string' || typeof loader !== 'function') return;
  const known = registered.get(key);
  const path = typeof component === 'string' ? component : null;
  if (!known || replace) registered.set(key, { loader: /** @type {LoaderFn} */ (loader), component: path, ambiguous: false });
  else if (known.loader !== loader) known.ambiguous = true;
}
// Generated code registers a loader through this process-wide reference, not an import (see
// START_BATCH): it registers only a loader its component reads with getLoaderData(), imported from
// here, so this module has been evaluated first.
processWide(REGISTER_LOADER, () => __registerLoader);

/**
 * The run this render already has for a key (or, without a key, for a function).
 * @param {RenderState} state
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
 * A new, not yet started run, registered in the render's state.
 * @param {RenderState} state
 * @param {string | null | undefined} key
 * @param {LoaderFn} loader
 * @param {string | null | undefined} component
 * @param {AstroLike | LoaderScope} astro
 * @param {Record<string, unknown>} [props] the instance's, for a loader that reads them
 * @param {boolean} [unkeyed] props that cannot be compared: no other instance may find the run
 * @returns {Run}
 */
function createRun(state, key, loader, component, astro, props = undefined, unkeyed = false) {
  /** @type {Run} */
  const run = {
    key: key ?? null,
    component: component ?? null,
    loader,
    // An instance's props (propsRun); any other run has none: its loader sees `{}`.
    scope: props ? { params: astro.params ?? {}, url: astro.url, request: astro.request, locals: astro.locals, props } : scopeOf(astro),
    controller: undefined,
    abortReason: undefined,
    promise: Promise.resolve(),
    resolve: noop,
    reject: noop,
    status: 'idle',
    ok: false,
    holdsSlot: false,
    timer: undefined,
    start: undefined,
    end: undefined,
    waitsOn: null,
    reads: null,
    origin: 'render',
    span: undefined,
    cache: undefined,
    cacheTags: undefined,
  };
  run.promise = new Promise((resolve, reject) => {
    run.resolve = resolve;
    run.reject = reject;
  });
  // A failure nobody reads (an unread speculative loader, a dependency) must not become an
  // unhandled rejection; readers get their own derived promise.
  run.promise.catch(noop);

  if (unkeyed) {
    // An instance whose props cannot be compared: nothing else may find its run.
  } else if (run.key === null) {
    state.runs.set(loader, run);
  } else {
    state.runs.set(run.key, run);
    if (!state.registry.has(loader)) state.registry.set(loader, { key: run.key, component: run.component });
  }
  state.list.push(run);
  // Started after the render ended (e.g. by a late context.load()): nothing will read it.
  if (state.ended) abortRun(state, run, state.ended.reason);
  return run;
}

/**
 * Aborts a run: its signal (if the loader took one) aborts, and, unless it has settled, readers
 * stop waiting even if the loader ignores its signal. Idempotent.
 * @param {RenderState} state
 * @param {Run} run
 * @param {unknown} reason
 */
function abortRun(state, run, reason) {
  if (run.abortReason !== undefined) return;
  run.abortReason = reason ?? new DOMException('aborted', 'AbortError');
  run.controller?.abort(run.abortReason);
  settle(state, run, false, run.abortReason);
}

/**
 * The signal a run's loader sees: made on first read (most loaders that ignore it cost nothing),
 * already aborted when the run was.
 * @param {Run} run
 * @returns {AbortSignal}
 */
function signalOf(run) {
  if (!run.controller) {
    run.controller = new AbortController();
    if (run.abortReason !== undefined) run.controller.abort(run.abortReason);
  }
  return run.controller.signal;
}

/**
 * Queues `run` to start as soon as the render's first pass is over: loaders start in the turn
 * after the one that asked for them (a slot permitting). Astro renders everything it can of the
 * page, and writes the page's first bytes, in that first turn; starting a loader (its call, its
 * promises, its fetch) costs CPU that would otherwise come before those bytes. Data a frontmatter
 * awaits waits one turn of the event loop more; no byte leaves later than in plain Astro.
 * @param {RenderState} state
 * @param {Run} run
 */
function schedule(state, run) {
  if (run.status !== 'idle') return;
  run.status = 'queued';
  state.queue.push(run);
  scheduleDrain(state);
}

/**
 * Drains the queue in the next turn of the event loop (once however often it is asked).
 * @param {RenderState} state
 */
function scheduleDrain(state) {
  if (state.drainScheduled) return;
  state.drainScheduled = true;
  setImmediate(() => {
    state.drainScheduled = false;
    drain(state);
  });
}

/**
 * Starts queued runs while slots are free.
 * @param {RenderState} state
 */
function drain(state) {
  startBatchCalls(state);
  while (state.active < state.concurrency && state.queue.length > 0) {
    const next = /** @type {Run} */ (state.queue.shift());
    // Skip runs aborted while queued, or started early as some loader's dependency.
    if (next.status === 'queued') execute(state, next, true);
  }
}

/**
 * What a loader receives: the render's fields, its own signal (made when first read, so a loader
 * that never reads it costs no AbortController) and `load`. The getter is an own, enumerable
 * property: spreading the context (`{ ...ctx }`) copies the signal too.
 * @param {RenderState} state
 * @param {Run} run
 * @returns {LoaderContext}
 */
function contextOf(state, run) {
  const { params, url, request, locals } = run.scope;
  return {
    params,
    url,
    request,
    locals: /** @type {LoaderContext['locals']} */ (locals),
    props: run.scope.props ?? {},
    get signal() {
      return signalOf(run);
    },
    load: /** @type {LoaderContext['load']} */ ((loader) => loadDependency(state, run, loader)),
  };
}

/**
 * Calls the loader. Its outcome, a timeout or the end of the render settles the run, whichever
 * comes first.
 * @param {RenderState} state
 * @param {Run} run
 * @param {boolean} holdsSlot
 */
function execute(state, run, holdsSlot) {
  if (run.status === 'settled' || run.status === 'running') return;
  if (BATCH in run.loader) {
    enqueueBatch(state, run);
    return;
  }
  run.status = 'running';
  run.holdsSlot = holdsSlot;
  if (holdsSlot) state.active++;
  run.start = performance.now();

  const timeout = state.timeout;
  if (timeout !== undefined) {
    run.timer = setTimeout(() => {
      abortRun(state, run, new DOMException(`loader timed out after ${timeout} ms`, 'TimeoutError'));
    }, timeout);
    // A pending timeout must never keep the process (or a build) alive.
    run.timer.unref?.();
  }

  const context = contextOf(state, run);
  const span = startSpan(run);
  const spec = /** @type {import('./cache.js').CacheSpec | undefined} */ (Reflect.get(run.loader, CACHE));
  /** @type {(context: LoaderContext) => unknown} */
  const call = span ? (c) => otelContext.with(trace.setSpan(otelContext.active(), span), () => run.loader(c)) : run.loader;
  /** @type {unknown} */
  let result;
  try {
    if (spec) {
      const guarded = spec.key ? context : perUserGuard(context, run);
      result = cachedCall({
        loader: run.loader,
        spec,
        context: guarded,
        id: run.key?.split('\0')[0] ?? null,
        component: describe(run),
        // A call shared across requests gets a signal no single request's end aborts.
        call: (signal) => call(signal ? withSignal(guarded, signal) : guarded),
        onState: (cache) => {
          run.cache = cache;
          run.span?.setAttribute('astro_hoist.cache', cache);
        },
        onTags: (tags) => {
          run.cacheTags = tags;
        },
      });
    } else {
      result = call(context);
    }
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
 * The context of a cached loader without a `key`: its entry is shared by every request whose
 * params, props and url are equal, so reading data of one request (its cookies, headers, locals)
 * fails rather than serving it to others. The build refuses such loaders already; this holds
 * where no analysis ran.
 * @param {LoaderContext} context
 * @param {Run} run
 * @returns {LoaderContext}
 */
function perUserGuard(context, run) {
  const refuse = (/** @type {string} */ field) => () => {
    throw new Error(
      `${PREFIX} ${describe(run)}: a cached loader without a \`key\` read \`${field}\`, which can differ per visitor: ` +
        'its cached value would be served to others. Add `key: (ctx) => …` to its `cache` options, or do not cache it.',
    );
  };
  const guarded = { ...context };
  Object.defineProperty(guarded, 'request', { get: refuse('request'), enumerable: true });
  Object.defineProperty(guarded, 'locals', { get: refuse('locals'), enumerable: true });
  return guarded;
}

/**
 * The same context with another `signal`.
 * @param {LoaderContext} context
 * @param {AbortSignal} signal
 * @returns {LoaderContext}
 */
function withSignal(context, signal) {
  const copy = Object.create(null);
  for (const name of Object.keys(context)) if (name !== 'signal') Object.defineProperty(copy, name, /** @type {PropertyDescriptor} */ (Object.getOwnPropertyDescriptor(context, name)));
  copy.signal = signal;
  return /** @type {LoaderContext} */ (copy);
}

/**
 * Settles a run once: records its end, clears its timer, frees its slot.
 * @param {RenderState} state
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
  if (run.span) endSpan(run, ok, value);
  if (observers.size > 0 && run.start !== undefined && run.end !== undefined) {
    const event = { key: run.key?.split('\0')[0] ?? null, component: run.component, url: run.scope.url?.href, start: run.start, end: run.end, ok, error: ok ? undefined : value, cache: run.cache, origin: run.origin, deferred: run.deferred === true };
    for (const listener of observers) {
      try {
        listener(event);
      } catch {
        // An observer must never break a render.
      }
    }
  }
  if (run.holdsSlot) {
    run.holdsSlot = false;
    state.active--;
    drain(state);
  }
}

/** Marks a loader made by `defineBatchLoader`, with what its calls need. */
const BATCH = Symbol.for('astro-hoist.batchLoader');

/**
 * @typedef {object} BatchSpec
 * @property {(propsList: Record<string, unknown>[], context: LoaderContext) => unknown} load
 * @property {number} maxBatchSize
 */

/**
 * A loader that loads every instance of a component rendered together in one call: `load`
 * receives the props of each instance (distinct props once) and returns one result per entry,
 * in order; an entry that is an `Error` fails only its instance.
 * @template [Props=Record<string, any>]
 * @template [T=any]
 * @param {(propsList: Props[], context: import('./runtime.js').LoaderContext<Record<string, never>>) => T[] | Promise<T[]>} load
 * @param {{ maxBatchSize?: number }} [options] `maxBatchSize`: entries per call at most (default: no limit)
 * @returns {(context: import('./runtime.js').LoaderContext<Props>) => Promise<T>}
 */
export function defineBatchLoader(load, options = {}) {
  if (typeof load !== 'function') throw new TypeError(`${PREFIX} defineBatchLoader() expects a function, got ${typeof load}`);
  const max = options.maxBatchSize ?? Infinity;
  if (!(max === Infinity || (Number.isSafeInteger(max) && max >= 1))) {
    throw new TypeError(`${PREFIX} defineBatchLoader(): maxBatchSize must be a positive integer, got ${String(max)}`);
  }
  /** @type {BatchSpec} */
  const spec = { load: /** @type {BatchSpec['load']} */ (load), maxBatchSize: max };
  // Called directly (not through astro-hoist's runtime, e.g. in a test): a batch of one.
  const loader = async (/** @type {LoaderContext} */ context) => {
    const results = await load([/** @type {Props} */ (context.props ?? {})], /** @type {any} */ (context));
    if (!Array.isArray(results) || results.length !== 1) throw new Error(`${PREFIX} a batch loader must return one result per entry (1), got ${describeResult(results)}`);
    if (results[0] instanceof Error) throw results[0];
    return results[0];
  };
  Object.defineProperty(loader, BATCH, { value: spec });
  return /** @type {any} */ (loader);
}

/**
 * Queues a batch loader's run for the loader's next call in this render: the call goes out once
 * everything that renders together has asked (after the current turn of the event loop).
 * @param {RenderState} state
 * @param {Run} run
 */
function enqueueBatch(state, run) {
  run.status = 'running';
  const queue = state.batchQueue.get(run.loader);
  if (queue) {
    queue.push(run);
    return;
  }
  state.batchQueue.set(run.loader, [run]);
  setImmediate(() => {
    const runs = state.batchQueue.get(run.loader) ?? [];
    state.batchQueue.delete(run.loader);
    const live = runs.filter((r) => r.status === 'running');
    const { maxBatchSize } = /** @type {BatchSpec} */ (/** @type {any} */ (run.loader)[BATCH]);
    const size = Math.min(maxBatchSize, live.length);
    for (let i = 0; i < live.length; i += size) state.batchWaiting.push(live.slice(i, i + size));
    startBatchCalls(state);
  });
}

/**
 * Starts waiting batch calls while concurrency slots are free: a call holds one slot.
 * @param {RenderState} state
 */
function startBatchCalls(state) {
  while (state.batchWaiting.length > 0 && state.active < state.concurrency) {
    const live = /** @type {Run[]} */ (state.batchWaiting.shift()).filter((r) => r.status === 'running');
    if (live.length > 0) callBatch(state, live);
  }
}

/**
 * One call of a batch loader for `runs` (distinct props each). Its timing, timeout, signal and
 * span are the call's, carried by the first run; every run settles with its own entry.
 * @param {RenderState} state
 * @param {Run[]} runs
 */
function callBatch(state, runs) {
  const [first] = runs;
  const { load } = /** @type {BatchSpec} */ (/** @type {any} */ (first.loader)[BATCH]);
  const controller = new AbortController();
  state.batchCalls.add(controller);
  // The call holds one concurrency slot, through its first run.
  first.holdsSlot = true;
  state.active++;
  first.start = performance.now();
  const span = startSpan(first);
  span?.setAttribute('astro_hoist.batch_size', runs.length);
  const timeout = state.timeout;
  const timer =
    timeout === undefined
      ? undefined
      : setTimeout(() => {
          const reason = new DOMException(`loader timed out after ${timeout} ms`, 'TimeoutError');
          controller.abort(reason);
          for (const r of runs) abortRun(state, r, reason);
        }, timeout);
  timer?.unref?.();
  const { params, url, request, locals } = first.scope;
  /** @type {LoaderContext} */
  const context = {
    params,
    url,
    request,
    locals: /** @type {LoaderContext['locals']} */ (locals),
    props: {},
    signal: controller.signal,
    load: /** @type {LoaderContext['load']} */ ((loader) => loadDependency(state, first, loader)),
  };
  const done = () => {
    clearTimeout(timer);
    state.batchCalls.delete(controller);
  };
  /** @param {unknown} error */
  const failAll = (error) => {
    done();
    for (const r of runs) settle(state, r, false, error);
  };
  /** @type {unknown} */
  let result;
  try {
    result = span
      ? otelContext.with(trace.setSpan(otelContext.active(), span), () => load(runs.map((r) => r.scope.props ?? {}), context))
      : load(runs.map((r) => r.scope.props ?? {}), context);
  } catch (error) {
    failAll(error);
    return;
  }
  Promise.resolve(result).then((values) => {
    if (!Array.isArray(values) || values.length !== runs.length) {
      failAll(new Error(`${PREFIX} the batch loader of ${describe(first)} must return one result per entry (${runs.length}), in order; got ${describeResult(values)}`));
      return;
    }
    done();
    runs.forEach((r, i) => {
      const value = values[i];
      settle(state, r, !(value instanceof Error), value);
    });
  }, failAll);
}

/** @param {unknown} value */
function describeResult(value) {
  return Array.isArray(value) ? `${value.length} results` : value === null ? 'null' : typeof value;
}

/** Loader spans: a no-op tracer until the app registers an OpenTelemetry SDK. */
const tracer = trace.getTracer('astro-hoist');

/**
 * A span for a run that starts now, child of the active span (the request's, when the app traces
 * requests); undefined when nothing records it, so an app without an SDK pays one no-op call.
 * @param {Run} run
 * @returns {import('@opentelemetry/api').Span | undefined}
 */
function startSpan(run) {
  try {
    const span = tracer.startSpan(`loader ${describe(run)}`, {
      attributes: {
        'astro_hoist.component': run.component ?? '',
        'astro_hoist.key': run.key?.split('\0')[0] ?? '',
        'astro_hoist.origin': run.origin,
        'astro_hoist.props_keyed': run.scope.props !== undefined,
      },
    });
    if (!span.isRecording()) return undefined;
    run.span = span;
    return span;
  } catch {
    return undefined; // A tracing SDK must never break a render.
  }
}

/**
 * Ends a run's span with its outcome (an error or abort is the span's status, with the error).
 * @param {Run} run
 * @param {boolean} ok
 * @param {unknown} value
 */
function endSpan(run, ok, value) {
  const span = /** @type {import('@opentelemetry/api').Span} */ (run.span);
  run.span = undefined;
  try {
    if (!ok) {
      const aborted = run.abortReason !== undefined && value === run.abortReason;
      span.setAttribute('astro_hoist.outcome', aborted ? (value instanceof DOMException && value.name === 'TimeoutError' ? 'timeout' : 'aborted') : 'error');
      if (value instanceof Error) span.recordException(value);
      span.setStatus({ code: SpanStatusCode.ERROR, message: value instanceof Error ? value.message : String(value) });
    } else {
      span.setAttribute('astro_hoist.outcome', 'ok');
    }
    span.end();
  } catch {
    // A tracing SDK must never break a render.
  }
}

/**
 * `context.load(loader)`: the run for `loader` in this render, started if needed.
 * @param {RenderState} state
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
  let run = lookup(state, known?.key, fn, known?.component);
  if (!run) {
    run = createRun(state, known?.key, fn, known?.component, parent.scope);
    run.origin = 'load';
  }
  if (run.status !== 'settled') {
    // A waits for B which waits for A would never settle: reject instead of hanging.
    const cycle = pathTo(run, parent, new Set());
    if (cycle) {
      return Promise.reject(
        new Error(`${PREFIX} loader dependency cycle: ${[parent, ...cycle].map(describe).join(' -> ')}`),
      );
    }
    (parent.waitsOn ??= new Set()).add(run);
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
  for (const next of from.waitsOn ?? []) {
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
  run.reads ??= new Map();
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

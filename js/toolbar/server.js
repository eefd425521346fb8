// The dev toolbar app's server side (astro dev only): what the app in the browser shows for the
// page it is on — the last request of that path, each loader's planned wave beside its actual
// start and end, and the loaders that could not be hoisted with the reason and the place.
//
// Two sources meet here, both in the dev server's process:
// - the plan: the integration's own Vite plugin holds the native Project the dev server's
//   transforms analyzed; the page's route (matched like Astro matches it) is planned with it,
//   exactly as its code was generated;
// - the timings: a connect middleware notes when each page request arrives (`performance.now()`,
//   the clock the runtime uses), and `onLoaderSettled` (the runtime's observers live on
//   `globalThis`, so the listener hears the runs of the SSR module instance too) adds each run to
//   the last request of its path. A bounded log: the last request of the last few paths.
//
// The app asks over Astro's toolbar channel (`astro:server:setup`'s `toolbar`, Vite's HMR
// socket); the server tells it when the shown path got new runs or a file changed.

import path from 'node:path';
import { settle } from '../vite-plugin/walk.js';
import { loadedCode } from '../vite-plugin/index.js';
import { slash } from '../paths.js';

/**
 * @typedef {import('../../index.js').Plan} Plan
 * @typedef {import('../../index.js').Project} Project
 * @typedef {import('../../index.js').Diagnostic} Diagnostic
 * @typedef {import('../runtime.js').LoaderSettledEvent} LoaderSettledEvent
 * @typedef {import('../vite-plugin/walk.js').Resolver} Resolver
 */

/** The app's id in Astro's toolbar (its button and canvas carry it as `data-app-id`). */
export const TOOLBAR_APP_ID = 'astro-hoist';

/** The messages between the app and the dev server. */
export const EVENTS = /** @type {const} */ ({
  /** app -> server: `{ path }`, the page it shows */
  get: 'astro-hoist:toolbar:get',
  /** server -> app: a `Timeline` */
  timeline: 'astro-hoist:toolbar:timeline',
  /** server -> apps: `{ path }` got new runs (`path: null`: a file changed, every page may have) */
  changed: 'astro-hoist:toolbar:changed',
});

/**
 * One loader run of a request, as the log keeps it.
 * @typedef {object} LoggedRun
 * @property {string | null} key
 * @property {string | null} component
 * @property {number} start performance.now()
 * @property {number} end
 * @property {boolean} ok
 * @property {string} [error] its error's message, when not ok
 * @property {string} [cache]
 * @property {string} [origin]
 * @property {boolean} deferred
 */

/**
 * The last request of one path.
 * @typedef {object} RequestRecord
 * @property {string} path normalized pathname
 * @property {number} start performance.now() when it arrived (the first run's start when the
 *   middleware did not see it)
 * @property {boolean} seen whether the middleware saw it arrive
 * @property {number | null} end when its response finished
 * @property {number | null} status
 * @property {LoggedRun[]} runs
 * @property {number} dropped runs beyond the bound
 */

/** Paths the log keeps; the oldest is dropped first. */
const MAX_PATHS = 50;
/** Runs kept per request. */
const MAX_RUNS = 500;

/**
 * A pathname as the log keys it: decoded, without a trailing slash (but `/`).
 * @param {string} pathname
 * @returns {string}
 */
export function normalizePath(pathname) {
  let out = pathname.split(/[?#]/)[0] || '/';
  try {
    out = decodeURI(out);
  } catch {
    // A malformed escape: kept as sent.
  }
  if (out.length > 1) out = out.replace(/\/+$/, '') || '/';
  return out;
}

/**
 * Whether a dev server request may be a page: not Vite's or Astro's own endpoints, not a file
 * with an extension (a module, an asset, an endpoint such as `/rss.xml`).
 * @param {string} method
 * @param {string} url
 */
export function mayBePage(method, url) {
  if (method !== 'GET' && method !== 'HEAD') return false;
  const [pathname, query = ''] = url.split('?');
  if (/^\/(?:@|__|node_modules\/|_image\b)/.test(pathname)) return false;
  if (/(?:^|&)(?:import|raw|url|worker|sharedworker|inline|direct|html-proxy)(?:[=&]|$)/.test(query)) return false;
  const last = pathname.slice(pathname.lastIndexOf('/') + 1);
  return !/\.[A-Za-z0-9]+$/.test(last) || /\.html?$/.test(last);
}

/** The last request of each of the last `MAX_PATHS` paths, with its loader runs. */
export class RequestLog {
  /** @param {{ maxPaths?: number, maxRuns?: number }} [limits] */
  constructor({ maxPaths = MAX_PATHS, maxRuns = MAX_RUNS } = {}) {
    this.maxPaths = maxPaths;
    this.maxRuns = maxRuns;
    /** @type {Map<string, RequestRecord>} by path, least recently requested first */
    this.records = new Map();
  }

  /**
   * A request of `pathname` arrived at `start`: it replaces the path's last one.
   * @param {string} pathname
   * @param {number} start
   * @returns {RequestRecord}
   */
  begin(pathname, start) {
    const key = normalizePath(pathname);
    /** @type {RequestRecord} */
    const record = { path: key, start, seen: true, end: null, status: null, runs: [], dropped: 0 };
    this.records.delete(key);
    this.records.set(key, record);
    while (this.records.size > this.maxPaths) this.records.delete(/** @type {string} */ (this.records.keys().next().value));
    return record;
  }

  /**
   * A loader run settled: added to the last request of its URL's path. A run that started
   * before that request arrived belongs to an earlier one, which the log no longer keeps.
   * @param {LoaderSettledEvent} event
   * @returns {string | null} the path it was added to
   */
  settled(event) {
    if (!event.url) return null;
    let pathname;
    try {
      pathname = new URL(event.url).pathname;
    } catch {
      return null;
    }
    const key = normalizePath(pathname);
    let record = this.records.get(key);
    if (record && event.start < record.start - 1) return null;
    if (!record) {
      // A render the middleware did not see arrive (a rewrite's URL, another server's request).
      record = this.begin(key, event.start);
      record.seen = false;
    }
    if (record.runs.length >= this.maxRuns) {
      record.dropped++;
      return key;
    }
    record.runs.push({
      key: event.key,
      component: event.component,
      start: event.start,
      end: event.end,
      ok: event.ok,
      ...(event.ok ? {} : { error: messageOf(event.error) }),
      ...(event.cache ? { cache: event.cache } : {}),
      ...(event.origin ? { origin: event.origin } : {}),
      deferred: event.deferred === true,
    });
    if (!record.seen && event.start < record.start) record.start = event.start;
    return key;
  }

  /**
   * @param {string} pathname
   * @returns {RequestRecord | undefined}
   */
  get(pathname) {
    return this.records.get(normalizePath(pathname));
  }
}

/** @param {unknown} error */
function messageOf(error) {
  if (error instanceof Error) return error.message;
  if (error && typeof error === 'object' && 'message' in error) return String(/** @type {{ message: unknown }} */ (error).message);
  return String(error);
}

/**
 * A route of `astro:routes:resolved`, the fields matched here.
 * @typedef {{ entrypoint: string, pattern: string, patternRegex?: RegExp, type: string, origin?: string }} ResolvedRoute
 */

/**
 * The page route Astro serves `pathname` with: the first page route (Astro lists them by
 * priority) whose pattern matches, `base` removed first.
 * @param {readonly ResolvedRoute[]} routes
 * @param {string} pathname
 * @param {string} [base] Astro's `base`
 * @returns {ResolvedRoute | null}
 */
export function matchRoute(routes, pathname, base = '/') {
  let local = pathname;
  const prefix = base.replace(/\/+$/, '');
  if (prefix && (local === prefix || local.startsWith(`${prefix}/`))) local = local.slice(prefix.length) || '/';
  const candidates = local === '/' ? ['/'] : [local, local.endsWith('/') ? local.replace(/\/+$/, '') : `${local}/`];
  for (const route of routes) {
    if (route.type !== 'page' || route.origin === 'internal' || !(route.patternRegex instanceof RegExp)) continue;
    const regex = route.patternRegex;
    if (candidates.some((candidate) => regex.test(candidate))) return route;
  }
  return null;
}

/**
 * One run on the timeline, in ms from the request's arrival.
 * @typedef {object} TimelineRun
 * @property {number} start
 * @property {number} end
 * @property {boolean} ok
 * @property {string} [error]
 * @property {string} [cache] hit, stale, miss, bypass
 * @property {string} [origin] batch, flow, render, load
 * @property {boolean} deferred
 */

/**
 * One loader of the page: its plan and its runs in the last request.
 * @typedef {object} TimelineLoader
 * @property {string | null} id
 * @property {string} component root-relative path
 * @property {string} file absolute path, with `:line:column` of its loader (for the editor)
 * @property {number | null} wave planned wave (1 = at request start); null when not in the plan
 * @property {number | null} waveBefore plain Astro's round
 * @property {boolean} hoisted
 * @property {boolean} conditional
 * @property {string} [reason] why it is not in wave 1
 * @property {TimelineRun[]} runs
 */

/**
 * What the app shows for one path.
 * @typedef {object} Timeline
 * @property {string} path
 * @property {string | null} route the route's pattern, null when no page route matches
 * @property {string | null} entry root-relative entry of the route
 * @property {{ start: number, end: number | null, status: number | null, seen: boolean } | null} request
 *   the last request (times in ms from its arrival); null before any
 * @property {{ depthBefore: number, depthAfter: number } | null} depth
 * @property {TimelineLoader[]} loaders the plan's loaders by wave, then runs of loaders the plan does not list
 * @property {{ component: string, file: string, reason: string, code: string, at?: string, atFile?: string }[]} notHoisted
 *   `at`: root-relative `file:line:column` of the cause, `atFile` the same absolute (for the editor)
 * @property {string} [error] why there is no plan
 */

/** Notes that say why a loader runs at render, in the order of preference for its place. */
const NOT_HOISTED_CODES = ['loader-not-hoistable', 'props-not-traced', 'loader-unused', 'loader-conditional'];

/**
 * The timeline of one path: the plan's loaders with the runs of the last request.
 * @param {object} args
 * @param {string} args.path
 * @param {string} args.root absolute project root
 * @param {RequestRecord | undefined} args.record
 * @param {ResolvedRoute | null} args.route
 * @param {Plan | null} args.plan
 * @param {string} [args.error] why there is no plan
 * @param {(file: string) => { line: number, column: number } | null} [args.loaderAt] where a component's loader is written
 * @returns {Timeline}
 */
export function timelineOf({ path: pathname, root, record, route, plan, error, loaderAt = () => null }) {
  const origin = record?.start ?? 0;
  /** @param {LoggedRun} run @returns {TimelineRun} */
  const relative = (run) => ({
    start: round(run.start - origin),
    end: round(run.end - origin),
    ok: run.ok,
    ...(run.error !== undefined ? { error: run.error } : {}),
    ...(run.cache ? { cache: run.cache } : {}),
    ...(run.origin ? { origin: run.origin } : {}),
    deferred: run.deferred,
  });
  const runs = [...(record?.runs ?? [])].sort((a, b) => a.start - b.start);
  /** @type {Set<LoggedRun>} */
  const claimed = new Set();
  const notes = plan?.notes ?? [];
  /**
   * The note that says why `component`'s loader runs at render: on the component itself, or on
   * the tag whose props could not be traced (in the file that writes it).
   * @param {string} component
   * @returns {Diagnostic | undefined}
   */
  const noteOf = (component) => {
    for (const code of NOT_HOISTED_CODES) {
      const found = notes.find((n) => n.code === code && (n.file === component || n.message.includes(`loader of ${component} `)));
      if (found) return found;
    }
    return undefined;
  };
  /** @param {string} component @param {Diagnostic | undefined} [note] */
  const fileOf = (component, note) => {
    const file = slash(path.resolve(root, component));
    const at = note ?? loaderAt(file);
    return at ? `${file}:${at.line}:${at.column}` : file;
  };
  /** @type {TimelineLoader[]} */
  const loaders = [];
  for (const loader of plan?.loaders ?? []) {
    const own = runs.filter((run) => !claimed.has(run) && (run.key === loader.id || run.component === loader.component));
    own.forEach((run) => claimed.add(run));
    loaders.push({
      id: loader.id,
      component: loader.component,
      file: fileOf(loader.component),
      wave: loader.wave,
      waveBefore: loader.waveBefore,
      hoisted: loader.hoisted,
      conditional: loader.conditional,
      ...(loader.reason ? { reason: loader.reason } : {}),
      runs: own.map(relative),
    });
  }
  // Runs the plan does not list (a loader only `context.load()` reaches, a plan not made yet).
  /** @type {Map<string, TimelineLoader>} */
  const extra = new Map();
  for (const run of runs) {
    if (claimed.has(run)) continue;
    const component = run.component ?? run.key ?? 'anonymous loader';
    let row = extra.get(component);
    if (!row) {
      row = { id: run.key, component, file: run.component ? fileOf(run.component) : '', wave: null, waveBefore: null, hoisted: false, conditional: false, runs: [] };
      extra.set(component, row);
      loaders.push(row);
    }
    row.runs.push(relative(run));
  }
  const notHoisted = (plan?.loaders ?? [])
    .filter((loader) => !loader.hoisted)
    .map((loader) => {
      const note = noteOf(loader.component);
      return {
        component: loader.component,
        file: fileOf(loader.component),
        reason: loader.reason ?? note?.message ?? 'no reason given',
        code: note?.code ?? 'loader-not-hoistable',
        // Where the cause is written (the loader, or the tag whose props are not traced).
        ...(note ? { at: `${note.file}:${note.line}:${note.column}`, atFile: fileOf(note.file, note) } : {}),
      };
    });
  return {
    path: pathname,
    route: route?.pattern ?? null,
    entry: route?.entrypoint ?? null,
    request: record
      ? { start: 0, end: record.end === null ? null : round(record.end - record.start), status: record.status, seen: record.seen }
      : null,
    depth: plan ? { depthBefore: plan.depthBefore, depthAfter: plan.depthAfter } : null,
    loaders,
    notHoisted,
    ...(error ? { error } : {}),
  };
}

/** @param {number} ms */
function round(ms) {
  return Math.round(ms * 10) / 10;
}

/**
 * The parts of Vite's dev server used here (typed locally: no `vite` types at check time).
 * @typedef {{ use(fn: (req: { method?: string, url?: string }, res: { statusCode: number, once(event: 'close', listener: () => void): unknown }, next: () => void) => void): unknown }} Connect
 * @typedef {{ resolveId(id: string, importer?: string, options?: { ssr?: boolean }): Promise<{ id: string, external?: boolean | string, meta?: Record<string, any> } | null>, load(id: string, options?: { ssr?: boolean }): Promise<unknown> }} PluginContainer
 * @typedef {object} DevServer
 * @property {Connect} middlewares
 * @property {{ ssr?: { pluginContainer: PluginContainer } }} [environments]
 * @property {PluginContainer} [pluginContainer]
 * @property {{ on(event: 'change' | 'add' | 'unlink', listener: (file: string) => void): unknown, off?(event: string, listener: (file: string) => void): unknown }} [watcher]
 * @typedef {{ send(event: string, payload: unknown): void, on(event: string, callback: (data: any, client?: { send(event: string, payload: unknown): void }) => void): void }} ToolbarHelpers
 */

/**
 * The plugin's api the toolbar plans with (see vite-plugin/index.js).
 * @typedef {object} PlannerApi
 * @property {() => Promise<Project>} project
 * @property {{ concurrency?: number, speculative?: boolean }} options
 * @property {(resolver: Resolver) => Promise<import('../../index.js').RoutePlan[]>} planRoutes
 */

/**
 * The dev toolbar's server side: a Vite plugin (the middleware that notes page requests) and the
 * `astro:server:setup` / `astro:server:done` handlers.
 * @param {object} args
 * @param {string} args.root absolute project root
 * @param {string} [args.base] Astro's `base`
 * @param {() => PlannerApi | null} args.planner the integration's Vite plugin api
 * @param {() => readonly ResolvedRoute[]} args.routes Astro's routes (`astro:routes:resolved`)
 * @param {(event: string, listener: (event: LoaderSettledEvent) => void) => Promise<() => void>} [args.subscribe] for tests
 */
export function toolbarServer({ root, base = '/', planner, routes, subscribe }) {
  const log = new RequestLog();
  /** @type {(() => void)[]} */
  const cleanups = [];
  /** @type {Map<string, ReturnType<typeof setTimeout>>} */
  const pending = new Map();
  /** @type {ToolbarHelpers | null} */
  let toolbar = null;

  /**
   * Tells the apps that `key` changed (null: any page may have), at most once per `wait` ms.
   * @param {string | null} key
   * @param {number} [wait]
   */
  const changed = (key, wait = 40) => {
    const id = key ?? '\0';
    if (!toolbar || pending.has(id)) return;
    pending.set(
      id,
      setTimeout(() => {
        pending.delete(id);
        try {
          toolbar?.send(EVENTS.changed, { path: key });
        } catch {
          // The socket is gone (the server is closing).
        }
      }, wait),
    );
  };

  const plugin = {
    name: 'astro-hoist:toolbar',
    apply: /** @type {const} */ ('serve'),
    /** @param {DevServer} server */
    configureServer(server) {
      // Before Vite's and Astro's own middlewares: the moment the request arrived.
      server.middlewares.use((req, res, next) => {
        if (mayBePage(req.method ?? 'GET', req.url ?? '/')) {
          const pathname = (req.url ?? '/').split('?')[0];
          const record = log.begin(pathname, performance.now());
          res.once('close', () => {
            record.end = performance.now();
            record.status = res.statusCode;
          });
        }
        next();
      });
    },
  };

  /**
   * The plan of the route serving `pathname`, walked with the dev server's resolver.
   * @param {ResolvedRoute} route
   * @param {Resolver} resolver
   * @returns {Promise<{ plan: Plan | null, error?: string, project: Project | null }>}
   */
  const planOf = async (route, resolver) => {
    const api = planner();
    if (!api) return { plan: null, error: 'astro-hoist is not set up in this server', project: null };
    const project = await api.project();
    const entry = slash(path.resolve(root, route.entrypoint));
    if (/\.astro$/.test(entry)) {
      await settle(project, [entry], resolver);
      const outcome = project.plan(entry, { concurrency: api.options.concurrency, speculative: api.options.speculative });
      return { plan: outcome.plan ?? null, ...(outcome.error ? { error: outcome.error.diagnostic.message } : {}), project };
    }
    // A Markdown page renders through its layout: the route plans tell which.
    const planned = (await api.planRoutes(resolver)).find((r) => r.pattern === route.pattern);
    return { plan: planned?.plan ?? null, ...(planned?.error ? { error: planned.error.diagnostic.message } : {}), project };
  };

  return {
    plugin,
    log,
    /**
     * `astro:server:setup`: listens for runs and for the app's questions.
     * @param {{ server: DevServer, toolbar: ToolbarHelpers }} setup
     */
    async setup({ server, toolbar: helpers }) {
      toolbar = helpers;
      const listen = subscribe ?? (async (_event, listener) => (await import('../runtime.js')).onLoaderSettled(listener));
      cleanups.push(
        await listen('settled', (event) => {
          const key = log.settled(event);
          if (key) changed(key);
        }),
      );
      const container = server.environments?.ssr?.pluginContainer ?? server.pluginContainer;
      /** @type {Resolver | null} */
      const resolver = container
        ? {
            resolve: (specifier, importer) => container.resolveId(specifier, importer, { ssr: true }),
            load: async (id) => loadedCode(await container.load(id, { ssr: true })),
          }
        : null;
      helpers.on(EVENTS.get, async (data, client) => {
        const pathname = normalizePath(typeof data?.path === 'string' ? data.path : '/');
        const route = matchRoute(routes(), pathname, base);
        /** @type {{ plan: Plan | null, error?: string, project: Project | null }} */
        let planned = { plan: null, project: null };
        if (!route) planned.error = 'no page route of this project serves this path';
        else if (!resolver) planned.error = 'the dev server offers no module resolver';
        else {
          try {
            planned = await planOf(route, resolver);
          } catch (error) {
            planned = { plan: null, error: `it could not be planned: ${messageOf(error)}`, project: null };
          }
        }
        const project = planned.project;
        const timeline = timelineOf({
          path: pathname,
          root,
          record: log.get(pathname),
          route,
          plan: planned.plan,
          error: planned.error,
          loaderAt: (file) => {
            const span = project?.cached(file)?.loader?.span;
            return span ? { line: span.line, column: span.column } : null;
          },
        });
        try {
          if (client && typeof client.send === 'function') client.send(EVENTS.timeline, timeline);
          else helpers.send(EVENTS.timeline, timeline);
        } catch {
          // The page went away.
        }
      });
      // An edit may change a plan: the apps ask again once the plugin's HMR hooks have dropped
      // what the old file decided.
      const onFile = () => changed(null, 150);
      for (const event of /** @type {const} */ (['change', 'add', 'unlink'])) {
        server.watcher?.on(event, onFile);
        cleanups.push(() => server.watcher?.off?.(event, onFile));
      }
    },
    /** `astro:server:done`: stops listening. */
    done() {
      for (const cleanup of cleanups.splice(0)) cleanup();
      for (const timer of pending.values()) clearTimeout(timer);
      pending.clear();
      toolbar = null;
    },
  };
}

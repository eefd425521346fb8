// The Vite plugins of astro-hoist:
// - `astro-hoist:transform` keeps one native `Project` (core/graph.rs): every `.astro` source
//   Vite transforms is analyzed into it, its tree is walked with Vite's own resolver and module
//   loading (walk.js), and the core's plan for that component decides its batch; getLoaderData()
//   calls are bound. It keeps dev output fresh when a file a module's output was computed from
//   changes, and writes the report of every route at the end of a build (`onReport`).
// - `astro-hoist:imports` appends what those edits need to Astro's compiled module (the runtime
//   imports, the registration of the component's loader), after every import Astro wrote, so no
//   existing import moves (Astro orders CSS by import position).
//
// Do no harm: a file whose analysis fails and that uses no loader passes through unchanged (a
// debug note); the client environment is never touched; no module imports another it did not.

import path from 'node:path';
import { appendImports, transformAstro } from '../codegen.js';
import { isAstroComponentId, slash, toComponentPath } from '../paths.js';
import { planRoutes as planEveryRoute } from '../plans.js';
import { readFile } from 'node:fs/promises';
import { DependencyMap, invalidateModules, planSignature } from './hmr.js';
import { logError, reportDiagnostics, reportNotes, reportWarnings, Said, toLog } from './log.js';
import { forgetResolutions, resolveExactFiles, settle } from './walk.js';

/**
 * @typedef {import('../../index.js').ComponentInfo} ComponentInfo
 * @typedef {import('../../index.js').Project} Project
 * @typedef {import('../../index.js').Route} Route
 * @typedef {import('../../index.js').RoutePlan} RoutePlan
 * @typedef {import('../codegen.js').BatchOptions} BatchOptions
 * @typedef {import('./log.js').Logger} Logger
 * @typedef {import('./log.js').Log} Log
 * @typedef {import('./hmr.js').ModuleNode} ModuleNode
 * @typedef {import('./hmr.js').ModuleGraph} ModuleGraph
 * @typedef {import('./walk.js').Resolver} Resolver
 */

/**
 * The parts of Vite's / Rollup's plugin contexts these plugins use. Typed locally so the package
 * needs no `vite` types at check time.
 * @typedef {{ config?: { consumer?: 'client' | 'server', build?: { sourcemap?: boolean | 'inline' | 'hidden' } }, pluginContainer?: { load(id: string): Promise<unknown> } }} Environment
 * @typedef {object} TransformContext
 * @property {(source: string, importer?: string, options?: { skipSelf?: boolean }) => Promise<{ id: string, external?: boolean | string, meta?: Record<string, any> } | null>} resolve
 * @property {(options: { id: string }) => Promise<{ code?: string | null }>} [load]
 * @property {(file: string) => void} addWatchFile
 * @property {(error: Log | Error | string) => never} error
 * @property {(warning: Log | string) => void} warn
 * @property {Environment} [environment]
 * @property {{ watchMode?: boolean }} [meta]
 * @typedef {{ type?: 'create' | 'update' | 'delete', file: string, timestamp: number, modules: ModuleNode[] }} HotUpdateOptions
 * @typedef {{ environment?: { moduleGraph: ModuleGraph } }} HotUpdateContext
 * @typedef {{ file: string, timestamp: number, modules: ModuleNode[], server: { moduleGraph: ModuleGraph, environments?: unknown } }} HmrContext
 * @typedef {{ entrypoint: string, pattern: string, type: string, origin?: string }} AstroRoute a route of `astro:routes:resolved`
 * @typedef {{ name?: string, load?: Function | { handler?: Function, filter?: { id?: unknown } } }} VitePlugin
 */

/**
 * @typedef {object} HoistVitePluginOptions
 * @property {string} root project root, absolute path
 * @property {BatchOptions} [options] batch options for the generated code (validated and resolved)
 * @property {Logger} [logger] Astro's logger for not-hoisted reasons (falls back to `this.warn`)
 * @property {(root: string) => Project | Promise<Project>} [createProject] defaults to the native core's
 * @property {(plans: RoutePlan[], project: Project) => void | Promise<void>} [onReport] called with every route's plan at the end of a build
 */

/**
 * Whether a source uses astro-hoist at all, read from its text (for files the core could not
 * analyze): it exports a `loader` or calls `getLoaderData`.
 * @param {string} source
 */
export function mentionsLoaders(source) {
  return /\bgetLoaderData\b/.test(source) || /\bexport\s+(?:const|let|var|async\s+function|function)\s+loader\b/.test(source);
}

/** Diagnostics after which the core's facts about a file are incomplete (it was not parsed). */
const INCOMPLETE = new Set(['syntax-error', 'parser-failure', 'too-deeply-nested', 'too-ambiguous', 'unclosed-frontmatter', 'read-error', 'internal-error']);

/**
 * Whether a transform runs for the browser: `.astro` frontmatter never does, so nothing of ours
 * belongs there.
 * @param {TransformContext} ctx
 * @param {{ ssr?: boolean } | undefined} options
 */
function isClient(ctx, options) {
  const consumer = ctx.environment?.config?.consumer;
  if (consumer) return consumer === 'client';
  return options?.ssr === false;
}

/**
 * Whether a build's output of this environment has source maps (Vite's `build.sourcemap`, per
 * environment since Vite 6; `fallback` is the resolved config's). Only then does a build read the
 * maps its transforms return.
 * @param {TransformContext} ctx
 * @param {unknown} fallback
 */
function buildKeepsMaps(ctx, fallback) {
  const sourcemap = ctx.environment?.config?.build?.sourcemap;
  return Boolean(sourcemap === undefined ? fallback : sourcemap);
}

/**
 * Astro's routes as the core's: pages and injected pages (`.astro`), Markdown pages (rendered
 * through their layout). Endpoints, redirects and Astro's internal routes render no component of
 * the project's.
 * @param {AstroRoute[]} routes
 * @param {string} root
 * @returns {Route[]}
 */
export function coreRoutes(routes, root) {
  /** @type {Route[]} */
  const out = [];
  for (const route of routes) {
    if (route.type !== 'page' || route.origin === 'internal') continue;
    const entry = slash(path.resolve(root, route.entrypoint));
    if (/\.astro$/.test(entry)) out.push({ kind: route.origin === 'external' ? 'injected' : 'page', pattern: route.pattern, entry });
    else if (/\.mdx?$/.test(entry)) out.push({ kind: 'markdown', pattern: route.pattern, entry });
  }
  return out;
}

/**
 * The resolver a plugin hook offers: `this.resolve`, and `this.load` (a build) or the
 * environment's plugin container (dev) for the source of a virtual module.
 * @param {TransformContext} ctx
 * @param {readonly VitePlugin[]} [plugins] the resolved config's plugins (a build loads through their hooks)
 * @param {readonly import('./walk.js').Alias[]} [aliases] the resolved config's `resolve.alias`
 * @returns {Resolver}
 */
export function hookResolver(ctx, plugins = [], aliases = []) {
  return {
    aliases,
    resolve: (specifier, importer) => ctx.resolve(specifier, importer, { skipSelf: true }),
    load: async (id) => {
      const container = ctx.environment?.pluginContainer;
      if (container) return loadedCode(await container.load(id));
      const loaded = await loadThroughPlugins(ctx, plugins, id);
      if (loaded !== null) return loaded;
      if (ctx.load) return (await ctx.load({ id }).catch(() => null))?.code ?? null;
      return null;
    },
  };
}

/**
 * A module's source from the first `load` hook that answers, called as the build calls them.
 * A build has no plugin container to ask, and a bundler's `this.load` would add the module to the
 * build's graph (Rolldown's also answers null for a module it has not reached yet); the virtual
 * modules a walk meets (Starlight's component overrides, an integration's) come from plain load
 * hooks, so asking those hooks, in the build's plugin order, is what the build itself does.
 * @param {TransformContext} ctx the calling hook's context, passed on as the hooks' `this`
 * @param {readonly VitePlugin[]} plugins the resolved config's plugins, in order
 * @param {string} id
 * @returns {Promise<string | null>}
 */
async function loadThroughPlugins(ctx, plugins, id) {
  for (const plugin of plugins) {
    const hook = plugin.load;
    if (!hook || plugin.name?.startsWith('astro-hoist:')) continue;
    const handler = typeof hook === 'function' ? hook : hook.handler;
    const filter = typeof hook === 'function' ? undefined : hook.filter?.id;
    if (typeof handler !== 'function' || !matchesFilter(filter, id)) continue;
    const loaded = loadedCode(await handler.call(ctx, id, { ssr: true }));
    if (loaded !== null) return loaded;
  }
  return null;
}

/**
 * Whether a hook filter's `id` (a string, a RegExp, a list, or `{ include, exclude }`) lets `id` in.
 * @param {unknown} filter
 * @param {string} id
 */
function matchesFilter(filter, id) {
  if (filter === undefined || filter === null) return true;
  /** @param {unknown} pattern */
  const test = (pattern) => (pattern instanceof RegExp ? pattern.test(id) : typeof pattern === 'string' ? pattern === id : false);
  /** @param {unknown} patterns */
  const any = (patterns) => (Array.isArray(patterns) ? patterns.some(test) : test(patterns));
  if (filter instanceof RegExp || typeof filter === 'string' || Array.isArray(filter)) return any(filter);
  const { include, exclude } = /** @type {{ include?: unknown, exclude?: unknown }} */ (filter);
  if (exclude !== undefined && any(exclude)) return false;
  return include === undefined || any(include);
}

/**
 * The code of a `load` hook's result (a string, or `{ code }`).
 * @param {unknown} loaded
 * @returns {string | null}
 */
export function loadedCode(loaded) {
  if (typeof loaded === 'string') return loaded;
  if (loaded && typeof loaded === 'object' && 'code' in loaded && typeof loaded.code === 'string') return loaded.code;
  return null;
}

/** The native addon's Project, loaded on first use. */
async function nativeProject(/** @type {string} */ root) {
  const { Project } = await import('../../index.js');
  return new Project(root);
}

/**
 * The astro-hoist Vite plugins.
 * @param {HoistVitePluginOptions} config
 */
export function hoistVitePlugin(config) {
  const { logger } = config;
  const root = slash(config.root).replace(/(?<=.)\/+$/, '');
  const options = config.options ?? {};
  /** @type {Promise<Project> | null} */
  let projectPromise = null;
  const project = () =>
    (projectPromise ??= Promise.resolve((config.createProject ?? nativeProject)(root)).then((p) => {
      made = p;
      resolveExactFiles(p, viteAliases, preserveSymlinks);
      return p;
    }));
  /** @type {Route[] | null} */
  let routes = null;
  const deps = new DependencyMap();
  const said = new Said();
  /** Components whose walk met a missing/unresolvable file: a newly created file may fix them. */
  /** @type {Set<string>} */
  const withMissing = new Set();
  /** What `astro-hoist:imports` appends to each component's compiled module. */
  /** @type {Map<string, string>} */
  const appends = new Map();
  /**
   * Modules to invalidate per file change. `hotUpdate` runs once per environment for the same
   * change, and a delete prunes the map on the first call: later calls reuse the answer.
   * @type {Map<string, Promise<string[]>>}
   */
  const recentChanges = new Map();
  /**
   * A changed file's plan signature as the project held it, taken when the watcher first saw the
   * change (before the project forgets the file).
   * @type {Map<string, string | null>}
   */
  const previous = new Map();
  /** @type {Project | null} the project, once made */
  let made = null;
  /**
   * Dev: each component's last output, for the source it was made from.
   * @type {Map<string, { code: string, output: { code: string, map?: unknown } | null, append: string }>}
   */
  const results = new Map();
  /**
   * The plan each transform decided its code with, by root-relative component (kept only for
   * the report): the report shows what the build did.
   * @type {Map<string, import('../../index.js').Plan>}
   */
  const decided = new Map();
  /** @type {HmrContext['server'] | null} */
  let server = null;
  /** @type {readonly VitePlugin[]} */
  let vitePlugins = [];
  /** @type {readonly import('./walk.js').Alias[]} */
  let viteAliases = [];
  let preserveSymlinks = false;
  /** The resolved config's `build.sourcemap`, for a hook context without an environment (maps until it is known). */
  /** @type {unknown} */
  let buildSourcemap = true;
  let reported = false;

  /**
   * The modules whose output read `file`, for one change of it (computed once per change). A
   * change that leaves what plans read of the file as it was (a text, markup or style edit)
   * affects no other module: Vite updates the file's own.
   * @param {string} file
   * @param {'create' | 'update' | 'delete'} type
   * @param {number} timestamp
   * @returns {Promise<string[]>}
   */
  const modulesAffectedBy = (file, type, timestamp) => {
    const key = `${type}\0${timestamp}\0${file}`;
    const known = recentChanges.get(key);
    if (known) return known;
    results.delete(file);
    const affected = (async () => {
      said.forget(file);
      const p = await project();
      const before = previous.has(file) ? previous.get(file) : planSignature(p.cached(file));
      previous.delete(file);
      p.forget(file);
      if (type !== 'update') forgetResolutions(p);
      if (type === 'update' && before) {
        const source = await readFile(file, 'utf8').catch(() => null);
        if (source !== null && planSignature(await p.update(file, source).catch(() => null)) === before) return [];
      }
      const modules = new Set(type === 'delete' ? deps.deleteFile(file) : deps.modulesReading(file));
      if (type === 'create') for (const component of withMissing) modules.add(component);
      for (const module of modules) results.delete(module);
      return [...modules];
    })();
    recentChanges.set(key, affected);
    // Only the last few changes can still be in flight.
    if (recentChanges.size > 32) recentChanges.delete(/** @type {string} */ (recentChanges.keys().next().value));
    return affected;
  };

  /**
   * Every route's plan, the walks answered by `resolver`.
   * @param {Resolver} resolver
   * @param {import('../../index.js').PlanOptions} [planOptions] over the integration's own
   * @returns {Promise<RoutePlan[]>}
   */
  const planRoutes = async (resolver, planOptions = {}) => {
    const p = await walkRoutes(resolver);
    return planEveryRoute(p, { concurrency: options.concurrency, speculative: options.speculative, ...planOptions });
  };

  /**
   * Walks every route (and the server islands found on the way), answered by `resolver`.
   * @param {Resolver} resolver
   * @returns {Promise<Project>}
   */
  const walkRoutes = async (resolver) => {
    const p = await project();
    if (routes) p.setRoutes(routes);
    await settle(p, [], resolver, () => p.walkRoutes());
    return p;
  };

  const transform = {
    name: 'astro-hoist:transform',

    /** @param {{ plugins: readonly VitePlugin[], command?: 'build' | 'serve', resolve?: { alias?: readonly import('./walk.js').Alias[], preserveSymlinks?: boolean }, build?: { sourcemap?: unknown } }} resolved */
    configResolved(resolved) {
      vitePlugins = resolved.plugins;
      buildSourcemap = resolved.build?.sourcemap ?? false;
      viteAliases = resolved.resolve?.alias ?? [];
      preserveSymlinks = resolved.resolve?.preserveSymlinks ?? false;
      if (made) resolveExactFiles(made, viteAliases, preserveSymlinks);
      // Astro's build first runs a short-lived dev server of the same plugins (its content sync):
      // the build that follows has no server, so keeps nothing for one (output cache, watch files).
      if (resolved.command === 'build') {
        server = null;
        results.clear();
        previous.clear();
      }
    },

    /** @param {HmrContext['server']} devServer */
    configureServer(devServer) {
      server = devServer;
    },

    /**
     * A build's server environment: every route's tree is read now, while the bundler resolves
     * its entries, so a page's transform finds its tree read (and its components, later, their
     * plans at once) instead of waiting for its walk. Not awaited: a page's own walk waits for
     * whatever it still needs, and a failure here is that walk's to report. A dev server walks
     * only what is requested.
     * @this {TransformContext}
     */
    buildStart() {
      if (server || !routes || isClient(this, undefined)) return;
      walkRoutes(hookResolver(this, vitePlugins, viteAliases)).catch(() => {});
    },

    transform: {
      filter: { id: /\.astro$/ },
      // 'pre': run before Astro's own transform compiles the component, so we see (and edit)
      // the raw `.astro` source; a plain `enforce: 'pre'` plugin already sees compiled output.
      order: /** @type {const} */ ('pre'),
      /**
       * @this {TransformContext}
       * @param {string} code
       * @param {string} id
       * @param {{ ssr?: boolean }} [transformOptions]
       */
      async handler(code, id, transformOptions) {
        // Re-check: hook filters are not honoured by every Vite version, and `.astro`
        // sub-modules (`?astro&type=style|script`) must be left alone.
        if (!isAstroComponentId(id) || isClient(this, transformOptions)) return null;
        // The dev server transforms a changed component's importers again, with the same source:
        // their output stands while nothing their plans read has changed (a change that does
        // drops it, through modulesAffectedBy).
        const hit = server ? results.get(id) : undefined;
        if (hit && hit.code === code) {
          if (hit.append) appends.set(id, hit.append);
          else appends.delete(id);
          return hit.output;
        }
        appends.delete(id);
        results.delete(id);
        const file = slash(id);
        const p = await project();

        // Only a dev server or a watched build records the files a batch was decided from.
        const watching = Boolean(server || this.meta?.watchMode);
        const planOptions = { concurrency: options.concurrency, speculative: options.speculative, files: watching };
        // A component whose tree an earlier walk went through (a page's components, transformed
        // after the page): its analysis and batch at once, without a trip to the thread pool.
        /** @type {import('../../index.js').QuickOutcome | null} */
        let quick = null;
        if (!config.onReport && typeof p.quick === 'function') {
          try {
            quick = p.quick(file, code, planOptions);
          } catch {
            quick = null; // the long way reports it
          }
        }
        /** @type {ComponentInfo} */
        let info;
        try {
          info = quick ? quick.info : await p.update(file, code);
        } catch (error) {
          if (!mentionsLoaders(code)) return passThrough(file, error instanceof Error ? error.message : String(error));
          return this.error(logError(toLog(error, id)));
        }
        const incomplete = info.diagnostics.find((d) => INCOMPLETE.has(d.code));
        if (incomplete && !info.loader && info.loaderDataCalls.length === 0 && !mentionsLoaders(code)) {
          // A file Astro builds must build: astro-hoist has nothing to do in it anyway.
          return passThrough(file, `${incomplete.line}:${incomplete.column}: ${incomplete.message} [${incomplete.code}]`);
        }
        reportDiagnostics(this, id, info.diagnostics, said, logger);

        if (!quick) await settle(p, [file], hookResolver(this, vitePlugins, viteAliases));
        // The report shows the plan each component's code was built with: only then is the full
        // plan (schedules, waves) worth computing here; the code needs its batch.
        /** @type {{ entries: import('../../index.js').BatchEntry[], order: string[], notes: import('../../index.js').Diagnostic[], files: string[], complete: boolean, flow?: string | null } | undefined} */
        let decision;
        /** @type {import('../../index.js').PlanError | undefined} */
        let error;
        if (config.onReport) {
          const outcome = p.plan(file, planOptions);
          error = outcome.error;
          if (outcome.plan) decided.set(outcome.plan.root, outcome.plan);
          decision = outcome.plan;
        } else {
          const outcome = quick ?? (await p.batch(file, planOptions));
          error = outcome.error;
          decision = outcome.batch;
        }
        if (error) {
          // A ctx.load cycle: the runtime rejects it at request time too.
          reportNotes(this, logger, [error.diagnostic], said);
        }
        if (decision) {
          // What a file change must invalidate: only a dev server or a watched build changes files.
          // A dev server's hotUpdate invalidates exactly the modules whose plan a change alters
          // (hmr.js): watch files there would make Vite treat every file a plan read as an
          // import of the module, and re-transform whole chains on an edit that changes no plan.
          if (watching) deps.set(file, decision.files);
          if (!server && this.meta?.watchMode) {
            for (const read of decision.files) if (read !== file && path.isAbsolute(read)) this.addWatchFile(read);
          }
          if (decision.notes.some((n) => n.code === 'unresolved-import')) withMissing.add(file);
          else withMissing.delete(file);
          reportNotes(this, logger, decision.notes, said, root);
        }

        // A ctx.load cycle leaves the rest of the tree's batch: its own loaders reject when they run.
        let entries = decision?.entries ?? error?.entries ?? [];
        // A batch pays off only when it starts a loader other than the component's own (which its
        // getLoaderData() call starts anyway) that this render would start.
        const startable = entries.filter((entry) => entry.file !== file && (!entry.conditional || options.speculative));
        if (startable.length === 0) entries = [];
        const keys = new Set(entries.map((entry) => entry.id));
        const order = options.concurrency !== undefined && keys.size > 1 && decision ? decision.order.filter((key) => keys.has(key)) : undefined;
        // A dev server always maps (stack traces, the browser's debugger); a build only when it
        // writes maps.
        const map = Boolean(server) || buildKeepsMaps(this, buildSourcemap);
        const result = transformAstro({ source: code, file, root, info, entries, options, order, flow: decision?.flow, map });
        const output = result ? { code: result.code, ...(result.map && { map: result.map }) } : null;
        if (server && (!decision || decision.complete)) results.set(id, { code, output, append: result?.append ?? '' });
        if (!result) return null;
        reportWarnings(this, id, result.warnings, said);
        if (result.append) appends.set(id, result.append);
        return output;
      },
    },

    /**
     * The end of a build: every route's plan, for the report (`onReport`), once.
     * @this {TransformContext}
     */
    async buildEnd() {
      if (!config.onReport || reported || isClient(this, undefined)) return;
      reported = true;
      const plans = (await planRoutes(hookResolver(this, vitePlugins, viteAliases))).map((route) => {
        const used = route.plan && decided.get(route.plan.root);
        return used ? { ...route, plan: used } : route;
      });
      await config.onReport(plans, await project());
    },

    /**
     * Vite 6+ (Astro 5+): called once per environment for each change.
     * @this {HotUpdateContext}
     * @param {HotUpdateOptions} update
     */
    async hotUpdate(update) {
      const modules = await modulesAffectedBy(slash(update.file), update.type ?? 'update', update.timestamp);
      const moduleGraph = this.environment?.moduleGraph;
      if (moduleGraph && modules.length > 0) invalidateModules(moduleGraph, modules, update.timestamp);
    },

    /**
     * Vite 5 only: Vite 6+ does not call it for a plugin that has `hotUpdate`.
     * @param {HmrContext} context
     */
    async handleHotUpdate(context) {
      if (context.server.environments) return; // Vite 6+: hotUpdate does it
      const modules = await modulesAffectedBy(slash(context.file), 'update', context.timestamp);
      if (modules.length > 0) invalidateModules(context.server.moduleGraph, modules, context.timestamp);
    },

    /**
     * Runs before the HMR hooks (dev) and alone in build watch mode. Deletes are handled here
     * only where no `hotUpdate` will see them (Vite 5 dev, build watch mode).
     * @param {string} id
     * @param {{ event: 'create' | 'update' | 'delete' }} change
     */
    async watchChange(id, change) {
      const file = slash(id);
      said.forget(file);
      if (server && made && !previous.has(file)) previous.set(file, planSignature(made.cached(file)));
      made?.forget(file);
      // A new or removed file, or a package or TypeScript config, may change what resolves where.
      if (made && (change.event !== 'update' || /(?:^|\/)(?:package|[tj]sconfig[^/]*)\.json$/.test(file))) forgetResolutions(made);
      if (change.event !== 'delete' || server?.environments) return;
      const modules = await modulesAffectedBy(file, 'delete', Date.now());
      if (server && modules.length > 0) invalidateModules(server.moduleGraph, modules, Date.now());
    },

    /** For the integration, the CLI and tests. */
    api: {
      /** The options the integration planned with. */
      options,
      project,
      deps,
      withMissing,
      appends,
      /** @param {AstroRoute[]} astroRoutes Astro's route list (`astro:routes:resolved`) */
      setRoutes(astroRoutes) {
        routes = coreRoutes(astroRoutes, root);
      },
      walkRoutes,
      planRoutes,
    },
  };

  const imports = {
    name: 'astro-hoist:imports',
    transform: {
      filter: { id: /\.astro$/ },
      // Normal order, and added after Astro's plugins: this sees Astro's compiled module.
      /**
       * @this {TransformContext}
       * @param {string} code
       * @param {string} id
       * @param {{ ssr?: boolean }} [transformOptions]
       */
      handler(code, id, transformOptions) {
        if (!isAstroComponentId(id) || isClient(this, transformOptions)) return null;
        const append = appends.get(id);
        return append ? appendImports(code, id, append) : null;
      },
    },
  };

  /**
   * @param {string} file
   * @param {string} why
   * @returns {null}
   */
  function passThrough(file, why) {
    deps.forget(file);
    if (said.first(file, `pass\0${why}`)) logger?.debug(`${toComponentPath(root, file)} is left as it is (it uses no loader, and astro-hoist could not analyze it: ${why})`);
    return null;
  }

  return /** @type {const} */ ([transform, imports]);
}

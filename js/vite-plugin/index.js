// The Vite plugins of astro-hoist:
// - `astro-hoist:transform` asks the native core about every raw `.astro` source, moves each
//   hoistable loader into its loader module (which it resolves and loads), binds getLoaderData()
//   calls, and gives every component whose tree holds hoistable loaders the batch that starts
//   them; it keeps dev output fresh when any file a module's output was computed from changes.
// - `astro-hoist:imports` appends the imports those edits need to Astro's compiled module, after
//   every import Astro wrote, so no existing import moves (Astro orders CSS by import position).
//
// Do no harm: a file whose analysis fails and that uses no loader passes through unchanged (a
// debug note); the client environment is never touched.

import path from 'node:path';
import { existsSync } from 'node:fs';
import { walkComponentGraph } from '../graph.js';
import { appendImports, loaderModuleCode, transformAstro } from '../codegen.js';
import { pageSubgraph } from '../plan.js';
import { componentOfLoaderModule, isAstroComponentId, LOADER_MODULE_SUFFIX, loaderModuleId, relativeSpecifier, slash, toComponentPath } from '../paths.js';
import { AnalysisCache } from './cache.js';
import { DependencyMap, invalidateModules } from './hmr.js';
import { logError, reportDiagnostics, reportNotHoisted, reportWarnings, Said, toLog } from './log.js';

/**
 * @typedef {import('../../index.js').ComponentInfo} ComponentInfo
 * @typedef {import('../../index.js').ProjectGraph} ProjectGraph
 * @typedef {import('../codegen.js').BatchOptions} BatchOptions
 * @typedef {import('./cache.js').AnalyzeComponent} AnalyzeComponent
 * @typedef {import('./log.js').Logger} Logger
 * @typedef {import('./log.js').Log} Log
 * @typedef {import('./hmr.js').ModuleNode} ModuleNode
 * @typedef {import('./hmr.js').ModuleGraph} ModuleGraph
 */

/**
 * The parts of Vite's / Rollup's plugin contexts these plugins use. Typed locally so the package
 * needs no `vite` types at check time.
 * @typedef {{ config?: { consumer?: 'client' | 'server' } }} Environment
 * @typedef {object} TransformContext
 * @property {(source: string, importer?: string, options?: { skipSelf?: boolean }) => Promise<{ id: string, external?: boolean | string } | null>} resolve
 * @property {(file: string) => void} addWatchFile
 * @property {(error: Log | Error | string) => never} error
 * @property {(warning: Log | string) => void} warn
 * @property {Environment} [environment]
 * @typedef {{ type?: 'create' | 'update' | 'delete', file: string, timestamp: number, modules: ModuleNode[] }} HotUpdateOptions
 * @typedef {{ environment?: { moduleGraph: ModuleGraph } }} HotUpdateContext
 * @typedef {{ file: string, timestamp: number, modules: ModuleNode[], server: { moduleGraph: ModuleGraph, environments?: unknown } }} HmrContext
 */

/**
 * @typedef {object} HoistVitePluginOptions
 * @property {string} root project root, absolute path
 * @property {string} srcDir Astro's `srcDir`, absolute path (pages live in `<srcDir>/pages/`)
 * @property {BatchOptions} [options] batch options for the generated code (validated and resolved)
 * @property {Logger} [logger] Astro's logger for not-hoisted reasons (falls back to `this.warn`)
 * @property {AnalyzeComponent} [analyzeComponent] defaults to the native core's
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
const INCOMPLETE = new Set(['too-deeply-nested', 'too-ambiguous']);

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

/** The native addon, loaded on first use. */
async function loadNative() {
  return import('../../index.js');
}

/**
 * The astro-hoist Vite plugins.
 * @param {HoistVitePluginOptions} config
 */
export function hoistVitePlugin(config) {
  const { logger } = config;
  // Without trailing separators, as scanProject reports it: the core's content cache is keyed by
  // (file, root, source), so the buildStart scan only warms the transforms' analyses if the
  // strings match (Astro's root URL ends with `/`).
  const root = config.root.replace(/(?<=.)[\\/]+$/, '');
  const srcDir = config.srcDir;
  const options = config.options ?? {};
  /** @type {Promise<AnalyzeComponent> | null} */
  let nativeAnalyze = null;
  /** @type {AnalyzeComponent} */
  const analyzeComponent =
    config.analyzeComponent ??
    (async (source, filename, opts) => {
      nativeAnalyze ??= loadNative().then((native) => native.analyzeComponent);
      return (await nativeAnalyze)(source, filename, opts);
    });
  const cache = new AnalysisCache(analyzeComponent, root);
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
   * @type {Map<string, string[]>}
   */
  const recentChanges = new Map();
  /** @type {HmrContext['server'] | null} */
  let server = null;
  /**
   * One scan of the whole project: started at buildStart to warm the core's content cache, and
   * read for start order when `concurrency` is set. Dropped when any file changes (the next scan
   * is mostly cache hits). Resolves to null when the scan fails.
   * @type {Promise<ProjectGraph | null> | null}
   */
  let projectScan = null;

  /** @param {(message: string) => void} warn */
  const scanProjectOnce = (warn) => {
    projectScan ??= loadNative()
      .then((native) =>
        native.scanProject(root, {
          diskCache: existsSync(path.join(root, 'node_modules')),
          pagesDir: path.relative(root, path.join(srcDir, 'pages')).split(path.sep).join('/'),
        }),
      )
      .catch((error) => {
        warn(`could not scan the project (${error instanceof Error ? error.message : String(error)}); loaders are still hoisted, without a planned start order`);
        return null;
      });
    return projectScan;
  };

  /**
   * The core's start order for a batch under the concurrency limit (critical path first),
   * restricted to `keys`; undefined when there is no plan (the runtime then uses entry order).
   * @param {string} id the component starting the batch
   * @param {Set<string>} keys the batch's keys
   * @param {(message: string) => void} warn
   * @returns {Promise<string[] | undefined>}
   */
  const startOrder = async (id, keys, warn) => {
    const graph = await scanProjectOnce(warn);
    if (!graph) return undefined;
    const component = toComponentPath(root, id);
    try {
      const { planPage } = await loadNative();
      const plan = await planPage(pageSubgraph(graph, component), component, { concurrency: options.concurrency, speculative: options.speculative });
      return plan.order.filter((key) => keys.has(key));
    } catch (error) {
      // A ctx.load cycle, or a component outside the scanned tree: entry order will do.
      logger?.debug(`no planned start order for ${component}: ${error instanceof Error ? error.message : String(error)}`);
      return undefined;
    }
  };

  /** @param {string} file */
  const forgetFileState = (file) => {
    cache.invalidate(file);
    said.forget(file);
    projectScan = null;
  };

  /**
   * The modules whose output read `file`, for one change of it (computed once per change).
   * @param {string} file
   * @param {'create' | 'update' | 'delete'} type
   * @param {number} timestamp
   * @returns {string[]}
   */
  const modulesAffectedBy = (file, type, timestamp) => {
    const key = `${type}\0${timestamp}\0${file}`;
    const known = recentChanges.get(key);
    if (known) return known;
    forgetFileState(file);
    const modules = new Set(type === 'delete' ? deps.deleteFile(file) : deps.modulesReading(file));
    if (type === 'create') for (const component of withMissing) modules.add(component);
    const list = [...modules];
    recentChanges.set(key, list);
    // Only the last few changes can still be in flight.
    if (recentChanges.size > 32) recentChanges.delete(/** @type {string} */ (recentChanges.keys().next().value));
    return list;
  };

  /**
   * For a loader module: the `.astro` files its loader imports names from (`import { loader as user }
   * from './User.astro'` for `ctx.load(user)`), mapped to their own loader modules when those export
   * every name read, so the loader module never imports a component.
   * @param {TransformContext} ctx
   * @param {string} component
   * @param {ComponentInfo} info
   * @returns {Promise<Map<string, string>>}
   */
  const componentImports = async (ctx, component, info) => {
    /** @type {Map<string, string>} */
    const sources = new Map();
    const imports = info.loader?.module?.imports ?? [];
    for (const source of new Set(imports.map((i) => i.source))) {
      const resolved = await ctx.resolve(source, component).catch(() => null);
      const target = resolved && !resolved.external ? resolved.id.split('?')[0] : null;
      if (!target || !isAstroComponentId(target)) continue;
      const names = imports.filter((i) => i.source === source).map((i) => i.imported);
      const exported = (await cache.analyzeFile(target).catch(() => null))?.loader?.module?.exports ?? [];
      if (names.every((name) => name === '*' || exported.includes(name))) {
        sources.set(source, relativeSpecifier(component, loaderModuleId(target)));
      }
    }
    return sources;
  };

  /** @param {TransformContext} ctx */
  const warner = (ctx) => (logger ? (/** @type {string} */ message) => logger.warn(message) : (/** @type {string} */ message) => ctx.warn(message));

  const transform = {
    name: 'astro-hoist:transform',

    /** @param {HmrContext['server']} devServer */
    configureServer(devServer) {
      server = devServer;
    },

    /**
     * Scan the whole project in parallel off the JS thread, without waiting for it: transforms of
     * unchanged files then hit the core's cache. Once per plugin (Vite calls this per environment).
     * A failed scan is a warning, never a failed build.
     * @this {{ warn(message: string): void }}
     */
    buildStart() {
      void scanProjectOnce(logger ? (message) => logger.warn(message) : (message) => this.warn(message));
    },

    resolveId: {
      // 'pre': no file exists at a loader module's path, so Vite's own resolver must not try it first.
      order: /** @type {const} */ ('pre'),
      /**
       * @param {string} source
       * @param {string | undefined} importer
       */
      handler(source, importer) {
        if (!source.endsWith(LOADER_MODULE_SUFFIX)) return null;
        let id = null;
        if (path.isAbsolute(source)) id = source;
        else if (importer && (source.startsWith('./') || source.startsWith('../'))) {
          id = slash(path.resolve(path.dirname(importer.split('?')[0]), source));
        }
        return id && componentOfLoaderModule(id) ? id : null;
      },
    },

    /**
     * A component's loader module, cut from the source its analysis was made from.
     * @this {TransformContext}
     * @param {string} id
     */
    async load(id) {
      const component = componentOfLoaderModule(id);
      if (!component) return null;
      this.addWatchFile(component);
      deps.set(id, [component]);
      /** @type {{ source: string, info: ComponentInfo }} */
      let current;
      try {
        current = await cache.current(component);
      } catch (error) {
        return this.error(logError(toLog(error, component)));
      }
      const out = loaderModuleCode({
        source: current.source,
        file: component,
        info: current.info,
        sources: await componentImports(this, component, current.info),
      });
      if (out) return out;
      // The component changed since its importer was transformed (dev): an empty loader, which
      // the runtime skips; the importer is transformed again for the change.
      return 'export const loader = undefined;\n';
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
        appends.delete(id);

        /** @type {ComponentInfo} */
        let info;
        try {
          info = await cache.analyze(id, code);
        } catch (error) {
          if (!mentionsLoaders(code)) return passThrough(id, error instanceof Error ? error.message : String(error));
          return this.error(logError(toLog(error, id)));
        }
        const incomplete = info.diagnostics.some((d) => d.severity === 'error' || INCOMPLETE.has(d.code));
        if (incomplete && !info.loader && (info.loaderDataCalls ?? []).length === 0 && !mentionsLoaders(code)) {
          // A file Astro builds must build: astro-hoist has nothing to do in it anyway.
          const first = info.diagnostics.find((d) => d.severity === 'error' || INCOMPLETE.has(d.code));
          return passThrough(id, first ? `${first.line}:${first.column}: ${first.message} [${first.code}]` : 'incomplete analysis');
        }
        reportDiagnostics(this, id, info.diagnostics ?? [], said, logger);

        const graph = await walkComponentGraph({
          page: id,
          root,
          analyze: (file) => (file === id ? Promise.resolve(info) : cache.analyzeFile(file)),
          resolve: async (source, importer) => {
            const resolved = await this.resolve(source, importer);
            if (!resolved || resolved.external) return null;
            // Virtual modules (`\0...`) have no file to analyze.
            const file = resolved.id.split('?')[0];
            if (file.startsWith('\0') || !path.isAbsolute(file)) return null;
            return file;
          },
        });

        for (const file of graph.files) if (file !== id) this.addWatchFile(file);
        deps.set(id, graph.files);
        if (graph.notHoisted.some((n) => n.code === 'unresolved-import' || n.code === 'analyze-failed')) withMissing.add(id);
        else withMissing.delete(id);
        reportNotHoisted(this, logger, graph.notHoisted, said);

        let entries = graph.loaders.filter((loader) => loader.hoistable);
        // A batch pays off only when it starts a loader other than the component's own (which its
        // getLoaderData() call starts anyway) that this render would start.
        const startable = entries.filter((loader) => loader.file !== id && (!loader.conditional || options.speculative));
        if (startable.length === 0) entries = [];
        const keys = new Set(entries.map((loader) => loader.id));
        const order = options.concurrency !== undefined && keys.size > 1 ? await startOrder(id, keys, warner(this)) : undefined;
        const result = transformAstro({ source: code, file: id, root, info, entries, options, order });
        if (!result) return null;
        reportWarnings(this, id, result.warnings, said);
        if (result.append) appends.set(id, result.append);
        return { code: result.code, map: result.map };
      },
    },

    /**
     * Vite 6+ (Astro 5+): called once per environment for each change.
     * @this {HotUpdateContext}
     * @param {HotUpdateOptions} update
     */
    hotUpdate(update) {
      const modules = modulesAffectedBy(slash(update.file), update.type ?? 'update', update.timestamp);
      const moduleGraph = this.environment?.moduleGraph;
      if (moduleGraph && modules.length > 0) invalidateModules(moduleGraph, modules, update.timestamp);
    },

    /**
     * Vite 5 only: Vite 6+ does not call it for a plugin that has `hotUpdate`.
     * @param {HmrContext} context
     */
    handleHotUpdate(context) {
      if (context.server.environments) return; // Vite 6+: hotUpdate does it
      const modules = modulesAffectedBy(slash(context.file), 'update', context.timestamp);
      if (modules.length > 0) invalidateModules(context.server.moduleGraph, modules, context.timestamp);
    },

    /**
     * Runs before the HMR hooks (dev) and alone in build watch mode. Deletes are handled here
     * only where no `hotUpdate` will see them (Vite 5 dev, build watch mode).
     * @param {string} id
     * @param {{ event: 'create' | 'update' | 'delete' }} change
     */
    watchChange(id, change) {
      const file = slash(id);
      forgetFileState(file);
      if (change.event !== 'delete' || server?.environments) return;
      const modules = modulesAffectedBy(file, 'delete', Date.now());
      if (server && modules.length > 0) invalidateModules(server.moduleGraph, modules, Date.now());
    },

    /** Introspection for tests and tools. */
    api: { cache, deps, withMissing, appends, projectScan: () => projectScan },
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
   * @param {string} id
   * @param {string} why
   * @returns {null}
   */
  function passThrough(id, why) {
    deps.forget(id);
    if (said.first(id, `pass\0${why}`)) logger?.debug(`${toComponentPath(root, id)} is left as it is (it uses no loader, and astro-hoist could not analyze it: ${why})`);
    return null;
  }

  return [transform, imports];
}

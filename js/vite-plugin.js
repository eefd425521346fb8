// The Vite plugin: asks the native core about every raw `.astro` source, binds getLoaderData()
// calls, injects the hoisted-loader batch into pages, and keeps dev output fresh when any file
// a page's output was computed from changes.

import path from 'node:path';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { toComponentPath, walkComponentGraph } from './graph.js';
import { transformAstro } from './codegen.js';
import { pageSubgraph } from './plan.js';

/**
 * @typedef {import('./graph.js').ComponentInfo} ComponentInfo
 * @typedef {import('./graph.js').Diagnostic} Diagnostic
 * @typedef {import('./graph.js').NotHoisted} NotHoisted
 * @typedef {import('./codegen.js').BatchOptions} HoistOptions
 * @typedef {import('../index.js').ProjectGraph} ProjectGraph
 */

/**
 * The native `analyzeComponent` (or a stand-in in tests).
 * @typedef {(source: string, filename: string, options?: { root?: string }) => Promise<ComponentInfo>} AnalyzeComponent
 */

/**
 * Astro's integration logger (the subset used here).
 * @typedef {{ warn(message: string): void, info(message: string): void, debug(message: string): void }} Logger
 */

/**
 * The parts of Vite's / Rollup's plugin contexts this plugin uses. Typed locally so the package
 * needs no `vite` types at check time.
 * @typedef {{ file?: string, line: number, column: number }} Loc
 * @typedef {{ message: string, loc?: Loc, frame?: string, code?: string, id?: string }} Log
 * @typedef {object} TransformContext
 * @property {(source: string, importer?: string, options?: { skipSelf?: boolean }) => Promise<{ id: string, external?: boolean | string } | null>} resolve
 * @property {(file: string) => void} addWatchFile
 * @property {(error: Log | Error | string) => never} error
 * @property {(warning: Log | string) => void} warn
 * @typedef {{ id: string | null }} ModuleNode
 * @typedef {object} ModuleGraph
 * @property {(id: string) => ModuleNode | undefined} getModuleById
 * @property {(mod: ModuleNode, seen?: Set<ModuleNode>, timestamp?: number, isHmr?: boolean) => void} invalidateModule
 * @typedef {{ type?: 'create' | 'update' | 'delete', file: string, timestamp: number, modules: ModuleNode[] }} HotUpdateOptions
 * @typedef {{ environment?: { moduleGraph: ModuleGraph } }} HotUpdateContext
 * @typedef {{ file: string, timestamp: number, modules: ModuleNode[], server: { moduleGraph: ModuleGraph, environments?: unknown } }} HmrContext
 */

/**
 * @typedef {object} HoistVitePluginOptions
 * @property {string} root project root, absolute path
 * @property {string} srcDir Astro's `srcDir`, absolute path (pages live in `<srcDir>/pages/`)
 * @property {HoistOptions} [options] validated integration options, forwarded to the runtime
 * @property {Logger} [logger] Astro's logger for not-hoisted reasons (falls back to `this.warn`)
 * @property {AnalyzeComponent} [analyzeComponent] defaults to the native core's
 */

const ASTRO_ID = /\.astro$/;

/**
 * Normalize a path to forward slashes (Vite ids use them on every platform).
 * @param {string} file
 */
function slash(file) {
  return path.sep === '\\' ? file.replaceAll('\\', '/') : file;
}

/**
 * Whether an `.astro` module id is a page: under `<srcDir>/pages/` and not excluded from
 * routing by a `_`-prefixed file or folder name.
 * @param {string} id
 * @param {string} srcDir
 * @returns {boolean}
 */
export function isPage(id, srcDir) {
  const pagesDir = `${slash(srcDir).replace(/\/+$/, '')}/pages/`;
  const file = slash(id);
  if (!file.startsWith(pagesDir)) return false;
  return !file
    .slice(pagesDir.length)
    .split('/')
    .some((segment) => segment.startsWith('_'));
}

/**
 * Whether a module id is a plain `.astro` component (no query such as `?astro&type=style`,
 * not virtual).
 * @param {string} id
 */
export function isAstroComponentId(id) {
  return !id.startsWith('\0') && !id.includes('?') && ASTRO_ID.test(id);
}

/**
 * Which modules' output depended on which files, both directions, so a changed file can
 * invalidate exactly the modules that read it.
 */
export class DependencyMap {
  constructor() {
    /** file -> modules whose output read it @type {Map<string, Set<string>>} */
    this.dependents = new Map();
    /** module -> files its output read @type {Map<string, Set<string>>} */
    this.dependencies = new Map();
  }

  /**
   * Replace what `module`'s output depended on (a re-transform forgets the old set).
   * @param {string} module
   * @param {Iterable<string>} files
   */
  set(module, files) {
    this.forget(module);
    const next = new Set(files);
    next.delete(module); // a module always depends on itself; Vite already knows
    if (next.size === 0) return;
    this.dependencies.set(module, next);
    for (const file of next) {
      let set = this.dependents.get(file);
      if (!set) this.dependents.set(file, (set = new Set()));
      set.add(module);
    }
  }

  /** @param {string} module */
  forget(module) {
    const previous = this.dependencies.get(module);
    if (!previous) return;
    this.dependencies.delete(module);
    for (const file of previous) {
      const set = this.dependents.get(file);
      if (!set) continue;
      set.delete(module);
      if (set.size === 0) this.dependents.delete(file);
    }
  }

  /**
   * A file is gone: nothing depends on it any more, and if it was a module, it depends on nothing.
   * @param {string} file
   * @returns {string[]} the modules that depended on it (to invalidate)
   */
  deleteFile(file) {
    const modules = this.modulesReading(file);
    this.dependents.delete(file);
    for (const module of modules) this.dependencies.get(module)?.delete(file);
    this.forget(file);
    return modules;
  }

  /**
   * @param {string} file
   * @returns {string[]}
   */
  modulesReading(file) {
    return [...(this.dependents.get(file) ?? [])];
  }
}

/**
 * Per-file analysis cache keyed by content: a file is re-analyzed only when its source differs
 * from the one analyzed last. Concurrent requests for the same content share one analysis.
 */
export class AnalysisCache {
  /**
   * @param {AnalyzeComponent} analyzeComponent
   * @param {string} root
   */
  constructor(analyzeComponent, root) {
    this.analyzeComponent = analyzeComponent;
    this.root = root;
    /** @type {Map<string, { source: string, info: Promise<ComponentInfo> }>} */
    this.entries = new Map();
    this.analyses = 0;
  }

  /**
   * @param {string} file
   * @param {string} source
   * @returns {Promise<ComponentInfo>}
   */
  analyze(file, source) {
    const cached = this.entries.get(file);
    if (cached && cached.source === source) return cached.info;
    this.analyses++;
    const info = Promise.resolve(this.analyzeComponent(source, file, { root: this.root }));
    const entry = { source, info };
    this.entries.set(file, entry);
    // A failed analysis is not cached: the next request retries.
    info.catch(() => {
      if (this.entries.get(file) === entry) this.entries.delete(file);
    });
    return info;
  }

  /**
   * @param {string} file
   * @returns {Promise<ComponentInfo>}
   */
  async analyzeFile(file) {
    return this.analyze(file, await readFile(file, 'utf8'));
  }

  /** @param {string} file */
  invalidate(file) {
    this.entries.delete(file);
  }
}

/** The native addon, loaded on first use. */
async function loadNative() {
  return import('../index.js');
}

/** @returns {Promise<AnalyzeComponent>} */
async function loadNativeAnalyze() {
  // Loaded lazily: the addon is only needed once a file is transformed.
  const native = await import('../index.js');
  return native.analyzeComponent;
}

/**
 * The astro-hoist Vite plugin.
 * @param {HoistVitePluginOptions} config
 */
export function hoistVitePlugin(config) {
  const { srcDir, logger } = config;
  // Without trailing separators, as scanProject reports it: the core's content cache is keyed by
  // (file, root, source), so the buildStart scan only warms the transforms' analyses if the
  // strings match (Astro's root URL ends with `/`).
  const root = config.root.replace(/(?<=.)[\\/]+$/, '');
  const options = config.options ?? {};
  /** @type {Promise<AnalyzeComponent> | null} */
  let nativeAnalyze = null;
  /** @type {AnalyzeComponent} */
  const analyzeComponent =
    config.analyzeComponent ??
    (async (source, filename, opts) => {
      nativeAnalyze ??= loadNativeAnalyze();
      return (await nativeAnalyze)(source, filename, opts);
    });
  const cache = new AnalysisCache(analyzeComponent, root);
  const deps = new DependencyMap();
  /** Pages whose walk met a missing/unresolvable file: a newly created file may fix them. */
  /** @type {Set<string>} */
  const pagesWithMissing = new Set();
  /** Messages already reported, so each is said once per file (reset when the file changes). */
  /** @type {Map<string, Set<string>>} */
  const reported = new Map();
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
   * read for pages' start order when `concurrency` is set. Dropped when any file changes (the
   * next scan is mostly cache hits). Resolves to null when the scan fails.
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
   * The core's start order for a page's batch under the concurrency limit (critical path first),
   * restricted to `keys`; undefined when there is no plan (the runtime then uses entry order).
   * @param {string} id the page
   * @param {Set<string>} keys the batch's keys
   * @param {(message: string) => void} warn
   * @returns {Promise<string[] | undefined>}
   */
  const startOrder = async (id, keys, warn) => {
    const graph = await scanProjectOnce(warn);
    if (!graph) return undefined;
    const page = toComponentPath(root, id);
    try {
      const { planPage } = await loadNative();
      const plan = await planPage(pageSubgraph(graph, page), page, { concurrency: options.concurrency, speculative: options.speculative });
      return plan.order.filter((key) => keys.has(key));
    } catch (error) {
      // A ctx.load cycle, or a page outside the scanned tree: entry order will do.
      logger?.debug(`no planned start order for ${page}: ${error instanceof Error ? error.message : String(error)}`);
      return undefined;
    }
  };

  /**
   * @param {string} file
   * @param {string} key
   * @returns {boolean} true the first time `key` is seen for `file`
   */
  const firstReport = (file, key) => {
    let set = reported.get(file);
    if (!set) reported.set(file, (set = new Set()));
    if (set.has(key)) return false;
    set.add(key);
    return true;
  };

  /** @param {string} file */
  const forgetFileState = (file) => {
    cache.invalidate(file);
    reported.delete(file);
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
    if (type === 'create') for (const page of pagesWithMissing) modules.add(page);
    const list = [...modules];
    recentChanges.set(key, list);
    // Only the last few changes can still be in flight.
    if (recentChanges.size > 32) recentChanges.delete(/** @type {string} */ (recentChanges.keys().next().value));
    return list;
  };

  /**
   * Hard-invalidate `modules`. Vite's own HMR only soft-invalidates a static importer and keeps
   * its old transform; a page whose batch was computed from a changed file must be transformed
   * again, hence `invalidateModule(mod, seen, timestamp, isHmr = true)` without soft invalidation.
   * @param {ModuleGraph} moduleGraph
   * @param {string[]} modules
   * @param {number} timestamp
   */
  const invalidate = (moduleGraph, modules, timestamp) => {
    /** @type {Set<ModuleNode>} */
    const seen = new Set();
    for (const id of modules) {
      const mod = moduleGraph.getModuleById(id);
      if (mod) moduleGraph.invalidateModule(mod, seen, timestamp, true);
    }
  };

  return {
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

    transform: {
      filter: { id: /\.astro$/ },
      // 'pre': run before Astro's own transform compiles the component, so we see (and edit)
      // the raw `.astro` source; a plain `enforce: 'pre'` plugin already sees compiled output.
      order: /** @type {const} */ ('pre'),
      /**
       * @this {TransformContext}
       * @param {string} code
       * @param {string} id
       */
      async handler(code, id) {
        // Re-check: hook filters are not honoured by every Vite version, and `.astro`
        // sub-modules (`?astro&type=style|script`) must be left alone.
        if (!isAstroComponentId(id)) return null;

        /** @type {ComponentInfo} */
        let info;
        try {
          info = await cache.analyze(id, code);
        } catch (error) {
          return this.error(logError(toLog(error, id)));
        }
        reportDiagnostics(this, id, info.diagnostics ?? [], firstReport);

        if (!isPage(id, srcDir)) {
          // A component's output depends on its own source only.
          deps.forget(id);
          const result = transformAstro({ source: code, file: id, root, info, options });
          if (!result) return null;
          reportWarnings(this, id, result.warnings, firstReport);
          return { code: result.code, map: result.map };
        }

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
        if (graph.notHoisted.some((n) => n.code === 'unresolved-import' || n.code === 'analyze-failed')) {
          pagesWithMissing.add(id);
        } else {
          pagesWithMissing.delete(id);
        }
        reportNotHoisted(this, logger, graph.notHoisted, firstReport);

        const keys = new Set(graph.loaders.filter((loader) => loader.hoistable).map((loader) => loader.id));
        const order =
          options.concurrency !== undefined && keys.size > 1
            ? await startOrder(id, keys, logger ? (message) => logger.warn(message) : (message) => this.warn(message))
            : undefined;
        const result = transformAstro({ source: code, file: id, root, info, loaders: graph.loaders, options, order });
        if (!result) return null;
        reportWarnings(this, id, result.warnings, firstReport);
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
      if (moduleGraph && modules.length > 0) invalidate(moduleGraph, modules, update.timestamp);
    },

    /**
     * Vite 5 only: Vite 6+ does not call it for a plugin that has `hotUpdate`.
     * @param {HmrContext} context
     */
    handleHotUpdate(context) {
      if (context.server.environments) return; // Vite 6+: hotUpdate does it
      const modules = modulesAffectedBy(slash(context.file), 'update', context.timestamp);
      if (modules.length > 0) invalidate(context.server.moduleGraph, modules, context.timestamp);
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
      if (server && modules.length > 0) invalidate(server.moduleGraph, modules, Date.now());
    },

    /** Introspection for tests and tools. */
    api: { cache, deps, pagesWithMissing, projectScan: () => projectScan },
  };
}

/**
 * Report what the walk could not hoist, once per file and message.
 * @param {TransformContext} ctx
 * @param {Logger | undefined} logger
 * @param {NotHoisted[]} notes
 * @param {(file: string, key: string) => boolean} first
 */
function reportNotHoisted(ctx, logger, notes, first) {
  for (const note of notes) {
    const where = note.line ? `${note.component}:${note.line}:${note.column}` : note.component;
    const message = `${where}: ${note.reason}`;
    if (!first(note.file, `${note.code}\0${message}`)) continue;
    // A loader that runs at render instead of early is worth a warning; the rest (local
    // components, virtual modules, Vite's own unresolved imports) is routine: debug only.
    const loud = note.code === 'loader-not-hoistable' || note.code === 'loader-unused' || note.code === 'analyze-failed';
    if (logger) {
      if (loud) logger.warn(message);
      else logger.debug(message);
    } else if (loud) {
      ctx.warn(message);
    }
  }
}

/**
 * Map the core's error diagnostics to `this.error` and its warnings to `this.warn`.
 * Vite/Rollup `loc.column` is 0-based; the core's columns are 1-based.
 * @param {TransformContext} ctx
 * @param {string} id
 * @param {Diagnostic[]} diagnostics
 * @param {(file: string, key: string) => boolean} first
 */
export function reportDiagnostics(ctx, id, diagnostics, first) {
  const error = diagnostics.find((d) => d.severity === 'error');
  if (error) {
    ctx.error(
      logError({
        message: `${error.message}`,
        code: error.code,
        id,
        loc: { file: id, line: error.line, column: Math.max(0, error.column - 1) },
        frame: error.frame,
      }),
    );
  }
  for (const d of diagnostics) {
    if (d.severity !== 'warning') continue;
    if (!first(id, `diag\0${d.code}\0${d.line}:${d.column}\0${d.message}`)) continue;
    ctx.warn({
      message: d.message,
      code: d.code,
      id,
      loc: { file: id, line: d.line, column: Math.max(0, d.column - 1) },
      frame: d.frame,
    });
  }
}

/**
 * @param {TransformContext} ctx
 * @param {string} id
 * @param {import('./codegen.js').CodegenWarning[]} warnings
 * @param {(file: string, key: string) => boolean} first
 */
function reportWarnings(ctx, id, warnings, first) {
  for (const w of warnings) {
    if (!first(id, `codegen\0${w.line}:${w.column}\0${w.message}`)) continue;
    ctx.warn({ message: w.message, id, loc: { file: id, line: w.line, column: Math.max(0, w.column - 1) } });
  }
}

/**
 * A Vite log as an Error. Vite's dev server throws `this.error()`'s argument as it is, and Astro's
 * dev error page, overlay and log need a real Error (name, stack) to show it at all: given a plain
 * object, the page's title reads "undefined", the overlay stays empty and the log has no location.
 * @param {Log} log
 * @returns {Error & Log}
 */
function logError(log) {
  return Object.assign(new Error(log.message), log);
}

/**
 * A native error (message `file:line:column ...`, `loc` 1-based columns, `frame`) as a Vite log.
 * @param {unknown} error
 * @param {string} id
 * @returns {Log}
 */
function toLog(error, id) {
  if (!(error instanceof Error)) return { message: String(error), id };
  const native = /** @type {Error & { code?: string, loc?: Loc, frame?: string }} */ (error);
  /** @type {Log} */
  const log = { message: native.message, id };
  if (typeof native.code === 'string') log.code = native.code;
  if (native.loc && typeof native.loc.line === 'number') {
    log.loc = { file: native.loc.file ?? id, line: native.loc.line, column: Math.max(0, native.loc.column - 1) };
  }
  if (typeof native.frame === 'string') log.frame = native.frame;
  return log;
}


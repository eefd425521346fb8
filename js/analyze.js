// `astro-hoist analyze`'s engine: reads a project the way Astro does — its own config loaded by
// Astro (`srcDir`, Vite aliases, integrations and the routes they inject), modules resolved and
// loaded by that config's Vite — and plans every route with the same native project and the same
// code as the build (the integration's Vite plugin `planRoutes`). Where Astro is not installed
// (or with `--disk`), the core scans the project on disk instead: `src/pages`, tsconfig paths.

import { createRequire } from 'node:module';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { planRoutes } from './plans.js';
import { analysisOf } from './report.js';
import { hoistVitePlugin, loadedCode } from './vite-plugin/index.js';

/**
 * @typedef {import('./report.js').Analysis} Analysis
 * @typedef {import('../index.js').PlanOptions} PlanOptions
 * @typedef {import('./vite-plugin/walk.js').Resolver} Resolver
 * @typedef {import('./vite-plugin/index.js').AstroRoute} AstroRoute
 */

/**
 * @typedef {object} AnalyzeOptions
 * @property {number} [concurrency] over the integration's option
 * @property {boolean} [speculative] over the integration's option
 * @property {Record<string, number>} [costs] ms by component id or root-relative path
 * @property {boolean} [disk] scan on disk even where Astro is installed
 * @property {boolean} [diskCache] the disk scan's cache (default: when root/node_modules exists)
 * @property {(phase: 'config' | 'scan' | 'plan') => void} [onPhase]
 * @property {Record<string, number>} [timings] filled with ms per step: `config` (Astro loads
 *   the config, Vite starts), `walk` (every route's tree), `plan` (every route planned); or
 *   `scan` and `plan` on disk
 */

/** An error in the project's Astro config: `analyze` cannot read the project as Astro does. */
export class ConfigError extends Error {}

/**
 * Where the project's `astro` package is, or null when it has none.
 * @param {string} root
 * @returns {string | null} the folder of astro's package.json
 */
export function findAstro(root) {
  try {
    return path.dirname(createRequire(path.join(root, 'package.json')).resolve('astro/package.json'));
  } catch {
    return null;
  }
}

/**
 * The ESM file of a package.json `exports` entry (a path, or conditions).
 * @param {unknown} entry
 * @returns {string | null}
 */
function exportPath(entry) {
  if (typeof entry === 'string') return entry;
  if (!entry || typeof entry !== 'object') return null;
  const conditions = /** @type {Record<string, unknown>} */ (entry);
  for (const key of ['import', 'module-sync', 'default']) {
    const found = exportPath(conditions[key]);
    if (found) return found;
  }
  return null;
}

/**
 * Analyzes a project: every route Astro serves, planned.
 * @param {string} root absolute
 * @param {AnalyzeOptions} [options]
 * @returns {Promise<Analysis>}
 */
export async function analyzeProject(root, options = {}) {
  const astro = options.disk ? null : findAstro(root);
  return astro ? analyzeWithAstro(root, astro, options) : analyzeOnDisk(root, options);
}

/**
 * The plan options: the CLI's flags over the integration's.
 * @param {AnalyzeOptions} options
 * @param {{ concurrency?: number, speculative?: boolean }} [configured]
 * @returns {PlanOptions}
 */
function planOptions(options, configured = {}) {
  return {
    concurrency: options.concurrency ?? configured.concurrency,
    speculative: options.speculative ?? configured.speculative ?? false,
    costs: options.costs,
  };
}

/**
 * @param {PlanOptions} plan
 * @returns {import('./report.js').AnalysisOptions}
 */
function reportOptions(plan) {
  return { concurrency: plan.concurrency ?? undefined, speculative: plan.speculative ?? false, costs: plan.costs !== undefined };
}

/**
 * Without Astro: the core's disk scan.
 * @param {string} root
 * @param {AnalyzeOptions} options
 * @returns {Promise<Analysis>}
 */
async function analyzeOnDisk(root, options) {
  const { scanProject } = await import('../index.js');
  options.onPhase?.('scan');
  const timings = options.timings ?? {};
  let started = performance.now();
  const diskCache = options.diskCache ?? existsSync(path.join(root, 'node_modules'));
  const project = await scanProject(root, { diskCache });
  timings.scan = performance.now() - started;
  options.onPhase?.('plan');
  const plan = planOptions(options);
  started = performance.now();
  const routes = await planRoutes(project, plan);
  timings.plan = performance.now() - started;
  return analysisOf({ root: project.root, source: 'disk', routes, diagnostics: project.diagnostics(), cycles: project.cycles(), options: reportOptions(plan) });
}

/**
 * Silences Astro's and Vite's console output while the config loads (an integration may log).
 * @template T
 * @param {() => Promise<T>} run
 * @returns {Promise<T>}
 */
async function quietly(run) {
  const { log, info, warn } = console;
  console.log = console.info = console.warn = () => {};
  try {
    return await run();
  } finally {
    Object.assign(console, { log, info, warn });
  }
}

/**
 * Through the project's Astro: its config (integrations, `srcDir`, Vite config) loaded by Astro's
 * `getViteConfig`, a Vite server in middleware mode (no port, no watcher, no dependency
 * optimizer) whose SSR environment resolves and loads modules, the routes Astro resolved
 * (`astro:routes:resolved`), and the integration's own plugin (or the same plugin, made here,
 * when the project does not use `hoist()`) to walk and plan them.
 * @param {string} root
 * @param {string} astroDir
 * @param {AnalyzeOptions} options
 * @returns {Promise<Analysis>}
 */
async function analyzeWithAstro(root, astroDir, options) {
  options.onPhase?.('config');
  const timings = options.timings ?? {};
  let started = performance.now();
  const fromAstro = createRequire(path.join(astroDir, 'package.json'));
  const viteDir = path.dirname(fromAstro.resolve('vite/package.json'));
  const vitePkg = JSON.parse(readFileSync(path.join(viteDir, 'package.json'), 'utf8'));
  const astroPkg = JSON.parse(readFileSync(path.join(astroDir, 'package.json'), 'utf8'));
  const viteEntry = exportPath(vitePkg.exports?.['.']) ?? 'dist/node/index.js';
  const configEntry = exportPath(astroPkg.exports?.['./config']) ?? 'dist/config/entrypoint.js';
  /** @type {[any, any]} */
  const [vite, astroConfig] = await Promise.all([
    import(pathToFileURL(path.join(viteDir, viteEntry)).href),
    import(pathToFileURL(path.join(astroDir, configEntry)).href),
  ]);

  /** @type {AstroRoute[] | null} */
  let astroRoutes = null;
  const capture = {
    name: 'astro-hoist:analyze',
    hooks: {
      /** @param {{ routes: AstroRoute[] }} event */
      'astro:routes:resolved': ({ routes }) => {
        astroRoutes = routes;
      },
    },
  };
  /** @type {any} */
  let viteConfig;
  try {
    viteConfig = await quietly(() =>
      astroConfig.getViteConfig({}, { root, logLevel: 'silent', integrations: [capture] })({ command: 'build', mode: 'production' }),
    );
  } catch (error) {
    throw new ConfigError(`cannot load the project's Astro config: ${error instanceof Error ? error.message : String(error)} (--disk reads the project on disk instead)`);
  }
  // No dependency optimization: nothing is served, and the optimizer would crawl the project.
  const noOptimizer = {
    name: 'astro-hoist:analyze-no-optimizer',
    enforce: /** @type {const} */ ('post'),
    /** @param {any} resolved */
    configResolved(resolved) {
      for (const deps of [resolved.optimizeDeps, ...Object.values(resolved.environments ?? {}).map((e) => /** @type {any} */ (e).optimizeDeps)]) {
        if (deps) {
          deps.noDiscovery = true;
          deps.include = [];
        }
      }
    },
  };
  const server = await vite.createServer({
    ...viteConfig,
    configFile: false,
    logLevel: 'silent',
    appType: 'custom',
    server: { ...viteConfig.server, middlewareMode: true, hmr: false, ws: false, watch: null },
    optimizeDeps: { ...viteConfig.optimizeDeps, noDiscovery: true, include: [] },
    plugins: [...(viteConfig.plugins ?? []), noOptimizer],
  });
  try {
    const environment = server.environments?.ssr;
    const container = environment?.pluginContainer ?? server.pluginContainer;
    /** @type {Resolver} */
    const resolver = {
      aliases: server.config.resolve?.alias ?? [],
      resolve: (specifier, importer) => container.resolveId(specifier, importer, { ssr: true }),
      load: async (id) => loadedCode(await container.load(id, { ssr: true })),
    };
    /** @type {any} */
    const found = server.config.plugins.find((/** @type {any} */ p) => p.name === 'astro-hoist:transform');
    // The project's own hoist() plans with its options; another version's plugin (the CLI run
    // from elsewhere) may not offer planRoutes: then the same plugin, made here, plans.
    const ours = typeof found?.api?.walkRoutes === 'function' && typeof found.api.setRoutes === 'function' ? found : null;
    const plugin = ours ?? hoistVitePlugin({ root })[0];
    const configured = ours?.api.options ?? {};
    plugin.api.setRoutes(astroRoutes ?? []);
    timings.config = performance.now() - started;
    options.onPhase?.('plan');
    started = performance.now();
    const project = await plugin.api.walkRoutes(resolver);
    timings.walk = performance.now() - started;
    const plan = planOptions(options, configured);
    started = performance.now();
    const routes = await planRoutes(project, plan);
    timings.plan = performance.now() - started;
    return analysisOf({ root: project.root, source: 'astro', routes, diagnostics: project.diagnostics(), cycles: project.cycles(), options: reportOptions(plan) });
  } finally {
    await server.close();
  }
}

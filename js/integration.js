// The Astro integration: validates options, adds the Vite plugins and the request middleware,
// tells the plugin the routes Astro serves, and writes the build's report when asked.

import { readdirSync, readFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { CACHE_CONFIG_ID, cacheConfigPlugin } from './vite-plugin/cache-config.js';
import { hoistVitePlugin } from './vite-plugin/index.js';
import { resolveServerTiming, validateOptions } from './options.js';

export { analyzeComponent, analyzeComponentSync, analyzeComponents } from '../index.js';

/**
 * @typedef {import('./options.js').HoistOptions} HoistOptions
 * @typedef {import('./vite-plugin/index.js').AstroRoute} AstroRoute
 * @typedef {import('./vite-plugin/log.js').Logger} Logger
 */

/**
 * The parts of Astro's `astro:config:setup` hook this integration uses (typed locally so the
 * package checks without `astro` installed; integration.d.ts gives users Astro's real types).
 * @typedef {object} ConfigSetup
 * @property {{ root: URL, srcDir?: URL, base?: string, devToolbar?: { enabled?: boolean }, security?: { csp?: unknown }, experimental?: { csp?: unknown } }} config
 * @property {'dev' | 'build' | 'preview' | 'sync'} [command]
 * @property {(config: Record<string, unknown>) => unknown} updateConfig
 * @property {(middleware: { entrypoint: string, order: 'pre' | 'post' }) => void} addMiddleware
 * @property {(app: { id: string, name: string, icon?: string, entrypoint: string }) => void} [addDevToolbarApp]
 * @property {Logger} logger
 */

/** The toolbar app's icon: three bars starting together. */
const TOOLBAR_ICON =
  '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 24 24" fill="none" stroke="currentColor" stroke-width="2" stroke-linecap="round"><path d="M4 4v16"/><path d="M8 7h9"/><path d="M8 12h12"/><path d="M8 17h6"/></svg>';

export { validateOptions };

/** The report's folder when `report: true`. */
export const DEFAULT_REPORT_DIR = 'astro-hoist-report';

/**
 * The astro-hoist integration: starts every nested component's loader in one parallel batch
 * per request.
 * @param {HoistOptions} [options]
 */
export default function hoist(options) {
  const validated = validateOptions(options);
  /** @type {ReturnType<typeof hoistVitePlugin> | null} */
  let plugins = null;
  /** @type {ReturnType<typeof import('./toolbar/server.js').toolbarServer> | null} the dev toolbar app's server side (dev only) */
  let toolbar = null;
  /** @type {import('./toolbar/server.js').ResolvedRoute[]} Astro's routes, for the toolbar */
  let astroRoutes = [];
  return {
    name: 'astro-hoist',
    /** The validated options (for `astro-hoist analyze`). */
    options: validated,
    hooks: {
      // What only some runs need is imported when they need it (the report, the dev toolbar, the
      // deferred parts' script): every build loads this module.
      /** @param {ConfigSetup} setup */
      'astro:config:setup': async ({ config, command, updateConfig, addMiddleware, addDevToolbarApp, logger }) => {
        const dev = command === 'dev';
        const root = fileURLToPath(config.root);
        const report = validated.report && command === 'build' ? path.resolve(root, validated.report === true ? DEFAULT_REPORT_DIR : validated.report) : null;
        plugins = hoistVitePlugin({
          root,
          options: {
            timeout: validated.timeout,
            concurrency: validated.concurrency,
            speculative: validated.speculative,
            serverTiming: resolveServerTiming(validated.serverTiming, dev),
            dev,
            cacheConfig: validated.cache !== undefined,
          },
          logger,
          onReport: report
            ? async (routes, project) => {
                const { analysisOf, buildHtmlReport, toJson } = await import('./report.js');
                const analysis = analysisOf({
                  root: project.root,
                  source: 'build',
                  routes,
                  diagnostics: project.diagnostics(),
                  cycles: project.cycles(),
                  options: { concurrency: validated.concurrency, speculative: validated.speculative ?? false, costs: false },
                });
                await mkdir(report, { recursive: true });
                await writeFile(path.join(report, 'report.json'), `${JSON.stringify(toJson(analysis), null, 2)}\n`);
                await writeFile(path.join(report, 'report.html'), buildHtmlReport(analysis, { title: `astro-hoist: ${path.basename(project.root)}` }));
                logger.info(`wrote the plan of ${routes.length} routes to ${path.relative(root, report) || '.'}/report.{json,html}`);
              }
            : undefined,
        });
        // The dev toolbar app: the page's loaders as a timeline (astro dev only, unless turned off).
        toolbar = null;
        if (dev && validated.toolbar !== false && config.devToolbar?.enabled !== false && addDevToolbarApp) {
          const { TOOLBAR_APP_ID, toolbarServer } = await import('./toolbar/server.js');
          const made = plugins;
          toolbar = toolbarServer({ root, base: config.base, planner: () => made[0].api, routes: () => astroRoutes });
          addDevToolbarApp({ id: TOOLBAR_APP_ID, name: 'astro-hoist loaders', icon: TOOLBAR_ICON, entrypoint: fileURLToPath(new URL('./toolbar/app.js', import.meta.url)) });
        }
        /** @type {unknown[]} */
        const vitePlugins = [...plugins];
        if (validated.cache) vitePlugins.push(cacheConfigPlugin(root, validated.cache));
        if (toolbar) vitePlugins.push(toolbar.plugin);
        updateConfig({ vite: { plugins: vitePlugins } });
        // The store must be configured before an endpoint invalidates it, even when no page with
        // a cached loader has rendered yet in this server: its module is the middleware's, which
        // also hands Astro's route cache (when configured) the loaders' tags.
        if (validated.cache) addMiddleware({ entrypoint: CACHE_CONFIG_ID, order: 'pre' });
        else if (/** @type {{ cache?: unknown }} */ (config).cache) addMiddleware({ entrypoint: 'astro-hoist/cache-middleware', order: 'pre' });
        // The middleware only ends renders early (unread speculative loaders) and writes
        // Server-Timing; without either, a production build gets none, so its module graph and
        // chunks stay exactly plain Astro's. Loaders still end with their render: by the
        // client's disconnect, their timeout, or their own end.
        // 'pre': it must wrap every other middleware's renders.
        if (validated.speculative || resolveServerTiming(validated.serverTiming, dev)) {
          addMiddleware({ entrypoint: 'astro-hoist/middleware', order: 'pre' });
        }
        // <Defer>: its middleware streams the deferred parts after the page. It wraps every HTML
        // response (a Defer renders after the response's head has left), so only a project that
        // uses Defer gets it. 'post': inside the middleware that ends renders with the body.
        const srcDir = config.srcDir ? fileURLToPath(config.srcDir) : path.join(root, 'src');
        if (usesDefer(srcDir)) {
          addMiddleware({ entrypoint: 'astro-hoist/defer-middleware', order: 'post' });
          const { SWAP_SCRIPT_HASH } = await import('./defer.js');
          allowSwapScript(config, updateConfig, SWAP_SCRIPT_HASH);
        }
      },
      /**
       * Every route Astro serves (pages, injected routes, Markdown pages), resolved before Vite
       * starts: the routes the report plans, and their islands.
       * @param {{ routes: AstroRoute[] }} event
       */
      'astro:routes:resolved': ({ routes }) => {
        astroRoutes = routes;
        plugins?.[0].api.setRoutes(routes);
      },
      /**
       * astro dev: the toolbar app's channel and the loader timings it shows.
       * @param {{ server: import('./toolbar/server.js').DevServer, toolbar: import('./toolbar/server.js').ToolbarHelpers }} setup
       */
      'astro:server:setup': async ({ server, toolbar: helpers }) => {
        if (toolbar && helpers) await toolbar.setup({ server, toolbar: helpers });
      },
      'astro:server:done': () => {
        toolbar?.done();
      },
    },
  };
}

/** Source files that may import `astro-hoist/Defer.astro`. */
const SOURCE = /\.(astro|mdx|md|[cm]?[jt]sx?)$/;

/**
 * Whether a source file under `dir` imports astro-hoist's `<Defer>`. Read once per `astro:config:setup`,
 * stopping at the first one; folders such as node_modules are skipped.
 * @param {string} dir
 * @returns {boolean}
 */
export function usesDefer(dir) {
  /** @type {string[]} */
  const stack = [dir];
  while (stack.length > 0) {
    const current = /** @type {string} */ (stack.pop());
    let entries;
    try {
      entries = readdirSync(current, { withFileTypes: true });
    } catch {
      continue;
    }
    for (const entry of entries) {
      if (entry.name.startsWith('.') || entry.name === 'node_modules') continue;
      const file = path.join(current, entry.name);
      if (entry.isDirectory()) stack.push(file);
      else if (SOURCE.test(entry.name)) {
        try {
          if (readFileSync(file, 'utf8').includes('astro-hoist/Defer')) return true;
        } catch {
          // Unreadable: Astro will say so.
        }
      }
    }
  }
  return false;
}

/**
 * With Astro's content security policy on (`security.csp`, or `experimental.csp` in Astro 5), the
 * policy must allow the swap script: its hash goes into the policy's script hashes.
 * @param {ConfigSetup['config']} config
 * @param {ConfigSetup['updateConfig']} updateConfig
 * @param {string} hash the swap script's
 */
function allowSwapScript(config, updateConfig, hash) {
  for (const where of /** @type {const} */ (['security', 'experimental'])) {
    const csp = config[where]?.csp;
    if (!csp) continue;
    // Astro merges this into the user's policy (arrays concatenate). `true` is replaced by this
    // object, which then needs the algorithm `true` stands for (Astro's default, SHA-256).
    updateConfig({ [where]: { csp: { ...(csp === true ? { algorithm: 'SHA-256' } : {}), scriptDirective: { hashes: [hash] } } } });
  }
}

// The Astro integration: validates options, adds the Vite plugins and the request middleware,
// tells the plugin the routes Astro serves, and writes the build's report when asked.

import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { CACHE_CONFIG_ID, cacheConfigPlugin } from './vite-plugin/cache-config.js';
import { hoistVitePlugin } from './vite-plugin/index.js';
import { resolveServerTiming, validateOptions } from './options.js';
import { analysisOf, buildHtmlReport, toJson } from './report.js';

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
 * @property {{ root: URL }} config
 * @property {'dev' | 'build' | 'preview' | 'sync'} [command]
 * @property {(config: { vite: { plugins: unknown[] } }) => unknown} updateConfig
 * @property {(middleware: { entrypoint: string, order: 'pre' | 'post' }) => void} addMiddleware
 * @property {Logger} logger
 */

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
  return {
    name: 'astro-hoist',
    /** The validated options (for `astro-hoist analyze`). */
    options: validated,
    hooks: {
      /** @param {ConfigSetup} setup */
      'astro:config:setup': ({ config, command, updateConfig, addMiddleware, logger }) => {
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
        updateConfig({ vite: { plugins: validated.cache ? [...plugins, cacheConfigPlugin(root, validated.cache)] : [...plugins] } });
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
      },
      /**
       * Every route Astro serves (pages, injected routes, Markdown pages), resolved before Vite
       * starts: the routes the report plans, and their islands.
       * @param {{ routes: AstroRoute[] }} event
       */
      'astro:routes:resolved': ({ routes }) => {
        plugins?.[0].api.setRoutes(routes);
      },
    },
  };
}

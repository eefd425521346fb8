// The Astro integration: validates options, adds the Vite plugins and the request middleware.

import { fileURLToPath } from 'node:url';
import { hoistVitePlugin } from './vite-plugin/index.js';
import { resolveServerTiming, validateOptions } from './options.js';

export { analyzeComponent, analyzeComponentSync, analyzeComponents } from '../index.js';

/**
 * @typedef {import('./options.js').HoistOptions} HoistOptions
 */

/**
 * The parts of Astro's `astro:config:setup` hook this integration uses (typed locally so the
 * package checks without `astro` installed; integration.d.ts gives users Astro's real types).
 * @typedef {object} ConfigSetup
 * @property {{ root: URL, srcDir: URL }} config
 * @property {'dev' | 'build' | 'preview' | 'sync'} [command]
 * @property {(config: { vite: { plugins: unknown[] } }) => unknown} updateConfig
 * @property {(middleware: { entrypoint: string, order: 'pre' | 'post' }) => void} addMiddleware
 * @property {import('./vite-plugin/log.js').Logger} logger
 */

export { validateOptions };

/**
 * The astro-hoist integration: starts every nested component's loader in one parallel batch
 * per request.
 * @param {HoistOptions} [options]
 */
export default function hoist(options) {
  const validated = validateOptions(options);
  return {
    name: 'astro-hoist',
    hooks: {
      /** @param {ConfigSetup} setup */
      'astro:config:setup': ({ config, command, updateConfig, addMiddleware, logger }) => {
        const dev = command === 'dev';
        updateConfig({
          vite: {
            plugins: [
              hoistVitePlugin({
                root: fileURLToPath(config.root),
                srcDir: fileURLToPath(config.srcDir),
                options: {
                  timeout: validated.timeout,
                  concurrency: validated.concurrency,
                  speculative: validated.speculative,
                  serverTiming: resolveServerTiming(validated.serverTiming, dev),
                  dev,
                },
                logger,
              }),
            ],
          },
        });
        // The middleware only ends renders early (unread speculative loaders) and writes
        // Server-Timing; without either, a production build gets none, so its module graph and
        // chunks stay exactly plain Astro's. Loaders still end with their render: by the
        // client's disconnect, their timeout, or their own end.
        // 'pre': it must wrap every other middleware's renders.
        if (validated.speculative || resolveServerTiming(validated.serverTiming, dev)) {
          addMiddleware({ entrypoint: 'astro-hoist/middleware', order: 'pre' });
        }
      },
    },
  };
}

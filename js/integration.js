// The Astro integration: validates options, adds the Vite plugin and the request middleware.

import { fileURLToPath } from 'node:url';
import { hoistVitePlugin } from './vite-plugin.js';

export { analyzeComponent, analyzeComponentSync, analyzeComponents } from '../index.js';

/**
 * @typedef {import('./codegen.js').BatchOptions} HoistOptions
 */

/**
 * The parts of Astro's `astro:config:setup` hook this integration uses (typed locally so the
 * package checks without `astro` installed; integration.d.ts gives users Astro's real types).
 * @typedef {object} ConfigSetup
 * @property {{ root: URL, srcDir: URL }} config
 * @property {(config: { vite: { plugins: unknown[] } }) => unknown} updateConfig
 * @property {(middleware: { entrypoint: string, order: 'pre' | 'post' }) => void} addMiddleware
 * @property {import('./vite-plugin.js').Logger} logger
 */

/** @type {Record<keyof HoistOptions, string>} */
const OPTION_DOCS = {
  timeout: 'positive number of milliseconds after which a loader is aborted',
  concurrency: 'positive integer, how many loaders of one request may run at once',
  speculative: 'boolean, also start loaders of conditionally rendered components early',
  serverTiming: 'boolean, add a Server-Timing header with each loader’s duration',
};

/**
 * Check user options; throws an Error naming the option and what is expected.
 * @param {unknown} options
 * @returns {HoistOptions}
 */
export function validateOptions(options) {
  if (options === undefined) return {};
  if (options === null || typeof options !== 'object' || Array.isArray(options)) {
    throw new Error(`astro-hoist: options must be an object, got ${describe(options)}.`);
  }
  const valid = Object.keys(OPTION_DOCS);
  const record = /** @type {Record<string, unknown>} */ (options);
  for (const key of Object.keys(record)) {
    if (!valid.includes(key)) {
      const list = valid.map((name) => `  ${name}: ${OPTION_DOCS[/** @type {keyof HoistOptions} */ (name)]}`).join('\n');
      throw new Error(`astro-hoist: unknown option '${key}'. Valid options are:\n${list}`);
    }
  }
  const { timeout, concurrency, speculative, serverTiming } = record;
  if (timeout !== undefined && !(typeof timeout === 'number' && Number.isFinite(timeout) && timeout > 0)) {
    throw new Error(`astro-hoist: 'timeout' must be a positive number of milliseconds, got ${describe(timeout)}.`);
  }
  if (concurrency !== undefined && !(typeof concurrency === 'number' && Number.isInteger(concurrency) && concurrency > 0)) {
    throw new Error(`astro-hoist: 'concurrency' must be a positive integer, got ${describe(concurrency)}.`);
  }
  if (speculative !== undefined && typeof speculative !== 'boolean') {
    throw new Error(`astro-hoist: 'speculative' must be true or false, got ${describe(speculative)}.`);
  }
  if (serverTiming !== undefined && typeof serverTiming !== 'boolean') {
    throw new Error(`astro-hoist: 'serverTiming' must be true or false, got ${describe(serverTiming)}.`);
  }
  /** @type {HoistOptions} */
  const result = {};
  if (timeout !== undefined) result.timeout = /** @type {number} */ (timeout);
  if (concurrency !== undefined) result.concurrency = /** @type {number} */ (concurrency);
  if (speculative !== undefined) result.speculative = /** @type {boolean} */ (speculative);
  if (serverTiming !== undefined) result.serverTiming = /** @type {boolean} */ (serverTiming);
  return result;
}

/** @param {unknown} value */
function describe(value) {
  if (typeof value === 'string') return JSON.stringify(value);
  if (Array.isArray(value)) return 'an array';
  if (value === null) return 'null';
  if (typeof value === 'object') return 'an object';
  return String(value);
}

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
      'astro:config:setup': ({ config, updateConfig, addMiddleware, logger }) => {
        updateConfig({
          vite: {
            plugins: [
              hoistVitePlugin({
                root: fileURLToPath(config.root),
                srcDir: fileURLToPath(config.srcDir),
                options: validated,
                logger,
              }),
            ],
          },
        });
        // 'pre': the request state must exist before any other middleware renders a page.
        addMiddleware({ entrypoint: 'astro-hoist/middleware', order: 'pre' });
      },
    },
  };
}

import type { AstroIntegration } from 'astro';

export interface HoistOptions {
  /** Abort a loader after this many milliseconds (positive number). */
  timeout?: number;
  /** How many loaders of one render may run at once (positive integer). */
  concurrency?: number;
  /** Also start loaders of conditionally rendered components early; aborted if unused. Default false. */
  speculative?: boolean;
  /**
   * A `Server-Timing` header with each loader settled when the response head leaves (the head
   * never waits). Default `false`: the middleware that writes it costs each response's first
   * bytes about a millisecond in dev. `true`: named by component path in `astro dev`, by
   * component id in production (no file paths leave the server). `'paths'`: component paths
   * everywhere.
   */
  serverTiming?: boolean | 'paths';
  /**
   * `astro build` writes the plan of every route Astro serves (the plan each page's code was
   * built with) to this folder, relative to the project root, as `report.json` (the document
   * `astro-hoist analyze --json` prints) and `report.html` (waterfall charts). `true`:
   * `astro-hoist-report`. Default: no report.
   */
  report?: boolean | string;
  /**
   * In `astro dev`, a dev toolbar app ("astro-hoist loaders") that shows the page's last request:
   * each loader's planned wave beside its actual start and end, cached, deferred and failed runs,
   * and the loaders that could not be hoisted with the reason; a component's name opens it in
   * the editor. Default `true` (never in a build); `false` turns it off.
   */
  toolbar?: boolean;
}

/**
 * Check options the way `hoist()` does; throws an Error naming the bad option.
 */
export function validateOptions(options: unknown): HoistOptions;

/**
 * The astro-hoist integration: every nested component's `loader` starts in one parallel batch
 * per request instead of a render-time waterfall.
 *
 * ```js
 * // astro.config.mjs
 * import hoist from 'astro-hoist';
 * export default defineConfig({ integrations: [hoist({ timeout: 5000 })] });
 * ```
 */
export default function hoist(options?: HoistOptions): AstroIntegration;

export { analyzeComponent, analyzeComponentSync, analyzeComponents } from '../index.js';

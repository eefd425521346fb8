// The integration's options, defined once: the zod schema (from `astro/zod`, as Astro's own
// integrations validate) decides what is valid; the messages name the option and what it takes.

import { z } from 'astro/zod';

/** What each option takes, for error messages (and the schema's `describe`). */
const DOCS = {
  timeout: 'a positive number of milliseconds after which a loader is aborted',
  concurrency: 'a positive integer: how many loaders of one render may run at once',
  speculative: 'true or false: also start loaders of conditionally rendered components early',
  serverTiming: "true, false or 'paths': a Server-Timing header with each settled loader (default: false)",
  cache:
    "an object: where cached loader values live ({ storage: a module path whose default export is an unstorage Storage, or { driver: 'redis', options: {...} } }) and the in-memory store's bounds (maxEntries, maxBytes, maxEntryBytes), the store's time budget (timeout, retryAfter, in ms) and a key namespace (version)",
  report: "true or a folder (relative to the project root): astro build writes the plan of every route there, as report.json and report.html (true: 'astro-hoist-report')",
  toolbar: "true or false: in astro dev, a dev toolbar app with the page's loaders as a timeline (default: true)",
};

export const optionsSchema = z
  .object({
    timeout: z.number().positive().finite().optional().describe(DOCS.timeout),
    concurrency: z.number().int().positive().optional().describe(DOCS.concurrency),
    speculative: z.boolean().optional().describe(DOCS.speculative),
    serverTiming: z.union([z.boolean(), z.literal('paths')]).optional().describe(DOCS.serverTiming),
    report: z.union([z.boolean(), z.string().min(1)]).optional().describe(DOCS.report),
    toolbar: z.boolean().optional().describe(DOCS.toolbar),
    cache: z
      .object({
        storage: z
          .union([z.string().min(1), z.object({ driver: z.string().min(1), options: z.record(z.string(), z.unknown()).optional() }).strict()])
          .optional(),
        maxEntries: z.number().int().positive().optional(),
        maxBytes: z.number().int().positive().optional(),
        maxEntryBytes: z.number().int().positive().optional(),
        timeout: z.number().positive().finite().optional(),
        retryAfter: z.number().positive().finite().optional(),
        version: z.string().optional(),
      })
      .strict()
      .optional()
      .describe(DOCS.cache),
  })
  .strict();

/**
 * @typedef {object} HoistOptions
 * @property {number} [timeout]
 * @property {number} [concurrency]
 * @property {boolean} [speculative]
 * @property {boolean | 'paths'} [serverTiming]
 * @property {boolean | string} [report]
 * @property {CacheOptions} [cache]
 * @property {boolean} [toolbar]
 */

/**
 * @typedef {object} CacheOptions
 * @property {string | { driver: string, options?: Record<string, unknown> }} [storage]
 * @property {number} [maxEntries]
 * @property {number} [maxBytes]
 * @property {number} [maxEntryBytes]
 * @property {number} [timeout]
 * @property {number} [retryAfter]
 * @property {string} [version]
 */

/**
 * Check user options; throws an Error naming the option and what it takes.
 * @param {unknown} options
 * @returns {HoistOptions}
 */
export function validateOptions(options) {
  if (options === undefined) return {};
  if (options === null || typeof options !== 'object' || Array.isArray(options)) {
    throw new Error(`astro-hoist: options must be an object, got ${describe(options)}.`);
  }
  const storage = /** @type {{ cache?: { storage?: { getItem?: unknown } } }} */ (options).cache?.storage;
  if (storage && typeof storage === 'object' && typeof storage.getItem === 'function') {
    throw new Error(
      "astro-hoist: 'cache.storage' must be a module path or { driver, options }, not a Storage object: astro.config does not run in " +
        "the production server. Export the Storage from a module (e.g. src/hoist-cache.ts: `export default createStorage({ driver: redisDriver({ url: process.env.REDIS_URL }) })`) " +
        "and give its path: cache: { storage: './src/hoist-cache.ts' }.",
    );
  }
  const parsed = optionsSchema.safeParse(options);
  if (parsed.success) {
    /** @type {Record<string, unknown>} */
    const out = {};
    for (const [key, value] of Object.entries(parsed.data)) if (value !== undefined) out[key] = value;
    return /** @type {HoistOptions} */ (out);
  }
  const record = /** @type {Record<string, unknown>} */ (options);
  const issue = parsed.error.issues[0];
  const unknown = /** @type {{ keys?: string[] }} */ (issue).keys?.[0] ?? Object.keys(record).find((key) => !(key in DOCS));
  if (issue.code === 'unrecognized_keys' || unknown !== undefined) {
    const list = Object.entries(DOCS)
      .map(([name, doc]) => `  ${name}: ${doc}`)
      .join('\n');
    throw new Error(`astro-hoist: unknown option '${unknown}'. Valid options are:\n${list}`);
  }
  const key = /** @type {keyof typeof DOCS} */ (String(issue.path[0]));
  const at = issue.path.length > 1 ? ` (at ${issue.path.join('.')}: ${issue.message})` : '';
  throw new Error(`astro-hoist: '${key}' must be ${DOCS[key]}, got ${describe(record[key])}${at}.`);
}

/**
 * What the generated code gets for `serverTiming`: component paths in dev (or when asked for
 * with 'paths'), opaque component ids in production when enabled, else none. Off unless asked
 * for, in dev too: the middleware that writes it costs each response's first bytes about a
 * millisecond in `astro dev` (BENCHMARKS.md, section 6), and the default must cost none.
 * @param {HoistOptions['serverTiming']} option
 * @param {boolean} dev
 * @returns {'paths' | 'opaque' | false}
 */
export function resolveServerTiming(option, dev) {
  if (option === false) return false;
  if (option === 'paths') return 'paths';
  if (option === true) return dev ? 'paths' : 'opaque';
  return false;
}

/** @param {unknown} value */
function describe(value) {
  if (typeof value === 'string') return JSON.stringify(value);
  if (Array.isArray(value)) return 'an array';
  if (value === null) return 'null';
  if (typeof value === 'object') return 'an object';
  return String(value);
}

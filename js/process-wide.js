// A value shared by every copy of astro-hoist's modules in one process (one bundled into the
// server, one from node_modules): kept on `globalThis` under a registered symbol.

/** The process-wide name of the runtime's `__startBatch`, which generated code calls by it. */
export const START_BATCH = 'startBatch';

/**
 * The registered symbol's description for `name`: what generated code passes to `Symbol.for` to
 * reach a process-wide value without importing the module that made it.
 * @param {string} name
 * @returns {string}
 */
export function processWideKey(name) {
  return `astro-hoist.${name}`;
}

/**
 * @template T
 * @param {string} name
 * @param {() => T} create
 * @returns {T}
 */
export function processWide(name, create) {
  const key = Symbol.for(processWideKey(name));
  const global = /** @type {Record<symbol, T>} */ (/** @type {unknown} */ (globalThis));
  global[key] ??= create();
  return global[key];
}

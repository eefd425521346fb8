// A value shared by every copy of astro-hoist's modules in one process (one bundled into the
// server, one from node_modules): kept on `globalThis` under a registered symbol.

/**
 * @template T
 * @param {string} name
 * @param {() => T} create
 * @returns {T}
 */
export function processWide(name, create) {
  const key = Symbol.for(`astro-hoist.${name}`);
  const global = /** @type {Record<symbol, T>} */ (/** @type {unknown} */ (globalThis));
  global[key] ??= create();
  return global[key];
}

// A value shared by every copy of astro-hoist's modules in one process (one bundled into the
// server, one from node_modules): kept on `globalThis` under a registered symbol.

// The process-wide names of the runtime functions generated code calls by name rather than
// through an import: each import statement in a component is one more request for the dev
// server's module runner to resolve on every re-evaluation, and one more edge for the build.

/** The runtime's `__startBatch` (a batch's start in a frontmatter). */
export const START_BATCH = 'startBatch';
/** The runtime's `__registerLoader` (a component's hoistable loader, when its module is evaluated). */
export const REGISTER_LOADER = 'registerLoader';

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

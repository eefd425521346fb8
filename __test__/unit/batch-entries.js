// Reading back the batch a transformed component starts, for the unit tests: the plugin appends
// it after Astro's compile as `const $$hoistBatch = [...]` (keys, or objects for conditional
// entries and the component's own loader), and keys are the core's component ids.
import path from 'node:path';
import { analyzeComponentSync } from '../../index.js';

/**
 * @typedef {object} ParsedEntry
 * @property {string} key
 * @property {boolean} conditional
 * @property {boolean} own the component's own loader (its module's `loader` binding)
 * @property {string | undefined} component the path written in the entry (the own one only)
 */

/**
 * The entries of `$$hoistBatch` in what the plugin appends, in start order; null without a batch.
 * @param {string} append
 * @returns {ParsedEntry[] | null}
 */
export function batchEntries(append) {
  const match = /^const \$\$hoistBatch = (\[.*\]);$/m.exec(append);
  if (!match) return null;
  const OWN = () => {};
  /** @type {(string | { key: string, loader?: unknown, component?: string, conditional?: boolean })[]} */
  const list = new Function('loader', `return ${match[1]};`)(OWN);
  return list.map((e) =>
    typeof e === 'string'
      ? { key: e, conditional: false, own: false, component: undefined }
      : { key: e.key, conditional: e.conditional === true, own: e.loader === OWN, component: e.component },
  );
}

/**
 * The id the core gives the component at `rel` (it depends on the root-relative path only).
 * @param {string} root
 * @param {string} rel
 */
export function componentId(root, rel) {
  return analyzeComponentSync('', path.join(root, rel), { root }).id;
}

/**
 * A component's batch as `path` or `path?` (conditional) per entry, the keys mapped back to the
 * components of `candidates` (root-relative paths); an unknown key stays as it is.
 * @param {string} append
 * @param {string} root
 * @param {string[]} candidates
 * @returns {string[] | null}
 */
export function batchComponents(append, root, candidates) {
  const entries = batchEntries(append);
  if (!entries) return null;
  const byId = new Map(candidates.map((rel) => [componentId(root, rel), rel]));
  return entries.map((e) => `${byId.get(e.key) ?? e.key}${e.conditional ? '?' : ''}`);
}

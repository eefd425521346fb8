// Driving the native project walk with a bundler's own resolver: the core walks as far as it
// knows, returns its questions (resolve this specifier from that importer, load this virtual
// module), and this module answers them all at once with Vite — `this.resolve`/`this.load` in a
// hook, or an environment's plugin container in the CLI — until nothing is left to ask.

import { existsSync } from 'node:fs';
import path from 'node:path';

/**
 * @typedef {import('../../index.js').Project} Project
 * @typedef {import('../../index.js').Request} Request
 * @typedef {import('../../index.js').Answer} Answer
 */

/**
 * What answers the core's questions: Vite's resolver and module loading.
 * @typedef {object} Resolver
 * @property {(specifier: string, importer: string) => Promise<{ id: string, external?: boolean | string, meta?: Record<string, any> } | null>} resolve
 * @property {(id: string) => Promise<string | null>} load the source of a (virtual) module
 */

/** Rounds of questions after which a walk gives up (a chain of barrels this deep is a bug). */
const MAX_ROUNDS = 64;

/**
 * The module id a Vite resolution names, as the core keys modules: a file path without its
 * query, or a virtual module's id as it is.
 * @param {{ id: string, meta?: Record<string, any> }} resolved
 * @returns {string | null} null: nothing there (an alias Vite could not resolve)
 */
export function moduleId(resolved) {
  const { id } = resolved;
  if (id.startsWith('\0')) return id;
  const file = id.split('?')[0];
  if (!path.isAbsolute(file)) return id; // another plugin's virtual id without the \0 prefix
  // Vite hands back an alias's target even when no file is there (`vite:alias` noResolved).
  if (resolved.meta?.['vite:alias']?.noResolved && !existsSync(file)) return null;
  return file.split(path.sep).join('/');
}

/**
 * Answers one question.
 * @param {Resolver} resolver
 * @param {Request} request
 * @returns {Promise<Answer>}
 */
async function answer(resolver, request) {
  if (request.kind === 'load') {
    const id = /** @type {string} */ (request.id);
    try {
      const source = await resolver.load(id);
      return source === null ? { kind: 'load', id, error: 'no source' } : { kind: 'load', id, source };
    } catch (error) {
      return { kind: 'load', id, error: error instanceof Error ? error.message : String(error) };
    }
  }
  const specifier = /** @type {string} */ (request.specifier);
  const importer = /** @type {string} */ (request.importer);
  /** @type {Answer} */
  const base = { kind: 'resolve', specifier, importer };
  try {
    let resolved = await resolver.resolve(specifier, importer);
    if (!resolved && importer.endsWith('.astro') && !specifier.startsWith('.')) {
      // Vite 8 applies tsconfig `paths` per importer, by the tsconfig that includes it, and a
      // dev-mode resolver does not count an `.astro` file among TypeScript's files until its
      // dependency scan has run; Astro's build applies them to `.astro` files all the same. A
      // TypeScript file beside the component gets the answer the build gets.
      resolved = await resolver.resolve(specifier, `${importer}.ts`);
    }
    if (!resolved) return base;
    if (resolved.external) return { ...base, external: true };
    return { ...base, resolved: moduleId(resolved) ?? undefined };
  } catch {
    return base;
  }
}

/**
 * Walks from `roots` until the core has no question left (or a round brings nothing new).
 * @param {Project} project
 * @param {string[]} roots module ids
 * @param {Resolver} resolver
 * @param {(roots: string[]) => Promise<Request[]>} [walk] defaults to `project.walk`
 * @returns {Promise<number>} the rounds it took
 */
export async function settle(project, roots, resolver, walk = (r) => project.walk(r)) {
  /** @type {Set<string>} */
  const asked = new Set();
  let inFlight = answering.get(project);
  if (!inFlight) answering.set(project, (inFlight = new Map()));
  const shared = inFlight;
  for (let round = 1; round <= MAX_ROUNDS; round++) {
    const requests = (await walk(roots)).filter((r) => {
      const key = requestKey(r);
      if (asked.has(key)) return false;
      asked.add(key);
      return true;
    });
    if (requests.length === 0) return round;
    /** @type {string[]} */
    const mine = [];
    const answers = await Promise.all(
      requests.map((request) => {
        const key = requestKey(request);
        let pending = shared.get(key);
        if (!pending) {
          pending = answer(resolver, request);
          shared.set(key, pending);
          mine.push(key);
        }
        return pending;
      }),
    );
    project.answer(answers);
    // Recorded in the project now: no walk asks again (until the file is forgotten).
    for (const key of mine) shared.delete(key);
  }
  return MAX_ROUNDS;
}

/**
 * The questions being answered, per project: a bundler transforms many components at once, and
 * their walks meet the same shared components; each question goes to Vite once.
 * @type {WeakMap<Project, Map<string, Promise<Answer>>>}
 */
const answering = new WeakMap();

/** @param {Request} r */
function requestKey(r) {
  return r.kind === 'load' ? `load\0${r.id}` : `resolve\0${r.importer}\0${r.specifier}`;
}

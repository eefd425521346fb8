// Driving the native project walk with a bundler's own resolver: the core walks as far as it
// knows, returns its questions (resolve this specifier from that importer, load this virtual
// module), and this module answers them all at once with Vite — `this.resolve`/`this.load` in a
// hook, or an environment's plugin container in the CLI — until nothing is left to ask.

import { existsSync } from 'node:fs';
import path from 'node:path';
import { slash } from '../paths.js';

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
 * @property {readonly Alias[]} [aliases] the resolved config's `resolve.alias`, so that one
 *   aliased path imported from many folders is asked once
 */

/**
 * An entry of Vite's resolved `resolve.alias`.
 * @typedef {{ find: string | RegExp, replacement: string, customResolver?: unknown }} Alias
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
  return { kind: 'resolve', specifier, importer, ...(await resolveAnswer(resolver, specifier, importer)) };
}

/**
 * What Vite resolves `specifier` to from `importer`.
 * @param {Resolver} resolver
 * @param {string} specifier
 * @param {string} importer
 * @returns {Promise<{ resolved?: string, external?: true }>}
 */
async function resolveAnswer(resolver, specifier, importer) {
  try {
    let resolved = await resolver.resolve(specifier, importer);
    if (!resolved && importer.endsWith('.astro') && !specifier.startsWith('.')) {
      // Vite 8 applies tsconfig `paths` per importer, by the tsconfig that includes it, and a
      // dev-mode resolver does not count an `.astro` file among TypeScript's files until its
      // dependency scan has run; Astro's build applies them to `.astro` files all the same. A
      // TypeScript file beside the component gets the answer the build gets.
      resolved = await resolver.resolve(specifier, `${importer}.ts`);
    }
    if (!resolved) return {};
    if (resolved.external) return { external: true };
    const id = moduleId(resolved);
    return id === null ? {} : { resolved: id };
  } catch {
    return {};
  }
}

/**
 * The key under which a resolution is shared. Everything Vite's resolution reads of an importer
 * file (relative paths, the node_modules folders above it, the tsconfig that includes it, its
 * language) is the same for every such file in one folder, so a specifier is asked once per
 * folder and file type. A path (a relative specifier, or one an alias turns into an absolute
 * path) names the same file from every folder: it is asked once per file type. A virtual
 * importer shares with nothing.
 * @param {string} importer
 * @param {string} specifier
 * @param {readonly Alias[]} aliases
 */
export function scopeKey(importer, specifier, aliases) {
  if (!path.isAbsolute(importer)) return `${importer}\0${specifier}`;
  const type = path.extname(importer);
  const target = specifier.startsWith('./') || specifier.startsWith('../') ? path.resolve(path.dirname(importer), specifier) + (specifier.endsWith('/') ? '/' : '') : aliasedPath(aliases, specifier);
  if (target !== null) return `\0path\0${type}\0${target}`;
  return `${path.dirname(importer)}\0${type}\0${specifier}`;
}

/**
 * The absolute path an alias turns `specifier` into, matched and replaced as Vite's alias plugin
 * (@rollup/plugin-alias) does: the first entry whose `find` is the specifier, a folder of it, or
 * a RegExp that matches it. Null when no entry matches, the entry has a resolver of its own, or
 * the result is not an absolute path (a package name: resolved from each importer's folder).
 * @param {readonly Alias[]} aliases
 * @param {string} specifier
 * @returns {string | null}
 */
export function aliasedPath(aliases, specifier) {
  for (const entry of aliases) {
    const { find, replacement } = entry;
    const matches = find instanceof RegExp ? find.test(specifier) : specifier === find || specifier.startsWith(`${find}/`);
    if (!matches) continue;
    if (entry.customResolver) return null;
    const target = specifier.replace(find, replacement);
    return path.isAbsolute(target) ? target : null;
  }
  return null;
}

/**
 * Lets the core resolve, without a round trip through Vite, the imports whose file is certain (a
 * relative path, or one an alias turns into a path in the root, naming an existing file with its
 * extension; `resolveExactFiles` in the binding): a page's walk then reads its whole tree in one
 * call instead of one resolver round per level. Aliases go in Vite's order, so one that matches
 * first still decides; with `preserveSymlinks` the core's answers (real paths) would not be
 * Vite's, so everything is asked.
 * @param {Project} project
 * @param {readonly Alias[]} aliases the resolved config's `resolve.alias`
 * @param {boolean} [preserveSymlinks]
 * @returns {boolean} whether the core resolves them
 */
export function resolveExactFiles(project, aliases, preserveSymlinks = false) {
  if (typeof project.resolveExactFiles !== 'function') return false;
  // Off, not just left alone: an earlier config may have turned it on.
  if (preserveSymlinks) return project.resolveExactFiles(null);
  return project.resolveExactFiles(
    aliases.map(({ find, replacement, customResolver }) => {
      const target = typeof replacement === 'string' && !customResolver && path.isAbsolute(replacement) ? slash(replacement) : undefined;
      return find instanceof RegExp ? { find: find.source, pattern: true, flags: find.flags } : { find: String(find), replacement: target };
    }),
  );
}

/**
 * Walks from `roots` until the core has no question left (or a round brings nothing new).
 * Concurrent walks (a bundler transforms many components at once, and their trees overlap) each
 * answer only the questions no other walk is answering: the others wait for those answers to
 * land in the project.
 * @param {Project} project
 * @param {string[]} roots module ids
 * @param {Resolver} resolver
 * @param {(roots: string[]) => Promise<Request[]>} [walk] defaults to `project.walk`
 * @returns {Promise<number>} the rounds it took
 */
export async function settle(project, roots, resolver, walk = (r) => project.walk(r)) {
  /** @type {Set<string>} the questions this walk answered */
  const asked = new Set();
  const shared = perProject(resolutions, project);
  const answering = perProject(inFlight, project);
  for (let round = 1; round <= MAX_ROUNDS; round++) {
    /** @type {Request[]} */
    const mine = [];
    /** @type {string[]} their keys */
    const keys = [];
    /** @type {Promise<void>[]} */
    const others = [];
    for (const request of await walk(roots)) {
      const key = requestKey(request);
      const landing = answering.get(key);
      if (landing) others.push(landing);
      else if (!asked.has(key)) {
        asked.add(key);
        mine.push(request);
        keys.push(key);
      }
    }
    if (mine.length === 0 && others.length === 0) return round;
    /** @type {() => void} */
    let landed = () => {};
    const landing = new Promise((resolve) => {
      landed = () => resolve(undefined);
    });
    for (const key of keys) answering.set(key, landing);
    try {
      const answers = await Promise.all(mine.map((request) => (request.kind === 'resolve' ? sharedResolve(shared, resolver, request) : answer(resolver, request))));
      if (answers.length > 0) project.answer(answers);
    } finally {
      // Recorded in the project now: no walk asks again (until the module is forgotten).
      for (const key of keys) if (answering.get(key) === landing) answering.delete(key);
      landed();
    }
    await Promise.all(others);
  }
  return MAX_ROUNDS;
}

/**
 * The answer to a resolve request, shared as `scopeKey` says.
 * @param {Map<string, Promise<{ resolved?: string, external?: true }>>} shared
 * @param {Resolver} resolver
 * @param {Request} request
 * @returns {Promise<Answer>}
 */
async function sharedResolve(shared, resolver, request) {
  const specifier = /** @type {string} */ (request.specifier);
  const importer = /** @type {string} */ (request.importer);
  const key = scopeKey(importer, specifier, resolver.aliases ?? []);
  let known = shared.get(key);
  if (!known) {
    known = resolveAnswer(resolver, specifier, importer);
    shared.set(key, known);
  }
  return { kind: 'resolve', specifier, importer, ...(await known) };
}

/**
 * @template V
 * @param {WeakMap<Project, Map<string, V>>} maps
 * @param {Project} project
 * @returns {Map<string, V>}
 */
function perProject(maps, project) {
  let map = maps.get(project);
  if (!map) maps.set(project, (map = new Map()));
  return map;
}

/**
 * Vite's resolutions, per project, shared by every walk (a bundler transforms many components at
 * once, and their walks meet the same components) until a file is created, deleted or changed
 * (`forgetResolutions`).
 * @type {WeakMap<Project, Map<string, Promise<{ resolved?: string, external?: true }>>>}
 */
const resolutions = new WeakMap();

/**
 * The questions some walk is answering, per project: the promise that settles once its answers
 * are in the project.
 * @type {WeakMap<Project, Map<string, Promise<void>>>}
 */
const inFlight = new WeakMap();

/**
 * Drops the shared resolutions of `project`: a file was created, deleted or changed, which may
 * change what a specifier resolves to.
 * @param {Project} project
 */
export function forgetResolutions(project) {
  resolutions.get(project)?.clear();
}

/** @param {Request} r */
function requestKey(r) {
  return r.kind === 'load' ? `load\0${r.id}` : `resolve\0${r.importer}\0${r.specifier}`;
}

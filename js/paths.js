// Paths and module ids: how files are named in generated code, in component ids and in Vite.

import path from 'node:path';

const ASTRO_ID = /\.astro$/;

/**
 * Normalize a path to forward slashes (Vite ids use them on every platform).
 * @param {string} file
 */
export function slash(file) {
  return path.sep === '\\' ? file.replaceAll('\\', '/') : file;
}

/**
 * Root-relative posix path of `file` (the form the core hashes into the component id).
 * @param {string} root
 * @param {string} file
 * @returns {string}
 */
export function toComponentPath(root, file) {
  // Split on the platform separator only: on posix a backslash is a legal file-name character.
  return path.relative(root, file).split(path.sep).join('/');
}

/**
 * Whether a module id is a plain `.astro` component (no query such as `?astro&type=style`,
 * not virtual).
 * @param {string} id
 */
export function isAstroComponentId(id) {
  return !id.startsWith('\0') && !id.includes('?') && ASTRO_ID.test(id);
}

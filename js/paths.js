// Paths and module ids: how files are named in generated code, in component ids and in Vite.

import path from 'node:path';

/** What a component's loader module id adds to the component's path (see codegen.js). */
export const LOADER_MODULE_SUFFIX = '.hoist-loader.ts';

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
 * Relative posix import specifier from `importer`'s directory to `target`, always starting with
 * `./` (e.g. `./../components/Child.astro`), so it is never taken for a package name and no
 * absolute path ends up in generated code.
 * @param {string} importer absolute path of the importing file
 * @param {string} target absolute path of the imported file
 * @returns {string}
 */
export function relativeSpecifier(importer, target) {
  const relative = path.relative(path.dirname(importer), target).split(path.sep).join('/');
  return `./${relative}`;
}

/**
 * Whether an `.astro` module id is a page: under `<srcDir>/pages/` and not excluded from
 * routing by a `_`-prefixed file or folder name.
 * @param {string} id
 * @param {string} srcDir
 * @returns {boolean}
 */
export function isPage(id, srcDir) {
  const pagesDir = `${slash(srcDir).replace(/\/+$/, '')}/pages/`;
  const file = slash(id);
  if (!file.startsWith(pagesDir)) return false;
  return !file
    .slice(pagesDir.length)
    .split('/')
    .some((segment) => segment.startsWith('_'));
}

/**
 * Whether a module id is a plain `.astro` component (no query such as `?astro&type=style`,
 * not virtual).
 * @param {string} id
 */
export function isAstroComponentId(id) {
  return !id.startsWith('\0') && !id.includes('?') && ASTRO_ID.test(id);
}

/**
 * The id of a component's loader module: the component's path plus `.hoist-loader.ts`. It ends
 * in `.ts` so Vite strips its types, and not in `.astro` (or `.astro?…`) so Astro's own plugin
 * leaves it alone; it lives next to the component, so its relative imports resolve as the
 * component's do. No such file exists: the plugin resolves and loads it.
 * @param {string} component absolute path of the `.astro` file
 */
export function loaderModuleId(component) {
  return `${component}${LOADER_MODULE_SUFFIX}`;
}

/**
 * The component a loader module id belongs to, or null for any other id.
 * @param {string} id
 * @returns {string | null}
 */
export function componentOfLoaderModule(id) {
  const file = id.split('?')[0];
  if (!file.endsWith(`.astro${LOADER_MODULE_SUFFIX}`) || file.startsWith('\0')) return null;
  return file.slice(0, -LOADER_MODULE_SUFFIX.length);
}

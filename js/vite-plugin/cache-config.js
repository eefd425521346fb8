// The generated module that configures the loader cache in the server: astro.config does not run
// in a production server, so the `cache` options travel as code. A store given as a module path
// is imported there (and read at run time: `process.env.REDIS_URL` is the server's); a store given
// as `{ driver, options }` (as Astro's `session` option) is created from unstorage's driver with
// the options serialized at build time.

import path from 'node:path';

export const CACHE_CONFIG_ID = 'virtual:astro-hoist/cache-config';
const RESOLVED = `\0${CACHE_CONFIG_ID}`;

/**
 * @typedef {import('../options.js').CacheOptions} CacheOptions
 */

/**
 * The source of the generated module.
 * @param {string} root project root
 * @param {CacheOptions} cache
 * @returns {string}
 */
export function cacheConfigModule(root, cache) {
  const { storage, ...limits } = cache;
  const lines = [`import { configureLoaderCache } from 'astro-hoist/cache';`];
  let store = 'undefined';
  if (typeof storage === 'string') {
    const specifier = storage.startsWith('.') || path.isAbsolute(storage) ? path.resolve(root, storage).split(path.sep).join('/') : storage;
    lines.push(`import * as storageModule from ${JSON.stringify(specifier)};`);
    lines.push(
      `const exported = storageModule.default ?? storageModule.storage;`,
      // A module may export the Storage, or a function that makes it (called once).
      `const storage = typeof exported === 'function' ? await exported() : exported;`,
    );
    store = 'storage';
  } else if (storage) {
    const driver = /^[a-z0-9-]+$/.test(storage.driver) ? `unstorage/drivers/${storage.driver}` : storage.driver;
    lines.push(`import { createStorage } from 'unstorage';`, `import driver from ${JSON.stringify(driver)};`);
    lines.push(`const storage = createStorage({ driver: driver(${JSON.stringify(storage.options ?? {})}) });`);
    store = 'storage';
  }
  lines.push(`configureLoaderCache({ ...${JSON.stringify(limits)}, storage: ${store} });`);
  // Also the middleware entrypoint (see the integration): the store is configured before any
  // request, and Astro's route cache gets the loaders' tags.
  lines.push(`export { onRequest } from 'astro-hoist/cache-middleware';`);
  return `${lines.join('\n')}\n`;
}

/**
 * The Vite plugin serving the generated module.
 * @param {string} root
 * @param {CacheOptions} cache
 */
export function cacheConfigPlugin(root, cache) {
  return {
    name: 'astro-hoist:cache-config',
    // Hook filters: a bundler that honours them (Rolldown) calls into JS only for this module,
    // not for every import of the build; the handlers check again for one that does not.
    resolveId: {
      filter: { id: /^virtual:astro-hoist\/cache-config$/ },
      /** @param {string} id */
      handler(id) {
        return id === CACHE_CONFIG_ID ? RESOLVED : null;
      },
    },
    load: {
      filter: { id: /^\0virtual:astro-hoist\/cache-config$/ },
      /** @param {string} id */
      handler(id) {
        return id === RESOLVED ? cacheConfigModule(root, cache) : null;
      },
    },
  };
}

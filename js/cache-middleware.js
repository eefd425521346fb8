// astro-hoist/cache-middleware: gives Astro 7's route cache the loaders' tags.
//
// With Astro's route cache on (`cache` in astro.config) a cached route's entry is invalidated by
// tag. A page's data comes from its loaders, so its entry must carry their tags (and live no
// longer than the shortest-lived cached loader): `invalidateLoaderCache({ tags })` then drops the
// routes that showed the value too. The tags are known once every loader of the render has run,
// so a route that will be cached is rendered to its end before its head leaves (Astro's memory
// provider reads the whole body before answering anyway); any other response passes untouched.

import { __withRequestContext } from './cache.js';
import { copyRegisteredSymbols } from './middleware.js';
import { __routeCacheHints, RequestScope } from './runtime.js';

/**
 * @typedef {{ enabled?: boolean, options?: { maxAge?: number }, set?: (options: { tags?: string[], maxAge?: number }) => void, invalidate?: (options: { tags: string[] }) => Promise<void> }} RouteCache
 */

/**
 * Astro middleware (`onRequest`).
 * @param {{ request: Request, cache?: RouteCache }} context
 * @param {() => Promise<Response>} next
 * @returns {Promise<Response>}
 */
export async function onRequest(context, next) {
  const cache = context?.cache;
  // No route cache (Astro 5, not configured, or dev, where it is a no-op): nothing to add.
  if (!cache?.enabled || typeof cache.set !== 'function') return next();
  const scope = new RequestScope(context.request, RequestScope.current());
  /** @type {Response} */
  let response;
  try {
    response = await __withRequestContext(context, () => scope.run(next));
  } catch (error) {
    scope.end(error);
    throw error;
  }
  const routeMaxAge = cache.options?.maxAge ?? 0;
  if (!(routeMaxAge > 0) || !response.body || response.bodyUsed) {
    scope.ended = true;
    return response;
  }
  try {
    const body = await response.arrayBuffer();
    const hints = __routeCacheHints(scope);
    /** @type {{ tags?: string[], maxAge?: number }} */
    const update = {};
    if (hints.tags.length > 0) update.tags = hints.tags;
    if (hints.maxAge < routeMaxAge) update.maxAge = Math.max(0, Math.floor(hints.maxAge));
    if (update.tags || update.maxAge !== undefined) cache.set(update);
    const out = new Response(body, { status: response.status, statusText: response.statusText, headers: response.headers });
    copyRegisteredSymbols(response, out);
    return out;
  } finally {
    scope.end();
  }
}

// astro-hoist/cache: the cross-request loader cache.
//
// A loader declared `defineLoader(fn, { cache: { maxAge, staleWhileRevalidate, tags, key } })`
// is called through `cachedCall` here. Its entry is keyed by the component's stable id plus the
// values of the context fields the analysis says the loader reads (params, props, url), or by its
// explicit `key`. Entries live in a bounded in-memory LRU (the default) or in an unstorage
// `Storage` shared by every server (Redis...). Values are serialized with devalue, as Astro
// serializes props, so a hit is a fresh copy: a render that mutates its data changes nobody else's.
//
// Tags: every tag has a token in the store (`…:tag:<tag>`); an entry records the tokens of its
// tags when it is written, and a read whose tokens differ now is a miss. Invalidating a tag is one
// write of a new token, which every server sees on its next read: no index of keys per tag that
// concurrent writers could corrupt, and no clock shared between servers.
//
// Faults never fail a request: a store that throws, answers past its time budget or returns
// something that is not an entry makes the loader run uncached, with one warning per minute; after
// a fault the shared store is left alone for a moment, so a store that is down costs each request
// nothing more than a plain call.

import { AsyncLocalStorage } from 'node:async_hooks';
import { createHash, randomUUID } from 'node:crypto';
import { parse, stringify } from 'devalue';
import { LRUCache } from 'lru-cache';
import { processWide } from './process-wide.js';

/**
 * @typedef {import('./cache.js').LoaderCacheOptions} LoaderCacheOptions
 * @typedef {import('./cache.js').CacheConfig} CacheConfig
 * @typedef {import('./cache.js').CacheState} CacheState
 * @typedef {import('./runtime.js').LoaderContext} LoaderContext
 */

/**
 * What the store holds for one loader value.
 * @typedef {object} Entry
 * @property {string} v the value, devalue-serialized
 * @property {number} t when it was written (ms since the epoch, the writing server's clock)
 * @property {number} m maxAge (s)
 * @property {number} s staleWhileRevalidate (s)
 * @property {Record<string, string>} g the token of each of its tags when it was written
 */

/**
 * The loader options a cached loader carries (see `defineLoader`).
 * @typedef {object} CacheSpec
 * @property {number} maxAge seconds
 * @property {number} staleWhileRevalidate seconds
 * @property {((value: any) => unknown) | undefined} tags
 * @property {((context: LoaderContext) => unknown) | undefined} key
 */

const PREFIX = '[astro-hoist]';
const NAMESPACE = 'astro-hoist';
/** What a cached loader's function carries: its cache options. */
export const CACHE = Symbol.for('astro-hoist.cache');
/** A loader's static facts, given by the generated code: its component id and the context fields it reads. */
const INFO = Symbol.for('astro-hoist.cacheInfo');

const DEFAULTS = Object.freeze({
  maxEntries: 1000,
  maxBytes: 64 * 1024 * 1024,
  maxEntryBytes: 1024 * 1024,
  timeout: 50,
  retryAfter: 5000,
  version: '',
});

/**
 * @typedef {object} Settings
 * @property {import('unstorage').Storage | undefined} storage
 * @property {LRUCache<string, Entry>} memory the default store
 * @property {Map<string, string>} tagTokens the default store's tag tokens
 * @property {number} maxEntryBytes
 * @property {number} timeout
 * @property {number} retryAfter
 * @property {string} version
 * @property {number} downUntil Date.now() until which the shared store is skipped after a fault
 * @property {Map<string, ((value: unknown) => void)[]> | null} pending shared-store reads of this turn, not yet sent
 */

/** @type {{ current: Settings }} */
const settings = processWide('cache.settings', () => ({ current: createSettings({}) }));
/** Concurrent misses of one key in this process share one call. @type {Map<string, Promise<{ value: unknown, written: Promise<void> }>>} */
const inflight = processWide('cache.inflight', () => new Map());
/** Keys whose stale entry is being refreshed by this process. @type {Set<string>} */
const refreshing = processWide('cache.refreshing', () => new Set());
/** Keys this process refreshed lately: when the refresh's write landed (Date.now()). @type {Map<string, number>} */
const refreshed = processWide('cache.refreshed', () => new Map());
/** The Astro context of the request being handled (set by the cache middleware). @type {AsyncLocalStorage<RouteContext>} */
const requests = processWide('cache.requests', () => new AsyncLocalStorage());
/** When each kind of warning was last printed. @type {Map<string, number>} */
const warned = processWide('cache.warned', () => new Map());

/**
 * @param {CacheConfig} config
 * @returns {Settings}
 */
function createSettings(config) {
  const maxEntries = positive(config.maxEntries, DEFAULTS.maxEntries, 'maxEntries');
  const maxBytes = positive(config.maxBytes, DEFAULTS.maxBytes, 'maxBytes');
  const storage = config.storage;
  if (storage !== undefined && (storage === null || typeof storage !== 'object' || typeof storage.getItem !== 'function' || typeof storage.setItem !== 'function')) {
    throw new TypeError(`${PREFIX} cache.storage must be an unstorage Storage (createStorage({ driver })), got ${describe(storage)}`);
  }
  return {
    storage,
    memory: new LRUCache({
      max: maxEntries,
      maxSize: maxBytes,
      // Strings are UTF-16 in memory: two bytes per code unit; the entry's value and its key.
      sizeCalculation: (entry, key) => Math.max(1, (entry.v.length + key.length) * 2 + 64),
    }),
    tagTokens: new Map(),
    maxEntryBytes: positive(config.maxEntryBytes, DEFAULTS.maxEntryBytes, 'maxEntryBytes'),
    timeout: positive(config.timeout, DEFAULTS.timeout, 'timeout'),
    retryAfter: positive(config.retryAfter, DEFAULTS.retryAfter, 'retryAfter'),
    version: typeof config.version === 'string' ? config.version : DEFAULTS.version,
    downUntil: 0,
    pending: null,
  };
}

/**
 * @param {unknown} value
 * @param {number} fallback
 * @param {string} name
 */
function positive(value, fallback, name) {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !(value > 0)) throw new TypeError(`${PREFIX} cache.${name} must be a positive number, got ${describe(value)}`);
  return value;
}

/** @param {unknown} value */
function describe(value) {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return typeof value === 'string' ? JSON.stringify(value) : typeof value;
}

/**
 * Sets where cached loader values live, for this process. The integration calls it with its
 * `cache` options (in the server, through a generated module); call it yourself only without the
 * integration. Replacing the store drops the in-memory entries.
 * @param {CacheConfig} [config]
 */
export function configureLoaderCache(config = {}) {
  settings.current = createSettings(config);
  inflight.clear();
  refreshing.clear();
  refreshed.clear();
}

/**
 * The part of Astro's context the cache uses: Astro 7's route cache (`context.cache`).
 * @typedef {{ cache?: { enabled?: boolean, invalidate?: (options: { tags: string[] }) => Promise<void> } }} RouteContext
 */

/**
 * Runs `fn` with `context` as the request's context (the cache middleware does it for every
 * request when Astro's route cache is on), so `invalidateLoaderCache` can drop routes too.
 * @template T
 * @param {RouteContext} context
 * @param {() => T} fn
 * @returns {T}
 */
export function __withRequestContext(context, fn) {
  return requests.run(context, fn);
}

/**
 * Drops every cached value of loaders that returned one of `tags`, on every server that shares
 * the store (and in this process's memory); with Astro's route cache on, the routes whose entries
 * carry those tags too (their entries got their loaders' tags).
 * @param {{ tags: string | string[], context?: RouteContext }} options `context`: Astro's (an
 *   endpoint's or an action's); found by itself when the call runs inside a request
 * @returns {Promise<void>}
 */
export async function invalidateLoaderCache(options) {
  const list = typeof options?.tags === 'string' ? [options.tags] : options?.tags;
  if (!Array.isArray(list) || list.some((tag) => typeof tag !== 'string')) {
    throw new TypeError(`${PREFIX} invalidateLoaderCache({ tags }): tags must be a string or an array of strings`);
  }
  const s = settings.current;
  for (const tag of list) s.tagTokens.set(tag, randomUUID());
  if (s.storage) {
    // Unlike a read, an invalidation must not be skipped: it fails loudly if the store does.
    await Promise.all(list.map((tag) => /** @type {import('unstorage').Storage} */ (s.storage).setItem(tagKey(s, tag), randomUUID())));
  }
  const route = (options.context ?? requests.getStore())?.cache;
  if (route?.enabled && typeof route.invalidate === 'function' && list.length > 0) await route.invalidate({ tags: list });
}

/**
 * Validates a loader's `cache` option (at definition, so a typo fails where it is written).
 * @param {unknown} cache
 * @returns {CacheSpec}
 */
export function cacheSpec(cache) {
  if (cache === null || typeof cache !== 'object') throw new TypeError(`${PREFIX} defineLoader(): cache must be an object ({ maxAge, staleWhileRevalidate, tags, key }), got ${describe(cache)}`);
  const c = /** @type {Record<string, unknown>} */ (cache);
  const known = new Set(['maxAge', 'staleWhileRevalidate', 'tags', 'key']);
  for (const name of Object.keys(c)) if (!known.has(name)) throw new TypeError(`${PREFIX} defineLoader(): unknown cache option \`${name}\` (expected maxAge, staleWhileRevalidate, tags, key)`);
  const seconds = (/** @type {string} */ name, /** @type {unknown} */ v, /** @type {number} */ fallback) => {
    if (v === undefined) return fallback;
    if (typeof v !== 'number' || !(v >= 0) || !Number.isFinite(v)) throw new TypeError(`${PREFIX} defineLoader(): cache.${name} must be a number of seconds >= 0, got ${describe(v)}`);
    return v;
  };
  for (const name of ['tags', 'key']) {
    if (c[name] !== undefined && typeof c[name] !== 'function') throw new TypeError(`${PREFIX} defineLoader(): cache.${name} must be a function, got ${describe(c[name])}`);
  }
  return {
    maxAge: seconds('maxAge', c.maxAge, 0),
    staleWhileRevalidate: seconds('staleWhileRevalidate', c.staleWhileRevalidate, 0),
    tags: /** @type {CacheSpec['tags']} */ (c.tags),
    key: /** @type {CacheSpec['key']} */ (c.key),
  };
}

/**
 * Tells the cache a loader's static facts (generated code calls it for each cached loader). In
 * `astro dev` each evaluation of the component's module (each edit) keys its values apart, so an
 * edited loader never answers with what its previous code returned.
 * @param {Function} loader
 * @param {{ id: string, reads: string[], dev?: boolean }} info
 */
export function __cacheInfo(loader, info) {
  if (typeof loader !== 'function') return;
  const id = info.dev ? `${info.id}~${randomUUID().slice(0, 8)}` : info.id;
  Object.defineProperty(loader, INFO, { value: { id, reads: info.reads }, configurable: true });
}

/**
 * The store key of a loader's value for one context, or null when the value must not be cached
 * (props that cannot be compared, a `key` that returned nothing usable).
 * @param {Function} loader
 * @param {CacheSpec} spec
 * @param {LoaderContext} context
 * @param {string | null} fallbackId the run's component key
 * @returns {string | null}
 */
function entryKey(loader, spec, context, fallbackId) {
  const info = /** @type {{ id: string, reads: string[] } | undefined} */ (Reflect.get(loader, INFO));
  const id = info?.id ?? fallbackId ?? loader.name;
  if (!id) return null;
  const s = settings.current;
  let material;
  if (spec.key) {
    const k = spec.key(context);
    if (typeof k !== 'string' && typeof k !== 'number') return null;
    material = `key:${k}`;
  } else {
    // Without the analysis (no integration), every field a key can hold: never too few.
    const reads = info?.reads ?? ['params', 'props', 'url'];
    const parts = [];
    if (reads.includes('params') || reads.includes('*')) parts.push(`params:${stableKey(context.params)}`);
    if (reads.includes('props') || reads.includes('*')) parts.push(`props:${stableKey(context.props)}`);
    if (reads.includes('url') || reads.includes('*')) parts.push(`url:${context.url?.href ?? ''}`);
    if (parts.some((p) => p.endsWith(':null'))) return null;
    material = parts.join('\n');
  }
  const digest = createHash('sha256').update(material).digest('base64url').slice(0, 32);
  return `${NAMESPACE}:${s.version ? `${s.version}:` : ''}v:${id}:${digest}`;
}

/** @type {(value: unknown) => string | null} */
let stableKey = () => null;
/**
 * The runtime's structural props key (set by runtime.js, which owns it).
 * @param {(value: unknown) => string | null} fn
 */
export function __setStableKey(fn) {
  stableKey = fn;
}

/**
 * @param {Settings} s
 * @param {string} tag
 */
function tagKey(s, tag) {
  return `${NAMESPACE}:${s.version ? `${s.version}:` : ''}tag:${createHash('sha256').update(tag).digest('base64url').slice(0, 24)}`;
}

/**
 * Warns at most once a minute per kind.
 * @param {string} kind
 * @param {string} message
 */
function warn(kind, message) {
  const now = Date.now();
  if (now - (warned.get(kind) ?? -Infinity) < 60_000) return;
  warned.set(kind, now);
  console.warn(`${PREFIX} ${message}`);
}

/**
 * A store operation within the time budget; a fault (an error, past the budget) marks the shared
 * store down for a moment and yields `fallback`.
 * @template T
 * @param {Settings} s
 * @param {() => Promise<T>} op
 * @param {T} fallback
 * @param {string} what
 * @returns {Promise<T>}
 */
async function guarded(s, op, fallback, what) {
  if (Date.now() < s.downUntil) return fallback;
  /** @type {ReturnType<typeof setTimeout> | undefined} */
  let timer;
  try {
    return await Promise.race([
      op(),
      new Promise((_, reject) => {
        // Not unref'd: a request waits on it (and it is short).
        timer = setTimeout(() => reject(new Error(`no answer within ${s.timeout} ms`)), s.timeout);
      }),
    ]);
  } catch (error) {
    s.downUntil = Date.now() + s.retryAfter;
    warn(`store:${what}`, `the loader cache's store failed to ${what} (${error instanceof Error ? error.message : String(error)}): loaders run uncached for ${s.retryAfter / 1000} s. This warning repeats at most once a minute.`);
    return fallback;
  } finally {
    clearTimeout(timer);
  }
}

/** What a store read yields when the store failed. */
const FAULT = Symbol('fault');

/**
 * Reads one key of the shared store. Reads asked for in the same turn (the loaders of a batch
 * start together, and their tag reads follow together) go out as one `getItems` call: one round
 * trip (Redis: one MGET) instead of one per loader. Written by hand: unstorage has no batching.
 * @param {Settings} s
 * @param {string} key
 * @returns {Promise<unknown>} the stored value, null when absent, FAULT when the store failed
 */
function storeRead(s, key) {
  return new Promise((resolve) => {
    if (!s.pending) {
      const pending = new Map();
      s.pending = pending;
      queueMicrotask(() => {
        s.pending = null;
        flushReads(s, pending);
      });
    }
    const waiting = s.pending.get(key);
    if (waiting) waiting.push(resolve);
    else s.pending.set(key, [resolve]);
  });
}

/**
 * @param {Settings} s
 * @param {Map<string, ((value: unknown) => void)[]>} pending
 */
async function flushReads(s, pending) {
  const storage = /** @type {import('unstorage').Storage} */ (s.storage);
  const keys = [...pending.keys()];
  /** @type {() => Promise<{ key: string, value: unknown }[] | typeof FAULT>} */
  const read = () => (keys.length === 1 ? storage.getItem(keys[0]).then((value) => [{ key: keys[0], value }]) : storage.getItems(keys));
  const values = await guarded(s, read, FAULT, 'read');
  if (values === FAULT) {
    for (const waiting of pending.values()) for (const resolve of waiting) resolve(FAULT);
    return;
  }
  const byKey = new Map(/** @type {{ key: string, value: unknown }[]} */ (values).map((item) => [item.key, item.value]));
  for (const [key, waiting] of pending) {
    const value = byKey.get(key) ?? byKey.get(key.replace(/\//g, ':')) ?? null;
    for (const resolve of waiting) resolve(value);
  }
}

/**
 * @param {Settings} s
 * @param {string} key
 * @returns {Promise<Entry | null>} null on a miss, a fault or a corrupt entry
 */
async function readEntry(s, key) {
  /** @type {unknown} */
  let raw;
  if (s.storage) {
    raw = await storeRead(s, key);
    if (raw === FAULT) return null;
  } else {
    raw = s.memory.get(key) ?? null;
  }
  if (raw === null || raw === undefined) return null;
  const entry = asEntry(typeof raw === 'string' ? safeJson(raw) : raw);
  if (!entry) {
    warn('corrupt', `the loader cache's store returned something that is not an entry for ${key}: the loader ran uncached and its entry is replaced. This warning repeats at most once a minute.`);
    return null;
  }
  // Tags invalidated since the entry was written make it a miss.
  const tags = Object.keys(entry.g);
  if (tags.length > 0) {
    /** @type {(string | null)[]} */
    let now;
    if (s.storage) {
      const values = await Promise.all(tags.map((tag) => storeRead(s, tagKey(s, tag))));
      if (values.includes(FAULT)) return null;
      now = values.map((v) => (v === null || v === undefined ? null : String(v)));
    } else {
      now = tags.map((tag) => s.tagTokens.get(tag) ?? null);
    }
    if (tags.some((tag, i) => (entry.g[tag] ?? null) !== (now[i] ?? null) && !(entry.g[tag] === '' && now[i] === null))) return null;
  }
  return entry;
}

/** @param {string} text */
function safeJson(text) {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/**
 * @param {unknown} raw
 * @returns {Entry | null}
 */
function asEntry(raw) {
  if (raw === null || typeof raw !== 'object') return null;
  const e = /** @type {Record<string, unknown>} */ (raw);
  if (typeof e.v !== 'string' || typeof e.t !== 'number' || typeof e.m !== 'number' || typeof e.s !== 'number') return null;
  if (e.g === null || typeof e.g !== 'object' || Array.isArray(e.g)) return null;
  for (const token of Object.values(e.g)) if (typeof token !== 'string') return null;
  return /** @type {Entry} */ (e);
}

/**
 * The tags of a value (`cache.tags(value)`), or null when they cannot be computed (warned).
 * @param {CacheSpec} spec
 * @param {unknown} value
 * @param {string} component
 * @returns {string[] | null}
 */
function tagsOf(spec, value, component) {
  if (!spec.tags) return [];
  try {
    const tags = spec.tags(value);
    if (!Array.isArray(tags) || tags.some((tag) => typeof tag !== 'string')) throw new TypeError('tags() must return an array of strings');
    return tags;
  } catch (error) {
    warn(`tags:${component}`, `${component}: its cache tags could not be computed (${error instanceof Error ? error.message : String(error)}); the value is not cached.`);
    return null;
  }
}

/**
 * Writes an entry (never throws; a fault is warned).
 * @param {Settings} s
 * @param {string} key
 * @param {unknown} value
 * @param {CacheSpec} spec
 * @param {string} component for warnings
 * @returns {Promise<void>}
 */
async function writeEntry(s, key, value, spec, component) {
  if (spec.maxAge + spec.staleWhileRevalidate <= 0) return;
  let serialized;
  try {
    serialized = stringify(value);
  } catch (error) {
    warn(`serialize:${component}`, `${component}: its loader's value cannot be cached (${error instanceof Error ? error.message : String(error)}); it runs on every request. Return plain data (objects, arrays, Date, Map, Set, URL, BigInt...).`);
    return;
  }
  // Measured as the store holds it: UTF-8 bytes.
  const bytes = Buffer.byteLength(serialized);
  if (bytes > s.maxEntryBytes) {
    warn(`size:${component}`, `${component}: its loader's value (${Math.round(bytes / 1024)} KiB serialized) is larger than cache.maxEntryBytes (${Math.round(s.maxEntryBytes / 1024)} KiB); it is not cached.`);
    return;
  }
  const tags = tagsOf(spec, value, component);
  if (tags === null) return;
  /** @type {Record<string, string>} */
  const g = {};
  if (tags.length > 0) {
    // The tokens as they are now. A tag invalidated while the loader ran is not seen: its value
    // is kept under the new token until it expires (the window is the loader's duration).
    if (s.storage) {
      const values = await Promise.all(tags.map((tag) => storeRead(s, tagKey(s, tag))));
      if (values.includes(FAULT)) return;
      tags.forEach((tag, i) => {
        const v = values[i];
        g[tag] = v === null || v === undefined ? '' : String(v);
      });
    } else {
      for (const tag of tags) g[tag] = s.tagTokens.get(tag) ?? '';
    }
  }
  /** @type {Entry} */
  const entry = { v: serialized, t: Date.now(), m: spec.maxAge, s: spec.staleWhileRevalidate, g };
  const ttl = Math.ceil(spec.maxAge + spec.staleWhileRevalidate);
  if (s.storage) {
    const storage = s.storage;
    await guarded(s, () => storage.setItem(key, JSON.stringify(entry), { ttl }), undefined, 'write');
  } else {
    s.memory.set(key, entry, { ttl: ttl * 1000 });
  }
}

/**
 * The value of a cached loader for this context: from the store when fresh (`hit`), stale within
 * its stale-while-revalidate window (`stale`, one refresh in the background), else by calling it
 * (`miss`; concurrent misses of one key in this process share that call). `bypass`: not cacheable
 * here (see `entryKey`), called as usual.
 * @param {object} args
 * @param {Function} args.loader
 * @param {CacheSpec} args.spec
 * @param {LoaderContext} args.context what the loader gets
 * @param {string | null} args.id the run's component key
 * @param {string} args.component for warnings
 * @param {(signal: AbortSignal | undefined) => unknown} args.call calls the loader; a shared call gets its own signal
 * @param {(state: CacheState) => void} args.onState told the outcome as soon as it is known
 * @param {(tags: string[]) => void} [args.onTags] told the value's tags (a route cache entry carries them)
 * @returns {Promise<unknown>}
 */
export async function cachedCall({ loader, spec, context, id, component, call, onState, onTags }) {
  const s = settings.current;
  const key = entryKey(loader, spec, context, id);
  if (key === null) {
    onState('bypass');
    return call(undefined);
  }
  const asked = Date.now();
  const entry = await readEntry(s, key);
  if (entry) {
    const age = (Date.now() - entry.t) / 1000;
    if (age <= entry.m + entry.s) {
      let value;
      try {
        value = parse(entry.v);
      } catch {
        warn('corrupt', `the loader cache's store returned an entry whose value does not parse for ${key}: the loader ran uncached. This warning repeats at most once a minute.`);
        return miss(s, key, spec, component, call, onState, onTags);
      }
      onTags?.(Object.keys(entry.g));
      if (age <= entry.m) {
        onState('hit');
      } else {
        onState('stale');
        refresh(s, key, spec, component, call, asked);
      }
      return value;
    }
  }
  return miss(s, key, spec, component, call, onState, onTags);
}

/**
 * @param {Settings} s
 * @param {string} key
 * @param {CacheSpec} spec
 * @param {string} component
 * @param {(signal: AbortSignal | undefined) => unknown} call
 * @param {(state: CacheState) => void} onState
 * @param {((tags: string[]) => void) | undefined} onTags
 */
async function miss(s, key, spec, component, call, onState, onTags) {
  onState('miss');
  let shared = inflight.get(key);
  if (!shared) {
    shared = (async () => {
      // The call is shared by every request waiting for this key: no one request's end aborts it
      // (each request still stops waiting at its own end or timeout); one that hangs is aborted
      // after a minute, so the key is never held forever.
      const controller = new AbortController();
      const timer = setTimeout(() => controller.abort(new DOMException('shared cached call timed out', 'TimeoutError')), 60_000);
      timer.unref?.();
      try {
        const value = await call(controller.signal);
        return { value, written: writeEntry(s, key, value, spec, component) };
      } finally {
        clearTimeout(timer);
      }
    })();
    inflight.set(key, shared);
    const done = () => {
      if (inflight.get(key) === shared) inflight.delete(key);
    };
    shared.then((outcome) => outcome.written.finally(done), done);
  }
  const { value } = await shared;
  if (onTags) onTags(tagsOf(spec, value, component) ?? []);
  return value;
}

/**
 * One background refresh of a stale entry per key in this process.
 * @param {Settings} s
 * @param {string} key
 * @param {CacheSpec} spec
 * @param {string} component
 * @param {(signal: AbortSignal | undefined) => unknown} call
 * @param {number} asked when the read that found the entry stale began (Date.now())
 */
function refresh(s, key, spec, component, call, asked) {
  if (refreshing.has(key) || inflight.has(key)) return;
  // The last refresh's value is fresh for maxAge: a stale view meanwhile is a read that left
  // before that write landed (a shared store's write may land after its time budget), not a
  // stale entry. One refresh per maxAge per process.
  const landed = refreshed.get(key);
  if (landed !== undefined && (landed >= asked || Date.now() - landed < spec.maxAge * 1000)) return;
  refreshing.add(key);
  const controller = new AbortController();
  // A refresh that hangs must not hold the key forever.
  const timer = setTimeout(() => controller.abort(new DOMException('refresh timed out', 'TimeoutError')), 60_000);
  timer.unref?.();
  Promise.resolve()
    .then(() => call(controller.signal))
    .then((value) => writeEntry(s, key, value, spec, component))
    .catch((error) => warn(`refresh:${component}`, `${component}: refreshing its stale cached value failed (${error instanceof Error ? error.message : String(error)}); the stale value is served until it expires.`))
    .finally(() => {
      clearTimeout(timer);
      refreshing.delete(key);
      const stamp = Date.now();
      refreshed.set(key, stamp);
      // Needed for maxAge, then forgotten.
      const forget = setTimeout(() => {
        if (refreshed.get(key) === stamp) refreshed.delete(key);
      }, Math.max(1_000, spec.maxAge * 1000));
      forget.unref?.();
    });
}

/**
 * The in-memory store's size, for tests and the benchmark.
 * @returns {{ entries: number, bytes: number }}
 */
export function __memoryUsage() {
  const m = settings.current.memory;
  return { entries: m.size, bytes: m.calculatedSize };
}

// Unit tests of the cross-request loader cache (js/cache.js) through the runtime: each request is a
// fresh simulated `Astro`; the store is the in-memory default or an unstorage Storage.
import { afterEach, describe, it, mock } from 'node:test';
import assert from 'node:assert/strict';
import { createStorage } from 'unstorage';
import { __memoryUsage, configureLoaderCache, invalidateLoaderCache } from '../../js/cache.js';
import { __cacheInfo, __renderState, __startBatch, defineLoader, getLoaderData, onLoaderSettled } from '../../js/runtime.js';
import { onRequest as cacheMiddleware } from '../../js/cache-middleware.js';
import { opaqueServerTimingHeader, serverTimingHeader } from '../../js/middleware.js';

/** @type {unknown[]} */
const unhandled = [];
process.on('unhandledRejection', (reason) => unhandled.push(reason));

let n = 0;
function fakeAstro(path = '/x', params = {}, props = {}, init = {}) {
  const url = new URL(`http://127.0.0.1${path}`);
  return { locals: { user: `u${n}` }, params, props, url, request: new Request(url, init) };
}
const delay = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * A cached loader reading `reads`, counting its calls; it returns what `produce` makes of its context.
 * @param {object} cache
 * @param {string[]} reads
 * @param {(ctx: any) => unknown} [produce]
 */
function cachedLoader(cache, reads = ['params'], produce = (ctx) => ({ slug: ctx.params.slug, at: Date.now() })) {
  const loader = defineLoader(async (ctx) => {
    loader.calls++;
    if (loader.wait) await delay(loader.wait);
    return produce(ctx);
  }, { cache });
  loader.calls = 0;
  loader.wait = 0;
  __cacheInfo(loader, { id: `C${++n}`, reads });
  return loader;
}

/** One request that renders the loader's component once; ends the render after. */
async function request(loader, { path = '/x', params = {}, props = undefined } = {}) {
  const astro = fakeAstro(path, params, props ?? {});
  const key = Reflect.get(loader, Symbol.for('astro-hoist.cacheInfo'))?.id ?? 'K';
  try {
    return await getLoaderData({ astro, key, loader, component: `src/components/${key}.astro`, props: props !== undefined });
  } finally {
    __renderState(astro).end();
  }
}

afterEach(() => {
  configureLoaderCache({});
  mock.restoreAll();
});

describe('the loader cache (in memory)', () => {
  it('serves a fresh value without calling the loader, keyed by the params it reads', async () => {
    const loader = cachedLoader({ maxAge: 60 });
    const a = await request(loader, { params: { slug: 'a' } });
    const again = await request(loader, { params: { slug: 'a' } });
    const b = await request(loader, { params: { slug: 'b' } });
    assert.equal(loader.calls, 2, 'a: once; b: once');
    assert.deepEqual(again, a, 'the hit is the stored value');
    assert.notEqual(again, a, 'a copy: a render that mutates it changes no other request');
    assert.equal(b.slug, 'b');
  });

  it('keys by props (structurally) and url when the loader reads them, and by `key` when given', async () => {
    const byProps = cachedLoader({ maxAge: 60 }, ['props'], (ctx) => ({ id: ctx.props.id }));
    await request(byProps, { props: { id: 1, x: { a: 1, b: 2 } } });
    await request(byProps, { props: { x: { b: 2, a: 1 }, id: 1 } });
    await request(byProps, { props: { id: 2 } });
    assert.equal(byProps.calls, 2);

    const byUrl = cachedLoader({ maxAge: 60 }, ['url'], (ctx) => ctx.url.search);
    assert.equal(await request(byUrl, { path: '/p?page=1' }), '?page=1');
    assert.equal(await request(byUrl, { path: '/p?page=2' }), '?page=2');
    assert.equal(await request(byUrl, { path: '/p?page=1' }), '?page=1');
    assert.equal(byUrl.calls, 2);

    const keyed = cachedLoader({ maxAge: 60, key: (ctx) => ctx.locals.user }, ['locals'], (ctx) => ctx.locals.user);
    const first = await request(keyed);
    n++; // another visitor
    const second = await request(keyed);
    assert.notEqual(first, second, 'each visitor their own value');
    assert.equal(keyed.calls, 2);
  });

  it('refuses a cached loader without `key` that reads request or locals (no analysis needed)', async () => {
    const loader = cachedLoader({ maxAge: 60 }, ['params'], (ctx) => ctx.request.headers.get('cookie'));
    await assert.rejects(request(loader), (error) => {
      assert.match(error.cause.message, /a cached loader without a `key` read `request`/);
      return true;
    });
  });

  it('serves a stale value within staleWhileRevalidate and refreshes it once in the background', async () => {
    const loader = cachedLoader({ maxAge: 0.05, staleWhileRevalidate: 60 });
    const first = await request(loader, { params: { slug: 'a' } });
    await delay(80);
    /** @type {string[]} */
    const states = [];
    const stop = onLoaderSettled((event) => states.push(String(event.cache)));
    loader.wait = 30;
    const stale = await Promise.all([1, 2, 3].map(() => request(loader, { params: { slug: 'a' } })));
    for (const value of stale) assert.deepEqual(value, first, 'the stale value, at once');
    await delay(60);
    assert.equal(loader.calls, 2, 'one refresh for three stale reads');
    const fresh = await request(loader, { params: { slug: 'a' } });
    stop();
    assert.ok(fresh.at > first.at, 'the refreshed value');
    assert.deepEqual(states, ['stale', 'stale', 'stale', 'hit']);
  });

  it('runs concurrent misses of one key once', async () => {
    const loader = cachedLoader({ maxAge: 60 });
    loader.wait = 20;
    const values = await Promise.all(Array.from({ length: 5 }, () => request(loader, { params: { slug: 'a' } })));
    assert.equal(loader.calls, 1);
    for (const v of values) assert.deepEqual(v, values[0]);
  });

  it('drops values by tag', async () => {
    const loader = cachedLoader({ maxAge: 60, tags: (post) => [`post:${post.slug}`] });
    await request(loader, { params: { slug: 'a' } });
    await request(loader, { params: { slug: 'b' } });
    await invalidateLoaderCache({ tags: ['post:a'] });
    await request(loader, { params: { slug: 'a' } });
    await request(loader, { params: { slug: 'b' } });
    assert.equal(loader.calls, 3, 'a again, b still cached');
  });

  it('round-trips Date, Map, Set, URL and BigInt; a value devalue cannot serialize is not cached, with one warning', async () => {
    const rich = { d: new Date(5), m: new Map([[1, 'x']]), s: new Set(['y']), u: new URL('https://example.org/a'), b: 10n };
    const loader = cachedLoader({ maxAge: 60 }, ['params'], () => rich);
    await request(loader);
    assert.deepEqual(await request(loader), rich);
    assert.equal(loader.calls, 1);

    const warn = mock.method(console, 'warn', () => {});
    const fn = cachedLoader({ maxAge: 60 }, ['params'], () => ({ f() {} }));
    await request(fn);
    await request(fn);
    assert.equal(fn.calls, 2, 'not cached');
    assert.equal(warn.mock.callCount(), 1);
    assert.match(String(warn.mock.calls[0].arguments[0]), /cannot be cached/);
  });

  it('does not cache a value larger than maxEntryBytes', async () => {
    configureLoaderCache({ maxEntryBytes: 1000 });
    mock.method(console, 'warn', () => {});
    const loader = cachedLoader({ maxAge: 60 }, ['params'], () => 'x'.repeat(2000));
    await request(loader);
    await request(loader);
    assert.equal(loader.calls, 2);
  });

  it('stays within its entry and byte bounds under 10,000 distinct keys', async () => {
    configureLoaderCache({ maxEntries: 500, maxBytes: 200_000 });
    const loader = cachedLoader({ maxAge: 60 }, ['params'], (ctx) => 'v'.repeat(100) + ctx.params.slug);
    let peak = { entries: 0, bytes: 0 };
    for (let i = 0; i < 10_000; i++) {
      await request(loader, { params: { slug: String(i) } });
      const usage = __memoryUsage();
      peak = { entries: Math.max(peak.entries, usage.entries), bytes: Math.max(peak.bytes, usage.bytes) };
    }
    assert.ok(peak.entries <= 500, `entries ${peak.entries}`);
    assert.ok(peak.bytes <= 200_000, `bytes ${peak.bytes}`);
    assert.ok(peak.entries > 100, 'it does cache');
    await request(loader, { params: { slug: '9999' } });
    assert.equal(loader.calls, 10_000, 'the most recent key is still there');
  });

  it('marks each cached loader hit, stale, miss or bypass in Server-Timing', () => {
    const timing = { key: 'abc', component: 'src/components/Post.astro', name: 'src/components/Post.astro', start: 1, end: 2.5, ok: true, cache: /** @type {const} */ ('hit') };
    assert.equal(serverTimingHeader([timing]), 'components.Post;dur=1.5;desc="src/components/Post.astro";cache=hit');
    assert.equal(opaqueServerTimingHeader([{ ...timing, cache: 'miss' }]), 'hoist-abc;dur=1.5;cache=miss');
    assert.equal(serverTimingHeader([{ ...timing, cache: undefined }]), 'components.Post;dur=1.5;desc="src/components/Post.astro"');
  });

  it('rejects bad cache options where the loader is defined', () => {
    assert.throws(() => defineLoader(async () => 1, { cache: { maxAge: -1 } }), /cache\.maxAge must be a number of seconds/);
    assert.throws(() => defineLoader(async () => 1, { cache: { maxage: 5 } }), /unknown cache option `maxage`/);
    assert.throws(() => defineLoader(async () => 1, { cache: { tags: ['a'] } }), /cache\.tags must be a function/);
    assert.throws(() => configureLoaderCache({ storage: /** @type {any} */ ({}) }), /must be an unstorage Storage/);
  });
});

describe("Astro 7's route cache", () => {
  /** A fake `context.cache` as Astro 7 gives it with a route cache configured. */
  function routeCache(maxAge) {
    const cache = { enabled: true, options: { maxAge, tags: [] }, sets: [], invalidated: [] };
    cache.set = (options) => cache.sets.push(options);
    cache.invalidate = async (options) => cache.invalidated.push(options);
    return cache;
  }

  it("gives a cached route's entry its loaders' tags and their shortest maxAge, after the whole body", async () => {
    const post = cachedLoader({ maxAge: 30, tags: (v) => [`post:${v.slug}`] });
    const list = cachedLoader({ maxAge: 60, tags: () => ['posts'] });
    const astro = fakeAstro('/p/a', { slug: 'a' });
    const cache = routeCache(120);
    let bodyRead = false;
    const response = await cacheMiddleware({ request: astro.request, cache }, async () => {
      const a = await getLoaderData({ astro, key: 'P', loader: post, component: 'src/components/P.astro' });
      const stream = new ReadableStream({
        async start(controller) {
          controller.enqueue(new TextEncoder().encode(`<p>${a.slug}</p>`));
          // A loader the body renders later: its tags count too.
          await getLoaderData({ astro, key: 'L', loader: list, component: 'src/components/L.astro' });
          controller.enqueue(new TextEncoder().encode('<ul></ul>'));
          bodyRead = true;
          controller.close();
        },
      });
      return new Response(stream, { headers: { 'content-type': 'text/html' } });
    });
    assert.ok(bodyRead);
    assert.equal(await response.text(), '<p>a</p><ul></ul>');
    assert.deepEqual(cache.sets, [{ tags: ['post:a', 'posts'], maxAge: 30 }]);

    // Inside the request, invalidation reaches the route cache too.
    await cacheMiddleware({ request: astro.request, cache }, async () => {
      await invalidateLoaderCache({ tags: 'post:a' });
      return new Response('ok');
    });
    assert.deepEqual(cache.invalidated, [{ tags: ['post:a'] }]);
  });

  it('leaves a route that is not cached (or no route cache) untouched', async () => {
    const original = new Response('x');
    const cache = routeCache(0);
    assert.equal(await cacheMiddleware({ request: new Request('http://127.0.0.1/'), cache }, async () => original), original);
    assert.equal(await cacheMiddleware({ request: new Request('http://127.0.0.1/') }, async () => original), original);
    assert.deepEqual(cache.sets, []);
  });
});

describe('the loader cache (a shared unstorage store)', () => {
  it('shares values between two processes, and tag invalidation from either', async () => {
    const shared = createStorage();
    configureLoaderCache({ storage: shared });
    const loader = cachedLoader({ maxAge: 60, tags: () => ['all'] });
    await request(loader, { params: { slug: 'a' } });
    await delay(10); // the write goes out after the value
    // Another server: its own memory, the same store.
    configureLoaderCache({ storage: shared });
    await request(loader, { params: { slug: 'a' } });
    assert.equal(loader.calls, 1, 'a miss on one is a hit on the other');
    await invalidateLoaderCache({ tags: 'all' });
    configureLoaderCache({ storage: shared });
    await request(loader, { params: { slug: 'a' } });
    assert.equal(loader.calls, 2);
  });

  it("reads a batch's entries in one store call, and their tags' tokens in one more", async () => {
    const base = createStorage();
    let calls = 0;
    const counting = { ...base, getItem: (...a) => (calls++, base.getItem(...a)), getItems: (...a) => (calls++, base.getItems(...a)) };
    configureLoaderCache({ storage: /** @type {any} */ (counting) });
    const loaders = [1, 2, 3].map(() => cachedLoader({ maxAge: 60, tags: () => ['t'] }));
    const render = async () => {
      const astro = fakeAstro('/x', { slug: 's' });
      const keys = loaders.map((l) => Reflect.get(l, Symbol.for('astro-hoist.cacheInfo')).id);
      __startBatch(astro, loaders.map((loader, i) => ({ key: keys[i], loader, component: `src/components/${keys[i]}.astro`, conditional: false })));
      const values = await Promise.all(loaders.map((loader, i) => getLoaderData({ astro, key: keys[i], loader, component: `src/components/${keys[i]}.astro` })));
      __renderState(astro).end();
      return values;
    };
    await render();
    await delay(20);
    calls = 0;
    await render();
    assert.equal(calls, 2, 'one read for the three entries, one for their tags');
    assert.deepEqual(loaders.map((l) => l.calls), [1, 1, 1]);
  });

  it('a store that throws, hangs or returns garbage never fails a request', async () => {
    const warn = mock.method(console, 'warn', () => {});
    const base = createStorage();
    const broken = { ...base, getItem: async () => { throw new Error('connection refused'); }, getItems: async () => { throw new Error('connection refused'); }, setItem: async () => { throw new Error('connection refused'); } };
    configureLoaderCache({ storage: /** @type {any} */ (broken), retryAfter: 50 });
    const loader = cachedLoader({ maxAge: 60 });
    for (let i = 0; i < 5; i++) assert.equal((await request(loader, { params: { slug: 'a' } })).slug, 'a');
    assert.equal(loader.calls, 5);
    assert.equal(warn.mock.calls.filter((c) => /failed to read/.test(String(c.arguments[0]))).length, 1, 'one warning, not one per request');

    const hanging = { ...base, getItem: () => new Promise(() => {}), getItems: () => new Promise(() => {}), setItem: () => new Promise(() => {}) };
    configureLoaderCache({ storage: /** @type {any} */ (hanging), timeout: 20 });
    const started = performance.now();
    assert.equal((await request(loader, { params: { slug: 'b' } })).slug, 'b');
    assert.ok(performance.now() - started < 200, 'within the time budget');

    const garbage = createStorage();
    configureLoaderCache({ storage: garbage });
    const key = cachedLoader({ maxAge: 60 });
    await request(key, { params: { slug: 'c' } });
    await delay(10);
    for (const k of await garbage.getKeys()) await garbage.setItem(k, '{"v": 3, "nonsense": true');
    assert.equal((await request(key, { params: { slug: 'c' } })).slug, 'c');
    assert.equal(key.calls, 2, 'a corrupt entry is a miss');
    await delay(10);
    assert.equal((await request(key, { params: { slug: 'c' } })).slug, 'c');
    assert.equal(key.calls, 2, 'and is replaced');
  });

  it('leaves no unhandled rejection behind', async () => {
    await delay(20);
    assert.deepEqual(unhandled, []);
  });
});

// The cross-request loader cache end to end on Astro 7, with a real Redis (Debian's redis-server,
// started here on a free loopback port and stopped by pid): two production servers share it (a
// miss on one is a hit on the other), a tag invalidated on one is dropped on the other,
// stale-while-revalidate serves stale and refreshes once, a corrupt entry and a value too large
// to cache still answer correctly, Redis killed mid-run leaves every request answering correctly,
// and a cached loader that reads per-visitor data without a `key` fails the build at its line.
// Astro's route cache gets the loaders' tags, so invalidating a tag drops the routes that showed
// it. Without Redis, the in-memory default stays within its bounds under 10,000 distinct keys.
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import {
  ENVIRONMENTS,
  REPO_ROOT,
  build,
  fetchResponse,
  installPackedAddon,
  packAddon,
  prepareFixture,
  redisCli,
  serve,
  startLatencyApi,
  startRedis,
  stopAll,
} from '../../harness/harness.js';

/** @typedef {import('../../harness/harness.js').RunningServer} RunningServer */

const SETUP_TIMEOUT_MS = 15 * 60_000;
const ENV = 'astro7'; // Astro 7 only: the route cache and its runtime are Astro 7's; the loader cache itself is the same code on 5
const PROCESS_TROUBLE = /unhandled|ERR_UNHANDLED_REJECTION|MaxListenersExceeded/i;
const delay = (/** @type {number} */ ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** @type {string[]} */
let tarballs = [];
before(async () => {
  tarballs = await packAddon({ destination: path.join(REPO_ROOT, '.e2e', 'packs-cache') });
}, { timeout: SETUP_TIMEOUT_MS });
after(stopAll);

/**
 * @param {RunningServer} server
 * @param {string} url
 */
async function page(server, url) {
  const response = await fetchResponse(`${server.url}${url}`);
  assert.equal(response.status, 200, `${url}: ${response.text.slice(0, 500)}`);
  return response;
}
/** data-n of an element: which call of the data API produced what the page shows. */
const nOf = (/** @type {string} */ html, /** @type {string} */ id) => Number(html.match(new RegExp(`id="${id}" data-n="(\\d+)"`))?.[1]);

describe(`loader cache (${ENV})`, { skip: !ENVIRONMENTS.includes(ENV) }, () => {
  /** @type {string} */
  let root;
  /** @type {Awaited<ReturnType<typeof startLatencyApi>>} */
  let api;
  before(async () => {
    await installPackedAddon(ENV, tarballs);
    api = await startLatencyApi({ delayMs: 20 });
    root = await prepareFixture(ENV, 'cache', { as: 'cache-e2e' });
    await build(root, { env: { HOIST_API: api.url } });
  }, { timeout: SETUP_TIMEOUT_MS });
  after(() => api?.stop());

  test('two servers share Redis: hits, tag invalidation, stale-while-revalidate, corrupt and oversized entries, Redis killed', { timeout: 180_000 }, async () => {
    const redis = await startRedis();
    const env = { HOIST_API: api.url, HOIST_REDIS_URL: redis.url };
    const a = await serve(root, { env });
    const b = await serve(root, { env });
    try {
      // A miss on one server is a hit on the other.
      const first = await page(a, '/post/alpha');
      assert.match(first.text, /<article id="post" data-n="1">alpha<\/article>/);
      await delay(50); // the write goes out after the value
      const second = await page(b, '/post/alpha');
      assert.equal(nOf(second.text, 'post'), 1, 'server b shows what server a loaded');
      assert.equal(api.count('/cache/post/alpha'), 1, 'one call for both servers');
      // Another slug is another entry.
      assert.equal(nOf((await page(b, '/post/beta')).text, 'post'), 1);
      assert.equal(api.count('/cache/post/beta'), 1);

      // A tag invalidated on b is dropped for a.
      await page(b, '/api/invalidate?tag=post:alpha');
      const again = await page(a, '/post/alpha');
      assert.equal(nOf(again.text, 'post'), 2, 'loaded again after the invalidation');
      assert.equal(api.count('/cache/post/alpha'), 2);
      await delay(50);
      assert.equal(nOf((await page(b, '/post/beta')).text, 'post'), 1, 'beta was not tagged: still cached');

      // Stale-while-revalidate (Fresh: maxAge 1 s): after a second, stale values at once, one refresh.
      // Make the entry fresh at a known moment, whatever the steps above took on a slow machine:
      // past its second it is stale, a read starts its one refresh, which lands after the API's
      // 300 ms (Fresh asks for that delay: three reads in a row come back well before it lands,
      // so a read that showed the new value would have waited for it), well within 700 ms.
      await delay(1100);
      await page(a, '/post/alpha');
      await delay(700);
      const freshBefore = api.count('/cache/fresh');
      const shown = nOf((await page(a, '/post/alpha')).text, 'fresh');
      await delay(1200);
      const staleViews = [];
      for (let i = 0; i < 3; i++) staleViews.push(nOf((await page(a, '/post/alpha')).text, 'fresh'));
      assert.deepEqual(staleViews, [shown, shown, shown], 'the stale value, without waiting');
      await delay(700);
      assert.equal(api.count('/cache/fresh'), freshBefore + 1, 'refreshed once for three stale reads');
      assert.equal(nOf((await page(a, '/post/alpha')).text, 'fresh'), shown + 1, 'then the refreshed value');

      // A corrupt entry is a miss (the page still right), and is replaced.
      const keys = (await redisCli(redis.url, ['--scan', '--pattern', 'astro-hoist:v:*'])).split('\n').filter(Boolean);
      assert.ok(keys.length >= 3, `entries in Redis: ${keys.join(', ')}`);
      for (const key of keys) await redisCli(redis.url, ['SET', key, '{"v":12,"garbage']);
      const afterCorrupt = await page(b, '/post/beta');
      assert.match(afterCorrupt.text, /data-n="2">beta</);
      assert.match(b.output(), /not an entry/);
      await delay(50);
      assert.match((await page(a, '/post/beta')).text, /data-n="2">beta</, 'the replaced entry is a hit again');

      // A value larger than maxEntryBytes is never cached, and still served.
      for (let i = 1; i <= 2; i++) {
        const big = await page(a, '/big');
        assert.match(big.text, new RegExp(`id="big" data-n="${i}" data-size="1200000"`));
      }

      // Redis killed mid-run: every request still answers correctly, and soon.
      await redis.kill();
      for (const [server, slug] of /** @type {const} */ ([[a, 'alpha'], [b, 'beta'], [a, 'gamma'], [b, 'alpha']])) {
        const started = performance.now();
        const response = await page(server, `/post/${slug}`);
        assert.match(response.text, new RegExp(`<article id="post" data-n="\\d+">${slug}</article>`));
        assert.ok(performance.now() - started < 2000, `answered in ${Math.round(performance.now() - started)} ms`);
      }
      assert.match(a.output() + b.output(), /store failed/, 'the fault is logged');
      for (const server of [a, b]) assert.doesNotMatch(server.output(), PROCESS_TROUBLE);
    } finally {
      await a.stop();
      await b.stop();
      await redis.stop();
    }
  });

  test("Astro's route cache: a cached route's entry carries its loaders' tags, and invalidateLoaderCache drops it", { timeout: 60_000 }, async () => {
    const server = await serve(root, { env: { HOIST_API: api.url } });
    try {
      const first = await page(server, '/routed/delta');
      assert.equal(first.headers.get('x-astro-cache'), 'MISS');
      assert.match(first.text, /<article id="post" data-n="\d+">delta<\/article>/);
      const second = await page(server, '/routed/delta');
      assert.equal(second.headers.get('x-astro-cache'), 'HIT');
      assert.equal(second.text, first.text);
      const calls = api.count('/cache/post/delta');
      // A tag of the page's loader value drops the route's entry, not only the loader's.
      await page(server, '/api/invalidate?tag=post:delta');
      const third = await page(server, '/routed/delta');
      assert.equal(third.headers.get('x-astro-cache'), 'MISS');
      assert.equal(api.count('/cache/post/delta'), calls + 1, 'the loader ran again too');
      // Another tag leaves it cached.
      await page(server, '/api/invalidate?tag=post:other');
      assert.equal((await page(server, '/routed/delta')).headers.get('x-astro-cache'), 'HIT');
      assert.doesNotMatch(server.output(), PROCESS_TROUBLE);
    } finally {
      await server.stop();
    }
  });

  test('the in-memory default stays within its bounds under 10,000 distinct keys', { timeout: 180_000 }, async () => {
    const server = await serve(root, { env: { HOIST_API: api.url } });
    try {
      let next = 0;
      /** @type {{ entries: number, bytes: number }[]} */
      const usage = [];
      await Promise.all(
        Array.from({ length: 8 }, async () => {
          while (next < 10_000) {
            const id = next++;
            const response = await fetchResponse(`${server.url}/item/${id}`);
            assert.match(response.text, new RegExp(`<p id="item">${id}</p>`));
            if (id % 1000 === 999) usage.push(JSON.parse((await fetchResponse(`${server.url}/api/usage`)).text));
          }
        }),
      );
      const peak = usage.reduce((p, u) => ({ entries: Math.max(p.entries, u.entries), bytes: Math.max(p.bytes, u.bytes) }), { entries: 0, bytes: 0 });
      assert.ok(peak.entries <= 1000, `at most cache.maxEntries (1000) entries: ${peak.entries}`);
      assert.ok(peak.bytes <= 64 * 1024 * 1024, `at most cache.maxBytes: ${peak.bytes}`);
      assert.ok(peak.entries >= 900, `and it does keep entries: ${peak.entries}`);
      assert.doesNotMatch(server.output(), PROCESS_TROUBLE);
    } finally {
      await server.stop();
    }
  });

  test('a cached loader reading per-visitor data without a `key` fails the build, at its line', { timeout: 300_000 }, async () => {
    const unsafe = await prepareFixture(ENV, 'cache', {
      as: 'cache-e2e-unsafe',
      files: {
        'src/components/Account.astro': [
          '---',
          "import { defineLoader, getLoaderData } from 'astro-hoist/runtime';",
          'export const loader = defineLoader(async ({ locals }) => ({ name: locals.user?.name ?? "guest" }), {',
          '  cache: { maxAge: 60 },',
          '});',
          'const account = await getLoaderData<typeof loader>();',
          '---',
          '<p>{account.name}</p>',
          '',
        ].join('\n'),
        'src/pages/account.astro': "---\nimport Account from '../components/Account.astro';\n---\n<Account />\n",
      },
    });
    await assert.rejects(build(unsafe, { env: { HOIST_API: api.url } }), (error) => {
      const message = String(/** @type {Error} */ (error).message);
      assert.match(message, /is cached but reads `locals`/);
      assert.match(message, /Account\.astro:4:3/);
      return true;
    });
  });
});

describe('loader cache (astro5)', { skip: !ENVIRONMENTS.includes('astro5') }, () => {
  test('the same cache on Astro 5 (no route cache there): hits in memory, tag invalidation', { timeout: SETUP_TIMEOUT_MS }, async () => {
    await installPackedAddon('astro5', tarballs);
    const api = await startLatencyApi({ delayMs: 20 });
    // Astro 5 has no route cache: the fixture without it.
    const config = `import node from '@astrojs/node';
import { defineConfig } from 'astro/config';
import hoist from 'astro-hoist';
export default defineConfig({
  output: 'server',
  adapter: node({ mode: 'standalone' }),
  integrations: [hoist({ serverTiming: true, cache: { storage: './src/hoist-cache.mjs' } })],
  devToolbar: { enabled: false },
});
`;
    // The memory store (this environment has no Redis client installed).
    const store = 'export default () => undefined;\n';
    const root = await prepareFixture('astro5', 'cache', { as: 'cache-e2e', files: { 'astro.config.mjs': config, 'src/hoist-cache.mjs': store } });
    try {
      await build(root, { env: { HOIST_API: api.url } });
      const server = await serve(root, { env: { HOIST_API: api.url } });
      try {
        const first = await page(server, '/post/alpha');
        assert.match(first.text, /<article id="post" data-n="1">alpha<\/article>/);
        assert.equal(nOf((await page(server, '/post/alpha')).text, 'post'), 1, 'a hit');
        await page(server, '/api/invalidate?tag=post:alpha');
        assert.equal(nOf((await page(server, '/post/alpha')).text, 'post'), 2, 'loaded again after the invalidation');
        assert.equal(api.count('/cache/post/alpha'), 2);
        assert.doesNotMatch(server.output(), PROCESS_TROUBLE);
      } finally {
        await server.stop();
      }
    } finally {
      await api.stop();
    }
  });
});

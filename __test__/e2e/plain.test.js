// End-to-end proof of the e2e harness on a project WITHOUT astro-hoist: builds and serves the
// `plain-nested` fixture with Astro 7 (on the `node` package's Node 22) and Astro 5 (on this Node),
// and measures the waterfall that astro-hoist removes: components nested three deep (directly or
// through slots), each awaiting a 50 ms fetch, answer in >= 3 x 50 ms; siblings in ~50 ms.
// Also: `astro dev` and an `output: 'static'` build of the same sources.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  ENVIRONMENTS,
  build,
  dev,
  ensureEnv,
  fetchText,
  minRequestTime,
  prepareFixture,
  serve,
  startLatencyApi,
  stopAll,
} from '../../harness/harness.js';

const DELAY_MS = 50;
/** Generous: the first run of an environment includes `npm ci` (and the Node 22 download). */
const SETUP_TIMEOUT_MS = 12 * 60_000;

/** Endpoints each page's components fetch, outermost first. */
const PAGES = {
  nested: ['/nested/outer', '/nested/middle', '/nested/inner'],
  slots: ['/slots/layout', '/slots/card', '/slots/leaf'],
  siblings: ['/siblings/a', '/siblings/b', '/siblings/c'],
};

after(stopAll);

/**
 * Index of `needle` in `html`, failing with context when it is missing.
 * @param {string} html
 * @param {string} needle
 */
function indexOf(html, needle) {
  const index = html.indexOf(needle);
  assert.notEqual(index, -1, `${JSON.stringify(needle)} missing from:\n${html.slice(0, 2000)}`);
  return index;
}

/**
 * Each endpoint of a page was called exactly once since the last reset.
 * @param {import('../../harness/harness.js').LatencyApi} api
 * @param {string[]} paths
 */
function assertCalledOnce(api, paths) {
  assert.deepEqual(
    Object.fromEntries(paths.map((path) => [path, api.count(path)])),
    Object.fromEntries(paths.map((path) => [path, 1])),
  );
}

for (const env of ENVIRONMENTS) {
  describe(`plain-nested, built and served with ${env}`, () => {
    /** @type {import('../../harness/harness.js').LatencyApi} */
    let api;
    /** @type {import('../../harness/harness.js').RunningServer} */
    let server;

    before(async () => {
      const info = await ensureEnv(env);
      api = await startLatencyApi({ delayMs: DELAY_MS });
      const root = await prepareFixture(env, 'plain-nested');
      const { ms } = await build(root);
      console.log(`e2e ${env}: astro ${info.astroVersion} on node ${info.nodeVersion} (${info.node}); npm ci: ${info.installMs === null ? 'already installed' : `${info.installMs} ms`}; astro build: ${ms} ms`);
      server = await serve(root, { env: { HOIST_API: api.url } });
    }, { timeout: SETUP_TIMEOUT_MS });

    after(async () => {
      await server?.stop();
      await api?.stop();
    });

    test('nested components render inside each other, each endpoint once per request', async () => {
      api.reset();
      const html = await fetchText(`${server.url}/nested`);
      const outer = indexOf(html, '<p>outer from /nested/outer</p>');
      const middle = indexOf(html, '<p>middle from /nested/middle</p>');
      const inner = indexOf(html, '<p>inner from /nested/inner</p>');
      assert.ok(outer < middle && middle < inner, 'document order outer, middle, inner');
      assert.match(html, /data-component="outer">.*data-component="middle">.*data-component="inner">.*<\/section><\/section><\/section>/s);
      assertCalledOnce(api, PAGES.nested);
    });

    test('slot children render inside layout and card, each endpoint once per request', async () => {
      api.reset();
      const html = await fetchText(`${server.url}/slots`);
      const layout = indexOf(html, '<p>layout from /slots/layout</p>');
      const card = indexOf(html, '<p>card from /slots/card</p>');
      const leaf = indexOf(html, 'leaf from /slots/leaf');
      assert.ok(layout < card && card < leaf, 'document order layout, card, leaf');
      assert.match(html, /<main data-component="layout">.*<article data-component="card">.*<span data-component="leaf">.*<\/article>.*<\/main>/s);
      assertCalledOnce(api, PAGES.slots);
    });

    test('siblings render in order, each endpoint once per request', async () => {
      api.reset();
      const html = await fetchText(`${server.url}/siblings`);
      const a = indexOf(html, '<li data-component="sibling-a">a from /siblings/a</li>');
      const b = indexOf(html, '<li data-component="sibling-b">b from /siblings/b</li>');
      const c = indexOf(html, '<li data-component="sibling-c">c from /siblings/c</li>');
      assert.ok(a < b && b < c, 'document order a, b, c');
      assertCalledOnce(api, PAGES.siblings);
    });

    test('timing: nested and slot chains are waterfalls, siblings are not', async (t) => {
      /** @type {Record<string, number>} */
      const min = {};
      for (const page of /** @type {(keyof typeof PAGES)[]} */ (Object.keys(PAGES))) {
        api.reset();
        const { min: ms, samples } = await minRequestTime(`${server.url}/${page}`, { tries: 5 });
        min[page] = ms;
        // Every request called every endpoint of the page exactly once.
        for (const path of PAGES[page]) assert.equal(api.count(path), 5, `${path} calls for 5 requests`);
        t.diagnostic(`${env} /${page}: min ${ms.toFixed(1)} ms of [${samples.map((s) => s.toFixed(0)).join(', ')}]`);
      }
      console.log(`e2e ${env}: min of 5 (ms): nested ${min.nested.toFixed(1)}, slots ${min.slots.toFixed(1)}, siblings ${min.siblings.toFixed(1)}`);
      assert.ok(min.nested >= 3 * DELAY_MS, `nested: ${min.nested} ms, expected >= ${3 * DELAY_MS} (a 3-deep waterfall)`);
      assert.ok(min.slots >= 3 * DELAY_MS, `slots: ${min.slots} ms, expected >= ${3 * DELAY_MS} (a 3-deep waterfall)`);
      assert.ok(min.siblings < 2 * DELAY_MS, `siblings: ${min.siblings} ms, expected < ${2 * DELAY_MS} (rendered concurrently)`);
    });
  });

  describe(`plain-nested, astro dev with ${env}`, () => {
    /** @type {import('../../harness/harness.js').LatencyApi} */
    let api;
    /** @type {import('../../harness/harness.js').RunningServer} */
    let server;

    before(async () => {
      api = await startLatencyApi({ delayMs: DELAY_MS });
      const root = await prepareFixture(env, 'plain-nested', { as: 'plain-nested-dev' });
      server = await dev(root, { env: { HOIST_API: api.url } });
    }, { timeout: SETUP_TIMEOUT_MS });

    after(async () => {
      await server?.stop();
      await api?.stop();
    });

    test('serves the nested page, each endpoint once per request', async () => {
      await fetchText(`${server.url}/nested`); // first request compiles the page
      api.reset();
      const html = await fetchText(`${server.url}/nested`);
      indexOf(html, '<p>inner from /nested/inner</p>');
      assertCalledOnce(api, PAGES.nested);
    });
  });

  describe(`plain-nested as output: 'static', built with ${env}`, () => {
    /** @type {import('../../harness/harness.js').LatencyApi} */
    let api;
    /** @type {import('../../harness/harness.js').RunningServer} */
    let server;

    before(async () => {
      api = await startLatencyApi({ delayMs: 0 });
      const root = await prepareFixture(env, 'plain-nested', {
        as: 'plain-nested-static',
        files: {
          'astro.config.mjs': "import { defineConfig } from 'astro/config';\nexport default defineConfig({ output: 'static' });\n",
        },
      });
      await build(root, { env: { HOIST_API: api.url } });
      server = await serve(root);
    }, { timeout: SETUP_TIMEOUT_MS });

    after(async () => {
      await server?.stop();
      await api?.stop();
    });

    test('pages fetched their data once, at build time', async () => {
      for (const paths of Object.values(PAGES)) assertCalledOnce(api, paths);
      api.reset();
      const html = await fetchText(`${server.url}/slots`);
      indexOf(html, 'leaf from /slots/leaf');
      assert.equal(api.calls.length, 0, 'a static page fetches nothing when served');
    });
  });
}

// <Defer> (out-of-order streaming) end to end on Astro 7 and 5, over HTTP and in headless
// Chromium (Debian's, through playwright-core): the footer arrives before the slow part (chunk
// timings), the fallback shows, then the content in its place with its scoped styles and a
// hydrated Preact island; two Defers resolve in reverse order; a failing part shows its error
// slot (or removes its fallback); a client disconnect aborts the deferred loader; a client-router
// navigation to the page swaps the part in; every page runs under Astro's content security policy
// with no console error; `astro dev` streams the same; a prerendered page renders the part in
// place. Screenshots before and after the swap are compared.
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import {
  CHROMIUM_ARGS,
  ENVIRONMENTS,
  REPO_ROOT,
  build,
  dev,
  ensureChromium,
  fetchResponse,
  installPackedAddon,
  packAddon,
  prepareFixture,
  serve,
  startLatencyApi,
  stopAll,
  streamTimes,
} from '../../harness/harness.js';

/** @typedef {import('../../harness/harness.js').RunningServer} RunningServer */
/** @typedef {import('../../harness/harness.js').LatencyApi} LatencyApi */

const SETUP_TIMEOUT_MS = 15 * 60_000;
const SLOW_MS = 800;
const PROCESS_TROUBLE = /unhandled|ERR_UNHANDLED_REJECTION|MaxListenersExceeded/i;

/** @type {string[]} */
let tarballs = [];
/** @type {import('playwright-core').Browser | undefined} */
let browser;
/** @type {{ path: string } | { skip: string }} */
let chromium = { skip: 'not checked' };
before(async () => {
  tarballs = await packAddon({ destination: path.join(REPO_ROOT, '.e2e', 'packs-defer') });
  chromium = ensureChromium();
  if ('path' in chromium) {
    const { chromium: launcher } = await import('playwright-core');
    browser = await launcher.launch({
      executablePath: chromium.path,
      args: CHROMIUM_ARGS,
    });
  }
}, { timeout: SETUP_TIMEOUT_MS });
after(async () => {
  await browser?.close();
  await stopAll();
});

/**
 * A page in a fresh browser context, collecting console errors and page errors (a CSP violation
 * is a console error).
 * @param {import('node:test').TestContext} t
 */
async function openPage(t) {
  if (!browser) {
    t.skip('skip' in chromium ? chromium.skip : 'no browser');
    return null;
  }
  const context = await browser.newContext({ viewport: { width: 900, height: 700 } });
  t.after(() => context.close());
  const page = await context.newPage();
  /** @type {string[]} */
  const errors = [];
  page.on('console', (message) => {
    if (message.type() === 'error') errors.push(message.text());
  });
  page.on('pageerror', (error) => errors.push(String(error)));
  return { page, errors };
}

for (const env of ENVIRONMENTS) {
  describe(`<Defer> (${env})`, () => {
    /** @type {LatencyApi} */
    let api;
    /** @type {RunningServer} */
    let server;
    const shots = path.join(REPO_ROOT, '.e2e', 'screenshots', env);

    before(async () => {
      await installPackedAddon(env, tarballs);
      api = await startLatencyApi({ delayMs: 50 });
      const root = await prepareFixture(env, 'defer');
      await build(root, { env: { HOIST_API: api.url } });
      server = await serve(root, { env: { HOIST_API: api.url } });
      await fetchResponse(`${server.url}/nav`);
      mkdirSync(shots, { recursive: true });
    }, { timeout: SETUP_TIMEOUT_MS });

    after(async () => {
      await server?.stop();
      await api?.stop();
    });

    test('the footer arrives before the slow part, which follows the page in a template and its swap', async () => {
      const timing = await streamTimes(`${server.url}/defer`, ['id="header"', 'id="fallback"', 'id="footer"', '</html>', 'id="slow"']);
      assert.equal(timing.status, 200);
      const m = timing.markers;
      assert.ok(m['id="footer"'] < SLOW_MS * 0.25, `the footer came ${m['id="footer"']} ms in: ${JSON.stringify(m)}`);
      assert.ok(m['</html>'] < SLOW_MS * 0.25, `the page ended at ${m['</html>']} ms: ${JSON.stringify(m)}`);
      assert.ok(m['id="slow"'] >= SLOW_MS - 20, `the slow part came at ${m['id="slow"']} ms`);
      // The part follows the page, in an inert template, with the swap script after it.
      const text = timing.text;
      assert.ok(text.indexOf('id="slow"') > text.indexOf('</html>'));
      assert.match(text, /<template data-astro-hoist-defer="d1">[\s\S]*<section id="slow"[\s\S]*<\/template><script>\(\(\)=>\{/);
      assert.ok(text.includes('<astro-hoist-defer data-id="d1"><p id="fallback">'));
    });

    test('in a browser: the fallback, then the part in its place with its styles and a hydrated island; no console error under CSP', async (t) => {
      const opened = await openPage(t);
      if (!opened) return;
      const { page, errors } = opened;
      api.reset();
      const started = performance.now();
      await page.goto(`${server.url}/defer`, { waitUntil: 'commit' });
      await page.waitForSelector('#footer');
      const footerAt = performance.now() - started;
      assert.ok(await page.isVisible('#fallback'), 'the fallback shows while the part loads');
      assert.equal(await page.$('#slow'), null);
      const before = await page.screenshot({ path: path.join(shots, 'defer-before.png') });
      await page.waitForSelector('#slow', { timeout: 10_000 });
      const slowAt = performance.now() - started;
      assert.ok(footerAt < slowAt - SLOW_MS / 2, `footer at ${footerAt.toFixed(0)} ms, slow part at ${slowAt.toFixed(0)} ms`);
      assert.equal(await page.$('#fallback'), null, 'the fallback is gone');
      // In place: between the paragraphs around the Defer.
      const order = await page.$$eval('main > *', (nodes) => nodes.map((n) => n.id).filter(Boolean));
      assert.deepEqual(order, ['before', 'slow', 'after']);
      // Its scoped style applies.
      assert.equal(await page.$eval('#slow', (el) => getComputedStyle(el).color), 'rgb(0, 128, 0)');
      // The island hydrates: a click counts.
      await page.waitForFunction(() => !document.querySelector('astro-island[ssr]'), null, { timeout: 10_000 });
      await page.click('#counter');
      await page.waitForFunction(() => document.querySelector('#counter')?.textContent?.includes('clicked 1'), null, { timeout: 5_000 });
      const afterShot = await page.screenshot({ path: path.join(shots, 'defer-after.png') });
      assert.notDeepEqual(before, afterShot, 'the screenshots before and after the swap differ');
      assert.ok(afterShot.length > 5_000);
      assert.deepEqual(errors, [], 'no console error (CSP included)');
      assert.equal(api.count('/slow'), 1);
    });

    test('two Defers resolving in reverse order: each part lands in its own place', async (t) => {
      const timing = await streamTimes(`${server.url}/two`, ['id="part-first"', 'id="part-second"']);
      assert.ok(timing.markers['id="part-second"'] < timing.markers['id="part-first"'], JSON.stringify(timing.markers));
      const opened = await openPage(t);
      if (!opened) return;
      const { page, errors } = opened;
      await page.goto(`${server.url}/two`);
      await page.waitForSelector('#part-first', { timeout: 10_000 });
      assert.deepEqual(await page.$$eval('main > *', (nodes) => nodes.map((n) => n.id).filter(Boolean)), ['part-first', 'part-second']);
      assert.deepEqual(errors, []);
    });

    test('a failing part shows its error slot, or removes its fallback; the page still completes', async (t) => {
      const response = await fetchResponse(`${server.url}/error`);
      assert.equal(response.status, 200);
      assert.match(response.text, /id="footer"/);
      const opened = await openPage(t);
      if (!opened) return;
      const { page, errors } = opened;
      await page.goto(`${server.url}/error`);
      await page.waitForSelector('#error-slot', { timeout: 10_000 });
      await page.waitForFunction(() => !document.querySelector('#fallback-without-error-slot'), null, { timeout: 10_000 });
      assert.equal(await page.$('#fallback-with-error-slot'), null);
      assert.equal(await page.$('#broken'), null);
      assert.equal(await page.$eval('#no-error-slot', (el) => el.textContent?.trim()), '');
      assert.deepEqual(errors, []);
      assert.match(server.output(), /<Defer> on \/error: its content failed to render/);
    });

    test('a client that disconnects before the part aborts its loader', async () => {
      api.reset();
      const controller = new AbortController();
      const response = await fetch(`${server.url}/defer`, { signal: controller.signal });
      const reader = /** @type {ReadableStream<Uint8Array>} */ (response.body).getReader();
      const decoder = new TextDecoder();
      let text = '';
      while (!text.includes('</html>')) {
        const { done, value } = await reader.read();
        if (done) break;
        text += decoder.decode(value, { stream: true });
      }
      controller.abort();
      const deadline = Date.now() + 5_000;
      while ((api.aborted.get('/slow') ?? 0) === 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 25));
      assert.equal(api.aborted.get('/slow'), 1, `the slow loader was aborted: ${JSON.stringify([...api.aborted])}`);
      await new Promise((resolve) => setTimeout(resolve, SLOW_MS));
      assert.equal(server.output().match(PROCESS_TROUBLE), null, server.output());
    });

    test('a client-router navigation to the page swaps the part in', async (t) => {
      const opened = await openPage(t);
      if (!opened) return;
      const { page, errors } = opened;
      await page.goto(`${server.url}/nav`);
      await page.click('#to-defer');
      await page.waitForSelector('#slow', { timeout: 10_000 });
      assert.equal(new URL(page.url()).pathname, '/defer');
      assert.equal(await page.$('#fallback'), null);
      assert.deepEqual(await page.$$eval('main > *', (nodes) => nodes.map((n) => n.id).filter(Boolean)), ['before', 'slow', 'after']);
      // The island hydrates after the navigation too.
      await page.click('#slow #counter');
      await page.waitForFunction(() => document.querySelector('#slow #counter')?.textContent?.includes('clicked 1'), null, { timeout: 5_000 });
      // No script refused: the swap and the part's scripts run under the first page's policy (the
      // client router keeps it). Astro's own inline island style may be refused there, Defer or
      // not (that policy hashes the first page's styles), so style reports are not counted.
      assert.deepEqual(errors.filter((e) => !/style-src/.test(e)), []);
    });

    test('astro dev streams the parts the same way', async () => {
      const root = await prepareFixture(env, 'defer', { as: 'defer-dev' });
      const devServer = await dev(root, { env: { HOIST_API: api.url } });
      try {
        await fetchResponse(`${devServer.url}/defer`); // the first request compiles the modules
        const timing = await streamTimes(`${devServer.url}/defer`, ['id="footer"', '</html>', 'id="slow"']);
        assert.equal(timing.status, 200);
        assert.ok(timing.markers['id="footer"'] < SLOW_MS * 0.25, JSON.stringify(timing.markers));
        assert.ok(timing.markers['id="slow"'] >= SLOW_MS - 20, JSON.stringify(timing.markers));
        assert.ok(timing.text.indexOf('<template data-astro-hoist-defer="d1">') > timing.text.indexOf('</html>'));
        const failing = await fetchResponse(`${devServer.url}/error`);
        assert.match(failing.text, /<template data-astro-hoist-defer="d1"><p id="error-slot">/);
      } finally {
        await devServer.stop();
      }
    });

    test('a prerendered page renders the part in place', async () => {
      const response = await fetchResponse(`${server.url}/static`);
      assert.equal(response.status, 200);
      assert.match(response.text, /<main>\s*<p class="part" id="part-static"[^>]*>part static<\/p>\s*<\/main>/);
      assert.doesNotMatch(response.text, /astro-hoist-defer|fallback-static/);
    });
  });
}

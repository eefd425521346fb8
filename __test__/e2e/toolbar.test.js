// The dev toolbar app end to end on Astro 7 and 5, in headless Chromium (Debian's, through
// playwright-core) against `astro dev`: the app lists the page's loaders with their planned waves
// and the last request's actual runs (a later wave starts after the data it waits for; cached,
// deferred and failed runs are marked), the loader that is not hoisted with its reason; a
// component's name asks the dev server to open that file at its loader's line; a client-router
// navigation shows the next page's loaders; an edit that makes a loader hoistable shows after the
// reload. Screenshots before and after opening the app are compared; the app's own is kept
// (`ASTRO_HOIST_UPDATE_SCREENSHOTS=1` on astro7 rewrites docs/toolbar.png, the README's).
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import {
  CHROMIUM_ARGS,
  ENVIRONMENTS,
  REPO_ROOT,
  dev,
  ensureChromium,
  fetchResponse,
  installPackedAddon,
  packAddon,
  prepareFixture,
  startLatencyApi,
  stopAll,
} from '../../harness/harness.js';

/** @typedef {import('../../harness/harness.js').RunningServer} RunningServer */
/** @typedef {import('../../harness/harness.js').LatencyApi} LatencyApi */
/** @typedef {{ component: string, wave: string, hoisted: string, runs: string, marks: string[], starts: number[], ends: number[] }} Row */

const SETUP_TIMEOUT_MS = 15 * 60_000;
const APP = 'astro-dev-toolbar-app-canvas[data-app-id="astro-hoist"]';
const BUTTON = 'astro-dev-toolbar .item[data-app-id="astro-hoist"]';
const PNG = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

/** @type {string[]} */
let tarballs = [];
/** @type {import('playwright-core').Browser | undefined} */
let browser;
/** @type {{ path: string } | { skip: string }} */
let chromium = { skip: 'not checked' };
before(async () => {
  tarballs = await packAddon({ destination: path.join(REPO_ROOT, '.e2e', 'packs-toolbar') });
  chromium = ensureChromium();
  if ('path' in chromium) {
    const { chromium: launcher } = await import('playwright-core');
    browser = await launcher.launch({ executablePath: chromium.path, args: CHROMIUM_ARGS });
  }
}, { timeout: SETUP_TIMEOUT_MS });
after(async () => {
  await browser?.close();
  await stopAll();
});

/**
 * The rows of the app's timeline, as the DOM says.
 * @param {import('playwright-core').Page} page
 * @returns {Promise<Row[]>}
 */
function rowsOf(page) {
  return page.locator(`${APP} .row`).evaluateAll((rows) =>
    rows.map((row) => {
      const el = /** @type {HTMLElement} */ (row);
      const bars = [...el.querySelectorAll('.bar')].map((bar) => /** @type {HTMLElement} */ (bar));
      return {
        component: el.dataset.component ?? '',
        wave: el.dataset.wave ?? '',
        hoisted: el.dataset.hoisted ?? '',
        runs: el.dataset.runs ?? '',
        marks: (el.dataset.marks ?? '').split(',').filter(Boolean),
        starts: bars.map((bar) => Number(bar.dataset.start)),
        ends: bars.map((bar) => Number(bar.dataset.end)),
      };
    }),
  );
}

/**
 * @param {Row[]} rows
 * @param {string} component
 */
function row(rows, component) {
  const found = rows.find((r) => r.component === component);
  assert.ok(found, `no row for ${component}: ${JSON.stringify(rows.map((r) => r.component))}`);
  return found;
}

/**
 * Opens the app from the toolbar and waits until it shows `path` with a row for `component`.
 * @param {import('playwright-core').Page} page
 * @param {string} component
 */
async function openApp(page, component) {
  await page.waitForSelector(BUTTON, { state: 'attached', timeout: 30_000 });
  // Astro's toolbar initializes its apps when the browser is idle; the button only works once
  // the app is ready.
  await page.waitForFunction(
    (selector) => {
      const toolbar = document.querySelector('astro-dev-toolbar');
      return Boolean(toolbar?.shadowRoot?.querySelector(selector)?.shadowRoot?.querySelector('astro-dev-toolbar-window'));
    },
    'astro-dev-toolbar-app-canvas[data-app-id="astro-hoist"]',
    { timeout: 30_000 },
  );
  await page.locator(BUTTON).click();
  await page.waitForSelector(`${APP} .row[data-component="${component}"]`, { timeout: 15_000 });
}

for (const env of ENVIRONMENTS) {
  describe(`dev toolbar app (${env})`, () => {
    /** @type {LatencyApi} */
    let api;
    /** @type {RunningServer} */
    let server;
    /** @type {string} */
    let root;
    const shots = path.join(REPO_ROOT, '.e2e', 'screenshots', env);

    before(async () => {
      await installPackedAddon(env, tarballs);
      api = await startLatencyApi({ delayMs: 20 });
      root = await prepareFixture(env, 'toolbar');
      server = await dev(root, { env: { HOIST_API: api.url } });
      // The first requests compile the modules (and fill the cached loader's entry).
      await fetchResponse(`${server.url}/`);
      await fetchResponse(`${server.url}/about`);
      mkdirSync(shots, { recursive: true });
    }, { timeout: SETUP_TIMEOUT_MS });

    after(async () => {
      await server?.stop();
      await api?.stop();
    });

    test('the app shows the page’s loaders by wave with the last request’s runs, the loader not hoisted, opens files, follows navigations', async (t) => {
      if (!browser) {
        t.skip('skip' in chromium ? chromium.skip : 'no browser');
        return;
      }
      const context = await browser.newContext({ viewport: { width: 1000, height: 760 } });
      t.after(() => context.close());
      const page = await context.newPage();
      /** @type {string[]} */
      const errors = [];
      page.on('pageerror', (error) => errors.push(String(error)));
      /** @type {string[]} */
      const opened = [];
      await page.route('**/__open-in-editor**', async (route) => {
        opened.push(new URL(route.request().url()).searchParams.get('file') ?? '');
        await route.fulfill({ status: 200, body: '' });
      });

      await page.goto(`${server.url}/`);
      await page.waitForSelector('#comments', { timeout: 15_000 }); // the deferred part is in
      assert.equal(await page.textContent('#broken'), 'broken: unavailable');
      const beforeShot = await page.screenshot();
      await openApp(page, 'src/components/Comments.astro');
      // Every run of the request has settled and reached the app (the deferred one last).
      await page.waitForSelector(`${APP} .row[data-component="src/components/Comments.astro"][data-runs="1"]`, { timeout: 15_000 });

      const rows = await rowsOf(page);
      assert.deepEqual(
        rows.map((r) => [r.component, r.wave, r.hoisted]).sort(),
        [
          ['src/components/Author.astro', '2', 'true'],
          ['src/components/Broken.astro', '1', 'true'],
          ['src/components/Comments.astro', '1', 'true'],
          ['src/components/Stats.astro', '1', 'true'],
          ['src/components/Weather.astro', '2', 'false'],
          ['src/layouts/Layout.astro', '1', 'true'],
          ['src/pages/index.astro', '1', 'true'],
        ],
      );
      for (const r of rows) assert.equal(r.runs, '1', `${r.component} ran once in the request: ${JSON.stringify(r)}`);
      // Wave 1 first (document order within a wave is the plan's).
      assert.deepEqual(rows.map((r) => r.wave), [...rows.map((r) => r.wave)].sort());
      // Actual times: wave 1 starts at once; the author (wave 2) starts after the page's data it
      // reads, and the page's loader ran as long as its endpoint takes.
      const pageRow = row(rows, 'src/pages/index.astro');
      const author = row(rows, 'src/components/Author.astro');
      assert.ok(author.starts[0] >= pageRow.ends[0], `the author started at ${author.starts[0]} ms, the page's data came at ${pageRow.ends[0]} ms`);
      assert.ok(pageRow.ends[0] - pageRow.starts[0] >= 55, JSON.stringify(pageRow));
      for (const component of ['src/components/Stats.astro', 'src/components/Comments.astro', 'src/components/Broken.astro', 'src/layouts/Layout.astro']) {
        assert.ok(row(rows, component).starts[0] < pageRow.ends[0], `${component} started with the page's batch: ${JSON.stringify(rows)}`);
      }
      // Marks: the cached loader was a hit (the warm-up request filled it), the part inside
      // <Defer> is deferred, the 500 failed.
      assert.deepEqual(row(rows, 'src/components/Stats.astro').marks, ['cache hit']);
      assert.deepEqual(row(rows, 'src/components/Comments.astro').marks, ['deferred']);
      assert.deepEqual(row(rows, 'src/components/Broken.astro').marks, ['failed']);
      assert.match(await page.getAttribute(`${APP} .row[data-component="src/components/Comments.astro"] .bar`, 'class') ?? '', /deferred/);
      assert.match(await page.getAttribute(`${APP} .row[data-component="src/components/Broken.astro"] .mark.failed`, 'title') ?? '', /HTTP 500/);
      // The loader that is not hoisted, with its reason.
      const notHoisted = await page.locator(`${APP} .not-hoisted li`).evaluateAll((items) =>
        items.map((li) => ({ component: /** @type {HTMLElement} */ (li).dataset.component, code: /** @type {HTMLElement} */ (li).dataset.code, reason: li.querySelector('.reason')?.textContent })),
      );
      assert.equal(notHoisted.length, 1, JSON.stringify(notHoisted));
      assert.equal(notHoisted[0].component, 'src/components/Weather.astro');
      assert.equal(notHoisted[0].code, 'props-not-traced');
      assert.match(notHoisted[0].reason ?? '', /^its props are not known before render: <Weather>: a call of `cityOf\(…\)`, computed at render/);
      assert.equal(await page.textContent(`${APP} .not-hoisted li button.where`), 'src/pages/index.astro:20:18');
      assert.match(await page.textContent(`${APP} .summary`) ?? '', /^7 loaders · 2 waves \(plain Astro: 3\) · response \d+ ms$/);

      // Screenshots: the page with the app open differs from the page without; the app's own.
      const withApp = await page.screenshot({ path: path.join(shots, 'toolbar-page.png') });
      const panel = await page.locator(`${APP} astro-dev-toolbar-window`).screenshot({ path: path.join(shots, 'toolbar.png') });
      for (const shot of [beforeShot, withApp, panel]) assert.ok(shot.subarray(0, 8).equals(PNG) && shot.length > 5_000, 'a PNG');
      assert.notDeepEqual(beforeShot, withApp, 'the page with the app open looks different');
      const width = panel.readUInt32BE(16);
      const height = panel.readUInt32BE(20);
      assert.ok(width >= 600 && height >= 250, `the app's panel is ${width}×${height}`);
      if (env === 'astro7' && process.env.ASTRO_HOIST_UPDATE_SCREENSHOTS === '1') {
        mkdirSync(path.join(REPO_ROOT, 'docs'), { recursive: true });
        copyFileSync(path.join(shots, 'toolbar.png'), path.join(REPO_ROOT, 'docs', 'toolbar.png'));
      }

      // A component's name opens its file at its loader, through the dev server's endpoint.
      await page.click(`${APP} .row[data-component="src/components/Stats.astro"] button.component`);
      await page.click(`${APP} .not-hoisted li[data-component="src/components/Weather.astro"] button.where`);
      const deadline = Date.now() + 5_000;
      while (opened.length < 2 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 25));
      assert.deepEqual(opened, [`${root}/src/components/Stats.astro:6:1`, `${root}/src/pages/index.astro:20:18`]);

      // A client-router navigation: the toolbar stays, the app shows the next page's request.
      await page.click('#to-about');
      await page.waitForSelector('#team');
      await page.waitForSelector(`${APP} .row[data-component="src/components/Team.astro"][data-runs="1"]`, { timeout: 15_000 });
      const aboutRows = await rowsOf(page);
      assert.deepEqual(
        aboutRows.map((r) => [r.component, r.wave, r.runs]).sort(),
        [
          ['src/components/Team.astro', '1', '1'],
          ['src/layouts/Layout.astro', '1', '1'],
          ['src/pages/about.astro', '1', '1'],
        ],
      );
      assert.equal(await page.locator(`${APP} .not-hoisted`).count(), 0);
      assert.equal(await page.getAttribute(`${APP} .route`, 'data-route'), '/about');
      assert.deepEqual(errors, []);
    });

    test('after an edit makes a loader’s props traceable, the app shows the new plan', async (t) => {
      if (!browser) {
        t.skip('skip' in chromium ? chromium.skip : 'no browser');
        return;
      }
      const context = await browser.newContext({ viewport: { width: 1000, height: 760 } });
      t.after(() => context.close());
      const page = await context.newPage();
      await page.goto(`${server.url}/`);
      await openApp(page, 'src/components/Weather.astro');
      assert.equal(await page.getAttribute(`${APP} .row[data-component="src/components/Weather.astro"]`, 'data-hoisted'), 'false');
      const file = path.join(root, 'src', 'pages', 'index.astro');
      const source = readFileSync(file, 'utf8');
      // Astro's dev server reloads the page for a changed page; the app is asked again.
      const reloaded = page.waitForEvent('load', { timeout: 30_000 });
      writeFileSync(file, source.replace('<Weather city={cityOf(post)} />', '<Weather city={`city-${post.label}`} />'));
      await reloaded;
      await page.waitForSelector('#weather');
      await openApp(page, 'src/components/Weather.astro');
      await page.waitForSelector(`${APP} .row[data-component="src/components/Weather.astro"][data-wave="2"][data-hoisted="true"][data-runs="1"]`, { timeout: 15_000 });
      assert.equal(await page.locator(`${APP} .not-hoisted`).count(), 0);
      // Its props now come from the page's data: it starts with the author, after the page's loader.
      const rows = await rowsOf(page);
      assert.ok(row(rows, 'src/components/Weather.astro').starts[0] >= row(rows, 'src/pages/index.astro').ends[0], JSON.stringify(rows));
    });
  });
}

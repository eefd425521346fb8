// The HTML report of `astro-hoist analyze` in headless Chromium (Debian's, installed with apt
// when missing): every route has a before and an after chart with a visible bar per loader, and
// the page loads nothing but itself.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { CHROMIUM_ARGS, ensureChromium } from '../../harness/browser.js';

const repo = path.join(path.dirname(fileURLToPath(import.meta.url)), '../..');
const cli = path.join(repo, 'js/cli.js');

/**
 * Run the CLI in a child process, reading the project on disk.
 * @param {string[]} args
 */
function run(args) {
  const child = spawnSync(process.execPath, [cli, ...args, '--disk'], { cwd: repo, encoding: 'utf8' });
  return { code: child.status, stdout: child.stdout, stderr: child.stderr };
}

// --- the HTML report in a browser ------------------------------------------------------------

test('HTML report in headless Chromium: every route has a before and an after chart with one bar per loader', async (t) => {
  const chromium = ensureChromium();
  if ('skip' in chromium) return t.skip(chromium.skip);
  const { chromium: launcher } = await import('playwright-core');
  const out = mkdtempSync(path.join(tmpdir(), 'astro-hoist-report-'));
  t.after(() => rmSync(out, { recursive: true, force: true }));
  const costs = path.join(out, 'costs.json');
  writeFileSync(costs, JSON.stringify({ 'src/layouts/SiteLayout.astro': 40, 'src/components/Article.astro': 120, 'src/components/AuthorCard.astro': 60, 'src/components/AuthorStats.astro': 60 }));
  const report = path.join(out, 'report.html');
  const result = run(['analyze', 'examples/site', '--json', '--costs', costs, '--html', report]);
  assert.equal(result.code, 0, result.stderr);
  assert.match(result.stderr, /wrote .*report\.html\n$/);
  const routes = JSON.parse(result.stdout).routes;
  assert.equal(routes.length, 3);

  const browser = await launcher.launch({
    executablePath: chromium.path,
    args: CHROMIUM_ARGS,
  });
  t.after(() => browser.close());
  const page = await browser.newPage({ viewport: { width: 1000, height: 900 } });
  /** @type {string[]} */
  const requests = [];
  page.on('request', (request) => requests.push(request.url()));
  await page.goto(pathToFileURL(report).href);
  assert.deepEqual(requests, [pathToFileURL(report).href], 'self-contained: no other request');

  const sections = await page.$$eval('section.route', (nodes) =>
    nodes.map((section) => ({
      entry: section.getAttribute('data-entry'),
      charts: [...section.querySelectorAll('svg[data-chart]')].map((svg) => ({
        chart: svg.getAttribute('data-chart'),
        bars: [...svg.querySelectorAll('[data-loader]')].map((bar) => ({
          id: bar.getAttribute('data-loader'),
          width: bar.getBoundingClientRect().width,
          start: Number(bar.getAttribute('data-start')),
        })),
      })),
    })),
  );
  assert.deepEqual(sections.map((s) => s.entry), routes.map((/** @type {any} */ r) => r.entry));
  for (const { entry, plan } of routes) {
    const section = sections.find((s) => s.entry === entry);
    assert.ok(section);
    assert.deepEqual(section.charts.map((c) => c.chart), ['before', 'after'], entry);
    for (const chart of section.charts) {
      assert.deepEqual(chart.bars.map((b) => b.id).sort(), plan.loaders.map((/** @type {any} */ l) => l.id).sort(), `${entry} ${chart.chart}`);
      for (const bar of chart.bars) assert.ok(bar.width >= 2, `${entry}: bar ${bar.id} is visible`);
    }
  }
  // The post page: a 3-round staircase before, everything at 0 after.
  const post = sections.find((s) => s.entry === 'src/pages/posts/[slug].astro');
  assert.deepEqual(post?.charts[0].bars.map((b) => b.start).sort((a, b) => a - b), [0, 120, 180]);
  assert.deepEqual(post?.charts[1].bars.map((b) => b.start), [0, 0, 0]);

  const screenshot = path.join(process.env.ASTRO_HOIST_SCREENSHOT_DIR ?? out, 'analyze-report.png');
  await page.screenshot({ path: screenshot, fullPage: true });
  assert.ok(statSync(screenshot).size > 10_000);
  t.diagnostic(`screenshot: ${screenshot}`);
});

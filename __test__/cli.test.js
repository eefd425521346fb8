// `astro-hoist analyze`: the pure formatting in js/report.js, the CLI as a process (arguments,
// exit codes, --json on the fixtures, the progress bar on a terminal), and the HTML report in
// headless Chromium.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

import { scanProject } from '../index.js';
import { analyzeProject, checkRoot, UsageError } from '../js/cli.js';
import { pageSubgraph } from '../js/plan.js';
import {
  buildHtmlReport,
  costsById,
  escapeHtml,
  formatTable,
  isRoute,
  loaderCycleFiles,
  niceTicks,
  progressLine,
  totals,
} from '../js/report.js';

const repo = path.join(path.dirname(fileURLToPath(import.meta.url)), '..');
const cli = path.join(repo, 'js/cli.js');
const fixture = (/** @type {string} */ name) => path.join(repo, '__test__/fixtures', name);
const TREE = fixture('analyze-tree');

/**
 * Run the CLI in a child process.
 * @param {string[]} args
 * @param {{ cwd?: string }} [options]
 */
function run(args, { cwd = repo } = {}) {
  const child = spawnSync(process.execPath, [cli, ...args], { cwd, encoding: 'utf8' });
  return { code: child.status, stdout: child.stdout, stderr: child.stderr };
}

/**
 * A project in a fresh temp folder, removed after the test.
 * @param {import('node:test').TestContext} t
 * @param {Record<string, string>} files
 */
function makeProject(t, files) {
  const root = mkdtempSync(path.join(tmpdir(), 'astro-hoist-cli-'));
  for (const [file, content] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(root, file)), { recursive: true });
    writeFileSync(path.join(root, file), content);
  }
  t.after(() => rmSync(root, { recursive: true, force: true }));
  return root;
}

const loaderComponent = (/** @type {string} */ extra = '', /** @type {string} */ template = '<p/>') =>
  `---\n${extra}\nexport const loader = async () => 1;\n---\n${template}\n`;

/** @param {any[]} plans @param {string} page */
function planOf(plans, page) {
  const plan = plans.find((p) => p.page === page);
  assert.ok(plan, `${page} was planned`);
  return plan;
}

// --- report.js, directly -------------------------------------------------------------------

test('niceTicks: round steps that reach the maximum', () => {
  assert.deepEqual(niceTicks(3), [0, 1, 2, 3]);
  assert.deepEqual(niceTicks(240), [0, 50, 100, 150, 200, 250]);
  assert.deepEqual(niceTicks(100), [0, 20, 40, 60, 80, 100]);
  assert.deepEqual(niceTicks(0.5), [0, 0.1, 0.2, 0.3, 0.4, 0.5]);
  assert.deepEqual(niceTicks(0), [0, 1]);
  for (const max of [7.5, 13, 999, 1234.5]) {
    const ticks = niceTicks(max);
    assert.ok(ticks[ticks.length - 1] >= max && ticks.length <= 12, `${max}: ${ticks}`);
  }
});

test('small helpers: escapeHtml, progressLine, isRoute, loaderCycleFiles', () => {
  assert.equal(escapeHtml(`<a href="x">'&'</a>`), '&#60;a href=&#34;x&#34;&#62;&#39;&#38;&#39;&#60;/a&#62;');
  assert.equal(progressLine(0, 4, 'pages planned', 8), '[--------] 0/4 pages planned');
  assert.equal(progressLine(3, 4, 'pages planned', 8), '[######--] 3/4 pages planned');
  assert.equal(progressLine(0, 0, 'x', 4), '[####] 0/0 x');
  assert.equal(isRoute('src/pages/blog/[slug].astro'), true);
  assert.equal(isRoute('src/pages/_partial.astro'), false);
  assert.equal(isRoute('src/pages/_lib/Card.astro'), false);
  assert.deepEqual(loaderCycleFiles(new Error('astro-hoist: loader dependency cycle: a.astro -> b.astro -> a.astro')), ['a.astro', 'b.astro', 'a.astro']);
  assert.equal(loaderCycleFiles(new Error('src/pages/x.astro is not a file of the scanned project')), null);
});

test('costsById: component ids and root-relative paths; unknown keys listed; bad values refused', async () => {
  const graph = await scanProject(TREE, { diskCache: false });
  const inner = graph.nodes.find((n) => n.file === 'src/components/Inner.astro');
  assert.ok(inner);
  const { costs, unknown } = costsById(graph, { [inner.info.id]: 5, './src/components/Outer.astro': 7, 'src/nope.astro': 1 });
  const outer = graph.nodes.find((n) => n.file === 'src/components/Outer.astro');
  assert.deepEqual(costs, { [inner.info.id]: 5, [outer?.info.id ?? '']: 7 });
  assert.deepEqual(unknown, ['src/nope.astro']);
  assert.throws(() => costsById(graph, [1, 2]), /JSON object/);
  assert.throws(() => costsById(graph, { 'src/components/Inner.astro': -1 }), /non-negative number/);
  assert.throws(() => costsById(graph, { 'src/components/Inner.astro': '5' }), /non-negative number/);
});

test('pageSubgraph: the same plan as the whole graph, for every page and option', async () => {
  const { planPage } = await import('../index.js');
  for (const root of [TREE, path.join(repo, 'examples/site')]) {
    const graph = await scanProject(root, { diskCache: false });
    for (const page of graph.pages) {
      const sub = pageSubgraph(graph, page);
      assert.ok(sub.nodes.length <= graph.nodes.length);
      for (const options of [{}, { speculative: true }, { concurrency: 1 }]) {
        assert.deepEqual(await planPage(sub, page, options), await planPage(graph, page, options), `${root} ${page}`);
      }
    }
  }
});

test('formatTable: a row per route with depths and reasons, then totals', async () => {
  const analysis = await analyzeProject(TREE, { diskCache: false });
  const text = formatTable(analysis, { rootLabel: 'analyze-tree' });
  const lines = text.split('\n');
  assert.equal(lines[0], 'astro-hoist analyze analyze-tree: 18 files, 5 pages');
  assert.match(lines[2], /^page\s+loaders\s+hoisted\s+depth$/);
  const row = (/** @type {string} */ page) => {
    const line = lines.find((l) => l.startsWith(`${page} `));
    assert.ok(line, page);
    return line.split(/\s{2,}/);
  };
  assert.deepEqual(row('src/pages/nested.astro'), ['src/pages/nested.astro', '3', '3', '3 → 1']);
  assert.deepEqual(row('src/pages/slots.astro'), ['src/pages/slots.astro', '3', '3', '3 → 1']);
  assert.deepEqual(row('src/pages/conditional.astro'), ['src/pages/conditional.astro', '2', '1', '1 → 1']);
  assert.deepEqual(row('src/pages/profile.astro'), ['src/pages/profile.astro', '2', '2', '2 → 2']);
  assert.deepEqual(row('src/pages/static.astro'), ['src/pages/static.astro', '0', '0', '0 → 0']);
  assert.ok(!text.includes('_partial'), 'not a route');
  const conditional = lines.indexOf(lines.find((l) => l.startsWith('src/pages/conditional.astro')) ?? '');
  assert.deepEqual(lines.slice(conditional + 1, conditional + 4), [
    '  - not hoisted: src/components/Hidden.astro',
    '      reachable only through conditional usages ({…}); starts when its component renders (speculative: true starts it early)',
    '  - conditional: src/components/Hidden.astro',
  ]);
  assert.ok(text.includes('  - waits: src/components/Profile.astro\n      awaits src/components/User.astro through ctx.load\n'));
  assert.match(text, /\ntotal: 5 pages; 10 loaders \(9 hoisted, 1 not hoisted, 1 conditional\); deepest waterfall 3 → 2; 2 pages shallower\n$/);
  assert.deepEqual(totals(analysis.plans).improved, 2);
  // With costs, a time column in ms.
  const timed = await analyzeProject(TREE, { diskCache: false, costs: { 'src/components/Outer.astro': 50, 'src/components/Middle.astro': 50, 'src/components/Inner.astro': 50 } });
  assert.deepEqual(formatTable(timed).split('\n').find((l) => l.startsWith('src/pages/nested.astro'))?.split(/\s{2,}/), ['src/pages/nested.astro', '3', '3', '3 → 1', '150 → 50 ms']);
});

test('buildHtmlReport: one bar per loader in each chart, self-contained, text escaped', async () => {
  const analysis = await analyzeProject(TREE, { diskCache: false });
  const html = buildHtmlReport(analysis);
  for (const plan of analysis.plans) {
    const start = html.indexOf(`<section class="page" id="page-`);
    assert.ok(start >= 0);
    const section = html.slice(html.indexOf(`data-page="${plan.page}"`)).split('</section>')[0];
    for (const chart of ['before', 'after']) {
      const svg = section.includes(`data-chart="${chart}"`) ? section.slice(section.indexOf(`data-chart="${chart}"`)).split('</svg>')[0] : '';
      const bars = [...svg.matchAll(/data-loader="([0-9a-f]{16})"/g)].map((m) => m[1]);
      assert.deepEqual(bars.sort(), plan.loaders.map((l) => l.id).sort(), `${plan.page} ${chart}`);
    }
  }
  assert.doesNotMatch(html, /<script|<link|<img|@import|url\(|src=|href="(?!#)/i, 'nothing external');
  const hostile = buildHtmlReport({ ...analysis, plans: [{ ...analysis.plans[0], page: 'src/pages/<x>&"y".astro' }] });
  assert.ok(hostile.includes('src/pages/&#60;x&#62;&#38;&#34;y&#34;.astro'));
  assert.ok(!hostile.includes('<x>'));
});

// --- the CLI as a process ------------------------------------------------------------------

test('--help, no command, bad flags', () => {
  const help = run(['--help']);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /^Usage: astro-hoist analyze \[root\]/);
  assert.match(help.stdout, /Exit codes:/);
  assert.equal(run(['analyze', '--help']).code, 0);
  assert.match(run(['--version']).stdout, /^\d+\.\d+\.\d+\n$/);
  const none = run([]);
  assert.equal(none.code, 2);
  assert.match(none.stderr, /^astro-hoist: a command is required/);
  assert.deepEqual(run(['analyse']), { code: 2, stdout: '', stderr: "astro-hoist: unknown command 'analyse' (the command is analyze)\n" });
  const unknown = run(['analyze', '--frobnicate']);
  assert.equal(unknown.code, 2);
  // Node words the first part; one line either way.
  assert.match(unknown.stderr, /^astro-hoist: Unknown option '--frobnicate'[^\n]*\(astro-hoist --help lists the options\)\n$/);
  assert.equal(run(['analyze', TREE, '--concurrency']).stderr.split('\n').length, 2, 'one line');
  for (const bad of ['0', '-1', '1.5', 'x']) {
    const result = run(['analyze', TREE, `--concurrency=${bad}`]);
    assert.equal(result.code, 2, bad);
    assert.match(result.stderr, /--concurrency must be a positive integer/);
  }
  assert.equal(run(['analyze', 'a', 'b']).code, 2);
});

test('a root that does not exist or is not a project: one line, exit 2', (t) => {
  const missing = run(['analyze', 'no/such/dir']);
  assert.equal(missing.code, 2);
  assert.equal(missing.stderr, 'astro-hoist: no/such/dir does not exist\n');
  assert.equal(missing.stdout, '');
  const empty = makeProject(t, { 'notes.txt': 'hi' });
  const notProject = run(['analyze', empty]);
  assert.equal(notProject.code, 2);
  assert.equal(notProject.stderr, `astro-hoist: ${empty} is not an Astro project (no package.json, astro.config.* or src/ folder)\n`);
  const file = run(['analyze', 'package.json']);
  assert.equal(file.code, 2);
  assert.equal(file.stderr, 'astro-hoist: package.json is not a directory\n');
  assert.throws(() => checkRoot(path.join(empty, 'x')), UsageError);
  assert.equal(checkRoot(TREE), TREE);
  const costs = run(['analyze', TREE, '--costs', 'nope.json']);
  assert.equal(costs.code, 2);
  assert.match(costs.stderr, /^astro-hoist: cannot read costs file nope\.json: /);
});

test('analyze --json on plain-nested: its frontmatter awaits are not loaders, so nothing to hoist', () => {
  // plain-nested is the plain-Astro baseline of the e2e tests: components await in their
  // frontmatter (3 deep in nested, 3 levels of slots, 3 siblings), without `export const loader`.
  // Astro's own waterfall there is 3 / 3 / 1 rounds, but analyze sees only loaders: none.
  const result = run(['analyze', fixture('plain-nested'), '--json']);
  assert.equal(result.code, 0, result.stderr);
  assert.equal(result.stderr, '');
  const json = JSON.parse(result.stdout);
  assert.deepEqual(Object.keys(json), ['pages', 'cycles', 'diagnostics']);
  assert.deepEqual(
    json.pages.map((/** @type {any} */ p) => [p.page, p.loaders.length, p.depthBefore, p.depthAfter]),
    [
      ['src/pages/index.astro', 0, 0, 0],
      ['src/pages/nested.astro', 0, 0, 0],
      ['src/pages/siblings.astro', 0, 0, 0],
      ['src/pages/slots.astro', 0, 0, 0],
    ],
  );
  assert.deepEqual(json.diagnostics, []);
  assert.equal(existsSync(path.join(fixture('plain-nested'), 'node_modules')), false, 'no disk cache in a project without node_modules');
});

test('analyze --json on analyze-tree: nested and slotted 3 → 1, conditional waits, ctx.load waits', () => {
  const result = run(['analyze', TREE, '--json']);
  assert.equal(result.code, 0, result.stderr);
  const json = JSON.parse(result.stdout);
  assert.deepEqual(
    json.pages.map((/** @type {any} */ p) => [p.page, p.loaders.length, p.depthBefore, p.depthAfter]),
    [
      ['src/pages/conditional.astro', 2, 1, 1],
      ['src/pages/nested.astro', 3, 3, 1],
      ['src/pages/profile.astro', 2, 2, 2],
      ['src/pages/slots.astro', 3, 3, 1],
      ['src/pages/static.astro', 0, 0, 0],
    ],
  );
  const nested = planOf(json.pages, 'src/pages/nested.astro');
  assert.deepEqual(
    nested.loaders.map((/** @type {any} */ l) => [l.component, l.batchBefore, l.batch, l.hoisted]).sort(),
    [
      ['src/components/Inner.astro', 3, 1, true],
      ['src/components/Middle.astro', 2, 1, true],
      ['src/components/Outer.astro', 1, 1, true],
    ],
  );
  const slots = planOf(json.pages, 'src/pages/slots.astro');
  assert.deepEqual(slots.loaders.map((/** @type {any} */ l) => l.component).sort(), ['src/components/Card.astro', 'src/components/Leaf.astro', 'src/layouts/Layout.astro']);
  const hidden = planOf(json.pages, 'src/pages/conditional.astro').loaders.find((/** @type {any} */ l) => l.component === 'src/components/Hidden.astro');
  assert.deepEqual([hidden.conditional, hidden.hoisted], [true, false]);
  assert.match(hidden.reason, /conditional/);
  const profile = planOf(json.pages, 'src/pages/profile.astro').loaders.find((/** @type {any} */ l) => l.component === 'src/components/Profile.astro');
  assert.deepEqual([profile.hoisted, profile.batch], [true, 2]);
  assert.deepEqual(json.cycles, []);
  assert.deepEqual(json.diagnostics, []);

  const speculative = JSON.parse(run(['analyze', TREE, '--json', '--speculative']).stdout);
  const early = planOf(speculative.pages, 'src/pages/conditional.astro').loaders.find((/** @type {any} */ l) => l.component === 'src/components/Hidden.astro');
  assert.deepEqual([early.hoisted, early.batch], [true, 1]);
});

test('--costs (paths or ids) and --concurrency shape the times', (t) => {
  const dir = makeProject(t, {});
  const costs = path.join(dir, 'costs.json');
  writeFileSync(costs, JSON.stringify({ 'src/components/Outer.astro': 40, 'src/components/Middle.astro': 30, 'src/components/Inner.astro': 20, 'src/missing.astro': 1 }));
  const free = run(['analyze', TREE, '--json', '--costs', costs]);
  assert.equal(free.code, 0);
  assert.match(free.stderr, /^astro-hoist: warning: costs: no scanned component matches "src\/missing\.astro"\n$/);
  const nested = planOf(JSON.parse(free.stdout).pages, 'src/pages/nested.astro');
  assert.deepEqual([nested.makespanBefore, nested.makespan], [90, 40]);
  const one = planOf(JSON.parse(run(['analyze', TREE, '--json', '--costs', costs, '--concurrency', '1']).stdout).pages, 'src/pages/nested.astro');
  assert.deepEqual([one.makespanBefore, one.makespan], [90, 90]);
  assert.equal(one.order.length, 3);
  const table = run(['analyze', TREE, '--costs', costs, '--concurrency', '2']);
  assert.match(table.stdout, /^astro-hoist analyze .*: 18 files, 5 pages \(concurrency 2\)\n/);
  assert.match(table.stdout, /\nsrc\/pages\/nested\.astro\s+3\s+3\s+3 → 1\s+90 → 50 ms\n/);
  writeFileSync(costs, '{ "src/components/Outer.astro": "fast" }');
  const bad = run(['analyze', TREE, '--costs', costs]);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /non-negative number/);
});

test('a ctx.load cycle: exit 1, named once with every page it breaks; other pages still planned', (t) => {
  const dep = (/** @type {string} */ other) => `---\nimport { loader as other } from './${other}.astro';\nexport const loader = async (ctx) => ctx.load(other);\n---\n<p/>\n`;
  const root = makeProject(t, {
    'package.json': '{}',
    'src/components/X.astro': dep('Y'),
    'src/components/Y.astro': dep('X'),
    'src/components/Ok.astro': loaderComponent(),
    'src/pages/a.astro': "---\nimport X from '../components/X.astro';\n---\n<X />\n",
    'src/pages/b.astro': "---\nimport Y from '../components/Y.astro';\n---\n<Y />\n",
    'src/pages/fine.astro': "---\nimport Ok from '../components/Ok.astro';\n---\n<Ok />\n",
  });
  const table = run(['analyze', root]);
  assert.equal(table.code, 1);
  assert.match(table.stdout, /\nsrc\/pages\/fine\.astro\s+1\s+1\s+1 → 1\n/);
  const errors = table.stdout.split('\n').filter((l) => l.startsWith('error:'));
  assert.equal(errors.length, 1, table.stdout);
  assert.match(errors[0], /^error: loader dependency cycle src\/components\/[XY]\.astro -> src\/components\/[XY]\.astro -> src\/components\/[XY]\.astro \(breaks src\/pages\/a\.astro, src\/pages\/b\.astro\)$/);
  const json = run(['analyze', root, '--json']);
  assert.equal(json.code, 1);
  const doc = JSON.parse(json.stdout);
  assert.deepEqual(doc.pages.map((/** @type {any} */ p) => p.page), ['src/pages/fine.astro']);
  assert.equal(doc.diagnostics.length, 1);
  const [cycle] = doc.diagnostics;
  assert.equal(cycle.code, 'loader-cycle');
  assert.equal(cycle.severity, 'error');
  assert.match(cycle.file, /^src\/components\/[XY]\.astro$/);
  assert.equal(cycle.line, 3, 'points at the loader');
  assert.match(cycle.message, /loader dependency cycle: .* \(breaks src\/pages\/a\.astro, src\/pages\/b\.astro\)$/);
});

test('errors in rendered .astro files fail (exit 1); in unrendered files and warnings they do not', (t) => {
  const base = {
    'package.json': '{}',
    'src/components/Ok.astro': loaderComponent(),
    'src/components/Broken.astro': '---\nconst x = (;\n---\n<p/>\n',
  };
  const unrendered = makeProject(t, {
    ...base,
    'src/components/Let.astro': "---\nimport { getLoaderData } from 'astro-hoist/runtime';\nexport let loader = async () => 1;\n---\n<p/>\n",
    // A `loader` export in a file that does not use astro-hoist may mean anything: no warning.
    'src/components/Other.astro': '---\nexport let loader = { kind: "another framework" };\n---\n<p/>\n',
    'src/pages/index.astro': "---\nimport Ok from '../components/Ok.astro';\nimport Gone from '../components/Gone.astro';\nimport Let from '../components/Let.astro';\nimport Other from '../components/Other.astro';\n---\n<Ok /><Gone /><Let /><Other />\n",
  });
  const fine = run(['analyze', unrendered]);
  assert.equal(fine.code, 0, fine.stdout);
  // A file's own warnings say why a loader is missing from the plan.
  assert.match(fine.stdout, /\nsrc\/pages\/index\.astro\s+1\s+1\s+1 → 1\n/);
  assert.match(fine.stdout, /\nwarning: src\/components\/Let\.astro:3:1: `export let loader` .* is not a supported loader declaration.*\[unsupported-loader-form\]\n/);
  assert.doesNotMatch(fine.stdout, /Other\.astro/);
  assert.match(fine.stdout, /\nerror: src\/components\/Broken\.astro:2:\d+: .* \[syntax-error\]\n/);
  assert.match(fine.stdout, /\nwarning: src\/pages\/index\.astro:3:1: Cannot resolve `\.\.\/components\/Gone\.astro` .*\[unresolved-import\]\n/);
  const rendered = makeProject(t, { ...base, 'src/pages/index.astro': "---\nimport Broken from '../components/Broken.astro';\n---\n<Broken />\n" });
  const failed = run(['analyze', rendered]);
  assert.equal(failed.code, 1);
  assert.match(failed.stdout, /\nerror: src\/components\/Broken\.astro:2:\d+: .* \[syntax-error\]\n/);
  const json = JSON.parse(run(['analyze', rendered, '--json']).stdout);
  assert.equal(json.diagnostics.filter((/** @type {any} */ d) => d.severity === 'error').length, 1);
});

test('the package exposes the CLI as a bin', () => {
  const pkg = JSON.parse(readFileSync(path.join(repo, 'package.json'), 'utf8'));
  assert.deepEqual(pkg.bin, { 'astro-hoist': './js/cli.js' });
  assert.ok(pkg.files.includes('js/'));
  assert.ok(readFileSync(cli, 'utf8').startsWith('#!/usr/bin/env node\n'));
  assert.ok(statSync(cli).mode & 0o100, 'executable');
});

test('progress bar: on a terminal for a large project, never with --json or through a pipe', (t) => {
  const script = spawnSync('script', ['--version'], { encoding: 'utf8' });
  if (script.error) return t.skip('util-linux `script` (a pseudo terminal) is not available');
  /** @type {Record<string, string>} */
  const files = { 'package.json': '{}' };
  for (let i = 0; i < 320; i++) files[`src/components/C${i}.astro`] = loaderComponent(i % 8 < 7 ? `import N from './C${i + 1}.astro';` : '', i % 8 < 7 ? '<N />' : '<p/>');
  for (let p = 0; p < 40; p++) files[`src/pages/p${p}.astro`] = `---\nimport C from '../components/C${p * 8}.astro';\n---\n<C />\n`;
  const root = makeProject(t, files);
  /** @param {string[]} args */
  const onTerminal = (args) =>
    spawnSync('script', ['-qec', [process.execPath, cli, ...args].map((a) => `'${a}'`).join(' '), '/dev/null'], { encoding: 'utf8', env: { ...process.env, COLUMNS: '100' } });
  const tty = onTerminal(['analyze', root]);
  assert.equal(tty.status, 0, tty.stdout);
  assert.match(tty.stdout, /\r\x1b\[K\[[#-]{24}\] \d+\/40 pages planned/);
  assert.match(tty.stdout, /src\/pages\/p9\.astro\s+8\s+8\s+8 → 1/);
  const json = onTerminal(['analyze', root, '--json']);
  assert.doesNotMatch(json.stdout, /pages planned|\x1b\[K/);
  assert.equal(JSON.parse(json.stdout.replaceAll('\r\n', '\n')).pages.length, 40);
  const piped = run(['analyze', root]);
  assert.equal(piped.stderr, '');
  const small = onTerminal(['analyze', TREE]);
  assert.doesNotMatch(small.stdout, /pages planned/, 'a small project gets no bar');
});

// --- the HTML report in a browser ------------------------------------------------------------

const CHROMIUM = '/usr/bin/chromium';

/**
 * The Debian chromium binary, installed with apt when missing (CI runs as root on a fresh
 * machine). Returns a reason to skip when it cannot be had.
 * @returns {{ path: string } | { skip: string }}
 */
function ensureChromium() {
  if (existsSync(CHROMIUM)) return { path: CHROMIUM };
  const apt = spawnSync('apt-get', ['--version']);
  if (apt.error) return { skip: `${CHROMIUM} is missing and apt-get is not available to install it` };
  if (process.getuid?.() !== 0) return { skip: `${CHROMIUM} is missing; installing it needs root (apt-get install chromium)` };
  for (const args of [['update'], ['install', '-y', '--no-install-recommends', 'chromium']]) {
    const step = spawnSync('apt-get', args, { stdio: 'inherit', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' }, timeout: 15 * 60_000 });
    if (step.status !== 0) throw new Error(`apt-get ${args.join(' ')} failed (exit ${step.status ?? step.signal})`);
  }
  if (!existsSync(CHROMIUM)) throw new Error(`apt-get installed chromium but ${CHROMIUM} is missing`);
  return { path: CHROMIUM };
}

test('HTML report in headless Chromium: every page has a before and an after chart with one bar per loader', async (t) => {
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
  const plans = JSON.parse(result.stdout).pages;
  assert.equal(plans.length, 3);

  const browser = await launcher.launch({
    executablePath: chromium.path,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run', '--disable-sync'],
  });
  t.after(() => browser.close());
  const page = await browser.newPage({ viewport: { width: 1000, height: 900 } });
  /** @type {string[]} */
  const requests = [];
  page.on('request', (request) => requests.push(request.url()));
  await page.goto(pathToFileURL(report).href);
  assert.deepEqual(requests, [pathToFileURL(report).href], 'self-contained: no other request');

  const sections = await page.$$eval('section.page', (nodes) =>
    nodes.map((section) => ({
      page: section.getAttribute('data-page'),
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
  assert.deepEqual(sections.map((s) => s.page), plans.map((/** @type {any} */ p) => p.page));
  for (const plan of plans) {
    const section = sections.find((s) => s.page === plan.page);
    assert.ok(section);
    assert.deepEqual(section.charts.map((c) => c.chart), ['before', 'after'], plan.page);
    for (const chart of section.charts) {
      assert.deepEqual(chart.bars.map((b) => b.id).sort(), plan.loaders.map((/** @type {any} */ l) => l.id).sort(), `${plan.page} ${chart.chart}`);
      for (const bar of chart.bars) assert.ok(bar.width >= 2, `${plan.page}: bar ${bar.id} is visible`);
    }
  }
  // The post page: a 3-round staircase before, everything at 0 after.
  const post = sections.find((s) => s.page === 'src/pages/posts/[slug].astro');
  assert.deepEqual(post?.charts[0].bars.map((b) => b.start).sort((a, b) => a - b), [0, 120, 180]);
  assert.deepEqual(post?.charts[1].bars.map((b) => b.start), [0, 0, 0]);

  const screenshot = path.join(process.env.ASTRO_HOIST_SCREENSHOT_DIR ?? out, 'analyze-report.png');
  await page.screenshot({ path: screenshot, fullPage: true });
  assert.ok(statSync(screenshot).size > 10_000);
  t.diagnostic(`screenshot: ${screenshot}`);
});

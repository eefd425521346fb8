// `astro-hoist analyze`: the pure formatting in js/report.js, and the CLI as a process
// (arguments, exit codes, --json on the fixtures, the spinner on a terminal); the HTML report in
// a browser is an e2e test (report.test.js). These runs read projects on disk (`--disk`): reading them through Astro is
// tested end to end (e2e-parity), where Astro is installed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

import { analyzeProject } from '../../js/analyze.js';
import { checkRoot, terminalProgress, UsageError } from '../../js/cli.js';
import { buildHtmlReport, costsFromServerTiming, escapeHtml, formatTable, niceTicks, parseCosts, progressLine, routeLabel, totals, unknownCosts } from '../../js/report.js';

const repo = path.join(path.dirname(fileURLToPath(import.meta.url)), '../..');
const cli = path.join(repo, 'js/cli.js');
const fixture = (/** @type {string} */ name) => path.join(repo, '__test__/fixtures', name);
const TREE = fixture('analyze-tree');

/**
 * Run the CLI in a child process, reading the project on disk.
 * @param {string[]} args
 * @param {{ cwd?: string, disk?: boolean }} [options]
 */
function run(args, { cwd = repo, disk = true } = {}) {
  const child = spawnSync(process.execPath, [cli, ...args, ...(disk && args[0] === 'analyze' ? ['--disk'] : [])], { cwd, encoding: 'utf8' });
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
  `---\nimport { getLoaderData } from 'astro-hoist/runtime';\n${extra}\nexport const loader = async () => 1;\nconst data = await getLoaderData();\n---\n${template}\n`;

/** @param {any[]} routes @param {string} entry */
function planOf(routes, entry) {
  const route = routes.find((r) => r.entry === entry);
  assert.ok(route?.plan, `${entry} was planned`);
  return route.plan;
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

test('small helpers: escapeHtml, progressLine, routeLabel', () => {
  assert.equal(escapeHtml(`<a href="x">'&'</a>`), '&#60;a href=&#34;x&#34;&#62;&#39;&#38;&#39;&#60;/a&#62;');
  assert.equal(progressLine(0, 4, 'routes', 8), '[--------] 0/4 routes');
  assert.equal(progressLine(3, 4, 'routes', 8), '[######--] 3/4 routes');
  assert.equal(progressLine(0, 0, 'x', 4), '[####] 0/0 x');
  const route = (/** @type {any} */ kind) => routeLabel({ kind, pattern: '/x', entry: 'x' });
  assert.deepEqual(['page', 'injected', 'markdown', 'island'].map(route), ['/x', '/x (injected)', '/x (markdown)', '/x (server island)']);
});

test('parseCosts and unknownCosts: ids and root-relative paths; unknown keys listed; bad values refused', async () => {
  const analysis = await analyzeProject(TREE, { disk: true, diskCache: false });
  const inner = planOf(analysis.routes, 'src/pages/nested.astro').loaders.find((/** @type {any} */ l) => l.component === 'src/components/Inner.astro');
  const costs = parseCosts({ [inner.id]: 5, './src/components/Outer.astro': 7, 'src\\components\\Middle.astro': 3, 'src/nope.astro': 1 });
  assert.deepEqual(costs, { [inner.id]: 5, 'src/components/Outer.astro': 7, 'src/components/Middle.astro': 3, 'src/nope.astro': 1 });
  assert.deepEqual(unknownCosts(costs, analysis.routes), ['src/nope.astro']);
  assert.throws(() => parseCosts([1, 2]), /JSON object/);
  assert.throws(() => parseCosts({ 'src/components/Inner.astro': -1 }), /non-negative number/);
  assert.throws(() => parseCosts({ 'src/components/Inner.astro': '5' }), /non-negative number/);
});

test('formatTable: a row per route with depths and reasons, then totals', async () => {
  const analysis = await analyzeProject(TREE, { disk: true, diskCache: false });
  const text = formatTable(analysis, { rootLabel: 'analyze-tree' });
  const lines = text.split('\n');
  assert.match(lines[0], /^astro-hoist analyze analyze-tree: 5 routes, \d+ modules, read on disk/);
  assert.match(lines[2], /^route\s+entry\s+loaders\s+hoisted\s+depth$/);
  const row = (/** @type {string} */ pattern) => {
    const line = lines.find((l) => l.startsWith(`${pattern} `));
    assert.ok(line, pattern);
    return line.split(/\s{2,}/);
  };
  assert.deepEqual(row('/nested'), ['/nested', 'src/pages/nested.astro', '3', '3', '3 → 1']);
  assert.deepEqual(row('/slots'), ['/slots', 'src/pages/slots.astro', '3', '3', '3 → 1']);
  assert.deepEqual(row('/conditional'), ['/conditional', 'src/pages/conditional.astro', '2', '1', '1 → 1']);
  assert.deepEqual(row('/profile'), ['/profile', 'src/pages/profile.astro', '2', '2', '2 → 2']);
  assert.deepEqual(row('/static'), ['/static', 'src/pages/static.astro', '0', '0', '0 → 0']);
  assert.ok(!text.includes('_partial'), 'not a route');
  const conditional = lines.indexOf(lines.find((l) => l.startsWith('/conditional')) ?? '');
  assert.deepEqual(lines.slice(conditional + 1, conditional + 4), [
    '  - not hoisted: src/components/Hidden.astro',
    '      reached only through conditional usages ({…}) or a guard: starts with the batch of the component that renders it conditionally (speculative: true starts it early)',
    '  - conditional: src/components/Hidden.astro',
  ]);
  assert.ok(text.includes('  - waits: src/components/Profile.astro\n      awaits src/components/User.astro through ctx.load\n'));
  assert.match(text, /\ntotal: 5 routes; 10 loaders \(9 hoisted, 1 not hoisted, 1 conditional\); deepest waterfall 3 → 2; 2 routes shallower\n/);
  assert.deepEqual(totals(analysis.routes).improved, 2);
  // With costs, a time column in ms.
  const timed = await analyzeProject(TREE, { disk: true, diskCache: false, costs: { 'src/components/Outer.astro': 50, 'src/components/Middle.astro': 50, 'src/components/Inner.astro': 50 } });
  assert.deepEqual(formatTable(timed).split('\n').find((l) => l.startsWith('/nested'))?.split(/\s{2,}/), ['/nested', 'src/pages/nested.astro', '3', '3', '3 → 1', '150 → 50 ms']);
});

test('buildHtmlReport: one bar per loader in each chart, self-contained, text escaped', async () => {
  const analysis = await analyzeProject(TREE, { disk: true, diskCache: false });
  const html = buildHtmlReport(analysis);
  for (const route of analysis.routes) {
    const plan = route.plan;
    assert.ok(plan);
    const section = html.slice(html.indexOf(`data-route="${route.pattern}"`)).split('</section>')[0];
    for (const chart of ['before', 'after']) {
      const svg = section.includes(`data-chart="${chart}"`) ? section.slice(section.indexOf(`data-chart="${chart}"`)).split('</svg>')[0] : '';
      const bars = [...svg.matchAll(/data-loader="([0-9a-f]{16})"/g)].map((m) => m[1]);
      assert.deepEqual(bars.sort(), plan.loaders.map((l) => l.id).sort(), `${route.pattern} ${chart}`);
      // The chart with hoisting draws an arrow from each loader another waits for, to that one.
      const arrows = [...svg.matchAll(/class="arrow" data-from="([0-9a-f]{16})" data-to="([0-9a-f]{16})"/g)].map((m) => `${m[1]}>${m[2]}`);
      const waits = chart === 'after' ? plan.loaders.filter((l) => l.hoisted).flatMap((l) => l.waitsFor.map((from) => `${from}>${l.id}`)) : [];
      assert.deepEqual(arrows.sort(), waits.sort(), `${route.pattern} ${chart} arrows`);
    }
  }
  assert.ok(html.includes('class="arrow"'), 'the ctx.load wait of /profile is drawn');
  assert.doesNotMatch(html, /<script|<link|<img|@import|url\(|src=|href="(?!#)/i, 'nothing external');
  const hostile = buildHtmlReport({ ...analysis, routes: [{ ...analysis.routes[0], pattern: '/<x>&"y"' }] });
  assert.ok(hostile.includes('/&#60;x&#62;&#38;&#34;y&#34;'));
  assert.ok(!hostile.includes('<x>'));
});

// --- the CLI as a process ------------------------------------------------------------------

test('--help, no command, bad flags', () => {
  const help = run(['--help']);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /^Usage: astro-hoist analyze \[root\]/);
  assert.match(help.stdout, /Exit codes:/);
  assert.match(help.stdout, /^       astro-hoist migrate <file.astro>.../m);
  assert.equal(run(['analyze', '--help']).code, 0);
  assert.match(run(['--version']).stdout, /^\d+\.\d+\.\d+\n$/);
  const none = run([]);
  assert.equal(none.code, 2);
  assert.match(none.stderr, /^astro-hoist: a command is required/);
  assert.deepEqual(run(['analyse']), { code: 2, stdout: '', stderr: "astro-hoist: unknown command 'analyse' (the commands are analyze and migrate)\n" });
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
  // Astro's own waterfall there is 3 / 3 / 1 rounds: no loader to hoist, but the waterfall
  // finder sees the chains of awaits.
  const result = run(['analyze', fixture('plain-nested'), '--json']);
  assert.equal(result.code, 0, result.stderr);
  assert.equal(result.stderr, '');
  const json = JSON.parse(result.stdout);
  assert.deepEqual(Object.keys(json), ['version', 'root', 'source', 'files', 'options', 'routes', 'diagnostics', 'cycles']);
  assert.equal(json.source, 'disk');
  assert.deepEqual(
    json.routes.map((/** @type {any} */ r) => [r.pattern, r.entry, r.plan.loaders.length, r.plan.depthBefore, r.plan.depthAfter]),
    [
      ['/', 'src/pages/index.astro', 0, 0, 0],
      ['/nested', 'src/pages/nested.astro', 0, 0, 0],
      ['/siblings', 'src/pages/siblings.astro', 0, 0, 0],
      ['/slots', 'src/pages/slots.astro', 0, 0, 0],
    ],
  );
  assert.deepEqual(json.diagnostics, []);
  assert.equal(existsSync(path.join(fixture('plain-nested'), 'node_modules')), false, 'no disk cache in a project without node_modules');
  assert.deepEqual(
    json.routes.map((/** @type {any} */ r) => [r.pattern, r.plan.awaitDepth, r.plan.awaitDepthAfter]),
    [['/', 0, 0], ['/nested', 3, 1], ['/siblings', 1, 1], ['/slots', 3, 1]],
  );
  const slots = planOf(json.routes, 'src/pages/slots.astro');
  assert.deepEqual(
    slots.awaits.map((/** @type {any} */ a) => `${a.step} ${a.component}:${a.line}:${a.column} ${a.text} ${a.movable}`),
    [
      "1 src/layouts/SlotLayout.astro:3:14 getJSON('/slots/layout') true",
      "2 src/components/SlotCard.astro:3:14 getJSON('/slots/card') true",
      "3 src/components/SlotLeaf.astro:3:14 getJSON('/slots/leaf') true",
    ],
  );
  const text = run(['analyze', fixture('plain-nested')]);
  assert.match(text.stdout, /\/slots\s+src\/pages\/slots\.astro: 3 steps → 1 step after migrate\n\s+1\s+src\/layouts\/SlotLayout\.astro:3:14\s+await getJSON\('\/slots\/layout'\)\s+\[movable\]/);
  assert.match(text.stdout, /suggest: astro-hoist migrate src\/components\/NestedOuter\.astro src\/components\/NestedMiddle\.astro src\/components\/NestedInner\.astro/);
  assert.doesNotMatch(text.stdout, /\/siblings\s+src\/pages\/siblings\.astro: /, 'siblings load side by side: no chain');
});

test('migrate: a preview by default, --write writes; each await that stays says why; bad input exits 2', (t) => {
  const page = "---\nimport { getPost } from '../lib/api';\nimport Comments from '../components/Comments.astro';\n\nconst slug = Astro.params.slug ?? '';\nconst post = await getPost(Astro.request, slug);\n---\n<h1>{post.title}</h1><Comments />\n";
  const comments = "---\nimport { getComments, getUser } from '../lib/api';\n\nconst user = await getUser(Astro.cookies.get('sid')?.value);\nconst comments = await getComments(user.id);\n---\n<p>{comments.length}</p>\n";
  const root = makeProject(t, { 'src/pages/[slug].astro': page, 'src/components/Comments.astro': comments, 'src/lib/api.ts': 'export const getPost = async () => ({});\n' });
  const preview = run(['migrate', 'src/pages/[slug].astro', 'src/components/Comments.astro'], { cwd: root });
  assert.equal(preview.code, 0, preview.stderr);
  assert.match(preview.stdout, /src\/pages\/\[slug\]\.astro:6:14  moves into the loader: await getPost\(Astro\.request, slug\)/);
  assert.match(preview.stdout, /\+export const loader = async \(\{ request, params \}\) => \{\n\+  const slug = params\.slug \?\? '';\n\+  return getPost\(request, slug\);\n\+\};/);
  assert.match(preview.stdout, /-const post = await getPost\(Astro\.request, slug\);\n\+const post = await getLoaderData<typeof loader>\(\);/);
  assert.match(preview.stdout, /src\/components\/Comments\.astro:4:14  stays: await getUser\(Astro\.cookies\.get\('sid'\)\?\.value\)\n\s+it reads `Astro\.cookies`/);
  assert.match(preview.stdout, /src\/components\/Comments\.astro:5:18  stays: await getComments\(user\.id\)\n\s+it reads `user`/);
  assert.equal(readFileSync(path.join(root, 'src/pages/[slug].astro'), 'utf8'), page, 'a preview writes nothing');

  const json = run(['migrate', '--json', 'src/components/Comments.astro'], { cwd: root });
  assert.deepEqual(JSON.parse(json.stdout).map((/** @type {any} */ m) => [m.file, m.changed, m.awaits.length]), [['src/components/Comments.astro', false, 2]]);

  const written = run(['migrate', '--write', 'src/pages/[slug].astro', 'src/components/Comments.astro'], { cwd: root });
  assert.equal(written.code, 0, written.stderr);
  assert.match(written.stdout, /wrote src\/pages\/\[slug\]\.astro/);
  assert.equal(readFileSync(path.join(root, 'src/components/Comments.astro'), 'utf8'), comments, 'nothing moved, nothing written');
  const after = run(['analyze', root, '--json']);
  const plan = planOf(JSON.parse(after.stdout).routes, 'src/pages/[slug].astro');
  assert.deepEqual(plan.loaders.map((/** @type {any} */ l) => [l.component, l.hoisted, l.wave]), [['src/pages/[slug].astro', true, 1]]);
  assert.deepEqual(plan.awaits.map((/** @type {any} */ a) => [a.component, a.step]), [['src/components/Comments.astro', 1], ['src/components/Comments.astro', 2]]);

  assert.equal(run(['migrate'], { cwd: root }).code, 2);
  const missing = run(['migrate', 'src/nope.astro'], { cwd: root });
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /^astro-hoist: no such file: /);
  const notAstro = run(['migrate', 'src/lib/api.ts'], { cwd: root });
  assert.equal(notAstro.code, 2);
  assert.match(notAstro.stderr, /src\/lib\/api\.ts is not an \.astro component/);
});

test('analyze --json on analyze-tree: nested and slotted 3 → 1, conditional waits, ctx.load waits', () => {
  const result = run(['analyze', TREE, '--json']);
  assert.equal(result.code, 0, result.stderr);
  const json = JSON.parse(result.stdout);
  assert.deepEqual(
    json.routes.map((/** @type {any} */ r) => [r.entry, r.plan.loaders.length, r.plan.depthBefore, r.plan.depthAfter]),
    [
      ['src/pages/conditional.astro', 2, 1, 1],
      ['src/pages/nested.astro', 3, 3, 1],
      ['src/pages/profile.astro', 2, 2, 2],
      ['src/pages/slots.astro', 3, 3, 1],
      ['src/pages/static.astro', 0, 0, 0],
    ],
  );
  const nested = planOf(json.routes, 'src/pages/nested.astro');
  assert.deepEqual(
    nested.loaders.map((/** @type {any} */ l) => [l.component, l.waveBefore, l.wave, l.hoisted]).sort(),
    [
      ['src/components/Inner.astro', 3, 1, true],
      ['src/components/Middle.astro', 2, 1, true],
      ['src/components/Outer.astro', 1, 1, true],
    ],
  );
  const slots = planOf(json.routes, 'src/pages/slots.astro');
  assert.deepEqual(slots.loaders.map((/** @type {any} */ l) => l.component).sort(), ['src/components/Card.astro', 'src/components/Leaf.astro', 'src/layouts/Layout.astro']);
  const hidden = planOf(json.routes, 'src/pages/conditional.astro').loaders.find((/** @type {any} */ l) => l.component === 'src/components/Hidden.astro');
  assert.deepEqual([hidden.conditional, hidden.hoisted], [true, false]);
  assert.match(hidden.reason, /conditional/);
  const profile = planOf(json.routes, 'src/pages/profile.astro').loaders.find((/** @type {any} */ l) => l.component === 'src/components/Profile.astro');
  assert.deepEqual([profile.hoisted, profile.wave], [true, 2]);
  assert.deepEqual(json.cycles, []);
  assert.deepEqual(
    json.diagnostics.map((/** @type {any} */ d) => [d.severity, d.code, d.file]),
    [['info', 'loader-unreached', 'src/components/Hidden.astro']],
    'Hidden is reached only conditionally',
  );

  const speculative = JSON.parse(run(['analyze', TREE, '--json', '--speculative']).stdout);
  const early = planOf(speculative.routes, 'src/pages/conditional.astro').loaders.find((/** @type {any} */ l) => l.component === 'src/components/Hidden.astro');
  assert.deepEqual([early.hoisted, early.wave], [true, 1]);
});

test('--costs (paths or ids) and --concurrency shape the times', (t) => {
  const dir = makeProject(t, {});
  const costs = path.join(dir, 'costs.json');
  writeFileSync(costs, JSON.stringify({ 'src/components/Outer.astro': 40, 'src/components/Middle.astro': 30, 'src/components/Inner.astro': 20, 'src/missing.astro': 1 }));
  const free = run(['analyze', TREE, '--json', '--costs', costs]);
  assert.equal(free.code, 0);
  assert.match(free.stderr, /^astro-hoist: warning: costs: no planned loader matches "src\/missing\.astro"\n$/);
  const nested = planOf(JSON.parse(free.stdout).routes, 'src/pages/nested.astro');
  assert.deepEqual([nested.makespanBefore, nested.makespan], [90, 40]);
  const one = planOf(JSON.parse(run(['analyze', TREE, '--json', '--costs', costs, '--concurrency', '1']).stdout).routes, 'src/pages/nested.astro');
  assert.deepEqual([one.makespanBefore, one.makespan], [90, 90]);
  assert.equal(one.order.length, 3);
  const table = run(['analyze', TREE, '--costs', costs, '--concurrency', '2']);
  assert.match(table.stdout, /^astro-hoist analyze .*: 5 routes, \d+ modules, read on disk .* \(concurrency 2\)\n/);
  assert.match(table.stdout, /\n\/nested\s+src\/pages\/nested\.astro\s+3\s+3\s+3 → 1\s+90 → 50 ms\n/);
  writeFileSync(costs, '{ "src/components/Outer.astro": "fast" }');
  const bad = run(['analyze', TREE, '--costs', costs]);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /non-negative number/);
});

test('--costs from production Server-Timing: the median per loader, by path or id; other metrics skipped', (t) => {
  const outer = 'src/components/Outer.astro';
  // What the middleware writes (serverTimingHeader / opaqueServerTimingHeader), as a log keeps it.
  const log = [
    `Server-Timing: components.Outer;dur=40.0;desc="${outer}", components.Middle;dur=30.0;desc="src/components/Middle.astro";cache=hit, db;dur=3`,
    `server-timing: components.Outer;dur=44.0;desc="${outer}"`,
    `components.Outer;dur=10.0;desc="${outer}", hoist-0123456789abcdef;dur=7.5`,
    '',
    'cdn-cache;desc="HIT", weird;desc="a, b";dur=1',
  ].join('\n');
  assert.deepEqual(costsFromServerTiming(log), { [outer]: 40, 'src/components/Middle.astro': 30, '0123456789abcdef': 7.5, 'a, b': 1 });
  assert.deepEqual(costsFromServerTiming('x;dur=1;desc="src/%C3%9C.astro"'), { 'src/Ü.astro': 1 });
  assert.throws(() => costsFromServerTiming('db;dur=3, cdn;desc="HIT"'), /no astro-hoist metric/);
  // Through the CLI: a non-JSON costs file is read as Server-Timing lines.
  const dir = makeProject(t, {});
  const file = path.join(dir, 'timings.log');
  writeFileSync(file, ['components.Outer;dur=40;desc="src/components/Outer.astro", components.Middle;dur=30;desc="src/components/Middle.astro", components.Inner;dur=20;desc="src/components/Inner.astro"', 'components.Outer;dur=40;desc="src/components/Outer.astro"'].join('\n'));
  const result = run(['analyze', TREE, '--json', '--costs', file]);
  assert.equal(result.code, 0, result.stderr);
  const nested = planOf(JSON.parse(result.stdout).routes, 'src/pages/nested.astro');
  assert.deepEqual([nested.makespanBefore, nested.makespan], [90, 40]);
});

test('a ctx.load cycle: exit 1, named once with every route it breaks; other routes still planned', (t) => {
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
  assert.match(table.stdout, /\n\/fine\s+src\/pages\/fine\.astro\s+1\s+1\s+1 → 1\n/);
  assert.match(table.stdout, /\n\/a\s+src\/pages\/a\.astro\s+-\s+-\s+-\n  - error: src\/components\/[XY]\.astro\n      loader dependency cycle: /);
  const errors = table.stdout.split('\n').filter((l) => l.startsWith('error:'));
  assert.equal(errors.length, 1, table.stdout);
  assert.match(errors[0], /^error: loader dependency cycle src\/components\/[XY]\.astro -> src\/components\/[XY]\.astro -> src\/components\/[XY]\.astro \(breaks \/a, \/b\)$/);
  const json = run(['analyze', root, '--json']);
  assert.equal(json.code, 1);
  const doc = JSON.parse(json.stdout);
  assert.deepEqual(doc.routes.filter((/** @type {any} */ r) => r.plan).map((/** @type {any} */ r) => r.pattern), ['/fine']);
  const broken = doc.routes.filter((/** @type {any} */ r) => r.error);
  assert.deepEqual(broken.map((/** @type {any} */ r) => [r.pattern, r.error.diagnostic.code]), [['/a', 'loader-cycle'], ['/b', 'loader-cycle']]);
  for (const route of broken) assert.deepEqual([...route.error.cycle].slice(0, -1).sort(), ['src/components/X.astro', 'src/components/Y.astro']);
  const cycles = doc.diagnostics.filter((/** @type {any} */ d) => d.code === 'loader-cycle');
  assert.equal(cycles.length, 1, 'listed once');
  const [cycle] = cycles;
  assert.equal(cycle.severity, 'error');
  assert.match(cycle.file, /^src\/components\/[XY]\.astro$/);
  assert.equal(cycle.line, 3, 'points at the loader');
  assert.match(cycle.help, /ctx\.load/);
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
  assert.match(fine.stdout, /\n\/\s+src\/pages\/index\.astro\s+1\s+1\s+1 → 1\n/);
  assert.match(fine.stdout, /\nwarning: src\/components\/Let\.astro:3:1: `export let loader` .* is not a supported loader declaration.*\[unsupported-loader-form\]\n/);
  assert.doesNotMatch(fine.stdout, /Other\.astro/);
  assert.match(fine.stdout, /\nerror: src\/components\/Broken\.astro:2:\d+: .* \[syntax-error\]\n/);
  assert.match(fine.stdout, /\nwarning: src\/pages\/index\.astro:7:\d+: cannot resolve '\.\.\/components\/Gone\.astro' .*\[unresolved-import\]\n/);
  const rendered = makeProject(t, { ...base, 'src/pages/index.astro': "---\nimport Broken from '../components/Broken.astro';\n---\n<Broken />\n" });
  const failed = run(['analyze', rendered]);
  assert.equal(failed.code, 1);
  assert.match(failed.stdout, /\nerror: src\/components\/Broken\.astro:2:\d+: .* \[syntax-error\]\n/);
  const json = JSON.parse(run(['analyze', rendered, '--json']).stdout);
  assert.equal(json.diagnostics.filter((/** @type {any} */ d) => d.severity === 'error').length, 1);
});

test('a loader no route renders is reported once, with why', (t) => {
  const root = makeProject(t, {
    'package.json': '{}',
    'src/components/Orphan.astro': loaderComponent(),
    'src/pages/index.astro': '<p/>\n',
  });
  const result = run(['analyze', root]);
  assert.equal(result.code, 0);
  const lines = result.stdout.split('\n').filter((l) => l.includes('Orphan'));
  assert.deepEqual(lines, ["warning: src/components/Orphan.astro:4:1: no route renders it (Astro's routes, their layouts and server islands): its loader never starts early [loader-unreached]"]);
});

test('--check: --max-depth and --fail-on fail with exit 1 and file:line; within budget it passes', () => {
  const within = run(['analyze', TREE, '--check', '--max-depth', '2']);
  assert.equal(within.code, 0, within.stderr);
  assert.match(within.stdout, /^check: passed$/m);
  const deep = run(['analyze', TREE, '--max-depth', '1', '--fail-on', 'conditional']);
  assert.equal(deep.code, 1);
  const failed = deep.stdout.split('\n').filter((l) => l.startsWith('check failed'));
  assert.deepEqual(failed.map((l) => l.match(/^check failed \[([\w-]+)\] (\S+):/)?.slice(1)), [
    ['conditional', 'src/components/Hidden.astro:5:1'],
    ['max-depth', 'src/components/Profile.astro'],
  ]);
  assert.match(failed[1], /2 data waves, more than --max-depth 1 \(src\/components\/User\.astro → src\/components\/Profile\.astro\) \(route \/profile\)/);
  const json = JSON.parse(run(['analyze', TREE, '--json', '--fail-on', 'not-hoisted']).stdout);
  assert.deepEqual(json.check.violations, [], 'a conditional loader is not a not-hoisted one');
  for (const bad of [['--max-depth', '0'], ['--fail-on', 'slow'], ['--check'], ['--baseline', 'missing.json']]) {
    const r = run(['analyze', TREE, ...bad]);
    assert.equal(r.code, 2, bad.join(' '));
    assert.equal(r.stderr.trim().split('\n').length, 1, bad.join(' '));
  }
});

test('--baseline fails where the plan got worse; --sarif names each cause at its file and line', (t) => {
  const root = makeProject(t, {
    'package.json': '{}',
    'src/pages/index.astro': "---\nimport A from '../components/A.astro';\n---\n<A />\n",
    'src/components/A.astro': loaderComponent("import B from './B.astro';", '<B />'),
    'src/components/B.astro': loaderComponent(),
  });
  const baseline = path.join(root, 'baseline.json');
  writeFileSync(baseline, run(['analyze', root, '--json']).stdout);
  assert.equal(run(['analyze', root, '--baseline', baseline]).code, 0);
  // B's loader now reads Astro: it runs at render, after A's; the route has two waves again.
  writeFileSync(
    path.join(root, 'src/components/B.astro'),
    "---\nimport { getLoaderData } from 'astro-hoist/runtime';\nexport const loader = async () => Astro.url.pathname;\nconst data = await getLoaderData();\n---\n<p/>\n",
  );
  const sarif = path.join(root, 'out.sarif');
  const worse = run(['analyze', root, '--baseline', baseline, '--sarif', sarif]);
  assert.equal(worse.code, 1, worse.stdout + worse.stderr);
  const failed = worse.stdout.split('\n').filter((l) => l.startsWith('check failed'));
  assert.equal(failed.length, 2, failed.join('\n'));
  assert.match(failed[0], /\[baseline\] src\/pages\/index\.astro: 2 data waves, 1 in the baseline/);
  assert.match(failed[1], /\[baseline\] src\/components\/B\.astro:3:1: its loader was hoisted in the baseline and is not now: .*reads `Astro`/);
  const log = JSON.parse(readFileSync(sarif, 'utf8'));
  assert.equal(log.version, '2.1.0');
  const [runLog] = log.runs;
  assert.equal(runLog.tool.driver.name, 'astro-hoist');
  assert.deepEqual(
    runLog.results.map((r) => [r.ruleId, r.locations[0].physicalLocation.artifactLocation.uri, r.locations[0].physicalLocation.region.startLine]),
    [
      ['baseline', 'src/pages/index.astro', 1],
      ['baseline', 'src/components/B.astro', 3],
    ],
  );
  assert.ok(runLog.originalUriBaseIds.PROJECTROOT.uri.startsWith('file:///'));
});

test('the package exposes the CLI as a bin', () => {
  const pkg = JSON.parse(readFileSync(path.join(repo, 'package.json'), 'utf8'));
  assert.deepEqual(pkg.bin, { 'astro-hoist': './js/cli.js' });
  assert.ok(pkg.files.includes('js/'));
  assert.ok(readFileSync(cli, 'utf8').startsWith('#!/usr/bin/env node\n'));
  assert.ok(statSync(cli).mode & 0o100, 'executable');
});

test('a spinner on a terminal names the phase after a short delay, and is erased; nothing when piped', async () => {
  /** @type {string[]} */
  const written = [];
  const tty = { isTTY: true, columns: 60, write: (/** @type {string} */ s) => written.push(s) };
  const progress = terminalProgress(tty);
  progress.onPhase?.('config');
  await new Promise((resolve) => setTimeout(resolve, 650));
  progress.clear();
  assert.ok(written.some((s) => /^\r\x1b\[K[|/\\-] loading the project's Astro config… 0\.\d s$/.test(s)), JSON.stringify(written));
  assert.equal(written[written.length - 1], '\r\x1b[K', 'erased at the end');
  /** @type {string[]} */
  const piped = [];
  const pipe = terminalProgress({ write: (/** @type {string} */ s) => piped.push(s) });
  await new Promise((resolve) => setTimeout(resolve, 500));
  pipe.clear();
  assert.deepEqual(piped, []);
  // --json on a terminal never writes progress.
  const script = spawnSync('script', ['--version'], { encoding: 'utf8' });
  if (script.error) return;
  const json = spawnSync('script', ['-qec', [process.execPath, cli, 'analyze', TREE, '--json', '--disk'].map((a) => `'${a}'`).join(' '), '/dev/null'], { encoding: 'utf8' });
  assert.doesNotMatch(json.stdout, /\x1b\[K/);
  assert.equal(JSON.parse(json.stdout.replaceAll('\r\n', '\n')).routes.length, 5);
});

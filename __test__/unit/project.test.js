// The native Project, the API the CLI and the Vite plugin build on (scanProject on disk, a
// Project answered from JS): a temp project
// with every way a component reaches a page, the planner's answers and refusals, the content
// cache in memory and on disk, and a scan of real `.astro` files shipped on npm (Starlight).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { Project, scanProject } from '../../index.js';
import { decodeRoutePlans, planRoutes } from '../../js/plans.js';

const repo = path.join(path.dirname(fileURLToPath(import.meta.url)), '../..');

/**
 * A project in a fresh temp folder.
 * @param {Record<string, string>} files root-relative path -> content
 * @returns {string} the root
 */
function makeProject(files) {
  const root = mkdtempSync(path.join(tmpdir(), 'astro-hoist-project-'));
  for (const [file, content] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(root, file)), { recursive: true });
    writeFileSync(path.join(root, file), content);
  }
  return root;
}

/**
 * An `.astro` component with a hoistable loader.
 * @param {string} name what it loads
 * @param {string} [imports] extra frontmatter lines
 * @param {string} [template]
 */
function withLoader(name, imports = '', template = '<p>{data}</p>') {
  return `---\nimport { getLoaderData } from 'astro-hoist/runtime';\nimport { db } from '../lib/db';\n${imports}\nexport const loader = async ({ signal }) => db('${name}', signal);\nconst data = await getLoaderData<typeof loader>();\n---\n${template}\n`;
}

/**
 * An `.astro` file without a loader.
 * @param {string} imports
 * @param {string} template
 */
function plain(imports, template) {
  return `---\n${imports}\n---\n${template}\n`;
}

const FILES = {
  'package.json': '{ "name": "fixture", "private": true }\n',
  // JSONC, as Astro's templates write it.
  'tsconfig.json': '{\n  // aliases\n  "compilerOptions": { "baseUrl": ".", "paths": { "~/*": ["src/*"], }, },\n}\n',
  'src/lib/db.ts': 'export const db = async (name: string, signal?: AbortSignal) => ({ name, aborted: signal?.aborted });\n',
  // nested: Outer > Middle (relative) > Inner (tsconfig `paths`)
  'src/components/Outer.astro': withLoader('outer', "import Middle from './Middle.astro';", '<section><Middle /></section>'),
  'src/components/Middle.astro': withLoader('middle', "import Inner from '~/components/Inner.astro';", '<div><Inner /></div>'),
  'src/components/Inner.astro': withLoader('inner'),
  'src/pages/nested.astro': plain("import Outer from '../components/Outer.astro';", '<Outer />'),
  // slots, through a barrel and through `options.alias`
  'src/layouts/Layout.astro': withLoader('layout', '', '<main><slot /></main>'),
  'src/components/Card.astro': withLoader('card', '', '<article><slot /></article>'),
  'src/components/Leaf.astro': withLoader('leaf'),
  'src/ui/index.ts': "export { default as Card } from '../components/Card.astro';\nexport * from './more';\n",
  'src/ui/more.ts': "import Leaf from '../components/Leaf.astro';\nexport { Leaf };\n",
  'src/pages/slots.astro': plain("import Layout from '@layouts/Layout.astro';\nimport { Card, Leaf } from '../ui';", '<Layout><Card><Leaf /></Card></Layout>'),
  // conditional: Hidden only under `{show && ...}`, on a cookie (not traced before render)
  'src/components/Shown.astro': withLoader('shown'),
  'src/components/Hidden.astro': withLoader('hidden'),
  'src/pages/conditional.astro': plain(
    "import Shown from '../components/Shown.astro';\nimport Hidden from '../components/Hidden.astro';\nconst show = Astro.cookies.has('show');",
    '<Shown />{show && <Hidden />}',
  ),
  // ctx.load: Profile awaits User's loader
  'src/components/User.astro': withLoader('user'),
  'src/components/Profile.astro': plain(
    "import { getLoaderData } from 'astro-hoist/runtime';\nimport { loader as userLoader } from './User.astro';\nexport const loader = async (ctx) => ({ user: await ctx.load(userLoader) });\nconst data = await getLoaderData();",
    '<p/>',
  ),
  'src/pages/profile.astro': plain(
    "import User from '../components/User.astro';\nimport Profile from '../components/Profile.astro';",
    '<User /><Profile />',
  ),
  // a load cycle: X awaits Y awaits X
  'src/components/X.astro': plain("import { loader as y } from './Y.astro';\nexport const loader = async (ctx) => ctx.load(y);", '<p/>'),
  'src/components/Y.astro': plain("import { loader as x } from './X.astro';\nexport const loader = async (ctx) => ctx.load(x);", '<p/>'),
  'src/pages/cycle.astro': plain("import X from '../components/X.astro';", '<X />'),
  // wide: four siblings for the concurrency limit
  ...Object.fromEntries(['A', 'B', 'C', 'D'].map((n) => [`src/components/wide/${n}.astro`, withLoader(n)])),
  'src/pages/wide.astro': plain(
    ['A', 'B', 'C', 'D'].map((n) => `import ${n} from '../components/wide/${n}.astro';`).join('\n'),
    '<A /><B /><C /><D />',
  ),
};
const ALIAS = { '@layouts': './src/layouts' };

/**
 * @param {import('../../index.js').Plan} plan
 * @param {string} component
 */
function loaderOf(plan, component) {
  const found = plan.loaders.find((l) => l.component === component);
  assert.ok(found, `${component} is in the plan of ${plan.root}`);
  return found;
}

/**
 * The plan of a root-relative component; fails on a plan error.
 * @param {import('../../index.js').Project} project
 * @param {string} file
 * @param {import('../../index.js').PlanOptions} [options]
 */
function planOf(project, file, options) {
  const { plan, error } = project.plan(`${project.root}/${file}`, options);
  assert.equal(error, undefined, `${file}: ${error?.diagnostic.message}`);
  assert.ok(plan);
  return plan;
}

test('scanProject: the routes under src/pages, reached through relative imports, tsconfig paths, options.alias and barrels', async (t) => {
  const root = makeProject(FILES);
  t.after(() => rmSync(root, { recursive: true, force: true }));
  const project = await scanProject(root, { alias: ALIAS, diskCache: false });
  assert.equal(project.root, root.split(path.sep).join('/'));
  assert.deepEqual(
    project.routes.map((r) => [r.kind, r.pattern, project.relative(r.entry)]),
    ['conditional', 'cycle', 'nested', 'profile', 'slots', 'wide'].map((n) => ['page', `/${n}`, `src/pages/${n}.astro`]),
  );
  assert.deepEqual(project.diagnostics().filter((d) => d.severity !== 'info'), []);
  assert.deepEqual(project.cycles(), [], 'a loader cycle is not a render cycle');
  assert.deepEqual(planOf(project, 'src/pages/nested.astro').loaders.map((l) => l.component).sort(), ['src/components/Inner.astro', 'src/components/Middle.astro', 'src/components/Outer.astro'], 'tsconfig paths');
  const slots = planOf(project, 'src/pages/slots.astro');
  assert.deepEqual(slots.entries.map((e) => e.component), ['src/layouts/Layout.astro', 'src/components/Card.astro', 'src/components/Leaf.astro'], 'options.alias, the barrel and its `export *`, in document order');
  const rel = slots.files.map((f) => project.relative(f));
  for (const barrel of ['src/ui/index.ts', 'src/ui/more.ts']) assert.ok(rel.includes(barrel), `the plan read ${barrel}`);
  const conditional = planOf(project, 'src/pages/conditional.astro');
  assert.deepEqual(conditional.entries.map((e) => [e.component, e.conditional]), [['src/components/Shown.astro', false], ['src/components/Hidden.astro', true]]);
  assert.match(conditional.entries[0].id, /^[0-9a-f]{16}$/);
  // Without the alias, the import is a bare specifier (a package): not followed, no warning.
  const bare = await scanProject(root, { diskCache: false });
  assert.deepEqual(planOf(bare, 'src/pages/slots.astro').entries.map((e) => e.component), ['src/components/Card.astro', 'src/components/Leaf.astro']);
});

test('plan: nested and slotted loaders start in one wave; conditional ones wait unless speculative; ctx.load waits', async (t) => {
  const root = makeProject(FILES);
  t.after(() => rmSync(root, { recursive: true, force: true }));
  const project = await scanProject(root, { alias: ALIAS, diskCache: false });

  for (const page of ['src/pages/nested.astro', 'src/pages/slots.astro']) {
    const plan = planOf(project, page);
    assert.equal(plan.root, page);
    assert.equal(plan.depthBefore, 3, page);
    assert.equal(plan.depthAfter, 1, page);
    assert.equal(plan.makespanBefore, 3);
    assert.equal(plan.makespan, 1);
    assert.deepEqual(plan.loaders.map((l) => [l.wave, l.hoisted]), [[1, true], [1, true], [1, true]]);
    assert.deepEqual(plan.loaders.map((l) => l.waveBefore).sort(), [1, 2, 3]);
    assert.equal(plan.order.length, 3);
    assert.equal(plan.complete, true);
  }

  const conditional = planOf(project, 'src/pages/conditional.astro');
  const hidden = loaderOf(conditional, 'src/components/Hidden.astro');
  assert.equal(hidden.conditional, true);
  assert.equal(hidden.hoisted, false);
  assert.match(hidden.reason ?? '', /conditional/);
  assert.equal(loaderOf(conditional, 'src/components/Shown.astro').reason, undefined, 'absent, not null');
  assert.ok(conditional.notes.some((n) => n.code === 'loader-conditional' && n.file === 'src/components/Hidden.astro'));
  const speculative = planOf(project, 'src/pages/conditional.astro', { speculative: true });
  assert.equal(loaderOf(speculative, 'src/components/Hidden.astro').hoisted, true);

  const user = loaderOf(planOf(project, 'src/pages/profile.astro'), 'src/components/User.astro');
  // Costs by id or by root-relative path.
  for (const key of [user.id, 'src/components/User.astro']) {
    const profile = planOf(project, 'src/pages/profile.astro', { costs: { [key]: 30 } });
    const u = loaderOf(profile, 'src/components/User.astro');
    assert.deepEqual([u.cost, u.finish], [30, 30]);
    const waiting = loaderOf(profile, 'src/components/Profile.astro');
    assert.equal(waiting.hoisted, true);
    assert.equal(waiting.wave, 2);
    assert.deepEqual(waiting.dependsOn, [user.id]);
    assert.deepEqual(waiting.waitsFor, [user.id]);
    assert.match(waiting.reason ?? '', /ctx\.load/);
    assert.deepEqual([waiting.start, waiting.finish], [30, 31], 'starts when User is done; default cost 1');
    assert.equal(profile.depthAfter, 2);
    assert.equal(profile.makespan, 31);
  }
});

test('plan: a loader that reads props waits for the data its props come from; a traced condition starts in wave 1; a cycle through props ends', async (t) => {
  /** A component whose loader reads `props.id` and that renders `template`. */
  const byProps = (/** @type {string} */ name, /** @type {string} */ imports, /** @type {string} */ template) =>
    `---\nimport { getLoaderData } from 'astro-hoist/runtime';\nimport { db } from '../lib/db';\n${imports}\nexport const loader = async ({ props, signal }) => db(\`${name}:\${props.id}\`, signal);\nconst data = await getLoaderData<typeof loader>();\n---\n${template}\n`;
  const root = makeProject({
    'package.json': '{ "name": "fixture", "private": true }\n',
    'src/lib/db.ts': 'export async function db(key: string, signal?: AbortSignal) { return { key, next: key + "+" }; }\n',
    // A chain: each level's props come from the level above's data (one wave each).
    'src/components/L1.astro': byProps('l1', "import L2 from './L2.astro';", '<L2 id={data.next} />'),
    'src/components/L2.astro': byProps('l2', "import L3 from './L3.astro';\nimport Pass from './Pass.astro';\nconst { id } = Astro.props;", '<L3 id={data.next} />{id && <Pass id={id} />}'),
    'src/components/L3.astro': byProps('l3', '', '<p>{data.key}</p>'),
    // Pass's props come from L2's props (known when L2's are): it starts with L2.
    'src/components/Pass.astro': byProps('pass', '', '<p>{data.key}</p>'),
    'src/components/Loop.astro': byProps('loop', "import Loop from './Loop.astro';", '<Loop id={data.next} />'),
    'src/components/Shown.astro': withLoader('shown'),
    'src/pages/chain.astro': plain("import L1 from '../components/L1.astro';\nimport Shown from '../components/Shown.astro';\nconst show = Astro.url.searchParams.has('show');", '<L1 id={Astro.params.id} />{show && <Shown />}'),
    'src/pages/loop.astro': plain("import Loop from '../components/Loop.astro';", '<Loop id="a" />'),
  });
  t.after(() => rmSync(root, { recursive: true, force: true }));
  const project = await scanProject(root, { diskCache: false });
  const chain = planOf(project, 'src/pages/chain.astro');
  const wave = (/** @type {string} */ name) => loaderOf(chain, `src/components/${name}.astro`);
  assert.deepEqual(['L1', 'L2', 'L3', 'Pass', 'Shown'].map((n) => [n, wave(n).wave, wave(n).hoisted]), [['L1', 1, true], ['L2', 2, true], ['L3', 3, true], ['Pass', 2, true], ['Shown', 1, true]]);
  assert.deepEqual(wave('L2').waitsFor, [wave('L1').id]);
  assert.deepEqual(wave('Pass').waitsFor, [wave('L1').id], 'through L2 props, not L2 data');
  assert.match(wave('L3').reason ?? '', /props come from the data of src\/components\/L2\.astro/);
  assert.match(wave('Shown').reason ?? '', /condition known at request start/);
  assert.equal(chain.depthBefore, 3);
  assert.equal(chain.depthAfter, 3);
  // The runtime gets the same tree: L1 (props from params) > L2 > L3 and Pass; Shown under its condition.
  const flow = JSON.parse(chain.flow ?? 'null');
  assert.deepEqual(flow.children.map((/** @type {any} */ n) => [n.c, n.run, n.steps?.length ?? 0]), [['src/components/L1.astro', 'props', 0], ['src/components/Shown.astro', 'shared', 1]]);
  const l2 = flow.children[0].children[0];
  assert.deepEqual([l2.c, l2.data, l2.children.map((/** @type {any} */ n) => n.c)], ['src/components/L2.astro', true, ['src/components/L3.astro', 'src/components/Pass.astro']]);
  // A component that renders itself: the first instance is traced, deeper ones are not, and the plan ends.
  const loop = planOf(project, 'src/pages/loop.astro');
  const self = loaderOf(loop, 'src/components/Loop.astro');
  assert.equal(self.hoisted, false);
  assert.match(self.reason ?? '', /cycle through props/);
  assert.ok(loop.notes.some((n) => n.code === 'props-not-traced' && n.file === 'src/components/Loop.astro'));
});

test('plan: a load cycle is an error as data (its files, a stable code); an unknown root too; bad options throw', async (t) => {
  const root = makeProject(FILES);
  t.after(() => rmSync(root, { recursive: true, force: true }));
  const project = await scanProject(root, { alias: ALIAS, diskCache: false });
  const { plan, error } = project.plan(`${project.root}/src/pages/cycle.astro`);
  assert.equal(plan, undefined);
  assert.ok(error);
  assert.equal(error.diagnostic.code, 'loader-cycle');
  assert.equal(error.diagnostic.severity, 'error');
  assert.deepEqual([...error.cycle].slice(0, -1).sort(), ['src/components/X.astro', 'src/components/Y.astro']);
  assert.equal(error.cycle[0], error.cycle[error.cycle.length - 1]);
  assert.equal(error.diagnostic.file, error.cycle[0]);
  assert.equal(error.diagnostic.line, 3, 'at the loader');
  assert.match(error.diagnostic.message, /loader dependency cycle: src\/components\/(X|Y)\.astro -> src\/components\/(X|Y)\.astro -> src\/components\/\1\.astro/);
  const missing = project.plan(`${project.root}/src/pages/missing.astro`);
  assert.equal(missing.error?.diagnostic.code, 'route-failed');
  assert.throws(() => project.plan(`${project.root}/src/pages/wide.astro`, { concurrency: 0 }), /concurrency must be a positive integer/);
  // The other routes still plan, and planRoutes carries the cycle on its route only.
  const routes = await project.planRoutes();
  const byPattern = Object.fromEntries(routes.map((r) => [r.pattern, r]));
  assert.equal(byPattern['/cycle'].error?.diagnostic.code, 'loader-cycle');
  assert.equal(byPattern['/wide'].plan?.depthAfter, 1);
  assert.equal(routes.filter((r) => r.error).length, 1);
});

test('planRoutesPacked, decoded, is planRoutes field for field: errors, notes, awaits, Markdown, hostile names', async (t) => {
  const root = makeProject({
    ...FILES,
    'src/pages/guide.md': '---\nlayout: ../layouts/Layout.astro\ntitle: x\n---\n# x\n',
    'src/pages/bare.md': '# no layout\n',
    'src/pages/cycle-card.astro': plain("import X from '../components/X.astro';\nimport Card from '../components/Card.astro';", '<Card /><X />'),
    'src/pages/awaits.astro': plain("import Card from '../components/Card.astro';\nconst a = await fetch('/a');\nconst b = await fetch('/b');", '<Card />'),
    'src/pages/名前 "q".astro': plain("import Leaf from '../components/ü \"Leaf\" 😀.astro';\nconst s = '\\\\ \"';", '<Leaf /><Missing />'),
    'src/components/ü "Leaf" 😀.astro': withLoader('leaf'),
  });
  t.after(() => rmSync(root, { recursive: true, force: true }));
  const project = await scanProject(root, { alias: ALIAS, diskCache: false });
  const costs = { 'src/components/wide/A.astro': 10, 'src/components/Card.astro': 0.25 };
  for (const options of [undefined, { concurrency: 1, costs }, { speculative: true }]) {
    const objects = await project.planRoutes(options);
    const packed = await project.planRoutesPacked(options);
    assert.equal(typeof packed, 'string');
    assert.deepEqual(decodeRoutePlans(packed), objects);
    assert.deepEqual(await planRoutes(project, options), objects);
  }
  const routes = await project.planRoutes();
  // What the comparison above covered.
  assert.ok(routes.some((r) => r.error?.diagnostic.code === 'loader-cycle' && r.error.entries.length > 0), 'a cycle with entries');
  assert.ok(routes.some((r) => r.kind === 'markdown' && r.plan), 'a Markdown page with a layout');
  assert.ok(routes.some((r) => r.plan === undefined && r.error === undefined), 'a route without a plan');
  assert.ok(routes.some((r) => (r.plan?.awaits.length ?? 0) > 1 && r.plan?.awaits.some((a) => a.reason === undefined)), 'awaits');
  assert.ok(routes.some((r) => r.plan?.notes.length), 'notes');
  assert.ok(routes.some((r) => r.plan?.loaders.some((l) => l.dependsOn.length || l.waitsFor.length)), 'loaders that wait');
  assert.ok(routes.some((r) => r.plan?.entries.some((e) => e.component.includes('"Leaf"'))), 'a hostile name');
  // A project without the packed form (another version's) plans the same through planRoutes.
  const other = { planRoutes: (/** @type {any} */ o) => project.planRoutes(o) };
  assert.deepEqual(await planRoutes(/** @type {any} */ (other), undefined), routes);
});

test('plan: concurrency 1 runs loaders one after another; unlimited runs them together', async (t) => {
  const root = makeProject(FILES);
  t.after(() => rmSync(root, { recursive: true, force: true }));
  const project = await scanProject(root, { alias: ALIAS, diskCache: false });
  /** @type {Record<string, number>} */
  const costs = {};
  for (const [n, ms] of [['A', 10], ['B', 20], ['C', 30], ['D', 40]]) costs[`src/components/wide/${n}.astro`] = /** @type {number} */ (ms);
  const unlimited = planOf(project, 'src/pages/wide.astro', { costs });
  const one = planOf(project, 'src/pages/wide.astro', { costs, concurrency: 1 });
  const two = planOf(project, 'src/pages/wide.astro', { costs, concurrency: 2 });
  assert.equal(unlimited.makespan, 40);
  assert.equal(one.makespan, 100);
  assert.equal(two.makespan, 50, 'LPT: 40+10 and 30+20');
  assert.equal(unlimited.makespanBefore, 40, 'siblings already run together in plain Astro');
  // Longest first under a limit: the runtime starts them in this order.
  const costOf = Object.fromEntries(one.loaders.map((l) => [l.id, l.cost]));
  assert.deepEqual(one.order.map((key) => costOf[key]), [40, 30, 20, 10]);
  assert.equal(new Set(one.loaders.map((l) => l.start)).size, 4, 'one at a time: four different starts');
});

test('a Project answered from JS: the walk asks, a resolver answers (virtual modules included), the plan follows', async (t) => {
  const root = makeProject({
    'src/pages/index.astro': plain("import Header from 'virtual:site/Header';\nimport Card from '@/Card.astro';", '<Header /><Card />'),
    'src/components/Header.astro': withLoader('header'),
    'src/components/Card.astro': withLoader('card'),
    'src/lib/db.ts': FILES['src/lib/db.ts'],
  });
  t.after(() => rmSync(root, { recursive: true, force: true }));
  const project = new Project(root);
  const page = `${project.root}/src/pages/index.astro`;
  project.setRoutes([{ kind: 'page', pattern: '/', entry: page }]);
  const asked = [];
  for (let round = 0; round < 8; round++) {
    const requests = await project.walkRoutes();
    if (requests.length === 0) break;
    asked.push(...requests.map((r) => (r.kind === 'load' ? `load ${r.id}` : `resolve ${r.specifier}`)));
    project.answer(
      requests.map((r) => {
        if (r.kind === 'load') return { kind: 'load', id: r.id, source: `export { default } from '${project.root}/src/components/Header.astro';` };
        /** @type {Record<string, string>} */
        const known = { 'virtual:site/Header': '\0virtual:site/Header', '@/Card.astro': `${project.root}/src/components/Card.astro` };
        const resolved = r.specifier?.startsWith('/') ? r.specifier : known[r.specifier ?? ''];
        return { kind: 'resolve', specifier: r.specifier, importer: r.importer, resolved };
      }),
    );
  }
  assert.ok(asked.includes('resolve virtual:site/Header') && asked.includes('resolve @/Card.astro') && asked.includes('load \0virtual:site/Header'), asked.join(', '));
  const [route] = await project.planRoutes();
  assert.deepEqual(route.plan?.entries.map((e) => e.component), ['src/components/Header.astro', 'src/components/Card.astro']);
  assert.equal(route.plan?.complete, true);
  assert.ok(route.plan?.files.includes('\0virtual:site/Header'), 'the virtual module is a file the plan read');
});

test('cache: every file a hit on a second scan, one miss after a one-byte change', async (t) => {
  const root = makeProject(FILES);
  t.after(() => rmSync(root, { recursive: true, force: true }));
  const first = await scanProject(root, { alias: ALIAS, diskCache: false });
  const files = first.files.length;
  const hash = (/** @type {import('../../index.js').Project} */ p, /** @type {string} */ file) => p.module(`${p.root}/${file}`)?.hash;
  assert.deepEqual(first.cache, { hits: 0, misses: files });
  const second = await scanProject(root, { alias: ALIAS, diskCache: false });
  assert.deepEqual(second.cache, { hits: files, misses: 0 });
  assert.deepEqual(second.files, first.files);
  for (const file of first.files) assert.equal(hash(second, file), hash(first, file), file);
  writeFileSync(path.join(root, 'src/components/Inner.astro'), FILES['src/components/Inner.astro'].replace("db('inner'", "db('innex'"));
  const third = await scanProject(root, { alias: ALIAS, diskCache: false });
  assert.deepEqual(third.cache, { hits: files - 1, misses: 1 });
  assert.notEqual(hash(third, 'src/components/Inner.astro'), hash(first, 'src/components/Inner.astro'));
});

test('disk cache: a fresh process reuses what another wrote to cacheDir', async (t) => {
  const root = makeProject(FILES);
  const cacheDir = mkdtempSync(path.join(tmpdir(), 'astro-hoist-cache-'));
  t.after(() => {
    rmSync(root, { recursive: true, force: true });
    rmSync(cacheDir, { recursive: true, force: true });
  });
  // Each scan runs in its own process: the in-memory cache is per process, so only the disk
  // can make the second one warm.
  const scanInChild = (/** @type {object} */ options) => {
    const script = `import { scanProject } from ${JSON.stringify(path.join(repo, 'index.js'))};
const graph = await scanProject(${JSON.stringify(root)}, ${JSON.stringify(options)});
process.stdout.write(JSON.stringify({ cache: graph.cache, files: graph.files.length }));`;
    const child = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
    assert.equal(child.status, 0, child.stderr);
    return JSON.parse(child.stdout);
  };
  const cold = scanInChild({ alias: ALIAS, diskCache: true, cacheDir });
  assert.deepEqual(cold.cache, { hits: 0, misses: cold.files });
  assert.ok(readdirSync(cacheDir).length > 0, 'the cache folder was written');
  const warm = scanInChild({ alias: ALIAS, diskCache: true, cacheDir });
  assert.deepEqual(warm.cache, { hits: warm.files, misses: 0 });
  const off = scanInChild({ alias: ALIAS, diskCache: false, cacheDir });
  assert.deepEqual(off.cache, { hits: 0, misses: off.files }, 'diskCache: false ignores cacheDir');
  assert.equal(existsSync(path.join(root, 'node_modules')), false, 'nothing written under the root when cacheDir is given');
});

test('disk cache: a forged entry (an import the source does not have) changes nothing in the generated code', async (t) => {
  const root = makeProject({
    'package.json': '{}',
    'src/pages/index.astro': "---\nimport { getLoaderData } from 'astro-hoist/runtime';\nimport { db } from '../lib/db';\nexport const loader = async () => db.get();\nconst data = await getLoaderData();\n---\n<p>{data}</p>\n",
    'src/lib/db.ts': 'export const db = { get: async () => 1 };\n',
  });
  const cacheDir = mkdtempSync(path.join(tmpdir(), 'astro-hoist-cache-'));
  t.after(() => {
    rmSync(root, { recursive: true, force: true });
    rmSync(cacheDir, { recursive: true, force: true });
  });
  // A fresh process each time: the scan loads the disk cache into the process-wide cache, which
  // the Vite plugin's analyses then go through; the output is what the plugin generates.
  const page = path.join(root, 'src/pages/index.astro');
  const generate = () => {
    const script = `import { readFileSync } from 'node:fs';
import { scanProject, analyzeComponent } from ${JSON.stringify(path.join(repo, 'index.js'))};
import { transformAstro } from ${JSON.stringify(path.join(repo, 'js/codegen.js'))};
const graph = await scanProject(${JSON.stringify(root)}, { diskCache: true, cacheDir: ${JSON.stringify(cacheDir)} });
const source = readFileSync(${JSON.stringify(page)}, 'utf8');
const info = await analyzeComponent(source, ${JSON.stringify(page)}, { root: ${JSON.stringify(root)} });
const out = transformAstro({ source, file: ${JSON.stringify(page)}, root: ${JSON.stringify(root)}, info });
process.stdout.write(JSON.stringify({ cache: graph.cache, code: out.code + out.append }));`;
    const child = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
    assert.equal(child.status, 0, child.stderr);
    return JSON.parse(child.stdout);
  };
  const honest = generate();
  const [file] = readdirSync(cacheDir);
  const cached = path.join(cacheDir, file);
  const text = readFileSync(cached, 'utf8');
  assert.ok(text.includes('"../lib/db"'));
  writeFileSync(cached, text.replaceAll('"../lib/db"', '"evil-package"'));
  const forged = generate();
  assert.equal(forged.code, honest.code, 'the same code as from the honest cache');
  assert.doesNotMatch(forged.code, /evil-package/);
  assert.equal(generate().cache.hits, 2, 'the forged entry was replaced by a fresh analysis');
});

test('real components: the .astro files shipped by @astrojs/starlight scan cleanly', async (t) => {
  const starlight = path.join(repo, 'node_modules/@astrojs/starlight');
  if (!existsSync(starlight)) return t.skip('@astrojs/starlight is not installed (npm install)');
  // Its components live in dist/, which the default excludes skip.
  const options = { exclude: ['**/node_modules/**'], diskCache: false };
  let started = performance.now();
  const graph = await scanProject(starlight, options);
  const cold = performance.now() - started;
  started = performance.now();
  const warm = await scanProject(starlight, options);
  const warmMs = performance.now() - started;
  const astro = graph.files.filter((f) => f.endsWith('.astro'));
  t.diagnostic(`starlight: ${graph.files.length} files (${astro.length} .astro), cold scan ${cold.toFixed(1)} ms, warm ${warmMs.toFixed(1)} ms (${warm.cache.hits} hits)`);
  assert.ok(astro.length >= 40, `found ${astro.length} .astro files`);
  assert.equal(warm.cache.misses, 0);
  // Checked by hand: every file parses (Starlight builds them), and every import a component
  // tag comes from is relative and exists, or is virtual (`virtual:starlight/...`,
  // `astro:assets`), which a disk scan leaves alone. So no diagnostic at all is right.
  for (const file of graph.files) assert.deepEqual(graph.module(`${graph.root}/${file}`)?.diagnostics, [], file);
  assert.deepEqual(graph.routes, [], 'a package has no src/pages/');
  assert.deepEqual(graph.diagnostics().filter((d) => d.severity !== 'info'), []);
  // Every tag imported from a relative `.astro` file is followed: planned from the component,
  // the file is one the plan read.
  let relative = 0;
  for (const file of astro) {
    const info = graph.module(`${graph.root}/${file}`);
    const read = graph.plan(`${graph.root}/${file}`).plan?.files.map((f) => graph.relative(f)) ?? [];
    for (const usage of info?.usages ?? []) {
      if (!usage.source?.startsWith('.') || !usage.source.endsWith('.astro')) continue;
      relative++;
      const target = path.posix.normalize(path.posix.join(path.posix.dirname(file), usage.source));
      assert.ok(read.includes(target), `${file}: <${usage.name}> from ${usage.source}`);
    }
  }
  assert.ok(relative >= 30, `${relative} relative component usages`);
});

test('quick: a component whose walked tree needs nothing read or asked gets its analysis and batch at once, as update, walk and batch give them', async () => {
  const root = makeProject({
    'src/pages/index.astro': `---\nimport A from '../components/A.astro';\n---\n<A/>\n`,
    'src/components/A.astro': withLoader('a', "import B from './B';", '<B/>'),
    'src/components/B.astro': withLoader('b'),
    'src/lib/db.ts': 'export const db = async (name) => name;\n',
  });
  try {
    const p = new Project(root);
    assert.equal(p.resolveExactFiles([]), true);
    const page = path.join(root, 'src/pages/index.astro');
    const a = path.join(root, 'src/components/A.astro');
    const source = readFileSync(a, 'utf8');
    assert.equal(p.quick(a, source), null, 'nothing read yet');
    // `./B` has no extension: Vite's to answer. Until then the tree is not walked.
    const asked = await p.walk([page]);
    assert.deepEqual(asked.map((r) => r.specifier), ['./B']);
    assert.equal(p.quick(a, source), null);
    p.answer(asked.map((r) => ({ ...r, resolved: path.join(root, 'src/components/B.astro') })));
    assert.deepEqual(await p.walk([page]), []);
    const quick = p.quick(a, source, { concurrency: 2 });
    assert.ok(quick);
    assert.deepEqual(quick.info, await p.update(a, source));
    assert.deepEqual(quick.batch, (await p.batch(a, { concurrency: 2 })).batch);
    assert.deepEqual(quick.batch?.entries.map((e) => e.component), ['src/components/A.astro', 'src/components/B.astro']);
    // files: false (a caller that watches nothing) leaves out only the files read.
    assert.ok((quick.batch?.files.length ?? 0) >= 2);
    const unlisted = p.quick(a, source, { concurrency: 2, files: false });
    assert.deepEqual(unlisted?.batch, { ...quick.batch, files: [] });
    assert.deepEqual((await p.batch(a, { concurrency: 2, files: false })).batch, { ...quick.batch, files: [] });
    assert.equal(p.quick(a, `${source}\n<p>edited</p>\n`), null, 'another content: analyze it');
    // Turned off (null, or an alias pattern this side cannot read, even after it was on):
    // every import is asked.
    for (const off of [null, [{ find: '(?<=x)y', pattern: true }]]) {
      const q = new Project(root);
      assert.equal(q.resolveExactFiles([]), true);
      assert.equal(q.resolveExactFiles(off), false);
      assert.deepEqual((await q.walk([page])).map((r) => r.specifier), ['../components/A.astro'], JSON.stringify(off));
    }
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

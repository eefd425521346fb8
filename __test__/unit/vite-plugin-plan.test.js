// The Vite plugin's planning with the native project, against the built addon: the start order
// handed to the runtime when `concurrency` is set, changes planned again, and the build's report
// (the plan each transform decided) equal to a disk scan's plans.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { analyzeComponent, scanProject } from '../../index.js';
import { hoistVitePlugin } from '../../js/vite-plugin/index.js';
import { batchEntries } from './batch-entries.js';

/** @param {Record<string, string>} files */
function makeProject(files) {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'hoist-plan-'));
  for (const [rel, text] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(root, rel)), { recursive: true });
    fs.writeFileSync(path.join(root, rel), text);
  }
  return root;
}

const withLoader = (/** @type {string} */ body) => `---\nimport { getLoaderData } from 'astro-hoist/runtime';\n${body}\nconst data = await getLoaderData();\n---\n<p>{data}</p>\n`;

// Entry order (the walk's) is A, Profile, User; Profile awaits User through ctx.load, so User is
// on the critical path and the plan starts it before Profile.
const FILES = {
  'package.json': '{}\n',
  'src/pages/index.astro':
    "---\nimport A from '../components/A.astro';\nimport Profile from '../components/Profile.astro';\nimport User from '../components/User.astro';\n---\n<A /><Profile /><User />\n",
  'src/components/A.astro': withLoader('export const loader = async () => "a";'),
  'src/components/User.astro': withLoader('export const loader = async () => "user";'),
  'src/components/Profile.astro': withLoader("import { loader as user } from './User.astro';\nexport const loader = async (ctx) => ctx.load(user);"),
};

function fakeLogger() {
  const logs = { warn: /** @type {string[]} */ ([]), info: /** @type {string[]} */ ([]), debug: /** @type {string[]} */ ([]) };
  return {
    logs,
    warn: (/** @type {string} */ m) => logs.warn.push(m),
    info: (/** @type {string} */ m) => logs.info.push(m),
    debug: (/** @type {string} */ m) => logs.debug.push(m),
  };
}

/** A transform context whose resolver finds relative imports on disk. */
function fakeContext() {
  return {
    /** @type {any[]} */ warnings: [],
    /** @param {string} source @param {string} [importer] */
    async resolve(source, importer) {
      if (!source.startsWith('.') || !importer) return null;
      const file = path.resolve(path.dirname(importer), source);
      return fs.existsSync(file) ? { id: file } : null;
    },
    addWatchFile() {},
    /** @param {any} e @returns {never} */
    error(e) {
      throw Object.assign(new Error(e.message ?? String(e)), e);
    },
    /** @param {any} w */
    warn(w) {
      this.warnings.push(w);
    },
  };
}

/**
 * @param {ReturnType<typeof hoistVitePlugin>[0]} plugin
 * @param {string} file
 * @returns {Promise<string>}
 */
async function transform(plugin, file) {
  const result = /** @type {any} */ (await plugin.transform.handler.call(fakeContext(), fs.readFileSync(file, 'utf8'), file));
  return result.code;
}

/** @param {string} code @returns {Record<string, unknown>} the options object of `$$hoistStart(...)` */
function batchOptions(code) {
  const match = /\$\$hoistBatch, (\{.*\}), typeof \$\$result/.exec(code);
  assert.ok(match, code);
  return JSON.parse(match[1]);
}

test('with concurrency, a page\'s batch carries the core\'s start order; without, none', async (t) => {
  const root = makeProject(FILES);
  t.after(() => fs.rmSync(root, { recursive: true, force: true }));
  const page = path.join(root, 'src/pages/index.astro');
  const idOf = async (/** @type {string} */ name) => {
    const file = path.join(root, `src/components/${name}.astro`);
    return (await analyzeComponent(fs.readFileSync(file, 'utf8'), file, { root })).id;
  };
  const [a, user, profile] = [await idOf('A'), await idOf('User'), await idOf('Profile')];

  const [limited] = hoistVitePlugin({ root, logger: fakeLogger(), options: { concurrency: 1 } });
  const code = await transform(limited, page);
  const keys = (/** @type {typeof limited} */ p) => (batchEntries(p.api.appends.get(page) ?? '') ?? []).map((e) => e.key);
  const options = batchOptions(code);
  const scanned = await scanProject(root, { diskCache: false });
  const plan = scanned.plan(`${scanned.root}/src/pages/index.astro`, { concurrency: 1 }).plan;
  assert.ok(plan);
  const order = keys(limited);
  assert.deepEqual(order, plan.order, 'the entries in the start order the disk scan plans too');
  assert.deepEqual([...order].sort(), [a, profile, user].sort());
  assert.ok(order.indexOf(user) < order.indexOf(profile), 'User (awaited by Profile) starts first');
  assert.equal(options.concurrency, 1);

  const [unlimited] = hoistVitePlugin({ root, logger: fakeLogger(), options: { timeout: 50 } });
  assert.deepEqual(batchOptions(await transform(unlimited, page)), { timeout: 50 });
  assert.deepEqual(keys(unlimited), [a, profile, user], 'without a limit, entries in document order');

  // A change is planned again from the new source, without rescanning anything else.
  const [again] = hoistVitePlugin({ root, logger: fakeLogger(), options: { concurrency: 1 } });
  await transform(again, page);
  const generation = (await again.api.project()).generation;
  fs.writeFileSync(path.join(root, 'src/components/A.astro'), withLoader('export const loader = async () => "a2";'));
  again.watchChange.call({}, path.join(root, 'src/components/A.astro'), { event: 'update' });
  await new Promise((resolve) => setImmediate(resolve));
  assert.ok((await again.api.project()).generation > generation, 'the change reached the project');
  await transform(again, page);
  assert.deepEqual(keys(again), plan.order);
});

test('the report at the end of a build: every route set from Astro, with the plan each transform decided', async (t) => {
  const root = makeProject({
    ...FILES,
    'src/pages/other.astro': "---\nimport A from '../components/A.astro';\n---\n<A />\n",
    'src/pages/api.ts': 'export const GET = () => new Response("ok");\n',
  });
  t.after(() => fs.rmSync(root, { recursive: true, force: true }));
  /** @type {{ routes: import('../../index.js').RoutePlan[] }[]} */
  const reports = [];
  const [plugin] = hoistVitePlugin({
    root,
    logger: fakeLogger(),
    onReport: (routes) => {
      reports.push({ routes });
    },
  });
  plugin.api.setRoutes([
    { entrypoint: 'src/pages/index.astro', pattern: '/', type: 'page', origin: 'project' },
    { entrypoint: 'src/pages/other.astro', pattern: '/other', type: 'page', origin: 'project' },
    { entrypoint: 'src/pages/api.ts', pattern: '/api', type: 'endpoint', origin: 'project' },
    { entrypoint: 'node_modules/astro/dist/assets/endpoint/generic.js', pattern: '/_image', type: 'endpoint', origin: 'internal' },
  ]);
  await transform(plugin, path.join(root, 'src/pages/index.astro'));
  const context = { ...fakeContext(), environment: { config: { consumer: /** @type {const} */ ('server') } } };
  await plugin.buildEnd.call(context);
  await plugin.buildEnd.call(context); // the next server environment
  assert.equal(reports.length, 1, 'one report per build');
  const { routes } = reports[0];
  assert.deepEqual(routes.map((r) => [r.kind, r.pattern, r.entry]), [['page', '/', 'src/pages/index.astro'], ['page', '/other', 'src/pages/other.astro']], 'pages only: endpoints and internal routes render no component');
  assert.deepEqual(routes[0].plan?.entries.map((e) => e.component), ['src/components/A.astro', 'src/components/Profile.astro', 'src/components/User.astro']);
  assert.deepEqual(routes[1].plan?.entries.map((e) => e.component), ['src/components/A.astro'], 'a route no transform planned is planned at the end');
  // The same routes planned from a disk scan are the same plans.
  const scanned = await scanProject(root, { diskCache: false });
  const disk = await scanned.planRoutes();
  for (const route of routes) {
    const twin = disk.find((r) => r.entry === route.entry);
    assert.deepEqual(twin?.plan, route.plan, route.entry);
  }
});

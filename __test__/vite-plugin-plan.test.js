// The Vite plugin's use of scanProject/planPage, against the built addon: one project scan at
// build start that warms the core's cache (and never fails the build), and the planned start
// order handed to the runtime when `concurrency` is set.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { analyzeComponent, planPage, scanProject } from '../index.js';
import { hoistVitePlugin } from '../js/vite-plugin/index.js';

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
  const match = /\}\], (\{.*\}), typeof \$\$result/.exec(code);
  assert.ok(match, code);
  return JSON.parse(match[1]);
}

test('buildStart scans the project once, and the scan warms the transforms\' analyses', async (t) => {
  const root = makeProject(FILES);
  t.after(() => fs.rmSync(root, { recursive: true, force: true }));
  const logger = fakeLogger();
  // Astro hands the root over as a URL path ending in `/`.
  const [plugin] = hoistVitePlugin({ root: `${root}/`, srcDir: path.join(root, 'src'), logger, analyzeComponent });
  assert.equal(plugin.api.projectScan(), null, 'nothing scanned before build start');
  plugin.buildStart.call({ warn: (/** @type {string} */ m) => assert.fail(m) });
  const first = plugin.api.projectScan();
  plugin.buildStart.call({ warn: (/** @type {string} */ m) => assert.fail(m) }); // the next environment
  assert.equal(plugin.api.projectScan(), first, 'one scan for every environment');
  const graph = await first;
  assert.ok(graph);
  assert.equal(graph.pages.length, 1);
  assert.deepEqual(logger.logs.warn, []);
  assert.equal(fs.existsSync(path.join(root, 'node_modules')), false, 'no cache folder created in a project without node_modules');

  // The transforms' analyses use the same cache keys as the scan: a page transformed by a
  // fresh plugin, then scanned, is all hits for the files the transform read.
  const other = makeProject(FILES);
  t.after(() => fs.rmSync(other, { recursive: true, force: true }));
  const [fresh] = hoistVitePlugin({ root: `${other}/`, srcDir: path.join(other, 'src'), logger, analyzeComponent });
  await transform(fresh, path.join(other, 'src/pages/index.astro'));
  const scan = await scanProject(other, { diskCache: false });
  assert.deepEqual(scan.cache, { hits: 4, misses: 0 }, 'page + three components already analyzed by the transform');
});

test('with concurrency, a page\'s batch carries the core\'s start order; without, none', async (t) => {
  const root = makeProject(FILES);
  t.after(() => fs.rmSync(root, { recursive: true, force: true }));
  const page = path.join(root, 'src/pages/index.astro');
  const idOf = async (/** @type {string} */ name) => {
    const file = path.join(root, `src/components/${name}.astro`);
    return (await analyzeComponent(fs.readFileSync(file, 'utf8'), file, { root })).id;
  };
  const [a, user, profile] = [await idOf('A'), await idOf('User'), await idOf('Profile')];

  const [limited] = hoistVitePlugin({ root, srcDir: path.join(root, 'src'), logger: fakeLogger(), analyzeComponent, options: { concurrency: 1 } });
  limited.buildStart.call({ warn: () => {} });
  const code = await transform(limited, page);
  assert.match(code, new RegExp(`key: "${a}".*key: "${profile}".*key: "${user}"`), 'entries in walk order');
  const options = batchOptions(code);
  const plan = await planPage(await scanProject(root, { diskCache: false }), 'src/pages/index.astro', { concurrency: 1 });
  assert.deepEqual(options.order, plan.order);
  const order = /** @type {string[]} */ (options.order);
  assert.deepEqual([...order].sort(), [a, profile, user].sort());
  assert.ok(order.indexOf(user) < order.indexOf(profile), 'User (awaited by Profile) starts first');
  assert.equal(options.concurrency, 1);

  const [unlimited] = hoistVitePlugin({ root, srcDir: path.join(root, 'src'), logger: fakeLogger(), analyzeComponent, options: { timeout: 50 } });
  const plain = batchOptions(await transform(unlimited, page));
  assert.deepEqual(plain, { timeout: 50 });
  assert.equal(unlimited.api.projectScan(), null, 'no plan wanted: no scan during transforms');

  // A change drops the scan; the next page transform scans again.
  limited.watchChange.call({}, path.join(root, 'src/components/A.astro'), { event: 'update' });
  assert.equal(limited.api.projectScan(), null);
  assert.deepEqual(batchOptions(await transform(limited, page)).order, plan.order);
  assert.notEqual(limited.api.projectScan(), null);
});

test('a scan that fails is a warning, and the page still gets its batch (without an order)', async (t) => {
  const project = makeProject(FILES);
  t.after(() => fs.rmSync(project, { recursive: true, force: true }));
  const logger = fakeLogger();
  // scanProject rejects for a root that is not a directory; the sources live elsewhere.
  const root = path.join(project, 'missing-root');
  const [plugin] = hoistVitePlugin({ root, srcDir: path.join(project, 'src'), logger, analyzeComponent, options: { concurrency: 2 } });
  plugin.buildStart.call({ warn: () => assert.fail('the Astro logger is used when there is one') });
  assert.equal(await plugin.api.projectScan(), null);
  assert.equal(logger.logs.warn.length, 1);
  assert.match(logger.logs.warn[0], /could not scan the project \(.*missing-root.*\); loaders are still hoisted/);
  const options = batchOptions(await transform(plugin, path.join(project, 'src/pages/index.astro')));
  assert.deepEqual(options, { concurrency: 2 });
  assert.equal(logger.logs.warn.length, 1, 'said once');

  // Without a logger the warning goes through the plugin context.
  const [bare] = hoistVitePlugin({ root, srcDir: path.join(project, 'src'), analyzeComponent });
  /** @type {string[]} */
  const warned = [];
  bare.buildStart.call({ warn: (/** @type {string} */ m) => warned.push(m) });
  await bare.api.projectScan();
  assert.equal(warned.length, 1);
});

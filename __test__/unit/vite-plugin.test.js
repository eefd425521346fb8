import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import os from 'node:os';
import fs from 'node:fs';
import { hoistVitePlugin } from '../../js/vite-plugin/index.js';
import { DependencyMap } from '../../js/vite-plugin/hmr.js';
import { reportDiagnostics, Said } from '../../js/vite-plugin/log.js';
import { isAstroComponentId } from '../../js/paths.js';
import { aliasedPath, scopeKey, settle } from '../../js/vite-plugin/walk.js';
import { batchComponents, batchEntries } from './batch-entries.js';

const component = (body = 'export const loader = async () => 1;', template = '<p/>') =>
  `---\nimport { getLoaderData } from 'astro-hoist/runtime';\n${body}\nconst data = await getLoaderData();\n---\n${template}\n`;

/** A temp project on disk. */
function makeProject(files) {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'hoist-vite-'));
  for (const [rel, text] of Object.entries(files)) write(root, rel, text);
  return root;
}
function write(root, rel, text) {
  const file = path.join(root, rel);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, text);
  return file;
}

/** A transform context like Vite's: relative imports and `@/` resolve on disk; `virtual:x` is virtual. */
function fakeContext(root) {
  const ctx = {
    // A dev server or a watched build: what a file change must invalidate is recorded.
    meta: { watchMode: true },
    /** @type {string[]} */ watched: [],
    /** @type {any[]} */ warnings: [],
    /** @type {any[]} */ errors: [],
    /** @param {string} source @param {string} [importer] */
    async resolve(source, importer) {
      if (source === 'virtual:x') return { id: '\0virtual:x' };
      if (source === 'external-pkg') return { id: 'external-pkg', external: true };
      let file;
      if (source.startsWith('@/')) file = path.join(root, 'src', source.slice(2));
      else if (source.startsWith('.') && importer) file = path.resolve(path.dirname(importer), source);
      else return null;
      return fs.existsSync(file) ? { id: file } : null;
    },
    /** @param {string} file */
    addWatchFile(file) {
      ctx.watched.push(file);
    },
    /** @param {any} e @returns {never} */
    error(e) {
      ctx.errors.push(e);
      throw Object.assign(new Error(typeof e === 'string' ? e : e.message), e);
    },
    /** @param {any} w */
    warn(w) {
      ctx.warnings.push(w);
    },
  };
  return ctx;
}

function fakeLogger() {
  const logs = { warn: /** @type {string[]} */ ([]), info: /** @type {string[]} */ ([]), debug: /** @type {string[]} */ ([]) };
  return {
    logs,
    warn: (/** @type {string} */ m) => logs.warn.push(m),
    info: (/** @type {string} */ m) => logs.info.push(m),
    debug: (/** @type {string} */ m) => logs.debug.push(m),
  };
}

function setup(files, extra = {}) {
  const root = makeProject(files);
  const logger = fakeLogger();
  const [plugin, imports] = hoistVitePlugin({ root, logger, options: { timeout: 100 }, ...extra });
  /** @param {string} rel @param {any} [ctx] */
  const transform = async (rel, ctx = fakeContext(root), id = path.join(root, rel)) => {
    const code = fs.existsSync(id) ? fs.readFileSync(id, 'utf8') : '';
    const result = await plugin.transform.handler.call(ctx, code, id);
    return { result, ctx };
  };
  /**
   * The batch `rel`'s module starts, as paths (`?`: conditional); null: none.
   * @param {string} rel @param {string[]} [created] files written after the setup
   */
  const batch = (rel, created = []) => batchComponents(plugin.api.appends.get(path.join(root, rel)) ?? '', root, [...Object.keys(files), ...created]);
  return { root, logger, plugin, imports, transform, batch, p: (/** @type {string} */ rel) => path.join(root, rel) };
}

/** A module graph like Vite's, recording invalidations. */
function fakeModuleGraph(ids) {
  const mods = new Map(ids.map((id) => [id, { id }]));
  /** @type {any[][]} */
  const invalidated = [];
  return {
    invalidated,
    getModuleById: (/** @type {string} */ id) => mods.get(id),
    invalidateModule: (/** @type {any[]} */ ...args) => invalidated.push(args),
  };
}

const PAGE_FILES = {
  'src/pages/index.astro': `---\nimport Layout from '../layouts/Layout.astro';\nimport Card from '@/components/Card.astro';\n---\n<Layout>\n  <Card/>\n</Layout>\n`,
  'src/layouts/Layout.astro': `---\nimport Nav from '../components/Nav.astro';\n---\n<Nav/><slot/>\n`,
  'src/components/Card.astro': component(),
  'src/components/Nav.astro': component('export const loader = async () => "nav";'),
};

test('plugin shape: a pre-ordered transform of raw sources, a normal one after Astro compiles', () => {
  const [plugin, imports] = hoistVitePlugin({ root: '/r' });
  assert.equal(plugin.name, 'astro-hoist:transform');
  assert.equal(plugin.transform.order, 'pre');
  assert.ok(plugin.transform.filter.id.test('/r/src/pages/index.astro'));
  assert.equal(/** @type {any} */ (plugin).resolveId, undefined, 'no module of its own');
  assert.equal(/** @type {any} */ (plugin).load, undefined);
  assert.equal(typeof plugin.hotUpdate, 'function');
  assert.equal(typeof plugin.handleHotUpdate, 'function');
  assert.equal(imports.name, 'astro-hoist:imports');
  assert.equal(/** @type {any} */ (imports.transform).order, undefined);
});

test('skips ids with queries, virtual ids and non-.astro ids without analyzing', async () => {
  /** @type {string[]} */
  const calls = [];
  const [plugin] = hoistVitePlugin({
    root: '/r',
    createProject: () =>
      /** @type {any} */ ({
        update: (/** @type {string} */ id) => {
          calls.push(id);
          throw new Error('not analyzed');
        },
      }),
  });
  const ctx = fakeContext('/r');
  for (const id of [
    '/r/src/pages/index.astro?astro&type=style&index=0&lang.css',
    '/r/src/components/C.astro?astro&type=script&index=0&lang.ts',
    '\0virtual.astro',
    '/r/src/x.ts',
  ]) {
    assert.equal(await plugin.transform.handler.call(ctx, component(), id), null, id);
  }
  // The browser build never sees frontmatter: nothing of ours belongs there.
  const client = { ...ctx, environment: { config: { consumer: 'client' } } };
  assert.equal(await plugin.transform.handler.call(client, component(), '/r/src/pages/index.astro'), null);
  assert.deepEqual(calls, []);
  assert.equal(isAstroComponentId('/r/node_modules/astro/components/Code.astro'), true);
});

test('component: its loader stays and registers after compile; getLoaderData() bound; node_modules components too', async () => {
  const { transform, plugin, imports, p } = setup({
    'src/components/Card.astro': component(),
    'node_modules/kit/Thing.astro': component(),
    'src/components/Plain.astro': '---\nconst x = 1;\n---\n<p/>\n',
  });
  for (const rel of ['src/components/Card.astro', 'node_modules/kit/Thing.astro']) {
    const { result, ctx } = await transform(rel);
    assert.ok(result, rel);
    assert.match(result.code, /export const loader = async \(\) => 1;/);
    assert.match(result.code, new RegExp(`getLoaderData\\(\\{ astro: Astro, result: typeof \\$\\$result === "undefined" \\? undefined : \\$\\$result, key: "([0-9a-f]{16})", loader: loader, component: "${rel}", options: \\{"timeout":100\\} \\}\\)`), 'the integration\'s options bound: a render without a batch still times out');
    const key = /key: "([0-9a-f]{16})"/.exec(result.code)?.[1];
    assert.doesNotMatch(result.code, /startBatch/);
    assert.ok(result.map.mappings.length > 0);
    assert.deepEqual(ctx.watched, []);
    const compiled = 'export default function $$Card() {}\n';
    const appended = imports.transform.handler.call(fakeContext(p('')), compiled, p(rel));
    assert.ok(appended);
    assert.equal(appended.code, `${compiled}\nglobalThis[globalThis.Symbol.for("astro-hoist.registerLoader")]?.("${key}", loader, "${rel}");\n`);
  }
  assert.equal((await transform('src/components/Plain.astro')).result, null);
  assert.equal(plugin.resolveId, undefined, 'no module of its own to resolve');
});

test('page: batch of every descendant loader (slots, layouts, aliases), files watched, reverse map set', async () => {
  const { transform, plugin, imports, batch, p } = setup(PAGE_FILES);
  const { result, ctx } = await transform('src/pages/index.astro');
  assert.ok(result);
  assert.ok(result.code.startsWith('---\n\n;$$hoistStart(Astro, $$hoistBatch, {"timeout":100}, typeof $$result === "undefined" ? undefined : $$result);\nimport Layout'), result.code.slice(0, 120));
  assert.deepEqual(batch('src/pages/index.astro'), ['src/components/Nav.astro', 'src/components/Card.astro']);
  const appended = imports.transform.handler.call(fakeContext(p('')), '/* compiled */', p('src/pages/index.astro'))?.code ?? '';
  // No import of the runtime in a page that has none: the batch finds it by its process-wide name.
  assert.match(appended, /^\/\* compiled \*\/\nconst \$\$hoistStart = \(\.\.\.args\) => globalThis\[globalThis\.Symbol\.for\("astro-hoist\.startBatch"\)\]\?\.\(\.\.\.args\);\nconst \$\$hoistBatch = \["[0-9a-f]{16}", "[0-9a-f]{16}"\];\n$/);
  assert.doesNotMatch(appended, /import .* from "\.\//, 'the page imports no component of its tree: their loaders are found by key');
  assert.doesNotMatch(result.code + appended, new RegExp(p('').replace(/[.*+?^${}()|[\]\\]/g, '\\$&')), 'no absolute paths');
  assert.deepEqual(
    [...ctx.watched].sort(),
    ['src/components/Card.astro', 'src/components/Nav.astro', 'src/layouts/Layout.astro'].map(p).sort(),
  );
  const { deps } = plugin.api;
  for (const rel of ['src/components/Card.astro', 'src/components/Nav.astro', 'src/layouts/Layout.astro']) {
    assert.deepEqual(deps.modulesReading(p(rel)), [p('src/pages/index.astro')], rel);
  }
  assert.deepEqual(deps.modulesReading(p('src/pages/index.astro')), [], 'a page does not depend on itself');
});

test('a layout whose tree has loaders starts its own batch too (an MDX page, an island, or any parent rendering it)', async () => {
  const { transform, batch } = setup(PAGE_FILES);
  const { result } = await transform('src/layouts/Layout.astro');
  assert.ok(result);
  assert.match(result.code, /\$\$hoistStart\(Astro, \$\$hoistBatch, /);
  assert.deepEqual(batch('src/layouts/Layout.astro'), ['src/components/Nav.astro']);
});

test('a file astro-hoist cannot analyze passes through unchanged unless it uses loaders', async () => {
  const { transform, logger } = setup({
    'src/components/Broken.astro': '---\nconst = ;\n---\n<p/>\n',
    'src/components/BrokenLoader.astro': component('export const loader = async () => 1; const = ;'),
  });
  assert.equal((await transform('src/components/Broken.astro')).result, null);
  assert.match(logger.logs.debug.join('\n'), /Broken\.astro is left as it is .*2:7: Unexpected token `=`.*\[syntax-error\]/);
  await assert.rejects(transform('src/components/BrokenLoader.astro'), /Unexpected token `=`/);
});

test('a one-off build watches nothing and keeps no reverse map; its code is the same', async () => {
  const watched = setup(PAGE_FILES);
  const once = setup(PAGE_FILES);
  const a = await watched.transform('src/pages/index.astro');
  const ctx = fakeContext(once.root);
  ctx.meta = { watchMode: false };
  const b = await once.transform('src/pages/index.astro', ctx);
  assert.deepEqual(b.ctx.watched, []);
  assert.equal(once.plugin.api.deps.dependencies.size, 0);
  assert.ok(a.ctx.watched.length > 0);
  assert.equal(/** @type {any} */ (b.result).code, /** @type {any} */ (a.result).code);
});

test('a build makes source maps only when its output has them; a dev server always does', async () => {
  /** @param {{ sourcemap?: unknown, environment?: boolean, server?: boolean }} how */
  const run = async ({ sourcemap, environment = true, server = false }) => {
    const s = setup(PAGE_FILES);
    if (!environment) s.plugin.configResolved({ plugins: [], command: server ? 'serve' : 'build', build: { sourcemap } });
    if (server) s.plugin.configureServer({ moduleGraph: fakeModuleGraph([]), environments: {} });
    const ctx = fakeContext(s.root);
    if (environment) Object.assign(ctx, { environment: { config: { consumer: 'server', build: { sourcemap } } } });
    return /** @type {any} */ ((await s.transform('src/pages/index.astro', ctx)).result);
  };
  const mapped = await run({ sourcemap: true });
  assert.ok(mapped.map.mappings.length > 0);
  assert.equal(mapped.map.sourcesContent.length, 1);
  for (const sourcemap of ['hidden', 'inline']) assert.ok((await run({ sourcemap })).map, String(sourcemap));
  for (const how of [{ sourcemap: false }, { sourcemap: false, environment: false }]) {
    const bare = await run(how);
    assert.equal(bare.code, mapped.code, 'the same code');
    assert.equal('map' in bare, false, JSON.stringify(how));
  }
  assert.ok((await run({ sourcemap: false, environment: false, server: true })).map, 'a dev server maps');
});

test('a dev server: the plugin keeps its own reverse map and adds no watch files (no extra imports in the module graph)', async () => {
  const { plugin, transform, p } = setup(PAGE_FILES);
  plugin.configureServer({ moduleGraph: fakeModuleGraph([]), environments: {} });
  const { ctx } = await transform('src/pages/index.astro');
  assert.deepEqual(ctx.watched, []);
  assert.deepEqual(plugin.api.deps.modulesReading(p('src/components/Nav.astro')), [p('src/pages/index.astro')]);
});

test('a build after the short-lived dev server Astro runs first (its sync) is a one-off build', async () => {
  const { plugin, transform, root } = setup(PAGE_FILES);
  plugin.configureServer({ moduleGraph: fakeModuleGraph([]), environments: {} });
  plugin.configResolved({ plugins: [], command: 'build' });
  const ctx = fakeContext(root);
  ctx.meta = { watchMode: false };
  const { ctx: used } = await transform('src/pages/index.astro', ctx);
  assert.deepEqual(used.watched, []);
  assert.equal(plugin.api.deps.dependencies.size, 0);
});

test('re-transforming a page prunes files it no longer reads', async () => {
  const { transform, plugin, p, root } = setup(PAGE_FILES);
  await transform('src/pages/index.astro');
  write(root, 'src/pages/index.astro', `---\nimport Card from '@/components/Card.astro';\n---\n<Card/>\n`);
  const { ctx } = await transform('src/pages/index.astro');
  assert.deepEqual(ctx.watched, [p('src/components/Card.astro')]);
  const { deps } = plugin.api;
  assert.deepEqual(deps.modulesReading(p('src/layouts/Layout.astro')), []);
  assert.deepEqual(deps.modulesReading(p('src/components/Nav.astro')), []);
  assert.deepEqual([...deps.dependencies.get(p('src/pages/index.astro')) ?? []], [p('src/components/Card.astro')]);
  assert.equal(deps.dependents.has(p('src/layouts/Layout.astro')), false, 'empty sets are dropped');
});

test('hotUpdate hard-invalidates every module whose output read the changed file, in each environment', async () => {
  const { transform, plugin, p, root } = setup(PAGE_FILES);
  await transform('src/pages/index.astro');
  const page = p('src/pages/index.astro');
  const ssr = fakeModuleGraph([page]);
  const client = fakeModuleGraph([]);
  // Nav's loader is no longer read: the page's batch must change.
  write(root, 'src/components/Nav.astro', '---\nexport const loader = async () => "nav";\n---\n<nav/>\n');
  const update = { type: /** @type {const} */ ('update'), file: p('src/components/Nav.astro'), timestamp: 42, modules: [] };
  const ret1 = await plugin.hotUpdate.call({ environment: { moduleGraph: client } }, update);
  const ret2 = await plugin.hotUpdate.call({ environment: { moduleGraph: ssr } }, update);
  assert.equal(ret1, undefined, 'the update list is left to Vite');
  assert.equal(ret2, undefined);
  assert.equal(client.invalidated.length, 0);
  assert.equal(ssr.invalidated.length, 1);
  const [mod, seen, timestamp, isHmr] = ssr.invalidated[0];
  assert.deepEqual(mod, { id: page });
  assert.ok(seen instanceof Set);
  assert.equal(timestamp, 42);
  assert.equal(isHmr, true, 'hard invalidation: isHmr = true, not soft');

  // An unrelated file invalidates nothing.
  await plugin.hotUpdate.call({ environment: { moduleGraph: ssr } }, { ...update, file: p('src/other.ts'), timestamp: 43 });
  assert.equal(ssr.invalidated.length, 1);
});

test('an edit that changes no plan (text, markup, style) invalidates no other module', async () => {
  const { transform, plugin, p, root } = setup(PAGE_FILES);
  await transform('src/pages/index.astro');
  const page = p('src/pages/index.astro');
  const ssr = fakeModuleGraph([page]);
  plugin.configureServer({ moduleGraph: ssr, environments: {} });
  const file = p('src/components/Nav.astro');
  const before = fs.readFileSync(file, 'utf8');
  write(root, 'src/components/Nav.astro', before.replace('---\n<p/>', '---\n<p class="x">edited <i>text</i></p>\n<style>p { color: red }</style>'));
  await plugin.watchChange(file, { event: 'update' });
  await plugin.hotUpdate.call({ environment: { moduleGraph: ssr } }, { type: 'update', file, timestamp: 50, modules: [] });
  assert.equal(ssr.invalidated.length, 0, 'Vite updates the file itself; the page is unaffected');
  // A new component tag is a plan change.
  write(root, 'src/components/Nav.astro', before.replace('---\n<p/>', "---\n<p/><Card/>").replace('---\n', "---\nimport Card from './Card.astro';\n"));
  await plugin.watchChange(file, { event: 'update' });
  await plugin.hotUpdate.call({ environment: { moduleGraph: ssr } }, { type: 'update', file, timestamp: 51, modules: [] });
  assert.equal(ssr.invalidated.length, 1);
});

test('dev: an importer transformed again with the same source reuses its output until a plan-changing edit below it', async () => {
  const { transform, plugin, p, root } = setup(PAGE_FILES);
  const ssr = fakeModuleGraph([p('src/pages/index.astro')]);
  plugin.configureServer({ moduleGraph: ssr, environments: {} });
  const first = (await transform('src/pages/index.astro')).result;
  const project = await plugin.api.project();
  const update = project.update.bind(project);
  let updates = 0;
  project.update = (/** @type {string} */ id, /** @type {string} */ source) => {
    updates++;
    return update(id, source);
  };
  const again = (await transform('src/pages/index.astro')).result;
  assert.equal(again, first, 'the same output, no analysis, no walk');
  assert.equal(updates, 0);
  // A markup edit below leaves it; a plan-changing one (Card loses its loader) drops it.
  const card = p('src/components/Card.astro');
  write(root, 'src/components/Card.astro', fs.readFileSync(card, 'utf8').replace('<p/>', '<p>text</p>'));
  await plugin.hotUpdate.call({ environment: { moduleGraph: ssr } }, { type: 'update', file: card, timestamp: 60, modules: [] });
  assert.equal((await transform('src/pages/index.astro')).result, first);
  write(root, 'src/components/Card.astro', '<p>no loader</p>\n');
  await plugin.hotUpdate.call({ environment: { moduleGraph: ssr } }, { type: 'update', file: card, timestamp: 61, modules: [] });
  const planned = /** @type {any} */ ((await transform('src/pages/index.astro')).result);
  assert.notEqual(planned, first);
  assert.doesNotMatch(planned.code, /Card\.astro"/);
});

test('delete: every environment still invalidates, then the map forgets the file', async () => {
  const { transform, plugin, p } = setup(PAGE_FILES);
  await transform('src/pages/index.astro');
  const page = p('src/pages/index.astro');
  const envs = [fakeModuleGraph([page]), fakeModuleGraph([page]), fakeModuleGraph([page])];
  const file = p('src/components/Card.astro');
  plugin.configureServer({ moduleGraph: envs[0], environments: {} });
  // Vite 6+ calls watchChange (possibly per environment) before hotUpdate: it must not prune yet.
  await plugin.watchChange(file, { event: 'delete' });
  await plugin.watchChange(file, { event: 'delete' });
  for (const moduleGraph of envs) {
    await plugin.hotUpdate.call({ environment: { moduleGraph } }, { type: 'delete', file, timestamp: 7, modules: [] });
  }
  for (const env of envs) assert.equal(env.invalidated.length, 1);
  assert.deepEqual(plugin.api.deps.modulesReading(file), []);
  assert.deepEqual(plugin.api.deps.modulesReading(p('src/components/Nav.astro')), [page], 'other files unaffected');
});

test('Vite 5: handleHotUpdate invalidates through server.moduleGraph; on Vite 6+ it is a no-op', async () => {
  const { transform, plugin, p, root } = setup(PAGE_FILES);
  await transform('src/pages/index.astro');
  const page = p('src/pages/index.astro');
  write(root, 'src/components/Card.astro', '<p>no loader any more</p>\n');
  const vite6 = fakeModuleGraph([page]);
  await plugin.handleHotUpdate({ file: p('src/components/Card.astro'), timestamp: 1, modules: [], server: { moduleGraph: vite6, environments: {} } });
  assert.equal(vite6.invalidated.length, 0);
  const vite5 = fakeModuleGraph([page]);
  await plugin.handleHotUpdate({ file: p('src/components/Card.astro'), timestamp: 2, modules: [], server: { moduleGraph: vite5 } });
  assert.equal(vite5.invalidated.length, 1);
  assert.equal(vite5.invalidated[0][3], true);
});

test('Vite 5: a delete seen only by watchChange invalidates and prunes', async () => {
  const { transform, plugin, p } = setup(PAGE_FILES);
  await transform('src/pages/index.astro');
  const vite5 = fakeModuleGraph([p('src/pages/index.astro')]);
  plugin.configureServer({ moduleGraph: vite5 });
  await plugin.watchChange(p('src/components/Card.astro'), { event: 'delete' });
  assert.equal(vite5.invalidated.length, 1);
  assert.deepEqual(plugin.api.deps.modulesReading(p('src/components/Card.astro')), []);
});

test('one project for every page: a change to a shared component re-plans each page that renders it', async () => {
  const { transform, root, p, plugin, batch } = setup({
    ...PAGE_FILES,
    'src/pages/other.astro': `---\nimport Card from '../components/Card.astro';\nimport Nav from '../components/Nav.astro';\n---\n<Nav/><Card/>\n`,
  });
  const code = async (/** @type {string} */ rel) => {
    await transform(rel);
    return batch(rel) ?? [];
  };
  assert.ok((await code('src/pages/index.astro')).includes('src/components/Card.astro'));
  assert.ok((await code('src/pages/other.astro')).includes('src/components/Card.astro'));
  assert.deepEqual(plugin.api.deps.modulesReading(p('src/components/Card.astro')).sort(), [p('src/pages/index.astro'), p('src/pages/other.astro')]);
  const project = await plugin.api.project();
  const before = project.generation;
  // Card loses its loader: both pages are invalidated, and planned again without it.
  write(root, 'src/components/Card.astro', '<p/>\n');
  const ssr = fakeModuleGraph([p('src/pages/index.astro'), p('src/pages/other.astro')]);
  await plugin.hotUpdate.call({ environment: { moduleGraph: ssr } }, { type: 'update', file: p('src/components/Card.astro'), timestamp: 5, modules: [] });
  assert.deepEqual(ssr.invalidated.map((args) => args[0].id).sort(), [p('src/pages/index.astro'), p('src/pages/other.astro')]);
  await new Promise((resolve) => setImmediate(resolve));
  assert.ok(project.generation > before);
  assert.deepEqual(await code('src/pages/index.astro'), ['src/components/Nav.astro']);
  assert.deepEqual(await code('src/pages/other.astro'), ['src/components/Nav.astro']);
});

test('a child that stops being hoistable leaves the batch after it changes', async () => {
  const { transform, root, plugin, p, batch } = setup(PAGE_FILES);
  await transform('src/pages/index.astro');
  assert.deepEqual(batch('src/pages/index.astro'), ['src/components/Nav.astro', 'src/components/Card.astro']);
  write(root, 'src/components/Card.astro', component('export const loader = async () => Astro.props.x;'));
  await plugin.hotUpdate.call({}, { type: 'update', file: p('src/components/Card.astro'), timestamp: 9, modules: [] });
  await transform('src/pages/index.astro');
  assert.deepEqual(batch('src/pages/index.astro'), ['src/components/Nav.astro']);
});

test('native error diagnostics -> this.error with loc (0-based column) and frame; warnings once', async () => {
  const { transform } = setup({
    'src/components/Bad.astro': "---\nimport { getLoaderData } from 'astro-hoist/runtime';\nconst = ;\nconst d = await getLoaderData();\n---\n",
    'src/components/Warn.astro': component('export let loader = async () => 1;'),
  });
  const bad = fakeContext('/');
  await assert.rejects(transform('src/components/Bad.astro', bad));
  assert.equal(bad.errors.length, 1);
  assert.match(bad.errors[0].message, /Unexpected token `=`/);
  assert.equal(bad.errors[0].code, 'syntax-error');
  assert.match(bad.errors[0].loc.file, /Bad\.astro$/);
  assert.deepEqual([bad.errors[0].loc.line, bad.errors[0].loc.column], [3, 6], 'line 3, column 7 (1-based) as Vite counts: 6');
  assert.match(bad.errors[0].frame, /> 3 \| const = ;\n\s+\|\s+\^/);
  assert.ok(bad.errors[0] instanceof Error, "a real Error: Astro's overlay needs one");

  const { ctx } = await transform('src/components/Warn.astro');
  await transform('src/components/Warn.astro', ctx);
  assert.equal(ctx.warnings.length, 1, 'reported once');
  assert.equal(ctx.warnings[0].code, 'unsupported-loader-form');
  assert.match(ctx.warnings[0].message, /`export let loader`/);
});

test('a rejected native analysis becomes this.error with its loc', async () => {
  const root = makeProject({ 'src/components/Throw.astro': component() });
  const [plugin] = hoistVitePlugin({
    root,
    createProject: () =>
      /** @type {any} */ ({
        update: () => Promise.reject(Object.assign(new Error('the addon failed'), { code: 'internal-error', loc: { line: 2, column: 5 }, frame: '> 2 | x\n    |     ^' })),
      }),
  });
  const ctx = fakeContext(root);
  const id = path.join(root, 'src/components/Throw.astro');
  await assert.rejects(plugin.transform.handler.call(ctx, fs.readFileSync(id, 'utf8'), id), /the addon failed/);
  assert.equal(ctx.errors[0].code, 'internal-error');
  assert.deepEqual({ line: ctx.errors[0].loc.line, column: ctx.errors[0].loc.column }, { line: 2, column: 4 });
  assert.match(ctx.errors[0].frame, /\^/);
});

test('not-hoisted reasons go to the Astro logger once per file; routine notes at debug level', async () => {
  const { transform, logger } = setup({
    'src/pages/a.astro': `---\nimport Props from '../components/Props.astro';\nimport V from 'virtual:x';\n---\n<Props/><V/><Dyn/>\n`,
    'src/pages/b.astro': `---\nimport Props from '../components/Props.astro';\n---\n<Props/>\n`,
    'src/components/Props.astro': component('export const loader = async () => Astro.props.id;'),
  });
  const a = await transform('src/pages/a.astro');
  await transform('src/pages/b.astro');
  await transform('src/pages/a.astro');
  assert.equal(a.result, null, 'nothing hoistable, nothing bound in the page');
  assert.equal(logger.logs.warn.length, 1);
  assert.match(logger.logs.warn[0], /src\/components\/Props\.astro:3:1: it reads `Astro`, which a loader cannot read: .*read the loader.s context instead/);
  assert.ok(logger.logs.debug.some((m) => m.startsWith('virtual:x:1:1: cannot load \0virtual:x')), logger.logs.debug.join('\n'));
  assert.ok(logger.logs.debug.some((m) => m.includes('<Dyn>')));
});

test('without a logger, loud notes go to this.warn', async () => {
  const { transform } = setup(
    {
      'src/pages/a.astro': `---\nimport Props from '../components/Props.astro';\n---\n<Props/>\n`,
      'src/components/Props.astro': component('export const loader = async () => Astro.props.id;'),
    },
    { logger: undefined },
  );
  const { ctx } = await transform('src/pages/a.astro');
  assert.equal(ctx.warnings.length, 1);
  assert.match(ctx.warnings[0], /it reads `Astro`/);
});

test('conditional children: no batch for them alone (an info line says why), batched as conditional with speculative', async () => {
  const files = {
    'src/pages/index.astro': `---\nimport Card from '../components/Card.astro';\nconst show = Astro.cookies.has('show');\n---\n{show && <Card/>}\n`,
    'src/components/Card.astro': component(),
  };
  const plain = setup(files);
  assert.equal((await plain.transform('src/pages/index.astro')).result, null);
  assert.match(plain.logger.logs.info.join('\n'), /Card\.astro:3:1: reached from src\/pages\/index\.astro only through conditional usages/);
  const speculative = setup(files, { options: { speculative: true } });
  await speculative.transform('src/pages/index.astro');
  assert.deepEqual(speculative.batch('src/pages/index.astro'), ['src/components/Card.astro?']);
});

test('creating a missing file invalidates pages whose walk could not find it', async () => {
  const { transform, plugin, p, root, batch } = setup({
    'src/pages/index.astro': `---\nimport Later from '../components/Later.astro';\n---\n<Later/>\n`,
  });
  await transform('src/pages/index.astro');
  assert.ok(plugin.api.withMissing.has(p('src/pages/index.astro')));
  write(root, 'src/components/Later.astro', component());
  const ssr = fakeModuleGraph([p('src/pages/index.astro')]);
  await plugin.hotUpdate.call({ environment: { moduleGraph: ssr } }, { type: 'create', file: p('src/components/Later.astro'), timestamp: 3, modules: [] });
  assert.equal(ssr.invalidated.length, 1);
  await transform('src/pages/index.astro');
  assert.deepEqual(batch('src/pages/index.astro', ['src/components/Later.astro']), ['src/components/Later.astro']);
  assert.equal(plugin.api.withMissing.has(p('src/pages/index.astro')), false);
});

test('components of one folder share what a specifier resolves to (a file on disk is not asked); a created file is found', async () => {
  const { transform, plugin, p, root, batch } = setup({
    'src/pages/index.astro': `---\nimport A from '../components/A.astro';\nimport B from '../components/B.astro';\n---\n<A/><B/>\n`,
    'src/components/A.astro': `---\nimport Shared from './Shared.astro';\nimport Later from './Later.astro';\n---\n<Shared/><Later/>\n`,
    'src/components/B.astro': `---\nimport Shared from './Shared.astro';\nimport Later from './Later.astro';\n---\n<Shared/><Later/>\n`,
    'src/components/Shared.astro': component(),
  });
  const ctx = fakeContext(root);
  /** @type {string[]} */
  const asked = [];
  const resolve = ctx.resolve;
  ctx.resolve = async (source, importer) => {
    asked.push(source);
    return resolve(source, importer);
  };
  await transform('src/pages/index.astro', ctx);
  // An existing file named exactly: the core reads it without a round trip through Vite.
  assert.equal(asked.filter((s) => s === './Shared.astro').length, 0, asked.join(', '));
  // A missing one is Vite's to say, once for both importers.
  assert.equal(asked.filter((s) => s === './Later.astro').length, 1, asked.join(', '));
  // Later.astro appears: the shared answer ("missing") is dropped and Vite is asked again.
  write(root, 'src/components/Later.astro', component());
  await plugin.watchChange(p('src/components/Later.astro'), { event: 'create' });
  await plugin.hotUpdate.call({ environment: { moduleGraph: fakeModuleGraph([]) } }, { type: 'create', file: p('src/components/Later.astro'), timestamp: 9, modules: [] });
  await transform('src/pages/index.astro', ctx);
  assert.ok(batch('src/pages/index.astro', ['src/components/Later.astro'])?.includes('src/components/Later.astro'));
});

test('files named exactly are read without asking Vite; what an earlier alias, a custom resolver or preserveSymlinks decides is asked', async () => {
  const files = {
    'src/pages/index.astro': [
      '---',
      "import Local from '../components/Local.astro';",
      "import Card from '@ui/Card.astro';",
      "import Own from '@own/Own.astro';",
      "import Re from '@ui/Re.astro';",
      "import Bare from '../components/Bare';",
      '---',
      '<Local/><Card/><Own/><Re/><Bare/>',
      '',
    ].join('\n'),
    'src/components/Local.astro': component(),
    'src/components/Card.astro': component(),
    'src/components/Own.astro': component(),
    'src/components/Re.astro': component(),
    'src/components/Bare.astro': component(),
  };
  for (const preserveSymlinks of [false, true]) {
    const { transform, plugin, root } = setup(files);
    const components = path.join(root, 'src/components');
    plugin.configResolved({
      plugins: [],
      command: 'build',
      resolve: {
        preserveSymlinks,
        alias: [
          { find: /^@ui\/Re/, replacement: `${components}/Re` },
          { find: '@ui', replacement: components },
          { find: '@own', replacement: components, customResolver: () => null },
        ],
      },
    });
    const ctx = fakeContext(root);
    /** @type {string[]} */
    const asked = [];
    const resolve = ctx.resolve;
    ctx.resolve = async (source, importer) => {
      asked.push(source);
      const aliased = /^@(?:ui|own)\/(.*)$/.exec(source);
      if (aliased) return { id: path.join(components, aliased[1]) };
      if (source === '../components/Bare') return { id: path.join(components, 'Bare.astro') };
      return resolve(source, importer);
    };
    await transform('src/pages/index.astro', ctx);
    const expected = preserveSymlinks
      ? ['../components/Local.astro', '@ui/Card.astro', '@own/Own.astro', '@ui/Re.astro', '../components/Bare']
      : ['@own/Own.astro', '@ui/Re.astro', '../components/Bare'];
    assert.deepEqual(asked.sort(), expected.sort(), `preserveSymlinks: ${preserveSymlinks}`);
  }
});

test('concurrent walks over one tree answer each question once; the others wait for it', async () => {
  // A project whose walk asks what is still open, as the core does for every module a walk reaches.
  const open = new Set(['./A.astro', './B.astro', './C.astro']);
  /** @type {string[]} */
  const answered = [];
  const project = /** @type {any} */ ({
    walk: async () => [...open].map((specifier) => ({ kind: 'resolve', specifier, importer: '/p/src/pages/index.astro' })),
    /** @param {any[]} answers */
    answer(answers) {
      for (const a of answers) {
        answered.push(a.specifier);
        open.delete(a.specifier);
      }
    },
  });
  let calls = 0;
  const resolver = {
    /** @param {string} specifier */
    resolve: async (specifier) => {
      calls++;
      await new Promise((resolve) => setTimeout(resolve, 10));
      return { id: `/p/src/components/${specifier.slice(2)}` };
    },
    load: async () => null,
  };
  const rounds = await Promise.all([settle(project, ['/p/a'], resolver), settle(project, ['/p/b'], resolver), settle(project, ['/p/c'], resolver)]);
  assert.deepEqual(answered.sort(), ['./A.astro', './B.astro', './C.astro'], 'each question answered once, by one walk');
  assert.equal(calls, 3);
  assert.deepEqual(rounds, [2, 2, 2], 'every walk ends once the answers it waited for are in');
  assert.equal(open.size, 0);
});

test('one path imported from many folders is asked once: relative or through an alias, per importer type', async () => {
  const aliases = [
    { find: /^~\/(.*)$/, replacement: '/p/src/$1' },
    { find: '@ui', replacement: '/p/src/components' },
    { find: '@own', replacement: '/p/src/own', customResolver: () => null },
    { find: '@pkg', replacement: 'some-package' },
  ];
  /** @type {[string, string][]} importer, specifier */
  const questions = [
    ['/p/src/components/l1/A.astro', '../l2/C.astro'],
    ['/p/src/components/l2/B.astro', './C.astro'],
    ['/p/src/pages/index.astro', '@ui/l2/C.astro'],
    ['/p/src/components/l3/D.astro', '@ui/l2/C.astro'],
    ['/p/src/pages/blog/post.astro', '~/components/l2/C.astro'],
    ['/p/src/lib/data.ts', '@ui/l2/C.astro'],
    ['/p/src/pages/index.astro', 'pkg/Widget.astro'],
    ['/p/src/components/l3/D.astro', 'pkg/Widget.astro'],
    ['/p/src/pages/index.astro', '@own/X.astro'],
    ['/p/src/components/l3/D.astro', '@own/X.astro'],
    ['/p/src/pages/index.astro', '@pkg/Y.astro'],
    ['/p/src/components/l3/D.astro', '@pkg/Y.astro'],
    ['/p/src/pages/index.astro', '@uix/Z.astro'],
    ['/p/src/components/l3/D.astro', '@uix/Z.astro'],
  ];
  const open = new Set(questions.map(([importer, specifier]) => `${importer} ${specifier}`));
  /** @type {Map<string, string | undefined>} */
  const answers = new Map();
  const project = /** @type {any} */ ({
    walk: async () => [...open].map((q) => ({ kind: 'resolve', importer: q.split(' ')[0], specifier: q.split(' ')[1] })),
    /** @param {any[]} list */
    answer(list) {
      for (const a of list) {
        answers.set(`${a.importer} ${a.specifier}`, a.resolved);
        open.delete(`${a.importer} ${a.specifier}`);
      }
    },
  });
  /** @type {string[]} */
  const asked = [];
  const resolver = {
    aliases,
    /** @param {string} specifier @param {string} importer */
    resolve: async (specifier, importer) => {
      asked.push(`${path.basename(importer)} ${specifier}`);
      return { id: '/p/src/components/l2/C.astro' };
    },
    load: async () => null,
  };
  await settle(project, ['/p/src/pages/index.astro'], resolver);
  assert.equal(open.size, 0);
  assert.equal(answers.size, questions.length, 'every importer has its answer');
  const count = (/** @type {string} */ specifier) => asked.filter((a) => a.endsWith(` ${specifier}`)).length;
  // C.astro: once from .astro importers (five specifiers, four folders), once from the .ts one.
  assert.equal(['../l2/C.astro', './C.astro', '@ui/l2/C.astro', '~/components/l2/C.astro'].reduce((n, s) => n + count(s), 0), 2, asked.join(', '));
  assert.equal(count('pkg/Widget.astro'), 2, 'a package: from each folder');
  assert.equal(count('@own/X.astro'), 2, 'an alias with its own resolver: from each folder');
  assert.equal(count('@pkg/Y.astro'), 2, 'an alias to a package name: from each folder');
  assert.equal(count('@uix/Z.astro'), 2, '@ui is not a prefix of @uix');
});

test('aliasedPath matches and replaces as Vite\'s alias plugin does', () => {
  const aliases = [
    { find: '@', replacement: '/p/src' },
    { find: '@ui', replacement: '/p/ui' },
    { find: /^#(\w+)$/, replacement: '/p/hash/$1.astro' },
  ];
  assert.equal(aliasedPath(aliases, '@/a.astro'), '/p/src/a.astro');
  assert.equal(aliasedPath(aliases, '@ui/a.astro'), '/p/ui/a.astro', 'no slash after @: the second entry');
  assert.equal(aliasedPath(aliases, '@ui'), '/p/ui');
  assert.equal(aliasedPath(aliases, '#card'), '/p/hash/card.astro');
  assert.equal(aliasedPath(aliases, '#card/x'), null);
  assert.equal(aliasedPath(aliases, 'ui/a.astro'), null);
  assert.equal(scopeKey('/p/src/a/X.astro', './Y.astro', []), scopeKey('/p/src/b/Z.astro', '../a/Y.astro', []));
  assert.notEqual(scopeKey('/p/src/a/X.astro', './dir/', []), scopeKey('/p/src/a/X.astro', './dir', []), 'a trailing slash names a folder');
  assert.notEqual(scopeKey('/p/src/a/X.astro', 'pkg', []), scopeKey('/p/src/b/X.astro', 'pkg', []));
  assert.notEqual(scopeKey('virtual:a', './x', []), scopeKey('virtual:b', './x', []));
});

test('DependencyMap: set replaces, forget and deleteFile prune both directions', () => {
  const deps = new DependencyMap();
  deps.set('/p1', ['/p1', '/a', '/b']);
  deps.set('/p2', ['/b']);
  assert.deepEqual(deps.modulesReading('/b').sort(), ['/p1', '/p2']);
  assert.deepEqual(deps.modulesReading('/p1'), []);
  deps.set('/p1', ['/a']);
  assert.deepEqual(deps.modulesReading('/b'), ['/p2']);
  assert.deepEqual(deps.deleteFile('/a'), ['/p1']);
  assert.deepEqual([...(deps.dependencies.get('/p1') ?? [])], []);
  deps.deleteFile('/p2'); // a deleted module depends on nothing any more
  assert.equal(deps.dependents.has('/b'), false);
});

test('reportDiagnostics without errors only warns', () => {
  const ctx = fakeContext('/');
  reportDiagnostics(ctx, '/x.astro', [{ severity: 'warning', code: 'w', message: 'm', line: 1, column: 1, offset: 0, frame: '' }], new Said());
  assert.equal(ctx.errors.length, 0);
  assert.deepEqual(ctx.warnings[0].loc, { file: '/x.astro', line: 1, column: 0 });
});

test('integration: validates options in the factory, wires the plugin and the middleware', async () => {
  const { default: hoist, validateOptions, analyzeComponent } = await import('../../js/integration.js');
  assert.equal(typeof analyzeComponent, 'function', 'native API re-exported');
  assert.deepEqual(validateOptions(undefined), {});
  assert.deepEqual(validateOptions({ timeout: 2.5, concurrency: 3, speculative: true, serverTiming: false }), {
    timeout: 2.5,
    concurrency: 3,
    speculative: true,
    serverTiming: false,
  });
  assert.throws(() => hoist(/** @type {any} */ ({ timeOut: 5 })), /unknown option 'timeOut'[\s\S]*timeout:[\s\S]*concurrency:[\s\S]*speculative:[\s\S]*serverTiming:/);
  for (const [bad, re] of /** @type {const} */ ([
    [{ timeout: 0 }, /'timeout' must be a positive number/],
    [{ timeout: Infinity }, /'timeout'/],
    [{ timeout: '5' }, /'timeout'.*got "5"/],
    [{ concurrency: 1.5 }, /'concurrency' must be a positive integer/],
    [{ concurrency: 0 }, /'concurrency'/],
    [{ speculative: 'yes' }, /'speculative' must be true or false/],
    [{ serverTiming: 1 }, /'serverTiming'/],
    [{ serverTiming: 'yes' }, /'serverTiming' must be true, false or 'paths'/],
    [null, /options must be an object/],
    [[], /options must be an object, got an array/],
  ])) {
    assert.throws(() => hoist(/** @type {any} */ (bad)), re, JSON.stringify(bad));
  }

  const integration = hoist({ speculative: true });
  assert.equal(integration.name, 'astro-hoist');
  /** @type {any[]} */
  const updates = [];
  /** @type {any[]} */
  const middleware = [];
  await integration.hooks['astro:config:setup']({
    config: { root: new URL('file:///proj/'), srcDir: new URL('file:///proj/src/') },
    updateConfig: (c) => updates.push(c),
    addMiddleware: (m) => middleware.push(m),
    logger: fakeLogger(),
  });
  assert.equal(updates.length, 1);
  const [plugin, imports] = updates[0].vite.plugins;
  assert.equal(plugin.name, 'astro-hoist:transform');
  assert.equal(imports.name, 'astro-hoist:imports');
  assert.deepEqual(middleware, [{ entrypoint: 'astro-hoist/middleware', order: 'pre' }]);
  // Astro's routes reach the plugin's project.
  integration.hooks['astro:routes:resolved']({
    routes: [
      { entrypoint: 'src/pages/index.astro', pattern: '/', type: 'page', origin: 'project' },
      { entrypoint: 'node_modules/pkg/Docs.astro', pattern: '/docs', type: 'page', origin: 'external' },
      { entrypoint: 'src/pages/post.md', pattern: '/post', type: 'page', origin: 'project' },
      { entrypoint: 'src/pages/rss.xml.js', pattern: '/rss.xml', type: 'endpoint', origin: 'project' },
    ],
  });
  const project = await plugin.api.project();
  await plugin.api.planRoutes({ resolve: async () => null, load: async () => null }).catch(() => {});
  assert.deepEqual(
    project.routes.map((r) => [r.kind, r.pattern, r.entry]),
    [
      ['page', '/', '/proj/src/pages/index.astro'],
      ['injected', '/docs', '/proj/node_modules/pkg/Docs.astro'],
      ['markdown', '/post', '/proj/src/pages/post.md'],
    ],
  );
  assert.equal(hoist({ report: true }).options.report, true);
  assert.throws(() => hoist(/** @type {any} */ ({ report: 5 })), /'report' must be true or a folder/);
});

test('barrels, namespace, slots, conditional; page keys equal the children\'s own', async () => {
  const child = (name) =>
    `---\nimport { getLoaderData } from 'astro-hoist/runtime';\nimport { db } from '../lib/db.js';\nexport const loader = async ({ signal }) => db('${name}', signal);\nconst data = await getLoaderData<typeof loader>();\n---\n<p>{data}</p>\n`;
  const root = makeProject({
    'src/pages/index.astro': `---\nimport Layout from '../layouts/Layout.astro';\nimport * as UI from '../ui';\nimport { Deep } from '../ui';\nconst show = Astro.cookies.has('show');\n---\n<Layout>\n  <UI.Card/>\n  {show && <Deep/>}\n</Layout>\n`,
    'src/layouts/Layout.astro': `---\nimport Nav from '../components/Nav.astro';\n---\n<Nav/><slot/>\n`,
    'src/ui/index.ts': `export { default as Card } from '../components/Card.astro';\nexport * from './more';\n`,
    'src/ui/more.ts': `import Deep from '../components/Deep.astro';\nexport { Deep };\n`,
    'src/components/Nav.astro': child('Nav'),
    'src/components/Card.astro': child('Card'),
    'src/components/Deep.astro': child('Deep'),
  });
  const [plugin, imports] = hoistVitePlugin({ root, options: { speculative: true } });
  const exts = ['', '.ts', '/index.ts'];
  const ctx = fakeContext(root);
  ctx.resolve = async (source, importer) => {
    if (!source.startsWith('.') || !importer) return null;
    const base = path.resolve(path.dirname(importer), source);
    for (const ext of exts) if (fs.statSync(base + ext, { throwIfNoEntry: false })?.isFile()) return { id: base + ext };
    return null;
  };
  const run = async (rel) => {
    const id = path.join(root, rel);
    return /** @type {any} */ (await plugin.transform.handler.call(ctx, fs.readFileSync(id, 'utf8'), id));
  };
  const pageId = path.join(root, 'src/pages/index.astro');
  await run('src/pages/index.astro');
  const appended = imports.transform.handler.call(ctx, '', pageId)?.code ?? '';
  assert.doesNotMatch(appended, /Deep\.astro/, 'no import of the conditional child');
  const children = ['src/components/Nav.astro', 'src/components/Card.astro', 'src/components/Deep.astro'];
  assert.deepEqual(batchComponents(appended, root, children), ['src/components/Nav.astro', 'src/components/Card.astro', 'src/components/Deep.astro?']);
  const keys = (batchEntries(appended) ?? []).map((e) => e.key);
  for (const [i, rel] of children.entries()) {
    const id = path.join(root, rel);
    const own = (await run(rel)).code;
    assert.ok(own.includes(`key: "${keys[i]}", loader: loader, component: "${rel}"`), rel);
    assert.ok((imports.transform.handler.call(ctx, '', id)?.code ?? '').includes(`Symbol.for("astro-hoist.registerLoader")]?.("${keys[i]}", loader, "${rel}");`), `${rel} registers its loader under the key the page's batch uses`);
  }
  assert.deepEqual(
    [...plugin.api.deps.dependencies.get(path.join(root, 'src/pages/index.astro')) ?? []].map((f) => path.relative(root, f)).sort(),
    ['src/components/Card.astro', 'src/components/Deep.astro', 'src/components/Nav.astro', 'src/layouts/Layout.astro', 'src/ui/index.ts', 'src/ui/more.ts'],
  );
});

test('<Defer>: a project that imports it gets the defer middleware (inside the others), and its swap script in an enabled CSP', async () => {
  const { default: hoist } = await import('../../js/integration.js');
  const { SWAP_SCRIPT, SWAP_SCRIPT_HASH } = await import('../../js/defer.js');
  const { createHash } = await import('node:crypto');
  assert.equal(SWAP_SCRIPT_HASH, `sha256-${createHash('sha256').update(SWAP_SCRIPT).digest('base64')}`);
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'astro-hoist-defer-'));
  try {
    fs.mkdirSync(path.join(root, 'app', 'pages', 'deep'), { recursive: true });
    fs.writeFileSync(path.join(root, 'app', 'pages', 'index.astro'), '---\n---\n<p/>\n');
    /** @param {Record<string, unknown>} config */
    const setup = async (config) => {
      /** @type {any[]} */
      const updates = [];
      /** @type {any[]} */
      const middleware = [];
      await hoist().hooks['astro:config:setup']({
        config: { root: new URL(`file://${root}/`), srcDir: new URL(`file://${root}/app/`), ...config },
        updateConfig: (/** @type {any} */ c) => updates.push(c),
        addMiddleware: (/** @type {any} */ m) => middleware.push(m),
        logger: /** @type {any} */ ({ info() {}, warn() {}, error() {}, debug() {} }),
      });
      return { updates, middleware };
    };
    assert.deepEqual((await setup({})).middleware, [], 'no Defer: no middleware, every response untouched');
    fs.writeFileSync(path.join(root, 'app', 'pages', 'deep', 'post.astro'), "---\nimport Defer from 'astro-hoist/Defer.astro';\n---\n<Defer><p/></Defer>\n");
    const used = await setup({ security: { csp: true } });
    assert.deepEqual(used.middleware, [{ entrypoint: 'astro-hoist/defer-middleware', order: 'post' }]);
    assert.deepEqual(used.updates.slice(1), [{ security: { csp: { algorithm: 'SHA-256', scriptDirective: { hashes: [SWAP_SCRIPT_HASH] } } } }]);
    assert.deepEqual((await setup({ experimental: { csp: { algorithm: 'SHA-256' } } })).updates.slice(1), [{ experimental: { csp: { scriptDirective: { hashes: [SWAP_SCRIPT_HASH] } } } }]);
    assert.deepEqual((await setup({})).updates.slice(1), [], 'no CSP: nothing to allow');
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
});

test('the cache config module: hook filters let only its own id into JS; the handlers check again', async () => {
  const { cacheConfigPlugin, CACHE_CONFIG_ID } = await import('../../js/vite-plugin/cache-config.js');
  const plugin = cacheConfigPlugin('/p', { maxEntries: 10 });
  assert.ok(plugin.resolveId.filter.id.test(CACHE_CONFIG_ID));
  for (const other of ['virtual:astro-hoist/cache-configX', 'xvirtual:astro-hoist/cache-config', './a.astro', `\0${CACHE_CONFIG_ID}`]) {
    assert.equal(plugin.resolveId.filter.id.test(other), false, other);
    assert.equal(plugin.resolveId.handler(other), null);
  }
  const resolved = plugin.resolveId.handler(CACHE_CONFIG_ID);
  assert.equal(resolved, `\0${CACHE_CONFIG_ID}`);
  assert.ok(plugin.load.filter.id.test(resolved));
  assert.equal(plugin.load.filter.id.test(CACHE_CONFIG_ID), false);
  assert.equal(plugin.load.handler(CACHE_CONFIG_ID), null);
  assert.match(String(plugin.load.handler(resolved)), /maxEntries/);
});

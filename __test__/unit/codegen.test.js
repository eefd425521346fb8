// Unit tests of the code generation (js/codegen.js) on analyses made by the native core: the
// frontmatter edits, the batch statement and its placement after guards, what is appended after
// Astro's compile (runtime imports, the loader's registration), hostile file names, source maps.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import os from 'node:os';
import fs from 'node:fs';
import { spawnSync } from 'node:child_process';
import { pathToFileURL } from 'node:url';
import { SourceMap } from 'node:module';
import ts from 'typescript';
import { analyzeComponentSync } from '../../index.js';
import { appendImports, batchCode, batchOffset, loaderBinding, registrationCode, transformAstro } from '../../js/codegen.js';

const ROOT = '/proj';
const PAGE = '/proj/src/pages/index.astro';
const CARD = '/proj/src/components/Card.astro';

/** @param {string} source @param {string} [file] */
const analyze = (source, file = PAGE) => analyzeComponentSync(source, file, { root: ROOT });

/** @param {string} file @param {boolean} [conditional] */
const entry = (file, conditional = false) => ({
  file,
  id: analyze('', file).id,
  component: path.relative(ROOT, file),
  conditional,
});

test('loaderBinding: the stable id, the loader binding and the render ($$result), never import.meta.url', () => {
  const info = analyze('---\nexport const loader = async () => 1;\n---\n');
  assert.equal(
    loaderBinding(info, 'src/pages/index.astro'),
    `{ astro: Astro, result: typeof $$result === "undefined" ? undefined : $$result, key: ${JSON.stringify(info.id)}, loader: loader, component: "src/pages/index.astro" }`,
  );
  assert.match(loaderBinding(analyze('---\n---\n'), 'x.astro'), /loader: undefined/);
  assert.doesNotMatch(loaderBinding(info, 'x'), /import\.meta/);
});

test('a loader that reads its props (or passes its context on) is bound to run once per distinct props', () => {
  const reads = analyze("---\nimport { getLoaderData } from 'astro-hoist/runtime';\nexport const loader = async ({ props }) => props.id;\nconst x = await getLoaderData();\n---\n");
  assert.match(loaderBinding(reads, 'x.astro'), /, props: true \}$/);
  assert.equal(reads.loader?.hoistable, false);
  assert.match(reads.loader?.reason ?? '', /reads its `props`/);
  const whole = analyze("---\nimport { getLoaderData } from 'astro-hoist/runtime';\nimport { api } from './api';\nexport const loader = (ctx) => api(ctx);\nconst x = await getLoaderData();\n---\n");
  assert.match(loaderBinding(whole, 'x.astro'), /props: true/);
  assert.equal(whole.loader?.hoistable, true, 'still started early, with props {}');
  const none = analyze("---\nimport { getLoaderData } from 'astro-hoist/runtime';\nexport const loader = async ({ params }) => params.id;\nconst x = await getLoaderData();\n---\n");
  assert.doesNotMatch(loaderBinding(none, 'x.astro'), /props/);
});

test('a batch loader (defineBatchLoader) runs when its instances render, bound as one that reads props', () => {
  const info = analyze(
    "---\nimport { defineBatchLoader, getLoaderData } from 'astro-hoist/runtime';\nimport { db } from './db';\nexport const loader = defineBatchLoader(async (list, { signal }) => db.cards(list.map((p) => p.id), { signal }));\nconst card = await getLoaderData();\n---\n",
  );
  assert.equal(info.loader?.kind, 'defineBatchLoader');
  assert.equal(info.loader?.hoistable, false);
  assert.match(info.loader?.reason ?? '', /a batch loader/);
  assert.deepEqual(info.loader?.reads.context, ['signal', 'props']);
  assert.match(loaderBinding(info, 'x.astro'), /props: true/);
});

test('a component: its loader stays, getLoaderData() is bound, the loader registers after compile', () => {
  const source = [
    '---',
    "import { getLoaderData } from 'astro-hoist/runtime';",
    "import { db } from '../lib/db';",
    'export const LIMIT = 3;',
    'export const loader = async ({ params }) => db.list(params.tag, LIMIT);',
    'const posts = await getLoaderData<typeof loader>();',
    '---',
    '<ul>{posts.map((p) => <li>{p}</li>)}</ul>',
    '',
  ].join('\n');
  const info = analyze(source, CARD);
  const result = transformAstro({ source, file: CARD, root: ROOT, info });
  assert.ok(result);
  assert.match(result.code, /export const LIMIT = 3;\nexport const loader = async \(\{ params \}\) => db\.list/, 'the loader is where the user wrote it');
  assert.match(result.code, /getLoaderData<typeof loader>\(\{ astro: Astro, result: typeof \$\$result/);
  assert.equal(
    result.append,
    `\nglobalThis[globalThis.Symbol.for("astro-hoist.registerLoader")]?.(${JSON.stringify(info.id)}, loader, "src/components/Card.astro");\n`,
  );
  assert.doesNotMatch(result.append, /\bimport\b/, 'no import of the runtime added: the component imports it already');
  assert.doesNotMatch(result.code, /__startBatch/, 'nothing else in its tree: no batch');
  // In dev a changed module registers again, replacing its old loader.
  assert.match(transformAstro({ source, file: CARD, root: ROOT, info, options: { dev: true } })?.append ?? '', /, loader, "src\/components\/Card\.astro", true\);/);
  // A loader nothing reads is never listed in a batch: nothing to register.
  const unread = source.replace('const posts = await getLoaderData<typeof loader>();', 'const posts = [];');
  assert.equal(transformAstro({ source: unread, file: CARD, root: ROOT, info: analyze(unread, CARD) }), null);
});

test('a batch starts at the frontmatter start, or after the last guard; its entries are appended', () => {
  const entries = [entry(CARD), entry('/proj/src/components/Maybe.astro', true)];
  const plain = '---\nimport Card from "../components/Card.astro";\nconst x = await fetch("/x");\n---\n<Card/>\n';
  const a = transformAstro({ source: plain, file: PAGE, root: ROOT, info: analyze(plain), entries, options: { timeout: 500 } });
  assert.ok(a);
  assert.ok(a.code.startsWith('---\n\n;$$hoistStart(Astro, $$hoistBatch, {"timeout":500}, typeof $$result === "undefined" ? undefined : $$result);\nimport Card'), a.code.slice(0, 80));
  // No component imports another: loaders (and their paths) are found by key; an unconditional
  // entry is its key alone, made once when the module loads. A page that does not import the
  // runtime gets no import of it either: the batch finds the runtime by its process-wide name.
  assert.equal(
    a.append,
    `\nconst $$hoistStart = (...args) => globalThis[globalThis.Symbol.for("astro-hoist.startBatch")]?.(...args);\nconst $$hoistBatch = [${JSON.stringify(entries[0].id)}, { key: ${JSON.stringify(entries[1].id)}, conditional: true }];\n`,
  );

  const guarded = [
    '---',
    'import Card from "../components/Card.astro";',
    'const user = Astro.locals.user;',
    "if (!user) return Astro.redirect('/login');",
    'for (const x of []) { if (x) { return new Response(null, { status: 404 }) } }',
    'const later = 1;',
    '---',
    '<Card/>',
  ].join('\n');
  const info = analyze(guarded);
  assert.equal(info.earlyReturns.length, 2);
  const b = transformAstro({ source: guarded, file: PAGE, root: ROOT, info, entries });
  assert.ok(b);
  const start = b.code.indexOf(';$$hoistStart(');
  assert.ok(start > b.code.indexOf('status: 404'), 'after the last guard');
  assert.ok(start < b.code.indexOf('const later'), 'before the rest of the frontmatter');
  assert.equal(batchOffset(info), info.earlyReturns[1].end);
});

test('a file without fences gets a frontmatter for its batch (after a BOM if present)', () => {
  for (const bom of ['', '\uFEFF']) {
    const source = `${bom}<Layout><Card/></Layout>\n`;
    const result = transformAstro({ source, file: PAGE, root: ROOT, info: analyze(source), entries: [entry(CARD)] });
    assert.ok(result);
    assert.ok(result.code.startsWith(`${bom}---\n;$$hoistStart(`), JSON.stringify(result.code.slice(0, 20)));
    assert.ok(result.code.endsWith('\n---\n<Layout><Card/></Layout>\n'));
  }
});

test('nothing to do -> null', () => {
  const source = '---\nconst x = 1;\n---\n<p/>';
  assert.equal(transformAstro({ source, file: PAGE, root: ROOT, info: analyze(source) }), null);
});

test('appendImports adds after everything Astro compiled, so no existing import moves', () => {
  const compiled = 'import a from "./a.js";\nimport "./Page.astro?astro&type=style&index=0&lang.css";\nexport default 1;\n';
  const out = appendImports(compiled, PAGE, '\nimport { __startBatch as $$hoistStart } from "astro-hoist/runtime";\n');
  assert.ok(out.code.startsWith(compiled));
  assert.ok(out.code.endsWith('from "astro-hoist/runtime";\n'));
  assert.equal(out.map, null, 'nothing before the end moved: the compiled module\'s map stands');
});

test('a loader that is not hoistable stays, unregistered, with the reason', () => {
  const source = "---\nimport { getLoaderData } from 'astro-hoist/runtime';\nexport let n = 0;\nexport const loader = async () => n;\nn++;\nconst d = await getLoaderData();\n---\n";
  const info = analyze(source, CARD);
  assert.equal(info.loader?.hoistable, false);
  assert.match(info.loader?.reason ?? '', /`n` is assigned in the frontmatter/);
  const result = transformAstro({ source, file: CARD, root: ROOT, info });
  assert.ok(result);
  assert.match(result.code, /export const loader = async \(\) => n;/);
  assert.equal(result.append, '');
});

const HOSTILE_DIRS = [
  'we"ird',
  "single'quote",
  'sp ace',
  'back`tick',
  '${injected}',
  'star*',
  'ünï©ødé ✓ 日本',
  '</script>',
  'line\u2028sep',
];
const SYNTAX_ONLY_DIRS = ['new\nline', 'back\\slash', 'per%41cent', 'hash#frag', 'ques?tion', '\t tab', 'nul\u0001'];

/** A page in a temp dir + one child per hostile directory name (the `star*` folder puts a star-slash sequence in the path). */
function hostileProject(dirs) {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'hoist codegen "test" '));
  const page = path.join(root, 'src', 'pages', 'index.astro');
  fs.mkdirSync(path.dirname(page), { recursive: true });
  const entries = dirs.map((dir, i) => {
    const file = path.join(root, 'src', dir, `Child ${i}.astro`);
    return { file, id: String(i).padStart(16, '0'), component: path.relative(root, file), conditional: i % 2 === 1 };
  });
  return { root, page, entries };
}

test('generated batch is valid JS for hostile file names (node --check)', () => {
  const { root, page, entries } = hostileProject([...HOSTILE_DIRS, ...SYNTAX_ONLY_DIRS]);
  try {
    const { statement, declarations } = batchCode(entries, { file: page, options: { timeout: 1 } });
    const registrations = entries.map((e) => {
      const info = /** @type {any} */ ({ id: e.id, loader: { hoistable: true, reads: { context: [] } }, loaderDataCalls: [{}] });
      return `{ const loader = () => 1;\n${registrationCode(info, { dev: true }, e.component).filter((line) => !line.startsWith('import ')).join('\n')}\n}`;
    });
    const code = `${declarations.join('\n')}\n${registrations.join('\n')}\nconst Astro = {};\n${statement}\n`;
    assert.doesNotMatch(code, new RegExp(root.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')), 'no absolute path in generated code');
    const check = path.join(root, 'check.mjs');
    fs.writeFileSync(check, code);
    const r = spawnSync(process.execPath, ['--check', check], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
});

test('generated batch passes the right keys and names for hostile file names (executed)', async () => {
  const { root, page, entries } = hostileProject(HOSTILE_DIRS);
  try {
    const runtime = path.join(root, 'runtime.mjs');
    fs.writeFileSync(
      runtime,
      [
        // The batch and the registrations reach the runtime by its process-wide names.
        'globalThis[Symbol.for("astro-hoist.startBatch")] = (astro, entries, options, result) => { globalThis.__hoistCaptured = { astro, entries, options, result }; };',
        'globalThis[Symbol.for("astro-hoist.registerLoader")] = (key, loader, component) => { (globalThis.__hoistRegistered ??= []).push({ key, component }); };',
        '',
      ].join('\n'),
    );
    const { statement, declarations } = batchCode(entries, { file: page, options: { speculative: true } });
    // Each child registers its loader with its path (the registration ends its own module; here
    // one module holds them all, so each goes in a block of its own).
    const registrations = entries.map((e) => {
      const info = /** @type {any} */ ({ id: e.id, loader: { hoistable: true, reads: { context: [] } }, loaderDataCalls: [{}] });
      return `{ const loader = () => 1;\n${registrationCode(info, {}, e.component).filter((line) => !line.startsWith('import ')).join('\n')}\n}`;
    });
    const code = [
      ...declarations,
      `import ${JSON.stringify(pathToFileURL(runtime).href)};`,
      ...registrations,
      "const Astro = { request: 'fake' };",
      'const $$result = { render: 1 };',
      statement,
    ].join('\n');
    const module = path.join(root, 'src', 'pages', 'index.mjs');
    fs.writeFileSync(module, code);
    await import(pathToFileURL(module).href);
    const captured = /** @type {any} */ (globalThis).__hoistCaptured;
    assert.deepEqual(captured.astro, { request: 'fake' });
    assert.deepEqual(captured.result, { render: 1 });
    assert.deepEqual(captured.options, { speculative: true });
    assert.deepEqual(
      captured.entries,
      entries.map((e) => (e.conditional ? { key: e.id, conditional: true } : e.id)),
      'found by key at run time, with the path each component registers',
    );
    assert.deepEqual(
      /** @type {any} */ (globalThis).__hoistRegistered,
      entries.map((e) => ({ key: e.id, component: e.component })),
    );
  } finally {
    delete (/** @type {any} */ (globalThis))[Symbol.for('astro-hoist.startBatch')];
    delete (/** @type {any} */ (globalThis))[Symbol.for('astro-hoist.registerLoader')];
    fs.rmSync(root, { recursive: true, force: true });
  }
});

test('source map: word boundaries, with content, maps original positions through the edits', () => {
  const source =
    '---\nimport { getLoaderData } from "astro-hoist/runtime";\nexport const loader = async () => 1;\nconst post = await getLoaderData();\n---\n<h1>{post.title}</h1>\n';
  const result = transformAstro({ source, file: PAGE, root: ROOT, info: analyze(source), entries: [entry(CARD)] });
  assert.ok(result);
  // Relative to the map's own file (Rollup/Vite resolve it against the module's directory): no
  // absolute path in the map either.
  assert.deepEqual(result.map.sources, ['index.astro']);
  assert.deepEqual(result.map.sourcesContent, [source]);
  const map = new SourceMap(/** @type {any} */ (JSON.parse(result.map.toString())));

  /** @param {string} needle @param {number} [into] a column offset from the token's start */
  const check = (needle, into = 0) => {
    const generated = result.code.indexOf(needle);
    const original = source.indexOf(needle);
    const gl = result.code.slice(0, generated).split('\n');
    const ol = source.slice(0, original).split('\n');
    const found = /** @type {any} */ (map.findEntry(gl.length - 1, gl[gl.length - 1].length + into));
    assert.equal(found.originalLine, ol.length - 1, needle);
    assert.equal(found.originalColumn, ol[ol.length - 1].length + into, needle);
  };
  check('const post');
  check('import { getLoaderData }');
  check('<h1>{post.title}');
});

test('a cached loader carries its component id and the context fields its key is made of; the store module is imported when configured', () => {
  const source = [
    '---',
    "import { defineLoader, getLoaderData } from 'astro-hoist/runtime';",
    'export const loader = defineLoader(async ({ params, url }) => ({ slug: params.slug, q: url.search }), { cache: { maxAge: 60 } });',
    'const data = await getLoaderData();',
    '---',
    '<p>{data.slug}</p>',
  ].join('\n');
  const info = analyze(source, CARD);
  assert.deepEqual(info.loader?.cache && { keyed: info.loader.cache.keyed, perRequest: info.loader.cache.perRequest }, { keyed: false, perRequest: [] });
  const prod = transformAstro({ source, file: CARD, root: ROOT, info, options: { cacheConfig: true } });
  assert.ok(prod);
  assert.match(prod.append, /import "virtual:astro-hoist\/cache-config";/);
  const call = prod.append.match(/\$\$hoistCacheInfo\(loader, (\{.*\})\);/);
  assert.ok(call, prod.append);
  assert.deepEqual(JSON.parse(call[1]), { id: info.id, reads: ['params', 'url'] });
  // Without cache options nothing configures the store (the in-memory default); in dev each
  // evaluation of the module keys apart.
  const dev = transformAstro({ source, file: CARD, root: ROOT, info, options: { dev: true } });
  assert.doesNotMatch(dev?.append ?? '', /cache-config/);
  assert.match(dev?.append ?? '', /"dev":true/);
  // A loader without `cache` gets none of it.
  const plain = analyze(source.replace(', { cache: { maxAge: 60 } }', ''), CARD);
  assert.doesNotMatch(transformAstro({ source, file: CARD, root: ROOT, info: plain })?.append ?? '', /CacheInfo/);
});

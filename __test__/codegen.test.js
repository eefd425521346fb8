import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import os from 'node:os';
import fs from 'node:fs';
import { spawnSync } from 'node:child_process';
import { pathToFileURL } from 'node:url';
import { SourceMap } from 'node:module';
import MagicString from 'magic-string';
import {
  relativeSpecifier,
  loaderBinding,
  rewriteLoaderDataCalls,
  batchBlock,
  injectIntoFrontmatter,
  transformAstro,
  RUNTIME_SPECIFIER,
} from '../js/codegen.js';

const ROOT = '/proj';
const PAGE = '/proj/src/pages/index.astro';

/** Span helper: offsets into `source`. */
function spanOf(source, start, end = start) {
  const before = source.slice(0, start).split('\n');
  return { start, end, line: before.length, column: before[before.length - 1].length + 1, endLine: 0, endColumn: 0 };
}

/**
 * A ComponentInfo for `source` as the core would report it: frontmatter between the fences,
 * a loader when `export const loader` appears, one LoaderDataCall per `getLoaderData(`.
 * @returns {import('../js/graph.js').ComponentInfo}
 */
function analyzeText(source, file = PAGE, id = 'abcdef0123456789') {
  let frontmatter = null;
  const open = source.match(/^\uFEFF?---[^\n]*\n/);
  if (open) {
    const start = open[0].length;
    const close = source.indexOf('\n---', start - 1);
    frontmatter = spanOf(source, start, close + 1);
  }
  const loaderDataCalls = [];
  for (const m of source.matchAll(/getLoaderData(<[^>]*>)?\(/g)) {
    const argsStart = /** @type {number} */ (m.index) + m[0].length;
    loaderDataCalls.push({ span: spanOf(source, /** @type {number} */ (m.index)), argsStart, argCount: source[argsStart] === ')' ? 0 : 1 });
  }
  const hasLoader = /export const loader\b/.test(source);
  return {
    filename: file,
    id,
    hash: '0'.repeat(64),
    kind: 'astro',
    frontmatter,
    imports: [],
    reexports: [],
    loader: hasLoader
      ? {
          kind: 'arrow',
          span: spanOf(source, 0),
          reads: { imports: [], exports: [], astro: false, context: [], locals: [] },
          dependsOn: [],
          hoistable: true,
          reason: null,
        }
      : null,
    usages: [],
    loaderDataCalls,
    diagnostics: [],
  };
}

/** @returns {import('../js/graph.js').PageLoader} */
function loader(file, { id = 'id', conditional = false, hoistable = true } = {}) {
  return { file, id, component: path.relative(ROOT, file), conditional, hoistable, reason: hoistable ? null : 'no' };
}

test('relativeSpecifier is posix, relative to the importer directory, and always starts with ./', () => {
  assert.equal(relativeSpecifier(PAGE, '/proj/src/components/Child.astro'), './../components/Child.astro');
  assert.equal(relativeSpecifier(PAGE, '/proj/src/pages/Local.astro'), './Local.astro');
  assert.equal(relativeSpecifier(PAGE, '/proj/src/pages/blog/Deep.astro'), './blog/Deep.astro');
  assert.equal(relativeSpecifier(PAGE, '/proj/node_modules/kit/Card.astro'), './../../node_modules/kit/Card.astro');
});

test('loaderBinding uses the stable id and the loader binding, never import.meta.url', () => {
  const info = analyzeText('---\nexport const loader = async () => 1;\n---\n');
  assert.equal(
    loaderBinding(info, 'src/pages/index.astro'),
    '{ astro: Astro, key: "abcdef0123456789", loader: loader, component: "src/pages/index.astro" }',
  );
  const noLoader = analyzeText('---\n---\n');
  assert.match(loaderBinding(noLoader, 'x.astro'), /loader: undefined/);
  assert.doesNotMatch(loaderBinding(info, 'x'), /import\.meta/);
});

test('getLoaderData() calls get the bind object at argsStart (generic type arguments kept)', () => {
  const source =
    '---\nimport { getLoaderData } from "astro-hoist/runtime";\nexport const loader = async () => 1;\nconst a = await getLoaderData<typeof loader>();\nconst b = await getLoaderData();\n---\n<p>{a}{b}</p>\n';
  const result = transformAstro({ source, file: '/proj/src/components/C.astro', root: ROOT, info: analyzeText(source, '/proj/src/components/C.astro') });
  assert.ok(result);
  const bind = '{ astro: Astro, key: "abcdef0123456789", loader: loader, component: "src/components/C.astro" }';
  assert.ok(result.code.includes(`getLoaderData<typeof loader>(${bind})`));
  assert.ok(result.code.includes(`getLoaderData(${bind})`));
  assert.deepEqual(result.warnings, []);
  assert.doesNotMatch(result.code, /__startBatch/, 'components get no batch');
});

test('a call that already has arguments keeps them after the bind object, with a warning', () => {
  const source = '---\nconst a = await getLoaderData(1);\n---\n';
  const s = new MagicString(source);
  const warnings = rewriteLoaderDataCalls(s, analyzeText(source), 'c.astro');
  assert.match(s.toString(), /getLoaderData\(\{ astro: Astro, [^)]*\}, 1\)/);
  assert.equal(warnings.length, 1);
  assert.equal(warnings[0].line, 2);
});

test('nothing to do -> null', () => {
  const source = '---\nconst x = 1;\n---\n<p/>';
  assert.equal(transformAstro({ source, file: PAGE, root: ROOT, info: analyzeText(source), loaders: [] }), null);
  // Only non-hoistable loaders: no batch either.
  assert.equal(
    transformAstro({ source, file: PAGE, root: ROOT, info: analyzeText(source), loaders: [loader('/proj/src/A.astro', { hoistable: false })] }),
    null,
  );
});

test('batchBlock imports each child loader by relative specifier and lists hoistable entries', () => {
  const block = batchBlock(
    [
      { file: '/proj/src/components/Child.astro', id: '1111111111111111', component: 'src/components/Child.astro', conditional: false },
      { file: PAGE, id: '2222222222222222', component: 'src/pages/index.astro', conditional: false },
      { file: '/proj/src/components/Maybe.astro', id: '3333333333333333', component: 'src/components/Maybe.astro', conditional: true },
    ],
    { page: PAGE, options: { timeout: 500, speculative: false } },
  );
  assert.equal(
    block,
    [
      'import { __startBatch as $$hoistStart } from "astro-hoist/runtime";',
      'import { loader as $$hoistLoader0 } from "./../components/Child.astro";',
      'import { loader as $$hoistLoader1 } from "./../components/Maybe.astro";',
      '$$hoistStart(Astro, [',
      '  { key: "1111111111111111", loader: $$hoistLoader0, component: "src/components/Child.astro", conditional: false },',
      '  { key: "2222222222222222", loader: loader, component: "src/pages/index.astro", conditional: false },',
      '  { key: "3333333333333333", loader: $$hoistLoader1, component: "src/components/Maybe.astro", conditional: true },',
      '], {"timeout":500,"speculative":false});',
      '',
    ].join('\n'),
  );
});

test('page: block goes right at the start of the frontmatter content, before user code', () => {
  const source = '---\r\nimport Child from "../components/Child.astro";\r\nconst x = await fetch("/x");\r\n---\r\n<Child/>\r\n';
  const info = analyzeText(source);
  const result = transformAstro({
    source,
    file: PAGE,
    root: ROOT,
    info,
    loaders: [loader('/proj/src/components/Child.astro'), loader('/proj/src/components/No.astro', { hoistable: false })],
  });
  assert.ok(result);
  assert.ok(result.code.startsWith('---\r\nimport { __startBatch as $$hoistStart } from "astro-hoist/runtime";\n'));
  assert.ok(result.code.includes('\n], {});\nimport Child from'));
  assert.doesNotMatch(result.code, /No\.astro/, 'non-hoistable loaders are not batched');
  assert.ok(result.code.endsWith('---\r\n<Child/>\r\n'));
});

test('page without frontmatter gets one (after a BOM if present)', () => {
  for (const bom of ['', '\uFEFF']) {
    const source = `${bom}<Layout><Child/></Layout>\n`;
    const result = transformAstro({ source, file: PAGE, root: ROOT, info: analyzeText(source), loaders: [loader('/proj/src/components/Child.astro')] });
    assert.ok(result);
    assert.ok(result.code.startsWith(`${bom}---\nimport { __startBatch`), JSON.stringify(result.code.slice(0, 20)));
    assert.ok(result.code.endsWith('---\n<Layout><Child/></Layout>\n'));
  }
});

test('empty frontmatter keeps its closing fence on its own line', () => {
  const source = '---\n---\n<p/>';
  const result = transformAstro({ source, file: PAGE, root: ROOT, info: analyzeText(source), loaders: [loader('/proj/src/A.astro')] });
  assert.ok(result);
  assert.match(result.code, /\n\], \{\}\);\n---\n<p\/>$/);
});

test('the page binding and the block coexist; own loader referenced by name', () => {
  const source = '---\nexport const loader = async () => 1;\nconst d = await getLoaderData();\n---\n';
  const info = analyzeText(source);
  const result = transformAstro({
    source,
    file: PAGE,
    root: ROOT,
    info,
    loaders: [{ ...loader(PAGE), id: info.id }],
    options: { concurrency: 4 },
  });
  assert.ok(result);
  assert.match(result.code, /loader: loader, component: "src\/pages\/index\.astro", conditional: false \},\n\], \{"concurrency":4\}\);/);
  assert.match(result.code, /getLoaderData\(\{ astro: Astro, key: "abcdef0123456789"/);
  assert.doesNotMatch(result.code, /from "\.\/index\.astro"/, 'no self import');
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

/** Page `.mjs` in a temp dir + one child per hostile directory name (the `star*` folder puts a star-slash sequence in the path). */
function hostileProject(dirs) {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'hoist codegen "test" '));
  const page = path.join(root, 'src', 'pages', 'index.mjs');
  fs.mkdirSync(path.dirname(page), { recursive: true });
  const entries = dirs.map((dir, i) => {
    const file = path.join(root, 'src', dir, `Child ${i}.mjs`);
    return { file, id: String(i).padStart(16, '0'), component: path.relative(root, file), conditional: i % 2 === 1 };
  });
  return { root, page, entries };
}

test('generated block is valid JS for hostile file names (node --check)', () => {
  const { root, page, entries } = hostileProject([...HOSTILE_DIRS, ...SYNTAX_ONLY_DIRS]);
  try {
    const block = batchBlock(entries, { page, options: { timeout: 1 } });
    assert.doesNotMatch(block, new RegExp(root.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')), 'no absolute path in generated code');
    const check = path.join(root, 'check.mjs');
    fs.writeFileSync(check, `const Astro = {};\n${block}`);
    const r = spawnSync(process.execPath, ['--check', check], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
});

test('generated block imports exactly the right modules for hostile file names (executed)', async () => {
  const { root, page, entries } = hostileProject(HOSTILE_DIRS);
  try {
    for (const [i, entry] of entries.entries()) {
      fs.mkdirSync(path.dirname(entry.file), { recursive: true });
      fs.writeFileSync(entry.file, `export const loader = () => ${JSON.stringify(`loader ${i}`)};\n`);
    }
    const runtime = path.join(root, 'runtime.mjs');
    fs.writeFileSync(runtime, 'export function __startBatch(astro, entries, options) { globalThis.__hoistCaptured = { astro, entries, options }; }\n');
    const block = batchBlock(entries, { page, options: { speculative: true } });
    const code = `const Astro = { request: 'fake' };\n${block.replace(JSON.stringify(RUNTIME_SPECIFIER), JSON.stringify(pathToFileURL(runtime).href))}`;
    fs.writeFileSync(page, code);
    await import(pathToFileURL(page).href);
    const captured = /** @type {any} */ (globalThis).__hoistCaptured;
    assert.deepEqual(captured.astro, { request: 'fake' });
    assert.deepEqual(captured.options, { speculative: true });
    assert.equal(captured.entries.length, entries.length);
    for (const [i, entry] of captured.entries.entries()) {
      assert.equal(entry.loader(), `loader ${i}`, `entry ${i} imports its own module`);
      assert.equal(entry.key, entries[i].id);
      assert.equal(entry.component, entries[i].component);
      assert.equal(entry.conditional, entries[i].conditional);
    }
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
});

test('source map: hires, with content, maps original positions through the insertions', () => {
  const source =
    '---\nimport { getLoaderData } from "astro-hoist/runtime";\nexport const loader = async () => 1;\nconst post = await getLoaderData();\n---\n<h1>{post.title}</h1>\n';
  const result = transformAstro({ source, file: PAGE, root: ROOT, info: analyzeText(source), loaders: [loader('/proj/src/components/Child.astro')] });
  assert.ok(result);
  // Relative to the map's own file (Rollup/Vite resolve it against the module's directory): no
  // absolute path in the map either.
  assert.deepEqual(result.map.sources, ['index.astro']);
  assert.deepEqual(result.map.sourcesContent, [source]);
  const map = new SourceMap(/** @type {any} */ (JSON.parse(result.map.toString())));

  /** @param {string} needle @param {number} [into] a column offset into the token (hires maps every character) */
  const check = (needle, into = 3) => {
    const generated = result.code.indexOf(needle);
    const original = source.indexOf(needle);
    const gl = result.code.slice(0, generated).split('\n');
    const ol = source.slice(0, original).split('\n');
    const entry = /** @type {any} */ (map.findEntry(gl.length - 1, gl[gl.length - 1].length + into));
    assert.equal(entry.originalLine, ol.length - 1, needle);
    assert.equal(entry.originalColumn, ol[ol.length - 1].length + into, needle);
  };
  check('const post');
  check('import { getLoaderData }');
  check('<h1>{post.title}');
  check(');\n---', 1); // the `;` right after the rewritten call
});

test('injectIntoFrontmatter attaches the block to the frontmatter content, after the opening fence', () => {
  const source = '---\nx\n---\n';
  const s = new MagicString(source);
  s.appendLeft(4, '/*left*/');
  injectIntoFrontmatter(s, analyzeText(source), 'BLOCK\n');
  assert.equal(s.toString(), '---\n/*left*/BLOCK\nx\n---\n');
});

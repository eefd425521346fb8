// The native API against the built addon: the three functions, their Promise forms, error
// shape, and inputs that must not take the process down.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { analyzeComponent, analyzeComponentSync, analyzeComponents } from '../../index.js';

const page = `---
import { getLoaderData } from 'astro-hoist/runtime';
import Layout from '../layouts/Layout.astro';
import { Card } from '@/components';
import { db } from '../lib/db';
export const loader = async ({ params, signal }) => db.post(params.slug, { signal });
const post = await getLoaderData<typeof loader>();
---
<Layout><Card>{post.tags.map((t) => <Card.Tag name={t} />)}</Card></Layout>
`;

test('analyzeComponentSync reports loader, imports, usages and calls', () => {
  const info = analyzeComponentSync(page, '/site/src/pages/[slug].astro', { root: '/site' });
  assert.equal(info.kind, 'astro');
  assert.match(info.id, /^[0-9a-f]{16}$/);
  assert.match(info.hash, /^[0-9a-f]{64}$/);
  assert.deepEqual(info.diagnostics, []);
  assert.equal(info.loader?.kind, 'arrow');
  assert.equal(info.loader?.hoistable, true);
  assert.deepEqual(info.loader?.reads.imports, ['db']);
  assert.deepEqual(info.loader?.reads.context, ['params', 'signal']);
  assert.deepEqual(
    info.usages.map((u) => [u.name, u.conditional, u.parent ?? null, u.source ?? null]),
    [
      ['Layout', false, null, '../layouts/Layout.astro'],
      ['Card', false, 0, '@/components'],
      ['Card.Tag', true, 1, '@/components'],
    ],
  );
  // Offsets are JS string indices: argsStart sits right after the call's `(`.
  const [call] = info.loaderDataCalls;
  assert.equal(page.slice(call.span.start, call.argsStart), 'getLoaderData<typeof loader>(');
  assert.equal(page.slice(info.frontmatter.start, info.frontmatter.end).startsWith('import {'), true);
});

test('ids are stable: the same root-relative path gives the same id anywhere', () => {
  const a = analyzeComponentSync('', '/home/a/site/src/pages/index.astro', { root: '/home/a/site' });
  const b = analyzeComponentSync('<p/>', '/ci/build/site/src/pages/index.astro', { root: '/ci/build/site/' });
  assert.equal(a.id, b.id);
  assert.notEqual(a.hash, b.hash);
});

test('analyzeComponent resolves to the same result as the sync form', async () => {
  const promise = analyzeComponent(page, '/site/src/pages/[slug].astro', { root: '/site' });
  assert.ok(promise instanceof Promise);
  assert.deepEqual(await promise, analyzeComponentSync(page, '/site/src/pages/[slug].astro', { root: '/site' }));
});

test('positions are in file coordinates with UTF-16 columns', () => {
  const src = '---\nconst emoji = "😀";\nconst ok = 1;\nconst bad = (;\n---\n<p/>';
  const info = analyzeComponentSync(src, 'broken.astro');
  const [d] = info.diagnostics;
  assert.equal(d.severity, 'error');
  assert.equal(d.code, 'syntax-error');
  assert.equal(d.line, 4);
  assert.equal(d.column, 14);
  assert.equal(src[d.offset], ';');
  assert.match(d.frame, /> 4 \| const bad = \(;/);
  const after = analyzeComponentSync('---\nconst a = "😀"; const b = (;\n---', 'x.astro').diagnostics[0];
  assert.equal(after.column, 28, 'a surrogate pair counts as two columns, as editors count');
});

test('analyzeComponents keeps input order, reads from disk, survives missing files', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'astro-hoist-native-'));
  try {
    writeFileSync(join(dir, 'Card.astro'), '---\nexport const loader = async () => 1;\n---\n<Inner/>');
    writeFileSync(join(dir, 'bad.astro'), Buffer.from([0x2d, 0x2d, 0x2d, 0x0a, 0xff, 0x0a, 0x2d, 0x2d, 0x2d]));
    const files = [
      { filename: join(dir, 'missing.astro') },
      { filename: join(dir, 'Card.astro') },
      { filename: join(dir, 'in-memory.ts'), source: "export { default as Card } from './Card.astro';" },
      { filename: join(dir, 'bad.astro') },
    ];
    const infos = await analyzeComponents(files, { root: dir });
    assert.deepEqual(infos.map((i) => i.filename), files.map((f) => f.filename));
    assert.equal(infos[0].diagnostics[0].code, 'read-error');
    assert.match(infos[0].diagnostics[0].message, /missing\.astro/);
    assert.equal(infos[1].loader?.kind, 'arrow');
    assert.equal(infos[1].usages[0].name, 'Inner');
    assert.deepEqual(infos[2].reexports[0].names, [{ imported: 'default', exported: 'Card' }]);
    assert.equal(infos[3].diagnostics[0].code, 'invalid-utf8');
    assert.equal(infos[3].diagnostics[0].line, 2);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('bad arguments throw a TypeError-like JS error, never crash', () => {
  // @ts-expect-error deliberately wrong
  assert.throws(() => analyzeComponentSync(42, 'a.astro'), (e) => e instanceof Error && /string/i.test(e.message));
  // @ts-expect-error deliberately wrong
  assert.throws(() => analyzeComponents('nope'), Error);
  // @ts-expect-error deliberately wrong
  assert.throws(() => analyzeComponentSync('', 'a.astro', { root: 7 }), Error);
});

test('hostile input on the JS thread: deep nesting, garbage, huge files', async () => {
  const deep = `---\nexport const loader = async () => ${'('.repeat(50_000)}1${')'.repeat(50_000)};\n---\n<Card/>`;
  const info = analyzeComponentSync(deep, 'deep.astro');
  assert.equal(info.diagnostics[0].code, 'too-deeply-nested');
  assert.equal(info.usages.length, 1);
  const nearLimit = `export const x = ${'['.repeat(990)}1${']'.repeat(990)};`;
  assert.deepEqual(analyzeComponentSync(nearLimit, 'near.ts').diagnostics, []);
  const garbage = Buffer.from(Array.from({ length: 65536 }, (_, i) => (i * 7919) % 256)).toString('latin1');
  for (const name of ['g.astro', 'g.ts', 'g.jsx']) {
    const r = await analyzeComponent(garbage, name);
    assert.ok(r.diagnostics.length <= 51);
  }
  const big = '---\n' + 'export const v = [1, 2, 3];\n'.repeat(400_000) + '---\n<A/>';
  assert.ok(big.length > 10_000_000);
  const started = performance.now();
  const r = await analyzeComponent(big, 'big.astro');
  assert.deepEqual(r.diagnostics, []);
  assert.equal(r.usages.length, 1);
  assert.ok(performance.now() - started < 10_000);
  assert.equal(analyzeComponentSync('---', 'fence.astro').diagnostics[0].code, 'unclosed-frontmatter');
  assert.deepEqual(analyzeComponentSync('', 'empty.astro').diagnostics, []);
});

test('TypeScript that would make the parser backtrack exponentially is refused in time, with a position', async () => {
  // Each `(a = b < (` nests one more speculative type-argument attempt in swc's TS parser.
  const expr = `${'(a = b < '.repeat(30)}1${')'.repeat(30)}`;
  const source = `---
import Card from './Card.astro';
const x =
  ${expr};
---
<Card />
`;
  const started = performance.now();
  const info = await analyzeComponent(source, 'src/pages/slow.astro');
  assert.ok(performance.now() - started < 1000);
  assert.equal(info.diagnostics.length, 1);
  const [d] = info.diagnostics;
  assert.equal(d.code, 'too-ambiguous');
  // A warning: Astro may build the file; astro-hoist only leaves it alone.
  assert.equal(d.severity, 'warning');
  assert.deepEqual([d.line, d.column], [4, 10]);
  assert.match(d.frame, /> 4 \|/);
  // The template is still read, and the same nesting in JavaScript parses normally.
  assert.equal(info.usages.length, 1);
  assert.deepEqual(analyzeComponentSync(`export const y = ${expr};`, 'ok.js').diagnostics, []);
});

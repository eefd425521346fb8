import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { walkComponentGraph, toComponentPath, isConditionalUsage, findImportBinding } from '../js/graph.js';

const ROOT = '/proj';
const span = { start: 0, end: 0, line: 1, column: 1, endLine: 1, endColumn: 1 };

/**
 * Hand-made ComponentInfo in the contract's shape.
 * @param {string} file root-relative
 * @param {object} [o]
 * @param {Array<[string, Record<string, string>]>} [o.imports] [source, { default?: local, '*'?: local, [imported]: local }]
 * @param {Array<any>} [o.reexports]
 * @param {Array<string | [string, { conditional?: boolean, parent?: number, attributes?: string[] }]>} [o.usages]
 * @param {boolean | string} [o.loader] true: hoistable loader; a string: not hoistable, for that reason
 * @param {number} [o.calls] getLoaderData() calls
 * @returns {import('../js/graph.js').ComponentInfo}
 */
function info(file, o = {}) {
  const imports = (o.imports ?? []).map(([source, bindings]) => ({
    source,
    defaultName: bindings.default ?? null,
    namespace: bindings['*'] ?? null,
    names: Object.entries(bindings)
      .filter(([k]) => k !== 'default' && k !== '*' && k !== 'type')
      .map(([imported, local]) => ({ imported, local, typeOnly: false })),
    typeOnly: bindings.type === 'true',
    span,
  }));
  const usages = (o.usages ?? []).map((u, i) => {
    const [name, extra] = typeof u === 'string' ? [u, {}] : u;
    return {
      name,
      line: i + 10,
      column: 3,
      offset: 0,
      conditional: extra.conditional ?? false,
      parent: extra.parent ?? null,
      source: null,
      imported: null,
      attributes: extra.attributes ?? [],
    };
  });
  const loader =
    o.loader == null || o.loader === false
      ? null
      : {
          kind: /** @type {const} */ ('arrow'),
          span: { ...span, line: 3, column: 1 },
          reads: { imports: [], exports: [], astro: typeof o.loader === 'string', context: [], locals: [] },
          dependsOn: [],
          hoistable: o.loader === true,
          reason: typeof o.loader === 'string' ? o.loader : null,
        };
  return {
    filename: path.join(ROOT, file),
    id: `id:${file}`,
    hash: '0'.repeat(64),
    kind: file.endsWith('.astro') ? 'astro' : 'module',
    frontmatter: null,
    imports,
    reexports: o.reexports ?? [],
    loader,
    usages,
    loaderDataCalls: Array.from({ length: o.calls ?? (loader ? 1 : 0) }, () => ({ span, argsStart: 0, argCount: 0 })),
    diagnostics: [],
  };
}

/** `export { imported as exported } from source` / `export * from` / `export * as ns from` */
function reexport(source, names = {}, { all = false, namespace = null } = {}) {
  return {
    source,
    names: Object.entries(names).map(([exported, imported]) => ({ imported, exported })),
    all,
    namespace,
    typeOnly: false,
    span,
  };
}

/**
 * A fake project: `infos` keyed by root-relative path; relative imports resolve against the
 * importer's directory; `aliases` map bare specifiers to root-relative paths.
 */
function project(infos, { aliases = {}, extensions = ['', '.ts', '.js', '/index.ts'] } = {}) {
  const byFile = new Map(Object.entries(infos).map(([rel, i]) => [path.join(ROOT, rel), i]));
  const analyzed = [];
  return {
    analyzed,
    async analyze(file) {
      analyzed.push(file);
      const found = byFile.get(file);
      if (!found) throw Object.assign(new Error(`ENOENT: no such file, open '${file}'`), { code: 'ENOENT' });
      return found;
    },
    async resolve(source, importer) {
      if (source in aliases) return path.join(ROOT, aliases[source]);
      if (!source.startsWith('.')) return null;
      const base = path.resolve(path.dirname(importer), source);
      for (const ext of extensions) if (byFile.has(base + ext)) return base + ext;
      return null;
    },
  };
}

const PAGE = path.join(ROOT, 'src/pages/index.astro');
const P = (rel) => path.join(ROOT, rel);

async function walk(infos, opts) {
  const p = project(infos, opts);
  const result = await walkComponentGraph({ page: PAGE, root: ROOT, analyze: p.analyze, resolve: p.resolve });
  return { ...result, analyzed: p.analyzed };
}

const summary = (loaders) => loaders.map((l) => `${l.component}${l.conditional ? ' (cond)' : ''}${l.hoistable ? '' : ' (no)'}`);

test('toComponentPath gives a root-relative posix path', () => {
  assert.equal(toComponentPath('/proj', '/proj/src/components/A.astro'), 'src/components/A.astro');
  assert.equal(toComponentPath('/proj', '/other/ui/A.astro'), '../other/ui/A.astro');
});

test('nested direct imports: every descendant loader is collected, in document order', async () => {
  const r = await walk({
    'src/pages/index.astro': info('src/pages/index.astro', {
      imports: [['../components/A.astro', { default: 'A' }], ['../components/B.astro', { default: 'B' }]],
      usages: ['A', 'B'],
    }),
    'src/components/A.astro': info('src/components/A.astro', {
      imports: [['./C.astro', { default: 'C' }]],
      usages: ['C'],
      loader: true,
    }),
    'src/components/B.astro': info('src/components/B.astro', { loader: true }),
    'src/components/C.astro': info('src/components/C.astro', { loader: true }),
  });
  assert.deepEqual(summary(r.loaders), ['src/components/A.astro', 'src/components/C.astro', 'src/components/B.astro']);
  assert.deepEqual(r.loaders[0], {
    file: P('src/components/A.astro'),
    id: 'id:src/components/A.astro',
    component: 'src/components/A.astro',
    conditional: false,
    hoistable: true,
    reason: null,
  });
  assert.deepEqual(
    [...r.files].sort(),
    ['src/components/A.astro', 'src/components/B.astro', 'src/components/C.astro', 'src/pages/index.astro'].map(P),
  );
  assert.deepEqual(r.notHoisted, []);
});

test("the page's own loader is included", async () => {
  const r = await walk({ 'src/pages/index.astro': info('src/pages/index.astro', { loader: true }) });
  assert.deepEqual(summary(r.loaders), ['src/pages/index.astro']);
});

test('imports resolved through the resolver (aliases, packages)', async () => {
  const r = await walk(
    {
      'src/pages/index.astro': info('src/pages/index.astro', {
        imports: [['@/components/X.astro', { default: 'X' }], ['ui-kit', { Button: 'Button' }]],
        usages: ['X', 'Button'],
      }),
      'src/components/X.astro': info('src/components/X.astro', { loader: true }),
      'node_modules/ui-kit/index.js': info('node_modules/ui-kit/index.js', {
        reexports: [reexport('./Button.astro', { Button: 'default' })],
      }),
      'node_modules/ui-kit/Button.astro': info('node_modules/ui-kit/Button.astro', { loader: true }),
    },
    { aliases: { '@/components/X.astro': 'src/components/X.astro', 'ui-kit': 'node_modules/ui-kit/index.js' } },
  );
  assert.deepEqual(summary(r.loaders), ['src/components/X.astro', 'node_modules/ui-kit/Button.astro']);
  assert.ok(r.files.has(P('node_modules/ui-kit/index.js')), 'barrel files are watched too');
});

test('barrels: named re-export, export *, import-then-export, namespace import, export * as', async () => {
  const r = await walk({
    'src/pages/index.astro': info('src/pages/index.astro', {
      imports: [
        ['../ui', { Card: 'Card', Star: 'Star', Reexported: 'Re' }],
        ['../ui', { '*': 'UI' }],
        ['../ns', { Kit: 'Kit' }],
      ],
      usages: ['Card', 'Star', 'Re', 'UI.Deep', 'Kit.Tag'],
    }),
    // src/ui/index.ts
    'src/ui/index.ts': info('src/ui/index.ts', {
      reexports: [
        reexport('./Card.astro', { Card: 'default' }),
        reexport('./more', {}, { all: true }),
        // `import Reexported from './Re.astro'; export { Reexported }` as the core reports it
        reexport('./Re.astro', { Reexported: 'default' }),
      ],
    }),
    'src/ui/more.ts': info('src/ui/more.ts', {
      reexports: [reexport('./Star.astro', { Star: 'default' }), reexport('./deep', { Deep: 'Deep' })],
    }),
    'src/ui/deep.ts': info('src/ui/deep.ts', { reexports: [reexport('./Deep.astro', { Deep: 'default' })] }),
    'src/ns.ts': info('src/ns.ts', { reexports: [reexport('./tags', {}, { namespace: 'Kit' })] }),
    'src/tags.ts': info('src/tags.ts', { reexports: [reexport('./Tag.astro', { Tag: 'default' })] }),
    'src/ui/Card.astro': info('src/ui/Card.astro', { loader: true }),
    'src/ui/Star.astro': info('src/ui/Star.astro', { loader: true }),
    'src/ui/Re.astro': info('src/ui/Re.astro', { loader: true }),
    'src/ui/Deep.astro': info('src/ui/Deep.astro', { loader: true }),
    'src/Tag.astro': info('src/Tag.astro', { loader: true }),
  });
  assert.deepEqual(summary(r.loaders), [
    'src/ui/Card.astro',
    'src/ui/Star.astro',
    'src/ui/Re.astro',
    'src/ui/Deep.astro',
    'src/Tag.astro',
  ]);
  for (const f of ['src/ui/index.ts', 'src/ui/more.ts', 'src/ui/deep.ts', 'src/ns.ts', 'src/tags.ts']) {
    assert.ok(r.files.has(P(f)), `${f} watched`);
  }
  assert.deepEqual(r.notHoisted, []);
});

test('export * does not forward default; a missing export is recorded, not thrown', async () => {
  const r = await walk({
    'src/pages/index.astro': info('src/pages/index.astro', {
      imports: [['../b', { default: 'Def', Nope: 'Nope' }]],
      usages: ['Def', 'Nope'],
    }),
    'src/b.ts': info('src/b.ts', { reexports: [reexport('./C.astro', {}, { all: true })] }),
    'src/C.astro': info('src/C.astro', { loader: true }),
  });
  assert.deepEqual(r.loaders, []);
  assert.deepEqual(
    r.notHoisted.map((n) => [n.code, n.component, n.line]),
    [
      ['export-not-found', 'src/pages/index.astro', 10],
      ['export-not-found', 'src/pages/index.astro', 11],
    ],
  );
});

test('component cycles and re-export cycles terminate', async () => {
  const r = await walk({
    'src/pages/index.astro': info('src/pages/index.astro', {
      imports: [['../A.astro', { default: 'A' }], ['../loop', { X: 'X' }]],
      usages: ['A', 'X'],
    }),
    'src/A.astro': info('src/A.astro', { imports: [['./B.astro', { default: 'B' }]], usages: ['B'], loader: true }),
    'src/B.astro': info('src/B.astro', {
      imports: [['./A.astro', { default: 'A' }], ['./pages/index.astro', { default: 'Page' }]],
      usages: ['A', 'Page', 'Astro.self'],
      loader: true,
    }),
    'src/loop.ts': info('src/loop.ts', { reexports: [reexport('./loop2', {}, { all: true })] }),
    'src/loop2.ts': info('src/loop2.ts', { reexports: [reexport('./loop', {}, { all: true })] }),
  });
  assert.deepEqual(summary(r.loaders), ['src/A.astro', 'src/B.astro']);
  assert.deepEqual(
    r.notHoisted.map((n) => n.code),
    ['reexport-cycle'],
  );
});

test('conditional only when every path is conditional; unconditional wins, also when found later', async () => {
  const r = await walk({
    'src/pages/index.astro': info('src/pages/index.astro', {
      imports: [
        ['../X.astro', { default: 'X' }],
        ['../Y.astro', { default: 'Y' }],
        ['../OnlyCond.astro', { default: 'OnlyCond' }],
        ['../Layout.astro', { default: 'Layout' }],
        ['../Slotted.astro', { default: 'Slotted' }],
      ],
      usages: [
        ['X', { conditional: true }], // X first reached conditionally...
        'Y', // ...then unconditionally through Y
        ['OnlyCond', { conditional: true }],
        ['Layout', { conditional: true }],
        ['Slotted', { parent: 3 }], // slot content of a conditional tag
      ],
    }),
    'src/X.astro': info('src/X.astro', { imports: [['./Z.astro', { default: 'Z' }]], usages: ['Z'], loader: true }),
    'src/Y.astro': info('src/Y.astro', { imports: [['./X.astro', { default: 'X' }]], usages: ['X'], loader: true }),
    'src/Z.astro': info('src/Z.astro', { loader: true }),
    'src/OnlyCond.astro': info('src/OnlyCond.astro', {
      imports: [['./Z2.astro', { default: 'Z2' }]],
      usages: ['Z2'],
      loader: true,
    }),
    'src/Z2.astro': info('src/Z2.astro', { loader: true }),
    'src/Layout.astro': info('src/Layout.astro', {}),
    'src/Slotted.astro': info('src/Slotted.astro', { loader: true }),
  });
  assert.deepEqual(summary(r.loaders), [
    'src/X.astro', // upgraded to unconditional...
    'src/Z.astro', // ...and so are its descendants
    'src/Y.astro',
    'src/OnlyCond.astro (cond)',
    'src/Z2.astro (cond)',
    'src/Slotted.astro (cond)',
  ]);
});

test('missing files and unresolvable imports are recorded, never thrown', async () => {
  const r = await walk({
    'src/pages/index.astro': info('src/pages/index.astro', {
      imports: [
        ['../Gone.astro', { default: 'Gone' }],
        ['./nowhere', { default: 'Nowhere' }],
        ['../Ok.astro', { default: 'Ok' }],
        ['../broken', { Broken: 'Broken' }],
      ],
      usages: ['Gone', 'Nowhere', 'Ok', 'Broken'],
    }),
    'src/Ok.astro': info('src/Ok.astro', { loader: true }),
  }, { extensions: ['', '.ts'] });
  assert.deepEqual(summary(r.loaders), ['src/Ok.astro']);
  const codes = r.notHoisted.map((n) => `${n.code}:${n.source ?? ''}`);
  assert.deepEqual(codes, ['unresolved-import:../Gone.astro', 'unresolved-import:./nowhere', 'unresolved-import:../broken']);
});

test('a resolved file that cannot be analyzed is recorded and still watched', async () => {
  const p = project({
    'src/pages/index.astro': info('src/pages/index.astro', {
      imports: [['../Gone.astro', { default: 'Gone' }]],
      usages: ['Gone'],
    }),
  });
  const r = await walkComponentGraph({
    page: PAGE,
    root: ROOT,
    analyze: p.analyze,
    resolve: async (source, importer) => path.resolve(path.dirname(importer), source),
  });
  assert.deepEqual(r.loaders, []);
  assert.equal(r.notHoisted.length, 1);
  assert.equal(r.notHoisted[0].code, 'analyze-failed');
  assert.match(r.notHoisted[0].reason, /ENOENT/);
  assert.ok(r.files.has(P('src/Gone.astro')));
});

test('a resolver that throws counts as unresolved', async () => {
  const r = await walkComponentGraph({
    page: PAGE,
    root: ROOT,
    analyze: async () => info('src/pages/index.astro', { imports: [['x', { default: 'X' }]], usages: ['X'] }),
    resolve: async () => {
      throw new Error('boom');
    },
  });
  assert.deepEqual(r.notHoisted.map((n) => n.code), ['unresolved-import']);
});

test('non-hoistable and unused loaders are listed with hoistable: false and a reason', async () => {
  const r = await walk({
    'src/pages/index.astro': info('src/pages/index.astro', {
      imports: [['../Reads.astro', { default: 'Reads' }], ['../Unused.astro', { default: 'Unused' }]],
      usages: ['Reads', 'Unused'],
    }),
    'src/Reads.astro': info('src/Reads.astro', { loader: 'reads Astro.props' }),
    'src/Unused.astro': info('src/Unused.astro', { loader: true, calls: 0 }),
  });
  assert.deepEqual(summary(r.loaders), ['src/Reads.astro (no)', 'src/Unused.astro (no)']);
  assert.equal(r.loaders[0].reason, 'reads Astro.props');
  assert.match(/** @type {string} */ (r.loaders[1].reason), /getLoaderData/);
  assert.deepEqual(
    r.notHoisted.map((n) => [n.code, n.component, n.line]),
    [
      ['loader-not-hoistable', 'src/Reads.astro', 3],
      ['loader-unused', 'src/Unused.astro', 3],
    ],
  );
});

test('local components, built-ins, type-only imports and framework files are not followed', async () => {
  const r = await walk({
    'src/pages/index.astro': info('src/pages/index.astro', {
      imports: [
        ['../T.astro', { default: 'T', type: 'true' }],
        ['../React.tsx', { default: 'R' }],
        ['../kit', { Btn: 'Btn' }],
        ['../V.vue', { default: 'V' }],
      ],
      usages: ['Local', 'Fragment', 'T', 'R', 'Btn', 'V'],
    }),
    'src/T.astro': info('src/T.astro', { loader: true }),
    'src/React.tsx': info('src/React.tsx', {}),
    'src/kit.ts': info('src/kit.ts', { reexports: [reexport('./Btn.tsx', { Btn: 'Btn' })] }),
    'src/Btn.tsx': info('src/Btn.tsx', {}),
    'src/V.vue': info('src/V.vue', {}),
  });
  assert.deepEqual(r.loaders, []);
  assert.deepEqual(r.notHoisted.map((n) => `${n.code}:${n.line}`), ['unknown-component:10']);
  assert.ok(!r.files.has(P('src/T.astro')), 'type-only import not read');
  assert.ok(!r.files.has(P('src/V.vue')), 'non-script files are not analyzed');
});

test('uses the core-reported source when the import list does not bind the tag', async () => {
  const page = info('src/pages/index.astro', {});
  page.usages = [{ name: 'W', line: 5, column: 1, offset: 0, conditional: false, parent: null, source: '../W.astro', imported: 'default' }];
  const r = await walk({ 'src/pages/index.astro': page, 'src/W.astro': info('src/W.astro', { loader: true }) });
  assert.deepEqual(summary(r.loaders), ['src/W.astro']);
});

test('analysis is memoized per walk', async () => {
  const r = await walk({
    'src/pages/index.astro': info('src/pages/index.astro', {
      imports: [['../A.astro', { default: 'A' }], ['../B.astro', { default: 'B' }]],
      usages: ['A', 'B', 'A', ['B', { conditional: true }]],
    }),
    'src/A.astro': info('src/A.astro', { imports: [['./B.astro', { default: 'B' }]], usages: ['B', 'B'], loader: true }),
    'src/B.astro': info('src/B.astro', { loader: true }),
  });
  assert.deepEqual([...r.analyzed].sort(), ['src/A.astro', 'src/B.astro', 'src/pages/index.astro'].map(P));
});

test('isConditionalUsage follows parents and survives malformed parent chains', () => {
  const u = (conditional, parent) => ({ name: 'X', line: 1, column: 1, offset: 0, conditional, parent, source: null, imported: null });
  assert.equal(isConditionalUsage([u(true, null), u(false, 0), u(false, 1)], 2), true);
  assert.equal(isConditionalUsage([u(false, null), u(false, 0)], 1), false);
  assert.equal(isConditionalUsage([u(false, 1), u(false, 0)], 0), false);
  assert.equal(isConditionalUsage([u(false, 7)], 0), false);
});

test('findImportBinding covers default, named and namespace bindings', () => {
  const imports = info('x.astro', {
    imports: [['./a', { default: 'A', B: 'LocalB' }], ['./ns', { '*': 'NS' }]],
  }).imports;
  assert.deepEqual(findImportBinding(imports, 'A'), { source: './a', path: ['default'], typeOnly: false });
  assert.deepEqual(findImportBinding(imports, 'LocalB'), { source: './a', path: ['B'], typeOnly: false });
  assert.deepEqual(findImportBinding(imports, 'NS'), { source: './ns', path: [], typeOnly: false });
  assert.equal(findImportBinding(imports, 'B'), null);
});

test('a server island (server:defer) is not walked; its slot content is', async () => {
  const r = await walk({
    'src/pages/index.astro': info('src/pages/index.astro', {
      imports: [['../components/Island.astro', { default: 'Island' }], ['../components/Fallback.astro', { default: 'Fallback' }]],
      usages: [['Island', { attributes: ['server:defer'] }], ['Fallback', { parent: 0, attributes: ['slot'] }]],
    }),
    'src/components/Island.astro': info('src/components/Island.astro', { loader: true }),
    'src/components/Fallback.astro': info('src/components/Fallback.astro', { loader: true }),
  });
  assert.deepEqual(summary(r.loaders), ['src/components/Fallback.astro']);
  assert.ok(r.notHoisted.some((n) => n.code === 'server-island' && /Island/.test(n.reason)));
});

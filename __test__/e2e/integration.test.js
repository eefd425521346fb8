// End-to-end tests of the astro-hoist integration with real Astro, installed the way users install
// it (npm pack tarballs of the package and its linux-x64-gnu platform package, `npm install`), in
// both environments: Astro 7 on the `node` package's Node 22 and Astro 5 on this Node 20.
//
// Fixtures (one build per fixture per environment, shared by the tests of a `describe`):
//   hoist-tree         output: 'server' — nested, slots (default and named), an [id] route,
//                      alias/barrel/namespace imports, a component package in node_modules
//                      (vendor/hoist-ui-kit, copied in by the tests), loader-semantics traps,
//                      failing and hanging loaders, user middleware, a prerendered page, and the
//                      same tree with plain frontmatter awaits as the waterfall baseline, measured
//                      side by side
//   hoist-conditional  `{ok && <X/>}`, a ternary with slot content, `.map(i => <Item/>)`; built as
//                      is and with `hoist({ speculative: true })`
//   hoist-static       output: 'static', with getStaticPaths params
// plus `astro dev` of hoist-tree, editing a grandchild and a barrel module.
//
// The addon packed is whatever `npm/linux-x64-gnu/` holds: `npm test` rebuilds it first
// (`pretest`); when running this file alone after changing src/, run `node scripts/ensure-built.js`.
// Timing assertions use the minimum of 5 sequential requests and wide margins; where possible the
// tests assert *when* each endpoint was called (the latency API records arrival times), which does
// not depend on machine speed.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { analyzeComponentSync } from '../../index.js';
import {
  ENVIRONMENTS,
  FIXTURES_DIR,
  REPO_ROOT,
  build,
  dev,
  ensureEnv,
  fetchResponse,
  fetchText,
  installPackedAddon,
  minRequestTime,
  packAddon,
  prepareFixture,
  serve,
  startLatencyApi,
  stopAll,
} from '../../harness/harness.js';

/** @typedef {import('../../harness/harness.js').LatencyApi} LatencyApi */
/** @typedef {import('../../harness/harness.js').RunningServer} RunningServer */

/** One loader's latency (the latency API's default delay). */
const DELAY_MS = 50;
/** The dev server renders slower than a build: its latency API waits longer, keeping margins wide. */
const DEV_DELAY_MS = 100;
/** Generous: the first run of an environment includes `npm ci` (and the Node 22 download). */
const SETUP_TIMEOUT_MS = 12 * 60_000;
/** The own loader of the alias, traps, package and conditional pages asks for `?delay=150`. */
const SLOW_PAGE_DELAY_MS = 150;
/** Timer slack: a 150 ms setTimeout may fire a fraction of a millisecond early. */
const TIMER_SLACK_MS = 2;

/** Endpoints of each hoist-tree page, in tree order. */
const TREE = {
  nested: ['/nested/page', '/nested/a', '/nested/b', '/nested/c'],
  slots: ['/slots/layout', '/slots/card', '/slots/inner', '/slots/aside'],
  waterfall: ['/waterfall/page', '/waterfall/a', '/waterfall/b', '/waterfall/c'],
  alias: [
    '/alias/page',
    '/alias/tsconfig-paths',
    '/alias/vite-alias',
    '/alias/barrel',
    '/alias/namespace',
    '/alias/star-reexport',
    '/alias/visitor',
  ],
  traps: [
    '/traps/page',
    '/traps/helper',
    '/traps/export',
    '/traps/limit',
    '/traps/typed',
    '/traps/function',
    '/traps/define',
    '/traps/astro',
    '/traps/depends',
  ],
  errors: ['/errors/fine', '/errors/fetch'],
  package: ['/package/page', '/package/badge', '/package/icon'],
};

/** @type {string[]} */
let tarballs = [];

before(async () => {
  tarballs = await packAddon({ destination: path.join(REPO_ROOT, '.e2e', 'packs-integration') });
}, { timeout: SETUP_TIMEOUT_MS });

after(stopAll);

// ---------------------------------------------------------------------------------------------
// helpers

/**
 * Index of `needle` in `html`, failing with context when it is missing.
 * @param {string} html
 * @param {string} needle
 */
function indexOf(html, needle) {
  const index = html.indexOf(needle);
  assert.notEqual(index, -1, `${JSON.stringify(needle)} missing from:\n${html.slice(0, 3000)}`);
  return index;
}

/**
 * Asserts that since the last reset the API saw exactly one call of each of `paths` and nothing
 * else.
 * @param {LatencyApi} api
 * @param {string[]} paths
 * @param {number} [times] calls expected per path
 */
function assertCalls(api, paths, times = 1) {
  const actual = Object.fromEntries([...api.counts].sort(([a], [b]) => a.localeCompare(b)));
  const expected = Object.fromEntries([...paths].sort().map((p) => [p, times]));
  assert.deepEqual(actual, expected, 'API calls since the last reset (path -> count)');
}

/**
 * When each path was first called since the last reset, in ms after the first call of `from`
 * (default: after the earliest call).
 * @param {LatencyApi} api
 * @param {string} [from]
 * @returns {Record<string, number>}
 */
function callOffsets(api, from) {
  const reference = from === undefined ? api.calls : api.calls.filter((c) => c.path === from);
  assert.ok(reference.length > 0, `${from ?? 'the API'} was not called`);
  const first = Math.min(...reference.map((c) => c.at));
  /** @type {Record<string, number>} */
  const offsets = {};
  for (const call of api.calls) offsets[call.path] ??= call.at - first;
  return offsets;
}

/**
 * Asserts one batch: every path in `paths` reached the API less than `parentDelayMs` (the delay of
 * the tree's root loader) after the earliest of them. In a waterfall a child's call can only
 * arrive after its parent's answer, i.e. at least that delay after the parent's call; so this
 * tells a batch from a waterfall by cause, not by machine speed (only a server stalled for the
 * whole delay between two fetches of one batch could fail it).
 * @param {LatencyApi} api
 * @param {string[]} paths
 * @param {number} parentDelayMs
 */
function assertOneBatch(api, paths, parentDelayMs) {
  const calls = api.calls.filter((c) => paths.includes(c.path));
  for (const p of paths) assert.ok(calls.some((c) => c.path === p), `${p} was not called`);
  const first = Math.min(...calls.map((c) => c.at));
  const offsets = Object.fromEntries(paths.map((p) => [p, Math.min(...calls.filter((c) => c.path === p).map((c) => c.at)) - first]));
  for (const p of paths) {
    assert.ok(
      offsets[p] < parentDelayMs,
      `${p} reached the API ${offsets[p].toFixed(1)} ms after the first call of the batch (a waterfall: >= ${parentDelayMs}): ${JSON.stringify(offsets)}`,
    );
  }
}

/**
 * Asserts that each of `paths` reached the API only after `parent`'s call could have been answered
 * (`parentDelayMs` later): they were not started early.
 * @param {LatencyApi} api
 * @param {string} parent
 * @param {number} parentDelayMs
 * @param {string[]} paths
 */
function assertStartedAfter(api, parent, parentDelayMs, paths) {
  const offsets = callOffsets(api, parent);
  for (const p of paths) {
    assert.ok(p in offsets, `${p} was not called`);
    assert.ok(
      offsets[p] >= parentDelayMs - TIMER_SLACK_MS,
      `${p} reached the API ${offsets[p].toFixed(1)} ms after ${parent}, before ${parent} was answered (${parentDelayMs} ms): ${JSON.stringify(offsets)}`,
    );
  }
}

/**
 * Waits until `check()` is true (polling), or fails with `message`.
 * @param {() => boolean | Promise<boolean>} check
 * @param {string} message
 * @param {number} [timeoutMs]
 */
async function waitFor(check, message, timeoutMs = 10_000) {
  const end = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > end) assert.fail(message);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/**
 * `Server-Timing` entries: `name;dur=1.2;desc="..."` separated by commas.
 * @param {string | null} header
 * @returns {{ name: string, dur: number, desc: string }[]}
 */
function parseServerTiming(header) {
  if (!header) return [];
  return header.split(/,\s*/).map((entry) => {
    const [name, ...params] = entry.split(';');
    const dur = params.find((p) => p.startsWith('dur='));
    const desc = params.find((p) => p.startsWith('desc='));
    return {
      name: name.trim(),
      dur: dur ? Number(dur.slice(4)) : NaN,
      desc: desc ? JSON.parse(desc.slice(5)) : '',
    };
  });
}

/** Output of a Node process that had an unhandled rejection (or too many abort listeners). */
const PROCESS_TROUBLE = /unhandled|ERR_UNHANDLED_REJECTION|MaxListenersExceeded/i;

/**
 * Every occurrence of an absolute path of this machine in a build's output that is NOT one of
 * the places Astro itself writes absolute paths for any project (measured on plain builds of
 * Astro 5.18 and 7.3): the serialized manifest (one line), the component module id argument of
 * `$$createComponent(fn, "<path>", ...)`, `$$file = "<path>"`, the Node adapter's `client`/`server`
 * directory URLs, and server islands' `serverIslandNameMap` and `"server:component-path"`.
 * Whatever is left came from somewhere else, e.g. astro-hoist's generated code.
 * @param {string} distDir
 * @param {string[]} needles absolute paths to look for
 * @returns {string[]} `file: …context…` per unexplained occurrence
 */
function unexplainedAbsolutePaths(distDir, needles) {
  /** @type {string[]} */
  const found = [];
  /** @param {string} dir */
  const walk = (dir) => {
    for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
      const file = path.join(dir, entry.name);
      if (entry.isDirectory()) {
        walk(file);
        continue;
      }
      const bytes = fs.readFileSync(file);
      if (bytes.includes(0)) continue; // binary
      const text = bytes.toString('utf8');
      /** Offsets already reported (one path may contain another needle). */
      const seen = new Set();
      for (const needle of needles) {
        for (let at = text.indexOf(needle); at !== -1; at = text.indexOf(needle, at + 1)) {
          if (seen.has(at)) continue;
          seen.add(at);
          const lineStart = text.lastIndexOf('\n', at) + 1;
          const lineEnd = text.indexOf('\n', at);
          const line = text.slice(lineStart, lineEnd === -1 ? undefined : lineEnd);
          const column = at - lineStart;
          // The string literal holding the path, and the code just before it.
          const quote = Math.max(line.lastIndexOf('"', column), line.lastIndexOf("'", column), line.lastIndexOf('`', column));
          const before = line.slice(Math.max(0, quote - 60), Math.max(0, quote));
          const explained =
            line.includes('deserializeManifest({') ||
            /\}, $/.test(before) || // $$createComponent(($$result, ...) => {...}, "<path>", ...)
            /\$\$file = $/.test(before) ||
            /new URL\($/.test(before) ||
            /\b(?:client|server) = $/.test(before) ||
            /"(?:client|server)": $/.test(before) ||
            /new Map\(\[\[$/.test(before) || // serverIslandNameMap
            /"server:component-path": $/.test(before);
          if (!explained) {
            found.push(`${path.relative(distDir, file)}: …${line.slice(Math.max(0, column - 100), column + needle.length + 60)}…`);
          }
        }
      }
    }
  };
  walk(distDir);
  return found;
}

/**
 * Files that install the hoist-tree fixture's component package (`vendor/hoist-ui-kit/`) into the
 * project's `node_modules/`, as `prepareFixture`'s `files` option.
 * @returns {Record<string, string>}
 */
function uiKitPackage() {
  const dir = path.join(FIXTURES_DIR, 'hoist-tree', 'vendor', 'hoist-ui-kit');
  return Object.fromEntries(
    fs.readdirSync(dir).map((file) => [`node_modules/hoist-ui-kit/${file}`, fs.readFileSync(path.join(dir, file), 'utf8')]),
  );
}

/**
 * The fixture's astro.config.mjs with `hoist()` replaced by `hoist(<options>)`.
 * @param {string} fixture
 * @param {string} options source of the options object
 */
function configWithOptions(fixture, options) {
  const source = fs.readFileSync(path.join(FIXTURES_DIR, fixture, 'astro.config.mjs'), 'utf8');
  const changed = source.replace('integrations: [hoist()]', `integrations: [hoist(${options})]`);
  assert.notEqual(changed, source, `${fixture}/astro.config.mjs must contain 'integrations: [hoist()]'`);
  return changed;
}

// ---------------------------------------------------------------------------------------------

for (const env of ENVIRONMENTS) {
  describe(`${env}: hoist-tree built (output: 'server') and served`, () => {
    /** @type {LatencyApi} */
    let api;
    /** @type {RunningServer} */
    let server;
    /** @type {string} */
    let root;
    /** @type {string} */
    let buildOutput;
    /** API calls made by `astro build` (the prerendered page). */
    /** @type {Record<string, number>} */
    let buildCalls;

    before(async () => {
      const info = await ensureEnv(env);
      const install = await installPackedAddon(env, tarballs);
      api = await startLatencyApi({ delayMs: DELAY_MS });
      root = await prepareFixture(env, 'hoist-tree', { files: uiKitPackage() });
      const built = await build(root, { env: { HOIST_API: api.url } });
      buildOutput = built.output;
      buildCalls = Object.fromEntries(api.counts);
      api.reset();
      console.log(
        `e2e-integration ${env}: astro ${info.astroVersion} on node ${info.nodeVersion}; ` +
          `astro-hoist tarballs ${install.installed ? `installed in ${install.ms} ms` : 'already installed'}; ` +
          `hoist-tree build ${built.ms} ms`,
      );
      server = await serve(root, { env: { HOIST_API: api.url } });
    }, { timeout: SETUP_TIMEOUT_MS });

    after(async () => {
      await server?.stop();
      await api?.stop();
    });

    test('the package came from the packed tarballs, not a link to the repository', () => {
      const installed = path.join(root, '..', '..', 'node_modules', 'astro-hoist');
      assert.equal(fs.lstatSync(installed).isSymbolicLink(), false, `${installed} is a symlink`);
      assert.ok(fs.existsSync(path.join(installed, 'js', 'runtime.js')));
      // Only the package's `files` were installed: no sources, no build tree.
      for (const absent of ['src', 'Cargo.toml', 'target', '__test__']) {
        assert.equal(fs.existsSync(path.join(installed, absent)), false, `${absent} was installed`);
      }
      const platform = path.join(root, '..', '..', 'node_modules', 'astro-hoist-linux-x64-gnu');
      assert.equal(fs.lstatSync(platform).isSymbolicLink(), false, `${platform} is a symlink`);
      assert.ok(fs.readdirSync(platform).some((f) => f.endsWith('.node')), 'the platform package holds the .node binary');
    });

    test('the build warns once, for the one loader that cannot be hoisted', () => {
      const warnings = buildOutput.split('\n').filter((line) => line.includes('astro-hoist'));
      assert.equal(warnings.length, 1, `astro-hoist lines in the build output:\n${warnings.join('\n')}`);
      assert.match(warnings[0], /src\/components\/traps\/TrapAstro\.astro:5:1: it reads `Astro`/);
    });

    test('nested Page > A > B > C: rendered inside each other, one batch, each loader once', async () => {
      api.reset();
      const html = await fetchText(`${server.url}/nested`);
      const page = indexOf(html, '<p data-component="page">page from /nested/page</p>');
      const a = indexOf(html, '<p>a from /nested/a</p>');
      const b = indexOf(html, '<p>b from /nested/b</p>');
      const c = indexOf(html, '<p>c from /nested/c</p>');
      assert.ok(page < a && a < b && b < c, 'document order page, a, b, c');
      assert.match(html, /data-component="a">.*data-component="b">.*data-component="c">.*<\/section><\/section><\/section>/s);
      assertCalls(api, TREE.nested);
      assertOneBatch(api, TREE.nested, DELAY_MS);
    });

    test('slots <Layout><Card><Inner/></Card></Layout>: rendered inside each other, one batch, each loader once', async () => {
      api.reset();
      const html = await fetchText(`${server.url}/slots`);
      const layout = indexOf(html, '<p>layout from /slots/layout</p>');
      const card = indexOf(html, '<p>card from /slots/card</p>');
      const inner = indexOf(html, 'inner from /slots/inner');
      assert.ok(layout < card && card < inner, 'document order layout, card, inner');
      assert.match(html, /<main data-component="layout">.*<article data-component="card">.*<span data-component="inner">.*<\/article>.*<\/main>/s);
      assert.match(html, /<aside><span data-component="aside">aside from \/slots\/aside<\/span><\/aside>/, 'the named slot');
      assertCalls(api, TREE.slots);
      assertOneBatch(api, TREE.slots, DELAY_MS);
    });

    test(`timing: nested and slots answer in < 2 x ${DELAY_MS} ms; the same tree with frontmatter awaits needs >= 3 x`, async (t) => {
      /** @type {Record<string, number>} */
      const min = {};
      for (const page of /** @type {const} */ (['nested', 'slots', 'waterfall'])) {
        api.reset();
        const { min: ms, samples } = await minRequestTime(`${server.url}/${page}`, { tries: 5 });
        min[page] = ms;
        assertCalls(api, TREE[page], 5);
        t.diagnostic(`${env} /${page}: min ${ms.toFixed(1)} ms of [${samples.map((s) => s.toFixed(0)).join(', ')}]`);
      }
      console.log(
        `e2e-integration ${env}: min of 5 (ms): nested ${min.nested.toFixed(1)}, slots ${min.slots.toFixed(1)}, ` +
          `waterfall baseline ${min.waterfall.toFixed(1)} (one loader: ${DELAY_MS})`,
      );
      assert.ok(min.nested < 2 * DELAY_MS, `nested: ${min.nested.toFixed(1)} ms, expected < ${2 * DELAY_MS}`);
      assert.ok(min.slots < 2 * DELAY_MS, `slots: ${min.slots.toFixed(1)} ms, expected < ${2 * DELAY_MS}`);
      assert.ok(min.waterfall >= 3 * DELAY_MS, `waterfall baseline: ${min.waterfall.toFixed(1)} ms, expected >= ${3 * DELAY_MS}`);
    });

    test('Server-Timing (opted into with serverTiming: true): the loaders settled when the head left, by component id, no file paths', async () => {
      const ids = Object.fromEntries(
        ['src/pages/nested.astro', 'src/components/nested/NestedA.astro', 'src/components/nested/NestedB.astro', 'src/components/nested/NestedC.astro'].map(
          (rel) => [analyzeComponentSync('', path.join(root, rel), { root }).id, rel],
        ),
      );
      const nested = await fetchResponse(`${server.url}/nested`);
      const header = nested.headers.get('server-timing') ?? '';
      assert.doesNotMatch(header, /src\/|\.astro|desc=/, 'no internal file path leaves the server');
      const entries = parseServerTiming(header);
      assert.ok(entries.length >= 1 && entries.length <= 4, header);
      for (const entry of entries) {
        assert.match(entry.name, /^hoist-[0-9a-f]{16}$/);
        assert.ok(entry.name.slice(6) in ids, `${entry.name} is a loader of the page`);
        assert.ok(entry.dur >= DELAY_MS * 0.8 && entry.dur < 10_000, `${entry.name}: dur ${entry.dur}`);
      }
      const own = Object.keys(ids).find((id) => ids[id] === 'src/pages/nested.astro');
      assert.ok(entries.some((e) => e.name === `hoist-${own}`), `the page's own loader, awaited by its frontmatter, is in ${header}`);
    });

    test('40 concurrent requests of items/[id] each get only their own data, each loader once per request', async () => {
      api.reset();
      const ids = Array.from({ length: 40 }, (_, i) => `item${String(i).padStart(2, '0')}x${(i * 7919) % 1000}`);
      const responses = await Promise.all(ids.map((id) => fetchResponse(`${server.url}/items/${id}`)));
      responses.forEach((response, i) => {
        const id = ids[i];
        assert.equal(response.status, 200, `${id}: HTTP ${response.status}\n${response.text.slice(0, 1000)}`);
        for (const part of ['page', 'a', 'b', 'c']) indexOf(response.text, `<p${part === 'page' ? ' data-component="item-page"' : ''}>/items/${id}/${part}</p>`);
        const seen = new Set([...response.text.matchAll(/item\d\dx\d+/g)].map((m) => m[0]));
        assert.deepEqual([...seen], [id], `response for ${id} mentions ${[...seen].join(', ')}`);
      });
      assertCalls(api, ids.flatMap((id) => ['page', 'a', 'b', 'c'].map((part) => `/items/${id}/${part}`)));
      assert.equal(server.output().match(PROCESS_TROUBLE), null, server.output());
    });

    test('components through a tsconfig alias, a Vite alias, a barrel (named and export *) and a namespace import are hoisted; loaders see locals set by user middleware', async () => {
      api.reset();
      const html = await fetchText(`${server.url}/alias?visitor=ada`);
      indexOf(html, '<p data-component="alias-card">alias card from /alias/tsconfig-paths</p>');
      indexOf(html, '<p data-component="widget">widget from /alias/vite-alias</p>');
      indexOf(html, '<p data-component="barrel-card">barrel card from /alias/barrel</p>');
      indexOf(html, '<p data-component="panel">panel from /alias/namespace</p>');
      indexOf(html, '<p data-component="extra">extra from /alias/star-reexport</p>');
      indexOf(html, '<p data-component="visitor">visitor ada from /alias/visitor</p>');
      assertCalls(api, TREE.alias);
      // The page's own loader takes 150 ms: children started by the batch arrive with it.
      assertOneBatch(api, TREE.alias, SLOW_PAGE_DELAY_MS);
    });

    test('components from an installed package (subpath and package barrel) are hoisted, once per request', async () => {
      api.reset();
      const html = await fetchText(`${server.url}/package`);
      const badge = '<span data-component="badge">badge from /package/badge<i data-component="badge-icon">icon from /package/icon</i></span>';
      assert.equal(html.split(badge).length - 1, 2, html);
      assertCalls(api, TREE.package);
      assertOneBatch(api, TREE.package, SLOW_PAGE_DELAY_MS);
    });

    test('hoisting keeps what each loader means: own imports, own exports, own LIMIT, TS, function and defineLoader forms, context.load(); an Astro-reading loader runs once at render', async () => {
      api.reset();
      const html = await fetchText(`${server.url}/traps`);
      indexOf(html, '<p data-component="traps-page">page limit 1 from /traps/page</p>');
      indexOf(html, '<p data-component="trap-helper">helper says HELPER!</p>');
      // Rendered twice, loaded once: both show the same (first) call number.
      const exportLine = `<p data-component="trap-export">export from /traps/export call 1</p>`;
      const first = indexOf(html, exportLine);
      assert.notEqual(html.indexOf(exportLine, first + 1), -1, 'the second <TrapExport/> shows the same data');
      indexOf(html, '<p data-component="trap-limit">child limit 7 from /traps/limit</p>');
      indexOf(html, '<p data-component="trap-typed">typed 1:typed</p>');
      indexOf(html, '<p data-component="trap-function">function function</p>');
      indexOf(html, '<p data-component="trap-define">define define</p>');
      indexOf(html, '<p data-component="trap-astro">astro from /traps/astro</p>');
      // context.load(TrapExport's loader) reuses the run TrapExport reads.
      indexOf(html, '<p data-component="trap-depends">depends after /traps/export call 1</p>');
      assertCalls(api, TREE.traps);
      const hoisted = TREE.traps.filter((p) => p !== '/traps/astro');
      assertOneBatch(api, hoisted, SLOW_PAGE_DELAY_MS);
      // Not hoistable: it starts when TrapAstro renders, after the page's 150 ms loader.
      assertStartedAfter(api, '/traps/page', SLOW_PAGE_DELAY_MS, ['/traps/astro']);
      // A second request runs everything again (nothing is shared across requests).
      indexOf(await fetchText(`${server.url}/traps`), 'export from /traps/export call 2</p>');
      assertCalls(api, TREE.traps, 2);
    });

    test('failing loaders fail only their component, with the component file in the message; no unhandled rejection', async () => {
      api.reset();
      const response = await fetchResponse(`${server.url}/errors`);
      assert.equal(response.status, 200, response.text.slice(0, 2000));
      const html = response.text;
      const broken = html.match(/<p data-component="broken" class="error">([^<]*)<\/p>/);
      assert.ok(broken, html);
      assert.match(broken[1], /src\/components\/errors\/Broken\.astro/);
      assert.match(broken[1], /broken loader exploded/);
      const brokenFetch = html.match(/<p data-component="broken-fetch" class="error">([^<]*)<\/p>/);
      assert.ok(brokenFetch, html);
      assert.match(brokenFetch[1], /src\/components\/errors\/BrokenFetch\.astro/);
      assert.match(brokenFetch[1], /HTTP 500/);
      // The other components (Fine twice: on the page and inside Broken) and the page render.
      assert.equal(html.split('<p data-component="fine">fine from /errors/fine</p>').length - 1, 2);
      indexOf(html, '<p data-component="errors-page">page rendered</p>');
      assertCalls(api, TREE.errors);
      // The server survived and said nothing about unhandled rejections.
      await fetchText(`${server.url}/nested`);
      await new Promise((resolve) => setTimeout(resolve, 200));
      assert.equal(server.output().match(PROCESS_TROUBLE), null, server.output());
    });

    test('a server island (server:defer) is not part of the page batch: the page neither runs nor waits for its 1 s loader; the island request runs it once', async () => {
      await fetchText(`${server.url}/deferred`); // first request of the island route loads its chunk
      api.reset();
      const page = await fetchResponse(`${server.url}/deferred`);
      assert.equal(page.status, 200);
      indexOf(page.text, '<p data-component="deferred-page">page from /deferred/page</p>');
      indexOf(page.text, '<p data-component="island-fallback">fallback from /deferred/fallback</p>');
      assert.ok(page.ms < 900, `the page took ${page.ms.toFixed(0)} ms: it waited for the island's loader`);
      assertCalls(api, ['/deferred/page', '/deferred/fallback']);
      assertOneBatch(api, ['/deferred/page', '/deferred/fallback'], DELAY_MS);

      const islandUrl = page.text.match(/fetch\((["'])(\/_server-islands\/Island[^"']*)\1/)?.[2];
      assert.ok(islandUrl, `no server island request in:\n${page.text.slice(0, 3000)}`);
      api.reset();
      const island = await fetchResponse(`${server.url}${islandUrl.replaceAll('&amp;', '&')}`);
      assert.equal(island.status, 200, island.text.slice(0, 2000));
      indexOf(island.text, '<p data-component="island">island from /deferred/island</p>');
      assertCalls(api, ['/deferred/island']);
    });

    test('a client that gives up aborts the loaders of its request', async () => {
      api.reset();
      await assert.rejects(fetchResponse(`${server.url}/hang`, { timeoutMs: 300 }), /no complete response/);
      await waitFor(() => (api.aborted.get('/hang/never') ?? 0) === 1, `/hang/never was not aborted: ${JSON.stringify([...api.aborted])}`);
      assertCalls(api, ['/hang/never']);
      assert.equal(server.output().match(PROCESS_TROUBLE), null, server.output());
    });

    test('a prerendered page keeps its loaders’ data in the HTML, loaded once at build time', async () => {
      assert.deepEqual(buildCalls, { '/prerendered/page': 1, '/prerendered/child': 1, '/nested/c': 1 });
      api.reset();
      const html = await fetchText(`${server.url}/prerendered`);
      indexOf(html, '<p data-component="prerendered-page">page from /prerendered/page</p>');
      indexOf(html, '<p>child from /prerendered/child</p>');
      indexOf(html, '<p>c from /nested/c</p>');
      assert.equal(api.calls.length, 0, 'a prerendered page fetches nothing when served');
      assert.ok(fs.existsSync(path.join(root, 'dist', 'client', 'prerendered', 'index.html')));
    });

    test('dist/ holds no absolute path of the build machine beyond the ones Astro itself writes', () => {
      const dist = path.join(root, 'dist');
      const leaks = unexplainedAbsolutePaths(dist, [root, REPO_ROOT.replace(/\/+$/, '')]);
      assert.deepEqual(leaks, []);
      // And the generated batches name components by root-relative path and stable key only.
      const serverCode = fs
        .readdirSync(path.join(dist, 'server'), { recursive: true, withFileTypes: true })
        .filter((e) => e.isFile() && e.name.endsWith('.mjs'))
        .map((e) => fs.readFileSync(path.join(e.parentPath ?? e.path, e.name), 'utf8'))
        .join('\n');
      // Batch entries and getLoaderData() bindings, as either bundler formats them.
      const entries = [...serverCode.matchAll(/key:\s*"([^"]*)",\s*loader(?::\s*[\w$]+)?,\s*component:\s*"([^"]*)"/g)];
      assert.ok(entries.length >= 20, `expected the generated batch/bind entries in dist/server, found ${entries.length}`);
      for (const [, key, component] of entries) {
        assert.match(key, /^[0-9a-f]{16}$/);
        assert.match(component, /^(?:src|node_modules)\/[^/].*\.astro$/);
      }
      assert.equal(serverCode.includes('node_modules/astro-hoist'), false, 'no path into the installed package');
    });
  });

  describe(`${env}: hoist-conditional, built as is and with speculative: true`, () => {
    /** @type {LatencyApi} */
    let api;
    /** @type {RunningServer} */
    let plain;
    /** @type {RunningServer} */
    let speculative;

    before(async () => {
      await installPackedAddon(env, tarballs);
      api = await startLatencyApi({ delayMs: DELAY_MS });
      const plainRoot = await prepareFixture(env, 'hoist-conditional');
      const speculativeRoot = await prepareFixture(env, 'hoist-conditional', {
        as: 'hoist-conditional-speculative',
        files: { 'astro.config.mjs': configWithOptions('hoist-conditional', '{ speculative: true }') },
      });
      await build(plainRoot);
      await build(speculativeRoot);
      plain = await serve(plainRoot, { env: { HOIST_API: api.url } });
      speculative = await serve(speculativeRoot, { env: { HOIST_API: api.url } });
      // The first request of a fresh server loads its chunks: keep it out of the timestamps.
      await fetchText(`${plain.url}/conditional`);
      await fetchText(`${speculative.url}/conditional`);
    }, { timeout: SETUP_TIMEOUT_MS });

    after(async () => {
      await plain?.stop();
      await speculative?.stop();
      await api?.stop();
    });

    const RENDERED = ['/cond/page', '/cond/always', '/cond/shown', '/cond/shown-child', '/cond/box', '/cond/box-kid', '/cond/item'];
    /** Rendered only when `show` is true (ternary / `&&`, and their descendants). */
    const SHOWN = ['/cond/shown', '/cond/shown-child', '/cond/box', '/cond/box-kid'];

    /** @param {string} html */
    const assertRendered = (html, { shown = true } = {}) => {
      indexOf(html, '<p data-component="cond-page">page from /cond/page</p>');
      indexOf(html, '<p data-component="always">always from /cond/always</p>');
      if (shown) {
        indexOf(html, '<p>shown from /cond/shown</p>');
        indexOf(html, '<p data-component="shown-child">shown child from /cond/shown-child</p>');
        assert.match(html, /<div data-component="box"><p>box from \/cond\/box<\/p><p data-component="box-kid">box kid from \/cond\/box-kid<\/p><\/div>/);
      } else {
        assert.equal(html.includes('data-component="shown"'), false);
        assert.equal(html.includes('data-component="box"'), false);
        indexOf(html, '<p>no box</p>');
      }
      assert.equal(html.includes('data-component="hidden"'), false);
      // Three instances from .map(), one load: all show the same call number.
      const items = [...html.matchAll(/<li data-component="item">item (\d) from \/cond\/item call (\d+)<\/li>/g)];
      assert.deepEqual(items.map((m) => m[1]), ['1', '2', '3']);
      assert.equal(new Set(items.map((m) => m[2])).size, 1, 'the three items read one load');
    };

    test('without speculative: conditional and .map() children start when their condition is known, exactly when they render; never-rendered ones never run', async () => {
      api.reset();
      const html = await fetchText(`${plain.url}/conditional`);
      assertRendered(html);
      assertCalls(api, RENDERED);
      // Their conditions (the URL's query) and the mapped list (a constant) are known at request
      // start: they start with the batch, not 150 ms later when the page's template runs.
      assertOneBatch(api, ['/cond/page', '/cond/always', ...SHOWN, '/cond/item'], SLOW_PAGE_DELAY_MS);

      api.reset();
      assertRendered(await fetchText(`${plain.url}/conditional?show=0`), { shown: false });
      assertCalls(api, RENDERED.filter((p) => !SHOWN.includes(p)));
      await new Promise((resolve) => setTimeout(resolve, 200));
      assert.equal(api.count('/cond/hidden'), 0);
      assert.equal(api.count('/cond/failing'), 0);
      assert.equal(plain.output().match(PROCESS_TROUBLE), null, plain.output());
    });

    test('with speculative: conditional and .map() children start in the batch; unread ones are aborted when the response ends, unread failures stay quiet', async () => {
      api.reset();
      const response = await fetchResponse(`${speculative.url}/conditional`);
      assert.equal(response.status, 200);
      assertRendered(response.text);
      // Hidden (5 s) was started but never read: the response did not wait for it...
      assert.ok(response.ms < 2_000, `response took ${response.ms.toFixed(0)} ms`);
      // Failing (never rendered) was started too; its loader fails unread.
      assertCalls(api, [...RENDERED, '/cond/hidden', '/cond/failing']);
      assertOneBatch(api, [...RENDERED, '/cond/hidden', '/cond/failing'], SLOW_PAGE_DELAY_MS);
      // ...and the end of the request aborted it.
      await waitFor(() => (api.aborted.get('/cond/hidden') ?? 0) === 1, `/cond/hidden was not aborted: ${JSON.stringify([...api.aborted])}`);
      assert.deepEqual([...api.aborted.keys()], ['/cond/hidden'], 'only the unread loader was aborted');

      api.reset();
      assertRendered(await fetchText(`${speculative.url}/conditional?show=0`), { shown: false });
      assertCalls(api, [...RENDERED, '/cond/hidden', '/cond/failing']);
      await waitFor(() => (api.aborted.get('/cond/hidden') ?? 0) === 1, '/cond/hidden was not aborted');
      await new Promise((resolve) => setTimeout(resolve, 200));
      assert.equal(speculative.output().match(PROCESS_TROUBLE), null, speculative.output());
      // The server is still up.
      await fetchText(`${speculative.url}/conditional`);
    });
  });

  describe(`${env}: hoist-static built with output: 'static'`, () => {
    /** @type {LatencyApi} */
    let api;
    /** @type {RunningServer} */
    let server;
    /** @type {Record<string, number>} */
    let buildCalls;

    before(async () => {
      await installPackedAddon(env, tarballs);
      api = await startLatencyApi({ delayMs: 0 });
      const root = await prepareFixture(env, 'hoist-static');
      await build(root, { env: { HOIST_API: api.url } });
      buildCalls = Object.fromEntries(api.counts);
      api.reset();
      server = await serve(root);
    }, { timeout: SETUP_TIMEOUT_MS });

    after(async () => {
      await server?.stop();
      await api?.stop();
    });

    test('every page loaded its data once at build time, and the HTML holds it', async () => {
      assert.deepEqual(buildCalls, {
        '/static/page': 1,
        '/static/outer': 1,
        '/static/inner/index': 1,
        '/static/posts/first': 1,
        '/static/inner/first': 1,
        '/static/posts/second': 1,
        '/static/inner/second': 1,
      });
      const index = await fetchText(`${server.url}/`);
      indexOf(index, '<p data-component="static-page">page from /static/page</p>');
      indexOf(index, '<p>outer from /static/outer</p>');
      indexOf(index, '<p data-component="inner">inner from /static/inner/index</p>');
      for (const id of ['first', 'second']) {
        const html = await fetchText(`${server.url}/posts/${id}/`);
        indexOf(html, `<p data-component="post">post from /static/posts/${id}</p>`);
        indexOf(html, `<p data-component="inner">inner from /static/inner/${id}</p>`);
      }
      assert.equal(api.calls.length, 0, 'a static site fetches nothing when served');
    });
  });

  describe(`${env}: astro dev of hoist-tree, editing a grandchild`, () => {
    /** @type {LatencyApi} */
    let api;
    /** @type {RunningServer} */
    let server;
    /** @type {string} */
    let root;

    before(async () => {
      await installPackedAddon(env, tarballs);
      api = await startLatencyApi({ delayMs: DEV_DELAY_MS });
      root = await prepareFixture(env, 'hoist-tree', { as: 'hoist-tree-dev', files: uiKitPackage() });
      server = await dev(root, { env: { HOIST_API: api.url } });
      // The first requests compile the page and its components.
      await fetchText(`${server.url}/nested`);
      await fetchText(`${server.url}/nested`);
    }, { timeout: SETUP_TIMEOUT_MS });

    after(async () => {
      await server?.stop();
      await api?.stop();
    });

    /**
     * @param {import('node:test').TestContext} t
     * @param {string} label
     * @param {string[]} paths
     */
    const assertOneRoundTrip = async (t, label, paths) => {
      api.reset();
      const { min, samples } = await minRequestTime(`${server.url}/nested`, { tries: 5 });
      assertCalls(api, paths, 5);
      t.diagnostic(`${env} dev /nested ${label}: min ${min.toFixed(1)} ms of [${samples.map((s) => s.toFixed(0)).join(', ')}]`);
      console.log(`e2e-integration ${env}: dev /nested ${label}: min of 5 ${min.toFixed(1)} ms (one loader: ${DEV_DELAY_MS})`);
      assert.ok(min < 2 * DEV_DELAY_MS, `dev /nested ${label}: ${min.toFixed(1)} ms, expected < ${2 * DEV_DELAY_MS}`);
      api.reset();
      await fetchText(`${server.url}/nested`);
      assertOneBatch(api, paths, DEV_DELAY_MS);
    };

    test('the page serves the tree in one round trip, then picks up an edited grandchild (new text, new endpoint, a new loader child) and stays one round trip', async (t) => {
      api.reset();
      const html = await fetchText(`${server.url}/nested`);
      indexOf(html, '<p>c from /nested/c</p>');
      assertCalls(api, TREE.nested);
      await assertOneRoundTrip(t, 'before the edit', TREE.nested);

      const dir = path.join(root, 'src', 'components', 'nested');
      fs.writeFileSync(
        path.join(dir, 'NestedD.astro'),
        [
          '---',
          "import { getLoaderData } from 'astro-hoist/runtime';",
          "import { getJSON } from '../../lib/api';",
          "export const loader = ({ signal }) => getJSON('/nested/d', signal);",
          'const data = await getLoaderData<typeof loader>();',
          '---',
          '<section data-component="d"><p>d from {data.path}</p></section>',
          '',
        ].join('\n'),
      );
      const grandchild = path.join(dir, 'NestedC.astro');
      const edited = fs
        .readFileSync(grandchild, 'utf8')
        .replace("import { getJSON } from '../../lib/api';", "import { getJSON } from '../../lib/api';\nimport NestedD from './NestedD.astro';")
        .replace("getJSON('/nested/c', signal)", "getJSON('/nested/c-edited', signal)")
        .replace('<p>c from {data.path}</p>', '<p>edited c from {data.path}</p><NestedD />');
      assert.match(edited, /NestedD \/>/);
      assert.match(edited, /\/nested\/c-edited/);
      fs.writeFileSync(grandchild, edited);

      /** @type {string} */
      let after = '';
      await waitFor(
        async () => {
          const response = await fetchResponse(`${server.url}/nested`);
          after = response.text;
          return response.status === 200 && after.includes('edited c from /nested/c-edited');
        },
        'the dev server never served the edited grandchild',
        30_000,
      );
      indexOf(after, '<p>d from /nested/d</p>');
      const editedTree = ['/nested/page', '/nested/a', '/nested/b', '/nested/c-edited', '/nested/d'];
      api.reset();
      await fetchText(`${server.url}/nested`);
      assertCalls(api, editedTree);
      // NestedD is new: it is one round trip only if the page's batch was regenerated to include it.
      await assertOneRoundTrip(t, 'after the edit', editedTree);
      assert.equal(server.output().match(PROCESS_TROUBLE), null, server.output());
    });

    test('editing a barrel module re-points a page at another component, whose loader is hoisted', async () => {
      const components = path.join(root, 'src', 'components');
      fs.writeFileSync(
        path.join(components, 'NewCard.astro'),
        [
          '---',
          "import { getLoaderData } from 'astro-hoist/runtime';",
          "import { getJSON } from '../lib/api';",
          "export const loader = ({ signal }) => getJSON('/alias/new-card', signal);",
          'const data = await getLoaderData<typeof loader>();',
          '---',
          '<p data-component="new-card">new card from {data.path}</p>',
          '',
        ].join('\n'),
      );
      const barrel = path.join(components, 'index.ts');
      const source = fs.readFileSync(barrel, 'utf8');
      assert.match(source, /'\.\/Card\.astro'/);
      fs.writeFileSync(barrel, source.replace("'./Card.astro'", "'./NewCard.astro'"));
      await waitFor(
        async () => (await fetchResponse(`${server.url}/alias`)).text.includes('new card from /alias/new-card'),
        'the dev server never served the re-pointed barrel export',
        30_000,
      );
      api.reset();
      const html = await fetchText(`${server.url}/alias`);
      indexOf(html, '<p data-component="new-card">new card from /alias/new-card</p>');
      assert.equal(html.includes('barrel card from'), false);
      const aliasTree = TREE.alias.map((p) => (p === '/alias/barrel' ? '/alias/new-card' : p));
      assertCalls(api, aliasTree);
      // The page's own loader takes 150 ms; a child started at render would come after it.
      assertOneBatch(api, aliasTree, SLOW_PAGE_DELAY_MS);
    });
  });
}

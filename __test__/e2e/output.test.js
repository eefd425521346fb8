// End-to-end tests of generated code and build output, and of hostile projects through the
// integration:
//   - components whose file names hold quotes, backticks, `${`, `*/`, `/*`, spaces, `<script>`,
//     `#`, `%`, `&` and non-ASCII characters build, render their own data and run their loader
//     once per request (the names are written by this file from NAMES, not committed);
//   - import cycles of length 1 to 5 between components (and unconditional loops the page never
//     renders) build in bounded time and run each loader once per request;
//   - dist/ holds no absolute path of the build machine except where Astro itself writes one;
//   - two builds in two directories, and a rebuild in the same directory, differ only by what Astro
//     itself embeds (the project's absolute path; a random server-islands key unless ASTRO_KEY is
//     set);
//   - a frontmatter syntax error fails `astro build` with file:line:column, and `astro dev` answers
//     500 and sends the error overlay the file, position and code frame; a missing child component
//     fails the build naming the file.
//
// File names left out, because Vite or Astro cannot build them with or without astro-hoist:
//   - a newline: Astro's compiler writes the component's path into a JS string literal unescaped
//     (`}, '/…/New\nLine.astro'`): PARSE_ERROR "Unterminated string" in its own output (Astro 7 and 5);
//   - a backslash: Vite turns `\` into `/` in module ids, so `Back\slash.astro` becomes
//     `Back/slash.astro` and cannot be loaded;
//   - `?`: Vite reads it as the start of a query: `Query?x=1.astro` does not resolve;
//   - `"` on Astro 5 only: its compiler writes an invalid inline source map for the file
//     (`Expected "," in source map but found "Double"`).
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import vm from 'node:vm';
import { after, before, describe, test } from 'node:test';
import {
  ENVIRONMENTS,
  REPO_ROOT,
  build,
  dev,
  fetchResponse,
  fetchText,
  installPackedAddon,
  packAddon,
  prepareFixture,
  serve,
  startLatencyApi,
  stopAll,
} from '../../harness/harness.js';

/** @typedef {import('../../harness/harness.js').LatencyApi} LatencyApi */
/** @typedef {import('../../harness/harness.js').RunningServer} RunningServer */
/** @typedef {import('../../harness/harness.js').EnvName} EnvName */

/** Generous: the first run of an environment includes `npm ci` (and the Node 22 download). */
const SETUP_TIMEOUT_MS = 12 * 60_000;
/** A build of the fixture takes seconds; a plugin that loops on a cycle would never finish. */
const BUILD_TIMEOUT_MS = 3 * 60_000;
/** The latency API's answer time for the fixture's loaders. */
const LOADER_DELAY_MS = 100;
/** Output of a Node process that had an unhandled rejection (or too many abort listeners). */
const PROCESS_TROUBLE = /unhandled|ERR_UNHANDLED_REJECTION|MaxListenersExceeded/i;

/**
 * Hostile component file names (under src/components/names/) and the label each one renders.
 * `skip` names the environments that cannot build the name even without astro-hoist.
 * @type {{ file: string, label: string, skip?: EnvName[] }[]}
 */
const NAMES = [
  { file: 'Quote"Double.astro', label: 'double-quote', skip: ['astro5'] },
  { file: "Quote'Single.astro", label: 'single-quote' },
  { file: 'Back`tick.astro', label: 'backtick' },
  { file: 'Dollar${brace}.astro', label: 'dollar-brace' },
  { file: 'end*/*Comment.astro', label: 'comment' }, // the path holds `*/` and `/*`
  { file: 'With Space.astro', label: 'space' },
  { file: 'Ünïcödé 日本語.astro', label: 'unicode' },
  { file: 'Emoji 🚀.astro', label: 'emoji' },
  { file: 'Lt<script>.astro', label: 'angle' },
  { file: 'Hash#.astro', label: 'hash' },
  { file: 'Percent%41.astro', label: 'percent' },
  { file: 'Amp&amp;.astro', label: 'amp' },
];

/** Endpoints of the cycles page: cycle length k, members a.. */
const CYCLES = ['/cycle/1/a', ...[2, 3, 4, 5].flatMap((k) => [...'abcde'.slice(0, k)].map((m) => `/cycle/${k}/${m}`))];

/** A frontmatter syntax error on line 4 (`,,` at column 22 as editors count, 21 from 0). */
const BROKEN_COMPONENT = [
  '---',
  "import { getLoaderData } from 'astro-hoist/runtime';",
  'export const loader = async () => ({ ok: true });',
  'const value = { a: 1,, };',
  'const data = await getLoaderData<typeof loader>();',
  '---',
  '<p>{data.ok} {value.a}</p>',
  '',
].join('\n');

/** @type {string[]} */
let tarballs = [];

before(async () => {
  tarballs = await packAddon({ destination: path.join(REPO_ROOT, '.e2e', 'packs-output') });
}, { timeout: SETUP_TIMEOUT_MS });

after(stopAll);

// ---------------------------------------------------------------------------------------------
// helpers

/**
 * `prepareFixture` files: one component per name (its loader fetches `/names/<label>`) and the
 * page `/names` rendering them all in NAMES order.
 * @param {typeof NAMES} names
 * @returns {Record<string, string>}
 */
function nameFiles(names) {
  /** @type {Record<string, string>} */
  const files = {};
  /** @type {string[]} */
  const imports = [];
  names.forEach(({ file, label }, i) => {
    const up = '../'.repeat(file.split('/').length + 1);
    files[`src/components/names/${file}`] = [
      '---',
      "import { getLoaderData } from 'astro-hoist/runtime';",
      `import { getJSON } from '${up}lib/api';`,
      `export const loader = ({ signal }) => getJSON('/names/${label}', signal);`,
      'const data = await getLoaderData<typeof loader>();',
      '---',
      `<p data-name="${label}">${label} from {data.path}</p>`,
      '',
    ].join('\n');
    // JSON string literals are valid JS for any file name.
    imports.push(`import Name${i} from ${JSON.stringify(`../components/names/${file}`)};`);
  });
  files['src/pages/names.astro'] = [
    '---',
    '// Written by __test__/e2e/output.test.js: every component with a hostile file name.',
    ...imports,
    '// The batch started above; waiting here lets every loader settle before the head leaves,',
    '// so Server-Timing (which carries what has settled by then) names them all.',
    'await new Promise((resolve) => setTimeout(resolve, 250));',
    '---',
    '<html lang="en"><head><meta charset="utf-8" /><title>names</title></head><body>',
    ...names.map((_, i) => `<Name${i} />`),
    '</body></html>',
    '',
  ].join('\n');
  return files;
}

/**
 * Every file under `dir`, by posix path relative to it.
 * @param {string} dir
 * @returns {Map<string, Buffer>}
 */
function readTree(dir) {
  /** @type {Map<string, Buffer>} */
  const files = new Map();
  for (const entry of fs.readdirSync(dir, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue;
    const file = path.join(entry.parentPath ?? entry.path, entry.name);
    files.set(path.relative(dir, file).split(path.sep).join('/'), fs.readFileSync(file));
  }
  return new Map([...files].sort(([a], [b]) => a.localeCompare(b)));
}

/** Rolldown/Rollup content-hash suffix of a chunk name: `names_CP27AcST.mjs`. */
const CHUNK_HASH = /_[A-Za-z0-9_-]{8}(?=\.m?js\b)/g;

/**
 * A build's files with `normalize` applied to names and contents, for comparing two builds.
 * @param {Map<string, Buffer>} tree
 * @param {(text: string) => string} normalize
 * @returns {Map<string, string>}
 */
function normalizedTree(tree, normalize) {
  return new Map([...tree].map(([file, bytes]) => [normalize(file), normalize(bytes.toString('utf8'))]));
}

/**
 * The first differing line of two texts, for messages.
 * @param {string} a
 * @param {string} b
 */
function firstDifference(a, b) {
  const la = a.split('\n');
  const lb = b.split('\n');
  for (let i = 0; i < Math.max(la.length, lb.length); i++) {
    if (la[i] === lb[i]) continue;
    let at = 0;
    while (la[i]?.[at] === lb[i]?.[at]) at++;
    return `line ${i + 1}: …${la[i]?.slice(Math.max(0, at - 80), at + 80)}… vs …${lb[i]?.slice(Math.max(0, at - 80), at + 80)}…`;
  }
  return 'no difference';
}

/**
 * Where Astro itself writes absolute paths of the project for any project (measured on Astro 7.3
 * and 5.18 builds of this fixture), by the code just before the string literal holding the path.
 * @type {[site: string, matches: (line: string, before: string) => boolean][]}
 */
const ASTRO_PATH_SITES = [
  ['serialized manifest (rootDir, srcDir, componentMetadata, session driver base, module ids)', (line) => line.includes('deserializeManifest({')],
  ['$$createComponent(fn, "<module id>", ...)', (_line, before) => /\}, $/.test(before)],
  ['var $$file = "<path>"', (_line, before) => /\$\$file = $/.test(before)],
  [
    '@astrojs/node client/server directory URL',
    (_line, before) => /new URL\($/.test(before) || /\b(?:client|server) = $/.test(before) || /"(?:client|server)": $/.test(before),
  ],
];

/**
 * Every occurrence of `needles` (absolute paths) in the files of `dir`, classified by
 * ASTRO_PATH_SITES; `unexplained` lists the others with context.
 * @param {string} dir
 * @param {string[]} needles
 * @returns {{ bySite: Record<string, number>, unexplained: string[] }}
 */
function absolutePaths(dir, needles) {
  /** @type {Record<string, number>} */
  const bySite = {};
  /** @type {string[]} */
  const unexplained = [];
  for (const [file, bytes] of readTree(dir)) {
    if (bytes.includes(0)) continue; // binary
    const text = bytes.toString('utf8');
    for (const needle of needles) {
      for (let at = text.indexOf(needle); at !== -1; at = text.indexOf(needle, at + 1)) {
        const lineStart = text.lastIndexOf('\n', at) + 1;
        const lineEnd = text.indexOf('\n', at);
        const line = text.slice(lineStart, lineEnd === -1 ? undefined : lineEnd);
        const column = at - lineStart;
        const quote = Math.max(line.lastIndexOf('"', column), line.lastIndexOf("'", column), line.lastIndexOf('`', column));
        const before = line.slice(Math.max(0, quote - 60), Math.max(0, quote)).replace(/file:\/\/$/, '');
        const site = ASTRO_PATH_SITES.find(([, matches]) => matches(line, before));
        if (site) bySite[site[0]] = (bySite[site[0]] ?? 0) + 1;
        else unexplained.push(`${file}: …${line.slice(Math.max(0, column - 100), column + needle.length + 60)}…`);
      }
    }
  }
  return { bySite, unexplained };
}

/**
 * What astro-hoist generated into a server build, as the bundler printed it: the batch calls
 * (`$$hoistStart(Astro, $$hoistBatch, ...)`) and their entries (`$$hoistBatch = [...]`), the
 * getLoaderData() bindings (`{ astro: Astro, key, loader, component }`) and the loaders'
 * registrations (`globalThis[Symbol.for("astro-hoist.registerLoader")]?.(key, loader, component)`).
 * @param {string} serverDir
 * @returns {{ snippets: string[], batched: Set<string>, registered: Map<string, string> }} every
 *   snippet; the keys some batch lists; each registered key's component path
 */
function generatedCode(serverDir) {
  /** @type {string[]} */
  const snippets = [];
  /** @type {Set<string>} */
  const batched = new Set();
  /** @type {Map<string, string>} */
  const registered = new Map();
  for (const [file, bytes] of readTree(serverDir)) {
    if (!file.endsWith('.mjs')) continue;
    const text = bytes.toString('utf8');
    // Astro 5's esbuild renames `Astro` to `Astro2` where it clashes; a bundler may rename ours.
    for (const match of text.matchAll(/\$\$hoistStart[\w$]*\(Astro\d*, [\w$]+, \{[^}]*\}, typeof \$\$result/g)) snippets.push(match[0]);
    for (const match of text.matchAll(/\$\$hoistBatch[\w$]* = \[[\s\S]*?\];/g)) {
      snippets.push(match[0]);
      for (const [key] of match[0].matchAll(/"[0-9a-f]{16}"/g)) batched.add(JSON.parse(key));
    }
    // (strings skipped whole: a path may hold a brace)
    for (const match of text.matchAll(/\{\s*astro: Astro\d*,\s*result: typeof \$\$result[^,]*,\s*key:(?:[^}"]|"(?:[^"\\]|\\.)*")*\}/g)) snippets.push(match[0]);
    for (const match of text.matchAll(/Symbol\.for\("astro-hoist\.registerLoader"\)\]\?\.\(("[0-9a-f]{16}"), [\w$]+, ("(?:[^"\\]|\\.)*")/g)) {
      snippets.push(match[0]);
      // A JS string literal as the bundler printed it (esbuild escapes non-ASCII as \xNN, \uNNNN).
      registered.set(JSON.parse(match[1]), vm.runInNewContext(match[2]));
    }
  }
  return { snippets, batched, registered };
}

/**
 * Reads Vite's HMR channel of a dev server: the `/@vite/client` module holds the token the
 * WebSocket needs; messages from the server are collected as parsed JSON. A minimal RFC 6455
 * client (this Node has no global WebSocket): text frames only, as Vite sends.
 * @param {string} url dev server base URL
 * @returns {Promise<{ messages: any[], close: () => void }>}
 */
async function openHmrChannel(url) {
  const client = await fetchText(`${url}/@vite/client`);
  const token = client.match(/const wsToken = "([^"]*)"/)?.[1];
  assert.ok(token !== undefined, 'no wsToken in /@vite/client');
  return new Promise((resolve, reject) => {
    const request = http.request(`${url}/?token=${encodeURIComponent(token)}`, {
      headers: {
        Connection: 'Upgrade',
        Upgrade: 'websocket',
        'Sec-WebSocket-Key': randomBytes(16).toString('base64'),
        'Sec-WebSocket-Version': '13',
        'Sec-WebSocket-Protocol': 'vite-hmr',
      },
    });
    request.on('error', reject);
    request.on('response', (response) => reject(new Error(`the HMR channel answered HTTP ${response.statusCode} instead of upgrading`)));
    request.on('upgrade', (_response, socket, head) => {
      /** @type {any[]} */
      const messages = [];
      let buffer = Buffer.alloc(0);
      /** @type {Buffer[]} */
      let fragments = [];
      /** @param {Buffer} chunk */
      const onData = (chunk) => {
        buffer = Buffer.concat([buffer, chunk]);
        for (;;) {
          if (buffer.length < 2) return;
          const fin = (buffer[0] & 0x80) !== 0;
          const opcode = buffer[0] & 0x0f;
          let length = buffer[1] & 0x7f;
          let offset = 2;
          if (length === 126) {
            if (buffer.length < 4) return;
            length = buffer.readUInt16BE(2);
            offset = 4;
          } else if (length === 127) {
            if (buffer.length < 10) return;
            length = Number(buffer.readBigUInt64BE(2));
            offset = 10;
          }
          if (buffer.length < offset + length) return;
          const payload = buffer.subarray(offset, offset + length);
          buffer = buffer.subarray(offset + length);
          if (opcode !== 0x1 && opcode !== 0x0) continue; // ping, pong, close, binary
          fragments.push(payload);
          if (fin) {
            messages.push(JSON.parse(Buffer.concat(fragments).toString('utf8')));
            fragments = [];
          }
        }
      };
      socket.on('data', onData);
      socket.on('error', () => {});
      if (head.length > 0) onData(head);
      resolve({ messages, close: () => socket.destroy() });
    });
    request.end();
  });
}

/**
 * Waits until `check()` is true (polling), or fails with `message()`.
 * @param {() => boolean | Promise<boolean>} check
 * @param {() => string} message
 * @param {number} [timeoutMs]
 */
async function waitFor(check, message, timeoutMs = 15_000) {
  const end = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > end) assert.fail(message());
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/**
 * Asserts that since the last reset the API saw exactly one call of each of `paths` and nothing else.
 * @param {LatencyApi} api
 * @param {string[]} paths
 */
function assertCalledOnce(api, paths) {
  const actual = Object.fromEntries([...api.counts].sort(([a], [b]) => a.localeCompare(b)));
  const expected = Object.fromEntries([...paths].sort().map((p) => [p, 1]));
  assert.deepEqual(actual, expected, 'API calls since the last reset (path -> count)');
}

// ---------------------------------------------------------------------------------------------

for (const env of ENVIRONMENTS) {
  const names = NAMES.filter((name) => !name.skip?.includes(env));

  describe(`${env}: output fixture (hostile file names, import cycles), built in two directories and rebuilt`, () => {
    /** @type {LatencyApi} */
    let api;
    /** @type {RunningServer} */
    let server;
    /** @type {string} */
    let rootA;
    /** @type {string} */
    let rootB;
    /** @type {Map<string, Buffer>} dist/server of the first build in A, before the rebuild */
    let firstA;
    /** @type {{ a: number, b: number, rebuild: number }} */
    const ms = { a: 0, b: 0, rebuild: 0 };
    /** Astro's server-islands key for the two-directory builds (the rebuild goes without). */
    const astroKey = randomBytes(32).toString('base64');

    before(async () => {
      await installPackedAddon(env, tarballs);
      // 100 ms per call: a child started at render instead of in the batch would reach the API
      // at least that much after its parent.
      api = await startLatencyApi({ delayMs: LOADER_DELAY_MS });
      const files = nameFiles(names);
      rootA = await prepareFixture(env, 'output', { as: 'output-a', files });
      rootB = await prepareFixture(env, 'output', { as: 'output-dir-b', files });
      ms.a = (await build(rootA, { env: { ASTRO_KEY: astroKey }, timeoutMs: BUILD_TIMEOUT_MS })).ms;
      firstA = readTree(path.join(rootA, 'dist', 'server'));
      ms.b = (await build(rootB, { env: { ASTRO_KEY: astroKey }, timeoutMs: BUILD_TIMEOUT_MS })).ms;
      ms.rebuild = (await build(rootA, { timeoutMs: BUILD_TIMEOUT_MS })).ms;
      console.log(`e2e-output ${env}: builds ${ms.a} ms (A), ${ms.b} ms (B), ${ms.rebuild} ms (A again)`);
      server = await serve(rootA, { env: { HOIST_API: api.url } });
      await fetchText(`${server.url}/`);
    }, { timeout: SETUP_TIMEOUT_MS });

    after(async () => {
      await server?.stop();
      await api?.stop();
    });

    test('components with hostile file names render their own data, each loader once per request, named in Server-Timing', async () => {
      for (let round = 1; round <= 2; round++) {
        api.reset();
        const response = await fetchResponse(`${server.url}/names`);
        assert.equal(response.status, 200, response.text.slice(0, 2000));
        const rendered = [...response.text.matchAll(/<p data-name="([\w-]+)">([\w-]+) from ([^<]*)<\/p>/g)].map((m) => [m[1], m[2], m[3]]);
        assert.deepEqual(
          rendered,
          names.map(({ label }) => [label, label, `/names/${label}`]),
        );
        assertCalledOnce(
          api,
          names.map(({ label }) => `/names/${label}`),
        );
        // desc: a quoted-string whose content percent-decodes to the component's path.
        const entries = (response.headers.get('server-timing') ?? '').split(/,\s*(?=[^;,]+;dur=)/).map((entry) => {
          const name = entry.slice(0, entry.indexOf(';'));
          const desc = entry.match(/;desc="((?:[^"\\]|\\.)*)"/)?.[1] ?? '';
          return { name, component: decodeURIComponent(desc.replace(/\\(.)/g, '$1')) };
        });
        assert.deepEqual(
          entries.map((e) => e.component).sort(),
          names.map(({ file }) => `src/components/names/${file}`).sort(),
        );
        for (const { name } of entries) assert.match(name, /^[A-Za-z0-9_~.-]+$/);
        assert.equal(new Set(entries.map((e) => e.name)).size, entries.length, 'metric names are distinct');
      }
      assert.equal(server.output().match(PROCESS_TROUBLE), null, server.output());
    });

    test('import cycles of length 1 to 5 render two rounds deep, each loader once per request, all in one batch; never-rendered loops never run', async () => {
      api.reset();
      const html = await fetchText(`${server.url}/cycles`);
      for (let k = 1; k <= 5; k++) {
        const members = [...'abcde'.slice(0, k)];
        // Two rounds: member i at depths i and i + k, nested in order.
        const expected = [...members, ...members].map((m, depth) => `<div data-cycle="${k}${m}" data-depth="${depth}">/cycle/${k}/${m}`).join('');
        assert.ok(html.includes(expected), `cycle ${k} not rendered as ${expected}:\n${html.slice(0, 3000)}`);
      }
      assertCalledOnce(api, CYCLES);
      const first = Math.min(...api.calls.map((c) => c.at));
      const late = api.calls.filter((c) => c.at - first > LOADER_DELAY_MS * 0.6);
      assert.deepEqual(late, [], 'every cycle member started in the page batch');
    });

    test('dist/ holds no absolute path of the build machine except where Astro itself writes one; astro-hoist\'s code names components by root-relative path', (t) => {
      // The project lives inside the repository: the repository's path covers both.
      const needles = [REPO_ROOT.replace(/\/+$/, '')];
      const { bySite, unexplained } = absolutePaths(path.join(rootA, 'dist'), needles);
      t.diagnostic(`${env}: absolute paths Astro writes, by site: ${JSON.stringify(bySite)}`);
      assert.deepEqual(unexplained, []);
      const { snippets, batched, registered } = generatedCode(path.join(rootA, 'dist', 'server'));
      assert.ok(snippets.length >= names.length + CYCLES.length, `found only ${snippets.length} generated snippets`);
      /** @type {Set<string>} */
      const components = new Set();
      for (const snippet of snippets) {
        for (const needle of needles) assert.equal(snippet.includes(needle), false, `absolute path in generated code: ${snippet}`);
        // A JS string literal as the bundler printed it (esbuild escapes non-ASCII as \xNN, \uNNNN).
        for (const [, literal] of snippet.matchAll(/component: ("(?:[^"\\]|\\.)*")/g)) {
          const component = vm.runInNewContext(literal);
          assert.match(component, /^src\/(?:components|pages)\/.+\.astro$/);
          components.add(component);
        }
      }
      const byPath = new Map([...registered].map(([key, component]) => [component, key]));
      for (const component of byPath.keys()) assert.match(component, /^src\/(?:components|pages)\/.+\.astro$/);
      for (const { file } of names) {
        const component = `src/components/names/${file}`;
        assert.ok(components.has(component), `${file}: no getLoaderData() binding names it`);
        const key = byPath.get(component);
        assert.ok(key, `${file} registers no loader under its path`);
        assert.ok(batched.has(key), `${file} is in no batch`);
      }
    });

    test('two builds in two directories differ only by the project path Astro embeds (and chunk names hashed from it)', (t) => {
      const a = firstA;
      const b = readTree(path.join(rootB, 'dist', 'server'));
      const differing = [...a].filter(([file, bytes]) => !b.get(file)?.equals(bytes)).map(([file]) => file);
      const holdingPath = differing.filter((file) => a.get(file)?.includes(rootA));
      t.diagnostic(
        `${env}: ${differing.length} of ${a.size} files of dist/server differ byte-wise (${holdingPath.length} hold the project path, ` +
          `the others name chunks whose hash follows from it): ${differing.join(', ')}`,
      );
      assert.ok(holdingPath.length > 0, 'Astro embeds the project path (if this fails, Astro stopped doing so: make the test strict)');
      const normalize = (/** @type {string} */ root) => (/** @type {string} */ text) => text.replaceAll(root, '<ROOT>').replace(CHUNK_HASH, '_<HASH>');
      const na = normalizedTree(a, normalize(rootA));
      const nb = normalizedTree(b, normalize(rootB));
      assert.deepEqual([...na.keys()], [...nb.keys()], 'the same files');
      for (const [file, text] of na) {
        assert.ok(text === nb.get(file), `${file} differs beyond the project path: ${firstDifference(text, nb.get(file) ?? '')}`);
      }
    });

    test('a rebuild in the same directory is byte-identical except the random server-islands key Astro generates without ASTRO_KEY', (t) => {
      const again = readTree(path.join(rootA, 'dist', 'server'));
      const differing = [...firstA].filter(([file, bytes]) => !again.get(file)?.equals(bytes)).map(([file]) => file);
      const holdingKey = differing.filter((file) => firstA.get(file)?.includes(`"key":"${astroKey}"`));
      t.diagnostic(
        `${env}: ${differing.length} of ${firstA.size} files differ byte-wise after a rebuild (${holdingKey.length} hold the key, ` +
          `the others name the manifest chunk by its hash): ${differing.join(', ')}`,
      );
      assert.ok(holdingKey.length > 0, 'the serialized manifest holds the key');
      const key = (/** @type {string} */ text) => text.replace(/"key":"[A-Za-z0-9+/=]*"/g, '"key":"<KEY>"');
      // The manifest is in entry.mjs (Astro 7) or a hashed manifest chunk (Astro 5): compare with
      // the key and chunk hashes normalized.
      const normalize = (/** @type {string} */ text) => key(text).replace(CHUNK_HASH, '_<HASH>');
      const na = normalizedTree(firstA, normalize);
      const nb = normalizedTree(again, normalize);
      assert.deepEqual([...na.keys()], [...nb.keys()]);
      for (const [file, text] of na) {
        assert.ok(text === nb.get(file), `${file} differs beyond the key: ${firstDifference(text, nb.get(file) ?? '')}`);
      }
    });
  });

  describe(`${env}: hostile projects through the integration`, () => {
    /** @type {string} */
    let root;

    before(async () => {
      await installPackedAddon(env, tarballs);
      root = await prepareFixture(env, 'output', {
        as: 'output-syntax-error',
        files: {
          'src/components/Broken.astro': BROKEN_COMPONENT,
          'src/pages/broken.astro': "---\nimport Broken from '../components/Broken.astro';\n---\n<Broken />\n",
        },
      });
    }, { timeout: SETUP_TIMEOUT_MS });

    test('a frontmatter syntax error fails astro build with the file, line and column', async () => {
      const error = await build(root, { timeoutMs: BUILD_TIMEOUT_MS }).then(
        () => assert.fail('the build succeeded'),
        (/** @type {Error} */ e) => e,
      );
      const file = path.join(root, 'src', 'components', 'Broken.astro');
      // Vite prints `loc` with its 0-based column (as for its own errors): 4:21 is line 4, column 22.
      assert.ok(error.message.includes(`${file}:4:21`), error.message);
      assert.match(error.message, /Unexpected token/);
    });

    test('astro dev answers 500 and sends the error overlay the file, line, column and code frame', async () => {
      const server = await dev(root);
      try {
        const channel = await openHmrChannel(server.url);
        try {
          const response = await fetchResponse(`${server.url}/broken`);
          assert.equal(response.status, 500);
          // Astro's dev 500 page is the error's name and Vite's client, which shows the overlay.
          assert.match(response.text, /^<title>\w*Error<\/title><script type="module" src="\/@vite\/client"><\/script>/);
          /** @type {any} */
          let overlay;
          await waitFor(
            () => (overlay = channel.messages.find((m) => m.type === 'error')) !== undefined,
            () => `no error overlay on the HMR channel: ${JSON.stringify(channel.messages).slice(0, 2000)}\n${server.output().slice(-2000)}`,
          );
          const file = path.join(root, 'src', 'components', 'Broken.astro');
          assert.deepEqual(overlay.err.loc, { file, line: 4, column: 21 });
          assert.match(overlay.err.message, /Unexpected token/);
          assert.equal(overlay.err.plugin, 'astro-hoist:transform');
          assert.match(overlay.err.frame, /4 \| const value = \{ a: 1,, \};\n\s*\| {22}\^/);
        } finally {
          channel.close();
        }
      } finally {
        await server.stop();
      }
    });

    test('a page importing a missing child component fails astro build naming the missing file and the importer', async () => {
      const missing = await prepareFixture(env, 'output', {
        as: 'output-missing-child',
        files: {
          'src/pages/missing.astro': [
            '---',
            "import Cycle1A from '../components/cycles/Cycle1A.astro';",
            "import Missing from '../components/DoesNotExist.astro';",
            '---',
            '<Cycle1A /><Missing />',
            '',
          ].join('\n'),
        },
      });
      const error = await build(missing, { timeoutMs: BUILD_TIMEOUT_MS }).then(
        () => assert.fail('the build succeeded'),
        (/** @type {Error} */ e) => e,
      );
      assert.match(error.message, /Could not resolve ["']\.\.\/components\/DoesNotExist\.astro["']/);
      assert.match(error.message, /src\/pages\/missing\.astro/);
    });
  });
}

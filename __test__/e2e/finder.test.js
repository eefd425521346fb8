// The waterfall finder and `astro-hoist migrate` end to end, on Astro 7 and 5: the `store`
// fixture has no loader at all, only frontmatter awaits nested the way SSR sites write them.
// `analyze` reports each route's chain of awaits (step, file:line:column, movable or why not);
// `migrate` previews, then writes the suggested change; the migrated site, built with hoist(),
// answers with plain Astro's HTML and starts every call of the product route together, where
// plain Astro starts the nested ones a whole call later (measured at the data API).
//
// A real third-party site too, when a checkout of withastro/astro's `examples/ssr` is given in
// ASTRO_HOIST_SSR_EXAMPLE (Astro 7 only; its dependencies are installed from the registry): the
// same steps on its own pages, with the delay added by a proxy in front of its own /api routes.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import {
  ENVIRONMENTS,
  REPO_ROOT,
  build,
  envDir,
  fetchResponse,
  freePort,
  installPackedAddon,
  nodeBinary,
  packAddon,
  prepareFixture,
  serve,
  startLatencyApi,
  stopAll,
} from '../../harness/harness.js';

/** @typedef {import('../../harness/harness.js').RunningServer} RunningServer */
/** @typedef {import('../../harness/harness.js').LatencyApi} LatencyApi */

const SETUP_TIMEOUT_MS = 15 * 60_000;
/** Each data call takes this long. */
const DELAY_MS = 120;
/** Calls that start together start within this much of each other. */
const SLACK_MS = 45;

/** @type {string[]} */
let tarballs = [];
before(async () => {
  tarballs = await packAddon({ destination: path.join(REPO_ROOT, '.e2e', 'packs-finder') });
}, { timeout: SETUP_TIMEOUT_MS });
after(stopAll);

/** Scoped-style class names hash each component's source, which `migrate` changes. */
const normalize = (/** @type {string} */ html) => html.replace(/astro-[a-z0-9]{8}/g, 'astro-cid').replace(/data-astro-cid-[a-z0-9]{8}/g, 'data-astro-cid');

/**
 * Runs the environment's installed CLI.
 * @param {import('../../harness/harness.js').EnvName} env
 * @param {string[]} args
 * @param {string} cwd
 */
function cli(env, args, cwd) {
  const file = path.join(envDir(env), 'node_modules', 'astro-hoist', 'js', 'cli.js');
  const child = spawnSync(nodeBinary(env), [file, ...args], { cwd, encoding: 'utf8', timeout: 120_000, env: { ...process.env, ASTRO_TELEMETRY_DISABLED: '1' } });
  return { status: child.status, stdout: child.stdout, stderr: child.stderr };
}

/**
 * A route's await chain from `analyze --json`: `step component:line` per await, and the depths.
 * @param {any} report
 * @param {string} pattern
 */
function chainOf(report, pattern) {
  const plan = report.routes.find((/** @type {any} */ r) => r.pattern === pattern).plan;
  return {
    depth: plan.awaitDepth,
    after: plan.awaitDepthAfter,
    steps: plan.awaits.map((/** @type {any} */ a) => `${a.step} ${a.component}:${a.line}${a.movable ? '' : ' stays'}`),
    reasons: plan.awaits.filter((/** @type {any} */ a) => !a.movable).map((/** @type {any} */ a) => a.reason),
    plan,
  };
}

for (const env of ENVIRONMENTS) {
  describe(`waterfall finder and migrate (${env})`, () => {
    /** @type {LatencyApi} */
    let api;
    /** @type {Record<'plain' | 'migrated', RunningServer>} */
    const servers = /** @type {any} */ ({});
    /** @type {string} */
    let plainRoot;
    /** @type {string} */
    let migratedRoot;
    /** @type {{ status: number | null, stdout: string, stderr: string }} */
    let preview;
    /** @type {string} */
    let original;
    /** @type {string} */
    let previewed;

    before(async () => {
      await installPackedAddon(env, tarballs);
      api = await startLatencyApi({ delayMs: DELAY_MS });
      plainRoot = await prepareFixture(env, 'store', { as: 'store-plain' });
      migratedRoot = await prepareFixture(env, 'store', { as: 'store-migrated' });
      const files = ['src/pages/products/[id].astro', 'src/components/Header.astro', 'src/components/Reviews.astro'];
      original = fs.readFileSync(path.join(migratedRoot, files[0]), 'utf8');
      preview = cli(env, ['migrate', ...files], migratedRoot);
      previewed = fs.readFileSync(path.join(migratedRoot, files[0]), 'utf8');
      const written = cli(env, ['migrate', '--write', ...files], migratedRoot);
      assert.equal(written.status, 0, written.stderr);
      for (const root of [plainRoot, migratedRoot]) await build(root, { env: { HOIST_API: api.url } });
      servers.plain = await serve(plainRoot, { env: { HOIST_API: api.url } });
      servers.migrated = await serve(migratedRoot, { env: { HOIST_API: api.url } });
      for (const server of Object.values(servers)) await fetchResponse(`${server.url}/products/warm`);
    }, { timeout: SETUP_TIMEOUT_MS });

    after(async () => {
      for (const server of Object.values(servers)) await server?.stop();
      await api?.stop();
    });

    test('analyze finds each route\'s chain of frontmatter awaits, with file:line and why an await stays', () => {
      const run = cli(env, ['analyze', plainRoot, '--json'], plainRoot);
      assert.equal(run.status, 0, run.stderr);
      const report = JSON.parse(run.stdout);
      const product = chainOf(report, '/products/[id]');
      assert.deepEqual(product.steps, ['1 src/pages/products/[id].astro:7', '2 src/components/Header.astro:4', '2 src/components/Reviews.astro:8']);
      assert.equal(product.depth, 2);
      assert.equal(product.after, 1);
      const account = chainOf(report, '/account');
      assert.deepEqual(account.steps, ['1 src/components/Greeting.astro:4 stays', '1 src/components/Header.astro:4', '2 src/components/Greeting.astro:5 stays']);
      assert.equal(account.after, 2, 'the greeting\'s two calls stay in turn');
      assert.match(account.reasons[0], /`Astro\.cookies`/);
      assert.match(account.reasons[1], /reads `user`/);

      const text = cli(env, ['analyze', plainRoot], plainRoot);
      assert.equal(text.status, 0, text.stderr);
      assert.match(text.stdout, /\/products\/\[id\]\s+src\/pages\/products\/\[id\]\.astro: 2 steps → 1 step after migrate/);
      assert.match(text.stdout, /suggest: astro-hoist migrate src\/pages\/products\/\[id\]\.astro src\/components\/Header\.astro src\/components\/Reviews\.astro/);
    });

    test('migrate previews a diff without writing, then --write makes the product route one wave of hoisted loaders', () => {
      assert.equal(preview.status, 0, preview.stderr);
      assert.match(preview.stdout, /\+export const loader = async \(\{ params \}\) => \{/);
      assert.match(preview.stdout, /-const product = await getJSON\(`\/product\/\$\{id\}`\);\n\+const product = await getLoaderData<typeof loader>\(\);/);
      assert.match(preview.stdout, /--write writes these changes/);
      assert.equal(previewed, original, 'a preview writes nothing');

      const run = cli(env, ['analyze', migratedRoot, '--json'], migratedRoot);
      assert.equal(run.status, 0, run.stderr);
      const { plan, depth } = chainOf(JSON.parse(run.stdout), '/products/[id]');
      assert.equal(depth, 0, 'no await chain is left');
      assert.deepEqual(
        plan.loaders.map((/** @type {any} */ l) => `${path.basename(l.component)} ${l.hoisted ? l.wave : 'render'}`).sort(),
        ['Header.astro 1', 'Reviews.astro 1', '[id].astro 1'],
      );
      assert.equal(plan.depthAfter, 1);
    });

    test('the migrated site answers with plain Astro\'s HTML, its calls starting together', async () => {
      /** @param {RunningServer} server */
      const answer = async (server) => {
        api.reset();
        const response = await fetchResponse(`${server.url}/products/p1`);
        await new Promise((resolve) => setTimeout(resolve, 30));
        const first = api.calls.find((c) => c.path === '/product/p1')?.at ?? NaN;
        /** @type {Record<string, number>} */
        const starts = {};
        for (const c of api.calls) starts[c.path] ??= Math.round(c.at - first);
        return { status: response.status, html: normalize(response.text), starts, calls: api.calls.length };
      };
      const plain = await answer(servers.plain);
      const migrated = await answer(servers.migrated);
      assert.equal(migrated.status, 200);
      assert.equal(migrated.html, plain.html);
      assert.match(migrated.html, /data-reviews="\/reviews\/p1"/);
      assert.equal(migrated.calls, 3);
      assert.equal(plain.calls, 3);
      for (const p of ['/cart', '/reviews/p1']) {
        assert.ok(plain.starts[p] >= DELAY_MS - 5, `plain Astro: ${p} waits for the product: ${JSON.stringify(plain.starts)}`);
        assert.ok(Math.abs(migrated.starts[p]) < SLACK_MS, `migrated: ${p} starts with the product: ${JSON.stringify(migrated.starts)}`);
      }
    });
  });
}

const SSR_EXAMPLE = process.env.ASTRO_HOIST_SSR_EXAMPLE;

/** Waits (30 s at most) until a server answers. @param {string} base */
async function waitUntilUp(base) {
  const deadline = Date.now() + 30_000;
  for (;;) {
    try {
      await fetch(`${base}/favicon.svg`);
      return;
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
}

/**
 * A proxy in front of a server: `/api/*` answers after `delayMs`, every call's start is noted.
 * The site fetches its own API at the origin of the request it renders, so pages are requested
 * through the proxy and the site's API calls come back through it.
 * @param {() => string} target the server's base URL
 * @param {number} delayMs
 */
async function startDelayProxy(target, delayMs) {
  /** @type {{ path: string, at: number }[]} */
  const calls = [];
  const server = http.createServer((req, res) => {
    const url = req.url ?? '/';
    const isApi = url.startsWith('/api/');
    if (isApi) calls.push({ path: url, at: performance.now() });
    setTimeout(() => {
      const upstream = http.request(`${target()}${url}`, { method: req.method, headers: req.headers }, (up) => {
        res.writeHead(up.statusCode ?? 502, up.headers);
        up.pipe(res);
      });
      upstream.on('error', () => res.destroy());
      req.pipe(upstream);
    }, isApi ? delayMs : 0);
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(undefined)));
  const { port } = /** @type {import('node:net').AddressInfo} */ (server.address());
  return { url: `http://127.0.0.1:${port}`, calls, stop: () => new Promise((resolve) => server.close(() => resolve(undefined))) };
}

describe('a real third-party site: withastro/astro examples/ssr (ASTRO_HOIST_SSR_EXAMPLE)', { skip: !SSR_EXAMPLE || !ENVIRONMENTS.includes('astro7') ? 'set ASTRO_HOIST_SSR_EXAMPLE to a checkout of examples/ssr' : false }, () => {
  const env = 'astro7';
  /** @type {Record<'plain' | 'migrated', string>} */
  const roots = /** @type {any} */ ({});
  /** @type {any} */
  let found;
  /** @type {string} */
  let suggested = '';

  before(async () => {
    await installPackedAddon(env, tarballs);
    const node = nodeBinary(env);
    const npmCli = path.join(envDir(env), 'node_modules', 'npm', 'bin', 'npm-cli.js');
    for (const variant of /** @type {const} */ (['plain', 'migrated'])) {
      const root = path.join(envDir(env), 'work', `ssr-example-${variant}`);
      fs.rmSync(root, { recursive: true, force: true });
      fs.cpSync(/** @type {string} */ (SSR_EXAMPLE), root, { recursive: true, filter: (from) => !['node_modules', 'dist', '.astro'].includes(path.basename(from)) });
      // Its own dependencies, from the registry, and astro-hoist.
      const install = spawnSync(node, [npmCli, 'install', '--no-audit', '--no-fund', '--no-save', ...tarballs], { cwd: root, encoding: 'utf8', timeout: 10 * 60_000 });
      assert.equal(install.status, 0, install.stderr);
      // Astro 7.4 builds Request.url from the Host header only when it matches
      // `security.allowedDomains` (else from the server's own port): the delaying proxy in front
      // of both variants must stay the origin the site's API calls go back through.
      const config = path.join(root, 'astro.config.mjs');
      const source = fs.readFileSync(config, 'utf8');
      assert.ok(source.includes("output: 'server',"), 'examples/ssr config as expected');
      fs.writeFileSync(config, source.replace("output: 'server',", "output: 'server',\n\tsecurity: { allowedDomains: [{ hostname: '127.0.0.1' }] },"));
      roots[variant] = root;
    }
    const analyze = cli(env, ['analyze', roots.plain, '--json'], roots.plain);
    assert.equal(analyze.status, 0, analyze.stderr);
    found = JSON.parse(analyze.stdout);
    const text = cli(env, ['analyze', roots.plain], roots.plain);
    process.stderr.write(`examples/ssr, as found:\n${text.stdout}\n`);
    suggested = /suggest: astro-hoist migrate (.+)\n/.exec(text.stdout.slice(text.stdout.indexOf('  /  ')))?.[1] ?? '';
    const files = suggested.split(' ').filter(Boolean);
    const written = cli(env, ['migrate', '--write', ...files], roots.migrated);
    assert.equal(written.status, 0, written.stderr);
    process.stderr.write(`migrate --write ${suggested}:\n${written.stdout}\n`);
    const config = path.join(roots.migrated, 'astro.config.mjs');
    const source = fs.readFileSync(config, 'utf8');
    fs.writeFileSync(config, `import hoist from 'astro-hoist';\n${source.replace('integrations: [svelte()]', 'integrations: [svelte(), hoist()]')}`);
    for (const root of Object.values(roots)) {
      const run = spawnSync(node, [path.join(root, 'node_modules', 'astro', 'bin', 'astro.mjs'), 'build'], { cwd: root, encoding: 'utf8', timeout: 10 * 60_000, env: { ...process.env, ASTRO_TELEMETRY_DISABLED: '1' } });
      assert.equal(run.status, 0, `${run.stdout}\n${run.stderr}`);
    }
  }, { timeout: 30 * 60_000 });

  test('the finder reports / as two steps (the page, then its Header), both movable', () => {
    const home = chainOf(found, '/');
    assert.deepEqual(home.steps, ['1 src/pages/index.astro:8', '2 src/components/Header.astro:6']);
    assert.equal(home.after, 1);
    assert.equal(suggested, 'src/pages/index.astro src/components/Header.astro');
  });

  test('migrated, / is one wave with identical HTML (measured through a delaying proxy)', async () => {
    /** @type {Record<string, { html: string, starts: Record<string, number> }>} */
    const results = {};
    for (const variant of /** @type {const} */ (['plain', 'migrated'])) {
      const root = roots[variant];
      // Its own standalone server (the harness serves prepared fixtures only), on a free port.
      const port = await freePort();
      const base = `http://127.0.0.1:${port}`;
      const proxy = await startDelayProxy(() => base, DELAY_MS);
      const child = spawn(nodeBinary(env), [path.join(root, 'dist', 'server', 'entry.mjs')], {
        cwd: root,
        env: { ...process.env, HOST: '127.0.0.1', PORT: String(port) },
        stdio: 'ignore',
      });
      try {
        await waitUntilUp(base);
        await fetchResponse(`${proxy.url}/`);
        proxy.calls.length = 0;
        const response = await fetchResponse(`${proxy.url}/`);
        assert.equal(response.status, 200);
        const first = proxy.calls.find((c) => c.path === '/api/products')?.at ?? NaN;
        /** @type {Record<string, number>} */
        const starts = {};
        for (const c of proxy.calls) starts[c.path] ??= Math.round(c.at - first);
        // An island's uid hashes its props, and Astro gives every island a `data-astro-cid-*`
        // prop from its parent's scope (a hash of the parent's source, which migrate changed).
        results[variant] = { html: normalize(response.text).replace(/<astro-island uid="[^"]+"/g, '<astro-island uid'), starts };
      } finally {
        child.kill();
        await proxy.stop();
      }
    }
    process.stderr.write(`examples/ssr, start of each API call after /api/products (ms): plain ${JSON.stringify(results.plain.starts)}, migrated ${JSON.stringify(results.migrated.starts)}\n`);
    assert.equal(results.migrated.html, results.plain.html);
    assert.match(results.plain.html, /Product Listing/);
    assert.ok(results.plain.starts['/api/cart'] >= DELAY_MS - 5, `plain: the cart waits for the products: ${JSON.stringify(results.plain.starts)}`);
    assert.ok(Math.abs(results.migrated.starts['/api/cart']) < SLACK_MS, `migrated: one wave: ${JSON.stringify(results.migrated.starts)}`);
  });
});

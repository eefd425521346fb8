// One graph decides everything: the plans `astro build` made (its `report`, written from the plan
// each page's code was built with) and what `astro-hoist analyze --json` prints for the same
// project are the same, route for route, on the shapes where they used to disagree: components
// from an npm package, a Vite alias set in astro.config, `srcDir`, a loader nothing reads, a
// route an integration injects, a Markdown page's layout, and a Starlight site whose component
// override (reached through a Vite virtual module) has loaders. Then the built sites are served:
// each route's loaders reach the data API together, at request start.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import {
  ENVIRONMENTS,
  FIXTURES_DIR,
  REPO_ROOT,
  build,
  envDir,
  fetchResponse,
  installPackedAddon,
  nodeBinary,
  packAddon,
  prepareFixture,
  serve,
  startLatencyApi,
  stopAll,
} from '../../harness/harness.js';

/** @typedef {import('../../index.js').RoutePlan} RoutePlan */
/** @typedef {import('../../harness/harness.js').EnvName} EnvName */

const SETUP_TIMEOUT_MS = 15 * 60_000;
/** Every parity loader asks the data API for `?delay=100`: a waterfall would spread its calls by 100 ms a level. */
const TOGETHER_MS = 60;

/**
 * `astro-hoist analyze --json` of a prepared project, as a user runs it: the package's bin,
 * installed in the project's environment, with the environment's Node.
 * @param {EnvName} env
 * @param {string} root
 */
function analyze(env, root) {
  const cli = path.join(envDir(env), 'node_modules', 'astro-hoist', 'js', 'cli.js');
  const started = performance.now();
  const child = spawnSync(nodeBinary(env), [cli, 'analyze', root, '--json'], { cwd: root, encoding: 'utf8', timeout: 120_000, env: { ...process.env, ASTRO_TELEMETRY_DISABLED: '1' } });
  const ms = performance.now() - started;
  assert.equal(child.status, 0, `analyze failed (${child.status}):\n${child.stderr}\n${child.stdout.slice(0, 2000)}`);
  return { json: JSON.parse(child.stdout), ms };
}

/**
 * The build's report.
 * @param {string} root
 */
function report(root) {
  return JSON.parse(fs.readFileSync(path.join(root, 'astro-hoist-report', 'report.json'), 'utf8'));
}

/**
 * A route's plan, by pattern.
 * @param {RoutePlan[]} routes
 * @param {string} pattern
 */
function routeOf(routes, pattern) {
  const route = routes.find((r) => r.pattern === pattern);
  assert.ok(route, `${pattern} among ${routes.map((r) => r.pattern).join(', ')}`);
  return route;
}

/**
 * The data API calls one request made, by endpoint: when each arrived, relative to the first.
 * @param {import('../../harness/harness.js').LatencyApi} api
 * @param {string} url
 * @param {string[]} endpoints
 */
async function startsOf(api, url, endpoints) {
  api.reset();
  const response = await fetchResponse(url);
  assert.equal(response.status, 200, `${url}: ${response.text.slice(0, 500)}`);
  const calls = api.calls.filter((c) => endpoints.includes(c.path));
  assert.deepEqual(calls.map((c) => c.path).sort(), [...endpoints].sort(), `${url}: each loader once`);
  const first = Math.min(...calls.map((c) => c.at));
  return { body: response.text, spread: Math.max(...calls.map((c) => c.at)) - first };
}

after(stopAll);

/** The component package, copied into node_modules as npm would install it. */
function shelfPackage() {
  const dir = path.join(FIXTURES_DIR, 'parity', 'vendor', 'parity-shelf');
  return Object.fromEntries(fs.readdirSync(dir).map((file) => [`node_modules/parity-shelf/${file}`, fs.readFileSync(path.join(dir, file), 'utf8')]));
}

for (const env of ENVIRONMENTS) {
  describe(`build and analyze agree (${env})`, () => {
    /** @type {string} */
    let root;
    before(async () => {
      await installPackedAddon(env, await packAddon({ destination: path.join(REPO_ROOT, '.e2e', `packs-parity-${env}`) }));
      root = await prepareFixture(env, 'parity', { files: shelfPackage() });
      await build(root);
    }, { timeout: SETUP_TIMEOUT_MS });

    test('the build report and analyze --json list the same routes with the same plans', (t) => {
      const built = report(root);
      const { json: analyzed, ms } = analyze(env, root);
      t.diagnostic(`analyze: ${ms.toFixed(0)} ms`);
      assert.equal(built.source, 'build');
      assert.equal(analyzed.source, 'astro', 'read through the Astro config');
      assert.deepEqual(analyzed.routes, built.routes);
      assert.deepEqual(
        built.routes.map((/** @type {RoutePlan} */ r) => [r.kind, r.pattern, r.entry]).sort((/** @type {string[]} */ a, /** @type {string[]} */ b) => a[1].localeCompare(b[1])),
        [
          ['page', '/', 'app/pages/index.astro'],
          ['injected', '/injected', 'integration/Injected.astro'],
          ['markdown', '/post', 'app/pages/post.md'],
        ],
        'srcDir pages, the injected route and the Markdown page',
      );
    });

    test('what the plans say: the package tree and the alias hoisted, the unread loader not, the injected and Markdown trees in one wave', () => {
      const { routes } = report(root);
      const index = routeOf(routes, '/').plan;
      assert.ok(index);
      assert.deepEqual(
        index.loaders.map((l) => [l.component, l.hoisted, l.wave, l.waveBefore]).sort(),
        [
          ['app/components/Unread.astro', false, 1, 1],
          ['lib-kit/Alias.astro', true, 1, 1],
          ['node_modules/parity-shelf/Book.astro', true, 1, 2],
          ['node_modules/parity-shelf/Leaf.astro', true, 1, 3],
          ['node_modules/parity-shelf/Shelf.astro', true, 1, 1],
        ],
      );
      assert.match(index.loaders.find((l) => l.component === 'app/components/Unread.astro')?.reason ?? '', /never calls getLoaderData/);
      assert.deepEqual([index.depthBefore, index.depthAfter], [3, 1]);
      const injected = routeOf(routes, '/injected').plan;
      assert.deepEqual(injected?.loaders.map((l) => [l.component, l.wave]).sort(), [
        ['integration/Inner.astro', 1],
        ['integration/Middle.astro', 1],
        ['integration/Outer.astro', 1],
      ]);
      assert.deepEqual([injected?.depthBefore, injected?.depthAfter], [3, 1]);
      const post = routeOf(routes, '/post').plan;
      assert.equal(post?.root, 'app/layouts/Post.astro', "a Markdown page's tree is its layout's");
      assert.deepEqual(post?.loaders.map((l) => [l.component, l.wave]).sort(), [
        ['app/components/Sidebar.astro', 1],
        ['app/layouts/Post.astro', 1],
      ]);
      assert.deepEqual([post?.depthBefore, post?.depthAfter], [2, 1]);
    });

    test('served: each route\'s loaders start together, at request start', async () => {
      const api = await startLatencyApi({ delayMs: 100 });
      const server = await serve(root, { env: { HOIST_API: api.url } });
      try {
        const index = await startsOf(api, `${server.url}/`, ['/parity/shelf', '/parity/book', '/parity/leaf', '/parity/alias']);
        assert.ok(index.spread < TOGETHER_MS, `/: the package tree and the alias started ${index.spread.toFixed(0)} ms apart`);
        assert.match(index.body, /data-part="leaf"/);
        const injected = await startsOf(api, `${server.url}/injected`, ['/parity/injected-outer', '/parity/injected-middle', '/parity/injected-inner']);
        assert.ok(injected.spread < TOGETHER_MS, `/injected: ${injected.spread.toFixed(0)} ms apart`);
        const post = await startsOf(api, `${server.url}/post`, ['/parity/post-layout', '/parity/sidebar']);
        assert.ok(post.spread < TOGETHER_MS, `/post: ${post.spread.toFixed(0)} ms apart`);
        assert.match(post.body, /Rendered inside its layout/);
      } finally {
        await server.stop();
        await api.stop();
      }
    });
  });
}

describe('build and analyze agree on a Starlight site with a component override (astro7)', () => {
  const env = 'astro7';
  /** @type {string} */
  let root;
  before(async () => {
    await installPackedAddon(env, await packAddon({ destination: path.join(REPO_ROOT, '.e2e', `packs-parity-${env}`) }));
    root = await prepareFixture(env, 'parity-starlight');
    await build(root);
  }, { timeout: SETUP_TIMEOUT_MS });

  test('the same plans; the override reached through its virtual module, its tree in one batch of its own', () => {
    const built = report(root);
    const { json: analyzed } = analyze(env, root);
    assert.deepEqual(analyzed.routes, built.routes);
    const docs = built.routes.find((/** @type {RoutePlan} */ r) => r.pattern === '/[...slug]');
    assert.ok(docs, built.routes.map((/** @type {RoutePlan} */ r) => r.pattern).join(', '));
    assert.equal(docs.kind, 'injected');
    // Starlight renders its Footer inside a `{…}` expression: the override starts its own tree's
    // batch when it renders (speculative: true would start it with the page's).
    assert.deepEqual(docs.plan.loaders.map((/** @type {any} */ l) => [l.component, l.conditional, l.hoisted, l.waveBefore]).sort(), [
      ['src/components/Footer.astro', true, false, 1],
      ['src/components/Sponsor.astro', true, false, 2],
    ]);
    assert.deepEqual(docs.plan.entries.map((/** @type {any} */ e) => [e.component, e.conditional]), [
      ['src/components/Footer.astro', true],
      ['src/components/Sponsor.astro', true],
    ]);
    assert.ok(docs.plan.files.includes('\0virtual:starlight/components/Footer'), 'through the virtual module');
  });

  test('served: the Footer and its child start together, when the Footer renders', async () => {
    const api = await startLatencyApi({ delayMs: 100 });
    const server = await serve(root, { env: { HOIST_API: api.url } });
    try {
      const guide = await startsOf(api, `${server.url}/guide/`, ['/parity/footer', '/parity/sponsor']);
      assert.ok(guide.spread < TOGETHER_MS, `${guide.spread.toFixed(0)} ms apart`);
      assert.match(guide.body, /data-part="sponsor"/);
    } finally {
      await server.stop();
      await api.stop();
    }
  });
});

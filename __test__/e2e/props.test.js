// Props-aware hoisting end to end on Astro 7 and 5, against the plain-Astro twin of the `blog`
// fixture (loaders inlined): a post page (params -> post) whose author's props come from the
// post's data, the author's stats through the author's Astro.props, comments from params with a
// badge per comment through `.filter(…).map(…)`, a featured block behind a condition on the
// post's data, and related posts whose prop is computed by a function call (it loads at render).
// The HTML equals plain Astro's; each loader runs once per distinct props; each starts in the
// wave its sources allow (measured: the start of each data API call); concurrent requests each
// get their own data; `astro-hoist analyze` reports the same waves.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import {
  ENVIRONMENTS,
  REPO_ROOT,
  build,
  envDir,
  fetchResponse,
  installPackedAddon,
  nodeBinary,
  packAddon,
  plainVariant,
  prepareFixture,
  serve,
  startLatencyApi,
  stopAll,
} from '../../harness/harness.js';

/** @typedef {import('../../harness/harness.js').RunningServer} RunningServer */
/** @typedef {import('../../harness/harness.js').LatencyApi} LatencyApi */

const SETUP_TIMEOUT_MS = 15 * 60_000;
/** Each data call takes this long: a wave starts this much after the one before. */
const DELAY_MS = 120;
/** How late after its sources resolve a loader may start and still count as started then. */
const SLACK_MS = 45;

/** @type {string[]} */
let tarballs = [];
before(async () => {
  tarballs = await packAddon({ destination: path.join(REPO_ROOT, '.e2e', 'packs-props') });
}, { timeout: SETUP_TIMEOUT_MS });
after(stopAll);

/** Scoped-style class names hash each component's source, which the plain twin changes. */
const normalize = (/** @type {string} */ html) => html.replace(/astro-[a-z0-9]{8}/g, 'astro-cid').replace(/data-astro-cid-[a-z0-9]{8}/g, 'data-astro-cid');

/**
 * One answer and the data calls it made: counts per path, and when each path was first called
 * (ms after the post's call).
 * @param {RunningServer} server
 * @param {LatencyApi} api
 * @param {string} url
 */
async function answer(server, api, url) {
  api.reset();
  const response = await fetchResponse(`${server.url}${url}`);
  await new Promise((resolve) => setTimeout(resolve, 30));
  const calls = Object.fromEntries([...api.counts].sort(([a], [b]) => a.localeCompare(b)));
  const first = api.calls.find((c) => c.path.startsWith('/post/'))?.at ?? NaN;
  /** @type {Record<string, number>} */
  const starts = {};
  for (const c of api.calls) starts[c.path] ??= Math.round(c.at - first);
  return { status: response.status, html: normalize(response.text), calls, starts };
}

/**
 * The calls a post page makes, each once.
 * @param {string} slug
 * @param {boolean} featured
 */
function expectedCalls(slug, featured) {
  /** @type {Record<string, number>} */
  const calls = {
    [`/author/a-${slug}`]: 1,
    [`/comments/${slug}`]: 1,
    [`/post/${slug}`]: 1,
    [`/related/${slug.toUpperCase()}`]: 1,
    [`/stats/a-${slug}`]: 1,
    '/user/ada': 1,
    '/user/bob': 1,
  };
  if (featured) calls[`/featured/${slug}`] = 1;
  return Object.fromEntries(Object.entries(calls).sort(([a], [b]) => a.localeCompare(b)));
}

for (const env of ENVIRONMENTS) {
  describe(`props-aware hoisting (${env})`, () => {
    /** @type {LatencyApi} */
    let api;
    /** @type {Record<'hoisted' | 'plain', RunningServer>} */
    const servers = /** @type {any} */ ({});
    /** @type {string} */
    let hoistedRoot;

    before(async () => {
      await installPackedAddon(env, tarballs);
      api = await startLatencyApi({ delayMs: DELAY_MS });
      hoistedRoot = await prepareFixture(env, 'blog');
      const plainRoot = await prepareFixture(env, 'blog', { as: 'blog-plain', files: plainVariant('blog') });
      for (const root of [hoistedRoot, plainRoot]) await build(root, { env: { HOIST_API: api.url } });
      servers.hoisted = await serve(hoistedRoot, { env: { HOIST_API: api.url } });
      servers.plain = await serve(plainRoot, { env: { HOIST_API: api.url } });
      for (const server of Object.values(servers)) await fetchResponse(`${server.url}/posts/warm`);
    }, { timeout: SETUP_TIMEOUT_MS });

    after(async () => {
      for (const server of Object.values(servers)) await server?.stop();
      await api?.stop();
    });

    for (const [slug, featured] of /** @type {const} */ ([['featured-1', true], ['plain-1', false]])) {
      test(`/posts/${slug}: plain Astro's HTML, one run per distinct props, each loader in the wave its sources allow`, async () => {
        const a = await answer(servers.hoisted, api, `/posts/${slug}`);
        const b = await answer(servers.plain, api, `/posts/${slug}`);
        assert.equal(a.status, 200);
        assert.equal(a.html, b.html, 'the same HTML as plain Astro');
        assert.match(a.html, new RegExp(`data-stats="/stats/a-${slug}"`));
        assert.deepEqual([...a.html.matchAll(/data-user="([^"]+)"/g)].map((m) => m[1]), ['/user/ada', '/user/bob', '/user/ada']);
        assert.equal(a.html.includes('data-featured='), featured);
        // Two comments by one user: one user call (plain Astro: one per badge).
        assert.deepEqual(a.calls, expectedCalls(slug, featured));
        assert.equal(b.calls['/user/ada'], 2);

        const s = a.starts;
        // Wave 1: the post and the comments (props from params) start together.
        assert.ok(s[`/comments/${slug}`] < SLACK_MS, `comments start with the post: ${JSON.stringify(s)}`);
        // Wave 2: everything whose props come from wave-1 data starts when that data is in, not
        // when its component renders: the stats (through the author's props) with the author.
        const wave2 = [`/author/a-${slug}`, `/stats/a-${slug}`, '/user/ada', '/user/bob', ...(featured ? [`/featured/${slug}`] : [])];
        for (const p of wave2) {
          assert.ok(s[p] >= DELAY_MS - 5 && s[p] < DELAY_MS + SLACK_MS, `${p} starts in wave 2 (${DELAY_MS} ms): ${JSON.stringify(s)}`);
        }
        // Plain Astro: the stats wait for the author's render, two waves after the post.
        assert.ok(b.starts[`/stats/a-${slug}`] >= 2 * DELAY_MS - 5, `plain: ${JSON.stringify(b.starts)}`);
      });
    }

    test('24 concurrent requests each get their own data', async () => {
      const slugs = Array.from({ length: 24 }, (_, i) => (i % 3 === 0 ? `featured-c${i}` : `c${i}`));
      const pages = await Promise.all(slugs.map((slug) => fetchResponse(`${servers.hoisted.url}/posts/${slug}`)));
      for (const [i, slug] of slugs.entries()) {
        const html = pages[i].text;
        assert.equal(pages[i].status, 200);
        for (const attr of [`data-post="/post/${slug}"`, `data-author="/author/a-${slug}"`, `data-stats="/stats/a-${slug}"`, `data-comments="/comments/${slug}"`, `data-related="/related/${slug.toUpperCase()}"`]) {
          assert.ok(html.includes(attr), `${slug}: ${attr}`);
        }
        assert.equal(html.includes(`data-featured="/featured/${slug}"`), slug.startsWith('featured'));
      }
    });

    test('astro-hoist analyze reports the same waves, and the prop that stopped a loader at its file:line', () => {
      const cli = path.join(envDir(env), 'node_modules', 'astro-hoist', 'js', 'cli.js');
      const child = spawnSync(nodeBinary(env), [cli, 'analyze', hoistedRoot, '--json'], { cwd: hoistedRoot, encoding: 'utf8', timeout: 120_000, env: { ...process.env, ASTRO_TELEMETRY_DISABLED: '1' } });
      assert.equal(child.status, 0, child.stderr);
      const report = JSON.parse(child.stdout);
      const route = report.routes.find((/** @type {{ pattern: string }} */ r) => r.pattern === '/posts/[slug]');
      /** @type {Record<string, { wave: number, hoisted: boolean, waitsFor: string[] }>} */
      const loaders = Object.fromEntries(route.plan.loaders.map((/** @type {any} */ l) => [path.basename(l.component, '.astro'), l]));
      const waves = Object.fromEntries(Object.entries(loaders).map(([name, l]) => [name, l.hoisted ? l.wave : 'render']));
      assert.deepEqual(waves, { '[slug]': 1, Comments: 1, Author: 2, AuthorStats: 2, Featured: 2, UserBadge: 2, Related: 'render' });
      assert.equal(route.plan.depthBefore, 3);
      assert.equal(route.plan.depthAfter, 2);
      const note = route.plan.notes.find((/** @type {any} */ n) => n.code === 'props-not-traced');
      assert.ok(note, JSON.stringify(route.plan.notes));
      assert.equal(`${note.file}:${note.line}:${note.column}`, 'src/pages/posts/[slug].astro:24:21');
      assert.match(note.message, /Related.*topicOf/);
    });
  });
}

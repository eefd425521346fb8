// Every render gets the data of its own URL, end to end on Astro 7 and 5. The `renders` fixture
// is built with astro-hoist and as plain Astro (loaders inlined, e2e/plain-variant.js), and for
// every case the hoisted server must answer what plain Astro answers (status, HTML, the headers
// that matter) with the same loader calls: rewrites in a page, in middleware after next() and to
// the 404 page; a middleware that renders twice; i18n fallbacks (rewrite and redirect builds);
// the 500 page after a throw and the 404 page after an empty 404; a 3xx with a body; a guard above
// loader children; a server island whose component and child both load (one round trip in the
// island's request); a Markdown page whose layout nests loaders; cookies and headers set while
// the body streams; and a host that hands every request one shared `locals` object.
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import {
  ENVIRONMENTS,
  REPO_ROOT,
  build,
  fetchResponse,
  installPackedAddon,
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
const DELAY_MS = 40;
/** Output of a Node process that had an unhandled rejection (or too many abort listeners). */
const PROCESS_TROUBLE = /unhandled|ERR_UNHANDLED_REJECTION|MaxListenersExceeded/i;

/** @type {string[]} */
let tarballs = [];
before(async () => {
  tarballs = await packAddon({ destination: path.join(REPO_ROOT, '.e2e', 'packs-renders') });
}, { timeout: SETUP_TIMEOUT_MS });
after(stopAll);

/**
 * What differs between any two renders of the same page: Astro's scoped-style class names (they
 * hash the component's source, which the plain twin changes), a server island's random id and
 * its encrypted component name.
 * @param {string} html
 */
const normalize = (html) =>
  html
    .replace(/astro-[a-z0-9]{8}/g, 'astro-cid')
    .replace(/data-astro-cid-[a-z0-9]{8}/g, 'data-astro-cid')
    .replace(/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g, 'island-id')
    .replace(/(\/_server-islands\/\w+\?e=)[^&"]+/g, '$1encrypted');

/**
 * The answer of one server, and the loader calls it made (latency API paths, with counts).
 * @param {RunningServer} server
 * @param {LatencyApi} api
 * @param {string} url
 * @param {RequestInit} [init]
 */
async function answer(server, api, url, init) {
  api.reset();
  const response = await fetchResponse(`${server.url}${url}`, { init });
  // Loaders of a render that was abandoned may still be in flight: let them reach the API.
  await new Promise((resolve) => setTimeout(resolve, DELAY_MS + 20));
  const calls = Object.fromEntries([...api.counts].sort(([a], [b]) => a.localeCompare(b)));
  return {
    status: response.status,
    html: normalize(response.text),
    location: response.headers.get('location'),
    cookies: response.headers.getSetCookie().sort(),
    late: response.headers.get('x-late'),
    calls,
    at: api.calls.map((c) => ({ ...c })),
  };
}

/**
 * Asserts that the hoisted server answers `url` as plain Astro does, with the same loader calls.
 * @param {{ hoisted: RunningServer, plain: RunningServer, api: LatencyApi }} servers
 * @param {string} url
 * @param {RequestInit} [init]
 */
async function samePlain({ hoisted, plain, api }, url, init) {
  const a = await answer(hoisted, api, url, init);
  const b = await answer(plain, api, url, init);
  const { at: _a, ...hoistedAnswer } = a;
  const { at: _b, ...plainAnswer } = b;
  assert.deepEqual(hoistedAnswer, plainAnswer, `${url}: astro-hoist (actual) vs plain Astro (expected)`);
  return a;
}

/**
 * Whether the given API paths were all first called within `ms` of each other.
 * @param {{ path: string, at: number }[]} calls
 * @param {string[]} paths
 */
function startedTogether(calls, paths, ms = 15) {
  const times = paths.map((p) => calls.find((c) => c.path === p)?.at ?? Infinity);
  return Math.max(...times) - Math.min(...times) < ms;
}

for (const env of ENVIRONMENTS) {
  describe(`every render gets the data of its own URL (${env})`, () => {
    /** @type {LatencyApi} */
    let api;
    /** @type {Record<'hoisted' | 'plain' | 'shared' | 'hoistedRedirect' | 'plainRedirect', RunningServer>} */
    const servers = /** @type {any} */ ({});

    before(async () => {
      await installPackedAddon(env, tarballs);
      api = await startLatencyApi({ delayMs: DELAY_MS });
      const plainFiles = plainVariant('renders');
      const roots = {
        hoisted: await prepareFixture(env, 'renders'),
        plain: await prepareFixture(env, 'renders', { as: 'renders-plain', files: plainFiles }),
        hoistedRedirect: await prepareFixture(env, 'renders', { as: 'renders-redirect' }),
        plainRedirect: await prepareFixture(env, 'renders', { as: 'renders-redirect-plain', files: plainFiles }),
      };
      for (const [name, root] of Object.entries(roots)) {
        await build(root, { env: { HOIST_API: api.url, ...(name.endsWith('Redirect') ? { FALLBACK_TYPE: 'redirect' } : {}) } });
      }
      servers.hoisted = await serve(roots.hoisted, { env: { HOIST_API: api.url } });
      servers.plain = await serve(roots.plain, { env: { HOIST_API: api.url } });
      servers.shared = await serve(roots.hoisted, { env: { HOIST_API: api.url, HOIST_SHARED_LOCALS: '1' } });
      servers.hoistedRedirect = await serve(roots.hoistedRedirect, { env: { HOIST_API: api.url } });
      servers.plainRedirect = await serve(roots.plainRedirect, { env: { HOIST_API: api.url } });
      // First requests load each route's chunks.
      for (const server of Object.values(servers)) await fetchResponse(`${server.url}/about`);
    }, { timeout: SETUP_TIMEOUT_MS });

    after(async () => {
      for (const server of Object.values(servers)) await server?.stop();
      await api?.stop();
    });

    const pair = () => ({ hoisted: servers.hoisted, plain: servers.plain, api });

    test('Astro.rewrite in a page renders the new URL with its own data', async () => {
      const a = await samePlain(pair(), '/posts/old');
      assert.match(a.html, /data-params-slug="new"/);
      assert.match(a.html, /data-loaded="\/post\/new"/);
      assert.match(a.html, /data-author="\/author\/new"/);
      assert.doesNotMatch(a.html, /\/post\/old|\/author\/old/);
      assert.deepEqual(a.calls, { '/author/new': 1, '/page/new': 1, '/page/old': 1, '/post/new': 1 });
    });

    test('context.rewrite after next() in middleware, and Astro.rewrite to the 404 page', async () => {
      const a = await samePlain(pair(), '/about?rewrite-to=fresh');
      assert.match(a.html, /data-loaded="\/post\/fresh"/);
      assert.equal(a.calls['/post/fresh'], 1);
      assert.equal(a.calls['/greeting/about'], 1, 'the first render ran too, with its own URL');
      const b = await samePlain(pair(), '/posts/gone');
      assert.equal(b.status, 404);
      assert.match(b.html, /data-not-found="\/notfound\/404"|data-not-found="\/notfound\/posts\/gone"/);
    });

    test('a middleware that renders twice: the second render runs its loaders again', async () => {
      const a = await samePlain(pair(), '/twice');
      assert.deepEqual(a.calls, { '/twice/data': 2 });
      assert.match(a.html, /data-n="2"/);
    });

    test('i18n fallback (rewrite build): /fr/about answers as in plain Astro, with data of its own URL', async () => {
      const a = await samePlain(pair(), '/fr/about');
      assert.doesNotMatch(a.html, /Internal server error/i);
      assert.match(a.html, /data-greeting="\/greeting\/(fr\/)?about"/);
    });

    test('i18n fallback (redirect build): /fr/about answers as in plain Astro', async () => {
      const a = await samePlain({ hoisted: servers.hoistedRedirect, plain: servers.plainRedirect, api }, '/fr/about');
      assert.doesNotMatch(a.html, /Internal server error/i);
    });

    test('a page that throws after its batch started: the 500 page renders with its own data', async () => {
      const hoisted = await answer(servers.hoisted, api, '/throws');
      const plain = await answer(servers.plain, api, '/throws');
      assert.equal(hoisted.status, 500);
      assert.equal(hoisted.html, plain.html);
      assert.match(hoisted.html, /data-error-detail="\/error-detail\/throws"/);
      // The page's batch had already started ErrorDetail's loader when the page threw: that one
      // call is spent; the 500 page runs its own.
      assert.deepEqual(plain.calls, { '/error-detail/throws': 1 });
      assert.deepEqual(hoisted.calls, { '/error-detail/throws': 2 });
    });

    test('a guard answering an empty 404: the 404 page renders; the guarded children never load', async () => {
      const a = await samePlain(pair(), '/empty-404');
      assert.equal(a.status, 404);
      assert.match(a.html, /data-not-found=/);
      assert.equal(a.calls['/error-detail/empty-404'], undefined);
      const found = await samePlain(pair(), '/empty-404?found=1');
      assert.equal(found.status, 200);
    });

    test('a 3xx response with a body renders its body', async () => {
      const a = await samePlain(pair(), '/redirect-body');
      assert.equal(a.status, 302);
      assert.equal(a.location, '/about');
      assert.match(a.html, /data-redirecting="\/redirecting">Redirecting…/);
    });

    test('a guard above loader children: without a session the children never render and never load', async () => {
      const anonymous = await samePlain(pair(), '/guarded');
      assert.equal(anonymous.status, 302);
      assert.deepEqual(anonymous.calls, {});
      const ada = await samePlain(pair(), '/guarded', { headers: { cookie: 'user=ada' } });
      assert.equal(ada.status, 200);
      assert.deepEqual(ada.calls, { '/secret/ada': 1 });
    });

    test('loaders that read props: each instance gets its own data, one run per distinct props', async () => {
      const a = await answer(servers.hoisted, api, '/thread/t1');
      const b = await answer(servers.plain, api, '/thread/t1');
      assert.equal(a.status, 200);
      assert.equal(a.html, b.html, 'the same HTML as plain Astro');
      assert.match(a.html, /data-thread="\/thread\/t1"/);
      assert.deepEqual(
        [...a.html.matchAll(/data-user="([^"]+)"/g)].map((m) => m[1]),
        ['/user/ada', '/user/bob', '/user/ada'],
      );
      // Plain Astro calls once per instance; astro-hoist once per distinct props.
      assert.deepEqual(b.calls, { '/author/t1': 1, '/thread/t1': 1, '/user/ada': 2, '/user/bob': 1 });
      assert.deepEqual(a.calls, { '/author/t1': 1, '/thread/t1': 1, '/user/ada': 1, '/user/bob': 1 });
      // Concurrent requests never share a props run.
      const pages = await Promise.all(['t2', 't3', 't2'].map((slug) => fetchResponse(`${servers.hoisted.url}/thread/${slug}`)));
      for (const [i, slug] of ['t2', 't3', 't2'].entries()) assert.match(pages[i].text, new RegExp(`data-thread="/thread/${slug}"`));
    });

    test('batch loaders: a list of 50 items (5 ids) makes one call per wave (cards, then their badges); errors stay per item', async () => {
      const a = await answer(servers.hoisted, api, '/cards');
      const b = await answer(servers.plain, api, '/cards');
      assert.equal(a.status, 200);
      assert.equal(a.html, b.html, 'the same HTML as plain Astro');
      assert.equal([...a.html.matchAll(/data-card="id\d:cards"/g)].length, 42);
      const calls = (/** @type {Record<string, number>} */ c, /** @type {string} */ prefix) => Object.entries(c).filter(([p]) => p.startsWith(prefix));
      // One call with the 5 distinct ids of the 42 shown items; the hidden items' id5 is in none.
      assert.deepEqual(calls(a.calls, '/cards/'), [['/cards/id0,id1,id2,id3,id4', 1]]);
      const badges = calls(a.calls, '/badges/');
      assert.equal(badges.length, 1, JSON.stringify(a.calls));
      assert.deepEqual(badges[0][0].slice('/badges/'.length).split(',').sort(), ['u0', 'u1', 'u2']);
      // Plain Astro: one call per instance.
      assert.equal(calls(b.calls, '/cards/').reduce((n, [, count]) => n + count, 0), 42);
      const broken = await answer(servers.hoisted, api, '/cards?broken');
      const brokenPlain = await answer(servers.plain, api, '/cards?broken');
      assert.equal(broken.html, brokenPlain.html);
      assert.match(broken.html, /data-card="broken:failed"/);
      assert.equal([...broken.html.matchAll(/data-card="id\d:cards"/g)].length, 42, 'only the broken item fails');
      // A call that throws fails every instance of that call (plain Astro fails only the one).
      const boom = await answer(servers.hoisted, api, '/cards?boom');
      assert.equal(boom.status, 200);
      assert.equal([...boom.html.matchAll(/data-card="[^"]+:failed"/g)].length, 43);
      // Concurrent requests never share a call.
      api.reset();
      const pages = await Promise.all([1, 2, 3].map(() => fetchResponse(`${servers.hoisted.url}/cards`)));
      for (const page of pages) assert.equal([...page.text.matchAll(/data-card="id\d:cards"/g)].length, 42);
      await new Promise((resolve) => setTimeout(resolve, DELAY_MS + 20));
      assert.deepEqual(calls(Object.fromEntries(api.counts), '/cards/'), [['/cards/id0,id1,id2,id3,id4', 3]]);
    });

    test('cookies and headers set by a child while the body streams behave as in plain Astro', async () => {
      const a = await samePlain(pair(), '/cookies');
      assert.ok(a.cookies.some((c) => c.startsWith('early=1')), JSON.stringify(a.cookies));
    });

    test('a Markdown page: its layout hoists its tree (both loaders start together)', async () => {
      const a = await samePlain(pair(), '/doc');
      assert.deepEqual(a.calls, { '/doc/leaf': 1, '/doc/part': 1 });
      assert.ok(startedTogether(a.at, ['/doc/part', '/doc/leaf']), JSON.stringify(a.at));
    });

    test('a server island whose component and child both load: one round trip in the island request', async () => {
      const page = await samePlain(pair(), '/island');
      const islandUrl = (await fetchResponse(`${servers.hoisted.url}/island`)).text.match(/fetch\((["'])(\/_server-islands\/Island[^"']*)\1/)?.[2]?.replaceAll('&amp;', '&');
      assert.ok(islandUrl, page.html.slice(0, 2000));
      api.reset();
      const island = await fetchResponse(`${servers.hoisted.url}${islandUrl}`);
      assert.equal(island.status, 200, island.text.slice(0, 1000));
      assert.match(island.text, /data-island="\/island\/self"/);
      assert.match(island.text, /data-island-child="\/island\/child"/);
      assert.deepEqual(Object.fromEntries(api.counts), { '/island/self': 1, '/island/child': 1 });
      assert.ok(startedTogether(api.calls, ['/island/self', '/island/child']), JSON.stringify(api.calls));
      assert.ok(island.ms < 2 * DELAY_MS + 30, `the island took ${island.ms.toFixed(0)} ms for two ${DELAY_MS} ms loaders`);
    });

    test('one locals object shared by every request (middleware mode): 24 concurrent requests each get their own data', async () => {
      api.reset();
      const ids = Array.from({ length: 24 }, (_, i) => `visitor${i}`);
      const responses = await Promise.all(ids.map((id) => fetchResponse(`${servers.shared.url}/mine?id=${id}`)));
      responses.forEach((response, i) => {
        assert.equal(response.status, 200, response.text.slice(0, 500));
        assert.match(response.text, new RegExp(`data-mine="/mine/${ids[i]}" data-id="${ids[i]}"`));
        const seen = new Set([...response.text.matchAll(/visitor\d+/g)].map((m) => m[0]));
        assert.deepEqual([...seen], [ids[i]]);
      });
      assert.deepEqual(Object.fromEntries([...api.counts].sort()), Object.fromEntries(ids.map((id) => [`/mine/${id}`, 1]).sort()));
    });

    test('no process trouble on any server', () => {
      for (const [name, server] of Object.entries(servers)) assert.equal(server.output().match(PROCESS_TROUBLE), null, `${name}: ${server.output()}`);
    });
  });
}

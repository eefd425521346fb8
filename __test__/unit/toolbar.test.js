// Unit tests of the dev toolbar app's server side (js/toolbar/server.js) and what it needs from
// the integration and the runtime: the app is registered in `astro dev` only (and can be turned
// off); the request log keeps the last request per path with the runs that belong to it; routes
// match as Astro matches them; the timeline puts the plan's waves beside the runs' times, with
// the loaders not hoisted and where their cause is written; the server answers the app over the
// toolbar channel and tells it when its page got new runs; runs read inside <Defer> are marked.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { onRequest as deferMiddleware, __defer } from '../../js/defer.js';
import { getLoaderData, onLoaderSettled } from '../../js/runtime.js';
import { EVENTS, RequestLog, TOOLBAR_APP_ID, matchRoute, mayBePage, normalizePath, timelineOf, toolbarServer } from '../../js/toolbar/server.js';

const logger = /** @type {any} */ ({ info() {}, warn() {}, error() {}, debug() {} });

/**
 * Runs the integration's `astro:config:setup` with `config` and returns what it registered.
 * @param {Record<string, unknown>} options
 * @param {{ command?: string, config?: Record<string, unknown> }} [setup]
 */
async function configSetup(options, { command = 'dev', config = {} } = {}) {
  const { default: hoist } = await import('../../js/integration.js');
  /** @type {any[]} */
  const apps = [];
  /** @type {any[]} */
  const updates = [];
  const integration = hoist(/** @type {any} */ (options));
  await integration.hooks['astro:config:setup']({
    config: { root: new URL('file:///proj/'), srcDir: new URL('file:///proj/src/'), ...config },
    command: /** @type {any} */ (command),
    updateConfig: (c) => updates.push(c),
    addMiddleware: () => {},
    addDevToolbarApp: (app) => apps.push(app),
    logger,
  });
  return { integration, apps, plugins: updates[0].vite.plugins.map((/** @type {any} */ p) => p.name) };
}

test('the integration adds the toolbar app in astro dev only, unless turned off', async () => {
  const dev = await configSetup({});
  assert.equal(dev.apps.length, 1);
  assert.equal(dev.apps[0].id, TOOLBAR_APP_ID);
  assert.ok(fs.existsSync(dev.apps[0].entrypoint), dev.apps[0].entrypoint);
  assert.match(dev.apps[0].icon, /^<svg/);
  assert.deepEqual(dev.plugins, ['astro-hoist:transform', 'astro-hoist:imports', 'astro-hoist:toolbar']);
  for (const [options, setup] of /** @type {const} */ ([
    [{}, { command: 'build' }],
    [{ toolbar: false }, {}],
    [{}, { config: { devToolbar: { enabled: false } } }],
  ])) {
    const off = await configSetup(options, setup);
    assert.deepEqual(off.apps, [], JSON.stringify([options, setup]));
    assert.deepEqual(off.plugins, ['astro-hoist:transform', 'astro-hoist:imports']);
  }
  const { default: hoist } = await import('../../js/integration.js');
  assert.throws(() => hoist(/** @type {any} */ ({ toolbar: 'yes' })), /'toolbar' must be true or false/);
  assert.equal(hoist({ toolbar: true }).options.toolbar, true);
});

test('paths and page requests', () => {
  assert.equal(normalizePath('/'), '/');
  assert.equal(normalizePath('/posts/a/'), '/posts/a');
  assert.equal(normalizePath('/caf%C3%A9?x=1'), '/café');
  assert.equal(normalizePath(''), '/');
  for (const url of ['/', '/posts/hello', '/about/?ref=nav', '/index.html']) assert.ok(mayBePage('GET', url), url);
  for (const [method, url] of [
    ['POST', '/'],
    ['GET', '/@vite/client'],
    ['GET', '/@fs/x/app.js'],
    ['GET', '/__open-in-editor?file=x'],
    ['GET', '/node_modules/.vite/deps/x.js'],
    ['GET', '/src/components/A.astro?astro&type=style&index=0&lang.css'],
    ['GET', '/src/lib/x.ts?import'],
    ['GET', '/favicon.svg'],
    ['GET', '/rss.xml'],
    ['GET', '/_image?href=x'],
  ]) {
    assert.ok(!mayBePage(method, url), `${method} ${url}`);
  }
});

test('the request log keeps the last request of each path with its runs', () => {
  const log = new RequestLog({ maxPaths: 2, maxRuns: 2 });
  /** @param {Partial<import('../../js/runtime.js').LoaderSettledEvent>} fields */
  const event = (fields) => ({ key: 'k', component: 'src/A.astro', url: 'http://127.0.0.1:4321/a', start: 0, end: 0, ok: true, ...fields });
  const first = log.begin('/a/', 100);
  assert.equal(log.settled(event({ start: 101, end: 120 })), '/a');
  // A later request of the path replaces it; a run that started before it is an older request's.
  const second = log.begin('/a', 200);
  assert.notEqual(first, second);
  assert.equal(log.settled(event({ start: 150, end: 210 })), null);
  log.settled(event({ start: 201, end: 230, ok: false, error: new Error('boom'), cache: 'miss', origin: 'render', deferred: true }));
  assert.deepEqual(log.get('/a')?.runs, [{ key: 'k', component: 'src/A.astro', start: 201, end: 230, ok: false, error: 'boom', cache: 'miss', origin: 'render', deferred: true }]);
  // Bounded runs.
  log.settled(event({ start: 202, end: 203 }));
  log.settled(event({ start: 204, end: 205 }));
  assert.equal(log.get('/a')?.runs.length, 2);
  assert.equal(log.get('/a')?.dropped, 1);
  // A path the middleware did not see: a record from its first run.
  assert.equal(log.settled(event({ url: 'http://127.0.0.1:4321/b?x=1', start: 300, end: 310 })), '/b');
  assert.deepEqual([log.get('/b')?.seen, log.get('/b')?.start], [false, 300]);
  // Bounded paths: the least recently requested goes.
  log.begin('/c', 400);
  assert.equal(log.get('/a'), undefined);
  assert.deepEqual([...log.records.keys()], ['/b', '/c']);
  assert.equal(log.settled(event({ url: undefined })), null);
});

test('routes match as Astro serves them: page routes by priority, base removed', () => {
  const routes = [
    { entrypoint: 'src/pages/rss.xml.js', pattern: '/rss.xml', patternRegex: /^\/rss\.xml\/?$/, type: 'endpoint' },
    { entrypoint: 'src/pages/posts/new.astro', pattern: '/posts/new', patternRegex: /^\/posts\/new\/?$/, type: 'page' },
    { entrypoint: 'src/pages/posts/[slug].astro', pattern: '/posts/[slug]', patternRegex: /^\/posts\/([^/]+?)\/?$/, type: 'page' },
    { entrypoint: 'astro/dist/404.astro', pattern: '/404', patternRegex: /^\/404\/?$/, type: 'page', origin: 'internal' },
    { entrypoint: 'src/pages/index.astro', pattern: '/', patternRegex: /^\/$/, type: 'page' },
  ];
  assert.equal(matchRoute(routes, '/posts/new')?.entrypoint, 'src/pages/posts/new.astro');
  assert.equal(matchRoute(routes, '/posts/hello')?.pattern, '/posts/[slug]');
  assert.equal(matchRoute(routes, '/')?.pattern, '/');
  assert.equal(matchRoute(routes, '/rss.xml'), null);
  assert.equal(matchRoute(routes, '/404'), null);
  assert.equal(matchRoute(routes, '/docs/posts/hello', '/docs/')?.pattern, '/posts/[slug]');
  assert.equal(matchRoute(routes, '/docs', '/docs')?.pattern, '/');
  // A route whose regex wants the trailing slash (trailingSlash: 'always').
  assert.equal(matchRoute([{ entrypoint: 'a.astro', pattern: '/a', patternRegex: /^\/a\/$/, type: 'page' }], '/a')?.pattern, '/a');
});

/** A plan of a page, its layout, a child in wave 2 and one whose props are not traced. */
const PLAN = /** @type {import('../../index.js').Plan} */ (
  /** @type {unknown} */ ({
    root: 'src/pages/index.astro',
    depthBefore: 3,
    depthAfter: 2,
    loaders: [
      { id: 'p', component: 'src/pages/index.astro', wave: 1, waveBefore: 1, hoisted: true, conditional: false },
      { id: 'l', component: 'src/layouts/L.astro', wave: 1, waveBefore: 2, hoisted: true, conditional: false },
      { id: 'a', component: 'src/components/Author.astro', wave: 2, waveBefore: 3, hoisted: true, conditional: false, reason: 'its props come from the data of src/pages/index.astro' },
      { id: 'w', component: 'src/components/W.astro', wave: 2, waveBefore: 3, hoisted: false, conditional: false, reason: 'its props are not known before render' },
      { id: 'f', component: 'src/components/F.astro', wave: 1, waveBefore: 2, hoisted: true, conditional: true },
    ],
    notes: [
      { severity: 'warning', code: 'props-not-traced', message: 'the loader of src/components/W.astro reads its props, and they are not traced here', file: 'src/pages/index.astro', line: 20, column: 18 },
      { severity: 'info', code: 'loader-conditional', message: 'x', file: 'src/components/Other.astro', line: 1, column: 1 },
    ],
  })
);

test('the timeline: planned waves beside the runs, relative to the request; the loaders not hoisted and where', () => {
  const log = new RequestLog();
  const record = log.begin('/', 1000);
  record.end = 1180.04;
  record.status = 200;
  const url = 'http://127.0.0.1/';
  const settled = (/** @type {Partial<import('../../js/runtime.js').LoaderSettledEvent>} */ e) => log.settled({ key: null, component: null, url, start: 0, end: 0, ok: true, ...e });
  settled({ key: 'p', component: 'src/pages/index.astro', start: 1001, end: 1060 });
  settled({ key: 'l', component: 'src/layouts/L.astro', start: 1001.25, end: 1020, cache: 'hit' });
  settled({ key: 'a', component: 'src/components/Author.astro', start: 1061, end: 1100, origin: 'flow' });
  settled({ key: 'a', component: 'src/components/Author.astro', start: 1061, end: 1090, origin: 'flow', ok: false, error: new Error('HTTP 500') });
  settled({ key: 'w', component: 'src/components/W.astro', start: 1070, end: 1179, origin: 'render', deferred: true });
  settled({ key: 'x', component: 'src/components/Loaded.astro', start: 1002, end: 1003, origin: 'load' });
  const timeline = timelineOf({
    path: '/',
    root: '/proj',
    record,
    route: { entrypoint: 'src/pages/index.astro', pattern: '/', type: 'page' },
    plan: PLAN,
    loaderAt: (file) => (file.endsWith('Author.astro') ? { line: 6, column: 1 } : null),
  });
  assert.deepEqual(timeline.request, { start: 0, end: 180, status: 200, seen: true });
  assert.deepEqual(timeline.depth, { depthBefore: 3, depthAfter: 2 });
  assert.deepEqual(
    timeline.loaders.map((l) => [l.component, l.wave, l.hoisted, l.runs.map((r) => [r.start, r.end])]),
    [
      ['src/pages/index.astro', 1, true, [[1, 60]]],
      ['src/layouts/L.astro', 1, true, [[1.3, 20]]],
      ['src/components/Author.astro', 2, true, [[61, 100], [61, 90]]],
      ['src/components/W.astro', 2, false, [[70, 179]]],
      ['src/components/F.astro', 1, true, []],
      ['src/components/Loaded.astro', null, false, [[2, 3]]],
    ],
  );
  const author = timeline.loaders[2];
  assert.equal(author.file, '/proj/src/components/Author.astro:6:1');
  assert.deepEqual(author.runs[1], { start: 61, end: 90, ok: false, error: 'HTTP 500', origin: 'flow', deferred: false });
  assert.equal(timeline.loaders[1].runs[0].cache, 'hit');
  assert.equal(timeline.loaders[3].runs[0].deferred, true);
  assert.equal(timeline.loaders[3].file, '/proj/src/components/W.astro');
  assert.deepEqual(timeline.notHoisted, [
    {
      component: 'src/components/W.astro',
      file: '/proj/src/components/W.astro',
      reason: 'its props are not known before render',
      code: 'props-not-traced',
      at: 'src/pages/index.astro:20:18',
      atFile: '/proj/src/pages/index.astro:20:18',
    },
  ]);
  // Before any request, and without a plan.
  const empty = timelineOf({ path: '/x', root: '/proj', record: undefined, route: null, plan: null, error: 'no page route' });
  assert.deepEqual([empty.request, empty.loaders, empty.notHoisted, empty.error], [null, [], [], 'no page route']);
});

test('the server: notes page requests, hears runs, answers the app and tells it of new runs', async () => {
  /** @type {((event: any) => void) | null} */
  let listener = null;
  let unsubscribed = false;
  /** @type {any[]} */
  const broadcast = [];
  /** @type {Map<string, (data: any, client?: any) => void>} */
  const handlers = new Map();
  /** @type {any[]} */
  const planned = [];
  const project = {
    walk: async () => [],
    plan: (/** @type {string} */ file, /** @type {any} */ options) => {
      planned.push([file, options]);
      return { plan: PLAN };
    },
    cached: () => ({ loader: { span: { line: 4, column: 1 } } }),
  };
  const server = toolbarServer({
    root: '/proj',
    planner: () => /** @type {any} */ ({ project: async () => project, options: { concurrency: 4 }, planRoutes: async () => [] }),
    routes: () => [{ entrypoint: 'src/pages/index.astro', pattern: '/', patternRegex: /^\/$/, type: 'page' }],
    subscribe: async (_event, l) => {
      listener = l;
      return () => {
        unsubscribed = true;
      };
    },
  });
  /** @type {((req: any, res: any, next: () => void) => void) | null} */
  let middleware = null;
  /** @type {Map<string, () => void>} */
  const watchers = new Map();
  const devServer = {
    middlewares: { use: (/** @type {any} */ fn) => (middleware = fn) },
    environments: { ssr: { pluginContainer: { resolveId: async () => null, load: async () => null } } },
    watcher: { on: (/** @type {string} */ e, /** @type {() => void} */ fn) => watchers.set(e, fn), off: (/** @type {string} */ e) => watchers.delete(e) },
  };
  server.plugin.configureServer(/** @type {any} */ (devServer));
  await server.setup({ server: /** @type {any} */ (devServer), toolbar: { send: (event, payload) => broadcast.push([event, payload]), on: (event, fn) => handlers.set(event, fn) } });
  assert.ok(listener && middleware && handlers.has(EVENTS.get));

  // A page request, then a module request: only the page is logged.
  /** @type {(() => void)[]} */
  const closes = [];
  let nexts = 0;
  for (const url of ['/?x=1', '/@vite/client']) middleware({ method: 'GET', url }, { statusCode: 200, once: (/** @type {string} */ _e, /** @type {() => void} */ fn) => closes.push(fn) }, () => nexts++);
  assert.equal(nexts, 2);
  assert.deepEqual([...server.log.records.keys()], ['/']);
  const start = /** @type {any} */ (server.log.get('/')).start;
  /** @type {any} */ (listener)({ key: 'p', component: 'src/pages/index.astro', url: 'http://127.0.0.1/?x=1', start: start + 1, end: start + 50, ok: true });
  closes[0]();
  await new Promise((resolve) => setTimeout(resolve, 80));
  assert.deepEqual(broadcast, [[EVENTS.changed, { path: '/' }]], 'the apps hear that / got a run');

  /** @type {any[]} */
  const replies = [];
  await /** @type {any} */ (handlers.get(EVENTS.get))({ path: '/' }, { send: (/** @type {string} */ event, /** @type {any} */ payload) => replies.push([event, payload]) });
  assert.equal(replies.length, 1);
  const [event, timeline] = replies[0];
  assert.equal(event, EVENTS.timeline);
  assert.equal(timeline.route, '/');
  assert.deepEqual(planned, [['/proj/src/pages/index.astro', { concurrency: 4, speculative: undefined }]]);
  assert.deepEqual(timeline.loaders[0].runs, [{ start: 1, end: 50, ok: true, deferred: false }]);
  assert.equal(timeline.loaders[0].file, '/proj/src/pages/index.astro:4:1');
  assert.equal(timeline.request.status, 200);

  // A path no page serves: said so, no plan asked for.
  await /** @type {any} */ (handlers.get(EVENTS.get))({ path: '/nowhere' }, { send: (/** @type {string} */ e, /** @type {any} */ p) => replies.push([e, p]) });
  assert.equal(replies[1][1].error, 'no page route of this project serves this path');
  assert.equal(planned.length, 1);

  // A file change: every app asks again.
  /** @type {() => void} */ (watchers.get('change'))();
  await new Promise((resolve) => setTimeout(resolve, 250));
  assert.deepEqual(broadcast.at(-1), [EVENTS.changed, { path: null }]);
  server.done();
  assert.ok(unsubscribed);
  assert.equal(watchers.size, 0);
});

test('runs read inside <Defer> are reported deferred, with what started them', async () => {
  /** @type {import('../../js/runtime.js').LoaderSettledEvent[]} */
  const events = [];
  const stop = onLoaderSettled((event) => events.push(event));
  try {
    const url = new URL('http://127.0.0.1/deferred');
    const astro = { locals: {}, params: {}, url, request: new Request(url) };
    const result = {};
    const loader = async () => 'inner';
    const plain = async () => 'outer';
    const response = await deferMiddleware({ request: astro.request }, async () => {
      await getLoaderData(/** @type {any} */ ({ astro, result, key: 'outer', loader: plain, component: 'src/Outer.astro' }));
      const id = __defer(astro, async () => String(await getLoaderData(/** @type {any} */ ({ astro, result, key: 'inner', loader, component: 'src/Inner.astro' }))), null);
      return new Response(`<html><body><astro-hoist-defer data-id="${id}"></astro-hoist-defer></body></html>`, { headers: { 'content-type': 'text/html' } });
    });
    assert.match(await response.text(), /<template data-astro-hoist-defer="d1">inner<\/template>/);
    assert.deepEqual(
      events.filter((e) => e.url === url.href).map((e) => [e.component, e.origin, e.deferred]),
      [
        ['src/Outer.astro', 'render', false],
        ['src/Inner.astro', 'render', true],
      ],
    );
  } finally {
    stop();
  }
});

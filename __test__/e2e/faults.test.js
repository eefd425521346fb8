// End-to-end faults: loaders that throw, reject, never settle, return values JSON cannot hold or
// load themselves through `ctx.load`, pages and children that do not catch, and a client that
// disconnects while loaders wait. After all of it the server must still serve, must have logged no
// unhandled rejection, and must hold no timer and burn no CPU.
//
// One build of the `faults` fixture (`hoist({ timeout: 300 })`) per environment, shared by the
// tests of a `describe`; Astro 7 on Node 22 and Astro 5 on Node 20. What the loaders observed (calls,
// their signal's abort and its reason) and the server's active handles are read from the fixture's
// `/probe.json` endpoint, which lives in the server process.
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import {
  ENVIRONMENTS,
  REPO_ROOT,
  build,
  ensureEnv,
  fetchResponse,
  fetchText,
  installPackedAddon,
  packAddon,
  prepareFixture,
  serve,
  startLatencyApi,
  stopAll,
} from '../../harness/harness.js';
import { cpuMs } from '../../scripts/stress.js';

/** @typedef {import('../../harness/harness.js').LatencyApi} LatencyApi */
/** @typedef {import('../../harness/harness.js').RunningServer} RunningServer */

/** The fixture's `hoist({ timeout })`. */
const TIMEOUT_MS = 300;
/** Generous: the first run of an environment includes `npm ci` (and the Node 22 download). */
const SETUP_TIMEOUT_MS = 12 * 60_000;
/** Output of a Node process that had an unhandled rejection (or too many abort listeners). */
const PROCESS_TROUBLE = /unhandled|ERR_UNHANDLED_REJECTION|MaxListenersExceeded/i;

/**
 * @typedef {object} Probe what `/probe.json` reports
 * @property {number} pid
 * @property {Record<string, number>} resources `process.getActiveResourcesInfo()` counted by type
 * @property {{ component: string, aborted: boolean, reason: string, message: string, afterMs: number }[]} aborts
 * @property {Record<string, number>} calls loader calls by name since the last reset
 */

/** @type {string[]} */
let tarballs = [];

before(async () => {
  tarballs = await packAddon({ destination: path.join(REPO_ROOT, '.e2e', 'packs-faults') });
}, { timeout: SETUP_TIMEOUT_MS });

after(stopAll);

/**
 * The text of the element `<tag data-component="name" ...>text</tag>`, entities decoded.
 * @param {string} html
 * @param {string} name
 */
function textOf(html, name) {
  const match = html.match(new RegExp(`<(\\w+) data-component="${name}"[^>]*>([^<]*)</\\1>`));
  assert.ok(match, `no data-component="${name}" in:\n${html.slice(0, 3000)}`);
  return match[2]
    .replaceAll('&gt;', '>')
    .replaceAll('&lt;', '<')
    .replaceAll('&quot;', '"')
    .replaceAll('&#39;', "'")
    .replaceAll('&amp;', '&');
}

/**
 * Waits until `check()` is true (polling), or fails with `message()`.
 * @param {() => boolean | Promise<boolean>} check
 * @param {() => string} message
 * @param {number} [timeoutMs]
 */
async function waitFor(check, message, timeoutMs = 10_000) {
  const end = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > end) assert.fail(message());
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

for (const env of ENVIRONMENTS) {
  describe(`${env}: faults fixture, built with hoist({ timeout: ${TIMEOUT_MS} }) and served`, () => {
    /** @type {LatencyApi} */
    let api;
    /** @type {RunningServer} */
    let server;
    /** Timers the server holds when idle after its first requests. */
    let baselineTimers = 0;

    /**
     * @param {{ reset?: boolean }} [options] reset: forget the records after reading them
     * @returns {Promise<Probe>}
     */
    const probe = async ({ reset = true } = {}) => JSON.parse(await fetchText(`${server.url}/probe.json${reset ? '?reset=1' : ''}`));

    before(async () => {
      const info = await ensureEnv(env);
      await installPackedAddon(env, tarballs);
      api = await startLatencyApi({ delayMs: 20 });
      const root = await prepareFixture(env, 'faults');
      const built = await build(root, { env: { HOIST_API: api.url } });
      console.log(`e2e-faults ${env}: astro ${info.astroVersion} on node ${info.nodeVersion}; faults build ${built.ms} ms`);
      server = await serve(root, { env: { HOIST_API: api.url } });
      // First requests load the chunks; then the idle baseline.
      await fetchText(`${server.url}/`);
      await probe();
      baselineTimers = (await probe()).resources.Timeout ?? 0;
    }, { timeout: SETUP_TIMEOUT_MS });

    after(async () => {
      await server?.stop();
      await api?.stop();
    });

    test('every fault on one page: each failing loader fails only its component, with the file and the cause; the page renders', async () => {
      await probe();
      api.reset();
      const response = await fetchResponse(`${server.url}/faults`);
      assert.equal(response.status, 200, response.text.slice(0, 2000));
      const html = response.text;

      // Synchronous throw, rejection, rejection with a non-Error: the component's file, the
      // loader's message, the original error as `cause`.
      assert.equal(textOf(html, 'throws'), '[astro-hoist] loader of src/components/Throws.astro failed: throws synchronously | cause RangeError');
      assert.equal(textOf(html, 'rejects'), '[astro-hoist] loader of src/components/Rejects.astro failed: rejects after a tick | cause TypeError');
      assert.equal(
        textOf(html, 'rejects-non-error'),
        '[astro-hoist] loader of src/components/RejectsNonError.astro failed: [object Object] | cause code 42',
      );
      // Never settles: the timeout rejects its readers with a TimeoutError.
      assert.equal(
        textOf(html, 'hangs'),
        `[astro-hoist] loader of src/components/Hangs.astro failed: loader timed out after ${TIMEOUT_MS} ms | cause TimeoutError`,
      );
      // Not JSON-safe values arrive intact: the very object, Map, Set, BigInt, class instance,
      // function, symbol, Date, undefined, NaN, RegExp, a self-reference.
      const checks = [...html.matchAll(/<li>(\w+):(true|false)<\/li>/g)].map((m) => `${m[1]}:${m[2]}`);
      assert.deepEqual(checks, [
        'identity:true',
        'map:true',
        'set:true',
        'bigint:true',
        'instance:true',
        'function:true',
        'symbol:true',
        'date:true',
        'undefined:true',
        'nan:true',
        'regexp:true',
        'cycle:true',
      ]);
      assert.equal(textOf(html, 'exotic-top'), 'function: hello fn');
      assert.equal(textOf(html, 'exotic-big'), 'bigint: 24691357802469135780246');
      // ctx.load of itself, and A -> B -> A: a cycle error at once, not a deadlock or the timeout.
      assert.equal(
        textOf(html, 'self-load'),
        '[astro-hoist] loader of src/components/SelfLoad.astro failed: [astro-hoist] loader dependency cycle: ' +
          'src/components/SelfLoad.astro -> src/components/SelfLoad.astro',
      );
      for (const name of ['load-cycle-a', 'load-cycle-b']) {
        const message = textOf(html, name);
        assert.match(message, /^\[astro-hoist\] loader of src\/components\/LoadCycle[AB]\.astro failed: \[astro-hoist\] loader dependency cycle: /);
        assert.match(message, /src\/components\/LoadCycleA\.astro -> src\/components\/LoadCycleB\.astro|src\/components\/LoadCycleB\.astro -> src\/components\/LoadCycleA\.astro/);
        assert.doesNotMatch(message, /timed out/);
      }
      // The rest of the page.
      assert.equal(textOf(html, 'fine'), 'fine from /faults/fine');
      assert.equal(textOf(html, 'faults-page'), 'page rendered');

      // Complete timings come through onLoaderSettled (the head left before these settled).
      const timings = /** @type {Record<string, number>} */ ((await probe({ reset: false })).settled);
      assert.ok(timings['src/components/Hangs.astro'] >= TIMEOUT_MS * 0.95, `Hangs: ${JSON.stringify(timings)}`);
      for (const cycle of ['SelfLoad', 'LoadCycleA', 'LoadCycleB']) {
        const ms = timings[`src/components/${cycle}.astro`];
        assert.ok(ms < TIMEOUT_MS * 0.8, `${cycle} settled after ${ms} ms: it waited instead of failing at once (${JSON.stringify(timings)})`);
      }
      assert.ok(response.ms >= TIMEOUT_MS * 0.95 && response.ms < 10_000, `the page took ${response.ms.toFixed(0)} ms`);

      const seen = await probe();
      assert.deepEqual(seen.calls, {
        throws: 1,
        rejects: 1,
        'rejects-non-error': 1,
        hangs: 1,
        exotic: 1,
        'exotic-top': 1,
        'exotic-big': 1,
        'self-load': 1,
        'load-cycle-a': 1,
        'load-cycle-b': 1,
        fine: 1,
      });
      // The hanging loader's own signal fired, from the timeout.
      assert.equal(seen.aborts.length, 1, JSON.stringify(seen.aborts));
      const [hang] = seen.aborts;
      assert.deepEqual(
        { component: hang.component, aborted: hang.aborted, reason: hang.reason, message: hang.message },
        { component: 'Hangs', aborted: true, reason: 'TimeoutError', message: `loader timed out after ${TIMEOUT_MS} ms` },
      );
      assert.ok(hang.afterMs >= TIMEOUT_MS * 0.95 && hang.afterMs < 5_000, `aborted after ${hang.afterMs} ms`);
      assert.equal(api.count('/faults/fine'), 1);
    });

    test('20 concurrent requests of the faults page: each renders the same, each loader runs once per request, each hang times out once', async () => {
      await probe();
      const responses = await Promise.all(Array.from({ length: 20 }, () => fetchResponse(`${server.url}/faults`)));
      for (const response of responses) {
        assert.equal(response.status, 200);
        assert.match(textOf(response.text, 'hangs'), /timed out after 300 ms/);
        assert.match(textOf(response.text, 'self-load'), /loader dependency cycle/);
        assert.equal(response.text.match(/<li>\w+:true<\/li>/g)?.length, 12, 'every exotic check holds');
        assert.equal(textOf(response.text, 'fine'), 'fine from /faults/fine');
      }
      const seen = await probe();
      for (const [name, count] of Object.entries(seen.calls)) assert.equal(count, 20, `${name} ran ${count} times for 20 requests`);
      assert.equal(Object.keys(seen.calls).length, 11);
      assert.equal(seen.aborts.length, 20);
      assert.ok(seen.aborts.every((a) => a.component === 'Hangs' && a.aborted && a.reason === 'TimeoutError'), JSON.stringify(seen.aborts));
    });

    test('a page whose own loader rejects and does not catch: Astro answers 500 and logs the error naming the page', async () => {
      await probe();
      const response = await fetchResponse(`${server.url}/uncaught`);
      assert.equal(response.status, 500);
      await waitFor(
        () => server.output().includes('loader of src/pages/uncaught.astro failed: page loader failed and nobody caught it'),
        () => `the server did not log the page's loader error:\n${server.output().slice(-3000)}`,
      );
      assert.deepEqual((await probe()).calls, { 'uncaught-page': 1 });
    });

    test('a child whose loader rejects and does not catch: Astro ends the stream and logs the error naming the child', async () => {
      await probe();
      // Astro has already streamed the start of the page when the child fails: the body ends early
      // (undici reports "terminated"), the status line said 200.
      /** @type {string} */
      let outcome;
      try {
        const response = await fetchResponse(`${server.url}/uncaught-child`);
        outcome = `HTTP ${response.status}, complete: ${response.text.includes('</html>')}`;
        assert.equal(response.text.includes('</html>'), false, response.text);
      } catch (error) {
        outcome = /** @type {Error} */ (error).message;
        assert.match(outcome, /terminated|socket|closed/i);
      }
      await waitFor(
        () => server.output().includes('loader of src/components/Uncaught.astro failed: child loader failed and nobody caught it'),
        () => `the server did not log the child's loader error (client saw: ${outcome}):\n${server.output().slice(-3000)}`,
      );
      assert.deepEqual((await probe()).calls, { fine: 1, 'uncaught-child': 1 });
    });

    test('a client that disconnects while the loaders wait aborts them (the request ended, not the timeout); the API sees each call cancelled', async () => {
      await probe();
      api.reset();
      const paths = ['/disconnect/outer', '/disconnect/middle', '/disconnect/inner'];
      const controller = new AbortController();
      // The head arrives at once (nothing holds it); the body waits on the loaders.
      const pending = fetch(`${server.url}/disconnect`, { signal: controller.signal })
        .then((response) => response.text())
        .catch((error) => error);
      // All three loaders are waiting on the API (one batch): now the client goes away.
      await waitFor(
        () => paths.every((p) => api.count(p) === 1),
        () => `the loaders did not all call the API: ${JSON.stringify([...api.counts])}`,
      );
      controller.abort();
      const result = await pending;
      assert.equal(result?.name, 'AbortError', `the client's fetch: ${String(result).slice(0, 300)}`);
      await waitFor(
        () => paths.every((p) => api.aborted.get(p) === 1),
        () => `the API did not see every call cancelled: ${JSON.stringify([...api.aborted])}`,
      );
      /** @type {Probe} */
      let seen = await probe({ reset: false });
      await waitFor(
        async () => (seen = await probe({ reset: false })).aborts.length >= 3,
        () => `the loaders' signals did not all abort: ${JSON.stringify(seen.aborts)}`,
      );
      seen = await probe();
      assert.deepEqual(seen.calls, { 'disconnect-outer': 1, 'disconnect-middle': 1, 'disconnect-inner': 1 });
      assert.deepEqual(seen.aborts.map((a) => a.component).sort(), ['DisconnectInner', 'DisconnectMiddle', 'DisconnectOuter']);
      for (const abort of seen.aborts) {
        // Aborted because the request ended (the socket closed), well before the 300 ms timeout.
        assert.equal(abort.aborted, true);
        assert.equal(abort.reason, 'AbortError', `${abort.component}: ${JSON.stringify(abort)}`);
      }
    });

    test('afterwards the server answers a normal page, logged no unhandled rejection, holds no timer and idles', async () => {
      const html = await fetchText(`${server.url}/`);
      assert.match(html, /<p data-component="fine">fine from \/faults\/fine<\/p>\s*<p data-component="index-page">index rendered<\/p>/);
      assert.equal(server.output().match(PROCESS_TROUBLE), null, server.output());

      // Timers: the loaders' timeouts were all cleared (keep-alive sockets to the API may hold a
      // timer for a moment after the last request; wait for them).
      /** @type {Probe} */
      let seen = await probe();
      await waitFor(
        async () => ((seen = await probe()).resources.Timeout ?? 0) <= baselineTimers,
        () => `timers left: ${JSON.stringify(seen.resources)} (idle baseline: ${baselineTimers} Timeout)`,
      );

      // Idle: no CPU used while nobody asks (a leaked interval or a busy loop would show).
      const pid = /** @type {number} */ (server.pid);
      const before = cpuMs(pid);
      await new Promise((resolve) => setTimeout(resolve, 2_000));
      const used = cpuMs(pid) - before;
      assert.ok(used <= 200, `the idle server used ${used} ms of CPU in 2 s`);
      assert.equal((await fetchResponse(`${server.url}/`)).status, 200);
    });
  });
}

// Load, reduced: the `load` fixture (a dynamic route `[id].astro` whose nested components' loaders
// all derive their data from `params.id`, each after a random 1-20 ms delay) built with Astro 7 and
// served; 500 requests for random ids at concurrency 64 as a warm-up, then 500 more. No response
// may carry another request's id, none may be a 5xx, every loader that calls the API does so once
// per request, and the server's RSS after the run stays within 15 % of its RSS after the warm-up
// (both read right after a full GC: the server runs with --expose-gc and the fixture's
// /memory.json?gc=1 collects; without it, V8 growing its heap lazily moves RSS by up to ~13 %
// between two identical runs here), as does the heap still in use.
// `npm run stress` (scripts/stress.js) runs the same with 5,000 requests and prints the figures.
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { REPO_ROOT, stopAll } from '../../harness/harness.js';
import { API_PARTS, RESIDENT_GROWTH_LIMIT, RSS_GROWTH_LIMIT, memoryAfterGc, runLoad, startLoadServer } from '../../scripts/stress.js';

/** @typedef {import('../../scripts/stress.js').LoadServer} LoadServer */
/** @typedef {import('../../scripts/stress.js').LoadStats} LoadStats */

const REQUESTS = 500;
const CONCURRENCY = 64;
/** Generous: the first run of an environment includes `npm ci` (and the Node 22 download). */
const SETUP_TIMEOUT_MS = 12 * 60_000;
/** Output of a Node process that had an unhandled rejection (or too many abort listeners). */
const PROCESS_TROUBLE = /unhandled|ERR_UNHANDLED_REJECTION|MaxListenersExceeded/i;

after(stopAll);

/**
 * @param {LoadStats} stats
 */
function summary(stats) {
  return (
    `${stats.requests} requests, ${stats.perSecond.toFixed(0)}/s, p50 ${stats.p50.toFixed(1)} ms, p99 ${stats.p99.toFixed(1)} ms; ` +
    `ok ${stats.ok}, mixed-up ${stats.mixed}, 5xx ${stats.serverErrors}, other failures ${stats.failed}`
  );
}

/**
 * Every response was complete and carried its own id only.
 * @param {LoadStats} stats
 */
function assertClean(stats) {
  const problems = stats.samples.join('\n');
  assert.equal(stats.mixed, 0, `responses carrying another request's id:\n${problems}`);
  assert.equal(stats.serverErrors, 0, `5xx answers:\n${problems}`);
  assert.equal(stats.failed, 0, `failed or incomplete responses:\n${problems}`);
  assert.equal(stats.ok, stats.requests);
}

describe(`astro7: load fixture, ${REQUESTS} requests at concurrency ${CONCURRENCY} after a warm-up of the same size`, () => {
  /** @type {LoadServer} */
  let load;
  /** Memory after the warm-up (after a full GC). */
  let warmed = { rssKiB: 0, heapUsed: 0 };

  before(async () => {
    load = await startLoadServer({ env: 'astro7', as: 'load', packs: path.join(REPO_ROOT, '.e2e', 'packs-load') });
  }, { timeout: SETUP_TIMEOUT_MS });

  after(async () => {
    await load?.stop();
  });

  test('warm-up: every response carries its own id and only it; no 5xx', async (t) => {
    const warm = await runLoad({ url: load.server.url, requests: REQUESTS, concurrency: CONCURRENCY, prefix: 'w' });
    warmed = await memoryAfterGc(load.server);
    t.diagnostic(`warm-up: ${summary(warm)}; RSS ${(warmed.rssKiB / 1024).toFixed(1)} MiB`);
    assertClean(warm);
  });

  test('run: every response carries its own id and only it; no 5xx; each API loader once per request; nothing unhandled', async (t) => {
    load.api.reset();
    const run = await runLoad({ url: load.server.url, requests: REQUESTS, concurrency: CONCURRENCY, prefix: 'r' });
    t.diagnostic(`run: ${summary(run)}`);
    console.log(`e2e-load astro7: warm-up then ${summary(run)}`);
    assertClean(run);
    /** @type {string[]} */
    const wrong = [];
    for (const id of run.ids) {
      for (const part of API_PARTS) {
        const count = load.api.count(`/load/${id}/${part}`);
        if (count !== 1) wrong.push(`/load/${id}/${part}: ${count}`);
      }
    }
    assert.deepEqual(wrong.slice(0, 10), [], `${wrong.length} (id, part) pairs not called exactly once`);
    assert.equal(load.api.calls.length, REQUESTS * API_PARTS.length, 'no other API calls');
    assert.equal(load.server.output().match(PROCESS_TROUBLE), null, load.server.output());
  });

  test(`heap in use (${RSS_GROWTH_LIMIT * 100} %) and RSS (${RESIDENT_GROWTH_LIMIT * 100} %) after the run are within bounds of the same after the warm-up`, async (t) => {
    assert.ok(warmed.rssKiB > 0, 'the warm-up ran');
    const ran = await memoryAfterGc(load.server);
    const rssGrowth = ran.rssKiB / warmed.rssKiB - 1;
    const heapGrowth = ran.heapUsed / warmed.heapUsed - 1;
    const mib = (/** @type {number} */ bytes) => `${(bytes / 1048576).toFixed(1)} MiB`;
    const line =
      `after a full GC: RSS ${mib(warmed.rssKiB * 1024)} after the warm-up, ${mib(ran.rssKiB * 1024)} after the run (${(rssGrowth * 100).toFixed(1)} %); ` +
      `heap in use ${mib(warmed.heapUsed)} and ${mib(ran.heapUsed)} (${(heapGrowth * 100).toFixed(1)} %)`;
    t.diagnostic(line);
    console.log(`e2e-load astro7: ${line}`);
    assert.ok(rssGrowth <= RESIDENT_GROWTH_LIMIT, line);
    assert.ok(heapGrowth <= RSS_GROWTH_LIMIT, line);
  });
});

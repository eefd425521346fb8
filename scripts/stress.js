#!/usr/bin/env node
// Load test of a built astro-hoist site: the `load` fixture (a dynamic route `[id].astro` whose
// nested components' loaders all derive their data from `params.id`, each after a random 1-20 ms
// delay) built with Astro 7 and served on 127.0.0.1, hit with many requests for random ids from a
// bounded pool of keep-alive connections. Every response must carry its own id and no other one.
//
//   node scripts/stress.js [--requests 5000] [--concurrency 64] [--env astro7]
//
// Prints requests/s, p50/p99 latency, the server's CPU time, its RSS and heap after a warm-up of the
// same size and after the run (read right after a full GC, so garbage V8 has not collected yet does
// not count; the figures before the GC are printed too), and the number of mixed-up responses and
// 5xx answers; exits 1 when any response was mixed up, incomplete or failed, or RSS grew by more
// than 15 %. `npm run stress` runs it (then the
// fuzzers); `__test__/e2e/load.test.js` runs a reduced version with the same functions.
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import {
  REPO_ROOT,
  build,
  fetchText,
  installPackedAddon,
  packAddon,
  prepareFixture,
  serve,
  startLatencyApi,
} from '../harness/harness.js';

/** @typedef {import('../harness/harness.js').EnvName} EnvName */
/** @typedef {import('../harness/harness.js').LatencyApi} LatencyApi */
/** @typedef {import('../harness/harness.js').RunningServer} RunningServer */

/** What each response of `/<id>` shows, per part, and how often `/load/<id>/<part>` occurs in it. */
export const PARTS = /** @type {const} */ ({
  layout: 1,
  page: 1,
  outer: 2, // Outer's own line, and Derived's "from" (Derived builds on Outer's loader)
  middle: 1,
  inner: 1,
  timer: 1,
  derived: 1,
  side: 1,
});

/** Parts whose loaders call the latency API (the others use a timer or `ctx.load`). */
export const API_PARTS = ['layout', 'page', 'outer', 'middle', 'inner', 'side'];

/** Most a server's heap in use may grow from after the warm-up to after a run of the same size: the leak signal. */
export const RSS_GROWTH_LIMIT = 0.15;
/**
 * Most its RSS may grow meanwhile. Looser: RSS also holds pages the allocator keeps after a peak
 * of concurrent renders (measured between 10 % and 18 % over runs whose heap in use moved under 2 %).
 */
export const RESIDENT_GROWTH_LIMIT = 0.25;

/**
 * @typedef {object} LoadServer
 * @property {string} root the built project
 * @property {RunningServer} server
 * @property {LatencyApi} api the latency API the loaders call
 * @property {() => Promise<void>} stop
 */

/**
 * Packs and installs astro-hoist into `env`, builds the `load` fixture and serves it.
 * @param {{ env?: EnvName, as?: string, packs?: string }} [options] as: work folder name;
 *   packs: where the tarballs go
 * @returns {Promise<LoadServer>}
 */
export async function startLoadServer({ env = 'astro7', as = 'load', packs = path.join(REPO_ROOT, '.e2e', 'packs-load') } = {}) {
  await installPackedAddon(env, await packAddon({ destination: packs }));
  const root = await prepareFixture(env, 'load', { as });
  await build(root);
  // The delays come from the loaders' `?delay=` (1-20 ms); this default only covers a bare call.
  const api = await startLatencyApi({ delayMs: 1 });
  try {
    // --expose-gc: memoryAfterGc() collects garbage before reading memory, so growth means memory
    // still reachable, not garbage V8 has not collected yet.
    const server = await serve(root, { env: { HOIST_API: api.url, NODE_OPTIONS: '--expose-gc' } });
    return {
      root,
      server,
      api,
      stop: async () => {
        await server.stop();
        await api.stop();
      },
    };
  } catch (error) {
    await api.stop();
    throw error;
  }
}

/**
 * What is wrong with the response for `id`: another request's id in it (`mixed`), or a part
 * missing or repeated (`problems`).
 * @param {string} id
 * @param {string} body
 * @returns {{ mixed: string[], problems: string[] }} mixed: the foreign ids seen
 */
export function checkResponse(id, body) {
  /** @type {Set<string>} */
  const foreign = new Set();
  /** @type {Record<string, number>} */
  const seen = {};
  for (const [, who, part] of body.matchAll(/\/load\/([^/"<\s]*)\/(\w+)/g)) {
    if (who !== id) foreign.add(who);
    else seen[part] = (seen[part] ?? 0) + 1;
  }
  /** @type {string[]} */
  const problems = [];
  for (const [part, times] of Object.entries(PARTS)) {
    if ((seen[part] ?? 0) !== times) problems.push(`${part} ${seen[part] ?? 0}x (expected ${times})`);
  }
  for (const part of Object.keys(seen)) {
    if (!(part in PARTS)) problems.push(`unexpected part ${part}`);
  }
  if (!body.includes(`<title>${id}</title>`)) problems.push('title without the id');
  return { mixed: [...foreign], problems };
}

/**
 * @typedef {object} LoadStats
 * @property {number} requests
 * @property {number} ms wall time of the whole run
 * @property {number} perSecond
 * @property {number} p50 latency in ms
 * @property {number} p99
 * @property {number} max
 * @property {number} ok 200 with exactly its own data
 * @property {number} mixed responses that carried another request's id
 * @property {number} serverErrors 5xx
 * @property {number} failed other statuses, incomplete bodies, network errors
 * @property {string[]} ids every id requested, in order
 * @property {string[]} samples up to 5 descriptions of what went wrong
 */

/**
 * Sends `requests` GETs of `/<random id>` with at most `concurrency` in flight, over a pool of
 * `concurrency` keep-alive connections, and checks every response.
 * @param {{ url: string, requests: number, concurrency: number, prefix?: string, timeoutMs?: number }} options
 *   prefix: starts every id (ids are unique within a run)
 * @returns {Promise<LoadStats>}
 */
export async function runLoad({ url, requests, concurrency, prefix = 'r', timeoutMs = 30_000 }) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency });
  const ids = Array.from({ length: requests }, (_, i) => `${prefix}${i.toString(36)}x${Math.random().toString(36).slice(2, 8)}`);
  /** @type {number[]} */
  const latencies = [];
  const stats = { ok: 0, mixed: 0, serverErrors: 0, failed: 0 };
  /** @type {string[]} */
  const samples = [];
  /** @param {string} what */
  const sample = (what) => {
    if (samples.length < 5) samples.push(what);
  };
  let next = 0;
  const started = performance.now();
  const worker = async () => {
    while (next < requests) {
      const id = ids[next++];
      const sent = performance.now();
      try {
        const { status, body } = await get(`${url}/${id}`, agent, timeoutMs);
        latencies.push(performance.now() - sent);
        if (status >= 500) {
          stats.serverErrors++;
          sample(`${id}: HTTP ${status} ${body.slice(0, 300)}`);
          continue;
        }
        if (status !== 200) {
          stats.failed++;
          sample(`${id}: HTTP ${status} ${body.slice(0, 300)}`);
          continue;
        }
        const { mixed, problems } = checkResponse(id, body);
        if (mixed.length > 0) {
          stats.mixed++;
          sample(`${id}: carries ${mixed.join(', ')}`);
        } else if (problems.length > 0) {
          stats.failed++;
          sample(`${id}: ${problems.join('; ')}`);
        } else {
          stats.ok++;
        }
      } catch (error) {
        latencies.push(performance.now() - sent);
        stats.failed++;
        sample(`${id}: ${/** @type {Error} */ (error).message}`);
      }
    }
  };
  try {
    await Promise.all(Array.from({ length: Math.min(concurrency, requests) }, worker));
  } finally {
    agent.destroy();
  }
  const ms = performance.now() - started;
  latencies.sort((a, b) => a - b);
  return {
    requests,
    ms,
    perSecond: (requests / ms) * 1000,
    p50: percentile(latencies, 0.5),
    p99: percentile(latencies, 0.99),
    max: latencies.at(-1) ?? 0,
    ...stats,
    ids,
    samples,
  };
}

/**
 * One GET with a whole-body read, over `agent`.
 * @param {string} url
 * @param {http.Agent} agent
 * @param {number} timeoutMs
 * @returns {Promise<{ status: number, body: string }>}
 */
function get(url, agent, timeoutMs) {
  return new Promise((resolve, reject) => {
    const request = http.get(url, { agent, timeout: timeoutMs }, (response) => {
      /** @type {Buffer[]} */
      const chunks = [];
      response.on('data', (chunk) => chunks.push(chunk));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
      response.on('error', reject);
    });
    request.on('timeout', () => request.destroy(new Error(`no response within ${timeoutMs} ms`)));
    request.on('error', reject);
  });
}

/**
 * @param {number[]} sorted ascending
 * @param {number} p 0..1
 */
export function percentile(sorted, p) {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.ceil(p * sorted.length) - 1)];
}

/**
 * Resident set size of a process in KiB (`VmRSS` in /proc/<pid>/status).
 * @param {number} pid
 * @returns {number}
 */
export function rssKiB(pid) {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const match = status.match(/^VmRSS:\s+(\d+)\s+kB$/m);
  if (!match) throw new Error(`no VmRSS in /proc/${pid}/status`);
  return Number(match[1]);
}

/**
 * The server's memory right after a full garbage collection (the fixture's `/memory.json?gc=1`
 * runs one when Node has `--expose-gc`, as startLoadServer starts it).
 * @param {RunningServer} server
 * @returns {Promise<{ rssKiB: number, heapUsed: number }>} heapUsed in bytes
 */
export async function memoryAfterGc(server) {
  const memory = JSON.parse(await fetchText(`${server.url}/memory.json?gc=1`));
  if (memory.collected !== true) throw new Error(`the server did not collect garbage: ${JSON.stringify(memory)}`);
  return { rssKiB: rssKiB(/** @type {number} */ (server.pid)), heapUsed: memory.heapUsed };
}

/**
 * CPU time (user + system) a process has used so far, in ms (/proc/<pid>/stat, 100 ticks per s).
 * @param {number} pid
 * @returns {number}
 */
export function cpuMs(pid) {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  // The command name (field 2) may hold spaces; the fields after its closing parenthesis do not.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10; // utime, stime: fields 14 and 15
}

/**
 * @param {string[]} argv
 * @returns {{ requests: number, concurrency: number, env: EnvName }}
 */
function parseArgs(argv) {
  const options = { requests: 5000, concurrency: 64, env: /** @type {EnvName} */ ('astro7') };
  for (let i = 0; i < argv.length; i++) {
    const [flag, value] = [argv[i], argv[i + 1]];
    if (flag === '--requests' || flag === '--concurrency') {
      const n = Number(value);
      if (!Number.isInteger(n) || n < 1) throw new Error(`${flag} needs a positive integer, got ${value}`);
      options[flag === '--requests' ? 'requests' : 'concurrency'] = n;
      i++;
    } else if (flag === '--env') {
      if (value !== 'astro7' && value !== 'astro5') throw new Error(`--env is astro7 or astro5, got ${value}`);
      options.env = value;
      i++;
    } else {
      throw new Error(`unknown argument ${flag} (usage: stress.js [--requests N] [--concurrency N] [--env astro7|astro5])`);
    }
  }
  return options;
}

/** @param {LoadStats} stats */
function describeRun(stats) {
  return (
    `${stats.requests} requests in ${(stats.ms / 1000).toFixed(1)} s: ${stats.perSecond.toFixed(0)} requests/s, ` +
    `latency p50 ${stats.p50.toFixed(1)} ms, p99 ${stats.p99.toFixed(1)} ms, max ${stats.max.toFixed(1)} ms; ` +
    `mixed-up ${stats.mixed}, 5xx ${stats.serverErrors}, other failures ${stats.failed}`
  );
}

async function main() {
  const { requests, concurrency, env } = parseArgs(process.argv.slice(2));
  console.log(`stress: building and serving the load fixture (${env})...`);
  const load = await startLoadServer({ env, as: 'load-stress', packs: path.join(REPO_ROOT, '.e2e', 'packs-stress') });
  let failed = false;
  try {
    const pid = /** @type {number} */ (load.server.pid);
    const start = await memoryAfterGc(load.server);
    const warm = await runLoad({ url: load.server.url, requests, concurrency, prefix: 'w' });
    const rssWarmRaw = rssKiB(pid);
    const warmed = await memoryAfterGc(load.server);
    console.log(`warm-up: ${describeRun(warm)}`);
    load.api.reset();
    const cpuBefore = cpuMs(pid);
    const run = await runLoad({ url: load.server.url, requests, concurrency, prefix: 'r' });
    const cpu = cpuMs(pid) - cpuBefore;
    const rssAfterRaw = rssKiB(pid);
    const ran = await memoryAfterGc(load.server);
    console.log(`run:     ${describeRun(run)}`);
    console.log(
      `server CPU during the run: ${(cpu / 1000).toFixed(1)} s, ${(cpu / requests).toFixed(2)} ms per request ` +
        `(${((cpu / run.ms) * 100).toFixed(0)} % of one core; the machine has 2)`,
    );
    const growth = ran.rssKiB / warmed.rssKiB - 1;
    const mib = (/** @type {number} */ kib) => `${(kib / 1024).toFixed(1)} MiB`;
    const percent = (/** @type {number} */ ratio) => `${ratio >= 0 ? '+' : ''}${(ratio * 100).toFixed(1)} %`;
    console.log(
      `server RSS after a full GC: ${mib(start.rssKiB)} at start, ${mib(warmed.rssKiB)} after the warm-up, ` +
        `${mib(ran.rssKiB)} after the run (${percent(growth)}); before the GC: ${mib(rssWarmRaw)} and ${mib(rssAfterRaw)} ` +
        `(${percent(rssAfterRaw / rssWarmRaw - 1)})`,
    );
    console.log(
      `server heap in use after a full GC: ${mib(start.heapUsed / 1024)} at start, ${mib(warmed.heapUsed / 1024)} after the warm-up, ` +
        `${mib(ran.heapUsed / 1024)} after the run (${percent(ran.heapUsed / warmed.heapUsed - 1)})`,
    );
    // Each loader that calls the API did so exactly once per request of the run.
    let calls = 0;
    let wrong = 0;
    for (const id of run.ids) {
      for (const part of API_PARTS) {
        const count = load.api.count(`/load/${id}/${part}`);
        calls += count;
        if (count !== 1) wrong++;
      }
    }
    console.log(`latency API: ${calls} calls for ${run.ids.length} requests, ${wrong} (id, part) pairs not called exactly once`);
    for (const what of [...warm.samples, ...run.samples]) console.log(`  ${what}`);
    failed = warm.mixed + run.mixed + warm.serverErrors + run.serverErrors + warm.failed + run.failed + wrong > 0 || growth > RESIDENT_GROWTH_LIMIT;
    console.log(failed ? 'stress: FAILED' : 'stress: ok');
  } finally {
    await load.stop();
  }
  process.exitCode = failed ? 1 : 0;
}

if (process.argv[1] && pathToFileURL(path.resolve(process.argv[1])).href === import.meta.url) {
  main().catch((error) => {
    console.error(error);
    process.exit(1);
  });
}

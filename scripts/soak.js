#!/usr/bin/env node
// Soak of the per-render loader state: the e2e fixture `renders` (rewrites in pages and in
// middleware, i18n fallbacks, error pages after a throw, an empty 404 or a rewrite to /404,
// guards, middleware mode) built with Astro 7 and served twice on 127.0.0.1 — once as usual and
// once with one `locals` object shared by every request — then hit with many requests for random
// ids at a fixed concurrency, a fifth of them asking one of the page's loaders to fail. Every
// response must carry its own id and no other one, in the part of the page its scenario renders.
//
//   node scripts/soak.js [--requests 20000] [--concurrency 32] [--env astro7] [--plain]
//
// --plain soaks the fixture's plain-Astro twin instead (astro-hoist removed, loaders inlined), to
// tell the servers' own memory behaviour from astro-hoist's.
//
// Prints requests/s, p50/p99 latency, each server's RSS and heap right after a full GC after a
// warm-up (a quarter of the run) and after each quarter of the run, mixed-up or wrong responses,
// and whether any server logged an unhandled rejection; exits 1 on any mix-up, wrong answer or
// unhandled rejection, heap growth over 15 % (+2 MiB), or RSS growth over 15 % in the second
// half of the run. `npm run soak` runs it; it is not part of `npm test` (about two minutes).
import http from 'node:http';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { REPO_ROOT, build, installPackedAddon, packAddon, plainVariant, prepareFixture, serve, startLatencyApi } from '../harness/harness.js';
import { RSS_GROWTH_LIMIT, memoryAfterGc, percentile } from './stress.js';

/** @typedef {import('../harness/harness.js').RunningServer} RunningServer */

const PROCESS_TROUBLE = /unhandled|ERR_UNHANDLED_REJECTION|MaxListenersExceeded/i;
/** An id as this script makes them; any such token in a response names the request it belongs to. */
const ID = /\bs[0-9a-z]+x[0-9a-z]{6}\b/g;

/**
 * One scenario: the URL for an id (and whether a loader is asked to fail), and what the answer
 * must hold.
 * @typedef {object} Scenario
 * @property {string} name
 * @property {'plain' | 'shared'} server
 * @property {(id: string, fail: boolean) => { url: string, headers?: Record<string, string> }} request
 * @property {(id: string, fail: boolean, status: number, body: string) => string[]} check problems, none when right
 */

/** @type {Scenario[]} */
const SCENARIOS = [
  {
    name: 'post',
    server: 'plain',
    request: (id, fail) => ({ url: `/posts/${id}${fail ? '?fail=author' : ''}` }),
    check: (id, fail, status, body) =>
      expect(status === 200, `status ${status}`)
        .concat(expect(body.includes(`data-params-slug="${id}"`), 'no own slug'))
        .concat(expect(body.includes(`data-loaded="/post/${id}"`), 'no own post'))
        .concat(expect(body.includes(fail ? 'data-author="failed"' : `data-author="/author/${id}"`), 'author')),
  },
  {
    name: 'rewrite in middleware',
    server: 'plain',
    request: (id) => ({ url: `/about?rewrite-to=${id}&id=${id}` }),
    check: (id, _fail, status, body) =>
      expect(status === 200, `status ${status}`).concat(expect(body.includes(`data-loaded="/post/${id}"`), 'not the rewritten post')),
  },
  {
    name: 'i18n fallback',
    server: 'plain',
    request: (id) => ({ url: `/fr/about?id=${id}` }),
    check: (_id, _fail, status, body) => expect(status < 500, `status ${status}`).concat(expect(body.includes('data-greeting='), 'no greeting')),
  },
  {
    name: '500 page after a throw',
    server: 'plain',
    request: (id) => ({ url: `/throws?id=${id}` }),
    check: (id, _fail, status, body) =>
      expect(status === 500, `status ${status}`).concat(expect(body.includes(`data-error-detail="/error-detail/throws/${id}"`), 'not its own error detail')),
  },
  {
    name: 'rewrite to /404',
    server: 'plain',
    request: (id) => ({ url: `/posts/gone?id=${id}` }),
    check: (_id, _fail, status, body) => expect(status === 404, `status ${status}`).concat(expect(body.includes('data-not-found='), 'no 404 page')),
  },
  {
    name: 'empty 404',
    server: 'plain',
    request: (id) => ({ url: `/empty-404?id=${id}` }),
    check: (id, _fail, status, body) =>
      expect(status === 404, `status ${status}`).concat(expect(body.includes(`data-not-found="/notfound/empty-404/${id}"`), 'not its own 404 page')),
  },
  {
    name: 'guard',
    server: 'plain',
    request: (id) => ({ url: '/guarded', headers: { cookie: `user=${id}` } }),
    check: (id, _fail, status, body) => expect(status === 200, `status ${status}`).concat(expect(body.includes(`data-secret="/secret/${id}"`), 'not its own secret')),
  },
  {
    name: 'shared locals',
    server: 'shared',
    request: (id, fail) => ({ url: `/mine?id=${id}${fail ? '&fail=mine' : ''}` }),
    check: (id, fail, status, body) =>
      expect(status === 200, `status ${status}`).concat(expect(body.includes(fail ? 'data-mine="failed"' : `data-mine="/mine/${id}"`), 'not its own data')),
  },
  {
    name: 'post, shared locals',
    server: 'shared',
    request: (id, fail) => ({ url: `/posts/${id}${fail ? '?fail=post' : ''}` }),
    check: (id, fail, status, body) =>
      expect(status === 200, `status ${status}`).concat(expect(body.includes(fail ? 'data-loaded="failed"' : `data-loaded="/post/${id}"`), 'post')),
  },
];

/**
 * @param {boolean} ok
 * @param {string} problem
 * @returns {string[]}
 */
function expect(ok, problem) {
  return ok ? [] : [problem];
}

/**
 * @param {string[]} argv
 * @returns {{ requests: number, concurrency: number, env: 'astro7' | 'astro5', plain: boolean }}
 */
function parseArgs(argv) {
  const value = (/** @type {string} */ name, /** @type {string} */ fallback) => {
    const at = argv.indexOf(name);
    return at >= 0 ? (argv[at + 1] ?? fallback) : fallback;
  };
  const env = value('--env', 'astro7');
  if (env !== 'astro7' && env !== 'astro5') throw new Error(`--env: astro7 or astro5, got ${env}`);
  return { requests: Number(value('--requests', '20000')), concurrency: Number(value('--concurrency', '32')), env, plain: argv.includes('--plain') };
}

/**
 * Many requests, `concurrency` at a time, each a random scenario for a fresh id.
 * @param {Record<'plain' | 'shared', RunningServer>} servers
 * @param {number} requests
 * @param {number} concurrency
 */
async function soak(servers, requests, concurrency) {
  const agents = { plain: new http.Agent({ keepAlive: true, maxSockets: concurrency }), shared: new http.Agent({ keepAlive: true, maxSockets: concurrency }) };
  /** @type {number[]} */
  const latencies = [];
  const stats = { ok: 0, mixed: 0, wrong: 0, failed: 0 };
  /** @type {Record<string, number>} */
  const byScenario = {};
  /** @type {string[]} */
  const samples = [];
  let next = 0;
  const started = performance.now();
  const worker = async () => {
    while (next < requests) {
      const n = next++;
      const id = `s${n.toString(36)}x${Math.random().toString(36).slice(2, 8).padEnd(6, '0')}`;
      const scenario = SCENARIOS[Math.floor(Math.random() * SCENARIOS.length)];
      const fail = Math.random() < 0.2;
      const { url, headers } = scenario.request(id, fail);
      byScenario[scenario.name] = (byScenario[scenario.name] ?? 0) + 1;
      const sent = performance.now();
      try {
        const { status, body } = await get(`${servers[scenario.server].url}${url}`, agents[scenario.server], headers);
        latencies.push(performance.now() - sent);
        const foreign = [...new Set(body.match(ID) ?? [])].filter((token) => token !== id);
        const problems = scenario.check(id, fail, status, body);
        if (foreign.length > 0) {
          stats.mixed++;
          if (samples.length < 5) samples.push(`${scenario.name} ${url}: carries ${foreign.join(', ')}`);
        } else if (problems.length > 0) {
          stats.wrong++;
          if (samples.length < 5) samples.push(`${scenario.name} ${url}: ${problems.join('; ')}: ${body.slice(0, 300)}`);
        } else {
          stats.ok++;
        }
      } catch (error) {
        stats.failed++;
        if (samples.length < 5) samples.push(`${scenario.name} ${url}: ${/** @type {Error} */ (error).message}`);
      }
    }
  };
  try {
    await Promise.all(Array.from({ length: Math.min(concurrency, requests) }, worker));
  } finally {
    agents.plain.destroy();
    agents.shared.destroy();
  }
  const ms = performance.now() - started;
  latencies.sort((a, b) => a - b);
  return { requests, ms, perSecond: (requests / ms) * 1000, p50: percentile(latencies, 0.5), p99: percentile(latencies, 0.99), ...stats, byScenario, samples };
}

/**
 * @param {string} url
 * @param {http.Agent} agent
 * @param {Record<string, string>} [headers]
 * @returns {Promise<{ status: number, body: string }>}
 */
function get(url, agent, headers = {}) {
  return new Promise((resolve, reject) => {
    const request = http.get(url, { agent, headers, timeout: 30_000 }, (response) => {
      /** @type {Buffer[]} */
      const chunks = [];
      response.on('data', (chunk) => chunks.push(chunk));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
      response.on('error', reject);
    });
    request.on('timeout', () => request.destroy(new Error('no response within 30 s')));
    request.on('error', reject);
  });
}

async function main() {
  const { requests, concurrency, env, plain } = parseArgs(process.argv.slice(2));
  await installPackedAddon(env, await packAddon({ destination: path.join(REPO_ROOT, '.e2e', 'packs-soak') }));
  const api = await startLatencyApi({ delayMs: 5 });
  const root = plain
    ? await prepareFixture(env, 'renders', { as: 'renders-soak-plain', files: plainVariant('renders') })
    : await prepareFixture(env, 'renders', { as: 'renders-soak' });
  await build(root, { env: { HOIST_API: api.url } });
  const options = { HOIST_API: api.url, NODE_OPTIONS: '--expose-gc' };
  /** @type {Record<'plain' | 'shared', RunningServer>} */
  const servers = { plain: await serve(root, { env: options }), shared: await serve(root, { env: { ...options, HOIST_SHARED_LOCALS: '1' } }) };
  const mib = (/** @type {number} */ kib) => `${(kib / 1024).toFixed(1)} MiB`;
  let failed = false;
  try {
    // Memory after a full GC at the end of the warm-up and of each quarter of the run: the heap
    // must stay flat, and RSS must settle (the allocator keeps its high-water mark, which grows
    // for a while with any server, plain Astro's too).
    const warm = await soak(servers, Math.max(1, Math.floor(requests / 4)), concurrency);
    /** @type {Record<'plain' | 'shared', { rssKiB: number, heapUsed: number }[]>} */
    const memory = { plain: [await memoryAfterGc(servers.plain)], shared: [await memoryAfterGc(servers.shared)] };
    /** @type {Awaited<ReturnType<typeof soak>>[]} */
    const quarters = [];
    for (let q = 0; q < 4; q++) {
      quarters.push(await soak(servers, Math.floor(requests / 4), concurrency));
      memory.plain.push(await memoryAfterGc(servers.plain));
      memory.shared.push(await memoryAfterGc(servers.shared));
    }
    const sum = (/** @type {'ms' | 'ok' | 'mixed' | 'wrong' | 'failed' | 'requests'} */ key) => quarters.reduce((total, q) => total + q[key], 0);
    const run = {
      requests: sum('requests'),
      ms: sum('ms'),
      ok: sum('ok'),
      mixed: sum('mixed'),
      wrong: sum('wrong'),
      failed: sum('failed'),
      p50: Math.max(...quarters.map((q) => q.p50)),
      p99: Math.max(...quarters.map((q) => q.p99)),
      samples: quarters.flatMap((q) => q.samples),
      byScenario: /** @type {Record<string, number>} */ ({}),
    };
    for (const q of quarters) for (const [name, n] of Object.entries(q.byScenario)) run.byScenario[name] = (run.byScenario[name] ?? 0) + n;
    console.log(
      `soak (${env}${plain ? ', plain-Astro twin' : ''}): ${run.requests} requests at concurrency ${concurrency} in ${(run.ms / 1000).toFixed(1)} s ` +
        `(${((run.requests / run.ms) * 1000).toFixed(0)} req/s, worst quarter p50 ${run.p50.toFixed(1)} ms, p99 ${run.p99.toFixed(1)} ms), after a warm-up of ${warm.requests}`,
    );
    console.log(`  scenarios: ${Object.entries(run.byScenario).map(([name, n]) => `${name} ${n}`).join(', ')}`);
    console.log(`  own data: ${run.ok + warm.ok}; another request's data: ${run.mixed + warm.mixed}; wrong answers: ${run.wrong + warm.wrong}; failed requests: ${run.failed + warm.failed}`);
    for (const sample of [...warm.samples, ...run.samples]) console.log(`    ${sample}`);
    for (const name of /** @type {const} */ (['plain', 'shared'])) {
      const rss = memory[name].map((m) => m.rssKiB);
      const heap = memory[name].map((m) => m.heapUsed / 2 ** 20);
      // Settled: the second half of the run grows RSS by no more than the limit.
      const growth = rss[4] / rss[2] - 1;
      console.log(
        `  server (${name === 'plain' ? 'own locals' : 'one shared locals'}): RSS after a full GC, after the warm-up and each quarter: ` +
          `${rss.map(mib).join(', ')} (second half ${(growth * 100).toFixed(1)} %); heap ${heap.map((h) => h.toFixed(1)).join(', ')} MiB`,
      );
      const trouble = servers[name].output().match(PROCESS_TROUBLE);
      console.log(`  unhandled rejections logged: ${trouble ? `yes (${trouble[0]})` : 'none'}`);
      failed ||= growth > RSS_GROWTH_LIMIT || heap[4] > heap[0] * (1 + RSS_GROWTH_LIMIT) + 2 || trouble !== null;
    }
    failed ||= run.mixed + warm.mixed + run.wrong + warm.wrong + run.failed + warm.failed > 0;
  } finally {
    await servers.plain.stop();
    await servers.shared.stop();
    await api.stop();
  }
  console.log(failed ? 'soak: FAILED' : 'soak: passed');
  process.exit(failed ? 1 : 0);
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  main().catch((error) => {
    console.error(error);
    process.exit(1);
  });
}

// Sections 1 and 3: page latency against nesting depth, and throughput under load, on generated
// sites served by the e2e harness (Astro 7 + @astrojs/node on Node 22, 127.0.0.1, port 0).
//
// Section 1 requests each depth page from every variant in turn (order rotated every round),
// one request at a time, and reports median wall times as a ratio to one loader's latency: a
// request straight to the latency API, measured in the same rounds. A waterfall of D loaders
// tends to D; a page that starts every loader at once tends to 1 (plus rendering).
//
// Section 3 runs autocannon (16 connections, fixed duration) against the production builds of
// plain Astro and astro-hoist, alternating cases every round, with the latency API in a process
// of its own.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import autocannon from 'autocannon';
import { build, dev, fetchResponse, serve, startLatencyApi } from '../harness/harness.js';
import { spawnManaged, stripAnsi, waitForOutput } from '../harness/child-process.js';
import { fixed, median, ratio, rotate } from './lib/report.js';
import { DEPTHS, THROUGHPUT_DELAY_MS, THROUGHPUT_LOADERS, siteRoot, writePagesSite } from './lib/sites.js';
import { WORK_DIR, installedVersion } from './lib/work.js';

/**
 * @typedef {import('./lib/report.js').Section} Section
 * @typedef {import('./lib/report.js').Row} Row
 * @typedef {import('../harness/harness.js').RunningServer} RunningServer
 * @typedef {import('./lib/sites.js').Variant} Variant
 * @typedef {{ env: import('../harness/harness.js').EnvInfo, quick: boolean, progress: (message: string) => void }} Context
 */

const LOADER_DELAY_MS = 20;

/**
 * @typedef {object} Target one server of one variant
 * @property {string} id
 * @property {string} label
 * @property {string} url
 * @property {string} [note]
 */

/**
 * The first error line of a server's output, for "why it failed".
 * @param {string} output
 */
function firstError(output) {
  const line = stripAnsi(output)
    .split('\n')
    .find((text) => /\b\w*Error\b:/.test(text));
  return line ? line.replace(/^.*?(\w*Error\b:)/, '$1').trim().slice(0, 160) : '';
}

/**
 * Whether a page's HTML shows every level's loader data.
 * @param {string} html
 * @param {string[]} labels
 */
function showsAll(html, labels) {
  return labels.every((label) => html.includes(`<p>${label}</p>`));
}

/**
 * Checks that a server answers every page with every level's data.
 * @param {string} url
 * @param {{ path: string, labels: string[] }[]} pages
 * @param {RunningServer} server
 * @returns {Promise<string | null>} why it does not, or null
 */
async function brokenPages(url, pages, server) {
  /** @type {string[]} */
  const broken = [];
  for (const page of pages) {
    try {
      const response = await fetchResponse(`${url}${page.path}`, { timeoutMs: 60_000 });
      if (response.status !== 200) broken.push(`${page.path}: HTTP ${response.status}`);
      else if (!showsAll(response.text, page.labels)) broken.push(`${page.path}: data missing from the HTML`);
    } catch (error) {
      broken.push(`${page.path}: ${/** @type {Error} */ (error).message.replace(/^GET \S+: /, '')}`);
    }
  }
  if (broken.length === 0) return null;
  const error = firstError(server.output());
  return `${broken.length}/${pages.length} pages fail (${broken[0]}${error ? `; server: ${error}` : ''})`;
}

/**
 * @param {Context} ctx
 * @returns {Promise<{ latency: Section, throughput: Section }>}
 */
export async function runPages(ctx) {
  const { progress, quick } = ctx;
  const rounds = quick ? 5 : 15;
  const warmup = quick ? 2 : 4;
  /** @type {RunningServer[]} */
  const servers = [];
  const api = await startLatencyApi({ delayMs: LOADER_DELAY_MS });
  const latencyStarted = performance.now();
  try {
    /** @type {Record<Variant, string>} */
    const roots = { plain: siteRoot('bench-pages-plain'), hoist: siteRoot('bench-pages-hoist'), autoload: siteRoot('bench-pages-autoload') };
    /** @type {{ path: string, shape: 'nested' | 'slots', depth: number, labels: string[] }[]} */
    let pages = [];
    for (const variant of /** @type {Variant[]} */ (['plain', 'hoist', 'autoload'])) {
      pages = writePagesSite(roots[variant], variant).pages;
    }
    // The prior art goes into its site's own node_modules (a copy: Vite resolves symlinks to
    // their real path, outside the project, where `astro` is not installed).
    fs.cpSync(path.join(WORK_DIR, 'node_modules', 'astro-auto-load'), path.join(roots.autoload, 'node_modules', 'astro-auto-load'), {
      recursive: true,
    });
    const autoloadVersion = installedVersion('astro-auto-load');

    for (const variant of /** @type {Variant[]} */ (['plain', 'hoist'])) {
      const { ms } = await build(roots[variant], { env: { HOIST_API: api.url } });
      progress(`built ${path.basename(roots[variant])} in ${(ms / 1000).toFixed(1)} s`);
    }
    // astro-auto-load in production: build it, serve it, and check the pages.
    // autoloadBuild: why it cannot be measured in production ('' when it can); short: for the table.
    let autoloadBuild = '';
    let autoloadBuildShort = '';
    try {
      await build(roots.autoload, { env: { HOIST_API: api.url } });
      const server = await serve(roots.autoload, { env: { HOIST_API: api.url } });
      const why = await brokenPages(server.url, pages, server);
      await server.stop();
      if (why) {
        autoloadBuild = `its build succeeds but the built server breaks: ${why}`;
        autoloadBuildShort = `its built server fails ${why.split(' ')[0]} pages`;
      }
    } catch (error) {
      const message = /** @type {Error} */ (error).message;
      autoloadBuild = `its build fails: ${firstError(message) || message.split('\n')[0]}`;
      autoloadBuildShort = 'its build fails';
    }
    progress(`astro-auto-load ${autoloadVersion} production build: ${autoloadBuild || 'works'}`);

    /** @type {Target[]} */
    const targets = [];
    for (const variant of /** @type {Variant[]} */ (['plain', 'hoist'])) {
      const server = await serve(roots[variant], { env: { HOIST_API: api.url } });
      servers.push(server);
      targets.push({ id: `${variant}-build`, label: `${variant === 'plain' ? 'plain Astro' : 'astro-hoist'}, build`, url: server.url });
    }
    if (!autoloadBuild) {
      const server = await serve(roots.autoload, { env: { HOIST_API: api.url } });
      servers.push(server);
      targets.push({ id: 'autoload-build', label: `astro-auto-load ${autoloadVersion}, build`, url: server.url });
    }
    /** @type {string} */
    let autoloadDev = '';
    for (const variant of /** @type {Variant[]} */ (['plain', 'hoist', 'autoload'])) {
      /** @type {RunningServer} */
      let server;
      try {
        server = await dev(roots[variant], { env: { HOIST_API: api.url } });
      } catch (error) {
        if (variant !== 'autoload') throw error;
        autoloadDev = `astro dev does not start: ${firstError(/** @type {Error} */ (error).message)}`;
        continue;
      }
      servers.push(server);
      const label = variant === 'plain' ? 'plain Astro' : variant === 'hoist' ? 'astro-hoist' : `astro-auto-load ${autoloadVersion}`;
      /** @type {Target} */
      const target = { id: `${variant}-dev`, label: `${label}, astro dev`, url: server.url };
      if (variant === 'autoload') {
        // The first request of each page compiles it; astro-auto-load discovers a tree from the
        // second on (it reads Vite's module graph), so check after one round.
        await brokenPages(server.url, pages, server);
        const why = await brokenPages(server.url, pages, server);
        if (why) {
          autoloadDev = `fails in astro dev too: ${why}`;
          continue;
        }
        target.note = autoloadBuild ? `dev only: ${autoloadBuildShort}` : '';
      }
      targets.push(target);
    }
    progress(`serving ${targets.map((target) => target.id).join(', ')}; one loader = ${LOADER_DELAY_MS} ms`);

    /** @type {Row[]} */
    const latencyRows = [];
    for (const page of pages) {
      // Warm-up: compiles dev pages, fills connection pools; also checks every answer.
      /** @type {Set<string>} */
      const wrong = new Set();
      for (let i = 0; i < warmup; i++) {
        for (const target of targets) {
          try {
            const response = await fetchResponse(`${target.url}${page.path}`, { timeoutMs: 60_000 });
            if (response.status !== 200 || !showsAll(response.text, page.labels)) wrong.add(target.id);
          } catch {
            wrong.add(target.id);
          }
        }
      }
      const live = targets.filter((target) => !wrong.has(target.id));
      /** @type {Map<string, number[]>} */
      const ms = new Map([['direct', []], ...live.map((target) => /** @type {[string, number[]]} */ ([target.id, []]))]);
      /** @type {Map<string, number[]>} */
      const calls = new Map(live.map((target) => [target.id, []]));
      /** @type {Map<string, number>} failed timed requests (error or non-200) per variant */
      const failed = new Map();
      const order = ['direct', ...live.map((target) => target.id)];
      for (let round = 0; round < rounds; round++) {
        for (const id of rotate(order, round)) {
          api.reset();
          const url = id === 'direct' ? `${api.url}/direct/one` : `${live.find((target) => target.id === id)?.url}${page.path}`;
          try {
            const response = await fetchResponse(url);
            if (response.status !== 200) throw new Error(`HTTP ${response.status}`);
            ms.get(id)?.push(response.ms);
            calls.get(id)?.push(api.calls.length);
          } catch (error) {
            if (id === 'direct') throw error;
            failed.set(id, (failed.get(id) ?? 0) + 1);
          }
        }
      }
      const one = median(ms.get('direct') ?? []);
      const pageCase = `${page.shape}, depth ${page.depth}`;
      for (const target of targets) {
        if (wrong.has(target.id)) {
          latencyRows.push({ case: pageCase, variant: target.label, value: '–', unit: 'ms', ratio: '–', baseline: 'one loader', note: 'wrong HTML, not timed' });
          continue;
        }
        const value = median(ms.get(target.id) ?? []);
        const perRequest = median(calls.get(target.id) ?? []);
        const notes = [];
        if (target.note) notes.push(target.note);
        if (perRequest !== page.depth) notes.push(`${perRequest} API calls per request for ${page.depth} loaders`);
        if (failed.get(target.id)) notes.push(`${failed.get(target.id)} of ${rounds} requests failed, not timed`);
        latencyRows.push({
          case: pageCase,
          variant: target.label,
          value: fixed(value),
          unit: 'ms',
          ratio: ratio(value, one),
          baseline: `one loader (${fixed(one)} ms)`,
          note: notes.join('; '),
        });
      }
      progress(`${page.path}: ${latencyRows.slice(-targets.length).map((row) => `${row.variant} ${row.value} ms`).join(', ')}`);
    }
    if (autoloadDev) {
      latencyRows.push({ case: 'every page', variant: `astro-auto-load ${autoloadVersion}`, value: '–', unit: 'ms', ratio: '–', baseline: '', note: `not measured: ${autoloadDev}` });
    }

    /** @type {Section} */
    const latency = {
      id: '1',
      title: 'Page latency against nesting depth',
      setup:
        `Generated pages (bench/lib/sites.js): \`nested\` is page > N1 > N2 > ... > ND, each component importing the next; ` +
        `\`slots\` is a page composing \`<S1><S2>...<SD/></S2></S1>\`. Every component's loader fetches its own endpoint of a local ` +
        `HTTP API that answers after ${LOADER_DELAY_MS} ms. Variants: plain Astro (each component awaits its loader in its frontmatter, ` +
        'via examples/site/baseline/plain-loaders.mjs, as `npm run demo` does), astro-hoist, and astro-auto-load ' +
        `${autoloadVersion} (prior art). Production builds run on @astrojs/node (standalone handler); \`astro dev\` runs the same sources. ` +
        `Median of ${rounds} sequential requests per variant after ${warmup} warm-up rounds, all variants and one direct API request ` +
        'interleaved in each round (order rotated). Ratio: median page time / median time of one direct API request (one loader); ' +
        'the limit for a page that starts all its loaders at once is 1.0 plus rendering. ' +
        `astro-auto-load: ${autoloadBuild ? `${autoloadBuild}, so it is measured in \`astro dev\` only` : 'its production build works and is measured too'}.`,
      rows: latencyRows,
      leavesOut: [
        'Concurrency: one request at a time (section 3 measures load).',
        'Network latency: the API and the servers are on 127.0.0.1; loaders wait on timers, not on a database.',
        'Time to first byte: the times are complete responses (headers and whole body).',
        `The first ${warmup} requests per page and variant (Vite compiles dev pages on first request).`,
        'Conditional children and speculation (see `npm run demo`), and loaders that cannot be hoisted.',
      ],
      seconds: 0,
    };
    latency.seconds = (performance.now() - latencyStarted) / 1000;

    // Section 3: dev servers are no longer needed; stop everything and serve the builds again
    // against an API in its own process.
    await Promise.all(servers.splice(0).map((server) => server.stop()));
    const throughput = await measureThroughput(ctx, roots);
    return { latency, throughput };
  } finally {
    await Promise.all(servers.map((server) => server.stop()));
    await api.stop();
  }
}

/**
 * @param {Context} ctx
 * @param {Record<Variant, string>} roots
 * @returns {Promise<Section>}
 */
async function measureThroughput({ env, progress, quick }, roots) {
  const started = performance.now();
  const duration = quick ? 2 : 5;
  const rounds = quick ? 1 : 5;
  const connections = 16;
  const apiProcess = spawnManaged(process.execPath, [new URL('./api-process.js', import.meta.url).pathname, '1'], {
    cwd: path.dirname(new URL(import.meta.url).pathname),
    env: process.env,
    label: 'bench latency API',
  });
  /** @type {RunningServer[]} */
  const servers = [];
  try {
    const apiUrl = (await waitForOutput(apiProcess, /BENCH_API (\S+)/, 10_000))[1];
    /** @type {Record<string, string>} */
    const urls = {};
    for (const variant of /** @type {Variant[]} */ (['plain', 'hoist'])) {
      const server = await serve(roots[variant], { env: { HOIST_API: apiUrl } });
      servers.push(server);
      urls[variant] = server.url;
    }
    const cases = [
      { page: '/tp-loaders', label: `page with ${THROUGHPUT_LOADERS} loaders (${THROUGHPUT_DELAY_MS} ms each)` },
      { page: '/tp-empty', label: 'page without loaders' },
    ];
    /** @type {{ page: string, variant: Variant }[]} */
    const runs = cases.flatMap((c) => /** @type {Variant[]} */ (['plain', 'hoist']).map((variant) => ({ page: c.page, variant })));
    for (const one of runs) {
      const response = await fetchResponse(`${urls[one.variant]}${one.page}`);
      if (response.status !== 200) throw new Error(`${one.variant} ${one.page}: HTTP ${response.status}`);
    }
    /** @param {string} url @param {number} seconds */
    const cannon = (url, seconds) => autocannon({ url, connections, duration: seconds });
    // Warm-up: JIT, connection pools.
    for (const one of runs) await cannon(`${urls[one.variant]}${one.page}`, 1);

    /** @type {Map<string, { rps: number[], p50: number[], failures: number }>} */
    const results = new Map(runs.map((one) => [`${one.variant} ${one.page}`, { rps: [], p50: [], failures: 0 }]));
    for (let round = 0; round < rounds; round++) {
      for (const one of rotate(runs, round)) {
        const result = await cannon(`${urls[one.variant]}${one.page}`, duration);
        const entry = /** @type {{ rps: number[], p50: number[], failures: number }} */ (results.get(`${one.variant} ${one.page}`));
        entry.rps.push(result.requests.total / result.duration);
        entry.p50.push(result.latency.p50);
        entry.failures += result.errors + result.non2xx + result.timeouts;
        progress(`throughput ${one.variant} ${one.page}: ${(result.requests.total / result.duration).toFixed(0)} req/s, p50 ${result.latency.p50} ms`);
      }
    }
    /** @type {Row[]} */
    const rows = [];
    for (const c of cases) {
      const base = /** @type {{ rps: number[], p50: number[], failures: number }} */ (results.get(`plain ${c.page}`));
      const baseRps = median(base.rps);
      for (const variant of /** @type {Variant[]} */ (['plain', 'hoist'])) {
        const entry = /** @type {{ rps: number[], p50: number[], failures: number }} */ (results.get(`${variant} ${c.page}`));
        const rps = median(entry.rps);
        const notes = [`p50 latency ${fixed(median(entry.p50), 0)} ms`];
        if (entry.failures) notes.push(`${entry.failures} failed requests`);
        rows.push({
          case: c.label,
          variant: variant === 'plain' ? 'plain Astro, build' : 'astro-hoist, build',
          value: fixed(rps, 0),
          unit: 'req/s',
          ratio: ratio(rps, baseRps),
          baseline: 'plain Astro',
          note: notes.join('; '),
        });
      }
    }
    return {
      id: '3',
      title: 'Throughput',
      setup:
        `autocannon, ${connections} connections, ${duration} s per run, ${rounds} runs per case after a 1 s warm-up, cases alternating ` +
        'and rotated every round; requests per second = completed requests / duration, median over runs. One server process each ' +
        `(production build, Node ${env.nodeVersion}), the latency API in its own process, autocannon in the bench process, all on ` +
        `127.0.0.1 of this ${os.availableParallelism()}-core machine, so the three compete for the cores. \`/tp-loaders\` renders ${THROUGHPUT_LOADERS} sibling components whose ` +
        `loaders each fetch an endpoint answering after ${THROUGHPUT_DELAY_MS} ms; \`/tp-empty\` renders ${THROUGHPUT_LOADERS} components ` +
        'without loaders. "Without the integration" is the plain-Astro baseline of section 1.',
      rows,
      leavesOut: [
        'Waterfalls: the loaders are siblings, which plain Astro already runs concurrently, so this isolates the cost of the ' +
          'integration (middleware, request state, batch, Server-Timing) rather than its gain (section 1).',
        'Multiple server processes or a cluster; HTTP/2; compression; a reverse proxy.',
        'Memory use under load.',
      ],
      seconds: (performance.now() - started) / 1000,
    };
  } finally {
    await Promise.all(servers.map((server) => server.stop()));
    await apiProcess.stop();
  }
}

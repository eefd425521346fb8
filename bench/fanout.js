// Section 2: fan-out. What the astro-hoist runtime (js/runtime.js) costs per loader, compared
// with a bare `Promise.all` of the same loader functions: a tinybench micro-benchmark with fake
// Astro objects, run in a child process on the Node that runs Astro 7.
//
// One "request" is 100 loaders (resolved promises, so only the orchestration is timed) read by a
// tree of 20 components, 5 loaders each. The runtime variants do what a request does: create the
// request state on a fresh `locals`, `__startBatch` the 100 entries generated code would pass,
// one `getLoaderData(bind)` per loader, and end the request (abort bookkeeping). The tree
// variants walk the 20 components the way Astro renders them: a component awaits its data, then
// its children render (siblings concurrently).
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { fixed, median, ratio, rotate } from './lib/report.js';

/**
 * @typedef {import('./lib/report.js').Section} Section
 * @typedef {import('./lib/report.js').Row} Row
 */

const LOADERS = 100;
const COMPONENTS = 20;
const PER_COMPONENT = LOADERS / COMPONENTS;

/** The four tasks, in the order they are reported. */
const TASKS = /** @type {const} */ ([
  { id: 'bare', label: 'bare Promise.all', baseline: null },
  { id: 'runtime', label: 'astro-hoist runtime, flat reads', baseline: 'bare' },
  { id: 'bareTree', label: 'Promise.all + 20-component tree', baseline: null },
  { id: 'runtimeTree', label: 'astro-hoist runtime, 20-component tree', baseline: 'bareTree' },
]);

/** Runs in the child: measures, prints `BENCH_RESULT <json>`. */
async function measure() {
  const { Bench } = await import('tinybench');
  const runtime = await import('../js/runtime.js');
  const { __renderState, __startBatch } = runtime;
  // The public type has no parameter: the Vite plugin adds the bind argument at build time.
  const getLoaderData = /** @type {(bind: object) => Promise<unknown>} */ (/** @type {unknown} */ (runtime.getLoaderData));
  const quick = process.argv.includes('--quick');
  const rounds = quick ? 2 : 5;

  const loaders = Array.from({ length: LOADERS }, (_, i) => async (/** @type {unknown} */ _context) => ({ i }));
  const entries = loaders.map((loader, i) => ({
    key: `loader-${i}`,
    loader,
    component: `src/components/C${Math.floor(i / PER_COMPONENT)}.astro`,
  }));
  // Component j reads loaders j*5 .. j*5+4; its children are 2j+1 and 2j+2 (a binary tree).
  const children = Array.from({ length: COMPONENTS }, (_, j) => [2 * j + 1, 2 * j + 2].filter((c) => c < COMPONENTS));
  const request = new Request('http://127.0.0.1/bench');
  const url = new URL(request.url);
  const context = { params: {}, url, request, locals: {}, signal: new AbortController().signal };

  /** @param {(j: number) => Promise<unknown>} readComponent */
  const walk = (readComponent) => {
    /** @param {number} j @returns {Promise<void>} */
    const render = async (j) => {
      await readComponent(j);
      await Promise.all(children[j].map(render));
    };
    return render(0);
  };

  /**
   * One render's read of loader `i` (`result` stands in for Astro's per-render $$result).
   * @param {{ locals: object, params: {}, url: URL, request: Request }} astro @param {object} result @param {number} i
   */
  const read = (astro, result, i) => getLoaderData({ astro, result, key: entries[i].key, loader: entries[i].loader, component: entries[i].component });

  /** @type {Record<string, () => Promise<unknown>>} */
  const fns = {
    bare: () => Promise.all(loaders.map((loader) => loader(context))),
    runtime: async () => {
      const astro = { locals: {}, params: {}, url, request };
      const result = {};
      __startBatch(astro, entries, {}, result);
      await Promise.all(entries.map((_, i) => read(astro, result, i)));
      __renderState(astro, result).end();
    },
    bareTree: () => {
      const promises = loaders.map((loader) => loader(context));
      return walk((j) => Promise.all(promises.slice(j * PER_COMPONENT, (j + 1) * PER_COMPONENT)));
    },
    runtimeTree: async () => {
      const astro = { locals: {}, params: {}, url, request };
      const result = {};
      __startBatch(astro, entries, {}, result);
      await walk((j) => Promise.all(Array.from({ length: PER_COMPONENT }, (_, k) => read(astro, result, j * PER_COMPONENT + k))));
      __renderState(astro, result).end();
    },
  };

  // Sanity: the runtime hands every reader its own loader's value.
  {
    const astro = { locals: {}, params: {}, url, request };
    const result = {};
    __startBatch(astro, entries, {}, result);
    const values = await Promise.all(entries.map((_, i) => read(astro, result, i)));
    if (values.some((value, i) => /** @type {{ i: number }} */ (value).i !== i)) throw new Error('runtime returned the wrong data');
    __renderState(astro, result).end();
  }

  /** @type {Record<string, number[]>} median latency (ms) of each round, per task */
  const p50 = Object.fromEntries(TASKS.map((task) => [task.id, []]));
  for (let round = 0; round < rounds; round++) {
    const bench = new Bench({ time: quick ? 200 : 500, warmupTime: 100 });
    for (const task of rotate([...TASKS], round)) bench.add(task.id, fns[task.id]);
    await bench.run();
    for (const task of bench.tasks) {
      const result = /** @type {any} */ (task.result);
      if (result?.state !== 'completed') throw new Error(`tinybench task ${task.name}: ${result?.state} ${result?.error ?? ''}`);
      p50[task.name].push(result.latency.p50);
    }
  }
  process.stdout.write(`BENCH_RESULT ${JSON.stringify({ rounds, p50, node: process.version })}\n`);
}

/**
 * @param {{ env: import('../harness/harness.js').EnvInfo, quick: boolean, progress: (message: string) => void }} ctx
 * @returns {Promise<Section>}
 */
export async function runFanout({ env, quick, progress }) {
  const started = performance.now();
  const child = spawnSync(env.node, [fileURLToPath(import.meta.url), '--measure', ...(quick ? ['--quick'] : [])], {
    encoding: 'utf8',
    timeout: 5 * 60_000,
  });
  const line = child.stdout?.split('\n').find((text) => text.startsWith('BENCH_RESULT '));
  if (child.status !== 0 || !line) throw new Error(`fan-out benchmark failed (exit ${child.status}):\n${child.stderr}${child.stdout}`);
  /** @type {{ rounds: number, p50: Record<string, number[]>, node: string }} */
  const result = JSON.parse(line.slice('BENCH_RESULT '.length));
  /** @type {Record<string, number>} µs per request */
  const us = Object.fromEntries(Object.entries(result.p50).map(([id, values]) => [id, median(values) * 1000]));
  /** @type {Row[]} */
  const rows = TASKS.map((task) => {
    const base = task.baseline ? us[task.baseline] : us[task.id];
    const perLoader = task.baseline ? (us[task.id] - base) / LOADERS : Number.NaN;
    return {
      case: `${LOADERS} loaders, ${COMPONENTS} components`,
      variant: task.label,
      value: fixed(us[task.id], 1),
      unit: 'µs/request',
      ratio: ratio(us[task.id], base),
      baseline: task.baseline ? (TASKS.find((t) => t.id === task.baseline)?.label ?? '') : 'itself',
      note: task.baseline ? `overhead ${fixed(perLoader, 2)} µs per loader` : '',
    };
  });
  progress(`fan-out: ${rows.map((row) => `${row.variant} ${row.value} µs`).join(', ')}`);
  return {
    id: '2',
    title: 'Fan-out: runtime overhead per loader',
    setup:
      `tinybench (${quick ? 200 : 500} ms per task after 100 ms warm-up), ${result.rounds} rounds with the task order rotated; ` +
      `median over rounds of each round's median time per request, on Node ${result.node}. One request: ${LOADERS} loaders (async ` +
      `functions returning at once) read by ${COMPONENTS} components, ${PER_COMPONENT} each, in a binary tree. "bare Promise.all" ` +
      'calls the loaders and awaits them; the runtime variants create the request state on a fresh `locals`, call `__startBatch` ' +
      `with the ${LOADERS} entries generated code would pass, read each loader with \`getLoaderData(bind)\` as rewritten components ` +
      'do, and end the request. The tree variants await each component\'s loaders before rendering its children, as Astro does. ' +
      'Overhead per loader = (runtime - baseline) / loaders.',
    rows,
    leavesOut: [
      'The loaders\' own work: they resolve at once, so only orchestration is timed.',
      'Astro\'s rendering and the middleware (Server-Timing header, body wrapping): section 3 includes them.',
      'Options that add timers or queues: `timeout` (one timer per loader), `concurrency`, `speculative`, `context.load()` dependencies.',
    ],
    seconds: (performance.now() - started) / 1000,
  };
}

if (process.argv[1] === fileURLToPath(import.meta.url) && process.argv.includes('--measure')) {
  await measure();
}

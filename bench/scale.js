// Section 7: scale. Generated SSR sites of 50, 300 and 1,000 routes (bench/lib/scale-site.js:
// trees six deep with slots over shared components, 40% alias / 30% barrel / 30% relative
// imports, 40% of components with a loader), measured side by side in one run:
//   - `astro build`: wall time and peak memory, plain Astro vs hoist() vs hoist({ concurrency: 4 });
//   - `astro-hoist analyze` through the Astro config: total, and planning every route;
//   - the disk scan (`scanProject`): cold versus a warm disk cache;
//   - `astro dev` (300 routes): from saving a deep component to the page showing the change.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { build, dev, envDir, fetchResponse, nodeBinary, startLatencyApi } from '../harness/harness.js';
import { fixed, median, ratio, rotate } from './lib/report.js';
import { writeScaleSite } from './lib/scale-site.js';
import { siteRoot } from './lib/sites.js';
import { REPO_ROOT } from './lib/work.js';

/**
 * @typedef {import('./lib/report.js').Section} Section
 * @typedef {import('./lib/report.js').Row} Row
 * @typedef {import('./lib/scale-site.js').ScaleVariant} ScaleVariant
 */

const ENV = 'astro7';
/** @type {ScaleVariant[]} */
const VARIANTS = ['plain', 'hoist', 'hoist-c4'];
const LABEL = { plain: 'plain Astro', hoist: 'hoist()', 'hoist-c4': 'hoist({ concurrency: 4 })' };

/**
 * `astro-hoist analyze` of a site in a child with the environment's Node, through the installed
 * package (as `npx astro-hoist analyze` runs): its timings.
 * @param {string} root
 * @param {string} compileCache Node's compile cache directory
 * @returns {{ total: number, config: number, walk: number, plan: number, routes: number }}
 */
function analyzeTimings(root, compileCache) {
  const analyze = path.join(envDir(ENV), 'node_modules', 'astro-hoist', 'js', 'analyze.js');
  // Node's compile cache on, as the CLI turns it on (js/cli.js).
  const script = `import module from 'node:module';
module.enableCompileCache?.();
const { analyzeProject } = await import(${JSON.stringify(analyze)});
const timings = {};
const started = performance.now();
const analysis = await analyzeProject(${JSON.stringify(root)}, { timings });
process.stdout.write(JSON.stringify({ total: performance.now() - started, ...timings, routes: analysis.routes.length }));`;
  const child = spawnSync(nodeBinary(ENV), ['--input-type=module', '-e', script], { cwd: root, encoding: 'utf8', timeout: 600_000, env: { ...process.env, ASTRO_TELEMETRY_DISABLED: '1', NODE_COMPILE_CACHE: compileCache } });
  if (child.status !== 0) throw new Error(`analyze of ${root} failed:\n${child.stderr}`);
  return JSON.parse(child.stdout);
}

/**
 * A disk scan in a fresh process (the in-memory cache is per process): its wall time.
 * @param {string} root
 * @param {string} cacheDir
 */
function scanMs(root, cacheDir) {
  const script = `import { scanProject } from ${JSON.stringify(path.join(REPO_ROOT, 'index.js'))};
const started = performance.now();
const project = await scanProject(${JSON.stringify(root)}, { diskCache: true, cacheDir: ${JSON.stringify(cacheDir)} });
const ms = performance.now() - started;
process.stdout.write(JSON.stringify({ ms, files: project.files.length, hits: project.cache.hits }));`;
  const child = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', timeout: 600_000 });
  if (child.status !== 0) throw new Error(`scan of ${root} failed:\n${child.stderr}`);
  return JSON.parse(child.stdout);
}

/**
 * `astro dev`: the time from saving a deep component to the page showing it, `edits` times per
 * variant, a dev server of each running side by side.
 * @param {Record<string, string>} variants name -> project root
 * @param {string} deep root-relative component the first route renders
 * @param {number} edits
 * @returns {Promise<Record<string, number[]>>} the times by variant
 */
async function devEdits(variants, deep, edits) {
  const WARM_EDITS = 3;
  const api = await startLatencyApi({ delayMs: 0 });
  /** @type {{ name: string, root: string, url: string, file: string, original: string, stop: () => Promise<void> }[]} */
  const servers = [];
  /** @type {Record<string, number[]>} */
  const times = {};
  try {
    for (const [name, root] of Object.entries(variants)) {
      const server = await dev(root, { env: { HOIST_API: api.url } });
      const file = path.join(root, deep);
      servers.push({ name, root, url: `${server.url}/r0`, file, original: fs.readFileSync(file, 'utf8'), stop: () => server.stop() });
      times[name] = [];
    }
    for (const { url } of servers) for (let warm = 0; warm < 3; warm++) assert200(await fetchResponse(url));
    // Both servers up, edits alternating: drift on the machine reaches both alike. The first
    // edits of a server run its HMR path cold (up to twice as slow, falling over the next few): each
    // server's first `WARM_EDITS` are not counted.
    for (let n = 0; n < WARM_EDITS + edits; n++) {
      for (const { name, root, url, file, original } of n % 2 === 0 ? servers : [...servers].reverse()) {
        const marker = `edit-${n}-${Date.now()}`;
        const started = performance.now();
        fs.writeFileSync(file, original.replace('<slot />', `<slot /><i>${marker}</i>`));
        for (;;) {
          const response = await fetchResponse(url);
          if (response.status === 200 && response.text.includes(marker)) break;
          if (performance.now() - started > 30_000) throw new Error(`${root}: the edit never showed`);
        }
        if (n >= WARM_EDITS) times[name].push(performance.now() - started);
        await new Promise((resolve) => setTimeout(resolve, 300));
      }
    }
  } finally {
    for (const { file, original, stop } of servers) {
      fs.writeFileSync(file, original);
      await stop();
    }
    await api.stop();
  }
  return times;
}

/** @param {{ status: number, text: string }} response */
/**
 * The median of the rounds' own ratios (`values[i] / baseline[i]`, measured in one round, minutes
 * apart from the other rounds): the machine's drift between rounds cancels out.
 * @param {number[]} values
 * @param {number[]} baseline
 */
function pairedRatio(values, baseline) {
  return ratio(median(values.map((value, i) => value / baseline[i])), 1);
}

function assert200(response) {
  if (response.status !== 200) throw new Error(`HTTP ${response.status}: ${response.text.slice(0, 300)}`);
}

/**
 * @param {{ quick: boolean, progress: (message: string) => void }} ctx
 * @returns {Promise<Section>}
 */
export async function runScale({ quick, progress }) {
  const started = performance.now();
  const sizes = quick ? [50, 300] : [50, 300, 1000];
  /** @type {Row[]} */
  const rows = [];
  /** @type {string[]} */
  const shapes = [];
  for (const size of sizes) {
    // Builds of one site vary by ±10% run to run on a shared 2-core machine, and the machine's
    // speed drifts over minutes: several rounds, each building the variants back to back (the
    // order rotated; a multiple of 3 rounds, so each variant takes each place in a round equally
    // often), and the ratio is the median of each round's own ratio.
    const rounds = quick ? 1 : size >= 1000 ? 3 : size >= 300 ? 6 : 15;
    /** @type {Record<string, string>} */
    const roots = {};
    let shape = { files: 0, components: 0, loaders: 0, deep: '' };
    for (const variant of VARIANTS) {
      roots[variant] = siteRoot(`bench-scale-${size}-${variant}`);
      shape = writeScaleSite(roots[variant], variant, size);
    }
    shapes.push(`${size} routes: ${shape.files} files, ${shape.components} components, ${shape.loaders} with a loader`);
    /** @type {Record<string, number[]>} */
    const seconds = { plain: [], hoist: [], 'hoist-c4': [] };
    /** @type {Record<string, number[]>} */
    const memory = { plain: [], hoist: [], 'hoist-c4': [] };
    // The first build after a pause pays for faulting memory in (seconds of system time on this
    // machine): a build of the plain site first, not counted (at 1,000 routes the rounds'
    // rotation has to do; a build there takes minutes).
    if (!quick && size < 1000) {
      for (const dir of ['dist', '.astro', 'node_modules']) fs.rmSync(path.join(roots.plain, dir), { recursive: true, force: true });
      await build(roots.plain, { timeoutMs: 30 * 60_000 });
    }
    for (let round = 0; round < rounds; round++) {
      for (const variant of rotate(VARIANTS, round)) {
        for (const dir of ['dist', '.astro', 'node_modules']) fs.rmSync(path.join(roots[variant], dir), { recursive: true, force: true });
        const { ms, peakRssMb } = await build(roots[variant], { timeoutMs: 30 * 60_000 });
        seconds[variant].push(ms / 1000);
        memory[variant].push(peakRssMb);
        progress(`scale ${size}: build ${variant} ${(ms / 1000).toFixed(1)} s, peak ${peakRssMb.toFixed(0)} MB`);
      }
    }
    for (const variant of VARIANTS) {
      rows.push({
        case: `astro build, ${size} routes`,
        variant: LABEL[variant],
        value: fixed(median(seconds[variant]), 2),
        unit: 's',
        ratio: pairedRatio(seconds[variant], seconds.plain),
        baseline: 'plain Astro',
        note: `runs: ${seconds[variant].map((s) => s.toFixed(1)).join(', ')} s`,
      });
    }
    for (const variant of VARIANTS) {
      rows.push({
        case: `astro build peak memory, ${size} routes`,
        variant: LABEL[variant],
        value: fixed(median(memory[variant]), 0),
        unit: 'MB',
        ratio: pairedRatio(memory[variant], memory.plain),
        baseline: 'plain Astro',
        note: `runs: ${memory[variant].map((m) => m.toFixed(0)).join(', ')} MB`,
      });
    }

    // analyze, through the Astro config (the hoist() site).
    /** @type {ReturnType<typeof analyzeTimings>[]} */
    const analyses = [];
    // The first run fills Node's compile cache (a fresh cache directory): reported apart.
    const compileCache = path.join(REPO_ROOT, '.e2e', 'bench-compile-cache');
    fs.rmSync(compileCache, { recursive: true, force: true });
    const first = analyzeTimings(roots.hoist, compileCache);
    for (let i = 0; i < (quick ? 1 : 5); i++) analyses.push(analyzeTimings(roots.hoist, compileCache));
    const total = median(analyses.map((a) => a.total));
    const planning = median(analyses.map((a) => a.plan));
    progress(`scale ${size}: analyze ${total.toFixed(0)} ms (planning ${planning.toFixed(0)} ms, ${analyses[0].routes} routes)`);
    rows.push({
      case: `astro-hoist analyze, ${size} routes`,
      variant: 'total',
      value: fixed(total, 0),
      unit: 'ms',
      ratio: '',
      baseline: '',
      note: `loading the config ${fixed(median(analyses.map((a) => a.config)), 0)} ms, walking ${fixed(median(analyses.map((a) => a.walk)), 0)} ms; runs: ${analyses.map((a) => a.total.toFixed(0)).join(', ')} ms; the first, filling the compile cache: ${fixed(first.total, 0)} ms`,
    });
    rows.push({
      case: `astro-hoist analyze, ${size} routes`,
      variant: 'planning every route',
      value: fixed(planning, 1),
      unit: 'ms',
      ratio: '',
      baseline: '',
      note: `runs: ${analyses.map((a) => a.plan.toFixed(0)).join(', ')} ms`,
    });

    // The disk scan, cold and warm.
    const cacheDir = path.join(REPO_ROOT, '.e2e', 'bench-scale-cache', String(size));
    /** @type {{ cold: number[], warm: number[] }} */
    const scans = { cold: [], warm: [] };
    for (let i = 0; i < (quick ? 1 : 3); i++) {
      fs.rmSync(cacheDir, { recursive: true, force: true });
      scans.cold.push(scanMs(roots.hoist, cacheDir).ms);
      const warm = scanMs(roots.hoist, cacheDir);
      if (warm.hits !== warm.files) throw new Error(`warm scan: ${warm.hits} hits of ${warm.files}`);
      scans.warm.push(warm.ms);
    }
    for (const which of /** @type {const} */ (['cold', 'warm'])) {
      rows.push({
        case: `disk scan (scanProject), ${size} routes`,
        variant: which === 'cold' ? 'cold (no disk cache)' : 'warm disk cache',
        value: fixed(median(scans[which]), 0),
        unit: 'ms',
        ratio: ratio(median(scans[which]), median(scans.cold)),
        baseline: 'cold',
      });
    }
    progress(`scale ${size}: scan cold ${median(scans.cold).toFixed(0)} ms, warm ${median(scans.warm).toFixed(0)} ms`);

    if (size === 300) {
      const edits = await devEdits({ plain: roots.plain, hoist: roots.hoist }, shape.deep, quick ? 3 : 21);
      progress(`scale ${size}: dev edit plain ${median(edits.plain).toFixed(0)} ms, hoist ${median(edits.hoist).toFixed(0)} ms`);
      for (const variant of /** @type {const} */ (['plain', 'hoist'])) {
        rows.push({
          case: `astro dev, edit a level-6 component, ${size} routes`,
          variant: LABEL[variant],
          value: fixed(median(edits[variant]), 0),
          unit: 'ms',
          ratio: ratio(median(edits[variant]), median(edits.plain)),
          baseline: 'plain Astro',
          note: `${variant === 'hoist' ? `${median(edits.hoist) >= median(edits.plain) ? '+' : ''}${fixed(median(edits.hoist) - median(edits.plain), 0)} ms; ` : ''}runs: ${edits[variant].map((m) => m.toFixed(0)).join(', ')} ms`,
        });
      }
    }
  }
  return {
    id: '7',
    title: 'Scale',
    setup:
      'Generated SSR sites (output: \'server\', @astrojs/node; bench/lib/scale-site.js): each route renders a tree six components ' +
      'deep, each component rendering two of the next level, one as the other\'s slot content, over a pool of components shared ' +
      'between routes; 40% of imports through a Vite alias from astro.config, 30% through a barrel module per level, 30% relative; ' +
      `40% of components have a loader. ${shapes.join('; ')}. Plain Astro awaits the same loaders inline. Every build from a clean ` +
      'state (no dist/, .astro/, node_modules/.cache), each round building the three variants back to back, the order rotated (15 rounds at 50 routes, 6 at 300 and 3 at 1,000, so each variant builds first, second and third equally often; at 50 and 300 after a build not counted); the ratio is the median of the rounds\' own ratios to plain Astro (the machine\'s speed drifts over minutes); wall time of the `astro build` process and its peak ' +
      'resident memory (VmHWM). `analyze`: the installed CLI\'s engine in a fresh process reading the project through its Astro ' +
      'config, with Node\'s compile cache on as the CLI turns it on (the first run, filling it, reported apart); "planning every route" is `planRoutes` after the walk. Disk scan: `scanProject` in a fresh process, cold (no disk ' +
      'cache) then warm. Dev: `astro dev`, the time from writing a level-6 component that /r0 renders to the first response of /r0 ' +
      'showing the change (requests back to back), a dev server per variant running side by side, edits alternating, each server\'s first 3 edits not counted. Medians.',
    rows,
    leavesOut: ['Static output (prerendering runs loaders at build time).', 'Astro 5 (the same code; section 4 covers one size on Astro 7 only as well).'],
    seconds: (performance.now() - started) / 1000,
  };
}

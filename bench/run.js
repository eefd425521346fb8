#!/usr/bin/env node
// `npm run bench`: every benchmark of astro-hoist in one run, one results table on stdout, and
// BENCHMARKS.md rewritten with the figures, the machine and the command. Not part of `npm test`.
//
//   1  page latency against nesting depth (nested components and slots), plain Astro vs
//      astro-hoist vs astro-auto-load (prior art)            bench/pages.js
//   2  fan-out: runtime overhead per loader (tinybench)      bench/fanout.js
//   3  throughput under load (autocannon)                    bench/pages.js
//   4  build overhead (`astro build`, 300 components)        bench/build.js
//   5  core: analysis speed on a real corpus (criterion, JS, Astro's parsers, threads)
//                                                            bench/core.js
//   6  streaming: first byte and every part of a page with a slow loader below the fold,
//      plain Astro vs astro-hoist, build and dev             bench/stream.js
//   7  scale: build time and peak memory at 50 / 300 / 1,000 routes, analyze, the disk
//      cache, a dev edit                                     bench/scale.js
//   8  lists: one call per item or one per list              bench/lists.js
//   9  loader cache: uncached vs memory hits vs Redis hits   bench/cache.js
//
// Every comparison is measured side by side in this run (variants interleaved, order rotated)
// and reported as a median and a ratio against its baseline. Sites are generated into the Astro 7
// e2e environment's work folder; bench-only packages go to .e2e/bench/ (both gitignored).
// Progress goes to stderr.
//
// Options: --quick (fewer rounds; BENCHMARKS.md is not written), --only 1,3 (sections; implies
// no write), --write (write BENCHMARKS.md even then).
import fs from 'node:fs';
import path from 'node:path';
import { ensureEnv, installPackedAddon, stopAll } from '../harness/harness.js';
import { runBuild } from './build.js';
import { runCache } from './cache.js';
import { runCore } from './core.js';
import { runDefer } from './defer.js';
import { runFanout } from './fanout.js';
import { runLists } from './lists.js';
import { runPages } from './pages.js';
import { runProps } from './props.js';
import { runScale } from './scale.js';
import { runStream } from './stream.js';
import { coresAvailable, load, machine, resultsTable, revision } from './lib/report.js';
import { REPO_ROOT, installBenchDeps, installedVersion, packStagedAddon, stageReleaseAddon } from './lib/work.js';

/** @typedef {import('./lib/report.js').Section} Section */

const started = performance.now();
const args = process.argv.slice(2);
const quick = args.includes('--quick');
const onlyAt = args.indexOf('--only');
const only = onlyAt >= 0 ? new Set((args[onlyAt + 1] ?? '').split(',').map((s) => s.trim())) : null;
const write = args.includes('--write') || (!quick && !only);
const OUTPUT = path.join(REPO_ROOT, 'BENCHMARKS.md');

/** @param {string} message */
function progress(message) {
  const seconds = ((performance.now() - started) / 1000).toFixed(1).padStart(6);
  process.stderr.write(`[bench ${seconds}s] ${message}\n`);
}

/** @param {string} id */
const wanted = (id) => !only || only.has(id);

/** The criterion version Cargo.lock pins. */
function criterionVersion() {
  const lock = fs.readFileSync(path.join(REPO_ROOT, 'Cargo.lock'), 'utf8');
  return lock.match(/name = "criterion"\nversion = "([^"]+)"/)?.[1] ?? 'unknown';
}

/**
 * @param {string} name
 * @param {string} dir
 */
function versionIn(name, dir) {
  try {
    return JSON.parse(fs.readFileSync(path.join(dir, 'node_modules', name, 'package.json'), 'utf8')).version;
  } catch {
    return 'not installed';
  }
}

async function main() {
  const host = machine();
  const loadBefore = load();
  const coresBefore = await coresAvailable();
  progress(`${host.cpu}, ${host.cores} cores (${coresBefore.toFixed(2)} available to the bench now), ${host.ramGiB} GiB; load average ${loadBefore.loadavg}`);
  if (loadBefore.busy.length > 0) progress(`busy right now: ${loadBefore.busy.join(', ')}`);

  const env = await ensureEnv('astro7');
  progress(`Astro ${env.astroVersion} on Node ${env.nodeVersion} (${path.relative(REPO_ROOT, env.dir)})`);
  const deps = await installBenchDeps();
  progress(`bench-only packages in .e2e/bench/: ${deps.installed ? `installed in ${(deps.ms / 1000).toFixed(0)} s` : 'already installed'}`);
  const addon = stageReleaseAddon();
  progress(`release addon built ${addon.builtAt.toISOString()}${addon.olderThanSources ? ' (older than src/: run `npm run bench` to rebuild it)' : ''}`);
  if (['1', '3', '4', '6', '7', '8', '9', '10', '11'].some(wanted)) {
    const install = await installPackedAddon('astro7', await packStagedAddon(addon.packageDir));
    progress(`astro-hoist packed and ${install.installed ? 'installed' : 'already installed'} in the Astro 7 environment`);
  }

  const ctx = { env, quick, progress, addon: addon.binary };
  /** @type {Section[]} */
  const sections = [];
  // Quick, CPU-bound sections first; then the servers; the long builds last.
  if (wanted('2')) sections.push(await runFanout(ctx));
  if (wanted('5')) sections.push(await runCore(ctx));
  if (wanted('1') || wanted('3')) {
    const { latency, throughput } = await runPages(ctx);
    if (wanted('1')) sections.push(latency);
    if (wanted('3')) sections.push(throughput);
  }
  if (wanted('6')) sections.push(await runStream(ctx));
  if (wanted('8')) sections.push(await runLists(ctx));
  if (wanted('9')) sections.push(await runCache(ctx));
  if (wanted('10')) sections.push(await runProps(ctx));
  if (wanted('11')) sections.push(await runDefer(ctx));
  if (wanted('4')) sections.push(await runBuild(ctx));
  if (wanted('7')) sections.push(await runScale(ctx));
  sections.sort((a, b) => Number(a.id) - Number(b.id));

  const loadAfter = load();
  const coresAfter = await coresAvailable();
  const totalS = (performance.now() - started) / 1000;
  const table = resultsTable(sections);
  process.stdout.write(`\n${table}\n\n`);
  process.stdout.write(`${LEGEND}\nTotal ${formatDuration(totalS)} (bench/run.js; the addon build before it not included). ` +
    `Load average ${loadBefore.loadavg} at start, ${loadAfter.loadavg} at the end; cores available ${coresBefore.toFixed(2)} / ` +
    `${coresAfter.toFixed(2)} of ${host.cores}` +
    `${loadBefore.busy.length > 0 ? `; busy at start: ${loadBefore.busy.join(', ')}` : ''}.\n`);

  if (write) {
    const versions = {
      runnerNode: process.version,
      astroNode: env.nodeVersion,
      astro: env.astroVersion,
      adapter: versionIn('@astrojs/node', env.dir),
      tinybench: versionIn('tinybench', REPO_ROOT),
      autocannon: versionIn('autocannon', REPO_ROOT),
      criterion: criterionVersion(),
      autoload: installedVersion('astro-auto-load'),
    };
    fs.writeFileSync(OUTPUT, markdown({ sections, table, host, versions, loadBefore, loadAfter, cores: [coresBefore, coresAfter], totalS, addon }));
    progress(`wrote ${path.relative(process.cwd(), OUTPUT) || OUTPUT}`);
  }
  progress(`total ${formatDuration(totalS)}`);
}

const LEGEND =
  'ratio = median / baseline median in the row\'s unit, except MB/s rows where it is speed relative to the baseline ' +
  '(higher is faster). ms, s and µs: lower is better; req/s and MB/s: higher is better.';

/** @param {number} seconds */
function formatDuration(seconds) {
  return seconds >= 90 ? `${Math.floor(seconds / 60)} min ${Math.round(seconds % 60)} s` : `${seconds.toFixed(0)} s`;
}

/**
 * @param {object} report
 * @param {Section[]} report.sections
 * @param {string} report.table
 * @param {ReturnType<typeof machine>} report.host
 * @param {Record<string, string>} report.versions
 * @param {ReturnType<typeof load>} report.loadBefore
 * @param {ReturnType<typeof load>} report.loadAfter
 * @param {number[]} report.cores cores available to the bench at start and at the end
 * @param {number} report.totalS
 * @param {ReturnType<typeof stageReleaseAddon>} report.addon
 */
function markdown({ sections, table, host, versions, loadBefore, loadAfter, cores, totalS, addon }) {
  const command = process.env.npm_lifecycle_event === 'bench' ? `npm run bench (${process.env.npm_lifecycle_script})` : `node bench/run.js ${args.join(' ')}`.trim();
  const quiet = loadBefore.busy.length === 0 && Math.min(...cores) > host.cores * 0.9;
  const parts = [
    '# Benchmarks',
    '',
    `Generated by \`npm run bench\` (bench/run.js) on ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC; ` +
      'rewritten on every run, do not edit by hand. Every comparison below was measured side by side in this one run ' +
      '(variants interleaved, order rotated) and is reported as a median with a ratio against its baseline.',
    '',
    '## Machine and versions',
    '',
    `- CPU: ${host.cpu}; ${host.cores} cores; ${host.ramGiB} GiB RAM; ${host.kernel}`,
    `- Node ${versions.astroNode} runs Astro ${versions.astro} with @astrojs/node ${versions.adapter} (servers, builds, ` +
      `the fan-out and core child processes); Node ${versions.runnerNode} runs the bench driver, autocannon and the latency API`,
    `- ${host.rustc}; criterion ${versions.criterion}; tinybench ${versions.tinybench}; autocannon ${versions.autocannon}; ` +
      `astro-auto-load ${versions.autoload}`,
    `- astro-hoist ${revision()}; the addon measured is the release build (LTO) of ${addon.builtAt.toISOString().slice(0, 16).replace('T', ' ')} UTC` +
      `${addon.olderThanSources ? ', **older than the sources in src/**' : ''}, copied to .e2e/bench/ and installed from a packed tarball`,
    `- Command: \`${command}\`; total ${formatDuration(totalS)} (${sections.map((s) => `section ${s.id}: ${formatDuration(s.seconds)}`).join(', ')})`,
    `- Cores actually available to the bench (${host.cores} threads spinning for 0.5 s, CPU time / wall time): ` +
      `${cores[0].toFixed(2)} at start, ${cores[1].toFixed(2)} at the end`,
    `- Load average (1/5/15 min): ${loadBefore.loadavg} at start, ${loadAfter.loadavg} at the end` +
      `${loadBefore.busy.length > 0 ? `; other processes busy at start: ${loadBefore.busy.join(', ')}` : ''}`,
    quiet
      ? '- A quiet machine: nothing else was busy at start, and the bench had all cores at start and at the end.'
      : '- **Not a quiet machine**: absolute figures are noisy; the ratios, measured side by side, are more robust. Thread ' +
        'scaling (section 5) cannot show on cores the bench does not get' +
        (loadBefore.busy.some((text) => text.includes('another autogroup'))
          ? ' (a niced process in another scheduler autogroup still takes an equal share of the CPU against the bench).'
          : '.'),
    '',
    '## Results',
    '',
    table,
    '',
    LEGEND,
    '',
  ];
  for (const section of sections) {
    parts.push(`## ${section.id}. ${section.title}`, '', section.setup, '', 'Leaves out:', '');
    for (const item of section.leavesOut) parts.push(`- ${item}`);
    parts.push('');
  }
  return `${parts.join('\n')}`;
}

main().then(
  async () => {
    await stopAll();
    process.exit(0);
  },
  async (error) => {
    process.stderr.write(`\nbench failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    await stopAll();
    process.exit(1);
  },
);


// Section 5: the native core over a real corpus, the `.astro` files that npm packages ship
// (bench/lib/work.js collects them into .e2e/bench/corpus/).
//
//   - analyzeComponents from JS: cold (first call in a fresh process), warm but uncached, and
//     cache hit; with RAYON_NUM_THREADS=1 and 2, child processes alternating.
//   - Astro's own parsers on the same files, in the same child processes: @astrojs/compiler
//     (Go compiled to WASM) and @astrojs/compiler-rs (Rust, napi), `parse` of each file.
//   - scanProject (reads, analyzes and links a whole folder), 1 versus 2 threads.
//   - criterion (benches/core.rs): raw swc parsing of the frontmatters versus the full analysis,
//     in Rust without Node.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { fixed, median, ratio, rotate } from './lib/report.js';
import { REPO_ROOT, WORK_DIR, collectCorpus, installedVersion } from './lib/work.js';

/**
 * @typedef {import('./lib/report.js').Section} Section
 * @typedef {import('./lib/report.js').Row} Row
 * @typedef {{ files: number, bytes: number, cold: number, rsFirst: number, goFirst: number, syntaxErrors: number,
 *   loaders: number, warm: number[], hit: number[], rs: number[], go: number[] }} AnalyzeResult
 */

const CHILD = fileURLToPath(new URL('./core-child.js', import.meta.url));
/** Copies of the corpus the scan reads, so that a scan takes long enough to split over threads. */
const SCAN_COPIES = 8;
/** Fresh-process scans per thread count and round (a scan is short and noisy). */
const SCANS_PER_ROUND = 2;
const TARGET = 'x86_64-unknown-linux-gnu';

/**
 * Runs core-child.js and returns its result.
 * @param {string} node
 * @param {string[]} args
 * @param {number} threads
 * @param {string} addon path of the addon binary to load
 */
function child(node, args, threads, addon) {
  const result = spawnSync(node, [CHILD, ...args], {
    encoding: 'utf8',
    env: { ...process.env, RAYON_NUM_THREADS: String(threads), ASTRO_HOIST_BENCH_ADDON: addon },
    timeout: 5 * 60_000,
  });
  const line = result.stdout?.split('\n').find((text) => text.startsWith('BENCH_RESULT '));
  if (result.status !== 0 || !line) throw new Error(`core-child ${args.join(' ')} failed (exit ${result.status}):\n${result.stderr}`);
  return JSON.parse(line.slice('BENCH_RESULT '.length));
}

/**
 * MB/s (10^6 bytes per second) for `bytes` in `ms`.
 * @param {number} bytes
 * @param {number} ms
 */
const mbps = (bytes, ms) => bytes / 1e6 / (ms / 1000);

/**
 * Runs the criterion benchmark over the corpus; null when cargo is missing or it fails.
 * @param {string} corpus
 * @param {(message: string) => void} progress
 * @returns {{ parseNs: number, analyzeNs: number, pool1Ns: number, pool2Ns: number, corpus: { files: number, bytes: number, frontmatterBytes: number }, compileS: number } | { error: string }}
 */
function criterion(corpus, progress) {
  const home = path.join(WORK_DIR, 'criterion');
  fs.rmSync(home, { recursive: true, force: true });
  const env = { ...process.env, ASTRO_HOIST_BENCH_CORPUS: corpus, CRITERION_HOME: home };
  // The `fast` profile (release without LTO) shares its build with `npm run test:rust`; fat LTO
  // buys no parse speed here (see DESIGN.md) but a long relink.
  const cargo = ['bench', '--profile', 'fast', '--target', TARGET, '--bench', 'core'];
  const compileStarted = performance.now();
  const compile = spawnSync('cargo', [...cargo, '--no-run'], { cwd: REPO_ROOT, env, encoding: 'utf8', timeout: 20 * 60_000 });
  const compileS = (performance.now() - compileStarted) / 1000;
  if (compile.status !== 0) return { error: `cargo bench --no-run failed: ${(compile.stderr ?? compile.error?.message ?? '').trim().split('\n').slice(-3).join(' ')}` };
  progress(`criterion bench compiled in ${compileS.toFixed(0)} s; running`);
  const bench = spawnSync('cargo', [...cargo, '--', '--noplot'], { cwd: REPO_ROOT, env, encoding: 'utf8', timeout: 10 * 60_000 });
  if (bench.status !== 0) return { error: `cargo bench failed: ${(bench.stderr ?? '').trim().split('\n').slice(-3).join(' ')}` };
  const line = bench.stdout.split('\n').find((text) => text.startsWith('ASTRO_HOIST_BENCH_CORPUS '));
  /** @param {string} group @param {string} id */
  const medianNs = (group, id) =>
    JSON.parse(fs.readFileSync(path.join(home, group, id, 'new', 'estimates.json'), 'utf8')).median.point_estimate;
  return {
    parseNs: medianNs('corpus', 'swc_parse_frontmatter'),
    analyzeNs: medianNs('corpus', 'analyze_component'),
    pool1Ns: medianNs('corpus_threads', 'analyze_component_1_threads'),
    pool2Ns: medianNs('corpus_threads', 'analyze_component_2_threads'),
    corpus: JSON.parse((line ?? '{}').slice('ASTRO_HOIST_BENCH_CORPUS '.length)),
    compileS,
  };
}

/**
 * @param {{ env: import('../harness/harness.js').EnvInfo, quick: boolean, progress: (message: string) => void, addon: string }} ctx
 * @returns {Promise<Section>}
 */
export async function runCore({ env, quick, progress, addon }) {
  const started = performance.now();
  const rounds = quick ? 2 : 5;
  const passes = quick ? 2 : 4;
  const corpus = collectCorpus();
  const kb = (corpus.bytes / 1024).toFixed(0);
  progress(`corpus: ${corpus.files} files, ${kb} KiB (${corpus.packages.map((p) => `${p.name} ${p.version}: ${p.files}`).join(', ')})`);
  // The scan folder: SCAN_COPIES copies of the corpus under different paths (the cache is keyed
  // by content and path, so every copy is analyzed).
  const scanDir = path.join(WORK_DIR, 'corpus-scan');
  fs.rmSync(scanDir, { recursive: true, force: true });
  for (let copy = 1; copy <= SCAN_COPIES; copy++) fs.cpSync(corpus.dir, path.join(scanDir, `copy-${copy}`), { recursive: true });

  /** @type {Record<number, AnalyzeResult[]>} */
  const analyses = { 1: [], 2: [] };
  /** @type {Record<number, number[]>} */
  const scans = { 1: [], 2: [] };
  let scanned = 0;
  for (let round = 0; round < rounds; round++) {
    for (const threads of rotate([1, 2], round)) {
      analyses[threads].push(child(env.node, ['analyze', corpus.dir, String(passes)], threads, addon));
      for (let sample = 0; sample < SCANS_PER_ROUND; sample++) {
        const scan = child(env.node, ['scan', scanDir], threads, addon);
        scans[threads].push(scan.ms);
        scanned = scan.nodes;
      }
    }
    progress(
      `core round ${round + 1}/${rounds}: cold ${analyses[1].at(-1)?.cold.toFixed(1)} / ${analyses[2].at(-1)?.cold.toFixed(1)} ms, ` +
        `scan ${scans[1].at(-1)?.toFixed(1)} / ${scans[2].at(-1)?.toFixed(1)} ms (1 / 2 threads)`,
    );
  }
  const all = [...analyses[1], ...analyses[2]];
  const { bytes, files } = all[0];
  /** @param {number} threads @param {'cold' | 'warm' | 'hit'} what */
  const hoistMs = (threads, what) => median(analyses[threads].flatMap((a) => (what === 'cold' ? [a.cold] : a[what])));
  const rsMs = median(all.flatMap((a) => a.rs));
  const goMs = median(all.flatMap((a) => a.go));
  const rsVersion = installedVersion('@astrojs/compiler-rs');
  const goVersion = installedVersion('@astrojs/compiler');

  /**
   * @param {string} pass
   * @param {string} variant
   * @param {number} ms
   * @param {number} baseMs
   * @param {string} baseline
   * @param {string} [note]
   * @returns {Row}
   */
  const throughputRow = (pass, variant, ms, baseMs, baseline, note = '') => ({
    case: pass,
    variant,
    value: fixed(mbps(bytes, ms), 1),
    unit: 'MB/s',
    ratio: ratio(baseMs, ms),
    baseline,
    note: `${fixed(files / (ms / 1000), 0)} files/s, ${fixed(ms, 1)} ms${note ? `; ${note}` : ''}`,
  });

  const corpusCase = `${files} files, ${kb} KiB`;
  /** @type {Row[]} */
  const rows = [];
  for (const threads of [1, 2]) {
    const cold = hoistMs(threads, 'cold');
    const label = `analyzeComponents, ${threads} thread${threads > 1 ? 's' : ''}`;
    rows.push(throughputRow(`${corpusCase}: cold / cache`, `${label}, cold`, cold, cold, 'itself', 'first call in a fresh process'));
    rows.push(throughputRow(`${corpusCase}: cold / cache`, `${label}, warm uncached`, hoistMs(threads, 'warm'), cold, 'cold, same threads'));
    rows.push(throughputRow(`${corpusCase}: cold / cache`, `${label}, cache hit`, hoistMs(threads, 'hit'), cold, 'cold, same threads'));
  }
  const parsersCase = `${corpusCase}: parsers (warm)`;
  rows.push(throughputRow(parsersCase, `@astrojs/compiler-rs ${rsVersion} parse`, rsMs, rsMs, 'itself', `first pass ${fixed(median(all.map((a) => a.rsFirst)), 0)} ms`));
  rows.push(throughputRow(parsersCase, `@astrojs/compiler ${goVersion} parse (WASM)`, goMs, rsMs, '@astrojs/compiler-rs', `first pass ${fixed(median(all.map((a) => a.goFirst)), 0)} ms`));
  rows.push(throughputRow(parsersCase, 'astro-hoist analyzeComponents, 1 thread', hoistMs(1, 'warm'), rsMs, '@astrojs/compiler-rs'));
  rows.push(throughputRow(parsersCase, 'astro-hoist analyzeComponents, 2 threads', hoistMs(2, 'warm'), rsMs, '@astrojs/compiler-rs'));

  const scan1 = median(scans[1]);
  const scan2 = median(scans[2]);
  const scanCase = `scanProject, ${scanned} files (corpus x${SCAN_COPIES}), cold`;
  rows.push({ case: scanCase, variant: 'RAYON_NUM_THREADS=1', value: fixed(scan1, 1), unit: 'ms', ratio: '1.00x', baseline: 'itself', note: `${fixed(mbps(bytes * SCAN_COPIES, scan1), 1)} MB/s` });
  rows.push({
    case: scanCase,
    variant: 'RAYON_NUM_THREADS=2',
    value: fixed(scan2, 1),
    unit: 'ms',
    ratio: ratio(scan2, scan1),
    baseline: '1 thread',
    note: `speedup ${fixed(scan1 / scan2, 2)}x; ${fixed(mbps(bytes * SCAN_COPIES, scan2), 1)} MB/s`,
  });

  const crit = criterion(corpus.dir, progress);
  /** @type {string[]} */
  const criterionNotes = [];
  if ('error' in crit) {
    rows.push({ case: 'criterion (Rust)', variant: '–', value: '–', unit: '', ratio: '–', baseline: '', note: `not measured: ${crit.error}` });
  } else {
    const critCase = `criterion, ${crit.corpus.files} files (Rust, 1 thread, no cache)`;
    const parseMs = crit.parseNs / 1e6;
    const analyzeMs = crit.analyzeNs / 1e6;
    rows.push({
      case: critCase,
      variant: 'swc parse of the frontmatters',
      value: fixed(mbps(crit.corpus.bytes, parseMs), 1),
      unit: 'MB/s',
      ratio: '1.00x',
      baseline: 'itself',
      note: `${fixed(parseMs, 2)} ms per corpus; ${fixed(mbps(crit.corpus.frontmatterBytes, parseMs), 1)} MB/s of frontmatter`,
    });
    rows.push({
      case: critCase,
      variant: 'analyze_component (full analysis)',
      value: fixed(mbps(crit.corpus.bytes, analyzeMs), 1),
      unit: 'MB/s',
      ratio: ratio(parseMs, analyzeMs),
      baseline: 'swc parse',
      note: `${fixed(analyzeMs, 2)} ms per corpus; ${fixed(files / (analyzeMs / 1000), 0)} files/s`,
    });
    const poolCase = `criterion, ${crit.corpus.files} files (Rust, rayon pool, no cache)`;
    rows.push({
      case: poolCase,
      variant: 'analyze_component, 1 thread',
      value: fixed(mbps(crit.corpus.bytes, crit.pool1Ns / 1e6), 1),
      unit: 'MB/s',
      ratio: '1.00x',
      baseline: 'itself',
      note: `${fixed(crit.pool1Ns / 1e6, 2)} ms per corpus`,
    });
    rows.push({
      case: poolCase,
      variant: 'analyze_component, 2 threads',
      value: fixed(mbps(crit.corpus.bytes, crit.pool2Ns / 1e6), 1),
      unit: 'MB/s',
      ratio: ratio(crit.pool1Ns, crit.pool2Ns),
      baseline: '1 thread',
      note: `${fixed(crit.pool2Ns / 1e6, 2)} ms per corpus`,
    });
    criterionNotes.push(`criterion's compile step took ${crit.compileS.toFixed(0)} s this run (cached after the first).`);
  }

  return {
    id: '5',
    title: 'Core: analysis speed on a real corpus',
    setup:
      `Corpus: every \`.astro\` file shipped by ${corpus.packages.map((p) => `${p.name} ${p.version} (${p.files})`).join(', ')}; ` +
      `${files} distinct files, ${kb} KiB, copied to .e2e/bench/corpus/. MB/s = 10^6 bytes of whole files per second; the ratio of ` +
      'MB/s rows is speed relative to the baseline (higher is faster). JS figures run in child processes on Node ' +
      `${env.nodeVersion}, ${rounds} per thread count alternating (RAYON_NUM_THREADS=1 and 2, the order rotated), each reading the ` +
      `corpus into memory first. "cold" is the first \`analyzeComponents\` call of the process (empty content cache, thread pool ` +
      `not started); "warm uncached" repeats it ${passes} times with another \`root\` (another cache key); "cache hit" repeats the ` +
      `first call. Astro's parsers run ${passes} passes per child process on the same strings (one \`parse\` per file, in turn; ` +
      'compiler-rs synchronously, @astrojs/compiler awaiting each call), interleaved with the analyses. `scanProject` runs ' +
      `in a fresh process per sample (${rounds * SCANS_PER_ROUND} per thread count) over ${SCAN_COPIES} copies of the corpus (diskCache: false, ` +
      'exclude: []). criterion ' +
      '(benches/core.rs, 20 samples of 4 s after 1 s warm-up) times whole-corpus passes of raw swc parsing versus ' +
      '`analyze_component` on one thread, and `analyze_component` over the files on rayon pools of 1 and 2 threads; file ' +
      'contents in memory. ' +
      criterionNotes.join(' '),
    rows,
    leavesOut: [
      'Comparable work: Astro\'s parsers build a full AST of the template and hand it to JS; astro-hoist parses the ' +
        'frontmatter with swc, scans the template only for component tags, and returns a small summary. Neither does the ' +
        'other\'s job, so the parser rows compare costs per file, not equivalent results.',
      'Reading files (except `scanProject`, which reads them itself), and loading the addon and the compilers.',
      'Resolution through Vite (aliases, packages) and code generation, which the Vite plugin adds in a build.',
      'criterion measures its benchmarks one after the other (its harness), not interleaved; they run on the ' +
        '`fast` profile (release without LTO; the published addon uses LTO, which DESIGN.md measured to make no difference to parse speed).',
    ],
    seconds: (performance.now() - started) / 1000,
  };
}

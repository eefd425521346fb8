// Child process of section 5 (bench/core.js), run with the Node that runs Astro 7 so each
// measurement starts in a fresh process: the native core's content cache is per process, and
// its thread pool starts on first use (RAYON_NUM_THREADS, set by the parent, sizes it).
//
//   node bench/core-child.js analyze <corpus dir> <passes>
//   node bench/core-child.js scan <corpus dir>
//
// Prints `BENCH_RESULT <json>`. Times exclude loading the modules and reading the files (the
// corpus is read into memory first), except `scan`, which reads the files itself as it must.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { rotate } from './lib/report.js';

const REPO_ROOT = fileURLToPath(new URL('../', import.meta.url));
const BENCH_MODULES = path.join(REPO_ROOT, '.e2e', 'bench', 'node_modules');

/**
 * The addon through index.js, loading the binary the parent chose (ASTRO_HOIST_BENCH_ADDON) via
 * napi-rs's NAPI_RS_NATIVE_LIBRARY_PATH. That variable is unset again at once: every napi-rs
 * loader reads it, @astrojs/compiler-rs's included.
 */
async function loadAddon() {
  const wanted = process.env.ASTRO_HOIST_BENCH_ADDON;
  if (wanted) process.env.NAPI_RS_NATIVE_LIBRARY_PATH = wanted;
  try {
    const native = await import(pathToFileURL(path.join(REPO_ROOT, 'index.js')).href);
    if (wanted && fs.existsSync('/proc/self/maps') && !fs.readFileSync('/proc/self/maps', 'utf8').includes(wanted)) {
      throw new Error(`index.js did not load ${wanted}`);
    }
    return native;
  } finally {
    delete process.env.NAPI_RS_NATIVE_LIBRARY_PATH;
  }
}

/** @param {string} dir @returns {string[]} */
function astroFiles(dir) {
  return fs
    .readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((entry) => entry.isFile() && entry.name.endsWith('.astro'))
    .map((entry) => path.join(entry.parentPath, entry.name))
    .sort();
}

/** @param {() => Promise<unknown> | unknown} fn @returns {Promise<number>} ms */
async function time(fn) {
  const started = performance.now();
  await fn();
  return performance.now() - started;
}

/** @param {string} packageDir @param {string} entry */
function importFrom(packageDir, entry) {
  return import(pathToFileURL(path.join(BENCH_MODULES, packageDir, entry)).href);
}

async function analyze(/** @type {string} */ corpus, /** @type {number} */ passes) {
  const native = await loadAddon();
  const files = astroFiles(corpus).map((filename) => ({ filename, source: fs.readFileSync(filename, 'utf8') }));
  const bytes = files.reduce((sum, file) => sum + Buffer.byteLength(file.source), 0);

  // Cold: the first analysis in this process (empty cache, thread pool not yet started).
  /** @type {any[]} */
  let infos = [];
  const cold = await time(async () => {
    infos = await native.analyzeComponents(files, { root: corpus });
  });
  const syntaxErrors = infos.filter((info) => info.diagnostics.some((/** @type {any} */ d) => d.severity === 'error')).length;
  const loaders = infos.filter((info) => info.loader).length;

  const rs = await importFrom('@astrojs/compiler-rs', 'dist/index.mjs');
  const go = await importFrom('@astrojs/compiler', 'dist/node/index.js');
  // First pass of each parser in this process (the Go/WASM compiler instantiates on first use).
  const rsFirst = await time(() => files.forEach((file) => rs.parse(file.source)));
  const goFirst = await time(async () => {
    for (const file of files) await go.parse(file.source);
  });

  /** @type {Record<string, number[]>} */
  const samples = { warm: [], hit: [], rs: [], go: [] };
  /** @type {Record<string, (pass: number) => Promise<unknown> | unknown>} */
  const tasks = {
    // Warm but uncached: another `root` is another cache key, so every file is analyzed again.
    warm: (pass) => native.analyzeComponents(files, { root: path.join(corpus, `pass-${pass}`) }),
    hit: () => native.analyzeComponents(files, { root: corpus }),
    rs: () => files.forEach((file) => rs.parse(file.source)),
    go: async () => {
      for (const file of files) await go.parse(file.source);
    },
  };
  for (let pass = 0; pass < passes; pass++) {
    for (const name of rotate(Object.keys(tasks), pass)) samples[name].push(await time(() => tasks[name](pass)));
  }
  return { files: files.length, bytes, cold, rsFirst, goFirst, syntaxErrors, loaders, ...samples };
}

async function scan(/** @type {string} */ corpus) {
  const native = await loadAddon();
  /** @type {any} */
  let graph;
  const ms = await time(async () => {
    graph = await native.scanProject(corpus, { diskCache: false, exclude: [] });
  });
  return { ms, nodes: graph.files.length, misses: graph.cache.misses };
}

const [mode, corpus, passes] = process.argv.slice(2);
const result = mode === 'analyze' ? await analyze(corpus, Number(passes ?? 5)) : await scan(corpus);
process.stdout.write(`BENCH_RESULT ${JSON.stringify({ ...result, threads: process.env.RAYON_NUM_THREADS ?? 'default' })}\n`);

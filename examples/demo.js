#!/usr/bin/env node
// `npm run demo`: what astro-hoist does to a real Astro site, measured side by side.
//
// 1. Installs the Astro 7 environment of the e2e harness (harness/astro7: Astro 7.3.4,
//    @astrojs/node, and Node 22, which Astro 7 needs) unless it is already installed.
// 2. Packs astro-hoist with `npm pack` (the root package and its linux-x64-gnu binary package)
//    and installs the tarballs into that environment, as a user's `npm install` would.
// 3. Copies the example blog (examples/site, one copy of src/) three times into the
//    environment's work folder and builds each (`astro build`, output: 'server'), choosing the
//    variant with BLOG_VARIANT (see examples/site/astro.config.mjs):
//      plain        plain Astro, no astro-hoist: each component awaits its loader when it renders
//      hoisted      `hoist()`: each page starts its whole tree's loaders in one batch
//      speculative  `hoist({ speculative: true })`: conditional children's loaders too
// 4. Starts the blog's JSON API (examples/site/blog-api.mjs, every answer after 50 ms) and the
//    three servers, all on 127.0.0.1 with OS-chosen ports.
// 5. Per page: checks that all three variants return the same HTML, then times N sequential
//    requests per variant after a warm-up, interleaved so that noise hits all variants alike.
//    From the API's call log it counts, per request, the distinct loaders, the API calls and the
//    waves: groups of calls that arrived together (a call more than half a delay after the
//    current group's first call starts a new wave). A waterfall of three has three waves.
// 6. Prints the table on stdout (progress goes to stderr), stops everything it started, exits 0.
//
// Options: --requests <n> (default 15), --warmup <n> (default 5), --delay <ms> (default 50).
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build, envDir, ensureEnv, fetchResponse, installPackedAddon, packAddon, serve, stopAll } from '../harness/harness.js';
import { startBlogApi } from './site/blog-api.mjs';

const started = performance.now();
const REPO_ROOT = fileURLToPath(new URL('../', import.meta.url));
const SITE_DIR = fileURLToPath(new URL('./site/', import.meta.url));
const ENV = 'astro7';

const REQUESTS = intOption('--requests', 15);
const WARMUP = intOption('--warmup', 5);
const DELAY_MS = intOption('--delay', 50);

/** @typedef {'plain' | 'hoisted' | 'speculative'} Variant */
/** @type {{ name: Variant, env: string, label: string }[]} */
const VARIANTS = [
  { name: 'plain', env: 'plain', label: 'plain Astro' },
  { name: 'hoisted', env: 'hoist', label: 'hoist()' },
  { name: 'speculative', env: 'speculative', label: 'hoist({ speculative: true })' },
];

/** The pages measured, and what each one shows. */
const PAGES = [
  { path: '/posts/waterfalls', shape: 'nested: Article > AuthorCard > AuthorStats' },
  { path: '/tags/performance', shape: 'slots: <SiteLayout><Sidebar><RelatedTags/>' },
  { path: '/', shape: 'PostList > {a && <Announcement/>}, {.map(<PostCard/>)}' },
];

/**
 * @typedef {object} Sample
 * @property {number} ms complete response (headers and body)
 * @property {number} waves
 * @property {number} calls API calls during the request
 * @property {number} loaders distinct API paths during the request
 */

/** @param {string} message */
function progress(message) {
  const seconds = ((performance.now() - started) / 1000).toFixed(1).padStart(5);
  process.stderr.write(`[demo ${seconds}s] ${message}\n`);
}

/** @param {string} flag @param {number} fallback */
function intOption(flag, fallback) {
  const at = process.argv.indexOf(flag);
  if (at < 0) return fallback;
  const value = Number(process.argv[at + 1]);
  if (!Number.isInteger(value) || value < 1) throw new Error(`${flag} expects a positive integer`);
  return value;
}

/**
 * Copies the example site into the environment's work folder (so `astro`, `@astrojs/node` and the
 * installed astro-hoist resolve from the environment's node_modules).
 * @param {Variant} variant
 */
function prepareCopy(variant) {
  const root = path.join(envDir(ENV), 'work', `demo-${variant}`);
  fs.rmSync(root, { recursive: true, force: true });
  fs.cpSync(SITE_DIR, root, {
    recursive: true,
    filter: (from) => !['node_modules', 'dist', '.astro', 'package.json', 'package-lock.json'].includes(path.basename(from)),
  });
  return root;
}

/**
 * How many waves of calls a request made: calls sorted by arrival, a new wave whenever a call
 * arrives more than half a delay after the first call of the current wave.
 * @param {{ at: number }[]} calls
 */
function countWaves(calls) {
  const times = calls.map((call) => call.at).sort((a, b) => a - b);
  let waves = 0;
  let waveStart = -Infinity;
  for (const at of times) {
    if (at - waveStart > DELAY_MS / 2) {
      waves++;
      waveStart = at;
    }
  }
  return waves;
}

/** @param {number[]} values */
function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/**
 * @param {string[][]} rows first row: header
 * @returns {string}
 */
function formatTable(rows) {
  const widths = rows[0].map((_, column) => Math.max(...rows.map((row) => row[column].length)));
  const line = (/** @type {string[]} */ row) =>
    `| ${row.map((cell, column) => (column === 0 || column === 1 ? cell.padEnd(widths[column]) : cell.padStart(widths[column]))).join(' | ')} |`;
  const rule = `|${widths.map((width, column) => (column < 2 ? `:${'-'.repeat(width + 1)}` : `${'-'.repeat(width + 1)}:`)).join('|')}|`;
  return [line(rows[0]), rule, ...rows.slice(1).map(line)].join('\n');
}

async function main() {
  progress(`Astro 7 environment (${path.relative(REPO_ROOT, envDir(ENV))})`);
  const env = await ensureEnv(ENV);
  progress(
    `${env.installMs === null ? 'already installed' : `installed in ${(env.installMs / 1000).toFixed(0)} s`}: astro ${env.astroVersion}, node ${env.nodeVersion}`,
  );

  progress('npm pack astro-hoist and install the tarballs into the environment');
  const tarballs = await packAddon({ destination: path.join(REPO_ROOT, '.e2e', 'demo-packs') });
  const install = await installPackedAddon(ENV, tarballs);
  progress(`${tarballs.map((file) => path.basename(file)).join(', ')}: ${install.installed ? `installed in ${(install.ms / 1000).toFixed(1)} s` : 'already installed'}`);

  // Builds run one after another: on a small machine parallel builds only compete for the cores.
  /** @type {Map<Variant, string>} */
  const roots = new Map();
  for (const variant of VARIANTS) {
    const root = prepareCopy(variant.name);
    const { ms } = await build(root, { env: { BLOG_VARIANT: variant.env } });
    roots.set(variant.name, root);
    progress(`built ${variant.label} in ${(ms / 1000).toFixed(1)} s (${path.relative(REPO_ROOT, root)})`);
  }

  const api = await startBlogApi({ delayMs: DELAY_MS });
  progress(`blog API on ${api.url}, ${DELAY_MS} ms per answer`);
  try {
    /** @type {Map<Variant, string>} */
    const urls = new Map();
    for (const variant of VARIANTS) {
      const server = await serve(/** @type {string} */ (roots.get(variant.name)), { env: { BLOG_API: api.url } });
      urls.set(variant.name, server.url);
      progress(`serving ${variant.label} on ${server.url} (pid ${server.pid})`);
    }

    /** @type {string[][]} */
    const rows = [
      ['page', 'shape', 'loaders', 'API calls plain/hoisted', 'waves plain/hoisted/spec.', 'plain ms', 'hoisted ms', 'speedup', 'spec. ms', 'spec. speedup'],
    ];
    for (const page of PAGES) {
      progress(`${page.path}: warm-up (${WARMUP} per variant), then ${REQUESTS} timed requests per variant`);
      /** @type {Map<Variant, string>} */
      const html = new Map();
      for (let i = 0; i < WARMUP; i++) {
        for (const variant of VARIANTS) {
          const response = await fetchResponse(`${urls.get(variant.name)}${page.path}`);
          if (response.status !== 200) {
            throw new Error(`${variant.label} ${page.path}: HTTP ${response.status}\n${response.text.slice(0, 2000)}`);
          }
          html.set(variant.name, response.text);
        }
      }
      // Same components, same data: hoisting must not change a byte of the page.
      for (const variant of VARIANTS.slice(1)) {
        if (html.get(variant.name) !== html.get('plain')) {
          throw new Error(`${page.path}: ${variant.label} returned different HTML than plain Astro:\n` +
            `--- plain\n${html.get('plain')}\n--- ${variant.label}\n${html.get(variant.name)}`);
        }
      }

      /** @type {Map<Variant, Sample[]>} */
      const samples = new Map(VARIANTS.map((variant) => [variant.name, []]));
      for (let round = 0; round < REQUESTS; round++) {
        // Rotate the order so no variant always goes first (right after another's idle time).
        for (let k = 0; k < VARIANTS.length; k++) {
          const variant = VARIANTS[(round + k) % VARIANTS.length];
          api.reset();
          const response = await fetchResponse(`${urls.get(variant.name)}${page.path}`);
          if (response.status !== 200) throw new Error(`${variant.label} ${page.path}: HTTP ${response.status}`);
          const calls = [...api.calls];
          samples.get(variant.name)?.push({
            ms: response.ms,
            waves: countWaves(calls),
            calls: calls.length,
            loaders: new Set(calls.map((call) => call.path)).size,
          });
        }
      }

      const stat = (/** @type {Variant} */ variant, /** @type {keyof Sample} */ field) =>
        median(/** @type {Sample[]} */ (samples.get(variant)).map((sample) => sample[field]));
      const plainMs = stat('plain', 'ms');
      const hoistedMs = stat('hoisted', 'ms');
      const speculativeMs = stat('speculative', 'ms');
      rows.push([
        page.path,
        page.shape,
        String(stat('plain', 'loaders')),
        `${stat('plain', 'calls')}/${stat('hoisted', 'calls')}`,
        `${stat('plain', 'waves')}/${stat('hoisted', 'waves')}/${stat('speculative', 'waves')}`,
        plainMs.toFixed(1),
        hoistedMs.toFixed(1),
        `${(plainMs / hoistedMs).toFixed(2)}x`,
        speculativeMs.toFixed(1),
        `${(plainMs / speculativeMs).toFixed(2)}x`,
      ]);
    }

    progress('done measuring');
    process.stdout.write(
      `\nastro-hoist demo: Astro ${env.astroVersion} + @astrojs/node on Node ${env.nodeVersion}, ` +
        `every API answer ${DELAY_MS} ms, median of ${REQUESTS} sequential requests per variant after ${WARMUP} warm-up\n\n` +
        `${formatTable(rows)}\n\n` +
        'loaders: distinct loaders the page runs. API calls: per request; plain Astro runs a loader once per\n' +
        'rendered component, astro-hoist once per request. waves: groups of API calls, each waiting for the\n' +
        'one before. hoist() starts conditional children (`{a && <B/>}`, and `.map` items) only when they\n' +
        'render; spec. is hoist({ speculative: true }), which starts them in the first batch too.\n' +
        'All three variants returned identical HTML for every page.\n',
    );
  } finally {
    await stopAll();
    await api.stop();
  }
  progress(`total ${((performance.now() - started) / 1000).toFixed(1)} s`);
}

main().then(
  () => process.exit(0),
  async (error) => {
    process.stderr.write(`\ndemo failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    await stopAll();
    process.exit(1);
  },
);

// Section 4: build overhead. `astro build` of one generated site (300 components, 50 pages)
// with astro-hoist and without (the plain-Astro baseline of section 1), alternating, each build
// from a clean state.
import fs from 'node:fs';
import path from 'node:path';
import { build } from '../harness/harness.js';
import { fixed, median, ratio, rotate } from './lib/report.js';
import { siteRoot, writeBuildSite } from './lib/sites.js';

/**
 * @typedef {import('./lib/report.js').Section} Section
 * @typedef {import('./lib/sites.js').Variant} Variant
 */

const PAGES = 50;
const PER_PAGE = 6;

/**
 * @param {{ quick: boolean, progress: (message: string) => void }} ctx
 * @returns {Promise<Section>}
 */
export async function runBuild({ quick, progress }) {
  const started = performance.now();
  const rounds = quick ? 1 : 3;
  /** @type {Variant[]} */
  const variants = ['plain', 'hoist'];
  /** @type {Record<string, string>} */
  const roots = {};
  for (const variant of variants) {
    roots[variant] = siteRoot(`bench-build-${variant}`);
    writeBuildSite(roots[variant], variant, { pages: PAGES, perPage: PER_PAGE });
  }
  /** @type {Record<string, number[]>} */
  const seconds = { plain: [], hoist: [] };
  for (let round = 0; round < rounds; round++) {
    for (const variant of rotate(variants, round)) {
      const root = roots[variant];
      // Clean: no earlier output, no Astro or Vite state, no astro-hoist disk cache
      // (node_modules/.cache/astro-hoist under the site root).
      for (const dir of ['dist', '.astro', 'node_modules']) fs.rmSync(path.join(root, dir), { recursive: true, force: true });
      const { ms } = await build(root, { timeoutMs: 10 * 60_000 });
      seconds[variant].push(ms / 1000);
      progress(`build ${variant}: ${(ms / 1000).toFixed(1)} s`);
    }
  }
  const base = median(seconds.plain);
  return {
    id: '4',
    title: 'Build overhead',
    setup:
      `\`astro build\` (output: 'server', @astrojs/node) of a generated site of ${PAGES} pages and ${PAGES * PER_PAGE} components ` +
      `(${PER_PAGE} per page: a chain of three, the third rendering the other three; every component has a loader that imports a ` +
      'shared helper, and a scoped style). With astro-hoist versus the plain-Astro baseline (the same sources, `getLoaderData()` ' +
      `rewritten into a direct call). ${rounds} builds each, alternating, the order rotated; each from a clean state (no dist/, ` +
      '.astro/ or node_modules/.cache, so astro-hoist starts with an empty cache). Wall time of the whole `astro build` process; ' +
      'median.',
    rows: variants.map((variant) => ({
      case: `${PAGES} pages, ${PAGES * PER_PAGE} components`,
      variant: variant === 'plain' ? 'plain Astro' : 'astro-hoist',
      value: fixed(median(seconds[variant]), 2),
      unit: 's',
      ratio: ratio(median(seconds[variant]), base),
      baseline: 'plain Astro',
      note: `runs: ${seconds[variant].map((s) => s.toFixed(1)).join(', ')} s`,
    })),
    leavesOut: [
      'Incremental and warm builds: every build starts cold; astro-hoist\'s disk cache would make repeated builds cheaper.',
      'Dev-server start and HMR (the analysis also runs there, per changed file).',
      'Static output (prerendering pages runs their loaders at build time, which would mix loader time into build time).',
    ],
    seconds: (performance.now() - started) / 1000,
  };
}

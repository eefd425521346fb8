// Section 6: time to first byte and to every part of a streamed page whose slow loader sits below
// the fold, plain Astro vs astro-hoist, as ratios of plain Astro's times measured side by side.
// The e2e fixture `harm` is built as it is and as its plain twin (astro-hoist removed, loaders
// inlined); /stream renders a header and main content at once and a 400 ms loader's footer last.
import { build, dev, plainVariant, prepareFixture, serve, startLatencyApi, streamTimes } from '../harness/harness.js';
import { fixed, median, ratio, rotate } from './lib/report.js';

/**
 * @typedef {import('./lib/report.js').Section} Section
 * @typedef {import('./lib/report.js').Row} Row
 * @typedef {import('../harness/harness.js').RunningServer} RunningServer
 */

const SLOW_MS = 400;
const MARKERS = /** @type {const} */ (['<head>', 'id="top"', 'id="slow"']);

/**
 * @param {{ quick: boolean, progress: (message: string) => void }} ctx
 * @returns {Promise<Section>}
 */
export async function runStream({ quick, progress }) {
  const started = performance.now();
  const rounds = quick ? 5 : 21;
  const api = await startLatencyApi({ delayMs: 20 });
  const hoistedRoot = await prepareFixture('astro7', 'harm', { as: 'bench-stream' });
  const plainRoot = await prepareFixture('astro7', 'harm', { as: 'bench-stream-plain', files: plainVariant('harm') });
  await build(hoistedRoot, { env: { HOIST_API: api.url } });
  await build(plainRoot, { env: { HOIST_API: api.url } });

  /** @type {Row[]} */
  const rows = [];
  try {
    for (const mode of /** @type {const} */ (['build', 'dev'])) {
      const start = mode === 'build' ? serve : dev;
      /** @type {Record<'plain' | 'hoist', RunningServer>} */
      const servers = {
        plain: await start(plainRoot, { env: { HOIST_API: api.url } }),
        hoist: await start(hoistedRoot, { env: { HOIST_API: api.url } }),
      };
      try {
        /** @type {Record<'plain' | 'hoist', { firstByte: number[], top: number[], slow: number[], end: number[] }>} */
        const samples = { plain: { firstByte: [], top: [], slow: [], end: [] }, hoist: { firstByte: [], top: [], slow: [], end: [] } };
        for (const variant of /** @type {const} */ (['plain', 'hoist'])) await streamTimes(`${servers[variant].url}/stream`, [...MARKERS]); // warm-up
        for (let round = 0; round < rounds; round++) {
          for (const variant of rotate(/** @type {('plain' | 'hoist')[]} */ (['plain', 'hoist']), round)) {
            const t = await streamTimes(`${servers[variant].url}/stream`, [...MARKERS]);
            samples[variant].firstByte.push(t.firstByte);
            samples[variant].top.push(t.markers['id="top"']);
            samples[variant].slow.push(t.markers['id="slow"']);
            samples[variant].end.push(t.end);
          }
        }
        progress(`stream (${mode}): first byte plain ${median(samples.plain.firstByte).toFixed(1)} ms, astro-hoist ${median(samples.hoist.firstByte).toFixed(1)} ms`);
        for (const [key, label] of /** @type {const} */ ([['firstByte', 'first byte'], ['top', 'top of the page'], ['slow', 'slow part'], ['end', 'complete page']])) {
          const base = median(samples.plain[key]);
          for (const variant of /** @type {const} */ (['plain', 'hoist'])) {
            rows.push({
              case: `/stream, ${label} (${mode})`,
              variant: variant === 'plain' ? 'plain Astro' : 'astro-hoist',
              value: fixed(median(samples[variant][key]), 1),
              unit: 'ms',
              ratio: ratio(median(samples[variant][key]), base),
              baseline: 'plain Astro',
              note: key === 'slow' ? `the slow loader takes ${SLOW_MS} ms` : undefined,
            });
          }
        }
      } finally {
        await servers.plain.stop();
        await servers.hoist.stop();
      }
    }
  } finally {
    await api.stop();
  }
  return {
    id: '6',
    title: 'Streaming: first byte and every part',
    setup:
      'The e2e fixture `harm` (`__test__/fixtures/harm`), page /stream: a layout whose `<head>`, header and main content ' +
      `need no data, and at the bottom a component whose loader takes ${SLOW_MS} ms. Built once with astro-hoist (default ` +
      'options) and once as its plain twin (astro-hoist removed, `getLoaderData()` replaced by a call of the loader), both ' +
      `served (production build, then \`astro dev\`); ${rounds} requests each, alternating, the order rotated. Times from ` +
      'sending the request to the first body byte, to the header, to the slow part, and to the end of the body (a fetch ' +
      'reading the stream chunk by chunk); median, as a ratio of plain Astro\'s.',
    rows,
    leavesOut: [
      'Network latency: client and server share a loopback interface, so the first byte is mostly render time.',
      'The slow loader starts at request start either way here (its component is in the layout the page renders first); ' +
        'pages where hoisting starts it earlier than plain Astro finish earlier (section 1).',
    ],
    seconds: (performance.now() - started) / 1000,
  };
}

// Unit tests of <Defer>'s runtime (js/defer.js): the middleware streams the page as it comes,
// then each deferred part as it is ready, in its template with the swap script; it leaves other
// responses alone and stops when the client goes away.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { __defer, onRequest, SWAP_SCRIPT } from '../../js/defer.js';

const encoder = new TextEncoder();
const delay = (/** @type {number} */ ms) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * A page whose render (started inside `next()`, as Astro's is) writes `before`, registers the
 * given deferred parts, then writes `after` `gapMs` later.
 * @param {{ ms: number, html?: string, fail?: boolean, error?: string }[]} parts
 * @param {number} [gapMs]
 */
function page(parts, gapMs = 5) {
  return async () =>
    new Response(
      new ReadableStream({
        async start(controller) {
          controller.enqueue(encoder.encode('<html><body>before'));
          for (const p of parts) {
            const id = __defer(
              { url: new URL('http://127.0.0.1/p') },
              () => delay(p.ms).then(() => (p.fail ? Promise.reject(new Error('boom')) : /** @type {string} */ (p.html))),
              p.error === undefined ? null : async () => /** @type {string} */ (p.error),
            );
            controller.enqueue(encoder.encode(`<astro-hoist-defer data-id="${id}">…</astro-hoist-defer>`));
          }
          await delay(gapMs);
          controller.enqueue(encoder.encode('after</body></html>'));
          controller.close();
        },
      }),
      { headers: { 'content-type': 'text/html', 'content-length': '999' } },
    );
}

/** Reads a body, recording when each chunk came. */
async function read(/** @type {Response} */ response) {
  const started = performance.now();
  const reader = /** @type {ReadableStream<Uint8Array>} */ (response.body).getReader();
  const decoder = new TextDecoder();
  /** @type {{ at: number, text: string }[]} */
  const chunks = [];
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    chunks.push({ at: performance.now() - started, text: decoder.decode(value) });
  }
  return chunks;
}

test('the page streams first; parts follow as they are ready, in any order, each in its template with the swap script', async (t) => {
  t.mock.method(console, 'error', () => {});
  const response = await onRequest({ request: new Request('http://127.0.0.1/p') }, page([{ ms: 60, html: '<b>slow</b>' }, { ms: 20, html: '<i>fast</i>' }, { ms: 10, fail: true, error: '<u>sorry</u>' }, { ms: 15, fail: true }]));
  assert.equal(response.headers.get('content-length'), null, 'the parts add bytes');
  const chunks = await read(response);
  const text = chunks.map((c) => c.text).join('');
  const end = text.indexOf('</html>');
  assert.ok(end > 0 && chunks.find((c) => c.text.includes('</html>'))?.at < 40, 'the page did not wait for its parts');
  const part = (/** @type {string} */ id, /** @type {string} */ html) => `<template data-astro-hoist-defer="${id}">${html}</template><script>${SWAP_SCRIPT}</script>`;
  assert.equal(text.slice(end + '</html>'.length), [part('d3', '<u>sorry</u>'), part('d4', ''), part('d2', '<i>fast</i>'), part('d1', '<b>slow</b>')].join(''));
});

test('no Defer, or not HTML: the response is the page\'s own', async () => {
  const html = await onRequest({ request: new Request('http://127.0.0.1/p') }, page([]));
  assert.equal((await read(html)).map((c) => c.text).join(''), '<html><body>beforeafter</body></html>');
  const json = new Response('{}', { headers: { 'content-type': 'application/json' } });
  assert.equal(await onRequest({ request: new Request('http://127.0.0.1/p') }, async () => json), json);
  // Outside the middleware (or prerendering), Defer renders in place.
  assert.equal(__defer({}, async () => 'x', null), null);
  assert.equal(__defer({ isPrerendered: true }, async () => 'x', null), null);
});

test('a client that goes away while a part renders ends the stream; nothing is left pending', async () => {
  const response = await onRequest({ request: new Request('http://127.0.0.1/p') }, page([{ ms: 50, html: 'late' }]));
  const reader = /** @type {ReadableStream<Uint8Array>} */ (response.body).getReader();
  let text = '';
  while (!text.includes('</html>')) text += new TextDecoder().decode((await reader.read()).value);
  const pending = reader.read();
  await reader.cancel('client gone');
  assert.deepEqual(await pending, { done: true, value: undefined });
  await delay(70);
});

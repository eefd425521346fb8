// Out-of-order streaming: `<Defer>` (js/Defer.astro) writes its fallback at once and renders its
// default slot in the background; this module's middleware streams the page as Astro writes it
// and, after the page's last byte, each deferred part as soon as it is ready, in a <template>
// followed by a small inline script that swaps it into place. Parts resolve in any order.
//
// The middleware only wraps HTML responses of a request in which a Defer rendered; every other
// response passes through untouched. The swap script is one fixed text (a CSP hash covers every
// copy); it moves the part's nodes in place and re-creates its scripts so they run, as they
// would have in place (an island's hydration script among them).

import { AsyncLocalStorage } from 'node:async_hooks';
import { createHash } from 'node:crypto';
import { copyRegisteredSymbols } from './middleware.js';
import { processWide } from './process-wide.js';

const PREFIX = '[astro-hoist]';

/**
 * The deferred parts of one request.
 * @typedef {object} DeferredParts
 * @property {number} count parts registered so far (their ids)
 * @property {Set<Promise<string>>} pending each part's chunk (template + script), once rendered
 * @property {(() => void) | null} wake called when a part settles or registers
 * @property {boolean} closed the response is complete or cancelled: later parts are dropped
 */

/** @type {AsyncLocalStorage<DeferredParts>} the request the middleware is handling */
const requests = processWide('deferRequests', () => new AsyncLocalStorage());
/** @type {AsyncLocalStorage<true>} set while a part renders: the runtime marks the loaders it reads as deferred */
const deferredRenders = processWide('deferredRenders', () => new AsyncLocalStorage());

/**
 * Swaps every deferred part the document holds into its placeholder: its nodes replace the
 * fallback, and its scripts are re-created so they run (scripts parsed inside a <template>
 * never do). Idempotent and position-free, so it works however the script is run again (a
 * client-router navigation re-runs a new page's inline scripts).
 */
export const SWAP_SCRIPT =
  "(()=>{for(const t of document.querySelectorAll('template[data-astro-hoist-defer]')){const h=document.querySelector('astro-hoist-defer[data-id=\"'+t.dataset.astroHoistDefer+'\"]');if(!h)continue;const f=t.content.cloneNode(true);for(const o of f.querySelectorAll('script')){const n=document.createElement('script');for(const a of o.attributes)n.setAttribute(a.name,a.value);n.textContent=o.textContent;o.replaceWith(n)}h.replaceWith(f);t.remove()}})()";

/** The CSP source of the swap script (`'sha256-…'`): the integration adds it to Astro's policy. */
export const SWAP_SCRIPT_HASH = `sha256-${createHash('sha256').update(SWAP_SCRIPT).digest('base64')}`;

/**
 * Called by `<Defer>`'s frontmatter: registers its default slot's render as a deferred part of
 * the current request and returns the id of its placeholder, or null when it must render in
 * place (a prerendered page, or no middleware to stream it later).
 * @param {{ isPrerendered?: boolean, url?: URL }} astro the Defer's `Astro`
 * @param {() => Promise<string>} render renders the default slot to HTML
 * @param {(() => Promise<string>) | null} renderError renders the `error` slot, if there is one
 * @returns {string | null}
 */
export function __defer(astro, render, renderError) {
  const parts = requests.getStore();
  if (!parts || parts.closed || astro?.isPrerendered) return null;
  const id = `d${++parts.count}`;
  const chunk = deferredRenders.run(true, render).then(
    (html) => part(id, html),
    async (error) => {
      console.error(`${PREFIX} <Defer> on ${astro?.url?.pathname ?? 'a page'}: its content failed to render; ${renderError ? 'the error slot shows instead' : 'the fallback is removed'}.`, error);
      if (!renderError) return part(id, '');
      try {
        return part(id, await renderError());
      } catch (slotError) {
        console.error(`${PREFIX} <Defer>: its error slot failed to render too.`, slotError);
        return part(id, '');
      }
    },
  );
  parts.pending.add(chunk);
  parts.wake?.();
  return id;
}

/**
 * The bytes that deliver one part: the HTML in an inert template, then the swap.
 * @param {string} id
 * @param {string} html
 */
function part(id, html) {
  return `<template data-astro-hoist-defer="${id}">${html}</template><script>${SWAP_SCRIPT}</script>`;
}

/**
 * Astro middleware: runs the request with a place for deferred parts, and streams them after
 * the page when a `<Defer>` registered some. Never fails the page for its own sake.
 * @param {{ request: Request }} _context
 * @param {() => Promise<Response>} next
 * @returns {Promise<Response>}
 */
export async function onRequest(_context, next) {
  /** @type {DeferredParts} */
  const parts = { count: 0, pending: new Set(), wake: null, closed: false };
  const response = await requests.run(parts, next);
  const type = response.headers.get('content-type') ?? '';
  if (!response.body || response.bodyUsed || !type.includes('text/html')) {
    parts.closed = true;
    return response;
  }
  const headers = new Headers(response.headers);
  // The parts add bytes after the page's.
  headers.delete('content-length');
  let wrapped;
  try {
    wrapped = new Response(withParts(response.body, parts), { status: response.status, statusText: response.statusText, headers });
  } catch {
    parts.closed = true;
    return response;
  }
  copyRegisteredSymbols(response, wrapped);
  return wrapped;
}

/**
 * The page's bytes as they come, then each deferred part as it is ready.
 * @param {ReadableStream<Uint8Array>} body
 * @param {DeferredParts} parts
 * @returns {ReadableStream<Uint8Array>}
 */
function withParts(body, parts) {
  const reader = body.getReader();
  const encoder = new TextEncoder();
  let pageDone = false;
  /** @type {string[]} parts ready to send */
  const ready = [];
  const settle = (/** @type {Promise<string>} */ chunk) => {
    chunk.then((text) => {
      parts.pending.delete(chunk);
      if (!parts.closed) ready.push(text);
      parts.wake?.();
    });
  };
  for (const chunk of parts.pending) settle(chunk);
  const registered = new WeakSet(parts.pending);
  return new ReadableStream({
    async pull(controller) {
      try {
        if (!pageDone) {
          const { done, value } = await reader.read();
          if (!done) {
            controller.enqueue(value);
            return;
          }
          pageDone = true;
        }
        // After the page: one ready part per pull, waiting for the next when none is.
        for (;;) {
          for (const chunk of parts.pending) {
            if (!registered.has(chunk)) {
              registered.add(chunk);
              settle(chunk);
            }
          }
          const next = ready.shift();
          if (next !== undefined) {
            controller.enqueue(encoder.encode(next));
            return;
          }
          if (parts.pending.size === 0) {
            parts.closed = true;
            controller.close();
            return;
          }
          await new Promise((resolve) => {
            parts.wake = () => {
              parts.wake = null;
              resolve(undefined);
            };
          });
          // The client went away while a part was rendering.
          if (parts.closed) return;
        }
      } catch (error) {
        parts.closed = true;
        try {
          controller.error(error);
        } catch {
          // Already cancelled.
        }
      }
    },
    cancel(reason) {
      parts.closed = true;
      return reader.cancel(reason);
    },
  });
}

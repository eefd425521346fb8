// astro-hoist/middleware: opens and closes each request's loader state.
//
// After `next()`, if the page started loaders (its hoisted batch, or its own loader), it wraps the
// response body so the request's AbortController fires when the body has been sent or cancelled
// (the client disconnecting ends it too): loaders still running then, e.g. unread speculative
// ones, see their `signal` abort. It also adds a `Server-Timing` header, one entry per loader.
// A response whose page started no loader goes out untouched, at no cost: the request state is
// created by the first loader, not here.

import { __existingRequestState } from './runtime.js';

/**
 * @typedef {import('./runtime.js').RequestState} RequestState
 * @typedef {import('./runtime.js').LoaderTiming} LoaderTiming
 */

/**
 * Astro middleware (`onRequest`). Never throws because of its own bookkeeping: if anything here
 * fails the page's own response goes out unchanged.
 * @param {{ locals: object, request: Request }} context Astro's `APIContext`
 * @param {() => Promise<Response>} next
 * @returns {Promise<Response>}
 */
export async function onRequest(context, next) {
  /** @type {Response} */
  let response;
  try {
    response = await next();
  } catch (error) {
    __existingRequestState(context.locals)?.end();
    throw error;
  }
  // Loaders a child starts later, while the body streams, are awaited by that child's render, so
  // they finish before the body does; the client disconnecting still aborts them.
  const state = __existingRequestState(context.locals);
  return state ? finishResponse(state, response) : response;
}

/**
 * Adds `Server-Timing` and ties the end of the request to the end of the body.
 * @param {RequestState} state
 * @param {Response} response
 * @returns {Promise<Response>}
 */
async function finishResponse(state, response) {
  try {
    const { status } = response;
    // Redirects, empty bodies and statuses `new Response()` cannot re-create go out untouched:
    // nothing is left to render, so the request is over now.
    if (!response.body || response.bodyUsed || status < 200 || status > 599 || (status >= 300 && status < 400)) {
      state.end();
      return response;
    }

    const headers = new Headers(response.headers);
    if (state.serverTiming) {
      // Headers leave before the page's children render, and children are where loader data is
      // read. So to report the hoisted loaders at all we hold the headers until the page's batch
      // (already started in the page's frontmatter, not speculative) has settled: the same wait the
      // slowest child would impose on the body anyway, moved before the first byte. Loaders started
      // lazily that have finished by then are listed too; later ones are not. `settled()` never
      // rejects. Set `serverTiming: false` to stream the first byte without this wait.
      await state.settled();
      const timing = serverTimingHeader(state.timings());
      if (timing) headers.append('Server-Timing', timing);
    }

    const wrapped = new Response(
      watchBody(/** @type {ReadableStream<Uint8Array>} */ (response.body), () => state.end()),
      { status, statusText: response.statusText, headers },
    );
    copyRegisteredSymbols(response, wrapped);
    return wrapped;
  } catch {
    // Our bookkeeping failed; the response must not. Only the client disconnect then ends loaders.
    return response;
  }
}

/**
 * A `Server-Timing` value with one metric per loader: a token derived from the component path
 * (`src/components/Card.astro` -> `components.Card`, repeated names get `-2`, `-3`...),
 * `dur` in milliseconds with one decimal, and `desc` with the component path.
 * @param {LoaderTiming[]} timings
 * @returns {string} empty when there is nothing to report
 */
export function serverTimingHeader(timings) {
  /** @type {Set<string>} */
  const used = new Set();
  /** @type {string[]} */
  const metrics = [];
  for (const timing of timings) {
    const label = timing.component ?? timing.name;
    const base = metricName(label);
    let name = base;
    for (let n = 2; used.has(name); n++) name = `${base}-${n}`;
    used.add(name);
    const dur = Math.max(0, timing.end - timing.start).toFixed(1);
    metrics.push(`${name};dur=${dur};desc=${quoted(label)}`);
  }
  return metrics.join(', ');
}

/**
 * A Server-Timing metric name (an RFC 9110 token) for a component path.
 * @param {string} component
 */
function metricName(component) {
  const token = component
    .normalize('NFKD') // 'Ü' -> 'U' + a combining mark, dropped below with the other non-token chars
    .replace(/[\u0300-\u036f]/g, '')
    .replace(/^\/?src\//, '') // every component lives under src/; the prefix is noise
    .replace(/\.[A-Za-z0-9]+$/, '') // extension
    .replace(/[^A-Za-z0-9_~-]+/g, '.') // '/' and friends are not token characters
    .replace(/^\.+|\.+$/g, '');
  return token || 'loader';
}

/**
 * A header quoted-string. Headers are Latin-1 only, so anything beyond printable ASCII (a
 * non-English file name) is percent-encoded rather than making `Headers` throw; `%` itself is
 * encoded too, so `decodeURIComponent` gives the path back exactly (`Ü.astro` and `%C3%9C.astro`
 * stay distinct).
 * @param {string} text
 */
function quoted(text) {
  let out = '';
  for (const char of text) {
    if (char === '"' || char === '\\') out += `\\${char}`;
    else if (char === '%') out += '%25';
    else if (char >= ' ' && char <= '~') out += char;
    else if (char.length === 1 && char >= '\ud800' && char <= '\udfff') out += '?'; // encodeURIComponent throws on it
    else out += encodeURIComponent(char);
  }
  return `"${out}"`;
}

/**
 * The same bytes as `body`; calls `onEnd` once when the body has been read to the end, failed, or
 * was cancelled by the consumer (client gone).
 * @param {ReadableStream<Uint8Array>} body
 * @param {() => void} onEnd
 * @returns {ReadableStream<Uint8Array>}
 */
function watchBody(body, onEnd) {
  const reader = body.getReader();
  let ended = false;
  const end = () => {
    if (ended) return;
    ended = true;
    onEnd();
  };
  return new ReadableStream({
    async pull(controller) {
      try {
        const { done, value } = await reader.read();
        if (done) {
          controller.close();
          end();
        } else {
          controller.enqueue(value);
        }
      } catch (error) {
        controller.error(error);
        end();
      }
    },
    cancel(reason) {
      end();
      return reader.cancel(reason);
    },
  });
}

/**
 * Astro keeps per-response data on the Response under `Symbol.for('astro.*')` keys (cookies, the
 * rewrite origin); carry them over so the replacement loses nothing Astro or another middleware set.
 * Only registered symbols are copied: the platform's own Response internals use unregistered ones
 * and must stay with their object.
 * @param {Response} from
 * @param {Response} to
 */
function copyRegisteredSymbols(from, to) {
  for (const symbol of Object.getOwnPropertySymbols(from)) {
    if (Symbol.keyFor(symbol) !== undefined) Reflect.set(to, symbol, Reflect.get(from, symbol));
  }
}

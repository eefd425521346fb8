// astro-hoist/middleware: ties each render's loaders to the response that render produces.
//
// Each invocation opens a request scope (runtime.js) around `next()`: every render started inside
// (the page, and in Astro 7 a rewrite's render) registers its loader state there. When `next()`
// returns a Response and a render of this scope started loaders, the response body is wrapped, so
// the scope ends (every loader's `signal` aborts, e.g. unread speculative ones) when the body has
// been sent or cancelled; the client disconnecting ends it too. Nothing waits: the Response goes
// back at once, its head leaves when plain Astro's would. A response whose renders started no
// loader goes out untouched, at no cost.
//
// `Server-Timing` carries what is known when the head leaves: the loaders that have settled by
// then (typically the page's own, which its frontmatter awaited). Complete per-loader timings of
// a streamed page cannot travel in a header that leaves before they finish.

import { RequestScope } from './runtime.js';

/**
 * @typedef {import('./runtime.js').LoaderTiming} LoaderTiming
 * @typedef {import('./runtime.js').RenderState} RenderState
 */

/** Responses this middleware produced, and what to do when their body ends. */
/** @type {WeakMap<Response, (() => void)[]>} */
const watched = new WeakMap();

/**
 * Astro middleware (`onRequest`). Never throws because of its own bookkeeping: if anything here
 * fails the page's own response goes out unchanged.
 * @param {{ request: Request }} context Astro's `APIContext`
 * @param {() => Promise<Response>} next
 * @returns {Promise<Response>}
 */
export async function onRequest(context, next) {
  const scope = new RequestScope(context?.request, RequestScope.current());
  /** @type {Response} */
  let response;
  try {
    response = await scope.run(next);
  } catch (error) {
    scope.end(error);
    throw error;
  }
  if (scope.states.size === 0) {
    // No loader yet. A child may still start one while the body streams; its render then ends
    // with the client's request or when it has read what it started.
    scope.ended = true;
    return response;
  }
  return finishResponse(scope, response);
}

/**
 * Adds `Server-Timing` and ties the end of the scope to the end of the body.
 * @param {RequestScope} scope
 * @param {Response} response
 * @returns {Response}
 */
function finishResponse(scope, response) {
  try {
    // The same Response again: a rewrite inside the page returned the inner render's response,
    // which an inner invocation of this middleware already watches.
    const known = watched.get(response);
    if (known) {
      known.push(() => scope.end());
      return response;
    }
    if (!response.body || response.bodyUsed) {
      // Nothing left to render (a redirect, an empty error response): the renders are over.
      scope.end();
      return response;
    }
    const headers = new Headers(response.headers);
    const timing = serverTimingOf(scope);
    if (timing) headers.append('Server-Timing', timing);
    /** @type {(() => void)[]} */
    const onEnd = [() => scope.end()];
    let wrapped;
    try {
      wrapped = new Response(watchBody(response.body, () => onEnd.forEach((end) => end())), {
        status: response.status,
        statusText: response.statusText,
        headers,
      });
    } catch {
      // A status `new Response()` cannot re-create: leave it alone; the client's request still
      // ends its loaders.
      return response;
    }
    copyRegisteredSymbols(response, wrapped);
    watched.set(wrapped, onEnd);
    return wrapped;
  } catch {
    // Our bookkeeping failed; the response must not. Only the client disconnect then ends loaders.
    return response;
  }
}

/**
 * The `Server-Timing` value for a scope's renders, as their options ask: metric names from
 * component paths (`dev` or `'paths'`), opaque component ids in production, or nothing.
 * @param {RequestScope} scope
 * @returns {string}
 */
function serverTimingOf(scope) {
  /** @type {LoaderTiming[]} */
  const timings = [];
  let paths = false;
  for (const state of scope.states) {
    const mode = state.serverTiming ?? (state.dev ? 'paths' : false);
    if (!mode) continue;
    paths ||= mode === 'paths';
    timings.push(...state.timings());
  }
  if (timings.length === 0) return '';
  timings.sort((a, b) => a.start - b.start);
  return paths ? serverTimingHeader(timings) : opaqueServerTimingHeader(timings);
}

/**
 * A `Server-Timing` value that names no file: one metric per loader, named by its component's id
 * (blake3 of the root-relative path, as `astro-hoist analyze --json` lists it).
 * @param {LoaderTiming[]} timings
 * @returns {string}
 */
export function opaqueServerTimingHeader(timings) {
  return timings
    .map((timing) => {
      const name = timing.key && /^[A-Za-z0-9]+$/.test(timing.key) ? `hoist-${timing.key}` : 'hoist';
      return `${name};dur=${Math.max(0, timing.end - timing.start).toFixed(1)}${timing.cache ? `;cache=${timing.cache}` : ''}`;
    })
    .join(', ');
}

/**
 * A `Server-Timing` value with one metric per loader: a token derived from the component path
 * (`src/components/Card.astro` -> `components.Card`, repeated names get `-2`, `-3`...),
 * `dur` in milliseconds with one decimal, `desc` with the component path, and `cache` (hit, stale,
 * miss, bypass) for a cached loader.
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
    // `cache`: hit, stale, miss or bypass for a cached loader (a parameter browsers ignore and
    // APM agents keep).
    metrics.push(`${name};dur=${dur};desc=${quoted(label)}${timing.cache ? `;cache=${timing.cache}` : ''}`);
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
export function copyRegisteredSymbols(from, to) {
  for (const symbol of Object.getOwnPropertySymbols(from)) {
    if (Symbol.keyFor(symbol) !== undefined) Reflect.set(to, symbol, Reflect.get(from, symbol));
  }
}

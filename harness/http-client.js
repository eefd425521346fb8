// Requests against a served project, bounded by timeouts, and their wall-clock times.

const REQUEST_TIMEOUT_MS = 30_000;

/**
 * @typedef {object} FetchedResponse
 * @property {number} status
 * @property {Headers} headers
 * @property {string} text the whole body
 * @property {number} ms from sending the request to the end of the body
 */

/**
 * Fetches a URL and reads the whole body (never throws on an HTTP error status).
 * @param {string} url
 * @param {{ timeoutMs?: number, init?: RequestInit }} [options]
 * @returns {Promise<FetchedResponse>}
 */
export async function fetchResponse(url, { timeoutMs = REQUEST_TIMEOUT_MS, init = {} } = {}) {
  const started = performance.now();
  let response;
  try {
    try {
      response = await fetch(url, { redirect: 'manual', ...init, signal: AbortSignal.timeout(timeoutMs) });
    } catch (error) {
      // A kept-alive connection the server closed while this process could not notice (Node's
      // server closes an idle one after 5 s; a test blocked in spawnSync longer than that then
      // sends on it): a GET that got no response is sent again, once, on a new connection.
      if (!isStaleConnection(error, init)) throw error;
      response = await fetch(url, { redirect: 'manual', ...init, signal: AbortSignal.timeout(timeoutMs) });
    }
    const text = await response.text();
    return { status: response.status, headers: response.headers, text, ms: performance.now() - started };
  } catch (error) {
    const reason = /** @type {Error} */ (error);
    const what = reason.name === 'TimeoutError' ? `no complete response within ${timeoutMs} ms` : reason.message;
    const cause = /** @type {{ cause?: { code?: string, message?: string } }} */ (reason).cause;
    const detail = cause?.code || cause?.message ? ` (${[cause.code, cause.message].filter(Boolean).join(': ')})` : '';
    throw new Error(`GET ${url}: ${what}${detail}${response ? ` (status ${response.status})` : ''}`, { cause: error });
  }
}

/** Socket errors of a request whose connection was closed under it before any response. */
const STALE_CONNECTION = new Set(['UND_ERR_SOCKET', 'ECONNRESET', 'EPIPE']);

/**
 * Whether `fetch` failed on a connection the server had closed, for a request safe to send again.
 * @param {unknown} error
 * @param {RequestInit} init
 */
function isStaleConnection(error, init) {
  const method = (init.method ?? 'GET').toUpperCase();
  if (method !== 'GET' && method !== 'HEAD') return false;
  const cause = /** @type {{ cause?: { code?: string } }} */ (error)?.cause;
  return error instanceof TypeError && typeof cause?.code === 'string' && STALE_CONNECTION.has(cause.code);
}

/**
 * The body of a 2xx response; throws with the status and the start of the body otherwise.
 * @param {string} url
 * @param {{ timeoutMs?: number, init?: RequestInit }} [options]
 * @returns {Promise<string>}
 */
export async function fetchText(url, options) {
  const { status, text } = await fetchResponse(url, options);
  if (status < 200 || status > 299) throw new Error(`GET ${url}: HTTP ${status}\n${text.slice(0, 2000)}`);
  return text;
}

/**
 * Wall time of one complete request (headers and whole body), in ms. Throws on a non-2xx status.
 * @param {string} url
 * @param {{ timeoutMs?: number }} [options]
 * @returns {Promise<number>}
 */
export async function timeRequest(url, options) {
  const { status, text, ms } = await fetchResponse(url, options);
  if (status < 200 || status > 299) throw new Error(`GET ${url}: HTTP ${status}\n${text.slice(0, 2000)}`);
  return ms;
}

/**
 * The fastest of `tries` sequential requests, in ms: robust against a cold first request and
 * scheduler noise, so it is what timing assertions should use.
 * @param {string} url
 * @param {{ tries?: number, timeoutMs?: number }} [options]
 * @returns {Promise<{ min: number, samples: number[] }>}
 */
export async function minRequestTime(url, { tries = 5, timeoutMs } = {}) {
  /** @type {number[]} */
  const samples = [];
  for (let i = 0; i < tries; i++) samples.push(await timeRequest(url, { timeoutMs }));
  return { min: Math.min(...samples), samples };
}

/**
 * @typedef {object} StreamTiming
 * @property {number} status
 * @property {number} firstByte ms from sending the request to the first body byte
 * @property {Record<string, number>} markers ms until each marker string had fully arrived
 * @property {number} end ms until the body ended
 * @property {string} text the whole body
 */

/**
 * Reads a streamed response chunk by chunk and records when its first byte, each marker and its
 * end arrived (wall clock, from sending the request).
 * @param {string} url
 * @param {string[]} markers
 * @param {{ timeoutMs?: number }} [options]
 * @returns {Promise<StreamTiming>}
 */
export async function streamTimes(url, markers, { timeoutMs = REQUEST_TIMEOUT_MS } = {}) {
  const started = performance.now();
  const response = await fetch(url, { redirect: 'manual', signal: AbortSignal.timeout(timeoutMs) });
  const reader = /** @type {ReadableStream<Uint8Array>} */ (response.body).getReader();
  const decoder = new TextDecoder();
  let text = '';
  let firstByte = NaN;
  /** @type {Record<string, number>} */
  const found = {};
  for (;;) {
    const { done, value } = await reader.read();
    const now = performance.now() - started;
    if (done) break;
    if (Number.isNaN(firstByte) && value.byteLength > 0) firstByte = now;
    text += decoder.decode(value, { stream: true });
    for (const marker of markers) if (!(marker in found) && text.includes(marker)) found[marker] = now;
  }
  text += decoder.decode();
  return { status: response.status, firstByte, markers: found, end: performance.now() - started, text };
}

// A fake data API for fixtures' loaders: every endpoint waits, then answers JSON, and counts
// its calls, so tests can assert both timing (waterfall or not) and "exactly once per request".
import http from 'node:http';

/**
 * @typedef {object} LatencyApi
 * @property {string} url base URL without a trailing slash; give it to the server as HOIST_API
 * @property {Map<string, number>} counts completed-or-pending calls per pathname (query excluded)
 * @property {Map<string, number>} aborted calls per pathname whose client went away before the answer
 * @property {{ path: string, at: number }[]} calls every call in arrival order (`at`: ms since start)
 * @property {(path: string) => number} count calls of one pathname (0 if none)
 * @property {() => void} reset forget counts, aborts and calls
 * @property {() => Promise<void>} stop
 */

/**
 * Starts the latency API on 127.0.0.1 with an OS-chosen port. Any path answers, after the delay,
 * `{ path, n, label, delayMs }` (n: this path's call number, label: the last path segment).
 * Query parameters shape one answer: `?delay=<ms>` overrides the delay, `?status=<code>` answers
 * with that status (JSON `{ error }`), `?hang=1` never answers (until the client aborts).
 * `slots` models a data source with a connection pool: at most that many calls are answered at a
 * time, the others wait for a free slot (each call holds one for its delay).
 * @param {{ delayMs?: number, slots?: number }} [options]
 * @returns {Promise<LatencyApi>}
 */
export function startLatencyApi({ delayMs = 50, slots = Infinity } = {}) {
  let busy = 0;
  /** @type {(() => void)[]} */
  const waiting = [];
  /** @param {() => void} start */
  const acquire = (start) => {
    if (busy < slots) {
      busy++;
      start();
    } else waiting.push(start);
  };
  const release = () => {
    const next = waiting.shift();
    if (next) next();
    else busy--;
  };
  const started = performance.now();
  /** @type {Map<string, number>} */
  const counts = new Map();
  /** @type {Map<string, number>} */
  const aborted = new Map();
  /** @type {{ path: string, at: number }[]} */
  const calls = [];

  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const pathname = url.pathname;
    const n = (counts.get(pathname) ?? 0) + 1;
    counts.set(pathname, n);
    calls.push({ path: pathname, at: performance.now() - started });

    let answered = false;
    res.on('close', () => {
      if (!answered) aborted.set(pathname, (aborted.get(pathname) ?? 0) + 1);
    });
    if (url.searchParams.get('hang') === '1') return;

    const delay = url.searchParams.has('delay') ? Number(url.searchParams.get('delay')) : delayMs;
    const status = url.searchParams.has('status') ? Number(url.searchParams.get('status')) : 200;
    /** @type {NodeJS.Timeout | undefined} */
    let timer;
    let holding = false;
    res.on('close', () => {
      clearTimeout(timer);
      if (holding) {
        holding = false;
        release();
      }
    });
    acquire(() => {
      holding = true;
      if (res.destroyed) {
        holding = false;
        release();
        return;
      }
      timer = setTimeout(() => {
        answered = true;
        holding = false;
        release();
        const body =
          status >= 200 && status < 300
            ? { path: pathname, n, label: pathname.split('/').filter(Boolean).pop() ?? '', delayMs: delay }
            : { error: `status ${status} requested`, path: pathname, n };
        res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
      }, delay);
    });
  });
  // Loaders fetch with keep-alive. undici reuses a socket only while more than a second of the
  // server's keep-alive remains, so 1 s would mean a new connection per fetch; stop() closes
  // all connections anyway.
  server.keepAliveTimeout = 5_000;

  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      resolve({
        url: `http://127.0.0.1:${port}`,
        counts,
        aborted,
        calls,
        count: (path) => counts.get(path) ?? 0,
        reset() {
          counts.clear();
          aborted.clear();
          calls.length = 0;
        },
        stop: () =>
          new Promise((done) => {
            server.closeAllConnections();
            server.close(() => done());
          }),
      });
    });
  });
}

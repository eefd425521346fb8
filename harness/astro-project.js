// Astro mini-projects under test: copy a fixture into an environment's work folder (so module
// resolution walks up to that environment's node_modules), build it, serve the build, or run
// `astro dev`, always with the environment's Node.
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { run, spawnManaged, tail, waitForOutput } from './child-process.js';
import { ALL_ENVIRONMENTS, ensureEnv, envDir } from './environment.js';

/** @typedef {import('./environment.js').EnvName} EnvName */

/** Fixture projects: `__test__/fixtures/<name>/` (astro.config.mjs, src/...). */
export const FIXTURES_DIR = fileURLToPath(new URL('../__test__/fixtures/', import.meta.url));

const BUILD_TIMEOUT_MS = 5 * 60_000;
const SERVE_START_TIMEOUT_MS = 30_000;
const DEV_START_TIMEOUT_MS = 90_000;

/**
 * @typedef {object} RunningServer
 * @property {string} url base URL without a trailing slash, e.g. `http://127.0.0.1:40123`
 * @property {number | null} pid the server process (null for the in-process static server)
 * @property {() => string} output the server's recent stdout+stderr ('' for the static server)
 * @property {() => Promise<void>} stop
 */

/**
 * @typedef {object} ProjectOptions
 * @property {Record<string, string>} [env] extra environment variables for the Astro process
 *   (e.g. `{ HOIST_API: api.url }`)
 * @property {number} [timeoutMs]
 */

/**
 * Copies `__test__/fixtures/<name>/` to `harness/<env>/work/<as ?? name>/` (replacing an
 * earlier copy; node_modules, dist and .astro are not copied), then applies `files`. Installs the
 * environment first if needed.
 * @param {EnvName} env
 * @param {string} name fixture folder name
 * @param {{ files?: Record<string, string | null>, as?: string }} [options] files: root-relative
 *   path -> new content, or null to delete; as: work folder name, for two variants of one fixture
 *   (or the same fixture used by test files running in parallel)
 * @returns {Promise<string>} absolute path of the project root
 */
export async function prepareFixture(env, name, { files = {}, as = name } = {}) {
  await ensureEnv(env);
  const source = path.join(FIXTURES_DIR, name);
  if (!fs.existsSync(source)) throw new Error(`no fixture ${source}`);
  if (!/^[\w.-]+$/.test(as)) throw new Error(`prepareFixture: bad work folder name ${JSON.stringify(as)}`);
  const root = path.join(envDir(env), 'work', as);
  fs.rmSync(root, { recursive: true, force: true });
  fs.cpSync(source, root, {
    recursive: true,
    filter: (from) => !['node_modules', 'dist', '.astro'].includes(path.basename(from)),
  });
  for (const [relative, content] of Object.entries(files)) {
    const target = path.join(root, relative);
    if (!target.startsWith(root + path.sep)) throw new Error(`prepareFixture: ${relative} is outside the project`);
    if (content === null) {
      fs.rmSync(target, { recursive: true, force: true });
    } else {
      fs.mkdirSync(path.dirname(target), { recursive: true });
      fs.writeFileSync(target, content);
    }
  }
  return root;
}

/**
 * Which environment a prepared project belongs to (from its location).
 * @param {string} root
 * @returns {EnvName}
 */
export function envOf(root) {
  const [env, work] = path.relative(fileURLToPath(new URL('./', import.meta.url)), path.resolve(root)).split(path.sep);
  const known = /** @type {readonly string[]} */ (ALL_ENVIRONMENTS);
  if (!known.includes(env) || work !== 'work') {
    throw new Error(`${root} is not a prepared project (expected harness/<env>/work/<name>; use prepareFixture)`);
  }
  return /** @type {EnvName} */ (env);
}

/**
 * Runs an Astro CLI command in a prepared project with its environment's Node, to completion.
 * @param {string} root
 * @param {string[]} args e.g. ['check']
 * @param {ProjectOptions} [options]
 * @returns {Promise<{ output: string, ms: number, peakRssMb: number }>}
 */
export async function runAstro(root, args, { env = {}, timeoutMs = BUILD_TIMEOUT_MS } = {}) {
  const info = await ensureEnv(envOf(root));
  return run(info.node, [info.astroCli, ...args, '--root', root], {
    cwd: root,
    env: childEnv(info, env),
    label: `astro ${args.join(' ')} (${info.name}, ${path.basename(root)})`,
    timeoutMs,
  });
}

/**
 * `astro build` of a prepared project. Rejects with the build's output tail on failure.
 * @param {string} root
 * @param {ProjectOptions} [options]
 * @returns {Promise<{ output: string, ms: number, peakRssMb: number }>}
 */
export function build(root, options) {
  return runAstro(root, ['build'], options);
}

/**
 * Serves a built project on 127.0.0.1 with an OS-chosen port. `output: 'server'` builds
 * (dist/server/entry.mjs) run in a child process with the environment's Node (see
 * serve-entry.mjs); fully static builds are served from dist/ by a small in-process server.
 * @param {string} root
 * @param {ProjectOptions} [options] env: e.g. `{ HOIST_API: api.url }` for the server process
 * @returns {Promise<RunningServer>}
 */
export async function serve(root, { env = {}, timeoutMs = SERVE_START_TIMEOUT_MS } = {}) {
  const info = await ensureEnv(envOf(root));
  const entry = path.join(root, 'dist', 'server', 'entry.mjs');
  if (!fs.existsSync(entry)) {
    if (fs.existsSync(path.join(root, 'dist'))) return serveStatic(path.join(root, 'dist'));
    throw new Error(`${root} has no dist/: build it first`);
  }
  const child = spawnManaged(info.node, [fileURLToPath(new URL('./serve-entry.mjs', import.meta.url)), entry], {
    cwd: root,
    env: { ...childEnv(info, env), ASTRO_NODE_AUTOSTART: 'disabled' },
    label: `server (${info.name}, ${path.basename(root)})`,
  });
  try {
    const match = await waitForOutput(child, /ASTRO_HOIST_E2E_LISTENING (\{.*\})/, timeoutMs);
    const { port } = JSON.parse(match[1]);
    return { url: `http://127.0.0.1:${port}`, pid: child.pid, output: child.output, stop: child.stop };
  } catch (error) {
    await child.stop();
    throw error;
  }
}

/**
 * Starts `astro dev` for a prepared project on 127.0.0.1 (a port that was free a moment ago; the
 * URL is read from Astro's output, so a fallback port still works).
 * @param {string} root
 * @param {ProjectOptions} [options]
 * @returns {Promise<RunningServer>}
 */
export async function dev(root, { env = {}, timeoutMs = DEV_START_TIMEOUT_MS } = {}) {
  const info = await ensureEnv(envOf(root));
  const port = await freePort();
  const child = spawnManaged(info.node, [info.astroCli, 'dev', '--root', root, '--host', '127.0.0.1', '--port', String(port)], {
    cwd: root,
    env: childEnv(info, env),
    label: `astro dev (${info.name}, ${path.basename(root)})`,
  });
  try {
    const match = await waitForOutput(child, /Local\s+(http:\/\/(?:127\.0\.0\.1|localhost):\d+)/, timeoutMs);
    return { url: match[1].replace('localhost', '127.0.0.1'), pid: child.pid, output: child.output, stop: child.stop };
  } catch (error) {
    await child.stop();
    throw new Error(`${/** @type {Error} */ (error).message}${child.running() ? '' : tail(child)}`);
  }
}

/**
 * Environment of an Astro process: the caller's variables, the environment's Node first on PATH
 * (anything Astro spawns as `node` gets the same version), no telemetry, no update check, no
 * colors (output is parsed), and without node:test's marker variable.
 * @param {import('./environment.js').EnvInfo} info
 * @param {Record<string, string>} extra
 * @returns {NodeJS.ProcessEnv}
 */
function childEnv(info, extra) {
  /** @type {NodeJS.ProcessEnv} */
  const env = {
    ...process.env,
    PATH: `${path.dirname(info.node)}${path.delimiter}${process.env.PATH ?? ''}`,
    ASTRO_TELEMETRY_DISABLED: '1',
    ASTRO_DISABLE_UPDATE_CHECK: 'true',
    NO_COLOR: '1',
    FORCE_COLOR: '0',
    ...extra,
  };
  delete env.NODE_TEST_CONTEXT;
  return env;
}

/**
 * A TCP port on 127.0.0.1 that is free right now.
 * @returns {Promise<number>}
 */
export function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

const CONTENT_TYPES = /** @type {Record<string, string>} */ ({
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.svg': 'image/svg+xml',
  '.txt': 'text/plain; charset=utf-8',
  '.xml': 'application/xml',
});

/**
 * Serves a static build (`output: 'static'`) from `distDir` in this process: `/a` and `/a/` map to
 * `a/index.html` or `a.html`.
 * @param {string} distDir
 * @returns {Promise<RunningServer>}
 */
export function serveStatic(distDir) {
  const server = http.createServer((req, res) => {
    const pathname = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
    const base = path.join(distDir, path.normalize(pathname));
    const candidates = [base, path.join(base, 'index.html'), `${base.replace(/\/$/, '')}.html`];
    const file = candidates.find((candidate) => candidate.startsWith(distDir) && fs.statSync(candidate, { throwIfNoEntry: false })?.isFile());
    if (!file) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found');
      return;
    }
    res.writeHead(200, { 'content-type': CONTENT_TYPES[path.extname(file)] ?? 'application/octet-stream' });
    fs.createReadStream(file).pipe(res);
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      resolve({
        url: `http://127.0.0.1:${port}`,
        pid: null,
        output: () => '',
        stop: () =>
          new Promise((done) => {
            server.closeAllConnections();
            server.close(() => done());
          }),
      });
    });
  });
}

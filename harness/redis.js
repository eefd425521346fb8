// A Redis server for tests and benchmarks: Debian's `redis-server`, installed with apt-get when
// missing (the test command installs what it needs), started on a free loopback port with no
// persistence, stopped (or killed, to test a store going away) by its process id.
import fs from 'node:fs';
import net from 'node:net';
import { run, spawnManaged, waitForOutput } from './child-process.js';

const REDIS_BIN = '/usr/bin/redis-server';
const START_TIMEOUT_MS = 20_000;

/**
 * Installs Debian's redis-server unless it is there.
 * @returns {Promise<string>} the binary
 */
export async function ensureRedisServer() {
  if (fs.existsSync(REDIS_BIN)) return REDIS_BIN;
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  await run('apt-get', ['install', '-y', '--no-install-recommends', 'redis-server'], { cwd: '/', env, label: 'apt-get install redis-server', timeoutMs: 10 * 60_000 }).catch(async () => {
    // A fresh machine may have no package lists yet.
    await run('apt-get', ['update'], { cwd: '/', env, label: 'apt-get update', timeoutMs: 10 * 60_000 });
    await run('apt-get', ['install', '-y', '--no-install-recommends', 'redis-server'], { cwd: '/', env, label: 'apt-get install redis-server', timeoutMs: 10 * 60_000 });
  });
  if (!fs.existsSync(REDIS_BIN)) throw new Error(`apt-get installed redis-server, but ${REDIS_BIN} is missing`);
  return REDIS_BIN;
}

/** A port that was free a moment ago on 127.0.0.1. */
function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = /** @type {net.AddressInfo} */ (server.address());
      server.close(() => resolve(port));
    });
  });
}

/**
 * @typedef {object} RunningRedis
 * @property {string} url redis://127.0.0.1:<port>
 * @property {number} pid
 * @property {() => Promise<void>} stop SIGTERM, then wait
 * @property {() => Promise<void>} kill SIGKILL (the store vanishes mid-run), then wait
 */

/**
 * Starts redis-server on a free loopback port, no disk persistence.
 * @returns {Promise<RunningRedis>}
 */
export async function startRedis() {
  const bin = await ensureRedisServer();
  for (let attempt = 0; ; attempt++) {
    const port = await freePort();
    const child = spawnManaged(bin, ['--bind', '127.0.0.1', '--port', String(port), '--save', '', '--appendonly', 'no', '--protected-mode', 'yes'], {
      cwd: '/tmp',
      env: process.env,
      label: `redis-server :${port}`,
    });
    try {
      await waitForOutput(child, /Ready to accept connections/, START_TIMEOUT_MS);
    } catch (error) {
      await child.stop();
      if (attempt < 3 && /Address already in use/.test(child.output())) continue; // the port was taken meanwhile
      throw error;
    }
    return {
      url: `redis://127.0.0.1:${port}`,
      pid: /** @type {number} */ (child.pid),
      stop: child.stop,
      kill: async () => {
        try {
          process.kill(/** @type {number} */ (child.pid), 'SIGKILL');
        } catch {
          // already gone
        }
        await child.exited;
      },
    };
  }
}

/**
 * Runs one redis-cli command against a server.
 * @param {string} url
 * @param {string[]} args
 * @returns {Promise<string>}
 */
export async function redisCli(url, args) {
  const { port } = new URL(url);
  const { output } = await run('redis-cli', ['-h', '127.0.0.1', '-p', port, ...args], { cwd: '/tmp', env: process.env, label: `redis-cli ${args[0]}`, timeoutMs: 30_000 });
  return output;
}

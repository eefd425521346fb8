// Child processes of the e2e harness: every process is spawned in its own process group so that
// stop() can end it together with whatever it started (Vite's esbuild service, workers), every
// wait is bounded, and every failure message carries the tail of the child's output.
import fs from 'node:fs';
import { spawn } from 'node:child_process';

/** How much of each child's stdout+stderr is kept for error messages and `output()`. */
const OUTPUT_LIMIT = 64 * 1024;
/** Grace period between SIGTERM and SIGKILL in `stop()`. */
const STOP_GRACE_MS = 5_000;

/** @type {Set<ManagedChild>} children that have not exited yet */
const live = new Set();

/**
 * @typedef {object} ManagedChild
 * @property {number} pid process id (also the process group id: spawned with `detached`)
 * @property {string} label what the process is, for error messages
 * @property {import('node:child_process').ChildProcess} child
 * @property {() => string} output the last OUTPUT_LIMIT characters of stdout and stderr, interleaved
 * @property {Promise<{ code: number | null, signal: NodeJS.Signals | null }>} exited
 * @property {() => boolean} running
 * @property {() => Promise<void>} stop SIGTERM to the process group, SIGKILL after a grace period
 */

/**
 * @typedef {object} SpawnOptions
 * @property {string} cwd
 * @property {NodeJS.ProcessEnv} env complete environment of the child
 * @property {string} label
 */

/**
 * Spawns a process in its own process group and tracks it until it exits.
 * @param {string} command
 * @param {string[]} args
 * @param {SpawnOptions} options
 * @returns {ManagedChild}
 */
export function spawnManaged(command, args, { cwd, env, label }) {
  const child = spawn(command, args, { cwd, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  /** @type {Set<(text: string) => void>} */
  const listeners = new Set();
  /** @param {Buffer} chunk */
  const onData = (chunk) => {
    const text = chunk.toString('utf8');
    output = (output + text).slice(-OUTPUT_LIMIT);
    for (const listener of listeners) listener(text);
  };
  child.stdout?.on('data', onData);
  child.stderr?.on('data', onData);

  /** @type {Promise<{ code: number | null, signal: NodeJS.Signals | null }>} */
  const exited = new Promise((resolve) => {
    child.once('error', (error) => {
      output += `\n[harness] could not start ${command}: ${error.message}\n`;
      resolve({ code: null, signal: null });
    });
    child.once('close', (code, signal) => resolve({ code, signal }));
  });

  let done = false;
  /** @type {ManagedChild} */
  const managed = {
    pid: child.pid ?? -1,
    label,
    child,
    output: () => output,
    exited,
    running: () => !done,
    async stop() {
      if (done) return;
      killGroup(managed, 'SIGTERM');
      const timer = setTimeout(() => killGroup(managed, 'SIGKILL'), STOP_GRACE_MS);
      await exited;
      clearTimeout(timer);
      // The leader is gone; make sure no member of its group outlives it.
      killGroup(managed, 'SIGKILL');
    },
  };
  live.add(managed);
  exited.then(() => {
    done = true;
    live.delete(managed);
  });
  // @ts-ignore -- private hook used by waitForOutput
  managed[LISTENERS] = listeners;
  return managed;
}

const LISTENERS = Symbol('listeners');

/**
 * @param {ManagedChild} managed
 * @param {NodeJS.Signals} signal
 */
function killGroup(managed, signal) {
  if (managed.pid <= 0) return;
  try {
    process.kill(-managed.pid, signal);
  } catch {
    // ESRCH: the group is already gone.
  }
}

/**
 * Waits until the child's output (stdout or stderr) matches `pattern`; rejects when the child exits
 * first or after `timeoutMs`, with the output tail in the message.
 * @param {ManagedChild} managed
 * @param {RegExp} pattern tested against the whole output seen so far (ANSI codes stripped)
 * @param {number} timeoutMs
 * @returns {Promise<RegExpMatchArray>}
 */
export function waitForOutput(managed, pattern, timeoutMs) {
  return new Promise((resolve, reject) => {
    // @ts-ignore -- see spawnManaged
    const listeners = /** @type {Set<(text: string) => void>} */ (managed[LISTENERS]);
    const check = () => {
      const match = stripAnsi(managed.output()).match(pattern);
      if (match) {
        finish();
        resolve(match);
      }
    };
    const timer = setTimeout(() => {
      finish();
      reject(new Error(`${managed.label}: no output matching ${pattern} within ${timeoutMs} ms${tail(managed)}`));
    }, timeoutMs);
    const finish = () => {
      clearTimeout(timer);
      listeners.delete(check);
    };
    listeners.add(check);
    managed.exited.then(({ code, signal }) => {
      if (!listeners.has(check)) return;
      check();
      if (!listeners.has(check)) return;
      finish();
      reject(new Error(`${managed.label}: exited (code ${code}, signal ${signal}) before printing ${pattern}${tail(managed)}`));
    });
    check();
  });
}

/**
 * @typedef {object} RunResult
 * @property {string} output stdout and stderr tail
 * @property {number} ms wall time
 * @property {number} peakRssMb the child's peak resident memory (Linux; 0 elsewhere)
 */

/**
 * Runs a command to completion; rejects on a non-zero exit or after `timeoutMs` (the process group
 * is killed), with the output tail in the message.
 * @param {string} command
 * @param {string[]} args
 * @param {SpawnOptions & { timeoutMs: number }} options
 * @returns {Promise<RunResult>}
 */
export async function run(command, args, options) {
  const started = performance.now();
  const managed = spawnManaged(command, args, options);
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    managed.stop();
  }, options.timeoutMs);
  // Peak memory: the kernel's high-water mark of the child's resident set (Linux), read until it exits.
  let peakKb = 0;
  const sample = () => {
    try {
      const match = /^VmHWM:\s+(\d+) kB/m.exec(fs.readFileSync(`/proc/${managed.pid}/status`, 'utf8'));
      if (match) peakKb = Math.max(peakKb, Number(match[1]));
    } catch {
      // Not Linux, or the child has exited.
    }
  };
  const sampler = setInterval(sample, 50);
  const { code, signal } = await managed.exited;
  clearInterval(sampler);
  clearTimeout(timer);
  const ms = Math.round(performance.now() - started);
  if (timedOut) throw new Error(`${options.label}: timed out after ${options.timeoutMs} ms${tail(managed)}`);
  if (code !== 0) throw new Error(`${options.label}: failed (code ${code}, signal ${signal}) after ${ms} ms${tail(managed)}`);
  return { output: managed.output(), ms, peakRssMb: peakKb / 1024 };
}

/**
 * The last lines of a child's output, formatted for an error message.
 * @param {ManagedChild} managed
 * @param {number} [lines]
 */
export function tail(managed, lines = 40) {
  const text = stripAnsi(managed.output()).trimEnd().split('\n').slice(-lines).join('\n');
  return text ? `\n--- last output of ${managed.label} (pid ${managed.pid}) ---\n${text}\n---` : ' (no output)';
}

/** @param {string} text */
export function stripAnsi(text) {
  // eslint-disable-next-line no-control-regex
  return text.replace(/\u001b\[[0-9;?]*[ -/]*[@-~]/g, '');
}

/** Stops every child the harness started that is still running (for `after` hooks). */
export async function stopAll() {
  await Promise.all([...live].map((managed) => managed.stop()));
}

// Last resort: never leave servers behind when the test process ends without cleaning up.
process.once('exit', () => {
  for (const managed of live) killGroup(managed, 'SIGKILL');
});
for (const signal of /** @type {const} */ (['SIGINT', 'SIGTERM'])) {
  process.once(signal, () => {
    for (const managed of live) killGroup(managed, 'SIGKILL');
    process.kill(process.pid, signal);
  });
}

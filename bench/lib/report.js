// Statistics, the one results table, the machine description and BENCHMARKS.md.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import { Worker } from 'node:worker_threads';

/**
 * One line of the results table.
 * @typedef {object} Row
 * @property {string} case what is measured, e.g. 'nested, depth 3'
 * @property {string} variant e.g. 'astro-hoist (build)'
 * @property {string} value formatted median, e.g. '21.4'
 * @property {string} unit e.g. 'ms'
 * @property {string} ratio formatted ratio against the baseline, e.g. '1.07x'
 * @property {string} baseline what the ratio is against, e.g. 'one loader'
 * @property {string} [note]
 */

/**
 * What one section measured, and what it leaves out.
 * @typedef {object} Section
 * @property {string} id e.g. '1'
 * @property {string} title
 * @property {string} setup how it was measured (markdown)
 * @property {Row[]} rows
 * @property {string[]} leavesOut
 * @property {number} seconds wall time of the section
 */

/** @param {number[]} values */
export function median(values) {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/**
 * Rotates `items` by `round` so no variant always runs first (or right after another's idle).
 * @template T
 * @param {T[]} items
 * @param {number} round
 * @returns {T[]}
 */
export function rotate(items, round) {
  const k = round % items.length;
  return [...items.slice(k), ...items.slice(0, k)];
}

/**
 * A number with `digits` decimals, or a dash when it is not finite.
 * @param {number} value
 * @param {number} [digits]
 */
export function fixed(value, digits = 1) {
  return Number.isFinite(value) ? value.toFixed(digits) : '–';
}

/**
 * `value / baseline` as '1.23x'.
 * @param {number} value
 * @param {number} baseline
 */
export function ratio(value, baseline) {
  const r = value / baseline;
  return Number.isFinite(r) ? `${r.toFixed(2)}x` : '–';
}

/**
 * A GitHub-flavoured markdown table; numeric-looking columns are right-aligned.
 * @param {string[]} header
 * @param {string[][]} rows
 */
export function markdownTable(header, rows) {
  const all = [header, ...rows];
  const widths = header.map((_, column) => Math.max(3, ...all.map((row) => (row[column] ?? '').length)));
  const numeric = header.map((_, column) => rows.length > 0 && rows.every((row) => /^[-–\d.,x% ]*$/.test(row[column] ?? '')));
  const line = (/** @type {string[]} */ row) =>
    `| ${row.map((cell, column) => (numeric[column] ? (cell ?? '').padStart(widths[column]) : (cell ?? '').padEnd(widths[column]))).join(' | ')} |`;
  const rule = `|${widths.map((width, column) => (numeric[column] ? `${'-'.repeat(width + 1)}:` : `:${'-'.repeat(width + 1)}`)).join('|')}|`;
  return [line(header), rule, ...rows.map(line)].join('\n');
}

const HEADER = ['section', 'case', 'variant', 'median', 'unit', 'ratio', 'baseline', 'note'];

/**
 * The one table of every section's rows.
 * @param {Section[]} sections
 */
export function resultsTable(sections) {
  return markdownTable(
    HEADER,
    sections.flatMap((section) =>
      section.rows.map((row) => [section.id, row.case, row.variant, row.value, row.unit, row.ratio, row.baseline, row.note ?? '']),
    ),
  );
}

/**
 * @param {string} command
 * @param {string[]} args
 */
function tryRun(command, args) {
  try {
    return execFileSync(command, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return 'unavailable';
  }
}

/** The machine: CPU model, cores, RAM, kernel, and the load when asked. */
export function machine() {
  let model = 'unknown';
  try {
    const cpuinfo = fs.readFileSync('/proc/cpuinfo', 'utf8');
    model = cpuinfo.match(/^model name\s*:\s*(.+)$/m)?.[1]?.trim() ?? model;
  } catch {
    // Not Linux: os.cpus() still names it.
    model = os.cpus()[0]?.model ?? model;
  }
  return {
    cpu: model,
    cores: os.availableParallelism(),
    ramGiB: (os.totalmem() / 2 ** 30).toFixed(1),
    kernel: `${os.type()} ${os.release()}`,
    rustc: tryRun('rustc', ['--version']),
  };
}

/**
 * The scheduler autogroup of a process (Linux with autogroups), e.g. '/autogroup-12', or ''.
 * @param {number | 'self'} pid
 */
function autogroup(pid) {
  try {
    return fs.readFileSync(`/proc/${pid}/autogroup`, 'utf8').split(' ')[0];
  } catch {
    return '';
  }
}

/**
 * Load averages (1, 5, 15 min) formatted, and the busiest other processes. A niced process in
 * another scheduler autogroup (another session) still gets an equal share of the CPU against this
 * one: nice only ranks processes within their autogroup. Such processes are marked.
 */
export function load() {
  const own = autogroup('self');
  const ours = lineage();
  const busy = tryRun('ps', ['-eo', 'pid=,pcpu=,ni=,comm=', '--sort=-pcpu'])
    .split('\n')
    .slice(0, 8)
    .map((line) => line.trim().split(/\s+/))
    // Not the bench itself (the npm and shell that started it included), nor this `ps`.
    .filter(([pid, cpu, , command]) => Number(cpu) >= 5 && command !== 'ps' && !ours.has(Number(pid)))
    .map(([pid, cpu, nice, ...command]) => {
      const group = autogroup(Number(pid));
      const niceNote = nice !== '0' ? ` (nice ${nice}${own && group && group !== own ? ', but in another autogroup' : ''})` : '';
      return `${command.join(' ')} ${cpu}%${niceNote}`;
    });
  return { loadavg: os.loadavg().map((value) => value.toFixed(2)).join(' '), busy };
}

/**
 * This process and its ancestors (`npm run bench` runs it through a shell): not other work.
 * @returns {Set<number>}
 */
function lineage() {
  const pids = new Set([process.pid]);
  let pid = process.ppid;
  while (pid > 1 && !pids.has(pid)) {
    pids.add(pid);
    try {
      // "pid (comm) state ppid ...": comm may hold spaces and parentheses.
      const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
      pid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    } catch {
      break; // not Linux, or the process is gone
    }
  }
  return pids;
}

/**
 * How many cores this process actually gets right now: one busy thread per core for `ms`, then
 * the CPU time they got over the wall time (2.0 on an idle 2-core machine). Other sessions' work
 * lowers it, whatever its nice level.
 * @param {number} [ms]
 * @returns {Promise<number>}
 */
export async function coresAvailable(ms = 500) {
  const before = process.cpuUsage();
  const started = performance.now();
  const spin = `const end = Date.now() + ${ms}; let n = 0; while (Date.now() < end) n++;`;
  await Promise.all(
    Array.from({ length: os.availableParallelism() }, () => new Promise((resolve) => new Worker(spin, { eval: true }).on('exit', resolve))),
  );
  const { user, system } = process.cpuUsage(before);
  return (user + system) / 1000 / (performance.now() - started);
}

/** The source revision measured: commit and whether the work tree had changes. */
export function revision() {
  const commit = tryRun('git', ['rev-parse', '--short', 'HEAD']);
  const dirty = tryRun('git', ['status', '--porcelain', '--untracked-files=no']);
  return `${commit}${dirty && dirty !== 'unavailable' ? ' (with uncommitted changes)' : ''}`;
}

#!/usr/bin/env node
// `astro-hoist analyze`: scans a project with the native core, plans every page and prints, per
// page, how deep the data-loading waterfall is without and with hoisting and why any loader is
// not hoisted; `--json` for tools, `--html` for a waterfall chart. A thin shell: the formats
// live in report.js as pure functions.

import { existsSync, readFileSync, realpathSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { pageSubgraph } from './plan.js';
import {
  buildHtmlReport,
  costsById,
  exitCode,
  fatalDiagnostics,
  formatTable,
  isRoute,
  loaderCycleFiles,
  progressLine,
  toJson,
} from './report.js';

/**
 * @typedef {import('./report.js').Analysis} Analysis
 * @typedef {import('./report.js').LoaderCycle} LoaderCycle
 * @typedef {import('../index.js').Plan} Plan
 * @typedef {import('../index.js').ScanDiagnostic} ScanDiagnostic
 * @typedef {{ write(text: string): unknown, isTTY?: boolean, columns?: number }} Output
 */

export const USAGE = `Usage: astro-hoist analyze [root] [options]

Scans an Astro project (default: the current directory) and plans every page under src/pages/:
its loaders, the waterfall depth without and with hoisting, and why a loader is not hoisted.

Options:
  --json             print { pages, cycles, diagnostics } as JSON, nothing else on stdout
  --html <file>      also write a self-contained HTML report with a waterfall chart per page
  --costs <file>     JSON object: component id or root-relative path -> estimated ms (default 1 each)
  --concurrency <n>  plan for at most n loaders in flight per request (the integration's option)
  --speculative      plan conditional children as started early (the integration's option)
  --no-cache         do not read or write the on-disk analysis cache
  -h, --help         show this help
  -v, --version      print the version

Import aliases come from the project's tsconfig.json "paths". The disk cache lives in
node_modules/.cache/astro-hoist and is only used when the project has a node_modules folder.

Exit codes:
  0  analyzed
  1  a loader dependency cycle (ctx.load), or an error in an .astro file a page renders
     (a syntax error there also stops \`astro build\`); warnings never fail
  2  bad arguments, a root that does not exist or is not a project, or an unreadable costs file
`;

/** An error that ends the CLI with exit code 2 and a one-line message. */
export class UsageError extends Error {}

/** Above this many scanned files, planning shows a progress bar (on a terminal). */
export const MANY_FILES = 300;
/** A scan still running after this long shows a spinner (on a terminal). */
const SCAN_SPINNER_DELAY_MS = 400;

/**
 * The project root, checked: an existing directory that looks like a project (a package.json,
 * an astro.config.* or a src/ folder).
 * @param {string} root as given
 * @returns {string} absolute
 */
export function checkRoot(root) {
  const absolute = path.resolve(root);
  const stat = statSync(absolute, { throwIfNoEntry: false });
  if (!stat) throw new UsageError(`${root} does not exist`);
  if (!stat.isDirectory()) throw new UsageError(`${root} is not a directory`);
  const markers = ['package.json', 'src', 'astro.config.mjs', 'astro.config.js', 'astro.config.ts', 'astro.config.mts', 'astro.config.cjs', 'astro.config.cts'];
  if (!markers.some((name) => existsSync(path.join(absolute, name)))) {
    throw new UsageError(`${root} is not an Astro project (no package.json, astro.config.* or src/ folder)`);
  }
  return absolute;
}

/**
 * @typedef {object} AnalyzeOptions
 * @property {number} [concurrency]
 * @property {boolean} [speculative]
 * @property {unknown} [costs] the parsed costs file
 * @property {boolean} [diskCache] use the on-disk cache (default: when root/node_modules exists)
 * @property {(phase: 'scan' | 'plan', done: number, total: number, files: number) => void} [onProgress]
 *   `scan` reports 0/1 then 1/1; `plan` counts pages; `files` is the number scanned (0 while scanning)
 * @property {(message: string) => void} [warn]
 */

/**
 * Scan `root` and plan every route. Rejections of `planPage` become data: a loader cycle is
 * collected once with every page it breaks; any other failure is an error diagnostic.
 * @param {string} root absolute project root
 * @param {AnalyzeOptions} [options]
 * @returns {Promise<Analysis>}
 */
export async function analyzeProject(root, options = {}) {
  const { scanProject, planPage } = await import('../index.js');
  const { concurrency, speculative = false, onProgress, warn = () => {} } = options;
  const diskCache = options.diskCache ?? existsSync(path.join(root, 'node_modules'));
  onProgress?.('scan', 0, 1, 0);
  const graph = await scanProject(root, { diskCache });
  onProgress?.('scan', 1, 1, graph.nodes.length);

  /** @type {Record<string, number> | undefined} */
  let costs;
  if (options.costs !== undefined) {
    let result;
    try {
      result = costsById(graph, options.costs);
    } catch (error) {
      throw new UsageError(/** @type {Error} */ (error).message);
    }
    costs = result.costs;
    if (result.unknown.length > 0) {
      warn(`costs: no scanned component matches ${result.unknown.map((k) => JSON.stringify(k)).join(', ')}`);
    }
  }

  const pages = graph.pages.filter(isRoute);
  /** @type {(Plan | null)[]} */
  const plans = new Array(pages.length).fill(null);
  /** @type {Map<string, LoaderCycle>} */
  const cycles = new Map();
  /** @type {ScanDiagnostic[]} */
  const planErrors = [];
  let next = 0;
  let done = 0;
  // planPage runs off the JS thread; a few at a time keeps every core busy without queueing
  // hundreds of subgraphs at once.
  const workers = Array.from({ length: Math.min(pages.length, os.availableParallelism()) }, async () => {
    while (next < pages.length) {
      const i = next++;
      const page = pages[i];
      try {
        plans[i] = await planPage(pageSubgraph(graph, page), page, { costs, concurrency, speculative });
      } catch (error) {
        const files = loaderCycleFiles(error);
        const message = error instanceof Error ? error.message : String(error);
        if (files) {
          // The same cycle breaks every page that renders one of its loaders: report it once.
          const key = [...files].slice(0, -1).sort().join('\0');
          const known = cycles.get(key);
          if (known) known.pages.push(page);
          else cycles.set(key, { files, pages: [page], message });
        } else {
          planErrors.push({ file: page, severity: 'error', code: 'plan-failed', message, line: 1, column: 1 });
        }
      }
      onProgress?.('plan', ++done, pages.length, graph.nodes.length);
    }
  });
  await Promise.all(workers);

  const loaderCycles = [...cycles.values()];
  for (const cycle of loaderCycles) cycle.pages.sort();
  const byFile = new Map(graph.nodes.map((node) => [node.file, node]));
  /** @type {ScanDiagnostic[]} */
  const cycleDiagnostics = loaderCycles.map((cycle) => {
    // Point at the first cycle member's loader.
    const span = byFile.get(cycle.files[0])?.info.loader?.span;
    return {
      file: cycle.files[0],
      severity: 'error',
      code: 'loader-cycle',
      message: `${cycle.message} (breaks ${cycle.pages.join(', ')})`,
      line: span?.line ?? 1,
      column: span?.column ?? 1,
    };
  });
  // The scan lists files' errors only; their warnings (a loader written in a form that cannot be
  // hoisted, say) explain a missing loader just as well.
  /** @type {ScanDiagnostic[]} */
  const fileWarnings = graph.nodes.flatMap((node) =>
    node.info.diagnostics
      .filter((d) => d.severity === 'warning')
      .map((d) => ({ file: node.file, severity: d.severity, code: d.code, message: d.message, line: d.line, column: d.column })),
  );
  const fatal = [...fatalDiagnostics(graph, pages), ...planErrors];
  return {
    root: graph.root,
    files: graph.nodes.length,
    plans: /** @type {Plan[]} */ (plans.filter((plan) => plan !== null)),
    loaderCycles,
    cycles: graph.cycles,
    diagnostics: [...graph.diagnostics, ...fileWarnings, ...cycleDiagnostics, ...planErrors],
    fatal,
    options: { concurrency, speculative, costs: costs !== undefined },
  };
}

/**
 * Progress on a terminal: a spinner while a long scan runs, then a bar while the pages of a
 * large project are planned. Writes nothing when `stream` is not a TTY.
 * @param {Output} stream
 */
function terminalProgress(stream) {
  if (!stream.isTTY) return { onProgress: undefined, clear() {} };
  /** @type {NodeJS.Timeout | undefined} */
  let spinner;
  let shown = false;
  let lastDraw = 0;
  let files = 0;
  /** @param {string} line */
  const draw = (line) => {
    shown = true;
    stream.write(`\r\x1b[K${line.slice(0, Math.max(20, (stream.columns || 80) - 1))}`);
  };
  const clear = () => {
    if (spinner) clearInterval(spinner);
    spinner = undefined;
    if (shown) stream.write('\r\x1b[K');
    shown = false;
  };
  /** @type {NonNullable<AnalyzeOptions['onProgress']>} */
  const onProgress = (phase, done, total) => {
    if (phase === 'scan') {
      if (done === 0) {
        const started = Date.now();
        const frames = '|/-\\';
        let frame = 0;
        spinner = setInterval(() => {
          const elapsed = Date.now() - started;
          if (elapsed >= SCAN_SPINNER_DELAY_MS) draw(`${frames[frame++ % frames.length]} scanning files… ${(elapsed / 1000).toFixed(1)} s`);
        }, 100);
        spinner.unref();
      } else {
        clear();
      }
      return;
    }
    files = total;
    const now = Date.now();
    // Redraw at most every 50 ms, and always at the end.
    if (done < total && now - lastDraw < 50) return;
    lastDraw = now;
    if (done >= total) clear();
    else draw(progressLine(done, files, 'pages planned'));
  };
  return { onProgress, clear };
}

/**
 * Run the CLI.
 * @param {string[]} argv arguments after `node cli.js`
 * @param {{ stdout?: Output, stderr?: Output, cwd?: string }} [io]
 * @returns {Promise<number>} the exit code
 */
export async function main(argv, io = {}) {
  const stdout = io.stdout ?? process.stdout;
  const stderr = io.stderr ?? process.stderr;
  /** @param {string} message */
  const fail = (message) => {
    stderr.write(`astro-hoist: ${message}\n`);
    return 2;
  };
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        json: { type: 'boolean', default: false },
        html: { type: 'string' },
        costs: { type: 'string' },
        concurrency: { type: 'string' },
        speculative: { type: 'boolean', default: false },
        'no-cache': { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
        version: { type: 'boolean', short: 'v', default: false },
      },
    });
  } catch (error) {
    // parseArgs explains some mistakes over several lines; the first says what is wrong.
    return fail(`${/** @type {Error} */ (error).message.split('\n')[0]} (astro-hoist --help lists the options)`);
  }
  const { values, positionals } = parsed;
  if (values.help) {
    stdout.write(USAGE);
    return 0;
  }
  if (values.version) {
    const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));
    stdout.write(`${pkg.version}\n`);
    return 0;
  }
  const [command, rootArg = '.', ...extra] = positionals;
  if (command !== 'analyze') {
    return fail(command === undefined ? `a command is required\n\n${USAGE}` : `unknown command '${command}' (the command is analyze)`);
  }
  if (extra.length > 0) return fail(`unexpected argument '${extra[0]}' (one root at most)`);

  /** @type {number | undefined} */
  let concurrency;
  if (values.concurrency !== undefined) {
    concurrency = Number(values.concurrency);
    if (!/^\s*\d+\s*$/.test(values.concurrency) || !Number.isSafeInteger(concurrency) || concurrency < 1) {
      return fail(`--concurrency must be a positive integer, got ${JSON.stringify(values.concurrency)}`);
    }
  }
  const cwd = io.cwd ?? process.cwd();
  /** @type {unknown} */
  let costs;
  if (values.costs !== undefined) {
    try {
      costs = JSON.parse(readFileSync(path.resolve(cwd, values.costs), 'utf8'));
    } catch (error) {
      return fail(`cannot read costs file ${values.costs}: ${/** @type {Error} */ (error).message}`);
    }
  }

  const progress = values.json ? { onProgress: undefined, clear() {} } : terminalProgress(stderr);
  /** @type {Analysis} */
  let analysis;
  try {
    const root = checkRoot(path.resolve(cwd, rootArg));
    analysis = await analyzeProject(root, {
      concurrency,
      speculative: values.speculative,
      costs,
      diskCache: values['no-cache'] ? false : undefined,
      warn: (message) => stderr.write(`astro-hoist: warning: ${message}\n`),
      onProgress: (phase, done, total, files) => {
        // Only large projects get a bar; a spinner covers a slow scan of any size.
        if (phase === 'scan' || files >= MANY_FILES) progress.onProgress?.(phase, done, total, files);
      },
    });
  } catch (error) {
    progress.clear();
    if (error instanceof UsageError) return fail(error.message.replace(path.resolve(cwd, rootArg), rootArg));
    return fail(error instanceof Error ? error.message : String(error));
  }
  progress.clear();

  if (values.json) {
    stdout.write(`${JSON.stringify(toJson(analysis), null, 2)}\n`);
  } else {
    stdout.write(formatTable(analysis, { rootLabel: rootArg }));
  }
  if (values.html !== undefined) {
    const file = path.resolve(cwd, values.html);
    try {
      writeFileSync(file, buildHtmlReport(analysis, { title: `astro-hoist analyze ${path.basename(analysis.root)}` }));
    } catch (error) {
      return fail(`cannot write ${values.html}: ${/** @type {Error} */ (error).message}`);
    }
    stderr.write(`astro-hoist: wrote ${values.html}\n`);
  }
  return exitCode(analysis);
}

/** Whether this file is the process's entry point (also through npm's `.bin` symlink). */
function isEntryPoint() {
  if (!process.argv[1]) return false;
  try {
    return realpathSync(process.argv[1]) === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
}

if (isEntryPoint()) {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (error) => {
      process.stderr.write(`astro-hoist: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
      process.exitCode = 2;
    },
  );
}

#!/usr/bin/env node
// `astro-hoist analyze`: reads a project as Astro does (its config, its routes, Vite's resolver;
// js/analyze.js), plans every route with the native core and prints, per route, how deep the
// data-loading waterfall is without and with hoisting and why any loader is not hoisted;
// `--json` for tools, `--html` for a waterfall chart. A thin shell: the formats live in
// report.js as pure functions.

import { existsSync, readFileSync, realpathSync, statSync, writeFileSync } from 'node:fs';
import module from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { analyzeProject, ConfigError } from './analyze.js';
import { checkBudget, formatViolations, parseBaseline, parseFailOn, toSarif } from './check.js';
import { formatMigration, migrateFiles } from './migrate.js';
import { buildHtmlReport, costsFromServerTiming, exitCode, formatTable, parseCosts, toJson, unknownCosts } from './report.js';

// Node's on-disk cache of compiled code (Node 22.1+), as Astro's and Vite's own CLIs enable it:
// `analyze` loads Astro, Vite and the project's integrations on every run.
module.enableCompileCache?.();

/**
 * @typedef {import('./report.js').Analysis} Analysis
 * @typedef {{ write(text: string): unknown, isTTY?: boolean, columns?: number }} Output
 */

export const USAGE = `Usage: astro-hoist analyze [root] [options]
       astro-hoist migrate <file.astro>... [--write] [--json]

Plans every route Astro serves for a project (default: the current directory): its loaders, the
waterfall depth without and with hoisting, and why a loader is not hoisted. The project is read
through its own Astro config (srcDir, Vite aliases, integrations and the routes they inject), as
\`astro build\` reads it; where Astro is not installed, on disk (src/pages, tsconfig paths).

Options:
  --json             print the report as JSON, nothing else on stdout
  --html <file>      also write a self-contained HTML report with a waterfall chart per route
  --costs <file>     JSON object: component id or root-relative path -> estimated ms (default 1 each);
                     or production Server-Timing values, one response per line (the median per loader)
  --concurrency <n>  plan for at most n loaders in flight per request (default: the integration's)
  --speculative      plan conditional children as started early (default: the integration's)
  --disk             read the project on disk even where Astro is installed
  --no-cache         do not read or write the on-disk analysis cache (--disk)

Budget for CI (any of these turns the check on; it fails with exit 1):
  --check            check the budget below, print each violation with file:line
  --max-depth <n>    a route may have at most n data waves (its depth with hoisting)
  --fail-on <list>   also fail on: not-hoisted (a loader runs at render), conditional (a loader
                     starts only when a conditional usage renders), warning (any warning)
  --baseline <file>  fail where the plan got worse than a saved \`analyze --json\` report: more
                     data waves on a route, or a loader hoisted there and not now
  --sarif <file>     write the violations and errors as SARIF 2.1.0 (code scanning)

  -h, --help         show this help
  -v, --version      print the version

The report also lists each route's chain of frontmatter \`await\`s (plain Astro awaits them one
level of nesting at a time) and which of them \`migrate\` can turn into loaders.

migrate: moves a component's top-level frontmatter awaits into an exported loader where that is
proven safe (the awaited call reads only imports, Astro.request/params/url/locals/props and
constants made of them, and nothing before it may return or have effects); says why for each
await that stays. Prints the change as a diff; --write writes it.

Exit codes:
  0  analyzed
  1  a route renders a file with an error (a syntax error also stops \`astro build\`), a loader
     dependency cycle (ctx.load), or a route that cannot be planned; or the --check budget is
     exceeded; warnings fail only with --fail-on warning
  2  bad arguments, a root that does not exist or is not a project, an Astro config that does not
     load, or an unreadable costs file
`;

/** An error that ends the CLI with exit code 2 and a one-line message. */
export class UsageError extends Error {}

/** A run still going after this long shows a spinner (on a terminal). */
const SPINNER_DELAY_MS = 400;

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
 * A spinner on a terminal while the analysis runs (after a short delay), naming the phase.
 * Writes nothing when `stream` is not a TTY.
 * @param {Output} stream
 */
export function terminalProgress(stream) {
  if (!stream.isTTY) return { onPhase: undefined, clear() {} };
  const started = Date.now();
  let label = 'reading the project';
  let shown = false;
  let frame = 0;
  const timer = setInterval(() => {
    const elapsed = Date.now() - started;
    if (elapsed < SPINNER_DELAY_MS) return;
    shown = true;
    const line = `${'|/-\\'[frame++ % 4]} ${label}… ${(elapsed / 1000).toFixed(1)} s`;
    stream.write(`\r\x1b[K${line.slice(0, Math.max(20, (stream.columns || 80) - 1))}`);
  }, 100);
  timer.unref();
  /** @type {Record<string, string>} */
  const labels = { config: "loading the project's Astro config", scan: 'scanning files', plan: 'walking and planning routes' };
  return {
    /** @param {'config' | 'scan' | 'plan'} phase */
    onPhase(phase) {
      label = labels[phase];
    },
    clear() {
      clearInterval(timer);
      if (shown) stream.write('\r\x1b[K');
    },
  };
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
        speculative: { type: 'boolean' },
        disk: { type: 'boolean', default: false },
        check: { type: 'boolean', default: false },
        'max-depth': { type: 'string' },
        'fail-on': { type: 'string' },
        baseline: { type: 'string' },
        sarif: { type: 'string' },
        'no-cache': { type: 'boolean', default: false },
        write: { type: 'boolean', default: false },
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
  if (command === 'migrate') {
    const files = positionals.slice(1);
    if (files.length === 0) return fail('migrate needs one or more .astro files');
    const cwd = io.cwd ?? process.cwd();
    let results;
    try {
      results = await migrateFiles(files, { cwd, write: values.write });
    } catch (error) {
      return fail(/** @type {Error} */ (error).message.replace(/^ENOENT: no such file or directory, open /, 'no such file: '));
    }
    if (values.json) {
      const json = results.map(({ relative, code, awaits, patch }) => ({ file: relative, changed: code != null, written: values.write && code != null, awaits, patch }));
      stdout.write(`${JSON.stringify(json, null, 2)}\n`);
    } else {
      for (const m of results) stdout.write(formatMigration(m, { write: values.write }));
      if (!values.write && results.some((m) => m.code != null)) stdout.write('(a preview: --write writes these changes)\n');
    }
    return 0;
  }
  if (command !== 'analyze') {
    return fail(command === undefined ? `a command is required\n\n${USAGE}` : `unknown command '${command}' (the commands are analyze and migrate)`);
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
  /** @type {Record<string, number> | undefined} */
  let costs;
  if (values.costs !== undefined) {
    try {
      const text = readFileSync(path.resolve(cwd, values.costs), 'utf8');
      /** @type {unknown} */
      let json;
      try {
        json = JSON.parse(text);
      } catch {
        json = undefined;
      }
      // Not JSON: Server-Timing values measured in production, one response per line.
      costs = json === undefined ? parseCosts(costsFromServerTiming(text)) : parseCosts(json);
    } catch (error) {
      return fail(`cannot read costs file ${values.costs}: ${/** @type {Error} */ (error).message}`);
    }
  }

  /** @type {import('./check.js').Budget} */
  const budget = {};
  if (values['max-depth'] !== undefined) {
    budget.maxDepth = Number(values['max-depth']);
    if (!/^\s*\d+\s*$/.test(values['max-depth']) || !Number.isSafeInteger(budget.maxDepth) || budget.maxDepth < 1) {
      return fail(`--max-depth must be a positive integer, got ${JSON.stringify(values['max-depth'])}`);
    }
  }
  if (values['fail-on'] !== undefined) {
    try {
      budget.failOn = parseFailOn(values['fail-on']);
    } catch (error) {
      return fail(/** @type {Error} */ (error).message);
    }
  }
  if (values.baseline !== undefined) {
    try {
      budget.baseline = parseBaseline(JSON.parse(readFileSync(path.resolve(cwd, values.baseline), 'utf8')));
    } catch (error) {
      return fail(`cannot read baseline ${values.baseline}: ${/** @type {Error} */ (error).message}`);
    }
  }
  const checking = values.check || Object.keys(budget).length > 0 || values.sarif !== undefined;
  if (values.check && Object.keys(budget).length === 0 && values.sarif === undefined) {
    return fail('--check needs a budget: --max-depth, --fail-on or --baseline');
  }

  const progress = values.json ? { onPhase: undefined, clear() {} } : terminalProgress(stderr);
  /** @type {Analysis} */
  let analysis;
  try {
    const root = checkRoot(path.resolve(cwd, rootArg));
    analysis = await analyzeProject(root, {
      concurrency,
      speculative: values.speculative,
      costs,
      disk: values.disk,
      diskCache: values['no-cache'] ? false : undefined,
      onPhase: progress.onPhase,
    });
  } catch (error) {
    progress.clear();
    if (error instanceof UsageError) return fail(error.message.replace(path.resolve(cwd, rootArg), rootArg));
    if (error instanceof ConfigError) return fail(error.message);
    return fail(error instanceof Error ? error.message : String(error));
  }
  progress.clear();
  const unknown = costs ? unknownCosts(costs, analysis.routes) : [];
  if (unknown.length > 0) {
    stderr.write(`astro-hoist: warning: costs: no planned loader matches ${unknown.map((k) => JSON.stringify(k)).join(', ')}\n`);
  }

  const violations = checking ? checkBudget(analysis, budget) : [];
  if (values.json) {
    const json = toJson(analysis);
    stdout.write(`${JSON.stringify(checking ? { ...json, check: { violations } } : json, null, 2)}\n`);
  } else {
    stdout.write(formatTable(analysis, { rootLabel: rootArg }));
    if (checking) stdout.write(formatViolations(violations));
  }
  if (values.sarif !== undefined) {
    try {
      const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));
      writeFileSync(path.resolve(cwd, values.sarif), `${JSON.stringify(toSarif(analysis, violations, pkg.version), null, 2)}\n`);
    } catch (error) {
      return fail(`cannot write ${values.sarif}: ${/** @type {Error} */ (error).message}`);
    }
    stderr.write(`astro-hoist: wrote ${values.sarif}\n`);
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
  return violations.length > 0 ? 1 : exitCode(analysis);
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

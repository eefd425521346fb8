// What `astro-hoist analyze` and a build's `report` show: the per-route table, the JSON document
// and the self-contained HTML waterfall report. Pure functions over the core's route plans and
// diagnostics (one shape, `Diagnostic`, everywhere), so the CLI and the integration stay thin
// shells around them and the tests call them directly.

/**
 * @typedef {import('../index.js').Diagnostic} Diagnostic
 * @typedef {import('../index.js').Plan} Plan
 * @typedef {import('../index.js').PlannedLoader} PlannedLoader
 * @typedef {import('../index.js').RoutePlan} RoutePlan
 */

/**
 * The result of analyzing a project: what every output format is built from.
 * @typedef {object} Analysis
 * @property {string} root absolute project root
 * @property {'astro' | 'disk' | 'build'} source how the project was read: through the project's
 *   Astro config and Vite (`analyze`), on disk without Astro (`analyze` where Astro is not
 *   installed, or `--disk`), or by `astro build` itself (the integration's `report`)
 * @property {number} files modules the plans read
 * @property {RoutePlan[]} routes every route Astro serves, with its plan
 * @property {Diagnostic[]} diagnostics every problem: files' errors, what the walk could not
 *   follow, loaders not hoisted and why, loaders no route reaches, routes that could not be planned
 * @property {string[][]} cycles component (render) cycles: a component that renders itself again
 * @property {AnalysisOptions} options
 */

/**
 * @typedef {object} AnalysisOptions
 * @property {number} [concurrency]
 * @property {boolean} speculative
 * @property {boolean} costs whether costs were given (times are ms rather than units)
 */

/**
 * A `ctx.load` cycle with every route it breaks.
 * @typedef {{ files: string[], routes: string[], diagnostic: Diagnostic }} LoaderCycle
 */

/**
 * The project's diagnostics, each once: the project's own (files, walk, unreached loaders), the
 * routes that could not be planned, and the notes of every plan that are worth a warning.
 * @param {Diagnostic[]} projectDiagnostics
 * @param {RoutePlan[]} routes
 * @returns {Diagnostic[]}
 */
export function collectDiagnostics(projectDiagnostics, routes) {
  /** @type {Map<string, Diagnostic>} */
  const out = new Map();
  const add = (/** @type {Diagnostic} */ d) => {
    const key = `${d.file}\0${d.line}\0${d.column}\0${d.code}\0${d.message}`;
    if (!out.has(key)) out.set(key, d);
  };
  projectDiagnostics.forEach(add);
  for (const route of routes) {
    // A loader cycle is listed once (loaderCycles), not once per route it breaks.
    if (route.error && route.error.cycle.length === 0) add(route.error.diagnostic);
    for (const note of route.plan?.notes ?? []) if (note.severity !== 'info') add(note);
  }
  for (const cycle of loaderCycles(routes)) add(cycle.diagnostic);
  return [...out.values()].sort((a, b) => a.file.localeCompare(b.file) || a.line - b.line || a.column - b.column);
}

/**
 * The `ctx.load` cycles that broke routes, each once with the routes it breaks.
 * @param {RoutePlan[]} routes
 * @returns {LoaderCycle[]}
 */
export function loaderCycles(routes) {
  /** @type {Map<string, LoaderCycle>} */
  const cycles = new Map();
  for (const route of routes) {
    const cycle = route.error?.cycle ?? [];
    if (cycle.length === 0 || !route.error) continue;
    // The same cycle, entered elsewhere, starts at another member.
    const key = cycle.slice(0, -1).sort().join('\0');
    const known = cycles.get(key);
    if (known) known.routes.push(route.pattern);
    else cycles.set(key, { files: cycle, routes: [route.pattern], diagnostic: route.error.diagnostic });
  }
  return [...cycles.values()];
}

/**
 * Diagnostics that make `analyze` fail (and stop `astro build`): errors in a file some route
 * renders (its plan's notes carry them), and routes that could not be planned. Errors in files
 * no route renders, and every warning, are reported but not fatal.
 * @param {Analysis} analysis
 * @returns {Diagnostic[]}
 */
export function fatalDiagnostics(analysis) {
  /** @type {Diagnostic[]} */
  const out = [];
  const seen = new Set();
  for (const route of analysis.routes) {
    const found = [...(route.plan?.notes ?? []), ...(route.error ? [route.error.diagnostic] : [])];
    for (const d of found) {
      const key = `${d.file}\0${d.line}\0${d.column}\0${d.code}`;
      if (d.severity !== 'error' || seen.has(key)) continue;
      seen.add(key);
      out.push(d);
    }
  }
  return out;
}

/**
 * The process exit code for an analysis: 1 when a route renders an error (a syntax error, a
 * loader cycle) or cannot be planned, else 0.
 * @param {Analysis} analysis
 */
export function exitCode(analysis) {
  return fatalDiagnostics(analysis).length > 0 ? 1 : 0;
}

/** Version of the JSON document; bumped when a field changes meaning or goes away. */
export const REPORT_VERSION = 2;

/**
 * The JSON document (`analyze --json`, a build's `report`).
 * @param {Analysis} analysis
 */
export function toJson(analysis) {
  return {
    version: REPORT_VERSION,
    root: analysis.root,
    source: analysis.source,
    files: analysis.files,
    options: analysis.options,
    // The dataflow tree travels from the core as JSON text (the runtime's input): here, an object.
    routes: analysis.routes.map((route) => (route.plan?.flow ? { ...route, plan: { ...route.plan, flow: JSON.parse(route.plan.flow) } } : route)),
    diagnostics: analysis.diagnostics,
    cycles: analysis.cycles,
  };
}

/**
 * Costs as given (`--costs`): component id or root-relative path -> ms, checked.
 * @param {unknown} json the parsed costs file
 * @returns {Record<string, number>} keys with `\` and a leading `./` normalized
 * @throws {Error} when it is not an object of non-negative numbers
 */
export function parseCosts(json) {
  if (json === null || typeof json !== 'object' || Array.isArray(json)) {
    throw new Error('the costs file must be a JSON object mapping a component id or path to milliseconds');
  }
  /** @type {Record<string, number>} */
  const costs = {};
  for (const [key, value] of Object.entries(json)) {
    if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
      throw new Error(`the cost of ${JSON.stringify(key)} must be a non-negative number of milliseconds, got ${JSON.stringify(value)}`);
    }
    costs[key.replaceAll('\\', '/').replace(/^\.\//, '')] = value;
  }
  return costs;
}

/**
 * Costs measured in production: the `Server-Timing` values astro-hoist wrote (one response's
 * value per line, a `Server-Timing:` prefix allowed, as access logs and HAR exports keep them).
 * A metric with a `desc` is a component path (`serverTiming: 'paths'`), a `hoist-<id>` metric a
 * component id; other metrics (a database's, a CDN's) are skipped. Each component's cost is the
 * median of its durations.
 * @param {string} text
 * @returns {Record<string, number>}
 * @throws {Error} when no line holds an astro-hoist metric
 */
export function costsFromServerTiming(text) {
  /** @type {Map<string, number[]>} */
  const samples = new Map();
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.replace(/^\s*server-timing\s*:/i, '').trim();
    if (!line) continue;
    for (const metric of splitOutsideQuotes(line, ',')) {
      const [name, ...params] = splitOutsideQuotes(metric, ';').map((part) => part.trim());
      /** @type {Record<string, string>} */
      const fields = {};
      for (const param of params) {
        const at = param.indexOf('=');
        if (at < 0) continue;
        let value = param.slice(at + 1).trim();
        // A quoted-string: quotes off, escapes resolved.
        if (value.startsWith('"') && value.endsWith('"') && value.length >= 2) value = value.slice(1, -1).replace(/\\(.)/g, '$1');
        fields[param.slice(0, at).trim().toLowerCase()] = value;
      }
      const dur = Number(fields.dur);
      if (!Number.isFinite(dur) || dur < 0) continue;
      /** @type {string | null} */
      let key = null;
      const id = /^hoist-([0-9a-f]{16})$/.exec(name ?? '');
      if (id) key = id[1];
      else if (fields.desc) {
        try {
          key = decodeURIComponent(fields.desc);
        } catch {
          key = fields.desc;
        }
      }
      if (!key) continue;
      const list = samples.get(key) ?? [];
      list.push(dur);
      samples.set(key, list);
    }
  }
  if (samples.size === 0) throw new Error('no astro-hoist metric (`hoist-<id>;dur=…` or `…;dur=…;desc="src/…"`) in it');
  /** @type {Record<string, number>} */
  const costs = {};
  for (const [key, list] of samples) {
    list.sort((a, b) => a - b);
    const mid = Math.floor(list.length / 2);
    costs[key] = list.length % 2 === 1 ? list[mid] : (list[mid - 1] + list[mid]) / 2;
  }
  return costs;
}

/**
 * `text` split on `separator` where it is not inside a quoted-string.
 * @param {string} text
 * @param {string} separator
 */
function splitOutsideQuotes(text, separator) {
  /** @type {string[]} */
  const parts = [];
  let quoted = false;
  let start = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '\\' && quoted) i++;
    else if (c === '"') quoted = !quoted;
    else if (c === separator && !quoted) {
      parts.push(text.slice(start, i));
      start = i + 1;
    }
  }
  parts.push(text.slice(start));
  return parts.filter((p) => p.trim() !== '');
}

/**
 * Keys of `costs` that name no loader of any plan (by id or root-relative path).
 * @param {Record<string, number>} costs
 * @param {RoutePlan[]} routes
 * @returns {string[]}
 */
export function unknownCosts(costs, routes) {
  const known = new Set();
  for (const route of routes) {
    for (const loader of route.plan?.loaders ?? []) {
      known.add(loader.id);
      known.add(loader.component);
    }
  }
  return Object.keys(costs).filter((key) => !known.has(key));
}

/**
 * @typedef {object} Totals
 * @property {number} routes
 * @property {number} loaders loader runs over every route
 * @property {number} hoisted
 * @property {number} notHoisted
 * @property {number} conditional
 * @property {number} improved routes whose depth went down
 * @property {number} depthBefore deepest waterfall without hoisting
 * @property {number} depthAfter deepest with hoisting
 * @property {number} makespanBefore sum over routes
 * @property {number} makespan sum over routes
 */

/**
 * @param {RoutePlan[]} routes
 * @returns {Totals}
 */
export function totals(routes) {
  /** @type {Totals} */
  const t = { routes: routes.length, loaders: 0, hoisted: 0, notHoisted: 0, conditional: 0, improved: 0, depthBefore: 0, depthAfter: 0, makespanBefore: 0, makespan: 0 };
  for (const { plan } of routes) {
    if (!plan) continue;
    t.loaders += plan.loaders.length;
    for (const loader of plan.loaders) {
      if (loader.hoisted) t.hoisted++;
      else t.notHoisted++;
      if (loader.conditional) t.conditional++;
    }
    if (plan.depthAfter < plan.depthBefore) t.improved++;
    t.depthBefore = Math.max(t.depthBefore, plan.depthBefore);
    t.depthAfter = Math.max(t.depthAfter, plan.depthAfter);
    t.makespanBefore += plan.makespanBefore;
    t.makespan += plan.makespan;
  }
  return t;
}

/**
 * A number of ms or units, without float noise.
 * @param {number} value
 */
export function formatTime(value) {
  if (Number.isInteger(value)) return String(value);
  return String(Math.round(value * 10) / 10);
}

/**
 * A time with its unit: `120 ms`, `1 unit`, `3 units`.
 * @param {number} value
 * @param {'ms' | 'units'} unit
 */
function timeWithUnit(value, unit) {
  return `${formatTime(value)} ${unit === 'units' && value === 1 ? 'unit' : unit}`;
}

/**
 * How a route is named: its pattern, with its kind when it is not a page of the project.
 * @param {RoutePlan} route
 */
export function routeLabel(route) {
  if (route.kind === 'page') return route.pattern;
  if (route.kind === 'markdown') return `${route.pattern} (markdown)`;
  if (route.kind === 'island') return `${route.pattern} (server island)`;
  return `${route.pattern} (injected)`;
}

/**
 * A line under a route's row: which loaders, and why when there is a reason.
 * @typedef {{ label: 'not hoisted' | 'waits' | 'conditional' | 'guard' | 'layout' | 'error', components: string[], reason?: string }} RouteNote
 */

/**
 * What to say under a route's row: why it has no plan, the not-hoisted loaders grouped by
 * reason, loaders that start late because they await others, the conditional ones, and where a
 * guard makes the batch start.
 * @param {RoutePlan} route
 * @returns {RouteNote[]}
 */
export function routeNotes(route) {
  /** @type {RouteNote[]} */
  const notes = [];
  if (route.error) notes.push({ label: 'error', components: [route.error.diagnostic.file], reason: route.error.diagnostic.message });
  const { plan } = route;
  if (!plan) return notes;
  if (route.entry !== plan.root) notes.push({ label: 'layout', components: [plan.root] });
  /** @type {Map<string, string[]>} */
  const notHoisted = new Map();
  /** @type {Map<string, string[]>} */
  const waiting = new Map();
  /** @type {string[]} */
  const conditional = [];
  for (const loader of plan.loaders) {
    const reason = loader.reason ?? 'no reason given';
    const group = loader.hoisted ? (loader.wave > 1 ? waiting : null) : notHoisted;
    if (group) {
      const list = group.get(reason) ?? [];
      list.push(loader.component);
      group.set(reason, list);
    }
    if (loader.conditional) conditional.push(loader.component);
  }
  for (const [reason, components] of notHoisted) notes.push({ label: 'not hoisted', components, reason });
  for (const [reason, components] of waiting) notes.push({ label: 'waits', components, reason });
  if (conditional.length > 0) notes.push({ label: 'conditional', components: conditional });
  if (plan.batchStart && plan.entries.length > 0) {
    notes.push({ label: 'guard', components: [`${plan.root}:${plan.batchStart.endLine}`], reason: 'the batch starts after the last early return of the frontmatter' });
  }
  return notes;
}

/**
 * @param {number} n
 * @param {string} one
 * @param {string} [many]
 */
function plural(n, one, many = `${one}s`) {
  return `${n} ${n === 1 ? one : many}`;
}

/**
 * @param {string[]} row
 * @param {number[]} widths
 * @param {boolean[]} right columns aligned right
 */
function padRow(row, widths, right) {
  return row
    .map((cell, i) => (right[i] ? cell.padStart(widths[i]) : cell.padEnd(widths[i])))
    .join('  ')
    .trimEnd();
}

/** Most diagnostics listed in the table output; `--json` has them all. */
const MAX_LISTED = 20;

/** @param {Diagnostic} d */
function diagnosticLine(d) {
  return `${d.severity}: ${d.file}:${d.line}:${d.column}: ${d.message} [${d.code}]${d.help ? `\n  help: ${d.help}` : ''}`;
}

/** @param {Analysis['source']} source */
function sourceLabel(source) {
  if (source === 'astro') return "read through the project's Astro config";
  if (source === 'build') return 'as astro build planned it';
  return 'read on disk (src/pages, tsconfig paths)';
}

/**
 * The plain-text report: one row per route (loaders, hoisted, depth before -> after, and the
 * estimated time when costs or a concurrency limit make it meaningful), the reasons under each
 * row, then totals and problems.
 * @param {Analysis} analysis
 * @param {{ rootLabel?: string }} [options] how to name the root in the heading
 * @returns {string}
 */
export function formatTable(analysis, { rootLabel = analysis.root } = {}) {
  const { routes, options } = analysis;
  const showTime = options.costs || options.concurrency !== undefined;
  const unit = options.costs ? ' ms' : '';
  const settings = [options.concurrency !== undefined ? `concurrency ${options.concurrency}` : '', options.speculative ? 'speculative' : '']
    .filter(Boolean)
    .join(', ');
  /** @type {string[]} */
  const out = [
    `astro-hoist analyze ${rootLabel}: ${plural(routes.length, 'route')}, ${plural(analysis.files, 'module')}, ${sourceLabel(analysis.source)}${settings ? ` (${settings})` : ''}`,
    '',
  ];
  const head = ['route', 'entry', 'loaders', 'hoisted', 'depth'];
  if (showTime) head.push('time');
  const right = [false, false, true, true, false, false];
  /** @type {{ row: string[], notes: RouteNote[] }[]} */
  const rows = routes.map((route) => {
    const { plan } = route;
    const row = [
      routeLabel(route),
      route.entry,
      plan ? String(plan.loaders.length) : '-',
      plan ? String(plan.loaders.filter((l) => l.hoisted).length) : '-',
      plan ? `${plan.depthBefore} → ${plan.depthAfter}` : '-',
    ];
    if (showTime) row.push(plan ? `${formatTime(plan.makespanBefore)} → ${formatTime(plan.makespan)}${unit}` : '-');
    return { row, notes: routeNotes(route) };
  });
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map(({ row }) => row[i].length)));
  out.push(padRow(head, widths, right));
  for (const { row, notes } of rows) {
    out.push(padRow(row, widths, right));
    for (const note of notes) {
      out.push(`  - ${note.label}: ${note.components.join(', ')}`);
      if (note.reason) out.push(`      ${note.reason}`);
    }
  }
  if (routes.length === 0) out.push('(no routes: Astro serves no page of this project)');

  out.push(...formatAwaitChains(routes));

  const t = totals(routes);
  out.push('');
  const parts = [
    plural(t.routes, 'route'),
    `${plural(t.loaders, 'loader')} (${t.hoisted} hoisted, ${t.notHoisted} not hoisted, ${t.conditional} conditional)`,
    `deepest waterfall ${t.depthBefore} → ${t.depthAfter}`,
    `${plural(t.improved, 'route')} shallower`,
  ];
  if (showTime) parts.push(`total time ${formatTime(t.makespanBefore)} → ${formatTime(t.makespan)}${unit}`);
  out.push(`total: ${parts.join('; ')}`);

  for (const cycle of loaderCycles(routes)) {
    out.push(`error: loader dependency cycle ${cycle.files.join(' -> ')} (breaks ${cycle.routes.join(', ')})`);
  }
  const listed = analysis.diagnostics.filter((d) => d.code !== 'loader-cycle' && d.severity !== 'info');
  // Errors first: they are why the exit code is 1.
  listed.sort((a, b) => Number(b.severity === 'error') - Number(a.severity === 'error'));
  for (const d of listed.slice(0, MAX_LISTED)) out.push(diagnosticLine(d));
  if (listed.length > MAX_LISTED) out.push(`... and ${listed.length - MAX_LISTED} more (--json lists every diagnostic)`);
  const notes = analysis.diagnostics.filter((d) => d.severity === 'info').length;
  if (notes > 0) out.push(`${plural(notes, 'note')} (loaders reached only conditionally, and the like): --json lists them`);
  for (const cycle of analysis.cycles) out.push(`note: components render each other in a cycle: ${cycle.join(' -> ')}`);
  return `${out.join('\n')}\n`;
}

/**
 * The routes whose render waits on frontmatter `await`s in turn (two steps or more): the chain
 * plain Astro runs, step by step with file:line, and what `astro-hoist migrate` can make of it.
 * @param {RoutePlan[]} routes
 * @returns {{ route: RoutePlan, plan: NonNullable<RoutePlan['plan']> }[]}
 */
export function awaitChains(routes) {
  /** @type {{ route: RoutePlan, plan: NonNullable<RoutePlan['plan']> }[]} */
  const out = [];
  for (const route of routes) if (route.plan && route.plan.awaitDepth >= 2) out.push({ route, plan: route.plan });
  return out;
}

/**
 * The text section of `awaitChains`: empty when no route has a chain.
 * @param {RoutePlan[]} routes
 * @returns {string[]}
 */
function formatAwaitChains(routes) {
  const chains = awaitChains(routes);
  if (chains.length === 0) return [];
  const out = ['', 'Waterfalls of frontmatter awaits (each step waits for the one before; `astro-hoist migrate <file>` moves the movable ones into loaders):'];
  for (const { route, plan } of chains) {
    out.push(`  ${routeLabel(route)}  ${route.entry}: ${plural(plan.awaitDepth, 'step')} → ${plural(plan.awaitDepthAfter, 'step')} after migrate`);
    for (const a of plan.awaits) {
      const where = `${a.component}:${a.line}:${a.column}`;
      const cond = a.conditional ? ' (conditional)' : '';
      out.push(`    ${String(a.step).padStart(2)}  ${where}  await ${a.text}${cond}${a.movable ? '  [movable]' : ''}`);
      if (!a.movable && a.reason) out.push(`          stays: ${a.reason}`);
    }
    const files = [...new Set(plan.awaits.filter((a) => a.movable).map((a) => a.component))];
    if (files.length > 0) out.push(`    suggest: astro-hoist migrate ${files.join(' ')}`);
  }
  return out;
}

/**
 * One line of a text progress bar, e.g. `[######------] 12/40 planning routes`.
 * @param {number} done
 * @param {number} total
 * @param {string} label
 * @param {number} [width] characters inside the brackets
 */
export function progressLine(done, total, label, width = 24) {
  const ratio = total > 0 ? Math.min(1, Math.max(0, done / total)) : 1;
  const filled = Math.round(ratio * width);
  return `[${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${done}/${total} ${label}`;
}

// ---------------------------------------------------------------------------------------------
// HTML report

/**
 * Escape text for HTML and SVG text and attribute values.
 * @param {string | number} value
 */
export function escapeHtml(value) {
  return String(value).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/**
 * Evenly spaced round tick values from 0 to at least `max` (1, 2 or 5 times a power of ten).
 * @param {number} max
 * @param {number} [target] about how many intervals
 * @returns {number[]}
 */
export function niceTicks(max, target = 5) {
  if (!(max > 0)) return [0, 1];
  // Small whole numbers (the default 1 unit per loader) get a tick per unit.
  if (Number.isInteger(max) && max <= 10) return Array.from({ length: max + 1 }, (_, i) => i);
  const rough = max / target;
  const power = 10 ** Math.floor(Math.log10(rough));
  const step = [1, 2, 5, 10].map((m) => m * power).find((s) => s >= rough) ?? 10 * power;
  /** @type {number[]} */
  const ticks = [];
  for (let i = 0; i * step < max + step * 1e-9; i++) ticks.push(Number((i * step).toPrecision(12)));
  if (ticks[ticks.length - 1] < max - step * 1e-9) ticks.push(Number((ticks.length * step).toPrecision(12)));
  return ticks;
}

/**
 * The tail of a path that fits `max` characters, cut at a `/` when possible.
 * @param {string} file
 * @param {number} max
 */
function shortName(file, max) {
  if (file.length <= max) return file;
  const tail = file.slice(file.length - max + 1);
  const slash = tail.indexOf('/');
  return `…${slash >= 0 && slash < tail.length - 1 ? tail.slice(slash) : tail}`;
}

/**
 * The kind of a loader's bar: hoisted into wave 1, hoisted but waiting for `ctx.load`, or run
 * at render (not hoisted).
 * @param {PlannedLoader} loader
 * @returns {'hoisted' | 'waiting' | 'render'}
 */
function barKind(loader) {
  if (!loader.hoisted) return 'render';
  return loader.wave > 1 ? 'waiting' : 'hoisted';
}

const CHART = { width: 880, label: 250, row: 24, bar: 14, top: 8, axis: 26, right: 24 };

/**
 * One waterfall chart: a bar per loader on a time axis shared by both charts of a route.
 * @param {Plan} plan
 * @param {PlannedLoader[]} rows loaders in row order
 * @param {'before' | 'after'} which
 * @param {number} scaleMax the time at the right end of the axis
 * @param {'ms' | 'units'} unit
 */
function chartSvg(plan, rows, which, scaleMax, unit) {
  const { width, label, row, bar, top, axis, right } = CHART;
  const plot = width - label - right;
  const height = top + rows.length * row + axis;
  const ticks = niceTicks(scaleMax);
  // The axis ends on its last round tick, so every tick label fits.
  const axisMax = ticks[ticks.length - 1];
  const x = (/** @type {number} */ t) => label + (axisMax > 0 ? (t / axisMax) * plot : 0);
  const end = which === 'before' ? plan.makespanBefore : plan.makespan;
  const critical = new Set(plan.criticalPath);
  /** @type {string[]} */
  const stripes = [];
  /** @type {string[]} */
  const parts = [];
  for (const tick of ticks) {
    const tx = x(tick).toFixed(1);
    parts.push(`<line class="grid" x1="${tx}" x2="${tx}" y1="${top}" y2="${top + rows.length * row}"/>`);
    parts.push(`<text class="tick" x="${tx}" y="${top + rows.length * row + 16}" text-anchor="middle">${escapeHtml(formatTime(tick))}</text>`);
  }
  rows.forEach((loader, i) => {
    const y = top + i * row;
    const start = which === 'before' ? loader.startBefore : loader.start;
    const finish = which === 'before' ? loader.finishBefore : loader.finish;
    const wave = which === 'before' ? loader.waveBefore : loader.wave;
    const kind = which === 'before' ? 'plain' : barKind(loader);
    const classes = ['bar', kind];
    if (loader.conditional) classes.push('conditional');
    if (which === 'after' && critical.has(loader.id)) classes.push('critical');
    const bx = x(start);
    // A zero-cost loader still gets a visible sliver.
    const bw = Math.max(3, x(finish) - bx);
    const status = which === 'before' ? `round ${wave} of plain Astro's waterfall` : loader.hoisted ? `hoisted, wave ${wave}` : 'not hoisted: starts when its component renders';
    const tip = [`${loader.component}`, `${formatTime(start)}–${timeWithUnit(finish, unit)}`, status, loader.reason && which === 'after' ? loader.reason : '', loader.conditional ? 'conditional' : '']
      .filter(Boolean)
      .join('\n');
    if (i % 2 === 1) stripes.push(`<rect class="stripe" x="0" y="${y}" width="${width}" height="${row}"/>`);
    parts.push(
      `<text class="name" x="${label - 10}" y="${y + row / 2 + 4}" text-anchor="end">${escapeHtml(shortName(loader.component, 34))}<title>${escapeHtml(loader.component)}</title></text>`,
    );
    parts.push(
      `<rect class="${classes.join(' ')}" data-loader="${escapeHtml(loader.id)}" data-component="${escapeHtml(loader.component)}" data-start="${start}" data-finish="${finish}" data-wave="${wave}" x="${bx.toFixed(1)}" y="${y + (row - bar) / 2}" width="${bw.toFixed(1)}" height="${bar}" rx="3"><title>${escapeHtml(tip)}</title></rect>`,
    );
  });
  if (which === 'after') {
    // An arrow from each loader whose data (or ctx.load result) another waits for, to that one:
    // the dataflow that decides the waves.
    const rowOf = new Map(rows.map((loader, i) => [loader.id, i]));
    rows.forEach((loader, i) => {
      if (!loader.hoisted) return;
      for (const from of loader.waitsFor) {
        const j = rowOf.get(from);
        if (j === undefined) continue;
        const source = rows[j];
        const x1 = Math.max(x(source.finish), x(source.start) + 3);
        const y1 = top + j * row + row / 2;
        const x2 = x(loader.start);
        const y2 = top + i * row + row / 2;
        const bend = Math.max(8, (x2 - x1) / 2);
        // The head is drawn, not a <marker>: markers are referenced through url(…), and the
        // report references nothing.
        parts.push(
          `<g class="arrow" data-from="${escapeHtml(from)}" data-to="${escapeHtml(loader.id)}"><title>${escapeHtml(`${source.component} → ${loader.component}`)}</title>` +
            `<path class="arrow-line" d="M${x1.toFixed(1)},${y1} C${(x1 + bend).toFixed(1)},${y1} ${(x2 - bend).toFixed(1)},${y2} ${(x2 - 5).toFixed(1)},${y2}"/>` +
            `<path class="arrowhead" d="M${x2.toFixed(1)},${y2} L${(x2 - 6).toFixed(1)},${y2 - 3.5} L${(x2 - 6).toFixed(1)},${y2 + 3.5} z"/></g>`,
        );
      }
    });
  }
  const ex = x(end).toFixed(1);
  parts.push(`<line class="end" x1="${ex}" x2="${ex}" y1="${top - 4}" y2="${top + rows.length * row + 4}"/>`);
  parts.push(`<text class="axis-label" x="${label - 10}" y="${top + rows.length * row + 16}" text-anchor="end">${escapeHtml(unit)}</text>`);
  // Stripes go under everything else.
  return `<svg class="chart" data-chart="${which}" viewBox="0 0 ${width} ${height}" width="${width}" height="${height}" role="img" aria-label="${which === 'before' ? 'without' : 'with'} astro-hoist: done at ${escapeHtml(timeWithUnit(end, unit))}">${stripes.join('')}${parts.join('')}</svg>`;
}

const STYLE = `
:root { --fg: #1b1f24; --muted: #5b6572; --line: #d8dee4; --bg: #fff; --stripe: #f6f8fa;
  --plain: #8c959f; --hoisted: #1f883d; --waiting: #bf8700; --render: #cf222e; --accent: #0969da; }
@media (prefers-color-scheme: dark) {
  :root { --fg: #e6edf3; --muted: #9aa5b1; --line: #30363d; --bg: #0d1117; --stripe: #161b22;
    --plain: #6e7681; --hoisted: #3fb950; --waiting: #d29922; --render: #f85149; --accent: #58a6ff; }
}
* { box-sizing: border-box; }
body { margin: 0; padding: 24px 32px 48px; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: var(--fg); background: var(--bg); }
h1 { font-size: 22px; margin: 0 0 4px; }
h2 { font-size: 17px; margin: 0 0 4px; font-family: ui-monospace, SFMono-Regular, Menlo, monospace; }
.sub, .summary { color: var(--muted); margin: 0 0 12px; }
table { border-collapse: collapse; margin: 8px 0 16px; }
th, td { text-align: left; padding: 4px 12px 4px 0; border-bottom: 1px solid var(--line); vertical-align: top; }
th { font-weight: 600; color: var(--muted); }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
code, .mono { font-family: ui-monospace, SFMono-Regular, Menlo, monospace; font-size: 13px; }
a { color: var(--accent); text-decoration: none; }
a:hover { text-decoration: underline; }
.legend { display: flex; flex-wrap: wrap; gap: 16px; margin: 12px 0 20px; color: var(--muted); }
.legend span::before { content: ""; display: inline-block; width: 22px; height: 10px; border-radius: 3px; margin-right: 6px; vertical-align: -1px; background: var(--c); }
.legend .cond::before { background: repeating-linear-gradient(135deg, var(--hoisted) 0 4px, transparent 4px 7px); border: 1px dashed var(--hoisted); }
section.route { border-top: 1px solid var(--line); padding-top: 20px; margin-top: 24px; }
figure { margin: 8px 0 4px; }
figcaption { font-weight: 600; margin-bottom: 2px; }
figcaption .muted { font-weight: 400; color: var(--muted); }
svg.chart { display: block; max-width: 100%; height: auto; }
svg .stripe { fill: var(--stripe); }
svg .grid { stroke: var(--line); stroke-width: 1; }
svg .tick, svg .axis-label { fill: var(--muted); font-size: 11px; }
svg .name { fill: var(--fg); font: 12px ui-monospace, SFMono-Regular, Menlo, monospace; }
svg .bar.plain { fill: var(--plain); }
svg .bar.hoisted { fill: var(--hoisted); }
svg .bar.waiting { fill: var(--waiting); }
svg .bar.render { fill: var(--render); }
svg .bar.conditional { fill-opacity: 0.45; stroke-dasharray: 4 2; stroke-width: 1.5; }
svg .bar.plain.conditional { stroke: var(--plain); }
svg .bar.hoisted.conditional { stroke: var(--hoisted); }
svg .bar.waiting.conditional { stroke: var(--waiting); }
svg .bar.render.conditional { stroke: var(--render); }
svg .bar.critical { stroke: var(--fg); stroke-width: 1.5; }
svg .end { stroke: var(--accent); stroke-width: 2; stroke-dasharray: 3 3; }
svg .arrow-line { fill: none; stroke: var(--muted); stroke-width: 1.2; }
svg .arrowhead { fill: var(--muted); }
.empty { color: var(--muted); font-style: italic; }
.notes li { margin: 4px 0; }
.reason { color: var(--muted); }
.problems li { margin: 2px 0; }
.error { color: var(--render); }
`;

/**
 * The self-contained HTML report: a summary table, then per route a waterfall chart without
 * hoisting above one with it, on the same time axis, one bar per loader (`data-loader` = id),
 * and the reasons for loaders that are not hoisted. Inline CSS and SVG only: no scripts, fonts
 * or other files, so it opens anywhere and can be attached to a CI run.
 * @param {Analysis} analysis
 * @param {{ title?: string }} [options]
 * @returns {string}
 */
export function buildHtmlReport(analysis, { title = 'astro-hoist analyze' } = {}) {
  const { routes, options } = analysis;
  /** @type {'ms' | 'units'} */
  const unit = options.costs ? 'ms' : 'units';
  const t = totals(routes);
  const settings = [
    sourceLabel(analysis.source),
    options.costs ? 'costs from file (ms)' : 'every loader costs 1 unit (pass --costs for ms)',
    options.concurrency !== undefined ? `concurrency ${options.concurrency}` : 'no concurrency limit',
    options.speculative ? 'speculative: conditional loaders start early' : 'conditional loaders start at render',
  ];
  /** @type {string[]} */
  const body = [];
  body.push(`<h1>${escapeHtml(title)}</h1>`);
  body.push(`<p class="sub"><span class="mono">${escapeHtml(analysis.root)}</span> · ${plural(analysis.files, 'module')} · ${escapeHtml(settings.join(' · '))}</p>`);
  body.push(
    `<p>${plural(t.routes, 'route')}, ${plural(t.loaders, 'loader')} (${t.hoisted} hoisted, ${t.notHoisted} not hoisted, ${t.conditional} conditional). Deepest waterfall ${t.depthBefore} → ${t.depthAfter}; ${plural(t.improved, 'route')} shallower.</p>`,
  );
  /** @type {string[]} */
  const problems = [];
  for (const cycle of loaderCycles(routes)) {
    problems.push(`<li class="error">loader dependency cycle <code>${escapeHtml(cycle.files.join(' -> '))}</code>: breaks ${cycle.routes.map((p) => `<code>${escapeHtml(p)}</code>`).join(', ')}</li>`);
  }
  for (const d of analysis.diagnostics) {
    if (d.code === 'loader-cycle') continue;
    const cls = d.severity === 'error' ? ' class="error"' : '';
    problems.push(`<li${cls}>${escapeHtml(d.severity)}: <code>${escapeHtml(`${d.file}:${d.line}:${d.column}`)}</code> ${escapeHtml(d.message)} <span class="mono">[${escapeHtml(d.code)}]</span></li>`);
  }
  for (const cycle of analysis.cycles) problems.push(`<li>components render each other in a cycle: <code>${escapeHtml(cycle.join(' -> '))}</code></li>`);
  if (problems.length > 0) body.push(`<h3>Problems</h3><ul class="problems">${problems.join('')}</ul>`);

  if (routes.length > 0) {
    body.push(`<table class="routes"><thead><tr><th>route</th><th>entry</th><th>loaders</th><th>hoisted</th><th>depth</th><th>time (${unit})</th></tr></thead><tbody>`);
    routes.forEach((route, i) => {
      const { plan } = route;
      const cells = plan
        ? `<td class="num">${plan.loaders.length}</td><td class="num">${plan.loaders.filter((l) => l.hoisted).length}</td><td class="num">${plan.depthBefore} → ${plan.depthAfter}</td><td class="num">${escapeHtml(formatTime(plan.makespanBefore))} → ${escapeHtml(formatTime(plan.makespan))}</td>`
        : '<td class="num">-</td><td class="num">-</td><td class="num">-</td><td class="num">-</td>';
      body.push(`<tr><td><a class="mono" href="#route-${i}">${escapeHtml(routeLabel(route))}</a></td><td class="mono">${escapeHtml(route.entry)}</td>${cells}</tr>`);
    });
    body.push('</tbody></table>');
  } else {
    body.push('<p class="empty">No routes: Astro serves no page of this project.</p>');
  }
  body.push(
    '<div class="legend"><span style="--c: var(--plain)">plain Astro (each loader when its component renders)</span><span style="--c: var(--hoisted)">hoisted: starts at request start</span><span style="--c: var(--waiting)">hoisted, waits for ctx.load</span><span style="--c: var(--render)">not hoisted: starts at render</span><span class="cond">conditional (dashed)</span></div>',
  );

  routes.forEach((route, i) => {
    const { plan } = route;
    const loaders = plan?.loaders ?? [];
    body.push(`<section class="route" id="route-${i}" data-route="${escapeHtml(route.pattern)}" data-entry="${escapeHtml(route.entry)}" data-loaders="${loaders.length}">`);
    body.push(`<h2>${escapeHtml(routeLabel(route))}</h2>`);
    if (!plan) {
      body.push(`<p class="empty">${escapeHtml(route.error ? route.error.diagnostic.message : 'Renders no component (a Markdown page without a layout).')}</p>`);
      body.push('</section>');
      return;
    }
    const rows = [...loaders].sort((a, b) => a.waveBefore - b.waveBefore || a.startBefore - b.startBefore || a.component.localeCompare(b.component));
    const scaleMax = Math.max(plan.makespanBefore, plan.makespan);
    body.push(
      `<p class="summary"><span class="mono">${escapeHtml(route.entry)}</span> · ${plural(loaders.length, 'loader')} · waterfall depth ${plan.depthBefore} → ${plan.depthAfter} · done at ${escapeHtml(formatTime(plan.makespanBefore))} → ${escapeHtml(timeWithUnit(plan.makespan, unit))}</p>`,
    );
    if (rows.length === 0) {
      body.push('<p class="empty">No loaders on this route.</p>');
    } else {
      body.push(
        `<figure><figcaption>Without astro-hoist <span class="muted">· ${plural(plan.depthBefore, 'round')}, done at ${escapeHtml(timeWithUnit(plan.makespanBefore, unit))}</span></figcaption>${chartSvg(plan, rows, 'before', scaleMax, unit)}</figure>`,
      );
      body.push(
        `<figure><figcaption>With astro-hoist <span class="muted">· ${plural(plan.depthAfter, 'wave')}, done at ${escapeHtml(timeWithUnit(plan.makespan, unit))}</span></figcaption>${chartSvg(plan, rows, 'after', scaleMax, unit)}</figure>`,
      );
    }
    const notes = routeNotes(route);
    if (notes.length > 0) {
      const items = notes.map(
        (n) =>
          `<li><strong>${escapeHtml(n.label)}</strong>: ${n.components.map((c) => `<code>${escapeHtml(c)}</code>`).join(', ')}${n.reason ? `<br><span class="reason">${escapeHtml(n.reason)}</span>` : ''}</li>`,
      );
      body.push(`<ul class="notes">${items.join('')}</ul>`);
    }
    if (plan.awaitDepth >= 2) {
      const steps = plan.awaits.map(
        (a) =>
          `<li value="${a.step}"><code>${escapeHtml(`${a.component}:${a.line}:${a.column}`)}</code> await <code>${escapeHtml(a.text)}</code>${a.movable ? ' <strong>movable</strong>' : `<br><span class="reason">stays: ${escapeHtml(a.reason ?? '')}</span>`}</li>`,
      );
      body.push(
        `<p class="summary">Frontmatter awaits: ${plural(plan.awaitDepth, 'step')} in turn → ${plural(plan.awaitDepthAfter, 'step')} after <code>astro-hoist migrate</code></p><ol class="notes">${steps.join('')}</ol>`,
      );
    }
    body.push('</section>');
  });

  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title>
<style>${STYLE}</style>
</head>
<body>
${body.join('\n')}
</body>
</html>
`;
}

/**
 * An analysis of planned routes: what the CLI and a build's `report` format.
 * @param {{ root: string, source: Analysis['source'], routes: RoutePlan[], diagnostics: Diagnostic[], cycles: string[][], options: AnalysisOptions }} parts
 * @returns {Analysis}
 */
export function analysisOf({ root, source, routes, diagnostics, cycles, options }) {
  const files = new Set();
  for (const route of routes) for (const file of route.plan?.files ?? []) files.add(file);
  return { root, source, files: files.size, routes, diagnostics: collectDiagnostics(diagnostics, routes), cycles, options };
}

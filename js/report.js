// What `astro-hoist analyze` shows: the per-page table, the JSON document and the self-contained
// HTML waterfall report. Pure functions over the core's ProjectGraph and Plans, so the CLI stays
// a thin shell around them and the tests call them directly.

/**
 * @typedef {import('../index.js').ProjectGraph} ProjectGraph
 * @typedef {import('../index.js').ScanDiagnostic} ScanDiagnostic
 * @typedef {import('../index.js').Plan} Plan
 * @typedef {import('../index.js').PlannedLoader} PlannedLoader
 */

/**
 * A `ctx.load` dependency cycle the planner refused, with every page it breaks.
 * @typedef {object} LoaderCycle
 * @property {string[]} files the cycle's components, root-relative, first one repeated at the end
 * @property {string[]} pages pages whose plan it broke
 * @property {string} message the core's message
 */

/**
 * The result of analyzing a project: what every output format is built from.
 * @typedef {object} Analysis
 * @property {string} root absolute project root
 * @property {number} files number of scanned files
 * @property {Plan[]} plans one per planned page, in page order
 * @property {LoaderCycle[]} loaderCycles
 * @property {string[][]} cycles component (render) cycles: a component that renders itself again
 * @property {ScanDiagnostic[]} diagnostics every scan diagnostic, plus one `loader-cycle` error per cycle
 * @property {ScanDiagnostic[]} fatal the diagnostics that make `analyze` exit 1
 * @property {AnalysisOptions} options
 */

/**
 * @typedef {object} AnalysisOptions
 * @property {number} [concurrency]
 * @property {boolean} speculative
 * @property {boolean} costs whether a costs file was given (times are ms rather than units)
 */

/** The core's message for a `ctx.load` cycle: `loader dependency cycle: a -> b -> a`. */
const LOADER_CYCLE = /loader dependency cycle: (.+)$/;

/**
 * The files of a `ctx.load` cycle named by a planPage rejection, or null for any other error.
 * @param {unknown} error
 * @returns {string[] | null}
 */
export function loaderCycleFiles(error) {
  const message = error instanceof Error ? error.message : String(error);
  const match = LOADER_CYCLE.exec(message);
  return match ? match[1].split(' -> ') : null;
}

/**
 * Whether a root-relative page path is a route: Astro skips files and folders under
 * `src/pages/` whose name starts with `_`.
 * @param {string} page root-relative posix path
 */
export function isRoute(page) {
  return !page
    .replace(/^src\/pages\//, '')
    .split('/')
    .some((segment) => segment.startsWith('_'));
}

/**
 * Turn a costs file (component id or root-relative component path -> ms) into the core's
 * `costs` (id -> ms).
 * @param {ProjectGraph} graph
 * @param {unknown} json the parsed costs file
 * @returns {{ costs: Record<string, number>, unknown: string[] }} `unknown`: keys naming no scanned file
 * @throws {Error} when the file is not an object of non-negative numbers
 */
export function costsById(graph, json) {
  if (json === null || typeof json !== 'object' || Array.isArray(json)) {
    throw new Error('the costs file must be a JSON object mapping a component id or path to milliseconds');
  }
  /** @type {Map<string, string>} */
  const ids = new Map();
  /** @type {Set<string>} */
  const known = new Set();
  for (const node of graph.nodes) {
    ids.set(node.file, node.info.id);
    known.add(node.info.id);
  }
  /** @type {Record<string, number>} */
  const costs = {};
  /** @type {string[]} */
  const unknown = [];
  for (const [key, value] of Object.entries(json)) {
    if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
      throw new Error(`the cost of ${JSON.stringify(key)} must be a non-negative number of milliseconds, got ${JSON.stringify(value)}`);
    }
    const file = key.replaceAll('\\', '/').replace(/^\.\//, '');
    const id = known.has(key) ? key : ids.get(file);
    if (id === undefined) unknown.push(key);
    else costs[id] = value;
  }
  return { costs, unknown };
}

/**
 * Error diagnostics that make `analyze` fail: those in an `.astro` file a route renders (the
 * page itself or any component reached through the graph, barrels included). The Vite plugin
 * stops the build on exactly these, and the page's plan is incomplete without them. Errors in
 * files no page renders, and every warning (unresolved imports), are reported but not fatal.
 * @param {ProjectGraph} graph
 * @param {string[]} pages the routes analyzed
 * @returns {ScanDiagnostic[]}
 */
export function fatalDiagnostics(graph, pages) {
  const byFile = new Map(graph.nodes.map((node) => [node.file, node]));
  /** @type {Set<string>} */
  const rendered = new Set();
  const stack = [...pages];
  while (stack.length > 0) {
    const file = /** @type {string} */ (stack.pop());
    if (rendered.has(file)) continue;
    rendered.add(file);
    for (const edge of byFile.get(file)?.edges ?? []) {
      stack.push(edge.to);
      // A barrel that fails to parse hides what it re-exports.
      for (const barrel of edge.via) rendered.add(barrel);
    }
  }
  return graph.diagnostics.filter((d) => d.severity === 'error' && rendered.has(d.file));
}

/**
 * The process exit code for an analysis: 1 on a loader cycle or a fatal diagnostic, else 0.
 * @param {Analysis} analysis
 */
export function exitCode(analysis) {
  return analysis.loaderCycles.length > 0 || analysis.fatal.length > 0 ? 1 : 0;
}

/**
 * The `--json` document.
 * @param {Analysis} analysis
 * @returns {{ pages: Plan[], cycles: string[][], diagnostics: ScanDiagnostic[] }}
 */
export function toJson(analysis) {
  return { pages: analysis.plans, cycles: analysis.cycles, diagnostics: analysis.diagnostics };
}

/**
 * @typedef {object} Totals
 * @property {number} pages
 * @property {number} loaders loader runs over every page
 * @property {number} hoisted
 * @property {number} notHoisted
 * @property {number} conditional
 * @property {number} improved pages whose depth went down
 * @property {number} depthBefore deepest waterfall without hoisting
 * @property {number} depthAfter deepest with hoisting
 * @property {number} makespanBefore sum over pages
 * @property {number} makespan sum over pages
 */

/**
 * @param {Plan[]} plans
 * @returns {Totals}
 */
export function totals(plans) {
  /** @type {Totals} */
  const t = { pages: plans.length, loaders: 0, hoisted: 0, notHoisted: 0, conditional: 0, improved: 0, depthBefore: 0, depthAfter: 0, makespanBefore: 0, makespan: 0 };
  for (const plan of plans) {
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
 * A line under a page's row: which loaders, and why when there is a reason.
 * @typedef {{ label: 'not hoisted' | 'waits' | 'conditional', components: string[], reason?: string }} PageNote
 */

/**
 * What to say under a page's row: the not-hoisted loaders grouped by reason, loaders that are
 * hoisted but start late because they await others, and the conditional ones.
 * @param {Plan} plan
 * @returns {PageNote[]}
 */
export function pageNotes(plan) {
  /** @type {Map<string, string[]>} */
  const notHoisted = new Map();
  /** @type {Map<string, string[]>} */
  const waiting = new Map();
  /** @type {string[]} */
  const conditional = [];
  for (const loader of plan.loaders) {
    const reason = loader.reason ?? 'no reason given';
    const group = loader.hoisted ? (loader.batch > 1 ? waiting : null) : notHoisted;
    if (group) {
      const list = group.get(reason) ?? [];
      list.push(loader.component);
      group.set(reason, list);
    }
    if (loader.conditional) conditional.push(loader.component);
  }
  /** @type {PageNote[]} */
  const notes = [];
  for (const [reason, components] of notHoisted) notes.push({ label: 'not hoisted', components, reason });
  for (const [reason, components] of waiting) notes.push({ label: 'waits', components, reason });
  if (conditional.length > 0) notes.push({ label: 'conditional', components: conditional });
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

/** Most warnings listed in the table output; `--json` has them all. */
const MAX_LISTED = 20;

/**
 * The plain-text report: one row per page (loaders, hoisted, depth before -> after, and the
 * estimated time when costs or a concurrency limit make it meaningful), the reasons under each
 * row, then totals and problems.
 * @param {Analysis} analysis
 * @param {{ rootLabel?: string }} [options] how to name the root in the heading
 * @returns {string}
 */
export function formatTable(analysis, { rootLabel = analysis.root } = {}) {
  const { plans, options } = analysis;
  const showTime = options.costs || options.concurrency !== undefined;
  const unit = options.costs ? ' ms' : '';
  const settings = [options.concurrency !== undefined ? `concurrency ${options.concurrency}` : '', options.speculative ? 'speculative' : '']
    .filter(Boolean)
    .join(', ');
  /** @type {string[]} */
  const out = [
    `astro-hoist analyze ${rootLabel}: ${plural(analysis.files, 'file')}, ${plural(plans.length, 'page')}${settings ? ` (${settings})` : ''}`,
    '',
  ];
  const head = ['page', 'loaders', 'hoisted', 'depth'];
  if (showTime) head.push('time');
  const right = [false, true, true, false, false];
  /** @type {{ row: string[], notes: PageNote[] }[]} */
  const rows = plans.map((plan) => {
    const row = [
      plan.page,
      String(plan.loaders.length),
      String(plan.loaders.filter((l) => l.hoisted).length),
      `${plan.depthBefore} → ${plan.depthAfter}`,
    ];
    if (showTime) row.push(`${formatTime(plan.makespanBefore)} → ${formatTime(plan.makespan)}${unit}`);
    return { row, notes: pageNotes(plan) };
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
  if (plans.length === 0) out.push('(no pages: pages are the .astro files under src/pages/)');

  const t = totals(plans);
  out.push('');
  const parts = [`${plural(t.pages, 'page')}`, `${plural(t.loaders, 'loader')} (${t.hoisted} hoisted, ${t.notHoisted} not hoisted, ${t.conditional} conditional)`];
  parts.push(`deepest waterfall ${t.depthBefore} → ${t.depthAfter}`);
  parts.push(`${plural(t.improved, 'page')} shallower`);
  if (showTime) parts.push(`total time ${formatTime(t.makespanBefore)} → ${formatTime(t.makespan)}${unit}`);
  out.push(`total: ${parts.join('; ')}`);

  for (const cycle of analysis.loaderCycles) {
    out.push(`error: loader dependency cycle ${cycle.files.join(' -> ')} (breaks ${cycle.pages.join(', ')})`);
  }
  for (const d of analysis.fatal) out.push(`error: ${d.file}:${d.line}:${d.column}: ${d.message} [${d.code}]`);
  const fatal = new Set(analysis.fatal);
  const others = analysis.diagnostics.filter((d) => !fatal.has(d) && d.code !== 'loader-cycle');
  for (const d of others.slice(0, MAX_LISTED)) out.push(`${d.severity}: ${d.file}:${d.line}:${d.column}: ${d.message} [${d.code}]`);
  if (others.length > MAX_LISTED) out.push(`... and ${others.length - MAX_LISTED} more (--json lists every diagnostic)`);
  for (const cycle of analysis.cycles) out.push(`note: components render each other in a cycle: ${cycle.join(' -> ')}`);
  return `${out.join('\n')}\n`;
}

/**
 * One line of a text progress bar, e.g. `[######------] 12/40 planning pages`.
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
 * The kind of a loader's bar: hoisted into batch 1, hoisted but waiting for `ctx.load`, or run
 * at render (not hoisted).
 * @param {PlannedLoader} loader
 * @returns {'hoisted' | 'waiting' | 'render'}
 */
function barKind(loader) {
  if (!loader.hoisted) return 'render';
  return loader.batch > 1 ? 'waiting' : 'hoisted';
}

const CHART = { width: 880, label: 250, row: 24, bar: 14, top: 8, axis: 26, right: 24 };

/**
 * One waterfall chart: a bar per loader on a time axis shared by both charts of a page.
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
    const round = which === 'before' ? loader.batchBefore : loader.batch;
    const kind = which === 'before' ? 'plain' : barKind(loader);
    const classes = ['bar', kind];
    if (loader.conditional) classes.push('conditional');
    if (which === 'after' && critical.has(loader.id)) classes.push('critical');
    const bx = x(start);
    // A zero-cost loader still gets a visible sliver.
    const bw = Math.max(3, x(finish) - bx);
    const status = which === 'before' ? `round ${round} of plain Astro's waterfall` : loader.hoisted ? `hoisted, batch ${round}` : 'not hoisted: starts when its component renders';
    const tip = [`${loader.component}`, `${formatTime(start)}–${timeWithUnit(finish, unit)}`, status, loader.reason && which === 'after' ? loader.reason : '', loader.conditional ? 'conditional' : '']
      .filter(Boolean)
      .join('\n');
    if (i % 2 === 1) parts.push(`<rect class="stripe" x="0" y="${y}" width="${width}" height="${row}"/>`);
    parts.push(
      `<text class="name" x="${label - 10}" y="${y + row / 2 + 4}" text-anchor="end">${escapeHtml(shortName(loader.component, 34))}<title>${escapeHtml(loader.component)}</title></text>`,
    );
    parts.push(
      `<rect class="${classes.join(' ')}" data-loader="${escapeHtml(loader.id)}" data-component="${escapeHtml(loader.component)}" data-start="${start}" data-finish="${finish}" data-batch="${round}" x="${bx.toFixed(1)}" y="${y + (row - bar) / 2}" width="${bw.toFixed(1)}" height="${bar}" rx="3"><title>${escapeHtml(tip)}</title></rect>`,
    );
  });
  const ex = x(end).toFixed(1);
  parts.push(`<line class="end" x1="${ex}" x2="${ex}" y1="${top - 4}" y2="${top + rows.length * row + 4}"/>`);
  parts.push(`<text class="axis-label" x="${label - 10}" y="${top + rows.length * row + 16}" text-anchor="end">${escapeHtml(unit)}</text>`);
  // Stripes go under everything else.
  const stripes = parts.filter((p) => p.startsWith('<rect class="stripe"'));
  const rest = parts.filter((p) => !p.startsWith('<rect class="stripe"'));
  return `<svg class="chart" data-chart="${which}" viewBox="0 0 ${width} ${height}" width="${width}" height="${height}" role="img" aria-label="${which === 'before' ? 'without' : 'with'} astro-hoist: done at ${escapeHtml(timeWithUnit(end, unit))}">${stripes.join('')}${rest.join('')}</svg>`;
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
section.page { border-top: 1px solid var(--line); padding-top: 20px; margin-top: 24px; }
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
.empty { color: var(--muted); font-style: italic; }
.notes li { margin: 4px 0; }
.reason { color: var(--muted); }
.problems li { margin: 2px 0; }
.error { color: var(--render); }
`;

/**
 * The self-contained HTML report: a summary table, then per page a waterfall chart without
 * hoisting above one with it, on the same time axis, one bar per loader (`data-loader` = id),
 * and the reasons for loaders that are not hoisted. Inline CSS and SVG only: no scripts, fonts
 * or other files, so it opens anywhere and can be attached to a CI run.
 * @param {Analysis} analysis
 * @param {{ title?: string }} [options]
 * @returns {string}
 */
export function buildHtmlReport(analysis, { title = 'astro-hoist analyze' } = {}) {
  const { plans, options } = analysis;
  /** @type {'ms' | 'units'} */
  const unit = options.costs ? 'ms' : 'units';
  const t = totals(plans);
  const settings = [
    options.costs ? 'costs from file (ms)' : 'every loader costs 1 unit (pass --costs for ms)',
    options.concurrency !== undefined ? `concurrency ${options.concurrency}` : 'no concurrency limit',
    options.speculative ? 'speculative: conditional loaders start early' : 'conditional loaders start at render',
  ];
  /** @type {string[]} */
  const body = [];
  body.push(`<h1>${escapeHtml(title)}</h1>`);
  body.push(`<p class="sub"><span class="mono">${escapeHtml(analysis.root)}</span> · ${plural(analysis.files, 'file')} · ${escapeHtml(settings.join(' · '))}</p>`);
  body.push(
    `<p>${plural(t.pages, 'page')}, ${plural(t.loaders, 'loader')} (${t.hoisted} hoisted, ${t.notHoisted} not hoisted, ${t.conditional} conditional). Deepest waterfall ${t.depthBefore} → ${t.depthAfter}; ${plural(t.improved, 'page')} shallower.</p>`,
  );
  /** @type {string[]} */
  const problems = [];
  for (const cycle of analysis.loaderCycles) {
    problems.push(`<li class="error">loader dependency cycle <code>${escapeHtml(cycle.files.join(' -> '))}</code>: breaks ${cycle.pages.map((p) => `<code>${escapeHtml(p)}</code>`).join(', ')}</li>`);
  }
  const fatal = new Set(analysis.fatal);
  for (const d of analysis.diagnostics) {
    if (d.code === 'loader-cycle') continue;
    const cls = fatal.has(d) ? ' class="error"' : '';
    problems.push(`<li${cls}>${escapeHtml(d.severity)}: <code>${escapeHtml(`${d.file}:${d.line}:${d.column}`)}</code> ${escapeHtml(d.message)} <span class="mono">[${escapeHtml(d.code)}]</span></li>`);
  }
  for (const cycle of analysis.cycles) problems.push(`<li>components render each other in a cycle: <code>${escapeHtml(cycle.join(' -> '))}</code></li>`);
  if (problems.length > 0) body.push(`<h3>Problems</h3><ul class="problems">${problems.join('')}</ul>`);

  if (plans.length > 0) {
    body.push(`<table class="pages"><thead><tr><th>page</th><th>loaders</th><th>hoisted</th><th>depth</th><th>time (${unit})</th></tr></thead><tbody>`);
    plans.forEach((plan, i) => {
      const hoisted = plan.loaders.filter((l) => l.hoisted).length;
      body.push(
        `<tr><td><a class="mono" href="#page-${i}">${escapeHtml(plan.page)}</a></td><td class="num">${plan.loaders.length}</td><td class="num">${hoisted}</td><td class="num">${plan.depthBefore} → ${plan.depthAfter}</td><td class="num">${escapeHtml(formatTime(plan.makespanBefore))} → ${escapeHtml(formatTime(plan.makespan))}</td></tr>`,
      );
    });
    body.push('</tbody></table>');
  } else {
    body.push('<p class="empty">No pages: pages are the .astro files under src/pages/.</p>');
  }
  body.push(
    '<div class="legend"><span style="--c: var(--plain)">plain Astro (each loader when its component renders)</span><span style="--c: var(--hoisted)">hoisted: starts at request start</span><span style="--c: var(--waiting)">hoisted, waits for ctx.load</span><span style="--c: var(--render)">not hoisted: starts at render</span><span class="cond">conditional (dashed)</span></div>',
  );

  plans.forEach((plan, i) => {
    const rows = [...plan.loaders].sort(
      (a, b) => a.batchBefore - b.batchBefore || a.startBefore - b.startBefore || a.component.localeCompare(b.component),
    );
    const scaleMax = Math.max(plan.makespanBefore, plan.makespan);
    body.push(`<section class="page" id="page-${i}" data-page="${escapeHtml(plan.page)}" data-loaders="${plan.loaders.length}">`);
    body.push(`<h2>${escapeHtml(plan.page)}</h2>`);
    body.push(
      `<p class="summary">${plural(plan.loaders.length, 'loader')} · waterfall depth ${plan.depthBefore} → ${plan.depthAfter} · done at ${escapeHtml(formatTime(plan.makespanBefore))} → ${escapeHtml(timeWithUnit(plan.makespan, unit))}</p>`,
    );
    if (rows.length === 0) {
      body.push('<p class="empty">No loaders on this page.</p>');
    } else {
      body.push(
        `<figure><figcaption>Without astro-hoist <span class="muted">· ${plural(plan.depthBefore, 'round')}, done at ${escapeHtml(timeWithUnit(plan.makespanBefore, unit))}</span></figcaption>${chartSvg(plan, rows, 'before', scaleMax, unit)}</figure>`,
      );
      body.push(
        `<figure><figcaption>With astro-hoist <span class="muted">· ${plural(plan.depthAfter, 'batch', 'batches')}, done at ${escapeHtml(timeWithUnit(plan.makespan, unit))}</span></figcaption>${chartSvg(plan, rows, 'after', scaleMax, unit)}</figure>`,
      );
      const notes = pageNotes(plan);
      if (notes.length > 0) {
        const items = notes.map(
          (n) =>
            `<li><strong>${escapeHtml(n.label)}</strong>: ${n.components.map((c) => `<code>${escapeHtml(c)}</code>`).join(', ')}${n.reason ? `<br><span class="reason">${escapeHtml(n.reason)}</span>` : ''}</li>`,
        );
        body.push(`<ul class="notes">${items.join('')}</ul>`);
      }
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

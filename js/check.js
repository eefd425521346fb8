// `astro-hoist analyze --check`: a budget for CI. Pure functions over an analysis (report.js):
// which routes have more data waves than allowed, which loaders are not hoisted, what got worse
// than a saved `--json` report; and the SARIF document code scanning reads (file:line of each
// cause). The CLI prints the violations and exits 1 when there is any.

import { fatalDiagnostics, REPORT_VERSION } from './report.js';

/**
 * @typedef {import('./report.js').Analysis} Analysis
 * @typedef {import('../index.js').Diagnostic} Diagnostic
 * @typedef {import('../index.js').RoutePlan} RoutePlan
 * @typedef {import('../index.js').PlannedLoader} PlannedLoader
 */

/** What `--fail-on` accepts. */
export const FAIL_ON = /** @type {const} */ (['not-hoisted', 'conditional', 'warning']);

/**
 * @typedef {typeof FAIL_ON[number]} FailOn
 * @typedef {object} Budget
 * @property {number} [maxDepth] most data waves a route may have (its plan's `depthAfter`)
 * @property {Set<FailOn>} [failOn] what else fails the check
 * @property {{ routes: RoutePlan[] }} [baseline] a saved `analyze --json` report
 * @typedef {object} Violation
 * @property {'max-depth' | 'not-hoisted' | 'conditional' | 'warning' | 'baseline'} rule
 * @property {string} message
 * @property {string} file root-relative path of the cause
 * @property {number} line 1-based; 0 when unknown
 * @property {number} column 1-based; 0 when unknown
 * @property {string[]} routes the route patterns it concerns
 */

/**
 * Parses `--fail-on` (a comma-separated list).
 * @param {string} value
 * @returns {Set<FailOn>}
 * @throws {Error} naming an unknown value
 */
export function parseFailOn(value) {
  /** @type {Set<FailOn>} */
  const out = new Set();
  for (const part of value.split(',').map((p) => p.trim()).filter(Boolean)) {
    if (!(/** @type {readonly string[]} */ (FAIL_ON)).includes(part)) {
      throw new Error(`--fail-on: unknown value ${JSON.stringify(part)} (one or more of ${FAIL_ON.join(', ')})`);
    }
    out.add(/** @type {FailOn} */ (part));
  }
  if (out.size === 0) throw new Error(`--fail-on needs a value (one or more of ${FAIL_ON.join(', ')})`);
  return out;
}

/**
 * Reads a baseline: a report written by `analyze --json` (or a build's `report`).
 * @param {unknown} json
 * @returns {{ routes: RoutePlan[] }}
 * @throws {Error} when it is not such a report
 */
export function parseBaseline(json) {
  if (!json || typeof json !== 'object' || !Array.isArray(/** @type {any} */ (json).routes)) {
    throw new Error('not an astro-hoist report (write one with `astro-hoist analyze --json > file`)');
  }
  const { version } = /** @type {{ version?: unknown }} */ (json);
  if (version !== REPORT_VERSION) {
    throw new Error(`a report of version ${JSON.stringify(version)}; this astro-hoist reads version ${REPORT_VERSION} (write it again)`);
  }
  return { routes: /** @type {RoutePlan[]} */ (/** @type {any} */ (json).routes) };
}

/**
 * Where a loader's note points (its `loader` export), if the plan has one for it.
 * @param {RoutePlan} route
 * @param {string} component
 * @returns {{ line: number, column: number }}
 */
function loaderPosition(route, component) {
  const note = route.plan?.notes.find((n) => n.file === component && n.line > 0);
  return note ? { line: note.line, column: note.column } : { line: 0, column: 0 };
}

/**
 * Every violation of `budget`, each once (a loader not hoisted on several routes is one
 * violation listing them all), in route order.
 * @param {Analysis} analysis
 * @param {Budget} budget
 * @returns {Violation[]}
 */
export function checkBudget(analysis, budget) {
  /** @type {Map<string, Violation>} */
  const out = new Map();
  /** @param {Violation} v @param {string} key */
  const add = (v, key) => {
    const known = out.get(key);
    if (known) {
      for (const r of v.routes) if (!known.routes.includes(r)) known.routes.push(r);
    } else out.set(key, v);
  };
  const failOn = budget.failOn ?? new Set();
  /** @type {Map<string, RoutePlan>} */
  const before = new Map((budget.baseline?.routes ?? []).map((r) => [r.pattern, r]));

  for (const route of analysis.routes) {
    const { plan } = route;
    if (!plan) continue;
    /** @type {Map<string, PlannedLoader>} */
    const byId = new Map(plan.loaders.map((l) => [l.id, l]));
    if (budget.maxDepth !== undefined && plan.depthAfter > budget.maxDepth) {
      const chain = plan.criticalPath.map((id) => byId.get(id)?.component ?? id);
      const deepest = byId.get(plan.criticalPath[plan.criticalPath.length - 1] ?? '');
      const at = deepest ? loaderPosition(route, deepest.component) : { line: 0, column: 0 };
      add(
        {
          rule: 'max-depth',
          message: `${plan.depthAfter} data waves, more than --max-depth ${budget.maxDepth}${chain.length > 1 ? ` (${chain.join(' → ')})` : ''}`,
          file: deepest?.component ?? route.entry,
          ...at,
          routes: [route.pattern],
        },
        `max-depth\0${route.pattern}`,
      );
    }
    for (const loader of plan.loaders) {
      if (failOn.has('not-hoisted') && !loader.hoisted && !loader.conditional) {
        add(
          { rule: 'not-hoisted', message: `its loader is not hoisted: ${loader.reason ?? 'no reason given'}`, file: loader.component, ...loaderPosition(route, loader.component), routes: [route.pattern] },
          `not-hoisted\0${loader.component}`,
        );
      }
      if (failOn.has('conditional') && loader.conditional && !loader.hoisted) {
        add(
          { rule: 'conditional', message: `its loader starts only when a conditional usage renders: ${loader.reason ?? 'no reason given'}`, file: loader.component, ...loaderPosition(route, loader.component), routes: [route.pattern] },
          `conditional\0${loader.component}`,
        );
      }
    }
    if (failOn.has('warning')) {
      for (const note of plan.notes) {
        if (note.severity !== 'warning') continue;
        add({ rule: 'warning', message: `${note.message} [${note.code}]`, file: note.file, line: note.line, column: note.column, routes: [route.pattern] }, `warning\0${note.file}\0${note.line}\0${note.code}\0${note.message}`);
      }
    }
    const old = before.get(route.pattern)?.plan;
    if (old) {
      if (plan.depthAfter > old.depthAfter) {
        add(
          { rule: 'baseline', message: `${plan.depthAfter} data waves, ${old.depthAfter} in the baseline`, file: route.entry, line: 0, column: 0, routes: [route.pattern] },
          `baseline-depth\0${route.pattern}`,
        );
      }
      const hoistedBefore = new Set(old.loaders.filter((l) => l.hoisted).map((l) => l.component));
      for (const loader of plan.loaders) {
        if (loader.hoisted || !hoistedBefore.has(loader.component)) continue;
        add(
          { rule: 'baseline', message: `its loader was hoisted in the baseline and is not now: ${loader.reason ?? 'no reason given'}`, file: loader.component, ...loaderPosition(route, loader.component), routes: [route.pattern] },
          `baseline-hoisted\0${loader.component}`,
        );
      }
    }
  }
  return [...out.values()];
}

/**
 * The violations as lines for a terminal (`file:line:column: check rule: message (routes)`).
 * @param {Violation[]} violations
 */
export function formatViolations(violations) {
  if (violations.length === 0) return 'check: passed\n';
  const lines = violations.map((v) => {
    const where = v.line > 0 ? `${v.file}:${v.line}:${v.column}` : v.file;
    const routes = v.routes.length > 3 ? `${v.routes.slice(0, 3).join(', ')} and ${v.routes.length - 3} more` : v.routes.join(', ');
    return `check failed [${v.rule}] ${where}: ${v.message} (route ${routes})`;
  });
  return `${lines.join('\n')}\ncheck: ${violations.length} violation${violations.length === 1 ? '' : 's'}\n`;
}

/** Descriptions of the SARIF rules. */
const RULES = {
  'max-depth': 'A route has more data-loading waves than the budget allows.',
  'not-hoisted': 'A loader runs when its component renders instead of in its route\'s first batch.',
  conditional: 'A loader starts only when a conditional usage renders.',
  warning: 'astro-hoist reported a warning for a file on a route.',
  baseline: 'A route\'s plan is worse than in the saved baseline report.',
  error: 'A file on a route has an error (a syntax error, a loader cycle) or a route cannot be planned.',
};

/**
 * A SARIF 2.1.0 log of the violations and of the errors that fail `analyze` anyway, for code
 * scanning: one result per cause, at its file:line, relative to the project root.
 * @param {Analysis} analysis
 * @param {Violation[]} violations
 * @param {string} version astro-hoist's
 */
export function toSarif(analysis, violations, version) {
  /** @param {string} file @param {number} line @param {number} column */
  const location = (file, line, column) => ({
    physicalLocation: {
      artifactLocation: { uri: encodeURI(file.replace(/^\0/, '')), uriBaseId: 'PROJECTROOT' },
      // A cause without a known line (a route's depth) is shown at the top of its file.
      region: { startLine: Math.max(1, line), ...(column > 0 ? { startColumn: column } : {}) },
    },
  });
  const results = [
    ...fatalDiagnostics(analysis).map((d) => ({
      ruleId: 'error',
      level: 'error',
      message: { text: `${d.message} [${d.code}]` },
      locations: [location(d.file, d.line, d.column)],
    })),
    ...violations.map((v) => ({
      ruleId: v.rule,
      level: 'error',
      message: { text: `${v.message} (route ${v.routes.join(', ')})` },
      locations: [location(v.file, v.line, v.column)],
    })),
  ];
  const root = analysis.root.replace(/\\/g, '/').replace(/\/?$/, '/');
  return {
    version: '2.1.0',
    runs: [
      {
        tool: {
          driver: {
            name: 'astro-hoist',
            version,
            rules: Object.entries(RULES).map(([id, text]) => ({ id, shortDescription: { text } })),
          },
        },
        originalUriBaseIds: { PROJECTROOT: { uri: `file://${root.startsWith('/') ? '' : '/'}${encodeURI(root)}` } },
        results,
      },
    ],
  };
}

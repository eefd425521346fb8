// Every route's plan, made in JS from the core's packed text: `planRoutes` hands each object to
// JS one property at a time through Node-API, which at a thousand routes (~50,000 objects) costs
// more than planning them; `JSON.parse` makes the same objects in about a third of the time.
// The text writes each repeated string (ids, components, files) as an index into a table of the
// distinct ones, and this module puts the strings back. The fields it maps are the binding's
// `SharedString`/`SharedStrings` fields (src/types.rs); a unit test checks the result is
// `planRoutes`' own, field for field.

/**
 * @typedef {import('../index.js').Project} Project
 * @typedef {import('../index.js').PlanOptions} PlanOptions
 * @typedef {import('../index.js').RoutePlan} RoutePlan
 * @typedef {import('../index.js').Plan} Plan
 * @typedef {import('../index.js').BatchEntry} BatchEntry
 */

/**
 * Every route of `project`, planned: `project.planRoutes(options)`, made faster.
 * @param {Project} project
 * @param {PlanOptions} [options]
 * @returns {Promise<RoutePlan[]>}
 */
export async function planRoutes(project, options) {
  // A project of another astro-hoist version (the CLI run from elsewhere) may not pack.
  if (typeof project.planRoutesPacked !== 'function') return project.planRoutes(options);
  return decodeRoutePlans(await project.planRoutesPacked(options));
}

/**
 * The routes' plans from `project.planRoutesPacked`'s text.
 * @param {string} text
 * @returns {RoutePlan[]}
 */
export function decodeRoutePlans(text) {
  /** @type {{ strings: string[], value: any[] }} */
  const { strings, value: routes } = JSON.parse(text);
  /** @param {number} i */
  const string = (i) => strings[i];
  /** @param {any} entry */
  const entry = (entry) => {
    entry.id = strings[entry.id];
    entry.file = strings[entry.file];
    entry.component = strings[entry.component];
  };
  for (const route of routes) {
    const plan = route.plan;
    if (plan) {
      plan.entries.forEach(entry);
      for (const loader of plan.loaders) {
        loader.id = strings[loader.id];
        loader.component = strings[loader.component];
        loader.dependsOn = loader.dependsOn.map(string);
        loader.waitsFor = loader.waitsFor.map(string);
      }
      plan.criticalPath = plan.criticalPath.map(string);
      plan.order = plan.order.map(string);
      plan.files = plan.files.map(string);
      for (const step of plan.awaits) step.component = strings[step.component];
    }
    route.error?.entries.forEach(entry);
  }
  return routes;
}

// Planning pages with the native core. `planPage` receives the graph as a JS value and converts
// all of it on every call, on the JS thread (~0.15 ms per file: half a second per page of a
// 3,000-file project). A page's plan only reads the components the page reaches, so each call
// gets that subgraph: the same plan, in time proportional to the page instead of the project.

import path from 'node:path';

/**
 * @typedef {import('../index.js').ProjectGraph} ProjectGraph
 * @typedef {import('../index.js').GraphNode} GraphNode
 */

/** Extensions the core tries for a `ctx.load` import source (plan.rs `dependency_target`). */
const LOAD_SOURCE_EXTENSIONS = ['', '.astro', '.ts', '.js', '.tsx', '.mjs'];

/**
 * The part of `graph` that `planPage(graph, page)` reads: the page, every component reached
 * through edges (slots and barrels included), and every component whose loader is awaited
 * through `ctx.load` from those, transitively. Errs on the side of including more: extra
 * nodes never change a plan.
 * @param {ProjectGraph} graph
 * @param {string} page root-relative path of the page
 * @returns {ProjectGraph}
 */
export function pageSubgraph(graph, page) {
  /** @type {Map<string, GraphNode>} */
  const byFile = new Map(graph.nodes.map((node) => [node.file, node]));
  /** @type {Set<string>} */
  const keep = new Set();
  const stack = [page];
  while (stack.length > 0) {
    const file = /** @type {string} */ (stack.pop());
    const node = byFile.get(file);
    if (!node || keep.has(file)) continue;
    keep.add(file);
    for (const edge of node.edges) stack.push(edge.to);
    for (const dependency of node.info.loader?.dependsOn ?? []) {
      const source = dependency.source;
      if (!source || !source.startsWith('.')) continue;
      const joined = path.posix.normalize(`${path.posix.dirname(file)}/${source}`);
      for (const ext of LOAD_SOURCE_EXTENSIONS) if (byFile.has(joined + ext)) stack.push(joined + ext);
    }
  }
  return { ...graph, nodes: graph.nodes.filter((node) => keep.has(node.file)), diagnostics: [] };
}

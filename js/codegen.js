// Code generation on raw `.astro` sources: binds each getLoaderData() call to its component,
// and gives pages the block that starts their hoisted loaders in one batch. Pure functions over
// strings and the core's ComponentInfo; edits go through magic-string for an exact source map.

import path from 'node:path';
import MagicString from 'magic-string';
import { toComponentPath } from './graph.js';

/**
 * @typedef {import('./graph.js').ComponentInfo} ComponentInfo
 * @typedef {import('./graph.js').PageLoader} PageLoader
 */

/**
 * Options forwarded to the runtime's `__startBatch` (already validated by the integration).
 * @typedef {object} BatchOptions
 * @property {number} [timeout]
 * @property {number} [concurrency]
 * @property {boolean} [speculative]
 * @property {boolean} [serverTiming]
 */

/**
 * A batch entry to generate. `self` marks the page's own loader, which is referenced by its
 * local name instead of being imported.
 * @typedef {object} BatchEntry
 * @property {string} file absolute path of the component
 * @property {string} id stable key (the core's id)
 * @property {string} component root-relative posix path
 * @property {boolean} conditional
 */

/**
 * @typedef {object} CodegenWarning
 * @property {string} message
 * @property {number} line 1-based
 * @property {number} column 1-based
 */

export const RUNTIME_SPECIFIER = 'astro-hoist/runtime';
const START_NAME = '$$hoistStart';
const LOADER_NAME = '$$hoistLoader';

/**
 * Relative posix import specifier from `importer`'s directory to `target`, always starting with
 * `./` (e.g. `./../components/Child.astro`), so it is never taken for a package name and no
 * absolute path ends up in generated code.
 * @param {string} importer absolute path of the importing file
 * @param {string} target absolute path of the imported file
 * @returns {string}
 */
export function relativeSpecifier(importer, target) {
  const relative = path.relative(path.dirname(importer), target).split(path.sep).join('/');
  return `./${relative}`;
}

/**
 * The object literal passed to one getLoaderData() call.
 * @param {ComponentInfo} info
 * @param {string} component root-relative posix path
 * @returns {string}
 */
export function loaderBinding(info, component) {
  // `loader` is a module-level binding (Astro hoists frontmatter exports), so it is in scope at
  // every call site; without a loader the runtime reports the component's mistake itself.
  const loader = info.loader ? 'loader' : 'undefined';
  return `{ astro: Astro, key: ${JSON.stringify(info.id)}, loader: ${loader}, component: ${JSON.stringify(component)} }`;
}

/**
 * Insert the binding object into every getLoaderData() call of a component.
 * @param {MagicString} s the component's source
 * @param {ComponentInfo} info
 * @param {string} component root-relative posix path
 * @returns {CodegenWarning[]} warnings (calls that already had arguments)
 */
export function rewriteLoaderDataCalls(s, info, component) {
  /** @type {CodegenWarning[]} */
  const warnings = [];
  const binding = loaderBinding(info, component);
  for (const call of info.loaderDataCalls ?? []) {
    if (call.argCount > 0) {
      // The public getLoaderData() takes no arguments; keep the user's after ours so the call
      // still works, and say so.
      warnings.push({
        message: 'getLoaderData() takes no arguments; the arguments given are ignored',
        line: call.span.line,
        column: call.span.column,
      });
      s.appendLeft(call.argsStart, `${binding}, `);
    } else {
      s.appendLeft(call.argsStart, binding);
    }
  }
  return warnings;
}

/**
 * The statements that start a page's hoisted loaders: runtime import, one import of each
 * child's own `loader` export (so the hoisted loader shares that module's imports, exports and
 * state), and the `$$hoistStart(...)` call. Every string is a JSON literal, so any file name
 * yields valid code. Ends with a newline.
 * @param {BatchEntry[]} entries
 * @param {object} args
 * @param {string} args.page absolute path of the page (import specifiers are relative to it)
 * @param {BatchOptions} [args.options]
 * @param {string[]} [args.order] keys in the order to start them under a concurrency limit (the core's plan)
 * @returns {string}
 */
export function batchBlock(entries, { page, options = {}, order }) {
  const lines = [`import { __startBatch as ${START_NAME} } from ${JSON.stringify(RUNTIME_SPECIFIER)};`];
  /** @type {string[]} */
  const items = [];
  let n = 0;
  for (const entry of entries) {
    let loader;
    if (entry.file === page) {
      loader = 'loader'; // the page's own export, in scope at module level
    } else {
      loader = `${LOADER_NAME}${n++}`;
      lines.push(`import { loader as ${loader} } from ${JSON.stringify(relativeSpecifier(page, entry.file))};`);
    }
    items.push(
      `  { key: ${JSON.stringify(entry.id)}, loader: ${loader}, component: ${JSON.stringify(entry.component)}, conditional: ${entry.conditional ? 'true' : 'false'} },`,
    );
  }
  const batchOptions = {
    timeout: options.timeout,
    concurrency: options.concurrency,
    speculative: options.speculative,
    serverTiming: options.serverTiming,
    order,
  };
  lines.push(`${START_NAME}(Astro, [`, ...items, `], ${JSON.stringify(batchOptions)});`);
  return `${lines.join('\n')}\n`;
}

/**
 * Insert `block` at the start of the page's frontmatter content, creating a frontmatter when
 * the page has none.
 * @param {MagicString} s
 * @param {ComponentInfo} info
 * @param {string} block
 */
export function injectIntoFrontmatter(s, info, block) {
  if (info.frontmatter) {
    // prependRight: the block belongs to the frontmatter's first chunk, before anything a
    // getLoaderData() rewrite may append at the same offset.
    s.prependRight(info.frontmatter.start, block);
  } else {
    // A file without fences: a frontmatter must open the file (after a byte-order mark).
    const start = s.original.startsWith('\uFEFF') ? 1 : 0;
    s.prependRight(start, `---\n${block}---\n`);
  }
}

/**
 * Transform one raw `.astro` source.
 * @param {object} args
 * @param {string} args.source raw `.astro` source
 * @param {string} args.file absolute path
 * @param {string} args.root project root
 * @param {ComponentInfo} args.info the core's analysis of `source`
 * @param {PageLoader[] | null} [args.loaders] for pages: the graph's loaders (only hoistable ones are batched)
 * @param {BatchOptions} [args.options]
 * @param {string[]} [args.order] for pages: start order under a concurrency limit
 * @returns {{ code: string, map: import('magic-string').SourceMap, warnings: CodegenWarning[] } | null} null: nothing to change
 */
export function transformAstro({ source, file, root, info, loaders = null, options = {}, order }) {
  const s = new MagicString(source);
  const component = toComponentPath(root, file);
  const warnings = rewriteLoaderDataCalls(s, info, component);
  const entries = (loaders ?? []).filter((loader) => loader.hoistable);
  if (entries.length > 0) injectIntoFrontmatter(s, info, batchBlock(entries, { page: file, options, order }));
  if (!s.hasChanged()) return null;
  return {
    code: s.toString(),
    map: s.generateMap({ hires: true, includeContent: true, source: file, file }),
    warnings,
  };
}

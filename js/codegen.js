// Code generation for `.astro` components, as pure functions over strings and the core's
// ComponentInfo; every edit goes through magic-string for an exact source map.
//
// Two steps per component:
// - `transformAstro` edits the raw `.astro` source before Astro compiles it: it binds each
//   getLoaderData() call to its component and render, and inserts the call that starts the batch
//   of the component's tree (after the frontmatter's guards). It returns what must follow Astro's
//   compiled module as `append`: the batch's entries, and the registration of the component's
//   hoistable loader (by key: a batch finds its descendants' loaders there, so no component
//   imports another's module). Both reach the runtime by a process-wide name, not an import;
//   only a cached loader's facts import it (the same module its component imports: no new edge
//   in the module graph).
// - `appendImports` adds that at the very end of Astro's compiled module. Astro orders CSS by
//   each import's index in its importer, and compiled frontmatter imports come before the
//   component's own style imports: an import anywhere earlier would move every later one.

import MagicString from 'magic-string';
import { toComponentPath } from './paths.js';
import { processWideKey, REGISTER_LOADER, START_BATCH } from './process-wide.js';
import { CACHE_CONFIG_ID } from './vite-plugin/cache-config.js';

/**
 * @typedef {import('../index.js').ComponentInfo} ComponentInfo
 */

/**
 * Options forwarded to the runtime's `__startBatch` (already validated by the integration).
 * @typedef {object} BatchOptions
 * @property {number} [timeout]
 * @property {number} [concurrency]
 * @property {boolean} [speculative]
 * @property {'paths' | 'opaque' | false} [serverTiming] resolved for this build (see integration.js)
 * @property {boolean} [dev] built by `astro dev`
 * @property {boolean} [cacheConfig] the integration was given `cache` options (its generated module configures the store)
 */

/**
 * A loader of the component's tree to start in its batch.
 * @typedef {object} BatchEntry
 * @property {string} file absolute path of the component that owns it
 * @property {string} id stable key (the core's id)
 * @property {string} component root-relative posix path
 * @property {boolean} conditional reachable only through conditional usages (started only when speculative)
 */

/**
 * @typedef {object} CodegenWarning
 * @property {string} message
 * @property {number} line 1-based
 * @property {number} column 1-based
 */

export const RUNTIME_SPECIFIER = 'astro-hoist/runtime';
const START_NAME = '$$hoistStart';
const CACHE_INFO_NAME = '$$hoistCacheInfo';
const FLOW_NAME = '$$hoistFlow';
const BATCH_NAME = '$$hoistBatch';
/**
 * Astro's per-render SSRResult, in scope in every frontmatter (the compiler's parameter name in
 * Astro 5 and 7). `typeof` keeps the code valid should a compiler ever name it otherwise: the
 * runtime then tells renders apart by their request.
 */
const RESULT = 'typeof $$result === "undefined" ? undefined : $$result';

/**
 * The object literal passed to one getLoaderData() call.
 * @param {ComponentInfo} info
 * @param {string} component root-relative posix path
 * @param {BatchOptions} [options] the integration's (the runtime options among them are bound)
 * @returns {string}
 */
export function loaderBinding(info, component, options = {}) {
  // `loader` is a module-level binding (Astro hoists frontmatter exports; a moved loader is
  // imported back), so it is in scope at every call site; without a loader the runtime reports
  // the component's mistake itself.
  const loader = info.loader ? 'loader' : 'undefined';
  const runtime = runtimeOptions(options);
  let extra = Object.keys(runtime).length > 0 ? `, options: ${JSON.stringify(runtime)}` : '';
  // A loader that reads its props (or passes its whole context on) runs once per distinct props.
  const context = info.loader?.reads.context ?? [];
  if (context.includes('props') || context.includes('*')) extra += ', props: true';
  return `{ astro: Astro, result: ${RESULT}, key: ${JSON.stringify(info.id)}, loader: ${loader}, component: ${JSON.stringify(component)}${extra} }`;
}

/**
 * The options the runtime applies to a render (a batch's, or a getLoaderData() binding's when
 * no batch ran), without the ones left unset.
 * @param {BatchOptions} options
 * @returns {Record<string, unknown>}
 */
function runtimeOptions(options) {
  /** @type {Record<string, unknown>} */
  const out = {};
  for (const key of /** @type {const} */ (['timeout', 'concurrency', 'serverTiming', 'dev'])) {
    if (options[key] !== undefined && options[key] !== false) out[key] = options[key];
  }
  return out;
}

/**
 * Insert the binding object into every getLoaderData() call of a component.
 * @param {MagicString} s the component's source
 * @param {ComponentInfo} info
 * @param {string} component root-relative posix path
 * @param {BatchOptions} [options]
 * @returns {CodegenWarning[]} warnings (calls that already had arguments)
 */
export function rewriteLoaderDataCalls(s, info, component, options = {}) {
  /** @type {CodegenWarning[]} */
  const warnings = [];
  const binding = loaderBinding(info, component, options);
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
 * The `$$hoistStart(...)` statement and the module-level declarations it needs after the compiled
 * module: `$$hoistStart` itself, and the batch's entries (made once, when the module loads; every
 * render passes the same array) and dataflow tree if any. No import: `$$hoistStart` finds the
 * runtime's `__startBatch` by its process-wide name when the batch starts (runtime.js says why;
 * `globalThis.Symbol`: a component may import one named `Symbol`). Every string is a JSON
 * literal, so any file name yields valid code. The component's own loader is its local `loader`;
 * the others are found by key when the batch runs (each component registers its own, with its
 * path), so an unconditional entry is its key alone: every component lists its whole tree, and a
 * page's tree is most of the site's components.
 * @param {BatchEntry[]} entries
 * @param {object} args
 * @param {string} args.file absolute path of the component starting the batch
 * @param {BatchOptions} [args.options]
 * @param {string[]} [args.order] keys in the order to start them under a concurrency limit
 * @param {string | null} [args.flow] the root's dataflow tree, JSON from the core
 * @returns {{ statement: string, declarations: string[] }}
 */
export function batchCode(entries, { file, options = {}, order, flow }) {
  const declarations = [
    `const ${START_NAME} = (...args) => ${processWideRef(START_BATCH)}?.(...args);`,
  ];
  // The dataflow tree is made once, when the module loads; every render walks the same object.
  if (flow) declarations.push(`const ${FLOW_NAME} = ${flow};`);
  const items = startOrder(entries, order).map((entry) => {
    const key = JSON.stringify(entry.id);
    if (entry.file === file) return `{ key: ${key}, loader: loader, component: ${JSON.stringify(entry.component)}${entry.conditional ? ', conditional: true' : ''} }`;
    return entry.conditional ? `{ key: ${key}, conditional: true }` : key;
  });
  declarations.push(`const ${BATCH_NAME} = [${items.join(', ')}];`);
  const batchOptions = {
    timeout: options.timeout,
    concurrency: options.concurrency,
    speculative: options.speculative,
    serverTiming: options.serverTiming,
    dev: options.dev,
  };
  const statement = `;${START_NAME}(Astro, ${BATCH_NAME}, ${JSON.stringify(batchOptions)}, ${RESULT}${flow ? `, ${FLOW_NAME}` : ''});`;
  return { statement, declarations };
}

/**
 * Entries in start order: the keys of `order` first, in that order, then the rest as they came.
 * @param {BatchEntry[]} entries
 * @param {string[] | undefined} order
 * @returns {BatchEntry[]}
 */
function startOrder(entries, order) {
  if (!order || order.length === 0) return entries;
  const rank = new Map(order.map((key, index) => [key, index]));
  const of = (/** @type {BatchEntry} */ entry) => rank.get(entry.id) ?? order.length;
  // Array#sort is stable: unranked entries keep their relative order.
  return [...entries].sort((a, b) => of(a) - of(b));
}

/**
 * The registration of a component's hoistable loader, run when its module is evaluated (after
 * Astro's compiled module, where `loader` is a module-level binding: Astro hoists exports).
 * @param {ComponentInfo} info
 * @param {BatchOptions} options
 * @param {string} component root-relative posix path
 * @returns {string[]} lines to append
 */
export function registrationCode(info, options, component) {
  /** @type {string[]} */
  const lines = [];
  // A cached loader: its component id and the context fields its cache key is made of, and the
  // module that configures the store (when the integration was given `cache` options).
  if (info.loader?.cache) {
    if (options.cacheConfig) lines.push(`import ${JSON.stringify(CACHE_CONFIG_ID)};`);
    lines.push(
      `import { __cacheInfo as ${CACHE_INFO_NAME} } from ${JSON.stringify(RUNTIME_SPECIFIER)};`,
      `${CACHE_INFO_NAME}(loader, ${JSON.stringify({ id: info.id, reads: info.loader.reads.context, ...(options.dev ? { dev: true } : {}) })});`,
    );
  }
  // A loader nothing reads is never started early: no batch lists it. One that reads props is
  // started by the dataflow walk, found by key too.
  if (!(info.loader?.hoistable || info.loader?.byProps) || info.loaderDataCalls.length === 0) return lines;
  // By the runtime's process-wide name, not an import: the component imports getLoaderData from
  // the runtime, so the runtime is evaluated before this line runs, and every import statement is
  // a request the dev server's module runner resolves again on each re-evaluation.
  return [...lines, `${processWideRef(REGISTER_LOADER)}?.(${JSON.stringify(info.id)}, loader, ${JSON.stringify(component)}${options.dev ? ', true' : ''});`];
}

/**
 * An expression for the runtime's process-wide function `name` (`globalThis.Symbol`: a component
 * may import one named `Symbol`).
 * @param {string} name
 * @returns {string}
 */
function processWideRef(name) {
  return `globalThis[globalThis.Symbol.for(${JSON.stringify(processWideKey(name))})]`;
}

/**
 * Where a batch starts in the frontmatter: after its last guard (a statement that may return
 * before the template renders), else at its start.
 * @param {ComponentInfo} info
 * @returns {number | null} UTF-16 offset, or null without a frontmatter
 */
export function batchOffset(info) {
  if (!info.frontmatter) return null;
  const guards = info.earlyReturns ?? [];
  return guards.length > 0 ? guards[guards.length - 1].end : info.frontmatter.start;
}

/**
 * Transform one raw `.astro` source.
 * @param {object} args
 * @param {string} args.source raw `.astro` source
 * @param {string} args.file absolute path
 * @param {string} args.root project root
 * @param {ComponentInfo} args.info the core's analysis of `source`
 * @param {BatchEntry[]} [args.entries] loaders of the component's tree to start in its batch
 * @param {BatchOptions} [args.options]
 * @param {string[]} [args.order] start order under a concurrency limit
 * @param {string | null} [args.flow] the component's dataflow tree, JSON from the core
 * @param {boolean} [args.map] make a source map (default true): a build whose output has no
 *   source maps reads none, and making one is most of this function's time
 * @returns {{ code: string, map?: import('magic-string').SourceMap, warnings: CodegenWarning[], append: string } | null}
 *   null: nothing to change. `append`: statements to add after Astro compiled the result.
 */
export function transformAstro({ source, file, root, info, entries = [], options = {}, order, flow, map = true }) {
  const s = new MagicString(source);
  const component = toComponentPath(root, file);
  /** @type {string[]} */
  const append = [];

  const warnings = rewriteLoaderDataCalls(s, info, component, options);
  append.push(...registrationCode(info, options, component));

  if (entries.length > 0 || flow) {
    const { statement, declarations } = batchCode(entries, { file, options, order, flow });
    append.unshift(...declarations);
    const at = batchOffset(info);
    if (at === null) {
      // A file without fences: a frontmatter must open the file (after a byte-order mark).
      s.prependRight(source.startsWith('\uFEFF') ? 1 : 0, `---\n${statement}\n---\n`);
    } else {
      // prependRight: before anything a getLoaderData() rewrite may append at the same offset.
      s.prependRight(at, `\n${statement}\n`);
    }
  }

  if (!s.hasChanged()) return null;
  return {
    code: s.toString(),
    // Word boundaries: exact for every token (what error positions and breakpoints need), and a
    // fraction of a per-character map, which the dev server parses again for each module it runs.
    ...(map ? { map: s.generateMap({ hires: 'boundary', includeContent: true, source: file, file }) } : {}),
    warnings,
    append: append.length > 0 ? `\n${append.join('\n')}\n` : '',
  };
}

/**
 * Appends `append` (from `transformAstro`) to Astro's compiled module.
 * @param {string} code the compiled module
 * @param {string} _id
 * @param {string} append
 * @returns {{ code: string, map: null }} `map: null`: no code before the end moved, which Rollup,
 *   Rolldown and Vite read as "the module's map stands" (no map to make for a module-long identity)
 */
export function appendImports(code, _id, append) {
  return { code: code + append, map: null };
}

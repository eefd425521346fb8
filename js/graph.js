// Component graph walk: from a page, follow the template's component usages (through direct
// imports, the Vite resolver, barrel modules and namespace imports) and collect every loader the
// page should register. Pure: file access and resolution are injected, so this runs the same
// in the Vite plugin, the CLI and the tests.

import { toComponentPath } from './paths.js';

export { toComponentPath };

/**
 * The native core's output (index.d.ts, generated from the Rust binding; shape in
 * notes/CONTRACT.md). Optional fields may be absent or null: always compare with `!= null`.
 * @typedef {import('../index.js').Span} Span
 * @typedef {import('../index.js').ImportInfo} ImportInfo
 * @typedef {import('../index.js').ReexportInfo} ReexportInfo
 * @typedef {import('../index.js').LoaderInfo} LoaderInfo
 * @typedef {import('../index.js').Usage} Usage
 * @typedef {import('../index.js').LoaderDataCall} LoaderDataCall
 * @typedef {import('../index.js').Diagnostic} Diagnostic
 * @typedef {import('../index.js').ComponentInfo} ComponentInfo
 */

/**
 * A loader found in the page's component tree.
 * @typedef {object} PageLoader
 * @property {string} file absolute path of the component that exports the loader
 * @property {string} id the core's stable key for the component (16 hex chars)
 * @property {string} component root-relative posix path of the component
 * @property {boolean} conditional true when every path from the page to the component passes a conditional usage
 * @property {boolean} hoistable whether the page's batch may start it (else it runs at the component's render)
 * @property {string | null} reason why it is not hoistable
 */

/**
 * Something the walk could not follow or could not hoist. `file`/`line`/`column` point at the
 * place to fix (the usage, the import, or the loader).
 * @typedef {object} NotHoisted
 * @property {'loader-not-hoistable' | 'loader-unused' | 'loader-conditional' | 'unresolved-import' | 'analyze-failed'
 *   | 'unknown-component' | 'export-not-found' | 'reexport-cycle' | 'server-island'} code
 * @property {string} file
 * @property {string} component root-relative posix path of `file`
 * @property {string} reason human-readable explanation
 * @property {number} [line]
 * @property {number} [column]
 * @property {string} [source] the import specifier involved, if any
 */

/**
 * @typedef {object} GraphResult
 * @property {PageLoader[]} loaders every component with a loader reached from the page (page included), discovery order
 * @property {{ file: string, component: string, conditional: boolean }[]} components every `.astro` component reached, discovery order
 * @property {Set<string>} files every file the walk read (watch these: the page's output depends on them)
 * @property {NotHoisted[]} notHoisted
 */

/**
 * @typedef {(file: string) => Promise<ComponentInfo>} AnalyzeFile
 * @typedef {(source: string, importer: string) => Promise<string | null>} ResolveImport
 */

const ASTRO_FILE = /\.astro$/;
/** Modules the core can parse (barrels). */
const SCRIPT_FILE = /\.[cm]?[jt]sx?$/;
/** Script modules that usually define framework components locally: a miss there is not worth a note. */
const FRAMEWORK_SCRIPT_FILE = /\.[jt]sx$/;
/** Tag roots that are never imported: Astro built-ins. */
const BUILTIN_TAGS = new Set(['Fragment', 'Astro']);

/**
 * Whether a usage is conditional: its own tag is inside a `{...}` expression, or it is slot
 * content of a tag that is (the core reports the enclosing tag as `parent`).
 * @param {Usage[]} usages
 * @param {number} index
 * @returns {boolean}
 */
export function isConditionalUsage(usages, index) {
  /** @type {number | null | undefined} */
  let at = index;
  // Bounded walk: a malformed parent chain must not loop forever.
  for (let steps = 0; at != null && steps <= usages.length; steps++) {
    /** @type {Usage | undefined} */
    const usage = usages[at];
    if (!usage) return false;
    if (usage.conditional) return true;
    at = usage.parent;
  }
  return false;
}

/**
 * Whether a usage carries Astro's `server:defer` directive. Such a server island renders in a
 * request of its own, after the page: its loaders do not belong in the page's batch (its slot
 * content, rendered with the page, is walked as usual).
 * @param {Usage} usage
 * @returns {boolean}
 */
export function isServerIsland(usage) {
  return (usage.attributes ?? []).includes('server:defer');
}

/**
 * Find the import that binds identifier `local` in a component.
 * @param {ImportInfo[]} imports
 * @param {string} local
 * @returns {{ source: string, path: string[], typeOnly: boolean } | null}
 *   `path`: the export names to follow from the imported module (`[]` = the module namespace)
 */
export function findImportBinding(imports, local) {
  for (const imp of imports) {
    if (imp.namespace === local) return { source: imp.source, path: [], typeOnly: imp.typeOnly };
    if (imp.defaultName === local) return { source: imp.source, path: ['default'], typeOnly: imp.typeOnly };
    for (const name of imp.names) {
      if (name.local === local) {
        return { source: imp.source, path: [name.imported], typeOnly: imp.typeOnly || name.typeOnly };
      }
    }
  }
  return null;
}

/**
 * @typedef {{ kind: 'component', file: string }
 *   | { kind: 'none' }
 *   | { kind: 'missing', file: string, name: string }
 *   | { kind: 'note', note: NotHoisted }} Target
 *   none: resolved to something that is not an Astro component (framework component, virtual
 *   module...): nothing to hoist, nothing to report. missing: a script module without that export.
 */

/**
 * Walk the component graph of `page` and collect the loaders to register for it.
 * Never throws for missing or broken files: they are recorded in `notHoisted`.
 * @param {object} args
 * @param {string} args.page absolute path of the page `.astro` file
 * @param {string} args.root project root (component paths are relative to it)
 * @param {AnalyzeFile} args.analyze analysis of a file (memoized here per walk)
 * @param {ResolveImport} args.resolve absolute path an import resolves to, or null
 * @returns {Promise<GraphResult>}
 */
export async function walkComponentGraph({ page, root, analyze, resolve }) {
  /** @type {Set<string>} */
  const files = new Set();
  /** @type {Map<string, Promise<{ info: ComponentInfo } | { error: unknown }>>} */
  const analyses = new Map();
  /** @type {Map<string, Promise<string | null>>} */
  const resolutions = new Map();
  /** Component file -> conditional; only ever goes from true to false (unconditional wins). */
  /** @type {Map<string, boolean>} */
  const reached = new Map();
  /** @type {string[]} */
  const order = [];
  /** @type {NotHoisted[]} */
  const notHoisted = [];
  /** @type {Set<string>} */
  const noted = new Set();

  /** @param {string} file */
  const load = (file) => {
    let pending = analyses.get(file);
    if (!pending) {
      files.add(file);
      pending = Promise.resolve()
        .then(() => analyze(file))
        .then(
          (info) => ({ info }),
          (error) => ({ error }),
        );
      analyses.set(file, pending);
    }
    return pending;
  };

  /** @param {string} source @param {string} importer */
  const resolveOnce = (source, importer) => {
    const key = `${importer}\0${source}`;
    let pending = resolutions.get(key);
    if (!pending) {
      pending = Promise.resolve()
        .then(() => resolve(source, importer))
        .then(
          (resolved) => resolved ?? null,
          () => null,
        );
      resolutions.set(key, pending);
    }
    return pending;
  };

  /** @param {NotHoisted} note */
  const note = (note) => {
    const key = [note.code, note.file, note.line, note.column, note.source, note.reason].join('\0');
    if (noted.has(key)) return;
    noted.add(key);
    notHoisted.push(note);
  };

  /**
   * @param {NotHoisted['code']} code @param {string} file @param {string} reason
   * @param {{ line?: number, column?: number, source?: string }} [at]
   * @returns {NotHoisted}
   */
  const makeNote = (code, file, reason, at = {}) => ({
    code,
    file,
    component: toComponentPath(root, file),
    reason,
    ...at,
  });

  /** @param {string} file @param {unknown} error */
  const analyzeFailed = (file, error) =>
    makeNote('analyze-failed', file, `could not analyze ${toComponentPath(root, file)}: ${errorMessage(error)}`);

  /**
   * Follow export `names` (a path like ['UI', 'Card']) from module `file` to a component.
   * Not memoized: it is cheap once analyses and resolutions are cached, and a promise memo
   * would deadlock on re-export cycles.
   * @param {string} file
   * @param {string[]} names
   * @param {Set<string>} stack keys on the current re-export chain (cycle guard)
   * @returns {Promise<Target>}
   */
  const resolveExport = async (file, names, stack) => {
    if (ASTRO_FILE.test(file)) {
      if (names.length === 1 && names[0] === 'default') return { kind: 'component', file };
      // `<NS.Card/>` over an `.astro` default export, or a named export of a component file:
      // not something the template can render as a component we can see into.
      if (names.length === 0 || names[0] === 'default') return { kind: 'none' };
    } else if (!SCRIPT_FILE.test(file)) {
      // .vue, .svelte, .md, .mdx, .json, ...: no Astro loader to find there.
      return { kind: 'none' };
    }
    if (names.length === 0) return { kind: 'none' };
    const key = `${file}\0${names.join('.')}`;
    if (stack.has(key)) {
      return {
        kind: 'note',
        note: makeNote('reexport-cycle', file, `re-export cycle while looking up '${names.join('.')}'`),
      };
    }
    const chain = new Set(stack).add(key);
    const analysis = await load(file);
    if ('error' in analysis) return { kind: 'note', note: analyzeFailed(file, analysis.error) };
    const { reexports } = analysis.info;
    const [first, ...rest] = names;

    for (const reexport of reexports) {
      if (reexport.typeOnly) continue;
      /** @type {string[] | null} */
      let next = null;
      if (reexport.namespace === first) {
        next = rest; // export * as UI from './ui'
      } else {
        const name = reexport.names.find((n) => n.exported === first);
        // `import * as UI from './ui'; export { UI }` may come back as imported '*'.
        if (name) next = name.imported === '*' ? rest : [name.imported, ...rest];
      }
      if (!next) continue;
      return follow(reexport, file, next, chain);
    }

    // `export * from './x'` never re-exports `default`. First match wins, as in ESM (where an
    // ambiguous star export is simply not exported; we do not try to detect that).
    if (first !== 'default') {
      for (const reexport of reexports) {
        if (!reexport.all || reexport.namespace != null || reexport.typeOnly) continue;
        const target = await follow(reexport, file, names, chain);
        if (target.kind === 'component' || target.kind === 'note') return target;
      }
    }
    return { kind: 'missing', file, name: names.join('.') };
  };

  /**
   * @param {ReexportInfo} reexport @param {string} file @param {string[]} names @param {Set<string>} chain
   * @returns {Promise<Target>}
   */
  const follow = async (reexport, file, names, chain) => {
    const target = await resolveOnce(reexport.source, file);
    if (target == null) {
      return {
        kind: 'note',
        note: makeNote('unresolved-import', file, `cannot resolve '${reexport.source}' from ${toComponentPath(root, file)}`, {
          line: reexport.span.line,
          column: reexport.span.column,
          source: reexport.source,
        }),
      };
    }
    return resolveExport(target, names, chain);
  };

  /**
   * What component a template usage renders.
   * @param {ComponentInfo} info
   * @param {string} file
   * @param {Usage} usage
   * @returns {Promise<Target>}
   */
  const resolveUsage = async (info, file, usage) => {
    const [rootName, ...members] = usage.name.split('.');
    const at = { line: usage.line, column: usage.column };
    const binding = findImportBinding(info.imports, rootName);
    /** @type {string} */
    let source;
    /** @type {string[]} */
    let names;
    if (binding) {
      if (binding.typeOnly) return { kind: 'none' };
      source = binding.source;
      names = [...binding.path, ...members];
    } else if (usage.source != null) {
      // The core saw a binding we did not (defensive: trust it).
      source = usage.source;
      names = [usage.imported ?? 'default'];
    } else {
      if (BUILTIN_TAGS.has(rootName)) return { kind: 'none' };
      return {
        kind: 'note',
        note: makeNote(
          'unknown-component',
          file,
          `<${usage.name}> is not bound to an import (a local or dynamic component): its loaders, if any, run at render`,
          at,
        ),
      };
    }
    const target = await resolveOnce(source, file);
    if (target == null) {
      return {
        kind: 'note',
        note: makeNote('unresolved-import', file, `cannot resolve '${source}' (used as <${usage.name}>)`, { ...at, source }),
      };
    }
    const found = await resolveExport(target, names, new Set());
    if (found.kind === 'missing') {
      if (FRAMEWORK_SCRIPT_FILE.test(found.file)) return { kind: 'none' };
      return {
        kind: 'note',
        note: makeNote(
          'export-not-found',
          file,
          `<${usage.name}>: '${found.name}' is not re-exported from an .astro file by ${toComponentPath(root, found.file)}`,
          { ...at, source },
        ),
      };
    }
    return found;
  };

  /**
   * @param {string} file
   * @param {boolean} conditional
   * @returns {Promise<void>}
   */
  const visit = async (file, conditional) => {
    const previous = reached.get(file);
    // Stop when already reached at least as unconditionally; this also stops cycles, since the
    // state of a file only changes once (conditional -> unconditional).
    if (previous === false || (previous === true && conditional)) return;
    reached.set(file, conditional);
    if (previous === undefined) order.push(file);

    const analysis = await load(file);
    if ('error' in analysis) {
      note(analyzeFailed(file, analysis.error));
      return;
    }
    const { info } = analysis;
    const usages = info.usages ?? [];
    // Past the root, a component that may return early (a guard) renders its children only
    // sometimes: they start with its own batch, after the guard, not with the root's.
    const guarded = file !== page && (info.earlyReturns ?? []).length > 0;
    // Resolve every usage up front (concurrently), then descend in document order so the
    // result does not depend on timing.
    const targets = await Promise.all(usages.map((usage) => resolveUsage(info, file, usage)));
    for (const target of targets) {
      if (target.kind === 'component') void load(target.file); // prefetch: analyses run in parallel
    }
    for (let i = 0; i < usages.length; i++) {
      const target = targets[i];
      if (target.kind === 'note') {
        note(target.note);
      } else if (target.kind === 'component') {
        if (isServerIsland(usages[i])) {
          const { line, column } = usages[i];
          note(makeNote('server-island', file, `<${usages[i].name} server:defer> renders in its own request: its loaders are not started with the page`, { line, column }));
          continue;
        }
        await visit(target.file, conditional || guarded || isConditionalUsage(usages, i));
      }
    }
  };

  await visit(page, false);

  /** @type {PageLoader[]} */
  const loaders = [];
  /** @type {GraphResult['components']} */
  const components = [];
  for (const file of order) {
    const component = toComponentPath(root, file);
    const conditional = reached.get(file) ?? false;
    components.push({ file, component, conditional });
    const analysis = await load(file);
    if ('error' in analysis || !analysis.info.loader) continue;
    const { info } = analysis;
    const loader = /** @type {LoaderInfo} */ (info.loader);
    let { hoistable, reason } = loader;
    if (hoistable && (info.loaderDataCalls ?? []).length === 0) {
      // Nothing would ever read the batch's result: starting it would only waste work.
      hoistable = false;
      reason = "the component never calls getLoaderData() from 'astro-hoist/runtime'";
      note(makeNote('loader-unused', file, reason, { line: loader.span.line, column: loader.span.column }));
    } else if (!hoistable) {
      note(
        makeNote('loader-not-hoistable', file, reason ?? 'the loader cannot be hoisted', {
          line: loader.span.line,
          column: loader.span.column,
        }),
      );
    } else if (conditional && file !== page) {
      note(
        makeNote(
          'loader-conditional',
          file,
          `reached from ${toComponentPath(root, page)} only through conditional usages ({…}) or a guard: it starts when its component (or a conditional ancestor) renders; speculative: true starts it with the batch`,
          { line: loader.span.line, column: loader.span.column },
        ),
      );
    }
    loaders.push({ file, id: info.id, component, conditional, hoistable, reason: hoistable ? null : (reason ?? 'the loader cannot be hoisted') });
  }

  return { loaders, components, files, notHoisted };
}

/** @param {unknown} error */
function errorMessage(error) {
  if (error instanceof Error) return error.message;
  return String(error);
}

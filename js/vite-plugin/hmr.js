// Dev-server freshness: which modules' output was computed from which files, and hard
// invalidation of exactly those modules when a file changes.

/**
 * @typedef {{ id: string | null }} ModuleNode
 * @typedef {object} ModuleGraph
 * @property {(id: string) => ModuleNode | undefined} getModuleById
 * @property {(mod: ModuleNode, seen?: Set<ModuleNode>, timestamp?: number, isHmr?: boolean) => void} invalidateModule
 */

/**
 * Which modules' output depended on which files, both directions, so a changed file can
 * invalidate exactly the modules that read it.
 */
export class DependencyMap {
  constructor() {
    /** file -> modules whose output read it @type {Map<string, Set<string>>} */
    this.dependents = new Map();
    /** module -> files its output read @type {Map<string, Set<string>>} */
    this.dependencies = new Map();
  }

  /**
   * Replace what `module`'s output depended on (a re-transform forgets the old set).
   * @param {string} module
   * @param {Iterable<string>} files
   */
  set(module, files) {
    this.forget(module);
    const next = new Set(files);
    next.delete(module); // a module always depends on itself; Vite already knows
    if (next.size === 0) return;
    this.dependencies.set(module, next);
    for (const file of next) {
      let set = this.dependents.get(file);
      if (!set) this.dependents.set(file, (set = new Set()));
      set.add(module);
    }
  }

  /** @param {string} module */
  forget(module) {
    const previous = this.dependencies.get(module);
    if (!previous) return;
    this.dependencies.delete(module);
    for (const file of previous) {
      const set = this.dependents.get(file);
      if (!set) continue;
      set.delete(module);
      if (set.size === 0) this.dependents.delete(file);
    }
  }

  /**
   * A file is gone: nothing depends on it any more, and if it was a module, it depends on nothing.
   * @param {string} file
   * @returns {string[]} the modules that depended on it (to invalidate)
   */
  deleteFile(file) {
    const modules = this.modulesReading(file);
    this.dependents.delete(file);
    for (const module of modules) this.dependencies.get(module)?.delete(file);
    this.forget(file);
    return modules;
  }

  /**
   * @param {string} file
   * @returns {string[]}
   */
  modulesReading(file) {
    return [...(this.dependents.get(file) ?? [])];
  }
}

/**
 * Hard-invalidate `modules`. Vite's own HMR only soft-invalidates a static importer and keeps
 * its old transform; a component whose batch was computed from a changed file must be
 * transformed again, hence `invalidateModule(mod, seen, timestamp, isHmr = true)` without soft
 * invalidation.
 * @param {ModuleGraph} moduleGraph
 * @param {string[]} modules
 * @param {number} timestamp
 */
export function invalidateModules(moduleGraph, modules, timestamp) {
  /** @type {Set<ModuleNode>} */
  const seen = new Set();
  for (const id of modules) {
    const mod = moduleGraph.getModuleById(id);
    if (mod) moduleGraph.invalidateModule(mod, seen, timestamp, true);
  }
}

/**
 * What of a module's analysis its ancestors' plans depend on: its loader (form, hoistability,
 * ctx.load dependencies, whether it is read), its guards, the components it renders, how it
 * imports them and the dataflow of their props, what it re-exports, and whether it parses. A change that leaves this equal (a
 * text, markup or style edit) changes no other component's batch.
 * @param {import('../../index.js').ComponentInfo | null | undefined} info
 * @returns {string | null}
 */
export function planSignature(info) {
  if (!info) return null;
  const loader = info.loader;
  return JSON.stringify([
    info.id,
    info.kind,
    loader ? [loader.kind, loader.hoistable, loader.byProps, loader.dependsOn, loader.reads.context] : null,
    info.loaderDataCalls.length > 0,
    info.earlyReturns.length > 0,
    info.imports.map((i) => [i.source, i.defaultName, i.namespace, i.names.map((n) => [n.imported, n.local, n.typeOnly]), i.typeOnly]),
    info.reexports.map((r) => [r.source, r.names.map((n) => [n.imported, n.exported]), r.all, r.namespace, r.typeOnly]),
    // The dataflow of each tag (its props, conditions, lists), which the root's batch embeds;
    // without positions, so an edit that only moves lines invalidates nothing.
    info.usages.map((u) => [u.name, u.source, u.imported, u.conditional, u.parent, u.attributes, u.flow ?? null, u.untraced?.replace(/^\d+:\d+ /, '') ?? null]),
    info.diagnostics.some((d) => d.severity === 'error'),
  ]);
}

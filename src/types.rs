//! The JS-facing types of the binding: plain objects (`#[napi(object)]`) and string enums, so
//! `index.d.ts` is generated with real unions. Conversions from the core live in `convert.rs`.

use std::collections::HashMap;

use napi_derive::napi;
use serde::Serialize;

use crate::shared::{SharedString, SharedStrings};

/// How bad a diagnostic is.
#[napi(string_enum = "lowercase")]
#[derive(Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// The file could not be (fully) understood.
    Error,
    /// Understood, but something will not behave as its author may expect.
    Warning,
    /// Worth knowing, not worth a warning.
    Info,
}

/// Every diagnostic's stable code (the core's `diagnostic::Code`).
#[napi(string_enum = "kebab-case")]
#[derive(Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Code {
    SyntaxError,
    ParserFailure,
    TooDeeplyNested,
    TooAmbiguous,
    UnclosedFrontmatter,
    UnsupportedLoaderForm,
    UnsupportedFile,
    ReadError,
    #[napi(value = "invalid-utf8")]
    InvalidUtf8,
    InternalError,
    UnresolvedImport,
    UnknownComponent,
    ExportNotFound,
    ReexportCycle,
    ServerIsland,
    LoaderNotHoistable,
    LoaderUnused,
    LoaderConditional,
    LoaderCycle,
    LoaderUnreached,
    MdxContent,
    RouteFailed,
    UnsafeLoaderCache,
    PropsNotTraced,
}

/// What a file is.
#[napi(string_enum = "lowercase")]
pub enum ComponentKind {
    /// An `.astro` component.
    Astro,
    /// A JS/TS module.
    Module,
}

/// How a loader is declared.
#[napi(string_enum = "camelCase")]
pub enum LoaderKind {
    /// `export const loader = async (ctx) => …`
    Arrow,
    /// `export async function loader(ctx) { … }`
    Function,
    /// `export const loader = defineLoader(async (ctx) => …)`
    DefineLoader,
    /// `export const loader = defineBatchLoader(async (propsList, ctx) => …)`
    DefineBatchLoader,
}

/// How a route reaches its components.
#[napi(string_enum = "camelCase")]
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub enum RouteKind {
    /// An `.astro` page of the project.
    Page,
    /// An `.astro` page an integration injects.
    Injected,
    /// A `.md`/`.mdx` page, rendered through its layout.
    Markdown,
    /// A server island's component.
    Island,
}

/// What a walk still needs to know.
#[napi(string_enum = "camelCase")]
pub enum RequestKind {
    /// Resolve `specifier` from `importer`.
    Resolve,
    /// Load the source of module `id`.
    Load,
}

/// Options shared by the analysis functions.
#[napi(object)]
#[derive(Default)]
pub struct AnalyzeOptions {
    /// The project root (absolute). Component ids are derived from the path relative to it,
    /// so they are equal on every machine for the same project layout. Without it the id is
    /// derived from the file name as given.
    pub root: Option<String>,
}

/// One file of an `analyzeComponents` batch.
#[napi(object)]
pub struct FileInput {
    /// Path of the file; also used to choose the grammar by extension.
    pub filename: String,
    /// The file's text. When absent the file is read from disk.
    pub source: Option<String>,
}

/// A region of a file. Offsets are UTF-16 code units (JS string indices); lines and columns
/// are 1-based, columns counted as editors count them.
#[napi(object)]
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Span {
    pub start: u32,
    pub end: u32,
    pub line: u32,
    pub column: u32,
    pub end_line: u32,
    pub end_column: u32,
}

/// A name brought in by an import.
#[napi(object)]
pub struct ImportName {
    /// The name exported by the source module.
    pub imported: String,
    /// The local binding.
    pub local: String,
    /// `import { type X }`.
    pub type_only: bool,
}

/// An `import` declaration.
#[napi(object)]
pub struct ImportInfo {
    /// The module specifier as written.
    pub source: String,
    /// Local name of the default import.
    pub default_name: Option<String>,
    /// Named imports.
    pub names: Vec<ImportName>,
    /// Local name of a namespace import (`import * as ns`).
    pub namespace: Option<String>,
    /// `import type …`.
    pub type_only: bool,
    pub span: Span,
}

/// One re-exported name.
#[napi(object)]
pub struct ReexportName {
    /// The name in the source module (`default` for its default export).
    pub imported: String,
    /// The name this module exports it as.
    pub exported: String,
}

/// A re-export (`export { default as Card } from './Card.astro'`, `export * from './x'`, or
/// an imported binding exported again), so barrel modules can be followed.
#[napi(object)]
pub struct ReexportInfo {
    pub source: String,
    pub names: Vec<ReexportName>,
    /// `export * from '…'`.
    pub all: bool,
    /// `export * as ns from '…'`.
    pub namespace: Option<String>,
    pub type_only: bool,
    pub span: Span,
}

/// What a loader reads.
#[napi(object)]
pub struct LoaderReads {
    /// Local names of the imports it reads, directly or through other exports.
    pub imports: Vec<String>,
    /// Other exported bindings it reads.
    pub exports: Vec<String>,
    /// Whether it reads the `Astro` global.
    pub astro: bool,
    /// Loader-context fields it uses (`params`, `url`, `request`, `locals`, `signal`, `load`);
    /// `*` when the context escapes whole.
    pub context: Vec<String>,
    /// Frontmatter variables declared without `export` that it reads (render-time only).
    pub locals: Vec<String>,
}

/// A loader awaited through `ctx.load(x)`.
#[napi(object)]
pub struct LoaderDependency {
    /// The argument as written (`postLoader`, `Post.loader`).
    pub local: String,
    /// The import source it comes from, when imported.
    pub source: Option<String>,
    /// The name imported from `source`.
    pub imported: Option<String>,
}

/// A component's exported `loader`.
#[napi(object)]
pub struct LoaderInfo {
    /// How it is declared.
    pub kind: LoaderKind,
    /// The `export …` declaration.
    pub span: Span,
    pub reads: LoaderReads,
    /// Loaders it awaits through `ctx.load(…)`.
    pub depends_on: Vec<LoaderDependency>,
    /// Whether it can start before the component renders.
    pub hoistable: bool,
    /// Why it cannot, when `hoistable` is false.
    pub reason: Option<String>,
    /// It reads its props (or is a batch loader) and nothing else keeps it from starting early:
    /// it starts once the props its usages pass are known, where the planner proves them.
    pub by_props: bool,
    /// What a run before render depends on (present exactly when `hoistable` or `byProps`).
    pub module: Option<LoaderModuleInfo>,
    /// The `cache` option of `defineLoader(fn, { cache: … })`, when written.
    pub cache: Option<LoaderCacheInfo>,
}

/// A loader's `cache` option.
#[napi(object)]
pub struct LoaderCacheInfo {
    /// The `cache` property as written.
    pub span: Span,
    /// Whether the options give an explicit `key` (also true when that cannot be seen: a
    /// non-literal value, a spread).
    pub keyed: bool,
    /// What it reads that a key made of params, props and url cannot capture, as shown to
    /// users ("`locals`", "`request`", "its whole context", "`Astro`", a frontmatter local).
    /// Non-empty without `keyed` is an `unsafe-loader-cache` error.
    pub per_request: Vec<String>,
}

/// One imported name a hoistable loader reads.
#[napi(object)]
pub struct ModuleImport {
    /// The specifier as the component writes it.
    pub source: String,
    /// `default`, `*` (namespace) or an export name.
    pub imported: String,
    /// The local name the loader's code uses.
    pub local: String,
}

/// A hoistable loader's module-level closure: its statement and the exported declarations it
/// reads, transitively, plus the imports they read. All of it is module state that exists before
/// the component renders, so the loader can run at request start.
#[napi(object)]
pub struct LoaderModuleInfo {
    pub imports: Vec<ModuleImport>,
    /// The statements, in source order.
    pub statements: Vec<Span>,
    /// The names they export (`loader` among them).
    pub exports: Vec<String>,
}

/// A component tag in an `.astro` template.
#[napi(object)]
pub struct Usage {
    /// The tag name as written (`Card`, `UI.Card`).
    pub name: String,
    /// 1-based line of the `<`.
    pub line: u32,
    /// 1-based column of the `<` (UTF-16 units).
    pub column: u32,
    /// UTF-16 offset of the `<`.
    pub offset: u32,
    /// True inside a `{…}` expression (`{ok && <Card/>}`, `{list.map(i => <Item/>)}`).
    pub conditional: bool,
    /// Index in `usages` of the enclosing component tag (slot nesting), or null.
    pub parent: Option<u32>,
    /// Import source binding the tag's first name segment, when imported.
    pub source: Option<String>,
    /// `default`, an export name, or for `<NS.Card/>` with `import * as NS`, `Card`.
    pub imported: Option<String>,
    /// Attribute names on the tag, directives included (`client:load`, `server:defer`,
    /// `slot`); spread and shorthand attributes have none.
    pub attributes: Vec<String>,
    /// How its props are made and when it renders, as JSON (the core's dataflow expressions),
    /// when that is proven.
    pub flow: Option<String>,
    /// Otherwise, what stopped the proof: `line:column reason`.
    pub untraced: Option<String>,
}

/// A call to `getLoaderData` imported from `astro-hoist/runtime`.
#[napi(object)]
pub struct LoaderDataCall {
    pub span: Span,
    /// UTF-16 offset right after the call's `(`.
    pub args_start: u32,
    /// Number of arguments written.
    pub arg_count: u32,
}

/// A problem found in a file, in the file's own coordinates.
#[napi(object)]
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Diagnostic {
    pub severity: Severity,
    /// A stable code (see `Code`).
    pub code: Code,
    pub message: String,
    /// The file: as given to an analysis, root-relative in a project.
    pub file: String,
    /// 1-based line.
    pub line: u32,
    /// 1-based column (UTF-16 units, as editors count).
    pub column: u32,
    /// UTF-16 offset from the start of the file.
    pub offset: u32,
    /// Code frame with a caret under the column (empty without a source to show).
    pub frame: String,
    /// What to do about it, when there is something to say.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub help: Option<String>,
}

/// The analysis of one file.
#[napi(object)]
pub struct ComponentInfo {
    /// The file name as given.
    pub filename: String,
    /// Stable id: 16 hex digits of blake3 over the root-relative path (`/` separators).
    pub id: String,
    /// blake3 of the content, hex.
    pub hash: String,
    /// `astro` for `.astro` components, `module` for JS/TS modules.
    pub kind: ComponentKind,
    /// The frontmatter code between the `---` fences, or null.
    pub frontmatter: Option<Span>,
    /// Every `import` declaration.
    pub imports: Vec<ImportInfo>,
    /// Re-exports, for following barrel modules.
    pub reexports: Vec<ReexportInfo>,
    /// The exported `loader`, or null.
    pub loader: Option<LoaderInfo>,
    /// Component tags in the template, in document order.
    pub usages: Vec<Usage>,
    /// Calls to `getLoaderData`, where the integration binds them to this component.
    pub loader_data_calls: Vec<LoaderDataCall>,
    /// Frontmatter statements that may return before the template renders (guards): the
    /// children render only past them.
    pub early_returns: Vec<Span>,
    /// The frontmatter's top-level `await`s (not of `getLoaderData()`), and whether
    /// `migrateComponent` can move each into a loader.
    pub awaits: Vec<FrontmatterAwait>,
    /// Problems, as data; an analysis never throws for bad input.
    pub diagnostics: Vec<Diagnostic>,
}

/// A top-level `await` of a frontmatter: a step of the waterfall plain Astro renders.
#[napi(object)]
pub struct FrontmatterAwait {
    /// The `await` expression.
    pub span: Span,
    /// The awaited expression, on one line (shortened).
    pub text: String,
    /// `migrateComponent` can move it into an exported loader.
    pub movable: bool,
    /// Why it cannot.
    pub reason: Option<String>,
}

/// What `migrateComponent` made of a file.
#[napi(object)]
pub struct Migration {
    /// The file with its movable awaits in one exported loader; null when nothing moves.
    pub code: Option<String>,
    /// Every top-level await, with why it cannot move.
    pub awaits: Vec<FrontmatterAwait>,
}

/// One frontmatter `await` on a route's render.
#[napi(object, object_from_js = false)]
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AwaitStep {
    /// Root-relative path of the component.
    #[napi(ts_type = "string")]
    pub component: SharedString,
    pub line: u32,
    pub column: u32,
    /// The awaited expression, on one line.
    pub text: String,
    /// 1 = awaited as the root renders; n = after n-1 awaits before it have resolved.
    pub step: u32,
    /// Reached only through conditional usages or guards.
    pub conditional: bool,
    /// `migrateComponent` can move it into a loader.
    pub movable: bool,
    /// Why it cannot.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// How the content-hash cache served a scan.
#[napi(object)]
#[derive(Clone)]
pub struct CacheStats {
    pub hits: u32,
    pub misses: u32,
}

/// Options of `scanProject`.
#[napi(object)]
#[derive(Default)]
pub struct ScanOptions {
    /// Globs (root-relative) a file must match to be scanned; every supported file when empty.
    pub include: Option<Vec<String>>,
    /// Globs (root-relative) to skip. Default:
    /// `['**/node_modules/**', '**/dist/**', '**/.astro/**', '**/.git/**']`.
    pub exclude: Option<Vec<String>>,
    /// Import aliases in Vite's object form: `{ '@': './src' }`. The root tsconfig.json's
    /// `paths` and `baseUrl` apply as well.
    pub alias: Option<HashMap<String, String>>,
    /// Where the on-disk cache lives (default `node_modules/.cache/astro-hoist` under root).
    pub cache_dir: Option<String>,
    /// `false` keeps the cache in memory only.
    pub disk_cache: Option<bool>,
    /// Root-relative folder of the pages (default `src/pages`; Astro's `srcDir` + `/pages`).
    pub pages_dir: Option<String>,
}

/// A question a walk could not answer by itself; answer it with `Project.answer`.
#[napi(object)]
pub struct Request {
    pub kind: RequestKind,
    /// For `resolve`: the specifier as written.
    pub specifier: Option<String>,
    /// For `resolve`: the importing module's id.
    pub importer: Option<String>,
    /// For `load`: the module id.
    pub id: Option<String>,
}

/// An alias of the bundler (Vite's `resolve.alias`, in its order): `find` matches a whole
/// specifier or its leading segments, or, with `pattern`, is a regular expression's source
/// (`flags` its flags). `replacement` is an absolute path, or absent when the alias is left to
/// the bundler (a package name, its own resolver).
#[napi(object)]
#[derive(Debug, Clone)]
pub struct PathAlias {
    pub find: String,
    pub pattern: Option<bool>,
    pub flags: Option<String>,
    pub replacement: Option<String>,
}

/// The answer to a `Request`.
#[napi(object)]
pub struct Answer {
    pub kind: RequestKind,
    pub specifier: Option<String>,
    pub importer: Option<String>,
    pub id: Option<String>,
    /// For `resolve`: the module id it names (an absolute path or a virtual id), or null when
    /// nothing answers to it.
    pub resolved: Option<String>,
    /// For `resolve`: kept out of the walk (a package the build keeps external, a built-in).
    pub external: Option<bool>,
    /// For `load`: the module's source.
    pub source: Option<String>,
    /// For `load`: why it cannot be loaded.
    pub error: Option<String>,
}

/// A route Astro serves.
#[napi(object)]
pub struct Route {
    pub kind: RouteKind,
    /// The URL pattern (`/posts/[slug]`).
    pub pattern: String,
    /// The module id of its entry point (absolute path).
    pub entry: String,
}

/// Options of a plan.
#[napi(object)]
#[derive(Default)]
pub struct PlanOptions {
    /// Estimated ms per loader, by component id or root-relative path (default 1).
    pub costs: Option<HashMap<String, f64>>,
    /// Most loaders in flight per render (the integration's `concurrency`).
    pub concurrency: Option<f64>,
    /// Plan conditional children as started early (the integration's `speculative`).
    pub speculative: Option<bool>,
    /// List the files a batch was decided from in `Batch.files` (default true). False leaves it
    /// empty, for a caller that watches no file (a one-off build): half of what `batch` and
    /// `quick` hand to JS is that list. Other calls ignore it.
    pub files: Option<bool>,
}

/// One loader a root's batch lists.
#[napi(object, object_from_js = false)]
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BatchEntry {
    /// The component id: the runtime's key.
    #[napi(ts_type = "string")]
    pub id: SharedString,
    /// The component's module id (absolute path).
    #[napi(ts_type = "string")]
    pub file: SharedString,
    /// Root-relative path of the component.
    #[napi(ts_type = "string")]
    pub component: SharedString,
    /// Reached only through conditional usages or a guard.
    pub conditional: bool,
}

/// One loader of a plan.
#[napi(object, object_from_js = false)]
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PlannedLoader {
    /// The component id: the runtime's key for this loader.
    #[napi(ts_type = "string")]
    pub id: SharedString,
    /// Root-relative path of the component.
    #[napi(ts_type = "string")]
    pub component: SharedString,
    /// 1 = starts when the root renders; n = after loaders of wave n-1 it waits for.
    pub wave: u32,
    /// Started by the root's batch.
    pub hoisted: bool,
    /// Reached only through conditional usages or a guard.
    pub conditional: bool,
    /// Why it is not in wave 1.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    pub cost: f64,
    /// Estimated start and finish, in ms from the root's render.
    pub start: f64,
    pub finish: f64,
    /// Ids of loaders it awaits through `ctx.load`.
    #[napi(ts_type = "Array<string>")]
    pub depends_on: SharedStrings,
    /// Ids of loaders that must finish before it can start.
    #[napi(ts_type = "Array<string>")]
    pub waits_for: SharedStrings,
    /// Without hoisting: its wave and estimated times.
    pub wave_before: u32,
    pub start_before: f64,
    pub finish_before: f64,
}

/// The plan of one root component.
#[napi(object, object_from_js = false)]
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Plan {
    /// Root-relative path of the root.
    pub root: String,
    /// What the root's batch lists, in document order.
    pub entries: Vec<BatchEntry>,
    /// The root's last guard: its batch starts right after it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub batch_start: Option<Span>,
    /// The loaders a render of the root runs, by wave then start.
    pub loaders: Vec<PlannedLoader>,
    /// Longest chain of nested loaders without hoisting (Astro's waterfall depth).
    pub depth_before: u32,
    /// Number of waves with hoisting.
    pub depth_after: u32,
    /// Ids along the chain that decides the makespan.
    #[napi(ts_type = "Array<string>")]
    pub critical_path: SharedStrings,
    /// Estimated ms until every loader has finished, with hoisting.
    pub makespan: f64,
    /// The same without hoisting.
    pub makespan_before: f64,
    /// Start order under the concurrency limit (the runtime's queue order).
    #[napi(ts_type = "Array<string>")]
    pub order: SharedStrings,
    /// Why loaders are not hoisted, and what the walk could not follow.
    pub notes: Vec<Diagnostic>,
    /// Every module the plan read.
    #[napi(ts_type = "Array<string>")]
    pub files: SharedStrings,
    /// False when some resolution or module was still unknown.
    pub complete: bool,
    /// The root's dataflow tree, as JSON for the runtime (see `Batch.flow`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub flow: Option<String>,
    /// The frontmatter awaits a render of the root runs, by step (the waterfall finder).
    pub awaits: Vec<AwaitStep>,
    /// The longest chain of frontmatter awaits.
    pub await_depth: u32,
    /// The same once every movable await is a loader (`astro-hoist migrate`).
    pub await_depth_after: u32,
}

/// Why a root cannot be planned.
#[napi(object, object_from_js = false)]
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PlanError {
    pub diagnostic: Diagnostic,
    /// The files of a loader cycle, in order, the first repeated at the end.
    pub cycle: Vec<String>,
    /// What the root's batch can still start (its loaders in a cycle reject when they run).
    pub entries: Vec<BatchEntry>,
}

/// What a component's code needs of its plan: the batch entries, the start order (with a
/// concurrency limit), why loaders are not hoisted, and the files read.
#[napi(object, object_from_js = false)]
pub struct Batch {
    pub entries: Vec<BatchEntry>,
    /// Start order of the runtime's queue; empty without a concurrency limit.
    pub order: Vec<String>,
    pub notes: Vec<Diagnostic>,
    pub files: Vec<String>,
    /// False when some resolution or module was still unknown.
    pub complete: bool,
    /// The root's dataflow tree, as JSON for the runtime: the component instances it starts once
    /// the data their props (or their condition) are made of has resolved.
    pub flow: Option<String>,
}

/// A batch, or why there is none.
#[napi(object, object_from_js = false)]
pub struct BatchOutcome {
    pub batch: Option<Batch>,
    pub error: Option<PlanError>,
}

/// A component's analysis and batch, made at once (`Project.quick`).
#[napi(object, object_from_js = false)]
pub struct QuickOutcome {
    pub info: ComponentInfo,
    pub batch: Option<Batch>,
    pub error: Option<PlanError>,
}

/// A plan, or why there is none.
#[napi(object, object_from_js = false)]
pub struct PlanOutcome {
    pub plan: Option<Plan>,
    pub error: Option<PlanError>,
}

/// A route and its plan.
#[napi(object, object_from_js = false)]
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RoutePlan {
    pub kind: RouteKind,
    pub pattern: String,
    /// Root-relative path of the entry.
    pub entry: String,
    /// Null for a route that renders no component (a Markdown page without a layout) or that
    /// could not be planned (`error`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub plan: Option<Plan>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<PlanError>,
}

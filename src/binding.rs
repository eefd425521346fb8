//! The Node binding: reads options, calls the core, converts results. Nothing else.
//!
//! Every export runs its work on the core's big-stack pool (see [`crate::batch`]) and catches
//! panics, so no input can crash the Node process.

use std::collections::HashMap;
use std::panic::{catch_unwind, AssertUnwindSafe};

use napi::bindgen_prelude::*;
use napi_derive::napi;

use crate::batch::{self, FileInput as CoreFileInput};
use crate::component::{self, ComponentKind};
use crate::diagnostic::Severity;
use crate::{loader, position, script, template};

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
    #[napi(ts_type = "'arrow' | 'function' | 'defineLoader'")]
    pub kind: String,
    /// The `export …` declaration.
    pub span: Span,
    pub reads: LoaderReads,
    /// Loaders it awaits through `ctx.load(…)`.
    pub depends_on: Vec<LoaderDependency>,
    /// Whether it can start before the component renders.
    pub hoistable: bool,
    /// Why it cannot, when `hoistable` is false.
    pub reason: Option<String>,
    /// The module the loader moves into (present exactly when `hoistable`).
    pub module: Option<LoaderModuleInfo>,
}

/// One name a loader module imports.
#[napi(object)]
pub struct ModuleImport {
    /// The specifier as the component writes it.
    pub source: String,
    /// `default`, `*` (namespace) or an export name.
    pub imported: String,
    /// The local name the moved code uses.
    pub local: String,
}

/// A loader moved into a module of its own: the loader and the exported declarations it reads,
/// plus the imports they read. A page imports the loader from this module instead of the
/// component, and the component imports it back, so both share one module instance.
#[napi(object)]
pub struct LoaderModuleInfo {
    pub imports: Vec<ModuleImport>,
    /// The statements moved out of the component, in source order.
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
pub struct Diagnostic {
    #[napi(ts_type = "'error' | 'warning' | 'info'")]
    pub severity: String,
    /// Stable code: `syntax-error`, `parser-failure`, `too-deeply-nested`, `too-ambiguous`,
    /// `unclosed-frontmatter`, `unsupported-loader-form`, `unsupported-file`, `read-error`,
    /// `invalid-utf8`, `internal-error`.
    pub code: String,
    pub message: String,
    /// 1-based line.
    pub line: u32,
    /// 1-based column (UTF-16 units, as editors count).
    pub column: u32,
    /// UTF-16 offset from the start of the file.
    pub offset: u32,
    /// Code frame with a caret under the column.
    pub frame: String,
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
    #[napi(ts_type = "'astro' | 'module'")]
    pub kind: String,
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
    /// Problems, as data; an analysis never throws for bad input.
    pub diagnostics: Vec<Diagnostic>,
}

/// Analyzes one component or module, blocking the calling thread.
///
/// Prefer it for a single small file where a Promise is in the way (a synchronous Vite hook,
/// a script); prefer `analyzeComponent` or `analyzeComponents` inside servers and build tools,
/// where the work should stay off the JS thread. Bad input never throws: problems come back
/// in `diagnostics`.
#[napi(catch_unwind)]
pub fn analyze_component_sync(
    source: String,
    filename: String,
    options: Option<AnalyzeOptions>,
) -> Result<ComponentInfo> {
    let options = core_options(options);
    guard(|| batch::analyze_one(&source, &filename, &options)).map(ComponentInfo::from)
}

pub struct AnalyzeTask {
    files: Vec<CoreFileInput>,
    options: component::AnalyzeOptions,
}

impl Task for AnalyzeTask {
    type Output = Vec<component::ComponentInfo>;
    type JsValue = Vec<ComponentInfo>;

    fn compute(&mut self) -> Result<Self::Output> {
        // Runs on a libuv worker without napi's unwind guard: catch here.
        guard(|| batch::analyze_many(&self.files, &self.options))
    }

    fn resolve(&mut self, _env: Env, output: Self::Output) -> Result<Self::JsValue> {
        Ok(output.into_iter().map(ComponentInfo::from).collect())
    }
}

pub struct AnalyzeOneTask(AnalyzeTask);

impl Task for AnalyzeOneTask {
    type Output = Vec<component::ComponentInfo>;
    type JsValue = ComponentInfo;

    fn compute(&mut self) -> Result<Self::Output> {
        self.0.compute()
    }

    fn resolve(&mut self, env: Env, output: Self::Output) -> Result<Self::JsValue> {
        self.0
            .resolve(env, output)?
            .pop()
            .ok_or_else(|| Error::from_reason("astro-hoist: analysis returned no result"))
    }
}

/// Analyzes one component or module off the JS thread. Same result as
/// `analyzeComponentSync`.
#[napi(ts_return_type = "Promise<ComponentInfo>")]
pub fn analyze_component(
    source: String,
    filename: String,
    options: Option<AnalyzeOptions>,
) -> AsyncTask<AnalyzeOneTask> {
    AsyncTask::new(AnalyzeOneTask(AnalyzeTask {
        files: vec![CoreFileInput {
            filename,
            source: Some(source),
        }],
        options: core_options(options),
    }))
}

/// Analyzes many files in parallel on native threads, off the JS thread. A file without
/// `source` is read from disk. Results are in input order; a missing or unreadable file gets
/// an error diagnostic and the batch still resolves.
#[napi(ts_return_type = "Promise<ComponentInfo[]>")]
pub fn analyze_components(
    files: Vec<FileInput>,
    options: Option<AnalyzeOptions>,
) -> AsyncTask<AnalyzeTask> {
    AsyncTask::new(AnalyzeTask {
        files: files
            .into_iter()
            .map(|f| CoreFileInput {
                filename: f.filename,
                source: f.source,
            })
            .collect(),
        options: core_options(options),
    })
}

fn core_options(options: Option<AnalyzeOptions>) -> component::AnalyzeOptions {
    component::AnalyzeOptions {
        root: options.unwrap_or_default().root,
    }
}

fn guard<T>(f: impl FnOnce() -> T) -> Result<T> {
    catch_unwind(AssertUnwindSafe(f)).map_err(|_| {
        Error::new(
            Status::GenericFailure,
            "astro-hoist: internal error during analysis (please report the input)",
        )
    })
}

impl From<position::Span> for Span {
    fn from(s: position::Span) -> Self {
        Span {
            start: s.start,
            end: s.end,
            line: s.line,
            column: s.column,
            end_line: s.end_line,
            end_column: s.end_column,
        }
    }
}

impl From<component::ComponentInfo> for ComponentInfo {
    fn from(c: component::ComponentInfo) -> Self {
        ComponentInfo {
            filename: c.filename,
            id: c.id,
            hash: c.hash,
            kind: match c.kind {
                ComponentKind::Astro => "astro",
                ComponentKind::Module => "module",
            }
            .into(),
            frontmatter: c.frontmatter.map(Span::from),
            imports: c.imports.into_iter().map(ImportInfo::from).collect(),
            reexports: c.reexports.into_iter().map(ReexportInfo::from).collect(),
            loader: c.loader.map(LoaderInfo::from),
            usages: c.usages.into_iter().map(Usage::from).collect(),
            loader_data_calls: c
                .loader_data_calls
                .into_iter()
                .map(|call| LoaderDataCall {
                    span: call.span.into(),
                    args_start: call.args_start,
                    arg_count: call.arg_count,
                })
                .collect(),
            early_returns: c.early_returns.into_iter().map(Span::from).collect(),
            diagnostics: c
                .diagnostics
                .into_iter()
                .map(|d| Diagnostic {
                    severity: severity_name(d.severity).into(),
                    code: d.code,
                    message: d.message,
                    line: d.line,
                    column: d.column,
                    offset: d.offset,
                    frame: d.frame,
                })
                .collect(),
        }
    }
}

impl From<script::Import> for ImportInfo {
    fn from(i: script::Import) -> Self {
        ImportInfo {
            source: i.source,
            default_name: i.default_name,
            names: i
                .names
                .into_iter()
                .map(|n| ImportName {
                    imported: n.imported,
                    local: n.local,
                    type_only: n.type_only,
                })
                .collect(),
            namespace: i.namespace,
            type_only: i.type_only,
            span: i.span.into(),
        }
    }
}

impl From<script::Reexport> for ReexportInfo {
    fn from(r: script::Reexport) -> Self {
        ReexportInfo {
            source: r.source,
            names: r
                .names
                .into_iter()
                .map(|n| ReexportName {
                    imported: n.imported,
                    exported: n.exported,
                })
                .collect(),
            all: r.all,
            namespace: r.namespace,
            type_only: r.type_only,
            span: r.span.into(),
        }
    }
}

impl From<loader::Loader> for LoaderInfo {
    fn from(l: loader::Loader) -> Self {
        LoaderInfo {
            kind: match l.kind {
                loader::LoaderKind::Arrow => "arrow",
                loader::LoaderKind::Function => "function",
                loader::LoaderKind::DefineLoader => "defineLoader",
            }
            .into(),
            span: l.span.into(),
            reads: LoaderReads {
                imports: l.reads.imports,
                exports: l.reads.exports,
                astro: l.reads.astro,
                context: l.reads.context,
                locals: l.reads.locals,
            },
            depends_on: l
                .depends_on
                .into_iter()
                .map(|d| LoaderDependency {
                    local: d.local,
                    source: d.source,
                    imported: d.imported,
                })
                .collect(),
            hoistable: l.hoistable,
            reason: l.reason,
            module: l.module.map(|m| LoaderModuleInfo {
                imports: m
                    .imports
                    .into_iter()
                    .map(|i| ModuleImport {
                        source: i.source,
                        imported: i.imported,
                        local: i.local,
                    })
                    .collect(),
                statements: m.statements.into_iter().map(Span::from).collect(),
                exports: m.exports,
            }),
        }
    }
}

impl From<template::Usage> for Usage {
    fn from(u: template::Usage) -> Self {
        Usage {
            name: u.name,
            line: u.line,
            column: u.column,
            offset: u.offset,
            conditional: u.conditional,
            parent: u.parent,
            source: u.source,
            imported: u.imported,
            attributes: u.attributes,
        }
    }
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
    /// Import aliases in Vite's object form: `{ '@': './src' }`. tsconfig.json `paths` are
    /// read as well.
    pub alias: Option<HashMap<String, String>>,
    /// Where the on-disk cache lives (default `node_modules/.cache/astro-hoist` under root).
    pub cache_dir: Option<String>,
    /// `false` keeps the cache in memory only.
    pub disk_cache: Option<bool>,
    /// Root-relative folder of the pages (default `src/pages`; Astro's `srcDir` + `/pages`).
    pub pages_dir: Option<String>,
}

/// An edge of the component graph: a component tag resolved to the file defining it.
#[napi(object)]
pub struct GraphEdge {
    /// Root-relative path of the used component.
    pub to: String,
    /// Index of the usage in the source component's `usages`.
    pub usage: u32,
    /// The usage is inside a `{…}` expression.
    pub conditional: bool,
    /// Barrel modules passed through, root-relative.
    pub via: Vec<String>,
}

/// One scanned file.
#[napi(object)]
pub struct GraphNode {
    /// Root-relative path with `/` separators.
    pub file: String,
    pub info: ComponentInfo,
    pub edges: Vec<GraphEdge>,
}

/// A problem found while scanning.
#[napi(object)]
pub struct ScanDiagnostic {
    /// Root-relative path of the file it is in.
    pub file: String,
    #[napi(ts_type = "'error' | 'warning' | 'info'")]
    pub severity: String,
    /// `unresolved-import`, or a file diagnostic's code.
    pub code: String,
    pub message: String,
    pub line: u32,
    pub column: u32,
}

/// How the content-hash cache served a scan.
#[napi(object)]
pub struct CacheStats {
    pub hits: u32,
    pub misses: u32,
}

/// A scanned project.
#[napi(object)]
pub struct ProjectGraph {
    /// Absolute root with `/` separators.
    pub root: String,
    pub nodes: Vec<GraphNode>,
    /// Root-relative paths of the pages (`.astro` under the pages folder, not `_`-prefixed).
    pub pages: Vec<String>,
    /// Component cycles, each a list of root-relative files.
    pub cycles: Vec<Vec<String>>,
    /// Unresolved imports and every file's error diagnostics.
    pub diagnostics: Vec<ScanDiagnostic>,
    pub cache: CacheStats,
}

pub struct ScanTask {
    root: String,
    options: crate::project::ScanOptions,
}

impl Task for ScanTask {
    type Output = crate::project::ProjectGraph;
    type JsValue = ProjectGraph;

    fn compute(&mut self) -> Result<Self::Output> {
        guard(|| crate::project::scan_project(&self.root, &self.options))?
            .map_err(|e| Error::new(Status::InvalidArg, format!("astro-hoist: {e}")))
    }

    fn resolve(&mut self, _env: Env, g: Self::Output) -> Result<Self::JsValue> {
        Ok(ProjectGraph {
            root: g.root,
            nodes: g
                .nodes
                .into_iter()
                .map(|n| GraphNode {
                    file: n.file,
                    info: n.info.into(),
                    edges: n
                        .edges
                        .into_iter()
                        .map(|e| GraphEdge {
                            to: e.to,
                            usage: e.usage,
                            conditional: e.conditional,
                            via: e.via,
                        })
                        .collect(),
                })
                .collect(),
            pages: g.pages,
            cycles: g.cycles,
            diagnostics: g
                .diagnostics
                .into_iter()
                .map(|d| ScanDiagnostic {
                    file: d.file,
                    severity: severity_name(d.severity).into(),
                    code: d.code,
                    message: d.message,
                    line: d.line,
                    column: d.column,
                })
                .collect(),
            cache: CacheStats {
                hits: u32::try_from(g.cache.hits).unwrap_or(u32::MAX),
                misses: u32::try_from(g.cache.misses).unwrap_or(u32::MAX),
            },
        })
    }
}

/// Scans every `.astro` and JS/TS module under `root` (skipping node_modules, dist, .astro,
/// .git) in parallel off the JS thread, resolves imports (relative, `alias`, tsconfig
/// `paths`), follows barrel modules, and builds the component graph. Analyses are cached by
/// content hash, in memory and on disk. Rejects only when `root` is not a directory or a glob
/// is invalid.
#[napi(ts_return_type = "Promise<ProjectGraph>")]
pub fn scan_project(root: String, options: Option<ScanOptions>) -> AsyncTask<ScanTask> {
    let options = options.unwrap_or_default();
    let cache_dir = match (options.disk_cache, options.cache_dir) {
        (Some(false), _) => None,
        (_, Some(dir)) => Some(std::path::PathBuf::from(dir)),
        (_, None) => Some(std::path::Path::new(&root).join("node_modules/.cache/astro-hoist")),
    };
    let mut alias: Vec<(String, String)> = options.alias.unwrap_or_default().into_iter().collect();
    // Longest `find` first, so `@/components` wins over `@`.
    alias.sort_by_key(|(find, _)| std::cmp::Reverse(find.len()));
    AsyncTask::new(ScanTask {
        root,
        options: crate::project::ScanOptions {
            include: options.include.unwrap_or_default(),
            exclude: options.exclude,
            alias,
            cache_dir,
            pages_dir: options.pages_dir,
        },
    })
}

/// Options of `planPage`.
#[napi(object)]
#[derive(Default)]
pub struct PlanOptions {
    /// Estimated ms per loader, by component id (default 1 each).
    pub costs: Option<HashMap<String, f64>>,
    /// Most loaders in flight at once (a positive integer); unlimited when absent.
    pub concurrency: Option<f64>,
    /// Also start loaders reachable only through conditional usages in batch 1.
    pub speculative: Option<bool>,
}

/// One loader of a planned page.
#[napi(object)]
pub struct PlannedLoader {
    /// Component id: the runtime's key for this loader.
    pub id: String,
    /// Root-relative path of the component.
    pub component: String,
    /// 1 = starts at request start; n = after loaders of batch n-1 it waits for.
    pub batch: u32,
    /// Started in the page's batch at request start.
    pub hoisted: bool,
    /// Reachable only through conditional usages.
    pub conditional: bool,
    /// Why it is not in batch 1.
    pub reason: Option<String>,
    /// Estimated ms.
    pub cost: f64,
    /// Estimated start, ms from request start.
    pub start: f64,
    /// Estimated finish, ms from request start.
    pub finish: f64,
    /// Ids of loaders it awaits through `ctx.load`.
    pub depends_on: Vec<String>,
    /// Ids of loaders that must finish before it starts.
    pub waits_for: Vec<String>,
    /// Without hoisting: its wave.
    pub batch_before: u32,
    /// Without hoisting: estimated start.
    pub start_before: f64,
    /// Without hoisting: estimated finish.
    pub finish_before: f64,
}

/// The plan of one page.
#[napi(object)]
pub struct Plan {
    /// Root-relative path of the page.
    pub page: String,
    /// The loaders a request runs, by batch then start.
    pub loaders: Vec<PlannedLoader>,
    /// Longest chain of nested loaders without hoisting (Astro's waterfall depth).
    pub depth_before: u32,
    /// Number of batches with hoisting.
    pub depth_after: u32,
    /// Ids along the chain that decides the makespan.
    pub critical_path: Vec<String>,
    /// Estimated ms until every loader has finished, with hoisting.
    pub makespan: f64,
    /// The same without hoisting.
    pub makespan_before: f64,
    /// Start order under the concurrency limit (the runtime's queue order).
    pub order: Vec<String>,
}

pub struct PlanTask {
    graph: Option<serde_json::Value>,
    page: String,
    options: crate::plan::PlanOptions,
}

impl Task for PlanTask {
    type Output = crate::plan::Plan;
    type JsValue = Plan;

    fn compute(&mut self) -> Result<Self::Output> {
        let value = self.graph.take().unwrap_or_default();
        let graph: crate::project::ProjectGraph = serde_json::from_value(value).map_err(|e| {
            Error::new(
                Status::InvalidArg,
                format!("astro-hoist: planPage needs a graph from scanProject: {e}"),
            )
        })?;
        guard(|| crate::plan::plan_page(&graph, &self.page, &self.options))?
            .map_err(|e| Error::new(Status::GenericFailure, format!("astro-hoist: {e}")))
    }

    fn resolve(&mut self, _env: Env, p: Self::Output) -> Result<Self::JsValue> {
        Ok(Plan {
            page: p.page,
            loaders: p
                .loaders
                .into_iter()
                .map(|l| PlannedLoader {
                    id: l.id,
                    component: l.component,
                    batch: l.batch,
                    hoisted: l.hoisted,
                    conditional: l.conditional,
                    reason: l.reason,
                    cost: l.cost,
                    start: l.start,
                    finish: l.finish,
                    depends_on: l.depends_on,
                    waits_for: l.waits_for,
                    batch_before: l.batch_before,
                    start_before: l.start_before,
                    finish_before: l.finish_before,
                })
                .collect(),
            depth_before: p.depth_before,
            depth_after: p.depth_after,
            critical_path: p.critical_path,
            makespan: p.makespan,
            makespan_before: p.makespan_before,
            order: p.order,
        })
    }
}

/// Plans one page of a scanned project, off the JS thread: which loaders start together
/// (batch 1 at request start), which wait and why, depths before and after hoisting, the
/// critical path, the makespan under `concurrency`, and the start order the runtime uses.
/// `page` is a root-relative or absolute path, or a component id. Rejects on a loader
/// dependency cycle (naming it) or an unknown page.
#[napi(
    ts_args_type = "graph: ProjectGraph, page: string, options?: PlanOptions",
    ts_return_type = "Promise<Plan>"
)]
pub fn plan_page(
    graph: serde_json::Value,
    page: String,
    options: Option<PlanOptions>,
) -> Result<AsyncTask<PlanTask>> {
    let options = options.unwrap_or_default();
    let concurrency = match options.concurrency {
        None => None,
        Some(c) if c >= 1.0 && c.fract() == 0.0 && c <= f64::from(u32::MAX) => Some(c as u32),
        Some(c) => {
            return Err(Error::new(
                Status::InvalidArg,
                format!(
                    "astro-hoist: planPage options.concurrency must be a positive integer, got {c}"
                ),
            ))
        }
    };
    Ok(AsyncTask::new(PlanTask {
        graph: Some(graph),
        page,
        options: crate::plan::PlanOptions {
            costs: options.costs.unwrap_or_default(),
            concurrency,
            speculative: options.speculative.unwrap_or(false),
        },
    }))
}

fn severity_name(s: Severity) -> &'static str {
    match s {
        Severity::Error => "error",
        Severity::Warning => "warning",
        Severity::Info => "info",
    }
}

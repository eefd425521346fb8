//! Conversions from the core's types to the binding's JS-facing ones (and options back).

use astro_hoist_core as core;

use crate::shared::{SharedString, SharedStrings};

use crate::types::*;

impl From<core::position::Span> for Span {
    fn from(s: core::position::Span) -> Self {
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

impl From<core::component::ComponentInfo> for ComponentInfo {
    fn from(c: core::component::ComponentInfo) -> Self {
        ComponentInfo {
            filename: c.filename,
            id: c.id,
            hash: c.hash,
            kind: match c.kind {
                core::component::ComponentKind::Astro => ComponentKind::Astro,
                core::component::ComponentKind::Module => ComponentKind::Module,
            },
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
            awaits: c.awaits.into_iter().map(FrontmatterAwait::from).collect(),
            diagnostics: c.diagnostics.into_iter().map(Diagnostic::from).collect(),
        }
    }
}

impl From<core::record::Import> for ImportInfo {
    fn from(i: core::record::Import) -> Self {
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

impl From<core::record::Reexport> for ReexportInfo {
    fn from(r: core::record::Reexport) -> Self {
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

impl From<core::loader::Loader> for LoaderInfo {
    fn from(l: core::loader::Loader) -> Self {
        LoaderInfo {
            kind: match l.kind {
                core::loader::LoaderKind::Arrow => LoaderKind::Arrow,
                core::loader::LoaderKind::Function => LoaderKind::Function,
                core::loader::LoaderKind::DefineLoader => LoaderKind::DefineLoader,
                core::loader::LoaderKind::DefineBatchLoader => LoaderKind::DefineBatchLoader,
            },
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
            by_props: l.by_props,
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
            cache: l.cache.map(|c| LoaderCacheInfo {
                span: c.span.into(),
                keyed: c.keyed,
                per_request: c.per_request,
            }),
        }
    }
}

impl From<core::template::Usage> for Usage {
    fn from(u: core::template::Usage) -> Self {
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
            flow: u.flow.and_then(|f| serde_json::to_string(&f).ok()),
            untraced: u
                .untraced
                .map(|w| format!("{}:{} {}", w.line, w.column, w.reason)),
        }
    }
}

impl From<core::diagnostic::Severity> for Severity {
    fn from(s: core::diagnostic::Severity) -> Self {
        match s {
            core::diagnostic::Severity::Error => Severity::Error,
            core::diagnostic::Severity::Warning => Severity::Warning,
            core::diagnostic::Severity::Info => Severity::Info,
        }
    }
}

impl From<core::diagnostic::Code> for Code {
    fn from(c: core::diagnostic::Code) -> Self {
        use core::diagnostic::Code as C;
        match c {
            C::SyntaxError => Code::SyntaxError,
            C::ParserFailure => Code::ParserFailure,
            C::TooDeeplyNested => Code::TooDeeplyNested,
            C::TooAmbiguous => Code::TooAmbiguous,
            C::UnclosedFrontmatter => Code::UnclosedFrontmatter,
            C::UnsupportedLoaderForm => Code::UnsupportedLoaderForm,
            C::UnsupportedFile => Code::UnsupportedFile,
            C::ReadError => Code::ReadError,
            C::InvalidUtf8 => Code::InvalidUtf8,
            C::InternalError => Code::InternalError,
            C::UnresolvedImport => Code::UnresolvedImport,
            C::UnknownComponent => Code::UnknownComponent,
            C::ExportNotFound => Code::ExportNotFound,
            C::ReexportCycle => Code::ReexportCycle,
            C::ServerIsland => Code::ServerIsland,
            C::LoaderNotHoistable => Code::LoaderNotHoistable,
            C::LoaderUnused => Code::LoaderUnused,
            C::LoaderConditional => Code::LoaderConditional,
            C::LoaderCycle => Code::LoaderCycle,
            C::LoaderUnreached => Code::LoaderUnreached,
            C::MdxContent => Code::MdxContent,
            C::RouteFailed => Code::RouteFailed,
            C::UnsafeLoaderCache => Code::UnsafeLoaderCache,
            C::PropsNotTraced => Code::PropsNotTraced,
        }
    }
}

impl From<core::diagnostic::Diagnostic> for Diagnostic {
    fn from(d: core::diagnostic::Diagnostic) -> Self {
        Diagnostic {
            severity: d.severity.into(),
            code: d.code.into(),
            message: d.message,
            file: d.file,
            line: d.line,
            column: d.column,
            offset: d.offset,
            frame: d.frame,
            help: d.help,
        }
    }
}

impl From<core::cache::CacheStats> for CacheStats {
    fn from(s: core::cache::CacheStats) -> Self {
        CacheStats {
            hits: u32::try_from(s.hits).unwrap_or(u32::MAX),
            misses: u32::try_from(s.misses).unwrap_or(u32::MAX),
        }
    }
}

impl From<core::graph::RouteKind> for RouteKind {
    fn from(k: core::graph::RouteKind) -> Self {
        match k {
            core::graph::RouteKind::Page => RouteKind::Page,
            core::graph::RouteKind::Injected => RouteKind::Injected,
            core::graph::RouteKind::Markdown => RouteKind::Markdown,
            core::graph::RouteKind::Island => RouteKind::Island,
        }
    }
}

impl From<RouteKind> for core::graph::RouteKind {
    fn from(k: RouteKind) -> Self {
        match k {
            RouteKind::Page => core::graph::RouteKind::Page,
            RouteKind::Injected => core::graph::RouteKind::Injected,
            RouteKind::Markdown => core::graph::RouteKind::Markdown,
            RouteKind::Island => core::graph::RouteKind::Island,
        }
    }
}

impl From<core::graph::Route> for Route {
    fn from(r: core::graph::Route) -> Self {
        Route {
            kind: r.kind.into(),
            pattern: r.pattern,
            entry: r.entry,
        }
    }
}

impl From<Route> for core::graph::Route {
    fn from(r: Route) -> Self {
        core::graph::Route {
            kind: r.kind.into(),
            pattern: r.pattern,
            entry: r.entry,
        }
    }
}

impl From<core::graph::Request> for Request {
    fn from(r: core::graph::Request) -> Self {
        match r {
            core::graph::Request::Resolve {
                specifier,
                importer,
            } => Request {
                kind: RequestKind::Resolve,
                specifier: Some(specifier),
                importer: Some(importer),
                id: None,
            },
            core::graph::Request::Load { id } => Request {
                kind: RequestKind::Load,
                specifier: None,
                importer: None,
                id: Some(id),
            },
        }
    }
}

impl From<core::plan::Plan> for Plan {
    fn from(p: core::plan::Plan) -> Self {
        Plan {
            root: p.root,
            entries: p.entries.into_iter().map(BatchEntry::from).collect(),
            batch_start: p.batch_start.map(Span::from),
            loaders: p
                .loaders
                .into_iter()
                .map(|l| PlannedLoader {
                    id: SharedString(l.id),
                    component: SharedString(l.component),
                    wave: l.wave,
                    hoisted: l.hoisted,
                    conditional: l.conditional,
                    reason: l.reason,
                    cost: l.cost,
                    start: l.start,
                    finish: l.finish,
                    depends_on: SharedStrings(l.depends_on),
                    waits_for: SharedStrings(l.waits_for),
                    wave_before: l.wave_before,
                    start_before: l.start_before,
                    finish_before: l.finish_before,
                })
                .collect(),
            depth_before: p.depth_before,
            depth_after: p.depth_after,
            critical_path: SharedStrings(p.critical_path),
            makespan: p.makespan,
            makespan_before: p.makespan_before,
            order: SharedStrings(p.order),
            notes: p.notes.into_iter().map(Diagnostic::from).collect(),
            files: SharedStrings(p.files),
            complete: p.complete,
            flow: p.flow,
            awaits: p
                .awaits
                .into_iter()
                .map(|a| AwaitStep {
                    component: SharedString(a.component),
                    line: a.line,
                    column: a.column,
                    text: a.text,
                    step: a.step,
                    conditional: a.conditional,
                    movable: a.movable,
                    reason: a.reason,
                })
                .collect(),
            await_depth: p.await_depth,
            await_depth_after: p.await_depth_after,
        }
    }
}

impl From<core::awaits::FrontmatterAwait> for FrontmatterAwait {
    fn from(a: core::awaits::FrontmatterAwait) -> Self {
        FrontmatterAwait {
            span: a.span.into(),
            text: a.text,
            movable: a.movable,
            reason: a.reason,
        }
    }
}

impl From<core::plan::BatchEntry> for BatchEntry {
    fn from(e: core::plan::BatchEntry) -> Self {
        BatchEntry {
            id: SharedString(e.id),
            file: SharedString(e.file),
            component: SharedString(e.component),
            conditional: e.conditional,
        }
    }
}

impl Batch {
    /// The core's batch for JS; `files: false` leaves its files out (`PlanOptions.files`).
    pub fn from_core(b: core::plan::Batch, files: bool) -> Self {
        Batch {
            entries: b.entries.into_iter().map(BatchEntry::from).collect(),
            order: b.order,
            notes: b.notes.into_iter().map(Diagnostic::from).collect(),
            files: if files { b.files } else { Vec::new() },
            complete: b.complete,
            flow: b.flow,
        }
    }
}

impl From<core::plan::PlanError> for PlanError {
    fn from(e: core::plan::PlanError) -> Self {
        PlanError {
            diagnostic: e.diagnostic.into(),
            cycle: e.cycle,
            entries: e.entries.into_iter().map(Into::into).collect(),
        }
    }
}

impl From<core::plan::RoutePlan> for RoutePlan {
    fn from(r: core::plan::RoutePlan) -> Self {
        RoutePlan {
            kind: r.kind.into(),
            pattern: r.pattern,
            entry: r.entry,
            plan: r.plan.map(Plan::from),
            error: r.error.map(PlanError::from),
        }
    }
}

/// Whether a batch lists its files (`PlanOptions.files`, default true).
pub fn lists_files(options: &Option<PlanOptions>) -> bool {
    options.as_ref().and_then(|o| o.files) != Some(false)
}

/// The core's plan options, checked: `concurrency` must be a positive integer.
pub fn plan_options(options: Option<PlanOptions>) -> napi::Result<core::plan::PlanOptions> {
    let options = options.unwrap_or_default();
    let concurrency = match options.concurrency {
        None => None,
        Some(c) if c >= 1.0 && c.fract() == 0.0 && c <= f64::from(u32::MAX) => Some(c as u32),
        Some(c) => {
            return Err(napi::Error::new(
                napi::Status::InvalidArg,
                format!(
                    "astro-hoist: plan options.concurrency must be a positive integer, got {c}"
                ),
            ))
        }
    };
    Ok(core::plan::PlanOptions {
        costs: options.costs.unwrap_or_default(),
        concurrency,
        speculative: options.speculative.unwrap_or(false),
    })
}

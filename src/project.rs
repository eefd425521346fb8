//! The `Project` class: a project graph that stays native (analyses, resolutions, edges and
//! routes live in Rust; JS gets plans and diagnostics, never the graph as objects).

use std::sync::Arc;

use astro_hoist_core as core;
use napi::bindgen_prelude::*;
use napi_derive::napi;
use rayon::prelude::*;
use rustc_hash::FxHashMap as HashMap;

use crate::convert::{lists_files, plan_options};
use crate::guard;
use crate::types::*;

/// A host that knows nothing by itself: every resolution and virtual module is answered from
/// JS (`Project.answer`), with the bundler's own resolver and loader.
struct Answered;

impl core::resolve::Host for Answered {
    fn resolve(&self, _specifier: &str, _importer: &str) -> Option<core::resolve::Resolution> {
        None
    }
    fn load(&self, _id: &str) -> Option<std::result::Result<String, String>> {
        None
    }
    fn is_bundler(&self) -> bool {
        true
    }
}

/// A project graph: the routes Astro serves, every module they reach (analyzed once) and what
/// each template usage renders. `new Project(root)` answers resolutions from JS (a bundler's
/// resolver, through `walk` and `answer`); `scanProject(root)` resolves on disk.
#[napi]
pub struct Project {
    inner: Arc<core::graph::Project>,
    /// Root-relative paths scanned (a disk scan only).
    scanned: Vec<String>,
    cache: core::cache::CacheStats,
}

impl Project {
    pub fn from_scan(scan: core::scan::Scan) -> Self {
        Project {
            inner: Arc::new(scan.project),
            scanned: scan.files,
            cache: scan.cache,
        }
    }
}

#[napi]
impl Project {
    /// An empty project at `root` (absolute) whose resolutions are answered from JS.
    #[napi(constructor)]
    pub fn new(root: String) -> Self {
        Project {
            inner: Arc::new(core::graph::Project::new(&root, Box::new(Answered))),
            scanned: Vec::new(),
            cache: core::cache::CacheStats::default(),
        }
    }

    /// The root: absolute, `/` separators, no trailing slash.
    #[napi(getter)]
    pub fn root(&self) -> String {
        self.inner.root().to_string()
    }

    /// Root-relative paths of the files a disk scan analyzed (empty otherwise).
    #[napi(getter)]
    pub fn files(&self) -> Vec<String> {
        self.scanned.clone()
    }

    /// How the content-hash cache served a disk scan.
    #[napi(getter)]
    pub fn cache(&self) -> CacheStats {
        self.cache.into()
    }

    /// The routes: as set (the integration sets Astro's own list), or found by a disk scan; with
    /// every server island a walk found.
    #[napi(getter)]
    pub fn routes(&self) -> Vec<Route> {
        self.inner.routes().into_iter().map(Route::from).collect()
    }

    /// A counter that changes whenever a plan could change.
    #[napi(getter)]
    pub fn generation(&self) -> f64 {
        self.inner.generation() as f64
    }

    /// Sets the routes Astro serves.
    #[napi]
    pub fn set_routes(&self, routes: Vec<Route>) {
        self.inner
            .set_routes(routes.into_iter().map(Into::into).collect());
    }

    /// A module id relative to the root (virtual ids as they are).
    #[napi]
    pub fn relative(&self, id: String) -> String {
        self.inner.relative(&id)
    }

    /// Analyzes `source` as the content of module `id` (a transform hook's code, a changed file)
    /// and keeps it; what the old content decided is dropped. Off the JS thread.
    #[napi(ts_return_type = "Promise<ComponentInfo>")]
    pub fn update(&self, id: String, source: String) -> AsyncTask<UpdateTask> {
        AsyncTask::new(UpdateTask {
            project: Arc::clone(&self.inner),
            id,
            source: Some(source),
        })
    }

    /// Forgets a file that changed or was deleted on disk (and the resolutions it may change).
    #[napi]
    pub fn forget(&self, id: String) {
        self.inner.forget(&id);
    }

    /// A module's analysis, reading the file the first time; null for an unknown virtual module.
    #[napi(catch_unwind)]
    pub fn module(&self, id: String) -> Result<Option<ComponentInfo>> {
        let project = Arc::clone(&self.inner);
        guard(move || project.module(&id).map(|info| (*info).clone().into()))
    }

    /// The analysis the project holds for a module, without reading anything: what its plans
    /// were made from (null when it has none).
    #[napi]
    pub fn cached(&self, id: String) -> Option<ComponentInfo> {
        self.inner.cached(&id).map(|info| (*info).clone().into())
    }

    /// Walks from `roots` (module ids) as far as the known answers allow, off the JS thread.
    /// Resolves to the questions to answer (`answer`) before walking again; none: complete.
    #[napi(ts_return_type = "Promise<Request[]>")]
    pub fn walk(&self, roots: Vec<String>) -> AsyncTask<WalkTask> {
        AsyncTask::new(WalkTask {
            project: Arc::clone(&self.inner),
            roots,
        })
    }

    /// Walks every route (a Markdown page from its layout) and every server island found on
    /// the way (added as routes), off the JS thread. Resolves to the questions left, as `walk`.
    #[napi(ts_return_type = "Promise<Request[]>")]
    pub fn walk_routes(&self) -> AsyncTask<WalkRoutesTask> {
        AsyncTask::new(WalkRoutesTask {
            project: Arc::clone(&self.inner),
        })
    }

    /// From now on, resolves without asking (no `walk` request) the imports whose file is certain:
    /// a relative specifier, or one an alias turns into a path inside the root, that names an
    /// existing file with its extension, symlinks resolved as Vite resolves them (so not with
    /// `resolve.preserveSymlinks`). Everything else is still asked. `null` turns this off (every
    /// import is asked again), and so does an alias pattern that cannot be read here; both return
    /// false.
    #[napi]
    pub fn resolve_exact_files(&self, aliases: Option<Vec<PathAlias>>) -> bool {
        let exact = aliases.and_then(|aliases| {
            let mut read = Vec::with_capacity(aliases.len());
            for alias in aliases {
                let find = if alias.pattern == Some(true) {
                    core::resolve::AliasFind::pattern(&alias.find, alias.flags.as_deref())?
                } else {
                    core::resolve::AliasFind::Prefix(alias.find)
                };
                read.push(core::resolve::Alias {
                    find,
                    replacement: alias.replacement,
                });
            }
            Some(core::resolve::ExactFiles::new(self.inner.root(), read))
        });
        let on = exact.is_some();
        self.inner.resolve_exact_files(exact);
        on
    }

    /// Answers questions of `walk`.
    #[napi]
    pub fn answer(&self, answers: Vec<Answer>) -> Result<()> {
        let mut resolutions = Vec::with_capacity(answers.len());
        let mut loads = Vec::new();
        for a in answers {
            match a.kind {
                RequestKind::Resolve => {
                    let (Some(specifier), Some(importer)) = (a.specifier, a.importer) else {
                        return Err(Error::new(
                            Status::InvalidArg,
                            "astro-hoist: a resolve answer needs specifier and importer",
                        ));
                    };
                    let resolution = match (a.resolved, a.external) {
                        (_, Some(true)) => core::resolve::Resolution::External,
                        (Some(id), _) => core::resolve::Resolution::Module(id),
                        (None, _) => core::resolve::Resolution::Missing,
                    };
                    resolutions.push((specifier, importer, resolution));
                }
                RequestKind::Load => {
                    let Some(id) = a.id else {
                        return Err(Error::new(
                            Status::InvalidArg,
                            "astro-hoist: a load answer needs id",
                        ));
                    };
                    let source = match (a.source, a.error) {
                        (Some(code), _) => Ok(code),
                        (None, Some(why)) => Err(why),
                        (None, None) => Err("no source".to_string()),
                    };
                    loads.push((id, source));
                }
            }
        }
        if !resolutions.is_empty() {
            self.inner.answer_resolves(resolutions);
        }
        for (id, source) in loads {
            let project = Arc::clone(&self.inner);
            guard(move || project.answer_load(&id, source))?;
        }
        Ok(())
    }

    /// Plans one root component (a module id): its batch entries, waves, depths before and
    /// after hoisting, the critical path, the makespan under `concurrency`, the start order,
    /// and why any loader is not hoisted. A loader cycle is an error, as data.
    #[napi(catch_unwind)]
    pub fn plan(&self, root: String, options: Option<PlanOptions>) -> Result<PlanOutcome> {
        let options = plan_options(options)?;
        let project = Arc::clone(&self.inner);
        let outcome = guard(move || {
            core::pool::pool().install(|| core::plan::plan(&project, &root, &options))
        })?;
        Ok(match outcome {
            Ok(plan) => PlanOutcome {
                plan: Some(plan.into()),
                error: None,
            },
            Err(error) => PlanOutcome {
                plan: None,
                error: Some((*error).into()),
            },
        })
    }

    /// `update`, `walk` and `batch` at once, on the JS thread, when they have nothing to do but
    /// look: `source` is the content the project analyzed (a walk read the file) and the walk
    /// from `id` would read and ask nothing. Null otherwise (then use those three). A bundler
    /// transforms a page's components after the page's walk went through them: each then costs
    /// a lookup and a plan instead of three trips to the thread pool and back.
    #[napi(catch_unwind)]
    pub fn quick(
        &self,
        id: String,
        source: String,
        options: Option<PlanOptions>,
    ) -> Result<Option<QuickOutcome>> {
        let files = lists_files(&options);
        let options = plan_options(options)?;
        let project = Arc::clone(&self.inner);
        let outcome = guard(move || {
            let info = project.known_source(&id, &source)?;
            if !project.walked(&id) {
                return None;
            }
            // Planning a walked tree reads nothing and recurses only as deep as components nest:
            // the calling thread's stack is enough.
            Some((info, core::plan::batch(&project, &id, &options)))
        })?;
        Ok(outcome.map(|(info, outcome)| {
            let info = (*info).clone().into();
            match outcome {
                Ok(batch) => QuickOutcome {
                    info,
                    batch: Some(Batch::from_core(batch, files)),
                    error: None,
                },
                Err(error) => QuickOutcome {
                    info,
                    batch: None,
                    error: Some((*error).into()),
                },
            }
        }))
    }

    /// What the code of root component `root` needs of its plan (the same entries, order and
    /// notes as `plan`), off the JS thread: the build asks this of every component.
    #[napi(ts_return_type = "Promise<BatchOutcome>")]
    pub fn batch(
        &self,
        root: String,
        options: Option<PlanOptions>,
    ) -> Result<AsyncTask<BatchTask>> {
        Ok(AsyncTask::new(BatchTask {
            project: Arc::clone(&self.inner),
            root,
            files: lists_files(&options),
            options: plan_options(options)?,
        }))
    }

    /// Plans every route in parallel on native threads, off the JS thread.
    #[napi(ts_return_type = "Promise<RoutePlan[]>")]
    pub fn plan_routes(&self, options: Option<PlanOptions>) -> Result<AsyncTask<PlanRoutesTask>> {
        Ok(AsyncTask::new(PlanRoutesTask {
            project: Arc::clone(&self.inner),
            options: plan_options(options)?,
        }))
    }

    /// `planRoutes` as JSON text `{ strings, value }`, where `value` is the routes' plans with
    /// each repeated string (ids, components, files) written as its index in `strings`.
    /// `decodeRoutePlans` (`astro-hoist/plans`) makes the same objects as `planRoutes` from it,
    /// faster at thousands of routes (`JSON.parse` makes them, not a call per property).
    #[napi(ts_return_type = "Promise<string>")]
    pub fn plan_routes_packed(
        &self,
        options: Option<PlanOptions>,
    ) -> Result<AsyncTask<PackedRoutePlansTask>> {
        Ok(AsyncTask::new(PackedRoutePlansTask {
            project: Arc::clone(&self.inner),
            options: plan_options(options)?,
        }))
    }

    /// Every problem worth showing: the scanned files' errors and what the routes' walk could
    /// not follow, sorted by file and line.
    #[napi(catch_unwind)]
    pub fn diagnostics(&self) -> Result<Vec<Diagnostic>> {
        let project = Arc::clone(&self.inner);
        let files = self.scanned.clone();
        guard(move || {
            core::scan::diagnostics(&project, &files)
                .into_iter()
                .map(Diagnostic::from)
                .collect()
        })
    }

    /// Component cycles among the routes' trees, each a sorted list of root-relative files.
    #[napi(catch_unwind)]
    pub fn cycles(&self) -> Result<Vec<Vec<String>>> {
        let project = Arc::clone(&self.inner);
        guard(move || core::scan::cycles(&project))
    }
}

pub struct UpdateTask {
    project: Arc<core::graph::Project>,
    id: String,
    source: Option<String>,
}

impl Task for UpdateTask {
    type Output = core::component::ComponentInfo;
    type JsValue = ComponentInfo;

    fn compute(&mut self) -> Result<Self::Output> {
        let source = self.source.take().unwrap_or_default();
        let project = Arc::clone(&self.project);
        let id = self.id.clone();
        guard(move || (*project.set_source(&id, source)).clone())
    }

    fn resolve(&mut self, _env: Env, output: Self::Output) -> Result<Self::JsValue> {
        Ok(output.into())
    }
}

pub struct WalkTask {
    project: Arc<core::graph::Project>,
    roots: Vec<String>,
}

impl Task for WalkTask {
    type Output = Vec<core::graph::Request>;
    type JsValue = Vec<Request>;

    fn compute(&mut self) -> Result<Self::Output> {
        let project = Arc::clone(&self.project);
        let roots = self.roots.clone();
        guard(move || core::pool::pool().install(|| project.walk(&roots)))
    }

    fn resolve(&mut self, _env: Env, output: Self::Output) -> Result<Self::JsValue> {
        Ok(output.into_iter().map(Request::from).collect())
    }
}

pub struct BatchTask {
    project: Arc<core::graph::Project>,
    root: String,
    options: core::plan::PlanOptions,
    files: bool,
}

impl Task for BatchTask {
    type Output = std::result::Result<core::plan::Batch, Box<core::plan::PlanError>>;
    type JsValue = BatchOutcome;

    fn compute(&mut self) -> Result<Self::Output> {
        let project = Arc::clone(&self.project);
        let root = std::mem::take(&mut self.root);
        let options = self.options.clone();
        guard(move || core::pool::pool().install(|| core::plan::batch(&project, &root, &options)))
    }

    fn resolve(&mut self, _env: Env, output: Self::Output) -> Result<Self::JsValue> {
        Ok(match output {
            Ok(batch) => BatchOutcome {
                batch: Some(Batch::from_core(batch, self.files)),
                error: None,
            },
            Err(error) => BatchOutcome {
                batch: None,
                error: Some((*error).into()),
            },
        })
    }
}

pub struct PlanRoutesTask {
    project: Arc<core::graph::Project>,
    options: core::plan::PlanOptions,
}

impl Task for PlanRoutesTask {
    type Output = Vec<core::plan::RoutePlan>;
    type JsValue = crate::shared::RoutePlans;

    fn compute(&mut self) -> Result<Self::Output> {
        plan_every_route(&self.project, &self.options)
    }

    fn resolve(&mut self, _env: Env, output: Self::Output) -> Result<Self::JsValue> {
        Ok(crate::shared::RoutePlans(
            output.into_iter().map(RoutePlan::from).collect(),
        ))
    }
}

/// Every route's plan, planned in parallel on the core's pool.
fn plan_every_route(
    project: &Arc<core::graph::Project>,
    options: &core::plan::PlanOptions,
) -> Result<Vec<core::plan::RoutePlan>> {
    let project = Arc::clone(project);
    let options = options.clone();
    guard(move || {
        let routes = project.routes();
        core::pool::pool().install(|| {
            routes
                .par_iter()
                .map(|route| core::plan::plan_route(&project, route, &options))
                .collect()
        })
    })
}

pub struct PackedRoutePlansTask {
    project: Arc<core::graph::Project>,
    options: core::plan::PlanOptions,
}

impl Task for PackedRoutePlansTask {
    type Output = String;
    type JsValue = String;

    fn compute(&mut self) -> Result<Self::Output> {
        let project = Arc::clone(&self.project);
        let options = self.options.clone();
        let written = guard(move || {
            let table = Arc::new(crate::shared::StringTable::default());
            let routes = project.routes();
            // Each route is planned, converted and written on the pool, in parallel.
            let parts: serde_json::Result<Vec<String>> = core::pool::pool().install(|| {
                routes
                    .par_iter()
                    .map_init(HashMap::default, |seen, route| {
                        let plan =
                            RoutePlan::from(core::plan::plan_route(&project, route, &options));
                        table.write(&plan, seen)
                    })
                    .collect()
            });
            parts.and_then(|parts| table.finish(&parts))
        })?;
        written.map_err(|error| Error::from_reason(format!("cannot write the plans: {error}")))
    }

    fn resolve(&mut self, _env: Env, output: Self::Output) -> Result<Self::JsValue> {
        Ok(output)
    }
}

pub struct WalkRoutesTask {
    project: Arc<core::graph::Project>,
}

impl Task for WalkRoutesTask {
    type Output = Vec<core::graph::Request>;
    type JsValue = Vec<Request>;

    fn compute(&mut self) -> Result<Self::Output> {
        let project = Arc::clone(&self.project);
        guard(move || {
            core::pool::pool().install(|| {
                core::scan::walk_routes(&project);
                project.pending()
            })
        })
    }

    fn resolve(&mut self, _env: Env, output: Self::Output) -> Result<Self::JsValue> {
        Ok(output.into_iter().map(Request::from).collect())
    }
}

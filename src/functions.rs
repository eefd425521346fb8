//! The binding's functions: analyses of single files (sync and off the JS thread) and the
//! disk scan that returns a `Project`.

use std::path::PathBuf;

use astro_hoist_core as core;
use napi::bindgen_prelude::*;
use napi_derive::napi;

use crate::guard;
use crate::project::Project;
use crate::types::*;

fn core_options(options: Option<AnalyzeOptions>) -> core::component::AnalyzeOptions {
    core::component::AnalyzeOptions {
        root: options.unwrap_or_default().root,
    }
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
    guard(|| core::pool::analyze_one(&source, &filename, &options)).map(ComponentInfo::from)
}

/// `astro-hoist migrate` for one `.astro` source: its frontmatter's movable top-level awaits
/// moved into one exported loader (the declarations then read `await getLoaderData()`), and
/// every await with why it can or cannot move. Nothing moves when the frontmatter has a
/// syntax error or the component already has a loader. Never throws for bad input.
#[napi(catch_unwind)]
pub fn migrate_component(source: String, filename: String) -> Result<Migration> {
    guard(|| core::component::migrate(&source, &filename)).map(|m| Migration {
        code: m.code,
        awaits: m.awaits.into_iter().map(FrontmatterAwait::from).collect(),
    })
}

pub struct AnalyzeTask {
    files: Vec<core::pool::FileInput>,
    options: core::component::AnalyzeOptions,
}

impl Task for AnalyzeTask {
    type Output = Vec<core::component::ComponentInfo>;
    type JsValue = Vec<ComponentInfo>;

    fn compute(&mut self) -> Result<Self::Output> {
        // Runs on a libuv worker without napi's unwind guard: catch here.
        guard(|| core::pool::analyze_many(&self.files, &self.options))
    }

    fn resolve(&mut self, _env: Env, output: Self::Output) -> Result<Self::JsValue> {
        Ok(output.into_iter().map(ComponentInfo::from).collect())
    }
}

pub struct AnalyzeOneTask(AnalyzeTask);

impl Task for AnalyzeOneTask {
    type Output = Vec<core::component::ComponentInfo>;
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
        files: vec![core::pool::FileInput {
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
            .map(|f| core::pool::FileInput {
                filename: f.filename,
                source: f.source,
            })
            .collect(),
        options: core_options(options),
    })
}

pub struct ScanTask {
    root: String,
    options: core::scan::ScanOptions,
}

impl Task for ScanTask {
    type Output = core::scan::Scan;
    type JsValue = Project;

    fn compute(&mut self) -> Result<Self::Output> {
        guard(|| core::scan::scan_project(&self.root, &self.options))?
            .map_err(|e| Error::new(Status::InvalidArg, format!("astro-hoist: {e}")))
    }

    fn resolve(&mut self, _env: Env, scan: Self::Output) -> Result<Self::JsValue> {
        Ok(Project::from_scan(scan))
    }
}

/// Scans a project on disk, off the JS thread: every `.astro` and JS/TS module under `root`
/// (skipping node_modules, dist, .astro, .git) analyzed in parallel, the pages folder's routes
/// (`.astro`, and `.md`/`.mdx` through their `layout`), each route's component tree walked with
/// an on-disk resolver (relative imports, `alias`, the root tsconfig's `paths`, packages),
/// barrels followed, server islands added as routes. Analyses are cached by content hash, in
/// memory and on disk. Resolves to a `Project` whose graph stays native. Rejects only when
/// `root` is not a directory or a glob is invalid.
#[napi(ts_return_type = "Promise<Project>")]
pub fn scan_project(root: String, options: Option<ScanOptions>) -> AsyncTask<ScanTask> {
    let options = options.unwrap_or_default();
    let cache_dir = match (options.disk_cache, options.cache_dir) {
        (Some(false), _) => None,
        (_, Some(dir)) => Some(PathBuf::from(dir)),
        (_, None) => Some(PathBuf::from(&root).join("node_modules/.cache/astro-hoist")),
    };
    AsyncTask::new(ScanTask {
        root,
        options: core::scan::ScanOptions {
            include: options.include.unwrap_or_default(),
            exclude: options.exclude,
            alias: options
                .alias
                .map(|m| m.into_iter().collect())
                .unwrap_or_default(),
            cache_dir,
            pages_dir: options.pages_dir,
        },
    })
}

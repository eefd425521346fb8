//! Running analyses on a thread pool with a large stack, one file or many in parallel.
//!
//! swc parses recursively (about 3 KB of stack per nested expression), and a stack overflow
//! kills the whole Node process — no `catch_unwind` can stop it. Every analysis, the
//! synchronous ones included, therefore runs on this pool, whose threads reserve 256 MiB of
//! (virtual, lazily committed) stack: enough for 50,000 nested brackets. Panics inside a job
//! are caught per file and reported as an `internal-error` diagnostic.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;
use std::sync::OnceLock;

use rayon::prelude::*;

use crate::component::{analyze_component, AnalyzeOptions, ComponentInfo};
use crate::diagnostic::{Diagnostic, Severity};
use crate::position::LineIndex;

const STACK_SIZE: usize = 256 << 20;

fn pool() -> &'static rayon::ThreadPool {
    static POOL: OnceLock<rayon::ThreadPool> = OnceLock::new();
    POOL.get_or_init(|| {
        rayon::ThreadPoolBuilder::new()
            .thread_name(|i| format!("astro-hoist-{i}"))
            .stack_size(STACK_SIZE)
            .build()
            .unwrap_or_else(|_| {
                // Building a pool only fails when threads cannot be spawned at all; one
                // thread is the best that can be done then.
                rayon::ThreadPoolBuilder::new()
                    .num_threads(1)
                    .stack_size(STACK_SIZE)
                    .build()
                    .expect("cannot start a single analysis thread")
            })
    })
}

/// One file of a batch: its name and, optionally, its source (read from disk when absent).
#[derive(Debug, Clone)]
pub struct FileInput {
    pub filename: String,
    pub source: Option<String>,
}

/// Analyzes one file on the big-stack pool. Blocks the caller until done.
pub fn analyze_one(source: &str, filename: &str, options: &AnalyzeOptions) -> ComponentInfo {
    pool().install(|| guarded(source, filename, options))
}

/// Analyzes many files in parallel; the result is in input order. Unreadable files come back
/// with an error diagnostic; the batch always completes.
pub fn analyze_many(files: &[FileInput], options: &AnalyzeOptions) -> Vec<ComponentInfo> {
    pool().install(|| {
        files
            .par_iter()
            .map(|file| match &file.source {
                Some(source) => guarded(source, &file.filename, options),
                None => analyze_path(&file.filename, options),
            })
            .collect()
    })
}

/// Reads and analyzes a file from disk. Invalid UTF-8 is decoded lossily and reported.
pub fn analyze_path(filename: &str, options: &AnalyzeOptions) -> ComponentInfo {
    match std::fs::read(Path::new(filename)) {
        Ok(bytes) => match String::from_utf8(bytes) {
            Ok(source) => guarded(&source, filename, options),
            Err(err) => {
                let valid_up_to = err.utf8_error().valid_up_to();
                let source = String::from_utf8_lossy(err.as_bytes()).into_owned();
                let mut info = guarded(&source, filename, options);
                let index = LineIndex::new(&source);
                // The lossy text is the same as the original up to the first bad byte.
                info.diagnostics.insert(
                    0,
                    Diagnostic::at(
                        &index,
                        valid_up_to,
                        Severity::Error,
                        "invalid-utf8",
                        format!("{filename} is not valid UTF-8 (first bad byte at byte offset {valid_up_to})"),
                    ),
                );
                info
            }
        },
        Err(err) => {
            let mut info = guarded("", filename, options);
            info.diagnostics.insert(
                0,
                Diagnostic::at(
                    &LineIndex::new(""),
                    0,
                    Severity::Error,
                    "read-error",
                    format!("Cannot read {filename}: {err}"),
                ),
            );
            info
        }
    }
}

fn guarded(source: &str, filename: &str, options: &AnalyzeOptions) -> ComponentInfo {
    catch_unwind(AssertUnwindSafe(|| {
        analyze_component(source, filename, options)
    }))
    .unwrap_or_else(|panic| {
        let what = panic
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| panic.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown panic".to_string());
        let mut info = analyze_component("", filename, options);
        info.hash = blake3::hash(source.as_bytes()).to_hex().to_string();
        info.diagnostics.push(Diagnostic::at(
            &LineIndex::new(""),
            0,
            Severity::Error,
            "internal-error",
            format!("astro-hoist failed to analyze {filename}: {what}; please report this file"),
        ));
        info
    })
}

//! Running analyses on a thread pool with a large stack, one file or many in parallel.
//!
//! swc parses recursively (about 3 KB of stack per nested expression), and a stack overflow
//! kills the whole Node process — no `catch_unwind` can stop it. Every analysis, the
//! synchronous ones included, therefore runs on this pool, whose threads reserve 256 MiB of
//! (virtual, lazily committed) stack. Panics inside a job are caught per file and reported as
//! an `internal-error` diagnostic. Every analysis goes through the content-hash cache.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;
use std::sync::OnceLock;

use rayon::prelude::*;

use crate::cache::Key;
use crate::component::{analyze_component, AnalyzeOptions, ComponentInfo};
use crate::diagnostic::{Code, Diagnostic, Severity};
use crate::position::LineIndex;

const STACK_SIZE: usize = 256 << 20;

/// The analysis pool; every parse runs on it.
pub fn pool() -> &'static rayon::ThreadPool {
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

/// One analysis and how the cache served it.
pub struct Analyzed {
    pub info: ComponentInfo,
    /// The cache key; none when the file could not be read or the analysis panicked.
    pub key: Option<Key>,
    pub hit: bool,
}

/// Analyzes one file on the big-stack pool. Blocks the caller until done.
pub fn analyze_one(source: &str, filename: &str, options: &AnalyzeOptions) -> ComponentInfo {
    pool().install(|| guarded(source, filename, options).info)
}

/// Analyzes many files in parallel; the result is in input order. Unreadable files come back
/// with an error diagnostic; the batch always completes.
pub fn analyze_many(files: &[FileInput], options: &AnalyzeOptions) -> Vec<ComponentInfo> {
    pool().install(|| {
        files
            .par_iter()
            .map(|file| match &file.source {
                Some(source) => guarded(source, &file.filename, options).info,
                None => read_and_analyze(&file.filename, options).info,
            })
            .collect()
    })
}

/// Reads and analyzes a file from disk. Invalid UTF-8 is decoded lossily and reported.
pub fn analyze_path(filename: &str, options: &AnalyzeOptions) -> ComponentInfo {
    read_and_analyze(filename, options).info
}

/// Reads a file and analyzes it through the cache (on the calling thread: call it from the
/// pool).
pub fn read_and_analyze(filename: &str, options: &AnalyzeOptions) -> Analyzed {
    let (source, problem) = match std::fs::read(Path::new(filename)) {
        Ok(bytes) => match String::from_utf8(bytes) {
            Ok(source) => (source, None),
            Err(err) => {
                let valid_up_to = err.utf8_error().valid_up_to();
                // The lossy text equals the original up to the first bad byte.
                let source = String::from_utf8_lossy(err.as_bytes()).into_owned();
                let message = format!(
                    "{filename} is not valid UTF-8 (first bad byte at byte offset {valid_up_to})"
                );
                (source, Some((valid_up_to, Code::InvalidUtf8, message)))
            }
        },
        Err(err) => {
            let mut info = analyze_component("", filename, options);
            info.diagnostics.insert(
                0,
                Diagnostic::at(
                    &LineIndex::new(""),
                    0,
                    Severity::Error,
                    Code::ReadError,
                    format!("Cannot read {filename}: {err}"),
                ),
            );
            return Analyzed {
                info,
                key: None,
                hit: false,
            };
        }
    };
    let mut analyzed = guarded(&source, filename, options);
    if let Some((at, code, message)) = problem {
        let index = LineIndex::new(&source);
        analyzed.info.diagnostics.insert(
            0,
            Diagnostic::at(&index, at, Severity::Error, code, message),
        );
    }
    analyzed
}

/// Analyzes through the process-wide content-hash cache, catching panics.
fn guarded(source: &str, filename: &str, options: &AnalyzeOptions) -> Analyzed {
    catch_unwind(AssertUnwindSafe(|| {
        let (info, key, hit) = crate::cache::global().analyze(source, filename, options);
        Analyzed {
            info,
            key: Some(key),
            hit,
        }
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
            Code::InternalError,
            format!("astro-hoist failed to analyze {filename}: {what}; please report this file"),
        ));
        Analyzed {
            info,
            key: None,
            hit: false,
        }
    })
}

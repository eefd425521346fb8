//! The Node binding of astro-hoist: reads options, calls the core (`astro-hoist-core`),
//! converts results. Nothing else: no domain rule lives here.
//!
//! - `functions.rs`: analyses of single files and the disk scan;
//! - `project.rs`: the `Project` class (a graph that stays native);
//! - `types.rs`: the JS-facing objects and string enums (`index.d.ts` is generated from them);
//! - `convert.rs`: core types to JS types.
//!
//! Every export runs its work on the core's big-stack pool (a deep recursion cannot kill the
//! process) and catches panics, so no input can crash Node.

use std::panic::{catch_unwind, AssertUnwindSafe};

use napi::bindgen_prelude::*;

mod convert;
mod functions;
mod project;
mod shared;
mod types;

pub use functions::*;
pub use project::*;
pub use types::*;

/// Runs `f`, turning a panic into a JS error instead of an abort.
pub(crate) fn guard<T>(f: impl FnOnce() -> T) -> Result<T> {
    catch_unwind(AssertUnwindSafe(f)).map_err(|_| {
        Error::new(
            Status::GenericFailure,
            "astro-hoist: internal error (please report the input)",
        )
    })
}

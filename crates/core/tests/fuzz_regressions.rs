//! Replays every input in `tests/fuzz-regressions/<target>/` — crashes found by fuzzing (and
//! by the hostile-input tests) once, kept so they can never come back. Each must also finish
//! within a second.

use std::path::Path;
use std::time::{Duration, Instant};

use astro_hoist_core::pool::analyze_one;
use astro_hoist_core::AnalyzeOptions;

#[test]
fn analyze_regressions() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fuzz-regressions/analyze");
    let mut count = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let source = String::from_utf8_lossy(&std::fs::read(&path).unwrap()).into_owned();
        for name in [
            "/site/src/pages/r.astro",
            "/site/src/r.ts",
            "/site/src/r.jsx",
        ] {
            let started = Instant::now();
            let info = analyze_one(
                &source,
                name,
                &AnalyzeOptions {
                    root: Some("/site".into()),
                },
            );
            // Hangs count too: the bound is one second per input.
            assert!(
                started.elapsed() < Duration::from_secs(1),
                "{} as {name} took {:?}",
                path.display(),
                started.elapsed()
            );
            assert!(
                info.diagnostics
                    .iter()
                    .all(|d| d.code.as_str() != "internal-error"),
                "{} as {name}: {:?}",
                path.display(),
                info.diagnostics
            );
        }
        count += 1;
    }
    assert!(count > 0);
}

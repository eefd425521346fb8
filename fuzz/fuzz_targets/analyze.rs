//! Any bytes, analyzed as an `.astro` component and as TS/JS modules: no panic, no stack
//! overflow, every diagnostic positioned inside the file.
#![no_main]

use astro_hoist_core::pool::analyze_one;
use astro_hoist_core::AnalyzeOptions;
use libfuzzer_sys::fuzz_target;

/// libFuzzer's panic hook aborts on every panic, even one the core catches and turns into a
/// diagnostic (swc has `unreachable!`s malformed input can reach). Panics on the core's
/// analysis threads are left to the core; the checks below turn a real bug — an
/// `internal-error` — into a panic on the fuzzing thread, which still aborts.
fn let_the_core_catch_its_panics() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let abort = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let on_pool = std::thread::current()
                .name()
                .is_some_and(|n| n.starts_with("astro-hoist-"));
            if !on_pool {
                abort(info);
            }
        }));
    });
}

fuzz_target!(|data: &[u8]| {
    let_the_core_catch_its_panics();
    // JS strings are valid Unicode; the binding only ever sees lossily decoded text.
    let source = String::from_utf8_lossy(data);
    let options = AnalyzeOptions {
        root: Some("/site".into()),
    };
    let utf16_len = source.encode_utf16().count() as u32;
    for name in [
        "/site/src/pages/fuzz.astro",
        "/site/src/fuzz.ts",
        "/site/src/fuzz.jsx",
    ] {
        let info = analyze_one(&source, name, &options);
        assert!(
            !info.diagnostics.iter().any(|d| d.code == astro_hoist_core::diagnostic::Code::InternalError),
            "{:?}",
            info.diagnostics
        );
        for d in &info.diagnostics {
            assert!(
                d.line >= 1 && d.column >= 1 && d.offset <= utf16_len,
                "{d:?}"
            );
        }
        for u in &info.usages {
            assert!(u.offset < utf16_len);
            if let Some(p) = u.parent {
                assert!((p as usize) < info.usages.len());
            }
        }
        for call in &info.loader_data_calls {
            assert!(call.args_start <= utf16_len);
        }
    }
});

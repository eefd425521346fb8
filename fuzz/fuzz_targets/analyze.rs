//! Any bytes, analyzed as an `.astro` component and as TS/JS modules: no panic, no stack
//! overflow, every diagnostic positioned inside the file.
#![no_main]

use astro_hoist::batch::analyze_one;
use astro_hoist::AnalyzeOptions;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
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
            !info.diagnostics.iter().any(|d| d.code == "internal-error"),
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

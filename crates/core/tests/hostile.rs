//! Hostile input: nothing may panic, overflow the stack or hang; every problem comes back as
//! a diagnostic with a position. Analyses run through `batch`, as the binding does, so deep
//! nesting runs on the big-stack pool.

use std::time::{Duration, Instant};

use astro_hoist_core::pool::{analyze_many, analyze_one, analyze_path, FileInput};
use astro_hoist_core::{AnalyzeOptions, ComponentInfo};

fn analyze(source: &str, filename: &str) -> ComponentInfo {
    let started = Instant::now();
    let info = analyze_one(source, filename, &AnalyzeOptions::default());
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{filename} took {:?}",
        started.elapsed()
    );
    info
}

fn codes(info: &ComponentInfo) -> Vec<&str> {
    info.diagnostics.iter().map(|d| d.code.as_str()).collect()
}

/// Deterministic pseudo-random bytes (xorshift), decoded lossily as a JS string would be.
fn garbage(len: usize, seed: u64) -> String {
    let mut x = seed;
    let bytes: Vec<u8> = (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect();
    String::from_utf8_lossy(&bytes).into_owned()
}

#[test]
fn empty_input() {
    for name in ["a.astro", "a.ts", "a.js"] {
        let info = analyze("", name);
        assert!(
            info.diagnostics.is_empty(),
            "{name}: {:?}",
            info.diagnostics
        );
        assert!(info.loader.is_none() && info.usages.is_empty());
    }
}

#[test]
fn only_a_fence_and_unclosed_fence() {
    let info = analyze("---", "a.astro");
    assert_eq!(codes(&info), ["unclosed-frontmatter"]);
    let info = analyze("\n\n---\nconst a = 1;\n<div/>", "a.astro");
    assert_eq!(codes(&info), ["unclosed-frontmatter"]);
    assert_eq!(
        (info.diagnostics[0].line, info.diagnostics[0].column),
        (3, 1)
    );
}

#[test]
fn binary_garbage_as_astro_and_ts() {
    for seed in 1..20 {
        let text = garbage(4096, seed);
        for name in ["g.astro", "g.ts", "g.tsx", "g.js"] {
            let info = analyze(&text, name);
            for d in &info.diagnostics {
                assert!(d.line >= 1 && d.column >= 1, "{d:?}");
            }
        }
        // Garbage may hold a `---` in code (an early fence) or an unclosed string or comment
        // (no fence at all): whatever Astro's rule makes of it, the analysis reports, bounded.
        let fenced = format!("---\n{text}\n---\n{text}");
        let info = analyze(&fenced, "g.astro");
        assert!(!info.diagnostics.is_empty());
        assert!(info.diagnostics.len() <= 50);
    }
}

#[test]
fn nul_bytes() {
    let info = analyze("---\nconst a = '\0';\0\n---\n<A\0/>\0", "n.astro");
    assert_eq!(codes(&info), ["syntax-error"]);
    assert_eq!(info.diagnostics[0].line, 2);
}

#[test]
fn ten_megabyte_frontmatter() {
    let line = "export const value_with_a_long_name = { a: [1, 2, 3], b: 'text' };\n";
    let mut src = String::from("---\nimport Card from './Card.astro';\n");
    while src.len() < 10 << 20 {
        src.push_str(line);
    }
    src.push_str("export const loader = async () => Card;\n---\n<Card />\n");
    let info = analyze(&src, "big.astro");
    assert!(info.diagnostics.is_empty());
    assert!(info.loader.is_some());
    assert_eq!(info.usages.len(), 1);
}

#[test]
fn fifty_thousand_nested_brackets() {
    let depth = 50_000;
    for (open, close) in [("(", ")"), ("[", "]"), ("{a:", "}")] {
        let expr = format!("{}1{}", open.repeat(depth), close.repeat(depth));
        let src = format!("---\nexport const loader = async () => {expr};\n---\n<Card/>");
        let info = analyze(&src, "deep.astro");
        assert_eq!(codes(&info), ["too-deeply-nested"]);
        assert_eq!(info.diagnostics[0].line, 2);
        // The template is still read.
        assert_eq!(info.usages.len(), 1);
        let ts = analyze(&format!("export const x = {expr};"), "deep.ts");
        assert_eq!(codes(&ts), ["too-deeply-nested"]);
        // Just under the limit, swc parses it (on the big-stack pool).
        let shallow = format!("{}1{}", open.repeat(990), close.repeat(990));
        let ts = analyze(&format!("export const x = {shallow};"), "ok.ts");
        assert!(ts.diagnostics.is_empty(), "{:?}", codes(&ts));
    }
    let unclosed = format!("---\nconst a = {};\n---\n", "(".repeat(depth));
    let info = analyze(&unclosed, "unclosed.astro");
    assert_eq!(info.diagnostics[0].code.as_str(), "too-deeply-nested");
    assert_eq!(info.diagnostics[0].line, 2);
    let unclosed = format!("---\nconst a = {};\n---\n", "(".repeat(500));
    let info = analyze(&unclosed, "unclosed.astro");
    assert_eq!(info.diagnostics[0].code.as_str(), "syntax-error");
    let template = format!("{}{}", "{".repeat(depth), "<div>".repeat(depth));
    let info = analyze(&template, "deep-template.astro");
    assert!(info.usages.is_empty());
}

#[test]
fn thousands_of_fences() {
    let src = "---\n".repeat(5_000) + "<Card/>";
    let info = analyze(&src, "fences.astro");
    assert!(info.diagnostics.is_empty());
    assert_eq!(info.usages.len(), 1);
    let src = "---\n".repeat(5_001);
    let info = analyze(&src, "fences.astro");
    assert!(info.frontmatter.is_some());
}

#[test]
fn ten_thousand_components() {
    let src = format!(
        "---\nimport Card from './Card.astro';\n---\n{}",
        "<Card><Card/></Card>\n".repeat(5_000)
    );
    let info = analyze(&src, "many.astro");
    assert_eq!(info.usages.len(), 10_000);
    assert_eq!(info.usages[9_999].parent, Some(9_998));
    assert_eq!(info.usages[9_999].line, 5_003);
}

#[test]
fn unsupported_extension() {
    let info = analyze("body {}", "style.css");
    assert_eq!(codes(&info), ["unsupported-file"]);
}

#[test]
fn unreadable_and_invalid_utf8_files_in_a_batch() {
    let dir = std::env::temp_dir().join(format!("astro-hoist-hostile-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let bad = dir.join("bad.astro");
    std::fs::write(&bad, b"---\nconst a = 1;\n\xff\xfe\n---\n<Card/>").unwrap();
    let good = dir.join("good.astro");
    std::fs::write(&good, "<Card/>").unwrap();
    let files = vec![
        FileInput {
            filename: dir.join("missing.astro").to_string_lossy().into(),
            source: None,
        },
        FileInput {
            filename: bad.to_string_lossy().into(),
            source: None,
        },
        FileInput {
            filename: good.to_string_lossy().into(),
            source: None,
        },
        FileInput {
            filename: dir.join("in-memory.astro").to_string_lossy().into(),
            source: Some("<A/><B/>".into()),
        },
    ];
    let infos = analyze_many(&files, &AnalyzeOptions::default());
    assert_eq!(infos.len(), 4);
    assert_eq!(codes(&infos[0]), ["read-error"]);
    assert_eq!(infos[1].diagnostics[0].code.as_str(), "invalid-utf8");
    assert_eq!(
        (infos[1].diagnostics[0].line, infos[1].diagnostics[0].column),
        (3, 1)
    );
    assert_eq!(infos[1].usages.len(), 1);
    assert!(infos[2].diagnostics.is_empty());
    assert_eq!(infos[3].usages.len(), 2);
    // A directory with a component's name cannot be read either.
    let as_dir = dir.join("folder.astro");
    std::fs::create_dir_all(&as_dir).unwrap();
    let info = analyze_path(&as_dir.to_string_lossy(), &AnalyzeOptions::default());
    assert_eq!(codes(&info), ["read-error"]);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_parser_panic_is_a_diagnostic() {
    let info = analyze("export const x = <a:b.c />;", "n.jsx");
    assert_eq!(codes(&info), ["parser-failure"]);
    assert_eq!(
        (info.diagnostics[0].line, info.diagnostics[0].column),
        (1, 1)
    );
}

/// swc's TypeScript parser tries `a<…` as type arguments before reading it as a comparison,
/// and a bracket inside the attempt that holds an expression (a parameter default, a
/// computed key) starts nested attempts: the time grows about fivefold per level (nine levels
/// of `(a = b < (…` took 0.9 s, seven units of the fuzzer's `f<(l=a<` 6 s). Such scripts are
/// refused up front with a positioned diagnostic; the rest of the file is still read.
#[test]
fn exponential_type_argument_speculation() {
    let shapes = [
        ("(a = b < ", ")"),
        ("f<(l=a<", ""),
        ("f<(a = ", ")>"),
        ("a < {[a < ", "]: 1}"),
        ("f<({a = ", "})>"),
        ("g<T>(a, b = c < (", "))"),
    ];
    for (open, close) in shapes {
        let expr = format!("{}1{}", open.repeat(40), close.repeat(40));
        for (src, name, line) in [
            (
                format!("---\nconst x = 1;\nconst y = {expr};\n---\n<Card />\n"),
                "c.astro",
                3,
            ),
            (format!("export const y =\n  {expr};\n"), "m.ts", 2),
            (format!("export const y =\n  {expr};\n"), "m.tsx", 2),
        ] {
            let started = Instant::now();
            let info = analyze(&src, name);
            assert!(
                started.elapsed() < Duration::from_secs(1),
                "{open:?} as {name}"
            );
            assert_eq!(codes(&info), ["too-ambiguous"], "{open:?} as {name}");
            let d = &info.diagnostics[0];
            assert_eq!(d.line, line, "{open:?} as {name}");
            assert!(d.message.contains("exponential"), "{}", d.message);
            if name.ends_with(".astro") {
                assert_eq!(info.usages.len(), 1);
            }
        }
        // JavaScript has no type arguments to try: swc reads it once, quickly.
        let js = analyze(&format!("export const y = {expr};"), "m.js");
        assert!(!codes(&js).contains(&"too-ambiguous"));
    }
    // A leading `<T>(` is a generic arrow function's head or a type assertion (in `.tsx` it
    // is an element, which swc reads once).
    let arrows = format!(
        "export const y = {}1{};",
        "<T>(a = ".repeat(40),
        ")".repeat(40)
    );
    let started = Instant::now();
    assert_eq!(codes(&analyze(&arrows, "m.ts")), ["too-ambiguous"]);
    assert!(started.elapsed() < Duration::from_secs(1));
}

/// The guard leaves ordinary TypeScript alone, including what looks like it: comparisons
/// chained or spread over lines without semicolons, deep generic types as in generated
/// declaration files, defaults inside generic calls, JSX attributes.
#[test]
fn ambiguity_guard_accepts_real_shapes() {
    let deep_type = (0..30).fold("z.ZodString".to_string(), |inner, i| {
        format!("z.ZodObject<{{\n  a{i}: z.ZodOptional<z.ZodUnion<readonly [z.ZodLiteral<\"x\">, {inner}]>>;\n  [k: string]: unknown;\n}}, z.core.$strip>")
    });
    let asi: String = (0..200)
        .map(|i| format!("const c{i} = a < b{i}\nfoo(c{i} < (d = e < f))\n"))
        .collect();
    let sources = [
        ("x.ts", format!("export declare const schema: {deep_type};\n")),
        ("x.ts", asi),
        ("x.ts", "const f = useCallback<(e: Event) => void>((e = ev) => g(e < h, (i = j < k)), []);\nif (a < b && (c = d < e)) x();\nfor (let i = 0; i < (n = xs.length); i++) {}\n".repeat(50)),
        ("x.tsx", "export const A = () => <ul>{xs.map((x, i = 0) => <li key={x.id} onClick={(e = null) => set(i < n)}>{x < y ? <b>{x}</b> : `${x < y}`}</li>)}</ul>;\n".repeat(50)),
        ("x.ts", "type M = { [K in keyof T]: T[K] extends (a: infer A = never) => infer R ? Fn<A, R> : never };\nconst m = new Map<string, Array<{ id: number; tags: Set<string> }>>();\n".repeat(50)),
    ];
    for (name, src) in &sources {
        let info = analyze(src, name);
        assert!(
            !codes(&info).contains(&"too-ambiguous"),
            "{name}: {:?}",
            info.diagnostics.first()
        );
    }
}

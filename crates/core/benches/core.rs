//! Criterion benchmarks of the native core over a corpus of real `.astro` files: raw swc
//! parsing of each frontmatter (the floor any analysis built on swc pays) versus the full
//! analysis (`analyze_component`: frontmatter split, swc parse, scope resolution, loader and
//! import facts, template scan, diagnostics, blake3 content hash).
//!
//! The corpus is every `.astro` file under `$ASTRO_HOIST_BENCH_CORPUS` (`npm run bench` points
//! it at the corpus it collects from npm packages, see bench/core.js), or, when unset, under
//! `node_modules/@astrojs/starlight` of this repository. Run alone with
//! `cargo bench --profile fast --target x86_64-unknown-linux-gnu --bench core`.
//!
//! A second group runs the same full analysis on rayon pools of 1 and 2 threads.
//!
//! Excluded from every timing: reading the files (the corpus is loaded into memory before
//! measuring), the content-hash cache and the addon's big-stack thread pool (`analyze_component`
//! is called directly, on the bench thread or on a plain rayon pool built before measuring),
//! and converting results to JS.

use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::time::Duration;

use astro_hoist_core::frontmatter::{split, Split};
use astro_hoist_core::{analyze_component, AnalyzeOptions};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use rayon::prelude::*;
use swc_common::BytePos;
use swc_ecma_ast::EsVersion;
use swc_ecma_parser::{lexer::Lexer, Parser, StringInput, Syntax};

struct CorpusFile {
    filename: String,
    source: String,
    /// Byte range of the frontmatter code, when the file has one.
    frontmatter: Option<(usize, usize)>,
}

fn corpus_dir() -> PathBuf {
    match std::env::var_os("ASTRO_HOIST_BENCH_CORPUS") {
        Some(dir) => PathBuf::from(dir),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("node_modules/@astrojs/starlight"),
    }
}

fn load_corpus(dir: &Path) -> Vec<CorpusFile> {
    let mut files: Vec<CorpusFile> = walkdir::WalkDir::new(dir)
        .sort_by_file_name()
        .into_iter()
        .filter_map(Result::ok)
        .filter(|entry| {
            entry.file_type().is_file() && entry.path().extension().is_some_and(|e| e == "astro")
        })
        .filter_map(|entry| {
            let source = std::fs::read_to_string(entry.path()).ok()?;
            let frontmatter = match split(&source) {
                Split::Fenced(f) => Some((f.content_start, f.content_end)),
                _ => None,
            };
            Some(CorpusFile {
                filename: entry.path().to_string_lossy().into_owned(),
                source,
                frontmatter,
            })
        })
        .collect();
    files.retain(|file| !file.source.is_empty());
    assert!(
        !files.is_empty(),
        "no .astro files under {}: set ASTRO_HOIST_BENCH_CORPUS or run `npm install` first",
        dir.display()
    );
    files
}

/// Parses a frontmatter the way the core does (TypeScript, module goal), and nothing more.
fn parse_frontmatter(text: &str) -> usize {
    let input = StringInput::new(text, BytePos(1), BytePos(1 + text.len() as u32));
    let lexer = Lexer::new(
        Syntax::Typescript(Default::default()),
        EsVersion::latest(),
        input,
        None,
    );
    let mut parser = Parser::new_from(lexer);
    let items = parser.parse_module().map_or(0, |module| module.body.len());
    // Recovered errors (e.g. Astro's top-level `return`) are collected as the core does.
    items + parser.take_errors().len()
}

fn corpus(c: &mut Criterion) {
    let dir = corpus_dir();
    let files = load_corpus(&dir);
    let bytes: usize = files.iter().map(|file| file.source.len()).sum();
    let frontmatter_bytes: usize = files
        .iter()
        .filter_map(|file| file.frontmatter.map(|(start, end)| end - start))
        .sum();
    // One machine-readable line for bench/core.js, which turns the timings into MB/s.
    println!(
        "ASTRO_HOIST_BENCH_CORPUS {{\"dir\":{:?},\"files\":{},\"bytes\":{},\"frontmatterBytes\":{},\"withFrontmatter\":{}}}",
        dir.display().to_string(),
        files.len(),
        bytes,
        frontmatter_bytes,
        files.iter().filter(|file| file.frontmatter.is_some()).count()
    );

    let mut group = c.benchmark_group("corpus");
    // Both benchmarks report throughput over the whole files, so their MiB/s compare directly.
    group.throughput(Throughput::Bytes(bytes as u64));
    group.bench_function("swc_parse_frontmatter", |b| {
        b.iter(|| {
            let mut total = 0;
            for file in &files {
                if let Some((start, end)) = file.frontmatter {
                    total += parse_frontmatter(black_box(&file.source[start..end]));
                }
            }
            total
        })
    });
    let options = AnalyzeOptions {
        root: Some(dir.to_string_lossy().into_owned()),
    };
    group.bench_function("analyze_component", |b| {
        b.iter(|| {
            let mut total = 0;
            for file in &files {
                let info = analyze_component(black_box(&file.source), &file.filename, &options);
                total += info.imports.len() + info.usages.len() + info.diagnostics.len();
            }
            total
        })
    });
    group.finish();

    // The same full analysis spread over a rayon pool of 1 and of 2 threads (as the addon's
    // batch and scan functions do, minus their cache): how the core itself scales.
    let mut group = c.benchmark_group("corpus_threads");
    group.throughput(Throughput::Bytes(bytes as u64));
    for threads in [1, 2] {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .expect("cannot start a bench thread pool");
        group.bench_function(format!("analyze_component_{threads}_threads"), |b| {
            b.iter(|| {
                pool.install(|| {
                    files
                        .par_iter()
                        .map(|file| {
                            analyze_component(black_box(&file.source), &file.filename, &options)
                                .usages
                                .len()
                        })
                        .sum::<usize>()
                })
            })
        });
    }
    group.finish();
}

criterion_group! {
    name = benches;
    // Sized for `npm run bench` on a 2-core machine: ~5 s per benchmark.
    config = Criterion::default()
        .sample_size(20)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(4));
    targets = corpus
}
criterion_main!(benches);

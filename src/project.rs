//! Scanning a whole project: every component and module analyzed in parallel (through the
//! cache), imports resolved, barrels followed, and the component graph built.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use globset::{Glob, GlobSet, GlobSetBuilder};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::batch::{self, Analyzed};
use crate::cache::{self, CacheStats};
use crate::component::{dialect_for, relative_path, AnalyzeOptions, ComponentInfo, ComponentKind};
use crate::diagnostic::Severity;

/// What is skipped when no `exclude` is given.
pub const DEFAULT_EXCLUDES: &[&str] = &[
    "**/node_modules/**",
    "**/dist/**",
    "**/.astro/**",
    "**/.git/**",
];

/// How a project is scanned.
#[derive(Debug, Clone, Default)]
pub struct ScanOptions {
    /// Globs (root-relative) a file must match to be scanned; all supported files when empty.
    pub include: Vec<String>,
    /// Globs (root-relative) of files to skip; [`DEFAULT_EXCLUDES`] when `None`.
    pub exclude: Option<Vec<String>>,
    /// Import aliases, as Vite's object form of `resolve.alias`: `find` -> `replacement`.
    pub alias: Vec<(String, String)>,
    /// Where the on-disk cache lives; `None` keeps the cache in memory only.
    pub cache_dir: Option<PathBuf>,
    /// Root-relative folder of the pages; `src/pages` when `None`.
    pub pages_dir: Option<String>,
}

/// An edge of the component graph: a component tag resolved to the file that defines it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Edge {
    /// Root-relative path of the used component.
    pub to: String,
    /// Index of the usage in the source component's `usages`.
    pub usage: u32,
    /// The usage is inside a `{…}` expression.
    pub conditional: bool,
    /// Barrel modules passed through on the way, root-relative.
    pub via: Vec<String>,
}

/// One scanned file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GraphNode {
    /// Root-relative path with `/` separators.
    pub file: String,
    pub info: ComponentInfo,
    pub edges: Vec<Edge>,
}

/// A problem found while scanning, with the file it is in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ScanDiagnostic {
    /// Root-relative path.
    pub file: String,
    pub severity: Severity,
    pub code: String,
    pub message: String,
    pub line: u32,
    pub column: u32,
}

/// A scanned project.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProjectGraph {
    /// Absolute root, `/` separators.
    pub root: String,
    pub nodes: Vec<GraphNode>,
    /// Root-relative paths of the pages: `.astro` files under the pages folder, without
    /// `_`-prefixed files and folders.
    pub pages: Vec<String>,
    /// Component cycles, each a list of root-relative files.
    pub cycles: Vec<Vec<String>>,
    /// Unresolved imports and every file's own error diagnostics.
    pub diagnostics: Vec<ScanDiagnostic>,
    pub cache: CacheStats,
}

impl ProjectGraph {
    /// The node for a root-relative path, an absolute path or a component id.
    pub fn find(&self, page: &str) -> Option<&GraphNode> {
        let rel = relative_path(page, Some(&self.root));
        self.nodes
            .iter()
            .find(|n| n.file == rel || n.info.id == page)
    }
}

/// A scan that could not start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScanError(pub String);

impl std::fmt::Display for ScanError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

fn glob_set(patterns: &[String]) -> Result<GlobSet, ScanError> {
    let mut builder = GlobSetBuilder::new();
    for p in patterns {
        let glob = Glob::new(p).map_err(|e| ScanError(format!("invalid glob `{p}`: {e}")))?;
        builder.add(glob);
    }
    builder
        .build()
        .map_err(|e| ScanError(format!("invalid globs: {e}")))
}

/// Scans `root`. Fails only when the root is not a readable directory or a glob is invalid;
/// every other problem is a diagnostic.
pub fn scan_project(root: &str, options: &ScanOptions) -> Result<ProjectGraph, ScanError> {
    let root_path = Path::new(root);
    if !root_path.is_dir() {
        return Err(ScanError(format!("{root} is not a directory")));
    }
    let root_path = root_path
        .canonicalize()
        .map_err(|e| ScanError(format!("cannot read {root}: {e}")))?;
    let root_str = root_path.to_string_lossy().replace('\\', "/");
    let include = glob_set(&options.include)?;
    let default_excludes: Vec<String> = DEFAULT_EXCLUDES.iter().map(|s| s.to_string()).collect();
    let exclude = glob_set(options.exclude.as_ref().unwrap_or(&default_excludes))?;

    let files = list_files(&root_path, &root_str, &include, &exclude);
    if let Some(dir) = &options.cache_dir {
        cache::global().load_dir(dir);
    }
    let analyze_options = AnalyzeOptions {
        root: Some(root_str.clone()),
    };
    let analyzed: Vec<Analyzed> = batch::pool().install(|| {
        files
            .par_iter()
            .map(|f| batch::read_and_analyze(&f.to_string_lossy(), &analyze_options))
            .collect()
    });
    let stats = CacheStats {
        hits: analyzed.iter().filter(|a| a.hit).count() as u64,
        misses: analyzed.iter().filter(|a| !a.hit).count() as u64,
    };
    if let Some(dir) = &options.cache_dir {
        if stats.misses > 0 {
            let keys: Vec<_> = analyzed.iter().filter_map(|a| a.key).collect();
            // A cache that cannot be written only costs speed next time.
            let _ = cache::global().save_dir(dir, &keys);
        }
    }

    let mut nodes: Vec<GraphNode> = analyzed
        .into_iter()
        .map(|a| GraphNode {
            file: relative_path(&a.info.filename, Some(&root_str)),
            info: a.info,
            edges: Vec::new(),
        })
        .collect();
    nodes.sort_by(|a, b| a.file.cmp(&b.file));

    let resolver = Resolver::new(&root_path, &options.alias);
    let by_file: HashMap<String, usize> = nodes
        .iter()
        .enumerate()
        .map(|(i, n)| (n.file.clone(), i))
        .collect();
    let mut diagnostics = Vec::new();
    for node in &nodes {
        for d in &node.info.diagnostics {
            if d.severity == Severity::Error {
                diagnostics.push(ScanDiagnostic {
                    file: node.file.clone(),
                    severity: d.severity,
                    code: d.code.clone(),
                    message: d.message.clone(),
                    line: d.line,
                    column: d.column,
                });
            }
        }
    }
    let all_edges: Vec<(Vec<Edge>, Vec<ScanDiagnostic>)> = nodes
        .par_iter()
        .map(|node| edges_of(node, &nodes, &by_file, &resolver, &root_str))
        .collect();
    for (node, (edges, mut problems)) in nodes.iter_mut().zip(all_edges) {
        node.edges = edges;
        diagnostics.append(&mut problems);
    }
    let pages_dir = format!(
        "{}/",
        relative_path(options.pages_dir.as_deref().unwrap_or("src/pages"), None)
    );
    let pages = nodes
        .iter()
        .filter(|n| {
            // `_`-prefixed files and folders are not routes.
            n.info.kind == ComponentKind::Astro
                && n.file
                    .strip_prefix(&pages_dir)
                    .is_some_and(|rest| !rest.split('/').any(|seg| seg.starts_with('_')))
        })
        .map(|n| n.file.clone())
        .collect();
    let cycles = find_cycles(&nodes, &by_file);
    Ok(ProjectGraph {
        root: root_str,
        nodes,
        pages,
        cycles,
        diagnostics,
        cache: stats,
    })
}

/// Every supported file under the root. Symlinks are followed; walkdir reports a symlink
/// loop as an error entry, which is skipped.
fn list_files(root: &Path, root_str: &str, include: &GlobSet, exclude: &GlobSet) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = walkdir::WalkDir::new(root)
        .follow_links(true)
        .into_iter()
        .filter_entry(|e| {
            // A folder is pruned when a file inside it would be excluded: `node_modules`
            // is never walked, not just filtered.
            e.depth() == 0 || !e.file_type().is_dir() || {
                let rel = relative_path(&e.path().to_string_lossy(), Some(root_str));
                !exclude.is_match(format!("{rel}/_"))
            }
        })
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_file())
        .map(|e| e.into_path())
        .filter(|p| {
            let name = p.to_string_lossy();
            if name.ends_with(".d.ts") || dialect_for(&name).is_none() {
                return false;
            }
            let rel = relative_path(&name, Some(root_str));
            (include.is_empty() || include.is_match(&rel)) && !exclude.is_match(&rel)
        })
        .collect();
    files.sort();
    files
}

/// Resolves import specifiers to files: relative paths, aliases, and tsconfig `paths`.
pub struct Resolver {
    root: PathBuf,
    alias: Vec<(String, String)>,
    /// tsconfig `paths`: (pattern prefix, pattern suffix, targets with `*`), relative to
    /// `base`.
    paths: Vec<(String, String, Vec<String>)>,
    base: PathBuf,
}

const EXTENSIONS: &[&str] = &[".astro", ".ts", ".tsx", ".js", ".jsx", ".mjs", ".mts"];

impl Resolver {
    pub fn new(root: &Path, alias: &[(String, String)]) -> Self {
        let (paths, base) = tsconfig_paths(root);
        Resolver {
            root: root.to_path_buf(),
            alias: alias.to_vec(),
            paths,
            base,
        }
    }

    /// The file `spec` names when imported from `importer`, or `Err(true)` when it looks
    /// local (relative, aliased) but does not exist, `Err(false)` for a package.
    pub fn resolve(&self, spec: &str, importer: &Path) -> Result<PathBuf, bool> {
        for (find, replacement) in &self.alias {
            let rest = if spec == find {
                Some("")
            } else {
                spec.strip_prefix(find.as_str())
                    .filter(|r| r.starts_with('/') || find.ends_with('/'))
            };
            if let Some(rest) = rest {
                let target = format!("{replacement}{rest}");
                let base = if Path::new(&target).is_absolute() {
                    PathBuf::new()
                } else {
                    self.root.clone()
                };
                return probe(&base.join(target)).ok_or(true);
            }
        }
        for (prefix, suffix, targets) in &self.paths {
            if let Some(star) = spec
                .strip_prefix(prefix.as_str())
                .and_then(|r| r.strip_suffix(suffix.as_str()))
            {
                for t in targets {
                    if let Some(found) = probe(&self.base.join(t.replacen('*', star, 1))) {
                        return Ok(found);
                    }
                }
                return Err(true);
            }
        }
        if spec.starts_with("./") || spec.starts_with("../") || spec == "." || spec == ".." {
            let dir = importer.parent().unwrap_or(Path::new("/"));
            return probe(&dir.join(spec)).ok_or(true);
        }
        if let Some(rest) = spec.strip_prefix('/') {
            // Vite reads `/src/x.astro` as root-relative first, then as a file-system path.
            return probe(&self.root.join(rest))
                .or_else(|| probe(Path::new(spec)))
                .ok_or(true);
        }
        Err(false)
    }
}

/// The file a path names: itself, with an extension added, a `.js` written for a `.ts`, or a
/// folder's index module.
fn probe(path: &Path) -> Option<PathBuf> {
    if path.is_file() {
        return Some(path.to_path_buf());
    }
    let s = path.to_string_lossy();
    for ext in EXTENSIONS {
        let p = PathBuf::from(format!("{s}{ext}"));
        if p.is_file() {
            return Some(p);
        }
    }
    if let Some(stem) = s.strip_suffix(".js") {
        for ext in [".ts", ".tsx"] {
            let p = PathBuf::from(format!("{stem}{ext}"));
            if p.is_file() {
                return Some(p);
            }
        }
    }
    for ext in EXTENSIONS {
        let p = path.join(format!("index{ext}"));
        if p.is_file() {
            return Some(p);
        }
    }
    None
}

/// `compilerOptions.paths` and `baseUrl` of the root's tsconfig.json, following `extends`
/// as TypeScript does: a base's options apply unless the extending file sets them, `baseUrl`
/// is relative to the file that sets it, and `paths` are relative to `baseUrl` or, without
/// one, to the file that sets them.
fn tsconfig_paths(root: &Path) -> (Vec<(String, String, Vec<String>)>, PathBuf) {
    let mut found = TsconfigPaths::default();
    read_tsconfig(&root.join("tsconfig.json"), &mut found, &mut Vec::new());
    let base = found
        .base_url
        .or(found.paths_dir)
        .unwrap_or_else(|| root.to_path_buf());
    let mut paths = Vec::new();
    if let Some(map) = found.paths.as_ref().and_then(|p| p.as_object()) {
        for (pattern, targets) in map {
            let (prefix, suffix) = pattern.split_once('*').unwrap_or((pattern, ""));
            let targets = targets
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|t| t.as_str().map(String::from))
                        .collect()
                })
                .unwrap_or_default();
            paths.push((prefix.to_string(), suffix.to_string(), targets));
        }
    }
    // Longest prefix first, as TypeScript matches.
    paths.sort_by_key(|p| std::cmp::Reverse(p.0.len()));
    (paths, base)
}

/// What a tsconfig chain says about module paths, the extending file's settings winning.
#[derive(Default)]
struct TsconfigPaths {
    base_url: Option<PathBuf>,
    paths: Option<serde_json::Value>,
    /// The folder of the file that set `paths`.
    paths_dir: Option<PathBuf>,
}

/// Reads one tsconfig file into `found`: its bases first, then its own options over them.
/// `chain` (the files extending this one) stops `extends` cycles; an unreadable or invalid
/// file adds nothing.
fn read_tsconfig(file: &Path, found: &mut TsconfigPaths, chain: &mut Vec<PathBuf>) {
    let Ok(file) = file.canonicalize() else {
        return;
    };
    if chain.contains(&file) || chain.len() > 32 {
        return;
    }
    let Ok(text) = std::fs::read_to_string(&file) else {
        return;
    };
    let Ok(json) = serde_json::from_str::<serde_json::Value>(&strip_jsonc(&text)) else {
        return;
    };
    let dir = file.parent().unwrap_or(Path::new("/"));
    let bases = match &json["extends"] {
        serde_json::Value::String(one) => vec![one.as_str()],
        serde_json::Value::Array(many) => many.iter().filter_map(|b| b.as_str()).collect(),
        _ => Vec::new(),
    };
    // With several bases, later ones win: read in order, each over the one before.
    chain.push(file.clone());
    for spec in bases {
        if let Some(base) = tsconfig_file(spec, dir) {
            read_tsconfig(&base, found, chain);
        }
    }
    chain.pop();
    let options = &json["compilerOptions"];
    if let Some(base_url) = options["baseUrl"].as_str() {
        found.base_url = Some(dir.join(base_url));
    }
    if options["paths"].is_object() {
        found.paths = Some(options["paths"].clone());
        found.paths_dir = Some(dir.to_path_buf());
    }
}

/// The file an `extends` entry names: a path relative to the extending file's folder, or a
/// package (`astro/tsconfigs/strict`, `@tsconfig/node20`) found in a `node_modules` above it.
/// `.json` is added when the name has no extension; a bare package means its tsconfig.json.
fn tsconfig_file(spec: &str, dir: &Path) -> Option<PathBuf> {
    let with_json = |p: PathBuf| {
        if p.is_file() {
            Some(p)
        } else {
            let json = PathBuf::from(format!("{}.json", p.to_string_lossy()));
            if json.is_file() {
                Some(json)
            } else {
                Some(p.join("tsconfig.json")).filter(|t| t.is_file())
            }
        }
    };
    if spec.starts_with("./") || spec.starts_with("../") || Path::new(spec).is_absolute() {
        return with_json(dir.join(spec));
    }
    dir.ancestors()
        .find_map(|d| with_json(d.join("node_modules").join(spec)))
}

/// tsconfig.json is JSON with comments and trailing commas; serde_json takes neither. This
/// removes both outside strings — a few lines, instead of a JSON5 dependency for one file.
fn strip_jsonc(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'"' => {
                let start = i;
                i += 1;
                while i < bytes.len() && bytes[i] != b'"' {
                    i += if bytes[i] == b'\\' { 2 } else { 1 };
                }
                i = (i + 1).min(bytes.len());
                out.extend_from_slice(&bytes[start..i]);
            }
            b'/' if bytes.get(i + 1) == Some(&b'/') => {
                while i < bytes.len() && bytes[i] != b'\n' {
                    i += 1;
                }
            }
            b'/' if bytes.get(i + 1) == Some(&b'*') => {
                i += 2;
                while i + 1 < bytes.len() && !(bytes[i] == b'*' && bytes[i + 1] == b'/') {
                    i += 1;
                }
                i += 2;
            }
            b',' => {
                let next = bytes[i + 1..].iter().find(|b| !b.is_ascii_whitespace());
                if !matches!(next, Some(b'}') | Some(b']')) {
                    out.push(b',');
                }
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn edges_of(
    node: &GraphNode,
    nodes: &[GraphNode],
    by_file: &HashMap<String, usize>,
    resolver: &Resolver,
    root: &str,
) -> (Vec<Edge>, Vec<ScanDiagnostic>) {
    let mut edges = Vec::new();
    let mut problems = Vec::new();
    let importer = PathBuf::from(&node.info.filename);
    // One diagnostic per unresolved import, not per usage.
    let mut reported: HashSet<String> = HashSet::new();
    for (i, usage) in node.info.usages.iter().enumerate() {
        let (Some(source), Some(imported)) = (&usage.source, &usage.imported) else {
            continue;
        };
        // A server island (`server:defer`) renders in a request of its own, after the page.
        if usage.attributes.iter().any(|a| a == "server:defer") {
            continue;
        }
        let member = usage.name.split('.').nth(1);
        match resolver.resolve(source, &importer) {
            Ok(path) => {
                let rel = relative_path(&path.to_string_lossy(), Some(root));
                let mut via = Vec::new();
                if let Some(to) = follow_export(
                    &rel, imported, member, nodes, by_file, resolver, root, &mut via, 0,
                ) {
                    edges.push(Edge {
                        to,
                        usage: crate::position::to_u32(i),
                        conditional: usage.conditional,
                        via,
                    });
                }
            }
            Err(true) if reported.insert(source.clone()) => {
                let import = node.info.imports.iter().find(|im| &im.source == source);
                problems.push(ScanDiagnostic {
                    file: node.file.clone(),
                    severity: Severity::Warning,
                    code: "unresolved-import".into(),
                    message: format!("Cannot resolve `{source}` imported by {}", node.file),
                    line: import.map_or(usage.line, |im| im.span.line),
                    column: import.map_or(usage.column, |im| im.span.column),
                });
            }
            Err(_) => {}
        }
    }
    (edges, problems)
}

/// The component file that `name` refers to when imported from `file`: the file itself when it
/// is a component, or — through a barrel module — where its re-exports lead.
#[allow(clippy::too_many_arguments)]
fn follow_export(
    file: &str,
    name: &str,
    member: Option<&str>,
    nodes: &[GraphNode],
    by_file: &HashMap<String, usize>,
    resolver: &Resolver,
    root: &str,
    via: &mut Vec<String>,
    depth: usize,
) -> Option<String> {
    let node = &nodes[*by_file.get(file)?];
    if node.info.kind == ComponentKind::Astro {
        return Some(file.to_string());
    }
    // Barrel chains are short; the bound stops re-export cycles.
    if depth > 32 {
        return None;
    }
    via.push(file.to_string());
    let importer = PathBuf::from(&node.info.filename);
    let next = |source: &str| {
        resolver
            .resolve(source, &importer)
            .ok()
            .map(|p| relative_path(&p.to_string_lossy(), Some(root)))
    };
    // `import * as UI from './ui'` then `<UI.Card/>`: the member names the export.
    let (name, member) = if name == "*" {
        (member?, None)
    } else {
        (name, member)
    };
    for r in &node.info.reexports {
        if r.type_only {
            continue;
        }
        if let Some(n) = r.names.iter().find(|n| n.exported == name) {
            let target = next(&r.source)?;
            return follow_export(
                &target,
                &n.imported,
                member,
                nodes,
                by_file,
                resolver,
                root,
                via,
                depth + 1,
            );
        }
        if r.namespace.as_deref() == Some(name) {
            let target = next(&r.source)?;
            return follow_export(
                &target,
                member?,
                None,
                nodes,
                by_file,
                resolver,
                root,
                via,
                depth + 1,
            );
        }
    }
    // `export *` never forwards `default`.
    if name != "default" {
        for r in node.info.reexports.iter().filter(|r| r.all && !r.type_only) {
            let Some(target) = next(&r.source) else {
                continue;
            };
            let mut branch = via.clone();
            if let Some(found) = follow_export(
                &target,
                name,
                member,
                nodes,
                by_file,
                resolver,
                root,
                &mut branch,
                depth + 1,
            ) {
                *via = branch;
                return Some(found);
            }
        }
    }
    None
}

/// Strongly connected components of more than one file (or a file using itself), by
/// Tarjan's algorithm with an explicit stack so deep graphs cannot overflow.
fn find_cycles(nodes: &[GraphNode], by_file: &HashMap<String, usize>) -> Vec<Vec<String>> {
    let adj: Vec<Vec<usize>> = nodes
        .iter()
        .map(|n| {
            let mut v: Vec<usize> = n
                .edges
                .iter()
                .filter_map(|e| by_file.get(&e.to).copied())
                .collect();
            v.sort_unstable();
            v.dedup();
            v
        })
        .collect();
    let n = nodes.len();
    let mut index = vec![usize::MAX; n];
    let mut low = vec![0; n];
    let mut on_stack = vec![false; n];
    let mut stack = Vec::new();
    let mut next = 0;
    let mut cycles = Vec::new();
    for start in 0..n {
        if index[start] != usize::MAX {
            continue;
        }
        // (node, next child position)
        let mut work = vec![(start, 0usize)];
        index[start] = next;
        low[start] = next;
        next += 1;
        stack.push(start);
        on_stack[start] = true;
        while let Some(&mut (v, ref mut child)) = work.last_mut() {
            if let Some(&w) = adj[v].get(*child) {
                *child += 1;
                if index[w] == usize::MAX {
                    index[w] = next;
                    low[w] = next;
                    next += 1;
                    stack.push(w);
                    on_stack[w] = true;
                    work.push((w, 0));
                } else if on_stack[w] {
                    low[v] = low[v].min(index[w]);
                }
                continue;
            }
            work.pop();
            if let Some(&(parent, _)) = work.last() {
                low[parent] = low[parent].min(low[v]);
            }
            if low[v] == index[v] {
                let mut component = Vec::new();
                while let Some(w) = stack.pop() {
                    on_stack[w] = false;
                    component.push(w);
                    if w == v {
                        break;
                    }
                }
                if component.len() > 1 || adj[v].contains(&v) {
                    let mut files: Vec<String> =
                        component.iter().map(|&i| nodes[i].file.clone()).collect();
                    files.sort();
                    cycles.push(files);
                }
            }
        }
    }
    cycles.sort();
    cycles
}

#[cfg(test)]
mod tests {
    use super::strip_jsonc;

    #[test]
    fn jsonc_comments_and_trailing_commas() {
        let text = r#"{ // c
  "a": "http://x/*y*/", /* block */
  "b": [1, 2,],
}"#;
        let v: serde_json::Value = serde_json::from_str(&strip_jsonc(text)).unwrap();
        assert_eq!(v["a"], "http://x/*y*/");
        assert_eq!(v["b"][1], 2);
    }
}

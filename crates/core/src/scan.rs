//! Scanning a project on disk, without a bundler: every component and module analyzed in
//! parallel (through the content-hash cache), the routes of the pages folder found (`.astro`,
//! and `.md`/`.mdx` rendered through their layout), and every route walked with a [`DiskHost`].
//! The Vite plugin builds the same [`Project`] with Vite's resolver instead; both plan with
//! [`crate::plan`].

use std::collections::{BTreeSet, HashMap, HashSet};
use std::path::{Path, PathBuf};

use globset::{Glob, GlobSet, GlobSetBuilder};
use serde::{Deserialize, Serialize};

use crate::cache::{self, CacheStats};
use crate::component::relative_path;
use crate::diagnostic::{Diagnostic, Severity};
use crate::dialect::dialect_for;
use crate::graph::{is_component, Project, Route, RouteKind};
use crate::resolve::DiskHost;

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

/// A scanned project.
pub struct Scan {
    pub project: Project,
    /// Root-relative paths of every file scanned.
    pub files: Vec<String>,
    pub cache: CacheStats,
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
        builder.add(Glob::new(p).map_err(|e| ScanError(format!("invalid glob `{p}`: {e}")))?);
    }
    builder
        .build()
        .map_err(|e| ScanError(format!("invalid globs: {e}")))
}

/// Scans `root`. Fails only when the root is not a readable directory or a glob is invalid;
/// every other problem is a diagnostic.
pub fn scan_project(root: &str, options: &ScanOptions) -> Result<Scan, ScanError> {
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
    let (files, markdown) = list_files(&root_path, &root_str, &include, &exclude);
    if let Some(dir) = &options.cache_dir {
        cache::global().load_dir(dir);
    }
    let project = Project::new(
        &root_str,
        Box::new(DiskHost::new(&root_path, &options.alias)),
    );
    let ids: Vec<String> = files
        .iter()
        .map(|f| f.to_string_lossy().replace('\\', "/"))
        .collect();
    let (stats, keys) = project.analyze_files(&ids);
    if let Some(dir) = &options.cache_dir {
        if stats.misses > 0 {
            // A cache that cannot be written only costs speed next time.
            let _ = cache::global().save_dir(dir, &keys);
        }
    }

    let pages_dir = format!(
        "{}/",
        relative_path(options.pages_dir.as_deref().unwrap_or("src/pages"), None)
    );
    let mut routes = Vec::new();
    for id in ids.iter().chain(markdown.iter()) {
        let rel = relative_path(id, Some(&root_str));
        let Some(inside) = rel.strip_prefix(&pages_dir) else {
            continue;
        };
        // `_`-prefixed files and folders are not routes.
        if inside.split('/').any(|segment| segment.starts_with('_')) {
            continue;
        }
        let kind = if is_component(id) {
            RouteKind::Page
        } else if id.ends_with(".md") || id.ends_with(".mdx") {
            RouteKind::Markdown
        } else {
            continue;
        };
        routes.push(Route {
            kind,
            pattern: pattern_of(inside),
            entry: id.clone(),
        });
    }
    routes.sort_by(|a, b| a.entry.cmp(&b.entry));
    project.set_routes(routes);
    walk_routes(&project);
    Ok(Scan {
        project,
        files: ids
            .iter()
            .map(|id| relative_path(id, Some(&root_str)))
            .collect(),
        cache: stats,
    })
}

/// Walks every route (and every server island the walk finds, added as a route of its own)
/// as far as the project's host answers. Returns the roots walked.
pub fn walk_routes(project: &Project) -> Vec<String> {
    let mut roots: Vec<String> = Vec::new();
    for route in project.routes() {
        if let Ok(Some(root)) = project.route_root(&route) {
            roots.push(root);
        }
    }
    loop {
        project.walk(&roots);
        let reached = project.reached(&roots);
        let known: BTreeSet<String> = project.routes().iter().map(|r| r.entry.clone()).collect();
        let islands: Vec<String> = project
            .islands(&reached)
            .into_iter()
            .filter(|i| !known.contains(i))
            .collect();
        if islands.is_empty() {
            return roots;
        }
        let mut routes = project.routes();
        for island in islands {
            let name = Path::new(&island)
                .file_stem()
                .map_or_else(String::new, |s| s.to_string_lossy().into_owned());
            roots.push(island.clone());
            routes.push(Route {
                kind: RouteKind::Island,
                pattern: format!("/_server-islands/{name}"),
                entry: island,
            });
        }
        project.set_routes(routes);
    }
}

/// Every problem of the project worth showing: each scanned file's errors, what the walk of the
/// routes could not follow (unresolved imports, export lookups), and loaders no route starts
/// with its batch (`loader-unreached`). Sorted by file and line.
pub fn diagnostics(project: &Project, files: &[String]) -> Vec<Diagnostic> {
    let mut out: Vec<Diagnostic> = Vec::new();
    let root = project.root().to_string();
    for rel in files {
        let id = format!("{root}/{rel}");
        if let Some(info) = project.module(&id) {
            for d in info
                .diagnostics
                .iter()
                .filter(|d| d.severity == Severity::Error)
            {
                let mut d = d.clone();
                d.file = rel.clone();
                out.push(d);
            }
        }
    }
    let roots: Vec<String> = project
        .routes()
        .iter()
        .filter_map(|r| project.route_root(r).ok().flatten())
        .collect();
    // Each once: the same note is on the edges of every component that imports the same way.
    let mut seen: HashSet<Diagnostic> = out.iter().cloned().collect();
    for c in project.reached(&roots) {
        for n in &project.edges(&c).notes {
            if n.severity != Severity::Info && !seen.contains(n) {
                seen.insert(n.clone());
                out.push(n.clone());
            }
        }
    }
    for d in crate::plan::unreached_loaders(project) {
        if !seen.contains(&d) {
            seen.insert(d.clone());
            out.push(d);
        }
    }
    out.sort_by(|a, b| {
        (a.file.as_str(), a.line, a.column).cmp(&(b.file.as_str(), b.line, b.column))
    });
    out
}

/// Component cycles among the routes' trees (a file rendering itself, directly or not), each a
/// sorted list of root-relative files. Tarjan's algorithm with an explicit stack.
pub fn cycles(project: &Project) -> Vec<Vec<String>> {
    let roots: Vec<String> = project
        .routes()
        .iter()
        .filter_map(|r| project.route_root(r).ok().flatten())
        .collect();
    let nodes = project.reached(&roots);
    let index_of: HashMap<&str, usize> = nodes
        .iter()
        .enumerate()
        .map(|(i, n)| (n.as_str(), i))
        .collect();
    let adj: Vec<Vec<usize>> = nodes
        .iter()
        .map(|n| {
            let mut v: Vec<usize> = project
                .edges(n)
                .edges
                .iter()
                .filter_map(|e| index_of.get(e.to.as_str()).copied())
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
    let mut out = Vec::new();
    for start in 0..n {
        if index[start] != usize::MAX {
            continue;
        }
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
                    let mut files: Vec<String> = component
                        .iter()
                        .map(|&i| project.relative(&nodes[i]))
                        .collect();
                    files.sort();
                    out.push(files);
                }
            }
        }
    }
    out.sort();
    out
}

/// A route pattern from a page's path under the pages folder: `posts/[slug].astro` ->
/// `/posts/[slug]`, `index.md` -> `/`.
pub fn pattern_of(inside: &str) -> String {
    let without = inside.rsplit_once('.').map_or(inside, |(stem, _)| stem);
    let trimmed = without
        .strip_suffix("/index")
        .or_else(|| (without == "index").then_some(""))
        .unwrap_or(without);
    format!("/{trimmed}")
}

/// Every supported file under the root, and the Markdown files (routes only). Symlinks are
/// followed; walkdir reports a symlink loop as an error entry, which is skipped.
fn list_files(
    root: &Path,
    root_str: &str,
    include: &GlobSet,
    exclude: &GlobSet,
) -> (Vec<PathBuf>, Vec<String>) {
    let mut files = Vec::new();
    let mut markdown = Vec::new();
    let walker = walkdir::WalkDir::new(root)
        .follow_links(true)
        .into_iter()
        .filter_entry(|e| {
            // A folder is pruned when a file inside it would be excluded: `node_modules` is never
            // walked, not just filtered.
            e.depth() == 0 || !e.file_type().is_dir() || {
                let rel = relative_path(&e.path().to_string_lossy(), Some(root_str));
                !exclude.is_match(format!("{rel}/_"))
            }
        });
    for entry in walker
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_file())
    {
        let path = entry.into_path();
        let name = path.to_string_lossy();
        let rel = relative_path(&name, Some(root_str));
        if (!include.is_empty() && !include.is_match(&rel)) || exclude.is_match(&rel) {
            continue;
        }
        if name.ends_with(".md") || name.ends_with(".mdx") {
            markdown.push(name.replace('\\', "/"));
        } else if !name.ends_with(".d.ts") && dialect_for(&name).is_some() {
            files.push(path);
        }
    }
    files.sort();
    markdown.sort();
    (files, markdown)
}

/// How a route plan's project scan went, for reports.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ScanSummary {
    pub files: u32,
    pub routes: u32,
    pub cache: CacheStats,
}

#[cfg(test)]
mod tests {
    use super::pattern_of;

    #[test]
    fn patterns() {
        assert_eq!(pattern_of("index.astro"), "/");
        assert_eq!(pattern_of("posts/[slug].astro"), "/posts/[slug]");
        assert_eq!(pattern_of("docs/index.md"), "/docs");
        assert_eq!(pattern_of("about.mdx"), "/about");
    }
}

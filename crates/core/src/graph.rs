//! The project graph: every module the routes reach, analyzed once, and the component each
//! template usage renders, resolved once — one walk that the build, the dev server and
//! `astro-hoist analyze` share.
//!
//! A [`Project`] holds analyses by module id (an absolute file path, or a virtual module's id),
//! answers to resolutions by (importer, specifier), and per component the edges of its template:
//! usage -> component, followed through barrel modules (`export { default as Card } from
//! './Card.astro'`, `export *`, namespaces) and virtual modules (Starlight's
//! `virtual:starlight/components/Header` re-exports an override). Resolution and the sources of
//! virtual modules come from a [`Host`]; a host that does not know an answer yet leaves a
//! [`Request`], which the caller answers (with Vite's resolver, in the build) before walking
//! again. Files are read from disk unless a source was given ([`Project::set_source`]: the code a
//! transform hook received, or a file changed in dev).
//!
//! Edges are memoized per component while they are complete; a change to a file drops the
//! analyses and edges it affects (the file's own, and those of components whose edges passed
//! through it), nothing else.

use std::collections::BTreeSet;

use rustc_hash::{FxHashMap as HashMap, FxHashSet as HashSet};
use std::path::Path;
use std::sync::Arc;

use parking_lot::RwLock;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::component::{relative_path, AnalyzeOptions, ComponentInfo, ComponentKind};
use crate::diagnostic::{Code, Diagnostic, Severity};
use crate::dialect::{dialect_for, Dialect};
use crate::pool;
use crate::resolve::{is_package, ExactFiles, Host, Resolution};
use crate::template::Usage;

/// A question the walk could not answer by itself.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "camelCase")]
pub enum Request {
    /// What `specifier` names from module `importer`.
    Resolve { specifier: String, importer: String },
    /// The source of a module that is not a file (a virtual module).
    Load { id: String },
}

/// A template usage resolved to the component it renders.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Edge {
    /// Index of the usage in the component's `usages`.
    pub usage: u32,
    /// The module id of the component rendered.
    pub to: String,
    /// The usage is inside a `{…}` expression, or slot content of a tag that is.
    pub conditional: bool,
    /// `server:defer`: the component renders in a request of its own (a route of its own).
    pub island: bool,
    /// Modules passed through on the way (barrels, virtual modules).
    pub via: Vec<String>,
}

/// A component's edges, and what computing them found.
#[derive(Debug, Clone, Default)]
pub struct Edges {
    pub edges: Vec<Edge>,
    /// Usages that render nothing astro-hoist can see into, and why.
    pub notes: Vec<Diagnostic>,
    /// Every module read to compute them (the component's barrels and targets).
    pub read: Vec<String>,
    /// False while some resolution or source is still missing.
    pub complete: bool,
}

/// How a route reaches its components.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum RouteKind {
    /// An `.astro` page of the project.
    Page,
    /// An `.astro` page an integration injects (`injectRoute`).
    Injected,
    /// A `.md`/`.mdx` page: its layout is the component that renders first.
    Markdown,
    /// A server island's component, rendered in a request of its own.
    Island,
}

/// A route Astro serves, and the component a request for it renders first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Route {
    pub kind: RouteKind,
    /// The URL pattern, as Astro names it (`/posts/[slug]`), when known.
    pub pattern: String,
    /// The module id of the entry point (the page, the Markdown file, the island component).
    pub entry: String,
}

/// A module the walk reads: a component, a barrel, a virtual module.
#[derive(Debug, Clone)]
pub struct Module {
    pub id: String,
    pub info: Arc<ComponentInfo>,
}

/// What an export path names from a module.
enum Target {
    Component(String),
    /// Nothing astro-hoist follows (a framework component, a JSON file…).
    Nothing,
    /// A script module without that export.
    Missing {
        module: String,
        name: String,
    },
    Note(Diagnostic),
    Pending,
}

/// Tag roots that are never imported: Astro built-ins.
const BUILTIN_TAGS: &[&str] = &["Fragment", "Astro"];

/// The project graph (see the module docs).
pub struct Project {
    root: String,
    host: Box<dyn Host>,
    /// Answered before the host is asked (see [`ExactFiles`]); none unless set.
    exact: RwLock<Option<ExactFiles>>,
    state: RwLock<State>,
}

#[derive(Default)]
struct State {
    modules: HashMap<String, Arc<ComponentInfo>>,
    /// Sources given instead of the file on disk (transform hooks, virtual modules).
    sources: HashMap<String, String>,
    /// Virtual modules that could not be loaded, and why.
    load_errors: HashMap<String, String>,
    resolutions: HashMap<(String, String), Resolution>,
    edges: HashMap<String, Arc<Edges>>,
    pending: BTreeSet<Request>,
    routes: Vec<Route>,
    /// Bumped whenever anything a plan depends on changes (plans are cached per generation).
    generation: u64,
}

impl Project {
    /// An empty project at `root` (an absolute folder), asking `host` what it does not know.
    pub fn new(root: &str, host: Box<dyn Host>) -> Self {
        Project {
            root: crate::component::normalize(root),
            host,
            exact: RwLock::new(None),
            state: RwLock::new(State::default()),
        }
    }

    /// The project root (absolute, `/` separators, no trailing slash).
    pub fn root(&self) -> &str {
        &self.root
    }

    /// `id` relative to the root (virtual ids as they are).
    pub fn relative(&self, id: &str) -> String {
        if is_virtual(id) {
            return id.to_string();
        }
        // Module ids are normalized paths already: most are the root, a slash and the rest.
        // Planning asks this of every component of every route, so skip normalizing those.
        if let Some(rest) = id
            .strip_prefix(self.root.as_str())
            .and_then(|rest| rest.strip_prefix('/'))
        {
            let plain = !rest.contains('\\')
                && rest
                    .split('/')
                    .all(|part| !part.is_empty() && part != "." && part != "..");
            if plain {
                return rest.to_string();
            }
        }
        relative_path(id, Some(&self.root))
    }

    fn options(&self) -> AnalyzeOptions {
        AnalyzeOptions {
            root: Some(self.root.clone()),
        }
    }

    /// Analyzes `source` as the content of `id` (a transform hook's code, a changed file) and
    /// keeps it; whatever the old content decided is dropped. Returns the analysis.
    pub fn set_source(&self, id: &str, source: String) -> Arc<ComponentInfo> {
        // The same content as the analysis held (a file a walk read, then transformed): keep it.
        if let Some(known) = self.known_source(id, &source) {
            return known;
        }
        let info = Arc::new(self.analyze(id, &source));
        let mut state = self.state.write();
        let same = state
            .modules
            .get(id)
            .is_some_and(|old| old.hash == info.hash);
        state.sources.insert(id.to_string(), source);
        if !same {
            Self::drop_dependents(&mut state, id);
            state.modules.insert(id.to_string(), Arc::clone(&info));
        }
        info
    }

    /// Forgets what is known about `id`: a file changed or deleted on disk. Resolutions that
    /// led to it, or found nothing (a created file may answer them now), are asked again.
    pub fn forget(&self, id: &str) {
        let mut state = self.state.write();
        state.sources.remove(id);
        state.load_errors.remove(id);
        state.modules.remove(id);
        Self::drop_dependents(&mut state, id);
        state.resolutions.retain(|_, r| {
            !matches!(r, Resolution::Missing) && *r != Resolution::Module(id.to_string())
        });
        // Edges that met an unresolved import were computed from answers just dropped.
        state
            .edges
            .retain(|_, e| e.complete && !e.notes.iter().any(|n| n.code == Code::UnresolvedImport));
        state.generation += 1;
    }

    /// Drops the edges of every component whose edges read `id` (and `id`'s own).
    fn drop_dependents(state: &mut State, id: &str) {
        state.edges.remove(id);
        state.edges.retain(|_, e| !e.read.iter().any(|r| r == id));
        state.generation += 1;
    }

    /// Analyzes files in parallel on the big-stack pool (a scan's first step, so the walk finds
    /// them ready). Files already known are skipped. Returns how the cache served them and the
    /// cache keys of the analyses made (to save them).
    pub fn analyze_files(
        &self,
        ids: &[String],
    ) -> (crate::cache::CacheStats, Vec<crate::cache::Key>) {
        let missing: Vec<&String> = {
            let state = self.state.read();
            ids.iter()
                .filter(|id| !state.modules.contains_key(*id))
                .collect()
        };
        let options = self.options();
        let analyzed: Vec<(String, pool::Analyzed)> = pool::pool().install(|| {
            missing
                .par_iter()
                .map(|id| ((*id).clone(), pool::read_and_analyze(id, &options)))
                .collect()
        });
        let mut stats = crate::cache::CacheStats::default();
        let mut keys = Vec::new();
        let mut state = self.state.write();
        for (id, a) in analyzed {
            if a.hit {
                stats.hits += 1;
            } else {
                stats.misses += 1;
            }
            keys.extend(a.key);
            state.modules.insert(id, Arc::new(a.info));
        }
        (stats, keys)
    }

    /// Every module known (analyzed files, transformed and loaded modules), by id.
    pub fn modules(&self) -> Vec<(String, Arc<ComponentInfo>)> {
        let state = self.state.read();
        let mut out: Vec<(String, Arc<ComponentInfo>)> = state
            .modules
            .iter()
            .map(|(k, v)| (k.clone(), Arc::clone(v)))
            .collect();
        out.sort_by(|a, b| a.0.cmp(&b.0));
        out
    }

    /// The routes, as set.
    pub fn routes(&self) -> Vec<Route> {
        self.state.read().routes.clone()
    }

    /// Sets the routes Astro serves (pages, injected routes, Markdown pages); server islands
    /// are added as the walk finds them.
    pub fn set_routes(&self, routes: Vec<Route>) {
        let mut state = self.state.write();
        state.routes = routes;
        state.generation += 1;
    }

    /// A counter that changes whenever a plan could change.
    pub fn generation(&self) -> u64 {
        self.state.read().generation
    }

    /// Records the answers to resolution requests (specifier, importer, resolution), under one
    /// write lock: a bundler's walks read the project from the thread pool all the while, and
    /// each write waits for their reads.
    pub fn answer_resolves(&self, answers: impl IntoIterator<Item = (String, String, Resolution)>) {
        let mut state = self.state.write();
        for (specifier, importer, resolution) in answers {
            let request = Request::Resolve {
                specifier,
                importer,
            };
            state.pending.remove(&request);
            if let Request::Resolve {
                specifier,
                importer,
            } = request
            {
                state.resolutions.insert((importer, specifier), resolution);
            }
        }
        state.generation += 1;
    }

    /// Records the answer to a load request: the module's source, or why it has none.
    pub fn answer_load(&self, id: &str, source: Result<String, String>) {
        match source {
            Ok(code) => {
                self.set_source(id, code);
            }
            Err(why) => {
                let mut state = self.state.write();
                state.load_errors.insert(id.to_string(), why);
                state.generation += 1;
            }
        }
        self.state
            .write()
            .pending
            .remove(&Request::Load { id: id.to_string() });
    }

    /// The analysis held for `id`, without reading or loading anything.
    pub fn cached(&self, id: &str) -> Option<Arc<ComponentInfo>> {
        self.state.read().modules.get(id).map(Arc::clone)
    }

    /// A module's analysis, if known (reads a file from disk the first time).
    pub fn module(&self, id: &str) -> Option<Arc<ComponentInfo>> {
        if let Some(info) = self.state.read().modules.get(id) {
            return Some(Arc::clone(info));
        }
        if is_virtual(id) {
            let source = self.state.read().sources.get(id).cloned();
            let source = match source {
                Some(s) => s,
                None => match self.host.load(id) {
                    Some(Ok(code)) => code,
                    Some(Err(why)) => {
                        self.state.write().load_errors.insert(id.to_string(), why);
                        return None;
                    }
                    None => {
                        let mut state = self.state.write();
                        if !state.load_errors.contains_key(id) {
                            state.pending.insert(Request::Load { id: id.to_string() });
                        }
                        return None;
                    }
                },
            };
            let info = Arc::new(self.analyze(id, &source));
            self.state
                .write()
                .modules
                .insert(id.to_string(), Arc::clone(&info));
            return Some(info);
        }
        let info =
            Arc::new(pool::pool().install(|| pool::read_and_analyze(id, &self.options()).info));
        self.state
            .write()
            .modules
            .insert(id.to_string(), Arc::clone(&info));
        Some(info)
    }

    /// Why a virtual module could not be loaded, if it could not.
    fn load_error(&self, id: &str) -> Option<String> {
        self.state.read().load_errors.get(id).cloned()
    }

    /// An analysis of `source` as module `id` (virtual modules are read as JavaScript).
    fn analyze(&self, id: &str, source: &str) -> ComponentInfo {
        let options = self.options();
        if is_virtual(id) {
            let mut info = pool::analyze_one(source, &format!("{id}.mjs"), &options);
            info.filename = id.to_string();
            for d in &mut info.diagnostics {
                d.file = id.to_string();
            }
            info
        } else {
            pool::analyze_one(source, id, &options)
        }
    }

    /// Resolves the files [`ExactFiles`] names without asking the host (a bundler answers
    /// them only through a round trip per walk level); `None` asks the host for everything.
    pub fn resolve_exact_files(&self, exact: Option<ExactFiles>) {
        *self.exact.write() = exact;
    }

    /// What `specifier` names from `importer`, if known; records a request otherwise.
    pub fn resolve(&self, specifier: &str, importer: &str) -> Option<Resolution> {
        let key = (importer.to_string(), specifier.to_string());
        if let Some(r) = self.state.read().resolutions.get(&key) {
            return Some(r.clone());
        }
        let exact = self
            .exact
            .read()
            .as_ref()
            .and_then(|exact| exact.resolve(specifier, importer));
        match exact.or_else(|| self.host.resolve(specifier, importer)) {
            Some(r) => {
                self.state.write().resolutions.insert(key, r.clone());
                Some(r)
            }
            None => {
                self.state.write().pending.insert(Request::Resolve {
                    specifier: specifier.to_string(),
                    importer: importer.to_string(),
                });
                None
            }
        }
    }

    /// The questions still open after the last walk.
    pub fn pending(&self) -> Vec<Request> {
        self.state.read().pending.iter().cloned().collect()
    }

    /// Walks from `roots` as far as the known answers allow: analyses every component and
    /// barrel reached and computes their edges. Returns the questions to answer before walking
    /// again (none: the walk is complete). A route's Markdown entry walks from its layout.
    pub fn walk(&self, roots: &[String]) -> Vec<Request> {
        let mut seen: HashSet<String> = HashSet::default();
        // Every module this walk read: the questions it opened are theirs. Other walks (a bundler
        // transforms many components at once) answer their own.
        let mut involved: HashSet<String> = HashSet::default();
        // Breadth first: each level's files are read and analyzed in parallel first (that is
        // most of a walk's time), then their edges are followed.
        let mut frontier: Vec<String> = roots
            .iter()
            .filter(|id| seen.insert((*id).clone()))
            .cloned()
            .collect();
        while !frontier.is_empty() {
            let files: Vec<String> = frontier
                .iter()
                .filter(|id| !is_virtual(id))
                .cloned()
                .collect();
            if files.len() > 1 {
                self.analyze_files(&files);
            }
            let mut next = Vec::new();
            for id in frontier {
                involved.insert(id.clone());
                let edges = self.edges(&id);
                involved.extend(edges.read.iter().cloned());
                for edge in &edges.edges {
                    if seen.insert(edge.to.clone()) {
                        next.push(edge.to.clone());
                    }
                }
                if let Some(info) = self.module(&id) {
                    for dependency in self.load_dependencies(&id, &info) {
                        if seen.insert(dependency.clone()) {
                            next.push(dependency);
                        }
                    }
                }
            }
            frontier = next;
        }
        let state = self.state.read();
        state
            .pending
            .iter()
            .filter(|r| match r {
                Request::Resolve { importer, .. } => involved.contains(importer),
                Request::Load { id } => involved.contains(id),
            })
            .cloned()
            .collect()
    }

    /// Whether a walk from `root` would read nothing and ask nothing: every component it reaches
    /// has its analysis, its complete edges and the answers its loader's `ctx.load` sources need.
    /// Only looks (no file read, no request recorded): a bundler transforming a component whose
    /// tree an earlier walk went through can then plan at once.
    pub fn walked(&self, root: &str) -> bool {
        let state = self.state.read();
        let mut seen: HashSet<&str> = HashSet::default();
        let mut stack = vec![root];
        while let Some(id) = stack.pop() {
            if !seen.insert(id) {
                continue;
            }
            let (Some(info), Some(edges)) = (state.modules.get(id), state.edges.get(id)) else {
                return false;
            };
            for edge in &edges.edges {
                stack.push(edge.to.as_str());
            }
            let Some(loader) = &info.loader else {
                continue;
            };
            for source in loader.depends_on.iter().filter_map(|d| d.source.as_ref()) {
                match state.resolutions.get(&(id.to_string(), source.clone())) {
                    Some(Resolution::Module(target)) if is_component(target) => {
                        stack.push(target.as_str())
                    }
                    Some(_) => {}
                    None => return false,
                }
            }
        }
        true
    }

    /// The analysis of `id` when `source` is the content it was made from (kept as the module's
    /// source, as [`Project::set_source`] keeps it); none otherwise. Hashes, never parses.
    pub fn known_source(&self, id: &str, source: &str) -> Option<Arc<ComponentInfo>> {
        let hash = blake3::hash(source.as_bytes()).to_hex().to_string();
        let mut state = self.state.write();
        let known = state
            .modules
            .get(id)
            .filter(|info| info.hash == hash)
            .map(Arc::clone)?;
        state.sources.insert(id.to_string(), source.to_string());
        Some(known)
    }

    /// The components whose loaders `id`'s loader awaits through `ctx.load` (resolved from its
    /// import sources).
    pub fn load_dependencies(&self, id: &str, info: &ComponentInfo) -> Vec<String> {
        let Some(loader) = &info.loader else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for dependency in &loader.depends_on {
            let Some(source) = &dependency.source else {
                continue;
            };
            if let Some(Resolution::Module(target)) = self.resolve(source, id) {
                if is_component(&target) {
                    out.push(target);
                }
            }
        }
        out
    }

    /// [`Project::module`] and [`Project::edges`] of `id` at once: one lookup under one lock
    /// when both are known (planning asks this of every node of every route's tree).
    pub fn node(&self, id: &str) -> (Option<Arc<ComponentInfo>>, Arc<Edges>) {
        {
            let state = self.state.read();
            if let (Some(info), Some(edges)) = (state.modules.get(id), state.edges.get(id)) {
                return (Some(Arc::clone(info)), Arc::clone(edges));
            }
        }
        (self.module(id), self.edges(id))
    }

    /// The edges of component `id` (memoized once complete).
    pub fn edges(&self, id: &str) -> Arc<Edges> {
        if let Some(e) = self.state.read().edges.get(id) {
            return Arc::clone(e);
        }
        let edges = Arc::new(self.compute_edges(id));
        if edges.complete {
            self.state
                .write()
                .edges
                .insert(id.to_string(), Arc::clone(&edges));
        }
        edges
    }

    fn compute_edges(&self, id: &str) -> Edges {
        let mut out = Edges {
            complete: true,
            ..Edges::default()
        };
        let Some(info) = self.module(id) else {
            out.complete = self.load_error(id).is_some();
            return out;
        };
        if info.kind != ComponentKind::Astro {
            return out;
        }
        let component = self.relative(id);
        let mut noted: HashSet<(Code, String)> = HashSet::default();
        for (i, usage) in info.usages.iter().enumerate() {
            let mut via = Vec::new();
            let target = self.usage_target(id, &info, usage, &mut via, &mut out.read);
            let at = |code: Code, severity: Severity, message: String| {
                Diagnostic::in_file(
                    component.clone(),
                    usage.line,
                    usage.column,
                    severity,
                    code,
                    message,
                )
            };
            match target {
                Target::Component(to) => {
                    out.read.push(to.clone());
                    out.edges.push(Edge {
                        usage: crate::position::to_u32(i),
                        to,
                        conditional: conditional_usage(&info.usages, i),
                        island: usage.attributes.iter().any(|a| a == "server:defer"),
                        via,
                    });
                }
                Target::Nothing => {}
                Target::Pending => out.complete = false,
                Target::Missing { module, name } => {
                    // Framework components (`.jsx`/`.tsx` modules) define them locally.
                    if !matches!(dialect_for(&module), Some(Dialect::Jsx | Dialect::Tsx)) {
                        let note = at(
                            Code::ExportNotFound,
                            Severity::Warning,
                            format!(
                                "<{}>: '{name}' is not re-exported from an .astro file by {}",
                                usage.name,
                                self.relative(&module)
                            ),
                        );
                        if noted.insert((note.code, note.message.clone())) {
                            out.notes.push(note);
                        }
                    }
                }
                Target::Note(mut note) => {
                    if note.file.is_empty() {
                        note.file = component.clone();
                        note.line = usage.line;
                        note.column = usage.column;
                    }
                    if noted.insert((note.code, note.message.clone())) {
                        out.notes.push(note);
                    }
                }
            }
        }
        out
    }

    /// What component a usage of component `id` renders.
    fn usage_target(
        &self,
        id: &str,
        info: &ComponentInfo,
        usage: &Usage,
        via: &mut Vec<String>,
        read: &mut Vec<String>,
    ) -> Target {
        let mut segments = usage.name.split('.');
        let root = segments.next().unwrap_or_default();
        let members: Vec<String> = segments.map(String::from).collect();
        let Some((source, mut names)) = import_binding(info, root) else {
            if BUILTIN_TAGS.contains(&root) {
                return Target::Nothing;
            }
            return Target::Note(Diagnostic::in_file(
                String::new(),
                0,
                0,
                Severity::Info,
                Code::UnknownComponent,
                format!("<{}> is not bound to an import (a local or dynamic component): its loaders, if any, run at render", usage.name),
            ));
        };
        if names.is_empty() && members.is_empty() {
            // A namespace rendered as a tag (`<NS />`): nothing to see into.
            return Target::Nothing;
        }
        names.extend(members);
        match self.resolve(&source, id) {
            None => Target::Pending,
            Some(Resolution::External) => Target::Nothing,
            Some(Resolution::Missing) => {
                if is_package(&source) && !self.host.is_bundler() {
                    Target::Nothing
                } else {
                    Target::Note(Diagnostic::in_file(
                        String::new(),
                        0,
                        0,
                        Severity::Warning,
                        Code::UnresolvedImport,
                        format!("cannot resolve '{source}' (used as <{}>)", usage.name),
                    ))
                }
            }
            Some(Resolution::Module(target)) => self.follow(&target, &names, via, read, 0),
        }
    }

    /// Follows export `names` (`["default"]`, `["UI", "Card"]`) from `module` to a component.
    fn follow(
        &self,
        module: &str,
        names: &[String],
        via: &mut Vec<String>,
        read: &mut Vec<String>,
        depth: usize,
    ) -> Target {
        if is_component(module) {
            return if names.len() == 1 && names[0] == "default" {
                Target::Component(module.to_string())
            } else {
                Target::Nothing
            };
        }
        if !is_virtual(module) && dialect_for(module).is_none() {
            // .vue, .svelte, .md, .json …: no Astro loader in there.
            return Target::Nothing;
        }
        if names.is_empty() {
            return Target::Nothing;
        }
        // Barrel chains are short; the bound stops re-export cycles.
        if depth > 32 {
            return Target::Note(Diagnostic::in_file(
                self.relative(module),
                1,
                1,
                Severity::Warning,
                Code::ReexportCycle,
                format!("re-export cycle while looking up '{}'", names.join(".")),
            ));
        }
        read.push(module.to_string());
        let Some(info) = self.module(module) else {
            if let Some(why) = self.load_error(module) {
                return Target::Note(Diagnostic::in_file(
                    self.relative(module),
                    1,
                    1,
                    Severity::Info,
                    Code::UnresolvedImport,
                    format!("cannot load {module}: {why}"),
                ));
            }
            return Target::Pending;
        };
        via.push(module.to_string());
        let first = &names[0];
        let rest = &names[1..];
        for reexport in &info.reexports {
            if reexport.type_only {
                continue;
            }
            let next: Option<Vec<String>> = if reexport.namespace.as_deref() == Some(first.as_str())
            {
                Some(rest.to_vec())
            } else {
                reexport
                    .names
                    .iter()
                    .find(|n| &n.exported == first)
                    .map(|n| {
                        if n.imported == "*" {
                            rest.to_vec()
                        } else {
                            std::iter::once(n.imported.clone())
                                .chain(rest.iter().cloned())
                                .collect()
                        }
                    })
            };
            let Some(next) = next else { continue };
            return match self.resolve(&reexport.source, module) {
                None => Target::Pending,
                Some(Resolution::Module(target)) => {
                    self.follow(&target, &next, via, read, depth + 1)
                }
                Some(Resolution::External) => Target::Nothing,
                Some(Resolution::Missing) => Target::Note(Diagnostic::in_file(
                    self.relative(module),
                    reexport.span.line,
                    reexport.span.column,
                    Severity::Warning,
                    Code::UnresolvedImport,
                    format!(
                        "cannot resolve '{}' from {}",
                        reexport.source,
                        self.relative(module)
                    ),
                )),
            };
        }
        // `export *` never forwards `default`; the first match wins, as in ESM.
        if first != "default" {
            for reexport in info
                .reexports
                .iter()
                .filter(|r| r.all && r.namespace.is_none() && !r.type_only)
            {
                match self.resolve(&reexport.source, module) {
                    None => return Target::Pending,
                    Some(Resolution::Module(target)) => {
                        let mut branch = via.clone();
                        if let found @ (Target::Component(_) | Target::Note(_) | Target::Pending) =
                            self.follow(&target, names, &mut branch, read, depth + 1)
                        {
                            *via = branch;
                            return found;
                        }
                    }
                    _ => {}
                }
            }
        }
        Target::Missing {
            module: module.to_string(),
            name: names.join("."),
        }
    }

    /// Every component reached from `roots` through edges (islands excluded) and `ctx.load`.
    pub fn reached(&self, roots: &[String]) -> Vec<String> {
        let mut seen: HashSet<String> = HashSet::default();
        let mut order = Vec::new();
        let mut stack: Vec<String> = roots.iter().rev().cloned().collect();
        while let Some(id) = stack.pop() {
            if !seen.insert(id.clone()) {
                continue;
            }
            order.push(id.clone());
            let edges = self.edges(&id);
            for edge in edges.edges.iter().rev() {
                if !edge.island {
                    stack.push(edge.to.clone());
                }
            }
        }
        order
    }

    /// The server islands the given components render (`<X server:defer />`): each is a route.
    pub fn islands(&self, components: &[String]) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for id in components {
            for edge in self.edges(id).edges.iter().filter(|e| e.island) {
                if !out.contains(&edge.to) {
                    out.push(edge.to.clone());
                }
            }
        }
        out
    }

    /// The component a route renders first: the page itself, or a Markdown page's layout
    /// (resolved from its frontmatter's `layout`). `Err` says why there is none.
    pub fn route_root(&self, route: &Route) -> Result<Option<String>, Diagnostic> {
        if route.kind != RouteKind::Markdown {
            return Ok(Some(route.entry.clone()));
        }
        let given = self.state.read().sources.get(&route.entry).cloned();
        let source = match given {
            Some(s) => s,
            None => std::fs::read_to_string(&route.entry).map_err(|e| {
                Diagnostic::in_file(
                    self.relative(&route.entry),
                    1,
                    1,
                    Severity::Error,
                    Code::RouteFailed,
                    format!("cannot read {}: {e}", route.entry),
                )
            })?,
        };
        let Some(layout) = markdown_layout(&source) else {
            return Ok(None);
        };
        match self.resolve(&layout, &route.entry) {
            Some(Resolution::Module(id)) if is_component(&id) => Ok(Some(id)),
            None => Ok(None),
            _ => Err(Diagnostic::in_file(
                self.relative(&route.entry),
                1,
                1,
                Severity::Warning,
                Code::UnresolvedImport,
                format!("cannot resolve its layout '{layout}'"),
            )),
        }
    }
}

/// Whether an id is a virtual module (no file behind it).
pub fn is_virtual(id: &str) -> bool {
    id.starts_with('\0') || !Path::new(id).is_absolute()
}

/// Whether a module id is an `.astro` component.
pub fn is_component(id: &str) -> bool {
    !is_virtual(id) && id.to_ascii_lowercase().ends_with(".astro")
}

/// The import that binds tag root `local`: its source and the export path it imports
/// (`["default"]`, `["Card"]`, or `[]` for a namespace).
fn import_binding(info: &ComponentInfo, local: &str) -> Option<(String, Vec<String>)> {
    for import in &info.imports {
        if import.type_only {
            continue;
        }
        if import.namespace.as_deref() == Some(local) {
            return Some((import.source.clone(), Vec::new()));
        }
        if import.default_name.as_deref() == Some(local) {
            return Some((import.source.clone(), vec!["default".into()]));
        }
        if let Some(name) = import
            .names
            .iter()
            .find(|n| n.local == local && !n.type_only)
        {
            return Some((import.source.clone(), vec![name.imported.clone()]));
        }
    }
    None
}

/// Whether usage `index` renders only sometimes: its own tag is inside a `{…}` expression, or it
/// is slot content of a tag that is.
pub fn conditional_usage(usages: &[Usage], index: usize) -> bool {
    let mut at = Some(index as u32);
    for _ in 0..=usages.len() {
        let Some(i) = at else { return false };
        let Some(usage) = usages.get(i as usize) else {
            return false;
        };
        if usage.conditional {
            return true;
        }
        at = usage.parent;
    }
    false
}

/// The `layout` a Markdown page's frontmatter names, if any (`layout: ../layouts/Doc.astro`,
/// quoted or not). Read by hand: a YAML parser for one key would be most of the dependency.
pub fn markdown_layout(source: &str) -> Option<String> {
    let text = source.strip_prefix('\u{feff}').unwrap_or(source);
    let mut lines = text.lines();
    if lines.next()?.trim_end() != "---" {
        return None;
    }
    for line in lines {
        if line.trim_end() == "---" {
            return None;
        }
        if let Some(value) = line.strip_prefix("layout:") {
            let value = value.trim();
            let value = value
                .strip_prefix('"')
                .and_then(|v| v.strip_suffix('"'))
                .or_else(|| value.strip_prefix('\'').and_then(|v| v.strip_suffix('\'')))
                .unwrap_or(value);
            return (!value.is_empty()).then(|| value.to_string());
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markdown_layouts() {
        assert_eq!(
            markdown_layout("---\ntitle: x\nlayout: ../layouts/Doc.astro\n---\n# x"),
            Some("../layouts/Doc.astro".into())
        );
        assert_eq!(
            markdown_layout("---\nlayout: \"@/layouts/Doc.astro\"\n---\n"),
            Some("@/layouts/Doc.astro".into())
        );
        assert_eq!(markdown_layout("---\ntitle: x\n---\nlayout: no"), None);
        assert_eq!(markdown_layout("# no frontmatter"), None);
    }

    struct NoHost;

    impl crate::resolve::Host for NoHost {
        fn resolve(&self, _: &str, _: &str) -> Option<Resolution> {
            None
        }
        fn load(&self, _: &str) -> Option<Result<String, String>> {
            None
        }
    }

    #[test]
    fn relative_paths_as_the_slow_way_makes_them() {
        let project = Project::new("/site/", Box::new(NoHost));
        for id in [
            "/site/src/pages/index.astro",
            "/site/src/components/../layouts/Base.astro",
            "/site/src/./a.astro",
            "/site//src/a.astro",
            "/site/src/.hidden/a.astro",
            "/site/src/a..b.astro",
            "/site",
            "/site/",
            "/sites/a.astro",
            "/other/a.astro",
            "C:\\site\\a.astro",
            "\0virtual:x",
        ] {
            let expected = if is_virtual(id) {
                id.to_string()
            } else {
                relative_path(id, Some("/site"))
            };
            assert_eq!(project.relative(id), expected, "{id}");
        }
    }

    #[test]
    fn a_tree_read_without_asking_is_walked_and_plans_at_once() {
        let dir = std::env::temp_dir().join(format!("astro-hoist-walked-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let loader = "---\nimport { getLoaderData } from 'astro-hoist/runtime';\nexport const loader = async () => 1;\nconst data = await getLoaderData();\n---\n";
        let files = [
            (
                "src/pages/index.astro",
                "---\nimport A from '../components/A.astro';\n---\n<A/>\n".to_string(),
            ),
            (
                "src/pages/other.astro",
                "---\nimport K from 'kit/K.astro';\n---\n<K/>\n".to_string(),
            ),
            (
                "src/components/A.astro",
                format!("{loader}<B/>")
                    .replace("---\n<B/>", "import B from './B.astro';\n---\n<B/>"),
            ),
            ("src/components/B.astro", loader.to_string()),
        ];
        for (name, text) in &files {
            let path = dir.join(name);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, text).unwrap();
        }
        let root = crate::component::normalize(&dir.canonicalize().unwrap().to_string_lossy());
        let id = |rel: &str| format!("{root}/{rel}");
        let project = Project::new(&root, Box::new(NoHost));
        project.resolve_exact_files(Some(ExactFiles::new(&root, Vec::new())));
        let page = id("src/pages/index.astro");
        assert!(!project.walked(&page), "nothing read yet");
        assert_eq!(
            project.walk(std::slice::from_ref(&page)),
            Vec::new(),
            "every import is a file named exactly"
        );
        assert!(project.walked(&page));
        assert!(project.walked(&id("src/components/A.astro")));
        let source = std::fs::read_to_string(dir.join("src/components/A.astro")).unwrap();
        let known = project
            .known_source(&id("src/components/A.astro"), &source)
            .unwrap();
        assert!(known.loader.is_some());
        assert!(
            project
                .known_source(&id("src/components/A.astro"), "---\n---\n<p/>")
                .is_none(),
            "other content: analyze it"
        );
        let batch = crate::plan::batch(&project, &page, &Default::default()).unwrap();
        assert_eq!(batch.entries.len(), 2, "{batch:?}");
        // A package import is the bundler's to answer: that tree is not walked until it does.
        let other = id("src/pages/other.astro");
        assert_eq!(project.walk(std::slice::from_ref(&other)).len(), 1);
        assert!(!project.walked(&other));
        // A changed file is read again.
        project.forget(&id("src/components/B.astro"));
        assert!(!project.walked(&page));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

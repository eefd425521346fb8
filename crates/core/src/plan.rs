//! The planner: for one root component (a route's page or layout, a server island, or any
//! component whose tree the build gives a batch), which loaders its batch starts, in which wave
//! each loader starts and why, and what the route costs with and without hoisting.
//!
//! Without hoisting, Astro starts a component's loader only when the component renders: after
//! its parent's frontmatter and, for slot content, after every enclosing component's. With
//! hoisting, every component whose tree holds hoistable loaders starts them when it renders
//! (after its guards); the root renders first, so its unconditional tree starts in wave 1. A
//! loader reached only through a conditional usage (or below a component's guard) starts with
//! the batch of the conditional component that leads to it: when that component renders. A
//! loader that cannot be hoisted starts when its own component renders. A loader that awaits
//! others through `ctx.load` waits for them. Loaders run once per render, however many times
//! their component appears.

use std::collections::BTreeSet;
use std::sync::Arc;

use fixedbitset::FixedBitSet;

use rustc_hash::{FxHashMap as HashMap, FxHashSet as HashSet};

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::component::ComponentInfo;
use crate::dataflow::{dataflow, run_kind, Dataflow, RunKind};
use crate::diagnostic::{Code, Diagnostic, Severity};
use crate::graph::{is_component, Edges, Project, Route, RouteKind};
use crate::position::Span;
use crate::schedule::{critical_path, find_cycle, list_schedule, lpt_priority, waves, Task};

/// How a root is planned.
#[derive(Debug, Clone, Default)]
pub struct PlanOptions {
    /// Estimated ms per loader, by component id or root-relative path (default 1).
    pub costs: std::collections::HashMap<String, f64>,
    /// Most loaders in flight at once; unlimited when `None`.
    pub concurrency: Option<u32>,
    /// Also start loaders reachable only through conditional usages with the root's batch.
    pub speculative: bool,
}

/// One loader a root's batch lists (generated code starts them; conditional ones only when
/// speculative).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BatchEntry {
    /// The component id: the runtime's key for this loader.
    pub id: String,
    /// The component's module id (an absolute path).
    pub file: String,
    /// Root-relative path of the component.
    pub component: String,
    /// Reached only through conditional usages or a guard.
    pub conditional: bool,
}

/// One loader of a planned root.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PlannedLoader {
    /// The component id.
    pub id: String,
    /// Root-relative path of the component.
    pub component: String,
    /// 1 = starts at the root's render; n = after loaders of wave n-1 it waits for.
    pub wave: u32,
    /// Started by the root's batch (possibly waiting on `ctx.load`).
    pub hoisted: bool,
    /// Reached only through conditional usages or a guard.
    pub conditional: bool,
    /// Why it is not in wave 1.
    pub reason: Option<String>,
    pub cost: f64,
    /// Estimated start and finish in ms from the root's render.
    pub start: f64,
    pub finish: f64,
    /// Ids of loaders it awaits through `ctx.load`.
    pub depends_on: Vec<String>,
    /// Ids of loaders that must finish before it can start.
    pub waits_for: Vec<String>,
    /// Without hoisting: its wave and estimated times.
    pub wave_before: u32,
    pub start_before: f64,
    pub finish_before: f64,
}

/// The plan of one root.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Plan {
    /// Root-relative path of the root component.
    pub root: String,
    /// What the root's batch lists, in document order: every hoistable loader of its tree.
    pub entries: Vec<BatchEntry>,
    /// The root's last guard: its batch starts right after it (none: at the frontmatter's start).
    pub batch_start: Option<Span>,
    /// The loaders a render of the root runs, by wave then start.
    pub loaders: Vec<PlannedLoader>,
    /// Longest chain of nested loaders without hoisting (Astro's waterfall depth).
    pub depth_before: u32,
    /// Number of waves with hoisting.
    pub depth_after: u32,
    /// Ids along the chain that decides the makespan.
    pub critical_path: Vec<String>,
    /// Estimated ms until every loader has finished, with hoisting.
    pub makespan: f64,
    /// The same without hoisting.
    pub makespan_before: f64,
    /// Start order under the concurrency limit: the order the runtime queues loaders in.
    pub order: Vec<String>,
    /// Why loaders are not hoisted, and what the walk could not follow.
    pub notes: Vec<Diagnostic>,
    /// Every module the plan read (the dev server watches them).
    pub files: Vec<String>,
    /// False when some resolution or module was still unknown (the plan covers what is known).
    pub complete: bool,
    /// The root's dataflow tree as JSON, as in [`Batch`].
    pub flow: Option<String>,
    /// The waterfall of frontmatter `await`s a render of the root runs, in the order plain Astro
    /// reaches them: what a site without loaders (or with a few) waits for, step by step.
    #[serde(default)]
    pub awaits: Vec<AwaitStep>,
    /// The longest chain of frontmatter awaits (each waits for the one before it).
    #[serde(default)]
    pub await_depth: u32,
    /// The same once `astro-hoist migrate` has moved every movable await into a loader (the
    /// loaders start together; the awaits that stay still wait in turn).
    #[serde(default)]
    pub await_depth_after: u32,
}

/// One frontmatter `await` on a route's render.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AwaitStep {
    /// Root-relative path of the component.
    pub component: String,
    pub line: u32,
    pub column: u32,
    /// The awaited expression, on one line.
    pub text: String,
    /// 1 = awaited as the root renders; n = only after n-1 awaits before it have resolved.
    pub step: u32,
    /// Reached only through conditional usages or guards.
    pub conditional: bool,
    /// `astro-hoist migrate` can move it into a loader.
    pub movable: bool,
    /// Why it cannot.
    pub reason: Option<String>,
}

/// A route Astro serves and its plan.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RoutePlan {
    pub kind: RouteKind,
    pub pattern: String,
    /// Root-relative path of the route's entry (the page, the Markdown file, the island).
    pub entry: String,
    /// The plan of the component the route renders first; none when it renders no component
    /// (a Markdown page without a layout) or could not be planned.
    pub plan: Option<Plan>,
    /// Why it could not be planned.
    pub error: Option<PlanError>,
}

/// A root that cannot be planned: a `ctx.load` cycle (with its files), or an unknown root.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PlanError {
    pub diagnostic: Diagnostic,
    /// The files of a loader cycle, in order, the first repeated at the end.
    pub cycle: Vec<String>,
    /// What the root's batch can still start: the runtime rejects the loaders of a cycle when
    /// they run, and the rest of the tree need not wait for them.
    pub entries: Vec<BatchEntry>,
}

impl std::fmt::Display for PlanError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.diagnostic.message)
    }
}

/// Per reached component: how the root reaches it. Components are numbered by their place in
/// `order` (the walk is per route and hot: indices instead of cloned path strings).
struct Reach {
    /// Components in document order (first reached first).
    order: Vec<String>,
    /// A component's place in `order`.
    index: HashMap<String, u32>,
    /// Reached only through conditional usages or guards; `None` for a component no usage
    /// reaches (the root has `Some(false)`).
    conditional: Vec<Option<bool>>,
    /// Components whose render must finish before it renders (sorted).
    blockers: Vec<Vec<u32>>,
    /// What must finish before the batch that starts its loader (its conditional entry's
    /// blockers; empty under the root's unconditional tree).
    batch_wait: Vec<Vec<u32>>,
    /// Each node's analysis and edges, looked up once.
    infos: Vec<Option<Arc<ComponentInfo>>>,
    edges: Vec<Arc<Edges>>,
}

impl Reach {
    fn node(&self, c: &str) -> Option<usize> {
        self.index.get(c).map(|&n| n as usize)
    }

    fn conditional(&self, c: &str) -> Option<bool> {
        self.node(c).and_then(|n| self.conditional[n])
    }

    fn blockers(&self, c: &str) -> &[u32] {
        self.node(c).map_or(&[], |n| &self.blockers[n])
    }

    fn batch_wait(&self, c: &str) -> &[u32] {
        self.node(c).map_or(&[], |n| &self.batch_wait[n])
    }
}

/// Whether a component may return before rendering its template (a guard).
fn guarded(info: &ComponentInfo) -> bool {
    !info.early_returns.is_empty()
}

/// Walks the root's tree (server islands excluded: each is a route of its own). Without `sets`,
/// only whether each component is reached conditionally (the flags do not depend on the sets):
/// `blockers` and `batch_wait` are left empty.
fn reach(project: &Project, root: &str, sets: bool) -> Reach {
    // The walk of `Project::reached` (depth first, children in document order, islands
    // excluded), done here so each component's analysis and edges are looked up once, as it is
    // first reached: planning every route makes these lookups for every node of every tree.
    // Sized for a typical tree (tens of components), so the index is not rehashed as it grows.
    const TYPICAL: usize = 64;
    let mut order: Vec<String> = Vec::with_capacity(TYPICAL);
    let mut index: HashMap<String, u32> =
        HashMap::with_capacity_and_hasher(TYPICAL, Default::default());
    let mut infos: Vec<Option<Arc<ComponentInfo>>> = Vec::with_capacity(TYPICAL);
    let mut all_edges: Vec<Arc<Edges>> = Vec::with_capacity(TYPICAL);
    // An edge still to follow: the node whose edges hold it, and its place there.
    let mut stack: Vec<(u32, u32)> = Vec::new();
    let mut visit = |id: &str,
                     order: &mut Vec<String>,
                     infos: &mut Vec<Option<Arc<ComponentInfo>>>,
                     all_edges: &mut Vec<Arc<Edges>>,
                     stack: &mut Vec<(u32, u32)>| {
        if index.contains_key(id) {
            return;
        }
        let n = order.len() as u32;
        index.insert(id.to_string(), n);
        order.push(id.to_string());
        let (info, edges) = project.node(id);
        infos.push(info);
        for (e, edge) in edges.edges.iter().enumerate().rev() {
            if !edge.island {
                stack.push((n, e as u32));
            }
        }
        all_edges.push(edges);
    };
    visit(root, &mut order, &mut infos, &mut all_edges, &mut stack);
    while let Some((n, e)) = stack.pop() {
        let edges = Arc::clone(&all_edges[n as usize]);
        visit(
            &edges.edges[e as usize].to,
            &mut order,
            &mut infos,
            &mut all_edges,
            &mut stack,
        );
    }
    let mut conditional: Vec<Option<bool>> = vec![None; order.len()];
    // Sets of nodes as bit sets: a route's tree has tens of components, so a set is a word or
    // two, and the relaxation below copies and merges them for every edge.
    let width = if sets { order.len() } else { 0 };
    let mut blockers: Vec<FixedBitSet> = vec![FixedBitSet::with_capacity(width); order.len()];
    let mut batch_wait: Vec<FixedBitSet> = vec![FixedBitSet::with_capacity(width); order.len()];
    let root_node = 0u32;
    conditional[root_node as usize] = Some(false);
    // Worklist relaxation: a component is revisited when it becomes unconditional or one of its
    // sets grows; flags only go true -> false and sets only grow, so this ends, cycles included.
    let mut work = vec![root_node];
    while let Some(c) = work.pop() {
        let cu = c as usize;
        let Some(info) = infos[cu].clone() else {
            continue;
        };
        let edges = Arc::clone(&all_edges[cu]);
        let c_conditional = conditional[cu].unwrap_or(true);
        let (c_blockers, c_batch) = if sets {
            (blockers[cu].clone(), batch_wait[cu].clone())
        } else {
            (FixedBitSet::new(), FixedBitSet::new())
        };
        let guard = c != root_node && guarded(&info);
        // Each usage's target, by node (a target the walk did not list gets a node here).
        let mut node_of = |id: &str, order: &mut Vec<String>| -> u32 {
            if let Some(&n) = index.get(id) {
                return n;
            }
            let n = order.len() as u32;
            order.push(id.to_string());
            index.insert(id.to_string(), n);
            conditional.push(None);
            blockers.push(FixedBitSet::new());
            batch_wait.push(FixedBitSet::new());
            infos.push(project.module(id));
            all_edges.push(project.edges(id));
            n
        };
        let targets: Vec<(u32, u32, bool)> = edges
            .edges
            .iter()
            .filter(|e| !e.island)
            .map(|e| (e.usage, node_of(&e.to, &mut order), e.conditional))
            .collect();
        // By usage index (a usage of `info`), its target's node.
        let mut usage_target: Vec<Option<u32>> = vec![None; info.usages.len()];
        for &(u, t, _) in &targets {
            if let Some(slot) = usage_target.get_mut(u as usize) {
                *slot = Some(t);
            }
        }
        for &(usage, child, edge_conditional) in &targets {
            let ch = child as usize;
            let enters_conditionally = edge_conditional || guard;
            let is_conditional = c_conditional || enters_conditionally;
            let mut changed = false;
            match conditional[ch] {
                None => {
                    conditional[ch] = Some(is_conditional);
                    changed = true;
                }
                Some(true) if !is_conditional => {
                    conditional[ch] = Some(false);
                    changed = true;
                }
                _ => {}
            }
            if sets {
                // Slot content renders after every component tag that encloses it here.
                let mut wait = c_blockers.clone();
                wait.grow_and_insert(cu);
                let mut parent = info.usages.get(usage as usize).and_then(|u| u.parent);
                for _ in 0..=info.usages.len() {
                    let Some(p) = parent else { break };
                    if let Some(&Some(t)) = usage_target.get(p as usize) {
                        wait.grow_and_insert(t as usize);
                        wait.union_with(&blockers[t as usize]);
                    }
                    parent = info.usages.get(p as usize).and_then(|u| u.parent);
                }
                if ch < wait.len() {
                    wait.set(ch, false);
                }
                // A component entered conditionally starts its own tree's batch when it renders.
                let batch = if enters_conditionally {
                    wait.clone()
                } else {
                    c_batch.clone()
                };
                for (sets, add) in [(&mut blockers, wait), (&mut batch_wait, batch)] {
                    let entry = &mut sets[ch];
                    let before = entry.count_ones(..);
                    entry.union_with(&add);
                    changed |= entry.count_ones(..) != before;
                }
            }
            if changed {
                work.push(child);
            }
        }
    }
    Reach {
        order,
        index,
        conditional,
        blockers: blockers
            .iter()
            .map(|b| b.ones().map(|n| n as u32).collect())
            .collect(),
        batch_wait: batch_wait
            .iter()
            .map(|b| b.ones().map(|n| n as u32).collect())
            .collect(),
        infos,
        edges: all_edges,
    }
}

/// Plans `root` (a component's module id). The walk should be complete; what is still unknown
/// is left out (`complete: false`).
pub fn plan(project: &Project, root: &str, options: &PlanOptions) -> Result<Plan, Box<PlanError>> {
    match plan_as(project, root, options, Detail::Full)? {
        Planned::Full(plan) => Ok(plan),
        Planned::Batch(_) => unreachable!("a full plan was asked for"),
    }
}

/// A list sorted, without repeats.
fn sorted_unique(mut list: Vec<String>) -> Vec<String> {
    list.sort_unstable();
    list.dedup();
    list
}

/// Notes in a stable order: by file, position and code.
fn sort_notes(notes: &mut [Diagnostic]) {
    notes.sort_by(|a, b| {
        (a.file.as_str(), a.line, a.column, a.code).cmp(&(
            b.file.as_str(),
            b.line,
            b.column,
            b.code,
        ))
    });
}

/// What a component's code needs of its plan, and nothing more: the batch entries, the start
/// order (under a concurrency limit only), the notes and the files read. A build asks this of
/// every component it transforms; the schedules, waves and critical path of a full [`Plan`] are
/// for reports.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Batch {
    pub entries: Vec<BatchEntry>,
    /// Start order of the runtime's queue; empty without a concurrency limit.
    pub order: Vec<String>,
    pub notes: Vec<Diagnostic>,
    pub files: Vec<String>,
    pub complete: bool,
    /// The root's dataflow tree as JSON (see [`crate::dataflow::FlowNode`]): the instances the
    /// runtime starts once their props are known; none when there are none.
    pub flow: Option<String>,
}

/// The batch of one root component: the same entries, order and notes as its [`plan`].
pub fn batch(
    project: &Project,
    root: &str,
    options: &PlanOptions,
) -> Result<Batch, Box<PlanError>> {
    match plan_as(project, root, options, Detail::Batch)? {
        Planned::Batch(batch) => Ok(batch),
        Planned::Full(_) => unreachable!("a batch was asked for"),
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Detail {
    Full,
    Batch,
}

enum Planned {
    Full(Plan),
    Batch(Batch),
}

fn plan_as(
    project: &Project,
    root: &str,
    options: &PlanOptions,
    detail: Detail,
) -> Result<Planned, Box<PlanError>> {
    let root_info = project.module(root).filter(|info| {
        !info
            .diagnostics
            .iter()
            .any(|d| matches!(d.code, Code::ReadError | Code::UnsupportedFile))
    });
    let Some(root_info) = root_info else {
        return Err(Box::new(PlanError {
            diagnostic: Diagnostic::in_file(
                project.relative(root),
                1,
                1,
                Severity::Error,
                Code::RouteFailed,
                format!("{} is not a module of the project", project.relative(root)),
            ),
            cycle: Vec::new(),
            entries: Vec::new(),
        }));
    };
    let reached = reach(project, root, true);
    // Instances the runtime starts once their props (or their condition) are known: needed when
    // the tree has a loader that reads props, or a hoistable one reached only conditionally.
    let needs_flow = reached.infos.iter().enumerate().any(|(n, info)| {
        info.as_ref().is_some_and(|info| match run_kind(info) {
            Some(RunKind::Props) => true,
            Some(RunKind::Shared) => reached
                .conditional
                .get(n)
                .copied()
                .flatten()
                .unwrap_or(false),
            None => false,
        })
    });
    let flow = if needs_flow {
        dataflow(project, root)
    } else {
        Dataflow::default()
    };
    let mut complete = true;
    let mut notes: Vec<Diagnostic> = Vec::new();
    let mut noted: HashSet<(Code, String, u32, u32)> = HashSet::default();
    let mut note = |d: Diagnostic, notes: &mut Vec<Diagnostic>| {
        if noted.insert((d.code, d.file.clone(), d.line, d.column)) {
            notes.push(d);
        }
    };
    // Every module read, deduplicated by hash and sorted once (paths share long prefixes, which
    // makes each ordered insert a long comparison).
    let mut read: HashSet<&str> = HashSet::default();
    for (n, c) in reached.order.iter().enumerate() {
        read.insert(c.as_str());
        let edges = &reached.edges[n];
        complete &= edges.complete;
        read.extend(edges.read.iter().map(String::as_str));
        for d in &edges.notes {
            note(d.clone(), &mut notes);
        }
        if let Some(info) = &reached.infos[n] {
            for d in info
                .diagnostics
                .iter()
                .filter(|d| d.severity != Severity::Info)
            {
                let mut d = d.clone();
                d.file = project.relative(c);
                note(d, &mut notes);
            }
        }
    }
    let mut files: Vec<String> = read.into_iter().map(str::to_string).collect();

    // The loaders: reached components with a loader, then loaders pulled in through ctx.load.
    let mut comps: Vec<String> = reached
        .order
        .iter()
        .zip(&reached.infos)
        .filter(|(_, info)| info.as_ref().is_some_and(|i| i.loader.is_some()))
        .map(|(c, _)| c.clone())
        .collect();
    let mut deps_of: HashMap<String, Vec<String>> = HashMap::default();
    let mut i = 0;
    while i < comps.len() {
        let c = comps[i].clone();
        i += 1;
        let info = project
            .module(&c)
            .expect("a reached component with a loader");
        let deps: Vec<String> = project
            .load_dependencies(&c, &info)
            .into_iter()
            .filter(|d| project.module(d).is_some_and(|i| i.loader.is_some()))
            .collect();
        for d in &deps {
            files.push(d.clone());
            if !comps.contains(d) {
                comps.push(d.clone());
            }
        }
        deps_of.insert(c, deps);
    }
    let index_of: HashMap<&str, usize> = comps
        .iter()
        .enumerate()
        .map(|(i, c)| (c.as_str(), i))
        .collect();
    // Each task's analysis, id and root-relative path, looked up once.
    let task_infos: Vec<Arc<ComponentInfo>> = comps
        .iter()
        .map(|c| {
            reached
                .node(c)
                .and_then(|n| reached.infos[n].clone())
                .or_else(|| project.module(c))
                .expect("a planned component")
        })
        .collect();
    let task_paths: Vec<String> = comps.iter().map(|c| project.relative(c)).collect();
    let info_of = |c: &str| match index_of.get(c) {
        Some(&t) => Arc::clone(&task_infos[t]),
        None => project.module(c).expect("a planned component"),
    };
    let cost_of = |c: &str| {
        let info = info_of(c);
        options
            .costs
            .get(&info.id)
            .or_else(|| {
                index_of
                    .get(c)
                    .and_then(|&t| options.costs.get(&task_paths[t]))
            })
            .copied()
            .filter(|v| v.is_finite() && *v >= 0.0)
            .unwrap_or(1.0)
    };
    // A reached component's task, by its node in the walk.
    let mut task_of_node: Vec<Option<usize>> = vec![None; reached.order.len()];
    for (t, c) in comps.iter().enumerate() {
        if let Some(n) = reached.node(c) {
            task_of_node[n] = Some(t);
        }
    }
    let tasks_of = |set: &[u32]| -> Vec<usize> {
        set.iter()
            .filter_map(|&n| task_of_node.get(n as usize).copied().flatten())
            .collect()
    };

    let mut entries = Vec::new();
    let mut hoisted = vec![false; comps.len()];
    let mut reasons: Vec<Option<String>> = vec![None; comps.len()];
    let mut tasks = Vec::with_capacity(comps.len());
    for (t, c) in comps.iter().enumerate() {
        let info = info_of(c);
        let loader = info.loader.as_ref().expect("filtered on loader");
        let is_reached = reached.conditional(c).is_some();
        let conditional = reached.conditional(c).unwrap_or(true);
        let component = task_paths[t].clone();
        let at = |code: Code, severity: Severity, message: String| {
            Diagnostic::in_file(
                component.clone(),
                loader.span.line,
                loader.span.column,
                severity,
                code,
                message,
            )
        };
        // Nothing would read a loader whose component never calls getLoaderData().
        let read = !info.loader_data_calls.is_empty();
        let hoistable = loader.hoistable && read;
        if hoistable && is_reached {
            entries.push(BatchEntry {
                id: info.id.clone(),
                file: c.clone(),
                component: component.clone(),
                conditional,
            });
        }
        hoisted[t] = hoistable && is_reached && (!conditional || options.speculative);
        let mut preds: Vec<usize> = deps_of[c].iter().map(|d| index_of[d.as_str()]).collect();
        // Started by the runtime's walk of the dataflow tree, as soon as the data its props (or
        // its condition) are made of has resolved: every instance of it on this tree is traced.
        let by_flow = is_reached
            && read
            && !hoisted[t]
            && (loader.by_props || hoistable)
            && flow.waits.contains_key(c)
            && !flow.untraced.contains_key(c);
        let waits_on: Vec<usize> = if by_flow {
            flow.waits.get(c).map_or_else(Vec::new, |set| {
                set.iter()
                    .filter_map(|x| index_of.get(x.as_str()).copied())
                    .collect()
            })
        } else {
            Vec::new()
        };
        if by_flow {
            hoisted[t] = true;
            preds.extend(waits_on.iter().copied());
        } else if !hoisted[t] {
            if hoistable && is_reached {
                // Started by the batch of the conditional component that leads to it.
                preds.extend(tasks_of(reached.batch_wait(c)));
            } else {
                preds.extend(tasks_of(reached.blockers(c)));
            }
        }
        preds.retain(|&p| p != t);
        preds.sort_unstable();
        preds.dedup();
        let sources = || {
            let names: Vec<String> = waits_on.iter().map(|&p| task_paths[p].clone()).collect();
            names.join(", ")
        };
        reasons[t] = if !is_reached {
            Some("not rendered by this route; started only through ctx.load".to_string())
        } else if by_flow && loader.by_props {
            (!waits_on.is_empty()).then(|| {
                format!(
                    "its props come from the data of {}: it starts when that resolves",
                    sources()
                )
            })
        } else if by_flow {
            Some(if waits_on.is_empty() {
                "rendered under a condition known at request start: it starts then".to_string()
            } else {
                format!(
                    "rendered under a condition on the data of {}: it starts when that resolves",
                    sources()
                )
            })
        } else if loader.by_props && read {
            let why = flow.untraced.get(c).cloned();
            let text = match &why {
                Some(d) => format!("{} ({}:{}:{})", d.message, d.file, d.line, d.column),
                None => "its usages' props are not traced".to_string(),
            };
            if let Some(mut d) = why {
                d.severity = Severity::Warning;
                d.message = format!(
                    "the loader of {component} reads its props, and they are not traced here: {}; it runs at render, once per distinct props",
                    d.message
                );
                note(d, &mut notes);
            }
            Some(format!(
                "its props are not known before render: {text}; it starts when its component renders, once per distinct props"
            ))
        } else if !loader.hoistable {
            let why = loader
                .reason
                .clone()
                .unwrap_or_else(|| "it depends on the render".into());
            note(
                at(Code::LoaderNotHoistable, Severity::Warning, why.clone()),
                &mut notes,
            );
            Some(format!(
                "not hoistable: {why}; starts when its component renders"
            ))
        } else if !read {
            let why =
                "the component never calls getLoaderData() from 'astro-hoist/runtime'".to_string();
            let uses_runtime = info
                .imports
                .iter()
                .any(|i| i.source == crate::record::RUNTIME_MODULE);
            note(
                at(
                    Code::LoaderUnused,
                    if uses_runtime {
                        Severity::Warning
                    } else {
                        Severity::Info
                    },
                    why.clone(),
                ),
                &mut notes,
            );
            Some(format!("not started: {why}"))
        } else if conditional && !options.speculative {
            note(
                at(
                    Code::LoaderConditional,
                    Severity::Info,
                    format!(
                        "reached from {} only through conditional usages ({{…}}) or a guard: it starts when its conditional ancestor renders; speculative: true starts it with the batch",
                        project.relative(root)
                    ),
                ),
                &mut notes,
            );
            Some("reached only through conditional usages ({…}) or a guard: starts with the batch of the component that renders it conditionally (speculative: true starts it early)".to_string())
        } else {
            None
        };
        tasks.push(Task {
            cost: cost_of(c),
            preds,
        });
    }
    if let Some(cycle) = find_cycle(&tasks) {
        let files: Vec<String> = cycle.iter().map(|&t| task_paths[t].clone()).collect();
        let first = &comps[cycle[0]];
        let span = info_of(first)
            .loader
            .as_ref()
            .map(|l| (l.span.line, l.span.column))
            .unwrap_or((1, 1));
        return Err(Box::new(PlanError {
            diagnostic: Diagnostic::in_file(
                files[0].clone(),
                span.0,
                span.1,
                Severity::Error,
                Code::LoaderCycle,
                format!("loader dependency cycle: {}", files.join(" -> ")),
            )
            .with_help("a loader cannot wait, through ctx.load, for a loader that waits for it"),
            cycle: files,
            entries,
        }));
    }
    let machines = options.concurrency.map(|c| c.max(1) as usize);
    if detail == Detail::Batch {
        sort_notes(&mut notes);
        let order = if machines.is_some() {
            let after = list_schedule(&tasks, machines, &lpt_priority(&tasks));
            after
                .order
                .iter()
                .map(|&t| task_infos[t].id.clone())
                .collect()
        } else {
            Vec::new()
        };
        return Ok(Planned::Batch(Batch {
            entries,
            order,
            notes,
            files: sorted_unique(files),
            complete,
            flow: flow
                .root
                .as_ref()
                .and_then(|root| serde_json::to_string(root).ok()),
        }));
    }
    let after = list_schedule(&tasks, machines, &lpt_priority(&tasks));
    let wave_after = waves(&tasks);

    // Without hoisting every loader starts when its component renders; there is no limit.
    let before_tasks: Vec<Task> = comps
        .iter()
        .enumerate()
        .map(|(t, c)| {
            let mut preds = tasks_of(reached.blockers(c));
            preds.extend(deps_of[c].iter().map(|d| index_of[d.as_str()]));
            preds.retain(|&p| p != t);
            preds.sort_unstable();
            preds.dedup();
            Task {
                cost: tasks[t].cost,
                preds,
            }
        })
        .collect();
    let (before, wave_before) = if find_cycle(&before_tasks).is_none() {
        (
            list_schedule(&before_tasks, None, &lpt_priority(&before_tasks)),
            waves(&before_tasks),
        )
    } else {
        // A render cycle: Astro would recurse; report the hoisted figures for both.
        (after.clone(), wave_after.clone())
    };

    let id = |t: usize| task_infos[t].id.clone();
    let mut loaders: Vec<PlannedLoader> = (0..comps.len())
        .map(|t| {
            let c = &comps[t];
            let reason = reasons[t].clone().or_else(|| {
                (wave_after[t] > 1).then(|| {
                    let names: Vec<String> = tasks[t]
                        .preds
                        .iter()
                        .map(|&p| task_paths[p].clone())
                        .collect();
                    format!("awaits {} through ctx.load", names.join(", "))
                })
            });
            PlannedLoader {
                id: id(t),
                component: task_paths[t].clone(),
                wave: wave_after[t],
                hoisted: hoisted[t],
                conditional: reached.conditional(c).unwrap_or(true),
                reason,
                cost: tasks[t].cost,
                start: after.start[t],
                finish: after.finish[t],
                depends_on: deps_of[c]
                    .iter()
                    .map(|d| id(index_of[d.as_str()]))
                    .collect(),
                waits_for: tasks[t].preds.iter().map(|&p| id(p)).collect(),
                wave_before: wave_before[t],
                start_before: before.start[t],
                finish_before: before.finish[t],
            }
        })
        .collect();
    let critical = critical_path(&tasks, &after).into_iter().map(id).collect();
    let order = after.order.iter().map(|&t| id(t)).collect();
    loaders.sort_by(|a, b| {
        a.wave
            .cmp(&b.wave)
            .then(a.start.total_cmp(&b.start))
            .then(a.component.cmp(&b.component))
    });
    sort_notes(&mut notes);
    let (awaits, await_depth, await_depth_after) = await_steps(project, &reached);
    Ok(Planned::Full(Plan {
        awaits,
        await_depth,
        await_depth_after,
        root: project.relative(root),
        entries,
        batch_start: root_info.early_returns.last().copied(),
        depth_before: wave_before.iter().copied().max().unwrap_or(0),
        depth_after: wave_after.iter().copied().max().unwrap_or(0),
        loaders,
        critical_path: critical,
        makespan: after.makespan,
        makespan_before: before.makespan,
        order,
        notes,
        files: sorted_unique(files),
        complete,
        flow: flow
            .root
            .as_ref()
            .and_then(|root| serde_json::to_string(root).ok()),
    }))
}

/// The frontmatter awaits of a root's render, by step. Plain Astro renders a component once
/// every component it waits for (its parent, the components whose slot it is in) has finished
/// its frontmatter, and a frontmatter's awaits run one after the other; siblings render
/// concurrently. So a component's first await is at step 1 + the most steps of any component
/// it waits for. After `migrate`, the movable awaits are loaders started together (step 1) and
/// the awaits that stay follow them.
fn await_steps(project: &Project, reached: &Reach) -> (Vec<AwaitStep>, u32, u32) {
    // Per node: (awaits, awaits that stay); most trees have none at all.
    let counts: Vec<(u32, u32)> = reached
        .order
        .iter()
        .map(|c| {
            project.module(c).map_or((0, 0), |info| {
                let kept = info.awaits.iter().filter(|a| !a.movable).count();
                (info.awaits.len() as u32, kept as u32)
            })
        })
        .collect();
    if counts.iter().all(|&(n, _)| n == 0) {
        return (Vec::new(), 0, 0);
    }
    struct Walk<'a> {
        reached: &'a Reach,
        counts: &'a [(u32, u32)],
        /// Steps before and after migration at which each node's frontmatter has finished.
        memo: Vec<Option<(u32, u32)>>,
        open: Vec<bool>,
    }
    impl Walk<'_> {
        fn finish(&mut self, n: usize) -> (u32, u32) {
            if let Some(f) = self.memo[n] {
                return f;
            }
            // A component that renders itself (through props) waits for nothing more.
            if std::mem::replace(&mut self.open[n], true) {
                return (0, 0);
            }
            let (start, start_after) = self.start(n);
            let (total, kept) = self.counts[n];
            // Moved awaits are a loader that started at step 1 (or when the component renders,
            // if that is later): the component reads it, then runs the awaits that stay.
            let after = if total > kept {
                start_after.max(1) + kept
            } else {
                start_after + kept
            };
            self.open[n] = false;
            let f = (start + total, after);
            self.memo[n] = Some(f);
            f
        }
        fn start(&mut self, n: usize) -> (u32, u32) {
            let mut start = (0, 0);
            for &b in &self.reached.blockers[n] {
                let f = self.finish(b as usize);
                start = (start.0.max(f.0), start.1.max(f.1));
            }
            start
        }
    }
    let mut walk = Walk {
        reached,
        counts: &counts,
        memo: vec![None; reached.order.len()],
        open: vec![false; reached.order.len()],
    };
    let mut steps = Vec::new();
    let (mut depth, mut depth_after) = (0, 0);
    for (n, c) in reached.order.iter().enumerate() {
        if reached.conditional[n].is_none() {
            continue;
        }
        let f = walk.finish(n);
        depth = depth.max(f.0);
        depth_after = depth_after.max(f.1);
        if counts[n].0 == 0 {
            continue;
        }
        let Some(info) = project.module(c) else {
            continue;
        };
        let (start, _) = walk.start(n);
        let conditional = reached.conditional[n].unwrap_or(false);
        for (i, a) in info.awaits.iter().enumerate() {
            steps.push(AwaitStep {
                component: project.relative(c),
                line: a.span.line,
                column: a.span.column,
                text: a.text.clone(),
                step: start + i as u32 + 1,
                conditional,
                movable: a.movable,
                reason: a.reason.clone(),
            });
        }
    }
    steps.sort_by(|a, b| (a.step, &a.component, a.line).cmp(&(b.step, &b.component, b.line)));
    (steps, depth, depth_after)
}

/// Loaders no route starts with its batch: each component with a read, hoistable loader that
/// the project knows (analyzed files, modules the walk met) and that no route renders
/// unconditionally, once, with why: rendered by no route at all (a warning: its loader never
/// runs early), or only through conditional usages or guards (info: it starts when its
/// conditional ancestor renders). Sorted by file.
pub fn unreached_loaders(project: &Project) -> Vec<Diagnostic> {
    // Components some route renders unconditionally, and the others' routes (by pattern) that
    // render them conditionally. Every route's tree is walked, so the routes are walked in
    // parallel (a thousand routes are a thousand walks).
    type Found = (HashSet<String>, HashMap<String, BTreeSet<String>>);
    let routes = project.routes();
    let (unconditional, conditional): Found = crate::pool::pool().install(|| {
        routes
            .par_iter()
            .fold(
                Found::default,
                |(mut unconditional, mut conditional), route| {
                    if let Ok(Some(root)) = project.route_root(route) {
                        let reached = reach(project, &root, false);
                        for (c, flag) in reached.order.into_iter().zip(reached.conditional) {
                            match flag {
                                Some(true) => {
                                    conditional
                                        .entry(c)
                                        .or_default()
                                        .insert(route.pattern.clone());
                                }
                                Some(false) => {
                                    unconditional.insert(c);
                                }
                                None => {}
                            }
                        }
                    }
                    (unconditional, conditional)
                },
            )
            .reduce(
                Found::default,
                |(mut unconditional, mut conditional), (u, c)| {
                    unconditional.extend(u);
                    for (component, patterns) in c {
                        conditional.entry(component).or_default().extend(patterns);
                    }
                    (unconditional, conditional)
                },
            )
    });
    let mut out = Vec::new();
    for (id, info) in project.modules() {
        let Some(loader) = info.loader.as_ref() else {
            continue;
        };
        if !loader.hoistable
            || info.loader_data_calls.is_empty()
            || unconditional.contains(&id)
            || !is_component(&id)
        {
            continue;
        }
        let component = project.relative(&id);
        let (severity, message) = match conditional.get(&id) {
            Some(routes) => {
                let list: Vec<&str> = routes.iter().take(3).map(String::as_str).collect();
                let more = if routes.len() > 3 { format!(" and {} more", routes.len() - 3) } else { String::new() };
                (
                    Severity::Info,
                    format!("no route renders it unconditionally (only inside {{…}} or after a guard, on {}{more}): its loader starts when its conditional ancestor renders", list.join(", ")),
                )
            }
            None => (
                Severity::Warning,
                "no route renders it (Astro's routes, their layouts and server islands): its loader never starts early".to_string(),
            ),
        };
        out.push(Diagnostic::in_file(
            component,
            loader.span.line,
            loader.span.column,
            severity,
            Code::LoaderUnreached,
            message,
        ));
    }
    out.sort_by(|a, b| a.file.cmp(&b.file));
    out
}

/// Plans one route: its root component (the page, a Markdown page's layout, the island).
pub fn plan_route(project: &Project, route: &Route, options: &PlanOptions) -> RoutePlan {
    let (plan, error) = match project.route_root(route) {
        Ok(Some(root)) => match plan(project, &root, options) {
            Ok(p) => (Some(p), None),
            Err(e) => (None, Some(*e)),
        },
        Ok(None) => (None, None),
        Err(diagnostic) => (
            None,
            Some(PlanError {
                diagnostic,
                cycle: Vec::new(),
                entries: Vec::new(),
            }),
        ),
    };
    RoutePlan {
        kind: route.kind,
        pattern: route.pattern.clone(),
        entry: project.relative(&route.entry),
        plan,
        error,
    }
}

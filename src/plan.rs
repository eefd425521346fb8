//! The batch planner: for one page, which loaders start together, which must wait and why,
//! and what the page costs with and without hoisting.
//!
//! Without hoisting, Astro starts a component's loader only when the component renders: after
//! its parent's frontmatter and, for a slot child, after every enclosing component's. With
//! hoisting, every hoistable loader reachable through unconditional usages starts at request
//! start (batch 1); a loader that awaits others through `ctx.load` waits for them; a loader
//! that cannot be hoisted, or is reachable only conditionally, starts when its component
//! renders — after the loaders its render waits for. Loaders run once per request, however
//! many times their component appears.

use std::collections::{BTreeSet, HashMap, HashSet};

use serde::{Deserialize, Serialize};

use crate::component::relative_path;
use crate::project::ProjectGraph;

/// How a page is planned.
#[derive(Debug, Clone, Default)]
pub struct PlanOptions {
    /// Estimated ms per loader, by component id (default 1).
    pub costs: HashMap<String, f64>,
    /// Most loaders in flight at once; unlimited when `None`.
    pub concurrency: Option<u32>,
    /// Also start loaders reachable only through conditional usages in batch 1.
    pub speculative: bool,
}

/// One loader of a planned page.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PlannedLoader {
    /// The component id: the runtime's key for this loader.
    pub id: String,
    /// Root-relative path of the component.
    pub component: String,
    /// 1 = starts at request start; n = starts after loaders of batch n-1 it waits for.
    pub batch: u32,
    /// Started in the page's batch at request start (possibly waiting on `ctx.load`).
    pub hoisted: bool,
    /// Reachable only through conditional usages.
    pub conditional: bool,
    /// Why it is not in batch 1.
    pub reason: Option<String>,
    pub cost: f64,
    /// Estimated start and finish in ms from request start.
    pub start: f64,
    pub finish: f64,
    /// Ids of loaders it awaits through `ctx.load`.
    pub depends_on: Vec<String>,
    /// Ids of loaders that must finish before it can start (dependencies, and for a loader
    /// that starts at render, the loaders its component's render waits for).
    pub waits_for: Vec<String>,
    /// Without hoisting: its wave and estimated times.
    pub batch_before: u32,
    pub start_before: f64,
    pub finish_before: f64,
}

/// The plan of one page.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Plan {
    /// Root-relative path of the page.
    pub page: String,
    /// The loaders a request for the page runs, by batch then start.
    pub loaders: Vec<PlannedLoader>,
    /// Longest chain of nested loaders without hoisting (Astro's waterfall depth).
    pub depth_before: u32,
    /// Number of batches with hoisting.
    pub depth_after: u32,
    /// Ids along the chain that decides the makespan.
    pub critical_path: Vec<String>,
    /// Estimated ms until every loader has finished, with hoisting.
    pub makespan: f64,
    /// The same without hoisting.
    pub makespan_before: f64,
    /// Start order under the concurrency limit: the order the runtime queues loaders in.
    pub order: Vec<String>,
}

/// A page that cannot be planned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlanError(pub String);

impl std::fmt::Display for PlanError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// A task for the scheduler: a cost and the tasks that must finish before it starts.
#[derive(Debug, Clone)]
pub struct Task {
    pub cost: f64,
    pub preds: Vec<usize>,
}

/// The outcome of list scheduling.
#[derive(Debug, Clone)]
pub struct Schedule {
    pub start: Vec<f64>,
    pub finish: Vec<f64>,
    pub order: Vec<usize>,
    pub makespan: f64,
}

/// Longest path from each task to the end, its own cost included (the "bottom level").
pub fn bottom_levels(tasks: &[Task]) -> Vec<f64> {
    let order = topological(tasks);
    let mut succs: Vec<Vec<usize>> = vec![Vec::new(); tasks.len()];
    for (i, t) in tasks.iter().enumerate() {
        for &p in &t.preds {
            succs[p].push(i);
        }
    }
    let mut level = vec![0.0; tasks.len()];
    for &i in order.iter().rev() {
        let tail = succs[i].iter().map(|&s| level[s]).fold(0.0, f64::max);
        level[i] = tasks[i].cost + tail;
    }
    level
}

/// Tasks in an order where every predecessor comes first (the caller guarantees no cycle).
fn topological(tasks: &[Task]) -> Vec<usize> {
    let mut indegree: Vec<usize> = tasks.iter().map(|t| t.preds.len()).collect();
    let mut succs: Vec<Vec<usize>> = vec![Vec::new(); tasks.len()];
    for (i, t) in tasks.iter().enumerate() {
        for &p in &t.preds {
            succs[p].push(i);
        }
    }
    let mut ready: Vec<usize> = (0..tasks.len()).filter(|&i| indegree[i] == 0).collect();
    let mut out = Vec::with_capacity(tasks.len());
    while let Some(i) = ready.pop() {
        out.push(i);
        for &s in &succs[i] {
            indegree[s] -= 1;
            if indegree[s] == 0 {
                ready.push(s);
            }
        }
    }
    out
}

/// List scheduling on `machines` machines (`None` = unlimited): whenever a machine is free,
/// the ready task earliest in `priority` starts.
pub fn list_schedule(tasks: &[Task], machines: Option<usize>, priority: &[usize]) -> Schedule {
    let n = tasks.len();
    let rank: HashMap<usize, usize> = priority.iter().enumerate().map(|(r, &t)| (t, r)).collect();
    let mut remaining: Vec<usize> = tasks.iter().map(|t| t.preds.len()).collect();
    let mut succs: Vec<Vec<usize>> = vec![Vec::new(); n];
    for (i, t) in tasks.iter().enumerate() {
        for &p in &t.preds {
            succs[p].push(i);
        }
    }
    let mut ready_at = vec![0.0f64; n];
    let mut ready: BTreeSet<(usize, usize)> = (0..n)
        .filter(|&i| remaining[i] == 0)
        .map(|i| (rank[&i], i))
        .collect();
    let mut running: Vec<(f64, usize)> = Vec::new();
    let mut start = vec![0.0; n];
    let mut finish = vec![0.0; n];
    let mut order = Vec::with_capacity(n);
    let mut now = 0.0f64;
    let cap = machines.unwrap_or(usize::MAX).max(1);
    while order.len() < n {
        // Start what can start now.
        while running.len() < cap {
            let Some(&(r, i)) = ready.iter().find(|&&(_, i)| ready_at[i] <= now) else {
                break;
            };
            ready.remove(&(r, i));
            start[i] = now;
            finish[i] = now + tasks[i].cost;
            order.push(i);
            running.push((finish[i], i));
        }
        // Advance to the next finish (or the next readiness, with machines idle).
        let next_finish = running.iter().map(|r| r.0).fold(f64::INFINITY, f64::min);
        let next_ready = ready
            .iter()
            .map(|&(_, i)| ready_at[i])
            .filter(|&t| t > now)
            .fold(f64::INFINITY, f64::min);
        let next = next_finish.min(next_ready);
        if !next.is_finite() {
            break; // Only possible with a cycle, which callers rule out.
        }
        now = next;
        running.retain(|&(f, i)| {
            if f <= now {
                for &s in &succs[i] {
                    remaining[s] -= 1;
                    ready_at[s] = ready_at[s].max(f);
                    if remaining[s] == 0 {
                        ready.insert((rank[&s], s));
                    }
                }
                false
            } else {
                true
            }
        });
    }
    let makespan = finish.iter().copied().fold(0.0, f64::max);
    Schedule {
        start,
        finish,
        order,
        makespan,
    }
}

/// Longest-processing-time-first list scheduling, critical path first: tasks with the longest
/// remaining path go first, ties by own cost, then by index.
pub fn lpt_priority(tasks: &[Task]) -> Vec<usize> {
    let levels = bottom_levels(tasks);
    let mut order: Vec<usize> = (0..tasks.len()).collect();
    order.sort_by(|&a, &b| {
        levels[b]
            .total_cmp(&levels[a])
            .then(tasks[b].cost.total_cmp(&tasks[a].cost))
            .then(a.cmp(&b))
    });
    order
}

/// A dependency cycle among tasks, as indices, if any.
pub fn find_cycle(tasks: &[Task]) -> Option<Vec<usize>> {
    // 0 = unvisited, 1 = on the current path, 2 = done.
    let mut state = vec![0u8; tasks.len()];
    for start in 0..tasks.len() {
        if state[start] != 0 {
            continue;
        }
        let mut path: Vec<(usize, usize)> = vec![(start, 0)];
        state[start] = 1;
        while let Some(&mut (v, ref mut next)) = path.last_mut() {
            if let Some(&w) = tasks[v].preds.get(*next) {
                *next += 1;
                match state[w] {
                    0 => {
                        state[w] = 1;
                        path.push((w, 0));
                    }
                    1 => {
                        let from = path.iter().position(|&(p, _)| p == w).unwrap_or(0);
                        let mut cycle: Vec<usize> = path[from..].iter().map(|&(p, _)| p).collect();
                        cycle.push(w);
                        return Some(cycle);
                    }
                    _ => {}
                }
            } else {
                state[v] = 2;
                path.pop();
            }
        }
    }
    None
}

/// What the render of each reachable component waits for.
struct Reach {
    /// Component index -> reachable only conditionally.
    conditional: HashMap<usize, bool>,
    /// Component index -> components whose frontmatter must finish before it renders.
    blockers: HashMap<usize, BTreeSet<usize>>,
}

/// Walks the component tree from the page. A usage nested in other component tags of the same
/// template (a slot child) waits for those components too.
fn reach(graph: &ProjectGraph, page: usize, by_file: &HashMap<&str, usize>) -> Reach {
    let mut conditional: HashMap<usize, bool> = HashMap::new();
    let mut blockers: HashMap<usize, BTreeSet<usize>> = HashMap::new();
    conditional.insert(page, false);
    blockers.insert(page, BTreeSet::new());
    // Worklist relaxation: a component is revisited when it becomes unconditional or gains
    // blockers; both only grow, so this ends even with cycles.
    let mut work = vec![page];
    while let Some(c) = work.pop() {
        let node = &graph.nodes[c];
        let c_conditional = conditional[&c];
        let c_blockers = blockers[&c].clone();
        let usage_target: HashMap<u32, usize> = node
            .edges
            .iter()
            .filter_map(|e| by_file.get(e.to.as_str()).map(|&t| (e.usage, t)))
            .collect();
        for edge in &node.edges {
            let Some(&child) = by_file.get(edge.to.as_str()) else {
                continue;
            };
            // Enclosing component tags in this template.
            let mut enclosing = Vec::new();
            let mut parent = node
                .info
                .usages
                .get(edge.usage as usize)
                .and_then(|u| u.parent);
            let mut guard = 0;
            while let Some(p) = parent {
                if let Some(&t) = usage_target.get(&p) {
                    enclosing.push(t);
                }
                parent = node.info.usages.get(p as usize).and_then(|u| u.parent);
                guard += 1;
                if guard > node.info.usages.len() {
                    break;
                }
            }
            let mut wait = c_blockers.clone();
            wait.insert(c);
            for e in &enclosing {
                wait.insert(*e);
                if let Some(b) = blockers.get(e) {
                    wait.extend(b.iter().copied());
                }
            }
            wait.remove(&child);
            let is_conditional = c_conditional || edge.conditional;
            let mut changed = false;
            match conditional.get(&child) {
                None => {
                    conditional.insert(child, is_conditional);
                    changed = true;
                }
                Some(true) if !is_conditional => {
                    conditional.insert(child, false);
                    changed = true;
                }
                _ => {}
            }
            let entry = blockers.entry(child).or_default();
            let before = entry.len();
            entry.extend(wait);
            if entry.len() != before {
                changed = true;
            }
            if changed {
                work.push(child);
            }
        }
    }
    Reach {
        conditional,
        blockers,
    }
}

/// Resolves a `ctx.load` dependency's import source against the graph's files.
fn dependency_target(
    graph: &ProjectGraph,
    from: &str,
    source: &str,
    by_file: &HashMap<&str, usize>,
) -> Option<usize> {
    if !(source.starts_with("./") || source.starts_with("../")) {
        return None;
    }
    let dir = from.rsplit_once('/').map_or("", |(d, _)| d);
    let joined = relative_path(&format!("{dir}/{source}"), None);
    let candidates = [
        String::new(),
        ".astro".into(),
        ".ts".into(),
        ".js".into(),
        ".tsx".into(),
        ".mjs".into(),
    ];
    candidates
        .iter()
        .find_map(|ext| by_file.get(format!("{joined}{ext}").as_str()).copied())
        .filter(|&i| graph.nodes[i].info.loader.is_some())
}

/// Plans `page` (root-relative path, absolute path, or component id).
pub fn plan_page(
    graph: &ProjectGraph,
    page: &str,
    options: &PlanOptions,
) -> Result<Plan, PlanError> {
    let by_file: HashMap<&str, usize> = graph
        .nodes
        .iter()
        .enumerate()
        .map(|(i, n)| (n.file.as_str(), i))
        .collect();
    let page_node = graph
        .find(page)
        .ok_or_else(|| PlanError(format!("{page} is not a file of the scanned project")))?;
    let page_index = by_file[page_node.file.as_str()];
    let reached = reach(graph, page_index, &by_file);

    // The loaders: every reachable component with a loader, plus loaders pulled in through
    // `ctx.load` from elsewhere.
    let mut comps: Vec<usize> = reached
        .conditional
        .keys()
        .copied()
        .filter(|&c| graph.nodes[c].info.loader.is_some())
        .collect();
    comps.sort_by(|&a, &b| graph.nodes[a].file.cmp(&graph.nodes[b].file));
    let mut deps_of: HashMap<usize, Vec<usize>> = HashMap::new();
    let mut i = 0;
    while i < comps.len() {
        let c = comps[i];
        i += 1;
        let node = &graph.nodes[c];
        let loader = node.info.loader.as_ref().expect("filtered on loader");
        let mut deps = Vec::new();
        for d in &loader.depends_on {
            if let Some(t) = d
                .source
                .as_deref()
                .and_then(|s| dependency_target(graph, &node.file, s, &by_file))
            {
                deps.push(t);
                if !comps.contains(&t) {
                    comps.push(t);
                }
            }
        }
        deps_of.insert(c, deps);
    }
    let index_of: HashMap<usize, usize> = comps.iter().enumerate().map(|(i, &c)| (c, i)).collect();

    let cost_of = |c: usize| {
        options
            .costs
            .get(&graph.nodes[c].info.id)
            .copied()
            .filter(|v| v.is_finite() && *v >= 0.0)
            .unwrap_or(1.0)
    };
    let loader_blockers = |c: usize| -> Vec<usize> {
        reached
            .blockers
            .get(&c)
            .map(|b| b.iter().filter_map(|x| index_of.get(x).copied()).collect())
            .unwrap_or_default()
    };

    // With hoisting.
    let mut hoisted = vec![false; comps.len()];
    let mut tasks = Vec::with_capacity(comps.len());
    for (i, &c) in comps.iter().enumerate() {
        let loader = graph.nodes[c]
            .info
            .loader
            .as_ref()
            .expect("filtered on loader");
        let conditional = reached.conditional.get(&c).copied().unwrap_or(true);
        hoisted[i] = loader.hoistable
            && (!conditional || options.speculative)
            && reached.conditional.contains_key(&c);
        let mut preds: Vec<usize> = deps_of[&c].iter().map(|d| index_of[d]).collect();
        if !hoisted[i] {
            preds.extend(loader_blockers(c));
        }
        preds.sort_unstable();
        preds.dedup();
        tasks.push(Task {
            cost: cost_of(c),
            preds,
        });
    }
    if let Some(cycle) = find_cycle(&tasks) {
        let names: Vec<&str> = cycle
            .iter()
            .map(|&t| graph.nodes[comps[t]].file.as_str())
            .collect();
        return Err(PlanError(format!(
            "loader dependency cycle: {}",
            names.join(" -> ")
        )));
    }
    let machines = options.concurrency.map(|c| c.max(1) as usize);
    let after = list_schedule(&tasks, machines, &lpt_priority(&tasks));
    let batch_after = batches(&tasks);

    // Without hoisting every loader starts when its component renders; there is no limit.
    let before_tasks: Vec<Task> = comps
        .iter()
        .map(|&c| {
            let mut preds = loader_blockers(c);
            preds.extend(deps_of[&c].iter().map(|d| index_of[d]));
            preds.sort_unstable();
            preds.dedup();
            Task {
                cost: cost_of(c),
                preds,
            }
        })
        .collect();
    let (before, batch_before) = if find_cycle(&before_tasks).is_none() {
        let s = list_schedule(&before_tasks, None, &lpt_priority(&before_tasks));
        (s, batches(&before_tasks))
    } else {
        // A render cycle: Astro would recurse; report the hoisted figures for both.
        (after.clone(), batch_after.clone())
    };

    let id = |t: usize| graph.nodes[comps[t]].info.id.clone();
    let mut loaders: Vec<PlannedLoader> = (0..comps.len())
        .map(|t| {
            let c = comps[t];
            let node = &graph.nodes[c];
            let loader = node.info.loader.as_ref().expect("filtered on loader");
            let conditional = reached.conditional.get(&c).copied().unwrap_or(true);
            let reason = if !reached.conditional.contains_key(&c) {
                Some("not rendered by the page; started only through ctx.load".to_string())
            } else if !loader.hoistable {
                Some(format!(
                    "not hoistable: {}; starts when its component renders",
                    loader.reason.as_deref().unwrap_or("it depends on the render")
                ))
            } else if conditional && !options.speculative {
                Some("reachable only through conditional usages ({…}); starts when its component renders (speculative: true starts it early)".to_string())
            } else if !tasks[t].preds.is_empty() {
                let names: Vec<&str> = tasks[t].preds.iter().map(|&p| graph.nodes[comps[p]].file.as_str()).collect();
                Some(format!("awaits {} through ctx.load", names.join(", ")))
            } else {
                None
            };
            PlannedLoader {
                id: id(t),
                component: node.file.clone(),
                batch: batch_after[t],
                hoisted: hoisted[t],
                conditional,
                reason: reason.filter(|_| batch_after[t] > 1 || !hoisted[t]),
                cost: tasks[t].cost,
                start: after.start[t],
                finish: after.finish[t],
                depends_on: deps_of[&c].iter().map(|d| id(index_of[d])).collect(),
                waits_for: tasks[t].preds.iter().map(|&p| id(p)).collect(),
                batch_before: batch_before[t],
                start_before: before.start[t],
                finish_before: before.finish[t],
            }
        })
        .collect();

    let critical_path = critical_path(&tasks, &after).into_iter().map(id).collect();
    let order = after.order.iter().map(|&t| id(t)).collect();
    loaders.sort_by(|a, b| {
        a.batch
            .cmp(&b.batch)
            .then(a.start.total_cmp(&b.start))
            .then(a.component.cmp(&b.component))
    });
    Ok(Plan {
        page: page_node.file.clone(),
        depth_before: batch_before.iter().copied().max().unwrap_or(0),
        depth_after: batch_after.iter().copied().max().unwrap_or(0),
        loaders,
        critical_path,
        makespan: after.makespan,
        makespan_before: before.makespan,
        order,
    })
}

/// Each task's wave: 1 without predecessors, else one more than its latest predecessor.
fn batches(tasks: &[Task]) -> Vec<u32> {
    let mut batch = vec![1u32; tasks.len()];
    for i in topological(tasks) {
        batch[i] = tasks[i]
            .preds
            .iter()
            .map(|&p| batch[p] + 1)
            .max()
            .unwrap_or(1);
    }
    batch
}

/// From the last task to finish back through the predecessor that finished last.
fn critical_path(tasks: &[Task], s: &Schedule) -> Vec<usize> {
    let Some(mut t) = (0..tasks.len()).max_by(|&a, &b| s.finish[a].total_cmp(&s.finish[b])) else {
        return Vec::new();
    };
    let mut path = vec![t];
    let mut seen = HashSet::new();
    seen.insert(t);
    while let Some(&p) = tasks[t]
        .preds
        .iter()
        .max_by(|&&a, &&b| s.finish[a].total_cmp(&s.finish[b]))
    {
        if !seen.insert(p) {
            break;
        }
        path.push(p);
        t = p;
    }
    path.reverse();
    path
}

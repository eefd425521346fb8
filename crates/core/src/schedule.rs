//! Scheduling loaders as tasks with costs and dependencies: waves (how many rounds of waiting a
//! task is deep), list scheduling under a concurrency limit (longest path first), the critical
//! path, and cycles. Pure functions over indices; [`crate::plan`] builds the tasks.

use std::collections::{BTreeSet, HashMap, HashSet};

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

/// Each task's wave: 1 without predecessors, else one more than its latest predecessor.
pub fn waves(tasks: &[Task]) -> Vec<u32> {
    let mut wave = vec![1u32; tasks.len()];
    for i in topological(tasks) {
        wave[i] = tasks[i]
            .preds
            .iter()
            .map(|&p| wave[p] + 1)
            .max()
            .unwrap_or(1);
    }
    wave
}

/// From the last task to finish back through the predecessor that finished last.
pub fn critical_path(tasks: &[Task], s: &Schedule) -> Vec<usize> {
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

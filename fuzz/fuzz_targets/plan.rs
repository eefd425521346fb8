//! Arbitrary task graphs through the planner's scheduler: no panic or hang, every task
//! scheduled once, precedence and the machine limit respected, and a cycle always reported.
#![no_main]

use arbitrary::Arbitrary;
use astro_hoist_core::schedule::{find_cycle, list_schedule, lpt_priority, Task};
use libfuzzer_sys::fuzz_target;

#[derive(Arbitrary, Debug)]
struct Input {
    costs: Vec<u8>,
    edges: Vec<(u8, u8)>,
    machines: u8,
}

fuzz_target!(|input: Input| {
    let n = input.costs.len().min(64);
    if n == 0 {
        return;
    }
    let mut tasks: Vec<Task> = input.costs[..n]
        .iter()
        .map(|&c| Task {
            cost: f64::from(c),
            preds: Vec::new(),
        })
        .collect();
    for &(a, b) in input.edges.iter().take(256) {
        let (a, b) = (a as usize % n, b as usize % n);
        if !tasks[b].preds.contains(&a) {
            tasks[b].preds.push(a);
        }
    }
    if let Some(cycle) = find_cycle(&tasks) {
        assert!(cycle.len() >= 2 && cycle.first() == cycle.last());
        for w in cycle.windows(2) {
            // Each step follows a predecessor edge.
            assert!(tasks[w[0]].preds.contains(&w[1]), "{cycle:?}");
        }
        return;
    }
    let machines = (input.machines % 5) as usize;
    let limit = (machines > 0).then_some(machines);
    let s = list_schedule(&tasks, limit, &lpt_priority(&tasks));
    let mut seen = vec![false; n];
    for &t in &s.order {
        assert!(!seen[t]);
        seen[t] = true;
    }
    assert!(seen.iter().all(|&x| x));
    for (i, t) in tasks.iter().enumerate() {
        assert_eq!(s.finish[i], s.start[i] + t.cost);
        for &p in &t.preds {
            assert!(s.start[i] >= s.finish[p]);
        }
    }
    if let Some(m) = limit {
        // At no start instant are more than m tasks running.
        for i in 0..n {
            let running = (0..n)
                .filter(|&j| s.start[j] <= s.start[i] && s.start[i] < s.finish[j])
                .count();
            assert!(running <= m || tasks[i].cost == 0.0, "{running} > {m}");
        }
    }
});

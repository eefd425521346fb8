//! The planner: list scheduling on hand-made task graphs (against a brute-force optimum on
//! small ones), and whole pages planned from scanned projects.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use astro_hoist_core::plan::{plan, Plan, PlanError, PlanOptions};
use astro_hoist_core::scan::{cycles, diagnostics, scan_project, Scan, ScanOptions};
use astro_hoist_core::schedule::{bottom_levels, find_cycle, list_schedule, lpt_priority, Task};

/// The plan of a root-relative component of a scanned project.
fn plan_page(scan: &Scan, page: &str, options: &PlanOptions) -> Result<Plan, Box<PlanError>> {
    let id = if page.starts_with('/') {
        page.to_string()
    } else {
        format!("{}/{page}", scan.project.root())
    };
    plan(&scan.project, &id, options)
}

/// The routes' entries, root-relative.
fn pages(scan: &Scan) -> Vec<String> {
    scan.project
        .routes()
        .iter()
        .map(|r| scan.project.relative(&r.entry))
        .collect()
}

/// The components a root-relative component's template renders, root-relative.
fn targets(scan: &Scan, component: &str) -> Vec<String> {
    let id = format!("{}/{component}", scan.project.root());
    scan.project
        .edges(&id)
        .edges
        .iter()
        .map(|e| scan.project.relative(&e.to))
        .collect()
}

/// A root-relative component's id.
fn id_of(scan: &Scan, component: &str) -> String {
    scan.project
        .module(&format!("{}/{component}", scan.project.root()))
        .unwrap()
        .id
        .clone()
}

fn task(cost: f64, preds: &[usize]) -> Task {
    Task {
        cost,
        preds: preds.to_vec(),
    }
}

fn lpt(tasks: &[Task], machines: Option<usize>) -> f64 {
    list_schedule(tasks, machines, &lpt_priority(tasks)).makespan
}

/// The best makespan over every priority order (an upper bound of the optimum that equals it
/// on these sizes) and the classic lower bounds.
fn brute_force(tasks: &[Task], machines: usize) -> f64 {
    fn permute(items: &mut Vec<usize>, k: usize, f: &mut dyn FnMut(&[usize])) {
        if k == items.len() {
            f(items);
            return;
        }
        for i in k..items.len() {
            items.swap(k, i);
            permute(items, k + 1, f);
            items.swap(k, i);
        }
    }
    let mut best = f64::INFINITY;
    let mut order: Vec<usize> = (0..tasks.len()).collect();
    permute(&mut order, 0, &mut |p| {
        best = best.min(list_schedule(tasks, Some(machines), p).makespan);
    });
    best
}

#[test]
fn chain_runs_in_sequence_whatever_the_limit() {
    let tasks = vec![task(3.0, &[]), task(2.0, &[0]), task(4.0, &[1])];
    for m in [Some(1), Some(2), None] {
        let s = list_schedule(&tasks, m, &lpt_priority(&tasks));
        assert_eq!(s.makespan, 9.0);
        assert_eq!(s.order, [0, 1, 2]);
        assert_eq!((s.start[2], s.finish[2]), (5.0, 9.0));
    }
    assert_eq!(bottom_levels(&tasks), [9.0, 6.0, 4.0]);
}

#[test]
fn diamond() {
    // 0 -> {1, 2} -> 3
    let tasks = vec![
        task(1.0, &[]),
        task(5.0, &[0]),
        task(2.0, &[0]),
        task(1.0, &[1, 2]),
    ];
    assert_eq!(lpt(&tasks, None), 7.0);
    assert_eq!(lpt(&tasks, Some(2)), 7.0);
    assert_eq!(lpt(&tasks, Some(1)), 9.0);
    let s = list_schedule(&tasks, Some(1), &lpt_priority(&tasks));
    assert_eq!(
        s.order,
        [0, 1, 2, 3],
        "the longer branch (critical path) goes first"
    );
}

#[test]
fn fan_out_of_a_thousand() {
    let mut tasks = vec![task(1.0, &[])];
    tasks.extend((0..1000).map(|i| task(1.0 + (i % 7) as f64, &[0])));
    let total: f64 = tasks.iter().map(|t| t.cost).sum();
    assert_eq!(lpt(&tasks, None), 8.0);
    assert_eq!(lpt(&tasks, Some(1)), total);
    let two = lpt(&tasks, Some(2));
    // Within one task of the perfect split.
    assert!(
        two >= 1.0 + (total - 1.0) / 2.0 && two <= 1.0 + (total - 1.0) / 2.0 + 7.0,
        "{two}"
    );
}

#[test]
fn cycles_are_found() {
    let tasks = vec![task(1.0, &[2]), task(1.0, &[0]), task(1.0, &[1])];
    let cycle = find_cycle(&tasks).unwrap();
    assert_eq!(cycle.first(), cycle.last());
    assert_eq!(cycle.len(), 4);
    assert_eq!(find_cycle(&[task(1.0, &[0])]).unwrap(), [0, 0]);
    assert!(find_cycle(&[task(1.0, &[]), task(1.0, &[0])]).is_none());
}

#[test]
fn uneven_costs_against_brute_force() {
    // Small random DAGs (edges only from lower to higher index), xorshift for determinism.
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    for _ in 0..60 {
        let n = 3 + (next() % 5) as usize;
        let tasks: Vec<Task> = (0..n)
            .map(|i| {
                let preds: Vec<usize> = (0..i).filter(|_| next() % 4 == 0).collect();
                task(1.0 + (next() % 9) as f64, &preds)
            })
            .collect();
        for m in [1usize, 2, 3] {
            let best = brute_force(&tasks, m);
            let got = lpt(&tasks, Some(m));
            let levels = bottom_levels(&tasks);
            let critical = levels.iter().copied().fold(0.0, f64::max);
            let total: f64 = tasks.iter().map(|t| t.cost).sum();
            assert!(best >= critical && best >= total / m as f64);
            // Graham's bound for list scheduling with precedence.
            assert!(
                got <= (2.0 - 1.0 / m as f64) * best + 1e-9,
                "m={m} got {got} best {best} {tasks:?}"
            );
            if m == 1 {
                assert_eq!(got, total);
            }
        }
        assert_eq!(
            lpt(&tasks, None),
            bottom_levels(&tasks).iter().copied().fold(0.0, f64::max)
        );
    }
}

fn project(name: &str, files: &[(&str, &str)]) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("astro-hoist-plan-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    for (path, text) in files {
        let p = dir.join(path);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }
    dir
}

fn component(imports: &[(&str, &str)], loader: &str, template: &str) -> String {
    let mut s = String::from("---\nimport { getLoaderData } from 'astro-hoist/runtime';\n");
    for (name, path) in imports {
        s.push_str(&format!("import {name} from '{path}';\n"));
    }
    s.push_str(loader);
    if !loader.is_empty() {
        s.push_str("\nconst data = await getLoaderData();");
    }
    s.push_str("\n---\n");
    s.push_str(template);
    s
}

const LOADER: &str = "export const loader = async ({ signal }) => fetch('/api', { signal });";

fn by_component<'a>(plan: &'a Plan, file: &str) -> &'a astro_hoist_core::plan::PlannedLoader {
    plan.loaders.iter().find(|l| l.component == file).unwrap()
}

#[test]
fn nested_slots_conditional_and_not_hoistable_pages() {
    let dir = project(
        "pages",
        &[
            (
                "src/pages/nested.astro",
                &component(&[("A", "../components/A.astro")], LOADER, "<A/>"),
            ),
            (
                "src/components/A.astro",
                &component(&[("B", "./B.astro")], LOADER, "<div><B/></div>"),
            ),
            (
                "src/components/B.astro",
                &component(&[("C", "./C.astro")], LOADER, "<C/>"),
            ),
            ("src/components/C.astro", &component(&[], LOADER, "<p/>")),
            (
                "src/pages/slots.astro",
                &component(
                    &[
                        ("Layout", "../layouts/Layout.astro"),
                        ("Card", "../components/Card.astro"),
                        ("C", "../components/C.astro"),
                    ],
                    "",
                    "<Layout><Card><C/></Card></Layout>",
                ),
            ),
            (
                "src/layouts/Layout.astro",
                &component(&[], LOADER, "<slot/>"),
            ),
            (
                "src/components/Card.astro",
                &component(&[], LOADER, "<slot/>"),
            ),
            (
                "src/pages/conditional.astro",
                &component(
                    &[
                        ("Cond", "../components/Cond.astro"),
                        ("Lazy", "../components/Lazy.astro"),
                        ("* as UI", "../components/index.ts"),
                    ],
                    "",
                    "{ok && <Cond/>}<Lazy/><UI.Card/>",
                ),
            ),
            (
                "src/components/Lazy.astro",
                &component(
                    &[("B", "./B.astro")],
                    "export const loader = async () => Astro.params.id;",
                    "<B/>",
                ),
            ),
            (
                "src/components/index.ts",
                "export { default as Card } from './Card.astro';\n",
            ),
            ("src/components/Cond.astro", &component(&[], LOADER, "<p/>")),
            (
                "src/pages/island.astro",
                &component(
                    &[
                        ("Card", "../components/Card.astro"),
                        ("C", "../components/C.astro"),
                    ],
                    "",
                    "<Card server:defer><C slot=\"fallback\"/></Card>",
                ),
            ),
        ],
    );
    let graph = scan_project(&dir.to_string_lossy(), &ScanOptions::default()).unwrap();
    assert_eq!(
        pages(&graph),
        [
            "src/pages/conditional.astro",
            "src/pages/island.astro",
            "src/pages/nested.astro",
            "src/pages/slots.astro",
            "src/components/Card.astro",
        ],
        "pages, then the server islands they render (a route each)"
    );
    // A server island renders in its own request: not in the page's batch; its slot content
    // renders with the page.
    let island = plan_page(&graph, "src/pages/island.astro", &PlanOptions::default()).unwrap();
    let components: Vec<&str> = island
        .loaders
        .iter()
        .map(|l| l.component.as_str())
        .collect();
    assert_eq!(components, ["src/components/C.astro"]);
    assert!(cycles(&graph.project).is_empty());

    let plan = plan_page(&graph, "src/pages/nested.astro", &PlanOptions::default()).unwrap();
    // The page's own loader, then A > B > C.
    assert_eq!((plan.depth_before, plan.depth_after), (4, 1));
    assert_eq!((plan.makespan_before, plan.makespan), (4.0, 1.0));
    assert_eq!(plan.loaders.len(), 4);
    assert_eq!(by_component(&plan, "src/components/C.astro").wave_before, 4);
    assert_eq!(plan.critical_path.len(), 1);

    let plan = plan_page(
        &graph,
        &dir.join("src/pages/slots.astro").to_string_lossy(),
        &PlanOptions::default(),
    )
    .unwrap();
    assert_eq!(
        (plan.depth_before, plan.depth_after),
        (3, 1),
        "slot children wait for their enclosing components"
    );

    let plan = plan_page(
        &graph,
        "src/pages/conditional.astro",
        &PlanOptions::default(),
    )
    .unwrap();
    let c = by_component(&plan, "src/components/Cond.astro");
    assert!(c.conditional && !c.hoisted);
    assert!(c.reason.as_deref().unwrap().contains("conditional"));
    let lazy = by_component(&plan, "src/components/Lazy.astro");
    assert!(!lazy.hoisted);
    assert!(lazy.reason.as_deref().unwrap().contains("Astro"));
    assert_eq!(lazy.wave, 1, "it waits for nothing: the page has no loader");
    // B and C render inside Lazy, but are hoistable: batch 1, where without hoisting they
    // wait for Lazy's loader.
    assert_eq!(by_component(&plan, "src/components/B.astro").wave, 1);
    assert_eq!(by_component(&plan, "src/components/C.astro").wave_before, 3);
    assert_eq!(plan.depth_before, 3);
    // Through the barrel.
    assert!(by_component(&plan, "src/components/Card.astro").hoisted);
    let speculative = plan_page(
        &graph,
        "src/pages/conditional.astro",
        &PlanOptions {
            speculative: true,
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(
        by_component(&speculative, "src/components/Cond.astro").wave,
        1
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn load_dependencies_costs_concurrency_and_cycles() {
    let dep = |target: &str| {
        format!("import {{ loader as other }} from '{target}';\nexport const loader = async (ctx) => ctx.load(other);")
    };
    let dir = project(
        "deps",
        &[
            (
                "src/pages/index.astro",
                &component(
                    &[
                        ("A", "../components/A.astro"),
                        ("B", "../components/B.astro"),
                        ("C", "../components/C.astro"),
                    ],
                    "",
                    "<A/><B/><C/>",
                ),
            ),
            (
                "src/components/A.astro",
                &component(&[], &dep("./B.astro"), "<p/>"),
            ),
            ("src/components/B.astro", &component(&[], LOADER, "<p/>")),
            ("src/components/C.astro", &component(&[], LOADER, "<p/>")),
            (
                "src/pages/cycle.astro",
                &component(&[("X", "../components/X.astro")], "", "<X/>"),
            ),
            (
                "src/components/X.astro",
                &component(&[], &dep("./Y.astro"), "<p/>"),
            ),
            (
                "src/components/Y.astro",
                &component(&[], &dep("./X.astro"), "<p/>"),
            ),
        ],
    );
    let graph = scan_project(&dir.to_string_lossy(), &ScanOptions::default()).unwrap();
    let ids: HashMap<&str, String> = [
        "src/components/A.astro",
        "src/components/B.astro",
        "src/components/C.astro",
    ]
    .into_iter()
    .map(|c| (c, id_of(&graph, c)))
    .collect();
    let costs: HashMap<String, f64> = [
        (ids["src/components/A.astro"].clone(), 10.0),
        (ids["src/components/B.astro"].clone(), 20.0),
        (ids["src/components/C.astro"].clone(), 30.0),
    ]
    .into();
    let plan = plan_page(
        &graph,
        "src/pages/index.astro",
        &PlanOptions {
            costs: costs.clone(),
            ..Default::default()
        },
    )
    .unwrap();
    let a = by_component(&plan, "src/components/A.astro");
    assert_eq!(a.wave, 2);
    assert_eq!(a.depends_on, [ids["src/components/B.astro"].clone()]);
    assert_eq!((a.start, a.finish), (20.0, 30.0));
    assert_eq!(plan.makespan, 30.0);
    assert_eq!(plan.depth_after, 2);

    let one = plan_page(
        &graph,
        "src/pages/index.astro",
        &PlanOptions {
            costs: costs.clone(),
            concurrency: Some(1),
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(one.makespan, 60.0);
    // Critical path first: B (20 + A's 10 after it) before C (30)? Both 30 long; B has the
    // successor, so ties go by own cost: C first, then B, then A.
    assert_eq!(one.order.len(), 3);
    assert_eq!(one.order.last(), Some(&ids["src/components/A.astro"]));
    let two = plan_page(
        &graph,
        "src/pages/index.astro",
        &PlanOptions {
            costs,
            concurrency: Some(2),
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(two.makespan, 30.0);

    let err = plan_page(&graph, "src/pages/cycle.astro", &PlanOptions::default()).unwrap_err();
    assert_eq!(
        err.diagnostic.code,
        astro_hoist_core::diagnostic::Code::LoaderCycle
    );
    assert!(err.diagnostic.message.contains("cycle"), "{err}");
    assert_eq!(err.cycle.len(), 3, "X -> Y -> X: {err:?}");
    assert!(
        err.cycle.iter().any(|f| f == "src/components/X.astro")
            && err.cycle.iter().any(|f| f == "src/components/Y.astro")
    );
    assert!(plan_page(&graph, "src/pages/missing.astro", &PlanOptions::default()).is_err());
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn scan_resolves_aliases_tsconfig_paths_and_reports_problems() {
    let dir = project(
        "scan",
        &[
            (
                "tsconfig.json",
                "{ // Astro's default\n \"extends\": \"astro/tsconfigs/strict\",\n \"compilerOptions\": { \"baseUrl\": \".\", \"paths\": { \"@/*\": [\"src/*\"], }, },\n}",
            ),
            (
                "src/pages/index.astro",
                &component(
                    &[("A", "@/components/A.astro"), ("B", "~/B.astro"), ("Gone", "./Gone.astro"), ("Pkg", "some-package/X.astro"), ("Root", "/src/components/Root.astro")],
                    "",
                    "<A/><B/><Gone/><Pkg/><Root/>",
                ),
            ),
            ("src/components/A.astro", &component(&[("Self", "./A.astro")], "", "<Self/>")),
            ("src/components/B.astro", "<p/>"),
            ("src/components/Root.astro", "<p/>"),
            // Every Astro project has astro installed; its presets are what tsconfigs extend.
            ("node_modules/astro/tsconfigs/strict.json", "{ \"compilerOptions\": { \"strict\": true } }"),
            ("src/pages/_partial.astro", "<p/>"),
            ("src/pages/_drafts/post.astro", "<p/>"),
            ("node_modules/pkg/Skip.astro", "<p/>"),
            ("dist/Skip.astro", "<p/>"),
        ],
    );
    let options = ScanOptions {
        alias: vec![("~".into(), "src/components".into())],
        ..Default::default()
    };
    let graph = scan_project(&dir.to_string_lossy(), &options).unwrap();
    assert_eq!(
        graph.files,
        [
            "src/components/A.astro",
            "src/components/B.astro",
            "src/components/Root.astro",
            "src/pages/_drafts/post.astro",
            "src/pages/_partial.astro",
            "src/pages/index.astro"
        ]
    );
    assert_eq!(
        pages(&graph),
        ["src/pages/index.astro"],
        "`_`-prefixed files are not routes"
    );
    assert_eq!(
        targets(&graph, "src/pages/index.astro"),
        [
            "src/components/A.astro",
            "src/components/B.astro",
            "src/components/Root.astro"
        ],
        "relative, tsconfig paths, alias and Vite root-relative imports"
    );
    assert_eq!(
        cycles(&graph.project),
        [vec!["src/components/A.astro".to_string()]]
    );
    let problems = diagnostics(&graph.project, &graph.files);
    let unresolved: Vec<_> = problems
        .iter()
        .filter(|d| d.code == astro_hoist_core::diagnostic::Code::UnresolvedImport)
        .collect();
    assert_eq!(
        unresolved.len(),
        1,
        "packages are not reported, a missing relative file is: {problems:?}"
    );
    assert!(unresolved[0].message.contains("./Gone.astro"));
    assert_eq!(unresolved[0].line, 10, "the usage");
    assert_eq!(graph.cache.hits + graph.cache.misses, 6);

    let again = scan_project(&dir.to_string_lossy(), &options).unwrap();
    assert_eq!(
        again.cache.misses, 0,
        "unchanged content is never analyzed twice"
    );
    std::fs::write(dir.join("src/components/B.astro"), "<p />").unwrap();
    let changed = scan_project(&dir.to_string_lossy(), &options).unwrap();
    assert_eq!((changed.cache.hits, changed.cache.misses), (5, 1));

    assert!(scan_project(&dir.join("nope").to_string_lossy(), &options).is_err());
    std::fs::remove_dir_all(&dir).unwrap();
}

/// tsconfig `extends` is followed as TypeScript does (oxc_resolver): a monorepo base sets
/// `paths` relative to its own folder, a package base is found in node_modules, later bases win
/// over earlier ones, and the extending file wins over both.
#[test]
fn scan_follows_tsconfig_extends() {
    let outer = project(
        "extends",
        &[
            (
                "tsconfig.base.json",
                "{ \"compilerOptions\": { \"paths\": { \"@ui/*\": [\"site/src/shared/*\"], \"@old/*\": [\"nowhere/*\"] } } }",
            ),
            ("site/src/shared/Button.astro", "<button/>"),
            (
                "site/node_modules/@acme/tsconfig/strict.json",
                "{ \"compilerOptions\": { \"strict\": true, \"paths\": { \"@ui/*\": [\"./nowhere/*\"] } } }",
            ),
            (
                "site/tsconfig.json",
                "{ \"extends\": [\"@acme/tsconfig/strict\", \"../tsconfig.base\"], \"compilerOptions\": { \"strict\": false } }",
            ),
            (
                "site/src/pages/index.astro",
                &component(&[("Button", "@ui/Button.astro")], "", "<Button/>"),
            ),
        ],
    );
    // What the index page's one import resolves to, after a fresh scan of the site.
    let index_edges = || {
        let graph = scan_project(
            &outer.join("site").to_string_lossy(),
            &ScanOptions::default(),
        )
        .unwrap();
        (
            targets(&graph, "src/pages/index.astro"),
            diagnostics(&graph.project, &graph.files),
        )
    };
    let (found, problems) = index_edges();
    assert_eq!(found, ["src/shared/Button.astro"], "{problems:?}");
    assert!(problems
        .iter()
        .all(|d| d.code != astro_hoist_core::diagnostic::Code::UnresolvedImport));

    // The site's own `paths` and `baseUrl` override the base's.
    std::fs::write(
        outer.join("site/tsconfig.json"),
        "{ \"extends\": \"../tsconfig.base.json\", \"compilerOptions\": { \"baseUrl\": \"src\", \"paths\": { \"@ui/*\": [\"ui/*\"] } } }",
    )
    .unwrap();
    std::fs::create_dir_all(outer.join("site/src/ui")).unwrap();
    std::fs::write(outer.join("site/src/ui/Button.astro"), "<b/>").unwrap();
    assert_eq!(index_edges().0, ["src/ui/Button.astro"]);
    std::fs::remove_dir_all(&outer).unwrap();
}

#[cfg(unix)]
#[test]
fn symlink_loops_do_not_hang_a_scan() {
    let dir = project("symlinks", &[("src/pages/index.astro", "<p/>")]);
    std::os::unix::fs::symlink(&dir, dir.join("src/loop")).unwrap();
    std::os::unix::fs::symlink(dir.join("src/a"), dir.join("src/b")).unwrap();
    std::os::unix::fs::symlink(dir.join("src/b"), dir.join("src/a")).unwrap();
    let graph = scan_project(&dir.to_string_lossy(), &ScanOptions::default()).unwrap();
    assert_eq!(pages(&graph), ["src/pages/index.astro"]);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn disk_cache_survives_a_restart() {
    let dir = project(
        "disk",
        &[
            ("src/pages/index.astro", "<p/>"),
            ("src/components/A.astro", "<A/>"),
        ],
    );
    let cache_dir = dir.join("node_modules/.cache/astro-hoist");
    let options = ScanOptions {
        cache_dir: Some(cache_dir.clone()),
        ..Default::default()
    };
    scan_project(&dir.to_string_lossy(), &options).unwrap();
    assert!(Path::new(&cache_dir.join("analysis.json")).is_file());
    // A "restart": forget memory, keep the disk.
    astro_hoist_core::cache::global().clear();
    let graph = scan_project(&dir.to_string_lossy(), &options).unwrap();
    assert_eq!(graph.cache.misses, 0);
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A loader no route starts with its batch is reported once, with why: rendered by no route
/// (a warning), or only conditionally (info); loaders the routes render unconditionally, and
/// loaders nothing reads, are not.
#[test]
fn loaders_no_route_reaches_unconditionally_are_reported_once() {
    let dir = project(
        "unreached",
        &[
            (
                "src/pages/a.astro",
                &component(
                    &[
                        ("Shown", "../components/Shown.astro"),
                        ("Maybe", "../components/Maybe.astro"),
                    ],
                    "",
                    "<Shown/>{ok && <Maybe/>}",
                ),
            ),
            (
                "src/pages/b.astro",
                &component(
                    &[("Maybe", "../components/Maybe.astro")],
                    "",
                    "{ok && <Maybe/>}",
                ),
            ),
            (
                "src/components/Shown.astro",
                &component(&[], LOADER, "<p/>"),
            ),
            (
                "src/components/Maybe.astro",
                &component(&[], LOADER, "<p/>"),
            ),
            (
                "src/components/Orphan.astro",
                &component(&[], LOADER, "<p/>"),
            ),
            (
                "src/components/Unread.astro",
                &format!("---\n{LOADER}\n---\n<p/>"),
            ),
        ],
    );
    let scan = scan_project(&dir.to_string_lossy(), &ScanOptions::default()).unwrap();
    let unreached: Vec<_> = diagnostics(&scan.project, &scan.files)
        .into_iter()
        .filter(|d| d.code == astro_hoist_core::diagnostic::Code::LoaderUnreached)
        .collect();
    let summary: Vec<(&str, astro_hoist_core::diagnostic::Severity)> = unreached
        .iter()
        .map(|d| (d.file.as_str(), d.severity))
        .collect();
    assert_eq!(
        summary,
        [
            (
                "src/components/Maybe.astro",
                astro_hoist_core::diagnostic::Severity::Info
            ),
            (
                "src/components/Orphan.astro",
                astro_hoist_core::diagnostic::Severity::Warning
            )
        ]
    );
    assert!(
        unreached[0].message.contains("/a, /b"),
        "{}",
        unreached[0].message
    );
    assert!(
        unreached[1].message.contains("no route renders it"),
        "{}",
        unreached[1].message
    );
    assert_eq!(
        (unreached[1].line, unreached[1].column),
        (3, 1),
        "at the loader"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn frontmatter_awaits_form_the_waterfall_plain_astro_renders() {
    let dir = project(
        "awaits",
        &[
            (
                "src/pages/index.astro",
                "---\nimport { getProducts } from '../api';\nimport Header from '../components/Header.astro';\nimport Shell from '../components/Shell.astro';\nimport Stock from '../components/Stock.astro';\nconst products = await getProducts(Astro.request);\n---\n<Header /><Shell><Stock ids={products.map((p) => p.id)} /></Shell>\n",
            ),
            (
                "src/components/Header.astro",
                "---\nimport { getCart } from '../api';\nconst cart = await getCart(Astro.request);\n---\n<p>{cart.items.length}</p>\n",
            ),
            (
                "src/components/Shell.astro",
                "---\nimport { getUser, getPrefs } from '../api';\nconst user = await getUser(Astro.cookies.get('sid'));\nconst prefs = await getPrefs(user.id);\n---\n<main><slot /></main>\n",
            ),
            (
                "src/components/Stock.astro",
                "---\nimport { getStock } from '../api';\nconst stock = await getStock(Astro.props.ids);\n---\n<p>{stock}</p>\n",
            ),
            ("src/api.ts", "export const getProducts = async () => [];\nexport const getCart = async () => ({ items: [] });\nexport const getUser = async () => ({});\nexport const getPrefs = async () => ({});\nexport const getStock = async () => 0;\n"),
        ],
    );
    let scan = scan_project(&dir.to_string_lossy(), &ScanOptions::default()).unwrap();
    let plan = plan_page(&scan, "src/pages/index.astro", &PlanOptions::default()).unwrap();
    let steps: Vec<(u32, &str, u32, bool)> = plan
        .awaits
        .iter()
        .map(|a| (a.step, a.component.as_str(), a.line, a.movable))
        .collect();
    // Page (1), then Header and Shell side by side (2; Shell's second await 3), then Stock,
    // slotted into Shell, after Shell's frontmatter (4).
    assert_eq!(
        steps,
        [
            (1, "src/pages/index.astro", 6, true),
            (2, "src/components/Header.astro", 3, true),
            (2, "src/components/Shell.astro", 3, false),
            (3, "src/components/Shell.astro", 4, false),
            (4, "src/components/Stock.astro", 3, true),
        ]
    );
    assert_eq!(plan.await_depth, 4);
    // Migrated: the page, Header and Stock load at once (step 1); Shell still renders after the
    // page's frontmatter and runs its two in sequence (2, 3); Stock, slotted into it, then
    // reads data that is already there.
    assert_eq!(plan.await_depth_after, 3);
    let shell = plan
        .awaits
        .iter()
        .find(|a| a.component.ends_with("Shell.astro"))
        .unwrap();
    assert!(shell.reason.as_deref().unwrap().contains("Astro.cookies"));
    let _ = std::fs::remove_dir_all(&dir);
}

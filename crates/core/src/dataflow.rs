//! The dataflow of a root's tree: for every component instance whose loader can start before
//! it renders, how its props are made from its writer's data and props (see [`crate::flow`]),
//! and which loaders must resolve first.
//!
//! The tree is walked from the root through every usage, so a component used in two places is
//! two instances. An instance is *traced* when the tag that renders it is traced and every
//! value it reads is available: the writer's loader data only if the writer's loader starts
//! before render too, the writer's props only if the writer's instance is traced. The runtime
//! walks the same tree ([`FlowNode`]): it evaluates a node's steps and props as soon as their
//! sources resolve, starts its run, and goes on with its children.

use std::collections::BTreeSet;

use rustc_hash::FxHashMap as HashMap;
use serde::{Deserialize, Serialize};

use crate::component::ComponentInfo;
use crate::diagnostic::{Code, Diagnostic, Severity};
use crate::flow::{Flow, Source, Step};
use crate::graph::Project;

/// How many instances one root's walk visits at most; past it, the rest run at render.
const MAX_INSTANCES: usize = 4096;
/// How deep the walk follows nesting.
const MAX_DEPTH: usize = 64;

/// How an instance's loader runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum RunKind {
    /// One run per request, whatever the props (a hoistable loader).
    Shared,
    /// One run per distinct props (a loader that reads them, or a batch loader).
    Props,
}

/// One instance of the root's tree, as the runtime walks it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FlowNode {
    /// The component id (the runtime's key).
    pub id: String,
    /// Root-relative path of the component.
    pub c: String,
    /// Where the tag that renders it is written (`file:line:column`); none for the root.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub u: Option<String>,
    /// How its loader runs; none: no loader the walk can start.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run: Option<RunKind>,
    /// Its props, made from its writer's values (the root's are its `Astro.props`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub props: Option<Flow>,
    /// What decides whether (and for which items) it renders.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub steps: Vec<Step>,
    /// Whether its props or steps read its writer's loader data.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub data: bool,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub children: Vec<FlowNode>,
}

/// The dataflow of one root.
#[derive(Debug, Default)]
pub struct Dataflow {
    /// The root's node (none when no instance needs the runtime's walk).
    pub root: Option<FlowNode>,
    /// Per component (module id) with a traced instance: the components whose loader data its
    /// traced instances wait for.
    pub waits: HashMap<String, BTreeSet<String>>,
    /// Per component with an instance that is not traced: the first reason, at its usage.
    pub untraced: HashMap<String, Diagnostic>,
}

/// How a component's loader runs before render, if it can.
pub fn run_kind(info: &ComponentInfo) -> Option<RunKind> {
    let loader = info.loader.as_ref()?;
    if info.loader_data_calls.is_empty() {
        return None;
    }
    if loader.hoistable {
        Some(RunKind::Shared)
    } else if loader.by_props {
        Some(RunKind::Props)
    } else {
        None
    }
}

struct Walk<'p> {
    project: &'p Project,
    flow: Dataflow,
    visited: usize,
}

/// What an instance's writer offers its tags.
#[derive(Clone)]
struct Writer<'a> {
    id: &'a str,
    /// Whether its loader data is available before render.
    data: bool,
    /// Whether its props are known (its instance is traced).
    props: bool,
    /// What its props wait for.
    props_wait: &'a BTreeSet<String>,
    /// Whether it renders only under a condition (or for the items of a list): its loader, and
    /// those below it, start only from the walk.
    conditional: bool,
}

/// Walks `root`'s tree. Only the branches that lead to an instance the runtime must start
/// (a loader that runs by props, or one under a condition) are kept.
pub fn dataflow(project: &Project, root: &str) -> Dataflow {
    let mut walk = Walk {
        project,
        flow: Dataflow::default(),
        visited: 0,
    };
    let Some(info) = project.module(root) else {
        return walk.flow;
    };
    let run = run_kind(&info);
    let none = BTreeSet::new();
    let writer = Writer {
        id: root,
        data: run.is_some(),
        props: true,
        props_wait: &none,
        conditional: false,
    };
    let mut path = vec![root.to_string()];
    let children = walk.children(&writer, &mut path, None);
    if !children.is_empty() {
        walk.flow.root = Some(FlowNode {
            id: info.id.clone(),
            c: project.relative(root),
            u: None,
            run,
            props: None,
            steps: Vec::new(),
            data: false,
            children,
        });
    }
    walk.flow
}

impl Walk<'_> {
    /// The nodes of the tags `writer` writes. With `untraced`, nothing below is traced: only
    /// the reasons are recorded.
    fn children(
        &mut self,
        writer: &Writer<'_>,
        path: &mut Vec<String>,
        untraced: Option<&Diagnostic>,
    ) -> Vec<FlowNode> {
        let project = self.project;
        let Some(info) = project.module(writer.id) else {
            return Vec::new();
        };
        let edges = project.edges(writer.id);
        let mut nodes = Vec::new();
        for edge in edges.edges.iter().filter(|e| !e.island) {
            let child = edge.to.as_str();
            let Some(child_info) = project.module(child) else {
                continue;
            };
            let kind = run_kind(&child_info);
            let Some(usage) = info.usages.get(edge.usage as usize) else {
                continue;
            };
            let at = |line: u32, column: u32, message: String| {
                Diagnostic::in_file(
                    project.relative(writer.id),
                    line,
                    column,
                    Severity::Info,
                    Code::PropsNotTraced,
                    message,
                )
            };
            self.visited += 1;
            let traced: Result<(Option<&crate::flow::UsageFlow>, bool), Diagnostic> = if let Some(
                d,
            ) =
                untraced
            {
                Err(d.clone())
            } else if path.iter().any(|p| p == child) {
                Err(at(
                        usage.line,
                        usage.column,
                        format!(
                            "<{}> renders a component it is inside of (a cycle through props): deeper instances start at render",
                            usage.name
                        ),
                    ))
            } else if self.visited > MAX_INSTANCES || path.len() >= MAX_DEPTH {
                Err(at(
                        usage.line,
                        usage.column,
                        format!("the tree is too large to trace past <{}>: its loaders below start at render", usage.name),
                    ))
            } else {
                match (&usage.flow, &usage.untraced) {
                    (Some(f), _) => {
                        let mut data = false;
                        let mut props = false;
                        let mut check = |flow: &Flow| {
                            flow.sources(&mut |s, _| match s {
                                Source::Data => data = true,
                                Source::Props => props = true,
                                _ => {}
                            })
                        };
                        check(&f.props);
                        for step in &f.steps {
                            match step {
                                Step::When { c } => check(c),
                                Step::Each { l } => check(l),
                            }
                        }
                        if data && !writer.data {
                            Err(at(usage.line, usage.column, format!(
                                    "<{}> is given values from its writer's loader data, and that loader starts at render",
                                    usage.name
                                )))
                        } else if props && !writer.props {
                            Err(at(usage.line, usage.column, format!(
                                    "<{}> is given values from its writer's Astro.props, which are not traced",
                                    usage.name
                                )))
                        } else {
                            Ok((Some(f), data))
                        }
                    }
                    (None, Some(why)) => Err(at(
                        why.line,
                        why.column,
                        format!("<{}>: {}", usage.name, why.reason),
                    )),
                    (None, None) => Err(at(usage.line, usage.column, "not traced".into())),
                }
            };
            let wanted = kind.is_some();
            match traced {
                Ok((Some(f), data)) => {
                    let mut wait = BTreeSet::new();
                    if data {
                        wait.insert(writer.id.to_string());
                    }
                    if f.props.reads(Source::Props)
                        || f.steps.iter().any(|s| match s {
                            Step::When { c } => c.reads(Source::Props),
                            Step::Each { l } => l.reads(Source::Props),
                        })
                    {
                        wait.extend(writer.props_wait.iter().cloned());
                    }
                    if kind.is_some() {
                        self.flow
                            .waits
                            .entry(child.to_string())
                            .or_default()
                            .extend(wait.iter().cloned());
                    }
                    let conditional =
                        writer.conditional || usage.conditional || !f.steps.is_empty();
                    let next = Writer {
                        id: child,
                        data: kind.is_some(),
                        props: true,
                        props_wait: &wait,
                        conditional,
                    };
                    path.push(child.to_string());
                    let children = self.children(&next, path, None);
                    path.pop();
                    if matches!(kind, Some(RunKind::Props))
                        || (kind.is_some() && conditional)
                        || !children.is_empty()
                    {
                        nodes.push(FlowNode {
                            id: child_info.id.clone(),
                            c: project.relative(child),
                            u: Some(format!(
                                "{}:{}:{}",
                                project.relative(writer.id),
                                usage.line,
                                usage.column
                            )),
                            run: kind,
                            props: Some(f.props.clone()),
                            steps: f.steps.clone(),
                            data,
                            children,
                        });
                    }
                }
                Ok((None, _)) => {}
                Err(d) => {
                    if wanted {
                        self.flow
                            .untraced
                            .entry(child.to_string())
                            .or_insert_with(|| d.clone());
                    }
                    // Below an untraced instance, every instance is untraced for the same reason.
                    if !path.iter().any(|p| p == child)
                        && path.len() < MAX_DEPTH
                        && self.visited <= MAX_INSTANCES
                    {
                        let none = BTreeSet::new();
                        let next = Writer {
                            id: child,
                            data: false,
                            props: false,
                            props_wait: &none,
                            conditional: true,
                        };
                        path.push(child.to_string());
                        self.children(&next, path, Some(&d));
                        path.pop();
                    }
                }
            }
        }
        nodes
    }
}

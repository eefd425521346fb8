//! Analysis of one component file: the entry point of the core.

use serde::{Deserialize, Serialize};

use crate::diagnostic::{Code, Diagnostic, Severity};
use crate::dialect::{dialect_for, Dialect};
use crate::flow;
use crate::frontmatter::{self, Split};
use crate::loader::Loader;
use crate::position::{LineIndex, Span};
use crate::record::{Import, LoaderDataCall, Reexport};
use crate::script::{self, ScriptFacts};
use crate::template::{self, Usage};

/// Options of an analysis.
#[derive(Debug, Clone, Default)]
pub struct AnalyzeOptions {
    /// The project root. Component ids are derived from the path relative to it, so they are
    /// equal on every machine for the same project layout.
    pub root: Option<String>,
}

/// What a file is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ComponentKind {
    /// An `.astro` component.
    Astro,
    /// A JS/TS module.
    Module,
}

/// Everything the core knows about one file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ComponentInfo {
    pub filename: String,
    /// Stable id: 16 hex digits of blake3 over the root-relative path with `/` separators.
    pub id: String,
    /// blake3 of the content, hex.
    pub hash: String,
    pub kind: ComponentKind,
    /// The frontmatter code between the fences, or `None`.
    pub frontmatter: Option<Span>,
    pub imports: Vec<Import>,
    pub reexports: Vec<Reexport>,
    pub loader: Option<Loader>,
    pub usages: Vec<Usage>,
    pub loader_data_calls: Vec<LoaderDataCall>,
    /// Frontmatter statements that may return before the template renders (guards such as
    /// `if (!user) return Astro.redirect('/login')`): the children render only past them.
    #[serde(default)]
    pub early_returns: Vec<Span>,
    /// A frontmatter's top-level `await`s (not of `getLoaderData()`): each is a step of the
    /// waterfall plain Astro renders, and some can move into a loader.
    #[serde(default)]
    pub awaits: Vec<crate::awaits::FrontmatterAwait>,
    pub diagnostics: Vec<Diagnostic>,
}

/// The path of `filename` relative to `root`, with `/` separators and `.`/`..` resolved
/// lexically. A file outside the root keeps its (normalized) path.
pub fn relative_path(filename: &str, root: Option<&str>) -> String {
    let file = normalize(filename);
    let Some(root) = root.map(normalize) else {
        return file;
    };
    let root = root.trim_end_matches('/');
    match file.strip_prefix(root) {
        Some(rest) if rest.starts_with('/') => rest[1..].to_string(),
        Some("") => String::new(),
        _ => file,
    }
}

/// A path with `/` separators, `.`/`..` resolved lexically and no trailing slash.
pub fn normalize(path: &str) -> String {
    let path = path.replace('\\', "/");
    let absolute = path.starts_with('/');
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." if parts.last().is_some_and(|p| *p != "..") => {
                parts.pop();
            }
            p => parts.push(p),
        }
    }
    let joined = parts.join("/");
    if absolute {
        format!("/{joined}")
    } else {
        joined
    }
}

/// The stable id of a component: blake3 of its root-relative path, first 16 hex digits.
pub fn component_id(filename: &str, root: Option<&str>) -> String {
    let hash = blake3::hash(relative_path(filename, root).as_bytes());
    hash.to_hex()[..16].to_string()
}

/// Analyzes one file. Never panics on any input; problems come back as diagnostics (each naming
/// `filename`).
pub fn analyze_component(source: &str, filename: &str, options: &AnalyzeOptions) -> ComponentInfo {
    let mut info = analyze_file(source, filename, options);
    for d in &mut info.diagnostics {
        d.file = filename.to_string();
    }
    info
}

fn analyze_file(source: &str, filename: &str, options: &AnalyzeOptions) -> ComponentInfo {
    let index = LineIndex::new(source);
    let mut info = ComponentInfo {
        filename: filename.to_string(),
        id: component_id(filename, options.root.as_deref()),
        hash: blake3::hash(source.as_bytes()).to_hex().to_string(),
        kind: ComponentKind::Module,
        frontmatter: None,
        imports: Vec::new(),
        reexports: Vec::new(),
        loader: None,
        usages: Vec::new(),
        loader_data_calls: Vec::new(),
        early_returns: Vec::new(),
        awaits: Vec::new(),
        diagnostics: Vec::new(),
    };
    let Some(dialect) = dialect_for(filename) else {
        info.diagnostics.push(Diagnostic::at(
            &index,
            0,
            Severity::Error,
            Code::UnsupportedFile,
            format!(
                "{filename}: not an .astro, .js, .mjs, .cjs, .jsx, .ts, .mts, .cts or .tsx file"
            ),
        ));
        return info;
    };
    if dialect != Dialect::Frontmatter {
        let facts = script::analyze_script(&index, 0, source.len(), dialect);
        apply(&mut info, facts);
        return info;
    }

    info.kind = ComponentKind::Astro;
    let template_start = match frontmatter::split(source) {
        Split::None => 0,
        Split::Unclosed { open } => {
            info.diagnostics.push(Diagnostic::at(
                &index,
                open,
                Severity::Error,
                Code::UnclosedFrontmatter,
                "The frontmatter's opening `---` has no closing `---`",
            ));
            return info;
        }
        Split::Fenced(f) => {
            info.frontmatter = Some(index.span(f.content_start, f.content_end));
            let facts = script::analyze_script(
                &index,
                f.content_start,
                f.content_end,
                Dialect::Frontmatter,
            );
            info.usages = resolve_usages(&index, template::scan(source, f.template_start), &facts);
            apply(&mut info, facts);
            return info;
        }
    };
    let facts = ScriptFacts::default();
    info.usages = resolve_usages(&index, template::scan(source, template_start), &facts);
    info
}

/// `astro-hoist migrate` for one `.astro` file: its frontmatter's movable awaits moved into an
/// exported loader (see [`crate::awaits`]), and every await with why it can or cannot move.
pub fn migrate(source: &str, filename: &str) -> crate::awaits::Migration {
    let none = crate::awaits::Migration {
        code: None,
        awaits: Vec::new(),
    };
    if dialect_for(filename) != Some(Dialect::Frontmatter) {
        return none;
    }
    let Split::Fenced(f) = frontmatter::split(source) else {
        return none;
    };
    let index = LineIndex::new(source);
    let facts =
        script::analyze_script(&index, f.content_start, f.content_end, Dialect::Frontmatter);
    if facts
        .diagnostics
        .iter()
        .any(|d| d.severity == Severity::Error)
    {
        // A frontmatter swc cannot read is left as it is.
        return none;
    }
    let getter = facts
        .import_bindings
        .iter()
        .find(|(_, (i, name))| {
            name == "getLoaderData" && facts.imports[*i].source == crate::record::RUNTIME_MODULE
        })
        .map(|(local, _)| local.as_str());
    let code = crate::awaits::rewrite(source, &facts.awaits, getter);
    crate::awaits::Migration {
        code,
        awaits: facts.awaits.found.iter().map(|(a, _)| a.clone()).collect(),
    }
}

fn apply(info: &mut ComponentInfo, facts: ScriptFacts) {
    info.imports = facts.imports;
    info.reexports = facts.reexports;
    info.loader = facts.loader;
    info.loader_data_calls = facts.loader_data_calls;
    info.early_returns = facts.early_returns;
    info.awaits = facts.awaits.found.into_iter().map(|(a, _)| a).collect();
    info.diagnostics.extend(facts.diagnostics);
}

/// How a tag's props are made and when it renders, or what stopped the proof.
fn trace_usage(
    index: &LineIndex<'_>,
    u: &template::RawUsage,
    scope: &flow::Scope,
    parsed: &mut Vec<(usize, Result<Box<swc_ecma_ast::Expr>, flow::Why>)>,
) -> Result<flow::UsageFlow, flow::Why> {
    let source = index.source();
    let mut tracer = flow::Tracer::new(scope);
    let mut steps: Vec<flow::Step> = match &scope.guards {
        Ok(guards) => guards
            .iter()
            .map(|c| flow::Step::When { c: c.clone() })
            .collect(),
        Err(why) => return Err(why.clone()),
    };
    match u.expression {
        Some((start, end)) => {
            // Tags of one expression share its parse.
            let i = match parsed.iter().position(|(s, _)| *s == start) {
                Some(i) => i,
                None => {
                    parsed.push((start, flow::parse_expression(source, start, end)));
                    parsed.len() - 1
                }
            };
            let expr = match &parsed[i].1 {
                Ok(expr) => expr,
                Err(why) => return Err(why.clone()),
            };
            steps.extend(flow::steps_to(expr, u.at, &mut tracer)?);
        }
        None if u.conditional => {
            return Err(flow::Why {
                at: u.at,
                reason: "an expression that does not end".into(),
            })
        }
        None => {}
    }
    let props = flow::props_of(&u.attrs, source, &tracer)?;
    Ok(flow::UsageFlow { props, steps })
}

fn resolve_usages(
    index: &LineIndex<'_>,
    raw: Vec<template::RawUsage>,
    facts: &ScriptFacts,
) -> Vec<Usage> {
    let mut parsed = Vec::new();
    raw.into_iter()
        .map(|u| {
            let (flow, untraced) = match trace_usage(index, &u, &facts.flow_scope, &mut parsed) {
                Ok(f) => (Some(f), None),
                Err(why) => {
                    let pos = index.position(why.at.min(index.source().len()));
                    (
                        None,
                        Some(template::Untraced {
                            line: pos.line,
                            column: pos.column,
                            reason: why.reason,
                        }),
                    )
                }
            };
            let pos = index.position(u.at);
            let mut segments = u.name.split('.');
            let root = segments.next().unwrap_or_default();
            let member = segments.next();
            let (source, imported) = match facts.import_bindings.get(root) {
                Some((i, imported)) => {
                    let imported = match (imported.as_str(), member) {
                        ("*", Some(m)) => m.to_string(),
                        _ => imported.clone(),
                    };
                    (Some(facts.imports[*i].source.clone()), Some(imported))
                }
                None => (None, None),
            };
            Usage {
                name: u.name,
                line: pos.line,
                column: pos.column,
                offset: pos.offset,
                conditional: u.conditional,
                parent: u.parent,
                source,
                imported,
                attributes: u.attributes,
                flow,
                untraced,
            }
        })
        .collect()
}

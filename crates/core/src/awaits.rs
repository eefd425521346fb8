//! The waterfall finder: the `await`s of a frontmatter, and which of them can become a loader.
//!
//! A site without loaders still has waterfalls: a page awaits its data, then a nested component
//! awaits its own, one level of nesting at a time. This module lists a frontmatter's top-level
//! awaits (outside any function; `await Promise.all([...])` is one) and proves, for each, whether
//! `astro-hoist migrate` may move it into an exported loader without changing what the page
//! does. It may when the awaited expression reads only request-start values (imports, globals,
//! `Astro.request`/`params`/`url`/`locals`/`props`, and constants computed from those), and
//! nothing before it in the frontmatter can change what it sees or whether it runs (no guard,
//! no statement with effects, no await that stays). Anything else comes back with the reason.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde::{Deserialize, Serialize};
use swc_common::{Spanned, SyntaxContext};
use swc_ecma_ast::{
    AssignTarget, AwaitExpr, Callee, Decl, Expr, Ident, MemberExpr, MemberProp, Module, ModuleDecl,
    ModuleItem, Pat, SimpleAssignTarget, Stmt, VarDeclKind,
};
use swc_ecma_visit::{Visit, VisitWith};

use crate::flow::{pattern_names, Binding, Scope, Source};
use crate::position::{byte_of, LineIndex, Span};

/// What a loader's context offers in place of `Astro.<name>`.
const CONTEXT: [&str; 5] = ["request", "params", "url", "locals", "props"];

/// Methods that read without changing anything: a constant computed with them can be computed
/// again in a loader, and a statement calling only them has no effect to keep in order.
const PURE_METHODS: &[&str] = &[
    "get",
    "has",
    "getAll",
    "at",
    "slice",
    "trim",
    "trimStart",
    "trimEnd",
    "toLowerCase",
    "toUpperCase",
    "split",
    "join",
    "includes",
    "startsWith",
    "endsWith",
    "indexOf",
    "replace",
    "replaceAll",
    "padStart",
    "padEnd",
    "toString",
    "toFixed",
    "map",
    "filter",
    "reduce",
    "find",
    "findIndex",
    "some",
    "every",
    "flat",
    "flatMap",
    "concat",
    "keys",
    "values",
    "entries",
    "parse",
    "stringify",
    "isArray",
    "floor",
    "ceil",
    "round",
    "min",
    "max",
    "abs",
    "fromEntries",
    "localeCompare",
    "toISOString",
    "getTime",
    "valueOf",
    "charAt",
    "substring",
];

/// Global functions whose calls have no effect.
const PURE_GLOBALS: &[&str] = &[
    "Number",
    "String",
    "Boolean",
    "parseInt",
    "parseFloat",
    "encodeURIComponent",
    "decodeURIComponent",
    "encodeURI",
    "decodeURI",
    "isNaN",
    "isFinite",
    "BigInt",
    "Symbol",
];

/// One top-level `await` of a frontmatter, as the finder reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FrontmatterAwait {
    /// The `await` expression.
    pub span: Span,
    /// The awaited expression's source, shortened to one line.
    pub text: String,
    /// `astro-hoist migrate` can move it into a loader.
    pub movable: bool,
    /// Why it cannot.
    pub reason: Option<String>,
}

/// How to move one await into the loader (byte offsets in the file).
#[derive(Debug, Clone, Default)]
pub struct Move {
    /// The whole statement, `const x = await f();`.
    pub statement: (usize, usize),
    /// `const` or `let`.
    pub kind: &'static str,
    /// The binding pattern without its type annotation.
    pub pattern: (usize, usize),
    /// The initializer, `await f()`.
    pub init: (usize, usize),
    /// The awaited expression, `f()`.
    pub expr: (usize, usize),
}

/// Everything the finder and `migrate` need of a frontmatter's awaits.
#[derive(Debug, Clone, Default)]
pub struct Awaits {
    pub found: Vec<(FrontmatterAwait, Option<Move>)>,
    /// `Astro.<name>` ranges inside moved code, and the context name each becomes.
    pub renames: BTreeMap<usize, (usize, &'static str)>,
    /// Constant declarations the loader computes again (statement ranges, in order).
    pub copied: BTreeSet<(usize, usize)>,
    /// The context names the loader destructures.
    pub context: BTreeSet<&'static str>,
    /// The end of the last import declaration (where the loader goes), or the frontmatter start.
    pub after_imports: usize,
    /// Whether the frontmatter has an import.
    pub has_imports: bool,
}

/// What the analysis of one frontmatter needs from the script's other facts.
pub struct Input<'a> {
    pub index: &'a LineIndex<'a>,
    pub module: &'a Module,
    pub top_ctxt: SyntaxContext,
    pub unresolved_ctxt: SyntaxContext,
    /// Value imports by local name.
    pub imports: &'a HashMap<String, (usize, String)>,
    pub scope: &'a Scope,
    /// Byte spans of `getLoaderData()` calls (awaiting them is not a data fetch).
    pub loader_data: &'a [(usize, usize)],
    pub has_loader: bool,
    /// Where the frontmatter code starts.
    pub start: usize,
}

/// Lists the frontmatter's top-level awaits and which of them can move into a loader.
pub fn find(input: &Input<'_>) -> Awaits {
    let source = input.index.source();
    let mut out = Awaits {
        after_imports: input.start,
        ..Awaits::default()
    };
    // Top-level declarations: name -> (statement range, is a `const`).
    let mut declared: HashMap<String, ((usize, usize), bool)> = HashMap::new();
    // Why awaits from here on cannot move, once something stands in the way.
    let mut blocked: Option<String> = None;
    for item in &input.module.body {
        let range = (byte_of(item.span().lo), byte_of(item.span().hi));
        let stmt = match item {
            ModuleItem::ModuleDecl(ModuleDecl::Import(_)) => {
                out.after_imports = out.after_imports.max(range.1);
                out.has_imports = true;
                continue;
            }
            ModuleItem::ModuleDecl(ModuleDecl::ExportDecl(e)) => {
                note_declared(&e.decl, range, &mut declared);
                continue;
            }
            ModuleItem::ModuleDecl(_) => continue,
            ModuleItem::Stmt(stmt) => stmt,
        };
        let awaits = outer_awaits(stmt, input.loader_data);
        let at = |byte: usize| {
            let p = input.index.position(byte);
            format!("{}:{}", p.line, p.column)
        };
        if awaits.is_empty() {
            if let Stmt::Decl(d) = stmt {
                note_declared(d, range, &mut declared);
            }
            if blocked.is_none() {
                if crate::script::may_return(stmt) {
                    blocked = Some(format!(
                        "it comes after the guard at {}, and a loader starts before the \
                         component's guards run",
                        at(range.0)
                    ));
                } else if has_effects(stmt, input) {
                    blocked = Some(format!(
                        "it comes after a statement with effects at {} that the call might \
                         depend on",
                        at(range.0)
                    ));
                }
            }
            continue;
        }
        let single = single_await_decl(stmt);
        for a in awaits {
            let text = shorten(&source[a.arg.0..a.arg.1]);
            let span = input.index.span(a.lo, a.hi);
            let mut moved = None;
            let reason = if input.has_loader {
                Some("the component already has a loader: add this call to it by hand".into())
            } else {
                match single {
                    Some((kind, pat, init)) if byte_of(init.span.lo) == a.lo => {
                        let mut check = Check {
                            input,
                            declared: &declared,
                            renames: BTreeMap::new(),
                            copied: BTreeSet::new(),
                            context: BTreeSet::new(),
                            why: None,
                        };
                        check.expr(&init.arg);
                        // What the call reads says more than what comes before it.
                        match (check.why, &blocked) {
                            (Some(why), _) => Some(why),
                            (None, Some(why)) => Some(why.clone()),
                            (None, None) => {
                                out.renames.extend(check.renames);
                                out.copied.extend(check.copied);
                                out.context.extend(check.context);
                                moved = Some(Move {
                                    statement: range,
                                    kind,
                                    pattern: pattern_range(pat),
                                    init: (a.lo, a.hi),
                                    expr: a.arg,
                                });
                                None
                            }
                        }
                    }
                    _ => Some(blocked.clone().unwrap_or_else(|| {
                        "it is not a declaration of its own (`const x = await …`)".to_string()
                    })),
                }
            };
            if moved.is_none() && blocked.is_none() {
                blocked = Some(format!(
                    "it comes after the await at {}, which stays in the frontmatter",
                    at(a.lo)
                ));
            }
            out.found.push((
                FrontmatterAwait {
                    span,
                    text,
                    movable: moved.is_some(),
                    reason,
                },
                moved,
            ));
        }
        if let Stmt::Decl(d) = stmt {
            note_declared(d, range, &mut declared);
        }
    }
    out
}

fn note_declared(
    decl: &Decl,
    range: (usize, usize),
    declared: &mut HashMap<String, ((usize, usize), bool)>,
) {
    match decl {
        Decl::Var(var) => {
            let mut names = Vec::new();
            for d in &var.decls {
                pattern_names(&d.name, &mut names);
            }
            for (name, _) in names {
                declared.insert(name, (range, var.kind == VarDeclKind::Const));
            }
        }
        Decl::Fn(f) => {
            declared.insert(f.ident.sym.to_string(), (range, false));
        }
        Decl::Class(c) => {
            declared.insert(c.ident.sym.to_string(), (range, false));
        }
        _ => {}
    }
}

/// `const <pat> = await <expr>;`, a single declarator: its kind, pattern and await.
fn single_await_decl(stmt: &Stmt) -> Option<(&'static str, &Pat, &AwaitExpr)> {
    let Stmt::Decl(Decl::Var(var)) = stmt else {
        return None;
    };
    let kind = match var.kind {
        VarDeclKind::Const => "const",
        VarDeclKind::Let => "let",
        VarDeclKind::Var => return None,
    };
    if var.decls.len() != 1 || var.declare {
        return None;
    }
    let d = &var.decls[0];
    match d.init.as_deref() {
        Some(Expr::Await(a)) => Some((kind, &d.name, a)),
        _ => None,
    }
}

/// The pattern's source range without its type annotation.
fn pattern_range(pat: &Pat) -> (usize, usize) {
    let (lo, ann) = match pat {
        Pat::Ident(i) => return (byte_of(i.id.span.lo), byte_of(i.id.span.hi)),
        Pat::Object(o) => (o.span.lo, o.type_ann.as_ref().map(|t| t.span.lo)),
        Pat::Array(a) => (a.span.lo, a.type_ann.as_ref().map(|t| t.span.lo)),
        other => (other.span().lo, None),
    };
    let hi = ann.unwrap_or(pat.span().hi);
    (byte_of(lo), byte_of(hi))
}

/// The awaited expression on one line, at most 80 characters.
fn shorten(text: &str) -> String {
    let one: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if one.chars().count() <= 80 {
        one
    } else {
        format!("{}…", one.chars().take(79).collect::<String>())
    }
}

/// An outermost await: its span and its operand's, in bytes.
#[derive(Clone, Copy, PartialEq, Eq)]
struct Found {
    lo: usize,
    hi: usize,
    arg: (usize, usize),
}

/// The awaits of a statement that are not inside a function or another await's operand, and
/// not of `getLoaderData()`.
fn outer_awaits(stmt: &Stmt, loader_data: &[(usize, usize)]) -> Vec<Found> {
    struct Collect(Vec<Found>);
    impl Visit for Collect {
        fn visit_await_expr(&mut self, a: &AwaitExpr) {
            // Outermost only: what its operand awaits is part of the same step.
            self.0.push(Found {
                lo: byte_of(a.span.lo),
                hi: byte_of(a.span.hi),
                arg: (byte_of(a.arg.span().lo), byte_of(a.arg.span().hi)),
            });
        }
        fn visit_function(&mut self, _: &swc_ecma_ast::Function) {}
        fn visit_arrow_expr(&mut self, _: &swc_ecma_ast::ArrowExpr) {}
        fn visit_class(&mut self, _: &swc_ecma_ast::Class) {}
    }
    let mut collect = Collect(Vec::new());
    stmt.visit_with(&mut collect);
    collect
        .0
        .into_iter()
        .filter(|a| {
            !loader_data
                .iter()
                .any(|&(lo, hi)| lo >= a.arg.0 && hi <= a.arg.1)
        })
        .collect()
}

/// Whether a statement without awaits may change what a later call sees: a call or `new` of
/// something not known to be pure, an assignment, `delete`. Writes to `Astro.response` and
/// `console` calls are left out: a loader's context cannot read them.
fn has_effects(stmt: &Stmt, input: &Input<'_>) -> bool {
    struct Effects {
        unresolved: SyntaxContext,
        found: bool,
    }
    impl Effects {
        fn harmless_root(&self, expr: &Expr) -> bool {
            // `Astro.response…` and `console…`.
            let mut e = expr;
            loop {
                match e {
                    Expr::Member(m) => {
                        if let (Expr::Ident(o), MemberProp::Ident(p)) = (&*m.obj, &m.prop) {
                            if o.ctxt == self.unresolved
                                && &*o.sym == "Astro"
                                && &*p.sym == "response"
                            {
                                return true;
                            }
                        }
                        e = &m.obj;
                    }
                    Expr::Ident(i) => {
                        return i.ctxt == self.unresolved && &*i.sym == "console";
                    }
                    _ => return false,
                }
            }
        }
    }
    impl Visit for Effects {
        fn visit_call_expr(&mut self, call: &swc_ecma_ast::CallExpr) {
            let pure = match &call.callee {
                Callee::Expr(e) => match &**e {
                    Expr::Ident(i) => i.ctxt == self.unresolved && PURE_GLOBALS.contains(&&*i.sym),
                    Expr::Member(m) => {
                        self.harmless_root(&m.obj)
                            || matches!(&m.prop, MemberProp::Ident(p) if PURE_METHODS.contains(&&*p.sym))
                    }
                    _ => false,
                },
                _ => false,
            };
            if !pure {
                self.found = true;
            }
            call.visit_children_with(self);
        }
        fn visit_new_expr(&mut self, n: &swc_ecma_ast::NewExpr) {
            let known = matches!(&*n.callee, Expr::Ident(i)
                if i.ctxt == self.unresolved
                    && ["URL", "URLSearchParams", "Date", "Map", "Set"].contains(&&*i.sym));
            if !known {
                self.found = true;
            }
            n.visit_children_with(self);
        }
        fn visit_assign_expr(&mut self, a: &swc_ecma_ast::AssignExpr) {
            let harmless = match &a.left {
                AssignTarget::Simple(SimpleAssignTarget::Member(m)) => self.harmless_root(&m.obj),
                _ => false,
            };
            if !harmless {
                self.found = true;
            }
            a.visit_children_with(self);
        }
        fn visit_update_expr(&mut self, _: &swc_ecma_ast::UpdateExpr) {
            self.found = true;
        }
        fn visit_unary_expr(&mut self, u: &swc_ecma_ast::UnaryExpr) {
            if u.op == swc_ecma_ast::UnaryOp::Delete {
                self.found = true;
            }
            u.visit_children_with(self);
        }
        fn visit_tagged_tpl(&mut self, _: &swc_ecma_ast::TaggedTpl) {
            self.found = true;
        }
        // A function defined here does nothing until it is called.
        fn visit_function(&mut self, _: &swc_ecma_ast::Function) {}
        fn visit_arrow_expr(&mut self, _: &swc_ecma_ast::ArrowExpr) {}
        fn visit_class(&mut self, _: &swc_ecma_ast::Class) {}
    }
    // Type declarations and functions are inert whatever they contain.
    if let Stmt::Decl(Decl::Fn(_) | Decl::Class(_) | Decl::TsInterface(_) | Decl::TsTypeAlias(_)) =
        stmt
    {
        return false;
    }
    let mut v = Effects {
        unresolved: input.unresolved_ctxt,
        found: false,
    };
    stmt.visit_with(&mut v);
    v.found
}

/// The proof that an awaited expression reads only request-start values.
struct Check<'a> {
    input: &'a Input<'a>,
    declared: &'a HashMap<String, ((usize, usize), bool)>,
    renames: BTreeMap<usize, (usize, &'static str)>,
    copied: BTreeSet<(usize, usize)>,
    context: BTreeSet<&'static str>,
    why: Option<String>,
}

impl Check<'_> {
    fn fail(&mut self, why: String) {
        if self.why.is_none() {
            self.why = Some(why);
        }
    }

    fn expr(&mut self, expr: &Expr) {
        expr.visit_with(self);
    }

    /// A top-level name the expression reads.
    fn top_level(&mut self, ident: &Ident) {
        let name = ident.sym.to_string();
        if self.input.imports.contains_key(&name) {
            return;
        }
        let Some(&(range, is_const)) = self.declared.get(&name) else {
            // Declared after the await (or a hoisted function): not known at that point.
            self.fail(format!(
                "it reads `{name}`, which the frontmatter declares later"
            ));
            return;
        };
        let traced = matches!(self.input.scope.bindings.get(&name),
        Some(Binding::Traced(flow)) if {
            let mut ok = true;
            flow.sources(&mut |s, _| ok &= matches!(s, Source::Params | Source::Url | Source::Props));
            ok
        });
        if !is_const || !traced {
            let p = self.input.index.position(range.0);
            self.fail(format!(
                "it reads `{name}` ({}:{}), which the frontmatter computes at render; only \
                 constants made of `Astro.params`, `Astro.url`, `Astro.props` and literals \
                 can be computed again in a loader",
                p.line, p.column
            ));
            return;
        }
        if self.copied.insert(range) {
            // The constant's own inputs must be request-start values too, and get renamed.
            let item = self.input.module.body.iter().find(|item| {
                byte_of(item.span().lo) == range.0 && byte_of(item.span().hi) == range.1
            });
            if let Some(item) = item {
                item.visit_with(self);
            }
        }
    }
}

impl Visit for Check<'_> {
    fn visit_member_expr(&mut self, m: &MemberExpr) {
        if let Expr::Ident(o) = &*m.obj {
            if o.ctxt == self.input.unresolved_ctxt && &*o.sym == "Astro" {
                let name = match &m.prop {
                    MemberProp::Ident(p) => CONTEXT.iter().find(|c| **c == &*p.sym).copied(),
                    _ => None,
                };
                match name {
                    Some(c) => {
                        self.renames
                            .insert(byte_of(m.span.lo), (byte_of(m.span.hi), c));
                        self.context.insert(c);
                    }
                    None => {
                        let what = match &m.prop {
                            MemberProp::Ident(p) => format!("Astro.{}", p.sym),
                            _ => "Astro".to_string(),
                        };
                        self.fail(format!(
                            "it reads `{what}`, which a loader's context does not have (it has \
                             request, params, url, locals and props)"
                        ));
                    }
                }
                return;
            }
        }
        m.visit_children_with(self);
    }

    fn visit_ident(&mut self, ident: &Ident) {
        if ident.ctxt == self.input.unresolved_ctxt {
            if &*ident.sym == "Astro" {
                self.fail("it uses `Astro` as a whole".into());
            }
        } else if ident.ctxt == self.input.top_ctxt {
            self.top_level(ident);
        }
    }

    fn visit_this_expr(&mut self, _: &swc_ecma_ast::ThisExpr) {
        self.fail("it reads `this`".into());
    }

    fn visit_assign_expr(&mut self, a: &swc_ecma_ast::AssignExpr) {
        self.fail("it assigns a variable".into());
        a.visit_children_with(self);
    }

    fn visit_update_expr(&mut self, u: &swc_ecma_ast::UpdateExpr) {
        self.fail("it changes a variable".into());
        u.visit_children_with(self);
    }

    // Type annotations name types, not values.
    fn visit_ts_type(&mut self, _: &swc_ecma_ast::TsType) {}

    // A property key is not a read of a binding (`{ id: 1 }`).
    fn visit_prop_name(&mut self, key: &swc_ecma_ast::PropName) {
        if let swc_ecma_ast::PropName::Computed(c) = key {
            c.visit_with(self);
        }
    }
}

/// A frontmatter rewritten by `migrate`: the new file, or why nothing moved.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Migration {
    /// The file with the movable awaits in an exported loader; none when nothing moves.
    pub code: Option<String>,
    /// Every top-level await, movable or not, with the reason.
    pub awaits: Vec<FrontmatterAwait>,
}

/// Builds the rewritten file: the movable awaits become one exported loader placed after the
/// imports, their declarations read `await getLoaderData()`, and `getLoaderData` is imported.
/// `getter` is the local name of an existing `getLoaderData` import, if any.
pub fn rewrite(source: &str, awaits: &Awaits, getter: Option<&str>) -> Option<String> {
    let moves: Vec<&Move> = awaits
        .found
        .iter()
        .filter_map(|(_, m)| m.as_ref())
        .collect();
    if moves.is_empty() {
        return None;
    }
    let renamed = |range: (usize, usize)| -> String {
        let mut out = String::new();
        let mut at = range.0;
        for (&lo, &(hi, name)) in awaits.renames.range(range.0..range.1) {
            if lo < at || hi > range.1 {
                continue;
            }
            out.push_str(&source[at..lo]);
            out.push_str(name);
            at = hi;
        }
        out.push_str(&source[at..range.1]);
        out
    };
    let context: Vec<&str> = CONTEXT
        .iter()
        .copied()
        .filter(|c| awaits.context.contains(c))
        .collect();
    let params = if context.is_empty() {
        "()".to_string()
    } else {
        format!("({{ {} }})", context.join(", "))
    };
    let consts: Vec<String> = awaits.copied.iter().map(|&r| renamed(r)).collect();
    let exprs: Vec<String> = moves.iter().map(|m| renamed(m.expr)).collect();
    let imported = getter;
    let getter = getter.unwrap_or("getLoaderData");
    let loader = if moves.len() == 1 && consts.is_empty() {
        let e = &exprs[0];
        let e = if e.trim_start().starts_with('{') {
            format!("({e})")
        } else {
            e.clone()
        };
        format!("export const loader = async {params} => {e};\n")
    } else {
        let mut body = String::new();
        for c in &consts {
            body.push_str(&format!("  {}\n", c.trim()));
        }
        if moves.len() == 1 {
            body.push_str(&format!("  return {};\n", exprs[0]));
        } else {
            body.push_str("  return Promise.all([\n");
            for e in &exprs {
                body.push_str(&format!("    {e},\n"));
            }
            body.push_str("  ]);\n");
        }
        format!("export const loader = async {params} => {{\n{body}}};\n")
    };
    // Edits, by position: (start, end, replacement).
    let mut edits: Vec<(usize, usize, String)> = Vec::new();
    let import = if imported.is_none() {
        "import { getLoaderData } from 'astro-hoist/runtime';\n"
    } else {
        ""
    };
    if awaits.has_imports {
        let import = if import.is_empty() {
            String::new()
        } else {
            format!("\n{}", import.trim_end())
        };
        edits.push((
            awaits.after_imports,
            awaits.after_imports,
            format!("{import}\n\n{}", loader.trim_end()),
        ));
    } else {
        // No import: the loader opens the frontmatter, on the line after the fence.
        let at =
            awaits.after_imports + usize::from(source[awaits.after_imports..].starts_with('\n'));
        edits.push((at, at, format!("{import}{loader}\n")));
    }
    let read = format!("await {getter}<typeof loader>()");
    if moves.len() == 1 {
        edits.push((moves[0].init.0, moves[0].init.1, read));
    } else {
        let kind = if moves.iter().any(|m| m.kind == "let") {
            "let"
        } else {
            "const"
        };
        let patterns: Vec<&str> = moves
            .iter()
            .map(|m| source[m.pattern.0..m.pattern.1].trim())
            .collect();
        let first = moves[0];
        edits.push((
            first.statement.0,
            first.statement.1,
            format!("{kind} [{}] = {read};", patterns.join(", ")),
        ));
        for m in &moves[1..] {
            // The statement and the line it leaves empty.
            let mut end = m.statement.1;
            let rest = &source[end..];
            let line_end = rest.find('\n').map_or(rest.len(), |n| n + 1);
            if rest[..line_end].trim().is_empty() {
                end += line_end;
            }
            let mut start = m.statement.0;
            let line_start = source[..start].rfind('\n').map_or(0, |n| n + 1);
            if source[line_start..start].trim().is_empty() {
                start = line_start;
            }
            edits.push((start, end, String::new()));
        }
    }
    edits.sort_by_key(|e| std::cmp::Reverse(e.0));
    let mut out = source.to_string();
    for (lo, hi, text) in edits {
        out.replace_range(lo..hi, &text);
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use crate::component::{analyze_component, migrate, AnalyzeOptions};

    fn reasons(src: &str) -> Vec<(String, Option<String>)> {
        analyze_component(src, "/s/src/components/C.astro", &AnalyzeOptions::default())
            .awaits
            .into_iter()
            .map(|a| (a.text, a.reason))
            .collect()
    }

    #[test]
    fn one_await_becomes_the_loader() {
        let src = "---\nimport { getCart } from '../api';\nimport Cart from './Cart.svelte';\n\nconst cart = await getCart(Astro.request);\nconst count = cart.items.length;\n---\n<Cart count={count} />\n";
        let m = migrate(src, "/s/src/components/Header.astro");
        assert_eq!(m.awaits.len(), 1);
        assert!(m.awaits[0].movable);
        assert_eq!(m.awaits[0].span.line, 5);
        assert_eq!(
            m.code.as_deref(),
            Some("---\nimport { getCart } from '../api';\nimport Cart from './Cart.svelte';\nimport { getLoaderData } from 'astro-hoist/runtime';\n\nexport const loader = async ({ request }) => getCart(request);\n\nconst cart = await getLoaderData<typeof loader>();\nconst count = cart.items.length;\n---\n<Cart count={count} />\n")
        );
        // The rewritten file has a hoistable loader that is read, and no await left to move.
        let after = analyze_component(
            m.code.as_deref().unwrap(),
            "/s/src/components/Header.astro",
            &AnalyzeOptions::default(),
        );
        let loader = after.loader.expect("a loader");
        assert!(loader.hoistable);
        assert_eq!(after.loader_data_calls.len(), 1);
        assert!(after.awaits.is_empty());
    }

    #[test]
    fn several_awaits_and_the_constants_they_read() {
        let src = "---\nimport { getProduct, getUser } from '../api';\nconst id = Number(Astro.params.id);\nconst product = await getProduct(Astro.request, id);\nlet user = await getUser(Astro.locals.session);\n---\n<h1>{product.name} {user.name} {id}</h1>\n";
        let m = migrate(src, "/s/src/pages/p/[id].astro");
        assert!(m.awaits.iter().all(|a| a.movable), "{:?}", m.awaits);
        let code = m.code.unwrap();
        assert!(code.contains("export const loader = async ({ request, params, locals }) => {\n  const id = Number(params.id);\n  return Promise.all([\n    getProduct(request, id),\n    getUser(locals.session),\n  ]);\n};"), "{code}");
        assert!(
            code.contains("let [product, user] = await getLoaderData<typeof loader>();\n---"),
            "{code}"
        );
        assert!(
            code.contains("const id = Number(Astro.params.id);"),
            "{code}"
        );
    }

    #[test]
    fn what_stops_a_move_is_said() {
        // A guard before it (the loader would run when the page redirects).
        let r = reasons("---\nimport { getCart } from '../api';\nif (!Astro.cookies.get('u')) {\n  return Astro.redirect('/');\n}\nconst cart = await getCart(Astro.request);\n---\n");
        assert!(
            r[0].1
                .as_deref()
                .unwrap()
                .contains("after the guard at 3:1"),
            "{r:?}"
        );
        // Astro.cookies is not in a loader's context.
        let r = reasons("---\nimport { getUser } from '../api';\nconst user = await getUser(Astro.cookies.get('sid'));\nconst posts = await fetch('/posts');\n---\n");
        assert!(
            r[0].1.as_deref().unwrap().contains("`Astro.cookies`"),
            "{r:?}"
        );
        assert!(
            r[1].1
                .as_deref()
                .unwrap()
                .contains("after the await at 3:14"),
            "{r:?}"
        );
        let r = reasons("---\nimport { get } from '../api';\nconst user = await get(Astro.cookies.get('sid'));\nconst orders = await get(`/orders/${user.id}`);\n---\n");
        assert!(r[1].1.as_deref().unwrap().contains("reads `user`"), "{r:?}");
        // A value computed at render, an effect before, an await inside an expression.
        let r = reasons("---\nimport { get } from '../api';\nconst user = await get('/me');\nconst posts = await get(`/posts/${user.id}`);\n---\n");
        assert_eq!(r[0].1, None);
        assert!(r[1].1.as_deref().unwrap().contains("reads `user`"), "{r:?}");
        let r = reasons("---\nimport { track, get } from '../api';\ntrack('view');\nconst a = await get('/a');\n---\n");
        assert!(
            r[0].1
                .as_deref()
                .unwrap()
                .contains("statement with effects at 3:1"),
            "{r:?}"
        );
        let r = reasons("---\nimport { get } from '../api';\nAstro.response.headers.set('Cache-Control', 'max-age=60');\nconsole.log('x');\nconst [a, b] = await Promise.all([get('/a'), get('/b')]);\nconst c = (await get('/c')).items;\n---\n");
        assert_eq!(r.len(), 2);
        assert_eq!(r[0].1, None, "{r:?}");
        assert!(
            r[1].1
                .as_deref()
                .unwrap()
                .contains("declaration of its own"),
            "{r:?}"
        );
        // getLoaderData is not a fetch; a component with a loader is left to its author.
        let r = reasons("---\nimport { getLoaderData } from 'astro-hoist/runtime';\nimport { get } from '../api';\nexport const loader = async () => get('/a');\nconst a = await getLoaderData();\nconst b = await get('/b');\n---\n");
        assert_eq!(r.len(), 1);
        assert!(
            r[0].1.as_deref().unwrap().contains("already has a loader"),
            "{r:?}"
        );
        // Awaits inside functions are not steps of the render.
        assert!(reasons("---\nconst f = async () => await fetch('/x');\n---\n").is_empty());
    }

    #[test]
    fn no_import_and_an_object_result() {
        let m = migrate(
            "---\nconst data = await Promise.resolve({ a: 1 });\n---\n{data.a}\n",
            "/s/src/pages/index.astro",
        );
        assert_eq!(
            m.code.as_deref(),
            Some("---\nimport { getLoaderData } from 'astro-hoist/runtime';\nexport const loader = async () => Promise.resolve({ a: 1 });\n\nconst data = await getLoaderData<typeof loader>();\n---\n{data.a}\n")
        );
    }
}

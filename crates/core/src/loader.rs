//! Finding a component's exported `loader` and what it reads.
//!
//! Astro hoists a frontmatter's `import` and `export` statements to module scope and runs every
//! other statement inside the render function. A loader is therefore a module-level value: it
//! can be started before the component renders only if everything it reads — directly or
//! through other exports — is an import, an export, or a global. Reading `Astro` or a
//! frontmatter variable declared without `export` ties it to the render.

use std::collections::HashSet;

use serde::{Deserialize, Serialize};
use swc_common::Spanned;
use swc_ecma_ast::{
    ArrowExpr, AssignTarget, CallExpr, Callee, Decl, Expr, Function, Id, Ident, MemberExpr,
    MemberProp, ModuleDecl, ModuleExportName, ModuleItem, ObjectPatProp, Pat, PropName,
    SimpleAssignTarget, VarDeclKind, VarDeclarator,
};
use swc_ecma_visit::{Visit, VisitWith};

use crate::diagnostic::{Code, Diagnostic, Severity};
use crate::dialect::Dialect;
use crate::extract::{self, LoaderModule};
use crate::position::byte_of;
use crate::position::{LineIndex, Span};
use crate::record::RUNTIME_MODULE;
use crate::scope::{BindingKind, RefCollector, Resolved};

/// How a loader is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum LoaderKind {
    /// `export const loader = async (ctx) => …`
    Arrow,
    /// `export async function loader(ctx) { … }` or `export const loader = async function …`
    Function,
    /// `export const loader = defineLoader(async (ctx) => …)`
    DefineLoader,
    /// `export const loader = defineBatchLoader(async (propsList, ctx) => …)`
    DefineBatchLoader,
}

/// What a loader reads.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LoaderReads {
    /// Local names of the imports it reads, directly or through other exports.
    pub imports: Vec<String>,
    /// Other exported bindings it reads.
    pub exports: Vec<String>,
    /// Whether it reads the `Astro` global (directly or through an export).
    pub astro: bool,
    /// Fields of the loader context it uses (`params`, `url`, `request`, `locals`, `signal`,
    /// `load`, …); `*` when the context escapes whole.
    pub context: Vec<String>,
    /// Frontmatter variables declared without `export` that it reads: they exist only while
    /// the component renders.
    pub locals: Vec<String>,
}

/// A loader this loader awaits through `ctx.load(x)`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LoaderDependency {
    /// The expression passed to `load`, as written (`postLoader`, `Post.loader`).
    pub local: String,
    /// The import source it comes from, when it is imported.
    pub source: Option<String>,
    /// The name imported from `source`.
    pub imported: Option<String>,
}

/// A component's loader.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Loader {
    pub kind: LoaderKind,
    /// The whole `export …` declaration.
    pub span: Span,
    pub reads: LoaderReads,
    pub depends_on: Vec<LoaderDependency>,
    /// Whether it can start before the component renders.
    pub hoistable: bool,
    /// Why not, when it cannot.
    pub reason: Option<String>,
    /// Its module-level closure (see [`crate::extract`]): what a run at request start depends
    /// on; present exactly when `hoistable`.
    pub module: Option<LoaderModule>,
}

const SUPPORTED_FORMS: &str = "`export const loader = async (ctx) => …`, \
`export async function loader(ctx) { … }` or `export const loader = defineLoader(async (ctx) => …)`";

/// The loader's function: its first parameter and the node whose reads are collected.
enum Body<'m> {
    Arrow(&'m ArrowExpr),
    Function(&'m Function),
    /// `defineLoader(x)` where `x` is not a function literal.
    Other(&'m Expr),
}

/// The component's loader, if it exports one. `loader_data_calls` are the byte spans of its
/// `getLoaderData()` calls (a loader whose closure contains one is not hoisted).
pub(crate) fn find(
    index: &LineIndex<'_>,
    r: &Resolved<'_>,
    loader_data_calls: &[(usize, usize)],
) -> (Option<Loader>, Vec<Diagnostic>) {
    let mut diagnostics = Vec::new();
    // A `loader` export may mean something else entirely (another framework's convention): it
    // is only worth a warning in a file that uses astro-hoist.
    let severity = if r.imports.iter().any(|i| i.source == RUNTIME_MODULE) {
        Severity::Warning
    } else {
        Severity::Info
    };
    let mut warn = |byte: usize, what: &str| {
        diagnostics.push(Diagnostic::at(
            index,
            byte,
            severity,
            Code::UnsupportedLoaderForm,
            format!(
                "{what} is not a supported loader declaration, so it is not hoisted; declare it as {SUPPORTED_FORMS}"
            ),
        ));
    };
    let mut found: Option<(LoaderKind, swc_common::Span, Id, Body<'_>)> = None;

    for item in &r.module.body {
        match item {
            ModuleItem::ModuleDecl(ModuleDecl::ExportDecl(export)) => match &export.decl {
                Decl::Fn(f) if &*f.ident.sym == "loader" => {
                    found.get_or_insert((
                        LoaderKind::Function,
                        export.span,
                        f.ident.to_id(),
                        Body::Function(&f.function),
                    ));
                }
                Decl::Var(var) => {
                    for d in &var.decls {
                        let Pat::Ident(name) = &d.name else { continue };
                        if &*name.id.sym != "loader" {
                            continue;
                        }
                        if var.kind != VarDeclKind::Const {
                            warn(
                                byte_of(export.span.lo),
                                "`export let loader` (a binding that can be reassigned)",
                            );
                            continue;
                        }
                        match d.init.as_deref().map(unwrap_expr).and_then(classify) {
                            Some((kind, body)) => {
                                found.get_or_insert((kind, export.span, name.id.to_id(), body));
                            }
                            None => warn(
                                byte_of(d.span.lo),
                                "`export const loader = <expression>` (not a function)",
                            ),
                        }
                    }
                }
                _ => {}
            },
            ModuleItem::ModuleDecl(ModuleDecl::ExportNamed(named)) => {
                for spec in &named.specifiers {
                    if let swc_ecma_ast::ExportSpecifier::Named(n) = spec {
                        let exported = n.exported.as_ref().unwrap_or(&n.orig);
                        if matches!(exported, ModuleExportName::Ident(i) if &*i.sym == "loader") {
                            warn(byte_of(n.span.lo), "`export { loader }`");
                        }
                    }
                }
            }
            _ => {}
        }
    }

    let Some((kind, span, self_id, body)) = found else {
        return (None, diagnostics);
    };

    let mut reassigned = Reassignments {
        target: &self_id,
        at: Vec::new(),
    };
    r.module.visit_with(&mut reassigned);
    if let Some(&at) = reassigned.at.first() {
        warn(byte_of(at), "A reassigned `loader`");
        return (None, diagnostics);
    }

    let mut refs = RefCollector::new(r.top_ctxt, r.unresolved_ctxt);
    match &body {
        Body::Arrow(a) => a.visit_with(&mut refs),
        Body::Function(f) => f.visit_with(&mut refs),
        Body::Other(e) => e.visit_with(&mut refs),
    }
    let mut reads = LoaderReads {
        astro: refs.reads_astro,
        ..Default::default()
    };
    follow_reads(r, &self_id, refs.refs, &mut reads);

    // A batch loader takes the props of its instances first, the context second.
    let batch = kind == LoaderKind::DefineBatchLoader;
    let at = usize::from(batch);
    let param = match &body {
        Body::Arrow(a) => a.params.get(at),
        Body::Function(f) => f.params.get(at).map(|p| &p.pat),
        Body::Other(_) => None,
    };
    let mut context = ContextUse::new(r, param);
    match &body {
        Body::Arrow(a) => a.body.visit_with(&mut context),
        Body::Function(f) => f.body.visit_with(&mut context),
        Body::Other(_) => {}
    }
    reads.context = context.fields;
    if batch {
        push_unique(&mut reads.context, "props".to_string());
    }
    let depends_on = context.loads;

    let mut reasons = Vec::new();
    if reads.astro {
        reasons.push("it reads `Astro`, which exists only while the component renders".to_string());
    }
    if !reads.locals.is_empty() {
        let names: Vec<String> = reads.locals.iter().map(|n| format!("`{n}`")).collect();
        reasons.push(format!(
            "it reads {}, declared in the frontmatter without `export`: only imports and exports exist before the component renders",
            names.join(", ")
        ));
    }
    if batch {
        reasons.push(
            "a batch loader: it runs when its instances render, one call for the instances that render together"
                .to_string(),
        );
    } else if reads.context.iter().any(|f| f == "props") {
        // Props-aware hoisting (starting it once the values its usages pass are known) is not
        // done yet: it runs at render, once per distinct props.
        reasons.push(
            "it reads its `props`, known only when the component renders: it runs then, once per distinct props"
                .to_string(),
        );
    }
    let mut module = None;
    if reasons.is_empty() && r.dialect == Dialect::Frontmatter {
        match extract::loader_module(index, r, &self_id, loader_data_calls) {
            Ok(m) => module = Some(m),
            Err(why) => reasons.push(why),
        }
    }
    let loader = Loader {
        kind,
        span: index.span(byte_of(span.lo), byte_of(span.hi)),
        reads,
        depends_on,
        hoistable: reasons.is_empty(),
        reason: (!reasons.is_empty()).then(|| reasons.join("; ")),
        module,
    };
    (Some(loader), diagnostics)
}

/// Strips parentheses and TS-only wrappers (`as`, `satisfies`, `!`, `<T>x`).
fn unwrap_expr(mut e: &Expr) -> &Expr {
    loop {
        e = match e {
            Expr::Paren(p) => &p.expr,
            Expr::TsAs(x) => &x.expr,
            Expr::TsSatisfies(x) => &x.expr,
            Expr::TsNonNull(x) => &x.expr,
            Expr::TsTypeAssertion(x) => &x.expr,
            Expr::TsConstAssertion(x) => &x.expr,
            _ => return e,
        }
    }
}

fn classify(init: &Expr) -> Option<(LoaderKind, Body<'_>)> {
    match init {
        Expr::Arrow(a) => Some((LoaderKind::Arrow, Body::Arrow(a))),
        Expr::Fn(f) => Some((LoaderKind::Function, Body::Function(&f.function))),
        Expr::Call(CallExpr {
            callee: Callee::Expr(callee),
            args,
            ..
        }) if matches!(unwrap_expr(callee), Expr::Ident(i) if &*i.sym == "defineLoader" || &*i.sym == "defineBatchLoader") =>
        {
            let kind = match unwrap_expr(callee) {
                Expr::Ident(i) if &*i.sym == "defineBatchLoader" => LoaderKind::DefineBatchLoader,
                _ => LoaderKind::DefineLoader,
            };
            let arg = args.first().map(|a| unwrap_expr(&a.expr))?;
            let body = match arg {
                Expr::Arrow(a) => Body::Arrow(a),
                Expr::Fn(f) => Body::Function(&f.function),
                other => Body::Other(other),
            };
            Some((kind, body))
        }
        _ => None,
    }
}

/// Walks from the loader's direct reads through the exports (and, in JS modules, the module
/// state) they read, sorting every module-level binding reached into `reads`.
fn follow_reads(r: &Resolved<'_>, self_id: &Id, direct: Vec<Id>, reads: &mut LoaderReads) {
    let frontmatter = r.dialect == Dialect::Frontmatter;
    let mut seen: HashSet<Id> = HashSet::new();
    seen.insert(self_id.clone());
    let mut queue = direct;
    let mut i = 0;
    while i < queue.len() {
        let id = queue[i].clone();
        i += 1;
        if !seen.insert(id.clone()) {
            continue;
        }
        let name = id.0.to_string();
        let follow = match r.bindings.get(&id) {
            Some(BindingKind::Import { .. }) => {
                push_unique(&mut reads.imports, name);
                false
            }
            Some(BindingKind::Export) => {
                let exported = r.exported_as.get(&id).cloned().unwrap_or(name);
                push_unique(&mut reads.exports, exported);
                true
            }
            Some(BindingKind::Local) if !frontmatter => true,
            // A frontmatter declaration without `export`, or a `var` hoisted out of a block:
            // both live in the render function.
            _ if frontmatter => {
                push_unique(&mut reads.locals, name);
                false
            }
            _ => false,
        };
        if follow {
            if let Some(decl) = r.decl_of.get(&id).map(|&d| &r.decls[d]) {
                reads.astro |= decl.reads_astro;
                queue.extend(decl.refs.iter().cloned());
            }
        }
    }
}

fn push_unique(list: &mut Vec<String>, name: String) {
    if !list.contains(&name) {
        list.push(name);
    }
}

fn dependency(r: &Resolved<'_>, arg: &Expr) -> LoaderDependency {
    let (local, root, member) = match unwrap_expr(arg) {
        Expr::Ident(i) => (i.sym.to_string(), Some(i), None),
        Expr::Member(MemberExpr {
            obj,
            prop: MemberProp::Ident(p),
            ..
        }) => match unwrap_expr(obj) {
            Expr::Ident(o) => (
                format!("{}.{}", o.sym, p.sym),
                Some(o),
                Some(p.sym.to_string()),
            ),
            _ => ("<expression>".to_string(), None, None),
        },
        _ => ("<expression>".to_string(), None, None),
    };
    let import = root.and_then(|i| match r.bindings.get(&i.to_id()) {
        Some(BindingKind::Import { index, imported }) => Some((index, imported)),
        _ => None,
    });
    match import {
        Some((&index, imported)) => {
            let imported = match (imported.as_str(), member) {
                ("*", Some(m)) => m,
                _ => imported.clone(),
            };
            LoaderDependency {
                local,
                source: Some(r.imports[index].source.clone()),
                imported: Some(imported),
            }
        }
        None => LoaderDependency {
            local,
            source: None,
            imported: None,
        },
    }
}

/// Which context fields a loader uses and which loaders it passes to `load`.
struct ContextUse<'r> {
    resolved: &'r Resolved<'r>,
    /// The context parameter when it is a plain identifier (`ctx`).
    ctx: Option<Id>,
    /// Bindings of `load` destructured from the context.
    load_fns: Vec<Id>,
    fields: Vec<String>,
    loads: Vec<LoaderDependency>,
}

impl<'r> ContextUse<'r> {
    fn new(resolved: &'r Resolved<'r>, param: Option<&Pat>) -> Self {
        let mut this = ContextUse {
            resolved,
            ctx: None,
            load_fns: Vec::new(),
            fields: Vec::new(),
            loads: Vec::new(),
        };
        match param {
            Some(Pat::Assign(a)) => this.bind_pattern(&a.left),
            Some(p) => this.bind_pattern(p),
            None => {}
        }
        this
    }

    fn bind_pattern(&mut self, pat: &Pat) {
        match pat {
            Pat::Ident(i) => self.ctx = Some(i.id.to_id()),
            Pat::Object(obj) => self.destructure(&obj.props),
            Pat::Assign(a) => self.bind_pattern(&a.left),
            _ => {}
        }
    }

    fn destructure(&mut self, props: &[ObjectPatProp]) {
        for prop in props {
            match prop {
                ObjectPatProp::Assign(a) => {
                    self.field(a.key.sym.to_string());
                    if &*a.key.sym == "load" {
                        self.load_fns.push(a.key.id.to_id());
                    }
                }
                ObjectPatProp::KeyValue(kv) => {
                    let key = match &kv.key {
                        PropName::Ident(i) => i.sym.to_string(),
                        PropName::Str(s) => s.value.to_atom_lossy().to_string(),
                        _ => "*".to_string(),
                    };
                    if key == "load" {
                        let mut value = &*kv.value;
                        if let Pat::Assign(a) = value {
                            value = &a.left;
                        }
                        if let Pat::Ident(i) = value {
                            self.load_fns.push(i.id.to_id());
                        }
                    }
                    self.field(key);
                }
                ObjectPatProp::Rest(_) => self.field("*".to_string()),
            }
        }
    }

    fn field(&mut self, name: String) {
        push_unique(&mut self.fields, name);
    }

    fn is_ctx(&self, e: &Expr) -> bool {
        matches!(unwrap_expr(e), Expr::Ident(i) if Some(i.to_id()) == self.ctx)
    }
}

impl Visit for ContextUse<'_> {
    fn visit_member_expr(&mut self, m: &MemberExpr) {
        if self.is_ctx(&m.obj) {
            let name = match &m.prop {
                MemberProp::Ident(p) => p.sym.to_string(),
                MemberProp::Computed(c) => match unwrap_expr(&c.expr) {
                    Expr::Lit(swc_ecma_ast::Lit::Str(s)) => s.value.to_atom_lossy().to_string(),
                    _ => "*".to_string(),
                },
                MemberProp::PrivateName(_) => "*".to_string(),
            };
            self.field(name);
            m.prop.visit_with(self);
            return;
        }
        m.visit_children_with(self);
    }

    fn visit_var_declarator(&mut self, d: &VarDeclarator) {
        if let (Pat::Object(obj), Some(init)) = (&d.name, &d.init) {
            if self.is_ctx(init) {
                self.destructure(&obj.props);
                return;
            }
        }
        d.visit_children_with(self);
    }

    fn visit_ident(&mut self, i: &Ident) {
        // Any other use of the context (passing it on, spreading it) may read any field.
        if Some(i.to_id()) == self.ctx {
            self.field("*".to_string());
        }
    }

    fn visit_call_expr(&mut self, call: &CallExpr) {
        call.visit_children_with(self);
        let Callee::Expr(callee) = &call.callee else {
            return;
        };
        let is_load = match unwrap_expr(callee) {
            Expr::Member(m) => {
                self.is_ctx(&m.obj) && matches!(&m.prop, MemberProp::Ident(p) if &*p.sym == "load")
            }
            Expr::Ident(i) => self.load_fns.contains(&i.to_id()),
            _ => false,
        };
        if is_load {
            if let Some(arg) = call.args.first() {
                let dep = dependency(self.resolved, &arg.expr);
                self.loads.push(dep);
            }
        }
    }
}

/// Finds assignments to the loader's binding anywhere in the module.
struct Reassignments<'a> {
    target: &'a Id,
    at: Vec<swc_common::BytePos>,
}

impl Visit for Reassignments<'_> {
    fn visit_assign_target(&mut self, t: &AssignTarget) {
        if let AssignTarget::Simple(SimpleAssignTarget::Ident(b)) = t {
            if &b.id.to_id() == self.target {
                self.at.push(b.span().lo);
            }
        }
        t.visit_children_with(self);
    }

    fn visit_update_expr(&mut self, u: &swc_ecma_ast::UpdateExpr) {
        if let Expr::Ident(i) = &*u.arg {
            if &i.to_id() == self.target {
                self.at.push(i.span.lo);
            }
        }
        u.visit_children_with(self);
    }
}

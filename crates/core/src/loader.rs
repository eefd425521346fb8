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
    MemberProp, ModuleDecl, ModuleExportName, ModuleItem, ObjectLit, ObjectPatProp, Pat, Prop,
    PropName, PropOrSpread, SimpleAssignTarget, VarDeclKind, VarDeclarator,
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
    /// It reads its props (or is a batch loader) and nothing else keeps it from starting before
    /// its component renders: it starts once the props its usages pass are known, where the
    /// planner can prove them (see [`crate::flow`]).
    #[serde(default)]
    pub by_props: bool,
    /// Its module-level closure (see [`crate::extract`]): what a run at request start depends
    /// on; present exactly when `hoistable` or `by_props`.
    pub module: Option<LoaderModule>,
    /// The `cache` option of a `defineLoader(fn, { cache: … })`, when written.
    pub cache: Option<LoaderCache>,
}

/// A loader's `cache` option (`defineLoader(fn, { cache: { maxAge, key, … } })`). Its cache key
/// is made of the context fields it reads (`params`, `props`, `url`) unless the options give a
/// `key`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LoaderCache {
    /// Where the `cache` option is written (the property).
    pub span: Span,
    /// Whether the cache options give an explicit `key` (also true when that cannot be seen: a
    /// non-literal value, a spread).
    pub keyed: bool,
    /// What it reads that a key made of params, props and url cannot capture, as shown to
    /// users: "`locals`", "`request`", "its whole context" (context field `*`), "`Astro`", and
    /// each frontmatter local (`name`).
    pub per_request: Vec<String>,
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
    let mut found: Option<(LoaderKind, swc_common::Span, Id, Body<'_>, Option<&Expr>)> = None;

    for item in &r.module.body {
        match item {
            ModuleItem::ModuleDecl(ModuleDecl::ExportDecl(export)) => match &export.decl {
                Decl::Fn(f) if &*f.ident.sym == "loader" => {
                    found.get_or_insert((
                        LoaderKind::Function,
                        export.span,
                        f.ident.to_id(),
                        Body::Function(&f.function),
                        None,
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
                            Some((kind, body, options)) => {
                                found.get_or_insert((
                                    kind,
                                    export.span,
                                    name.id.to_id(),
                                    body,
                                    options,
                                ));
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

    let Some((kind, span, self_id, body, options)) = found else {
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
        // `defineLoader(fetchPost)`: the context goes whole to a function not seen here.
        Body::Other(_) => context.field("*".to_string()),
    }
    reads.context = context.fields;
    if batch {
        push_unique(&mut reads.context, "props".to_string());
    }
    let depends_on = context.loads;

    let mut reasons = Vec::new();
    if reads.astro {
        reasons.push(
            "it reads `Astro`, which a loader cannot read: outside the component's render Astro's \
             global has no request (`Astro.params`, `Astro.url`… throw there, hoisted or not); \
             read the loader's context instead (`ctx.params`, `ctx.url`, `ctx.request`, \
             `ctx.locals`, `ctx.props`)"
                .to_string(),
        );
    }
    if !reads.locals.is_empty() {
        let names: Vec<String> = reads.locals.iter().map(|n| format!("`{n}`")).collect();
        reasons.push(format!(
            "it reads {}, declared in the frontmatter without `export`: only imports and exports exist before the component renders",
            names.join(", ")
        ));
    }
    // A loader that reads its props starts once the props its usages pass are known (see
    // crate::flow): it needs its own module-level closure like any hoisted loader.
    let props_reason = if batch {
        Some("a batch loader: it runs when its instances render, one call for the instances that render together")
    } else if reads.context.iter().any(|f| f == "props") {
        Some("it reads its `props`, known only when the component renders: it runs then, once per distinct props")
    } else {
        None
    };
    let mut module = None;
    if reasons.is_empty() && r.dialect == Dialect::Frontmatter {
        match extract::loader_module(index, r, &self_id, loader_data_calls) {
            Ok(m) => module = Some(m),
            Err(why) => reasons.push(why),
        }
    }
    let by_props = reasons.is_empty() && module.is_some() && props_reason.is_some();
    if let Some(why) = props_reason {
        reasons.push(why.to_string());
    }
    if !reasons.is_empty() && !by_props {
        module = None;
    }
    let cache = match (kind, options) {
        (LoaderKind::DefineLoader, Some(options)) => cache_option(options),
        _ => None,
    }
    .map(|(at, keyed)| {
        let per_request = per_request(&reads);
        if !keyed && !per_request.is_empty() {
            diagnostics.push(Diagnostic::at(
                index,
                byte_of(at.lo),
                Severity::Error,
                Code::UnsafeLoaderCache,
                format!(
                    "This loader is cached but reads {} (data of the request, often of one user) \
                     and its cache options give no `key`: one visitor's data could be served to \
                     another. Add `key: (ctx) => …` to `cache`, naming what makes the value differ \
                     (e.g. the user's id), or remove `cache`",
                    per_request.join(", ")
                ),
            ));
        }
        LoaderCache {
            span: index.span(byte_of(at.lo), byte_of(at.hi)),
            keyed,
            per_request,
        }
    });
    let loader = Loader {
        kind,
        span: index.span(byte_of(span.lo), byte_of(span.hi)),
        reads,
        depends_on,
        hoistable: reasons.is_empty(),
        reason: (!reasons.is_empty()).then(|| reasons.join("; ")),
        by_props,
        module,
        cache,
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

/// The loader's kind and function, and the options a `defineLoader(fn, options)` is given.
fn classify(init: &Expr) -> Option<(LoaderKind, Body<'_>, Option<&Expr>)> {
    match init {
        Expr::Arrow(a) => Some((LoaderKind::Arrow, Body::Arrow(a), None)),
        Expr::Fn(f) => Some((LoaderKind::Function, Body::Function(&f.function), None)),
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
            // A spread argument (`defineLoader(fn, ...rest)`) is not seen through.
            let options = args.get(1).filter(|a| a.spread.is_none()).map(|a| &*a.expr);
            Some((kind, body, options))
        }
        _ => None,
    }
}

/// The `cache` property of a `defineLoader` call's options (its second argument), when it is
/// written in an object literal: where it is, and whether it gives a `key` (see
/// [`LoaderCache::keyed`]). The last one counts, as in JS.
fn cache_option(options: &Expr) -> Option<(swc_common::Span, bool)> {
    let Expr::Object(options) = unwrap_expr(options) else {
        return None;
    };
    let mut found = None;
    for prop in &options.props {
        let PropOrSpread::Prop(prop) = prop else {
            continue;
        };
        match &**prop {
            Prop::KeyValue(kv) if is_named(&kv.key, "cache") => {
                let keyed = match unwrap_expr(&kv.value) {
                    Expr::Object(cache) => has_key(cache),
                    // A variable, a call, …: what it holds is not seen here.
                    _ => true,
                };
                found = Some((prop.span(), keyed));
            }
            // `{ cache }`: a variable.
            Prop::Shorthand(i) if &*i.sym == "cache" => found = Some((prop.span(), true)),
            _ => {}
        }
    }
    found
}

/// Whether cache options written as an object literal give a `key` (or may: a spread, a
/// computed name).
fn has_key(cache: &ObjectLit) -> bool {
    cache.props.iter().any(|prop| match prop {
        PropOrSpread::Spread(_) => true,
        PropOrSpread::Prop(prop) => match &**prop {
            Prop::Shorthand(i) => &*i.sym == "key",
            Prop::KeyValue(kv) => may_be_named(&kv.key, "key"),
            Prop::Method(m) => may_be_named(&m.key, "key"),
            Prop::Getter(g) => may_be_named(&g.key, "key"),
            Prop::Assign(_) | Prop::Setter(_) => false,
        },
    })
}

/// The name of a property key, when it is written as one (`name`, `'name'`, `['name']`).
fn key_name(key: &PropName) -> Option<String> {
    match key {
        PropName::Ident(i) => Some(i.sym.to_string()),
        PropName::Str(s) => Some(s.value.to_atom_lossy().to_string()),
        PropName::Computed(c) => match unwrap_expr(&c.expr) {
            Expr::Lit(swc_ecma_ast::Lit::Str(s)) => Some(s.value.to_atom_lossy().to_string()),
            _ => None,
        },
        // A number names none of the options.
        PropName::Num(_) | PropName::BigInt(_) => Some(String::new()),
    }
}

fn is_named(key: &PropName, name: &str) -> bool {
    key_name(key).is_some_and(|k| k == name)
}

/// Whether a key is `name` or a computed one that may be.
fn may_be_named(key: &PropName, name: &str) -> bool {
    key_name(key).is_none_or(|k| k == name)
}

/// What a loader reads that a cache key made of its params, props and url cannot tell apart,
/// as shown to users.
fn per_request(reads: &LoaderReads) -> Vec<String> {
    let mut out = Vec::new();
    for (field, shown) in [
        ("locals", "`locals`"),
        ("request", "`request`"),
        ("*", "its whole context"),
    ] {
        if reads.context.iter().any(|f| f == field) {
            out.push(shown.to_string());
        }
    }
    if reads.astro {
        out.push("`Astro`".to_string());
    }
    out.extend(reads.locals.iter().map(|n| format!("`{n}`")));
    out
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
            // `(...args) =>`: the context is in an array, used in ways not followed here.
            Pat::Rest(_) => self.field("*".to_string()),
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

#[cfg(test)]
mod tests {
    use crate::component::{analyze_component, AnalyzeOptions, ComponentInfo};
    use crate::diagnostic::{Code, Severity};

    const IMPORTS: &str =
        "import { defineLoader, getLoaderData } from 'astro-hoist/runtime';\nimport { db } from '../lib/db';\n";

    fn analyze(loader: &str) -> ComponentInfo {
        let source =
            format!("---\n{IMPORTS}{loader}\nconst data = await getLoaderData();\n---\n<p/>\n");
        analyze_component(
            &source,
            "/site/src/pages/a.astro",
            &AnalyzeOptions::default(),
        )
    }

    /// The 1-based column of `what` in `line` (ASCII).
    fn column_of(line: &str, what: &str) -> u32 {
        line.find(what).unwrap() as u32 + 1
    }

    fn unsafe_cache(info: &ComponentInfo) -> Vec<&crate::diagnostic::Diagnostic> {
        info.diagnostics
            .iter()
            .filter(|d| d.code == Code::UnsafeLoaderCache)
            .collect()
    }

    #[test]
    fn no_cache_option() {
        let info = analyze(
            "export const loader = defineLoader(async ({ locals }) => db.user(locals.id));",
        );
        assert_eq!(info.loader.as_ref().unwrap().cache, None);
        assert!(unsafe_cache(&info).is_empty());
        let info = analyze(
            "export const loader = defineLoader(async ({ locals }) => db.user(locals.id), { timeout: 5 });",
        );
        assert_eq!(info.loader.as_ref().unwrap().cache, None);
    }

    #[test]
    fn cache_of_a_loader_reading_params_is_fine() {
        let line =
            "export const loader = defineLoader(async ({ params }) => db.post(params.slug), { cache: { maxAge: 60 } });";
        let info = analyze(line);
        let loader = info.loader.unwrap();
        let cache = loader.cache.expect("cache");
        assert!(!cache.keyed);
        assert!(cache.per_request.is_empty());
        assert!(loader.hoistable, "{:?}", loader.reason);
        assert!(info.diagnostics.is_empty(), "{:?}", info.diagnostics);
        // Its span is the `cache` property, in file coordinates (line 4 of the file).
        let column = column_of(line, "cache");
        assert_eq!((cache.span.line, cache.span.column), (4, column));
        assert_eq!(
            cache.span.end_column,
            column + "cache: { maxAge: 60 }".len() as u32
        );
    }

    #[test]
    fn cache_of_a_loader_reading_locals_without_a_key_is_an_error() {
        let info = analyze(
            "export const loader = defineLoader(\n  async ({ locals, request }) => db.user(locals.id, request.url),\n  { maxAge: 1, 'cache': { maxAge: 60, staleWhileRevalidate: 600, tags: (v) => [v.id] } },\n);",
        );
        let loader = info.loader.as_ref().unwrap();
        let cache = loader.cache.as_ref().expect("cache");
        assert!(!cache.keyed);
        assert_eq!(cache.per_request, ["`locals`", "`request`"]);
        let errors = unsafe_cache(&info);
        assert_eq!(errors.len(), 1, "{:?}", info.diagnostics);
        let e = errors[0];
        assert_eq!(e.severity, Severity::Error);
        assert_eq!(e.code.as_str(), "unsafe-loader-cache");
        // `  { maxAge: 1, 'cache'` on line 6 of the file.
        let column = column_of("  { maxAge: 1, 'cache'", "'cache'");
        assert_eq!((e.line, e.column), (6, column));
        assert_eq!((cache.span.line, cache.span.column), (6, column));
        assert_eq!(e.file, "/site/src/pages/a.astro");
        assert!(
            e.message
                .contains("reads `locals`, `request` (data of the request"),
            "{}",
            e.message
        );
        assert!(e.frame.contains("'cache'"), "{}", e.frame);
        // `cache` changes nothing about hoisting.
        let uncached = analyze(
            "export const loader = defineLoader(async ({ locals, request }) => db.user(locals.id, request.url));",
        );
        let uncached = uncached.loader.unwrap();
        assert_eq!(
            (loader.hoistable, &loader.reason),
            (uncached.hoistable, &uncached.reason)
        );
    }

    #[test]
    fn a_key_makes_it_safe() {
        for options in [
            "{ cache: { maxAge: 60, key: (ctx) => ctx.locals.user.id } }",
            "{ cache: { maxAge: 60, key(ctx) { return ctx.locals.user.id; } } }",
            "{ cache: { maxAge: 60, key } }",
            "{ cache: { 'key': userKey } }",
            "{ cache: { ...shared, maxAge: 60 } }",
            "{ cache: { [name]: 1 } }",
        ] {
            let info = analyze(&format!(
                "const key = (ctx) => ctx.locals.user.id;\nconst userKey = key;\nconst shared = {{}};\nconst name = 'key';\nexport const loader = defineLoader(async (ctx) => db.user(ctx.request.headers.get('x')), {options});"
            ));
            let cache = info.loader.as_ref().unwrap().cache.clone().expect(options);
            assert!(cache.keyed, "{options}");
            assert_eq!(cache.per_request, ["`request`"], "{options}");
            assert!(
                unsafe_cache(&info).is_empty(),
                "{options}: {:?}",
                info.diagnostics
            );
        }
    }

    #[test]
    fn a_context_that_escapes_without_a_key_is_an_error() {
        let line =
            "export const loader = defineLoader(async (ctx) => f(ctx), { cache: { maxAge: 60 } });";
        let info = analyze(&format!(
            "const f = (ctx) => db.user(ctx.locals.id);\n{line}"
        ));
        let loader = info.loader.as_ref().unwrap();
        assert!(loader.reads.context.contains(&"*".to_string()));
        let cache = loader.cache.as_ref().unwrap();
        assert!(cache.per_request.contains(&"its whole context".to_string()));
        assert!(cache.per_request.contains(&"`f`".to_string()));
        let errors = unsafe_cache(&info);
        assert_eq!(errors.len(), 1);
        assert_eq!(
            (errors[0].line, errors[0].column),
            (5, column_of(line, "cache"))
        );
        assert!(errors[0].message.contains("its whole context"));

        // A function the analysis cannot see, or a rest parameter: the context escapes too.
        for loader in [
            "export const loader = defineLoader(db.loadUser, { cache: { maxAge: 60 } });",
            "export const loader = defineLoader(async (...args) => db.user(args[0]), { cache: { maxAge: 60 } });",
        ] {
            let info = analyze(loader);
            let l = info.loader.as_ref().unwrap();
            assert_eq!(l.reads.context, ["*"], "{loader}");
            assert_eq!(unsafe_cache(&info).len(), 1, "{loader}");
        }
    }

    #[test]
    fn astro_and_render_locals_are_per_request() {
        let info = analyze(
            "const user = Astro.locals.user;\nexport const loader = defineLoader(async () => db.feed(user.id, Astro.url), { cache: { maxAge: 60 } });",
        );
        let cache = info.loader.as_ref().unwrap().cache.clone().unwrap();
        assert_eq!(cache.per_request, ["`Astro`", "`user`"]);
        assert_eq!(unsafe_cache(&info).len(), 1);
    }

    #[test]
    fn a_non_literal_cache_option_counts_as_keyed() {
        for options in [
            "{ cache: opts }",
            "{ cache }",
            "{ cache: makeCache() }",
            "{ cache: opts as CacheOptions }",
        ] {
            let info = analyze(&format!(
                "const opts = {{ maxAge: 60 }};\nconst cache = opts;\nconst makeCache = () => opts;\nexport const loader = defineLoader(async ({{ locals }}) => db.user(locals.id), {options});"
            ));
            let cache = info.loader.as_ref().unwrap().cache.clone().expect(options);
            assert!(cache.keyed, "{options}");
            assert_eq!(cache.per_request, ["`locals`"]);
            assert!(unsafe_cache(&info).is_empty(), "{options}");
        }
        // Options that are not an object literal: nothing is seen.
        let info = analyze(
            "const options = { cache: { maxAge: 60 } };\nexport const loader = defineLoader(async ({ locals }) => db.user(locals.id), options);",
        );
        assert_eq!(info.loader.as_ref().unwrap().cache, None);
    }

    #[test]
    fn only_define_loader_has_a_cache() {
        let info = analyze("export const loader = async ({ locals }) => db.user(locals.id);");
        assert_eq!(info.loader.as_ref().unwrap().cache, None);
        let info = analyze(
            "export const loader = defineBatchLoader(async (list, { locals }) => db.users(locals.id), { cache: { maxAge: 60 } });",
        );
        assert_eq!(info.loader.as_ref().unwrap().cache, None);
        assert!(unsafe_cache(&info).is_empty());
    }

    #[test]
    fn the_last_cache_property_counts() {
        let info = analyze(
            "export const loader = defineLoader(async ({ locals }) => db.user(locals.id), { cache: { key: () => 'x' }, cache: { maxAge: 5 } });",
        );
        let cache = info.loader.as_ref().unwrap().cache.clone().unwrap();
        assert!(!cache.keyed);
        assert_eq!(unsafe_cache(&info).len(), 1);
    }
}

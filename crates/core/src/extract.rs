//! A loader's module-level closure: its `loader` statement and exactly what it reads — every
//! exported declaration, transitively (`export const LIMIT = 10`, `export function query()`), and
//! the imports those read. Astro evaluates all of it with the component's module, before the
//! component renders, which is what lets the loader run at request start.
//!
//! A loader is hoistable only when running it then means what running it at render means;
//! otherwise it stays a render-time loader with the reason why:
//! - everything it reads is an import, an export or a global (a hoistable loader);
//! - the bindings it reads are declared by `export` statements (not exported through a list,
//!   whose binding is the render's) and never assigned anywhere else in the frontmatter (the
//!   render would see another value than the request start);
//! - no binding it reads is one Astro reads off the frontmatter itself (`prerender`, `partial`,
//!   `getStaticPaths`), which the loader has no business with;
//! - no `getLoaderData()` call sits inside those statements.

use std::collections::{BTreeSet, HashMap, HashSet};

use serde::{Deserialize, Serialize};
use swc_common::{BytePos, Spanned};
use swc_ecma_ast::{AssignTarget, Expr, Id, ModuleDecl, ModuleItem, Pat, SimpleAssignTarget, Stmt};
use swc_ecma_visit::{Visit, VisitWith};

use crate::position::byte_of;
use crate::position::{LineIndex, Span};
use crate::scope::{binding_ids, BindingKind, Resolved};

/// Exports Astro reads from the frontmatter itself: they must stay where Astro looks for them.
const ASTRO_EXPORTS: &[&str] = &["prerender", "partial", "getStaticPaths"];

/// One imported name the loader reads.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ModuleImport {
    /// The module specifier, as the component writes it.
    pub source: String,
    /// `default`, `*` (namespace) or an export name.
    pub imported: String,
    /// The local name the loader's code uses.
    pub local: String,
}

/// A loader's module-level closure.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LoaderModule {
    /// The imported names it reads, in the component's import order.
    pub imports: Vec<ModuleImport>,
    /// Its statements, in source order (whole statements, `export` keyword included).
    pub statements: Vec<Span>,
    /// The names those statements export (`loader` among them).
    pub exports: Vec<String>,
}

/// The module-level closure of the loader bound to `loader_id`, or why it is not hoistable.
pub(crate) fn loader_module(
    index: &LineIndex<'_>,
    r: &Resolved<'_>,
    loader_id: &Id,
    loader_data_calls: &[(usize, usize)],
) -> Result<LoaderModule, String> {
    // Module items that declare something, with the ids they bind.
    let mut item_of: HashMap<Id, usize> = HashMap::new();
    let mut exported_item: Vec<bool> = vec![false; r.module.body.len()];
    for (i, item) in r.module.body.iter().enumerate() {
        let (decl, exported) = match item {
            ModuleItem::ModuleDecl(ModuleDecl::ExportDecl(e)) => (&e.decl, true),
            ModuleItem::Stmt(Stmt::Decl(d)) => (d, false),
            _ => continue,
        };
        exported_item[i] = exported;
        for id in declared_ids(decl, r) {
            item_of.insert(id, i);
        }
    }
    let Some(&first) = item_of.get(loader_id) else {
        return Err("the loader is not declared by a statement of its own".into());
    };

    let mut moved: BTreeSet<usize> = BTreeSet::new();
    let mut imports: BTreeSet<Id> = BTreeSet::new();
    let mut bound: Vec<Id> = Vec::new();
    let mut queue = vec![first];
    while let Some(i) = queue.pop() {
        if !moved.insert(i) {
            continue;
        }
        if !exported_item[i] {
            return Err(
                "it reads a binding exported through an `export { … }` list; declare it with `export`"
                    .into(),
            );
        }
        let ids: Vec<Id> = item_of
            .iter()
            .filter(|(_, &item)| item == i)
            .map(|(id, _)| id.clone())
            .collect();
        for id in ids {
            if ASTRO_EXPORTS.contains(&&*id.0) {
                return Err(format!(
                    "it reads `{}`, which Astro reads off the frontmatter itself",
                    id.0
                ));
            }
            let refs = r
                .decl_of
                .get(&id)
                .map(|&d| r.decls[d].refs.clone())
                .unwrap_or_default();
            bound.push(id);
            for read in refs {
                match r.bindings.get(&read) {
                    Some(BindingKind::Import { .. }) => {
                        imports.insert(read);
                    }
                    Some(BindingKind::Export) => match item_of.get(&read) {
                        Some(&item) => queue.push(item),
                        None => {
                            return Err(format!(
                                "it reads `{}`, which is not declared by an `export` statement",
                                read.0
                            ))
                        }
                    },
                    // A frontmatter local: the loader is not hoistable anyway, and this is why.
                    Some(BindingKind::Local) => {
                        return Err(format!(
                            "it reads `{}`, declared in the frontmatter without `export`",
                            read.0
                        ))
                    }
                    None => {}
                }
            }
        }
    }

    let mut assignments = Assignments {
        targets: bound.iter().cloned().collect(),
        at: None,
    };
    r.module.visit_with(&mut assignments);
    if let Some((name, _)) = assignments.at {
        return Err(format!(
            "`{name}` is assigned in the frontmatter, so the loader's module state would differ"
        ));
    }

    let spans: Vec<(usize, usize)> = moved
        .iter()
        .map(|&i| {
            let span = r.module.body[i].span();
            (byte_of(span.lo), byte_of(span.hi))
        })
        .collect();
    if loader_data_calls
        .iter()
        .any(|&(lo, hi)| spans.iter().any(|&(a, b)| lo >= a && hi <= b))
    {
        return Err("a declaration it reads calls getLoaderData()".into());
    }

    let mut module_imports: Vec<(usize, ModuleImport)> = imports
        .iter()
        .filter_map(|id| match r.bindings.get(id) {
            Some(BindingKind::Import { index, imported }) => Some((
                *index,
                ModuleImport {
                    source: r.imports[*index].source.clone(),
                    imported: imported.clone(),
                    local: id.0.to_string(),
                },
            )),
            _ => None,
        })
        .collect();
    module_imports.sort_by(|a, b| a.0.cmp(&b.0).then(a.1.local.cmp(&b.1.local)));

    let mut exports: Vec<String> = bound
        .iter()
        .map(|id| {
            r.exported_as
                .get(id)
                .cloned()
                .unwrap_or_else(|| id.0.to_string())
        })
        .collect::<HashSet<_>>()
        .into_iter()
        .collect();
    exports.sort();

    Ok(LoaderModule {
        imports: module_imports.into_iter().map(|(_, i)| i).collect(),
        statements: spans.iter().map(|&(lo, hi)| index.span(lo, hi)).collect(),
        exports,
    })
}

/// The module-level ids a declaration binds.
fn declared_ids(decl: &swc_ecma_ast::Decl, r: &Resolved<'_>) -> Vec<Id> {
    use swc_ecma_ast::Decl;
    match decl {
        Decl::Var(var) => var
            .decls
            .iter()
            .flat_map(|d| binding_ids(&d.name, r.top_ctxt))
            .collect(),
        Decl::Fn(f) => vec![f.ident.to_id()],
        Decl::Class(c) => vec![c.ident.to_id()],
        Decl::TsEnum(e) => vec![e.id.to_id()],
        Decl::TsModule(m) => match &m.id {
            swc_ecma_ast::TsModuleName::Ident(id) => vec![id.to_id()],
            _ => Vec::new(),
        },
        Decl::Using(u) => u
            .decls
            .iter()
            .flat_map(|d| binding_ids(&d.name, r.top_ctxt))
            .collect(),
        Decl::TsInterface(_) | Decl::TsTypeAlias(_) => Vec::new(),
    }
}

/// Finds the first assignment to any of `targets` outside its declaration.
struct Assignments {
    targets: HashSet<Id>,
    at: Option<(String, BytePos)>,
}

impl Assignments {
    fn hit(&mut self, id: Id, at: BytePos) {
        if self.at.is_none() && self.targets.contains(&id) {
            self.at = Some((id.0.to_string(), at));
        }
    }
}

impl Visit for Assignments {
    fn visit_assign_target(&mut self, t: &AssignTarget) {
        match t {
            AssignTarget::Simple(SimpleAssignTarget::Ident(b)) => self.hit(b.id.to_id(), b.span.lo),
            AssignTarget::Pat(p) => {
                // `[a, b] = …`, `({ a } = …)`
                let mut names = PatNames(Vec::new());
                p.visit_with(&mut names);
                for (id, at) in names.0 {
                    self.hit(id, at);
                }
            }
            _ => {}
        }
        t.visit_children_with(self);
    }

    fn visit_update_expr(&mut self, u: &swc_ecma_ast::UpdateExpr) {
        if let Expr::Ident(i) = &*u.arg {
            self.hit(i.to_id(), i.span.lo);
        }
        u.visit_children_with(self);
    }

    fn visit_for_in_stmt(&mut self, s: &swc_ecma_ast::ForInStmt) {
        if let swc_ecma_ast::ForHead::Pat(p) = &s.left {
            self.pattern(p);
        }
        s.visit_children_with(self);
    }

    fn visit_for_of_stmt(&mut self, s: &swc_ecma_ast::ForOfStmt) {
        if let swc_ecma_ast::ForHead::Pat(p) = &s.left {
            self.pattern(p);
        }
        s.visit_children_with(self);
    }
}

impl Assignments {
    fn pattern(&mut self, p: &Pat) {
        let mut names = PatNames(Vec::new());
        p.visit_with(&mut names);
        for (id, at) in names.0 {
            self.hit(id, at);
        }
    }
}

/// Identifiers bound or assigned by a pattern.
struct PatNames(Vec<(Id, BytePos)>);

impl Visit for PatNames {
    fn visit_binding_ident(&mut self, b: &swc_ecma_ast::BindingIdent) {
        self.0.push((b.id.to_id(), b.id.span.lo));
    }
    // Default values are expressions, not targets.
    fn visit_expr(&mut self, _: &Expr) {}
}

//! Scope tables of one resolved script: every module-level binding (imported, exported, or a
//! plain declaration), the declarations' own reads, and a collector of the module-level
//! bindings a piece of code reads. swc's `resolver` has marked every identifier with the
//! scope it refers to; these tables are what the loader analysis follows.

use std::collections::HashMap;

use swc_common::SyntaxContext;
use swc_ecma_ast::{
    Decl, Id, Ident, Module, Pat, TsType, TsTypeAnn, TsTypeParamDecl, TsTypeParamInstantiation,
};
use swc_ecma_visit::{Visit, VisitWith};

use crate::dialect::Dialect;
use crate::record::Import;

/// What a module-level binding is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum BindingKind {
    /// Bound by `imports[index]`, importing `imported` (`default`, a name, or `*`).
    Import { index: usize, imported: String },
    /// Declared with `export`, or listed in a local `export { ... }`.
    Export,
    /// Declared without `export`: module state in a JS module, a render-time local in a
    /// frontmatter.
    Local,
}

/// One module-level declaration (a declarator, function, class, enum or namespace).
#[derive(Debug, Clone)]
pub(crate) struct TopDecl {
    pub exported: bool,
    /// Module-level bindings its initializer or body reads.
    pub refs: Vec<Id>,
    /// Whether it reads the undeclared `Astro` global.
    pub reads_astro: bool,
}

/// The resolved module plus the tables the loader analysis consults.
pub(crate) struct Resolved<'m> {
    pub module: &'m Module,
    pub dialect: Dialect,
    pub top_ctxt: SyntaxContext,
    pub unresolved_ctxt: SyntaxContext,
    pub bindings: HashMap<Id, BindingKind>,
    /// Binding -> index into `decls`.
    pub decl_of: HashMap<Id, usize>,
    pub decls: Vec<TopDecl>,
    pub imports: &'m [Import],
    /// Local names that were exported through `export { a as b }` lists: local -> exported.
    pub exported_as: HashMap<Id, String>,
}

/// Something a reference collector can walk: lets one closure take declarators, functions and
/// classes alike.
pub(crate) trait VisitNode {
    fn visit(&self, v: &mut RefCollector);
}

impl<T: VisitWith<RefCollector>> VisitNode for T {
    fn visit(&self, v: &mut RefCollector) {
        self.visit_with(v);
    }
}

/// The module-level declarations of a script, built while walking its items.
pub(crate) struct Tables {
    pub(crate) top_ctxt: SyntaxContext,
    pub(crate) unresolved_ctxt: SyntaxContext,
    pub(crate) bindings: HashMap<Id, BindingKind>,
    pub(crate) decls: Vec<TopDecl>,
    pub(crate) decl_of: HashMap<Id, usize>,
}

impl Tables {
    fn add(&mut self, names: Vec<Id>, exported: bool, node: &dyn VisitNode) {
        let mut refs = RefCollector::new(self.top_ctxt, self.unresolved_ctxt);
        node.visit(&mut refs);
        let i = self.decls.len();
        self.decls.push(TopDecl {
            exported,
            refs: refs.refs,
            reads_astro: refs.reads_astro,
        });
        let kind = if exported {
            BindingKind::Export
        } else {
            BindingKind::Local
        };
        for name in names {
            self.bindings.insert(name.clone(), kind.clone());
            self.decl_of.insert(name, i);
        }
    }

    pub(crate) fn declare(&mut self, decl: &Decl, exported: bool) {
        let top = self.top_ctxt;
        match decl {
            Decl::Var(var) => {
                for d in &var.decls {
                    // The initializer and the pattern's default values are what it reads.
                    self.add(binding_ids(&d.name, top), exported, d);
                }
            }
            Decl::Fn(f) => self.add(vec![f.ident.to_id()], exported, &*f.function),
            Decl::Class(c) => self.add(vec![c.ident.to_id()], exported, &*c.class),
            Decl::TsEnum(e) => self.add(vec![e.id.to_id()], exported, &**e),
            Decl::TsModule(m) => {
                if let swc_ecma_ast::TsModuleName::Ident(id) = &m.id {
                    self.add(vec![id.to_id()], exported, &**m);
                }
            }
            Decl::Using(u) => {
                for d in &u.decls {
                    self.add(binding_ids(&d.name, top), exported, d);
                }
            }
            Decl::TsInterface(_) | Decl::TsTypeAlias(_) => {}
        }
    }
}

/// Module-level names bound by a pattern (`const { a, b: [c] } = ...`).
pub(crate) fn binding_ids(pat: &Pat, top_ctxt: SyntaxContext) -> Vec<Id> {
    struct Names {
        top: SyntaxContext,
        out: Vec<Id>,
    }
    impl Visit for Names {
        fn visit_binding_ident(&mut self, b: &swc_ecma_ast::BindingIdent) {
            // Defaults may hold arrow functions with parameters of their own; only
            // module-level names are bindings of the declaration.
            if b.id.ctxt == self.top {
                self.out.push(b.id.to_id());
            }
        }
    }
    let mut names = Names {
        top: top_ctxt,
        out: Vec::new(),
    };
    pat.visit_with(&mut names);
    names.out
}

/// Collects the module-level bindings a piece of code reads, in first-seen order.
pub(crate) struct RefCollector {
    top: SyntaxContext,
    unresolved: SyntaxContext,
    pub refs: Vec<Id>,
    pub reads_astro: bool,
}

impl RefCollector {
    pub fn new(top: SyntaxContext, unresolved: SyntaxContext) -> Self {
        RefCollector {
            top,
            unresolved,
            refs: Vec::new(),
            reads_astro: false,
        }
    }
}

impl Visit for RefCollector {
    fn visit_ident(&mut self, ident: &Ident) {
        if ident.ctxt == self.top {
            let id = ident.to_id();
            if !self.refs.contains(&id) {
                self.refs.push(id);
            }
        } else if ident.ctxt == self.unresolved && &*ident.sym == "Astro" {
            self.reads_astro = true;
        }
    }

    // Types are erased before the code runs: naming a type reads no value.
    fn visit_ts_type(&mut self, _: &TsType) {}
    fn visit_ts_type_ann(&mut self, _: &TsTypeAnn) {}
    fn visit_ts_type_param_decl(&mut self, _: &TsTypeParamDecl) {}
    fn visit_ts_type_param_instantiation(&mut self, _: &TsTypeParamInstantiation) {}
}

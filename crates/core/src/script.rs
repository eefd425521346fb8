//! Module-level facts of one script: an `.astro` frontmatter or a JS/TS module.
//!
//! The script is parsed with swc and run through swc's `resolver`, which gives every binding
//! a syntax context: identifiers that refer to a module-level binding carry the top-level
//! mark, undeclared globals the unresolved mark. Everything below (imports, the declarations
//! a loader can reach, calls to `getLoaderData`) is read off that resolved tree, so shadowing,
//! destructuring and TS types are handled by swc's scope rules rather than by name matching.

use std::collections::HashMap;

use swc_common::{BytePos, Globals, Mark, Spanned, SyntaxContext, GLOBALS};
use swc_ecma_ast::{
    CallExpr, Callee, EsVersion, Expr, Id, ImportSpecifier, MemberProp, Module, ModuleDecl,
    ModuleExportName, ModuleItem, Stmt,
};
use swc_ecma_parser::{error::SyntaxError, lexer::Lexer, Parser, StringInput};
use swc_ecma_transforms_base::resolver;
use swc_ecma_visit::{Visit, VisitMutWith, VisitWith};

use crate::diagnostic::{Code, Diagnostic, Severity};
use crate::dialect::Dialect;
use crate::loader::{self, Loader};
use crate::position::{byte_of, span_of, LineIndex, Span};
use crate::prescan::{self, Refusal};
use crate::record::{Import, ImportName, LoaderDataCall, Reexport, ReexportName, RUNTIME_MODULE};
use crate::scope::{BindingKind, Resolved, Tables};

/// How many diagnostics of one file are kept; a binary file can produce thousands.
const MAX_DIAGNOSTICS: usize = 50;

pub use crate::prescan::MAX_NESTING;

/// Everything the core reads off one script.
#[derive(Debug, Default)]
pub struct ScriptFacts {
    pub imports: Vec<Import>,
    pub reexports: Vec<Reexport>,
    pub loader: Option<Loader>,
    pub loader_data_calls: Vec<LoaderDataCall>,
    pub diagnostics: Vec<Diagnostic>,
    /// Local name -> index into `imports` and the name imported (`default`, a name, or `*`).
    pub import_bindings: HashMap<String, (usize, String)>,
    /// Frontmatter statements that may return before the template renders.
    pub early_returns: Vec<Span>,
    /// A frontmatter's constants and guards, for tracing the props its template passes.
    pub flow_scope: crate::flow::Scope,
    /// A frontmatter's top-level awaits (the waterfall finder) and how to move them.
    pub awaits: crate::awaits::Awaits,
}

/// Parses `index.source()[start..end]` in `dialect` and collects its facts. Positions in the
/// result are in the coordinates of the whole file.
pub fn analyze_script(
    index: &LineIndex<'_>,
    start: usize,
    end: usize,
    dialect: Dialect,
) -> ScriptFacts {
    let mut facts = ScriptFacts::default();
    let source = index.source();
    let text = &source[start..end];
    if let Some(refusal) = prescan::check(text, dialect.grammar()) {
        let (at, code, message) = match refusal {
            Refusal::TooDeeplyNested(at) => (
                at,
                Code::TooDeeplyNested,
                format!(
                    "Brackets nest more than {MAX_NESTING} levels deep here; the script is not \
                     analyzed, so a loader in it is not hoisted"
                ),
            ),
            Refusal::TooAmbiguous(at) => (
                at,
                Code::TooAmbiguous,
                "This `<` starts comparisons or type arguments nested inside each other too deeply: \
                 TypeScript parsing would retry them for an exponential time, so the script is not \
                 analyzed and a loader in it is not hoisted. Split the expression into smaller \
                 statements"
                    .to_string(),
            ),
        };
        // A warning: the script may well be valid, and Astro can still build it; only
        // astro-hoist leaves it alone.
        facts.diagnostics.push(Diagnostic::at(
            index,
            start + at,
            Severity::Warning,
            code,
            message,
        ));
        return facts;
    }
    // BytePos 0 is swc's dummy position, so positions start at 1: byte = pos - 1.
    let base = BytePos(crate::position::to_u32(start) + 1);
    let input = StringInput::new(
        text,
        base,
        base + BytePos(crate::position::to_u32(text.len())),
    );
    let lexer = Lexer::new(dialect.syntax(), EsVersion::latest(), input, None);
    let mut parser = Parser::new_from(lexer);
    // swc has `unreachable!`s that malformed input can reach (fuzzing found
    // `<a:b.c>` in JSX). The script is not valid then; say so, as a diagnostic.
    let parsed = match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let parsed = parser.parse_module();
        (parsed, parser.take_errors())
    })) {
        Ok(result) => result,
        Err(_) => {
            facts.diagnostics.push(Diagnostic::at(
                index,
                start,
                Severity::Error,
                Code::ParserFailure,
                "The parser cannot read this script: it is not valid JavaScript/TypeScript",
            ));
            return facts;
        }
    };
    let (parsed, mut errors) = parsed;
    if dialect == Dialect::Frontmatter {
        // Astro allows a top-level `return` in a frontmatter (it becomes the render function's).
        errors.retain(|e| !matches!(e.kind(), SyntaxError::ReturnNotAllowed));
    }
    let mut module = match parsed {
        Ok(module) => Some(module),
        Err(fatal) => {
            errors.push(fatal);
            None
        }
    };
    errors.sort_by_key(|e| e.span().lo);
    // swc's error recovery can report one problem several times at the same place.
    let mut seen = std::collections::HashSet::new();
    for error in errors.iter() {
        if facts.diagnostics.len() >= MAX_DIAGNOSTICS {
            break;
        }
        let byte = (error.span().lo.0 as usize).saturating_sub(1);
        let message = error.kind().msg().to_string();
        if !seen.insert((byte, message.clone())) {
            continue;
        }
        facts.diagnostics.push(Diagnostic::at(
            index,
            byte,
            Severity::Error,
            Code::SyntaxError,
            message,
        ));
    }
    if let Some(module) = module.as_mut() {
        GLOBALS.set(&Globals::new(), || {
            let unresolved = Mark::new();
            let top = Mark::new();
            module.visit_mut_with(&mut resolver(unresolved, top, dialect.typescript()));
            collect(
                index,
                module,
                dialect,
                SyntaxContext::empty().apply_mark(top),
                SyntaxContext::empty().apply_mark(unresolved),
                start,
                &mut facts,
            );
        });
    }
    facts
}

fn export_name(name: &ModuleExportName) -> String {
    match name {
        ModuleExportName::Ident(ident) => ident.sym.to_string(),
        ModuleExportName::Str(s) => s.value.to_atom_lossy().to_string(),
    }
}

fn collect(
    index: &LineIndex<'_>,
    module: &Module,
    dialect: Dialect,
    top_ctxt: SyntaxContext,
    unresolved_ctxt: SyntaxContext,
    start: usize,
    facts: &mut ScriptFacts,
) {
    let mut tables = Tables {
        top_ctxt,
        unresolved_ctxt,
        bindings: HashMap::new(),
        decls: Vec::new(),
        decl_of: HashMap::new(),
    };
    let mut exported_as: HashMap<Id, String> = HashMap::new();
    // Local `export { a as b }` lists, resolved after every declaration is known.
    let mut local_export_lists = Vec::new();

    for item in &module.body {
        match item {
            ModuleItem::ModuleDecl(ModuleDecl::Import(import)) => {
                let i = facts.imports.len();
                let mut entry = Import {
                    source: import.src.value.to_atom_lossy().to_string(),
                    default_name: None,
                    names: Vec::new(),
                    namespace: None,
                    type_only: import.type_only,
                    span: span_of(index, import.span),
                };
                for spec in &import.specifiers {
                    let (local, imported) = match spec {
                        ImportSpecifier::Default(s) => {
                            entry.default_name = Some(s.local.sym.to_string());
                            (&s.local, "default".to_string())
                        }
                        ImportSpecifier::Namespace(s) => {
                            entry.namespace = Some(s.local.sym.to_string());
                            (&s.local, "*".to_string())
                        }
                        ImportSpecifier::Named(s) => {
                            let imported = s
                                .imported
                                .as_ref()
                                .map_or_else(|| s.local.sym.to_string(), export_name);
                            entry.names.push(ImportName {
                                imported: imported.clone(),
                                local: s.local.sym.to_string(),
                                type_only: s.is_type_only,
                            });
                            (&s.local, imported)
                        }
                    };
                    facts
                        .import_bindings
                        .insert(local.sym.to_string(), (i, imported.clone()));
                    tables
                        .bindings
                        .insert(local.to_id(), BindingKind::Import { index: i, imported });
                }
                facts.imports.push(entry);
            }
            ModuleItem::ModuleDecl(ModuleDecl::ExportDecl(export)) => {
                tables.declare(&export.decl, true);
            }
            ModuleItem::Stmt(Stmt::Decl(decl)) => {
                tables.declare(decl, false);
            }
            ModuleItem::ModuleDecl(ModuleDecl::ExportAll(all)) => {
                facts.reexports.push(Reexport {
                    source: all.src.value.to_atom_lossy().to_string(),
                    names: Vec::new(),
                    all: true,
                    namespace: None,
                    type_only: all.type_only,
                    span: span_of(index, all.span),
                });
            }
            ModuleItem::ModuleDecl(ModuleDecl::ExportNamed(named)) => match &named.src {
                Some(src) => {
                    let mut entry = Reexport {
                        source: src.value.to_atom_lossy().to_string(),
                        names: Vec::new(),
                        all: false,
                        namespace: None,
                        type_only: named.type_only,
                        span: span_of(index, named.span),
                    };
                    for spec in &named.specifiers {
                        match spec {
                            swc_ecma_ast::ExportSpecifier::Namespace(ns) => {
                                entry.namespace = Some(export_name(&ns.name));
                            }
                            swc_ecma_ast::ExportSpecifier::Default(d) => {
                                entry.names.push(ReexportName {
                                    imported: "default".into(),
                                    exported: d.exported.sym.to_string(),
                                });
                            }
                            swc_ecma_ast::ExportSpecifier::Named(n) => {
                                let imported = export_name(&n.orig);
                                let exported =
                                    n.exported.as_ref().map_or(imported.clone(), export_name);
                                entry.names.push(ReexportName { imported, exported });
                            }
                        }
                    }
                    facts.reexports.push(entry);
                }
                None => local_export_lists.push(named),
            },
            _ => {}
        }
    }

    for named in local_export_lists {
        for spec in &named.specifiers {
            let swc_ecma_ast::ExportSpecifier::Named(n) = spec else {
                continue;
            };
            let ModuleExportName::Ident(orig) = &n.orig else {
                continue;
            };
            let exported = n
                .exported
                .as_ref()
                .map_or_else(|| orig.sym.to_string(), export_name);
            let id = orig.to_id();
            match tables.bindings.get(&id).cloned() {
                // `import Card from './Card.astro'; export { Card }` is a re-export too.
                Some(BindingKind::Import { index: i, imported }) => {
                    let source = facts.imports[i].source.clone();
                    let namespace = imported == "*";
                    facts.reexports.push(Reexport {
                        source,
                        // A namespace import exported again is `export * as name`.
                        names: if namespace {
                            Vec::new()
                        } else {
                            vec![ReexportName {
                                imported,
                                exported: exported.clone(),
                            }]
                        },
                        all: false,
                        namespace: namespace.then(|| exported.clone()),
                        type_only: named.type_only || n.is_type_only,
                        span: span_of(index, named.span),
                    });
                }
                Some(BindingKind::Local) => {
                    tables.bindings.insert(id.clone(), BindingKind::Export);
                    if let Some(&d) = tables.decl_of.get(&id) {
                        tables.decls[d].exported = true;
                    }
                }
                _ => {}
            }
            exported_as.insert(id, exported);
        }
    }

    let resolved = Resolved {
        module,
        dialect,
        top_ctxt,
        unresolved_ctxt,
        bindings: tables.bindings,
        decl_of: tables.decl_of,
        decls: tables.decls,
        imports: &facts.imports,
        exported_as,
    };
    let mut calls = LoaderDataCalls {
        index,
        getters: Vec::new(),
        namespaces: Vec::new(),
        calls: Vec::new(),
        bytes: Vec::new(),
    };
    for (id, kind) in &resolved.bindings {
        if let BindingKind::Import { index: i, imported } = kind {
            if resolved.imports[*i].source != RUNTIME_MODULE {
                continue;
            }
            if imported == "getLoaderData" {
                calls.getters.push(id.clone());
            } else if imported == "*" {
                calls.namespaces.push(id.clone());
            }
        }
    }
    if !calls.getters.is_empty() || !calls.namespaces.is_empty() {
        module.visit_with(&mut calls);
    }

    let (found, mut diagnostics) = loader::find(index, &resolved, &calls.bytes);
    facts.loader = found;
    facts.diagnostics.append(&mut diagnostics);
    calls.calls.sort_by_key(|c| c.span.start);
    facts.loader_data_calls = calls.calls;
    if dialect == Dialect::Frontmatter {
        facts.early_returns = early_returns(index, module);
        let mut getters = Vec::new();
        let mut imported = Vec::new();
        for (local, (i, name)) in &facts.import_bindings {
            imported.push(local.clone());
            if name == "getLoaderData" && facts.imports[*i].source == RUNTIME_MODULE {
                getters.push(local.clone());
            }
        }
        facts.flow_scope = crate::flow::frontmatter_scope(module, getters, &imported);
        let value_imports: HashMap<String, (usize, String)> = facts
            .import_bindings
            .iter()
            .filter(|(_, (i, _))| !facts.imports[*i].type_only)
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        facts.awaits = crate::awaits::find(&crate::awaits::Input {
            index,
            module,
            top_ctxt,
            unresolved_ctxt,
            imports: &value_imports,
            scope: &facts.flow_scope,
            loader_data: &calls.bytes,
            has_loader: facts.loader.is_some(),
            start,
        });
    }
}

/// The frontmatter statements that may return before the template renders (`if (!user) return
/// Astro.redirect('/login')`): a top-level statement with a `return` outside any nested function.
fn early_returns(index: &LineIndex<'_>, module: &Module) -> Vec<Span> {
    module
        .body
        .iter()
        .filter_map(|item| match item {
            ModuleItem::Stmt(stmt) => may_return(stmt).then(|| span_of(index, stmt.span())),
            _ => None,
        })
        .collect()
}

/// Whether a frontmatter statement has a `return` outside any nested function: it may return
/// before the template renders.
pub(crate) fn may_return(stmt: &Stmt) -> bool {
    struct FindReturn(bool);
    impl Visit for FindReturn {
        fn visit_return_stmt(&mut self, _: &swc_ecma_ast::ReturnStmt) {
            self.0 = true;
        }
        // A `return` in a nested function returns from that function, not the frontmatter.
        fn visit_function(&mut self, _: &swc_ecma_ast::Function) {}
        fn visit_arrow_expr(&mut self, _: &swc_ecma_ast::ArrowExpr) {}
        fn visit_class(&mut self, _: &swc_ecma_ast::Class) {}
        fn visit_getter_prop(&mut self, _: &swc_ecma_ast::GetterProp) {}
        fn visit_setter_prop(&mut self, _: &swc_ecma_ast::SetterProp) {}
    }
    let mut find = FindReturn(false);
    stmt.visit_with(&mut find);
    find.0
}

struct LoaderDataCalls<'a, 'i> {
    index: &'a LineIndex<'i>,
    getters: Vec<Id>,
    namespaces: Vec<Id>,
    calls: Vec<LoaderDataCall>,
    /// The calls' byte spans.
    bytes: Vec<(usize, usize)>,
}

impl Visit for LoaderDataCalls<'_, '_> {
    fn visit_call_expr(&mut self, call: &CallExpr) {
        call.visit_children_with(self);
        let Callee::Expr(callee) = &call.callee else {
            return;
        };
        let is_getter = match &**callee {
            Expr::Ident(i) => self.getters.contains(&i.to_id()),
            Expr::Member(m) => {
                matches!(&*m.obj, Expr::Ident(o) if self.namespaces.contains(&o.to_id()))
                    && matches!(&m.prop, MemberProp::Ident(p) if &*p.sym == "getLoaderData")
            }
            _ => false,
        };
        if !is_getter {
            return;
        }
        let mut after = callee.span().hi;
        if let Some(args) = &call.type_args {
            after = after.max(args.span.hi);
        }
        let source = self.index.source();
        let Some(paren) = open_paren_after(source, byte_of(after), byte_of(call.span.hi)) else {
            return;
        };
        self.bytes
            .push((byte_of(call.span.lo), byte_of(call.span.hi)));
        self.calls.push(LoaderDataCall {
            span: self
                .index
                .span(byte_of(call.span.lo), byte_of(call.span.hi)),
            args_start: self.index.position(paren + 1).offset,
            arg_count: crate::position::to_u32(call.args.len()),
        });
    }
}

/// The byte offset of the `(` that opens a call's arguments, skipping whitespace and
/// comments between the callee (or its type arguments) and the parenthesis. swc keeps no
/// span for the parenthesis itself, so it is found in the text.
fn open_paren_after(source: &str, from: usize, limit: usize) -> Option<usize> {
    let bytes = source.as_bytes();
    let limit = limit.min(bytes.len());
    let mut i = from;
    while i < limit {
        match bytes[i] {
            b'(' => return Some(i),
            b'/' if bytes.get(i + 1) == Some(&b'/') => {
                i = source[i..limit].find('\n').map_or(limit, |n| i + n);
            }
            b'/' if bytes.get(i + 1) == Some(&b'*') => {
                i = source[i + 2..limit]
                    .find("*/")
                    .map_or(limit, |n| i + 2 + n + 2);
            }
            b if b.is_ascii_whitespace() || b == b'?' || b == b'.' => i += 1,
            _ => return None,
        }
    }
    None
}

//! Props tracing: where the values a component tag passes to its child come from.
//!
//! A loader that reads its props can start as soon as those values are known. This module
//! proves, per tag, what the props are made of: request-start values (literals, `Astro.params`,
//! `Astro.url`), the component's own loader data (`await getLoaderData()`), its own
//! `Astro.props`, and the items of a `.map` it is rendered in, combined only by operators that
//! have no effects. The result is a small expression tree ([`Flow`]) the runtime evaluates when
//! the sources resolve; whatever is not proven comes back as the place and the reason
//! ([`Why`]), and that tag's loader runs at render as before.
//!
//! The evaluation is always checked: the runtime keys each run by the props it was started
//! with, and a component that renders with other props gets a run of its own. A tracing
//! mistake costs a call, never wrong data.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};
use swc_common::{BytePos, Spanned};
use swc_ecma_ast::{
    ArrowFunctionBody, BinaryOp, Callee, EsVersion, Expr, JSXElement, JSXElementChild, JSXExpr,
    JSXFragment, Lit, MemberProp, ObjectPatProp, OptChainBase, Pat, Prop, PropName, PropOrSpread,
    Stmt, UnaryOp,
};
use swc_ecma_parser::{lexer::Lexer, Parser, StringInput, Syntax, TsSyntax};

use crate::position::{byte_of, to_u32};
use crate::prescan::{self, Grammar};

/// A value the runtime can compute without running the component.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "t", rename_all = "camelCase")]
pub enum Flow {
    /// A literal, as JSON text.
    Lit {
        v: String,
    },
    Undef,
    /// A source: the component's loader data, its props, the route's params or URL, or the
    /// item (index) of the `n`-th enclosing `.map` (0 = outermost).
    Src {
        s: Source,
        #[serde(default, skip_serializing_if = "is_zero")]
        n: u32,
    },
    /// Member accesses (and calls of a few pure methods) on `b`, one optional chain.
    Get {
        b: Box<Flow>,
        p: Vec<Member>,
    },
    /// A template literal: `q` are the cooked strings around the `e` values.
    Tpl {
        q: Vec<String>,
        e: Vec<Flow>,
    },
    /// A binary or logical operator (`&&`, `||`, `??` short-circuit).
    Bin {
        op: String,
        l: Box<Flow>,
        r: Box<Flow>,
    },
    /// `!`, `-`, `+`, `typeof`.
    Un {
        op: String,
        e: Box<Flow>,
    },
    Cond {
        c: Box<Flow>,
        a: Box<Flow>,
        b: Box<Flow>,
    },
    /// An object literal; a property without a key is a spread.
    Obj {
        p: Vec<ObjProp>,
    },
    Arr {
        i: Vec<Flow>,
    },
    /// `e === undefined ? d : e` (a destructuring default).
    Def {
        e: Box<Flow>,
        d: Box<Flow>,
    },
    /// `String(x)`, `Number(x)`, `Boolean(x)`.
    Call {
        f: String,
        a: Vec<Flow>,
    },
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// Where a traced value comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Source {
    /// The value of `await getLoaderData()` in the component that writes the tag.
    Data,
    /// `Astro.props` of the component that writes the tag.
    Props,
    Params,
    Url,
    /// The first parameter of a `.map` callback.
    Item,
    /// Its second parameter.
    Index,
}

/// One member access: `.k`, `[e]`, optional (`?.`), or a call of a pure method with `a`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Member {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub k: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub e: Option<Box<Flow>>,
    #[serde(default, skip_serializing_if = "is_false")]
    pub o: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub a: Option<Vec<Flow>>,
}

/// One property of an object literal (a spread without `k`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObjProp {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub k: Option<String>,
    pub v: Flow,
}

/// What decides whether, and how many times, a tag renders: a condition it is rendered under,
/// or a list it is rendered for each item of (whose item is `Src { Item, n }` below it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "t", rename_all = "camelCase")]
pub enum Step {
    When { c: Flow },
    Each { l: Flow },
}

/// How a tag's props are made and when it renders, as far as it is proven.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UsageFlow {
    /// The props (an [`Flow::Obj`]).
    pub props: Flow,
    /// Outermost first.
    pub steps: Vec<Step>,
}

/// Why something could not be traced, and where (a byte offset of the file).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Why {
    pub at: usize,
    pub reason: String,
}

impl Why {
    fn new(at: usize, reason: impl Into<String>) -> Self {
        Why {
            at,
            reason: reason.into(),
        }
    }
}

/// A frontmatter constant: its value, or why it is not known before render.
#[derive(Debug, Clone)]
pub enum Binding {
    Traced(Flow),
    Opaque(Why),
}

/// What a template expression may refer to.
#[derive(Debug)]
pub struct Scope {
    /// Top-level frontmatter bindings, by name.
    pub bindings: HashMap<String, Binding>,
    /// Local names of `getLoaderData` imported from the runtime.
    pub loader_data: Vec<String>,
    /// Conditions every tag renders under: the negation of each guard (`if (!post) return …`),
    /// or why a guard could not be traced.
    pub guards: Result<Vec<Flow>, Why>,
}

impl Default for Scope {
    fn default() -> Self {
        Scope {
            bindings: HashMap::new(),
            loader_data: Vec::new(),
            guards: Ok(Vec::new()),
        }
    }
}

/// The scope of a frontmatter: its top-level constants, in order (each traced against those
/// before it), and its guards. `loader_data` are the local names of `getLoaderData`; `imports`
/// the local names of every import.
pub fn frontmatter_scope(
    module: &swc_ecma_ast::Module,
    loader_data: Vec<String>,
    imports: &[String],
) -> Scope {
    use swc_ecma_ast::{Decl, ModuleDecl, ModuleItem, VarDeclKind};
    let mut scope = Scope {
        loader_data,
        ..Scope::default()
    };
    for name in imports {
        scope.bindings.insert(
            name.clone(),
            Binding::Opaque(Why::new(0, "is imported (imports are not traced yet)")),
        );
    }
    let mut guards = Vec::new();
    let mut guard_error = None;
    for item in &module.body {
        let decl = match item {
            ModuleItem::Stmt(Stmt::Decl(d)) => Some(d),
            ModuleItem::ModuleDecl(ModuleDecl::ExportDecl(e)) => Some(&e.decl),
            _ => None,
        };
        match decl {
            Some(Decl::Var(var)) => {
                for d in &var.decls {
                    let mut out = Vec::new();
                    let traced = if var.kind != VarDeclKind::Const {
                        Err(Why::new(
                            byte_of(d.span.lo),
                            "is declared with `let` or `var`",
                        ))
                    } else {
                        match &d.init {
                            Some(init) => {
                                let tracer = Tracer::new(&scope);
                                tracer.trace(init).and_then(|flow| {
                                    let tracer = Tracer::new(&scope);
                                    bind_pattern(&d.name, flow, &mut out, &mut |e| tracer.trace(e))
                                })
                            }
                            None => Err(Why::new(byte_of(d.span.lo), "has no value")),
                        }
                    };
                    match traced {
                        Ok(()) => {
                            for (name, binding) in out {
                                scope.bindings.insert(name, binding);
                            }
                        }
                        Err(why) => {
                            let mut names = Vec::new();
                            pattern_names(&d.name, &mut names);
                            let reason = if why.reason.starts_with("is ")
                                || why.reason.starts_with("has ")
                            {
                                why.reason.clone()
                            } else {
                                format!("is set from {}", why.reason)
                            };
                            for (name, _) in names {
                                scope.bindings.insert(
                                    name,
                                    Binding::Opaque(Why::new(why.at, reason.clone())),
                                );
                            }
                        }
                    }
                }
            }
            Some(Decl::Fn(f)) => {
                scope.bindings.insert(
                    f.ident.sym.to_string(),
                    Binding::Opaque(Why::new(byte_of(f.ident.span.lo), "is a function")),
                );
            }
            Some(Decl::Class(c)) => {
                scope.bindings.insert(
                    c.ident.sym.to_string(),
                    Binding::Opaque(Why::new(byte_of(c.ident.span.lo), "is a class")),
                );
            }
            _ => {}
        }
        if let ModuleItem::Stmt(stmt) = item {
            if guard_error.is_none() && crate::script::may_return(stmt) {
                match guard_of(stmt, &scope) {
                    Ok(c) => guards.push(c),
                    Err(why) => guard_error = Some(why),
                }
            }
        }
    }
    scope.guards = match guard_error {
        Some(why) => Err(why),
        None => Ok(guards),
    };
    scope
}

/// The condition under which the template renders past a guard: `if (test) { …; return … }`
/// with no `else` renders exactly when `!test`.
fn guard_of(stmt: &Stmt, scope: &Scope) -> Result<Flow, Why> {
    let at = byte_of(stmt.span().lo);
    let Stmt::If(s) = stmt else {
        return Err(Why::new(
            at,
            "a statement that may return before the template renders",
        ));
    };
    let always_returns = match &*s.cons {
        Stmt::Return(_) => true,
        Stmt::Block(b) => {
            matches!(b.stmts.last(), Some(Stmt::Return(_)))
                && !b.stmts[..b.stmts.len() - 1]
                    .iter()
                    .any(crate::script::may_return)
        }
        _ => false,
    };
    if s.alt.is_some() || !always_returns {
        return Err(Why::new(
            at,
            "a guard that does not always return when its condition holds",
        ));
    }
    Ok(not(Tracer::new(scope).trace(&s.test)?))
}

/// Methods the runtime may call on a traced value: they read, never write, on strings, arrays
/// and URL search params (the runtime checks the receiver's type).
const PURE_METHODS: &[&str] = &[
    "get",
    "has",
    "slice",
    "at",
    "join",
    "includes",
    "startsWith",
    "endsWith",
    "toLowerCase",
    "toUpperCase",
    "trim",
    "toString",
    "split",
    "padStart",
    "padEnd",
    "indexOf",
    "getAll",
];

const BINARY: &[(BinaryOp, &str)] = &[
    (BinaryOp::EqEq, "=="),
    (BinaryOp::NotEq, "!="),
    (BinaryOp::EqEqEq, "==="),
    (BinaryOp::NotEqEq, "!=="),
    (BinaryOp::Lt, "<"),
    (BinaryOp::LtEq, "<="),
    (BinaryOp::Gt, ">"),
    (BinaryOp::GtEq, ">="),
    (BinaryOp::Add, "+"),
    (BinaryOp::Sub, "-"),
    (BinaryOp::Mul, "*"),
    (BinaryOp::Div, "/"),
    (BinaryOp::Mod, "%"),
    (BinaryOp::LogicalAnd, "&&"),
    (BinaryOp::LogicalOr, "||"),
    (BinaryOp::NullishCoalescing, "??"),
];

fn lit_json(value: serde_json::Value) -> Flow {
    Flow::Lit {
        v: value.to_string(),
    }
}

fn not(flow: Flow) -> Flow {
    Flow::Un {
        op: "!".into(),
        e: Box::new(flow),
    }
}

fn get(base: Flow, member: Member) -> Flow {
    match base {
        Flow::Get { b, mut p } => {
            p.push(member);
            Flow::Get { b, p }
        }
        other => Flow::Get {
            b: Box::new(other),
            p: vec![member],
        },
    }
}

fn key(name: &str) -> Member {
    Member {
        k: Some(name.to_string()),
        e: None,
        o: false,
        a: None,
    }
}

/// Traces expressions against a scope and the `.map` parameters in effect.
pub struct Tracer<'s> {
    scope: &'s Scope,
    /// `.map` callback parameters, innermost last.
    locals: Vec<(String, Flow)>,
    /// How many `.map`s enclose the expression.
    pub depth: u32,
}

impl<'s> Tracer<'s> {
    pub fn new(scope: &'s Scope) -> Self {
        Tracer {
            scope,
            locals: Vec::new(),
            depth: 0,
        }
    }

    /// Binds a `.map` callback's parameters to the item (and index) of a new level.
    fn enter_map(&mut self, params: &[Pat]) -> Result<(), Why> {
        let n = self.depth;
        self.depth += 1;
        self.bind_item(params, n)
    }

    /// Binds callback parameters to the item (and index) of level `n`.
    fn bind_item(&mut self, params: &[Pat], n: u32) -> Result<(), Why> {
        if let Some(item) = params.first() {
            let mut out = Vec::new();
            bind_pattern(item, Flow::Src { s: Source::Item, n }, &mut out, &mut |e| {
                self.trace(e)
            })?;
            for (name, binding) in out {
                match binding {
                    Binding::Traced(f) => self.locals.push((name, f)),
                    Binding::Opaque(why) => return Err(why),
                }
            }
        }
        if let Some(Pat::Ident(index)) = params.get(1) {
            self.locals.push((
                index.id.sym.to_string(),
                Flow::Src {
                    s: Source::Index,
                    n,
                },
            ));
        } else if params.len() > 1 {
            return Err(Why::new(
                byte_of(params[1].span().lo),
                "the `.map` callback's second parameter is not a plain name",
            ));
        }
        if params.len() > 2 {
            return Err(Why::new(
                byte_of(params[2].span().lo),
                "the `.map` callback reads its array",
            ));
        }
        Ok(())
    }

    /// The flow of `expr`, or why it has none.
    pub fn trace(&self, expr: &Expr) -> Result<Flow, Why> {
        let at = byte_of(expr.span().lo);
        match expr {
            Expr::Lit(lit) => match lit {
                Lit::Str(s) => Ok(lit_json(serde_json::Value::String(
                    s.value.to_atom_lossy().to_string(),
                ))),
                Lit::Num(n) => serde_json::Number::from_f64(n.value)
                    .map(|n| lit_json(serde_json::Value::Number(n)))
                    .ok_or_else(|| Why::new(at, "a number JSON cannot hold")),
                Lit::Bool(b) => Ok(lit_json(serde_json::Value::Bool(b.value))),
                Lit::Null(_) => Ok(lit_json(serde_json::Value::Null)),
                _ => Err(Why::new(
                    at,
                    "a literal of a kind not traced (bigint, regex, JSX text)",
                )),
            },
            Expr::Tpl(tpl) => {
                let mut q = Vec::new();
                for quasi in &tpl.quasis {
                    match &quasi.cooked {
                        Some(c) => q.push(c.to_atom_lossy().to_string()),
                        None => {
                            return Err(Why::new(at, "a template literal with an invalid escape"))
                        }
                    }
                }
                let e = tpl
                    .exprs
                    .iter()
                    .map(|e| self.trace(e))
                    .collect::<Result<_, _>>()?;
                Ok(Flow::Tpl { q, e })
            }
            Expr::Ident(ident) => {
                let name = &*ident.sym;
                if let Some((_, flow)) = self.locals.iter().rev().find(|(n, _)| n == name) {
                    return Ok(flow.clone());
                }
                match self.scope.bindings.get(name) {
                    Some(Binding::Traced(flow)) => Ok(flow.clone()),
                    Some(Binding::Opaque(why)) => {
                        Err(Why::new(at, format!("`{name}` {}", why.reason)))
                    }
                    None if name == "undefined" => Ok(Flow::Undef),
                    None => Err(Why::new(
                        at,
                        format!("`{name}` is not a frontmatter constant or `.map` parameter"),
                    )),
                }
            }
            Expr::Member(_) | Expr::OptChain(_) => self.chain(expr),
            Expr::Call(call) => {
                if let Callee::Expr(callee) = &call.callee {
                    if let Expr::Ident(f) = &**callee {
                        let name = &*f.sym;
                        if matches!(name, "String" | "Number" | "Boolean")
                            && !self.scope.bindings.contains_key(name)
                            && !self.locals.iter().any(|(n, _)| n == name)
                        {
                            let a = self.args(&call.args)?;
                            return Ok(Flow::Call {
                                f: name.to_string(),
                                a,
                            });
                        }
                        if self.scope.loader_data.iter().any(|n| n == name) {
                            return Err(Why::new(at, "getLoaderData() without `await`"));
                        }
                    }
                }
                self.chain(expr)
            }
            Expr::Await(aw) => match &*aw.arg {
                Expr::Call(call) if self.is_loader_data(call) => Ok(Flow::Src {
                    s: Source::Data,
                    n: 0,
                }),
                _ => Err(Why::new(
                    at,
                    "an `await` of something other than getLoaderData()",
                )),
            },
            Expr::Bin(bin) => {
                let Some((_, op)) = BINARY.iter().find(|(o, _)| *o == bin.op) else {
                    return Err(Why::new(at, format!("the operator `{}`", bin.op.as_str())));
                };
                Ok(Flow::Bin {
                    op: (*op).to_string(),
                    l: Box::new(self.trace(&bin.left)?),
                    r: Box::new(self.trace(&bin.right)?),
                })
            }
            Expr::Unary(un) => {
                let op = match un.op {
                    UnaryOp::Bang => "!",
                    UnaryOp::Minus => "-",
                    UnaryOp::Plus => "+",
                    UnaryOp::TypeOf => "typeof",
                    other => {
                        return Err(Why::new(at, format!("the operator `{}`", other.as_str())))
                    }
                };
                Ok(Flow::Un {
                    op: op.to_string(),
                    e: Box::new(self.trace(&un.arg)?),
                })
            }
            Expr::Cond(c) => Ok(Flow::Cond {
                c: Box::new(self.trace(&c.test)?),
                a: Box::new(self.trace(&c.cons)?),
                b: Box::new(self.trace(&c.alt)?),
            }),
            Expr::Paren(p) => {
                // A parenthesis ends an optional chain: `(a?.b).c` throws when `a` is nullish.
                let inner = self.trace(&p.expr)?;
                Ok(match inner {
                    Flow::Get { .. } => Flow::Get {
                        b: Box::new(inner),
                        p: Vec::new(),
                    },
                    other => other,
                })
            }
            Expr::TsAs(e) => self.trace(&e.expr),
            Expr::TsNonNull(e) => self.trace(&e.expr),
            Expr::TsSatisfies(e) => self.trace(&e.expr),
            Expr::TsConstAssertion(e) => self.trace(&e.expr),
            Expr::TsTypeAssertion(e) => self.trace(&e.expr),
            Expr::Object(obj) => {
                let mut p = Vec::new();
                for prop in &obj.props {
                    match prop {
                        PropOrSpread::Spread(s) => p.push(ObjProp {
                            k: None,
                            v: self.trace(&s.expr)?,
                        }),
                        PropOrSpread::Prop(prop) => match &**prop {
                            Prop::Shorthand(ident) => p.push(ObjProp {
                                k: Some(ident.sym.to_string()),
                                v: self.trace(&Expr::Ident(ident.clone()))?,
                            }),
                            Prop::KeyValue(kv) => {
                                let k = prop_name(&kv.key).ok_or_else(|| {
                                    Why::new(at, "an object literal with a computed key")
                                })?;
                                p.push(ObjProp {
                                    k: Some(k),
                                    v: self.trace(&kv.value)?,
                                });
                            }
                            _ => {
                                return Err(Why::new(
                                    at,
                                    "an object literal with a method or accessor",
                                ))
                            }
                        },
                    }
                }
                Ok(Flow::Obj { p })
            }
            Expr::Array(arr) => {
                let mut i = Vec::new();
                for el in &arr.elems {
                    match el {
                        Some(el) if el.spread.is_none() => i.push(self.trace(&el.expr)?),
                        _ => return Err(Why::new(at, "an array literal with a spread or a hole")),
                    }
                }
                Ok(Flow::Arr { i })
            }
            _ => Err(Why::new(
                at,
                "a value computed at render (a call, a function, an assignment…)",
            )),
        }
    }

    fn args(&self, args: &[swc_ecma_ast::ExprOrSpread]) -> Result<Vec<Flow>, Why> {
        args.iter()
            .map(|a| {
                if a.spread.is_some() {
                    Err(Why::new(byte_of(a.span().lo), "a spread argument"))
                } else {
                    self.trace(&a.expr)
                }
            })
            .collect()
    }

    fn is_loader_data(&self, call: &swc_ecma_ast::CallExpr) -> bool {
        matches!(&call.callee, Callee::Expr(c) if matches!(&**c, Expr::Ident(i) if self.scope.loader_data.iter().any(|n| *n == *i.sym)))
            && call.args.is_empty()
    }

    /// A member chain: `Astro.props.x`, `post?.author.id`, `url.searchParams.get('q')`.
    fn chain(&self, expr: &Expr) -> Result<Flow, Why> {
        let at = byte_of(expr.span().lo);
        match expr {
            Expr::OptChain(opt) => match &*opt.base {
                OptChainBase::Member(m) => self.member(&m.obj, &m.prop, opt.optional, at),
                OptChainBase::Call(c) => {
                    let Expr::Member(m) = &*c.callee else {
                        return Err(Why::new(at, "a call of a function computed at render"));
                    };
                    self.method(&m.obj, &m.prop, &c.args, opt.optional, at)
                }
            },
            Expr::Member(m) => self.member(&m.obj, &m.prop, false, at),
            Expr::Call(call) => {
                let Callee::Expr(callee) = &call.callee else {
                    return Err(Why::new(at, "a call computed at render"));
                };
                match &**callee {
                    Expr::Member(m) => self.method(&m.obj, &m.prop, &call.args, false, at),
                    Expr::OptChain(o) => match &*o.base {
                        OptChainBase::Member(m) => {
                            // `a?.b()` : the chain's optional member, then the call.
                            let base = self.member(&m.obj, &m.prop, o.optional, at)?;
                            let Flow::Get { b, mut p } = base else {
                                return Err(Why::new(at, "a call computed at render"));
                            };
                            let name = p.last().and_then(|m| m.k.clone());
                            if !name.is_some_and(|n| PURE_METHODS.contains(&n.as_str())) {
                                return Err(Why::new(
                                    at,
                                    "a call of a method that may have effects",
                                ));
                            }
                            if let Some(last) = p.last_mut() {
                                last.a = Some(self.args(&call.args)?);
                            }
                            Ok(Flow::Get { b, p })
                        }
                        OptChainBase::Call(_) => Err(Why::new(at, "a call computed at render")),
                    },
                    Expr::Ident(f) => Err(Why::new(
                        at,
                        format!("a call of `{}(…)`, computed at render", f.sym),
                    )),
                    _ => Err(Why::new(at, "a call computed at render")),
                }
            }
            _ => self.trace(expr),
        }
    }

    fn member(
        &self,
        obj: &Expr,
        prop: &MemberProp,
        optional: bool,
        at: usize,
    ) -> Result<Flow, Why> {
        // `Astro.props`, `Astro.params`, `Astro.url` (unless `Astro` is a local name).
        if let (Expr::Ident(o), MemberProp::Ident(p)) = (obj, prop) {
            if &*o.sym == "Astro" && !self.scope.bindings.contains_key("Astro") {
                let s = match &*p.sym {
                    "props" => Source::Props,
                    "params" => Source::Params,
                    "url" => Source::Url,
                    other => {
                        return Err(Why::new(
                            at,
                            format!("`Astro.{other}` is known only while the component renders"),
                        ))
                    }
                };
                return Ok(Flow::Src { s, n: 0 });
            }
        }
        let base = self.chain(obj)?;
        let mut m = match prop {
            MemberProp::Ident(p) => key(&p.sym),
            MemberProp::Computed(c) => Member {
                k: None,
                e: Some(Box::new(self.trace(&c.expr)?)),
                o: false,
                a: None,
            },
            MemberProp::PrivateName(_) => return Err(Why::new(at, "a private field")),
        };
        m.o = optional;
        Ok(get(base, m))
    }

    fn method(
        &self,
        obj: &Expr,
        prop: &MemberProp,
        args: &[swc_ecma_ast::ExprOrSpread],
        optional: bool,
        at: usize,
    ) -> Result<Flow, Why> {
        let MemberProp::Ident(name) = prop else {
            return Err(Why::new(at, "a call of a computed method"));
        };
        if !PURE_METHODS.contains(&&*name.sym) {
            return Err(Why::new(
                at,
                format!(
                    "a call of `.{}(…)`, which may have effects or is not traced",
                    name.sym
                ),
            ));
        }
        let base = self.chain(obj)?;
        let mut m = key(&name.sym);
        m.o = optional;
        m.a = Some(self.args(args)?);
        Ok(get(base, m))
    }
}

impl Flow {
    /// Calls `f` on every source this value reads.
    pub fn sources(&self, f: &mut impl FnMut(Source, u32)) {
        match self {
            Flow::Lit { .. } | Flow::Undef => {}
            Flow::Src { s, n } => f(*s, *n),
            Flow::Get { b, p } => {
                b.sources(f);
                for m in p {
                    if let Some(e) = &m.e {
                        e.sources(f);
                    }
                    for a in m.a.iter().flatten() {
                        a.sources(f);
                    }
                }
            }
            Flow::Tpl { e, .. } | Flow::Arr { i: e } | Flow::Call { a: e, .. } => {
                e.iter().for_each(|x| x.sources(f))
            }
            Flow::Bin { l, r, .. } => {
                l.sources(f);
                r.sources(f);
            }
            Flow::Un { e, .. } => e.sources(f),
            Flow::Cond { c, a, b } => {
                c.sources(f);
                a.sources(f);
                b.sources(f);
            }
            Flow::Obj { p } => p.iter().for_each(|x| x.v.sources(f)),
            Flow::Def { e, d } => {
                e.sources(f);
                d.sources(f);
            }
        }
    }

    /// Whether it reads `source` (at any level).
    pub fn reads(&self, source: Source) -> bool {
        let mut found = false;
        self.sources(&mut |s, _| found |= s == source);
        found
    }
}

fn prop_name(key: &PropName) -> Option<String> {
    match key {
        PropName::Ident(i) => Some(i.sym.to_string()),
        PropName::Str(s) => Some(s.value.to_atom_lossy().to_string()),
        PropName::Num(n) => Some(n.value.to_string()),
        _ => None,
    }
}

/// Binds the names of `pat` to parts of `value` (destructuring), in `out`.
pub fn bind_pattern(
    pat: &Pat,
    value: Flow,
    out: &mut Vec<(String, Binding)>,
    trace: &mut dyn FnMut(&Expr) -> Result<Flow, Why>,
) -> Result<(), Why> {
    match pat {
        Pat::Ident(i) => out.push((i.id.sym.to_string(), Binding::Traced(value))),
        Pat::Object(obj) => {
            for prop in &obj.props {
                match prop {
                    ObjectPatProp::KeyValue(kv) => {
                        let k = prop_name(&kv.key).ok_or_else(|| {
                            Why::new(
                                byte_of(kv.key.span().lo),
                                "a computed key in a destructuring",
                            )
                        })?;
                        bind_pattern(&kv.value, get(value.clone(), key(&k)), out, trace)?;
                    }
                    ObjectPatProp::Assign(a) => {
                        let v = get(value.clone(), key(&a.key.sym));
                        let v = match &a.value {
                            Some(d) => Flow::Def {
                                e: Box::new(v),
                                d: Box::new(trace(d)?),
                            },
                            None => v,
                        };
                        out.push((a.key.sym.to_string(), Binding::Traced(v)));
                    }
                    ObjectPatProp::Rest(r) => {
                        return Err(Why::new(
                            byte_of(r.span.lo),
                            "a rest element in a destructuring",
                        ))
                    }
                }
            }
        }
        Pat::Array(arr) => {
            for (i, el) in arr.elems.iter().enumerate() {
                let Some(el) = el else { continue };
                let m = Member {
                    k: None,
                    e: Some(Box::new(lit_json(serde_json::json!(i)))),
                    o: false,
                    a: None,
                };
                bind_pattern(el, get(value.clone(), m), out, trace)?;
            }
        }
        Pat::Assign(a) => {
            let v = Flow::Def {
                e: Box::new(value),
                d: Box::new(trace(&a.right)?),
            };
            bind_pattern(&a.left, v, out, trace)?;
        }
        other => {
            return Err(Why::new(
                byte_of(other.span().lo),
                "a destructuring pattern not traced",
            ))
        }
    }
    Ok(())
}

/// The names a pattern declares.
pub fn pattern_names(pat: &Pat, out: &mut Vec<(String, usize)>) {
    match pat {
        Pat::Ident(i) => out.push((i.id.sym.to_string(), byte_of(i.span.lo))),
        Pat::Object(obj) => {
            for prop in &obj.props {
                match prop {
                    ObjectPatProp::KeyValue(kv) => pattern_names(&kv.value, out),
                    ObjectPatProp::Assign(a) => {
                        out.push((a.key.sym.to_string(), byte_of(a.key.span.lo)))
                    }
                    ObjectPatProp::Rest(r) => pattern_names(&r.arg, out),
                }
            }
        }
        Pat::Array(arr) => arr
            .elems
            .iter()
            .flatten()
            .for_each(|p| pattern_names(p, out)),
        Pat::Assign(a) => pattern_names(&a.left, out),
        Pat::Rest(r) => pattern_names(&r.arg, out),
        _ => {}
    }
}

/// Parses `source[start..end]` as one TSX expression, positions in file coordinates.
pub fn parse_expression(source: &str, start: usize, end: usize) -> Result<Box<Expr>, Why> {
    let text = source
        .get(start..end)
        .ok_or_else(|| Why::new(start, "an expression cut short"))?;
    if prescan::check(text, Grammar::Tsx).is_some() {
        return Err(Why::new(start, "an expression nested too deeply to trace"));
    }
    let base = BytePos(to_u32(start) + 1);
    let input = StringInput::new(text, base, base + BytePos(to_u32(text.len())));
    let syntax = Syntax::Typescript(TsSyntax {
        tsx: true,
        ..Default::default()
    });
    let lexer = Lexer::new(syntax, EsVersion::latest(), input, None);
    let mut parser = Parser::new_from(lexer);
    let parsed = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let expr = parser.parse_expr();
        // The whole text must be the one expression (`a} {b` is two).
        let end = base + BytePos(to_u32(text.trim_end().len()));
        let rest = expr.as_ref().map_or(true, |e| e.span().hi != end);
        (expr, parser.take_errors(), rest)
    }));
    match parsed {
        Ok((Ok(expr), errors, false)) if errors.is_empty() => Ok(expr),
        _ => Err(Why::new(
            start,
            "an expression the JSX parser cannot read (Astro-only syntax, several roots)",
        )),
    }
}

/// A node on the way from a template expression down to a tag.
#[derive(Clone, Copy)]
enum Node<'a> {
    Expr(&'a Expr),
    Element(&'a JSXElement),
    Fragment(&'a JSXFragment),
}

/// The conditions and lists that decide whether the component tag starting at byte `at`,
/// inside the template expression `expr`, renders; binds the `.map` parameters on `tracer`.
pub fn steps_to(expr: &Expr, at: usize, tracer: &mut Tracer<'_>) -> Result<Vec<Step>, Why> {
    let mut steps = Vec::new();
    let target = BytePos(to_u32(at) + 1);
    let mut node = Node::Expr(expr);
    // Each level descends into the child whose span holds the tag; the nesting is bounded by
    // the pre-scan's limit.
    loop {
        let node_expr = match node {
            Node::Element(el) if el.opening.span.lo == target => return Ok(steps),
            Node::Element(el) => {
                node = jsx_children(&el.children, target).ok_or_else(|| {
                    Why::new(byte_of(el.span.lo), "a tag the JSX parser placed elsewhere")
                })?;
                continue;
            }
            Node::Fragment(f) => {
                node = jsx_children(&f.children, target).ok_or_else(|| {
                    Why::new(byte_of(f.span.lo), "a tag the JSX parser placed elsewhere")
                })?;
                continue;
            }
            Node::Expr(e) => e,
        };
        let here = byte_of(node_expr.span().lo);
        node =
            match node_expr {
                Expr::JSXElement(el) => Node::Element(el),
                Expr::JSXFragment(f) => Node::Fragment(f),
                Expr::Paren(p) => Node::Expr(&p.expr),
                Expr::TsAs(e) => Node::Expr(&e.expr),
                Expr::TsNonNull(e) => Node::Expr(&e.expr),
                Expr::TsSatisfies(e) => Node::Expr(&e.expr),
                Expr::Bin(bin) if contains(&bin.right, target) => {
                    let left = tracer.trace(&bin.left)?;
                    let c = match bin.op {
                        BinaryOp::LogicalAnd => left,
                        BinaryOp::LogicalOr => not(left),
                        BinaryOp::NullishCoalescing => Flow::Bin {
                            op: "==".into(),
                            l: Box::new(left),
                            r: Box::new(lit_json(serde_json::Value::Null)),
                        },
                        _ => {
                            return Err(Why::new(
                                here,
                                "a tag inside an operator that is not `&&`, `||` or `??`",
                            ))
                        }
                    };
                    steps.push(Step::When { c });
                    Node::Expr(&bin.right)
                }
                Expr::Cond(c) if contains(&c.cons, target) => {
                    steps.push(Step::When {
                        c: tracer.trace(&c.test)?,
                    });
                    Node::Expr(&c.cons)
                }
                Expr::Cond(c) if contains(&c.alt, target) => {
                    steps.push(Step::When {
                        c: not(tracer.trace(&c.test)?),
                    });
                    Node::Expr(&c.alt)
                }
                Expr::Array(arr) => Node::Expr(
                    arr.elems
                        .iter()
                        .flatten()
                        .find(|e| e.spread.is_none() && contains(&e.expr, target))
                        .map(|e| &*e.expr)
                        .ok_or_else(|| Why::new(here, "a tag inside an array spread"))?,
                ),
                Expr::Call(call) => {
                    let callback = map_callback(call, target).ok_or_else(|| {
                        Why::new(here, "a tag rendered by a call other than `.map(…)`")
                    })?;
                    let (list, filters) = map_list(call, tracer)?;
                    steps.push(Step::Each { l: list });
                    let n = tracer.depth;
                    for filter in filters {
                        // The filter's parameter names the same item as the map's.
                        steps.push(Step::When {
                            c: filter_condition(filter, tracer, n)?,
                        });
                    }
                    tracer.enter_map(&callback.params)?;
                    Node::Expr(match &*callback.body {
                        ArrowFunctionBody::Expr(e) => e,
                        ArrowFunctionBody::FunctionBody(block) => match block.stmts.as_slice() {
                            [Stmt::Return(r)] => r.arg.as_deref().ok_or_else(|| {
                                Why::new(here, "a `.map` callback that returns nothing")
                            })?,
                            _ => {
                                return Err(Why::new(
                                    here,
                                    "a `.map` callback with statements before its `return`",
                                ))
                            }
                        },
                    })
                }
                _ => return Err(Why::new(
                    here,
                    "a tag inside an expression that is not `&&`, `||`, `??`, `? :` or `.map(…)`",
                )),
            };
    }
}

fn contains(expr: &Expr, target: BytePos) -> bool {
    let span = expr.span();
    span.lo <= target && target < span.hi
}

fn jsx_children(children: &[JSXElementChild], target: BytePos) -> Option<Node<'_>> {
    let child = children.iter().find(|c| {
        let span = c.span();
        span.lo <= target && target < span.hi
    })?;
    match child {
        JSXElementChild::JSXExprContainer(c) => match &c.expr {
            JSXExpr::Expr(e) => Some(Node::Expr(e)),
            JSXExpr::JSXEmptyExpr(_) => None,
        },
        JSXElementChild::JSXElement(el) => Some(Node::Element(el)),
        JSXElementChild::JSXFragment(f) => Some(Node::Fragment(f)),
        _ => None,
    }
}

/// The arrow passed to `.map` when it holds the tag.
fn map_callback(
    call: &swc_ecma_ast::CallExpr,
    target: BytePos,
) -> Option<&swc_ecma_ast::ArrowExpr> {
    let Callee::Expr(callee) = &call.callee else {
        return None;
    };
    let Expr::Member(m) = &**callee else {
        return None;
    };
    if !matches!(&m.prop, MemberProp::Ident(p) if &*p.sym == "map") {
        return None;
    }
    let first = call.args.first()?;
    match &*first.expr {
        Expr::Arrow(arrow) if contains(&first.expr, target) => Some(arrow),
        _ => None,
    }
}

/// The list a `.map` runs over, seeing through `.filter(…)`s (whose callbacks come back, in
/// order, to become conditions on each item).
fn map_list<'e>(
    call: &'e swc_ecma_ast::CallExpr,
    tracer: &Tracer<'_>,
) -> Result<(Flow, Vec<&'e swc_ecma_ast::ArrowExpr>), Why> {
    let Callee::Expr(callee) = &call.callee else {
        unreachable!("checked by map_callback")
    };
    let Expr::Member(m) = &**callee else {
        unreachable!("checked by map_callback")
    };
    let mut filters = Vec::new();
    let mut list: &Expr = &m.obj;
    loop {
        if let Expr::Call(c) = list {
            if let Callee::Expr(callee) = &c.callee {
                if let Expr::Member(inner) = &**callee {
                    if matches!(&inner.prop, MemberProp::Ident(p) if &*p.sym == "filter") {
                        match c.args.as_slice() {
                            [arg] if arg.spread.is_none() => match &*arg.expr {
                                Expr::Arrow(a) => {
                                    filters.push(a);
                                    list = &inner.obj;
                                    continue;
                                }
                                _ => {
                                    return Err(Why::new(
                                        byte_of(arg.expr.span().lo),
                                        "a `.filter(…)` whose callback is not written inline",
                                    ))
                                }
                            },
                            _ => {
                                return Err(Why::new(
                                    byte_of(c.span.lo),
                                    "a `.filter(…)` with other arguments",
                                ))
                            }
                        }
                    }
                }
            }
        }
        break;
    }
    filters.reverse();
    Ok((tracer.trace(list)?, filters))
}

/// A `.filter` callback as a condition on the item of level `n`.
fn filter_condition(
    filter: &swc_ecma_ast::ArrowExpr,
    tracer: &Tracer<'_>,
    n: u32,
) -> Result<Flow, Why> {
    let here = byte_of(filter.span.lo);
    if filter.params.len() > 1 {
        return Err(Why::new(
            here,
            "a `.filter(…)` callback that reads the index or the array",
        ));
    }
    let mut inner = Tracer {
        scope: tracer.scope,
        locals: tracer.locals.clone(),
        depth: tracer.depth,
    };
    inner.bind_item(&filter.params, n)?;
    let body = match &*filter.body {
        ArrowFunctionBody::Expr(e) => &**e,
        ArrowFunctionBody::FunctionBody(block) => match block.stmts.as_slice() {
            [Stmt::Return(r)] => r
                .arg
                .as_deref()
                .ok_or_else(|| Why::new(here, "a `.filter(…)` callback that returns nothing"))?,
            _ => return Err(Why::new(here, "a `.filter(…)` callback with statements")),
        },
    };
    inner.trace(body)
}

/// The props of a tag from its attributes. `parse` reads an attribute's expression.
pub fn props_of(
    attrs: &[crate::template::RawAttr],
    source: &str,
    tracer: &Tracer<'_>,
) -> Result<Flow, Why> {
    use crate::template::AttrValue;
    let mut p = Vec::new();
    for attr in attrs {
        let name = attr.name.as_deref();
        let value = match attr.value {
            AttrValue::None => lit_json(serde_json::Value::Bool(true)),
            AttrValue::Quoted(s, e) | AttrValue::Unquoted(s, e) => {
                let text = source.get(s..e).unwrap_or_default();
                if text.contains('&') {
                    return Err(Why::new(s, "an attribute string with an HTML entity"));
                }
                lit_json(serde_json::Value::String(text.to_string()))
            }
            AttrValue::Expr(s, e) | AttrValue::Template(s, e) => {
                let (s, spread) = match name {
                    None => {
                        let trimmed = source.get(s..e).unwrap_or_default();
                        let lead = trimmed.len() - trimmed.trim_start().len();
                        if trimmed.trim_start().starts_with("...") {
                            (s + lead + 3, true)
                        } else {
                            (s, false)
                        }
                    }
                    Some(_) => (s, false),
                };
                let expr = parse_expression(source, s, e)?;
                let flow = tracer.trace(&expr)?;
                match (name, spread) {
                    (None, true) => {
                        p.push(ObjProp { k: None, v: flow });
                        continue;
                    }
                    (None, false) => {
                        // `{title}`: shorthand for `title={title}`.
                        let Expr::Ident(ident) = &*expr else {
                            return Err(Why::new(s, "an attribute expression without a name"));
                        };
                        p.push(ObjProp {
                            k: Some(ident.sym.to_string()),
                            v: flow,
                        });
                        continue;
                    }
                    _ => flow,
                }
            }
        };
        let Some(name) = name else { continue };
        if name.contains(':') {
            return Err(Why::new(
                attr.at,
                format!("the directive `{name}`, which Astro turns into other props"),
            ));
        }
        p.push(ObjProp {
            k: Some(name.to_string()),
            v: value,
        });
    }
    Ok(Flow::Obj { p })
}

#[cfg(test)]
mod tests {
    use crate::component::{analyze_component, AnalyzeOptions};

    /// Each tag: its flow as JSON, or `untraced line:column reason`.
    fn flows(src: &str) -> Vec<String> {
        let info = analyze_component(src, "/p/src/pages/x.astro", &AnalyzeOptions::default());
        info.usages
            .iter()
            .map(|u| match (&u.flow, &u.untraced) {
                (Some(f), _) => format!("{} {}", u.name, serde_json::to_string(f).unwrap()),
                (None, Some(w)) => {
                    format!("{} untraced {}:{} {}", u.name, w.line, w.column, w.reason)
                }
                _ => unreachable!("a usage is traced or says why not"),
            })
            .collect()
    }

    const HEAD: &str = "---\nimport { getLoaderData } from 'astro-hoist/runtime';\nimport A from './A.astro';\nexport const loader = async ({ params }) => params;\nconst post = await getLoaderData();\n";

    #[test]
    fn props_from_data_params_props_and_literals() {
        let out = flows(&format!(
            "{HEAD}const {{ id, kind = 'x' }} = Astro.props;\nconst slug = Astro.params.slug;\n---\n<A a={{post.author?.id}} b={{slug}} c=\"s\" d e={{id}} f={{kind}} g=`t-${{post.n}}` {{...post.extra}} />"
        ));
        assert_eq!(
            out[0],
            r#"A {"props":{"t":"obj","p":[{"k":"a","v":{"t":"get","b":{"t":"src","s":"data"},"p":[{"k":"author"},{"k":"id","o":true}]}},{"k":"b","v":{"t":"get","b":{"t":"src","s":"params"},"p":[{"k":"slug"}]}},{"k":"c","v":{"t":"lit","v":"\"s\""}},{"k":"d","v":{"t":"lit","v":"true"}},{"k":"e","v":{"t":"get","b":{"t":"src","s":"props"},"p":[{"k":"id"}]}},{"k":"f","v":{"t":"def","e":{"t":"get","b":{"t":"src","s":"props"},"p":[{"k":"kind"}]},"d":{"t":"lit","v":"\"x\""}}},{"k":"g","v":{"t":"tpl","q":["t-",""],"e":[{"t":"get","b":{"t":"src","s":"data"},"p":[{"k":"n"}]}]}},{"v":{"t":"get","b":{"t":"src","s":"data"},"p":[{"k":"extra"}]}}]},"steps":[]}"#
        );
    }

    #[test]
    fn conditions_lists_and_guards() {
        let out = flows(&format!(
            "{HEAD}if (!post) return Astro.redirect('/404');\n---\n{{post.items.filter((c) => !c.hidden).map((c, i) => <li><A id={{c.id}} n={{i}} /></li>)}}\n{{post.on ? <A /> : null}}\n"
        ));
        assert_eq!(
            out[0],
            r#"A {"props":{"t":"obj","p":[{"k":"id","v":{"t":"get","b":{"t":"src","s":"item"},"p":[{"k":"id"}]}},{"k":"n","v":{"t":"src","s":"index"}}]},"steps":[{"t":"when","c":{"t":"un","op":"!","e":{"t":"un","op":"!","e":{"t":"src","s":"data"}}}},{"t":"each","l":{"t":"get","b":{"t":"src","s":"data"},"p":[{"k":"items"}]}},{"t":"when","c":{"t":"un","op":"!","e":{"t":"get","b":{"t":"src","s":"item"},"p":[{"k":"hidden"}]}}}]}"#
        );
        assert!(out[1].ends_with(r#""steps":[{"t":"when","c":{"t":"un","op":"!","e":{"t":"un","op":"!","e":{"t":"src","s":"data"}}}},{"t":"when","c":{"t":"get","b":{"t":"src","s":"data"},"p":[{"k":"on"}]}}]}"#), "{}", out[1]);
    }

    #[test]
    fn what_is_not_traced_says_where_and_why() {
        let out = flows(&format!(
            "{HEAD}const title = format(post.title);\nlet n = 1;\n---\n<A t={{title}} />\n<A n={{n}} />\n{{items.map((x) => <A />)}}\n<A client:load />\n{{list.forEach((x) => <A />)}}\n<A x={{post.f()}} />\n"
        ));
        assert_eq!(
            out,
            [
                "A untraced 9:7 `title` is set from a call of `format(…)`, computed at render",
                "A untraced 10:7 `n` is declared with `let` or `var`",
                "A untraced 11:2 `items` is not a frontmatter constant or `.map` parameter",
                "A untraced 12:4 the directive `client:load`, which Astro turns into other props",
                "A untraced 13:2 a tag rendered by a call other than `.map(…)`",
                "A untraced 14:7 a call of `.f(…)`, which may have effects or is not traced",
            ]
        );
    }

    #[test]
    fn a_guard_that_is_not_traced_stops_every_tag() {
        let out = flows(&format!(
            "{HEAD}if (check(post)) return new Response(null, {{ status: 404 }});\n---\n<A />\n"
        ));
        assert_eq!(
            out,
            ["A untraced 6:5 a call of `check(…)`, computed at render"]
        );
    }
}

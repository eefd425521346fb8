//! The module record of one script: what it imports, what it re-exports, and where it calls
//! `getLoaderData`. Plain data, read off the parsed script by [`crate::script`].

use serde::{Deserialize, Serialize};

use crate::position::Span;

/// The module that exports `getLoaderData`.
pub const RUNTIME_MODULE: &str = "astro-hoist/runtime";

/// One name brought in by an import.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ImportName {
    /// The name exported by the source module.
    pub imported: String,
    /// The name it is bound to in this file.
    pub local: String,
    /// `import { type X }`.
    pub type_only: bool,
}

/// An `import` declaration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Import {
    /// The module specifier, as written.
    pub source: String,
    /// Local name of the default import, if any.
    pub default_name: Option<String>,
    /// Named imports.
    pub names: Vec<ImportName>,
    /// Local name of a namespace import (`import * as ns`), if any.
    pub namespace: Option<String>,
    /// `import type ...`.
    pub type_only: bool,
    pub span: Span,
}

/// One name re-exported from another module.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReexportName {
    /// The name in the source module (`default` for a default export).
    pub imported: String,
    /// The name this module exports it as.
    pub exported: String,
}

/// A re-export, which lets barrel modules be followed to the component they name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Reexport {
    pub source: String,
    pub names: Vec<ReexportName>,
    /// `export * from '...'`.
    pub all: bool,
    /// `export * as ns from '...'`.
    pub namespace: Option<String>,
    pub type_only: bool,
    pub span: Span,
}

/// A call to `getLoaderData` imported from [`RUNTIME_MODULE`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LoaderDataCall {
    pub span: Span,
    /// UTF-16 offset right after the call's `(`: where arguments can be inserted.
    pub args_start: u32,
    /// How many arguments the call was written with.
    pub arg_count: u32,
}

//! Problems found while analyzing files and walking the project, reported as data: one shape for
//! every layer (the core, the binding, the Vite plugin, the CLI and its reports), one enum of
//! stable codes.

use serde::{Deserialize, Serialize};

use crate::position::LineIndex;

/// How bad a [`Diagnostic`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// The file could not be (fully) understood; its analysis may be incomplete.
    Error,
    /// The file was understood, but something in it will not behave as its author may expect.
    Warning,
    /// Worth knowing, not worth a warning (e.g. a `loader` export in a file that does not use
    /// astro-hoist, or a loader that starts when its conditional parent renders): tools show it
    /// at debug or info level.
    Info,
}

/// Every diagnostic's stable code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Code {
    /// The script does not parse.
    SyntaxError,
    /// swc gave up on the script (a panic inside the parser, turned into this).
    ParserFailure,
    /// Brackets nested past the limit: not parsed, on purpose.
    TooDeeplyNested,
    /// TypeScript whose `<` would make the parser backtrack for exponential time: not parsed.
    TooAmbiguous,
    /// An opening `---` without a closing one.
    UnclosedFrontmatter,
    /// A `loader` export in a form that cannot be hoisted.
    UnsupportedLoaderForm,
    /// Not a file the core analyzes.
    UnsupportedFile,
    /// The file could not be read.
    ReadError,
    /// The file is not UTF-8.
    InvalidUtf8,
    /// A bug in astro-hoist, caught.
    InternalError,
    /// An import that names no module.
    UnresolvedImport,
    /// A component tag bound to no import (a local or dynamic component).
    UnknownComponent,
    /// A barrel module that does not re-export the name a tag uses.
    ExportNotFound,
    /// Re-exports that lead back to themselves.
    ReexportCycle,
    /// A `server:defer` usage: the island renders in its own request.
    ServerIsland,
    /// A loader that runs at render instead of early, and why.
    LoaderNotHoistable,
    /// A loader whose component never calls `getLoaderData()`.
    LoaderUnused,
    /// A loader reached only through conditional usages or a guard: it starts with its
    /// conditional ancestor's render.
    LoaderConditional,
    /// Loaders that wait for each other through `ctx.load`.
    LoaderCycle,
    /// A loader no route reaches.
    LoaderUnreached,
    /// Components an `.mdx` page's content renders are not hoisted.
    MdxContent,
    /// A route whose entry point could not be analyzed or planned.
    RouteFailed,
    /// A cached loader that reads per-request data (`locals`, `request`, `Astro`, …) and whose
    /// cache options give no `key`: one visitor's data could be served to another.
    UnsafeLoaderCache,
    /// A loader that reads its props, started at render on some route because the props a usage
    /// passes (or whether it renders) could not be traced: where and why.
    PropsNotTraced,
}

impl Code {
    /// The code as written in diagnostics (`syntax-error`).
    pub fn as_str(self) -> &'static str {
        match self {
            Code::SyntaxError => "syntax-error",
            Code::ParserFailure => "parser-failure",
            Code::TooDeeplyNested => "too-deeply-nested",
            Code::TooAmbiguous => "too-ambiguous",
            Code::UnclosedFrontmatter => "unclosed-frontmatter",
            Code::UnsupportedLoaderForm => "unsupported-loader-form",
            Code::UnsupportedFile => "unsupported-file",
            Code::ReadError => "read-error",
            Code::InvalidUtf8 => "invalid-utf8",
            Code::InternalError => "internal-error",
            Code::UnresolvedImport => "unresolved-import",
            Code::UnknownComponent => "unknown-component",
            Code::ExportNotFound => "export-not-found",
            Code::ReexportCycle => "reexport-cycle",
            Code::ServerIsland => "server-island",
            Code::LoaderNotHoistable => "loader-not-hoistable",
            Code::LoaderUnused => "loader-unused",
            Code::LoaderConditional => "loader-conditional",
            Code::LoaderCycle => "loader-cycle",
            Code::LoaderUnreached => "loader-unreached",
            Code::MdxContent => "mdx-content",
            Code::RouteFailed => "route-failed",
            Code::UnsafeLoaderCache => "unsafe-loader-cache",
            Code::PropsNotTraced => "props-not-traced",
        }
    }

    /// Whether the core's facts about a file are incomplete after this diagnostic (the script
    /// was not parsed, or not fully).
    pub fn leaves_facts_incomplete(self) -> bool {
        matches!(
            self,
            Code::SyntaxError
                | Code::ParserFailure
                | Code::TooDeeplyNested
                | Code::TooAmbiguous
                | Code::UnclosedFrontmatter
                | Code::UnsupportedFile
                | Code::ReadError
                | Code::InternalError
        )
    }
}

impl std::fmt::Display for Code {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A problem in a file, positioned in the file's own coordinates (never the frontmatter's).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Diagnostic {
    pub severity: Severity,
    pub code: Code,
    pub message: String,
    /// The file: as given to an analysis, root-relative in a project.
    #[serde(default)]
    pub file: String,
    /// 1-based line.
    pub line: u32,
    /// 1-based column in UTF-16 code units (as editors count).
    pub column: u32,
    /// Offset in UTF-16 code units from the start of the file.
    pub offset: u32,
    /// A code frame showing the line with a caret under the column (empty when there is no
    /// source to show).
    #[serde(default)]
    pub frame: String,
    /// What to do about it, when there is something to say.
    #[serde(default)]
    pub help: Option<String>,
}

impl Diagnostic {
    /// A diagnostic at byte offset `byte` of the indexed file (its `file` is filled in by the
    /// analysis that owns the file).
    pub fn at(
        index: &LineIndex<'_>,
        byte: usize,
        severity: Severity,
        code: Code,
        message: impl Into<String>,
    ) -> Self {
        let pos = index.position(byte);
        Diagnostic {
            severity,
            code,
            message: message.into(),
            file: String::new(),
            line: pos.line,
            column: pos.column,
            offset: pos.offset,
            frame: index.code_frame(pos),
            help: None,
        }
    }

    /// A diagnostic about a file at a known line and column (no code frame).
    pub fn in_file(
        file: impl Into<String>,
        line: u32,
        column: u32,
        severity: Severity,
        code: Code,
        message: impl Into<String>,
    ) -> Self {
        Diagnostic {
            severity,
            code,
            message: message.into(),
            file: file.into(),
            line,
            column,
            offset: 0,
            frame: String::new(),
            help: None,
        }
    }

    /// With a help text.
    pub fn with_help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }
}

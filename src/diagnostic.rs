//! Problems found while analyzing a file, reported as data.

use serde::{Deserialize, Serialize};

use crate::position::LineIndex;

/// How bad a [`Diagnostic`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// The file could not be (fully) understood; its analysis may be incomplete.
    Error,
    /// The file was understood, but something in it will not behave as its author may expect.
    Warning,
    /// Worth knowing, not worth a warning (e.g. a `loader` export in a file that does not use
    /// astro-hoist): tools show it at debug level.
    Info,
}

/// A problem in a file, positioned in the file's own coordinates (never the frontmatter's).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Diagnostic {
    pub severity: Severity,
    /// A stable machine-readable code such as `syntax-error` or `unclosed-frontmatter`.
    pub code: String,
    pub message: String,
    /// 1-based line.
    pub line: u32,
    /// 1-based column in UTF-16 code units (as editors count).
    pub column: u32,
    /// Offset in UTF-16 code units from the start of the file.
    pub offset: u32,
    /// A code frame showing the line with a caret under the column.
    pub frame: String,
}

impl Diagnostic {
    /// A diagnostic at byte offset `byte` of the indexed file.
    pub fn at(
        index: &LineIndex<'_>,
        byte: usize,
        severity: Severity,
        code: &'static str,
        message: impl Into<String>,
    ) -> Self {
        let pos = index.position(byte);
        Diagnostic {
            severity,
            code: code.to_string(),
            message: message.into(),
            line: pos.line,
            column: pos.column,
            offset: pos.offset,
            frame: index.code_frame(pos),
        }
    }
}

//! Byte offsets to the coordinates editors and JavaScript use.
//!
//! The core works in UTF-8 byte offsets (what swc and Rust slices use); everything it reports
//! is converted here once: lines and columns are 1-based, and columns and offsets count UTF-16
//! code units, so a JS caller can hand them to `String.prototype.slice`, magic-string or an
//! editor without converting again.

use serde::{Deserialize, Serialize};
use swc_common::BytePos;

/// A region of a file, in the file's own coordinates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Span {
    /// Start offset in UTF-16 code units (a JS string index).
    pub start: u32,
    /// End offset (exclusive) in UTF-16 code units.
    pub end: u32,
    /// 1-based line of `start`.
    pub line: u32,
    /// 1-based column of `start`, in UTF-16 code units.
    pub column: u32,
    /// 1-based line of `end`.
    pub end_line: u32,
    /// 1-based column of `end`, in UTF-16 code units.
    pub end_column: u32,
}

/// A resolved position: 1-based line and column plus the UTF-16 offset.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Position {
    pub line: u32,
    pub column: u32,
    pub offset: u32,
}

/// Line starts of one source text, for converting byte offsets.
pub struct LineIndex<'a> {
    source: &'a str,
    /// Byte offset of the first byte of each line.
    line_starts: Vec<usize>,
    /// UTF-16 offset of the first unit of each line.
    line_starts_utf16: Vec<usize>,
}

impl<'a> LineIndex<'a> {
    pub fn new(source: &'a str) -> Self {
        let mut line_starts = vec![0];
        let mut line_starts_utf16 = vec![0];
        let mut utf16 = 0usize;
        for (i, ch) in source.char_indices() {
            utf16 += ch.len_utf16();
            if ch == '\n' {
                line_starts.push(i + 1);
                line_starts_utf16.push(utf16);
            }
        }
        LineIndex {
            source,
            line_starts,
            line_starts_utf16,
        }
    }

    pub fn source(&self) -> &'a str {
        self.source
    }

    /// Position of a byte offset; offsets past the end or inside a character are clamped.
    pub fn position(&self, byte: usize) -> Position {
        let byte = self.floor_char_boundary(byte.min(self.source.len()));
        let line = self.line_starts.partition_point(|&s| s <= byte) - 1;
        let prefix = &self.source[self.line_starts[line]..byte];
        let column16: usize = prefix.chars().map(char::len_utf16).sum();
        Position {
            line: to_u32(line + 1),
            column: to_u32(column16 + 1),
            offset: to_u32(self.line_starts_utf16[line] + column16),
        }
    }

    /// A [`Span`] from two byte offsets.
    pub fn span(&self, lo: usize, hi: usize) -> Span {
        let a = self.position(lo);
        let b = self.position(hi.max(lo));
        Span {
            start: a.offset,
            end: b.offset,
            line: a.line,
            column: a.column,
            end_line: b.line,
            end_column: b.column,
        }
    }

    /// The text of a 1-based line, without its line break.
    pub fn line_text(&self, line: u32) -> &'a str {
        let i = (line as usize).saturating_sub(1);
        let Some(&start) = self.line_starts.get(i) else {
            return "";
        };
        let end = self
            .line_starts
            .get(i + 1)
            .copied()
            .unwrap_or(self.source.len());
        self.source[start..end].trim_end_matches(['\n', '\r'])
    }

    pub fn line_count(&self) -> u32 {
        to_u32(self.line_starts.len())
    }

    fn floor_char_boundary(&self, mut byte: usize) -> usize {
        while byte > 0 && !self.source.is_char_boundary(byte) {
            byte -= 1;
        }
        byte
    }

    /// A code frame around `pos`: two lines of context either side, a `>` on the line and a
    /// caret under the column. Very long lines are cut around the column so a minified or
    /// 10 MB single-line file still gives a readable frame.
    pub fn code_frame(&self, pos: Position) -> String {
        const WIDTH: usize = 120;
        let first = pos.line.saturating_sub(2).max(1);
        let last = (pos.line + 2).min(self.line_count());
        let gutter = last.to_string().len();
        let mut out = String::new();
        for line in first..=last {
            let text = self.line_text(line);
            let chars: Vec<char> = text.chars().collect();
            // Columns count UTF-16 units; the frame counts chars, close enough for a caret.
            let caret_col = (pos.column as usize).saturating_sub(1).min(chars.len());
            let from = if line == pos.line && caret_col > WIDTH / 2 {
                caret_col - WIDTH / 2
            } else {
                0
            };
            let shown: String = chars.iter().skip(from).take(WIDTH).collect();
            let marker = if line == pos.line { '>' } else { ' ' };
            out.push_str(&format!("{marker} {line:>gutter$} | {shown}\n"));
            if line == pos.line {
                let pad: String = chars
                    .iter()
                    .skip(from)
                    .take(caret_col - from)
                    .map(|c| if *c == '\t' { '\t' } else { ' ' })
                    .collect();
                out.push_str(&format!("  {:>gutter$} | {pad}^\n", ""));
            }
        }
        out
    }
}

pub(crate) fn to_u32(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// The byte offset of an swc position (swc counts from 1; 0 is its dummy position).
pub(crate) fn byte_of(pos: BytePos) -> usize {
    (pos.0 as usize).saturating_sub(1)
}

/// An swc span as a [`Span`] of the indexed file.
pub(crate) fn span_of(index: &LineIndex<'_>, span: swc_common::Span) -> Span {
    index.span(byte_of(span.lo), byte_of(span.hi))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_count_utf16_units() {
        let src = "a\n😀b\r\nc";
        let idx = LineIndex::new(src);
        let b = src.find('b').unwrap();
        assert_eq!(
            idx.position(b),
            Position {
                line: 2,
                column: 3,
                offset: 4
            }
        );
        let c = src.find('c').unwrap();
        assert_eq!(idx.position(c).line, 3);
        assert_eq!(idx.position(c).column, 1);
        assert_eq!(idx.line_text(2), "😀b");
    }

    #[test]
    fn frame_points_at_column() {
        let idx = LineIndex::new("one\ntwo three\nfour");
        let frame = idx.code_frame(idx.position(8));
        assert_eq!(
            frame,
            "  1 | one\n> 2 | two three\n    |     ^\n  3 | four\n"
        );
    }
}

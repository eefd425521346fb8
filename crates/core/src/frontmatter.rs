//! Locating the frontmatter of an `.astro` file between its `---` fences.
//!
//! The rule is Astro's compiler's, not a line rule: the closing fence is the first `---` of the
//! frontmatter script that is not inside a string, template literal, comment or regular
//! expression literal. `const sample = \`---\ntitle: x\n---\`;` and `/*\n---\n*/` are code, and a
//! `---` anywhere else in the code (even mid-line, as in `i--- 1`) closes the frontmatter, as it
//! does for Astro. Written by hand because no lexer crate stops at a fence: the scanner is the
//! small subset of JavaScript's lexical grammar that decides where a string, template, comment
//! or regular expression ends, as Astro 7's compiler (oxc's Astro parser) reads it:
//! - `'`/`"` strings end at the matching quote or at a line break; a backslash escapes the next
//!   byte (so `\` + line break continues the string);
//! - a template literal ends at the next unescaped backtick; `${…}` is not tracked (a backtick
//!   nested inside one ends the literal, for Astro too);
//! - a `/` starts a regular expression after an operator, an opening bracket, `;`, `,`, a line
//!   break, the start, or a keyword such as `return`; after a name, a number, `)` or `]` it
//!   divides. A regular expression ends at an unescaped `/` outside a `[…]` class, or a line
//!   break.
//!
//! The opening fence is the first `---` of the file, provided no `<`, `{` or `}` comes before it
//! (markup or an expression before it means the file has no frontmatter).

/// Where the fences of an `.astro` file are, in byte offsets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fences {
    /// Byte offset of the opening `---`.
    pub open: usize,
    /// First byte of the frontmatter code (after the opening fence line's line break, or
    /// right after `---` when code follows on the same line).
    pub content_start: usize,
    /// End of the frontmatter code: the start of the closing fence's line when only blanks
    /// precede the fence on it, else the fence itself.
    pub content_end: usize,
    /// First byte of the template, right after the closing `---`.
    pub template_start: usize,
}

/// What [`split`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Split {
    /// No frontmatter: the whole file is template.
    None,
    /// A frontmatter between two fences.
    Fenced(Fences),
    /// An opening fence at this byte offset with no closing fence.
    Unclosed { open: usize },
}

/// Finds the frontmatter of an `.astro` source (see the module docs for the rule).
pub fn split(source: &str) -> Split {
    let bytes = source.as_bytes();
    let Some(open) = find(bytes, 0, b"---") else {
        return Split::None;
    };
    if bytes[..open]
        .iter()
        .any(|b| matches!(b, b'<' | b'{' | b'}'))
    {
        return Split::None;
    }
    let after_fence = open + 3;
    let line_end = find(bytes, after_fence, b"\n").unwrap_or(bytes.len());
    let content_start = if source[after_fence..line_end].trim().is_empty() {
        (line_end + 1).min(bytes.len())
    } else {
        after_fence
    };
    match closing_fence(bytes, content_start) {
        Some(fence) => {
            let line_start = bytes[..fence]
                .iter()
                .rposition(|&b| b == b'\n')
                .map_or(0, |n| n + 1)
                .max(content_start);
            let blank_before = bytes[line_start..fence]
                .iter()
                .all(|b| matches!(b, b' ' | b'\t' | b'\r'));
            Split::Fenced(Fences {
                open,
                content_start,
                content_end: if blank_before { line_start } else { fence },
                template_start: fence + 3,
            })
        }
        None => Split::Unclosed { open },
    }
}

/// The offset of the first `needle` at or after `from`.
fn find(bytes: &[u8], from: usize, needle: &[u8]) -> Option<usize> {
    bytes
        .get(from..)?
        .windows(needle.len())
        .position(|w| w == needle)
        .map(|n| from + n)
}

/// Words after which a `/` starts a regular expression rather than a division.
const KEYWORDS_BEFORE_EXPRESSION: &[&[u8]] = &[
    b"return",
    b"typeof",
    b"instanceof",
    b"in",
    b"of",
    b"new",
    b"delete",
    b"void",
    b"throw",
    b"case",
    b"do",
    b"else",
    b"yield",
    b"await",
];

fn is_word_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b'$' || b >= 0x80
}

/// The offset of the `---` that closes the frontmatter code starting at `start`, if any.
fn closing_fence(bytes: &[u8], start: usize) -> Option<usize> {
    let mut i = start;
    // Whether a `/` here would start a regular expression.
    let mut regex_allowed = true;
    while i < bytes.len() {
        let b = bytes[i];
        match b {
            b'-' if bytes[i..].starts_with(b"---") => return Some(i),
            b'\'' | b'"' => {
                i = skip_string(bytes, i);
                regex_allowed = false;
            }
            b'`' => {
                i = skip_template(bytes, i)?;
                regex_allowed = false;
            }
            b'/' if bytes.get(i + 1) == Some(&b'/') => {
                i = find(bytes, i, b"\n").unwrap_or(bytes.len());
            }
            b'/' if bytes.get(i + 1) == Some(&b'*') => {
                i = find(bytes, i + 2, b"*/")? + 2;
            }
            b'/' if regex_allowed => {
                i = skip_regex(bytes, i);
                regex_allowed = false;
            }
            b'\n' => {
                i += 1;
                regex_allowed = true;
            }
            b' ' | b'\t' | b'\r' => i += 1,
            b')' | b']' => {
                i += 1;
                regex_allowed = false;
            }
            _ if is_word_byte(b) => {
                let word_start = i;
                while i < bytes.len() && is_word_byte(bytes[i]) {
                    i += 1;
                }
                regex_allowed = KEYWORDS_BEFORE_EXPRESSION.contains(&&bytes[word_start..i]);
            }
            _ => {
                // An operator or punctuator: a value may follow.
                i += 1;
                regex_allowed = true;
            }
        }
    }
    None
}

/// Past a `'` or `"` string starting at `start`: after the closing quote, or at the line
/// break that ends an unterminated one.
fn skip_string(bytes: &[u8], start: usize) -> usize {
    let quote = bytes[start];
    let mut i = start + 1;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' => i += 2,
            b'\n' => return i,
            b if b == quote => return i + 1,
            _ => i += 1,
        }
    }
    bytes.len()
}

/// Past a template literal starting at `start`, or `None` when it never ends.
fn skip_template(bytes: &[u8], start: usize) -> Option<usize> {
    let mut i = start + 1;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' => i += 2,
            b'`' => return Some(i + 1),
            _ => i += 1,
        }
    }
    None
}

/// Past a regular expression literal starting at `start` (its flags are read as a word).
fn skip_regex(bytes: &[u8], start: usize) -> usize {
    let mut i = start + 1;
    let mut in_class = false;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' => i += 2,
            b'\n' => return i,
            b'[' => {
                in_class = true;
                i += 1;
            }
            b']' => {
                in_class = false;
                i += 1;
            }
            b'/' if !in_class => return i + 1,
            _ => i += 1,
        }
    }
    bytes.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fenced(src: &str) -> Fences {
        match split(src) {
            Split::Fenced(f) => f,
            other => panic!("expected fences in {src:?}, got {other:?}"),
        }
    }

    fn code(src: &str) -> &str {
        let f = fenced(src);
        &src[f.content_start..f.content_end]
    }

    #[test]
    fn plain_fences() {
        let src = "---\nconst a = 1;\n---\n<div/>";
        let f = fenced(src);
        assert_eq!(&src[f.content_start..f.content_end], "const a = 1;\n");
        assert_eq!(&src[f.template_start..], "\n<div/>");
    }

    #[test]
    fn bom_blank_lines_and_crlf() {
        let src = "\u{feff}\r\n\r\n---\r\nconst a = 1;\r\n---\r\n<p/>";
        let f = fenced(src);
        assert_eq!(&src[f.content_start..f.content_end], "const a = 1;\r\n");
        assert_eq!(&src[f.template_start..], "\r\n<p/>");
    }

    #[test]
    fn empty_frontmatter_and_many_fences() {
        let src = "---\n---\n---\n---\n";
        let f = fenced(src);
        assert_eq!(f.content_start, f.content_end);
        assert_eq!(&src[f.template_start..], "\n---\n---\n");
    }

    #[test]
    fn none_and_unclosed() {
        assert_eq!(split("<div>---</div>"), Split::None);
        assert_eq!(split(""), Split::None);
        assert_eq!(split("{a}\n---\nconst a = 1;\n---\n"), Split::None);
        assert_eq!(split("<!-- c -->\n---\nconst a = 1;\n---\n"), Split::None);
        assert_eq!(split("---"), Split::Unclosed { open: 0 });
        assert_eq!(split("  ---\nconst a = 1;\n"), Split::Unclosed { open: 2 });
        assert_eq!(
            split("---\nconst s = `never closed\n---\n"),
            Split::Unclosed { open: 0 }
        );
        assert_eq!(
            split("---\n/* never closed\n---\n"),
            Split::Unclosed { open: 0 }
        );
    }

    /// The fence rule, case by case, as Astro 7's compiler (0.4.1) splits these files (each
    /// case checked against it; Astro 5's Go compiler agrees on all but the noted ones).
    #[test]
    fn dashes_inside_strings_templates_comments_and_regexes_are_code() {
        let cases: &[(&str, &str)] = &[
            (
                "---\nconst s = `---\ntitle: x\n---`;\n---\n<p>{s}</p>\n",
                "const s = `---\ntitle: x\n---`;\n",
            ),
            (
                "---\n/*\n---\n*/\nconst a = 1;\n---\n<p/>",
                "/*\n---\n*/\nconst a = 1;\n",
            ),
            (
                "---\n// ---\nconst a = 1;\n---\n<p/>",
                "// ---\nconst a = 1;\n",
            ),
            ("---\nconst r = /---/;\n---\n<p/>", "const r = /---/;\n"),
            (
                "---\nconst r = (/a--- /).source;\n---\n<p/>",
                "const r = (/a--- /).source;\n",
            ),
            // Go reads every `/` as a regex and splits here; Astro 7 does not.
            (
                "---\nconst r = /[/]---/;\n---\n<p/>",
                "const r = /[/]---/;\n",
            ),
            (
                "---\nconst a = 6, b = 2;\nconst x = a / b; const s = '---';\n---\n<p/>",
                "const a = 6, b = 2;\nconst x = a / b; const s = '---';\n",
            ),
            (
                "---\nconst s = 'a\\\n---';\n---\n<p/>",
                "const s = 'a\\\n---';\n",
            ),
            (
                "---\nconst s = `a\\`\n---\n`;\n---\n<p/>",
                "const s = `a\\`\n---\n`;\n",
            ),
            (
                "---\nconst s = `a${ '}' }\n---\n`;\n---\n<p/>",
                "const s = `a${ '}' }\n---\n`;\n",
            ),
            (
                "---\nconst t = typeof /---/;\n---\n<p/>",
                "const t = typeof /---/;\n",
            ),
            ("---\nconst a = 1 < 2;\n---\n<p/>", "const a = 1 < 2;\n"),
            ("--- const a = 1;\n---\n<p/>", " const a = 1;\n"),
        ];
        for (src, expected) in cases {
            assert_eq!(code(src), *expected, "in {src:?}");
        }
    }

    #[test]
    fn a_dash_run_in_code_closes_like_astro() {
        // A `---` in code closes the frontmatter wherever it is, as in Astro's compilers.
        let src = "---\nlet i = 5; i--- 1;\n---\n<p/>";
        let f = fenced(src);
        assert_eq!(&src[f.content_start..f.content_end], "let i = 5; i");
        assert_eq!(&src[f.template_start..f.template_start + 3], " 1;");
        // A nested backtick ends the template literal (`${` is not tracked), for Astro too.
        let src = "---\nconst s = `a${`\n---\n`}b`;\n---\n<p/>";
        assert_eq!(code(src), "const s = `a${`\n");
        // An indented fence, and text after the fence.
        assert_eq!(code("---\nconst a = 1;\n  ---\n<p/>"), "const a = 1;\n");
        let src = "---\nconst a = 1;\n--- // comment\n<p/>";
        assert_eq!(&src[fenced(src).template_start..], " // comment\n<p/>");
        // Four dashes: the first three close.
        let src = "---\nconst a = 1;\n----\n<p/>";
        assert_eq!(&src[fenced(src).template_start..], "-\n<p/>");
        // Text before the opening fence is allowed (no markup, no expression).
        assert_eq!(code("hello\n---\nconst a = 1;\n---\n"), "const a = 1;\n");
    }
}

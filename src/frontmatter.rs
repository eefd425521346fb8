//! Locating the frontmatter of an `.astro` file between its `---` fences.

/// Where the fences of an `.astro` file are, in byte offsets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fences {
    /// Byte offset of the opening `---`.
    pub open: usize,
    /// First byte of the frontmatter code (after the opening fence line's line break, or
    /// right after `---` when code follows on the same line).
    pub content_start: usize,
    /// End of the frontmatter code: the start of the closing fence's line.
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

/// Finds the frontmatter: after an optional BOM and leading whitespace, a `---` opens it; the
/// next line whose first non-blank characters are `---` closes it. Line breaks may be LF or
/// CRLF. Anything else (text before the first fence) means the file has no frontmatter.
pub fn split(source: &str) -> Split {
    let bytes = source.as_bytes();
    let mut i = if source.starts_with('\u{feff}') { 3 } else { 0 };
    while i < bytes.len() && bytes[i].is_ascii_whitespace() {
        i += 1;
    }
    if !source[i..].starts_with("---") {
        return Split::None;
    }
    let open = i;
    let after_fence = i + 3;
    let line_end = source[after_fence..]
        .find('\n')
        .map_or(bytes.len(), |n| after_fence + n);
    let rest_of_line_blank = source[after_fence..line_end].trim().is_empty();
    let content_start = if rest_of_line_blank {
        (line_end + 1).min(bytes.len())
    } else {
        after_fence
    };
    // The closing fence is searched from the line after the opening one.
    let mut line_start = (line_end + 1).min(bytes.len());
    if line_end >= bytes.len() {
        return Split::Unclosed { open };
    }
    loop {
        let end = source[line_start..]
            .find('\n')
            .map_or(bytes.len(), |n| line_start + n);
        let trimmed = source[line_start..end].trim_start_matches([' ', '\t']);
        if trimmed.starts_with("---") {
            let fence_at = end - trimmed.len();
            return Split::Fenced(Fences {
                open,
                content_start: content_start.min(line_start),
                content_end: line_start,
                template_start: fence_at + 3,
            });
        }
        if end >= bytes.len() {
            return Split::Unclosed { open };
        }
        line_start = end + 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fenced(src: &str) -> Fences {
        match split(src) {
            Split::Fenced(f) => f,
            other => panic!("expected fences, got {other:?}"),
        }
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
        assert_eq!(split("---"), Split::Unclosed { open: 0 });
        assert_eq!(split("  ---\nconst a = 1;\n"), Split::Unclosed { open: 2 });
    }
}

//! Component tags used in an `.astro` template.
//!
//! Written by hand, on purpose: an Astro template is not JSX (void elements without `/>`,
//! HTML comments, raw `<script>`/`<style>` bodies, several roots inside one `{…}` expression)
//! and no Rust crate parses it. The scanner only needs tags, so it tokenizes just enough to
//! never mistake text for a tag: comments, raw-text elements, quoted and expression attribute
//! values, and — inside `{…}` — JS strings, template literals, comments and regular
//! expressions. It keeps explicit stacks instead of recursing, so 50,000 nested braces or
//! elements cost memory, not call stack.

use serde::{Deserialize, Serialize};

/// A component tag in the template.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Usage {
    /// The tag name as written (`Card`, `UI.Card`).
    pub name: String,
    /// 1-based line of the `<`.
    pub line: u32,
    /// 1-based column of the `<`, in UTF-16 units.
    pub column: u32,
    /// UTF-16 offset of the `<` in the file.
    pub offset: u32,
    /// Inside a `{…}` expression: rendered only if the expression renders it.
    pub conditional: bool,
    /// Index in the usage list of the enclosing component tag, if any: a slot child, which
    /// Astro renders after its enclosing component.
    pub parent: Option<u32>,
    /// The import source that binds the tag's first name segment, if it is imported.
    pub source: Option<String>,
    /// What is imported from `source`: `default`, an export name, or for `<NS.Card/>` with
    /// `import * as NS`, the member (`Card`).
    pub imported: Option<String>,
    /// Attribute names written on the tag, directives included (`client:load`,
    /// `server:defer`, `slot`); spread and shorthand attributes have none.
    #[serde(default)]
    pub attributes: Vec<String>,
    /// How its props are made and when it renders, when that is proven (see [`crate::flow`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flow: Option<crate::flow::UsageFlow>,
    /// Otherwise, what stopped the proof.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub untraced: Option<Untraced>,
}

/// Where and why a tag's props or rendering could not be traced.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Untraced {
    pub line: u32,
    pub column: u32,
    pub reason: String,
}

/// A tag found by the scanner, in byte offsets, before it is resolved against imports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawUsage {
    pub name: String,
    pub at: usize,
    pub conditional: bool,
    pub parent: Option<u32>,
    pub attributes: Vec<String>,
    /// Every attribute with where its value is written (what props tracing reads).
    pub attrs: Vec<RawAttr>,
    /// Inside a `{…}` expression: the byte range of the outermost one, braces excluded.
    pub expression: Option<(usize, usize)>,
}

/// One attribute of a component tag, in byte offsets of the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawAttr {
    /// Where the attribute starts.
    pub at: usize,
    /// `None` for `{...spread}` and `{shorthand}`.
    pub name: Option<String>,
    pub value: AttrValue,
}

/// How an attribute's value is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttrValue {
    /// `hidden`: the prop is `true`.
    None,
    /// `a="x"` or `a='x'`: the text between the quotes.
    Quoted(usize, usize),
    /// `a=x`.
    Unquoted(usize, usize),
    /// `a={x}`, `{...x}`, `{x}`: the text between the braces.
    Expr(usize, usize),
    /// `` a=`x ${y}` ``: the template literal, backticks included.
    Template(usize, usize),
}

const VOID_ELEMENTS: &[&str] = &[
    "area", "base", "br", "col", "embed", "hr", "img", "input", "keygen", "link", "meta", "param",
    "source", "track", "wbr",
];

/// Elements whose content is raw text, never tags.
const RAW_TEXT_ELEMENTS: &[&str] = &["script", "style", "textarea", "title"];

fn is_component_name(name: &str) -> bool {
    name != "Fragment"
        && (name.starts_with(|c: char| c.is_ascii_uppercase())
            || (name.contains('.') && !name.starts_with('.')))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Frame {
    /// Markup: element children. `base` is the element-stack length when it began; a
    /// markup frame opened by a tag inside an expression ends when that element closes.
    Markup { base: usize },
    /// A `{…}` expression (or a `${…}` inside a template literal). `depth` counts open
    /// brackets inside it.
    Expr { depth: u32, template: bool },
    /// Inside a template literal's text.
    Template,
}

struct Element {
    name: String,
    /// The nearest component at or above this element (index into usages).
    component: Option<u32>,
}

/// What the previous significant token of an expression was: decides whether `<` opens a
/// tag and `/` a regular expression.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Prev {
    /// Start of expression or after an operator/punctuator: a value may follow.
    Operator,
    /// After an identifier, number, `)` or `]`: an operator may follow.
    Value,
    /// After a keyword such as `return` that is followed by a value.
    Keyword,
    /// Right after a closing tag inside an expression: another sibling tag may follow.
    Tag,
}

struct Scanner<'s> {
    bytes: &'s [u8],
    i: usize,
    frames: Vec<Frame>,
    elements: Vec<Element>,
    usages: Vec<RawUsage>,
    /// How many `Expr` frames are open: a tag is conditional when any is.
    exprs: usize,
    /// Where the outermost open `{…}` expression starts (after its brace).
    outer: usize,
    /// Usages inside the outermost open expression, waiting for its end.
    inside: Vec<usize>,
    prev: Prev,
}

/// Scans the template `src[start..]` and returns its component tags in document order.
pub fn scan(src: &str, start: usize) -> Vec<RawUsage> {
    let mut s = Scanner {
        bytes: src.as_bytes(),
        i: start,
        frames: vec![Frame::Markup { base: 0 }],
        elements: Vec::new(),
        usages: Vec::new(),
        exprs: 0,
        outer: 0,
        inside: Vec::new(),
        prev: Prev::Operator,
    };
    s.run();
    s.usages
}

impl<'s> Scanner<'s> {
    fn run(&mut self) {
        while self.i < self.bytes.len() {
            match self.frames.last().copied() {
                Some(Frame::Markup { base }) => self.markup(base),
                Some(Frame::Expr { depth, template }) => self.expr(depth, template),
                Some(Frame::Template) => self.template(),
                None => self.frames.push(Frame::Markup { base: 0 }),
            }
        }
    }

    /// The bytes from the cursor on. Scanning works on bytes: escapes skip two bytes and
    /// may land inside a multi-byte character, where a `str` slice would panic.
    fn rest(&self) -> &'s [u8] {
        &self.bytes[self.i.min(self.bytes.len())..]
    }

    /// Offset of the first occurrence of `needle` at or after `from`.
    fn find(&self, from: usize, needle: &[u8]) -> Option<usize> {
        let from = from.min(self.bytes.len());
        self.bytes[from..]
            .windows(needle.len())
            .position(|w| w == needle)
            .map(|n| from + n)
    }

    /// Offset of the first byte in `set` at or after `from`, or the end.
    fn find_any(&self, from: usize, set: &[u8]) -> usize {
        let from = from.min(self.bytes.len());
        self.bytes[from..]
            .iter()
            .position(|b| set.contains(b))
            .map_or(self.bytes.len(), |n| from + n)
    }

    fn peek(&self, n: usize) -> u8 {
        self.bytes.get(self.i + n).copied().unwrap_or(0)
    }

    fn skip_past(&mut self, needle: &str) {
        self.i = self
            .find(self.i, needle.as_bytes())
            .map_or(self.bytes.len(), |n| n + needle.len());
    }

    fn markup(&mut self, base: usize) {
        let b = self.bytes[self.i];
        match b {
            b'<' if self.rest().starts_with(b"<!--") => self.skip_past("-->"),
            b'<' if self.peek(1) == b'!' || self.peek(1) == b'?' => self.skip_past(">"),
            b'<' if self.peek(1) == b'/' => self.close_tag(base),
            b'<' if self.peek(1).is_ascii_alphabetic() || self.peek(1) == b'>' => {
                self.open_tag();
            }
            b'{' => {
                self.i += 1;
                self.frames.push(Frame::Expr {
                    depth: 0,
                    template: false,
                });
                if self.exprs == 0 {
                    self.outer = self.i;
                    self.inside.clear();
                }
                self.exprs += 1;
                self.prev = Prev::Operator;
            }
            _ => {
                // Text: jump to the next byte that can start something.
                self.i = self.find_any(self.i + 1, b"<{");
            }
        }
    }

    fn tag_name(&mut self) -> String {
        let start = self.i;
        while self.i < self.bytes.len() {
            let c = self.bytes[self.i];
            if c.is_ascii_whitespace() || matches!(c, b'>' | b'/' | b'{' | b'"' | b'\'' | b'=') {
                break;
            }
            self.i += 1;
        }
        // Delimiters are ASCII, so `start..i` is a whole number of characters.
        String::from_utf8_lossy(&self.bytes[start..self.i.min(self.bytes.len())]).into_owned()
    }

    fn open_tag(&mut self) {
        let at = self.i;
        self.i += 1;
        let name = self.tag_name();
        let component = is_component_name(&name);
        let (self_closing, attributes, attrs) = self.attributes(component);
        let raw = attributes.iter().any(|a| a == "is:raw");
        let parent = self.elements.last().and_then(|e| e.component);
        let usage = if component {
            if self.exprs > 0 {
                self.inside.push(self.usages.len());
            }
            self.usages.push(RawUsage {
                name: name.clone(),
                at,
                conditional: self.exprs > 0,
                parent,
                attributes,
                attrs,
                expression: None,
            });
            Some(crate::position::to_u32(self.usages.len() - 1))
        } else {
            None
        };
        let lower = name.to_ascii_lowercase();
        let inside_expr = matches!(self.frames.last(), Some(Frame::Expr { .. }));
        if self_closing || (!component && VOID_ELEMENTS.contains(&lower.as_str())) {
            if inside_expr {
                self.prev = Prev::Tag;
            }
            return;
        }
        if raw || (!component && RAW_TEXT_ELEMENTS.contains(&lower.as_str())) {
            self.skip_raw_text(&name);
            if inside_expr {
                self.prev = Prev::Tag;
            }
            return;
        }
        let base = self.elements.len();
        self.elements.push(Element {
            name,
            component: usage.or(parent),
        });
        if inside_expr {
            self.frames.push(Frame::Markup { base });
        }
    }

    /// Reads a tag's attributes up to and including `>`; returns whether it self-closes and
    /// the attribute names written on it (`class`, `client:load`, `server:defer`, `slot`).
    /// Spread and shorthand attributes (`{...props}`, `{title}`) have no name. With `values`
    /// (a component tag), also where each attribute's value is written.
    fn attributes(&mut self, values: bool) -> (bool, Vec<String>, Vec<RawAttr>) {
        let mut names = Vec::new();
        let mut attrs = Vec::new();
        while self.i < self.bytes.len() {
            match self.bytes[self.i] {
                b'>' => {
                    self.i += 1;
                    return (false, names, attrs);
                }
                b'/' if self.peek(1) == b'>' => {
                    self.i += 2;
                    return (true, names, attrs);
                }
                b if b.is_ascii_whitespace() || b == b'/' => self.i += 1,
                q @ (b'"' | b'\'') => {
                    // A stray quote where a name belongs: skip the string.
                    self.i += 1;
                    self.skip_past(if q == b'"' { "\"" } else { "'" });
                }
                b'{' => {
                    self.i += 1;
                    let start = self.i;
                    self.skip_js_until_close(b'}');
                    if values {
                        attrs.push(RawAttr {
                            at: start - 1,
                            name: None,
                            value: AttrValue::Expr(start, self.i.saturating_sub(1).max(start)),
                        });
                    }
                }
                _ => {
                    let start = self.i;
                    while !self.at_attribute_name_end() {
                        self.i += 1;
                    }
                    let name = String::from_utf8_lossy(&self.bytes[start..self.i]).into_owned();
                    while self.i < self.bytes.len() && self.bytes[self.i].is_ascii_whitespace() {
                        self.i += 1;
                    }
                    let mut value = AttrValue::None;
                    if self.peek(0) == b'=' {
                        self.i += 1;
                        while self.i < self.bytes.len() && self.bytes[self.i].is_ascii_whitespace()
                        {
                            self.i += 1;
                        }
                        value = self.attribute_value();
                    }
                    if values {
                        attrs.push(RawAttr {
                            at: start,
                            name: Some(name.clone()),
                            value,
                        });
                    }
                    names.push(name);
                }
            }
        }
        (false, names, attrs)
    }

    /// Whether the cursor is past an attribute name: at its end, `=`, `>`, `/>`, whitespace,
    /// or something that cannot be part of a name.
    fn at_attribute_name_end(&self) -> bool {
        match self.bytes.get(self.i) {
            None => true,
            Some(b'=' | b'>' | b'{' | b'"' | b'\'') => true,
            Some(b'/') => self.peek(1) == b'>',
            Some(b) => b.is_ascii_whitespace(),
        }
    }

    fn attribute_value(&mut self) -> AttrValue {
        // Every range ends at or after its start, even in a file cut short.
        let end = |s: &Self, from: usize, back: usize| s.i.saturating_sub(back).max(from);
        match self.peek(0) {
            q @ (b'"' | b'\'') => {
                self.i += 1;
                let start = self.i;
                self.skip_past(if q == b'"' { "\"" } else { "'" });
                AttrValue::Quoted(start, end(self, start, 1))
            }
            b'`' => {
                let start = self.i;
                self.i += 1;
                self.skip_js_until_close(b'`');
                AttrValue::Template(start, end(self, start, 0))
            }
            b'{' => {
                self.i += 1;
                let start = self.i;
                self.skip_js_until_close(b'}');
                AttrValue::Expr(start, end(self, start, 1))
            }
            _ => {
                // Unquoted: up to whitespace or the end of the tag.
                let start = self.i;
                while self.i < self.bytes.len()
                    && !self.bytes[self.i].is_ascii_whitespace()
                    && self.bytes[self.i] != b'>'
                {
                    self.i += 1;
                }
                AttrValue::Unquoted(start, self.i)
            }
        }
    }

    /// Skips JS up to the unmatched `close` (`}` of an attribute expression or the `` ` ``
    /// ending an attribute template literal), honouring strings, comments and nesting. Tags
    /// inside attribute expressions are not recorded.
    fn skip_js_until_close(&mut self, close: u8) {
        // Each entry is the byte that closes a nested construct.
        let mut stack: Vec<u8> = vec![close];
        while self.i < self.bytes.len() {
            let b = self.bytes[self.i];
            let in_template = stack.last() == Some(&b'`');
            if in_template {
                match b {
                    b'\\' => self.i += 2,
                    b'`' => {
                        stack.pop();
                        self.i += 1;
                    }
                    b'$' if self.peek(1) == b'{' => {
                        stack.push(b'}');
                        self.i += 2;
                    }
                    _ => self.i += 1,
                }
            } else {
                match b {
                    b'"' | b'\'' => self.skip_string(b),
                    b'`' => {
                        stack.push(b'`');
                        self.i += 1;
                    }
                    b'/' if self.peek(1) == b'/' => self.skip_past("\n"),
                    b'/' if self.peek(1) == b'*' => self.skip_past("*/"),
                    b'{' => {
                        stack.push(b'}');
                        self.i += 1;
                    }
                    b'}' => {
                        stack.pop();
                        self.i += 1;
                    }
                    _ => self.i += 1,
                }
            }
            if stack.is_empty() {
                return;
            }
        }
    }

    fn skip_string(&mut self, quote: u8) {
        self.i += 1;
        while self.i < self.bytes.len() {
            match self.bytes[self.i] {
                b'\\' => self.i += 2,
                b'\n' => return,
                c if c == quote => {
                    self.i += 1;
                    return;
                }
                _ => self.i += 1,
            }
        }
    }

    fn skip_raw_text(&mut self, name: &str) {
        let close = format!("</{}", name.to_ascii_lowercase());
        // Case-insensitive search without lowercasing a possibly huge body.
        let close = close.as_bytes();
        let found = self
            .rest()
            .windows(close.len())
            .position(|w| w.eq_ignore_ascii_case(close));
        match found {
            Some(n) => {
                self.i += n;
                self.skip_past(">");
            }
            None => self.i = self.bytes.len(),
        }
    }

    fn close_tag(&mut self, base: usize) {
        self.i += 2;
        let name = self.tag_name();
        self.skip_past(">");
        // Pop to the matching element, but never below the current markup frame: HTML lets
        // `<p>`/`<li>` close implicitly, so unmatched names are ignored.
        if let Some(pos) = self.elements[base..].iter().rposition(|e| e.name == name) {
            self.elements.truncate(base + pos);
        }
        if self.frames.len() > 1 && self.elements.len() <= base {
            // The tag that opened this markup frame inside an expression has closed.
            self.frames.pop();
            self.prev = Prev::Tag;
        }
    }

    fn expr(&mut self, depth: u32, template: bool) {
        let b = self.bytes[self.i];
        match b {
            b if b.is_ascii_whitespace() => self.i += 1,
            b'"' | b'\'' => {
                self.skip_string(b);
                self.prev = Prev::Value;
            }
            b'`' => {
                self.i += 1;
                self.frames.push(Frame::Template);
            }
            b'/' if self.peek(1) == b'/' => self.skip_past("\n"),
            b'/' if self.peek(1) == b'*' => self.skip_past("*/"),
            b'/' if self.prev != Prev::Value => {
                self.skip_regex();
                self.prev = Prev::Value;
            }
            b'{' | b'(' | b'[' => {
                self.i += 1;
                self.set_depth(depth + 1);
                self.prev = Prev::Operator;
            }
            b'}' if depth == 0 => {
                self.i += 1;
                self.frames.pop();
                if !template {
                    self.exprs = self.exprs.saturating_sub(1);
                    if self.exprs == 0 {
                        self.close_outer(self.i - 1);
                    }
                }
                self.prev = Prev::Value;
            }
            b'}' | b')' | b']' => {
                self.i += 1;
                self.set_depth(depth.saturating_sub(1));
                self.prev = Prev::Value;
            }
            b'<' if self.prev != Prev::Value
                && (self.peek(1).is_ascii_alphabetic() || self.peek(1) == b'>') =>
            {
                self.open_tag();
            }
            c if c.is_ascii_alphanumeric() || c == b'_' || c == b'$' || c >= 0x80 => {
                let start = self.i;
                while self.i < self.bytes.len() {
                    let c = self.bytes[self.i];
                    if !(c.is_ascii_alphanumeric() || c == b'_' || c == b'$' || c >= 0x80) {
                        break;
                    }
                    self.i += 1;
                }
                let word = &self.bytes[start..self.i.min(self.bytes.len())];
                self.prev = if matches!(
                    word,
                    b"return"
                        | b"yield"
                        | b"await"
                        | b"typeof"
                        | b"void"
                        | b"in"
                        | b"of"
                        | b"case"
                        | b"else"
                        | b"do"
                        | b"new"
                        | b"delete"
                        | b"instanceof"
                ) {
                    Prev::Keyword
                } else {
                    Prev::Value
                };
            }
            _ => {
                self.i += 1;
                self.prev = Prev::Operator;
            }
        }
    }

    /// The outermost expression ends at `end`: its usages learn its range.
    fn close_outer(&mut self, end: usize) {
        let outer = self.outer;
        for u in self.inside.drain(..) {
            if let Some(usage) = self.usages.get_mut(u) {
                usage.expression = Some((outer, end.max(outer)));
            }
        }
    }

    fn set_depth(&mut self, depth: u32) {
        if let Some(Frame::Expr { depth: d, .. }) = self.frames.last_mut() {
            *d = depth;
        }
    }

    fn template(&mut self) {
        match self.bytes[self.i] {
            b'\\' => self.i += 2,
            b'`' => {
                self.i += 1;
                self.frames.pop();
                self.prev = Prev::Value;
            }
            b'$' if self.peek(1) == b'{' => {
                self.i += 2;
                self.frames.push(Frame::Expr {
                    depth: 0,
                    template: true,
                });
                self.prev = Prev::Operator;
            }
            _ => {
                self.i = self.find_any(self.i + 1, b"`\\$");
            }
        }
    }

    fn skip_regex(&mut self) {
        self.i += 1;
        let mut class = false;
        while self.i < self.bytes.len() {
            match self.bytes[self.i] {
                b'\\' => self.i += 2,
                b'\n' => return,
                b'[' => {
                    class = true;
                    self.i += 1;
                }
                b']' => {
                    class = false;
                    self.i += 1;
                }
                b'/' if !class => {
                    self.i += 1;
                    while self.i < self.bytes.len() && self.bytes[self.i].is_ascii_alphabetic() {
                        self.i += 1;
                    }
                    return;
                }
                _ => self.i += 1,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(src: &str) -> Vec<(String, bool, Option<u32>)> {
        scan(src, 0)
            .into_iter()
            .map(|u| (u.name, u.conditional, u.parent))
            .collect()
    }

    fn n(name: &str, conditional: bool, parent: Option<u32>) -> (String, bool, Option<u32>) {
        (name.to_string(), conditional, parent)
    }

    #[test]
    fn slots_nest_under_their_component() {
        assert_eq!(
            names("<Layout><div><Card><Inner/></Card></div><br><Footer /></Layout>"),
            vec![
                n("Layout", false, None),
                n("Card", false, Some(0)),
                n("Inner", false, Some(1)),
                n("Footer", false, Some(0)),
            ]
        );
    }

    #[test]
    fn expressions_are_conditional() {
        assert_eq!(
            names(
                "<ul>{items.map((i) => <Item {...i} />)}</ul>{ok && <A/>}{x ? <B>t</B> : <C/>}<D/>"
            ),
            vec![
                n("Item", true, None),
                n("A", true, None),
                n("B", true, None),
                n("C", true, None),
                n("D", false, None),
            ]
        );
    }

    #[test]
    fn not_fooled_by_comments_raw_text_and_strings() {
        let src = r#"<!-- <Hidden/> --><script>const a = "<Nope/>";</script><style>.x{}</style>
<p title="<Quoted/>" data-x={"<Str/>"}>{"<InString/>"}{`<Tpl ${<Real/>}/>`}</p>
<div is:raw><Raw/></div>{a < B ? 1 : 2}{/* <C/> */}{a / 2 > 1 && /<Re\/>/.test(x)}<Visible/>"#;
        assert_eq!(
            names(src),
            vec![n("Real", true, None), n("Visible", false, None)]
        );
    }

    #[test]
    fn dotted_names_fragments_and_siblings_in_expressions() {
        assert_eq!(
            names("<UI.Card/><Fragment><x.y/></Fragment>{list.map(i => <A/><B/>)}<></>"),
            vec![
                n("UI.Card", false, None),
                n("x.y", false, None),
                n("A", true, None),
                n("B", true, None),
            ]
        );
    }

    #[test]
    fn attribute_names_and_directives() {
        let usages = scan(
            r#"<Card title="a > b" {...rest} data-x={ {a: '>'} } client:load server:defer slot=aside hidden/><X a=`${"`"}`>t</X>"#,
            0,
        );
        assert_eq!(
            usages[0].attributes,
            [
                "title",
                "data-x",
                "client:load",
                "server:defer",
                "slot",
                "hidden"
            ]
        );
        assert_eq!(usages[1].attributes, ["a"]);
        assert_eq!(usages.len(), 2);
    }

    #[test]
    fn deep_nesting_is_iterative() {
        let depth = 50_000;
        let src = format!("{}{}", "{".repeat(depth), "}".repeat(depth));
        assert!(scan(&src, 0).is_empty());
        let src = format!("{}<X/>{}", "<A>".repeat(depth), "</A>".repeat(depth));
        let usages = scan(&src, 0);
        assert_eq!(usages.len(), depth + 1);
        assert_eq!(
            usages[depth].parent,
            Some(crate::position::to_u32(depth - 1))
        );
    }
}

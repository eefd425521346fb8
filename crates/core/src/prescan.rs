//! Cheap linear checks run on a script before swc sees it, for the two input shapes that make
//! swc's cost explode: bracket nesting far beyond anything hand-written, and `<` (comparison
//! or type arguments) repeated inside brackets opened after another `<`.
//!
//! Written by hand because the question is about swc's own cost, so it must be answered
//! without swc: a rough lexer that knows strings, comments and template literals is enough,
//! and both checks only ever err towards reporting.

/// Deepest bracket nesting handed to swc. No hand-written code comes near it, while machine
/// made input far deeper makes swc's recursion and error recovery slow and memory-hungry
/// (nested labelled blocks grow quadratically), so such a script is reported, not parsed.
pub const MAX_NESTING: usize = 1_000;

/// How much more often swc's TypeScript parser re-reads a token for each `<` whose type
/// argument speculation encloses it. swc tries `a<...` as type arguments first and, when that
/// fails, parses the same tokens again as a comparison; a bracket inside the attempt (a
/// function-type parameter default, a computed key) holds expressions, whose own `<` start
/// nested attempts. Without memoisation in swc the work grows by about this factor per level
/// (measured 3-5 on `f<(a = f<(a = …` and `(a = b < (a = b < …`).
const BACKTRACK_FACTOR: u64 = 5;

/// Re-reads allowed beyond one pass, as a fixed part plus a part per byte. The inputs that
/// pass it closest take about 0.06 s in a release build (seven levels of `(a = b < (…`). Real
/// code is far below: 36,738 `.ts`/`.tsx`/`.d.ts`/`.astro` files from Astro, Starlight and
/// their dependencies (whole files, templates included) estimate at most 848 re-reads (0.09 per
/// byte); generated declaration files with thirty levels of generic types estimate none.
const MAX_EXTRA_READS: u64 = 200_000;
const MAX_EXTRA_READS_PER_BYTE: u64 = 2;

/// Why a script is not handed to swc.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// Bracket nesting exceeds [`MAX_NESTING`] at this offset.
    TooDeeplyNested(usize),
    /// The `<` at this offset starts a chain of nested speculations too costly to parse.
    TooAmbiguous(usize),
}

/// The grammar swc reads a script with, as far as the checks care.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Grammar {
    /// No type arguments to try: only the nesting check runs.
    JavaScript,
    TypeScript,
    /// TypeScript with JSX, where a leading `<div>` is an element, read once.
    Tsx,
}

/// Runs both checks over `text`, in one pass when the script is clearly fine: the first
/// pass prices every `<` as if never closed, an upper bound; only scripts over the limit
/// then get the exact second pass.
pub fn check(text: &str, grammar: Grammar) -> Option<Refusal> {
    // Without a `<` there is no attempt to price.
    let typescript = grammar != Grammar::JavaScript && text.as_bytes().contains(&b'<');
    let mut depth = 0usize;
    let mut first = Speculation::new(text.len(), grammar, Vec::new());
    for (at, lexeme) in Lexemes::new(text.as_bytes()) {
        match lexeme {
            Lexeme::Open(_) => {
                depth += 1;
                if depth > MAX_NESTING {
                    return Some(Refusal::TooDeeplyNested(at));
                }
            }
            Lexeme::Close(_) => depth = depth.saturating_sub(1),
            _ => {}
        }
        if typescript {
            first.step(at, lexeme);
        }
    }
    if !typescript || first.extra <= first.limit {
        return None;
    }
    let mut second = Speculation::new(text.len(), grammar, first.closed);
    Lexemes::new(text.as_bytes())
        .find_map(|(at, lexeme)| second.step(at, lexeme))
        .map(Refusal::TooAmbiguous)
}

/// Estimated number of token re-reads beyond one pass that swc's TypeScript parser would
/// make on `text` (saturating): both passes, without a limit. Exposed for tests that
/// calibrate the limit on real code.
pub fn extra_reads(text: &str, grammar: Grammar) -> u64 {
    let first = Speculation::run(text, grammar, Vec::new());
    Speculation::run(text, grammar, first.closed).extra
}

/// Words that continue a type after a name (`T extends U`, `keyof T`, `x is T`), so a name
/// followed by one of them does not end a type argument list.
fn is_type_word(word: &[u8]) -> bool {
    matches!(
        word,
        b"abstract"
            | b"as"
            | b"asserts"
            | b"const"
            | b"extends"
            | b"in"
            | b"infer"
            | b"instanceof"
            | b"is"
            | b"keyof"
            | b"new"
            | b"out"
            | b"readonly"
            | b"satisfies"
            | b"typeof"
            | b"unique"
    )
}

/// A `<` that may still open a type argument list (or, leading, type parameters).
struct OpenLt {
    at: usize,
    /// Its number among all `<` of the script.
    ordinal: usize,
    /// It came where an expression starts: a type assertion or a generic arrow function's
    /// type parameters (`<T>(a) => …`), not type arguments.
    leading: bool,
    /// A `>` at its level closes it (known in the second pass).
    closed: bool,
}

/// One bracket level.
struct Level {
    /// `(`, `[`, `{` (also the top level) or a backtick (a template substitution).
    kind: u8,
    lts: Vec<OpenLt>,
    /// Closed `<` open at the enclosing level when this one opened.
    outer_closed: u64,
    /// Whether this level showed that it holds expressions.
    holds_expressions: bool,
    /// How many attempts this level adds around its tokens.
    price: u64,
    /// A `[` starting a member of a `{`, whose first lexemes tell a computed key
    /// (`[Symbol.iterator]`, `[a < b]`) from an index signature or mapped type (`[k: string]`,
    /// `[K in T]`): how many lexemes it has seen while undecided.
    key_lexemes: Option<u8>,
}

impl Level {
    fn new(kind: u8) -> Self {
        Level {
            kind,
            lts: Vec::new(),
            outer_closed: 0,
            holds_expressions: false,
            price: 0,
            key_lexemes: None,
        }
    }

    fn unclosed(&self) -> u64 {
        self.lts.iter().filter(|lt| !lt.closed).count() as u64
    }
}

/// Tracks the points where swc's TypeScript parser starts an attempt it may undo, and prices
/// every token by how many attempts enclose it. swc has no memo of failed attempts, so each
/// one re-reads everything nested in it, attempts included; the cost grows by about
/// [`BACKTRACK_FACTOR`] per level. An attempt is counted around a bracket level when:
/// - a `<` at the enclosing level is never closed (`1 < {1 < {…`, `f<(l=a<…`): the attempt
///   fails and everything after it is read again;
/// - the bracket holds expressions inside a `<`, closed or not: a parameter default in what
///   reads as a function type (`f<(a = …)>`, also `(a = b < (…`) or a computed key in a type
///   literal (`a < {[b < …`);
/// - it follows a leading `<T>` (`<T>(…`, `<T>{…`), tried as a generic arrow function before
///   it is read as a type assertion, or type arguments before a template (`` x<T>`${…`` ``).
///
/// Closed type arguments alone (`A<B<{c: D<E>}>>`, generated declaration files thirty levels
/// deep) and `<` at one level (`a < b < c`) cost nothing extra.
struct Speculation {
    levels: Vec<Level>,
    /// Sum of the prices of all open levels.
    nesting: u64,
    extra: u64,
    limit: u64,
    /// Per `<` in order: closed (filled in the first pass, read in the second).
    closed: Vec<bool>,
    known: Vec<bool>,
    lts_seen: usize,
    /// A leading `<` is a JSX element.
    jsx: bool,
    after_value: bool,
    /// The last lexeme began a member of a `{` (`{`, `,` or `;` came before).
    member_start: bool,
    /// A leading `<T>` closed at the innermost level and no bracket opened there since: the
    /// next one (`<T>(…`, `<T>{…`, `<T>keyof(…`) is read twice.
    after_leading: bool,
    /// The last lexeme closed type arguments after a name.
    after_type_args: bool,
}

impl Speculation {
    fn new(len: usize, grammar: Grammar, known: Vec<bool>) -> Self {
        let limit =
            MAX_EXTRA_READS.saturating_add((len as u64).saturating_mul(MAX_EXTRA_READS_PER_BYTE));
        let mut top = Level::new(b'{');
        top.holds_expressions = true;
        Speculation {
            levels: vec![top],
            nesting: 0,
            extra: 0,
            limit,
            closed: Vec::new(),
            known,
            lts_seen: 0,
            jsx: grammar == Grammar::Tsx,
            after_value: false,
            member_start: false,
            after_leading: false,
            after_type_args: false,
        }
    }

    /// Prices all of `text` without a limit. With `known` empty, every `<` counts as never
    /// closed (the first pass, an upper bound) and `closed` comes out filled in.
    fn run(text: &str, grammar: Grammar, known: Vec<bool>) -> Self {
        let mut speculation = Speculation::new(usize::MAX, grammar, known);
        for (at, lexeme) in Lexemes::new(text.as_bytes()) {
            speculation.step(at, lexeme);
        }
        speculation
    }

    /// Takes one lexeme; returns the offset of the outermost open `<` once the estimated
    /// re-reads pass the limit.
    fn step(&mut self, at: usize, lexeme: Lexeme<'_>) -> Option<usize> {
        if self.nesting > 0 {
            let weight =
                BACKTRACK_FACTOR.saturating_pow(u32::try_from(self.nesting).unwrap_or(u32::MAX));
            self.extra = self.extra.saturating_add(weight - 1);
        }
        let mut after_value = false;
        let mut after_type_args = false;
        // Names and dots keep a leading `<T>` pending; anything else ends it.
        let mut after_leading =
            self.after_leading && matches!(lexeme, Lexeme::Word(_) | Lexeme::Other);
        let member_start = matches!(
            lexeme,
            Lexeme::Open(b'{') | Lexeme::Comma | Lexeme::Semicolon
        );
        self.decide_key(lexeme);
        match lexeme {
            Lexeme::Open(kind) => {
                let parent = self.top();
                let computed_key = kind == b'[' && parent.kind == b'{' && self.member_start;
                let mut price = parent.unclosed();
                if self.after_leading || (self.after_type_args && kind == b'`') {
                    after_leading = false;
                    price += 1;
                }
                let mut level = Level::new(kind);
                level.outer_closed = parent.lts.len() as u64 - parent.unclosed();
                level.price = price;
                level.key_lexemes = computed_key.then_some(0);
                self.nesting += price;
                self.levels.push(level);
            }
            Lexeme::Close(closer) => {
                if self.levels.len() > 1 {
                    let level = self.levels.pop().expect("more than one level");
                    self.nesting -= level.price;
                }
                after_value = closer != b'}' || self.levels.len() == 1;
            }
            Lexeme::Assign => {
                if matches!(self.top().kind, b'(' | b'{') {
                    self.holds_expressions();
                }
            }
            Lexeme::Lt => {
                let ordinal = self.lts_seen;
                self.lts_seen += 1;
                let closed = self.known.get(ordinal).copied().unwrap_or(false);
                self.closed.push(false);
                let leading = !self.after_value;
                self.top_mut().lts.push(OpenLt {
                    at,
                    ordinal,
                    leading,
                    closed,
                });
            }
            Lexeme::Gt(n) => {
                for _ in 0..n {
                    let Some(lt) = self.top_mut().lts.pop() else {
                        break;
                    };
                    self.closed[lt.ordinal] = true;
                    after_leading = lt.leading && !self.jsx;
                    after_type_args = !lt.leading;
                }
                // After a type assertion's `<T>` an expression starts.
                after_value = !after_leading;
            }
            Lexeme::Semicolon => self.top_mut().lts.clear(),
            Lexeme::Word(word) => {
                let type_word = is_type_word(word);
                // Two names in a row (`a < b` then `foo()` on the next line) cannot be
                // inside type arguments, so swc's attempt ends there.
                if self.after_value && !type_word {
                    self.top_mut().lts.clear();
                }
                after_value = !type_word;
            }
            Lexeme::Value => after_value = true,
            Lexeme::Comma | Lexeme::Colon | Lexeme::Other => {}
        }
        self.after_value = after_value;
        self.member_start = member_start;
        self.after_leading = after_leading;
        self.after_type_args = after_type_args;
        (self.extra > self.limit).then(|| {
            self.levels
                .iter()
                .find_map(|level| level.lts.first())
                .map_or(at, |lt| lt.at)
        })
    }

    /// Decides, from its first two lexemes, whether a member-starting `[` is a computed key.
    fn decide_key(&mut self, lexeme: Lexeme<'_>) {
        let level = self.top_mut();
        let Some(seen) = level.key_lexemes else {
            return;
        };
        let signature = match (seen, lexeme) {
            (0, Lexeme::Word(_)) => None,
            (1, Lexeme::Colon | Lexeme::Word(b"in")) => Some(true),
            _ => Some(false),
        };
        match signature {
            None => level.key_lexemes = Some(seen + 1),
            Some(true) => level.key_lexemes = None,
            Some(false) => {
                level.key_lexemes = None;
                self.holds_expressions();
            }
        }
    }

    /// Adds to the innermost level's price the closed `<` open around it, up to the nearest
    /// level that already holds expressions (whose `<` are counted there). Unclosed ones are
    /// in the price already.
    fn holds_expressions(&mut self) {
        let Some(last) = self.levels.len().checked_sub(1) else {
            return;
        };
        if self.levels[last].holds_expressions {
            return;
        }
        let added: u64 = self.levels[1..=last]
            .iter()
            .rev()
            .take_while(|level| !level.holds_expressions)
            .map(|level| level.outer_closed)
            .sum();
        let level = &mut self.levels[last];
        level.holds_expressions = true;
        level.price += added;
        self.nesting += added;
    }

    fn top(&self) -> &Level {
        self.levels.last().expect("the top level is never popped")
    }

    fn top_mut(&mut self) -> &mut Level {
        self.levels
            .last_mut()
            .expect("the top level is never popped")
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Lexeme<'a> {
    /// `(`, `[`, `{` or the `${` of a template literal (as a backtick).
    Open(u8),
    /// A lone `=` (assignment or default value).
    Assign,
    /// `)`, `]` or `}` (also the `}` ending a template substitution).
    Close(u8),
    /// A `<` that may open type arguments (not `<=`, `<<`, `</`).
    Lt,
    /// `>`, `>>` or `>>>` (with or without `=`): closes that many `<`.
    Gt(u8),
    Semicolon,
    Comma,
    Colon,
    /// A name or keyword.
    Word(&'a [u8]),
    /// A number, string or template literal.
    Value,
    Other,
}

/// A rough lexer: strings, comments and template literals are skipped as wholes, names and
/// numbers are one lexeme, every other byte is punctuation. Regular expressions are read as
/// punctuation, which can only add or drop brackets inside one.
struct Lexemes<'a> {
    text: &'a [u8],
    i: usize,
    /// For each template substitution we are inside, how many `{` it has open.
    substitutions: Vec<usize>,
    /// The next lexeme starts inside template text (after a substitution's `}`).
    in_template: bool,
}

impl<'a> Lexemes<'a> {
    fn new(text: &'a [u8]) -> Self {
        Lexemes {
            text,
            i: 0,
            substitutions: Vec::new(),
            in_template: false,
        }
    }

    fn peek(&self, ahead: usize) -> Option<u8> {
        self.text.get(self.i + ahead).copied()
    }

    /// Skips template text from `self.i` to the closing backtick or to a `${`, which it
    /// reports as an opening bracket.
    fn template_text(&mut self) -> Lexeme<'a> {
        while self.i < self.text.len() {
            match self.text[self.i] {
                b'\\' => self.i += 2,
                b'`' => {
                    self.i += 1;
                    return Lexeme::Value;
                }
                b'$' if self.peek(1) == Some(b'{') => {
                    self.i += 2;
                    self.substitutions.push(0);
                    return Lexeme::Open(b'`');
                }
                _ => self.i += 1,
            }
        }
        Lexeme::Value
    }
}

fn is_name_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b'$' || b >= 0x80
}

impl<'a> Iterator for Lexemes<'a> {
    type Item = (usize, Lexeme<'a>);

    fn next(&mut self) -> Option<Self::Item> {
        let text = self.text;
        if self.in_template {
            self.in_template = false;
            let at = self.i;
            if at < text.len() {
                return Some((at, self.template_text()));
            }
        }
        loop {
            let at = self.i;
            let b = *text.get(at)?;
            self.i += 1;
            let lexeme = match b {
                b' ' | b'\t' | b'\r' | b'\n' => continue,
                b'/' if self.peek(0) == Some(b'/') => {
                    while self.i < text.len() && text[self.i] != b'\n' {
                        self.i += 1;
                    }
                    continue;
                }
                b'/' if self.peek(0) == Some(b'*') => {
                    self.i += 1;
                    while self.i < text.len()
                        && !(text[self.i] == b'*' && self.peek(1) == Some(b'/'))
                    {
                        self.i += 1;
                    }
                    self.i += 2;
                    continue;
                }
                b'"' | b'\'' => {
                    while self.i < text.len() && text[self.i] != b && text[self.i] != b'\n' {
                        self.i += if text[self.i] == b'\\' { 2 } else { 1 };
                    }
                    self.i += 1;
                    Lexeme::Value
                }
                b'`' => self.template_text(),
                b'(' | b'[' => Lexeme::Open(b),
                b'{' => {
                    if let Some(open) = self.substitutions.last_mut() {
                        *open += 1;
                    }
                    Lexeme::Open(b'{')
                }
                b'}' => match self.substitutions.last_mut() {
                    Some(0) => {
                        self.substitutions.pop();
                        // This `}` closes its `${`; the template text after it is read
                        // by the next call.
                        self.in_template = true;
                        Lexeme::Close(b'}')
                    }
                    Some(open) => {
                        *open -= 1;
                        Lexeme::Close(b'}')
                    }
                    None => Lexeme::Close(b'}'),
                },
                b')' | b']' => Lexeme::Close(b),
                b';' => Lexeme::Semicolon,
                b',' => Lexeme::Comma,
                b':' => Lexeme::Colon,
                b'=' => match self.peek(0) {
                    Some(b'>') => {
                        self.i += 1;
                        Lexeme::Other
                    }
                    Some(b'=') => {
                        while self.peek(0) == Some(b'=') {
                            self.i += 1;
                        }
                        Lexeme::Other
                    }
                    _ => Lexeme::Assign,
                },
                // Compound operators ending in `=` (`!=`, `+=`, `??=`, ...): their `=` is
                // not a default value.
                b'!' | b'+' | b'-' | b'*' | b'/' | b'%' | b'&' | b'|' | b'^' | b'?'
                    if self.peek(0) == Some(b'=') =>
                {
                    while self.peek(0) == Some(b'=') {
                        self.i += 1;
                    }
                    Lexeme::Other
                }
                b'<' => match self.peek(0) {
                    Some(b'<' | b'=' | b'/') => {
                        self.i += 1;
                        Lexeme::Other
                    }
                    _ => Lexeme::Lt,
                },
                b'>' => {
                    let mut n = 1;
                    while n < 3 && self.peek(0) == Some(b'>') {
                        self.i += 1;
                        n += 1;
                    }
                    while self.peek(0) == Some(b'=') {
                        self.i += 1;
                    }
                    Lexeme::Gt(n)
                }
                b'0'..=b'9' => {
                    while self.i < text.len()
                        && (is_name_byte(text[self.i]) || text[self.i] == b'.')
                    {
                        self.i += 1;
                    }
                    Lexeme::Value
                }
                _ if is_name_byte(b) || b == b'#' => {
                    while self.i < text.len() && is_name_byte(text[self.i]) {
                        self.i += 1;
                    }
                    Lexeme::Word(&text[at..self.i])
                }
                _ => Lexeme::Other,
            };
            self.i = self.i.min(text.len());
            return Some((at, lexeme));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lexemes(text: &str) -> Vec<Lexeme<'_>> {
        Lexemes::new(text.as_bytes()).map(|(_, l)| l).collect()
    }

    #[test]
    fn strings_comments_and_templates_are_skipped() {
        use Lexeme::*;
        assert_eq!(
            lexemes("a('<(', \"[\") // (\n/* { */ `x${ {b} }<(`"),
            [
                Word(b"a"),
                Open(b'('),
                Value,
                Comma,
                Value,
                Close(b')'),
                Open(b'`'),
                Open(b'{'),
                Word(b"b"),
                Close(b'}'),
                Close(b'}'),
                Value,
            ]
        );
        assert_eq!(
            lexemes("a <= b << c </d> x => y >>= z != w == v = u"),
            [
                Word(b"a"),
                Other,
                Word(b"b"),
                Other,
                Word(b"c"),
                Other,
                Word(b"d"),
                Gt(1),
                Word(b"x"),
                Other,
                Word(b"y"),
                Gt(2),
                Word(b"z"),
                Other,
                Word(b"w"),
                Other,
                Word(b"v"),
                Assign,
                Word(b"u"),
            ]
        );
    }

    #[test]
    fn unterminated_input_ends_cleanly() {
        for text in [
            "'abc",
            "`abc${",
            "/* abc",
            "a\\",
            "`${`${",
            "\u{e9}<(\u{e9} = ",
        ] {
            let _ = lexemes(text);
            let _ = check(text, Grammar::TypeScript);
        }
    }

    #[test]
    fn only_nested_attempts_cost() {
        assert_eq!(
            extra_reads("a < b < c < d < e < f < g", Grammar::TypeScript),
            0
        );
        assert_eq!(
            extra_reads(
                "x: A<B<C<{ d: D<E<F>> }>>> = f<G<H>>(1)",
                Grammar::TypeScript
            ),
            0
        );
        // One attempt around a default: its tokens are read twice.
        assert!(extra_reads("f<(a = 1)>", Grammar::TypeScript) > 0);
        let nested =
            |n: usize| extra_reads(&format!("{}1", "(a = b < ".repeat(n)), Grammar::TypeScript);
        assert!(nested(6) > 4 * nested(5));
        assert_eq!(
            check(&format!("{}1", "(a = b < ".repeat(6)), Grammar::TypeScript),
            None
        );
        assert_eq!(
            check(
                &format!("x;\n{}1", "(a = b < ".repeat(20)),
                Grammar::TypeScript
            ),
            Some(Refusal::TooAmbiguous(10))
        );
        // A `;` or two names in a row end an attempt.
        assert_eq!(
            extra_reads(&"a < b; (c = 1)".repeat(20), Grammar::TypeScript),
            0
        );
        assert_eq!(
            extra_reads(&"a < b\nfoo((c = 1))\n".repeat(20), Grammar::TypeScript),
            0
        );
        // Never-closed `<` around brackets, leading `<T>` before one, type arguments before
        // a template: every shape the fuzzer and a search over token patterns found slow.
        for unit in [
            "1 < {",
            "<T> {... as ? ",
            "x<T> `${ ",
            "<T>(a = ",
            "new A<(a = ",
        ] {
            let refused = check(&unit.repeat(40), Grammar::TypeScript);
            assert!(
                matches!(refused, Some(Refusal::TooAmbiguous(_))),
                "{unit:?}"
            );
        }
        // In TSX a leading `<div>` is an element: deep JSX costs nothing.
        let jsx = "<div>{xs.map(x => ".repeat(12) + "x" + &")}</div>".repeat(12);
        assert_eq!(extra_reads(&jsx, Grammar::Tsx), 0);
    }

    /// The single pass `check` relies on prices at least what the exact second pass does.
    #[test]
    fn first_pass_is_an_upper_bound() {
        let units = [
            "1 < {",
            "<T> {... as ? ",
            "x<T> `${ ",
            "<T>(a = ",
            "new A<(a = ",
            "(a = b < ",
            "f<(l=a<",
            "a < {[a < ",
            "f<({a = ",
            "A<B<{c: D<(e = 1) => F>}>> ",
            "f<T>(a = b) ",
            "a < b;\n",
            "<T,>(x: T = ",
            "y = a < b ? (c = d) : e > (f = ",
        ];
        for grammar in [Grammar::TypeScript, Grammar::Tsx] {
            for (i, unit) in units.iter().enumerate() {
                for other in &units[i..] {
                    let text = format!("{unit}{other}").repeat(3);
                    let first = Speculation::run(&text, grammar, Vec::new());
                    assert!(first.extra >= extra_reads(&text, grammar), "{text:?}");
                }
            }
        }
    }

    #[test]
    fn nesting_limit() {
        let deep = "[".repeat(MAX_NESTING + 1);
        assert_eq!(
            check(&deep, Grammar::JavaScript),
            Some(Refusal::TooDeeplyNested(MAX_NESTING))
        );
        assert_eq!(check(&"[".repeat(MAX_NESTING), Grammar::JavaScript), None);
    }
}

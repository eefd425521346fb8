//! Which grammar a file is read with: the frontmatter of an `.astro` file, TypeScript (with or
//! without JSX), or JavaScript (with or without JSX), chosen by extension.

use swc_ecma_parser::{EsSyntax, Syntax};

use crate::prescan::Grammar;

/// Which grammar a script is parsed with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// An `.astro` frontmatter: TypeScript, top-level `return` allowed, imports and exports are
    /// module-level and every other statement runs at render.
    Frontmatter,
    TypeScript,
    Tsx,
    /// JavaScript with JSX (`.js`, `.jsx`).
    Jsx,
    /// JavaScript without JSX (`.mjs`, `.cjs`).
    JavaScript,
}

impl Dialect {
    pub(crate) fn syntax(self) -> Syntax {
        match self {
            Dialect::Frontmatter | Dialect::TypeScript => Syntax::Typescript(Default::default()),
            Dialect::Tsx => Syntax::Typescript(swc_ecma_parser::TsSyntax {
                tsx: true,
                ..Default::default()
            }),
            Dialect::Jsx => Syntax::Es(EsSyntax {
                jsx: true,
                ..Default::default()
            }),
            Dialect::JavaScript => Syntax::Es(Default::default()),
        }
    }

    /// The grammar as the pre-scan sees it.
    pub(crate) fn grammar(self) -> Grammar {
        match self {
            Dialect::Frontmatter | Dialect::TypeScript => Grammar::TypeScript,
            Dialect::Tsx => Grammar::Tsx,
            Dialect::Jsx | Dialect::JavaScript => Grammar::JavaScript,
        }
    }

    pub(crate) fn typescript(self) -> bool {
        matches!(
            self,
            Dialect::Frontmatter | Dialect::TypeScript | Dialect::Tsx
        )
    }
}

/// The grammar for a file name, or `None` for an extension the core does not analyze.
pub fn dialect_for(filename: &str) -> Option<Dialect> {
    let ext = filename
        .rsplit_once('.')
        .map(|(_, e)| e.to_ascii_lowercase())?;
    Some(match ext.as_str() {
        "astro" => Dialect::Frontmatter,
        "ts" | "mts" | "cts" => Dialect::TypeScript,
        "tsx" => Dialect::Tsx,
        "js" | "jsx" => Dialect::Jsx,
        "mjs" | "cjs" => Dialect::JavaScript,
        _ => return None,
    })
}

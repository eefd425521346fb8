//! Checking an analysis read from the disk cache against the source it claims to describe.
//!
//! The disk cache lives in `node_modules/.cache/astro-hoist`, which CI systems restore across
//! branches and forks: its content cannot be trusted. What an analysis says flows into generated
//! code (import specifiers, names, the statements of a loader's closure, insertion points),
//! so an entry from disk is used only when every such fact is found in the source at the place
//! the entry says: a forged or stale entry is a miss, and the file is analyzed again. Entries the
//! process made itself are trusted as they are.

use crate::component::{component_id, ComponentInfo, ComponentKind};
use crate::dialect::{dialect_for, Dialect};
use crate::frontmatter::{self, Split};
use crate::position::Span;

/// Whether `info` describes `source` (named `filename`, analyzed under `root`) as the core would.
pub fn consistent(info: &ComponentInfo, source: &str, filename: &str, root: Option<&str>) -> bool {
    check(info, source, filename, root).is_some()
}

fn check(info: &ComponentInfo, source: &str, filename: &str, root: Option<&str>) -> Option<()> {
    let text = Utf16::new(source);
    ensure(info.filename == filename)?;
    ensure(info.id == component_id(filename, root))?;
    ensure(info.hash == blake3::hash(source.as_bytes()).to_hex().as_str())?;
    let astro = dialect_for(filename) == Some(Dialect::Frontmatter);
    ensure((info.kind == ComponentKind::Astro) == astro)?;

    // The frontmatter, recomputed: every position below must lie inside it.
    let frontmatter = match (astro, frontmatter::split(source)) {
        (true, Split::Fenced(f)) => Some((
            text.utf16_of(f.content_start)?,
            text.utf16_of(f.content_end)?,
        )),
        (true, _) => None,
        (false, _) => Some((0, text.len())),
    };
    ensure(info.frontmatter.map(|s| (s.start, s.end)) == frontmatter.filter(|_| astro))?;
    let (code_start, code_end) = frontmatter.unwrap_or((0, 0));
    let in_code =
        |span: &Span| span.start >= code_start && span.end <= code_end && span.start <= span.end;

    for import in &info.imports {
        ensure(in_code(&import.span))?;
        let at = text.slice(import.span)?;
        ensure(quoted(at, &import.source))?;
        for name in import.default_name.iter().chain(import.namespace.iter()) {
            ensure(has_word(at, name))?;
        }
        for name in &import.names {
            ensure(
                has_word(at, &name.local)
                    && (has_word(at, &name.imported) || quoted(at, &name.imported)),
            )?;
        }
    }
    for reexport in &info.reexports {
        ensure(in_code(&reexport.span))?;
        let at = text.slice(reexport.span)?;
        // A re-export of an imported binding names its import's source, not its own.
        ensure(
            quoted(at, &reexport.source)
                || info.imports.iter().any(|i| i.source == reexport.source),
        )?;
        for name in &reexport.names {
            ensure(has_word(at, &name.exported) || quoted(at, &name.exported))?;
        }
    }
    for usage in &info.usages {
        let start = text.byte_of(usage.offset)?;
        ensure(source[start..].starts_with(&format!("<{}", usage.name)))?;
        if let Some(from) = &usage.source {
            ensure(info.imports.iter().any(|i| &i.source == from))?;
        }
    }
    if let Some(loader) = &info.loader {
        ensure(in_code(&loader.span))?;
        ensure(text.slice(loader.span)?.starts_with("export"))?;
        for dependency in &loader.depends_on {
            if let Some(from) = &dependency.source {
                ensure(info.imports.iter().any(|i| &i.source == from))?;
            }
        }
        if let Some(module) = &loader.module {
            let mut statements = String::new();
            for span in &module.statements {
                ensure(in_code(span))?;
                let at = text.slice(*span)?;
                ensure(at.starts_with("export"))?;
                statements.push_str(at);
            }
            for name in &module.exports {
                ensure(has_word(&statements, name))?;
            }
            for item in &module.imports {
                let bound = info.imports.iter().any(|i| {
                    i.source == item.source
                        && match item.imported.as_str() {
                            "*" => i.namespace.as_deref() == Some(&item.local),
                            "default" => {
                                i.default_name.as_deref() == Some(&item.local)
                                    || i.names
                                        .iter()
                                        .any(|n| n.imported == "default" && n.local == item.local)
                            }
                            imported => i
                                .names
                                .iter()
                                .any(|n| n.imported == imported && n.local == item.local),
                        }
                });
                ensure(bound && has_word(&statements, &item.local))?;
            }
        }
    }
    for call in &info.loader_data_calls {
        ensure(in_code(&call.span))?;
        ensure(call.args_start > code_start && call.args_start <= code_end)?;
        let before = text.byte_of(call.args_start)?;
        ensure(source[..before].ends_with('('))?;
    }
    for guard in &info.early_returns {
        ensure(in_code(guard) && text.slice(*guard)?.contains("return"))?;
    }
    Some(())
}

fn ensure(ok: bool) -> Option<()> {
    ok.then_some(())
}

/// Whether `text` holds `value` as a string literal, as written.
fn quoted(text: &str, value: &str) -> bool {
    text.contains(&format!("'{value}'")) || text.contains(&format!("\"{value}\""))
}

/// Whether `word` occurs in `text` as a whole identifier.
fn has_word(text: &str, word: &str) -> bool {
    let is_ident = |c: char| c.is_alphanumeric() || c == '_' || c == '$';
    !word.is_empty()
        && text.match_indices(word).any(|(i, _)| {
            let before = text[..i].chars().next_back();
            let after = text[i + word.len()..].chars().next();
            !before.is_some_and(is_ident) && !after.is_some_and(is_ident)
        })
}

/// UTF-16 offsets (what the analysis reports) to byte offsets of one source.
struct Utf16<'a> {
    source: &'a str,
    /// Byte offset of each UTF-16 unit; `None` for an ASCII source, where they are equal.
    bytes: Option<Vec<usize>>,
}

impl<'a> Utf16<'a> {
    fn new(source: &'a str) -> Self {
        let bytes = (!source.is_ascii()).then(|| {
            let mut out = Vec::with_capacity(source.len() + 1);
            for (i, c) in source.char_indices() {
                out.push(i);
                if c.len_utf16() == 2 {
                    // The second half of a surrogate pair is not a place to cut.
                    out.push(usize::MAX);
                }
            }
            out.push(source.len());
            out
        });
        Utf16 { source, bytes }
    }

    fn len(&self) -> u32 {
        match &self.bytes {
            Some(b) => crate::position::to_u32(b.len() - 1),
            None => crate::position::to_u32(self.source.len()),
        }
    }

    fn byte_of(&self, offset: u32) -> Option<usize> {
        let offset = offset as usize;
        match &self.bytes {
            Some(b) => b.get(offset).copied().filter(|&i| i != usize::MAX),
            None => (offset <= self.source.len()).then_some(offset),
        }
    }

    fn utf16_of(&self, byte: usize) -> Option<u32> {
        match &self.bytes {
            Some(b) => b
                .iter()
                .position(|&i| i == byte)
                .map(crate::position::to_u32),
            None => (byte <= self.source.len()).then(|| crate::position::to_u32(byte)),
        }
    }

    fn slice(&self, span: Span) -> Option<&'a str> {
        let (start, end) = (self.byte_of(span.start)?, self.byte_of(span.end)?);
        self.source.get(start..end)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::component::{analyze_component, AnalyzeOptions};

    const SOURCE: &str = "---\nimport { getLoaderData } from 'astro-hoist/runtime';\nimport { db } from '../lib/db';\nimport Card from './Card.astro';\nexport const loader = async () => db.get('ü');\nconst d = await getLoaderData();\nif (!d) return Astro.redirect('/');\n---\n<Card />\n";

    fn fresh() -> ComponentInfo {
        analyze_component(
            SOURCE,
            "/site/src/pages/a.astro",
            &AnalyzeOptions {
                root: Some("/site".into()),
            },
        )
    }

    #[test]
    fn a_fresh_analysis_is_consistent() {
        assert!(consistent(
            &fresh(),
            SOURCE,
            "/site/src/pages/a.astro",
            Some("/site")
        ));
        let module = "export { default as Card } from './Card.astro';\nexport * from \"./more\";\n";
        let info = analyze_component(
            module,
            "/site/src/ui/index.ts",
            &AnalyzeOptions {
                root: Some("/site".into()),
            },
        );
        assert!(consistent(
            &info,
            module,
            "/site/src/ui/index.ts",
            Some("/site")
        ));
    }

    #[test]
    fn forged_facts_are_refused() {
        let path = "/site/src/pages/a.astro";
        let forge = |edit: &dyn Fn(&mut ComponentInfo)| {
            let mut info = fresh();
            edit(&mut info);
            consistent(&info, SOURCE, path, Some("/site"))
        };
        assert!(!forge(&|i| i.imports[1].source = "evil-package".into()));
        assert!(!forge(&|i| i
            .loader
            .as_mut()
            .unwrap()
            .module
            .as_mut()
            .unwrap()
            .imports[0]
            .source = "evil".into()));
        assert!(!forge(&|i| i
            .loader
            .as_mut()
            .unwrap()
            .module
            .as_mut()
            .unwrap()
            .imports[0]
            .local = "process".into()));
        assert!(!forge(
            &|i| i.usages[0].source = Some("../../secrets.astro".into())
        ));
        assert!(!forge(&|i| i.usages[0].offset += 1));
        assert!(!forge(&|i| i.loader_data_calls[0].args_start -= 3));
        assert!(!forge(&|i| i
            .loader
            .as_mut()
            .unwrap()
            .module
            .as_mut()
            .unwrap()
            .statements[0]
            .start += 1));
        assert!(!forge(&|i| i
            .loader
            .as_mut()
            .unwrap()
            .module
            .as_mut()
            .unwrap()
            .exports
            .push("evil".into())));
        assert!(!forge(&|i| i.early_returns[0].start = 0));
        assert!(!forge(&|i| i.hash = "0".repeat(64)));
        assert!(!forge(&|i| i.id = "0000000000000000".into()));
        assert!(!forge(&|i| i.frontmatter = None));
        // A stale entry for other content (same file) is refused as well.
        assert!(!consistent(
            &fresh(),
            &SOURCE.replace("db.get", "db.put"),
            path,
            Some("/site")
        ));
    }
}

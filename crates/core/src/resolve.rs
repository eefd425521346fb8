//! Resolution behind one interface: what an import specifier names from one importer, and the
//! source of a module that is not a file on disk.
//!
//! The project walk ([`crate::graph`]) asks a [`Host`] and never resolves by itself. Two hosts
//! exist: [`DiskHost`] resolves on disk with `oxc_resolver` (tsconfig `paths`, `baseUrl` and
//! `extends`, package `exports`, extensions, aliases) for tools that run without a bundler
//! (`scanProject`); inside Vite, the binding answers with Vite's own resolver and module loading,
//! so aliases, packages and virtual modules resolve exactly as the build resolves them. A host
//! may not know an answer yet (`None`): the walk then records the question and the caller answers
//! it before walking again.

use std::path::{Path, PathBuf};

use oxc_resolver::{
    AliasValue, ResolveError, ResolveOptions, Resolver, TsconfigDiscovery, TsconfigOptions,
    TsconfigReferences,
};

/// What a specifier names.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Resolution {
    /// A module: an absolute file path, or a virtual id (`\0virtual:…`) whose source the host loads.
    Module(String),
    /// Something the walk does not follow: a package kept external, a Node built-in, a CSS file.
    External,
    /// Nothing: no module answers to the specifier.
    Missing,
}

/// Where resolutions and module sources come from.
pub trait Host: Send + Sync {
    /// What `specifier` names when imported from module `importer`; `None` when not known yet.
    fn resolve(&self, specifier: &str, importer: &str) -> Option<Resolution>;
    /// The source of a module that is not a plain file (a virtual module): `Some(Ok(code))`,
    /// `Some(Err(why))` when it cannot be loaded, `None` when not known yet. Files are read from
    /// disk by the project itself.
    fn load(&self, id: &str) -> Option<Result<String, String>>;
    /// Whether its answers are the build's own (a bundler's resolver): a bare specifier it cannot
    /// resolve is then a real problem, where a disk scan may only not know an alias.
    fn is_bundler(&self) -> bool {
        false
    }
}

/// Extensions tried for an extensionless specifier, in Vite's order plus `.astro`.
const EXTENSIONS: &[&str] = &[
    ".astro", ".mjs", ".js", ".mts", ".ts", ".jsx", ".tsx", ".json",
];

/// Resolution on disk, with oxc_resolver configured as Vite resolves for SSR: ESM conditions,
/// TypeScript's `.js` written for `.ts`, the root tsconfig's `paths` and `baseUrl` (following
/// `extends`) for every importer — as Astro applies them, `.astro` files included, which a
/// per-file tsconfig lookup would skip (TypeScript's `include` does not cover `.astro`) — and the
/// aliases given (`vite.resolve.alias` in object form). A root-relative `/src/x.astro` is tried
/// against the project root first, as Vite does.
pub struct DiskHost {
    root: PathBuf,
    resolver: Resolver,
    /// The same without tsconfig: for importers whose tsconfig cannot be read (an `extends` of a
    /// package that is not installed), as TypeScript and Vite then resolve.
    plain: Resolver,
}

impl DiskHost {
    /// A host for the project at `root`, with aliases `find` -> `replacement` (a relative
    /// replacement is taken from the root).
    pub fn new(root: &Path, alias: &[(String, String)]) -> Self {
        // Longest `find` first, so `@/components` wins over `@`, whatever order they came in.
        let mut alias = alias.to_vec();
        alias.sort_by_key(|(find, _)| std::cmp::Reverse(find.len()));
        let alias = alias
            .iter()
            .map(|(find, replacement)| {
                let target = if Path::new(replacement).is_absolute() {
                    replacement.clone()
                } else {
                    root.join(replacement).to_string_lossy().into_owned()
                };
                (find.clone(), vec![AliasValue::Path(target)])
            })
            .collect();
        let plain = ResolveOptions {
            tsconfig: None,
            alias,
            extensions: EXTENSIONS.iter().map(|e| e.to_string()).collect(),
            extension_alias: vec![
                (
                    ".js".into(),
                    vec![".ts".into(), ".tsx".into(), ".js".into()],
                ),
                (".mjs".into(), vec![".mts".into(), ".mjs".into()]),
            ],
            condition_names: vec![
                "astro".into(),
                "import".into(),
                "module".into(),
                "node".into(),
                "default".into(),
            ],
            main_fields: vec!["module".into(), "main".into()],
            builtin_modules: true,
            ..ResolveOptions::default()
        };
        let config = ["tsconfig.json", "jsconfig.json"]
            .iter()
            .map(|name| root.join(name))
            .find(|p| p.is_file());
        let with_tsconfig = ResolveOptions {
            tsconfig: config.map(|config_file| {
                TsconfigDiscovery::Manual(TsconfigOptions {
                    config_file,
                    references: TsconfigReferences::Disabled,
                })
            }),
            ..plain.clone()
        };
        DiskHost {
            root: root.to_path_buf(),
            resolver: Resolver::new(with_tsconfig),
            plain: Resolver::new(plain),
        }
    }

    /// Resolves with the importer's tsconfig, or without when it cannot be read.
    fn resolve_file(
        &self,
        importer: &Path,
        specifier: &str,
    ) -> Result<oxc_resolver::Resolution, ResolveError> {
        match self.resolver.resolve_file(importer, specifier) {
            Err(
                ResolveError::TsconfigNotFound(_)
                | ResolveError::TsconfigSelfReference(_)
                | ResolveError::TsconfigCircularExtend(_)
                | ResolveError::TsconfigLoadFailed { .. }
                | ResolveError::Json(_),
            ) => self.plain.resolve_file(importer, specifier),
            other => other,
        }
    }

    /// Forgets cached file-system facts (after files were created or deleted).
    pub fn clear(&self) {
        self.resolver.clear_cache();
        self.plain.clear_cache();
    }
}

impl Host for DiskHost {
    fn resolve(&self, specifier: &str, importer: &str) -> Option<Resolution> {
        let importer = Path::new(importer);
        if !importer.is_absolute() {
            // A virtual importer has no folder to resolve relative to.
            return Some(Resolution::Missing);
        }
        if let Some(rest) = specifier.strip_prefix('/') {
            let in_root = self.root.join(rest);
            if let Ok(found) = self.resolve_file(importer, &in_root.to_string_lossy()) {
                return Some(Resolution::Module(
                    found.full_path().to_string_lossy().into_owned(),
                ));
            }
        }
        Some(match self.resolve_file(importer, specifier) {
            Ok(found) => {
                let path = found.full_path();
                if is_followed(&path) {
                    Resolution::Module(path.to_string_lossy().into_owned())
                } else {
                    Resolution::External
                }
            }
            Err(ResolveError::Builtin { .. }) | Err(ResolveError::Ignored(_)) => {
                Resolution::External
            }
            Err(_)
                if is_package(specifier)
                    && !specifier.starts_with('@')
                    && specifier.contains(':') =>
            {
                // `astro:content`, `virtual:…`: another plugin's module, unknown on disk.
                Resolution::External
            }
            Err(_) => Resolution::Missing,
        })
    }

    fn load(&self, id: &str) -> Option<Result<String, String>> {
        Some(Err(format!(
            "{id} is not a file; only a bundler can load it"
        )))
    }
}

/// The files a bundler's resolver names without any choice: a relative specifier, or one a
/// path alias turns into an absolute path, that names an existing file exactly (extension
/// included, no query). Vite's resolver returns that file, with symlinks resolved; asking it
/// costs a round trip through every plugin's `resolveId` and, for a walk, one more round per
/// level of the tree. Anything else (an extensionless path, a folder, a package, a query, an
/// alias outside the root, which Vite first tries under the root) is left to the bundler.
/// Hand-written rather than `oxc_resolver`: the point is to decide nothing a bundler could
/// decide differently, which a full resolver's probing would.
#[derive(Debug, Clone, Default)]
pub struct ExactFiles {
    root: String,
    /// The bundler's aliases, in its order (the first match wins).
    aliases: Vec<Alias>,
}

/// How an alias matches a specifier.
#[derive(Debug, Clone)]
pub enum AliasFind {
    /// The whole specifier, or its leading path segments (`@ui` matches `@ui/Card.astro`).
    Prefix(String),
    /// A regular expression (JavaScript's, for the simple patterns aliases use).
    Pattern(regex::Regex),
}

impl AliasFind {
    /// A JavaScript regular expression's `source` and `flags`; none when this crate's syntax
    /// cannot read it (lookaround, backreferences).
    pub fn pattern(source: &str, flags: Option<&str>) -> Option<Self> {
        // `g` and `y` change where a JS `test` starts, not what matches from the start.
        let flags: String = flags
            .unwrap_or_default()
            .chars()
            .filter(|f| matches!(f, 'i' | 'm' | 's'))
            .collect();
        let source = if flags.is_empty() {
            source.to_string()
        } else {
            format!("(?{flags}){source}")
        };
        regex::Regex::new(&source).ok().map(AliasFind::Pattern)
    }
}

/// One alias of the bundler. A specifier it matches is resolved here only when `replacement` is
/// a path (absolute, after replacing a `Prefix`); otherwise (a package, a pattern, an alias with
/// its own resolver: `None`) it is left to the bundler.
#[derive(Debug, Clone)]
pub struct Alias {
    pub find: AliasFind,
    pub replacement: Option<String>,
}

impl ExactFiles {
    /// For the project at `root`, with the bundler's aliases in its order.
    pub fn new(root: &str, aliases: Vec<Alias>) -> Self {
        ExactFiles {
            root: crate::component::normalize(root),
            aliases,
        }
    }

    /// The file `specifier` names from `importer`, when it is one of those (see the type).
    pub fn resolve(&self, specifier: &str, importer: &str) -> Option<Resolution> {
        if specifier.contains(['?', '#', '\0', '\\']) || !importer.starts_with('/') {
            return None;
        }
        let alias = self.aliases.iter().find(|alias| match &alias.find {
            AliasFind::Prefix(find) => specifier
                .strip_prefix(find.as_str())
                .is_some_and(|rest| rest.is_empty() || rest.starts_with('/')),
            AliasFind::Pattern(pattern) => pattern.is_match(specifier),
        });
        let target = match alias {
            Some(Alias {
                find: AliasFind::Prefix(find),
                replacement: Some(replacement),
            }) => {
                let target = format!("{replacement}{}", &specifier[find.len()..]);
                // Vite tries a `/…` id under the root first: only a target inside it is certain.
                if !target.starts_with(&format!("{}/", self.root)) {
                    return None;
                }
                target
            }
            Some(_) => return None,
            None if specifier.starts_with("./") || specifier.starts_with("../") => {
                let folder = Path::new(importer).parent()?;
                folder.join(specifier).to_string_lossy().into_owned()
            }
            None => return None,
        };
        let named = Path::new(&target);
        // The last segment must carry an extension: `./Card` may be `Card.astro` or `Card/`.
        named.extension()?;
        let real = std::fs::canonicalize(named).ok()?;
        if !real.is_file() || !is_followed(&real) {
            return None;
        }
        Some(Resolution::Module(crate::component::normalize(
            &real.to_string_lossy(),
        )))
    }
}

/// Whether a resolved file is one the walk reads: components and JS/TS modules.
fn is_followed(path: &Path) -> bool {
    let name = path.to_string_lossy();
    crate::dialect::dialect_for(&name).is_some() && !name.ends_with(".d.ts")
}

/// Whether a specifier names a package (not a path).
pub fn is_package(specifier: &str) -> bool {
    !(specifier.starts_with("./")
        || specifier.starts_with("../")
        || specifier == "."
        || specifier == ".."
        || specifier.starts_with('/'))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn project(files: &[(&str, &str)]) -> PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "astro-hoist-resolve-{}-{}",
            std::process::id(),
            files.len()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        for (name, text) in files {
            let path = dir.join(name);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, text).unwrap();
        }
        dir.canonicalize().unwrap()
    }

    #[test]
    fn relative_alias_tsconfig_packages_and_root_relative() {
        let root = project(&[
            (
                "tsconfig.json",
                r#"{ "extends": "./base.json", // a comment
  "compilerOptions": { "paths": { "@/*": ["src/*"], } } }"#,
            ),
            ("base.json", r#"{ "compilerOptions": { "baseUrl": "." } }"#),
            ("src/pages/index.astro", ""),
            ("src/components/Card.astro", ""),
            ("src/lib/db.ts", ""),
            ("src/ui/index.ts", ""),
            (
                "node_modules/kit/package.json",
                r#"{ "name": "kit", "exports": { "./Badge.astro": "./dist/Badge.astro", ".": "./dist/index.js" } }"#,
            ),
            ("node_modules/kit/dist/Badge.astro", ""),
            ("node_modules/kit/dist/index.js", ""),
            ("node_modules/kit/dist/style.css", ""),
        ]);
        let page = root.join("src/pages/index.astro");
        let host = DiskHost::new(&root, &[("~w".into(), "src/components".into())]);
        let r = |spec: &str| host.resolve(spec, &page.to_string_lossy()).unwrap();
        let module = |rel: &str| Resolution::Module(root.join(rel).to_string_lossy().into_owned());
        assert_eq!(
            r("../components/Card.astro"),
            module("src/components/Card.astro")
        );
        assert_eq!(r("../lib/db.js"), module("src/lib/db.ts"));
        assert_eq!(r("../ui"), module("src/ui/index.ts"));
        assert_eq!(
            r("@/components/Card.astro"),
            module("src/components/Card.astro")
        );
        assert_eq!(r("~w/Card.astro"), module("src/components/Card.astro"));
        assert_eq!(
            r("/src/components/Card.astro"),
            module("src/components/Card.astro")
        );
        assert_eq!(
            r("kit/Badge.astro"),
            module("node_modules/kit/dist/Badge.astro")
        );
        assert_eq!(r("kit"), module("node_modules/kit/dist/index.js"));
        assert_eq!(r("node:fs"), Resolution::External);
        assert_eq!(r("astro:content"), Resolution::External);
        assert_eq!(r("../components/Gone.astro"), Resolution::Missing);
        assert_eq!(r("not-installed"), Resolution::Missing);
        std::fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn exact_files_are_only_the_certain_ones() {
        let root = project(&[
            ("src/pages/index.astro", ""),
            ("src/components/Card.astro", ""),
            ("src/components/index.ts", ""),
            ("src/components/card.css", ""),
            ("src/uix/Card.astro", ""),
            ("src/other/Card.astro", ""),
            ("outside/Card.astro", ""),
        ]);
        std::os::unix::fs::symlink(root.join("src/components"), root.join("src/linked")).unwrap();
        let at = |rel: &str| root.join(rel).to_string_lossy().into_owned();
        let aliases = vec![
            Alias {
                find: AliasFind::pattern("^astro$", None).unwrap(),
                replacement: Some(at("node_modules/astro/index.js")),
            },
            Alias {
                find: AliasFind::Prefix("@ui".into()),
                replacement: Some(at("src/components")),
            },
            Alias {
                find: AliasFind::Prefix("@out".into()),
                replacement: Some(root.join("../").to_string_lossy().into_owned()),
            },
            Alias {
                find: AliasFind::Prefix("@pkg".into()),
                replacement: None,
            },
            Alias {
                find: AliasFind::pattern("^\\.\\./OTHER/", Some("gi")).unwrap(),
                replacement: None,
            },
        ];
        let exact = ExactFiles::new(&root.to_string_lossy(), aliases);
        let page = at("src/pages/index.astro");
        let r = |spec: &str| exact.resolve(spec, &page);
        let module = |rel: &str| Some(Resolution::Module(at(rel)));
        assert_eq!(
            r("../components/Card.astro"),
            module("src/components/Card.astro")
        );
        assert_eq!(
            r("./../components/./Card.astro"),
            module("src/components/Card.astro")
        );
        assert_eq!(r("@ui/Card.astro"), module("src/components/Card.astro"));
        assert_eq!(
            r("../linked/Card.astro"),
            module("src/components/Card.astro")
        );
        // Left to the bundler: a choice it makes, or a file it may not take as it is.
        assert_eq!(r("../components/Card"), None, "no extension");
        assert_eq!(r("../components"), None, "a folder");
        assert_eq!(r("../components/index"), None);
        assert_eq!(r("../components/Card.astro?raw"), None, "a query");
        assert_eq!(
            r("../components/card.css"),
            None,
            "not a module the walk reads"
        );
        assert_eq!(
            r("../components/Gone.astro"),
            None,
            "missing: the bundler says so"
        );
        assert_eq!(r("@uix/Card.astro"), None, "@ui is not a prefix of @uix");
        assert_eq!(r("@out/outside/Card.astro"), None, "outside the root");
        assert_eq!(r("@pkg/Card.astro"), None, "an alias to a package");
        assert_eq!(
            r("../other/Card.astro"),
            None,
            "a pattern alias (i) matched first"
        );
        assert_eq!(r("astro"), None);
        assert_eq!(r("kit/Card.astro"), None, "a package");
        assert_eq!(exact.resolve("./Card.astro", "\0virtual:x"), None);
        assert!(
            AliasFind::pattern("(?<=a)b", None).is_none(),
            "lookbehind is not read here"
        );
        std::fs::remove_dir_all(&root).unwrap();
    }
}

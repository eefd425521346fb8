//! The native core of astro-hoist.
//!
//! Astro renders a child component only after its parent's frontmatter has finished, so data
//! fetched at each level of nesting adds up to a waterfall. astro-hoist lets components
//! export a `loader` and starts every descendant's loader in one batch when a page request
//! arrives. This crate is the analysis behind it: it splits an `.astro` file into frontmatter
//! and template, parses the frontmatter (or a JS/TS module) with swc, finds the loader and
//! what it reads, lists imports, re-exports and template usages, and reports problems as
//! diagnostics with file positions. It knows nothing of Node; the `astro-hoist` crate (the
//! repository root) is the thin napi layer on top.
//!
//! ```
//! use astro_hoist_core::{analyze_component, AnalyzeOptions};
//!
//! let source = "---\nimport Card from './Card.astro';\nimport { db } from '../db';\n\
//!               export const loader = async ({ params }) => db.post(params.slug);\n---\n\
//!               <Card />";
//! let info = analyze_component(source, "/site/src/pages/post.astro", &AnalyzeOptions {
//!     root: Some("/site".into()),
//! });
//! let loader = info.loader.unwrap();
//! assert!(loader.hoistable);
//! assert_eq!(loader.reads.imports, ["db"]);
//! assert_eq!(loader.reads.context, ["params"]);
//! assert_eq!(info.usages[0].source.as_deref(), Some("./Card.astro"));
//! ```

pub mod awaits;
pub mod cache;
pub mod component;
pub mod dataflow;
pub mod diagnostic;
pub mod dialect;
pub mod extract;
pub mod flow;
pub mod frontmatter;
pub mod graph;
pub mod loader;
pub mod plan;
pub mod pool;
pub mod position;
pub mod prescan;
pub mod record;
pub mod resolve;
pub mod scan;
pub mod schedule;
pub mod scope;
pub mod script;
pub mod template;
pub mod trust;

pub use component::{
    analyze_component, component_id, AnalyzeOptions, ComponentInfo, ComponentKind,
};
pub use diagnostic::{Diagnostic, Severity};

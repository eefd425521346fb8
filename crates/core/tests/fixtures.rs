//! Fixture tests: every `tests/fixtures/<case>/input.*` is analyzed with the fixtures folder
//! as root, and the whole analysis is compared with its snapshot in `tests/snapshots/`.
//! Review new or changed snapshots with `cargo insta review` (or `INSTA_UPDATE=always`).

use std::path::Path;

use astro_hoist_core::pool::analyze_path;
use astro_hoist_core::AnalyzeOptions;

#[test]
fn fixtures() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let options = AnalyzeOptions {
        root: Some(root.to_string_lossy().into_owned()),
    };
    insta::glob!("fixtures/*/input.*", |path| {
        let mut info = analyze_path(&path.to_string_lossy(), &options);
        // The absolute path differs per machine; the id (root-relative) does not.
        info.filename = path
            .strip_prefix(&root)
            .unwrap()
            .to_string_lossy()
            .replace('\\', "/");
        for d in &mut info.diagnostics {
            d.file = info.filename.clone();
        }
        insta::assert_json_snapshot!(info);
    });
}

#[test]
fn ids_are_stable_across_machines_and_separators() {
    use astro_hoist_core::component_id;
    let a = component_id("/home/a/site/src/pages/index.astro", Some("/home/a/site"));
    let b = component_id(
        "/srv/build/site/src/pages/index.astro",
        Some("/srv/build/site/"),
    );
    let c = component_id(r"C:\work\site\src\pages\index.astro", Some(r"C:\work\site"));
    let d = component_id(
        "/srv/site/src/components/../pages/./index.astro",
        Some("/srv/site"),
    );
    assert_eq!(a.len(), 16);
    assert!(a.chars().all(|ch| ch.is_ascii_hexdigit()));
    assert_eq!(a, b);
    assert_eq!(a, c);
    assert_eq!(a, d);
    assert_ne!(
        a,
        component_id("/home/a/site/src/pages/about.astro", Some("/home/a/site"))
    );
    // The id is blake3 of the root-relative path.
    assert_eq!(a, blake3::hash(b"src/pages/index.astro").to_hex()[..16]);
}

#[test]
fn hash_is_blake3_of_the_content() {
    let info = astro_hoist_core::analyze_component("<p/>", "a.astro", &AnalyzeOptions::default());
    assert_eq!(info.hash, blake3::hash(b"<p/>").to_hex().to_string());
}

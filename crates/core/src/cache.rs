//! A content-hash cache of analyses, in memory and optionally on disk.
//!
//! The key is blake3 over the file name, the project root and the content, so an unchanged
//! file is never analyzed twice — whether it comes through `analyzeComponent`,
//! `analyzeComponents` or `scanProject` — and a one-byte change is a miss. The disk form is
//! one JSON file per cache directory, versioned by the crate version, written to a temporary
//! file and renamed into place so a reader never sees half a file and two writers never mix;
//! a corrupt, truncated or foreign file is ignored and replaced on the next write. An entry read
//! from disk is used only once [`crate::trust::consistent`] has checked it against the source:
//! the cache directory may come from anywhere (a CI cache restored across branches).

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};

use parking_lot::Mutex;
use serde::{Deserialize, Serialize};

use crate::component::{analyze_component, AnalyzeOptions, ComponentInfo};

/// A cache key: blake3 over file name, root and content.
pub type Key = [u8; 32];

/// Entries kept in memory before the cache starts over; bounds memory in a long-lived dev
/// server that sees many versions of many files.
const MAX_ENTRIES: usize = 100_000;

/// Name of the cache file inside a cache directory.
const FILE_NAME: &str = "analysis.json";

/// Version tag of the disk format: a different addon version never reads another's entries.
/// The suffix changes with what an analysis holds (`-2`: a loader's `cache` option and the
/// `unsafe-loader-cache` error, which an older entry would lack).
pub const FORMAT: &str = concat!("astro-hoist-", env!("CARGO_PKG_VERSION"), "-4");

/// How a lookup went.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CacheStats {
    pub hits: u64,
    pub misses: u64,
}

/// The cache. One process-wide instance, [`global`], serves every entry point.
#[derive(Default)]
pub struct AnalysisCache {
    entries: Mutex<HashMap<Key, Entry>>,
    hits: AtomicU64,
    misses: AtomicU64,
}

#[derive(Serialize, Deserialize)]
struct DiskFile {
    format: String,
    /// Hex key -> analysis.
    entries: HashMap<String, ComponentInfo>,
}

/// One cached analysis, and whether this process made it (or checked it against its source).
#[derive(Clone)]
struct Entry {
    info: Arc<ComponentInfo>,
    trusted: bool,
}

/// The process-wide cache.
pub fn global() -> &'static AnalysisCache {
    static CACHE: OnceLock<AnalysisCache> = OnceLock::new();
    CACHE.get_or_init(AnalysisCache::default)
}

/// The key of one analysis.
pub fn key(source: &str, filename: &str, options: &AnalyzeOptions) -> Key {
    // Normalized, so `/site/` and `/site` (or `\\`-separated paths) share entries: they give
    // the same analysis.
    let mut hasher = blake3::Hasher::new();
    hasher.update(crate::component::normalize(filename).as_bytes());
    hasher.update(&[0]);
    hasher.update(crate::component::normalize(options.root.as_deref().unwrap_or("")).as_bytes());
    hasher.update(&[0]);
    hasher.update(source.as_bytes());
    *hasher.finalize().as_bytes()
}

impl AnalysisCache {
    /// The analysis of `source`, from the cache or freshly made (and then cached).
    pub fn analyze(
        &self,
        source: &str,
        filename: &str,
        options: &AnalyzeOptions,
    ) -> (ComponentInfo, Key, bool) {
        let key = key(source, filename, options);
        let found = self.entries.lock().get(&key).cloned();
        if let Some(hit) = found {
            if hit.trusted
                || crate::trust::consistent(&hit.info, source, filename, options.root.as_deref())
            {
                if !hit.trusted {
                    // Checked now: trusted from here on (in place, no copy of the analysis).
                    if let Some(entry) = self.entries.lock().get_mut(&key) {
                        if Arc::ptr_eq(&entry.info, &hit.info) {
                            entry.trusted = true;
                        }
                    }
                }
                self.hits.fetch_add(1, Ordering::Relaxed);
                return ((*hit.info).clone(), key, true);
            }
        }
        self.misses.fetch_add(1, Ordering::Relaxed);
        let info = analyze_component(source, filename, options);
        self.insert(key, info.clone(), true);
        (info, key, false)
    }

    fn insert(&self, key: Key, info: ComponentInfo, trusted: bool) {
        let mut entries = self.entries.lock();
        if entries.len() >= MAX_ENTRIES {
            entries.clear();
        }
        entries.insert(
            key,
            Entry {
                info: Arc::new(info),
                trusted,
            },
        );
    }

    /// Hits and misses since the process started.
    pub fn stats(&self) -> CacheStats {
        CacheStats {
            hits: self.hits.load(Ordering::Relaxed),
            misses: self.misses.load(Ordering::Relaxed),
        }
    }

    /// How many analyses are held in memory.
    pub fn len(&self) -> usize {
        self.entries.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Forgets every in-memory entry (the disk file is untouched).
    pub fn clear(&self) {
        self.entries.lock().clear();
    }

    /// Loads a cache directory's entries into memory. Returns how many were loaded; a missing,
    /// corrupt, truncated or other-version file loads nothing.
    pub fn load_dir(&self, dir: &Path) -> usize {
        let Ok(text) = std::fs::read_to_string(dir.join(FILE_NAME)) else {
            return 0;
        };
        let Ok(file) = serde_json::from_str::<DiskFile>(&text) else {
            return 0;
        };
        if file.format != FORMAT {
            return 0;
        }
        let mut loaded = 0;
        for (hex, info) in file.entries {
            if let Some(key) = parse_key(&hex) {
                // Never over a trusted entry: the process's own analysis stays.
                if self.entries.lock().get(&key).is_some_and(|e| e.trusted) {
                    continue;
                }
                self.insert(key, info, false);
                loaded += 1;
            }
        }
        loaded
    }

    /// Writes the entries for `keys` to the cache directory, atomically.
    pub fn save_dir(&self, dir: &Path, keys: &[Key]) -> std::io::Result<()> {
        let entries = {
            let map = self.entries.lock();
            keys.iter()
                .filter_map(|k| map.get(k).map(|e| (hex(k), (*e.info).clone())))
                .collect()
        };
        let file = DiskFile {
            format: FORMAT.to_string(),
            entries,
        };
        std::fs::create_dir_all(dir)?;
        let tmp = temp_path(dir);
        let result = (|| {
            let mut out = std::io::BufWriter::new(std::fs::File::create(&tmp)?);
            serde_json::to_writer(&mut out, &file)?;
            out.flush()?;
            out.get_ref().sync_all()?;
            std::fs::rename(&tmp, dir.join(FILE_NAME))
        })();
        if result.is_err() {
            let _ = std::fs::remove_file(&tmp);
        }
        result
    }
}

/// A temporary file name no other writer (thread or process) uses at the same time.
fn temp_path(dir: &Path) -> PathBuf {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    dir.join(format!(
        "{FILE_NAME}.{}.{n}.{nanos}.tmp",
        std::process::id()
    ))
}

fn hex(key: &Key) -> String {
    blake3::Hash::from_bytes(*key).to_hex().to_string()
}

fn parse_key(hex: &str) -> Option<Key> {
    blake3::Hash::from_hex(hex).ok().map(|h| *h.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts() -> AnalyzeOptions {
        AnalyzeOptions {
            root: Some("/site".into()),
        }
    }

    fn temp_dir(name: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("astro-hoist-cache-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        dir
    }

    #[test]
    fn hit_after_repeat_and_miss_after_one_byte_change() {
        let cache = AnalysisCache::default();
        let (a, _, hit) = cache.analyze("<Card/>", "/site/a.astro", &opts());
        assert!(!hit);
        let (b, _, hit) = cache.analyze("<Card/>", "/site/a.astro", &opts());
        assert!(hit);
        assert_eq!(a, b);
        let (_, _, hit) = cache.analyze("<Card />", "/site/a.astro", &opts());
        assert!(!hit);
        // The same root written differently is the same analysis.
        let other_root = AnalyzeOptions {
            root: Some("/site/".into()),
        };
        let (_, _, hit) = cache.analyze("<Card/>", "/site/a.astro", &other_root);
        assert!(hit);
        // Same content under another name is another analysis (its id differs).
        let (c, _, hit) = cache.analyze("<Card/>", "/site/b.astro", &opts());
        assert!(!hit);
        assert_ne!(a.id, c.id);
        assert_eq!(cache.stats(), CacheStats { hits: 2, misses: 3 });
    }

    #[test]
    fn disk_round_trip_and_bad_files() {
        let dir = temp_dir("disk");
        let cache = AnalysisCache::default();
        let (_, key, _) = cache.analyze(
            "---\nexport const loader = async () => 1;\n---\n<A/>",
            "/site/a.astro",
            &opts(),
        );
        cache.save_dir(&dir, &[key]).unwrap();

        let fresh = AnalysisCache::default();
        assert_eq!(fresh.load_dir(&dir), 1);
        let (info, _, hit) = fresh.analyze(
            "---\nexport const loader = async () => 1;\n---\n<A/>",
            "/site/a.astro",
            &opts(),
        );
        assert!(hit);
        assert!(info.loader.is_some());

        let path = dir.join(FILE_NAME);
        let full = std::fs::read(&path).unwrap();
        std::fs::write(&path, &full[..full.len() / 2]).unwrap();
        assert_eq!(AnalysisCache::default().load_dir(&dir), 0, "truncated");
        std::fs::write(&path, b"\x00\xffnot json").unwrap();
        assert_eq!(AnalysisCache::default().load_dir(&dir), 0, "corrupt");
        let other = String::from_utf8(full.clone())
            .unwrap()
            .replace(FORMAT, "astro-hoist-0.0.0-1");
        std::fs::write(&path, other).unwrap();
        assert_eq!(AnalysisCache::default().load_dir(&dir), 0, "other version");
        // The next save replaces the bad file.
        cache.save_dir(&dir, &[key]).unwrap();
        assert_eq!(AnalysisCache::default().load_dir(&dir), 1);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn concurrent_writers_leave_a_whole_file() {
        let dir = temp_dir("writers");
        let cache = Arc::new(AnalysisCache::default());
        let keys: Vec<Key> = (0..50)
            .map(|i| {
                cache
                    .analyze(&format!("<A{i}/>"), &format!("/site/{i}.astro"), &opts())
                    .1
            })
            .collect();
        let threads: Vec<_> = (0..8)
            .map(|t| {
                let cache = Arc::clone(&cache);
                let dir = dir.clone();
                let keys = keys[..(t + 1) * 5].to_vec();
                std::thread::spawn(move || {
                    for _ in 0..10 {
                        cache.save_dir(&dir, &keys).unwrap();
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        let loaded = AnalysisCache::default().load_dir(&dir);
        assert!((5..=40).contains(&loaded) && loaded % 5 == 0, "{loaded}");
        let leftovers = std::fs::read_dir(&dir).unwrap().count();
        assert_eq!(leftovers, 1, "no temporary files left behind");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_forged_disk_entry_is_checked_and_replaced() {
        let dir = temp_dir("forged");
        let source = "---\nimport { getLoaderData } from 'astro-hoist/runtime';\nimport { db } from '../lib/db';\nexport const loader = async () => db.get();\nconst d = await getLoaderData();\n---\n<p/>";
        let cache = AnalysisCache::default();
        let (info, key, _) = cache.analyze(source, "/site/a.astro", &opts());
        cache.save_dir(&dir, &[key]).unwrap();
        let path = dir.join(FILE_NAME);
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.contains("\"../lib/db\""));
        std::fs::write(&path, text.replace("\"../lib/db\"", "\"evil-package\"")).unwrap();

        let fresh = AnalysisCache::default();
        assert_eq!(fresh.load_dir(&dir), 1);
        let (checked, _, hit) = fresh.analyze(source, "/site/a.astro", &opts());
        assert!(!hit, "the forged entry is a miss");
        assert_eq!(
            checked, info,
            "analyzed again: nothing of the forgery is left"
        );
        let (_, _, hit) = fresh.analyze(source, "/site/a.astro", &opts());
        assert!(hit, "and the fresh analysis is cached");

        // An untouched entry is checked once, then trusted.
        cache.save_dir(&dir, &[key]).unwrap();
        let honest = AnalysisCache::default();
        honest.load_dir(&dir);
        let (_, _, hit) = honest.analyze(source, "/site/a.astro", &opts());
        assert!(hit);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

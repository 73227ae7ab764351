//! The Git cache's size cap: least recently used repositories go first,
//! one whose tree is in use never does, and an evicted one is fetched
//! again when needed.

use sluice::source::git::{ProgressEvent, cache_stats};
use sluice::source::{self, Options, SourceSpec};
use sluice_testkit::git::server;
use std::path::Path;
use std::sync::Mutex;
use std::sync::atomic::AtomicBool;

fn spec(repo: &str) -> SourceSpec {
    SourceSpec {
        repo: repo.to_string(),
        revision: "main".into(),
        recurse_submodules: false,
    }
}

fn opts(cache: &Path, max: u64) -> Options {
    Options {
        cache_dir: cache.to_path_buf(),
        max_cache_size: max,
        ..Options::default()
    }
}

/// Cached repositories (directory names) under `cache`.
fn cached(cache: &Path) -> usize {
    source::git::Cached::list(cache).len()
}

#[test]
fn least_recently_used_repositories_are_evicted_never_one_in_use() {
    let s = server();
    for n in ["cap-a", "cap-b", "cap-c"] {
        let f = s.create(n, "echo x > x && git add x && git commit -qm x");
        f.add_many_files("data", 300);
    }
    let tmp = tempfile::tempdir().expect("tempdir");
    let cache = tmp.path().join("cache");
    let unlimited = opts(&cache, 0);
    // a, then b: a is the least recently used.
    for n in ["cap-a", "cap-b"] {
        drop(source::resolve(&spec(&s.http_url(n)), &unlimited).expect("resolve"));
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let sizes: Vec<u64> = source::git::Cached::list(&cache)
        .iter()
        .map(|c| c.size)
        .collect();
    assert_eq!(sizes.len(), 2);
    let one = sizes.iter().copied().max().expect("size");
    // Room for two repositories: fetching c evicts a, keeps b and c.
    let cap = opts(&cache, 2 * one + one / 2);
    let events = Mutex::new(Vec::new());
    let sink = |e: &ProgressEvent| events.lock().expect("lock").push(e.clone());
    let before = cache_stats();
    let c = source::resolve_with(
        &spec(&s.http_url("cap-c")),
        &cap,
        &sink,
        &AtomicBool::new(false),
    )
    .expect("resolve c");
    assert_eq!(cached(&cache), 2);
    let evicted = events.lock().expect("lock").iter().find_map(|e| match e {
        ProgressEvent::CacheTrimmed { evicted, freed, .. } => Some((*evicted, *freed)),
        _ => None,
    });
    assert!(matches!(evicted, Some((1, f)) if f > 0), "{evicted:?}");
    let after = cache_stats();
    assert!(after.evictions > before.evictions);
    // b is still there: resolving it fetches nothing.
    let b = source::resolve(&spec(&s.http_url("cap-b")), &cap).expect("resolve b");
    assert!(!b.fetched, "b was kept");
    drop(b);
    std::thread::sleep(std::time::Duration::from_millis(50));

    // A cap of one byte with c's tree still held: c (in use) stays, and
    // so does the repository just resolved (its tree is held too).
    let tiny = opts(&cache, 1);
    let a = source::resolve(&spec(&s.http_url("cap-a")), &tiny).expect("resolve a again");
    assert!(a.fetched, "a was evicted, so it is fetched again");
    assert_eq!(a.tree.read("x").expect("read"), b"x\n");
    assert_eq!(c.tree.read("x").expect("c still readable"), b"x\n");
    assert_eq!(cached(&cache), 2, "only b, not in use, was evicted");
    drop((a, c));
    // Nothing in use any more: the next resolve trims to that one.
    let b = source::resolve(&spec(&s.http_url("cap-b")), &tiny).expect("resolve b");
    assert_eq!(cached(&cache), 1);
    assert_eq!(b.tree.read("x").expect("read"), b"x\n");
}

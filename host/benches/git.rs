//! Git source benchmarks against the peer, `git` itself, on loopback HTTP
//! (servers from `sluice_testkit::git`). Prints medians and ratios:
//!
//! 1. refresh when nothing changed: `source::resolve` (ls-refs, commit
//!    already cached) vs `git fetch` into a bare clone;
//! 2. first shallow fetch of a 20,000-file repository: `source::resolve`
//!    into an empty cache vs `git clone --depth 1 --bare`;
//! 3. reading every file of a 5,000-file app path through the Git tree vs
//!    through a `DirTree` over a checkout.
//!
//! Run with `bench/git.sh` or `cargo bench -p sluice --bench git`.

use sluice::source::{self, DirTree, EntryKind, Options, SourceSpec, Tree};
use sluice_testkit::git::server;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn time<T>(n: usize, mut f: impl FnMut() -> T) -> Duration {
    median(
        (0..n)
            .map(|_| {
                let t = Instant::now();
                std::hint::black_box(f());
                t.elapsed()
            })
            .collect(),
    )
}

fn git(dir: &Path, args: &[&str]) {
    let ok = Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .status()
        .expect("run git")
        .success();
    assert!(ok, "git {args:?}");
}

fn read_all(t: &dyn Tree, dir: &str) -> usize {
    let mut bytes = 0;
    for e in t.list(dir).expect("list") {
        let p = if dir.is_empty() {
            e.name
        } else {
            format!("{dir}/{}", e.name)
        };
        bytes += match e.kind {
            EntryKind::Directory => read_all(t, &p),
            _ => t.read(&p).expect("read").len(),
        };
    }
    bytes
}

fn report(name: &str, ours: Duration, peer_name: &str, peer: Duration) {
    println!(
        "{name:<44} sluice {:>9.2} ms   {peer_name:<30} {:>9.2} ms   ratio (peer/sluice) {:>6.2}x",
        ours.as_secs_f64() * 1e3,
        peer.as_secs_f64() * 1e3,
        peer.as_secs_f64() / ours.as_secs_f64()
    );
}

fn main() {
    let s = server();
    let work = tempfile::tempdir().expect("tempdir");
    let opts = |dir: &str| Options {
        cache_dir: work.path().join(dir),
        ..Options::default()
    };
    let root = work.path();

    // 1. Refresh when nothing changed.
    let small = s.create("bench-small", "echo a > a && git add a && git commit -qm a");
    small.add_many_files("app", 100);
    let url = s.http_url("bench-small");
    let spec = SourceSpec {
        repo: url.clone(),
        revision: "main".into(),
        recurse_submodules: false,
    };
    let o = opts("refresh");
    source::resolve(&spec, &o).expect("warm");
    let ours = time(50, || {
        let r = source::resolve(&spec, &o).expect("refresh");
        assert!(!r.fetched);
    });
    git(root, &["clone", "-q", "--bare", &url, "peer-refresh.git"]);
    let peer_dir = root.join("peer-refresh.git");
    let peer = time(50, || {
        git(
            &peer_dir,
            &["fetch", "-q", "origin", "+refs/heads/*:refs/heads/*"],
        )
    });
    report(
        "refresh, remote unchanged (median of 50)",
        ours,
        "git fetch",
        peer,
    );

    for (kind, url) in [
        ("git://", s.git_url("bench-small")),
        ("file://", s.file_url("bench-small")),
    ] {
        let spec = SourceSpec {
            repo: url,
            revision: "main".into(),
            recurse_submodules: false,
        };
        let o = opts(&format!("refresh-{}", kind.trim_end_matches("://")));
        source::resolve(&spec, &o).expect("warm");
        let t = time(50, || source::resolve(&spec, &o).expect("refresh"));
        println!(
            "  (for reference: refresh over {kind:<8} sluice {:>9.2} ms)",
            t.as_secs_f64() * 1e3
        );
    }

    // 2. First shallow fetch of 20,000 files.
    let big = s.create(
        "bench-big",
        "echo r > README && git add README && git commit -qm r",
    );
    big.add_many_files("apps", 20_000);
    let url = s.http_url("bench-big");
    let spec = SourceSpec {
        repo: url.clone(),
        revision: "main".into(),
        recurse_submodules: false,
    };
    let mut i = 0;
    let ours = time(5, || {
        i += 1;
        source::resolve(&spec, &opts(&format!("big-{i}"))).expect("first fetch")
    });
    let mut j = 0;
    let peer = time(5, || {
        j += 1;
        git(
            root,
            &[
                "clone",
                "-q",
                "--depth",
                "1",
                "--bare",
                &url,
                &format!("peer-big-{j}.git"),
            ],
        )
    });
    report(
        "first shallow fetch, 20,000 files (median of 5)",
        ours,
        "git clone --depth 1 --bare",
        peer,
    );

    // 3. Reading 5,000 files under an app path.
    let app = s.create(
        "bench-app",
        "echo r > README && git add README && git commit -qm r",
    );
    app.add_many_files("app", 5_000);
    let spec = SourceSpec {
        repo: s.http_url("bench-app"),
        revision: "main".into(),
        recurse_submodules: false,
    };
    let o = opts("app");
    source::resolve(&spec, &o).expect("fetch");
    git(
        root,
        &[
            "clone",
            "-q",
            "--depth",
            "1",
            &s.http_url("bench-app"),
            "checkout",
        ],
    );
    let dir = DirTree::new(root.join("checkout")).expect("checkout");
    let expected = read_all(&dir, "app");
    // A fresh tree each run, so nothing decoded is reused between runs.
    let ours = median(
        (0..10)
            .map(|_| {
                let r = source::resolve(&spec, &o).expect("resolve");
                let t = Instant::now();
                assert_eq!(read_all(r.tree.as_ref(), "app"), expected);
                t.elapsed()
            })
            .collect(),
    );
    let peer = time(10, || assert_eq!(read_all(&dir, "app"), expected));
    report(
        "read 5,000 files of an app path (median of 10)",
        ours,
        "DirTree over a checkout",
        peer,
    );
}

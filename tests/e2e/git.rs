//! Git sources end to end: every URL kind and revision kind, auth, history
//! rewrites, concurrency, cache recovery and tree safety, against the real
//! servers of `sluice_testkit::git` on 127.0.0.1.

mod cache_cap;
mod https;
mod submodules;
mod verify;

use sluice::source::git::{CacheError, CredentialEntry, Credentials, Secret, SshOptions};
use sluice::source::{self, DirTree, Options, SourceError, SourceSpec, Tree, TreeError};
use sluice_testkit::git::{Fixture, HttpMode, PASSWORD, TOKEN, USER, server};
use std::path::Path;
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

fn opts(cache: &Path) -> Options {
    let ssh = server().ssh();
    Options {
        cache_dir: cache.to_path_buf(),
        ssh: SshOptions {
            private_key: Some(ssh.private_key.clone()),
            known_hosts: Some(ssh.known_hosts.clone()),
            strict_host_key_checking: true,
            config_file: Some(ssh.config.clone()),
        },
        ..Options::default()
    }
}

fn spec(repo: &str, revision: &str) -> SourceSpec {
    SourceSpec {
        repo: repo.to_string(),
        revision: revision.to_string(),
        recurse_submodules: false,
    }
}

fn read(r: &source::Resolved, path: &str) -> String {
    String::from_utf8(r.tree.read(path).expect("read")).expect("utf-8")
}

fn app_repo(name: &str) -> Fixture {
    server().create(
        name,
        "mkdir -p app && echo 'kind: ConfigMap' > app/a.yaml && git add -A && git commit -qm one\n\
         echo 'kind: Secret' > app/b.yaml && git add -A && git commit -qm two",
    )
}

#[test]
fn every_url_kind_resolves_the_same_commit() {
    let f = app_repo("kinds");
    let s = server();
    let want = f.rev("main");
    let urls = [
        s.http_url("kinds"),
        s.git_url("kinds"),
        s.ssh_url("kinds"),
        s.scp_url("kinds"),
        s.file_url("kinds"),
        s.path("kinds").display().to_string(),
    ];
    for url in urls {
        let cache = tempfile::tempdir().expect("tempdir");
        let r = source::resolve(&spec(&url, "main"), &opts(cache.path()))
            .unwrap_or_else(|e| panic!("{url}: {e}"));
        assert_eq!(r.commit, want, "{url}");
        assert_eq!(r.ref_name.as_deref(), Some("refs/heads/main"), "{url}");
        assert!(r.fetched, "{url}: first resolve fetches");
        assert_eq!(read(&r, "app/a.yaml"), "kind: ConfigMap\n", "{url}");
        assert!(r.tree.describe().contains(&want), "{url}");
    }
}

fn tagged_repo(name: &str) -> Fixture {
    let f = server().create(name, "echo 0 > v && git add v && git commit -qm c0");
    let mut ids = Vec::new();
    for (i, tag) in [
        "v1.2.0",
        "v1.4.3",
        "1.4.7",
        "v2.0.0",
        "v2.3.1",
        "v3.0.0-rc.1",
    ]
    .iter()
    .enumerate()
    {
        ids.push(f.commit_files(&format!("c{}", i + 1), &[("v", tag)]));
        f.tag(tag, "HEAD", i % 2 == 1);
    }
    f.commit_files("tip", &[("v", "tip")]);
    f.git(&["checkout", "-q", "-b", "feature", "HEAD~2"]);
    f.commit_files("feature", &[("v", "feature")]);
    f.git(&["checkout", "-q", "main"]);
    f
}

#[test]
fn every_revision_kind_resolves_and_names_its_ref() {
    let f = tagged_repo("revs");
    let url = server().http_url("revs");
    let cache = tempfile::tempdir().expect("tempdir");
    let o = opts(cache.path());
    let cases: Vec<(String, &str, Option<&str>)> = vec![
        ("main".into(), "tip", Some("refs/heads/main")),
        ("HEAD".into(), "tip", Some("refs/heads/main")),
        ("feature".into(), "feature", Some("refs/heads/feature")),
        ("v1.2.0".into(), "v1.2.0", Some("refs/tags/v1.2.0")),
        ("v1.4.3".into(), "v1.4.3", Some("refs/tags/v1.4.3")),
        (">=1.2.0 <2".into(), "1.4.7", Some("refs/tags/1.4.7")),
        ("~1.4".into(), "1.4.7", Some("refs/tags/1.4.7")),
        ("^2".into(), "v2.3.1", Some("refs/tags/v2.3.1")),
        ("^v2".into(), "v2.3.1", Some("refs/tags/v2.3.1")),
        ("~v1.4.3, <1.4.5".into(), "v1.4.3", Some("refs/tags/v1.4.3")),
        (f.rev("v2.0.0"), "v2.0.0", Some("refs/tags/v2.0.0")),
        (
            f.rev("main~1"),
            "v3.0.0-rc.1",
            Some("refs/tags/v3.0.0-rc.1"),
        ),
        (
            f.rev("main~4")[..10].to_string(),
            "1.4.7",
            Some("refs/tags/1.4.7"),
        ),
        // Not a tip: an abbreviated id deepens the shallow cache; a full one
        // is fetched by id.
        (f.rev("main~7")[..7].to_string(), "0", None),
        (f.rev("main~7"), "0", None),
    ];
    for (rev, content, ref_name) in cases {
        let r = source::resolve(&spec(&url, &rev), &o).unwrap_or_else(|e| panic!("{rev}: {e}"));
        assert_eq!(read(&r, "v").trim(), content, "{rev}");
        assert_eq!(r.ref_name.as_deref(), ref_name, "{rev}");
    }
    let err = source::resolve(&spec(&url, "^4"), &o).expect_err("no v4");
    assert!(
        matches!(err, SourceError::NoMatchingTag { tags: 6, .. }),
        "{err}"
    );
    let err = source::resolve(&spec(&url, "nope"), &o).expect_err("no ref");
    assert!(
        matches!(err, SourceError::RefNotFound { .. }) && !err.is_retryable(),
        "{err}"
    );
    assert!(
        err.to_string().contains(&url) && err.to_string().contains("nope"),
        "{err}"
    );
    let err = source::resolve(&spec(&url, &"0".repeat(40)), &o).expect_err("no such commit");
    assert!(matches!(err, SourceError::CommitNotFound { .. }), "{err}");
}

#[test]
fn unchanged_remote_takes_the_fast_path() {
    let f = app_repo("fast");
    let cache = tempfile::tempdir().expect("tempdir");
    let o = opts(cache.path());
    let url = server().http_url("fast");
    assert!(
        source::resolve(&spec(&url, "main"), &o)
            .expect("first")
            .fetched
    );
    let again = source::resolve(&spec(&url, "main"), &o).expect("again");
    assert!(!again.fetched, "nothing changed: no fetch");
    let c = f.commit_files("three", &[("app/c.yaml", "c")]);
    let moved = source::resolve(&spec(&url, "main"), &o).expect("moved");
    assert!(moved.fetched);
    assert_eq!(moved.commit, c);
    assert_eq!(read(&moved, "app/c.yaml"), "c");
}

fn creds(entry: CredentialEntry) -> Credentials {
    let mut c = Credentials::none();
    c.push(entry);
    c
}

#[test]
fn http_auth_by_url_prefix_and_no_secret_in_errors() {
    app_repo("private-auth");
    let s = server();
    let url = s.http_url("private-auth");
    let cache = tempfile::tempdir().expect("tempdir");
    let mut o = opts(cache.path());

    let err = source::resolve(&spec(&url, "main"), &o).expect_err("no credentials");
    assert!(
        matches!(err, SourceError::Authentication { .. }) && !err.is_retryable(),
        "{err}"
    );
    assert!(
        err.to_string().contains(&url) && err.to_string().contains("main"),
        "{err}"
    );

    // Credentials go over plain http:// only when allowed.
    o.credentials = creds(CredentialEntry {
        url_prefix: url.clone(),
        username: Some(USER.into()),
        password: Some(Secret::new(PASSWORD)),
        ..Default::default()
    });
    let err = source::resolve(&spec(&url, "main"), &o).expect_err("cleartext refused");
    assert!(
        err.to_string().contains("plain http://") && !err.to_string().contains(PASSWORD),
        "{err}"
    );
    o.allow_insecure_http_credentials = true;

    o.credentials = creds(CredentialEntry {
        url_prefix: format!(
            "http://127.0.0.1:{}/",
            url.split(':')
                .nth(2)
                .and_then(|p| p.split('/').next())
                .unwrap_or("")
        ),
        username: Some(USER.into()),
        password: Some(Secret::new("wrong-password-123")),
        ..CredentialEntry::default()
    });
    let err = source::resolve(&spec(&url, "main"), &o).expect_err("bad password");
    assert!(matches!(err, SourceError::Authentication { .. }), "{err}");
    assert!(
        !format!("{err} {err:?}").contains("wrong-password-123"),
        "{err:?}"
    );

    // The longer prefix wins over the wrong one above.
    let mut c = o.credentials.clone();
    c.push(CredentialEntry {
        url_prefix: url.clone(),
        username: Some(USER.into()),
        password: Some(Secret::new(PASSWORD)),
        ..Default::default()
    });
    o.credentials = c;
    let r = source::resolve(&spec(&url, "main"), &o).expect("basic auth");
    assert_eq!(read(&r, "app/a.yaml"), "kind: ConfigMap\n");

    let cache2 = tempfile::tempdir().expect("tempdir");
    let mut o2 = opts(cache2.path());
    o2.allow_insecure_http_credentials = true;
    o2.credentials = creds(CredentialEntry {
        url_prefix: url.clone(),
        token: Some(Secret::new(TOKEN)),
        ..Default::default()
    });
    source::resolve(&spec(&url, "main"), &o2).expect("bearer token");

    let cache3 = tempfile::tempdir().expect("tempdir");
    let embedded = url.replace("http://", &format!("http://{USER}:{PASSWORD}@"));
    let o3 = Options {
        allow_insecure_http_credentials: true,
        ..opts(cache3.path())
    };
    let r = source::resolve(&spec(&embedded, "main"), &o3).expect("password in URL");
    assert!(
        !r.url.contains(PASSWORD)
            && !format!("{r:?}").contains(PASSWORD)
            && !r.tree.describe().contains(PASSWORD)
    );

    // From a credentials file.
    let file = cache3.path().join("creds.yaml");
    std::fs::write(
        &file,
        format!("- urlPrefix: {url}\n  username: {USER}\n  password: {PASSWORD}\n"),
    )
    .expect("write");
    let cache4 = tempfile::tempdir().expect("tempdir");
    let mut o4 = opts(cache4.path());
    o4.allow_insecure_http_credentials = true;
    o4.credentials = Credentials::from_file(&file).expect("credentials file");
    source::resolve(&spec(&url, "v-none"), &o4).expect_err("missing ref, but authenticated");
    source::resolve(&spec(&url, "main"), &o4).expect("file credentials");
}

#[test]
fn ssh_host_keys_are_checked() {
    app_repo("hostkey");
    let s = server();
    let cache = tempfile::tempdir().expect("tempdir");
    let mut o = opts(cache.path());
    o.ssh.known_hosts = Some(s.ssh().wrong_known_hosts.clone());
    let err =
        source::resolve(&spec(&s.ssh_url("hostkey"), "main"), &o).expect_err("wrong host key");
    assert!(matches!(err, SourceError::HostKey { .. }), "{err}");
    let empty = cache.path().join("empty_known_hosts");
    std::fs::write(&empty, "").expect("write");
    o.ssh.known_hosts = Some(empty);
    let err =
        source::resolve(&spec(&s.scp_url("hostkey"), "main"), &o).expect_err("unknown host key");
    assert!(matches!(err, SourceError::HostKey { .. }), "{err}");
    o.ssh.known_hosts = Some(s.ssh().known_hosts.clone());
    source::resolve(&spec(&s.ssh_url("hostkey"), "main"), &o).expect("known host key");

    let stranger = cache.path().join("stranger_key");
    let made = std::process::Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-f"])
        .arg(&stranger)
        .status()
        .expect("ssh-keygen");
    assert!(made.success());
    let cache2 = tempfile::tempdir().expect("tempdir");
    let o2 = Options {
        ssh: SshOptions {
            private_key: Some(stranger),
            ..o.ssh.clone()
        },
        ..opts(cache2.path())
    };
    let err =
        source::resolve(&spec(&s.ssh_url("hostkey"), "main"), &o2).expect_err("key not authorised");
    assert!(matches!(err, SourceError::Authentication { .. }), "{err}");
}

#[test]
fn force_push_and_deleted_branch() {
    let f = app_repo("rewrite");
    f.git(&["branch", "doomed"]);
    f.push();
    let url = server().git_url("rewrite");
    let cache = tempfile::tempdir().expect("tempdir");
    let o = opts(cache.path());
    let before = source::resolve(&spec(&url, "main"), &o).expect("before");
    let new = f.force_push("main", "app/b.yaml", "kind: Rewritten\n");
    let after = source::resolve(&spec(&url, "main"), &o).expect("after force-push");
    assert_ne!(before.commit, after.commit);
    assert_eq!(after.commit, new);
    assert_eq!(read(&after, "app/b.yaml"), "kind: Rewritten\n");
    assert_eq!(
        read(&before, "app/b.yaml"),
        "kind: Secret\n",
        "an older tree stays readable"
    );

    source::resolve(&spec(&url, "doomed"), &o).expect("branch exists");
    f.delete_branch("doomed");
    let err = source::resolve(&spec(&url, "doomed"), &o).expect_err("deleted branch");
    assert!(matches!(err, SourceError::RefNotFound { .. }), "{err}");
    assert!(
        err.to_string().contains("doomed") && err.to_string().contains(&url),
        "{err}"
    );
    source::resolve(&spec(&url, "main"), &o).expect("cache still usable");
}

#[test]
fn concurrent_fetches_in_threads_share_one_cache() {
    let f = app_repo("threads");
    let url = server().http_url("threads");
    let cache = tempfile::tempdir().expect("tempdir");
    let o = opts(cache.path());
    let commits: Vec<String> = std::thread::scope(|s| {
        let hs: Vec<_> = (0..8)
            .map(|i| {
                let (o, url) = (&o, &url);
                s.spawn(move || {
                    source::resolve(&spec(url, if i % 2 == 0 { "main" } else { "HEAD" }), o)
                        .map(|r| r.commit)
                })
            })
            .collect();
        hs.into_iter()
            .map(|h| h.join().expect("join").expect("resolve"))
            .collect()
    });
    assert!(commits.iter().all(|c| *c == f.rev("main")), "{commits:?}");
}

/// Not a test on its own: the body of the two-process test, run in a child
/// process when `SLUICE_E2E_CHILD_CACHE` is set.
#[test]
fn child_process_resolve() {
    let (Ok(cache), Ok(url)) = (
        std::env::var("SLUICE_E2E_CHILD_CACHE"),
        std::env::var("SLUICE_E2E_CHILD_URL"),
    ) else {
        return;
    };
    let r = source::resolve(&spec(&url, "main"), &opts(Path::new(&cache))).expect("child resolve");
    println!("CHILD-COMMIT={}", r.commit);
}

#[test]
fn concurrent_fetches_in_two_processes() {
    let f = server().create("procs", "echo x > x && git add x && git commit -qm x");
    f.add_many_files("bulk", 3000);
    let url = server().http_url("procs");
    let cache = tempfile::tempdir().expect("tempdir");
    let exe = std::env::current_exe().expect("test binary");
    let children: Vec<_> = (0..2)
        .map(|_| {
            std::process::Command::new(&exe)
                .args([
                    "--exact",
                    "git::child_process_resolve",
                    "--nocapture",
                    "--test-threads=1",
                ])
                .env("SLUICE_E2E_CHILD_CACHE", cache.path())
                .env("SLUICE_E2E_CHILD_URL", &url)
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .expect("spawn child")
        })
        .collect();
    let want = format!("CHILD-COMMIT={}", f.rev("main"));
    for c in children {
        let out = c.wait_with_output().expect("child");
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success() && stdout.contains(&want),
            "{stdout}{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

fn cached_repo(cache: &Path) -> std::path::PathBuf {
    std::fs::read_dir(cache)
        .expect("cache dir")
        .flatten()
        .map(|e| e.path())
        .find(|p| p.is_dir())
        .expect("one cached repository")
}

#[test]
fn corrupt_cache_is_deleted_and_refetched() {
    let f = app_repo("corrupt");
    let url = server().http_url("corrupt");
    let cache = tempfile::tempdir().expect("tempdir");
    let o = opts(cache.path());
    source::resolve(&spec(&url, "main"), &o).expect("first");
    let repo = cached_repo(cache.path());
    // Garbage in every pack and index: objects unreadable.
    for e in std::fs::read_dir(repo.join("objects/pack"))
        .expect("packs")
        .flatten()
    {
        std::fs::write(e.path(), b"garbage").expect("corrupt");
    }
    let r = source::resolve(&spec(&url, "main"), &o).expect("recovered from corrupt packs");
    assert_eq!(
        (r.commit.as_str(), read(&r, "app/b.yaml").as_str()),
        (f.rev("main").as_str(), "kind: Secret\n")
    );
    // A broken repository layout: HEAD and config unreadable.
    std::fs::write(repo.join("HEAD"), b"\0\0not a ref").expect("corrupt");
    std::fs::write(repo.join("config"), b"[[[").expect("corrupt");
    // While a tree from the cache is in use, it is not deleted: the wipe
    // waits for the reader, and gives up naming the readers lock.
    let waiting = Options {
        lock_timeout: Duration::from_millis(500),
        ..opts(cache.path())
    };
    let err = source::resolve(&spec(&url, "main"), &waiting).expect_err("a reader holds it");
    assert!(
        err_chain(&err).contains(&format!(
            "lock file {} is held by a render still reading this repository",
            repo.with_extension("readers").display()
        )),
        "{}",
        err_chain(&err)
    );
    assert_eq!(read(&r, "app/b.yaml"), "kind: Secret\n", "still readable");
    drop(r);
    let r = source::resolve(&spec(&url, "main"), &o).expect("recovered from broken layout");
    assert_eq!(r.commit, f.rev("main"));
}

#[test]
fn symlinks_stay_inside_and_submodules_are_named() {
    let f = server().create(
        "links",
        "mkdir -p app shared bad loops long && echo shared > shared/s.yaml && echo a > app/a.yaml\n\
         ln -s a.yaml app/in.yaml && ln -s ../shared app/dir && ln -s nowhere app/dangling\n\
         ln -s ../../etc/passwd bad/out && ln -s /etc/passwd bad/abs\n\
         ln -s loop2 loops/loop1 && ln -s loop1 loops/loop2\n\
         git add -A && git commit -qm links\n\
         target=$(head -c 5000 /dev/zero | tr '\\0' a | git hash-object -w --stdin)\n\
         git update-index --add --cacheinfo 120000,$target,long/link\n\
         git update-index --add --cacheinfo 160000,0123456789abcdef0123456789abcdef01234567,app/vendor\n\
         printf '[submodule \"vendor\"]\\n\\tpath = app/vendor\\n\\turl = https://example.invalid/v.git\\n' > .gitmodules\n\
         git add .gitmodules && git commit -qm submodule",
    );
    let cache = tempfile::tempdir().expect("tempdir");
    let r = source::resolve(
        &spec(&server().file_url("links"), "main"),
        &opts(cache.path()),
    )
    .expect("resolve");
    assert_eq!(r.commit, f.rev("main"));
    let t = &r.tree;
    assert_eq!(t.read("app/in.yaml").expect("in"), b"a\n");
    assert_eq!(t.read("app/dir/s.yaml").expect("dir link"), b"shared\n");
    assert_eq!(
        t.read("bad/out"),
        Err(TreeError::OutsideRoot("bad/out".into()))
    );
    assert_eq!(
        t.read("bad/abs"),
        Err(TreeError::OutsideRoot("bad/abs".into()))
    );
    // A directory holding an escaping link does not list without it: the
    // listing fails, naming the link.
    assert_eq!(t.list("bad"), Err(TreeError::OutsideRoot("bad/abs".into())));
    assert_eq!(
        t.read("app/../../x"),
        Err(TreeError::OutsideRoot("app/../../x".into()))
    );
    assert!(matches!(t.read("loops/loop1"), Err(TreeError::Io(m)) if m.contains("symbolic links")));
    assert!(t.list("loops").is_err(), "a loop is not silently left out");
    // Link targets are read with a 4 KiB cap.
    assert_eq!(
        t.read("long/link"),
        Err(TreeError::Io(
            "long/link: symlink target longer than 4096 bytes".into()
        ))
    );
    let err = t.read("app/vendor/x.yaml").expect_err("inside a submodule");
    assert!(
        matches!(&err, TreeError::Unsupported(m) if m.contains("app/vendor") && m.contains("submodule")),
        "{err}"
    );
    assert!(matches!(
        t.list("app/vendor"),
        Err(TreeError::Unsupported(_))
    ));
    let names: Vec<(String, source::EntryKind)> = t
        .list("app")
        .expect("list")
        .into_iter()
        .map(|e| (e.name, e.kind))
        .collect();
    use source::EntryKind::*;
    assert_eq!(
        names,
        [
            ("a.yaml".into(), File),
            ("dir".into(), Directory),
            ("in.yaml".into(), File),
            ("vendor".into(), Submodule)
        ]
    );
    assert_eq!(t.stat("app/in.yaml").expect("stat").size, 2);
    assert_eq!(t.read("app"), Err(TreeError::IsDirectory("app".into())));
    assert_eq!(
        t.read("app/none"),
        Err(TreeError::NotFound("app/none".into()))
    );
}

fn count_files(t: &dyn source::Tree, dir: &str) -> usize {
    t.list(dir)
        .expect("list")
        .into_iter()
        .map(|e| {
            let p = if dir.is_empty() {
                e.name
            } else {
                format!("{dir}/{}", e.name)
            };
            if e.kind == source::EntryKind::Directory {
                count_files(t, &p)
            } else {
                1
            }
        })
        .sum()
}

#[test]
fn twenty_thousand_files() {
    let f = server().create(
        "big",
        "echo root > README && git add README && git commit -qm root",
    );
    let tip = f.add_many_files("apps", 20_000);
    let cache = tempfile::tempdir().expect("tempdir");
    let r = source::resolve(
        &spec(&server().http_url("big"), "main"),
        &opts(cache.path()),
    )
    .expect("resolve");
    assert_eq!(r.commit, tip);
    assert_eq!(count_files(r.tree.as_ref(), "apps"), 20_000);
    assert!(read(&r, "apps/d199/f19999.yaml").contains("cm-19999"));
}

#[test]
fn failures_are_classified() {
    let cache = tempfile::tempdir().expect("tempdir");
    let o = opts(cache.path());
    let err = source::resolve(&spec("http://127.0.0.1:1/nothing.git", "main"), &o)
        .expect_err("unreachable");
    assert!(
        matches!(err, SourceError::Unreachable { .. }) && err.is_retryable(),
        "{err:?}"
    );
    assert!(
        err.to_string().contains("http://127.0.0.1:1/nothing.git")
            && err.to_string().contains("main"),
        "{err}"
    );
    let err = source::resolve(&spec("ftp://x/y", "main"), &o).expect_err("bad scheme");
    assert!(
        matches!(err, SourceError::InvalidUrl { .. }) && !err.is_retryable(),
        "{err}"
    );
    let err = source::resolve(&spec(&server().http_url("missing-repo"), "main"), &o)
        .expect_err("no repo");
    assert!(
        !err.to_string().is_empty() && err.to_string().contains("missing-repo"),
        "{err}"
    );
    app_repo("interrupt");
    let stop = AtomicBool::new(true);
    let err = source::resolve_with(
        &spec(&server().http_url("interrupt"), "main"),
        &o,
        &source::git::LogProgress,
        &stop,
    )
    .expect_err("interrupted");
    assert!(matches!(err, SourceError::Interrupted { .. }), "{err}");
}

/// A repository with one incompressible 200 KB file, so its pack takes a
/// while to trickle and can exceed a small cap.
fn bulky_repo(name: &str) -> Fixture {
    server().create(
        name,
        "head -c 200000 /dev/urandom > blob && echo 'kind: ConfigMap' > a.yaml\n\
         git add -A && git commit -qm bulky",
    )
}

#[test]
fn deadline_cuts_a_stalling_server() {
    app_repo("stall");
    let s = server();
    let url = s.http_url("stall");
    s.set_http_mode("stall", HttpMode::Stall);
    let cache = tempfile::tempdir().expect("tempdir");
    let o = Options {
        fetch_timeout: Duration::from_secs(2),
        ..opts(cache.path())
    };
    let start = Instant::now();
    let err = source::resolve(&spec(&url, "main"), &o).expect_err("stalled");
    let took = start.elapsed();
    s.set_http_mode("stall", HttpMode::Normal);
    assert!(
        matches!(err, SourceError::DeadlineExceeded { .. }) && err.is_retryable(),
        "{err:?}"
    );
    assert!(took < Duration::from_secs(3), "took {took:?}");
    assert!(
        err.to_string()
            .contains(&format!("{url}@main: fetch did not finish within 2s")),
        "{err}"
    );
    source::resolve(&spec(&url, "main"), &o).expect("the server answers again");
}

#[test]
fn low_speed_limit_cuts_a_trickling_pack() {
    bulky_repo("trickle");
    let s = server();
    let url = s.http_url("trickle");
    s.set_http_mode(
        "trickle",
        HttpMode::Trickle {
            bytes: 64,
            every: Duration::from_millis(100),
        },
    );
    let cache = tempfile::tempdir().expect("tempdir");
    let o = Options {
        fetch_timeout: Duration::from_secs(60),
        low_speed_limit: 10_000,
        low_speed_time: Duration::from_secs(1),
        ..opts(cache.path())
    };
    let start = Instant::now();
    let err = source::resolve(&spec(&url, "main"), &o).expect_err("too slow");
    let took = start.elapsed();
    s.set_http_mode("trickle", HttpMode::Normal);
    assert!(matches!(err, SourceError::TooSlow { .. }), "{err:?}");
    assert!(took < Duration::from_secs(10), "took {took:?}");
    assert!(
        err.to_string()
            .contains("the server sent less than 10000 bytes/s for 1s"),
        "{err}"
    );
}

#[test]
fn pack_size_and_ref_count_are_capped() {
    let f = bulky_repo("bulky");
    for i in 0..12 {
        f.tag(&format!("t{i}"), "HEAD", false);
    }
    let cache = tempfile::tempdir().expect("tempdir");
    for url in [server().file_url("bulky"), server().http_url("bulky")] {
        let o = Options {
            max_pack_size: 50_000,
            ..opts(cache.path())
        };
        let err = source::resolve(&spec(&url, "main"), &o).expect_err("pack too large");
        assert!(
            err.to_string().contains(&format!(
                "{url}@main: the server sent a pack larger than 50000 bytes"
            )),
            "{err}"
        );
        let o = Options {
            max_refs: 10,
            ..opts(cache.path())
        };
        let err = source::resolve(&spec(&url, "main"), &o).expect_err("too many refs");
        assert!(
            err.to_string()
                .contains("the remote advertises 14 refs, more than the limit of 10"),
            "{err}"
        );
        source::resolve(&spec(&url, "main"), &opts(cache.path())).expect("within the defaults");
    }
}

#[test]
fn lock_wait_is_bounded_and_names_the_lock_file() {
    app_repo("locked");
    let url = server().http_url("locked");
    let cache = tempfile::tempdir().expect("tempdir");
    let o = Options {
        lock_timeout: Duration::from_millis(500),
        ..opts(cache.path())
    };
    source::resolve(&spec(&url, "main"), &o).expect("first");
    let lock_file = cached_repo(cache.path()).with_extension("lock");
    let held = std::fs::File::options()
        .write(true)
        .open(&lock_file)
        .expect("open lock file");
    held.lock().expect("hold the lock");
    let start = Instant::now();
    let err = source::resolve(&spec(&url, "main"), &o).expect_err("lock held");
    assert!(
        start.elapsed() < Duration::from_secs(2),
        "{:?}",
        start.elapsed()
    );
    assert!(
        matches!(&err, SourceError::Cache { source, .. } if matches!(**source, CacheError::LockTimeout { .. }))
            && err.is_retryable(),
        "{err:?}"
    );
    let chain = format!("{err}: {}", std::error::Error::source(&err).expect("cause"));
    assert!(
        chain.contains(&format!("lock file {} is held by", lock_file.display())),
        "{chain}"
    );
    drop(held);
    source::resolve(&spec(&url, "main"), &o).expect("lock released");
}

#[test]
fn an_http_500_leaves_the_cache_intact() {
    let f = app_repo("flaky");
    let s = server();
    let url = s.http_url("flaky");
    let cache = tempfile::tempdir().expect("tempdir");
    let o = opts(cache.path());
    let before = source::resolve(&spec(&url, "main"), &o).expect("first");
    f.commit_files("three", &[("app/c.yaml", "c")]);
    s.set_http_mode("flaky", HttpMode::Status(500));
    let err = source::resolve(&spec(&url, "main"), &o).expect_err("server error");
    s.set_http_mode("flaky", HttpMode::Normal);
    assert!(
        matches!(err, SourceError::HttpStatus { status: 500, .. }) && err.is_retryable(),
        "{err:?}"
    );
    assert!(
        err.to_string()
            .contains(&format!("{url}@main: the server answered HTTP 500")),
        "{err}"
    );
    // Not wiped: the commit fetched before is still in the cache, and the
    // tree resolved before still reads.
    let repo = cached_repo(cache.path());
    let out = std::process::Command::new("git")
        .arg("--git-dir")
        .arg(&repo)
        .args(["cat-file", "-e", &format!("{}^{{tree}}", before.commit)])
        .output()
        .expect("git cat-file");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(read(&before, "app/b.yaml"), "kind: Secret\n");
    let after = source::resolve(&spec(&url, "main"), &o).expect("the server is back");
    assert_eq!(read(&after, "app/c.yaml"), "c");
}

#[test]
fn credential_prefixes_match_whole_segments_and_the_port() {
    app_repo("private-boundary");
    let s = server();
    let url = s.http_url("private-boundary");
    let base = url.trim_end_matches("/private-boundary.git").to_string();
    let port: u16 = base
        .rsplit(':')
        .next()
        .and_then(|p| p.parse().ok())
        .expect("port");
    let with_prefix = |prefix: String| Options {
        credentials: creds(CredentialEntry {
            url_prefix: prefix,
            username: Some(USER.into()),
            password: Some(Secret::new(PASSWORD)),
            ..Default::default()
        }),
        allow_insecure_http_credentials: true,
        ..opts(tempfile::tempdir().expect("tempdir").keep().as_path())
    };
    for prefix in [
        format!("{base}/private"),
        format!("{base}/private-boundary.git.evil"),
        format!("http://127.0.0.1:{}/", port.wrapping_add(1)),
        format!("http://127.0.0.1.evil:{port}/"),
        format!("https://127.0.0.1:{port}/"),
    ] {
        let err = source::resolve(&spec(&url, "main"), &with_prefix(prefix.clone()))
            .expect_err("prefix must not match");
        assert!(
            err.to_string().contains(
                "authentication failed: the server asks for credentials and none are configured for this URL"
            ),
            "{prefix}: {err}"
        );
    }
    for prefix in [
        base.clone(),
        format!("{base}/"),
        format!("{base}/private-boundary"),
    ] {
        source::resolve(&spec(&url, "main"), &with_prefix(prefix.clone()))
            .unwrap_or_else(|e| panic!("{prefix}: {e}"));
    }
    // A password with URL delimiters in it, written in the URL: it parses,
    // and a failure never shows it.
    let odd = "pa/ss?w#rd@x";
    let embedded = url.replace("http://", &format!("http://{USER}:{odd}@"));
    let o = Options {
        allow_insecure_http_credentials: true,
        ..opts(tempfile::tempdir().expect("tempdir").keep().as_path())
    };
    let err = source::resolve(&spec(&embedded, "main"), &o).expect_err("wrong password");
    assert!(matches!(err, SourceError::Authentication { .. }), "{err:?}");
    let shown = format!("{err} {err:?} {}", err_chain(&err));
    assert!(!shown.contains("ss?w#rd"), "{shown}");
    assert!(
        shown.contains(&format!(
            "http://{USER}:***@127.0.0.1:{port}/private-boundary.git"
        )),
        "{shown}"
    );
}

fn err_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        out.push_str(": ");
        out.push_str(&c.to_string());
        cur = c.source();
    }
    out
}

#[test]
fn short_ids_must_be_reachable_from_the_remote_refs() {
    let f = app_repo("unreachable");
    f.git(&["checkout", "-q", "-b", "tmp"]);
    let lost = f.commit_files("on tmp", &[("app/tmp.yaml", "tmp")]);
    f.git(&["checkout", "-q", "main"]);
    let url = server().http_url("unreachable");
    let cache = tempfile::tempdir().expect("tempdir");
    let o = opts(cache.path());
    source::resolve(&spec(&url, "tmp"), &o).expect("tmp");
    let short = &lost[..10];
    let r = source::resolve(&spec(&url, short), &o).expect("reachable from tmp");
    assert_eq!(r.commit, lost);
    // Deleted on the server: the commit is still in the cache (and in the
    // server's object store), but no ref reaches it any more.
    f.delete_branch("tmp");
    let err = source::resolve(&spec(&url, short), &o).expect_err("unreachable");
    assert!(matches!(err, SourceError::CommitNotFound { .. }), "{err:?}");
    assert!(
        err.to_string()
            .contains("not reachable from any of its branches and tags"),
        "{err}"
    );
    let main = f.rev("main~1");
    let r = source::resolve(&spec(&url, &main[..10]), &o).expect("reachable from main");
    assert_eq!(r.commit, main);
}

#[test]
fn trees_never_show_git_metadata() {
    // A Git tree crafted with a `.git` directory in it.
    let f = server().create(
        "dotgit",
        "mkdir app && echo a > app/a.yaml && git add -A && git commit -qm one\n\
         secret=$(printf '[remote \"origin\"]\\n\\turl = https://u:hunter22@h/r\\n' | git hash-object -w --stdin)\n\
         inner=$(printf '100644 blob %s\\tconfig\\n' $secret | git mktree)\n\
         app=$(git rev-parse HEAD:app)\n\
         root=$(printf '040000 tree %s\\t.git\\n040000 tree %s\\tapp\\n040000 tree %s\\t.GIT\\n' $inner $app $inner | git mktree)\n\
         c=$(git commit-tree -p HEAD -m crafted $root)\n\
         git update-ref refs/heads/main $c",
    );
    let cache = tempfile::tempdir().expect("tempdir");
    let r = source::resolve(
        &spec(&server().file_url("dotgit"), "main"),
        &opts(cache.path()),
    )
    .expect("resolve");
    assert_eq!(r.commit, f.rev("main"));
    let names: Vec<String> = r
        .tree
        .list("")
        .expect("list")
        .into_iter()
        .map(|e| e.name)
        .collect();
    assert_eq!(names, ["app"]);
    for p in [".git/config", ".GIT/config", "app/../.git/config"] {
        assert!(matches!(r.tree.read(p), Err(TreeError::NotFound(_))), "{p}");
    }

    // A local checkout served as a directory: its .git stays hidden.
    let d = DirTree::new(&f.work).expect("dir tree");
    assert!(f.work.join(".git/config").exists());
    let names: Vec<String> = d
        .list("")
        .expect("list")
        .into_iter()
        .map(|e| e.name)
        .collect();
    assert_eq!(names, ["app"]);
    assert_eq!(
        d.read(".git/config"),
        Err(TreeError::NotFound(".git/config".into()))
    );
    assert_eq!(d.stat(".git"), Err(TreeError::NotFound(".git".into())));
}

#[test]
fn a_directory_source_refuses_a_link_out_of_the_root() {
    let outside = tempfile::tempdir().expect("tempdir");
    std::fs::write(outside.path().join("cm.yaml"), "kind: ConfigMap\n").expect("write");
    let root = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir_all(root.path().join("app")).expect("mkdir");
    std::fs::write(root.path().join("app/a.yaml"), "kind: Secret\n").expect("write");
    std::os::unix::fs::symlink(
        outside.path().join("cm.yaml"),
        root.path().join("app/cm.yaml"),
    )
    .expect("link");
    let t = DirTree::new(root.path()).expect("tree");
    let err = t.list("app").expect_err("escaping link");
    assert_eq!(err, TreeError::OutsideRoot("app/cm.yaml".into()));
    assert_eq!(
        err.to_string(),
        "app/cm.yaml: path leaves the repository root"
    );
    assert_eq!(
        t.read("app/cm.yaml"),
        Err(TreeError::OutsideRoot("app/cm.yaml".into()))
    );
}

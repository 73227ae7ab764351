//! Submodules (`recurseSubmodules: true`): real nested repositories on the
//! harness's servers, a relative submodule URL, a submodule on another
//! server (git daemon), recursion, and the commit the superproject records.

use sluice::engine::{self, AppDef, Settings};
use sluice::source::{self, EntryKind, Options, SourceError, SourceSpec, TreeError};
use sluice_testkit::git::{Fixture, Signer, server};
use std::path::Path;

fn spec(repo: &str, recurse: bool) -> SourceSpec {
    SourceSpec {
        repo: repo.to_string(),
        revision: "main".into(),
        recurse_submodules: recurse,
    }
}

fn opts(cache: &Path) -> Options {
    Options {
        cache_dir: cache.to_path_buf(),
        ..Options::default()
    }
}

/// Record `commit` as a gitlink at `path` with `url` in `.gitmodules`
/// (what `git submodule add` leaves behind, without cloning), commit, push.
fn add_submodule(f: &Fixture, name: &str, path: &str, url: &str, commit: &str) {
    f.git(&[
        "update-index",
        "--add",
        "--cacheinfo",
        &format!("160000,{commit},{path}"),
    ]);
    let gm = f.work.join(".gitmodules");
    let mut text = std::fs::read_to_string(&gm).unwrap_or_default();
    text.push_str(&format!(
        "[submodule \"{name}\"]\n\tpath = {path}\n\turl = {url}\n"
    ));
    std::fs::write(&gm, text).expect("write .gitmodules");
    f.git(&["add", ".gitmodules"]);
    f.git(&["commit", "-q", "-m", &format!("submodule {name}")]);
    f.push();
}

/// `sub-leaf` (one file), `sub-lib` (a file and `nested` = leaf, by a
/// relative URL), and `sub-super` (`vendor/lib` = lib by a relative URL,
/// `other` = leaf on the git daemon).
fn repos(prefix: &str) -> (Fixture, Fixture, Fixture) {
    let s = server();
    let leaf = s.create(
        &format!("{prefix}-leaf"),
        "echo 'leaf: 1' > leaf.yaml && git add -A && git commit -qm leaf",
    );
    let lib = s.create(
        &format!("{prefix}-lib"),
        "echo 'lib: v1' > lib.yaml && git add -A && git commit -qm lib",
    );
    add_submodule(
        &lib,
        "nested",
        "nested",
        &format!("../{prefix}-leaf.git"),
        &leaf.rev("main"),
    );
    let sup = s.create(
        &format!("{prefix}-super"),
        "mkdir -p app && echo 'kind: ConfigMap' > app/main.yaml && git add -A && git commit -qm app",
    );
    add_submodule(
        &sup,
        "lib",
        "vendor/lib",
        &format!("../{prefix}-lib.git"),
        &lib.rev("main"),
    );
    add_submodule(
        &sup,
        "other",
        "other",
        &s.git_url(&format!("{prefix}-leaf")),
        &leaf.rev("main"),
    );
    (leaf, lib, sup)
}

#[test]
fn submodules_are_fetched_at_the_recorded_commits_recursively_across_servers() {
    let (_leaf, lib, _sup) = repos("subs");
    // The library moves on after the superproject recorded it.
    lib.commit_files("v2", &[("lib.yaml", "lib: v2\n")]);
    let url = server().http_url("subs-super");
    let cache = tempfile::tempdir().expect("tempdir");
    let r = source::resolve(&spec(&url, true), &opts(cache.path()))
        .unwrap_or_else(|e| panic!("{}", sluice::error_chain(&e)));
    let read = |p: &str| {
        String::from_utf8(r.tree.read(p).unwrap_or_else(|e| panic!("{p}: {e}"))).expect("utf-8")
    };
    assert_eq!(read("app/main.yaml"), "kind: ConfigMap\n");
    assert_eq!(
        read("vendor/lib/lib.yaml"),
        "lib: v1\n",
        "the recorded commit, not the tip"
    );
    assert_eq!(read("vendor/lib/nested/leaf.yaml"), "leaf: 1\n");
    assert_eq!(read("other/leaf.yaml"), "leaf: 1\n");
    let vendor = r.tree.list("vendor").expect("list");
    assert_eq!(vendor.len(), 1);
    assert_eq!(
        (vendor[0].name.as_str(), vendor[0].kind),
        ("lib", EntryKind::Directory)
    );
    let names: Vec<String> = r
        .tree
        .list("vendor/lib")
        .expect("list")
        .into_iter()
        .map(|e| e.name)
        .collect();
    assert_eq!(names, [".gitmodules", "lib.yaml", "nested"]);
    assert_eq!(
        r.tree.stat("other").expect("stat").kind,
        EntryKind::Directory
    );
    assert_eq!(
        r.tree.read("vendor/lib/missing.yaml"),
        Err(TreeError::NotFound("vendor/lib/missing.yaml".into()))
    );
    assert!(matches!(
        r.tree.read("vendor/lib/../../../x"),
        Err(TreeError::OutsideRoot(_))
    ));

    // Without recurseSubmodules, a submodule stays an entry that cannot be read.
    let r = source::resolve(&spec(&url, false), &opts(cache.path())).expect("resolve");
    let e = r.tree.read("vendor/lib/lib.yaml").expect_err("not fetched");
    assert!(
        e.to_string().contains(
            "vendor/lib: is a Git submodule, which was not fetched; set recurseSubmodules: true"
        ),
        "{e}"
    );
    assert_eq!(
        r.tree.stat("other").expect("stat").kind,
        EntryKind::Submodule
    );
}

#[test]
fn an_application_with_recurse_submodules_renders_files_from_them() {
    repos("subapp");
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("app.yaml");
    std::fs::write(
        &file,
        format!(
            "apiVersion: sluice.dev/v1alpha1\nkind: Application\nmetadata: {{name: subs}}\nspec:\n  source: {{repoURL: \"{}\", path: vendor, recurseSubmodules: true}}\n",
            server().http_url("subapp-super")
        ),
    )
    .expect("write");
    let mut def = AppDef::from_file(&file).expect("app");
    def.target = Some(format!("dir:{}", dir.path().join("out").display()));
    let mut settings = Settings::new(opts(&dir.path().join("cache"))).expect("settings");
    settings.working_dir = dir.path().to_path_buf();
    let app =
        engine::resolve(&def, &settings).unwrap_or_else(|e| panic!("{}", sluice::error_chain(&e)));
    assert_eq!(
        app.source
            .tree
            .read("vendor/lib/nested/leaf.yaml")
            .expect("read"),
        b"leaf: 1\n"
    );
}

#[test]
fn a_local_submodule_url_or_a_missing_commit_is_refused_naming_the_submodule() {
    let s = server();
    let leaf = s.create("subbad-leaf", "echo x > x && git add x && git commit -qm x");
    let sup = s.create(
        "subbad-super",
        "echo a > a && git add a && git commit -qm a",
    );
    add_submodule(
        &sup,
        "local",
        "local",
        &s.file_url("subbad-leaf"),
        &leaf.rev("main"),
    );
    let cache = tempfile::tempdir().expect("tempdir");
    let e = source::resolve(
        &spec(&s.http_url("subbad-super"), true),
        &opts(cache.path()),
    )
    .expect_err("local url");
    assert!(matches!(e, SourceError::Submodule { .. }), "{e}");
    assert!(
        e.to_string().contains("submodule local: URL")
            && e.to_string()
                .contains("is on the local disk; sluice fetches submodules only over the network"),
        "{e}"
    );

    // A recorded commit the submodule's repository does not have.
    let sup = s.create(
        "subbad-super2",
        "echo a > a && git add a && git commit -qm a",
    );
    let ghost = "1234567890123456789012345678901234567890";
    add_submodule(&sup, "ghost", "ghost", "../subbad-leaf.git", ghost);
    let e = source::resolve(
        &spec(&s.http_url("subbad-super2"), true),
        &opts(cache.path()),
    )
    .expect_err("missing commit");
    let chain = sluice::error_chain(&e);
    assert!(
        chain.contains(&format!(
            "submodule ghost: cannot fetch commit {ghost} from {}",
            s.http_url("subbad-leaf")
        )),
        "{chain}"
    );
}

/// `spec.source.verify` with `recurseSubmodules`: only the superproject's
/// commit is checked. Its signature covers its tree, whose gitlinks name
/// each submodule's commit by id, and a submodule is fetched at exactly
/// that id (its content hashes to it), so an unsigned submodule
/// repository is read at the commit the signer recorded, never at a tip
/// pushed after.
#[test]
fn a_verified_superproject_pins_its_unsigned_submodules_by_the_ids_it_signed() {
    let s = server();
    let lib = s.create(
        "subsig-lib",
        "echo 'lib: v1' > lib.yaml && git add -A && git commit -qm lib",
    );
    let sup = s.create(
        "subsig-super",
        "mkdir -p app && echo 'kind: ConfigMap' > app/main.yaml && git add -A && git commit -qm app",
    );
    add_submodule(
        &sup,
        "lib",
        "vendor/lib",
        "../subsig-lib.git",
        &lib.rev("main"),
    );
    // Signed without `git add -A`, which would drop the gitlink (the work
    // tree has no checkout of the submodule).
    sup.git_signed(
        Signer::Pgp,
        &["commit", "-q", "-S", "--allow-empty", "-m", "signed"],
    );
    sup.push();
    let signed = sup.rev("main");
    // The submodule's repository moves on, unsigned, after the signature.
    lib.commit_files("v2", &[("lib.yaml", "lib: v2\n")]);

    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::copy(&s.signing().keys_file, dir.path().join("keys.txt")).expect("keys");
    let file = dir.path().join("app.yaml");
    std::fs::write(
        &file,
        format!(
            "apiVersion: sluice.dev/v1alpha1\nkind: Application\nmetadata: {{name: subsig}}\nspec:\n  source: {{repoURL: \"{}\", path: vendor, recurseSubmodules: true, verify: {{mode: HEAD, keysFile: keys.txt}}}}\n",
            s.http_url("subsig-super")
        ),
    )
    .expect("write");
    let mut def = AppDef::from_file(&file).expect("app");
    def.target = Some(format!("dir:{}", dir.path().join("out").display()));
    let mut settings = Settings::new(opts(&dir.path().join("cache"))).expect("settings");
    settings.working_dir = dir.path().to_path_buf();
    let app =
        engine::resolve(&def, &settings).unwrap_or_else(|e| panic!("{}", sluice::error_chain(&e)));
    assert_eq!(app.source.commit, signed);
    assert_eq!(
        app.source.tree.read("vendor/lib/lib.yaml").expect("read"),
        b"lib: v1\n",
        "the commit the signed superproject records, not the submodule's newer tip"
    );

    // The same app on an unsigned superproject commit is refused, whatever
    // its submodules hold.
    sup.git(&["commit", "-q", "--allow-empty", "-m", "unsigned"]);
    sup.push();
    let e = engine::resolve(&def, &settings).expect_err("unsigned superproject");
    assert!(
        sluice::error_chain(&e).contains(&format!("commit {} is not signed", sup.rev("main"))),
        "{}",
        sluice::error_chain(&e)
    );
}

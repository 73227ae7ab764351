//! Signed commits and tags (`spec.source.verify`): real signatures made
//! with `gpg` and `ssh-keygen` by the harness, served by its Git servers,
//! checked through the engine before anything is rendered.

use crate::common::text;
use sluice::engine::{self, AppDef, EngineError, Settings};
use sluice::source::Options;
use sluice_testkit::git::{Fixture, Signer, TimedGpg, server};
use std::path::{Path, PathBuf};

/// An Application file in `dir` for `repo` at `revision`, requiring `mode`
/// with the harness's trusted keys copied next to it (`keysFile` relative
/// to the file).
fn app_file(dir: &Path, repo: &str, revision: &str, mode: &str) -> PathBuf {
    let keys = std::fs::read_to_string(&server().signing().keys_file).expect("keys");
    app_file_with(dir, repo, revision, mode, &keys)
}

/// [`app_file`] trusting the keys in `keys`.
fn app_file_with(dir: &Path, repo: &str, revision: &str, mode: &str, keys: &str) -> PathBuf {
    std::fs::create_dir_all(dir.join("trust")).expect("mkdir");
    std::fs::write(dir.join("trust/keys.txt"), keys).expect("write keys");
    let file = dir.join("app.yaml");
    std::fs::write(
        &file,
        format!(
            "apiVersion: sluice.dev/v1alpha1\nkind: Application\nmetadata: {{name: signed}}\nspec:\n  source:\n    repoURL: {repo}\n    targetRevision: {revision}\n    path: app\n    verify: {{mode: {mode}, keysFile: trust/keys.txt}}\n  destination: {{namespace: demo}}\n  syncPolicy: {{automated: {{prune: true}}, syncOptions: [CreateNamespace=true]}}\n"
        ),
    )
    .expect("write app");
    file
}

fn resolve(dir: &Path, repo: &str, revision: &str, mode: &str) -> Result<engine::App, String> {
    let file = app_file(dir, repo, revision, mode);
    resolve_file(dir, &file)
}

fn resolve_file(dir: &Path, file: &Path) -> Result<engine::App, String> {
    let mut def = AppDef::from_file(file).expect("app file");
    def.target = Some(format!("dir:{}", dir.join("out").display()));
    let mut settings = Settings::new(Options {
        cache_dir: dir.join("cache"),
        ..Options::default()
    })
    .expect("settings");
    settings.working_dir = dir.to_path_buf();
    engine::resolve(&def, &settings).map_err(|e| {
        assert!(
            matches!(e, EngineError::Verify { .. }),
            "not a verification error: {}",
            sluice::error_chain(&e)
        );
        sluice::error_chain(&e)
    })
}

fn signed_repo(name: &str) -> Fixture {
    let f = server().create(
        name,
        "mkdir -p app && echo 'kind: ConfigMap' > app/a.yaml && git add -A && git commit -qm unsigned",
    );
    f.git(&["branch", "unsigned"]);
    f.git(&["checkout", "-q", "-b", "pgp"]);
    f.commit_signed("pgp", &[("app/p.yaml", "p: 1\n")], Signer::Pgp);
    f.git(&["checkout", "-q", "-b", "ssh", "unsigned"]);
    f.commit_signed("ssh", &[("app/s.yaml", "s: 1\n")], Signer::Ssh);
    f.git(&["checkout", "-q", "-b", "pgp-stranger", "unsigned"]);
    f.commit_signed("stranger", &[("app/x.yaml", "x: 1\n")], Signer::PgpStranger);
    f.git(&["checkout", "-q", "-b", "ssh-stranger", "unsigned"]);
    f.commit_signed("stranger", &[("app/y.yaml", "y: 1\n")], Signer::SshStranger);
    f.git(&["checkout", "-q", "main"]);
    f.push();
    f
}

/// A copy of `rev`'s commit with its message changed and its signature
/// kept, stored as branch `branch` and pushed: a tampered commit.
fn tamper(f: &Fixture, rev: &str, branch: &str) -> String {
    let raw = f.git(&["cat-file", "commit", rev]);
    assert!(raw.contains("gpgsig"), "{rev} is not signed:\n{raw}");
    let forged = raw.replacen("\n\n", "\n\ntampered: ", 1);
    let path = f.work.join(".git/forged-commit");
    std::fs::write(&path, forged).expect("write");
    let id = f
        .git(&[
            "hash-object",
            "-t",
            "commit",
            "-w",
            &path.display().to_string(),
        ])
        .trim()
        .to_string();
    f.git(&["update-ref", &format!("refs/heads/{branch}"), &id]);
    f.push();
    id
}

#[test]
fn openpgp_and_ssh_signed_commits_verify_and_every_refusal_names_the_commit_and_why() {
    let f = signed_repo("verify-commits");
    let url = server().http_url("verify-commits");
    let tmp = tempfile::tempdir().expect("tempdir");
    let t = |n: &str| tmp.path().join(n);

    for branch in ["pgp", "ssh"] {
        let app = resolve(&t(branch), &url, branch, "HEAD")
            .unwrap_or_else(|e| panic!("{branch} should verify: {e}"));
        assert_eq!(app.source.commit, f.rev(branch));
        assert!(
            app.source
                .tree
                .read(&format!("app/{}.yaml", &branch[..1]))
                .is_ok()
        );
    }

    let e = resolve(&t("u"), &url, "unsigned", "HEAD").expect_err("unsigned");
    assert!(
        e.contains("refusing its source: signature verification failed (nothing was rendered, applied or pruned)"),
        "{e}"
    );
    assert!(
        e.contains(&format!(
            "commit {} is not signed, and spec.source.verify requires a signature",
            f.rev("unsigned")
        )),
        "{e}"
    );

    let stranger = &server().signing().pgp_stranger;
    let e = resolve(&t("ps"), &url, "pgp-stranger", "HEAD").expect_err("stranger");
    assert!(
        e.contains(&format!(
            "commit {} is signed by key OpenPGP {}, which is not in the keys file",
            f.rev("pgp-stranger"),
            stranger.to_lowercase()
        )),
        "{e}"
    );

    let e = resolve(&t("ss"), &url, "ssh-stranger", "HEAD").expect_err("ssh stranger");
    assert!(
        e.contains(&format!(
            "commit {} is signed by key SSH SHA256:",
            f.rev("ssh-stranger")
        )) && e.contains("which is not in the keys file"),
        "{e}"
    );

    for (signed, branch) in [("pgp", "tampered-pgp"), ("ssh", "tampered-ssh")] {
        let forged = tamper(&f, signed, branch);
        let e = resolve(&t(branch), &url, branch, "HEAD").expect_err("tampered");
        assert!(
            e.contains(&format!("commit {forged}: the signature by key")),
            "{e}"
        );
        assert!(
            e.contains("does not verify; the object was changed after it was signed"),
            "{e}"
        );
    }
}

#[test]
fn tag_modes_require_a_signed_annotated_tag_and_tag_and_head_also_the_commit() {
    let f = signed_repo("verify-tags");
    let url = server().http_url("verify-tags");
    f.tag_signed("v1.0.0", "pgp", Signer::Pgp);
    f.tag_signed("v1.0.1", "unsigned", Signer::Ssh);
    f.tag("v1.0.2", "pgp", false);
    f.tag("v1.0.3", "pgp", true);
    f.tag_signed("v1.0.4", "pgp", Signer::PgpStranger);
    let tmp = tempfile::tempdir().expect("tempdir");
    let t = |n: &str| tmp.path().join(n);

    let app = resolve(&t("a"), &url, "v1.0.0", "Tag").expect("signed tag");
    assert_eq!(app.source.commit, f.rev("pgp"));
    resolve(&t("b"), &url, "v1.0.0", "TagAndHEAD").expect("signed tag and commit");
    // A semver constraint that picks the signed tag is a tag too.
    resolve(&t("b2"), &url, "~1.0.0, <1.0.1", "Tag").expect("constraint to a signed tag");
    // An SSH-signed tag of an unsigned commit: enough for Tag, not for both.
    resolve(&t("c"), &url, "v1.0.1", "Tag").expect("ssh signed tag");
    let e = resolve(&t("d"), &url, "v1.0.1", "TagAndHEAD").expect_err("unsigned commit");
    assert!(
        e.contains(&format!("commit {} is not signed", f.rev("unsigned"))),
        "{e}"
    );

    let e = resolve(&t("e"), &url, "v1.0.2", "Tag").expect_err("lightweight");
    assert!(
        e.contains("refs/tags/v1.0.2 is a lightweight tag, which cannot carry a signature, and verify mode Tag requires a signed tag"),
        "{e}"
    );
    let e = resolve(&t("f"), &url, "v1.0.3", "Tag").expect_err("unsigned annotated");
    let tag_id = f.git(&["rev-parse", "v1.0.3"]).trim().to_string();
    assert!(
        e.contains(&format!("tag v1.0.3 (object {tag_id}) is not signed")),
        "{e}"
    );
    let e = resolve(&t("g"), &url, "v1.0.4", "Tag").expect_err("stranger tag");
    assert!(
        e.contains("tag v1.0.4 (object ") && e.contains("which is not in the keys file"),
        "{e}"
    );
    let e = resolve(&t("h"), &url, "pgp", "Tag").expect_err("a branch");
    assert!(
        e.contains(&format!(
            "verify mode Tag requires targetRevision to name a tag, but \"pgp\" resolved to refs/heads/pgp (commit {})",
            f.rev("pgp")
        )),
        "{e}"
    );
    // HEAD mode on the signed tag's commit needs no tag signature.
    resolve(&t("i"), &url, "v1.0.2", "HEAD").expect("signed commit behind a lightweight tag");
}

#[test]
fn a_refused_commit_is_neither_applied_nor_pruned() {
    let f = server().create(
        "verify-sync",
        "mkdir -p app && printf 'apiVersion: v1\\nkind: ConfigMap\\nmetadata: {name: a}\\ndata: {k: v}\\n' > app/a.yaml && \
         printf 'apiVersion: v1\\nkind: ConfigMap\\nmetadata: {name: b}\\ndata: {k: v}\\n' > app/b.yaml && git add -A && git commit -qm base",
    );
    f.commit_signed(
        "signed",
        &[(
            "app/c.yaml",
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata: {k: v}\n",
        )],
        Signer::Ssh,
    );
    let tmp = tempfile::tempdir().expect("tempdir");
    let file = app_file(
        tmp.path(),
        &server().http_url("verify-sync"),
        "main",
        "HEAD",
    );
    let out_dir = tmp.path().join("out");
    let sync = || {
        std::process::Command::new(env!("CARGO_BIN_EXE_sluice"))
            .args(["sync", &file.display().to_string(), "--target"])
            .arg(format!("dir:{}", out_dir.display()))
            .env("SLUICE_GIT_CACHE_DIR", tmp.path().join("cache"))
            .env_remove("SLUICE_GIT_CREDENTIALS")
            .output()
            .expect("run sluice")
    };
    let out = sync();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let cm = |n: &str| out_dir.join(format!("demo/core_ConfigMap_{n}.yaml"));
    assert!(cm("a").exists() && cm("b").exists() && cm("c").exists());

    // An unsigned commit deletes b and changes a: refused, nothing touched.
    let before = std::fs::read_to_string(cm("a")).expect("a");
    std::fs::remove_file(f.work.join("app/b.yaml")).expect("rm");
    let unsigned = f.commit_files(
        "unsigned",
        &[(
            "app/a.yaml",
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\ndata: {k: changed}\n",
        )],
    );
    let out = sync();
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains(&format!("commit {unsigned} is not signed"))
            && err.contains("nothing was rendered, applied or pruned"),
        "{err}"
    );
    assert!(cm("b").exists(), "a refused commit must not prune");
    assert_eq!(std::fs::read_to_string(cm("a")).expect("a"), before);
}

#[test]
fn a_missing_keys_file_or_a_plain_directory_is_refused_before_any_fetch() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path();
    // The URL leads nowhere: the keys file is read first, so the error is
    // about the file, not the network.
    let file = app_file(dir, "https://127.0.0.1:9/nowhere.git", "main", "HEAD");
    std::fs::remove_file(dir.join("trust/keys.txt")).expect("rm");
    let mut def = AppDef::from_file(&file).expect("app file");
    def.target = Some(format!("dir:{}", dir.join("out").display()));
    let mut settings = Settings::new(Options {
        cache_dir: dir.join("cache"),
        ..Options::default()
    })
    .expect("settings");
    settings.working_dir = dir.to_path_buf();
    let e = engine::resolve(&def, &settings).expect_err("no keys file");
    let chain = sluice::error_chain(&e);
    assert!(
        chain.contains(&format!(
            "keys file {}: cannot read it; check spec.source.verify.keysFile",
            dir.join("trust/keys.txt").display()
        )),
        "{chain}"
    );
    assert!(!dir.join("cache").exists(), "nothing was fetched");

    // verify on a plain directory, which has no signatures.
    std::fs::create_dir_all(dir.join("plain")).expect("mkdir");
    let file = app_file(&dir.join("plain"), ".", "main", "HEAD");
    let mut def = AppDef::from_file(&file).expect("app file");
    def.target = Some(format!("dir:{}", dir.join("out").display()));
    let e = engine::resolve(&def, &settings).expect_err("plain directory");
    assert!(
        e.to_string()
            .contains("spec.source.verify requires a Git repository, but . is a plain directory"),
        "{e}"
    );
}

/// OpenPGP keys are judged at the signature's time: made with real `gpg`
/// at faked dates in 2020, a key that has expired since still vouches for
/// what it signed while valid, but not for a signature made after its
/// expiry; a "superseded" revocation voids what came after it, a
/// "compromised" one everything; a signature dated in the future is
/// refused.
#[test]
fn openpgp_signatures_by_expired_or_revoked_keys_or_from_the_future_are_refused() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let gpg = TimedGpg::new(tmp.path()).expect("gnupg home");
    let y2020 = "20200101T000000";
    let aged = gpg.key("Aged <aged@sluice.test>", y2020).expect("key");
    let superseded = gpg
        .key("Superseded <superseded@sluice.test>", y2020)
        .expect("key");
    let compromised = gpg
        .key("Compromised <compromised@sluice.test>", y2020)
        .expect("key");
    let (primary, subkey) = gpg
        .key_with_signing_subkey("Subkeyed <subkeyed@sluice.test>", y2020)
        .expect("key");
    let (rotated, rotated_sub) = gpg
        .key_with_signing_subkey("Rotated <rotated@sluice.test>", y2020)
        .expect("key");
    let f = server().create(
        "verify-times",
        "mkdir -p app && echo 'kind: ConfigMap' > app/a.yaml && git add -A && git commit -qm base",
    );
    let signed = |branch: &str, fpr: &str, at: &str| {
        f.git(&["checkout", "-q", "-b", branch, "main"]);
        let file = format!("app/{branch}.yaml");
        f.commit_signed_at(branch, &[(file.as_str(), "x: 1\n")], &gpg, fpr, at)
    };
    let early = signed("aged-early", &aged, "20200110T000000");
    let late = signed("aged-late", &aged, "20200301T000000");
    let future = signed("future", &aged, "20990101T000000");
    signed("superseded-before", &superseded, "20200201T000000");
    let after = signed("superseded-after", &superseded, "20200301T000000");
    let voided = signed("compromised", &compromised, "20200201T000000");
    signed("subkey-early", &primary, "20200110T000000");
    let sub_late = signed("subkey-late", &primary, "20200301T000000");
    signed("rotated-before", &rotated, "20200201T000000");
    let rotated_after = signed("rotated-after", &rotated, "20200301T000000");
    f.git(&["checkout", "-q", "main"]);
    // Only now: the expiry and the revocations, dated between the
    // signatures.
    gpg.set_expire(&aged, "20200115T000000", "2020-02-01")
        .expect("expire");
    gpg.revoke(&superseded, "20200215T000000", 2, "moved to a new key")
        .expect("revoke");
    gpg.revoke(&compromised, "20200215T000000", 1, "laptop stolen")
        .expect("revoke");
    gpg.set_subkey_expire(&primary, &subkey, "20200115T000000", "2020-02-01")
        .expect("expire subkey");
    gpg.revoke_subkey(&rotated, "20200215T000000", 2, "rotated")
        .expect("revoke subkey");
    let keys: String = [&aged, &superseded, &compromised, &primary, &rotated]
        .iter()
        .map(|k| gpg.export(k).expect("export"))
        .collect();
    let url = server().http_url("verify-times");
    let check = |branch: &str| {
        let dir = tmp.path().join(branch);
        let file = app_file_with(&dir, &url, branch, "HEAD", &keys);
        resolve_file(&dir, &file)
    };

    let app = check("aged-early").expect("signed before the key expired");
    assert_eq!(app.source.commit, early);
    check("superseded-before").expect("signed before the key was superseded");
    check("subkey-early").expect("signed before the subkey expired");
    check("rotated-before").expect("signed before the subkey was superseded");

    // Each refusal names the commit, the key and why, in these words.
    let before_signing = "before the signature was made (2020-03-01T00:00:00Z)";
    let refusals = [
        (
            "aged-late",
            format!(
                "commit {late} is signed by key OpenPGP {}, but the key expired on 2020-02-01T",
                aged.to_lowercase()
            ),
            before_signing,
        ),
        (
            "subkey-late",
            format!(
                "commit {sub_late} is signed by key OpenPGP {}, but the subkey expired on 2020-02-01T",
                subkey.to_lowercase()
            ),
            before_signing,
        ),
        (
            "rotated-after",
            format!(
                "commit {rotated_after} is signed by key OpenPGP {}, but the subkey was revoked on 2020-02-15T00:00:00Z (key superseded: rotated), before the signature was made (2020-03-01T00:00:00Z)",
                rotated_sub.to_lowercase()
            ),
            "",
        ),
        (
            "future",
            format!(
                "commit {future} is signed by key OpenPGP {}, but the signature is dated 2099-01-01T00:00:00Z, more than 5 minutes after this host's clock",
                aged.to_lowercase()
            ),
            "",
        ),
        (
            "superseded-after",
            format!(
                "commit {after} is signed by key OpenPGP {}, but the key was revoked on 2020-02-15T00:00:00Z (key superseded: moved to a new key), before the signature was made (2020-03-01T00:00:00Z)",
                superseded.to_lowercase()
            ),
            "",
        ),
        (
            "compromised",
            format!(
                "commit {voided} is signed by key OpenPGP {}, but the key was revoked on 2020-02-15T00:00:00Z (key compromised: laptop stolen), which voids all its signatures",
                compromised.to_lowercase()
            ),
            "",
        ),
    ];
    for (branch, why, also) in refusals {
        let e = check(branch).expect_err(branch);
        assert!(e.contains(&why) && e.contains(also), "{branch}: {e}");
    }
}

/// A one-shot `sluice sync` of a Flux file with `GitRepository.spec.verify`
/// reads the trusted keys from the Secret on the cluster it syncs to: a
/// missing Secret is named (nothing applied), a commit signed by a key in
/// the Secret is applied, a stranger's is refused and nothing changes.
#[test]
fn a_flux_file_with_verify_reads_the_keys_secret_from_the_cluster_it_syncs_to() {
    use sluice_testkit::cluster::TestCluster;
    let cluster = TestCluster::shared();
    let flux_ns = cluster.namespace("sync-flux-verify");
    let ns = cluster.namespace("sync-flux-verify-target");
    let cm = |v: &str| {
        format!(
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: verified}}\ndata: {{v: \"{v}\"}}\n"
        )
    };
    let f = server().create("verify-flux-sync", "true");
    let signed = f.commit_signed("signed", &[("app/cm.yaml", &cm("1"))], Signer::Pgp);
    let url = server().http_url("verify-flux-sync");
    let tmp = tempfile::tempdir().expect("tempdir");
    let file = tmp.path().join("flux.yaml");
    std::fs::write(
        &file,
        format!(
            "apiVersion: source.toolkit.fluxcd.io/v1\nkind: GitRepository\nmetadata: {{name: repo, namespace: {flux_ns}}}\nspec: {{interval: 1m, url: \"{url}\", ref: {{branch: main}}, verify: {{mode: head, secretRef: {{name: pgp-keys}}}}}}\n---\napiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata: {{name: verified, namespace: {flux_ns}}}\nspec:\n  interval: 1m\n  path: ./app\n  prune: true\n  sourceRef: {{kind: GitRepository, name: repo}}\n  targetNamespace: {ns}\n"
        ),
    )
    .expect("write");
    let sync = || {
        std::process::Command::new(env!("CARGO_BIN_EXE_sluice"))
            .args(["sync", &file.display().to_string(), "--kubeconfig"])
            .arg(&cluster.kubeconfig)
            .env("SLUICE_GIT_CACHE_DIR", tmp.path().join("cache"))
            .env_remove("SLUICE_GIT_CREDENTIALS")
            .output()
            .expect("run sluice")
    };
    let live = || {
        let out = cluster
            .kubectl()
            .args([
                "get",
                "configmap",
                "verified",
                "-n",
                &ns,
                "-o",
                "jsonpath={.data.v}",
            ])
            .output()
            .expect("kubectl");
        text(&out.stdout)
    };

    let out = sync();
    let err = text(&out.stderr);
    assert_ne!(out.status.code(), Some(0), "{err}");
    assert!(
        err.contains(&format!(
            "app verified: refusing its source: GitRepository verify.secretRef {flux_ns}/pgp-keys: the Secret does not exist in cluster "
        )) && err.contains("nothing was rendered, applied or pruned"),
        "{err}"
    );
    assert_eq!(live(), "");

    let signing = server().signing();
    let secret = serde_json::json!({"apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": "pgp-keys", "namespace": flux_ns},
        "stringData": {"author1.asc": signing.pgp_public}});
    cluster.kubectl_stdin(&["apply", "-f", "-"], &secret.to_string());
    let out = sync();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(live(), "1", "commit {signed} applied");

    let stranger = f.commit_signed(
        "stranger",
        &[("app/cm.yaml", &cm("2"))],
        Signer::PgpStranger,
    );
    let out = sync();
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains(&format!(
            "commit {stranger} is signed by key OpenPGP {}, which is not in the Secret {flux_ns}/pgp-keys",
            signing.pgp_stranger.to_lowercase()
        )),
        "{err}"
    );
    assert_eq!(live(), "1");

    // A Secret whose entries hold no key is named too.
    let empty = serde_json::json!({"apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": "pgp-keys", "namespace": flux_ns},
        "data": {}});
    cluster.kubectl_stdin(&["replace", "-f", "-"], &empty.to_string());
    let out = sync();
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains(&format!(
            "the Secret {flux_ns}/pgp-keys: no OpenPGP public key block and no SSH key found"
        )),
        "{err}"
    );
}

/// `--target dir:` stands for a cluster, Secrets included: a Flux file's
/// `verify.secretRef` is read from the directory's Secret file.
#[test]
fn a_flux_file_synced_into_a_directory_reads_the_keys_secret_from_it() {
    let f = server().create("verify-flux-dir", "true");
    let signed = f.commit_signed(
        "signed",
        &[(
            "app/cm.yaml",
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: verified}\ndata: {v: \"1\"}\n",
        )],
        Signer::Ssh,
    );
    let tmp = tempfile::tempdir().expect("tempdir");
    let file = tmp.path().join("flux.yaml");
    std::fs::write(
        &file,
        format!(
            "apiVersion: source.toolkit.fluxcd.io/v1\nkind: GitRepository\nmetadata: {{name: repo, namespace: flux-system}}\nspec: {{interval: 1m, url: \"{}\", ref: {{branch: main}}, verify: {{secretRef: {{name: signers}}}}}}\n---\napiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata: {{name: verified, namespace: flux-system}}\nspec:\n  interval: 1m\n  path: ./app\n  prune: true\n  sourceRef: {{kind: GitRepository, name: repo}}\n  targetNamespace: demo\n",
            server().http_url("verify-flux-dir")
        ),
    )
    .expect("write");
    let out_dir = tmp.path().join("out");
    let sync = || {
        std::process::Command::new(env!("CARGO_BIN_EXE_sluice"))
            .args(["sync", &file.display().to_string(), "--target"])
            .arg(format!("dir:{}", out_dir.display()))
            .env("SLUICE_GIT_CACHE_DIR", tmp.path().join("cache"))
            .env_remove("SLUICE_GIT_CREDENTIALS")
            .output()
            .expect("run sluice")
    };
    let out = sync();
    let err = text(&out.stderr);
    assert_ne!(out.status.code(), Some(0), "{err}");
    assert!(
        err.contains(&format!(
            "GitRepository verify.secretRef flux-system/signers: the Secret does not exist in directory {}",
            out_dir.display()
        )),
        "{err}"
    );
    let cm = out_dir.join("demo/core_ConfigMap_verified.yaml");
    assert!(!cm.exists());

    for dir in ["flux-system", "_cluster"] {
        std::fs::create_dir_all(out_dir.join(dir)).expect("mkdir");
    }
    std::fs::write(
        out_dir.join("_cluster/core_Namespace_demo.yaml"),
        "apiVersion: v1\nkind: Namespace\nmetadata: {name: demo}\n",
    )
    .expect("write namespace");
    let secret = serde_json::json!({"apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": "signers", "namespace": "flux-system"},
        "stringData": {"ssh": server().signing().ssh_allowed}});
    std::fs::write(
        out_dir.join("flux-system/core_Secret_signers.yaml"),
        secret.to_string(),
    )
    .expect("write secret");
    let out = sync();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(cm.exists(), "commit {signed} applied");
}

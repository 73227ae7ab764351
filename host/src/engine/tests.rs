use super::*;

fn settings(dir: &Path) -> Settings {
    Settings {
        git: Options {
            cache_dir: dir.join(".git-cache"),
            ..Options::default()
        },
        kubeconfig: None,
        allow_local_repos: Vec::new(),
        working_dir: dir.to_path_buf(),
        clusters: None,
    }
}

fn write(path: &Path, body: &str) {
    std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
    std::fs::write(path, body).expect("write");
}

fn app_file(dir: &Path, repo_url: &str, extra: &str) -> AppDef {
    let file = dir.join("app.yaml");
    write(
        &file,
        &format!(
            "apiVersion: sluice.dev/v1alpha1\nkind: Application\nmetadata: {{name: web}}\nspec:\n  source: {{repoURL: \"{repo_url}\", path: app}}\n{extra}"
        ),
    );
    AppDef::from_file(&file).expect("app file")
}

fn flags(repo: &str, path: &str) -> AppDef {
    AppDef {
        repo: Some(repo.into()),
        path: Some(path.into()),
        target: Some("dir:out".into()),
        ..AppDef::default()
    }
}

#[test]
fn flag_apps_are_named_after_repo_and_path() {
    let tmp = tempfile::tempdir().expect("tempdir");
    write(&tmp.path().join("repo/a/cm.yaml"), "{}");
    write(&tmp.path().join("repo/b/cm.yaml"), "{}");
    let s = settings(tmp.path());
    let a = resolve(&flags("repo", "a"), &s).expect("a");
    let a2 = resolve(&flags("./repo/", "./a/"), &s).expect("a again");
    let b = resolve(&flags("repo", "b"), &s).expect("b");
    assert!(
        a.name.starts_with("a-") && b.name.starts_with("b-"),
        "{a:?}"
    );
    assert_eq!(a.name, a2.name, "same repo and path, same name");
    assert_ne!(a.name, b.name);
    assert_eq!(a.sync.app, a.name);
    assert_eq!(a.render.app, a.name);
    assert_eq!(a.sync.namespace, "default");
    assert_eq!(a.destination, Destination::Dir(tmp.path().join("out")));
    let named = resolve(
        &AppDef {
            name: Some("mine".into()),
            ..flags("repo", "a")
        },
        &s,
    )
    .expect("named");
    assert_eq!(named.name, "mine");
}

#[test]
fn local_repos_stay_inside_the_app_files_directory() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let apps = tmp.path().join("apps");
    write(&apps.join("repo/app/cm.yaml"), "{}");
    write(&tmp.path().join("outside/app/cm.yaml"), "{}");
    // The working directory does not matter for a file's repoURL.
    let s = settings(&tmp.path().join("outside"));
    let ok = resolve(&app_file(&apps, "repo", ""), &s).expect("inside");
    assert_eq!(ok.name, "web");
    assert!(ok.source.tree.describe().ends_with("apps/repo"), "{ok:?}");

    let e = resolve(&app_file(&apps, "../outside", ""), &s).expect_err("outside");
    let msg = e.to_string();
    assert!(
        matches!(e, EngineError::LocalRepoOutside { .. })
            && msg.contains("app web: local repository ../outside resolves to")
            && msg.contains("--allow-local-repo")
            && msg.contains("SLUICE_ALLOW_LOCAL_REPO="),
        "{msg}"
    );
    #[cfg(unix)]
    {
        std::os::unix::fs::symlink(tmp.path().join("outside"), apps.join("link")).expect("symlink");
        let e = resolve(&app_file(&apps, "link", ""), &s).expect_err("symlink out");
        assert!(matches!(e, EngineError::LocalRepoOutside { .. }), "{e}");
        let e = resolve(&app_file(&apps, "file://link", ""), &s).expect_err("file:// out");
        assert!(matches!(e, EngineError::LocalRepoOutside { .. }), "{e}");
    }
    let allowed = Settings {
        allow_local_repos: vec![".".into()],
        ..s.clone()
    };
    resolve(&app_file(&apps, "../outside", ""), &allowed).expect("allowed");
    let e = resolve(&app_file(&apps, "missing", ""), &s).expect_err("missing");
    assert!(
        e.to_string()
            .contains("app web: cannot open local repository missing"),
        "{e}"
    );
}

#[test]
fn flag_repos_stay_inside_the_working_directory() {
    let tmp = tempfile::tempdir().expect("tempdir");
    write(&tmp.path().join("work/repo/cm.yaml"), "{}");
    write(&tmp.path().join("other/cm.yaml"), "{}");
    let s = settings(&tmp.path().join("work"));
    resolve(&flags("repo", ""), &s).expect("inside");
    let other = tmp.path().join("other");
    let e = resolve(&flags(other.to_str().expect("utf-8"), ""), &s).expect_err("outside");
    assert!(
        matches!(e, EngineError::LocalRepoOutside { .. }) && e.to_string().contains("other"),
        "{e}"
    );
    let s = Settings {
        allow_local_repos: vec![other.clone()],
        ..s
    };
    resolve(&flags(other.to_str().expect("utf-8"), ""), &s).expect("allowed");
}

#[test]
fn flags_override_the_file_and_params_merge() {
    let tmp = tempfile::tempdir().expect("tempdir");
    write(&tmp.path().join("app/cm.yaml"), "{}");
    let mut def = app_file(
        tmp.path(),
        ".",
        "  renderer: {name: yaml, params: {recursive: \"false\", extra: {a: 1}}}\n  destination: {namespace: prod}\n  syncPolicy: {automated: {prune: true}, syncOptions: [CreateNamespace=true]}\n",
    );
    let s = settings(tmp.path());
    let app = resolve(&def, &s).expect("file");
    assert_eq!(
        app.render.params,
        vec![("recursive".into(), "false".into())]
    );
    assert_eq!(
        app.render.params_json.as_deref(),
        Some(r#"{"extra":{"a":1}}"#)
    );
    assert_eq!(app.render.renderer, RendererRef::Builtin("yaml".into()));
    assert!(app.sync.prune && app.sync.create_namespace);
    assert_eq!(app.sync.namespace, "prod");
    assert_eq!(app.render.repo_url, ".");
    def.params = vec![("recursive".into(), "true".into())];
    def.namespace = Some("dev".into());
    let app = resolve(&def, &s).expect("overridden");
    assert_eq!(
        app.render.params.last(),
        Some(&("recursive".to_string(), "true".to_string()))
    );
    assert_eq!(app.render.namespace, "dev");
}

#[test]
fn a_wrong_destination_is_refused_before_the_source_is_fetched() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let kubeconfig = tmp.path().join("kubeconfig");
    write(
        &kubeconfig,
        "clusters: [{name: c, cluster: {server: \"https://127.0.0.1:6443\"}}]\ncontexts: [{name: c, context: {cluster: c}}]\ncurrent-context: c\n",
    );
    let s = Settings {
        kubeconfig: Some(kubeconfig),
        ..settings(tmp.path())
    };
    // A Git URL nothing listens on: reaching the fetch would fail otherwise.
    let def = app_file(
        tmp.path(),
        "http://127.0.0.1:9/r.git",
        "  destination: {server: \"https://prod.example\"}\n",
    );
    let e = resolve(&def, &s).expect_err("wrong server");
    assert!(matches!(e, EngineError::Destination { .. }), "{e:?}");
    let chain = format!("{e}: {}", std::error::Error::source(&e).expect("cause"));
    assert!(
        chain.contains("app web: refusing its destination")
            && chain.contains("https://prod.example")
            && chain.contains("https://127.0.0.1:6443"),
        "{chain}"
    );
    let e = resolve(
        &AppDef {
            target: Some("cluster".into()),
            ..def.clone()
        },
        &s,
    )
    .expect_err("bad target");
    assert!(e.to_string().contains("use --target dir:PATH"), "{e}");
}

#[test]
fn userinfo_changes_neither_the_name_nor_what_plugins_see() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let s = settings(tmp.path());
    // Nothing listens on port 9: the fetch fails, after the name is made.
    let name_of = |repo: &str| match resolve(&flags(repo, "apps/web"), &s) {
        Err(EngineError::Source { app, .. }) => app,
        other => panic!("{repo}: {other:?}"),
    };
    let plain = name_of("https://127.0.0.1:9/r");
    assert!(plain.starts_with("web-"), "{plain}");
    assert_eq!(name_of("https://bob:pw@127.0.0.1:9/r.git"), plain);
    assert_eq!(name_of("HTTPS://127.0.0.1:9/r/"), plain);
    assert_ne!(name_of("https://127.0.0.1:9/other"), plain);
}

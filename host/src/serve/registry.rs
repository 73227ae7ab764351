//! The apps the service keeps in sync, from a directory of Application
//! files (`--apps DIR`).
//!
//! The directory is scanned (recursively, `*.yaml` and `*.yml`) every
//! second or so and compared with the last scan by file content, so an
//! editor's write-then-rename, a `git pull` of a whole tree, and a file
//! replaced by another with the same name are all seen; a scan of a
//! thousand small files takes a few milliseconds. A scan yields
//! [`Change`]s keyed by file:
//!
//! - a new or changed file that parses: its app is added or updated;
//! - a file that no longer parses: its app (by the name it had, or the
//!   file's stem the first time) keeps its objects and is marked with the
//!   parse error, so a typo never deletes anything;
//! - a removed file: its app is removed; its objects stay unless the
//!   Application asked for cascading deletion with Argo CD's
//!   `resources-finalizer.argocd.argoproj.io` finalizer.
//!
//! A file holds one Application, or several Flux Kustomizations (with
//! their GitRepositories): each Kustomization is an app of its own, keyed
//! `FILE#NAME` (a key whose parent is still the file's directory, the base
//! of relative paths). Two files naming the same app: the second (in path
//! order) is an error on its own file.

use crate::app::{self, Application};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Argo CD's finalizer asking for the app's objects to be deleted with it.
pub const CASCADE_FINALIZER: &str = "resources-finalizer.argocd.argoproj.io";

/// What one file holds now.
#[derive(Debug, Clone)]
pub enum Entry {
    /// An Application.
    App(Box<Application>),
    /// Not a valid Application; the message says why.
    Invalid(String),
}

/// One file's state: its app name, its content digest and what it holds.
#[derive(Debug, Clone)]
pub struct FileApp {
    /// The app's name (the file's stem while it has never parsed).
    pub name: String,
    /// SHA-256 of the file's bytes.
    pub digest: [u8; 32],
    /// The parsed Application or the error.
    pub entry: Entry,
}

/// A difference between two scans.
#[derive(Debug, Clone)]
pub enum Change {
    /// A file appeared or its content changed.
    Upsert(PathBuf, FileApp),
    /// A file is gone; its last state.
    Removed(PathBuf, FileApp),
}

/// The last scan of the directory.
#[derive(Debug, Default)]
pub struct Registry {
    dir: PathBuf,
    files: BTreeMap<PathBuf, FileApp>,
}

impl Registry {
    /// A registry of `dir`, not scanned yet.
    pub fn new(dir: &Path) -> Registry {
        Registry {
            dir: dir.to_path_buf(),
            files: BTreeMap::new(),
        }
    }

    /// Scan the directory and return what changed since the last scan. An
    /// unreadable directory is an error and changes nothing (a directory
    /// that vanished for a moment must not remove every app).
    pub fn scan(&mut self) -> std::io::Result<Vec<Change>> {
        let mut paths = Vec::new();
        collect(&self.dir, &mut paths, 0)?;
        paths.sort();
        let mut seen: BTreeMap<PathBuf, FileApp> = BTreeMap::new();
        let mut names: BTreeMap<String, PathBuf> = BTreeMap::new();
        let mut changes = Vec::new();
        for path in paths {
            let Ok(bytes) = std::fs::read(&path) else {
                // Vanished between the listing and the read: next scan.
                if let Some(old) = self.files.get(&path) {
                    seen.insert(path.clone(), old.clone());
                }
                continue;
            };
            let digest: [u8; 32] = Sha256::digest(&bytes).into();
            let olds: Vec<(PathBuf, FileApp)> = self
                .files
                .iter()
                .filter(|(k, _)| belongs_to(k, &path))
                .map(|(k, f)| (k.clone(), f.clone()))
                .collect();
            let states = if !olds.is_empty() && olds.iter().all(|(_, o)| o.digest == digest) {
                olds.clone()
            } else {
                parse(&path, &bytes, &olds, digest)
            };
            for (key, mut state) in states {
                let old = self.files.get(&key);
                if let Entry::App(_) = state.entry
                    && let Some(first) = names.get(&state.name)
                {
                    state.entry = Entry::Invalid(format!(
                        "{}: app {} is already defined by {}; app names must be unique",
                        path.display(),
                        state.name,
                        first.display()
                    ));
                }
                names.entry(state.name.clone()).or_insert(path.clone());
                if old.is_none_or(|o| o.digest != digest || !same_entry(o, &state)) {
                    changes.push(Change::Upsert(key.clone(), state.clone()));
                }
                seen.insert(key, state);
            }
        }
        for (path, old) in &self.files {
            if !seen.contains_key(path) {
                changes.push(Change::Removed(path.clone(), old.clone()));
            }
        }
        self.files = seen;
        Ok(changes)
    }
}

fn same_entry(a: &FileApp, b: &FileApp) -> bool {
    a.name == b.name
        && matches!(
            (&a.entry, &b.entry),
            (Entry::App(_), Entry::App(_)) | (Entry::Invalid(_), Entry::Invalid(_))
        )
}

/// Whether registry key `key` is file `path` or one of its apps
/// (`path#name`).
fn belongs_to(key: &Path, path: &Path) -> bool {
    key == path
        || key
            .as_os_str()
            .to_string_lossy()
            .strip_prefix(path.as_os_str().to_string_lossy().as_ref())
            .is_some_and(|rest| rest.starts_with('#'))
}

/// The apps file `path` holds now, by registry key. A file that does not
/// parse keeps the names (and keys) its apps had, each marked with the
/// error, or the file's stem the first time.
fn parse(
    path: &Path,
    bytes: &[u8],
    olds: &[(PathBuf, FileApp)],
    digest: [u8; 32],
) -> Vec<(PathBuf, FileApp)> {
    let file = path.display().to_string();
    let error = match std::str::from_utf8(bytes) {
        Ok(text) => match app::parse_all(text, &file) {
            Ok(apps) if !apps.is_empty() => {
                let several = apps.len() > 1;
                return apps
                    .into_iter()
                    .map(|a| {
                        let key = if several {
                            PathBuf::from(format!("{file}#{}", a.metadata.name))
                        } else {
                            path.to_path_buf()
                        };
                        let f = FileApp {
                            name: a.metadata.name.clone(),
                            digest,
                            entry: Entry::App(Box::new(a)),
                        };
                        (key, f)
                    })
                    .collect();
            }
            Ok(_) => format!("{file}: defines no app"),
            Err(e) => crate::error_chain(&e),
        },
        Err(_) => format!("{file}: not UTF-8 text"),
    };
    if olds.is_empty() {
        let name = path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| file.clone());
        return vec![(
            path.to_path_buf(),
            FileApp {
                name,
                digest,
                entry: Entry::Invalid(error),
            },
        )];
    }
    olds.iter()
        .map(|(k, o)| {
            let f = FileApp {
                name: o.name.clone(),
                digest,
                entry: Entry::Invalid(error.clone()),
            };
            (k.clone(), f)
        })
        .collect()
}

/// Files under `dir`, at most 8 directories deep, hidden ones skipped.
fn collect(dir: &Path, out: &mut Vec<PathBuf>, depth: usize) -> std::io::Result<()> {
    for e in std::fs::read_dir(dir)? {
        let e = e?;
        let name = e.file_name();
        let name = name.to_string_lossy();
        if name.starts_with('.') {
            continue;
        }
        let path = e.path();
        let kind = e.file_type()?;
        if kind.is_dir() || (kind.is_symlink() && path.is_dir()) {
            if depth < 8 {
                collect(&path, out, depth + 1)?;
            }
        } else if name.ends_with(".yaml") || name.ends_with(".yml") {
            out.push(path);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn app(name: &str, path: &str) -> String {
        format!(
            "apiVersion: sluice.dev/v1alpha1\nkind: Application\nmetadata: {{name: {name}}}\nspec:\n  source: {{repoURL: ., path: {path}}}\n"
        )
    }

    #[test]
    fn adds_changes_breaks_and_removes() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut r = Registry::new(dir.path());
        assert!(r.scan().expect("scan").is_empty());
        std::fs::write(dir.path().join("a.yaml"), app("web", "a")).expect("write");
        std::fs::write(dir.path().join("notes.txt"), "x").expect("write");
        let c = r.scan().expect("scan");
        assert!(matches!(&c[..], [Change::Upsert(_, f)] if f.name == "web"));
        assert!(
            r.scan().expect("scan").is_empty(),
            "unchanged file, no change"
        );

        std::fs::write(dir.path().join("a.yaml"), app("web", "b")).expect("write");
        let c = r.scan().expect("scan");
        assert!(
            matches!(&c[..], [Change::Upsert(_, FileApp { entry: Entry::App(a), .. })] if a.spec.source.path == "b")
        );

        // A typo keeps the app's name and says what is wrong.
        std::fs::write(dir.path().join("a.yaml"), app("web", "b") + "  bogus: 1\n").expect("write");
        let c = r.scan().expect("scan");
        match &c[..] {
            [
                Change::Upsert(
                    _,
                    FileApp {
                        name,
                        entry: Entry::Invalid(m),
                        ..
                    },
                ),
            ] => {
                assert_eq!(name, "web");
                assert!(m.contains("unknown field `bogus`"), "{m}");
            }
            other => panic!("{other:?}"),
        }

        std::fs::remove_file(dir.path().join("a.yaml")).expect("rm");
        let c = r.scan().expect("scan");
        assert!(matches!(&c[..], [Change::Removed(_, f)] if f.name == "web"));
    }

    #[test]
    fn a_duplicate_name_is_an_error_on_the_second_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir(dir.path().join("sub")).expect("mkdir");
        std::fs::write(dir.path().join("a.yaml"), app("web", "a")).expect("write");
        std::fs::write(dir.path().join("sub/b.yml"), app("web", "b")).expect("write");
        let mut r = Registry::new(dir.path());
        let c = r.scan().expect("scan");
        assert_eq!(c.len(), 2);
        match &c[1] {
            Change::Upsert(
                p,
                FileApp {
                    entry: Entry::Invalid(m),
                    ..
                },
            ) => {
                assert!(p.ends_with("sub/b.yml"));
                assert!(m.contains("app web is already defined by"), "{m}");
            }
            other => panic!("{other:?}"),
        }
    }

    fn kustomization(name: &str, deps: &str) -> String {
        format!(
            "apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata: {{name: {name}, namespace: flux-system}}\nspec:\n  interval: 5m\n  path: ./{name}\n  prune: true\n  sourceRef: {{kind: GitRepository, name: repo}}\n  dependsOn: [{deps}]\n"
        )
    }

    #[test]
    fn a_file_of_flux_kustomizations_is_one_app_each() {
        let dir = tempfile::tempdir().expect("tempdir");
        let repo = "apiVersion: source.toolkit.fluxcd.io/v1\nkind: GitRepository\nmetadata: {name: repo, namespace: flux-system}\nspec: {interval: 1m, url: https://git.example/r.git, ref: {branch: main}}\n";
        let text = format!(
            "{repo}---\n{}---\n{}",
            kustomization("infra", ""),
            kustomization("apps", "{name: infra}")
        );
        std::fs::write(dir.path().join("flux.yaml"), &text).expect("write");
        let mut r = Registry::new(dir.path());
        let c = r.scan().expect("scan");
        let keys: Vec<String> = c
            .iter()
            .map(|c| match c {
                Change::Upsert(k, f) if matches!(f.entry, Entry::App(_)) => k
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default(),
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(keys, ["flux.yaml#infra", "flux.yaml#apps"]);
        assert!(r.scan().expect("scan").is_empty());

        // A typo marks both apps, under their names, and removes neither.
        std::fs::write(
            dir.path().join("flux.yaml"),
            text.replace("prune: true", "prune: yes please"),
        )
        .expect("write");
        let c = r.scan().expect("scan");
        assert_eq!(c.len(), 2, "{c:?}");
        assert!(c.iter().all(|c| matches!(c, Change::Upsert(_, FileApp { entry: Entry::Invalid(_), name, .. }) if name == "apps" || name == "infra")), "{c:?}");

        // Back to one Kustomization: the other app is removed.
        std::fs::write(
            dir.path().join("flux.yaml"),
            format!("{repo}---\n{}", kustomization("infra", "")),
        )
        .expect("write");
        let c = r.scan().expect("scan");
        assert!(
            c.iter()
                .any(|c| matches!(c, Change::Removed(_, f) if f.name == "apps")),
            "{c:?}"
        );
        assert!(c.iter().any(|c| matches!(c, Change::Upsert(k, f) if f.name == "infra" && k.ends_with("flux.yaml"))), "{c:?}");
    }

    #[test]
    fn an_unreadable_directory_changes_nothing() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("a.yaml"), app("web", "a")).expect("write");
        let mut r = Registry::new(dir.path());
        assert_eq!(r.scan().expect("scan").len(), 1);
        let mut gone = Registry::new(&dir.path().join("missing"));
        assert!(gone.scan().is_err());
    }
}

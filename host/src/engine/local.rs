//! Local repositories (a directory, or a `file://` Git URL) must lie inside
//! the directory the app was defined in.
//!
//! An Application file can come from anywhere (a repository of app
//! definitions, a colleague, the service's app directory), and its
//! `repoURL` decides which files a renderer sees and what a sync applies.
//! A local `repoURL` is therefore confined to the Application file's
//! directory; for apps given by flags, to the working directory. The check
//! is made on canonical paths (symlinks resolved, `..` gone), so neither
//! `../..` nor a symlink leads out. Other roots are allowed explicitly
//! with `--allow-local-repo DIR` or `SLUICE_ALLOW_LOCAL_REPO` (a
//! `:`-separated list), which the refusal names.

use std::path::{Path, PathBuf};

/// Why a local repository was refused (the engine adds the app).
#[derive(Debug)]
pub(super) enum Refusal {
    /// It cannot be opened (missing, unreadable).
    Open(std::io::Error),
    /// It lies outside every allowed root.
    Outside {
        /// The canonical path.
        resolved: PathBuf,
    },
}

/// The canonical form of `repo` (relative to `base`), if it lies inside
/// `base` or one of `allowed` (absolute paths, or relative to the process's
/// working directory).
pub(super) fn confine(repo: &Path, base: &Path, allowed: &[PathBuf]) -> Result<PathBuf, Refusal> {
    let joined = base.join(repo);
    let resolved = joined.canonicalize().map_err(Refusal::Open)?;
    let inside = std::iter::once(base)
        .chain(allowed.iter().map(PathBuf::as_path))
        .filter_map(|root| root.canonicalize().ok())
        .any(|root| resolved.starts_with(root));
    if inside {
        Ok(resolved)
    } else {
        Err(Refusal::Outside { resolved })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inside_outside_symlinks_and_allowed_roots() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let base = tmp.path().join("apps");
        let outside = tmp.path().join("outside");
        std::fs::create_dir_all(base.join("repo")).expect("mkdir");
        std::fs::create_dir_all(&outside).expect("mkdir");
        let canon_outside = outside.canonicalize().expect("canon");

        let ok = confine(Path::new("repo"), &base, &[]).expect("inside");
        assert!(ok.ends_with("apps/repo"), "{}", ok.display());
        confine(Path::new("."), &base, &[]).expect("the base itself");

        for escape in [Path::new("../outside"), outside.as_path()] {
            match confine(escape, &base, &[]) {
                Err(Refusal::Outside { resolved }) => assert_eq!(resolved, canon_outside),
                other => panic!("{}: {other:?}", escape.display()),
            }
        }
        #[cfg(unix)]
        {
            std::os::unix::fs::symlink(&outside, base.join("link")).expect("symlink");
            assert!(matches!(
                confine(Path::new("link"), &base, &[]),
                Err(Refusal::Outside { .. })
            ));
        }
        // A sibling whose name starts with the base's is still outside.
        std::fs::create_dir_all(tmp.path().join("apps2")).expect("mkdir");
        assert!(matches!(
            confine(Path::new("../apps2"), &base, &[]),
            Err(Refusal::Outside { .. })
        ));
        let allowed = confine(
            Path::new("../outside"),
            &base,
            std::slice::from_ref(&outside),
        )
        .expect("allowed");
        assert_eq!(allowed, canon_outside);
        assert!(matches!(
            confine(Path::new("missing"), &base, &[]),
            Err(Refusal::Open(_))
        ));
    }
}

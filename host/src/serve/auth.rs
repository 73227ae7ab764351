//! Bearer tokens for the service's API.
//!
//! `--tokens FILE` holds one `ROLE TOKEN` per line (`read` or `write`;
//! blank lines and `#` comments skipped). A `write` token may do
//! everything a `read` token may. A request without a token, or with one
//! that matches none, is 401; a `read` token on a write route is 403.
//!
//! Tokens are compared in constant time: both sides are hashed with
//! SHA-256 first (so a token's length leaks nothing either) and every
//! configured token is compared, with `subtle`'s constant-time equality,
//! whether or not an earlier one matched. The file is read once at start;
//! it must not be readable by others, since anyone who can read it can
//! steer the service.

use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use subtle::ConstantTimeEq as _;

/// What a token may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Role {
    /// Read statuses, resources, diffs, history and events.
    Read,
    /// Also sync, refresh, roll back, pause and resume.
    Write,
}

/// The error returned by [`Tokens::load`] and [`Tokens::parse`].
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// The file cannot be read.
    #[error("cannot read the tokens file {}; check --tokens", file.display())]
    Read {
        /// The file.
        file: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// A line is not `ROLE TOKEN`.
    #[error(
        "tokens file {}, line {line}: {problem}; each line is `read TOKEN` or `write TOKEN`",
        file.display()
    )]
    Line {
        /// The file.
        file: PathBuf,
        /// The line number, from 1.
        line: usize,
        /// What is wrong with it.
        problem: String,
    },
    /// The file can be read by other users.
    #[error(
        "the tokens file {} can be read by other users; run `chmod 600 {}`",
        file.display(),
        file.display()
    )]
    Permissions {
        /// The file.
        file: PathBuf,
    },
}

/// The configured tokens, stored as SHA-256 digests.
#[derive(Clone, Default)]
pub struct Tokens {
    entries: Vec<([u8; 32], Role)>,
}

impl std::fmt::Debug for Tokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Tokens({} configured)", self.entries.len())
    }
}

fn digest(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

/// Shortest token accepted: guessing one must be hopeless.
pub const MIN_TOKEN_LEN: usize = 16;

impl Tokens {
    /// Read `file` (see the module docs); refused when others can read it.
    pub fn load(file: &Path) -> Result<Tokens, AuthError> {
        use std::os::unix::fs::PermissionsExt as _;
        let read = |source| AuthError::Read {
            file: file.to_path_buf(),
            source,
        };
        let meta = std::fs::metadata(file).map_err(read)?;
        if meta.permissions().mode() & 0o077 != 0 {
            return Err(AuthError::Permissions {
                file: file.to_path_buf(),
            });
        }
        let text = std::fs::read_to_string(file).map_err(read)?;
        Tokens::parse(file, &text)
    }

    /// Parse the text of a tokens file named `file`.
    pub fn parse(file: &Path, text: &str) -> Result<Tokens, AuthError> {
        let mut entries = Vec::new();
        for (i, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let bad = |problem: String| AuthError::Line {
                file: file.to_path_buf(),
                line: i + 1,
                problem,
            };
            let mut parts = line.split_whitespace();
            let (Some(role), Some(token), None) = (parts.next(), parts.next(), parts.next()) else {
                return Err(bad("expected two words".into()));
            };
            let role = match role {
                "read" => Role::Read,
                "write" => Role::Write,
                other => return Err(bad(format!("unknown role {other:?}"))),
            };
            if token.len() < MIN_TOKEN_LEN {
                return Err(bad(format!(
                    "the token is shorter than {MIN_TOKEN_LEN} characters"
                )));
            }
            entries.push((digest(token), role));
        }
        if entries.is_empty() {
            return Err(AuthError::Line {
                file: file.to_path_buf(),
                line: 0,
                problem: "no tokens".into(),
            });
        }
        Ok(Tokens { entries })
    }

    /// The role of `token`, comparing it with every configured token in
    /// constant time.
    pub fn role(&self, token: &str) -> Option<Role> {
        let d = digest(token);
        let mut found = None;
        for (t, role) in &self.entries {
            if bool::from(t.ct_eq(&d)) {
                // The strongest role wins when a token is listed twice.
                found = found.max(Some(*role));
            }
        }
        found
    }
}

/// The bearer token of an `Authorization` header value.
pub fn bearer(header: &str) -> Option<&str> {
    let (scheme, token) = header.trim().split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|t| !t.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_from_lines() {
        let t = Tokens::parse(
            Path::new("t"),
            "# ops\nread  rrrrrrrrrrrrrrrrrrrr\n\nwrite wwwwwwwwwwwwwwwwwwww\n",
        )
        .expect("parses");
        assert_eq!(t.role("rrrrrrrrrrrrrrrrrrrr"), Some(Role::Read));
        assert_eq!(t.role("wwwwwwwwwwwwwwwwwwww"), Some(Role::Write));
        assert_eq!(t.role("wwwwwwwwwwwwwwwwwww"), None);
        assert_eq!(t.role(""), None);
    }

    #[test]
    fn bad_lines_are_named() {
        let e = Tokens::parse(Path::new("t"), "read a b\n").expect_err("three words");
        assert!(
            e.to_string().contains("t, line 1: expected two words"),
            "{e}"
        );
        let e = Tokens::parse(Path::new("t"), "\nadmin xxxxxxxxxxxxxxxxxxxxx\n").expect_err("role");
        assert!(
            e.to_string().contains("line 2: unknown role \"admin\""),
            "{e}"
        );
        let e = Tokens::parse(Path::new("t"), "read short\n").expect_err("short");
        assert!(e.to_string().contains("shorter than 16"), "{e}");
        let e = Tokens::parse(Path::new("t"), "# nothing\n").expect_err("empty");
        assert!(e.to_string().contains("no tokens"), "{e}");
    }

    #[test]
    fn a_world_readable_file_is_refused() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = tempfile::tempdir().expect("tempdir");
        let f = dir.path().join("tokens");
        std::fs::write(&f, "read rrrrrrrrrrrrrrrrrrrr\n").expect("write");
        std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o644)).expect("chmod");
        let e = Tokens::load(&f).expect_err("readable by others");
        assert!(e.to_string().contains("chmod 600"), "{e}");
        std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o600)).expect("chmod");
        assert!(Tokens::load(&f).is_ok());
    }

    #[test]
    fn bearer_header() {
        assert_eq!(bearer("Bearer abc"), Some("abc"));
        assert_eq!(bearer("bearer  abc "), Some("abc"));
        assert_eq!(bearer("Basic abc"), None);
        assert_eq!(bearer("Bearer "), None);
    }
}

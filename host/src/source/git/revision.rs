//! Revisions: what a user may write, and how it is matched against the refs
//! a remote advertises. Pure: no I/O.

use gix::ObjectId;

/// A revision as understood by sluice.
#[derive(Debug, Clone, PartialEq)]
pub enum Revision {
    /// The remote's default branch (`HEAD`, or an empty revision).
    Head,
    /// A branch or tag name (`main`, `v1.2.0`), or a full ref
    /// (`refs/heads/main`). A hex string that names no ref is tried as an
    /// abbreviated commit id.
    Name(String),
    /// A full commit id.
    Commit(ObjectId),
    /// A semver constraint matched against tags, `v` prefix optional.
    Semver(semver::VersionReq),
}

/// A ref advertised by the remote, peeled to the object it finally names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteRef {
    /// Full name, such as `refs/heads/main` or `HEAD`.
    pub name: String,
    /// The peeled object id (the commit of an annotated tag).
    pub id: ObjectId,
    /// For a symbolic ref such as `HEAD`, the ref it points to.
    pub symref: Option<String>,
    /// For an annotated tag, the tag object's id (`None` for a
    /// lightweight tag and every other ref).
    pub tag: Option<ObjectId>,
}

/// What a revision resolved to on the remote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Choice {
    /// A ref and the commit it points to.
    Ref {
        /// Full ref name.
        name: String,
        /// Its commit.
        id: ObjectId,
    },
    /// A commit id no advertised ref points to; `name` is a ref that should
    /// contain it when one is known.
    Commit(ObjectId),
    /// An abbreviated id that matches no advertised tip; the history has
    /// to be fetched to find it.
    Prefix(String),
}

/// Why a revision was refused before asking the remote.
#[derive(Debug, thiserror::Error)]
pub enum RevisionError {
    /// Not a valid Git ref name.
    #[error("`{0}` is not a valid ref name")]
    RefName(String),
    /// Looks like a version constraint but is not one.
    #[error("`{0}` is not a version constraint (try `>=1.2.0 <2`, `~1.4` or `^2`)")]
    Constraint(String, #[source] Option<semver::Error>),
    /// A commit id that is not hexadecimal.
    #[error("`{0}` is not a commit id")]
    CommitId(String),
}

/// Why a revision matched nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NoMatch {
    /// No ref of that name; the text lists some that exist.
    Ref(String),
    /// No tag satisfies the constraint; the count of semver tags seen.
    Semver(usize),
    /// The remote has no `HEAD` (an empty repository).
    NoHead,
}

impl Revision {
    /// Parse what a user wrote.
    pub fn parse(raw: &str) -> Result<Revision, RevisionError> {
        let r = raw.trim();
        if r.is_empty() || r == "HEAD" {
            return Ok(Revision::Head);
        }
        if r.len() == 40 && r.bytes().all(|b| b.is_ascii_hexdigit()) {
            return ObjectId::from_hex(r.to_ascii_lowercase().as_bytes())
                .map(Revision::Commit)
                .map_err(|_| RevisionError::CommitId(r.to_string()));
        }
        if r.contains(['<', '>', '=', '~', '^', '*', ' ', ',']) || r.ends_with(".x") || r == "x" {
            return parse_constraint(r).map(Revision::Semver);
        }
        if r.starts_with('-')
            || r.contains("..")
            || r.contains(['\0', ':', '?', '[', '\\'])
            || r.ends_with('/')
        {
            return Err(RevisionError::RefName(r.to_string()));
        }
        Ok(Revision::Name(r.to_string()))
    }

    /// Pick the ref or commit this revision names among the remote's refs.
    pub fn choose(&self, refs: &[RemoteRef]) -> Result<Choice, NoMatch> {
        let find = |n: &str| refs.iter().find(|r| r.name == n);
        match self {
            Revision::Head => {
                let head = find("HEAD").ok_or(NoMatch::NoHead)?;
                Ok(Choice::Ref {
                    name: head.symref.clone().unwrap_or_else(|| "HEAD".into()),
                    id: head.id,
                })
            }
            Revision::Name(n) => {
                let candidates = if n.starts_with("refs/") {
                    vec![n.clone()]
                } else {
                    vec![
                        format!("refs/heads/{n}"),
                        format!("refs/tags/{n}"),
                        format!("refs/{n}"),
                    ]
                };
                if let Some(r) = candidates.iter().find_map(|c| find(c)) {
                    return Ok(Choice::Ref {
                        name: r.name.clone(),
                        id: r.id,
                    });
                }
                if (4..40).contains(&n.len()) && n.bytes().all(|b| b.is_ascii_hexdigit()) {
                    let p = n.to_ascii_lowercase();
                    let mut hits: Vec<&RemoteRef> = refs
                        .iter()
                        .filter(|r| r.id.to_hex().to_string().starts_with(&p))
                        .collect();
                    hits.sort_by_key(|r| rank(&r.name));
                    hits.dedup_by_key(|r| r.id);
                    return match hits.as_slice() {
                        [one] => Ok(Choice::Ref {
                            name: one.name.clone(),
                            id: one.id,
                        }),
                        _ => Ok(Choice::Prefix(p)),
                    };
                }
                Err(NoMatch::Ref(nearby(refs)))
            }
            Revision::Commit(id) => {
                let mut tips: Vec<&RemoteRef> = refs.iter().filter(|r| r.id == *id).collect();
                tips.sort_by_key(|r| rank(&r.name));
                Ok(match tips.first() {
                    Some(r) => Choice::Ref {
                        name: r.name.clone(),
                        id: *id,
                    },
                    None => Choice::Commit(*id),
                })
            }
            Revision::Semver(req) => {
                let mut best: Option<(semver::Version, &RemoteRef)> = None;
                let mut seen = 0;
                for r in refs {
                    let Some(tag) = r.name.strip_prefix("refs/tags/") else {
                        continue;
                    };
                    let Some(v) = tag_version(tag) else { continue };
                    seen += 1;
                    if !req.matches(&v) {
                        continue;
                    }
                    let better = match &best {
                        None => true,
                        Some((bv, br)) => v > *bv || (v == *bv && r.name < br.name),
                    };
                    if better {
                        best = Some((v, r));
                    }
                }
                best.map(|(_, r)| Choice::Ref {
                    name: r.name.clone(),
                    id: r.id,
                })
                .ok_or(NoMatch::Semver(seen))
            }
        }
    }
}

/// Branches before tags before anything else, so a commit is reported as
/// coming from the most natural ref.
fn rank(name: &str) -> u8 {
    if name.starts_with("refs/heads/") {
        0
    } else if name.starts_with("refs/tags/") {
        1
    } else if name == "HEAD" {
        3
    } else {
        2
    }
}

fn nearby(refs: &[RemoteRef]) -> String {
    let mut names: Vec<&str> = refs
        .iter()
        .filter_map(|r| {
            r.name
                .strip_prefix("refs/heads/")
                .or_else(|| r.name.strip_prefix("refs/tags/"))
        })
        .collect();
    names.sort_unstable();
    names.dedup();
    if names.is_empty() {
        return String::new();
    }
    let more = if names.len() > 8 {
        format!(" and {} more", names.len() - 8)
    } else {
        String::new()
    };
    names.truncate(8);
    format!(" (it has: {}{more})", names.join(", "))
}

/// The version a tag names: `1.2.3` or `v1.2.3`.
pub fn tag_version(tag: &str) -> Option<semver::Version> {
    let t = tag.strip_prefix(['v', 'V']).unwrap_or(tag);
    semver::Version::parse(t).ok()
}

/// `>=1.2.0 <2`, `~1.4`, `^v2`, `>= 1.0, < 2`: npm-style spaces become
/// the commas the `semver` crate wants; `v` after an operator is dropped.
fn parse_constraint(raw: &str) -> Result<semver::VersionReq, RevisionError> {
    let mut parts: Vec<String> = Vec::new();
    let mut pending_op = String::new();
    for tok in raw.split([' ', ',']).filter(|t| !t.is_empty()) {
        if tok.chars().all(|c| "<>=~^".contains(c)) {
            pending_op.push_str(tok);
            continue;
        }
        let op_len = tok
            .find(|c: char| !"<>=~^".contains(c))
            .unwrap_or(tok.len());
        let (op, ver) = tok.split_at(op_len);
        let ver = ver.strip_prefix(['v', 'V']).unwrap_or(ver);
        parts.push(format!("{pending_op}{op}{ver}"));
        pending_op.clear();
    }
    if !pending_op.is_empty() || parts.is_empty() {
        return Err(RevisionError::Constraint(raw.to_string(), None));
    }
    semver::VersionReq::parse(&parts.join(", "))
        .map_err(|e| RevisionError::Constraint(raw.to_string(), Some(e)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(n: u8) -> ObjectId {
        ObjectId::from_hex(format!("{n:02x}{}", "0".repeat(38)).as_bytes()).expect("hex")
    }

    fn refs() -> Vec<RemoteRef> {
        let r = |name: &str, n: u8| RemoteRef {
            name: name.into(),
            id: id(n),
            symref: None,
            tag: None,
        };
        vec![
            RemoteRef {
                name: "HEAD".into(),
                id: id(1),
                symref: Some("refs/heads/main".into()),
                tag: None,
            },
            r("refs/heads/main", 1),
            r("refs/tags/v1.2.0", 2),
            r("refs/tags/1.4.3", 3),
            r("refs/tags/v1.4.7", 4),
            r("refs/tags/v2.0.0", 5),
            r("refs/tags/v2.3.1", 6),
            r("refs/tags/v3.0.0-rc.1", 7),
            r("refs/tags/not-a-version", 8),
        ]
    }

    fn pick(rev: &str) -> String {
        match Revision::parse(rev).expect("parse").choose(&refs()) {
            Ok(Choice::Ref { name, .. }) => name,
            other => format!("{other:?}"),
        }
    }

    #[test]
    fn semver_constraints_pick_the_highest_match() {
        assert_eq!(pick(">=1.2.0 <2"), "refs/tags/v1.4.7");
        assert_eq!(pick("~1.4"), "refs/tags/v1.4.7");
        assert_eq!(pick("~1.4.3, <1.4.5"), "refs/tags/1.4.3");
        assert_eq!(pick("^2"), "refs/tags/v2.3.1");
        assert_eq!(pick("^v2"), "refs/tags/v2.3.1");
        assert_eq!(pick(">= v1.0.0"), "refs/tags/v2.3.1");
        assert_eq!(pick("^4"), "Err(Semver(6))");
    }

    #[test]
    fn names_heads_and_commits() {
        assert_eq!(pick("HEAD"), "refs/heads/main");
        assert_eq!(pick("main"), "refs/heads/main");
        assert_eq!(pick("v1.2.0"), "refs/tags/v1.2.0");
        assert_eq!(pick("refs/tags/v2.0.0"), "refs/tags/v2.0.0");
        assert_eq!(pick(&id(5).to_string()), "refs/tags/v2.0.0");
        assert_eq!(pick("0500"), "refs/tags/v2.0.0");
        assert_eq!(pick("abcd1234"), "Ok(Prefix(\"abcd1234\"))");
        assert!(pick("nope").contains("it has: 1.4.3, main"));
        assert!(Revision::parse("a..b").is_err());
    }
}

//! Signed commits and tags: check a resolved revision's signatures against
//! a file of trusted keys before anything is rendered from it.
//!
//! ```no_run
//! use sluice::source::git::verify::{self, Keyring, Mode, Policy};
//! use sluice::source::{self, SourceSpec};
//! let spec = SourceSpec {
//!     repo: "https://git.example/infra.git".into(),
//!     revision: "main".into(),
//!     recurse_submodules: false,
//! };
//! let resolved = source::resolve(&spec, &source::Options::default())
//!     .expect("the repository resolves");
//! let keys = Keyring::from_file("keys/trusted.asc".as_ref())?;
//! let signer = verify::check(&resolved, &Policy { mode: Mode::Head, keys })?;
//! println!("{} signed by {}", resolved.commit, signer.commit.unwrap_or_default());
//! # Ok::<(), verify::VerifyError>(())
//! ```
//!
//! **What is checked** ([`Mode`], Flux's names): `HEAD` checks the commit
//! the revision resolved to; `Tag` checks the annotated tag the revision
//! names (a branch, a commit id or a lightweight tag is refused: none of
//! them carries a tag signature); `TagAndHEAD` checks both.
//!
//! **Formats.** Git keeps a commit's signature in its `gpgsig` header and a
//! tag's at the end of its message; both are detached signatures over the
//! object without the signature. OpenPGP signatures are verified with rPGP
//! (the `pgp` crate), SSH signatures (`gpg.format ssh`, namespace `git`)
//! with the `ssh-key` crate's `sshsig` support. Nothing is shelled out and
//! nothing reads the user's GnuPG or SSH configuration: the keys file is
//! the whole trust.
//!
//! **The keys file** holds ASCII-armored OpenPGP public keys (`gpg --armor
//! --export`), SSH `allowed_signers` lines (`principal [options] keytype
//! key`, as `ssh-keygen -Y verify` reads them), or bare SSH public key lines
//! (`keytype key [comment]`), in any mix; `#` starts a comment line. The
//! `namespaces="…"` option is honoured (a key whose namespaces leave out
//! `git` is not used); `cert-authority`, `valid-after` and `valid-before`
//! are refused rather than ignored, since ignoring them would trust more
//! than the file says. OpenPGP subkeys count when their binding signature
//! verifies. The same keys may come from a Kubernetes Secret instead of a
//! file ([`Keyring::from_secret`], for Flux's
//! `GitRepository.spec.verify.secretRef`): each data entry is read like a
//! keys file, and errors name the Secret and the entry.
//!
//! **Time: expiry and revocation (OpenPGP).** A signature that verifies
//! is then judged at its own creation time, not at the time of the check:
//! a Git history is read for years, and a commit signed while its key was
//! valid stays valid after the key expires (Git's `%G?` says `Y` for it:
//! a good signature made by a key that has expired since). So:
//! - the key (and the subkey that signed, if one did) must exist at the
//!   signature's time, and not have expired by then; the expiry in force
//!   is the one of its newest self-signature (subkey: binding signature)
//!   made at or before the signature, so an expiry set or extended later
//!   does not rewrite the past;
//! - a revocation for "superseded" or "retired" voids the signatures made
//!   after it; any other revocation (compromised, no reason given) voids
//!   every signature, whenever made — the owner said the key cannot be
//!   trusted, and a signature's date is the signer's claim;
//! - a signature dated more than [`MAX_CLOCK_SKEW`] after this host's
//!   clock is refused: expiry and revocation cannot be judged against a
//!   date that has not happened, and a signer could otherwise date a
//!   signature past a known revocation's soft cut-off. Five minutes covers
//!   ordinary clock skew between a signer's laptop and the host.
//!
//! Revocations and expiry dates are those in the keys given: an updated
//! key must be exported again. SSH keys carry no dates (and the
//! `allowed_signers` date options are refused, above).
//!
//! **Submodules** need no signature of their own: the checked commit's
//! tree records each submodule's commit by id (a gitlink), and the
//! submodule is fetched at exactly that id, so the superproject's
//! signature pins the submodule's content by hash (as Git's own
//! `verify-commit` and Flux do, only the superproject is checked).
//!
//! **Errors** name the object (commit id, or tag name and id) and why:
//! unsigned, signed by a key not in the file (or Secret), a signature that
//! does not verify (the object was changed after signing), a key that was
//! not valid at the signature's time (with its fingerprint and the date),
//! or a lightweight tag.

use super::error::Cause;
use gix::ObjectId;
use gix::bstr::ByteSlice;
use pgp::composed::{Deserializable, DetachedSignature, SignedPublicKey};
use pgp::types::KeyDetails;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Largest keys file read, so a wrong path (a log, a disk image) fails fast.
const MAX_KEYS_FILE: u64 = 4 << 20;

/// Which signatures are required (Flux's `GitRepository.spec.verify.mode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// The commit the revision resolves to must be signed.
    Head,
    /// The revision must name an annotated tag, and the tag must be signed.
    Tag,
    /// Both the tag and the commit it points to must be signed.
    TagAndHead,
}

impl std::fmt::Display for Mode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Mode::Head => "HEAD",
            Mode::Tag => "Tag",
            Mode::TagAndHead => "TagAndHEAD",
        })
    }
}

/// What to require, and whom to trust.
#[derive(Debug, Clone)]
pub struct Policy {
    /// Which objects must be signed.
    pub mode: Mode,
    /// The trusted keys.
    pub keys: Keyring,
}

/// One trusted SSH key, from an `allowed_signers` line.
#[derive(Debug, Clone)]
struct SshSigner {
    principals: String,
    key: ssh_key::PublicKey,
}

/// Where a [`Keyring`]'s keys came from, as errors name it: "the keys
/// file PATH" or "the Secret NAMESPACE/NAME".
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeysOrigin {
    /// A keys file (`spec.source.verify.keysFile`).
    File(PathBuf),
    /// A Kubernetes Secret (Flux's `GitRepository.spec.verify.secretRef`).
    Secret {
        /// The Secret's namespace.
        namespace: String,
        /// The Secret's name.
        name: String,
    },
}

impl std::fmt::Display for KeysOrigin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            KeysOrigin::File(p) => write!(f, "the keys file {}", p.display()),
            KeysOrigin::Secret { namespace, name } => {
                write!(f, "the Secret {namespace}/{name}")
            }
        }
    }
}

/// The trusted keys of a keys file (or of a Secret's entries).
#[derive(Clone)]
pub struct Keyring {
    origin: KeysOrigin,
    pgp: Vec<SignedPublicKey>,
    ssh: Vec<SshSigner>,
}

impl std::fmt::Debug for Keyring {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Keyring")
            .field("origin", &self.origin)
            .field("pgp", &self.pgp.len())
            .field("ssh", &self.ssh.len())
            .finish()
    }
}

/// Who signed what, after a successful [`check`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Signers {
    /// The commit's signer (OpenPGP fingerprint and user id, or SSH
    /// principal and key fingerprint), when the commit was checked.
    pub commit: Option<String>,
    /// The tag's signer, when the tag was checked.
    pub tag: Option<String>,
}

/// An annotated tag the revision resolved through, read from the cache.
#[derive(Debug, Clone)]
pub(crate) struct TagObject {
    pub id: ObjectId,
    pub data: Vec<u8>,
}

/// The signed objects of a resolved revision: the commit's raw bytes and,
/// when the revision named a tag, the tag's. Read by
/// [`resolve`](super::resolve) while the cache is locked, so [`check`]
/// needs no repository.
#[derive(Debug, Clone, Default)]
pub struct Material {
    pub(crate) commit: Option<(ObjectId, Vec<u8>)>,
    /// The tag ref (`refs/tags/…`) the revision resolved through.
    pub(crate) tag_ref: Option<String>,
    /// Its annotated tag object; `Err(id)` when the remote advertised one
    /// that is not in the cache.
    pub(crate) tag: Option<Result<TagObject, ObjectId>>,
}

impl Material {
    /// Read the commit and the annotated tag (`tag`, advertised for
    /// `ref_name`) from `repo`.
    pub(crate) fn read(
        repo: &gix::Repository,
        commit: ObjectId,
        ref_name: Option<&str>,
        tag: Option<ObjectId>,
    ) -> Material {
        let commit = repo
            .find_object(commit)
            .ok()
            .map(|o| (commit, o.data.clone()));
        let tag_ref = ref_name
            .filter(|n| n.starts_with("refs/tags/"))
            .map(str::to_string);
        let tag = tag.map(|id| match repo.find_object(id) {
            Ok(o) if o.kind == gix::object::Kind::Tag => Ok(TagObject {
                id,
                data: o.data.clone(),
            }),
            _ => Err(id),
        });
        Material {
            commit,
            tag_ref,
            tag,
        }
    }
}

/// Which object a message is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Object {
    /// A commit.
    Commit(String),
    /// An annotated tag: its name and object id.
    Tag(String, String),
}

impl std::fmt::Display for Object {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Object::Commit(id) => write!(f, "commit {id}"),
            Object::Tag(name, id) => write!(f, "tag {name} (object {id})"),
        }
    }
}

/// Why a keys file could not be used, or a revision's signatures were
/// refused. Every variant names the file or the object.
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    /// The keys file could not be read.
    #[error("keys file {}: cannot read it; check spec.source.verify.keysFile", path.display())]
    KeysRead {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// A part of the keys file (or of a Secret entry) is not a key sluice
    /// understands.
    #[error("{keys}: line {line}: {reason}")]
    KeysParse {
        /// The file, or the Secret and its entry.
        keys: String,
        /// The line (of the key block's start, for an OpenPGP key).
        line: usize,
        /// What is wrong.
        reason: String,
        /// The parser's error, when there is one.
        #[source]
        source: Option<Cause>,
    },
    /// The keys file (or Secret) holds no key at all.
    #[error(
        "{keys}: no OpenPGP public key block and no SSH key found; export keys with `gpg --armor --export KEYID` or list SSH keys as allowed_signers lines"
    )]
    KeysEmpty {
        /// Where the keys were looked for.
        keys: KeysOrigin,
    },
    /// The object carries no signature.
    #[error(
        "{url}: {object} is not signed, and spec.source.verify requires a signature; nothing from it was used"
    )]
    Unsigned {
        /// The repository URL.
        url: String,
        /// The object.
        object: Object,
    },
    /// The signature was made by a key the keys file does not hold.
    #[error(
        "{url}: {object} is signed by key {key}, which is not in {keys}; if that key is trusted, add its public key there"
    )]
    UnknownKey {
        /// The repository URL.
        url: String,
        /// The object.
        object: Object,
        /// The signer's key id, fingerprint or SSH key fingerprint.
        key: String,
        /// Where the trusted keys are.
        keys: Box<KeysOrigin>,
    },
    /// The signature does not verify with the key it names: the object was
    /// changed after signing, or the signature is corrupt.
    #[error(
        "{url}: {object}: the signature by key {key} does not verify; the object was changed after it was signed (or the signature is corrupt)"
    )]
    BadSignature {
        /// The repository URL.
        url: String,
        /// The object.
        object: Object,
        /// The key.
        key: String,
        /// What the verifier said.
        #[source]
        source: Cause,
    },
    /// The signature verifies, but the key (or subkey) that made it was
    /// not valid at the signature's time: expired, revoked, not created
    /// yet; or the signature is dated in the future (see the module docs).
    #[error(
        "{url}: {object} is signed by key {key}, but {reason}; nothing from it was used (sign again with a valid key; if the key's dates changed, export it again into the trusted keys)"
    )]
    KeyNotValid {
        /// The repository URL.
        url: String,
        /// The object.
        object: Object,
        /// The fingerprint of the key or subkey that made the signature.
        key: String,
        /// Why it was not valid (`the key expired on DATE, …`).
        reason: String,
    },
    /// The signature is neither OpenPGP nor SSH (X.509, say), or cannot
    /// be parsed.
    #[error("{url}: {object}: cannot read its signature")]
    Malformed {
        /// The repository URL.
        url: String,
        /// The object.
        object: Object,
        /// Why.
        #[source]
        source: Cause,
    },
    /// `Tag` or `TagAndHEAD` mode, but the revision is a lightweight tag,
    /// which carries no signature.
    #[error(
        "{url}: {tag} is a lightweight tag, which cannot carry a signature, and verify mode {mode} requires a signed tag; tag with `git tag -s` (annotated and signed)"
    )]
    LightweightTag {
        /// The repository URL.
        url: String,
        /// The tag ref.
        tag: String,
        /// The mode.
        mode: Mode,
    },
    /// `Tag` or `TagAndHEAD` mode, but the revision is not a tag.
    #[error(
        "{url}: verify mode {mode} requires targetRevision to name a tag, but {revision:?} resolved to {resolved}; use a tag, or verify mode HEAD"
    )]
    NotATag {
        /// The repository URL.
        url: String,
        /// The revision asked for.
        revision: String,
        /// What it resolved to (a branch, or a commit id).
        resolved: String,
        /// The mode.
        mode: Mode,
    },
    /// An object to check is not in the cache (should not happen: the
    /// resolve just fetched it).
    #[error("{url}: {object} is not in the Git cache; try again")]
    Missing {
        /// The repository URL.
        url: String,
        /// The object.
        object: Object,
    },
}

impl Keyring {
    /// Read a keys file (see the module docs for its format).
    pub fn from_file(path: &Path) -> Result<Keyring, VerifyError> {
        use std::io::Read;
        let read_err = |source| VerifyError::KeysRead {
            path: path.to_path_buf(),
            source,
        };
        let mut text = String::new();
        std::fs::File::open(path)
            .map_err(read_err)?
            .take(MAX_KEYS_FILE + 1)
            .read_to_string(&mut text)
            .map_err(read_err)?;
        let origin = KeysOrigin::File(path.to_path_buf());
        if text.len() as u64 > MAX_KEYS_FILE {
            return Err(VerifyError::KeysParse {
                keys: origin.to_string(),
                line: 1,
                reason: format!("larger than {MAX_KEYS_FILE} bytes; is this the right file?"),
                source: None,
            });
        }
        Keyring::parse(&text, path)
    }

    /// Parse keys from `text`; `path` names the file in errors.
    pub fn parse(text: &str, path: &Path) -> Result<Keyring, VerifyError> {
        let origin = KeysOrigin::File(path.to_path_buf());
        let mut ring = Keyring::empty(origin.clone());
        ring.add(text, &origin.to_string())?;
        ring.non_empty()
    }

    /// The keys of a Secret's data entries (Flux's
    /// `GitRepository.spec.verify.secretRef`: one ASCII-armored public key
    /// per entry, named like `author1.asc`), each entry read like a keys
    /// file. An entry that is not valid UTF-8 or not a key is an error
    /// naming the Secret and the entry; a Secret with no key at all is
    /// [`VerifyError::KeysEmpty`].
    pub fn from_secret<'a>(
        namespace: &str,
        name: &str,
        entries: impl IntoIterator<Item = (&'a str, &'a [u8])>,
    ) -> Result<Keyring, VerifyError> {
        let origin = KeysOrigin::Secret {
            namespace: namespace.to_string(),
            name: name.to_string(),
        };
        let mut ring = Keyring::empty(origin.clone());
        for (key, bytes) in entries {
            let label = format!("{origin}, entry {key}");
            let text = std::str::from_utf8(bytes).map_err(|e| VerifyError::KeysParse {
                keys: label.clone(),
                line: 1,
                reason: "not text; put one ASCII-armored public key (gpg --armor --export) in each entry".into(),
                source: Some(Cause(e.to_string())),
            })?;
            if text.len() as u64 > MAX_KEYS_FILE {
                return Err(VerifyError::KeysParse {
                    keys: label,
                    line: 1,
                    reason: format!("larger than {MAX_KEYS_FILE} bytes"),
                    source: None,
                });
            }
            ring.add(text, &label)?;
        }
        ring.non_empty()
    }

    /// Where the keys came from.
    pub fn origin(&self) -> &KeysOrigin {
        &self.origin
    }

    fn empty(origin: KeysOrigin) -> Keyring {
        Keyring {
            origin,
            pgp: Vec::new(),
            ssh: Vec::new(),
        }
    }

    fn non_empty(self) -> Result<Keyring, VerifyError> {
        if self.pgp.is_empty() && self.ssh.is_empty() {
            return Err(VerifyError::KeysEmpty { keys: self.origin });
        }
        Ok(self)
    }

    /// Add the keys of `text`; `label` names it in errors.
    fn add(&mut self, text: &str, label: &str) -> Result<(), VerifyError> {
        const BEGIN: &str = "-----BEGIN PGP PUBLIC KEY BLOCK-----";
        const END: &str = "-----END PGP PUBLIC KEY BLOCK-----";
        let err = |line: usize, reason: String, source: Option<Cause>| VerifyError::KeysParse {
            keys: label.to_string(),
            line,
            reason,
            source,
        };
        let mut lines = text.lines().enumerate();
        while let Some((i, raw)) = lines.next() {
            let line = raw.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            if line == BEGIN {
                let mut block = String::from(BEGIN);
                block.push('\n');
                let mut closed = false;
                for (_, l) in lines.by_ref() {
                    block.push_str(l.trim());
                    block.push('\n');
                    if l.trim() == END {
                        closed = true;
                        break;
                    }
                }
                if !closed {
                    return Err(err(i + 1, format!("no {END} line"), None));
                }
                let (key, _) = SignedPublicKey::from_string(&block).map_err(|e| {
                    err(
                        i + 1,
                        "not a valid OpenPGP public key".into(),
                        Some(Cause(e.to_string())),
                    )
                })?;
                key.verify_bindings().map_err(|e| {
                    err(
                        i + 1,
                        format!(
                            "OpenPGP key {} has a self-signature that does not verify",
                            key.fingerprint()
                        ),
                        Some(Cause(e.to_string())),
                    )
                })?;
                self.pgp.push(key);
                continue;
            }
            if line.starts_with("-----BEGIN PGP PRIVATE KEY BLOCK-----") {
                return Err(err(
                    i + 1,
                    "a PRIVATE key block; put only public keys here (gpg --armor --export)".into(),
                    None,
                ));
            }
            if let Some(signer) = parse_ssh_line(line).map_err(|r| err(i + 1, r, None))? {
                self.ssh.push(signer);
            }
        }
        Ok(())
    }

    /// How many OpenPGP keys and SSH keys the file holds.
    pub fn len(&self) -> (usize, usize) {
        (self.pgp.len(), self.ssh.len())
    }

    /// Whether the file holds no key (never, for a parsed file).
    pub fn is_empty(&self) -> bool {
        self.pgp.is_empty() && self.ssh.is_empty()
    }
}

/// Split a line into whitespace-separated tokens, keeping double-quoted
/// parts (`namespaces="git,file"`) whole.
fn tokens(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    for c in line.chars() {
        match c {
            '"' => {
                quoted = !quoted;
                cur.push(c);
            }
            c if c.is_whitespace() && !quoted => {
                if !cur.is_empty() {
                    out.push(std::mem::take(&mut cur));
                }
            }
            c => cur.push(c),
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

fn is_key_type(t: &str) -> bool {
    t.starts_with("ssh-")
        || t.starts_with("ecdsa-sha2-")
        || t.starts_with("sk-ssh-")
        || t.starts_with("sk-ecdsa-")
}

/// One `allowed_signers` line (or a bare public key line); `None` when the
/// key is restricted to namespaces other than `git`.
fn parse_ssh_line(line: &str) -> Result<Option<SshSigner>, String> {
    let t = tokens(line);
    let Some(k) = t.iter().position(|t| is_key_type(t)) else {
        return Err(
            "neither an OpenPGP key block nor an SSH allowed_signers line (`principal keytype key`)"
                .into(),
        );
    };
    let Some(blob) = t.get(k + 1) else {
        return Err(format!("{} with no key after it", t[k]));
    };
    let key = ssh_key::PublicKey::from_openssh(&format!("{} {blob}", t[k]))
        .map_err(|e| format!("not a valid SSH public key: {e}"))?;
    let principals = match k {
        0 => "*".to_string(),
        _ => t[0].trim_matches('"').to_string(),
    };
    let options = if k > 1 {
        t[1..k].join(" ")
    } else {
        String::new()
    };
    let mut git_allowed = true;
    for opt in split_options(&options) {
        let (name, value) = opt.split_once('=').unwrap_or((opt.as_str(), ""));
        match name.to_ascii_lowercase().as_str() {
            "namespaces" => {
                git_allowed = value
                    .trim_matches('"')
                    .split(',')
                    .any(|n| n.trim() == "git" || n.trim() == "*");
            }
            other @ ("valid-after" | "valid-before") => {
                return Err(format!(
                    "the allowed_signers option `{other}` is not supported: an SSH signature carries no time of its own to check it against; remove the option (and remove the line when the key is no longer trusted)"
                ));
            }
            other => {
                return Err(format!(
                    "the allowed_signers option `{other}` is not supported; remove it (sluice trusts exactly the keys listed)"
                ));
            }
        }
    }
    Ok(git_allowed.then_some(SshSigner { principals, key }))
}

/// Split `a="x,y",b` on commas outside quotes.
fn split_options(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    for c in s.chars() {
        match c {
            '"' => {
                quoted = !quoted;
                cur.push(c);
            }
            ',' | ' ' if !quoted => {
                if !cur.is_empty() {
                    out.push(std::mem::take(&mut cur));
                }
            }
            c => cur.push(c),
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// Check `resolved`'s signatures as `policy` requires. `Ok` names who
/// signed; any error means the revision must not be used.
pub fn check(resolved: &super::Resolved, policy: &Policy) -> Result<Signers, VerifyError> {
    let url = resolved.url.clone();
    let m = &resolved.material;
    let mut signers = Signers::default();
    let want_tag = matches!(policy.mode, Mode::Tag | Mode::TagAndHead);
    let want_head = matches!(policy.mode, Mode::Head | Mode::TagAndHead);
    if want_tag {
        let Some(tag_ref) = &m.tag_ref else {
            return Err(VerifyError::NotATag {
                url,
                revision: resolved.revision.clone(),
                resolved: match &resolved.ref_name {
                    Some(r) => format!("{r} (commit {})", resolved.commit),
                    None => format!("commit {}", resolved.commit),
                },
                mode: policy.mode,
            });
        };
        let name = tag_ref.trim_start_matches("refs/tags/").to_string();
        let tag = match &m.tag {
            None => {
                return Err(VerifyError::LightweightTag {
                    url,
                    tag: tag_ref.clone(),
                    mode: policy.mode,
                });
            }
            Some(Err(id)) => {
                return Err(VerifyError::Missing {
                    url,
                    object: Object::Tag(name, id.to_string()),
                });
            }
            Some(Ok(t)) => t,
        };
        let object = Object::Tag(name, tag.id.to_string());
        let Some((start, _)) = find_armor(&tag.data) else {
            return Err(VerifyError::Unsigned { url, object });
        };
        let (signed, sig) = tag.data.split_at(start);
        signers.tag = Some(verify_one(&policy.keys, &url, object, signed, sig)?);
    }
    if want_head {
        let Some((id, data)) = &m.commit else {
            return Err(VerifyError::Missing {
                url,
                object: Object::Commit(resolved.commit.clone()),
            });
        };
        let object = Object::Commit(id.to_string());
        let parsed = gix::objs::CommitRefIter::signature(data, id.kind()).map_err(|e| {
            VerifyError::Malformed {
                url: url.clone(),
                object: object.clone(),
                source: Cause(e.to_string()),
            }
        })?;
        let Some((sig, signed)) = parsed else {
            return Err(VerifyError::Unsigned { url, object });
        };
        let signed = signed.to_bstring();
        signers.commit = Some(verify_one(&policy.keys, &url, object, &signed, &sig)?);
    }
    Ok(signers)
}

/// Where the last armored signature starts at a line boundary, as Git's
/// `parse_signed_buffer()` finds it.
fn find_armor(data: &[u8]) -> Option<(usize, &'static str)> {
    const MARKERS: [(&[u8], &str); 4] = [
        (b"-----BEGIN PGP SIGNATURE-----", "pgp"),
        (b"-----BEGIN PGP MESSAGE-----", "pgp"),
        (b"-----BEGIN SSH SIGNATURE-----", "ssh"),
        (b"-----BEGIN SIGNED MESSAGE-----", "x509"),
    ];
    let mut found = None;
    let mut offset = 0;
    while offset < data.len() {
        let rest = &data[offset..];
        if let Some((_, kind)) = MARKERS.iter().find(|(m, _)| rest.starts_with(m)) {
            found = Some((offset, *kind));
        }
        offset = rest
            .find_byte(b'\n')
            .map_or(data.len(), |nl| offset + nl + 1);
    }
    found
}

/// Verify one detached signature `sig` over `signed`; the signer's name.
fn verify_one(
    keys: &Keyring,
    url: &str,
    object: Object,
    signed: &[u8],
    sig: &[u8],
) -> Result<String, VerifyError> {
    let malformed = |object: Object, why: String| VerifyError::Malformed {
        url: url.to_string(),
        object,
        source: Cause(why),
    };
    match find_armor(sig) {
        Some((0, "pgp")) => {
            let text = sig.to_str().map_err(|_| {
                malformed(object.clone(), "the signature is not ASCII armor".into())
            })?;
            let (sig, _) = DetachedSignature::from_string(text)
                .map_err(|e| malformed(object.clone(), format!("OpenPGP: {e}")))?;
            verify_pgp(keys, url, object, signed, &sig)
        }
        Some((0, "ssh")) => {
            let sig = ssh_key::SshSig::from_pem(sig)
                .map_err(|e| malformed(object.clone(), format!("SSH signature: {e}")))?;
            verify_ssh(keys, url, object, signed, &sig)
        }
        Some((0, kind)) => Err(malformed(
            object,
            format!("{kind} signatures are not supported; sign with OpenPGP or SSH"),
        )),
        _ => Err(malformed(object, "no signature armor".into())),
    }
}

fn verify_pgp(
    keys: &Keyring,
    url: &str,
    object: Object,
    signed: &[u8],
    sig: &DetachedSignature,
) -> Result<String, VerifyError> {
    let s = &sig.signature;
    let ids = s.issuer_key_id();
    let fprs = s.issuer_fingerprint();
    let issuer = fprs
        .first()
        .map(|f| f.to_string())
        .or_else(|| ids.first().map(|i| i.to_string()))
        .unwrap_or_else(|| "(no issuer recorded)".into());
    let names = |k: &dyn KeyDetails| (k.legacy_key_id(), k.fingerprint());
    let mut failure: Option<(String, String)> = None;
    for key in &keys.pgp {
        let who = || {
            let user = key
                .details
                .users
                .first()
                .map(|u| String::from_utf8_lossy(u.id.id()).into_owned())
                .unwrap_or_default();
            format!("OpenPGP {} {user}", key.fingerprint())
                .trim_end()
                .to_string()
        };
        let matches = |(id, fpr): (pgp::types::KeyId, pgp::types::Fingerprint)| {
            (ids.is_empty() && fprs.is_empty()) || ids.contains(&&id) || fprs.contains(&&fpr)
        };
        type Attempt<'k> = (
            pgp::types::Fingerprint,
            Option<&'k pgp::composed::SignedPublicSubKey>,
            pgp::errors::Result<()>,
        );
        let mut attempts: Vec<Attempt<'_>> = Vec::new();
        if matches(names(&key.primary_key)) {
            attempts.push((key.fingerprint(), None, s.verify(&key.primary_key, signed)));
        }
        for sub in &key.public_subkeys {
            if matches(names(&sub.key)) {
                attempts.push((sub.key.fingerprint(), Some(sub), s.verify(&sub.key, signed)));
            }
        }
        for (fpr, sub, result) in attempts {
            match result {
                Ok(()) => {
                    return match validity(key, sub, s, SystemTime::now()) {
                        Ok(()) => Ok(who()),
                        Err(reason) => Err(VerifyError::KeyNotValid {
                            url: url.to_string(),
                            object,
                            key: format!("OpenPGP {fpr}"),
                            reason,
                        }),
                    };
                }
                Err(e) => failure = Some((fpr.to_string(), e.to_string())),
            }
        }
    }
    match failure {
        Some((key, why)) => Err(VerifyError::BadSignature {
            url: url.to_string(),
            object,
            key,
            source: Cause(why),
        }),
        None => Err(VerifyError::UnknownKey {
            url: url.to_string(),
            object,
            key: format!("OpenPGP {issuer}"),
            keys: Box::new(keys.origin.clone()),
        }),
    }
}

/// How far a signature may be dated after this host's clock (clock skew
/// between the signer and the host).
pub const MAX_CLOCK_SKEW: Duration = Duration::from_secs(5 * 60);

/// `t` as RFC 3339 (UTC), for messages.
fn date(t: SystemTime) -> String {
    let secs = t
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
    k8s_openapi::jiff::Timestamp::from_second(secs)
        .map_or_else(|_| format!("{secs} seconds after 1970"), |t| t.to_string())
}

/// Whether `key` (and `sub`, the subkey that made `sig`, if it was one)
/// was valid when `sig` was made; `Err` says why not. See the module docs
/// for the rules.
fn validity(
    key: &SignedPublicKey,
    sub: Option<&pgp::composed::SignedPublicSubKey>,
    sig: &pgp::packet::Signature,
    now: SystemTime,
) -> Result<(), String> {
    use pgp::packet::SignatureType as T;
    let Some(made) = sig.created().map(SystemTime::from) else {
        return Err("the signature carries no creation time".into());
    };
    if made > now + MAX_CLOCK_SKEW {
        return Err(format!(
            "the signature is dated {}, more than {} minutes after this host's clock ({}); check the signer's or this host's clock",
            date(made),
            MAX_CLOCK_SKEW.as_secs() / 60,
            date(now)
        ));
    }
    // The primary key: revocations, creation, expiry.
    revoked(&key.details.revocation_signatures, made, "key")?;
    let self_sigs = key
        .details
        .direct_signatures
        .iter()
        .chain(key.details.users.iter().flat_map(|u| &u.signatures))
        .filter(|s| {
            matches!(
                s.typ(),
                Some(T::Key | T::CertGeneric | T::CertPersona | T::CertCasual | T::CertPositive)
            )
        });
    alive(key.primary_key.created_at().into(), self_sigs, made, "key")?;
    // The subkey: its revocations, creation, expiry (its binding's).
    if let Some(sub) = sub {
        let revocations: Vec<_> = sub
            .signatures
            .iter()
            .filter(|s| s.typ() == Some(T::SubkeyRevocation))
            .cloned()
            .collect();
        revoked(&revocations, made, "subkey")?;
        let bindings = sub
            .signatures
            .iter()
            .filter(|s| s.typ() == Some(T::SubkeyBinding));
        alive(sub.key.created_at().into(), bindings, made, "subkey")?;
    }
    Ok(())
}

/// `Err` when one of `revocations` (already verified when the key was
/// read) applies to a signature made at `made`. A "superseded" or
/// "retired" revocation applies from its date on; any other reason (none
/// given, compromised) to every signature, whenever made: the key's owner
/// said it cannot be trusted.
fn revoked(
    revocations: &[pgp::packet::Signature],
    made: SystemTime,
    what: &str,
) -> Result<(), String> {
    use pgp::packet::RevocationCode as R;
    for r in revocations {
        let when = r.created().map(SystemTime::from);
        let code = r.revocation_reason_code();
        let soft = matches!(code, Some(R::KeySuperseded | R::KeyRetired));
        if soft && when.is_some_and(|w| w > made) {
            continue;
        }
        let reason = match code {
            None | Some(R::NoReason) => "no reason given".to_string(),
            Some(R::KeySuperseded) => "key superseded".to_string(),
            Some(R::KeyCompromised) => "key compromised".to_string(),
            Some(R::KeyRetired) => "key retired".to_string(),
            Some(other) => format!("reason code {}", u8::from(*other)),
        };
        let text = r
            .revocation_reason_string()
            .map(|b| String::from_utf8_lossy(b).trim().to_string())
            .filter(|t| !t.is_empty())
            .map(|t| format!(": {t}"))
            .unwrap_or_default();
        let since = when.map(|w| format!(" on {}", date(w))).unwrap_or_default();
        return Err(if soft {
            format!(
                "the {what} was revoked{since} ({reason}{text}), before the signature was made ({})",
                date(made)
            )
        } else {
            format!(
                "the {what} was revoked{since} ({reason}{text}), which voids all its signatures"
            )
        });
    }
    Ok(())
}

/// `Err` when a key created at `created` did not exist yet or had expired
/// at `made`. Its expiry is the one in force then: the newest of its
/// self-signatures `sigs` made at or before `made` (the oldest, when the
/// signature predates them all).
fn alive<'s>(
    created: SystemTime,
    sigs: impl Iterator<Item = &'s pgp::packet::Signature>,
    made: SystemTime,
    what: &str,
) -> Result<(), String> {
    if made < created {
        return Err(format!(
            "the signature is dated {}, before the {what} was created ({})",
            date(made),
            date(created)
        ));
    }
    let dated: Vec<(SystemTime, &pgp::packet::Signature)> = sigs
        .filter_map(|s| Some((SystemTime::from(s.created()?), s)))
        .collect();
    let in_force = dated
        .iter()
        .filter(|(t, _)| *t <= made)
        .max_by_key(|(t, _)| *t)
        .or_else(|| dated.iter().min_by_key(|(t, _)| *t));
    let lifetime = in_force
        .and_then(|(_, s)| s.key_expiration_time())
        .map(Duration::from)
        .filter(|d| !d.is_zero());
    if let Some(life) = lifetime {
        let expiry = created + life;
        if made >= expiry {
            return Err(format!(
                "the {what} expired on {}, before the signature was made ({})",
                date(expiry),
                date(made)
            ));
        }
    }
    Ok(())
}

fn verify_ssh(
    keys: &Keyring,
    url: &str,
    object: Object,
    signed: &[u8],
    sig: &ssh_key::SshSig,
) -> Result<String, VerifyError> {
    let fpr = sig.public_key().fingerprint(ssh_key::HashAlg::Sha256);
    let Some(signer) = keys
        .ssh
        .iter()
        .find(|s| s.key.key_data() == sig.public_key())
    else {
        return Err(VerifyError::UnknownKey {
            url: url.to_string(),
            object,
            key: format!("SSH {fpr}"),
            keys: Box::new(keys.origin.clone()),
        });
    };
    signer
        .key
        .verify("git", signed, sig)
        .map_err(|e| VerifyError::BadSignature {
            url: url.to_string(),
            object,
            key: format!("SSH {fpr}"),
            source: Cause(e.to_string()),
        })?;
    Ok(format!("SSH {} {fpr}", signer.principals))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allowed_signers_lines_parse_and_options_are_not_ignored() {
        let key =
            "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIPJQlVd6SVI1kqIakZYcMb3gu83Hz5vFJWa9+lfCgDPp";
        let s = parse_ssh_line(&format!("dev@example.org {key} laptop"))
            .expect("parses")
            .expect("git key");
        assert_eq!(s.principals, "dev@example.org");
        let s = parse_ssh_line(key).expect("parses").expect("bare key");
        assert_eq!(s.principals, "*");
        assert!(
            parse_ssh_line(&format!("a@b namespaces=\"file,email\" {key}"))
                .expect("parses")
                .is_none()
        );
        assert!(
            parse_ssh_line(&format!("a@b namespaces=\"git,file\" {key}"))
                .expect("parses")
                .is_some()
        );
        for opt in ["valid-before=\"20300101\"", "valid-after=20200101"] {
            let e = parse_ssh_line(&format!("a@b {opt} {key}")).expect_err("refused");
            assert!(
                e.contains("is not supported: an SSH signature carries no time of its own"),
                "{opt}: {e}"
            );
        }
        let e = parse_ssh_line(&format!("a@b cert-authority {key}")).expect_err("refused");
        assert!(
            e.contains("option `cert-authority` is not supported"),
            "{e}"
        );
        let e = parse_ssh_line("hello world").expect_err("not a key");
        assert!(e.contains("neither an OpenPGP key block"), "{e}");
    }

    #[test]
    fn a_secrets_entries_are_read_like_a_keys_file_and_named_in_errors() {
        let key =
            "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIPJQlVd6SVI1kqIakZYcMb3gu83Hz5vFJWa9+lfCgDPp";
        let ring = Keyring::from_secret("flux-system", "keys", [("a.pub", key.as_bytes())])
            .expect("one key");
        assert_eq!(ring.len(), (0, 1));
        assert_eq!(ring.origin().to_string(), "the Secret flux-system/keys");
        let e = Keyring::from_secret("flux-system", "keys", []).expect_err("empty");
        assert!(
            e.to_string()
                .starts_with("the Secret flux-system/keys: no OpenPGP public key block"),
            "{e}"
        );
        let e = Keyring::from_secret(
            "flux-system",
            "keys",
            [
                ("a.pub", key.as_bytes()),
                ("author1.asc", b"hello".as_slice()),
            ],
        )
        .expect_err("not a key");
        assert!(
            e.to_string().starts_with(
                "the Secret flux-system/keys, entry author1.asc: line 1: neither an OpenPGP key block"
            ),
            "{e}"
        );
        let e = Keyring::from_secret("ns", "k", [("bin", [0xffu8, 0xfe].as_slice())])
            .expect_err("binary");
        assert!(
            e.to_string()
                .contains("the Secret ns/k, entry bin: line 1: not text"),
            "{e}"
        );
    }

    #[test]
    fn a_file_without_keys_or_with_a_private_key_is_refused() {
        let p = Path::new("keys.txt");
        let e = Keyring::parse("# nothing here\n\n", p).expect_err("empty");
        assert!(e.to_string().contains("no OpenPGP public key block"), "{e}");
        let e = Keyring::parse("-----BEGIN PGP PRIVATE KEY BLOCK-----\n", p).expect_err("secret");
        assert!(e.to_string().contains("line 1: a PRIVATE key block"), "{e}");
        let e = Keyring::parse("-----BEGIN PGP PUBLIC KEY BLOCK-----\n\nAAAA\n", p)
            .expect_err("unterminated");
        assert!(
            e.to_string()
                .contains("no -----END PGP PUBLIC KEY BLOCK-----"),
            "{e}"
        );
    }

    #[test]
    fn the_last_armor_at_a_line_start_is_the_signature() {
        let tag = b"object 1\ntype commit\n\nmsg mentions -----BEGIN PGP SIGNATURE----- inline\n-----BEGIN SSH SIGNATURE-----\nabc\n";
        let (at, kind) = find_armor(tag).expect("found");
        assert_eq!(kind, "ssh");
        assert!(tag[at..].starts_with(b"-----BEGIN SSH"));
        assert!(find_armor(b"no signature\n").is_none());
    }
}

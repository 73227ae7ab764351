//! Render only what changed: a render result is kept with the set of
//! things the renderer read through the tree, and reused for a new commit
//! when every one of those reads gives the same answer.
//!
//! A [`RecordingTree`] wraps the source tree for one render and notes every
//! `read`, `list` and `stat` with a digest of what it returned (the bytes,
//! the listing, or the error). That is the app's **read set**. The host
//! sees every path a plugin touches, because the tree is the plugin's only
//! way to the files, so the read set is complete without the plugin's help
//! (Argo CD needs a hand-written `manifest-generate-paths` annotation for
//! the same effect, and gets it wrong when a base outside those paths
//! changes).
//!
//! On the next render of the app, [`Renderers::render_cached`] replays the
//! read set against the new tree. If every read answers as before, and the
//! cache key is unchanged, the stored result is returned and no plugin
//! runs. A new file in a directory the renderer listed changes that
//! listing's digest, so it counts as a change; so does a file that
//! appeared where a read had failed.
//!
//! The cache key is the renderer's sha256, the parameters, and the
//! context the plugin sees: app name, destination namespace, repository
//! URL, and the revision — except for the built-in renderers, whose output
//! depends only on the files they read (they do not look at the revision,
//! the clock or random numbers), so a new commit that leaves their inputs
//! alone keeps their result. A third-party plugin may print the revision
//! into its objects, so its key includes it and every new commit renders
//! it again.

use super::{RenderError, RenderSpec, Rendered, RendererRef, Renderers};
use crate::source::{Entry, Tree, TreeError};
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// Built-in renderers whose output depends on their input files only.
const REVISION_BLIND: &[&str] = &["yaml", "kustomize", "terraform-plan"];

/// Which tree operation a read was.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Op {
    /// `read(path)`.
    Read,
    /// `list(path)`.
    List,
    /// `stat(path)`.
    Stat,
}

/// Everything a render read, with a digest of each answer.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReadSet(BTreeMap<(Op, String), [u8; 32]>);

impl ReadSet {
    /// How many distinct reads it holds.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether it holds none.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The paths read, for status and debugging.
    pub fn paths(&self) -> impl Iterator<Item = (Op, &str)> {
        self.0.keys().map(|(op, p)| (*op, p.as_str()))
    }

    /// Whether every read gives the same answer on `tree`.
    pub fn unchanged_in(&self, tree: &dyn Tree) -> bool {
        self.0
            .iter()
            .all(|((op, path), digest)| answer(tree, *op, path) == *digest)
    }
}

fn digest_of(op: Op, result: Result<Vec<u8>, TreeError>) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update([op as u8]);
    match result {
        Ok(bytes) => {
            h.update(b"ok");
            h.update(&bytes);
        }
        Err(e) => {
            h.update(b"err");
            h.update(e.to_string().as_bytes());
        }
    }
    h.finalize().into()
}

fn listing(entries: &[Entry]) -> Vec<u8> {
    let mut out = Vec::new();
    for e in entries {
        out.extend_from_slice(format!("{}\0{:?}\0{}\n", e.name, e.kind, e.size).as_bytes());
    }
    out
}

fn answer(tree: &dyn Tree, op: Op, path: &str) -> [u8; 32] {
    let result = match op {
        Op::Read => tree.read(path),
        Op::List => tree.list(path).map(|l| listing(&l)),
        Op::Stat => tree.stat(path).map(|e| listing(std::slice::from_ref(&e))),
    };
    digest_of(op, result)
}

/// A tree that notes every read into a [`ReadSet`].
pub struct RecordingTree {
    inner: Arc<dyn Tree>,
    reads: Mutex<ReadSet>,
}

impl RecordingTree {
    /// Record reads of `inner`.
    pub fn new(inner: Arc<dyn Tree>) -> RecordingTree {
        RecordingTree {
            inner,
            reads: Mutex::new(ReadSet::default()),
        }
    }

    /// What was read so far.
    pub fn read_set(&self) -> ReadSet {
        self.reads.lock().map(|r| r.clone()).unwrap_or_default()
    }

    fn note(&self, op: Op, path: &str, digest: [u8; 32]) {
        if let Ok(mut r) = self.reads.lock() {
            r.0.insert((op, path.to_string()), digest);
        }
    }
}

impl Tree for RecordingTree {
    fn read(&self, path: &str) -> Result<Vec<u8>, TreeError> {
        let r = self.inner.read(path);
        self.note(Op::Read, path, digest_of(Op::Read, r.clone()));
        r
    }

    fn list(&self, path: &str) -> Result<Vec<Entry>, TreeError> {
        let r = self.inner.list(path);
        let d = digest_of(
            Op::List,
            r.as_ref().map(|l| listing(l)).map_err(Clone::clone),
        );
        self.note(Op::List, path, d);
        r
    }

    fn stat(&self, path: &str) -> Result<Entry, TreeError> {
        let r = self.inner.stat(path);
        let d = digest_of(
            Op::Stat,
            r.as_ref()
                .map(|e| listing(std::slice::from_ref(e)))
                .map_err(Clone::clone),
        );
        self.note(Op::Stat, path, d);
        r
    }

    fn describe(&self) -> String {
        self.inner.describe()
    }

    fn may_hang(&self) -> bool {
        self.inner.may_hang()
    }
}

struct CacheEntry {
    key: [u8; 32],
    reads: ReadSet,
    rendered: Arc<Rendered>,
}

/// Render results by app, each with its read set and key.
#[derive(Default)]
pub struct RenderCache {
    entries: Mutex<HashMap<String, CacheEntry>>,
    hits: AtomicU64,
    misses: AtomicU64,
}

impl std::fmt::Debug for RenderCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "RenderCache(hits {}, misses {})",
            self.hits(),
            self.misses()
        )
    }
}

impl RenderCache {
    /// An empty cache.
    pub fn new() -> RenderCache {
        RenderCache::default()
    }

    /// Renders skipped because nothing they read changed.
    pub fn hits(&self) -> u64 {
        self.hits.load(Ordering::Relaxed)
    }

    /// Renders performed.
    pub fn misses(&self) -> u64 {
        self.misses.load(Ordering::Relaxed)
    }

    /// Forget `app` (it was removed).
    pub fn forget(&self, app: &str) {
        if let Ok(mut e) = self.entries.lock() {
            e.remove(app);
        }
    }

    /// The read set of `app`'s last render, if cached.
    pub fn read_set(&self, app: &str) -> Option<ReadSet> {
        let e = self.entries.lock().ok()?;
        e.get(app).map(|x| x.reads.clone())
    }
}

/// Whether a render came from the cache.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Freshness {
    /// The renderer ran.
    Rendered,
    /// Nothing the last render read changed; its result was reused.
    Cached,
}

fn cache_key(spec: &RenderSpec, plugin_sha: &str) -> [u8; 32] {
    let blind = matches!(&spec.renderer, RendererRef::Builtin(n) if REVISION_BLIND.contains(&n.as_str()))
        || (matches!(spec.renderer, RendererRef::Auto));
    let mut h = Sha256::new();
    let mut field = |label: &str, value: &str| {
        h.update(label.as_bytes());
        h.update((value.len() as u64).to_le_bytes());
        h.update(value.as_bytes());
    };
    field("plugin", plugin_sha);
    field("app", &spec.app);
    field("path", &spec.path);
    field("namespace", &spec.namespace);
    field("repo", &spec.repo_url);
    if !blind {
        field("revision", &spec.revision);
    }
    for (k, v) in &spec.params {
        field("param", k);
        field("value", v);
    }
    field("json", spec.params_json.as_deref().unwrap_or(""));
    h.finalize().into()
}

impl Renderers {
    /// [`Renderers::render`], reusing `cache`'s result for `spec.app` when
    /// the key is the same and nothing it read changed in `tree`.
    pub fn render_cached(
        &self,
        cache: &RenderCache,
        tree: Arc<dyn Tree>,
        spec: &RenderSpec,
    ) -> Result<(Arc<Rendered>, Freshness), RenderError> {
        let recorder = Arc::new(RecordingTree::new(tree.clone()));
        // Auto-detection lists the app directory; that listing is part of
        // the read set, so a new kustomization.yaml is noticed.
        let plugin = self.resolve(recorder.as_ref(), spec)?;
        let key = cache_key(spec, plugin.sha256());
        if let Ok(entries) = cache.entries.lock()
            && let Some(e) = entries.get(&spec.app)
            && e.key == key
            && e.reads.unchanged_in(tree.as_ref())
        {
            cache.hits.fetch_add(1, Ordering::Relaxed);
            return Ok((e.rendered.clone(), Freshness::Cached));
        }
        cache.misses.fetch_add(1, Ordering::Relaxed);
        let rendered = Arc::new(self.render(recorder.clone(), spec)?);
        if let Ok(mut entries) = cache.entries.lock() {
            entries.insert(
                spec.app.clone(),
                CacheEntry {
                    key,
                    reads: recorder.read_set(),
                    rendered: rendered.clone(),
                },
            );
        }
        Ok((rendered, Freshness::Rendered))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::DirTree;

    fn tree(dir: &std::path::Path) -> Arc<dyn Tree> {
        Arc::new(DirTree::new(dir).expect("dir tree"))
    }

    #[test]
    fn a_read_set_notices_changed_new_and_deleted_files() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir_all(dir.path().join("app")).expect("mkdir");
        std::fs::write(dir.path().join("app/a.yaml"), "a: 1\n").expect("write");
        std::fs::write(dir.path().join("other.yaml"), "x: 1\n").expect("write");
        let rec = RecordingTree::new(tree(dir.path()));
        rec.list("app").expect("list");
        rec.read("app/a.yaml").expect("read");
        let _ = rec.read("app/missing.yaml");
        let set = rec.read_set();
        assert_eq!(set.len(), 3);
        assert!(set.unchanged_in(tree(dir.path()).as_ref()));

        // A file the render never read: still unchanged.
        std::fs::write(dir.path().join("other.yaml"), "x: 2\n").expect("write");
        assert!(set.unchanged_in(tree(dir.path()).as_ref()));
        // A read file's content.
        std::fs::write(dir.path().join("app/a.yaml"), "a: 2\n").expect("write");
        assert!(!set.unchanged_in(tree(dir.path()).as_ref()));
        std::fs::write(dir.path().join("app/a.yaml"), "a: 1\n").expect("write");
        assert!(set.unchanged_in(tree(dir.path()).as_ref()));
        // A file that failed to read before now exists (also changes the listing).
        std::fs::write(dir.path().join("app/missing.yaml"), "m: 1\n").expect("write");
        assert!(!set.unchanged_in(tree(dir.path()).as_ref()));
    }

    #[test]
    fn the_key_ignores_the_revision_only_for_builtins() {
        let mut spec = RenderSpec {
            app: "a".into(),
            path: "p".into(),
            renderer: RendererRef::Builtin("yaml".into()),
            params: vec![],
            params_json: None,
            namespace: "default".into(),
            revision: "c1".into(),
            repo_url: "https://git.example/r".into(),
        };
        let k1 = cache_key(&spec, "sha");
        spec.revision = "c2".into();
        assert_eq!(k1, cache_key(&spec, "sha"));
        spec.params.push(("recurse".into(), "true".into()));
        assert_ne!(k1, cache_key(&spec, "sha"));
        spec.params.clear();
        assert_ne!(k1, cache_key(&spec, "other-sha"));
        spec.renderer = RendererRef::File {
            path: "x.wasm".into(),
            sha256: None,
        };
        let k3 = cache_key(&spec, "sha");
        spec.revision = "c3".into();
        assert_ne!(k3, cache_key(&spec, "sha"));
    }
    fn configmap(name: &str, value: &str) -> String {
        format!(
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\ndata:\n  v: \"{value}\"\n"
        )
    }

    fn spec(app: &str, revision: &str) -> RenderSpec {
        RenderSpec {
            app: app.into(),
            path: app.into(),
            renderer: RendererRef::Auto,
            params: vec![],
            params_json: None,
            namespace: "default".into(),
            revision: revision.into(),
            repo_url: "https://git.example/monorepo".into(),
        }
    }

    #[test]
    fn a_commit_touching_one_app_renders_only_that_app() {
        let dir = tempfile::tempdir().expect("tempdir");
        let cache_dir = tempfile::tempdir().expect("tempdir");
        for app in ["a", "b"] {
            std::fs::create_dir_all(dir.path().join(app)).expect("mkdir");
            std::fs::write(dir.path().join(app).join("cm.yaml"), configmap(app, "1"))
                .expect("write");
        }
        let runtime = crate::plugin::Runtime::new(
            crate::plugin::Limits::default(),
            Some(cache_dir.path().to_path_buf()),
        )
        .expect("runtime");
        let renderers = Renderers::new(runtime);
        let cache = RenderCache::new();
        for app in ["a", "b"] {
            let (_, f) = renderers
                .render_cached(&cache, tree(dir.path()), &spec(app, "c1"))
                .expect("render");
            assert_eq!(f, Freshness::Rendered);
        }
        // "Commit 2" changes only b.
        std::fs::write(dir.path().join("b/cm.yaml"), configmap("b", "2")).expect("write");
        let (a, fa) = renderers
            .render_cached(&cache, tree(dir.path()), &spec("a", "c2"))
            .expect("render a");
        let (b, fb) = renderers
            .render_cached(&cache, tree(dir.path()), &spec("b", "c2"))
            .expect("render b");
        assert_eq!((fa, fb), (Freshness::Cached, Freshness::Rendered));
        assert_eq!(a.objects[0].value["data"]["v"], "1");
        assert_eq!(b.objects[0].value["data"]["v"], "2");
        assert_eq!((cache.hits(), cache.misses()), (1, 3));
        // A new file in a directory the renderer listed counts as a change.
        std::fs::write(dir.path().join("a/extra.yaml"), configmap("a2", "1")).expect("write");
        let (a, fa) = renderers
            .render_cached(&cache, tree(dir.path()), &spec("a", "c3"))
            .expect("render a");
        assert_eq!(fa, Freshness::Rendered);
        assert_eq!(a.objects.len(), 2);
    }
}

//! The status store for apps defined by files: each app's last status and
//! its sync history, in one embedded database file under `--state-dir`.
//!
//! The database is [redb](https://docs.rs/redb): a single file, pure Rust,
//! copy-on-write B-trees with checksummed commits. Every write here is one
//! transaction committed with immediate durability (fsync), so once a call
//! returns `Ok` the data survives a `kill -9` or a power cut; a write cut
//! short is rolled back to the previous commit on the next open. Values are
//! JSON, so the store does not care how the status type evolves: a field
//! added later deserialises with its default.
//!
//! Tables:
//! - `status`: app name → its status document;
//! - `history`: `app\0<sequence, 20 digits>` → one history entry; only the
//!   newest `keep` entries per app are kept (Argo CD's
//!   `revisionHistoryLimit`, 10 by default).
//!
//! Apps defined as Application resources keep their status in the
//! resource's `.status` instead.

use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::path::{Path, PathBuf};

const STATUS: TableDefinition<&str, &[u8]> = TableDefinition::new("status");
const HISTORY: TableDefinition<&str, &[u8]> = TableDefinition::new("history");
/// Operations in flight: written when a sync starts, removed when it ends,
/// so one cut by a crash is resumed (its finished hooks not run again).
const OPERATIONS: TableDefinition<&str, &[u8]> = TableDefinition::new("operations");

/// How many history entries an app keeps by default.
pub const DEFAULT_HISTORY: usize = 10;

/// The error returned by [`Store`] operations. Each names the file.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database file could not be opened or written.
    #[error(
        "state store {file}: {message}; check --state-dir (it must be writable, and only one sluice may use it at a time)"
    )]
    Db {
        /// The database file.
        file: PathBuf,
        /// What redb said.
        message: String,
    },
    /// A stored value is not what the caller expects.
    #[error("state store {file}: the entry for app {app} cannot be read")]
    Decode {
        /// The database file.
        file: PathBuf,
        /// The app.
        app: String,
        /// The JSON error.
        #[source]
        source: serde_json::Error,
    },
}

/// One entry of an app's history, as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct HistoryEntry<T> {
    /// The entry's id, increasing per app, never reused.
    pub id: u64,
    /// What the caller stored.
    pub value: T,
}

/// The embedded status store.
pub struct Store {
    db: Database,
    file: PathBuf,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Store({})", self.file.display())
    }
}

fn history_key(app: &str, id: u64) -> String {
    format!("{app}\0{id:020}")
}

fn history_range(app: &str) -> (String, String) {
    (format!("{app}\0"), format!("{app}\u{1}"))
}

impl Store {
    /// Open (or create) `state.redb` in `dir`, creating the directory
    /// with mode 0700.
    pub fn open(dir: &Path) -> Result<Store, StoreError> {
        let file = dir.join("state.redb");
        let err = |e: &dyn std::fmt::Display| StoreError::Db {
            file: file.clone(),
            message: e.to_string(),
        };
        create_private_dir(dir).map_err(|e| err(&e))?;
        let db = Database::create(&file).map_err(|e| err(&e))?;
        let store = Store { db, file };
        // Make the tables exist, so reads never meet a missing table.
        store.write(|tx| {
            tx.open_table(STATUS)?;
            tx.open_table(HISTORY)?;
            tx.open_table(OPERATIONS)?;
            Ok(())
        })?;
        Ok(store)
    }

    fn db_err(&self, e: impl std::fmt::Display) -> StoreError {
        StoreError::Db {
            file: self.file.clone(),
            message: e.to_string(),
        }
    }

    fn write<R>(
        &self,
        f: impl FnOnce(&redb::WriteTransaction) -> Result<R, redb::Error>,
    ) -> Result<R, StoreError> {
        let tx = self.db.begin_write().map_err(|e| self.db_err(e))?;
        let r = f(&tx).map_err(|e| self.db_err(e))?;
        tx.commit().map_err(|e| self.db_err(e))?;
        Ok(r)
    }

    fn decode<T: DeserializeOwned>(&self, app: &str, bytes: &[u8]) -> Result<T, StoreError> {
        serde_json::from_slice(bytes).map_err(|source| StoreError::Decode {
            file: self.file.clone(),
            app: app.to_string(),
            source,
        })
    }

    /// Store `status` as `app`'s status, durably.
    pub fn put_status<T: Serialize>(&self, app: &str, status: &T) -> Result<(), StoreError> {
        let bytes = serde_json::to_vec(status).map_err(|e| self.db_err(e))?;
        self.write(|tx| {
            tx.open_table(STATUS)?.insert(app, bytes.as_slice())?;
            Ok(())
        })
    }

    /// `app`'s stored status, if any.
    pub fn status<T: DeserializeOwned>(&self, app: &str) -> Result<Option<T>, StoreError> {
        let tx = self.db.begin_read().map_err(|e| self.db_err(e))?;
        let table = tx.open_table(STATUS).map_err(|e| self.db_err(e))?;
        match table.get(app).map_err(|e| self.db_err(e))? {
            Some(v) => self.decode(app, v.value()).map(Some),
            None => Ok(None),
        }
    }

    /// Store `op` as `app`'s operation in flight, durably (replacing one).
    pub fn put_operation<T: Serialize>(&self, app: &str, op: &T) -> Result<(), StoreError> {
        let bytes = serde_json::to_vec(op).map_err(|e| self.db_err(e))?;
        self.write(|tx| {
            tx.open_table(OPERATIONS)?.insert(app, bytes.as_slice())?;
            Ok(())
        })
    }

    /// `app`'s operation in flight, if one was stored and not cleared.
    pub fn operation<T: DeserializeOwned>(&self, app: &str) -> Result<Option<T>, StoreError> {
        let tx = self.db.begin_read().map_err(|e| self.db_err(e))?;
        let table = tx.open_table(OPERATIONS).map_err(|e| self.db_err(e))?;
        match table.get(app).map_err(|e| self.db_err(e))? {
            Some(v) => self.decode(app, v.value()).map(Some),
            None => Ok(None),
        }
    }

    /// `app`'s operation ended: forget it.
    pub fn clear_operation(&self, app: &str) -> Result<(), StoreError> {
        self.write(|tx| {
            tx.open_table(OPERATIONS)?.remove(app)?;
            Ok(())
        })
    }

    /// Every app with a stored status, by name.
    pub fn apps(&self) -> Result<Vec<String>, StoreError> {
        let tx = self.db.begin_read().map_err(|e| self.db_err(e))?;
        let table = tx.open_table(STATUS).map_err(|e| self.db_err(e))?;
        let mut names = Vec::new();
        for row in table.iter().map_err(|e| self.db_err(e))? {
            let (k, _) = row.map_err(|e| self.db_err(e))?;
            names.push(k.value().to_string());
        }
        Ok(names)
    }

    /// Append `entry` to `app`'s history, keeping the newest `keep`
    /// entries; returns the new entry's id.
    pub fn push_history<T: Serialize>(
        &self,
        app: &str,
        entry: &T,
        keep: usize,
    ) -> Result<u64, StoreError> {
        let bytes = serde_json::to_vec(entry).map_err(|e| self.db_err(e))?;
        self.write(|tx| {
            let mut table = tx.open_table(HISTORY)?;
            let (lo, hi) = history_range(app);
            let mut ids: Vec<u64> = Vec::new();
            for row in table.range(lo.as_str()..hi.as_str())? {
                let (k, _) = row?;
                if let Some(id) = k.value().rsplit('\0').next().and_then(|s| s.parse().ok()) {
                    ids.push(id);
                }
            }
            let id = ids.last().map_or(1, |last| last + 1);
            table.insert(history_key(app, id).as_str(), bytes.as_slice())?;
            ids.push(id);
            let excess = ids.len().saturating_sub(keep.max(1));
            for old in &ids[..excess] {
                table.remove(history_key(app, *old).as_str())?;
            }
            Ok(id)
        })
    }

    /// `app`'s history, oldest first.
    pub fn history<T: DeserializeOwned>(
        &self,
        app: &str,
    ) -> Result<Vec<HistoryEntry<T>>, StoreError> {
        let tx = self.db.begin_read().map_err(|e| self.db_err(e))?;
        let table = tx.open_table(HISTORY).map_err(|e| self.db_err(e))?;
        let (lo, hi) = history_range(app);
        let mut out = Vec::new();
        for row in table
            .range(lo.as_str()..hi.as_str())
            .map_err(|e| self.db_err(e))?
        {
            let (k, v) = row.map_err(|e| self.db_err(e))?;
            let id = k
                .value()
                .rsplit('\0')
                .next()
                .and_then(|s| s.parse().ok())
                .unwrap_or_default();
            out.push(HistoryEntry {
                id,
                value: self.decode(app, v.value())?,
            });
        }
        Ok(out)
    }

    /// Forget `app`: its status and history.
    pub fn remove(&self, app: &str) -> Result<(), StoreError> {
        self.write(|tx| {
            tx.open_table(STATUS)?.remove(app)?;
            tx.open_table(OPERATIONS)?.remove(app)?;
            let mut table = tx.open_table(HISTORY)?;
            let (lo, hi) = history_range(app);
            let keys: Vec<String> = table
                .range(lo.as_str()..hi.as_str())?
                .map(|r| r.map(|(k, _)| k.value().to_string()))
                .collect::<Result<_, _>>()?;
            for k in keys {
                table.remove(k.as_str())?;
            }
            Ok(())
        })
    }
}

fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::DirBuilderExt as _;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    #[test]
    fn status_and_history_survive_reopening() {
        let dir = tempfile::tempdir().expect("tempdir");
        {
            let s = Store::open(dir.path()).expect("open");
            s.put_status("guestbook", &json!({"sync": "Synced", "revision": "abc"}))
                .expect("put");
            for i in 0..13 {
                s.push_history("guestbook", &json!({"revision": format!("r{i}")}), 10)
                    .expect("push");
            }
            s.push_history("other", &json!({"revision": "x"}), 10)
                .expect("push");
        }
        let s = Store::open(dir.path()).expect("reopen");
        let st: Value = s.status("guestbook").expect("read").expect("present");
        assert_eq!(st["sync"], "Synced");
        let h: Vec<HistoryEntry<Value>> = s.history("guestbook").expect("history");
        assert_eq!(h.len(), 10, "only the newest 10 kept");
        assert_eq!(h[0].id, 4);
        assert_eq!(h[9].id, 13);
        assert_eq!(h[9].value["revision"], "r12");
        assert_eq!(s.history::<Value>("other").expect("other").len(), 1);
        assert_eq!(s.apps().expect("apps"), ["guestbook"]);
        s.remove("guestbook").expect("remove");
        assert!(s.status::<Value>("guestbook").expect("read").is_none());
        assert!(s.history::<Value>("guestbook").expect("read").is_empty());
        assert_eq!(s.history::<Value>("other").expect("other").len(), 1);
    }

    #[test]
    fn an_app_name_that_prefixes_another_keeps_its_own_history() {
        let dir = tempfile::tempdir().expect("tempdir");
        let s = Store::open(dir.path()).expect("open");
        s.push_history("app", &1, 10).expect("push");
        s.push_history("app-2", &2, 10).expect("push");
        let h: Vec<HistoryEntry<i32>> = s.history("app").expect("history");
        assert_eq!(h.iter().map(|e| e.value).collect::<Vec<_>>(), [1]);
    }

    #[test]
    fn state_dir_is_private() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = tempfile::tempdir().expect("tempdir");
        let state = dir.path().join("state");
        Store::open(&state).expect("open");
        let mode = std::fs::metadata(&state)
            .expect("meta")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o700);
    }

    /// The child half of the kill -9 test: writes statuses and prints
    /// `acked N` after each write returns. Runs only when the parent test
    /// starts this test binary with `SLUICE_STORE_CHILD` set.
    #[test]
    fn store_kill_child() {
        let Some(dir) = std::env::var_os("SLUICE_STORE_CHILD") else {
            return;
        };
        let s = Store::open(Path::new(&dir)).expect("open");
        for i in 0u64.. {
            s.put_status(&format!("app-{i}"), &json!({"n": i}))
                .expect("put");
            s.push_history("app", &i, 1000).expect("history");
            println!("acked {i}");
        }
    }

    #[test]
    fn kill_9_mid_write_loses_nothing_acknowledged() {
        use std::io::BufRead as _;
        let dir = tempfile::tempdir().expect("tempdir");
        let exe = std::env::current_exe().expect("test binary");
        let mut child = std::process::Command::new(exe)
            .args([
                "--exact",
                "serve::store::tests::store_kill_child",
                "--nocapture",
            ])
            .env("SLUICE_STORE_CHILD", dir.path())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("spawn the writer");
        let stdout = child.stdout.take().expect("stdout");
        let mut acked = None;
        for line in std::io::BufReader::new(stdout).lines() {
            let line = line.expect("line");
            if let Some(n) = line.strip_prefix("acked ") {
                acked = n.trim().parse::<u64>().ok();
                if acked >= Some(40) {
                    break;
                }
            }
        }
        // SIGKILL, in the middle of the next write.
        child.kill().expect("kill -9");
        child.wait().expect("reap");
        let acked = acked.expect("the writer acknowledged writes");
        let s = Store::open(dir.path()).expect("reopen after kill");
        for i in 0..=acked {
            let v: Value = s
                .status(&format!("app-{i}"))
                .expect("read")
                .unwrap_or_else(|| panic!("acknowledged write {i} was lost"));
            assert_eq!(v["n"], i);
        }
        let h: Vec<HistoryEntry<u64>> = s.history("app").expect("history");
        assert!(
            h.len() as u64 > acked,
            "history has every acknowledged entry"
        );
    }
}

//! Operations cut short by a crash are resumed, their hooks not run twice.
//!
//! Before a sync that writes, the service stores the operation in flight
//! (an id, the revision, the hooks that already succeeded) in the state
//! store, durably; each hook that succeeds is added before its delete
//! policy runs; the record is removed when the sync returns. After a
//! `kill -9`, the next operation on the app finds the record: for the same
//! revision it is a resumption, so it writes even if the compare finds
//! nothing to change (the hooks after the cut still have to run), keeps
//! the id (a `generateName` hook gets the same name, so a hook still
//! running is waited on, not created again) and skips the hooks recorded
//! as done (see [`crate::sync::hooks::HookLedger`]). For another revision
//! the record is stale: a new operation replaces it.

use super::service::Service;
use crate::sync::hooks::HookLedger;
use serde::{Deserialize, Serialize};
use std::sync::{Arc, Mutex};

/// The operation in flight on one app, as stored.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct InFlight {
    /// The operation's id (annotated on its hooks).
    pub sync_id: String,
    /// The commit it syncs.
    pub revision: String,
    /// Ledger keys of the hooks that succeeded.
    #[serde(default)]
    pub hooks_done: Vec<String>,
}

/// The operation on `name` that a crash cut short, if it synced `revision`.
pub fn interrupted(svc: &Service, name: &str, revision: &str) -> Option<InFlight> {
    match svc.inner.store.operation::<InFlight>(name) {
        Ok(op) => op.filter(|op| op.revision == revision),
        Err(e) => {
            tracing::warn!(app = %name, error = %crate::error_chain(&e), "cannot read the operation in flight; starting a new one");
            None
        }
    }
}

/// Store the operation about to run (`resumed`, or a new one for
/// `revision`) and return the ledger its hooks use.
pub fn begin(svc: &Service, name: &str, revision: &str, resumed: Option<InFlight>) -> HookLedger {
    let op = match resumed {
        Some(op) => {
            tracing::info!(app = %name, revision = %revision, sync_id = %op.sync_id, hooks_done = op.hooks_done.len(), "resuming an operation cut short before sluice restarted");
            op
        }
        None => InFlight {
            sync_id: new_id(name, revision),
            revision: revision.to_string(),
            hooks_done: Vec::new(),
        },
    };
    if let Err(e) = svc.inner.store.put_operation(name, &op) {
        tracing::warn!(app = %name, error = %crate::error_chain(&e), "cannot store the operation in flight; a crash now would run its hooks again");
    }
    let shared = Arc::new(Mutex::new(op.clone()));
    let s = svc.clone();
    let app = name.to_string();
    HookLedger::new(op.sync_id, op.hooks_done, move |key| {
        let mut op = shared.lock().unwrap_or_else(|p| p.into_inner());
        op.hooks_done.push(key.to_string());
        if let Err(e) = s.inner.store.put_operation(&app, &*op) {
            tracing::warn!(app = %app, hook = %key, error = %crate::error_chain(&e), "cannot record a finished hook; a crash now would run it again");
        }
    })
}

/// The operation on `name` ended (whatever its result).
pub fn end(svc: &Service, name: &str) {
    if let Err(e) = svc.inner.store.clear_operation(name) {
        tracing::warn!(app = %name, error = %crate::error_chain(&e), "cannot clear the operation in flight; the next operation resumes it");
    }
}

/// A fresh operation id: 12 hex digits of a digest of the app, the
/// revision and the time.
fn new_id(name: &str, revision: &str) -> String {
    use sha2::{Digest as _, Sha256};
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let d = Sha256::digest(format!("{name}\0{revision}\0{now}\0{}", std::process::id()));
    hex::encode(&d[..6])
}

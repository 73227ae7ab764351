//! The test harness: real servers on 127.0.0.1 for sluice's end-to-end tests.
//!
//! - [`git`]: a smart-HTTP Git server (`git http-backend`), `git daemon`,
//!   and `sshd`, serving repositories made by deterministic scripts;
//! - [`cluster`]: `etcd` and `kube-apiserver` built from their Go modules
//!   (see `tests/cluster/`), started the way controller-runtime's envtest
//!   does;
//! - [`powerdns`]: a PowerDNS authoritative server (SQLite backend) and
//!   `dig`;
//! - [`registry`]: CNCF Distribution's OCI registry built from its Go
//!   module (see `tests/registry/`), and an HTTPS file server.

pub mod cluster;
pub mod git;
pub mod powerdns;
pub mod registry;

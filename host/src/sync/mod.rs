//! Sync: the plan (phases, waves, kind order), apply, prune, health, wait.

pub mod plan;

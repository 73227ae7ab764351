//! sluice's end-to-end tests: one binary, one module per area, against real
//! servers started by `sluice-testkit` on 127.0.0.1.

mod api;
mod argo;
mod common;
mod dir;
mod dns;
mod engine;
mod fuzz;
mod git;
mod kube;
mod kustomize_corpus;
mod oci;
mod plugins_lang;
mod render;
mod sandbox;
mod serve;
mod target_example;
mod terraform;
mod waves;

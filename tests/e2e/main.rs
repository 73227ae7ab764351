//! sluice end-to-end tests: one binary, one module per area.

mod dir;
mod fuzz;
mod git;
mod render;
mod sandbox;

//! sluice end-to-end tests: one binary, one module per area.

mod dir;
mod fuzz;
mod render;
mod sandbox;

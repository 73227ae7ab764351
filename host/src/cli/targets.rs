//! `--targets DIR`: the Target declarations an app's `spec.targets` names,
//! loaded for `sync` and `diff`.

pub use sluice::target::catalog::load_for_app;

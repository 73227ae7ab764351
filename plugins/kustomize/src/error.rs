//! The renderer's error: a message that names the kustomization or file it
//! is about, turned into the contract's `RenderError` at the edge.

use sluice_plugin_sdk::{RenderError, diag};

/// A failed build step.
#[derive(Debug, Clone)]
pub struct Error {
    /// What went wrong, naming the file where one is known.
    pub message: String,
    /// The repository-relative file it is about, if any.
    pub file: Option<String>,
}

/// This crate's result type.
pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    /// An error with only a message.
    pub fn msg(message: impl Into<String>) -> Self {
        Error {
            message: message.into(),
            file: None,
        }
    }

    /// An error about `file`; the message is prefixed with the file's path.
    pub fn in_file(file: &str, message: impl Into<String>) -> Self {
        Error {
            message: format!("{file}: {}", message.into()),
            file: Some(file.to_string()),
        }
    }

    /// Add the kustomization that was being built when this happened, if
    /// the message does not name a file yet.
    pub fn context(mut self, kustomization: &str) -> Self {
        if self.file.is_none() {
            self.message = format!("{kustomization}: {}", self.message);
            self.file = Some(kustomization.to_string());
        }
        self
    }

    /// The contract's error, with one diagnostic naming the file.
    pub fn into_render_error(self) -> RenderError {
        diag::fail(
            self.message,
            self.file.as_deref().map(|f| diag::file(f, None)),
        )
    }
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

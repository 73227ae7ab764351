//! Building diagnostics and render errors.

use crate::{Diagnostic, FileRef, RenderError, ResourceRef, Severity};

/// A diagnostic of the given severity with only a message.
pub fn new(severity: Severity, message: impl Into<String>) -> Diagnostic {
    Diagnostic {
        severity,
        message: message.into(),
        resource_ref: None,
        file: None,
        field: None,
    }
}

/// An error diagnostic.
pub fn error(message: impl Into<String>) -> Diagnostic {
    new(Severity::Error, message)
}

/// A warning diagnostic.
pub fn warning(message: impl Into<String>) -> Diagnostic {
    new(Severity::Warning, message)
}

/// A file reference to a whole file or one document in it.
pub fn file(path: &str, index: Option<u32>) -> FileRef {
    FileRef {
        path: path.to_string(),
        index,
        line: None,
        column: None,
    }
}

/// The resource reference of an object, when it has `apiVersion`, `kind` and
/// `metadata.name`.
pub fn resource_ref(obj: &serde_json::Value) -> Option<ResourceRef> {
    let s = |p: &str| obj.pointer(p).and_then(|v| v.as_str()).map(str::to_string);
    Some(ResourceRef {
        api_version: s("/apiVersion")?,
        kind: s("/kind")?,
        name: s("/metadata/name")?,
        namespace: s("/metadata/namespace"),
    })
}

/// A render error whose message is also its single error diagnostic.
pub fn fail(message: impl Into<String>, file: Option<FileRef>) -> RenderError {
    let message = message.into();
    let mut d = error(message.clone());
    d.file = file;
    RenderError {
        message,
        results: vec![d],
    }
}

//! Native stand-ins for the host, for plugin unit tests.

use crate::{Context, Entry, EntryKind, Param, RenderRequest, SourceTree, TreeError, path};
use std::path::PathBuf;

/// A [`SourceTree`] over a directory on disk, with the host's path rules
/// (lexical `..` past the root and absolute paths refused).
pub struct DirTree {
    root: PathBuf,
}

impl DirTree {
    /// A tree rooted at `root`.
    pub fn new(root: impl Into<PathBuf>) -> Self {
        DirTree { root: root.into() }
    }

    fn resolve(&self, p: &str) -> Result<(String, PathBuf), TreeError> {
        if p.starts_with('/') {
            return Err(TreeError::OutsideRoot(p.to_string()));
        }
        let norm = path::normalize(p).ok_or_else(|| TreeError::OutsideRoot(p.to_string()))?;
        let full = if norm.is_empty() {
            self.root.clone()
        } else {
            self.root.join(&norm)
        };
        Ok((norm, full))
    }
}

fn io_err(p: &str, e: std::io::Error) -> TreeError {
    match e.kind() {
        std::io::ErrorKind::NotFound => TreeError::NotFound(p.to_string()),
        _ => TreeError::Io(format!("{p}: {e}")),
    }
}

impl SourceTree for DirTree {
    fn read(&self, p: &str) -> Result<Vec<u8>, TreeError> {
        let (norm, full) = self.resolve(p)?;
        if full.is_dir() {
            return Err(TreeError::IsDirectory(norm));
        }
        std::fs::read(&full).map_err(|e| io_err(&norm, e))
    }

    fn list(&self, p: &str) -> Result<Vec<Entry>, TreeError> {
        let (norm, full) = self.resolve(p)?;
        if full.is_file() {
            return Err(TreeError::NotDirectory(norm));
        }
        let mut out = Vec::new();
        for e in std::fs::read_dir(&full).map_err(|e| io_err(&norm, e))? {
            let e = e.map_err(|e| io_err(&norm, e))?;
            let md = std::fs::metadata(e.path()).map_err(|e| io_err(&norm, e))?;
            out.push(Entry {
                name: e.file_name().to_string_lossy().into_owned(),
                kind: if md.is_dir() {
                    EntryKind::Directory
                } else {
                    EntryKind::File
                },
                size: if md.is_dir() { 0 } else { md.len() },
            });
        }
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    fn stat(&self, p: &str) -> Result<Entry, TreeError> {
        let (norm, full) = self.resolve(p)?;
        let md = std::fs::metadata(&full).map_err(|e| io_err(&norm, e))?;
        Ok(Entry {
            name: norm.rsplit('/').next().unwrap_or_default().to_string(),
            kind: if md.is_dir() {
                EntryKind::Directory
            } else {
                EntryKind::File
            },
            size: if md.is_dir() { 0 } else { md.len() },
        })
    }
}

/// A request for `path` with `params` (`name=value` pairs) and an empty
/// context named `test`.
pub fn request(path: &str, params: &[(&str, &str)]) -> RenderRequest {
    RenderRequest {
        path: path.to_string(),
        params: params
            .iter()
            .map(|(n, v)| Param {
                name: n.to_string(),
                value: v.to_string(),
            })
            .collect(),
        params_json: None,
        context: Context {
            app_name: "test".into(),
            destination_namespace: String::new(),
            revision: String::new(),
            repo_url: String::new(),
            cluster_version: String::new(),
            api_versions: Vec::new(),
        },
    }
}

//! Checking and reading render parameters.

use crate::{ParamSpec, RenderError, RenderRequest, diag};

/// The parameters of one request, checked against the plugin's specs.
pub struct Params<'a> {
    request: &'a RenderRequest,
}

impl<'a> Params<'a> {
    /// Check that every parameter given is one of `specs`; an unknown one is
    /// an error naming it and the accepted ones.
    pub fn check(request: &'a RenderRequest, specs: &[ParamSpec]) -> Result<Self, RenderError> {
        for p in &request.params {
            if !specs.iter().any(|s| s.name == p.name) {
                let known: Vec<&str> = specs.iter().map(|s| s.name.as_str()).collect();
                return Err(diag::fail(
                    format!(
                        "unknown parameter {:?}; this plugin accepts: {}",
                        p.name,
                        if known.is_empty() {
                            "none".to_string()
                        } else {
                            known.join(", ")
                        }
                    ),
                    None,
                ));
            }
        }
        Ok(Params { request })
    }

    /// Every value given for `name`, in order (a parameter may repeat).
    pub fn all(&self, name: &str) -> Vec<&'a str> {
        self.request
            .params
            .iter()
            .filter(|p| p.name == name)
            .map(|p| p.value.as_str())
            .collect()
    }

    /// The last value given for `name`.
    pub fn get(&self, name: &str) -> Option<&'a str> {
        self.all(name).last().copied()
    }

    /// A boolean parameter (`true`/`false`, `yes`/`no`, `1`/`0`).
    pub fn bool(&self, name: &str, default: bool) -> Result<bool, RenderError> {
        match self.get(name) {
            None => Ok(default),
            Some(v) => match v.to_ascii_lowercase().as_str() {
                "true" | "yes" | "1" | "on" => Ok(true),
                "false" | "no" | "0" | "off" | "" => Ok(false),
                _ => Err(diag::fail(
                    format!("parameter {name:?} must be true or false, not {v:?}"),
                    None,
                )),
            },
        }
    }

    /// A list parameter: every value given, each split on commas that are
    /// not inside `{...}` (so glob alternations survive), trimmed, empty
    /// items dropped.
    pub fn list(&self, name: &str) -> Vec<String> {
        self.all(name)
            .iter()
            .flat_map(|v| split_top_level(v))
            .collect()
    }
}

/// A [`ParamSpec`] in one line.
pub fn spec(name: &str, description: &str, default: Option<&str>) -> ParamSpec {
    ParamSpec {
        name: name.to_string(),
        description: description.to_string(),
        default: default.map(str::to_string),
    }
}

fn split_top_level(v: &str) -> Vec<String> {
    split_outside(v, ',', '{', '}')
        .into_iter()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect()
}

/// Split `s` on `sep` where it is not inside `open`...`close` (nesting
/// counted), keeping every part as written, empty ones included:
/// `split_outside("a.[b.c].d", '.', '[', ']')` is `["a", "[b.c]", "d"]`.
pub fn split_outside(s: &str, sep: char, open: char, close: char) -> Vec<String> {
    let mut out = Vec::new();
    let (mut depth, mut cur) = (0usize, String::new());
    for c in s.chars() {
        if c == open {
            depth += 1;
        } else if c == close {
            depth = depth.saturating_sub(1);
        } else if c == sep && depth == 0 {
            out.push(std::mem::take(&mut cur));
            continue;
        }
        cur.push(c);
    }
    out.push(cur);
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn commas_inside_braces_do_not_split() {
        assert_eq!(
            super::split_top_level("a, {b,c}.yaml ,,d"),
            ["a", "{b,c}.yaml", "d"]
        );
    }
}

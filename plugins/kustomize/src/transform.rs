//! The field transformers: namespace, name prefix and suffix, labels,
//! annotations, images and replicas, each driven by field specs.

use crate::error::{Error, Result};
use crate::fieldspec::{FieldSpec, walk};
use crate::kustfile::{Image, Replica, StrMap};
use crate::resource::{Gvk, Resource};
use serde_json::{Map, Value};

/// Kinds the prefix/suffix transformer leaves alone.
fn skip_prefix(g: &Gvk) -> bool {
    g.kind == "CustomResourceDefinition"
        || g.kind == "Namespace"
        || (g.kind == "APIService" && g.group == "apiregistration.k8s.io")
}

/// Set the namespace of every namespaced resource, the extra namespace
/// fields, and `default` ServiceAccount subjects of role bindings.
pub fn namespace(
    rs: &mut [Resource],
    ns: &str,
    specs: &[FieldSpec],
    unset_only: bool,
) -> Result<()> {
    for r in rs.iter_mut() {
        let gvk = r.gvk();
        for fs in specs {
            if fs.path == ["metadata", "name"] {
                if gvk.selected_by(&fs.gvk) && !unset_only {
                    r.set_name(ns);
                }
                continue;
            }
            fs.apply(&gvk, &mut r.obj, &mut |v| {
                if !(unset_only && v.as_str().is_some_and(|s| !s.is_empty())) {
                    *v = Value::String(ns.to_string());
                }
                Ok(())
            })?;
        }
        if !gvk.is_cluster_scoped() && (!unset_only || r.namespace().is_empty()) {
            r.set_namespace(ns);
        }
        if (gvk.kind == "RoleBinding" || gvk.kind == "ClusterRoleBinding")
            && let Some(Value::Array(subjects)) = r.obj.get_mut("subjects")
        {
            for s in subjects.iter_mut().filter_map(Value::as_object_mut) {
                let is_sa = s.get("kind").and_then(Value::as_str) == Some("ServiceAccount");
                let is_default = s.get("name").and_then(Value::as_str) == Some("default");
                if is_sa && is_default {
                    s.insert("namespace".into(), Value::String(ns.to_string()));
                }
            }
        }
    }
    Ok(())
}

/// Add a name prefix (or suffix) to every resource it applies to.
pub fn prefix_suffix(
    rs: &mut [Resource],
    prefix: &str,
    suffix: &str,
    specs: &[FieldSpec],
) -> Result<()> {
    for r in rs.iter_mut() {
        let gvk = r.gvk();
        if skip_prefix(&gvk) {
            continue;
        }
        for fs in specs {
            if !gvk.selected_by(&fs.gvk) {
                continue;
            }
            if fs.path == ["metadata", "name"] {
                let n = format!("{prefix}{}{suffix}", r.name());
                r.set_name(&n);
                if !prefix.is_empty() {
                    r.prefixes.push(prefix.to_string());
                }
                if !suffix.is_empty() {
                    r.suffixes.push(suffix.to_string());
                }
            } else {
                fs.apply(&gvk, &mut r.obj, &mut |v| {
                    if let Some(s) = v.as_str() {
                        *v = Value::String(format!("{prefix}{s}{suffix}"));
                    }
                    Ok(())
                })?;
            }
        }
    }
    Ok(())
}

/// Put `pairs` into every map field of `specs` (labels or annotations).
pub fn set_map_fields(rs: &mut [Resource], pairs: &StrMap, specs: &[FieldSpec]) -> Result<()> {
    if pairs.is_empty() {
        return Ok(());
    }
    for r in rs.iter_mut() {
        let gvk = r.gvk();
        for fs in specs {
            fs.apply(&gvk, &mut r.obj, &mut |v| {
                if v.is_null() {
                    *v = Value::Object(Map::new());
                }
                let Some(m) = v.as_object_mut() else {
                    return Err(Error::msg(format!(
                        "expected a map at {}, got {v}",
                        fs.path.join("/")
                    )));
                };
                for (k, val) in pairs {
                    m.insert(k.clone(), Value::String(val.clone()));
                }
                Ok(())
            })?;
        }
    }
    Ok(())
}

/// Split an image reference into name, tag and digest, as kustomize does.
pub fn split_image(image: &str) -> (String, String, String) {
    let slash = image.find('/').filter(|&i| i > 0).unwrap_or(0);
    let search = &image[slash..];
    let at = search.find('@').map(|i| i + slash);
    let colon = search.find(':').map(|i| i + slash);
    match (colon, at) {
        (None, None) => (image.to_string(), String::new(), String::new()),
        (c, Some(d)) if c.is_none_or(|c| d < c) => (
            image[..d].to_string(),
            String::new(),
            image[d + 1..].to_string(),
        ),
        (Some(c), Some(d)) => (
            image[..c].to_string(),
            image[c + 1..d].to_string(),
            image[d + 1..].to_string(),
        ),
        (Some(c), None) => (
            image[..c].to_string(),
            image[c + 1..].to_string(),
            String::new(),
        ),
        (None, Some(_)) => unreachable!("handled by the digest-only arm"),
    }
}

/// An image rule with its name pattern compiled once.
struct Rule<'a> {
    img: &'a Image,
    re: Option<regex::Regex>,
}

impl<'a> Rule<'a> {
    fn new(img: &'a Image) -> Self {
        let pat = format!(
            "^{}(:[a-zA-Z0-9_.{{}}-]*)?(@sha256:[a-zA-Z0-9_.{{}}-]*)?$",
            img.name
        );
        Rule {
            img,
            re: regex::Regex::new(&pat).ok(),
        }
    }

    fn matches(&self, image: &str) -> bool {
        match &self.re {
            Some(re) => re.is_match(image),
            None => split_image(image).0 == self.img.name,
        }
    }
}

/// Apply every image rule in turn (kustomize runs one image transformer
/// per entry, so a later rule sees the result of an earlier one).
fn update_image(v: &mut Value, rules: &[Rule<'_>]) {
    for rule in rules {
        let img = rule.img;
        let Some(cur) = v.as_str() else { return };
        if !rule.matches(cur) {
            continue;
        }
        let (mut name, mut tag, mut digest) = split_image(cur);
        if !img.new_name.is_empty() {
            name = img.new_name.clone();
        }
        if !img.new_tag.is_empty() && !img.digest.is_empty() {
            tag = img.new_tag.clone();
            digest = img.digest.clone();
        } else if !img.new_tag.is_empty() {
            tag = img.new_tag.clone();
            digest.clear();
        } else if !img.digest.is_empty() {
            tag.clear();
            digest = img.digest.clone();
        }
        if !img.tag_suffix.is_empty() {
            tag.push_str(&img.tag_suffix);
        }
        if !tag.is_empty() {
            name = format!("{name}:{tag}");
        }
        if !digest.is_empty() {
            name = format!("{name}@{digest}");
        }
        *v = Value::String(name);
    }
}

fn images_anywhere(v: &mut Value, imgs: &[Rule<'_>]) {
    match v {
        Value::Object(m) => {
            for (k, child) in m.iter_mut() {
                if (k == "containers" || k == "initContainers") && child.is_array() {
                    for c in child.as_array_mut().into_iter().flatten() {
                        if let Some(img) = c.get_mut("image") {
                            update_image(img, imgs);
                        }
                    }
                }
                images_anywhere(child, imgs);
            }
        }
        Value::Array(a) => a.iter_mut().for_each(|i| images_anywhere(i, imgs)),
        _ => {}
    }
}

/// Update image names, tags and digests in every container list of every
/// resource, plus any extra image fields configured.
pub fn images(rs: &mut [Resource], imgs: &[Image], specs: &[FieldSpec]) -> Result<()> {
    let imgs: Vec<Rule<'_>> = imgs.iter().map(Rule::new).collect();
    let imgs = imgs.as_slice();
    for r in rs.iter_mut() {
        images_anywhere(&mut r.obj, imgs);
        let gvk = r.gvk();
        for fs in specs {
            fs.apply(&gvk, &mut r.obj, &mut |v| {
                update_image(v, imgs);
                Ok(())
            })?;
        }
    }
    Ok(())
}

/// Set replica counts by resource name.
pub fn replicas(rs: &mut [Resource], reps: &[Replica], specs: &[FieldSpec]) -> Result<()> {
    for rep in reps {
        let mut found = false;
        for r in rs.iter_mut() {
            if !r.all_ids().iter().any(|(n, _)| *n == rep.name) {
                continue;
            }
            let gvk = r.gvk();
            for fs in specs.iter().filter(|fs| gvk.selected_by(&fs.gvk)) {
                found = true;
                walk(&mut r.obj, &fs.path, fs.create, &mut |v| {
                    *v = Value::from(rep.count);
                    Ok(())
                })?;
            }
        }
        if !found {
            return Err(Error::msg(format!(
                "resource with name {} does not match a config with the following GVK [Deployment ReplicationController ReplicaSet StatefulSet]",
                rep.name
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn image_split_like_kustomize() {
        assert_eq!(split_image("nginx"), ("nginx".into(), "".into(), "".into()));
        assert_eq!(
            split_image("nginx:1.2"),
            ("nginx".into(), "1.2".into(), "".into())
        );
        assert_eq!(
            split_image("reg:5000/a/b:t@sha256:x"),
            ("reg:5000/a/b".into(), "t".into(), "sha256:x".into())
        );
        assert_eq!(
            split_image("a/b@sha256:x"),
            ("a/b".into(), "".into(), "sha256:x".into())
        );
    }

    #[test]
    fn image_update() {
        let mut v = Value::String("nginx:1.0".into());
        let img = Image {
            name: "nginx".into(),
            new_name: "reg/nginx".into(),
            new_tag: "2".into(),
            ..Default::default()
        };
        update_image(&mut v, &[Rule::new(&img)]);
        assert_eq!(v, "reg/nginx:2");
        let mut v = Value::String("nginx-other:1.0".into());
        let img = Image {
            name: "nginx".into(),
            new_tag: "2".into(),
            ..Default::default()
        };
        update_image(&mut v, &[Rule::new(&img)]);
        assert_eq!(v, "nginx-other:1.0");
    }
}

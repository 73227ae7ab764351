//! Custom OpenAPI schemas (`openapi: {path: ...}`): the merge keys and
//! patch strategies of custom resources' lists, for strategic merge.
//!
//! The schema file (JSON or YAML) has `definitions`; a definition names the
//! kinds it describes in `x-kubernetes-group-version-kind`. Properties are
//! followed through `$ref`, inline `properties` and array `items`; a list
//! property with `x-kubernetes-patch-strategy: merge` merges by its
//! `x-kubernetes-patch-merge-key` (or as a set without one). As in
//! kustomize, the custom schema replaces the built-in one: while it is in
//! force, kinds it does not describe (Deployments too) have no merge keys,
//! and their lists are replaced by a strategic merge patch.

use crate::resource::Gvk;
use serde_json::{Map, Value};
use std::collections::HashMap;

/// How a list property merges.
#[derive(Debug, Clone, PartialEq)]
pub enum Strategy {
    /// The patch's list replaces the target's.
    Replace,
    /// Elements with equal values of this key merge.
    Key(String),
    /// Primitive elements are united.
    Set,
}

/// One schema node: its properties and, for an array, its items.
#[derive(Debug, Default)]
struct Node {
    props: HashMap<String, (Option<usize>, Strategy)>,
    items: Option<usize>,
}

/// A loaded custom schema.
#[derive(Debug, Default)]
pub struct Schema {
    nodes: Vec<Node>,
    roots: Vec<(Gvk, usize)>,
}

impl Schema {
    /// Build from the schema document.
    pub fn new(doc: &Value) -> Self {
        let defs = doc
            .get("definitions")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        let mut b = Builder {
            defs: &defs,
            by_name: HashMap::new(),
            nodes: Vec::new(),
        };
        let mut roots = Vec::new();
        for (name, def) in &defs {
            let id = b.def(name);
            for g in def
                .get("x-kubernetes-group-version-kind")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                let s = |k: &str| g.get(k).and_then(Value::as_str).unwrap_or_default();
                roots.push((
                    Gvk {
                        group: s("group").to_string(),
                        version: s("version").to_string(),
                        kind: s("kind").to_string(),
                    },
                    id,
                ));
            }
        }
        Schema {
            nodes: b.nodes,
            roots,
        }
    }

    /// The node describing objects of `gvk`, if the schema has one.
    pub fn root(&self, gvk: &Gvk) -> Option<usize> {
        self.roots.iter().find(|(g, _)| g == gvk).map(|(_, i)| *i)
    }

    /// The node and list strategy of `field` under `node`.
    pub fn child(&self, node: usize, field: &str) -> (Option<usize>, &Strategy) {
        static REPLACE: Strategy = Strategy::Replace;
        match self.nodes.get(node).and_then(|n| n.props.get(field)) {
            Some((id, st)) => (*id, st),
            None => (None, &REPLACE),
        }
    }

    /// The node of an array's elements.
    pub fn items(&self, node: usize) -> Option<usize> {
        self.nodes.get(node).and_then(|n| n.items)
    }
}

struct Builder<'a> {
    defs: &'a Map<String, Value>,
    by_name: HashMap<String, usize>,
    nodes: Vec<Node>,
}

impl Builder<'_> {
    fn def(&mut self, name: &str) -> usize {
        if let Some(&id) = self.by_name.get(name) {
            return id;
        }
        let id = self.nodes.len();
        self.nodes.push(Node::default());
        self.by_name.insert(name.to_string(), id);
        if let Some(def) = self.defs.get(name) {
            let n = self.fill(def);
            self.nodes[id] = n;
        }
        id
    }

    /// The node for a schema value (following `$ref`).
    fn node(&mut self, v: &Value) -> usize {
        if let Some(r) = v.get("$ref").and_then(Value::as_str) {
            return self.def(r.trim_start_matches("#/definitions/"));
        }
        let id = self.nodes.len();
        self.nodes.push(Node::default());
        let n = self.fill(v);
        self.nodes[id] = n;
        id
    }

    fn fill(&mut self, v: &Value) -> Node {
        let mut n = Node::default();
        if let Some(items) = v.get("items") {
            n.items = Some(self.node(items));
        }
        for (k, p) in v
            .get("properties")
            .and_then(Value::as_object)
            .into_iter()
            .flatten()
        {
            let strategy = p
                .get("x-kubernetes-patch-strategy")
                .and_then(Value::as_str)
                .filter(|s| s.split(',').any(|s| s.trim() == "merge"))
                .map(|_| {
                    match p
                        .get("x-kubernetes-patch-merge-key")
                        .and_then(Value::as_str)
                    {
                        Some(key) => Strategy::Key(key.to_string()),
                        None => Strategy::Set,
                    }
                })
                .unwrap_or(Strategy::Replace);
            let child = self.node(p);
            n.props.insert(k.clone(), (Some(child), strategy));
        }
        n
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn merge_keys_through_refs_and_items() {
        let s = Schema::new(&json!({"definitions": {
            "A": {"properties": {"spec": {"properties": {"steps": {"type": "array",
                "items": {"$ref": "#/definitions/Step"},
                "x-kubernetes-patch-strategy": "merge", "x-kubernetes-patch-merge-key": "name"}}}},
                "x-kubernetes-group-version-kind": [{"group": "x.io", "version": "v1", "kind": "A"}]},
            "Step": {"properties": {"args": {"type": "array", "x-kubernetes-patch-strategy": "merge"}}}
        }}));
        let root = s.root(&Gvk::new("x.io/v1", "A")).expect("described kind");
        let (spec, st) = s.child(root, "spec");
        assert_eq!(*st, Strategy::Replace);
        let (steps, st) = s.child(spec.expect("spec node"), "steps");
        assert_eq!(*st, Strategy::Key("name".into()));
        let step = s.items(steps.expect("steps node")).expect("items");
        assert_eq!(*s.child(step, "args").1, Strategy::Set);
        assert!(s.root(&Gvk::new("v1", "A")).is_none());
    }
}

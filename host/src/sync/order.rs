//! Apply order for this sync: Namespaces, then CustomResourceDefinitions
//! before their custom resources, then Argo CD's kind order (DESIGN.md).
//! Objects are grouped by rank; a group is applied concurrently, groups one
//! after the other, and pruning walks the groups backwards.
//!
//! The kind rank is [`super::plan::kind_rank`]; phases, waves and hooks
//! from [`super::plan::plan`] are not wired in yet (the apply loop already
//! takes an ordered list of groups).

use crate::object::Object;
use std::collections::HashMap;

use super::plan::kind_rank;

/// Where a target's own kinds go among the kinds Kubernetes' order does
/// not know: `(group, kind)` → position in the order the target plugin
/// declares them (a DNS zone before its records).
pub type KindOrder = HashMap<(String, String), usize>;

/// Indices of `objects` grouped for applying: by kind rank, then by kind
/// (a target's kinds in their declared `order`, ahead of other kinds of
/// the same rank), each group sorted by namespace and name.
pub fn groups_in(objects: &[Object], order: &KindOrder) -> Vec<Vec<usize>> {
    let mut idx: Vec<usize> = (0..objects.len()).collect();
    let key = |i: &usize| {
        let id = &objects[*i].id;
        (
            kind_rank(&id.kind),
            order
                .get(&(id.group.clone(), id.kind.clone()))
                .copied()
                .unwrap_or(usize::MAX),
            id.kind.clone(),
            id.group.clone(),
            id.namespace.clone(),
            id.name.clone(),
        )
    };
    idx.sort_by_key(key);
    let mut out: Vec<Vec<usize>> = Vec::new();
    let mut last: Option<(usize, String)> = None;
    for i in idx {
        let k = (kind_rank(&objects[i].id.kind), objects[i].id.kind.clone());
        if last.as_ref() != Some(&k) {
            out.push(Vec::new());
            last = Some(k);
        }
        if let Some(g) = out.last_mut() {
            g.push(i);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn obj(api: &str, kind: &str, name: &str) -> Object {
        let v = serde_json::json!({"apiVersion": api, "kind": kind, "metadata": {"name": name}});
        crate::object::from_value(v, None, 0).expect("valid")
    }

    #[test]
    fn namespaces_then_crds_then_kinds_then_crs() {
        let objs = vec![
            obj("example.com/v1", "Widget", "w"),
            obj("apps/v1", "Deployment", "d"),
            obj("v1", "ConfigMap", "b"),
            obj("v1", "ConfigMap", "a"),
            obj(
                "apiextensions.k8s.io/v1",
                "CustomResourceDefinition",
                "widgets.example.com",
            ),
            obj("v1", "Namespace", "n"),
        ];
        let names: Vec<Vec<&str>> = groups_in(&objs, &KindOrder::new())
            .iter()
            .map(|g| g.iter().map(|i| objs[*i].id.name.as_str()).collect())
            .collect();
        assert_eq!(
            names,
            vec![
                vec!["n"],
                vec!["a", "b"],
                vec!["widgets.example.com"],
                vec!["d"],
                vec!["w"]
            ]
        );
    }

    #[test]
    fn a_targets_kinds_go_in_their_declared_order() {
        let objs = vec![
            obj("dns.sluice.dev/v1alpha1", "RecordSet", "www"),
            obj("example.com/v1", "Widget", "w"),
            obj("dns.sluice.dev/v1alpha1", "Zone", "example"),
        ];
        let by_name = |order: &KindOrder| -> Vec<Vec<&str>> {
            groups_in(&objs, order)
                .iter()
                .map(|g| g.iter().map(|i| objs[*i].id.name.as_str()).collect())
                .collect()
        };
        // Without the target's order: unknown kinds by name.
        assert_eq!(
            by_name(&KindOrder::new()),
            vec![vec!["www"], vec!["w"], vec!["example"]]
        );
        let order: KindOrder = [
            (("dns.sluice.dev".to_string(), "Zone".to_string()), 0),
            (("dns.sluice.dev".to_string(), "RecordSet".to_string()), 1),
        ]
        .into_iter()
        .collect();
        assert_eq!(
            by_name(&order),
            vec![vec!["example"], vec!["www"], vec!["w"]],
            "the zone, then its records, then other custom kinds"
        );
    }
}

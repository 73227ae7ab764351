//! Output order: kustomize's legacy order (by kind, then GVK, namespace and
//! name), `sortOptions` (`legacy` with custom first/last kinds, or `fifo`),
//! and `reorder=none` (input order).

use crate::error::{Error, Result};
use crate::resource::Resource;
use serde_json::Value;

const ORDER_FIRST: &[&str] = &[
    "Namespace",
    "ResourceQuota",
    "StorageClass",
    "CustomResourceDefinition",
    "ServiceAccount",
    "PodSecurityPolicy",
    "Role",
    "ClusterRole",
    "RoleBinding",
    "ClusterRoleBinding",
    "ConfigMap",
    "Secret",
    "Endpoints",
    "Service",
    "LimitRange",
    "PriorityClass",
    "PersistentVolume",
    "PersistentVolumeClaim",
    "Deployment",
    "StatefulSet",
    "CronJob",
    "PodDisruptionBudget",
];
const ORDER_LAST: &[&str] = &[
    "MutatingWebhookConfiguration",
    "ValidatingWebhookConfiguration",
];

/// How to order the output.
#[derive(Debug, Clone, PartialEq)]
pub enum Order {
    /// Input order.
    Fifo,
    /// Kind order with these first and last kinds.
    Legacy {
        /// Kinds put first, in this order.
        first: Vec<String>,
        /// Kinds put last, in this order.
        last: Vec<String>,
    },
}

impl Order {
    /// The default legacy order.
    pub fn legacy() -> Self {
        Order::Legacy {
            first: ORDER_FIRST.iter().map(|s| s.to_string()).collect(),
            last: ORDER_LAST.iter().map(|s| s.to_string()).collect(),
        }
    }

    /// From a kustomization's `sortOptions`.
    pub fn from_options(v: &Value) -> Result<Self> {
        let order = v.get("order").and_then(Value::as_str).unwrap_or_default();
        match order {
            "fifo" if v.get("legacySortOptions").is_some() => Err(Error::msg(
                "the field 'sortOptions.legacySortOptions' is set but the selected sort order is 'fifo', not 'legacy'; remove legacySortOptions or use order: legacy",
            )),
            "fifo" => Ok(Order::Fifo),
            "legacy" => {
                let list = |k: &str| -> Option<Vec<String>> {
                    v.pointer(&format!("/legacySortOptions/{k}"))
                        .and_then(Value::as_array)
                        .map(|a| {
                            a.iter()
                                .filter_map(Value::as_str)
                                .map(str::to_string)
                                .collect()
                        })
                };
                match (list("orderFirst"), list("orderLast")) {
                    (None, None) => Ok(Order::legacy()),
                    (f, l) => Ok(Order::Legacy {
                        first: f.unwrap_or_default(),
                        last: l.unwrap_or_default(),
                    }),
                }
            }
            other => Err(Error::msg(format!(
                "the field 'sortOptions.order' must be one of [fifo, legacy], not {other:?}"
            ))),
        }
    }
}

fn key(r: &Resource, first: &[String], last: &[String]) -> (i64, String, String, String) {
    let kind = r.kind();
    let rank = if let Some(i) = first.iter().position(|k| k == kind) {
        i as i64 - first.len() as i64
    } else if let Some(i) = last.iter().position(|k| k == kind) {
        i as i64 + 1
    } else {
        0
    };
    let or = |s: &str, d: &str| {
        if s.is_empty() {
            d.to_string()
        } else {
            s.to_string()
        }
    };
    (
        rank,
        r.gvk().sort_key(),
        or(r.namespace(), "~X"),
        or(r.name(), "~N"),
    )
}

/// Sort `rs` in place.
pub fn sort(rs: &mut [Resource], order: &Order) {
    if let Order::Legacy { first, last } = order {
        rs.sort_by_cached_key(|r| key(r, first, last));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn r(kind: &str, name: &str) -> Resource {
        Resource::new(
            json!({"apiVersion": "v1", "kind": kind, "metadata": {"name": name}}),
            "f",
            0,
        )
    }

    #[test]
    fn legacy_puts_namespaces_first_and_webhooks_last() {
        let mut rs = vec![
            r("ValidatingWebhookConfiguration", "w"),
            r("Foo", "b"),
            r("Foo", "a"),
            r("Namespace", "n"),
        ];
        sort(&mut rs, &Order::legacy());
        let names: Vec<&str> = rs.iter().map(|r| r.name()).collect();
        assert_eq!(names, ["n", "a", "b", "w"]);
    }
}

//! The two kinds, their canonical form, and how they map to PowerDNS's
//! zone and RRset JSON. Pure functions, unit-tested natively.

use serde_json::{Value, json};
use sluice_target_sdk::TargetError;

/// The kinds' `apiVersion`.
pub const API_VERSION: &str = "dns.sluice.dev/v1alpha1";
/// The Terraform-plan adapter's `apiVersion` for `Resource` objects.
pub const TF_API_VERSION: &str = "terraform.sluice.dev/v1alpha1";
/// The comment account that marks what sluice manages.
pub const MARK_ACCOUNT: &str = "sluice";
/// The comment content before the owner.
pub const MARK_PREFIX: &str = "managed by sluice: ";

/// A Zone object.
#[derive(Debug, Clone, PartialEq)]
pub struct Zone {
    /// `metadata.name`.
    pub object: String,
    /// Came as a Terraform `Resource` of type `powerdns_zone` (and is
    /// shown in that shape).
    pub terraform: bool,
    /// The zone's name, lower-case, with the trailing dot.
    pub name: String,
    /// Its nameservers, canonical and sorted.
    pub nameservers: Vec<String>,
    /// `Native`, `Master` or `Slave`.
    pub kind: String,
}

/// A RecordSet object.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordSet {
    /// `metadata.name`.
    pub object: String,
    /// Came as a Terraform `Resource` of type `powerdns_record`.
    pub terraform: bool,
    /// The zone, canonical.
    pub zone: String,
    /// The owner name, canonical.
    pub name: String,
    /// The type, upper-case.
    pub rtype: String,
    /// The TTL.
    pub ttl: u64,
    /// The records' contents, sorted, duplicates dropped.
    pub records: Vec<String>,
}

/// One object of either kind.
#[derive(Debug, Clone, PartialEq)]
pub enum Kind {
    /// A zone.
    Zone(Zone),
    /// A record set.
    RecordSet(RecordSet),
}

fn invalid(what: &str, msg: impl std::fmt::Display) -> TargetError {
    TargetError::Invalid(format!("{what}: {msg}"))
}

/// A DNS name, lower-case, with exactly one trailing dot; only the
/// characters a zone id may hold in a URL path.
fn dns_name(what: &str, field: &str, s: &str) -> Result<String, TargetError> {
    let n = s.trim().trim_end_matches('.').to_ascii_lowercase();
    if n.is_empty()
        || !n
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | '*'))
    {
        return Err(invalid(
            what,
            format!("spec.{field} {s:?} is not a DNS name (letters, digits, '-', '_', '.', '*')"),
        ));
    }
    Ok(format!("{n}."))
}

fn str_field<'a>(spec: &'a Value, what: &str, field: &str) -> Result<&'a str, TargetError> {
    spec.get(field).and_then(Value::as_str).ok_or_else(|| {
        invalid(
            what,
            format!("spec.{field} is required and must be a string"),
        )
    })
}

/// A record's content in PowerDNS's canonical form for its type: names
/// (CNAME, NS, PTR and the target of MX/SRV) fully qualified and
/// lower-case.
fn canonical_record(rtype: &str, content: &str) -> String {
    let c = content.trim();
    let qualify = |n: &str| {
        if n.ends_with('.') {
            n.to_ascii_lowercase()
        } else {
            format!("{}.", n.to_ascii_lowercase())
        }
    };
    match rtype {
        "CNAME" | "NS" | "PTR" | "DNAME" => qualify(c),
        "MX" | "SRV" => {
            let mut parts: Vec<String> = c.split_whitespace().map(str::to_string).collect();
            if let Some(last) = parts.last_mut() {
                *last = qualify(last);
            }
            parts.join(" ")
        }
        "AAAA" => c.to_ascii_lowercase(),
        _ => c.to_string(),
    }
}

impl Kind {
    /// Parse and check an object of either kind.
    pub fn of(v: &Value) -> Result<Kind, TargetError> {
        let kind = v.get("kind").and_then(Value::as_str).unwrap_or_default();
        let object = v
            .pointer("/metadata/name")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        let what = format!("{kind} {object}");
        let api = v
            .get("apiVersion")
            .and_then(Value::as_str)
            .unwrap_or_default();
        if api == TF_API_VERSION && kind == "Resource" {
            return Kind::of_terraform(v, &object, &what);
        }
        if api != API_VERSION {
            return Err(invalid(
                &what,
                format!("apiVersion {api:?} is not {API_VERSION}"),
            ));
        }
        let spec = v
            .get("spec")
            .filter(|s| s.is_object())
            .ok_or_else(|| invalid(&what, "spec is required"))?;
        match kind {
            "Zone" => {
                let name = dns_name(&what, "name", str_field(spec, &what, "name")?)?;
                let mut nameservers = Vec::new();
                for n in spec
                    .get("nameservers")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                {
                    let n = n
                        .as_str()
                        .ok_or_else(|| invalid(&what, "spec.nameservers must be strings"))?;
                    nameservers.push(dns_name(&what, "nameservers", n)?);
                }
                nameservers.sort();
                nameservers.dedup();
                let kind = spec
                    .get("kind")
                    .and_then(Value::as_str)
                    .unwrap_or("Native")
                    .to_string();
                Ok(Kind::Zone(Zone {
                    object,
                    terraform: false,
                    name,
                    nameservers,
                    kind,
                }))
            }
            "RecordSet" => {
                let zone = dns_name(&what, "zone", str_field(spec, &what, "zone")?)?;
                let name = dns_name(&what, "name", str_field(spec, &what, "name")?)?;
                if name != zone && !name.ends_with(&format!(".{zone}")) {
                    return Err(invalid(
                        &what,
                        format!("spec.name {name} is not inside spec.zone {zone}"),
                    ));
                }
                let rtype = str_field(spec, &what, "type")?.trim().to_ascii_uppercase();
                if rtype.is_empty() || !rtype.chars().all(|c| c.is_ascii_alphanumeric()) {
                    return Err(invalid(
                        &what,
                        format!("spec.type {rtype:?} is not a record type"),
                    ));
                }
                if rtype == "SOA" {
                    return Err(invalid(&what, "spec.type SOA is managed with the Zone"));
                }
                let ttl = match spec.get("ttl") {
                    None => 3600,
                    Some(t) => t
                        .as_u64()
                        .filter(|t| *t <= u64::from(u32::MAX))
                        .ok_or_else(|| invalid(&what, "spec.ttl must be a non-negative integer"))?,
                };
                let mut records = Vec::new();
                for r in spec
                    .get("records")
                    .and_then(Value::as_array)
                    .ok_or_else(|| invalid(&what, "spec.records is required (a list)"))?
                {
                    let c = match r {
                        Value::String(s) => s.clone(),
                        Value::Number(n) => n.to_string(),
                        _ => return Err(invalid(&what, "spec.records must be strings")),
                    };
                    records.push(canonical_record(&rtype, &c));
                }
                if records.is_empty() {
                    return Err(invalid(
                        &what,
                        "spec.records is empty; delete the RecordSet instead",
                    ));
                }
                records.sort();
                records.dedup();
                Ok(Kind::RecordSet(RecordSet {
                    object,
                    terraform: false,
                    zone,
                    name,
                    rtype,
                    ttl,
                    records,
                }))
            }
            other => Err(invalid(
                &what,
                format!("kind {other:?} is not handled by the powerdns target (Zone, RecordSet)"),
            )),
        }
    }

    /// A Terraform-plan `Resource` of the pan-net PowerDNS provider
    /// (`powerdns_zone`: name, kind, nameservers; `powerdns_record`: zone,
    /// name, type, ttl, records), read as the native kind.
    fn of_terraform(v: &Value, object: &str, what: &str) -> Result<Kind, TargetError> {
        let rtype = v
            .pointer("/spec/type")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let planned = v
            .pointer("/spec/plannedValues")
            .filter(|p| p.is_object())
            .ok_or_else(|| invalid(what, "spec.plannedValues is required"))?;
        let pick = |keys: &[&str]| {
            let mut m = serde_json::Map::new();
            for k in keys {
                if let Some(x) = planned.get(*k).filter(|x| !x.is_null()) {
                    m.insert((*k).to_string(), x.clone());
                }
            }
            Value::Object(m)
        };
        let (kind, spec) = match rtype {
            "powerdns_zone" => ("Zone", pick(&["name", "kind", "nameservers"])),
            "powerdns_record" => (
                "RecordSet",
                pick(&["zone", "name", "type", "ttl", "records"]),
            ),
            other => {
                return Err(invalid(
                    what,
                    format!(
                        "a Terraform resource of type {other:?} is not a PowerDNS resource (powerdns_zone, powerdns_record); an app listing this target may only hold those Resource objects"
                    ),
                ));
            }
        };
        let native = json!({"apiVersion": API_VERSION, "kind": kind, "metadata": {"name": object}, "spec": spec});
        Ok(match Kind::of(&native)? {
            Kind::Zone(z) => Kind::Zone(Zone {
                terraform: true,
                ..z
            }),
            Kind::RecordSet(r) => Kind::RecordSet(RecordSet {
                terraform: true,
                ..r
            }),
        })
    }

    fn terraform(&self) -> Option<&'static str> {
        match self {
            Kind::Zone(z) if z.terraform => Some("powerdns_zone"),
            Kind::RecordSet(r) if r.terraform => Some("powerdns_record"),
            _ => None,
        }
    }

    /// `native` (an object of the native kinds) in the shape the object
    /// came in: a Terraform `Resource` stays one.
    fn shaped(&self, native: Value) -> Value {
        let Some(tf_type) = self.terraform() else {
            return native;
        };
        let mut out = json!({
            "apiVersion": TF_API_VERSION, "kind": "Resource",
            "metadata": native["metadata"].clone(),
            "spec": {"type": tf_type, "plannedValues": native["spec"].clone()},
        });
        if let Some(st) = native.get("status") {
            out["status"] = st.clone();
        }
        out
    }

    /// The zone the object is in (or is).
    pub fn zone(&self) -> &str {
        match self {
            Kind::Zone(z) => &z.name,
            Kind::RecordSet(r) => &r.zone,
        }
    }

    /// `Zone example.test.`, `RecordSet www.example.test. A`.
    pub fn describe(&self) -> String {
        match self {
            Kind::Zone(z) => format!("Zone {}", z.name),
            Kind::RecordSet(r) => format!("RecordSet {} {}", r.name, r.rtype),
        }
    }

    /// The canonical object.
    pub fn normalised(&self) -> Value {
        self.shaped(self.native())
    }

    fn native(&self) -> Value {
        match self {
            Kind::Zone(z) => json!({
                "apiVersion": API_VERSION, "kind": "Zone",
                "metadata": {"name": z.object},
                "spec": {"name": z.name, "nameservers": z.nameservers, "kind": z.kind},
            }),
            Kind::RecordSet(r) => json!({
                "apiVersion": API_VERSION, "kind": "RecordSet",
                "metadata": {"name": r.object},
                "spec": {"zone": r.zone, "name": r.name, "type": r.rtype, "ttl": r.ttl, "records": r.records},
            }),
        }
    }

    /// This object as `zone` (PowerDNS's zone JSON with its RRsets) holds
    /// it, and the owner its mark names; `None` when it is not there.
    pub fn live(&self, zone: &Value) -> Option<(Value, Option<String>)> {
        self.live_native(zone).map(|(v, o)| (self.shaped(v), o))
    }

    fn live_native(&self, zone: &Value) -> Option<(Value, Option<String>)> {
        match self {
            Kind::Zone(z) => {
                let soa = rrset(zone, &z.name, "SOA");
                let nameservers: Vec<String> = rrset(zone, &z.name, "NS")
                    .map(|ns| contents(ns).collect())
                    .unwrap_or_default();
                let kind = zone.get("kind").and_then(Value::as_str).unwrap_or("Native");
                let v = json!({
                    "apiVersion": API_VERSION, "kind": "Zone",
                    "metadata": {"name": z.object},
                    "spec": {"name": z.name, "nameservers": nameservers, "kind": kind},
                    "status": {"serial": zone.get("serial").cloned().unwrap_or(Value::Null)},
                });
                Some((v, soa.and_then(mark)))
            }
            Kind::RecordSet(r) => {
                let set = rrset(zone, &r.name, &r.rtype)?;
                let records: Vec<String> = contents(set).collect();
                if records.is_empty() {
                    return None;
                }
                let v = json!({
                    "apiVersion": API_VERSION, "kind": "RecordSet",
                    "metadata": {"name": r.object},
                    "spec": {
                        "zone": r.zone, "name": r.name, "type": r.rtype,
                        "ttl": set.get("ttl").cloned().unwrap_or(Value::Null),
                        "records": records,
                    },
                    "status": {"comments": set.get("comments").cloned().unwrap_or(json!([]))},
                });
                Some((v, mark(set)))
            }
        }
    }
}

impl Zone {
    /// The body of `POST .../zones`.
    pub fn create_body(&self) -> Value {
        json!({"name": self.name, "kind": self.kind, "nameservers": self.nameservers})
    }

    /// The RRset changes that make `current` match: the apex NS records
    /// (when they differ) and the owner's mark on the SOA.
    pub fn patch(&self, current: &Value, owner: &str) -> Vec<Value> {
        let mut out = Vec::new();
        let ns = rrset(current, &self.name, "NS");
        let mut live_ns: Vec<String> = ns.map(|n| contents(n).collect()).unwrap_or_default();
        live_ns.sort();
        if live_ns != self.nameservers && !self.nameservers.is_empty() {
            let ttl = ns
                .and_then(|n| n.get("ttl"))
                .cloned()
                .unwrap_or(json!(3600));
            out.push(json!({
                "name": self.name, "type": "NS", "ttl": ttl, "changetype": "REPLACE",
                "records": self.nameservers.iter().map(|n| json!({"content": n, "disabled": false})).collect::<Vec<_>>(),
            }));
        }
        let soa = rrset(current, &self.name, "SOA");
        if soa.and_then(mark).as_deref() != Some(owner) {
            out.push(json!({
                "name": self.name, "type": "SOA", "changetype": "REPLACE",
                "comments": comments_with_mark(soa, owner),
            }));
        }
        out
    }
}

impl RecordSet {
    /// The RRset change that makes the server hold this set, marked for
    /// `owner`; other comments on the RRset are kept.
    pub fn replace(&self, current: &Value, owner: &str) -> Value {
        let existing = rrset(current, &self.name, &self.rtype);
        json!({
            "name": self.name, "type": self.rtype, "ttl": self.ttl, "changetype": "REPLACE",
            "records": self.records.iter().map(|c| json!({"content": c, "disabled": false})).collect::<Vec<_>>(),
            "comments": comments_with_mark(existing, owner),
        })
    }

    /// The RRset change deleting this set.
    pub fn delete_body(&self) -> Value {
        json!({"name": self.name, "type": self.rtype, "changetype": "DELETE"})
    }
}

/// A zone holding only `r`'s RRset with the comments of `live` (a live
/// RecordSet as `Kind::live` built it), for [`RecordSet::replace`].
pub fn zone_with_comments(r: &RecordSet, live: &Value) -> Value {
    let comments = live
        .pointer("/status/comments")
        .cloned()
        .unwrap_or(json!([]));
    json!({"rrsets": [{"name": r.name, "type": r.rtype, "comments": comments}]})
}

/// The RRset `name`/`rtype` of a zone.
fn rrset<'a>(zone: &'a Value, name: &str, rtype: &str) -> Option<&'a Value> {
    zone.get("rrsets")?.as_array()?.iter().find(|s| {
        s.get("name")
            .and_then(Value::as_str)
            .is_some_and(|n| n.eq_ignore_ascii_case(name))
            && s.get("type").and_then(Value::as_str) == Some(rtype)
    })
}

/// The enabled records' contents of an RRset, canonical.
fn contents(set: &Value) -> impl Iterator<Item = String> + '_ {
    let rtype = set.get("type").and_then(Value::as_str).unwrap_or_default();
    set.get("records")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter(|r| r.get("disabled") != Some(&Value::Bool(true)))
        .filter_map(move |r| {
            r.get("content")?
                .as_str()
                .map(|c| canonical_record(rtype, c))
        })
}

/// The owner named by an RRset's sluice comment, if it has one.
pub fn mark(set: &Value) -> Option<String> {
    set.get("comments")?.as_array()?.iter().find_map(|c| {
        if c.get("account").and_then(Value::as_str) != Some(MARK_ACCOUNT) {
            return None;
        }
        c.get("content")?
            .as_str()?
            .strip_prefix(MARK_PREFIX)
            .map(str::to_string)
    })
}

/// The comments of `existing` with sluice's mark set to `owner` (other
/// comments kept).
fn comments_with_mark(existing: Option<&Value>, owner: &str) -> Vec<Value> {
    let mut out: Vec<Value> = existing
        .and_then(|s| s.get("comments"))
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter(|c| c.get("account").and_then(Value::as_str) != Some(MARK_ACCOUNT))
        .map(|c| {
            json!({
                "content": c.get("content").cloned().unwrap_or(json!("")),
                "account": c.get("account").cloned().unwrap_or(json!("")),
            })
        })
        .collect();
    out.push(json!({"content": format!("{MARK_PREFIX}{owner}"), "account": MARK_ACCOUNT}));
    out
}

/// `name type` of every RRset of `zone` that does not carry `owner`'s
/// mark, besides the apex SOA and NS.
pub fn foreign_rrsets(zone: &Value, owner: &str) -> Vec<String> {
    let apex = zone.get("name").and_then(Value::as_str).unwrap_or_default();
    zone.get("rrsets")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter(|s| {
            let name = s.get("name").and_then(Value::as_str).unwrap_or_default();
            let t = s.get("type").and_then(Value::as_str).unwrap_or_default();
            !(name.eq_ignore_ascii_case(apex) && matches!(t, "SOA" | "NS"))
        })
        .filter(|s| mark(s).as_deref() != Some(owner))
        .map(|s| {
            format!(
                "{} {}",
                s.get("name").and_then(Value::as_str).unwrap_or_default(),
                s.get("type").and_then(Value::as_str).unwrap_or_default()
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rs(spec: Value) -> Result<Kind, TargetError> {
        Kind::of(
            &json!({"apiVersion": API_VERSION, "kind": "RecordSet", "metadata": {"name": "www"}, "spec": spec}),
        )
    }

    fn msg(e: TargetError) -> String {
        match e {
            TargetError::Invalid(m) => m,
            other => panic!("not invalid: {other:?}"),
        }
    }

    #[test]
    fn record_sets_normalise_names_types_and_record_order() {
        let k = rs(json!({"zone": "Example.Test", "name": "WWW.example.test.", "type": "a", "ttl": 300, "records": ["192.0.2.11", "192.0.2.10", "192.0.2.10"]}))
            .expect("valid");
        assert_eq!(
            k.normalised()["spec"],
            json!({"zone": "example.test.", "name": "www.example.test.", "type": "A", "ttl": 300, "records": ["192.0.2.10", "192.0.2.11"]})
        );
        let mx = rs(json!({"zone": "example.test.", "name": "example.test.", "type": "MX", "records": ["10 Mail.example.test"]})).expect("valid");
        assert_eq!(
            mx.normalised()["spec"]["records"],
            json!(["10 mail.example.test."])
        );
        assert_eq!(mx.normalised()["spec"]["ttl"], json!(3600));
    }

    #[test]
    fn bad_record_sets_name_the_field() {
        let e = msg(rs(json!({"zone": "example.test.", "name": "www.other.test.", "type": "A", "records": ["1.2.3.4"]})).expect_err("outside"));
        assert!(
            e.contains("spec.name www.other.test. is not inside spec.zone example.test."),
            "{e}"
        );
        let e = msg(
            rs(json!({"zone": "example.test.", "name": "www.example.test.", "type": "A"}))
                .expect_err("no records"),
        );
        assert!(e.contains("spec.records is required"), "{e}");
        let e = msg(rs(json!({"zone": "ex/../x", "name": "www.example.test.", "type": "A", "records": ["1.2.3.4"]})).expect_err("path"));
        assert!(e.contains("spec.zone \"ex/../x\" is not a DNS name"), "{e}");
        let e = msg(rs(json!({"zone": "example.test.", "name": "example.test.", "type": "SOA", "records": ["x"]})).expect_err("soa"));
        assert!(e.contains("spec.type SOA is managed with the Zone"), "{e}");
    }

    fn zone_json() -> Value {
        json!({"name": "example.test.", "kind": "Native", "serial": 7, "rrsets": [
            {"name": "example.test.", "type": "SOA", "ttl": 3600, "records": [{"content": "a. b. 1 2 3 4 5", "disabled": false}], "comments": []},
            {"name": "example.test.", "type": "NS", "ttl": 3600, "records": [{"content": "ns1.example.test.", "disabled": false}], "comments": []},
            {"name": "www.example.test.", "type": "A", "ttl": 300, "records": [{"content": "192.0.2.10", "disabled": false}],
             "comments": [{"content": "managed by sluice: app-1", "account": "sluice"}, {"content": "hello", "account": "ops"}]},
            {"name": "mail.example.test.", "type": "A", "ttl": 300, "records": [{"content": "192.0.2.99", "disabled": false}], "comments": []},
        ]})
    }

    #[test]
    fn live_record_sets_carry_their_mark_and_unmarked_ones_none() {
        let z = zone_json();
        let www = rs(json!({"zone": "example.test.", "name": "www.example.test.", "type": "A", "records": ["x"]})).expect("valid");
        let (v, owner) = www.live(&z).expect("there");
        assert_eq!(owner.as_deref(), Some("app-1"));
        assert_eq!(v["spec"]["records"], json!(["192.0.2.10"]));
        assert_eq!(v["spec"]["ttl"], json!(300));
        let mail = rs(json!({"zone": "example.test.", "name": "mail.example.test.", "type": "A", "records": ["x"]})).expect("valid");
        assert_eq!(mail.live(&z).expect("there").1, None);
        let none = rs(json!({"zone": "example.test.", "name": "x.example.test.", "type": "A", "records": ["x"]})).expect("valid");
        assert!(none.live(&z).is_none());
    }

    #[test]
    fn replacing_keeps_other_comments_and_sets_the_mark() {
        let z = zone_json();
        let Kind::RecordSet(www) = rs(json!({"zone": "example.test.", "name": "www.example.test.", "type": "A", "records": ["192.0.2.20"]})).expect("valid") else {
            panic!("a record set")
        };
        let body = www.replace(&z, "app-2");
        assert_eq!(
            body["comments"],
            json!([{"content": "hello", "account": "ops"}, {"content": "managed by sluice: app-2", "account": "sluice"}])
        );
        assert_eq!(
            body["records"],
            json!([{"content": "192.0.2.20", "disabled": false}])
        );
    }

    #[test]
    fn comments_read_earlier_are_kept_without_reading_again() {
        let k = rs(json!({"zone": "example.test.", "name": "www.example.test.", "type": "A", "records": ["192.0.2.20"]})).expect("valid");
        let (live, _) = k.live(&zone_json()).expect("there");
        let Kind::RecordSet(r) = k else {
            panic!("a record set")
        };
        let body = r.replace(&zone_with_comments(&r, &live), "app-2");
        assert_eq!(
            body["comments"],
            json!([{"content": "hello", "account": "ops"}, {"content": "managed by sluice: app-2", "account": "sluice"}])
        );
        // The comments ride in status, which normalising drops.
        let n = Kind::of(&live).expect("valid").normalised();
        assert!(n.get("status").is_none(), "{n}");
    }

    #[test]
    fn terraform_resources_are_read_as_their_kind_and_keep_their_shape() {
        let tf = json!({"apiVersion": TF_API_VERSION, "kind": "Resource", "metadata": {"name": "powerdns-record-www"},
            "spec": {"address": "powerdns_record.www", "type": "powerdns_record", "provider": "registry.terraform.io/pan-net/powerdns",
                     "action": "create", "plannedValues": {"zone": "example.test.", "name": "www.example.test.", "type": "A", "ttl": 300, "records": ["192.0.2.10"], "set_ptr": false}}});
        let k = Kind::of(&tf).expect("valid");
        assert_eq!(k.describe(), "RecordSet www.example.test. A");
        let n = k.normalised();
        assert_eq!(n["kind"], "Resource");
        assert_eq!(n["spec"]["type"], "powerdns_record");
        assert_eq!(n["spec"]["plannedValues"]["records"], json!(["192.0.2.10"]));
        assert!(
            n["spec"].get("address").is_none(),
            "plan-only fields are not compared"
        );
        // The live form reads back the same.
        let (live, owner) = k.live(&zone_json()).expect("there");
        assert_eq!(owner.as_deref(), Some("app-1"));
        assert_eq!(
            Kind::of(&live).expect("valid").normalised()["spec"]["plannedValues"]["ttl"],
            json!(300)
        );
        let other = json!({"apiVersion": TF_API_VERSION, "kind": "Resource", "metadata": {"name": "x"},
            "spec": {"type": "aws_s3_bucket", "plannedValues": {}}});
        let e = msg(Kind::of(&other).expect_err("not ours"));
        assert!(
            e.contains("a Terraform resource of type \"aws_s3_bucket\" is not a PowerDNS resource"),
            "{e}"
        );
    }

    #[test]
    fn a_zone_with_records_of_others_is_not_deletable() {
        assert_eq!(
            foreign_rrsets(&zone_json(), "app-1"),
            vec!["mail.example.test. A"]
        );
    }
}

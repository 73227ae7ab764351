//! The `powerdns` target: DNS zones and record sets through PowerDNS's
//! HTTP API (`/api/v1/servers/{server}/zones`).
//!
//! Kinds (`dns.sluice.dev/v1alpha1`):
//! - `Zone`: `spec: {name: example.test., nameservers: [ns1.example.test.], kind: Native}`;
//! - `RecordSet`: `spec: {zone: example.test., name: www.example.test., type: A, ttl: 300, records: [192.0.2.10]}`.
//!
//! Parameters: `server` (the PowerDNS server id, default `localhost`),
//! `url` (the API's base URL; default: the Target's first allowed origin).
//!
//! **Ownership.** What this plugin writes carries a comment on the RRset
//! (the SOA RRset for a zone) with account `sluice` and content
//! `managed by sluice: <owner>`; `read` reports it, `delete` requires it,
//! and other comments on the RRset are kept. A zone is deleted only when
//! every RRset in it besides the SOA and apex NS carries the caller's
//! mark, so records sluice does not own are never deleted with it.
//!
//! The logic is plain functions over JSON ([`model`]); the exports glue
//! them to HTTP requests.

pub mod model;

use model::{Kind, MARK_ACCOUNT};
use serde_json::{Value, json};
use sluice_target_sdk::http::{self, Request, Response};
use sluice_target_sdk::{
    CallContext, Deleted, Health, KindSpec, LiveObject, Target, TargetError, TargetInfo, healthy,
    param, param_spec,
};
use std::collections::HashMap;

/// The PowerDNS target.
pub struct PowerDns;

/// Where the API is, for one call.
struct Api {
    base: String,
    server: String,
}

impl Api {
    fn new(ctx: &CallContext) -> Result<Api, TargetError> {
        let base = param(ctx, "url")
            .map(str::to_string)
            .or_else(|| ctx.origins.first().cloned())
            .ok_or_else(|| {
                TargetError::Invalid(format!(
                    "Target {}: no API URL: set spec.params.url or spec.allowedOrigins",
                    ctx.target
                ))
            })?;
        Ok(Api {
            base: base.trim_end_matches('/').to_string(),
            server: param(ctx, "server").unwrap_or("localhost").to_string(),
        })
    }

    fn zones_url(&self) -> String {
        format!("{}/api/v1/servers/{}/zones", self.base, self.server)
    }

    fn zone_url(&self, zone: &str) -> String {
        format!("{}/{}", self.zones_url(), zone)
    }

    fn send(&self, req: Request) -> Result<Response, TargetError> {
        http::send(&req).map_err(TargetError::Unavailable)
    }

    /// The zone with its RRsets, `None` when it does not exist.
    fn zone(&self, zone: &str) -> Result<Option<Value>, TargetError> {
        let r = self.send(Request::new("GET", &self.zone_url(zone)))?;
        match r.status {
            200 => serde_json::from_slice(&r.body)
                .map(Some)
                .map_err(|e| TargetError::Unavailable(format!("GET zone {zone}: not JSON: {e}"))),
            404 | 422 => Ok(None),
            s => Err(status_error(&format!("GET zone {zone}"), s, &r)),
        }
    }

    fn patch(&self, zone: &str, rrsets: Vec<Value>) -> Result<(), TargetError> {
        let r = self
            .send(Request::new("PATCH", &self.zone_url(zone)).json(&json!({"rrsets": rrsets})))?;
        match r.status {
            200 | 204 => Ok(()),
            s => Err(status_error(&format!("PATCH zone {zone}"), s, &r)),
        }
    }
}

fn status_error(what: &str, status: u16, r: &Response) -> TargetError {
    let detail = serde_json::from_slice::<Value>(&r.body)
        .ok()
        .and_then(|v| v.get("error").and_then(Value::as_str).map(str::to_string))
        .unwrap_or_else(|| r.text().chars().take(300).collect());
    let msg = format!("{what}: PowerDNS answered {status}: {detail}");
    match status {
        401 | 403 => TargetError::Unavailable(format!("{msg} (check the Target's credentials)")),
        400 | 404 | 409 | 422 => TargetError::Rejected(msg),
        _ => TargetError::Unavailable(msg),
    }
}

fn parse(object: &str) -> Result<Value, TargetError> {
    serde_json::from_str(object).map_err(|e| TargetError::Invalid(format!("not JSON: {e}")))
}

fn live(v: Value, owner: Option<String>) -> LiveObject {
    LiveObject {
        json: v.to_string(),
        owner,
    }
}

impl Target for PowerDns {
    fn describe() -> TargetInfo {
        TargetInfo {
            name: "powerdns".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            description: "DNS zones and record sets through PowerDNS's HTTP API".into(),
            kinds: vec![
                KindSpec {
                    api_version: model::API_VERSION.into(),
                    kind: "Zone".into(),
                    description: "a DNS zone (name, nameservers)".into(),
                },
                KindSpec {
                    api_version: model::API_VERSION.into(),
                    kind: "RecordSet".into(),
                    description: "the records of one name and type in a zone".into(),
                },
            ],
            params: vec![
                param_spec("server", "the PowerDNS server id", Some("localhost")),
                param_spec(
                    "url",
                    "the API's base URL (default: the first allowed origin)",
                    None,
                ),
            ],
        }
    }

    fn read(
        ctx: &CallContext,
        objects: Vec<String>,
    ) -> Result<Vec<Option<LiveObject>>, TargetError> {
        let api = Api::new(ctx)?;
        // One GET per zone, whatever the number of objects in it.
        let mut zones: HashMap<String, Option<Value>> = HashMap::new();
        let mut out = Vec::with_capacity(objects.len());
        for o in &objects {
            let kind = Kind::of(&parse(o)?)?;
            let zone_name = kind.zone().to_string();
            if !zones.contains_key(&zone_name) {
                let z = api.zone(&zone_name)?;
                zones.insert(zone_name.clone(), z);
            }
            let zone = zones.get(&zone_name).and_then(Option::as_ref);
            out.push(
                zone.and_then(|z| kind.live(z))
                    .map(|(v, owner)| live(v, owner)),
            );
        }
        Ok(out)
    }

    fn normalise(_ctx: &CallContext, objects: Vec<String>) -> Result<Vec<String>, TargetError> {
        objects
            .iter()
            .map(|o| Ok(Kind::of(&parse(o)?)?.normalised().to_string()))
            .collect()
    }

    fn apply(ctx: &CallContext, object: String) -> Result<LiveObject, TargetError> {
        let api = Api::new(ctx)?;
        let kind = Kind::of(&parse(&object)?)?;
        let zone_name = kind.zone().to_string();
        let mut zone = api.zone(&zone_name)?;
        match &kind {
            Kind::Zone(z) => {
                if zone.is_none() {
                    let r =
                        api.send(Request::new("POST", &api.zones_url()).json(&z.create_body()))?;
                    if !matches!(r.status, 200 | 201) {
                        return Err(status_error(&format!("POST zone {}", z.name), r.status, &r));
                    }
                    zone = api.zone(&zone_name)?;
                }
                let current = zone.ok_or_else(|| {
                    TargetError::Unavailable(format!(
                        "zone {zone_name} is missing right after it was created"
                    ))
                })?;
                api.patch(&zone_name, z.patch(&current, &ctx.owner))?;
            }
            Kind::RecordSet(r) => {
                let current = zone.ok_or_else(|| {
                    TargetError::Rejected(format!(
                        "RecordSet {} {}: zone {zone_name} does not exist on PowerDNS; add a Zone object in an earlier sync wave (sluice.dev/sync-wave: \"-1\") or create the zone",
                        r.name, r.rtype
                    ))
                })?;
                api.patch(&zone_name, vec![r.replace(&current, &ctx.owner)])?;
            }
        }
        let after = api.zone(&zone_name)?;
        after
            .as_ref()
            .and_then(|z| kind.live(z))
            .map(|(v, owner)| live(v, owner))
            .ok_or_else(|| {
                TargetError::Unavailable(format!(
                    "{} is not there after it was applied",
                    kind.describe()
                ))
            })
    }

    fn delete(ctx: &CallContext, object: String) -> Result<Deleted, TargetError> {
        let api = Api::new(ctx)?;
        let kind = Kind::of(&parse(&object)?)?;
        let zone_name = kind.zone().to_string();
        let Some(zone) = api.zone(&zone_name)? else {
            return Ok(Deleted::NotFound);
        };
        let Some((_, owner)) = kind.live(&zone) else {
            return Ok(Deleted::NotFound);
        };
        if owner.as_deref() != Some(ctx.owner.as_str()) {
            return Err(TargetError::NotOwned(format!(
                "{} is not marked as managed by this app (its {MARK_ACCOUNT} comment says {}); it was left alone",
                kind.describe(),
                owner.as_deref().unwrap_or("nothing")
            )));
        }
        match &kind {
            Kind::Zone(_) => {
                let foreign = model::foreign_rrsets(&zone, &ctx.owner);
                if !foreign.is_empty() {
                    return Err(TargetError::Rejected(format!(
                        "{} holds records sluice does not manage for this app ({}); deleting the zone would delete them, so it was left alone",
                        kind.describe(),
                        foreign.join(", ")
                    )));
                }
                let r = api.send(Request::new("DELETE", &api.zone_url(&zone_name)))?;
                if !matches!(r.status, 200 | 204) {
                    return Err(status_error(
                        &format!("DELETE zone {zone_name}"),
                        r.status,
                        &r,
                    ));
                }
            }
            Kind::RecordSet(r) => api.patch(&zone_name, vec![r.delete_body()])?,
        }
        Ok(Deleted::Deleted)
    }

    fn health(_ctx: &CallContext, object: String) -> Result<Health, TargetError> {
        Kind::of(&parse(&object)?)?;
        Ok(healthy())
    }
}

sluice_target_sdk::export_target!(PowerDns);

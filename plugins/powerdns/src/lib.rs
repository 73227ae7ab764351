//! The `powerdns` target: DNS zones and record sets through PowerDNS's
//! HTTP API (`/api/v1/servers/{server}/zones`).
//!
//! Kinds (`dns.sluice.dev/v1alpha1`):
//! - `Zone`: `spec: {name: example.test., nameservers: [ns1.example.test.], kind: Native}`;
//! - `RecordSet`: `spec: {zone: example.test., name: www.example.test., type: A, ttl: 300, records: [192.0.2.10]}`.
//!
//! - Terraform-plan `Resource` objects (`terraform.sluice.dev/v1alpha1`,
//!   from the `terraform-plan` renderer with `resources=all`) of types
//!   `powerdns_zone` and `powerdns_record` (the pan-net provider's schema),
//!   applied as the kinds above and shown in their own shape; an app that
//!   lists this target routes every `Resource` to it, so other types are
//!   refused with a message saying so.
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
    ApplyRequest, CallContext, Deleted, Health, KindSpec, LastRead, LiveObject, Target,
    TargetError, TargetInfo, healthy, param, param_spec,
};
use std::collections::{BTreeMap, HashMap};

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
            404 => Err(TargetError::Rejected(format!(
                "zone {zone} does not exist on PowerDNS; add a Zone object in an earlier sync wave (sluice.dev/sync-wave: \"-1\") or create the zone"
            ))),
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
                KindSpec {
                    api_version: model::TF_API_VERSION.into(),
                    kind: "Resource".into(),
                    description: "a Terraform plan's powerdns_zone or powerdns_record (pan-net provider), from the terraform-plan renderer".into(),
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

    fn apply(
        ctx: &CallContext,
        objects: Vec<ApplyRequest>,
    ) -> Vec<Result<LiveObject, TargetError>> {
        let api = match Api::new(ctx) {
            Ok(a) => a,
            Err(e) => return objects.iter().map(|_| Err(e.clone())).collect(),
        };
        let mut out: Vec<Option<Result<LiveObject, TargetError>>> = vec![None; objects.len()];
        // Record sets, grouped by zone: one PATCH per zone.
        let mut by_zone: BTreeMap<String, Vec<(usize, model::RecordSet, LastRead)>> =
            BTreeMap::new();
        for (i, req) in objects.into_iter().enumerate() {
            match parse(&req.object).and_then(|v| Kind::of(&v)) {
                Err(e) => out[i] = Some(Err(e)),
                Ok(Kind::Zone(z)) => out[i] = Some(apply_zone(&api, ctx, &z)),
                Ok(Kind::RecordSet(r)) => {
                    by_zone
                        .entry(r.zone.clone())
                        .or_default()
                        .push((i, r, req.last));
                }
            }
        }
        for (zone, sets) in by_zone {
            for (i, answer) in apply_record_sets(&api, ctx, &zone, sets) {
                out[i] = Some(answer);
            }
        }
        out.into_iter()
            .map(|a| a.unwrap_or_else(|| Err(TargetError::Unavailable("not applied".into()))))
            .collect()
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

/// Create or update a zone (its nameservers and the owner's mark).
fn apply_zone(api: &Api, ctx: &CallContext, z: &model::Zone) -> Result<LiveObject, TargetError> {
    let kind = Kind::Zone(z.clone());
    let mut zone = api.zone(&z.name)?;
    if zone.is_none() {
        let r = api.send(Request::new("POST", &api.zones_url()).json(&z.create_body()))?;
        if !matches!(r.status, 200 | 201) {
            return Err(status_error(&format!("POST zone {}", z.name), r.status, &r));
        }
        zone = api.zone(&z.name)?;
    }
    let current = zone.ok_or_else(|| {
        TargetError::Unavailable(format!(
            "zone {} is missing right after it was created",
            z.name
        ))
    })?;
    api.patch(&z.name, z.patch(&current, &ctx.owner))?;
    api.zone(&z.name)?
        .as_ref()
        .and_then(|live_zone| kind.live(live_zone))
        .map(|(v, owner)| live(v, owner))
        .ok_or_else(|| {
            TargetError::Unavailable(format!(
                "{} is not there after it was applied",
                kind.describe()
            ))
        })
}

/// Replace the record sets of one zone, all in one PATCH; when that
/// fails, one PATCH each, so every set gets its own answer.
fn apply_record_sets(
    api: &Api,
    ctx: &CallContext,
    zone: &str,
    sets: Vec<(usize, model::RecordSet, LastRead)>,
) -> Vec<(usize, Result<LiveObject, TargetError>)> {
    // The sets' current comments (kept on replace): from what the host
    // read in this sync, else from the zone, read once.
    let unknown = sets.iter().any(|(_, _, l)| matches!(l, LastRead::Unknown));
    let zone_now = if unknown {
        match api.zone(zone) {
            Ok(z) => z,
            Err(e) => {
                return sets
                    .into_iter()
                    .map(|(i, _, _)| (i, Err(e.clone())))
                    .collect();
            }
        }
    } else {
        None
    };
    let mut bodies = Vec::with_capacity(sets.len());
    for (_, r, last) in &sets {
        let current = match last {
            LastRead::Present(j) => match parse(j) {
                Ok(v) => model::zone_with_comments(r, &v),
                Err(_) => json!({"rrsets": []}),
            },
            LastRead::Absent => json!({"rrsets": []}),
            LastRead::Unknown => zone_now.clone().unwrap_or_else(|| json!({"rrsets": []})),
        };
        bodies.push(r.replace(&current, &ctx.owner));
    }
    let done = |r: &model::RecordSet| {
        Ok(live(
            Kind::RecordSet(r.clone()).normalised(),
            Some(ctx.owner.clone()),
        ))
    };
    match api.patch(zone, bodies.clone()) {
        Ok(()) => sets.iter().map(|(i, r, _)| (*i, done(r))).collect(),
        Err(e) if sets.len() == 1 => vec![(sets[0].0, Err(e))],
        // PowerDNS applies a PATCH whole or not at all: find which sets it
        // refuses, one at a time.
        Err(_) => sets
            .iter()
            .zip(bodies)
            .map(|((i, r, _), body)| (*i, api.patch(zone, vec![body]).and_then(|()| done(r))))
            .collect(),
    }
}

sluice_target_sdk::export_target!(PowerDns);

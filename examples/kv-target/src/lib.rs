//! A minimal sluice target plugin: `Entry` objects kept in a key-value
//! service over HTTP.
//!
//! ```yaml
//! apiVersion: kv.example.dev/v1
//! kind: Entry
//! metadata: {name: greeting}
//! spec: {value: {text: hello}}
//! ```
//!
//! The service: `GET /kv/<name>` answers `{"value": ..., "owner": ...}` or
//! 404, `PUT /kv/<name>` stores such a document, `DELETE /kv/<name>` removes
//! it. The `owner` field is this plugin's ownership mark. Where the service
//! is comes from the Target's first allowed origin; its credentials are
//! added by sluice, never seen here.

use serde_json::{Value, json};
use sluice_target_sdk::http::{Request, send};
use sluice_target_sdk::{
    ApplyRequest, CallContext, Deleted, Health, KindSpec, LiveObject, Target, TargetError,
    TargetInfo, apply_each, healthy,
};

const API_VERSION: &str = "kv.example.dev/v1";

/// The key-value target.
pub struct Kv;

fn parse(object: &str) -> Result<(String, Value), TargetError> {
    let v: Value =
        serde_json::from_str(object).map_err(|e| TargetError::Invalid(format!("not JSON: {e}")))?;
    let name = v
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .filter(|n| n.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'))
        .ok_or_else(|| {
            TargetError::Invalid("metadata.name must be letters, digits and '-'".into())
        })?
        .to_string();
    let value = v.pointer("/spec/value").cloned().unwrap_or(Value::Null);
    Ok((name, value))
}

fn url(ctx: &CallContext, name: &str) -> Result<String, TargetError> {
    let base = ctx
        .origins
        .first()
        .ok_or_else(|| TargetError::Invalid("the Target has no allowedOrigins".into()))?;
    Ok(format!("{}/kv/{name}", base.trim_end_matches('/')))
}

fn object(name: &str, value: &Value) -> Value {
    json!({"apiVersion": API_VERSION, "kind": "Entry", "metadata": {"name": name}, "spec": {"value": value}})
}

fn get(ctx: &CallContext, name: &str) -> Result<Option<(Value, Option<String>)>, TargetError> {
    let r = send(&Request::new("GET", &url(ctx, name)?)).map_err(TargetError::Unavailable)?;
    match r.status {
        404 => Ok(None),
        200 => {
            let doc: Value = serde_json::from_slice(&r.body)
                .map_err(|e| TargetError::Unavailable(format!("GET {name}: not JSON: {e}")))?;
            let owner = doc.get("owner").and_then(Value::as_str).map(str::to_string);
            Ok(Some((
                doc.get("value").cloned().unwrap_or(Value::Null),
                owner,
            )))
        }
        s => Err(TargetError::Unavailable(format!(
            "GET {name}: status {s}: {}",
            r.text()
        ))),
    }
}

impl Target for Kv {
    fn describe() -> TargetInfo {
        TargetInfo {
            name: "kv".into(),
            version: "0.1.0".into(),
            description: "entries in an HTTP key-value service".into(),
            kinds: vec![KindSpec {
                api_version: API_VERSION.into(),
                kind: "Entry".into(),
                description: "one key and its JSON value".into(),
            }],
            params: vec![],
        }
    }

    fn read(
        ctx: &CallContext,
        objects: Vec<String>,
    ) -> Result<Vec<Option<LiveObject>>, TargetError> {
        objects
            .iter()
            .map(|o| {
                let (name, _) = parse(o)?;
                Ok(get(ctx, &name)?.map(|(value, owner)| LiveObject {
                    json: object(&name, &value).to_string(),
                    owner,
                }))
            })
            .collect()
    }

    fn normalise(_ctx: &CallContext, objects: Vec<String>) -> Result<Vec<String>, TargetError> {
        objects
            .iter()
            .map(|o| parse(o).map(|(name, value)| object(&name, &value).to_string()))
            .collect()
    }

    fn apply(
        ctx: &CallContext,
        objects: Vec<ApplyRequest>,
    ) -> Vec<Result<LiveObject, TargetError>> {
        apply_each(objects, |o, _last| put(ctx, o))
    }

    fn delete(ctx: &CallContext, o: String) -> Result<Deleted, TargetError> {
        remove(ctx, o)
    }

    fn health(_ctx: &CallContext, _o: String) -> Result<Health, TargetError> {
        Ok(healthy())
    }
}

fn put(ctx: &CallContext, o: String) -> Result<LiveObject, TargetError> {
    let (name, value) = parse(&o)?;
    let body = json!({"value": value, "owner": ctx.owner});
    let r = send(&Request::new("PUT", &url(ctx, &name)?).json(&body))
        .map_err(TargetError::Unavailable)?;
    if !matches!(r.status, 200 | 201 | 204) {
        return Err(TargetError::Rejected(format!(
            "PUT {name}: status {}: {}",
            r.status,
            r.text()
        )));
    }
    Ok(LiveObject {
        json: object(&name, &value).to_string(),
        owner: Some(ctx.owner.clone()),
    })
}

fn remove(ctx: &CallContext, o: String) -> Result<Deleted, TargetError> {
    let (name, _) = parse(&o)?;
    match get(ctx, &name)? {
        None => return Ok(Deleted::NotFound),
        Some((_, owner)) if owner.as_deref() != Some(ctx.owner.as_str()) => {
            return Err(TargetError::NotOwned(format!(
                "entry {name} is not this app's"
            )));
        }
        Some(_) => {}
    }
    let r = send(&Request::new("DELETE", &url(ctx, &name)?)).map_err(TargetError::Unavailable)?;
    match r.status {
        200 | 204 => Ok(Deleted::Deleted),
        404 => Ok(Deleted::NotFound),
        s => Err(TargetError::Rejected(format!("DELETE {name}: status {s}"))),
    }
}

sluice_target_sdk::export_target!(Kv);

//! One plan file: checked, then turned into objects and diagnostics.
//!
//! What a plan's actions become:
//!
//! | actions | desired |
//! |---|---|
//! | `create`, `update`, `no-op`, `delete`+`create`, `create`+`delete`, `forget`+`create` | the after-state |
//! | `delete` | nothing: the object is pruned if the app manages it |
//! | `forget` | the before-state, annotated `sluice.dev/forget: "true"` (below) |
//! | `read` (data sources) | nothing: data sources are not objects |
//!
//! `forget` (a `removed` block with `destroy = false`) means "stop managing
//! this, leave it running". The renderer gives the object as it was,
//! annotated `sluice.dev/forget: "true"`: the host's sync takes it out of
//! the app's inventory (drops its ApplySet membership) without applying or
//! deleting it, so it is never pruned and no longer compared, and a later
//! plan that no longer mentions it changes nothing.
//!
//! Values unknown until apply: a typed resource's after-state has many
//! attributes the provider computes when nobody configured them
//! (`image_pull_policy`, `cluster_ip`, `uid`, ...); those are left out and
//! the server fills them in. Only an unknown value the configuration sets
//! (the plan's `configuration` has an expression there) fails the render
//! (or is left out with `unknown=omit`). Everything in a `kubernetes_manifest`
//! `manifest` is configured.
//!
//! A plan is refused when it `errored`, when it is not `complete` (a
//! `-target` plan: what it leaves out would look deleted and be pruned;
//! OpenTofu does not write `complete`, so a managed resource of
//! `prior_state` without a change entry also marks a partial plan), when it
//! is a state rather than a plan, and when its `format_version` has a major
//! version other than 0 or 1.

use crate::{Options, UnknownMode, typed, values};
use serde::Deserialize;
use serde::de::IgnoredAny;
use serde_json::{Map, Value, json};
use sha2::Digest;
use sluice_plugin_sdk::{Diagnostic, Origin, RenderError, RenderedObject, Severity, diag};
use std::collections::{BTreeSet, HashMap};

/// What one plan file rendered to.
#[derive(Default)]
pub struct Rendered {
    /// Its objects.
    pub objects: Vec<RenderedObject>,
    /// Its diagnostics.
    pub results: Vec<Diagnostic>,
}

fn fail(file: &str, message: String) -> RenderError {
    diag::fail(message, Some(diag::file(file, None)))
}

/// An info diagnostic about `file` (the file travels in the diagnostic's
/// file reference, so the message does not repeat it).
fn info(file: &str, message: String) -> Diagnostic {
    let mut d = diag::new(Severity::Info, message);
    d.file = Some(diag::file(file, None));
    d
}

/// Render the plan JSON `bytes` read from `file`.
pub fn render(file: &str, bytes: &[u8], opts: &Options) -> Result<Rendered, RenderError> {
    let mut top = parse(file, bytes)?;
    check_kind(file, &top)?;
    check_version(file, &top)?;
    check_errored(file, &top)?;
    check_complete(file, &top)?;
    // Owned, so each after-state is moved into its object, not copied.
    let changes = match top.remove("resource_changes") {
        Some(Value::Array(a)) => a,
        _ => Vec::new(),
    };

    let mut exprs = HashMap::new();
    if let Some(root) = top.get("configuration").and_then(|c| c.get("root_module")) {
        config_expressions(root, "", &mut exprs);
    }
    let mut out = Rendered::default();
    let mut counts = Counts::default();
    let mut others = 0usize;
    for (i, mut rc) in changes.into_iter().enumerate() {
        let after = rc.pointer_mut("/change/after").map(Value::take);
        let mut change = Change::of(&rc);
        change.after = after.filter(|v| !v.is_null());
        if change.mode != "managed" {
            continue;
        }
        let action = Action::of(&change.actions);
        counts.add(action);
        let origin = Origin {
            file: file.to_string(),
            index: u32::try_from(i).unwrap_or(u32::MAX),
        };
        let is_k8s = change.r#type.starts_with("kubernetes_")
            && change.provider.ends_with("hashicorp/kubernetes");
        if !is_k8s {
            if opts.all_resources {
                if let Some(o) = resource_object(&mut change, action, origin)? {
                    out.objects.push(o);
                }
            } else {
                others += 1;
            }
            continue;
        }
        if change.r#type != "kubernetes_manifest" && typed::kind_of(change.r#type).is_none() {
            return Err(fail(
                file,
                format!(
                    "{file}: {}: resource type {} of the kubernetes provider is not supported by this renderer; use kubernetes_manifest for it, or leave it out of the plan sluice reads",
                    change.address, change.r#type
                ),
            ));
        }
        let config = exprs.get(&config_address(change.address)).copied();
        if let Some(o) = kubernetes_object(file, &mut change, action, origin, opts, config)? {
            out.objects.push(o);
        }
    }

    for d in top
        .get("resource_drift")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default()
    {
        let c = Change::of(d);
        // Providers often only normalise on refresh (an unset map read back
        // as `{}`); that is not a change anyone made.
        if strip_empty(c.before) == strip_empty(c.after.as_ref()) {
            continue;
        }
        out.results.push(info(
            file,
            format!(
                "{} changed outside Terraform since the last apply ({}); the plan was made from the refreshed state",
                c.address,
                c.actions.join("+")
            ),
        ));
    }
    out.results.push(info(file, counts.summary()));
    if others > 0 {
        out.results.push(info(
            file,
            format!(
                "{others} resource(s) of other providers not rendered; set the parameter resources=all to get them as terraform.sluice.dev/v1alpha1 Resource objects"
            ),
        ));
    }
    Ok(out)
}

/// The parts of a plan document this renderer reads. The rest (notably
/// `planned_values`, a second copy of every after-state, and the values in
/// `prior_state`) is skipped without being built, which halves the parse
/// time of a large plan.
#[derive(Deserialize)]
struct Doc {
    format_version: Option<Value>,
    errored: Option<Value>,
    complete: Option<Value>,
    resource_changes: Option<Vec<ChangeDoc>>,
    resource_drift: Option<Vec<ChangeDoc>>,
    checks: Option<Value>,
    configuration: Option<Value>,
    prior_state: Option<LightState>,
    planned_values: Option<IgnoredAny>,
    values: Option<IgnoredAny>,
    lineage: Option<IgnoredAny>,
    serial: Option<IgnoredAny>,
}

/// One item of `resource_changes` or `resource_drift`, with only the
/// fields this renderer reads. The sensitivity trees are kept as raw text
/// and parsed only when they mark something (`true` occurs in them): most
/// are all-false, and skipping them saves a third of the parse.
#[derive(Deserialize)]
struct ChangeDoc {
    address: Option<Value>,
    previous_address: Option<Value>,
    mode: Option<Value>,
    r#type: Option<Value>,
    provider_name: Option<Value>,
    action_reason: Option<Value>,
    change: Option<ChangeBody>,
}

#[derive(Deserialize)]
struct ChangeBody {
    actions: Option<Value>,
    before: Option<Value>,
    after: Option<Value>,
    after_unknown: Option<Value>,
    before_sensitive: Option<Box<serde_json::value::RawValue>>,
    after_sensitive: Option<Box<serde_json::value::RawValue>>,
    replace_paths: Option<Value>,
}

impl ChangeDoc {
    fn into_value(self) -> Value {
        fn marks(raw: Option<Box<serde_json::value::RawValue>>) -> Option<Value> {
            raw.filter(|r| r.get().contains("true"))
                .and_then(|r| serde_json::from_str(r.get()).ok())
        }
        let mut m = Map::new();
        let put = |m: &mut Map<String, Value>, k: &str, v: Option<Value>| {
            if let Some(v) = v {
                m.insert(k.to_string(), v);
            }
        };
        put(&mut m, "address", self.address);
        put(&mut m, "previous_address", self.previous_address);
        put(&mut m, "mode", self.mode);
        put(&mut m, "type", self.r#type);
        put(&mut m, "provider_name", self.provider_name);
        put(&mut m, "action_reason", self.action_reason);
        if let Some(c) = self.change {
            let mut b = Map::new();
            put(&mut b, "actions", c.actions);
            put(&mut b, "before", c.before);
            put(&mut b, "after", c.after);
            put(&mut b, "after_unknown", c.after_unknown);
            put(&mut b, "before_sensitive", marks(c.before_sensitive));
            put(&mut b, "after_sensitive", marks(c.after_sensitive));
            put(&mut b, "replace_paths", c.replace_paths);
            m.insert("change".into(), Value::Object(b));
        }
        Value::Object(m)
    }
}

/// `prior_state` with only what the completeness check needs.
#[derive(Deserialize, serde::Serialize)]
struct LightState {
    values: Option<LightValues>,
}

#[derive(Deserialize, serde::Serialize)]
struct LightValues {
    root_module: Option<LightModule>,
}

#[derive(Deserialize, serde::Serialize)]
struct LightModule {
    #[serde(default)]
    resources: Vec<LightResource>,
    #[serde(default)]
    child_modules: Vec<LightModule>,
}

#[derive(Deserialize, serde::Serialize)]
struct LightResource {
    address: Option<String>,
    mode: Option<String>,
}

/// Parse a plan document into the top-level map the checks read.
fn parse(file: &str, bytes: &[u8]) -> Result<Map<String, Value>, RenderError> {
    let doc: Doc = serde_json::from_slice(bytes).map_err(|e| {
        if e.classify() == serde_json::error::Category::Data {
            fail(
                file,
                format!("{file}: not a Terraform plan ({e}); it must be the output of `terraform show -json <planfile>`"),
            )
        } else {
            fail(
                file,
                format!("{file}: not valid JSON ({e}); it must be the output of `terraform show -json <planfile>`"),
            )
        }
    })?;
    let mut top = Map::new();
    let mut put = |k: &str, v: Option<Value>| {
        if let Some(v) = v {
            top.insert(k.to_string(), v);
        }
    };
    put("format_version", doc.format_version);
    put("errored", doc.errored);
    put("complete", doc.complete);
    let items = |v: Option<Vec<ChangeDoc>>| {
        v.map(|items| Value::Array(items.into_iter().map(ChangeDoc::into_value).collect()))
    };
    put("resource_changes", items(doc.resource_changes));
    put("resource_drift", items(doc.resource_drift));
    put("checks", doc.checks);
    put("configuration", doc.configuration);
    put(
        "prior_state",
        doc.prior_state.and_then(|p| serde_json::to_value(p).ok()),
    );
    for (k, present) in [
        ("planned_values", doc.planned_values.is_some()),
        ("values", doc.values.is_some()),
        ("lineage", doc.lineage.is_some()),
        ("serial", doc.serial.is_some()),
    ] {
        put(k, present.then_some(Value::Bool(true)));
    }
    Ok(top)
}

/// Refuse a state file (raw `terraform.tfstate`, or `terraform show -json`
/// of a state) given where a plan belongs.
fn check_kind(file: &str, top: &Map<String, Value>) -> Result<(), RenderError> {
    let is_raw_state = top.contains_key("lineage") || top.contains_key("serial");
    let is_shown_state = top.contains_key("values")
        && !top.contains_key("planned_values")
        && !top.contains_key("resource_changes");
    if is_raw_state || is_shown_state {
        return Err(fail(
            file,
            format!(
                "{file}: is a Terraform state, not a plan; commit the plan instead: `terraform plan -out plan.bin && terraform show -json plan.bin > {file}`"
            ),
        ));
    }
    if !top.contains_key("format_version") {
        return Err(fail(
            file,
            format!(
                "{file}: not a Terraform plan (no format_version); it must be the output of `terraform show -json <planfile>`"
            ),
        ));
    }
    Ok(())
}

fn check_version(file: &str, top: &Map<String, Value>) -> Result<(), RenderError> {
    let v = top
        .get("format_version")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let mut parts = v.split('.');
    let major = parts.next().and_then(|p| p.parse::<u64>().ok());
    let minor = parts.next().and_then(|p| p.parse::<u64>().ok());
    match (major, minor) {
        (Some(0), Some(m)) if m >= 1 => Ok(()),
        (Some(1), Some(_)) => Ok(()),
        (Some(m), Some(_)) if m >= 2 => Err(fail(
            file,
            format!(
                "{file}: plan format_version {v} is not supported (this renderer reads 0.1 to 1.x); upgrade sluice, or make the plan with a Terraform that writes format 1.x"
            ),
        )),
        _ => Err(fail(
            file,
            format!(
                "{file}: plan format_version {v:?} is not a version this renderer reads (0.1 to 1.x)"
            ),
        )),
    }
}

fn check_errored(file: &str, top: &Map<String, Value>) -> Result<(), RenderError> {
    if top.get("errored").and_then(Value::as_bool) != Some(true) {
        return Ok(());
    }
    // A plan's JSON keeps its failed checks (preconditions, postconditions,
    // check blocks, variable validations); other errors live only in the
    // log of the `plan` command.
    let mut results = Vec::new();
    for check in top
        .get("checks")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default()
    {
        for inst in check
            .get("instances")
            .and_then(Value::as_array)
            .map(Vec::as_slice)
            .unwrap_or_default()
        {
            let status = inst.get("status").and_then(Value::as_str).unwrap_or("");
            if status != "fail" && status != "error" {
                continue;
            }
            let addr = inst
                .pointer("/address/to_display")
                .or_else(|| check.pointer("/address/to_display"))
                .and_then(Value::as_str)
                .unwrap_or("?");
            let problems: Vec<&str> = inst
                .get("problems")
                .and_then(Value::as_array)
                .map(|p| {
                    p.iter()
                        .filter_map(|x| x.get("message").and_then(Value::as_str))
                        .collect()
                })
                .unwrap_or_default();
            let mut d = diag::error(format!(
                "{addr}: check {status}ed: {}",
                if problems.is_empty() {
                    "(no message)".to_string()
                } else {
                    problems.join("; ")
                }
            ));
            d.file = Some(diag::file(file, None));
            results.push(d);
        }
    }
    let message = format!(
        "{file}: the plan errored (`errored: true`): Terraform could not finish planning{}; fix the configuration and commit a plan that succeeded",
        if results.is_empty() {
            ", and the plan records no failed check, so see the log of the `terraform plan` run"
                .to_string()
        } else {
            format!(
                ": {}",
                results
                    .iter()
                    .map(|d| d.message.as_str())
                    .collect::<Vec<_>>()
                    .join("; ")
            )
        }
    );
    let mut head = diag::error(message.clone());
    head.file = Some(diag::file(file, None));
    results.insert(0, head);
    Err(RenderError { message, results })
}

fn check_complete(file: &str, top: &Map<String, Value>) -> Result<(), RenderError> {
    let refuse = |why: String| {
        fail(
            file,
            format!(
                "{file}: the plan is not complete ({why}), e.g. made with -target: the resources it leaves out would look deleted and be pruned; commit a full plan"
            ),
        )
    };
    if top.get("complete").and_then(Value::as_bool) == Some(false) {
        return Err(refuse("complete: false".into()));
    }
    let mut planned = BTreeSet::new();
    for rc in top
        .get("resource_changes")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default()
    {
        for k in ["address", "previous_address"] {
            if let Some(a) = rc.get(k).and_then(Value::as_str) {
                planned.insert(a.to_string());
            }
        }
    }
    let mut missing = Vec::new();
    if let Some(root) = top
        .get("prior_state")
        .and_then(|s| s.pointer("/values/root_module"))
    {
        state_addresses(root, &mut |addr| {
            if !planned.contains(addr) {
                missing.push(addr.to_string());
            }
        });
    }
    if !missing.is_empty() {
        let shown: Vec<&str> = missing.iter().take(5).map(String::as_str).collect();
        return Err(refuse(format!(
            "{} managed resource(s) of the prior state have no planned change: {}{}",
            missing.len(),
            shown.join(", "),
            if missing.len() > shown.len() {
                ", ..."
            } else {
                ""
            }
        )));
    }
    Ok(())
}

fn state_addresses(module: &Value, f: &mut dyn FnMut(&str)) {
    for r in module
        .get("resources")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default()
    {
        if r.get("mode").and_then(Value::as_str) == Some("managed")
            && let Some(a) = r.get("address").and_then(Value::as_str)
        {
            f(a);
        }
    }
    for c in module
        .get("child_modules")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default()
    {
        state_addresses(c, f);
    }
}

/// The fields of one `resource_changes` item this renderer reads.
struct Change<'a> {
    address: &'a str,
    mode: &'a str,
    r#type: &'a str,
    provider: &'a str,
    actions: Vec<&'a str>,
    action_reason: Option<&'a str>,
    before: Option<&'a Value>,
    after: Option<Value>,
    after_unknown: Option<&'a Value>,
    before_sensitive: Option<&'a Value>,
    after_sensitive: Option<&'a Value>,
    replace_paths: Option<&'a Value>,
}

impl<'a> Change<'a> {
    fn of(rc: &'a Value) -> Self {
        let s = |k: &str| rc.get(k).and_then(Value::as_str).unwrap_or_default();
        let c = |k: &str| rc.pointer(&format!("/change/{k}")).filter(|v| !v.is_null());
        Change {
            address: s("address"),
            mode: s("mode"),
            r#type: s("type"),
            provider: s("provider_name"),
            actions: rc
                .pointer("/change/actions")
                .and_then(Value::as_array)
                .map(|a| a.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default(),
            action_reason: rc.get("action_reason").and_then(Value::as_str),
            before: c("before"),
            after: c("after").cloned(),
            after_unknown: c("after_unknown"),
            before_sensitive: c("before_sensitive"),
            after_sensitive: c("after_sensitive"),
            replace_paths: c("replace_paths"),
        }
    }
}

/// What a change's actions mean for the desired state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Action {
    Create,
    Update,
    Replace,
    NoOp,
    Delete,
    Forget,
    Read,
    Other,
}

impl Action {
    fn of(actions: &[&str]) -> Self {
        match actions {
            ["create"] => Action::Create,
            ["update"] => Action::Update,
            ["no-op"] => Action::NoOp,
            ["delete", "create"] | ["create", "delete"] | ["forget", "create"] => Action::Replace,
            ["delete"] => Action::Delete,
            ["forget"] => Action::Forget,
            ["read"] => Action::Read,
            _ => Action::Other,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Action::Create => "create",
            Action::Update => "update",
            Action::Replace => "replace",
            Action::NoOp => "no-op",
            Action::Delete => "delete",
            Action::Forget => "forget",
            Action::Read => "read",
            Action::Other => "other",
        }
    }
}

#[derive(Default)]
struct Counts {
    create: usize,
    update: usize,
    replace: usize,
    delete: usize,
    forget: usize,
    no_op: usize,
}

impl Counts {
    fn add(&mut self, a: Action) {
        match a {
            Action::Create => self.create += 1,
            Action::Update => self.update += 1,
            Action::Replace => self.replace += 1,
            Action::Delete => self.delete += 1,
            Action::Forget => self.forget += 1,
            Action::NoOp => self.no_op += 1,
            Action::Read | Action::Other => {}
        }
    }

    fn summary(&self) -> String {
        format!(
            "plan: {} to create, {} to update, {} to replace, {} to delete, {} to forget, {} unchanged",
            self.create, self.update, self.replace, self.delete, self.forget, self.no_op
        )
    }
}

/// The value the object is made from and its marks: the after-state, or
/// for `forget` the before-state; `None` when nothing is desired.
fn desired_value<'a>(
    change: &mut Change<'a>,
    action: Action,
) -> Option<(Value, Option<&'a Value>)> {
    match action {
        Action::Create | Action::Update | Action::Replace | Action::NoOp => {
            let mut v = change.after.take().unwrap_or(Value::Null);
            values::mark_unknown(&mut v, change.after_unknown);
            Some((v, change.after_sensitive))
        }
        Action::Forget => change.before.map(|b| (b.clone(), change.before_sensitive)),
        Action::Delete | Action::Read | Action::Other => None,
    }
}

/// Convert `value` with `conv`, then again with the sensitive values marked
/// to learn where they landed.
fn convert_with_sensitive(
    value: Value,
    sensitive: Option<&Value>,
    conv: &dyn Fn(Value) -> Option<Value>,
) -> Option<(Value, Vec<String>)> {
    let paths = if values::any_sensitive(sensitive) {
        let mut marked = value.clone();
        values::mark_sensitive(&mut marked, sensitive);
        conv(marked)
            .map(|m| values::find_sensitive(&m))
            .unwrap_or_default()
    } else {
        Vec::new()
    };
    Some((conv(value)?, paths))
}

fn kubernetes_object(
    file: &str,
    change: &mut Change<'_>,
    action: Action,
    origin: Origin,
    opts: &Options,
    config: Option<&Value>,
) -> Result<Option<RenderedObject>, RenderError> {
    let Some((value, sensitive)) = desired_value(change, action) else {
        return Ok(None);
    };
    let is_manifest = change.r#type == "kubernetes_manifest";
    let tf_type = change.r#type;
    let conv = move |v: Value| -> Option<Value> {
        if is_manifest {
            match v {
                Value::Object(mut m) => m.remove("manifest").filter(Value::is_object),
                _ => None,
            }
        } else {
            typed::convert(tf_type, v)
        }
    };
    let Some((mut obj, mut sensitive_paths)) = convert_with_sensitive(value, sensitive, &conv)
    else {
        return Err(fail(
            file,
            format!(
                "{file}: {}: the plan has no {} for it",
                change.address,
                if is_manifest { "manifest" } else { "object" }
            ),
        ));
    };
    for u in values::find_unknown(&obj) {
        let computed = !is_manifest
            && match config {
                Some(c) => !configured(c, &u.path),
                None => typed::SERVER_COMPUTED.contains(&u.key.as_str()),
            };
        if computed || opts.unknown == UnknownMode::Omit {
            values::remove(&mut obj, &u.pointer);
            continue;
        }
        return Err(fail(
            file,
            format!(
                "{file}: {}: the value of {} is known only after apply, so the object cannot be rendered; make it known at plan time, or set the parameter unknown=omit to leave such fields out",
                change.address,
                u.tf_path()
            ),
        ));
    }
    if !is_manifest {
        typed::provider_defaults(tf_type, &mut obj);
    }
    if obj.get("kind").and_then(Value::as_str) == Some("Secret") {
        // Every value of a Secret is sensitive, key by key (so a diff can
        // still show which key changed).
        for f in ["data", "stringData"] {
            if let Some(m) = obj.get(f).and_then(Value::as_object) {
                sensitive_paths.retain(|p| p != &format!("/{f}"));
                for k in m.keys() {
                    sensitive_paths.push(format!("/{f}/{}", values::escape(k)));
                }
            }
        }
    }
    if action == Action::Forget {
        forget_annotations(&mut obj);
    }
    sensitive_paths.sort();
    sensitive_paths.dedup();
    Ok(Some(sluice_plugin_sdk::sensitive_object(
        &obj,
        Some(origin),
        sensitive_paths,
    )))
}

/// Mark a forgotten object so the host stops managing it without deleting
/// it (`sluice.dev/forget`, see `sluice::sync`).
fn forget_annotations(obj: &mut Value) {
    let Some(meta) = obj
        .as_object_mut()
        .map(|o| o.entry("metadata").or_insert_with(|| json!({})))
        .and_then(Value::as_object_mut)
    else {
        return;
    };
    let ann = meta.entry("annotations").or_insert_with(|| json!({}));
    if let Some(a) = ann.as_object_mut() {
        a.insert("sluice.dev/forget".into(), Value::String("true".into()));
    }
}

/// The API version and kind of the objects made for other providers'
/// resources.
pub const RESOURCE_API_VERSION: &str = "terraform.sluice.dev/v1alpha1";

/// A `Resource` object for a resource of another provider. Values unknown
/// until apply (ids, mostly) are left out of `plannedValues` and listed in
/// `unknownPaths`: applying such a resource is the target plugin's job,
/// and it learns them when it applies.
fn resource_object(
    change: &mut Change<'_>,
    action: Action,
    origin: Origin,
) -> Result<Option<RenderedObject>, RenderError> {
    let Some((value, sensitive)) = desired_value(change, action) else {
        return Ok(None);
    };
    let build = |planned: Value| -> Option<Value> {
        let mut spec = Map::new();
        spec.insert("address".into(), json!(change.address));
        spec.insert("type".into(), json!(change.r#type));
        spec.insert("provider".into(), json!(change.provider));
        spec.insert("action".into(), json!(action.name()));
        if let Some(r) = change.action_reason {
            spec.insert("actionReason".into(), json!(r));
        }
        if let Some(p) = change.replace_paths {
            spec.insert("replacePaths".into(), p.clone());
        }
        spec.insert("plannedValues".into(), planned);
        let mut obj = json!({
            "apiVersion": RESOURCE_API_VERSION,
            "kind": "Resource",
            "metadata": {
                "name": resource_name(change.address),
                "annotations": {"terraform.sluice.dev/address": change.address},
            },
            "spec": spec,
        });
        if action == Action::Forget {
            forget_annotations(&mut obj);
        }
        Some(obj)
    };
    let Some((mut obj, mut sensitive_paths)) = convert_with_sensitive(value, sensitive, &build)
    else {
        return Ok(None);
    };
    let mut unknown = Vec::new();
    for u in values::find_unknown(&obj) {
        values::remove(&mut obj, &u.pointer);
        unknown.push(Value::String(u.tf_path()));
    }
    if !unknown.is_empty()
        && let Some(spec) = obj.get_mut("spec").and_then(Value::as_object_mut)
    {
        spec.insert("unknownPaths".into(), Value::Array(unknown));
    }
    sensitive_paths.sort();
    Ok(Some(sluice_plugin_sdk::sensitive_object(
        &obj,
        Some(origin),
        sensitive_paths,
    )))
}

/// A stable, DNS-label-safe name for a resource address: the address in
/// lower case with every other character turned into `-`, cut to fit, and
/// a digest of the whole address so that two addresses never share a name.
pub fn resource_name(address: &str) -> String {
    let mut base = String::new();
    for c in address.chars() {
        let c = c.to_ascii_lowercase();
        if c.is_ascii_alphanumeric() {
            base.push(c);
        } else if !base.ends_with('-') && !base.is_empty() {
            base.push('-');
        }
    }
    let mut base: String = base.chars().take(48).collect();
    while base.ends_with('-') {
        base.pop();
    }
    let digest = sha2::Sha256::digest(address.as_bytes());
    let hex: String = digest.iter().take(5).map(|b| format!("{b:02x}")).collect();
    if base.is_empty() {
        format!("tf-{hex}")
    } else {
        format!("{base}-{hex}")
    }
}

/// Collect the `expressions` of every configured resource, keyed by its
/// configuration address (`module.a.kubernetes_config_map_v1.c`).
fn config_expressions<'a>(module: &'a Value, prefix: &str, out: &mut HashMap<String, &'a Value>) {
    for r in module
        .get("resources")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default()
    {
        if let (Some(a), Some(e)) = (
            r.get("address").and_then(Value::as_str),
            r.get("expressions"),
        ) {
            out.insert(format!("{prefix}{a}"), e);
        }
    }
    if let Some(calls) = module.get("module_calls").and_then(Value::as_object) {
        for (name, call) in calls {
            if let Some(m) = call.get("module") {
                config_expressions(m, &format!("{prefix}module.{name}."), out);
            }
        }
    }
}

/// The configuration address of a resource instance: the instance keys
/// (`[0]`, `["a"]`) of modules and the resource dropped.
fn config_address(address: &str) -> String {
    let mut out = String::with_capacity(address.len());
    let (mut depth, mut in_string, mut escaped) = (0usize, false, false);
    for c in address.chars() {
        if in_string {
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                in_string = false;
            }
            continue;
        }
        match c {
            '[' => depth += 1,
            ']' => depth = depth.saturating_sub(1),
            '"' if depth > 0 => in_string = true,
            _ if depth == 0 => out.push(c),
            _ => {}
        }
    }
    out
}

/// Whether the configuration sets the attribute at `path` (or a map or
/// list attribute containing it): walking the expressions along the path
/// reaches an expression (`constant_value` or `references`).
fn configured(expressions: &Value, path: &[String]) -> bool {
    let mut cur = expressions;
    for step in path {
        if cur.get("constant_value").is_some() || cur.get("references").is_some() {
            return true;
        }
        cur = match cur {
            Value::Object(m) => match m.get(step) {
                Some(v) => v,
                None => return false,
            },
            Value::Array(a) => {
                // Blocks: the configuration lists each written block once;
                // `dynamic` blocks and counts are not expanded there.
                match step
                    .parse::<usize>()
                    .ok()
                    .and_then(|i| a.get(i).or(a.first()))
                {
                    Some(v) => v,
                    None => return false,
                }
            }
            _ => return false,
        };
    }
    cur.get("constant_value").is_some() || cur.get("references").is_some()
}

/// `v` without null, empty strings, empty lists and empty maps, for
/// comparing states that differ only in how "unset" is written.
fn strip_empty(v: Option<&Value>) -> Option<Value> {
    fn strip(v: &Value) -> Option<Value> {
        match v {
            Value::Null => None,
            Value::String(s) if s.is_empty() => None,
            Value::Array(a) => {
                let items: Vec<Value> = a.iter().filter_map(strip).collect();
                (!items.is_empty()).then_some(Value::Array(items))
            }
            Value::Object(m) => {
                let m: Map<String, Value> = m
                    .iter()
                    .filter_map(|(k, v)| strip(v).map(|v| (k.clone(), v)))
                    .collect();
                (!m.is_empty()).then_some(Value::Object(m))
            }
            other => Some(other.clone()),
        }
    }
    v.and_then(strip)
}

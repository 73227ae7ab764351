//! Ignored differences: fields of chosen objects that diff does not
//! compare and sync does not send (Argo CD's `ignoreDifferences`).
//!
//! A [`Rule`] picks objects by group and kind (globs: `*` matches any
//! text) and by exact name and namespace when given, and names fields
//! three ways:
//! - **JSON pointers** (RFC 6901): `/spec/replicas`,
//!   `/metadata/annotations/example.com~1hash`;
//! - **jq path expressions**, the subset sluice evaluates itself (Argo CD
//!   runs `del(EXPR)` with gojq): paths built from `.key`, `."key"`,
//!   `["key"]`, `[N]` (negative from the end), `[]` and `.[]` (each
//!   element or value), each optionally followed by `?`, joined by `|`
//!   with `select(COND)`, where COND compares paths and literals (strings,
//!   numbers, `true`, `false`, `null`) with `==` and `!=`, combines them
//!   with `and`, `or` and parentheses, or tests a path for truth. So
//!   `.spec.template.spec.initContainers[] | select(.name == "istio-init")`
//!   and `.webhooks[]?.clientConfig.caBundle` work; anything else (`..`,
//!   functions such as `test()` or `has()`, arithmetic) is refused when
//!   the Application is loaded, naming the expression;
//! - **managed-fields managers**: every field the live object's
//!   `managedFields` say one of these managers owns (the key fields of a
//!   list item, which identify it, excepted).
//!
//! **Diff** removes the ignored fields from both sides before comparing
//! ([`Ignore::normalise`]). **Sync** sends the desired object without them
//! ([`Ignore::for_apply`]), so sluice never takes a field another
//! controller owns: an ignored field some other field manager owns is left
//! out, so it keeps that manager's value and owner; one only sluice owns
//! is sent with its live value (left out, server-side apply would delete
//! it); one the live object does not have is left out. A new object is
//! created whole (there is no live value to keep), as Argo CD does.

use crate::object::ObjectId;
use serde_json::Value;
use std::cmp::Ordering;

/// One step of a concrete path into a JSON value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Seg {
    /// An object key.
    Key(String),
    /// An array index.
    Index(usize),
}

impl Seg {
    fn cmp_seg(&self, other: &Seg) -> Ordering {
        match (self, other) {
            (Seg::Index(a), Seg::Index(b)) => a.cmp(b),
            (Seg::Key(a), Seg::Key(b)) => a.cmp(b),
            (Seg::Key(_), Seg::Index(_)) => Ordering::Less,
            (Seg::Index(_), Seg::Key(_)) => Ordering::Greater,
        }
    }
}

/// A concrete path.
pub type Path = Vec<Seg>;

/// Why a rule cannot be used.
#[derive(Debug, Clone, thiserror::Error)]
pub enum IgnoreError {
    /// A JSON pointer does not start with `/`.
    #[error("JSON pointer {pointer:?} must start with / (e.g. /spec/replicas)")]
    Pointer {
        /// The pointer.
        pointer: String,
    },
    /// A jq expression outside the supported subset, or malformed.
    #[error(
        "jq path expression {expr:?}: {message} (sluice evaluates paths of .key, .\"key\", [\"key\"], [N], [] and ?, joined by | with select(COND) comparing paths and literals with == and !=, and, or)"
    )]
    Jq {
        /// The expression.
        expr: String,
        /// What is wrong, where.
        message: String,
    },
}

/// One `ignoreDifferences` entry, parsed.
#[derive(Debug, Clone, PartialEq)]
pub struct Rule {
    group: String,
    kind: String,
    name: Option<String>,
    namespace: Option<String>,
    pointers: Vec<Vec<String>>,
    jq: Vec<Pipeline>,
    managers: Vec<String>,
}

/// An app's rules.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Ignore {
    rules: Vec<Rule>,
}

fn glob(pattern: &str, text: &str) -> bool {
    match pattern.split_once('*') {
        None => pattern == text,
        Some((head, rest)) => {
            let Some(t) = text.strip_prefix(head) else {
                return false;
            };
            (0..=t.len())
                .filter(|i| t.is_char_boundary(*i))
                .any(|i| glob(rest, &t[i..]))
        }
    }
}

impl Rule {
    /// Parse an Argo CD `ignoreDifferences` entry.
    pub fn from_argo(d: &crate::app::argo::IgnoreDifferences) -> Result<Rule, IgnoreError> {
        let mut pointers = Vec::new();
        for p in &d.json_pointers {
            let Some(rest) = p.strip_prefix('/') else {
                return Err(IgnoreError::Pointer { pointer: p.clone() });
            };
            pointers.push(
                rest.split('/')
                    .map(|t| t.replace("~1", "/").replace("~0", "~"))
                    .collect(),
            );
        }
        let jq = d
            .jq_path_expressions
            .iter()
            .map(|e| {
                Parser::new(e)
                    .pipeline_all()
                    .map_err(|message| IgnoreError::Jq {
                        expr: e.clone(),
                        message,
                    })
            })
            .collect::<Result<_, _>>()?;
        Ok(Rule {
            group: d.group.clone(),
            kind: d.kind.clone(),
            name: d.name.clone().filter(|n| !n.is_empty()),
            namespace: d.namespace.clone().filter(|n| !n.is_empty()),
            pointers,
            jq,
            managers: d.managed_fields_managers.clone(),
        })
    }

    /// Whether the rule applies to object `id`.
    pub fn matches(&self, id: &ObjectId) -> bool {
        glob(&self.group, &id.group)
            && glob(&self.kind, &id.kind)
            && self.name.as_ref().is_none_or(|n| *n == id.name)
            && self
                .namespace
                .as_ref()
                .is_none_or(|n| id.namespace.as_ref() == Some(n))
    }

    /// The concrete paths of `value` the rule names; managed fields are
    /// read from `owner`'s `managedFields` (the live object).
    fn paths(&self, value: &Value, owner: Option<&Value>, out: &mut Vec<Path>) {
        for p in &self.pointers {
            let mut cur = value;
            let mut path = Vec::new();
            let mut found = true;
            for t in p {
                match cur {
                    Value::Object(m) if m.contains_key(t) => {
                        cur = &m[t];
                        path.push(Seg::Key(t.clone()));
                    }
                    Value::Array(a) => match t.parse::<usize>() {
                        Ok(i) if i < a.len() => {
                            cur = &a[i];
                            path.push(Seg::Index(i));
                        }
                        _ => {
                            found = false;
                            break;
                        }
                    },
                    _ => {
                        found = false;
                        break;
                    }
                }
            }
            if found && !path.is_empty() {
                out.push(path);
            }
        }
        for j in &self.jq {
            out.extend(j.paths(value).into_iter().filter(|p| !p.is_empty()));
        }
        if !self.managers.is_empty()
            && let Some(owner) = owner
        {
            managed_paths(owner, value, |m| self.managers.iter().any(|x| x == m), out);
        }
    }
}

impl Ignore {
    /// Rules from an Application's `ignoreDifferences`.
    pub fn from_argo(list: &[crate::app::argo::IgnoreDifferences]) -> Result<Ignore, IgnoreError> {
        Ok(Ignore {
            rules: list.iter().map(Rule::from_argo).collect::<Result<_, _>>()?,
        })
    }

    /// Whether there are no rules.
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    fn paths(&self, id: &ObjectId, value: &Value, owner: Option<&Value>) -> Vec<Path> {
        let mut out = Vec::new();
        for r in self.rules.iter().filter(|r| r.matches(id)) {
            r.paths(value, owner, &mut out);
        }
        out
    }

    /// Remove the ignored fields of object `id` from `value`; managed
    /// fields are read from `owner` (the live object; `value` itself when
    /// `None`).
    pub fn normalise(&self, id: &ObjectId, value: &mut Value, owner: Option<&Value>) {
        if self.is_empty() {
            return;
        }
        let owner_copy;
        let owner = match owner {
            Some(o) => Some(o),
            None => {
                owner_copy = value.clone();
                Some(&owner_copy)
            }
        };
        let paths = self.paths(id, value, owner);
        delete_paths(value, paths);
    }

    /// Prepare desired object `id` for applying over `live`: each ignored
    /// field another field manager than `manager` owns is left out; one
    /// only `manager` owns gets its live value; one `live` lacks is left
    /// out.
    pub fn for_apply(&self, id: &ObjectId, desired: &mut Value, live: &Value, manager: &str) {
        if self.is_empty() {
            return;
        }
        let paths = self.paths(id, desired, Some(live));
        if paths.is_empty() {
            return;
        }
        let mut others = Vec::new();
        managed_paths(live, desired, |m| m != manager, &mut others);
        let mut delete = Vec::new();
        for p in paths {
            let other_owned = others.iter().any(|o| prefix_of(o, &p) || prefix_of(&p, o));
            match (other_owned, get(live, &p)) {
                (false, Some(v)) => {
                    let v = v.clone();
                    set(desired, &p, v);
                }
                _ => delete.push(p),
            }
        }
        delete_paths(desired, delete);
    }
}

fn prefix_of(a: &[Seg], b: &[Seg]) -> bool {
    a.len() <= b.len() && a.iter().zip(b).all(|(x, y)| x == y)
}

/// The value at `path`.
pub fn get<'a>(v: &'a Value, path: &[Seg]) -> Option<&'a Value> {
    let mut cur = v;
    for s in path {
        cur = match (s, cur) {
            (Seg::Key(k), Value::Object(m)) => m.get(k)?,
            (Seg::Index(i), Value::Array(a)) => a.get(*i)?,
            _ => return None,
        };
    }
    Some(cur)
}

fn get_mut<'a>(v: &'a mut Value, path: &[Seg]) -> Option<&'a mut Value> {
    let mut cur = v;
    for s in path {
        cur = match (s, cur) {
            (Seg::Key(k), Value::Object(m)) => m.get_mut(k)?,
            (Seg::Index(i), Value::Array(a)) => a.get_mut(*i)?,
            _ => return None,
        };
    }
    Some(cur)
}

fn set(v: &mut Value, path: &[Seg], new: Value) {
    let Some((last, parents)) = path.split_last() else {
        return;
    };
    let mut cur = v;
    for s in parents {
        cur = match (s, cur) {
            (Seg::Key(k), Value::Object(m)) => m
                .entry(k.clone())
                .or_insert_with(|| Value::Object(Default::default())),
            (Seg::Index(i), Value::Array(a)) => match a.get_mut(*i) {
                Some(x) => x,
                None => return,
            },
            _ => return,
        };
    }
    match (last, cur) {
        (Seg::Key(k), Value::Object(m)) => {
            m.insert(k.clone(), new);
        }
        (Seg::Index(i), Value::Array(a)) if *i < a.len() => a[*i] = new,
        _ => {}
    }
}

/// Delete every path (as jq's `delpaths`: later array elements first, so
/// indices stay valid).
pub fn delete_paths(v: &mut Value, mut paths: Vec<Path>) {
    paths.sort_by(|a, b| {
        a.iter()
            .zip(b)
            .map(|(x, y)| x.cmp_seg(y))
            .find(|o| *o != Ordering::Equal)
            .unwrap_or(a.len().cmp(&b.len()))
    });
    paths.dedup();
    for p in paths.iter().rev() {
        let Some((last, parents)) = p.split_last() else {
            continue;
        };
        let Some(cur) = get_mut(v, parents) else {
            continue;
        };
        match (last, cur) {
            (Seg::Key(k), Value::Object(m)) => {
                m.shift_remove(k);
            }
            (Seg::Index(i), Value::Array(a)) if *i < a.len() => {
                a.remove(*i);
            }
            _ => {}
        }
    }
}

/// The concrete paths of `value` that `live`'s `managedFields` say a
/// manager accepted by `pick` owns (leaf fields and list items; the key
/// fields of an item matched by `k:` excepted).
pub fn managed_paths(
    live: &Value,
    value: &Value,
    pick: impl Fn(&str) -> bool,
    out: &mut Vec<Path>,
) {
    let Some(entries) = live
        .pointer("/metadata/managedFields")
        .and_then(Value::as_array)
    else {
        return;
    };
    for e in entries {
        let manager = e.get("manager").and_then(Value::as_str).unwrap_or_default();
        if !pick(manager) {
            continue;
        }
        if let Some(set) = e.get("fieldsV1").and_then(Value::as_object) {
            walk_fields(set, value, &mut Vec::new(), &[], out);
        }
    }
}

fn walk_fields(
    set: &serde_json::Map<String, Value>,
    value: &Value,
    prefix: &mut Path,
    keys: &[String],
    out: &mut Vec<Path>,
) {
    for (k, child) in set {
        let child = child.as_object();
        let leaf = child.is_none_or(|c| c.is_empty());
        let (seg, item_keys): (Seg, Vec<String>) = if let Some(name) = k.strip_prefix("f:") {
            if keys.iter().any(|x| x == name) {
                continue;
            }
            if value.get(name).is_none() || !value.is_object() {
                continue;
            }
            (Seg::Key(name.to_string()), Vec::new())
        } else if let Some(j) = k.strip_prefix("k:") {
            let Ok(Value::Object(want)) = serde_json::from_str::<Value>(j) else {
                continue;
            };
            let Some(i) = value.as_array().and_then(|a| {
                a.iter()
                    .position(|item| want.iter().all(|(wk, wv)| item.get(wk) == Some(wv)))
            }) else {
                continue;
            };
            (Seg::Index(i), want.keys().cloned().collect())
        } else if let Some(j) = k.strip_prefix("v:") {
            let Ok(want) = serde_json::from_str::<Value>(j) else {
                continue;
            };
            let Some(i) = value
                .as_array()
                .and_then(|a| a.iter().position(|item| *item == want))
            else {
                continue;
            };
            (Seg::Index(i), Vec::new())
        } else if let Some(n) = k.strip_prefix("i:") {
            match n.parse::<usize>() {
                Ok(i) if value.as_array().is_some_and(|a| i < a.len()) => {
                    (Seg::Index(i), Vec::new())
                }
                _ => continue,
            }
        } else {
            // ".": the node itself, owned with its parent.
            continue;
        };
        prefix.push(seg.clone());
        let next = get(value, std::slice::from_ref(&seg));
        match (leaf, next) {
            (true, Some(_)) => out.push(prefix.clone()),
            (false, Some(n)) => {
                if let Some(c) = child {
                    walk_fields(c, n, prefix, &item_keys, out);
                }
            }
            _ => {}
        }
        prefix.pop();
    }
}

// ---- the jq subset ----

/// A jq pipeline: stages joined by `|`.
#[derive(Debug, Clone, PartialEq)]
struct Pipeline(Vec<Stage>);

#[derive(Debug, Clone, PartialEq)]
enum Stage {
    Path(Vec<Step>),
    Select(Cond),
}

#[derive(Debug, Clone, PartialEq)]
enum Step {
    Key(String, bool),
    Index(i64, bool),
    Each(bool),
}

#[derive(Debug, Clone, PartialEq)]
enum Cond {
    Or(Box<Cond>, Box<Cond>),
    And(Box<Cond>, Box<Cond>),
    Eq(Operand, Operand, bool),
    Truthy(Operand),
}

#[derive(Debug, Clone, PartialEq)]
enum Operand {
    Path(Vec<Step>),
    Lit(Value),
}

/// Apply `steps` from each of `starts`.
fn step_paths(root: &Value, starts: Vec<Path>, steps: &[Step]) -> Vec<Path> {
    let mut cur = starts;
    for s in steps {
        let mut next = Vec::new();
        for p in cur {
            let Some(v) = get(root, &p) else { continue };
            match (s, v) {
                (Step::Key(k, _), Value::Object(m)) if m.contains_key(k) => {
                    let mut q = p.clone();
                    q.push(Seg::Key(k.clone()));
                    next.push(q);
                }
                (Step::Index(i, _), Value::Array(a)) => {
                    let n = a.len() as i64;
                    let i = if *i < 0 { n + i } else { *i };
                    if (0..n).contains(&i) {
                        let mut q = p.clone();
                        q.push(Seg::Index(i as usize));
                        next.push(q);
                    }
                }
                (Step::Each(_), Value::Array(a)) => {
                    for i in 0..a.len() {
                        let mut q = p.clone();
                        q.push(Seg::Index(i));
                        next.push(q);
                    }
                }
                (Step::Each(_), Value::Object(m)) => {
                    for k in m.keys() {
                        let mut q = p.clone();
                        q.push(Seg::Key(k.clone()));
                        next.push(q);
                    }
                }
                _ => {}
            }
        }
        cur = next;
    }
    cur
}

/// The values `steps` yield from `v` (a missing key yields `null`, as in
/// jq).
fn step_values(v: &Value, steps: &[Step]) -> Vec<Value> {
    let mut cur = vec![v.clone()];
    for s in steps {
        let mut next = Vec::new();
        for v in cur {
            match (s, &v) {
                (Step::Key(k, _), Value::Object(m)) => {
                    next.push(m.get(k).cloned().unwrap_or(Value::Null))
                }
                (Step::Key(..), Value::Null) => next.push(Value::Null),
                (Step::Index(i, _), Value::Array(a)) => {
                    let n = a.len() as i64;
                    let i = if *i < 0 { n + i } else { *i };
                    next.push(
                        usize::try_from(i)
                            .ok()
                            .and_then(|i| a.get(i).cloned())
                            .unwrap_or(Value::Null),
                    );
                }
                (Step::Index(..), Value::Null) => next.push(Value::Null),
                (Step::Each(_), Value::Array(a)) => next.extend(a.iter().cloned()),
                (Step::Each(_), Value::Object(m)) => next.extend(m.values().cloned()),
                _ => {}
            }
        }
        cur = next;
    }
    cur
}

impl Operand {
    fn values(&self, v: &Value) -> Vec<Value> {
        match self {
            Operand::Lit(l) => vec![l.clone()],
            Operand::Path(steps) => step_values(v, steps),
        }
    }
}

impl Cond {
    fn eval(&self, v: &Value) -> bool {
        match self {
            Cond::Or(a, b) => a.eval(v) || b.eval(v),
            Cond::And(a, b) => a.eval(v) && b.eval(v),
            Cond::Eq(a, b, negate) => {
                let (xs, ys) = (a.values(v), b.values(v));
                xs.iter()
                    .any(|x| ys.iter().any(|y| json_eq(x, y) != *negate))
            }
            Cond::Truthy(a) => a
                .values(v)
                .iter()
                .any(|x| !matches!(x, Value::Null | Value::Bool(false))),
        }
    }
}

/// jq equality: numbers by value (1 == 1.0).
fn json_eq(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        _ => a == b,
    }
}

impl Pipeline {
    fn paths(&self, root: &Value) -> Vec<Path> {
        let mut cur: Vec<Path> = vec![Vec::new()];
        for stage in &self.0 {
            cur = match stage {
                Stage::Path(steps) => step_paths(root, cur, steps),
                Stage::Select(c) => cur
                    .into_iter()
                    .filter(|p| get(root, p).is_some_and(|v| c.eval(v)))
                    .collect(),
            };
        }
        cur
    }
}

struct Parser<'a> {
    s: &'a str,
    pos: usize,
}

impl<'a> Parser<'a> {
    fn new(s: &'a str) -> Self {
        Parser { s, pos: 0 }
    }

    fn rest(&self) -> &'a str {
        &self.s[self.pos..]
    }

    fn ws(&mut self) {
        let r = self.rest();
        self.pos += r.len() - r.trim_start().len();
    }

    fn eat(&mut self, t: &str) -> bool {
        self.ws();
        if self.rest().starts_with(t) {
            self.pos += t.len();
            true
        } else {
            false
        }
    }

    fn err<T>(&self, what: &str) -> Result<T, String> {
        Err(format!("{what} at offset {}", self.pos))
    }

    fn pipeline_all(&mut self) -> Result<Pipeline, String> {
        let mut stages = Vec::new();
        loop {
            self.ws();
            if self.rest().starts_with("select") {
                self.pos += "select".len();
                if !self.eat("(") {
                    return self.err("expected ( after select");
                }
                let c = self.cond()?;
                if !self.eat(")") {
                    return self.err("expected ) closing select");
                }
                stages.push(Stage::Select(c));
            } else {
                stages.push(Stage::Path(self.path()?));
            }
            if !self.eat("|") {
                break;
            }
        }
        self.ws();
        if !self.rest().is_empty() {
            return self.err(&format!("unsupported {:?}", self.rest()));
        }
        Ok(Pipeline(stages))
    }

    fn ident(&mut self) -> Option<String> {
        let r = self.rest();
        let n = r
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(r.len());
        if n == 0 || r.starts_with(|c: char| c.is_ascii_digit()) {
            return None;
        }
        self.pos += n;
        Some(r[..n].to_string())
    }

    fn string(&mut self) -> Result<String, String> {
        // A JSON string literal (jq's string syntax without interpolation).
        let r = self.rest();
        let mut end = None;
        let mut escaped = false;
        for (i, c) in r.char_indices().skip(1) {
            match c {
                '\\' if !escaped => escaped = true,
                '"' if !escaped => {
                    end = Some(i);
                    break;
                }
                _ => escaped = false,
            }
        }
        let Some(end) = end else {
            return self.err("unterminated string");
        };
        let lit = &r[..=end];
        if lit.contains("\\(") {
            return self.err("string interpolation is not supported");
        }
        let s: String = serde_json::from_str(lit).map_err(|e| format!("bad string {lit}: {e}"))?;
        self.pos += end + 1;
        Ok(s)
    }

    fn optional(&mut self) -> bool {
        self.eat("?")
    }

    /// A path: `.` followed by steps, or steps starting with `.`.
    fn path(&mut self) -> Result<Vec<Step>, String> {
        self.ws();
        if !self.rest().starts_with('.') {
            return self.err("expected a path starting with .");
        }
        let mut steps = Vec::new();
        loop {
            self.ws();
            if self.rest().starts_with("..") {
                return self.err("recursive descent (..) is not supported");
            }
            if self.rest().starts_with('.') {
                self.pos += 1;
                let r = self.rest();
                if r.starts_with('"') {
                    let k = self.string()?;
                    let o = self.optional();
                    steps.push(Step::Key(k, o));
                } else if r.starts_with('[') {
                    continue;
                } else if let Some(k) = self.ident() {
                    let o = self.optional();
                    steps.push(Step::Key(k, o));
                } else if !steps.is_empty() {
                    return self.err("expected a key after .");
                }
            } else if self.rest().starts_with('[') {
                self.pos += 1;
                self.ws();
                if self.eat("]") {
                    let o = self.optional();
                    steps.push(Step::Each(o));
                } else if self.rest().starts_with('"') {
                    let k = self.string()?;
                    if !self.eat("]") {
                        return self.err("expected ]");
                    }
                    let o = self.optional();
                    steps.push(Step::Key(k, o));
                } else {
                    let r = self.rest();
                    let n = r
                        .find(|c: char| !(c.is_ascii_digit() || c == '-'))
                        .unwrap_or(r.len());
                    let Ok(i) = r[..n].parse::<i64>() else {
                        return self.err("expected an index, a quoted key or ] after [");
                    };
                    self.pos += n;
                    if !self.eat("]") {
                        return self.err("slices are not supported; expected ]");
                    }
                    let o = self.optional();
                    steps.push(Step::Index(i, o));
                }
            } else {
                break;
            }
        }
        Ok(steps)
    }

    fn cond(&mut self) -> Result<Cond, String> {
        let mut left = self.and()?;
        loop {
            self.ws();
            if self.rest().starts_with("or") && !self.ident_continues(2) {
                self.pos += 2;
                let right = self.and()?;
                left = Cond::Or(Box::new(left), Box::new(right));
            } else {
                return Ok(left);
            }
        }
    }

    fn ident_continues(&self, n: usize) -> bool {
        self.rest()[n..].starts_with(|c: char| c.is_ascii_alphanumeric() || c == '_')
    }

    fn and(&mut self) -> Result<Cond, String> {
        let mut left = self.cmp()?;
        loop {
            self.ws();
            if self.rest().starts_with("and") && !self.ident_continues(3) {
                self.pos += 3;
                let right = self.cmp()?;
                left = Cond::And(Box::new(left), Box::new(right));
            } else {
                return Ok(left);
            }
        }
    }

    fn cmp(&mut self) -> Result<Cond, String> {
        if self.eat("(") {
            let c = self.cond()?;
            if !self.eat(")") {
                return self.err("expected )");
            }
            return Ok(c);
        }
        let a = self.operand()?;
        for (op, negate) in [("==", false), ("!=", true)] {
            if self.eat(op) {
                let b = self.operand()?;
                return Ok(Cond::Eq(a, b, negate));
            }
        }
        Ok(Cond::Truthy(a))
    }

    fn operand(&mut self) -> Result<Operand, String> {
        self.ws();
        let r = self.rest();
        if r.starts_with('.') {
            return Ok(Operand::Path(self.path()?));
        }
        if r.starts_with('"') {
            return Ok(Operand::Lit(Value::String(self.string()?)));
        }
        for (word, v) in [
            ("true", Value::Bool(true)),
            ("false", Value::Bool(false)),
            ("null", Value::Null),
        ] {
            if r.starts_with(word) && !self.ident_continues(word.len()) {
                self.pos += word.len();
                return Ok(Operand::Lit(v));
            }
        }
        let n = r
            .find(|c: char| !(c.is_ascii_digit() || matches!(c, '-' | '.' | 'e' | 'E' | '+')))
            .unwrap_or(r.len());
        if n > 0
            && let Ok(v) = serde_json::from_str::<Value>(&r[..n])
            && v.is_number()
        {
            self.pos += n;
            return Ok(Operand::Lit(v));
        }
        self.err("expected a path, a string, a number, true, false or null")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::argo::IgnoreDifferences;
    use serde_json::json;

    fn id(kind: &str, name: &str) -> ObjectId {
        ObjectId {
            group: "apps".into(),
            kind: kind.into(),
            namespace: Some("ns".into()),
            name: name.into(),
        }
    }

    fn jq(expr: &str, v: &Value) -> Value {
        let mut v = v.clone();
        let ig = Ignore::from_argo(&[IgnoreDifferences {
            group: "*".into(),
            kind: "*".into(),
            jq_path_expressions: vec![expr.into()],
            ..Default::default()
        }])
        .unwrap_or_else(|e| panic!("{e}"));
        ig.normalise(&id("Deployment", "x"), &mut v, None);
        v
    }

    fn pod() -> Value {
        json!({"spec": {"template": {"spec": {
            "initContainers": [{"name": "istio-init", "image": "i"}, {"name": "mine", "image": "m"}],
            "containers": [{"name": "a", "image": "a:1", "env": [{"name": "X", "value": "1"}]},
                           {"name": "b", "image": "b:1"}]}}},
            "metadata": {"annotations": {"example.com/hash": "h", "keep": "k"}}})
    }

    #[test]
    fn jq_paths_delete_what_gojq_deletes() {
        let v = pod();
        let r = jq(
            ".spec.template.spec.initContainers[] | select(.name == \"istio-init\")",
            &v,
        );
        assert_eq!(
            r["spec"]["template"]["spec"]["initContainers"],
            json!([{"name": "mine", "image": "m"}])
        );
        let r = jq(".spec.template.spec.containers[].image", &v);
        assert_eq!(
            r["spec"]["template"]["spec"]["containers"],
            json!([{"name": "a", "env": [{"name": "X", "value": "1"}]}, {"name": "b"}])
        );
        let r = jq(".metadata.annotations.\"example.com/hash\"", &v);
        assert_eq!(r["metadata"]["annotations"], json!({"keep": "k"}));
        let r = jq(".metadata.annotations[\"keep\"]", &v);
        assert_eq!(
            r["metadata"]["annotations"],
            json!({"example.com/hash": "h"})
        );
        let r = jq(".spec.template.spec.containers[-1]", &v);
        assert_eq!(
            r["spec"]["template"]["spec"]["containers"]
                .as_array()
                .map(Vec::len),
            Some(1)
        );
        // Both elements deleted at once, as delpaths does.
        let r = jq(
            ".spec.template.spec.containers[] | select(.name == \"a\" or .name != \"a\")",
            &v,
        );
        assert_eq!(r["spec"]["template"]["spec"]["containers"], json!([]));
        let r = jq(
            ".spec.template.spec.containers[] | select(.env[]?.name == \"X\") | .image",
            &v,
        );
        assert_eq!(
            r["spec"]["template"]["spec"]["containers"][0].get("image"),
            None
        );
        assert_eq!(
            r["spec"]["template"]["spec"]["containers"][1]["image"],
            "b:1"
        );
        // Missing paths delete nothing.
        assert_eq!(jq(".webhooks[]?.clientConfig.caBundle", &v), v);
    }

    #[test]
    fn unsupported_jq_is_refused_naming_it() {
        for (expr, why) in [
            ("..|.image", "recursive descent"),
            (".a | test(\"x\")", "expected a path"),
            (".a[1:2]", "slices are not supported"),
            (".a | select(has(\"x\"))", "expected a path, a string"),
        ] {
            let e = Rule::from_argo(&IgnoreDifferences {
                kind: "*".into(),
                jq_path_expressions: vec![expr.into()],
                ..Default::default()
            })
            .expect_err(expr)
            .to_string();
            assert!(
                e.contains(&format!("jq path expression {expr:?}")) && e.contains(why),
                "{e}"
            );
        }
    }

    #[test]
    fn rules_match_group_kind_globs_and_exact_names() {
        let r = Rule::from_argo(&IgnoreDifferences {
            group: "apps".into(),
            kind: "*Set".into(),
            name: Some("db".into()),
            json_pointers: vec!["/spec/replicas".into()],
            ..Default::default()
        })
        .expect("rule");
        assert!(r.matches(&id("StatefulSet", "db")));
        assert!(!r.matches(&id("StatefulSet", "web")));
        assert!(!r.matches(&id("Deployment", "db")));
    }

    #[test]
    fn managed_fields_and_apply_keep_other_owners_fields() {
        let live = json!({"metadata": {"name": "x", "managedFields": [
            {"manager": "sluice", "operation": "Apply", "fieldsV1": {"f:spec": {"f:replicas": {}, "f:template": {"f:spec": {"f:containers": {"k:{\"name\":\"a\"}": {".": {}, "f:name": {}, "f:image": {}}}}}}}},
            {"manager": "hpa", "operation": "Update", "fieldsV1": {"f:spec": {"f:replicas": {}}}},
            {"manager": "injector", "operation": "Update", "fieldsV1": {"f:spec": {"f:template": {"f:spec": {"f:containers": {"k:{\"name\":\"a\"}": {"f:env": {}}}}}}}}
        ]}, "spec": {"replicas": 5, "paused": true,
            "template": {"spec": {"containers": [{"name": "a", "image": "a:1", "env": [{"name": "E"}]}]}}}});
        let ig = Ignore::from_argo(&[IgnoreDifferences {
            group: "apps".into(),
            kind: "Deployment".into(),
            json_pointers: vec![
                "/spec/replicas".into(),
                "/spec/paused".into(),
                "/spec/minReadySeconds".into(),
            ],
            managed_fields_managers: vec!["injector".into()],
            ..Default::default()
        }])
        .expect("rules");
        let mut desired = json!({"metadata": {"name": "x"}, "spec": {"replicas": 2, "paused": false, "minReadySeconds": 3,
            "template": {"spec": {"containers": [{"name": "a", "image": "a:2", "env": [{"name": "D"}]}]}}}});
        ig.for_apply(&id("Deployment", "x"), &mut desired, &live, "sluice");
        // replicas: the hpa owns it, left out; paused: only sluice owns it,
        // sent with its live value; minReadySeconds: not live, left out;
        // env: the injector owns it, left out; the item's key stays.
        assert_eq!(
            desired,
            json!({"metadata": {"name": "x"}, "spec": {"paused": true,
                "template": {"spec": {"containers": [{"name": "a", "image": "a:2"}]}}}})
        );
        // Diff: the same fields gone from both sides.
        let mut l = live.clone();
        ig.normalise(&id("Deployment", "x"), &mut l, Some(&live));
        assert_eq!(l["spec"].get("replicas"), None);
        assert_eq!(
            l["spec"]["template"]["spec"]["containers"][0].get("env"),
            None
        );
        assert_eq!(l["spec"]["template"]["spec"]["containers"][0]["name"], "a");
    }
}

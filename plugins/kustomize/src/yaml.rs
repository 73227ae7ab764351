//! Reading YAML the way kustomize v5.5 reads it, which is not plain YAML
//! 1.2: objects go through Go's YAML and JSON libraries, so
//!
//! - plain scalars resolve as `gopkg.in/yaml` resolves them: the YAML 1.1
//!   integer forms (`0755` and `+0755` octal, `0o755`, `0x1F`, `0b101`, `_`
//!   separators anywhere in a number: `1_000`, `0_755`) are integers;
//!   `08` is the float 8; timestamps (`2001-12-14`, `2001-12-14T21:59:43Z`)
//!   become RFC 3339 strings; and since every number passes through a Go
//!   `float64` on its way to JSON, an integral float (`1.0`, `1e3`) comes
//!   out as an integer; `.inf` and `.nan` are errors, as in kustomize;
//! - in objects (resources, strategic merge patches) only `true`/`false`
//!   are booleans and a repeated mapping key is an error ("mapping key "k"
//!   already defined at line N"); in kustomization files, transformer
//!   configurations and JSON 6902 patches (read with sigs.k8s.io/yaml,
//!   YAML 1.1) `yes`, `no`, `on`, `off`, `y`, `n` are booleans too and a
//!   repeated key takes the last value;
//! - merge keys (`<<: *anchor`) are applied; a non-string mapping key is an
//!   error in objects, and is turned into its text in kustomizations.
//!
//! Design: serde_norway does the YAML parsing (libyaml), and a
//! `DeserializeSeed` builds `serde_json` values directly. serde_norway
//! resolves plain scalars by YAML 1.2 and hands every scalar it leaves as a
//! string to `visit_borrowed_str` with a slice of the input (quoted ones
//! without their quotes); the byte before the slice tells a quoted scalar
//! (`"` or `'`) from a plain one, so only plain scalars are resolved again
//! by the rules above. The slice's offset also gives line numbers for
//! duplicate-key errors.

use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};
use sluice_plugin_sdk::yaml::ParseError;
use std::cell::RefCell;
use std::fmt;

/// Which of kustomize's two readers a file goes through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Schema {
    /// Objects: resources and strategic merge patches (kyaml, YAML 1.2
    /// booleans, repeated keys are errors).
    Object,
    /// Kustomization files, transformer configurations, JSON 6902 patches
    /// (sigs.k8s.io/yaml: YAML 1.1 booleans, the last repeated key wins).
    Config,
}

/// Parse every document of a YAML stream; empty documents are `None` so
/// that indexes stay those of the file.
pub fn parse_documents(text: &[u8], schema: Schema) -> Result<Vec<Option<Value>>, ParseError> {
    let ctx = Ctx {
        input: text,
        schema,
        failure: RefCell::new(None),
    };
    let mut out = Vec::new();
    for (i, doc) in serde_norway::Deserializer::from_slice(text).enumerate() {
        let index = u32::try_from(i).unwrap_or(u32::MAX);
        let v = Seed { ctx: &ctx }.deserialize(doc).map_err(|e| {
            if let Some((off, message)) = ctx.failure.borrow_mut().take() {
                let (line, column) = ctx.line_col(off);
                return ParseError {
                    index,
                    line: Some(line),
                    column: Some(column),
                    message,
                };
            }
            let loc = e.location();
            let msg = e.to_string();
            ParseError {
                index,
                line: loc.as_ref().map(|l| to_u32(l.line())),
                column: loc.as_ref().map(|l| to_u32(l.column())),
                message: match msg.rfind(" at line ") {
                    Some(i) => msg[..i].to_string(),
                    None => msg,
                },
            }
        })?;
        out.push(if v.is_null() { None } else { Some(v) });
    }
    Ok(out)
}

fn to_u32(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

struct Ctx<'i> {
    input: &'i [u8],
    schema: Schema,
    /// The first error raised by this module (offset, message), so that it
    /// reaches the caller with its own line rather than serde_norway's.
    failure: RefCell<Option<(usize, String)>>,
}

impl Ctx<'_> {
    /// The offset of `s` in the input, when it is a slice of it.
    fn offset(&self, s: &str) -> Option<usize> {
        let base = self.input.as_ptr() as usize;
        let p = s.as_ptr() as usize;
        (p >= base && p + s.len() <= base + self.input.len()).then(|| p - base)
    }

    /// 1-based line and column of an offset.
    fn line_col(&self, off: usize) -> (u32, u32) {
        let before = &self.input[..off.min(self.input.len())];
        let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
        let col = before.iter().rev().take_while(|&&b| b != b'\n').count() + 1;
        (to_u32(line), to_u32(col))
    }

    /// Whether the scalar at `off..off+len` was written plain (no quotes,
    /// no explicit tag).
    fn is_plain(&self, off: usize, len: usize) -> bool {
        if off > 0 {
            let q = self.input[off - 1];
            if (q == b'"' || q == b'\'') && self.input.get(off + len) == Some(&q) {
                return false;
            }
        }
        // An explicit tag (`!!str 0755`) keeps the text as written.
        let before = &self.input[..off];
        let trimmed = before
            .iter()
            .rposition(|&b| b != b' ' && b != b'\t')
            .map_or(&before[..0], |i| &before[..=i]);
        let word_start = trimmed
            .iter()
            .rposition(|&b| b == b' ' || b == b'\t' || b == b'\n')
            .map_or(0, |i| i + 1);
        !(trimmed.len() < before.len() && trimmed.get(word_start) == Some(&b'!'))
    }

    fn fail<E: de::Error>(&self, off: Option<usize>, message: String) -> E {
        let mut f = self.failure.borrow_mut();
        if f.is_none() {
            *f = Some((off.unwrap_or(0), message.clone()));
        }
        E::custom(message)
    }
}

#[derive(Clone, Copy)]
struct Seed<'c, 'i> {
    ctx: &'c Ctx<'i>,
}

impl<'de> DeserializeSeed<'de> for Seed<'_, '_> {
    type Value = Value;
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }
}

/// A float as Go's JSON encoder writes it and kustomize reads it back: an
/// integral value is an integer.
fn float<E: de::Error>(ctx: &Ctx<'_>, f: f64) -> Result<Value, E> {
    if !f.is_finite() {
        let shown = if f.is_nan() {
            "NaN"
        } else if f > 0.0 {
            "+Inf"
        } else {
            "-Inf"
        };
        return Err(ctx.fail(
            None,
            format!("json: unsupported value: {shown} (kustomize cannot write infinities or NaN; quote the value)"),
        ));
    }
    if f.fract() == 0.0 && f.abs() < 1e19 {
        #[allow(clippy::cast_possible_truncation)]
        if f >= i64::MIN as f64 && f <= i64::MAX as f64 {
            return Ok(Value::from(f as i64));
        }
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        if f >= 0.0 && f <= u64::MAX as f64 {
            return Ok(Value::from(f as u64));
        }
    }
    Ok(Number::from_f64(f).map_or(Value::Null, Value::Number))
}

impl<'de> Visitor<'de> for Seed<'_, '_> {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any YAML value")
    }
    fn visit_bool<E: de::Error>(self, b: bool) -> Result<Value, E> {
        Ok(Value::Bool(b))
    }
    fn visit_i64<E: de::Error>(self, n: i64) -> Result<Value, E> {
        Ok(Value::from(n))
    }
    fn visit_u64<E: de::Error>(self, n: u64) -> Result<Value, E> {
        Ok(Value::from(n))
    }
    fn visit_f64<E: de::Error>(self, f: f64) -> Result<Value, E> {
        float(self.ctx, f)
    }
    fn visit_unit<E: de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_none<E: de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_some<D: de::Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        self.deserialize(d)
    }
    fn visit_borrowed_str<E: de::Error>(self, s: &'de str) -> Result<Value, E> {
        if let Some(v) = resolve_plain(s, self.ctx.schema)
            && let Some(off) = self.ctx.offset(s)
            && self.ctx.is_plain(off, s.len())
        {
            return match v {
                Resolved::Value(v) => Ok(v),
                Resolved::Float(f) => float(self.ctx, f),
            };
        }
        Ok(Value::String(s.to_string()))
    }
    fn visit_str<E: de::Error>(self, s: &str) -> Result<Value, E> {
        Ok(Value::String(s.to_string()))
    }
    fn visit_string<E: de::Error>(self, s: String) -> Result<Value, E> {
        Ok(Value::String(s))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(0));
        while let Some(v) = seq.next_element_seed(self)? {
            out.push(v);
        }
        Ok(Value::Array(out))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<Value, A::Error> {
        let ctx = self.ctx;
        let mut map = Map::new();
        let mut offsets: Vec<Option<usize>> = Vec::new();
        let mut merges: Vec<Value> = Vec::new();
        while let Some(key) = access.next_key_seed(KeySeed { ctx })? {
            let value = access.next_value_seed(self)?;
            if key.merge {
                merges.push(value);
                continue;
            }
            let name = match key.value {
                Value::String(s) => s,
                other if ctx.schema == Schema::Config => match other {
                    Value::Null => "null".to_string(),
                    Value::Bool(b) => b.to_string(),
                    Value::Number(n) => n.to_string(),
                    v => v.to_string(),
                },
                other => {
                    return Err(ctx.fail(
                        key.offset,
                        format!(
                            "mapping key {other} is not a string (kustomize writes objects as JSON, whose keys are strings; quote the key)"
                        ),
                    ));
                }
            };
            if ctx.schema == Schema::Object && map.contains_key(&name) {
                let first = map
                    .keys()
                    .position(|k| *k == name)
                    .and_then(|i| offsets.get(i).copied().flatten());
                let at =
                    first.map_or_else(String::new, |o| format!(" at line {}", ctx.line_col(o).0));
                return Err(ctx.fail(
                    key.offset,
                    format!("mapping key \"{name}\" already defined{at}"),
                ));
            }
            if ctx.schema == Schema::Object {
                offsets.push(key.offset);
            }
            map.insert(name, value);
        }
        for m in merges {
            let sources = match m {
                Value::Array(items) => items,
                other => vec![other],
            };
            for src in sources {
                let Value::Object(src) = src else {
                    return Err(ctx.fail(
                        None,
                        "map merge requires map or sequence of maps as the value".to_string(),
                    ));
                };
                for (k, v) in src {
                    if !map.contains_key(&k) {
                        map.insert(k, v);
                    }
                }
            }
        }
        Ok(Value::Object(map))
    }
}

struct Key {
    value: Value,
    offset: Option<usize>,
    merge: bool,
}

#[derive(Clone, Copy)]
struct KeySeed<'c, 'i> {
    ctx: &'c Ctx<'i>,
}

impl<'de> DeserializeSeed<'de> for KeySeed<'_, '_> {
    type Value = Key;
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Key, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for KeySeed<'_, '_> {
    type Value = Key;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a mapping key")
    }
    fn visit_borrowed_str<E: de::Error>(self, s: &'de str) -> Result<Key, E> {
        let offset = self.ctx.offset(s);
        let plain = offset.is_some_and(|o| self.ctx.is_plain(o, s.len()));
        let merge = plain && s == "<<";
        let value = Seed { ctx: self.ctx }.visit_borrowed_str(s)?;
        Ok(Key {
            value,
            offset,
            merge,
        })
    }
    fn visit_str<E: de::Error>(self, s: &str) -> Result<Key, E> {
        Ok(Key {
            value: Value::String(s.to_string()),
            offset: None,
            merge: false,
        })
    }
    fn visit_bool<E: de::Error>(self, b: bool) -> Result<Key, E> {
        self.other(Value::Bool(b))
    }
    fn visit_i64<E: de::Error>(self, n: i64) -> Result<Key, E> {
        self.other(Value::from(n))
    }
    fn visit_u64<E: de::Error>(self, n: u64) -> Result<Key, E> {
        self.other(Value::from(n))
    }
    fn visit_f64<E: de::Error>(self, f: f64) -> Result<Key, E> {
        let v = float(self.ctx, f)?;
        self.other(v)
    }
    fn visit_unit<E: de::Error>(self) -> Result<Key, E> {
        self.other(Value::Null)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Key, A::Error> {
        let v = Seed { ctx: self.ctx }.visit_seq(seq)?;
        self.other(v)
    }
    fn visit_map<A: MapAccess<'de>>(self, m: A) -> Result<Key, A::Error> {
        let v = Seed { ctx: self.ctx }.visit_map(m)?;
        self.other(v)
    }
}

impl KeySeed<'_, '_> {
    fn other<E: de::Error>(self, value: Value) -> Result<Key, E> {
        Ok(Key {
            value,
            offset: None,
            merge: false,
        })
    }
}

/// What a plain scalar that YAML 1.2 leaves a string resolves to.
enum Resolved {
    Value(Value),
    Float(f64),
}

/// Resolve a plain scalar the way Go's YAML libraries do (see the module
/// docs); `None` keeps it a string.
fn resolve_plain(s: &str, schema: Schema) -> Option<Resolved> {
    if schema == Schema::Config {
        match s {
            "y" | "Y" | "yes" | "Yes" | "YES" | "on" | "On" | "ON" => {
                return Some(Resolved::Value(Value::Bool(true)));
            }
            "n" | "N" | "no" | "No" | "NO" | "off" | "Off" | "OFF" => {
                return Some(Resolved::Value(Value::Bool(false)));
            }
            _ => {}
        }
    }
    let first = *s.as_bytes().first()?;
    if !(first.is_ascii_digit() || first == b'+' || first == b'-' || first == b'.') {
        return None;
    }
    if schema == Schema::Object
        && let Some(t) = timestamp(s)
    {
        return Some(Resolved::Value(Value::String(t)));
    }
    let plain: String = s.chars().filter(|&c| c != '_').collect();
    if let Some(v) = go_parse_int(&plain) {
        return Some(Resolved::Value(v));
    }
    if yaml_style_float(&plain)
        && let Ok(f) = plain.parse::<f64>()
    {
        return Some(Resolved::Float(f));
    }
    None
}

/// Go's `strconv.ParseInt(s, 0, 64)`, then `ParseUint`: an optional sign,
/// then `0x`, `0o`, `0b` or a leading `0` (octal) prefix, or decimal.
fn go_parse_int(s: &str) -> Option<Value> {
    let (neg, body) = match s.as_bytes().first()? {
        b'-' => (true, &s[1..]),
        b'+' => (false, &s[1..]),
        _ => (false, s),
    };
    let lower = body.to_ascii_lowercase();
    let (radix, digits) = if let Some(r) = lower.strip_prefix("0x") {
        (16, r)
    } else if let Some(r) = lower.strip_prefix("0o") {
        (8, r)
    } else if let Some(r) = lower.strip_prefix("0b") {
        (2, r)
    } else if lower.len() > 1 && lower.starts_with('0') {
        (8, &lower[1..])
    } else {
        (10, lower.as_str())
    };
    if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
        return None;
    }
    let mag = u64::from_str_radix(digits, radix).ok()?;
    if neg {
        if mag <= i64::MAX as u64 {
            #[allow(clippy::cast_possible_wrap)]
            return Some(Value::from(-(mag as i64)));
        }
        if mag == i64::MAX as u64 + 1 {
            return Some(Value::from(i64::MIN));
        }
        return None;
    }
    Some(Value::from(mag))
}

/// `^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$`, yaml.v3's
/// float syntax.
fn yaml_style_float(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = usize::from(matches!(b.first(), Some(b'-' | b'+')));
    let digits = |i: &mut usize| {
        let start = *i;
        while *i < b.len() && b[*i].is_ascii_digit() {
            *i += 1;
        }
        *i - start
    };
    if b.get(i) == Some(&b'.') {
        i += 1;
        if digits(&mut i) == 0 {
            return false;
        }
    } else {
        if digits(&mut i) == 0 {
            return false;
        }
        if b.get(i) == Some(&b'.') {
            i += 1;
            digits(&mut i);
        }
    }
    if matches!(b.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(b.get(i), Some(b'-' | b'+')) {
            i += 1;
        }
        if digits(&mut i) == 0 {
            return false;
        }
    }
    i == b.len()
}

/// A YAML timestamp in one of the forms yaml.v3 accepts, written as Go's
/// JSON encoder writes a `time.Time` (RFC 3339 with the fraction trimmed).
fn timestamp(s: &str) -> Option<String> {
    let b = s.as_bytes();
    if b.len() < 5 || !b[..4].iter().all(u8::is_ascii_digit) || b[4] != b'-' {
        return None;
    }
    let mut p = Cursor { b, i: 0 };
    let year = p.num(4, 4)?;
    p.lit(b'-')?;
    let month = p.num(1, 2)?;
    p.lit(b'-')?;
    let day = p.num(1, 2)?;
    if !(1..=12).contains(&month) || day < 1 || day > days_in(year, month) {
        return None;
    }
    let date = format!("{year:04}-{month:02}-{day:02}");
    if p.done() {
        return Some(format!("{date}T00:00:00Z"));
    }
    let sep = p.next()?;
    let zoned = match sep {
        b'T' | b't' => true,
        b' ' => false,
        _ => return None,
    };
    let hour = p.num(1, 2)?;
    p.lit(b':')?;
    let min = p.num(1, 2)?;
    p.lit(b':')?;
    let sec = p.num(1, 2)?;
    if hour > 23 || min > 59 || sec > 59 {
        return None;
    }
    let mut frac = String::new();
    if p.peek() == Some(b'.') {
        p.i += 1;
        let start = p.i;
        while p.peek().is_some_and(|c| c.is_ascii_digit()) {
            p.i += 1;
        }
        if p.i == start {
            return None;
        }
        frac = String::from_utf8_lossy(&b[start..p.i.min(start + 9)])
            .trim_end_matches('0')
            .to_string();
    }
    let zone = if zoned {
        match p.next()? {
            b'Z' => "Z".to_string(),
            sign @ (b'+' | b'-') => {
                let zh = p.num(2, 2)?;
                p.lit(b':')?;
                let zm = p.num(2, 2)?;
                if zh == 0 && zm == 0 {
                    "Z".to_string()
                } else {
                    format!("{}{zh:02}:{zm:02}", sign as char)
                }
            }
            _ => return None,
        }
    } else {
        "Z".to_string()
    };
    if !p.done() {
        return None;
    }
    let frac = if frac.is_empty() {
        frac
    } else {
        format!(".{frac}")
    };
    Some(format!("{date}T{hour:02}:{min:02}:{sec:02}{frac}{zone}"))
}

fn days_in(year: u32, month: u32) -> u32 {
    match month {
        2 if (year.is_multiple_of(4) && !year.is_multiple_of(100)) || year.is_multiple_of(400) => {
            29
        }
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

struct Cursor<'a> {
    b: &'a [u8],
    i: usize,
}

impl Cursor<'_> {
    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }
    fn next(&mut self) -> Option<u8> {
        let c = self.peek()?;
        self.i += 1;
        Some(c)
    }
    fn done(&self) -> bool {
        self.i == self.b.len()
    }
    fn lit(&mut self, c: u8) -> Option<()> {
        (self.next()? == c).then_some(())
    }
    fn num(&mut self, min: usize, max: usize) -> Option<u32> {
        let start = self.i;
        while self.i - start < max && self.peek().is_some_and(|c| c.is_ascii_digit()) {
            self.i += 1;
        }
        if self.i - start < min {
            return None;
        }
        std::str::from_utf8(&self.b[start..self.i])
            .ok()?
            .parse()
            .ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn one(text: &str, schema: Schema) -> Value {
        parse_documents(text.as_bytes(), schema)
            .expect("parses")
            .into_iter()
            .flatten()
            .next()
            .expect("a document")
    }

    #[test]
    fn yaml11_integer_forms_as_kustomize_reads_them() {
        let v = one(
            "a: 0755\nb: 0o755\nc: 0x1F\nd: 1_000\ne: 0_755\nf: -0755\ng: 0b101\nh: +12\ni: 08\nj: 1e3\nk: 1.0\nl: 1.5\nm: \"0755\"\nn: '1_000'\no: yes\np: 0X1f\nq: !!str 0755\nr: 1:30\ns: _10\n",
            Schema::Object,
        );
        assert_eq!(
            v,
            json!({"a": 493, "b": 493, "c": 31, "d": 1000, "e": 493, "f": -493, "g": 5, "h": 12,
                   "i": 8, "j": 1000, "k": 1, "l": 1.5, "m": "0755", "n": "1_000", "o": "yes",
                   "p": 31, "q": "0755", "r": "1:30", "s": "_10"})
        );
    }

    #[test]
    fn timestamps_become_rfc3339() {
        let v = one(
            "d: 2001-12-14\nt: 2001-12-14T21:59:43.10-05:00\nu: 2001-12-14 21:59:43.10\nz: 2001-12-14t21:59:43Z\nbad: 2001-13-14\nq: '2001-12-14'\n",
            Schema::Object,
        );
        assert_eq!(v["d"], "2001-12-14T00:00:00Z");
        assert_eq!(v["t"], "2001-12-14T21:59:43.1-05:00");
        assert_eq!(v["u"], "2001-12-14T21:59:43.1Z");
        assert_eq!(v["z"], "2001-12-14T21:59:43Z");
        assert_eq!(v["bad"], "2001-13-14");
        assert_eq!(v["q"], "2001-12-14");
    }

    #[test]
    fn repeated_keys_error_in_objects_and_last_wins_in_config() {
        let text = "a: 1\nb:\n  k: x1\n  k: x2\n";
        let e = parse_documents(text.as_bytes(), Schema::Object).expect_err("duplicate");
        assert_eq!(e.message, "mapping key \"k\" already defined at line 3");
        assert_eq!(e.line, Some(4));
        assert_eq!(one(text, Schema::Config), json!({"a": 1, "b": {"k": "x2"}}));
    }

    #[test]
    fn config_reads_yaml11_booleans_and_objects_do_not() {
        assert_eq!(
            one("a: yes\nb: off\n", Schema::Config),
            json!({"a": true, "b": false})
        );
        assert_eq!(
            one("a: yes\nb: off\n", Schema::Object),
            json!({"a": "yes", "b": "off"})
        );
    }

    #[test]
    fn merge_keys_and_bad_values() {
        let v = one(
            "base: &b {x: 1, y: 2}\nm:\n  <<: *b\n  y: 3\n",
            Schema::Object,
        );
        assert_eq!(v["m"], json!({"x": 1, "y": 3}));
        let e = parse_documents(b"a: .inf\n", Schema::Object).expect_err("inf");
        assert!(
            e.message.contains("unsupported value: +Inf"),
            "{}",
            e.message
        );
        let e = parse_documents(b"a:\n  0755: x\n", Schema::Object).expect_err("int key");
        assert!(
            e.message.contains("mapping key 493 is not a string"),
            "{}",
            e.message
        );
    }
}

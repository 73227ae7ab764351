//! YAML documents written straight to JSON text, with no value tree in
//! between: the fast path for a renderer that passes documents through.
//!
//! It covers what manifests are made of (string keys, scalars, sequences,
//! mappings, anchors, tags) and gives up on the rest (a key that is not a
//! string, a repeated key, a number JSON cannot hold, a syntax error), for
//! the caller to read the stream again with [`super::parse_documents`],
//! which gives the value or the exact error. Whatever this writes is
//! byte for byte what `parse_documents` then `to_string` would give.

use serde::de::{self, DeserializeSeed, Visitor};
use std::collections::HashSet;

/// One document of a stream, as JSON text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JsonDoc {
    /// The document as compact JSON, as `serde_json::Value::to_string`
    /// writes it.
    pub json: String,
    /// Whether the document is a mapping.
    pub mapping: bool,
    /// Its top-level `apiVersion`, when that is a string.
    pub api_version: Option<String>,
    /// Its top-level `kind`, when that is a string.
    pub kind: Option<String>,
}

/// Every document of a YAML stream as JSON text; empty documents (nothing,
/// or only comments, or `null`) as `None` so that indexes stay those of the
/// file. `None` when the stream needs [`super::parse_documents`]: it has a
/// key that is not a string, a repeated key, a number JSON cannot hold, or
/// an error.
pub fn documents_as_json(text: &[u8]) -> Option<Vec<Option<JsonDoc>>> {
    let mut out = Vec::new();
    let mut st = State::default();
    for doc in serde_norway::Deserializer::from_slice(text) {
        st.buf.clear();
        st.top = Top::default();
        Seed {
            st: &mut st,
            capture: Capture::None,
            top: true,
        }
        .deserialize(doc)
        .ok()?;
        if st.top.null {
            out.push(None);
            continue;
        }
        let json = String::from_utf8(std::mem::take(&mut st.buf)).ok()?;
        let top = std::mem::take(&mut st.top);
        out.push(Some(JsonDoc {
            json,
            mapping: top.mapping,
            api_version: top.api_version,
            kind: top.kind,
        }));
    }
    Some(out)
}

#[derive(Default)]
struct Top {
    null: bool,
    mapping: bool,
    api_version: Option<String>,
    kind: Option<String>,
}

#[derive(Default)]
struct State {
    buf: Vec<u8>,
    top: Top,
    /// Key hashes of the mappings being written, one list per open
    /// mapping, reused across mappings.
    keys: Vec<Vec<u64>>,
}

#[derive(Clone, Copy)]
enum Capture {
    None,
    ApiVersion,
    Kind,
}

struct Seed<'s> {
    st: &'s mut State,
    capture: Capture,
    top: bool,
}

/// Why writing gave up (never shown: the caller reads the stream again).
#[derive(Debug)]
struct GiveUp;

impl std::fmt::Display for GiveUp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("needs the value reading")
    }
}

fn give_up<E: de::Error>() -> E {
    E::custom(GiveUp)
}

impl<'de> DeserializeSeed<'de> for Seed<'_> {
    type Value = ();
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl Seed<'_> {
    fn child(&mut self) -> Seed<'_> {
        Seed {
            st: self.st,
            capture: Capture::None,
            top: false,
        }
    }

    fn write<T: serde::Serialize + ?Sized, E: de::Error>(self, v: &T) -> Result<(), E> {
        serde_json::to_writer(&mut self.st.buf, v).map_err(|_| give_up())
    }
}

impl<'de> Visitor<'de> for Seed<'_> {
    type Value = ();

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("any YAML value")
    }
    fn visit_bool<E: de::Error>(self, b: bool) -> Result<(), E> {
        self.write(&b)
    }
    fn visit_i64<E: de::Error>(self, i: i64) -> Result<(), E> {
        self.write(&i)
    }
    fn visit_u64<E: de::Error>(self, u: u64) -> Result<(), E> {
        self.write(&u)
    }
    fn visit_f64<E: de::Error>(self, f: f64) -> Result<(), E> {
        if !f.is_finite() {
            return Err(give_up());
        }
        self.write(&f)
    }
    fn visit_str<E: de::Error>(self, s: &str) -> Result<(), E> {
        match self.capture {
            Capture::None => {}
            Capture::ApiVersion => self.st.top.api_version = Some(s.to_owned()),
            Capture::Kind => self.st.top.kind = Some(s.to_owned()),
        }
        self.write(s)
    }
    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        if self.top {
            self.st.top.null = true;
        }
        self.st.buf.extend_from_slice(b"null");
        Ok(())
    }
    fn visit_none<E: de::Error>(self) -> Result<(), E> {
        self.visit_unit()
    }
    fn visit_some<D: de::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
    fn visit_seq<A: de::SeqAccess<'de>>(mut self, mut seq: A) -> Result<(), A::Error> {
        self.st.buf.push(b'[');
        let mut first = true;
        loop {
            let at = self.st.buf.len();
            if !first {
                self.st.buf.push(b',');
            }
            if seq.next_element_seed(self.child())?.is_none() {
                self.st.buf.truncate(at);
                break;
            }
            first = false;
        }
        self.st.buf.push(b']');
        Ok(())
    }
    fn visit_map<A: de::MapAccess<'de>>(self, mut m: A) -> Result<(), A::Error> {
        if self.top {
            self.st.top.mapping = true;
        }
        let mut keys = self.st.keys.pop().unwrap_or_default();
        keys.clear();
        let mut big: Option<HashSet<u64>> = None;
        self.st.buf.push(b'{');
        let mut first = true;
        while let Some(Key(key)) = m.next_key()? {
            // A repeated key is an error the value reading words; two keys
            // with one hash are rare enough to hand it over too.
            let h = fnv1a(key.as_bytes());
            let seen = match &mut big {
                Some(set) => !set.insert(h),
                None => {
                    let seen = keys.contains(&h);
                    keys.push(h);
                    if keys.len() > 64 {
                        big = Some(keys.iter().copied().collect());
                    }
                    seen
                }
            };
            if seen {
                return Err(give_up());
            }
            if !first {
                self.st.buf.push(b',');
            }
            first = false;
            serde_json::to_writer(&mut self.st.buf, key.as_str()).map_err(|_| give_up())?;
            self.st.buf.push(b':');
            let capture = match key.as_str() {
                "apiVersion" if self.top => Capture::ApiVersion,
                "kind" if self.top => Capture::Kind,
                _ => Capture::None,
            };
            m.next_value_seed(Seed {
                st: self.st,
                capture,
                top: false,
            })?;
        }
        self.st.buf.push(b'}');
        self.st.keys.push(keys);
        Ok(())
    }
    fn visit_enum<A: de::EnumAccess<'de>>(self, data: A) -> Result<(), A::Error> {
        // A tagged node: the tag is dropped, its value kept.
        use de::VariantAccess;
        let (_tag, contents) = data.variant::<de::IgnoredAny>()?;
        contents.newtype_variant_seed(self)
    }
}

/// A mapping key that is a string; any other key gives up.
struct Key(String);

impl<'de> de::Deserialize<'de> for Key {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Key, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Key;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a string key")
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<Key, E> {
                Ok(Key(s.to_owned()))
            }
            fn visit_string<E: de::Error>(self, s: String) -> Result<Key, E> {
                Ok(Key(s))
            }
            fn visit_bool<E: de::Error>(self, _: bool) -> Result<Key, E> {
                Err(give_up())
            }
            fn visit_i64<E: de::Error>(self, _: i64) -> Result<Key, E> {
                Err(give_up())
            }
            fn visit_u64<E: de::Error>(self, _: u64) -> Result<Key, E> {
                Err(give_up())
            }
            fn visit_f64<E: de::Error>(self, _: f64) -> Result<Key, E> {
                Err(give_up())
            }
            fn visit_unit<E: de::Error>(self) -> Result<Key, E> {
                Err(give_up())
            }
            fn visit_seq<A: de::SeqAccess<'de>>(self, _: A) -> Result<Key, A::Error> {
                Err(give_up())
            }
            fn visit_map<A: de::MapAccess<'de>>(self, _: A) -> Result<Key, A::Error> {
                Err(give_up())
            }
            fn visit_enum<A: de::EnumAccess<'de>>(self, _: A) -> Result<Key, A::Error> {
                Err(give_up())
            }
        }
        d.deserialize_any(V)
    }
}

/// 64-bit FNV-1a: a fast hash for telling keys apart.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

//! One JSON object to a [`Record`]: the key, subject and fields by (dotted) name, without
//! building a `serde_json::Value` of the whole object ([`parse_json_record`]).

use super::*;

/// Describe a serde_json error without echoing input text.
pub(super) fn json_error_reason(e: &serde_json::Error) -> String {
    use serde_json::error::Category as C;
    match e.classify() {
        C::Syntax => format!("invalid JSON at column {}", e.column()),
        C::Eof => "invalid JSON: unexpected end of line".into(),
        C::Data => "not a JSON object".into(),
        C::Io => "read error".into(),
    }
}

/// A JSON object's members in document order, keys borrowed from the line when they hold no
/// escapes, values as raw spans: one pass, no hashing, no per-key allocation. A repeated key
/// resolves to its last value (as serde_json's maps do).
pub(super) struct RawMap<'a>(Vec<(Cow<'a, str>, &'a RawValue)>);

impl<'a> RawMap<'a> {
    pub(super) fn get(&self, key: &str) -> Option<&'a RawValue> {
        self.0.iter().rev().find(|(k, _)| k == key).map(|&(_, v)| v)
    }

    /// Members whose key does not occur again later, in document order.
    pub(super) fn unique(&self) -> impl Iterator<Item = (&str, &'a RawValue)> + '_ {
        self.0
            .iter()
            .enumerate()
            .filter(|(i, (k, _))| !self.0[i + 1..].iter().any(|(k2, _)| k2 == k))
            .map(|(_, (k, v))| (k.as_ref(), *v))
    }
}

impl<'de> serde::Deserialize<'de> for RawMap<'de> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<RawMap<'de>, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = RawMap<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<RawMap<'de>, A::Error> {
                let mut members = Vec::with_capacity(map.size_hint().unwrap_or(8));
                while let Some(k) = map.next_key::<CowStr<'de>>()? {
                    members.push((k.0, map.next_value::<&'de RawValue>()?));
                }
                Ok(RawMap(members))
            }
        }
        d.deserialize_map(V)
    }
}

/// A string borrowed from the input when it holds no escapes (serde's `Cow<str>` always
/// copies; `#[serde(borrow)]` needs a struct field).
pub(super) struct CowStr<'a>(Cow<'a, str>);

impl<'de> serde::Deserialize<'de> for CowStr<'de> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<CowStr<'de>, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = CowStr<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<CowStr<'de>, E> {
                Ok(CowStr(Cow::Borrowed(v)))
            }
            fn visit_str<E>(self, v: &str) -> Result<CowStr<'de>, E> {
                Ok(CowStr(Cow::Owned(v.to_string())))
            }
            fn visit_string<E>(self, v: String) -> Result<CowStr<'de>, E> {
                Ok(CowStr(Cow::Owned(v)))
            }
        }
        d.deserialize_str(V)
    }
}

/// A field value that is a string or null, decoded without building a `serde_json::Value`;
/// `Err(())` for anything else (the caller then asks `Value` what it is, for the message).
pub(super) fn string_or_null(rv: &RawValue) -> Result<Option<String>, ()> {
    let t = rv.get();
    if t == "null" {
        return Ok(None);
    }
    if !t.starts_with('"') {
        return Err(());
    }
    // Without a backslash the string is its own text: serde_json checked it while reading
    // the object (a control char would have failed the record), so only escapes need it
    // again. Saves a second parse of every note.
    if let Some(inner) = t[1..].strip_suffix('"') {
        if memchr::memchr(b'\\', inner.as_bytes()).is_none() {
            return Ok(Some(inner.to_string()));
        }
    }
    serde_json::from_str::<CowStr<'_>>(t)
        .map(|c| Some(c.0.into_owned()))
        .map_err(|_| ())
}

/// [`JsonOptions`] with what every record of a source shares: the context names, made once.
#[derive(Debug, Default)]
pub(super) struct Parse {
    pub(super) options: JsonOptions,
    pub(super) names: ContextNames,
}

impl Parse {
    pub(super) fn new(options: JsonOptions) -> Parse {
        Parse {
            names: ContextNames::new(&options.context),
            options,
        }
    }
}

/// Parse one JSON line into a record. Field values are located in `raw` for masking.
pub fn parse_json_record(
    raw: String,
    terminator: &'static str,
    line: u64,
    options: &JsonOptions,
) -> Result<Record, Skipped> {
    parse_json_owned(raw, terminator, line, &Parse::new(options.clone()))
}

/// [`parse_json_record`] with the options of a source.
pub(super) fn parse_json_owned(
    raw: String,
    terminator: &'static str,
    line: u64,
    parse: &Parse,
) -> Result<Record, Skipped> {
    let mut record = parse_json_fields(&raw, terminator, line, parse, &parse.names)?;
    record.raw = raw;
    Ok(record)
}

/// [`parse_json_record`] without the copy of the line: [`Record::raw`] is left empty.
/// `names`: `parse.names`, or a copy of them (see [`ContextNames::unshared`]).
pub(super) fn parse_json_fields(
    raw: &str,
    terminator: &'static str,
    line: u64,
    parse: &Parse,
    names: &ContextNames,
) -> Result<Record, Skipped> {
    let options = &parse.options;
    let skip = |kind, key: Option<String>, field: Option<&str>, reason: String| Skipped {
        line,
        key,
        field: field.map(str::to_string),
        kind,
        reason,
    };
    let base = raw.as_ptr() as usize;
    let offset_of = |r: &RawValue| r.get().as_ptr() as usize - base;
    let top: RawMap<'_> = serde_json::from_str(raw)
        .map_err(|e| skip(SkipKind::InvalidJson, None, None, json_error_reason(&e)))?;

    // The key first, so that later skips can name it.
    let key = if options.key.is_empty() {
        line.to_string()
    } else {
        let mut parts = Vec::with_capacity(options.key.len());
        for k in &options.key {
            let v = lookup(&top, k)
                .map_err(|reason| skip(SkipKind::InvalidJson, None, Some(k), reason))?;
            let Some(v) = v else {
                return Err(skip(
                    SkipKind::MissingField,
                    None,
                    Some(k),
                    format!("key field {k:?} is missing"),
                ));
            };
            parts.push(key_text(v).ok_or_else(|| {
                skip(
                    SkipKind::NotText,
                    None,
                    Some(k),
                    format!("key field {k:?} is not a string or number"),
                )
            })?);
        }
        parts.join(":")
    };

    let subject = match &options.subject {
        None => None,
        Some(name) => lookup(&top, name)
            .map_err(|reason| skip(SkipKind::InvalidJson, Some(key.clone()), Some(name), reason))?
            .and_then(key_text),
    };

    let mut context = Context::with_names(names);
    for (i, name) in names.iter().enumerate() {
        // A top-level name (a date column, the common case) without `lookup`'s call.
        let v = match top
            .0
            .iter()
            .rev()
            .find(|(k, _)| crate::record::same_name(k, name))
        {
            Some((_, v)) => Some(*v),
            None => lookup(&top, name).map_err(|reason| {
                skip(SkipKind::InvalidJson, Some(key.clone()), Some(name), reason)
            })?,
        };
        match v.map(context_text) {
            Some(Some(Cow::Borrowed(t))) => context.set_at(i, Some(t)),
            Some(Some(Cow::Owned(t))) => context.set_owned_at(i, Some(t)),
            _ => {}
        }
    }

    let mut fields: Vec<Field> = Vec::with_capacity(options.fields.len().max(1));
    let string_field = |name: &str, rv: &RawValue| -> Option<Field> {
        match string_or_null(rv) {
            Ok(Some(s)) => {
                let start = offset_of(rv);
                Some(Field {
                    name: name.to_string(),
                    text: s,
                    raw_span: Some((start, start + rv.get().len())),
                })
            }
            _ => None,
        }
    };
    let is_key_or_subject = |name: &str| {
        options.key.iter().any(|k| k == name)
            || options.subject.as_deref() == Some(name)
            || options.context.iter().any(|c| c == name)
    };
    if options.fields.is_empty() {
        for (name, rv) in top.unique() {
            if is_key_or_subject(name) {
                continue;
            }
            fields.extend(string_field(name, rv));
        }
    } else {
        for name in &options.fields {
            if is_glob(name) && top.get(name).is_none() {
                // A glob selects the top-level string fields it matches (none is fine), in
                // document order.
                for (n, rv) in top.unique() {
                    if is_glob_match(name, n)
                        && !is_key_or_subject(n)
                        && !fields.iter().any(|f| f.name == n)
                    {
                        fields.extend(string_field(n, rv));
                    }
                }
                continue;
            }
            if fields.iter().any(|f| &f.name == name) {
                continue;
            }
            let rv = lookup(&top, name)
                .map_err(|reason| {
                    skip(SkipKind::InvalidJson, Some(key.clone()), Some(name), reason)
                })?
                .ok_or_else(|| {
                    skip(
                        SkipKind::MissingField,
                        Some(key.clone()),
                        Some(name),
                        format!("field {name:?} is missing"),
                    )
                })?;
            let start = offset_of(rv);
            let text = match string_or_null(rv) {
                Ok(Some(s)) => s,
                Ok(None) => String::new(),
                Err(()) => {
                    // Not a string: decode fully only to name its kind (or the error).
                    let value: serde_json::Value = serde_json::from_str(rv.get()).map_err(|e| {
                        skip(
                            SkipKind::InvalidJson,
                            Some(key.clone()),
                            Some(name),
                            json_error_reason(&e),
                        )
                    })?;
                    return Err(skip(
                        SkipKind::NotText,
                        Some(key.clone()),
                        Some(name),
                        format!("field {name:?} is {}, not a string", json_kind(&value)),
                    ));
                }
            };
            let raw_span = if rv.get() == "null" {
                None
            } else {
                Some((start, start + rv.get().len()))
            };
            fields.push(Field {
                name: name.clone(),
                text,
                raw_span,
            });
        }
    }
    Ok(Record {
        line,
        key,
        fields,
        raw: String::new(),
        terminator,
        subject,
        context,
    })
}

/// Find a dotted path (`a.b.c`) among the raw values. A key containing dots is found first
/// as a whole.
pub(super) fn lookup<'a>(top: &RawMap<'a>, path: &str) -> Result<Option<&'a RawValue>, String> {
    if let Some(v) = top.get(path) {
        return Ok(Some(v));
    }
    let mut parts = path.split('.');
    let Some(first) = parts.next() else {
        return Ok(None);
    };
    let mut cur: &'a RawValue = match top.get(first) {
        Some(v) => v,
        None => return Ok(None),
    };
    for part in parts {
        if !cur.get().trim_start().starts_with('{') {
            return Ok(None);
        }
        let map: RawMap<'a> = serde_json::from_str(cur.get()).map_err(|e| json_error_reason(&e))?;
        cur = match map.get(part) {
            Some(v) => v,
            None => return Ok(None),
        };
    }
    Ok(Some(cur))
}

pub(super) fn key_text(v: &RawValue) -> Option<String> {
    match serde_json::from_str::<serde_json::Value>(v.get()).ok()? {
        serde_json::Value::String(s) => Some(s),
        serde_json::Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// A context value as text: a string as it is, `null` as no value, anything else (number,
/// boolean, object, array) as its JSON text. Borrowed from the line unless a string has
/// escapes (a date never has).
fn context_text(v: &RawValue) -> Option<Cow<'_, str>> {
    let t = v.get();
    if t == "null" {
        return None;
    }
    if let Some(inner) = t.strip_prefix('"').and_then(|t| t.strip_suffix('"')) {
        // Short values (dates, flags) are looked through without memchr's set-up, eight
        // bytes at a time.
        let escaped = if inner.len() < 32 {
            has_backslash(inner.as_bytes())
        } else {
            memchr::memchr(b'\\', inner.as_bytes()).is_some()
        };
        if !escaped {
            return Some(Cow::Borrowed(inner));
        }
    }
    match string_or_null(v) {
        Ok(s) => s.map(Cow::Owned),
        Err(()) => Some(Cow::Borrowed(t.trim())),
    }
}

/// Whether a short string holds a backslash (a word at a time: a byte of a word XOR
/// `\\`s is zero where it was one).
fn has_backslash(bytes: &[u8]) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    let zero_byte = |w: u64| {
        let x = w ^ (ONES * u64::from(b'\\'));
        x.wrapping_sub(ONES) & !x & (ONES << 7) != 0
    };
    let n = bytes.len();
    if (8..=16).contains(&n) {
        // Two words that may overlap (a date, a short flag or id: every record's).
        let word = |at: usize| {
            bytes
                .get(at..at + 8)
                .and_then(|w| w.try_into().ok())
                .map_or(0, u64::from_le_bytes)
        };
        return zero_byte(word(0)) || zero_byte(word(n - 8));
    }
    let mut words = bytes.chunks_exact(8);
    let found = words.any(|w| w.try_into().is_ok_and(|w| zero_byte(u64::from_le_bytes(w))));
    found || words.remainder().contains(&b'\\')
}

pub(super) fn json_kind(v: &serde_json::Value) -> &'static str {
    match v {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Array(_) => "an array",
        serde_json::Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::has_backslash;

    #[test]
    fn backslashes_are_found_anywhere() {
        assert!(!has_backslash(b""));
        assert!(!has_backslash(b"2026-11-30"));
        assert!(!has_backslash(
            "a longer value, ½ of it \u{5c5c}".as_bytes()
        ));
        for n in 1..=31 {
            for at in 0..n {
                let mut v = vec![b'x'; n];
                v[at] = b'\\';
                assert!(has_backslash(&v), "{n} {at}");
                // Bytes next to a backslash in value (0x5b, 0x5d) and with its high bit.
                v[at] = [b'[', b']', 0xdc][at % 3];
                assert!(!has_backslash(&v), "{n} {at}");
            }
        }
    }
}

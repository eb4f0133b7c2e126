//! The record: what a source reads and what the scan, the policy and the writers share.
//!
//! [`input`](crate::input) builds [`Record`]s, the [`pipeline`](crate::pipeline) scans their
//! [`Field`]s, [`policy`](crate::policy) decides with a [`RecordContext`], and
//! [`output`](crate::output) writes what came of them. This module depends on nothing else in
//! the crate, so that readers and writers need not know of each other.

/// One text field of a record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Field {
    /// Field name (dotted path for nested JSON).
    pub name: String,
    /// The decoded text (empty for JSON `null`).
    pub text: String,
    /// Byte range of the field's JSON string token in [`Record::raw`], for masking in place.
    pub raw_span: Option<(usize, usize)>,
}

/// A record to scan.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Record {
    /// 1-based line number where the record starts.
    pub line: u64,
    /// The record key (from `--key`, else the line number).
    pub key: String,
    /// The text fields to scan.
    pub fields: Vec<Field>,
    /// The record as read, without its line terminator (used by `mask`).
    pub raw: String,
    /// The line terminator that followed it (`"\n"`, `"\r\n"` or `""` at EOF). Sources
    /// whose records span lines (CSV, JSON arrays) keep the exact bytes in `raw` and leave
    /// this empty.
    pub terminator: &'static str,
    /// The data subject the record is about (`--subject`), when the source knows it.
    pub subject: Option<String>,
    /// Other named values of the record the user asked for (`--context NAME`, or named by a
    /// policy rule), read the same way by every source. Empty unless asked for.
    pub context: Context,
}

impl Record {
    /// What the policy sees of this record when it decides on `field`.
    pub fn context_for<'a>(&'a self, field: &'a str) -> RecordContext<'a> {
        RecordContext {
            field: Some(field),
            key: Some(&self.key),
            subject: self.subject.as_deref(),
            columns: &self.context,
        }
    }
}

/// Named values carried with a record: each requested name once, in the order asked for,
/// with its value as text (`None`: missing, JSON `null`, SQL `NULL` or an empty CSV cell).
///
/// Numbers and booleans are kept in their source's text form (`42`, `true`); a JSON object or
/// array as its JSON text.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Context {
    entries: Vec<(String, Option<String>)>,
}

impl Context {
    /// No values (what a record carries when none were asked for).
    pub const fn new() -> Context {
        Context {
            entries: Vec::new(),
        }
    }

    /// Add (or replace) the value of `name`.
    pub fn set(&mut self, name: impl Into<String>, value: Option<String>) {
        let name = name.into();
        match self.entries.iter_mut().find(|(n, _)| *n == name) {
            Some(slot) => slot.1 = value,
            None => self.entries.push((name, value)),
        }
    }

    /// The value of `name`: `None` when it was not asked for or has no value.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.entries
            .iter()
            .find(|(n, _)| n == name)
            .and_then(|(_, v)| v.as_deref())
    }

    /// Names and values, in the order asked for.
    pub fn iter(&self) -> impl Iterator<Item = (&str, Option<&str>)> {
        self.entries.iter().map(|(n, v)| (n.as_str(), v.as_deref()))
    }

    /// Whether no values were asked for.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Bytes of the values (for record size limits).
    pub fn value_bytes(&self) -> usize {
        self.entries
            .iter()
            .map(|(_, v)| v.as_ref().map_or(0, String::len))
            .sum()
    }
}

impl<N: Into<String>> FromIterator<(N, Option<String>)> for Context {
    fn from_iter<I: IntoIterator<Item = (N, Option<String>)>>(iter: I) -> Context {
        let mut c = Context::new();
        for (n, v) in iter {
            c.set(n, v);
        }
        c
    }
}

/// What [`CompiledPolicy::decide`](crate::policy::CompiledPolicy::decide) knows about the
/// text it decides on: the field, and the record it belongs to when there is one.
#[derive(Clone, Copy, Debug)]
pub struct RecordContext<'a> {
    /// The field's name (`None`: a text without a field, e.g. `art9 check TEXT`).
    pub field: Option<&'a str>,
    /// The record key.
    pub key: Option<&'a str>,
    /// The data subject.
    pub subject: Option<&'a str>,
    /// The record's named values.
    pub columns: &'a Context,
}

static EMPTY: Context = Context::new();

impl<'a> RecordContext<'a> {
    /// A text with no record around it.
    pub fn none() -> RecordContext<'static> {
        RecordContext {
            field: None,
            key: None,
            subject: None,
            columns: &EMPTY,
        }
    }

    /// The text of field `name`, with no other record context.
    pub fn field(name: &'a str) -> RecordContext<'a> {
        RecordContext {
            field: Some(name),
            ..RecordContext::none()
        }
    }

    /// The value of the named column (`None`: not asked for, or no value).
    pub fn column(&self, name: &str) -> Option<&'a str> {
        self.columns.get(name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn context_keeps_order_and_replaces() {
        let mut c: Context = [("a", Some("1".to_string())), ("b", None)]
            .into_iter()
            .collect();
        c.set("a", Some("2".into()));
        assert_eq!(c.get("a"), Some("2"));
        assert_eq!(c.get("b"), None);
        assert_eq!(c.get("c"), None);
        assert_eq!(c.iter().map(|(n, _)| n).collect::<Vec<_>>(), ["a", "b"]);
        assert_eq!(c.value_bytes(), 1);
    }
}

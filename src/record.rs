//! The record: what a source reads and what the scan, the policy and the writers share.
//!
//! [`input`](crate::input) builds [`Record`]s, the [`pipeline`](crate::pipeline) scans their
//! [`Field`]s, [`policy`](crate::policy) decides with a [`RecordContext`], and
//! [`output`](crate::output) writes what came of them. This module depends on nothing else in
//! the crate, so that readers and writers need not know of each other.

use std::sync::Arc;

use compact_str::CompactString;
use smallvec::SmallVec;

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

/// The names of the values a source carries with each record (`--context`, the date column,
/// the columns a policy's `when` rules read): made once per source and shared by its records,
/// so that a record holds a reference to them, not a copy.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ContextNames(Option<Arc<[Box<str>]>>);

impl ContextNames {
    /// The names, each once, in the order given.
    pub fn new<S: AsRef<str>>(names: impl IntoIterator<Item = S>) -> ContextNames {
        let mut v: Vec<Box<str>> = Vec::new();
        for n in names {
            let n = n.as_ref();
            if !v.iter().any(|x| **x == *n) {
                v.push(n.into());
            }
        }
        ContextNames((!v.is_empty()).then(|| v.into()))
    }

    fn as_slice(&self) -> &[Box<str>] {
        self.0.as_deref().unwrap_or_default()
    }

    /// How many names.
    pub fn len(&self) -> usize {
        self.as_slice().len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.0.is_none()
    }

    /// The names, in order.
    pub fn iter(&self) -> impl Iterator<Item = &str> {
        self.as_slice().iter().map(|n| &**n)
    }

    /// The same names in an allocation of their own. A record's [`Context`] holds a
    /// reference to its names (an `Arc`), taken and let go of per record: names shared by
    /// workers that parse at the same time make every record an atomic update of one shared
    /// counter, which the workers' cores pass back and forth. A worker parses a batch with
    /// its own copy (one allocation a batch).
    pub fn unshared(&self) -> ContextNames {
        ContextNames(self.0.as_deref().map(Arc::from))
    }

    /// The position of `name`.
    pub fn position(&self, name: &str) -> Option<usize> {
        self.as_slice().iter().position(|n| **n == *name)
    }

    /// Whether these are the very names of `other` (one allocation), not merely equal ones.
    fn same(&self, other: &ContextNames) -> bool {
        match (&self.0, &other.0) {
            (Some(a), Some(b)) => Arc::ptr_eq(a, b),
            (None, None) => true,
            _ => false,
        }
    }
}

/// Whether two names are equal, compared in at most two overlapping words for names of up to
/// 16 bytes: a name compared for every record (a field's, a date column's) is short, and
/// `==` calls the C library's `bcmp` for every comparison.
#[inline]
pub(crate) fn same_name(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    let n = a.len();
    let word = |s: &[u8], at: usize| {
        s.get(at..at + 8)
            .and_then(|w| w.try_into().ok())
            .map(u64::from_ne_bytes)
    };
    let half = |s: &[u8], at: usize| {
        s.get(at..at + 4)
            .and_then(|w| w.try_into().ok())
            .map(u32::from_ne_bytes)
    };
    match n {
        8..=16 => word(a, 0) == word(b, 0) && word(a, n - 8) == word(b, n - 8),
        4..=7 => half(a, 0) == half(b, 0) && half(a, n - 4) == half(b, n - 4),
        _ => a == b,
    }
}

/// One named value read from many records' [`Context`]s by its position, which is looked up
/// by name only when a record's names are not those of the record before: records share
/// their names ([`ContextNames`]), so a column read from every record (the run summary's
/// date column) costs a pointer comparison a record instead of a search by name.
#[derive(Clone, Debug)]
pub struct ContextColumn {
    name: Box<str>,
    /// The names the position was found in, held so that they stay the same allocation.
    names: ContextNames,
    at: Option<usize>,
}

impl ContextColumn {
    /// The value named `name`.
    pub fn new(name: &str) -> ContextColumn {
        ContextColumn {
            name: name.into(),
            names: ContextNames(None),
            at: None,
        }
    }

    /// The value in `context`, as [`Context::get`] gives it.
    #[inline]
    pub fn get<'a>(&mut self, context: &'a Context) -> Option<&'a str> {
        if !context.names.same(&self.names) {
            self.find(&context.names);
        }
        context.values.get(self.at?)?.as_deref()
    }

    /// Look the name up in other names (out of line: once per batch of records).
    #[cold]
    #[inline(never)]
    fn find(&mut self, names: &ContextNames) {
        self.at = names.position(&self.name);
        self.names = names.clone();
    }
}

/// Named values carried with a record: each requested name once, in the order asked for,
/// with its value as text (`None`: missing, JSON `null`, SQL `NULL` or an empty CSV cell).
///
/// Numbers and booleans are kept in their source's text form (`42`, `true`); a JSON object or
/// array as its JSON text.
///
/// Cost: the names are shared with the source ([`ContextNames`]); a value of up to 24 bytes
/// is stored inline, and up to two values in the record itself, so that carrying a date or a
/// flag allocates nothing per record.
#[derive(Clone, Debug, Default)]
pub struct Context {
    names: ContextNames,
    /// `values[i]` is the value of the `i`th name; names past the end have none (a record
    /// without values costs nothing here).
    values: SmallVec<[Option<CompactString>; 2]>,
}

impl PartialEq for Context {
    fn eq(&self, other: &Context) -> bool {
        self.iter().eq(other.iter())
    }
}

impl Eq for Context {}

impl Context {
    /// No values (what a record carries when none were asked for).
    pub const fn new() -> Context {
        Context {
            names: ContextNames(None),
            values: SmallVec::new_const(),
        }
    }

    /// The values of `names`, none set yet (set them with [`Context::set_at`]).
    pub fn with_names(names: &ContextNames) -> Context {
        Context {
            names: names.clone(),
            values: SmallVec::new_const(),
        }
    }

    /// The slot of the `i`th name, made when needed; `None` past the names.
    fn slot(&mut self, i: usize) -> Option<&mut Option<CompactString>> {
        if i >= self.names.len() {
            return None;
        }
        while self.values.len() <= i {
            self.values.push(None);
        }
        self.values.get_mut(i)
    }

    /// Set the value of the `i`th name (of [`Context::with_names`]); ignored past the end.
    #[inline(always)]
    pub fn set_at(&mut self, i: usize, value: Option<&str>) {
        // A source sets the values in order of their names: the next one is a push, inline
        // in the source's loop (a date column's value is set for every record).
        if i == self.values.len() && i < self.names.len() {
            self.values.push(value.map(CompactString::from));
        } else {
            self.set_at_slot(i, value);
        }
    }

    #[inline(never)]
    fn set_at_slot(&mut self, i: usize, value: Option<&str>) {
        if let Some(slot) = self.slot(i) {
            *slot = value.map(CompactString::from);
        }
    }

    /// [`Context::set_at`] with an owned value (a long one keeps its allocation).
    pub fn set_owned_at(&mut self, i: usize, value: Option<String>) {
        if let Some(slot) = self.slot(i) {
            *slot = value.map(CompactString::from);
        }
    }

    /// Add (or replace) the value of `name`. A name not among the shared ones gives this
    /// record names of its own: sources use [`Context::with_names`] instead.
    pub fn set(&mut self, name: &str, value: Option<String>) {
        match self.names.position(name) {
            Some(i) => self.set_owned_at(i, value),
            None => {
                self.names = ContextNames::new(self.names.iter().chain([name]));
                let last = self.names.len() - 1;
                if let Some(slot) = self.slot(last) {
                    *slot = value.map(CompactString::from);
                }
            }
        }
    }

    /// The value of `name`: `None` when it was not asked for or has no value.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.values.get(self.names.position(name)?)?.as_deref()
    }

    /// Names and values, in the order asked for.
    pub fn iter(&self) -> impl Iterator<Item = (&str, Option<&str>)> {
        self.names
            .iter()
            .enumerate()
            .map(|(i, n)| (n, self.values.get(i).and_then(|v| v.as_deref())))
    }

    /// Whether no values were asked for.
    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }

    /// Bytes of the values (for record size limits).
    pub fn value_bytes(&self) -> usize {
        self.values
            .iter()
            .map(|v| v.as_ref().map_or(0, |v| v.len()))
            .sum()
    }
}

impl<N: AsRef<str>> FromIterator<(N, Option<String>)> for Context {
    fn from_iter<I: IntoIterator<Item = (N, Option<String>)>>(iter: I) -> Context {
        let mut c = Context::new();
        for (n, v) in iter {
            c.set(n.as_ref(), v);
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
        assert!(Context::new().is_empty());
    }

    #[test]
    fn shared_names_and_inline_values() {
        let names = ContextNames::new(["created", "flag", "created"]);
        assert_eq!(names.len(), 2);
        let mut c = Context::with_names(&names);
        assert_eq!(c.get("created"), None);
        c.set_at(0, Some("2026-11-30"));
        c.set_owned_at(1, Some("x".repeat(100)));
        c.set_at(5, Some("ignored"));
        assert_eq!(c.get("created"), Some("2026-11-30"));
        assert_eq!(c.get("flag").map(str::len), Some(100));
        assert_eq!(c.value_bytes(), 110);
        // An extra name gives the record names of its own; the shared ones are unchanged.
        c.set("extra", Some("1".into()));
        assert_eq!(
            c.iter().map(|(n, _)| n).collect::<Vec<_>>(),
            ["created", "flag", "extra"]
        );
        assert_eq!(names.len(), 2);
        let same: Context = [
            ("created", Some("2026-11-30".to_string())),
            ("flag", Some("x".repeat(100))),
            ("extra", Some("1".into())),
        ]
        .into_iter()
        .collect();
        assert_eq!(c, same);
    }

    #[test]
    fn names_compare_as_with_eq() {
        let names = [
            "",
            "a",
            "ab",
            "abc",
            "text",
            "texts",
            "created",
            "createe",
            "reated",
            "12345678",
            "12345679",
            "02345678",
            "customer_id",
            "customer_iD",
            "Customer_id",
            "sixteen bytes ok",
            "sixteen bytes oK",
            "Sixteen bytes ok",
            "seventeen bytes!!",
            "seventeen bytes!?",
            "ø",
            "øø",
        ];
        for a in names {
            for b in names {
                assert_eq!(same_name(a, b), a == b, "{a:?} {b:?}");
            }
        }
    }

    #[test]
    fn a_column_reads_as_get_whatever_the_names() {
        let shared = ContextNames::new(["flag", "created"]);
        let other = ContextNames::new(["created"]);
        let mut column = ContextColumn::new("created");
        let mut a = Context::with_names(&shared);
        a.set_at(1, Some("2026-11-30"));
        let mut b = Context::with_names(&shared);
        b.set_at(0, Some("x"));
        let mut c = Context::with_names(&other);
        c.set_at(0, Some("2025-01-02"));
        let mut own = Context::with_names(&shared);
        own.set("created", Some("2024-02-03".into()));
        own.set("extra", Some("1".into()));
        for ctx in [&a, &b, &c, &a, &Context::new(), &own, &b, &own] {
            assert_eq!(column.get(ctx), ctx.get("created"));
        }
        assert_eq!(ContextColumn::new("missing").get(&a), None);
    }
}

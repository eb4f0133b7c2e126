//! Scanning Arrow record batches: text columns read in place (no copy of the notes), one
//! findings batch out.
//!
//! The findings batch has the columns of [`COLUMNS`], always all of them (a fixed schema is
//! what Spark's `mapInArrow` and a Parquet writer want): `record` (the key as a string, null
//! when the key is null or no key column was named), `row` (0-based row in the input, across
//! the batches of a table), `subject`, `field`, then the keys of a JSON Lines finding of
//! `art9 scan` (`note_lang` is `und` where the CLI leaves it out, as in [`crate::Finding`]). `action` is null without a policy; `text` and `entry` are null unless asked
//! for.

use std::sync::Arc;

use arrow_array::builder::{Int64Builder, StringBuilder};
use arrow_array::cast::AsArray;
use arrow_array::{Array, ArrayRef, RecordBatch, StringArray};
use arrow_schema::{ArrowError, DataType, Field, Schema, SchemaRef};
use art9::policy::DEFAULT_MIN_LIKELIHOOD;
use art9::service::FindingOut;
use art9::{CompiledPolicy, Context, Evasion, Finding, Likelihood, RecordContext, Scanner};

/// The columns of a findings batch, in order.
pub const COLUMNS: [&str; 17] = [
    "record",
    "row",
    "subject",
    "field",
    "category",
    "data_category",
    "lang",
    "note_lang",
    "start",
    "end",
    "char_start",
    "char_end",
    "likelihood",
    "action",
    "evasion",
    "text",
    "entry",
];

/// The schema of a findings batch.
fn schema() -> SchemaRef {
    let nullable = |name: &str| {
        matches!(
            name,
            "record" | "subject" | "action" | "evasion" | "text" | "entry"
        )
    };
    Arc::new(Schema::new(
        COLUMNS
            .iter()
            .map(|&name| {
                let ty = match name {
                    "row" | "start" | "end" | "char_start" | "char_end" => DataType::Int64,
                    _ => DataType::Utf8,
                };
                Field::new(name, ty, nullable(name))
            })
            .collect::<Vec<_>>(),
    ))
}

/// Which columns of the input to read, checked against its schema before any scanning.
pub struct Plan {
    texts: Vec<(usize, String)>,
    key: Option<usize>,
    subject: Option<usize>,
    /// Columns whose values the policy's `when` rules read (`--context` of the CLI).
    context: Vec<(usize, String)>,
}

fn is_text_type(ty: &DataType) -> bool {
    match ty {
        // A column of nothing but nulls (pyarrow infers `null` for all-`None` lists).
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View | DataType::Null => true,
        DataType::Dictionary(_, value) => is_text_type(value),
        _ => false,
    }
}

impl Plan {
    /// Resolve the column names.
    ///
    /// # Errors
    /// A column that is not in the schema (the message lists the columns), no text column, or
    /// a text column that is not of a string type.
    pub fn new(
        schema: &Schema,
        text_columns: &[String],
        key: Option<&str>,
        subject: Option<&str>,
        context: &[String],
    ) -> Result<Plan, String> {
        let find = |name: &str, role: &str| -> Result<usize, String> {
            schema.index_of(name).map_err(|_| {
                let names: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
                format!(
                    "{role} column {name:?} is not in the input; its columns are: {}",
                    names.join(", ")
                )
            })
        };
        if text_columns.is_empty() {
            return Err("no text column to scan (text_columns is empty)".to_string());
        }
        let mut texts = Vec::with_capacity(text_columns.len());
        for name in text_columns {
            let i = find(name, "text")?;
            let ty = schema.field(i).data_type();
            if !is_text_type(ty) {
                return Err(format!(
                    "text column {name:?} is of type {ty}, not a string column (cast it to string first)"
                ));
            }
            if texts.iter().any(|(j, _)| *j == i) {
                return Err(format!("text column {name:?} is named twice"));
            }
            texts.push((i, name.clone()));
        }
        Ok(Plan {
            texts,
            key: key.map(|k| find(k, "key")).transpose()?,
            subject: subject.map(|s| find(s, "subject")).transpose()?,
            context: context
                .iter()
                .map(|c| find(c, "context").map(|i| (i, c.clone())))
                .collect::<Result<_, _>>()?,
        })
    }
}

/// A string column as it came, or cast to `Utf8` (dictionaries).
enum Text<'a> {
    Small(&'a arrow_array::StringArray),
    Large(&'a arrow_array::LargeStringArray),
    View(&'a arrow_array::StringViewArray),
}

impl Text<'_> {
    fn value(&self, row: usize) -> Option<&str> {
        match self {
            Text::Small(a) => a.is_valid(row).then(|| a.value(row)),
            Text::Large(a) => a.is_valid(row).then(|| a.value(row)),
            Text::View(a) => a.is_valid(row).then(|| a.value(row)),
        }
    }
}

/// `array` as a column of text: string columns in place, dictionaries decoded.
fn text_array(array: &ArrayRef) -> Result<ArrayRef, ArrowError> {
    match array.data_type() {
        DataType::Dictionary(_, _) | DataType::Null => arrow_cast::cast(array, &DataType::Utf8),
        _ => Ok(Arc::clone(array)),
    }
}

fn as_text(array: &ArrayRef) -> Text<'_> {
    match array.data_type() {
        DataType::LargeUtf8 => Text::Large(array.as_string::<i64>()),
        DataType::Utf8View => Text::View(array.as_string_view()),
        _ => Text::Small(array.as_string::<i32>()),
    }
}

/// Types a key or subject may have: what a CRM export's ids are (the CLI takes JSON strings
/// and numbers), not nested values or bytes.
fn is_label_type(ty: &DataType) -> bool {
    match ty {
        DataType::Dictionary(_, value) => is_label_type(value),
        ty => {
            is_text_type(ty)
                || ty.is_integer()
                || ty.is_floating()
                || matches!(ty, DataType::Boolean)
                || matches!(
                    ty,
                    DataType::Decimal128(..)
                        | DataType::Decimal256(..)
                        | DataType::Date32
                        | DataType::Date64
                        | DataType::Timestamp(..)
                )
        }
    }
}

/// A key or subject column as strings (integers, decimals, dates, dictionaries... cast).
fn label_array(array: &ArrayRef, role: &str, name: &str) -> Result<StringArray, String> {
    if !is_label_type(array.data_type()) {
        return Err(format!(
            "{role} column {name:?} is of type {}; a key, subject or context column must be a string, a number, a boolean or a date",
            array.data_type()
        ));
    }
    let cast = arrow_cast::cast(array, &DataType::Utf8).map_err(|e| {
        format!(
            "{role} column {name:?} of type {} cannot be read as text: {e}",
            array.data_type()
        )
    })?;
    Ok(cast.as_string::<i32>().clone())
}

struct Out {
    record: StringBuilder,
    row: Int64Builder,
    subject: StringBuilder,
    field: StringBuilder,
    category: StringBuilder,
    data_category: StringBuilder,
    lang: StringBuilder,
    note_lang: StringBuilder,
    start: Int64Builder,
    end: Int64Builder,
    char_start: Int64Builder,
    char_end: Int64Builder,
    likelihood: StringBuilder,
    action: StringBuilder,
    evasion: StringBuilder,
    text: StringBuilder,
    entry: StringBuilder,
}

fn int(n: usize) -> i64 {
    // Offsets and row numbers of an in-memory Arrow batch fit in i64.
    i64::try_from(n).unwrap_or(i64::MAX)
}

impl Out {
    fn new() -> Out {
        Out {
            record: StringBuilder::new(),
            row: Int64Builder::new(),
            subject: StringBuilder::new(),
            field: StringBuilder::new(),
            category: StringBuilder::new(),
            data_category: StringBuilder::new(),
            lang: StringBuilder::new(),
            note_lang: StringBuilder::new(),
            start: Int64Builder::new(),
            end: Int64Builder::new(),
            char_start: Int64Builder::new(),
            char_end: Int64Builder::new(),
            likelihood: StringBuilder::new(),
            action: StringBuilder::new(),
            evasion: StringBuilder::new(),
            text: StringBuilder::new(),
            entry: StringBuilder::new(),
        }
    }

    fn finish(mut self) -> Result<RecordBatch, String> {
        let columns: Vec<ArrayRef> = vec![
            Arc::new(self.record.finish()),
            Arc::new(self.row.finish()),
            Arc::new(self.subject.finish()),
            Arc::new(self.field.finish()),
            Arc::new(self.category.finish()),
            Arc::new(self.data_category.finish()),
            Arc::new(self.lang.finish()),
            Arc::new(self.note_lang.finish()),
            Arc::new(self.start.finish()),
            Arc::new(self.end.finish()),
            Arc::new(self.char_start.finish()),
            Arc::new(self.char_end.finish()),
            Arc::new(self.likelihood.finish()),
            Arc::new(self.action.finish()),
            Arc::new(self.evasion.finish()),
            Arc::new(self.text.finish()),
            Arc::new(self.entry.finish()),
        ];
        RecordBatch::try_new(schema(), columns).map_err(|e| e.to_string())
    }
}

/// Scan every text column of every row of `batches`; findings in row order, then column
/// order (the order of `text_columns`), then offset: the order of `art9 scan`'s output.
///
/// # Errors
/// A key or subject column that cannot be cast to text.
pub fn scan(
    scanner: &Scanner,
    policy: Option<&CompiledPolicy>,
    plan: &Plan,
    batches: &[RecordBatch],
    include_text: bool,
    keep_typos: bool,
    min_likelihood: Option<Likelihood>,
) -> Result<RecordBatch, String> {
    let mut out = Out::new();
    let mut found: Vec<Finding> = Vec::new();
    let mut row_base = 0usize;
    for batch in batches {
        let schema = batch.schema();
        let name = |i: usize| schema.field(i).name().as_str();
        let keys = plan
            .key
            .map(|i| label_array(batch.column(i), "key", name(i)))
            .transpose()?;
        let subjects = plan
            .subject
            .map(|i| label_array(batch.column(i), "subject", name(i)))
            .transpose()?;
        let contexts = plan
            .context
            .iter()
            .map(|(i, name)| {
                Ok((
                    name.as_str(),
                    label_array(batch.column(*i), "context", name)?,
                ))
            })
            .collect::<Result<Vec<_>, String>>()?;
        let mut context = Context::new();
        let columns = plan
            .texts
            .iter()
            .map(|(i, field)| {
                text_array(batch.column(*i))
                    .map(|a| (a, field.as_str()))
                    .map_err(|e| format!("text column {field:?}: {e}"))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let texts: Vec<(Text<'_>, &str)> = columns.iter().map(|(a, f)| (as_text(a), *f)).collect();
        for row in 0..batch.num_rows() {
            for (column, field) in &texts {
                let Some(text) = column.value(row) else {
                    continue;
                };
                scanner.scan_into(text, &mut found);
                if !keep_typos {
                    found.retain(|f| f.evasion != Some(Evasion::Typo));
                }
                // The likelihood threshold, as `art9 scan` applies it: `min_likelihood`
                // (`--min-likelihood`), else the policy's, else the default.
                match policy {
                    Some(p) => p.retain_likely(Some(field), &mut found, min_likelihood),
                    None => {
                        let min = min_likelihood.unwrap_or(DEFAULT_MIN_LIKELIHOOD);
                        found.retain(|f| f.likelihood >= min);
                    }
                }
                if found.is_empty() {
                    continue;
                }
                let key = keys
                    .as_ref()
                    .and_then(|k| k.is_valid(row).then(|| k.value(row)));
                let subject = subjects
                    .as_ref()
                    .and_then(|s| s.is_valid(row).then(|| s.value(row)));
                let decision = policy.map(|p| {
                    for (name, values) in &contexts {
                        let value = values.is_valid(row).then(|| values.value(row).to_string());
                        context.set(*name, value);
                    }
                    let ctx = RecordContext {
                        field: Some(field),
                        key,
                        subject,
                        columns: &context,
                    };
                    p.decide(&ctx, &found)
                });
                for (n, f) in found.iter().enumerate() {
                    let action = decision.as_ref().map(|d| d.actions[n].0);
                    let fo = FindingOut::new(scanner, text, f, action, include_text);
                    out.record.append_option(key);
                    out.row.append_value(int(row_base + row));
                    out.subject.append_option(subject);
                    out.field.append_value(field);
                    out.category.append_value(fo.category.as_str());
                    out.data_category.append_value(fo.data_category);
                    out.lang.append_value(fo.lang.as_str());
                    out.note_lang
                        .append_value(fo.note_lang.map_or("und", |l| l.as_str()));
                    out.start.append_value(int(fo.start));
                    out.end.append_value(int(fo.end));
                    out.char_start.append_value(int(fo.char_start));
                    out.char_end.append_value(int(fo.char_end));
                    out.likelihood.append_value(fo.likelihood.as_str());
                    out.action.append_option(fo.action.map(|a| a.as_str()));
                    out.evasion.append_option(fo.evasion.map(|e| e.as_str()));
                    out.text.append_option(fo.text.as_deref());
                    out.entry.append_option(fo.entry.as_deref());
                }
            }
        }
        row_base += batch.num_rows();
    }
    out.finish()
}

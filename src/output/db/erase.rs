//! The statements of `art9 erase --apply` on a database: per row an `UPDATE` (mask or null
//! fields) or a `DELETE`, each with the same compare-and-set rule as `mask --update`: the
//! row is changed only while the fields it reads still hold the text that was read. An
//! `UPDATE` compares the fields it changes; a `DELETE` compares every scanned field (a NULL
//! read as empty text compares equal to NULL or empty). A row that no longer matches is a
//! [`Conflict`](super::Conflict) and is left alone. Columns that were not read cannot be
//! compared: an edit to them does not stop a delete.

use super::{Conflict, WriteReport};
use crate::input::db::{DbError, DbErrorKind, DbKind, DbSpec, RowImage};
use crate::record::Record;

/// What happens to one field of a row.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FieldWrite<'a> {
    /// Left as it is.
    Keep,
    /// Set to this (masked) text.
    Set(&'a str),
    /// Set to NULL.
    Null,
}

/// A row to erase: the record as read and, per field (in `DbSpec::fields` order), what to
/// write, or the whole row deleted.
pub struct EraseRow<'a> {
    /// The record as read (with a row image holding its key values in `raw`).
    pub record: &'a Record,
    /// Per field; ignored when `delete`.
    pub fields: Vec<FieldWrite<'a>>,
    /// Delete the row.
    pub delete: bool,
}

/// How one database spells the pieces of the statements.
pub(crate) trait Dialect {
    /// The placeholder of the 1-based `n`-th parameter.
    fn ph(&self, n: usize) -> String;
    /// `key column = parameter` (key `i` of the spec).
    fn key_eq(&self, i: usize, col: &str, ph: &str) -> String;
    /// The value to assign: a parameter holding text (field `i`).
    fn set_value(&self, _i: usize, ph: &str) -> String {
        ph.to_string()
    }
    /// `field column = parameter` compared as bytes (field `i`); `coalesce`: a NULL column
    /// counts as empty text.
    fn text_eq(&self, i: usize, col: &str, ph: &str, coalesce: bool) -> String;
}

/// A statement with its text parameters, the record key and the fields it changes.
pub(crate) struct Statement {
    pub(crate) sql: String,
    pub(crate) params: Vec<String>,
    pub(crate) key: String,
    pub(crate) delete: bool,
    pub(crate) conflict: Conflict,
}

/// What one batch (one transaction) of statements changed, counted before its commit.
#[derive(Default)]
pub(crate) struct Applied {
    updated: u64,
    deleted: u64,
    conflicts: Vec<Conflict>,
}

#[cfg_attr(
    not(any(feature = "sqlite", feature = "postgres", feature = "mysql")),
    allow(dead_code)
)]
impl Applied {
    /// Count statement `st`, which changed `rows` rows: none is a conflict (the row changed
    /// since it was read, or is gone), one is done. More than one is `Err((key, rows))`:
    /// `--key` does not identify a row, and the caller rolls the batch back.
    pub(crate) fn count(&mut self, st: &Statement, rows: u64) -> Result<(), (String, u64)> {
        match rows {
            0 => self.conflicts.push(st.conflict.clone()),
            1 if st.delete => self.deleted += 1,
            1 => self.updated += 1,
            n => return Err((st.key.clone(), n)),
        }
        Ok(())
    }

    /// The rows changed (updated or deleted).
    #[cfg_attr(not(any(feature = "postgres", feature = "mysql")), allow(dead_code))]
    pub(crate) fn rows(&self) -> u64 {
        self.updated + self.deleted
    }

    /// Add a committed batch to the run's report.
    pub(crate) fn commit_to(self, report: &mut WriteReport) {
        report.rows_updated += self.updated;
        report.rows_deleted += self.deleted;
        report.conflicts.extend(self.conflicts);
    }
}

/// Build the `UPDATE` or `DELETE` for `row`; `None` when nothing changes.
///
/// # Errors
/// The record has no row image, or a key column is NULL.
pub(crate) fn statement(
    kind: DbKind,
    dialect: &dyn Dialect,
    table: &str,
    spec: &DbSpec,
    row: &EraseRow<'_>,
) -> Result<Option<Statement>, DbError> {
    let image = RowImage::decode(&row.record.raw)?;
    let mut keys = Vec::with_capacity(image.keys.len());
    for k in image.keys {
        match k {
            Some(k) => keys.push(k),
            None => {
                return Err(DbError::new(
                    DbErrorKind::Write,
                    format!(
                        "table {table}: row {} has a NULL key; cannot erase it",
                        row.record.line
                    ),
                ))
            }
        }
    }
    let mut params: Vec<String> = Vec::new();
    let mut n = 0usize;
    let mut ph = |params: &mut Vec<String>, v: String| {
        params.push(v);
        n += 1;
        dialect.ph(n)
    };
    let t = kind.quote_table(table);
    let text_of = |i: usize| {
        row.record
            .fields
            .get(i)
            .map(|f| f.text.clone())
            .unwrap_or_default()
    };
    let (sql, changed): (String, Vec<String>) = if row.delete {
        let mut cond = Vec::new();
        for (i, (k, v)) in spec.key.iter().zip(&keys).enumerate() {
            let p = ph(&mut params, v.clone());
            cond.push(dialect.key_eq(i, &kind.quote(k), &p));
        }
        for (i, f) in spec.fields.iter().enumerate() {
            let p = ph(&mut params, text_of(i));
            cond.push(dialect.text_eq(i, &kind.quote(f), &p, true));
        }
        (
            format!("DELETE FROM {t} WHERE {}", cond.join(" AND ")),
            spec.fields.clone(),
        )
    } else {
        let mut set = Vec::new();
        let mut changed = Vec::new();
        for (i, (f, w)) in spec.fields.iter().zip(&row.fields).enumerate() {
            match w {
                FieldWrite::Keep => {}
                FieldWrite::Set(s) => {
                    let p = ph(&mut params, s.to_string());
                    set.push(format!("{} = {}", kind.quote(f), dialect.set_value(i, &p)));
                    changed.push(i);
                }
                FieldWrite::Null => {
                    set.push(format!("{} = NULL", kind.quote(f)));
                    changed.push(i);
                }
            }
        }
        if set.is_empty() {
            return Ok(None);
        }
        let mut cond = Vec::new();
        for (i, (k, v)) in spec.key.iter().zip(&keys).enumerate() {
            let p = ph(&mut params, v.clone());
            cond.push(dialect.key_eq(i, &kind.quote(k), &p));
        }
        for &i in &changed {
            let p = ph(&mut params, text_of(i));
            cond.push(dialect.text_eq(i, &kind.quote(&spec.fields[i]), &p, false));
        }
        (
            format!(
                "UPDATE {t} SET {} WHERE {}",
                set.join(", "),
                cond.join(" AND ")
            ),
            changed.iter().map(|&i| spec.fields[i].clone()).collect(),
        )
    };
    Ok(Some(Statement {
        sql,
        params,
        key: row.record.key.clone(),
        delete: row.delete,
        conflict: Conflict {
            key: row.record.key.clone(),
            fields: changed,
        },
    }))
}

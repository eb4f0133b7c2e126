//! Small tables read whole, every value as text: the consent ledger (`--consent
//! table:NAME`) lives in the same database as the notes.

use super::{DbError, DbErrorKind, DbKind, DbUrl};

/// The rows of `table` (columns `columns`, in that order), each value as text (`None`: SQL
/// `NULL`), numbered from 1 in the order the database returns them (ordered by the first
/// column). Dates and timestamps come in their ISO 8601 form: PostgreSQL's `timestamptz` as
/// `2026-12-07T10:00:00+00:00` whatever the session's `DateStyle`, MySQL's `DATETIME` as
/// `2026-12-07 10:00:00`, SQLite's as stored.
///
/// # Errors
/// The database cannot be reached, the table or a column does not exist, or a driver error.
pub(crate) fn read_text_rows(
    url: &DbUrl,
    table: &str,
    columns: &[&str],
) -> Result<Vec<Vec<Option<String>>>, DbError> {
    super::check_ident("table", table, true)?;
    for c in columns {
        super::check_ident("column", c, false)?;
    }
    let k = url.kind;
    let cols: Vec<String> = columns
        .iter()
        .map(|c| match k {
            // to_json gives dates and timestamps in ISO 8601 whatever DateStyle says.
            DbKind::Postgres => format!("to_json({})#>>'{{}}'", k.quote(c)),
            DbKind::Mysql => format!("CAST({} AS CHAR)", k.quote(c)),
            DbKind::Sqlite => k.quote(c),
        })
        .collect();
    let sql = format!(
        "SELECT {} FROM {} ORDER BY 1",
        cols.join(", "),
        k.quote_table(table)
    );
    let err = |e: String| {
        DbError::new(DbErrorKind::Schema, e).context(format_args!("{url}: table {table}"))
    };
    match k {
        #[cfg(feature = "sqlite")]
        DbKind::Sqlite => {
            use rusqlite::types::ValueRef;
            let conn = crate::input::sqlite::open(url, false)?;
            let mut stmt = conn
                .prepare(&sql)
                .map_err(|e| err(url.scrub(&e.to_string())))?;
            let n = columns.len();
            let rows = stmt
                .query_map([], |row| {
                    (0..n)
                        .map(|i| {
                            Ok(match row.get_ref(i)? {
                                ValueRef::Null => None,
                                ValueRef::Integer(v) => Some(v.to_string()),
                                ValueRef::Real(v) => Some(v.to_string()),
                                ValueRef::Text(t) | ValueRef::Blob(t) => {
                                    Some(String::from_utf8_lossy(t).into_owned())
                                }
                            })
                        })
                        .collect::<Result<Vec<_>, rusqlite::Error>>()
                })
                .map_err(|e| err(url.scrub(&e.to_string())))?;
            rows.collect::<Result<Vec<_>, _>>()
                .map_err(|e| err(url.scrub(&e.to_string())))
        }
        #[cfg(feature = "postgres")]
        DbKind::Postgres => {
            let mut client = crate::input::postgres::connect(url)?;
            let rows = client
                .query(sql.as_str(), &[])
                .map_err(|e| err(url.scrub(&e.to_string())))?;
            rows.iter()
                .map(|r| {
                    (0..columns.len())
                        .map(|i| r.try_get::<_, Option<String>>(i))
                        .collect::<Result<Vec<_>, _>>()
                        .map_err(|e| err(url.scrub(&e.to_string())))
                })
                .collect()
        }
        #[cfg(feature = "mysql")]
        DbKind::Mysql => {
            use mysql::prelude::Queryable;
            let mut conn = crate::input::mysql::connect(url)?;
            let rows: Vec<mysql::Row> = conn
                .query(sql.as_str())
                .map_err(|e| err(url.scrub(&e.to_string())))?;
            Ok(rows
                .iter()
                .map(|r| {
                    (0..columns.len())
                        .map(|i| match r.as_ref(i) {
                            None | Some(mysql::Value::NULL) => None,
                            Some(mysql::Value::Bytes(b)) => {
                                Some(String::from_utf8_lossy(b).into_owned())
                            }
                            Some(v) => Some(v.as_sql(true).trim_matches('\'').to_string()),
                        })
                        .collect()
                })
                .collect())
        }
        #[allow(unreachable_patterns)]
        _ => Err(DbError::new(
            DbErrorKind::Connect,
            format!("{url}: this build has no support for {k:?} databases"),
        )),
    }
}

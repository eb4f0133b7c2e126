//! `mask --into`/`--update` for PostgreSQL, on a connection of its own: batches in
//! transactions; `--into` fills a staging table and renames it when the row count checks out.

use postgres::Client;

use super::erase::{statement, Applied, Dialect, EraseRow, Statement};
use super::{
    key_not_unique, leaf, staging_name, BatchOutcome, Conflict, DbWriter, MaskedRow, WriteMode,
    WriteReport,
};
use crate::input::db::{check_ident, DbError, DbErrorKind, DbKind, DbSpec, DbUrl, RowImage};
use crate::input::postgres::{classify, connect, describe};

/// Writes masked rows to PostgreSQL.
pub(crate) struct PgWriter {
    client: Client,
    url: DbUrl,
    spec: DbSpec,
    mode: WriteMode,
    /// `--into`: the staging table; `--update`: the source table.
    table: String,
    /// `--update`: SQL type names of the key columns.
    key_types: Vec<String>,
    /// `--update`: SQL type names of the field columns.
    field_types: Vec<String>,
    /// `--into`: JSON objects of the pending rows; `--update`: the rows to update.
    pending_json: Vec<String>,
    pending_updates: Vec<PendingUpdate>,
    batch: usize,
    report: WriteReport,
    /// `erase`: the statements of the current batch.
    erasing: Vec<Statement>,
}

/// PostgreSQL's spelling of the erase statements: text parameters cast to the key's type;
/// fields compared as text in the "C" collation (`bpchar` as itself), as `--update` does.
struct Pg<'a> {
    key_types: &'a [String],
    field_types: &'a [String],
}

impl Dialect for Pg<'_> {
    fn ph(&self, n: usize) -> String {
        format!("${n}")
    }
    fn key_eq(&self, i: usize, col: &str, ph: &str) -> String {
        let ty = self.key_types.get(i).map_or("text", String::as_str);
        format!("{col} = CAST({ph}::text AS {ty})")
    }
    fn set_value(&self, _i: usize, ph: &str) -> String {
        format!("{ph}::text")
    }
    fn text_eq(&self, i: usize, col: &str, ph: &str, coalesce: bool) -> String {
        let bpchar = self.field_types.get(i).is_some_and(|t| t == "bpchar");
        match (bpchar, coalesce) {
            (true, false) => format!("{col} = CAST({ph}::text AS bpchar)"),
            (true, true) => format!("COALESCE({col}, '') = CAST({ph}::text AS bpchar)"),
            (false, false) => format!("{col}::text = {ph}::text COLLATE \"C\""),
            (false, true) => format!("COALESCE({col}::text, '') = {ph}::text COLLATE \"C\""),
        }
    }
}

/// One row `--update` is to write.
struct PendingUpdate {
    /// Masked text per field (`None`: unchanged).
    masked: Vec<Option<String>>,
    /// The text that was read, for the fields that are masked (`None` for the others).
    read: Vec<Option<String>>,
    /// Key column values.
    keys: Vec<String>,
    /// The record key, for messages and conflicts.
    key: String,
}

/// Start writing masked rows (`--into` creates the staging table now).
///
/// # Errors
/// The target exists without `--replace`, a column is missing, or a write fails.
pub(crate) fn open_writer(
    url: &DbUrl,
    spec: &DbSpec,
    mode: WriteMode,
    batch: usize,
) -> Result<Box<dyn DbWriter>, DbError> {
    let client = connect(url)?;
    let source = spec.table.clone().unwrap_or_default();
    let p = DbKind::Postgres;
    let mut w = PgWriter {
        client,
        url: url.clone(),
        spec: spec.clone(),
        mode: mode.clone(),
        table: source.clone(),
        key_types: Vec::new(),
        field_types: Vec::new(),
        pending_json: Vec::new(),
        pending_updates: Vec::new(),
        batch: batch.max(1),
        report: WriteReport::default(),
        erasing: Vec::new(),
    };
    let wrap = |e: postgres::Error, t: &str| {
        classify(url, &e, DbErrorKind::Write, &format!("table {t}: "))
    };
    match &mode {
        WriteMode::Into { table, replace } => {
            let found: Option<String> = w
                .client
                .query_one("SELECT to_regclass($1)::text", &[&p.quote_table(table)])
                .and_then(|r| r.try_get(0))
                .map_err(|e| wrap(e, table))?;
            if found.is_some() && !replace {
                return Err(DbError::new(
                    DbErrorKind::Exists,
                    format!("table {table} already exists (use --replace to overwrite it)"),
                )
                .context(url));
            }
            let staging = staging_name(table);
            w.client
                .batch_execute(&format!(
                    "DROP TABLE IF EXISTS {s}; CREATE TABLE {s} (LIKE {src} INCLUDING DEFAULTS)",
                    s = p.quote_table(&staging),
                    src = p.quote_table(&source)
                ))
                .map_err(|e| wrap(e, &staging))?;
            w.table = staging;
        }
        WriteMode::Update => {
            let cols = spec
                .key
                .iter()
                .chain(&spec.fields)
                .map(|k| format!("t.{}", p.quote(k)))
                .collect::<Vec<_>>()
                .join(", ");
            let stmt = w
                .client
                .prepare(&format!(
                    "SELECT {cols} FROM {} AS t",
                    p.quote_table(&source)
                ))
                .map_err(|e| wrap(e, &source))?;
            for (i, c) in stmt.columns().iter().enumerate() {
                let name = c.type_().name().to_string();
                if i < spec.key.len() {
                    check_ident("key column type", &name, true)?;
                    w.key_types.push(name);
                } else {
                    w.field_types.push(name);
                }
            }
        }
    }
    Ok(Box::new(w))
}

impl PgWriter {
    fn wrap(&self, e: &postgres::Error) -> DbError {
        let (_, m) = describe(&self.url, e, DbErrorKind::Write);
        DbError::new(
            DbErrorKind::Write,
            format!("{}: table {}: {m}", self.url, self.table),
        )
    }

    /// Run the queued erase statements in one transaction.
    fn flush_erase(&mut self) -> Result<(), DbError> {
        if self.erasing.is_empty() {
            return Ok(());
        }
        let pending = std::mem::take(&mut self.erasing);
        let mut committing = 0;
        let result = (|| -> Result<Result<Applied, (String, u64)>, postgres::Error> {
            let mut t = self.client.transaction()?;
            let mut applied = Applied::default();
            for st in &pending {
                let params: Vec<&(dyn postgres::types::ToSql + Sync)> = st
                    .params
                    .iter()
                    .map(|p| p as &(dyn postgres::types::ToSql + Sync))
                    .collect();
                let rows = t.execute(st.sql.as_str(), &params)?;
                if let Err(e) = applied.count(st, rows) {
                    return Ok(Err(e));
                }
            }
            committing = applied.rows();
            t.commit()?;
            Ok(Ok(applied))
        })();
        match result {
            Ok(Ok(applied)) => {
                applied.commit_to(&mut self.report);
                Ok(())
            }
            Ok(Err((key, n))) => Err(key_not_unique(&self.url, &self.table, &key, n)),
            Err(e) => {
                self.report.uncertain = committing;
                Err(self.wrap(&e))
            }
        }
    }

    fn flush(&mut self) -> Result<(), DbError> {
        let p = DbKind::Postgres;
        match &self.mode {
            WriteMode::Into { .. } => {
                if self.pending_json.is_empty() {
                    return Ok(());
                }
                let rows = format!("[{}]", self.pending_json.join(","));
                let t = p.quote_table(&self.table);
                let n = self
                    .client
                    .execute(
                        &format!(
                            "INSERT INTO {t} SELECT * FROM json_populate_recordset(NULL::{t}, \
                             $1::text::json)"
                        ),
                        &[&rows],
                    )
                    .map_err(|e| self.wrap(&e))?;
                if n != self.pending_json.len() as u64 {
                    return Err(DbError::new(
                        DbErrorKind::Verify,
                        format!(
                            "{}: table {}: inserted {n} rows, expected {}",
                            self.url,
                            self.table,
                            self.pending_json.len()
                        ),
                    ));
                }
                self.report.rows_written += n;
                self.pending_json.clear();
            }
            WriteMode::Update => {
                if self.pending_updates.is_empty() {
                    return Ok(());
                }
                let nf = self.spec.fields.len();
                let set = self
                    .spec
                    .fields
                    .iter()
                    .enumerate()
                    .map(|(i, f)| format!("{c} = COALESCE(${}, {c})", i + 1, c = p.quote(f)))
                    .collect::<Vec<_>>()
                    .join(", ");
                let nk = self.spec.key.len();
                let keys =
                    self.spec
                        .key
                        .iter()
                        .zip(&self.key_types)
                        .enumerate()
                        .map(|(i, (k, ty))| {
                            format!("{} = CAST(${}::text AS {ty})", p.quote(k), nf + i + 1)
                        });
                // Compare-and-set: a masked field is written only while it holds exactly the
                // text that was read (byte equality: the "C" collation; `bpchar` compares as
                // itself, since its text form drops the padding the read value has).
                let unchanged = self
                    .spec
                    .fields
                    .iter()
                    .zip(&self.field_types)
                    .enumerate()
                    .map(|(i, (f, ty))| {
                        let (c, o) = (p.quote(f), nf + nk + i + 1);
                        if ty == "bpchar" {
                            format!("(${o}::text IS NULL OR {c} = CAST(${o}::text AS bpchar))")
                        } else {
                            format!("(${o}::text IS NULL OR {c}::text = ${o}::text COLLATE \"C\")")
                        }
                    });
                let cond = keys.chain(unchanged).collect::<Vec<_>>().join(" AND ");
                let sql = format!(
                    "UPDATE {} SET {set} WHERE {cond}",
                    p.quote_table(&self.table)
                );
                let pending = std::mem::take(&mut self.pending_updates);
                let spec = &self.spec;
                let mut committing = 0;
                let result = (|| -> Result<BatchOutcome, postgres::Error> {
                    let mut t = self.client.transaction()?;
                    let stmt = t.prepare(&sql)?;
                    let (mut written, mut conflicts) = (0, Vec::new());
                    for u in &pending {
                        let mut params: Vec<&(dyn postgres::types::ToSql + Sync)> = Vec::new();
                        for m in &u.masked {
                            params.push(m);
                        }
                        for k in &u.keys {
                            params.push(k);
                        }
                        for r in &u.read {
                            params.push(r);
                        }
                        match t.execute(&stmt, &params)? {
                            1 => written += 1,
                            0 => conflicts.push(Conflict::of(spec, &u.key, &u.masked)),
                            n => return Ok(Err((u.key.clone(), n))),
                        }
                    }
                    committing = written;
                    t.commit()?;
                    Ok(Ok((written, conflicts)))
                })();
                match result {
                    Ok(Ok((n, conflicts))) => {
                        self.report.rows_updated += n;
                        self.report.conflicts.extend(conflicts);
                    }
                    Ok(Err((key, n))) => {
                        return Err(key_not_unique(&self.url, &self.table, &key, n))
                    }
                    Err(e) => {
                        self.report.uncertain = committing;
                        return Err(self.wrap(&e));
                    }
                }
            }
        }
        Ok(())
    }
}

impl DbWriter for PgWriter {
    fn write(&mut self, row: MaskedRow<'_>) -> Result<(), DbError> {
        let image = RowImage::decode(&row.record.raw)?;
        match self.mode {
            WriteMode::Into { .. } => {
                let mut json = image.json.unwrap_or_default();
                if !json.ends_with('}') {
                    return Err(DbError::new(
                        DbErrorKind::Write,
                        format!("{}: row {}: no row image", self.url, row.record.line),
                    ));
                }
                // json_populate_record takes the last of duplicate keys: append the masked
                // values instead of re-parsing (and re-formatting numbers in) the row.
                json.pop();
                for (f, m) in self.spec.fields.iter().zip(&row.masked) {
                    if let Some(m) = m {
                        let v = serde_json::to_string(m).unwrap_or_default();
                        json.push_str(&format!(",\"{f}\":{v}"));
                    }
                }
                json.push('}');
                self.pending_json.push(json);
                if self.pending_json.len() >= self.batch {
                    self.flush()?;
                }
            }
            WriteMode::Update => {
                if row.masked.iter().all(Option::is_none) {
                    return Ok(());
                }
                let mut keys = Vec::new();
                for k in image.keys {
                    match k {
                        Some(k) => keys.push(k),
                        None => {
                            return Err(DbError::new(
                                DbErrorKind::Write,
                                format!(
                                    "{}: table {}: row {} has a NULL key; cannot update it",
                                    self.url, self.table, row.record.line
                                ),
                            ))
                        }
                    }
                }
                let masked: Vec<Option<String>> =
                    row.masked.iter().map(|m| m.map(str::to_string)).collect();
                let read = masked
                    .iter()
                    .zip(&row.record.fields)
                    .map(|(m, f)| m.as_ref().map(|_| f.text.clone()))
                    .collect();
                self.pending_updates.push(PendingUpdate {
                    masked,
                    read,
                    keys,
                    key: row.record.key.clone(),
                });
                if self.pending_updates.len() >= self.batch {
                    self.flush()?;
                }
            }
        }
        Ok(())
    }

    fn erase(&mut self, row: EraseRow<'_>) -> Result<(), DbError> {
        let dialect = Pg {
            key_types: &self.key_types,
            field_types: &self.field_types,
        };
        if let Some(st) = statement(DbKind::Postgres, &dialect, &self.table, &self.spec, &row)
            .map_err(|e| e.context(&self.url))?
        {
            self.erasing.push(st);
        }
        if self.erasing.len() >= self.batch {
            self.flush_erase()?;
        }
        Ok(())
    }

    fn finish(&mut self) -> Result<WriteReport, DbError> {
        self.flush_erase()?;
        self.flush()?;
        if let WriteMode::Into { table, replace } = self.mode.clone() {
            let p = DbKind::Postgres;
            let count: i64 = self
                .client
                .query_one(
                    &format!("SELECT count(*) FROM {}", p.quote_table(&self.table)),
                    &[],
                )
                .and_then(|r| r.try_get(0))
                .map_err(|e| self.wrap(&e))?;
            if count as u64 != self.report.rows_written {
                return Err(DbError::new(
                    DbErrorKind::Verify,
                    format!(
                        "{}: staging table {} holds {count} rows, {} were written; not renamed",
                        self.url, self.table, self.report.rows_written
                    ),
                ));
            }
            let drop = if replace {
                format!("DROP TABLE IF EXISTS {};", p.quote_table(&table))
            } else {
                String::new()
            };
            self.client
                .batch_execute(&format!(
                    "BEGIN; {drop} ALTER TABLE {} RENAME TO {}; COMMIT",
                    p.quote_table(&self.table),
                    p.quote(leaf(&table))
                ))
                .map_err(|e| self.wrap(&e))?;
        }
        Ok(self.report.clone())
    }

    fn abort(&mut self) -> String {
        let dropped = match &self.mode {
            WriteMode::Into { .. } => {
                let _ = self.client.batch_execute("ROLLBACK");
                self.client
                    .batch_execute(&format!(
                        "DROP TABLE IF EXISTS {}",
                        DbKind::Postgres.quote_table(&self.table)
                    ))
                    .is_ok()
            }
            WriteMode::Update => false,
        };
        self.mode.abort_message(&self.report, &self.table, dropped)
    }
}

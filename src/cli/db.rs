//! Database input for `scan` and database write-back for `mask`: `sqlite:`, `postgres://`,
//! `mysql://` connection strings (or `$ART9_DATABASE_URL`). `scan.rs` delegates here when the
//! input is a database; everything database-specific stays in this file.

use std::io::{self, Write};
use std::sync::Arc;

use std::path::Path;

use anyhow::{bail, Context, Result};
use art9::input::db::{DbError, DbSpec, DbUrl, SourceStats};
use art9::output::db::{Conflict, MaskedRow, WriteMode, WriteReport};
use art9::output::summary_text;
use art9::pipeline::{self, Item, Options, Summary};
use art9::source::SourceSpec;

use super::args::MaskArgs;
use super::common;
use super::progress::{Progress, Unit};
use super::scan::{exit_for, finish_skips, report_skip, BoxedSource};
use super::ExitCode;

/// Rows the scan will read, for the progress bar: counted only when the bar is shown and
/// `--no-count` is not given. A count that fails only costs the bar its total.
fn count(url: &DbUrl, spec: &DbSpec, progress: bool, no_count: bool) -> Option<u64> {
    if !progress || no_count {
        return None;
    }
    art9::input::db::count_rows(url, spec).ok()
}

/// What a database scan says on stderr once every record has been scanned: NULL field
/// values (scanned as empty text) and a `--subject-id` applied in the database. Printed
/// after the pipeline, not when the source ends, because the workers decode rows (and
/// count the NULLs) after the reader has finished.
pub struct SourceNotes {
    stats: Arc<SourceStats>,
    what: String,
    /// `--subject-id` was applied in the database (say so: other rows were never read).
    filtered_in_db: bool,
}

impl SourceNotes {
    /// The notes of an opened database source.
    pub fn of(opened: &art9::source::Opened) -> Result<SourceNotes> {
        let Some(db) = &opened.database else {
            bail!("not a database source");
        };
        Ok(SourceNotes {
            stats: db.stats.clone(),
            what: format!("{}: {}", db.url, db.spec.source_name()),
            filtered_in_db: db.spec.filters_in_database(),
        })
    }

    /// Print the notes (after a scan that read the whole source).
    pub fn print(&self) {
        let n = self.stats.null_count();
        if n > 0 {
            eprintln!(
                "art9: {}: {n} NULL field values scanned as empty text",
                self.what
            );
        }
        if self.filtered_in_db {
            eprintln!(
                "art9: {}: --subject-id was applied in the database: only that subject's \
                 rows were read",
                self.what
            );
        }
    }
}

/// The record source for `scan` on a database, the number of rows it will read when
/// `progress` (the bar is shown) asked for a count, and the notes to print after the scan.
pub fn source(
    spec: &SourceSpec,
    no_count: bool,
    progress: bool,
) -> Result<(art9::source::Opened, Option<u64>, SourceNotes)> {
    let url = spec.db_url()?;
    let db_spec = spec.db_spec()?;
    let total = count(&url, &db_spec, progress, no_count);
    let opened = spec.open_database(url, db_spec)?;
    let notes = SourceNotes::of(&opened)?;
    Ok((opened, total, notes))
}

/// `art9 mask DB --table T --field F --key K (--into NEW [--replace] | --update) [--dry-run]`.
pub fn mask(
    a: MaskArgs,
    policy: art9::CompiledPolicy,
    since: Option<art9::pipeline::Since>,
) -> Result<ExitCode> {
    if a.output.is_some() {
        bail!("-o writes files; for a database use --into TABLE or --update");
    }
    let source_spec = super::scan::source_spec(&a.input)?;
    let url = source_spec.db_url()?;
    let mut spec = source_spec.db_spec()?;
    let Some(table) = spec.table.clone() else {
        bail!("mask on a database needs --table (--query is for scan only)");
    };
    let mode = match (&a.db.into, a.db.update) {
        (Some(into), false) => {
            art9::input::db::check_ident("table", into, true)?;
            if into == &table {
                bail!("--into names the source table {table}; use --update to mask in place");
            }
            WriteMode::Into {
                table: into.clone(),
                replace: a.db.replace,
            }
        }
        (None, true) => {
            if spec.key.is_empty() {
                bail!("--update needs --key (the column(s) that identify a row)");
            }
            WriteMode::Update
        }
        _ => bail!("mask on a database needs --into NEW_TABLE or --update"),
    };
    spec.capture_keys = true;
    spec.capture_row = matches!(mode, WriteMode::Into { .. }) && !a.db.dry_run;
    if matches!(mode, WriteMode::Into { .. }) {
        // The copy holds every row: the other subjects' rows are read (and copied unchanged),
        // so the filter runs in the pipeline only.
        spec.subject_id = None;
    }

    let scanner = common::scanner(&a.lexicons, policy.typos())?;
    let review = super::review::setup(&a.review, Some(&policy))?;
    let options = Options {
        threads: a.input.threads,
        batch_records: a.input.batch_records,
        policy: Some(policy),
        mask: true,
        strip_html: a.input.strip_html,
        subject_id: a.input.subject_id.clone(),
        stop: Some(super::progress::stop_flag()),
        max_field_bytes: a.input.max_field_bytes,
        // The database is read on a thread of its own, which waits for the server.
        read_on_workers: false,
        min_likelihood: a.input.min_likelihood,
        fingerprints: review.fingerprints.clone(),
        baseline: review.baseline.clone(),
        state: None,
        since,
    };
    let show_bar = super::progress::wanted(!a.quiet);
    let total = count(&url, &spec, show_bar, a.input.db.no_count);
    let opened = source_spec.open_database(url.clone(), spec.clone())?;
    let mut progress = Progress::new(!a.quiet, total, Unit::Rows);
    let what = format!("{url}: table {table}");
    let notes = SourceNotes::of(&opened)?;
    let src = BoxedSource(opened.source);
    let mut writer = if a.db.dry_run {
        None
    } else {
        Some(art9::output::db::open_writer(
            &url,
            &spec,
            mode.clone(),
            a.input.batch_records,
        )?)
    };
    let mut write_error: Option<DbError> = None;
    let mut skips = 0;
    let mut would_change = 0u64;
    let stdout = io::stdout();
    let mut out = io::BufWriter::new(stdout.lock());
    let input_name = url.to_string();
    let mut audit_entry = a.audit.as_ref().map(|_| {
        let info = art9::output::summary::RunInfo::new(&scanner, options.policy.as_ref());
        super::audit::entry(
            "mask",
            &info,
            vec![what.clone()],
            a.input
                .subject_id
                .as_deref()
                .map(|id| art9::audit::subject_pseudonym(options.policy.as_ref(), id)),
        )
    });
    let result = pipeline::run(src, &scanner, &options, |item| {
        progress.record();
        match item {
            Item::Skipped(s) => report_skip(&input_name, s, &mut skips),
            // Another subject's row (--subject-id): copied unchanged by --into, left alone
            // by --update.
            Item::Filtered(record, _) => {
                if let Some(w) = writer.as_mut() {
                    let masked = vec![None; record.fields.len()];
                    if let Err(e) = w.write(MaskedRow { record, masked }) {
                        let line = e.to_string();
                        write_error = Some(e);
                        return Err(io::Error::other(line));
                    }
                }
            }
            Item::Scanned { record, fields } => {
                if let Some(e) = audit_entry.as_mut() {
                    super::subject::count_fields(e, fields);
                }
                let masked: Vec<Option<&str>> =
                    fields.iter().map(|f| f.masked.as_deref()).collect();
                if let Some(w) = writer.as_mut() {
                    if let Err(e) = w.write(MaskedRow { record, masked }) {
                        let line = e.to_string();
                        write_error = Some(e);
                        return Err(io::Error::other(line));
                    }
                } else {
                    for (f, m) in fields.iter().zip(&masked) {
                        if m.is_some() {
                            would_change += 1;
                            writeln!(
                                out,
                                "would mask key={} field={} (row {})",
                                record.key, f.name, record.line
                            )?;
                        }
                    }
                }
            }
        }
        Ok(())
    });
    out.flush().ok();
    progress.finish();
    let summary = match result {
        Ok(s) => s,
        Err(e) => {
            let written = writer.as_mut().map(|w| w.abort());
            let err = match write_error {
                Some(w) => anyhow::Error::new(w),
                None => anyhow::Error::new(e),
            };
            return Err(match written {
                Some(w) => err.context(format!("masking stopped; {w}")),
                None => err.context("masking stopped (dry run: nothing was written)"),
            });
        }
    };
    finish_skips(skips);
    notes.print();
    let report = match writer.as_mut() {
        Some(w) => match w.finish() {
            Ok(r) => Some(r),
            Err(e) => {
                let written = w.abort();
                return Err(anyhow::Error::new(e).context(format!("masking stopped; {written}")));
            }
        },
        None => None,
    };
    let conflicts = report.as_ref().map_or(&[][..], |r| &r.conflicts[..]);
    for c in conflicts.iter().take(MAX_CONFLICT_LINES) {
        eprintln!(
            "art9: {what}: key {}, field {}: changed since it was read; not masked (a rerun \
             masks the new value)",
            c.key,
            c.fields.join(", ")
        );
    }
    if conflicts.len() > MAX_CONFLICT_LINES {
        eprintln!(
            "art9: ... and {} more conflicts{}",
            conflicts.len() - MAX_CONFLICT_LINES,
            if a.db.conflicts_out.is_some() {
                " (all in --conflicts-out)"
            } else {
                " (--conflicts-out FILE lists them all)"
            }
        );
    }
    if let Some(path) = &a.db.conflicts_out {
        write_conflicts(path, conflicts)
            .with_context(|| format!("writing conflicts to {}", path.display()))?;
    }
    if let Some(b) = &review.baseline {
        super::review::finish_baseline(&a.review, b, a.quiet)?;
    }
    if let Some(path) = &a.db.summary_json {
        write_summary_json(path, &summary, &mode, report.as_ref(), would_change)
            .with_context(|| format!("writing the summary to {}", path.display()))?;
    }
    if !a.quiet {
        eprintln!("{}", summary_text(&summary));
        match (&mode, report.as_ref()) {
            (WriteMode::Into { table: into, .. }, Some(r)) => eprintln!(
                "art9: {what}: wrote {} rows to table {into} (row count verified)",
                r.rows_written
            ),
            (WriteMode::Update, Some(r)) if r.conflicts.is_empty() => {
                eprintln!("art9: {what}: masked {} rows in place", r.rows_updated)
            }
            (WriteMode::Update, Some(r)) => eprintln!(
                "art9: {what}: masked {} rows in place; {} rows changed since they were read \
                 and were left alone (conflicts; rerun to mask them)",
                r.rows_updated,
                r.conflicts.len()
            ),
            (_, None) => eprintln!(
                "art9: {what}: dry run: {would_change} field values would be masked; nothing \
                 was written"
            ),
        }
        if summary.records_skipped > 0 {
            if let WriteMode::Into { table: into, .. } = &mode {
                eprintln!(
                    "art9: {} skipped rows are NOT in table {into} (they could not be read)",
                    summary.records_skipped
                );
            }
        }
    }
    let code = if conflicts.is_empty() {
        exit_for(&summary)
    } else {
        ExitCode::Error
    };
    if let (Some(path), Some(mut e)) = (&a.audit, audit_entry) {
        e.records_from(&summary);
        if let Some(r) = &report {
            e.count_writes(r.rows_written + r.rows_updated, r.conflicts.len() as u64);
        }
        if let Some(id) = &a.input.subject_id {
            e.scrub(id);
        }
        super::audit::write(path, e, code)?;
    }
    Ok(code)
}

/// Conflicts listed on stderr; the rest are counted (and all go to `--conflicts-out`).
const MAX_CONFLICT_LINES: usize = 20;

fn write_conflicts(path: &Path, conflicts: &[Conflict]) -> Result<()> {
    let mut out = io::BufWriter::new(std::fs::File::create(path)?);
    for c in conflicts {
        serde_json::to_writer(&mut out, c)?;
        out.write_all(b"\n")?;
    }
    out.flush()?;
    Ok(())
}

fn write_summary_json(
    path: &Path,
    summary: &Summary,
    mode: &WriteMode,
    report: Option<&WriteReport>,
    would_change: u64,
) -> Result<()> {
    let write = match (mode, report) {
        (_, None) => serde_json::json!({"mode": "dry_run", "fields_to_mask": would_change}),
        (WriteMode::Into { table, .. }, Some(r)) => serde_json::json!({
            "mode": "into", "table": table, "rows_written": r.rows_written,
        }),
        (WriteMode::Update, Some(r)) => serde_json::json!({
            "mode": "update",
            "rows_updated": r.rows_updated,
            "conflicts": r.conflicts.len(),
            "conflict_rows": r.conflicts,
        }),
    };
    let doc = serde_json::json!({"summary": summary, "write": write});
    let mut out = io::BufWriter::new(std::fs::File::create(path)?);
    serde_json::to_writer_pretty(&mut out, &doc)?;
    out.write_all(b"\n")?;
    out.flush()?;
    Ok(())
}

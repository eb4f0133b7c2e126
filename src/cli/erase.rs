//! `art9 erase SOURCE... --subject COL --id ID --plan | --apply`: the erasure of one data
//! subject's special-category data across files and databases, per the policy's `erasure:`
//! rules (mask the spans, null the field, or delete the record).
//!
//! `--plan` prints per record and field the action (JSON Lines, never text) and writes
//! nothing. `--apply` carries it out — databases in place, a transaction per batch, each row
//! compare-and-set on what was read (`DbWriter::erase`: a row changed meanwhile is a
//! conflict, left alone); files as a new file written atomically (`-o OUT`, or
//! `--in-place`: a temporary file beside the input, renamed over it, the input's
//! permissions kept) in which every other record is byte for byte as it was — then reads
//! the subject again and fails (exit 2) if anything is left.
//!
//! The records to erase are the ones the sources hand over for the subject
//! ([`SubjectSources::sources`] filters on `--subject`/`--id`); each record's plan comes
//! from [`art9::erase::plan_record`] alone, so a run over another selection (all subjects
//! whose retention or consent makes erasure due) plugs in by choosing the records
//! differently and planning them the same way.

use std::borrow::Cow;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use art9::audit::TouchedRecord;
use art9::erase::{due_only, plan_record, RecordPlan};
use art9::input::db::DbError;
use art9::output::db::{EraseRow, FieldWrite, WriteMode, WriteReport};
use art9::output::masked::{encode_value, MaskedCopy, RawFormat};
use art9::output::summary::RunInfo;
use art9::pipeline::{FieldResult, Item};
use art9::policy::EraseAction;
use art9::record::Record;
use clap::Args;
use serde::Serialize;

use super::subject::{count_fields, run_source, Source, SubjectSources};
use super::{common, ExitCode};

/// `art9 erase`.
#[derive(Args, Debug)]
pub struct EraseArgs {
    #[command(flatten)]
    pub common: SubjectSources,
    /// Print the plan — per record and field: source, key, line, field, action (mask, null,
    /// delete), findings per category; JSON Lines, never text — and write nothing. Exit 0 =
    /// nothing to erase, 1 = something to erase.
    #[arg(long, required_unless_present = "apply", conflicts_with = "apply")]
    pub plan: bool,
    /// Carry the plan out: databases in place (--table, --key; a row changed since it was
    /// read is a conflict and left alone, exit 2); files as a new file (-o OUT or
    /// --in-place). Then the subject is scanned again: exit 2 if anything is left.
    #[arg(long)]
    pub apply: bool,
    /// With --apply and one file source: write the erased copy to OUT (atomically).
    #[arg(long, short = 'o', value_name = "OUT", conflicts_with = "in_place")]
    pub output: Option<PathBuf>,
    /// With --apply: replace each file source by its erased copy (a temporary file in the
    /// same directory, synced, renamed over it; its permissions kept).
    #[arg(long)]
    pub in_place: bool,
    /// Instead of --id: erase, for every subject, the findings the policy's retention and
    /// consent rules make due (a retention rule with `action: erase` the record's date is
    /// over at --as-of, or a withdrawn consent in --consent), each per the `erasure:` rules.
    #[arg(long, conflicts_with = "id")]
    pub due: bool,
    /// With --apply: write the database rows left alone as conflicts to FILE (JSON Lines,
    /// {"key": ..., "fields": [...]}; never text).
    #[arg(long, value_name = "FILE")]
    pub conflicts_out: Option<PathBuf>,
}

/// One line of the plan.
#[derive(Serialize)]
struct PlanLine<'a> {
    source: &'a str,
    /// The record's subject (`--due` only: there are many).
    #[serde(skip_serializing_if = "Option::is_none")]
    subject: Option<&'a str>,
    key: &'a str,
    line: u64,
    field: &'a str,
    action: EraseAction,
    categories: &'a std::collections::BTreeMap<String, u64>,
}

/// The part of a record's scan results that is to be erased: everything (`--id`), or the
/// findings whose erasure is due (`--due`).
fn selected(due: bool, fields: &[FieldResult]) -> Option<Cow<'_, [FieldResult]>> {
    if due {
        due_only(fields).map(Cow::Owned)
    } else {
        Some(Cow::Borrowed(fields))
    }
}

pub fn erase(mut a: EraseArgs) -> Result<ExitCode> {
    let policy = a.common.policy()?;
    if a.due {
        if !policy.has_gdpr() {
            bail!(
                "--due needs a policy with retention or consent rules (README \"Retention\", \
                 \"Consent ledger\"): nothing is ever due under {}",
                policy.name()
            );
        }
    } else {
        a.common.id()?;
    }
    let due = a.due;
    let sources = a.common.sources()?;
    let files = sources.iter().filter(|s| !s.spec.is_database()).count();
    if a.apply && files > 0 {
        match (&a.output, a.in_place) {
            (None, false) => bail!("--apply on a file needs -o OUT or --in-place"),
            (Some(_), _) if files > 1 || sources.len() > 1 => {
                bail!("-o OUT takes one file source; with several, use --in-place")
            }
            _ => {}
        }
    }
    if files == 0 && (a.output.is_some() || a.in_place) {
        bail!("-o and --in-place are for file sources; a database is erased in place");
    }
    if a.plan && (a.output.is_some() || a.in_place || a.conflicts_out.is_some()) {
        bail!("--plan writes nothing: -o, --in-place and --conflicts-out go with --apply");
    }
    for s in sources.iter().filter(|s| s.spec.is_database()) {
        if s.spec.table.is_none() {
            bail!("{}: erase on a database needs --table", s.name);
        }
        if a.apply && s.spec.key.is_empty() {
            bail!(
                "{}: erase --apply on a database needs --key (the column(s) that identify a row)",
                s.name
            );
        }
    }
    let scanner = common::scanner(&a.common.lexicons, policy.typos())?;
    let info = RunInfo::new(&scanner, Some(&policy));
    let audit = a.common.audit.as_ref().map(|_| {
        super::audit::entry(
            "erase",
            &info,
            sources.iter().map(|s| s.name.clone()).collect(),
            a.common
                .id
                .as_deref()
                .map(|id| art9::audit::subject_pseudonym(Some(&policy), id)),
        )
    });
    let mut log = Log {
        audit,
        touched: Vec::new(),
        outputs: Vec::new(),
    };
    let result = run(&a, &policy, &sources, &scanner, due, &mut log);
    let Some(path) = &a.common.audit else {
        return result;
    };
    let Some(mut e) = log.audit else {
        return result;
    };
    let code = match &result {
        Ok(code) => *code,
        Err(err) => {
            // Some batches or files may be written: the line says what was attempted.
            e.error = Some(format!("{err:#}"));
            for t in &mut log.touched {
                if t.outcome == "done" {
                    t.outcome = "unknown".into();
                }
            }
            ExitCode::Error
        }
    };
    e.records_touched = log.touched;
    for p in &log.outputs {
        super::audit::output(&mut e, p)?;
    }
    if let Some(id) = &a.common.id {
        e.scrub(id);
    }
    super::audit::write(path, e, code)?;
    result
}

/// What the audit line of an erase collects as the run goes (written also when it fails).
struct Log {
    audit: Option<art9::audit::AuditEntry>,
    touched: Vec<TouchedRecord>,
    outputs: Vec<PathBuf>,
}

/// Plan or apply over every source, then (apply) rescan.
fn run(
    a: &EraseArgs,
    policy: &art9::CompiledPolicy,
    sources: &[Source],
    scanner: &art9::matcher::Scanner,
    due: bool,
    log: &mut Log,
) -> Result<ExitCode> {
    let stdout = io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    let mut conflicts = Vec::new();
    let mut planned = 0u64;
    let mut totals = [0u64; 3];
    for s in sources {
        let mut on_plan = |record: &Record, plan: &RecordPlan| -> io::Result<()> {
            planned += 1;
            totals[plan.action as usize] += 1;
            log.touched.push(TouchedRecord {
                source: s.name.clone(),
                key: record.key.clone(),
                action: plan.action.as_str().into(),
                fields: plan.fields.iter().map(|f| f.field.clone()).collect(),
                outcome: if a.apply { "done" } else { "planned" }.into(),
            });
            if a.plan {
                for f in &plan.fields {
                    serde_json::to_writer(
                        &mut out,
                        &PlanLine {
                            source: &s.name,
                            subject: if due { record.subject.as_deref() } else { None },
                            key: &record.key,
                            line: record.line,
                            field: &f.field,
                            action: f.action,
                            categories: &f.categories,
                        },
                    )?;
                    out.write_all(b"\n")?;
                }
            }
            Ok(())
        };
        let summary = if !a.apply {
            run_source(s, scanner, policy, &a.common.input, false, |item| {
                if let Item::Scanned { record, fields } = item {
                    if let Some(e) = log.audit.as_mut() {
                        count_fields(e, fields);
                    }
                    if let Some(plan) =
                        selected(due, fields).and_then(|f| plan_record(policy, record, &f))
                    {
                        on_plan(record, &plan)?;
                    }
                }
                Ok(())
            })?
        } else if s.spec.is_database() {
            let (summary, report) = apply_db(s, scanner, policy, a, |record, fields| {
                if let Some(e) = log.audit.as_mut() {
                    count_fields(e, fields);
                }
                let plan = selected(due, fields).and_then(|f| plan_record(policy, record, &f));
                if let Some(p) = &plan {
                    on_plan(record, p)?;
                }
                Ok(plan)
            })?;
            for c in &report.conflicts {
                if let Some(t) = log
                    .touched
                    .iter_mut()
                    .rev()
                    .find(|t| t.source == s.name && t.key == c.key)
                {
                    t.outcome = "conflict".into();
                }
            }
            conflicts.extend(report.conflicts.iter().cloned());
            summary
        } else {
            let target = match &a.output {
                Some(o) => o.clone(),
                None => PathBuf::from(&s.spec.input),
            };
            let summary = apply_file(s, scanner, policy, a, &target, |record, fields| {
                if let Some(e) = log.audit.as_mut() {
                    count_fields(e, fields);
                }
                let plan = selected(due, fields).and_then(|f| plan_record(policy, record, &f));
                if let Some(p) = &plan {
                    on_plan(record, p)?;
                }
                Ok(plan)
            })?;
            log.outputs.push(target);
            summary
        };
        if let Some(e) = log.audit.as_mut() {
            e.records_from(&summary);
        }
        if summary.records_skipped > 0 && !a.apply {
            eprintln!(
                "art9: {}: {} records could not be read (their subject is unknown)",
                s.name, summary.records_skipped
            );
        }
    }
    out.flush()?;
    drop(out);
    let what = format!(
        "{planned} records ({} masked, {} nulled, {} deleted)",
        totals[EraseAction::Mask as usize],
        totals[EraseAction::Null as usize],
        totals[EraseAction::Delete as usize]
    );
    let mut code = if a.plan {
        if !a.common.quiet {
            eprintln!("art9: erasure plan: {what}; nothing was written");
        }
        if planned > 0 {
            ExitCode::Found
        } else {
            ExitCode::Clean
        }
    } else {
        ExitCode::Clean
    };
    if a.apply {
        if let Some(path) = &a.conflicts_out {
            let mut w = BufWriter::new(
                std::fs::File::create(path)
                    .with_context(|| format!("cannot create {}", path.display()))?,
            );
            for c in &conflicts {
                serde_json::to_writer(&mut w, c)?;
                w.write_all(b"\n")?;
            }
            w.flush()?;
        }
        for c in conflicts.iter().take(20) {
            eprintln!(
                "art9: key {}, fields {}: changed since it was read; not erased (rerun erase)",
                c.key,
                c.fields.join(", ")
            );
        }
        // Read the subject again, from what was written.
        let mut left = 0u64;
        for s in sources {
            let mut again = Source {
                spec: s.spec.clone(),
                name: s.name.clone(),
            };
            if !s.spec.is_database() {
                if let Some(o) = &a.output {
                    again.spec.input = o.display().to_string();
                    again.name = again.spec.input.clone();
                }
            }
            run_source(&again, scanner, policy, &a.common.input, false, |item| {
                if let Item::Scanned { fields, .. } = item {
                    if let Some(f) = selected(due, fields) {
                        left += f.iter().map(|f| f.findings.len() as u64).sum::<u64>();
                    }
                }
                Ok(())
            })?;
        }
        if !a.common.quiet {
            eprintln!(
                "art9: erased {what}; {} conflicts; rescan: {left} findings left",
                conflicts.len()
            );
        }
        if left > 0 || !conflicts.is_empty() {
            if left > 0 {
                eprintln!(
                    "art9: {left} findings {} still there after the erasure (conflicts, or \
                     text a mask style keeps findable): rerun, or erase with null/delete",
                    if due {
                        "due for erasure are"
                    } else {
                        "of the subject are"
                    }
                );
            }
            code = ExitCode::Error;
        }
    }
    Ok(code)
}

/// Erase in a database table: every row of the subject with findings, through the
/// compare-and-set writer.
fn apply_db(
    s: &Source,
    scanner: &art9::matcher::Scanner,
    policy: &art9::CompiledPolicy,
    a: &EraseArgs,
    mut plan: impl FnMut(&Record, &[art9::pipeline::FieldResult]) -> io::Result<Option<RecordPlan>>,
) -> Result<(art9::pipeline::Summary, WriteReport)> {
    let url = s.spec.db_url()?;
    let mut spec = s.spec.db_spec()?;
    spec.capture_keys = true;
    let mut writer = art9::output::db::open_writer(
        &url,
        &spec,
        WriteMode::Update,
        a.common.input.batch_records,
    )?;
    let mut write_error: Option<DbError> = None;
    let result = run_source(s, scanner, policy, &a.common.input, false, |item| {
        let Item::Scanned { record, fields } = item else {
            return Ok(());
        };
        let Some(p) = plan(record, fields)? else {
            return Ok(());
        };
        let row = erase_row(record, &p);
        if let Err(e) = writer.erase(row) {
            let line = e.to_string();
            write_error = Some(e);
            return Err(io::Error::other(line));
        }
        Ok(())
    });
    let summary = match result {
        Ok(summary) => summary,
        Err(e) => {
            let written = writer.abort();
            let err = match write_error {
                Some(w) => anyhow::Error::new(w),
                None => e,
            };
            return Err(err.context(format!("erasure stopped; {written}")));
        }
    };
    match writer.finish() {
        Ok(r) => Ok((summary, r)),
        Err(e) => {
            let written = writer.abort();
            Err(anyhow::Error::new(e).context(format!("erasure stopped; {written}")))
        }
    }
}

/// The row to write for a record's plan: per field (the record's fields are the source's
/// `--field` columns, in order) mask, null or keep; or delete.
fn erase_row<'a>(record: &'a Record, plan: &'a RecordPlan) -> EraseRow<'a> {
    let fields = record
        .fields
        .iter()
        .map(|f| match plan.fields.iter().find(|p| p.field == f.name) {
            None => FieldWrite::Keep,
            Some(p) => match (p.action, &p.masked) {
                (EraseAction::Mask, Some(m)) => FieldWrite::Set(m),
                (EraseAction::Mask, None) => FieldWrite::Keep,
                (EraseAction::Null | EraseAction::Delete, _) => FieldWrite::Null,
            },
        })
        .collect();
    EraseRow {
        record,
        fields,
        delete: plan.action == EraseAction::Delete,
    }
}

/// Erase in a file: a new copy with the subject's records changed and every other record
/// byte for byte as read, written to `target` atomically. Nothing is written when a record
/// could not be read (it would be missing from the copy) or the run stops.
fn apply_file(
    s: &Source,
    scanner: &art9::matcher::Scanner,
    policy: &art9::CompiledPolicy,
    a: &EraseArgs,
    target: &Path,
    mut plan: impl FnMut(&Record, &[art9::pipeline::FieldResult]) -> io::Result<Option<RecordPlan>>,
) -> Result<art9::pipeline::Summary> {
    let input = Path::new(&s.spec.input);
    if a.output.is_some() && common::same_file(input, target) {
        bail!(
            "-o names the input {}; use --in-place to replace it",
            s.name
        );
    }
    // The copy is written while the input is read: open the input's shape first.
    let probe = s.spec.open(true)?;
    let (format, sniffed, compression, header) = (
        probe.format,
        probe.sniffed,
        probe.compression,
        probe.header_raw.clone(),
    );
    drop(probe);
    let tmp = common::AtomicFile::create(target, "erase")?;
    let file = tmp.file()?;
    if a.in_place && a.output.is_none() {
        if let Ok(meta) = std::fs::metadata(input) {
            file.set_permissions(meta.permissions())
                .with_context(|| format!("cannot keep the permissions of {}", s.name))?;
        }
    }
    let mut copy = MaskedCopy::new(
        BufWriter::with_capacity(256 * 1024, file),
        format,
        sniffed,
        compression,
        &header,
    )
    .context("writing the erased copy")?;
    let mut replacements: Vec<(usize, usize, String)> = Vec::new();
    let result = run_source(s, scanner, policy, &a.common.input, true, |item| {
        let (record, plan) = match item {
            Item::Skipped(_) => return Ok(()),
            Item::Filtered(record, _) => (record, None),
            Item::Scanned { record, fields } => (record, plan(record, fields)?),
        };
        let Some(plan) = plan else {
            return copy.write(record, &[]);
        };
        if plan.action == EraseAction::Delete {
            if format == RawFormat::JsonArray {
                return Err(io::Error::other(format!(
                    "record {}: deleting an element of a JSON array file is not supported \
                     (erase it with `null` in the policy's erasure: section)",
                    record.key
                )));
            }
            return Ok(());
        }
        replacements.clear();
        for f in &record.fields {
            let Some(p) = plan.fields.iter().find(|p| p.field == f.name) else {
                continue;
            };
            let Some((start, end)) = f.raw_span else {
                return Err(io::Error::other(format!(
                    "record {}, field {}: cannot locate the field in the record",
                    record.key, f.name
                )));
            };
            let original = record.raw.get(start..end).unwrap_or("");
            let value = match (p.action, &p.masked) {
                (EraseAction::Mask, Some(m)) => encode_value(format, original, m)?,
                (_, _) => match format {
                    RawFormat::Jsonl | RawFormat::JsonArray => "null".to_string(),
                    RawFormat::Text | RawFormat::Csv { .. } => encode_value(format, original, "")?,
                },
            };
            replacements.push((start, end, value));
        }
        copy.write_replaced(record, &mut replacements)
    });
    let summary = result.context("erasure stopped; no file was written")?;
    if summary.records_skipped > 0 {
        bail!(
            "{}: {} records could not be read; an erased copy would lose them, so no file was \
             written",
            s.name,
            summary.records_skipped
        );
    }
    let mut w = copy.finish().context("writing the erased copy")?;
    w.flush().context("writing the erased copy")?;
    drop(w);
    tmp.commit()?;
    Ok(summary)
}

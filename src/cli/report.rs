//! `art9 report` and the run summary / report files of `art9 scan --summary-out/--report`.

use std::io::{BufWriter, Write};
use std::path::Path;

use anyhow::{Context, Result};
use art9::output::summary::RunSummary;

use super::args::ReportArgs;
use super::common::AtomicFile;
use super::ExitCode;

/// The command line for a run summary: passwords in URLs and the values of `--subject-id`
/// (a person's id) replaced by `***`.
pub(super) fn command_line() -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut hide_next = false;
    for arg in std::env::args() {
        if hide_next {
            out.push("***".into());
            hide_next = false;
            continue;
        }
        if arg == "--subject-id" {
            hide_next = true;
            out.push(arg);
        } else if arg.starts_with("--subject-id=") {
            out.push("--subject-id=***".into());
        } else {
            out.push(art9::input::db::redact(&arg));
        }
    }
    out
}

/// Write `run` as JSON to `path`, atomically (synced, renamed).
pub(super) fn write_summary(path: &Path, run: &RunSummary) -> Result<()> {
    let file = AtomicFile::create(path, "summary")?;
    // A row per subject with findings: megabytes for a large run, in 256 KiB writes.
    let mut w = BufWriter::with_capacity(256 * 1024, file.file()?);
    run.write_json(&mut w)
        .map_err(std::io::Error::from)
        .and_then(|()| w.write_all(b"\n"))
        .and_then(|()| w.flush())
        .with_context(|| format!("writing the run summary {}", path.display()))?;
    drop(w);
    file.commit()
}

/// Read a run summary written by `scan --summary-out`.
pub(super) fn read_summary(path: &Path) -> Result<RunSummary> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    RunSummary::from_json(&text).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))
}

/// Write the HTML report of `run` to `path`, atomically.
#[cfg(feature = "report")]
pub(super) fn write_report(
    path: &Path,
    run: &RunSummary,
    previous: Option<&RunSummary>,
    opts: &art9::output::report::ReportOptions,
) -> Result<()> {
    let html = art9::output::report::render(run, previous, opts);
    let file = AtomicFile::create(path, "report")?;
    let mut w = BufWriter::new(file.file()?);
    w.write_all(html.as_bytes())
        .and_then(|()| w.flush())
        .with_context(|| format!("writing the report {}", path.display()))?;
    drop(w);
    file.commit()
}

/// The report of `art9 scan --report` (`show_subjects`: `--show-subjects`).
#[cfg(feature = "report")]
pub(super) fn write_scan_report(path: &Path, run: &RunSummary, show_subjects: bool) -> Result<()> {
    let opts = art9::output::report::ReportOptions {
        show_subjects,
        ..Default::default()
    };
    write_report(path, run, None, &opts)
}

/// Without the `report` feature there is no HTML writer.
#[cfg(not(feature = "report"))]
pub(super) fn write_scan_report(path: &Path, _: &RunSummary, _: bool) -> Result<()> {
    anyhow::bail!(
        "cannot write {}: this art9 was built without the `report` feature",
        path.display()
    )
}

#[cfg(feature = "report")]
pub fn report(a: ReportArgs) -> Result<ExitCode> {
    let parts = a
        .summaries
        .iter()
        .map(|p| read_summary(p))
        .collect::<Result<Vec<_>>>()?;
    let mut run = RunSummary::merge(&parts).context("cannot add up the run summaries")?;
    if a.show_subjects {
        // Every part must have kept the ids: a part without them would show its people
        // as pseudonyms only, which is not what was asked for.
        for (path, part) in a.summaries.iter().zip(&parts) {
            if !part.personal_data {
                anyhow::bail!(
                    "{}: this run summary holds no subject ids; scan with --subject COLUMN \
                     --show-subjects to keep the ids of the most affected people (the summary \
                     then holds personal data)",
                    path.display()
                );
            }
        }
    } else {
        // Only what was asked for leaves this command: no ids without --show-subjects.
        run.drop_subject_ids();
    }
    let mut previous = a.previous.as_deref().map(read_summary).transpose()?;
    if let Some(p) = previous.as_mut() {
        // The previous run is compared by its counts only.
        p.drop_subject_ids();
    }
    if let Some(path) = &a.summary_out {
        write_summary(path, &run)?;
    }
    let opts = art9::output::report::ReportOptions {
        min_count: a.min_count,
        retention_months: a.retention_months,
        show_subjects: a.show_subjects,
    };
    write_report(&a.output, &run, previous.as_ref(), &opts)?;
    Ok(ExitCode::Clean)
}

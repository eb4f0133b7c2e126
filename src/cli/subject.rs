//! `art9 subject SOURCE... --subject COL --id ID --access -o DIR`: the access extract of one
//! data subject across files and databases; and the plumbing `erase` shares with it (the
//! sources, each read for one subject).

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use art9::matcher::Scanner;
use art9::output::access::AccessExtract;
use art9::output::summary::RunInfo;
use art9::pipeline::{self, Item, Options, Summary};
use art9::source::SourceSpec;
use art9::CompiledPolicy;
use clap::Args;

use super::args::{InputArgs, LexiconArgs};
use super::scan::{source_spec, BoxedSource, SkipReport};
use super::{common, progress, ExitCode};

/// What `subject` and `erase` are given: the sources (the first is the input of the usual
/// input flags; the others are read with the same flags), the subject and the policy.
#[derive(Args, Debug)]
pub struct SubjectSources {
    #[command(flatten)]
    pub input: InputArgs,
    /// More sources (files or database connection strings), read with the same flags.
    #[arg(value_name = "SOURCE")]
    pub more: Vec<String>,
    /// The data subject's id: the value of the --subject column.
    #[arg(long, value_name = "ID")]
    pub id: Option<String>,
    #[command(flatten)]
    pub lexicons: LexiconArgs,
    #[command(flatten)]
    pub gdpr: super::gdpr::GdprArgs,
    /// Policy: built-in name (default, strict, report) or a YAML file (its `purposes:` and
    /// `erasure:` sections; its min_likelihood decides which findings count).
    #[arg(long, value_name = "NAME|FILE", default_value = "default")]
    pub policy: String,
    /// Append one line to this audit log (hash-chained JSON Lines, see README "Audit log").
    #[arg(long, value_name = "FILE")]
    pub audit: Option<PathBuf>,
    /// Do not print the summary on stderr.
    #[arg(long, short = 'q')]
    pub quiet: bool,
}

/// One source of a subject run.
pub(super) struct Source {
    /// The spec (with the subject filter).
    pub(super) spec: SourceSpec,
    /// Its name in messages and outputs (password redacted; a table named).
    pub(super) name: String,
}

impl SubjectSources {
    /// The subject's id (`--id`), required.
    pub(super) fn id(&self) -> Result<&str> {
        match self.id.as_deref() {
            Some("") => bail!("--id needs a value"),
            Some(id) => Ok(id),
            None => bail!("give the subject's id with --id ID"),
        }
    }

    /// Each source's spec, filtered to the subject when `--id` is given (`erase --due`
    /// reads every record).
    pub(super) fn sources(&self) -> Result<Vec<Source>> {
        if self.input.subject.is_none() {
            bail!("--subject COLUMN is needed (the field or column naming the data subject)");
        }
        if self.input.subject_id.is_some() {
            bail!("give the subject's id with --id (not --subject-id)");
        }
        if self.gdpr.since.is_some() {
            bail!("--since does not apply here: an access extract or an erasure covers all the subject's records");
        }
        let mut out = Vec::new();
        for input in std::iter::once(&self.input.input).chain(&self.more) {
            if input == "-" {
                bail!(
                    "{} reads named sources only, not standard input",
                    command_name()
                );
            }
            let mut a = self.input.clone();
            a.input = input.clone();
            a.subject_id = self.id.clone();
            let spec = source_spec(&a)?;
            let mut name = spec.display_name();
            if let Some(t) = &spec.table {
                if spec.is_database() {
                    name = format!("{name}: table {t}");
                }
            }
            out.push(Source { spec, name });
        }
        Ok(out)
    }

    /// The policy with the run's retention and consent settings (--date-field, --as-of,
    /// --consent), and the columns its rules read added to every source's context.
    pub(super) fn policy(&mut self) -> Result<CompiledPolicy> {
        let policy = common::policy(&self.policy)?;
        let as_of = self.gdpr.as_of()?;
        let policy = self.gdpr.apply(policy, &self.input, as_of)?;
        for c in policy.context_columns() {
            if !self.input.context.iter().any(|x| x == c) {
                self.input.context.push(c.to_string());
            }
        }
        Ok(policy)
    }
}

fn command_name() -> String {
    std::env::args().nth(1).unwrap_or_else(|| "art9".into())
}

/// Read one source for the subject and hand every item to `sink`, in input order. A
/// database is read with its key values captured (`erase` needs them) and, for a table, the
/// subject filtered in SQL; `spans`: locate fields in a file's records (for a new copy).
pub(super) fn run_source(
    source: &Source,
    scanner: &Scanner,
    policy: &CompiledPolicy,
    input: &InputArgs,
    spans: bool,
    mut sink: impl FnMut(&Item) -> std::io::Result<()>,
) -> Result<Summary> {
    let spec = &source.spec;
    let opened = if spec.is_database() {
        let url = spec.db_url()?;
        let mut db = spec.db_spec()?;
        db.capture_keys = true;
        spec.open_database(url, db)?
    } else {
        spec.open(spans)?
    };
    let options = Options {
        threads: input.threads,
        batch_records: input.batch_records,
        policy: Some(policy.clone()),
        mask: false,
        strip_html: input.strip_html,
        subject_id: spec.subject_id.clone(),
        stop: Some(progress::stop_flag()),
        max_field_bytes: input.max_field_bytes,
        min_likelihood: input.min_likelihood,
        read_on_workers: opened.read_on_workers,
        ..Options::default()
    };
    let src = BoxedSource(opened.source);
    let mut skips = SkipReport::new(&source.name, &spec.input);
    let result = pipeline::run(src, scanner, &options, |item| {
        match item {
            Item::Skipped(s) => skips.item(Some(s))?,
            _ => skips.item(None)?,
        }
        sink(item)
    });
    skips.finish()?;
    let summary = result.with_context(|| format!("reading {}", source.name))?;
    if summary.stopped_early {
        bail!("{}: interrupted; nothing was written", source.name);
    }
    Ok(summary)
}

/// `art9 subject`.
#[derive(Args, Debug)]
pub struct SubjectArgs {
    #[command(flatten)]
    pub common: SubjectSources,
    /// Write the access extract (Art. 15): every record and field of the subject with
    /// special-category findings, WITH their text, as DIR/access.json and DIR/access.html.
    #[arg(long, required = true)]
    pub access: bool,
    /// The directory to write to (created 0700; files 0600, written atomically).
    #[arg(long, short = 'o', value_name = "DIR")]
    pub output: PathBuf,
}

pub fn subject(mut a: SubjectArgs) -> Result<ExitCode> {
    let policy = a.common.policy()?;
    let id = a.common.id()?.to_string();
    let sources = a.common.sources()?;
    let scanner = common::scanner(&a.common.lexicons, policy.typos())?;
    let info = RunInfo::new(&scanner, Some(&policy));
    let mut extract = AccessExtract::new(&id, &policy);
    let mut audit = a.common.audit.as_ref().map(|_| {
        super::audit::entry(
            "subject",
            &info,
            sources.iter().map(|s| s.name.clone()).collect(),
            Some(art9::audit::subject_pseudonym(Some(&policy), &id)),
        )
    });
    let mut skipped = 0;
    for s in &sources {
        let summary = run_source(s, &scanner, &policy, &a.common.input, false, |item| {
            if let Item::Scanned { record, fields } = item {
                extract
                    .add_record(&s.name, &scanner, record, fields)
                    .map_err(std::io::Error::other)?;
                if let Some(e) = audit.as_mut() {
                    count_fields(e, fields);
                }
            }
            Ok(())
        })?;
        skipped += summary.records_skipped;
        extract.add_source(&s.name, &summary);
        if let Some(e) = audit.as_mut() {
            e.records_from(&summary);
        }
    }
    extract.finish(&policy);
    let written = write_extract(&a.output, &extract)?;
    eprintln!(
        "art9: WARNING: {} holds the TEXT of the subject's notes (the access extract is the one \
         output with text, by design); deliver it to the data subject only",
        a.output.display()
    );
    if !a.common.quiet {
        eprintln!(
            "art9: access extract: {} records with findings in {} sources ({})",
            extract.records.len(),
            sources.len(),
            written
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    let code = if skipped > 0 {
        eprintln!(
            "art9: {skipped} records could not be read; they may be about this subject: check \
             them by hand"
        );
        ExitCode::Error
    } else {
        ExitCode::Clean
    };
    if let (Some(path), Some(mut e)) = (&a.common.audit, audit) {
        for p in &written {
            super::audit::output(&mut e, p)?;
        }
        e.scrub(&id);
        super::audit::write(path, e, code)?;
    }
    Ok(code)
}

/// Count findings per category and policy action into an audit entry.
pub(super) fn count_fields(e: &mut art9::audit::AuditEntry, fields: &[pipeline::FieldResult]) {
    for fr in fields {
        for (i, f) in fr.findings.iter().enumerate() {
            let action = fr
                .decision
                .as_ref()
                .and_then(|d| d.actions.get(i))
                .map_or("found", |a| a.0.as_str());
            e.count(f.category.as_str(), action, 1);
        }
    }
}

/// Create DIR (0700) and write access.json and access.html (0600, atomically).
fn write_extract(dir: &Path, extract: &AccessExtract) -> Result<Vec<PathBuf>> {
    if dir.exists() && !dir.is_dir() {
        bail!("{} exists and is not a directory", dir.display());
    }
    if !dir.exists() {
        let mut b = std::fs::DirBuilder::new();
        b.recursive(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::DirBuilderExt;
            b.mode(0o700);
        }
        b.create(dir)
            .with_context(|| format!("cannot create {}", dir.display()))?;
    }
    let mut written = Vec::new();
    let json = dir.join("access.json");
    write_atomic(&json, "access", |w| {
        serde_json::to_writer_pretty(&mut *w, extract)?;
        w.write_all(b"\n")?;
        Ok(())
    })?;
    written.push(json);
    #[cfg(feature = "report")]
    {
        let html = dir.join("access.html");
        write_atomic(&html, "access", |w| {
            w.write_all(extract.to_html().as_bytes())?;
            Ok(())
        })?;
        written.push(html);
    }
    Ok(written)
}

/// Write a file through [`common::AtomicFile`] (a 0600 temporary file, synced, renamed).
fn write_atomic(
    path: &Path,
    prefix: &str,
    f: impl FnOnce(&mut std::io::BufWriter<std::fs::File>) -> Result<()>,
) -> Result<()> {
    let file = common::AtomicFile::create(path, prefix)?;
    let mut w = std::io::BufWriter::new(file.file()?);
    f(&mut w).with_context(|| format!("writing {}", path.display()))?;
    w.flush()
        .with_context(|| format!("writing {}", path.display()))?;
    drop(w);
    file.commit()
}

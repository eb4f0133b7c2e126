//! `art9 audit verify FILE`, and the `--audit FILE` helpers the commands that change or
//! export data share (`mask`, `erase`, `subject`; `scan` when asked).

use std::io::BufReader;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use art9::audit::{self, AuditEntry, OutputFile};
use art9::output::summary::RunInfo;
use clap::{Args, Subcommand};

use super::ExitCode;

/// `art9 audit ...`.
#[derive(Subcommand, Debug)]
pub enum AuditCommand {
    /// Check an audit log's hash chain: every line's own hash, its number (seq) and its link
    /// to the line before. Exit 0 = intact, 1 = broken (the first bad line is named), 2 = the
    /// file cannot be read.
    Verify(VerifyArgs),
}

/// `art9 audit verify`.
#[derive(Args, Debug)]
pub struct VerifyArgs {
    /// The audit log (written by --audit FILE).
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
    /// Also require the last line's hash to be this one (the head noted after an earlier
    /// verify): detects a rewritten or truncated tail.
    #[arg(long, value_name = "HASH")]
    pub head: Option<String>,
}

pub fn run(cmd: AuditCommand) -> Result<ExitCode> {
    match cmd {
        AuditCommand::Verify(a) => verify(&a),
    }
}

fn verify(a: &VerifyArgs) -> Result<ExitCode> {
    let f = std::fs::File::open(&a.file)
        .with_context(|| format!("cannot open the audit log {}", a.file.display()))?;
    let name = a.file.display();
    match audit::verify(BufReader::new(f))
        .with_context(|| format!("reading the audit log {name}"))?
    {
        Ok(v) => {
            if let Some(head) = &a.head {
                if !v.head.eq_ignore_ascii_case(head) {
                    outln!(
                        "{name}: BROKEN: the last line's hash is {}, not the expected head \
                         ({} lines): lines were removed from the end or the tail was rewritten",
                        v.head,
                        v.lines
                    );
                    return Ok(ExitCode::Found);
                }
            }
            outln!("{name}: ok, {} lines, head {}", v.lines, v.head);
            Ok(ExitCode::Clean)
        }
        Err(b) => {
            outln!("{name}: BROKEN at line {}: {}", b.line, b.message);
            Ok(ExitCode::Found)
        }
    }
}

/// Start an audit entry for `command`: the redacted command line, the lexicon and policy
/// fingerprints, the sources and the subject's pseudonym.
pub(super) fn entry(
    command: &str,
    info: &RunInfo,
    sources: Vec<String>,
    subject: Option<String>,
) -> AuditEntry {
    AuditEntry {
        argv: audit::redacted_argv(std::env::args()),
        sources,
        subject,
        lexicon_fingerprint: info.lexicon_fingerprint.clone(),
        policy: info.policy.clone(),
        policy_fingerprint: info.policy_fingerprint.clone(),
        ..AuditEntry::new(command)
    }
}

/// Add a written file with its hash.
pub(super) fn output(entry: &mut AuditEntry, path: &Path) -> Result<()> {
    entry.outputs.push(
        OutputFile::of(path)
            .with_context(|| format!("hashing {} for the audit log", path.display()))?,
    );
    Ok(())
}

/// Append the entry (with the exit code) to the log.
pub(super) fn write(path: &Path, mut entry: AuditEntry, exit: ExitCode) -> Result<()> {
    entry.exit = exit.as_i32();
    audit::append(path, &entry)?;
    Ok(())
}

/// Findings per category under the decision of the summary's outcomes: the counts of a run
/// whose records were not looked at one by one (scan's fast path, mask).
pub(super) fn counts_from_summary(
    entry: &mut AuditEntry,
    s: &art9::pipeline::Summary,
    decision: &str,
) {
    entry.records_from(s);
    for (cat, n) in &s.findings {
        if *n > 0 {
            entry.count(cat, decision, *n);
        }
    }
}

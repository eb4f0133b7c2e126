//! The run summary file: [`RunSummary`] (how each run was made, the stderr summary and
//! the tally), reading it, adding parts up.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::key::hex;
use super::*;
use crate::matcher::Scanner;
use crate::policy::CompiledPolicy;

/// Two summaries that cannot be added up.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum MergeError {
    /// The pseudonym keys differ: the same person would count twice.
    #[error(
        "the summaries pseudonymise subjects under different keys (the same person would count \
         twice); scan every part with the same policy hash_key or ART9_HASH_KEY"
    )]
    OtherKey,
    /// Only one counts subjects.
    #[error("one summary counts data subjects (--subject) and the other does not")]
    Subjects,
    /// Only one counts by month.
    #[error("one summary counts by month (a date column) and the other does not")]
    Dates,
    /// Not a summary of this schema version.
    #[error(
        "schema {schema:?} version {version} (this art9 reads {SCHEMA:?} versions 1 to {SCHEMA_VERSION})"
    )]
    Schema {
        /// The file's schema name.
        schema: String,
        /// The file's version.
        version: u32,
    },
    /// Parts of different schema versions.
    #[error(
        "the summaries have schema versions {first} and {other}: scan every part with the same \
         art9 version"
    )]
    Versions {
        /// The first part's version.
        first: u32,
        /// The other part's.
        other: u32,
    },
    /// Nothing to merge.
    #[error("no summaries to merge")]
    Empty,
}

/// How a run was made: what the report's "how these numbers were produced" shows. No
/// secrets: the source and the command line have passwords and subject ids redacted.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct RunInfo {
    /// When the scan started (UTC, RFC 3339).
    pub started: String,
    /// Wall-clock seconds the scan took.
    pub seconds: f64,
    /// The art9 version.
    pub art9_version: String,
    /// The input (a file name, or a database URL without its password).
    pub source: String,
    /// The command line, with passwords and `--subject-id` values replaced by `***`.
    pub command: Vec<String>,
    /// Lexicon entries loaded.
    pub lexicon_entries: usize,
    /// A fingerprint of the lexicons (SHA-256 of every entry's id, language, category,
    /// mode and terms; 16 hex digits): equal fingerprints, equal lexicons.
    pub lexicon_fingerprint: String,
    /// The policy's name, when one was applied.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub policy: Option<String>,
    /// A fingerprint of the policy's rules (not its key).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub policy_fingerprint: Option<String>,
    /// The subject column (`--subject`), when given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subject_column: Option<String>,
    /// The date column, when given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub date_column: Option<String>,
    /// The reference time of retention and consent rules (`--as-of`, else the run's
    /// start), RFC 3339, when the policy has such rules or `--since` was given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub as_of: Option<String>,
    /// With `--baseline`: its entries, how many this run matched, stale and did not check.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub baseline: Option<crate::review::BaselineCounts>,
    /// With `--state`: records new, changed, unchanged (not scanned) and gone since the
    /// previous run.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state: Option<crate::review::StateCounts>,
}

impl RunInfo {
    /// Lexicon and policy fingerprints and the version for a run of `scanner` (with
    /// `policy`); the caller fills in the rest.
    pub fn new(scanner: &Scanner, policy: Option<&CompiledPolicy>) -> RunInfo {
        let mut h = Sha256::new();
        for e in scanner.entries() {
            h.update(format!(
                "{}\0{}\0{}\0{:?}\0",
                e.id, e.lang, e.category, e.mode
            ));
            for t in &e.terms {
                h.update(t.as_bytes());
                h.update(b"\0");
            }
            h.update(b"\n");
        }
        RunInfo {
            art9_version: env!("CARGO_PKG_VERSION").to_string(),
            lexicon_entries: scanner.entries().len(),
            lexicon_fingerprint: hex(&h.finalize()[..8]),
            policy: policy.map(|p| p.name().to_string()),
            // The Debug form lists every rule and field override (BTreeMaps: a stable
            // order) and prints the key only as "<set>".
            policy_fingerprint: policy.map(|p| hex(&Sha256::digest(format!("{p:?}"))[..8])),
            started: utc_now(),
            ..RunInfo::default()
        }
    }
}

/// A run summary file: how the run was made, the [`Summary`] and the [`Tally`].
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RunSummary {
    /// Always [`SCHEMA`].
    pub schema: String,
    /// [`SCHEMA_VERSION`].
    pub version: u32,
    /// Whether the file holds personal data: the raw ids of the most affected subjects
    /// (`--show-subjects`). Kept equal to the tally's [`SubjectTally::holds_ids`].
    #[serde(default)]
    pub personal_data: bool,
    /// The runs added up here (one; several after [`RunSummary::merge`]).
    pub runs: Vec<RunInfo>,
    /// Records read, scanned, skipped by reason; findings per category; records per
    /// outcome (the stderr summary).
    pub summary: Summary,
    /// Counts by dimension.
    #[serde(with = "file")]
    pub tally: Tally,
    /// Each category's fideslang data-category key (`health` → `user.health`), so that
    /// tools speaking fideslang can read the counts (issue 21). Empty when read from a file
    /// of an earlier build.
    #[serde(default)]
    pub data_categories: BTreeMap<String, String>,
}

/// Category name → fideslang key, for [`RunSummary::data_categories`].
fn data_categories() -> BTreeMap<String, String> {
    Category::ALL
        .iter()
        .map(|c| (c.as_str().to_string(), c.data_category().to_string()))
        .collect()
}

impl RunSummary {
    /// The summary of one run.
    pub fn new(run: RunInfo, summary: Summary, tally: Tally) -> RunSummary {
        RunSummary {
            schema: SCHEMA.to_string(),
            version: SCHEMA_VERSION,
            personal_data: holds_ids(&tally),
            runs: vec![run],
            summary,
            tally,
            data_categories: data_categories(),
        }
    }

    /// Read a summary written by this version, or by an earlier one that it can read
    /// ([`READS_VERSIONS`]: version 1 lacks only the evasion lanes and the subject ids, so
    /// last month's summary can still be the `--previous` one).
    ///
    /// # Errors
    /// Not JSON of this schema, or another schema version ([`MergeError::Schema`]).
    pub fn from_json(text: &str) -> Result<RunSummary, String> {
        #[derive(Deserialize)]
        struct Head {
            schema: String,
            version: u32,
        }
        let head: Head = serde_json::from_str(text)
            .map_err(|e| format!("not an art9 run summary ({})", e.classify_name()))?;
        if head.schema != SCHEMA || !READS_VERSIONS.contains(&head.version) {
            return Err(MergeError::Schema {
                schema: head.schema,
                version: head.version,
            }
            .to_string());
        }
        let mut run: RunSummary = serde_json::from_str(text).map_err(|e| {
            format!(
                "run summary line {} column {}: {}",
                e.line(),
                e.column(),
                e.classify_name()
            )
        })?;
        run.personal_data = holds_ids(&run.tally);
        Ok(run)
    }

    /// Write the summary as JSON: pretty-printed, except that an array inside an array (a
    /// per-subject row) is written on one line. The same JSON as `serde_json`'s pretty
    /// printer, at about 40% of its size with many subjects (10 million rows: ~30 bytes a
    /// row instead of ~75).
    ///
    /// # Errors
    /// Writing fails.
    pub fn write_json<W: std::io::Write>(&self, w: W) -> serde_json::Result<()> {
        let mut ser =
            serde_json::Serializer::with_formatter(w, super::file::RowsOnOneLine::default());
        self.serialize(&mut ser)
    }

    /// Forget the raw subject ids (`--show-subjects`): the summary then holds no personal
    /// data.
    pub fn drop_subject_ids(&mut self) {
        if let Some(s) = self.tally.subjects_mut() {
            s.drop_ids();
        }
        self.personal_data = false;
    }

    /// Add up the summaries of partitions of one export (runs listed in order).
    ///
    /// # Errors
    /// An empty list, or parts that cannot be added up ([`MergeError`]).
    pub fn merge(parts: &[RunSummary]) -> Result<RunSummary, MergeError> {
        let (first, rest) = parts.split_first().ok_or(MergeError::Empty)?;
        let mut out = first.clone();
        for p in rest {
            // A version 1 part never counted evasion lanes: added to a version 2 part, the
            // lanes would be undercounted.
            if p.version != out.version {
                return Err(MergeError::Versions {
                    first: out.version,
                    other: p.version,
                });
            }
            out.tally.merge(&p.tally)?;
            out.summary.add(&p.summary);
            out.summary.stopped_early |= p.summary.stopped_early;
            out.runs.extend(p.runs.iter().cloned());
        }
        out.personal_data = holds_ids(&out.tally);
        Ok(out)
    }
}

/// Classifies a serde_json error without its message (which can quote a value).
trait Classify {
    fn classify_name(&self) -> &'static str;
}

impl Classify for serde_json::Error {
    fn classify_name(&self) -> &'static str {
        match self.classify() {
            serde_json::error::Category::Io => "read error",
            serde_json::error::Category::Syntax => "not valid JSON",
            serde_json::error::Category::Data => "a key is missing or has the wrong type",
            serde_json::error::Category::Eof => "the file ends early",
        }
    }
}

fn holds_ids(t: &Tally) -> bool {
    t.subjects().is_some_and(SubjectTally::holds_ids)
}

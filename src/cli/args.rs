//! Raw flags as the user typed them (clap derive). Validation happens in the commands.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

const ABOUT: &str = "Find and mask GDPR special-category data (Art. 9 health, politics, religion, \
ethnicity, sexual orientation, trade union; Art. 10 criminal) in Dutch, Danish and English CRM notes.";

const AFTER: &str = "\
EXIT CODES:
  scan, mask   0 = no findings, 1 = findings, 2 = error or skipped records
  check        0 = accept or mask, 1 = reject, 2 = error
  lexicon      0 = ok, 1 = failures, 2 = error
  A closed output pipe (art9 scan ... | head) is not an error.

PRIVACY:
  Findings, summaries and errors never contain the matched text or the entry id
  unless --include-text is given.

EXAMPLES:
  art9 scan examples/crm-notes.jsonl --field note --key id
  art9 scan notes.txt --text --format jsonl
  art9 mask examples/crm-notes.jsonl --field note --key id --policy default -o masked.jsonl
  art9 check 'Klant heeft diabetes'
  echo 'she is a devout Muslim' | art9 check - --policy strict
  art9 lexicon test";

#[derive(Parser, Debug)]
#[command(name = "art9", version, about = ABOUT, after_help = AFTER)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Scan records (JSON Lines or plain text lines) and print findings.
    #[command(after_help = AFTER)]
    Scan(ScanArgs),
    /// Write a copy of the input with findings masked per a policy.
    #[command(after_help = AFTER)]
    Mask(MaskArgs),
    /// Run one note through the policy: accept, mask or reject (JSON on stdout).
    #[command(after_help = AFTER)]
    Check(CheckArgs),
    /// Show every candidate match in a text and why it was accepted or rejected.
    ///
    /// Prints the matched words: meant for lexicon maintainers, not for production logs.
    Explain(ExplainArgs),
    /// Lexicon maintainer tools: test, lint, stats, export.
    #[command(subcommand)]
    Lexicon(LexiconCommand),
    /// Score the scanner on a labelled corpus (same numbers as shared/eval/evaluate.py).
    Eval(EvalArgs),
}

#[derive(Args, Debug)]
pub struct EvalArgs {
    /// Labelled corpus (JSON Lines: id, lang, text, spans), or - for standard input.
    #[arg(value_name = "CORPUS.jsonl")]
    pub corpus: String,
    /// Score this findings file (art9 scan --format jsonl output) instead of scanning.
    #[arg(long, value_name = "FILE")]
    pub findings: Option<String>,
    #[command(flatten)]
    pub lexicons: LexiconArgs,
    /// Print the report as JSON (the keys of evaluate.py --json, plus id lists).
    #[arg(long)]
    pub json: bool,
    /// Also print the text of false positives and negatives (they hold sensitive data).
    #[arg(long)]
    pub show_text: bool,
}

/// Which lexicons to load.
#[derive(Args, Debug, Clone, Default)]
pub struct LexiconArgs {
    /// Add lexicons from a directory (all *.yaml below it) or one file; a file for the same
    /// language and category replaces the built-in one. Repeatable.
    #[arg(long = "lexicon", value_name = "DIR|FILE")]
    pub lexicon: Vec<PathBuf>,
    /// Do not load the built-in lexicons (use only --lexicon).
    #[arg(long)]
    pub no_builtin: bool,
    /// Scan with a flat term list instead of the lexicons: a TSV file with the header
    /// `term<TAB>lang<TAB>category` (lang may list several: da,en,nl), the format of
    /// `art9 lexicon export`. Every term is a case-insensitive whole word.
    #[arg(long, value_name = "FILE.tsv", conflicts_with = "lexicon")]
    pub terms: Option<PathBuf>,
    /// Restrict to these lexicon languages (nl, da, en; comma-separated or repeated).
    #[arg(long, value_delimiter = ',', value_name = "LANG")]
    pub lang: Vec<String>,
    /// Restrict to these categories (health, politics, religion, ethnicity,
    /// sexual_orientation, trade_union, criminal; comma-separated or repeated).
    #[arg(long, value_delimiter = ',', value_name = "CATEGORY")]
    pub category: Vec<String>,
}

/// Where records come from.
#[derive(Args, Debug, Clone)]
pub struct InputArgs {
    /// Input file, or - for standard input.
    #[arg(value_name = "PATH|-", default_value = "-")]
    pub input: String,
    /// Treat the input as plain text: every line is one record (field "text", key = line
    /// number).
    #[arg(long)]
    pub text: bool,
    /// JSON field to scan (dotted path for nested objects). Repeatable. Default: every
    /// top-level string field except the key.
    #[arg(long, value_name = "NAME")]
    pub field: Vec<String>,
    /// JSON field holding the record id (repeat for a compound key, joined with ':').
    /// Default: the line number.
    #[arg(long, value_name = "NAME")]
    pub key: Vec<String>,
    /// Records (lines) longer than this are skipped and reported.
    #[arg(long, value_name = "BYTES", default_value_t = art9::input::DEFAULT_MAX_RECORD_BYTES)]
    pub max_record_bytes: usize,
    /// Worker threads (default: one per core).
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub threads: usize,
    /// Records per batch handed to the workers.
    #[arg(long, value_name = "N", default_value_t = 1024, hide = true)]
    pub batch_records: usize,
}

#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum)]
pub enum FormatArg {
    Table,
    Jsonl,
    Json,
    Csv,
}

#[derive(Args, Debug)]
pub struct ScanArgs {
    #[command(flatten)]
    pub input: InputArgs,
    #[command(flatten)]
    pub lexicons: LexiconArgs,
    /// Output format (default: table on a terminal, jsonl otherwise).
    #[arg(long, value_enum)]
    pub format: Option<FormatArg>,
    /// Add the matched text and the entry id to each finding. Off by default: findings are
    /// themselves special-category data.
    #[arg(long)]
    pub include_text: bool,
    /// Apply a policy (built-in name or YAML file) and add its action to each finding.
    #[arg(long, value_name = "NAME|FILE")]
    pub policy: Option<String>,
    /// Do not print the summary on stderr.
    #[arg(long, short = 'q')]
    pub quiet: bool,
}

#[derive(Args, Debug)]
pub struct MaskArgs {
    #[command(flatten)]
    pub input: InputArgs,
    #[command(flatten)]
    pub lexicons: LexiconArgs,
    /// Policy: built-in name (default, strict, report) or a YAML file.
    #[arg(long, value_name = "NAME|FILE", default_value = "default")]
    pub policy: String,
    /// Output file (written to a temporary file, then renamed), or - for standard output.
    /// Never the input file.
    #[arg(long, short = 'o', value_name = "OUT|-")]
    pub output: String,
    /// Do not print the summary on stderr.
    #[arg(long, short = 'q')]
    pub quiet: bool,
}

#[derive(Args, Debug)]
pub struct CheckArgs {
    /// The note, or - to read it from standard input.
    #[arg(value_name = "TEXT|-")]
    pub text: String,
    #[command(flatten)]
    pub lexicons: LexiconArgs,
    /// Policy: built-in name (default, strict, report) or a YAML file.
    #[arg(long, value_name = "NAME|FILE", default_value = "default")]
    pub policy: String,
    /// Field name, for the policy's per-field rules.
    #[arg(long, value_name = "NAME")]
    pub field: Option<String>,
    /// Add the matched text and entry id to each finding.
    #[arg(long)]
    pub include_text: bool,
}

#[derive(Args, Debug)]
pub struct ExplainArgs {
    /// The text, or - to read it from standard input.
    #[arg(value_name = "TEXT|-")]
    pub text: String,
    #[command(flatten)]
    pub lexicons: LexiconArgs,
    /// Output JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

#[derive(Subcommand, Debug)]
pub enum LexiconCommand {
    /// Run every entry's examples and counterexamples (and the behavioural suite).
    Test(LexiconTestArgs),
    /// Check lexicons: schema, duplicate ids and terms, risky short terms, examples.
    Lint(LexiconTestArgs),
    /// Entries and terms per language × category × match mode.
    Stats(LexiconStatsArgs),
    /// Export a flat term list (term, lang, category).
    Export(LexiconExportArgs),
}

#[derive(Args, Debug)]
pub struct LexiconTestArgs {
    /// Lexicon directory to test instead of the built-in lexicons.
    #[arg(value_name = "DIR")]
    pub dir: Option<PathBuf>,
    /// Behavioural suite directory (tests/data/*.yaml); default tests/data when present.
    #[arg(long, value_name = "DIR")]
    pub suite: Option<PathBuf>,
    /// Only run cases/entries whose name or id contains this.
    #[arg(long, value_name = "TEXT")]
    pub filter: Option<String>,
}

#[derive(Args, Debug)]
pub struct LexiconStatsArgs {
    #[command(flatten)]
    pub lexicons: LexiconArgs,
    /// Output JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum)]
pub enum ExportFormat {
    Tsv,
}

#[derive(Args, Debug)]
pub struct LexiconExportArgs {
    #[command(flatten)]
    pub lexicons: LexiconArgs,
    /// Export format.
    #[arg(long, value_enum, default_value = "tsv")]
    pub format: ExportFormat,
}

//! Raw flags as the user typed them (clap derive). Validation happens in the commands.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

const ABOUT: &str = "Find and mask GDPR special-category data (Art. 9 health, politics, religion, \
ethnicity, sexual orientation, trade union; Art. 10 criminal) in Dutch, Danish and English CRM notes.";

const AFTER: &str = "\
EXIT CODES:
  scan, mask   0 = no findings, 1 = findings, 2 = error, skipped records, stopped by
               Ctrl-C (output so far is flushed and valid; the summary says where it stopped),
               or rows mask --update left alone because they changed since they were read
  check        0 = accept or mask, 1 = reject, 2 = error
  subject      0 = access extract written, 2 = error or unreadable records
  erase        --plan: 0 = nothing to erase, 1 = something to erase, 2 = error;
               --apply: 0 = erased and rescanned clean, 2 = error, conflicts (rows changed
               since they were read, left alone) or findings left
  audit verify 0 = intact, 1 = broken (the line is named), 2 = cannot read
  lexicon      0 = ok, 1 = failures, 2 = error
  A closed output pipe (art9 scan ... | head) is not an error.

PRIVACY:
  Findings, summaries, erasure plans, audit logs and errors never contain the matched text
  or the entry id unless --include-text is given. The access extract (art9 subject
  --access) is the one output that holds note text, by design.

EXAMPLES:
  art9 scan examples/crm-notes.jsonl --field note --key id
  art9 scan examples/crm-notes.csv --field note --key id --subject customer_id --subjects-out s.csv
  art9 scan export.csv --encoding windows-1252 --field 'Note*' --strip-html
  art9 scan export.csv --field note --subject customer_id --summary-out run.json --report r.html
  art9 report run.json --previous last-month.json -o report.html
  art9 mask examples/crm-notes.csv --field note --key id -o masked.csv
  art9 mask export.jsonl.gz --field note --key id -o masked.jsonl.gz
  art9 scan notes.txt --text --format jsonl
  art9 mask examples/crm-notes.jsonl --field note --key id --policy default -o masked.jsonl
  art9 scan sqlite:crm.db --table notes --field body --key id
  art9 scan postgres://art9@db.example/crm --table notes --field body --key id
  art9 mask mysql://root@127.0.0.1/crm --table notes --field body --key id --into notes_masked
  art9 subject notes.csv sqlite:crm.db --table notes --field note --key id --subject customer_id --id C2002 --access -o C2002
  art9 erase notes.csv --field note --key id --subject customer_id --id C2002 --plan
  art9 erase notes.csv --field note --key id --subject customer_id --id C2002 --apply --in-place --audit audit.jsonl
  art9 audit verify audit.jsonl
  art9 check 'Klant heeft diabetes'
  echo 'she is a devout Muslim' | art9 check - --policy strict
  art9 lexicon test
  art9 serve --addr 127.0.0.1:8009 --token-file /etc/art9/token
  printf '{\"id\":1,\"text\":\"Klant heeft diabetes\"}\\n' | art9 check --stdio";

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
    /// Run one note through the policy: accept, mask or reject (JSON on stdout); with
    /// --stdio, a co-process answering one JSON request per line.
    #[command(after_help = CHECK_AFTER)]
    Check(CheckArgs),
    /// Show every candidate match in a text and why it was accepted or rejected.
    ///
    /// Prints the matched words: meant for lexicon maintainers, not for production logs.
    Explain(ExplainArgs),
    /// Lexicon maintainer tools: test, lint, stats, export.
    #[command(subcommand)]
    Lexicon(LexiconCommand),
    /// Write the HTML report of run summaries (scan --summary-out): one self-contained file
    /// to read, print and compare month to month (--previous).
    #[cfg(feature = "report")]
    Report(ReportArgs),
    /// Score the scanner on a labelled corpus (same numbers as shared/eval/evaluate.py).
    Eval(EvalArgs),
    /// Keep the review baseline (scan/mask --baseline): add reviewed findings, prune stale
    /// entries.
    #[command(subcommand)]
    Baseline(super::baseline::BaselineCommand),
    /// A data subject's access extract (GDPR Art. 15) across files and databases: every
    /// record with special-category findings, WITH its text, as JSON and HTML (--access -o
    /// DIR).
    Subject(super::subject::SubjectArgs),
    /// Erase a data subject's special-category data across files and databases per the
    /// policy's erasure rules (mask, null, delete): --plan shows it, --apply does it.
    Erase(super::erase::EraseArgs),
    /// The audit log (--audit FILE): `art9 audit verify FILE` checks its hash chain.
    #[command(subcommand)]
    Audit(super::audit::AuditCommand),
    /// Run the pre-save check as an HTTP service (POST /v1/check, /v1/scan, /v1/mask,
    /// /v1/batch; GET /healthz, /readyz, /metrics, /openapi.json). See the README.
    #[cfg(feature = "serve")]
    #[command(after_help = SERVE_AFTER)]
    Serve(ServeArgs),
    /// The HTTP service: not in this build (cargo feature `serve`; see the README).
    #[cfg(not(feature = "serve"))]
    Serve {
        /// Whatever was given (not read).
        #[arg(trailing_var_arg = true, allow_hyphen_values = true, hide = true)]
        args: Vec<String>,
    },
}

#[derive(Args, Debug)]
pub struct EvalArgs {
    /// Labelled corpus (JSON Lines: id, lang, text, spans), or - for standard input.
    #[arg(value_name = "CORPUS.jsonl")]
    pub corpus: String,
    /// Score this findings file (art9 scan --format jsonl output) instead of scanning.
    #[arg(long, value_name = "FILE")]
    pub findings: Option<String>,
    /// Print the report as JSON (the keys of evaluate.py --json, plus id lists).
    #[arg(long)]
    pub json: bool,
    /// Also print the text of false positives and negatives (they hold sensitive data).
    #[arg(long)]
    pub show_text: bool,
    /// Score findings at or above this likelihood (default `possible`, the default
    /// policy's); the table of every threshold is printed as well.
    #[arg(long, value_name = "LEVEL|all", value_parser = parse_min_likelihood)]
    pub min_likelihood: Option<art9::Likelihood>,
    #[command(flatten)]
    pub lexicons: LexiconArgs,
}

/// Which lexicons to load.
#[derive(Args, Debug, Clone, Default)]
#[command(next_help_heading = "Lexicons")]
pub struct LexiconArgs {
    /// Add lexicons from a directory (all *.yaml below it) or one file: a file's entries are
    /// added to the lexicon of its language and category (an entry id used there already is
    /// an error); a file with `replace: true` at the top replaces that lexicon instead (said
    /// on stderr). Repeatable.
    #[arg(long = "lexicon", value_name = "DIR|FILE")]
    pub lexicon: Vec<PathBuf>,
    /// Every --lexicon file replaces the lexicon of its language and category, as if it said
    /// `replace: true` (e.g. an edited copy of the built-in lexicons: --lexicon lexicons).
    #[arg(long, requires = "lexicon")]
    pub replace_lexicons: bool,
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
    /// Also find terms with one typing error (two in terms of ten or more letters; first
    /// letter exact, whole words only, never an ordinary nl/en dictionary word); such
    /// findings carry "evasion": "typo".
    #[arg(long)]
    pub typos: bool,
    /// A word list (one word a line) whose words --typos never takes for typos, besides the
    /// built-in nl/en guard (e.g. /usr/share/dict/danish). Repeatable.
    #[arg(long, value_name = "FILE", requires = "typos")]
    pub typo_word_list: Vec<PathBuf>,
}

/// Input file formats.
#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum)]
pub enum InFormatArg {
    /// Comma- (or ;, |, tab-) separated values with a header row.
    Csv,
    /// Tab-separated values (CSV with a tab delimiter).
    Tsv,
    /// JSON Lines: one JSON object a line.
    Jsonl,
    /// One JSON array of objects (or an object holding one, e.g. {"records": [...]}).
    Json,
    /// Plain text: every line is one record.
    Text,
    /// Apache Parquet (a file; builds with the `parquet` feature): every row is one record.
    Parquet,
}

/// Where records come from.
#[derive(Args, Debug, Clone)]
#[command(next_help_heading = "Input")]
pub struct InputArgs {
    /// Input file, or - for standard input (the default). gzip and zstd are read
    /// decompressed (found by their first bytes); a Parquet file is read by its columns
    /// (builds with the `parquet` feature); another binary file (XLSX, ZIP, PDF, SQLite, an
    /// executable, ...) is one error saying what to do instead.
    #[arg(value_name = "PATH|-", default_value = "-")]
    pub input: String,
    /// Input format. Default: from the file extension (.csv, .tsv, .jsonl/.ndjson, .json,
    /// .txt, .parquet/.parq/.pq; under .gz/.zst: notes.csv.gz is csv), or parquet for a file
    /// starting with PAR1; standard input and other extensions are read as jsonl.
    #[arg(long, value_enum, value_name = "FORMAT")]
    pub format_in: Option<InFormatArg>,
    /// Treat the input as plain text: every line is one record (field "text", key = line
    /// number). Same as --format-in text.
    #[arg(long)]
    pub text: bool,
    /// Field (JSON; dotted path for nested objects) or column (CSV: header name, or 1-based
    /// number) to scan. Repeatable. Globs select every matching top-level field or column:
    /// --field 'note*'. Default: every text field or column except the key and subject.
    #[arg(long, value_name = "NAME")]
    pub field: Vec<String>,
    /// Field or column holding the record id (repeat for a compound key, joined with ':').
    /// Default: the line number where the record starts.
    #[arg(long, value_name = "NAME")]
    pub key: Vec<String>,
    /// Field or column naming the data subject the record is about (e.g. customer_id, or
    /// Salesforce WhoId): enables the per-subject roll-up (--subjects-out) and --subject-id.
    #[arg(long, value_name = "NAME")]
    pub subject: Option<String>,
    /// Scan only the records of this subject (needs --subject). The others are counted as
    /// "filtered", not as skipped: records read = scanned + skipped + filtered. `mask` copies
    /// them unchanged.
    #[arg(long, value_name = "ID", requires = "subject")]
    pub subject_id: Option<String>,
    /// Field or column carried with each record for the policy's `when` rules (e.g. a
    /// consent flag). Repeatable. The columns a --policy file's rules name are read without
    /// it. Like --key and --subject, it is not scanned unless also given as --field.
    #[arg(long, value_name = "NAME")]
    pub context: Vec<String>,
    /// CSV delimiter: , ; | or tab (also \t). Default: sniffed from the header line.
    #[arg(long, value_name = "CHAR")]
    pub delimiter: Option<String>,
    /// CSV without a header row: columns are named by 1-based number (--field 3).
    #[arg(long)]
    pub no_header: bool,
    /// Input encoding: utf-8 (default), windows-1252, latin1 (= windows-1252), utf-16le,
    /// utf-16be, or any WHATWG label. A byte-order mark (UTF-8, UTF-16) is always detected
    /// and wins. Without it, a record with invalid UTF-8 is skipped with its line. `mask`
    /// writes its copy in the same encoding (and BOM).
    #[arg(long, value_name = "LABEL")]
    pub encoding: Option<String>,
    /// Strip HTML tags and decode entities (&eacute; &amp; &#233; &nbsp;) before scanning, for
    /// e-mail-bodied notes. Offsets still point into the original value; `mask` masks the
    /// original markup.
    #[arg(long)]
    pub strip_html: bool,
    /// Records (lines, CSV rows, JSON array elements; for a database the row's key, subject
    /// and field columns together) longer than this are skipped and reported, never
    /// truncated. 0 = no limit.
    #[arg(long, value_name = "BYTES", default_value_t = art9::input::DEFAULT_MAX_RECORD_BYTES)]
    pub max_record_bytes: usize,
    /// A record with a field (its text, after decoding) longer than this is skipped and
    /// reported with its key, field name and size, never truncated. 0 = no limit.
    #[arg(long, value_name = "BYTES", default_value_t = art9::input::DEFAULT_MAX_FIELD_BYTES)]
    pub max_field_bytes: usize,
    /// Report and act on findings at or above this likelihood only (very_unlikely, unlikely,
    /// possible, likely, very_likely), or `all` to see every finding with its likelihood.
    /// Default: the policy's `min_likelihood` per category, else `possible`.
    #[arg(long, value_name = "LEVEL|all", value_parser = parse_min_likelihood)]
    pub min_likelihood: Option<art9::Likelihood>,
    /// Worker threads (default: one per core).
    #[arg(long, value_name = "N", default_value_t = 0, hide_default_value = true)]
    pub threads: usize,
    /// Input lines (records) per batch handed to the workers, about: a batch takes whole runs
    /// of lines, so it may hold up to twice this many.
    #[arg(long, value_name = "N", default_value_t = 1024, hide = true)]
    pub batch_records: usize,
    #[command(flatten)]
    pub db: DbInputArgs,
}

/// Database input (the input is `sqlite:FILE`, `postgres://...`, `mysql://...`, or `env:`).
#[derive(Args, Debug, Clone, Default)]
#[command(next_help_heading = "Database input")]
pub struct DbInputArgs {
    /// Database table to read (with a database input: sqlite:FILE, postgres://USER@HOST/DB,
    /// mysql://USER@HOST/DB, or env: / no input to use $ART9_DATABASE_URL). --field names the
    /// text column(s), --key the key column(s).
    #[arg(long, value_name = "TABLE")]
    pub table: Option<String>,
    /// SQL query to read instead of a table (scan only); --field and --key name its columns.
    #[arg(long, value_name = "SQL", conflicts_with = "table")]
    pub query: Option<String>,
    /// Do not count the rows before reading (SELECT count(*), run only when the progress bar
    /// is shown on a terminal); the bar then has no total or ETA.
    #[arg(long)]
    pub no_count: bool,
}

/// How `mask` writes back to a database.
#[derive(Args, Debug, Clone, Default)]
#[command(next_help_heading = "Database masking")]
pub struct DbMaskArgs {
    /// Write every row, masked, into this new table (same column types as --table). Rows go
    /// to a staging table first; it is renamed only after the row count is verified.
    #[arg(long, value_name = "TABLE", conflicts_with = "update")]
    pub into: Option<String>,
    /// With --into: drop and replace an existing table of that name.
    #[arg(long, requires = "into")]
    pub replace: bool,
    /// Mask the source table in place (needs --key; one transaction per batch). A row is
    /// written only while its masked fields still hold the text that was read; a row changed
    /// meanwhile (by the CRM, a user) is left alone and reported as a conflict (exit code 2;
    /// a rerun masks it).
    #[arg(long)]
    pub update: bool,
    /// With --update: write the conflicts (rows changed since they were read, not masked) to
    /// FILE as JSON Lines, {"key": ..., "fields": [...]} per row; never text.
    #[arg(long, value_name = "FILE", requires = "update")]
    pub conflicts_out: Option<PathBuf>,
    /// Write the run's summary as one JSON object to FILE: the scan counts ("summary") and
    /// what was written ("write": mode, rows written or updated, conflicts and their keys).
    #[arg(long, value_name = "FILE")]
    pub summary_json: Option<PathBuf>,
    /// Print which key/field would change (never the text); write nothing.
    #[arg(long)]
    pub dry_run: bool,
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
    #[arg(help_heading = "Output", long, value_enum)]
    pub format: Option<FormatArg>,
    /// Add the matched text and the entry id to each finding. Off by default: findings are
    /// themselves special-category data.
    #[arg(help_heading = "Output", long)]
    pub include_text: bool,
    /// Apply a policy (built-in name or YAML file) and add its action to each finding.
    #[arg(help_heading = "Output", long, value_name = "NAME|FILE")]
    pub policy: Option<String>,
    /// Write the per-subject roll-up (categories, finding counts, record keys, fields of
    /// every subject with findings) to FILE: CSV when the name ends in .csv, else JSON Lines.
    /// Needs --subject.
    #[arg(
        help_heading = "Output",
        long,
        value_name = "FILE",
        requires = "subject"
    )]
    pub subjects_out: Option<PathBuf>,
    /// Write the run summary to FILE (JSON, schema art9-run-summary, see SCHEMAS.md): counts
    /// by category, field, language and policy action, skipped records by reason, and with
    /// --subject the people as keyed pseudonyms. No note text, entry ids or record keys.
    /// `art9 report` turns it into HTML and compares it with an earlier one.
    #[arg(help_heading = "Output", long, value_name = "FILE")]
    pub summary_out: Option<PathBuf>,
    /// Write the HTML report of this run to FILE (as `art9 report` does from a summary).
    #[arg(help_heading = "Output", long, value_name = "FILE")]
    pub report: Option<PathBuf>,
    /// Append one line about this run to the audit log FILE (hash-chained JSON Lines; see
    /// README "Audit log"): counts, fingerprints, the command line without secrets.
    #[arg(help_heading = "Output", long, value_name = "FILE")]
    pub audit: Option<PathBuf>,
    #[command(flatten)]
    pub gdpr: super::gdpr::GdprArgs,
    /// Do not print the summary (or the progress bar) on stderr.
    #[arg(help_heading = "Output", long, short = 'q')]
    pub quiet: bool,
    #[command(flatten)]
    pub review: super::review::ReviewArgs,
    #[command(flatten)]
    pub state: super::review::StateArgs,
}

#[derive(Args, Debug)]
pub struct ReportArgs {
    /// Run summaries written by `art9 scan --summary-out`; several (parts of one export,
    /// scanned under the same key) are added up into one report.
    #[arg(required = true, value_name = "RUN.json")]
    pub summaries: Vec<PathBuf>,
    /// An earlier run summary to compare with (last month's).
    #[arg(long, value_name = "OLD.json")]
    pub previous: Option<PathBuf>,
    /// The HTML file to write.
    #[arg(long, short = 'o', value_name = "FILE")]
    pub output: PathBuf,
    /// Also write the added-up summary to FILE (with several RUN.json).
    #[arg(long, value_name = "FILE")]
    pub summary_out: Option<PathBuf>,
    /// Counts of people below K are shown as "< K".
    #[arg(long, value_name = "K", default_value_t = 5, value_parser = clap::value_parser!(u64).range(1..))]
    pub min_count: u64,
    /// With a date column: notes this many months old or older are flagged for retention
    /// review.
    #[arg(long, value_name = "MONTHS", default_value_t = 24)]
    pub retention_months: u32,
}

#[derive(Args, Debug)]
pub struct MaskArgs {
    #[command(flatten)]
    pub input: InputArgs,
    #[command(flatten)]
    pub lexicons: LexiconArgs,
    /// Policy: built-in name (default, strict, report) or a YAML file.
    #[arg(
        help_heading = "Output",
        long,
        value_name = "NAME|FILE",
        default_value = "default"
    )]
    pub policy: String,
    /// Output file (written to a temporary file, synced, then renamed), or - for standard
    /// output. Never the input file. Same format, encoding, BOM, delimiter and per-field
    /// quoting as the input; only masked fields change. Compressed as the name says (.gz,
    /// .zst), else as the input was. (Databases: --into or --update instead.)
    #[arg(help_heading = "Output", long, short = 'o', value_name = "OUT|-")]
    pub output: Option<String>,
    #[command(flatten)]
    pub db: DbMaskArgs,
    /// Append one line about this run to the audit log FILE (hash-chained JSON Lines; see
    /// README "Audit log"): counts per category and action, the masked copy's SHA-256.
    #[arg(help_heading = "Output", long, value_name = "FILE")]
    pub audit: Option<PathBuf>,
    #[command(flatten)]
    pub gdpr: super::gdpr::GdprArgs,
    /// Do not print the summary (or the progress bar) on stderr.
    #[arg(help_heading = "Output", long, short = 'q')]
    pub quiet: bool,
    #[command(flatten)]
    pub review: super::review::ReviewArgs,
}

/// `--min-likelihood`: a grade, or `all` (the lowest grade).
pub fn parse_min_likelihood(s: &str) -> Result<art9::Likelihood, String> {
    if s == "all" {
        return Ok(art9::Likelihood::VeryUnlikely);
    }
    s.parse()
}

#[derive(Args, Debug)]
pub struct CheckArgs {
    /// The note, or - to read it from standard input.
    #[arg(value_name = "TEXT|-", required_unless_present = "stdio")]
    pub text: Option<String>,
    /// Co-process mode: read one JSON request per line on stdin ({"text": ...} or
    /// {"fields": {...}}, optional "id", "policy", "lang", "include_text",
    /// "min_likelihood"), write one JSON answer per line on stdout, in order, flushed; exit 0
    /// at end of input.
    #[arg(long, conflicts_with_all = ["text", "field", "include_text"])]
    pub stdio: bool,
    /// Policy: built-in name (default, strict, report) or a YAML file.
    #[arg(long, value_name = "NAME|FILE", default_value = "default")]
    pub policy: String,
    /// Field name, for the policy's per-field rules.
    #[arg(long, value_name = "NAME")]
    pub field: Option<String>,
    /// Act on findings at or above this likelihood only, or `all`; default: the policy's
    /// `min_likelihood`.
    #[arg(long, value_name = "LEVEL|all", value_parser = parse_min_likelihood)]
    pub min_likelihood: Option<art9::Likelihood>,
    /// Add the matched text and entry id to each finding.
    #[arg(long)]
    pub include_text: bool,
    #[command(flatten)]
    pub lexicons: LexiconArgs,
}

#[derive(Args, Debug)]
pub struct ExplainArgs {
    /// The text, or - to read it from standard input.
    #[arg(value_name = "TEXT|-")]
    pub text: String,
    /// Output JSON instead of text.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub lexicons: LexiconArgs,
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
    /// Output JSON instead of a table.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub lexicons: LexiconArgs,
}

#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum)]
pub enum ExportFormat {
    Tsv,
}

#[derive(Args, Debug)]
pub struct LexiconExportArgs {
    /// Export format.
    #[arg(long, value_enum, default_value = "tsv")]
    pub format: ExportFormat,
    #[command(flatten)]
    pub lexicons: LexiconArgs,
}

const CHECK_AFTER: &str = "\
CO-PROCESS (--stdio):
  One request per line in, one answer per line out, same order, each line flushed:
    {\"id\": 1, \"text\": \"Klant heeft diabetes\"}
    -> {\"id\":1,\"decision\":\"mask\",\"policy\":\"default\",\"findings\":[...],\"text\":\"Klant heeft [HEALTH]\"}
    {\"fields\": {\"notes\": \"...\", \"summary\": \"...\"}, \"policy\": \"strict\"}
  A line that is not a valid request gets {\"id\":..,\"error\":{\"code\",\"message\"}} and the
  stream goes on; blank lines are skipped. --policy sets the default policy; built-in policies
  can be named per request. Exit code 0 at end of input, 2 if stdin/stdout fail.

EXIT CODES (without --stdio): 0 = accept or mask, 1 = reject, 2 = error

PRIVACY:
  Findings and errors never contain the matched text or the entry id unless --include-text
  (or \"include_text\": true in a --stdio request) is given.

EXAMPLES:
  art9 check 'Klant heeft diabetes'
  echo 'she is a devout Muslim' | art9 check - --policy strict
  printf '{\"id\":1,\"text\":\"Klant heeft diabetes\"}\\n' | art9 check --stdio";

#[cfg(feature = "serve")]
const SERVE_AFTER: &str = "\
The first line on stdout is `art9 serve: listening on http://ADDR` (useful with port 0).
Logs (one line per request: method, route, status, latency, categories; never note text)
go to stderr.

SIGNALS:
  SIGTERM, SIGINT  stop accepting, finish the requests in flight, exit 0
  SIGHUP           reload lexicons and policies (as POST /admin/reload); a bad lexicon is
                   rejected and the loaded one stays

LIMITS AND ERRORS:
  body > --max-body: 413; not application/json: 415; malformed JSON or invalid request: 400;
  missing/wrong token: 401; more than --concurrency in flight or over --timeout-ms: 503 with
  Retry-After. Error bodies are {\"error\": {\"code\", \"message\"}} and never quote the note.

EXAMPLES:
  art9 serve
  art9 serve --addr 0.0.0.0:8009 --token-file /etc/art9/token --log-format json
  curl -s localhost:8009/v1/check -H 'content-type: application/json' \\
       -d '{\"fields\": {\"notes\": \"Klant heeft diabetes\"}}'
  kill -HUP $(pidof art9)";

#[cfg(feature = "serve")]
#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

#[cfg(feature = "serve")]
#[derive(Args, Debug)]
pub struct ServeArgs {
    /// Address to listen on: IP:PORT or HOST:PORT (port 0: any free port). An address beyond
    /// loopback needs --token-file (or --allow-unauthenticated-network).
    #[arg(long, value_name = "HOST:PORT", default_value = "127.0.0.1:8009")]
    pub addr: String,
    /// Listen beyond loopback without --token-file: anyone who reaches the port can have notes
    /// checked and masked, and read the findings. Without this flag such an --addr is refused.
    #[arg(long)]
    pub allow_unauthenticated_network: bool,
    /// Serve HTTPS with this certificate chain (PEM; needs --tls-key). Reloaded on SIGHUP and
    /// /admin/reload; a certificate that fails to load keeps the old one in service.
    #[arg(long, value_name = "FILE", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// The private key of --tls-cert (PEM: PKCS#8, PKCS#1 or SEC1).
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// Policies to preload (built-in name or YAML file; repeatable). The first is the default
    /// for requests that name none; built-in policies are always available by name.
    #[arg(long, value_name = "NAME|FILE", default_value = "default")]
    pub policy: Vec<String>,
    /// File holding the bearer token clients must send (Authorization: Bearer ...) on /v1/*
    /// and /admin/*. Without it there is no authentication and /admin/reload is taken from
    /// loopback only.
    #[arg(long, value_name = "FILE")]
    pub token_file: Option<PathBuf>,
    /// Largest request body in bytes.
    #[arg(long, value_name = "BYTES", default_value_t = 1024 * 1024)]
    pub max_body: usize,
    /// Most fields in one request.
    #[arg(long, value_name = "N", default_value_t = 64)]
    pub max_fields: usize,
    /// Most items in one /v1/batch request.
    #[arg(long, value_name = "N", default_value_t = 100)]
    pub max_batch: usize,
    /// Time limit per request, in milliseconds (reading the body included).
    #[arg(long, value_name = "MS", default_value_t = 10_000)]
    pub timeout_ms: u64,
    /// A request's headers must arrive within this many milliseconds of the connection opening
    /// (or of the previous answer on a kept-alive connection); otherwise the connection is
    /// closed. Also how long an idle kept-alive connection stays open.
    #[arg(long, value_name = "MS", default_value_t = 10_000)]
    pub header_timeout_ms: u64,
    /// A request's body must arrive whole within this many milliseconds of its headers;
    /// otherwise 408 and the connection is closed.
    #[arg(long, value_name = "MS", default_value_t = 5_000)]
    pub body_timeout_ms: u64,
    /// Requests handled at once on /v1/* and /admin/*; more get 503 + Retry-After.
    #[arg(long, value_name = "N", default_value_t = 64)]
    pub concurrency: usize,
    /// Worker threads (default: one per core).
    #[arg(long, value_name = "N", default_value_t = 0, hide_default_value = true)]
    pub threads: usize,
    /// Log format on stderr.
    #[arg(long, value_enum, default_value = "text")]
    pub log_format: LogFormat,
    /// Log level: error, warn, info (one line per request), debug.
    #[arg(long, value_name = "LEVEL", default_value = "info")]
    pub log_level: String,
    #[command(flatten)]
    pub lexicons: LexiconArgs,
}

//! art9 finds and masks GDPR special-category data — Art. 9 health, political opinion,
//! religion, ethnic origin, sexual orientation, trade-union membership, and Art. 10 criminal
//! offences — in the free-text fields of CRM systems, in Dutch, Danish and English.
//!
//! # The API
//! * **Scanning**: [`Scanner`] (built by [`ScannerBuilder`], or [`Scanner::builtin`]) runs one
//!   Aho-Corasick automaton over every normalised lexicon term, checks match modes, word
//!   boundaries, case, exclusions and context, and returns non-overlapping [`Finding`]s whose
//!   byte and char offsets point into the ORIGINAL text; [`normalize()`] is the one normaliser
//!   of terms and notes. Lexicons: [`LexiconSet`] and the file model in [`lexicon`].
//! * **Policies**: [`CompiledPolicy`] decides per finding (`allow`, `flag`, `mask`, `reject`)
//!   with a [`RecordContext`] (field, key, subject and the record's [`Context`] values for
//!   `when` rules), and [`mask()`] applies the [`Decision`], changing only bytes inside
//!   findings. The YAML model is in [`policy`].
//! * **The request → response engine**: [`service::Engine`] answers check/scan/mask requests
//!   in one JSON model (one finding type, [`output::FindingOut`]), loaded from a
//!   [`service::EngineSource`] (lexicons, term list, languages, categories, policies); `art9
//!   check`, `check --stdio` and, with the `serve` feature, the HTTP service ([`serve`]) all
//!   go through it.
//! * **Batch runs**: a [`source::SourceSpec`] (a path, `-`, or a database connection string,
//!   with fields, key, subject, context and format options) opens a record source
//!   ([`input::RecordSource`] of [`Record`]s); [`pipeline::run`] scans it in parallel batches
//!   in input order with bounded memory; the writers are in [`output`]: findings
//!   ([`output::Printer`]), masked file copies ([`output::masked::MaskedCopy`]), database
//!   write-back ([`output::db::open_writer`]) and per-subject roll-ups ([`subjects`]).
//! * **Data subjects' requests** (GDPR Art. 15, 17): the access extract
//!   ([`output::access::AccessExtract`], the one output with note text), the erasure plan of a
//!   record ([`erase::plan_record`], written with [`output::db::DbWriter::erase`] or
//!   [`output::masked::MaskedCopy::write_replaced`]), and the hash-chained audit log
//!   ([`audit::append`], [`audit::verify`]).
//!
//! Findings never carry the matched text: slice the original when you must show it.
//!
//! The modules `eval`, `suite`, `matcher` and `normalize` are public for the `art9` binary and
//! the tests (corpus scoring, lexicon test suites, scanner internals), hidden from these docs
//! and not a stable API; their public types are re-exported above.
//!
//! # Features
//! * `cli` (default): the `art9` binary (clap, anyhow).
//! * `serve`: `art9 serve` and the `serve` module (axum, tokio, tracing, arc-swap, subtle).
//! * `sqlite` (default), `postgres`, `mysql`: database sources and write-back.
//! * `compress` (default): gzip and zstd input and masked copies.
//! * `report` (default): `art9 report`, the HTML report (maud).
//! * `mimalloc` (default): the binary's allocator.
//! * `full`: all of them (what CI tests).
//!
//! With `default-features = false` the library needs none of them: no argument parser, no
//! async runtime, no HTTP, no database driver.
//!
//! # Example: a pre-save check
//! ```
//! use art9::{CompiledPolicy, Outcome, RecordContext, Scanner};
//!
//! let scanner = Scanner::builtin()?;
//! let policy = CompiledPolicy::load("default")?;
//! let note = "Klant heeft diabetes, bel volgende week.";
//! let findings = scanner.scan(note);
//! let decision = policy.decide(&RecordContext::field("notes"), &findings);
//! assert_eq!(decision.outcome, Outcome::Mask);
//! let stored = art9::mask(note, &findings, &decision, &policy);
//! assert_eq!(stored, "Klant heeft [HEALTH], bel volgende week.");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Performance
//! The scanner is immutable, `Send + Sync` and cheap to clone; scanning reuses per-thread
//! scratch buffers, so a warm scan allocates only the result vector. ASCII notes skip the
//! Unicode path entirely. Figures are in `BENCHMARKS.md`.

#![forbid(unsafe_code)]
#![warn(missing_docs)]
// Items of private modules are `pub(crate)`: `pub` means part of the API (DESIGN.md).
#![warn(unreachable_pub)]

pub mod audit;
mod category;
pub mod consent;
pub mod date;
pub mod encoding;
pub mod erase;
#[doc(hidden)]
pub mod eval;
pub mod grade;
mod html;
pub mod input;
pub mod lexicon;
mod mask;
#[doc(hidden)]
pub mod matcher;
#[doc(hidden)]
pub mod normalize;
pub mod output;
pub mod pipeline;
pub mod policy;
pub mod record;
pub mod review;
#[cfg(feature = "serve")]
pub mod serve;
pub mod service;
pub mod source;
#[doc(hidden)]
pub mod suite;
mod yaml;

pub use output::subjects;

pub use category::{Category, Lang, UnknownCategory, UnknownLang};
pub use lexicon::{Lexicon, LexiconError, LexiconSet, Likelihood};
pub use mask::mask;
pub use matcher::{
    BuildError, EntryId, Evasion, Explained, Finding, Scanner, ScannerBuilder, Verdict,
};
pub use normalize::{normalize, NormalizedText, CONFUSABLES_UNICODE_VERSION};
pub use policy::{Action, CompiledPolicy, Decision, MaskStyle, Outcome, PolicyError};
pub use record::{Context, ContextColumn, ContextNames, Record, RecordContext};

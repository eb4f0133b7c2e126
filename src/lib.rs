//! art9 finds and masks GDPR special-category data — Art. 9 health, political opinion,
//! religion, ethnic origin, sexual orientation, trade-union membership, and Art. 10 criminal
//! offences — in the free-text fields of CRM systems, in Dutch, Danish and English.
//!
//! # Overview
//! * [`Scanner`] (built by [`ScannerBuilder`]) runs one Aho-Corasick automaton over every
//!   normalised lexicon term, checks match modes, word boundaries, case, exclusions and
//!   context, and returns non-overlapping [`Finding`]s whose byte and char offsets point into
//!   the ORIGINAL text.
//! * [`normalize()`] is the single normaliser for lexicon terms and notes (case, diacritics,
//!   æ/ø/å, NFKC, zero-width characters) with an offset map back to the original.
//! * [`CompiledPolicy`] decides per finding (`allow`, `flag`, `mask`, `reject`) and
//!   [`mask()`] applies that decision, changing only bytes inside findings.
//! * [`service`] is the pre-save check as JSON request → response ([`service::Engine`]),
//!   shared by `art9 check --stdio` and, with the `serve` feature (on by default), the HTTP
//!   service `art9 serve` (`serve` module: axum + tokio; see the README).
//! * [`pipeline`] scans record streams ([`input`]: JSONL, JSON arrays, CSV/TSV in any
//!   [`encoding`], plain text) in parallel batches with bounded memory and writes results in
//!   input order; [`html`] strips e-mail markup with offsets kept; [`subjects`] rolls findings
//!   up per data subject.
//!
//! Findings never carry the matched text: slice the original when you must show it.
//!
//! # Features
//! * `cli` (default): the `art9` binary (clap, anyhow).
//! * `serve` (default): `art9 serve` and the `serve` module (axum, tokio, tracing,
//!   arc-swap, subtle).
//!
//! With `default-features = false` the library needs neither: no argument parser, no async
//! runtime, no HTTP.
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

pub mod category;
pub mod encoding;
pub mod eval;
pub mod html;
pub mod input;
pub mod lexicon;
mod mask;
pub mod matcher;
pub mod normalize;
pub mod output;
pub mod pipeline;
pub mod policy;
pub mod record;
#[cfg(feature = "serve")]
pub mod serve;
pub mod service;
pub mod suite;
mod yaml;

pub use output::subjects;

pub use category::{Category, Lang};
pub use lexicon::{Lexicon, LexiconError, LexiconSet};
pub use mask::mask;
pub use matcher::{BuildError, EntryId, Explained, Finding, Scanner, ScannerBuilder, Verdict};
pub use normalize::{normalize, NormalizedText};
pub use policy::{Action, CompiledPolicy, Decision, MaskStyle, Outcome, PolicyError};
pub use record::{Context, Record, RecordContext};

//! What a lexicon maintainer writes: the serde types of `lexicons/<lang>/<category>.yaml`.
//!
//! These are validated and compiled once into [`crate::Scanner`]; nothing at scan time reads
//! them. Unknown keys are errors (`deny_unknown_fields`): a typo in a privacy lexicon is a leak.

use serde::{Deserialize, Serialize};
use serde_saphyr::Spanned;

use crate::category::{Category, Lang};

/// One lexicon file.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LexiconFile {
    /// The language of the terms.
    pub lang: Lang,
    /// The category every entry belongs to.
    pub category: Category,
    /// What the file covers.
    pub description: String,
    /// Where the terms come from, with licences.
    #[serde(default)]
    pub sources: Vec<Source>,
    /// `replace: true`: this file replaces the lexicon already loaded for its language and
    /// category (the built-in one, say) instead of adding its entries to it (the default).
    #[serde(default)]
    pub replace: bool,
    /// The entries.
    pub entries: Vec<Spanned<EntrySpec>>,
}

/// A built-in lexicon file as `build.rs` bakes it: parsed from its YAML when the crate is
/// built, stored as JSON, and read back at start-up ten times faster than the YAML (whose
/// parsing was over half of `art9 check`). Each entry keeps the line it starts on.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct BakedFile {
    /// As [`LexiconFile::lang`].
    pub lang: Lang,
    /// As [`LexiconFile::category`].
    pub category: Category,
    /// As [`LexiconFile::description`].
    pub description: String,
    /// As [`LexiconFile::sources`].
    pub sources: Vec<Source>,
    /// The entries with the YAML line each starts on.
    pub entries: Vec<(usize, EntrySpec)>,
}

impl From<LexiconFile> for BakedFile {
    fn from(f: LexiconFile) -> BakedFile {
        BakedFile {
            lang: f.lang,
            category: f.category,
            description: f.description,
            sources: f.sources,
            entries: f
                .entries
                .into_iter()
                .map(|e| (e.referenced.line() as usize, e.value))
                .collect(),
        }
    }
}

/// A source of terms and its licence.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Source {
    /// Name of the source.
    pub name: String,
    /// Its licence (SPDX id or words).
    pub licence: String,
    /// Where it can be found.
    #[serde(default)]
    pub url: Option<String>,
}

/// One lexicon entry: a concept with its surface forms and matching rules.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct EntrySpec {
    /// Stable id, `<lang>.<category>.<slug>`.
    pub id: String,
    /// Surface forms.
    pub terms: Vec<String>,
    /// How a term may sit in a word.
    #[serde(default, rename = "match")]
    pub mode: MatchMode,
    /// Whether upper/lower case must agree with the term.
    #[serde(default)]
    pub case: CaseMode,
    /// Optional endings allowed after a term in `word` mode (plurals, definite forms).
    #[serde(default)]
    pub endings: Vec<String>,
    /// Substrings that cancel a match lying inside them.
    #[serde(default)]
    pub exclude: Vec<String>,
    /// Words that must / must not occur near the match.
    #[serde(default)]
    pub context: Option<ContextSpec>,
    /// Notes that must yield this entry.
    #[serde(default)]
    pub examples: Vec<String>,
    /// Notes that must not yield this entry.
    #[serde(default)]
    pub counterexamples: Vec<String>,
    /// Whether the typo lane (`--typos`) may match a term of this entry with a typing error
    /// (default yes; `typos: false` for terms whose near neighbours are ordinary words).
    #[serde(default = "default_typos", skip_serializing_if = "is_default_typos")]
    pub typos: bool,
}

fn default_typos() -> bool {
    true
}

fn is_default_typos(typos: &bool) -> bool {
    *typos
}

/// How a term may sit in a word. See `LEXICONS.md`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum MatchMode {
    /// A whole word (optionally followed by one of the entry's `endings`).
    #[default]
    Word,
    /// Starts a word or compound: kanker → kankerpatiënt.
    Prefix,
    /// Ends a word or compound: patiënt → suikerpatiënt.
    Suffix,
    /// Anywhere inside a word: kræft → tarmkræftpatient.
    Compound,
}

impl MatchMode {
    /// The keyword used in YAML.
    pub fn as_str(self) -> &'static str {
        match self {
            MatchMode::Word => "word",
            MatchMode::Prefix => "prefix",
            MatchMode::Suffix => "suffix",
            MatchMode::Compound => "compound",
        }
    }
}

/// Case rule of an entry.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum CaseMode {
    /// Any case (the default).
    #[default]
    Insensitive,
    /// Upper/lower case must match the term exactly (diacritics still fold).
    Sensitive,
}

/// Context words for ambiguous terms.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ContextSpec {
    /// Words either side of the match to look at.
    #[serde(default = "default_window")]
    pub window: usize,
    /// At least one of these must occur in the window (a trailing `*` makes a prefix).
    #[serde(default)]
    pub require: Vec<String>,
    /// None of these may occur in the window.
    #[serde(default)]
    pub forbid: Vec<String>,
}

fn default_window() -> usize {
    6
}

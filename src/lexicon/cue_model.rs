//! What a cue file's maintainer writes: the serde types of `lexicons/cues/<lang>.yaml`
//! (issue 19), and the form `build.rs` bakes the built-in ones into. Validated and compiled
//! in `super::cues`; shared with `build.rs` (it needs only `category` and `model::Source`).

use serde::{Deserialize, Serialize};
use serde_saphyr::Spanned;

use super::model::Source;
use crate::category::{Category, Lang};

/// One cue file as written.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CueFile {
    /// The language of the words (cues apply to notes detected as this language).
    pub lang: Lang,
    /// What the file covers.
    pub description: String,
    /// Where the words come from, with licences.
    #[serde(default)]
    pub sources: Vec<Source>,
    /// `replace: true`: replace the cues already loaded for the language instead of adding.
    #[serde(default)]
    pub replace: bool,
    /// Frequent words of the language that vote for it when a note's language is detected
    /// (a word listed for two languages votes for neither).
    #[serde(default)]
    pub function_words: Vec<String>,
    /// Spellings that vote for the language when the function words leave a note undecided:
    /// `*ending`, `beginning*` or `*inside*` of a word (`*heid`, `*ij*`).
    #[serde(default)]
    pub spellings: Vec<String>,
    /// Letters of the language, as written before normalisation (`æ`, `ø`, `å`), that vote
    /// for it when the function words leave a note undecided.
    #[serde(default)]
    pub letters: Vec<String>,
    /// The cues.
    #[serde(default)]
    pub cues: Vec<Spanned<CueSpec>>,
}

/// What a cue says about a finding near it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CueKind {
    /// A person is meant: titles, customer words, pronouns, verbs of having or suffering.
    Person,
    /// An organisation is meant: head nouns, legal forms, an organisation as the customer.
    Organisation,
    /// Not a human: animals, produce, buildings, machines, products.
    NonHuman,
}

impl CueKind {
    /// The keyword used in YAML and output.
    pub fn as_str(self) -> &'static str {
        match self {
            CueKind::Person => "person",
            CueKind::Organisation => "organisation",
            CueKind::NonHuman => "non_human",
        }
    }

    /// How many grades a cue of this kind moves a finding when its file names no `shift`.
    pub fn default_shift(self) -> i32 {
        match self {
            CueKind::Person => 1,
            CueKind::Organisation => -2,
            CueKind::NonHuman => -3,
        }
    }
}

/// One cue as written.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct CueSpec {
    /// Stable id, `<lang>.cue.<slug>`.
    pub id: String,
    /// What the cue says.
    pub kind: CueKind,
    /// Grades it moves a finding (−4..4, not 0); default by kind: person +1,
    /// organisation −2, non_human −3.
    #[serde(default)]
    pub shift: Option<i32>,
    /// Words either side of the finding to look at (1..20, default 6).
    #[serde(default)]
    pub window: Option<usize>,
    /// Which side of the finding to look at (default both): `before` for the subject of a
    /// statement ("the coffee machine is sick"), `after` for its object ("addicted to our
    /// latte").
    #[serde(default)]
    pub side: Side,
    /// Only findings of these categories (default: all).
    #[serde(default)]
    pub categories: Vec<Category>,
    /// The words: `word`, `prefix*`, `*suffix` (also matched inside the finding's own words:
    /// `*vereniging` marks "Diabetesvereniging"), or a phrase of up to four words.
    pub words: Vec<String>,
    /// Notes in which a finding must be moved by this cue.
    #[serde(default)]
    pub examples: Vec<String>,
    /// Notes in which no finding may be moved by this cue.
    #[serde(default)]
    pub counterexamples: Vec<String>,
}

/// Which side of a finding a cue looks at.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Side {
    /// Before and after (the default).
    #[default]
    Both,
    /// Only the words before the finding.
    Before,
    /// Only the words after the finding.
    After,
}

/// A built-in cue file as `build.rs` bakes it: parsed from its YAML when the crate is built,
/// stored as JSON and read back at start-up (the YAML parse was 9.5M instructions of every
/// process, a third of what grading cost a `--terms` scan of 5 MB). Each cue keeps its line.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct BakedCueFile {
    /// As [`CueFile::lang`].
    pub lang: Lang,
    /// As [`CueFile::description`].
    pub description: String,
    /// As [`CueFile::sources`].
    pub sources: Vec<Source>,
    /// As [`CueFile::replace`].
    pub replace: bool,
    /// As [`CueFile::function_words`].
    pub function_words: Vec<String>,
    /// As [`CueFile::spellings`].
    pub spellings: Vec<String>,
    /// As [`CueFile::letters`].
    pub letters: Vec<String>,
    /// The cues with the YAML line each starts on.
    pub cues: Vec<(usize, CueSpec)>,
}

impl From<CueFile> for BakedCueFile {
    fn from(f: CueFile) -> BakedCueFile {
        BakedCueFile {
            lang: f.lang,
            description: f.description,
            sources: f.sources,
            replace: f.replace,
            function_words: f.function_words,
            spellings: f.spellings,
            letters: f.letters,
            cues: f
                .cues
                .into_iter()
                .map(|c| (c.referenced.line() as usize, c.value))
                .collect(),
        }
    }
}

//! Lexicons: the YAML model, loading with limits and file:line errors, and the built-ins.

mod builtin;
mod cue_model;
mod cues;
mod load;
mod model;
mod terms;

/// The YAML limits, defined in the crate's YAML module (shared with policies and the suite).
pub use crate::yaml::{MAX_YAML_ALIASES, MAX_YAML_BYTES, MAX_YAML_DEPTH};
pub use builtin::{BUILTIN, BUILTIN_CUES};
pub use cues::{
    Cue, CueFile, CueKind, CueLexicon, CueSpec, CueWord, Side, Spelling, SpellingPlace,
    MAX_CUE_WINDOW,
};
pub use load::{Context, ContextWord, Entry, Lexicon, LexiconError, LexiconSet, Replaced};
pub use model::{CaseMode, ContextSpec, EntrySpec, LexiconFile, Likelihood, MatchMode, Source};

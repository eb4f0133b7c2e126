//! Lexicons: the YAML model, loading with limits and file:line errors, and the built-ins.

mod builtin;
mod load;
mod model;
mod terms;

pub use builtin::BUILTIN;
pub(crate) use load::{read_yaml_file, yaml_error_parts, yaml_options};
pub use load::{
    Context, ContextWord, Entry, Lexicon, LexiconError, LexiconSet, Replaced, MAX_YAML_ALIASES,
    MAX_YAML_BYTES, MAX_YAML_DEPTH,
};
pub use model::{CaseMode, ContextSpec, EntrySpec, LexiconFile, MatchMode, Source};

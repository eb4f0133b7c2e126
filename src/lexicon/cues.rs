//! Context cues (issue 19): per language, the words near a finding that make it more or less
//! likely to be about a person, and the function words that tell the note's language.
//!
//! A cue file is `lexicons/cues/<lang>.yaml` (see LEXICONS.md, "Likelihood and cues"). Like
//! a lexicon it is strict YAML, validated once, with examples and counterexamples that
//! `art9 lexicon test` checks. The grading itself lives in `crate::grade`.

use super::builtin::{BUILTIN_CUES, BUILTIN_CUES_BAKED};
use super::cue_model::BakedCueFile;
pub use super::cue_model::{CueFile, CueKind, CueSpec, Side};
use super::load::LexiconError;
use crate::category::{Category, Lang};
use crate::normalize::{is_word_char, normalize};
use crate::yaml::{read_yaml_file, yaml_error_parts, yaml_options, MAX_YAML_BYTES};

/// A cue word, normalised.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CueWord {
    /// The word as written, normalised, without `*`.
    pub word: String,
    /// Its word-char runs.
    pub parts: Vec<String>,
    /// `word*`: the last part begins a token.
    pub prefix: bool,
    /// `*word`: the (single) part ends a token.
    pub suffix: bool,
}

/// Where in a word a [`Spelling`] is looked for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SpellingPlace {
    /// `*ending`.
    End,
    /// `beginning*`.
    Start,
    /// `*inside*` (anywhere in the word).
    Inside,
}

/// A spelling of a language (`*heid`, `*ij*`), normalised.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Spelling {
    /// The letters, normalised, without `*`.
    pub text: String,
    /// Where they are looked for.
    pub place: SpellingPlace,
}

impl Spelling {
    /// Whether `tok` (normalised, or ASCII as written) has this spelling: an ending or a
    /// beginning only in a word at least three letters longer than it (not the word itself
    /// or a short word that happens to end so), an inside spelling anywhere.
    pub fn matches(&self, tok: &[u8]) -> bool {
        let p = self.text.as_bytes();
        match self.place {
            SpellingPlace::End => {
                tok.len() >= p.len() + 3 && tok[tok.len() - p.len()..].eq_ignore_ascii_case(p)
            }
            SpellingPlace::Start => {
                tok.len() >= p.len() + 3 && tok[..p.len()].eq_ignore_ascii_case(p)
            }
            SpellingPlace::Inside => tok.windows(p.len()).any(|w| w.eq_ignore_ascii_case(p)),
        }
    }
}

/// A validated cue.
#[derive(Clone, Debug)]
pub struct Cue {
    /// Stable id.
    pub id: String,
    /// Its language.
    pub lang: Lang,
    /// What it says.
    pub kind: CueKind,
    /// Grades it moves a finding.
    pub shift: i32,
    /// Words either side.
    pub window: usize,
    /// Which side.
    pub side: Side,
    /// Categories it applies to (empty = all).
    pub categories: Vec<Category>,
    /// Its words.
    pub words: Vec<CueWord>,
    /// File it came from.
    pub path: String,
    /// 1-based line.
    pub line: usize,
    /// Notes in which a finding must be moved by it.
    pub examples: Vec<String>,
    /// Notes in which no finding may be moved by it.
    pub counterexamples: Vec<String>,
}

/// The validated cues and function words of one language.
#[derive(Clone, Debug)]
pub struct CueLexicon {
    /// File (or built-in path).
    pub path: String,
    /// Language.
    pub lang: Lang,
    /// Whether it replaces the cues already loaded for its language.
    pub replace: bool,
    /// Normalised function words.
    pub function_words: Vec<String>,
    /// Spellings that vote when the function words leave a note undecided.
    pub spellings: Vec<Spelling>,
    /// Letters (as written) that vote when the function words leave a note undecided.
    pub letters: Vec<char>,
    /// Cues.
    pub cues: Vec<Cue>,
}

/// Most words a window may look at either side.
pub const MAX_CUE_WINDOW: usize = 20;

impl CueLexicon {
    /// Parse and validate a cue file. `path` is used in errors only.
    ///
    /// # Errors
    /// Invalid YAML, unknown keys, a bad id, shift, window or word (with file:line).
    pub fn from_yaml(path: &str, yaml: &str) -> Result<CueLexicon, LexiconError> {
        let err = |line: Option<usize>, entry: Option<&str>, message: String| LexiconError {
            path: path.to_string(),
            line,
            entry: entry.map(str::to_string),
            message,
        };
        if yaml.len() > MAX_YAML_BYTES {
            return Err(err(
                None,
                None,
                format!("file is over the {MAX_YAML_BYTES} byte limit"),
            ));
        }
        let file: CueFile =
            serde_saphyr::from_str_with_options(yaml, yaml_options()).map_err(|e| {
                let (line, msg) = yaml_error_parts(&e);
                err(line, None, msg)
            })?;
        CueLexicon::validate(path, BakedCueFile::from(file))
    }

    /// A built-in cue file as `build.rs` baked it (JSON of a `BakedCueFile`), validated like
    /// [`CueLexicon::from_yaml`] validates the YAML it came from (tested equal).
    pub(crate) fn from_baked(path: &str, json: &str) -> Result<CueLexicon, LexiconError> {
        let file: BakedCueFile = serde_json::from_str(json).map_err(|e| LexiconError {
            path: path.to_string(),
            line: None,
            entry: None,
            message: format!("baked cue file does not read back: {e}"),
        })?;
        CueLexicon::validate(path, file)
    }

    /// The built-in cue files: baked where `build.rs` could parse them, else from their YAML
    /// (whose error then names file and line).
    pub(crate) fn builtin() -> impl Iterator<Item = Result<CueLexicon, LexiconError>> {
        BUILTIN_CUES
            .iter()
            .zip(BUILTIN_CUES_BAKED)
            .map(|(&(path, yaml), &baked)| match baked {
                Some(json) => CueLexicon::from_baked(path, json),
                None => CueLexicon::from_yaml(path, yaml),
            })
    }

    /// Check every cue and function word and normalise their words.
    fn validate(path: &str, file: BakedCueFile) -> Result<CueLexicon, LexiconError> {
        let err = |line: Option<usize>, entry: Option<&str>, message: String| LexiconError {
            path: path.to_string(),
            line,
            entry: entry.map(str::to_string),
            message,
        };
        let mut function_words = Vec::new();
        for w in &file.function_words {
            let n = normalize(w);
            if n.is_empty() || !n.chars().all(is_word_char) {
                return Err(err(
                    None,
                    None,
                    format!("function word {w:?} must be one word"),
                ));
            }
            function_words.push(n);
        }
        let mut spellings = Vec::new();
        for w in &file.spellings {
            let bad = || {
                err(
                    None,
                    None,
                    format!(
                        "spelling {w:?} must be `*ending`, `beginning*` or `*inside*` of one word"
                    ),
                )
            };
            let place = match (w.starts_with('*'), w.ends_with('*') && w.len() > 1) {
                (true, true) => SpellingPlace::Inside,
                (true, false) => SpellingPlace::End,
                (false, true) => SpellingPlace::Start,
                (false, false) => return Err(bad()),
            };
            let n = normalize(w.trim_matches('*'));
            if n.is_empty() || !n.chars().all(is_word_char) {
                return Err(bad());
            }
            spellings.push(Spelling { text: n, place });
        }
        let mut letters = Vec::new();
        for l in &file.letters {
            let mut chars = l.chars();
            match (chars.next(), chars.next()) {
                (Some(c), None) if c.is_alphabetic() => letters.push(c),
                _ => return Err(err(None, None, format!("letter {l:?} must be one letter"))),
            }
        }
        let want_prefix = format!("{}.cue.", file.lang.as_str());
        let mut cues: Vec<Cue> = Vec::new();
        for (line, spec) in file.cues {
            let fail = |m: String| err(Some(line), Some(&spec.id), m);
            if !spec.id.starts_with(&want_prefix)
                || spec.id.len() == want_prefix.len()
                || spec.id.chars().any(char::is_whitespace)
            {
                return Err(fail(format!("id must look like {want_prefix}<name>")));
            }
            if cues.iter().any(|c| c.id == spec.id) {
                return Err(fail("duplicate cue id".into()));
            }
            let shift = spec.shift.unwrap_or(spec.kind.default_shift());
            if shift == 0 || !(-4..=4).contains(&shift) {
                return Err(fail("shift must be -4..-1 or 1..4".into()));
            }
            if (shift > 0) != (spec.kind == CueKind::Person) {
                return Err(fail(
                    "person cues raise (shift > 0), organisation and non_human cues lower".into(),
                ));
            }
            let window = spec.window.unwrap_or(6);
            if window == 0 || window > MAX_CUE_WINDOW {
                return Err(fail(format!(
                    "window must be between 1 and {MAX_CUE_WINDOW} words"
                )));
            }
            if spec.words.is_empty() {
                return Err(fail("cue has no words".into()));
            }
            let mut words = Vec::with_capacity(spec.words.len());
            for w in &spec.words {
                words.push(cue_word(w).map_err(fail)?);
            }
            cues.push(Cue {
                id: spec.id,
                lang: file.lang,
                kind: spec.kind,
                shift,
                window,
                side: spec.side,
                categories: spec.categories,
                words,
                path: path.to_string(),
                line,
                examples: spec.examples,
                counterexamples: spec.counterexamples,
            });
        }
        Ok(CueLexicon {
            path: path.to_string(),
            lang: file.lang,
            replace: file.replace,
            function_words,
            spellings,
            letters,
            cues,
        })
    }

    /// Read and validate a cue file.
    ///
    /// # Errors
    /// As [`CueLexicon::from_yaml`], or the file cannot be read.
    pub fn from_file(path: &std::path::Path) -> Result<CueLexicon, LexiconError> {
        let shown = path.display().to_string();
        let yaml = read_yaml_file(path).map_err(|message| LexiconError {
            path: shown.clone(),
            line: None,
            entry: None,
            message,
        })?;
        CueLexicon::from_yaml(&shown, &yaml)
    }
}

fn cue_word(w: &str) -> Result<CueWord, String> {
    let (w2, suffix) = match w.strip_prefix('*') {
        Some(s) => (s, true),
        None => (w, false),
    };
    let (w3, prefix) = match w2.strip_suffix('*') {
        Some(s) => (s, true),
        None => (w2, false),
    };
    let n = normalize(w3);
    let parts: Vec<String> = n
        .split(|c: char| !is_word_char(c))
        .filter(|p| !p.is_empty())
        .map(str::to_string)
        .collect();
    if parts.is_empty() || parts.len() > 4 || (suffix && (prefix || parts.len() > 1)) {
        return Err(format!(
            "cue word {w:?} must be one to four words (a trailing * makes a prefix; a leading * \
             makes a suffix of one word)"
        ));
    }
    Ok(CueWord {
        word: n,
        parts,
        prefix,
        suffix,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = "lang: nl\ndescription: t\nfunction_words: [het, een]\ncues:\n  - id: nl.cue.org\n    kind: organisation\n    words: [stichting, '*vereniging', 'vraagt offerte', 'bestel*']\n    examples: ['De Diabetesvereniging bestelt']\n";

    #[test]
    fn loads_and_normalises() {
        let c = CueLexicon::from_yaml("c.yaml", GOOD).unwrap();
        assert_eq!(c.function_words, ["het", "een"]);
        let cue = &c.cues[0];
        assert_eq!((cue.shift, cue.window, cue.line), (-2, 6, 5));
        assert!(cue.words[1].suffix && !cue.words[1].prefix);
        assert_eq!(cue.words[2].parts, ["vraagt", "offerte"]);
        assert!(cue.words[3].prefix);
    }

    /// Every built-in cue file was baked at build time, and reads back to exactly what its
    /// YAML gives (cues, lines, function words and all).
    #[test]
    fn baked_cue_files_equal_their_yaml() {
        assert_eq!(BUILTIN_CUES.len(), BUILTIN_CUES_BAKED.len());
        assert_eq!(BUILTIN_CUES.len(), 3);
        for (&(path, yaml), baked) in BUILTIN_CUES.iter().zip(BUILTIN_CUES_BAKED) {
            let json = baked.unwrap_or_else(|| panic!("{path} was not baked"));
            let file: CueFile = serde_saphyr::from_str_with_options(yaml, yaml_options())
                .unwrap_or_else(|e| panic!("{path}: {e}"));
            let from_yaml = BakedCueFile::from(file);
            let read_back: BakedCueFile = serde_json::from_str(json).unwrap();
            assert_eq!(format!("{from_yaml:?}"), format!("{read_back:?}"), "{path}");
            let (a, b) = (
                CueLexicon::from_yaml(path, yaml).unwrap(),
                CueLexicon::from_baked(path, json).unwrap(),
            );
            assert_eq!(format!("{a:?}"), format!("{b:?}"), "{path}");
        }
    }

    /// A baked cue file that does not read back is an error naming the file, not a panic.
    #[test]
    fn bad_baked_cue_file_is_an_error() {
        let e = CueLexicon::from_baked("lexicons/cues/x.yaml", "{\"lang\": \"nl\"}").unwrap_err();
        assert_eq!(e.path, "lexicons/cues/x.yaml");
        assert!(e.message.contains("baked cue file"), "{}", e.message);
    }

    #[test]
    fn errors_name_file_line_and_cue() {
        let bad = GOOD.replace("kind: organisation", "kind: organisation\n    shift: 2");
        let e = CueLexicon::from_yaml("c.yaml", &bad).unwrap_err();
        assert_eq!((e.line, e.entry.as_deref()), (Some(5), Some("nl.cue.org")));
        let bad = GOOD.replace("nl.cue.org", "da.cue.org");
        assert!(CueLexicon::from_yaml("c.yaml", &bad).is_err());
        let bad = GOOD.replace("'*vereniging'", "'*twee woorden'");
        assert!(CueLexicon::from_yaml("c.yaml", &bad).is_err());
        let bad = GOOD.replace("    words:", "    colour: red\n    words:");
        let e = CueLexicon::from_yaml("c.yaml", &bad).unwrap_err();
        assert_eq!(e.line, Some(7), "{e}");
    }
}

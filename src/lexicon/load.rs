//! Reading lexicon YAML with limits, validating it, and reporting errors with file:line.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt;
use std::path::{Path, PathBuf};

use super::builtin::{BUILTIN, BUILTIN_BAKED};
use super::cues::CueLexicon;
use super::model::{BakedFile, CaseMode, EntrySpec, LexiconFile, Likelihood, MatchMode, Source};
use crate::category::{Category, Lang};
use crate::normalize::{normalize, starts_with_ignore_ascii_case};
use crate::yaml::{read_yaml_file, yaml_error_parts, yaml_options, MAX_YAML_BYTES};

/// A lexicon that failed to load or validate.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct LexiconError {
    /// The file (or built-in path).
    pub path: String,
    /// 1-based line, when known.
    pub line: Option<usize>,
    /// The entry id, when the error is about one entry.
    pub entry: Option<String>,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for LexiconError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.path)?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
        }
        if let Some(entry) = &self.entry {
            write!(f, ": entry {entry}")?;
        }
        write!(f, ": {}", self.message)
    }
}

impl std::error::Error for LexiconError {}

/// A word (or short hyphenated/multi-word phrase) of an entry's context rule, normalised.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ContextWord {
    /// The normalised word as written (without the `*`).
    pub word: String,
    /// Its word-char runs: "take-away" is `["take", "away"]`.
    pub parts: Vec<String>,
    /// Whether the last part matches any word starting with it.
    pub prefix: bool,
}

impl ContextWord {
    /// Does this context word match the tokens starting at `tokens[0]`? Tokens are compared
    /// ASCII case-insensitively: the matcher may hand in tokens of an ASCII note as written.
    pub fn matches<'a>(&self, mut tokens: impl Iterator<Item = &'a str>) -> bool {
        let last = self.parts.len() - 1;
        for (i, part) in self.parts.iter().enumerate() {
            let Some(tok) = tokens.next() else {
                return false;
            };
            let ok = if i == last && self.prefix {
                starts_with_ignore_ascii_case(tok, part)
            } else {
                tok.eq_ignore_ascii_case(part)
            };
            if !ok {
                return false;
            }
        }
        true
    }
}

/// A validated context rule.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Context {
    /// Words either side.
    pub window: usize,
    /// At least one must occur.
    pub require: Vec<ContextWord>,
    /// None may occur.
    pub forbid: Vec<ContextWord>,
    /// The words by their first part, so that a token is one lookup instead of a comparison
    /// with every word (rules list up to ~170 words; issue 7).
    index: ContextIndex,
}

/// Word ids: `0..require.len()` for the required words, then the forbidden ones.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct ContextIndex {
    /// Words whose first part must equal a token (lowercase), by that part.
    by_first: HashMap<String, Vec<u32>>,
    /// One-part prefix words (`stem*`): their part must begin a token.
    open: Vec<u32>,
}

impl Context {
    /// A rule of `window` words either side.
    pub fn new(window: usize, require: Vec<ContextWord>, forbid: Vec<ContextWord>) -> Context {
        let mut index = ContextIndex::default();
        for (id, w) in require.iter().chain(&forbid).enumerate() {
            let id = u32::try_from(id).unwrap_or(u32::MAX);
            match w.parts.first() {
                Some(_) if w.prefix && w.parts.len() == 1 => index.open.push(id),
                Some(first) => index
                    .by_first
                    .entry(first.to_ascii_lowercase())
                    .or_default()
                    .push(id),
                None => {}
            }
        }
        Context {
            window,
            require,
            forbid,
            index,
        }
    }

    /// Look for the rule's words in the windows around a match (`windows[0]` before it,
    /// `windows[1]` after it; token `i` is `token(i)`; a phrase must lie within one window).
    /// Returns whether a required word occurs (`true` when none is required) and the
    /// forbidden word found first: at the earliest position, the one listed first.
    pub fn check<'t>(
        &self,
        windows: [std::ops::Range<usize>; 2],
        token: impl Fn(usize) -> &'t str,
    ) -> (bool, Option<&ContextWord>) {
        let nreq = self.require.len();
        let mut required_seen = self.require.is_empty();
        let mut forbidden: Option<&ContextWord> = None;
        for range in windows {
            for i in range.clone() {
                if required_seen && forbidden.is_some() {
                    return (required_seen, forbidden);
                }
                let t = token(i);
                let lower;
                let key = if t.bytes().any(|b| b.is_ascii_uppercase()) {
                    lower = t.to_ascii_lowercase();
                    lower.as_str()
                } else {
                    t
                };
                let exact = self.index.by_first.get(key).map_or(&[][..], Vec::as_slice);
                let mut first_forbidden: Option<usize> = None;
                for &id in exact.iter().chain(&self.index.open) {
                    let id = id as usize;
                    let (word, required) = match id.checked_sub(nreq) {
                        None => (&self.require[id], true),
                        Some(f) => (&self.forbid[f], false),
                    };
                    let wanted = if required {
                        !required_seen
                    } else {
                        forbidden.is_none() && first_forbidden.is_none_or(|b| id < b)
                    };
                    if !wanted || !word.matches((i..range.end).map(&token)) {
                        continue;
                    }
                    if required {
                        required_seen = true;
                    } else {
                        first_forbidden = Some(id);
                    }
                }
                if forbidden.is_none() {
                    forbidden = first_forbidden.map(|id| &self.forbid[id - nreq]);
                }
            }
        }
        (required_seen, forbidden)
    }
}

/// A validated lexicon entry.
#[derive(Clone, Debug)]
pub struct Entry {
    /// Stable id.
    pub id: String,
    /// Language of the lexicon it came from.
    pub lang: Lang,
    /// Category of the lexicon it came from.
    pub category: Category,
    /// File it came from.
    pub path: String,
    /// 1-based line of the entry in that file.
    pub line: usize,
    /// Surface forms as written.
    pub terms: Vec<String>,
    /// Match mode.
    pub mode: MatchMode,
    /// Case rule.
    pub case: CaseMode,
    /// Normalised endings allowed after a term in word mode, longest first.
    pub endings: Vec<String>,
    /// Normalised exclusion phrases.
    pub exclude: Vec<String>,
    /// Context rule.
    pub context: Option<Context>,
    /// Base likelihood of its findings (the lexicon's `likelihood`, else
    /// [`Likelihood::default_base`]), before context cues move it.
    pub likelihood: Likelihood,
    /// Notes that must yield this entry.
    pub examples: Vec<String>,
    /// Notes that must not yield this entry.
    pub counterexamples: Vec<String>,
    /// Whether the typo lane may match this entry's terms (`typos: false` turns it off).
    pub typos: bool,
}

/// One validated lexicon file.
#[derive(Clone, Debug)]
pub struct Lexicon {
    /// Where it came from (file path or `lexicons/<lang>/<cat>.yaml` for built-ins).
    pub path: String,
    /// Language.
    pub lang: Lang,
    /// Category.
    pub category: Category,
    /// Description from the header.
    pub description: String,
    /// Sources and licences.
    pub sources: Vec<Source>,
    /// Whether it replaces the lexicon already loaded for its language and category
    /// (`replace: true` in the file) rather than adding to it; see [`LexiconSet::insert`].
    pub replace: bool,
    /// Entries.
    pub entries: Vec<Entry>,
}

impl Lexicon {
    /// Parse and validate one lexicon from YAML text. `path` is used in errors only.
    pub fn from_yaml(path: &str, yaml: &str) -> Result<Lexicon, LexiconError> {
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
        let file: LexiconFile =
            serde_saphyr::from_str_with_options(yaml, yaml_options()).map_err(|e| {
                let (line, msg) = yaml_error_parts(&e);
                err(line, None, msg)
            })?;
        let replace = file.replace;
        let mut lexicon = Lexicon::validate(path, BakedFile::from(file))?;
        lexicon.replace = replace;
        Ok(lexicon)
    }

    /// A built-in lexicon as `build.rs` baked it (JSON of a [`BakedFile`]), validated like
    /// [`Lexicon::from_yaml`] validates the YAML it came from (tested equal).
    pub(crate) fn from_baked(path: &str, json: &str) -> Result<Lexicon, LexiconError> {
        let file: BakedFile = serde_json::from_str(json).map_err(|e| LexiconError {
            path: path.to_string(),
            line: None,
            entry: None,
            message: format!("baked lexicon does not read back: {e}"),
        })?;
        Lexicon::validate(path, file)
    }

    /// Check every entry and compile the file.
    fn validate(path: &str, file: BakedFile) -> Result<Lexicon, LexiconError> {
        let mut entries = Vec::with_capacity(file.entries.len());
        let mut ids = HashSet::new();
        for (line, spec) in file.entries {
            let entry = validate_entry(spec, file.lang, file.category, path, line)?;
            if !ids.insert(entry.id.clone()) {
                return Err(LexiconError {
                    path: path.to_string(),
                    line: Some(line),
                    entry: Some(entry.id.clone()),
                    message: "duplicate entry id".into(),
                });
            }
            entries.push(entry);
        }
        Ok(Lexicon {
            path: path.to_string(),
            lang: file.lang,
            category: file.category,
            description: file.description,
            sources: file.sources,
            replace: false,
            entries,
        })
    }

    /// Read and validate a lexicon file.
    pub fn from_file(path: &Path) -> Result<Lexicon, LexiconError> {
        let shown = path.display().to_string();
        let yaml = read_yaml_file(path).map_err(|message| LexiconError {
            path: shown.clone(),
            line: None,
            entry: None,
            message,
        })?;
        Lexicon::from_yaml(&shown, &yaml)
    }
}

fn validate_entry(
    spec: EntrySpec,
    lang: Lang,
    category: Category,
    path: &str,
    line: usize,
) -> Result<Entry, LexiconError> {
    let fail = |message: String| LexiconError {
        path: path.to_string(),
        line: Some(line),
        entry: Some(spec.id.clone()),
        message,
    };
    let want_prefix = format!("{}.{}.", lang.as_str(), category.as_str());
    if !spec.id.starts_with(&want_prefix) || spec.id.len() == want_prefix.len() {
        return Err(fail(format!("id must look like {want_prefix}<name>")));
    }
    if spec.id.chars().any(|c| c.is_whitespace()) {
        return Err(fail("id must not contain white space".into()));
    }
    if spec.terms.is_empty() {
        return Err(fail("entry has no terms".into()));
    }
    for term in &spec.terms {
        let n = normalize(term);
        if n.trim().is_empty() {
            return Err(fail(format!("term {term:?} is empty after normalisation")));
        }
        if n.trim() != n {
            return Err(fail(format!(
                "term {term:?} starts or ends with white space"
            )));
        }
    }
    let mut endings = Vec::new();
    for e in &spec.endings {
        let n = normalize(e);
        if !n.chars().last().is_some_and(crate::normalize::is_word_char)
            || !n
                .chars()
                .all(|c| crate::normalize::is_word_char(c) || c == '\'' || c == '-')
        {
            return Err(fail(format!(
                "ending {e:?} must be letters or digits (an apostrophe or hyphen may come first: 'er, -erne)"
            )));
        }
        endings.push(n);
    }
    if !endings.is_empty() && spec.mode != MatchMode::Word {
        return Err(fail("endings are only allowed with match: word".into()));
    }
    endings.sort_by_key(|e| std::cmp::Reverse(e.len()));
    endings.dedup();
    let mut exclude = Vec::new();
    for x in &spec.exclude {
        let n = normalize(x);
        if n.trim().is_empty() {
            return Err(fail(format!("exclude {x:?} is empty")));
        }
        exclude.push(n);
    }
    let context = match spec.context {
        None => None,
        Some(c) => {
            if c.window == 0 || c.window > 50 {
                return Err(fail("context window must be between 1 and 50 words".into()));
            }
            if c.require.is_empty() && c.forbid.is_empty() {
                return Err(fail("context needs require or forbid words".into()));
            }
            let words = |list: &[String]| -> Result<Vec<ContextWord>, LexiconError> {
                list.iter()
                    .map(|w| {
                        let (w2, prefix) = match w.strip_suffix('*') {
                            Some(s) => (s, true),
                            None => (w.as_str(), false),
                        };
                        let n = normalize(w2);
                        let parts: Vec<String> = n
                            .split(|c: char| !crate::normalize::is_word_char(c))
                            .filter(|p| !p.is_empty())
                            .map(str::to_string)
                            .collect();
                        if parts.is_empty() || parts.len() > 4 {
                            return Err(fail(format!(
                                "context word {w:?} must be one to four words (optional trailing *)"
                            )));
                        }
                        Ok(ContextWord {
                            word: n,
                            parts,
                            prefix,
                        })
                    })
                    .collect()
            };
            Some(Context::new(
                c.window,
                words(&c.require)?,
                words(&c.forbid)?,
            ))
        }
    };
    Ok(Entry {
        id: spec.id,
        lang,
        category,
        path: path.to_string(),
        line,
        terms: spec.terms,
        mode: spec.mode,
        case: spec.case,
        endings,
        exclude,
        context,
        likelihood: spec
            .likelihood
            .unwrap_or_else(|| Likelihood::default_base(spec.mode, spec.case)),
        examples: spec.examples,
        counterexamples: spec.counterexamples,
        typos: spec.typos,
    })
}

/// The lexicons a scanner is built from: at most one per (language, category). A later file
/// for the same pair adds its entries to it, or replaces it if the file says `replace: true`
/// (see [`LexiconSet::insert`]).
#[derive(Clone, Debug, Default)]
pub struct LexiconSet {
    pub(super) lexicons: BTreeMap<(Lang, Category), Lexicon>,
    replaced: Vec<Replaced>,
    /// Context cues and function words per language (`lexicons/cues/<lang>.yaml`).
    cues: BTreeMap<Lang, CueLexicon>,
}

/// A lexicon that a later file replaced (`replace: true`), for the user to be told.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Replaced {
    /// The file that replaced it.
    pub by: String,
    /// The lexicon replaced (its file, or the first of the files merged into it).
    pub path: String,
    /// Its language.
    pub lang: Lang,
    /// Its category.
    pub category: Category,
    /// How many entries it had (none of them is used any more).
    pub entries: usize,
}

impl LexiconSet {
    /// An empty set.
    pub fn new() -> LexiconSet {
        LexiconSet::default()
    }

    /// The built-in lexicons (nl, da, en × seven categories).
    ///
    /// # Errors
    /// Only if a built-in file is broken, which the test suite rules out.
    pub fn builtin() -> Result<LexiconSet, LexiconError> {
        use rayon::prelude::*;
        // The YAML was parsed when the crate was built (`build.rs`: parsing it here was over
        // half of `art9 check`'s start-up). The files are read back side by side, then
        // inserted in their fixed order (so the first error is the same); one that
        // `build.rs` could not parse was not baked, and its YAML is parsed here for the
        // error with its line.
        let parsed: Vec<Result<Lexicon, LexiconError>> = BUILTIN
            .par_iter()
            .zip(BUILTIN_BAKED)
            .map(|(&(path, yaml), &baked)| match baked {
                Some(json) => Lexicon::from_baked(path, json),
                None => Lexicon::from_yaml(path, yaml),
            })
            .collect();
        let mut set = LexiconSet::new();
        for lexicon in parsed {
            set.insert(lexicon?)?;
        }
        set.add_builtin_cues()?;
        Ok(set)
    }

    /// Add the built-in cue files (`lexicons/cues/<lang>.yaml`), e.g. to a set read from a
    /// term list, so that its findings are graded like the lexicons' are.
    ///
    /// # Errors
    /// Only if a built-in cue file is broken (ruled out by the test suite), or its cue ids are
    /// loaded already.
    pub fn add_builtin_cues(&mut self) -> Result<(), LexiconError> {
        for cues in CueLexicon::builtin() {
            self.insert_cues(cues?)?;
        }
        Ok(())
    }

    /// Add the cues of a language: to those already loaded for it, or in their place when
    /// the file says `replace: true`.
    ///
    /// # Errors
    /// A cue id already loaded (when adding).
    pub fn insert_cues(&mut self, cues: CueLexicon) -> Result<(), LexiconError> {
        match self.cues.get_mut(&cues.lang) {
            Some(old) if !cues.replace => {
                for c in &cues.cues {
                    if let Some(o) = old.cues.iter().find(|o| o.id == c.id) {
                        return Err(LexiconError {
                            path: cues.path.clone(),
                            line: Some(c.line),
                            entry: Some(c.id.clone()),
                            message: format!(
                                "cue id already used at {}:{}; give the cue another id, or put \
                                 `replace: true` at the top of the file",
                                o.path, o.line
                            ),
                        });
                    }
                }
                old.function_words.extend(cues.function_words);
                old.spellings.extend(cues.spellings);
                old.letters.extend(cues.letters);
                old.cues.extend(cues.cues);
            }
            _ => {
                self.cues.insert(cues.lang, cues);
            }
        }
        Ok(())
    }

    /// The cue files loaded, one per language.
    pub fn cues(&self) -> impl Iterator<Item = &CueLexicon> {
        self.cues.values()
    }

    /// Drop every cue (findings then keep their entries' base likelihood).
    pub fn clear_cues(&mut self) {
        self.cues.clear();
    }

    /// Add a lexicon. If one for the same language and category is loaded already, its
    /// entries are added to that one, unless `lexicon.replace` (`replace: true` in the file):
    /// then it replaces that one, which is recorded in [`LexiconSet::replaced`].
    ///
    /// # Errors
    /// If an entry id is already used by a lexicon of another language or category, or, when
    /// adding, by an entry of the lexicon it is added to (the error says to rename the entry
    /// or to replace the lexicon).
    pub fn insert(&mut self, lexicon: Lexicon) -> Result<(), LexiconError> {
        let key = (lexicon.lang, lexicon.category);
        for (k, other) in &self.lexicons {
            if *k == key {
                continue;
            }
            for e in &lexicon.entries {
                if other.entries.iter().any(|o| o.id == e.id) {
                    return Err(LexiconError {
                        path: lexicon.path.clone(),
                        line: Some(e.line),
                        entry: Some(e.id.clone()),
                        message: format!("entry id also used in {}", other.path),
                    });
                }
            }
        }
        match self.lexicons.get_mut(&key) {
            Some(old) if lexicon.replace => {
                self.replaced.push(Replaced {
                    by: lexicon.path.clone(),
                    path: old.path.clone(),
                    lang: old.lang,
                    category: old.category,
                    entries: old.entries.len(),
                });
                *old = lexicon;
            }
            Some(old) => {
                for e in &lexicon.entries {
                    if let Some(o) = old.entries.iter().find(|o| o.id == e.id) {
                        return Err(LexiconError {
                            path: lexicon.path.clone(),
                            line: Some(e.line),
                            entry: Some(e.id.clone()),
                            message: format!(
                                "entry id already used at {}:{}: this file adds to the {} {} \
                                 lexicon loaded before it ({} entries); give the entry another \
                                 id, or put `replace: true` at the top of the file to replace \
                                 that lexicon",
                                o.path,
                                o.line,
                                old.lang,
                                old.category,
                                old.entries.len()
                            ),
                        });
                    }
                }
                old.entries.extend(lexicon.entries);
            }
            None => {
                self.lexicons.insert(key, lexicon);
            }
        }
        Ok(())
    }

    /// The lexicons replaced so far by files that say `replace: true` (or were added with
    /// [`LexiconSet::add_path_replacing`]), in order.
    pub fn replaced(&self) -> &[Replaced] {
        &self.replaced
    }

    /// Add every `*.yaml` / `*.yml` file under `dir` (recursively), in path order.
    ///
    /// # Errors
    /// On the first file that does not load, or if `dir` cannot be read.
    pub fn add_dir(&mut self, dir: &Path) -> Result<usize, LexiconError> {
        self.add_dir_as(dir, false)
    }

    fn add_dir_as(&mut self, dir: &Path, replace: bool) -> Result<usize, LexiconError> {
        let mut files = Vec::new();
        collect_yaml(dir, &mut files).map_err(|e| LexiconError {
            path: dir.display().to_string(),
            line: None,
            entry: None,
            message: e.to_string(),
        })?;
        files.sort();
        if files.is_empty() {
            return Err(LexiconError {
                path: dir.display().to_string(),
                line: None,
                entry: None,
                message: "no .yaml lexicon files found".into(),
            });
        }
        for f in &files {
            if is_cue_file(f) {
                let mut cues = CueLexicon::from_file(f)?;
                cues.replace |= replace;
                self.insert_cues(cues)?;
            } else {
                self.insert_as(Lexicon::from_file(f)?, replace)?;
            }
        }
        Ok(files.len())
    }

    fn insert_as(&mut self, mut lexicon: Lexicon, replace: bool) -> Result<(), LexiconError> {
        lexicon.replace |= replace;
        self.insert(lexicon)
    }

    /// Add a single file or every file of a directory.
    ///
    /// # Errors
    /// As [`LexiconSet::add_dir`] and [`Lexicon::from_file`].
    pub fn add_path(&mut self, path: &Path) -> Result<usize, LexiconError> {
        self.add_path_as(path, false)
    }

    /// As [`LexiconSet::add_path`], but every file replaces the lexicon loaded for its
    /// language and category, as if it said `replace: true` (`art9 lexicon test DIR`,
    /// `--replace-lexicons`).
    ///
    /// # Errors
    /// As [`LexiconSet::add_path`].
    pub fn add_path_replacing(&mut self, path: &Path) -> Result<usize, LexiconError> {
        self.add_path_as(path, true)
    }

    fn add_path_as(&mut self, path: &Path, replace: bool) -> Result<usize, LexiconError> {
        if path.is_dir() {
            self.add_dir_as(path, replace)
        } else if is_cue_file(path) {
            let mut cues = CueLexicon::from_file(path)?;
            cues.replace |= replace;
            self.insert_cues(cues)?;
            Ok(1)
        } else {
            self.insert_as(Lexicon::from_file(path)?, replace)?;
            Ok(1)
        }
    }

    /// Keep only the given languages and categories (empty slice = keep all).
    pub fn retain(&mut self, langs: &[Lang], categories: &[Category]) {
        self.lexicons.retain(|(l, c), _| {
            (langs.is_empty() || langs.contains(l))
                && (categories.is_empty() || categories.contains(c))
        });
    }

    /// The lexicons, in (language, category) order.
    pub fn iter(&self) -> impl Iterator<Item = &Lexicon> {
        self.lexicons.values()
    }

    /// The lexicons, by value, in the order of [`LexiconSet::iter`].
    pub fn into_lexicons(self) -> impl Iterator<Item = Lexicon> {
        self.lexicons.into_values()
    }

    /// Number of lexicons.
    pub fn len(&self) -> usize {
        self.lexicons.len()
    }

    /// Whether the set is empty.
    pub fn is_empty(&self) -> bool {
        self.lexicons.is_empty()
    }
}

/// A file in a directory named `cues` is a cue file (`lexicons/cues/<lang>.yaml`).
fn is_cue_file(path: &Path) -> bool {
    path.parent()
        .and_then(Path::file_name)
        .is_some_and(|d| d == "cues")
}

fn collect_yaml(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            collect_yaml(&path, out)?;
        } else if matches!(
            path.extension().and_then(|e| e.to_str()),
            Some("yaml" | "yml")
        ) {
            out.push(path);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = "lang: nl\ncategory: health\ndescription: test\nentries:\n  - id: nl.health.kanker\n    terms: [kanker]\n    match: prefix\n";

    /// The scan of every word at every position that the index replaces.
    fn check_naive<'c>(
        ctx: &'c Context,
        windows: [std::ops::Range<usize>; 2],
        tokens: &[&str],
    ) -> (bool, Option<&'c ContextWord>) {
        let mut required_seen = ctx.require.is_empty();
        let mut forbidden = None;
        for range in windows {
            for i in range.clone() {
                let toks = || tokens[i..range.end].iter().copied();
                if !required_seen && ctx.require.iter().any(|w| w.matches(toks())) {
                    required_seen = true;
                }
                if forbidden.is_none() {
                    forbidden = ctx.forbid.iter().find(|w| w.matches(toks()));
                }
            }
        }
        (required_seen, forbidden)
    }

    fn context_word(spec: &str) -> ContextWord {
        let prefix = spec.ends_with('*');
        let word = spec.trim_end_matches('*').to_string();
        ContextWord {
            parts: word.split(' ').map(str::to_string).collect(),
            word,
            prefix,
        }
    }

    proptest::proptest! {
        /// The indexed check finds what comparing every word at every position finds: the
        /// same required verdict and the same first forbidden word (the test's words share
        /// first parts, prefixes and case so that lookups, prefix words and ordering meet).
        #[test]
        fn context_index_equals_every_word_compared(
            tokens in proptest::collection::vec(
                proptest::sample::select(vec!["de", "De", "partij", "partijen", "stem", "stemt", "STEMT", "x", "mee"]),
                0..10,
            ),
            require in proptest::collection::vec(
                proptest::sample::select(vec!["partij", "stem*", "de partij", "de part*", "mee", "x x"]),
                0..4,
            ),
            forbid in proptest::collection::vec(
                proptest::sample::select(vec!["stemt", "de", "partij*", "de stem*", "x", "mee de"]),
                0..4,
            ),
            cut in 0usize..10,
        ) {
            let ctx = Context::new(
                2,
                require.iter().map(|w| context_word(w)).collect(),
                forbid.iter().map(|w| context_word(w)).collect(),
            );
            let cut = cut.min(tokens.len());
            let windows = [0..cut, cut..tokens.len()];
            let (req, forb) = ctx.check(windows.clone(), |i| tokens[i]);
            let (req_naive, forb_naive) = check_naive(&ctx, windows, &tokens);
            proptest::prop_assert_eq!(req, req_naive);
            proptest::prop_assert_eq!(forb.map(|w| w as *const ContextWord), forb_naive.map(|w| w as *const ContextWord));
        }
    }

    #[test]
    fn a_file_adds_to_its_lexicon_unless_it_says_replace() {
        let mut set = LexiconSet::builtin().unwrap();
        let builtin = set
            .iter()
            .find(|l| l.lang == Lang::Nl && l.category == Category::Health);
        let n = builtin.unwrap().entries.len();
        let extra = "lang: nl\ncategory: health\ndescription: x\nentries:\n  - id: nl.health.extra\n    terms: [extraziekte]\n";
        set.insert(Lexicon::from_yaml("extra.yaml", extra).unwrap())
            .unwrap();
        let merged = set
            .iter()
            .find(|l| l.lang == Lang::Nl && l.category == Category::Health);
        assert_eq!(merged.unwrap().entries.len(), n + 1);
        assert!(set.replaced().is_empty());
        // The same id again: an error naming where it is used, not a silent override.
        let e = set
            .insert(Lexicon::from_yaml("again.yaml", extra).unwrap())
            .unwrap_err();
        assert_eq!(e.line, Some(5), "{e}");
        assert!(
            e.message.contains("extra.yaml:5") && e.message.contains("replace: true"),
            "{e}"
        );
        // replace: true replaces, and says what.
        let repl = extra.replace("description: x\n", "description: x\nreplace: true\n");
        set.insert(Lexicon::from_yaml("repl.yaml", &repl).unwrap())
            .unwrap();
        let now = set
            .iter()
            .find(|l| l.lang == Lang::Nl && l.category == Category::Health);
        assert_eq!(now.unwrap().entries.len(), 1);
        let r = &set.replaced()[0];
        assert_eq!((r.by.as_str(), r.entries), ("repl.yaml", n + 1));
    }

    #[test]
    fn loads_a_good_file() {
        let lex = Lexicon::from_yaml("t.yaml", GOOD).unwrap();
        assert_eq!(lex.entries.len(), 1);
        assert_eq!(lex.entries[0].line, 5);
        assert_eq!(lex.entries[0].mode, MatchMode::Prefix);
    }

    #[test]
    fn unknown_key_is_an_error_with_line() {
        let yaml = format!("{GOOD}    colour: red\n");
        let e = Lexicon::from_yaml("t.yaml", &yaml).unwrap_err();
        assert_eq!(e.line, Some(8), "{e}");
        assert!(e.to_string().starts_with("t.yaml:8"), "{e}");
    }

    #[test]
    fn bad_id_names_entry_and_line() {
        let yaml = GOOD.replace("nl.health.kanker", "da.health.kanker");
        let e = Lexicon::from_yaml("t.yaml", &yaml).unwrap_err();
        assert_eq!(e.entry.as_deref(), Some("da.health.kanker"));
        assert_eq!(e.line, Some(5));
    }

    #[test]
    fn deep_nesting_is_refused() {
        let yaml = format!(
            "{GOOD}    examples: {}x{}\n",
            "[".repeat(40),
            "]".repeat(40)
        );
        assert!(Lexicon::from_yaml("t.yaml", &yaml).is_err());
    }

    /// Every built-in file was baked at build time, and reads back to exactly what its YAML
    /// gives (entries, lines, sources and all).
    #[test]
    fn baked_builtins_equal_their_yaml() {
        assert_eq!(BUILTIN.len(), BUILTIN_BAKED.len());
        for (&(path, yaml), baked) in BUILTIN.iter().zip(BUILTIN_BAKED) {
            let json = baked.unwrap_or_else(|| panic!("{path} was not baked"));
            // What validation gets, both ways (the compiled lexicons hold hash maps, whose
            // order differs from one build of them to the next).
            let file: LexiconFile = serde_saphyr::from_str_with_options(yaml, yaml_options())
                .unwrap_or_else(|e| panic!("{path}: {e}"));
            let from_yaml = BakedFile::from(file);
            let read_back: BakedFile = serde_json::from_str(json).unwrap();
            assert_eq!(format!("{from_yaml:?}"), format!("{read_back:?}"), "{path}");
            let (a, b) = (
                Lexicon::from_yaml(path, yaml).unwrap(),
                Lexicon::from_baked(path, json).unwrap(),
            );
            let lines = |l: &Lexicon| {
                l.entries
                    .iter()
                    .map(|e| (e.id.clone(), e.line))
                    .collect::<Vec<_>>()
            };
            assert_eq!(lines(&a), lines(&b), "{path}");
        }
    }

    /// A baked file that does not read back is an error naming the file, not a panic.
    #[test]
    fn bad_baked_file_is_an_error() {
        let e = Lexicon::from_baked("lexicons/x.yaml", "{\"lang\": \"nl\"}").unwrap_err();
        assert_eq!(e.path, "lexicons/x.yaml");
        assert!(e.message.contains("baked lexicon"), "{}", e.message);
    }

    #[test]
    fn builtin_lexicons_load() {
        let set = LexiconSet::builtin().unwrap();
        assert_eq!(set.len(), 21);
    }
}

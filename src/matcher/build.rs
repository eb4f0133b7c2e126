//! [`ScannerBuilder`]: lexicons to patterns, and the patterns split between the automata.

use super::*;

/// Builds a [`Scanner`] from lexicons.
#[derive(Clone, Debug, Default)]
pub struct ScannerBuilder {
    lexicons: LexiconSet,
    zero_copy_ascii: bool,
    /// `false` puts every pattern into the overlapping automaton (the reference the word-start
    /// split is tested against).
    all_overlapping: bool,
    /// The typo lane (issue 20): off by default.
    typos: bool,
    /// Word lists (one word a line) whose words are never typos, besides the built-in guard.
    typo_word_lists: Vec<String>,
}

impl ScannerBuilder {
    /// A builder with no lexicons.
    pub fn new() -> ScannerBuilder {
        ScannerBuilder::default()
    }

    /// A builder with the built-in lexicons.
    ///
    /// # Errors
    /// Only if a built-in lexicon is broken (ruled out by the test suite).
    pub fn builtin() -> Result<ScannerBuilder, LexiconError> {
        Ok(ScannerBuilder {
            lexicons: LexiconSet::builtin()?,
            zero_copy_ascii: false,
            all_overlapping: false,
            typos: false,
            typo_word_lists: Vec::new(),
        })
    }

    /// Use this lexicon set.
    pub fn lexicons(&mut self, set: LexiconSet) -> &mut ScannerBuilder {
        self.lexicons = set;
        self
    }

    /// Build the automaton ASCII case-insensitive and search plain ASCII notes in place,
    /// without the lowercase copy (default off: see the comment in `build`). The matcher's
    /// checks work either way; the tests compare both.
    #[doc(hidden)]
    pub fn zero_copy_ascii(&mut self, yes: bool) -> &mut ScannerBuilder {
        self.zero_copy_ascii = yes;
        self
    }

    /// Search every pattern with the overlapping automaton instead of walking word-start
    /// patterns from word starts. Same findings, slower; the reference for the tests.
    #[doc(hidden)]
    pub fn all_overlapping(&mut self, yes: bool) -> &mut ScannerBuilder {
        self.all_overlapping = yes;
        self
    }

    /// Also match words one typing error away from a term of six or more letters (two from
    /// ten or more): the typo lane, whose findings carry [`Evasion::Typo`]. Off by default;
    /// the exact path is the same code either way. See `LEXICONS.md` for its precision.
    pub fn typos(&mut self, yes: bool) -> &mut ScannerBuilder {
        self.typos = yes;
        self
    }

    /// Add a word list (one word a line; `#` starts a comment line) whose words the typo lane
    /// never takes for typos, besides its built-in guard (e.g. a Danish dictionary, which is
    /// not built in for its licence).
    pub fn typo_word_list(&mut self, text: String) -> &mut ScannerBuilder {
        self.typo_word_lists.push(text);
        self
    }

    /// The lexicon set, to add or restrict lexicons before building.
    pub fn lexicons_mut(&mut self) -> &mut LexiconSet {
        &mut self.lexicons
    }

    /// Compile the automaton. The result is immutable and cheap to clone.
    ///
    /// # Errors
    /// If no lexicon is loaded or the automaton cannot be built.
    pub fn build(&self) -> Result<Scanner, BuildError> {
        if self.lexicons.is_empty() {
            return Err(BuildError::Empty);
        }
        let mut entries: Vec<Entry> = Vec::new();
        for lex in self.lexicons.iter() {
            entries.extend(lex.entries.iter().cloned());
        }
        self.build_from(entries)
    }

    /// Like [`ScannerBuilder::build`], but moves the lexicons' entries into the scanner
    /// instead of copying them (for a builder used once: the command line's start-up).
    ///
    /// # Errors
    /// If no lexicon is loaded or the automaton cannot be built.
    pub fn into_scanner(self) -> Result<Scanner, BuildError> {
        if self.lexicons.is_empty() {
            return Err(BuildError::Empty);
        }
        let ScannerBuilder {
            lexicons,
            zero_copy_ascii,
            all_overlapping,
            typos,
            typo_word_lists,
        } = self;
        let options = ScannerBuilder {
            lexicons: LexiconSet::new(),
            zero_copy_ascii,
            all_overlapping,
            typos,
            typo_word_lists,
        };
        let count = lexicons.iter().map(|l| l.entries.len()).sum();
        let mut entries = Vec::with_capacity(count);
        for l in lexicons.into_lexicons() {
            entries.extend(l.entries);
        }
        options.build_from(entries)
    }

    /// The scanner over `entries`, in the order [`ScannerBuilder::build`] lists them.
    pub(super) fn build_from(&self, entries: Vec<Entry>) -> Result<Scanner, BuildError> {
        // Sized for every term up front: growing them was a tenth of building a term list.
        let terms: usize = entries.iter().map(|e| e.terms.len()).sum();
        let mut pattern_ids: HashMap<String, usize> = HashMap::with_capacity(terms);
        let mut patterns: Vec<String> = Vec::with_capacity(terms);
        let mut targets: Vec<Vec<Target>> = Vec::with_capacity(terms);
        let mut add = |p: String, t: Target| {
            let id = *pattern_ids.entry(p.clone()).or_insert_with(|| {
                patterns.push(p);
                targets.push(Vec::new());
                patterns.len() - 1
            });
            targets[id].push(t);
        };
        let mut keep_case = Vec::with_capacity(entries.len());
        for (ei, e) in entries.iter().enumerate() {
            let ei =
                u32::try_from(ei).map_err(|_| BuildError::Automaton("too many entries".into()))?;
            for (ti, term) in e.terms.iter().enumerate() {
                add(
                    normalize(term),
                    Target {
                        entry: ei,
                        term: ti as u32,
                    },
                );
            }
            keep_case.push(if e.case == CaseMode::Sensitive {
                e.terms.iter().map(|t| fold_keep_case(t)).collect()
            } else {
                Vec::new()
            });
        }
        // Split the patterns: one that stands only for word- or prefix-mode terms and
        // begins with a letter or digit can only be accepted where it starts a word, so it
        // goes to the anchored word-start automaton; the rest (suffix and compound terms,
        // terms beginning with punctuation) to the overlapping one.
        let mut anchored_ids = Vec::new();
        let mut unanchored_ids = Vec::new();
        for (id, (p, ts)) in patterns.iter().zip(&targets).enumerate() {
            let id =
                u32::try_from(id).map_err(|_| BuildError::Automaton("too many patterns".into()))?;
            let word_start_only = p.chars().next().is_some_and(is_word_char)
                && ts.iter().all(|t| {
                    matches!(
                        entries[t.entry as usize].mode,
                        MatchMode::Word | MatchMode::Prefix
                    )
                });
            if word_start_only && !self.all_overlapping {
                anchored_ids.push(id);
            } else {
                unanchored_ids.push(id);
            }
        }
        // Patterns are normalised, so lowercase; ASCII case-insensitivity lets the zero-copy
        // path search an ASCII note as it is (normalised text has no upper-case ASCII, so
        // on it this is the same as a case-sensitive search).
        let zero_copy = self.zero_copy_ascii;
        let automaton_error = |e: aho_corasick::BuildError| BuildError::Automaton(e.to_string());
        let anchored = if anchored_ids.is_empty() {
            None
        } else {
            Some(Anchored::new(&patterns, anchored_ids, zero_copy)?)
        };
        let ac = if unanchored_ids.is_empty() {
            None
        } else if self.all_overlapping {
            let ac = AhoCorasick::builder()
                .match_kind(MatchKind::Standard)
                .ascii_case_insensitive(zero_copy)
                .build(unanchored_ids.iter().map(|&i| &patterns[i as usize]))
                .map_err(automaton_error)?;
            Some(Unanchored::Overlapping {
                ac,
                ids: unanchored_ids,
            })
        } else {
            Some(Unanchored::Everywhere(Box::new(Anchored::new(
                &patterns,
                unanchored_ids,
                zero_copy,
            )?)))
        };
        let typos = self
            .typos
            .then(|| Box::new(TypoIndex::build(&entries, &self.typo_word_lists)));
        Ok(Scanner {
            inner: Arc::new(Inner {
                anchored,
                ac,
                targets,
                entries,
                keep_case,
                pattern_count: patterns.len(),
                zero_copy,
                typos,
            }),
        })
    }
}

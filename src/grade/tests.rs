use super::*;
use crate::lexicon::CueLexicon;

fn grader(yaml: &[&str]) -> Grader {
    let files: Vec<CueLexicon> = yaml
        .iter()
        .map(|y| CueLexicon::from_yaml("c.yaml", y).unwrap())
        .collect();
    Grader::new(&files)
}

fn note(g: &Grader, norm: &str) -> NoteWords {
    let mut out = NoteWords::default();
    let toks = tokens(norm);
    g.prepare(norm, norm, &toks, &mut out);
    // Every language's cues, for every token (a test grades in any language).
    g.look_up_cues(norm, &toks, None, [(0, norm.len())], &mut out);
    out
}

fn tokens(norm: &str) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut start = None;
    for (i, c) in norm.char_indices() {
        match (crate::normalize::is_word_char(c), start) {
            (true, None) => start = Some(i),
            (false, Some(s)) => {
                out.push((s, i));
                start = None;
            }
            _ => {}
        }
    }
    if let Some(s) = start {
        out.push((s, norm.len()));
    }
    out
}

const NL: &str = "lang: nl\ndescription: t\nfunction_words: [de, het, een, is, niet, heeft]\ncues:\n  - id: nl.cue.person\n    kind: person\n    words: [klant, mevr]\n  - id: nl.cue.org\n    kind: organisation\n    words: ['*vereniging', vraagt offerte]\n  - id: nl.cue.animal\n    kind: non_human\n    window: 3\n    words: [kat, hond*]\n";
const DA: &str = "lang: da\ndescription: t\nfunction_words: [det, er, ikke, og, de]\ncues: []\n";

fn span(norm: &str, term: &str, lang: Lang) -> Span {
    let start = norm.find(term).unwrap();
    Span {
        lang,
        category: Category::Health,
        base: Likelihood::Likely,
        start,
        end: start + term.len(),
        backed_by_note_lang: false,
    }
}

#[test]
fn detects_by_function_words_and_drops_shared_ones() {
    let g = grader(&[NL, DA]);
    let t = "de klant heeft het niet";
    assert_eq!(g.detect(t, t, &tokens(t)), Some(Lang::Nl));
    let t = "det er ikke godt";
    assert_eq!(g.detect(t, t, &tokens(t)), Some(Lang::Da));
    // "de" is in both lists and votes for neither; nothing else: und.
    let t = "de de de";
    assert_eq!(g.detect(t, t, &tokens(t)), None);
    // A tie is und; upper-case ASCII (the zero-copy path) is compared in lower case.
    let t = "HET IS det er";
    assert_eq!(g.detect(t, t, &tokens(t)), None);
    let t = "Het Is niet";
    assert_eq!(g.detect(t, t, &tokens(t)), Some(Lang::Nl));
}

#[test]
fn cues_move_the_base_strongest_per_direction() {
    let g = grader(&[NL, DA]);
    let t = "de klant heeft diabetes";
    let s = span(t, "diabetes", Lang::Nl);
    let mut moves = Vec::new();
    assert_eq!(
        g.grade(
            t,
            &tokens(t),
            &mut note(&g, t),
            Some(Lang::Nl),
            &s,
            &SpanIndex::default(),
            Some(&mut moves)
        ),
        Likelihood::VeryLikely
    );
    assert!(matches!(&moves[0], Move::Cue { id, counted: true, .. } if id == "nl.cue.person"));
    // Suffix word inside the finding's own word.
    let t = "diabetesvereniging vraagt offerte";
    let s = span(t, "diabetesvereniging", Lang::Nl);
    assert_eq!(
        g.grade(
            t,
            &tokens(t),
            &mut note(&g, t),
            None,
            &s,
            &SpanIndex::default(),
            None
        ),
        Likelihood::Unlikely
    );
    // Person and organisation: both count once.
    let t = "mevr van de diabetesvereniging vraagt offerte";
    let s = span(t, "diabetesvereniging", Lang::Nl);
    assert_eq!(
        g.grade(
            t,
            &tokens(t),
            &mut note(&g, t),
            None,
            &s,
            &SpanIndex::default(),
            None
        ),
        Likelihood::Possible
    );
    // The animal within its window of 3 words, not beyond.
    let t = "haar hondje heeft diabetes";
    let s = span(t, "diabetes", Lang::Nl);
    assert_eq!(
        g.grade(
            t,
            &tokens(t),
            &mut note(&g, t),
            None,
            &s,
            &SpanIndex::default(),
            None
        ),
        Likelihood::VeryUnlikely
    );
    let t = "hondje een twee drie vier diabetes";
    let s = span(t, "diabetes", Lang::Nl);
    assert_eq!(
        g.grade(
            t,
            &tokens(t),
            &mut note(&g, t),
            None,
            &s,
            &SpanIndex::default(),
            None
        ),
        Likelihood::Likely
    );
}

#[test]
fn language_disagreement_lowers_unless_backed() {
    let g = grader(&[NL, DA]);
    let t = "de slogan is niet pregnant";
    let mut s = span(t, "pregnant", Lang::En);
    let mut moves = Vec::new();
    assert_eq!(
        g.grade(
            t,
            &tokens(t),
            &mut note(&g, t),
            Some(Lang::Nl),
            &s,
            &SpanIndex::default(),
            Some(&mut moves)
        ),
        Likelihood::VeryUnlikely
    );
    assert_eq!(
        moves,
        [Move::Language {
            entry: Lang::En,
            note: Lang::Nl,
            shift: LANG_DISAGREEMENT
        }]
    );
    s.backed_by_note_lang = true;
    assert_eq!(
        g.grade(
            t,
            &tokens(t),
            &mut note(&g, t),
            Some(Lang::Nl),
            &s,
            &SpanIndex::default(),
            None
        ),
        Likelihood::Likely
    );
    // A function word of the entry's language near the finding: a quoted passage, no
    // disagreement ("het" votes for Dutch).
    let t = "det er ikke godt, citat: het is diabetes";
    let s = span(t, "diabetes", Lang::Nl);
    assert_eq!(
        g.grade(
            t,
            &tokens(t),
            &mut note(&g, t),
            Some(Lang::Da),
            &s,
            &SpanIndex::default(),
            None
        ),
        Likelihood::Likely
    );
    // Cues of another language than the note's do not apply.
    let t = "klant diabetes det er ikke";
    let s = span(t, "diabetes", Lang::Nl);
    assert_eq!(
        g.grade(
            t,
            &tokens(t),
            &mut note(&g, t),
            Some(Lang::Da),
            &s,
            &SpanIndex::default(),
            None
        ),
        Likelihood::VeryUnlikely
    );
}

#[test]
fn no_cue_files_keep_the_base() {
    let g = Grader::new(std::iter::empty());
    assert!(g.is_empty());
    let t = "de klant heeft diabetes";
    assert_eq!(g.detect(t, t, &tokens(t)), None);
}

/// The words of the labels art9 writes when masking (`[HEALTH]`, `[TRADE_UNION:4f1a9c]`) are
/// no cue words of the built-in cue files: masking one finding must not move another's
/// grade through its label.
#[test]
fn mask_labels_are_not_cue_words() {
    let set = crate::LexiconSet::builtin().unwrap();
    let files: Vec<&CueLexicon> = set.cues().collect();
    assert_eq!(files.len(), 3, "nl, da, en cue files are built in");
    for cat in Category::ALL {
        for part in cat.label().split('_') {
            let word = part.to_ascii_lowercase();
            for f in &files {
                for c in &f.cues {
                    assert!(
                        !c.words.iter().any(|w| w.parts.contains(&word)
                            || (w.prefix && word.starts_with(w.parts[0].as_str()))
                            || (w.suffix && word.ends_with(w.parts[0].as_str()))),
                        "{} lists a word of the mask label {}",
                        c.id,
                        cat.label()
                    );
                }
            }
        }
    }
}

proptest::proptest! {
    /// `SpanIndex::overlapping` finds exactly the ranges a pass over all of them finds.
    #[test]
    fn span_index_equals_a_full_pass(
        spans in proptest::collection::vec((0usize..60, 1usize..12), 0..40),
        lo in 0usize..70,
        len in 1usize..15,
    ) {
        let spans: Vec<(usize, usize)> = spans.into_iter().map(|(s, l)| (s, s + l)).collect();
        let hi = lo + len;
        let index = SpanIndex::new(spans.iter().copied());
        let mut got: Vec<usize> = index.overlapping(lo, hi).map(|(_, _, i)| i).collect();
        got.sort_unstable();
        let want: Vec<usize> = (0..spans.len())
            .filter(|&i| spans[i].0 < hi && lo < spans[i].1)
            .collect();
        proptest::prop_assert_eq!(got, want);
    }
}

/// The grade as the rule says it, by a pass over every cue word of every cue at every token
/// (no index): what [`Grader::grade`] must equal.
fn naive_grade(
    files: &[&CueLexicon],
    norm: &str,
    tokens: &[(usize, usize)],
    note_lang: Option<Lang>,
    span: &Span,
    findings: &SpanIndex,
) -> Likelihood {
    let first = tokens.partition_point(|&(_, te)| te <= span.start);
    let last = tokens.partition_point(|&(ts, _)| ts < span.end);
    let tok = |i: usize| &norm[tokens[i].0..tokens[i].1];
    let (mut up, mut down) = (0, 0);
    for f in files {
        if note_lang.is_some_and(|n| n != f.lang) {
            continue;
        }
        let widest = f.cues.iter().map(|c| c.window).max().unwrap_or(0);
        let (lo, hi) = (
            first.saturating_sub(widest),
            (last + widest).min(tokens.len()),
        );
        for c in &f.cues {
            if !(c.categories.is_empty() || c.categories.contains(&span.category)) {
                continue;
            }
            let open = |w: &CueWord| w.parts.len() == 1 && (w.prefix || w.suffix);
            let outside = (lo..first).chain(last..hi).any(|i| {
                let dist = if i < first { first - i } else { i - last + 1 };
                let side = match c.side {
                    Side::Both => true,
                    Side::Before => i < first,
                    Side::After => i >= last,
                };
                dist <= c.window
                    && side
                    && !in_other_finding(tokens[i], span, findings)
                    && c.words.iter().any(|w| {
                        if open(w) {
                            open_matches(w, tok(i).as_bytes())
                        } else {
                            phrase_matches(w, norm, &tokens[i..hi])
                        }
                    })
            });
            let inside = (first..last).any(|i| {
                c.words.iter().any(|w| {
                    (w.suffix
                        && w.parts.len() == 1
                        && open_matches(w, tok(i).as_bytes())
                        && !tok(i).eq_ignore_ascii_case(&w.parts[0]))
                        || (i != first
                            && !w.prefix
                            && !w.suffix
                            && w.parts.len() == 1
                            && c.kind != CueKind::NonHuman
                            && tok(i).eq_ignore_ascii_case(&w.parts[0]))
                })
            });
            if outside || inside {
                if c.shift > 0 {
                    up = up.max(c.shift);
                } else {
                    down = down.min(c.shift);
                }
            }
        }
    }
    let mut shift = up + down;
    if let Some(n) = note_lang {
        let near = first.saturating_sub(LOCAL_WINDOW)..(last + LOCAL_WINDOW).min(tokens.len());
        let votes_own = near.into_iter().any(|i| {
            let langs: Vec<Lang> = files
                .iter()
                .filter(|f| {
                    f.function_words
                        .iter()
                        .any(|w| w.eq_ignore_ascii_case(tok(i)))
                })
                .map(|f| f.lang)
                .collect();
            langs.iter().all(|&l| l == span.lang) && !langs.is_empty()
        });
        if n != span.lang && !span.backed_by_note_lang && !votes_own {
            shift += LANG_DISAGREEMENT;
        }
    }
    span.base.shifted(shift)
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(400))]
    /// The indexed grade (one lookup per token, per note) equals the naive pass over every
    /// cue word, on notes made of the built-in cue words, function words and others, with
    /// other findings around.
    #[test]
    fn grade_equals_a_naive_pass(
        picks in proptest::collection::vec(0usize..10_000, 1..40),
        at in 0usize..40,
        len in 1usize..4,
        others in proptest::collection::vec((0usize..40, 1usize..3), 0..3),
        lang in 0usize..4,
        entry_lang in 0usize..3,
        backed: bool,
        upper: bool,
    ) {
        static SET: std::sync::OnceLock<crate::LexiconSet> = std::sync::OnceLock::new();
        let set = SET.get_or_init(|| crate::LexiconSet::builtin().unwrap());
        let files: Vec<&CueLexicon> = set.cues().collect();
        let g = Grader::new(files.iter().copied());
        let mut vocab: Vec<String> = ["diabetes", "kraeft", "x", "7", "kunden"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        for f in &files {
            vocab.extend(f.function_words.iter().take(30).cloned());
            for c in &f.cues {
                for w in &c.words {
                    vocab.extend(w.parts.iter().cloned());
                    if w.suffix {
                        vocab.push(format!("diabetes{}", w.parts[0]));
                    }
                    if w.prefix {
                        vocab.push(format!("{}en", w.parts[0]));
                    }
                }
            }
        }
        let words: Vec<String> = picks
            .iter()
            .map(|&p| {
                let w = vocab[p % vocab.len()].clone();
                if upper { w.to_ascii_uppercase() } else { w }
            })
            .collect();
        let norm = words.join(" ");
        let toks = tokens(&norm);
        let a = at % toks.len();
        let b = (a + len).min(toks.len());
        let span = Span {
            lang: Lang::ALL[entry_lang],
            category: Category::ALL[picks[0] % Category::ALL.len()],
            base: Likelihood::Possible,
            start: toks[a].0,
            end: toks[b - 1].1,
            backed_by_note_lang: backed,
        };
        let mut spans = vec![(span.start, span.end)];
        for (o, l) in others {
            let o = o % toks.len();
            spans.push((toks[o].0, toks[(o + l).min(toks.len()) - 1].1));
        }
        let findings = SpanIndex::new(spans.iter().copied());
        let note_lang = Lang::ALL.get(lang).copied();
        let mut note = NoteWords::default();
        g.prepare(&norm, &norm, &toks, &mut note);
        // Cues near the note's findings only, of the language graded in.
        g.look_up_cues(&norm, &toks, note_lang, spans.iter().copied(), &mut note);
        let got = g.grade(&norm, &toks, &mut note, note_lang, &span, &findings, None);
        let want = naive_grade(&files, &norm, &toks, note_lang, &span, &findings);
        proptest::prop_assert_eq!(got, want, "{}", norm);
    }
}

#[test]
fn shared_words_vote_for_both_and_spellings_decide_the_rest() {
    let nl = NL
        .replace("cues:\n", "spellings: ['*heid', '*ij*']\ncues:\n")
        .replace("[de, het,", "[de, op, het,");
    let da = DA
        .replace("cues: []", "letters: [æ, ø]\ncues: []")
        .replace("[det,", "[op, det,");
    let en =
        "lang: en\ndescription: t\nfunction_words: [the, op]\nspellings: ['*ness']\ncues: []\n";
    let g = grader(&[&nl, &da, en]);
    // "de" is Dutch and Danish: it votes for both, and "the" decides.
    let t = "de the";
    assert_eq!(
        g.detect(t, t, &tokens(t)),
        None,
        "one vote each for nl, da, en"
    );
    let t = "de het";
    assert_eq!(g.detect(t, t, &tokens(t)), Some(Lang::Nl));
    // "op" is in all three files: no vote.
    let t = "op op op";
    assert_eq!(g.detect(t, t, &tokens(t)), None);
    // Undecided: spellings and letters vote (letters in the text as written).
    let t = "Vrijheid";
    assert_eq!(g.detect(t, t, &tokens(t)), Some(Lang::Nl));
    let (text, norm) = ("Ærøskøbing", "aeroeskoebing");
    assert_eq!(g.detect(text, norm, &tokens(norm)), Some(Lang::Da));
    let t = "Kindness";
    assert_eq!(g.detect(t, t, &tokens(t)), Some(Lang::En));
    // An ending needs three more letters than itself; a function word counts twice.
    let t = "heid";
    assert_eq!(g.detect(t, t, &tokens(t)), None);
    let t = "the vrijheid";
    assert_eq!(g.detect(t, t, &tokens(t)), Some(Lang::En));
}

proptest::proptest! {
    /// The hash of a word inside a note (eight bytes read a step, masked) is the hash of the
    /// word alone, and ignores ASCII case.
    #[test]
    fn hash_in_place_equals_hash_of_the_word(
        note in "[a-zA-Z0-9æøåé ]{0,40}",
        s in 0usize..40,
        len in 1usize..20,
    ) {
        let b = note.as_bytes();
        let s = s.min(b.len());
        let e = (s + len).min(b.len());
        proptest::prop_assert_eq!(hash_at(b, s, e), word_hash(&b[s..e]));
        let upper = note.to_ascii_uppercase();
        proptest::prop_assert_eq!(hash_at(upper.as_bytes(), s, e), word_hash(&b[s..e]));
    }
}

proptest::proptest! {
    /// The eight-bytes-a-step comparison of a stored word with a token equals an ASCII
    /// case-insensitive comparison, also for non-ASCII bytes that differ in the case bit.
    #[test]
    fn eq_at_equals_eq_ignore_ascii_case(
        word in "[a-z0-9éÉаР]{1,20}",
        note in "[a-zA-Z0-9éÉаР ]{0,30}",
        s in 0usize..30,
        len in 1usize..20,
        same: bool,
    ) {
        let b = if same { format!("x {word} y") } else { note };
        let bytes = b.as_bytes();
        let s = if same { 2 } else { s.min(bytes.len()) };
        let e = if same { 2 + word.len() } else { (s + len).min(bytes.len()) };
        let mut padded = word.clone().into_bytes();
        padded.extend_from_slice(&[0; 8]);
        proptest::prop_assert_eq!(
            eq_at(&padded, bytes, s, e),
            word.as_bytes().eq_ignore_ascii_case(&bytes[s..e])
        );
    }
}

#[test]
fn fallback_names_what_the_vote_leaves_undecided_only_when_sure() {
    let en = "lang: en\ndescription: t\nfunction_words: [the, is]\ncues: []\n";
    let g = grader(&[NL, DA, en]);
    // No function word: the vote is undecided, whatlang's trigrams decide.
    for (t, lang) in [
        (
            "Booking amended to three nights, late checkout noon.",
            Lang::En,
        ),
        ("Geschiedenis", Lang::Nl),
        (
            "Konservativt estimat for tredje kvartal, sandsynligt.",
            Lang::Da,
        ),
    ] {
        assert_eq!(g.detect(t, t, &tokens(t)), None, "{t}");
        assert_eq!(g.fallback(t), Some(lang), "{t}");
        assert_eq!(g.detect_or_guess(t, t, &tokens(t)), Some(lang), "{t}");
    }
    // A first name, figures, nothing sure: no guess (whatlang names English by its order
    // when no trigram tells the languages apart; that is no evidence).
    for t in ["Rob", "12:30 14/05", "", "---"] {
        assert_eq!(g.fallback(t), None, "{t:?}");
    }
    // The vote comes first.
    let t = "de klant heeft het niet, late checkout noon";
    assert_eq!(g.detect_or_guess(t, t, &tokens(t)), Some(Lang::Nl));
    // Only the languages of the cue files: an English line to a Dutch-only grader.
    let nl_only = grader(&[NL]);
    let t = "Booking amended to three nights, late checkout noon.";
    assert_ne!(nl_only.fallback(t), Some(Lang::En));
    assert_eq!(grader(&[]).fallback(t), None);
}

proptest::proptest! {
    /// The packed word table answers as a plain map with ASCII case ignored: for short and
    /// long words, ASCII or not, and tokens that differ from a word only in the case bit of
    /// a non-ASCII byte; with each word's function bits and its cue words. The lookup of
    /// a padded note ([`WordTable::look`]) answers alike.
    #[test]
    fn word_table_equals_a_plain_map(
        words in proptest::collection::vec(("[a-z0-9æéаР]{1,20}", 0u8..8, proptest::collection::vec(0u32..100, 0..3)), 0..30),
        probes in proptest::collection::vec("[a-zA-Z0-9æÆéÉаР]{1,20}", 0..30),
        upper: bool,
    ) {
        let map: HashMap<String, (u8, Vec<u32>)> =
            words.iter().map(|(w, b, c)| (w.clone(), (*b, c.clone()))).collect();
        let table = WordTable::build(map.clone());
        let mut all: Vec<String> = map.keys().cloned().collect();
        all.extend(probes);
        for w in all {
            let tok = if upper { w.to_ascii_uppercase() } else { w.clone() };
            let note = format!("x {tok} y");
            let (want_bits, mut want_refs) = map
                .iter()
                .filter(|(k, _)| k.as_bytes().eq_ignore_ascii_case(tok.as_bytes()))
                .fold((0u8, Vec::<u32>::new()), |(bits, mut refs), (_, (b, c))| {
                    refs.extend(c);
                    (bits | b, refs)
                });
            let got = table.get(note.as_bytes(), 2, 2 + tok.len());
            let mut got_refs = table.refs(got.refs).to_vec();
            got_refs.sort_unstable();
            want_refs.sort_unstable();
            proptest::prop_assert_eq!(got.function, want_bits, "{}", tok);
            proptest::prop_assert_eq!(got_refs, want_refs, "{}", tok);
            // The padded lookup of the same token, at the note's end or not, answers alike.
            for note in [note.clone(), format!("x {tok}")] {
                let mut pad = note.clone().into_bytes();
                pad.extend_from_slice(&[0; 16]);
                proptest::prop_assert_eq!(table.look(&pad, 2, 2 + tok.len()), got, "{}", tok);
                let mut all = Vec::new();
                let votes = table.look_all(&pad, &[(0, 1), (2, 2 + tok.len())], &VOTES, &mut all);
                proptest::prop_assert_eq!(&all[1..], &[got][..], "{}", tok);
                let want_votes = VOTES[usize::from(all[0].function & 7)]
                    + VOTES[usize::from(got.function & 7)];
                proptest::prop_assert_eq!(votes, want_votes, "{}", tok);
            }
        }
    }
}

/// The multiplication that gathers a head's function bits answers as three shifts.
#[test]
fn function_bits_gathered_by_one_multiplication() {
    for h in words::TEST_HEADS
        .iter()
        .flat_map(|&w| (0..8u64).map(move |b| (w, b)))
    {
        let (w, bits) = h;
        let head = (w & !words::FUNCTION_MASK)
            | (bits & 1) << 7
            | (bits >> 1 & 1) << 15
            | (bits >> 2 & 1) << 23;
        assert_eq!(u64::from(words::function_bits(head)), bits, "{head:#x}");
    }
}

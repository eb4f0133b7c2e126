use super::*;
use crate::lexicon::CueLexicon;

fn grader(yaml: &[&str]) -> Grader {
    let files: Vec<CueLexicon> = yaml
        .iter()
        .map(|y| CueLexicon::from_yaml("c.yaml", y).unwrap())
        .collect();
    Grader::new(&files)
}

fn hashes(norm: &str) -> Vec<u64> {
    let mut out = Vec::new();
    hash_tokens(norm, &tokens(norm), &mut out);
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
    assert_eq!(g.detect(t, &tokens(t)), Some(Lang::Nl));
    let t = "det er ikke godt";
    assert_eq!(g.detect(t, &tokens(t)), Some(Lang::Da));
    // "de" is in both lists and votes for neither; nothing else: und.
    let t = "de de de";
    assert_eq!(g.detect(t, &tokens(t)), None);
    // A tie is und; upper-case ASCII (the zero-copy path) is compared in lower case.
    let t = "HET IS det er";
    assert_eq!(g.detect(t, &tokens(t)), None);
    let t = "Het Is niet";
    assert_eq!(g.detect(t, &tokens(t)), Some(Lang::Nl));
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
            &hashes(t),
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
            &hashes(t),
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
            &hashes(t),
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
            &hashes(t),
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
            &hashes(t),
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
            &hashes(t),
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
            &hashes(t),
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
            &hashes(t),
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
            &hashes(t),
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
    assert_eq!(g.detect(t, &tokens(t)), None);
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

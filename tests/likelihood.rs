//! Likelihood and note language (issue 19), end to end through the library: grading moves
//! grades and never what is matched; thresholds in policies, the service and masking.

use art9::service::{Engine, Limits, Op, Request};
use art9::{CompiledPolicy, Lang, LexiconSet, Likelihood, Scanner, ScannerBuilder};
use proptest::prelude::*;
use std::sync::OnceLock;

fn builtin() -> &'static Scanner {
    static S: OnceLock<Scanner> = OnceLock::new();
    S.get_or_init(|| Scanner::builtin().expect("built-in lexicons"))
}

/// The built-in lexicons without their cue files: every finding keeps its entry's base.
fn without_cues() -> &'static Scanner {
    static S: OnceLock<Scanner> = OnceLock::new();
    S.get_or_init(|| {
        let mut set = LexiconSet::builtin().expect("built-in lexicons");
        set.clear_cues();
        ScannerBuilder::new()
            .lexicons(set)
            .build()
            .expect("scanner")
    })
}

fn grade_of(note: &str, span: &str) -> (Likelihood, Option<Lang>) {
    let f = builtin().scan(note);
    let f = f
        .iter()
        .find(|f| &note[f.start..f.end] == span)
        .unwrap_or_else(|| panic!("{span:?} not found in {note:?}"));
    (f.likelihood, f.note_lang)
}

#[test]
fn person_organisation_and_non_human() {
    let person = grade_of(
        "Mevr. Jansen heeft diabetes, levering liever 's middags.",
        "diabetes",
    );
    assert!(person.0 >= Likelihood::Likely, "{person:?}");
    assert_eq!(person.1, Some(Lang::Nl));
    let org = grade_of(
        "Diabetesvereniging regio Utrecht vraagt een offerte voor 500 folders.",
        "Diabetesvereniging",
    );
    assert!(org.0 < Likelihood::Possible, "{org:?}");
    let cat = grade_of(
        "Fru Vestergaard vil have levering om formiddagen, da hendes kat har sukkersyge.",
        "sukkersyge",
    );
    assert!(cat.0 < Likelihood::Possible, "{cat:?}");
    assert_eq!(cat.1, Some(Lang::Da));
    let party = grade_of(
        "Hove Labour Party wants catering for a fundraiser, 80 guests, quote sent.",
        "Labour Party",
    );
    assert!(party.0 < Likelihood::Possible, "{party:?}");
    let member = grade_of(
        "Mrs Hughes is a Labour Party member and wants a new kitchen.",
        "Labour Party",
    );
    assert!(member.0 >= Likelihood::Possible, "{member:?}");
}

#[test]
fn another_languages_entry_is_lowered_unless_shared_or_quoted() {
    // An English entry in a Dutch note.
    let (l, lang) = grade_of(
        "Klant vindt de slogan voor de busreclame niet pregnant genoeg, versie 2 volgt.",
        "pregnant",
    );
    assert_eq!(lang, Some(Lang::Nl));
    assert!(l < Likelihood::Possible, "{l:?}");
    // Shared vocabulary: the note's own entry is reported.
    let note = "She is a devout Muslim and prefers a female engineer.";
    let f = builtin().scan(note);
    assert_eq!((f[0].lang, f[0].note_lang), (Lang::En, Some(Lang::En)));
    assert!(f[0].likelihood >= Likelihood::Likely);
    // A quoted Danish reply in an English note keeps its grade.
    let (l, lang) = grade_of(
        "Auto-reply from Lars at the Aarhus office: 'jeg er sygemeldt', chasing his colleague.",
        "sygemeldt",
    );
    assert_eq!(lang, Some(Lang::En));
    assert!(l >= Likelihood::Possible, "{l:?}");
}

#[test]
fn an_undecided_note_reports_the_fallback_guess_but_is_graded_as_und() {
    let s = builtin();
    // No function word: the vote leaves these undecided; whatlang's trigrams name them.
    for (note, lang) in [
        ("Suikerziekte, insulinepomp vervangen.", Lang::Nl),
        ("Sukkersyge, insulinpumpe udskiftet.", Lang::Da),
        ("Diabetic, insulin pump replaced.", Lang::En),
    ] {
        assert_eq!(s.note_lang_vote(note), None, "{note}");
        assert_eq!(s.note_lang(note), Some(lang), "{note}");
        let f = s.scan(note);
        assert!(!f.is_empty(), "{note}");
        assert!(f.iter().all(|f| f.note_lang == Some(lang)), "{note}: {f:?}");
    }
    // The guess does not grade: the Danish entry in the note reported as English has no
    // language disagreement (the vote left it `und`), and explain says how it was graded.
    let x = s.explain("Diabetic, insulin pump replaced.");
    let da = x
        .iter()
        .find(|x| x.graded.is_some() && s.entry(x.entry).lang == Lang::Da)
        .expect("a Danish entry accepted");
    assert_eq!((da.note_lang, da.note_lang_vote), (Some(Lang::En), None));
    let graded = da.graded.as_ref().expect("graded");
    assert!(
        !graded
            .moves
            .iter()
            .any(|m| matches!(m, art9::grade::Move::Language { .. })),
        "{graded:?}"
    );
    // A name and a term: no guess.
    assert_eq!(s.note_lang("Peter Jansen, diabetes"), None);
}

fn respond(engine: &Engine, op: Op, text: &str, min: Option<Likelihood>) -> serde_json::Value {
    let req = Request {
        text: Some(text.to_string()),
        min_likelihood: min,
        ..Request::default()
    };
    let r = engine.handle(op, req, &Limits::default()).expect("answer");
    serde_json::to_value(r).expect("json")
}

#[test]
fn thresholds_in_the_service_and_the_policy() {
    let note = "Diabetesvereniging regio Utrecht vraagt een offerte. Klant heeft diabetes.";
    let engine = Engine::new(builtin().clone(), CompiledPolicy::default_policy());
    // Default `possible`: only the customer's diabetes is masked.
    let v = respond(&engine, Op::Check, note, None);
    assert_eq!(
        v["text"],
        "Diabetesvereniging regio Utrecht vraagt een offerte. Klant heeft [HEALTH]."
    );
    assert_eq!(v["findings"].as_array().map(Vec::len), Some(1));
    assert_eq!(v["findings"][0]["note_lang"], "nl");
    // Every finding, with its grade.
    let v = respond(&engine, Op::Scan, note, Some(Likelihood::VeryUnlikely));
    let grades: Vec<&str> = v["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .map(|f| f["likelihood"].as_str().expect("likelihood"))
        .collect();
    assert_eq!(grades.len(), 2, "{v}");
    assert!(
        grades.contains(&"very_unlikely") || grades.contains(&"unlikely"),
        "{v}"
    );
    // A policy that acts on everything masks both.
    let all = CompiledPolicy::from_yaml(
        "t",
        "default: {action: mask, style: label, min_likelihood: very_unlikely}\n",
    )
    .expect("policy");
    let engine = Engine::new(builtin().clone(), all);
    let v = respond(&engine, Op::Check, note, None);
    assert_eq!(
        v["text"],
        "[HEALTH] regio Utrecht vraagt een offerte. Klant heeft [HEALTH]."
    );
    // Per category, inherited by fields, and checked.
    let p = CompiledPolicy::from_yaml(
        "t",
        "default: {action: mask, min_likelihood: likely}\ncategories:\n  health: {action: mask, min_likelihood: unlikely}\n  religion: {action: flag}\nfields:\n  notes:\n    religion: {action: reject}\n",
    )
    .expect("policy");
    assert_eq!(
        p.min_likelihood(None, art9::Category::Health),
        Likelihood::Unlikely
    );
    assert_eq!(
        p.min_likelihood(None, art9::Category::Religion),
        Likelihood::Likely
    );
    assert_eq!(
        p.min_likelihood(Some("notes"), art9::Category::Religion),
        Likelihood::Likely
    );
    let bad = CompiledPolicy::from_yaml("t", "default: {action: mask, min_likelihood: sure}\n");
    assert!(bad.is_err());
}

fn piece() -> impl Strategy<Value = &'static str> {
    proptest::sample::select(vec![
        "Mevr.",
        "klant",
        "heeft",
        "diabetes",
        "kanker",
        "vereniging",
        "stichting",
        "B.V.",
        "kat",
        "hond",
        "the",
        "customer",
        "has",
        "cancer",
        "association",
        "Ltd",
        "dog",
        "kunden",
        "har",
        "kræft",
        "foreningen",
        "hunden",
        "moslim",
        "Muslim",
        "FNV",
        "Unite",
        "branch",
        "offerte",
        "quote",
        "tilbud",
        "pregnant",
        "sygemeldt",
        "jeg",
        "er",
        "het",
        "[HEALTH]",
        " ",
        ", ",
        ". ",
        "\n",
        "é",
        "😀",
    ])
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    /// Grading runs after matching and changes only grades (and, for shared vocabulary, which
    /// entry of the same category is named): the same spans and categories with or without
    /// cue files, every finding graded, and the note's language the same for all of them.
    #[test]
    fn grading_never_changes_what_is_matched(parts in proptest::collection::vec(piece(), 0..24)) {
        let text: String = parts.concat();
        let graded = builtin().scan(&text);
        let plain = without_cues().scan(&text);
        let spans = |v: &[art9::Finding]| {
            v.iter().map(|f| (f.start, f.end, f.char_start, f.char_end, f.category)).collect::<Vec<_>>()
        };
        prop_assert_eq!(spans(&graded), spans(&plain));
        for f in &plain {
            prop_assert_eq!(f.note_lang, None);
            prop_assert_eq!(f.likelihood, builtin().entry(f.entry).likelihood);
        }
        if let Some(first) = graded.first() {
            prop_assert!(graded.iter().all(|f| f.note_lang == first.note_lang));
            prop_assert_eq!(first.note_lang, builtin().note_lang(&text));
        }
    }
}

//! Flat term lists (`term<TAB>lang<TAB>category`), the format `art9 lexicon export` writes
//! and peer benchmarks read (`shared/bench/lexicon-terms.tsv`).
//!
//! A term list becomes one [`Lexicon`] per (language, category) with **one entry per term
//! and language**: match mode `word`, case-insensitive, no endings, exclusions or context.
//! A term listed for several languages (`da,en,nl`) becomes an entry in each of those
//! lexicons, so `--lang` filters a term list like it filters the built-ins; the automaton
//! holds the normalised term once, and overlap resolution reports one finding per span.
//! Entry ids are `<lang>.<category>.line<N>` (the line in the file), so they name no term.

use std::collections::BTreeMap;

use super::load::{Entry, Lexicon, LexiconError, LexiconSet};
use super::model::{CaseMode, MatchMode};
use crate::category::{Category, Lang};
use crate::normalize::normalize;

impl LexiconSet {
    /// Build a lexicon set from a tab-separated term list with the header
    /// `term, lang, category` (columns in that order; `lang` may list several, comma-separated).
    /// Blank lines and lines starting with `#` are ignored. `path` is used in errors only.
    ///
    /// # Errors
    /// A missing or wrong header, a row without three columns, an unknown language or
    /// category, or a term that is empty after normalisation (with the line; never the term).
    pub fn from_terms_tsv(path: &str, text: &str) -> Result<LexiconSet, LexiconError> {
        let err = |line: usize, message: String| LexiconError {
            path: path.to_string(),
            line: Some(line),
            entry: None,
            message,
        };
        let mut lines = text.lines().enumerate().map(|(i, l)| (i + 1, l));
        let header = lines
            .by_ref()
            .find(|(_, l)| !l.trim().is_empty() && !l.starts_with('#'));
        match header {
            Some((n, h)) => {
                let cols: Vec<&str> = h.split('\t').map(str::trim).collect();
                if cols != ["term", "lang", "category"] {
                    return Err(err(
                        n,
                        "header must be term<TAB>lang<TAB>category".to_string(),
                    ));
                }
            }
            None => return Err(err(1, "empty term list".to_string())),
        }
        let mut by_pair: BTreeMap<(Lang, Category), Vec<Entry>> = BTreeMap::new();
        for (n, line) in lines {
            let line = line.strip_suffix('\r').unwrap_or(line);
            if line.trim().is_empty() || line.starts_with('#') {
                continue;
            }
            let mut cols = line.split('\t');
            let (Some(term), Some(langs), Some(category), None) =
                (cols.next(), cols.next(), cols.next(), cols.next())
            else {
                return Err(err(
                    n,
                    format!(
                        "expected 3 tab-separated columns, found {}",
                        line.split('\t').count()
                    ),
                ));
            };
            let category: Category = category
                .trim()
                .parse()
                .map_err(|e: crate::category::UnknownCategory| err(n, e.to_string()))?;
            let term = term.trim();
            if normalize(term).trim().is_empty() {
                return Err(err(n, "term is empty after normalisation".to_string()));
            }
            for lang in langs.split(',') {
                let lang: Lang = lang
                    .trim()
                    .parse()
                    .map_err(|e: crate::category::UnknownLang| err(n, e.to_string()))?;
                // Built by hand: `format!` was a third of loading a 5,000-term list.
                let mut id = String::with_capacity(32);
                id.push_str(lang.as_str());
                id.push('.');
                id.push_str(category.as_str());
                id.push_str(".line");
                id.push_str(&n.to_string());
                by_pair.entry((lang, category)).or_default().push(Entry {
                    id,
                    lang,
                    category,
                    path: path.to_string(),
                    line: n,
                    terms: vec![term.to_string()],
                    mode: MatchMode::Word,
                    case: CaseMode::Insensitive,
                    endings: Vec::new(),
                    exclude: Vec::new(),
                    context: None,
                    examples: Vec::new(),
                    counterexamples: Vec::new(),
                    typos: true,
                });
            }
        }
        let mut set = LexiconSet::new();
        for ((lang, category), entries) in by_pair {
            set.lexicons.insert(
                (lang, category),
                Lexicon {
                    path: path.to_string(),
                    lang,
                    category,
                    description: format!("term list {path}"),
                    sources: Vec::new(),
                    replace: false,
                    entries,
                },
            );
        }
        if set.is_empty() {
            return Err(err(1, "no terms".to_string()));
        }
        Ok(set)
    }

    /// Read a term list file; see [`LexiconSet::from_terms_tsv`].
    ///
    /// # Errors
    /// If the file cannot be read (or is over [`super::MAX_YAML_BYTES`]) or does not parse.
    pub fn from_terms_file(path: &std::path::Path) -> Result<LexiconSet, LexiconError> {
        let shown = path.display().to_string();
        let text = crate::yaml::read_yaml_file(path).map_err(|message| LexiconError {
            path: shown.clone(),
            line: None,
            entry: None,
            message,
        })?;
        LexiconSet::from_terms_tsv(&shown, &text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ScannerBuilder;

    #[test]
    fn term_list_builds_a_word_mode_scanner() {
        let tsv = "term\tlang\tcategory\ndiabetes\tda,en,nl\thealth\nVVD'er\tnl\tpolitics\n";
        let set = LexiconSet::from_terms_tsv("t.tsv", tsv).unwrap();
        assert_eq!(set.len(), 4);
        let ids: Vec<&str> = set
            .iter()
            .flat_map(|l| l.entries.iter().map(|e| e.id.as_str()))
            .collect();
        assert!(ids.contains(&"da.health.line2"), "{ids:?}");
        assert!(ids.contains(&"nl.politics.line3"), "{ids:?}");
        let s = ScannerBuilder::new().lexicons(set).build().unwrap();
        let text = "DIABETES en een VVD\u{2019}er, geen diabetespatient";
        let f = s.scan(text);
        assert_eq!(f.len(), 2);
        assert_eq!(&text[f[0].start..f[0].end], "DIABETES");
        assert_eq!(&text[f[1].start..f[1].end], "VVD\u{2019}er");
    }

    #[test]
    fn bad_rows_name_the_line_not_the_term() {
        let e = LexiconSet::from_terms_tsv("t.tsv", "term\tlang\tcategory\nkanker\txx\thealth\n")
            .unwrap_err();
        assert_eq!(e.line, Some(2));
        assert!(!e.to_string().contains("kanker"), "{e}");
        let e = LexiconSet::from_terms_tsv("t.tsv", "term\tlang\nkanker\tnl\n").unwrap_err();
        assert_eq!(e.line, Some(1));
        for (row, found) in [
            ("kanker\tnl", 2),
            ("kanker\tnl\thealth\textra", 4),
            ("kanker", 1),
        ] {
            let tsv = format!("term\tlang\tcategory\ndiabetes\ten\thealth\n{row}\n");
            let e = LexiconSet::from_terms_tsv("t.tsv", &tsv).unwrap_err();
            assert_eq!(e.line, Some(3), "{e}");
            let shown = e.to_string();
            assert!(shown.contains(&format!("found {found}")), "{shown}");
            assert!(!shown.contains("kanker"), "{shown}");
        }
    }
}

//! The note-language fallback ([`super::Grader::fallback`]): whatlang's "combined" method
//! (alphabet and character-trigram scores) restricted to Dutch, Danish and English, computed
//! here for text in the Latin script and by whatlang itself for any other.
//!
//! The answers are whatlang 0.18's, bit for bit (a property test compares them); what
//! differs is the cost. whatlang looks up each of a language's 300 profile trigrams in a
//! hash map of the text's trigrams: 900 lookups a note for three languages, ~79,000
//! instructions whatever the note's length, 10% of the grading's instructions on a
//! `--terms` scan though it runs for 1 graded note in 75. Here each of the text's trigrams
//! (a CRM note has a few dozen) is looked up once, in one map of the three profiles.
//!
//! The profiles below are whatlang's (<https://github.com/greyblake/whatlang-rs>, MIT
//! licence, © Sergey Potapov and contributors), `_` standing for a space.

use std::cmp::Reverse;
use std::collections::HashMap;

use crate::category::Lang;

/// Longest distance of a trigram between a profile and a text (whatlang's
/// `MAX_TRIGRAM_DISTANCE`).
const MAX_TRIGRAM_DISTANCE: u32 = 300;
/// whatlang's `MAX_TOTAL_DISTANCE`.
const MAX_TOTAL_DISTANCE: u32 = MAX_TRIGRAM_DISTANCE * MAX_TRIGRAM_DISTANCE;
/// The text's most frequent trigrams that count (whatlang's `TEXT_TRIGRAMS_SIZE`).
const TEXT_TRIGRAMS: usize = 600;

/// whatlang's Latin alphabets of the three languages.
const EN_ALPHABET: &str = "abcdefghijklmnopqrstuvwxyz";
const NL_ALPHABET: &str = "abcdefghijklmnopqrstuvwxyzàèéëïĳ";
const DA_ALPHABET: &str = "abcdefghijklmnopqrstuvwxyzåæø";

/// The languages in whatlang's order (of its Latin alphabets and of its trigram profiles,
/// the same for these three), which decides ties as whatlang does.
const ORDER: [Lang; 3] = [Lang::En, Lang::Nl, Lang::Da];

/// The fallback detector for a set of languages.
#[derive(Clone, Debug)]
pub(super) struct Fallback {
    /// The languages answered, in [`ORDER`].
    langs: Vec<Lang>,
    /// Each language's alphabet, sorted.
    alphabets: Vec<Vec<char>>,
    /// Each language's profile length.
    profile_len: Vec<u32>,
    /// A trigram ([`pack`]) to its rank in each language's profile (`u16::MAX`: absent).
    ranks: HashMap<u64, [u16; 3]>,
    /// For text not in the Latin script.
    whatlang: whatlang::Detector,
}

/// A trigram as one integer ordered as whatlang orders its trigrams (by the first char,
/// then the second, then the third).
fn pack(a: char, b: char, c: char) -> u64 {
    u64::from(a) << 42 | u64::from(b) << 21 | u64::from(c)
}

/// whatlang's stop chars: ASCII punctuation, digits and spaces.
fn is_stop_char(c: char) -> bool {
    matches!(c, '\u{0000}'..='\u{0040}' | '\u{005B}'..='\u{0060}' | '\u{007B}'..='\u{007E}')
}

/// whatlang's code of a language.
pub(super) fn whatlang_lang(l: Lang) -> whatlang::Lang {
    match l {
        Lang::Nl => whatlang::Lang::Nld,
        Lang::Da => whatlang::Lang::Dan,
        Lang::En => whatlang::Lang::Eng,
    }
}

impl Default for Fallback {
    /// Answering no language.
    fn default() -> Fallback {
        Fallback::new(&[])
    }
}

impl Fallback {
    /// The detector answering `langs` (any order; whatlang's allowlist).
    pub(super) fn new(langs: &[Lang]) -> Fallback {
        let langs: Vec<Lang> = ORDER.into_iter().filter(|l| langs.contains(l)).collect();
        let mut ranks: HashMap<u64, [u16; 3]> = HashMap::new();
        let mut alphabets = Vec::new();
        let mut profile_len = Vec::new();
        for (k, &l) in langs.iter().enumerate() {
            let (profile, alphabet) = match l {
                Lang::En => (EN, EN_ALPHABET),
                Lang::Nl => (NL, NL_ALPHABET),
                Lang::Da => (DA, DA_ALPHABET),
            };
            let mut n = 0u16;
            for t in profile.split('|') {
                let mut cs = t.chars().map(|c| if c == '_' { ' ' } else { c });
                let (Some(a), Some(b), Some(c)) = (cs.next(), cs.next(), cs.next()) else {
                    continue;
                };
                ranks.entry(pack(a, b, c)).or_insert([u16::MAX; 3])[k] = n;
                n += 1;
            }
            profile_len.push(u32::from(n));
            let mut chars: Vec<char> = alphabet.chars().collect();
            chars.sort_unstable();
            alphabets.push(chars);
        }
        let whatlang =
            whatlang::Detector::with_allowlist(langs.iter().map(|&l| whatlang_lang(l)).collect());
        Fallback {
            langs,
            alphabets,
            profile_len,
            ranks,
            whatlang,
        }
    }

    /// whatlang's answer for `text` and its confidence, as `Detector::detect` with the
    /// languages as allowlist gives them; `None` when it gives none or a language not
    /// answered.
    pub(super) fn detect(&self, text: &str) -> Option<(Lang, f64)> {
        if self.langs.is_empty() {
            return None;
        }
        if whatlang::detect_script(text) != Some(whatlang::Script::Latin) {
            let found = self.whatlang.detect(text)?;
            let lang = self
                .langs
                .iter()
                .copied()
                .find(|&l| whatlang_lang(l) == found.lang())?;
            return Some((lang, found.confidence()));
        }
        // whatlang's own lower-casing (`str::to_lowercase`), not art9's folding.
        #[allow(clippy::disallowed_methods)]
        let lower = text.to_lowercase();
        let alphabet = self.alphabet_scores(&lower);
        let (trigram, count) = self.trigram_scores(&lower);
        // whatlang's `calc_alphabet_weight` of the alphabet's char count.
        let weight_a = (-(alphabet.1 as f64 / 300.0) + 2.0 / 3.0).clamp(1.0 / 3.0, 2.0 / 3.0);
        let weight_t = 1.0 - weight_a;
        let mut scores: Vec<(Lang, f64)> = alphabet
            .0
            .iter()
            .map(|&(l, a)| {
                let t = trigram.iter().find(|(tl, _)| *tl == l).map_or(0.0, |x| x.1);
                (l, a * weight_a + t * weight_t)
            })
            .collect();
        scores.sort_unstable_by(|a, b| b.1.partial_cmp(&a.1).unwrap_or(std::cmp::Ordering::Less));
        let (lang, first) = *scores.first()?;
        let confidence = match scores.get(1) {
            Some(&(_, second)) => confidence(first, second, count),
            None => 1.0,
        };
        Some((lang, confidence))
    }

    /// whatlang's alphabet scores of the lower-cased text, best first, and the number of
    /// chars that are not stop chars.
    fn alphabet_scores(&self, lower: &str) -> (Vec<(Lang, f64)>, usize) {
        let mut count = 0usize;
        let mut hits = [0usize; 3];
        for c in lower.chars().filter(|&c| !is_stop_char(c)) {
            count += 1;
            for (k, a) in self.alphabets.iter().enumerate() {
                hits[k] += 2 * usize::from(a.binary_search(&c).is_ok());
            }
        }
        let mut raw: Vec<(Lang, usize)> = self
            .langs
            .iter()
            .enumerate()
            .map(|(k, &l)| (l, hits[k].saturating_sub(count)))
            .collect();
        raw.sort_unstable_by_key(|&(_, score)| Reverse(score));
        let scores = raw
            .into_iter()
            .map(|(l, score)| (l, score as f64 / count as f64))
            .collect();
        (scores, count)
    }

    /// whatlang's trigram scores of the lower-cased text, best first, and the number of
    /// its distinct trigrams that count.
    fn trigram_scores(&self, lower: &str) -> (Vec<(Lang, f64)>, usize) {
        // The trigrams, punctuation and digits read as spaces, none of two spaces.
        let mut all = Vec::new();
        let mut chars = lower
            .chars()
            .map(|c| if is_stop_char(c) { ' ' } else { c })
            .chain(Some(' '));
        let mut c1 = ' ';
        let mut c2 = chars.next().unwrap_or(' ');
        for c3 in chars {
            if !(c2 == ' ' && (c1 == ' ' || c3 == ' ')) {
                all.push(pack(c1, c2, c3));
            }
            c1 = c2;
            c2 = c3;
        }
        all.sort_unstable();
        // (occurrences, trigram), most frequent first (then the greater trigram first).
        let mut counted: Vec<(u32, u64)> = Vec::new();
        for t in all {
            match counted.last_mut() {
                Some(last) if last.1 == t => last.0 += 1,
                _ => counted.push((1, t)),
            }
        }
        counted.sort_unstable_by(|a, b| b.cmp(a));
        counted.truncate(TEXT_TRIGRAMS);
        let count = counted.len();
        let mut sums = [0u32; 3];
        let mut found = [0u32; 3];
        for (pos, (_, t)) in counted.iter().enumerate() {
            let Some(ranks) = self.ranks.get(t) else {
                continue;
            };
            for (k, &r) in ranks.iter().enumerate().take(self.langs.len()) {
                if r != u16::MAX {
                    sums[k] += (pos as i32 - i32::from(r)).unsigned_abs();
                    found[k] += 1;
                }
            }
        }
        let mut distances: Vec<(Lang, u32)> = self
            .langs
            .iter()
            .enumerate()
            .map(|(k, &l)| {
                // whatlang's `calculate_distance`: the profile's trigrams not in the text
                // count the most each.
                let mut d = sums[k] + (self.profile_len[k] - found[k]) * MAX_TRIGRAM_DISTANCE;
                if MAX_TRIGRAM_DISTANCE > count as u32 {
                    d -= (MAX_TRIGRAM_DISTANCE - count as u32) * MAX_TRIGRAM_DISTANCE;
                }
                (l, d.clamp(0, MAX_TOTAL_DISTANCE))
            })
            .collect();
        distances.sort_unstable_by_key(|&(_, d)| d);
        let max = count as u32 * MAX_TRIGRAM_DISTANCE;
        let scores = distances
            .into_iter()
            .map(|(l, d)| (l, f64::from(max.wrapping_sub(d)) / f64::from(max)))
            .collect();
        (scores, count)
    }
}

/// whatlang's `calculate_confidence`.
fn confidence(first: f64, second: f64, count: usize) -> f64 {
    if first == 0.0 {
        return 0.0;
    }
    if second == 0.0 {
        return first;
    }
    let confident_rate = (3.0 / count as f64) + 0.015;
    let rate = (first - second) / second;
    if rate > confident_rate {
        1.0
    } else {
        rate / confident_rate
    }
}

pub(super) const EN: &str = "\
    _th|the|_an|he_|nd_|and|ion|_of|of_|tio|_to|to_|on_|_in|al_|ati|igh|ght|rig|_ri|or_|ent|as_|\
    ed_|is_|ll_|in_|_be|e_r|ne_|one|ver|all|s_t|eve|t_t|_fr|s_a|_ha|_re|ty_|ery|_or|d_t|_pr|ht_|\
    _co|_ev|e_h|e_a|ng_|ts_|his|ing|be_|yon|_sh|ce_|ree|fre|ryo|n_t|her|men|nat|sha|pro|nal|y_a|\
    has|es_|for|_hi|hal|f_t|n_a|n_o|nt_|_pe|s_o|_fo|d_i|nce|er_|ons|res|e_s|ect|ity|ly_|l_b|ry_|\
    e_e|ers|e_i|an_|e_o|_de|cti|dom|edo|eed|hts|ter|ona|re_|_no|_wh|_a_|_un|d_f|_as|ny_|l_a|e_p|\
    ere|_en|_na|_wi|nit|nte|d_a|any|ted|_di|ns_|sta|th_|per|ith|e_t|st_|e_c|y_t|om_|soc|_ar|ch_|\
    t_o|d_o|nti|s_e|equ|ve_|oci|man|_fu|ote|oth|ess|_al|_ac|wit|ial|_ma|uni|_se|rea|_so|_on|lit|\
    int|r_t|y_o|enc|thi|ual|t_a|_eq|tat|qua|ive|_st|ali|e_w|l_o|are|f_h|con|te_|led|_is|und|cia|\
    e_f|le_|_la|y_i|uma|by_|_by|hum|f_a|ic_|_hu|ave|ge_|r_a|_wo|o_a|ms_|com|_me|eas|s_d|tec|_li|\
    n_e|en_|rat|tit|ple|whe|ate|o_t|s_r|t_f|rot|_ch|cie|dis|age|ary|o_o|anc|eli|no_|_fa|_su|son|\
    inc|at_|nda|hou|wor|t_i|nde|rom|oms|_ot|g_t|eme|tle|iti|gni|s_w|itl|duc|d_w|whi|act|hic|aw_|\
    law|_he|ich|min|imi|ort|o_s|se_|e_b|ntr|tra|edu|oun|tan|e_d|nst|l_p|d_n|ld_|nta|s_i|ble|n_p|\
    _pu|n_s|_at|ily|rth|tho|ful|ssi|der|o_e|cat|uca|unt|ien|_ed|o_p|h_a|era|ind|pen|sec|n_w|omm|r_s";

pub(super) const NL: &str = "\
    en_|de_|an_|_de|van|_va|_en|_he|ing|cht|der|ng_|n_d|n_v|et_|een|_ge|ech|n_e|ver|rec|nde|_ee|\
    _re|_be|ede|er_|e_v|gen|den|het|ten|_te|_in|_op|n_i|_ve|lij|_zi|ere|eli|zij|ijk|te_|oor|ht_|\
    ens|n_o|and|t_o|ijn|ied|ke_|_on|eid|op_|_vo|jn_|id_|ond|in_|sch|_vr|aar|n_z|aan|_ie|rde|rij|\
    men|ren|ord|hei|hte|_we|eft|n_g|ft_|n_w|or_|n_h|eef|vri|wor|_me|hee|al_|t_r|of_|le_|_of|ati|\
    g_v|e_b|eni|_aa|lle|_wo|n_a|e_o|nd_|r_h|voo|_al|ege|n_t|erk|_da|_na|t_h|sta|jke|at_|nat|nge|\
    e_e|end|_st|om_|e_g|tie|n_b|ste|die|e_r|erw|wel|e_s|r_d|_om|ij_|dig|t_e|ige|ter|ie_|gel|re_|\
    jhe|t_d|_za|e_m|ers|ijh|nig|zal|nie|d_v|ns_|d_e|e_w|e_n|est|ele|bes|_do|g_e|che|vol|ge_|eze|\
    e_d|ig_|gin|dat|hap|cha|eke|_di|ona|e_a|lke|nst|ard|_gr|tel|min|_to|waa|len|elk|lin|eme|jk_|\
    n_s|del|str|han|eve|gro|ich|ven|doo|_wa|t_v|it_|ove|rin|aat|n_n|wet|uit|ijd|ze_|_zo|ion|_ov|\
    dez|gem|met|tio|bbe|ach|_ni|hed|st_|all|ies|per|heb|ebb|e_i|toe|es_|taa|n_m|nte|ien|el_|nin|\
    ale|ben|daa|sti|_ma|mee|kin|pen|e_h|wer|ont|iet|tig|g_o|s_e|_er|igd|ete|ang|lan|nsc|ema|man|\
    t_g|is_|beg|her|esc|bij|d_o|ron|tin|nal|eer|p_v|edi|erm|ite|t_w|t_a|_hu|rwi|wij|ijs|r_e|weg|\
    js_|rmi|naa|t_b|app|rwe|_bi|t_z|ker|ame|eri|ken|_an|ar_|_la|tre|ger|rdi|tan|eit|gde|g_i|d_z|oep";

pub(super) const DA: &str = "\
    er_|og_|_og|der|_de|for|en_|et_|til|_fo|_ti|ing|de_|nde|ret|_re|hed|il_|lig|_ha|lle|den|_en|\
    ed_|ver|els|und|ar_|_fr|_me|se_|lse|and|har|gen|ede|ge_|ell|ng_|at_|_af|nne|le_|nge|e_f|ghe|\
    e_o|igh|es_|af_|enn|_at|ler|_i_|ske|hve|e_e|r_h|ne_|enh|t_t|ige|esk|_el|_be|ig_|tig|fri|or_|\
    ska|nin|e_s|ion|_er|nhv|re_|men|r_o|e_a|_st|ati|_sk|_in|l_a|tio|_på|ett|ens|al_|tti|med|r_f|\
    om_|end|r_e|del|g_f|ke_|_so|på_|eli|g_o|_an|r_r|ns_|_al|nat|han|_ve|r_s|r_a|_un|_he|t_f|lin|\
    _si|r_d|ter|ere|nes|det|e_r|_ud|ale|sam|ihe|lan|tte|rin|rih|ent|ndl|e_m|isk|erk|ans|t_s|kal|\
    _na|som|hol|lde|ind|e_n|ren|n_s|ner|kel|old|dig|te_|ors|e_i|_hv|sni|sky|ene|vær|_li|_sa|s_f|\
    d_d|ers|ste|nte|mme|ove|e_h|nal|ona|ger|_gr|age|g_a|vil|all|e_d|fre|tel|s_o|g_h|t_o|t_d|r_i|\
    e_t|_om|arb|d_e|ern|r_u|_væ|d_o|res|g_t|klæ|øre|n_f|_vi|_må|ven|sk_|_la|gte|kab|str|n_m|rel|\
    e_b|run|rbe|bej|t_i|ejd|kke|t_e|g_d|rkl|ilk|gru|ved|bes|_da|nd_|_fu|lær|æri|rdi|ærd|ld_|t_m|\
    dli|fun|sig|_mo|sta|nst|rt_|od_|_ar|_op|vis|igt|ære|tet|t_a|emm|g_e|mod|rho|ie_|g_u|ker|rem|\
    _no|n_h|_fa|rsk|orm|e_u|s_s|em_|d_h|_ge|ets|e_g|g_s|per|_et|lem|_tr|i_s|da_|dre|n_a|des|dt_|\
    kyt|rde|ytt|eri|hen|erv|l_e|rvi|ffe|off|isn|r_t|_of|ken|l_h|rke|g_i|tal|må_|r_k|lke|gt_|t_v|t_b";

#[cfg(test)]
mod tests {
    use super::*;

    /// whatlang's own answer, as [`Fallback::detect`] gives it.
    fn whatlang_answer(langs: &[Lang], text: &str) -> Option<(Lang, f64)> {
        let d =
            whatlang::Detector::with_allowlist(langs.iter().map(|&l| whatlang_lang(l)).collect());
        let found = d.detect(text)?;
        let lang = langs
            .iter()
            .copied()
            .find(|&l| whatlang_lang(l) == found.lang())?;
        Some((lang, found.confidence()))
    }

    const SETS: [&[Lang]; 5] = [
        &[Lang::Nl, Lang::Da, Lang::En],
        &[Lang::Da, Lang::En],
        &[Lang::Nl, Lang::En],
        &[Lang::Nl],
        &[],
    ];

    #[test]
    fn sentences_answer_as_whatlang() {
        let texts = [
            "klant belt over de factuur van vorige maand",
            "kunden ringede om fakturaen, hun er på ferie",
            "customer called about the invoice, will call back",
            "OK",
            "tlf. 12 34 56 78",
            "",
            "—",
            "ĳs en ëi, æble og ø, naïve café",
            "Привет, как дела? klant",
            "日本語のテキスト",
            "Γειά σου κόσμε",
            "€ 500,- betaald 😀",
            "İstanbul \u{212a}elvin \u{a0} x",
        ];
        for langs in SETS {
            let f = Fallback::new(langs);
            for t in texts {
                assert_eq!(f.detect(t), whatlang_answer(langs, t), "{langs:?} {t:?}");
            }
        }
    }

    proptest::proptest! {
        /// Any text, of any script, mixed: the same language and the same confidence as
        /// whatlang.
        #[test]
        fn answers_as_whatlang(
            parts in proptest::collection::vec(
                proptest::sample::select(vec![
                    "de", "het", "klant", "og", "jeg", "kunden", "the", "and", "customer",
                    "ij", "sch", "ø", "æ", "å", "é", "ë", "ĳ", "ß", "ü", "th", "ing", "en",
                    " ", " ", "  ", ".", ",", "3", "-", "\n", "€", "😀", "\u{a0}", "İ",
                    "\u{212a}", "д", "Ж", "α", "日", "ア", "ع", "א", "AB", "Xq", "zz",
                ]),
                0..60,
            ),
            set in 0usize..5,
        ) {
            let text: String = parts.concat();
            let langs = SETS[set];
            let f = Fallback::new(langs);
            proptest::prop_assert_eq!(f.detect(&text), whatlang_answer(langs, &text));
        }
    }
}

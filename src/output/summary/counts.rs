//! The tally's counts of records, in arrays indexed by dimension value rather than hash
//! tables: a record with findings adds one to each (category or any, dimension value) it
//! has, about 16 counts for a record with one finding, and an array index costs a fraction
//! of a hash table lookup. The months of a date column are a dense range from the first
//! month seen ([`MonthTable`]), so that counting every record's month indexes an array too.
//!
//! A count of zero is no count: iterating gives only the counts above zero.

use rustc_hash::FxHashMap;

use super::{By, Month};
use crate::category::{Category, Lang};
use crate::lexicon::Likelihood;
use crate::matcher::Evasion;
use crate::policy::Action;

/// Rows: the categories, in [`Category::index`] order, then "any category".
pub(super) const ROWS: usize = Category::ALL.len() + 1;
/// The row of "any category".
pub(super) const ANY: usize = ROWS - 1;

/// The row of a category, or of any (`None`).
pub(super) fn row(category: Option<Category>) -> usize {
    category.map_or(ANY, Category::index)
}

fn category_of(row: usize) -> Option<Category> {
    Category::ALL.get(row).copied()
}

/// Columns of the dimensions with a fixed set of values: all, then each value of lexicon
/// language, likelihood, policy action, note language and evasion lane.
const LANG: usize = 1;
const LIKELIHOOD: usize = LANG + Lang::ALL.len();
const ACTION: usize = LIKELIHOOD + Likelihood::ALL.len();
const NOTE_LANG: usize = ACTION + ACTIONS.len();
const EVASION: usize = NOTE_LANG + Lang::ALL.len();
const COLUMNS: usize = EVASION + Evasion::ALL.len();
const ACTIONS: [Action; 4] = [Action::Allow, Action::Flag, Action::Mask, Action::Reject];

pub(super) fn lang_index(l: Lang) -> usize {
    match l {
        Lang::Nl => 0,
        Lang::Da => 1,
        Lang::En => 2,
    }
}

fn likelihood_index(l: Likelihood) -> usize {
    match l {
        Likelihood::VeryUnlikely => 0,
        Likelihood::Unlikely => 1,
        Likelihood::Possible => 2,
        Likelihood::Likely => 3,
        Likelihood::VeryLikely => 4,
    }
}

fn action_index(a: Action) -> usize {
    match a {
        Action::Allow => 0,
        Action::Flag => 1,
        Action::Mask => 2,
        Action::Reject => 3,
    }
}

/// The bit of each column a finding with these values counts in (the column of all
/// included), as [`RecordCounts::add_marks`] takes them.
pub(super) fn columns_of(
    lang: Lang,
    likelihood: Likelihood,
    action: Option<Action>,
    note_lang: Option<Lang>,
    evasion: Option<Evasion>,
) -> u32 {
    let mut bits =
        1 | 1 << (LANG + lang_index(lang)) | 1 << (LIKELIHOOD + likelihood_index(likelihood));
    if let Some(a) = action {
        bits |= 1 << (ACTION + action_index(a));
    }
    if let Some(l) = note_lang {
        bits |= 1 << (NOTE_LANG + lang_index(l));
    }
    if let Some(e) = evasion {
        bits |= 1 << (EVASION + e.index());
    }
    bits
}

/// The column of a dimension value other than a field or month.
fn column(by: By) -> Option<usize> {
    Some(match by {
        By::All => 0,
        By::Lang(l) => LANG + lang_index(l),
        By::Likelihood(l) => LIKELIHOOD + likelihood_index(l),
        By::Action(a) => ACTION + action_index(a),
        By::NoteLang(l) => NOTE_LANG + lang_index(l),
        By::Evasion(e) => EVASION + e.index(),
        By::Field(_) | By::Month(_) => return None,
    })
}

/// The dimension value of a column.
fn by_of(column: usize) -> By {
    let lang = |i: usize| Lang::ALL[i];
    match column {
        0 => By::All,
        c if c < LIKELIHOOD => By::Lang(lang(c - LANG)),
        c if c < ACTION => By::Likelihood(Likelihood::ALL[c - LIKELIHOOD]),
        c if c < NOTE_LANG => By::Action(ACTIONS[c - ACTION]),
        c if c < EVASION => By::NoteLang(lang(c - NOTE_LANG)),
        c => By::Evasion(Evasion::ALL[c - EVASION]),
    }
}

/// Records with findings per (category or any, dimension value).
#[derive(Clone, Debug, Default)]
pub(super) struct RecordCounts {
    /// `[row][column]`.
    fixed: [[u64; COLUMNS]; ROWS],
    /// By field index (of the tally's fields): `[row]`.
    fields: Vec<[u64; ROWS]>,
}

impl RecordCounts {
    /// Count one record with findings: `marks[row]`, the columns its findings of that row
    /// have (each counted once, however many findings have it); `rows`, the rows with marks.
    pub(super) fn add_marks(&mut self, marks: &[u32; ROWS], rows: u8) {
        let mut r = rows;
        while r != 0 {
            let row = r.trailing_zeros() as usize;
            r &= r - 1;
            let counts = &mut self.fixed[row];
            let mut c = marks[row];
            while c != 0 {
                counts[c.trailing_zeros() as usize] += 1;
                c &= c - 1;
            }
        }
    }

    /// Count one record with findings in field `field`, in each row of `rows`.
    pub(super) fn add_field(&mut self, field: u32, rows: u8) {
        let i = field as usize;
        if self.fields.len() <= i {
            self.fields.resize(i + 1, [0; ROWS]);
        }
        add_rows(&mut self.fields[i], rows, 1);
    }

    /// Add `n` to the count of (`category`, `by`), `by` not a month.
    pub(super) fn add(&mut self, category: Option<Category>, by: By, n: u64) {
        let row = row(category);
        match (by, column(by)) {
            (By::Field(f), _) => {
                let i = f as usize;
                if self.fields.len() <= i {
                    self.fields.resize(i + 1, [0; ROWS]);
                }
                self.fields[i][row] += n;
            }
            (_, Some(c)) => self.fixed[row][c] += n,
            (_, None) => {}
        }
    }

    /// The count of (`category`, `by`), `by` not a month.
    pub(super) fn get(&self, category: Option<Category>, by: By) -> u64 {
        let row = row(category);
        match (by, column(by)) {
            (By::Field(f), _) => self.fields.get(f as usize).map_or(0, |r| r[row]),
            (_, Some(c)) => self.fixed[row][c],
            (_, None) => 0,
        }
    }

    /// Every count above zero but those by month.
    pub(super) fn iter(&self) -> impl Iterator<Item = (Option<Category>, By, u64)> + '_ {
        let fixed = self.fixed.iter().enumerate().flat_map(|(row, counts)| {
            counts
                .iter()
                .enumerate()
                .map(move |(c, n)| (category_of(row), by_of(c), *n))
        });
        let fields = self.fields.iter().enumerate().flat_map(|(f, counts)| {
            counts
                .iter()
                .enumerate()
                .map(move |(row, n)| (category_of(row), By::Field(f as u32), *n))
        });
        fixed.chain(fields).filter(|(_, _, n)| *n > 0)
    }
}

/// Add `n` to `counts[row]` for each row of `rows`.
pub(super) fn add_rows(counts: &mut [u64; ROWS], rows: u8, n: u64) {
    let mut r = rows;
    while r != 0 {
        counts[r.trailing_zeros() as usize] += n;
        r &= r - 1;
    }
}

/// What is counted per month: records scanned, and records with findings by row.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(super) struct MonthCounts {
    pub(super) scanned: u64,
    pub(super) records: [u64; ROWS],
}

impl MonthCounts {
    pub(super) fn add(&mut self, other: &MonthCounts) {
        self.scanned += other.scanned;
        for (a, b) in self.records.iter_mut().zip(&other.records) {
            *a += b;
        }
    }
}

/// The most months held in one array (a century); the months of a date column that spans
/// more (a typo'd year) go to a hash table, so that memory stays bounded.
const DENSE_MONTHS: u32 = 1200;

/// Counts by month: an array from the first month seen, grown to either side as months
/// come, up to [`DENSE_MONTHS`]; months beyond it in a hash table.
#[derive(Clone, Debug, Default)]
pub(super) struct MonthTable {
    /// The month of `dense[0]`.
    base: u32,
    dense: Vec<MonthCounts>,
    /// Months outside the array. Once one is here the array no longer grows, so that a
    /// month is counted in one place.
    spill: FxHashMap<Month, MonthCounts>,
}

impl MonthTable {
    /// The counts of `month`, made when needed.
    #[inline]
    pub(super) fn at(&mut self, month: Month) -> &mut MonthCounts {
        let i = month.0.wrapping_sub(self.base) as usize;
        if i < self.dense.len() {
            return &mut self.dense[i];
        }
        self.grow(month)
    }

    #[cold]
    fn grow(&mut self, month: Month) -> &mut MonthCounts {
        let m = month.0;
        let last = self.base + self.dense.len() as u32;
        let (from, to) = if self.dense.is_empty() {
            (m, m + 1)
        } else {
            (self.base.min(m), last.max(m + 1))
        };
        if !self.spill.is_empty() || to - from > DENSE_MONTHS {
            return self.spill.entry(month).or_default();
        }
        if from < self.base {
            let before = (self.base - from) as usize;
            self.dense
                .splice(0..0, std::iter::repeat_n(MonthCounts::default(), before));
        }
        self.base = from;
        self.dense
            .resize((to - from) as usize, MonthCounts::default());
        &mut self.dense[(m - from) as usize]
    }

    /// The counts of `month`, if any.
    pub(super) fn get(&self, month: Month) -> Option<&MonthCounts> {
        let i = month.0.wrapping_sub(self.base) as usize;
        self.dense.get(i).or_else(|| self.spill.get(&month))
    }

    /// Every month's counts (in no particular order), zero counts included.
    pub(super) fn iter(&self) -> impl Iterator<Item = (Month, &MonthCounts)> + '_ {
        let base = self.base;
        self.dense
            .iter()
            .enumerate()
            .map(move |(i, c)| (Month(base + i as u32), c))
            .chain(self.spill.iter().map(|(m, c)| (*m, c)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_and_values_round_trip() {
        let mut all = vec![By::All];
        all.extend(Lang::ALL.map(By::Lang));
        all.extend(Likelihood::ALL.map(By::Likelihood));
        all.extend(ACTIONS.map(By::Action));
        all.extend(Lang::ALL.map(By::NoteLang));
        all.extend(Evasion::ALL.map(By::Evasion));
        assert_eq!(all.len(), COLUMNS);
        for (i, by) in all.iter().enumerate() {
            assert_eq!(column(*by), Some(i));
            assert_eq!(by_of(i), *by);
        }
        for (i, c) in Category::ALL.iter().enumerate() {
            assert_eq!(row(Some(*c)), i);
            assert_eq!(category_of(i), Some(*c));
        }
        assert_eq!(category_of(row(None)), None);
    }

    #[test]
    fn months_in_an_array_and_beyond_it() {
        let mut t = MonthTable::default();
        let m = |y, mo| Month::new(y, mo).unwrap();
        for (month, n) in [
            (m(2024, 5), 1),
            (m(2023, 1), 2),
            (m(2026, 12), 3),
            (m(2024, 5), 4),
            (m(1900, 1), 5), // a century and more before: spills
            (m(2025, 1), 6), // inside the array
            (m(2022, 1), 7), // outside, but the array no longer grows
            (m(1900, 1), 8),
        ] {
            t.at(month).scanned += n;
        }
        let mut seen: Vec<(Month, u64)> = t
            .iter()
            .filter(|(_, c)| c.scanned > 0)
            .map(|(m, c)| (m, c.scanned))
            .collect();
        seen.sort();
        assert_eq!(
            seen,
            [
                (m(1900, 1), 13),
                (m(2022, 1), 7),
                (m(2023, 1), 2),
                (m(2024, 5), 5),
                (m(2025, 1), 6),
                (m(2026, 12), 3)
            ]
        );
        assert_eq!(t.get(m(2022, 1)).map(|c| c.scanned), Some(7));
        assert_eq!(t.get(m(2023, 2)).map(|c| c.scanned), Some(0));
        assert_eq!(t.get(m(2030, 2)), None);
    }
}

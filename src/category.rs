//! The closed sets the whole crate speaks in: special categories and lexicon languages.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// A special category of personal data (GDPR Art. 9(1)) or criminal data (Art. 10).
///
/// The order of the variants is the documented tie-break order for overlapping findings
/// of equal length, and the order of columns in reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Category {
    /// Data concerning health, incl. genetic and disability data.
    Health,
    /// Political opinions.
    Politics,
    /// Religious or philosophical beliefs.
    Religion,
    /// Racial or ethnic origin.
    Ethnicity,
    /// Sex life or sexual orientation (and gender identity, by our labelling rules).
    SexualOrientation,
    /// Trade union membership.
    TradeUnion,
    /// Criminal convictions and offences (Art. 10).
    Criminal,
}

impl Category {
    /// All categories, in tie-break order.
    pub const ALL: [Category; 7] = [
        Category::Health,
        Category::Politics,
        Category::Religion,
        Category::Ethnicity,
        Category::SexualOrientation,
        Category::TradeUnion,
        Category::Criminal,
    ];

    /// The four core categories.
    pub const CORE: [Category; 4] = [
        Category::Health,
        Category::Politics,
        Category::Religion,
        Category::Ethnicity,
    ];

    /// The category's key in the [fideslang](https://ethyca.github.io/fideslang/) data
    /// category taxonomy (as of fideslang 3.2.0), which Fides and other privacy tools use:
    /// `user.health`, `user.demographic.political_opinion`,
    /// `user.demographic.religious_belief`, `user.demographic.race_ethnicity`,
    /// `user.demographic.sexual_orientation`, `user.demographic.union_membership`,
    /// `user.criminal_history`.
    pub fn data_category(self) -> &'static str {
        match self {
            Category::Health => "user.health",
            Category::Politics => "user.demographic.political_opinion",
            Category::Religion => "user.demographic.religious_belief",
            Category::Ethnicity => "user.demographic.race_ethnicity",
            Category::SexualOrientation => "user.demographic.sexual_orientation",
            Category::TradeUnion => "user.demographic.union_membership",
            Category::Criminal => "user.criminal_history",
        }
    }

    /// The category whose [`Category::data_category`] is `key`.
    pub fn from_data_category(key: &str) -> Option<Category> {
        Category::ALL.into_iter().find(|c| c.data_category() == key)
    }

    /// The identifier used in lexicons, policies and output (`sexual_orientation`).
    pub fn as_str(self) -> &'static str {
        match self {
            Category::Health => "health",
            Category::Politics => "politics",
            Category::Religion => "religion",
            Category::Ethnicity => "ethnicity",
            Category::SexualOrientation => "sexual_orientation",
            Category::TradeUnion => "trade_union",
            Category::Criminal => "criminal",
        }
    }

    /// The mask label (`HEALTH`, `SEXUAL_ORIENTATION`).
    pub fn label(self) -> &'static str {
        match self {
            Category::Health => "HEALTH",
            Category::Politics => "POLITICS",
            Category::Religion => "RELIGION",
            Category::Ethnicity => "ETHNICITY",
            Category::SexualOrientation => "SEXUAL_ORIENTATION",
            Category::TradeUnion => "TRADE_UNION",
            Category::Criminal => "CRIMINAL",
        }
    }

    /// Position in [`Category::ALL`].
    pub fn index(self) -> usize {
        self as usize
    }
}

impl fmt::Display for Category {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A category name that is not one of the seven.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("unknown category {0:?} (expected one of: health, politics, religion, ethnicity, sexual_orientation, trade_union, criminal)")]
pub struct UnknownCategory(pub String);

impl FromStr for Category {
    type Err = UnknownCategory;

    fn from_str(s: &str) -> Result<Category, UnknownCategory> {
        Category::ALL
            .into_iter()
            .find(|c| c.as_str() == s)
            .ok_or_else(|| UnknownCategory(s.to_string()))
    }
}

/// A lexicon language.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Lang {
    /// Dutch.
    Nl,
    /// Danish.
    Da,
    /// English.
    En,
}

impl Lang {
    /// All languages with built-in lexicons.
    pub const ALL: [Lang; 3] = [Lang::Nl, Lang::Da, Lang::En];

    /// ISO 639-1 code.
    pub fn as_str(self) -> &'static str {
        match self {
            Lang::Nl => "nl",
            Lang::Da => "da",
            Lang::En => "en",
        }
    }
}

impl fmt::Display for Lang {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A language code that has no lexicons.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("unknown language {0:?} (expected nl, da or en)")]
pub struct UnknownLang(pub String);

impl FromStr for Lang {
    type Err = UnknownLang;

    fn from_str(s: &str) -> Result<Lang, UnknownLang> {
        Lang::ALL
            .into_iter()
            .find(|l| l.as_str() == s)
            .ok_or_else(|| UnknownLang(s.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips() {
        for c in Category::ALL {
            assert_eq!(c.as_str().parse::<Category>().unwrap(), c);
        }
        for l in Lang::ALL {
            assert_eq!(l.as_str().parse::<Lang>().unwrap(), l);
        }
        assert!("healthy".parse::<Category>().is_err());
    }
}

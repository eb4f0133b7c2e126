//! The policy's `retention:` rules, and what a run adds to them (the record's date column,
//! the reference time `--as-of`, the consent ledger): per finding a retention status
//! (`due | ok | unknown`), the consent that covers it, and whether its erasure is due.
//!
//! ```yaml
//! retention:
//!   date_field: created          # the record's date column (--date-field overrides)
//!   rules:
//!     - categories: [health]     # default: every category
//!       max_age: 2y              # 18 months, 90d, P2Y6M …
//!       action: erase            # review | mask | erase, when due
//!     - max_age: 5y
//!       action: review
//! ```
//!
//! A finding's category takes the first rule that names it (a rule without `categories`
//! names all). Its record is **due** when its date is before `as_of − max_age`, **ok** when
//! it is not, **unknown** when the record has no date or one that is not a date
//! ([`DateParser`]); findings of a category no rule names have no retention status.
//! When due, `mask` masks the finding (at least; `reject` stays), `erase` makes its erasure
//! due ([`ErasureDue`], carried out by `art9 erase --due`), `review` only reports it.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::consent::ConsentRules;
use super::{Action, MaskStyle};
use crate::category::Category;
use crate::consent::{ConsentLedger, ConsentState};
use crate::date::{DateParser, MaxAge, Timestamp};
use crate::matcher::Finding;
use crate::record::RecordContext;

/// What to do with a finding whose record is over its maximum age.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RetentionAction {
    /// Report it for a person to review.
    Review,
    /// Mask it (`art9 mask`; `scan` shows `mask` as the action).
    Mask,
    /// Erase it: due for `art9 erase --due`.
    Erase,
}

/// A finding's retention status.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RetentionStatus {
    /// The record is older than its rule's maximum age.
    Due,
    /// It is not.
    Ok,
    /// The record has no date, or one that could not be read.
    Unknown,
}

impl RetentionStatus {
    /// The keyword used in output.
    pub fn as_str(self) -> &'static str {
        match self {
            RetentionStatus::Due => "due",
            RetentionStatus::Ok => "ok",
            RetentionStatus::Unknown => "unknown",
        }
    }
}

/// Why a finding's erasure is due.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErasureReason {
    /// A retention rule with `action: erase` is due.
    Retention,
    /// The subject withdrew the consent for the category (Art. 7(3), Art. 17(1)(b)) and no
    /// active consent covers the note.
    ConsentWithdrawn,
}

impl ErasureReason {
    /// The keyword used in output.
    pub fn as_str(self) -> &'static str {
        match self {
            ErasureReason::Retention => "retention",
            ErasureReason::ConsentWithdrawn => "consent_withdrawn",
        }
    }
}

/// A finding whose erasure is due ([`super::CompiledPolicy::erasure_due`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ErasureDue {
    /// Index into the findings.
    pub finding: usize,
    /// Its category.
    pub category: Category,
    /// Why.
    pub reason: ErasureReason,
    /// The consent ledger's reference, for [`ErasureReason::ConsentWithdrawn`].
    pub consent: Option<Arc<str>>,
}

/// What the retention and consent rules say about one finding (in
/// [`super::Decision::gdpr`]).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FindingGdpr {
    /// The retention status (`None`: no retention rule names the category).
    pub retention: Option<RetentionStatus>,
    /// The reference of the consent ledger row that covers the finding: an active consent,
    /// or, with `erasure == Some(ConsentWithdrawn)`, the withdrawn one.
    pub consent: Option<Arc<str>>,
    /// Whether an active consent covers it (then the `consent:` rule naming its category,
    /// if any, decided its action, unless an evasion lane's rule did).
    pub consent_active: bool,
    /// Why its erasure is due, if it is.
    pub erasure: Option<ErasureReason>,
}

/// One `retention:` rule as written in YAML.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RetentionRuleSpec {
    /// The categories it is for (art9 names; default: all).
    #[serde(default)]
    pub categories: Option<Vec<String>>,
    /// How old the record may get (`2y`, `18 months`, `90d`, `P2Y`).
    pub max_age: String,
    /// What is due when it is older.
    pub action: RetentionAction,
    /// The mask style for `action: mask` (default `label`).
    #[serde(default)]
    pub style: MaskStyle,
}

/// The `retention:` section as written in YAML.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RetentionSpec {
    /// The record's date column (`--date-field` overrides it).
    #[serde(default)]
    pub date_field: Option<String>,
    /// A `strftime` format for month-first or other dates the automatic forms do not read
    /// (`--date-format` overrides it).
    #[serde(default)]
    pub date_format: Option<String>,
    /// The rules, in order.
    pub rules: Vec<RetentionRuleSpec>,
}

/// What a run adds to a policy's retention and consent rules
/// ([`super::CompiledPolicy::with_gdpr`]). `None` keeps the policy's own setting.
#[derive(Clone, Debug, Default)]
pub struct GdprOptions {
    /// The record's date column (`--date-field`).
    pub date_field: Option<String>,
    /// How to read it (`--date-format`).
    pub date_format: Option<DateParser>,
    /// The reference time (`--as-of`; default: when the policy was loaded).
    pub as_of: Option<Timestamp>,
    /// The consent ledger (`--consent`).
    pub consent: Option<Arc<ConsentLedger>>,
}

#[derive(Clone, Copy, Debug)]
struct Rule {
    max_age: MaxAge,
    action: RetentionAction,
    style: MaskStyle,
}

/// Retention and consent, compiled, with the run's settings.
#[derive(Clone, Debug)]
pub(crate) struct Gdpr {
    /// Per category: the first retention rule naming it.
    rules: [Option<Rule>; 7],
    /// Per category: records dated before this are due (from `as_of`).
    cutoffs: [Option<Timestamp>; 7],
    has_retention: bool,
    consent_rules: ConsentRules,
    has_consent_rules: bool,
    pub(crate) date_field: Option<String>,
    parser: DateParser,
    as_of: Timestamp,
    ledger: Option<Arc<ConsentLedger>>,
}

impl Gdpr {
    /// Compile the sections; `None` when there are neither.
    pub(crate) fn compile(
        retention: Option<&RetentionSpec>,
        consent: &[ConsentRuleSpec],
    ) -> Result<Option<Gdpr>, String> {
        if retention.is_none() && consent.is_empty() {
            return Ok(None);
        }
        let mut rules = [None; 7];
        if let Some(spec) = retention {
            if spec.rules.is_empty() {
                return Err("retention: needs at least one rule".into());
            }
            for (i, r) in spec.rules.iter().enumerate() {
                let at = |m: String| format!("retention rule {}: {m}", i + 1);
                let max_age: MaxAge = r.max_age.parse().map_err(|e| at(format!("{e}")))?;
                let rule = Rule {
                    max_age,
                    action: r.action,
                    style: r.style,
                };
                let cats: Vec<Category> = match &r.categories {
                    None => Category::ALL.to_vec(),
                    Some(names) => names
                        .iter()
                        .map(|n| n.parse::<Category>().map_err(|e| at(format!("{e}"))))
                        .collect::<Result<_, _>>()?,
                };
                for c in cats {
                    rules[c.index()].get_or_insert(rule);
                }
            }
        }
        let parser = match retention.and_then(|r| r.date_format.as_deref()) {
            Some(f) => DateParser::with_format(f).map_err(|e| format!("retention: {e}"))?,
            None => DateParser::auto(),
        };
        let mut g = Gdpr {
            rules,
            cutoffs: [None; 7],
            has_retention: retention.is_some(),
            consent_rules: super::consent::compile(consent)?,
            has_consent_rules: !consent.is_empty(),
            date_field: retention.and_then(|r| r.date_field.clone()),
            parser,
            as_of: Timestamp::now(),
            ledger: None,
        };
        g.set_as_of(g.as_of);
        Ok(Some(g))
    }

    fn set_as_of(&mut self, as_of: Timestamp) {
        self.as_of = as_of;
        self.cutoffs = self.rules.map(|r| r.and_then(|r| r.max_age.cutoff(as_of)));
    }

    /// Apply a run's settings.
    pub(crate) fn apply(&mut self, o: GdprOptions) -> Result<(), String> {
        if let Some(f) = o.date_field {
            self.date_field = Some(f);
        }
        if let Some(p) = o.date_format {
            self.parser = p;
        }
        if let Some(t) = o.as_of {
            self.set_as_of(t);
        }
        if let Some(l) = o.consent {
            if !self.has_consent_rules {
                return Err(
                    "a consent ledger needs the policy's `consent:` rules (what active \
                            consent changes, e.g. consent: [{categories: [health], action: flag}])"
                        .into(),
                );
            }
            self.ledger = Some(l);
        }
        if self.date_field.is_none() {
            let why = if self.has_retention {
                "retention rules need the record's date"
            } else {
                "consent covers notes written on or after it was given, so it needs the \
                 record's date"
            };
            return Err(format!(
                "{why}: give --date-field NAME (or retention: date_field: NAME)"
            ));
        }
        Ok(())
    }

    /// Whether the policy has retention rules (then every finding of a named category gets
    /// a status).
    pub(crate) fn has_retention(&self) -> bool {
        self.has_retention
    }

    /// How the date column is read.
    pub(crate) fn parser(&self) -> &DateParser {
        &self.parser
    }

    /// The record's date, as read from its date column.
    pub(crate) fn record_date(&self, ctx: &RecordContext<'_>) -> Option<Timestamp> {
        let field = self.date_field.as_deref()?;
        self.parser.parse(ctx.column(field)?)
    }

    /// Evaluate one finding whose policy rule gave `(action, style)` (`lane`: an evasion
    /// lane's rule decided, which consent does not change); returns the final action and
    /// style and what to report.
    pub(crate) fn finding(
        &self,
        ctx: &RecordContext<'_>,
        date: Option<Timestamp>,
        f: &Finding,
        lane: bool,
        (mut action, mut style): (Action, MaskStyle),
    ) -> ((Action, MaskStyle), FindingGdpr) {
        let c = f.category.index();
        let mut out = FindingGdpr::default();
        if let (Some(ledger), Some(subject)) = (&self.ledger, ctx.subject) {
            match ledger.lookup(subject, f.category, date, self.as_of) {
                ConsentState::Active(r) => {
                    if let (Some(rule), false) = (self.consent_rules[c], lane) {
                        (action, style) = rule;
                    }
                    out.consent_active = true;
                    out.consent = Some(r);
                }
                ConsentState::Withdrawn(r) => {
                    out.consent = Some(r);
                    out.erasure = Some(ErasureReason::ConsentWithdrawn);
                }
                ConsentState::None => {}
            }
        }
        if let Some(rule) = self.rules[c] {
            let status = match (date, self.cutoffs[c]) {
                (None, _) => RetentionStatus::Unknown,
                (Some(d), Some(cut)) if d < cut => RetentionStatus::Due,
                (Some(_), _) => RetentionStatus::Ok,
            };
            out.retention = Some(status);
            if status == RetentionStatus::Due {
                match rule.action {
                    RetentionAction::Review => {}
                    RetentionAction::Mask => {
                        if action < Action::Mask {
                            (action, style) = (Action::Mask, rule.style);
                        }
                    }
                    RetentionAction::Erase => {
                        out.erasure.get_or_insert(ErasureReason::Retention);
                    }
                }
            }
        }
        ((action, style), out)
    }
}

pub use super::consent::ConsentRuleSpec;

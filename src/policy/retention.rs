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
    /// The reference time (`--as-of`). Without one, each decision is made at the time it
    /// is made (a long-running `art9 serve` does not judge by its start time); batch runs
    /// set one so that all records of a run are judged at the same time.
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
#[derive(Clone)]
pub(crate) struct Gdpr {
    /// Per category: the first retention rule naming it.
    rules: [Option<Rule>; 7],
    /// Per category: records dated before this are due (from a fixed `as_of`).
    cutoffs: [Option<Timestamp>; 7],
    has_retention: bool,
    consent_rules: ConsentRules,
    has_consent_rules: bool,
    pub(crate) date_field: Option<String>,
    parser: DateParser,
    /// The fixed reference time, if any (else: the time of each decision).
    as_of: Option<Timestamp>,
    ledger: Option<Arc<ConsentLedger>>,
}

/// The rules and the date column and format, which the run summary's policy fingerprint is
/// taken of; not the reference time (which changes every run) nor the ledger's rows (which
/// hold subject ids).
impl std::fmt::Debug for Gdpr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Gdpr")
            .field("rules", &self.rules)
            .field("consent_rules", &self.consent_rules)
            .field("date_field", &self.date_field)
            .field("parser", &self.parser)
            .field("ledger", &self.ledger.as_ref().map(|l| l.len()))
            .finish()
    }
}

impl Gdpr {
    /// The storage period the retention rules give `category` (the access extract's Art.
    /// 15(1)(d)): "2y after the record's date (created_at), then erase".
    pub(crate) fn storage_period(&self, category: Category) -> Option<String> {
        let r = self.rules[category.index()]?;
        let action = match r.action {
            RetentionAction::Review => "review",
            RetentionAction::Mask => "mask",
            RetentionAction::Erase => "erase",
        };
        Some(format!(
            "{} after the record's date ({}), then {action}",
            r.max_age,
            self.date_field.as_deref().unwrap_or("date")
        ))
    }

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
        let g = Gdpr {
            rules,
            cutoffs: [None; 7],
            has_retention: retention.is_some(),
            consent_rules: super::consent::compile(consent)?,
            has_consent_rules: !consent.is_empty(),
            date_field: retention.and_then(|r| r.date_field.clone()),
            parser,
            as_of: None,
            ledger: None,
        };
        Ok(Some(g))
    }

    fn set_as_of(&mut self, as_of: Timestamp) {
        self.as_of = Some(as_of);
        self.cutoffs = self.rules.map(|r| r.and_then(|r| r.max_age.cutoff(as_of)));
    }

    /// The reference time of a decision: the fixed one, else now.
    pub(crate) fn now(&self) -> Timestamp {
        self.as_of.unwrap_or_else(Timestamp::now)
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
        now: Timestamp,
        date: Option<Timestamp>,
        f: &Finding,
        lane: bool,
        (mut action, mut style): (Action, MaskStyle),
    ) -> ((Action, MaskStyle), FindingGdpr) {
        let c = f.category.index();
        let mut out = FindingGdpr::default();
        if let (Some(ledger), Some(subject)) = (&self.ledger, ctx.subject) {
            match ledger.lookup(subject, f.category, date, now) {
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
            let cutoff = match self.as_of {
                Some(_) => self.cutoffs[c],
                None => rule.max_age.cutoff(now),
            };
            let status = match (date, cutoff) {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::consent::ConsentEntry;
    use crate::policy::{CompiledPolicy, Outcome};
    use crate::record::Context;

    const YAML: &str = "default: {action: flag}
evasion:
  homoglyph: {action: reject}
retention:
  date_field: created
  rules:
    - categories: [health]
      max_age: 2y
      action: mask
    - categories: [religion]
      max_age: 1y
      action: erase
    - max_age: 10y
      action: review
consent:
  - categories: [religion]
    action: allow
";

    fn ts(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    fn policy(ledger: Option<ConsentLedger>) -> CompiledPolicy {
        CompiledPolicy::from_yaml("p", YAML)
            .unwrap()
            .with_gdpr(GdprOptions {
                as_of: Some(ts("2026-12-07")),
                consent: ledger.map(Arc::new),
                ..GdprOptions::default()
            })
            .unwrap()
    }

    fn finding(text: &str) -> Finding {
        let scanner = crate::Scanner::builtin().unwrap();
        scanner.scan(text)[0]
    }

    fn ctx<'a>(columns: &'a Context, subject: Option<&'a str>) -> RecordContext<'a> {
        RecordContext {
            field: Some("notes"),
            key: Some("1"),
            subject,
            columns,
        }
    }

    #[test]
    fn due_ok_unknown_and_actions() {
        let p = policy(None);
        assert!(p.has_retention() && p.has_gdpr());
        assert_eq!(p.context_columns(), ["created"]);
        let health = finding("diabetes");
        let religion = finding("moslim");
        assert_eq!(religion.category, Category::Religion);
        let old: Context = [("created", Some("2020-01-01".to_string()))]
            .into_iter()
            .collect();
        let new: Context = [("created", Some("2026-06-01".to_string()))]
            .into_iter()
            .collect();
        let bad: Context = [("created", Some("soon".to_string()))]
            .into_iter()
            .collect();
        let d = p.decide(&ctx(&old, None), &[health, religion]);
        assert_eq!(d.actions[0].0, Action::Mask, "due mask rule masks");
        assert_eq!(
            d.actions[1].0,
            Action::Flag,
            "erase does not change the action"
        );
        assert_eq!(d.outcome, Outcome::Mask);
        assert_eq!(d.gdpr[0].retention, Some(RetentionStatus::Due));
        assert_eq!(d.gdpr[1].erasure, Some(ErasureReason::Retention));
        let e = p.erasure_due(&ctx(&old, None), &[health, religion]);
        assert_eq!(
            e,
            [ErasureDue {
                finding: 1,
                category: Category::Religion,
                reason: ErasureReason::Retention,
                consent: None
            }]
        );
        let d = p.decide(&ctx(&new, None), &[health]);
        assert_eq!(d.actions[0].0, Action::Flag);
        assert_eq!(d.gdpr[0].retention, Some(RetentionStatus::Ok));
        for c in [&bad, &Context::new()] {
            let d = p.decide(&ctx(c, None), &[health]);
            assert_eq!(d.gdpr[0].retention, Some(RetentionStatus::Unknown));
            assert_eq!(d.actions[0].0, Action::Flag, "unknown is not masked");
        }
        // Exactly max_age old is not yet due.
        let edge: Context = [("created", Some("2024-12-07".to_string()))]
            .into_iter()
            .collect();
        assert_eq!(
            p.decide(&ctx(&edge, None), &[health]).gdpr[0].retention,
            Some(RetentionStatus::Ok)
        );
        // No findings: nothing to evaluate.
        assert!(p.decide(&ctx(&old, None), &[]).gdpr.is_empty());
    }

    #[test]
    fn consent_precedence() {
        let mut l = ConsentLedger::default();
        let entry = |given: &str, withdrawn: Option<&str>, r: &str| ConsentEntry {
            category: Category::Religion,
            given_at: ts(given),
            withdrawn_at: withdrawn.map(ts),
            reference: Arc::from(r),
        };
        l.insert("s1", entry("2026-01-01", None, "R1"));
        l.insert("s2", entry("2025-01-01", Some("2026-01-01"), "R2"));
        let p = policy(Some(l));
        let religion = finding("moslim");
        let homoglyph = Finding {
            evasion: Some(crate::Evasion::Homoglyph),
            ..religion
        };
        let date: Context = [("created", Some("2026-11-01".to_string()))]
            .into_iter()
            .collect();
        let d = p.decide(&ctx(&date, Some("s1")), &[religion, homoglyph]);
        assert_eq!(d.actions[0].0, Action::Allow, "active consent rule");
        assert_eq!(d.gdpr[0].consent.as_deref(), Some("R1"));
        assert!(d.gdpr[0].consent_active);
        assert_eq!(d.actions[1].0, Action::Reject, "the lane's rule still wins");
        let d = p.decide(&ctx(&date, Some("s2")), &[religion]);
        assert_eq!(d.actions[0].0, Action::Flag);
        assert_eq!(d.gdpr[0].erasure, Some(ErasureReason::ConsentWithdrawn));
        let e = p.erasure_due(&ctx(&date, Some("s2")), &[religion]);
        assert_eq!(e[0].consent.as_deref(), Some("R2"));
        let d = p.decide(&ctx(&date, None), &[religion]);
        assert_eq!(
            (d.actions[0].0, d.gdpr[0].consent.clone()),
            (Action::Flag, None)
        );
    }

    #[test]
    fn spec_errors() {
        let bad = [
            ("default: {action: mask}\nretention:\n  rules: []\n", "at least one rule"),
            (
                "default: {action: mask}\nretention:\n  rules:\n    - max_age: two years\n      action: review\n",
                "retention rule 1",
            ),
            (
                "default: {action: mask}\nretention:\n  rules:\n    - max_age: 2y\n      action: delete\n",
                "delete",
            ),
            (
                "default: {action: mask}\nconsent:\n  - categories: [wealth]\n    action: flag\n",
                "consent rule 1",
            ),
            (
                "default: {action: mask}\nretention:\n  date_format: \"%H\"\n  rules:\n    - max_age: 2y\n      action: review\n",
                "date format",
            ),
        ];
        for (yaml, want) in bad {
            let e = CompiledPolicy::from_yaml("p", yaml).unwrap_err();
            assert!(e.to_string().contains(want), "{e} / {want}");
        }
        // A ledger needs consent rules; retention needs a date field.
        let p = CompiledPolicy::load("default").unwrap();
        let e = p
            .with_gdpr(GdprOptions {
                consent: Some(Arc::new(ConsentLedger::default())),
                ..GdprOptions::default()
            })
            .unwrap_err();
        assert!(e.to_string().contains("consent:"), "{e}");
        let p = CompiledPolicy::from_yaml(
            "p",
            "default: {action: mask}\nretention:\n  rules:\n    - max_age: 2y\n      action: review\n",
        )
        .unwrap();
        let e = p.with_gdpr(GdprOptions::default()).unwrap_err();
        assert!(e.to_string().contains("--date-field"), "{e}");
        // Without with_gdpr (library, `art9 check`) there is no date: unknown.
        assert!(!CompiledPolicy::load("default").unwrap().has_gdpr());
    }
}

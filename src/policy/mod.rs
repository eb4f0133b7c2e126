//! Data-minimisation policy: what to do with each category of finding.
//!
//! A policy (YAML, strict) gives per category an action — `allow`, `flag`, `mask`,
//! `reject` — and a mask style (`label`, `char`, `hash`, `remove`), with per-field
//! overrides and a default. It is compiled once into a [`CompiledPolicy`] that decides, for
//! the findings of one field, the [`Decision`] (`accept`, `mask`, `reject`).
//!
//! Built-in policies: `default` (mask the seven categories with labels), `strict` (reject
//! any finding), `report` (flag only; text unchanged).

mod consent;
pub mod retention;

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;
use std::sync::Arc;

use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use crate::category::Category;
use crate::lexicon::Likelihood;
use crate::matcher::{Evasion, Finding};
use crate::record::RecordContext;
use crate::yaml::{read_yaml_file, yaml_error_parts, yaml_options, MAX_YAML_BYTES};

mod erasure;
mod purposes;

use self::retention::Gdpr;
pub use self::retention::{
    ConsentRuleSpec, ErasureDue, ErasureReason, FindingGdpr, GdprOptions, RetentionAction,
    RetentionRuleSpec, RetentionSpec, RetentionStatus,
};
pub use erasure::{EraseAction, ErasureSpec};
pub use purposes::Purpose;

/// The `min_likelihood` of a policy that names none, and of commands run without a policy:
/// `possible`. Chosen by measurement on the development corpora (LEXICONS.md, "Likelihood
/// and cues"): it hides what an organisation, animal or machine cue or another language's
/// lexicon lowered, and keeps every finding no cue lowered.
pub const DEFAULT_MIN_LIKELIHOOD: Likelihood = Likelihood::Possible;

/// What to do with a finding.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    /// Keep the text; do not report the finding as a problem.
    Allow,
    /// Keep the text; report the finding.
    Flag,
    /// Replace the span in the stored text.
    Mask,
    /// Refuse to store the note (masked in batch copies).
    Reject,
}

impl Action {
    /// The keyword used in YAML and output.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Allow => "allow",
            Action::Flag => "flag",
            Action::Mask => "mask",
            Action::Reject => "reject",
        }
    }
}

/// How a masked span is replaced.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MaskStyle {
    /// `[HEALTH]`.
    #[default]
    Label,
    /// The mask char repeated once per char of the span (`█████`).
    Char,
    /// A keyed, stable pseudonym: `[HEALTH:4f1a9c]` (HMAC-SHA256 of the normalised span).
    Hash,
    /// Delete the span.
    Remove,
}

/// One rule as written in YAML.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    /// The action.
    pub action: Action,
    /// The mask style (for `mask` and `reject`); default `label`.
    #[serde(default)]
    pub style: MaskStyle,
    /// The policy acts on findings at or above this likelihood only; the others are not
    /// reported, masked or counted. Default: the `default` rule's, else `possible`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_likelihood: Option<Likelihood>,
}

/// A rule that applies when a record's context value says so (see [`PolicySpec::when`]).
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct WhenRule {
    /// The context column it reads (`--context NAME`; the CLI reads the columns a policy
    /// names without being asked).
    pub column: String,
    /// Applies when the value is one of these (exact, case-sensitive).
    #[serde(default)]
    pub equals: Option<Vec<String>>,
    /// Applies when the column has a value (`true`) or has none (`false`: missing, null,
    /// empty).
    #[serde(default)]
    pub present: Option<bool>,
    /// Only for these categories (default: all).
    #[serde(default)]
    pub categories: Option<Vec<String>>,
    /// Only in these fields (default: all).
    #[serde(default)]
    pub fields: Option<Vec<String>>,
    /// The action.
    pub action: Action,
    /// The mask style (for `mask` and `reject`); default `label`.
    #[serde(default)]
    pub style: MaskStyle,
}

/// Where the key for `hash` masking comes from.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct HashKeySpec {
    /// Name of an environment variable holding the key.
    #[serde(default)]
    pub env: Option<String>,
    /// Path of a file holding the key (trailing newline ignored).
    #[serde(default)]
    pub file: Option<String>,
}

/// A policy as written in YAML.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct PolicySpec {
    /// Name shown in output.
    #[serde(default)]
    pub name: Option<String>,
    /// What it is for.
    #[serde(default)]
    pub description: Option<String>,
    /// Rule for categories not listed.
    pub default: Rule,
    /// Rules per category.
    #[serde(default)]
    pub categories: BTreeMap<String, Rule>,
    /// Per-field overrides: field name → category → rule.
    #[serde(default)]
    pub fields: BTreeMap<String, BTreeMap<String, Rule>>,
    /// Rules on a record's context values, tried in order before the field and category
    /// rules: the first that matches a finding decides it.
    #[serde(default)]
    pub when: Vec<WhenRule>,
    /// The char for `char` masking (default `█`).
    #[serde(default)]
    pub mask_char: Option<String>,
    /// The key for `hash` masking.
    #[serde(default)]
    pub hash_key: Option<HashKeySpec>,
    /// Turn the typo lane on for scans under this policy (as `--typos` does; issue 20).
    #[serde(default)]
    pub typos: bool,
    /// Rules per evasion lane (`homoglyph`, `spaced`, `typo`): a finding of that lane gets
    /// this rule instead of its category's or field's (e.g. flag typos, reject homoglyphs).
    #[serde(default)]
    pub evasion: BTreeMap<String, Rule>,
    /// What `art9 erase` does per category: mask the spans, null the field or delete the
    /// record (`erasure.rs`).
    #[serde(default)]
    pub erasure: Option<ErasureSpec>,
    /// Purpose, legal basis, recipients and storage period per category (or `default`),
    /// for the access extract (`purposes.rs`).
    #[serde(default)]
    pub purposes: BTreeMap<String, Purpose>,
    /// Retention rules: maximum ages of a record's date per category, and what is due when a
    /// record is older (issue 21; [`retention`]).
    #[serde(default)]
    pub retention: Option<RetentionSpec>,
    /// What an active explicit consent in the consent ledger (`--consent`) changes, per
    /// category.
    #[serde(default)]
    pub consent: Vec<ConsentRuleSpec>,
}

/// A policy could not be loaded or compiled.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct PolicyError {
    /// The file or built-in name.
    pub source: String,
    /// 1-based line, when known.
    pub line: Option<usize>,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for PolicyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "policy {}", self.source)?;
        if let Some(l) = self.line {
            write!(f, ":{l}")?;
        }
        write!(f, ": {}", self.message)
    }
}

impl std::error::Error for PolicyError {}

/// The built-in policies, by name.
pub const BUILTIN_POLICIES: &[(&str, &str)] = &[
    ("default", include_str!("../../policies/default.yaml")),
    ("strict", include_str!("../../policies/strict.yaml")),
    ("report", include_str!("../../policies/report.yaml")),
];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct CompiledRule {
    action: Action,
    style: MaskStyle,
    min: Likelihood,
}

/// What a [`WhenRule`] asks of its column.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Test {
    Equals(Vec<String>),
    Present(bool),
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct CompiledWhen {
    column: String,
    test: Test,
    categories: [bool; 7],
    fields: Option<Vec<String>>,
    rule: CompiledRule,
}

impl CompiledWhen {
    fn applies(&self, ctx: &RecordContext<'_>, category: Category) -> bool {
        if !self.categories[category.index()] {
            return false;
        }
        if let Some(fields) = &self.fields {
            if !ctx.field.is_some_and(|f| fields.iter().any(|x| x == f)) {
                return false;
            }
        }
        let value = ctx.column(&self.column).filter(|v| !v.is_empty());
        match &self.test {
            Test::Equals(vs) => value.is_some_and(|v| vs.iter().any(|x| x == v)),
            Test::Present(p) => value.is_some() == *p,
        }
    }
}

/// A validated policy, ready to decide.
#[derive(Clone)]
pub struct CompiledPolicy {
    name: String,
    rules: [CompiledRule; 7],
    fields: BTreeMap<String, [CompiledRule; 7]>,
    when: Vec<CompiledWhen>,
    mask_char: char,
    hash_key: Option<Vec<u8>>,
    typos: bool,
    /// Per [`Evasion::index`]: the lane's rule, if the policy gives one.
    lanes: [Option<CompiledRule>; 3],
    erasure: erasure::CompiledErasure,
    purposes: purposes::Purposes,
    /// Retention and consent rules with the run's settings (`None`: the policy has none).
    gdpr: Option<Arc<Gdpr>>,
}

impl fmt::Debug for CompiledPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never print the hash key. The erasure and purposes sections are listed only when
        // given, so that the fingerprint (the SHA-256 of this form) of a policy without them
        // is what it was before they existed.
        let mut d = f.debug_struct("CompiledPolicy");
        d.field("name", &self.name)
            .field("rules", &self.rules)
            .field("fields", &self.fields)
            .field("when", &self.when)
            .field("mask_char", &self.mask_char)
            .field("typos", &self.typos)
            .field("lanes", &self.lanes)
            .field("gdpr", &self.gdpr)
            .field("hash_key", &self.hash_key.as_ref().map(|_| "<set>"));
        if !self.erasure.is_default() {
            d.field("erasure", &self.erasure);
        }
        if !self.purposes.is_empty() {
            d.field("purposes", &self.purposes);
        }
        d.finish()
    }
}

/// The outcome for one note (or one field).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    /// Store as is (possibly with flagged findings).
    Accept,
    /// Store the masked text.
    Mask,
    /// Do not store.
    Reject,
}

impl Outcome {
    /// The keyword used in output.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Accept => "accept",
            Outcome::Mask => "mask",
            Outcome::Reject => "reject",
        }
    }
}

/// What the policy says about each finding of one field, and overall.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Decision {
    /// Overall outcome: reject if any finding is rejected, else mask if any is masked.
    pub outcome: Outcome,
    /// Per finding (same order as the findings): action and mask style.
    pub actions: Vec<(Action, MaskStyle)>,
    /// Per finding, when the policy has retention or consent rules (else empty): retention
    /// status, consent reference, whether erasure is due.
    pub gdpr: Vec<FindingGdpr>,
}

impl CompiledPolicy {
    /// Load a built-in policy by name, or a YAML file by path.
    ///
    /// # Errors
    /// Unknown name, unreadable file, invalid YAML, unknown keys, categories or actions, or a
    /// `hash` style without a usable key.
    pub fn load(name_or_path: &str) -> Result<CompiledPolicy, PolicyError> {
        if let Some((name, yaml)) = BUILTIN_POLICIES.iter().find(|(n, _)| *n == name_or_path) {
            return CompiledPolicy::from_yaml(name, yaml);
        }
        let path = Path::new(name_or_path);
        if !path.exists() {
            return Err(PolicyError {
                source: name_or_path.to_string(),
                line: None,
                message: "no such file and not a built-in policy (default, strict, report)".into(),
            });
        }
        let yaml = read_yaml_file(path).map_err(|message| PolicyError {
            source: name_or_path.to_string(),
            line: None,
            message,
        })?;
        CompiledPolicy::from_yaml(name_or_path, &yaml)
    }

    /// The built-in `default` policy.
    pub fn default_policy() -> CompiledPolicy {
        // The built-in YAML is checked by the tests; fall back to a code-defined equivalent.
        CompiledPolicy::load("default").unwrap_or_else(|_| CompiledPolicy {
            name: "default".into(),
            rules: [CompiledRule {
                action: Action::Mask,
                style: MaskStyle::Label,
                min: DEFAULT_MIN_LIKELIHOOD,
            }; 7],
            fields: BTreeMap::new(),
            when: Vec::new(),
            mask_char: '█',
            hash_key: None,
            typos: false,
            lanes: [None; 3],
            erasure: erasure::CompiledErasure::default(),
            purposes: purposes::Purposes::default(),
            gdpr: None,
        })
    }

    /// Parse and compile a policy from YAML. `source` is used in errors.
    ///
    /// # Errors
    /// As [`CompiledPolicy::load`].
    pub fn from_yaml(source: &str, yaml: &str) -> Result<CompiledPolicy, PolicyError> {
        let err = |line: Option<usize>, message: String| PolicyError {
            source: source.to_string(),
            line,
            message,
        };
        if yaml.len() > MAX_YAML_BYTES {
            return Err(err(None, "file too large".into()));
        }
        let spec: PolicySpec =
            serde_saphyr::from_str_with_options(yaml, yaml_options()).map_err(|e| {
                let (line, msg) = yaml_error_parts(&e);
                err(line, msg)
            })?;
        CompiledPolicy::compile_from(source, spec, Some(yaml))
    }

    /// Compile a parsed policy.
    ///
    /// # Errors
    /// As [`CompiledPolicy::load`].
    pub fn compile(source: &str, spec: PolicySpec) -> Result<CompiledPolicy, PolicyError> {
        CompiledPolicy::compile_from(source, spec, None)
    }

    /// [`CompiledPolicy::compile`]; with the YAML text, an unknown category is reported with
    /// the line where it is written.
    fn compile_from(
        source: &str,
        spec: PolicySpec,
        yaml: Option<&str>,
    ) -> Result<CompiledPolicy, PolicyError> {
        let err = |message: String| PolicyError {
            source: source.to_string(),
            line: None,
            message,
        };
        let err_at = |section: Option<&str>, key: &str, message: String| PolicyError {
            line: yaml.and_then(|y| line_of_key(y, section, key)),
            ..err(message)
        };
        // A rule without `min_likelihood` takes the one of the rule it overrides.
        let to_rule = |r: &Rule, under: Likelihood| CompiledRule {
            action: r.action,
            style: r.style,
            min: r.min_likelihood.unwrap_or(under),
        };
        let default_min = spec
            .default
            .min_likelihood
            .unwrap_or(DEFAULT_MIN_LIKELIHOOD);
        let mut rules = [to_rule(&spec.default, default_min); 7];
        for (name, rule) in &spec.categories {
            let cat: Category = name
                .parse()
                .map_err(|e| err_at(Some("categories"), name, format!("{e}")))?;
            rules[cat.index()] = to_rule(rule, default_min);
        }
        let mut fields = BTreeMap::new();
        for (field, overrides) in &spec.fields {
            let mut r = rules;
            for (name, rule) in overrides {
                let cat: Category = name
                    .parse()
                    .map_err(|e| err_at(Some(field), name, format!("field {field:?}: {e}")))?;
                r[cat.index()] = to_rule(rule, rules[cat.index()].min);
            }
            fields.insert(field.clone(), r);
        }
        let mut when = Vec::with_capacity(spec.when.len());
        for (i, w) in spec.when.iter().enumerate() {
            let at = |message: String| PolicyError {
                line: yaml.and_then(|y| line_of_nth_key(y, "column", i)),
                ..err(format!(
                    "when rule {} (column {:?}): {message}",
                    i + 1,
                    w.column
                ))
            };
            let test = match (&w.equals, w.present) {
                (Some(vs), None) if !vs.is_empty() => Test::Equals(vs.clone()),
                (None, Some(p)) => Test::Present(p),
                _ => {
                    return Err(at(
                        "give one of `equals: [values]` or `present: true|false`".into(),
                    ))
                }
            };
            let categories = match &w.categories {
                None => [true; 7],
                Some(names) => {
                    let mut set = [false; 7];
                    for name in names {
                        let cat: Category = name.parse().map_err(|e| at(format!("{e}")))?;
                        set[cat.index()] = true;
                    }
                    set
                }
            };
            when.push(CompiledWhen {
                column: w.column.clone(),
                test,
                categories,
                fields: w.fields.clone(),
                // A `when` rule changes the action and style; which findings the policy acts
                // on stays the category's `min_likelihood`.
                rule: CompiledRule {
                    action: w.action,
                    style: w.style,
                    min: default_min,
                },
            });
        }
        let mask_char = match &spec.mask_char {
            None => '█',
            Some(s) => {
                let mut it = s.chars();
                match (it.next(), it.next()) {
                    (Some(c), None) if !c.is_alphanumeric() && !c.is_whitespace() => c,
                    _ => {
                        return Err(err(
                            "mask_char must be one char that is not a letter, digit or space"
                                .into(),
                        ))
                    }
                }
            }
        };
        let mut lanes = [None; 3];
        for (name, rule) in &spec.evasion {
            let lane = Evasion::ALL
                .into_iter()
                .find(|l| l.as_str() == name)
                .ok_or_else(|| {
                    err_at(
                        Some("evasion"),
                        name,
                        format!("unknown evasion lane {name:?} (homoglyph, spaced, typo)"),
                    )
                })?;
            // A lane rule changes the action and style; the threshold stays the category's.
            lanes[lane.index()] = Some(to_rule(rule, default_min));
        }
        let uses_hash = lanes.iter().flatten().any(|r| r.style == MaskStyle::Hash)
            || rules.iter().any(|r| r.style == MaskStyle::Hash)
            || when.iter().any(|w| w.rule.style == MaskStyle::Hash)
            || fields
                .values()
                .any(|rs| rs.iter().any(|r| r.style == MaskStyle::Hash));
        let hash_key = if uses_hash {
            Some(load_hash_key(spec.hash_key.as_ref()).map_err(err)?)
        } else {
            None
        };
        let erasure = match &spec.erasure {
            Some(e) => erasure::CompiledErasure::compile(source, e).map_err(|e| PolicyError {
                line: yaml.and_then(|y| line_of_key(y, None, "erasure")),
                ..e
            })?,
            None => erasure::CompiledErasure::default(),
        };
        let purposes =
            purposes::Purposes::compile(source, &spec.purposes).map_err(|e| PolicyError {
                line: yaml.and_then(|y| line_of_key(y, None, "purposes")),
                ..e
            })?;
        let gdpr = Gdpr::compile(spec.retention.as_ref(), &spec.consent)
            .map_err(|m| {
                err_at(
                    None,
                    if spec.retention.is_some() {
                        "retention"
                    } else {
                        "consent"
                    },
                    m,
                )
            })?
            .map(Arc::new);
        Ok(CompiledPolicy {
            gdpr,
            erasure,
            purposes,
            name: spec.name.unwrap_or_else(|| source.to_string()),
            rules,
            fields,
            when,
            mask_char,
            hash_key,
            typos: spec.typos,
            lanes,
        })
    }

    /// Whether scans under this policy look for typos (`typos: true`).
    pub fn typos(&self) -> bool {
        self.typos
    }

    /// The context columns the policy's `when` rules read, each once, in order: a record
    /// source must carry them ([`crate::record::Record::context`]) for the rules to apply.
    pub fn context_columns(&self) -> Vec<&str> {
        let mut names: Vec<&str> = Vec::new();
        let date = self.gdpr.as_ref().and_then(|g| g.date_field.as_deref());
        for c in self.when.iter().map(|w| w.column.as_str()).chain(date) {
            if !names.contains(&c) {
                names.push(c);
            }
        }
        names
    }

    /// Put a run's settings on the policy's retention and consent rules: the record's date
    /// column, how to read it, the reference time, the consent ledger (see
    /// [`GdprOptions`]). A policy without such rules is returned as it is, unless a ledger
    /// is given.
    ///
    /// # Errors
    /// A ledger for a policy without `consent:` rules; retention or consent rules without a
    /// date column.
    pub fn with_gdpr(mut self, options: GdprOptions) -> Result<CompiledPolicy, PolicyError> {
        let err = |message: String| PolicyError {
            source: self.name.clone(),
            line: None,
            message,
        };
        let Some(g) = &self.gdpr else {
            if options.consent.is_some() {
                return Err(err(
                    "a consent ledger needs the policy's `consent:` rules (what \
                                active consent changes, e.g. consent: [{categories: [health], \
                                action: flag}])"
                        .into(),
                ));
            }
            return Ok(self);
        };
        let mut g = Gdpr::clone(g);
        g.apply(options).map_err(err)?;
        self.gdpr = Some(Arc::new(g));
        Ok(self)
    }

    /// The record's date column of the retention and consent rules (`retention:
    /// date_field`, or the one [`CompiledPolicy::with_gdpr`] set).
    pub fn date_field(&self) -> Option<&str> {
        self.gdpr.as_ref().and_then(|g| g.date_field.as_deref())
    }

    /// How the retention and consent rules read the date column (`None`: the policy has
    /// no such rules).
    pub fn date_parser(&self) -> Option<&crate::date::DateParser> {
        self.gdpr.as_ref().map(|g| g.parser())
    }

    /// Whether the policy has retention rules (findings then carry a retention status).
    pub fn has_retention(&self) -> bool {
        self.gdpr.as_ref().is_some_and(|g| g.has_retention())
    }

    /// Whether the policy has retention or consent rules (decisions then carry
    /// [`Decision::gdpr`]).
    pub fn has_gdpr(&self) -> bool {
        self.gdpr.is_some()
    }

    /// The findings of one field whose erasure is due, and why: a retention rule with
    /// `action: erase` that the record's date is over (at the `as_of` of [`GdprOptions`]),
    /// or a withdrawn consent of the subject for the finding's category with no active one
    /// covering the note. Empty for a policy without retention or consent rules.
    pub fn erasure_due(&self, ctx: &RecordContext<'_>, findings: &[Finding]) -> Vec<ErasureDue> {
        if self.gdpr.is_none() {
            return Vec::new();
        }
        let d = self.decide(ctx, findings);
        d.gdpr
            .iter()
            .zip(findings)
            .enumerate()
            .filter_map(|(i, (g, f))| {
                g.erasure.map(|reason| ErasureDue {
                    finding: i,
                    category: f.category,
                    reason,
                    consent: (reason == ErasureReason::ConsentWithdrawn)
                        .then(|| g.consent.clone())
                        .flatten(),
                })
            })
            .collect()
    }

    /// The policy's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The action and style for a category in a field (`None` = no field-specific rules).
    pub fn rule(&self, field: Option<&str>, category: Category) -> (Action, MaskStyle) {
        let rules = field
            .and_then(|f| self.fields.get(f))
            .unwrap_or(&self.rules);
        let r = rules[category.index()];
        (r.action, r.style)
    }

    /// The lowest likelihood the policy acts on for a category in a field.
    pub fn min_likelihood(&self, field: Option<&str>, category: Category) -> Likelihood {
        let rules = field
            .and_then(|f| self.fields.get(f))
            .unwrap_or(&self.rules);
        rules[category.index()].min
    }

    /// Drop the findings below the policy's `min_likelihood` for their category in `field`,
    /// or below `at_least` when given (`--min-likelihood`).
    pub fn retain_likely(
        &self,
        field: Option<&str>,
        findings: &mut Vec<Finding>,
        at_least: Option<Likelihood>,
    ) {
        match at_least {
            Some(min) => findings.retain(|f| f.likelihood >= min),
            None => findings.retain(|f| f.likelihood >= self.min_likelihood(field, f.category)),
        }
    }

    /// The action and style for a category in the field and record `ctx` describes: the
    /// first `when` rule that applies, else the field's rules, else the category's.
    pub fn rule_in(&self, ctx: &RecordContext<'_>, category: Category) -> (Action, MaskStyle) {
        match self.when.iter().find(|w| w.applies(ctx, category)) {
            Some(w) => (w.rule.action, w.rule.style),
            None => self.rule(ctx.field, category),
        }
    }

    /// Decide about the findings of one field of a record (`ctx`: the field's name and the
    /// record's key, subject and context values; [`RecordContext::field`] when there is no
    /// record).
    pub fn decide(&self, ctx: &RecordContext<'_>, findings: &[Finding]) -> Decision {
        let mut outcome = Outcome::Accept;
        let gdpr = self.gdpr.as_deref().filter(|_| !findings.is_empty());
        let date = gdpr.and_then(|g| g.record_date(ctx));
        let now = gdpr.map(|g| g.now());
        let mut statuses = Vec::new();
        let actions: Vec<(Action, MaskStyle)> = findings
            .iter()
            .map(|f| {
                let lane = f.evasion.and_then(|l| self.lanes[l.index()]);
                let (mut a, mut s) = match lane {
                    Some(r) => (r.action, r.style),
                    None if self.when.is_empty() => self.rule(ctx.field, f.category),
                    None => self.rule_in(ctx, f.category),
                };
                if let (Some(g), Some(now)) = (gdpr, now) {
                    let ((a2, s2), status) = g.finding(ctx, now, date, f, lane.is_some(), (a, s));
                    (a, s) = (a2, s2);
                    statuses.push(status);
                }
                let o = match a {
                    Action::Allow | Action::Flag => Outcome::Accept,
                    Action::Mask => Outcome::Mask,
                    Action::Reject => Outcome::Reject,
                };
                outcome = outcome.max(o);
                (a, s)
            })
            .collect();
        Decision {
            outcome,
            actions,
            gdpr: statuses,
        }
    }

    /// The key of the `hash` style, when the policy uses it (the run summary pseudonymises
    /// subject ids under it too).
    pub(crate) fn hash_key(&self) -> Option<&[u8]> {
        self.hash_key.as_deref()
    }

    /// The char used by the `char` style.
    pub fn mask_char(&self) -> char {
        self.mask_char
    }

    /// The pseudonym for the `hash` style: first 6 hex digits of
    /// HMAC-SHA256(key, category ":" normalised span).
    pub(crate) fn pseudonym(&self, category: Category, normalized_span: &str) -> String {
        let key = self.hash_key.as_deref().unwrap_or(&[]);
        let mut mac = match Hmac::<Sha256>::new_from_slice(key) {
            Ok(m) => m,
            // HMAC accepts keys of any length; this arm is unreachable in practice.
            Err(_) => return format!("[{}]", category.label()),
        };
        mac.update(category.as_str().as_bytes());
        mac.update(b":");
        mac.update(normalized_span.as_bytes());
        let digest = mac.finalize().into_bytes();
        let hex: String = digest[..3].iter().map(|b| format!("{b:02x}")).collect();
        format!("[{}:{hex}]", category.label())
    }
}

/// The 1-based line where `key:` is written as a mapping key in `yaml`: the first such line
/// after the line where `section:` is (if given and found). A plain text search, for error
/// messages only: quoted keys (`"key":`, `'key':`) are found too.
fn line_of_key(yaml: &str, section: Option<&str>, key: &str) -> Option<usize> {
    let is_key = |line: &str, k: &str| {
        let t = line.trim_start();
        [format!("{k}:"), format!("\"{k}\":"), format!("'{k}':")]
            .iter()
            .any(|p| t.starts_with(p.as_str()))
    };
    let start = section
        .and_then(|sec| yaml.lines().position(|l| is_key(l, sec)))
        .unwrap_or(0);
    yaml.lines()
        .enumerate()
        .skip(start)
        .find(|(_, l)| is_key(l, key))
        .map(|(i, _)| i + 1)
}

/// The line of the `n`-th (0-based) list item under `when:` that writes `key:`.
fn line_of_nth_key(yaml: &str, key: &str, n: usize) -> Option<usize> {
    let start = yaml
        .lines()
        .position(|l| l.trim_start().starts_with("when:"))?;
    yaml.lines()
        .enumerate()
        .skip(start)
        .filter(|(_, l)| {
            let t = l.trim_start();
            let t = t.strip_prefix("- ").map(str::trim_start).unwrap_or(t);
            t.starts_with(&format!("{key}:"))
        })
        .nth(n)
        .map(|(i, _)| i + 1)
}

fn load_hash_key(spec: Option<&HashKeySpec>) -> Result<Vec<u8>, String> {
    const DEFAULT_ENV: &str = "ART9_HASH_KEY";
    let key = match spec {
        Some(HashKeySpec {
            file: Some(path), ..
        }) => read_key_file(path)?,
        Some(HashKeySpec { env: Some(var), .. }) => std::env::var(var)
            .map_err(|_| format!("hash style needs a key: environment variable {var} is not set"))?
            .into_bytes(),
        _ => std::env::var(DEFAULT_ENV)
            .map_err(|_| {
                format!("hash style needs a key: set {DEFAULT_ENV} or hash_key: {{env|file}}")
            })?
            .into_bytes(),
    };
    if key.len() < 16 {
        return Err("hash key must be at least 16 bytes".into());
    }
    Ok(key)
}

/// A key file is a secret of tens of bytes; anything over [`MAX_KEY_FILE`] is the wrong
/// file (a path mix-up must not read a whole disk image into memory).
const MAX_KEY_FILE: u64 = 64 * 1024;

fn read_key_file(path: &str) -> Result<Vec<u8>, String> {
    use std::io::Read as _;
    let file = std::fs::File::open(path).map_err(|e| format!("hash_key file {path}: {e}"))?;
    let mut key = Vec::new();
    file.take(MAX_KEY_FILE + 1)
        .read_to_end(&mut key)
        .map_err(|e| format!("hash_key file {path}: {e}"))?;
    if key.len() as u64 > MAX_KEY_FILE {
        return Err(format!(
            "hash_key file {path}: larger than {} KiB; a key file holds only the key",
            MAX_KEY_FILE / 1024
        ));
    }
    key.truncate(key.trim_ascii_end().len());
    Ok(key)
}

#[cfg(test)]
mod tests;

//! The erasure plan of one scanned record (`art9 erase`): per field with findings, the
//! action the policy's `erasure:` rules give — mask the spans, null the field — or the whole
//! record deleted.
//!
//! A record's plan is the strongest action of its findings (delete > null > mask): a record
//! with any `delete` finding is deleted; otherwise each field with findings is nulled when
//! one of its findings says `null`, else its spans are masked. Masking here masks every
//! finding the scan reports (in the policy's mask style), whatever the policy's action for
//! its category says: an erasure leaves nothing of the subject's special-category data.
//!
//! The plan depends on the record and its scan results only, not on how the record was
//! chosen: `art9 erase --id` plans the records of one subject; a run over the records whose
//! retention or consent makes erasure due plans its records the same way.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::matcher::Finding;
use crate::pipeline::FieldResult;
use crate::policy::{Action, CompiledPolicy, Decision, EraseAction, Outcome};
use crate::record::Record;

/// The plan for one field of a record.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct FieldPlan {
    /// The field's name.
    pub field: String,
    /// What is done to it (`delete` when the record is deleted).
    pub action: EraseAction,
    /// Findings per category in it.
    pub categories: BTreeMap<String, u64>,
    /// The field's text after the action: `Some(masked)` for `mask`, `None` for `null` and
    /// `delete`. Never serialised.
    #[serde(skip)]
    pub masked: Option<String>,
}

/// The plan for one record: its key and, per field with findings, the action.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RecordPlan {
    /// The record key.
    pub key: String,
    /// 1-based line or row where the record starts.
    pub line: u64,
    /// The record-level action: `delete`, else the strongest field action.
    pub action: EraseAction,
    /// The fields with findings, in field order.
    pub fields: Vec<FieldPlan>,
}

/// The erasure plan of one scanned record: `None` when it has no findings. `fields` are the
/// pipeline's results for `record.fields` (same order).
pub fn plan_record(
    policy: &CompiledPolicy,
    record: &Record,
    fields: &[FieldResult],
) -> Option<RecordPlan> {
    let mut out = Vec::new();
    let mut strongest = EraseAction::Mask;
    for (fr, field) in fields.iter().zip(&record.fields) {
        if fr.findings.is_empty() {
            continue;
        }
        let mut categories: BTreeMap<String, u64> = BTreeMap::new();
        let mut action = EraseAction::Mask;
        for f in &fr.findings {
            *categories
                .entry(f.category.as_str().to_string())
                .or_default() += 1;
            action = action.max(policy.erase_action(f.category));
        }
        strongest = strongest.max(action);
        let masked = (action == EraseAction::Mask)
            .then(|| mask_all(policy, record, &field.name, &field.text, &fr.findings));
        out.push(FieldPlan {
            field: fr.name.clone(),
            action,
            categories,
            masked,
        });
    }
    if out.is_empty() {
        return None;
    }
    if strongest == EraseAction::Delete {
        for f in &mut out {
            f.action = EraseAction::Delete;
            f.masked = None;
        }
    }
    Some(RecordPlan {
        key: record.key.clone(),
        line: record.line,
        action: strongest,
        fields: out,
    })
}

/// The findings of a record whose erasure is due (`art9 erase --due`: a retention rule with
/// `action: erase` the record's date is over, or a withdrawn consent; the policy's
/// [`Decision::gdpr`](crate::Decision::gdpr) says which), as field results holding only
/// those findings; `None` when none is due. Plan them with [`plan_record`].
pub fn due_only(fields: &[FieldResult]) -> Option<Vec<FieldResult>> {
    let mut any = false;
    let out = fields
        .iter()
        .map(|fr| {
            let gdpr = fr.decision.as_ref().map_or(&[][..], |d| &d.gdpr[..]);
            let keep: Vec<usize> = (0..fr.findings.len())
                .filter(|&i| gdpr.get(i).is_some_and(|g| g.erasure.is_some()))
                .collect();
            any |= !keep.is_empty();
            FieldResult {
                name: fr.name.clone(),
                findings: keep.iter().map(|&i| fr.findings[i]).collect(),
                decision: None,
                masked: None,
                review: None,
            }
        })
        .collect();
    any.then_some(out)
}

/// `text` with every finding masked in the style the policy gives its category and field
/// (a finding the policy would only flag or allow is masked too, with its rule's style).
fn mask_all(
    policy: &CompiledPolicy,
    record: &Record,
    field: &str,
    text: &str,
    findings: &[Finding],
) -> String {
    let d = policy.decide(&record.context_for(field), findings);
    let forced = Decision {
        outcome: Outcome::Mask,
        actions: d
            .actions
            .iter()
            .map(|&(a, s)| match a {
                Action::Mask | Action::Reject => (a, s),
                Action::Allow | Action::Flag => (Action::Mask, s),
            })
            .collect(),
        gdpr: Vec::new(),
    };
    crate::mask(text, findings, &forced, policy)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::Field;

    fn record(texts: &[&str]) -> (Record, Vec<FieldResult>) {
        let scanner = crate::Scanner::builtin().unwrap();
        let fields: Vec<Field> = texts
            .iter()
            .enumerate()
            .map(|(i, t)| Field {
                name: format!("f{i}"),
                text: t.to_string(),
                raw_span: None,
            })
            .collect();
        let results = fields
            .iter()
            .map(|f| FieldResult {
                name: f.name.clone(),
                findings: scanner.scan(&f.text),
                decision: None,
                masked: None,
                review: None,
            })
            .collect();
        let r = Record {
            key: "k1".into(),
            line: 3,
            fields,
            raw: String::new(),
            terminator: "",
            subject: None,
            context: crate::record::Context::new(),
        };
        (r, results)
    }

    #[test]
    fn strongest_action_wins() {
        let p = CompiledPolicy::from_yaml(
            "p",
            "default: {action: flag}\nerasure:\n  categories:\n    religion: null\n    criminal: delete\n",
        )
        .unwrap();
        let (r, f) = record(&["Klant heeft diabetes", "Hij is moslim", "niets"]);
        let plan = plan_record(&p, &r, &f).unwrap();
        assert_eq!(plan.action, EraseAction::Null);
        assert_eq!(plan.fields.len(), 2);
        assert_eq!(plan.fields[0].action, EraseAction::Mask);
        // Flag in the policy, masked by the erasure all the same.
        assert_eq!(
            plan.fields[0].masked.as_deref(),
            Some("Klant heeft [HEALTH]")
        );
        assert_eq!(plan.fields[1].action, EraseAction::Null);
        assert_eq!(plan.fields[1].masked, None);
        let (r, f) = record(&["Klant heeft diabetes", "veroordeeld voor diefstal"]);
        let plan = plan_record(&p, &r, &f).unwrap();
        assert_eq!(plan.action, EraseAction::Delete);
        assert!(plan.fields.iter().all(|f| f.action == EraseAction::Delete));
        let (r, f) = record(&["niets"]);
        assert!(plan_record(&p, &r, &f).is_none());
        let e = CompiledPolicy::from_yaml(
            "p",
            "default: {action: mask}\nerasure: {categories: {helth: null}}\n",
        )
        .unwrap_err();
        assert!(e.message.contains("helth"), "{e}");
        let e =
            CompiledPolicy::from_yaml("p", "default: {action: mask}\nerasure: {default: shred}\n")
                .unwrap_err();
        assert!(e.message.contains("shred"), "{e}");
    }
}

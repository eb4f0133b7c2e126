//! The policy's `consent:` rules: what an active explicit consent of the data subject for a
//! category (a row of the consent ledger, [`crate::consent`]) changes about that category's
//! findings, e.g. `flag` (keep, report) instead of `mask`.

use serde::{Deserialize, Serialize};

use super::{Action, MaskStyle};
use crate::category::Category;

/// One `consent:` rule as written in YAML.
///
/// ```yaml
/// consent:
///   - categories: [health]     # default: every category
///     action: flag
/// ```
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ConsentRuleSpec {
    /// The categories it is for (art9 names; default: all).
    #[serde(default)]
    pub categories: Option<Vec<String>>,
    /// The action for findings an active consent covers.
    pub action: Action,
    /// The mask style (for `mask` and `reject`); default `label`.
    #[serde(default)]
    pub style: MaskStyle,
}

/// Per category: the action and style of the first rule that names it.
pub(crate) type ConsentRules = [Option<(Action, MaskStyle)>; 7];

/// Compile the rules; `Err` names the rule (1-based) and the unknown category.
pub(crate) fn compile(specs: &[ConsentRuleSpec]) -> Result<ConsentRules, String> {
    let mut out: ConsentRules = [None; 7];
    for (i, r) in specs.iter().enumerate() {
        let cats: Vec<Category> = match &r.categories {
            None => Category::ALL.to_vec(),
            Some(names) => names
                .iter()
                .map(|n| {
                    n.parse::<Category>()
                        .map_err(|e| format!("consent rule {}: {e}", i + 1))
                })
                .collect::<Result<_, _>>()?,
        };
        for c in cats {
            out[c.index()].get_or_insert((r.action, r.style));
        }
    }
    Ok(out)
}

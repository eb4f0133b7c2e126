//! The policy's `erasure:` section: what `art9 erase` does with a subject's record per
//! category of finding — mask the spans, null the field, or delete the record. The plan of
//! one record is made in [`crate::erase`].
//!
//! ```yaml
//! erasure:
//!   default: mask          # mask | null | delete (default: mask)
//!   categories:
//!     health: null
//!     criminal: delete
//! ```
//!

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::category::Category;
use crate::policy::{CompiledPolicy, PolicyError};

/// What an erasure does to a finding's record or field.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum EraseAction {
    /// Mask the finding's span (the policy's mask style).
    #[default]
    Mask,
    /// Set the field to NULL (databases), `null` (JSON), an empty cell or line (CSV, text).
    Null,
    /// Delete the whole record.
    Delete,
}

impl EraseAction {
    /// The keyword used in YAML and output.
    pub fn as_str(self) -> &'static str {
        match self {
            EraseAction::Mask => "mask",
            EraseAction::Null => "null",
            EraseAction::Delete => "delete",
        }
    }
}

/// The `erasure:` section as written.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ErasureSpec {
    /// The action for categories not listed (default `mask`).
    #[serde(default)]
    pub default: EraseAction,
    /// Actions per category.
    #[serde(default)]
    pub categories: BTreeMap<String, EraseAction>,
}

/// The compiled `erasure:` section: one action per category.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct CompiledErasure {
    actions: [EraseAction; 7],
}

impl CompiledErasure {
    /// Compile; an unknown category is an error.
    pub(crate) fn compile(source: &str, spec: &ErasureSpec) -> Result<Self, PolicyError> {
        let mut actions = [spec.default; 7];
        for (name, a) in &spec.categories {
            let cat: Category = name.parse().map_err(|e| PolicyError {
                source: source.to_string(),
                line: None,
                message: format!("erasure: {e}"),
            })?;
            actions[cat.index()] = *a;
        }
        Ok(CompiledErasure { actions })
    }

    /// Whether this is the default (mask everything): not shown in the policy fingerprint,
    /// so policies without the section keep theirs.
    pub(crate) fn is_default(&self) -> bool {
        *self == CompiledErasure::default()
    }
}

impl CompiledPolicy {
    /// The erasure action for findings of `category`.
    pub fn erase_action(&self, category: Category) -> EraseAction {
        self.erasure.actions[category.index()]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn actions_per_category() {
        let p = CompiledPolicy::from_yaml(
            "p",
            "default: {action: flag}\nerasure:\n  categories:\n    religion: null\n    criminal: delete\n",
        )
        .unwrap();
        assert_eq!(p.erase_action(Category::Health), EraseAction::Mask);
        assert_eq!(p.erase_action(Category::Religion), EraseAction::Null);
        assert_eq!(p.erase_action(Category::Criminal), EraseAction::Delete);
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

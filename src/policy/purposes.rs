//! The policy's `purposes:` section: why special-category data of each category is kept and
//! on what legal basis, who receives it and for how long — the Art. 15(1) information an
//! access extract (`art9 subject --access`) gives the data subject with their data.
//!
//! ```yaml
//! purposes:
//!   default: {purpose: "Customer service", basis: "Art. 9(2)(a) explicit consent"}
//!   health:
//!     purpose: "Adjusting deliveries to a medical need the customer told us about"
//!     basis: "Art. 9(2)(a) explicit consent"
//!     recipients: ["Carrier (delivery instructions only)"]
//!     storage: "24 months after the last order"
//! ```
//!
//! Keys are category names or `default` (for categories not listed). The texts are the
//! organisation's own words and are shown as written.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::category::Category;
use crate::policy::{CompiledPolicy, PolicyError};

/// The purpose of processing one category, as written.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Purpose {
    /// Why the data is processed (Art. 15(1)(a)).
    pub purpose: String,
    /// The legal basis: the Art. 9(2) exception (and Art. 6(1) basis) relied on.
    pub basis: String,
    /// Recipients or categories of recipients (Art. 15(1)(c)).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub recipients: Vec<String>,
    /// The storage period or the criteria for it (Art. 15(1)(d)), when the policy's
    /// retention rules do not give it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage: Option<String>,
}

/// The compiled `purposes:` section: per category, its own purpose or the default's.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Purposes {
    by_category: [Option<Purpose>; 7],
}

impl Purposes {
    /// Compile: keys must be category names or `default`.
    pub(crate) fn compile(
        source: &str,
        spec: &BTreeMap<String, Purpose>,
    ) -> Result<Purposes, PolicyError> {
        let default = spec.get("default").cloned();
        let mut by_category: [Option<Purpose>; 7] = std::array::from_fn(|_| default.clone());
        for (name, p) in spec {
            if name == "default" {
                continue;
            }
            let cat: Category = name.parse().map_err(|e| PolicyError {
                source: source.to_string(),
                line: None,
                message: format!("purposes: {e} (or `default`)"),
            })?;
            by_category[cat.index()] = Some(p.clone());
        }
        Ok(Purposes { by_category })
    }

    /// Whether none is given (then not shown in the policy fingerprint).
    pub(crate) fn is_empty(&self) -> bool {
        self.by_category.iter().all(Option::is_none)
    }
}

impl CompiledPolicy {
    /// The purpose and legal basis the policy gives for `category` (its own, else the
    /// `default` one), if any.
    pub fn purpose(&self, category: Category) -> Option<&Purpose> {
        self.purposes.by_category[category.index()].as_ref()
    }

    /// The storage period of `category` for the access extract (Art. 15(1)(d)): from the
    /// policy's retention rules when one names it, else the `storage` text of its purpose.
    pub fn storage_period(&self, category: Category) -> Option<String> {
        self.gdpr
            .as_ref()
            .and_then(|g| g.storage_period(category))
            .or_else(|| self.purpose(category).and_then(|p| p.storage.clone()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn category_then_default() {
        let p = CompiledPolicy::from_yaml(
            "p",
            "default: {action: mask}\npurposes:\n  default: {purpose: service, basis: 'Art. 9(2)(a)'}\n  health: {purpose: care, basis: 'Art. 9(2)(h)', recipients: [GP]}\n",
        )
        .unwrap();
        assert_eq!(p.purpose(Category::Health).unwrap().purpose, "care");
        assert_eq!(p.purpose(Category::Health).unwrap().recipients, ["GP"]);
        assert_eq!(p.purpose(Category::Religion).unwrap().purpose, "service");
        assert!(CompiledPolicy::default_policy()
            .purpose(Category::Health)
            .is_none());
        let e = CompiledPolicy::from_yaml(
            "p",
            "default: {action: mask}\npurposes:\n  helth: {purpose: a, basis: b}\n",
        )
        .unwrap_err();
        assert!(e.message.contains("helth"), "{e}");
    }
}

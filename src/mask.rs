//! Apply a [`Decision`] to the original text: only bytes inside findings change.

use crate::matcher::Finding;
use crate::normalize::normalize;
use crate::policy::{Action, CompiledPolicy, Decision, MaskStyle};

/// The text with every finding whose action is `mask` or `reject` replaced per its style.
/// `allow` and `flag` findings are left as they are.
///
/// `findings` must be sorted by start and non-overlapping, as [`crate::Scanner::scan`]
/// returns them, and `decision` must come from [`CompiledPolicy::decide`] on them.
pub fn mask(
    text: &str,
    findings: &[Finding],
    decision: &Decision,
    policy: &CompiledPolicy,
) -> String {
    let mut out = String::with_capacity(text.len() + 16);
    let mut pos = 0;
    for (f, &(action, style)) in findings.iter().zip(&decision.actions) {
        if !matches!(action, Action::Mask | Action::Reject) || f.start < pos {
            continue;
        }
        out.push_str(&text[pos..f.start]);
        let span = &text[f.start..f.end];
        match style {
            MaskStyle::Label => {
                out.push('[');
                out.push_str(f.category.label());
                out.push(']');
            }
            MaskStyle::Char => {
                let c = policy.mask_char();
                for _ in span.chars() {
                    out.push(c);
                }
            }
            MaskStyle::Hash => out.push_str(&policy.pseudonym(f.category, &normalize(span))),
            MaskStyle::Remove => {}
        }
        pos = f.end;
    }
    out.push_str(&text[pos..]);
    out
}

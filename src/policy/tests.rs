use super::*;

#[test]
fn builtins_compile() {
    for (name, _) in BUILTIN_POLICIES {
        CompiledPolicy::load(name).unwrap();
    }
}

/// A lane's rule wins over the category's and the field's; `typos: true` is read; an
/// unknown lane is an error with its line (issue 20).
#[test]
fn evasion_lane_rules() {
    let p = CompiledPolicy::from_yaml(
        "p",
        "default: {action: mask}\ntypos: true\nfields:\n  notes:\n    health: {action: reject}\nevasion:\n  typo: {action: flag}\n  homoglyph: {action: reject}\n",
    )
    .unwrap();
    assert!(p.typos());
    assert!(!CompiledPolicy::load("default").unwrap().typos());
    let scanner = crate::Scanner::builtin().unwrap();
    let health = scanner.scan("diabetes")[0];
    assert_eq!(health.category, Category::Health);
    let f = |evasion| Finding { evasion, ..health };
    let d = p.decide(
        &RecordContext::field("notes"),
        &[f(None), f(Some(Evasion::Typo)), f(Some(Evasion::Spaced))],
    );
    let actions: Vec<Action> = d.actions.iter().map(|a| a.0).collect();
    assert_eq!(actions, [Action::Reject, Action::Flag, Action::Reject]);
    let d = p.decide(&RecordContext::none(), &[f(Some(Evasion::Typo))]);
    assert_eq!(d.outcome, Outcome::Accept);
    let d = p.decide(&RecordContext::none(), &[f(Some(Evasion::Homoglyph))]);
    assert_eq!(d.outcome, Outcome::Reject);
    let e = CompiledPolicy::from_yaml(
        "p",
        "default: {action: mask}\nevasion:\n  typos: {action: flag}\n",
    )
    .unwrap_err();
    assert_eq!(e.line, Some(3), "{e}");
    assert!(e.message.contains("typos"), "{e}");
}

#[test]
fn unknown_category_or_key_is_an_error() {
    let e = CompiledPolicy::from_yaml(
        "p",
        "default: {action: mask}\ncategories:\n  helth: {action: flag}\n",
    )
    .unwrap_err();
    assert!(e.message.contains("helth"), "{e}");
    assert_eq!(e.line, Some(3), "{e}");
    let e = CompiledPolicy::from_yaml(
        "p",
        "default: {action: mask}\nfields:\n  notes:\n    health: {action: flag}\n  summary:\n    'helth': {action: flag}\n",
    )
    .unwrap_err();
    assert_eq!(e.line, Some(6), "{e}");
    assert!(e.to_string().contains("p:6"), "{e}");
    let e = CompiledPolicy::from_yaml("p", "default: {action: mask}\ncolour: red\n").unwrap_err();
    assert_eq!(e.line, Some(2), "{e}");
    let e = CompiledPolicy::from_yaml("p", "default: {action: erase}\n").unwrap_err();
    assert!(e.line.is_some(), "{e}");
}

#[test]
fn field_overrides() {
    let p = CompiledPolicy::from_yaml(
        "p",
        "default: {action: mask}\nfields:\n  notes:\n    health: {action: reject}\n",
    )
    .unwrap();
    assert_eq!(p.rule(Some("notes"), Category::Health).0, Action::Reject);
    assert_eq!(p.rule(Some("other"), Category::Health).0, Action::Mask);
    assert_eq!(p.rule(None, Category::Health).0, Action::Mask);
}

/// A rule that reads a record's context value: what a retention or consent rule builds on.
#[test]
fn when_rules_read_the_record_context() {
    use crate::record::{Context, RecordContext};
    let p = CompiledPolicy::from_yaml(
        "p",
        "default: {action: mask}\nwhen:\n  - column: consent_health\n    equals: [\"yes\", \"ja\"]\n    categories: [health]\n    fields: [notes]\n    action: flag\n",
    )
    .unwrap();
    assert_eq!(p.context_columns(), ["consent_health"]);
    let yes: Context = [("consent_health", Some("ja".to_string()))]
        .into_iter()
        .collect();
    let no: Context = [("consent_health", Some("nee".to_string()))]
        .into_iter()
        .collect();
    let ctx = |field, columns| RecordContext {
        field: Some(field),
        key: Some("7"),
        subject: None,
        columns,
    };
    assert_eq!(
        p.rule_in(&ctx("notes", &yes), Category::Health).0,
        Action::Flag
    );
    // Another category, another field, another value, no context: the usual rules.
    assert_eq!(
        p.rule_in(&ctx("notes", &yes), Category::Religion).0,
        Action::Mask
    );
    assert_eq!(
        p.rule_in(&ctx("summary", &yes), Category::Health).0,
        Action::Mask
    );
    assert_eq!(
        p.rule_in(&ctx("notes", &no), Category::Health).0,
        Action::Mask
    );
    assert_eq!(
        p.rule_in(&RecordContext::field("notes"), Category::Health)
            .0,
        Action::Mask
    );
}

#[test]
fn when_rule_needs_one_test_and_known_categories() {
    let e = CompiledPolicy::from_yaml(
        "p",
        "default: {action: mask}\nwhen:\n  - column: a\n    present: true\n    action: flag\n  - column: b\n    action: flag\n",
    )
    .unwrap_err();
    assert_eq!(e.line, Some(6), "{e}");
    assert!(e.message.contains("when rule 2"), "{e}");
    let e = CompiledPolicy::from_yaml(
        "p",
        "default: {action: mask}\nwhen:\n  - column: a\n    present: true\n    categories: [helth]\n    action: flag\n",
    )
    .unwrap_err();
    assert!(e.message.contains("helth"), "{e}");
}

#[test]
fn hash_without_key_is_an_error() {
    let e = CompiledPolicy::from_yaml(
        "p",
        "default: {action: mask, style: hash}\nhash_key: {env: ART9_TEST_NO_SUCH_VAR}\n",
    )
    .unwrap_err();
    assert!(e.message.contains("ART9_TEST_NO_SUCH_VAR"));
}

#[test]
fn hash_key_file_is_read_trimmed_and_bounded() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("key");
    std::fs::write(&good, "0123456789abcdef0123\n").unwrap();
    let yaml = |p: &std::path::Path| {
        format!(
            "default: {{action: mask, style: hash}}\nhash_key: {{file: {}}}\n",
            p.display()
        )
    };
    CompiledPolicy::from_yaml("p", &yaml(&good)).unwrap();
    let big = dir.path().join("image");
    std::fs::write(&big, vec![b'k'; 64 * 1024 + 1]).unwrap();
    let e = CompiledPolicy::from_yaml("p", &yaml(&big)).unwrap_err();
    assert!(e.message.contains("larger than 64 KiB"), "{e}");
}

//! The evasion lanes on the perturbed dev corpora (issue 20): `scripts/perturb.py` rewrites
//! every labelled sensitive note of ../shared/corpus/dev.jsonl and dev2.jsonl nine ways
//! (seeded), `art9 scan` scans them, and the script's scorer gives, per way, the share of the
//! notes caught unperturbed that are still caught. Skips with a visible message when
//! ../shared or python3 is missing.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_art9");

fn shared() -> Option<PathBuf> {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus");
    if p.join("dev.jsonl").is_file() && p.join("dev2.jsonl").is_file() {
        Some(p)
    } else {
        eprintln!("skipped: ../shared/corpus/dev.jsonl or dev2.jsonl not found");
        None
    }
}

fn python() -> bool {
    let ok = Command::new("python3")
        .arg("--version")
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        eprintln!("skipped: python3 not found");
    }
    ok
}

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/perturb.py")
}

fn output(cmd: &mut Command) -> Vec<u8> {
    let o = cmd.output().expect("run");
    assert!(
        o.status.success() || o.status.code() == Some(1),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    o.stdout
}

#[test]
fn perturbed_dev_corpora_catch_rates() {
    let Some(corpus) = shared() else { return };
    if !python() {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let notes = dir.path().join("perturbed.jsonl");
    let gen = output(
        Command::new("python3")
            .arg(script())
            .arg("gen")
            .arg(corpus.join("dev.jsonl"))
            .arg(corpus.join("dev2.jsonl"))
            .args(["--seed", "20"]),
    );
    // Seeded and deterministic: the same notes a second time.
    let again = output(
        Command::new("python3")
            .arg(script())
            .arg("gen")
            .arg(corpus.join("dev.jsonl"))
            .arg(corpus.join("dev2.jsonl"))
            .args(["--seed", "20"]),
    );
    assert!(gen == again, "the generator is not deterministic");
    std::fs::write(&notes, &gen).expect("write notes");
    let findings = dir.path().join("findings.jsonl");
    let out = output(
        Command::new(BIN)
            .arg("scan")
            .arg(&notes)
            .args(["--field", "text", "--key", "id", "--format", "jsonl"]),
    );
    // Privacy: the findings carry no matched text (nor entry id).
    for l in String::from_utf8_lossy(&out).lines() {
        let f: serde_json::Value = serde_json::from_str(l).expect("finding");
        assert!(f.get("text").is_none() && f.get("entry").is_none(), "{l}");
    }
    std::fs::write(&findings, &out).expect("write findings");
    let table = output(
        Command::new("python3")
            .arg(script())
            .arg("score")
            .arg(&notes)
            .arg(&findings),
    );
    eprintln!("{}", String::from_utf8_lossy(&table));
    let json = output(
        Command::new("python3")
            .arg(script())
            .arg("score")
            .arg(&notes)
            .arg(&findings)
            .arg("--json"),
    );
    let v: serde_json::Value = serde_json::from_slice(&json).expect("score json");
    let rate = |kind: &str| v["kinds"][kind]["rate"].as_f64().expect(kind);
    let lane = |kind: &str, lane: &str| v["kinds"][kind]["lanes"][lane].as_u64().unwrap_or(0);
    // Issue 20: every lane catches >= 90% of what the same notes give unperturbed.
    for kind in ["homoglyph", "spaced"] {
        assert!(rate(kind) >= 0.90, "{kind}: {}", rate(kind));
        assert!(lane(kind, kind) > 0, "no finding tagged {kind}");
    }
    // What normalisation already did stays done (upper case loses only case-sensitive
    // entries such as "Venstre"; missing diacritics are reported, not asserted: Danish "å"
    // typed as "a" is a lexicon matter, see LEXICONS.md).
    for kind in ["zerowidth", "softhyphen", "fullwidth", "nbsp"] {
        assert!(rate(kind) >= 0.99, "{kind}: {}", rate(kind));
        assert_eq!(lane(kind, "homoglyph") + lane(kind, "spaced"), 0, "{kind}");
    }
    assert!(rate("upper") >= 0.95, "upper: {}", rate("upper"));
}

#[test]
fn unperturbed_dev_corpora_have_no_evasion_findings() {
    let Some(corpus) = shared() else { return };
    for name in ["dev.jsonl", "dev2.jsonl"] {
        let out = output(
            Command::new(BIN)
                .arg("scan")
                .arg(corpus.join(name))
                .args(["--field", "text", "--key", "id", "--format", "jsonl"]),
        );
        let tagged = String::from_utf8_lossy(&out)
            .lines()
            .filter(|l| l.contains("\"evasion\""))
            .count();
        assert_eq!(tagged, 0, "{name}: {tagged} findings from an evasion lane");
    }
}

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

    // The same notes with --typos: the typo lane (issue 20 asks 90%; measured 94.0%, see
    // LEXICONS.md for what it still misses); the other ways lose nothing.
    let out = output(Command::new(BIN).arg("scan").arg(&notes).args([
        "--field", "text", "--key", "id", "--format", "jsonl", "--typos",
    ]));
    std::fs::write(&findings, &out).expect("write findings");
    let json = output(
        Command::new("python3")
            .arg(script())
            .arg("score")
            .arg(&notes)
            .arg(&findings)
            .arg("--json"),
    );
    let t: serde_json::Value = serde_json::from_slice(&json).expect("score json");
    let typo_rate = t["kinds"]["typo"]["rate"].as_f64().expect("typo");
    eprintln!(
        "with --typos: typo {typo_rate:.3}, all {:.3}",
        t["all"]["rate"]
    );
    assert!(typo_rate >= 0.90, "typo: {typo_rate}");
    assert!(t["kinds"]["typo"]["lanes"]["typo"].as_u64().unwrap_or(0) > 0);
    for kind in ["homoglyph", "spaced", "zerowidth", "fullwidth"] {
        let r = t["kinds"][kind]["rate"].as_f64().expect(kind);
        assert!(r >= rate(kind), "{kind} with --typos: {r} < {}", rate(kind));
    }
}

/// The built-in guard holds every nl and en dictionary word the typo lane would flag
/// (`scripts/typo_guard.py` was run after the last lexicon change).
#[test]
fn typo_guard_is_complete_for_nl_and_en_word_lists() {
    let dir =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/reference/term-sources/wordlists");
    let lists = ["nl-opentaal-basiswoorden-gekeurd.txt", "en-wbritish.txt"];
    if !lists.iter().all(|l| dir.join(l).is_file()) {
        eprintln!("skipped: ../shared/reference/term-sources/wordlists not found");
        return;
    }
    for l in lists {
        let out = output(
            Command::new(BIN)
                .arg("scan")
                .arg(dir.join(l))
                .args(["--text", "--typos", "--format", "jsonl", "-q"]),
        );
        let typos = String::from_utf8_lossy(&out)
            .lines()
            .filter(|l| l.contains("\"evasion\":\"typo\""))
            .count();
        assert_eq!(typos, 0, "{l}: run scripts/typo_guard.py");
    }
}

/// The Danish precision goal of the typo lane (issue 20): words of the wdanish list (not the
/// hunspell dictionary the guard's Danish words come from: a held-out list) flagged with
/// `--typos` are at most 5% more than without.
#[test]
fn danish_word_list_audit_with_typos_within_five_percent() {
    let list = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/reference/term-sources/wordlists/da-wdanish.txt");
    if !list.is_file() {
        eprintln!("skipped: ../shared/reference/term-sources/wordlists not found");
        return;
    }
    let flagged = |typos: bool| {
        let mut cmd = Command::new(BIN);
        cmd.arg("scan")
            .arg(&list)
            .args(["--text", "--format", "jsonl", "-q"]);
        if typos {
            cmd.arg("--typos");
        }
        let out = output(&mut cmd);
        let lines: std::collections::HashSet<u64> = String::from_utf8_lossy(&out)
            .lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .filter_map(|v| v["line"].as_u64())
            .collect();
        lines.len()
    };
    let (without, with) = (flagged(false), flagged(true));
    eprintln!("da-wdanish words flagged: {without} without --typos, {with} with");
    assert!(without > 1000, "the audit flags the known false friends");
    assert!(
        with as f64 <= without as f64 * 1.05,
        "{with} > 1.05 x {without}: run scripts/typo_guard.py with hunspell-da installed"
    );
}

/// The typo switch of the service: a policy with `typos: true` gets typo findings, the
/// default policy of the same engine does not; `EngineSource::typos` gives them to all.
#[test]
fn typo_switch_in_policy_and_service() {
    use art9::service::{Engine, EngineSource, Limits, Op, Request};
    let dir = tempfile::tempdir().expect("tempdir");
    let policy = dir.path().join("typos.yaml");
    std::fs::write(
        &policy,
        "name: typos\ndefault: {action: mask}\ntypos: true\nevasion:\n  typo: {action: flag}\n",
    )
    .expect("write policy");
    let source = EngineSource {
        policies: vec!["default".into(), policy.to_str().expect("utf-8").into()],
        ..EngineSource::default()
    };
    let engine = Engine::load(&source).expect("engine");
    let ask = |engine: &Engine, policy: Option<&str>| {
        let req = Request {
            text: Some("Klant heeft kanekr.".into()),
            policy: policy.map(str::to_string),
            ..Request::default()
        };
        let r = engine
            .handle(Op::Check, req, &Limits::default())
            .expect("answer");
        serde_json::to_value(&r).expect("json")
    };
    let plain = ask(&engine, None);
    assert_eq!(plain["findings"], serde_json::json!([]), "{plain}");
    let typo = ask(&engine, Some("typos"));
    assert_eq!(typo["findings"][0]["evasion"], "typo", "{typo}");
    assert_eq!(typo["findings"][0]["action"], "flag", "{typo}");
    assert_eq!(typo["decision"], "accept", "{typo}");
    let all = Engine::load(&EngineSource {
        typos: true,
        ..source
    })
    .expect("engine");
    let plain = ask(&all, None);
    assert_eq!(plain["findings"][0]["evasion"], "typo", "{plain}");
    assert_eq!(plain["decision"], "mask", "{plain}");
}

/// Issue 20: the dev corpora's clean and trap notes flagged with `--typos` are the ones
/// flagged without.
#[test]
fn typos_flag_no_further_clean_or_trap_note() {
    let Some(corpus) = shared() else { return };
    for name in ["dev.jsonl", "dev2.jsonl"] {
        let text = std::fs::read_to_string(corpus.join(name)).expect("corpus");
        let clean: std::collections::HashSet<String> = text
            .lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .filter(|v| v["spans"].as_array().is_none_or(Vec::is_empty))
            .filter_map(|v| v["id"].as_str().map(str::to_string))
            .collect();
        let flagged = |typos: bool| {
            let mut cmd = Command::new(BIN);
            cmd.arg("scan")
                .arg(corpus.join(name))
                .args(["--field", "text", "--key", "id", "--format", "jsonl", "-q"]);
            if typos {
                cmd.arg("--typos");
            }
            let mut ids: Vec<String> = String::from_utf8_lossy(&output(&mut cmd))
                .lines()
                .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
                .filter_map(|v| v["record"].as_str().map(str::to_string))
                .filter(|id| clean.contains(id))
                .collect();
            ids.sort();
            ids.dedup();
            ids
        };
        assert!(clean.len() > 100, "{name}: {} clean notes", clean.len());
        assert_eq!(flagged(true), flagged(false), "{name}");
    }
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

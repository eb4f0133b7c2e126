//! Every CRM sample export in ../shared/reference/crm-exports reads (issue #5): records read =
//! scanned + skipped, and the Salesforce UTF-16 / BOM files decode. Skipped, with a message,
//! when ../shared is not beside the project.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_art9");

fn exports() -> Option<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/reference/crm-exports");
    if dir.is_dir() {
        Some(dir)
    } else {
        eprintln!(
            "SKIPPED crm_exports: {} not found (the shared reference data is not beside the \
             project)",
            dir.display()
        );
        None
    }
}

/// Scan one file with `--format json` and return the summary object.
fn summary(file: &Path, extra: &[&str]) -> serde_json::Value {
    let mut args = vec![
        "scan",
        file.to_str().expect("utf-8 path"),
        "--format",
        "json",
    ];
    args.extend_from_slice(extra);
    let out = Command::new(BIN)
        .args(&args)
        .stdin(Stdio::null())
        .output()
        .expect("run art9");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        matches!(out.status.code(), Some(0 | 1)),
        "{}: exit {:?}\n{stderr}",
        file.display(),
        out.status.code()
    );
    let doc: serde_json::Value = serde_json::from_str(&stdout)
        .unwrap_or_else(|e| panic!("{}: output is not JSON ({e})", file.display()));
    doc["summary"].clone()
}

fn count(s: &serde_json::Value, k: &str) -> u64 {
    s[k].as_u64().unwrap_or_else(|| panic!("no {k} in {s}"))
}

#[test]
fn every_sample_export_reads_completely() {
    let Some(dir) = exports() else { return };
    let mut files: Vec<PathBuf> = Vec::new();
    for sub in [
        "salesforce/dataloader",
        "salesforce/healthcloud-adk",
        "civicrm",
        "odoo",
    ] {
        let Ok(entries) = std::fs::read_dir(dir.join(sub)) else {
            continue;
        };
        for e in entries.flatten() {
            let p = e.path();
            if matches!(p.extension().and_then(|x| x.to_str()), Some("csv" | "json")) {
                files.push(p);
            }
        }
    }
    files.sort();
    assert!(
        files.len() >= 10,
        "expected the sample files, found {files:?}"
    );
    for f in &files {
        let s = summary(f, &["--strip-html"]);
        let read = count(&s, "records_read");
        assert!(read > 0, "{}: no records", f.display());
        assert_eq!(
            read,
            count(&s, "records_scanned") + count(&s, "records_skipped"),
            "{}",
            f.display()
        );
        assert_eq!(count(&s, "records_skipped"), 0, "{}: {s}", f.display());
    }
}

#[test]
fn salesforce_utf16_and_bom_files_decode() {
    let Some(dir) = exports() else { return };
    let d = dir.join("salesforce/dataloader");
    // The same table in three encodings: identical records, first column named "column1".
    for name in [
        "csvtext_BOM_UTF8.csv",
        "csvtext_BOM_UTF16LE.csv",
        "csvtext_BOM_UTF16BE.csv",
    ] {
        let f = d.join(name);
        let s = summary(&f, &["--field", "column1", "--key", "column3"]);
        assert_eq!(count(&s, "records_read"), 2, "{name}: {s}");
        assert_eq!(count(&s, "records_scanned"), 2, "{name}: {s}");
        // "row1-1" and "row2-1": 6 bytes each, so the BOM and the encoding were handled.
        assert_eq!(count(&s, "bytes_scanned"), 12, "{name}: {s}");
    }
}

#[test]
fn health_cloud_cases_hold_health_data() {
    let Some(dir) = exports() else { return };
    let f = dir.join("salesforce/healthcloud-adk/Case.json");
    let s = summary(
        &f,
        &[
            "--field",
            "Description*",
            "--field",
            "Subject*",
            "--key",
            "attributes.referenceId",
        ],
    );
    // Some cases have no Description: a glob selects what is there, nothing is skipped.
    assert_eq!(count(&s, "records_read"), count(&s, "records_scanned"));
    assert!(s["findings"]["health"].as_u64().unwrap_or(0) > 0, "{s}");
}

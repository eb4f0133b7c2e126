//! End-to-end tests of input detection (issue 23, item 4): gzip and zstd inputs read as the
//! plain file (found by their magic bytes, the format by the name under `.gz`/`.zst`), masked
//! copies compressed the same way, and binary formats refused with one error line.
//!
//! Fixtures are made in a temporary directory from examples/ and tests/data/files/.

#![cfg(feature = "compress")]

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use art9::input::compress::decompressing;
use art9::input::Compression;
use art9::output::compress::CompressWriter;

mod common;

use common::{art9, s, Out};

fn compress(bytes: &[u8], c: Compression) -> Vec<u8> {
    let mut w = CompressWriter::new(Vec::new(), c).expect("encoder");
    w.write_all(bytes).expect("compress");
    w.finish().expect("finish")
}

fn decompress(bytes: &[u8], c: Compression) -> Vec<u8> {
    let mut r =
        decompressing(Box::new(std::io::Cursor::new(bytes.to_vec())), c, "test").expect("decoder");
    let mut out = Vec::new();
    r.read_to_end(&mut out).expect("decompress");
    out
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, bytes).expect("write fixture");
    p
}

fn scan(path: &str, extra: &[&str]) -> Out {
    let mut args = vec!["scan", path, "--format", "jsonl"];
    args.extend_from_slice(extra);
    art9(&args, None)
}

/// The plain file and its gzip and zstd copies (`NAME.gz`, `NAME.zst`, and a gzip copy of
/// two members, as `cat a.gz b.gz` makes) give the same findings, skips and summary.
#[test]
fn compressed_inputs_give_the_findings_of_the_plain_file() {
    let d = tempfile::tempdir().expect("tempdir");
    let jsonl = std::fs::read("examples/crm-notes.jsonl").expect("read");
    let lines = String::from_utf8(jsonl.clone()).expect("utf-8");
    let array = format!("[\n{}\n]\n", lines.lines().collect::<Vec<_>>().join(",\n"));
    let text: String = lines
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).expect("json");
            format!("{}\n", v["note"].as_str().expect("note"))
        })
        .collect();
    let inputs: Vec<(&str, Vec<u8>, &[&str])> = vec![
        ("notes.jsonl", jsonl, &["--field", "note", "--key", "id"]),
        (
            "notes.csv",
            std::fs::read("examples/crm-notes.csv").expect("read"),
            &["--field", "note", "--key", "id"],
        ),
        (
            "notes.json",
            array.into_bytes(),
            &["--field", "note", "--key", "id"],
        ),
        ("notes.txt", text.into_bytes(), &[]),
        (
            "utf16.csv",
            std::fs::read("tests/data/files/utf16le-bom.csv").expect("read"),
            &["--field", "DESCRIPTION", "--key", "ID"],
        ),
    ];
    for (name, bytes, flags) in inputs {
        let plain = scan(s(&write(d.path(), name, &bytes)), flags);
        assert_eq!(plain.code, 1, "{name}: {}", plain.stderr);
        let gz = compress(&bytes, Compression::Gzip);
        let copies = [
            (format!("{name}.gz"), gz.clone()),
            (format!("{name}.gzip"), gz.clone()),
            (format!("{name}.zst"), compress(&bytes, Compression::Zstd)),
        ];
        for (copy, packed) in copies {
            let o = scan(s(&write(d.path(), &copy, &packed)), flags);
            assert_eq!(o.code, plain.code, "{copy}: {}", o.stderr);
            assert_eq!(o.stdout, plain.stdout, "{copy}");
            assert_eq!(o.stderr, plain.stderr, "{copy}");
        }
        // Two gzip members: every record of both (where two copies make one input).
        if !name.ends_with(".jsonl") && !name.ends_with(".txt") {
            continue;
        }
        let two = [&gz[..], &gz[..]].concat();
        let o = scan(s(&write(d.path(), &format!("two-{name}.gz"), &two)), flags);
        assert_eq!(o.code, 1, "{}", o.stderr);
        assert_eq!(o.stdout.lines().count(), 2 * plain.stdout.lines().count());
    }
}

/// Detection is by magic bytes: gzip under a name without `.gz` (the format still from the
/// name), zstd on standard input; a `.gz` name that holds plain text is read as text.
#[test]
fn compression_is_found_by_magic_bytes_not_by_name() {
    let d = tempfile::tempdir().expect("tempdir");
    let csv = std::fs::read("examples/crm-notes.csv").expect("read");
    let flags = ["--field", "note", "--key", "id"];
    let plain = scan("examples/crm-notes.csv", &flags);
    assert_eq!(plain.code, 1, "{}", plain.stderr);
    let hidden = write(d.path(), "export.csv", &compress(&csv, Compression::Gzip));
    let o = scan(s(&hidden), &flags);
    assert_eq!((o.code, &o.stdout), (1, &plain.stdout), "{}", o.stderr);
    let named = write(d.path(), "notes.csv.gz", &csv);
    let o = scan(s(&named), &flags);
    assert_eq!((o.code, &o.stdout), (1, &plain.stdout), "{}", o.stderr);

    let jsonl = std::fs::read("examples/crm-notes.jsonl").expect("read");
    let plain = scan("examples/crm-notes.jsonl", &flags);
    let mut args = vec!["scan", "-", "--format", "jsonl"];
    args.extend_from_slice(&flags);
    let o = art9(&args, Some(&compress(&jsonl, Compression::Zstd)));
    assert_eq!((o.code, &o.stdout), (1, &plain.stdout), "{}", o.stderr);
}

/// `mask` of a compressed file writes a copy compressed the same way (or as the `-o` name
/// says) that decompresses to exactly what masking the plain file writes.
#[test]
fn masked_copies_are_compressed_like_the_input() {
    let d = tempfile::tempdir().expect("tempdir");
    for (name, flags) in [
        ("crm-notes.jsonl", ["--field", "note", "--key", "id"]),
        ("crm-notes.csv", ["--field", "note", "--key", "id"]),
    ] {
        let bytes = std::fs::read(format!("examples/{name}")).expect("read");
        let mask = |input: &Path, out: &str| {
            let mut args = vec!["mask", s(input), "-o", out];
            args.extend_from_slice(&flags);
            art9(&args, None)
        };
        let plain_out = d.path().join(format!("masked-{name}"));
        let o = mask(Path::new(&format!("examples/{name}")), s(&plain_out));
        assert_eq!(o.code, 1, "{}", o.stderr);
        let expected = std::fs::read(&plain_out).expect("read");
        assert!(String::from_utf8_lossy(&expected).contains("[HEALTH]"));
        for c in [Compression::Gzip, Compression::Zstd] {
            let ext = if c == Compression::Gzip { "gz" } else { "zst" };
            let input = write(d.path(), &format!("{name}.{ext}"), &compress(&bytes, c));
            let out = d.path().join(format!("masked-{name}.{ext}"));
            let o = mask(&input, s(&out));
            assert_eq!(o.code, 1, "{}", o.stderr);
            let written = std::fs::read(&out).expect("read");
            assert_ne!(written, expected, "{ext}: not compressed");
            assert_eq!(decompress(&written, c), expected, "{name}.{ext}");
            // A name that does not say so: compressed like the input, with a note.
            let out = d.path().join(format!("unnamed-{name}-{ext}"));
            let o = mask(&input, s(&out));
            assert_eq!(o.code, 1, "{}", o.stderr);
            assert!(
                o.stderr.contains(&format!("the input is {c}-compressed")),
                "{}",
                o.stderr
            );
            assert_eq!(decompress(&std::fs::read(&out).expect("read"), c), expected);
            // A plain input, a compressed name: compressed as the name says.
            let out = d.path().join(format!("named-{name}.{ext}"));
            let o = mask(Path::new(&format!("examples/{name}")), s(&out));
            assert_eq!(o.code, 1, "{}", o.stderr);
            assert_eq!(decompress(&std::fs::read(&out).expect("read"), c), expected);
        }
    }
    // No temporary files left behind.
    for entry in std::fs::read_dir(d.path()).expect("read_dir") {
        let name = entry.expect("entry").file_name();
        assert!(!name.to_string_lossy().ends_with(".tmp"), "{name:?}");
    }
}

/// An error of exactly one line, exit 2, nothing on stdout, no note text.
fn assert_one_error(o: &Out, what: &str, path: &str) {
    assert_eq!(o.code, 2, "{what}: {}", o.stderr);
    assert_eq!(o.stdout, "", "{what}");
    assert_eq!(o.stderr.lines().count(), 1, "{what}: {}", o.stderr);
    assert!(
        o.stderr
            .starts_with(&format!("art9: error: {path}: looks like {what}")),
        "{what}: {}",
        o.stderr
    );
    assert!(!o.stderr.contains("skipped"), "{}", o.stderr);
    assert!(!o.stderr.contains("diabetes"), "{}", o.stderr);
}

/// Binary formats are one clear error line, exit 2, for scan and mask; no per-line skips,
/// no masked copy.
#[test]
fn binary_formats_are_one_error() {
    let d = tempfile::tempdir().expect("tempdir");
    let secret = b"Klant heeft diabetes\n".repeat(20);
    let zip = |names: &[u8]| {
        [
            &b"PK\x03\x04\x14\x00\x06\x00\x08\x00\x00\x00!\x00"[..],
            names,
            &secret[..],
        ]
        .concat()
    };
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        (
            "notes.xlsx",
            zip(b"[Content_Types].xml\x00\x00xl/workbook.xml"),
            "an Excel workbook (XLSX), not text: export",
        ),
        (
            "notes.docx",
            zip(b"word/document.xml"),
            "a Word document (DOCX)",
        ),
        (
            "notes.ods",
            zip(b"mimetypeapplication/vnd.oasis.opendocument.spreadsheet"),
            "an OpenDocument spreadsheet (ODS)",
        ),
        (
            "notes.zip",
            zip(b"notes.csv"),
            "a ZIP archive, not text: unpack it first",
        ),
        (
            "notes.xls",
            [&b"\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1"[..], &secret].concat(),
            "a legacy Office file",
        ),
        (
            "notes.pdf",
            [&b"%PDF-1.7\n"[..], &secret].concat(),
            "a PDF document",
        ),
        (
            "notes.png",
            [&b"\x89PNG\r\n\x1A\n\0\0\0\rIHDR"[..], &secret].concat(),
            "a PNG image",
        ),
        (
            "crm.db",
            [&b"SQLite format 3\0"[..], &secret].concat(),
            "an SQLite database, not text: scan the table with sqlite:FILE --table",
        ),
        (
            "notes.jsonl.bz2",
            [&b"BZh91AY&SY"[..], &secret].concat(),
            "bzip2-compressed data, not text: art9 decompresses gzip and zstd only",
        ),
        (
            "notes.jsonl.xz",
            [&b"\xFD7zXZ\0"[..], &secret].concat(),
            "xz-compressed data",
        ),
        (
            "utf16.csv",
            "id,note\n1,Klant heeft diabetes\n"
                .encode_utf16()
                .flat_map(u16::to_le_bytes)
                .collect(),
            "UTF-16LE text without a byte-order mark, not text: add --encoding utf-16le",
        ),
        (
            // A tar archive, gzip-compressed.
            "notes.tar.gz",
            compress(
                &{
                    let mut tar = b"notes.jsonl".to_vec();
                    tar.resize(257, 0);
                    tar.extend_from_slice(b"ustar\x0000");
                    tar.extend_from_slice(&secret);
                    tar
                },
                Compression::Gzip,
            ),
            "a tar archive inside gzip compression, not text: unpack it first",
        ),
    ];
    // With the feature, a Parquet file is read (tests/parquet.rs has its errors); without
    // it, one error says this build does not read Parquet.
    #[cfg(not(feature = "parquet"))]
    {
        let p = write(
            d.path(),
            "notes.parquet",
            &[&b"PAR1\x15\x04\x15"[..], &secret].concat(),
        );
        let o = scan(s(&p), &[]);
        assert_eq!(o.code, 2, "{}", o.stderr);
        assert_eq!(o.stderr.lines().count(), 1, "{}", o.stderr);
        let want = format!(
            "art9: error: {} is Parquet, and this build of art9 does not read Parquet",
            s(&p)
        );
        assert!(o.stderr.starts_with(&want), "{}", o.stderr);
        assert!(!o.stderr.contains("diabetes"), "{}", o.stderr);
    }
    for (name, bytes, what) in cases {
        let p = write(d.path(), name, &bytes);
        assert_one_error(&scan(s(&p), &[]), what, s(&p));
        let out = d.path().join("masked.out");
        let o = art9(&["mask", s(&p), "-o", s(&out)], None);
        assert_one_error(&o, what, s(&p));
        assert!(!out.exists(), "{name}: a masked copy was written");
    }
    // UTF-16 without a BOM is read when declared.
    let p = d.path().join("utf16.csv");
    let o = scan(s(&p), &["--encoding", "utf-16le", "--field", "note"]);
    assert_eq!(o.code, 1, "{}", o.stderr);
    // The same on standard input.
    let o = art9(
        &["scan", "-"],
        Some(&[&b"\x7FELF\x02\x01\x01\0"[..], &[0u8; 64], &secret].concat()),
    );
    assert_one_error(&o, "an executable or library (ELF)", "standard input");
}

/// A program, as the issue had it: one line, not 100 skips and a summary.
#[test]
fn an_executable_is_one_error() {
    let ls = Path::new("/usr/bin/ls");
    if !ls.exists() {
        return;
    }
    let o = scan(s(ls), &[]);
    assert_one_error(&o, "an executable or library (ELF)", "/usr/bin/ls");
}

/// Truncated or corrupt compressed data: one error naming the file, exit 2, and for `mask`
/// no output file.
#[test]
fn truncated_compressed_input_is_a_clear_error() {
    let d = tempfile::tempdir().expect("tempdir");
    let jsonl = std::fs::read("examples/crm-notes.jsonl").expect("read");
    // Enough records that the cut falls after the first read of the decoder.
    let many: Vec<u8> = jsonl.repeat(400);
    for c in [Compression::Gzip, Compression::Zstd] {
        let packed = compress(&many, c);
        for (label, cut) in [
            ("early", packed[..packed.len().min(40)].to_vec()),
            ("late", packed[..packed.len() * 3 / 4].to_vec()),
            ("corrupt", {
                let mut p = packed.clone();
                let mid = p.len() / 2;
                for b in &mut p[mid..mid + 64] {
                    *b ^= 0x5A;
                }
                p
            }),
        ] {
            let p = write(d.path(), &format!("{label}.jsonl.{c}"), &cut);
            let o = scan(s(&p), &["--field", "note"]);
            assert_eq!(o.code, 2, "{c} {label}: {}", o.stderr);
            let errors: Vec<&str> = o
                .stderr
                .lines()
                .filter(|l| l.starts_with("art9: error:"))
                .collect();
            assert_eq!(errors.len(), 1, "{c} {label}: {}", o.stderr);
            assert!(
                errors[0].contains(&format!("{}: the {c} data is", s(&p))),
                "{}",
                errors[0]
            );
            // Corrupt data may decompress to lines that are not records before the
            // checksum says so; a cut stream ends at the cut.
            if label != "corrupt" {
                assert!(!o.stderr.contains("skipped"), "{}", o.stderr);
            }
            let out = d.path().join(format!("masked-{label}.jsonl.{c}"));
            let o = art9(&["mask", s(&p), "--field", "note", "-o", s(&out)], None);
            assert_eq!(o.code, 2, "{}", o.stderr);
            assert!(o.stderr.contains("truncated or corrupt"), "{}", o.stderr);
            assert!(!out.exists(), "{c} {label}: a masked copy was written");
        }
    }
}

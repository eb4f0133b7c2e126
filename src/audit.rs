//! The audit log (`--audit FILE`): one JSON line per run that changes or exports data
//! (`mask`, `erase`, `subject --access`; `scan` when asked), hash-chained so that a changed,
//! removed or reordered line is found by [`verify`] (`art9 audit verify FILE`).
//!
//! # Line format (schema `art9-audit/1`, SCHEMAS.md)
//! Each line is one JSON object whose keys are [`AuditEntry`]'s, in that order, followed by
//! `"hash"`: the SHA-256 (hex) of the line's bytes up to the comma before `"hash"` (the
//! object so far, without its closing brace). `seq` is the line's 1-based number and `prev`
//! the previous line's `hash` ([`GENESIS`] on the first line). So a changed line fails its
//! own hash, a removed or reordered one breaks `seq` and `prev`. The chain is unkeyed: it
//! proves the log was not edited by hand or truncated in the middle, not that nobody
//! rewrote the whole tail; anchor the head ([`Verified::head`]) elsewhere for that.
//!
//! # Appends
//! [`append`] opens the file with `O_APPEND` (created `0600`), takes an exclusive `flock` on
//! it, reads the last line under the lock (its `seq` and `hash`), writes the new line with
//! one `write` and syncs it before unlocking: concurrent runs append one after the other,
//! never interleaved, never with the same `seq`. (Not on non-Unix systems, where no lock is
//! taken.)
//!
//! # Privacy
//! No note text, ever: counts, record keys (identifiers, for erasure), file names with their
//! SHA-256, the command line with passwords and subject ids replaced by `***`, and the
//! subject as a keyed pseudonym ([`subject_pseudonym`]) when a key is set.

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::Path;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// The schema name and version every line carries.
pub const AUDIT_SCHEMA: &str = "art9-audit/1";

/// The `prev` of the first line: 64 zeros.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// What a line is split at: the hash that closes it.
const HASH_KEY: &str = ",\"hash\":\"";

/// A written output file.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct OutputFile {
    /// The path as given.
    pub path: String,
    /// Its size in bytes.
    pub bytes: u64,
    /// SHA-256 of its bytes, hex.
    pub sha256: String,
}

impl OutputFile {
    /// Hash a file that was written.
    ///
    /// # Errors
    /// The file cannot be read.
    pub fn of(path: &Path) -> io::Result<OutputFile> {
        let mut f = File::open(path)?;
        let mut h = Sha256::new();
        let mut buf = vec![0u8; 64 * 1024];
        let mut bytes = 0u64;
        loop {
            let n = f.read(&mut buf)?;
            if n == 0 {
                break;
            }
            h.update(&buf[..n]);
            bytes += n as u64;
        }
        Ok(OutputFile {
            path: path.display().to_string(),
            bytes,
            sha256: hex(&h.finalize()),
        })
    }
}

/// A record an erasure changed (or would have, and left alone as a conflict).
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct TouchedRecord {
    /// The source (file name, or database URL without password, and table).
    pub source: String,
    /// The record key (`--key` values joined with `:`).
    pub key: String,
    /// `mask`, `null` or `delete`.
    pub action: String,
    /// The fields the action applied to (all scanned fields for `delete`).
    pub fields: Vec<String>,
    /// `done`; `conflict` (changed since read: left alone); `planned` (`--plan`); `unknown`
    /// (the run failed: the line's `error` says how far it got).
    pub outcome: String,
}

/// One run as the audit log records it (without `seq`, `prev` and `hash`, which
/// [`append`] adds).
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct AuditEntry {
    /// When the run ended (UTC, RFC 3339).
    pub time: String,
    /// The user (`$USER`/`$LOGNAME`, else the numeric uid).
    pub user: String,
    /// The host name.
    pub host: String,
    /// The art9 version.
    pub art9_version: String,
    /// The command: `scan`, `mask`, `erase`, `subject`.
    pub command: String,
    /// The command line, passwords and subject ids replaced by `***`.
    pub argv: Vec<String>,
    /// The sources read (passwords redacted).
    pub sources: Vec<String>,
    /// The subject asked about, as a keyed pseudonym (`hmac-sha256:` 16 hex digits), or
    /// `***` when no key is set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    /// Records read / scanned / skipped / filtered (and, for database writes, written /
    /// conflicts).
    pub records: BTreeMap<String, u64>,
    /// Findings per category and decision (action): `{"health": {"mask": 3}}`.
    pub counts: BTreeMap<String, BTreeMap<String, u64>>,
    /// The lexicons' fingerprint (as in the run summary).
    pub lexicon_fingerprint: String,
    /// The policy's name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy: Option<String>,
    /// The policy's fingerprint (as in the run summary).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy_fingerprint: Option<String>,
    /// Files written, with their SHA-256.
    pub outputs: Vec<OutputFile>,
    /// `erase`: the records changed or left alone.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub records_touched: Vec<TouchedRecord>,
    /// The run's exit code.
    pub exit: i32,
    /// Why the run failed, when it did after it may have written (the error message: file,
    /// line, record key, field — never text).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl AuditEntry {
    /// An entry for `command` now, by this user on this host.
    pub fn new(command: &str) -> AuditEntry {
        AuditEntry {
            time: crate::output::summary::utc_now(),
            user: user(),
            host: host(),
            art9_version: env!("CARGO_PKG_VERSION").to_string(),
            command: command.to_string(),
            ..AuditEntry::default()
        }
    }

    /// Count findings of `category` decided `decision`.
    pub fn count(&mut self, category: &str, decision: &str, n: u64) {
        *self
            .counts
            .entry(category.to_string())
            .or_default()
            .entry(decision.to_string())
            .or_default() += n;
    }

    /// Count database rows written (`mask --into/--update`, `erase`) and rows left alone as
    /// conflicts, under `records`.
    pub fn count_writes(&mut self, written: u64, conflicts: u64) {
        *self.records.entry("written".into()).or_default() += written;
        *self.records.entry("conflicts".into()).or_default() += conflicts;
    }

    /// Replace the subject id wherever the user put it into a string of the line (an output
    /// directory named after the subject, `-o requests/C2002`) by `***`: in `argv`, the
    /// sources, the output paths, the error. Only whole occurrences count (not next to a
    /// letter or digit), so that an id `12` leaves `notes-2012.csv` alone.
    pub fn scrub(&mut self, id: &str) {
        if id.is_empty() {
            return;
        }
        let fix = |s: &mut String| {
            if s.contains(id) {
                *s = replace_whole(s, id, "***");
            }
        };
        self.argv.iter_mut().for_each(fix);
        self.sources.iter_mut().for_each(fix);
        self.outputs.iter_mut().for_each(|o| fix(&mut o.path));
        self.records_touched
            .iter_mut()
            .for_each(|t| fix(&mut t.source));
        if let Some(e) = self.error.as_mut() {
            fix(e);
        }
    }

    /// Take the counts of a pipeline run: records, and findings per category under
    /// `decision` (the summary has no per-finding action; callers with one use
    /// [`AuditEntry::count`]).
    pub fn records_from(&mut self, s: &crate::pipeline::Summary) {
        for (k, v) in [
            ("read", s.records_read),
            ("scanned", s.records_scanned),
            ("skipped", s.records_skipped),
            ("filtered", s.records_filtered),
        ] {
            *self.records.entry(k.into()).or_default() += v;
        }
    }
}

/// `s` with each occurrence of `word` that has no letter or digit right before or after it
/// replaced by `with`.
fn replace_whole(s: &str, word: &str, with: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut pos = 0;
    while let Some(i) = s[pos..].find(word) {
        let start = pos + i;
        let end = start + word.len();
        let before = s[..start].chars().next_back();
        let after = s[end..].chars().next();
        out.push_str(&s[pos..start]);
        if before.is_some_and(char::is_alphanumeric) || after.is_some_and(char::is_alphanumeric) {
            out.push_str(word);
        } else {
            out.push_str(with);
        }
        pos = end;
    }
    out.push_str(&s[pos..]);
    out
}

/// A line as written, with the keys [`append`] adds.
#[derive(Serialize)]
struct Line<'a> {
    schema: &'a str,
    seq: u64,
    prev: &'a str,
    #[serde(flatten)]
    entry: &'a AuditEntry,
}

/// Why the log cannot be appended to or verified.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AuditError {
    /// Reading or writing the file failed.
    #[error("audit log {path}: {source}")]
    Io {
        /// The log.
        path: String,
        /// Why.
        source: io::Error,
    },
    /// The last line is not a line of this log (an append would extend a broken chain).
    #[error("audit log {path}: the last line: {message} (run `art9 audit verify {path}`)")]
    Broken {
        /// The log.
        path: String,
        /// What is wrong.
        message: String,
    },
}

/// What [`append`] wrote.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Appended {
    /// The line's number.
    pub seq: u64,
    /// The line's hash (the new head of the chain).
    pub hash: String,
}

/// Append `entry` to the log at `path` (created `0600` if missing), chained to its last
/// line, under an exclusive lock.
///
/// # Errors
/// The file cannot be opened, locked, read or written, or its last line is not a valid
/// line of an audit log (then nothing is written).
pub fn append(path: &Path, entry: &AuditEntry) -> Result<Appended, AuditError> {
    let name = path.display().to_string();
    let io_err = |source: io::Error| AuditError::Io {
        path: name.clone(),
        source,
    };
    let mut opts = OpenOptions::new();
    opts.read(true).append(true).create(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut file = opts.open(path).map_err(io_err)?;
    // Released when `file` is closed, at the end of this function.
    lock_exclusive(&file).map_err(io_err)?;
    let (seq, prev) = match last_line(&mut file).map_err(io_err)? {
        None => (1, GENESIS.to_string()),
        Some(text) => {
            let parsed = check_line(&text).map_err(|message| AuditError::Broken {
                path: name.clone(),
                message,
            })?;
            (parsed.seq + 1, parsed.hash)
        }
    };
    let (line, hash) = render(seq, &prev, entry).map_err(io_err)?;
    let mut bytes = line.into_bytes();
    bytes.push(b'\n');
    file.write_all(&bytes).map_err(io_err)?;
    file.sync_data().map_err(io_err)?;
    Ok(Appended { seq, hash })
}

/// The line for `entry` at `seq` after `prev`, and its hash.
fn render(seq: u64, prev: &str, entry: &AuditEntry) -> io::Result<(String, String)> {
    let mut body = serde_json::to_string(&Line {
        schema: AUDIT_SCHEMA,
        seq,
        prev,
        entry,
    })
    .map_err(io::Error::other)?;
    body.pop(); // the closing brace
    let hash = hex(&Sha256::digest(body.as_bytes()));
    body.push_str(HASH_KEY);
    body.push_str(&hash);
    body.push_str("\"}");
    Ok((body, hash))
}

/// The keys of a line that the chain checks.
struct Parsed {
    seq: u64,
    prev: String,
    hash: String,
}

/// Check one line on its own: valid JSON of this schema whose `hash` is the SHA-256 of what
/// precedes it.
fn check_line(line: &str) -> Result<Parsed, String> {
    let Some(at) = line.rfind(HASH_KEY) else {
        return Err("not an audit line (no \"hash\" at the end)".into());
    };
    let hash = &line[at + HASH_KEY.len()..];
    let Some(hash) = hash.strip_suffix("\"}") else {
        return Err("not an audit line (it does not end with its hash)".into());
    };
    let v: serde_json::Value = serde_json::from_str(line)
        .map_err(|e| format!("not valid JSON (column {})", e.column()))?;
    if v.get("schema").and_then(|s| s.as_str()) != Some(AUDIT_SCHEMA) {
        return Err(format!("schema is not {AUDIT_SCHEMA}"));
    }
    let seq = v
        .get("seq")
        .and_then(serde_json::Value::as_u64)
        .ok_or("no seq")?;
    let prev = v
        .get("prev")
        .and_then(|s| s.as_str())
        .ok_or("no prev")?
        .to_string();
    let actual = hex(&Sha256::digest(&line.as_bytes()[..at]));
    if actual != hash {
        return Err("the line was changed (its hash does not match its content)".into());
    }
    Ok(Parsed {
        seq,
        prev,
        hash: hash.to_string(),
    })
}

/// The last line of the file (without its newline); `None` for an empty file.
fn last_line(file: &mut File) -> io::Result<Option<String>> {
    let len = file.seek(SeekFrom::End(0))?;
    if len == 0 {
        return Ok(None);
    }
    let mut tail: Vec<u8> = Vec::new();
    let mut pos = len;
    const CHUNK: u64 = 64 * 1024;
    loop {
        let start = pos.saturating_sub(CHUNK);
        let mut buf = vec![0u8; (pos - start) as usize];
        file.seek(SeekFrom::Start(start))?;
        file.read_exact(&mut buf)?;
        buf.extend_from_slice(&tail);
        tail = buf;
        pos = start;
        // The last line ends at the final newline; it starts after the one before it.
        let body = match tail.last() {
            Some(b'\n') => &tail[..tail.len() - 1],
            _ => {
                return Err(io::Error::other(
                    "the last line is incomplete (no newline at the end): an append was cut \
                     off; run `art9 audit verify`",
                ))
            }
        };
        if let Some(nl) = memchr::memrchr(b'\n', body) {
            let line = String::from_utf8(body[nl + 1..].to_vec())
                .map_err(|_| io::Error::other("the last line is not UTF-8"))?;
            return Ok(Some(line));
        }
        if pos == 0 {
            let line = String::from_utf8(body.to_vec())
                .map_err(|_| io::Error::other("the last line is not UTF-8"))?;
            return Ok(Some(line));
        }
    }
}

/// The result of [`verify`] on an intact log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verified {
    /// Lines checked.
    pub lines: u64,
    /// The last line's hash ([`GENESIS`] for an empty log): note it elsewhere to detect a
    /// rewritten tail later.
    pub head: String,
}

/// Where the chain breaks.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {message}")]
pub struct Break {
    /// 1-based line number.
    pub line: u64,
    /// What is wrong (no line content).
    pub message: String,
}

/// Verify a whole log: every line's own hash, `seq` counting 1, 2, 3…, and `prev` equal to
/// the previous line's hash. `Ok(Err(_))`: the first break.
///
/// # Errors
/// Reading fails.
pub fn verify<R: io::BufRead>(mut reader: R) -> io::Result<Result<Verified, Break>> {
    let mut prev = GENESIS.to_string();
    let mut n = 0u64;
    let mut buf = Vec::new();
    loop {
        buf.clear();
        if reader.read_until(b'\n', &mut buf)? == 0 {
            break;
        }
        n += 1;
        let brk = |message: String| Ok(Err(Break { line: n, message }));
        let Some(body) = buf.strip_suffix(b"\n") else {
            return brk("incomplete line (no newline at the end): an append was cut off".into());
        };
        let Ok(text) = std::str::from_utf8(body) else {
            return brk("not UTF-8".into());
        };
        let parsed = match check_line(text) {
            Ok(p) => p,
            Err(m) => return brk(m),
        };
        if parsed.seq != n {
            return brk(format!(
                "seq is {}, expected {n}: a line was removed, inserted or moved",
                parsed.seq
            ));
        }
        if parsed.prev != prev {
            return brk(if n == 1 {
                "prev is not the genesis value: lines were removed from the start".into()
            } else {
                format!(
                    "prev does not match line {}'s hash: a line was removed, inserted or moved",
                    n - 1
                )
            });
        }
        prev = parsed.hash;
    }
    Ok(Ok(Verified {
        lines: n,
        head: prev,
    }))
}

/// The subject id as the log records it: `hmac-sha256:` and the first 16 hex digits of
/// HMAC-SHA256(key, "audit-subject:" id) under the run summary's subject key (the policy's
/// `hash_key`, else `ART9_HASH_KEY`); `***` when neither is set (a random key would make a
/// pseudonym nobody can recompute). With the key, an auditor can check whether a given
/// subject's request was carried out by computing the same value.
pub fn subject_pseudonym(policy: Option<&crate::CompiledPolicy>, id: &str) -> String {
    use hmac::{Hmac, Mac};
    let key: Option<Vec<u8>> = policy
        .and_then(crate::CompiledPolicy::hash_key)
        .map(<[u8]>::to_vec)
        .or_else(|| {
            std::env::var_os(crate::output::summary::KEY_ENV).map(|k| k.as_encoded_bytes().to_vec())
        })
        .filter(|k| k.len() >= 16);
    let Some(key) = key else {
        return "***".into();
    };
    let Ok(mut mac) = <Hmac<Sha256> as Mac>::new_from_slice(&key) else {
        return "***".into();
    };
    mac.update(b"audit-subject:");
    mac.update(id.as_bytes());
    format!("hmac-sha256:{}", hex(&mac.finalize().into_bytes()[..8]))
}

/// The command line without secrets: passwords in connection strings, and the values of
/// `--subject-id` and `--id`, replaced by `***`.
pub fn redacted_argv(args: impl IntoIterator<Item = String>) -> Vec<String> {
    const SECRET_FLAGS: [&str; 2] = ["--subject-id", "--id"];
    let mut out: Vec<String> = Vec::new();
    let mut hide_next = false;
    for arg in args {
        if hide_next {
            out.push("***".into());
            hide_next = false;
            continue;
        }
        if SECRET_FLAGS.contains(&arg.as_str()) {
            hide_next = true;
            out.push(arg);
        } else if let Some(flag) = SECRET_FLAGS
            .iter()
            .find(|f| arg.starts_with(&format!("{f}=")))
        {
            out.push(format!("{flag}=***"));
        } else {
            out.push(crate::input::db::redact(&arg));
        }
    }
    out
}

fn user() -> String {
    for var in ["USER", "LOGNAME", "USERNAME"] {
        if let Ok(u) = std::env::var(var) {
            if !u.is_empty() {
                return u;
            }
        }
    }
    #[cfg(unix)]
    {
        format!("uid:{}", rustix::process::getuid().as_raw())
    }
    #[cfg(not(unix))]
    {
        "unknown".into()
    }
}

fn host() -> String {
    #[cfg(unix)]
    {
        rustix::system::uname()
            .nodename()
            .to_string_lossy()
            .into_owned()
    }
    #[cfg(not(unix))]
    {
        std::env::var("COMPUTERNAME").unwrap_or_else(|_| "unknown".into())
    }
}

/// Take an exclusive `flock` on the file: held until the file is closed (dropped).
fn lock_exclusive(file: &File) -> io::Result<()> {
    #[cfg(unix)]
    rustix::fs::flock(file, rustix::fs::FlockOperation::LockExclusive)?;
    #[cfg(not(unix))]
    let _ = file;
    Ok(())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(cmd: &str) -> AuditEntry {
        let mut e = AuditEntry::new(cmd);
        e.count("health", "mask", 2);
        e
    }

    fn lines(path: &Path) -> Vec<String> {
        std::fs::read_to_string(path)
            .unwrap()
            .lines()
            .map(String::from)
            .collect()
    }

    fn check(lines: &[String]) -> Result<Verified, Break> {
        let text = lines.iter().map(|l| format!("{l}\n")).collect::<String>();
        verify(text.as_bytes()).unwrap()
    }

    #[test]
    fn chain_verifies_and_breaks_where_edited() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("audit.jsonl");
        for (i, c) in ["mask", "erase", "subject", "scan"].iter().enumerate() {
            let a = append(&p, &entry(c)).unwrap();
            assert_eq!(a.seq, i as u64 + 1);
        }
        let l = lines(&p);
        let ok = check(&l).unwrap();
        assert_eq!(ok.lines, 4);
        assert!(l[0].contains(&format!("\"prev\":\"{GENESIS}\"")));

        // A changed line: its own hash fails.
        let mut changed = l.clone();
        changed[1] = changed[1].replace("\"mask\":2", "\"mask\":3");
        assert_ne!(changed, l);
        assert_eq!(check(&changed).unwrap_err().line, 2);
        // The last line changed.
        let mut last = l.clone();
        last[3] = last[3].replace("\"scan\"", "\"mask\"");
        assert_eq!(check(&last).unwrap_err().line, 4);
        // A removed line.
        let mut removed = l.clone();
        removed.remove(1);
        assert_eq!(check(&removed).unwrap_err().line, 2);
        // Removed from the start.
        assert_eq!(check(&l[1..]).unwrap_err().line, 1);
        // Reordered.
        let mut swapped = l.clone();
        swapped.swap(1, 2);
        assert_eq!(check(&swapped).unwrap_err().line, 2);
        // A cut-off last line.
        let text = l.join("\n");
        assert_eq!(verify(text.as_bytes()).unwrap().unwrap_err().line, 4);
    }

    #[test]
    fn append_refuses_a_broken_tail() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("audit.jsonl");
        append(&p, &entry("mask")).unwrap();
        let mut f = OpenOptions::new().append(true).open(&p).unwrap();
        f.write_all(b"{\"not\":\"audit\"}\n").unwrap();
        assert!(matches!(
            append(&p, &entry("mask")),
            Err(AuditError::Broken { .. })
        ));
    }

    #[test]
    fn concurrent_appends_chain() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("audit.jsonl");
        std::thread::scope(|s| {
            for _ in 0..8 {
                s.spawn(|| {
                    for _ in 0..10 {
                        append(&p, &entry("mask")).unwrap();
                    }
                });
            }
        });
        let l = lines(&p);
        assert_eq!(check(&l).unwrap().lines, 80);
    }

    #[test]
    fn scrub_replaces_whole_ids_only() {
        let mut e = AuditEntry {
            argv: vec!["-o".into(), "req/C1-2026".into(), "notes-2012.csv".into()],
            ..AuditEntry::default()
        };
        e.scrub("C1");
        e.scrub("12");
        assert_eq!(e.argv, ["-o", "req/***-2026", "notes-2012.csv"]);
        assert_eq!(replace_whole("12 x12 12", "12", "*"), "* x12 *");
    }

    #[test]
    fn argv_hides_ids_and_passwords() {
        let argv = redacted_argv(
            [
                "art9",
                "erase",
                "postgres://u:secret@h/db",
                "--id",
                "C123",
                "--subject-id=C9",
            ]
            .map(String::from),
        );
        let s = argv.join(" ");
        assert!(!s.contains("secret") && !s.contains("C123") && !s.contains("C9"));
        assert!(s.contains("--id ***") && s.contains("--subject-id=***"));
    }
}

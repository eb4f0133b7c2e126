//! The state of an incremental run (`art9 scan --state FILE`): per record key, a keyed hash
//! of what was scanned, so that the next run leaves out the records that did not change.
//!
//! A record's hash is the first 128 bits of HMAC-SHA256, under a key derived from the review
//! key, of (each part length-prefixed) the subject, the context values read with it (the
//! date column, the columns a policy's rules read) and each scanned field's name and text:
//! everything a finding, its decision and its summary counts depend on besides the
//! configuration. The configuration (lexicons, policy, fields, likelihood threshold, the
//! options that change what is found) has a fingerprint of its own, computed by the caller
//! and kept in the file's header: a state written under another configuration or another
//! key is not used (the run scans everything, and says why).
//!
//! The file is JSON Lines: a header object, then one `["KEY","HASH"]` array a record,
//! sorted by key. It holds record keys and hashes, never text.
//!
//! # Memory
//! The previous state is held as one sorted vector of (key, hash): about 40 bytes plus the
//! key's length per record, shared read-only by the workers (a binary search per record
//! read). A run adds a bit per previous record (seen) and, per record scanned because it is
//! new or changed, its key and hash in a hash map.

use std::collections::HashMap;
use std::io::{self, BufRead, Write};
use std::path::Path;

use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use super::{update_part, Digest128, ReviewKey};
use crate::record::Record;

/// The `schema` value of a state file's header.
pub const SCHEMA: &str = "art9-state";
/// The format version of state files this build writes and reads.
pub const VERSION: u32 = 1;

/// A state file's first line.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Header {
    /// Always [`SCHEMA`].
    pub schema: String,
    /// [`VERSION`].
    pub version: u32,
    /// The review key's id (not the key).
    pub key_id: String,
    /// The configuration fingerprint (see the module docs).
    pub config: String,
    /// When the run that wrote it started (UTC).
    pub written: String,
    /// Records in the file.
    pub records: u64,
}

/// A state file that cannot be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StateError {
    /// The file cannot be read.
    #[error("cannot read {file}")]
    Io {
        /// The file.
        file: String,
        /// The error.
        source: io::Error,
    },
    /// A line is not what a state file holds.
    #[error("{file}:{line}: {message}")]
    Line {
        /// The file.
        file: String,
        /// 1-based line.
        line: usize,
        /// What is wrong (never the line's text).
        message: String,
    },
}

/// The previous run's state, shared read-only by the workers of this run.
pub struct Prior {
    mac: Hmac<Sha256>,
    /// Sorted by key, keys unique.
    entries: Vec<(Box<str>, Digest128)>,
    config: String,
    key_id: String,
}

impl std::fmt::Debug for Prior {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Prior({} records)", self.entries.len())
    }
}

/// Why the previous state is not used.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Fresh {
    /// There is no state file yet.
    NoFile,
    /// It was written under another key.
    OtherKey,
    /// It was written under another configuration.
    OtherConfig,
}

impl std::fmt::Display for Fresh {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Fresh::NoFile => "no state file yet",
            Fresh::OtherKey => "the state was written under another key",
            Fresh::OtherConfig => {
                "the lexicons, policy or scan options changed since the state was written"
            }
        })
    }
}

impl Prior {
    /// An empty state (every record is new) for `config` under `key`.
    pub fn empty(key: &ReviewKey, config: &str) -> Prior {
        Prior {
            mac: key.derive(b"art9 record state v1"),
            entries: Vec::new(),
            config: config.to_string(),
            key_id: key.id().to_string(),
        }
    }

    /// The state in `path` for a run of `config` under `key`: empty, with the reason, when
    /// the file does not exist or was written under another key or configuration.
    ///
    /// # Errors
    /// The file cannot be read, or a line is not a state line (named by number).
    pub fn load(
        path: &Path,
        key: &ReviewKey,
        config: &str,
    ) -> Result<(Prior, Option<Fresh>), StateError> {
        let name = path.display().to_string();
        let io_err = |source| StateError::Io {
            file: name.clone(),
            source,
        };
        let file = match std::fs::File::open(path) {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Ok((Prior::empty(key, config), Some(Fresh::NoFile)))
            }
            Err(e) => return Err(io_err(e)),
        };
        let mut prior = Prior::empty(key, config);
        let mut lines = io::BufReader::new(file).lines();
        let bad = |line: usize, message: String| StateError::Line {
            file: name.clone(),
            line,
            message,
        };
        let header: Header = match lines.next() {
            None => return Err(bad(1, "empty file, not an art9 state file".into())),
            Some(l) => {
                let l = l.map_err(io_err)?;
                serde_json::from_str(&l).map_err(|_| bad(1, "not an art9 state header".into()))?
            }
        };
        if header.schema != SCHEMA || header.version != VERSION {
            return Err(bad(
                1,
                format!(
                    "schema {:?} version {} (this art9 reads {SCHEMA:?} version {VERSION})",
                    header.schema, header.version
                ),
            ));
        }
        if header.key_id != prior.key_id {
            return Ok((prior, Some(Fresh::OtherKey)));
        }
        if header.config != prior.config {
            return Ok((prior, Some(Fresh::OtherConfig)));
        }
        let mut entries = Vec::with_capacity(usize::try_from(header.records).unwrap_or(0));
        for (i, l) in lines.enumerate() {
            let l = l.map_err(io_err)?;
            let (k, h): (String, Digest128) = serde_json::from_str(&l)
                .map_err(|_| bad(i + 2, "not a [\"KEY\",\"HASH\"] state line".into()))?;
            if entries
                .last()
                .is_some_and(|(last, _): &(Box<str>, _)| **last >= *k)
            {
                return Err(bad(i + 2, "keys are not sorted and unique".into()));
            }
            entries.push((k.into_boxed_str(), h));
        }
        prior.entries = entries;
        Ok((prior, None))
    }

    /// Records in this state.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the state holds no record.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The keyed hash of what `record` holds for the scan.
    pub fn hash(&self, record: &Record) -> Digest128 {
        let mut mac = self.mac.clone();
        match &record.subject {
            Some(s) => update_part(&mut mac, s.as_bytes()),
            None => mac.update(&u64::MAX.to_le_bytes()),
        }
        for (name, value) in record.context.iter() {
            update_part(&mut mac, name.as_bytes());
            match value {
                Some(v) => update_part(&mut mac, v.as_bytes()),
                None => mac.update(&u64::MAX.to_le_bytes()),
            }
        }
        mac.update(&(record.fields.len() as u64).to_le_bytes());
        for f in &record.fields {
            update_part(&mut mac, f.name.as_bytes());
            update_part(&mut mac, f.text.as_bytes());
        }
        Digest128::of(mac)
    }

    fn index(&self, key: &str) -> Option<usize> {
        self.entries.binary_search_by(|(k, _)| (**k).cmp(key)).ok()
    }

    /// Whether `record` was scanned by the previous run as it is now.
    pub fn unchanged(&self, record: &Record) -> bool {
        match self.index(&record.key) {
            Some(i) => self.entries[i].1 == self.hash(record),
            None => false,
        }
    }
}

/// What a run did with the previous state's records, for the summaries.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StateCounts {
    /// Records in the previous state.
    pub previous: u64,
    /// Records scanned that were not in it.
    pub new: u64,
    /// Records scanned whose hash changed.
    pub changed: u64,
    /// Records left out as unchanged.
    pub unchanged: u64,
    /// Records of the previous state not read in this run (deleted, or skipped without a
    /// key); dropped from the state.
    pub deleted: u64,
    /// Record keys read more than once in this run (a state needs unique keys: such records
    /// are always scanned).
    pub duplicate_keys: u64,
}

/// Follows a run in input order (on the writer's side) and builds the next state.
pub struct Tracker<'p> {
    prior: &'p Prior,
    /// Per previous entry: 0 not read, 1 unchanged or carried over, 2 scanned anew, 3 drop.
    seen: Vec<u8>,
    /// New records scanned (not in the previous state).
    new: HashMap<Box<str>, Option<Digest128>>,
    changed: u64,
    unchanged: u64,
    duplicates: u64,
    /// New hashes of changed records (by previous index).
    rehashed: HashMap<usize, Digest128>,
}

const NOT_READ: u8 = 0;
const KEPT: u8 = 1;
const SCANNED: u8 = 2;
const DROPPED: u8 = 3;

impl<'p> Tracker<'p> {
    /// A tracker over `prior`.
    pub fn new(prior: &'p Prior) -> Tracker<'p> {
        Tracker {
            prior,
            seen: vec![NOT_READ; prior.entries.len()],
            new: HashMap::new(),
            changed: 0,
            unchanged: 0,
            duplicates: 0,
            rehashed: HashMap::new(),
        }
    }

    /// A record was scanned (new or changed); `hash` is [`Prior::hash`] of it.
    pub fn scanned(&mut self, key: &str, hash: Digest128) {
        match self.prior.index(key) {
            Some(i) => {
                if self.seen[i] != NOT_READ {
                    self.duplicate_at(i);
                    return;
                }
                self.seen[i] = SCANNED;
                self.changed += 1;
                self.rehashed.insert(i, hash);
            }
            None => match self.new.get_mut(key) {
                Some(slot) => {
                    if slot.is_some() {
                        self.duplicates += 1;
                    }
                    // Never matched again: scanned next time too.
                    *slot = None;
                }
                None => {
                    self.new.insert(key.into(), Some(hash));
                }
            },
        }
    }

    fn duplicate_at(&mut self, i: usize) {
        if self.seen[i] != DROPPED {
            self.duplicates += 1;
        }
        self.seen[i] = DROPPED;
    }

    /// A record was left out as unchanged.
    pub fn unchanged(&mut self, key: &str) {
        if let Some(i) = self.prior.index(key) {
            if self.seen[i] != NOT_READ {
                self.duplicate_at(i);
                return;
            }
            self.seen[i] = KEPT;
            self.unchanged += 1;
        }
    }

    /// A record was read but left out for another reason (another subject than
    /// `--subject-id`, ...): its previous state, if any, is kept as it was.
    pub fn passed_over(&mut self, key: &str) {
        if let Some(i) = self.prior.index(key) {
            if self.seen[i] == NOT_READ {
                self.seen[i] = KEPT;
            }
        }
    }

    /// A record was skipped (could not be read): it is left out of the next state, so the
    /// next run scans it.
    pub fn skipped(&mut self, key: Option<&str>) {
        if let Some(i) = key.and_then(|k| self.prior.index(k)) {
            self.seen[i] = DROPPED;
        }
    }

    /// The counts so far.
    pub fn counts(&self) -> StateCounts {
        let new = self.new.len() as u64;
        StateCounts {
            previous: self.prior.entries.len() as u64,
            new,
            changed: self.changed,
            unchanged: self.unchanged,
            deleted: self.seen.iter().filter(|&&s| s == NOT_READ).count() as u64,
            duplicate_keys: self.duplicates,
        }
    }

    /// Write the next state: the previous records kept or rescanned, and the new ones,
    /// sorted by key (records read more than once under one key are left out, so the next
    /// run scans them again). `written` is the run's start time.
    ///
    /// # Errors
    /// On write errors.
    pub fn write(&self, written: &str, mut w: impl Write) -> io::Result<()> {
        let mut out: Vec<(&str, Digest128)> = Vec::with_capacity(self.seen.len() + self.new.len());
        for (i, (k, h)) in self.prior.entries.iter().enumerate() {
            match self.seen[i] {
                KEPT => out.push((k, *h)),
                SCANNED => out.push((k, self.rehashed.get(&i).copied().unwrap_or(*h))),
                _ => {}
            }
        }
        out.extend(self.new.iter().filter_map(|(k, h)| h.map(|h| (&**k, h))));
        out.sort_unstable_by(|a, b| a.0.cmp(b.0));
        let header = Header {
            schema: SCHEMA.into(),
            version: VERSION,
            key_id: self.prior.key_id.clone(),
            config: self.prior.config.clone(),
            written: written.to_string(),
            records: out.len() as u64,
        };
        serde_json::to_writer(&mut w, &header)?;
        w.write_all(b"\n")?;
        for (k, h) in out {
            serde_json::to_writer(&mut w, &(k, h))?;
            w.write_all(b"\n")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::{Context, Field};

    fn rec(key: &str, text: &str) -> Record {
        Record {
            line: 1,
            key: key.into(),
            fields: vec![Field {
                name: "note".into(),
                text: text.into(),
                raw_span: None,
            }],
            raw: String::new(),
            terminator: "\n",
            subject: None,
            context: Context::new(),
        }
    }

    fn key() -> ReviewKey {
        ReviewKey::new(b"0123456789abcdef-state").unwrap()
    }

    /// Run `records` over `prior`: (unchanged keys, next state's bytes, counts).
    fn run(prior: &Prior, records: &[Record]) -> (Vec<String>, Vec<u8>, StateCounts) {
        let mut t = Tracker::new(prior);
        let mut left_out = Vec::new();
        for r in records {
            if prior.unchanged(r) {
                t.unchanged(&r.key);
                left_out.push(r.key.clone());
            } else {
                t.scanned(&r.key, prior.hash(r));
            }
        }
        let mut out = Vec::new();
        t.write("2026-12-07T00:00:00Z", &mut out).unwrap();
        (left_out, out, t.counts())
    }

    fn load(bytes: &[u8], config: &str) -> (Prior, Option<Fresh>) {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("s.jsonl");
        std::fs::write(&p, bytes).unwrap();
        Prior::load(&p, &key(), config).unwrap()
    }

    #[test]
    fn second_run_leaves_out_unchanged_and_notices_changes_and_deletions() {
        let first: Vec<Record> = (0..20).map(|i| rec(&format!("k{i}"), "tekst")).collect();
        let (left, bytes, c) = run(&Prior::empty(&key(), "cfg"), &first);
        assert!(left.is_empty());
        assert_eq!(c.new, 20);
        let text = String::from_utf8(bytes.clone()).unwrap();
        assert!(!text.contains("tekst"));
        let (prior, fresh) = load(&bytes, "cfg");
        assert_eq!(fresh, None);
        assert_eq!(prior.len(), 20);
        let (left, bytes2, c) = run(&prior, &first);
        assert_eq!(left.len(), 20);
        assert_eq!(c.unchanged, 20);
        assert_eq!(
            bytes2[bytes2.iter().position(|&b| b == b'\n').unwrap()..],
            bytes[bytes.iter().position(|&b| b == b'\n').unwrap()..]
        );
        let mut third: Vec<Record> = first[..18].to_vec();
        third[3].fields[0].text.push_str(" meer");
        third.push(rec("k99", "nieuw"));
        let (left, bytes3, c) = run(&prior, &third);
        assert_eq!(left.len(), 17);
        assert_eq!((c.changed, c.new, c.deleted, c.unchanged), (1, 1, 2, 17));
        let (prior3, _) = load(&bytes3, "cfg");
        assert_eq!(prior3.len(), 19);
        assert!(prior3.unchanged(&third[3]));
    }

    #[test]
    fn other_config_or_key_means_a_full_scan() {
        let (_, bytes, _) = run(&Prior::empty(&key(), "cfg"), &[rec("a", "x")]);
        assert_eq!(load(&bytes, "other").1, Some(Fresh::OtherConfig));
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("s");
        std::fs::write(&p, &bytes).unwrap();
        let other = ReviewKey::new(b"another key of 16+ bytes").unwrap();
        let (prior, fresh) = Prior::load(&p, &other, "cfg").unwrap();
        assert_eq!(fresh, Some(Fresh::OtherKey));
        assert!(prior.is_empty());
        assert_eq!(
            Prior::load(&dir.path().join("none"), &key(), "cfg")
                .unwrap()
                .1,
            Some(Fresh::NoFile)
        );
    }

    #[test]
    fn duplicate_keys_are_always_scanned() {
        let recs = [rec("a", "x"), rec("a", "y"), rec("b", "z")];
        let (_, bytes, c) = run(&Prior::empty(&key(), "cfg"), &recs);
        assert_eq!(c.duplicate_keys, 1);
        let (prior, _) = load(&bytes, "cfg");
        assert_eq!(prior.len(), 1);
        assert!(!prior.unchanged(&recs[0]));
    }

    #[test]
    fn bad_lines_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("s");
        let (_, mut bytes, _) = run(&Prior::empty(&key(), "cfg"), &[rec("a", "x")]);
        bytes.extend_from_slice(b"SECRET garbage\n");
        std::fs::write(&p, &bytes).unwrap();
        let e = Prior::load(&p, &key(), "cfg").unwrap_err().to_string();
        assert!(
            e.ends_with(":3: not a [\"KEY\",\"HASH\"] state line"),
            "{e}"
        );
        assert!(!e.contains("SECRET"));
        std::fs::write(&p, b"{}\n").unwrap();
        let e = Prior::load(&p, &key(), "cfg").unwrap_err().to_string();
        assert!(e.contains(":1: not an art9 state header"), "{e}");
    }
}

//! The review workflow after a scan (issue 21, items 5 and 6): stable finding fingerprints
//! and the review baseline that silences reviewed findings ([`baseline`]), and the state of
//! an incremental run that leaves unchanged records out of the next one ([`state`]).
//!
//! Both rest on a keyed hash, HMAC-SHA256 under the key the run summary's pseudonyms use
//! (the policy's `hash_key`, else `ART9_HASH_KEY`), never an unkeyed hash of note text: a
//! fingerprint or a record hash cannot be tested against guessed words without the key.
//! Unlike the pseudonyms, neither falls back to a random key: a baseline or a state under a
//! key of one run would match nothing in the next, so a missing key is one clear error
//! ([`ReviewKey::resolve`]). Each use derives a key of its own from it (labelled), so a
//! fingerprint, a record hash and a pseudonym of the same bytes are unrelated.

pub mod baseline;
pub mod fingerprint;
pub mod state;

use std::fmt;
use std::str::FromStr;

use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::policy::CompiledPolicy;

/// The environment variable read for the key when the policy has none (the same one the
/// run summary's pseudonyms read).
pub const KEY_ENV: &str = "ART9_HASH_KEY";

pub use self::baseline::{Baseline, BaselineCounts, BaselineEntry, BaselineError, Review};
pub use self::fingerprint::Fingerprinter;
pub use self::state::{Prior, StateCounts, StateError, Tracker};

/// The key of fingerprints and record hashes.
#[derive(Clone)]
pub struct ReviewKey {
    mac: Hmac<Sha256>,
    id: String,
}

impl fmt::Debug for ReviewKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never the key.
        write!(f, "ReviewKey({})", self.id)
    }
}

/// Why there is no key.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// Neither the policy nor the environment has a key.
    #[error(
        "{what} needs a stable key: set {KEY_ENV} (at least 16 bytes, the same every run) or \
         use a policy with hash_key"
    )]
    Missing {
        /// What needs it (`--baseline`, `--state`, ...).
        what: String,
    },
    /// The key is shorter than 16 bytes.
    #[error("{what}: the key ({from}) must be at least 16 bytes")]
    Short {
        /// What needs it.
        what: String,
        /// Where the key came from.
        from: &'static str,
    },
}

impl ReviewKey {
    /// A key of at least 16 bytes (`None` otherwise).
    pub fn new(key: &[u8]) -> Option<ReviewKey> {
        if key.len() < 16 {
            return None;
        }
        let mac = <Hmac<Sha256> as Mac>::new_from_slice(key).ok()?;
        let mut m = mac.clone();
        m.update(b"art9 review key id");
        let id = hex(&m.finalize().into_bytes()[..8]);
        Some(ReviewKey { mac, id })
    }

    /// The policy's `hash_key` (when the policy loaded one), else [`KEY_ENV`]. `what` names
    /// the feature in the error.
    ///
    /// # Errors
    /// No key, or one shorter than 16 bytes.
    pub fn resolve(policy: Option<&CompiledPolicy>, what: &str) -> Result<ReviewKey, KeyError> {
        let (key, from) = match policy.and_then(CompiledPolicy::hash_key) {
            Some(k) => (k.to_vec(), "the policy's hash_key"),
            None => match std::env::var_os(KEY_ENV) {
                Some(v) => (v.as_encoded_bytes().to_vec(), KEY_ENV),
                None => {
                    return Err(KeyError::Missing {
                        what: what.to_string(),
                    })
                }
            },
        };
        ReviewKey::new(&key).ok_or(KeyError::Short {
            what: what.to_string(),
            from,
        })
    }

    /// A fingerprint of the key (not the key): equal for equal keys.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// A MAC under a key derived from this one for `label`.
    pub(crate) fn derive(&self, label: &[u8]) -> Hmac<Sha256> {
        let mut m = self.mac.clone();
        m.update(label);
        let sub = m.finalize().into_bytes();
        // HMAC takes keys of any length.
        <Hmac<Sha256> as Mac>::new_from_slice(&sub).unwrap_or_else(|_| self.mac.clone())
    }
}

/// 128 bits of a keyed hash: a finding's fingerprint or a record's state hash. Written as
/// 32 lower-case hex digits.
#[derive(Copy, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Digest128(pub [u8; 16]);

impl Digest128 {
    /// The first 128 bits of a MAC's output.
    pub(crate) fn of(mac: Hmac<Sha256>) -> Digest128 {
        let d = mac.finalize().into_bytes();
        let mut out = [0u8; 16];
        out.copy_from_slice(&d[..16]);
        Digest128(out)
    }
}

impl Digest128 {
    /// The 32 hex digits, without formatting machinery (a state file writes one a record).
    pub fn hex(&self) -> [u8; 32] {
        const DIGITS: &[u8; 16] = b"0123456789abcdef";
        let mut out = [0u8; 32];
        for (i, b) in self.0.iter().enumerate() {
            out[2 * i] = DIGITS[usize::from(b >> 4)];
            out[2 * i + 1] = DIGITS[usize::from(b & 0xf)];
        }
        out
    }
}

impl fmt::Display for Digest128 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let hex = self.hex();
        // Only ASCII hex digits.
        f.write_str(std::str::from_utf8(&hex).map_err(|_| fmt::Error)?)
    }
}

impl fmt::Debug for Digest128 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl FromStr for Digest128 {
    type Err = String;

    fn from_str(s: &str) -> Result<Digest128, String> {
        let b = s.as_bytes();
        if b.len() != 32 {
            return Err(format!(
                "expected 32 hex digits, got {} characters",
                b.len()
            ));
        }
        let mut out = [0u8; 16];
        for (i, pair) in b.chunks(2).enumerate() {
            let digit = |c: u8| match c {
                b'0'..=b'9' => Some(c - b'0'),
                b'a'..=b'f' => Some(c - b'a' + 10),
                _ => None,
            };
            match (digit(pair[0]), digit(pair[1])) {
                (Some(h), Some(l)) => out[i] = h << 4 | l,
                _ => return Err("expected lower-case hex digits".into()),
            }
        }
        Ok(Digest128(out))
    }
}

impl serde::Serialize for Digest128 {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let hex = self.hex();
        s.serialize_str(std::str::from_utf8(&hex).map_err(serde::ser::Error::custom)?)
    }
}

impl<'de> serde::Deserialize<'de> for Digest128 {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Digest128, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// A finding's fingerprint.
pub type Fingerprint = Digest128;

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Feed `bytes` to `mac` with its length first, so that the concatenation of several parts
/// is unambiguous.
pub(crate) fn update_part(mac: &mut Hmac<Sha256>, bytes: &[u8]) {
    mac.update(&(bytes.len() as u64).to_le_bytes());
    mac.update(bytes);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digest_round_trips_and_rejects_bad_hex() {
        let d = Digest128([0xab; 16]);
        let s = d.to_string();
        assert_eq!(s.len(), 32);
        assert_eq!(s.parse::<Digest128>(), Ok(d));
        assert!("AB".repeat(16).parse::<Digest128>().is_err());
        assert!("ab".parse::<Digest128>().is_err());
        assert!("zz".repeat(16).parse::<Digest128>().is_err());
    }

    #[test]
    fn short_keys_are_refused_and_derived_keys_differ() {
        assert!(ReviewKey::new(b"short").is_none());
        let k = ReviewKey::new(b"0123456789abcdef").unwrap();
        let a = Digest128::of(k.derive(b"a"));
        let b = Digest128::of(k.derive(b"b"));
        assert_ne!(a, b);
        assert!(!format!("{k:?}").contains("0123456789abcdef"));
    }
}

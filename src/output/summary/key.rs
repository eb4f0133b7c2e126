//! The keyed subject pseudonyms: [`SubjectKey`] (HMAC-SHA256 under the policy's or the
//! environment's key), where the key came from, and the hasher of the per-subject table.

use std::fmt;

use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use crate::policy::CompiledPolicy;

/// Where the key of the subject pseudonyms came from. Pseudonyms of two runs can be
/// compared (and the runs merged) only under the same key.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KeySource {
    /// The policy's `hash_key`.
    Policy,
    /// The `ART9_HASH_KEY` environment variable.
    Env,
    /// A random key for this run only: its pseudonyms match no other run's.
    Random,
}

/// The keyed pseudonym function for subject ids.
#[derive(Clone)]
pub struct SubjectKey {
    mac: Hmac<Sha256>,
    /// SipHash-1-3 under keys derived from the key, for the sketch of all subjects.
    sketch: siphasher::sip::SipHasher13,
    pub(super) id: String,
    pub(super) source: KeySource,
}

impl fmt::Debug for SubjectKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never the key.
        write!(f, "SubjectKey({}, {:?})", self.id, self.source)
    }
}

/// The environment variable read for the subject key when the policy has none.
pub const KEY_ENV: &str = "ART9_HASH_KEY";

impl SubjectKey {
    /// A key of at least 16 bytes.
    ///
    /// # Errors
    /// A shorter key.
    pub fn new(key: &[u8], source: KeySource) -> Result<SubjectKey, String> {
        if key.len() < 16 {
            return Err("the subject pseudonym key must be at least 16 bytes".into());
        }
        let mac = <Hmac<Sha256> as Mac>::new_from_slice(key).map_err(|e| e.to_string())?;
        let derive = |label: &[u8]| {
            let mut m = mac.clone();
            m.update(label);
            m.finalize().into_bytes()
        };
        let id = hex(&derive(b"art9 key id")[..8]);
        let sk = derive(b"art9 subject sketch");
        let word = |b: &[u8]| u64::from_le_bytes(b.try_into().unwrap_or([0; 8]));
        let sketch = siphasher::sip::SipHasher13::new_with_keys(word(&sk[..8]), word(&sk[8..16]));
        Ok(SubjectKey {
            mac,
            sketch,
            id,
            source,
        })
    }

    /// The policy's hash key, else [`KEY_ENV`], else a random key.
    ///
    /// # Errors
    /// [`KEY_ENV`] is set but shorter than 16 bytes, or no random bytes could be had.
    pub fn resolve(policy: Option<&CompiledPolicy>) -> Result<SubjectKey, String> {
        if let Some(key) = policy.and_then(CompiledPolicy::hash_key) {
            return SubjectKey::new(key, KeySource::Policy);
        }
        if let Some(key) = std::env::var_os(KEY_ENV) {
            return SubjectKey::new(key.as_encoded_bytes(), KeySource::Env)
                .map_err(|e| format!("{KEY_ENV}: {e}"));
        }
        let mut key = [0u8; 32];
        getrandom::fill(&mut key).map_err(|e| format!("no random key: {e}"))?;
        SubjectKey::new(&key, KeySource::Random)
    }

    /// The pseudonym of `subject`: the first 64 bits of HMAC-SHA256(key, "subject:" id).
    /// With 10 million subjects the chance that two share one is about 3 in a million.
    pub fn pseudonym(&self, subject: &str) -> u64 {
        let mut mac = self.mac.clone();
        mac.update(b"subject:");
        mac.update(subject.as_bytes());
        let digest = mac.finalize().into_bytes();
        let mut first = [0u8; 8];
        first.copy_from_slice(&digest[..8]);
        u64::from_be_bytes(first)
    }

    /// The value `subject` counts as in the sketch of all subjects: SipHash-1-3 under a key
    /// derived from this one. A keyed PRF like the pseudonym, but a tenth of its cost, which
    /// every record with a subject pays (the HMAC is computed only for records with
    /// findings). It is never written out itself: only the sketch's per-register maxima.
    pub fn sketch_hash(&self, subject: &str) -> u64 {
        // One-shot: the same value as a fresh hasher's `write` then `finish` (tested), without
        // setting up the hasher's state per subject.
        self.sketch.hash(subject.as_bytes())
    }

    /// A fingerprint of the key (not the key): equal for equal keys.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Where the key came from.
    pub fn source(&self) -> KeySource {
        self.source
    }
}

pub(super) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Hashes a pseudonym as itself: it is already the uniform output of a keyed PRF, so
/// hashing it again (SipHash, the default) would only cost time.
#[derive(Clone, Copy, Debug, Default)]
pub struct ByPseudonym;

impl std::hash::BuildHasher for ByPseudonym {
    type Hasher = PseudonymHasher;
    fn build_hasher(&self) -> PseudonymHasher {
        PseudonymHasher(0)
    }
}

/// See [`ByPseudonym`].
#[derive(Clone, Copy, Debug, Default)]
pub struct PseudonymHasher(u64);

impl std::hash::Hasher for PseudonymHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        // Only `write_u64` is used (u64 keys); fold anything else in.
        for b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(*b);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sketch_hash_is_siphash13_of_the_id_under_the_derived_keys() {
        use std::hash::Hasher;
        let key = SubjectKey::new(b"0123456789abcdef-key", KeySource::Env).unwrap();
        let (k0, k1) = key.sketch.keys();
        for id in [
            "",
            "C1",
            "C271584",
            "a subject id longer than sixteen bytes",
            "ø",
        ] {
            // As summaries written before the one-shot hash counted subjects.
            let mut h = siphasher::sip::SipHasher13::new_with_keys(k0, k1);
            h.write(id.as_bytes());
            assert_eq!(key.sketch_hash(id), h.finish(), "{id:?}");
        }
        let other = SubjectKey::new(b"0123456789abcdef-other", KeySource::Env).unwrap();
        assert_ne!(key.sketch_hash("C1"), other.sketch_hash("C1"));
    }
}

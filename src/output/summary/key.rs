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
    sketch: Sip13,
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
        let sketch = Sip13::new(word(&sk[..8]), word(&sk[8..16]));
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

/// SipHash-1-3 under keys `(k0, k1)`: the same values as `siphasher`'s `SipHasher13` (tested).
#[derive(Clone, Copy)]
struct Sip13 {
    /// The state before the first word: the keys XOR the constants.
    v: [u64; 4],
}

impl Sip13 {
    fn new(k0: u64, k1: u64) -> Sip13 {
        Sip13 {
            v: [
                k0 ^ 0x736f_6d65_7073_6575,
                k1 ^ 0x646f_7261_6e64_6f6d,
                k0 ^ 0x6c79_6765_6e65_7261,
                k1 ^ 0x7465_6462_7974_6573,
            ],
        }
    }

    /// The hash of `m` (as a fresh hasher's `write(m)` then `finish`). One-shot, with the
    /// last 1–7 bytes read in two overlapping loads instead of a byte at a time: every
    /// record with a subject pays it, and a subject id is usually shorter than a word.
    #[inline]
    fn hash(self, m: &[u8]) -> u64 {
        #[inline(always)]
        fn round(v: &mut [u64; 4]) {
            v[0] = v[0].wrapping_add(v[1]);
            v[1] = v[1].rotate_left(13) ^ v[0];
            v[0] = v[0].rotate_left(32);
            v[2] = v[2].wrapping_add(v[3]);
            v[3] = v[3].rotate_left(16) ^ v[2];
            v[0] = v[0].wrapping_add(v[3]);
            v[3] = v[3].rotate_left(21) ^ v[0];
            v[2] = v[2].wrapping_add(v[1]);
            v[1] = v[1].rotate_left(17) ^ v[2];
            v[2] = v[2].rotate_left(32);
        }
        let mut v = self.v;
        let mut words = m.chunks_exact(8);
        for w in &mut words {
            let x = u64::from_le_bytes(w.try_into().unwrap_or_default());
            v[3] ^= x;
            round(&mut v);
            v[0] ^= x;
        }
        let t = words.remainder();
        let n = t.len();
        // The tail's bytes, first lowest: two loads that may overlap (a byte ORed twice).
        let tail = match n {
            4.. => {
                let lo = u32::from_le_bytes(t[..4].try_into().unwrap_or_default());
                let hi = u32::from_le_bytes(t[n - 4..].try_into().unwrap_or_default());
                u64::from(lo) | u64::from(hi) << (8 * (n - 4))
            }
            1.. => {
                u64::from(t[0])
                    | u64::from(t[n / 2]) << (8 * (n / 2))
                    | u64::from(t[n - 1]) << (8 * (n - 1))
            }
            0 => 0,
        };
        let b = (m.len() as u64) << 56 | tail;
        v[3] ^= b;
        round(&mut v);
        v[0] ^= b;
        v[2] ^= 0xff;
        round(&mut v);
        round(&mut v);
        round(&mut v);
        v[0] ^ v[1] ^ v[2] ^ v[3]
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
        let long: String = (0..40).map(|i| char::from(b'a' + i % 26)).collect();
        let mut ids: Vec<&str> = vec!["C1", "C271584", "ø", "a subject id longer than sixteen"];
        // Every length from 0 to 40 (every tail of 0 to 7 bytes, up to five whole words).
        ids.extend((0..=long.len()).map(|n| &long[..n]));
        let keys = [
            (1, 2),
            (0x0706_0504_0302_0100, 0x0f0e_0d0c_0b0a_0908),
            (u64::MAX, 7),
        ];
        for id in ids {
            for (k0, k1) in keys {
                // As summaries written before counted subjects (siphasher's SipHash-1-3).
                let mut h = siphasher::sip::SipHasher13::new_with_keys(k0, k1);
                h.write(id.as_bytes());
                assert_eq!(Sip13::new(k0, k1).hash(id.as_bytes()), h.finish(), "{id:?}");
            }
        }
        // Under the keys derived from the subject key as before: the same sketch registers.
        let mut m = <Hmac<Sha256> as Mac>::new_from_slice(b"0123456789abcdef-key").unwrap();
        m.update(b"art9 subject sketch");
        let sk = m.finalize().into_bytes();
        let word = |b: &[u8]| u64::from_le_bytes(b.try_into().unwrap());
        let reference =
            siphasher::sip::SipHasher13::new_with_keys(word(&sk[..8]), word(&sk[8..16]));
        for id in ["", "C1", "C271584", "ø"] {
            assert_eq!(key.sketch_hash(id), reference.hash(id.as_bytes()), "{id:?}");
        }
        let other = SubjectKey::new(b"0123456789abcdef-other", KeySource::Env).unwrap();
        assert_ne!(key.sketch_hash("C1"), other.sketch_hash("C1"));
    }
}

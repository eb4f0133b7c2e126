//! The two automata and their walks: the word-start automaton ([`Anchored`]) with its
//! start filter and prefix tables, walked from each word start (and, for patterns that may
//! start inside a word, from every position the filter lets through), or the overlapping
//! Aho-Corasick search ([`Unanchored`]); and the word-start scan over the text.

use super::*;

/// The word-start automaton: a contiguous NFA walked with [`AcAnchored::Yes`].
#[derive(Debug)]
pub(super) struct Anchored {
    pub(super) nfa: contiguous::NFA,
    pub(super) start: StateID,
    /// Local pattern id → global pattern id.
    pub(super) ids: Vec<u32>,
    /// Which word starts can begin a pattern at all.
    pub(super) prefilter: StartFilter,
    /// The state after the first four bytes of the patterns of four or more bytes.
    pub(super) prefix4: StateTable,
    /// The state after each pattern of one to three bytes, keyed by [`short_key`].
    pub(super) short: StateTable,
    /// Bit `n` set if a pattern of `n` bytes (1 to 3) exists.
    pub(super) short_lens: u8,
}

/// Automaton states by key, in an open-addressing table: the state after the first four
/// bytes of every pattern of four or more bytes (a walk that passed the start filter takes
/// one probe instead of its first four transitions, which were dependent loads and the
/// walk's main cost in cache misses; issue 7), or after each pattern of one to three bytes.
/// Keys are [`lower4`] keys (a pattern never starts with a NUL byte, so 0 marks an empty
/// slot). Each slot also holds the set of bytes that can follow (see [`next_bit`]): most
/// walks past four bytes die at the fifth, and the set says so without touching the
/// automaton. Key, state and set share one 16-byte slot, so a probe is one cache line.
#[derive(Clone, Debug)]
pub(super) struct StateTable {
    pub(super) slots: Box<[Slot]>,
    pub(super) shift: u32,
}

#[derive(Clone, Copy, Debug)]
pub(super) struct Slot {
    pub(super) key: u32,
    pub(super) state: StateID,
    /// Bit [`next_bit`]`(b)` set if the state has a transition on a byte `b`.
    pub(super) next: u64,
}

/// The bit of byte `b` in a [`Slot`]'s set: ASCII letters in either case share one, other
/// bytes may share one too (a set only ever says "maybe").
#[inline(always)]
pub(super) fn next_bit(b: u8) -> u64 {
    1 << ((b | 0x20) & 63)
}

impl StateTable {
    /// The table of the states after the first four bytes of `patterns` of four or more
    /// bytes.
    pub(super) fn prefixes<'a>(
        nfa: &contiguous::NFA,
        start: StateID,
        patterns: impl Iterator<Item = &'a [u8]>,
    ) -> StateTable {
        let mut prefixes: HashMap<u32, (StateID, u64)> = HashMap::new();
        for p in patterns.filter(|p| p.len() >= 4 && p[0] != 0) {
            let slot = prefixes
                .entry(lower4(p))
                .or_insert_with(|| (walk_bytes(nfa, start, &p[..4]), 0));
            // An anchored walk has no failure transitions: the bytes that can follow the
            // first four are the fifth bytes of the patterns that begin with them.
            if let Some(&b) = p.get(4) {
                slot.1 |= next_bit(b);
            }
        }
        StateTable::from_map(prefixes, start)
    }

    /// The table of `states` and their next-byte sets (keys never 0).
    pub(super) fn from_map(states: HashMap<u32, (StateID, u64)>, start: StateID) -> StateTable {
        let size = (states.len() * 2).next_power_of_two().max(16);
        let empty = Slot {
            key: 0,
            state: start,
            next: 0,
        };
        let mut t = StateTable {
            slots: vec![empty; size].into_boxed_slice(),
            shift: 32 - size.trailing_zeros(),
        };
        for (key, (state, next)) in states {
            let mut i = t.slot(key);
            while t.slots[i].key != 0 {
                i = (i + 1) & (size - 1);
            }
            t.slots[i] = Slot { key, state, next };
        }
        t
    }

    #[inline(always)]
    pub(super) fn slot(&self, key: u32) -> usize {
        (key.wrapping_mul(0x9E37_79B1) >> self.shift) as usize
    }

    /// The slot of `key`, if a pattern starts with its bytes.
    #[inline]
    pub(super) fn get(&self, key: u32) -> Option<&Slot> {
        let mask = self.slots.len() - 1;
        let mut i = self.slot(key);
        loop {
            let s = &self.slots[i];
            if s.key == key {
                return Some(s);
            }
            if s.key == 0 {
                return None;
            }
            i = (i + 1) & mask;
        }
    }
}

/// The first four bytes of `b` (at least four), little-endian, ASCII letters lowercased
/// (SWAR: for a byte `c < 0x80`, `c + (0x80 - lo)` has its high bit set iff `c >= lo`).
#[inline(always)]
pub(super) fn lower4(b: &[u8]) -> u32 {
    let x = load4(b);
    let low7 = x & 0x7f7f_7f7f;
    let upper = low7.wrapping_add(0x3f3f_3f3f) & !low7.wrapping_add(0x2525_2525) & !x & 0x8080_8080;
    x | (upper >> 2)
}

/// The automaton's state after `bytes` from `sid` (ASCII-lowercased, as the keys are).
pub(super) fn walk_bytes(nfa: &contiguous::NFA, sid: StateID, bytes: &[u8]) -> StateID {
    bytes.iter().fold(sid, |sid, &b| {
        nfa.next_state(AcAnchored::Yes, sid, b.to_ascii_lowercase())
    })
}

/// The key of the first `len` (1 to 3) bytes of a [`lower4`] key: those bytes, and the
/// length in the top byte (so that keys of different lengths never meet).
#[inline(always)]
pub(super) fn short_key(lower: u32, len: usize) -> u32 {
    (lower & (u32::MAX >> (32 - 8 * len))) | (len as u32) << 24
}

/// A filter on the first bytes at a word start, so that the automaton is only walked where a
/// pattern may begin: most words share no 4-byte prefix with any term, and skipping them
/// saves the walk's cache misses (the walk was a third of the scan time; issue 7).
///
/// Two bitsets, each one load on the common path: `four` holds a 16-bit hash of the first
/// 4 bytes of every pattern of 4 or more bytes; `short` the first 2 bytes of every pattern
/// of 2 or 3 bytes (every second byte for a 1-byte pattern), and `one` the 1-byte patterns
/// for the last byte of a text. Bytes are compared with bit 5 set (`| 0x20`), which lowers
/// ASCII letters (on the zero-copy path the text is not lowercased); the few other byte
/// pairs it merges (`@` and `` ` ``, `0` and DLE, ...) cost a rare false positive. No false
/// negatives: a pattern starting at `i` always
/// sets the bit the text at `i` is tested against (property-tested). Where every pattern has
/// four or more bytes (the built-ins' inside-word terms), a third set, `sampled`, lets the
/// pass over a text probe only every second position first.
#[derive(Clone, Debug)]
pub(super) struct StartFilter {
    /// Whether any pattern is shorter than four bytes (else `short` is empty).
    pub(super) has_short: bool,
    pub(super) one: Box<[u64; 4]>,
    pub(super) short: Box<[u64; 1024]>,
    pub(super) four: Box<[u64; 1024]>,
    /// For [`StartFilter::may_start64_sampled`]: the 4-byte keys at offsets 0 and 1 of every
    /// pattern, hashed as in `four`. `None` when a pattern is shorter than four bytes, or
    /// when too many are exactly four (their offset-1 key has an unknown fifth byte).
    pub(super) sampled: Option<Box<[u64; 1024]>>,
}

/// Patterns of exactly four bytes that [`StartFilter::sampled`] takes: each sets one bit per
/// possible fifth byte (128 after case folding), so more would crowd the set.
pub(super) const SAMPLED_MAX_FOUR_BYTE: usize = 8;

impl StartFilter {
    pub(super) fn new<'a>(patterns: impl Iterator<Item = &'a [u8]>) -> StartFilter {
        let mut f = StartFilter {
            has_short: false,
            one: Box::new([0; 4]),
            short: Box::new([0; 1024]),
            four: Box::new([0; 1024]),
            sampled: None,
        };
        let mut sampled = Box::new([0u64; 1024]);
        let mut four_byte = 0;
        for p in patterns {
            f.has_short |= (1..4).contains(&p.len());
            match p.len() {
                0 => {}
                1 => {
                    set(&mut f.one[..], usize::from(p[0] | 0x20));
                    for b in 0..=255u8 {
                        set(&mut f.short[..], key2(&[p[0], b]));
                    }
                }
                2 | 3 => set(&mut f.short[..], key2(p)),
                n => {
                    set(&mut f.four[..], hash16(key4(p)));
                    set(&mut sampled[..], hash16(key4(p)));
                    if n >= 5 {
                        set(&mut sampled[..], hash16(key4(&p[1..])));
                    } else {
                        four_byte += 1;
                        for b in 0..=255u8 {
                            set(&mut sampled[..], hash16(key4(&[p[1], p[2], p[3], b])));
                        }
                    }
                }
            }
        }
        if !f.has_short && four_byte <= SAMPLED_MAX_FOUR_BYTE {
            f.sampled = Some(sampled);
        }
        f
    }

    /// May a pattern of one to three bytes start at the beginning of `rest` (four or more
    /// bytes)?
    #[inline]
    pub(super) fn may_start_short(&self, rest: &[u8]) -> bool {
        // `short` also holds every byte pair that starts with a one-byte pattern.
        bit(&self.short, key2(rest)) != 0
    }

    /// Bit `i` set if a pattern of four or more bytes (or, with `SHORT`, of fewer) may start
    /// at `window[i]`, for `i` below `4 * groups` (at most 64; a text's last window needs
    /// fewer groups). Kept out of line so that the loop has the registers to itself.
    #[inline(never)]
    pub(super) fn may_start64<const SHORT: bool>(&self, window: &[u8; 68], groups: usize) -> u64 {
        let (four, short) = (&*self.four, &*self.short);
        let mut mask = 0u64;
        for i in (0..4 * groups.min(16)).step_by(4) {
            // One load gives the keys of four positions; their four bits are gathered
            // before one variable shift puts them in place.
            let w = &window[i..i + 8];
            let x = u64::from_le_bytes([w[0], w[1], w[2], w[3], w[4], w[5], w[6], w[7]]);
            let mut nibble = 0u64;
            for j in 0..4 {
                let key = (x >> (8 * j)) as u32 | 0x2020_2020;
                let mut hit = bit(four, hash16(key));
                if SHORT {
                    hit |= bit(short, usize::from((x >> (8 * j)) as u16 | 0x2020));
                }
                nibble |= hit << j;
            }
            mask |= nibble << i;
        }
        mask
    }

    /// Like `may_start64::<false>`, for patterns of four or more bytes, with one probe every
    /// second position instead of every position: the key at an odd position `i` is tested
    /// against [`StartFilter::sampled`], which holds the keys at offsets 0 and 1 of every
    /// pattern, so a pattern that starts at `i - 1` or `i` passes it. Only behind such a hit
    /// (a few percent of the probes) are `i - 1` and `i` tested one by one against `four`.
    /// The bits set are those of `may_start64::<false>` less some of its false positives;
    /// every position where a pattern starts is among them (property-tested). The
    /// inside-word filter runs on every byte of a note, so halving its probes took ~7% off
    /// a built-in scan's instructions per row (issue 5).
    #[inline(never)]
    pub(super) fn may_start64_sampled(
        &self,
        sampled: &[u64; 1024],
        window: &[u8; 68],
        groups: usize,
    ) -> u64 {
        let mut hits = 0u64;
        for i in (0..4 * groups.min(16)).step_by(4) {
            // The keys at positions i + 1 and i + 3, one 4-byte load each.
            let a = key4(&window[i + 1..i + 5]);
            let b = key4(&window[i + 3..i + 7]);
            hits |= (bit(sampled, hash16(a)) << 1 | bit(sampled, hash16(b)) << 3) << i;
        }
        let mut mask = 0u64;
        while hits != 0 {
            let i = hits.trailing_zeros() as usize;
            hits &= hits - 1;
            for p in [i - 1, i] {
                mask |= bit(&self.four, hash16(key4(&window[p..]))) << p;
            }
        }
        mask
    }

    /// Can a pattern start at the beginning of `rest`?
    #[inline]
    pub(super) fn may_start(&self, rest: &[u8]) -> bool {
        match rest.len() {
            0 => false,
            1 => get(&self.one[..], usize::from(rest[0] | 0x20)),
            2 | 3 => get(&self.short[..], key2(rest)),
            _ => get(&self.four[..], hash16(key4(rest))) || get(&self.short[..], key2(rest)),
        }
    }
}

/// The first two bytes with bit 5 set, as a 16-bit index.
#[inline(always)]
pub(super) fn key2(b: &[u8]) -> usize {
    // One 2-byte load (indexing byte by byte gave a load and a bounds check per byte).
    usize::from(u16::from_le_bytes(b[..2].try_into().unwrap_or([0; 2])) | 0x2020)
}

/// The first four bytes with bit 5 set.
#[inline(always)]
pub(super) fn key4(b: &[u8]) -> u32 {
    load4(b) | 0x2020_2020
}

/// The first four bytes of `b` (at least four), little-endian, as one load: indexing them
/// one by one left a load and a bounds check per byte where the length was not known.
#[inline(always)]
pub(super) fn load4(b: &[u8]) -> u32 {
    // `b[..4]` has four bytes, so the conversion cannot fail.
    u32::from_le_bytes(b[..4].try_into().unwrap_or([0; 4]))
}

/// 16 bits of a multiplicative hash.
#[inline(always)]
pub(super) fn hash16(k: u32) -> usize {
    (k.wrapping_mul(0x9E37_79B1) >> 16) as usize
}

#[inline(always)]
pub(super) fn set(bits: &mut [u64], i: usize) {
    bits[i >> 6] |= 1 << (i & 63);
}

/// Bit `i` of a 65,536-bit set, as 0 or 1 (the array type makes the index provably in
/// bounds for a 16-bit `i`).
#[inline(always)]
pub(super) fn bit(bits: &[u64; 1024], i: usize) -> u64 {
    (bits[(i >> 6) & 1023] >> (i & 63)) & 1
}

#[inline(always)]
pub(super) fn get(bits: &[u64], i: usize) -> bool {
    bits[i >> 6] & (1 << (i & 63)) != 0
}

/// The patterns that may start inside a word (suffix and compound terms, terms that begin
/// with punctuation).
#[derive(Debug)]
pub(super) enum Unanchored {
    /// Walked anchored from every position where the start filter lets a pattern begin:
    /// the filter is one independent load per byte, where a DFA's transitions are a chain of
    /// dependent loads (issue 7).
    Everywhere(Box<Anchored>),
    /// Searched overlapping over the whole text (the reference, see
    /// [`ScannerBuilder::all_overlapping`]).
    Overlapping {
        ac: AhoCorasick,
        /// Local pattern id → global pattern id.
        ids: Vec<u32>,
    },
}

impl Anchored {
    /// The automaton, start filter and prefix table for `patterns[ids]`.
    pub(super) fn new(
        patterns: &[String],
        ids: Vec<u32>,
        zero_copy: bool,
    ) -> Result<Anchored, BuildError> {
        let automaton_error = |e: aho_corasick::BuildError| BuildError::Automaton(e.to_string());
        // A contiguous NFA: its states near the root are dense, and an anchored walk never
        // follows a failure transition, so it is as fast as a DFA here while building in a
        // tenth of the time and fitting in cache (issue 7, BENCHMARKS.md).
        let nfa = contiguous::Builder::new()
            .match_kind(MatchKind::Standard)
            .ascii_case_insensitive(zero_copy)
            .build(ids.iter().map(|&i| &patterns[i as usize]))
            .map_err(automaton_error)?;
        let start = nfa
            .start_state(AcAnchored::Yes)
            .map_err(|e| BuildError::Automaton(e.to_string()))?;
        let bytes = || ids.iter().map(|&i| patterns[i as usize].as_bytes());
        let prefilter = StartFilter::new(bytes());
        let prefix4 = StateTable::prefixes(&nfa, start, bytes());
        // (The next-byte sets of short patterns are not used: their walk ends there.)
        let mut short_states: HashMap<u32, (StateID, u64)> = HashMap::new();
        let mut short_lens = 0u8;
        for p in bytes().filter(|p| (1..4).contains(&p.len()) && p[0] != 0) {
            let mut four = [0u8; 4];
            four[..p.len()].copy_from_slice(p);
            short_states
                .entry(short_key(lower4(&four), p.len()))
                .or_insert_with(|| (walk_bytes(&nfa, start, p), 0));
            short_lens |= 1 << p.len();
        }
        let short = StateTable::from_map(short_states, start);
        Ok(Anchored {
            nfa,
            start,
            ids,
            prefilter,
            prefix4,
            short,
            short_lens,
        })
    }

    /// Walk from every position of `text` where a pattern may start; call
    /// `found(start, global pattern id, end)` for every occurrence (what an overlapping
    /// search reports, in order of start instead of end).
    pub(super) fn walk_everywhere(&self, text: &[u8], mut found: impl FnMut(usize, u32, usize)) {
        let f = &self.prefilter;
        let pass = |window: &[u8; 68], groups: usize| match &f.sampled {
            Some(sampled) => f.may_start64_sampled(sampled, window, groups),
            None if f.has_short => f.may_start64::<true>(window, groups),
            None => f.may_start64::<false>(window, groups),
        };
        let mut walk_from = |base: usize, mut starts: u64| {
            while starts != 0 {
                let at = base + starts.trailing_zeros() as usize;
                starts &= starts - 1;
                self.walk(text, at, |id, end| found(at, id, end));
            }
        };
        let mut base = 0;
        // 64 positions at a time: a branch-free pass gives the mask of the positions where a
        // pattern may start (the 4-byte keys of positions base..base + 64 need 67 bytes; 68
        // let the last group of four be one 8-byte load).
        while let Some(window) = text
            .get(base..base + 68)
            .and_then(|w| <&[u8; 68]>::try_from(w).ok())
        {
            walk_from(base, pass(window, 16));
            base += 64;
        }
        // The last 0 to 67 bytes, padded with NULs (which the filter reads as spaces): the
        // filter may pass a position whose pattern would run past the end, and the walk,
        // which reads the text itself, rejects it. Walking every tail position instead cost
        // more than the rest of the inside-word search (a note is a few windows long).
        let tail = &text[base..];
        if !tail.is_empty() {
            let mut window = [0u8; 68];
            window[..tail.len()].copy_from_slice(tail);
            let in_text = u64::MAX >> 64usize.saturating_sub(tail.len());
            walk_from(base, pass(&window, tail.len().div_ceil(4)) & in_text);
            if tail.len() > 64 {
                walk_from(base + 64, (1u64 << (tail.len() - 64)) - 1);
            }
        }
    }

    /// Walk the automaton from `at`; call `found(global pattern id, end)` for every
    /// pattern that starts exactly at `at`. The start filter rules out most positions;
    /// patterns of one to three bytes are one probe per length, and the first four
    /// transitions one probe of the prefix table; where the fifth byte cannot follow, the
    /// walk ends without touching the automaton.
    #[inline(always)]
    pub(super) fn walk(&self, text: &[u8], at: usize, found: impl FnMut(u32, usize)) {
        let rest = &text[at..];
        if rest.len() >= 4 {
            // The filter inline, the rest out of line: two thirds of the word starts stop
            // here, and a call per word start was a tenth of the word-start walk.
            let f = &self.prefilter;
            let four = bit(&f.four, hash16(key4(rest))) != 0;
            let short = f.has_short && f.may_start_short(rest);
            if four || short {
                self.walk_passed(text, at, four, short, found);
            }
        } else if self.prefilter.may_start(rest) {
            self.walk_nfa(text, at, self.start, at, found);
        }
    }

    /// [`Anchored::walk`] from a position (with four or more bytes left) that passed the
    /// filter for patterns of four or more bytes (`four`) or of fewer (`short`).
    #[inline(never)]
    pub(super) fn walk_passed(
        &self,
        text: &[u8],
        at: usize,
        four: bool,
        short: bool,
        mut found: impl FnMut(u32, usize),
    ) {
        let rest = &text[at..];
        let key = lower4(rest);
        if short {
            // Patterns of one to three bytes: one probe per length instead of a walk from
            // the root.
            for len in 1..4 {
                if self.short_lens & (1 << len) != 0 {
                    if let Some(slot) = self.short.get(short_key(key, len)) {
                        self.report(slot.state, at, at + len, &mut found);
                    }
                }
            }
        }
        if !four {
            return;
        }
        let Some(slot) = self.prefix4.get(key) else {
            return;
        };
        self.report(slot.state, at, at + 4, &mut found);
        if rest.get(4).is_none_or(|&b| slot.next & next_bit(b) == 0) {
            return;
        }
        self.walk_nfa(text, at, slot.state, at + 4, found);
    }

    /// Walk the automaton on from state `sid` at byte `from` (a walk that started at `at`).
    #[inline]
    pub(super) fn walk_nfa(
        &self,
        text: &[u8],
        at: usize,
        sid: StateID,
        from: usize,
        mut found: impl FnMut(u32, usize),
    ) {
        let nfa = &self.nfa;
        let mut sid = sid;
        for (j, &b) in text.iter().enumerate().skip(from) {
            sid = nfa.next_state(AcAnchored::Yes, sid, b);
            if nfa.is_special(sid) {
                if nfa.is_dead(sid) {
                    return;
                }
                self.report(sid, at, j + 1, &mut found);
            }
        }
    }

    /// The patterns of state `sid` (reached at `end`) that start at `at`.
    #[inline(always)]
    pub(super) fn report(
        &self,
        sid: StateID,
        at: usize,
        end: usize,
        found: &mut impl FnMut(u32, usize),
    ) {
        let nfa = &self.nfa;
        if !nfa.is_match(sid) {
            return;
        }
        for k in 0..nfa.match_len(sid) {
            let p = nfa.match_pattern(sid, k);
            // Match lists also hold the patterns that end here but start later (copied
            // from failure states for overlapping search).
            if end - nfa.pattern_len(p) == at {
                found(self.ids[p.as_usize()], end);
            }
        }
    }
}

pub(super) const HIGH_BITS: u64 = 0x8080_8080_8080_8080;

/// `b` in every byte of a word.
#[inline(always)]
pub(super) const fn splat(b: u8) -> u64 {
    b as u64 * 0x0101_0101_0101_0101
}

/// The high bit of every byte of `x` (8 bytes, little-endian) that is an ASCII letter or
/// digit, the ASCII half of [`is_word_char`]; bytes of 0x80 and up give 0. SWAR range checks:
/// for a byte `b < 0x80`, `b + (0x80 - lo)` has its high bit set iff `b >= lo`, and no
/// addition carries into the next byte.
#[inline(always)]
pub(super) fn ascii_word_bits(x: u64) -> u64 {
    let ascii = !x & HIGH_BITS;
    let b = x & !HIGH_BITS;
    let lower = b | splat(0x20);
    let letter = lower.wrapping_add(splat(0x80 - b'a')) & !lower.wrapping_add(splat(0x7f - b'z'));
    let digit = b.wrapping_add(splat(0x80 - b'0')) & !b.wrapping_add(splat(0x7f - b'9'));
    (letter | digit) & ascii
}

/// Bit `k` of the result is the high bit of byte `k` of `m` (whose other bits are clear):
/// the multiplication moves each byte's bit to a distinct position, so nothing carries.
#[inline(always)]
pub(super) fn gather_high_bits(m: u64) -> u64 {
    ((m >> 7).wrapping_mul(0x0102_0408_1020_4080)) >> 56
}

/// One bit per byte of a block of up to 64 bytes: set for ASCII letters and digits.
#[inline(always)]
pub(super) fn ascii_word_mask(block: &[u8; 64]) -> (u64, bool) {
    let mut mask = 0u64;
    let mut high = 0u64;
    for (k, w) in block.chunks_exact(8).enumerate() {
        let x = u64::from_le_bytes([w[0], w[1], w[2], w[3], w[4], w[5], w[6], w[7]]);
        high |= x;
        mask |= gather_high_bits(ascii_word_bits(x)) << (8 * k);
    }
    (mask, high & HIGH_BITS != 0)
}

/// Call `f` with the byte offset of every word start of `norm`, in order: a letter or digit
/// not preceded by one ([`is_word_char`], the rule `check_mode` applies).
///
/// Works on 64-byte blocks: one bit per byte says "part of a word char" (every byte of a
/// multi-byte char gets its char's bit), and the starts are the set bits whose predecessor
/// is clear. The ASCII bits come 8 bytes at a time (SWAR, [`ascii_word_bits`]); only blocks
/// holding non-ASCII bytes decode chars. Measured on the benchmark corpus the block form is
/// ~1.5× a byte-at-a-time loop (fewer mispredicted branches), and SWAR halves its cost again.
#[inline]
pub(super) fn for_each_word_start(norm: &str, mut f: impl FnMut(usize)) {
    let b = norm.as_bytes();
    // Bit of the last byte of the previous block, and the word-ness of the char whose
    // continuation bytes may run into the next block.
    let mut carry = 0u64;
    let mut char_is_word = false;
    let mut tail = [0u8; 64];
    for (block, chunk) in b.chunks(64).enumerate() {
        let base = block * 64;
        let full: &[u8; 64] = match chunk.try_into() {
            Ok(full) => full,
            Err(_) => {
                // The last, partial block: padded with NULs, which are not word bytes.
                tail[..chunk.len()].copy_from_slice(chunk);
                &tail
            }
        };
        let (mut mask, has_high) = ascii_word_mask(full);
        if has_high {
            for (k, &c) in chunk.iter().enumerate() {
                if c < 0x80 {
                    continue;
                }
                if c & 0xC0 != 0x80 {
                    // A leading byte: `base + k` is a char boundary.
                    char_is_word = norm[base + k..].chars().next().is_some_and(is_word_char);
                }
                mask |= u64::from(char_is_word) << k;
            }
        }
        let mut starts = mask & !((mask << 1) | carry);
        carry = mask >> 63;
        while starts != 0 {
            f(base + starts.trailing_zeros() as usize);
            starts &= starts - 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn word_starts_naive(norm: &str) -> Vec<usize> {
        let mut out = Vec::new();
        let mut prev = false;
        for (i, c) in norm.char_indices() {
            let w = is_word_char(c);
            if w && !prev {
                out.push(i);
            }
            prev = w;
        }
        out
    }

    proptest::proptest! {
        #[test]
        fn word_starts_agree_with_char_rule(
            s in "[a-zA-Z0-9 .,:•«»…æøåéüß日本\u{300}\u{2014}-]{0,300}"
        ) {
            let mut got = Vec::new();
            for_each_word_start(&s, |i| got.push(i));
            proptest::prop_assert_eq!(got, word_starts_naive(&s));
        }
    }

    proptest::proptest! {
        #[test]
        fn word_starts_agree_on_any_ascii(s in "[\\x00-\\x7f]{0,200}") {
            let mut got = Vec::new();
            for_each_word_start(&s, |i| got.push(i));
            proptest::prop_assert_eq!(got, word_starts_naive(&s));
        }

        /// The start filter never rejects a position where a pattern starts, whatever the
        /// case of the text's ASCII letters.
        #[test]
        fn start_filter_has_no_false_negatives(
            pats in proptest::collection::vec("[a-zæøå0-9@`\\x10 -]{1,7}", 1..20),
            pick in 0usize..20,
            upper in proptest::bool::ANY,
            after in "[a-z ]{0,5}",
        ) {
            let f = StartFilter::new(pats.iter().map(|p| p.as_bytes()));
            let p = &pats[pick % pats.len()];
            let p = if upper { p.to_ascii_uppercase() } else { p.clone() };
            let text = format!("{p}{after}");
            proptest::prop_assert!(f.may_start(text.as_bytes()));
        }
    }

    /// The patterns picked (index modulo their number, upper-cased or not), each followed by
    /// its filler, padded with spaces to at least one 68-byte window.
    fn picked_text(pats: &[String], picks: &[(usize, bool, String)]) -> Vec<u8> {
        let mut text = Vec::new();
        for (pick, upper, filler) in picks {
            let p = &pats[pick % pats.len()];
            let p = if *upper {
                p.to_ascii_uppercase()
            } else {
                p.clone()
            };
            text.extend_from_slice(p.as_bytes());
            text.extend_from_slice(filler.as_bytes());
        }
        text.resize(68.max(text.len()), b' ');
        text
    }

    proptest::proptest! {
        /// The 64-position pass sets bit `i` exactly where the one-position check lets a
        /// pattern start at `i` (texts built from the patterns, in either case, so that
        /// both answers occur).
        #[test]
        fn start_filter_64_positions_equal_one_at_a_time(
            pats in proptest::collection::vec("[a-zæøå0-9@`\x10 -]{1,7}", 1..20),
            picks in proptest::collection::vec((0usize..20, proptest::bool::ANY, "[a-z .]{0,3}"), 1..40),
        ) {
            let f = StartFilter::new(pats.iter().map(|p| p.as_bytes()));
            let text = picked_text(&pats, &picks);
            let window = <&[u8; 68]>::try_from(&text[..68]).unwrap();
            let mut want = 0u64;
            for i in 0..64 {
                want |= u64::from(f.may_start(&window[i..])) << i;
            }
            proptest::prop_assert_eq!(f.may_start64::<true>(window, 16), want);
            if !f.has_short {
                proptest::prop_assert_eq!(f.may_start64::<false>(window, 16), want);
            }
            // Fewer groups: the first 4 × groups positions only.
            let groups = picks.len() % 17;
            let first = u64::MAX.checked_shr(64 - 4 * groups as u32).unwrap_or(0);
            proptest::prop_assert_eq!(f.may_start64::<true>(window, groups), want & first);
        }
    }

    proptest::proptest! {
        /// The sampled pass (one probe every second position) keeps every position where a
        /// pattern starts, in either case, and sets no bit the full pass does not set.
        #[test]
        fn sampled_start_filter_keeps_every_pattern_start(
            pats in proptest::collection::vec("[a-zæøå0-9@`\x10 -]{4,9}", 1..20),
            picks in proptest::collection::vec((0usize..20, proptest::bool::ANY, "[a-z .]{0,3}"), 1..40),
            groups in 0usize..17,
        ) {
            let f = StartFilter::new(pats.iter().map(|p| p.as_bytes()));
            let four_byte = pats.iter().filter(|p| p.len() == 4).count();
            let Some(sampled) = &f.sampled else {
                proptest::prop_assert!(four_byte > SAMPLED_MAX_FOUR_BYTE);
                return Ok(());
            };
            let text = picked_text(&pats, &picks);
            let window = <&[u8; 68]>::try_from(&text[..68]).unwrap();
            let first = u64::MAX.checked_shr(64 - 4 * groups as u32).unwrap_or(0);
            let got = f.may_start64_sampled(sampled, window, groups);
            let full = f.may_start64::<false>(window, groups);
            proptest::prop_assert_eq!(got & !full, 0, "bits the full pass does not set");
            for i in 0..4 * groups {
                let starts = pats.iter().any(|p| {
                    window[i..].len() >= p.len()
                        && window[i..i + p.len()].eq_ignore_ascii_case(p.as_bytes())
                });
                if starts {
                    proptest::prop_assert!(got >> i & 1 == 1, "pattern start {} dropped", i);
                }
            }
            proptest::prop_assert_eq!(got & !first, 0);
        }
    }

    #[test]
    fn sampled_start_filter_only_without_short_patterns() {
        let f = |pats: &[&str]| StartFilter::new(pats.iter().map(|p| p.as_bytes()));
        assert!(f(&["diabetes", "gigt"]).sampled.is_some());
        assert!(f(&["diabetes", "hiv"]).sampled.is_none());
        let four: Vec<String> = (0..=SAMPLED_MAX_FOUR_BYTE)
            .map(|i| format!("ab{i:02}"))
            .collect();
        let four: Vec<&str> = four.iter().map(String::as_str).collect();
        assert!(f(&four[1..]).sampled.is_some());
        assert!(f(&four).sampled.is_none());
    }

    #[test]
    fn lower4_lowers_ascii_letters_only() {
        for w in ["ABCD", "aZ@[", "`{zA", "ÆØ\u{1}", "0123", "Ab\u{7f}\u{80}"] {
            let b = w.as_bytes();
            let want: Vec<u8> = b[..4].iter().map(u8::to_ascii_lowercase).collect();
            assert_eq!(lower4(b), lower4(&want), "{w:?}");
            assert_eq!(lower4(b).to_le_bytes(), want[..4], "{w:?}");
        }
    }

    #[test]
    fn start_filter_rejects_most_other_words() {
        let f = StartFilter::new(["diabetes", "kanker", "ms"].iter().map(|p| p.as_bytes()));
        for w in ["Diabetes", "KANKERPATIENT", "ms", "MS-patient"] {
            assert!(f.may_start(w.as_bytes()), "{w}");
        }
        for w in ["klant", "belt", "morgen", "m", "d"] {
            assert!(!f.may_start(w.as_bytes()), "{w}");
        }
    }

    #[test]
    fn word_starts_across_blocks() {
        // Multi-byte chars straddling the 64-byte block boundary, word and non-word.
        for pad in 58..66 {
            for mid in ["æble", "•x", "«ja»", "日本 x", "a\u{300}b", "…é"] {
                let s = format!("{}{mid} end", "a ".repeat(pad / 2) + &"b".repeat(pad % 2));
                let mut got = Vec::new();
                for_each_word_start(&s, |i| got.push(i));
                assert_eq!(got, word_starts_naive(&s), "{s:?}");
            }
        }
    }
}

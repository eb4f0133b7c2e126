//! Overlap resolution among accepted candidates, and char offsets of the findings.

use super::*;

/// Mark every accepted candidate that loses to an overlapping one as `Overlapped`.
pub(super) fn resolve_overlaps(cands: &mut [Cand], entries: &[Entry]) {
    let mut order: Vec<usize> = (0..cands.len())
        .filter(|&i| cands[i].verdict == Verdict::Accepted)
        .collect();
    if order.len() < 2 {
        return;
    }
    order.sort_by_key(|&i| {
        let c = &cands[i];
        (
            std::cmp::Reverse(c.oend - c.ostart),
            entries[c.entry as usize].category,
            c.ostart,
            c.entry,
            c.term,
        )
    });
    // Kept spans never overlap, so the one starting last before `e` is the only one that
    // can overlap `s..e`.
    let mut kept: BTreeMap<usize, (usize, u32)> = BTreeMap::new();
    for i in order {
        let (s, e) = (cands[i].ostart, cands[i].oend);
        let hit = kept
            .range(..e)
            .next_back()
            .filter(|(_, &(ke, _))| ke > s)
            .map(|(_, &(_, by))| by);
        if let Some(by) = hit {
            cands[i].verdict = Verdict::Overlapped {
                by: entries[by as usize].id.clone(),
            };
        } else {
            kept.insert(s, (e, cands[i].entry));
        }
    }
}

/// Fill `char_start`/`char_end` of findings sorted by start.
pub(super) fn fill_char_offsets(text: &str, findings: &mut [Finding]) {
    // Most notes have none: no pass over the text to ask whether it is ASCII.
    if findings.is_empty() {
        return;
    }
    if text.is_ascii() {
        for f in findings {
            f.char_start = f.start;
            f.char_end = f.end;
        }
        return;
    }
    let mut pos = 0;
    let mut chars = 0;
    for f in findings {
        chars += text[pos..f.start].chars().count();
        pos = f.start;
        f.char_start = chars;
        f.char_end = chars + text[f.start..f.end].chars().count();
    }
}

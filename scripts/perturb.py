#!/usr/bin/env python3
"""Perturbation generator and scorer for the evasion lanes (issue 20).

`gen` rewrites every labelled sensitive note of a corpus (../shared/corpus format: `id`,
`text`, `spans` with `text` and `category`) nine ways, seeded and deterministic:

  upper      the whole note in upper case
  nodiac     the whole note without diacritics (NFD, combining marks dropped)
  zerowidth  a zero-width space inside each sensitive word
  softhyphen a soft hyphen inside each sensitive word
  fullwidth  each sensitive span in full-width letters (ＫＡＮＫＥＲ)
  nbsp       every space of the note a no-break space
  homoglyph  one or two letters of each sensitive word swapped for a Cyrillic or Greek
             look-alike (the word keeps Latin letters: a mixed-script word)
  spaced     each sensitive word's letters spaced or dotted out (one separator per word,
             chosen from space, dot, hyphen)
  typo       one edit in each sensitive word of six or more letters (insertion, deletion,
             substitution, transposition; never the first letter): the words the issue's
             typo rule covers (one edit from six letters; a five-letter word was perturbed
             before session 13, which the lane by rule never catches)

A "sensitive word" is the longest word of each labelled span. Each output line is the note
with `id` = "<id>#<kind>", `kind`, and `spans` with char offsets (`start`, `end`) into the
perturbed text; the unperturbed note is written too, as kind `none`, so that scoring needs
nothing else.

`score` reads those notes and art9's findings for them (`art9 scan P.jsonl --field text --key
id --format jsonl`) and prints, per kind, how many notes art9 catches (a finding of a span's
category overlapping the span) among the notes it catches unperturbed, and how many findings
carry each `evasion` lane.

Usage (from the project root):
  python3 scripts/perturb.py gen ../shared/corpus/dev.jsonl --seed 20 > /tmp/p.jsonl
  target/release/art9 scan /tmp/p.jsonl --field text --key id --format jsonl > /tmp/f.jsonl
  python3 scripts/perturb.py score /tmp/p.jsonl /tmp/f.jsonl          # a Markdown table
  python3 scripts/perturb.py score /tmp/p.jsonl /tmp/f.jsonl --json   # for tests

Python standard library only.
"""
import argparse
import json
import random
import re
import sys
import unicodedata

KINDS = ["upper", "nodiac", "zerowidth", "softhyphen", "fullwidth", "nbsp",
         "homoglyph", "spaced", "typo"]

# Latin letter -> Cyrillic / Greek look-alikes that people use (and that UTS #39 lists).
HOMOGLYPHS = {
    "a": ["\u0430"], "e": ["\u0435"], "o": ["\u043e", "\u03bf"], "c": ["\u0441"],
    "p": ["\u0440"], "x": ["\u0445"], "y": ["\u0443"], "i": ["\u0456"], "s": ["\u0455"],
    "j": ["\u0458"], "A": ["\u0410", "\u0391"], "B": ["\u0412", "\u0392"],
    "E": ["\u0415", "\u0395"], "K": ["\u041a", "\u039a"], "M": ["\u041c", "\u039c"],
    "H": ["\u041d", "\u0397"], "O": ["\u041e", "\u039f"], "P": ["\u0420", "\u03a1"],
    "C": ["\u0421"], "T": ["\u0422", "\u03a4"], "X": ["\u0425", "\u03a7"],
}
SEPARATORS = [" ", ".", "-"]
WORD = re.compile(r"\w+", re.UNICODE)


def longest_word(s):
    words = [(m.start(), m.end()) for m in WORD.finditer(s)]
    if not words:
        return None
    return max(words, key=lambda w: (w[1] - w[0], -w[0]))


def strip_diacritics(s):
    return "".join(c for c in unicodedata.normalize("NFD", s)
                   if not unicodedata.combining(c))


def fullwidth(s):
    return "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in s)


def perturb_word(kind, w, rng):
    """The perturbed form of one sensitive word (or None: the word cannot be perturbed)."""
    if kind in ("zerowidth", "softhyphen"):
        if len(w) < 2:
            return None
        at = rng.randint(1, len(w) - 1)
        return w[:at] + ("\u200b" if kind == "zerowidth" else "\u00ad") + w[at:]
    if kind == "homoglyph":
        places = [i for i, c in enumerate(w) if c in HOMOGLYPHS]
        if not places or len(w) < 3:
            return None
        n = min(len(places), rng.choice([1, 2]), len(w) - 1)
        out = list(w)
        for i in rng.sample(places, n):
            out[i] = rng.choice(HOMOGLYPHS[w[i]])
        return "".join(out)
    if kind == "spaced":
        if len(w) < 3:
            return None
        return rng.choice(SEPARATORS).join(w)
    if kind == "typo":
        letters = "abcdefghijklmnopqrstuvwxyz"
        if len(w) < 6:
            return None
        op = rng.choice(["insert", "delete", "substitute", "transpose"])
        i = rng.randint(1, len(w) - 1)
        if op == "insert":
            return w[:i] + rng.choice(letters) + w[i:]
        if op == "delete":
            return w[:i] + w[i + 1:]
        if op == "substitute":
            c = rng.choice([x for x in letters if x != w[i].lower()])
            return w[:i] + (c.upper() if w[i].isupper() else c) + w[i + 1:]
        if i == len(w) - 1:
            i -= 1
        if w[i] == w[i + 1] or i == 0:
            return None
        return w[:i] + w[i + 1] + w[i] + w[i + 2:]
    raise ValueError(kind)


def whole_note(kind, s):
    if kind == "upper":
        return s.upper()
    if kind == "nodiac":
        return strip_diacritics(s)
    if kind == "nbsp":
        return s.replace(" ", "\u00a0")
    return s


def locate(text, spans):
    """Char ranges of the labelled spans, in order of first occurrence, non-overlapping."""
    found, taken = [], []
    for sp in spans:
        at = 0
        while True:
            i = text.find(sp["text"], at)
            if i < 0:
                break
            if all(i >= e or i + len(sp["text"]) <= s for s, e in taken):
                taken.append((i, i + len(sp["text"])))
                found.append((i, i + len(sp["text"]), sp))
                break
            at = i + 1
    return sorted(found, key=lambda x: x[0])


def rewrite(kind, rec, rng):
    """The note rewritten one way, with its spans' new char offsets; None if no span
    could be perturbed."""
    text = rec["text"]
    pieces, spans, pos, changed = [], [], 0, False
    out_len = 0

    def emit(s):
        nonlocal out_len
        pieces.append(s)
        out_len += len(s)

    for s, e, sp in locate(text, rec["spans"]):
        emit(whole_note(kind, text[pos:s]))
        span = text[s:e]
        start = out_len
        if kind in ("upper", "nodiac", "nbsp"):
            new = whole_note(kind, span)
            changed |= new != span
        elif kind == "fullwidth":
            new = fullwidth(span)
            changed |= new != span
        else:
            w = longest_word(span)
            new = span
            if w is not None:
                p = perturb_word(kind, span[w[0]:w[1]], rng)
                if p is not None:
                    new = span[:w[0]] + p + span[w[1]:]
                    changed = True
        emit(new)
        spans.append({"text": new, "category": sp["category"], "start": start,
                      "end": out_len})
        pos = e
    emit(whole_note(kind, text[pos:]))
    if not changed:
        return None
    return {"id": f"{rec['id']}#{kind}", "kind": kind, "text": "".join(pieces),
            "spans": spans}


def gen(args):
    n = 0
    for path in args.corpus:
        with open(path, encoding="utf-8") as f:
            for line in f:
                rec = json.loads(line)
                if not rec.get("spans"):
                    continue
                located = locate(rec["text"], rec["spans"])
                if not located:
                    continue
                base = {"id": f"{rec['id']}#none", "kind": "none", "text": rec["text"],
                        "spans": [{"text": sp["text"], "category": sp["category"],
                                   "start": s, "end": e} for s, e, sp in located]}
                print(json.dumps(base, ensure_ascii=False))
                for kind in KINDS:
                    # One generator per note and kind: a note's rewrite does not depend on
                    # the notes before it.
                    r = rewrite(kind, rec, random.Random(f"{args.seed}:{rec['id']}:{kind}"))
                    if r is not None:
                        print(json.dumps(r, ensure_ascii=False))
                n += 1
    print(f"perturb: {n} sensitive notes rewritten", file=sys.stderr)


def score(args):
    notes = {}
    with open(args.notes, encoding="utf-8") as f:
        for line in f:
            r = json.loads(line)
            notes[r["id"]] = r
    found = {}
    lanes = {}
    with open(args.findings, encoding="utf-8") as f:
        for line in f:
            x = json.loads(line)
            found.setdefault(x["record"], []).append(x)
            kind = x["record"].rsplit("#", 1)[1]
            lane = x.get("evasion", "exact")
            lanes.setdefault(kind, {}).setdefault(lane, 0)
            lanes[kind][lane] += 1

    def caught(rid):
        r = notes.get(rid)
        if r is None:
            return None
        fs = found.get(rid, [])
        return any(any(f["category"] == sp["category"] and f["char_start"] < sp["end"]
                       and sp["start"] < f["char_end"] for f in fs) for sp in r["spans"])

    rows = {}
    for rid, r in notes.items():
        if r["kind"] == "none":
            continue
        base_id = rid.rsplit("#", 1)[0] + "#none"
        row = rows.setdefault(r["kind"], {"notes": 0, "base_caught": 0, "caught": 0,
                                          "caught_of_base": 0})
        row["notes"] += 1
        b, c = caught(base_id), caught(rid)
        row["base_caught"] += bool(b)
        row["caught"] += bool(c)
        row["caught_of_base"] += bool(b and c)
    total = {"notes": 0, "caught": 0}
    for kind, row in rows.items():
        row["rate"] = row["caught_of_base"] / row["base_caught"] if row["base_caught"] else 0.0
        row["lanes"] = lanes.get(kind, {})
        total["notes"] += row["notes"]
        total["caught"] += row["caught"]
    total["rate"] = total["caught"] / total["notes"] if total["notes"] else 0.0
    if args.json:
        print(json.dumps({"kinds": rows, "all": total}, indent=1, sort_keys=True))
        return
    print("| perturbation | notes | caught unperturbed | caught perturbed | of those caught "
          "unperturbed | findings by lane |")
    print("| --- | ---: | ---: | ---: | ---: | --- |")
    for kind in KINDS:
        row = rows.get(kind)
        if row is None:
            continue
        lanes_s = ", ".join(f"{k} {v}" for k, v in sorted(row["lanes"].items()))
        print(f"| {kind} | {row['notes']} | {row['base_caught']} | {row['caught']} | "
              f"{row['rate']:.1%} | {lanes_s} |")
    print(f"| all | {total['notes']} | | {total['caught']} | {total['rate']:.1%} "
          f"(of all perturbed notes) | |")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    g = sub.add_parser("gen", help="write the perturbed notes (JSON Lines) to stdout")
    g.add_argument("corpus", nargs="+")
    g.add_argument("--seed", type=int, default=20)
    s = sub.add_parser("score", help="catch rates per perturbation")
    s.add_argument("notes")
    s.add_argument("findings")
    s.add_argument("--json", action="store_true")
    args = ap.parse_args()
    if args.cmd == "gen":
        gen(args)
    else:
        score(args)


if __name__ == "__main__":
    main()

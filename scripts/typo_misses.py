#!/usr/bin/env python3
"""Why the typo lane misses a perturbed note (issue 20): classifies every `typo` note of
`scripts/perturb.py gen` that art9 catches unperturbed but not perturbed.

Input: the perturbed notes and art9's findings for them, scanned with `--typos
--include-text --min-likelihood all` (so that findings graded below the default threshold and
the entry behind each finding are visible); the lexicon directory for the entries' shapes.

Classes (the first that applies):
  graded-below   a typo finding of the span's category is there, graded below `possible`
  case-sensitive the entry that catches the note unperturbed is case-sensitive
  no-typos       the entry says `typos: false`
  short-term     the term is under six letters (the rewritten word is longer: an ending or a
                 compound)
  multi-word     the term has several words (or a hyphen); the typo is in one of them
  compound       the term matched inside a longer word (prefix / suffix / compound mode)
  ending         the word is term + ending (word mode with `endings`)
  guard          the rewritten word is in the typo guard (an ordinary word)
  name-rule      a capitalised word inside a sentence, the term is not capitalised
  other          none of the above (a lane bug or a rule not listed)

Usage (from the project root):
  python3 scripts/perturb.py gen ../shared/corpus/dev.jsonl ../shared/corpus/dev2.jsonl \\
      --seed 20 > /tmp/p.jsonl
  art9 scan /tmp/p.jsonl --field text --key id --format jsonl --typos --include-text \\
      --min-likelihood all > /tmp/f.jsonl
  python3 scripts/typo_misses.py /tmp/p.jsonl /tmp/f.jsonl [--list]

Needs PyYAML (the lexicon files).
"""
import argparse
import collections
import json
import os
import re
import unicodedata

import yaml

LEVELS = ["very_unlikely", "unlikely", "possible", "likely", "very_likely"]


def norm(s):
    s = s.lower().replace("æ", "ae").replace("ø", "oe").replace("å", "aa").replace("ß", "ss")
    return "".join(c for c in unicodedata.normalize("NFKD", s) if not unicodedata.combining(c))


def load_entries(root):
    entries = {}
    for dirpath, _, files in os.walk(root):
        for f in files:
            if f.endswith(".yaml") and os.path.basename(dirpath) in ("nl", "da", "en"):
                with open(os.path.join(dirpath, f), encoding="utf-8") as fh:
                    lex = yaml.safe_load(fh)
                for e in lex.get("entries", []):
                    entries[e["id"]] = e
    return entries


def changed_word(a, b):
    """The word of `b` (perturbed) that differs from `a`, and the original word."""
    i = 0
    while i < min(len(a), len(b)) and a[i] == b[i]:
        i += 1
    j = 0
    while j < min(len(a), len(b)) - i and a[-1 - j] == b[-1 - j]:
        j += 1
    ws = [m for m in re.finditer(r"\w+", b) if m.start() <= i <= m.end()]
    wa = [m for m in re.finditer(r"\w+", a) if m.start() <= i <= m.end()]
    return (ws[0].group() if ws else b), (wa[0].group() if wa else a), i


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("notes")
    ap.add_argument("findings")
    ap.add_argument("--lexicons", default="lexicons")
    ap.add_argument("--guard", default="lexicons/typo-guard.txt")
    ap.add_argument("--list", action="store_true", help="one line per miss")
    args = ap.parse_args()
    entries = load_entries(args.lexicons)
    guard = set()
    with open(args.guard, encoding="utf-8") as f:
        for line in f:
            if line.strip() and not line.startswith("#"):
                guard.add(norm(line.strip()))
    notes = {}
    with open(args.notes, encoding="utf-8") as f:
        for line in f:
            r = json.loads(line)
            notes[r["id"]] = r
    found = collections.defaultdict(list)
    with open(args.findings, encoding="utf-8") as f:
        for line in f:
            x = json.loads(line)
            found[x["record"]].append(x)

    def hits(rid, sp, at_least="possible"):
        return [f for f in found.get(rid, []) if f["category"] == sp["category"]
                and f["char_start"] < sp["end"] and sp["start"] < f["char_end"]
                and LEVELS.index(f["likelihood"]) >= LEVELS.index(at_least)]

    classes = collections.Counter()
    rows = []
    total = base_caught = 0
    for rid, r in notes.items():
        if r["kind"] != "typo":
            continue
        total += 1
        base = notes[rid.rsplit("#", 1)[0] + "#none"]
        pairs = list(zip(base["spans"], r["spans"]))
        if not any(hits(base["id"], bs) for bs, _ in pairs):
            continue
        base_caught += 1
        if any(hits(rid, ps) for _, ps in pairs):
            continue
        # The first span caught unperturbed and rewritten.
        for bs, ps in pairs:
            if hits(base["id"], bs) and bs["text"] != ps["text"]:
                break
        else:
            bs, ps = pairs[0]
        word, orig, at = changed_word(bs["text"], ps["text"])
        bf = hits(base["id"], bs)[0]
        e = entries.get(bf.get("entry"), {})
        matched = norm(bf.get("text", ""))
        terms = [norm(t) for t in e.get("terms", [])]
        term = next((t for t in terms if t == matched), None)
        if term is None:
            term = next((t for t in sorted(terms, key=len, reverse=True) if t in matched),
                        matched)
        mode = e.get("match", "word")
        text = r["text"]
        wpos = text.find(word, ps["start"])
        before = text[:wpos].rstrip(" \"'(")
        if hits(rid, ps, "very_unlikely"):
            cls = "graded-below"
        elif e.get("case") == "sensitive":
            cls = "case-sensitive"
        elif e.get("typos") is False:
            cls = "no-typos"
        elif not re.fullmatch(r"[a-z]+", term):
            cls = "multi-word"
        elif len(term) < 6:
            cls = "short-term"
        elif len(norm(orig)) > len(term) and mode != "word":
            cls = "compound"
        elif len(norm(orig)) > len(term):
            cls = "ending"
        elif norm(word) in guard:
            cls = "guard"
        elif (word[:1].isupper() and word[1:2].islower() and before
              and not before.endswith((".", "!", "?", ":", ";", "\n"))
              and not e.get("terms", [""])[0][:1].isupper()):
            cls = "name-rule"
        else:
            cls = "other"
        classes[cls] += 1
        rows.append((cls, rid, e.get("id", "?"), mode, term, orig, word, at, bf["likelihood"]))
    print(f"typo notes {total}, caught unperturbed {base_caught}, missed "
          f"{sum(classes.values())}")
    for cls, n in classes.most_common():
        print(f"  {cls:15} {n}")
    if args.list:
        for row in sorted(rows):
            print("\t".join(str(x) for x in row))


if __name__ == "__main__":
    main()

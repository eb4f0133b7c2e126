#!/usr/bin/env python3
"""Word-list audit: which ordinary dictionary words does art9 flag?

Scans the nl/da/en word lists in ../shared/reference/term-sources/wordlists (one word a line)
with `art9 scan --text` and prints, per list, how many words are flagged, per category and per
entry. With --words it also prints the flagged words grouped by entry (for review; the lists are
BSD/CC BY, GPL and SCOWL licensed, so keep that output out of the repository).

Usage (from the project root):
  python3 scripts/wordlist_audit.py                      # counts, built-in lexicons
  python3 scripts/wordlist_audit.py --lexicon lexicons   # counts, lexicons on disk (no rebuild)
  python3 scripts/wordlist_audit.py --words --list en > /tmp/en-flagged.txt
  python3 scripts/wordlist_audit.py --diff /tmp/before.json   # words fixed / newly flagged

Python standard library only.
"""
import argparse
import collections
import json
import os
import subprocess
import sys

LISTS = [
    ("nl", "nl-opentaal-basiswoorden-gekeurd.txt"),
    ("da", "da-wdanish.txt"),
    ("en", "en-wbritish.txt"),
]


def flagged(binary, path, lexicon):
    cmd = [binary, "scan", path, "--text", "--format", "jsonl", "--include-text", "-q"]
    if lexicon:
        cmd += ["--no-builtin", "--lexicon", lexicon]
    out = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, check=False)
    if out.returncode not in (0, 1):
        sys.exit("art9 failed on %s: %s" % (path, out.stderr.decode(errors="replace")))
    with open(path, encoding="utf-8") as f:
        words = f.read().split("\n")
    per_word = collections.defaultdict(set)
    for line in out.stdout.decode().splitlines():
        h = json.loads(line)
        per_word[words[h["line"] - 1]].add((h["category"], h["entry"]))
    return len([w for w in words if w]), per_word


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--dir", default="../shared/reference/term-sources/wordlists")
    ap.add_argument("--bin", default="./target/debug/art9")
    ap.add_argument("--lexicon", help="use this lexicon directory instead of the built-in ones")
    ap.add_argument("--list", choices=[l for l, _ in LISTS], help="only this word list")
    ap.add_argument("--words", action="store_true", help="print flagged words grouped by entry")
    ap.add_argument("--save", help="write {list: [flagged words]} as JSON to this file")
    ap.add_argument("--diff", help="compare with a file written by --save")
    args = ap.parse_args()
    if not os.path.isdir(args.dir):
        sys.exit("skipped: %s not found" % args.dir)

    saved = {}
    print("| word list | words | flagged | health | politics | religion | ethnicity | sexual_orientation | trade_union | criminal |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    results = {}
    for lang, name in LISTS:
        if args.list and lang != args.list:
            continue
        total, per_word = flagged(args.bin, os.path.join(args.dir, name), args.lexicon)
        results[lang] = per_word
        saved[lang] = sorted(per_word)
        cats = collections.Counter(c for hits in per_word.values() for c in {c for c, _ in hits})
        cells = [name, str(total), str(len(per_word))] + [str(cats[c]) for c in (
            "health", "politics", "religion", "ethnicity", "sexual_orientation", "trade_union", "criminal")]
        print("| " + " | ".join(cells) + " |")
    if args.save:
        with open(args.save, "w", encoding="utf-8") as f:
            json.dump(saved, f, ensure_ascii=False)
    if args.diff:
        with open(args.diff, encoding="utf-8") as f:
            before = json.load(f)
        for lang, words in saved.items():
            old = set(before.get(lang, []))
            now = set(words)
            print("\n%s: %d fixed (flagged before, not now), %d newly flagged" % (
                lang, len(old - now), len(now - old)))
            if args.words:
                print("  fixed:", " ".join(sorted(old - now)))
                print("  new:  ", " ".join(sorted(now - old)))
    if args.words and not args.diff:
        for lang, per_word in results.items():
            by_entry = collections.defaultdict(list)
            for w, hits in per_word.items():
                for _, e in hits:
                    by_entry[e].append(w)
            print("\n## %s" % lang)
            for e in sorted(by_entry, key=lambda e: -len(by_entry[e])):
                print("%s (%d): %s" % (e, len(by_entry[e]), " ".join(sorted(by_entry[e]))))


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Real-text report: how often art9 fires on real sentences no one here wrote.

Runs `art9 scan --text --format jsonl --include-text` over the UD / Leipzig sentence files in
../shared/reference/real-text and prints, as Markdown, hits per 1,000 sentences per category for
every file and language. With --sample N it also prints N hits per language (random, fixed seed)
with their sentence, for a human to judge; that listing goes to stdout only and must not be
committed (the text is CC BY-SA / CC BY).

Usage (from the project root):
  python3 scripts/real_text_report.py                     # table, built-in lexicons
  python3 scripts/real_text_report.py --lexicon lexicons  # table, lexicons on disk (no rebuild)
  python3 scripts/real_text_report.py --sample 100 --seed 9 --lang nl > /tmp/nl-sample.txt

Python standard library only.
"""
import argparse
import collections
import json
import os
import random
import subprocess
import sys

CATEGORIES = ["health", "politics", "religion", "ethnicity", "sexual_orientation",
              "trade_union", "criminal"]
SHORT = {"health": "health", "politics": "pol", "religion": "rel", "ethnicity": "eth",
         "sexual_orientation": "sex", "trade_union": "union", "criminal": "crim"}

# (file, language, in sample pool?) -- en-email / en-reviews are subsets of en.txt, so they are
# reported as genre rows but not sampled twice.
FILES = [
    ("nl.txt", "nl", True),
    ("da.txt", "da", True),
    ("da-lcc-mixed2014.txt", "da", True),
    ("da-lcc-news2011.txt", "da", True),
    ("en.txt", "en", True),
    ("en-email.txt", "en", False),
    ("en-reviews.txt", "en", False),
]


def scan(binary, path, lexicon, own_lang_only, lang):
    cmd = [binary, "scan", path, "--text", "--format", "jsonl", "--include-text", "-q"]
    if lexicon:
        cmd += ["--no-builtin", "--lexicon", lexicon]
    if own_lang_only:
        cmd += ["--lang", lang]
    out = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, check=False)
    if out.returncode not in (0, 1):
        sys.exit("art9 failed on %s: %s" % (path, out.stderr.decode(errors="replace")))
    return [json.loads(line) for line in out.stdout.decode().splitlines() if line.strip()]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--dir", default="../shared/reference/real-text")
    ap.add_argument("--bin", default="./target/debug/art9")
    ap.add_argument("--lexicon", help="use this lexicon directory instead of the built-in ones")
    ap.add_argument("--own-lang", action="store_true",
                    help="only the lexicons of the text's language (default: all, as in production)")
    ap.add_argument("--sample", type=int, default=0, help="print N random hits per language")
    ap.add_argument("--seed", type=int, default=9)
    ap.add_argument("--lang", help="restrict the sample to one language")
    ap.add_argument("--json", action="store_true", help="print the counts as JSON")
    args = ap.parse_args()
    if not os.path.isdir(args.dir):
        sys.exit("skipped: %s not found" % args.dir)

    rows = []
    pools = collections.defaultdict(list)
    for name, lang, pooled in FILES:
        path = os.path.join(args.dir, name)
        with open(path, encoding="utf-8") as f:
            lines = f.read().split("\n")
        if lines and lines[-1] == "":
            lines.pop()
        hits = scan(args.bin, path, args.lexicon, args.own_lang, lang)
        per_cat = collections.Counter(h["category"] for h in hits)
        other_lang = sum(1 for h in hits if h["lang"] != lang)
        sentences_hit = len({h["line"] for h in hits})
        rows.append((name, lang, len(lines), len(hits), sentences_hit, other_lang, per_cat))
        if pooled:
            for h in hits:
                pools[lang].append((name, h, lines[h["line"] - 1]))

    if args.sample:
        rng = random.Random(args.seed)
        for lang in sorted(pools):
            if args.lang and lang != args.lang:
                continue
            pool = pools[lang]
            picked = rng.sample(pool, min(args.sample, len(pool)))
            picked.sort(key=lambda p: (p[0], p[1]["line"], p[1]["start"]))
            print("## sample %s: %d of %d hits (seed %d)" % (lang, len(picked), len(pool), args.seed))
            for i, (name, h, line) in enumerate(picked, 1):
                s, e = h["char_start"], h["char_end"]
                marked = line[:s] + "[[" + line[s:e] + "]]" + line[e:]
                print("%3d %s:%d %s %s | %s" % (i, name, h["line"], h["category"], h["entry"], marked))
            print()
        return

    if args.json:
        print(json.dumps([{"file": r[0], "lang": r[1], "sentences": r[2], "hits": r[3],
                           "sentences_with_hits": r[4], "other_lang_hits": r[5],
                           "per_category": dict(r[6])} for r in rows], indent=1))
        return

    def fmt(n, total):
        return "%.1f" % (1000.0 * n / total) if total else "-"

    head = ["file", "lang", "sentences", "hits", "per 1k"] + [SHORT[c] for c in CATEGORIES] + \
        ["sent. hit %", "other-lang hits"]
    print("| " + " | ".join(head) + " |")
    print("|" + "---|" * len(head))
    for name, lang, n, hits, shit, other, per_cat in rows:
        cells = [name, lang, str(n), str(hits), fmt(hits, n)] + \
            [fmt(per_cat[c], n) for c in CATEGORIES] + ["%.1f" % (100.0 * shit / n), str(other)]
        print("| " + " | ".join(cells) + " |")
    # per language (sampled files only; en-email/en-reviews are inside en.txt)
    agg = collections.OrderedDict()
    for name, lang, n, hits, shit, other, per_cat in rows:
        if not dict((f, p) for f, _, p in FILES)[name]:
            continue
        a = agg.setdefault(lang, [0, 0, 0, 0, collections.Counter()])
        a[0] += n
        a[1] += hits
        a[2] += shit
        a[3] += other
        a[4].update(per_cat)
    for lang, (n, hits, shit, other, per_cat) in agg.items():
        cells = ["**all %s**" % lang, lang, str(n), str(hits), fmt(hits, n)] + \
            [fmt(per_cat[c], n) for c in CATEGORIES] + ["%.1f" % (100.0 * shit / n), str(other)]
        print("| " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Note-language accuracy of art9 (reported, and the function-word vote alone) on real sentences and mixed notes.

Builds corpora in a temporary directory from ../shared/reference/real-text (one sentence a
line, language known by file) and runs `art9 eval` on them, which prints how often the reported
note language (the function-word vote, else the trigram fallback) and the vote alone (what
grading uses) name the labelled language, and how the fallback did on the vote's `und` notes:

  * real: every sentence of nl.txt, da.txt, da-lcc-*.txt, en.txt as one note;
  * mixed: notes of two sentences of one language and one of another (random, fixed seed),
    labelled with the majority language, in every order of the three sentences.

Nothing is written to the repository (the text is CC BY-SA / CC BY).

Usage (from the project root):  python3 scripts/note_lang_accuracy.py [--bin target/debug/art9]
Python standard library only.
"""
import argparse
import json
import os
import random
import subprocess
import sys
import tempfile

FILES = [("nl.txt", "nl"), ("da.txt", "da"), ("da-lcc-mixed2014.txt", "da"),
         ("da-lcc-news2011.txt", "da"), ("en.txt", "en")]


def run_eval(binary, notes, tmp, name):
    path = os.path.join(tmp, name + ".jsonl")
    with open(path, "w", encoding="utf-8") as f:
        for n in notes:
            f.write(json.dumps(n, ensure_ascii=False) + "\n")
    out = subprocess.run([binary, "eval", path], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         check=False).stdout.decode()
    lines = out.splitlines()
    start = next((i for i, l in enumerate(lines) if l.startswith("note language")), None)
    if start is None:
        sys.exit("art9 eval printed no note-language line (no cue files loaded?)")
    # The reported language and the vote alone (four lines each), then the fallback's line.
    block = [l for l in lines[start:start + 9]]
    return [l for l in block if not l.strip().startswith("missed")]


def long_only(notes, words):
    return [n for n in notes if len(n["text"].split()) >= words]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--dir", default="../shared/reference/real-text")
    ap.add_argument("--bin", default="./target/debug/art9")
    ap.add_argument("--mixed", type=int, default=600, help="mixed notes to build")
    ap.add_argument("--seed", type=int, default=19)
    args = ap.parse_args()
    if not os.path.isdir(args.dir):
        print("skipped: %s not found" % args.dir)
        return
    by_lang = {"nl": [], "da": [], "en": []}
    notes = []
    for name, lang in FILES:
        with open(os.path.join(args.dir, name), encoding="utf-8") as f:
            for i, line in enumerate(f):
                line = line.strip()
                if line:
                    notes.append({"id": "%s:%d" % (name, i + 1), "lang": lang, "text": line})
                    by_lang[lang].append(line)
    rng = random.Random(args.seed)
    mixed = []
    langs = sorted(by_lang)
    for i in range(args.mixed):
        major, minor = rng.sample(langs, 2)
        parts = [rng.choice(by_lang[major]), rng.choice(by_lang[major]),
                 rng.choice(by_lang[minor])]
        rng.shuffle(parts)
        mixed.append({"id": "mixed-%d" % i, "lang": major, "text": " ".join(parts)})
    with tempfile.TemporaryDirectory() as tmp:
        print("real-text sentences (%d):" % len(notes))
        for l in run_eval(args.bin, notes, tmp, "real"):
            print("  " + l.strip())
        longer = long_only(notes, 5)
        print("real-text sentences of 5 words or more (%d):" % len(longer))
        for l in run_eval(args.bin, longer, tmp, "real5"):
            print("  " + l.strip())
        print("mixed notes, 2 sentences of one language + 1 of another (%d):" % len(mixed))
        for l in run_eval(args.bin, mixed, tmp, "mixed"):
            print("  " + l.strip())


if __name__ == "__main__":
    main()

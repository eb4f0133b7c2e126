#!/usr/bin/env python3
"""Peer matchers for benches/compare: the same terms over the same notes, whole process.

Usage: peers.py TOOL TERMS.tsv CORPUS.jsonl [--limit-mb N]
TOOL: ahocorasick_rs | pyahocorasick | flashtext | presidio

Every tool reads the JSON Lines corpus, takes each note's `text` field (json.loads) and counts
matches; prints one JSON line: tool, records, text_bytes, corpus_bytes (bytes of input read),
matches_raw (what the tool reports) and matches_word (those with no letter/digit on either
side, Unicode-aware, i.e. art9's word rule; flashtext and presidio already apply their own).

Case: ahocorasick_rs and pyahocorasick have no case-insensitive mode, so terms and text are
lowercased with str.lower() (full Unicode lowercase, no diacritic folding); flashtext and
presidio are case-insensitive themselves. All use leftmost-longest, non-overlapping matching.
This file drives the peers; it is ours. The peers themselves are pip packages, never committed.
"""
import json
import sys


def load_terms(path):
    with open(path, encoding="utf-8") as f:
        next(f)
        return [line.split("\t")[0] for line in f if line.strip()]


def word_ok(text, s, e):
    return (s == 0 or not text[s - 1].isalnum()) and (e == len(text) or not text[e].isalnum())


def main():
    tool, terms_path, corpus_path = sys.argv[1:4]
    limit = None
    if "--limit-mb" in sys.argv:
        limit = float(sys.argv[sys.argv.index("--limit-mb") + 1]) * 1e6
    terms = load_terms(terms_path)
    lowered = sorted({t.lower() for t in terms})

    if tool == "ahocorasick_rs":
        import ahocorasick_rs as m

        ac = m.AhoCorasick(lowered, matchkind=m.MatchKind.LeftmostLongest)

        def find(text):
            low = text.lower()
            return [(s, e) for _, s, e in ac.find_matches_as_indexes(low)], low
    elif tool == "pyahocorasick":
        import ahocorasick

        a = ahocorasick.Automaton()
        for t in lowered:
            a.add_word(t, len(t))
        a.make_automaton()

        def find(text):
            low = text.lower()
            return [(end + 1 - n, end + 1) for end, n in a.iter_long(low)], low
    elif tool == "flashtext":
        from flashtext import KeywordProcessor

        kp = KeywordProcessor(case_sensitive=False)
        for t in terms:
            kp.add_keyword(t)

        def find(text):
            return [(s, e) for _, s, e in kp.extract_keywords(text, span_info=True)], text
    elif tool == "presidio":
        from presidio_analyzer import PatternRecognizer

        r = PatternRecognizer(supported_entity="ART9", deny_list=terms)

        def find(text):
            res = r.analyze(text, entities=["ART9"], nlp_artifacts=None)
            return [(x.start, x.end) for x in res], text
    else:
        sys.exit(f"unknown tool {tool}")

    records = text_bytes = corpus_bytes = raw = word = 0
    with open(corpus_path, "rb") as f:
        for line in f:
            corpus_bytes += len(line)
            text = json.loads(line)["text"]
            records += 1
            text_bytes += len(text.encode("utf-8"))
            spans, searched = find(text)
            raw += len(spans)
            word += sum(1 for s, e in spans if word_ok(searched, s, e))
            if limit is not None and corpus_bytes >= limit:
                break
    print(json.dumps({"tool": tool, "records": records, "text_bytes": text_bytes,
                      "corpus_bytes": corpus_bytes, "matches_raw": raw, "matches_word": word}))


if __name__ == "__main__":
    main()

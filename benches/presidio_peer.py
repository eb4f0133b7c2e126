"""Peer for benches/serve_bench.sh: Presidio analyzer with deny-list recognizers, in process.

Presidio needs a spaCy pipeline; its trained models are not on PyPI, so this uses a blank
spaCy English pipeline (tokenizer only, no NER): exactly the set-up a user who only wants
deny-list matching would run. One PatternRecognizer(deny_list=...) per category, built from
shared/bench/lexicon-terms.tsv (all languages; the notes are analysed as "en").

usage: python presidio_peer.py REQUESTS.jsonl LEXICON_TERMS.tsv [SECONDS]
prints: notes/s, notes analysed, findings
"""
import collections
import json
import sys
import tempfile
import time

import spacy
from presidio_analyzer import AnalyzerEngine, PatternRecognizer, RecognizerRegistry
from presidio_analyzer.nlp_engine import NlpEngineProvider

requests, terms_tsv = sys.argv[1], sys.argv[2]
seconds = float(sys.argv[3]) if len(sys.argv) > 3 else 20.0

terms = collections.defaultdict(set)
with open(terms_tsv, encoding="utf-8") as f:
    for line in f:
        if line.startswith("#") or not line.strip():
            continue
        cols = line.rstrip("\n").split("\t")
        if len(cols) >= 3 and cols[0] != "term":
            terms[cols[2]].add(cols[0])

model_dir = tempfile.mkdtemp()
spacy.blank("en").to_disk(model_dir)
nlp = NlpEngineProvider(
    nlp_configuration={"nlp_engine_name": "spacy", "models": [{"lang_code": "en", "model_name": model_dir}]}
).create_engine()
registry = RecognizerRegistry()
for category, words in sorted(terms.items()):
    registry.add_recognizer(
        PatternRecognizer(supported_entity=category.upper(), deny_list=sorted(words), supported_language="en")
    )
analyzer = AnalyzerEngine(nlp_engine=nlp, registry=registry, supported_languages=["en"])

notes = [json.loads(l)["text"] for l in open(requests, encoding="utf-8")]
for n in notes[:50]:  # warm-up
    analyzer.analyze(text=n, language="en")
done = findings = 0
start = time.perf_counter()
while time.perf_counter() - start < seconds:
    for n in notes[done % len(notes):][:100]:
        findings += len(analyzer.analyze(text=n, language="en"))
        done += 1
elapsed = time.perf_counter() - start
print(f"{done / elapsed:.0f} notes/s ({done} notes in {elapsed:.1f}s, {findings} findings, "
      f"{sum(len(v) for v in terms.values())} deny-list terms)")

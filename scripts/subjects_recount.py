#!/usr/bin/env python3
"""Recount art9's per-subject roll-up from the input and the findings, independently.

    art9 scan IN.jsonl --field F --key K --subject S --format jsonl --subjects-out subj.jsonl > findings.jsonl
    scripts/subjects_recount.py IN.jsonl findings.jsonl subj.jsonl --key K --subject S [--field F] [--subject-id ID]

Every subject with findings (and the --subject-id one) must be reported, with every column
equal to the recount: records_scanned, records_with_findings, findings per category, the
keys of the records with findings (input order) and the fields. Prints the number of subjects
compared and the mismatches; exit 1 on any.
"""
import argparse
import json
import sys
from collections import defaultdict


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("input")
    ap.add_argument("findings")
    ap.add_argument("subjects")
    ap.add_argument("--key", required=True)
    ap.add_argument("--subject", required=True)
    ap.add_argument("--subject-id")
    a = ap.parse_args()

    found = defaultdict(list)  # record key -> [(field, category)]
    with open(a.findings, encoding="utf-8") as f:
        for line in f:
            v = json.loads(line)
            found[v["record"]].append((v["field"], v["category"]))

    expect = {}
    if a.subject_id is not None:
        expect[a.subject_id] = None
    entries = defaultdict(lambda: {"records_scanned": 0, "records_with_findings": 0,
                                   "findings": defaultdict(int), "records": [], "fields": set()})
    with open(a.input, encoding="utf-8") as f:
        for line in f:
            r = json.loads(line)
            subject, key = r.get(a.subject), str(r[a.key])
            if a.subject_id is not None and subject != a.subject_id:
                continue
            e = entries[subject]
            e["records_scanned"] += 1
            if key in found:
                e["records_with_findings"] += 1
                e["records"].append(key)
                for field, cat in found[key]:
                    e["fields"].add(field)
                    e["findings"][cat] += 1
    for s, e in entries.items():
        if e["records_with_findings"] or s == a.subject_id:
            expect[s] = e
    if a.subject_id is not None and expect[a.subject_id] is None:
        expect[a.subject_id] = entries[a.subject_id]

    got = {}
    with open(a.subjects, encoding="utf-8") as f:
        for line in f:
            v = json.loads(line)
            got[v["subject"]] = v

    bad = 0
    for s in sorted(set(expect) | set(got), key=str):
        e, g = expect.get(s), got.get(s)
        if e is None or g is None:
            bad += 1
            print(f"subject {s}: {'not reported' if g is None else 'reported without findings'}")
            continue
        mine = {"records_scanned": e["records_scanned"],
                "records_with_findings": e["records_with_findings"],
                "findings": dict(e["findings"]), "records": e["records"],
                "fields": sorted(e["fields"])}
        theirs = {k: g[k] for k in mine}
        theirs["fields"] = sorted(theirs["fields"])
        if mine != theirs:
            bad += 1
            if bad <= 10:
                diff = {k: (theirs[k], mine[k]) for k in mine if mine[k] != theirs[k]}
                print(f"subject {s}: (art9, recount) {diff}")
    print(f"{len(expect)} subjects compared, {bad} differ")
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()

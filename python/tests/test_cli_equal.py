"""The wheel finds exactly what `art9 scan` finds: per text (scan) and per Arrow table
(scan_arrow), with and without a policy, on the dev corpora (../shared) and the fixtures."""

import json

import pyarrow as pa
import pytest

import art9
from conftest import REPO, cli_findings, read_jsonl

KEYS = [
    "category", "data_category", "lang", "note_lang", "start", "end", "char_start", "char_end", "likelihood",
    "evasion",
]


def by_wheel_scan(scanner, records, field, key, policy=False):
    out = []
    for r in records:
        text = r.get(field)
        if text is None:
            continue
        for f in scanner.scan(text, field=field):
            d = {"record": str(r[key]), "field": field, **{k: getattr(f, k) for k in KEYS}}
            if policy:
                d["action"] = f.action
            out.append(d)
    return out


def by_wheel_arrow(scanner, records, field, key, policy=False):
    table = pa.Table.from_pylist(records)
    rows = scanner.scan_arrow(table, [field], key).to_pylist()
    keep = ["record", "field", *KEYS] + (["action"] if policy else [])
    return [{k: r[k] for k in keep} for r in rows]


def from_cli(rows, policy=False):
    keep = ["record", "field", *KEYS] + (["action"] if policy else [])
    return [{k: r.get(k) for k in keep} for r in rows]


def corpora(shared=None):
    files = [(REPO / "examples" / "crm-notes.jsonl", "note", "id")]
    if shared is not None:
        files += [(shared / "corpus" / name, "text", "id") for name in ("dev.jsonl", "dev2.jsonl")]
    return files


def check_equal(cli, path, field, key, policy, min_likelihood=None):
    records = read_jsonl(path)
    args = ["--field", field, "--key", key] + (["--policy", policy] if policy else [])
    if min_likelihood is not None:
        args += ["--min-likelihood", min_likelihood]
    want = from_cli(cli_findings(cli, path, *args), bool(policy))
    scanner = art9.Scanner(policy=policy, min_likelihood=min_likelihood)
    assert len(want) > 0
    assert by_wheel_scan(scanner, records, field, key, bool(policy)) == want
    assert by_wheel_arrow(scanner, records, field, key, bool(policy)) == want


@pytest.mark.parametrize("policy", [None, "strict"])
def test_fixture_notes_equal_the_cli(cli, policy):
    for path, field, key in corpora():
        check_equal(cli, path, field, key, policy)


@pytest.mark.parametrize("policy", [None, "default"])
def test_dev_corpora_equal_the_cli(cli, shared, policy):
    for path, field, key in corpora(shared)[1:]:
        check_equal(cli, path, field, key, policy)


@pytest.mark.parametrize("policy", [None, "strict"])
@pytest.mark.parametrize("least", ["all", "unlikely", "likely", "very_likely"])
def test_min_likelihood_equals_the_cli(cli, shared, policy, least):
    """``Scanner(min_likelihood=...)`` keeps what ``--min-likelihood`` keeps, with and without
    a policy (whose own thresholds it replaces)."""
    for path, field, key in corpora(shared):
        check_equal(cli, path, field, key, policy, least)


def test_min_likelihood_changes_what_is_reported(shared):
    path = shared / "corpus" / "dev.jsonl"
    texts = [r["text"] for r in read_jsonl(path)]
    counts = {
        least: sum(len(art9.Scanner(min_likelihood=least).scan(t)) for t in texts)
        for least in ("all", None, "very_likely")
    }
    # The corpus has findings below `possible` and some below `very_likely`: the three differ.
    assert counts["all"] > counts[None] > counts["very_likely"] > 0, counts
    assert art9.Scanner(min_likelihood="all").min_likelihood == "very_unlikely"
    assert art9.Scanner().min_likelihood is None
    with pytest.raises(art9.LoadError, match="min_likelihood: unknown likelihood \"maybe\""):
        art9.Scanner(min_likelihood="maybe")
    with pytest.raises(TypeError):
        art9.Scanner(min_likelihood=3)
    # check and mask apply it too: a finding below the threshold is not masked.
    low = art9.Scanner(min_likelihood="all")
    high = art9.Scanner(min_likelihood="very_likely")
    for t in texts:
        lows = low.check(t).findings
        highs = high.check(t).findings
        assert len(lows) >= len(highs)
        assert [f.likelihood for f in highs if f.likelihood != "very_likely"] == []


def test_include_text_equals_the_cli(cli, shared):
    path = shared / "corpus" / "dev.jsonl"
    want = cli_findings(cli, path, "--field", "text", "--key", "id", "--include-text")
    got = art9.Scanner().scan_arrow(pa.Table.from_pylist(read_jsonl(path)), "text", "id", include_text=True)
    assert [(r["text"], r["entry"]) for r in got.to_pylist()] == [(w["text"], w["entry"]) for w in want]


def test_several_fields_come_in_cli_order(cli, tmp_path):
    records = [
        {"id": i, "a": r["note"], "b": list(reversed(read_jsonl(REPO / "examples" / "crm-notes.jsonl")))[i]["note"]}
        for i, r in enumerate(read_jsonl(REPO / "examples" / "crm-notes.jsonl"))
    ]
    path = tmp_path / "two.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    want = from_cli(cli_findings(cli, path, "--field", "a", "--field", "b", "--key", "id"))
    rows = art9.Scanner().scan_arrow(pa.Table.from_pylist(records), ["a", "b"], "id").to_pylist()
    assert [{k: r[k] for k in ["record", "field", *KEYS]} for r in rows] == want


def test_when_rules_read_context_columns_like_the_cli(cli, tmp_path):
    policy = tmp_path / "consent.yaml"
    policy.write_text(
        "default: {action: mask}\n"
        "when:\n"
        "  - column: consent_health\n"
        "    equals: [\"yes\"]\n"
        "    categories: [health]\n"
        "    action: flag\n"
        "  - column: segment\n"
        "    equals: [\"B2B\"]\n"
        "    action: allow\n"
    )
    notes = read_jsonl(REPO / "examples" / "crm-notes.jsonl")
    records = [
        {**r, "consent_health": ["no", "yes", None][i % 3], "segment": ["B2B", "B2C"][i % 2]}
        for i, r in enumerate(notes)
    ]
    path = tmp_path / "ctx.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    want = from_cli(cli_findings(cli, path, "--field", "note", "--key", "id", "--policy", str(policy)), True)
    assert {w["action"] for w in want} == {"flag", "mask", "allow"}
    scanner = art9.Scanner(policy=policy)
    table = pa.Table.from_pylist(records)
    # The policy's columns come along by themselves, as in the CLI ...
    assert by_wheel_arrow(scanner, records, "note", "id", True) == want
    # ... and check() takes them as context.
    got = []
    for r in records:
        d = scanner.check({"note": r["note"]}, context={"consent_health": r["consent_health"], "segment": r["segment"]})
        got += [{"record": r["id"], "field": "note", **{k: getattr(f, k) for k in KEYS}, "action": f.action}
                for f in d.findings]
    assert got == want
    rows = scanner.scan_arrow(table, ["note"], "id", context_columns=["segment"]).to_pylist()
    assert [r["action"] for r in rows] == [w["action"] for w in want]
    with pytest.raises(art9.InputError, match='context column "nope" is not in the input'):
        scanner.scan_arrow(table, ["note"], "id", context_columns=["nope"])


def test_typos_and_evasion_lanes_equal_the_cli(cli, tmp_path):
    records = read_jsonl(REPO / "examples" / "crm-notes.jsonl")
    records += [
        {"id": "t1", "note": "Klant heeft diabetis en astma."},
        {"id": "t2", "note": "Hij heeft d i a b e t e s, zegt hij."},
        {"id": "t3", "note": "Patiënt met kаnker (Cyrillic a)."},
    ]
    path = tmp_path / "typos.jsonl"
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8")
    for typos in (False, True):
        args = ["--field", "note", "--key", "id"] + (["--typos"] if typos else [])
        want = [{k: w.get(k) for k in ["record", "field", *KEYS]} for w in cli_findings(cli, path, *args)]
        rows = art9.Scanner(typos=typos).scan_arrow(pa.Table.from_pylist(records), ["note"], "id").to_pylist()
        assert [{k: r[k] for k in ["record", "field", *KEYS]} for r in rows] == want
        assert {"spaced", "homoglyph"} <= {w["evasion"] for w in want}

"""The Python API: scan/check/mask, caching, errors, privacy of the output."""

import json
import threading

import pytest

import art9
from conftest import REPO, run_cli

NOTE = "Klant heeft diabetes, bel volgende week. Hij stemt PVV."


def test_scan_gives_the_cli_finding_model():
    fs = art9.Scanner().scan(NOTE)
    assert [(f.category, f.lang, NOTE[f.char_start:f.char_end]) for f in fs] == [
        ("health", "nl", "diabetes"),
        ("politics", "nl", "PVV"),
    ]
    d = fs[0].to_dict()
    assert d == {"category": "health", "data_category": "user.health", "lang": "nl", "note_lang": "nl", "likelihood": "likely",
                 "start": 12, "end": 20, "char_start": 12, "char_end": 20}


def test_byte_and_char_offsets_differ_after_non_ascii():
    text = "Zoë’s moeder: kankerpatiënt sinds 2019"
    (f,) = art9.Scanner().scan(text)
    raw = text.encode("utf-8")
    assert raw[f.start:f.end].decode("utf-8") == text[f.char_start:f.char_end]
    assert f.start != f.char_start


def test_scanner_is_cached_per_configuration():
    assert art9.Scanner() is art9.Scanner()
    assert art9.Scanner(lang="nl,da") is art9.Scanner(lang=["nl", "da"])
    assert art9.Scanner(lang="nl") is not art9.Scanner()
    assert art9.Scanner(policy="strict") is not art9.Scanner(policy="default")


def test_lang_and_category_restrict_like_the_cli():
    # Each note in one language: a Dutch party in an English note is graded below the
    # default threshold (language disagreement), by the CLI and the package alike.
    assert {f.lang for f in art9.Scanner(lang="en").scan("The customer has cancer and stemt PVV")} == {"en"}
    text = "De klant stemt PVV en heeft kanker"
    assert {f.category for f in art9.Scanner(categories=["politics"]).scan(text)} == {"politics"}
    assert {f.category for f in art9.Scanner().scan(text)} == {"politics", "health"}


def test_policy_adds_actions_and_check_masks():
    s = art9.Scanner(policy="strict")
    assert s.policy == "strict"
    assert all(f.action is not None for f in s.scan(NOTE))
    d = art9.Scanner().check(NOTE)
    assert d.decision == "mask" and d.policy == "default"
    assert [f.action for f in d.findings] == ["mask", "mask"]
    assert d.text == art9.Scanner().mask(NOTE)
    assert "diabetes" not in d.text


def test_check_matches_check_stdio(cli):
    notes = [NOTE, "Geen bijzonderheden.", "Hun søn er sygemeldt med stress", "She is a devout Muslim"]
    reqs = "".join(json.dumps({"text": n, "policy": p}) + "\n" for n in notes for p in ("default", "strict"))
    out = run_cli(cli, "check", "--stdio", stdin=reqs.encode()).stdout.decode().splitlines()
    s = art9.Scanner()
    for line, (n, p) in zip(out, [(n, p) for n in notes for p in ("default", "strict")]):
        want = json.loads(line)
        got = s.check(n, policy=p)
        assert got.decision == want["decision"]
        assert got.text == want["text"]
        assert [f.to_dict() for f in got.findings] == want.get("findings", [])


def test_fields_requests_apply_per_field_rules():
    s = art9.Scanner()
    d = s.check({"notes": "stemt PVV", "summary": "Terugbellen"}, policy="strict")
    assert d.fields["summary"] == "Terugbellen"
    assert [f.field for f in d.findings] == ["notes"]
    assert s.mask({"notes": "Klant heeft diabetes."}) == {"notes": "Klant heeft [HEALTH]."}
    assert s.mask("Klant heeft diabetes.", field="notes") == "Klant heeft [HEALTH]."


def test_scan_mask_scan_finds_nothing_masked():
    s = art9.Scanner()
    for note in [NOTE, "Dhr. ligt in het ziekenhuis (kanker), lid van de FNV."]:
        assert s.scan(s.mask(note)) == []


def test_errors_are_one_line_and_typed():
    with pytest.raises(art9.LoadError, match=r'^unknown language "xx" \(expected nl, da or en\)$'):
        art9.Scanner(lang="xx")
    with pytest.raises(art9.LoadError, match="unknown category"):
        art9.Scanner(categories="weather")
    with pytest.raises(art9.RequestError, match="^unknown policy; available: "):
        art9.Scanner().check("x", policy="nope")
    with pytest.raises(art9.LoadError, match="no such file"):
        art9.Scanner(policy="/nonexistent/policy.yaml")
    with pytest.raises(TypeError):
        art9.Scanner().check(42)
    assert issubclass(art9.InputError, art9.Art9Error)


def test_broken_lexicon_names_file_and_line_like_the_cli(tmp_path, cli):
    bad = tmp_path / "nl" / "health.yaml"
    bad.parent.mkdir()
    bad.write_text("lang: nl\ncategory: health\nentries:\n  - id: x\n    terms: [ziekte]\n    bogus: 1\n")
    with pytest.raises(art9.LoadError) as e:
        art9.Scanner(lexicons=bad)
    msg = str(e.value)
    assert "\n" not in msg and str(bad) in msg
    proc = __import__("subprocess").run([cli, "scan", "-", "--lexicon", str(bad)], input=b"", capture_output=True)
    assert proc.returncode == 2
    assert msg in proc.stderr.decode()


def test_custom_lexicon_and_no_builtin():
    lex = REPO / "tests" / "data" / "lexicons" / "engine-health.yaml"
    s = art9.Scanner(lexicons=lex, no_builtin=True)
    assert s is art9.Scanner(lexicons=[str(lex)], no_builtin=True)
    assert s.scan("no special data here") == []


def test_matched_text_only_when_asked():
    canary = "Klant heeft diabetes"
    s = art9.Scanner()
    (f,) = s.scan(canary)
    assert f.text is None and f.entry is None
    assert "diabetes" not in repr(f) and "diabetes" not in repr(s.check(canary))
    assert "diabetes" not in json.dumps(f.to_dict())
    (g,) = s.scan(canary, include_text=True)
    assert g.text == "diabetes" and g.entry.startswith("nl.health.")


def test_threads_share_one_scanner():
    s = art9.Scanner()
    want = s.scan(NOTE)
    results = []

    def work():
        results.append(all(s.scan(NOTE) == want for _ in range(200)))

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [True] * 4

"""scan_arrow: the Arrow input a data team has (nulls, other column types, empty batches,
10 MB notes, tables of several batches) and the GIL released while scanning."""

import threading
import time

import pyarrow as pa
import pytest

import art9
from conftest import cli_findings

S = art9.Scanner()
NOTES = ["Klant heeft diabetes.", None, "", "Geen bijzonderheden.", "Hun søn er sygemeldt med stress"]


def simple(rows):
    return [(r["record"], r["row"], r["field"], r["category"], r["start"], r["end"]) for r in rows]


def test_columns_and_types_are_fixed():
    out = S.scan_arrow(pa.table({"id": ["a"], "t": ["geen"]}), ["t"], "id")
    assert out.num_rows == 0
    assert out.schema.names == list(art9.FINDINGS_COLUMNS)
    assert out.schema.field("start").type == pa.int64()
    assert out.schema.field("record").type == pa.string()


def test_nulls_are_empty_notes_and_null_keys_stay_null():
    t = pa.table({"id": pa.array([1, 2, None, 4, 5], pa.int64()), "note": NOTES,
                  "cust": ["c1", None, "c1", "c2", "c3"]})
    rows = S.scan_arrow(t, ["note"], "id", "cust").to_pylist()
    want = [(k, i, c, f.category)
            for i, (k, n, c) in enumerate(zip(["1", "2", None, "4", "5"], NOTES, ["c1", None, "c1", "c2", "c3"]))
            for f in (S.scan(n) if n else [])]
    assert [(r["record"], r["row"], r["subject"], r["category"]) for r in rows] == want
    assert [r[0] for r in want] == ["1", "5", "5"]
    t2 = pa.table({"id": [None, None], "note": ["heeft diabetes", None]})
    assert [r["record"] for r in S.scan_arrow(t2, "note", "id").to_pylist()] == [None]


def test_keys_of_other_types_are_cast_to_strings():
    for keys in (pa.array([7, 8], pa.int32()), pa.array([1.5, 2.0]), pa.array(["x", "y"]).dictionary_encode(),
                 pa.array(["x", "y"], pa.large_string())):
        t = pa.table({"k": keys, "note": ["heeft diabetes", "heeft kanker"]})
        assert [r["record"] for r in S.scan_arrow(t, "note", "k").to_pylist()] == [str(v) for v in keys.to_pylist()]


def test_string_kinds_of_text_columns_give_the_same_findings():
    base = pa.array(NOTES * 3)
    want = simple(S.scan_arrow(pa.table({"note": base}), "note").to_pylist())
    assert len(want) == 9
    for arr in (base.cast(pa.large_string()), base.cast(pa.string_view()), base.dictionary_encode()):
        assert simple(S.scan_arrow(pa.table({"note": arr}), "note").to_pylist()) == want


def test_non_string_text_columns_and_missing_columns_are_clear_errors():
    t = pa.table({"id": [1], "amount": [3.5], "note": ["x"]})
    with pytest.raises(art9.InputError, match=r'^text column "amount" is of type Float64, not a string column'):
        S.scan_arrow(t, ["note", "amount"], "id")
    with pytest.raises(art9.InputError, match=r'^key column "nope" is not in the input; its columns are: id, amount, note$'):
        S.scan_arrow(t, ["note"], "nope")
    with pytest.raises(art9.InputError, match="empty"):
        S.scan_arrow(t, [], "id")
    with pytest.raises(art9.InputError, match=r"^key column \"k\" is of type List.*; a key, subject or context column must be a string, a number, a boolean or a date$"):
        S.scan_arrow(pa.table({"k": [[1]], "note": ["x"]}), "note", "k")
    with pytest.raises(TypeError):
        S.scan_arrow({"note": ["x"]}, "note")


def test_all_null_columns():
    t = pa.Table.from_pylist([{"id": None, "note": None}, {"id": None, "note": None}])
    assert t.schema.field("note").type == pa.null()
    assert S.scan_arrow(t, "note", "id").num_rows == 0


def test_empty_batches_and_tables():
    schema = pa.schema([("id", pa.string()), ("note", pa.string())])
    assert S.scan_arrow(pa.RecordBatch.from_pylist([], schema=schema), "note", "id").num_rows == 0
    assert S.scan_arrow(schema.empty_table(), "note", "id").num_rows == 0
    t = pa.Table.from_batches([], schema=schema)
    assert S.scan_arrow(t, "note", "id").num_rows == 0


def test_table_of_several_batches_numbers_rows_across_them():
    b1 = pa.RecordBatch.from_pylist([{"id": "a", "note": "heeft diabetes"}, {"id": "b", "note": "geen"}])
    b2 = pa.RecordBatch.from_pylist([{"id": "c", "note": "geen"}, {"id": "d", "note": "stemt PVV"}])
    rows = S.scan_arrow(pa.Table.from_batches([b1, pa.RecordBatch.from_pylist([], schema=b1.schema), b2]),
                        "note", "id").to_pylist()
    assert [(r["record"], r["row"]) for r in rows] == [("a", 0), ("d", 3)]


def test_ten_megabyte_note_equals_the_cli(cli, tmp_path):
    chunk = "Klant belde over de levering. Mevr. heeft diabetes en ligt in het ziekenhuis. Zoë’s zoon is lid van de FNV. "
    note = (chunk * (10_000_000 // len(chunk.encode("utf-8")) + 1))
    assert len(note.encode("utf-8")) > 10_000_000
    path = tmp_path / "big.jsonl"
    import json
    path.write_text(json.dumps({"id": "big", "note": note}, ensure_ascii=False) + "\n", encoding="utf-8")
    want = cli_findings(cli, path, "--field", "note", "--key", "id", "--max-field-bytes", "0", "--max-record-bytes", "0")
    rows = S.scan_arrow(pa.table({"id": ["big"], "note": [note]}), "note", "id").to_pylist()
    keys = ["record", "field", "category", "lang", "start", "end", "char_start", "char_end"]
    assert len(rows) > 100_000
    assert [{k: r[k] for k in keys} for r in rows] == [{k: w[k] for k in keys} for w in want]
    raw = note.encode("utf-8")
    last = rows[-1]
    assert raw[last["start"]:last["end"]].decode() == note[last["char_start"]:last["char_end"]]


def test_the_gil_is_released_while_scanning():
    note = "Klant belde over de levering, monteur komt dinsdag. Mevr. heeft diabetes. " * 20_000
    t = pa.table({"note": [note] * 8})
    start = time.perf_counter()
    S.scan_arrow(t, "note")
    alone = time.perf_counter() - start
    gaps = []
    done = threading.Event()
    worker = threading.Thread(target=lambda: (S.scan_arrow(t, "note"), done.set()))
    last = time.perf_counter()
    worker.start()
    while not done.is_set():
        now = time.perf_counter()
        gaps.append(now - last)
        last = now
        time.sleep(0.001)
    worker.join()
    # Held GIL: this loop would stall for the whole scan (one gap ~ `alone`); released: it
    # keeps ticking every few milliseconds.
    assert alone > 0.05, "the scan is too short to tell"
    assert max(gaps) < alone / 2, (max(gaps), alone)
    assert len(gaps) > 5

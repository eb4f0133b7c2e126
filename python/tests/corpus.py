"""A deterministic generated corpus for the Spark tests and benchmarks, made from the notes
in examples/crm-notes.jsonl (no ../shared needed): records with an id, a customer (the data
subject, sometimes null), a note (sometimes null or empty, sometimes joined from several
example notes, with non-ASCII names) and a subject line."""

import json
import random
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
NAMES = ["Zoë van Dijk", "Søren Østergaard", "Chloë Visser", "Jan de Vries", "Åse Holm", "Noël Smit"]


def notes():
    with open(REPO / "examples" / "crm-notes.jsonl", encoding="utf-8") as f:
        return [json.loads(line)["note"] for line in f if line.strip()]


def records(n, seed=1):
    rng = random.Random(seed)
    pool = notes()
    out = []
    for i in range(n):
        r = rng.random()
        if r < 0.03:
            note = None
        elif r < 0.05:
            note = ""
        else:
            parts = rng.sample(pool, rng.choice([1, 1, 1, 2, 3]))
            note = f"{rng.choice(NAMES)}: " + " ".join(parts)
        out.append({
            "id": f"R-{i:06d}",
            "customer_id": None if rng.random() < 0.02 else f"C{rng.randrange(n // 4 + 1):05d}",
            "note": note,
            "subject": rng.choice(["Terugbellen", "Levering", "Opfølgning", "Follow-up"]),
        })
    return out


def write_jsonl(path, rows):
    with open(path, "w", encoding="utf-8") as f:
        for r in rows:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")

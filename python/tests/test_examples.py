"""The plain-Python example runs and finds what the CLI finds."""

import subprocess
import sys

from conftest import REPO, cli_findings


def test_scan_table_example(cli):
    notes = REPO / "examples" / "crm-notes.jsonl"
    out = subprocess.run(
        [sys.executable, str(REPO / "python" / "examples" / "scan_table.py"), str(notes), "note", "id",
         "customer_id", "--threads", "2"],
        capture_output=True, text=True, timeout=300, check=True,
    ).stdout
    want = cli_findings(cli, notes, "--field", "note", "--key", "id")
    assert f"20 records, {len(want)} findings:" in out
    # Offsets only: the example prints no note text.
    assert "diabetes" not in out

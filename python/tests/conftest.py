"""Shared fixtures: the CLI to compare with, the corpora, and the CI rule that a missing piece
is a failure there (CI=true) and a visible skip elsewhere."""

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SHARED = REPO.parent / "shared"
IN_CI = os.environ.get("CI") == "true"


def missing(why: str) -> None:
    """Skip with the reason printed, or fail in CI where nothing may be missing."""
    if IN_CI:
        pytest.fail(f"CI=true but {why}")
    pytest.skip(why)


def cli_path():
    explicit = os.environ.get("ART9_BIN")
    if explicit:
        return explicit
    for profile in ("debug", "release"):
        p = REPO / "target" / profile / "art9"
        if p.exists():
            return str(p)
    return shutil.which("art9")


@pytest.fixture(scope="session")
def cli():
    path = cli_path()
    if not path:
        missing("no art9 binary (cargo build, or set ART9_BIN)")
    return path


def run_cli(cli, *args, stdin=None):
    """Run the CLI; exit 0 (no findings) and 1 (findings) are success."""
    proc = subprocess.run(
        [cli, *args], input=stdin, capture_output=True, timeout=600
    )
    assert proc.returncode in (0, 1), proc.stderr.decode("utf-8", "replace")
    return proc


def cli_findings(cli, path, *args):
    """`art9 scan PATH --format jsonl ARGS` as a list of dicts."""
    out = run_cli(cli, "scan", str(path), "--format", "jsonl", "-q", *args).stdout
    return [json.loads(line) for line in out.decode("utf-8").splitlines()]


def read_jsonl(path):
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


@pytest.fixture(scope="session")
def shared():
    if not (SHARED / "corpus" / "dev.jsonl").exists():
        missing(f"{SHARED} is missing (the dev corpora live there)")
    return SHARED

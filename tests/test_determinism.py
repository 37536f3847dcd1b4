"""Determinism: the same raw data gives byte-identical processed files (also in a fresh process)."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from genomlysning import clean, paths, synth

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture
def project(tmp_project: Path) -> Path:
    """A throw-away project with a dirty synthetic municipality and the hand-made file."""
    tmp_path = tmp_project
    spec = replace(synth.demo_spec("norrvik"), volym=400)
    synth.write_kommun(spec, 11, 0.1, raw_root=tmp_path / "data" / "raw", params_root=tmp_path / "params")
    hand = tmp_path / "data" / "raw" / "hand"
    hand.mkdir(parents=True)
    (hand / "handgjord.csv").write_bytes((FIXTURES / "handgjord.csv").read_bytes())
    (tmp_path / "params" / "hand.yaml").write_text(
        "kommun: hand\nsynthetic: true\ninput: data/raw/hand/handgjord.csv\nperiod_slut: 2024-12-31\n",
        encoding="utf-8")
    return tmp_path


def _snapshot(kommun: str) -> dict[str, bytes]:
    folder = paths.processed_dir(kommun)
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


@pytest.mark.parametrize("kommun", ["norrvik", "hand"])
def test_two_runs_give_byte_identical_files(project: Path, kommun: str) -> None:
    clean.run_cleaning(kommun)
    first = _snapshot(kommun)
    assert set(first) == set(clean.PROCESSED_FILES.values())
    clean.run_cleaning(kommun)
    assert _snapshot(kommun) == first


def test_fresh_process_with_other_hash_seed_gives_the_same_bytes(project: Path) -> None:
    clean.run_cleaning("norrvik")
    first = _snapshot("norrvik")
    for f in paths.processed_dir("norrvik").iterdir():
        f.unlink()
    env = {**os.environ, "GENOMLYSNING_ROOT": str(project), "PYTHONHASHSEED": "12345"}
    subprocess.run([sys.executable, "-m", "genomlysning.cli", "prepare", "--kommun", "norrvik"], env=env,
                   check=True, capture_output=True)
    assert _snapshot("norrvik") == first


def test_outputs_hold_no_absolute_paths_or_timestamps(project: Path) -> None:
    clean.run_cleaning("hand")
    for name, data in _snapshot("hand").items():
        if name.endswith((".csv", ".json")):
            text = data.decode("utf-8")
            assert str(project) not in text and "/tmp" not in text, name
            assert "T0" not in text and ":00:" not in text, name

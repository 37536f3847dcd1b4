"""Shared fixtures."""

from __future__ import annotations

from pathlib import Path

import pytest

from genomlysning import paths


@pytest.fixture
def tmp_project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A throw-away project root: data/raw, data/processed, params and reports under tmp_path."""
    monkeypatch.setattr(paths, "PROJECT_ROOT", tmp_path)
    monkeypatch.setattr(paths, "DATA_RAW", tmp_path / "data" / "raw")
    monkeypatch.setattr(paths, "DATA_PROCESSED", tmp_path / "data" / "processed")
    monkeypatch.setattr(paths, "PARAMS_DIR", tmp_path / "params")
    monkeypatch.setattr(paths, "REPORTS_DIR", tmp_path / "reports")
    (tmp_path / "params").mkdir()
    return tmp_path

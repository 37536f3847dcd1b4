"""Shared fixtures."""

from __future__ import annotations

from pathlib import Path

import pytest

from genomlysning import paths


def point_paths(mp: pytest.MonkeyPatch, root: Path) -> Path:
    """Point the project's folders (data/raw, data/processed, params, reports) at ``root``."""
    mp.setattr(paths, "PROJECT_ROOT", root)
    mp.setattr(paths, "DATA_RAW", root / "data" / "raw")
    mp.setattr(paths, "DATA_PROCESSED", root / "data" / "processed")
    mp.setattr(paths, "PARAMS_DIR", root / "params")
    mp.setattr(paths, "REPORTS_DIR", root / "reports")
    (root / "params").mkdir(exist_ok=True)
    return root


@pytest.fixture
def tmp_project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A throw-away project root: data/raw, data/processed, params and reports under tmp_path."""
    return point_paths(monkeypatch, tmp_path)

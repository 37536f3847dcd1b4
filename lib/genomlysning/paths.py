"""Project paths, anchored on the package location (never on the current directory)."""

from __future__ import annotations

import os
from pathlib import Path

#: The repository root: lib/genomlysning/paths.py -> ../../
PROJECT_ROOT: Path = Path(
    os.environ.get("GENOMLYSNING_ROOT", Path(__file__).resolve().parents[2])
).resolve()
DATA_RAW: Path = PROJECT_ROOT / "data" / "raw"
DATA_PROCESSED: Path = PROJECT_ROOT / "data" / "processed"
PARAMS_DIR: Path = PROJECT_ROOT / "params"
NOTEBOOKS_DIR: Path = PROJECT_ROOT / "notebooks"
REPORTS_DIR: Path = PROJECT_ROOT / "reports"


def raw_dir(kommun: str) -> Path:
    """Folder of one municipality's raw data (never in git)."""
    return DATA_RAW / kommun


def processed_dir(kommun: str) -> Path:
    """Folder of one municipality's clean data (no identifiers; never in git)."""
    return DATA_PROCESSED / kommun


def report_dir(kommun: str) -> Path:
    """Folder of one municipality's reports (executed notebooks, figures, tables)."""
    return REPORTS_DIR / kommun


def params_file(kommun: str) -> Path:
    """The municipality's params YAML."""
    return PARAMS_DIR / f"{kommun}.yaml"


def resolve(path: str | os.PathLike[str]) -> Path:
    """Resolve a path from a params file or notebook parameter against the project root."""
    p = Path(path)
    return p if p.is_absolute() else PROJECT_ROOT / p


def relative(path: str | os.PathLike[str]) -> str:
    """Return ``path`` relative to the project root when inside it (for outputs: no abs paths)."""
    p = Path(path).resolve()
    try:
        return p.relative_to(PROJECT_ROOT).as_posix()
    except ValueError:
        return p.name

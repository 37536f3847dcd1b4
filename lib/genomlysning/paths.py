"""Project paths, anchored on the package location (never on the current directory).

A municipality name becomes a folder under ``data/`` and ``reports/`` and a file under ``params/``,
so it must be a safe slug (:func:`check_kommun`: lower-case a-z, digits, ``_`` and ``-``); every
folder function below refuses any other name. :func:`check_inside` refuses a path that resolves
(symlinks followed) outside the project, or outside ``data/raw/`` where that folder is a link to
another disk.
"""

from __future__ import annotations

import os
import re
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

#: A safe municipality name: it is a folder and file name, so no separators, dots or spaces.
KOMMUN_PATTERN = re.compile(r"[a-z0-9][a-z0-9_-]{0,62}")


class PathError(ValueError):
    """A municipality name that is not a safe slug, or a path outside the project."""


def check_kommun(kommun: object, lang: str = "sv") -> str:
    """``kommun`` when it is a safe slug (see :data:`KOMMUN_PATTERN`); PathError otherwise."""
    text = str(kommun)
    if KOMMUN_PATTERN.fullmatch(text):
        return text
    from genomlysning import personnummer

    shown = repr(personnummer.mask(text)[:70])
    if lang == "en":
        raise PathError(f"the municipality name {shown} is not allowed: it becomes a folder name under "
                        "data/ and reports/, so it may only contain a-z, 0-9, _ and - (starting with a "
                        "letter or digit, at most 63 characters), e.g. sjohamn or storstad_oster")
    raise PathError(f"kommunnamnet {shown} är inte tillåtet: det blir ett mappnamn under data/ och "
                    "reports/, så det får bara innehålla a-z, 0-9, _ och - (börja med en bokstav eller "
                    "siffra, högst 63 tecken), t.ex. sjohamn eller storstad_oster")


def check_inside(path: str | os.PathLike[str], what: str = "input", lang: str = "sv") -> Path:
    """``path`` resolved (symlinks followed) when it lies inside the project or inside the resolved
    ``data/raw/`` (which may be a link to an encrypted disk); PathError otherwise."""
    resolved = resolve(path).resolve()
    for base in (PROJECT_ROOT.resolve(), DATA_RAW.resolve()):
        if resolved == base or base in resolved.parents:
            return resolved
    from genomlysning import personnummer

    shown = repr(personnummer.mask(Path(path).name))
    if lang == "en":
        raise PathError(f"{what} {shown} points outside the project folder (links followed); put the "
                        "file under data/raw/<kommun>/ and name it relative to the project folder, e.g. "
                        "data/raw/minkommun/aktualiseringar.xlsx")
    raise PathError(f"{what} {shown} pekar utanför projektmappen (efter att länkar följts); lägg filen "
                    "under data/raw/<kommun>/ och ange den relativt projektmappen, t.ex. "
                    "data/raw/minkommun/aktualiseringar.xlsx")


def raw_dir(kommun: str) -> Path:
    """Folder of one municipality's raw data (never in git)."""
    return DATA_RAW / check_kommun(kommun)


def processed_dir(kommun: str) -> Path:
    """Folder of one municipality's clean data (no identifiers; never in git)."""
    return DATA_PROCESSED / check_kommun(kommun)


def report_dir(kommun: str) -> Path:
    """Folder of one municipality's reports (executed notebooks, figures, tables)."""
    return REPORTS_DIR / check_kommun(kommun)


def params_file(kommun: str) -> Path:
    """The municipality's params YAML."""
    return PARAMS_DIR / f"{check_kommun(kommun)}.yaml"


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

"""Per-municipality parameters: ``params/<kommun>.yaml``.

Everything that differs between municipalities lives in that file. Its top-level keys are either
notebook parameters (passed to papermill; the runner checks them against each notebook's
``parameters`` cell) or the import settings below, which only the cleaning stage reads.

Example::

    kommun: norrvik                 # folder name under data/raw and data/processed
    namn: Norrvik                   # display name
    input: data/raw/norrvik/aktualiseringar.csv   # relative to the project root
    synthetic: true                 # demo data: a public demo pseudonymisation key may be used
    ar: 2025                        # the year under review
    ateraktualisering_manader: 12   # re-referral window
    period_slut: 2025-12-31         # data extraction date: open cases are censored here
    reform_datum: 2024-07-01        # optional: a reorganisation to evaluate
    pilot_omrade: Pilot             # optional: value of `omrade` that marks a pilot area
    pilot_start: 2024-01-01         # optional: the pilot's start (default: reform_datum)
    k: 5                            # suppression threshold: counts 1..k-1 are hidden
    lang: sv
    mapping:                        # only for case-management exports with other headers/codes
      columns: {Ärendenummer: rad_id, Inkom: aktualiseringsdatum, ...}
      values: {anmalare: {"Polismyndigheten": polisen}, ...}
      reasons: {column: Anmälningsorsak, separator: ";"}
      drop: [Handläggare, Anteckning]   # free-text or irrelevant columns, dropped on import
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import yaml

from genomlysning import paths

#: Keys read by the import/cleaning stage (not all are notebook parameters).
IMPORT_KEYS: frozenset[str] = frozenset({"kommun", "namn", "input", "synthetic", "mapping",
                                         "sheet", "csv_sep", "encoding"})
#: Keys that are notebook parameters shared by the per-municipality notebooks.
NOTEBOOK_KEYS: frozenset[str] = frozenset({
    "kommun", "ar", "ateraktualisering_manader", "period_slut", "reform_datum", "pilot_omrade",
    "pilot_start",
    "k", "lang", "seed", "params_path", "input_path",
})
KNOWN_KEYS: frozenset[str] = IMPORT_KEYS | NOTEBOOK_KEYS
MAPPING_KEYS: frozenset[str] = frozenset({"columns", "values", "reasons", "drop"})

DEFAULTS: dict[str, Any] = {
    "ateraktualisering_manader": 12,
    "k": 5,
    "lang": "sv",
    "synthetic": False,
    "mapping": {},
}


class ParamsError(ValueError):
    """A params file is missing, unreadable or has an unknown key."""


def _close(key: str, known: frozenset[str]) -> str:
    import difflib

    near = difflib.get_close_matches(key, sorted(known), n=1)
    return f" (did you mean {near[0]!r}?)" if near else ""


def _normalise(value: Any) -> Any:
    """YAML dates become ISO strings so parameters are plain JSON-able values."""
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: _normalise(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_normalise(v) for v in value]
    return value


def load(path_or_kommun: str | Path, extra_keys: frozenset[str] = frozenset()) -> dict[str, Any]:
    """Load and check a params file (a path, or a municipality name under ``params/``)."""
    p = Path(path_or_kommun)
    if p.suffix not in {".yaml", ".yml"}:
        p = paths.params_file(str(path_or_kommun))
    p = paths.resolve(p)
    if not p.is_file():
        raise ParamsError(f"{paths.relative(p)}: params file not found; create it (see "
                          f"params/README.md) or name an existing one: "
                          f"{', '.join(sorted(x.stem for x in paths.PARAMS_DIR.glob('*.yaml')))}")
    with p.open(encoding="utf-8") as fh:
        raw = yaml.safe_load(fh) or {}
    if not isinstance(raw, dict):
        raise ParamsError(f"{paths.relative(p)}: expected a mapping of keys to values")
    known = KNOWN_KEYS | extra_keys
    for key in raw:
        if key not in known:
            raise ParamsError(f"{paths.relative(p)}: unknown key {key!r}{_close(key, known)}; "
                              f"valid keys: {', '.join(sorted(known))}")
    for key in raw.get("mapping") or {}:
        if key not in MAPPING_KEYS:
            raise ParamsError(f"{paths.relative(p)}: unknown key 'mapping.{key}'"
                              f"{_close(key, MAPPING_KEYS)}; valid: {', '.join(sorted(MAPPING_KEYS))}")
    out = {**DEFAULTS, **_normalise(raw)}
    out.setdefault("kommun", p.stem)
    out.setdefault("namn", out["kommun"])
    return out


def all_kommuner() -> list[str]:
    """Names of every municipality with a params file, sorted."""
    return sorted(p.stem for p in paths.PARAMS_DIR.glob("*.yaml"))

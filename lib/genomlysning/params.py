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
    omraden: [Nord, Syd, Pilot]     # the areas/teams `omrade` may hold (others: reported, unknown)
    pilot_omrade: Pilot             # optional: value of `omrade` that marks a pilot area
    pilot_start: 2024-01-01         # optional: the pilot's start (default: reform_datum)
    k: 5                            # suppression threshold (integer >= 3): counts 1..k-1 are hidden
    lang: sv
    mapping:                        # only for case-management exports with other headers/codes
      columns: {Ärendenummer: rad_id, Inkom: aktualiseringsdatum, ...}
      values: {anmalare: {"Polismyndigheten": polisen}, ...}
      reasons: {column: Anmälningsorsak, separator: ";"}
      drop: [Handläggare, Anteckning]   # free-text or irrelevant columns, dropped on import

:func:`load` refuses a file with an unknown key, a ``k`` that is not an integer of at least 3, an
``omraden`` that is not a list of distinct short names, a ``pilot_omrade`` missing from ``omraden``,
or any value (or mapping key) that looks like a personnummer - without repeating the value.
"""

from __future__ import annotations

import datetime as dt
import unicodedata
from pathlib import Path
from typing import Any

import yaml

from genomlysning import paths

#: Keys read by the import/cleaning stage (not all are notebook parameters).
IMPORT_KEYS: frozenset[str] = frozenset({"kommun", "namn", "input", "synthetic", "mapping",
                                         "sheet", "csv_sep", "encoding", "omraden"})
#: Keys that are notebook parameters shared by the per-municipality notebooks.
NOTEBOOK_KEYS: frozenset[str] = frozenset({
    "kommun", "ar", "ateraktualisering_manader", "period_slut", "reform_datum", "pilot_omrade",
    "pilot_start",
    "k", "lang", "seed", "params_path", "input_path",
})
KNOWN_KEYS: frozenset[str] = IMPORT_KEYS | NOTEBOOK_KEYS
MAPPING_KEYS: frozenset[str] = frozenset({"columns", "values", "reasons", "drop"})
#: Smallest suppression threshold accepted (Folkhälsomyndigheten suppresses counts below 3).
MIN_K = 3
#: Longest area/team name accepted in ``omraden``.
OMRADE_MAX_LEN = 40

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
    check(out, paths.relative(p))
    if out.get("pilot_omrade") is not None:  # the spelling of omraden, as the cleaned data have it
        out["pilot_omrade"] = declared_areas(out)[area_key(out["pilot_omrade"])]
    return out


def _walk(value: Any, where: str) -> list[tuple[str, str]]:
    """``(key path, text)`` of every string, number, list item and mapping key under ``value``
    (keys in the path masked, so the path itself never shows a personnummer)."""
    from genomlysning import personnummer

    if isinstance(value, dict):
        out: list[tuple[str, str]] = []
        for k, v in value.items():
            shown = personnummer.mask(str(k))
            path = f"{where}.{shown}" if where else shown
            out += [(f"{path} (nyckeln)", str(k))] + _walk(v, path)
        return out
    if isinstance(value, list | tuple):
        return [item for i, v in enumerate(value) for item in _walk(v, f"{where}[{i}]")]
    if isinstance(value, str | int | float) and not isinstance(value, bool):
        return [(where, str(value))]
    return []


def check_no_personnummer(params: dict[str, Any], where: str) -> None:
    """ParamsError naming the key (never the value) of any params value that looks like a
    personnummer: params values reach reports and file names, so none may identify a person."""
    from genomlysning import personnummer

    for path, text in _walk(params, ""):
        if personnummer.has_identifier(text):
            raise ParamsError(
                f"{where}: the value of {path} looks like a personnummer (10 or 12 digits shaped as a "
                "birth date and four digits) and is not shown here; params values are published in "
                "reports, so write a name or code without it")


def _check_k(value: Any, where: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ParamsError(f"{where}: k must be a whole number (the suppression threshold), got "
                          f"{type(value).__name__}; valid: an integer >= {MIN_K}, e.g. k: 5")
    if value < MIN_K:
        raise ParamsError(f"{where}: k = {value} is too small: counts 1..k-1 are hidden, so k must be "
                          f"at least {MIN_K} (most municipal reports use 5)")


def _check_omraden(params: dict[str, Any], where: str) -> None:
    areas = params.get("omraden")
    if areas is not None:
        if not isinstance(areas, list) or not areas:
            raise ParamsError(f"{where}: omraden must be a non-empty list of area/team names, e.g. "
                              "omraden: [Nord, Syd, Pilot]")
        seen: set[str] = set()
        for i, name in enumerate(areas):
            if not isinstance(name, str) or not name.strip() or len(name.strip()) > OMRADE_MAX_LEN:
                raise ParamsError(f"{where}: omraden[{i}] must be a name of 1-{OMRADE_MAX_LEN} "
                                  "characters (write it in quotes if it looks like a number or date)")
            key = area_key(name)
            if key in seen:
                raise ParamsError(f"{where}: omraden[{i}] repeats an earlier area (names are compared "
                                  "without regard to case); list each area once")
            seen.add(key)
    pilot = params.get("pilot_omrade")
    if pilot is None:
        return
    if area_key(pilot) not in declared_areas(params):
        raise ParamsError(f"{where}: pilot_omrade {pilot!r} is not one of the areas declared under "
                          f"omraden ({', '.join(map(str, areas)) if areas else 'none declared'}); add it, "
                          "e.g. omraden: [Nord, Syd, " + f"{pilot}]")


def area_key(name: object) -> str:
    """An area name folded for matching: NFC, case-folded, whitespace collapsed."""
    return " ".join(unicodedata.normalize("NFC", str(name)).casefold().split())


def declared_areas(params: dict[str, Any]) -> dict[str, str]:
    """``{area_key: name as declared}`` of params ``omraden`` (empty when none are declared)."""
    return {area_key(a): str(a).strip() for a in params.get("omraden") or []}


def check(params: dict[str, Any], where: str) -> None:
    """Check the values of loaded params (``where`` names the file); ParamsError on the first
    problem: a personnummer anywhere, ``k`` not an integer >= 3, a malformed ``omraden`` list or a
    ``pilot_omrade`` that is not declared in it."""
    check_no_personnummer(params, where)
    _check_k(params.get("k"), where)
    _check_omraden(params, where)


def all_kommuner() -> list[str]:
    """Names of every municipality with a params file, sorted."""
    return sorted(p.stem for p in paths.PARAMS_DIR.glob("*.yaml"))

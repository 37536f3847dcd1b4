"""Per-municipality parameters: ``params/<kommun>.yaml``.

Everything that differs between municipalities lives in that file. Its top-level keys are either
notebook parameters (passed to papermill; the runner checks them against each notebook's
``parameters`` cell) or the import settings below, which only the cleaning stage reads.

Example::

    kommun: norrvik                 # folder name under data/raw and data/processed (a-z 0-9 _ -)
    namn: Norrvik                   # display name
    input: data/raw/norrvik/aktualiseringar.csv   # relative to the project root, inside it
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
    formula: arendetyp + anmalare + aldersgrupp + kon + ateraktualisering   # 03_models
    min_n: 20                       # 03_models: smallest category before pooling
    folds: 5                        # 03_models: cross-validation folds
    outcome: utredning_inledd       # 05_change: indicator of the time series
    pilot_outcome: insats_accepterad  # 05_change: indicator of the pilot comparison
    sheet: Data                     # xlsx: the sheet to read (a hidden sheet only when named here)
    max_xlsx_mb: 1024               # xlsx: largest unpacked size read
    max_cells: 20000000             # xlsx: most cells read from one sheet
    mapping:                        # only for case-management exports with other headers/codes
      columns: {Ärendenummer: rad_id, Inkom: aktualiseringsdatum, ...}
      values: {anmalare: {"Polismyndigheten": polisen}, ...}
      reasons: {column: Anmälningsorsak, separator: ";"}
      drop: [Handläggare, Anteckning]   # free-text or irrelevant columns, dropped on import
      derive: {insats_startad: Insats startdatum}   # Ja/Nej from a date column: Ja where it has a date

Every key is declared in :data:`KEYS` with its type, range or allowed values; :func:`load` checks
a file against it before anything runs and raises :class:`ParamsError` listing every problem, each
naming the file, the key, the value and what would be valid (in Swedish, or English with
``lang: en``). Values that look like a personnummer are refused without being repeated.
"""

from __future__ import annotations

import codecs
import datetime as dt
import re
import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from genomlysning import paths

#: Smallest suppression threshold accepted (Folkhälsomyndigheten suppresses counts below 3).
MIN_K = 3
#: Longest area/team name accepted in ``omraden``.
OMRADE_MAX_LEN = 40
#: Default limits of the xlsx reader (``max_xlsx_mb``, ``max_cells``).
DEFAULT_MAX_XLSX_MB = 1024
DEFAULT_MAX_CELLS = 20_000_000

DEFAULTS: dict[str, Any] = {
    "ateraktualisering_manader": 12,
    "k": 5,
    "lang": "sv",
    "synthetic": False,
    "mapping": {},
}

Check = Callable[[Any, str], "str | None"]


class ParamsError(ValueError):
    """A params file is missing, unreadable, has an unknown key or an invalid value."""


def _t(lang: str, sv: str, en: str) -> str:
    return en if lang == "en" else sv


@dataclass(frozen=True)
class Key:
    """One params key: its type (``kind``), whether it may be null, a range or allowed values,
    and what is valid in Swedish and English (shown in every error about the key).

    ``kind`` is one of ``int``, ``bool``, ``str``, ``date``, ``choice``, ``list`` or ``mapping``.
    ``check`` is an extra test returning a problem text (``lang`` given) or None.
    """

    kind: str
    valid_sv: str
    valid_en: str
    notebook: bool = False
    nullable: bool = False
    minimum: int | None = None
    maximum: int | None = None
    choices: tuple[str, ...] = ()
    max_len: int = 200
    check: Check | None = None

    def valid(self, lang: str) -> str:
        """What a valid value is, in ``lang``."""
        return _t(lang, self.valid_sv, self.valid_en)


def _check_kommun(value: Any, lang: str) -> str | None:
    try:
        paths.check_kommun(value, lang)
    except paths.PathError:
        return _t(lang, "inget säkert mappnamn", "not a safe folder name")
    return None


def _check_input(value: Any, lang: str) -> str | None:
    try:
        paths.check_inside(value, "input", lang)
    except paths.PathError:
        return _t(lang, "pekar utanför projektmappen (efter att länkar följts)",
                  "points outside the project folder (links followed)")
    return None


def _check_encoding(value: Any, lang: str) -> str | None:
    try:
        codecs.lookup(str(value))
    except LookupError:
        return _t(lang, "okänd teckenkodning", "unknown encoding")
    return None


def _check_formula(value: Any, lang: str) -> str | None:
    from genomlysning import models

    try:
        models.parse_formula(str(value))
    except (ValueError, KeyError) as exc:
        return str(exc).strip("'\"")
    return None


def _outcomes() -> tuple[str, ...]:
    from genomlysning import compare

    return tuple(compare.INDICATORS)


def _check_outcome(value: Any, lang: str) -> str | None:
    valid = _outcomes()
    if str(value) not in valid:
        return _t(lang, f"ingen indikator; giltiga: {', '.join(valid)}",
                  f"not an indicator; valid: {', '.join(valid)}")
    return None


_DATE_SV, _DATE_EN = "ett datum ÅÅÅÅ-MM-DD, t.ex. 2025-12-31", "a date YYYY-MM-DD, e.g. 2025-12-31"
_OUTCOME_SV = "en indikator: utredning_inledd, insats_erbjuden, barnsamtal, fb_inom_frist, " \
              "insats_accepterad eller utredning_inom_frist"
_OUTCOME_EN = "an indicator: utredning_inledd, insats_erbjuden, barnsamtal, fb_inom_frist, " \
              "insats_accepterad or utredning_inom_frist"

#: Every key a params file may hold (``notebook=True``: a notebook parameter, passed to papermill).
KEYS: dict[str, Key] = {
    "kommun": Key("str", "a-z, 0-9, _ och - (mappnamnet), t.ex. sjohamn",
                  "a-z, 0-9, _ and - (the folder name), e.g. sjohamn", notebook=True, max_len=63,
                  check=_check_kommun),
    "namn": Key("str", "ett visningsnamn, 1-100 tecken", "a display name, 1-100 characters", max_len=100),
    "input": Key("str", "en fil under data/raw/<kommun>/, relativt projektmappen",
                 "a file under data/raw/<kommun>/, relative to the project folder", max_len=500,
                 check=_check_input),
    "synthetic": Key("bool", "true eller false", "true or false"),
    "mapping": Key("mapping", "en mappning med columns, values, reasons, drop och derive (se "
                   "params/README.md)",
                   "a mapping with columns, values, reasons, drop and derive (see params/README.md)"),
    "sheet": Key("str", "namnet på ett blad i arbetsboken", "the name of a sheet of the workbook"),
    "csv_sep": Key("choice", "';', ',', '|' eller tabb ('\\t')", "';', ',', '|' or tab ('\\t')",
                   choices=(";", ",", "\t", "|")),
    "encoding": Key("str", "en teckenkodning, t.ex. utf-8, cp1252 eller utf-16",
                    "an encoding, e.g. utf-8, cp1252 or utf-16", max_len=40, check=_check_encoding),
    "omraden": Key("list", f"en lista med område-/teamnamn, 1-{OMRADE_MAX_LEN} tecken vardera",
                   f"a list of area/team names, 1-{OMRADE_MAX_LEN} characters each"),
    "max_xlsx_mb": Key("int", "ett heltal 1-100000 (megabyte uppackat)", "an integer 1-100000 (megabytes "
                       "unpacked)", minimum=1, maximum=100_000),
    "max_cells": Key("int", "ett heltal 1-1000000000", "an integer 1-1000000000", minimum=1,
                     maximum=1_000_000_000),
    "ar": Key("int", "ett årtal 2000-2100, t.ex. 2025", "a year 2000-2100, e.g. 2025", notebook=True,
              minimum=2000, maximum=2100),
    "ateraktualisering_manader": Key("int", "ett heltal 1-120 (månader)", "an integer 1-120 (months)",
                                     notebook=True, minimum=1, maximum=120),
    "period_slut": Key("date", _DATE_SV, _DATE_EN, notebook=True, nullable=True),
    "reform_datum": Key("date", _DATE_SV, _DATE_EN, notebook=True, nullable=True),
    "pilot_omrade": Key("str", "ett av områdena under omraden", "one of the areas under omraden",
                        notebook=True, nullable=True, max_len=OMRADE_MAX_LEN),
    "pilot_start": Key("date", _DATE_SV, _DATE_EN, notebook=True, nullable=True),
    "k": Key("int", f"ett heltal {MIN_K}-100, t.ex. k: 5 (antal 1..k-1 döljs)",
             f"an integer {MIN_K}-100, e.g. k: 5 (counts 1..k-1 are hidden)", notebook=True,
             minimum=MIN_K, maximum=100),
    "lang": Key("choice", "sv eller en", "sv or en", notebook=True, choices=("sv", "en")),
    "seed": Key("int", "ett heltal >= 0", "an integer >= 0", notebook=True, minimum=0,
                maximum=2**32 - 1),
    "formula": Key("str", "en högersida som 'arendetyp + anmalare + aldersgrupp' (kodade, ja/nej- eller "
                   "heltalskolumner, eller orsaker)", "a right-hand side such as 'arendetyp + anmalare + "
                   "aldersgrupp' (coded, yes/no or integer columns, or orsaker)", notebook=True,
                   nullable=True, max_len=500, check=_check_formula),
    "min_n": Key("int", "ett heltal 1-10000", "an integer 1-10000", notebook=True, minimum=1, maximum=10_000),
    "folds": Key("int", "ett heltal 2-50", "an integer 2-50", notebook=True, minimum=2, maximum=50),
    "outcome": Key("str", _OUTCOME_SV, _OUTCOME_EN, notebook=True, check=_check_outcome),
    "pilot_outcome": Key("str", _OUTCOME_SV, _OUTCOME_EN, notebook=True, check=_check_outcome),
    "params_path": Key("str", "sätts av körningen", "set by the runner", notebook=True, nullable=True,
                       max_len=500),
    "input_path": Key("str", "sätts av körningen", "set by the runner", notebook=True, nullable=True,
                      max_len=500),
}
#: Keys read by the import/cleaning stage (not all are notebook parameters).
IMPORT_KEYS: frozenset[str] = frozenset(k for k, v in KEYS.items() if not v.notebook) | {"kommun"}
#: Keys that are notebook parameters of the per-municipality notebooks.
NOTEBOOK_KEYS: frozenset[str] = frozenset(k for k, v in KEYS.items() if v.notebook)
KNOWN_KEYS: frozenset[str] = IMPORT_KEYS | NOTEBOOK_KEYS
MAPPING_KEYS: frozenset[str] = frozenset({"columns", "values", "reasons", "drop", "derive"})
#: The type of each ``mapping`` entry.
_MAPPING_KINDS: dict[str, type] = {"columns": dict, "values": dict, "reasons": dict, "drop": list,
                                   "derive": dict}


def _close(key: str, known: frozenset[str], lang: str) -> str:
    import difflib

    near = difflib.get_close_matches(key, sorted(known), n=1)
    return _t(lang, f" (menade du {near[0]!r}?)", f" (did you mean {near[0]!r}?)") if near else ""


def _normalise(value: Any) -> Any:
    """YAML dates become ISO strings so parameters are plain JSON-able values."""
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: _normalise(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_normalise(v) for v in value]
    return value


def _sniff_lang(text: str) -> str:
    """``en`` when the file's text sets ``lang: en`` (used before the YAML could be parsed)."""
    return "en" if re.search(r"^lang:\s*['\"]?en['\"]?\s*(#.*)?$", text, re.M) else "sv"


class _Loader(yaml.SafeLoader):
    """YAML's safe loader, except that a date-like scalar that is no valid date (``2025-13-45``)
    stays text, so the key check can name the key instead of YAML failing on it."""


def _timestamp_or_text(loader: yaml.SafeLoader, node: yaml.Node) -> Any:
    try:
        return yaml.SafeLoader.construct_yaml_timestamp(loader, node)  # type: ignore[arg-type]
    except ValueError:
        return loader.construct_scalar(node)  # type: ignore[arg-type]


_Loader.add_constructor("tag:yaml.org,2002:timestamp", _timestamp_or_text)


def read_yaml(p: Path) -> tuple[dict[str, Any], str]:
    """The mapping of a params file and its language; ParamsError for unreadable or invalid YAML."""
    where = paths.relative(p)
    try:
        text = p.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise ParamsError(f"{where}: kan inte läsas som UTF-8; spara params-filen som UTF-8 (YAML)") from None
    except OSError as exc:
        raise ParamsError(f"{where}: kan inte läsas ({exc.strerror})") from None
    lang = _sniff_lang(text)
    try:
        raw = yaml.load(text, Loader=_Loader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = _t(lang, f" (rad {mark.line + 1}, kolumn {mark.column + 1})",
                f" (line {mark.line + 1}, column {mark.column + 1})") if mark is not None else ""
        what = getattr(exc, "problem", None) or type(exc).__name__
        raise ParamsError(_t(lang, f"{where}: ogiltig YAML{at}: {what}; skriv en nyckel per rad, "
                             "t.ex. 'k: 5', och kontrollera citattecken och hakparenteser",
                             f"{where}: invalid YAML{at}: {what}; write one key per line, e.g. 'k: 5', "
                             "and check quotes and brackets")) from None
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ParamsError(_t(lang, f"{where}: väntade nycklar med värden (t.ex. 'k: 5'), inte en "
                             f"{type(raw).__name__}", f"{where}: expected keys with values (e.g. 'k: 5'), "
                             f"not a {type(raw).__name__}"))
    if raw.get("lang") == "en":
        lang = "en"
    return raw, lang


def load(path_or_kommun: str | Path, extra_keys: frozenset[str] = frozenset()) -> dict[str, Any]:
    """Load and check a params file (a path, or a municipality name under ``params/``)."""
    p = Path(path_or_kommun)
    if p.suffix not in {".yaml", ".yml"}:
        try:
            p = paths.params_file(str(path_or_kommun))
        except paths.PathError as exc:
            raise ParamsError(str(exc)) from None
    p = paths.resolve(p)
    if not p.is_file():
        names = ", ".join(sorted(x.stem for x in paths.PARAMS_DIR.glob("*.yaml"))) or "(inga)"
        raise ParamsError(f"{paths.relative(p)}: params-filen finns inte; skriv den (se README) eller "
                          f"ange en befintlig: {names}")
    raw, lang = read_yaml(p)
    where = paths.relative(p)
    known = KNOWN_KEYS | extra_keys
    unknown = [key for key in raw if key not in known]
    if unknown:
        raise ParamsError("\n".join(_t(
            lang, f"{where}: okänd nyckel {key!r}{_close(str(key), known, lang)}; giltiga nycklar: "
            f"{', '.join(sorted(known))}", f"{where}: unknown key {key!r}{_close(str(key), known, lang)}; "
            f"valid keys: {', '.join(sorted(known))}") for key in unknown))
    out = {**DEFAULTS, **_normalise(raw)}
    out.setdefault("kommun", p.stem)
    out.setdefault("namn", out["kommun"])
    check(out, where)
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


def check_no_personnummer(params: dict[str, Any], where: str, lang: str = "sv") -> None:
    """ParamsError naming the key (never the value) of any params value that looks like a
    personnummer: params values reach reports and file names, so none may identify a person."""
    from genomlysning import personnummer

    for path, text in _walk(params, ""):
        if personnummer.has_identifier(text):
            raise ParamsError(_t(
                lang, f"{where}: värdet av {path} liknar ett personnummer (10 eller 12 siffror i form av ett "
                "födelsedatum och fyra siffror) och visas inte här; params-värden publiceras i "
                "rapporterna, så skriv ett namn eller en kod utan det",
                f"{where}: the value of {path} looks like a personnummer (10 or 12 digits shaped as a "
                "birth date and four digits) and is not shown here; params values are published in "
                "reports, so write a name or code without it"))


_TYPE_NAMES: dict[str, tuple[str, str]] = {
    "int": ("heltal", "integer"), "float": ("decimaltal", "decimal number"), "str": ("text", "text"),
    "bool": ("ja/nej", "yes/no"), "list": ("lista", "list"), "dict": ("mappning", "mapping"),
    "NoneType": ("tomt", "empty"), "date": ("datum", "date"),
}


def _type_name(value: Any, lang: str) -> str:
    sv, en = _TYPE_NAMES.get(type(value).__name__, (type(value).__name__, type(value).__name__))
    return _t(lang, sv, en)


def _shown(value: Any) -> str:
    """A value as an error shows it: repr, at most 60 characters (personnummer already refused)."""
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _value_problem(spec: Key, value: Any, lang: str) -> str | None:
    """What is wrong with ``value`` for ``spec`` (None: valid)."""
    if value is None:
        return None if spec.nullable else _t(lang, "värde saknas", "no value")
    wrong = _t(lang, f"fel typ ({_type_name(value, lang)})", f"wrong type ({_type_name(value, lang)})")
    kind = spec.kind
    if kind == "int":
        if isinstance(value, bool) or not isinstance(value, int):
            return wrong
        if (spec.minimum is not None and value < spec.minimum) or \
                (spec.maximum is not None and value > spec.maximum):
            return _t(lang, "utanför tillåtna värden", "out of range")
    elif kind == "bool":
        if not isinstance(value, bool):
            return wrong
    elif kind == "date":
        if not isinstance(value, str):
            return wrong
        try:
            dt.date.fromisoformat(value)
        except ValueError:
            return _t(lang, "inget giltigt datum", "not a valid date")
    elif kind in {"str", "choice"}:
        if not isinstance(value, str):
            return wrong
        if kind == "choice" and value not in spec.choices:
            return _t(lang, "inget av de tillåtna värdena", "not one of the allowed values")
        if kind == "str" and not value.strip():
            return _t(lang, "tom text", "empty text")
        if len(value) > spec.max_len:
            return _t(lang, f"för lång text ({len(value)} tecken)",
                      f"text too long ({len(value)} characters)")
    elif kind == "list":
        if not isinstance(value, list):
            return wrong
    elif kind == "mapping" and not isinstance(value, dict):
        return wrong
    return spec.check(value, lang) if spec.check is not None else None


def _check_mapping(mapping: Mapping[str, Any], where: str, lang: str) -> list[str]:
    """Problems with the top level of ``mapping`` (ingest checks its contents against the schema)."""
    out = []
    for key, value in mapping.items():
        if key not in MAPPING_KEYS:
            near = _close(str(key), MAPPING_KEYS, lang)
            out.append(_t(lang, f"{where}: okänd nyckel 'mapping.{key}'{near}; "
                          f"giltiga: {', '.join(sorted(MAPPING_KEYS))}",
                          f"{where}: unknown key 'mapping.{key}'{near}; "
                          f"valid: {', '.join(sorted(MAPPING_KEYS))}"))
        elif value is not None and not isinstance(value, _MAPPING_KINDS[key]):
            kind = _t(lang, "en lista", "a list") if _MAPPING_KINDS[key] is list else \
                _t(lang, "en mappning {rubrik: värde}", "a mapping {header: value}")
            out.append(_t(lang, f"{where}: mapping.{key} = {_shown(value)}: fel typ; giltigt: {kind}",
                          f"{where}: mapping.{key} = {_shown(value)}: wrong type; valid: {kind}"))
    return out


def _check_omraden(params: dict[str, Any], where: str, lang: str) -> list[str]:
    areas = params.get("omraden")
    out: list[str] = []
    if areas is not None:
        if not isinstance(areas, list) or not areas:
            return [_t(lang, f"{where}: omraden = {_shown(areas)}: ska vara en lista med område-/teamnamn, "
                       "t.ex. omraden: [Nord, Syd, Pilot]", f"{where}: omraden = {_shown(areas)}: must be a "
                       "non-empty list of area/team names, e.g. omraden: [Nord, Syd, Pilot]")]
        seen: set[str] = set()
        for i, name in enumerate(areas):
            if not isinstance(name, str) or not name.strip() or len(name.strip()) > OMRADE_MAX_LEN:
                out.append(_t(lang, f"{where}: omraden[{i}] = {_shown(name)}: ska vara ett namn på "
                              f"1-{OMRADE_MAX_LEN} tecken (skriv det inom citattecken om det liknar ett tal "
                              "eller datum)", f"{where}: omraden[{i}] = {_shown(name)}: must be a name of "
                              f"1-{OMRADE_MAX_LEN} characters (write it in quotes if it looks like a number "
                              "or date)"))
                continue
            key = area_key(name)
            if key in seen:
                out.append(_t(lang, f"{where}: omraden[{i}] = {_shown(name)}: upprepar ett tidigare område "
                              "(skiftläge spelar ingen roll); ange varje område en gång",
                              f"{where}: omraden[{i}] = {_shown(name)}: repeats an earlier area (names are "
                              "compared without regard to case); list each area once"))
            seen.add(key)
    pilot = params.get("pilot_omrade")
    if isinstance(pilot, str) and not out and area_key(pilot) not in declared_areas(params):
        listed = ", ".join(map(str, areas)) if isinstance(areas, list) and areas else \
            _t(lang, "inga angivna", "none declared")
        out.append(_t(lang, f"{where}: pilot_omrade = {pilot!r}: är inte ett av områdena under omraden "
                      f"({listed}); lägg till det, t.ex. omraden: [Nord, Syd, {pilot}]",
                      f"{where}: pilot_omrade = {pilot!r}: is not one of the areas declared under omraden "
                      f"({listed}); add it, e.g. omraden: [Nord, Syd, {pilot}]"))
    return out


def area_key(name: object) -> str:
    """An area name folded for matching: NFC, case-folded, whitespace collapsed."""
    return " ".join(unicodedata.normalize("NFC", str(name)).casefold().split())


def declared_areas(params: dict[str, Any]) -> dict[str, str]:
    """``{area_key: name as declared}`` of params ``omraden`` (empty when none are declared)."""
    return {area_key(a): str(a).strip() for a in params.get("omraden") or []}


def problems(params: dict[str, Any], where: str) -> list[str]:
    """Every problem with the values of ``params`` (one line each, naming ``where``, the key, the
    value and what is valid; in English when ``params['lang']`` is ``en``). Keys not in
    :data:`KEYS` (a notebook's own parameters, accepted by the runner) are not checked here."""
    lang = "en" if params.get("lang") == "en" else "sv"
    out: list[str] = []
    for key, value in params.items():
        spec = KEYS.get(key)
        if spec is None:
            continue
        problem = _value_problem(spec, value, lang)
        if problem is not None:
            out.append(_t(lang, f"{where}: {key} = {_shown(value)}: {problem}; giltigt: {spec.valid(lang)}",
                          f"{where}: {key} = {_shown(value)}: {problem}; valid: {spec.valid(lang)}"))
    if isinstance(params.get("mapping"), dict):
        out += _check_mapping(params["mapping"], where, lang)
    out += _check_omraden(params, where, lang)
    return out


def check(params: dict[str, Any], where: str) -> None:
    """Check the values of loaded params (``where`` names the file): ParamsError listing every
    problem; a personnummer anywhere is refused first, without showing any value."""
    lang = "en" if params.get("lang") == "en" else "sv"
    check_no_personnummer(params, where, lang)
    found = problems(params, where)
    if found:
        raise ParamsError("\n".join(found))


def is_synthetic_file(path: str | Path) -> bool:
    """Whether a params file says ``synthetic: true`` (demo data). An unreadable file counts as real:
    it is never overwritten or mixed with demo units on a guess."""
    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError, yaml.YAMLError):
        return False
    return isinstance(data, dict) and data.get("synthetic") is True


def real_kommuner() -> list[str]:
    """The municipalities whose params file is not ``synthetic: true`` (own data), sorted."""
    return [k for k in all_kommuner() if not is_synthetic_file(paths.PARAMS_DIR / f"{k}.yaml")]


def all_kommuner() -> list[str]:
    """Names of every municipality with a params file, sorted."""
    return sorted(p.stem for p in paths.PARAMS_DIR.glob("*.yaml"))

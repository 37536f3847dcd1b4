"""Import: read the template's xlsx or a CSV export into a raw table of schema columns.

:func:`read_raw` is the only entry point the cleaning stage needs. It

* reads ``.xlsx`` (sheet ``Data`` or params ``sheet``) or CSV (separator ``;`` ``,`` or tab and the
  encoding sniffed, or params ``csv_sep`` / ``encoding``);
* matches headers case- and whitespace-insensitively against schema names, Swedish and English
  labels, after renaming export headers with params ``mapping.columns``;
* recodes export values (``mapping.values``), expands one multi-valued reason column into the
  ``orsak_*`` Ja/Nej columns (``mapping.reasons``) and drops ``mapping.drop``;
* drops - and reports - every column that is not in the schema, and every free-text column that
  contains personnummer-like strings (cells of typed columns that do are masked);
* keeps every value as the cell's text (``str`` or ``None``): typing, validation and derivation are
  the cleaning stage's job. The ``personnummer`` column is kept: cleaning derives ``barn_id``, age
  and sex from it and then drops it. A :class:`RawTable` must never be written to disk.
"""

from __future__ import annotations

import csv
import datetime as dt
import difflib
import io
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from genomlysning import paths, personnummer, schema
from genomlysning.problems import Problem

#: File suffixes read as CSV.
CSV_SUFFIXES: frozenset[str] = frozenset({".csv", ".txt", ".tsv"})
#: File suffixes read as Excel workbooks.
XLSX_SUFFIXES: frozenset[str] = frozenset({".xlsx", ".xlsm"})
#: Default sheet of the template.
DEFAULT_SHEET = "Data"
#: Separators tried when sniffing a CSV file, in order of preference on ties.
CSV_SEPARATORS: tuple[str, ...] = (";", ",", "\t")
#: Encodings tried in order when params give none.
ENCODINGS: tuple[str, ...] = ("utf-8-sig", "cp1252", "latin-1")
#: Default separator of a multi-valued reason column.
DEFAULT_REASON_SEPARATOR = ";"

#: Reasons a column is dropped (the text shown in the report).
DROP_FREE_TEXT_PNR = "fritext med personnummer"
DROP_UNKNOWN = "okänd kolumn (finns inte i schemat)"
DROP_DERIVED = "härledd kolumn (beräknas vid rensningen, läses inte in)"
DROP_MAPPING = "borttagen enligt mapping.drop i params"
DROP_NO_HEADER = "kolumn utan rubrik"
DROP_DUPLICATE = "dubblett av kolumn {name} (samma värden)"

#: What would be valid instead of a dropped column (for the report).
DROPPED_VALID = ("en kolumn i schemat (se bladet Kolumner i mallen), döpt om med mapping.columns "
                 "eller borttagen med mapping.drop i params-filen")

_JA, _NEJ = "Ja", "Nej"


class IngestError(ValueError):
    """A file cannot be imported; the message names the file and what would be valid."""

    def __init__(self, message: str, problems: Iterable[Problem] = ()) -> None:
        super().__init__(message)
        self.problems: list[Problem] = list(problems)


@dataclass
class RawTable:
    """One imported file: text values under schema column names, plus what was dropped and why.

    ``frame`` has every column of ``schema.TEMPLATE_COLUMNS`` in template order (absent columns
    are all ``None``; ``columns_found`` lists the ones the file had) and a RangeIndex; values are
    ``str`` (stripped, never empty) or ``None``. ``rad_excel`` is aligned with ``frame``: the row
    number the user sees in Excel or in the CSV opened in Excel (header = 1). ``problems`` holds
    file-level problems (``rad_excel`` 0; e.g. one ``varning`` per dropped column) and row-level
    warnings from the reason expansion; all are already masked.
    """

    frame: pd.DataFrame
    fil: str
    rad_excel: pd.Series
    dropped_columns: list[tuple[str, str]] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    columns_found: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.frame)


# ---------------------------------------------------------------------------------------------
# Names and the params mapping
# ---------------------------------------------------------------------------------------------

def normalise_header(text: object) -> str:
    """Header/value key for matching: NFC, case-folded, whitespace collapsed, stripped."""
    return " ".join(unicodedata.normalize("NFC", str(text)).casefold().split())


def header_lookup() -> dict[str, str]:
    """``{normalised name or label: schema name}`` for every template column (sv and en labels)."""
    out: dict[str, str] = {}
    for name in schema.TEMPLATE_COLUMNS:
        col = schema.column(name)
        for key in (col.name, col.sv, col.en):
            out.setdefault(normalise_header(key), name)
    return out


def _derived_lookup() -> dict[str, str]:
    out: dict[str, str] = {}
    for col in schema.columns(role="derived"):
        for key in (col.name, col.sv, col.en):
            out.setdefault(normalise_header(key), col.name)
    return out


def valid_headers_text() -> str:
    """The valid column headers, for error messages: ``Swedish label (name)``."""
    return "; ".join(f"{schema.column(n).sv} ({n})" for n in schema.TEMPLATE_COLUMNS)


def _mapping(params: dict[str, Any] | None) -> dict[str, Any]:
    return dict((params or {}).get("mapping") or {})


def _resolve_column(name: str, what: str) -> str:
    """Schema name of a params reference by name or label (IngestError otherwise)."""
    key = normalise_header(name)
    found = header_lookup().get(key)
    if found is None:
        near = difflib.get_close_matches(key, list(header_lookup()), n=1)
        hint = f" (menade du {header_lookup()[near[0]]!r}?)" if near else ""
        raise IngestError(f"params {what}: {name!r} är ingen kolumn i schemat{hint}; giltiga: "
                          f"{', '.join(schema.TEMPLATE_COLUMNS)}")
    return found


def mapping_columns(params: dict[str, Any] | None) -> dict[str, str]:
    """``{normalised export header: schema name}`` from params ``mapping.columns`` (checked)."""
    cols = _mapping(params).get("columns") or {}
    return {normalise_header(src): _resolve_column(str(dst), f"mapping.columns[{src!r}]")
            for src, dst in cols.items()}


def mapping_drop(params: dict[str, Any] | None) -> set[str]:
    """Normalised headers listed in params ``mapping.drop``."""
    return {normalise_header(h) for h in _mapping(params).get("drop") or []}


def mapping_reasons(params: dict[str, Any] | None) -> tuple[str, str] | None:
    """``(normalised header, separator)`` of params ``mapping.reasons``, or None."""
    spec = _mapping(params).get("reasons")
    if not spec:
        return None
    if not isinstance(spec, dict) or "column" not in spec:
        raise IngestError("params mapping.reasons: väntade {column: <rubrik>, separator: \";\"}")
    unknown = set(spec) - {"column", "separator"}
    if unknown:
        raise IngestError(f"params mapping.reasons: okänd nyckel {sorted(unknown)}; giltiga: column, "
                          "separator")
    return normalise_header(spec["column"]), str(spec.get("separator") or DEFAULT_REASON_SEPARATOR)


def _reasons_text() -> str:
    return "; ".join(f"{r.code} ({r.sv})" for r in schema.ORSAKER)


def reason_lookup() -> dict[str, str]:
    """``{normalised code, label, alias or column name: reason code}`` of every anmälningsorsak."""
    out: dict[str, str] = {}
    for r in schema.ORSAKER:
        for key in (r.code, r.column, r.sv, r.en, *r.aliases):
            out.setdefault(normalise_header(key), r.code)
    return out


def _code_target(name: str, target: object, where: str) -> str:
    """The Swedish label a ``mapping.values`` target stands for (checked against the schema)."""
    col = schema.column(name)
    key = normalise_header(target)
    if col.dtype == "code":
        for c in col.codes:
            if key in {normalise_header(x) for x in (c.code, c.sv, c.en, *c.aliases)}:
                return c.sv
        raise IngestError(f"params {where}: {target!r} är inget giltigt värde för {name}; giltiga: "
                          + "; ".join(f"{c.code} ({c.sv})" for c in col.codes))
    if col.dtype == "bool":
        if key in schema.JA_NEJ_ALIASES_TRUE:
            return _JA
        if key in schema.JA_NEJ_ALIASES_FALSE:
            return _NEJ
        raise IngestError(f"params {where}: {target!r} är inget Ja/Nej-värde; giltiga: Ja, Nej")
    return str(target)


def mapping_values(params: dict[str, Any] | None) -> dict[str, dict[str, str]]:
    """``{schema name: {normalised export value: Swedish label/text}}`` from ``mapping.values``.

    Keys may name a schema column (by name or label) or the reason column of ``mapping.reasons``
    (then targets are reason codes or labels; the key is returned as ``"__orsak__"``).
    """
    values = _mapping(params).get("values") or {}
    reasons = mapping_reasons(params)
    rlookup = reason_lookup()
    out: dict[str, dict[str, str]] = {}
    for col_ref, recode in values.items():
        if not isinstance(recode, dict):
            raise IngestError(f"params mapping.values[{col_ref!r}]: väntade {{exportvärde: kod}}")
        if reasons and normalise_header(col_ref) == reasons[0]:
            table: dict[str, str] = {}
            for src, dst in recode.items():
                code = rlookup.get(normalise_header(dst))
                if code is None:
                    raise IngestError(
                        f"params mapping.values[{col_ref!r}][{src!r}]: {dst!r} är ingen "
                        f"anmälningsorsak; giltiga: {_reasons_text()}")
                table[normalise_header(src)] = code
            out["__orsak__"] = table
            continue
        name = _resolve_column(str(col_ref), f"mapping.values[{col_ref!r}]")
        out[name] = {normalise_header(src): _code_target(name, dst, f"mapping.values[{col_ref!r}]"
                                                         f"[{src!r}]")
                     for src, dst in recode.items()}
    return out


# ---------------------------------------------------------------------------------------------
# Reading files into (headers, object frame of text, excel row numbers)
# ---------------------------------------------------------------------------------------------

@dataclass
class _Sheet:
    """A file as read: original headers, a frame of text (columns 0..n-1), Excel row numbers."""

    headers: list[str]
    frame: pd.DataFrame
    rad_excel: pd.Series
    problems: list[Problem] = field(default_factory=list)


def _cell_text(value: object) -> str | None:
    """The text of one Excel cell value (dates as ISO, whole floats without ``.0``)."""
    if value is None:
        return None
    if isinstance(value, str):
        value = value.strip()
        return value or None
    if isinstance(value, bool):
        return _JA if value else _NEJ
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if value.is_integer() and abs(value) < 1e15:
            return str(int(value))
        return repr(value)
    if isinstance(value, dt.datetime):
        if value.time() == dt.time(0, 0):
            return value.date().isoformat()
        return value.isoformat(sep=" ")
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    text = str(value).strip()
    return text or None


def _read_xlsx(path: Path, fil: str, sheet: str | None) -> _Sheet:
    import openpyxl

    try:
        wb = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # noqa: BLE001 - any unreadable workbook is reported the same way
        raise IngestError(f"{fil}: kan inte läsas som Excel-fil ({type(exc).__name__}: {exc}); spara "
                          "den som .xlsx eller som CSV (semikolonseparerad, UTF-8)") from None
    try:
        names = wb.sheetnames
        wanted = sheet or DEFAULT_SHEET
        if wanted in names:
            ws = wb[wanted]
        elif sheet is None and len(names) == 1:
            ws = wb[names[0]]
        else:
            raise IngestError(f"{fil}: bladet {wanted!r} finns inte; bladen heter: {', '.join(names)}. "
                              "Ange rätt blad med 'sheet:' i params-filen.")
        ws.reset_dimensions()
        header: list[str] | None = None
        rows: list[list[str | None]] = []
        numbers: list[int] = []
        for i, raw in enumerate(ws.iter_rows(values_only=True), start=1):
            texts = [_cell_text(v) for v in raw]
            if not any(t is not None for t in texts):
                continue
            if header is None:
                header = [t or "" for t in texts]
                continue
            rows.append(texts)
            numbers.append(i)
    finally:
        wb.close()
    if header is None:
        raise IngestError(f"{fil}: bladet {ws.title!r} är tomt; första raden ska vara kolumnrubrikerna "
                          f"({valid_headers_text()})")
    width = max([len(header), *(len(r) for r in rows)])
    header = header + [""] * (width - len(header))
    frame = pd.DataFrame([r + [None] * (width - len(r)) for r in rows], columns=range(width),
                         dtype=object)
    if not rows:
        frame = pd.DataFrame({i: pd.Series(dtype=object) for i in range(width)})
    return _Sheet(header, frame, pd.Series(numbers, dtype="int64"))


def _decode_probe(raw: bytes, encoding: str | None, fil: str) -> str:
    """Return the encoding that decodes ``raw`` (params ``encoding`` first, else sniffed)."""
    for enc in ([encoding] if encoding else ENCODINGS):
        try:
            raw.decode(enc)
        except (UnicodeDecodeError, LookupError):
            continue
        return enc
    raise IngestError(f"{fil}: kan inte avkodas som {encoding or ' / '.join(ENCODINGS)}; spara filen "
                      "som CSV UTF-8 eller ange 'encoding:' i params-filen")


def sniff_separator(sample: str) -> str:
    """The separator (``;`` ``,`` or tab) giving the most consistent, widest first lines."""
    lines = sample.splitlines()[:50]
    best, best_score = CSV_SEPARATORS[0], (-1, -1)
    for sep in CSV_SEPARATORS:
        try:
            rows = [r for r in csv.reader(lines, delimiter=sep) if r]
        except csv.Error:
            continue
        if not rows:
            continue
        width = len(rows[0])
        consistent = sum(len(r) == width for r in rows)
        score = (consistent if width > 1 else 0, width)
        if score > best_score:
            best, best_score = sep, score
    return best


def _strip_or_none(value: object) -> str | None:
    if value is None or (isinstance(value, float) and value != value):
        return None
    text = str(value).strip()
    return text or None


def _text_frame(frame: pd.DataFrame, numbers: pd.Series) -> tuple[pd.DataFrame, pd.Series]:
    """Strip every cell, turn empty text into None and drop rows that are entirely empty.

    Works on the distinct values of each column (``pd.factorize``), so a 420 000-row export with a
    few hundred distinct dates and codes per column costs a hash pass, not a Python loop per cell.
    """
    out: dict[object, np.ndarray] = {}
    keep = np.zeros(len(frame), dtype=bool)
    for c in frame.columns:
        codes, uniques = pd.factorize(frame[c].to_numpy(dtype=object), use_na_sentinel=False)
        cleaned = np.array([_strip_or_none(v) for v in uniques] + [None], dtype=object)
        keep |= np.array([v is not None for v in cleaned], dtype=bool)[codes]
        out[c] = cleaned[codes]
    result = pd.DataFrame({c: v[keep] for c, v in out.items()}, columns=frame.columns, dtype=object,
                          copy=False)
    return result, numbers.loc[keep].reset_index(drop=True)


def _read_csv_ragged(text: str, sep: str, width: int, fil: str
                     ) -> tuple[pd.DataFrame, pd.Series, list[Problem]]:
    """Slow path for rows with more fields than the header: extra empty fields are ignored, a row
    with extra non-empty fields is kept truncated and gets a ``fel`` problem (it is quarantined)."""
    rows: list[list[str]] = []
    numbers: list[int] = []
    problems: list[Problem] = []
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=sep)
    next(reader, None)
    for i, row in enumerate(reader, start=2):
        if len(row) > width:
            extra = [x for x in row[width:] if x.strip()]
            if extra:
                problems.append(Problem(
                    fil, i, "", personnummer.mask(sep.join(extra))[:60],
                    f"raden har {len(row)} fält men rubrikraden har {width}", "fel",
                    f"lika många fält som rubrikraden; kontrollera avgränsaren ({sep!r}) och citattecken"))
            row = row[:width]
        rows.append(row + [""] * (width - len(row)))
        numbers.append(i)
    frame = pd.DataFrame(rows, columns=range(width), dtype=object) if rows else \
        pd.DataFrame({i: pd.Series(dtype=object) for i in range(width)})
    return frame, pd.Series(numbers, dtype="int64"), problems


def _read_csv(path: Path, fil: str, params: dict[str, Any]) -> _Sheet:
    raw = path.read_bytes()
    if not raw[:65536].strip() and not raw.strip():
        raise IngestError(f"{fil}: filen är tom; första raden ska vara kolumnrubrikerna "
                          f"({valid_headers_text()})")
    enc = _decode_probe(raw, params.get("encoding"), fil)
    head = raw[:200_000].decode(enc, errors="ignore")
    sep = params.get("csv_sep") or sniff_separator(head)
    header = next(csv.reader(io.StringIO(head, newline=""), delimiter=sep))
    width = len(header)
    problems: list[Problem] = []
    try:
        frame = pd.read_csv(io.BytesIO(raw), sep=sep, encoding=enc, header=0, names=range(width),
                            dtype=object, keep_default_na=False, na_filter=False, skip_blank_lines=False,
                            index_col=False, engine="c", quotechar='"')
        numbers = pd.Series(range(2, len(frame) + 2), dtype="int64", index=frame.index)
    except pd.errors.ParserError:
        frame, numbers, problems = _read_csv_ragged(raw.decode(enc), sep, width, fil)
    frame, numbers = _text_frame(frame, numbers)
    return _Sheet(header, frame, numbers, problems)


def read_table(path: Path, fil: str, params: dict[str, Any]) -> _Sheet:
    """Read a file into its original headers, a frame of text keyed 0..n-1 and Excel row numbers."""
    suffix = path.suffix.lower()
    if suffix in XLSX_SUFFIXES:
        return _read_xlsx(path, fil, params.get("sheet"))
    if suffix in CSV_SUFFIXES:
        return _read_csv(path, fil, params)
    raise IngestError(f"{fil}: okänt filformat {suffix or '(inget)'!r}; giltiga: .xlsx (mallen) eller "
                      ".csv (semikolon, komma eller tabb). Spara .xls/.ods som .xlsx.")


# ---------------------------------------------------------------------------------------------
# Column resolution, recoding, reason expansion
# ---------------------------------------------------------------------------------------------

def _has_pnr(s: pd.Series) -> pd.Series:
    """Boolean mask of cells containing a personnummer-like string (checked per distinct value)."""
    uniques = pd.unique(s.to_numpy(dtype=object))
    hits = [v for v in uniques if v is not None and personnummer.contains(str(v))]
    if not hits:
        return pd.Series(False, index=s.index)
    return s.isin(hits)


def _recode(s: pd.Series, table: dict[str, str]) -> pd.Series:
    """Replace values whose normalised form is a key of ``table``."""
    notna = s.notna()
    if not table or not notna.any():
        return s
    norm = s[notna].map(normalise_header)
    hit = norm.isin(table.keys())
    out = s.copy()
    out.loc[hit[hit].index] = norm[hit].map(table)
    return out


def expand_reasons(s: pd.Series, separator: str, recode: dict[str, str], fil: str, header: str,
                   rad_excel: pd.Series) -> tuple[pd.DataFrame, list[Problem]]:
    """Expand a multi-valued reason column into the ``orsak_*`` columns ("Ja"/"Nej"/None).

    A row with an empty cell gets None in every reason column; an unknown reason text gives a
    ``varning`` naming the valid reasons and sets ``orsak_ovrigt``.
    """
    lookup = reason_lookup()
    lookup.update(recode)
    out = pd.DataFrame({c: pd.Series([None] * len(s), index=s.index, dtype=object)
                        for c in schema.REASON_COLUMNS})
    present = s.notna()
    if not present.any():
        return out, []
    parts = s[present].astype(str).str.split(separator, regex=False).explode()
    norm = parts.map(normalise_header)
    parts, norm = parts[norm != ""], norm[norm != ""]
    codes = norm.map(lookup)
    unknown = codes.isna()
    problems: list[Problem] = []
    if unknown.any():
        valid = "; ".join(r.sv for r in schema.ORSAKER)
        for idx, text in parts[unknown].items():
            problems.append(Problem(fil, int(rad_excel.loc[idx]), header,
                                    personnummer.mask(str(text).strip()),
                                    "okänd anmälningsorsak – raden räknas som Övrigt", "varning", valid))
        codes = codes.where(~unknown, "ovrigt")
    for c in schema.REASON_COLUMNS:
        out.loc[present, c] = _NEJ
    hits = pd.DataFrame({"idx": codes.index, "code": codes.to_numpy()}).drop_duplicates()
    for code, idx in hits.groupby("code")["idx"]:
        out.loc[idx.to_numpy(), schema.reason(str(code)).column] = _JA
    return out, problems


def _suggest(header: str) -> str:
    near = difflib.get_close_matches(normalise_header(header), list(header_lookup()), n=1, cutoff=0.75)
    return f"; menade du {schema.column(header_lookup()[near[0]]).sv!r}?" if near else ""


def read_raw(path: str | Path, params: dict[str, Any] | None = None) -> RawTable:
    """Read a template xlsx or CSV export into a :class:`RawTable` (see the module docstring).

    Raises :class:`IngestError` (naming the file and what would be valid) for an unreadable file,
    missing required columns, conflicting duplicate columns or an invalid params mapping.
    """
    params = dict(params or {})
    p = paths.resolve(path)
    fil = paths.relative(p)
    if not p.is_file():
        raise IngestError(f"{fil}: filen finns inte")
    col_map = mapping_columns(params)
    drop = mapping_drop(params)
    reasons = mapping_reasons(params)
    values = mapping_values(params)
    lookup = header_lookup()
    derived = _derived_lookup()

    sheet = read_table(p, fil, params)
    headers, frame, rad_excel = sheet.headers, sheet.frame, sheet.rad_excel
    problems: list[Problem] = list(sheet.problems)
    dropped: list[tuple[str, str]] = []
    columns: dict[str, pd.Series] = {}
    origin: dict[str, str] = {}
    reason_frame: pd.DataFrame | None = None

    def drop_col(header: str, reason: str, note: bool = True) -> None:
        dropped.append((header, reason))
        if note:
            problems.append(Problem(fil, 0, header, "", f"kolumnen läses inte in: {reason}", "varning",
                                    DROPPED_VALID))

    for pos, header in enumerate(headers):
        s = frame[pos]
        key = normalise_header(header)
        if key == "":
            if s.notna().any():
                drop_col(f"(kolumn {pos + 1})", DROP_NO_HEADER)
            continue
        if key in drop:
            drop_col(header, DROP_MAPPING, note=False)
            continue
        if reasons and key == reasons[0]:
            reason_frame, rp = expand_reasons(s, reasons[1], values.get("__orsak__", {}), fil, header,
                                              rad_excel)
            problems.extend(rp)
            origin["__orsak__"] = header
            continue
        name = col_map.get(key) or lookup.get(key)
        if name is None:
            if _has_pnr(s).any():
                drop_col(header, DROP_FREE_TEXT_PNR)
            elif key in derived:
                drop_col(header, DROP_DERIVED)
            else:
                drop_col(header, DROP_UNKNOWN + _suggest(header))
            continue
        if name != "personnummer":
            pnr = _has_pnr(s)
            if pnr.any():
                if schema.column(name).dtype == "str":
                    drop_col(header, DROP_FREE_TEXT_PNR)
                    continue
                s = s.where(~pnr, s.map(personnummer.mask, na_action="ignore"))
        if name in columns:
            if columns[name].equals(s):
                drop_col(header, DROP_DUPLICATE.format(name=origin[name]))
                continue
            raise IngestError(f"{fil}: kolumnerna {origin[name]!r} och {header!r} betyder båda {name} "
                              f"({schema.column(name).sv}) men har olika värden; ta bort den ena eller "
                              "döp om den med mapping.columns i params-filen")
        columns[name] = _recode(s, values.get(name, {}))
        origin[name] = header

    if reason_frame is not None:
        clash = [c for c in schema.REASON_COLUMNS if c in columns]
        if clash:
            raise IngestError(f"{fil}: orsakskolumnen {origin['__orsak__']!r} (mapping.reasons) och "
                              f"kolumnerna {', '.join(origin[c] for c in clash)} anger båda "
                              "anmälningsorsaker; använd bara det ena sättet")
        for c in schema.REASON_COLUMNS:
            columns[c] = reason_frame[c]

    missing = [n for n in schema.TEMPLATE_COLUMNS if schema.column(n).required and n not in columns]
    if missing:
        miss = [Problem(fil, 0, n, "", "obligatorisk kolumn saknas", "fel",
                        f"en kolumn med rubriken {schema.column(n).sv!r} eller {n!r}") for n in missing]
        found = ", ".join(repr(h) for h in headers if h) or "(inga)"
        raise IngestError(
            f"{fil}: obligatorisk kolumn saknas: "
            + ", ".join(f"{schema.column(n).sv} ({n})" for n in missing)
            + f". Filen har rubrikerna: {found}. Giltiga rubriker (svensk etikett eller namn, "
            f"skiftläge spelar ingen roll): {valid_headers_text()}. En export med andra rubriker "
            "läses med mapping.columns i params-filen.", problems + miss)

    n = len(frame)
    empty = np.full(n, None, dtype=object)
    out = pd.DataFrame({c: (columns[c].to_numpy(dtype=object) if c in columns else empty)
                        for c in schema.TEMPLATE_COLUMNS}, dtype=object, copy=False)
    found = [c for c in schema.TEMPLATE_COLUMNS if c in columns]
    return RawTable(out, fil, rad_excel.reset_index(drop=True), dropped, problems, found)

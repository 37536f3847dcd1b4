"""Import: read the template's xlsx or a CSV export into a raw table of schema columns.

:func:`read_raw` is the only entry point the cleaning stage needs. It

* reads ``.xlsx`` (sheet ``Data`` or params ``sheet``) or CSV (separator ``;`` ``,`` or tab and the
  encoding sniffed, or params ``csv_sep`` / ``encoding``);
* matches headers case- and whitespace-insensitively against schema names, Swedish and English
  labels, after renaming export headers with params ``mapping.columns``;
* recodes export values (``mapping.values``), expands one multi-valued reason column into the
  ``orsak_*`` Ja/Nej columns (``mapping.reasons``) and drops ``mapping.drop``;
* drops - and reports - every column that is not in the schema (a free-text column that contains
  personnummer-like strings is reported as such) and every column whose header looks like a
  personnummer;
* refuses a file whose name (or path) looks like it contains a personnummer;
* keeps every value of a schema column as the cell's text (``str`` or ``None``): typing,
  validation, the row-level personnummer check and derivation are the cleaning stage's job. The
  ``personnummer`` column is kept: cleaning derives ``barn_id``, age and sex from it and then drops
  it. A :class:`RawTable` must never be written to disk.

Headers reach the reports only when they are *declared*: a schema name or label, or a header named
in the params ``mapping``. Any other header is shown by its column letter (``(kolumn H)``), so a
header holding a name or a personnummer is never repeated; values in problems are shown by their
shape only (:func:`genomlysning.problems.shape`).
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import difflib
import io
import re
import unicodedata
import warnings
import xml.etree.ElementTree as ET
import zipfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import numpy as np
import pandas as pd

from genomlysning import paths, personnummer, schema
from genomlysning.params import DEFAULT_MAX_CELLS, DEFAULT_MAX_XLSX_MB
from genomlysning.problems import Problem, Severity, shape

#: File suffixes read as CSV.
CSV_SUFFIXES: frozenset[str] = frozenset({".csv", ".txt", ".tsv"})
#: File suffixes read as Excel workbooks.
XLSX_SUFFIXES: frozenset[str] = frozenset({".xlsx", ".xlsm"})
#: Default sheet of the template.
DEFAULT_SHEET = "Data"
#: Separators tried when sniffing a CSV file, in order of preference on ties.
CSV_SEPARATORS: tuple[str, ...] = (";", ",", "\t", "|")
#: Base of the private-use characters that stand for stray non-UTF-8 bytes while a file is read.
_STRAY_BASE = 0xF780
_STRAY_RE = re.compile("[\uf780-\uf87f]")
#: Encodings tried in order when params give none.
ENCODINGS: tuple[str, ...] = ("utf-8-sig", "cp1252", "latin-1")
#: Rows searched for the header row when the first row does not look like one.
HEADER_SCAN = 30
#: Where the valid headers are documented (messages point there instead of listing all 40).
_HEADERS_DOC = "se bladet Kolumner i mallen: genomlysning template mall.xlsx"
#: What would be valid instead of a stray non-UTF-8 byte.
_STRAY_VALID = ("spara filen som CSV UTF-8 (Excel: Spara som > CSV UTF-8), eller ange encoding: cp1252 i "
                "params-filen om hela filen är Windows-1252")
#: Default separator of a multi-valued reason column.
DEFAULT_REASON_SEPARATOR = ";"

#: Reasons a column is dropped (the text shown in the report).
DROP_FREE_TEXT_PNR = "fritext med personnummer"
DROP_HEADER_PNR = "rubriken liknar ett personnummer (visas inte)"
#: Added to the reason when (nearly) every value is a personnummer: probably the child's own column.
HINT_PNR_COLUMN = ("; kolumnen ser ut att innehålla barnets personnummer – ange i så fall "
                   "mapping.columns: {{<rubriken i {header}>: personnummer}} i params-filen")
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
    are all ``None``; ``columns_found`` lists the ones the file had, :attr:`columns_absent` the
    absent ones that change indicators) and a RangeIndex; values are
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
    #: None when not known (a table built in code): every column then counts as present.
    columns_found: list[str] | None = None

    @property
    def columns_absent(self) -> list[str]:
        """:func:`absent_columns` of the file (empty when ``columns_found`` is not known)."""
        return [] if self.columns_found is None else absent_columns(self.columns_found)

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


def column_letter(pos: int) -> str:
    """Excel's letter(s) of the 0-based column ``pos``: 0 -> A, 25 -> Z, 26 -> AA."""
    letters = ""
    pos += 1
    while pos:
        pos, rest = divmod(pos - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


def header_display(header: str, pos: int, declared: set[str]) -> str:
    """How a header appears in reports: as written when declared (schema or params mapping),
    otherwise ``(kolumn H)`` - an undeclared header may hold a name or a personnummer."""
    if normalise_header(header) in declared and not personnummer.contains(header):
        return " ".join(str(header).split())
    return f"(kolumn {column_letter(pos)})"


def check_file_name(fil: str) -> None:
    """IngestError when the file's name or path looks like it contains a personnummer (masked)."""
    if personnummer.contains(fil):
        raise IngestError(
            f"{personnummer.mask(fil)}: filens namn eller sökväg ser ut att innehålla ett personnummer "
            "(10 eller 12 siffror i form av ett födelsedatum och fyra siffror; visas inte här). Filnamn "
            "hamnar i rapporterna: byt namn på filen, t.ex. till aktualiseringar.csv, och ange det nya "
            "namnet under input: i params-filen.")


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


#: Input columns whose absence from a file is expected (derived from the personnummer, optional):
#: not reported as absent.
ABSENT_SILENT: frozenset[str] = frozenset({"personnummer", "barn_id", "alder", "kon", "omrade",
                                           "barnsamtal_antal"})
#: What the reports say about an absent column.
ABSENT_NOTE = ("saknas i filen: dess indikatorer redovisas som ej tillgängliga (inte som noll); lägg till "
               "kolumnen, döp om den med mapping.columns eller härled den med mapping.derive i params-filen")


def absent_columns(found: Sequence[str]) -> list[str]:
    """Input columns a file lacks whose absence changes indicators (not the ones derived from the
    personnummer or optional; the reason columns only when the file has none of them)."""
    silent = set(ABSENT_SILENT)
    if any(c in found for c in schema.REASON_COLUMNS):
        silent |= set(schema.REASON_COLUMNS)
    else:
        silent |= set(schema.REASON_COLUMNS[1:])
    return [c for c in schema.TEMPLATE_COLUMNS if c not in found and c not in silent]


@dataclass(frozen=True)
class Derivation:
    """A Ja/Nej column derived from another column of the export (params ``mapping.derive``).

    ``Ja`` where the source cell holds a date, blank where it is blank (or ``Nej`` with ``blank: Nej``);
    any other value is passed on unchanged, so the cleaning reports it as an unknown code.
    """

    target: str
    source: str  # normalised header
    blank: str | None = None


def mapping_derive(params: dict[str, Any] | None) -> list[Derivation]:
    """The checked ``mapping.derive`` entries: ``{ja_nej_column: header}`` or
    ``{ja_nej_column: {from: header, blank: Nej}}`` (Ja where the header's cell holds a date)."""
    spec = _mapping(params).get("derive") or {}
    if not isinstance(spec, dict):
        raise IngestError("params mapping.derive: väntade {<Ja/Nej-kolumn>: <rubrik med ett datum>}")
    out: list[Derivation] = []
    for target, src in spec.items():
        where = f"mapping.derive[{target!r}]"
        name = _resolve_column(str(target), where)
        if schema.column(name).dtype != "bool":
            raise IngestError(f"params {where}: {name} är ingen Ja/Nej-kolumn; mapping.derive härleder bara "
                              "Ja/Nej-kolumner (Ja där källkolumnen har ett datum)")
        blank: str | None = None
        if isinstance(src, dict):
            unknown = set(src) - {"from", "blank"}
            if "from" not in src or unknown:
                raise IngestError(f"params {where}: väntade {{from: <rubrik>, blank: Nej}}; giltiga nycklar: "
                                  "from, blank")
            if src.get("blank") is not None:
                blank = _code_target(name, src["blank"], where + "[blank]")
            src = src["from"]
        out.append(Derivation(name, normalise_header(src), blank))
    return out


def derive_flag(s: pd.Series, blank: str | None) -> pd.Series:
    """``Ja`` where ``s`` holds a readable date, ``blank`` where it is blank, else the value itself."""
    from genomlysning.clean import parse_date  # the cleaning's date reader: one definition of a date

    uniques = pd.unique(s.dropna().to_numpy(dtype=object))
    table = {u: (_JA if parse_date(str(u)) is not None else u) for u in uniques}
    out = s.map(table).astype(object)
    return out.where(s.notna(), blank)


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
    distinct: dict[Any, np.ndarray] | None = None  # distinct non-empty values per column, if known
    #: Cell-level problems ``(rad_excel, column position, regel, allvarlighet, giltigt)``, reported by
    #: :func:`read_raw` only for columns it reads (named by their schema column).
    cell_problems: list[tuple[int, int, str, Severity, str]] = field(default_factory=list)
    header_row: int = 1  # the Excel row of the header
    sep: str | None = None  # the CSV separator used (None: a workbook)

    def has_pnr(self, pos: Any) -> pd.Series:
        """Cells of column ``pos`` that contain a personnummer-like string."""
        return _has_pnr(self.frame[pos], None if self.distinct is None else self.distinct.get(pos))


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


_SML = ("http://schemas.openxmlformats.org/spreadsheetml/2006/main",
        "http://purl.oclc.org/ooxml/spreadsheetml/main")
_REL_NS = ("http://schemas.openxmlformats.org/officeDocument/2006/relationships",
           "http://purl.oclc.org/ooxml/officeDocument/relationships")


def _tags(local: str) -> frozenset[str]:
    """Expat names (``uri}local``, plus the unqualified form) of a SpreadsheetML element."""
    return frozenset({f"{ns}}}{local}" for ns in _SML} | {local})


_ROW, _C, _V, _T, _IS, _RPH, _F = (_tags(x) for x in ("row", "c", "v", "t", "is", "rPh", "f"))


@dataclass
class _XlsxInfo:
    """What the xlsx readers learn besides the rows: the limits to respect, the Excel positions
    ``(row, 0-based column)`` of formula cells without a saved value, and file-level notes."""

    max_bytes: int = DEFAULT_MAX_XLSX_MB * 2**20
    max_cells: int = DEFAULT_MAX_CELLS
    formulas: list[tuple[int, int]] = field(default_factory=list)
    notes: list[Problem] = field(default_factory=list)


def _limits(params: dict[str, Any] | None) -> _XlsxInfo:
    """The reader limits of params ``max_xlsx_mb`` and ``max_cells`` (else the defaults)."""
    prm = params or {}
    return _XlsxInfo(int(prm.get("max_xlsx_mb") or DEFAULT_MAX_XLSX_MB) * 2**20,
                     int(prm.get("max_cells") or DEFAULT_MAX_CELLS))


class _LimitExceededError(IngestError):
    """Raised inside the sheet parser when a limit of :class:`_XlsxInfo` is passed (``"cells"`` or
    ``"bytes"``); turned into an IngestError naming the file and the limit."""


def _n(x: int) -> str:
    """A whole number with spaces between thousands (Swedish style)."""
    return f"{x:,}".replace(",", " ")


def _too_many_cells(fil: str, limit: int) -> IngestError:
    return IngestError(f"{fil}: bladet har fler än {_n(limit)} celler (gränsen max_cells)"
                       "; ta bort tomma eller formaterade rader och kolumner, dela upp filen, spara den "
                       "som CSV eller höj max_cells i params-filen om filen verkligen är så stor")


def check_xlsx_size(zf: zipfile.ZipFile, fil: str, max_bytes: int) -> None:
    """IngestError when the workbook's parts unpack to more than ``max_bytes`` (a zip bomb, or a
    sheet padded with millions of empty cells); checked from the zip directory, before any read."""
    total = sum(max(i.file_size, 0) for i in zf.infolist())
    if total > max_bytes:
        raise IngestError(
            f"{fil}: arbetsboken packas upp till {_n(round(total / 2**20))} MB, mer än gränsen "
            f"{_n(max_bytes // 2**20)} MB (max_xlsx_mb); filen läses inte. Spara den som CSV, ta bort "
            "tomma rader och kolumner, eller höj max_xlsx_mb i params-filen om filen är pålitlig")


def _wrong_sheet(fil: str, wanted: str, names: Sequence[str], hidden: frozenset[str] = frozenset()
                 ) -> IngestError:
    shown = ", ".join(personnummer.mask(n) + (" (dolt)" if n in hidden else "") for n in names)
    return IngestError(f"{fil}: bladet {wanted!r} finns inte; bladen heter: {shown}. "
                       "Ange rätt blad med 'sheet:' i params-filen.")


def _pick_sheet(fil: str, names: Sequence[str], sheet: str | None, hidden: frozenset[str] = frozenset(),
                notes: list[Problem] | None = None) -> str:
    """The sheet to read: params ``sheet`` (hidden or not), else the visible ``Data``, else the
    only visible sheet. A hidden sheet is never read unless named: it may hold stale rows."""
    if sheet is not None:
        if sheet in names:
            return sheet
        raise _wrong_sheet(fil, sheet, names, hidden)
    visible = [n for n in names if n not in hidden]
    if DEFAULT_SHEET in visible:
        return DEFAULT_SHEET
    if len(visible) == 1:
        if DEFAULT_SHEET in hidden and notes is not None:
            notes.append(Problem(
                fil, 0, "", "", f"det dolda bladet {DEFAULT_SHEET!r} lästes inte; det synliga bladet "
                f"{personnummer.mask(visible[0])!r} lästes i stället", "varning",
                f"ange 'sheet: {DEFAULT_SHEET}' i params-filen om det dolda bladet är det rätta"))
        return visible[0]
    if not visible:
        shown = ", ".join(map(personnummer.mask, names))
        raise IngestError(f"{fil}: arbetsboken har bara dolda blad ({shown}); visa bladet i Excel eller "
                          "ange det med 'sheet:' i params-filen")
    raise _wrong_sheet(fil, DEFAULT_SHEET, names, hidden)


def _xml_children(elem: ET.Element, local: str) -> list[ET.Element]:
    return [e for e in elem.iter() if e.tag.rpartition("}")[2] == local]


def _shared_strings(zf: zipfile.ZipFile, path: str) -> list[str | None]:
    if path not in zf.namelist():
        return []
    out: list[str | None] = []
    for si in ET.fromstring(zf.read(path)):
        parts: list[str] = []
        for node in si.iter():
            local = node.tag.rpartition("}")[2]
            if local == "rPh":  # phonetic guide: not part of the text
                for t in node.iter():
                    t.text = None
            elif local == "t" and node.text:
                parts.append(node.text)
        out.append("".join(parts).strip() or None)
    return out


def _date_styles(zf: zipfile.ZipFile, path: str) -> frozenset[int]:
    """Indexes of the cell formats (``s`` attribute) that display a number as a date."""
    from openpyxl.styles.numbers import BUILTIN_FORMATS, is_date_format

    if path not in zf.namelist():
        return frozenset()
    root = ET.fromstring(zf.read(path))
    custom = {int(e.get("numFmtId", "0")): e.get("formatCode", "") for e in _xml_children(root, "numFmt")}
    xfs = [e for e in root if e.tag.rpartition("}")[2] == "cellXfs"]
    out = set()
    for i, xf in enumerate(xfs[0] if xfs else []):
        fmt_id = int(xf.get("numFmtId", "0"))
        code = custom.get(fmt_id) or BUILTIN_FORMATS.get(fmt_id)
        if code and is_date_format(code):
            out.add(i)
    return frozenset(out)


def _serial_text(serial: float, date1904: bool) -> str:
    """ISO text of an Excel serial date (date only when there is no time of day)."""
    base = dt.datetime(1904, 1, 1) if date1904 else dt.datetime(1899, 12, 30)
    if not date1904 and serial < 60:  # Excel's fictitious 1900-02-29
        serial += 1
    moment = base + dt.timedelta(seconds=round(serial * 86400))
    return moment.date().isoformat() if moment.time() == dt.time(0, 0) else moment.isoformat(sep=" ")


def _number_text(text: str) -> str:
    if text.lstrip("-").isdigit():
        return text
    return _cell_text(float(text)) or text


def _column_index(ref: str, cache: dict[str, int]) -> int:
    letters = ref.rstrip("0123456789")
    idx = cache.get(letters)
    if idx is None:
        idx = 0
        for ch in letters:
            idx = idx * 26 + ord(ch.upper()) - 64
        cache[letters] = idx
    return idx - 1


def _sheet_rows(data: bytes | IO[bytes], shared: list[str | None], date_styles: frozenset[int],
                date1904: bool, info: _XlsxInfo | None = None) -> list[tuple[int, list[str | None]]]:
    """(Excel row number, cell texts) of every non-empty row of a worksheet's XML (expat).

    ``data`` may be a binary stream (parsed in chunks, so the XML is never held whole). With
    ``info``: at most ``info.max_cells`` cells and ``info.max_bytes`` bytes are read (IngestError
    beyond), and formula cells without a saved value are listed in ``info.formulas``.
    """
    from xml.parsers import expat

    rows: list[tuple[int, list[str | None]]] = []
    cols: dict[str, int] = {}
    dates: dict[str, str] = {}
    limit = info.max_cells if info is not None else None
    st: dict[str, Any] = {"row": 0, "cells": [], "col": -1, "t": "n", "s": None, "buf": [],
                          "collect": False, "is": False, "rph": False, "f": False, "n": 0}

    def start(name: str, attrs: dict[str, str]) -> None:
        if name in _C:
            st["n"] += 1
            if limit is not None and st["n"] > limit:
                raise _LimitExceededError("cells")
            st["f"] = False
            ref = attrs.get("r")
            st["col"] = _column_index(ref, cols) if ref else st["col"] + 1
            st["t"] = attrs.get("t", "n")
            s = attrs.get("s")
            st["s"] = int(s) if s else None
            st["buf"] = []
        elif name in _V:
            st["collect"] = True
        elif name in _T:
            st["collect"] = st["is"] and not st["rph"]
        elif name in _ROW:
            r = attrs.get("r")
            st["row"] = int(r) if r else st["row"] + 1
            st["cells"] = []
            st["col"] = -1
        elif name in _IS:
            st["is"] = True
        elif name in _RPH:
            st["rph"] = True
        elif name in _F:
            st["f"] = True

    def end(name: str) -> None:
        if name in _V or name in _T:
            st["collect"] = False
        elif name in _C:
            text = "".join(st["buf"])
            t = st["t"]
            if st["f"] and not text and t != "str" and info is not None:
                info.formulas.append((st["row"], st["col"]))
            value: str | None
            if t == "s":
                value = shared[int(text)] if text else None
            elif t == "n":
                if not text:
                    value = None
                elif st["s"] in date_styles:
                    value = dates.get(text)
                    if value is None:
                        value = dates[text] = _serial_text(float(text), date1904)
                else:
                    value = _number_text(text)
            elif t == "b":
                value = _JA if text.strip() == "1" else _NEJ if text else None
            elif t == "d":
                value = _cell_text(dt.datetime.fromisoformat(text.rstrip("Z"))) if text else None
            else:  # str (formula result), inlineStr, e (error such as #N/A)
                value = text.strip() or None
            if value is not None:
                cells = st["cells"]
                col = st["col"]
                if col >= len(cells):
                    cells.extend([None] * (col + 1 - len(cells)))
                cells[col] = value
        elif name in _ROW:
            if st["cells"]:
                rows.append((st["row"], st["cells"]))
        elif name in _IS:
            st["is"] = False
        elif name in _RPH:
            st["rph"] = False

    def chars(text: str) -> None:
        if st["collect"]:
            st["buf"].append(text)

    parser = expat.ParserCreate(namespace_separator="}")
    parser.buffer_text = True
    parser.StartElementHandler = start
    parser.EndElementHandler = end
    parser.CharacterDataHandler = chars
    if isinstance(data, bytes):
        parser.Parse(data, True)
        return rows
    read = 0
    while chunk := data.read(1 << 22):
        read += len(chunk)
        if info is not None and read > info.max_bytes:
            raise _LimitExceededError("bytes")
        parser.Parse(chunk, False)
    parser.Parse(b"", True)
    return rows


def _xlsx_rows_fast(path: Path, fil: str, sheet: str | None, info: _XlsxInfo | None = None
                    ) -> list[tuple[int, list[str | None]]]:
    """Rows of the chosen sheet, read straight from the package XML (several times faster than
    openpyxl's read-only mode, which builds a Python object per cell), the sheet streamed."""
    import posixpath

    with zipfile.ZipFile(path) as zf:
        if info is not None:
            check_xlsx_size(zf, fil, info.max_bytes)
        wb = ET.fromstring(zf.read("xl/workbook.xml"))
        rels = ET.fromstring(zf.read("xl/_rels/workbook.xml.rels"))
        targets = {r.get("Id"): r.get("Target", "") for r in rels}
        sheets = {}
        hidden = set()
        for e in _xml_children(wb, "sheet"):
            rid = next((v for k, v in e.attrib.items() if k.rpartition("}")[2] == "id"), None)
            sheets[e.get("name", "")] = targets.get(rid, "")
            if e.get("state", "visible") in ("hidden", "veryHidden"):
                hidden.add(e.get("name", ""))
        pr = _xml_children(wb, "workbookPr")
        date1904 = bool(pr) and pr[0].get("date1904", "0") in ("1", "true")
        name = _pick_sheet(fil, list(sheets), sheet, frozenset(hidden), info.notes if info else None)
        target = sheets[name]
        part = target.lstrip("/") if target.startswith("/") else posixpath.normpath(f"xl/{target}")
        shared_path = "xl/sharedStrings.xml"
        styles_path = "xl/styles.xml"
        for r in rels:
            kind = r.get("Type", "").rpartition("/")[2]
            tgt = r.get("Target", "")
            full = tgt.lstrip("/") if tgt.startswith("/") else posixpath.normpath(f"xl/{tgt}")
            if kind == "sharedStrings":
                shared_path = full
            elif kind == "styles":
                styles_path = full
        shared, styles = _shared_strings(zf, shared_path), _date_styles(zf, styles_path)
        try:
            with zf.open(part) as fh:
                return _sheet_rows(fh, shared, styles, date1904, info)
        except _LimitExceededError as exc:
            assert info is not None
            if str(exc) == "cells":
                raise _too_many_cells(fil, info.max_cells) from None
            raise IngestError(f"{fil}: bladet är större uppackat än gränsen {_n(info.max_bytes // 2**20)} MB "
                              "(max_xlsx_mb); spara filen som CSV eller höj max_xlsx_mb") from None


def _xlsx_rows_openpyxl(path: Path, fil: str, sheet: str | None, info: _XlsxInfo | None = None
                        ) -> list[tuple[int, list[str | None]]]:
    """Rows of the chosen sheet through openpyxl (the reference reader and the fallback)."""
    import openpyxl

    if info is not None:
        with zipfile.ZipFile(path) as zf:
            check_xlsx_size(zf, fil, info.max_bytes)
    wb = openpyxl.load_workbook(path, read_only=True, data_only=True)
    try:
        hidden = frozenset(ws.title for ws in wb.worksheets if ws.sheet_state != "visible")
        ws = wb[_pick_sheet(fil, wb.sheetnames, sheet, hidden, info.notes if info else None)]
        ws.reset_dimensions()
        rows = []
        cells = 0
        for i, raw in enumerate(ws.iter_rows(values_only=True), start=1):
            cells += len(raw)
            if info is not None and cells > info.max_cells:
                raise _too_many_cells(fil, info.max_cells)
            texts = [_cell_text(v) for v in raw]
            while texts and texts[-1] is None:
                texts.pop()
            if texts:
                rows.append((i, texts))
        return rows
    finally:
        wb.close()


def _read_xlsx(path: Path, fil: str, params: dict[str, Any]) -> _Sheet:
    info = _limits(params)
    sheet = params.get("sheet")
    try:
        rows = _xlsx_rows_fast(path, fil, sheet, info)
    except IngestError:
        raise
    except Exception:  # noqa: BLE001 - an unusual package layout: let openpyxl try
        info = _limits(params)
        try:
            rows = _xlsx_rows_openpyxl(path, fil, sheet, info)
        except IngestError:
            raise
        except Exception as exc:  # noqa: BLE001 - any unreadable workbook is reported the same way
            raise IngestError(f"{fil}: kan inte läsas som Excel-fil ({type(exc).__name__}); spara den "
                              "som .xlsx eller som CSV (semikolonseparerad, UTF-8)") from None
    out = _sheet_from_rows(rows, fil, sheet, _known_headers(params), set(info.formulas))
    out.problems[:0] = info.notes
    for row, col in info.formulas:
        out.cell_problems.append((row, col, "formelcell utan sparat värde: cellens värde är okänt (filen "
                                  "har sparats av ett program som inte räknar ut formler)", "fel",
                                  "öppna filen i Excel och spara den (då räknas formlerna ut), eller "
                                  "ersätt formlerna med värden"))
    return out


def header_row_index(rows: Sequence[Sequence[str | None]], known: set[str], scan: int = HEADER_SCAN
                     ) -> int:
    """Position (0-based) among ``rows`` of the header row: the first row, unless one of the next
    ``scan`` rows holds at least two known headers and more than the first row does (a title or
    an export banner above the table)."""
    def hits(row: Sequence[str | None]) -> int:
        return sum(normalise_header(v) in known for v in row if v)

    if not rows:
        return 0
    scores = [hits(r) for r in rows[:scan]]
    best = max(range(len(scores)), key=lambda i: (scores[i], -i))
    return best if best > 0 and scores[best] >= 2 and scores[best] > scores[0] else 0


def _above_header_note(fil: str, first: int, header: int) -> Problem:
    """The file-level note that rows ``first``..``header - 1`` above the header were not read."""
    rows = f"rad {first}" if header - 1 == first else f"raderna {first}-{header - 1}"
    return Problem(fil, 0, "", "", f"rubrikraden är rad {header}, inte rad {first}: {rows} ovanför den "
                   "lästes inte in (text ovanför tabellen)", "varning",
                   "kolumnrubrikerna på första raden och inga rader ovanför tabellen")


def _sheet_from_rows(rows: list[tuple[int, list[str | None]]], fil: str, sheet: str | None,
                     known: set[str] | None = None, keep: set[tuple[int, int]] | None = None) -> _Sheet:
    """Header = the first non-empty row (or a later one that is clearly the header, see
    :func:`header_row_index`); the rest are data rows with their Excel row numbers. A row holding
    only formula cells without a value (``keep``: their positions) is kept, so its problem has a row."""
    formula_rows = {r for r, _ in keep or ()}
    rows = [(i, r) for i, r in rows if any(v is not None for v in r) or i in formula_rows]
    if not rows:
        raise IngestError(f"{fil}: bladet {sheet or DEFAULT_SHEET!r} är tomt; första raden ska vara "
                          f"kolumnrubrikerna ({_HEADERS_DOC})")
    at = header_row_index([r for _, r in rows], known or set())
    notes = [_above_header_note(fil, rows[0][0], rows[at][0])] if at else []
    header = [v or "" for v in rows[at][1]]
    body = rows[at + 1:]
    width = max([len(header), *(len(r) for _, r in body)])
    header += [""] * (width - len(header))
    if body:
        frame = pd.DataFrame([r + [None] * (width - len(r)) for _, r in body], columns=range(width),
                             dtype=object)
    else:
        frame = pd.DataFrame({i: pd.Series(dtype=object) for i in range(width)})
    return _Sheet(header, frame, pd.Series([i for i, _ in body], dtype="int64"), notes,
                  header_row=rows[at][0])


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


def _stray_to_private(exc: UnicodeError) -> tuple[str, int]:
    """Decode error handler: each byte that is not UTF-8 becomes a private-use marker character."""
    assert isinstance(exc, UnicodeDecodeError)
    bad = exc.object[exc.start:exc.end]
    return "".join(chr(_STRAY_BASE + b) for b in bad), exc.end


codecs.register_error("genomlysning-stray", _stray_to_private)


def _stray_char(marker: str) -> str:
    """The Windows-1252 reading of the byte behind a marker (Latin-1 for its five unused bytes)."""
    b = bytes([ord(marker) - _STRAY_BASE])
    try:
        return b.decode("cp1252")
    except UnicodeDecodeError:
        return b.decode("latin-1")


def looks_utf16(raw: bytes) -> bool:
    """True for UTF-16 text: a byte-order mark, or NUL in every other byte of an ASCII-range start
    (Excel's "Unicode text" is UTF-16 LE with a BOM)."""
    if raw[:2] in (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE):
        return True
    head = raw[:4096]
    return len(head) >= 8 and (head[1::2].count(0) > 0.9 * len(head[1::2]) or
                               head[0::2].count(0) > 0.9 * len(head[0::2]))


def _is_utf16_name(encoding: str | None) -> bool:
    try:
        return bool(encoding) and codecs.lookup(str(encoding)).name.startswith("utf-16")
    except LookupError:
        return False


@dataclass
class _Decoded:
    """A CSV file as bytes in an ASCII-compatible encoding, plus what the decoding noticed."""

    data: bytes
    encoding: str
    notes: list[Problem] = field(default_factory=list)
    stray: bool = False  # private-use markers stand for bytes that were not UTF-8


def decode_csv(raw: bytes, encoding: str | None, fil: str) -> _Decoded:
    """Decode a CSV file: params ``encoding``, else UTF-16 (detected), UTF-8, UTF-8 with a few
    stray Windows-1252 bytes (more valid UTF-8 letters than stray bytes: each stray cell is
    reported), Windows-1252, Latin-1. UTF-16 and stray bytes are re-encoded as UTF-8."""
    if _is_utf16_name(encoding) or (not encoding and looks_utf16(raw)):
        try:
            text = raw.decode(encoding or "utf-16")
        except UnicodeDecodeError:
            raise IngestError(f"{fil}: filen ser ut att vara UTF-16 men kan inte avkodas som det; spara den "
                              "som CSV UTF-8 (Excel: Spara som > CSV UTF-8)") from None
        notes = [] if encoding else [Problem(
            fil, 0, "", "", "filen är kodad som UTF-16 (Excels 'Unicode-text') och lästes som UTF-16",
            "varning", "spara gärna som CSV UTF-8 (Excel: Spara som > CSV UTF-8)")]
        return _Decoded(text.lstrip("\ufeff").encode("utf-8"), "utf-8", notes)
    if encoding:
        return _Decoded(raw, _decode_probe(raw, encoding, fil))
    try:
        raw.decode("utf-8-sig")
        return _Decoded(raw, "utf-8-sig")
    except UnicodeDecodeError:
        pass
    text = raw.decode("utf-8-sig", errors="genomlysning-stray")
    stray = len(_STRAY_RE.findall(text))
    non_ascii = len(text) - len(text.encode("ascii", errors="ignore"))
    if non_ascii - stray > stray:
        return _Decoded(text.encode("utf-8"), "utf-8", stray=True)
    return _Decoded(raw, _decode_probe(raw, None, fil))


def sniff_separator(sample: str, known: Iterable[str] = ()) -> str:
    """The separator (``;`` ``,`` tab or ``|``) of a CSV sample.

    Scored, in order, by how many header fields are known headers (``known``: normalised schema
    names/labels and mapped export headers), how many of the first records have the header's
    width, and the header's width. Records are parsed with quotes, so quoted line breaks count
    as one record.
    """
    known_set = {normalise_header(k) for k in known}
    best, best_score = CSV_SEPARATORS[0], (-1, -1, -1)
    for sep in CSV_SEPARATORS:
        records: list[list[str]] = []
        try:
            for rec in csv.reader(io.StringIO(sample, newline=""), delimiter=sep):
                records.append(rec)
                if len(records) > 50:
                    break
        except csv.Error:
            continue
        records = [r for r in records[:50] if r]
        if not records:
            continue
        header, body = records[0], records[1:-1] if len(records) > 2 else records[1:]
        width = len(header)
        hits = sum(normalise_header(h) in known_set for h in header)
        consistent = sum(len(r) == width for r in body) if width > 1 else 0
        score = (hits, consistent, width)
        if score > best_score:
            best, best_score = sep, score
    return best


def _strip_or_none(value: object) -> str | None:
    if value is None or (isinstance(value, float) and value != value):
        return None
    text = str(value).strip()
    return text or None


def _text_frame(frame: pd.DataFrame, numbers: pd.Series
                ) -> tuple[pd.DataFrame, pd.Series, dict[Any, np.ndarray]]:
    """Strip every cell, turn empty text into None and drop rows that are entirely empty.

    Works on the distinct values of each column (``pd.factorize``), so a 420 000-row export with a
    few hundred distinct dates and codes per column costs a hash pass, not a Python loop per cell.
    Also returns each column's distinct non-empty values (reused by the personnummer check).
    """
    out: dict[object, np.ndarray] = {}
    distinct: dict[Any, np.ndarray] = {}
    keep = np.zeros(len(frame), dtype=bool)
    for c in frame.columns:
        codes, uniques = pd.factorize(frame[c].to_numpy(dtype=object), use_na_sentinel=False)
        cleaned = np.array([_strip_or_none(v) for v in uniques] + [None], dtype=object)
        present = np.array([v is not None for v in cleaned], dtype=bool)
        keep |= present[codes]
        out[c] = cleaned[codes]
        distinct[c] = cleaned[present]
    result = pd.DataFrame({c: v[keep] for c, v in out.items()}, columns=frame.columns, dtype=object,
                          copy=False)
    return result, numbers.loc[keep].reset_index(drop=True), distinct


def _field_counts(data: bytes, sep: str, chunk: int = 1 << 24) -> np.ndarray:
    """Fields per record of CSV ``data`` (header first), with ``"`` quoting: separators and line
    breaks inside quotes do not count. Vectorised over 16 MB chunks (the quote parity carried over),
    so a million rows cost a fraction of a second."""
    quote, sepb, nl = ord('"'), ord(sep), ord("\n")
    parts: list[np.ndarray] = []
    inside, carry, open_record = 0, 0, False
    for start in range(0, len(data), chunk):
        b = np.frombuffer(data, dtype=np.uint8, count=min(chunk, len(data) - start), offset=start)
        outside = ((np.cumsum(b == quote, dtype=np.uint8) + inside) & 1) == 0
        nl_pos = np.flatnonzero((b == nl) & outside)
        sep_pos = np.flatnonzero((b == sepb) & outside)
        before = np.searchsorted(sep_pos, nl_pos)
        per = np.diff(before, prepend=0) + 1
        if len(per):
            per[0] += carry
            carry = len(sep_pos) - int(before[-1])
            open_record = int(nl_pos[-1]) < len(b) - 1
        else:
            carry += len(sep_pos)
            open_record = open_record or len(b) > 0
        parts.append(per)
        inside = (inside + int(np.count_nonzero(b == quote))) & 1
    if open_record:
        parts.append(np.array([carry + 1]))
    return np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)


def _short_row(fil: str, rad: int, n: int, width: int, sep: str) -> Problem:
    return Problem(fil, rad, "", f"{n} fält", f"raden har {n} fält men rubrikraden har {width}: de sista "
                   "kolumnernas värden saknas", "fel",
                   f"lika många fält som rubrikraden; kontrollera avgränsaren ({sep!r}), citattecken och "
                   "radbrytningar inne i celler")


def _read_csv_ragged(text: str, sep: str, width: int, fil: str, first: int = 2
                     ) -> tuple[pd.DataFrame, pd.Series, list[Problem]]:
    """Slow path for rows whose width differs from the header's: extra empty fields are ignored,
    a row with extra non-empty fields is kept truncated and a row with fewer fields (and some
    value) is kept padded; both get a ``fel`` problem (they are quarantined). ``text`` starts
    with the header row; ``first`` is the Excel row of the first data row."""
    rows: list[list[str]] = []
    numbers: list[int] = []
    problems: list[Problem] = []
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=sep)
    next(reader, None)
    for i, row in enumerate(reader, start=first):
        if len(row) > width:
            extra = [x for x in row[width:] if x.strip()]
            if extra:
                problems.append(Problem(
                    fil, i, "", shape(sep.join(extra)),
                    f"raden har {len(row)} fält men rubrikraden har {width}", "fel",
                    f"lika många fält som rubrikraden; kontrollera avgränsaren ({sep!r}) och citattecken"))
            row = row[:width]
        elif len(row) < width and any(x.strip() for x in row):
            problems.append(_short_row(fil, i, len(row), width, sep))
        rows.append(row + [""] * (width - len(row)))
        numbers.append(i)
    frame = pd.DataFrame(rows, columns=range(width), dtype=object) if rows else \
        pd.DataFrame({i: pd.Series(dtype=object) for i in range(width)})
    return frame, pd.Series(numbers, dtype="int64"), problems


def _known_headers(params: dict[str, Any]) -> set[str]:
    """Normalised headers a file may legitimately have (schema names/labels, mapped exports)."""
    known = set(header_lookup()) | set(mapping_columns(params)) | mapping_drop(params)
    reasons = mapping_reasons(params)
    return known | ({reasons[0]} if reasons else set())


@dataclass
class _CsvLayout:
    """Where a CSV table starts: separator, physical lines before the header row, the Excel row of
    the header (a ``sep=`` first line is not shown by Excel) and what was noticed."""

    sep: str
    skip: int
    header_row: int
    notes: list[Problem] = field(default_factory=list)


_SEP_LINE = re.compile(r'\s*"?sep=(.)"?[;,|\t]*\s*', re.IGNORECASE)


def csv_layout(head: str, params: dict[str, Any], fil: str) -> _CsvLayout:
    """Find the separator and the header row of a CSV sample: Excel's ``sep=;`` first line is
    honoured and skipped; a title above the table is skipped when a later row is clearly the
    header (:func:`header_row_index`); ``|`` is read but noted, as it is unusual."""
    lines = head.split("\n")[:HEADER_SCAN + 2]
    notes: list[Problem] = []
    start, hint = 0, None
    m = _SEP_LINE.fullmatch(lines[0].lstrip("\ufeff").rstrip("\r")) if lines else None
    if m and m.group(1) in CSV_SEPARATORS:
        start, hint = 1, m.group(1)
        notes.append(Problem(fil, 0, "", "", f"första raden 'sep={hint}' är en anvisning till Excel om "
                             "avgränsaren och lästes inte som data (radnumren räknas som Excel visar dem)",
                             "varning", "kolumnrubrikerna på första raden"))
    given = params.get("csv_sep") or hint
    known = _known_headers(params)
    block = lines[start:start + HEADER_SCAN]
    best = (-1, 0)  # (hits of the header row, position)
    for sep in (given,) if given else CSV_SEPARATORS:
        rows = [next(csv.reader([line.rstrip("\r")], delimiter=sep), []) for line in block]
        at = header_row_index(rows, known)
        hits = sum(normalise_header(v) in known for v in rows[at]) if rows else 0
        if (hits, -at) > (best[0], -best[1]):
            best = (hits, at)
    at = best[1]
    header_row = at + 1
    if at:
        notes.append(_above_header_note(fil, 1, header_row))
    rest = "\n".join(head.split("\n")[start + at:])
    sep = given or sniff_separator(rest, known)
    if sep == "|" and not given:
        notes.append(Problem(fil, 0, "", "", "avgränsaren är '|' (lodstreck), inte semikolon; filen lästes "
                             "med '|'", "varning",
                             "semikolon (;), komma eller tabb, eller ange csv_sep: '|'"))
    return _CsvLayout(sep, start + at, header_row, notes)


def _line_offset(data: bytes, lines: int) -> int:
    """Byte offset of the start of physical line ``lines`` (0-based) of ``data``."""
    pos = 0
    for _ in range(lines):
        nxt = data.find(b"\n", pos)
        if nxt < 0:
            return len(data)
        pos = nxt + 1
    return pos


def _resolve_stray(sheet: _Sheet, fil: str) -> None:
    """Replace the markers of stray non-UTF-8 bytes by their Windows-1252 reading, in headers and
    cells, and report each cell (a ``varning``: the reading is almost always right)."""
    def fix(text: str) -> str:
        return _STRAY_RE.sub(lambda m: _stray_char(m.group()), text)

    for pos, header in enumerate(sheet.headers):
        if _STRAY_RE.search(header):
            sheet.headers[pos] = fix(header)
            sheet.problems.append(Problem(fil, 0, "", "", f"rubriken i kolumn {column_letter(pos)} har ett "
                                          "tecken som inte är UTF-8; det lästes som Windows-1252", "varning",
                                          _STRAY_VALID))
    for pos in sheet.frame.columns:
        values = sheet.distinct.get(pos) if sheet.distinct is not None else None
        if values is None:
            values = pd.unique(sheet.frame[pos].dropna().to_numpy(dtype=object))
        bad = [v for v in values if _STRAY_RE.search(str(v))]
        if not bad:
            continue
        col = sheet.frame[pos]
        hit = col.isin(bad)
        for rad, value in zip(sheet.rad_excel[hit.to_numpy()], col[hit], strict=True):
            chars = "".join(dict.fromkeys(_stray_char(m) for m in _STRAY_RE.findall(str(value))))
            sheet.cell_problems.append((int(rad), int(pos), f"tecken som inte är UTF-8 lästes som "
                                        f"Windows-1252 ({chars!r})", "varning", _STRAY_VALID))
        sheet.frame[pos] = col.where(~hit, col[hit].map(fix))
        if sheet.distinct is not None:
            sheet.distinct[pos] = np.array([fix(str(v)) if v in bad else v for v in values], dtype=object)


def _read_csv(path: Path, fil: str, params: dict[str, Any]) -> _Sheet:
    raw = path.read_bytes()
    if not raw.strip():
        raise IngestError(f"{fil}: filen är tom; första raden ska vara kolumnrubrikerna ({_HEADERS_DOC})")
    dec = decode_csv(raw, params.get("encoding"), fil)
    data, enc = dec.data, dec.encoding
    layout = csv_layout(data[:200_000].decode(enc, errors="ignore"), params, fil)
    if layout.skip:
        data = data[_line_offset(data, layout.skip):]
    head = data[:200_000].decode(enc, errors="ignore")
    sep = layout.sep
    header = next(csv.reader(io.StringIO(head, newline=""), delimiter=sep), [])
    width = len(header)
    first = layout.header_row + 1
    problems: list[Problem] = dec.notes + layout.notes
    try:
        with warnings.catch_warnings():
            # more fields than the header: pandas would truncate with only a warning
            warnings.simplefilter("error", pd.errors.ParserWarning)
            frame = pd.read_csv(io.BytesIO(data), sep=sep, encoding=enc, header=0, names=range(width),
                                dtype=object, keep_default_na=False, na_filter=False,
                                skip_blank_lines=False, index_col=False, engine="c", quotechar='"')
        counts = _field_counts(data, sep)
        if len(counts) != len(frame) + 1:  # unusual quoting: let the csv module count the fields
            raise pd.errors.ParserError("record count differs")
        numbers = pd.Series(range(first, len(frame) + first), dtype="int64", index=frame.index)
        short = np.flatnonzero(counts[1:] < width)
        if len(short):  # pandas pads a short row silently: its missing values would look blank
            filled = (frame.iloc[short] != "").any(axis=1).to_numpy()
            problems += [_short_row(fil, first + int(i), int(counts[i + 1]), width, sep)
                         for i in short[filled]]
    except (pd.errors.ParserError, pd.errors.ParserWarning):
        frame, numbers, ragged = _read_csv_ragged(data.decode(enc), sep, width, fil, first)
        problems += ragged
    frame, numbers, distinct = _text_frame(frame, numbers)
    sheet = _Sheet(header, frame, numbers, problems, distinct, header_row=layout.header_row, sep=sep)
    if dec.stray:
        _resolve_stray(sheet, fil)
    return sheet


def read_table(path: Path, fil: str, params: dict[str, Any]) -> _Sheet:
    """Read a file into its original headers, a frame of text keyed 0..n-1 and Excel row numbers."""
    suffix = path.suffix.lower()
    if suffix in XLSX_SUFFIXES:
        return _read_xlsx(path, fil, params)
    if suffix in CSV_SUFFIXES:
        return _read_csv(path, fil, params)
    raise IngestError(f"{fil}: okänt filformat {suffix or '(inget)'!r}; giltiga: .xlsx (mallen) eller "
                      ".csv (semikolon, komma eller tabb). Spara .xls/.ods som .xlsx.")


# ---------------------------------------------------------------------------------------------
# Column resolution, recoding, reason expansion
# ---------------------------------------------------------------------------------------------

def _has_pnr(s: pd.Series, uniques: np.ndarray | None = None) -> pd.Series:
    """Boolean mask of cells containing a personnummer-like string (checked per distinct value)."""
    if uniques is None:
        uniques = pd.unique(s.to_numpy(dtype=object))
    hits = [v for v in uniques if v is not None and personnummer.contains(str(v))]
    if not hits:
        return pd.Series(False, index=s.index)
    return s.isin(hits)


def _recode(s: pd.Series, table: dict[str, str]) -> pd.Series:
    """Replace values whose normalised form is a key of ``table``."""
    if not table:
        return s
    notna = s.notna()
    if not notna.any():
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
            problems.append(Problem(fil, int(rad_excel.loc[idx]), header, shape(str(text).strip()),
                                    "okänd anmälningsorsak – raden räknas som Övrigt", "varning", valid))
        codes = codes.where(~unknown, "ovrigt")
    for c in schema.REASON_COLUMNS:
        out.loc[present, c] = _NEJ
    hits = pd.DataFrame({"idx": codes.index, "code": codes.to_numpy()}).drop_duplicates()
    for code, idx in hits.groupby("code")["idx"]:
        out.loc[idx.to_numpy(), schema.reason(str(code)).column] = _JA
    return out, problems


def _pnr_column_hint(s: pd.Series, header: str) -> str:
    """A hint to map the column to ``personnummer`` when at least 90 % of its values are one."""
    values = s.dropna()
    if values.empty:
        return ""
    share = values.map(personnummer.looks_like).mean()
    return HINT_PNR_COLUMN.format(header=header) if share >= 0.9 else ""


def _suggest(header: str) -> str:
    near = difflib.get_close_matches(normalise_header(header), list(header_lookup()), n=1, cutoff=0.75)
    return f"; menade du {schema.column(header_lookup()[near[0]]).sv!r}?" if near else ""


def _missing_diagnosis(headers: Sequence[str], declared: set[str], sheet: _Sheet) -> str:
    """Why required columns may be missing, in a few lines: one column only (another separator?),
    headers that look mis-decoded, or simply the headers found (at most 12, undeclared ones by
    column letter) and where the valid headers are documented."""
    named = [h for h in headers if h]
    if len(headers) == 1 and sheet.sep is not None:
        return ("Filen har bara en kolumn: avgränsaren är troligen inte ; , tabb eller |. Spara filen som "
                "CSV (semikolonseparerad) eller ange avgränsaren med csv_sep: i params-filen.")
    if any(c in h for h in named for c in ("Ã", "\ufffd", "\x00")):
        return ("Rubrikerna ser felavkodade ut (t.ex. 'Ã¶' i stället för 'ö'): ange filens teckenkodning med "
                "encoding: i params-filen (utf-8, cp1252 eller utf-16) eller spara den som CSV UTF-8.")
    if sheet.sep is not None and not any(normalise_header(h) in declared for h in named):
        return (f"Ingen rubrik känns igen när filen läses med avgränsaren {sheet.sep!r}: filen har troligen "
                "en annan avgränsare (ange den med csv_sep: i params-filen) eller andra rubriker (läs dem "
                f"med mapping.columns; giltiga rubriker: {_HEADERS_DOC}).")
    shown = [header_display(h, i, declared) for i, h in enumerate(headers) if h]
    listed = ", ".join(h if h.startswith("(kolumn ") else repr(h) for h in shown[:12]) or "(inga)"
    more = f" och {len(shown) - 12} till" if len(shown) > 12 else ""
    return (f"Rubrikraden (rad {sheet.header_row}) har: "
            f"{listed}{more} (rubriker utanför schemat visas med kolumnbokstav). Giltiga rubriker är "
            "schemats svenska eller engelska etiketter eller namn (se bladet Kolumner i mallen: genomlysning "
            "template mall.xlsx); en export med andra rubriker läses med mapping.columns i params-filen.")


def read_raw(path: str | Path, params: dict[str, Any] | None = None) -> RawTable:
    """Read a template xlsx or CSV export into a :class:`RawTable` (see the module docstring).

    Raises :class:`IngestError` (naming the file and what would be valid) for an unreadable file,
    a file name that looks like a personnummer, missing required columns, conflicting duplicate
    columns or an invalid params mapping.
    """
    params = dict(params or {})
    p = paths.resolve(path)
    fil = paths.relative(p)
    check_file_name(fil)
    if not p.is_file():
        hint = (" – en demokommun: skriv demodata med `genomlysning demo-data` (eller make data)"
                if params.get("synthetic") is True else
                " – lägg filen där eller ange rätt sökväg med input: i params-filen (se params/README.md)")
        raise IngestError(f"{fil}: filen finns inte{hint}")
    col_map = mapping_columns(params)
    drop = mapping_drop(params)
    reasons = mapping_reasons(params)
    values = mapping_values(params)
    derivations = mapping_derive(params)
    derive_from = {d.source for d in derivations}
    lookup = header_lookup()
    derived = _derived_lookup()
    declared = (set(lookup) | set(derived) | set(col_map) | drop | ({reasons[0]} if reasons else set())
                | derive_from)

    sheet = read_table(p, fil, params)
    headers, frame, rad_excel = sheet.headers, sheet.frame, sheet.rad_excel
    problems: list[Problem] = list(sheet.problems)
    dropped: list[tuple[str, str]] = []
    columns: dict[str, pd.Series] = {}
    origin: dict[str, str] = {}
    reason_frame: pd.DataFrame | None = None
    read_at: dict[int, str] = {}  # column position -> schema column (or reason header) read from it
    sources: dict[str, pd.Series] = {}  # normalised header -> column, for mapping.derive

    def drop_col(header: str, reason: str, note: bool = True) -> None:
        dropped.append((header, reason))
        if note:
            problems.append(Problem(fil, 0, header, "", f"kolumnen läses inte in: {reason}", "varning",
                                    DROPPED_VALID))

    for pos, header in enumerate(headers):
        s = frame[pos]
        key = normalise_header(header)
        shown = header_display(header, pos, declared)
        if key == "":
            if s.notna().any():
                drop_col(shown, DROP_NO_HEADER)
            continue
        if personnummer.contains(header):
            drop_col(shown, DROP_HEADER_PNR)
            continue
        if key in derive_from:
            sources[key] = s
            read_at[pos] = shown
            if col_map.get(key) is None and lookup.get(key) is None:
                continue
        if key in drop:
            drop_col(shown, DROP_MAPPING, note=False)
            continue
        if reasons and key == reasons[0]:
            reason_frame, rp = expand_reasons(s, reasons[1], values.get("__orsak__", {}), fil, header,
                                              rad_excel)
            problems.extend(rp)
            origin["__orsak__"] = header
            read_at[pos] = shown
            continue
        name = col_map.get(key) or lookup.get(key)
        if name is None:
            if sheet.has_pnr(pos).any():
                drop_col(shown, DROP_FREE_TEXT_PNR + _pnr_column_hint(s, shown))
            elif key in derived:
                drop_col(shown, DROP_DERIVED)
            else:
                drop_col(shown, DROP_UNKNOWN + _suggest(header))
            continue
        if name in columns:
            if columns[name].equals(s):
                drop_col(shown, DROP_DUPLICATE.format(name=origin[name]))
                continue
            raise IngestError(f"{fil}: kolumnerna {origin[name]!r} och {header!r} betyder båda {name} "
                              f"({schema.column(name).sv}) men har olika värden; ta bort den ena eller "
                              "döp om den med mapping.columns i params-filen")
        columns[name] = _recode(s, values.get(name, {}))
        origin[name] = header
        read_at[pos] = name
    problems += [Problem(fil, rad, read_at[pos], "", regel, sev, giltigt)
                 for rad, pos, regel, sev, giltigt in sheet.cell_problems if pos in read_at]

    if reason_frame is not None:
        clash = [c for c in schema.REASON_COLUMNS if c in columns]
        if clash:
            raise IngestError(f"{fil}: orsakskolumnen {origin['__orsak__']!r} (mapping.reasons) och "
                              f"kolumnerna {', '.join(origin[c] for c in clash)} anger båda "
                              "anmälningsorsaker; använd bara det ena sättet")
        for c in schema.REASON_COLUMNS:
            columns[c] = reason_frame[c]

    for d in derivations:
        if d.source not in sources:
            raise IngestError(f"{fil}: mapping.derive[{d.target!r}]: kolumnen {d.source!r} finns inte i "
                              "filen")
        if d.target in columns:
            raise IngestError(f"{fil}: {d.target} finns redan i filen ({origin[d.target]!r}) och härleds "
                              "också med mapping.derive; använd bara det ena")
        columns[d.target] = derive_flag(sources[d.source], d.blank)
        origin[d.target] = d.source

    missing = [n for n in schema.TEMPLATE_COLUMNS if schema.column(n).required and n not in columns]
    if missing:
        miss = [Problem(fil, 0, n, "", "obligatorisk kolumn saknas", "fel",
                        f"en kolumn med rubriken {schema.column(n).sv!r} eller {n!r}") for n in missing]
        raise IngestError(f"{fil}: obligatorisk kolumn saknas: "
                          + ", ".join(f"{schema.column(n).sv} ({n})" for n in missing) + ". "
                          + _missing_diagnosis(headers, declared, sheet), problems + miss)

    n = len(frame)
    empty = np.full(n, None, dtype=object)
    out = pd.DataFrame({c: (columns[c].to_numpy(dtype=object) if c in columns else empty)
                        for c in schema.TEMPLATE_COLUMNS}, dtype=object, copy=False)
    found = [c for c in schema.TEMPLATE_COLUMNS if c in columns]
    return RawTable(out, fil, rad_excel.reset_index(drop=True), dropped, problems, found)

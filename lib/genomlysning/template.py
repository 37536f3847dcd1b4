"""The Excel data-entry template, generated entirely from the schema.

Sheets: ``Data`` (one row per aktualisering; header = Swedish labels; a dropdown on every coded and
Ja/Nej column, date and whole-number validation, input messages with each column's meaning),
``Kolumner``/``Columns`` (every column documented), ``Koder``/``Codes`` (every code, label and
accepted spelling, for writing an export mapping), ``Om mallen`` (schema version and instructions)
and the hidden ``Listor`` (dropdown lists too long for Excel's 255-character inline limit).

The file is byte-reproducible: fixed document timestamps and fixed zip entry timestamps.
"""

from __future__ import annotations

import argparse
import datetime as dt
import io
import re
import zipfile
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from genomlysning import paths, schema
from genomlysning.schema import Column, Lang

DATA_SHEET = "Data"
LIST_SHEET = "Listor"
ABOUT_SHEET = "Om mallen"
DOC_SHEET: dict[str, str] = {"sv": "Kolumner", "en": "Columns"}
CODE_SHEET: dict[str, str] = {"sv": "Koder", "en": "Codes"}

#: Fixed timestamp of the workbook properties and of every zip entry (byte-reproducible output).
FIXED_TIMESTAMP = dt.datetime(2000, 1, 1, 0, 0, 0)
ZIP_DATE_TIME = (1980, 1, 1, 0, 0, 0)
#: Last row covered by the data validations (Excel's maximum).
LAST_ROW = 1_048_576
#: Excel's limit on an inline list (the formula text "a,b,c").
INLINE_LIST_LIMIT = 255
#: Range accepted by date validation.
DATE_MIN, DATE_MAX = dt.date(2000, 1, 1), dt.date(2099, 12, 31)
JA_NEJ: tuple[str, str] = ("Ja", "Nej")
#: The dropdown of a yes/no column: ja, nej and the third value, uppgift saknas.
JA_NEJ_SAKNAS: tuple[str, str, str] = (*JA_NEJ, schema.UPPGIFT_SAKNAS[0])

_EXCEL_EPOCH = dt.date(1899, 12, 30)
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_INT = re.compile(r"^-?\d+$")

_TYPE_TEXT: dict[str, dict[str, str]] = {
    "sv": {"str": "text", "code": "kod (välj i listan)", "date": "datum (ÅÅÅÅ-MM-DD)",
           "int": "heltal", "bool": "Ja/Nej"},
    "en": {"str": "text", "code": "code (pick from the list)", "date": "date (YYYY-MM-DD)",
           "int": "whole number", "bool": "yes/no (Ja/Nej)"},
}
_DOC_HEADERS: dict[str, tuple[str, ...]] = {
    "sv": ("Kolumnnamn", "Rubrik i Data", "Betydelse", "Typ", "Tillåtna värden", "Obligatorisk",
           "Grupp"),
    "en": ("Column name", "Header in Data", "English label", "Meaning", "Type", "Allowed values",
           "Required", "Group"),
}
_CODE_HEADERS: dict[str, tuple[str, ...]] = {
    "sv": ("Kolumnnamn", "Rubrik i Data", "Kod", "Värde i mallen", "Engelsk översättning",
           "Andra stavningar som godtas"),
    "en": ("Column name", "Header in Data", "Code", "Value in the template", "English label",
           "Other accepted spellings"),
}
_YES_NO: dict[str, tuple[str, str]] = {"sv": ("Ja", "Nej"), "en": ("Yes", "No")}
_REASON_ROW: dict[str, str] = {"sv": "(en orsakskolumn i en export: mapping.reasons)",
                               "en": "(one reason column in an export: mapping.reasons)"}


# ---------------------------------------------------------------------------------------------
# What goes where (pure functions, tested directly)
# ---------------------------------------------------------------------------------------------

def list_values(col: Column) -> tuple[str, ...]:
    """The dropdown values of a column: Swedish code labels, ``Ja``/``Nej``/``Uppgift saknas``, or
    () for none; a coded column that takes "uppgift saknas" (``schema.UNKNOWN_CODE_COLUMNS``) lists it
    last. Anmälningsorsaker are ticked or not: Ja/Nej only."""
    if col.dtype == "code":
        extra = (schema.UPPGIFT_SAKNAS[0],) if col.name in schema.UNKNOWN_CODE_COLUMNS else ()
        return (*(c.sv for c in col.codes), *extra)
    if col.dtype == "bool":
        return JA_NEJ if col.name in schema.REASON_COLUMNS else JA_NEJ_SAKNAS
    return ()


def inline_list(values: Sequence[str]) -> str | None:
    """The inline list formula ``"a,b"``, or None if it would exceed Excel's 255-character limit
    or a value contains a comma or quote (then the list goes through the hidden ``Listor`` sheet)."""
    text = ",".join(values)
    if len(text) > INLINE_LIST_LIMIT or any("," in v or '"' in v for v in values):
        return None
    return f'"{text}"'


def excel_serial(day: dt.date) -> int:
    """Excel's serial day number of ``day`` (1900 date system)."""
    return (day - _EXCEL_EPOCH).days


def allowed_values_text(col: Column, lang: Lang = "sv") -> str:
    """The allowed values of a column as one line of documentation."""
    if col.dtype == "code":
        if lang == "en":
            return "; ".join(f"{c.sv} ({c.en})" for c in col.codes)
        return "; ".join(c.sv for c in col.codes)
    if col.dtype == "bool":
        return "Ja; Nej" if col.name in schema.REASON_COLUMNS else "Ja; Nej; Uppgift saknas"
    if col.dtype == "int":
        lo = "" if col.min_value is None else str(col.min_value)
        hi = "" if col.max_value is None else str(col.max_value)
        return f"{lo}–{hi}" if lo or hi else ""
    if col.dtype == "date":
        return "ÅÅÅÅ-MM-DD" if lang == "sv" else "YYYY-MM-DD"
    if col.role == "identifier":
        return "ÅÅÅÅMMDD-NNNN (även ÅÅMMDD-NNNN, ÅÅMMDD+NNNN)" if lang == "sv" else \
            "YYYYMMDD-NNNN (also YYMMDD-NNNN, YYMMDD+NNNN)"
    return ""


def _description(col: Column, lang: Lang) -> str:
    if lang == "en":
        return col.description_en or col.en
    return col.description_sv or col.sv


def doc_rows(lang: Lang = "sv") -> list[tuple[str, ...]]:
    """Rows of the column documentation sheet (header first), one per template column."""
    yes, no = _YES_NO[lang]
    rows: list[tuple[str, ...]] = [_DOC_HEADERS[lang]]
    for name in schema.TEMPLATE_COLUMNS:
        c = schema.column(name)
        req = yes if c.required else no
        desc = _description(c, lang)
        typ = _TYPE_TEXT[lang][c.dtype]
        allowed = allowed_values_text(c, lang)
        if lang == "en":
            rows.append((c.name, c.sv, c.en, desc, typ, allowed, req, c.group))
        else:
            rows.append((c.name, c.sv, desc, typ, allowed, req, c.group))
    return rows


def code_rows(lang: Lang = "sv") -> list[tuple[str, ...]]:
    """Rows of the code sheet (header first): every code of every coded column, Ja/Nej spellings and
    the anmälningsorsaker as they may appear in one multi-valued export column."""
    rows: list[tuple[str, ...]] = [_CODE_HEADERS[lang]]
    for name in schema.TEMPLATE_COLUMNS:
        c = schema.column(name)
        if c.dtype == "code":
            rows.extend((c.name, c.sv, k.code, k.sv, k.en, ", ".join(k.aliases)) for k in c.codes)
    rows.append(("orsak_*", "Ja/Nej", "ja", "Ja", "Yes", ", ".join(schema.JA_NEJ_ALIASES_TRUE)))
    rows.append(("orsak_*", "Ja/Nej", "nej", "Nej", "No", ", ".join(schema.JA_NEJ_ALIASES_FALSE)))
    where = "Ja/Nej, " + ", ".join(sorted(schema.UNKNOWN_CODE_COLUMNS))
    rows.append((where, "", "", *schema.UPPGIFT_SAKNAS, ", ".join(schema.JA_NEJ_ALIASES_UNKNOWN)))
    rows.extend((r.column, _REASON_ROW[lang], r.code, r.sv, r.en, ", ".join(r.aliases))
                for r in schema.ORSAKER)
    return rows


def about_lines(lang: Lang = "sv") -> list[str]:
    """The text of the ``Om mallen`` sheet (Swedish; English added for ``lang="en"``)."""
    sv = [
        "Mall för genomlysning av den sociala barn- och ungdomsvården",
        f"Schemaversion {schema.SCHEMA_VERSION} – mallen är skapad av programmet genomlysning "
        "direkt från dataschemat.",
        "",
        "Så fyller du i mallen",
        "1. En rad per aktualisering (anmälan, ansökan eller information på annat sätt) under året. "
        "Ett barn med flera aktualiseringar får flera rader.",
        "2. Fyll i bladet Data. Ändra inte kolumnrubrikerna och lägg inte till egna kolumner – okända "
        "kolumner läses inte in.",
        "3. Kodade kolumner: välj i rullistan. Ja/Nej-kolumner: Ja, Nej eller Uppgift saknas (skriv "
        "aldrig Nej när svaret inte är känt). Tom cell = uppgift saknas, eller Nej när steget inte kan "
        "ha nåtts (t.ex. ingen insats utan avslutad utredning).",
        "4. Datum skrivs ÅÅÅÅ-MM-DD (t.ex. 2025-03-14).",
        "5. Flera anmälningsorsaker kan gälla: skriv Ja i varje orsakskolumn som stämmer.",
        "6. Personnummer skrivs ÅÅÅÅMMDD-NNNN. Det används bara för att räkna fram ett pseudonymt "
        "barn-id, ålder och kön och lämnar aldrig mappen data/raw/. Den ifyllda mallen innehåller "
        "alltså uppgifter som omfattas av sekretess (OSL 26 kap.) och ska förvaras därefter.",
        "7. Skriv aldrig namn, adresser eller fritext (anteckningar) i mallen.",
        "8. Löpnummer ska vara unikt för varje rad.",
        "9. Område/team: skriv bara de områden som står under omraden: i params-filen (t.ex. "
        "omraden: [Nord, Syd, Pilot]); andra värden redovisas som problem och räknas som okänt område.",
        "",
        "Kontrollera filen innan analysen:  genomlysning validate <fil>.xlsx",
        "Varje problem visas med radnumret som i Excel, kolumn, regel och vad som vore giltigt; värdet "
        "visas bara om det är en kod, ett tal eller ett datum, annars bara dess form (t.ex. "
        "\"text, 18 tecken\").",
        "Bladet Kolumner beskriver varje kolumn; bladet Koder listar alla koder och stavningar som "
        "godtas (användbart när en export från verksamhetssystemet ska läsas in med en mappning).",
    ]
    if lang == "sv":
        return sv
    en = [
        "",
        "In English",
        "One row per aktualisering (report, application or other information) in the year. Fill in "
        "the Data sheet without changing its headers; pick coded values from the dropdowns; dates as "
        "YYYY-MM-DD; several reasons may apply (Ja in each). Personnummer is only used to derive a "
        "pseudonymous child id, age and sex and never leaves data/raw/; never enter names or free "
        "text. Area/team takes only the areas listed under omraden: in the params file. Check the file "
        "with: genomlysning validate <file>.xlsx. The Columns sheet documents every column, the Codes "
        "sheet every code and accepted spelling.",
    ]
    return sv + en


# ---------------------------------------------------------------------------------------------
# Cell values from a data frame (synthetic or hand-made rows)
# ---------------------------------------------------------------------------------------------

def _missing(v: Any) -> bool:
    if v is None:
        return True
    try:
        return bool(pd.isna(v))
    except (TypeError, ValueError):
        return False


def _date_cell(v: Any) -> Any:
    """A real date for date-like values; anything else (e.g. a misspelt date) stays text."""
    if isinstance(v, pd.Timestamp):
        v = v.to_pydatetime()
    if isinstance(v, dt.datetime):
        return v.date() if v.time() == dt.time(0, 0) else v
    if isinstance(v, dt.date):
        return v
    text = str(v).strip()
    if _ISO_DATE.match(text):
        try:
            return dt.date.fromisoformat(text)
        except ValueError:
            return text
    return text


def _bool_cell(v: Any) -> Any:
    """``Ja``/``Nej`` for Python/NumPy booleans; text otherwise."""
    if isinstance(v, bool) or type(v).__name__ == "bool_":
        return JA_NEJ[0] if v else JA_NEJ[1]
    return str(v)


def _int_cell(v: Any) -> Any:
    """An integer for integer-like values; anything else stays text."""
    if isinstance(v, bool):
        return str(v)
    if isinstance(v, int):
        return int(v)
    if hasattr(v, "dtype") and getattr(v.dtype, "kind", "") in "iu":
        return int(v)
    if isinstance(v, float) and v.is_integer():
        return int(v)
    text = str(v).strip()
    return int(text) if _INT.match(text) else text


def cell_values(data: pd.DataFrame) -> list[list[Any]]:
    """Rows of Excel cell values for ``data`` (schema-named columns; Swedish-label values).

    Dates become real dates, whole numbers integers; anything that does not parse is kept as the
    text it was (so a deliberately misspelt value survives the round trip).
    """
    unknown = [c for c in data.columns if c not in schema.TEMPLATE_COLUMNS]
    if unknown:
        raise ValueError(f"data has columns outside the template: {unknown}; valid: "
                         f"{', '.join(schema.TEMPLATE_COLUMNS)}")
    columns: list[list[Any]] = []
    for name in schema.TEMPLATE_COLUMNS:
        if name not in data.columns:
            columns.append([None] * len(data))
            continue
        dtype = schema.column(name).dtype
        conv = {"date": _date_cell, "int": _int_cell, "bool": _bool_cell}.get(dtype, str)
        columns.append([None if _missing(v) else conv(v) for v in data[name].tolist()])
    return [list(r) for r in zip(*columns, strict=True)] if columns else []


# ---------------------------------------------------------------------------------------------
# Writing
# ---------------------------------------------------------------------------------------------

def _letter(idx: int) -> str:
    from openpyxl.utils import get_column_letter

    return get_column_letter(idx)


def _width(col: Column) -> float:
    longest = max([len(col.sv), *(len(v) for v in list_values(col))])
    if col.dtype == "date":
        longest = max(longest, 12)
    return float(min(max(longest + 2, 9), 40))


def _validation(col: Column, letter: str, list_ref: str | None) -> Any:
    """The data validation of one Data column (input message always; type by dtype)."""
    from openpyxl.worksheet.datavalidation import DataValidation

    prompt = _description(col, "sv")[:255]
    kw: dict[str, Any] = {"allow_blank": True, "showInputMessage": True, "promptTitle": col.sv[:32],
                          "prompt": prompt, "showErrorMessage": True, "errorStyle": "stop",
                          "errorTitle": "Ogiltigt värde"}
    if col.dtype in ("code", "bool"):
        formula = inline_list(list_values(col)) or list_ref
        dv = DataValidation(type="list", formula1=formula, error="Välj ett värde i listan.", **kw)
    elif col.dtype == "date":
        dv = DataValidation(type="date", operator="between", formula1=str(excel_serial(DATE_MIN)),
                            formula2=str(excel_serial(DATE_MAX)),
                            error=f"Skriv ett datum ÅÅÅÅ-MM-DD mellan {DATE_MIN} och {DATE_MAX}.", **kw)
    elif col.dtype == "int":
        lo, hi = col.min_value, col.max_value
        if lo is not None and hi is not None:
            dv = DataValidation(type="whole", operator="between", formula1=str(lo), formula2=str(hi),
                                error=f"Skriv ett heltal {lo}–{hi}.", **kw)
        elif lo is not None:
            dv = DataValidation(type="whole", operator="greaterThanOrEqual", formula1=str(lo),
                                error=f"Skriv ett heltal ≥ {lo}.", **kw)
        else:
            dv = DataValidation(type="whole", operator="between", formula1="-2147483648",
                                formula2="2147483647", error="Skriv ett heltal.", **kw)
    else:
        kw["showErrorMessage"] = False
        dv = DataValidation(**kw)
    dv.add(f"{letter}2:{letter}{LAST_ROW}")
    return dv


def _styled(ws: Any, value: Any, **style: Any) -> Any:
    from openpyxl.cell import WriteOnlyCell

    cell = WriteOnlyCell(ws, value=value)
    for k, v in style.items():
        setattr(cell, k, v)
    return cell


def _write_data_sheet(wb: Any, rows: Iterable[list[Any]]) -> dict[str, list[str]]:
    """Write the Data sheet; return ``{column name: values}`` of the lists that need ``Listor``."""
    from openpyxl.styles import Alignment, Font, PatternFill

    ws = wb.create_sheet(DATA_SHEET)
    cols = [schema.column(n) for n in schema.TEMPLATE_COLUMNS]
    long_lists = {c.name: list(list_values(c)) for c in cols
                  if list_values(c) and inline_list(list_values(c)) is None}
    list_refs = {name: f"{LIST_SHEET}!${_letter(i)}$2:${_letter(i)}${len(vals) + 1}"
                 for i, (name, vals) in enumerate(long_lists.items(), start=1)}
    for i, c in enumerate(cols, start=1):
        dim = ws.column_dimensions[_letter(i)]
        dim.width = _width(c)
        if c.dtype == "date":
            dim.number_format = "yyyy-mm-dd"
        elif c.dtype == "str":
            dim.number_format = "@"  # text: Excel must not turn personnummer into numbers
        ws.data_validations.append(_validation(c, _letter(i), list_refs.get(c.name)))
    ws.freeze_panes = "B2"
    ws.auto_filter.ref = f"A1:{_letter(len(cols))}1"
    bold = Font(bold=True)
    wrap = Alignment(wrap_text=True, vertical="top")
    fills = {True: PatternFill("solid", fgColor="FFF2CC"), False: PatternFill("solid", fgColor="DDEBF7")}
    ws.append([_styled(ws, c.sv, font=bold, alignment=wrap, fill=fills[c.required]) for c in cols])
    for row in rows:
        ws.append(row)
    return long_lists


def _write_table_sheet(wb: Any, title: str, rows: list[tuple[str, ...]], widths: Sequence[float]) -> Any:
    from openpyxl.styles import Alignment, Font

    ws = wb.create_sheet(title)
    for i, w in enumerate(widths, start=1):
        ws.column_dimensions[_letter(i)].width = w
    ws.freeze_panes = "A2"
    bold, wrap = Font(bold=True), Alignment(wrap_text=True, vertical="top")
    ws.append([_styled(ws, h, font=bold) for h in rows[0]])
    for r in rows[1:]:
        ws.append([_styled(ws, v, alignment=wrap) for v in r])
    return ws


def build_workbook(lang: Lang = "sv", data: pd.DataFrame | None = None) -> Any:
    """The template as an (unsaved, write-only) openpyxl workbook."""
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font

    if lang not in ("sv", "en"):
        raise ValueError(f"lang must be 'sv' or 'en', not {lang!r}")
    wb = Workbook(write_only=True)
    props = wb.properties
    props.creator = "genomlysning"
    props.title = "Mall för genomlysning" if lang == "sv" else "Genomlysning data-entry template"
    props.subject = f"schema {schema.SCHEMA_VERSION}"
    props.created = props.modified = FIXED_TIMESTAMP
    long_lists = _write_data_sheet(wb, cell_values(data) if data is not None else [])
    doc_widths = (28, 30, 30, 60, 18, 50, 12, 18) if lang == "en" else (28, 30, 60, 18, 50, 12, 18)
    _write_table_sheet(wb, DOC_SHEET[lang], doc_rows(lang), doc_widths)
    _write_table_sheet(wb, CODE_SHEET[lang], code_rows(lang), (30, 30, 24, 40, 36, 50))
    about = wb.create_sheet(ABOUT_SHEET)
    about.column_dimensions["A"].width = 120
    for i, line in enumerate(about_lines(lang)):
        font = Font(bold=True, size=14) if i == 0 else Font(bold=line in ("Så fyller du i mallen",
                                                                          "In English"))
        about.append([_styled(about, line, font=font, alignment=Alignment(wrap_text=True))])
    lists = wb.create_sheet(LIST_SHEET)
    lists.sheet_state = "hidden"
    names = list(long_lists)
    longest = max((len(v) for v in long_lists.values()), default=0)
    if names:
        lists.append(names)
        for r in range(longest):
            lists.append([vals[r] if r < len(vals) else None for vals in long_lists.values()])
    return wb


_CELL_REF = re.compile(rb'<c r="([A-Z]{1,3})([0-9]+)"')


def _column_number(letters: bytes) -> int:
    n = 0
    for ch in letters:
        n = n * 26 + ch - 64
    return n


def with_dimension(xml: bytes) -> bytes:
    """Add the ``<dimension>`` element a write-only worksheet lacks (readers rely on it: without it
    openpyxl parses the whole sheet once more just to size it)."""
    if b"<dimension" in xml:
        return xml
    refs = _CELL_REF.findall(xml)
    if not refs:
        return xml
    last_col = max(_column_number(c) for c in {c for c, _ in refs})
    last_row = int(refs[-1][1])  # rows are written in ascending order
    element = f'<dimension ref="A1:{_letter(last_col)}{last_row}" />'.encode()
    anchor = xml.find(b"</sheetPr>")
    at = anchor + len(b"</sheetPr>") if anchor >= 0 else xml.find(b">", xml.find(b"<worksheet")) + 1
    return xml[:at] + element + xml[at:]


def workbook_bytes(wb: Any) -> bytes:
    """Serialise a workbook reproducibly: fixed core timestamps and fixed zip entry timestamps."""
    from openpyxl.writer.excel import ExcelWriter

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED, allowZip64=True) as archive:
        ExcelWriter(wb, archive).save()  # not save_workbook(): it stamps 'modified' with now
    out = io.BytesIO()
    with zipfile.ZipFile(buf) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            fixed = zipfile.ZipInfo(info.filename, date_time=ZIP_DATE_TIME)
            fixed.compress_type = zipfile.ZIP_DEFLATED
            fixed.create_system = 3
            fixed.external_attr = 0o644 << 16
            content = src.read(info.filename)
            if info.filename.startswith("xl/worksheets/sheet"):
                content = with_dimension(content)
            dst.writestr(fixed, content, compresslevel=6)
    return out.getvalue()


def write_template(path: str | Path, lang: Lang = "sv", data: pd.DataFrame | None = None) -> Path:
    """Write the data-entry template (optionally filled with ``data``) to ``path``; return the path.

    ``data`` has schema-named template columns with Swedish-label values (as the synthetic
    generator writes them); dates are written as real Excel dates.
    """
    p = paths.resolve(path)
    if p.suffix.lower() != ".xlsx":
        raise ValueError(f"{paths.relative(p)}: the template must be an .xlsx file")
    content = workbook_bytes(build_workbook(lang, data))
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_bytes(content)
    return p


def cli_template(args: argparse.Namespace) -> int:
    """``genomlysning template PATH [--lang sv|en]``."""
    p = write_template(Path(args.path).expanduser().absolute(), lang=getattr(args, "lang", "sv"))
    print(f"Mallen är skriven: {args.path} ({len(schema.TEMPLATE_COLUMNS)} kolumner, "
          f"schemaversion {schema.SCHEMA_VERSION}). Fyll i bladet Data; kontrollera sedan med "
          f"'genomlysning validate {p.name}'.")
    return 0

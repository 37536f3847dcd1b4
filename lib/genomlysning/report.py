"""The shared report layer: tables (CSV + metadata), figures, results.json and the XLSX workbook.

Everything lands under ``reports/<kommun>/`` (``kommun="jamforelse"`` for cross-municipality
notebooks)::

    tables/<name>.csv     tidy, already suppressed, UTF-8, deterministic number formatting
    tables/<name>.json    title, unit, source, note, suppression note, column labels, language
    figures/<name>.png    byte-reproducible PNG
    results.json          headline figures, one section per notebook (sorted keys, no timestamps)
    <kommun>_tabeller.xlsx  one formatted sheet per table plus a contents sheet

Every output is byte-identical for identical inputs. Table names sort the workbook's sheets, so
prefix them with the notebook number (``02_tratt``, ``03_modell_...``).

Nothing in an output can run or render as code: every CSV cell that a spreadsheet would read as a
formula (text starting with ``=``, ``+``, ``-``, ``@``, tab or carriage return) is written with a
leading ``'`` (:func:`neutralise_cell`; :func:`read_table` removes it again), every text cell of the
workbook is a string cell, never a formula, and every text drawn in a saved figure is free of
personnummer-like content (:func:`safe_label`, enforced by :func:`save_figure`).

Column labels are looked up, in order: the ``labels`` argument, ``schema.TEXTS[name]``, a schema
column, then composed names - ``n_<x>`` ("Antal: <x>"), ``andel_<x>`` ("Andel: <x>"), ``<x>_lo`` /
``<x>_hi`` (confidence bounds) - and finally the name itself. Columns whose name starts with
``andel`` hold proportions (0-1) and are shown as percentages.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import io
import json
import math
import os
import re
import tempfile
import threading
import zipfile
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from genomlysning import disclose, paths, schema

#: Fixed resolution of saved figures.
DPI = 150
#: Fixed timestamp written into the workbook (document properties and zip entries).
FIXED_TIME = dt.datetime(2000, 1, 1, 0, 0, 0)
#: Columns that must never appear in a published table.
FORBIDDEN_COLUMNS: frozenset[str] = frozenset({*schema.IDENTIFIER_COLUMNS, "barn_id", "rad_id", "rad_excel"})
#: Significant digits kept for floats in CSV and results.json.
SIGNIFICANT = 6
#: Floats smaller in size than this are written in scientific notation (``1.23457e-150``).
SCIENTIFIC_BELOW = 1e-4

#: First characters that make a spreadsheet read a CSV cell as a formula (OWASP "CSV injection").
FORMULA_START: tuple[str, ...] = ("=", "+", "-", "@", "\t", "\r")
#: Characters that may not appear in an xlsx cell (XML 1.0 control characters; openpyxl's rule).
_XLSX_ILLEGAL = re.compile(r"[\000-\010\013\014\016-\037]")
_CSV_QUOTE = re.compile(r'[",\n\r]')
_INT_TEXT = re.compile(r"-?\d+")
_FLOAT_TEXT = re.compile(r"-?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?")

#: Columns whose values are column names / TEXTS keys (translated with column_label).
_VALUE_LABELLED: frozenset[str] = frozenset({"variabel", "steg", "utfall", "enhet"})


# ---------------------------------------------------------------------------------------------
# Labels
# ---------------------------------------------------------------------------------------------

def _has_label(name: str) -> bool:
    if name in schema.TEXTS:
        return True
    try:
        schema.column(name)
    except KeyError:
        return False
    return True


def column_label(name: str, lang: schema.Lang = "sv", labels: Mapping[str, str] | None = None) -> str:
    """Return the human label of a result-table column (see the module docstring for the rules)."""
    if labels and name in labels:
        return labels[name]
    if name in schema.TEXTS:
        return schema.text(name, lang)
    with contextlib.suppress(KeyError):
        return schema.label(name, lang)
    for suffix, key in (("_lo", "ki_nedre"), ("_hi", "ki_ovre")):
        if name.endswith(suffix):
            return f"{column_label(name[: -len(suffix)], lang, labels)}, {schema.text(key, lang)}"
    for prefix, key in (("n_", "n"), ("andel_", "andel")):
        rest = name[len(prefix):]
        if name.startswith(prefix) and _has_label(rest):
            return f"{schema.text(key, lang)}: {column_label(rest, lang, labels)}"
    return name


def value_label(variable: str, value: object, lang: schema.Lang = "sv") -> str:
    """Return the label of one value of ``variable`` (a coded column, reason, stage or unit)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return schema.text("saknas", lang)
    if isinstance(value, bool | np.bool_):
        return schema.text("ja" if value else "nej", lang)
    text = str(value)
    if text in ("ja", "nej", "saknas", "totalt"):
        return schema.text(text, lang)
    if variable in ("anmalningsorsak", "orsak"):
        with contextlib.suppress(KeyError):
            r = schema.reason(text)
            return r.sv if lang == "sv" else r.en
    if text in ("true", "false"):
        return schema.text("ja" if text == "true" else "nej", lang)
    if variable in _VALUE_LABELLED:
        return column_label(text, lang)
    with contextlib.suppress(KeyError):
        col = schema.column(variable)
        if col.codes:
            return col.code_label(text, lang)
    return text


def labelled(df: pd.DataFrame, lang: schema.Lang = "sv", labels: Mapping[str, str] | None = None,
             ) -> pd.DataFrame:
    """Return a copy with coded values translated to labels and columns renamed to their labels.

    A ``kategori`` column is translated according to the ``variabel`` column of the same row.
    """
    out = df.copy()
    for col in df.columns:
        if col == "kategori" and "variabel" in df.columns:
            out[col] = [value_label(v, x, lang) for v, x in zip(df["variabel"], df[col], strict=True)]
        elif col in _VALUE_LABELLED or _is_coded(col):
            out[col] = [value_label(col, x, lang) for x in df[col]]
    out.columns = [column_label(c, lang, labels) for c in df.columns]
    return out


def _is_coded(name: str) -> bool:
    with contextlib.suppress(KeyError):
        return bool(schema.column(name).codes) or schema.column(name).dtype == "bool"
    return False


def is_share_column(name: str, percent: Sequence[str] = ()) -> bool:
    """True for proportion columns (shown as percentages): ``andel*`` and those in ``percent``."""
    return name.startswith("andel") or name in percent


# ---------------------------------------------------------------------------------------------
# Deterministic number formatting
# ---------------------------------------------------------------------------------------------

def _round_sig(x: float, digits: int = SIGNIFICANT) -> float:
    if x == 0 or not math.isfinite(x):
        return x
    return round(x, digits - 1 - int(math.floor(math.log10(abs(x)))))


def format_cell(value: object) -> str:
    """CSV text of one cell: integers as integers, floats with 6 significant digits, NA empty."""
    if value is None or value is pd.NA or value is pd.NaT:
        return ""
    if isinstance(value, bool | np.bool_):
        return "true" if value else "false"
    if isinstance(value, int | np.integer):
        return str(int(value))
    if isinstance(value, float | np.floating):
        x = float(value)
        if math.isnan(x):
            return ""
        if x.is_integer() and abs(x) < 1e15:
            return str(int(x))
        r = _round_sig(x)
        if r != 0 and abs(r) < SCIENTIFIC_BELOW:  # a p-value of 1e-150 is not 151 characters
            return f"{r:.{SIGNIFICANT}g}"
        return np.format_float_positional(r, trim="-")
    if isinstance(value, dt.date | pd.Timestamp):
        return pd.Timestamp(value).date().isoformat()
    return str(value)


def format_p(p: object, lang: schema.Lang = "sv") -> object:
    """A p-value for display: ``< 0,001`` (``< 0.001``) below 0.001, otherwise three decimals
    (decimal comma in Swedish); text, None and NaN are returned as they are. The one p-value
    format of every notebook (``compare``, ``change``; ``models`` may call it too)."""
    if isinstance(p, str) or p is None or p is pd.NA:
        return p
    v = float(p)  # type: ignore[arg-type]
    if not math.isfinite(v):
        return p
    s = "< 0.001" if v < 0.001 else f"{v:.3f}"
    return s.replace(".", ",") if lang == "sv" else s


def format_p_scientific(p: object, digits: int = 2) -> str:
    """A p-value in scientific notation with ``digits`` significant digits (``1.2e-150``), for
    text where the size of a very small p-value matters; "" for a missing value."""
    if p is None or p is pd.NA or isinstance(p, str):
        return "" if p is None or p is pd.NA else str(p)
    v = float(p)  # type: ignore[arg-type]
    return "" if not math.isfinite(v) else f"{v:.{digits - 1}e}"


def is_number_text(text: str) -> bool:
    """True when ``text`` is a plain number as :func:`format_cell` writes it (and
    :func:`read_table` reads it back as a number)."""
    return bool(_INT_TEXT.fullmatch(text) or _FLOAT_TEXT.fullmatch(text))


def neutralise_cell(text: str) -> str:
    """CSV text of one cell that no spreadsheet evaluates: text starting (after any leading ``'``)
    with ``= + - @``, tab or carriage return gets a leading ``'`` (OWASP); numbers stay as they are.

    Lossless: :func:`restore_cell` gives ``text`` back.
    """
    if text.lstrip("'").startswith(FORMULA_START) and not is_number_text(text):
        return "'" + text
    return text


def restore_cell(text: str) -> str:
    """The original text of a cell written by :func:`neutralise_cell`."""
    if text.startswith("'") and neutralise_cell(text[1:]) == text:
        return text[1:]
    return text


def _csv_field(text: str) -> str:
    """One CSV field, quoted (``"`` doubled) when it holds ``,``, ``"``, a newline or a carriage return."""
    return '"' + text.replace('"', '""') + '"' if _CSV_QUOTE.search(text) else text


def csv_line(fields: Sequence[str]) -> str:
    """One CSV record ended by ``\\n``: the csv module's minimal quoting, except that a field with a
    carriage return is quoted too (the csv module leaves it bare when records end in ``\\n``, and
    the table then no longer reads back)."""
    if len(fields) == 1 and fields[0] == "":
        return '""\n'  # a lone empty field, not a blank line
    return ",".join(_csv_field(f) for f in fields) + "\n"


def has_personnummer(text: str) -> bool:
    """True when ``text`` holds personnummer-like content: the project's one detector
    (``clean.contains_personnummer``), called here and nowhere else in this module."""
    from genomlysning import clean

    return clean.contains_personnummer(text)


def safe_label(text: object) -> str:
    """``text`` as it may be drawn in a figure: personnummer-like content masked
    (``clean.mask_text``); if :func:`has_personnummer` still finds some, the whole text is replaced
    by ``personnummer.MASK``. Every data-derived label and the municipality's display name pass
    through here before they are drawn."""
    from genomlysning import clean, personnummer

    s = str(text)
    if not has_personnummer(s):
        return s
    masked = clean.mask_text(s)
    return personnummer.MASK if has_personnummer(masked) else masked


def jsonable(value: Any) -> Any:
    """Plain-JSON version of ``value``: numpy scalars unwrapped, floats rounded, NaN -> None."""
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, np.ndarray | pd.Series):
        return [jsonable(v) for v in value.tolist()]
    if value is None or value is pd.NA:
        return None
    if isinstance(value, bool | np.bool_):
        return bool(value)
    if isinstance(value, int | np.integer):
        return int(value)
    if isinstance(value, float | np.floating):
        x = float(value)
        return None if not math.isfinite(x) else _round_sig(x)
    if isinstance(value, dt.date | pd.Timestamp):
        return pd.Timestamp(value).date().isoformat()
    return value


def _dump_json(obj: Any) -> str:
    return json.dumps(jsonable(obj), ensure_ascii=False, sort_keys=True, indent=2) + "\n"


_UMASK_LOCK = threading.Lock()


def file_mode() -> int:
    """The mode an ordinary new file gets under the process umask (as for the HTML reports):
    ``mkstemp`` alone would leave 0600, so colleagues on a shared drive could not open a table."""
    with _UMASK_LOCK:
        mask = os.umask(0o022)
        os.umask(mask)
    return 0o666 & ~mask


def _atomic_write(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` via a temporary file and rename (readers never see half a file),
    readable as the umask allows; a hand-run notebook never overwrites published reports
    (:func:`genomlysning.handrun.check_write`)."""
    from genomlysning.handrun import check_write

    check_write(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.chmod(tmp, file_mode())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """Exclusive advisory lock on ``path`` + ".lock" (parallel notebooks share results.json)."""
    import fcntl

    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_name(f".{path.name}.lock"), "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


# ---------------------------------------------------------------------------------------------
# Tables, figures, results
# ---------------------------------------------------------------------------------------------

def tables_dir(kommun: str) -> Path:
    """reports/<kommun>/tables/."""
    return paths.report_dir(kommun) / "tables"


def figures_dir(kommun: str) -> Path:
    """reports/<kommun>/figures/."""
    return paths.report_dir(kommun) / "figures"


def _check_name(name: str) -> None:
    if not re.fullmatch(r"[A-Za-z0-9_][A-Za-z0-9_.-]*", name):
        raise ValueError(f"table/figure name {name!r}: use letters, digits, '_', '-', '.' only")


def _count_columns(df: pd.DataFrame) -> list[str]:
    return [c for c in df.columns if c == "n" or str(c).startswith("n_")]


def check_publishable(df: pd.DataFrame, k: int | None) -> None:
    """Raise ValueError if ``df`` holds an identifier column or (given ``k``) a visible count
    1..k-1 in a count column (by convention ``n`` and ``n_*``)."""
    bad = sorted(FORBIDDEN_COLUMNS & set(map(str, df.columns)))
    if bad:
        raise ValueError(f"table contains identifying columns {bad}; aggregate before publishing")
    if k is None:
        return
    for col in _count_columns(df):
        v = disclose.visible(df[col].astype(object))
        small = v[(v >= 1) & (v < k)]
        if len(small):
            raise ValueError(f"column {col!r} shows counts below k={k} ({sorted(set(small))[:5]}); "
                             f"suppress with genomlysning.disclose.mask_table first")


_REPEATED_YEAR = re.compile(r"\b((?:19|20)\d\d)\b([)\]]*)[ ,]+\1\b")


def tidy_source(source: str) -> str:
    """A source line without a year said twice in a row: a municipality named with its year
    ("Testby (data 2010)") followed by the year under review reads "Testby (data 2010):", not
    "Testby (data 2010) 2010:"."""
    return _REPEATED_YEAR.sub(lambda m: m.group(1) + m.group(2), source)


def save_table(df: pd.DataFrame, kommun: str, name: str, *, title: str, unit: str, source: str,
               note: str = "", lang: schema.Lang = "sv", k: int | None = None,
               labels: Mapping[str, str] | None = None, percent: Sequence[str] = ()) -> Path:
    """Write ``reports/<kommun>/tables/<name>.csv`` (+ ``.json`` metadata) and return the CSV path.

    ``df`` must already be suppressed (``disclose.mask_table``). Pass ``k`` to state the threshold
    in the suppression note and to check that no count column shows 1..k-1. ``labels`` overrides
    column labels; ``percent`` names proportion columns not called ``andel*``.
    """
    _check_name(name)
    check_publishable(df, k)
    out = df.reset_index(drop=True)
    text = pd.DataFrame({c: [format_cell(v) for v in out[c]] for c in out.columns}, columns=out.columns)
    has_hidden = bool((text == disclose.SUPPRESSED).to_numpy().any())
    rows = [[str(c) for c in text.columns], *text.itertuples(index=False, name=None)]
    csv = "".join(csv_line([neutralise_cell(cell) for cell in row]) for row in rows)
    if k is not None:
        suppression = disclose.note(k, lang)
    else:
        suppression = schema.text("undertryckt_allmant", lang) if has_hidden else ""
    meta = {
        "name": name, "title": title, "unit": unit, "source": tidy_source(source), "note": note,
        "suppression_note": suppression, "k": k, "lang": lang,
        "columns": [{"name": str(c), "label": column_label(str(c), lang, labels),
                     "percent": is_share_column(str(c), percent)} for c in out.columns],
    }
    folder = tables_dir(kommun)
    csv_path = folder / f"{name}.csv"
    _atomic_write(csv_path, csv.encode("utf-8"))
    _atomic_write(folder / f"{name}.json", _dump_json(meta).encode("utf-8"))
    return csv_path


def ledger_dir(kommun: str) -> Path:
    """reports/<kommun>/ledger/: the disclosure ledger's cell definitions (no data)."""
    return paths.report_dir(kommun) / "ledger"


def save_ledger(text: str, kommun: str, part: str) -> Path:
    """Write one notebook's ledger definitions (``Ledger.definitions_json``) for the audit."""
    _check_name(part)
    path = ledger_dir(kommun) / f"{part}.json"
    _atomic_write(path, text.encode("utf-8"))
    return path


#: PNG chunks a saved figure never carries: text (tEXt, zTXt, iTXt), a timestamp, Exif.
_PNG_DROPPED: frozenset[bytes] = frozenset({b"tEXt", b"zTXt", b"iTXt", b"tIME", b"eXIf"})


def _png_bytes(fig: Any) -> bytes:
    """``fig`` as PNG (fixed dpi, white background) without text, time or Exif chunks."""
    from genomlysning import leakscan

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI, metadata={"Software": None}, bbox_inches="tight",
                facecolor="white")
    chunks = leakscan.png_chunks(buf.getvalue())
    return leakscan.PNG_SIGNATURE + b"".join(c.raw for c in chunks if c.type not in _PNG_DROPPED)


def _unsafe_texts(fig: Any) -> list[Any]:
    """The texts of a drawn figure that hold personnummer-like content."""
    from matplotlib.text import Text

    return [t for t in fig.findobj(Text) if has_personnummer(t.get_text())]


def _mask_ticks(axis: Any) -> None:
    """Fix the drawn ticks of an axis whose tick labels hold personnummer-like content, with the
    labels through :func:`safe_label` (a formatter would draw them afresh on the next draw)."""
    lo, hi = sorted(axis.get_view_interval())
    for minor in (False, True):
        locs = [x for x in axis.get_ticklocs(minor=minor) if lo <= x <= hi]
        formatter = axis.get_minor_formatter() if minor else axis.get_major_formatter()
        labels = formatter.format_ticks(locs)
        if any(has_personnummer(s) for s in labels):
            axis.set_ticks(locs, [safe_label(s) for s in labels], minor=minor)


def _mask_figure(fig: Any) -> bool:
    """Mask personnummer-like content in the texts and tick labels of a drawn figure, in place
    (:func:`safe_label`); True if there was any."""
    if not _unsafe_texts(fig):
        return False
    for ax in fig.axes:
        for axis in (ax.xaxis, ax.yaxis):
            _mask_ticks(axis)
    for text in _unsafe_texts(fig):
        text.set_text(safe_label(text.get_text()))
    return True


def save_figure(fig: Any, kommun: str, name: str) -> Path:
    """Write ``fig`` to ``reports/<kommun>/figures/<name>.png`` (fixed dpi, no text chunks: no
    software/date metadata, byte-reproducible) and return the path. The figure stays open for display.

    Every text of the drawn figure is checked: personnummer-like content is masked in the figure
    itself (:func:`safe_label`; so the notebook shows the masked figure too). A figure whose text
    cannot be masked so is closed and refused with ValueError: nothing is written.
    """
    _check_name(name)
    path = figures_dir(kommun) / f"{name}.png"
    data = _png_bytes(fig)
    if _mask_figure(fig):
        data = _png_bytes(fig)
        if _unsafe_texts(fig):
            import matplotlib.pyplot as plt

            plt.close(fig)
            raise ValueError(f"figure {name!r} shows personnummer-like text that could not be masked; "
                             "it was not saved")
    _atomic_write(path, data)
    return path


def results_path(kommun: str) -> Path:
    """reports/<kommun>/results.json."""
    return paths.report_dir(kommun) / "results.json"


def update_results(kommun: str, section: str, values: Mapping[str, Any]) -> Path:
    """Merge ``{section: values}`` into reports/<kommun>/results.json (replacing that section).

    Floats keep 6 significant digits, NaN becomes null, keys are sorted; no timestamps. Values
    must already respect the suppression rule (use ``..`` or None for hidden figures).
    """
    path = results_path(kommun)
    with _locked(path):
        current: dict[str, Any] = {}
        if path.is_file():
            current = json.loads(path.read_text(encoding="utf-8"))
        current[section] = jsonable(dict(values))
        _atomic_write(path, _dump_json(current).encode("utf-8"))
    return path


def load_results(kommun: str) -> dict[str, Any]:
    """Read reports/<kommun>/results.json ({} if absent)."""
    path = results_path(kommun)
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}


def table_ref(kommun: str, name: str) -> tuple[str, str]:
    """The unit and table a ledger's table name refers to: ``name`` in ``kommun``, or
    ``<unit>/<table>`` in another unit (each part a plain name, never a path)."""
    unit, sep, table = name.partition("/")
    if not sep:
        unit, table = kommun, name
    _check_name(unit)
    _check_name(table)
    return unit, table


def read_table(kommun: str, name: str) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Read a saved table back: values as numbers where they parse, ``..`` kept as text, cells
    neutralised against formula injection restored to their original text. ``name`` may be
    ``<unit>/<table>``: a table of another unit (:func:`table_ref`)."""
    kommun, name = table_ref(kommun, name)
    folder = tables_dir(kommun)
    raw = pd.read_csv(folder / f"{name}.csv", dtype=str, keep_default_na=False, encoding="utf-8")
    meta = json.loads((folder / f"{name}.json").read_text(encoding="utf-8"))
    raw.columns = [restore_cell(str(c)) for c in raw.columns]
    return raw.map(_parse_cell) if len(raw.columns) else raw, meta


def _parse_cell(text: str) -> object:
    """One CSV cell as written by :func:`save_table`: None, int, float or the original text."""
    if text == "":
        return None
    if _INT_TEXT.fullmatch(text):
        return int(text)
    if _FLOAT_TEXT.fullmatch(text):
        return float(text)
    return restore_cell(text)


# ---------------------------------------------------------------------------------------------
# Notebook display
# ---------------------------------------------------------------------------------------------

def format_number(x: object, lang: schema.Lang = "sv", *, share: bool = False, decimals: int = 1) -> str:
    """Human text of a number: thousands separated, decimal comma in Swedish, shares as percent."""
    if x is None or x is pd.NA or (isinstance(x, float) and math.isnan(x)):
        return ""
    if isinstance(x, str):
        return x
    if isinstance(x, bool | np.bool_):
        return schema.text("ja" if x else "nej", lang)
    v = float(x)
    if share:
        s = f"{100 * v:,.{decimals}f}"
    elif v.is_integer():
        s = f"{int(v):,d}"
    else:
        s = f"{v:,.{max(decimals, 2)}f}"
    if lang == "sv":
        s = s.replace(",", "\u00a0").replace(".", ",")
    if share:
        s += "\u00a0%" if lang == "sv" else "%"
    return s.replace("-", MINUS, 1) if s.startswith("-") else s


#: The minus sign of printed numbers (U+2212), never the hyphen-minus.
MINUS = "\u2212"
#: Printed where there is no value at all (".." means hidden, never "no data").
NO_DATA = "–"
#: The word between an interval's bounds: "−31,04 till −26,97" (never "-31,04–-26,97").
INTERVAL_WORD = {"sv": "till", "en": "to"}


def format_interval(value: str, lo: str, hi: str, lang: schema.Lang = "sv") -> str:
    """``value (lo till hi)`` of already formatted texts; the value alone when a bound is missing,
    hidden or empty (a hidden value stays ``..``)."""
    if value in ("", NO_DATA, disclose.SUPPRESSED) or {lo, hi} & {"", NO_DATA, disclose.SUPPRESSED}:
        return value
    return f"{value} ({lo} {INTERVAL_WORD.get(lang, 'till')} {hi})"


def _bare(text: str) -> str:
    return text.removesuffix("\u00a0%").removesuffix("%")


def display_table(df: pd.DataFrame, lang: schema.Lang = "sv", *, labels: Mapping[str, str] | None = None,
                  percent: Sequence[str] = (), combine_ci: bool = True, drop: Sequence[str] = (),
                  ) -> pd.DataFrame:
    """Return a notebook-ready view: labels for codes and columns, numbers as Swedish text,
    shares as percentages, and (``combine_ci``) each ``x``, ``x_lo``, ``x_hi`` as "x (lo till hi)"
    (:func:`format_interval`); no value at all reads :data:`NO_DATA`, a hidden one ``..``."""
    src = df.drop(columns=list(drop)).reset_index(drop=True)
    cols = [str(c) for c in src.columns]
    out: dict[str, list[str]] = {}
    for col in cols:
        if combine_ci and col[-3:] in ("_lo", "_hi") and col[:-3] in cols:
            continue
        if col == "kategori" and "variabel" in cols:
            values = [value_label(v, x, lang) for v, x in zip(src["variabel"], src[col], strict=True)]
        elif col in _VALUE_LABELLED or _is_coded(col):
            values = [value_label(col, x, lang) for x in src[col]]
        else:
            share = is_share_column(col, percent)
            values = [format_number(v, lang, share=share) for v in src[col]]
            if combine_ci and f"{col}_lo" in cols and f"{col}_hi" in cols:
                lo = [_bare(format_number(v, lang, share=share)) for v in src[f"{col}_lo"]]
                hi = [_bare(format_number(v, lang, share=share)) for v in src[f"{col}_hi"]]
                values = [format_interval(v, a, b, lang) for v, a, b in zip(values, lo, hi, strict=True)]
        out[column_label(col, lang, labels)] = [NO_DATA if v == "" else v for v in values]
    return pd.DataFrame(out)


#: Tables longer than this are folded: the first :data:`PREVIEW_ROWS` rows, then all rows on a click.
FOLD_ROWS = 25
PREVIEW_ROWS = 10
#: Column names (lower case) that hold years: printed without a thousands separator.
_YEAR_COLUMNS = {"ar", "år", "year", "artal", "årtal"}
#: One style block per table (nbconvert keeps it): long labels wrap instead of being cut or
#: widening the page; text left-, numbers right-aligned (!important: JupyterLab's own rule for
#: output tables right-aligns every cell with a more specific selector).
_TABLE_CSS = ("<style>table.genomlysning-tabell{border-collapse:collapse;max-width:100%}"
              "table.genomlysning-tabell th,table.genomlysning-tabell td{padding:2px 5px;"
              "text-align:left!important;white-space:normal;overflow-wrap:break-word;vertical-align:top;"
              "max-width:32em}table.genomlysning-tabell td.num{text-align:right!important}"
              "</style>")


def _cell_text(value: object, column: str, lang: schema.Lang) -> tuple[str, bool]:
    """A cell as printed and whether it is a number (right-aligned): Swedish number format,
    :data:`NO_DATA` for a missing value, years without separator."""
    if value is None or value is pd.NA or value is pd.NaT or (isinstance(value, float) and math.isnan(value)):
        return NO_DATA, True
    if isinstance(value, bool | np.bool_):
        return format_number(value, lang), False
    if isinstance(value, int | float | np.integer | np.floating):
        if column.strip().lower() in _YEAR_COLUMNS and float(value).is_integer():
            return str(int(value)), True
        return format_number(value, lang), True
    text = str(value)
    numeric = bool(re.fullmatch(r"[−\-+]?[\d\u00a0 ,.]+(\u00a0?%)?( \(.*\))?|\.\.|–", text))
    return (NO_DATA if text == "" else text), numeric


def _html_rows(df: pd.DataFrame, lang: schema.Lang) -> str:
    from html import escape

    rows = []
    for values in df.itertuples(index=False, name=None):
        cells = []
        for col, value in zip(df.columns, values, strict=True):
            text, numeric = _cell_text(value, str(col), lang)
            cells.append(f'<td class="num">{escape(text)}</td>' if numeric else f"<td>{escape(text)}</td>")
        rows.append("<tr>" + "".join(cells) + "</tr>")
    return "".join(rows)


def _html_table(df: pd.DataFrame, lang: schema.Lang) -> str:
    from html import escape

    head = "".join(f"<th>{escape(str(c))}</th>" for c in df.columns)
    return (f'<table class="genomlysning-tabell"><thead><tr>{head}</tr></thead>'
            f"<tbody>{_html_rows(df, lang)}</tbody></table>")


#: A table with more columns than this (and no more rows than columns) is shown turned: its rows
#: as columns, so that it fits a 1 280 px page instead of scrolling sideways.
WIDE_COLUMNS = 12


def _turned_if_wide(view: pd.DataFrame) -> pd.DataFrame:
    """``view`` turned (first column's values as the header) when it is wide and short."""
    if view.shape[1] <= WIDE_COLUMNS or len(view) > view.shape[1] or len(view) == 0:
        return view
    first = view.columns[0]
    heads = [str(v) for v in view[first]]
    if len(set(heads)) != len(heads):
        return view
    body = view.drop(columns=[first]).astype(object).T
    body.columns = heads
    return body.rename_axis(str(first)).reset_index()


def reader_html(df: pd.DataFrame, lang: schema.Lang = "sv") -> str:
    """A table as a reader sees it in the HTML report: no pandas index (a named index becomes
    ordinary columns, row numbers are dropped), Swedish numbers, :data:`NO_DATA` for missing values,
    long labels wrapped rather than cut, a wide short table turned (:data:`WIDE_COLUMNS`), and a table
    longer than :data:`FOLD_ROWS` folded after :data:`PREVIEW_ROWS` rows with the whole table one
    click away."""
    named = any(n is not None for n in df.index.names)
    view = df.reset_index(drop=not named)
    view = _turned_if_wide(view)
    view.columns = [" / ".join(str(x) for x in c) if isinstance(c, tuple) else str(c) for c in view.columns]
    if len(view) <= FOLD_ROWS:
        return _TABLE_CSS + _html_table(view, lang)
    shown = schema.text("visa_alla_rader", lang, n=format_number(len(view), lang))
    return (_TABLE_CSS + _html_table(view.head(PREVIEW_ROWS), lang)
            + f"<details><summary>{shown}</summary>{_html_table(view, lang)}</details>")


def use_reader_tables(lang: schema.Lang = "sv") -> None:
    """Let every DataFrame a notebook displays render with :func:`reader_html` (IPython's HTML
    formatter); does nothing outside IPython. Call it once at the top of a notebook."""
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - IPython is a dependency of the notebooks
        return
    shell = get_ipython()
    if shell is None:
        return
    shell.display_formatter.formatters["text/html"].for_type(pd.DataFrame, lambda df: reader_html(df, lang))


# ---------------------------------------------------------------------------------------------
# The workbook
# ---------------------------------------------------------------------------------------------

def workbook_path(kommun: str) -> Path:
    """reports/<kommun>/<kommun>_tabeller.xlsx."""
    return paths.report_dir(kommun) / f"{kommun}_tabeller.xlsx"


#: Excel's limit on a sheet name.
SHEET_NAME_MAX = 31


def short_sheet_name(name: str, limit: int = SHEET_NAME_MAX) -> str:
    """A readable sheet name of at most ``limit`` characters from a table name: the name itself when
    it fits, else its longest words shortened to their first letters and a full stop only as far as
    needed (never cut in the middle of a word), e.g. ``03_modell_insats_efter_utredning`` ->
    ``03_modell_insats_efter_utred.``."""
    original = [w for w in re.split(r"[_\s]+", re.sub(r"[\[\]:*?/\\']", "_", name)) if w]
    words = list(original)
    for keep in (5, 4, 3):  # shorten the longest words first, as little as needed
        for i in sorted(range(len(words)), key=lambda j: (-len(original[j]), j)):
            if len("_".join(words)) <= limit:
                break
            if len(original[i]) > keep + 1 and not original[i].isdigit():
                words[i] = original[i][:keep] + "."
    text = "_".join(words) or "tabell"
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _sheet_name(name: str, used: set[str]) -> str:
    base = short_sheet_name(name)
    candidate, i = base, 2
    while candidate.lower() in used:
        suffix = f"_{i}"
        candidate, i = base[: SHEET_NAME_MAX - len(suffix)].rstrip("_") + suffix, i + 1
    used.add(candidate.lower())
    return candidate


def _reproducible_zip(data: bytes) -> bytes:
    """Rewrite an xlsx: every zip entry stamped FIXED_TIME, core.xml dates fixed."""
    stamp = FIXED_TIME.strftime("%Y-%m-%dT%H:%M:%SZ")
    src = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for item in src.infolist():
            content = src.read(item.filename)
            if item.filename == "docProps/core.xml":
                content = re.sub(rb"(<dcterms:(created|modified)[^>]*>)[^<]*(</dcterms:)",
                                 rb"\g<1>" + stamp.encode() + rb"\g<3>", content)
            info = zipfile.ZipInfo(item.filename, date_time=FIXED_TIME.timetuple()[:6])
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o600 << 16
            dst.writestr(info, content)
    return out.getvalue()


def _table_names(kommun: str) -> list[str]:
    folder = tables_dir(kommun)
    return sorted(p.stem for p in folder.glob("*.json") if (folder / f"{p.stem}.csv").is_file())


def _put(ws: Any, row: int, column: int, value: object) -> Any:
    """Write one workbook cell and return it: text always as a string cell (never a formula or an
    error code, whatever it starts with; XML-illegal control characters replaced), numbers as
    numbers, NaN as an empty cell."""
    if isinstance(value, float) and math.isnan(value):
        value = None
    if isinstance(value, str):
        value = _XLSX_ILLEGAL.sub("\ufffd", value)
    cell = ws.cell(row=row, column=column, value=value)
    if isinstance(value, str):
        cell.data_type = "s"
    return cell


def write_workbook(kommun: str, lang: schema.Lang = "sv", *, namn: str | None = None) -> Path:
    """Compile every saved table of ``kommun`` into one formatted, byte-reproducible XLSX.

    One sheet per table (title, unit, source, note and suppression note above it; bold header;
    column widths; ``..`` kept as text, numbers as numbers, shares as percentages) and a contents
    sheet first. Every text is a string cell, never a formula (:func:`_put`). Returns the path.
    """
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font, PatternFill
    from openpyxl.utils import get_column_letter

    wb = Workbook()
    toc = wb.active
    toc.title = _sheet_name(schema.text("innehall", lang), used := set())
    _put(toc, 1, 1, schema.text("tabeller", lang, namn=namn or kommun)).font = Font(bold=True, size=14)
    header = [schema.text("blad", lang), schema.text("tabell", lang), schema.text("enhet", lang)]
    for j, h in enumerate(header, start=1):
        _put(toc, 3, j, h).font = Font(bold=True)
    bold = Font(bold=True)
    fill = PatternFill("solid", fgColor="DDE5F0")
    for i, name in enumerate(_table_names(kommun)):
        df, meta = read_table(kommun, name)
        sheet = _sheet_name(name, used)
        ws = wb.create_sheet(sheet)
        link = _put(toc, 4 + i, 1, sheet)
        link.hyperlink = f"#'{sheet}'!A1"
        link.font = Font(color="0563C1", underline="single")
        _put(toc, 4 + i, 2, meta.get("title", name))
        _put(toc, 4 + i, 3, meta.get("unit", ""))
        lines = [(meta.get("title", name), Font(bold=True, size=13))]
        if sheet != name:  # a shortened sheet name: the table's full name inside the sheet
            lines.append((f"{schema.text('tabell', lang)}: {name}", None))
        lines.append((f"{schema.text('enhet', lang)}: {meta.get('unit', '')}", None))
        lines.append((f"{schema.text('kalla', lang)}: {meta.get('source', '')}", None))
        if meta.get("note"):
            lines.append((f"{schema.text('anmarkning', lang)}: {meta['note']}", None))
        if meta.get("suppression_note"):
            lines.append((meta["suppression_note"], None))
        for r, (text, font) in enumerate(lines, start=1):
            c = _put(ws, r, 1, text)
            if font is not None:
                c.font = font
        top = len(lines) + 2
        colmeta = {c["name"]: c for c in meta.get("columns", [])}
        view = labelled(df, lang) if len(df) else df
        for j, col in enumerate(df.columns, start=1):
            label = colmeta.get(col, {}).get("label") or column_label(col, lang)
            c = _put(ws, top, j, label)
            c.font, c.fill = bold, fill
            c.alignment = Alignment(wrap_text=True, vertical="top")
            share = colmeta.get(col, {}).get("percent", is_share_column(col))
            width = max(10, min(45, len(label) * 0.6 + 2))
            for r, value in enumerate(view.iloc[:, j - 1].tolist(), start=top + 1):
                cell = _put(ws, r, j, value)
                value = cell.value
                if isinstance(value, int | float) and not isinstance(value, bool):
                    cell.number_format = "0.0%" if share else ("0" if float(value).is_integer() else "0.000")
                elif value == disclose.SUPPRESSED:
                    cell.alignment = Alignment(horizontal="right")
                width = max(width, min(45, len(str(value if value is not None else "")) + 2))
            ws.column_dimensions[get_column_letter(j)].width = width
        ws.freeze_panes = ws.cell(row=top + 1, column=1)
    toc.column_dimensions["A"].width = 32
    toc.column_dimensions["B"].width = 70
    toc.column_dimensions["C"].width = 40
    wb.properties.creator = "genomlysning"
    wb.properties.lastModifiedBy = "genomlysning"
    wb.properties.created = FIXED_TIME
    wb.properties.modified = FIXED_TIME
    buf = io.BytesIO()
    wb.save(buf)
    path = workbook_path(kommun)
    _atomic_write(path, _reproducible_zip(buf.getvalue()))
    return path

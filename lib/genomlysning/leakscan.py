"""Find planted strings in outputs: every file under the given paths, every kind of file we write.

``scan(paths, needles) -> list[Hit]`` searches each file under ``paths`` (files or folders, searched
recursively, hidden files included) for each needle and says where it was found:

* text (csv, html, md, txt, yaml, anything not listed below): every line, decoded as UTF-8 or
  Windows-1252; PNG images embedded as ``data:image/png;base64,...`` are searched like PNG files;
* JSON and notebooks (json, ipynb): every key and every string and number value, decoded (so
  ``\\u00f6`` escapes hide nothing), by JSON path; base64 ``image/png`` outputs as PNG files;
* xlsx: every cell value (formulas as their text) and every sheet name, and the raw XML of every
  part of the zip (document properties included);
* parquet: every cell of every column, the column names and the file's key-value metadata;
* PNG: every text chunk (tEXt, zTXt, iTXt), keyword and text, compressed or not.

A needle shaped like a personnummer (10 or 12 digits with separators only) is also searched for in
its digit-only form, the last ten digits, in text whose separators between digits are removed:
``19121212-1212`` is found as ``191212121212``, ``121212-1212``, ``19121212 - 1212`` or
``1912-12-12-1212``; such hits have ``form == "digits"``.
(``19121212-1212``, "Tolvan Tolvansson", is Skatteverket's published test personnummer: no
real person has it.)

A :class:`Hit` prints without its needle (``str(hit)``), so that scanning real outputs for real
personnummer never writes one into a log.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import re
import struct
import warnings
import zipfile
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

#: The eight bytes every PNG file starts with.
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
#: PNG chunks that carry text.
PNG_TEXT_CHUNKS: frozenset[bytes] = frozenset({b"tEXt", b"zTXt", b"iTXt"})

_JSON_SUFFIXES = frozenset({".json", ".ipynb"})
_XLSX_SUFFIXES = frozenset({".xlsx", ".xlsm"})
_PARQUET_SUFFIXES = frozenset({".parquet", ".pq"})
#: What may stand between the digits of a written personnummer.
_SEPARATOR = r"(?:[^\S\n]|[-+./\u2010-\u2015\u2212])+"
_SQUEEZE = re.compile(rf"(?<=\d){_SEPARATOR}(?=\d)")
_PNR_SHAPED = re.compile(rf"\d(?:\d|{_SEPARATOR})*\d")
_EMBEDDED_PNG = re.compile(r"data:image/png;base64,([A-Za-z0-9+/=\s]+)")
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")

#: What :func:`scan` takes: a file or folder, or several.
Paths = str | os.PathLike[str] | Iterable[str | os.PathLike[str]]


@dataclass(frozen=True)
class Hit:
    """One needle found in one place: the file, where in it, which needle (its position in the
    list and, not printed, the needle itself) and in which form (``exact`` or ``digits``)."""

    file: str
    where: str
    index: int
    form: str
    needle: str = field(repr=False)

    def __str__(self) -> str:
        return f"{self.file}: {self.where} (needle #{self.index}, {self.form})"


@dataclass(frozen=True)
class PngChunk:
    """One chunk of a PNG file: its type, its data and its raw bytes (length, type, data, CRC)."""

    type: bytes
    data: bytes
    raw: bytes


@dataclass(frozen=True)
class _Form:
    index: int
    needle: str
    form: str
    text: str  # what is searched for
    squeezed: bool  # searched in the text with separators between digits removed


def _forms(needles: Iterable[str]) -> list[_Form]:
    """Each needle as itself and, when personnummer-shaped, as its last ten digits."""
    out = []
    for i, needle in enumerate(needles):
        if not needle:
            raise ValueError(f"needle #{i} is empty (it would match everything)")
        out.append(_Form(i, needle, "exact", needle, False))
        digits = re.sub(r"\D", "", needle)
        if _PNR_SHAPED.fullmatch(needle) and len(digits) in (10, 12):
            out.append(_Form(i, needle, "digits", digits[-10:], True))
    return out


def squeeze(text: str) -> str:
    """``text`` with the separators between digits removed (``1912-12-12 1212`` -> ``191212121212``)."""
    return _SQUEEZE.sub("", text)


# ---------------------------------------------------------------------------------------------
# PNG


def png_chunks(data: bytes) -> list[PngChunk]:
    """The chunks of a PNG file, in order; ValueError if ``data`` is not a well-formed PNG."""
    if not data.startswith(PNG_SIGNATURE):
        raise ValueError("not a PNG file (bad signature)")
    chunks, pos = [], len(PNG_SIGNATURE)
    while pos < len(data):
        if pos + 12 > len(data):
            raise ValueError(f"truncated PNG chunk at byte {pos}")
        (length,) = struct.unpack(">I", data[pos:pos + 4])
        end = pos + 12 + length
        if end > len(data):
            raise ValueError(f"truncated PNG chunk at byte {pos}")
        chunks.append(PngChunk(data[pos + 4:pos + 8], data[pos + 8:pos + 8 + length], data[pos:end]))
        pos = end
    return chunks


def png_text(chunk: PngChunk) -> tuple[str, str]:
    """``(keyword, text)`` of a tEXt, zTXt or iTXt chunk (decompressed and decoded)."""
    keyword, _, rest = chunk.data.partition(b"\0")
    if chunk.type == b"tEXt":
        text = rest.decode("latin-1")
    elif chunk.type == b"zTXt":
        text = zlib.decompress(rest[1:]).decode("latin-1")
    elif chunk.type == b"iTXt":
        compressed, body = rest[0], rest[2:]
        _lang, _, body = body.partition(b"\0")
        translated, _, body = body.partition(b"\0")
        raw = zlib.decompress(body) if compressed else body
        text = translated.decode("utf-8", "replace") + "\n" + raw.decode("utf-8", "replace")
    else:
        raise ValueError(f"{chunk.type!r} is not a text chunk")
    return keyword.decode("latin-1"), text


def _png_places(data: bytes, prefix: str) -> Iterator[tuple[str, str]]:
    """``(where, text)`` of every text chunk of a PNG (all its bytes when it cannot be parsed)."""
    try:
        chunks = png_chunks(data)
    except ValueError as exc:
        yield f"{prefix}bytes of an unreadable PNG ({exc})", _decode(data)
        return
    for chunk in chunks:
        if chunk.type in PNG_TEXT_CHUNKS:
            try:
                keyword, text = png_text(chunk)
            except (ValueError, IndexError, zlib.error) as exc:
                yield f"{prefix}png {chunk.type.decode()} unreadable ({exc})", chunk.data.decode("latin-1")
                continue
            yield f"{prefix}png {chunk.type.decode()} {keyword!r}", f"{keyword}\n{text}"


# ---------------------------------------------------------------------------------------------
# Places: (where, text) pairs of one file


def _decode(data: bytes) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("cp1252", "replace")


def _text_places(text: str) -> Iterator[tuple[str, str]]:
    for n, line in enumerate(text.split("\n"), start=1):
        yield f"line {n}", line
    for i, m in enumerate(_EMBEDDED_PNG.finditer(text)):
        data = _b64(m.group(1))
        if data is not None:
            yield from _png_places(data, f"embedded image {i + 1} ")


def _b64(text: str) -> bytes | None:
    try:
        return base64.b64decode(re.sub(r"\s", "", text), validate=True)
    except (binascii.Error, ValueError):
        return None


def _json_path(path: str, key: object) -> str:
    if isinstance(key, int):
        return f"{path}[{key}]"
    if _IDENTIFIER.fullmatch(str(key)):
        return f"{path}.{key}"
    return f"{path}[{json.dumps(key, ensure_ascii=False)}]"


def _json_places(obj: Any, path: str = "$") -> Iterator[tuple[str, str]]:
    """Every key, string and number of a JSON document by path; base64 PNGs searched as PNGs."""
    if isinstance(obj, dict):
        for key, value in obj.items():
            sub = _json_path(path, key)
            yield f"{sub} (key)", str(key)
            if key == "image/png" and isinstance(value, str | list):
                data = _b64("".join(value) if isinstance(value, list) else value)
                if data is not None:
                    yield from _png_places(data, f"{sub} ")
                    continue
            yield from _json_places(value, sub)
    elif isinstance(obj, list):
        for i, value in enumerate(obj):
            yield from _json_places(value, _json_path(path, i))
    elif isinstance(obj, str):
        yield path, obj
    elif isinstance(obj, int | float) and not isinstance(obj, bool):
        yield path, repr(obj)


def _xlsx_places(path: Path) -> Iterator[tuple[str, str]]:
    """Every cell value and sheet name (openpyxl), then the raw XML of every zip entry."""
    from openpyxl import load_workbook

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        wb = load_workbook(path, data_only=False)
    for ws in wb.worksheets:
        yield f"sheet name {ws.title!r}", ws.title
        for row in ws.iter_rows():
            for cell in row:
                if cell.value is not None:
                    yield f"sheet {ws.title!r} cell {cell.coordinate}", str(cell.value)
    with zipfile.ZipFile(path) as z:
        for name in z.namelist():
            yield f"xml {name}", _decode(z.read(name))


def _parquet_columns(path: Path) -> Iterator[tuple[str, list[tuple[str, int, int]]]]:
    """Per column: its name and its distinct values as ``(text, first row, number of rows)``."""
    import numpy as np
    import pandas as pd
    import pyarrow.parquet as pq

    table = pq.read_table(path)
    for name, column in zip(table.column_names, table.columns, strict=True):
        codes, uniques = pd.factorize(column.to_pandas())
        values, first, counts = np.unique(codes, return_index=True, return_counts=True)
        yield name, [(str(uniques[v]), int(f), int(n)) for v, f, n in zip(values, first, counts, strict=True)
                     if v >= 0]


def _parquet_places(path: Path) -> Iterator[tuple[str, str]]:
    """Every column name, every distinct cell value (with its first row) and the key-value metadata."""
    import pyarrow.parquet as pq

    meta = pq.read_metadata(path)
    for key, value in (meta.metadata or {}).items():
        yield f"metadata {key.decode('utf-8', 'replace')!r}", _decode(key) + "\n" + _decode(value)
    for name, values in _parquet_columns(path):
        yield f"column name {name!r}", name
        for text, row, n in values:
            more = f" (and {n - 1} more rows)" if n > 1 else ""
            yield f"column {name!r} row {row}{more}", text


def places(path: str | os.PathLike[str]) -> Iterator[tuple[str, str]]:
    """``(where, text)`` of every searchable piece of one file, by its kind (see the module docstring)."""
    p = Path(path)
    suffix = p.suffix.lower()
    if suffix in _XLSX_SUFFIXES and zipfile.is_zipfile(p):
        yield from _xlsx_places(p)
        return
    if suffix in _PARQUET_SUFFIXES:
        yield from _parquet_places(p)
        return
    data = p.read_bytes()
    if data.startswith(PNG_SIGNATURE):
        yield from _png_places(data, "")
        return
    text = _decode(data)
    if suffix in _JSON_SUFFIXES:
        try:
            doc = json.loads(text)
        except ValueError:
            pass
        else:
            yield from _json_places(doc)
            return
    yield from _text_places(text)


# ---------------------------------------------------------------------------------------------
# Scanning


def files(paths: Paths) -> list[Path]:
    """Every file under ``paths`` (a file or folder, or several), sorted within each folder."""
    items = [paths] if isinstance(paths, str | os.PathLike) else list(paths)
    out: list[Path] = []
    for item in items:
        p = Path(item)
        if p.is_dir():
            out += sorted(f for f in p.rglob("*") if f.is_file())
        elif p.is_file():
            out.append(p)
        else:
            raise FileNotFoundError(f"{p}: no such file or folder")
    return out


def scan_file(path: str | os.PathLike[str], needles: Iterable[str]) -> list[Hit]:
    """The hits of ``needles`` in one file (an exact hit hides a digits hit in the same place)."""
    forms = _forms(needles)
    digit_forms = [f for f in forms if f.squeezed]
    hits: list[Hit] = []
    for where, text in places(path):
        found = {f.index for f in forms if not f.squeezed and f.text in text}
        squeezed = squeeze(text) if digit_forms else ""
        found_digits = {f.index for f in digit_forms if f.index not in found and f.text in squeezed}
        for f in forms:
            if f.index in (found_digits if f.squeezed else found):
                hits.append(Hit(str(path), where, f.index, f.form, f.needle))
    return hits


def scan(paths: Paths, needles: Iterable[str]) -> list[Hit]:
    """Every place in every file under ``paths`` where one of ``needles`` occurs (see the module
    docstring for what is searched in which kind of file), in file order. An empty list: no leak."""
    needles = list(needles)
    _forms(needles)  # refuse an empty needle before reading anything
    return [hit for f in files(paths) for hit in scan_file(f, needles)]

"""Tests of the leak scanner (genomlysning.leakscan): planted strings are found in every kind of file."""

from __future__ import annotations

import base64
import io
import json
import struct
import zlib
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import nbformat  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from openpyxl import Workbook  # noqa: E402

from genomlysning import leakscan  # noqa: E402

PNR = "19121212-1212"
WORD = "Hemlig Östby"  # non-ASCII: hidden by \u escapes in JSON written with ensure_ascii
ABSENT = ["finns-inte-någonstans", "19121212-1213", "121212-1213"]


def _chunk(ctype: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + ctype + data + struct.pack(">I", zlib.crc32(ctype + data))


def _png(*extra: bytes) -> bytes:
    """A small PNG without text chunks, with ``extra`` chunks inserted before IEND."""
    fig, ax = plt.subplots(figsize=(1, 1))
    ax.plot([0, 1], [0, 1])
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=20, metadata={"Software": None})
    plt.close(fig)
    data = buf.getvalue()
    iend = data.rindex(b"IEND") - 4
    return data[:iend] + b"".join(extra) + data[iend:]


def _itxt(keyword: str, text: str, compressed: bool) -> bytes:
    body = zlib.compress(text.encode("utf-8")) if compressed else text.encode("utf-8")
    return _chunk(b"iTXt", keyword.encode("latin-1") + b"\0" + bytes([int(compressed), 0]) + b"sv\0\0" + body)


@pytest.fixture
def planted(tmp_path: Path) -> Path:
    """One file of every kind, each with planted strings in known places."""
    root = tmp_path / "ut"
    (root / "sub").mkdir(parents=True)
    (root / "t.csv").write_text(f"kategori,n\nvanlig,1\n\"{WORD}\",2\n121212-1212,3\n", encoding="utf-8")
    doc = {"a": [1, {"namn": WORD}], "nr": 191212121212}
    (root / "r.json").write_text(json.dumps(doc, ensure_ascii=True), encoding="utf-8")
    (root / "sub" / "notes.md").write_text("# Rubrik\n\nnummer 1912-12-12-1212 här\n", encoding="utf-8")
    (root / "sub" / "log.txt").write_text(f"rad ett\n{PNR} och {WORD}\n19121212 - 1212\n", encoding="utf-8")
    (root / "win.txt").write_bytes(f"cp1252: {WORD}\n".encode("cp1252"))
    embedded = base64.b64encode(_png(_chunk(b"tEXt", b"Title\0" + PNR.encode()))).decode()
    (root / "page.html").write_text(f"<p>{WORD}</p>\n<img src=\"data:image/png;base64,{embedded}\">\n",
                                    encoding="utf-8")
    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("x")
    cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text=f"ut: {WORD}\n"),
                    nbformat.v4.new_output("display_data", data={
                        "image/png": base64.b64encode(_png(_itxt("Author", PNR, True))).decode()})]
    nb.cells = [cell]
    nbformat.write(nb, root / "n.ipynb")
    wb = Workbook()
    wb.active.title = "Data"
    wb.active["B3"] = WORD
    wb.properties.creator = PNR  # only in the XML (docProps/core.xml)
    wb.save(root / "bok.xlsx")
    pd.DataFrame({"kategori": ["a", "b", WORD, WORD], "nummer": [1, 2, 191212121212, 4],
                  PNR: [0, 0, 0, 0]}).to_parquet(root / "data.parquet")
    (root / "fig.png").write_bytes(_png(_chunk(b"tEXt", b"Comment\0" + WORD.encode("latin-1")),
                                        _chunk(b"zTXt", b"Note\0\0" + zlib.compress(PNR.encode())),
                                        _itxt("Title", f"titel {WORD}", False)))
    return root


def _found(hits: list[leakscan.Hit], root: Path) -> set[tuple[str, str, int, str]]:
    return {(Path(h.file).relative_to(root).as_posix(), h.where, h.index, h.form) for h in hits}


def test_planted_strings_are_found_in_every_kind_of_file(planted: Path) -> None:
    found = _found(leakscan.scan(planted, [PNR, WORD]), planted)
    assert found == {
        ("t.csv", "line 3", 1, "exact"),
        ("t.csv", "line 4", 0, "digits"),  # the ten-digit form
        ("r.json", "$.a[1].namn", 1, "exact"),  # decoded: "\u00d6" hides nothing
        ("r.json", "$.nr", 0, "digits"),  # a number
        ("sub/notes.md", "line 3", 0, "digits"),
        ("sub/log.txt", "line 2", 0, "exact"),
        ("sub/log.txt", "line 2", 1, "exact"),
        ("sub/log.txt", "line 3", 0, "digits"),
        ("win.txt", "line 1", 1, "exact"),
        ("page.html", "line 1", 1, "exact"),
        ("page.html", "embedded image 1 png tEXt 'Title'", 0, "exact"),
        ("n.ipynb", "$.cells[0].outputs[0].text[0]", 1, "exact"),
        ("n.ipynb", "$.cells[0].outputs[1].data[\"image/png\"] png iTXt 'Author'", 0, "exact"),
        ("bok.xlsx", "sheet 'Data' cell B3", 1, "exact"),
        ("bok.xlsx", "xml xl/worksheets/sheet1.xml", 1, "exact"),
        ("bok.xlsx", "xml docProps/core.xml", 0, "exact"),
        ("data.parquet", "column 'kategori' row 2 (and 1 more rows)", 1, "exact"),
        ("data.parquet", "column 'nummer' row 2", 0, "digits"),
        ("data.parquet", f"column name {PNR!r}", 0, "exact"),
        ("data.parquet", "metadata 'pandas'", 0, "exact"),  # pandas records the column names
        ("fig.png", "png tEXt 'Comment'", 1, "exact"),
        ("fig.png", "png zTXt 'Note'", 0, "exact"),
        ("fig.png", "png iTXt 'Title'", 1, "exact"),
    }


def test_absent_strings_are_not_found(planted: Path) -> None:
    assert leakscan.scan(planted, ABSENT) == []
    assert leakscan.scan([planted / "t.csv", planted / "fig.png"], ["vanlig"])[0].where == "line 2"


def test_digit_forms_only_for_personnummer_shaped_needles(tmp_path: Path) -> None:
    f = tmp_path / "a.txt"
    f.write_text("ab-cd 12 34\nx201212-1212x\n1234\n", encoding="utf-8")
    hits = leakscan.scan(f, ["abcd", "12 34", "20201212-1212"])
    # "abcd" is not personnummer-shaped and "12 34" too short: no digit form of either
    assert [(h.where, h.index, h.form) for h in hits] == [("line 1", 1, "exact"), ("line 2", 2, "digits")]
    with pytest.raises(ValueError, match="empty"):
        leakscan.scan(f, [""])
    with pytest.raises(FileNotFoundError):
        leakscan.scan(tmp_path / "saknas", ["x"])


def test_hits_print_without_the_needle(planted: Path) -> None:
    hits = leakscan.scan(planted / "sub", [PNR])
    assert hits and all(PNR not in str(h) and PNR not in repr(h) for h in hits)
    assert str(hits[0]) == f"{planted / 'sub' / 'log.txt'}: line 2 (needle #0, exact)"


def test_png_chunks_and_text() -> None:
    data = _png(_itxt("Title", "åäö", True))
    chunks = leakscan.png_chunks(data)
    assert chunks[0].type == b"IHDR" and chunks[-1].type == b"IEND"
    assert leakscan.PNG_SIGNATURE + b"".join(c.raw for c in chunks) == data
    (text,) = [c for c in chunks if c.type in leakscan.PNG_TEXT_CHUNKS]
    assert leakscan.png_text(text) == ("Title", "\nåäö")
    with pytest.raises(ValueError, match="not a PNG"):
        leakscan.png_chunks(b"GIF89a")
    with pytest.raises(ValueError, match="truncated"):
        leakscan.png_chunks(data[:-3])


def test_unreadable_files_are_searched_as_bytes(tmp_path: Path) -> None:
    broken = _png(_chunk(b"tEXt", b"Title\0" + PNR.encode()))[:-5]
    (tmp_path / "trasig.png").write_bytes(broken)
    (tmp_path / "trasig.json").write_text('{"a": "' + WORD + '", ', encoding="utf-8")
    hits = leakscan.scan(tmp_path, [PNR, WORD])
    assert [(Path(h.file).name, h.where.split(" (")[0], h.index) for h in hits] == [
        ("trasig.json", "line 1", 1), ("trasig.png", "bytes of an unreadable PNG", 0)]

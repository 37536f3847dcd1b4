"""The output side of the privacy firewall, end to end: the real notebooks run for a small synthetic
municipality whose name and area labels are formula text and HTML, and the leak scanner
(genomlysning.leakscan) checks every report: formula text only neutralised, HTML only escaped.
"""

from __future__ import annotations

import csv
import shutil
import zipfile
from dataclasses import replace
from html import escape
from pathlib import Path

import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output
from openpyxl import load_workbook

from genomlysning import leakscan, provenance, report, runner, synth

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
#: The municipality's display name: a formula and a script.
NAMN = '=HYPERLINK("http://x","y")<script>alert(1)</script>'
#: Area labels (omrade, a breakdown of the funnel tables): formulas, a script, a plain name.
OMRADEN = {"=cmd|' /C calc'!A0": 0.2, "<script>alert(2)</script>": 0.2, "@SUM(A1)": 0.2, "-2+3": 0.2,
           "Centrum": 0.2}
FORMULAS = [NAMN, *(a for a in OMRADEN if a[0] in "=+-@")]
SCRIPTS = ["<script>alert(1)</script>", "<script>alert(2)</script>"]


def test_html_export_escapes_markdown_outputs_and_the_title(tmp_path: Path) -> None:
    nb = new_notebook()
    nb.metadata["kernelspec"] = {"display_name": "Python 3", "language": "python", "name": "python3"}
    prose = new_markdown_cell("Vanlig text med <em>egen</em> markering.")
    code = new_code_cell("display(Markdown(f'## {namn}'))")
    code.outputs = [new_output("display_data", data={
        "text/markdown": f"## {NAMN}\n\n[klicka](javascript:alert(3)) <img src=x onerror=alert(4)>",
        "text/plain": "<IPython.core.display.Markdown object>"})]
    nb.cells = [prose, code]
    with_code, no_code = runner.render_html(nb, tmp_path, "03_models", f"{NAMN} – 03_models")
    for path in (with_code, no_code):
        html = path.read_text(encoding="utf-8")
        assert f"<title>{escape(NAMN, quote=False)} – 03_models</title>" in html
        assert "<em>egen</em>" in html  # the notebook's own prose keeps its markup
        for raw in (*SCRIPTS[:1], "javascript:", "<img src=x", "onerror=alert(4)>"):
            assert raw not in html, (path.name, raw)
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html and "&lt;img src=x" in html


@pytest.fixture
def planted_run(tmp_project: Path) -> Path:
    """A small municipality with the planted name and areas, run through 01, 02, 03 and 05."""
    (tmp_project / "notebooks").mkdir()
    for name in ("01_cleaning", "02_funnel", "03_models", "05_change"):
        shutil.copy(NOTEBOOKS / f"{name}.ipynb", tmp_project / "notebooks")
    spec = replace(synth.demo_spec("norrvik"), kommun="planterad", namn=NAMN, volym=300, omraden=OMRADEN)
    synth.write_kommun(spec, 7, 0.0, raw_root=tmp_project / "data" / "raw",
                       params_root=tmp_project / "params")
    # no audit: it writes nothing under reports/ when it passes (tests/test_runner_audit.py), and
    # these five areas make it the run's slowest step
    summary = runner.run(["planterad"], jobs=1, root=tmp_project, progress=False, cross=False, audit=False)
    assert summary.exit_code == 0, summary.table()
    assert not summary.audits
    return tmp_project / "reports"


def _csv_cells(path: Path) -> list[str]:
    with open(path, encoding="utf-8", newline="") as fh:
        return [cell for row in csv.reader(fh) for cell in row]


def test_planted_name_and_labels_leave_the_pipeline_only_neutralised_and_escaped(planted_run: Path,
                                                                                  ) -> None:
    reports = planted_run
    folder = reports / "planterad"
    assert (folder / "02_funnel.html").is_file() and (folder / "planterad_tabeller.xlsx").is_file()
    # HTML: the raw scripts in no page and no HTML output (as text in cells, CSV and JSON they are
    # harmless), the escaped name in every page
    hits = leakscan.scan(reports, SCRIPTS)
    assert {Path(h.file).suffix for h in hits} <= {".csv", ".json", ".ipynb", ".xlsx"}
    assert not [h for h in hits if "text/html" in h.where], hits
    escaped = escape(SCRIPTS[0], quote=False)
    pages = sorted(str(p) for p in reports.rglob("*.html") if p.name != "index.html")
    assert pages and {h.file for h in leakscan.scan(pages, [escaped])} == set(pages)
    assert leakscan.scan(reports / "index.html", [escaped])  # the overview names the municipality
    # CSV: no text cell starts like a formula; the planted areas are there, neutralised
    cells = [c for p in sorted(folder.glob("tables/*.csv")) for c in _csv_cells(p)]
    assert not [c for c in cells if c.startswith(report.FORMULA_START) and not report.is_number_text(c)]
    assert {f"'{a}" for a in FORMULAS[1:]} <= set(cells)
    # xlsx: no formula anywhere, the planted texts are string cells
    with zipfile.ZipFile(folder / "planterad_tabeller.xlsx") as z:
        for name in z.namelist():
            xml = z.read(name).decode("utf-8")
            assert "<f>" not in xml and "<f " not in xml, name
    wb = load_workbook(folder / "planterad_tabeller.xlsx")
    planted = [c for ws in wb.worksheets for row in ws.iter_rows() for c in row if c.value in FORMULAS]
    assert {c.value for c in planted} == set(FORMULAS[1:]) and {c.data_type for c in planted} == {"s"}
    assert wb.worksheets[0]["A1"].value.endswith(NAMN)
    # figures: pixels only (no text chunk to carry anything)
    for png in sorted(folder.glob("figures/*.png")):
        types = {c.type for c in leakscan.png_chunks(png.read_bytes())}
        assert not types & leakscan.PNG_TEXT_CHUNKS, png.name
    assert provenance.load_state(folder)["notebooks"]["03_models"]["status"] == "ok"

"""Tests of the report layer: tables, figures, results.json and the workbook (genomlysning.report)."""

from __future__ import annotations

import hashlib
import json
import zipfile
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from hypothesis import example, given  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from openpyxl import load_workbook  # noqa: E402

from genomlysning import disclose, paths, report, schema  # noqa: E402

K = 5


@pytest.fixture
def reports(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setattr(paths, "REPORTS_DIR", tmp_path / "reports")
    return tmp_path / "reports"


def _table() -> pd.DataFrame:
    t = pd.DataFrame({
        "variabel": ["anmalare", "anmalare", "anmalare", "kon", "kon"],
        "kategori": ["polisen", "skola", "barnet_sjalv", "flicka", "pojke"],
        "n": [40, 31, 3, 37, 37],
        "n_utredning_inledd": [12, 10, 1, 11, 12],
    })
    t["andel_utredning_inledd"] = t["n_utredning_inledd"] / t["n"]
    t["andel_utredning_inledd_lo"] = t["andel_utredning_inledd"] - 0.1
    t["andel_utredning_inledd_hi"] = t["andel_utredning_inledd"] + 0.1
    linked = {c: ["n", "n_utredning_inledd"] for c in t.columns if c.startswith("andel")}
    return disclose.mask_table(t, ["n", "n_utredning_inledd"], K, linked=linked, by=["variabel"],
                               margins="columns")


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _write_all(kommun: str) -> list[Path]:
    t = _table()
    out = [report.save_table(t, kommun, "02_test", title="Test", unit="Aktualiseringar",
                             source="Syntetiska data", note="En not.", k=K)]
    out.append(out[0].with_suffix(".json"))
    fig, ax = plt.subplots(figsize=(4, 3))
    ax.plot([0, 1, 2], [1, 3, 2], label="a")
    ax.set_title("Åäö")
    out.append(report.save_figure(fig, kommun, "02_fig"))
    plt.close(fig)
    out.append(report.update_results(kommun, "tratt", {"andel": 1 / 3, "n": np.int64(12), "x": np.nan}))
    out.append(report.write_workbook(kommun))
    return out


def test_outputs_are_byte_identical_across_runs(reports: Path) -> None:
    first = {p.name: _digest(p) for p in _write_all("a")}
    second = {p.name: _digest(p) for p in _write_all("a")}
    assert first == second
    assert set(first) == {"02_test.csv", "02_test.json", "02_fig.png", "results.json", "a_tabeller.xlsx"}


def test_csv_is_tidy_and_suppressed(reports: Path) -> None:
    path = report.save_table(_table(), "a", "02_test", title="T", unit="U", source="S", k=K)
    assert path == reports / "a" / "tables" / "02_test.csv"
    text = path.read_text(encoding="utf-8")
    lines = text.splitlines()
    assert lines[0] == ("variabel,kategori,n,n_utredning_inledd,andel_utredning_inledd,"
                        "andel_utredning_inledd_lo,andel_utredning_inledd_hi")
    assert lines[1] == "anmalare,polisen,40,12,0.3,0.2,0.4"
    assert lines[3].startswith("anmalare,barnet_sjalv,..,..,..")
    assert lines[2] == "anmalare,skola,..,..,..,..,.."  # the smallest other cell hides the 3
    assert lines[4] == "kon,flicka,37,11,0.297297,0.197297,0.397297"  # six significant digits
    meta = json.loads(path.with_suffix(".json").read_text(encoding="utf-8"))
    assert meta["suppression_note"] == disclose.note(K, "sv")
    labels = {c["name"]: c["label"] for c in meta["columns"]}
    assert labels["n_utredning_inledd"] == "Antal: Utredning inledd"
    assert labels["andel_utredning_inledd_lo"] == "Andel: Utredning inledd, nedre gräns, 95 % KI"
    assert meta["columns"][4]["percent"] is True and meta["columns"][2]["percent"] is False


def test_read_table_round_trip(reports: Path) -> None:
    report.save_table(_table(), "a", "02_test", title="T", unit="U", source="S", k=K)
    df, meta = report.read_table("a", "02_test")
    assert df["n"].tolist() == [40, "..", "..", 37, 37]
    assert df["andel_utredning_inledd"].tolist()[3] == pytest.approx(11 / 37, abs=1e-6)
    assert meta["title"] == "T"


def test_publishing_checks(reports: Path) -> None:
    raw = pd.DataFrame({"kategori": ["a", "b"], "n": [3, 40]})
    with pytest.raises(ValueError, match="below k=5"):
        report.save_table(raw, "a", "x", title="T", unit="U", source="S", k=5)
    with pytest.raises(ValueError, match="identifying"):
        report.save_table(raw.assign(barn_id=["x", "y"]), "a", "x", title="T", unit="U", source="S")
    with pytest.raises(ValueError, match="name"):
        report.save_table(raw, "a", "../evil", title="T", unit="U", source="S")


def test_update_results_merges_sections(reports: Path) -> None:
    report.update_results("a", "tratt", {"b": 0.123456789, "a": 2})
    report.update_results("a", "modeller", {"or": float("inf")})
    report.update_results("a", "tratt", {"c": [1.0, np.float64(2.5)]})
    data = json.loads(report.results_path("a").read_text(encoding="utf-8"))
    assert data == {"modeller": {"or": None}, "tratt": {"c": [1, 2.5]}}
    text = report.results_path("a").read_text(encoding="utf-8")
    assert text.index('"modeller"') < text.index('"tratt"')
    report.update_results("a", "x", {"v": 0.123456789})
    assert report.load_results("a")["x"]["v"] == 0.123457


def test_workbook_layout(reports: Path) -> None:
    report.save_table(_table(), "a", "02_test", title="Titeln", unit="Aktualiseringar", source="Källan",
                      note="Noten.", k=K)
    first = pd.DataFrame({"steg": ["aktualisering", "fb_beslutad"], "n": [100, 90]})
    report.save_table(first, "a", "01_first",
                      title="Först", unit="U", source="S", k=K)
    path = report.write_workbook("a", namn="Norrvik")
    wb = load_workbook(path)
    assert wb.sheetnames == ["Innehåll", "01_first", "02_test"]
    toc = wb["Innehåll"]
    assert toc["A1"].value == "Tabeller – Norrvik"
    assert [toc.cell(row=r, column=2).value for r in (4, 5)] == ["Först", "Titeln"]
    ws = wb["02_test"]
    assert ws["A1"].value == "Titeln" and ws["A1"].font.b
    assert ws["A2"].value == "Enhet: Aktualiseringar"
    assert ws["A3"].value == "Källa: Källan"
    assert ws["A4"].value == "Anmärkning: Noten."
    assert ws["A5"].value == disclose.note(K)
    header = [c.value for c in ws[7]]
    assert header[:3] == ["Variabel", "Kategori", "Antal"]
    assert ws["A8"].value == "Anmälare" and ws["B8"].value == "Polisen"
    assert ws["C8"].value == 40 and ws["C8"].number_format == "0"
    assert ws["E8"].value == pytest.approx(0.3) and ws["E8"].number_format == "0.0%"
    assert ws["C10"].value == ".." and ws["C10"].data_type == "s"
    assert ws["B11"].value == "Flicka"
    assert wb["01_first"]["A7"].value == report.column_label("aktualisering")
    assert wb["01_first"]["A8"].value == "Förhandsbedömning beslutad"
    with zipfile.ZipFile(path) as z:
        assert {i.date_time for i in z.infolist()} == {(2000, 1, 1, 0, 0, 0)}
        assert b"2000-01-01T00:00:00Z" in z.read("docProps/core.xml")


def test_labels_and_display() -> None:
    assert report.column_label("n_fb_beslutad") == "Antal: Förhandsbedömning beslutad"
    assert report.column_label("andel_barnsamtal", "en") == "Share: Child spoken to"
    assert report.column_label("okand_kolumn") == "okand_kolumn"
    assert report.column_label("x", labels={"x": "Ett x"}) == "Ett x"
    assert report.value_label("anmalare", "halso_sjukvard") == "Hälso- och sjukvård"
    assert report.value_label("ateraktualisering", True) == schema.text("ja")
    assert report.format_number(1234567) == "1\u00a0234\u00a0567"
    assert report.format_number(0.4567, share=True) == "45,7\u00a0%"
    assert report.format_number(0.4567, "en", share=True) == "45.7%"
    view = report.display_table(_table())
    assert list(view.columns) == ["Variabel", "Kategori", "Antal", "Antal: Utredning inledd",
                                  "Andel: Utredning inledd"]
    assert view.iloc[0].tolist() == ["Anmälare", "Polisen", "40", "12", "30,0\u00a0% (20,0 till 40,0)"]
    assert view.iloc[2, 2] == ".." and view.iloc[2, 4] == ".."


# -- formula injection: CSV cells neutralised, workbook cells strings --------------------------

#: Category labels a spreadsheet would run as formulas (or read as an error code).
INJECTIONS = ["=cmd|' /C calc'!A0", '=HYPERLINK("http://x","y")', "+1+1", "-2+3", "@SUM(A1)",
              "\tflik", "'=redan citerad", "#N/A"]


def _injected() -> pd.DataFrame:
    n = len(INJECTIONS)
    return pd.DataFrame({"variabel": ["omrade"] * n, "kategori": INJECTIONS, "n": [10 + i for i in range(n)],
                         "diff": [-0.5, -3, 0.25, -1e-5, 2, -7, 0, 1.5]})


def _csv_rows(path: Path) -> list[list[str]]:
    import csv

    with open(path, encoding="utf-8", newline="") as fh:
        return list(csv.reader(fh))


def test_csv_cells_that_start_like_formulas_are_neutralised(reports: Path) -> None:
    path = report.save_table(_injected(), "a", "02_injektion", title="T", unit="U", source="S")
    rows = _csv_rows(path)
    assert [r[1] for r in rows[1:]] == ["'=cmd|' /C calc'!A0", "'=HYPERLINK(\"http://x\",\"y\")", "'+1+1",
                                        "'-2+3", "'@SUM(A1)", "'\tflik", "''=redan citerad", "#N/A"]
    assert [r[3] for r in rows[1:]] == ["-0.5", "-3", "0.25", "-1e-05", "2", "-7", "0", "1.5"]  # numbers
    df, _ = report.read_table("a", "02_injektion")
    assert df["kategori"].tolist() == INJECTIONS
    assert df["diff"].tolist() == [-0.5, -3, 0.25, -1e-5, 2, -7, 0, 1.5]


def test_csv_neutralisation_covers_headers_and_carriage_returns(reports: Path) -> None:
    df = pd.DataFrame({"=SUM(A1)": ["\r=1+1", "rad\rbrytning", "vanlig"], "n": [-1, 5, 6]})
    path = report.save_table(df, "a", "02_cr", title="T", unit="U", source="S")
    rows = _csv_rows(path)
    assert rows[0] == ["'=SUM(A1)", "n"]
    assert rows[1] == ["'\r=1+1", "-1"] and rows[2] == ["rad\rbrytning", "5"]
    back, _ = report.read_table("a", "02_cr")
    assert list(back.columns) == ["=SUM(A1)", "n"]
    assert back.to_dict("list") == {"=SUM(A1)": ["\r=1+1", "rad\rbrytning", "vanlig"], "n": [-1, 5, 6]}


@given(st.text(alphabet=st.sampled_from("'=+-@\t\r.e1a ,\"")) | st.text())
@example("-1.5e3")
@example("''=a")
def test_neutralise_and_restore_are_inverse(text: str) -> None:
    out = report.neutralise_cell(text)
    assert report.restore_cell(out) == text
    assert not out.startswith(report.FORMULA_START) or report.is_number_text(out)
    assert out == text or out == "'" + text


def test_workbook_text_cells_are_strings_never_formulas(reports: Path) -> None:
    report.save_table(_injected(), "a", "02_injektion", title="=1+2 titel", unit="@enhet", source="S",
                      note="+not")
    path = report.write_workbook("a", namn="=HYPERLINK(\"http://x\",\"y\")")
    wb = load_workbook(path)
    ws = wb["02_injektion"]
    assert ws["A1"].value == "=1+2 titel" and ws["A1"].data_type == "s"
    assert [c.value for c in ws[6]][:2] == ["Variabel", "Kategori"]  # title, unit, source, note, blank
    labels = [ws.cell(row=r, column=2) for r in range(7, 7 + len(INJECTIONS))]
    assert [c.value for c in labels] == INJECTIONS
    assert {c.data_type for c in labels} == {"s"}
    numbers = [ws.cell(row=r, column=4) for r in range(7, 7 + len(INJECTIONS))]
    assert [c.value for c in numbers] == [-0.5, -3, 0.25, -1e-5, 2, -7, 0, 1.5]
    assert {c.data_type for c in numbers} == {"n"}
    toc = wb["Innehåll"]
    assert toc["A1"].value == 'Tabeller – =HYPERLINK("http://x","y")'
    assert toc["B4"].value == "=1+2 titel" and toc["C4"].value == "@enhet" and toc["C4"].data_type == "s"
    with zipfile.ZipFile(path) as z:
        sheets = [n for n in z.namelist() if n.startswith("xl/worksheets/")]
        assert sheets
        for name in sheets:
            xml = z.read(name).decode("utf-8")
            assert "<f>" not in xml and "<f " not in xml, name


def test_workbook_replaces_characters_xml_cannot_hold(reports: Path) -> None:
    report.save_table(pd.DataFrame({"kategori": ["a\x01b", "c\td"], "n": [10, 11]}), "a", "02_ctrl",
                      title="T", unit="U", source="S")
    ws = load_workbook(report.write_workbook("a"))["02_ctrl"]
    assert [ws["A6"].value, ws["A7"].value] == ["a\ufffdb", "c\td"]


def test_tiny_floats_and_p_values_are_short() -> None:
    """A p-value of 1e-150 was written as a 151-character decimal; now scientific notation with
    six significant digits, read back as the same number, and shown as ``< 0,001``."""
    text = report.format_cell(1.2345678e-150)
    assert text == "1.23457e-150" and report.is_number_text(text) and float(text) == 1.23457e-150
    assert report.format_cell(0.000123456789) == "0.000123457"  # at 1e-4 and above: positional
    assert report.format_cell(4.2e-5) == "4.2e-05"
    assert report.format_p(1e-150) == "< 0,001" and report.format_p(0.0123, "en") == "0.012"
    assert report.format_p(0.5) == "0,500" and report.format_p("..") == ".." and report.format_p(None) is None
    assert report.format_p_scientific(1.2345e-150) == "1.2e-150"

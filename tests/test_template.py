"""The Excel template: columns, dropdowns and validation from the schema, docs, determinism, round trip."""

from __future__ import annotations

import argparse
import datetime as dt
import zipfile
from pathlib import Path

import openpyxl
import pandas as pd
import pytest

from genomlysning import ingest, schema, template


@pytest.fixture(scope="module")
def workbook(tmp_path_factory: pytest.TempPathFactory) -> openpyxl.Workbook:
    p = template.write_template(tmp_path_factory.mktemp("mall") / "mall.xlsx")
    return openpyxl.load_workbook(p)


def _validations(ws: openpyxl.worksheet.worksheet.Worksheet) -> dict[str, object]:
    """``{column letter: DataValidation}`` (each validation covers one column from row 2)."""
    out = {}
    for dv in ws.data_validations.dataValidation:
        for rng in dv.sqref.ranges:
            assert rng.min_row == 2 and rng.max_row == template.LAST_ROW and rng.min_col == rng.max_col
            out[openpyxl.utils.get_column_letter(rng.min_col)] = dv
    return out


def _list_items(wb: openpyxl.Workbook, formula: str) -> list[str]:
    if formula.startswith('"'):
        return formula.strip('"').split(",")
    sheet, ref = formula.split("!")
    return [c.value for row in wb[sheet][ref.replace("$", "")] for c in row]


def test_sheets_and_header_row(workbook: openpyxl.Workbook) -> None:
    assert workbook.sheetnames == ["Data", "Kolumner", "Koder", "Om mallen", "Listor"]
    assert workbook["Listor"].sheet_state == "hidden"
    ws = workbook["Data"]
    header = [c.value for c in ws[1]]
    assert header == [schema.column(n).sv for n in schema.TEMPLATE_COLUMNS]
    assert "Personnummer" in header
    assert ws.freeze_panes == "B2"
    assert all(ws.column_dimensions[openpyxl.utils.get_column_letter(i)].width >= 9
               for i in range(1, len(header) + 1))


def test_every_column_has_its_dropdown_or_validation(workbook: openpyxl.Workbook) -> None:
    ws = workbook["Data"]
    dvs = _validations(ws)
    assert len(dvs) == len(schema.TEMPLATE_COLUMNS)  # every column: at least an input message
    for i, name in enumerate(schema.TEMPLATE_COLUMNS, start=1):
        col = schema.column(name)
        dv = dvs[openpyxl.utils.get_column_letter(i)]
        assert dv.showInputMessage and dv.prompt and dv.promptTitle == col.sv[:32]
        if col.dtype == "code":
            assert dv.type == "list"
            unknown = ["Uppgift saknas"] if name in schema.UNKNOWN_CODE_COLUMNS else []
            assert _list_items(workbook, dv.formula1) == [c.sv for c in col.codes] + unknown
        elif col.dtype == "bool":  # three values, except a reason, which is ticked or not
            want = ["Ja", "Nej"] + ([] if name in schema.REASON_COLUMNS else ["Uppgift saknas"])
            assert dv.type == "list" and _list_items(workbook, dv.formula1) == want
        elif col.dtype == "date":
            assert dv.type == "date" and dv.operator == "between"
            assert int(dv.formula1) == 36526  # 2000-01-01 in Excel's serial days
            assert int(dv.formula2) == (dt.date(2099, 12, 31) - dt.date(1899, 12, 30)).days
        elif col.dtype == "int":
            assert dv.type == "whole" and dv.operator == "between"
            assert (int(dv.formula1), int(dv.formula2)) == (col.min_value, col.max_value)
        else:
            assert dv.type is None


def test_text_and_date_columns_are_formatted(workbook: openpyxl.Workbook) -> None:
    ws = workbook["Data"]
    for i, name in enumerate(schema.TEMPLATE_COLUMNS, start=1):
        fmt = ws.column_dimensions[openpyxl.utils.get_column_letter(i)].number_format
        dtype = schema.column(name).dtype
        if dtype == "date":
            assert fmt == "yyyy-mm-dd"
        elif dtype == "str":
            assert fmt == "@", name  # personnummer must stay text when typed


def test_long_lists_go_through_the_hidden_list_sheet(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(template, "INLINE_LIST_LIMIT", 20)
    wb = openpyxl.load_workbook(template.write_template(tmp_path / "t.xlsx"))
    dvs = _validations(wb["Data"])
    moved = 0
    for i, name in enumerate(schema.TEMPLATE_COLUMNS, start=1):
        col = schema.column(name)
        if col.dtype not in ("code", "bool"):
            continue
        dv = dvs[openpyxl.utils.get_column_letter(i)]
        values = list(template.list_values(col))
        assert _list_items(wb, dv.formula1) == values
        if len(",".join(values)) > 20:
            assert dv.formula1.startswith("Listor!")
            moved += 1
    assert moved >= 5


def test_inline_list_rules() -> None:
    assert template.inline_list(["Ja", "Nej"]) == '"Ja,Nej"'
    assert template.inline_list(["a,b", "c"]) is None
    assert template.inline_list(["x" * 200, "y" * 60]) is None  # 261 characters > 255
    assert template.inline_list(["x" * 200, "y" * 54]) == f'"{"x" * 200},{"y" * 54}"'  # exactly 255


def test_doc_sheet_lists_every_column_and_allowed_value(workbook: openpyxl.Workbook) -> None:
    rows = [[c.value for c in r] for r in workbook["Kolumner"].iter_rows()]
    assert rows[0][:6] == ["Kolumnnamn", "Rubrik i Data", "Betydelse", "Typ", "Tillåtna värden",
                           "Obligatorisk"]
    by_name = {r[0]: r for r in rows[1:]}
    assert list(by_name) == list(schema.TEMPLATE_COLUMNS)
    for name, r in by_name.items():
        col = schema.column(name)
        assert r[1] == col.sv and r[2] == (col.description_sv or col.sv)
        assert r[5] == ("Ja" if col.required else "Nej")
        for code in col.codes:
            assert code.sv in r[4]
        if col.dtype == "bool":
            assert r[4] == ("Ja; Nej" if name in schema.REASON_COLUMNS else "Ja; Nej; Uppgift saknas")
        if col.dtype == "int":
            assert r[4] == f"{col.min_value}–{col.max_value}"


def test_code_sheet_lists_every_code_and_reason(workbook: openpyxl.Workbook) -> None:
    rows = {(r[0], r[2]) for r in workbook["Koder"].iter_rows(min_row=2, values_only=True)}
    for name in schema.TEMPLATE_COLUMNS:
        for code in schema.column(name).codes:
            assert (name, code.code) in rows
    for r in schema.ORSAKER:
        assert (r.column, r.code) in rows


def test_about_sheet_has_version_and_instructions(workbook: openpyxl.Workbook) -> None:
    text = "\n".join(str(r[0]) for r in workbook["Om mallen"].iter_rows(values_only=True) if r[0])
    assert f"Schemaversion {schema.SCHEMA_VERSION}" in text
    assert "genomlysning validate" in text and "fritext" in text


def test_english_doc_sheet(tmp_path: Path) -> None:
    wb = openpyxl.load_workbook(template.write_template(tmp_path / "en.xlsx", lang="en"))
    assert wb.sheetnames == ["Data", "Columns", "Codes", "Om mallen", "Listor"]
    rows = list(wb["Columns"].iter_rows(values_only=True))
    assert rows[0][0] == "Column name"
    assert [r[2] for r in rows[1:]] == [schema.column(n).en for n in schema.TEMPLATE_COLUMNS]
    assert [c.value for c in wb["Data"][1]] == [schema.column(n).sv for n in schema.TEMPLATE_COLUMNS]


def test_two_writes_are_byte_identical_with_fixed_timestamps(tmp_path: Path) -> None:
    a = template.write_template(tmp_path / "a.xlsx").read_bytes()
    b = template.write_template(tmp_path / "b.xlsx").read_bytes()
    assert a == b
    with zipfile.ZipFile(tmp_path / "a.xlsx") as z:
        assert {i.date_time for i in z.infolist()} == {template.ZIP_DATE_TIME}
        core = z.read("docProps/core.xml").decode()
    assert "2000-01-01T00:00:00Z" in core
    assert openpyxl.load_workbook(tmp_path / "a.xlsx").properties.modified == template.FIXED_TIMESTAMP


def _sample_data() -> pd.DataFrame:
    """Three rows using every template column, Swedish labels as the synthetic generator writes."""
    rows = []
    for i in range(3):
        row: dict[str, object] = {}
        for name in schema.TEMPLATE_COLUMNS:
            col = schema.column(name)
            if col.dtype == "code":
                row[name] = col.codes[i % len(col.codes)].sv
            elif col.dtype == "bool":
                row[name] = ("Ja", "Nej", None)[i]
            elif col.dtype == "date":
                row[name] = dt.date(2025, 1 + i, 10 + i)
            elif col.dtype == "int":
                row[name] = (col.min_value or 0) + i
            else:
                row[name] = f"{name}-{i}"
        row["personnummer"] = ["20121212-1212", "199001010025", None][i]
        rows.append(row)
    return pd.DataFrame(rows)


def test_round_trip_through_read_raw(tmp_path: Path) -> None:
    data = _sample_data().astype(object)
    data.loc[1, "aktualiseringsdatum"] = "14/3 2025"   # a misspelt date stays text
    data.loc[2, "alder"] = "tolv"                        # so does a non-number
    data["utredning_start"] = pd.to_datetime(data["utredning_start"])  # Timestamps are dates too
    raw = ingest.read_raw(template.write_template(tmp_path / "ifylld.xlsx", data=data))
    assert raw.rad_excel.tolist() == [2, 3, 4]
    assert raw.dropped_columns == [] and raw.problems == []
    assert raw.columns_found == list(schema.TEMPLATE_COLUMNS)
    for name in schema.TEMPLATE_COLUMNS:
        expected = [None if v is None or (isinstance(v, float) and pd.isna(v))
                    else v.date().isoformat() if isinstance(v, pd.Timestamp)
                    else v.isoformat() if isinstance(v, dt.date) else str(v)
                    for v in data[name].tolist()]
        assert raw.frame[name].tolist() == expected, name


def test_dates_are_real_excel_dates(tmp_path: Path) -> None:
    wb = openpyxl.load_workbook(template.write_template(tmp_path / "d.xlsx", data=_sample_data()))
    ws = wb["Data"]
    idx = schema.TEMPLATE_COLUMNS.index("aktualiseringsdatum") + 1
    cell = ws.cell(row=2, column=idx)
    assert cell.is_date and cell.value == dt.datetime(2025, 1, 10)
    assert ws.cell(row=2, column=schema.TEMPLATE_COLUMNS.index("alder") + 1).data_type == "n"


def test_data_with_unknown_column_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="outside the template"):
        template.write_template(tmp_path / "x.xlsx", data=pd.DataFrame({"anteckning": ["x"]}))


def test_cli_template(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "mall.xlsx"
    assert template.cli_template(argparse.Namespace(path=str(out), lang="sv")) == 0
    assert out.is_file() and "Mallen är skriven" in capsys.readouterr().out


def test_every_sheet_states_its_dimension(tmp_path: Path) -> None:
    p = template.write_template(tmp_path / "d.xlsx", data=_sample_data())
    wb = openpyxl.load_workbook(p, read_only=True)
    assert (wb["Data"].max_row, wb["Data"].max_column) == (4, len(schema.TEMPLATE_COLUMNS))
    assert (wb["Kolumner"].max_row, wb["Kolumner"].max_column) == (len(schema.TEMPLATE_COLUMNS) + 1, 7)
    assert template.with_dimension(b'<worksheet x="1"><sheetData><row r="1"><c r="AB7"/></row></sheetData>') \
        == b'<worksheet x="1"><dimension ref="A1:AB7" /><sheetData><row r="1"><c r="AB7"/></row></sheetData>'

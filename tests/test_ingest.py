"""Import: CSV/xlsx reading, header matching, the params mapping, dropped columns, Excel row numbers."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import openpyxl
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from genomlysning import ingest, paths, schema
from genomlysning import personnummer as pn

MINIMAL = "Löpnummer;Aktualiseringsdatum;Aktualiseringstyp\n"


def _csv(tmp_path: Path, text: str, name: str = "export.csv", encoding: str = "utf-8") -> Path:
    p = tmp_path / name
    p.write_bytes(text.encode(encoding))
    return p


def _no_pnr_in_the_problems(raw: ingest.RawTable) -> None:
    for p in raw.problems:
        assert pn.find_in_text(p.message()) == []
    for header, reason in raw.dropped_columns:
        assert pn.find_in_text(header) == [] and pn.find_in_text(reason) == []


@pytest.mark.parametrize(("sep", "encoding", "bom"), [(";", "utf-8", True), (",", "utf-8", False),
                                                       ("\t", "utf-8", False), (";", "cp1252", False)])
def test_csv_separator_and_encoding_are_sniffed(tmp_path: Path, sep: str, encoding: str, bom: bool) -> None:
    header = ["Löpnummer", "Aktualiseringsdatum", "Aktualiseringstyp", "Förhandsbedömning, beslut"]
    rows = [["1", "2025-01-02", "Anmälan", "Inleda utredning"], ["2", "2025-01-03", "Ansökan", ""]]
    lines = [sep.join(f'"{h}"' if sep in h else h for h in r) for r in [header, *rows]]
    text = ("\ufeff" if bom else "") + "\n".join(lines) + "\n"
    raw = ingest.read_raw(_csv(tmp_path, text, encoding=encoding))
    assert raw.frame["rad_id"].tolist() == ["1", "2"]
    assert raw.frame["aktualiseringstyp"].tolist() == ["Anmälan", "Ansökan"]
    assert raw.frame["fb_beslut"].tolist() == ["Inleda utredning", None]
    assert raw.columns_found == ["rad_id", "aktualiseringsdatum", "aktualiseringstyp", "fb_beslut"]
    assert raw.rad_excel.tolist() == [2, 3]
    assert raw.dropped_columns == [] and raw.problems == []


def test_sniff_separator_prefers_consistent_width() -> None:
    sample = '"Utredning, startdatum";Kön;Ålder\n2025-01-01;Flicka;3\n'
    assert ingest.sniff_separator(sample) == ";"
    assert ingest.sniff_separator("a,b;c\n1,2;3\n4,5;6\n") in {",", ";"}
    assert ingest.sniff_separator("a\tb\tc\n1\t2\t3\n") == "\t"
    # a ';' file whose header has a label with a comma and whose data has quoted ',' and line breaks
    # (found by the property test): known headers decide
    sample = 'Löpnummer;Aktualiseringsdatum;Förhandsbedömning, beslut\n;;",\n"\n;;";,"\n'
    assert ingest.sniff_separator(sample, ingest.header_lookup()) == ";"


def test_headers_match_names_and_labels_case_and_space_insensitively(tmp_path: Path) -> None:
    text = "RAD_ID;  aktualiserings datum ;Type of aktualisering;kön;Reporter;Våld mot barnet\n" \
           "7;2025-02-01;Anmälan;Pojke;Polisen;Ja\n"
    raw = ingest.read_raw(_csv(tmp_path, text.replace("aktualiserings datum", "aktualiseringsdatum")))
    assert raw.columns_found == ["rad_id", "aktualiseringsdatum", "aktualiseringstyp", "kon", "anmalare",
                                 "orsak_vald_mot_barnet"]
    assert raw.frame.loc[0, "kon"] == "Pojke" and raw.frame.loc[0, "orsak_vald_mot_barnet"] == "Ja"
    assert list(raw.frame.columns) == list(schema.TEMPLATE_COLUMNS)
    assert raw.frame["insats_typ"].isna().all()  # absent columns are all None


def test_header_lookup_has_no_conflicts() -> None:
    lookup = ingest.header_lookup()
    for name in schema.TEMPLATE_COLUMNS:
        col = schema.column(name)
        for key in (col.name, col.sv, col.en):
            assert lookup[ingest.normalise_header(key)] == name


def test_values_are_stripped_text_or_none(tmp_path: Path) -> None:
    raw = ingest.read_raw(_csv(tmp_path, MINIMAL + " 1 ;  ;Anmälan \n"))
    assert raw.frame.loc[0, "rad_id"] == "1"
    assert raw.frame.loc[0, "aktualiseringsdatum"] is None
    assert raw.frame.loc[0, "aktualiseringstyp"] == "Anmälan"
    assert all(isinstance(v, str) or v is None for v in raw.frame.to_numpy().ravel())


def test_rad_excel_counts_like_excel(tmp_path: Path) -> None:
    # line 1 header, 2 data, 3 blank, 4 data with a quoted line break (one Excel row), 5 only ;;, 6 data
    text = MINIMAL + '1;2025-01-01;Anmälan\n\n2;2025-01-02;"Ans\nökan"\n;;\n3;2025-01-03;Anmälan\n'
    raw = ingest.read_raw(_csv(tmp_path, text))
    assert raw.frame["rad_id"].tolist() == ["1", "2", "3"]
    assert raw.rad_excel.tolist() == [2, 4, 6]
    assert raw.frame.index.tolist() == [0, 1, 2]


def test_rad_excel_in_a_workbook_is_the_sheet_row(tmp_path: Path) -> None:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "Data"
    ws.append(["Löpnummer", "Aktualiseringsdatum", "Aktualiseringstyp", "Ålder", "Personnummer"])
    ws.append([1, dt.datetime(2025, 1, 1), "Anmälan", 12.0, 201212121212])
    ws.append([])
    ws.append([])
    ws.append(["2", dt.date(2025, 1, 2), "Ansökan", 3.5, "20121212-1212"])
    ws.append([3, dt.datetime(2025, 1, 3, 14, 30), " Anmälan ", None, None])
    p = tmp_path / "hand.xlsx"
    wb.save(p)
    raw = ingest.read_raw(p)
    assert raw.rad_excel.tolist() == [2, 5, 6]
    assert raw.frame["rad_id"].tolist() == ["1", "2", "3"]
    assert raw.frame["aktualiseringsdatum"].tolist() == ["2025-01-01", "2025-01-02", "2025-01-03 14:30:00"]
    assert raw.frame["alder"].tolist() == ["12", "3.5", None]
    assert raw.frame["personnummer"].tolist() == ["201212121212", "20121212-1212", None]
    assert raw.frame["aktualiseringstyp"].tolist() == ["Anmälan", "Ansökan", "Anmälan"]


def test_sheet_choice(tmp_path: Path) -> None:
    wb = openpyxl.Workbook()
    wb.active.title = "Info"
    ws = wb.create_sheet("Export")
    ws.append(["Löpnummer", "Aktualiseringsdatum", "Aktualiseringstyp"])
    ws.append(["1", "2025-01-01", "Anmälan"])
    p = tmp_path / "two.xlsx"
    wb.save(p)
    with pytest.raises(ingest.IngestError, match="bladet 'Data' finns inte; bladen heter: Info, Export"):
        ingest.read_raw(p)
    assert ingest.read_raw(p, {"sheet": "Export"}).frame["rad_id"].tolist() == ["1"]


def test_unknown_column_is_dropped_and_reported(tmp_path: Path) -> None:
    text = "Löpnummer;Aktualiseringsdatum;Aktualiseringstyp;Handläggare;Anmälre;År\n" \
           "1;2025-01-01;Anmälan;Eva;Skola;2025\n"
    raw = ingest.read_raw(_csv(tmp_path, text))
    reasons = dict(raw.dropped_columns)  # undeclared headers are shown by their column letter
    assert reasons["(kolumn D)"] == ingest.DROP_UNKNOWN
    assert reasons["(kolumn E)"].startswith(ingest.DROP_UNKNOWN) and "Anmälare" in reasons["(kolumn E)"]
    assert reasons["År"] == ingest.DROP_DERIVED
    noted = {p.kolumn for p in raw.problems}
    assert noted == {"(kolumn D)", "(kolumn E)", "År"}
    assert all(p.allvarlighet == "varning" and p.rad_excel == 0 for p in raw.problems)
    assert "Eva" not in raw.frame.to_numpy().ravel().tolist()


def test_free_text_with_personnummer_is_dropped_but_schema_columns_are_kept(tmp_path: Path) -> None:
    text = ("Löpnummer;Personnummer;Aktualiseringsdatum;Aktualiseringstyp;Anteckning;Område/team;Kön\n"
            "1;20121212-1212;2025-01-01;Anmälan;Ringde om 121212-1212 igår;Öst;Pojke\n"
            "2;199001010025;2025-01-02;Ansökan;ingen anteckning;Pilot 9001010025;121212-1212\n")
    raw = ingest.read_raw(_csv(tmp_path, text))
    assert dict(raw.dropped_columns) == {"(kolumn E)": ingest.DROP_FREE_TEXT_PNR}
    assert all("personnummer}" not in p.regel for p in raw.problems)
    _no_pnr_in_the_problems(raw)
    # schema columns are kept as text: the cleaning stage finds the personnummer row by row
    assert raw.frame["personnummer"].tolist() == ["20121212-1212", "199001010025"]
    assert raw.frame["omrade"].tolist() == ["Öst", "Pilot 9001010025"]
    assert raw.frame["kon"].tolist() == ["Pojke", "121212-1212"]


@pytest.mark.parametrize("header", ["19811218-9876", "Barn 811218\u20139876", "pnr 19811218 9876"])
def test_a_header_with_a_personnummer_is_dropped_and_never_echoed(tmp_path: Path, header: str) -> None:
    raw = ingest.read_raw(_csv(tmp_path, MINIMAL.strip() + f";{header}\n1;2025-01-01;Anmälan;x\n"))
    assert raw.dropped_columns == [("(kolumn D)", ingest.DROP_HEADER_PNR)]
    texts = [str(x) for p in raw.problems for x in (p.kolumn, p.varde, p.regel, p.giltigt)]
    assert not any("9876" in t or "811218" in t for t in texts)


@pytest.mark.parametrize("name", ["barn_19811218-9876.csv", "811218 9876.csv", "lista_811218_9876.csv"])
def test_a_file_name_with_a_personnummer_is_refused_without_echoing_it(tmp_path: Path, name: str) -> None:
    p = _csv(tmp_path, MINIMAL + "1;2025-01-01;Anmälan\n", name=name)
    with pytest.raises(ingest.IngestError, match="ser ut att innehålla ett personnummer") as exc:
        ingest.read_raw(p)
    assert "9876" not in str(exc.value) and "byt namn" in str(exc.value)


def test_a_dated_file_name_is_accepted(tmp_path: Path) -> None:
    p = _csv(tmp_path, MINIMAL + "1;2025-01-01;Anmälan\n", name="export_2025-01-01_2025-12-31.csv")
    assert ingest.read_raw(p).fil == "export_2025-01-01_2025-12-31.csv"


def test_an_unmapped_personnummer_column_gets_a_hint(tmp_path: Path) -> None:
    text = MINIMAL.strip() + ";Pnr\n1;2025-01-01;Anmälan;20121212-1212\n2;2025-01-02;Anmälan;811218-9876\n"
    raw = ingest.read_raw(_csv(tmp_path, text))
    [(header, reason)] = raw.dropped_columns
    assert header == "(kolumn D)" and reason.startswith(ingest.DROP_FREE_TEXT_PNR)
    assert "mapping.columns: {<rubriken i (kolumn D)>: personnummer}" in reason
    assert raw.frame["personnummer"].isna().all()
    _no_pnr_in_the_problems(raw)


def test_missing_required_column_is_a_clear_error(tmp_path: Path) -> None:
    p = _csv(tmp_path, "Löpnummer;Datum;Typ\n1;2025-01-01;Anmälan\n", name="utan.csv")
    with pytest.raises(ingest.IngestError) as exc:
        ingest.read_raw(p)
    msg = str(exc.value)
    assert msg.startswith("utan.csv: obligatorisk kolumn saknas: Aktualiseringsdatum (aktualiseringsdatum), "
                          "Aktualiseringstyp (aktualiseringstyp).")
    assert "Rubrikraden (rad 1) har: 'Löpnummer', (kolumn B), (kolumn C)" in msg  # undeclared: by letter
    assert "bladet Kolumner i mallen" in msg and "mapping.columns" in msg
    assert len(msg) < 700  # a few lines, not every valid header
    assert {p.kolumn for p in exc.value.problems if p.allvarlighet == "fel"} == {"aktualiseringsdatum",
                                                                                 "aktualiseringstyp"}


def test_column_letters() -> None:
    assert [ingest.column_letter(i) for i in (0, 25, 26, 51, 52, 701, 702)] == \
        ["A", "Z", "AA", "AZ", "BA", "ZZ", "AAA"]


def test_file_name_is_never_absolute(tmp_path: Path) -> None:
    raw = ingest.read_raw(_csv(tmp_path, MINIMAL + "1;2025-01-01;Anmälan\n", name="x.csv"))
    assert raw.fil == "x.csv" and not os.path.isabs(raw.fil)
    assert paths.relative(paths.PROJECT_ROOT / "data" / "raw" / "k" / "a.csv") == "data/raw/k/a.csv"


def test_unreadable_and_unknown_files(tmp_path: Path) -> None:
    with pytest.raises(ingest.IngestError, match="filen finns inte"):
        ingest.read_raw(tmp_path / "saknas.csv")
    with pytest.raises(ingest.IngestError, match="okänt filformat '.xls'"):
        ingest.read_raw(_csv(tmp_path, "x", name="gammal.xls"))
    with pytest.raises(ingest.IngestError, match="kan inte läsas som Excel-fil"):
        ingest.read_raw(_csv(tmp_path, "inte en zip", name="trasig.xlsx"))
    with pytest.raises(ingest.IngestError, match="filen är tom"):
        ingest.read_raw(_csv(tmp_path, "\n\n", name="tom.csv"))


def test_duplicate_headers(tmp_path: Path) -> None:
    same = ingest.read_raw(_csv(tmp_path, "Löpnummer;Aktualiseringsdatum;Aktualiseringstyp;rad_id\n"
                                          "1;2025-01-01;Anmälan;1\n", name="same.csv"))
    assert same.dropped_columns == [("rad_id", "dubblett av kolumn Löpnummer (samma värden)")]
    with pytest.raises(ingest.IngestError, match="'Löpnummer' och 'rad_id' betyder båda rad_id"):
        ingest.read_raw(_csv(tmp_path, "Löpnummer;Aktualiseringsdatum;Aktualiseringstyp;rad_id\n"
                                       "1;2025-01-01;Anmälan;2\n", name="diff.csv"))


def test_row_with_too_many_fields_is_kept_and_flagged(tmp_path: Path) -> None:
    text = MINIMAL + "1;2025-01-01;Anmälan\n2;2025-01-02;Anmälan;extra\n3;2025-01-03;Anmälan;;\n"
    raw = ingest.read_raw(_csv(tmp_path, text))
    assert raw.frame["rad_id"].tolist() == ["1", "2", "3"]
    assert raw.rad_excel.tolist() == [2, 3, 4]
    [problem] = raw.problems
    assert (problem.rad_excel, problem.allvarlighet, problem.varde) == (3, "fel", "text, 5 tecken")


# ---------------------------------------------------------------------------------------------
# The params mapping
# ---------------------------------------------------------------------------------------------

EXPORT = ("Ärendenr,Inkom,Ärendetyp,Anmälare,Orsaker,Handläggare,Anteckning,Barnsamtal\n"
          '101,2025-01-05,ORO,POL,"Våld;  missbruk förälder",Eva,ring,J\n'
          '102,2025-01-06,ANS,SKOLA,,Per,,N\n'
          '103,2025-01-07,ORO,Granne,"Skolfrånvaro;Mobbning",Eva,,\n')
MAPPING = {"mapping": {
    "columns": {"Ärendenr": "rad_id", "Inkom": "aktualiseringsdatum", "Ärendetyp": "aktualiseringstyp",
                "anmälare": "Anmälare"},
    "values": {"aktualiseringstyp": {"ORO": "anmalan", "ANS": "Ansökan"},
               "anmalare": {"POL": "polisen", "Skola": "skola"},
               "Barnsamtal": {"J": "ja", "N": "Nej"},
               "Orsaker": {"Våld": "vald_mot_barnet"}},
    "reasons": {"column": "Orsaker", "separator": ";"},
    "drop": ["Handläggare", "Anteckning"],
}}


def test_mapping_rename_recode_reasons_and_drop(tmp_path: Path) -> None:
    raw = ingest.read_raw(_csv(tmp_path, EXPORT), MAPPING)
    f = raw.frame
    assert f["rad_id"].tolist() == ["101", "102", "103"]
    assert f["aktualiseringstyp"].tolist() == ["Anmälan", "Ansökan", "Anmälan"]
    assert f["anmalare"].tolist() == ["Polisen", "Skola", "Granne"]  # unmapped values pass through
    assert f["barnsamtal"].tolist() == ["Ja", "Nej", None]
    assert f["orsak_vald_mot_barnet"].tolist() == ["Ja", None, "Nej"]
    assert f["orsak_missbruk_vardnadshavare"].tolist() == ["Ja", None, "Nej"]  # via a schema alias
    assert f["orsak_skolfranvaro"].tolist() == ["Nej", None, "Ja"]
    assert f["orsak_ovrigt"].tolist() == ["Nej", None, "Ja"]  # the unknown "Mobbning"
    assert f.loc[0, schema.REASON_COLUMNS].tolist().count("Ja") == 2
    assert raw.dropped_columns == [("Handläggare", ingest.DROP_MAPPING), ("Anteckning", ingest.DROP_MAPPING)]
    [problem] = raw.problems
    assert (problem.rad_excel, problem.kolumn, problem.varde, problem.allvarlighet) == \
        (4, "Orsaker", "text, 8 tecken", "varning")  # the unknown text is shown by its shape only
    assert "Våld mot barnet" in problem.giltigt and "Övrigt" in problem.regel
    assert raw.columns_found[:3] == ["rad_id", "aktualiseringsdatum", "aktualiseringstyp"]


def test_mapping_with_an_invalid_target_is_refused() -> None:
    with pytest.raises(ingest.IngestError,
                       match="'polismyndigheten' är inget giltigt värde för anmalare; giltiga: polisen"):
        ingest.mapping_values({"mapping": {"values": {"anmalare": {"POL": "polismyndigheten"}}}})
    with pytest.raises(ingest.IngestError, match="'datum' är ingen kolumn i schemat"):
        ingest.mapping_columns({"mapping": {"columns": {"Inkom": "datum"}}})
    with pytest.raises(ingest.IngestError, match="inget Ja/Nej-värde"):
        ingest.mapping_values({"mapping": {"values": {"barnsamtal": {"J": "kanske"}}}})
    with pytest.raises(ingest.IngestError, match="ingen anmälningsorsak"):
        ingest.mapping_values({"mapping": {"reasons": {"column": "O"}, "values": {"O": {"x": "okänd"}}}})
    with pytest.raises(ingest.IngestError, match="okänd nyckel"):
        ingest.mapping_reasons({"mapping": {"reasons": {"column": "O", "sep": ","}}})


def test_mapping_helpers_normalise_keys() -> None:
    assert ingest.mapping_columns(MAPPING) == {"ärendenr": "rad_id", "inkom": "aktualiseringsdatum",
                                              "ärendetyp": "aktualiseringstyp", "anmälare": "anmalare"}
    assert ingest.mapping_drop(MAPPING) == {"handläggare", "anteckning"}
    assert ingest.mapping_reasons(MAPPING) == ("orsaker", ";")
    values = ingest.mapping_values(MAPPING)
    assert values["aktualiseringstyp"] == {"oro": "Anmälan", "ans": "Ansökan"}
    assert values["__orsak__"] == {"våld": "vald_mot_barnet"}
    assert ingest.mapping_reasons({}) is None and ingest.mapping_columns(None) == {}


def test_reason_column_and_reason_indicators_together_are_refused(tmp_path: Path) -> None:
    text = MINIMAL.strip() + ";Orsaker;Skolfrånvaro\n1;2025-01-01;Anmälan;Våld mot barnet;Ja\n"
    with pytest.raises(ingest.IngestError, match="anger båda anmälningsorsaker"):
        ingest.read_raw(_csv(tmp_path, text), {"mapping": {"reasons": {"column": "Orsaker"}}})


def test_expand_reasons_accepts_codes_labels_aliases_and_column_names() -> None:
    s = pd.Series(["vald_mot_barnet", "Barnet bevittnat våld|Heder", "orsak_eget_missbruk", None,
                   " | "], dtype=object)
    out, problems = ingest.expand_reasons(s, "|", {}, "f.csv", "Orsak", pd.Series([2, 3, 4, 5, 6]))
    assert problems == []
    assert out["orsak_vald_mot_barnet"].tolist() == ["Ja", "Nej", "Nej", None, "Nej"]
    assert out["orsak_bevittnat_vald"].tolist() == ["Nej", "Ja", "Nej", None, "Nej"]
    assert out["orsak_hedersrelaterat"].tolist() == ["Nej", "Ja", "Nej", None, "Nej"]
    assert out["orsak_eget_missbruk"].tolist() == ["Nej", "Nej", "Ja", None, "Nej"]


def test_unknown_reason_text_with_a_personnummer_is_masked_in_the_warning() -> None:
    s = pd.Series(["Oro för 121212-1212"], dtype=object)
    out, [problem] = ingest.expand_reasons(s, ";", {}, "f.csv", "Orsak", pd.Series([2]))
    assert problem.varde == "text med något som liknar ett personnummer, 19 tecken"
    assert out.loc[0, "orsak_ovrigt"] == "Ja"


# ---------------------------------------------------------------------------------------------
# The fast xlsx reader agrees with openpyxl and handles what Excel and other producers write
# ---------------------------------------------------------------------------------------------

def test_fast_xlsx_reader_agrees_with_openpyxl(tmp_path: Path) -> None:
    from openpyxl.cell.rich_text import CellRichText, TextBlock
    from openpyxl.cell.text import InlineFont

    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "Data"
    ws.append(["Löpnummer", "Aktualiseringsdatum", "Aktualiseringstyp", "Ålder", "Barnsamtal", "Omrade"])
    ws.append([1, dt.datetime(2025, 1, 1), "Anmälan", 12.0, True, CellRichText("Pi", TextBlock(
        InlineFont(b=True), "lot"))])
    ws.append([2.0, dt.datetime(2025, 1, 3, 14, 30), "Ansökan", 3.25, False, "=1+1"])
    ws.append([None, None, None, None, None, None])
    ws["A5"] = 12345678901
    ws["B5"] = dt.date(2024, 2, 29)
    ws["B5"].number_format = "d/m/yyyy"
    p = tmp_path / "mix.xlsx"
    wb.save(p)
    fast = ingest._xlsx_rows_fast(p, "mix.xlsx", None)
    assert fast == ingest._xlsx_rows_openpyxl(p, "mix.xlsx", None)
    assert fast[1] == (2, ["1", "2025-01-01", "Anmälan", "12", "Ja", "Pilot"])
    assert fast[2][1][:5] == ["2", "2025-01-03 14:30:00", "Ansökan", "3.25", "Nej"]
    assert fast[3] == (5, ["12345678901", "2024-02-29"])


def test_fast_xlsx_reader_on_hand_written_package_xml(tmp_path: Path) -> None:
    """Prefixed namespaces, no r attributes, inline and phonetic strings, t="d" and the 1904 system."""
    ns = 'xmlns:x="http://schemas.openxmlformats.org/spreadsheetml/2006/main"'
    rel = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
    parts = {
        "xl/workbook.xml": f'<x:workbook {ns} xmlns:r="{rel}"><x:workbookPr date1904="1"/><x:sheets>'
                           '<x:sheet name="Blad1" sheetId="1" r:id="rId7"/></x:sheets></x:workbook>',
        "xl/_rels/workbook.xml.rels":
            '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
            f'<Relationship Id="rId7" Type="{rel}/worksheet" Target="/xl/worksheets/blad.xml"/>'
            f'<Relationship Id="rId8" Type="{rel}/sharedStrings" Target="strings.xml"/>'
            f'<Relationship Id="rId9" Type="{rel}/styles" Target="styles.xml"/></Relationships>',
        "xl/strings.xml": f'<x:sst {ns}><x:si><x:t> Löpnummer </x:t></x:si><x:si><x:r><x:t>Aktualiserings'
                          '</x:t></x:r><x:r><x:t>datum</x:t></x:r><x:rPh><x:t>ignored</x:t></x:rPh></x:si>'
                          '</x:sst>',
        "xl/styles.xml": f'<x:styleSheet {ns}><x:cellXfs count="2"><x:xf numFmtId="0"/><x:xf numFmtId="14"/>'
                         '</x:cellXfs></x:styleSheet>',
        "xl/worksheets/blad.xml":
            f'<x:worksheet {ns}><x:sheetData>'
            '<x:row><x:c t="s"><x:v>0</x:v></x:c><x:c t="s"><x:v>1</x:v></x:c>'
            '<x:c t="inlineStr"><x:is><x:t>Aktualiseringstyp</x:t></x:is></x:c></x:row>'
            '<x:row r="3"><x:c r="A3"><x:v>7</x:v></x:c><x:c r="B3" s="1"><x:v>44927</x:v></x:c>'
            '<x:c r="C3" t="str"><x:f>X()</x:f><x:v>Anmälan</x:v></x:c></x:row>'
            '<x:row><x:c t="e"><x:v>#N/A</x:v></x:c><x:c t="d"><x:v>2025-03-01T00:00:00</x:v></x:c></x:row>'
            '</x:sheetData></x:worksheet>',
    }
    p = tmp_path / "hand.xlsx"
    import zipfile

    with zipfile.ZipFile(p, "w") as z:
        for name, text in parts.items():
            z.writestr(name, text)
    rows = ingest._xlsx_rows_fast(p, "hand.xlsx", None)
    assert rows == [(1, ["Löpnummer", "Aktualiseringsdatum", "Aktualiseringstyp"]),
                    (3, ["7", "2027-01-02", "Anmälan"]),  # serial 44927 in the 1904 system
                    (4, ["#N/A", "2025-03-01"])]
    raw = ingest.read_raw(p)
    assert raw.rad_excel.tolist() == [3, 4] and raw.frame["rad_id"].tolist() == ["7", "#N/A"]


# ---------------------------------------------------------------------------------------------
# Property: any text written by a CSV writer comes back cell for cell, with Excel's row numbers
# ---------------------------------------------------------------------------------------------

_TEXT = st.text(alphabet='abcÅÄÖ éü;,"\n\t', max_size=8)
_COLS = ("rad_id", "aktualiseringsdatum", "aktualiseringstyp", "fb_beslut", "omrade")


@given(st.lists(st.tuples(*[_TEXT] * len(_COLS)), min_size=1, max_size=12),
       st.sampled_from([";", ",", "\t"]), st.sampled_from(["utf-8-sig", "utf-8", "cp1252"]))
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_csv_round_trip_property(tmp_path: Path, rows: list[tuple[str, ...]], sep: str,
                                 encoding: str) -> None:
    frame = pd.DataFrame(rows, columns=[schema.column(c).sv for c in _COLS])
    p = tmp_path / "prop.csv"
    frame.to_csv(p, sep=sep, index=False, encoding=encoding)
    raw = ingest.read_raw(p)
    expected = [(i + 2, [v.strip() or None for v in r]) for i, r in enumerate(rows)]
    expected = [(n, r) for n, r in expected if any(v is not None for v in r)]
    assert raw.rad_excel.tolist() == [n for n, _ in expected]
    assert raw.frame[list(_COLS)].to_numpy().tolist() == [r for _, r in expected]
    assert raw.problems == [] and raw.dropped_columns == []

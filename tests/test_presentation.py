"""How numbers, intervals, missing values, tables and sheet names print (genomlysning.report)."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import numpy as np
import pandas as pd
import pytest

from genomlysning import disclose, report


class _Cells(HTMLParser):
    """Header and body cells of every table, and whether a <details> fold is present."""

    def __init__(self) -> None:
        super().__init__()
        self.th: list[str] = []
        self.td: list[str] = []
        self.details = 0
        self._cell: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("th", "td"):
            self._cell = tag
            getattr(self, tag).append("")
        self.details += tag == "details"

    def handle_endtag(self, tag: str) -> None:
        if tag in ("th", "td"):
            self._cell = None

    def handle_data(self, data: str) -> None:
        if self._cell:
            getattr(self, self._cell)[-1] += data


def _parse(html: str) -> _Cells:
    page = _Cells()
    page.feed(html)
    return page


def test_negative_numbers_print_with_a_real_minus_sign() -> None:
    assert report.format_number(-31.04) == "\u221231,04"
    assert report.format_number(-24966) == "\u221224\u00a0966"
    assert report.format_number(-0.125, share=True) == "\u221212,5\u00a0%"
    assert report.format_number(-1.5, "en") == "\u22121.50"
    assert "-" not in report.format_number(-3.0)
    assert report.format_number(24966) == "24\u00a0966"  # the thousands space of every count


def test_intervals_read_till_and_never_run_signs_together() -> None:
    df = pd.DataFrame({"x": [-31.04, 0.21, None, 5.0], "x_lo": [-33.5, 0.0, 1.0, None],
                       "x_hi": [-26.97, 1.99, 2.0, 6.0]})
    view = report.display_table(df)
    text = list(view.iloc[:, 0])
    assert text[0] == "\u221231,04 (\u221233,50 till \u221226,97)"
    assert text[1] == "0,21 (0 till 1,99)"
    assert text[2] == report.NO_DATA  # no estimate: no data, not hidden
    assert text[3] == "5"  # a bound missing: the value alone
    for cell in text:
        assert not re.search(r"[–-]\s*[-−]", cell) and "-" not in cell
    en = report.display_table(df, "en").iloc[0, 0]
    assert en == "\u221231.04 (\u221233.50 to \u221226.97)"
    assert report.format_interval(disclose.SUPPRESSED, "1", "2") == disclose.SUPPRESSED


def test_hidden_and_missing_are_told_apart() -> None:
    df = pd.DataFrame({"n": [disclose.SUPPRESSED, None, 12], "andel": [disclose.SUPPRESSED, np.nan, 0.5]})
    view = report.display_table(df)
    assert list(view.iloc[:, 0]) == [disclose.SUPPRESSED, report.NO_DATA, "12"]
    assert list(view.iloc[:, 1]) == [disclose.SUPPRESSED, report.NO_DATA, "50,0\u00a0%"]


def test_reader_html_has_no_index_and_swedish_cells() -> None:
    long_label = "Andel av aktualiseringar med avgjord förhandsbedömning inom fjorton dagar efter inkomst"
    df = pd.DataFrame({"Utfall": [long_label, "<b>x</b>"], "n": [24966, None], "ar": [2025, 2024],
                       "skattning": [-3.14159, 0.5]}, index=[7, 9])
    page = _parse(report.reader_html(df))  # row labels 7, 9 (a filtered table): not shown
    assert page.th == ["Utfall", "n", "ar", "skattning"]  # no index column
    assert page.td[:4] == [long_label, "24\u00a0966", "2025", "\u22123,14"]  # label whole, not cut
    assert page.td[4:] == ["<b>x</b>", report.NO_DATA, "2024", "0,50"]  # escaped text, no data as "–"
    assert "<b>x</b>" not in report.reader_html(df.reset_index(drop=True))
    # a named index is data: an ordinary column
    named = df.rename_axis("rad")
    assert _parse(report.reader_html(named)).th[0] == "rad"


def test_long_tables_are_folded() -> None:
    df = pd.DataFrame({"i": range(report.FOLD_ROWS + 5)})
    page = _parse(report.reader_html(df))
    assert page.details == 1
    assert len(page.td) == report.PREVIEW_ROWS + report.FOLD_ROWS + 5  # preview, then every row
    assert "Visa alla 30 rader" in report.reader_html(df)
    assert _parse(report.reader_html(df.head(report.FOLD_ROWS))).details == 0


@pytest.mark.parametrize("name", ["03_modell_insats_efter_utredning",
                                  "03_modell_orsaker_insats_efter_utredning", "04_" + "x" * 60,
                                  "a:b/c?d*[e]'f"])
def test_sheet_names_are_short_readable_and_unique(name: str) -> None:
    used: set[str] = set()
    names = [report._sheet_name(name, used) for _ in range(12)]
    assert len(set(n.lower() for n in names)) == 12
    for sheet in names:
        assert 1 <= len(sheet) <= report.SHEET_NAME_MAX and not re.search(r"[\[\]:*?/\\']", sheet)
    assert report.short_sheet_name("03_modell_insats_efter_utredning") == "03_modell_insats_efter_utred."
    assert report.short_sheet_name("02_tratt") == "02_tratt"  # a name that fits is kept


def test_a_shortened_sheet_keeps_the_full_name_and_title_inside(tmp_project) -> None:
    from openpyxl import load_workbook

    long_name = "03_modell_orsaker_insats_efter_utredning"
    df = pd.DataFrame({"kategori": ["a", "b"], "n": [10, 20]})
    for name, title in ((long_name, "Insats efter utredning: orsaker"), ("02_kort", "Kort")):
        report.save_table(df, "norrvik", name, title=title, unit="Aktualiseringar", source="Demo",
                          lang="sv", k=3)
    wb = load_workbook(report.write_workbook("norrvik"))
    assert len(wb.sheetnames) == 3 and "02_kort" in wb.sheetnames
    sheet = next(s for s in wb.sheetnames if s.startswith("03_"))
    assert len(sheet) <= 31 and "…" not in sheet
    ws = wb[sheet]
    assert ws["A1"].value == "Insats efter utredning: orsaker" and ws["A2"].value == f"Tabell: {long_name}"
    assert wb["02_kort"]["A2"].value.startswith("Enhet")


def test_a_source_line_says_the_year_once() -> None:
    assert report.tidy_source("Genomlysning Testby (data 2010) 2010: akter") == \
        "Genomlysning Testby (data 2010): akter"
    assert report.tidy_source("Egen bearbetning av akter, Testby 2010 2010") == \
        "Egen bearbetning av akter, Testby 2010"
    kept = "Rensade genomlysningsdata för Norrvik, 2023-01-01 – 2025-12-31"
    assert report.tidy_source(kept) == kept
    assert report.tidy_source("Genomlysning Norrvik 2025: akter") == "Genomlysning Norrvik 2025: akter"
    assert report.tidy_source("år 2024, 2025") == "år 2024, 2025"  # two different years stay


def test_a_wide_short_table_is_turned_to_fit_the_page() -> None:
    cols = {f"Indikator {i}: andel": [f"{i},0\u00a0%", disclose.SUPPRESSED] for i in range(15)}
    wide = pd.DataFrame({"Kommun": ["Ekby", "Norrvik"], **cols})
    page = _parse(report.reader_html(wide))
    assert page.th == ["Kommun", "Ekby", "Norrvik"]
    assert page.td[:3] == ["Indikator 0: andel", "0,0\u00a0%", disclose.SUPPRESSED]
    narrow = wide.iloc[:, :5]
    assert _parse(report.reader_html(narrow)).th[:2] == ["Kommun", "Indikator 0: andel"]

"""Validation problems: what was wrong, where (file, Excel row, column), and what would be valid."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Literal

Severity = Literal["fel", "varning"]  # fel = fatal: the row is quarantined; varning = row kept

#: Column order of the validation report (valideringsrapport.csv).
REPORT_COLUMNS: tuple[str, ...] = ("fil", "rad_excel", "kolumn", "varde", "regel", "allvarlighet",
                                   "giltigt")


@dataclass(frozen=True)
class Problem:
    """One problem found in one cell (or row, when ``kolumn`` is empty) of an input file.

    ``rad_excel`` is the row number the user sees in Excel (the header is row 1; 0 = the whole
    file). ``varde`` is the offending value when it is a schema code, a number or a date, and
    otherwise only its shape (:func:`shape`, e.g. ``"text, 18 tecken"``).
    """

    fil: str
    rad_excel: int
    kolumn: str
    varde: str
    regel: str
    allvarlighet: Severity
    giltigt: str

    def message(self) -> str:
        """One human-readable line: file:row, column, value, rule and what would be valid."""
        where = f"{self.fil}:{self.rad_excel}" if self.rad_excel else self.fil
        col = f" kolumn {self.kolumn!r}" if self.kolumn else ""
        val = f" värde {self.varde!r}" if self.varde != "" else ""
        return f"{where}:{col}{val}: {self.regel} [{self.allvarlighet}] – giltigt: {self.giltigt}"


_SHAPES: dict[str, dict[str, str]] = {
    "pnr": {"sv": "liknar ett personnummer, {n} tecken", "en": "looks like a personnummer, {n} characters"},
    "text_pnr": {"sv": "text med något som liknar ett personnummer, {n} tecken",
                 "en": "text with something like a personnummer, {n} characters"},
    "digits": {"sv": "tal, {n} siffror", "en": "number, {n} digits"},
    "text": {"sv": "text, {n} tecken", "en": "text, {n} characters"},
}


def shape(value: str, lang: str = "sv") -> str:
    """What a value looks like, without the value: ``"text, 18 tecken"`` (``lang="en"``: English).

    Used wherever a problem's value is not a schema code, number or date: no free text, name or
    personnummer ever appears in a problem report.
    """
    from genomlysning import personnummer

    text = str(value)
    if personnummer.looks_like(text):
        kind = "pnr"
    elif personnummer.contains(text):
        kind = "text_pnr"
    elif text.isdigit():
        kind = "digits"
    else:
        kind = "text"
    return _SHAPES[kind]["en" if lang == "en" else "sv"].format(n=len(text))


def to_records(problems: Iterable[Problem]) -> list[dict[str, object]]:
    """Problems as a list of dicts in report-column order (for a DataFrame or CSV)."""
    return [asdict(p) for p in problems]

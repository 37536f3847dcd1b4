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
    file). ``varde`` is the offending value, masked if it could identify a person.
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


def to_records(problems: Iterable[Problem]) -> list[dict[str, object]]:
    """Problems as a list of dicts in report-column order (for a DataFrame or CSV)."""
    return [asdict(p) for p in problems]

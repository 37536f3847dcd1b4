"""Helpers shared by the cleaning tests: raw tables built from dicts, valid rows, problem sets."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from genomlysning import clean, personnummer, schema
from genomlysning.ingest import RawTable

#: The test params: real data (the tests pass their own KEY), the areas of BASE declared.
PARAMS: dict[str, Any] = {"kommun": "test", "synthetic": False, "period_slut": "2024-12-31",
                          "ateraktualisering_manader": 12, "omraden": ["Väst", "Pilot"]}
KEY = b"test-key-for-the-cleaning-tests-only"


def rid(value: str) -> str:
    """The pseudonym the clean table holds for the entered rad_id ``value`` (with KEY)."""
    return personnummer.pseudonymise_id("rad_id", value, KEY)


def pnr(birth: str, serial: str = "982") -> str:
    """A valid personnummer ``YYYYMMDD-NNNC`` for a birth date and three-digit serial."""
    return f"{birth}-{serial}{personnummer.luhn_digit(birth[2:] + serial)}"


#: The child of BASE: a girl born 2015-03-04 (aged 9 on 2024-03-05).
CHILD = pnr("20150304", "982")

#: A complete, consistent aktualisering: anmälan -> utredning -> insats accepted and started.
BASE: dict[str, str] = {
    "rad_id": "1", "personnummer": CHILD, "aktualiseringsdatum": "2024-03-05",
    "aktualiseringstyp": "Anmälan", "anmalare": "Skola", "orsak_omsorgssvikt": "Ja",
    "skyddsbedomning_datum": "2024-03-05", "fb_beslut": "Inleda utredning", "fb_datum": "2024-03-12",
    "utredning_start": "2024-03-12", "utredning_slut": "2024-06-20", "barnsamtal": "Ja",
    "barnsamtal_antal": "2", "kontakt_skola": "Ja", "utredning_utfall": "Insats beviljad",
    "insats_erbjuden": "Ja", "insats_svar": "Tackat ja", "insats_startad": "Ja", "insats_typ": "HVB",
    "insats_lagrum": "SoL", "omrade": "Väst",
}
#: A consistent aktualisering that did not (yet) reach the förhandsbedömning decision.
MINIMAL: dict[str, str] = {
    "rad_id": "1", "personnummer": CHILD, "aktualiseringsdatum": "2024-03-05",
    "aktualiseringstyp": "Anmälan", "anmalare": "Skola", "orsak_omsorgssvikt": "Ja",
}


def row(base: dict[str, str] | None = None, **overrides: str | None) -> dict[str, str | None]:
    """``base`` (default BASE) with ``overrides`` (None = blank cell)."""
    return {**(BASE if base is None else base), **overrides}


def raw_table(rows: list[dict[str, str | None]], fil: str = "test.csv") -> RawTable:
    """A RawTable as the import returns it: every template column, text or None, Excel rows 2.."""
    frame = pd.DataFrame({c: pd.Series([r.get(c) for r in rows], dtype=object)
                          for c in schema.TEMPLATE_COLUMNS})
    frame = frame.astype(object).where(frame.notna(), None)
    return RawTable(frame, fil, pd.Series(np.arange(2, len(rows) + 2), dtype="int64"))


def run(rows: list[dict[str, str | None]], **params: Any) -> clean.CleanResult:
    """Clean ``rows`` with the test params (plus ``params``) and the test key."""
    return clean.clean(raw_table(rows), {**PARAMS, **params}, key=KEY)


def found(result: clean.CleanResult) -> set[tuple[int, str, str, str]]:
    """The problems as ``(rad_excel, rule id, column, severity)``."""
    p = result.problems
    return set(zip(p["rad_excel"], p["regel"].str.split(":").str[0], p["kolumn"], p["allvarlighet"],
                   strict=True))


def output_texts(result: clean.CleanResult) -> list[str]:
    """Every text a cleaning result could publish (all cells and the accounting)."""
    import json

    texts: list[str] = []
    for frame in (result.frame, result.quarantine, result.problems):
        for col in frame.columns:
            texts += [str(v) for v in frame[col].astype(object).dropna()]
    texts.append(json.dumps(result.accounting, ensure_ascii=False))
    return texts

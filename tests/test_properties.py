"""Properties of cleaning on random dirty input (hypothesis): nothing lost, nothing identifying out."""

from __future__ import annotations

import datetime as dt
import re
import tempfile
from pathlib import Path

import pandas as pd
import pytest
from clean_support import KEY, PARAMS, output_texts, pnr, raw_table
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from genomlysning import clean, paths, personnummer, schema

#: The children of the random files: valid personnummer (12 and 10 digits) and their 10-digit core.
CHILDREN = [pnr("20150304", "982"), pnr("20100812", "991"), pnr("20191130", "984"), pnr("20080115", "997"),
            pnr("20040229", "986")]
CORES = [re.sub(r"\D", "", p)[2:] for p in CHILDREN]


def _variants(p: str) -> list[str]:
    digits = p.replace("-", "")
    return [p, digits, p[2:], digits[2:], f" {p} ", p[:-1] + str((int(p[-1]) + 3) % 10)]


PNR_TEXT = st.sampled_from([v for p in CHILDREN for v in _variants(p)])
#: Free text, sometimes with a personnummer glued in or spaced out.
NOISE = st.one_of(
    st.text(max_size=12),
    st.builds(lambda a, p, b: f"{a}{p}{b}", st.sampled_from(["", "x", "Ring ", "tel:"]), PNR_TEXT,
              st.sampled_from(["", "!", " igen", "abc"])),
)
_EXCEL_EPOCH = dt.date(1899, 12, 30)
DATES = st.one_of(
    st.dates(min_value=dt.date(2022, 6, 1), max_value=dt.date(2025, 3, 1)).flatmap(
        lambda d: st.sampled_from([d.isoformat(), d.strftime("%d/%m/%Y"), d.strftime("%Y%m%d"),
                                   f"{d.isoformat()} 10:15", str((d - _EXCEL_EPOCH).days)])),
    st.sampled_from(["2024-02-30", "igår", "31/31/2024", "5 mars 2024"]),
)


def _coded(col: str) -> st.SearchStrategy[str]:
    c = schema.column(col)
    spellings = [s for code in c.codes for s in (code.code, code.sv, code.sv.upper(), *code.aliases)]
    if c.dtype == "bool":
        spellings = [*schema.JA_NEJ_ALIASES_TRUE, *schema.JA_NEJ_ALIASES_FALSE, "Ja", "Nej", " JA "]
    typo = st.sampled_from(spellings).map(lambda s: s[:-1] if len(s) > 4 else s)
    return st.one_of(st.sampled_from(spellings), typo)


def _cell(col: str) -> st.SearchStrategy[str | None]:
    c = schema.column(col)
    if col == "personnummer":
        main = PNR_TEXT
    elif col == "rad_id":
        main = st.sampled_from(["1", "2", "3", "4", "1.0", "A-7"])
    elif col == "barn_id":
        main = st.sampled_from(["b1", "b2"])
    elif c.dtype == "date":
        main = DATES
    elif c.dtype in ("code", "bool"):
        main = _coded(col)
    elif c.dtype == "int":
        main = st.integers(-2, 130).map(str)
    else:
        main = st.sampled_from(["Väst", "Pilot"])
    return st.one_of(st.none(), main, main, NOISE)


ROWS = st.lists(st.fixed_dictionaries({c: _cell(c) for c in schema.TEMPLATE_COLUMNS}), max_size=25)
SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                           HealthCheck.data_too_large])


def _leaks(texts: list[str]) -> list[str]:
    """Texts that contain a personnummer (pattern) or the core digits of a test child."""
    return [t for t in texts if personnummer.find_in_text(t) or any(core in re.sub(r"\D", "", t)
                                                                     for core in CORES)]


@SETTINGS
@given(rows=ROWS)
def test_no_row_lost_and_no_personnummer_out(rows: list[dict[str, str | None]]) -> None:
    result = clean.clean(raw_table(rows), PARAMS, key=KEY)
    assert _leaks(output_texts(result)) == []
    assert "personnummer" not in result.frame.columns
    acc = result.accounting
    assert acc["rows_in"] == len(rows) == acc["rows_clean"] + acc["rows_quarantined"]
    kept, quarantined = set(result.frame["rad_excel"]), set(result.quarantine["rad_excel"])
    assert kept | quarantined == set(range(2, len(rows) + 2)) and not kept & quarantined
    fatal = set(result.problems.loc[(result.problems["allvarlighet"] == "fel")
                                    & (result.problems["rad_excel"] > 0), "rad_excel"])
    assert fatal == quarantined
    assert list(result.frame.columns) == list(schema.CLEAN_COLUMNS)
    for c in schema.CLEAN_COLUMNS:
        assert result.frame[c].dtype == schema.pandas_dtype(c), c
    assert sum(v["fel"] + v["varning"] for v in acc["rules"].values()) == len(result.problems)


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows=ROWS)
def test_no_personnummer_in_processed_files(rows: list[dict[str, str | None]]) -> None:
    result = clean.clean(raw_table(rows), PARAMS, key=KEY)
    with tempfile.TemporaryDirectory() as tmp, pytest.MonkeyPatch.context() as mp:
        mp.setattr(paths, "DATA_PROCESSED", Path(tmp))
        files = clean.write_processed(result, "egenskap")
        for name, path in files.items():
            if name == "aktualiseringar":
                frame = pd.read_parquet(path)
                texts = [str(v) for c in frame.columns for v in frame[c].astype(object).dropna()]
                data = path.read_bytes()
                assert not any(core.encode() in data for core in CORES)
            else:
                texts = [path.read_text(encoding="utf-8")]
            assert _leaks(texts) == [], name

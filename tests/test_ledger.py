"""The disclosure ledger, attacked: a hidden cell must not be recoverable from anything published."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from genomlysning import disclose, ledger
from genomlysning.ledger import Cell, Ledger


def _two_tables(k: int = 5) -> Ledger:
    """20 rows: kon (flicka/pojke) x steg (0/1/2). Two tables share the stage totals:
    a funnel by kon (n reached s) and the stage totals."""
    kon = ["flicka"] * 12 + ["pojke"] * 8
    steg = ["0"] * 2 + ["1"] * 3 + ["2"] * 7 + ["0"] * 1 + ["1"] * 1 + ["2"] * 6
    led = Ledger(k)
    led.dimension("akt", "kon", pd.Series(kon), ("flicka", "pojke"))
    led.dimension("akt", "steg", pd.Series(steg), ("0", "1", "2"))
    rows = []
    cells: dict[str, list[Cell | None]] = {"n0": [], "n1": [], "n2": []}
    for g in ("flicka", "pojke"):
        rows.append({"kon": g})
        for s, col in ((["0", "1", "2"], "n0"), (["1", "2"], "n1"), (["2"], "n2")):
            cells[col].append(Cell.of("akt", kon=g, steg=s))
    frame = pd.DataFrame(rows)
    for col, defs in cells.items():
        frame[col] = [led.value(c) for c in defs]
    led.add("tratt_kon", frame, cells)
    tot = pd.DataFrame({"steg": ["0", "1", "2"]})
    tcells = [Cell.of("akt", steg=s) for s in (["0", "1", "2"], ["1", "2"], ["2"])]
    tot["n"] = [led.value(c) for c in tcells]
    led.add("tratt", tot, {"n": tcells})
    return led


def test_definitions_are_checked_against_the_records() -> None:
    led = Ledger(5)
    led.dimension("akt", "kon", pd.Series(["flicka", "pojke", "pojke"]), ("flicka", "pojke"))
    with pytest.raises(ledger.LedgerError, match="counts 2"):
        led.add("t", pd.DataFrame({"n": [3]}), {"n": [Cell.of("akt", kon="pojke")]})


def test_nested_difference_is_protected_like_a_small_count() -> None:
    led = _two_tables()
    res = led.protect()
    t = led.masked("tratt_kon").set_index("kon")
    # pojke: reached 0 = 8, 1 = 7, 2 = 6: every difference (1, 1) is a small disjoint cell
    for g in ("flicka", "pojke"):
        vis = disclose.visible(t.loc[g, ["n0", "n1", "n2"]].astype(object)).to_numpy()
        diffs = -np.diff(vis)
        assert not ((diffs >= 1) & (diffs < 5)).any()
    # and the audit, from the published tables and definitions only, finds no disclosure
    defs = json.loads(led.definitions_json())
    published = {t.name: led.masked(t.name) for t in led.tables}
    rows = ledger.audit_ranges(defs, published)
    assert rows and not any(r.disclosed for r in rows)
    assert res.primary <= res.hidden


def test_audit_recovers_a_cell_hidden_only_in_one_table() -> None:
    """Per-table masking hides flicka's stage-0-only count in one table; the same quantity is
    derivable from the other: the audit must say so."""
    led = _two_tables()
    defs = json.loads(led.definitions_json())
    published = {t.name: t.frame.astype(object) for t in led.tables}
    published["tratt_kon"].loc[0, "n2"] = disclose.SUPPRESSED  # flicka reached 2: 7, hidden
    rows = ledger.audit_ranges(defs, published)
    # the hidden 7 is the total 13 minus pojke's 6: certainly not small, so not listed; but
    # "flicka reached 1, not 2" = 10 - 7 = 3 is a small count recovered exactly
    assert not [r for r in rows if r.kind == "dold"]
    atoms = {r.cell: (r.lo, r.hi) for r in rows if r.kind == "atom" and r.disclosed}
    key = Cell.of("akt", kon="flicka", steg="1").key()
    assert atoms[key] == (3, 3)


def test_same_quantity_hidden_everywhere() -> None:
    led = _two_tables(k=8)  # pojke reached 2 = 6 < 8 and its whole row is small or near-small
    led.protect()
    a = led.masked("tratt_kon").set_index("kon").loc["pojke", "n2"]
    assert a == disclose.SUPPRESSED
    # the same quantity (the stage totals of two tables share none, but every cell's mask
    # follows its canonical key) has one mask wherever it is published
    hidden = led.result.hidden if led.result else frozenset()
    for t in led.tables:
        m = led.masked(t.name)
        for col, defs in t.cells.items():
            for i, c in enumerate(defs):
                if c is not None:
                    assert (m[col].iloc[i] == disclose.SUPPRESSED) == (led.canonical(c).key() in hidden)


def test_integer_program_is_stricter_than_its_relaxation() -> None:
    """x + y = 1 has only the integer solutions (1, 0) and (0, 1); with 2x = 1 + z added and
    everything integral, a range found by the LP at 0.5 must not be accepted as integral."""
    led = Ledger(3)
    vals = pd.Series(["a", "b", "b"])
    led.dimension("akt", "v", vals, ("a", "b", "c"))
    frame = pd.DataFrame({"n": [1, 2, 3, 0]})
    cells = [Cell.of("akt", v="a"), Cell.of("akt", v="b"), Cell.of("akt"), Cell.of("akt", v="c")]
    led.add("t", frame, {"n": cells})
    res = led.protect()
    # a = 1 and b = 2 are both small (k = 3); with the total 3 and c = 0 published, hiding both
    # leaves a + b = 3: a in [1, 2]... [0, 3] covers [1, 2]
    assert {c.key() for c in cells[:2]} <= res.hidden
    lo, hi = res.ranges[cells[0].key()]
    assert lo <= 1 and hi >= 2


def test_cell_keys_round_trip_with_awkward_codes() -> None:
    c = Cell.of("akt", omrade=["Norr, väst", "a|b=c"], steg="s1")
    assert Cell.from_key(c.key()) == c


def _published(led: Ledger) -> tuple[dict, dict[str, pd.DataFrame]]:
    """What a notebook leaves in reports/: its definitions and its masked tables."""
    led.protect()
    return (json.loads(led.definitions_json()),
            {t.name: led.masked(t.name) for t in led.tables if not t.prior})


def _kon_steg(led: Ledger, rows: pd.DataFrame) -> None:
    led.dimension("akt", "kon", rows["kon"], ("flicka", "pojke"))
    led.dimension("akt", "steg", rows["steg"], ("0", "1", "2"))


def _rows() -> pd.DataFrame:
    kon = ["flicka"] * 12 + ["pojke"] * 8
    steg = ["0"] * 2 + ["1"] * 3 + ["2"] * 7 + ["0"] * 1 + ["1"] * 1 + ["2"] * 6
    return pd.DataFrame({"kon": kon, "steg": steg})


def _count_table(led: Ledger, name: str, cells: list[Cell]) -> None:
    led.add(name, pd.DataFrame({"n": [led.value(c) for c in cells]}), {"n": cells})


def test_a_later_notebook_cannot_reveal_what_an_earlier_one_hid() -> None:
    """02 publishes counts by kon x stage with pojke's small cells hidden; 03 then wants to
    publish pojke's total and those past stage 0 (a model population and its events), whose
    difference is a hidden small count. 03 must hide its own cells, never 02's."""
    rows = _rows()
    first = Ledger(5)
    _kon_steg(first, rows)
    _count_table(first, "02_t", [Cell.of("akt", kon=g, steg=s) for g in ("flicka", "pojke")
                                 for s in ("0", "1", "2")])
    defs02, pub02 = _published(first)
    hidden02 = {i for i, v in enumerate(pub02["02_t"]["n"]) if disclose.is_suppressed(v)}
    assert {3, 4} <= hidden02  # pojke at 0 and 1: 1 each

    naive = [Cell.of("akt", kon="pojke", steg=["0", "1", "2"]), Cell.of("akt", kon="pojke", steg=["1", "2"])]
    leaky = {**pub02, "03_t": pd.DataFrame({"n": [8, 7]})}
    defs03_naive = {**defs02, "tables": [{"name": "03_t", "cells": {"n": [c.key() for c in naive]},
                                          "linked": {}, "protect": []}], "relations": []}
    merged = ledger.merge([defs02, defs03_naive])
    full = ledger.audit_ranges(merged, leaky)
    assert any(r.disclosed for r in full)
    # asked only about the cells whose true count is small, the audit finds the same disclosures
    small = {r.cell for r in full if 1 <= first.value(Cell.from_key(r.cell)) < 5}
    some = ledger.audit_ranges(merged, leaky, only=small)
    assert [r for r in some if r.disclosed] == [r for r in full if r.disclosed]
    one = "akt|kon=pojke|steg=0"
    assert ledger.audit_ranges(merged, leaky, only={one}) == [r for r in full if r.cell == one]
    assert not ledger.audit_ranges(merged, leaky, only=set())

    second = Ledger(5)
    _kon_steg(second, rows)
    second.add_published([defs02], pub02)
    _count_table(second, "03_t", naive)
    defs03, pub03 = _published(second)
    # 02's table is exactly as published; 03's cells carry the suppression
    assert second.masked("02_t")["n"].tolist() == pub02["02_t"]["n"].tolist()
    assert disclose.SUPPRESSED in pub03["03_t"]["n"].tolist()
    assert [t["name"] for t in defs03["tables"]] == ["03_t"]
    rows_ = ledger.audit_ranges(ledger.merge([defs02, defs03]), {**pub02, **pub03})
    assert rows_ and not any(r.disclosed for r in rows_)


def test_stale_earlier_reports_are_refused() -> None:
    rows = _rows()
    first = Ledger(5)
    _kon_steg(first, rows)
    _count_table(first, "02_t", [Cell.of("akt", kon="flicka")])
    defs02, pub02 = _published(first)
    second = Ledger(5)
    _kon_steg(second, rows.iloc[1:].reset_index(drop=True))
    with pytest.raises(ledger.LedgerError, match="stale"):
        second.add_published([defs02], pub02)
    third = Ledger(3)
    _kon_steg(third, rows)
    with pytest.raises(ledger.LedgerError, match="k = 5"):
        third.add_published([defs02], pub02)


def test_a_year_ledger_inside_a_many_year_ledger() -> None:
    """02 counts the year 2025 (scope ar=2025); 05 counts every year and declares ``ar``. 05's
    all-years count minus its 2024 count is 02's hidden 2025 count: the scope links them."""
    rows = pd.concat([_rows().assign(ar="2025"), _rows().assign(ar="2024")], ignore_index=True)
    year = rows[rows["ar"] == "2025"].reset_index(drop=True)
    first = Ledger(5, scope={"akt": {"ar": ["2025"]}})
    _kon_steg(first, year)
    _count_table(first, "02_t", [Cell.of("akt", kon="pojke", steg="1"), Cell.of("akt", kon="flicka")])
    defs02, pub02 = _published(first)
    assert disclose.is_suppressed(pub02["02_t"]["n"].iloc[0])
    assert defs02["scope"] == {"akt": {"ar": ["2025"]}}

    many = Ledger(5)
    _kon_steg(many, rows)
    many.dimension("akt", "ar", rows["ar"], ("2024", "2025"))
    many.add_published([defs02], pub02)
    both = [Cell.of("akt", kon="pojke", steg=["1", "2"]),
            Cell.of("akt", kon="pojke", steg=["1", "2"], ar="2024"),
            Cell.of("akt", kon="pojke", steg="2", ar="2025")]
    _count_table(many, "05_t", both)
    defs05, pub05 = _published(many)
    assert disclose.SUPPRESSED in pub05["05_t"]["n"].tolist()
    merged = ledger.merge([defs02, defs05])
    rows_ = ledger.audit_ranges(merged, {**pub02, **pub05})
    assert not any(r.disclosed for r in rows_)
    # published unmasked, the same tables disclose 02's hidden cell through the scope
    naive = {**pub02, "05_t": pd.DataFrame({"n": [many.value(c) for c in both]})}
    assert any(r.disclosed for r in ledger.audit_ranges(merged, naive))


def test_records_of_different_scopes_are_not_mixed_up() -> None:
    """Two year ledgers of different years, with nothing declaring ``ar``, cannot be merged."""
    a = {"version": 1, "k": 5, "scope": {"akt": {"ar": ["2024"]}}, "dimensions": [],
         "tables": [], "relations": []}
    b = {**a, "scope": {"akt": {"ar": ["2025"]}}}
    with pytest.raises(ledger.LedgerError, match="records differ"):
        ledger.merge([a, b])


def test_a_union_count_links_to_its_parts() -> None:
    """"Insats offered" as a model counts it is "reached the stage" plus "offered although an
    earlier stage was skipped". Published beside the nested stage count, the union would give
    away the small number of skipped rows, which the skipped-stage table hides."""
    steg = pd.Series(["0"] * 6 + ["1"] * 10 + ["2"] * 12)
    hopp = pd.Series(["ja"] * 2 + ["nej"] * 26)
    led = Ledger(5)
    led.dimension("akt", "steg", steg, ("0", "1", "2"))
    led.dimension("akt", "hoppat", hopp, ("ja", "nej"), parent="steg",
                  allowed={"ja": ["0"], "nej": ["0", "1", "2"]})
    flag = Cell.union(Cell.of("akt", steg=["2"]), Cell.of("akt", steg="0", hoppat="ja"))
    assert led.value(flag) == 14
    assert Cell.from_key(flag.key()) == flag
    _count_table(led, "02_hopp", [Cell.of("akt", hoppat="ja")])
    _count_table(led, "02_steg", [Cell.of("akt", steg="2"), Cell.of("akt")])
    _count_table(led, "03_pop", [flag])
    defs, pub = _published(led)
    assert disclose.is_suppressed(pub["02_hopp"]["n"].iloc[0])
    assert not any(r.disclosed for r in ledger.audit_ranges(defs, pub))
    # shown as computed, 14 - 12 = 2 is read off
    naive = {**pub, "03_pop": pd.DataFrame({"n": [14]}), "02_steg": pd.DataFrame({"n": [12, 28]})}
    assert any(r.disclosed for r in ledger.audit_ranges(defs, naive))
    with pytest.raises(ledger.LedgerError, match="overlap"):
        led.value(Cell.union(Cell.of("akt", steg="0"), Cell.of("akt", hoppat="ja")))


def test_a_many_year_ledger_reads_the_funnels_year() -> None:
    """A later notebook declares the funnel's dimensions on every year's rows, with the children
    of 02's year as its ``barn`` records; a code seen in another year only ("saknas") must not
    break the children's dimensions, and 02's published year is read back unchanged."""
    from test_funnel import fixture

    from genomlysning import funnel, funnel_ledger, funnel_report

    df = fixture()
    df.loc[df["ar"] == 2024, "arendetyp"] = pd.NA  # "saknas" occurs in 2024 only
    slut = pd.Timestamp("2025-12-31")
    rep = funnel_report.analyse(df, 2025, 3, slut)
    names = {key: spec[0] for key, spec in funnel_report.EXPORTS.items()}
    defs = json.loads(rep.ledger.definitions_json(names))  # type: ignore[attr-defined]
    published = {names[key]: rep.masked[key] for key in names}
    year = funnel.in_year(df, 2025)
    many = Ledger(3, scope={"barn": {"ar": ["2025"]}})
    variables = funnel_ledger.declare(many, df, slut, children=year)
    many.dimension("akt", "ar", df["ar"].astype(str), ("2024", "2025"))
    assert "saknas" in variables["arendetyp"]
    assert len(many.records["barn"]) == funnel.child_key(year).nunique()
    assert set(many.records["barn"]["arendetyp:saknas"]) == {"ingen"}
    many.add_published([defs], published)  # 02's visible counts are checked against the records
    with pytest.raises(ledger.LedgerError, match="stale"):  # children of every year are not 02's
        every = Ledger(3, scope={"barn": {"ar": ["2025"]}})
        funnel_ledger.declare(every, df, slut)
        every.dimension("akt", "ar", df["ar"].astype(str), ("2024", "2025"))
        every.add_published([defs], published)


def test_audit_flags_a_small_count_printed_as_it_is() -> None:
    """With k = 8, pojke's 7 (reached 1) and 6 (reached 2) and flicka's 7 (reached 2) are small:
    printed, they are disclosed outright, whatever else is hidden."""
    led = _two_tables(k=8)
    defs = json.loads(led.definitions_json())
    published = {t.name: t.frame.astype(object) for t in led.tables}
    published["tratt_kon"].loc[1, "n0"] = disclose.SUPPRESSED
    rows = ledger.audit_ranges(defs, published)
    shown = {r.cell: (r.lo, r.disclosed) for r in rows if r.kind == "synlig"}
    assert shown == {Cell.of("akt", kon="pojke", steg=["1", "2"]).key(): (7, True),
                     Cell.of("akt", kon="pojke", steg="2").key(): (6, True),
                     Cell.of("akt", kon="flicka", steg="2").key(): (7, True)}


def test_a_unit_counted_by_its_total_only() -> None:
    """Children published only as a total (no dimension) still make a model."""
    led = Ledger(5)
    led.dimension("akt", "kon", pd.Series(["flicka"] * 6 + ["pojke"] * 2), ("flicka", "pojke"))
    led.dimension("barn", "antal", pd.Series(["1"] * 5), ("1",))
    _count_table(led, "t", [Cell.of("akt", kon="pojke"), Cell.of("akt"), Cell.of("barn")])
    defs, pub = _published(led)
    assert pub["t"]["n"].tolist() == [disclose.SUPPRESSED, 8, 5]  # flicka is not published
    assert not any(r.disclosed for r in ledger.audit_ranges(defs, pub))


def _random_publication(seed: int, k: int = 5) -> tuple[dict, dict[str, pd.DataFrame]]:
    """A funnel by kon x grupp (reached stage 0/1/2) and its margins, of 70 random records, with a
    random third of its cells printed as '..' (naively: many ranges are narrow, many wide)."""
    rng = np.random.default_rng(seed)
    n = 70
    kon = rng.choice(["flicka", "pojke"], n)
    grupp = rng.choice(["a", "b", "c", "d"], n, p=[0.4, 0.3, 0.2, 0.1])
    steg = rng.choice(["0", "1", "2"], n, p=[0.3, 0.3, 0.4])
    led = Ledger(k)
    led.dimension("akt", "kon", pd.Series(kon), ("flicka", "pojke"))
    led.dimension("akt", "grupp", pd.Series(grupp), ("a", "b", "c", "d"))
    led.dimension("akt", "steg", pd.Series(steg), ("0", "1", "2"))
    reached = ((["0", "1", "2"], "n0"), (["1", "2"], "n1"), (["2"], "n2"))
    for name, by in (("kon_grupp", ("kon", "grupp")), ("grupp", ("grupp",)), ("kon", ("kon",))):
        levels = [[(d, c)] for d in by[:1] for c in led.dims["akt"][d].codes]
        if len(by) == 2:
            levels = [[a[0], (by[1], c)] for a in levels for c in led.dims["akt"][by[1]].codes]
        frame = pd.DataFrame([{d: c for d, c in lv} for lv in levels])
        cells = {col: [Cell.of("akt", steg=s, **dict(lv)) for lv in levels] for s, col in reached}
        for col, defs in cells.items():
            frame[col] = [led.value(c) for c in defs]
        led.add(name, frame, cells)
    published = {}
    for t in led.tables:
        out = t.frame.astype(object)
        for col in ("n0", "n1", "n2"):
            out.loc[rng.random(len(out)) < 1 / 3, col] = disclose.SUPPRESSED
        published[t.name] = out
    return json.loads(led.definitions_json()), published


@pytest.mark.parametrize("seed", range(6))
def test_the_audits_shortcuts_decide_as_the_exact_ranges(seed: int, monkeypatch: pytest.MonkeyPatch) -> None:
    """The audit settles many cells at once (a point where a cell exceeds k-1, an integer point
    where it is 0); every cell must get the decision the exact range of each cell gives, and a
    shortcut's range must lie inside the exact one."""
    defs, published = _random_publication(seed)
    fast = {(r.kind, r.cell): r for r in ledger.audit_ranges(defs, published)}
    monkeypatch.setattr(ledger, "_settle_large", lambda b, expr, k: {})
    monkeypatch.setattr(ledger, "_settle_zero", lambda b, expr: {})
    exact = {(r.kind, r.cell): r for r in ledger.audit_ranges(defs, published)}
    assert any(r.disclosed for r in exact.values()) and any(not r.disclosed for r in exact.values())
    assert any(not r.exact for r in fast.values())
    assert set(fast) == set(exact)  # the same cells listed (those whose range reaches below k)
    assert {c for c, r in fast.items() if r.disclosed} == {c for c, r in exact.items() if r.disclosed}
    for c, r in fast.items():
        if r.exact:
            assert (r.lo, r.hi) == (exact[c].lo, exact[c].hi)
        else:
            assert exact[c].lo <= r.lo and r.hi <= exact[c].hi


def test_silent_highs_instances_made_in_threads_leave_stdout_where_it_was() -> None:
    """The runner's comparison audit builds HiGHS models in several threads; each silences the
    banner by pointing file descriptor 1 at /dev/null for a moment. Interleaved without a lock,
    one restores another's /dev/null and the run's summary vanishes (caught here within a few
    rounds when the lock is taken out)."""
    import os
    import sys
    import threading

    import highspy

    before = os.fstat(1)
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        for _ in range(80):
            threads = [threading.Thread(target=lambda: [ledger._quiet_highs(highspy) for _ in range(5)])
                       for _ in range(6)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            after = os.fstat(1)
            assert (after.st_dev, after.st_ino) == (before.st_dev, before.st_ino)
    finally:
        sys.setswitchinterval(interval)

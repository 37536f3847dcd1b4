"""The change notebook's many-year ledger, attacked: 05's counts next to 02's year must not give
away a hidden small count (year totals, months, pilot cells), and every indicator population is
the same quantity as the funnel's cells."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from test_funnel import make_clean

from genomlysning import (
    change,
    change_ledger,
    change_report,
    clean,
    compare,
    disclose,
    funnel,
    funnel_report,
    ledger,
    report,
)

K = 5
SLUT = pd.Timestamp("2025-12-31")


def _flow(rng: np.random.Generator, day: pd.Timestamp) -> dict[str, object]:
    """The raw flow of one aktualisering (the derived flags come from ``clean.derive_flow``)."""
    fb = str(rng.choice(["inte_inleda", "inleda", "inleda", "pagaende"]))
    fb_datum = min(day + pd.Timedelta(days=int(rng.integers(1, 30))), SLUT)  # nothing after the extraction
    slut = fb_datum + pd.Timedelta(days=int(rng.integers(20, 200)))
    closed = fb != "inte_inleda" and rng.random() < 0.8 and slut <= SLUT
    offered = closed and rng.random() < 0.5
    return {"fb_beslut": fb, "fb_datum": fb_datum.date().isoformat(),
            "utredning_start": fb_datum.date().isoformat() if fb == "inleda" else None,
            "utredning_slut": slut.date().isoformat() if closed else None, "insats_erbjuden": offered,
            "insats_svar": str(rng.choice(["ja", "ja", "nej"])) if offered else None,
            "barnsamtal": bool(rng.random() < 0.5) if closed and fb == "inleda" else None}


def frame(seed: int = 7, n: int = 150, extra: list[dict[str, object]] | None = None) -> pd.DataFrame:
    """``n`` aktualiseringar 2024-2025 in two areas, plus ``extra`` rows (raw partial records);
    the flags and days derived as the cleaning stage derives them."""
    rng = np.random.default_rng(seed)
    recs = []
    for i in range(n):
        day = pd.Timestamp("2024-01-01") + pd.Timedelta(days=int(rng.integers(0, 725)))
        recs.append(dict(barn_id=f"B{i % 700}", aktualiseringsdatum=day.date().isoformat(),
                         arendetyp=str(rng.choice(["vald", "foralder", "barnet"])), anmalare="skola",
                         aldersgrupp="6-12", kon=str(rng.choice(["flicka", "pojke"])),
                         aktualiseringstyp="anmalan", omrade=str(rng.choice(["Pilot", "Centrum", "Centrum"])),
                         **_flow(rng, day)))
    df = make_clean(recs + (extra or []))
    clean.derive_flow(df, SLUT)
    return df.sort_values("aktualiseringsdatum", kind="stable").reset_index(drop=True)


BASE: dict[str, object] = dict(arendetyp="vald", anmalare="polisen", aldersgrupp="0-5", kon="pojke",
                               aktualiseringstyp="anmalan", omrade="Centrum")


def _skipped_rows() -> list[dict[str, object]]:
    """Rows a nested funnel leaves out: an offer with no förhandsbedömning (accepted), a closed
    utredning with a barnsamtal although the förhandsbedömning is missing, and a barnsamtal in a
    closed utredning added to an ongoing one."""
    return [
        dict(BASE, barn_id="S1", aktualiseringsdatum="2024-09-03", insats_erbjuden=True, insats_svar="ja"),
        dict(BASE, barn_id="S2", aktualiseringsdatum="2025-02-03", utredning_start="2025-02-10",
             utredning_slut="2025-04-01", barnsamtal=True),
        dict(BASE, barn_id="S3", aktualiseringsdatum="2025-05-05", fb_beslut="pagaende",
             fb_datum="2025-05-08", utredning_slut="2025-07-01", barnsamtal=False),
    ]


def _ledger(df: pd.DataFrame, cuts: list[pd.Timestamp]) -> ledger.Ledger:
    led = ledger.Ledger(K)
    change_ledger.declare(led, df, SLUT, cuts)
    return led


def test_indicator_populations_are_the_funnels_cells_also_with_skipped_stages() -> None:
    df = frame(extra=_skipped_rows())
    assert funnel.skipped_stages(df)["n"].sum() > 0
    cuts = change_ledger.time_cuts(df[change.DATE_COL], ["2024-07-01"], months=True)
    led = _ledger(df, cuts)
    after = df[change.DATE_COL] >= "2024-07-01"
    for key in change.BEFORE_AFTER:
        rows = compare.indicator_rows(df, key)
        post = rows[change.DATE_COL] >= "2024-07-01"
        s = change_ledger.share(key).also(period=change_ledger.between(cuts, start="2024-07-01"))
        assert led.value(s.x) == int(rows.loc[post, "y"].sum()), key
        assert led.value(s.n) == int(post.sum()), key
        assert led.value(s.rest) == int((~rows.loc[post, "y"]).sum()), key
    # the part no funnel table publishes is counted: the skipped offer; the two barnsamtal outside
    # the funnel's closed own utredningar are outside the indicator (as 04 counts it)
    assert led.value(change_ledger.share("insats_accepterad").extra[0]) == 1
    assert change_ledger.share("barnsamtal").extra == ()
    assert after.any()


def test_periods_are_the_coarsest_partition_and_lie_in_one_year() -> None:
    dates = pd.Series(pd.to_datetime(["2023-03-01", "2025-11-30"]))
    cuts = change_ledger.time_cuts(dates, ["2024-07-15", None])
    assert change_ledger.period_codes(cuts) == ["2023-01-01", "2024-01-01", "2024-07-15", "2025-01-01"]
    with pytest.raises(ledger.LedgerError, match="not a period boundary"):
        change_ledger.between(cuts, start="2024-03-01")
    df = frame()
    led = _ledger(df, change_ledger.time_cuts(df[change.DATE_COL], months=True))
    dim = led.dims["akt"]["ar"]
    assert dim.parent == "period" and dim.allowed is not None
    assert all(all(p[:4] == y for p in ps) for y, ps in dim.allowed.items())


# ---------------------------------------------------------------------------------------------
# The unit: 02 (the year 2025) and 05 (every year), published into a throw-away project
# ---------------------------------------------------------------------------------------------

def _publish_02(df: pd.DataFrame, kommun: str) -> None:
    rep = funnel_report.analyse(df, 2025, K, SLUT)
    funnel_report.save_tables(rep, kommun, 2025)


def _published(kommun: str) -> tuple[dict, dict[str, pd.DataFrame]]:
    from genomlysning import audit

    files, tables = audit.published(kommun)
    return ledger.merge(files), tables


def _naive(rep: change_report.ChangeReport, name: str, cols: tuple[tuple[str, str], ...]) -> pd.DataFrame:
    """05's table as a per-table rule would publish it: each share hidden when its own counts are
    small (``compare.mask_share``), nothing across tables."""
    out = rep.raw[name]
    for x, n in cols:
        out = compare.mask_share(out, x, n, [c for c in out.columns if c.startswith("andel")], K)
    return out


class _Small:
    """The cells whose true count is 1..k-1 (a cell this ledger cannot count is kept): the only
    ones a range can disclose, so the audit asks about them alone (``audit_ranges(only=...)``)."""

    def __init__(self, led: ledger.Ledger) -> None:
        self.led = led

    def __contains__(self, key: object) -> bool:
        try:
            return 1 <= self.led.value(ledger.Cell.from_key(str(key))) < K
        except (KeyError, ledger.LedgerError):
            return True


def _audit(defs: dict, tables: dict[str, pd.DataFrame], rep: change_report.ChangeReport) -> list:
    """The audit's rows of ``tables`` for the truly small cells."""
    return ledger.audit_ranges(defs, tables, only=_Small(rep.ledger))


def _disclosed(defs: dict, tables: dict[str, pd.DataFrame], rep: change_report.ChangeReport) -> list:
    """The disclosed rows of the audit of ``tables``."""
    return [r for r in _audit(defs, tables, rep) if r.disclosed]


def _safe_now(leaks: list, rep: change_report.ChangeReport, kommun: str) -> None:
    """After the ledger's publication: nothing disclosed, and the cells the naive publication
    disclosed are still asked about (hidden, with a range that covers [1, k-1])."""
    change_report.publish(rep)
    defs, tables = _published(kommun)
    rows = _audit(defs, tables, rep)
    assert not [r for r in rows if r.disclosed]
    assert {r.cell for r in leaks if r.kind != "synlig"} <= {r.cell for r in rows}


def _audit_naive(kommun: str, rep: change_report.ChangeReport, naive: dict[str, pd.DataFrame]) -> list:
    """The audit of 02 as published and 05's tables ``naive`` (with 05's definitions)."""
    from genomlysning import audit

    files, tables = audit.published(kommun)
    defs = ledger.merge([*files, json.loads(rep.ledger.definitions_json())])
    return _disclosed(defs, {**tables, **naive}, rep)


@pytest.fixture
def unit(tmp_project: Path) -> tuple[str, pd.DataFrame]:
    """02 published for 2025; every 05 count then has to be read against it."""
    # a month with two aktualiseringar, both in the pilot area after its start
    extra: list[dict[str, object]] = [
        dict(BASE, barn_id=f"M{i}", aktualiseringsdatum=f"2025-08-1{i}", omrade="Pilot", fb_beslut="inleda",
             fb_datum=f"2025-08-1{i + 2}", utredning_start=f"2025-08-1{i + 2}", utredning_slut="2025-10-01",
             barnsamtal=True, insats_erbjuden=True, insats_svar="ja") for i in range(2)]
    extra += [dict(BASE, barn_id=f"U{i}", aktualiseringsdatum=d)  # two 2025 rows with no decision yet
              for i, d in enumerate(["2025-04-02", "2025-06-10"])]
    df = frame(seed=11, n=730, extra=extra)
    planted = df["barn_id"].astype(str).str.match(r"^[MU]\d").to_numpy()
    d = df[change.DATE_COL]
    df = df[planted | ~((d >= "2025-08-01") & (d < "2025-09-01")).to_numpy()].reset_index(drop=True)
    late = (df[change.DATE_COL] >= "2025-08-01").to_numpy() & ~df["barn_id"].astype(str).str.startswith("M")
    df.loc[late, "omrade"] = "Centrum"  # after the pilot start only the two planted rows are in the pilot
    _publish_02(df, "test")
    return "test", df


def _analyse(kommun: str, df: pd.DataFrame, reform: str | None,
             pilot: str | None) -> change_report.ChangeReport:
    return change_report.analyse(df, kommun, reform_datum=reform, pilot_omrade=pilot, start=reform,
                                 outcome="utredning_inledd", pilot_outcome="insats_accepterad", k=K,
                                 period_slut=str(SLUT.date()))


def test_year_channel_before_after_minus_02s_year(unit: tuple[str, pd.DataFrame]) -> None:
    """Reform on 1 January 2025: 05's 'after' counts are 02's year counts, its 'before' the year
    before. 02 hid a small count of the year; 05 published naively reads it off."""
    kommun, df = unit
    rep = _analyse(kommun, df, "2025-01-01", None)
    sides = (("antal_fore", "n_fore"), ("antal_efter", "n_efter"))
    naive = {"05_fore_efter": _naive(rep, "05_fore_efter", sides),
             "05_its_manader": _naive(rep, "05_its_manader", (("antal", "n"),)),
             "05_underlag": rep.raw["05_underlag"]}
    leaks = _audit_naive(kommun, rep, naive)
    assert any(r.table.startswith("02_") for r in leaks), "05 published naively reads off 02's hidden cells"
    # protected: nothing disclosed across 02 and 05, and 02's tables are unchanged
    _safe_now(leaks, rep, kommun)
    assert (rep.ledger.masked("02_tratt")["n"].tolist()
            == report.read_table(kommun, "02_tratt")[0]["n"].tolist())


def test_month_channel_a_hidden_month_from_the_totals_and_the_other_months(
        unit: tuple[str, pd.DataFrame]) -> None:
    """August 2025 has two aktualiseringar: hidden on its own, it is the after total minus the
    other months after the reform."""
    kommun, df = unit
    rep = _analyse(kommun, df, "2024-07-01", None)
    pts = rep.raw["05_its_manader"].set_index("manad")
    assert pts.loc["2025-08-01", "n"] == 2
    naive = {"05_fore_efter": rep.raw["05_fore_efter"],
             "05_its_manader": _naive(rep, "05_its_manader", (("antal", "n"),)),
             "05_underlag": rep.raw["05_underlag"]}
    assert disclose.is_suppressed(naive["05_its_manader"].set_index("manad").loc["2025-08-01", "n"])
    month = ledger.Cell.of("akt", steg=funnel_steg(), period="2025-08-01").key()
    leaks = _audit_naive(kommun, rep, naive)
    assert any(r.cell == month and r.lo == r.hi == 2 for r in leaks)
    # the ledger's publication: the month hidden, another count with it, no range pinned
    masked = rep.masked["05_its_manader"].set_index("manad")
    assert disclose.is_suppressed(masked.loc["2025-08-01", "n"])
    hidden_rows = rep.masked["05_its_manader"]["n"].map(disclose.is_suppressed).sum()
    assert hidden_rows >= 2 or rep.masked["05_fore_efter"].map(disclose.is_suppressed).to_numpy().any()
    _safe_now(leaks, rep, kommun)
    # a month is hidden, so the rate-scale coefficients (a function of the monthly shares) are too
    assert {"05_its_andel", "05_its_logodds"} <= rep.hidden_estimates
    assert (rep.masked["05_its_andel"]["skattning"] == disclose.SUPPRESSED).all()


def funnel_steg() -> list[str]:
    """The decided förhandsbedömningar: the utredning_inledd indicator's denominator."""
    from genomlysning.funnel_ledger import akt_at_least

    return akt_at_least("fb_beslutad")


def test_did_cell_channel(unit: tuple[str, pd.DataFrame]) -> None:
    """Pilot start = reform date: the pilot's 'after' cell is the before/after table's 'after'
    minus the rest's; its small count must not be read off, and the DiD estimate it drives is
    hidden."""
    kommun, df = unit
    rep = _analyse(kommun, df, "2025-08-01", "Pilot")
    cells = change.did_cells_order(rep.did)
    assert ((cells["n"] >= 1) & (cells["n"] < K)).any() or ((cells["x"] >= 1) & (cells["x"] < K)).any() or (
        ((cells["n"] - cells["x"]) >= 1) & ((cells["n"] - cells["x"]) < K)).any()
    naive = {"05_fore_efter": rep.raw["05_fore_efter"], "05_its_manader": rep.masked["05_its_manader"],
             "05_underlag": rep.raw["05_underlag"],
             "05_did_celler": _naive(rep, "05_did_celler", (("antal", "n"),)),
             "05_did_perioder": _naive(rep, "05_did_perioder", (("antal", "n"),))}
    leaks = _audit_naive(kommun, rep, naive)
    assert any(r.table == "05_did_celler" and "omrade=Pilot" in r.cell for r in leaks)
    _safe_now(leaks, rep, kommun)
    assert "05_did" in rep.hidden_estimates
    saved = report.read_table(kommun, "05_did")[0]
    assert (saved["skattning"] == disclose.SUPPRESSED).all()
    assert change_report.results(rep)["pilot"]["logodds"]["skattning"] == disclose.SUPPRESSED  # type: ignore[index]
    # the ledger file holds definitions only: no count of the data
    text = (report.ledger_dir(kommun) / "05.json").read_text(encoding="utf-8")
    assert json.loads(text)["scope"] == {"barn": {"ar": ["2025"]}}

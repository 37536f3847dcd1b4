"""04_compare through the municipalities' own ledgers, attacked as a reader of reports/ would.

Three synthetic municipalities publish a part of 02_funnel (funnel, timeliness, barnsamtal,
skipped stages) through their ledgers; 04_compare then prints counts about each of them and
numbers pooled over them. Each channel is first shown open with the naive publication (the
counts as computed, the pool over every municipality), then closed.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import point_paths

from genomlysning import (
    audit,
    compare,
    compare_report,
    disclose,
    funnel,
    funnel_ledger,
    ledger,
    report,
    synth,
)
from genomlysning.compare_report import NYCKELTAL, justerad_name, tratt_name

K = 5
AR = 2025
#: name, expected rows, seed: "liten" is small enough that its own report hides a lot.
SPECS = (("liten", 120, 1), ("mellan", 400, 2), ("stor", 900, 3))
#: The part of 02_funnel the synthetic municipalities publish (internal name -> file name).
PUBLISHED_02 = {"tratt": "02_tratt", "tidsfrister": "02_tidsfrister", "barnsamtal": "02_barnsamtal",
                "hoppade_steg": "02_hoppade_steg"}


def _raw_02(y: pd.DataFrame, slut: pd.Timestamp) -> dict[str, pd.DataFrame]:
    """Every table ``funnel_ledger.build`` registers (as ``funnel.analyse`` computes them)."""
    raw = {"tratt": funnel.funnel(y), "hoppade_steg": funnel.skipped_stages(y),
           "utfall": funnel.utredning_outcomes(y),
           "fordelning_aktualiseringar": funnel.breakdown(y, "aktualiseringar"),
           "fordelning_barn": funnel.breakdown(y, "barn"),
           "barn_antal_aktualiseringar": funnel.children_per_count(y), "barnsamtal": funnel.child_voice(y),
           "samverkan": funnel.samverkan(y), "tidsfrister": funnel.timeliness(y, slut),
           "avbojda": funnel.declines(y), "insatser": funnel.insats_mix(y)}
    dur = {"fb": funnel.durations(y, "fb", slut), "utredning": funnel.durations(y, "utredning", slut)}
    raw["tid_fb"] = funnel.time_curves(dur["fb"], funnel.FB_DAYS)
    raw["tid_utredning"] = funnel.time_curves(dur["utredning"], funnel.UTREDNING_DAYS)
    return raw


def _publish_02(kommun: str, df: pd.DataFrame) -> None:
    """The municipality's own report: four of 02_funnel's tables through the funnel ledger (the
    full notebook takes minutes on small data; four tables keep the test fast)."""
    y = funnel.in_year(df, AR)
    slut = funnel.period_end(df, kommun)
    led = funnel_ledger.build(_raw_02(y, slut), y, K, slut, AR)
    led.tables = [t for t in led.tables if t.name in PUBLISHED_02]
    led.protect()
    report.save_ledger(led.definitions_json(PUBLISHED_02), kommun, "02")
    for name, file in PUBLISHED_02.items():
        report.save_table(led.masked(name), kommun, file, title=file, unit="", source="", k=K)


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, pd.DataFrame]]:
    """A project root with the three municipalities' clean frames and own reports."""
    root = tmp_path_factory.mktemp("jmf")
    with pytest.MonkeyPatch.context() as mp:
        point_paths(mp, root)
        frames = {}
        for name, volym, seed in SPECS:
            raw, _ = synth.generate_kommun(synth.KommunSpec(name, name, volym, ar=(AR,)), seed)
            frames[name] = synth.clean_view(raw, name)
            _publish_02(name, frames[name])
        yield frames


def _own_published(kommun: str) -> tuple[list[dict], dict[str, pd.DataFrame]]:
    return audit.published(kommun, exclude=(compare_report.LEDGER_PART,))


def _hidden_keys(files: list[dict], tables: dict[str, pd.DataFrame]) -> set[str]:
    """Keys of the cells a unit's reports show as ``..`` (and nowhere visibly)."""
    merged = ledger.merge(files)
    dims = {u: {} for u in ledger.UNITS}
    for obj in merged["dimensions"]:
        d = ledger.Dim.from_json(obj)
        dims[d.unit][d.name] = d
    hidden, shown = set(), set()
    for t in merged["tables"]:
        for col, keys in t["cells"].items():
            for i, kk in enumerate(keys):
                if kk:
                    key = ledger.canonical(ledger.Cell.from_key(kk), dims).key()
                    v = tables[t["name"]][col].iloc[i]
                    (hidden if disclose.is_suppressed(v) else shown).add(key)
    return hidden - shown


def _naive_04(kommun: str, frames: dict[str, pd.DataFrame]) -> tuple[dict, dict[str, pd.DataFrame]]:
    """04's definitions for ``kommun`` and its tables as computed (nothing hidden)."""
    counts = compare.headline_counts(frames, AR)
    led = compare_report.kommun_ledger(kommun, frames[kommun], AR, K)
    names = compare_report.register(led, kommun, counts, compare.FUNNEL_INDICATORS)
    tables = {names[t.name]: t.frame for t in led.tables if not t.prior}
    return json.loads(led.definitions_json(names)), tables


def _publish_04(frames: dict[str, pd.DataFrame]) -> compare_report.Comparison:
    c = compare_report.prepare(frames, AR, K)
    compare_report.section_headline(c)
    compare_report.section_funnels(c)
    compare_report.section_casemix(c)
    compare_report.section_mor(c)
    return c


# ---------------------------------------------------------------------------------------------
# Counts about one municipality (the 266/304 channel)
# ---------------------------------------------------------------------------------------------

def test_naive_comparison_prints_a_count_the_kommun_hid(project: dict[str, pd.DataFrame]) -> None:
    """liten's own report hides a timeliness denominator (n_bas: its complement is small); the
    comparison, printing count and denominator as computed, shows it - the audit of liten over
    its own files and 04's definitions finds the disclosure."""
    files, tables = _own_published("liten")
    hidden02 = _hidden_keys(files, tables)
    defs04, naive = _naive_04("liten", project)
    printed = {kk for t in defs04["tables"] for keys in t["cells"].values() for kk in keys if kk}
    merged = ledger.merge([*files, defs04])
    dims = {u: {} for u in ledger.UNITS}
    for obj in merged["dimensions"]:
        d = ledger.Dim.from_json(obj)
        dims[d.unit][d.name] = d
    printed = {ledger.canonical(ledger.Cell.from_key(kk), dims).key() for kk in printed}
    assert printed & hidden02, "a count hidden in liten's report is printed by the naive comparison"
    rows = ledger.audit_ranges(merged, {**tables, **naive})
    assert any(r.disclosed for r in rows)


def test_protected_comparison_hides_it_and_leaves_the_kommun_report_alone(
        project: dict[str, pd.DataFrame]) -> None:
    before = {m: {p.name: p.read_bytes() for p in sorted(report.tables_dir(m).glob("*"))} for m in project}
    ledgers_before = {m: (report.ledger_dir(m) / "02.json").read_bytes() for m in project}
    c = _publish_04(project)
    for m in project:  # the municipality's own reports are untouched
        assert {p.name: p.read_bytes() for p in sorted(report.tables_dir(m).glob("*"))} == before[m]
        assert (report.ledger_dir(m) / "02.json").read_bytes() == ledgers_before[m]
        assert (report.ledger_dir(m) / "04.json").is_file()
    nyckeltal, _ = report.read_table(compare.OUT, NYCKELTAL)
    i = list(project).index("liten")
    files, tables = _own_published("liten")
    hidden02 = _hidden_keys(files, tables)
    found = 0
    for key in compare.FUNNEL_INDICATORS:  # what the naive comparison printed of liten's hidden cells ...
        x, n, _ = compare_report.indicator_cells(key)
        for cell, col, tcol in ((x, f"antal_{key}", "antal"), (n, f"n_{key}", "n")):
            if cell.key() not in hidden02:
                continue
            found += 1
            assert disclose.is_suppressed(nyckeltal.loc[i, col])  # ... is hidden
            assert disclose.is_suppressed(nyckeltal.loc[i, f"andel_{key}"])
            tratt, _ = report.read_table(compare.OUT, tratt_name(key))
            row = tratt[tratt["kommun"] == "liten"].iloc[0]
            cols = (tcol, "andel", "z", "lage", "andel_grans998_lo")
            assert all(disclose.is_suppressed(row[c_]) for c_ in cols)
    assert found, "liten's report hides a count the comparison prints"
    for m in project:  # the audit of each municipality over its files and 04: nothing disclosed
        result = audit.audit_unit(m)
        assert result.rows and result.ok, audit.describe(result)
        assert any("/" in t["name"] for f in audit.published(m)[0] for t in f["tables"])
    assert c.guard.stats["liten"]["dolda"] > 0


# ---------------------------------------------------------------------------------------------
# Numbers pooled over municipalities
# ---------------------------------------------------------------------------------------------

def _recover(published_p0: float, x: np.ndarray, n: np.ndarray, hidden: str) -> float:
    """The attacker's equation sum x = p0 sum n solved for the one hidden term (index 0)."""
    if hidden == "x":
        return published_p0 * n.sum() - x[1:].sum()
    return x.sum() / published_p0 - n[1:].sum()


def _one_hidden(guard: compare_report.Guard) -> tuple[str, str, str]:
    """A (municipality, indicator, "x" or "n") whose count or denominator alone is hidden."""
    for m in guard.counts["kommun"]:
        for key in guard.keys:
            hx, hn = guard.is_hidden(m, f"antal_{key}"), guard.is_hidden(m, f"n_{key}")
            if hx != hn:
                return m, key, "x" if hx else "n"
    raise AssertionError("no municipality with exactly one hidden term")


def test_naive_pooled_target_gives_away_a_hidden_count(project: dict[str, pd.DataFrame]) -> None:
    guard = compare_report.protect(project, AR, K)
    m, key, which = _one_hidden(guard)
    cnt = compare.indicator_counts(project, key, AR).set_index("kommun")
    order = [m, *(o for o in project if o != m)]
    x, n = cnt.loc[order, "x"].to_numpy(float), cnt.loc[order, "n"].to_numpy(float)
    naive = compare.funnels(project, AR, (key,))[key]  # pooled over every municipality
    p0 = float(report.format_cell(naive.target))  # as the CSV prints it (6 significant digits)
    truth = x[0] if which == "x" else n[0]
    assert round(_recover(p0, x, n, which)) == truth
    # and the expected counts of the naive case-mix model add up to the observed total
    sr = compare.casemix(project, AR, (key,))[key].set_index("kommun").loc[order]
    o = sr["o"].to_numpy(float)
    if which == "x":
        assert round(sr["e"].sum() - o[1:].sum()) == truth


def test_pooled_numbers_use_visible_counts_only(project: dict[str, pd.DataFrame]) -> None:
    c = _publish_04(project)
    guard = c.guard
    m, key, _ = _one_hidden(guard)
    assert m not in guard.pools[key] and m in guard.left_out(key)
    # what is published: the target is the visible counts' share, E adds up to their total
    od, _ = report.read_table(compare.OUT, "04_overspridning")
    tratt, _ = report.read_table(compare.OUT, tratt_name(key))
    vis = tratt[~tratt["antal"].map(disclose.is_suppressed) & ~tratt["n"].map(disclose.is_suppressed)]
    row = list(guard.keys).index(key)
    assert float(od.loc[row, "andel_mal"]) == pytest.approx(vis["antal"].sum() / vis["n"].sum(), rel=1e-5)
    assert int(od.loc[row, "enheter"]) == len(vis) == len(guard.pools[key])
    ju, _ = report.read_table(compare.OUT, justerad_name(key))
    pooled = ju[ju["kommun"].isin(guard.pools[key])]
    observed = pooled["antal_observerat"].sum()
    assert pooled["forvantat"].astype(float).sum() == pytest.approx(observed, rel=1e-4)
    left = ju[ju["kommun"] == m].iloc[0]
    assert left["forvantat"] is None or disclose.is_suppressed(left["forvantat"])
    # the differential attack: change the hidden municipality's data; no pooled number moves
    other = dict(project)
    df = project[m].copy()
    flip = df.index[:25]
    for col in ("fb_inom_frist", "utredning_inledd", "barnsamtal"):
        df.loc[flip, col] = ~df.loc[flip, col].astype("boolean")
    other[m] = df
    assert compare.indicator_counts(other, key, AR).set_index("kommun").loc[m, "x"] != \
        compare.indicator_counts(project, key, AR).set_index("kommun").loc[m, "x"]
    fa, fb = (compare.funnels(f, AR, guard.keys, pools=guard.pools) for f in (project, other))
    ra, rb = (compare.casemix(f, AR, guard.keys, pools=guard.pools) for f in (project, other))
    ma, mb = (compare.between(f, AR, guard.keys, pools=guard.pools) for f in (project, other))
    for k_ in guard.keys:
        if m in guard.pools[k_]:
            continue
        assert fa[k_].target == fb[k_].target and fa[k_].od == fb[k_].od
        pd.testing.assert_frame_equal(fa[k_].curve, fb[k_].curve)
        pool = ra[k_]["i_malvarde"]
        pd.testing.assert_frame_equal(ra[k_][pool], rb[k_][pool])
        assert ma[k_].mor == mb[k_].mor or (np.isnan(ma[k_].mor) and np.isnan(mb[k_].mor))
    # the same change with the hidden municipality pooled moves the target
    everyone = {k_: list(project) for k_ in guard.keys}
    assert compare.funnels(project, AR, (key,), pools=everyone)[key].target != \
        compare.funnels(other, AR, (key,), pools=everyone)[key].target


# ---------------------------------------------------------------------------------------------
# Definitions and the cross-unit table names
# ---------------------------------------------------------------------------------------------

def test_indicator_cells_count_what_the_indicators_count(project: dict[str, pd.DataFrame]) -> None:
    """The funnel-dimension definitions equal compare's row counts, also with skipped stages
    (insats offered while no utredning was opened: the union's second part)."""
    df = project["mellan"].copy()
    y = funnel.in_year(df, AR)
    skip = np.flatnonzero((y["fb_beslut"].astype(object) == "inte_inleda").to_numpy())[:3]
    assert len(skip) == 3
    for col, v in (("insats_erbjuden", True),):
        y.loc[skip, col] = v
    led = ledger.Ledger(K, scope=funnel_ledger.scope(AR))
    funnel_ledger.declare(led, y, funnel.period_end(y, "mellan"))
    for key in compare.FUNNEL_INDICATORS:
        x, n, extra = compare_report.indicator_cells(key)
        cnt = compare.indicator_counts({"m": y}, key, AR).iloc[0]
        assert (led.value(x), led.value(n)) == (cnt["x"], cnt["n"]), key
        for e in extra:
            assert led.value(e) == cnt["n"] - cnt["x"]
    hopp = ledger.Cell.of("akt", steg="fb_beslutad", **{"hoppat:insats_erbjuden": "ja"})
    assert led.value(hopp) >= 3


def test_table_names_of_another_unit_stay_inside_reports(tmp_project: Path) -> None:
    assert report.table_ref("ekby", "02_tratt") == ("ekby", "02_tratt")
    assert report.table_ref("ekby", "jamforelse/04_nyckeltal") == ("jamforelse", "04_nyckeltal")
    for bad in ("../jamforelse/04_nyckeltal", "jamforelse/../ekby/x", "/etc/passwd", "a/b/c", "jamforelse/"):
        with pytest.raises(ValueError):
            report.table_ref("ekby", bad)


def test_empty_pool_does_not_crash(project: dict[str, pd.DataFrame]) -> None:
    """No pooled municipality (e.g. none records barnsamtal): no design column, no crash."""
    pools = {"barnsamtal": []}
    sr = compare.casemix(project, AR, ("barnsamtal",), pools=pools)["barnsamtal"]
    assert len(sr) == len(project) and sr["e"].isna().all() and not sr["i_malvarde"].any()
    assert np.isnan(compare.between(project, AR, ("barnsamtal",), pools=pools)["barnsamtal"].mor)
    f = compare.funnels(project, AR, ("barnsamtal",), pools=pools)["barnsamtal"]
    assert np.isnan(f.target) and not f.points["visas"].any()

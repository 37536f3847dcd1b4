"""The funnel from aktualisering to insats: stages, rates with Wilson intervals, breakdowns,
the child's voice, samverkan, timeliness, declines and the insats mix.

Everything works on the clean table (``genomlysning.clean.load_clean``) restricted to the year under
review (``ar``). Definitions:

* **Stages** (:data:`STAGES`) are *nested*: an aktualisering counts at a stage only if it also
  reached every earlier stage (a later flag without an earlier one is counted by
  :func:`skipped_stages`, not in the funnel).
* **Two units**, always both: the *aktualisering* (one row) and the *child* (``barn_id``). A child
  counts at a stage if any of its aktualiseringar in the year reached it; in a breakdown, a child
  counts under every category that any of its aktualiseringar in the year has (so the categories
  of a child breakdown can add up to more than the total).
* **Anmälningsorsak**: an aktualisering with several reasons counts under each of them.
* **Unknown is not no.** A stage that could have been reached but whose answer is not recorded
  (``NA`` in the clean table: an insats offer, answer or start left blank, or a row added to an
  ongoing utredning that is not in the data, whose closing is unknown) makes the row *unknown*
  from that stage on (:func:`unknown`). Unknown rows leave the denominator of every share at and
  after that stage and are reported beside it (``n_okand``, bortfall), in both units: a child is
  unknown at a stage when none of its aktualiseringar reached it and one of them is unknown there.
* **Rates** are shares of the previous stage and of the first among the rows whose reaching the
  stage is known (``n_bas_foregaende``, ``n_bas_forsta``), with Wilson score intervals; in the
  aktualisering unit, where one child can have several aktualiseringar, the interval is
  design-effect adjusted for clustering by child (Korn-Graubard effective n, :func:`effective_n`).
  From the utredning on, the aktualisering unit also gives the rate among the municipality's *own*
  utredningar (``andel_foregaende_egna``): "avslutad av inledd" is own utredningar closed of own
  utredningar opened; rows added to an ongoing utredning (påförda) take that utredning's outcome
  and are counted in the funnel, but not in that rate.
* **Timeliness** is computed on the *complete cohort*: the cases whose deadline (14 days, four
  months) had passed at ``period_slut``, all of them, done or not; the cases whose deadline had
  not yet passed are left out (done or not) and counted separately. Time-to-decision curves are
  Kaplan-Meier estimates (1 - S(t) agrees with the complete-cohort share in expectation).

Every table is tidy with counts and rates, unsuppressed: :mod:`genomlysning.funnel_report`
protects them all together through the disclosure ledger before anything is shown or saved.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from genomlysning import schema

#: The funnel stages in order; after the first, the names are the clean table's stage flags.
STAGES: tuple[str, ...] = ("aktualisering", "fb_beslutad", "utredning_inledd", "utredning_avslutad",
                           "insats_erbjuden", "insats_accepterad", "insats_startad")
#: Counting units.
UNITS: tuple[str, ...] = ("aktualiseringar", "barn")
#: Variables of the breakdowns ("anmalningsorsak" = the reason indicators; "omrade" when present).
BREAKDOWN_VARIABLES: tuple[str, ...] = ("arendetyp", "anmalningsorsak", "anmalare", "aldersgrupp", "kon",
                                        "aktualiseringstyp", "ateraktualisering", "omrade")
#: Contacts during the utredning (samverkan).
KONTAKTER: tuple[str, ...] = ("kontakt_forskola", "kontakt_skola", "kontakt_polis", "kontakt_halso_sjukvard")
#: Days at which the time-to-decision tables report the number still open.
FB_DAYS: tuple[int, ...] = (0, 7, 14, 21, 28, 42, 60)
UTREDNING_DAYS: tuple[int, ...] = (30, 60, 90, 122, 150, 180, 240)

TOTAL = "totalt"
MISSING = "saknas"


# ---------------------------------------------------------------------------------------------
# Wilson interval
# ---------------------------------------------------------------------------------------------

def wilson(x: object, n: object, level: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
    """Wilson score interval for x successes out of n (vectorised; NaN where n = 0).

    The bounds are exactly 0 at x = 0 and exactly 1 at x = n (the closed form; floating-point
    cancellation would otherwise leave a lower bound of about 1e-18 above the share 0), and always
    contain the share x/n.
    """
    x_arr = np.asarray(x, dtype=float)
    n_arr = np.asarray(n, dtype=float)
    z = stats.norm.ppf(0.5 + level / 2)
    with np.errstate(invalid="ignore", divide="ignore"):
        p = x_arr / n_arr
        denom = 1 + z**2 / n_arr
        centre = (p + z**2 / (2 * n_arr)) / denom
        half = z * np.sqrt(p * (1 - p) / n_arr + z**2 / (4 * n_arr**2)) / denom
        lo = np.where(x_arr <= 0, 0.0, np.minimum(np.clip(centre - half, 0, 1), p))
        hi = np.where(x_arr >= n_arr, 1.0, np.maximum(np.clip(centre + half, 0, 1), p))
        lo = np.where(n_arr > 0, lo, np.nan)
        hi = np.where(n_arr > 0, hi, np.nan)
    return lo, hi


def _columns(values: object, dtype: type) -> np.ndarray:
    """A rows x shares array (a vector is one share)."""
    arr = np.asarray(values, dtype=dtype)
    return arr[:, None] if arr.ndim == 1 else arr


def effective_n(num: np.ndarray, den: np.ndarray, cluster: object) -> np.ndarray:
    """Effective sample size (Korn & Graubard 1998) of the shares ``num.sum() / den.sum()``, one
    per column of the boolean rows x shares arrays, when rows are clustered (by child).

    Why this and not a cluster bootstrap: the funnel publishes hundreds of shares per
    municipality, each a deterministic function of the data (byte-reproducible reports, no
    seed), and the disclosure ledger links every interval to the counts it is built on; a closed
    form gives both at the cost of one pass over the rows. The variance is the cluster-robust
    sandwich of the linearised ratio, ``V = sum_g (sum_{i in g} (x_i - p n_i))^2 / n^2`` over the
    clusters; the design effect ``deff = V / (p (1 - p) / n)`` is truncated below at 1 (Korn and
    Graubard's convention: never narrower than simple random sampling) and ``n_eff = n / deff``.
    With one row per child ``V`` is exactly ``p (1 - p) / n``, so the interval is then exactly
    Wilson's (no small-sample factor is added that would widen unclustered small cells). A share
    of 0 or 1 has no estimable design effect: ``n`` is kept. ``tests/test_simulation.py`` checks
    the coverage on the synthetic generator.
    """
    num2, den2 = _columns(num, float), _columns(den, float)
    if num2.shape[0] == 0:
        return np.zeros(num2.shape[1])
    codes, _ = pd.factorize(np.asarray(cluster, dtype=object))
    n = den2.sum(axis=0)
    x = num2.sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        p = np.where(n > 0, x / np.where(n > 0, n, 1), 0.0)
        resid = pd.DataFrame(num2 - p * den2).groupby(codes).sum().to_numpy()
        v = (resid ** 2).sum(axis=0) / n ** 2
        srs = p * (1 - p) / n
        deff = np.where((srs > 0) & np.isfinite(v), np.maximum(v / srs, 1.0), 1.0)
    return np.where(n > 0, n / deff, 0.0)


def wilson_clustered(num: np.ndarray, den: np.ndarray, cluster: object, level: float = 0.95
                     ) -> tuple[np.ndarray, np.ndarray]:
    """Design-effect-adjusted Wilson interval of ``num.sum() / den.sum()`` (per column) with rows
    clustered by ``cluster`` (:func:`effective_n`)."""
    num2, den2 = _columns(num, bool), _columns(den, bool)
    x, n = num2.sum(axis=0), den2.sum(axis=0)
    return _wilson_eff(x, n, effective_n(num2, den2, cluster), level)


def _wilson_eff(x: np.ndarray, n: np.ndarray, n_eff: np.ndarray, level: float = 0.95
                ) -> tuple[np.ndarray, np.ndarray]:
    x, n, n_eff = (np.asarray(v, dtype=float) for v in (x, n, n_eff))
    with np.errstate(invalid="ignore", divide="ignore"):
        x_eff = np.where(n > 0, x / np.where(n > 0, n, 1) * n_eff, 0.0)
    lo, hi = wilson(x_eff, n_eff, level)
    # the closed-form ends: exactly 0 at x = 0 and 1 at x = n (x_eff may round off otherwise)
    return np.where(x <= 0, np.where(n > 0, 0.0, np.nan), lo), np.where((x >= n) & (n > 0), 1.0, hi)


def _rate_columns(prefix: str, x: np.ndarray, n: np.ndarray, n_eff: np.ndarray | None = None
                  ) -> dict[str, np.ndarray]:
    """Share x/n with a Wilson interval; with ``n_eff`` (clustered rows) the design-effect-adjusted
    one (:func:`effective_n`)."""
    x = np.asarray(x, dtype=float)
    n = np.asarray(n, dtype=float)
    lo, hi = wilson(x, n) if n_eff is None else _wilson_eff(x, n, n_eff)
    with np.errstate(invalid="ignore", divide="ignore"):
        share = np.where(n > 0, x / n, np.nan)
    return {prefix: share, f"{prefix}_lo": lo, f"{prefix}_hi": hi}


# ---------------------------------------------------------------------------------------------
# Rows, children, stages
# ---------------------------------------------------------------------------------------------

def in_year(df: pd.DataFrame, ar: int | None) -> pd.DataFrame:
    """Rows of the year under review (all rows when ``ar`` is None)."""
    if ar is None:
        return df.reset_index(drop=True)
    return df[(df["ar"] == ar).fillna(False).to_numpy(dtype=bool)].reset_index(drop=True)


def child_key(df: pd.DataFrame) -> pd.Series:
    """The child of each row: ``barn_id``, or the row's own id when it is missing (own child)."""
    fallback = "rad:" + df["rad_id"].astype("string").fillna("") + ":" + pd.Series(
        np.arange(len(df)), index=df.index).astype("string")
    return df["barn_id"].astype("string").fillna(fallback)


def _flag(df: pd.DataFrame, col: str) -> np.ndarray:
    return df[col].astype("boolean").fillna(False).to_numpy(dtype=bool)


def reached(df: pd.DataFrame) -> pd.DataFrame:
    """Boolean frame (rows x :data:`STAGES`): the row reached the stage and every earlier one."""
    out = {STAGES[0]: np.ones(len(df), dtype=bool)}
    for prev, stage in zip(STAGES, STAGES[1:], strict=False):
        out[stage] = out[prev] & _flag(df, stage)
    return pd.DataFrame(out, index=df.index)


#: Stages whose flag can be unknown (NA): a row can be unknown from these on.
UNKNOWABLE: tuple[str, ...] = ("utredning_avslutad", "insats_erbjuden", "insats_accepterad", "insats_startad")


def unknown(df: pd.DataFrame) -> pd.DataFrame:
    """Boolean frame (rows x :data:`STAGES`): whether the row reached the stage is unknown (it
    reached the previous stage, or is unknown there, and the stage's own flag is missing)."""
    r = reached(df)
    out = {STAGES[0]: np.zeros(len(df), dtype=bool)}
    for prev, stage in zip(STAGES, STAGES[1:], strict=False):
        na = df[stage].astype("boolean").isna().to_numpy() if stage in UNKNOWABLE else np.zeros(len(df), bool)
        out[stage] = out[prev] | (r[prev].to_numpy() & na)
    return pd.DataFrame(out, index=df.index)


def _child_unknown(reached_: pd.DataFrame, unknown_: pd.DataFrame, children: pd.Series) -> pd.DataFrame:
    """Children unknown at each stage: none of their rows reached it, one of them is unknown there."""
    g = children.to_numpy()
    any_reached = reached_.groupby(g).any()
    any_unknown = unknown_.groupby(g).any()
    return any_unknown & ~any_reached


def _count_unknown(r: pd.DataFrame, u: pd.DataFrame, unit: str, children: pd.Series) -> pd.Series:
    """Rows (children) unknown at each stage."""
    if unit == "aktualiseringar":
        return u.sum(axis=0).astype("int64")
    return _child_unknown(r, u, children).sum(axis=0).astype("int64")


def skipped_stages(df: pd.DataFrame) -> pd.DataFrame:
    """Rows whose stage flag is set although an earlier stage is not (left out of the funnel)."""
    nested = reached(df)
    rows = [{"steg": s, "n": int((_flag(df, s) & ~nested[s].to_numpy()).sum())} for s in STAGES[1:]]
    return pd.DataFrame(rows)


def _count(indicator: pd.DataFrame, unit: str, children: pd.Series) -> pd.Series:
    """Column sums of a boolean frame, counting rows or distinct children."""
    if unit == "aktualiseringar":
        return indicator.sum(axis=0).astype("int64")
    return indicator.groupby(children.to_numpy()).any().sum(axis=0).astype("int64")


def _check_unit(unit: str) -> None:
    if unit not in UNITS:
        raise ValueError(f"unit must be one of {UNITS}, not {unit!r}")


# ---------------------------------------------------------------------------------------------
# The funnel
# ---------------------------------------------------------------------------------------------

def _newly_unknown(unknown: np.ndarray) -> np.ndarray:
    """Rows x stages: unknown at the stage but known at the one before (they leave that share's base)."""
    return unknown & ~np.column_stack([np.zeros(len(unknown), dtype=bool), unknown[:, :-1]])


def own_reached(df: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """:func:`reached` and :func:`unknown` restricted to the municipality's own utredningar (from
    the utredning on; rows added to an ongoing utredning are left out)."""
    own = ~(df["fb_beslut"].astype(object) == "pagaende").to_numpy()
    r, u = reached(df), unknown(df)
    for stage in STAGES[STAGES.index("utredning_inledd"):]:
        r[stage] = r[stage].to_numpy() & own
        u[stage] = u[stage].to_numpy() & own
    return r, u


def funnel(df: pd.DataFrame) -> pd.DataFrame:
    """The funnel in both units: one row per (enhet, steg) with n; ``n_okand`` (bortfall: whether
    the stage was reached is unknown); the previous and first stage's counts; the bases of the
    shares (those counts less the rows unknown at this stage) and the shares with Wilson
    intervals. In the aktualisering unit from the utredning on also ``n_egna``,
    ``n_bas_foregaende_egna`` and ``andel_foregaende_egna``: the same among own utredningar."""
    r, u = reached(df), unknown(df)
    ro, uo = own_reached(df)
    children = child_key(df)
    first_own = STAGES.index("utredning_inledd")
    parts = []
    rows = r.to_numpy()
    prev_rows = np.column_stack([rows[:, 0], rows[:, :-1]])
    for unit in UNITS:
        n = _count(r, unit, children).to_numpy()
        unk = _count_unknown(r, u, unit, children).to_numpy()
        prev = np.concatenate([[n[0]], n[:-1]])
        prev_unk = np.concatenate([[0], unk[:-1]])
        base_prev = prev - (unk - prev_unk)
        first = np.full(len(n), n[0])
        base_first = first - unk
        eff_prev = eff_first = None
        if unit == "aktualiseringar":  # one child's aktualiseringar are clustered: adjusted intervals
            urows = u.to_numpy(dtype=bool)
            new_unknown = _newly_unknown(urows)
            eff_prev = effective_n(rows, prev_rows & ~new_unknown, children)
            eff_first = effective_n(rows, np.repeat(rows[:, :1], rows.shape[1], axis=1) & ~urows, children)
        t = pd.DataFrame({"enhet": unit, "steg": list(STAGES), "n": n, "n_okand": unk, "n_foregaende": prev,
                          "n_bas_foregaende": base_prev,
                          **_rate_columns("andel_foregaende", n, base_prev, eff_prev),
                          "n_forsta": first, "n_bas_forsta": base_first,
                          **_rate_columns("andel_forsta", n, base_first, eff_first)})
        t.loc[0, ["andel_foregaende", "andel_foregaende_lo", "andel_foregaende_hi"]] = np.nan
        t["n_okand"] = t["n_okand"].astype(float).where(t["steg"].isin(UNKNOWABLE))
        own_names = ("n_egna", "n_bas_foregaende_egna", "andel_foregaende_egna", "andel_foregaende_egna_lo",
                     "andel_foregaende_egna_hi")
        own_cols = {c: np.full(len(n), np.nan) for c in own_names}
        if unit == "aktualiseringar":
            no = ro.sum(axis=0).to_numpy().astype(float)
            uno = uo.sum(axis=0).to_numpy().astype(float)
            bo = np.concatenate([[np.nan], no[:-1] - (uno[1:] - uno[:-1])])
            orows, urows = ro.to_numpy(dtype=bool), uo.to_numpy(dtype=bool)
            prev_own = np.column_stack([orows[:, 0], orows[:, :-1]])
            new_unknown = _newly_unknown(urows)
            eff_own = effective_n(orows, prev_own & ~new_unknown, children)
            rate = _rate_columns("andel_foregaende_egna", no, bo, eff_own)
            for i in range(first_own + 1, len(STAGES)):
                own_cols["n_egna"][i] = no[i]
                own_cols["n_bas_foregaende_egna"][i] = bo[i]
                for c, v in rate.items():
                    own_cols[c][i] = v[i]
            own_cols["n_egna"][first_own] = no[first_own]
        for c, v in own_cols.items():
            t[c] = v
        parts.append(t)
    return pd.concat(parts, ignore_index=True)


def utredning_outcomes(df: pd.DataFrame) -> pd.DataFrame:
    """Outcomes of the utredningar closed (nested funnel stage), both units, with shares of all
    closed utredningar; a missing outcome is its own category ("saknas")."""
    closed = reached(df)["utredning_avslutad"].to_numpy()
    codes = list(schema.column("utredning_utfall").code_values())
    outcome = df["utredning_utfall"].astype(object).where(df["utredning_utfall"].notna(), MISSING)
    cats = codes + ([MISSING] if (closed & (outcome == MISSING).to_numpy()).any() else [])
    ind = pd.DataFrame({c: closed & (outcome == c).to_numpy() for c in cats}, index=df.index)
    known = closed & (outcome != MISSING).to_numpy()
    children = child_key(df)
    parts = []
    for unit in UNITS:
        n = _count(ind, unit, children).to_numpy()
        base = int(_count(pd.DataFrame({"x": closed}), unit, children).iloc[0])
        bas = int(_count(pd.DataFrame({"x": known}), unit, children).iloc[0])
        eff = (effective_n(ind.to_numpy(dtype=bool), np.repeat(known[:, None], len(cats), axis=1), children)
               if unit == "aktualiseringar" else None)
        t = pd.DataFrame({"enhet": unit, "utredning_utfall": cats, "n": n, "n_totalt": base, "n_bas": bas,
                          **_rate_columns("andel", n, np.full(len(n), bas), eff)})
        t.loc[t["utredning_utfall"] == MISSING, ["n_bas", "andel", "andel_lo", "andel_hi"]] = np.nan
        parts.append(t)
    return pd.concat(parts, ignore_index=True)


# ---------------------------------------------------------------------------------------------
# Breakdowns
# ---------------------------------------------------------------------------------------------

def categories(df: pd.DataFrame, variable: str) -> pd.DataFrame:
    """Boolean frame (rows x categories) of ``variable``: coded columns in code-list order with
    every code (zeros included) and "saknas" when values are missing; booleans as "ja"/"nej";
    "anmalningsorsak" as the reason indicators (a row can be in several) and "saknas" for none."""
    if variable == "anmalningsorsak":
        ind = {r.code: _flag(df, r.column) for r in schema.ORSAKER}
        none = ~np.logical_or.reduce(list(ind.values())) if ind else np.ones(len(df), dtype=bool)
        if none.any():
            ind[MISSING] = none
        return pd.DataFrame(ind, index=df.index)
    col = schema.column(variable)
    values = df[variable]
    if col.dtype == "bool":
        b = values.astype("boolean")
        ind = {"ja": b.fillna(False).to_numpy(dtype=bool), "nej": (~b).fillna(False).to_numpy(dtype=bool)}
    else:
        cats = list(col.code_values()) or sorted(values.dropna().astype(str).unique())
        text = values.astype(object)
        ind = {c: (text == c).fillna(False).to_numpy(dtype=bool) for c in cats}
    missing = values.isna().to_numpy()
    if missing.any():
        ind[MISSING] = missing
    return pd.DataFrame(ind, index=df.index)


def breakdown_variables(df: pd.DataFrame, variables: Sequence[str] = BREAKDOWN_VARIABLES) -> list[str]:
    """The breakdown variables that apply: ``omrade`` only when some row has one."""
    return [v for v in variables if v != "omrade" or df["omrade"].notna().any()]


def breakdown(df: pd.DataFrame, unit: str, variables: Sequence[str] | None = None) -> pd.DataFrame:
    """Every stage by category: one row per (variabel, kategori) with the count at each stage
    (``n_<stage>``), the rows (children) unknown there (``n_okand_<stage>`` for the stages of
    :data:`UNKNOWABLE`: bortfall) and the share of the category's first stage among the known
    (``andel_<stage>`` = ``n_<stage>`` / (``n_aktualisering`` - ``n_okand_<stage>``), Wilson CI)."""
    _check_unit(unit)
    variables = breakdown_variables(df) if variables is None else list(variables)
    r, u = reached(df), unknown(df)
    children = child_key(df)
    parts = []
    for variable in variables:
        cats = categories(df, variable)
        counts = {}
        for stage in STAGES:
            joint = cats.mul(r[stage].to_numpy(), axis=0)
            counts[f"n_{stage}"] = _count(joint, unit, children).to_numpy()
        for stage in UNKNOWABLE:
            rows_unknown = cats.mul(u[stage].to_numpy(), axis=0)
            if unit == "aktualiseringar":
                counts[f"n_okand_{stage}"] = rows_unknown.sum(axis=0).astype("int64").to_numpy()
            else:
                rows_reached = cats.mul(r[stage].to_numpy(), axis=0)
                g = children.to_numpy()
                counts[f"n_okand_{stage}"] = (rows_unknown.groupby(g).any() & ~rows_reached.groupby(g).any()
                                              ).sum(axis=0).astype("int64").to_numpy()
        t = pd.DataFrame({"variabel": variable, "kategori": list(cats.columns), "enhet": unit, **counts})
        in_cat = cats.to_numpy(dtype=bool)
        for stage in STAGES[1:]:
            base = t["n_aktualisering"] - (t[f"n_okand_{stage}"] if stage in UNKNOWABLE else 0)
            eff = None
            if unit == "aktualiseringar":  # clustered by child; the rows unknown at the stage left out
                known = in_cat & ~u[stage].to_numpy(dtype=bool)[:, None] if stage in UNKNOWABLE else in_cat
                eff = effective_n(known & r[stage].to_numpy()[:, None], known, children)
            for c, v in _rate_columns(f"andel_{stage}", t[f"n_{stage}"], base, eff).items():
                t[c] = v
        parts.append(t)
    return pd.concat(parts, ignore_index=True)


def children_per_count(df: pd.DataFrame, top: int = 4) -> pd.DataFrame:
    """Children by their number of aktualiseringar in the data (1, 2, ..., ``top`` or more)."""
    per = child_key(df).value_counts()
    bins = np.minimum(per.to_numpy(), top)
    labels = [str(i) for i in range(1, top)] + [f"{top}+"]
    n = np.array([(bins == i).sum() for i in range(1, top + 1)])
    return pd.DataFrame({"antal_aktualiseringar": labels, "n": n,
                         **_rate_columns("andel", n, np.full(top, n.sum()))})


# ---------------------------------------------------------------------------------------------
# Shares within a population: the child's voice, samverkan, timeliness, declines
# ---------------------------------------------------------------------------------------------

def share_table(df: pd.DataFrame, outcomes: Mapping[str, pd.Series], population: np.ndarray,
                by: Sequence[str], censored: Mapping[str, pd.Series] | None = None) -> pd.DataFrame:
    """Share of a population with each outcome, overall ("totalt") and by category.

    ``outcomes`` maps an outcome name to a nullable boolean Series over ``df``; ``population``
    selects the rows (unit: aktualiseringar). Per (variabel, kategori, utfall): ``n_grupp`` rows in
    the population = ``n_ja`` + ``n_nej`` + ``n_saknas`` (unknown) [+ ``n_censurerade``: still
    open at period end, for outcomes in ``censored``]; ``n_bas`` = ``n_ja`` + ``n_nej`` is the
    base of ``andel`` (unknown and censored cases are excluded from numerator and denominator).
    The interval is Wilson's, design-effect adjusted for aktualiseringar clustered by child.
    """
    pop = np.asarray(population, dtype=bool)
    groups: list[tuple[str, str, np.ndarray]] = [(TOTAL, TOTAL, pop)]
    for variable in by:
        cats = categories(df, variable)
        groups += [(variable, str(c), pop & cats[c].to_numpy()) for c in cats.columns]
    rows = []
    n_eff: list[float] = []
    children = child_key(df)
    for name, flag in outcomes.items():
        f = flag.astype("boolean")
        yes, no, na = f.fillna(False).to_numpy(bool), (~f).fillna(False).to_numpy(bool), f.isna().to_numpy()
        cens = (censored[name].astype("boolean").fillna(False).to_numpy(bool) & na
                if censored and name in censored else np.zeros(len(df), dtype=bool))
        for variable, cat, m in groups:
            row = {"variabel": variable, "kategori": cat, "utfall": name, "n_grupp": int(m.sum()),
                   "n_ja": int((m & yes).sum()), "n_nej": int((m & no).sum()),
                   "n_saknas": int((m & na & ~cens).sum())}
            if censored is not None:
                row["n_censurerade"] = int((m & cens).sum())
            row["n_bas"] = row["n_ja"] + row["n_nej"]
            rows.append(row)
            n_eff.append(float(effective_n(m & yes, m & (yes | no), children)[0]))
    t = pd.DataFrame(rows)
    for c, v in _rate_columns("andel", t["n_ja"], t["n_bas"], np.array(n_eff)).items():
        t[c] = v
    return t


def own_utredning(df: pd.DataFrame) -> np.ndarray:
    """Rows with an own utredning (opened, not merely added to an ongoing one)."""
    added = (df["fb_beslut"].astype(object) == "pagaende").to_numpy()
    return reached(df)["utredning_inledd"].to_numpy() & ~added


def child_voice(df: pd.DataFrame, by: Sequence[str] = ("aldersgrupp", "arendetyp")) -> pd.DataFrame:
    """Share of closed own utredningar with a barnsamtal, by age group and ärendetyp."""
    pop = own_utredning(df) & reached(df)["utredning_avslutad"].to_numpy()
    return share_table(df, {"barnsamtal": df["barnsamtal"]}, pop, by)


def samverkan(df: pd.DataFrame, by: Sequence[str] = ("aldersgrupp", "arendetyp")) -> pd.DataFrame:
    """Share of closed own utredningar with contact with förskola, skola, polis, hälso- och sjukvård."""
    pop = own_utredning(df) & reached(df)["utredning_avslutad"].to_numpy()
    return share_table(df, {c: df[c] for c in KONTAKTER}, pop, by)


def deadline_start(df: pd.DataFrame, kind: str) -> pd.Series:
    """When the deadline of ``kind`` starts to run: the aktualisering date ("fb") or the start of
    the own utredning ("utredning": ``utredning_start``, else the decision date of "inleda")."""
    if kind == "fb":
        return pd.to_datetime(df["aktualiseringsdatum"])
    if kind == "utredning":
        return pd.to_datetime(df["utredning_start"].where(
            df["utredning_start"].notna(), df["fb_datum"].where(df["fb_beslut"].astype(object) == "inleda")))
    raise ValueError(f"kind must be 'fb' or 'utredning', not {kind!r}")


def deadline_cohort(df: pd.DataFrame, kind: str, period_slut: str | pd.Timestamp) -> np.ndarray:
    """Cohort code per row: "ja" when the deadline (14 days / four months) had passed at
    ``period_slut``, so that whether it was met is known for the row, decided or not; "nej" when it
    had not (the row is outside the complete cohort); "okand" when the start date is missing."""
    limit = schema.FB_FRIST_DAGAR if kind == "fb" else schema.UTREDNING_FRIST_DAGAR
    start = deadline_start(df, kind)
    open_days = (pd.Timestamp(period_slut) - start).dt.days.to_numpy(dtype=float, na_value=np.nan)
    with np.errstate(invalid="ignore"):
        return np.where(np.isnan(open_days), "okand", np.where(open_days > limit, "ja", "nej")).astype(object)


def timeliness(df: pd.DataFrame, period_slut: str | pd.Timestamp,
               by: Sequence[str] = ("arendetyp",)) -> pd.DataFrame:
    """Share of förhandsbedömningar decided within 14 days (all aktualiseringar) and of own
    utredningar closed within four months, in the *complete cohort*: every case whose deadline
    had passed at ``period_slut``, decided/closed or not (late and still open count as not in
    time). Cases whose deadline had not yet passed are left out of numerator and denominator
    whether they are done or not, and counted in ``n_censurerade`` ("fristen inte ute"): dropping
    only the open ones would keep the quick cases of the last weeks and drop the slow ones, biasing
    the share upwards (``tests/test_simulation.py`` measures it)."""
    fb_out = pd.Series(deadline_cohort(df, "fb", period_slut) == "nej", index=df.index)
    utr_out = pd.Series(deadline_cohort(df, "utredning", period_slut) == "nej", index=df.index)
    fb = share_table(df, {"fb_inom_frist": df["fb_inom_frist"]}, np.ones(len(df), dtype=bool), by,
                     censored={"fb_inom_frist": fb_out})
    utr = share_table(df, {"utredning_inom_frist": df["utredning_inom_frist"]}, own_utredning(df), by,
                      censored={"utredning_inom_frist": utr_out})
    return pd.concat([fb, utr], ignore_index=True)


def declines(df: pd.DataFrame, by: Sequence[str] = ("arendetyp", "aldersgrupp")) -> pd.DataFrame:
    """Share of offered insatser declined (insats_svar "nej"), by ärendetyp and age group; an offer
    without a recorded answer is "saknas"."""
    pop = reached(df)["insats_erbjuden"].to_numpy()
    svar = df["insats_svar"].astype(object)
    flag = pd.Series(pd.array(np.where(svar.isna(), None, svar == "nej"), dtype="boolean"), index=df.index)
    return share_table(df, {"tackat_nej": flag}, pop, by)


def insats_mix(df: pd.DataFrame) -> pd.DataFrame:
    """Offered insatser by type (and the heldygn/öppenvård split), with shares of all offered."""
    pop = reached(df)["insats_erbjuden"].to_numpy()
    typ = df["insats_typ"].astype(object)
    rows = []
    for code in schema.column("insats_typ").code_values():
        rows.append(("insats_typ", code, int((pop & (typ == code).to_numpy()).sum())))
    if (pop & typ.isna().to_numpy()).any():
        rows.append(("insats_typ", MISSING, int((pop & typ.isna().to_numpy()).sum())))
    held = df["insats_heldygn"].astype("boolean")
    for cat, m in (("ja", held.fillna(False)), ("nej", (~held).fillna(False))):
        rows.append(("insats_heldygn", cat, int((pop & m.to_numpy(bool)).sum())))
    if (pop & held.isna().to_numpy()).any():
        rows.append(("insats_heldygn", MISSING, int((pop & held.isna().to_numpy()).sum())))
    t = pd.DataFrame(rows, columns=["variabel", "kategori", "n"])
    t["n_totalt"] = int(pop.sum())
    masks = {("insats_typ", code): (typ == code).to_numpy(dtype=bool)
             for code in schema.column("insats_typ").code_values()}
    masks |= {("insats_typ", MISSING): typ.isna().to_numpy(),
              ("insats_heldygn", "ja"): held.fillna(False).to_numpy(bool),
              ("insats_heldygn", "nej"): (~held).fillna(False).to_numpy(bool),
              ("insats_heldygn", MISSING): held.isna().to_numpy()}
    num = np.column_stack([pop & masks[(v, c)] for v, c in zip(t["variabel"], t["kategori"], strict=True)])
    eff = effective_n(num, np.repeat(pop[:, None], len(t), axis=1), child_key(df))
    for c, v in _rate_columns("andel", t["n"], t["n_totalt"], eff).items():
        t[c] = v
    return t


# ---------------------------------------------------------------------------------------------
# Time to decision: Kaplan-Meier
# ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Durations:
    """Days to the event (decision / closing) or to censoring at ``period_slut``."""

    days: np.ndarray
    event: np.ndarray
    group: np.ndarray
    variable: str = "arendetyp"


def row_durations(df: pd.DataFrame, kind: str, period_slut: str | pd.Timestamp
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per row: days (decided/closed: to the event; open: to ``period_slut``; NaN if unknown),
    the event flag and the population (every row for "fb", own utredningar for "utredning")."""
    end = pd.Timestamp(period_slut)
    if kind == "fb":
        done = _flag(df, "fb_beslutad")
        days = df["dagar_till_fb"].astype("Float64").to_numpy(dtype=float, na_value=np.nan)
        start = df["aktualiseringsdatum"]
        pop = np.ones(len(df), dtype=bool)
    elif kind == "utredning":
        done = _flag(df, "utredning_avslutad")
        days = df["utredning_dagar"].astype("Float64").to_numpy(dtype=float, na_value=np.nan)
        start = df["utredning_start"].where(df["utredning_start"].notna(),
                                            df["fb_datum"].where(df["fb_beslut"].astype(object) == "inleda"))
        pop = own_utredning(df)
    else:
        raise ValueError(f"kind must be 'fb' or 'utredning', not {kind!r}")
    open_days = (end - pd.to_datetime(start)).dt.days.to_numpy(dtype=float, na_value=np.nan)
    return np.where(done, days, open_days), done, pop


def durations(df: pd.DataFrame, kind: str, period_slut: str | pd.Timestamp, group: str = "arendetyp",
              ) -> Durations:
    """Durations for ``kind`` "fb" (aktualisering -> förhandsbedömning decision, every row) or
    "utredning" (start -> end of an own utredning). Open cases are censored at ``period_slut``;
    rows whose duration cannot be known (a missing date) are left out."""
    t, done, pop = row_durations(df, kind, period_slut)
    keep = pop & ~np.isnan(t) & (t >= 0)
    if group:
        g = df[group].astype(object).where(df[group].notna(), MISSING).to_numpy()
    else:
        g = np.full(len(df), TOTAL)
    return Durations(days=t[keep].astype(int), event=done[keep], group=np.asarray(g)[keep].astype(str),
                     variable=group or "grupp")


def kaplan_meier(days: np.ndarray, event: np.ndarray, grid: Sequence[int], level: float = 0.95,
                 ) -> pd.DataFrame:
    """Kaplan-Meier estimate of the share *done* (1 - S) at each day of ``grid``.

    Columns: dag, n_oppna (still open: at risk after that day), n_klara (events so far),
    n_censurerade (censored so far), andel_klara with a pointwise log(-log) Greenwood interval.
    Events and censorings on the same day: events first (the usual convention).
    """
    days = np.asarray(days, dtype=int)
    event = np.asarray(event, dtype=bool)
    times = np.unique(days[event])
    n_risk = np.array([(days >= t).sum() for t in times])
    d = np.array([(days[event] == t).sum() for t in times])
    with np.errstate(divide="ignore", invalid="ignore"):
        surv = np.cumprod(1 - d / n_risk)
        green = np.cumsum(d / (n_risk * (n_risk - d)))
    z = stats.norm.ppf(0.5 + level / 2)
    rows = []
    for g in grid:
        i = np.searchsorted(times, g, side="right") - 1
        s = surv[i] if i >= 0 else 1.0
        v = green[i] if i >= 0 else 0.0
        if 0 < s < 1 and np.isfinite(v):
            se = np.sqrt(v) / abs(np.log(s))
            s_lo, s_hi = s ** np.exp(z * se), s ** np.exp(-z * se)
        else:
            s_lo = s_hi = s
        rows.append({"dag": int(g), "n_oppna": int((days > g).sum()),
                     "n_klara": int((event & (days <= g)).sum()),
                     "n_censurerade": int((~event & (days <= g)).sum()),
                     "andel_klara": 1 - s, "andel_klara_lo": 1 - s_hi, "andel_klara_hi": 1 - s_lo})
    return pd.DataFrame(rows)


def time_curves(d: Durations, grid: Sequence[int]) -> pd.DataFrame:
    """:func:`kaplan_meier` for every group of ``d`` and in total ("totalt" first); the group
    column is named after the grouping variable, ``n_grupp`` is the group's size."""
    parts = []
    groups = [(TOTAL, np.ones(len(d.days), dtype=bool))]
    groups += [(g, d.group == g) for g in _ordered_groups(d.group)]
    for name, m in groups:
        t = kaplan_meier(d.days[m], d.event[m], grid)
        t.insert(0, d.variable, name)
        t.insert(1, "n_grupp", int(m.sum()))
        parts.append(t)
    return pd.concat(parts, ignore_index=True)


def _ordered_groups(values: np.ndarray) -> list[str]:
    present = set(values.tolist())
    order = [c.code for c in schema.ARENDETYP] + [MISSING]
    return [g for g in order if g in present] + sorted(present - set(order))


# ---------------------------------------------------------------------------------------------
# Every table of the notebook (unsuppressed; protected and published by funnel_report)
# ---------------------------------------------------------------------------------------------

def tables(y: pd.DataFrame, period_slut: str | pd.Timestamp) -> tuple[dict[str, pd.DataFrame],
                                                                     dict[str, Durations]]:
    """Every table of the funnel notebook for the rows ``y`` (one year), unsuppressed, and the
    time-to-decision data behind the Kaplan-Meier tables."""
    raw = {
        "tratt": funnel(y),
        "hoppade_steg": skipped_stages(y),
        "utfall": utredning_outcomes(y),
        "fordelning_aktualiseringar": breakdown(y, "aktualiseringar"),
        "fordelning_barn": breakdown(y, "barn"),
        "barn_antal_aktualiseringar": children_per_count(y),
        "barnsamtal": child_voice(y),
        "samverkan": samverkan(y),
        "tidsfrister": timeliness(y, period_slut),
        "avbojda": declines(y),
        "insatser": insats_mix(y),
    }
    dur = {"fb": durations(y, "fb", period_slut), "utredning": durations(y, "utredning", period_slut)}
    raw["tid_fb"] = time_curves(dur["fb"], FB_DAYS)
    raw["tid_utredning"] = time_curves(dur["utredning"], UTREDNING_DAYS)
    return raw, dur


# ---------------------------------------------------------------------------------------------
# Parameters
# ---------------------------------------------------------------------------------------------

def period_end(df: pd.DataFrame, kommun: str, period_slut: str | None = None) -> pd.Timestamp:
    """The censoring date: ``period_slut`` if given, else the params file's, else the latest date
    in the data (as the cleaning stage does)."""
    if period_slut:
        return pd.Timestamp(period_slut)
    from genomlysning import params

    try:
        given = params.load(kommun).get("period_slut")
    except params.ParamsError:
        given = None
    if given:
        return pd.Timestamp(str(given))
    latest = [df[c].max() for c in schema.DATE_COLUMNS if c in df.columns and df[c].notna().any()]
    if not latest:
        raise ValueError("no period_slut given and no dates in the data to take it from")
    return pd.Timestamp(max(latest))

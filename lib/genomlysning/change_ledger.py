"""What every count of the change notebook (05) means: its many-year ledger.

02 and 03 count the year ``ar``; 05 counts every year of the data (before/after a reform date, a
monthly series, a pilot area before/after its start). Its ledger is therefore a *many-year*
ledger (scope: every aktualisering of the data) that declares, beside the funnel's dimensions
(:func:`genomlysning.funnel_ledger.declare`, on all rows):

* ``period``: the coarsest partition of time that expresses every count 05 publishes - cut at
  every year start (so 02's year is a union of periods), at the reform date and the pilot start,
  at every month start when the monthly series is published and at every quarter (half-year)
  start when the pilot figure is. A code is the first day of its interval (``2024-07-01``).
* ``ar``: the year, with ``period`` as parent (a period lies in one year: structural zeros).
  Earlier notebooks' cells, scoped to their year, are read through it (:func:`ledger.merge`).

Children (unit ``barn``) are those of the earlier notebooks' year: 05 publishes no child counts,
but 02's child tables and the relations between the units are part of the unit's model.

Indicator populations use raw flags (``compare.indicator_rows``); :func:`share` writes each as
the funnel's cells, with :meth:`Cell.union` where a stage can be skipped (``hoppat:<stage>``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from genomlysning import funnel, funnel_ledger, schema
from genomlysning.change import DATE_COL
from genomlysning.funnel_ledger import akt_at_least, akt_unknown_at
from genomlysning.ledger import Cell, Ledger, LedgerError

A = "akt"
PERIOD = "period"
AR = "ar"


# ---------------------------------------------------------------------------------------------
# Time
# ---------------------------------------------------------------------------------------------

def time_cuts(dates: pd.Series, boundaries: Iterable[str | pd.Timestamp | None] = (), *,
              months: bool = False, quarters: bool = False, halves: bool = False) -> list[pd.Timestamp]:
    """Start days of the periods: every year start of the data's span, the ``boundaries``
    inside it and, if asked, every month, quarter or half-year start."""
    d = pd.to_datetime(dates)
    first, last = int(d.min().year), int(d.max().year)
    step = 1 if months else 3 if quarters else 6 if halves else 12
    out = {pd.Timestamp(y, m, 1) for y in range(first, last + 1) for m in range(1, 13, step)}
    end = pd.Timestamp(last + 1, 1, 1)
    out |= {pd.Timestamp(b) for b in boundaries if b is not None and pd.Timestamp(first, 1, 1)
            < pd.Timestamp(b) < end}
    return sorted(out)


def period_codes(cuts: Sequence[pd.Timestamp]) -> list[str]:
    """The ``period`` code of each cut: its date."""
    return [c.date().isoformat() for c in cuts]


def period_values(dates: pd.Series, cuts: Sequence[pd.Timestamp]) -> np.ndarray:
    """The period of each date."""
    edges = np.array([c.to_datetime64() for c in cuts], dtype="datetime64[ns]")
    idx = np.searchsorted(edges, pd.to_datetime(dates).to_numpy(dtype="datetime64[ns]"), side="right") - 1
    if (idx < 0).any():
        raise LedgerError("a date lies before the first period")
    return np.asarray(period_codes(cuts), dtype=object)[idx]


def between(cuts: Sequence[pd.Timestamp], start: str | pd.Timestamp | None = None,
            end: str | pd.Timestamp | None = None) -> list[str]:
    """Codes of the periods from ``start`` (a cut) up to ``end`` (a cut, excluded)."""
    lo = pd.Timestamp(start) if start is not None else None
    hi = pd.Timestamp(end) if end is not None else None
    for b in (lo, hi):
        if b is not None and cuts[0] < b <= cuts[-1] and b not in cuts:
            raise LedgerError(f"{b.date()} is not a period boundary")
    return [code for c, code in zip(cuts, period_codes(cuts), strict=True)
            if (lo is None or c >= lo) and (hi is None or c < hi)]


# ---------------------------------------------------------------------------------------------
# Dimensions
# ---------------------------------------------------------------------------------------------

def child_scope(files: Sequence[Mapping]) -> list[str] | None:
    """The year whose children the earlier notebooks count (their ``barn`` scope), if any."""
    scopes = {tuple(f.get("scope", {}).get("barn", {}).get("ar", ())) for f in files}
    scopes.discard(())
    if len(scopes) > 1:
        raise LedgerError(f"the unit's earlier notebooks count the children of different years: {scopes}")
    return list(scopes.pop()) if scopes else None


def declare(led: Ledger, df: pd.DataFrame, period_slut: pd.Timestamp, cuts: Sequence[pd.Timestamp],
            children: pd.DataFrame | None = None) -> None:
    """Declare the funnel's dimensions on every row of ``df`` (children from ``children``),
    and ``period`` and ``ar``."""
    df = df.reset_index(drop=True)
    funnel_ledger.declare(led, df, period_slut, children)
    codes = period_codes(cuts)
    led.dimension(A, PERIOD, period_values(df[DATE_COL], cuts), codes)
    years = sorted({c[:4] for c in codes})
    led.dimension(A, AR, df["ar"].astype("string").astype(object).to_numpy(), years, parent=PERIOD,
                  allowed={y: [c for c in codes if c[:4] == y] for y in years})


# ---------------------------------------------------------------------------------------------
# Indicators in the funnel's dimensions
# ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Share:
    """An indicator's numerator ``x``, denominator ``n``, their difference ``rest`` and the parts
    of its unions that no funnel table publishes (``extra``), all as cells."""

    x: Cell
    n: Cell
    rest: Cell
    extra: tuple[Cell, ...] = ()

    def also(self, **conditions: str | Iterable[str]) -> Share:
        """The share restricted further (e.g. to a period and an area)."""
        return Share(self.x.also(**conditions), self.n.also(**conditions), self.rest.also(**conditions),
                     tuple(c.also(**conditions) for c in self.extra))

    def protect(self) -> list[Cell]:
        """What a reader can compute beside x and n: the rest and the unpublished parts."""
        return [self.rest, *self.extra]


def _steg(*codes: str | Iterable[str]) -> list[str]:
    out: list[str] = []
    for c in codes:
        out += [c] if isinstance(c, str) else list(c)
    return out


def share(key: str) -> Share:
    """The cells of indicator ``key`` (``compare.INDICATORS``) for unit ``akt``.

    * utredning_inledd among decided förhandsbedömningar: nested stages.
    * insats_erbjuden among decided, not still in utredning: offered = reached, or offered
      with no utredning (``hoppat:insats_erbjuden``).
    * barnsamtal among the funnel's closed own utredningar with it recorded (as 04 counts it).
    * fb_inom_frist: in the complete cohort (``fb_kohort`` ja), ``fb_tid`` in the codes of 02's
      timeliness table.
    * insats_accepterad among offered: reached, or offered (and accepted) with a skipped stage.
    """
    hie, hia = "hoppat:insats_erbjuden", "hoppat:insats_accepterad"
    fb = akt_at_least("fb_beslutad")
    offered, accepted = akt_at_least("insats_erbjuden"), akt_at_least("insats_accepterad")
    if key == "utredning_inledd":
        return Share(Cell.of(A, steg=akt_at_least("utredning_inledd")), Cell.of(A, steg=fb),
                     Cell.of(A, steg="fb_beslutad"))
    if key == "insats_erbjuden":  # an offer not recorded is out of the indicator (compare.indicator_rows)
        unrecorded = set(akt_unknown_at("insats_erbjuden"))
        closed = [c for c in akt_at_least("utredning_avslutad") if c not in unrecorded]
        skipped = Cell.of(A, steg="fb_beslutad", **{hie: "ja"})
        not_offered = [c for c in closed if c not in offered]
        return Share(Cell.union(Cell.of(A, steg=offered), skipped),
                     Cell.of(A, steg=_steg("fb_beslutad", closed)),
                     Cell.union(Cell.of(A, steg="fb_beslutad", **{hie: "nej"}), Cell.of(A, steg=not_offered)),
                     (skipped,))
    if key == "barnsamtal":  # the funnel's closed own utredningar with barnsamtal recorded
        return Share(Cell.of(A, barnsamtal="ja"), Cell.of(A, barnsamtal=["ja", "nej"]),
                     Cell.of(A, barnsamtal="nej"))
    if key == "fb_inom_frist":  # the complete cohort (14 days passed at period end), as 02 counts it
        grid, days = funnel.FB_DAYS, schema.FB_FRIST_DAGAR
        ja = ["kneg", *funnel_ledger._at_or_below("k", grid, days)]
        nej = funnel_ledger._above("k", grid, days) + funnel_ledger._above("o", grid, days)
        return Share(Cell.of(A, fb_kohort="ja", fb_tid=ja), Cell.of(A, fb_kohort="ja", fb_tid=ja + nej),
                     Cell.of(A, fb_kohort="ja", fb_tid=nej))
    if key == "insats_accepterad":  # an answer not recorded is out of the indicator
        unrecorded = set(akt_unknown_at("insats_accepterad"))
        offered = [c for c in offered if c not in unrecorded]
        skipped = Cell.of(A, **{hie: "ja"})
        return Share(Cell.union(Cell.of(A, steg=accepted), Cell.of(A, **{hie: "ja", hia: "ja"})),
                     Cell.union(Cell.of(A, steg=offered), skipped),
                     Cell.union(Cell.of(A, steg=[c for c in offered if c not in accepted]),
                                Cell.of(A, **{hie: "ja", hia: "nej"})), (skipped,))
    raise KeyError(f"indicator {key!r} has no definition in the funnel's dimensions")


# ---------------------------------------------------------------------------------------------
# Tables
# ---------------------------------------------------------------------------------------------

def _register(led: Ledger, name: str, frame: pd.DataFrame, shares: Sequence[Share], x_col: str = "antal",
              n_col: str = "n", linked: Mapping[str, Sequence[str]] | None = None) -> None:
    """A table whose rows are shares: ``x_col``/``n_col`` counts, rests and extras protected."""
    for s in shares:  # the rest is what the reader computes: it must be n - x
        if led.value(s.rest) != led.value(s.n) - led.value(s.x):
            raise LedgerError(f"table {name}: {s.rest.key()} is not {s.n.key()} minus {s.x.key()}")
    led.add(name, frame, {x_col: [s.x for s in shares], n_col: [s.n for s in shares]},
            linked=linked or {"andel": [x_col, n_col]}, protect=[c for s in shares for c in s.protect()])


def register_before_after(led: Ledger, name: str, frame: pd.DataFrame, keys: Sequence[str],
                          cuts: Sequence[pd.Timestamp], reform_datum: str | pd.Timestamp) -> None:
    """The before/after table (rows: ``keys`` in order; before = up to the reform date)."""
    sides = {"fore": between(cuts, end=reform_datum), "efter": between(cuts, start=reform_datum)}
    cells: dict[str, list[Cell | None]] = {}
    protect: list[Cell] = []
    for side, codes in sides.items():
        shares = [share(k).also(**{PERIOD: codes}) for k in keys]
        cells[f"antal_{side}"] = [s.x for s in shares]
        cells[f"n_{side}"] = [s.n for s in shares]
        protect += [c for s in shares for c in s.protect()]
    both = ["antal_fore", "n_fore", "antal_efter", "n_efter"]
    linked = {"andel_fore": ["antal_fore", "n_fore"], "andel_efter": ["antal_efter", "n_efter"],
              **{c: both for c in ("skillnad", "skillnad_lo", "skillnad_hi")}}
    led.add(name, frame, cells, linked=linked, protect=protect)


def register_months(led: Ledger, name: str, frame: pd.DataFrame, key: str,
                    cuts: Sequence[pd.Timestamp]) -> None:
    """The monthly points of the time series (column ``manad``: first day of the month)."""
    shares = []
    for m in frame["manad"]:
        start = pd.Timestamp(m)
        shares.append(share(key).also(**{PERIOD: between(cuts, start, start + pd.DateOffset(months=1))}))
    _register(led, name, frame, shares)


def register_did_cells(led: Ledger, name: str, frame: pd.DataFrame, order: pd.DataFrame, key: str,
                       cuts: Sequence[pd.Timestamp], start: str | pd.Timestamp, pilot: str,
                       areas: Sequence[str]) -> None:
    """The pilot area and the rest (areas known) before and after the start (``order``: the
    rows' ``pilot``/``efter`` flags)."""
    rest = [a for a in areas if a not in (pilot, funnel.MISSING)]
    shares = []
    for p, e in zip(order["pilot"], order["efter"], strict=True):
        codes = between(cuts, start=start) if e else between(cuts, end=start)
        shares.append(share(key).also(omrade=[pilot] if p else rest, **{PERIOD: codes}))
    _register(led, name, frame, shares)


def register_did_points(led: Ledger, name: str, frame: pd.DataFrame, pilot_flags: Sequence[bool], key: str,
                        cuts: Sequence[pd.Timestamp], months: int, pilot: str, areas: Sequence[str]) -> None:
    """The points of the pilot figure: per period of ``months`` months (column ``period``: its
    first day) the pilot area or the rest."""
    rest = [a for a in areas if a not in (pilot, funnel.MISSING)]
    shares = []
    for p, first in zip(pilot_flags, frame["period"], strict=True):
        s = pd.Timestamp(first)
        codes = between(cuts, s, s + pd.DateOffset(months=months))
        shares.append(share(key).also(omrade=[pilot] if p else rest, **{PERIOD: codes}))
    _register(led, name, frame, shares)


def register_total(led: Ledger, name: str, frame: pd.DataFrame) -> None:
    """The number of aktualiseringar in the data (one row, column ``n``)."""
    led.add(name, frame, {"n": [Cell.of(A)]})

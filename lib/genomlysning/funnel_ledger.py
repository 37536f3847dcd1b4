"""What every count of the funnel notebook means: dimensions and cell definitions for the ledger.

:func:`build` declares, for the year's aktualiseringar (unit ``akt``) and children (unit
``barn``), the dimensions the funnel tables count by, and registers every table of
:func:`genomlysning.funnel_report.analyse` with the definition of each of its counts, so that
:mod:`genomlysning.ledger` protects them together. Definitions follow the functions that compute
the tables; the ledger recomputes every count from its definition and refuses a mismatch.

Dimensions of an aktualisering (``akt``):

* ``steg``: the furthest nested stage reached; from utredning on split into ``:egen`` (own
  utredning) and ``:pagaende`` (added to an ongoing one).
* the breakdown variables (``arendetyp``, ``anmalare`` …), one ``orsak:<code>`` (ja/nej) per
  anmälningsorsak (a row can have several) and ``orsak:saknas``.
* ``barnsamtal`` and the ``kontakt_*`` (ja/nej/saknas inside closed own utredningar),
  ``utredning_utfall`` (inside closed utredningar), ``insats_svar`` and ``insats_typ`` (inside
  offered insatser), each ``utanfor`` elsewhere (structural zeros the reader knows).
* ``fb_tid`` / ``utr_tid``: days to the decision (to the end of the own utredning), decided
  (``k``) or still open (``o``), in the bins of the Kaplan-Meier tables' days - the timeliness
  table's "late" and the curve's "still open at day 14" are the same cells.
* ``fb_kohort`` / ``utr_kohort`` (parent: the days): whether the deadline had passed at period
  end (``ja``: in the complete cohort that the timeliness shares are computed on), ``nej``,
  ``okand`` (start date missing), ``utanfor`` outside the population.
* ``hoppat:<stage>``: the stage's flag is set though an earlier stage is not.

Dimensions of a child (``barn``): ``steg`` (furthest stage over its aktualiseringar), for every
breakdown category ``<variable>:<category>`` the furthest stage among its aktualiseringar in that
category (``ingen`` if none), ``utfall:<code>`` and ``antal`` (aktualiseringar in the year).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from genomlysning import funnel, schema
from genomlysning.ledger import Cell, Ledger

A, B = "akt", "barn"
OUT = "utanfor"
NONE = "ingen"
#: Stage codes of an aktualisering: the first two, then own/ongoing for each later stage.
AKT_STEG: tuple[str, ...] = (funnel.STAGES[0], funnel.STAGES[1],
                             *(f"{s}:{t}" for s in funnel.STAGES[2:] for t in ("egen", "pagaende")))


def akt_at_least(stage: str, kind: str | None = None) -> list[str]:
    """``steg`` codes of aktualiseringar that reached ``stage`` (own/ongoing only: ``kind``)."""
    i = funnel.STAGES.index(stage)
    out = []
    for code in AKT_STEG:
        base, _, t = code.partition(":")
        if funnel.STAGES.index(base) >= i and (kind is None or t == kind):
            out.append(code)
    return out


def barn_at_least(stage: str) -> list[str]:
    """Child stage codes from ``stage`` on."""
    return list(funnel.STAGES[funnel.STAGES.index(stage):])


def _bins(grid: Sequence[int]) -> list[str]:
    return [f"{j}" for j in range(len(grid) + 1)]


def _bin_index(t: np.ndarray, grid: Sequence[int]) -> np.ndarray:
    """Bin j holds grid[j-1] < t <= grid[j] (bin 0: t <= grid[0]; last: t > grid[-1])."""
    return np.searchsorted(np.asarray(grid), t, side="left")


def _time_codes(grid: Sequence[int]) -> list[str]:
    return ["kneg", *(f"k{b}" for b in _bins(grid)), "oneg", *(f"o{b}" for b in _bins(grid)),
            "okand", "ookand"]


def _time_dim(t: np.ndarray, done: np.ndarray, inside: np.ndarray, grid: Sequence[int]) -> np.ndarray:
    """Code per row: status (k decided / o open), bin of the days; ``kneg``/``oneg`` for negative
    days, ``okand``/``ookand`` when the days are unknown, ``utanfor`` outside the population."""
    out = np.full(len(t), OUT, dtype=object)
    status = np.where(done, "k", "o")
    known = ~np.isnan(t)
    b = _bin_index(np.where(known, t, 0), grid)
    for i in np.flatnonzero(inside):
        if not known[i]:
            out[i] = "okand" if done[i] else "ookand"
        elif t[i] < 0:
            out[i] = f"{status[i]}neg"
        else:
            out[i] = f"{status[i]}{b[i]}"
    return out


def _at_or_below(prefix: str, grid: Sequence[int], day: int) -> list[str]:
    j = int(_bin_index(np.array([day]), grid)[0])
    return [f"{prefix}{i}" for i in range(j + 1)]


def _above(prefix: str, grid: Sequence[int], day: int) -> list[str]:
    j = int(_bin_index(np.array([day]), grid)[0])
    return [f"{prefix}{i}" for i in range(j + 1, len(grid) + 1)]


def _kept(grid: Sequence[int]) -> list[str]:
    return [f"{s}{b}" for s in ("k", "o") for b in _bins(grid)]


# ---------------------------------------------------------------------------------------------
# Dimensions
# ---------------------------------------------------------------------------------------------

def _akt_steg(y: pd.DataFrame) -> np.ndarray:
    r = funnel.reached(y).to_numpy()
    furthest = r.sum(axis=1) - 1
    pag = (y["fb_beslut"].astype(object) == "pagaende").to_numpy()
    codes = []
    for f, p in zip(furthest, pag, strict=True):
        s = funnel.STAGES[f]
        codes.append(s if f < 2 else f"{s}:{'pagaende' if p else 'egen'}")
    return np.array(codes, dtype=object)


def _category_codes(cats: pd.DataFrame) -> np.ndarray:
    """The one category of each row of a single-valued indicator frame."""
    arr = cats.to_numpy()
    if not (arr.sum(axis=1) == 1).all():
        raise ValueError("a row of a single-valued variable is in no or several categories")
    return np.asarray(cats.columns, dtype=object)[arr.argmax(axis=1)]


def _allowed(codes: Sequence[str], inside: Sequence[str]) -> dict[str, list[str]]:
    """Structural rule: every code but ``utanfor`` occurs only with ``inside`` stage codes."""
    rest = [c for c in AKT_STEG if c not in inside]
    return {c: (rest if c == OUT else list(inside)) for c in codes}


def _declare_akt(led: Ledger, y: pd.DataFrame, period_slut: pd.Timestamp) -> dict[str, list[str]]:
    """Declare the ``akt`` dimensions; return the category codes of each breakdown variable."""
    steg = _akt_steg(y)
    led.dimension(A, "steg", steg, AKT_STEG)
    variables: dict[str, list[str]] = {}
    for v in funnel.breakdown_variables(y):
        cats = funnel.categories(y, v)
        variables[v] = [str(c) for c in cats.columns]
        if v == "anmalningsorsak":
            for c in cats.columns:
                led.dimension(A, f"orsak:{c}", np.where(cats[c].to_numpy(), "ja", "nej"), ("ja", "nej"))
        else:
            led.dimension(A, v, _category_codes(cats), variables[v])
    closed_own = akt_at_least("utredning_avslutad", "egen")
    for col in ("barnsamtal", *funnel.KONTAKTER):
        f = y[col].astype("boolean")
        vals = np.where(f.isna(), "saknas", np.where(f.fillna(False), "ja", "nej")).astype(object)
        vals[~np.isin(steg, closed_own)] = OUT
        codes = ("ja", "nej", "saknas", OUT)
        led.dimension(A, col, vals, codes, parent="steg", allowed=_allowed(codes, closed_own))
    closed = akt_at_least("utredning_avslutad")
    utfall = y["utredning_utfall"].astype(object).where(y["utredning_utfall"].notna(), funnel.MISSING)
    vals = np.where(np.isin(steg, closed), utfall.to_numpy(), OUT).astype(object)
    codes = (*schema.column("utredning_utfall").code_values(), funnel.MISSING, OUT)
    led.dimension(A, "utredning_utfall", vals, codes, parent="steg", allowed=_allowed(codes, closed))
    offered = akt_at_least("insats_erbjuden")
    accepted = akt_at_least("insats_accepterad")
    for col in ("insats_svar", "insats_typ"):
        raw = y[col].astype(object).where(y[col].notna(), funnel.MISSING)
        vals = np.where(np.isin(steg, offered), raw.to_numpy(), OUT).astype(object)
        codes = (*schema.column(col).code_values(), funnel.MISSING, OUT)
        allowed = _allowed(codes, offered)
        if col == "insats_svar":  # accepted = offered and answered "ja"
            allowed = {c: (accepted if c == "ja" else [s for s in v if s not in accepted] if c != OUT else v)
                       for c, v in allowed.items()}
        led.dimension(A, col, vals, codes, parent="steg", allowed=allowed)
    nested = funnel.reached(y)
    for s in funnel.STAGES[1:]:
        skipped = funnel._flag(y, s) & ~nested[s].to_numpy()
        below = [c for c in AKT_STEG if c.partition(":")[0] in funnel.STAGES[:funnel.STAGES.index(s)]]
        led.dimension(A, f"hoppat:{s}", np.where(skipped, "ja", "nej"), ("ja", "nej"), parent="steg",
                      allowed={"ja": below, "nej": AKT_STEG})
    for kind, grid in (("fb", funnel.FB_DAYS), ("utredning", funnel.UTREDNING_DAYS)):
        t, done, inside = funnel.row_durations(y, kind, period_slut)
        codes = (*_time_codes(grid), OUT)
        vals = _time_dim(t, done, inside, grid)
        if kind == "fb":
            decided = akt_at_least("fb_beslutad")
            allowed = {c: (decided if c.startswith("k") else [s for s in AKT_STEG if s not in decided]
                           if c.startswith("o") else AKT_STEG) for c in codes}
            allowed["okand"] = AKT_STEG
            allowed[OUT] = []
            led.dimension(A, "fb_tid", vals, codes, parent="steg", allowed=allowed)
        else:
            own = akt_at_least("utredning_inledd", "egen")
            own_closed = akt_at_least("utredning_avslutad", "egen")
            own_open = [s for s in own if s not in own_closed]
            allowed = {c: (own_closed if c.startswith("k") or c == "okand" else own_open) for c in codes}
            allowed[OUT] = [s for s in AKT_STEG if s not in own]
            led.dimension(A, "utr_tid", vals, codes, parent="steg", allowed=allowed)
        _declare_cohort(led, y, kind, grid, inside, period_slut)
    return variables


#: Cohort dimension of each kind of deadline (see :func:`funnel.deadline_cohort`).
KOHORT = {"fb": "fb_kohort", "utredning": "utr_kohort"}
KOHORT_CODES: tuple[str, ...] = ("ja", "nej", "okand", OUT)


def cohort_allowed(grid: Sequence[int], limit: int) -> dict[str, list[str]]:
    """Structural rules between the cohort and the days dimension (its parent), which a reader
    knows: outside the cohort (the deadline had not passed at period end) a decided case took at
    most ``limit`` days and an open one has been open at most ``limit`` days; in the cohort an
    open case has been open longer; an unknown start leaves the days unknown."""
    k_all = ["kneg", *(f"k{b}" for b in _bins(grid))]
    return {"ja": [*k_all, "okand", *_above("o", grid, limit)],
            "nej": ["kneg", *_at_or_below("k", grid, limit), "okand", "oneg",
                    *_at_or_below("o", grid, limit)],
            "okand": ["okand", "ookand"], OUT: [OUT]}


def _declare_cohort(led: Ledger, y: pd.DataFrame, kind: str, grid: Sequence[int], inside: np.ndarray,
                    period_slut: pd.Timestamp) -> None:
    """``fb_kohort`` / ``utr_kohort``: in the complete cohort of the deadline (ja/nej/okand, the
    timeliness table's denominators), ``utanfor`` outside the population; parent: the days."""
    vals = np.where(inside, funnel.deadline_cohort(y, kind, period_slut), OUT).astype(object)
    limit = schema.FB_FRIST_DAGAR if kind == "fb" else schema.UTREDNING_FRIST_DAGAR
    led.dimension(A, KOHORT[kind], vals, KOHORT_CODES, parent="fb_tid" if kind == "fb" else "utr_tid",
                  allowed=cohort_allowed(grid, limit))


def _declare_barn(led: Ledger, y: pd.DataFrame, variables: dict[str, list[str]]) -> None:
    """Declare the ``barn`` dimensions (one record per child, in order of first appearance)."""
    child = funnel.child_key(y).to_numpy(dtype=object)
    ids, inv = np.unique(child, return_inverse=True)
    depth = funnel.reached(y).to_numpy().sum(axis=1) - 1
    n = len(ids)

    def furthest(mask: np.ndarray) -> np.ndarray:
        best = np.full(n, -1)
        np.maximum.at(best, inv[mask], depth[mask])
        return best

    codes = (NONE, *funnel.STAGES)
    steg = furthest(np.ones(len(y), dtype=bool))
    led.dimension(B, "steg", np.array(funnel.STAGES, dtype=object)[steg], funnel.STAGES)
    for v, cats in variables.items():
        # codes seen in other rows only (e.g. "saknas" of another year) are in no child's rows
        frame = funnel.categories(y, v).reindex(columns=cats, fill_value=False)
        for c in cats:
            f = furthest(frame[c].to_numpy())
            vals = np.array([NONE if i < 0 else funnel.STAGES[i] for i in f], dtype=object)
            led.dimension(B, f"{v}:{c}", vals, codes, parent="steg",
                          allowed={NONE: funnel.STAGES, **{s: funnel.STAGES[j:] for j, s in
                                                          enumerate(funnel.STAGES)}})
    closed = funnel.reached(y)["utredning_avslutad"].to_numpy()
    raw_utfall = y["utredning_utfall"].astype(object)
    utfall = raw_utfall.where(raw_utfall.notna(), funnel.MISSING).to_numpy()
    for c in (*schema.column("utredning_utfall").code_values(), funnel.MISSING):
        has = np.zeros(n, dtype=bool)
        has[inv[closed & (utfall == c)]] = True
        led.dimension(B, f"utfall:{c}", np.where(has, "ja", "nej"), ("ja", "nej"), parent="steg",
                      allowed={"ja": barn_at_least("utredning_avslutad"), "nej": funnel.STAGES})
    per = np.bincount(inv, minlength=n)
    top = 4
    labels = [str(i) for i in range(1, top)] + [f"{top}+"]
    led.dimension(B, "antal", np.array(labels, dtype=object)[np.minimum(per, top) - 1], labels)


# ---------------------------------------------------------------------------------------------
# Tables
# ---------------------------------------------------------------------------------------------

def _akt_stage_cell(stage: str, **where: object) -> Cell:
    return Cell.of(A, steg=akt_at_least(stage), **where)  # type: ignore[arg-type]


def _category(variable: str, cat: str) -> dict[str, object]:
    if variable == "anmalningsorsak":
        return {f"orsak:{cat}": "ja"}
    return {variable: cat}


def _register_funnel(led: Ledger, t: pd.DataFrame) -> None:
    cells: dict[str, list[Cell | None]] = {"n": [], "n_foregaende": [], "n_forsta": []}
    for unit, stage in zip(t["enhet"], t["steg"], strict=True):
        i = funnel.STAGES.index(stage)
        prev = funnel.STAGES[max(i - 1, 0)]
        if unit == "aktualiseringar":
            mk = _akt_stage_cell
        else:
            def mk(s: str) -> Cell:
                return Cell.of(B, steg=barn_at_least(s))
        cells["n"].append(mk(stage))
        cells["n_foregaende"].append(mk(prev))
        cells["n_forsta"].append(mk(funnel.STAGES[0]))
    linked = {c: ["n", "n_foregaende"] for c in t.columns if c.startswith("andel_foregaende")}
    linked |= {c: ["n", "n_forsta"] for c in t.columns if c.startswith("andel_forsta")}
    led.add("tratt", t, cells, linked=linked)


def _register_breakdown(led: Ledger, name: str, t: pd.DataFrame) -> None:
    cells: dict[str, list[Cell | None]] = {f"n_{s}": [] for s in funnel.STAGES}
    for v, c, unit in zip(t["variabel"], t["kategori"], t["enhet"], strict=True):
        for s in funnel.STAGES:
            if unit == "aktualiseringar":
                cells[f"n_{s}"].append(_akt_stage_cell(s, **_category(v, str(c))))
            else:
                cells[f"n_{s}"].append(Cell.of(B, **{f"{v}:{c}": barn_at_least(s)}))
    linked = {c: [f"n_{s}", "n_aktualisering"] for s in funnel.STAGES[1:] for c in t.columns
              if c in (f"andel_{s}", f"andel_{s}_lo", f"andel_{s}_hi")}
    led.add(name, t, cells, linked=linked)


def _register_shares(led: Ledger, name: str, t: pd.DataFrame,
                     outcome: dict[str, tuple[dict[str, object], dict[str, list[str]]]]) -> None:
    """A share table: ``outcome[utfall]`` = (population conditions, {count column: codes of the
    outcome dimension}); the outcome dimension is the single key of the codes' conditions."""
    cols = [c for c in ("n_grupp", "n_ja", "n_nej", "n_saknas", "n_censurerade", "n_bas") if c in t.columns]
    cells: dict[str, list[Cell | None]] = {c: [] for c in cols}
    for v, c, u in zip(t["variabel"], t["kategori"], t["utfall"], strict=True):
        pop, parts = outcome[u]
        extra = {} if v == funnel.TOTAL else _category(v, str(c))
        base = Cell.of(A, **pop, **extra)  # type: ignore[arg-type]
        for col in cols:
            if col == "n_grupp":
                cells[col].append(base)
            else:
                spec = parts[col]
                conds = dict(spec) if isinstance(spec, list) else {spec[0]: spec[1]}
                cells[col].append(base.also(**conds))
    linked = {c: ["n_ja", "n_bas"] for c in t.columns if c.startswith("andel")}
    led.add(name, t, cells, linked=linked)


def _share_spec(dim: str, pop: dict[str, object], ja: list[str], nej: list[str], saknas: list[str],
                cens: list[str] | None = None) -> tuple[dict[str, object], dict[str, tuple[str, list[str]]]]:
    parts = {"n_ja": (dim, ja), "n_nej": (dim, nej), "n_saknas": (dim, saknas), "n_bas": (dim, ja + nej)}
    if cens is not None:
        parts["n_censurerade"] = (dim, cens)
    return pop, parts  # type: ignore[return-value]


def _timeliness_spec(dim: str, cohort: str, pop: dict[str, object], grid: Sequence[int], limit: int
                     ) -> tuple[dict[str, object], dict[str, list[tuple[str, list[str]]]]]:
    """Cells of a complete-cohort timeliness share (``funnel.timeliness``): in time = in the
    cohort and decided within ``limit`` days; late = in the cohort, decided later or still open;
    fristen inte ute = outside the cohort; unknown = a date missing."""
    ja = ["kneg", *_at_or_below("k", grid, limit)]
    nej = _above("k", grid, limit) + _above("o", grid, limit)
    parts = {"n_ja": [(cohort, ["ja"]), (dim, ja)], "n_nej": [(cohort, ["ja"]), (dim, nej)],
             "n_saknas": [(cohort, ["ja", "okand"]), (dim, ["okand", "ookand"])],
             "n_censurerade": [(cohort, ["nej"])],
             "n_bas": [(cohort, ["ja"]), (dim, ja + nej)]}
    return pop, parts  # type: ignore[return-value]


def _register_curves(led: Ledger, name: str, t: pd.DataFrame, dim: str, grid: Sequence[int],
                     pop: dict[str, object]) -> None:
    group = t.columns[0]
    cells: dict[str, list[Cell | None]] = {"n_grupp": [], "n_oppna": [], "n_klara": []}
    protect = []
    for g, day in zip(t[group], t["dag"], strict=True):
        extra = {} if g == funnel.TOTAL else {group: str(g)}
        protect.append(Cell.of(A, **pop, **{dim: _at_or_below("o", grid, day)}, **extra))  # type: ignore[arg-type]
        cells["n_grupp"].append(Cell.of(A, **pop, **{dim: _kept(grid)}, **extra))  # type: ignore[arg-type]
        cells["n_oppna"].append(Cell.of(A, **pop, **{dim: _above("k", grid, day) + _above("o", grid, day)},
                                        **extra))  # type: ignore[arg-type]
        cells["n_klara"].append(Cell.of(A, **pop, **{dim: _at_or_below("k", grid, day)}, **extra))  # type: ignore[arg-type]
    linked = {c: ["n_klara", "n_oppna", "n_grupp"] for c in t.columns if c.startswith("andel")}
    led.add(name, t, cells, linked=linked, protect=protect)


def scope(ar: int | None) -> dict[str, dict[str, list[str]]]:
    """The records of a year's ledger within the unit's universe: aktualiseringar of ``ar`` and
    the children with one (see :class:`genomlysning.ledger.Ledger`); None: every year."""
    return {} if ar is None else {A: {"ar": [str(ar)]}, B: {"ar": [str(ar)]}}


def declare(led: Ledger, y: pd.DataFrame, period_slut: pd.Timestamp,
            children: pd.DataFrame | None = None) -> dict[str, list[str]]:
    """Declare the funnel's ``akt`` and ``barn`` dimensions for the rows ``y`` (so that a later
    notebook's ledger can read the funnel's published tables); return the category codes of
    each breakdown variable. ``children``: the rows whose children are the ``barn`` records
    (default ``y``), e.g. the year's rows in a ledger of every year's aktualiseringar."""
    variables = _declare_akt(led, y, period_slut)
    _declare_barn(led, y if children is None else children.reset_index(drop=True), variables)
    return variables


def build(raw: dict[str, pd.DataFrame], y: pd.DataFrame, k: int, period_slut: pd.Timestamp,
          ar: int | None = None) -> Ledger:
    """The ledger of the funnel notebook's tables ``raw`` (unsuppressed, as ``funnel.tables``
    computes them for the year's rows ``y``)."""
    led = Ledger(k, scope=scope(ar))
    variables = declare(led, y, period_slut)
    _register_funnel(led, raw["tratt"])
    hop = raw["hoppade_steg"]
    led.add("hoppade_steg", hop, {"n": [Cell.of(A, **{f"hoppat:{s}": "ja"}) for s in hop["steg"]]})
    out = raw["utfall"]
    cells: dict[str, list[Cell | None]] = {"n": [], "n_totalt": []}
    for unit, c in zip(out["enhet"], out["utredning_utfall"], strict=True):
        if unit == "aktualiseringar":
            cells["n"].append(Cell.of(A, utredning_utfall=str(c)))
            cells["n_totalt"].append(_akt_stage_cell("utredning_avslutad"))
        else:
            cells["n"].append(Cell.of(B, **{f"utfall:{c}": "ja"}))
            cells["n_totalt"].append(Cell.of(B, steg=barn_at_least("utredning_avslutad")))
    led.add("utfall", out, cells, linked={c: ["n", "n_totalt"] for c in out.columns if c.startswith("andel")})
    _register_breakdown(led, "fordelning_aktualiseringar", raw["fordelning_aktualiseringar"])
    _register_breakdown(led, "fordelning_barn", raw["fordelning_barn"])
    per = raw["barn_antal_aktualiseringar"]
    led.add("barn_antal_aktualiseringar", per,
            {"n": [Cell.of(B, antal=str(a)) for a in per["antal_aktualiseringar"]]},
            linked={c: ["n"] for c in per.columns if c.startswith("andel")})
    closed_own = {"steg": akt_at_least("utredning_avslutad", "egen")}
    yn = (["ja"], ["nej"], ["saknas"])
    _register_shares(led, "barnsamtal", raw["barnsamtal"],
                     {"barnsamtal": _share_spec("barnsamtal", closed_own, *yn)})
    _register_shares(led, "samverkan", raw["samverkan"],
                     {c: _share_spec(c, closed_own, *yn) for c in funnel.KONTAKTER})
    fb, ug = funnel.FB_DAYS, funnel.UTREDNING_DAYS
    fbd, ugd = schema.FB_FRIST_DAGAR, schema.UTREDNING_FRIST_DAGAR
    own = {"steg": akt_at_least("utredning_inledd", "egen")}
    _register_shares(led, "tidsfrister", raw["tidsfrister"], {
        "fb_inom_frist": _timeliness_spec("fb_tid", "fb_kohort", {}, fb, fbd),
        "utredning_inom_frist": _timeliness_spec("utr_tid", "utr_kohort", own, ug, ugd),
    })
    svar = [c for c in schema.column("insats_svar").code_values()]
    _register_shares(led, "avbojda", raw["avbojda"], {
        "tackat_nej": _share_spec("insats_svar", {"steg": akt_at_least("insats_erbjuden")}, ["nej"],
                                  [c for c in svar if c != "nej"], [funnel.MISSING])})
    mix = raw["insatser"]
    typ = list(schema.column("insats_typ").code_values())
    held = {"ja": [c for c in typ if c in schema.HELDYGN], "nej": [c for c in typ if c not in schema.HELDYGN],
            funnel.MISSING: [funnel.MISSING]}
    cells = {"n": [], "n_totalt": []}
    for v, c in zip(mix["variabel"], mix["kategori"], strict=True):
        codes = [str(c)] if v == "insats_typ" else held[str(c)]
        cells["n"].append(Cell.of(A, insats_typ=codes))
        cells["n_totalt"].append(_akt_stage_cell("insats_erbjuden"))
    led.add("insatser", mix, cells,
            linked={c: ["n", "n_totalt"] for c in mix.columns if c.startswith("andel")})
    _register_curves(led, "tid_fb", raw["tid_fb"], "fb_tid", fb, {})
    _register_curves(led, "tid_utredning", raw["tid_utredning"], "utr_tid", ug, own)
    _relations(led, raw, variables)
    return led


def _relations(led: Ledger, raw: dict[str, pd.DataFrame], variables: dict[str, list[str]]) -> None:
    """Logical links between the units: a child is counted at most as often as its rows; a
    child total is at most the sum over a variable's categories; rows >= sum of j * children."""
    for s in funnel.STAGES:
        led.at_most(Cell.of(B, steg=barn_at_least(s)), _akt_stage_cell(s))
        for v, cats in variables.items():
            parts = []
            for c in cats:
                dim = f"{v}:{c}"
                child = Cell.of(B, **{dim: barn_at_least(s)})
                led.at_most(child, _akt_stage_cell(s, **_category(v, c)))
                parts.append((1.0, child))
            led.at_most_sum(Cell.of(B, steg=barn_at_least(s)), parts)
    labels = list(raw["barn_antal_aktualiseringar"]["antal_aktualiseringar"])
    led.at_least_sum(Cell.of(A), [(float(i + 1), Cell.of(B, antal=a)) for i, a in enumerate(labels)])

"""What every count of the models notebook means: cell definitions in the funnel's dimensions.

The models notebook (03) publishes counts of aktualiseringar and children: per model category the
rows in the model with and without the outcome, each model's rows, children and events, the rows
missing a value, and the categories with separation. They are the same quantities as the funnel's
cells (utredning among aktualiseringar with a decided förhandsbedömning, by ärendetyp, is a cell of
``02_fordelning_aktualiseringar``), so :func:`build` declares the funnel's dimensions
(:func:`genomlysning.funnel_ledger.declare`), fixes what 02 published (``Ledger.add_published``) and
registers 03's tables with definitions in those dimensions; the ledger then hides only 03's cells.

How a model's rows are defined:

* **Populations and outcomes are raw stage flags** (``fb_beslutad``, ``insats_erbjuden`` ...), not
  the funnel's nested stages: a flag can be set while an earlier stage is not. Every row's flags
  are fixed by its furthest nested stage (``steg``) and the ``hoppat:<stage>`` dimensions, so a
  condition on flags is a union of disjoint cells over them (:func:`flag_cell`; ``utredning öppen
  vid periodslut`` is ``utredning_inledd`` and not ``utredning_avslutad``, as the cleaning derives it).
  Parts with a skipped stage that 02's ``02_hoppade_steg`` shows as a visible 0 are left out (a
  reader knows they are empty; the attacker's model stays small).
* **Rows in the model** are the population without a missing value in a predictor: the funnel's
  category dimensions have the code ``saknas`` exactly when values are missing. Reason flags and
  outcome flags are never missing in the clean table (the cleaning fills them), so the rows missing
  them are the empty cell; a table that shows another count fails the ledger's check loudly.
* **Categories** are code sets of the funnel's dimension (a pooled "Övrigt" or a category merged into
  the reference, "Pojke + Okänt", is the set of its codes); a pooled reason indicator is the union
  "one of the pooled reasons" as disjoint cells.
* **Children in a model** (``n_barn``): when the model's rows are "reached stage s" the children are
  the funnel's children that reached s; otherwise a child dimension ``modell:<outcome>`` (``ja``: the
  child has a row in the model) is declared, with the structural rule that such a child reached the
  lowest stage every model row has reached, and the relation children <= rows.
* ``barn_id_saknas`` (rows without a child id, each its own cluster) is a dimension of its own.

A union's parts are protected like a table's disjoint cells (``protect``): the part "offered while an
earlier stage was skipped" of a category is the difference between 03's count and 02's nested one.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from genomlysning import disclose, funnel, funnel_ledger, models, schema
from genomlysning.ledger import Cell, Ledger, LedgerError

A, B = funnel_ledger.A, funnel_ledger.B
#: The stage flag columns (every stage but the first).
FLAGS: tuple[str, ...] = funnel.STAGES[1:]
#: Flags the cleaning derives from stage flags (clean.derive_flow).
DERIVED_FLAGS: dict[str, Callable[[Mapping[str, bool]], bool]] = {
    "utredning_oppen_vid_periodslut": lambda f: f["utredning_inledd"] and not f["utredning_avslutad"],
}
#: The count that is structurally zero (codes of no record).
NOTHING = Cell(A, (("steg", frozenset()),))
#: Dimension of rows without a child id.
BARN_ID = "barn_id_saknas"
#: Published columns of a coefficient table computed from its counts (hidden with them).
DERIVED_COLUMNS: tuple[str, ...] = ("andel", "or", "or_lo", "or_hi", "p", "ame", "ame_lo", "ame_hi",
                                    "andel_std", "andel_std_lo", "andel_std_hi", "separation")
COUNTS: tuple[str, ...] = ("n", "n_med", "n_utan")


# ---------------------------------------------------------------------------------------------
# Conditions on raw flags as funnel cells
# ---------------------------------------------------------------------------------------------

def _steg_codes(stage: str) -> list[str]:
    return [c for c in funnel_ledger.AKT_STEG if c.partition(":")[0] == stage]


def _cubes(pred: Callable[[dict[str, bool]], bool], free: Sequence[str],
           fixed: dict[str, bool]) -> list[dict[str, bool]]:
    """Disjoint conjunctions of the ``free`` flags on which ``pred`` (given ``fixed``) holds
    (Shannon expansion, splitting only on flags it depends on)."""
    values = {a: pred({**fixed, **dict(zip(free, a, strict=True))})
              for a in itertools.product((True, False), repeat=len(free))}
    if all(values.values()):
        return [{}]
    if not any(values.values()):
        return []
    for j, v in enumerate(free):
        if any(values[a] != values[(*a[:j], not a[j], *a[j + 1:])] for a in values):
            rest = [f for f in free if f != v]
            return [{v: val, **c} for val in (True, False) for c in _cubes(pred, rest, {**fixed, v: val})]
    raise AssertionError("a non-constant function depends on some flag")


def flag_cell(pred: Callable[[dict[str, bool]], bool], never_skipped: frozenset[str] = frozenset(),
              own_only: bool = False) -> Cell:
    """The aktualiseringar whose stage flags (:data:`FLAGS`, a dict flag -> bool) satisfy ``pred``,
    as a union of disjoint cells over ``steg`` and ``hoppat:<stage>`` (:data:`NOTHING` if none).

    A row whose furthest nested stage is s has every flag up to s set, the next one unset, and each
    later flag equal to its ``hoppat`` code. ``never_skipped``: stages whose skipped rows 02
    publishes as a visible 0 (a reader knows those parts are empty: they are left out).
    ``own_only``: without the rows added to an ongoing utredning (stage codes ``:pagaende``)."""
    groups: dict[tuple[tuple[str, bool], ...], list[str]] = {}
    for b, stage in enumerate(funnel.STAGES):
        fixed = {s: True for s in FLAGS[:b]}
        if b < len(FLAGS):
            fixed[FLAGS[b]] = False
        fixed |= {s: False for s in FLAGS[b + 1:] if s in never_skipped}
        free = [s for s in FLAGS[b + 1:] if s not in never_skipped]
        for cube in _cubes(pred, free, fixed):
            codes = [c for c in _steg_codes(stage) if not (own_only and c.split(":")[1:2] == ["pagaende"])]
            groups.setdefault(tuple(sorted(cube.items())), []).extend(codes)
    parts = [Cell.of(A, steg=codes, **{f"hoppat:{s}": "ja" if v else "nej" for s, v in cube})
             for cube, codes in groups.items() if codes]
    if not parts:
        return NOTHING
    return parts[0] if len(parts) == 1 else Cell.union(*parts)


def _flags_predicate(conditions: Sequence[tuple[str, bool]]) -> Callable[[dict[str, bool]], bool]:
    for col, _ in conditions:
        if col not in FLAGS and col not in DERIVED_FLAGS:
            raise LedgerError(f"the ledger cannot express a condition on {col!r} in the funnel's dimensions")

    def pred(f: dict[str, bool]) -> bool:
        return all((DERIVED_FLAGS[c](f) if c in DERIVED_FLAGS else f[c]) == v for c, v in conditions)

    return pred


def population_cell(outcome: models.Outcome, value: bool | None = None,
                    never_skipped: frozenset[str] = frozenset()) -> Cell:
    """The outcome's population (``value`` None), or its rows with (True) or without (False) it."""
    conds = list(outcome.population) + ([] if value is None else [(outcome.column, value)])
    return flag_cell(_flags_predicate(conds), never_skipped, own_only=outcome.own_utredning)


def _disjoint_any(conditions: Sequence[tuple[str, frozenset[str], frozenset[str]]]
                  ) -> list[dict[str, frozenset[str]]]:
    """"At least one of the conditions" as disjoint conjunctions: (dim, codes if true, codes if
    false) -> the i-th holds and none before it."""
    out = []
    for i, (dim, yes, _) in enumerate(conditions):
        out.append({**{d: no for d, _, no in conditions[:i]}, dim: yes})
    return out


def _union(cells: Sequence[Cell]) -> Cell:
    cells = [c for c in cells if c is not NOTHING]
    if not cells:
        return NOTHING
    return cells[0] if len(cells) == 1 else Cell.union(*cells)


# ---------------------------------------------------------------------------------------------
# Predictors: the funnel's category dimensions (or a dimension of their own)
# ---------------------------------------------------------------------------------------------

REASON_CODE: dict[str, str] = {r.column: r.code for r in schema.ORSAKER}


def _never_missing(y: pd.DataFrame, col: str) -> None:
    """A reason or outcome flag: the funnel's dimensions read a missing one as "nej"."""
    if y[col].isna().any():
        raise LedgerError(f"{col} has missing values; the funnel's dimensions count them as 'nej'")


@dataclass
class Context:
    """The ledger and what :func:`build` declared beyond the funnel's dimensions."""

    led: Ledger
    y: pd.DataFrame
    child_dims: dict[str, str]  # key of a model's row cell -> barn dimension
    own: set[str]  # predictors with a dimension of their own (``modell:<col>``)
    never_skipped: frozenset[str] = frozenset()  # stages 02 shows no skipped row of

    def population(self, outcome: models.Outcome, value: bool | None = None) -> Cell:
        """:func:`population_cell` without the parts 02 shows empty."""
        return population_cell(outcome, value, self.never_skipped)

    def predictor_dim(self, col: str) -> str:
        """The ``akt`` dimension holding the codes of predictor ``col``."""
        if col in self.led.dims[A] and col not in self.own:
            return col
        name = f"modell:{col}"
        if name not in self.led.dims[A]:
            v = self.y[col]
            c = schema.column(col)
            if c.dtype == "bool":
                yes = v.astype("boolean").fillna(False).to_numpy(dtype=bool)
                vals = np.where(v.isna(), funnel.MISSING, np.where(yes, "ja", "nej"))
                codes = ["ja", "nej", funnel.MISSING]
            elif c.dtype == "int":
                vals = np.where(v.isna(), funnel.MISSING, "finns")
                codes = ["finns", funnel.MISSING]
            else:
                vals = np.where(v.isna(), funnel.MISSING, v.astype(object).astype(str))
                codes = [*c.code_values(), *(x for x in sorted(set(vals)) if x not in c.code_values())]
                codes = list(dict.fromkeys([*codes, funnel.MISSING]))
            self.led.dimension(A, name, pd.Series(vals, dtype=object), codes)
            self.own.add(col)
        return name

    def not_missing(self, formula: str) -> dict[str, list[str]]:
        """Conditions: no predictor of ``formula`` missing (reasons are never missing)."""
        out: dict[str, list[str]] = {}
        for col in models._input_columns(models.parse_formula(formula)):
            if col in REASON_CODE:
                _never_missing(self.y, col)
                continue
            dim = self.predictor_dim(col)
            codes = self.led.dims[A][dim].codes
            if funnel.MISSING in codes:
                out[dim] = [c for c in codes if c != funnel.MISSING]
        return out

    def missing(self, formula: str) -> list[Cell]:
        """"Some predictor missing" as disjoint cells (to restrict to a population)."""
        conds = []
        for dim, codes in self.not_missing(formula).items():
            conds.append((dim, frozenset([funnel.MISSING]), frozenset(codes)))
        return [Cell.of(A, **c) for c in _disjoint_any(conds)]


def _restrict(cell: Cell, conditions: Mapping[str, Sequence[str] | frozenset[str]]) -> Cell:
    if cell is NOTHING:
        return NOTHING
    return cell.also(**{d: list(c) for d, c in conditions.items()}) if conditions else cell


def _and(cell: Cell, others: Sequence[Cell]) -> Cell:
    """``cell`` restricted to each disjoint conjunction of ``others`` (a union of the results)."""
    return _union([_restrict(cell, dict(o.where)) for o in others])


@dataclass(frozen=True)
class ModelCells:
    """The counts of one model: its rows, with and without the outcome."""

    rows: Cell
    events: Cell
    non_events: Cell

    def also(self, conditions: Mapping[str, Sequence[str]] | None = None, parts: Sequence[Cell] = ()
             ) -> ModelCells:
        """The same counts in a category: plain conditions, or a union of disjoint ``parts``."""
        def one(c: Cell) -> Cell:
            c = _restrict(c, conditions or {})
            return _and(c, parts) if parts else c

        return ModelCells(one(self.rows), one(self.events), one(self.non_events))


def outcome_unknown(outcome: models.Outcome) -> list[str]:
    """``steg`` codes of the rows whose outcome is not recorded ("uppgift saknas": the funnel's
    bortfall at the outcome's stage); none for an outcome that is always known."""
    if outcome.column not in funnel.UNKNOWABLE:
        return []
    return funnel_ledger.akt_unknown_at(outcome.column)


def outcome_known(outcome: models.Outcome) -> dict[str, list[str]]:
    """The condition "outcome recorded" on ``steg`` (empty when it always is)."""
    unknown = set(outcome_unknown(outcome))
    return {"steg": [c for c in funnel_ledger.AKT_STEG if c not in unknown]} if unknown else {}


def model_cells(ctx: Context, outcome: models.Outcome, formula: str) -> ModelCells:
    """Rows of ``outcome``'s population with the outcome and every predictor of ``formula`` known."""
    keep = {**ctx.not_missing(formula), **outcome_known(outcome)}
    return ModelCells(*(_restrict(ctx.population(outcome, v), keep) for v in (None, True, False)))


def level_cells(ctx: Context, base: ModelCells, term: models.Term, level: models.Level) -> ModelCells:
    """The counts of one category of a model term."""
    if term.kind == "numeric":
        return base
    if term.kind == "categorical":
        return base.also({ctx.predictor_dim(term.name): list(level.members)})
    dims = [f"orsak:{REASON_CODE[c]}" for c in (term.levels[1].members)]
    if level.code == "nej":
        return base.also({d: ["nej"] for d in dims})
    conds = [(d, frozenset(["ja"]), frozenset(["nej"])) for d in dims]
    return base.also(parts=[Cell.of(A, **c) for c in _disjoint_any(conds)])


# ---------------------------------------------------------------------------------------------
# Children
# ---------------------------------------------------------------------------------------------

def _mask(led: Ledger, cell: Cell) -> np.ndarray:
    frame = led.records[cell.unit]
    out = np.zeros(len(frame), dtype=bool)
    for part in cell.parts():
        m = np.ones(len(frame), dtype=bool)
        for d, codes in part.where:
            m &= frame[d].isin(codes).to_numpy()
        out |= m
    return out


def _lowest_stage(cell: Cell) -> str:
    """The lowest nested stage every row of ``cell`` has reached (from its ``steg`` conditions)."""
    lowest = len(funnel.STAGES) - 1
    for part in cell.parts():
        codes = dict(part.where).get("steg", frozenset(funnel_ledger.AKT_STEG))
        lowest = min([lowest, *(funnel.STAGES.index(c.partition(":")[0]) for c in codes)])
    return funnel.STAGES[lowest]


def children_cell(ctx: Context, rows: Cell, name: str) -> Cell:
    """Children with a row in ``rows``: the funnel's children reached s when ``rows`` is "reached
    s", else ``modell:<name>`` = ja (declared on first use, with its structural rule)."""
    led = ctx.led
    c = led.canonical(rows)
    where = dict(c.where)
    if not c.more and set(where) <= {"steg"}:
        if not where:
            return Cell.of(B)
        for s in funnel.STAGES:
            if where["steg"] == frozenset(funnel_ledger.akt_at_least(s)):
                return Cell.of(B, steg=funnel_ledger.barn_at_least(s))
    key = c.key()
    if key not in ctx.child_dims:
        dim = f"modell:{name}"
        child = funnel.child_key(ctx.y).to_numpy(dtype=object)
        ids, inv = np.unique(child, return_inverse=True)
        has = np.zeros(len(ids), dtype=bool)
        has[inv[_mask(led, rows)]] = True
        rule = {"ja": funnel_ledger.barn_at_least(_lowest_stage(c)), "nej": list(funnel_ledger.BARN_STEG)}
        led.dimension(B, dim, pd.Series(np.where(has, "ja", "nej"), dtype=object), ("ja", "nej"),
                      parent="steg", allowed=rule)
        led.at_most(Cell.of(B, **{dim: "ja"}), rows)
        ctx.child_dims[key] = dim
    return Cell.of(B, **{ctx.child_dims[key]: "ja"})


# ---------------------------------------------------------------------------------------------
# Tables
# ---------------------------------------------------------------------------------------------

def union_parts(cells: Mapping[str, Sequence[Cell | None]]) -> list[Cell]:
    """The parts of every union count (a reader can compute one from the others)."""
    out: dict[str, Cell] = {}
    for defs in cells.values():
        for c in defs:
            if c is not None and c.more:
                for p in c.parts():
                    out.setdefault(p.key(), p)
    return list(out.values())


def _add(led: Ledger, name: str, frame: pd.DataFrame, cells: dict[str, list[Cell | None]],
         linked: Mapping[str, Sequence[str]] | None = None, protect: Sequence[Cell] = ()) -> None:
    led.add(name, frame, cells, linked=linked, protect=[*union_parts(cells), *protect])


def coefficient_cells(ctx: Context, fit: models.ModelFit, raw: pd.DataFrame) -> dict[str, list[Cell | None]]:
    """Definitions of n, n_med and n_utan of a coefficient table (rows of ``raw``:
    :func:`genomlysning.models.coefficient_table`)."""
    base = model_cells(ctx, fit.prep.outcome, fit.prep.formula)
    terms = {t.name: t for t in fit.terms}
    cells: dict[str, list[Cell | None]] = {c: [] for c in COUNTS}
    for var, kod in zip(raw["variabel"], raw["kod"], strict=True):
        term = terms[var]
        level = next((lv for lv in term.levels if lv.code == kod), None) if term.kind != "numeric" else None
        mc = level_cells(ctx, base, term, level) if level is not None else base
        for col, c in zip(COUNTS, (mc.rows, mc.events, mc.non_events), strict=True):
            cells[col].append(c)
    return cells


def register_coefficients(ctx: Context, name: str, frame: pd.DataFrame, fit: models.ModelFit,
                          raw: pd.DataFrame) -> None:
    """A published coefficient table: counts per category; every estimate of a row is hidden with
    the row's events or non-events (it is computed from them; ``n`` is their sum, so a hidden ``n``
    beside both visible is derivable anyway and hides nothing more)."""
    linked = {c: ["n_med", "n_utan"] for c in DERIVED_COLUMNS if c in frame.columns}
    _add(ctx.led, name, frame, coefficient_cells(ctx, fit, raw), linked)


def register_overview(ctx: Context, name: str, frame: pd.DataFrame,
                      models_of_rows: Sequence[tuple[models.Prepared, str]]) -> None:
    """The overview: per model (prepared rows, child dimension name) rows, children, events."""
    cells: dict[str, list[Cell | None]] = {"n": [], "n_barn": [], "n_med": []}
    rest = []
    for prep, dim_name in models_of_rows:
        mc = model_cells(ctx, prep.outcome, prep.formula)
        cells["n"].append(mc.rows)
        cells["n_barn"].append(children_cell(ctx, mc.rows, dim_name))
        cells["n_med"].append(mc.events)
        rest.append(mc.non_events)  # rows minus events: a disjoint cell (unions have no table atoms)
    linked = {"epv": ["n", "n_med"]} if "epv" in frame.columns else {}
    _add(ctx.led, name, frame, cells, linked, protect=rest)


def missing_cells(ctx: Context, prep: models.Prepared) -> list[Cell | None]:
    """Definitions of the rows of ``prep.missing`` (:func:`genomlysning.models.missing_table`)."""
    pop = ctx.population(prep.outcome)
    keep = ctx.not_missing(prep.formula)
    unknown, known = outcome_unknown(prep.outcome), outcome_known(prep.outcome)
    no_outcome = _restrict(pop, {"steg": unknown}) if unknown else NOTHING
    out: list[Cell | None] = []
    kolumn = list(prep.missing["kolumn"])
    tail = len(kolumn) - 3  # population, any missing, in the model
    for i, col in enumerate(kolumn):
        if i == tail:
            out.append(pop)
        elif i == tail + 1:  # the outcome not recorded, or recorded and a predictor missing
            out.append(_union([no_outcome, _and(_restrict(pop, known), ctx.missing(prep.formula))]))
        elif i == tail + 2:
            out.append(_restrict(pop, {**keep, **known}))
        elif col == "barn_id":
            out.append(_restrict(pop, {BARN_ID: ["ja"]}))
        elif col == prep.outcome.column and unknown:
            out.append(no_outcome)
        elif col == prep.outcome.column or col in REASON_CODE:
            _never_missing(ctx.y, col)
            out.append(NOTHING)
        else:
            dim = ctx.predictor_dim(col)
            has = funnel.MISSING in ctx.led.dims[A][dim].codes
            out.append(_restrict(pop, {dim: [funnel.MISSING]}) if has else NOTHING)
    return out


def register_missing(ctx: Context, name: str, frame: pd.DataFrame, preps: Sequence[models.Prepared]) -> None:
    """The missing-value table: ``frame`` holds the rows of every ``prep.missing`` in order."""
    cells: list[Cell | None] = []
    for prep in preps:
        cells += missing_cells(ctx, prep)
    _add(ctx.led, name, frame, {"n": cells})


def register_separation(ctx: Context, name: str, frame: pd.DataFrame,
                        rows: Sequence[tuple[models.ModelFit, str, str, bool]]) -> None:
    """The separation table: per row (fit, variable, code, all rows separated) the category's rows;
    ``n_separerade`` is that count when every row is separated (else not a count of the ledger)."""
    n: list[Cell | None] = []
    sep: list[Cell | None] = []
    for fit, var, code, full in rows:
        base = model_cells(ctx, fit.prep.outcome, fit.prep.formula)
        term = next(t for t in fit.terms if t.name == var)
        level = next(lv for lv in term.levels if lv.code == code)
        c = level_cells(ctx, base, term, level).rows
        n.append(c)
        sep.append(c if full else None)
    _add(ctx.led, name, frame, {"n": n, "n_separerade": sep})


def context(k: int, y: pd.DataFrame, period_slut: pd.Timestamp, ar: int | None,
            earlier: tuple[Sequence[Mapping], Mapping[str, pd.DataFrame]]) -> Context:
    """A ledger over the year's rows ``y`` with the funnel's dimensions, what the earlier notebooks
    published (``earlier``: definitions and tables, :func:`genomlysning.audit.published`) fixed,
    and the rows without a child id as a dimension."""
    led = Ledger(k, scope=funnel_ledger.scope(ar))
    funnel_ledger.declare(led, y, period_slut)
    ids = y["barn_id"].isna().to_numpy()
    led.dimension(A, BARN_ID, pd.Series(np.where(ids, "ja", "nej"), dtype=object), ("ja", "nej"))
    files, tables = earlier
    led.add_published(list(files), tables)
    hop = tables.get("02_hoppade_steg")
    shown = [] if hop is None else zip(hop["steg"], hop["n"], strict=True)
    zero = frozenset(str(s) for s, n in shown if not disclose.is_suppressed(n) and n == 0)
    return Context(led, y, {}, set(), zero)

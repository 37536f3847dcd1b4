"""Logistic models: which ärendetyper (and reporters, ages, ...) go with utredning and insats.

One model per outcome (:data:`OUTCOMES`), fitted on the aktualiseringar of the year under review
(unit: the aktualisering; standard errors clustered by child, ``barn_id``, because one child often
has several aktualiseringar). The pipeline of :func:`fit_model`:

1. **Population and missing values** - rows of year ``ar`` in the outcome's population (rows whose
   outcome is not known yet - förhandsbedömning or utredning open at the end of the period - are
   left out, not counted as "no"); rows missing the outcome or a predictor are counted per variable
   (:func:`missing_table`) and then dropped. A row without ``barn_id`` is its own cluster.
2. **Pooling** (:func:`pool_term`) - a category is *too small to estimate* when it has fewer than
   ``min_n`` rows, or when its smaller outcome count (events or non-events) is between 1 and
   ``min_events - 1`` (``min_events`` defaults to the suppression threshold ``k``, so no count shown
   beside an estimate is ever a small cell). Small categories are pooled into "Övrigt/övriga"; if
   the pooled group is still too small it is merged into the reference category. Age groups are
   ordered and are merged into their smaller neighbour instead. A category with 0 events or 0
   non-events and at least ``min_n`` rows is *kept*: that is separation, handled by Firth.
3. **Reference categories** (:data:`DEFAULT_REFERENCE`) - ärendetyp: "Förälders problematik" (the
   largest group nationally, 39 % in Socialstyrelsen 2018, and without the legal duty to
   investigate that makes violence cases near-certain utredningar: contrasts against it are
   interpretable and it is never separated); återaktualisering: "Nej"; every other variable: its
   largest category among all aktualiseringar of the year (the most typical case; the same for
   every outcome, :func:`default_references`). A reference that is pooled away or has all outcomes
   equal in an outcome's population is replaced there by the largest category without. Every table
   states the reference.
4. **Separation** (:func:`detect_separation`) - per category (all outcomes 0 or all 1) and in the
   whole design by a linear program that finds the largest set of rows a linear predictor can
   classify perfectly (complete or quasi-complete separation; cf. Konis 2007, R ``detectseparation``).
   Not statsmodels' warning.
5. **Estimation** - no separation: maximum likelihood (statsmodels ``Logit``), Wald intervals with
   cluster-robust (CRV1) covariance by child, statsmodels' small-sample factor
   G/(G-1)·(N-1)/(N-K). Separation: Firth's penalised likelihood (:mod:`genomlysning.firth`), profile
   penalised-likelihood intervals and penalised likelihood-ratio p-values (these are model-based:
   they do not account for clustering).
6. **Effects** - odds ratios; average marginal effects (AME: mean change in predicted probability
   when every row is moved from the reference to the category, others as observed) and predicted
   probabilities per category standardised over the sample's case mix, both with delta-method
   cluster-robust standard errors (for Firth: the larger of the sandwich at the Firth estimate and
   the model-based variance, see :func:`delta_se`).
7. **Diagnostics** (:func:`calibration`) - calibration in the large, calibration slope, binned and
   smoothed calibration curves from cross-validated predictions (folds by child), ROC AUC with a
   DeLong interval. No Hosmer-Lemeshow test.

An outcome with fewer than :data:`MIN_OUTCOME_EVENTS` rows with or without it, or with no predictor
left after pooling, is not modelled (:func:`run_models` says why). :func:`run_models` fits every
outcome and the alternative specification with one indicator per anmälningsorsak
(:data:`ORSAK_FORMULA`). This module computes only: it never masks, draws for publication or writes;
every published number passes the disclosure ledger in :mod:`genomlysning.models_report` (tables,
figures, results.json; definitions in :mod:`genomlysning.models_ledger`). Labels:
``schema.TEXTS["mod_*"]``.
"""

from __future__ import annotations

import functools
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd
from scipy import optimize, sparse, special, stats

from genomlysning import firth, schema
from genomlysning.schema import Lang

Method = Literal["auto", "ml", "firth"]
TermKind = Literal["categorical", "indicator", "numeric"]


# ---------------------------------------------------------------------------------------------
# Outcomes, formulas, reference categories, texts
# ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Outcome:
    """One modelled outcome: a 0/1 column within a population of aktualiseringar.

    ``population``: (column, value) conditions a row must meet; rows whose outcome is not known yet
    (förhandsbedömning or utredning still open at the end of the period) are left out rather than
    counted as "no".
    """

    key: str
    column: str
    population: tuple[tuple[str, bool], ...]
    sv: str
    en: str

    def label(self, lang: Lang = "sv") -> str:
        """Return the label (outcome and denominator) in ``lang``."""
        return self.sv if lang == "sv" else self.en


OUTCOMES: dict[str, Outcome] = {o.key: o for o in (
    Outcome("utredning", "utredning_inledd", (("fb_beslutad", True),),
            "Utredning inledd, av aktualiseringar med beslutad förhandsbedömning",
            "Investigation opened, of referrals with a decided initial assessment"),
    Outcome("insats", "insats_erbjuden", (("fb_beslutad", True), ("utredning_oppen_vid_periodslut", False)),
            "Insats erbjuden, av aktualiseringar med avgjort utfall",
            "Intervention offered, of referrals with a settled outcome"),
    Outcome("insats_efter_utredning", "insats_erbjuden", (("utredning_inledd", True),
                                                          ("utredning_avslutad", True)),
            "Insats erbjuden, av avslutade utredningar",
            "Intervention offered, of closed investigations"),
    Outcome("accepterad", "insats_accepterad", (("insats_erbjuden", True),),
            "Insats accepterad, av erbjudna insatser", "Intervention accepted, of those offered"),
)}

#: The default right-hand side: ärendetyp plus the case-mix variables.
DEFAULT_FORMULA = "arendetyp + anmalare + aldersgrupp + kon + ateraktualisering"
#: The alternative specification: every anmälningsorsak as its own indicator (a row can have several).
ORSAK_FORMULA = "orsaker + anmalare + aldersgrupp + kon + ateraktualisering"
#: Formula term expanding to one 0/1 indicator per anmälningsorsak.
ORSAKER = "orsaker"
#: Reference categories fixed by design (see the module docstring); other variables: largest category.
DEFAULT_REFERENCE: dict[str, str] = {"arendetyp": "foralder", "ateraktualisering": "nej"}
#: Ordered categorical variables: small categories merge into a neighbour instead of "Övrigt".
ORDINAL: frozenset[str] = frozenset({"aldersgrupp"})
#: Code of a pooled category.
POOLED = "ovrigt"
POOLED_REASONS = "orsak_ovriga"
#: Default pooling thresholds (see :func:`pool_term`).
MIN_N = 20
#: An outcome is not modelled with fewer events or non-events than this.
MIN_OUTCOME_EVENTS = 10

#: Prefix of this module's labels in :data:`genomlysning.schema.TEXTS` (the ``mod_*`` block).
TEXT_PREFIX = "mod_"


def text(key: str, lang: Lang = "sv", **kwargs: object) -> str:
    """Return a label from ``schema.TEXTS`` in ``lang``: ``mod_<key>``, else the shared ``<key>``."""
    full = TEXT_PREFIX + key
    return schema.text(full if full in schema.TEXTS else key, lang, **kwargs)


def parse_formula(formula: str | None) -> tuple[str, ...]:
    """Split a right-hand side ``"a + b + c"`` into checked term names (None: the default).

    A term is a coded, yes/no or integer column of the clean table, or ``orsaker`` (one indicator
    per anmälningsorsak). Only main effects; the outcome is chosen by the ``outcome`` argument.
    """
    rhs = DEFAULT_FORMULA if formula is None else formula
    if "~" in rhs:
        lhs, rhs = rhs.split("~", 1)
        if lhs.strip():
            raise ValueError(f"formula {formula!r}: give only the right-hand side (the outcome is "
                             f"chosen by `outcome`: {', '.join(OUTCOMES)})")
    terms = tuple(t.strip() for t in rhs.split("+") if t.strip())
    if not terms:
        raise ValueError(f"formula {formula!r} has no terms; e.g. {DEFAULT_FORMULA!r}")
    for t in terms:
        if t == ORSAKER:
            continue
        if any(ch in t for ch in "*:()"):
            raise ValueError(f"formula term {t!r}: only main effects 'a + b' are supported")
        col = schema.column(t)
        if col.role == "identifier" or col.dtype not in ("code", "bool", "int"):
            raise ValueError(f"formula term {t!r}: must be a coded, yes/no or integer column")
    if len(set(terms)) != len(terms):
        raise ValueError(f"formula {formula!r} repeats a term")
    if ORSAKER in terms and ("arendetyp" in terms or any(t in schema.REASON_COLUMNS for t in terms)):
        raise ValueError("formula: 'orsaker' cannot be combined with 'arendetyp' or single orsak_* "
                         "columns (ärendetyp is a function of the reasons)")
    return terms


# ---------------------------------------------------------------------------------------------
# Terms, pooling, design
# ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Level:
    """One category of a model term: its model code and the original codes it holds."""

    code: str
    members: tuple[str, ...]
    n: int
    events: int
    pooled: bool = False


@dataclass(frozen=True)
class Term:
    """One model term. For categorical terms ``levels[0]`` is the reference."""

    name: str
    kind: TermKind
    levels: tuple[Level, ...] = ()
    group: str = ""

    @property
    def reference(self) -> Level | None:
        """The reference category (categorical terms only)."""
        return self.levels[0] if self.kind == "categorical" else None

    @property
    def columns(self) -> tuple[str, ...]:
        """Names of this term's design columns."""
        if self.kind == "categorical":
            return tuple(f"{self.name}[{lev.code}]" for lev in self.levels[1:])
        return (self.name,)


def _code_label(name: str, code: str, lang: Lang) -> str:
    if code in ("ja", "nej") and schema.column(name).dtype == "bool":
        return text(code, lang)
    return schema.code_label(name, code, lang)


def level_label(term: Term, level: Level, lang: Lang = "sv") -> str:
    """Label of a category in ``lang`` (pooled and merged categories say what they hold)."""
    if term.kind == "indicator":
        if term.name == POOLED_REASONS:
            return text("orsak_ovriga", lang)
        return schema.label(term.name, lang)
    if level.pooled and len(level.members) > 1:
        return text("ovriga", lang)
    if len(level.members) == 1:
        return _code_label(term.name, level.members[0], lang)
    return " + ".join(_code_label(term.name, m, lang) for m in level.members)


def term_label(term: Term, lang: Lang = "sv") -> str:
    """Label of a term's variable (reason indicators share the label "Anmälningsorsak")."""
    if term.group == ORSAKER:
        return text("orsaker", lang)
    return schema.label(term.name, lang)


def _ok(n: int, events: int, min_n: int, min_events: int) -> bool:
    minority = min(events, n - events)
    return n >= min_n and (minority == 0 or minority >= min_events)


def _separated(n: int, events: int) -> bool:
    return n > 0 and (events == 0 or events == n)


def pool_term(name: str, values: np.ndarray, y: np.ndarray, *, order: Sequence[str],
              min_n: int, min_events: int, reference: str | None = None) -> tuple[Term | None, list[dict]]:
    """Pool the categories of one categorical term (rule in the module docstring).

    Returns the term (None when fewer than two categories remain) and one record per original
    code that was pooled or merged: ``{"variabel", "kod", "till", "skal"}``.
    """
    y = np.asarray(y, dtype=float)
    per_code = pd.DataFrame({"v": values, "y": y}).groupby("v", sort=False)["y"].agg(["size", "sum"])
    n_of = {str(c): int(v) for c, v in per_code["size"].items()}
    e_of = {str(c): int(v) for c, v in per_code["sum"].items()}
    present = [c for c in order if c in n_of]
    if not present:  # no rows (an empty population): nothing to pool, no term
        return None, []

    def counts(members: Sequence[str]) -> tuple[int, int]:
        return sum(n_of[c] for c in members), sum(e_of[c] for c in members)

    def ok(members: Sequence[str]) -> bool:
        return _ok(*counts(members), min_n, min_events)

    groups: list[list[str]] = [[c] for c in present]
    pooled: list[str] = []
    reasons: dict[str, str] = {}
    if name in ORDINAL:
        while len(groups) > 1 and not all(ok(g) for g in groups):
            bad = min((g for g in groups if not ok(g)), key=lambda g: counts(g)[0])
            i = groups.index(bad)
            j = min((j for j in (i - 1, i + 1) if 0 <= j < len(groups)), key=lambda j: counts(groups[j])[0])
            lo, hi = sorted((i, j))
            for c in groups[i]:
                reasons[c] = "skal_granne"
            groups[lo:hi + 1] = [groups[lo] + groups[hi]]
    else:
        failing = [g for g in groups if not ok(g)]
        if failing:
            pooled = [c for c in present if [c] in failing or c == POOLED]
            groups = [g for g in groups if g[0] not in pooled]
            for c in pooled:
                reasons[c] = "skal_liten"

    def candidates(gs: list[list[str]]) -> list[list[str]]:
        return [g for g in gs if ok(g) and not _separated(*counts(g))]

    cands = candidates(groups) or groups or [pooled]
    preferred = next((g for g in cands if reference is not None and reference in g), None)
    ref = preferred or max(cands, key=lambda g: (counts(g)[0], -present.index(g[0])))
    if pooled:
        if ok(pooled) and groups:
            groups.append(pooled)
        else:
            if ref is pooled:
                groups = [pooled]
            else:
                ref_idx = groups.index(ref)
                groups[ref_idx] = ref + pooled
                ref = groups[ref_idx]
                for c in pooled:
                    reasons[c] = "skal_ref"
    records: list[dict] = []
    levels: list[Level] = []
    for g in [ref] + [g for g in groups if g is not ref]:
        is_pool = g is pooled
        code = POOLED if is_pool else (g[0] if g is ref or len(g) == 1 else "+".join(g))
        n, ev = counts(g)
        levels.append(Level(code=code, members=tuple(g), n=n, events=ev, pooled=is_pool))
    if len(levels) < 2:
        return None, [{"variabel": name, "kod": c, "till": "", "skal": "skal_utesluten"} for c in present]
    for lev in levels:
        for c in lev.members:
            if c in reasons:
                records.append({"variabel": name, "kod": c, "till": lev.code, "skal": reasons[c]})
    return Term(name=name, kind="categorical", levels=tuple(levels)), records


def pool_reasons(flags: pd.DataFrame, y: np.ndarray, *, min_n: int, min_events: int
                 ) -> tuple[list[Term], list[dict], pd.Series | None]:
    """Indicator terms for the anmälningsorsaker: small ones pooled into one "other reasons" flag.

    Returns the terms, the pooling records and the pooled indicator (None if not used).
    """
    y = np.asarray(y, dtype=float)
    terms: list[Term] = []
    failing: list[str] = []
    for col in schema.REASON_COLUMNS:
        x = flags[col].to_numpy(dtype=bool)
        n1, e1 = int(x.sum()), int(y[x].sum())
        n0, e0 = int((~x).sum()), int(y[~x].sum())
        if n1 == 0:
            continue
        if _ok(n1, e1, min_n, min_events) and _ok(n0, e0, min_n, min_events):
            terms.append(Term(col, "indicator", (Level("nej", ("nej",), n0, e0),
                                                 Level("ja", (col,), n1, e1)), group=ORSAKER))
        else:
            failing.append(col)
    records: list[dict] = []
    pooled: pd.Series | None = None
    if failing:
        x = flags[failing].to_numpy(dtype=bool).any(axis=1)
        n1, e1 = int(x.sum()), int(y[x].sum())
        n0, e0 = int((~x).sum()), int(y[~x].sum())
        keep = _ok(n1, e1, min_n, min_events) and _ok(n0, e0, min_n, min_events)
        for col in failing:
            records.append({"variabel": ORSAKER, "kod": col, "till": POOLED_REASONS if keep else "",
                            "skal": "skal_liten" if keep else "skal_orsak_utesluten"})
        if keep:
            pooled = pd.Series(x, index=flags.index, name=POOLED_REASONS)
            terms.append(Term(POOLED_REASONS, "indicator",
                              (Level("nej", ("nej",), n0, e0), Level("ja", tuple(failing), n1, e1)),
                              group=ORSAKER))
    return terms, records, pooled


def design_matrix(terms: Sequence[Term], data: pd.DataFrame) -> np.ndarray:
    """The design matrix: intercept, then each term's columns (treatment coding against levels[0])."""
    cols = [np.ones(len(data))]
    for t in terms:
        if t.kind == "categorical":
            v = data[t.name].to_numpy(dtype=object)
            cols.extend((v == lev.code).astype(float) for lev in t.levels[1:])
        else:
            cols.append(data[t.name].to_numpy(dtype=float))
    return np.column_stack(cols)


def column_names(terms: Sequence[Term]) -> tuple[str, ...]:
    """Names of the design columns (first: the intercept)."""
    return ("intercept",) + tuple(c for t in terms for c in t.columns)


# ---------------------------------------------------------------------------------------------
# Population, missing values, preparation
# ---------------------------------------------------------------------------------------------

def population(df: pd.DataFrame, outcome: str | Outcome, ar: int | None = None) -> pd.DataFrame:
    """Rows of year ``ar`` (all years when None) in the outcome's population."""
    out = OUTCOMES[outcome] if isinstance(outcome, str) else outcome
    rows = df
    if ar is not None:
        years = pd.to_numeric(df["ar"], errors="coerce")
        if not (years == ar).any():
            found = sorted(int(v) for v in years.dropna().unique())
            raise ValueError(f"no aktualiseringar in year {ar}; the data hold: {found}")
        rows = df[(years == ar).to_numpy()]
    for col, value in out.population:
        flag = rows[col].astype("boolean").fillna(False).to_numpy(dtype=bool)
        rows = rows[flag == value]
    return rows


def _input_columns(terms: Sequence[str]) -> list[str]:
    cols: list[str] = []
    for t in terms:
        cols.extend(schema.REASON_COLUMNS if t == ORSAKER else [t])
    return cols


def missing_table(rows: pd.DataFrame, outcome: str | Outcome, formula: str | None = None,
                  lang: Lang = "sv") -> pd.DataFrame:
    """Rows of the population missing the outcome or each predictor, counted before any model.

    Columns: ``variabel`` (label), ``kolumn``, ``saknas``; then rows for the population size, rows
    with any missing value and rows left for the model (``kolumn`` = "").
    """
    out = OUTCOMES[outcome] if isinstance(outcome, str) else outcome
    cols = [out.column, *_input_columns(parse_formula(formula))]
    records = [{"variabel": schema.label(c, lang), "kolumn": c, "saknas": int(rows[c].isna().sum())}
               for c in cols]
    any_missing = int(rows[cols].isna().any(axis=1).sum())
    records += [
        {"variabel": text("barn_id_saknas", lang), "kolumn": "barn_id",
         "saknas": int(rows["barn_id"].isna().sum())},
        {"variabel": text("i_population", lang), "kolumn": "", "saknas": len(rows)},
        {"variabel": text("nagot_saknas", lang), "kolumn": "", "saknas": any_missing},
        {"variabel": text("i_modell", lang), "kolumn": "", "saknas": len(rows) - any_missing},
    ]
    return pd.DataFrame.from_records(records)


@dataclass
class Prepared:
    """The analysed rows of one model: codes after pooling, outcome, clusters and terms."""

    outcome: Outcome
    formula: str
    terms: tuple[Term, ...]
    data: pd.DataFrame
    y: np.ndarray
    groups: np.ndarray
    pooling: pd.DataFrame
    missing: pd.DataFrame
    n_population: int
    min_n: int
    min_events: int


def prepare(df: pd.DataFrame, outcome: str | Outcome = "utredning", *, ar: int | None = None,
            formula: str | None = None, reference: Mapping[str, str] | None = None, k: int = 5,
            min_n: int = MIN_N, min_events: int | None = None, lang: Lang = "sv") -> Prepared:
    """Select the population, count and drop missing values, pool small categories (see module doc)."""
    out = OUTCOMES[outcome] if isinstance(outcome, str) else outcome
    names = parse_formula(formula)
    rows = population(df, out, ar)
    missing = missing_table(rows, out, formula, lang)
    n_population = len(rows)
    cols = [out.column, *_input_columns(names)]
    rows = rows[~rows[cols].isna().any(axis=1).to_numpy()]
    y = rows[out.column].astype(bool).to_numpy(dtype=float)
    ids = rows["barn_id"].astype("string").to_numpy(dtype=object, na_value=None)
    groups = np.array([v if v is not None else f"_rad{i}" for i, v in enumerate(ids)], dtype=object)
    min_events = k if min_events is None else min_events
    min_n = max(min_n, k)
    refs = {**DEFAULT_REFERENCE, **(reference or {})}
    data = pd.DataFrame(index=rows.index)
    terms: list[Term] = []
    records: list[dict] = []
    for name in names:
        if name == ORSAKER:
            t_list, recs, pooled = pool_reasons(rows[list(schema.REASON_COLUMNS)], y,
                                                min_n=min_n, min_events=min_events)
            for t in t_list:
                src = pooled if t.name == POOLED_REASONS else rows[t.name]
                data[t.name] = np.asarray(src, dtype=bool).astype(float)
            terms.extend(t_list)
            records.extend(recs)
            continue
        col = schema.column(name)
        if col.dtype == "int":
            data[name] = rows[name].to_numpy(dtype=float)
            terms.append(Term(name, "numeric"))
            continue
        if col.dtype == "bool":
            values = np.where(rows[name].astype(bool).to_numpy(), "ja", "nej").astype(object)
            order: Sequence[str] = ("nej", "ja")
        else:
            values = rows[name].astype("string").to_numpy(dtype=object)
            order = col.code_values()
        term, recs = pool_term(name, values, y, order=order, min_n=min_n, min_events=min_events,
                               reference=refs.get(name))
        records.extend(recs)
        if term is None:
            continue
        code_of = {m: lev.code for lev in term.levels for m in lev.members}
        data[name] = np.array([code_of[v] for v in values], dtype=object)
        terms.append(term)
    terms = drop_aliased(terms, data, records)
    pooling = pd.DataFrame.from_records(records, columns=["variabel", "kod", "till", "skal"])
    return Prepared(outcome=out, formula=" + ".join(names), terms=tuple(terms), data=data, y=y,
                    groups=groups, pooling=pooling, missing=missing, n_population=n_population,
                    min_n=min_n, min_events=min_events)


def _record_not_estimable(records: list[dict], variabel: str, codes: Sequence[str], into: str) -> None:
    """Mark ``codes`` of ``variabel`` as not estimable (merged into ``into``; "" = left out)."""
    for c in codes:
        rec = next((r for r in records if r["variabel"] == variabel and r["kod"] == c), None)
        if rec is None:
            records.append(rec := {"variabel": variabel, "kod": c})
        rec.update(till=into, skal="skal_ej_skattbar")


def drop_aliased(terms: Sequence[Term], data: pd.DataFrame, records: list[dict]) -> list[Term]:
    """Remove design columns that are linear combinations of earlier ones (:func:`firth.aliased_columns`).

    In a small population a category (or a reason indicator) can coincide with other variables, e.g.
    the pooled "other reasons" flag is exactly "not orsak_ovrigt" when every row has one of them;
    its coefficient is then not estimable and the information matrix is singular. An aliased
    category of a categorical term is merged into the reference (its rows get the reference code in
    ``data``, which is the same as dropping its column); an aliased indicator or numeric term is left
    out. Each is recorded in ``records`` with reason ``skal_ej_skattbar``. Returns the new terms.
    """
    terms = list(terms)
    if not terms or len(data) == 0:
        return terms
    owner = [(None, None)] + [(t, c) for t in terms for c in t.columns]
    aliased = firth.aliased_columns(design_matrix(terms, data))
    drop: dict[str, set[str]] = {}
    for j in aliased:
        t, col = owner[j]
        if t is None:
            continue  # the intercept is never aliased unless there are no rows
        drop.setdefault(t.name, set()).add(col)
    out: list[Term] = []
    for t in terms:
        cols = drop.get(t.name)
        if not cols:
            out.append(t)
            continue
        if t.kind == "categorical":
            gone = [lev for lev in t.levels[1:] if f"{t.name}[{lev.code}]" in cols]
            ref = t.levels[0]
            members = ref.members + tuple(m for lev in gone for m in lev.members)
            merged = Level(code=ref.code, members=members, n=ref.n + sum(lev.n for lev in gone),
                           events=ref.events + sum(lev.events for lev in gone), pooled=ref.pooled)
            codes = {lev.code for lev in gone}
            v = data[t.name].to_numpy(dtype=object)
            data[t.name] = np.where(np.isin(v, list(codes)), ref.code, v).astype(object)
            _record_not_estimable(records, t.name, [m for lev in gone for m in lev.members], ref.code)
            levels = (merged,) + tuple(lev for lev in t.levels[1:] if lev.code not in codes)
            if len(levels) > 1:
                out.append(Term(t.name, t.kind, levels, t.group))
            else:
                del data[t.name]
            continue
        del data[t.name]
        if t.group == ORSAKER:
            _record_not_estimable(records, ORSAKER, list(t.levels[1].members), "")
        else:
            _record_not_estimable(records, t.name, [t.name if t.kind == "numeric" else "ja"], "")
    return out


# ---------------------------------------------------------------------------------------------
# Separation
# ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Separation:
    """Separation found in the data: per category and in the whole design (linear program)."""

    separated: bool
    rows: np.ndarray
    levels: pd.DataFrame
    large_coefficients: tuple[str, ...] = ()

    @property
    def affected(self) -> pd.DataFrame:
        """Categories with all outcomes equal or all rows perfectly predictable."""
        lv = self.levels
        return lv[(lv["alla_lika"] != "") | ((lv["separerade"] == lv["n"]) & (lv["n"] > 0))]


def separated_rows(X: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Rows a linear predictor can classify perfectly (boolean mask); all False = no separation.

    Solves max sum(t) s.t. s_i x_i'b >= t_i, 0 <= t_i <= 1, b free, with s = 2y - 1, on the
    distinct (x, y) patterns. The feasible directions b form a convex cone, so the optimum sets
    t_i = 1 exactly for every row that some direction separates: the maximal separated set, which
    is empty iff the maximum-likelihood estimate exists (Albert & Anderson 1984).
    """
    X = np.asarray(X, dtype=float)
    s = 2.0 * np.asarray(y, dtype=float) - 1.0
    pats, inverse = np.unique(np.column_stack([X, s]), axis=0, return_inverse=True)
    inverse = inverse.ravel()
    xs, ss = pats[:, :-1], pats[:, -1]
    n_pat, p = xs.shape
    c = np.concatenate([np.zeros(p), -np.ones(n_pat)])
    a_ub = sparse.hstack([sparse.csr_array(-(ss[:, None] * xs)), sparse.eye_array(n_pat, format="csr")],
                         format="csr")
    bounds = [(None, None)] * p + [(0.0, 1.0)] * n_pat
    res = optimize.linprog(c, A_ub=a_ub, b_ub=np.zeros(n_pat), bounds=bounds, method="highs")
    if res.status != 0:
        raise RuntimeError(f"separation check: linear program failed ({res.message})")
    return (res.x[p:] > 0.5)[inverse]


def detect_separation(prep: Prepared) -> Separation:
    """Check each category (all outcomes 0 or 1) and the full design (:func:`separated_rows`)."""
    X = design_matrix(prep.terms, prep.data)
    rows = separated_rows(X, prep.y)
    records = []
    for t in prep.terms:
        if t.kind == "numeric":
            continue
        levels = t.levels if t.kind == "categorical" else t.levels[1:]
        for lev in levels:
            if t.kind == "categorical":
                mask = (prep.data[t.name].to_numpy(dtype=object) == lev.code)
            else:
                mask = prep.data[t.name].to_numpy(dtype=float) == 1.0
            n, ev = int(mask.sum()), int(prep.y[mask].sum())
            same = "alla_1" if n and ev == n else ("alla_0" if n and ev == 0 else "")
            records.append({"variabel": t.name, "kod": lev.code, "n": n, "handelser": ev,
                            "alla_lika": same, "separerade": int(rows[mask].sum())})
    levels_df = pd.DataFrame.from_records(
        records, columns=["variabel", "kod", "n", "handelser", "alla_lika", "separerade"])
    return Separation(separated=bool(rows.any()), rows=rows, levels=levels_df)


# ---------------------------------------------------------------------------------------------
# Fitting
# ---------------------------------------------------------------------------------------------

@dataclass
class ModelFit:
    """A fitted model: estimates, covariance for effects, intervals and everything it was fitted on."""

    prep: Prepared
    names: tuple[str, ...]
    X: np.ndarray
    params: np.ndarray
    cov: np.ndarray
    ci: np.ndarray
    pvalues: np.ndarray
    method: Literal["ml", "firth"]
    separation: Separation
    converged: bool
    alpha: float = 0.05
    firth_fit: firth.FirthResult | None = field(default=None, repr=False)

    @property
    def terms(self) -> tuple[Term, ...]:
        """The model terms."""
        return self.prep.terms

    @property
    def n(self) -> int:
        """Rows in the model."""
        return len(self.prep.y)

    @property
    def events(self) -> int:
        """Rows with the outcome."""
        return int(self.prep.y.sum())

    @property
    def n_clusters(self) -> int:
        """Children (clusters) in the model."""
        return len(np.unique(self.prep.groups))

    @property
    def epv(self) -> float:
        """Events per variable: the smaller outcome count per estimated coefficient (excl. intercept)."""
        return min(self.events, self.n - self.events) / max(1, len(self.names) - 1)

    def predict(self, X: np.ndarray | None = None) -> np.ndarray:
        """Predicted probabilities for the design ``X`` (default: the model's own rows)."""
        return special.expit((self.X if X is None else X) @ self.params)

    @functools.cached_property
    def patterns(self) -> tuple[np.ndarray, np.ndarray]:
        """Distinct rows of the design and their weights (share of rows): averages over the rows,
        such as marginal effects, are computed on these."""
        pats, counts = np.unique(self.X, axis=0, return_counts=True)
        return pats, counts / counts.sum()


class TooFewEventsError(ValueError):
    """The outcome has too few events or non-events (or no predictor is left) to fit a model."""


class ModelFitError(RuntimeError):
    """The model could not be fitted (a numerical failure); the message says why."""


def _fit_ml(X: np.ndarray, y: np.ndarray, groups: np.ndarray, alpha: float
            ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, bool]:
    import statsmodels.api as sm

    _, g = np.unique(groups, return_inverse=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # separation is checked from the data, not from warnings
        res = sm.Logit(y, X, check_rank=False).fit(
            method="newton", maxiter=100, disp=False, cov_type="cluster",
            cov_kwds={"groups": g.ravel(), "use_correction": True})
    params = np.asarray(res.params)
    cov = np.asarray(res.cov_params())
    ci = np.asarray(res.conf_int(alpha=alpha))
    return params, cov, ci, np.asarray(res.pvalues), bool(res.mle_retvals.get("converged", False))


def _fit_firth(X: np.ndarray, y: np.ndarray, groups: np.ndarray, alpha: float
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, bool, firth.FirthResult]:
    """Firth fit on the covariate patterns; profile intervals and penalised LR p-values for every
    coefficient but the intercept (which no table shows: NaN)."""
    pats, events, trials, _ = firth.collapse(X, y)
    fit = firth.firth_logit(pats, events, trials=trials)
    slopes = range(1, X.shape[1])
    ci = firth.profile_ci(pats, events, fit, trials=trials, alpha=alpha, which=slopes)
    pvals = np.array([np.nan] + [firth.penalised_lr_test(pats, events, fit, [j], trials=trials)[2]
                                 for j in slopes])
    cov = firth.cluster_cov(X, y, fit, groups)
    return fit.params, cov, ci, pvals, fit.converged, fit


def fit_prepared(prep: Prepared, *, method: Method = "auto", alpha: float = 0.05) -> ModelFit:
    """Fit a prepared model: ML without separation, Firth with it (``method="auto"``)."""
    events = int(prep.y.sum())
    if min(events, len(prep.y) - events) < MIN_OUTCOME_EVENTS or not prep.terms:
        raise TooFewEventsError(f"{prep.outcome.key}: {len(prep.y)} rows, {events} with the outcome; at "
                           f"least {MIN_OUTCOME_EVENTS} with and without are needed and one predictor")
    X = design_matrix(prep.terms, prep.data)
    names = column_names(prep.terms)
    try:
        sep = detect_separation(prep)
    except RuntimeError as err:
        raise ModelFitError(f"{prep.outcome.key}: {err}") from err
    use_firth = method == "firth" or (method == "auto" and sep.separated)
    firth_fit = None
    try:
        if use_firth:
            params, cov, ci, pvals, conv, firth_fit = _fit_firth(X, prep.y, prep.groups, alpha)
        else:
            params, cov, ci, pvals, conv = _fit_ml(X, prep.y, prep.groups, alpha)
    except np.linalg.LinAlgError as err:
        raise ModelFitError(f"{prep.outcome.key}: {err}") from err
    if not use_firth:
        se = np.sqrt(np.maximum(np.diag(cov), 0.0))
        large = tuple(n for n, b, s in zip(names, params, se, strict=True) if abs(b) > 10 or s > 20)
        sep = Separation(sep.separated, sep.rows, sep.levels, large)
    return ModelFit(prep=prep, names=names, X=X, params=params, cov=cov, ci=ci, pvalues=pvals,
                    method="firth" if use_firth else "ml", separation=sep, converged=conv,
                    alpha=alpha, firth_fit=firth_fit)


def fit_model(df: pd.DataFrame, outcome: str | Outcome = "utredning", *, ar: int | None = None,
              formula: str | None = None, reference: Mapping[str, str] | None = None,
              method: Method = "auto", k: int = 5, min_n: int = MIN_N, min_events: int | None = None,
              alpha: float = 0.05, lang: Lang = "sv") -> ModelFit:
    """Prepare (population, missing values, pooling) and fit one outcome's model."""
    prep = prepare(df, outcome, ar=ar, formula=formula, reference=reference, k=k, min_n=min_n,
                   min_events=min_events, lang=lang)
    return fit_prepared(prep, method=method, alpha=alpha)


# ---------------------------------------------------------------------------------------------
# Effects: odds ratios, average marginal effects, standardised probabilities
# ---------------------------------------------------------------------------------------------

def _z(alpha: float) -> float:
    return float(stats.norm.ppf(1.0 - alpha / 2.0))


def _with_level(fit: ModelFit, term: Term, code: str | float) -> np.ndarray:
    """The design patterns with every row moved to category ``code`` of ``term`` (others as observed)."""
    X = fit.patterns[0].copy()
    if term.kind == "categorical":
        idx = [fit.names.index(c) for c in term.columns]
        X[:, idx] = 0.0
        if code != term.levels[0].code:
            X[:, fit.names.index(f"{term.name}[{code}]")] = 1.0
    else:
        X[:, fit.names.index(term.name)] = float(code)
    return X


def delta_se(fit: ModelFit, grad: np.ndarray) -> float:
    """Delta-method standard error of a quantity with gradient ``grad`` (w.r.t. the coefficients).

    ML: the cluster-robust covariance. Firth: the larger of the cluster-robust sandwich and the
    model-based inverse information - the sandwich collapses for separated categories (fitted
    probabilities near 0 or 1 leave almost no residual), the model-based one ignores clustering.
    """
    var = float(grad @ fit.cov @ grad)
    if fit.firth_fit is not None:
        var = max(var, float(grad @ fit.firth_fit.cov @ grad))
    return float(np.sqrt(max(var, 0.0))) if np.isfinite(var) else np.nan


def ordered_interval(est: float, lo: float, hi: float) -> tuple[float, float]:
    """Interval bounds that hold the estimate: (min(lo, est), max(hi, est)); NaN stays NaN (not
    computable), +-inf stays (no limit). Guards against rounding in root finding and the like."""
    if not np.isfinite(est):
        return np.nan, np.nan
    lo = float(lo) if np.isnan(lo) else min(float(lo), est)
    hi = float(hi) if np.isnan(hi) else max(float(hi), est)
    return lo, hi


def _probability_interval(pr: float, se: float, z: float) -> tuple[float, float]:
    """Interval of a probability from the delta-method SE on the logit scale (NaN if not finite)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        se_logit = se / (pr * (1.0 - pr))
        lp = special.logit(pr)
        lo, hi = special.expit(lp - z * se_logit), special.expit(lp + z * se_logit)
    if not (np.isfinite(se_logit) and np.isfinite(lp)):
        return np.nan, np.nan
    return ordered_interval(pr, float(lo), float(hi))


def _mean_prob(fit: ModelFit, X: np.ndarray) -> tuple[float, np.ndarray]:
    """Mean predicted probability over the rows (``X``: patterns weighted as the model's rows) and
    its gradient with respect to the coefficients."""
    w = fit.patterns[1]
    p = fit.predict(X)
    return float(w @ p), (w * p * (1.0 - p)) @ X


def _level_masks(fit: ModelFit, term: Term) -> list[tuple[Level, np.ndarray]]:
    if term.kind == "categorical":
        v = fit.prep.data[term.name].to_numpy(dtype=object)
        return [(lev, v == lev.code) for lev in term.levels]
    x = fit.prep.data[term.name].to_numpy(dtype=float) == 1.0
    return [(term.levels[0], ~x), (term.levels[1], x)]


def average_marginal_effect(fit: ModelFit, term: Term, level: str | None = None
                            ) -> tuple[float, np.ndarray]:
    """AME of one category against the reference (indicator: 1 vs 0; numeric: derivative).

    Returns the estimate and its gradient with respect to the coefficients (for the delta method).
    """
    if term.kind == "numeric":
        j = fit.names.index(term.name)
        X, w = fit.patterns
        p = fit.predict(X)
        d = p * (1.0 - p)
        grad = fit.params[j] * ((w * d * (1.0 - 2.0 * p)) @ X)
        grad[j] += w @ d
        return float(fit.params[j] * (w @ d)), grad
    if term.kind == "indicator":
        hi, lo = _with_level(fit, term, 1.0), _with_level(fit, term, 0.0)
    else:
        ref = term.levels[0].code
        hi, lo = _with_level(fit, term, level or ref), _with_level(fit, term, ref)
    p1, g1 = _mean_prob(fit, hi)
    p0, g0 = _mean_prob(fit, lo)
    return p1 - p0, g1 - g0


def coefficient_table(fit: ModelFit) -> pd.DataFrame:
    """Tidy table of one model, one row per category (reference first), internal column names.

    Columns: utfall, variabel, kod, referens, n, handelser, ej_handelser, andel, or, or_lag, or_hog,
    p, ame, ame_lag, ame_hog, sannolikhet, sannolikhet_lag, sannolikhet_hog, alla_lika, metod.
    Shares, AME and probabilities are proportions (0-1). ``sannolikhet`` is the mean predicted
    probability if every row had the category (others as observed); for indicators, the reason
    present (row "ja") or absent (reference row).
    """
    z = _z(fit.alpha)
    recs: list[dict[str, Any]] = []
    same = {(r.variabel, r.kod): r.alla_lika for r in fit.separation.levels.itertuples()}
    for term in fit.terms:
        if term.kind == "numeric":
            j = fit.names.index(term.name)
            ame, grad = average_marginal_effect(fit, term)
            se = delta_se(fit, grad)
            or_lo, or_hi = ordered_interval(np.exp(fit.params[j]), np.exp(fit.ci[j, 0]), np.exp(fit.ci[j, 1]))
            ame_lo, ame_hi = ordered_interval(ame, ame - z * se, ame + z * se)
            recs.append({"variabel": term.name, "kod": "", "referens": False, "n": fit.n,
                         "handelser": fit.events, "or": np.exp(fit.params[j]), "or_lag": or_lo,
                         "or_hog": or_hi, "p": fit.pvalues[j], "ame": ame, "ame_lag": ame_lo,
                         "ame_hog": ame_hi})
            continue
        ref_code = term.levels[0].code
        for lev, mask in _level_masks(fit, term):
            rec: dict[str, Any] = {"variabel": term.name, "kod": lev.code, "referens": lev.code == ref_code
                                   if term.kind == "categorical" else lev.code == "nej",
                                   "n": int(mask.sum()), "handelser": int(fit.prep.y[mask].sum())}
            value = lev.code if term.kind == "categorical" else float(lev.code == "ja")
            pr, gr = _mean_prob(fit, _with_level(fit, term, value))
            pr_lo, pr_hi = _probability_interval(pr, delta_se(fit, gr), z)
            rec.update(sannolikhet=pr, sannolikhet_lag=pr_lo, sannolikhet_hog=pr_hi)
            if not rec["referens"]:
                j = fit.names.index(f"{term.name}[{lev.code}]" if term.kind == "categorical" else term.name)
                ame, grad = average_marginal_effect(fit, term, lev.code)
                se = delta_se(fit, grad)
                or_ = np.exp(fit.params[j])
                or_lo, or_hi = ordered_interval(or_, np.exp(fit.ci[j, 0]), np.exp(fit.ci[j, 1]))
                ame_lo, ame_hi = ordered_interval(ame, ame - z * se, ame + z * se)
                rec.update({"or": or_, "or_lag": or_lo, "or_hog": or_hi, "p": fit.pvalues[j], "ame": ame,
                            "ame_lag": ame_lo, "ame_hog": ame_hi})
            else:
                rec.update({"or": 1.0})
            rec["alla_lika"] = same.get((term.name, lev.code), "") if not rec["referens"] or \
                term.kind == "categorical" else ""
            recs.append(rec)
    cols = ["utfall", "variabel", "kod", "referens", "n", "handelser", "ej_handelser", "andel", "or",
            "or_lag", "or_hog", "p", "ame", "ame_lag", "ame_hog", "sannolikhet", "sannolikhet_lag",
            "sannolikhet_hog", "alla_lika", "metod"]
    table = pd.DataFrame.from_records(recs)
    table["utfall"] = fit.prep.outcome.key
    table["ej_handelser"] = table["n"] - table["handelser"]
    table["andel"] = table["handelser"] / table["n"]
    table["metod"] = fit.method
    for c in cols:
        if c not in table:
            table[c] = np.nan
    table["alla_lika"] = table["alla_lika"].fillna("")
    return table[cols]


def term_tests(fit: ModelFit) -> pd.DataFrame:
    """Joint test per variable that all its coefficients are 0.

    ML: Wald chi-square with the cluster-robust covariance; Firth: penalised likelihood ratio.
    Columns: variabel, chi2, df, p.
    """
    recs = []
    by_var: dict[str, list[int]] = {}
    for t in fit.terms:
        key = t.group or t.name
        by_var.setdefault(key, []).extend(fit.names.index(c) for c in t.columns)
    use_firth = fit.method == "firth" and fit.firth_fit is not None
    if use_firth:  # the covariate patterns are the same for every variable: collapse once
        pats, events, trials, _ = firth.collapse(fit.X, fit.prep.y)
    for var, idx in by_var.items():
        if use_firth:
            chi2, df_, p = firth.penalised_lr_test(pats, events, fit.firth_fit, idx, trials=trials)
        else:
            b = fit.params[idx]
            chi2 = float(b @ np.linalg.solve(fit.cov[np.ix_(idx, idx)], b))
            df_ = len(idx)
            p = float(stats.chi2.sf(chi2, df_))
        recs.append({"variabel": var, "chi2": chi2, "df": df_, "p": p})
    return pd.DataFrame.from_records(recs, columns=["variabel", "chi2", "df", "p"])


# ---------------------------------------------------------------------------------------------
# Diagnostics: cross-validated calibration, ROC AUC (DeLong)
# ---------------------------------------------------------------------------------------------

def auc_delong(y: np.ndarray, score: np.ndarray, alpha: float = 0.05) -> tuple[float, float, float, float]:
    """ROC AUC with DeLong's variance: (auc, lower, upper, se); normal interval clipped to [0, 1].

    AUC = P(score of a random row with the outcome > one without), ties counted 1/2. DeLong
    (1988) via midranks (Sun & Xu 2014). Rows are treated as independent.
    """
    y = np.asarray(y, dtype=bool)
    score = np.asarray(score, dtype=float)
    pos, neg = score[y], score[~y]
    m, n = len(pos), len(neg)
    if m == 0 or n == 0:
        raise ValueError("AUC needs rows with and without the outcome")
    tz = stats.rankdata(np.concatenate([pos, neg]))
    tx, ty = stats.rankdata(pos), stats.rankdata(neg)
    auc = (tz[:m].sum() - m * (m + 1) / 2.0) / (m * n)
    v10 = (tz[:m] - tx) / n
    v01 = 1.0 - (tz[m:] - ty) / m
    var = (np.var(v10, ddof=1) / m if m > 1 else 0.0) + (np.var(v01, ddof=1) / n if n > 1 else 0.0)
    se = float(np.sqrt(var))
    z = _z(alpha)
    return float(auc), max(0.0, auc - z * se), min(1.0, auc + z * se), se


def fold_of(groups: np.ndarray, folds: int, seed: int) -> np.ndarray:
    """Fold number of each row: clusters (children) shuffled with ``seed``, dealt round-robin."""
    uniq, inverse = np.unique(np.asarray(groups, dtype=str), return_inverse=True)
    order = np.random.default_rng(seed).permutation(len(uniq))
    fold_of_cluster = np.empty(len(uniq), dtype=int)
    fold_of_cluster[order] = np.arange(len(uniq)) % folds
    return fold_of_cluster[inverse.ravel()]


def cross_validated_predictions(fit: ModelFit, *, folds: int = 5, seed: int = 0) -> np.ndarray:
    """Out-of-fold predicted probabilities, folds by child; Firth in every fold (finite estimates
    in small folds; for large n it equals ML closely). Columns absent from or aliased in a training
    fold (:func:`firth.aliased_columns`) get 0."""
    fold = fold_of(fit.prep.groups, folds, seed)
    out = np.empty(fit.n)
    for f in range(folds):
        test = fold == f
        train = ~test
        if not test.any():
            continue
        Xt, yt = fit.X[train], fit.prep.y[train]
        keep = np.setdiff1d(np.arange(Xt.shape[1]), firth.aliased_columns(Xt))
        pats, events, trials, _ = firth.collapse(Xt[:, keep], yt)
        r = firth.firth_logit(pats, events, trials=trials)
        beta = np.zeros(fit.X.shape[1])
        beta[keep] = r.params
        out[test] = special.expit(fit.X[test] @ beta)
    return out


@dataclass(frozen=True)
class Calibration:
    """Calibration and discrimination of one model."""

    outcome: str
    bins: pd.DataFrame
    smooth: np.ndarray
    intercept: tuple[float, float, float]
    slope: tuple[float, float, float]
    auc: tuple[float, float, float]
    auc_cv: tuple[float, float, float]
    folds: int
    seed: int


def _cluster_glm(y: np.ndarray, X: np.ndarray, groups: np.ndarray, offset: np.ndarray | None,
                 alpha: float) -> tuple[float, float, float]:
    import statsmodels.api as sm

    _, g = np.unique(np.asarray(groups, dtype=str), return_inverse=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = sm.GLM(y, X, family=sm.families.Binomial(), offset=offset).fit(
            cov_type="cluster", cov_kwds={"groups": g.ravel()})
    ci = np.asarray(res.conf_int(alpha=alpha))
    return float(np.asarray(res.params)[-1]), float(ci[-1, 0]), float(ci[-1, 1])


def calibration_intercept_slope(y: np.ndarray, p: np.ndarray, groups: np.ndarray, alpha: float = 0.05
                                ) -> tuple[tuple[float, float, float], tuple[float, float, float]]:
    """Calibration in the large (intercept of a logistic model with offset logit(p), ideal 0) and
    calibration slope (coefficient of logit(p), ideal 1), each (estimate, lower, upper) with
    cluster-robust intervals."""
    lp = special.logit(np.clip(p, 1e-12, 1 - 1e-12))
    ones = np.ones((len(y), 1))
    intercept = _cluster_glm(y, ones, groups, lp, alpha)
    slope = _cluster_glm(y, np.column_stack([ones, lp]), groups, None, alpha)
    return intercept, slope


def wilson_interval(events: int, n: int, alpha: float = 0.05) -> tuple[float, float]:
    """Wilson score interval of ``events / n`` that always holds the share: exactly 0 (1) as the lower
    (upper) bound at 0 (n) events. The closed form computes the bound at 0 events as a difference
    of two equal terms, which rounding leaves at about +1e-18 - above the share 0."""
    from statsmodels.stats.proportion import proportion_confint

    lo, hi = proportion_confint(events, n, alpha=alpha, method="wilson")
    share = events / n
    lo = 0.0 if events == 0 else min(float(lo), share)
    hi = 1.0 if events == n else max(float(hi), share)
    return lo, hi


def calibration(fit: ModelFit, *, folds: int = 5, seed: int = 0, n_bins: int | None = None) -> Calibration:
    """Calibration from cross-validated predictions (in-sample ML calibration is perfect by
    construction): intercept with logit(p) as offset (calibration in the large, ideal 0), slope of
    logit(p) (ideal 1; < 1 = too extreme predictions), both with cluster-robust CIs; equal-count bins
    by predicted probability with Wilson intervals; a lowess curve; apparent and cross-validated AUC
    (DeLong). ``n_bins`` default: one bin per 50 rows, between 3 and 10."""
    from statsmodels.nonparametric.smoothers_lowess import lowess

    y = fit.prep.y
    p_cv = np.clip(cross_validated_predictions(fit, folds=folds, seed=seed), 1e-9, 1 - 1e-9)
    intercept, slope = calibration_intercept_slope(y, p_cv, fit.prep.groups, fit.alpha)
    bins = n_bins or int(np.clip(fit.n // 50, 3, 10))
    order = np.argsort(p_cv, kind="stable")
    recs = []
    for idx in np.array_split(order, bins):
        ev, n = int(y[idx].sum()), len(idx)
        lo, hi = wilson_interval(ev, n, fit.alpha)
        recs.append({"forutsagd": float(p_cv[idx].mean()), "observerad": ev / n, "lag": lo, "hog": hi,
                     "n": n})
    smooth = lowess(y, p_cv, frac=0.75, it=0, return_sorted=True)
    auc = auc_delong(y, fit.predict(), fit.alpha)[:3]
    auc_cv = auc_delong(y, p_cv, fit.alpha)[:3]
    return Calibration(outcome=fit.prep.outcome.key, bins=pd.DataFrame.from_records(recs), smooth=smooth,
                       intercept=intercept, slope=slope, auc=auc, auc_cv=auc_cv, folds=folds, seed=seed)


def diagnostics_table(cals: Sequence[Calibration], lang: Lang = "sv") -> pd.DataFrame:
    """One row per model and measure: calibration intercept and slope, AUC (apparent and CV),
    columns ``utfall, matt, skattning, skattning_lo, skattning_hi``."""
    recs = []
    for c in cals:
        for key, val in (("kalibrering_intercept", c.intercept), ("kalibrering_lutning", c.slope),
                         ("auc", c.auc), ("auc_cv", c.auc_cv)):
            recs.append({"utfall": OUTCOMES[c.outcome].label(lang), "matt": text(key, lang),
                         "skattning": val[0], "skattning_lo": val[1], "skattning_hi": val[2]})
    return pd.DataFrame.from_records(recs, columns=["utfall", "matt", "skattning", "skattning_lo",
                                                    "skattning_hi"])


def diagnostics_labels(lang: Lang = "sv") -> dict[str, str]:
    """Header labels of :func:`diagnostics_table`."""
    return {"utfall": text("utfall", lang), "matt": text("matt", lang), "skattning": text("skattning", lang),
            "skattning_lo": text("lag", lang), "skattning_hi": text("hog", lang)}


# ---------------------------------------------------------------------------------------------
# The whole analysis of one municipality (used by notebooks/03_models.ipynb)
# ---------------------------------------------------------------------------------------------

@dataclass
class ModelRun:
    """Every model of one municipality and year: fits, coefficient tables (unsuppressed: they are
    published only through :mod:`genomlysning.models_report`), diagnostics. ``preps``: the prepared
    rows of every main-specification outcome, fitted or not; ``skipped``: why an outcome was not
    modelled (its counts are published through the ledger with the overview)."""

    ar: int | None
    k: int
    lang: Lang
    seed: int
    folds: int
    min_n: int
    formula: str
    fits: dict[str, ModelFit]
    tables: dict[str, pd.DataFrame]
    skipped: dict[str, str]
    orsak_formula: str | None
    orsak_fits: dict[str, ModelFit]
    orsak_tables: dict[str, pd.DataFrame]
    calibrations: dict[str, Calibration]
    missing: dict[str, pd.DataFrame]
    orsak_skipped: dict[str, str] = field(default_factory=dict)
    preps: dict[str, Prepared] = field(default_factory=dict)


def orsak_formula_of(formula: str | None) -> str | None:
    """The alternative specification: ``arendetyp`` replaced by ``orsaker`` (None without it)."""
    terms = parse_formula(formula)
    if "arendetyp" not in terms:
        return None
    return " + ".join(ORSAKER if t == "arendetyp" else t for t in terms)


def default_references(df: pd.DataFrame, ar: int | None, formula: str | None = None) -> dict[str, str]:
    """Reference category of each coded term: :data:`DEFAULT_REFERENCE`, else the largest category
    among all aktualiseringar of the year (so that every outcome's model uses the same one)."""
    rows = df if ar is None else df[(pd.to_numeric(df["ar"], errors="coerce") == ar).to_numpy()]
    refs = {}
    for name in parse_formula(formula):
        if name == ORSAKER or name in DEFAULT_REFERENCE or schema.column(name).dtype != "code":
            continue
        counts = rows[name].astype("string").value_counts()
        order = schema.column(name).code_values()
        if len(counts):
            refs[name] = max(order, key=lambda c: (int(counts.get(c, 0)), -order.index(c)))
    return {**DEFAULT_REFERENCE, **refs}


def run_models(df: pd.DataFrame, *, ar: int | None, formula: str | None = None, k: int = 5,
               lang: Lang = "sv", seed: int = 0, folds: int = 5, method: Method = "auto",
               min_n: int = MIN_N, outcomes: Sequence[str] = tuple(OUTCOMES),
               reference: Mapping[str, str] | None = None) -> ModelRun:
    """Fit every outcome's model (and the per-reason alternative), tabulate, run diagnostics.

    References: :func:`default_references` (updated with ``reference``), the same for every outcome
    unless a category is pooled away or separated in that outcome's population.
    """
    formula_main = " + ".join(parse_formula(formula))
    refs = {**default_references(df, ar, formula_main), **(reference or {})}
    alt = orsak_formula_of(formula)
    run = ModelRun(ar=ar, k=k, lang=lang, seed=seed, folds=folds, min_n=min_n, formula=formula_main,
                   fits={}, tables={}, skipped={}, orsak_formula=alt, orsak_fits={}, orsak_tables={},
                   calibrations={}, missing={})
    for key in outcomes:
        prep = prepare(df, key, ar=ar, formula=formula_main, reference=refs, k=k, min_n=min_n, lang=lang)
        run.missing[key] = prep.missing
        run.preps[key] = prep
        try:
            fit = fit_prepared(prep, method=method)
        except TooFewEventsError:
            few = min(int(prep.y.sum()), len(prep.y) - int(prep.y.sum())) < MIN_OUTCOME_EVENTS
            run.skipped[key] = text("ingen_modell" if few else "ingen_variabel", lang, m=MIN_OUTCOME_EVENTS)
            continue
        except ModelFitError as err:
            run.skipped[key] = text("modell_fel", lang, fel=str(err))
            continue
        run.fits[key] = fit
        run.tables[key] = coefficient_table(fit)
        run.calibrations[key] = calibration(fit, folds=folds, seed=seed)
        if alt is not None:
            try:
                afit = fit_model(df, key, ar=ar, formula=alt, reference=refs, k=k, min_n=min_n, method=method,
                                 lang=lang)
            except TooFewEventsError:
                continue
            except ModelFitError as err:
                run.orsak_skipped[key] = text("modell_fel", lang, fel=str(err))
                continue
            run.orsak_fits[key] = afit
            run.orsak_tables[key] = coefficient_table(afit)
    return run

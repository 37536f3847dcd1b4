"""Monte Carlo check of the published estimators on the synthetic generator (``make simulate``).

Each replicate draws a municipality with :func:`genomlysning.synth.generate_kommun` (a new seed),
turns it into the clean table with :func:`genomlysning.synth.clean_view` (the light path: the
cleaning contract without files; ``tests/test_synth.py`` checks it equals the real cleaning) and
computes, for the year under review, the shares the reports publish with the functions that
publish them:

* ``utredning_inledd``: the funnel's share of decided förhandsbedömningar that opened an
  utredning, in the aktualisering unit (``funnel.funnel``; rows clustered by child).
* ``fb_inom_frist`` / ``utredning_inom_frist``: the timeliness shares of 02_funnel's
  ``tidsfrister`` table (``funnel.timeliness``, the complete cohort) and 1 - S(t) from the
  project's Kaplan-Meier (``funnel.kaplan_meier``) at 14 days / four months.

Beside each, the estimator it replaced: the plain Wilson interval (clustering ignored) and the
share of the cases with a known outcome that dropped the cases still open before their
deadline. The truths are the generator's: for the funnel share, the mean true probability of
opening an utredning (``synth.true_probability``) over the decided förhandsbedömningar of a
large replicate (the super-population share); for the timeliness shares, the generator's
duration distributions (gamma, rounded to days: P(days <= limit) in closed form).

Bias is reported in percentage points, coverage of the 95 % intervals as a share of replicates
with its Monte Carlo standard error sqrt(c (1 - c) / R).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from genomlysning import funnel, schema, synth

#: The simulated municipality: the demo generator with no reform or pilot, two years of data
#: (the earlier one gives återaktualiseringar), reviewed in its last year, extracted at its end.
SPEC = synth.KommunSpec("simby", "Simby", 800, ar=(2024, 2025))
AR = 2025
#: Replicates of ``make simulate`` and of the slow test (coverage SE sqrt(.95 .05 / R) = 0.0069).
REPLICATES = 1000
SEED = 20261202


@dataclass(frozen=True)
class Estimate:
    """One estimator's share and 95 % interval in one replicate."""

    share: float
    lo: float
    hi: float


def _old_flag(done: np.ndarray, days: np.ndarray, open_days: np.ndarray, inside: np.ndarray,
              limit: int) -> pd.Series:
    """The replaced timeliness flag: done -> days <= limit; open -> False once overdue at period
    end, NA (dropped) before - the quick cases of the last weeks stay, the slow ones leave."""
    out = np.full(len(done), np.nan)
    out[inside & done & ~np.isnan(days)] = (days[inside & done & ~np.isnan(days)] <= limit)
    out[inside & ~done & (open_days > limit)] = 0.0
    return pd.Series(pd.array(np.where(np.isnan(out), None, out == 1.0), dtype="boolean"))


def _share(x: float, n: float, lohi: tuple[np.ndarray, np.ndarray]) -> Estimate:
    return Estimate(x / n if n else float("nan"), float(lohi[0]), float(lohi[1]))


def estimates(y: pd.DataFrame, period_slut: str | pd.Timestamp) -> dict[str, dict[str, Estimate]]:
    """The estimators of one replicate's year ``y``: {quantity: {estimator: Estimate}}."""
    out: dict[str, dict[str, Estimate]] = {}
    f = funnel.funnel(y).set_index(["enhet", "steg"]).loc[("aktualiseringar", "utredning_inledd")]
    x, n = float(f["n"]), float(f["n_foregaende"])
    out["utredning_inledd"] = {
        "wilson_klustrad": Estimate(float(f["andel_foregaende"]), float(f["andel_foregaende_lo"]),
                                    float(f["andel_foregaende_hi"])),
        "wilson_oklustrad": _share(x, n, funnel.wilson(x, n)),
    }
    tl = funnel.timeliness(y, period_slut, by=()).set_index("utfall")
    for key, kind in (("fb_inom_frist", "fb"), ("utredning_inom_frist", "utredning")):
        limit = schema.FB_FRIST_DAGAR if kind == "fb" else schema.UTREDNING_FRIST_DAGAR
        row = tl.loc[key]
        t, done, inside = funnel.row_durations(y, kind, period_slut)
        old = _old_flag(done, np.where(done, t, np.nan), np.where(done, np.nan, t), inside, limit)
        ox, on = float(old.fillna(False).sum()), float(old.notna().sum())
        d = funnel.durations(y, kind, period_slut, group="")
        km = funnel.kaplan_meier(d.days, d.event, [limit]).iloc[0]
        out[key] = {
            "komplett_kohort": Estimate(float(row["andel"]), float(row["andel_lo"]), float(row["andel_hi"])),
            "kaplan_meier": Estimate(float(km["andel_klara"]), float(km["andel_klara_lo"]),
                                     float(km["andel_klara_hi"])),
            "kanda_utfall_tidigare": _share(ox, on, funnel.wilson(ox, on)),
        }
    return out


def truths(spec: synth.KommunSpec = SPEC, ar: int = AR, seed: int = SEED, scale: int = 100
           ) -> dict[str, float]:
    """The true values the estimators target (see the module docstring); the funnel share from a
    replicate ``scale`` times the volume."""
    big = dataclasses.replace(spec, volym=spec.volym * scale)
    raw, truth = synth.generate_kommun(big, seed - 1)
    y = funnel.in_year(synth.clean_view(raw, spec.kommun, spec.period_slut), ar)
    decided = y["fb_beslutad"].to_numpy(dtype=bool)
    p = synth.true_probability(truth["models"]["utredning_inledd"], y[decided])
    fb, ut = synth.DISTRIBUTIONS["fb_dagar"], synth.DISTRIBUTIONS["utredning_dagar"]
    # rounded gamma days: P(rint(G) <= L) = P(G < L + 0.5); the skyddsbedömning floor (<= 3
    # days) and the utredning floor (10 days) lie below both limits
    return {"utredning_inledd": float(np.mean(p)),
            "fb_inom_frist": float(stats.gamma.cdf(schema.FB_FRIST_DAGAR + 0.5, fb["shape"],
                                                   scale=fb["scale"] * spec.fb_skala)),
            "utredning_inom_frist": float(stats.gamma.cdf(schema.UTREDNING_FRIST_DAGAR + 0.5, ut["shape"],
                                                          scale=ut["scale"] * spec.utredning_skala))}


def replicate(i: int, spec: synth.KommunSpec = SPEC, ar: int = AR, seed: int = SEED
              ) -> dict[str, dict[str, Estimate]]:
    """The estimates of replicate ``i`` (seed ``seed + i``)."""
    raw, _ = synth.generate_kommun(spec, seed + i)
    y = funnel.in_year(synth.clean_view(raw, spec.kommun, spec.period_slut), ar)
    return estimates(y, spec.period_slut)


def run(replicates: int = REPLICATES, spec: synth.KommunSpec = SPEC, ar: int = AR, seed: int = SEED
        ) -> pd.DataFrame:
    """Bias (percentage points), its Monte Carlo SE, coverage and its SE, mean interval width, per
    quantity and estimator, over ``replicates`` replicates."""
    truth = truths(spec, ar, seed)
    recs: list[dict[str, object]] = []
    for i in range(replicates):
        for q, ests in replicate(i, spec, ar, seed).items():
            for name, e in ests.items():
                recs.append({"storhet": q, "skattare": name, "andel": e.share, "lo": e.lo, "hi": e.hi})
    return summarise(pd.DataFrame.from_records(recs), truth)


def summarise(draws: pd.DataFrame, truth: dict[str, float]) -> pd.DataFrame:
    """Summary of the replicate draws (columns storhet, skattare, andel, lo, hi) against ``truth``."""
    rows = []
    for (q, name), g in draws.groupby(["storhet", "skattare"], sort=False):
        tv = truth[str(q)]
        err = g["andel"].to_numpy(float) - tv
        cover = ((g["lo"] <= tv) & (tv <= g["hi"])).to_numpy(float)
        r = len(g)
        c = float(cover.mean())
        rows.append({"storhet": q, "skattare": name, "sant_varde": tv, "replikat": r,
                     "bias_procentenheter": 100 * float(err.mean()),
                     "bias_mc_se": 100 * float(err.std(ddof=1) / np.sqrt(r)),
                     "tackning": c, "tackning_mc_se": float(np.sqrt(c * (1 - c) / r)),
                     "medelbredd_procentenheter": 100 * float((g["hi"] - g["lo"]).mean())})
    return pd.DataFrame(rows)


def format_summary(t: pd.DataFrame, columns: Sequence[str] | None = None) -> str:
    """Plain-text table of :func:`summarise` (for ``make simulate``)."""
    cols = list(columns) if columns is not None else list(t.columns)
    return t[cols].to_string(index=False, float_format=lambda v: f"{v:.4f}")

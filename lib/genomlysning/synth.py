"""Synthetic demo data: fictional municipalities generated from a known, documented model.

``genomlysning demo-data`` (``make data``) writes, deterministically from a seed, the demo
municipalities below into ``data/raw/<kommun>/`` with a ``params/<kommun>.yaml`` each, and the true
generating parameters beside the data in ``data/raw/<kommun>/sanna_parametrar.json`` (read them with
:func:`load_truth`). Same seed, same bytes.

============================  ========  ==================================================
kommun                        per year  what it exercises
============================  ========  ==================================================
``ekby``                      ~300      small: small cells; every violence case investigated
                                        (separation); delivered as the filled-in template
``norrvik``                   ~2 500    common intake from ``reform_datum`` 2024-07-01: +0.5
                                        log-odds on opening an utredning
``storstad_vaster``           ~6 000    ``omrade`` field (areas declared in params ``omraden``);
                                        pilot area "Pilot" from 2024-01-01: +1.0 log-odds on
                                        accepting an offered insats
``storstad_oster``            ~9 000    a case-management system export (other headers, codes,
                                        reasons in one column, free text) read via ``mapping:``
``sjohamn``                   ~20 000   large: recovery of the known effects
============================  ========  ==================================================

Not a demo municipality (``demo-data`` writes it only when named: ``--only pyttby``):
:data:`TINY_SPEC` (``pyttby``, ~60 aktualiseringar in 2025 alone), where almost every cell is
small: the test of the disclosure control on a unit that is mostly hidden.

The generating model
--------------------
Children (55 % boys) have an annual report intensity drawn from a gamma distribution (so about four
in ten children reported in a year are reported more than once) and a birth date; reports fall on
days of the period with mild seasonality. Each aktualisering gets a type, one main anmälningsorsak
and sometimes a second, and an anmälare, all age-dependent. The ärendetyp is derived exactly as
:func:`genomlysning.schema.arendetyp_of` does and *återaktualisering* exactly as the cleaning stage
does (:func:`ateraktualisering_flags`: an earlier aktualisering of the same child in the data within
12 months). Every flow step is then a logistic model whose linear predictor uses exactly the
variables ``arendetyp``, ``anmalare``, ``aldersgrupp``, ``kon`` and ``ateraktualisering`` plus a
municipality intercept (and the reform or pilot term where present), so models fitted to the clean
table are correctly specified: see :data:`BASE_MODELS` and ``truth["models"]``;
:func:`true_probability` evaluates any of them on a clean table. Durations and category mixes that
are not logistic (days to decision, utredning length, outcome codes, insats types) are recorded in
``truth["distributions"]``. Rows obey the flow rules of the cleaning stage: dates in flow order, no
utredning fields without an utredning, an insats accepted only if offered and started only if
accepted; nothing dated after ``period_slut`` (cases still open then are blank from that stage on).
"Påförs pågående utredning" is decided when the child has an own utredning running on the decision
date; such rows carry no utredning fields of their own. An application for care under LVU is
recorded as an offered insats that the guardian/young person declined (``insats_svar`` "nej",
``insats_lagrum`` LVU, not started), so the row stays consistent with those rules.

Personnummer convention
-----------------------
Every synthetic personnummer is *obviously fake by construction*: its birth number (digits 7-9 of
the ten-digit form) lies in the series **980-999**, its third birth-number digit is odd for boys and
even for girls, its birth date is consistent with the age recorded on every row, and its control
digit is valid (Luhn), so the import stage accepts it. :func:`is_fake_personnummer` checks the
convention; the cleaning stage accepts params ``synthetic: true`` (and with it the public demo key)
only when every personnummer of the file lies in the series
(:func:`genomlysning.personnummer.in_synthetic_series`). Numbers are unique within a municipality
(children sharing a birth date and sex beyond the ten available numbers are moved to the next free
day); in the national benchmark file, which exceeds that capacity, distinct synthetic children may
share a number. Template files use the
12-digit form ``YYYYMMDD-NNNN``; the ``storstad_oster`` export writes about 40 % of rows in the
10-digit form ``YYMMDD-NNNN``. About 0.5 % of children in template files have no personnummer
(``barn_id`` entered instead, as for a child without a Swedish number).

Entry errors (``--dirty RATE``)
-------------------------------
:func:`inject_errors` gives a share ``RATE`` of the rows one realistic entry error each (see
:data:`ERROR_KINDS`) and returns a log (Excel row, row id, column, header, kind, expected value)
that is written into the truth file, so the cleaning tests can check that every injected error is
caught and no row is lost. Duplicated rows are inserted right after their original. The xlsx
template (``ekby``) gets no extra free-text column (its Data sheet has none); the system export
(``storstad_oster``) has its own free text already and no age column, so neither of those two kinds
is injected there.

For tests and fixtures, :func:`clean_view` turns an error-free generated frame into the clean table
exactly as ``genomlysning.clean`` does (checked in ``tests/test_synth.py``), without any files.
"""

from __future__ import annotations

import argparse
import json
import time
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from genomlysning import paths, personnummer, schema

# ---------------------------------------------------------------------------------------------
# Constants
# ---------------------------------------------------------------------------------------------

DEFAULT_SEED = 20261122
DEMO_YEARS: tuple[int, ...] = (2023, 2024, 2025)
PERIOD_SLUT = "2025-12-31"
TRUTH_FILE = "sanna_parametrar.json"
TEMPLATE_CSV = "aktualiseringar.csv"
EXPORT_CSV = "arendeexport.csv"
#: Birth-number series of every synthetic personnummer (see the module docstring); params
#: ``synthetic: true`` is accepted only for files whose personnummer all lie in it.
FAKE_SERIAL_MIN, FAKE_SERIAL_MAX = personnummer.SYNTHETIC_SERIALS
#: Share of children entered without a personnummer (``barn_id`` given instead).
NO_PNR_SHARE = 0.005

_EPOCH = np.datetime64("1970-01-01", "D")
_NA_DAY = np.iinfo(np.int64).min  # sentinel of a missing date in day arrays

Format = Literal["mall_csv", "mall_xlsx", "export"]

#: Annual report intensity per child: gamma(shape, mean). With these, about 40 % of the children
#: reported in a calendar year are reported more than once that year.
INTENSITY_SHAPE, INTENSITY_MEAN = 0.6, 0.55
P_BOY = 0.55
#: Relative volume by calendar month (school holidays: fewer reports).
MONTH_WEIGHTS = (1.0, 1.05, 1.1, 1.0, 1.05, 0.9, 0.7, 0.85, 1.1, 1.15, 1.1, 0.95)
#: Relative weight of each age (at the middle of the period) among reported children, ages -1..21
#: (children born during the period and 21-year-olds reported while still 20 are included; reports
#: outside ages 0-20 are dropped).
_AGE_WEIGHTS = np.array([5.0] + [5.0] * 6 + [5.1] * 7 + [6.0] * 5 + [1.0] * 3 + [0.7])
_AGES = np.arange(-1, 22)

AGE_GROUPS: tuple[str, ...] = schema.column("aldersgrupp").code_values()

# Covariate mixes (probabilities; each row sums to 1 after normalisation).
AKTUALISERINGSTYP_BY_AGE: dict[str, dict[str, float]] = {
    "0-5": {"anmalan": .84, "ansokan": .04, "information": .09, "yttrande": .015, "overflyttning": .015},
    "6-12": {"anmalan": .82, "ansokan": .07, "information": .08, "yttrande": .015, "overflyttning": .015},
    "13-17": {"anmalan": .76, "ansokan": .13, "information": .07, "yttrande": .03, "overflyttning": .01},
    "18-20": {"anmalan": .55, "ansokan": .35, "information": .06, "yttrande": .03, "overflyttning": .01},
}
GROUP_BY_AGE: dict[str, dict[str, float]] = {
    "0-5": {"vald": .19, "foralder": .60, "barnet": .09, "ovrigt": .12},
    "6-12": {"vald": .18, "foralder": .40, "barnet": .33, "ovrigt": .09},
    "13-17": {"vald": .12, "foralder": .15, "barnet": .68, "ovrigt": .05},
    "18-20": {"vald": .10, "foralder": .06, "barnet": .77, "ovrigt": .07},
}
REASON_IN_GROUP: dict[str, dict[str, float]] = {
    "vald": {"vald_mot_barnet": .50, "bevittnat_vald": .41, "sexuella_overgrepp": .07,
             "hedersrelaterat": .02},
    "foralder": {"omsorgssvikt": .40, "missbruk_vardnadshavare": .20,
                 "psykisk_ohalsa_vardnadshavare": .17, "relationsproblem": .23},
    "ovrigt": {"ovrigt": 1.0},
}
#: The child's own reasons depend on age.
CHILD_REASON_BY_AGE: dict[str, dict[str, float]] = {
    "0-5": {"barnets_psykiska_ohalsa": .6, "normbrytande": .4},
    "6-12": {"barnets_psykiska_ohalsa": .35, "normbrytande": .40, "skolfranvaro": .18,
             "egen_kriminalitet": .05, "eget_missbruk": .02},
    "13-17": {"barnets_psykiska_ohalsa": .20, "normbrytande": .25, "skolfranvaro": .12,
              "egen_kriminalitet": .30, "eget_missbruk": .13},
    "18-20": {"barnets_psykiska_ohalsa": .25, "normbrytande": .15, "skolfranvaro": .05,
              "egen_kriminalitet": .30, "eget_missbruk": .25},
}
#: Probability of a second anmälningsorsak (drawn from ``SECOND_REASON_WEIGHTS``).
P_SECOND_REASON = 0.30
SECOND_REASON_WEIGHTS: dict[str, float] = {
    "vald_mot_barnet": .06, "bevittnat_vald": .05, "sexuella_overgrepp": .01, "hedersrelaterat": .005,
    "omsorgssvikt": .08, "missbruk_vardnadshavare": .05, "psykisk_ohalsa_vardnadshavare": .06,
    "relationsproblem": .10, "barnets_psykiska_ohalsa": .12, "normbrytande": .10,
    "skolfranvaro": .10, "egen_kriminalitet": .05, "eget_missbruk": .05,
}
#: Second reasons impossible or rare at an age (multipliers).
SECOND_REASON_AGE_FACTOR: dict[str, dict[str, float]] = {
    "0-5": {"normbrytande": 0.0, "skolfranvaro": 0.0, "egen_kriminalitet": 0.0, "eget_missbruk": 0.0},
    "6-12": {"egen_kriminalitet": 0.2, "eget_missbruk": 0.1},
}
ANMALARE_ANMALAN_BY_AGE: dict[str, dict[str, float]] = {
    "0-5": {"polisen": .17, "skola": .02, "forskola": .18, "halso_sjukvard": .24, "socialtjansten": .08,
            "foralder": .05, "anhorig": .06, "privatperson": .08, "barnet_sjalv": 0.0,
            "aklagare_domstol": .01, "annan_kommun": .04, "ovrigt": .07},
    "6-12": {"polisen": .17, "skola": .33, "forskola": .01, "halso_sjukvard": .10, "socialtjansten": .08,
             "foralder": .05, "anhorig": .05, "privatperson": .07, "barnet_sjalv": .01,
             "aklagare_domstol": .01, "annan_kommun": .04, "ovrigt": .08},
    "13-17": {"polisen": .36, "skola": .22, "forskola": 0.0, "halso_sjukvard": .09,
              "socialtjansten": .08, "foralder": .05, "anhorig": .02, "privatperson": .05,
              "barnet_sjalv": .03, "aklagare_domstol": .03, "annan_kommun": .03, "ovrigt": .04},
    "18-20": {"polisen": .30, "skola": .04, "forskola": 0.0, "halso_sjukvard": .13,
              "socialtjansten": .16, "foralder": .05, "anhorig": .03, "privatperson": .05,
              "barnet_sjalv": .08, "aklagare_domstol": .05, "annan_kommun": .04, "ovrigt": .07},
}
#: Reporter multipliers by the main reason (police report crime, schools absence …).
ANMALARE_TILT: dict[str, dict[str, float]] = {
    "vald_mot_barnet": {"polisen": 1.15}, "bevittnat_vald": {"polisen": 1.15},
    "sexuella_overgrepp": {"polisen": 1.15, "halso_sjukvard": 1.5},
    "missbruk_vardnadshavare": {"polisen": 1.5},
    "barnets_psykiska_ohalsa": {"halso_sjukvard": 2.5},
    "normbrytande": {"polisen": 1.5, "skola": 1.3},
    "skolfranvaro": {"skola": 4.0},
    "egen_kriminalitet": {"polisen": 3.0},
    "eget_missbruk": {"polisen": 1.5, "halso_sjukvard": 1.5},
}
ANMALARE_OTHER_TYPES: dict[str, dict[str, float]] = {
    "ansokan": {"foralder": .55, "barnet_sjalv": .35, "socialtjansten": .05, "ovrigt": .05},
    "ansokan_young": {"foralder": .85, "socialtjansten": .10, "ovrigt": .05},
    "information": {"socialtjansten": .35, "annan_kommun": .15, "halso_sjukvard": .15, "skola": .10,
                    "polisen": .10, "ovrigt": .15},
    "yttrande": {"aklagare_domstol": .9, "ovrigt": .1},
    "overflyttning": {"annan_kommun": 1.0},
}


def _factors(arendetyp: Mapping[str, float], anmalare: Mapping[str, float],
             aldersgrupp: Mapping[str, float], kon: Mapping[str, float],
             ater: float) -> dict[str, dict[str, float]]:
    """Complete coefficient tables: every level of every predictor (missing levels are 0)."""
    def full(col: str, given: Mapping[str, float]) -> dict[str, float]:
        return {code: float(given.get(code, 0.0)) for code in schema.column(col).code_values()}
    return {"arendetyp": full("arendetyp", arendetyp), "anmalare": full("anmalare", anmalare),
            "aldersgrupp": full("aldersgrupp", aldersgrupp), "kon": full("kon", kon),
            "ateraktualisering": {"false": 0.0, "true": float(ater)}}


#: Reference level of each predictor (its coefficient is 0 in every model).
REFERENCE: dict[str, str] = {"arendetyp": "foralder", "anmalare": "polisen", "aldersgrupp": "0-5",
                             "kon": "flicka", "ateraktualisering": "false"}

_ANM_UTR = {"skola": .75, "forskola": .85, "halso_sjukvard": .8, "socialtjansten": .95,
            "foralder": .7, "anhorig": .45, "privatperson": .3, "barnet_sjalv": .9,
            "aklagare_domstol": .5, "annan_kommun": 1.1, "ovrigt": .35}

#: The logistic flow models shared by every municipality (log-odds; reference levels 0). The
#: municipality intercepts, reform and pilot terms are added per municipality (``KommunSpec``).
#: ``population`` is a pandas query on the clean table selecting the rows a model applies to.
BASE_MODELS: dict[str, dict[str, Any]] = {
    "utredning_inledd": {
        "outcome": "utredning_inledd", "population": "fb_beslutad", "intercept": -1.9,
        "coefficients": _factors({"vald": 4.4, "barnet": -.25, "ovrigt": -1.0}, _ANM_UTR,
                                 {"6-12": -.1, "13-17": .15, "18-20": -.7}, {"pojke": -.05}, .5),
        "description": "A new utredning is opened or the row is added to an ongoing one "
                       "(fb_beslut in {inleda, pagaende}), given a förhandsbedömning decision.",
    },
    "insats_erbjuden": {
        "outcome": "insats_erbjuden", "population": "utredning_avslutad", "intercept": -.75,
        "coefficients": _factors({"vald": .25, "barnet": .3, "ovrigt": -.6},
                                 {"skola": .1, "forskola": .15, "halso_sjukvard": .1,
                                  "socialtjansten": .2, "foralder": .35, "privatperson": -.2,
                                  "barnet_sjalv": .4, "aklagare_domstol": .2, "annan_kommun": .3},
                                 {"6-12": -.1, "13-17": .15, "18-20": -.2}, {"pojke": .1}, .6),
        "description": "An insats is offered/granted, given the row's own utredning was closed.",
    },
    "insats_accepterad": {
        "outcome": "insats_accepterad", "population": "insats_erbjuden", "intercept": 2.2,
        "coefficients": _factors({"vald": -.5, "barnet": -.6, "ovrigt": .2},
                                 {"skola": .2, "forskola": .3, "halso_sjukvard": .3,
                                  "socialtjansten": .1, "foralder": .6, "anhorig": .1,
                                  "barnet_sjalv": .8, "aklagare_domstol": -.2, "annan_kommun": .2},
                                 {"6-12": -.2, "13-17": -.8, "18-20": -.9}, {"pojke": -.15}, -.25),
        "description": "The offered insats is accepted (insats_svar == 'ja').",
    },
    "insats_startad": {
        "outcome": "insats_startad", "population": "insats_accepterad", "intercept": 2.4,
        "coefficients": _factors({"barnet": -.3}, {}, {"13-17": -.3, "18-20": -.5}, {}, 0.0),
        "description": "The accepted insats has started.",
    },
    "barnsamtal": {
        "outcome": "barnsamtal", "population": "fb_beslut == 'inleda'", "intercept": -.8,
        "coefficients": _factors({"vald": .4, "barnet": .2, "ovrigt": -.3}, {},
                                 {"6-12": 1.3, "13-17": 1.8, "18-20": 1.5}, {}, -.1),
        "terms": [{"name": "spadbarn", "max_alder": 2, "log_odds": -3.0}],
        "description": "The row's own utredning contains a conversation with the child.",
    },
    "kontakt_forskola": {
        "outcome": "kontakt_forskola", "population": "fb_beslut == 'inleda'", "intercept": .1,
        "coefficients": _factors({}, {"forskola": .8}, {"6-12": -3.5, "13-17": -6.0, "18-20": -6.0},
                                 {}, 0.0),
        "terms": [{"name": "under_ett_ar", "max_alder": 0, "log_odds": -3.0}],
        "description": "Contact with the preschool during the row's own utredning.",
    },
    "kontakt_skola": {
        "outcome": "kontakt_skola", "population": "fb_beslut == 'inleda'", "intercept": -3.5,
        "coefficients": _factors({"barnet": .3}, {"skola": .8},
                                 {"6-12": 4.0, "13-17": 3.9, "18-20": 2.2}, {}, 0.0),
        "description": "Contact with the school during the row's own utredning.",
    },
    "kontakt_polis": {
        "outcome": "kontakt_polis", "population": "fb_beslut == 'inleda'", "intercept": -2.8,
        "coefficients": _factors({"vald": 2.0, "barnet": 1.2},
                                 {code: -.5 for code in schema.column("anmalare").code_values()
                                  if code != "polisen"}, {}, {}, 0.0),
        "description": "Contact with the police during the row's own utredning.",
    },
    "kontakt_halso_sjukvard": {
        "outcome": "kontakt_halso_sjukvard", "population": "fb_beslut == 'inleda'", "intercept": -.4,
        "coefficients": _factors({}, {"halso_sjukvard": 1.2}, {"6-12": -.7, "13-17": -.6, "18-20": -.5},
                                 {}, 0.0),
        "description": "Contact with health care during the row's own utredning.",
    },
}

#: Distributions that are not logistic models (recorded in ``truth["distributions"]``).
DISTRIBUTIONS: dict[str, Any] = {
    "skyddsbedomning_dagar": {"values": [0, 1, 2, 3], "p": [.75, .20, .04, .01],
                              "applies_to": "aktualiseringstyp == 'anmalan'"},
    "fb_dagar": {"family": "gamma, rounded to days, at least the skyddsbedömning delay",
                 "shape": 2.0, "scale": 4.2, "scale_multiplied_by": "KommunSpec.fb_skala"},
    "utredning_start_dagar_efter_fb": {"p_zero": .7, "else": "1 + Poisson(2)"},
    "utredning_dagar": {"family": "gamma, rounded, at least 10", "shape": 3.0, "scale": 37.0,
                        "scale_multiplied_by": "KommunSpec.utredning_skala"},
    "barnsamtal_antal": {"given_barnsamtal": "1 + Poisson(1.2)", "else": 0},
    "utfall_utan_erbjudande": {"inget_behov": .68, "hanvisad": .22, "annat": .10},
    "lvu_given_avbojd": {"base": .10, "plus_if_arendetyp_vald": .12,
                         "plus_if_barnet_and_13_17": .12},
    "insats_typ_sol_by_age": {
        "0-5": {"familjebehandling": .55, "kontaktperson": .12, "oppenvardsprogram": .15,
                "personligt_stod": .03, "familjehem": .10, "hvb": .02, "annan": .03},
        "6-12": {"familjebehandling": .40, "kontaktperson": .25, "oppenvardsprogram": .17,
                 "personligt_stod": .05, "familjehem": .07, "hvb": .03, "annan": .03},
        "13-17": {"familjebehandling": .22, "kontaktperson": .20, "oppenvardsprogram": .30,
                  "personligt_stod": .08, "familjehem": .05, "hvb": .08, "stodboende": .02,
                  "annan": .05},
        "18-20": {"familjebehandling": .05, "kontaktperson": .15, "oppenvardsprogram": .25,
                  "personligt_stod": .20, "stodboende": .20, "hvb": .10, "annan": .05},
    },
    "insats_typ_lvu_by_age": {
        "0-5": {"familjehem": .85, "hvb": .15},
        "6-12": {"familjehem": .75, "hvb": .25},
        "13-17": {"familjehem": .2, "hvb": .5, "sis": .3},
        "18-20": {"hvb": .6, "sis": .2, "stodboende": .2},
    },
}


# ---------------------------------------------------------------------------------------------
# Municipality specifications
# ---------------------------------------------------------------------------------------------

#: Shares of "uppgift saknas" the generator leaves blank, completely at random and after every flow
#: draw (so the flow itself is unchanged): ``utfall`` of closed own utredningar (the outcome and every
#: insats field blank), ``svar`` of offered insatser (the answer and the start blank), ``startad`` of
#: accepted insatser and ``barnsamtal`` of own utredningar (the yes/no and the count blank).
SAKNAS: dict[str, float] = {"utfall": 0.02, "svar": 0.015, "startad": 0.015, "barnsamtal": 0.02}


@dataclass(frozen=True)
class KommunSpec:
    """What to generate for one fictional municipality or city district."""

    kommun: str
    namn: str
    volym: int                                   # expected aktualiseringar per year
    ar: tuple[int, ...] = DEMO_YEARS
    period_slut: str = PERIOD_SLUT
    format: Format = "mall_csv"
    #: Municipality intercepts (log-odds added to a model's base intercept), by model name.
    effekter: Mapping[str, float] = field(default_factory=dict)
    fb_skala: float = 1.0                        # multiplies the days-to-decision scale
    utredning_skala: float = 1.0                 # multiplies the utredning-length scale
    tonar_faktor: float = 1.0                    # multiplies the weight of ages 13-17 (case mix)
    vald_alltid_utredning: bool = False          # every violence case opened (separation)
    reform_datum: str | None = None
    reform_utfall: str = "utredning_inledd"
    reform_effekt: float = 0.0
    omraden: Mapping[str, float] = field(default_factory=dict)   # area -> share of children
    omrade_effekter: Mapping[str, float] = field(default_factory=dict)  # area -> log-odds (pilot model)
    pilot_omrade: str | None = None
    pilot_start: str | None = None
    pilot_utfall: str = "insats_accepterad"
    pilot_effekt: float = 0.0
    #: Share of rows with injected entry errors when `demo-data` is run without --dirty, so that the
    #: default cleaning notebook shows real problems, warnings and a quarantine.
    smuts: float = 0.0
    #: Shares left "uppgift saknas" (blank) completely at random (:data:`SAKNAS`), by field.
    saknas: Mapping[str, float] = field(default_factory=lambda: dict(SAKNAS))

    @property
    def input_path(self) -> str:
        """Path of the raw file, relative to the project root."""
        name = {"mall_csv": TEMPLATE_CSV, "mall_xlsx": "aktualiseringar.xlsx",
                "export": EXPORT_CSV}[self.format]
        return f"data/raw/{self.kommun}/{name}"


DEMO_SPECS: tuple[KommunSpec, ...] = (
    KommunSpec("ekby", "Ekby", 300, format="mall_xlsx",
               effekter={"utredning_inledd": .25, "insats_erbjuden": .1, "insats_accepterad": .2},
               tonar_faktor=.8, vald_alltid_utredning=True),
    KommunSpec("norrvik", "Norrvik", 2500,
               effekter={"utredning_inledd": -.15, "insats_erbjuden": .05, "barnsamtal": -.2},
               reform_datum="2024-07-01", reform_effekt=.5, smuts=.01),
    KommunSpec("storstad_vaster", "Storstad Väster", 6000,
               effekter={"utredning_inledd": 0.0, "insats_erbjuden": -.1, "insats_accepterad": -.1},
               fb_skala=.9, tonar_faktor=1.15,
               omraden={"Nord": .30, "Syd": .30, "Centrum": .25, "Pilot": .15},
               omrade_effekter={"Nord": 0.0, "Syd": -.1, "Centrum": .1, "Pilot": -.2},
               pilot_omrade="Pilot", pilot_start="2024-01-01", pilot_effekt=1.0),
    KommunSpec("storstad_oster", "Storstad Öster", 9000, format="export",
               effekter={"utredning_inledd": -.2, "insats_erbjuden": -.15, "barnsamtal": .15},
               fb_skala=1.15, utredning_skala=1.1, tonar_faktor=1.3),
    KommunSpec("sjohamn", "Sjöhamn", 20000),
)

#: A deliberately tiny municipality: about 60 aktualiseringar, all in 2025 (so nearly every cell of
#: the funnel tables is 1..k-1). Not among :data:`DEMO_SPECS`: ``demo-data`` writes it only when
#: named, and the demo municipalities are unchanged by it.
TINY_SPEC = KommunSpec("pyttby", "Pyttby", 60, ar=(2025,))
#: Specs that :func:`demo_spec` (and ``demo-data --only``) know beside the demo municipalities.
EXTRA_SPECS: tuple[KommunSpec, ...] = (TINY_SPEC,)


def demo_spec(kommun: str) -> KommunSpec:
    """Return the spec of a demo (or extra) municipality (KeyError naming the valid ones otherwise)."""
    for spec in (*DEMO_SPECS, *EXTRA_SPECS):
        if spec.kommun == kommun:
            return spec
    raise KeyError(f"unknown demo municipality {kommun!r}; valid: "
                   f"{', '.join(s.kommun for s in (*DEMO_SPECS, *EXTRA_SPECS))}")


def kommun_seed(seed: int, kommun: str) -> np.random.SeedSequence:
    """The seed sequence of one municipality (stable: independent of which others are generated)."""
    return np.random.SeedSequence([int(seed), zlib.crc32(kommun.encode("utf-8"))])


# ---------------------------------------------------------------------------------------------
# Small vectorised helpers
# ---------------------------------------------------------------------------------------------

def _day(iso: str) -> int:
    """ISO date -> days since 1970-01-01."""
    return int((np.datetime64(iso, "D") - _EPOCH).astype(np.int64))


def _ymd(days: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Days since epoch -> (year, month, day) arrays."""
    d = days.astype("datetime64[D]")
    y = d.astype("datetime64[Y]")
    m = d.astype("datetime64[M]")
    return (y.astype(np.int64) + 1970, (m - y.astype("datetime64[M]")).astype(np.int64) + 1,
            (d - m.astype("datetime64[D]")).astype(np.int64) + 1)


def _iso(days: np.ndarray) -> np.ndarray:
    """Days since epoch -> ISO strings ("" where missing)."""
    out = np.full(days.shape, "", dtype=object)
    ok = days != _NA_DAY
    out[ok] = np.datetime_as_string(days[ok].astype("datetime64[D]"), unit="D").astype(object)
    return out


def age_at(birth_days: np.ndarray, days: np.ndarray) -> np.ndarray:
    """Age in completed years on ``days`` of children born on ``birth_days`` (days since epoch)."""
    yb, mb, db = _ymd(birth_days)
    yr, mr, dr = _ymd(days)
    return yr - yb - ((mr * 100 + dr) < (mb * 100 + db)).astype(np.int64)


def aldersgrupp_codes(age: np.ndarray) -> np.ndarray:
    """Vectorised :func:`schema.aldersgrupp_of`."""
    idx = np.searchsorted(np.array(schema.ALDERSGRUPP_GRANSER), age, side="right") - 1
    return np.array(AGE_GROUPS, dtype=object)[idx]


def _expit(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def _choice_by_group(rng: np.random.Generator, groups: np.ndarray,
                     table: Mapping[str, Mapping[str, float]],
                     tilt: np.ndarray | None = None, levels: Sequence[str] | None = None) -> np.ndarray:
    """Draw one level per row from the row's group distribution (optionally tilted per row)."""
    if levels is None:
        levels = list(dict.fromkeys(k for dist in table.values() for k in dist))
    keys = list(table)
    probs = np.array([[table[g].get(level, 0.0) for level in levels] for g in keys])
    gi = pd.Series(groups, dtype=object).map({k: i for i, k in enumerate(keys)}).to_numpy(dtype=np.int64)
    p = probs[gi]
    if tilt is not None:
        p = p * tilt
    p = p / p.sum(axis=1, keepdims=True)
    u = rng.random(len(groups))
    idx = (p.cumsum(axis=1) < u[:, None]).sum(axis=1)
    return np.array(levels, dtype=object)[np.minimum(idx, len(levels) - 1)]


def _draw(rng: np.random.Generator, dist: Mapping[str, float], n: int) -> np.ndarray:
    levels = list(dist)
    p = np.array([dist[k] for k in levels], dtype=float)
    return np.array(levels, dtype=object)[rng.choice(len(levels), size=n, p=p / p.sum())]


# ---------------------------------------------------------------------------------------------
# Personnummer
# ---------------------------------------------------------------------------------------------

def luhn_control_digit(nine_digits: np.ndarray) -> np.ndarray:
    """Control digit of the ten-digit personnummer form from its first nine digits (n x 9 ints)."""
    weights = np.array([2, 1, 2, 1, 2, 1, 2, 1, 2])
    prod = nine_digits * weights
    total = (prod // 10 + prod % 10).sum(axis=1)
    return (10 - total % 10) % 10


def _digits(values: np.ndarray, width: int) -> np.ndarray:
    """Integer array -> n x width array of its decimal digits."""
    powers = 10 ** np.arange(width - 1, -1, -1)
    return (values[:, None] // powers) % 10


def fake_personnummer(birth_days: np.ndarray, boy: np.ndarray, slot: np.ndarray) -> np.ndarray:
    """12-digit personnummer ``YYYYMMDD-NNNN`` in the fake series: birth number 980 + 2*slot + boy."""
    y, m, d = _ymd(birth_days)
    serial = FAKE_SERIAL_MIN + 2 * slot + boy.astype(np.int64)
    yymmdd = (y % 100) * 10000 + m * 100 + d
    control = luhn_control_digit(np.hstack([_digits(yymmdd, 6), _digits(serial, 3)]))
    date8 = y * 10000 + m * 100 + d
    return np.array([f"{a:08d}-{s:03d}{c}" for a, s, c in zip(date8, serial, control, strict=True)],
                    dtype=object)


def is_fake_personnummer(value: str) -> bool:
    """True if ``value`` is a personnummer of the synthetic convention (series 980-999, valid Luhn).

    Accepts ``YYYYMMDD-NNNN``, ``YYMMDD-NNNN`` and the forms without ``-``.
    """
    digits = value.strip().replace("-", "").replace("+", "")
    if not digits.isdigit() or not personnummer.in_synthetic_series(digits):
        return False
    ten = digits[-10:]
    control = luhn_control_digit(np.array([[int(c) for c in ten[:9]]]))[0]
    return int(ten[9]) == int(control)


def _assign_slots(birth: np.ndarray, boy: np.ndarray, rng: np.random.Generator,
                  unique: bool) -> tuple[np.ndarray, np.ndarray]:
    """Give each child a fake-series slot 0..9; with ``unique``, move overflow to the next day."""
    birth = birth.copy()
    n = len(birth)
    tiebreak = rng.random(n)
    while True:
        key = birth * 2 + boy
        order = np.lexsort((tiebreak, key))
        sk = key[order]
        first = np.r_[True, sk[1:] != sk[:-1]]
        start = np.maximum.accumulate(np.where(first, np.arange(n), 0))
        rank = np.empty(n, dtype=np.int64)
        rank[order] = np.arange(n) - start
        over = rank >= 10
        if not unique or not over.any():
            break
        birth[over] += 1
        _, m, d = _ymd(birth)
        birth[over & (m == 2) & (d == 29)] += 1
    offset = (key * 7919) % 10  # spread numbers over the series, deterministic per (date, sex)
    return birth, (rank + offset) % 10


# ---------------------------------------------------------------------------------------------
# Re-referral, linear predictors
# ---------------------------------------------------------------------------------------------

def ateraktualisering_flags(barn_id: Sequence[Any] | np.ndarray, datum: Sequence[Any] | pd.Series,
                            manader: int = 12) -> np.ndarray:
    """True where the same child has an earlier aktualisering on or after ``datum - manader months``.

    ``datum`` are dates (anything ``pd.to_datetime`` reads); rows of one child on the same day are
    ordered by their position. Returns a bool array in input order.
    """
    d = pd.to_datetime(pd.Series(datum)).reset_index(drop=True)
    ids = pd.Series(barn_id).reset_index(drop=True)
    frame = pd.DataFrame({"id": ids, "d": d, "pos": np.arange(len(d))})
    frame = frame.sort_values(["id", "d", "pos"], kind="mergesort")
    prev = frame.groupby("id", sort=False)["d"].shift(1)
    window_start = frame["d"] - pd.DateOffset(months=manader)
    flag = (prev.notna() & (prev >= window_start)).to_numpy()
    out = np.zeros(len(d), dtype=bool)
    out[frame["pos"].to_numpy()] = flag
    return out


def _as_codes(values: pd.Series) -> tuple[np.ndarray, list[str]]:
    """(integer codes, their string levels) of a clean-table column; booleans as "true"/"false"."""
    if pd.api.types.is_bool_dtype(values.dtype) or str(values.dtype) == "boolean":
        return values.fillna(False).to_numpy(dtype=bool).astype(np.int64), ["false", "true"]
    codes, uniques = pd.factorize(values, use_na_sentinel=False)
    return codes, [str(u) for u in uniques]


def _lookup(values: pd.Series, table: Mapping[str, float], what: str) -> np.ndarray:
    """Map each value of a column to ``table[value]`` (ValueError naming levels not in the table)."""
    codes, levels = _as_codes(values)
    missing = [lev for lev in levels if lev not in table]
    if missing:
        raise ValueError(f"{what}: levels without a coefficient: {sorted(missing)}")
    return np.array([table[lev] for lev in levels], dtype=float)[codes] if levels else np.zeros(0)


def linear_predictor(model: Mapping[str, Any], frame: pd.DataFrame) -> np.ndarray:
    """Log-odds of ``model`` (an entry of ``truth["models"]``) for each row of a clean table.

    ``frame`` needs the predictor columns (codes), plus ``aktualiseringsdatum``, ``omrade`` or
    ``alder`` when the model has reform, pilot or age terms (``terms``: log-odds added where every
    condition holds: ``from_date``, ``omrade``, ``max_alder``).
    """
    eta = np.full(len(frame), float(model["intercept"]))
    for var, coefs in model["coefficients"].items():
        eta += _lookup(frame[var], coefs, var)
    for var, coefs in model.get("area_coefficients", {}).items():
        codes, levels = _as_codes(frame[var])
        eta += np.array([coefs.get(lev, 0.0) for lev in levels], dtype=float)[codes]
    for term in model.get("terms", []):
        mask = np.ones(len(frame), dtype=bool)
        if "from_date" in term:
            mask &= (pd.to_datetime(frame["aktualiseringsdatum"])
                     >= pd.Timestamp(term["from_date"])).to_numpy()
        if "omrade" in term:
            mask &= (frame["omrade"].astype(object) == term["omrade"]).to_numpy(dtype=bool)
        if "max_alder" in term:
            mask &= (frame["alder"].to_numpy(dtype=float) <= term["max_alder"])
        eta += float(term["log_odds"]) * mask
    return eta


def true_probability(model: Mapping[str, Any], frame: pd.DataFrame) -> np.ndarray:
    """True probability of ``model``'s outcome for each row (deterministic rules applied)."""
    p = _expit(linear_predictor(model, frame))
    for rule in model.get("rules", []):
        codes, levels = _as_codes(frame[rule["variable"]])
        hit = np.array([lev == rule["level"] for lev in levels], dtype=bool)[codes]
        p = np.where(hit, rule["probability"], p)
    return p


def _kommun_models(spec: KommunSpec) -> dict[str, dict[str, Any]]:
    """The base models with this municipality's intercepts, reform, pilot and rules."""
    models: dict[str, dict[str, Any]] = {}
    for name, base in BASE_MODELS.items():
        effect = float(spec.effekter.get(name, 0.0))
        model = {**base, "coefficients": {k: dict(v) for k, v in base["coefficients"].items()},
                 "intercept_base": base["intercept"], "kommun_effect": effect,
                 "intercept": round(base["intercept"] + effect, 10), "reference": dict(REFERENCE),
                 "terms": [dict(t) for t in base.get("terms", [])], "rules": []}
        if spec.reform_datum and name == spec.reform_utfall:
            model["terms"].append({"name": "reform", "from_date": spec.reform_datum,
                                   "log_odds": spec.reform_effekt})
        if spec.pilot_omrade and name == spec.pilot_utfall:
            model["area_coefficients"] = {"omrade": dict(spec.omrade_effekter)}
            model["terms"].append({"name": "pilot", "from_date": spec.pilot_start,
                                   "omrade": spec.pilot_omrade, "log_odds": spec.pilot_effekt})
        if spec.vald_alltid_utredning and name == "utredning_inledd":
            model["rules"].append({"variable": "arendetyp", "level": "vald", "probability": 1.0,
                                   "why": "every suspected violence case is investigated "
                                          "(SoL 11:1 a); gives complete separation"})
        models[name] = model
    return models


# ---------------------------------------------------------------------------------------------
# Generation
# ---------------------------------------------------------------------------------------------

def _children(spec: KommunSpec, rng: np.random.Generator, start: int, end: int,
              unique_pnr: bool) -> dict[str, np.ndarray]:
    """Draw the children at risk: birth date, sex, area, intensity, report count."""
    n_years = (end - start + 1) / 365.25
    weights = _AGE_WEIGHTS.copy()
    weights[(_AGES >= 13) & (_AGES <= 17)] *= spec.tonar_faktor
    retention = 0.94  # share of drawn reports kept (ages 0-20, one per child and day)
    n = int(np.ceil(spec.volym / (INTENSITY_MEAN * retention)))
    lam = rng.gamma(INTENSITY_SHAPE, INTENSITY_MEAN / INTENSITY_SHAPE, n)
    count = rng.poisson(lam * n_years)
    keep = count > 0
    lam, count = lam[keep], count[keep]
    n = len(count)
    mid = (start + end) // 2
    age_mid = rng.choice(_AGES, size=n, p=weights / weights.sum())
    birth = mid - np.floor((age_mid + rng.random(n)) * 365.25).astype(np.int64)
    _, bm, bd = _ymd(birth)
    birth[(bm == 2) & (bd == 29)] -= 1
    boy = rng.random(n) < P_BOY
    has_pnr = rng.random(n) >= (0.0 if spec.format == "export" else NO_PNR_SHARE)
    slot = np.zeros(n, dtype=np.int64)
    b2, s2 = _assign_slots(birth[has_pnr], boy[has_pnr], rng, unique_pnr)
    birth[has_pnr], slot[has_pnr] = b2, s2
    omrade = _draw(rng, spec.omraden, n) if spec.omraden else np.full(n, "", dtype=object)
    return {"birth": birth, "boy": boy, "has_pnr": has_pnr, "slot": slot, "count": count,
            "omrade": omrade}


def _report_days(rng: np.random.Generator, start: int, end: int, n: int) -> np.ndarray:
    """Draw ``n`` report days in [start, end] with monthly seasonality."""
    days = np.arange(start, end + 1)
    _, month, _ = _ymd(days)
    w = np.array(MONTH_WEIGHTS)[month - 1]
    return days[rng.choice(len(days), size=n, p=w / w.sum())]


def _reasons(rng: np.random.Generator, ag: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Main reason, optional second reason ("" if none) and the derived ärendetyp per row."""
    n = len(ag)
    group = _choice_by_group(rng, ag, GROUP_BY_AGE)
    main = np.empty(n, dtype=object)
    for g, dist in REASON_IN_GROUP.items():
        m = group == g
        main[m] = _draw(rng, dist, int(m.sum()))
    m = group == "barnet"
    main[m] = _choice_by_group(rng, ag[m], CHILD_REASON_BY_AGE)
    levels = list(SECOND_REASON_WEIGHTS)
    tilt = np.ones((n, len(levels)))
    for age, factors in SECOND_REASON_AGE_FACTOR.items():
        for code, f in factors.items():
            tilt[ag == age, levels.index(code)] *= f
    for j, code in enumerate(levels):
        tilt[main == code, j] = 0.0
    table = {"alla": SECOND_REASON_WEIGHTS}
    second = _choice_by_group(rng, np.full(n, "alla", dtype=object), table, tilt=tilt, levels=levels)
    second[(rng.random(n) >= P_SECOND_REASON) | (main == "ovrigt")] = ""
    group_of = {r.code: r.group for r in schema.ORSAKER}
    priority = {g.code: i for i, g in enumerate(schema.ARENDETYP)}
    g1 = np.array([priority[group_of[c]] for c in main])
    g2 = np.array([priority[group_of[c]] if c else 99 for c in second])
    arendetyp = np.array([g.code for g in schema.ARENDETYP], dtype=object)[np.minimum(g1, g2)]
    return main, second, arendetyp


def _anmalare(rng: np.random.Generator, typ: np.ndarray, ag: np.ndarray,
              main: np.ndarray) -> np.ndarray:
    """Reporter per row, by aktualiseringstyp, age group and (for anmälan) main reason."""
    levels = list(schema.column("anmalare").code_values())
    out = np.empty(len(typ), dtype=object)
    m = typ == "anmalan"
    tilt = np.ones((int(m.sum()), len(levels)))
    for reason, factors in ANMALARE_TILT.items():
        rows = main[m] == reason
        for code, f in factors.items():
            tilt[rows, levels.index(code)] *= f
    out[m] = _choice_by_group(rng, ag[m], ANMALARE_ANMALAN_BY_AGE, tilt=tilt, levels=levels)
    for t in ("ansokan", "information", "yttrande", "overflyttning"):
        rows = typ == t
        key = np.full(int(rows.sum()), t, dtype=object)
        if t == "ansokan":
            key[np.isin(ag[rows], ["0-5", "6-12"])] = "ansokan_young"
        out[rows] = _choice_by_group(rng, key, ANMALARE_OTHER_TYPES, levels=levels)
    return out


def _bernoulli(rng: np.random.Generator, p: np.ndarray) -> np.ndarray:
    return rng.random(len(p)) < p


def generate_kommun(spec: KommunSpec, seed: int = DEFAULT_SEED, *,
                    unique_pnr: bool = True) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Generate one municipality: (raw template-format frame, truth dict).

    The frame has the schema names of ``schema.TEMPLATE_COLUMNS`` as columns and the strings a
    person enters in the template as values (Swedish code labels, "Ja"/"Nej", ISO dates, "" for
    blank), one row per aktualisering in date order. The truth dict is what
    ``sanna_parametrar.json`` holds (without the dirty-injection log).
    """
    ss = kommun_seed(seed, spec.kommun)
    rng = np.random.default_rng(ss)
    start, end = _day(f"{min(spec.ar)}-01-01"), _day(f"{max(spec.ar)}-12-31")
    period_end = _day(spec.period_slut)
    end = min(end, period_end)
    kids = _children(spec, rng, start, end, unique_pnr)
    child = np.repeat(np.arange(len(kids["count"])), kids["count"])
    day = _report_days(rng, start, end, len(child))
    age = age_at(kids["birth"][child], day)
    keep = (age >= schema.MIN_ALDER) & (age <= schema.MAX_ALDER)
    child, day, age = child[keep], day[keep], age[keep]
    # one report per child and day; file order: by date, random within a day
    order = np.lexsort((rng.random(len(day)), day))
    child, day, age = child[order], day[order], age[order]
    dup = pd.DataFrame({"c": child, "d": day}).duplicated().to_numpy()
    child, day, age = child[~dup], day[~dup], age[~dup]
    n = len(day)

    ag = aldersgrupp_codes(age)
    kon = np.where(kids["boy"][child], "pojke", "flicka").astype(object)
    no_pnr = ~kids["has_pnr"][child]
    unknown_sex_child = rng.random(len(kids["count"])) < 0.3
    kon[no_pnr & unknown_sex_child[child]] = "okant"
    typ = _choice_by_group(rng, ag, AKTUALISERINGSTYP_BY_AGE)
    main, second, arendetyp = _reasons(rng, ag)
    anmalare = _anmalare(rng, typ, ag, main)
    ater = ateraktualisering_flags(child, day.astype("datetime64[D]"), 12)
    omrade = kids["omrade"][child]
    cov = pd.DataFrame({"arendetyp": arendetyp, "anmalare": anmalare, "aldersgrupp": ag, "kon": kon,
                        "ateraktualisering": ater, "omrade": omrade, "alder": age,
                        "aktualiseringsdatum": day.astype("datetime64[D]")})
    models = _kommun_models(spec)
    prob = {name: true_probability(model, cov) for name, model in models.items()}

    # skyddsbedömning and förhandsbedömning
    d_sk = DISTRIBUTIONS["skyddsbedomning_dagar"]
    skydd_delay = rng.choice(d_sk["values"], size=n, p=d_sk["p"])
    skydd = np.where(typ == "anmalan", day + skydd_delay, _NA_DAY)
    skydd[skydd > period_end] = _NA_DAY
    fb_delay = np.rint(rng.gamma(DISTRIBUTIONS["fb_dagar"]["shape"],
                                 DISTRIBUTIONS["fb_dagar"]["scale"] * spec.fb_skala, n)).astype(np.int64)
    fb_delay = np.maximum(fb_delay, np.where(typ == "anmalan", skydd_delay, 0))
    fb_day = day + fb_delay
    decided = fb_day <= period_end
    opened = decided & _bernoulli(rng, prob["utredning_inledd"])
    d_st = DISTRIBUTIONS["utredning_start_dagar_efter_fb"]
    start_delay = np.where(rng.random(n) < d_st["p_zero"], 0, 1 + rng.poisson(2, n))
    length = np.maximum(10, np.rint(rng.gamma(DISTRIBUTIONS["utredning_dagar"]["shape"],
                                              DISTRIBUTIONS["utredning_dagar"]["scale"]
                                              * spec.utredning_skala, n))).astype(np.int64)

    # påförs pågående utredning: the child has an own utredning running on the decision date
    rank = pd.Series(child).groupby(child).cumcount().to_numpy()
    n_children = len(kids["count"])
    act_start = np.full(n_children, _NA_DAY)
    act_end = np.full(n_children, _NA_DAY)
    own = np.zeros(n, dtype=bool)
    pagaende = np.zeros(n, dtype=bool)
    utr_start = np.full(n, _NA_DAY)
    utr_end = np.full(n, _NA_DAY)
    for r in range(int(rank.max()) + 1 if n else 0):
        rows = np.flatnonzero(rank == r)
        c = child[rows]
        running = (act_start[c] != _NA_DAY) & (act_start[c] <= fb_day[rows]) & (fb_day[rows] <= act_end[c])
        pag = opened[rows] & running
        new = opened[rows] & ~running
        pagaende[rows[pag]] = True
        own[rows[new]] = True
        s = np.minimum(fb_day[rows[new]] + start_delay[rows[new]], period_end)
        utr_start[rows[new]] = s
        utr_end[rows[new]] = s + length[rows[new]]
        act_start[c[new]] = s
        act_end[c[new]] = s + length[rows[new]]
    closed = own & (utr_end <= period_end)
    utr_end[own & ~closed] = _NA_DAY

    # barnsamtal and contacts (own utredningar)
    samtal = own & _bernoulli(rng, prob["barnsamtal"])
    samtal_n = np.where(samtal, 1 + rng.poisson(1.2, n), 0)
    contacts = {k: own & _bernoulli(rng, prob[k]) for k in
                ("kontakt_forskola", "kontakt_skola", "kontakt_polis", "kontakt_halso_sjukvard")}

    # outcome and insats (closed own utredningar)
    offered = closed & _bernoulli(rng, prob["insats_erbjuden"])
    accepted = offered & _bernoulli(rng, prob["insats_accepterad"])
    started = accepted & _bernoulli(rng, prob["insats_startad"])
    declined = offered & ~accepted
    lvu_d = DISTRIBUTIONS["lvu_given_avbojd"]
    p_lvu = (lvu_d["base"] + lvu_d["plus_if_arendetyp_vald"] * (arendetyp == "vald")
             + lvu_d["plus_if_barnet_and_13_17"] * ((arendetyp == "barnet") & (ag == "13-17")))
    lvu = declined & _bernoulli(rng, p_lvu)
    utfall = np.full(n, "", dtype=object)
    utfall[closed & ~offered] = _draw(rng, DISTRIBUTIONS["utfall_utan_erbjudande"],
                                      int((closed & ~offered).sum()))
    utfall[accepted] = "insats"
    utfall[declined] = "avbojd"
    utfall[lvu] = "lvu"
    insats_typ = np.full(n, "", dtype=object)
    sol = offered & ~lvu
    insats_typ[sol] = _choice_by_group(rng, ag[sol], DISTRIBUTIONS["insats_typ_sol_by_age"])
    insats_typ[lvu] = _choice_by_group(rng, ag[lvu], DISTRIBUTIONS["insats_typ_lvu_by_age"])
    lagrum = np.where(lvu, "lvu", np.where(offered, "sol", "")).astype(object)

    # barn_id for children without personnummer
    pnr_child = np.full(n_children, "", dtype=object)
    hp = kids["has_pnr"]
    pnr_child[hp] = fake_personnummer(kids["birth"][hp], kids["boy"][hp], kids["slot"][hp])
    prefix = f"R{zlib.crc32(spec.kommun.encode()) % 1000:03d}-"
    barn_id_child = np.full(n_children, "", dtype=object)
    barn_id_child[~hp] = [f"{prefix}{i:06d}" for i in np.flatnonzero(~hp)]

    # "uppgift saknas": a separate stream, so the flow draws above are those of every earlier version
    urng = np.random.default_rng(np.random.SeedSequence(ss.entropy, spawn_key=(*ss.spawn_key, 0x5A5)))
    share = {**SAKNAS, **spec.saknas}
    draws = urng.random((4, n))
    saknas_utfall = closed & (draws[0] < share["utfall"])
    saknas_svar = offered & ~saknas_utfall & (draws[1] < share["svar"])
    saknas_startad = accepted & ~saknas_utfall & ~saknas_svar & (draws[2] < share["startad"])
    saknas_samtal = own & (draws[3] < share["barnsamtal"])

    state = {
        "saknas_utfall": saknas_utfall, "saknas_svar": saknas_svar, "saknas_startad": saknas_startad,
        "saknas_samtal": saknas_samtal,
        "child": child, "day": day, "age": age, "kon": kon, "typ": typ, "anmalare": anmalare,
        "main": main, "second": second, "skydd": skydd, "decided": decided, "fb_day": fb_day,
        "opened": opened, "pagaende": pagaende, "own": own, "utr_start": utr_start,
        "utr_end": utr_end, "samtal": samtal, "samtal_n": samtal_n, "contacts": contacts,
        "closed": closed, "offered": offered, "accepted": accepted, "started": started,
        "utfall": utfall, "insats_typ": insats_typ, "lagrum": lagrum, "omrade": omrade,
        "pnr": pnr_child[child], "barn_id": barn_id_child[child],
    }
    raw = _render(state)
    truth = _truth(spec, seed, ss, models, cov, state, prob, n_children)
    return raw, truth


def _labels(col: str, codes: np.ndarray) -> np.ndarray:
    """Code array -> Swedish labels ("" stays "")."""
    lab = {**schema.code_labels(col, "sv"), "": ""}
    return np.array([lab[c] for c in codes], dtype=object)


_JANEJ = np.array(["", "Nej", "Ja"], dtype=object)
_SMALL_INTS = np.array([str(i) for i in range(200)], dtype=object)


def _janej(flag: np.ndarray, present: np.ndarray) -> np.ndarray:
    return _JANEJ[np.where(present, 1 + flag.astype(np.int64), 0)]


def _render(s: dict[str, Any]) -> pd.DataFrame:
    """The generator state as a template-format frame (schema names, Swedish labels)."""
    n = len(s["day"])
    cols: dict[str, Any] = {
        "rad_id": np.array([str(i + 1) for i in range(n)], dtype=object),
        "personnummer": s["pnr"], "barn_id": s["barn_id"],
        "aktualiseringsdatum": _iso(s["day"]),
        "aktualiseringstyp": _labels("aktualiseringstyp", s["typ"]),
        "alder": _SMALL_INTS[s["age"]],
        "kon": _labels("kon", s["kon"]),
        "anmalare": _labels("anmalare", s["anmalare"]),
    }
    for r in schema.ORSAKER:
        cols[r.column] = _janej((s["main"] == r.code) | (s["second"] == r.code), np.ones(n, dtype=bool))
    own = s["own"]
    fb = np.where(s["pagaende"], "pagaende", np.where(s["opened"], "inleda",
                                                     np.where(s["decided"], "inte_inleda", "")))
    cols |= {
        "skyddsbedomning_datum": _iso(s["skydd"]),
        "fb_beslut": _labels("fb_beslut", fb.astype(object)),
        "fb_datum": _iso(np.where(s["decided"], s["fb_day"], _NA_DAY)),
        "utredning_start": _iso(s["utr_start"]),
        "utredning_slut": _iso(s["utr_end"]),
        "barnsamtal": _janej(s["samtal"], own & ~s["saknas_samtal"]),
        "barnsamtal_antal": np.where(own & ~s["saknas_samtal"], _SMALL_INTS[np.minimum(s["samtal_n"], 199)],
                                     ""),
    }
    for k, v in s["contacts"].items():
        cols[k] = _janej(v, own)
    offered = s["offered"]
    no_out = s["saknas_utfall"]
    no_svar = no_out | s["saknas_svar"]
    no_start = no_svar | s["saknas_startad"]
    svar = np.where(offered & ~no_svar, np.where(s["accepted"], "ja", "nej"), "").astype(object)
    cols |= {
        "utredning_utfall": _labels("utredning_utfall", np.where(no_out, "", s["utfall"]).astype(object)),
        "insats_erbjuden": _janej(offered, s["closed"] & ~no_out),
        "insats_svar": _labels("insats_svar", svar),
        "insats_startad": _janej(s["started"], offered & ~no_start),
        "insats_typ": _labels("insats_typ", np.where(no_out, "", s["insats_typ"]).astype(object)),
        "insats_lagrum": _labels("insats_lagrum", np.where(no_out, "", s["lagrum"]).astype(object)),
        "omrade": s["omrade"],
    }
    return pd.DataFrame({c: cols[c] for c in schema.TEMPLATE_COLUMNS}, dtype=object)


def _rate(p: np.ndarray) -> float | None:
    return round(float(p.mean()), 6) if len(p) else None


def _truth(spec: KommunSpec, seed: int, ss: np.random.SeedSequence, models: dict[str, Any],
           cov: pd.DataFrame, s: dict[str, Any], prob: dict[str, np.ndarray],
           n_children: int) -> dict[str, Any]:
    """The truth dict of one generated municipality."""
    day = s["day"]
    year = _ymd(day)[0]
    per_year = {}
    for y in spec.ar:
        m = year == y
        counts = np.bincount(s["child"][m], minlength=n_children)
        seen = counts > 0
        per_year[str(y)] = {"rader": int(m.sum()), "barn": int(seen.sum()),
                            "andel_barn_flera": round(float((counts[seen] > 1).mean()), 6)
                            if seen.any() else None}
    truth: dict[str, Any] = {
        "kommun": spec.kommun, "namn": spec.namn, "seed": int(seed),
        "seed_sequence_entropy": [int(seed), zlib.crc32(spec.kommun.encode("utf-8"))],
        "generator": "genomlysning.synth", "schema_version": schema.SCHEMA_VERSION,
        "format": spec.format, "input": spec.input_path, "ar": list(spec.ar),
        "period_slut": spec.period_slut, "ateraktualisering_manader": 12,
        "volumes": {"rows": len(day), "children": int(len(np.unique(s["child"]))),
                    "expected_rows_per_year": spec.volym, "per_year": per_year},
        "models": models, "distributions": DISTRIBUTIONS,
        "reform": None, "pilot": None,
        "personnummer_convention": {"serial_min": FAKE_SERIAL_MIN, "serial_max": FAKE_SERIAL_MAX,
                                    "sex_digit": "odd = boy, even = girl", "control": "Luhn",
                                    "check": "genomlysning.synth.is_fake_personnummer"},
    }
    if spec.reform_datum:
        model = models[spec.reform_utfall]
        post = (day >= _day(spec.reform_datum)) & s["decided"]
        pre = (day < _day(spec.reform_datum)) & s["decided"]
        eta = linear_predictor(model, cov)
        delta = spec.reform_effekt
        outcome = s["opened"]
        truth["reform"] = {
            "date": spec.reform_datum, "outcome": spec.reform_utfall, "model": spec.reform_utfall,
            "population": model["population"], "log_odds_change": delta,
            "odds_ratio": round(float(np.exp(delta)), 6),
            "expected_rate_before_at_post_mix": _rate(_expit(eta[post] - delta)),
            "expected_rate_after_at_post_mix": _rate(_expit(eta[post])),
            "expected_rate_before_at_pre_mix": _rate(_expit(eta[pre])),
            "expected_rate_after_at_pre_mix": _rate(_expit(eta[pre] + delta)),
            "observed_rate_before": _rate(outcome[pre]), "observed_rate_after": _rate(outcome[post]),
            "slope_change_log_odds_per_month": 0.0,
            "note": "step change in log-odds at the date; no trend before or after",
        }
        truth["reform"]["expected_rate_difference_at_post_mix"] = round(
            truth["reform"]["expected_rate_after_at_post_mix"]
            - truth["reform"]["expected_rate_before_at_post_mix"], 6)
    if spec.pilot_omrade:
        model = models[spec.pilot_utfall]
        eta = linear_predictor(model, cov)
        in_pilot = s["omrade"] == spec.pilot_omrade
        post = day >= _day(spec.pilot_start)
        pop = s["offered"]
        delta = spec.pilot_effekt
        cell = {}
        for area_name, area_mask in (("pilot", in_pilot), ("rest", ~in_pilot)):
            for period, pmask in (("before", ~post), ("after", post)):
                m = pop & area_mask & pmask
                cell[f"observed_{area_name}_{period}"] = _rate(s["accepted"][m])
                cell[f"n_{area_name}_{period}"] = int(m.sum())
        m = pop & in_pilot & post
        truth["pilot"] = {
            "area": spec.pilot_omrade, "start": spec.pilot_start, "outcome": spec.pilot_utfall,
            "model": spec.pilot_utfall, "population": model["population"], "log_odds_change": delta,
            "odds_ratio": round(float(np.exp(delta)), 6),
            "area_effects_log_odds": dict(spec.omrade_effekter), "area_shares": dict(spec.omraden),
            "expected_rate_without_at_pilot_post_mix": _rate(_expit(eta[m] - delta)),
            "expected_rate_with_at_pilot_post_mix": _rate(_expit(eta[m])),
            "note": "difference in differences: the log-odds change applies to offered insatser in "
                    "the pilot area from the start date; no common time trend",
            **cell,
        }
        truth["pilot"]["expected_did_probability"] = round(
            truth["pilot"]["expected_rate_with_at_pilot_post_mix"]
            - truth["pilot"]["expected_rate_without_at_pilot_post_mix"], 6)
    truth["expected_rates"] = {
        name: _rate(prob[name][_population_mask(model["population"], s)])
        for name, model in models.items()
    }
    return truth


def _population_mask(population: str, s: dict[str, Any]) -> np.ndarray:
    """Rows of the generator state in a model's population (mirrors the clean-table query)."""
    # as recorded: an offer (acceptance) whose answer was left "uppgift saknas" is not known to be one
    recorded_offer = s["offered"] & ~s["saknas_utfall"]
    recorded_accept = s["accepted"] & ~s["saknas_utfall"] & ~s["saknas_svar"]
    return {"fb_beslutad": s["decided"], "utredning_avslutad": s["closed"],
            "insats_erbjuden": recorded_offer, "insats_accepterad": recorded_accept,
            "fb_beslut == 'inleda'": s["own"]}[population]


def clean_view(df: pd.DataFrame, kommun: str = "", period_slut: str = PERIOD_SLUT,
               manader: int = 12) -> pd.DataFrame:
    """The clean-table view of an *error-free* generated frame, for tests and fixtures.

    Returns ``schema.CLEAN_COLUMNS`` with ``schema.pandas_dtype`` dtypes, derived as the cleaning
    contract in CONTRIBUTING.md describes; ``barn_id`` is a sequential id (``B000001`` …) in order
    of first appearance, never the personnummer. It does no validation: the real pipeline is
    ``genomlysning.clean``; use this only on :func:`generate_kommun` output without ``--dirty``.
    """
    n = len(df)
    end = pd.Timestamp(period_slut)
    child_key = df["personnummer"].where(df["personnummer"] != "", "id:" + df["barn_id"])
    codes, _ = pd.factorize(child_key)
    out: dict[str, Any] = {"rad_id": df["rad_id"],
                           "barn_id": pd.Series([f"B{c + 1:06d}" for c in codes], index=df.index)}
    for col in schema.TEMPLATE_COLUMNS:
        c = schema.column(col)
        if col in ("rad_id", "personnummer", "barn_id") or c.role != "input":
            continue
        v = df[col]
        if c.dtype == "code":
            inv = {x.sv: x.code for x in c.codes}
            out[col] = v.map(lambda x, m=inv: m.get(x, pd.NA))
        elif c.dtype == "bool":
            out[col] = v.map({"Ja": True, "Nej": False, "": pd.NA})
        elif c.dtype == "date":
            out[col] = pd.to_datetime(v.replace("", None))
        elif c.dtype == "int":
            out[col] = pd.to_numeric(v.replace("", None))
        else:
            out[col] = v.replace("", pd.NA)
    dates = out["aktualiseringsdatum"]
    reasons = pd.DataFrame({r.column: out[r.column].astype(bool) for r in schema.ORSAKER})
    group_of = {r.column: r.group for r in schema.ORSAKER}
    arendetyp = pd.Series("ovrigt", index=df.index, dtype=object)
    for g in reversed(schema.ARENDETYP):
        cols = [k for k, v in group_of.items() if v == g.code]
        arendetyp[reasons[cols].any(axis=1)] = g.code
    fb_datum, start, slut = out["fb_datum"], out["utredning_start"], out["utredning_slut"]
    # a row added to an ongoing utredning takes that utredning's closing and outcome (the generator
    # decides "pagaende" only while the child's own utredning runs, and records nothing on the row)
    fb = out["fb_beslut"]
    slag = pd.Series(pd.NA, index=df.index, dtype=object)
    slag[(fb == "inleda").fillna(False).to_numpy()] = "egen"
    slut = slut.copy()
    own_rows: dict[int, list[int]] = {}
    for i in np.flatnonzero((fb == "inleda").fillna(False).to_numpy()):
        own_rows.setdefault(int(codes[i]), []).append(int(i))
    outcome = ["utredning_utfall", "insats_erbjuden", "insats_svar", "insats_startad", "insats_typ",
               "insats_lagrum"]
    avslutad = slut.notna()
    for i in np.flatnonzero((fb == "pagaende").fillna(False).to_numpy()):
        running = [j for j in own_rows.get(int(codes[i]), []) if start.iloc[j] <= fb_datum.iloc[i]
                   and (pd.isna(slut.iloc[j]) or slut.iloc[j] >= fb_datum.iloc[i])]
        if not running:
            slag.iloc[i] = "pafort_utan_kalla"
            avslutad.iloc[i] = pd.NA
            continue
        j = max(running, key=lambda r: (start.iloc[r], r))
        slag.iloc[i] = "pafort"
        avslutad.iloc[i] = pd.notna(slut.iloc[j])
        for col in outcome:
            out[col] = out[col].copy()
            out[col].iloc[i] = out[col].iloc[j]
    fb_beslutad = out["fb_beslut"].notna()
    dagar_fb = (fb_datum - dates).dt.days
    fb_open = ~fb_beslutad
    fb_cohort = (end - dates).dt.days > schema.FB_FRIST_DAGAR  # the deadline had passed (complete cohort)
    inledd = out["fb_beslut"].isin(["inleda", "pagaende"]) | start.notna()
    avslutad = avslutad.astype("boolean")
    utr_dagar = (slut - start).dt.days
    utr_open = inledd & ~avslutad  # as genomlysning.clean: rows added to an ongoing one count too
    utr_start = start.where(start.notna(), fb_datum.where(out["fb_beslut"] == "inleda"))
    utr_cohort = inledd & utr_start.notna() & ((end - utr_start).dt.days > schema.UTREDNING_FRIST_DAGAR)
    out |= {
        "kommun": pd.Series(kommun, index=df.index), "rad_excel": pd.Series(np.arange(n) + 2, index=df.index),
        "ar": dates.dt.year, "manad": dates.dt.strftime("%Y-%m"),
        "aldersgrupp": pd.Series(aldersgrupp_codes(out["alder"].to_numpy(dtype=np.int64)), index=df.index),
        "arendetyp": arendetyp, "antal_orsaker": reasons.sum(axis=1),
        "ateraktualisering": ateraktualisering_flags(codes, dates, manader),
        "tidigare_i_data": pd.Series(codes).duplicated().to_numpy(),
        "fb_beslutad": fb_beslutad, "dagar_till_fb": dagar_fb,
        "fb_inom_frist": (dagar_fb <= schema.FB_FRIST_DAGAR).where(fb_beslutad, False).where(
            fb_cohort, pd.NA),
        "fb_oppen_vid_periodslut": fb_open,
        "utredning_inledd": inledd, "utredning_slag": slag, "utredning_avslutad": avslutad,
        "utredning_dagar": utr_dagar,
        # the row's own utredning, on the complete cohort (as genomlysning.clean)
        "utredning_inom_frist": (utr_dagar <= schema.UTREDNING_FRIST_DAGAR).where(slut.notna(), False).where(
            utr_cohort, pd.NA),
        "utredning_oppen_vid_periodslut": utr_open,
        "insats_heldygn": out["insats_typ"].isin(list(schema.HELDYGN)).fillna(False),
    }
    # three values: a blank stage is "nej" where it cannot have been reached, else "uppgift saknas"
    erbjuden = out["insats_erbjuden"].astype("boolean")
    erbjuden[erbjuden.isna() & (avslutad == False).fillna(False)] = False  # noqa: E712
    svar = out["insats_svar"]
    accepterad = pd.Series(pd.array([None if pd.isna(v) else v == "ja" for v in svar], dtype="boolean"),
                           index=df.index)
    accepterad[accepterad.isna() & (erbjuden == False).fillna(False)] = False  # noqa: E712
    startad = out["insats_startad"].astype("boolean")
    startad[startad.isna() & (accepterad == False).fillna(False)] = False  # noqa: E712
    heldygn = out["insats_heldygn"].astype("boolean")
    heldygn[erbjuden.fillna(False) & out["insats_typ"].isna()] = pd.NA
    out |= {"insats_erbjuden": erbjuden, "insats_accepterad": accepterad, "insats_startad": startad,
            "insats_heldygn": heldygn}
    frame = pd.DataFrame({c: pd.Series(out[c], index=df.index) for c in schema.CLEAN_COLUMNS})
    return frame.astype({c: schema.pandas_dtype(c) for c in schema.CLEAN_COLUMNS})


# ---------------------------------------------------------------------------------------------
# Case-management export (storstad_oster)
# ---------------------------------------------------------------------------------------------

#: Export header -> schema column (the ``mapping.columns`` of the params file).
EXPORT_COLUMNS: dict[str, str] = {
    "Ärendenummer": "rad_id", "Personnummer": "personnummer", "Inkom": "aktualiseringsdatum",
    "Ärendetyp": "aktualiseringstyp", "Anmälare": "anmalare",
    "Skyddsbedömning": "skyddsbedomning_datum", "FB beslut": "fb_beslut", "FB datum": "fb_datum",
    "Utr start": "utredning_start", "Utr avslutad": "utredning_slut", "Barnsamtal": "barnsamtal",
    "Antal barnsamtal": "barnsamtal_antal", "Kontakt förskola": "kontakt_forskola",
    "Kontakt skola": "kontakt_skola", "Kontakt polis": "kontakt_polis",
    "Kontakt vården": "kontakt_halso_sjukvard", "Utfall": "utredning_utfall",
    "Insats erbjuden": "insats_erbjuden", "Svar": "insats_svar", "Insats påbörjad": "insats_startad",
    "Insats": "insats_typ", "Lagrum": "insats_lagrum",
}
EXPORT_REASON_COLUMN = "Anmälningsorsak"
EXPORT_REASON_SEPARATOR = ";"
EXPORT_FREE_TEXT: tuple[str, ...] = ("Handläggare", "Anteckning")
#: Export code -> schema code, by schema column (the ``mapping.values`` of the params file).
EXPORT_VALUES: dict[str, dict[str, str]] = {
    "aktualiseringstyp": {"ANM": "anmalan", "ANS": "ansokan", "INF": "information", "YTT": "yttrande",
                          "ÖVF": "overflyttning"},
    "anmalare": {"POL": "polisen", "SKOLA": "skola", "FSK": "forskola", "HSV": "halso_sjukvard",
                 "SOC": "socialtjansten", "VH": "foralder", "ANH": "anhorig", "PRIV": "privatperson",
                 "BARN": "barnet_sjalv", "ÅKL": "aklagare_domstol", "KOMMUN": "annan_kommun",
                 "ÖVR": "ovrigt"},
    "fb_beslut": {"INL": "inleda", "EJINL": "inte_inleda", "PÅF": "pagaende"},
    "utredning_utfall": {"BEV": "insats", "EJBEH": "inget_behov", "AVB": "avbojd", "LVU": "lvu",
                         "HÄNV": "hanvisad", "ANN": "annat"},
    "insats_svar": {"J": "ja", "N": "nej"},
    "insats_typ": {"KP": "kontaktperson", "ÖPP": "oppenvardsprogram", "FAM": "familjebehandling",
                   "PS": "personligt_stod", "FH": "familjehem", "HVB": "hvb", "SB": "stodboende",
                   "SIS": "sis", "ANN": "annan"},
}
EXPORT_ENCODING = "cp1252"
EXPORT_SEP = ";"
_BOOL_COLUMNS = tuple(c.name for c in schema.COLUMNS if c.dtype == "bool" and c.role == "input"
                      and not c.name.startswith("orsak_"))
_FIRST_NAMES = ("Anna", "Eva", "Maria", "Karin", "Sara", "Lena", "Emma", "Johanna", "Erik", "Lars",
                "Karl", "Anders", "Johan", "Per", "Mikael", "Peter", "Ali", "Fatima", "Mohammed",
                "Amira", "Oscar", "Elsa", "Liam", "Alice", "Noah", "Maja", "Hugo", "Ella")
_LAST_NAMES = ("Andersson", "Johansson", "Karlsson", "Nilsson", "Eriksson", "Larsson", "Olsson",
               "Persson", "Svensson", "Gustafsson", "Pettersson", "Jonsson", "Lindberg", "Lindqvist",
               "Berg", "Hassan", "Ahmed", "Lund", "Holm", "Ek")
_NOTES = ("Mamma {namn} ringde och berättade om oro för barnet ({pnr}).",
          "Samtal med pappa {namn}, tel 070-{tel}. Barnets pnr {pnr}.",
          "Skolkurator {namn} bekräftar hög frånvaro.",
          "Polisanmälan upprättad, kontaktperson {namn}.",
          "Barnet {fornamn} ({pnr}) bor växelvis hos föräldrarna.",
          "Se tidigare ärende. Handlingar skickade till {namn}.",
          "")


def _export_code(col: str, labels: np.ndarray) -> np.ndarray:
    """Swedish labels -> export codes; values that are not labels (injected errors) pass through."""
    code_of = {c.sv: c.code for c in schema.column(col).codes}
    export_of = {v: k for k, v in EXPORT_VALUES[col].items()}
    return np.array([export_of[code_of[v]] if v in code_of else v for v in labels], dtype=object)


def to_export(df: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
    """Turn a template-format frame into the case-management export of ``storstad_oster``.

    Other headers and codes (:data:`EXPORT_COLUMNS`, :data:`EXPORT_VALUES`), reasons in one column
    separated by ";" (Swedish labels), "J"/"N" for yes/no, personnummer partly in the ten-digit form,
    no age/sex columns (derived from the personnummer), and the free-text columns "Handläggare" and
    "Anteckning" (fake names and personnummer: dropped on import). Values that are not template
    labels (injected entry errors) pass through unchanged.
    """
    n = len(df)
    out: dict[str, Any] = {}
    pnr = df["personnummer"].to_numpy(dtype=object).copy()
    short = rng.random(n) < 0.4
    for i in np.flatnonzero(short):
        if len(pnr[i]) == 13 and pnr[i][8] == "-":
            pnr[i] = pnr[i][2:]
    for header, col in EXPORT_COLUMNS.items():
        if col == "personnummer":
            out[header] = pnr
        elif col in EXPORT_VALUES:
            out[header] = _export_code(col, df[col].to_numpy(dtype=object))
        elif col in _BOOL_COLUMNS:
            v = df[col].to_numpy(dtype=object)
            out[header] = np.array([{"Ja": "J", "Nej": "N"}.get(x, x) for x in v], dtype=object)
        else:
            out[header] = df[col].to_numpy(dtype=object)
    reasons = [df[r.column].to_numpy(dtype=object) == "Ja" for r in schema.ORSAKER]
    out[EXPORT_REASON_COLUMN] = np.array(
        [EXPORT_REASON_SEPARATOR.join(r.sv for r, on in zip(schema.ORSAKER, row, strict=True) if on)
         for row in zip(*reasons, strict=True)], dtype=object)
    staff = [f"{a} {b}" for a, b in zip(rng.choice(_FIRST_NAMES, 14), rng.choice(_LAST_NAMES, 14),
                                        strict=True)]
    out["Handläggare"] = np.array(staff, dtype=object)[rng.integers(0, len(staff), n)]
    note_idx = rng.integers(0, len(_NOTES), n)
    fn = rng.choice(_FIRST_NAMES, n)
    ln = rng.choice(_LAST_NAMES, n)
    tel = rng.integers(1000000, 9999999, n)
    out["Anteckning"] = np.array(
        [_NOTES[k].format(namn=f"{a} {b}", fornamn=a, pnr=p or "okänt", tel=t)
         for k, a, b, p, t in zip(note_idx, fn, ln, pnr, tel, strict=True)], dtype=object)
    order = ["Ärendenummer", "Personnummer", "Inkom", "Ärendetyp", "Anmälare", EXPORT_REASON_COLUMN,
             "Handläggare", *[h for h in EXPORT_COLUMNS if h not in
                              ("Ärendenummer", "Personnummer", "Inkom", "Ärendetyp", "Anmälare")],
             "Anteckning"]
    return pd.DataFrame({h: out[h] for h in order}, dtype=object)


def case_numbers(dates: pd.Series) -> np.ndarray:
    """Case numbers of an export, ``YYYY-NNNNN`` numbered within each year of the ISO ``dates``."""
    years = dates.astype(str).str[:4].reset_index(drop=True)
    seq = years.groupby(years, sort=False).cumcount() + 1
    return np.array([f"{y}-{s:05d}" for y, s in zip(years, seq, strict=True)], dtype=object)


def export_mapping() -> dict[str, Any]:
    """The ``mapping:`` block of ``params/storstad_oster.yaml`` (see :mod:`genomlysning.params`)."""
    return {"columns": dict(EXPORT_COLUMNS), "values": {k: dict(v) for k, v in EXPORT_VALUES.items()},
            "reasons": {"column": EXPORT_REASON_COLUMN, "separator": EXPORT_REASON_SEPARATOR},
            "drop": list(EXPORT_FREE_TEXT)}


# ---------------------------------------------------------------------------------------------
# Entry errors
# ---------------------------------------------------------------------------------------------

#: The realistic entry errors of domain.md section 3 that :func:`inject_errors` can inject.
ERROR_KINDS: tuple[str, ...] = (
    "datumformat",            # "05/03/2024", "20240305", "5 mars 2024"
    "ja_nej_variant",         # "ja", "J", "1", "x", " JA ", "nej", "N", "0"
    "tom_obligatorisk",       # a required cell left blank
    "felstavad_kategori",     # "Polise", "skolan ", "Anmällan" …
    "datumordning",           # a date before the one it must follow
    "dubblett",               # the whole row entered twice
    "fritext_personnummer",   # an extra free-text column with a personnummer in it
    "omojlig_alder",          # age outside 0-20
    "fel_kontrollsiffra",     # personnummer with a wrong control digit
)
FREE_TEXT_COLUMN = "Kommentar"
_MONTHS_SV = ("januari", "februari", "mars", "april", "maj", "juni", "juli", "augusti", "september",
              "oktober", "november", "december")
_MISSPELLINGS: dict[str, dict[str, tuple[str, ...]]] = {
    "anmalare": {"polisen": ("Polise", "polisen ", "POLISEN"), "skola": ("skolan ", "Skolaa", "Skol"),
                 "forskola": ("Förskolan", "Forskola"),
                 "halso_sjukvard": ("Hälso och sjukvård", "sjukvården", "BVC "),
                 "socialtjansten": ("Socialtjänst", "Soc."), "foralder": ("Förälder", "Vårdnadshavar"),
                 "anhorig": ("Anhöriga",), "privatperson": ("Privatperson", "Granne"),
                 "barnet_sjalv": ("Barnet", "barnet själv"), "aklagare_domstol": ("Tingsrätten",),
                 "annan_kommun": ("Annan komun",), "ovrigt": ("Övrig", "annat")},
    "aktualiseringstyp": {"anmalan": ("Anmällan", "orosanmälan", "anmälan "),
                          "ansokan": ("Ansökning", "ansökan"),
                          "information": ("Information", "Info"), "yttrande": ("Ytrande",),
                          "overflyttning": ("Överflytning",)},
}
_DATE_ORDER_PAIRS = (("fb_datum", "aktualiseringsdatum"), ("utredning_slut", "utredning_start"),
                     ("utredning_start", "fb_datum"))
_REQUIRED = tuple(c.name for c in schema.COLUMNS if c.required and c.name != "rad_id")


def _date_variant(iso: str, k: int) -> str:
    y, m, d = iso[:4], int(iso[5:7]), int(iso[8:10])
    return (f"{d:02d}/{m:02d}/{y}", f"{y}{m:02d}{d:02d}", f"{d} {_MONTHS_SV[m - 1]} {y}")[k % 3]


def inject_errors(df: pd.DataFrame, rate: float, rng: np.random.Generator, *,
                  kinds: Sequence[str] = ERROR_KINDS,
                  exclude_columns: Sequence[str] = ()) -> tuple[pd.DataFrame, list[dict[str, Any]]]:
    """Give ``round(rate * len(df))`` random rows one entry error each; return (frame, log).

    ``df`` is a template-format frame (:func:`generate_kommun`). The log has one entry per error:
    ``rad_excel`` (row in the written file, header = row 1), ``rad_id``, ``kolumn`` (schema name, ""
    for a whole row or the extra free-text column), ``feltyp`` (one of :data:`ERROR_KINDS`),
    ``forvantat`` (the correct cell value, "" where it would be an identifier) and ``forvantat_kod``
    (what it should clean to in coded and yes/no columns: a schema code or "true"/"false"). The
    kind of each row's error is drawn uniformly among the kinds that apply to it.
    """
    if not 0.0 <= rate <= 1.0:
        raise ValueError(f"rate must be within 0..1, got {rate}")
    unknown = set(kinds) - set(ERROR_KINDS)
    if unknown:
        raise ValueError(f"unknown error kinds {sorted(unknown)}; valid: {', '.join(ERROR_KINDS)}")
    cells = {c: df[c].to_numpy(dtype=object).copy() for c in df.columns}
    n = len(df)
    picked = np.sort(rng.choice(n, size=int(round(rate * n)), replace=False)) if n else np.array([], int)
    bool_cols = [c for c in _BOOL_COLUMNS + schema.REASON_COLUMNS if c in df and c not in exclude_columns]
    date_cols = [c for c in schema.DATE_COLUMNS if c in df and c not in exclude_columns]
    entries: list[dict[str, Any]] = []
    duplicates: list[int] = []
    free_text: dict[int, str] = {}
    misspell_cols = [c for c in _MISSPELLINGS if c in df and c not in exclude_columns]
    records = df.iloc[picked].to_dict("records")
    for i, row in zip(picked, records, strict=True):
        applies = {
            "datumformat": any(row[c] for c in date_cols),
            "ja_nej_variant": any(row[c] for c in bool_cols),
            "tom_obligatorisk": True,
            "felstavad_kategori": bool(misspell_cols),  # every row has anmälare and type
            "datumordning": any(row.get(a, "") and row.get(b, "") for a, b in _DATE_ORDER_PAIRS),
            "dubblett": True,
            "fritext_personnummer": bool(row.get("personnummer", "")),
            "omojlig_alder": "alder" in df and "alder" not in exclude_columns,
            "fel_kontrollsiffra": bool(row.get("personnummer", "")),
        }
        options = [k for k in kinds if applies[k]]
        kind = options[rng.integers(len(options))]
        col, expected = "", ""
        if kind == "datumformat":
            col = str(rng.choice([c for c in date_cols if row[c]]))
            expected = row[col]
            cells[col][i] = _date_variant(expected, int(rng.integers(3)))
        elif kind == "ja_nej_variant":
            col = str(rng.choice([c for c in bool_cols if row[c]]))
            expected = row[col]
            variants = ("ja", "J", "1", "x", " JA ") if expected == "Ja" else ("nej", "N", "0", " Nej")
            cells[col][i] = str(rng.choice(variants))
        elif kind == "tom_obligatorisk":
            col = str(rng.choice([c for c in _REQUIRED if c not in exclude_columns]))
            expected = row[col]
            cells[col][i] = ""
        elif kind == "felstavad_kategori":
            col = str(rng.choice([c for c in _MISSPELLINGS if c in df and c not in exclude_columns]))
            code = {c.sv: c.code for c in schema.column(col).codes}[row[col]]
            expected = row[col]
            cells[col][i] = str(rng.choice(_MISSPELLINGS[col][code]))
        elif kind == "datumordning":
            a, b = [p for p in _DATE_ORDER_PAIRS if row.get(p[0], "") and row.get(p[1], "")][0]
            col, expected = a, row[a]
            wrong = np.datetime64(row[b], "D") - np.timedelta64(int(rng.integers(1, 30)), "D")
            cells[col][i] = str(wrong)
        elif kind == "dubblett":
            duplicates.append(i)
        elif kind == "fritext_personnummer":
            free_text[i] = f"Ring mamma om barnet {row['personnummer'][2:]}"
        elif kind == "omojlig_alder":
            col, expected = "alder", row["alder"]
            cells[col][i] = str(rng.choice(["21", "25", "-1", "112", "207"]))
        elif kind == "fel_kontrollsiffra":
            col = "personnummer"
            p = row[col]
            cells[col][i] = p[:-1] + str((int(p[-1]) + int(rng.integers(1, 10))) % 10)
        code = ""
        if col and schema.column(col).dtype == "code" and expected:
            code = {c.sv: c.code for c in schema.column(col).codes}[expected]
        elif col and schema.column(col).dtype == "bool" and expected:
            code = "true" if expected == "Ja" else "false"
        entries.append({"pos": int(i), "rad_id": str(row["rad_id"]), "kolumn": col, "feltyp": kind,
                        "forvantat": expected, "forvantat_kod": code})
    if free_text:
        cells[FREE_TEXT_COLUMN] = np.full(n, "", dtype=object)
        for i, text in free_text.items():
            cells[FREE_TEXT_COLUMN][i] = text
        for e in entries:
            if e["feltyp"] == "fritext_personnummer":
                e["kolumn"] = ""
    # insert duplicates right after their originals; positions shift
    order = np.sort(np.r_[np.arange(n), np.array(duplicates, dtype=np.int64)], kind="stable")
    out = pd.DataFrame({c: v[order] for c, v in cells.items()}, dtype=object)
    new_pos = np.arange(n) + np.searchsorted(np.sort(np.array(duplicates, dtype=np.int64)),
                                            np.arange(n), side="left")
    for e in entries:
        pos = int(new_pos[e.pop("pos")]) + (1 if e["feltyp"] == "dubblett" else 0)
        e["rad_excel"] = pos + 2
    entries.sort(key=lambda e: (e["rad_excel"], e["feltyp"]))
    return out, [{k: e[k] for k in ("rad_excel", "rad_id", "kolumn", "feltyp", "forvantat",
                                    "forvantat_kod")} for e in entries]


# ---------------------------------------------------------------------------------------------
# Writing
# ---------------------------------------------------------------------------------------------

def _write_csv(path: Path, headers: Sequence[str], df: pd.DataFrame, sep: str, encoding: str,
               lineterminator: str) -> None:
    """Write string cells with minimal quoting (the csv module: fast and deterministic)."""
    import csv
    import io

    buf = io.StringIO()
    writer = csv.writer(buf, delimiter=sep, lineterminator=lineterminator, quoting=csv.QUOTE_MINIMAL)
    writer.writerow(headers)
    writer.writerows(zip(*(df[c].to_numpy(dtype=object) for c in df.columns), strict=True))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(buf.getvalue().encode(encoding))


def write_template_csv(df: pd.DataFrame, path: Path) -> None:
    """Write a template-format frame as the template CSV (utf-8-sig, ";", Swedish headers)."""
    headers = [schema.column(c).sv if c in schema.TEMPLATE_COLUMNS else c for c in df.columns]
    _write_csv(path, headers, df, ";", "utf-8-sig", "\n")


def write_export_csv(df: pd.DataFrame, path: Path) -> None:
    """Write the case-management export (cp1252, ";", CRLF as a Windows system would)."""
    _write_csv(path, list(df.columns), df, EXPORT_SEP, EXPORT_ENCODING, "\r\n")


def params_dict(spec: KommunSpec) -> dict[str, Any]:
    """The params of a demo municipality (keys of :data:`genomlysning.params.KNOWN_KEYS`)."""
    import datetime as dt

    out: dict[str, Any] = {"kommun": spec.kommun, "namn": spec.namn, "input": spec.input_path,
                           "synthetic": True, "ar": max(spec.ar),
                           "period_slut": dt.date.fromisoformat(spec.period_slut),
                           "ateraktualisering_manader": 12, "k": 5, "lang": "sv"}
    if spec.reform_datum:
        out["reform_datum"] = dt.date.fromisoformat(spec.reform_datum)
    if spec.omraden:
        out["omraden"] = list(spec.omraden)
    if spec.pilot_omrade:
        out["pilot_omrade"] = spec.pilot_omrade
        if spec.pilot_start:
            out["pilot_start"] = dt.date.fromisoformat(spec.pilot_start)
    if spec.format == "export":
        out |= {"csv_sep": EXPORT_SEP, "encoding": EXPORT_ENCODING, "mapping": export_mapping()}
    return out


def write_params(spec: KommunSpec, path: Path) -> None:
    """Write ``params/<kommun>.yaml`` deterministically, with a generated-by header."""
    import yaml

    header = ("# Generated by `genomlysning demo-data` (synthetic demo municipality). Regenerate\n"
              "# with `make data` rather than editing by hand.\n")
    body = yaml.safe_dump(params_dict(spec), sort_keys=False, allow_unicode=True, width=100,
                          default_flow_style=False)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(header + body, encoding="utf-8")


def _json_default(obj: Any) -> Any:
    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, np.floating):
        return float(obj)
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")


def write_truth(truth: Mapping[str, Any], path: Path) -> None:
    """Write the truth dict as sorted-key JSON."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(truth, sort_keys=True, indent=1, ensure_ascii=False,
                               default=_json_default) + "\n", encoding="utf-8")


def write_kommun(spec: KommunSpec, seed: int = DEFAULT_SEED, dirty: float = 0.0, *,
                 raw_root: Path | None = None, params_root: Path | None = None,
                 unique_pnr: bool = True) -> dict[str, Any]:
    """Generate one municipality and write its raw file and truth file under ``raw_root``.

    ``raw_root`` defaults to ``data/raw``. The params file is written under ``params_root`` only
    when one is given. ``--dirty`` errors are injected at ``dirty`` (a share of rows). Returns a
    summary (rows, children, file, number of injected errors).
    """
    raw_root = paths.DATA_RAW if raw_root is None else raw_root
    df, truth = generate_kommun(spec, seed, unique_pnr=unique_pnr)
    rng = np.random.default_rng(kommun_seed(seed, spec.kommun).spawn(1)[0])
    log: list[dict[str, Any]] = []
    if spec.format == "export":
        df["rad_id"] = case_numbers(df["aktualiseringsdatum"])
    if dirty > 0:
        exclude: tuple[str, ...] = ()
        kinds: Sequence[str] = ERROR_KINDS
        if spec.format == "export":  # reasons are one column; no age column; free text exists
            exclude = schema.REASON_COLUMNS
            kinds = [k for k in ERROR_KINDS if k not in ("fritext_personnummer", "omojlig_alder")]
        elif spec.format == "mall_xlsx":  # the template's Data sheet has no free-text column
            kinds = [k for k in ERROR_KINDS if k != "fritext_personnummer"]
        df, log = inject_errors(df, dirty, rng, kinds=kinds, exclude_columns=exclude)
    folder = raw_root / spec.kommun
    target = folder / Path(spec.input_path).name
    for old in (TEMPLATE_CSV, "aktualiseringar.xlsx", EXPORT_CSV):
        if (folder / old).exists() and old != target.name:
            (folder / old).unlink()
    if spec.format == "export":
        export = to_export(df, rng)
        header_of = {v: k for k, v in EXPORT_COLUMNS.items()}
        for e in log:
            e["rubrik"] = header_of.get(e["kolumn"], "")
        write_export_csv(export, target)
    else:
        for e in log:
            e["rubrik"] = schema.column(e["kolumn"]).sv if e["kolumn"] else (
                FREE_TEXT_COLUMN if e["feltyp"] == "fritext_personnummer" else "")
        if spec.format == "mall_xlsx":
            from genomlysning.template import write_template

            write_template(target, lang="sv", data=df.replace("", None))
        else:
            write_template_csv(df, target)
    truth = {**truth, "dirty": {"rate": dirty, "n_errors": len(log), "rows_in_file": len(df),
                                "log": log, "kinds": list(ERROR_KINDS)}}
    write_truth(truth, folder / TRUTH_FILE)
    if params_root is not None:
        write_params(spec, params_root / f"{spec.kommun}.yaml")
    return {"kommun": spec.kommun, "rows": len(df), "children": truth["volumes"]["children"],
            "file": spec.input_path, "errors": len(log)}


def load_truth(kommun: str, raw_root: Path | None = None) -> dict[str, Any]:
    """Read ``data/raw/<kommun>/sanna_parametrar.json`` (the true generating parameters)."""
    path = (paths.DATA_RAW if raw_root is None else raw_root) / kommun / TRUTH_FILE
    if not path.is_file():
        raise FileNotFoundError(f"{paths.relative(path)} not found: run `genomlysning demo-data` "
                                f"(or `make data`) first")
    return json.loads(path.read_text(encoding="utf-8"))


# ---------------------------------------------------------------------------------------------
# National benchmark
# ---------------------------------------------------------------------------------------------

_NAME_PREFIX = ("Ek", "Björk", "Sjö", "Norr", "Söder", "Väst", "Öster", "Berg", "Lund", "Strand",
                "Ås", "Dal", "Gran", "Lind", "Sten", "Ljung", "Hag", "Mo", "Fors", "Älv")
_NAME_SUFFIX = ("by", "vik", "hamn", "köping", "torp", "stad", "näs", "sund", "holm", "berga",
                "fors", "dala", "red", "backa", "ås", "tuna")


def national_specs(n_kommuner: int = 320, total_rows: int = 420_000, seed: int = DEFAULT_SEED,
                   years: tuple[int, ...] = DEMO_YEARS) -> list[KommunSpec]:
    """Specs of a national run: ``n_kommuner`` fictional municipalities, ``total_rows`` a year in all.

    Volumes are log-normal (a few large cities, many small municipalities; at least 20 a year) and
    sum to ``total_rows``; each municipality gets random intercepts (sd 0.25 log-odds) on the main
    flow models and random timeliness. Generate each with :func:`generate_kommun`.
    """
    rng = np.random.default_rng(np.random.SeedSequence([int(seed), 320_420]))
    raw = rng.lognormal(0.0, 1.1, n_kommuner)
    vol = np.maximum(20, np.floor(raw / raw.sum() * total_rows)).astype(np.int64)
    vol[np.argmax(vol)] += total_rows - int(vol.sum())
    names = [p + s.lower() if p[-1] != s[0] else p + s[1:] for p in _NAME_PREFIX for s in _NAME_SUFFIX]
    names = [names[i] for i in rng.permutation(len(names))]
    specs = []
    for i in range(n_kommuner):
        namn = names[i % len(names)] + ("" if i < len(names) else f" {i // len(names) + 1}")
        eff = rng.normal(0.0, 0.25, 4)
        specs.append(KommunSpec(
            f"kommun_{i + 1:03d}", namn.capitalize(), int(vol[i]), ar=years,
            effekter={"utredning_inledd": round(float(eff[0]), 4),
                      "insats_erbjuden": round(float(eff[1]), 4),
                      "insats_accepterad": round(float(eff[2]), 4),
                      "barnsamtal": round(float(eff[3]), 4)},
            fb_skala=round(float(rng.uniform(0.8, 1.3)), 4),
            utredning_skala=round(float(rng.uniform(0.85, 1.2)), 4),
            tonar_faktor=round(float(rng.uniform(0.8, 1.3)), 4)))
    return specs


def national_spec(rows: int, years: tuple[int, ...] = DEMO_YEARS) -> KommunSpec:
    """The spec of the single national-size benchmark file of about ``rows`` rows in all."""
    return KommunSpec("nationell", "Nationell (benchmark)", max(1, round(rows / len(years))), ar=years)


# ---------------------------------------------------------------------------------------------
# Command line
# ---------------------------------------------------------------------------------------------

def cli_demo_data(args: argparse.Namespace) -> int:
    """``genomlysning demo-data``: write the demo municipalities (and optionally a national file)."""
    from genomlysning import params as params_mod

    t0 = time.perf_counter()
    specs = list(DEMO_SPECS)
    real = params_mod.real_kommuner()
    if real and not args.only and not getattr(args, "force", False):
        print(f"genomlysning demo-data: params/ har egna data ({', '.join(real)}; utan synthetic: true), så "
              "inga demokommuner skrivs eller återskapas. Demokommuner som redan finns kan tas bort "
              "(params/<demo>.yaml); --force skriver dem ändå, --only K en enskild.")
        return 0
    if args.only:
        try:
            specs = [demo_spec(k) for k in args.only]
        except KeyError as exc:
            raise SystemExit(f"genomlysning demo-data: {exc.args[0]}") from None
    if args.dirty is not None and not 0.0 <= args.dirty <= 1.0:
        raise SystemExit(f"--dirty must be a share between 0 and 1, got {args.dirty}")
    for spec in specs:
        dirty = spec.smuts if args.dirty is None else args.dirty
        s = write_kommun(spec, args.seed, dirty, params_root=paths.PARAMS_DIR)
        extra = f", {s['errors']} injected errors" if dirty else ""
        print(f"{s['kommun']:<16} {s['rows']:>7} rows {s['children']:>7} children -> {s['file']}{extra}")
    if args.national:
        spec = national_spec(args.national)
        s = write_kommun(spec, args.seed, args.dirty or 0.0, unique_pnr=False)
        print(f"{'nationell':<16} {s['rows']:>7} rows -> {s['file']} (no params file)")
    print(f"demo data written in {time.perf_counter() - t0:.1f} s (seed {args.seed})")
    return 0

"""Cleaning: normalise, validate, quarantine and derive the clean table of one municipality.

Input is the untyped :class:`genomlysning.ingest.RawTable` (every cell a string or ``None``); output
is :class:`CleanResult`: the clean table (``schema.CLEAN_COLUMNS``, dtypes
``schema.pandas_dtype``), the quarantine (Excel row + rules, no identifiers, no values), every
problem (:data:`genomlysning.problems.REPORT_COLUMNS`) and the accounting
(rows in = rows clean + rows quarantined).

Everything is vectorised: each distinct cell value is interpreted once (``pd.factorize``) and every
rule is a boolean mask over the rows, so 420 000 rows clean in seconds.

Severity policy. *fel* (fatal, the row goes to quarantine) when the row cannot be placed correctly
in the flow (the funnel would count it wrongly), the child cannot be identified, a date is unreadable
or impossible, or the row is a duplicate. *varning* (the row is kept) when a detail is missing,
unreadable or inconsistent but the row can still be counted correctly; the cell is then treated as
missing ("uppgift saknas") unless the rule says otherwise.

Rules (id - severity - what is checked):

=============================  ============  ====================================================
obligatoriskt_saknas           fel           rad_id, aktualiseringsdatum, aktualiseringstyp present
barn_oidentifierbart           fel           personnummer or barn_id present
personnummer_ogiltigt          fel           personnummer readable (date, control digit)
personnummer_i_text            fel/varning   no personnummer in rad_id/barn_id (fel); nothing
                                             personnummer-like in omrade (varning) or in a coded,
                                             date or number cell (fel where a blank cell would
                                             change the row's place in the flow: dates, required
                                             and stage columns; else varning). The cell is
                                             cleared, its value never shown
omrade_okant                   varning       omrade is one of the areas declared in params
                                             ``omraden`` (cell cleared: area unknown)
okand_kod                      fel/varning   coded and yes/no cells match the code list (every
                                             yes/no column, anmalare, utredning_utfall, the insats
                                             codes also take "uppgift saknas": JA_NEJ_ALIASES_UNKNOWN,
                                             read as missing without a warning). fel in the
                                             columns that decide the flow stage
                                             (aktualiseringstyp, fb_beslut, insats_erbjuden,
                                             insats_svar, insats_startad); elsewhere varning and
                                             the cell becomes missing (reasons: not ticked)
stavning_tolkad                varning       a typo of exactly one declared spelling (same words,
                                             digits and negations; 1 changed character in 4-7, 2
                                             from 8), or a declared spelling followed by a
                                             paragraph reference ("... 11 kap 1 § SoL"), was read
                                             as that code; never across a negation (ej, inte ...)
ogiltigt_datum                 fel           every date readable (accepted formats: FORMAT_TEXT)
ogiltigt_tal                   varning       alder/barnsamtal_antal are whole numbers (cleared)
alder_utanfor                  fel           age (from personnummer, else alder) within 0-20
barnsamtal_antal_utanfor       varning       barnsamtal_antal within 0-99 (cleared)
alder_motsagelse               varning       alder agrees with the personnummer (personnummer wins)
kon_motsagelse                 varning       kon agrees with the personnummer (entered kön kept)
barn_id_ersatt                 varning       a barn_id entered beside a personnummer is replaced by
                                             the derived one
datumordning                   fel           aktualisering <= skyddsbedömning, fb_datum,
                                             utredning_start <= utredning_slut and
                                             fb_datum <= utredning_start (start-order checks do not
                                             apply to fb_beslut = pagaende: the investigation was
                                             already running)
datum_efter_periodslut         fel           no date after period_slut (the extraction date)
fb_datum_utan_beslut           fel           fb_datum only with an fb_beslut
fb_beslut_motsager_utredning   fel           fb_beslut "inte inleda" but an utredning_start date
utan_utredning                 fel/varning   utredning_slut/utredning_utfall only when an utredning
                                             was opened (fel); barnsamtal, barnsamtal_antal and the
                                             contact columns likewise (varning, cells cleared)
utfall_utan_slut               fel           utredning_utfall only with utredning_slut
insats_underforstadd           varning       a blank insats_erbjuden takes the value the outcome
                                             implies (Insats beviljad -> Ja, Inget behov -> Nej) or
                                             Ja when a response, start, type or legal basis is
                                             recorded (the warning says which)
utfall_motsager_insats         varning       utredning_utfall agrees with the insats fields
                                             (Insats beviljad vs Nej, Inget behov vs an offer,
                                             avböjer vs Tackat ja); the insats field is then
                                             "uppgift saknas"
svar_utan_insats               fel           insats_svar only if insats_erbjuden is not Nej
startad_utan_ja                fel           insats_startad only if accepted (or under LVU, which
                                             needs no consent)
insats_utan_erbjudande         fel           insats_typ/insats_lagrum only if insats_erbjuden
barnsamtal_antal_motsagelse    varning       barnsamtal_antal > 0 iff barnsamtal = Ja (count cleared;
                                             a blank barnsamtal is read from the count)
orsak_saknas                   varning       an anmälan names at least one anmälningsorsak
dubblett                       fel           same child, date, type and reasons as an earlier row
                                             (the later copies)
dubblett_rad_id                fel           rad_id unique (the later copies)
=============================  ============  ====================================================

Problems reported by the import (:mod:`genomlysning.ingest`) are carried into the same report under
the ids of :data:`INGEST_RULES` (``kolumn_borttagen``, ``okand_orsak``, ``fel_antal_falt`` ...);
a row-level ``fel`` from the import quarantines its row like any other.

Derived columns follow ``schema._DERIVED_COLUMNS`` and CONTRIBUTING.md. Choices made here:
``ateraktualisering`` counts an earlier aktualisering on a strictly earlier date within the window
(inclusive: exactly N months earlier counts); the utredning's clock starts at ``utredning_start``,
else at ``fb_datum`` when the decision was "inleda"; ``insats_heldygn`` is missing when an insats
was offered without a type; ``period_slut`` is the params value, else the latest readable date.

Privacy. Only schema codes, numbers, dates, declared names and keyed pseudonyms reach an output.
The personnummer column is dropped after deriving ``barn_id`` (keyed hash), age and kön; an entered
``barn_id`` and every ``rad_id`` are replaced by keyed pseudonyms (letters only,
:func:`genomlysning.personnummer.pseudonymise_id`), so re-referrals are still found but no entered
id reaches the clean table; ``omrade`` keeps only the areas declared in params ``omraden``. Every
input cell is searched for personnummer (any separator, glued into text) before it is read. A
problem shows its value only when it is a schema code, a number or a date (:func:`display_value`);
otherwise only its shape, e.g. "text, 18 tecken". The quarantine holds row numbers and rule ids
only. Params ``synthetic: true`` (the public demo key) is refused unless every personnummer of the
file follows the demo convention (:func:`check_synthetic`).
"""

from __future__ import annotations

import datetime as dt
import json
import re
import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from genomlysning import paths, schema
from genomlysning.problems import REPORT_COLUMNS, Problem, Severity

if TYPE_CHECKING:
    import argparse

    from genomlysning.ingest import RawTable

# ---------------------------------------------------------------------------------------------
# Rules
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Rule:
    """One validation rule: id, default severity and its Swedish/English description."""

    id: str
    allvarlighet: Severity
    sv: str
    en: str


#: Problems reported by the import (:mod:`genomlysning.ingest`), by the start of their text.
INGEST_RULES: tuple[tuple[str, Rule], ...] = (
    ("obligatorisk kolumn saknas", Rule("obligatorisk_kolumn_saknas", "fel", "obligatorisk kolumn saknas",
                                        "required column missing")),
    ("kolumnen läses inte in", Rule("kolumn_borttagen", "varning", "kolumnen läses inte in",
                                    "column not read")),
    ("raden har", Rule("fel_antal_falt", "fel", "raden har fler fält än rubrikraden",
                       "the row has more fields than the header")),
    ("okänd anmälningsorsak", Rule("okand_orsak", "varning", "okänd anmälningsorsak",
                                   "unknown reason")),
    ("", Rule("import", "fel", "problem vid inläsningen", "problem during import")),
)

RULES: tuple[Rule, ...] = tuple(r for _, r in INGEST_RULES) + (
    Rule("obligatoriskt_saknas", "fel", "obligatoriskt värde saknas", "required value missing"),
    Rule("barn_oidentifierbart", "fel", "barnet kan inte identifieras (varken personnummer eller "
         "barn-id)", "the child cannot be identified (neither personnummer nor child id)"),
    Rule("personnummer_ogiltigt", "fel", "ogiltigt personnummer", "invalid personnummer"),
    Rule("personnummer_i_text", "fel", "fältet innehåller något som liknar ett personnummer",
         "the field contains something that looks like a personnummer"),
    Rule("omrade_okant", "varning", "området finns inte bland områdena i params (omraden)",
         "the area is not one of the areas declared in params (omraden)"),
    Rule("okand_kod", "fel", "okänt värde", "unknown value"),
    Rule("stavning_tolkad", "varning", "felstavat värde tolkat som ett giltigt",
         "misspelt value read as a valid one"),
    Rule("ogiltigt_datum", "fel", "datumet går inte att läsa", "the date cannot be read"),
    Rule("ogiltigt_tal", "varning", "inte ett heltal", "not a whole number"),
    Rule("alder_utanfor", "fel", "åldern ligger utanför 0–20 år", "age outside 0–20 years"),
    Rule("barnsamtal_antal_utanfor", "varning", "antalet barnsamtal ligger utanför 0–99",
         "number of conversations outside 0–99"),
    Rule("alder_motsagelse", "varning", "åldern stämmer inte med personnumret (personnumret gäller)",
         "age disagrees with the personnummer (the personnummer is used)"),
    Rule("kon_motsagelse", "varning", "könet stämmer inte med personnumret (angivet kön behålls)",
         "sex disagrees with the personnummer (the entered sex is kept)"),
    Rule("barn_id_ersatt", "varning", "barn-id ersätts av det som beräknas från personnumret",
         "child id replaced by the one derived from the personnummer"),
    Rule("datumordning", "fel", "datumen ligger i fel ordning i flödet",
         "dates out of order in the flow"),
    Rule("datum_efter_periodslut", "fel", "datumet ligger efter periodens slut (uttagsdatum)",
         "date after the end of the period (extraction date)"),
    Rule("fb_datum_utan_beslut", "fel", "beslutsdatum utan beslut i förhandsbedömningen",
         "decision date without a decision"),
    Rule("fb_beslut_motsager_utredning", "fel", "beslut att inte inleda utredning men utredningen "
         "har ett startdatum", "decision not to investigate but an investigation start date"),
    Rule("utan_utredning", "fel", "uppgift om utredning men ingen utredning är inledd",
         "investigation detail but no investigation was opened"),
    Rule("utfall_utan_slut", "fel", "utfall angivet men utredningen har inget slutdatum",
         "outcome given but the investigation has no end date"),
    Rule("svar_utan_insats", "fel", "svar på insats men ingen insats erbjuden",
         "response to an intervention but none offered"),
    Rule("startad_utan_ja", "fel", "insats startad men inte accepterad (och inte enligt LVU)",
         "intervention started but not accepted (and not under LVU)"),
    Rule("insats_utan_erbjudande", "fel", "insatstyp eller lagrum men ingen insats erbjuden",
         "intervention type or legal basis but none offered"),
    Rule("insats_underforstadd", "varning", "Insats erbjuden/beviljad är tom men framgår av andra "
         "uppgifter (utfallet eller svaret på insatsen): det underförstådda värdet används",
         "intervention offered/granted is blank but follows from other fields (the outcome or the "
         "response): the implied value is used"),
    Rule("utfall_motsager_insats", "varning", "utredningens utfall motsäger uppgifterna om insats: "
         "insatsuppgiften räknas som uppgift saknas", "the investigation's outcome contradicts the "
         "intervention fields: the intervention field is counted as not recorded"),
    Rule("barnsamtal_antal_motsagelse", "varning", "antal barnsamtal stämmer inte med "
         "barnsamtal Ja/Nej", "number of conversations disagrees with yes/no"),
    Rule("orsak_saknas", "varning", "anmälan utan anmälningsorsak", "report without a reason"),
    Rule("dubblett", "fel", "samma barn, datum, typ och orsaker som en tidigare rad",
         "duplicate: same child, date, type and reasons as an earlier row"),
    Rule("dubblett_rad_id", "fel", "löpnumret finns redan på en tidigare rad",
         "row id already used by an earlier row"),
)
RULES_BY_ID: dict[str, Rule] = {r.id: r for r in RULES}

#: Coded/yes-no columns whose value decides the stage of the flow: an unknown value there is fatal.
STAGE_COLUMNS: frozenset[str] = frozenset({"aktualiseringstyp", "fb_beslut", "insats_erbjuden",
                                           "insats_svar", "insats_startad"})
#: Columns describing the utredning: only meaningful when an utredning was opened.
UTREDNING_FATAL: tuple[str, ...] = ("utredning_slut", "utredning_utfall")
UTREDNING_DETAIL: tuple[str, ...] = ("barnsamtal", "barnsamtal_antal", "kontakt_forskola",
                                     "kontakt_skola", "kontakt_polis", "kontakt_halso_sjukvard")
#: Ordered date pairs (earlier, later) checked by ``datumordning``; ``True`` = skipped for pagaende.
DATE_ORDER: tuple[tuple[str, str, bool], ...] = (
    ("aktualiseringsdatum", "skyddsbedomning_datum", False),
    ("aktualiseringsdatum", "fb_datum", False),
    ("aktualiseringsdatum", "utredning_start", True),
    ("fb_datum", "utredning_start", True),
    ("aktualiseringsdatum", "utredning_slut", False),
    ("utredning_start", "utredning_slut", False),
)
EARLIEST_DATE = dt.date(1990, 1, 1)
LATEST_DATE = dt.date(2099, 12, 31)
FORMAT_TEXT = ("ÅÅÅÅ-MM-DD (t.ex. 2024-03-05), DD/MM/ÅÅÅÅ eller DD.MM.ÅÅÅÅ (dag först), ÅÅÅÅMMDD, "
               "'5 mars 2024', Excels datumtal, eller datum med klockslag; år 1990–2099")

# ---------------------------------------------------------------------------------------------
# Problem collection (columnar: one chunk per rule and column)
# ---------------------------------------------------------------------------------------------

#: Values of a problem column: one string for all rows, an array aligned to the frame, or a function
#: of the flagged row positions (computed only for those rows).
ArrayLike = np.ndarray | pd.Series | str | Callable[[np.ndarray], Any]


class _Collector:
    """Accumulate problems as columnar chunks (fast for hundreds of thousands of rows)."""

    def __init__(self, fil: str, rad_excel: np.ndarray) -> None:
        self.fil = fil
        self.rad_excel = rad_excel
        self.chunks: list[pd.DataFrame] = []

    def add(self, rule: str, rows: np.ndarray | pd.Series, kolumn: str, varde: ArrayLike,
            giltigt: ArrayLike, severity: Severity | None = None, masked: bool = False) -> None:
        """Record ``rule`` for every row where ``rows`` is True (values aligned to the frame).

        The values are shown through :func:`display_value` unless ``masked`` (already safe).
        """
        mask = np.asarray(rows, dtype=bool)
        idx = np.flatnonzero(mask)
        if idx.size == 0:
            return
        r = RULES_BY_ID[rule]
        values = _take(varde, idx)
        self.chunks.append(pd.DataFrame({
            "_pos": idx,
            "fil": self.fil,
            "rad_excel": self.rad_excel[idx],
            "kolumn": kolumn,
            "varde": values if masked else display_values(kolumn, values),
            "regel": f"{r.id}: {r.sv}",
            "allvarlighet": severity or r.allvarlighet,
            "giltigt": _take(giltigt, idx),
            "_rule": r.id,
        }))

    def frame(self) -> pd.DataFrame:
        """All problems so far (internal columns ``_pos``, ``_rule`` included)."""
        if not self.chunks:
            return pd.DataFrame({c: pd.Series(dtype=object) for c in ("_pos", *REPORT_COLUMNS, "_rule")})
        return pd.concat(self.chunks, ignore_index=True)


def _take(values: ArrayLike, idx: np.ndarray) -> np.ndarray | str:
    if isinstance(values, str):
        return values
    if callable(values):
        return np.array(["" if _isna(v) else str(v) for v in values(idx)], dtype=object)
    arr = values.to_numpy(dtype=object) if isinstance(values, pd.Series) else np.asarray(values, object)
    out = arr[idx]
    return np.array(["" if _isna(v) else str(v) for v in out], dtype=object)


def _isna(v: object) -> bool:
    return v is None or v is pd.NA or v is pd.NaT or (isinstance(v, float) and np.isnan(v))


# ---------------------------------------------------------------------------------------------
# Text normalisation and code lists
# ---------------------------------------------------------------------------------------------


def normalise_key(text: str) -> str:
    """Fold ``text`` for matching: case, diacritics, whitespace, end punctuation, ``1.0`` -> ``1``."""
    t = unicodedata.normalize("NFKD", str(text).casefold())
    t = "".join(ch for ch in t if not unicodedata.combining(ch))
    t = re.sub(r"\s+", " ", t.replace("_", " ")).strip(" .,;:!?'\"")
    t = re.sub(r"\s*/\s*", "/", t)
    if re.fullmatch(r"[+-]?\d+\.0+", t):
        t = t.split(".")[0]
    return t


#: The value :func:`match_code` returns for a spelling of "uppgift saknas" (read as missing, no warning).
UNKNOWN = "uppgift_saknas"


def accepts_unknown(col: str) -> bool:
    """Whether ``col`` takes the third value "uppgift saknas" (every yes/no column and
    ``schema.UNKNOWN_CODE_COLUMNS``)."""
    return schema.column(col).dtype == "bool" or col in schema.UNKNOWN_CODE_COLUMNS


@cache
def code_lookup(col: str) -> dict[str, object]:
    """Return ``{normalised spelling: value}`` for a coded (code str) or yes/no (bool) column; the
    spellings of "uppgift saknas" map to :data:`UNKNOWN` where the column takes it."""
    c = schema.column(col)
    pairs: list[tuple[str, object]] = []
    if c.dtype == "bool":
        pairs += [(a, True) for a in schema.JA_NEJ_ALIASES_TRUE]
        pairs += [(a, False) for a in schema.JA_NEJ_ALIASES_FALSE]
    elif c.dtype == "code":
        for code in c.codes:
            pairs += [(s, code.code) for s in (code.code, code.sv, code.en, *code.aliases)]
    else:
        raise ValueError(f"{col} is neither coded nor yes/no")
    if accepts_unknown(col):
        pairs += [(a, UNKNOWN) for a in (*schema.JA_NEJ_ALIASES_UNKNOWN, *schema.UPPGIFT_SAKNAS)]
    table: dict[str, object] = {}
    for text, value in pairs:
        key = normalise_key(text)
        if table.get(key, value) != value:
            raise ValueError(f"schema: spelling {text!r} of {col} maps to both {table[key]!r} and {value!r}")
        table[key] = value
    return table


def valid_values_text(col: str) -> str:
    """Swedish list of the values a person may type in ``col``."""
    c = schema.column(col)
    if c.dtype == "bool":
        return "Ja, Nej (även J/N, 1/0, x, -) eller Uppgift saknas"
    return ", ".join(code.sv for code in c.codes) + (", Uppgift saknas" if accepts_unknown(col) else "")


#: Words that turn a phrase into its opposite. A near-miss is never read across one: the value and
#: the spelling it resembles must carry exactly the same negation words ("Utredning inleds ej" is
#: never "Utredning inleds").
NEGATIONS: frozenset[str] = frozenset({
    "ej", "inte", "icke", "ingen", "inget", "inga", "utan", "nej", "avslag", "avslas", "avslagen",
    "avslaget", "avslogs", "avslog", "avbojd", "avbojt", "avbojer", "avbojde", "not", "no", "non",
    "none", "without", "declined", "refused", "rejected",
})
#: A reference to a paragraph of law written after a decision ("Utredning inleds 11 kap 1 § SoL",
#: "Inleda utredning enl. 11:1 SoL"): removed before the decision is looked up.
_LAW_REF = re.compile(
    r"\s*[(,\-–]?\s*(?:enl(?:igt)?\.?\s+)?"
    r"(?:\d+\s*kap\.?(?:\s*\d+\s*[a-z]?\s*§+)?|\d+\s*:\s*\d+\s*[a-z]?|\d+\s*[a-z]?\s*§+)"
    r"(?:\s*(?:\d+\s*)?(?:st(?:\.|ycket)?)\s*)?"
    r"(?:\s*(?:sol|lvu|socialtjanstlagen|lagen))?\s*\)?\s*$")
#: Characters that may differ between a value and the declared spelling it is read as: one in a
#: spelling of 4-7 characters, two from 8 (a typo, never a word more or less).
_NEAR_EDITS: tuple[tuple[int, int], ...] = ((8, 2), (4, 1))


def _words(key: str) -> list[str]:
    return re.findall(r"[a-z0-9§]+", key)


def _negations(key: str) -> frozenset[str]:
    return frozenset(w for w in _words(key) if w in NEGATIONS)


def _edit_distance(a: str, b: str, limit: int) -> int:
    """Optimal-string-alignment distance of ``a`` and ``b`` (``limit + 1`` once it exceeds ``limit``)."""
    if abs(len(a) - len(b)) > limit:
        return limit + 1
    prev2: list[int] = []
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i] + [0] * len(b)
        for j, cb in enumerate(b, 1):
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb))
            if i > 1 and j > 1 and ca == b[j - 2] and a[i - 2] == cb:
                cur[j] = min(cur[j], prev2[j - 2] + 1)
        if min(cur) > limit:
            return limit + 1
        prev2, prev = prev, cur
    return prev[-1]


def _allowed_edits(key: str) -> int:
    return next((n for size, n in _NEAR_EDITS if len(key) >= size), 0)


def near_miss(key: str, table: Mapping[str, object]) -> object | None:
    """The value of the one declared spelling that ``key`` is a typo of, or None.

    A typo: as many words, the same digits, the same negation words, and at most one changed
    character in 4-7 characters (two from 8). None when no spelling is that close, when spellings
    of two different values are equally close, or when a spelling with other negation words is
    within reach too (no guess between meanings).
    """
    limit = _allowed_edits(key)
    if limit == 0:
        return None
    words, negs, digits = len(_words(key)), _negations(key), re.sub(r"\D", "", key)
    best: dict[object, int] = {}
    for spelling, value in table.items():
        if (len(_words(spelling)) != words or re.sub(r"\D", "", spelling) != digits
                or _allowed_edits(spelling) == 0):
            continue
        d = _edit_distance(key, spelling, limit)
        if d > limit:
            continue
        if _negations(spelling) != negs:
            return None  # as close to a spelling of the opposite: no guess across a negation
        if d < best.get(value, limit + 1):
            best[value] = d
    if not best:
        return None
    ranked = sorted(best.values())
    if len(ranked) > 1 and ranked[1] == ranked[0]:
        return None
    return min(best, key=lambda v: best[v])


def strip_law_reference(key: str) -> str:
    """``key`` without a trailing paragraph reference ("11 kap 1 § sol"); ``""`` if nothing else."""
    return _LAW_REF.sub("", key).strip(" ,;:-–(")


def match_code(text: str, col: str) -> tuple[object | None, str]:
    """Interpret one cell of a coded or yes/no column: ``(value, "exakt"|"tolkad"|"okand")``.

    ``exakt``: a declared spelling (schema code, label or alias, folded by :func:`normalise_key`).
    ``tolkad``: a typo of exactly one declared spelling (:func:`near_miss`: never across a
    negation, never a word more or less), or a declared spelling followed by a paragraph
    reference ("Utredning inleds 11 kap 1 § SoL"; not in ``insats_lagrum``, where the law is the
    value); never a near-miss into "uppgift saknas". Anything else is ``okand`` until the params
    ``mapping.values`` say what it means.
    """
    table = code_lookup(col)
    key = normalise_key(text)
    if key in table:
        return table[key], "exakt"
    if col != "insats_lagrum":
        bare = strip_law_reference(key)
        if bare and bare != key:
            if bare in table:
                return table[bare], "tolkad"
            key = bare
    # "uppgift saknas" is read only as declared: a near-miss of an unknown spelling such as
    # "ej okänt" (not unknown) must not be guessed into it
    value = near_miss(key, {k: v for k, v in table.items() if v != UNKNOWN})
    return (value, "tolkad") if value is not None else (None, "okand")


def _value_label(col: str, value: object) -> str:
    if value == UNKNOWN:
        return schema.UPPGIFT_SAKNAS[0]
    if isinstance(value, bool):
        return "Ja" if value else "Nej"
    return schema.code_label(col, str(value))


# ---------------------------------------------------------------------------------------------
# What a problem may show of its value
# ---------------------------------------------------------------------------------------------

#: A whole number of at most six digits, as typed in a number cell ("12", "12.0", "2 st", "-1").
_SHOWN_NUMBER = re.compile(r"[+-]?\d{1,6}(?:[.,]0+)?(?:\s*(?:år|st|ggr|gånger)\.?)?", re.IGNORECASE)
#: The shape of a date (also an impossible one such as 2024-02-30), optionally with a time.
_SHOWN_DATE = re.compile(r"(?:\d{4}[-/.]\d{1,2}[-/.]\d{1,2}|\d{1,2}[-/.]\d{1,2}[-/.]\d{2,4}"
                         r"|\d{5,8}(?:\.\d+)?)(?:[ tT]\d{1,2}[:.]\d{2}(?:[:.]\d{2}(?:\.\d+)?)?)?")
#: A personnummer cell after :func:`_mask_pnr` (digits written as X).
_MASKED_PNR = re.compile(r"[X\s+\-\u2010-\u2015\u2212]*")


def display_value(col: str, text: str, lang: schema.Lang = "sv") -> str:
    """A problem's value as the reports may show it: the value itself when it is a schema code or
    yes/no spelling, a number or a date (of the column's type), otherwise only its shape
    (:func:`genomlysning.problems.shape`, e.g. ``"text, 18 tecken"``). Free text, names, ids,
    areas and anything personnummer-like are never shown."""
    from genomlysning import personnummer as pn
    from genomlysning.problems import shape

    text = str(text)
    if text == "":
        return ""
    if col == "personnummer" and _MASKED_PNR.fullmatch(text):
        return text
    if col not in _TEMPLATE_SET or col in ("personnummer", "barn_id", "omrade") or pn.contains(text):
        return shape(text, lang)
    c = schema.column(col)
    t = text.strip()
    if c.dtype in ("code", "bool"):
        shown = normalise_key(t) in code_lookup(col)
    elif c.dtype == "date":
        shown = bool(_SHOWN_DATE.fullmatch(t)) or parse_date(t) is not None
    else:  # int, and rad_id: a plain row number is shown, a case number is not
        shown = bool(_SHOWN_NUMBER.fullmatch(t))
    return text if shown else shape(text, lang)


_TEMPLATE_SET: frozenset[str] = frozenset(schema.TEMPLATE_COLUMNS)


def display_values(col: str, values: np.ndarray | str) -> np.ndarray | str:
    """:func:`display_value` of every value (each distinct value computed once)."""
    if isinstance(values, str):
        return display_value(col, values)
    codes, uniques = pd.factorize(np.asarray(values, dtype=object), use_na_sentinel=False)
    shown = np.array([display_value(col, u) for u in uniques], dtype=object)
    return shown[codes]


# ---------------------------------------------------------------------------------------------
# Dates and numbers
# ---------------------------------------------------------------------------------------------

_MONTHS: dict[str, int] = {
    "jan": 1, "januari": 1, "january": 1, "feb": 2, "februari": 2, "february": 2, "mar": 3,
    "mars": 3, "march": 3, "apr": 4, "april": 4, "maj": 5, "may": 5, "jun": 6, "juni": 6, "june": 6,
    "jul": 7, "juli": 7, "july": 7, "aug": 8, "augusti": 8, "august": 8, "sep": 9, "sept": 9,
    "september": 9, "okt": 10, "oct": 10, "oktober": 10, "october": 10, "nov": 11, "november": 11,
    "dec": 12, "december": 12,
}
_TIME = r"(?:[ t]\d{1,2}[:.]\d{2}(?:[:.]\d{2}(?:\.\d+)?)?)?"
_ISO = re.compile(rf"(\d{{4}})[-/.](\d{{1,2}})[-/.](\d{{1,2}}){_TIME}")
_DMY = re.compile(rf"(\d{{1,2}})[-/.](\d{{1,2}})[-/.](\d{{4}}){_TIME}")
_COMPACT = re.compile(r"(\d{4})(\d{2})(\d{2})")
_SERIAL = re.compile(r"(\d{5})(?:\.\d+)?")
_TEXT_MONTH = re.compile(r"(\d{1,2})\.?\s*([a-z]+)\.?,?\s+(\d{4})")
_EXCEL_EPOCH = dt.date(1899, 12, 30)


def parse_date(text: str) -> dt.date | None:
    """Read one date in any accepted format (``FORMAT_TEXT``); ``None`` if it cannot be read."""
    t = normalise_key(text)
    y = m = d = 0
    if mo := _ISO.fullmatch(t):
        y, m, d = (int(g) for g in mo.groups())
    elif mo := _DMY.fullmatch(t):
        d, m, y = (int(g) for g in mo.groups())
    elif mo := _COMPACT.fullmatch(t):
        y, m, d = (int(g) for g in mo.groups())
    elif mo := _SERIAL.fullmatch(t):
        out = _EXCEL_EPOCH + dt.timedelta(days=int(mo.group(1)))
        return out if EARLIEST_DATE <= out <= LATEST_DATE else None
    elif (mo := _TEXT_MONTH.fullmatch(t)) and mo.group(2) in _MONTHS:
        d, m, y = int(mo.group(1)), _MONTHS[mo.group(2)], int(mo.group(3))
    else:
        return None
    try:
        out = dt.date(y, m, d)
    except ValueError:
        return None
    return out if EARLIEST_DATE <= out <= LATEST_DATE else None


def parse_dates(s: pd.Series) -> tuple[pd.Series, np.ndarray]:
    """Parse a column of date texts: ``(datetime64[ns] Series, mask of unreadable cells)``."""
    codes, uniques = pd.factorize(s.to_numpy(dtype=object), use_na_sentinel=True)
    values, bad = _parse_dates_factorized(codes, uniques)
    return pd.Series(values, index=s.index), bad


def _parse_dates_factorized(codes: np.ndarray, uniques: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    parsed = np.array([parse_date(u) or np.datetime64("NaT") for u in uniques] + [np.datetime64("NaT")],
                      dtype="datetime64[ns]")
    values = parsed[codes]  # code -1 picks the trailing NaT
    return values, (codes >= 0) & np.isnat(values)


_WHOLE = re.compile(r"([+-]?\d+)(?:[.,]0+)?(?:\s*(?:år|st|ggr|gånger)\.?)?", re.IGNORECASE)


def parse_int(text: str) -> int | None:
    """Read one whole number (``"12"``, ``"12.0"``, ``"12 år"``, ``"2 st"``); ``None`` if it is not one."""
    m = _WHOLE.fullmatch(str(text).strip())
    return int(m.group(1)) if m else None


def parse_ints(s: pd.Series) -> tuple[pd.Series, np.ndarray]:
    """Parse a column of whole numbers: ``(Int64 Series, mask of unreadable cells)``."""
    codes, uniques = pd.factorize(s.to_numpy(dtype=object), use_na_sentinel=True)
    return _parse_ints_factorized(codes, np.asarray(uniques, dtype=object), s.index)


def _parse_ints_factorized(codes: np.ndarray, uniques: np.ndarray,
                           index: pd.Index | None = None) -> tuple[pd.Series, np.ndarray]:
    parsed = [parse_int(u) for u in uniques]
    values = np.array([0 if v is None else v for v in parsed] + [0], dtype=np.int64)[codes]
    missing = np.array([v is None for v in parsed] + [True])[codes]
    out = pd.Series(pd.arrays.IntegerArray(values, missing), index=index)
    return out, (codes >= 0) & missing


# ---------------------------------------------------------------------------------------------
# Working state: the typed columns of one file while it is being checked
# ---------------------------------------------------------------------------------------------


@dataclass
class _Work:
    """Typed columns (all rows, file order) and the problems found so far."""

    n: int
    text: dict[str, pd.Series]
    problems: _Collector
    dates: dict[str, pd.Series]
    codes: dict[str, pd.Series]
    bools: dict[str, pd.Series]
    ints: dict[str, pd.Series]
    bad: dict[str, np.ndarray]
    period_slut: pd.Timestamp | None = None
    period_slut_kalla: str = "data"
    fact: dict[str, tuple[np.ndarray, np.ndarray]] | None = None

    def factorized(self, col: str) -> tuple[np.ndarray, np.ndarray]:
        """``(codes, distinct values)`` of a text column (-1 = blank), computed once."""
        if self.fact is None:
            self.fact = {}
        if col not in self.fact:
            codes, uniques = pd.factorize(self.text[col].to_numpy(dtype=object), use_na_sentinel=True)
            self.fact[col] = (codes, np.asarray(uniques, dtype=object))
        return self.fact[col]

    def set_text(self, col: str, values: pd.Series) -> None:
        """Replace a text column (and forget its factorisation)."""
        self.text[col] = values
        if self.fact is not None:
            self.fact.pop(col, None)

    def present(self, col: str) -> np.ndarray:
        """Cells that had a (non-blank) value in the file, readable or not."""
        return self.text[col].notna().to_numpy()

    def is_true(self, col: str) -> np.ndarray:
        """Yes/no cells read as Ja."""
        return self.bools[col].fillna(False).to_numpy(dtype=bool)

    def is_false(self, col: str) -> np.ndarray:
        """Yes/no cells read as Nej, or blank (not unreadable)."""
        return ~self.bools[col].fillna(True).to_numpy(dtype=bool) | (
            ~self.present(col))

    def code_in(self, col: str, values: set[str] | frozenset[str]) -> np.ndarray:
        """Coded cells whose code is in ``values``."""
        return self.codes[col].isin(list(values)).to_numpy()


def _strip_texts(frame: pd.DataFrame, n: int) -> tuple[dict[str, pd.Series], dict[str, tuple[np.ndarray,
                                                                                             np.ndarray]]]:
    """Every template column as an object Series of stripped strings (``None`` for blank cells),
    and its factorisation ``(codes, distinct values)``."""
    out: dict[str, pd.Series] = {}
    fact: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    index = pd.RangeIndex(n)
    for col in schema.TEMPLATE_COLUMNS:
        if col not in frame.columns:
            out[col] = pd.Series([None] * n, index=index, dtype=object)
            fact[col] = (np.full(n, -1, dtype=np.intp), np.array([], dtype=object))
            continue
        codes, uniques = pd.factorize(frame[col].to_numpy(dtype=object), use_na_sentinel=True)
        stripped = [str(u).strip() or None for u in uniques]
        if any(t is None or t != u for t, u in zip(stripped, uniques, strict=True)):
            ucodes, uniques = pd.factorize(np.array(stripped, dtype=object), use_na_sentinel=True)
            codes = np.append(ucodes, -1)[codes]
        uniques = np.asarray(uniques, dtype=object)
        fact[col] = (codes, uniques)
        out[col] = pd.Series(np.append(uniques, None)[codes], index=index, dtype=object)
    return out, fact


# ---------------------------------------------------------------------------------------------
# Step 1: privacy of the kept text columns
# ---------------------------------------------------------------------------------------------


#: Ten or more digits in a row, at most one - + or space after the sixth or later digit (the shape
#: of a personnummer, glued to anything): never shown in a report.
_DIGIT_RUN = re.compile(r"\d{6,}[-+ ]?\d{4,}")
#: Id columns: case numbers may be shaped like dates, so only a valid personnummer counts there.
ID_COLUMNS: tuple[str, ...] = ("rad_id", "barn_id")


def contains_personnummer(text: str) -> bool:
    """True if ``text`` holds something personnummer-like, or a valid personnummer glued to other
    characters (e.g. ``x201503049825``); see :func:`genomlysning.personnummer.find_identifiers`."""
    from genomlysning import personnummer as pn

    return pn.has_identifier(text)


def mask_text(text: str) -> str:
    """Mask personnummer-like text (``personnummer.mask``) and every run of ten or more digits."""
    from genomlysning import personnummer as pn

    return _DIGIT_RUN.sub("X" * 10, pn.mask(text)) if text else text


def _identifier_cells(w: _Work, col: str, strict: bool) -> np.ndarray:
    from genomlysning import personnummer as pn

    codes, uniques = w.factorized(col)
    hit = np.array([pn.has_identifier(str(u), strict) for u in uniques] + [False])
    return hit[codes]


def _privacy_severity(col: str) -> Severity:
    """fel where clearing the cell would change how the row is counted, else varning."""
    c = schema.column(col)
    fatal = c.name in ID_COLUMNS or c.required or c.dtype == "date" or c.name in STAGE_COLUMNS
    return "fel" if fatal else "varning"


def _privacy_hint(col: str) -> str:
    if col == "rad_id":
        return "ett löpnummer/ärendenummer utan personnummer"
    if col == "barn_id":
        return "ett pseudonymt barn-id (personnumret hör hemma i kolumnen personnummer)"
    if col == "omrade":
        return "ett av områdena i params omraden; cellen behandlas som tom"
    return "aldrig ett personnummer i den här kolumnen; cellen behandlas som tom"


def check_text_privacy(w: _Work) -> None:
    """personnummer_i_text: no personnummer in any input cell outside the personnummer column.

    Id columns (rad_id, barn_id) count valid personnummer only (fel: the row is quarantined; the id
    never reaches an output anyway). Every other column counts anything personnummer-like; the
    cell is cleared, and the row is quarantined where a blank cell would change how it is counted.
    """
    for c in schema.columns(role="input"):
        hit = _identifier_cells(w, c.name, strict=c.name in ID_COLUMNS)
        if not hit.any():
            continue
        w.problems.add("personnummer_i_text", hit, c.name, w.text[c.name], _privacy_hint(c.name),
                       severity=_privacy_severity(c.name))
        if c.name not in ID_COLUMNS:
            w.set_text(c.name, w.text[c.name].where(~hit, None))


def check_omrade(w: _Work, params: Mapping[str, Any]) -> None:
    """omrade_okant: omrade holds one of the areas of params ``omraden`` (spelling as declared);
    any other value is reported (value masked) and the area becomes unknown."""
    from genomlysning.params import area_key, declared_areas

    areas = declared_areas(dict(params))
    codes, uniques = w.factorized("omrade")
    if not len(uniques):
        return
    canonical = np.array([areas.get(area_key(u)) for u in uniques] + [None], dtype=object)
    unknown = (codes >= 0) & pd.isna(canonical[codes])
    if areas:
        hint = f"ett av områdena i params omraden: {', '.join(areas.values())}; cellen behandlas som tom"
    else:
        hint = ("params-filen anger inga områden: lägg till en lista med kommunens områden/team, t.ex. "
                "omraden: [Nord, Syd, Pilot], i params-filen; cellen behandlas som tom")
    w.problems.add("omrade_okant", unknown, "omrade", w.text["omrade"], hint)
    w.set_text("omrade", pd.Series(canonical[codes], dtype=object))


def normalise_rad_id(w: _Work) -> None:
    """rad_id: Excel numbers ``12.0`` become ``12``."""
    s = w.text["rad_id"]
    if s.str.contains(".", regex=False).fillna(False).to_numpy(dtype=bool).any():
        w.set_text("rad_id", s.str.replace(r"^(\d+)\.0+$", r"\1", regex=True).astype(object))


# ---------------------------------------------------------------------------------------------
# Step 2: dates, codes and numbers
# ---------------------------------------------------------------------------------------------


def read_dates(w: _Work) -> None:
    """ogiltigt_datum: parse every date column (mixed formats); unreadable dates are fatal."""
    for col in schema.DATE_COLUMNS:
        if schema.column(col).role != "input":
            continue
        values, bad = _parse_dates_factorized(*w.factorized(col))
        w.dates[col] = pd.Series(values)
        w.bad[col] = bad
        w.problems.add("ogiltigt_datum", bad, col, w.text[col], FORMAT_TEXT)


def choose_period_slut(w: _Work, params: Mapping[str, Any]) -> None:
    """period_slut = params ``period_slut``, else the latest readable date in the file."""
    given = params.get("period_slut")
    if given:
        w.period_slut = pd.Timestamp(str(given))
        w.period_slut_kalla = "params"
        return
    latest = [s.max() for s in w.dates.values() if s.notna().any()]
    w.period_slut = max(latest) if latest else None
    w.period_slut_kalla = "data"


def read_codes(w: _Work) -> None:
    """okand_kod / stavning_tolkad: every coded and yes/no column against its code list."""
    for c in schema.columns(role="input"):
        if c.dtype not in ("code", "bool"):
            continue
        s = w.text[c.name]
        codes, uniques = w.factorized(c.name)
        matched = [match_code(str(u), c.name) for u in uniques]
        status = np.array([k for _, k in matched] + [""], dtype=object)[codes]
        read_as = np.array([f"tolkat som {_value_label(c.name, v)!r}" if k == "tolkad" else ""
                            for v, k in matched] + [""], dtype=object)[codes]
        w.problems.add("stavning_tolkad", status == "tolkad", c.name, s, read_as)
        fatal = c.name in STAGE_COLUMNS
        w.problems.add("okand_kod", status == "okand", c.name, s,
                       valid_values_text(c.name) + ("" if fatal else "; cellen behandlas som tom"),
                       severity="fel" if fatal else "varning")
        w.bad[c.name] = status == "okand"
        said_unknown = np.array([v == UNKNOWN for v, _ in matched] + [False], dtype=bool)[codes]
        if said_unknown.any():  # "uppgift saknas" written out: the same as a blank cell from here on
            w.set_text(c.name, s.where(~said_unknown, None))
        if c.dtype == "code":
            order = {code: i for i, code in enumerate(c.code_values())}
            cat = np.array([order.get(v, -1) if v is not None else -1 for v, _ in matched] + [-1],
                           dtype=np.int64)
            w.codes[c.name] = pd.Series(pd.Categorical.from_codes(
                cat[codes], dtype=clean_dtype(c.name)))
        else:
            tri = np.array([-1 if v is None or v == UNKNOWN else int(bool(v)) for v, _ in matched] + [-1],
                           dtype=np.int8)
            t = tri[codes]
            w.bools[c.name] = pd.Series(pd.arrays.BooleanArray(t == 1, t == -1))


def read_ints(w: _Work) -> None:
    """ogiltigt_tal / barnsamtal_antal_utanfor: whole numbers; unreadable cells are cleared."""
    for col in ("alder", "barnsamtal_antal"):
        values, bad = _parse_ints_factorized(*w.factorized(col))
        w.problems.add("ogiltigt_tal", bad, col, w.text[col], "ett heltal, t.ex. 7; cellen behandlas som tom",
                       severity="varning")
        w.bad[col] = bad
        w.ints[col] = values
    c = schema.column("barnsamtal_antal")
    v = w.ints["barnsamtal_antal"]
    out = ((v < c.min_value) | (v > c.max_value)).fillna(False).to_numpy(dtype=bool)
    w.problems.add("barnsamtal_antal_utanfor", out, c.name, w.text[c.name],
                   f"{c.min_value}–{c.max_value}; cellen behandlas som tom")
    w.ints["barnsamtal_antal"] = v.where(~out, pd.NA)


# ---------------------------------------------------------------------------------------------
# Step 3: the child: personnummer -> barn_id, age, kön; then the personnummer is gone
# ---------------------------------------------------------------------------------------------


_TEN_DIGITS = re.compile(r"\d{6}[-+]?\d{4}")


@dataclass
class _Parsed:
    """Personnummer fields per row: canonical number, birth date parts, sex, error reason."""

    canonical: np.ndarray
    birth: np.ndarray  # YYYYMMDD as int (0 = none)
    sex: np.ndarray
    error: np.ndarray


def _parse_unique(texts: np.ndarray, codes: np.ndarray, ref: np.ndarray, fixed_ref: dt.date) -> _Parsed:
    """Parse each distinct text once; 10-digit forms (century from the reference date) per (text, date)."""
    from genomlysning import personnummer as pn

    def one(text: str, on: dt.date) -> tuple[str | None, int, str | None, str | None]:
        try:
            p = pn.parse(text, on)
        except pn.PersonnummerError as exc:
            return None, 0, None, str(getattr(exc, "reason", exc))
        b = p.birth_date
        return p.canonical, b.year * 10000 + b.month * 100 + b.day, p.sex, None

    per_unique = [one(u, fixed_ref) for u in texts]
    out = _Parsed(canonical=np.array([r[0] for r in per_unique] + [None], dtype=object)[codes],
                  birth=np.array([r[1] for r in per_unique] + [0], dtype=np.int64)[codes],
                  sex=np.array([r[2] for r in per_unique] + [None], dtype=object)[codes],
                  error=np.array([r[3] for r in per_unique] + [None], dtype=object)[codes])
    ten = np.array([bool(_TEN_DIGITS.fullmatch(re.sub(r"\s+", "", u))) for u in texts] + [False])[codes]
    memo: dict[tuple[str, dt.date], tuple[str | None, int, str | None, str | None]] = {}
    for i in np.flatnonzero(ten):
        pair = (texts[codes[i]], ref[i])
        res = memo.get(pair)
        if res is None:
            res = memo[pair] = one(*pair)
        out.canonical[i], out.birth[i], out.sex[i], out.error[i] = res
    return out


def derive_from_personnummer(w: _Work, key: Callable[[], bytes]) -> None:
    """personnummer_ogiltigt / barn_id_ersatt: derive barn_id, age and kön, then drop the column.

    ``key`` returns the pseudonymisation key (called only if a personnummer or barn_id is present).
    A barn_id entered without a personnummer is replaced by its keyed pseudonym, so the same entered
    id is still the same child. Age is taken at the aktualisering date (period_slut if unreadable).
    """
    from genomlysning import personnummer as pn

    pnr = w.text["personnummer"]
    texts = pnr.to_numpy(dtype=object)
    given = w.text["barn_id"].to_numpy(dtype=object)
    barn_id = given.copy()
    age = pd.Series(pd.NA, index=range(w.n), dtype="Int64")
    sex = np.full(w.n, None, dtype=object)
    invalid = np.zeros(w.n, dtype=bool)
    if pnr.notna().any():
        k = key()
        fallback = w.period_slut if w.period_slut is not None else pd.Timestamp("2000-01-01")
        refs = w.dates["aktualiseringsdatum"].fillna(fallback)
        codes, uniques = w.factorized("personnummer")
        parsed = _parse_unique(np.asarray(uniques, dtype=object), codes,
                               refs.dt.date.to_numpy(dtype=object), fallback.date())
        ok = parsed.birth > 0
        invalid = (codes >= 0) & ~ok
        ccodes, canon = pd.factorize(parsed.canonical[ok], use_na_sentinel=True)
        hashed = np.array([pn.pseudonymise(c, k) for c in canon], dtype=object)
        derived = np.full(w.n, None, dtype=object)
        derived[ok] = hashed[ccodes]
        replaced = ok & pd.notna(given) & (given != derived)
        w.problems.add("barn_id_ersatt", replaced, "barn_id", "",
                       "lämna barn-id tomt när personnummer finns", severity="varning")
        barn_id = np.where(codes >= 0, derived, given)
        ref_md = (refs.dt.month * 100 + refs.dt.day).to_numpy()
        years = refs.dt.year.to_numpy() - parsed.birth // 10000 - (ref_md < parsed.birth % 10000)
        age = pd.Series(pd.array(years, dtype="Int64")).where(ok, pd.NA)
        sex = np.where(ok, parsed.sex, None)
        error = parsed.error
        w.problems.add("personnummer_ogiltigt", invalid, "personnummer",
                       lambda idx: [_mask_pnr(t) for t in texts[idx]], lambda idx: error[idx], masked=True)
    entered = pnr.isna().to_numpy() & pd.notna(given)
    if entered.any():
        barn_id[entered] = _pseudonyms("barn_id", given[entered], key())
    w.set_text("barn_id", pd.Series(barn_id, dtype=object))
    w.set_text("personnummer", pd.Series([None] * w.n, dtype=object))  # gone from here on
    w.ints["_pnr_alder"] = age
    w.text["_pnr_kon"] = pd.Series(sex, dtype=object)
    w.bad["personnummer"] = invalid


def _mask_pnr(text: str) -> str:
    """Mask a personnummer cell completely: every digit becomes X (the format stays visible); a cell
    with anything but digits and separators shows only its shape."""
    from genomlysning.problems import shape

    masked = re.sub(r"\d", "X", str(text))
    return masked if _MASKED_PNR.fullmatch(masked) else shape(str(text))


def _pseudonyms(column: str, values: np.ndarray, key: bytes) -> np.ndarray:
    """Keyed pseudonyms of entered ids (each distinct value hashed once)."""
    from genomlysning import personnummer as pn

    codes, uniques = pd.factorize(np.asarray(values, dtype=object), use_na_sentinel=False)
    return np.array(pn.pseudonymise_ids(column, [str(u) for u in uniques], key), dtype=object)[codes]


def pseudonymise_rad_id(w: _Work, key: Callable[[], bytes]) -> None:
    """Replace every rad_id by its keyed pseudonym (after the duplicate check has used the ids)."""
    ids = w.text["rad_id"].to_numpy(dtype=object)
    present = pd.notna(ids)
    if present.any():
        ids = ids.copy()
        ids[present] = _pseudonyms("rad_id", ids[present], key())
        w.set_text("rad_id", pd.Series(ids, dtype=object))


def check_synthetic(w: _Work, params: Mapping[str, Any], fil: str) -> None:
    """Params ``synthetic: true`` (the public demo key) only for files whose every personnummer
    follows the demo convention (birth number 980-999); otherwise SyntheticDataError."""
    from genomlysning import personnummer as pn

    if params.get("synthetic") is not True:
        return
    codes, uniques = w.factorized("personnummer")
    outside = np.array([pn.in_synthetic_series(str(u)) is False for u in uniques] + [False])[codes]
    if outside.any():
        rows = ", ".join(str(r) for r in w.problems.rad_excel[outside][:5])
        low, high = pn.SYNTHETIC_SERIALS
        raise pn.SyntheticDataError(
            f"{fil}: params har synthetic: true, men {int(outside.sum())} rader har ett personnummer "
            f"utanför demodatas serie (födelsenummer {low}–{high}), t.ex. rad {rows}. synthetic: true "
            "(och den publika demonyckeln) gäller bara demodata från `genomlysning demo-data`; är det "
            "riktiga uppgifter, ta bort synthetic: true ur params-filen och använd en egen nyckel. / "
            f"params say synthetic: true but {int(outside.sum())} rows have a personnummer outside the "
            f"demo series (birth number {low}-{high}); real data need their own key.\n"
            + pn.key_instructions())


def _key_once(key: bytes | None, params: Mapping[str, Any]) -> Callable[[], bytes]:
    """The key, loaded (``personnummer.load_key``) and length-checked on first use only."""
    from genomlysning import personnummer as pn

    cached: list[bytes] = []

    def get() -> bytes:
        if not cached:
            given = key if key is not None else pn.load_key(dict(params))
            cached.append(pn.check_key(given, "argumentet key" if key is not None else "params"))
        return cached[0]

    return get


def reconcile_age_and_sex(w: _Work) -> None:
    """alder_motsagelse / kon_motsagelse / alder_utanfor: personnummer age wins; kön filled if missing."""
    pnr_age = w.ints.pop("_pnr_alder")
    given = w.ints["alder"]
    differs = (pnr_age.notna() & given.notna() & (pnr_age != given)).fillna(False).to_numpy(dtype=bool)
    w.problems.add("alder_motsagelse", differs, "alder", w.text["alder"],
                   lambda idx: [f"{a} enligt personnumret" for a in pnr_age.to_numpy(dtype=object)[idx]])
    age = pnr_age.where(pnr_age.notna(), given)
    c = schema.column("alder")
    outside = ((age < c.min_value) | (age > c.max_value)).fillna(False).to_numpy(dtype=bool)
    from_pnr = pnr_age.notna().to_numpy()
    entered = display_values("alder", w.text["alder"].fillna("").to_numpy(dtype=object))
    w.problems.add("alder_utanfor", outside, "alder", np.where(from_pnr, "(från personnumret)", entered),
                   f"{c.min_value}–{c.max_value} år vid aktualiseringen "
                   "(genomlysningen gäller barn och unga)", masked=True)
    w.ints["alder"] = age

    pnr_sex = w.text.pop("_pnr_kon")
    kon = w.codes["kon"]
    entered = kon.notna().to_numpy()
    sex_known = pnr_sex.notna().to_numpy()
    mismatch = entered & sex_known & (kon.astype(object).to_numpy() != pnr_sex.to_numpy()) & (
        kon.astype(object).to_numpy() != "okant")
    w.problems.add("kon_motsagelse", mismatch, "kon", w.text["kon"],
                   lambda idx: [f"{schema.code_label('kon', s)} enligt personnumret"
                                for s in pnr_sex.to_numpy(dtype=object)[idx]])
    fill = ~entered & sex_known & ~w.bad["kon"]
    order = {code: i for i, code in enumerate(schema.column("kon").code_values())}
    from_pnr = np.array([order.get(x, -1) for x in ("flicka", "pojke")])
    codes = kon.cat.codes.to_numpy().copy()
    codes[fill] = from_pnr[(pnr_sex.to_numpy()[fill] == "pojke").astype(int)]
    w.codes["kon"] = pd.Series(pd.Categorical.from_codes(codes, dtype=clean_dtype("kon")))


# ---------------------------------------------------------------------------------------------
# Step 4: row-level rules
# ---------------------------------------------------------------------------------------------


def check_required(w: _Work) -> None:
    """obligatoriskt_saknas / barn_oidentifierbart."""
    for c in schema.columns(role="input"):
        if c.required:
            w.problems.add("obligatoriskt_saknas", ~w.present(c.name), c.name, "",
                           f"{c.sv} måste fyllas i")
    unknown = w.text["barn_id"].isna().to_numpy() & ~w.bad["personnummer"]
    w.problems.add("barn_oidentifierbart", unknown, "personnummer", "",
                   "personnummer (ÅÅÅÅMMDD-NNNN) eller, i redan pseudonymiserade data, barn_id")


def check_date_order(w: _Work) -> None:
    """datumordning: aktualisering <= skyddsbedömning/fb_datum <= utredning_start <= utredning_slut."""
    pagaende = w.code_in("fb_beslut", {"pagaende"})
    for early, late, skip_pagaende in DATE_ORDER:
        wrong = (w.dates[late] < w.dates[early]).to_numpy()
        if skip_pagaende:
            wrong = wrong & ~pagaende
        if not wrong.any():
            continue
        giltigt = np.full(w.n, "", dtype=object)
        idx = np.flatnonzero(wrong)
        earlier = w.dates[early].iloc[idx].dt.strftime("%Y-%m-%d")
        giltigt[idx] = [f"samma dag som eller efter {schema.label(early)} ({e})" for e in earlier]
        w.problems.add("datumordning", wrong, late, w.text[late], giltigt)


def check_after_period(w: _Work) -> None:
    """datum_efter_periodslut: no date after period_slut (only when period_slut is a parameter)."""
    if w.period_slut is None or w.period_slut_kalla != "params":
        return
    ps = w.period_slut.strftime("%Y-%m-%d")
    for col, values in w.dates.items():
        w.problems.add("datum_efter_periodslut", (values > w.period_slut).to_numpy(), col, w.text[col],
                       f"senast {ps} (period_slut i params); kontrollera årtalet")


def utredning_opened(w: _Work) -> np.ndarray:
    """Rows where an utredning was opened (or might have been: fb_beslut unreadable)."""
    return (w.code_in("fb_beslut", {"inleda", "pagaende"}) | w.present("utredning_start")
            | w.bad["fb_beslut"])


def check_forhandsbedomning(w: _Work) -> None:
    """fb_datum_utan_beslut / fb_beslut_motsager_utredning."""
    no_decision = ~w.present("fb_beslut")
    w.problems.add("fb_datum_utan_beslut", w.present("fb_datum") & no_decision, "fb_beslut", "",
                   "fyll i beslutet (Inleda utredning, Inte inleda utredning, Påförs pågående utredning) "
                   "eller ta bort beslutsdatumet")
    contradiction = w.code_in("fb_beslut", {"inte_inleda"}) & w.present("utredning_start")
    w.problems.add("fb_beslut_motsager_utredning", contradiction, "fb_beslut", w.text["fb_beslut"],
                   "Inleda utredning eller Påförs pågående utredning när utredningen har ett startdatum; "
                   "annars ska startdatumet vara tomt")


def check_utredning(w: _Work) -> None:
    """utan_utredning / utfall_utan_slut / barnsamtal_antal_motsagelse."""
    none = ~utredning_opened(w)
    hint = "bara när en utredning inletts (beslut Inleda/Påförs pågående eller ett startdatum)"
    for col in UTREDNING_FATAL:
        w.problems.add("utan_utredning", w.present(col) & none, col, w.text[col], hint)
    for col in UTREDNING_DETAIL:
        rows = w.present(col) & none
        w.problems.add("utan_utredning", rows, col, w.text[col], hint + "; cellen behandlas som tom",
                       severity="varning")
        if col in w.bools:
            w.bools[col] = w.bools[col].where(~rows, pd.NA)
        else:
            w.ints[col] = w.ints[col].where(~rows, pd.NA)
    outcome_open = w.present("utredning_utfall") & ~w.present("utredning_slut")
    w.problems.add("utfall_utan_slut", outcome_open, "utredning_utfall", w.text["utredning_utfall"],
                   "utfall anges först när utredningen är avslutad (fyll i slutdatum eller ta bort utfallet)")
    said = w.bools["barnsamtal"]
    count = w.ints["barnsamtal_antal"]
    yes, no = w.is_true("barnsamtal"), (said == False).fillna(False).to_numpy(dtype=bool)  # noqa: E712
    positive = (count > 0).fillna(False).to_numpy(dtype=bool)
    zero = (count == 0).fillna(False).to_numpy(dtype=bool)
    mismatch = (yes & zero) | (no & positive)
    w.problems.add("barnsamtal_antal_motsagelse", mismatch, "barnsamtal_antal", w.text["barnsamtal_antal"],
                   "antal > 0 när barnsamtal är Ja, 0 när Nej; antalet behandlas som tomt")
    w.ints["barnsamtal_antal"] = count.where(~mismatch, pd.NA)
    blank = said.isna().to_numpy() & ~w.bad["barnsamtal"] & (positive | zero) & ~none
    w.problems.add("barnsamtal_antal_motsagelse", blank, "barnsamtal", "",
                   np.where(positive, "Ja (läst från antalet)", "Nej (läst från antalet)"))
    filled = said.copy()
    filled[blank & positive] = True
    filled[blank & zero] = False
    w.bools["barnsamtal"] = filled


def _explicit_false(w: _Work, col: str) -> np.ndarray:
    """Yes/no cells read as Nej (not blank, not unknown)."""
    return (w.bools[col] == False).fillna(False).to_numpy(dtype=bool)  # noqa: E712


def check_utfall_insats(w: _Work) -> None:
    """insats_underforstadd / utfall_motsager_insats: the outcome of the utredning and the insats
    fields must agree (``schema.UTFALL_INSATS_ERBJUDEN``, ``schema.UTFALL_AVBOJT``).

    A blank ``insats_erbjuden`` takes the value the outcome implies ("Insats beviljad" -> Ja,
    "Inget behov" -> Nej), or Ja when a response, a start, a type or a legal basis of the insats is
    recorded; the warning says which. An explicit contradiction ("Insats beviljad" with Nej, "Inget
    behov" with an insats offered, "avböjer" with "Tackat ja") makes the insats field "uppgift
    saknas" (which of the two is right cannot be told from the row): the row stays in the flow up
    to the closed utredning and is bortfall from the insats stage on.
    """
    erb = w.bools["insats_erbjuden"]
    blank = erb.isna().to_numpy() & ~w.bad["insats_erbjuden"]
    utfall = w.codes["utredning_utfall"].astype(object)
    implied = pd.Series(pd.NA, index=erb.index, dtype="boolean")
    why = np.full(w.n, "", dtype=object)
    for code, value in schema.UTFALL_INSATS_ERBJUDEN.items():
        m = (utfall == code).to_numpy() & blank
        implied[m] = value
        why[m] = (f"{'Ja' if value else 'Nej'} (läst från utfallet "
                  f"{schema.code_label('utredning_utfall', code)!r})")
    insats_detail = (w.present("insats_svar") | w.is_true("insats_startad") | w.present("insats_typ")
                     | w.present("insats_lagrum"))
    from_detail = blank & insats_detail & implied.isna().to_numpy()
    implied[from_detail] = True
    why[from_detail] = "Ja (läst från svaret, starten, insatstypen eller lagrummet)"
    set_now = implied.notna().to_numpy()
    w.problems.add("insats_underforstadd", set_now, "insats_erbjuden", "", why)
    erb = erb.copy()
    erb[set_now] = implied[set_now]
    offered = erb.fillna(False).to_numpy(dtype=bool)
    not_offered = (erb == False).fillna(False).to_numpy(dtype=bool)  # noqa: E712
    granted_but_no = (utfall == "insats").to_numpy() & not_offered
    no_need_but_offered = (utfall == "inget_behov").to_numpy() & (offered | (
        insats_detail & not_offered))
    w.problems.add("utfall_motsager_insats", granted_but_no, "insats_erbjuden", w.text["insats_erbjuden"],
                   "Ja när utfallet är 'Insats beviljad' (eller ändra utfallet); räknas som uppgift saknas")
    w.problems.add("utfall_motsager_insats", no_need_but_offered & ~set_now, "insats_erbjuden",
                   w.text["insats_erbjuden"],
                   "Nej när utfallet är 'Inget behov' (eller ändra utfallet); räknas som uppgift saknas")
    w.problems.add("utfall_motsager_insats", no_need_but_offered & set_now, "utredning_utfall",
                   w.text["utredning_utfall"],
                   "insats är registrerad men utfallet är 'Inget behov'; Insats erbjuden räknas som "
                   "uppgift saknas")
    erb[granted_but_no | no_need_but_offered] = pd.NA
    w.bools["insats_erbjuden"] = erb
    declined_but_yes = utfall.isin(sorted(schema.UTFALL_AVBOJT)).to_numpy() & w.code_in("insats_svar", {"ja"})
    w.problems.add("utfall_motsager_insats", declined_but_yes, "insats_svar", w.text["insats_svar"],
                   "Tackat nej när utfallet är att vårdnadshavaren/den unge avböjer; svaret räknas som "
                   "uppgift saknas")
    svar = w.codes["insats_svar"].copy()
    svar[declined_but_yes] = np.nan
    w.codes["insats_svar"] = svar


def check_insats(w: _Work) -> None:
    """svar_utan_insats / startad_utan_ja / insats_utan_erbjudande (after
    :func:`check_utfall_insats`: a blank offer with a response is already read as Ja)."""
    not_offered = _explicit_false(w, "insats_erbjuden")
    w.problems.add("svar_utan_insats", w.present("insats_svar") & not_offered, "insats_svar",
                   w.text["insats_svar"], "svar anges bara när Insats erbjuden/beviljad är Ja")
    accepted_or_lvu = w.code_in("insats_svar", {"ja"}) | w.code_in("insats_lagrum", {"lvu"})
    unknown = w.bad["insats_svar"] | w.bad["insats_lagrum"] | w.codes["insats_svar"].isna().to_numpy()
    w.problems.add("startad_utan_ja", w.is_true("insats_startad") & ~accepted_or_lvu & ~unknown,
                   "insats_startad", w.text["insats_startad"],
                   "Insats startad = Ja bara när svaret är Tackat ja (eller insatsen ges enligt LVU)")
    for col in ("insats_typ", "insats_lagrum"):
        w.problems.add("insats_utan_erbjudande", w.present(col) & not_offered, col, w.text[col],
                       "anges bara när Insats erbjuden/beviljad är Ja")


def check_reasons(w: _Work) -> None:
    """orsak_saknas: an anmälan names at least one reason."""
    any_reason = np.zeros(w.n, dtype=bool)
    for col in schema.REASON_COLUMNS:
        any_reason |= w.is_true(col) | w.bad[col]
    missing = w.code_in("aktualiseringstyp", {"anmalan"}) & ~any_reason
    w.problems.add("orsak_saknas", missing, "orsak_*", "",
                   "minst en anmälningsorsak markerad med Ja; ärendetyp blir Övrigt")


def check_duplicates(w: _Work) -> None:
    """dubblett / dubblett_rad_id: later copies of an aktualisering or a rad_id are fatal."""
    rad = pd.Series(w.problems.rad_excel)
    keys = pd.DataFrame({"barn_id": w.text["barn_id"], "datum": w.dates["aktualiseringsdatum"],
                         "typ": w.codes["aktualiseringstyp"].astype(object),
                         **{c: w.bools[c].fillna(False) for c in schema.REASON_COLUMNS}})
    complete = (keys["barn_id"].notna() & keys["datum"].notna() & keys["typ"].notna()).to_numpy()
    _later_copies(w, keys, complete, rad, "dubblett", "aktualiseringsdatum",
                  "en rad per aktualisering: ta bort kopian (första förekomsten: rad {first})")
    ids = pd.DataFrame({"rad_id": w.text["rad_id"]})
    _later_copies(w, ids, w.present("rad_id"), rad, "dubblett_rad_id", "rad_id",
                  "ett unikt löpnummer per rad (redan använt på rad {first})")


def _later_copies(w: _Work, keys: pd.DataFrame, eligible: np.ndarray, rad: pd.Series, rule: str,
                  kolumn: str, template: str) -> None:
    """Flag every row of ``keys`` (where ``eligible``) that repeats an earlier row, naming the first."""
    rows = np.flatnonzero(eligible)
    sub = keys.iloc[rows]
    in_group = sub.duplicated(keep=False).to_numpy()
    if not in_group.any():
        return
    rows, sub = rows[in_group], sub[in_group]
    group = sub.groupby(list(sub.columns), sort=False, dropna=False).ngroup().to_numpy()
    first = pd.Series(rad.to_numpy()[rows]).groupby(group).transform("min").to_numpy()
    later = rad.to_numpy()[rows] != first
    mask = np.zeros(w.n, dtype=bool)
    mask[rows[later]] = True
    giltigt = np.full(w.n, "", dtype=object)
    giltigt[rows[later]] = [template.format(first=f) for f in first[later]]
    varde = w.text[kolumn] if kolumn == "rad_id" else ""
    w.problems.add(rule, mask, kolumn, varde, giltigt)


# ---------------------------------------------------------------------------------------------
# Step 5: the clean table (input columns typed, derived columns computed)
# ---------------------------------------------------------------------------------------------


@cache
def clean_dtype(col: str) -> Any:
    """``schema.pandas_dtype(col)``, built once per column."""
    return schema.pandas_dtype(col)


def with_clean_dtypes(df: pd.DataFrame) -> pd.DataFrame:
    """``df`` with exactly the clean-table columns, in order, each cast to its schema dtype."""
    out = df[list(schema.CLEAN_COLUMNS)]
    wrong = {c: clean_dtype(c) for c in schema.CLEAN_COLUMNS if out[c].dtype != clean_dtype(c)}
    return out.astype(wrong) if wrong else out


def typed_inputs(w: _Work) -> pd.DataFrame:
    """The kept input columns of every row, typed as in the clean table (file order)."""
    data: dict[str, Any] = {}
    for c in schema.columns(role="input"):
        if c.dtype == "str":
            data[c.name] = pd.array(w.text[c.name].to_numpy(dtype=object), dtype="string")
        elif c.dtype == "date":
            data[c.name] = w.dates[c.name].astype("datetime64[ns]").to_numpy()
        elif c.dtype == "code":
            data[c.name] = w.codes[c.name].array
        elif c.dtype == "int":
            data[c.name] = w.ints[c.name].astype("Int64").array
        else:
            b = w.bools[c.name]
            if c.name in schema.REASON_COLUMNS:
                b = b.fillna(False)  # never NA: blank = not ticked
            # insats_erbjuden / insats_startad stay NA here: derive_flow decides whether a blank is
            # "nej" (the stage could not have been reached) or "uppgift saknas" (it could)
            data[c.name] = b.astype("boolean").array
    return pd.DataFrame(data)


def unknown_when_absent(typed: pd.DataFrame, absent: list[str]) -> pd.DataFrame:
    """``typed`` with the yes/no columns the file does not have set to unknown (NA) on every row:
    an absent insats_startad is not "no insats started" (typed_inputs reads a blank as Nej)."""
    cols = [c for c in absent if schema.column(c).dtype == "bool" and c not in schema.REASON_COLUMNS]
    if not cols:
        return typed
    out = typed.copy()
    for c in cols:
        out[c] = pd.array([pd.NA] * len(out), dtype="boolean")
    return out


def derive_calendar(df: pd.DataFrame) -> None:
    """ar, manad, aldersgrupp."""
    akt = df["aktualiseringsdatum"]
    df["ar"] = akt.dt.year.astype("Int64")
    ym = (akt.dt.year * 100 + akt.dt.month).to_numpy()
    codes, uniques = pd.factorize(ym)
    df["manad"] = pd.array(np.array([f"{u // 100:04d}-{u % 100:02d}" for u in uniques], dtype=object)[codes],
                           dtype="string")
    bounds = [*schema.ALDERSGRUPP_GRANSER, schema.MAX_ALDER + 1]
    groups = pd.cut(df["alder"].astype("Float64"), bins=bounds, right=False,
                    labels=[g.code for g in schema.ALDERSGRUPP])
    df["aldersgrupp"] = pd.Categorical(groups.astype(object), dtype=clean_dtype("aldersgrupp"))


def derive_reasons(df: pd.DataFrame) -> None:
    """antal_orsaker and arendetyp (first group in priority order; ``ovrigt`` if none)."""
    flags = df[list(schema.REASON_COLUMNS)].to_numpy(dtype=bool)
    df["antal_orsaker"] = pd.array(flags.sum(axis=1), dtype="Int64")
    group_of = np.array([r.group for r in schema.ORSAKER])
    out = np.full(len(df), "ovrigt", dtype=object)
    for g in reversed(schema.ARENDETYP):  # highest priority last so it wins
        hit = flags[:, group_of == g.code].any(axis=1)
        out[hit] = g.code
    df["arendetyp"] = pd.Categorical(out, dtype=clean_dtype("arendetyp"))


def previous_date(child: np.ndarray, date: np.ndarray) -> np.ndarray:
    """For each row, the latest strictly earlier date of the same child (NaT if none).

    ``child`` is an integer code per row, ``date`` a datetime64[ns] array without NaT.
    """
    n = len(child)
    order = np.lexsort((date, child))
    c, d = child[order], date[order]
    new_run = np.ones(n, dtype=bool)
    new_run[1:] = (c[1:] != c[:-1]) | (d[1:] != d[:-1])
    run_start = np.maximum.accumulate(np.where(new_run, np.arange(n), 0))
    before = run_start - 1
    same_child = (before >= 0) & (c[np.maximum(before, 0)] == c)
    prev_sorted = np.where(same_child, d[np.maximum(before, 0)], np.datetime64("NaT", "ns"))
    prev = np.empty(n, dtype="datetime64[ns]")
    prev[order] = prev_sorted
    return prev


def derive_reaktualisering(df: pd.DataFrame, months: int) -> None:
    """tidigare_i_data / ateraktualisering: an earlier (strictly earlier date) aktualisering of the
    same child anywhere in the data / within ``months`` months (inclusive)."""
    child, _ = pd.factorize(df["barn_id"].to_numpy(dtype=object))
    dates = df["aktualiseringsdatum"].to_numpy(dtype="datetime64[ns]")
    prev = pd.Series(previous_date(child, dates), index=df.index)
    window_start = df["aktualiseringsdatum"] - pd.DateOffset(months=int(months))
    df["tidigare_i_data"] = pd.array(prev.notna().to_numpy(), dtype="boolean")
    df["ateraktualisering"] = pd.array((prev.notna() & (prev >= window_start)).to_numpy(), dtype="boolean")


def _days(later: pd.Series, earlier: pd.Series) -> pd.Series:
    return (later - earlier).dt.days.astype("Int64")


def _censored_deadline(done: pd.Series, days: pd.Series, start: pd.Series, period_slut: pd.Timestamp | None,
                       limit: int, applies: pd.Series) -> pd.Series:
    """Within the deadline, defined on the *complete cohort*: the rows whose deadline had passed at
    period_slut (more than ``limit`` days from ``start``). In it: True when done within ``limit``
    days, False when done later or still open. NA outside the cohort *whether done or not* (a share
    that kept the fast cases of the last weeks and dropped only the open ones would be biased
    upwards), where it does not apply or cannot be known (a missing date). Without a period_slut
    no cohort can be formed and every row is NA."""
    out = pd.Series(pd.NA, index=done.index, dtype="boolean")
    if period_slut is None:
        return out
    cohort = applies & start.notna() & ((period_slut - start).dt.days > limit)
    closed = cohort & done & days.notna()
    out[closed] = (days[closed] <= limit).astype("boolean")
    out[cohort & ~done] = False
    return out


#: The outcome fields of an utredning: a row added to an ongoing utredning takes them from it.
OUTCOME_FIELDS: tuple[str, ...] = ("utredning_utfall", "insats_erbjuden", "insats_svar", "insats_startad",
                                   "insats_typ", "insats_lagrum")


def ongoing_utredning(df: pd.DataFrame) -> np.ndarray:
    """For each row decided "Påförs pågående utredning": the position of the same child's own
    utredning running on the decision date (started on or before it, not closed before it; the
    latest such start), -1 when none is in the data or for other rows."""
    out = np.full(len(df), -1, dtype=np.int64)
    fb = df["fb_beslut"].astype(object)
    pag = (fb == "pagaende").to_numpy() & df["barn_id"].notna().to_numpy()
    own = ((fb == "inleda") | (df["utredning_start"].notna() & (fb != "pagaende"))).to_numpy()
    if not pag.any() or not own.any():
        return out
    start = df["utredning_start"].where(df["utredning_start"].notna(), df["fb_datum"])
    owns = pd.DataFrame({"barn": df["barn_id"].astype(object).to_numpy()[own], "pos": np.flatnonzero(own),
                         "start": start.to_numpy()[own], "slut": df["utredning_slut"].to_numpy()[own]})
    pags = pd.DataFrame({"barn": df["barn_id"].astype(object).to_numpy()[pag], "rad": np.flatnonzero(pag),
                         "dag": df["fb_datum"].where(df["fb_datum"].notna(),
                                                     df["aktualiseringsdatum"]).to_numpy()[pag]})
    m = pags.merge(owns, on="barn")
    m = m[(m["start"] <= m["dag"]) & (m["slut"].isna() | (m["slut"] >= m["dag"])) & (m["rad"] != m["pos"])]
    if m.empty:
        return out
    best = m.sort_values(["rad", "start", "pos"]).groupby("rad").tail(1)
    out[best["rad"].to_numpy()] = best["pos"].to_numpy()
    return out


def derive_flow(df: pd.DataFrame, period_slut: pd.Timestamp | None) -> None:
    """Stage flags, days and timeliness of the förhandsbedömning and utredning; insats flags.

    Three values (ja / nej / uppgift saknas = NA) for every stage after the utredning opened: a
    stage that cannot have been reached is "nej" by derivation (no insats without a closed
    utredning, no acceptance without an offer, no start without an acceptance); one that could
    have been reached and is blank is unknown (NA). A row added to an ongoing utredning
    (``fb_beslut`` "pagaende") takes the closing and the outcome fields of that utredning when it
    is in the data (:func:`ongoing_utredning`; ``utredning_slag`` "pafort") unless the row records
    an outcome of its own; otherwise (``pafort_utan_kalla``) its closing is unknown unless the row
    has an end date.
    """
    akt = df["aktualiseringsdatum"]
    every = pd.Series(True, index=df.index)
    decided = df["fb_beslut"].notna()
    df["fb_beslutad"] = decided.astype("boolean")
    df["dagar_till_fb"] = _days(df["fb_datum"], akt)
    df["fb_inom_frist"] = _censored_deadline(decided, df["dagar_till_fb"], akt, period_slut,
                                             schema.FB_FRIST_DAGAR, every)
    df["fb_oppen_vid_periodslut"] = (~decided).astype("boolean")

    opened = df["fb_beslut"].isin(["inleda", "pagaende"]) | df["utredning_start"].notna()
    pag = (df["fb_beslut"].astype(object) == "pagaende").to_numpy()
    ongoing = ongoing_utredning(df)
    linked = ongoing >= 0
    own_outcome = df[list(OUTCOME_FIELDS)].notna().any(axis=1).to_numpy()
    take = linked & ~own_outcome
    src = ongoing[take]
    for col in OUTCOME_FIELDS:  # the ongoing utredning's outcome, as recorded there
        values = df[col].copy()
        values.iloc[np.flatnonzero(take)] = df[col].iloc[src].to_numpy()
        df[col] = values
    slag = np.where(pag, np.where(linked, "pafort", "pafort_utan_kalla"), "egen").astype(object)
    slag[~opened.to_numpy()] = None
    df["utredning_slag"] = pd.Categorical(slag, dtype=clean_dtype("utredning_slag"))

    own_closed = df["utredning_slut"].notna().to_numpy()
    closed = pd.Series(own_closed, index=df.index, dtype="boolean")
    closed[linked & ~own_closed] = own_closed[ongoing[linked & ~own_closed]]
    closed[pag & ~linked & ~own_closed] = pd.NA
    start = df["utredning_start"].where(df["utredning_start"].notna(),
                                        df["fb_datum"].where(df["fb_beslut"] == "inleda"))
    df["utredning_inledd"] = opened.astype("boolean")
    df["utredning_avslutad"] = closed
    df["utredning_dagar"] = _days(df["utredning_slut"], start)
    # timeliness is the row's own utredning's (a påförd row has no own dates): as before the links
    own_done = pd.Series(own_closed, index=df.index)
    df["utredning_inom_frist"] = _censored_deadline(own_done, df["utredning_dagar"], start, period_slut,
                                                    schema.UTREDNING_FRIST_DAGAR, opened)
    df["utredning_oppen_vid_periodslut"] = (opened & ~closed).astype("boolean")

    def three_valued(flag: pd.Series, reachable: pd.Series) -> pd.Series:
        """Entered value; a blank is NA where the stage is or may be reachable, else "nej"."""
        out = flag.astype("boolean").copy()
        out[out.isna().to_numpy() & (reachable == False).fillna(False).to_numpy(dtype=bool)] = False  # noqa: E712
        return out

    df["insats_erbjuden"] = three_valued(df["insats_erbjuden"], closed)
    svar = df["insats_svar"].astype(object)
    accepted = pd.Series(pd.array(np.where(svar.isna(), None, svar == "ja"), dtype="boolean"), index=df.index)
    df["insats_accepterad"] = three_valued(accepted, df["insats_erbjuden"])
    df["insats_startad"] = three_valued(df["insats_startad"], df["insats_accepterad"])
    typ = df["insats_typ"]
    heldygn = pd.Series(typ.isin(sorted(schema.HELDYGN)).to_numpy(), index=df.index, dtype="boolean")
    heldygn[df["insats_erbjuden"].fillna(False).to_numpy(dtype=bool) & typ.isna().to_numpy()] = pd.NA
    df["insats_heldygn"] = heldygn


def build_clean_frame(typed: pd.DataFrame, rad_excel: np.ndarray, params: Mapping[str, Any],
                      period_slut: pd.Timestamp | None) -> pd.DataFrame:
    """Derive every derived column and return the clean table: schema order, dtypes, sorted rows."""
    df = typed.copy()
    df["kommun"] = pd.array([str(params.get("kommun", ""))] * len(df), dtype="string")
    df["rad_excel"] = pd.array(rad_excel, dtype="Int64")
    derive_calendar(df)
    derive_reasons(df)
    derive_reaktualisering(df, int(params.get("ateraktualisering_manader", 12)))
    derive_flow(df, period_slut)
    order = np.lexsort((rad_excel, df["aktualiseringsdatum"].to_numpy(dtype="datetime64[ns]")))
    df = df.take(order).reset_index(drop=True)
    return with_clean_dtypes(df)


# ---------------------------------------------------------------------------------------------
# The result, the accounting, and the public API
# ---------------------------------------------------------------------------------------------

QUARANTINE_COLUMNS: tuple[str, ...] = ("fil", "rad_excel", "regler", "kolumner")


@dataclass
class CleanResult:
    """The clean table, the quarantine, every problem and the accounting of one input file."""

    frame: pd.DataFrame
    quarantine: pd.DataFrame
    problems: pd.DataFrame
    accounting: dict[str, Any]

    def problem_list(self) -> list[Problem]:
        """The problems as :class:`genomlysning.problems.Problem` records."""
        return [Problem(**rec) for rec in self.problems.to_dict("records")]

    @property
    def has_fatal(self) -> bool:
        """True if any problem is fatal (fel)."""
        return bool((self.problems["allvarlighet"] == "fel").any())


def _mask_values(values: pd.Series) -> pd.Series:

    codes, uniques = pd.factorize(values.astype(str), use_na_sentinel=True)
    masked = np.array([mask_text(str(u)) for u in uniques] + [""], dtype=object)
    return pd.Series(masked[codes], index=values.index)


def ingest_rule(regel: str) -> Rule:
    """The rule of a problem reported by the import, recognised by the start of its text."""
    for prefix, rule in INGEST_RULES:
        if regel.startswith(prefix):
            return rule
    raise AssertionError("unreachable: the last prefix is empty")


def import_problems(problems: list[Problem], rad_excel: np.ndarray) -> pd.DataFrame:
    """The import's problems as rows of the problem table (row-level ones tied to their row)."""
    position = {int(r): i for i, r in enumerate(rad_excel)}
    records = []
    for p in problems:
        rule = ingest_rule(p.regel)
        records.append({"_pos": position.get(int(p.rad_excel), -1) if p.rad_excel else -1,
                        "fil": p.fil, "rad_excel": int(p.rad_excel), "kolumn": p.kolumn, "varde": p.varde,
                        "regel": f"{rule.id}: {p.regel}", "allvarlighet": p.allvarlighet,
                        "giltigt": p.giltigt, "_rule": rule.id})
    return pd.DataFrame(records, columns=["_pos", *REPORT_COLUMNS, "_rule"])


def _finish_problems(collected: pd.DataFrame, file_level: pd.DataFrame) -> pd.DataFrame:
    """All problems, masked and sorted (file level first, then by row, rule order, column order)."""
    allp = pd.concat([file_level, collected], ignore_index=True) if len(file_level) else collected
    rule_order = {r.id: i for i, r in enumerate(RULES)}
    col_order = {c: i for i, c in enumerate(schema.TEMPLATE_COLUMNS)}
    allp = allp.assign(
        varde=_mask_values(allp["varde"].fillna("")),
        giltigt=_mask_values(allp["giltigt"].fillna("")),
        fil=_mask_values(allp["fil"].fillna("")),
        _r=allp["_rule"].map(rule_order).fillna(-1),
        _c=allp["kolumn"].map(col_order).fillna(len(col_order)),
    )
    allp["rad_excel"] = allp["rad_excel"].astype(np.int64)
    allp["_pos"] = allp["_pos"].astype(np.int64)
    allp = allp.sort_values(["rad_excel", "_r", "_c", "kolumn", "varde"], kind="mergesort")
    return allp.reset_index(drop=True)


def _quarantine(problems: pd.DataFrame, fatal_rows: np.ndarray, fil: str,
                rad_excel: np.ndarray) -> pd.DataFrame:
    fatal = problems[(problems["allvarlighet"] == "fel") & (problems["_pos"] >= 0)]
    rules = fatal.groupby("_pos", sort=True)["_rule"].agg(lambda s: "; ".join(dict.fromkeys(s)))
    cols = fatal.groupby("_pos", sort=True)["kolumn"].agg(lambda s: "; ".join(dict.fromkeys(s)))
    pos = np.flatnonzero(fatal_rows)
    out = pd.DataFrame({"fil": fil, "rad_excel": rad_excel[pos].astype(np.int64),
                        "regler": rules.reindex(pos).to_numpy(), "kolumner": cols.reindex(pos).to_numpy()})
    return out.sort_values("rad_excel", kind="mergesort").reset_index(drop=True)


def _accounting(raw: RawTable, params: Mapping[str, Any], w: _Work, problems: pd.DataFrame,
                quarantine: pd.DataFrame, n_clean: int, fil: str) -> dict[str, Any]:

    rows_in, rows_q = w.n, len(quarantine)
    assert rows_in == n_clean + rows_q, "accounting: rows in != clean + quarantined"
    per_rule: dict[str, dict[str, int]] = {}
    for (rule, sev), n in problems.groupby(["_rule", "allvarlighet"]).size().items():
        per_rule.setdefault(str(rule), {"fel": 0, "varning": 0})[str(sev)] = int(n)
    q_by_rule: dict[str, int] = {}
    for regler in quarantine["regler"]:
        for rule in str(regler).split("; "):
            q_by_rule[rule] = q_by_rule.get(rule, 0) + 1
    row_level = problems[problems["_pos"] >= 0]
    warned = row_level.loc[row_level["allvarlighet"] == "varning", "_pos"].unique()
    clean_warned = np.setdiff1d(warned, row_level.loc[row_level["allvarlighet"] == "fel", "_pos"].unique())
    return {
        "kommun": str(params.get("kommun", "")),
        "fil": fil,
        "schema_version": schema.SCHEMA_VERSION,
        "period_slut": w.period_slut.strftime("%Y-%m-%d") if w.period_slut is not None else None,
        "period_slut_kalla": w.period_slut_kalla,
        "ateraktualisering_manader": int(params.get("ateraktualisering_manader", 12)),
        "rows_in": rows_in,
        "rows_clean": n_clean,
        "rows_quarantined": rows_q,
        "rows_clean_with_warnings": int(len(clean_warned)),
        "problems": {"fel": int((problems["allvarlighet"] == "fel").sum()),
                     "varning": int((problems["allvarlighet"] == "varning").sum())},
        "rules": per_rule,
        "rows_quarantined_by_rule": q_by_rule,
        "dropped_columns": [{"header": mask_text(str(h)), "reason": str(r)} for h, r in raw.dropped_columns],
        "columns_absent": list(raw.columns_absent),
    }


def clean(raw: RawTable, params: Mapping[str, Any], key: bytes | None = None) -> CleanResult:
    """Clean one raw table: every rule, quarantine of fatal rows, derived columns, accounting.

    ``key`` is the pseudonymisation key (at least 32 bytes); by default
    ``personnummer.load_key(params)``, read only if the file has an id to pseudonymise. Raises
    :class:`genomlysning.personnummer.SyntheticDataError` when params say ``synthetic: true`` but a
    personnummer does not follow the demo convention.
    """
    n = len(raw.frame)
    fil = mask_text(str(raw.fil))
    rad_excel = np.asarray(raw.rad_excel, dtype=np.int64)
    text, fact = _strip_texts(raw.frame.reset_index(drop=True), n)
    w = _Work(n=n, text=text, problems=_Collector(fil, rad_excel), dates={}, codes={}, bools={}, ints={},
              bad={}, fact=fact)
    check_synthetic(w, params, fil)
    get_key = _key_once(key, params)
    check_text_privacy(w)
    check_omrade(w, params)
    normalise_rad_id(w)
    read_dates(w)
    choose_period_slut(w, params)
    read_codes(w)
    read_ints(w)
    derive_from_personnummer(w, get_key)
    reconcile_age_and_sex(w)
    check_required(w)
    check_date_order(w)
    check_after_period(w)
    check_forhandsbedomning(w)
    check_utredning(w)
    check_utfall_insats(w)
    check_insats(w)
    check_reasons(w)
    check_duplicates(w)
    pseudonymise_rad_id(w, get_key)

    problems = _finish_problems(w.problems.frame(), import_problems(raw.problems, rad_excel))
    fatal_rows = np.zeros(n, dtype=bool)
    fatal_pos = problems.loc[(problems["allvarlighet"] == "fel") & (problems["_pos"] >= 0), "_pos"]
    fatal_rows[fatal_pos.to_numpy(dtype=np.int64)] = True
    quarantine = _quarantine(problems, fatal_rows, fil, rad_excel)
    typed = unknown_when_absent(typed_inputs(w), raw.columns_absent)
    keep = ~fatal_rows
    frame = build_clean_frame(typed[keep].reset_index(drop=True), rad_excel[keep], params, w.period_slut)
    if "insats_svar" in raw.columns_absent:  # no answers in the file: acceptance unknown, not "none"
        frame["insats_accepterad"] = pd.array([pd.NA] * len(frame), dtype="boolean")
    accounting = _accounting(raw, params, w, problems, quarantine, len(frame), fil)
    report = problems[list(REPORT_COLUMNS)].reset_index(drop=True)
    report["rad_excel"] = report["rad_excel"].astype(np.int64)
    return CleanResult(frame=frame, quarantine=quarantine, problems=report, accounting=accounting)


PROCESSED_FILES: dict[str, str] = {
    "aktualiseringar": "aktualiseringar.parquet",
    "karantan": "karantan.csv",
    "valideringsrapport": "valideringsrapport.csv",
    "redovisning": "redovisning.json",
}


def _atomic_write(path: Path, write: Callable[[Path], None]) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    write(tmp)
    tmp.replace(path)


def _spreadsheet_safe(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with text cells and headers that a spreadsheet would evaluate (``= + - @``, tab,
    CR) neutralised as in published tables: the analyst opens these local files in Excel too."""
    from genomlysning.report import neutralise_cell

    out = frame.rename(columns=lambda c: neutralise_cell(str(c)))
    for col in out.columns:
        if not pd.api.types.is_numeric_dtype(out[col]):
            out[col] = out[col].map(lambda v: neutralise_cell(v) if isinstance(v, str) else v)
    return out


def write_processed(result: CleanResult, kommun: str) -> dict[str, Path]:
    """Write the clean table, quarantine, validation report and accounting (byte-reproducible)."""
    out = paths.processed_dir(kommun)
    out.mkdir(parents=True, exist_ok=True)
    files = {name: out / fname for name, fname in PROCESSED_FILES.items()}
    csv = {"index": False, "lineterminator": "\n", "encoding": "utf-8"}
    _atomic_write(files["aktualiseringar"],
                  lambda p: result.frame.to_parquet(p, index=False, engine="pyarrow", compression="snappy"))
    _atomic_write(files["karantan"], lambda p: _spreadsheet_safe(result.quarantine).to_csv(p, **csv))
    _atomic_write(files["valideringsrapport"], lambda p: _spreadsheet_safe(result.problems).to_csv(p, **csv))
    text = json.dumps(result.accounting, sort_keys=True, indent=2, ensure_ascii=False) + "\n"
    _atomic_write(files["redovisning"], lambda p: p.write_text(text, encoding="utf-8"))
    return files


def load_clean(kommun: str) -> pd.DataFrame:
    """The clean table of ``kommun`` (columns ``schema.CLEAN_COLUMNS``, dtypes ``schema.pandas_dtype``)."""
    path = paths.processed_dir(kommun) / PROCESSED_FILES["aktualiseringar"]
    if not path.is_file():
        raise FileNotFoundError(
            f"{paths.relative(path)} is missing: no clean data for {kommun!r}. Run "
            f"`genomlysning prepare --kommun {kommun}` (or `make processed` for the demo data) first.")
    df = pd.read_parquet(path, engine="pyarrow")
    missing = [c for c in schema.CLEAN_COLUMNS if c not in df.columns]
    if missing:
        raise ValueError(f"{paths.relative(path)} lacks columns {missing} (written by an older schema); "
                         f"rerun `genomlysning prepare --kommun {kommun}`")
    return with_clean_dtypes(df)


def input_file(params: Mapping[str, Any], input_path: str | Path | None = None) -> Path:
    """The raw file: ``input_path``, else params ``input``, else the only data file in data/raw/<kommun>/."""
    if input_path:
        return paths.resolve(input_path)
    if params.get("input"):
        return paths.resolve(str(params["input"]))
    folder = paths.raw_dir(str(params["kommun"]))
    found = sorted(p for p in folder.glob("*") if p.suffix.lower() in {".csv", ".xlsx"})
    if len(found) == 1:
        return found[0]
    if params.get("lang") == "en":
        raise FileNotFoundError(f"no input file for {params['kommun']!r}: set input: in its params file "
                                f"(found {len(found)} candidate files in {paths.relative(folder)}/)")
    raise FileNotFoundError(f"ingen indatafil för {params['kommun']!r}: ange input: i params-filen "
                            f"({len(found)} möjliga filer i {paths.relative(folder)}/)")


def run_cleaning(kommun: str, input_path: str | Path | None = None, params_path: str | Path | None = None,
                 overrides: Mapping[str, Any] | None = None) -> CleanResult:
    """Load params, read the raw file, clean it and write data/processed/<kommun>/."""
    from genomlysning import ingest
    from genomlysning import params as params_mod

    prm = params_mod.load(params_path or kommun)
    prm.update({k: v for k, v in (overrides or {}).items() if v is not None})
    prm["kommun"] = kommun
    raw = ingest.read_raw(input_file(prm, input_path), prm)
    result = clean(raw, prm)
    write_processed(result, kommun)
    return result


# ---------------------------------------------------------------------------------------------
# Human-readable report and the CLI
# ---------------------------------------------------------------------------------------------


def _n(x: int) -> str:
    return f"{x:,}".replace(",", " ")


def accounting_line(acc: Mapping[str, Any]) -> str:
    """One line: rows in = clean + quarantined, and the number of warnings."""
    return (f"{acc['kommun']}: {_n(acc['rows_in'])} rader in = {_n(acc['rows_clean'])} rena + "
            f"{_n(acc['rows_quarantined'])} i karantän; {_n(acc['problems']['varning'])} varningar")


def rule_table(result: CleanResult) -> pd.DataFrame:
    """Problems per rule: id, description, number of fel and varning, rows quarantined."""
    acc = result.accounting
    rows = []
    for rule_id, counts in acc["rules"].items():
        rule = RULES_BY_ID.get(rule_id)
        rows.append({"regel": rule_id, "beskrivning": rule.sv if rule else "",
                     "fel": counts.get("fel", 0), "varning": counts.get("varning", 0),
                     "rader_i_karantan": acc["rows_quarantined_by_rule"].get(rule_id, 0)})
    order = {r.id: i for i, r in enumerate(RULES)}
    out = pd.DataFrame(rows, columns=["regel", "beskrivning", "fel", "varning", "rader_i_karantan"])
    out = out.sort_values("regel", key=lambda s: s.map(order).fillna(-1), kind="mergesort")
    return out.reset_index(drop=True)


#: What to do about a rule's problems, where the params file can say it (shown once per rule).
RULE_ACTION: dict[str, str] = {
    "okand_kod": ("säg vad exportens värden betyder med mapping.values i params-filen, t.ex. "
                  "mapping: {values: {fb_beslut: {\"Utredning inleds ej\": inte_inleda}}}; "
                  "`genomlysning map FIL` skriver ett utkast"),
    "stavning_tolkad": ("kontrollera tolkningen; skriv värdet i mapping.values i params-filen så läses det "
                        "utan varning"),
    "okand_orsak": ("säg vad orsakerna betyder med mapping.values under orsakskolumnens rubrik, t.ex. "
                    "mapping: {values: {Anmälningsorsak: {\"Våld mot barn\": vald_mot_barn}}}"),
    "kolumn_borttagen": ("döp om kolumnen med mapping.columns eller ta bort den med mapping.drop i "
                         "params-filen"),
}


def _rows_text(rows: pd.Series, most: int = 3) -> str:
    nums = [int(r) for r in rows if int(r) > 0]
    if not nums:
        return ""
    shown = ", ".join(str(r) for r in nums[:most])
    return f" (rad {shown}{' …' if len(nums) > most else ''})"


def _group_lines(sub: pd.DataFrame, most_values: int | None) -> list[str]:
    """One column of one rule: what is valid (once), then each distinct value with its count."""
    lines: list[str] = []
    giltigt = sub["giltigt"].unique()
    one_valid = len(giltigt) == 1
    if one_valid and giltigt[0]:
        lines.append(f"      giltigt: {giltigt[0]}")
    counts = sub.groupby(["varde", *([] if one_valid else ["giltigt"])], sort=False, dropna=False)
    groups = sorted(counts, key=lambda kv: (-len(kv[1]), str(kv[0])))
    shown = groups if most_values is None else groups[:most_values]
    for key, g in shown:
        varde, valid = (key, "") if one_valid else key
        varde = varde[0] if isinstance(varde, tuple) else varde
        val = repr(varde) if varde != "" else "(utan värde)"
        extra = f" – {valid}" if valid else ""
        lines.append(f"      {val}: {_n(len(g))}{_rows_text(g['rad_excel'])}{extra}")
    if len(shown) < len(groups):
        rest = sum(len(g) for _, g in groups[len(shown):])
        lines.append(f"      … och {_n(len(groups) - len(shown))} värden till ({_n(rest)} problem av "
                     "samma slag)")
    return lines


#: Longest value shown as written in the list of unknown values (longer: free text, shape only).
CODE_LIKE_MAX_LEN = 60
_LONG_DIGITS = re.compile(r"\d{5,}|@|https?:")


def code_like(text: str, count: int, min_count: int) -> bool:
    """Whether a value of a coded column may be shown as written to the analyst (validate, map): it
    recurs (``count >= min_count``, so a one-off name or note is not), is short, and holds nothing
    like a personnummer, a phone number, an e-mail address or a link."""
    from genomlysning import personnummer as pn

    t = str(text)
    return (count >= min_count and 0 < len(t) <= CODE_LIKE_MAX_LEN and "\n" not in t
            and not _LONG_DIGITS.search(t) and not pn.contains(t))


def unknown_values(raw: RawTable, params: Mapping[str, Any]) -> pd.DataFrame:
    """The distinct values per coded or yes/no column that are no declared spelling (``okand_kod``):
    ``kolumn, varde, antal``. A value is shown as written when :func:`code_like` (it recurs at least
    ``k`` times), otherwise by its shape; values of one shape are counted together."""
    min_count = int(params.get("k", 5))
    rows = []
    for c in schema.columns(role="input"):
        if c.dtype not in ("code", "bool"):
            continue
        s = raw.frame[c.name].dropna().astype(str).str.strip()
        s = s[s != ""]
        if s.empty:
            continue
        shown: dict[str, int] = {}
        for value, n in s.value_counts(sort=False).items():
            if match_code(str(value), c.name)[1] != "okand":
                continue
            text = str(value)
            key = text if code_like(text, int(n), min_count) else display_value(c.name, text)
            shown[key] = shown.get(key, 0) + int(n)
        rows += [{"kolumn": c.name, "varde": v, "antal": n}
                 for v, n in sorted(shown.items(), key=lambda kv: (-kv[1], kv[0]))]
    return pd.DataFrame(rows, columns=["kolumn", "varde", "antal"])


def format_report(result: CleanResult, examples_per_rule: int | None = 20,
                  unknown: pd.DataFrame | None = None) -> str:
    """The accounting, then every problem grouped by rule and column: what is valid and what to do
    said once, each distinct value (shown safely) with its count and first rows. ``examples_per_rule``
    is the most distinct values listed per column (None: all); ``unknown`` (:func:`unknown_values`)
    adds the list of distinct unknown values per column."""
    acc = result.accounting
    ok = acc["rows_in"] == acc["rows_clean"] + acc["rows_quarantined"]
    lines = [
        f"Valideringsrapport: {acc['fil']} ({acc['kommun']})",
        f"  Rader in:          {_n(acc['rows_in']):>10}",
        f"  Rena rader:        {_n(acc['rows_clean']):>10}   (varav {_n(acc['rows_clean_with_warnings'])} "
        "med varningar)",
        f"  Rader i karantän:  {_n(acc['rows_quarantined']):>10}",
        f"  Kontroll: rader in = rena + karantän {'stämmer' if ok else 'STÄMMER INTE'}",
        f"  Problem: {_n(acc['problems']['fel'])} fel, {_n(acc['problems']['varning'])} varningar; "
        f"period_slut {acc['period_slut']} (från {acc['period_slut_kalla']})",
    ]
    if acc["dropped_columns"]:
        lines.append("  Borttagna kolumner: " + ", ".join(f"{d['header']} ({d['reason']})"
                                                          for d in acc["dropped_columns"]))
    if acc.get("columns_absent"):
        from genomlysning.ingest import ABSENT_NOTE

        lines.append(f"  Kolumner som saknas i filen: {', '.join(acc['columns_absent'])} – {ABSENT_NOTE}")
    table = rule_table(result)
    if not table.empty:
        lines += ["", "Problem per regel (fel = raden sätts i karantän, varning = raden behålls):"]
        for r in table.itertuples():
            lines.append(f"  {r.regel:<30} {r.fel:>7} fel {r.varning:>7} varn.  {r.beskrivning}")
    probs = result.problems
    rules = probs["regel"].str.split(":").str[0]
    for r in table.itertuples():
        sub = probs[rules == r.regel]
        lines += ["", f"[{r.regel}] {len(sub)} st – {r.beskrivning}"]
        if r.regel in RULE_ACTION:
            lines.append(f"  Gör så här: {RULE_ACTION[r.regel]}")
        files = sub["fil"].unique()
        for kolumn, g in sub.groupby("kolumn", sort=False):
            sev = "/".join(sorted(g["allvarlighet"].unique()))
            where = f"kolumn {kolumn!r}" if kolumn else "hela filen/raden"
            in_file = f" i {files[0]}" if len(files) == 1 else ""
            lines.append(f"  {where}: {_n(len(g))} st [{sev}]{in_file}")
            texts = [t.split(": ", 1)[-1] for t in g["regel"].unique()]
            lines += [f"      {t}" for t in texts if t != r.beskrivning]  # the import's own wording
            lines += _group_lines(g, examples_per_rule)
    if unknown is not None and len(unknown):
        lines += ["", "Okända värden per kolumn (att mappa med mapping.values):"]
        for kolumn, g in unknown.groupby("kolumn", sort=False):
            vals = ", ".join(f"{v!r} ({_n(n)})" for v, n in zip(g["varde"], g["antal"], strict=True))
            lines.append(f"  {kolumn}: {vals}")
    return "\n".join(lines)


def cli_validate(args: argparse.Namespace) -> int:
    """``genomlysning validate FILE [--params P]``: print the report, write nothing; 1 on fatal problems."""
    import secrets

    from genomlysning import ingest
    from genomlysning import params as params_mod
    from genomlysning import personnummer as pn

    path = Path(args.file)
    if not path.is_file():
        print(f"genomlysning validate: {mask_text(str(args.file))}: filen finns inte")
        return 2
    try:
        if args.params:
            prm = params_mod.load(args.params)
        else:
            prm = {**params_mod.DEFAULTS, "kommun": path.stem, "namn": path.stem}
        raw = ingest.read_raw(path, prm)
        # Nothing is written, so a throw-away key serves: barn_id is only compared within this run.
        result = clean(raw, prm, key=secrets.token_bytes(32))
    except (params_mod.ParamsError, pn.SyntheticDataError) as exc:
        print(f"genomlysning validate: {exc}")
        return 1
    except ingest.IngestError as exc:
        print(f"genomlysning validate: {exc}")
        for problem in [p for p in exc.problems if p.allvarlighet == "fel" and not p.rad_excel][:10]:
            print("  " + problem.message())
        return 1
    print(format_report(result, examples_per_rule=12, unknown=unknown_values(raw, prm)))
    return 1 if result.has_fatal else 0


def cli_prepare(args: argparse.Namespace) -> int:
    """``genomlysning prepare [--kommun K ...]``: clean each municipality into data/processed/."""
    from genomlysning import params as params_mod
    from genomlysning.personnummer import KeyMissingError

    kommuner = args.kommun or params_mod.all_kommuner()
    if not kommuner:
        print("genomlysning prepare: inga params-filer i params/; kör `genomlysning demo-data` eller skriv "
              "params/<kommun>.yaml")
        return 1
    status = 0
    for kommun in kommuner:
        try:
            result = run_cleaning(kommun)
        except (FileNotFoundError, ValueError, KeyMissingError) as exc:
            print(f"{mask_text(str(kommun))}: FEL: {exc}")
            file_level = [p for p in getattr(exc, "problems", [])
                          if p.allvarlighet == "fel" and not p.rad_excel]
            for problem in file_level[:10]:
                print("  " + problem.message())
            status = 1
            continue
        print(f"{accounting_line(result.accounting)} -> "
              f"{paths.relative(paths.processed_dir(kommun))}/")
    return status


# ---------------------------------------------------------------------------------------------
# Tables for the cleaning notebook (labels in Swedish or English)
# ---------------------------------------------------------------------------------------------

#: Column and row labels of the cleaning tables (the rules carry their own sv/en descriptions).
UI: dict[str, dict[str, str]] = {
    "post": {"sv": "Post", "en": "Item"},
    "antal": {"sv": "Antal", "en": "Count"},
    "rows_in": {"sv": "Rader in", "en": "Rows in"},
    "rows_clean": {"sv": "Rena rader", "en": "Clean rows"},
    "rows_quarantined": {"sv": "Rader i karantän", "en": "Rows in quarantine"},
    "rows_clean_with_warnings": {"sv": "  varav rena rader med varningar",
                                 "en": "  of which clean rows with warnings"},
    "problems_fel": {"sv": "Fel (raden sätts i karantän)", "en": "Errors (row quarantined)"},
    "problems_varning": {"sv": "Varningar (raden behålls)", "en": "Warnings (row kept)"},
    "regel": {"sv": "Regel", "en": "Rule"},
    "beskrivning": {"sv": "Beskrivning", "en": "Description"},
    "allvarlighet": {"sv": "Allvarlighet", "en": "Severity"},
    "fel": {"sv": "Fel", "en": "Errors"},
    "varning": {"sv": "Varningar", "en": "Warnings"},
    "rader_i_karantan": {"sv": "Rader i karantän", "en": "Rows in quarantine"},
    "kolumn": {"sv": "Kolumn", "en": "Column"},
    "rubrik": {"sv": "Kolumnrubrik", "en": "Column header"},
    "skal": {"sv": "Skäl", "en": "Reason"},
    "n": {"sv": "Antal med värde", "en": "Count with a value"},
    "median": {"sv": "Median", "en": "Median"},
    "p25": {"sv": "Nedre kvartil", "en": "Lower quartile"},
    "p75": {"sv": "Övre kvartil", "en": "Upper quartile"},
    "frist": {"sv": "Tidsfrist (dagar)", "en": "Deadline (days)"},
    "inga_problem": {"sv": "Inga problem hittades i filen.", "en": "No problems were found in the file."},
    "inga_exempel": {"sv": "Inga problem att visa.", "en": "No problems to show."},
    "alla_kolumner": {"sv": "Alla kolumner i filen lästes in.", "en": "Every column of the file was read."},
    "sev_fel": {"sv": "fel", "en": "error"},
    "sev_varning": {"sv": "varning", "en": "warning"},
}
#: Rules whose severity depends on the column (see the module docstring).
MIXED_SEVERITY: dict[str, dict[str, str]] = {
    "okand_kod": {"sv": "fel i aktualiseringstyp, fb_beslut, insats_erbjuden, insats_svar, insats_startad; "
                        "annars varning", "en": "error in aktualiseringstyp, fb_beslut, insats_erbjuden, "
                        "insats_svar, insats_startad; otherwise warning"},
    "personnummer_i_text": {"sv": "fel i id-, datum-, obligatoriska och stegkolumner; annars varning",
                            "en": "error in id, date, required and stage columns; otherwise warning"},
    "utan_utredning": {"sv": "fel för slutdatum och utfall; varning för barnsamtal och kontakter",
                       "en": "error for end date and outcome; warning for conversations and contacts"},
}
#: Derived (and a few input) columns whose distribution the notebook shows.
DISTRIBUTION_COLUMNS: tuple[str, ...] = (
    "aldersgrupp", "kon", "arendetyp", "antal_orsaker", "ateraktualisering", "tidigare_i_data", "fb_beslutad",
    "fb_inom_frist", "fb_oppen_vid_periodslut", "utredning_inledd", "utredning_avslutad",
    "utredning_inom_frist", "utredning_oppen_vid_periodslut", "insats_accepterad", "insats_heldygn",
)


def _ui(key: str, lang: schema.Lang) -> str:
    return UI[key][lang]


def ui_text(key: str, lang: schema.Lang = "sv") -> str:
    """A label or message of the cleaning tables (:data:`UI`) in ``lang``."""
    return _ui(key, lang)


def run_line(result: CleanResult, lang: schema.Lang = "sv") -> str:
    """Which file, period end (and its source), re-referral window and schema version were used."""
    acc = result.accounting
    if lang == "en":
        source = "params file" if acc["period_slut_kalla"] == "params" else "latest date in the file"
        return (f"File: {acc['fil']}. Period end: {acc['period_slut']} ({source}). Re-referral window: "
                f"{acc['ateraktualisering_manader']} months. Schema {acc['schema_version']}.")
    source = "params-filen" if acc["period_slut_kalla"] == "params" else "senaste datumet i filen"
    return (f"Fil: {acc['fil']}. Periodslut: {acc['period_slut']} ({source}). Återaktualiseringsfönster: "
            f"{acc['ateraktualisering_manader']} månader. Schema {acc['schema_version']}.")


def _number(x: object, lang: schema.Lang) -> str:
    from genomlysning import report

    return report.format_number(x, lang)


def _severity(value: str, lang: schema.Lang) -> str:
    return _ui(f"sev_{value}", lang)


def accounting_table(result: CleanResult, lang: schema.Lang = "sv") -> pd.DataFrame:
    """Rows in, clean, quarantined (and clean with warnings), and the number of problems."""
    acc = result.accounting
    items = [("rows_in", acc["rows_in"]), ("rows_clean", acc["rows_clean"]),
             ("rows_quarantined", acc["rows_quarantined"]),
             ("rows_clean_with_warnings", acc["rows_clean_with_warnings"]),
             ("problems_fel", acc["problems"]["fel"]), ("problems_varning", acc["problems"]["varning"])]
    return pd.DataFrame({_ui("post", lang): [_ui(k, lang) for k, _ in items],
                         _ui("antal", lang): [_number(v, lang) for _, v in items]})


def accounting_sentence(result: CleanResult, lang: schema.Lang = "sv") -> str:
    """The accounting as one sentence (rows in = clean + quarantined, checked)."""
    acc = result.accounting
    ok = acc["rows_in"] == acc["rows_clean"] + acc["rows_quarantined"]
    if lang == "en":
        check = "adds up" if ok else "DOES NOT ADD UP"
        return (f"Rows in = clean rows + rows in quarantine: {_n(acc['rows_in'])} = "
                f"{_n(acc['rows_clean'])} + {_n(acc['rows_quarantined'])} ({check}).")
    check = "stämmer" if ok else "STÄMMER INTE"
    return (f"Rader in = rena rader + rader i karantän: {_n(acc['rows_in'])} = {_n(acc['rows_clean'])} + "
            f"{_n(acc['rows_quarantined'])} ({check}).")


def rule_summary(result: CleanResult, lang: schema.Lang = "sv") -> pd.DataFrame:
    """Problems per rule (labelled): rule, description, errors, warnings, rows quarantined."""
    table = rule_table(result)
    if lang == "en":
        table["beskrivning"] = [RULES_BY_ID[r].en if r in RULES_BY_ID else "" for r in table["regel"]]
    for col in ("fel", "varning", "rader_i_karantan"):
        table[col] = [_number(v, lang) for v in table[col]]
    return table.rename(columns={c: _ui(c, lang) for c in table.columns})


def rules_reference(lang: schema.Lang = "sv") -> pd.DataFrame:
    """Every rule with its severity and description (what the cleaning checks)."""
    rows = [{"regel": r.id,
             "allvarlighet": (MIXED_SEVERITY[r.id][lang] if r.id in MIXED_SEVERITY
                              else _severity(r.allvarlighet, lang)),
             "beskrivning": r.sv if lang == "sv" else r.en} for r in RULES]
    out = pd.DataFrame(rows)
    return out.rename(columns={c: _ui(c, lang) for c in out.columns})


def problem_counts(result: CleanResult, lang: schema.Lang = "sv") -> pd.DataFrame:
    """Problems per rule and column: errors, warnings and rows quarantined - counts only, no row
    numbers or values (those stay in data/processed/<kommun>/valideringsrapport.csv)."""
    p = result.problems.assign(regel=result.problems["regel"].str.split(":").str[0])
    fatal = p[(p["allvarlighet"] == "fel") & (p["rad_excel"] > 0)]
    keys = ["regel", "kolumn"]
    counts = p.groupby(keys + ["allvarlighet"]).size().unstack(fill_value=0)
    counts = counts.reindex(columns=["fel", "varning"], fill_value=0)
    counts["rader_i_karantan"] = fatal.groupby(keys)["rad_excel"].nunique()
    out = counts.fillna(0).astype(int).reset_index()
    order = {r.id: i for i, r in enumerate(RULES)}
    out = out.sort_values(keys, key=lambda s: s.map(order) if s.name == "regel" else s, kind="mergesort")
    for col in ("fel", "varning", "rader_i_karantan"):
        out[col] = [_number(v, lang) for v in out[col]]
    out = out[["regel", "kolumn", "fel", "varning", "rader_i_karantan"]].reset_index(drop=True)
    out.columns.name = None
    return out.rename(columns={c: _ui(c, lang) for c in out.columns})


def dropped_columns_table(result: CleanResult, lang: schema.Lang = "sv") -> pd.DataFrame:
    """The columns of the file that were not read, and why; then the schema columns the file lacks
    (their indicators are not available, never zero)."""
    from genomlysning.ingest import ABSENT_NOTE

    rows = [(d["header"], d["reason"]) for d in result.accounting["dropped_columns"]]
    absent = ABSENT_NOTE if lang != "en" else ("absent from the file: its indicators are shown as not "
                                               "available (never as zero)")
    rows += [(f"{schema.label(c, lang)} ({c})", absent) for c in result.accounting.get("columns_absent", [])]
    return pd.DataFrame({_ui("rubrik", lang): [h for h, _ in rows], _ui("skal", lang): [r for _, r in rows]})


def distributions(frame: pd.DataFrame, k: int) -> pd.DataFrame:
    """Counts and shares of the values of :data:`DISTRIBUTION_COLUMNS` in the clean table, with
    small counts suppressed (``disclose``; the total per variable is the number of clean rows).

    Tidy: variabel, kategori (code, ``True``/``False``, or None for missing), antal, andel.
    """
    from genomlysning import disclose

    parts = []
    for col in DISTRIBUTION_COLUMNS:
        s = frame[col]
        if isinstance(s.dtype, pd.CategoricalDtype):
            cats: list[object] = list(s.cat.categories)
        elif s.dtype == "boolean":
            cats = [True, False]
        else:
            cats = sorted(int(v) for v in s.dropna().unique())
        counts = [int((s == c).fillna(False).sum()) for c in cats]
        if s.isna().any():
            cats, counts = [*cats, None], [*counts, int(s.isna().sum())]
        n = len(s)
        parts.append(pd.DataFrame({"variabel": col, "kategori": pd.Series(cats, dtype=object),
                                   "antal": counts, "andel": [c / n if n else np.nan for c in counts]}))
    table = pd.concat(parts, ignore_index=True)
    return disclose.mask_table(table, ["antal"], k, linked={"andel": "antal"}, by=["variabel"])


def days_table(frame: pd.DataFrame, k: int, lang: schema.Lang = "sv") -> pd.DataFrame:
    """Days to the förhandsbedömning decision and utredning length: count, quartiles, deadline.

    Quartiles of fewer than ``k`` values are not shown.
    """
    rows = []
    deadlines = (("dagar_till_fb", schema.FB_FRIST_DAGAR), ("utredning_dagar", schema.UTREDNING_FRIST_DAGAR))
    for col, limit in deadlines:
        v = frame[col].dropna().astype(float)
        show = len(v) >= k
        q = v.quantile([0.25, 0.5, 0.75]).tolist() if show else [None] * 3
        rows.append({"variabel": schema.label(col, lang),
                     "n": _number(len(v), lang) if len(v) == 0 or show else "..",
                     **{name: _number(x, lang) for name, x in zip(("p25", "median", "p75"), q, strict=True)},
                     "frist": _number(limit, lang)})
    out = pd.DataFrame(rows)
    return out.rename(columns={c: _ui(c, lang) if c in UI else schema.text(c, lang) for c in out.columns})

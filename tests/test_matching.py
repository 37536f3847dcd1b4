"""Matching of coded cells never guesses across meaning (issue 15, case 1).

Real-world phrasings of every decision field are read as the code they mean; a negated phrase is
never read as its opposite; a value that is no declared spelling (nor a typo of exactly one) is an
unknown code until the params mapping says what it is.
"""

from __future__ import annotations

import pytest
from clean_support import MINIMAL, found, row, run

from genomlysning import clean, schema

#: (column, cell as a case system writes it, code it means)
REAL_WORLD: list[tuple[str, str, object]] = [
    ("fb_beslut", "Utredning inleds", "inleda"),
    ("fb_beslut", "Utredning inleds 11 kap 1 § SoL", "inleda"),
    ("fb_beslut", "Utredning inleds enl. 11 kap. 1 § SoL", "inleda"),
    ("fb_beslut", "Inleda utredning (11:1 SoL)", "inleda"),
    ("fb_beslut", "Beslut att inleda utredning", "inleda"),
    ("fb_beslut", "Utredning inleds ej", "inte_inleda"),
    ("fb_beslut", "Utredning inleds inte", "inte_inleda"),
    ("fb_beslut", "Utredning inleds ej 11 kap 1 § SoL", "inte_inleda"),
    ("fb_beslut", "Ingen utredning", "inte_inleda"),
    ("fb_beslut", "Beslut att inte inleda utredning", "inte_inleda"),
    ("fb_beslut", "Påförs pågående utredning", "pagaende"),
    ("fb_beslut", "Läggs till pågående utredning", "pagaende"),
    ("utredning_utfall", "Insats beviljas", "insats"),
    ("utredning_utfall", "Bifall", "insats"),
    ("utredning_utfall", "Behov saknas", "inget_behov"),
    ("utredning_utfall", "Ej behov av insats", "inget_behov"),
    ("utredning_utfall", "Vårdnadshavare avböjer", "avbojd"),
    ("utredning_utfall", "Samtycke saknas", "avbojd"),
    ("utredning_utfall", "Ansökan om LVU", "lvu"),
    ("utredning_utfall", "Hänvisad till annan huvudman", "hanvisad"),
    ("utredning_utfall", "Flytt", "annat"),
    ("insats_svar", "Tackar ja", "ja"),
    ("insats_svar", "Accepterad", "ja"),
    ("insats_svar", "Avböjd", "nej"),
    ("insats_svar", "Tackar nej", "nej"),
    ("insats_erbjuden", "Ja", True),
    ("insats_erbjuden", "Nej", False),
    ("insats_startad", "J", True),
    ("insats_startad", "N", False),
]


@pytest.mark.parametrize(("col", "text", "code"), REAL_WORLD)
def test_real_world_phrasings_of_decision_fields(col: str, text: str, code: object) -> None:
    value, status = clean.match_code(text, col)
    assert value == code and status in ("exakt", "tolkad"), (text, value, status)


def test_paragraph_reference_is_read_with_a_warning_not_quarantined() -> None:
    result = run([row(fb_beslut="Utredning inleds 11 kap 1 § SoL")])
    assert found(result) == {(2, "stavning_tolkad", "fb_beslut", "varning")}
    assert result.frame["fb_beslut"].tolist() == ["inleda"]
    assert result.frame["utredning_inledd"].tolist() == [True]


def test_issue_case_negation_is_never_read_as_its_opposite() -> None:
    """The case of the issue: 'Utredning inleds ej' was read as 'Inleda utredning'."""
    decided = {**MINIMAL, "fb_datum": "2024-03-10"}
    result = run([row(decided, fb_beslut="Utredning inleds ej"),
                  row(decided, rad_id="2", aktualiseringsdatum="2024-03-06",
                      fb_beslut="Utredning inleds ej.")])
    assert found(result) == set()
    assert result.frame["fb_beslut"].tolist() == ["inte_inleda", "inte_inleda"]
    assert result.frame["utredning_inledd"].tolist() == [False, False]


NEGATIONS = ("ej", "inte", "ingen", "icke", "utan", "nej", "avslag")


def _positive_spellings() -> list[tuple[str, str, object]]:
    out = []
    for c in schema.columns(role="input"):
        if c.dtype not in ("code", "bool"):
            continue
        for spelling, value in clean.code_lookup(c.name).items():
            if not clean._negations(spelling) and len(spelling) >= 2:
                out.append((c.name, spelling, value))
    return out


@pytest.mark.parametrize("neg", NEGATIONS)
def test_no_spelling_with_a_negation_added_is_read_as_the_spelling(neg: str) -> None:
    """Plant a negation before or after every declared spelling of every coded and yes/no
    column: the result is never the code of the un-negated spelling."""
    for col, spelling, value in _positive_spellings():
        for text in (f"{spelling} {neg}", f"{neg} {spelling}", f"{spelling.upper()} {neg.upper()}."):
            got, status = clean.match_code(text, col)
            assert got != value or (status == "exakt" and clean._negations(clean.normalise_key(text))
                                    == frozenset()), (col, text, got, status)


@pytest.mark.parametrize(("col", "text"), [
    ("fb_beslut", "Inleds ek"),            # a typo of "inleds ej" one letter from "inleds" too
    ("insats_svar", "tackat je"),          # as near "tackat nej"
    ("utredning_utfall", "ek behov"),      # a typo of "ej behov": never guessed across the negation
    ("fb_beslut", "Utredning avslutas"),   # no declared spelling, no typo of one
    ("utredning_utfall", "Avslutad utan insats"),  # ambiguous: no need, or declined? the mapping says
    ("fb_beslut", "Inleda utredning 2"),   # other digits are another value
    ("insats_lagrum", "4 kap 1 § SoL"),    # the law is the value here: never stripped
])
def test_values_that_are_no_declared_spelling_are_unknown(col: str, text: str) -> None:
    assert clean.match_code(text, col) == (None, "okand")


def test_unknown_decision_is_quarantined_until_the_mapping_says() -> None:
    result = run([row({**MINIMAL, "fb_datum": "2024-03-10"}, fb_beslut="Avslutad utan utredning")])
    assert found(result) == {(2, "okand_kod", "fb_beslut", "fel")}
    assert len(result.frame) == 0


@pytest.mark.parametrize(("text", "col", "expected"), [
    ("Inleda utredningg", "fb_beslut", "inleda"), ("Inte inleda utreding", "fb_beslut", "inte_inleda"),
    ("Tackat ne j", "insats_svar", None), ("Polise", "anmalare", "polisen"),
])
def test_typos_within_one_spelling_keep_their_negation(text: str, col: str, expected: object) -> None:
    value, status = clean.match_code(text, col)
    assert value == expected and status == ("tolkad" if expected else "okand")

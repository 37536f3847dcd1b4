"""Personnummer parsing, control digit, century, sex and age; masking; keyed pseudonyms; the key."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from genomlysning import paths
from genomlysning import personnummer as pn

REF = dt.date(2025, 6, 30)


def _luhn_ok(ten: str) -> bool:
    """Independent Luhn check (from the right: every second digit doubled), for the property test."""
    total = 0
    for i, ch in enumerate(reversed(ten)):
        d = int(ch) * (2 if i % 2 == 1 else 1)
        total += d // 10 + d % 10
    return total % 10 == 0


def _with_control(nine: str) -> str:
    return next(nine + str(c) for c in range(10) if _luhn_ok(nine + str(c)))


# ---------------------------------------------------------------------------------------------
# Hand-checked examples
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("text", ["19811218-9876", "198112189876", "811218-9876", "8112189876",
                                  " 811218 - 9876 "])
def test_skatteverket_example_in_every_form(text: str) -> None:
    # 8 1 1 2 1 8 9 8 7 weighted 2,1,2,1,...: 16->7,1,2,2,2,8,18->9,8,14->5 = 44 -> control 6
    p = pn.parse(text, REF)
    assert p.canonical == "198112189876"
    assert p.birth_date == dt.date(1981, 12, 18)
    assert p.serial == "9876"
    assert not p.is_coordination
    assert p.sex == "pojke"  # 7 is odd
    assert str(p) == "19811218-9876"


def test_luhn_digit_hand_computed() -> None:
    assert pn.luhn_digit("811218987") == 6
    assert pn.luhn_digit("900101002") == 5  # 18->9,0,0,1,0,1,0,0,4 = 15 -> 5
    assert pn.luhn_digit("701063239") == 1  # 14->5,0,2,0,12->3,3,4,3,18->9 = 29 -> 1


def test_girl_from_even_second_to_last_digit() -> None:
    assert pn.parse("900101-0025", REF).sex == "flicka"


def test_wrong_control_digit_is_refused_with_reason() -> None:
    with pytest.raises(pn.PersonnummerError, match="kontrollsiffra") as exc:
        pn.parse("811218-9877", REF)
    assert "control digit" in str(exc.value)
    assert "ÅÅÅÅMMDD-NNNN" in exc.value.reason  # says what the valid form is


@pytest.mark.parametrize("text", ["811218-987", "1981121898765", "8112a8-9876", "81-12-18-9876"])
def test_wrong_shape_is_refused(text: str) -> None:
    with pytest.raises(pn.PersonnummerError, match="fel antal siffror"):
        pn.parse(text, REF)


def test_empty_is_refused() -> None:
    with pytest.raises(pn.PersonnummerError, match="tomt"):
        pn.parse("  ", REF)


@pytest.mark.parametrize("nine", ["811318987", "811200987", "811232987"])
def test_impossible_month_or_day_is_refused_even_with_a_correct_control_digit(nine: str) -> None:
    with pytest.raises(pn.PersonnummerError, match="ogiltigt datum"):
        pn.parse(_with_control(nine), REF)


def test_29_february_only_in_leap_years() -> None:
    assert pn.parse("2000022" + "9" + _with_control("000229123")[-4:], REF).birth_date == dt.date(2000, 2, 29)
    with pytest.raises(pn.PersonnummerError, match="ogiltigt datum"):
        pn.parse("1901" + _with_control("010229123")[2:], REF)


def test_samordningsnummer_day_plus_60() -> None:
    p = pn.parse("701063-2391", REF)
    assert p.is_coordination
    assert p.birth_date == dt.date(1970, 10, 3)
    assert p.canonical == "197010632391"  # the canonical form keeps the number as issued


def test_century_inferred_from_the_reference_date() -> None:
    assert pn.parse("121212-1212", dt.date(2025, 1, 1)).birth_date == dt.date(2012, 12, 12)
    # born "after" the reference date in this century -> the previous one
    assert pn.parse("121212-1212", dt.date(2012, 12, 11)).birth_date == dt.date(1912, 12, 12)
    assert pn.parse("121212-1212", dt.date(2012, 12, 12)).birth_date == dt.date(2012, 12, 12)
    # '+' = aged 100 or more
    assert pn.parse("121212+1212", dt.date(2025, 1, 1)).birth_date == dt.date(1912, 12, 12)
    # an explicit century wins
    assert pn.parse("19121212-1212", dt.date(2025, 1, 1)).birth_date == dt.date(1912, 12, 12)


def test_age_at_counts_completed_years() -> None:
    p = pn.parse("20121212-1212")
    assert p.age_at(dt.date(2025, 12, 11)) == 12
    assert p.age_at(dt.date(2025, 12, 12)) == 13
    assert p.age_at(dt.date(2012, 12, 12)) == 0
    assert p.age_at(dt.date(2012, 12, 11)) == -1


def test_repr_does_not_reveal_the_number() -> None:
    text = repr(pn.parse("19811218-9876"))
    assert "9876" not in text and pn.find_in_text(text) == []


# ---------------------------------------------------------------------------------------------
# Property: every valid number parses and round-trips
# ---------------------------------------------------------------------------------------------

@st.composite
def valid_numbers(draw: st.DrawFn) -> tuple[dt.date, str, bool, dt.date]:
    ref = draw(st.dates(dt.date(1990, 1, 1), dt.date(2099, 12, 31)))
    birth = draw(st.dates(dt.date(ref.year - 119, 1, 1), ref))
    serial3 = draw(st.integers(0, 999))
    coordination = draw(st.booleans())
    day = birth.day + (60 if coordination else 0)
    nine = f"{birth:%y%m}{day:02d}{serial3:03d}"
    ten = _with_control(nine)
    return birth, f"{birth.year:04d}{ten[2:]}", coordination, ref


@given(valid_numbers(), st.sampled_from(["12-", "12", "10"]))
@settings(max_examples=300, deadline=None)
def test_every_valid_number_parses_and_round_trips(case: tuple[dt.date, str, bool, dt.date],
                                                    form: str) -> None:
    birth, canonical, coordination, ref = case
    if form == "12-":
        text = f"{canonical[:8]}-{canonical[8:]}"
    elif form == "12":
        text = canonical
    else:
        centenarian = (ref.year - birth.year - ((ref.month, ref.day) < (birth.month, birth.day))) >= 100
        text = f"{canonical[2:8]}{'+' if centenarian else '-'}{canonical[8:]}"
    p = pn.parse(text, ref)
    assert p.canonical == canonical
    assert p.birth_date == birth
    assert p.is_coordination == coordination
    assert pn.parse(p.canonical).canonical == canonical
    assert p.sex == ("pojke" if int(canonical[10]) % 2 else "flicka")
    assert 0 <= p.age_at(ref) <= 119


@given(valid_numbers(), st.text(alphabet="abcåäö .,:;()", max_size=20),
       st.text(alphabet="abcåäö .,:;()", max_size=20), st.sampled_from(["", "-", "+", " "]))
@settings(max_examples=200, deadline=None)
def test_find_in_text_finds_numbers_inside_text(case: tuple[dt.date, str, bool, dt.date], before: str,
                                                after: str, sep: str) -> None:
    canonical = case[1]
    for number in (f"{canonical[:8]}{sep}{canonical[8:]}", f"{canonical[2:8]}{sep}{canonical[8:]}"):
        text = f"{before} {number} {after}"
        assert pn.find_in_text(text) == [number]
        assert pn.contains(text)
        masked = pn.mask(text)
        assert pn.find_in_text(masked) == [] and pn.MASK in masked
        assert canonical[8:] not in masked.replace(before, "").replace(after, "")


def test_find_in_text_ignores_dates_and_short_numbers() -> None:
    text = "Inkom 2025-03-14, ärende 2025-000123, tel 08-123 456, 12 barn, id b3f2a1c4d5e6f708"
    assert pn.find_in_text(text) == []
    assert pn.mask(text) == text
    # a mistyped control digit is still a personnummer-like string
    assert pn.find_in_text("pnr 811218-9877.") == ["811218-9877"]
    assert pn.looks_like(" 811218-9877 ") and not pn.looks_like("pnr 811218-9877")


# ---------------------------------------------------------------------------------------------
# Pseudonymisation and the key
# ---------------------------------------------------------------------------------------------

def test_pseudonym_is_the_truncated_hmac_sha256_with_prefix() -> None:
    key = b"k" * 32
    digest = hmac.new(key, b"198112189876", hashlib.sha256).hexdigest()[:16]
    expected = "b" + digest.translate(str.maketrans("0123456789", "ghijklmnop"))
    assert pn.pseudonymise("198112189876", key) == expected
    assert re.fullmatch(r"b[a-p]{16}", expected)  # no digits: never looks like a personnummer


def test_pseudonym_is_stable_and_key_dependent() -> None:
    a, b = b"a" * 32, b"b" * 32
    assert pn.pseudonymise("198112189876", a) == pn.pseudonymise("198112189876", a)
    assert pn.pseudonymise("198112189876", a) != pn.pseudonymise("198112189876", b)
    assert pn.pseudonymise("198112189876", a) != pn.pseudonymise("199001010025", a)


@given(valid_numbers())
@settings(max_examples=300, deadline=None)
def test_pseudonym_never_contains_a_personnummer(case: tuple[dt.date, str, bool, dt.date]) -> None:
    pid = pn.pseudonymise(case[1], pn.DEMO_KEY)
    assert pn.find_in_text(pid) == [] and case[1][2:] not in pid


@pytest.fixture
def no_key(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No key in the environment and a HOME without a key file."""
    monkeypatch.delenv(pn.KEY_ENV, raising=False)
    monkeypatch.delenv(pn.KEY_FILE_ENV, raising=False)
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    return home


def test_key_from_environment_variable(no_key: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(pn.KEY_ENV, "  en-hemlig-nyckel-med-minst-16-tecken\n")
    assert pn.load_key({}) == b"en-hemlig-nyckel-med-minst-16-tecken"


def test_key_from_key_file_variable(no_key: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    f = tmp_path / "nyckel.txt"
    f.write_text("0123456789abcdef0123456789abcdef\n", encoding="utf-8")
    monkeypatch.setenv(pn.KEY_FILE_ENV, str(f))
    assert pn.load_key({}) == b"0123456789abcdef0123456789abcdef"


def test_synthetic_data_always_use_the_demo_key(no_key: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Demo outputs must be byte-identical on every machine, whatever real key it holds."""
    monkeypatch.setenv(pn.KEY_ENV, "en-hemlig-nyckel-med-minst-16-tecken")
    assert pn.load_key({"synthetic": True}) == pn.DEMO_KEY
    assert pn.load_key({}) != pn.DEMO_KEY


def test_key_from_default_file(no_key: Path) -> None:
    f = no_key / ".config" / "genomlysning" / "nyckel"
    f.parent.mkdir(parents=True)
    f.write_text("fedcba9876543210fedcba9876543210", encoding="utf-8")
    assert pn.default_key_file() == f
    assert pn.load_key({}) == b"fedcba9876543210fedcba9876543210"


def test_demo_key_only_for_synthetic_data(no_key: Path) -> None:
    assert pn.load_key({"synthetic": True}) == pn.DEMO_KEY
    for params in ({}, {"synthetic": False}, None, {"synthetic": "yes"}):
        with pytest.raises(pn.KeyMissingError) as exc:
            pn.load_key(params)
        msg = str(exc.value)
        assert "secrets.token_hex(32)" in msg and "~/.config/genomlysning/nyckel" in msg
        assert pn.KEY_ENV in msg and "aldrig i git" in msg and "never in git" in msg


def test_key_file_inside_the_project_is_refused(no_key: Path, monkeypatch: pytest.MonkeyPatch,
                                                tmp_path: Path) -> None:
    project = tmp_path / "projekt"
    (project / "params").mkdir(parents=True)
    f = project / "params" / "nyckel"
    f.write_text("0123456789abcdef0123456789abcdef", encoding="utf-8")
    monkeypatch.setattr(paths, "PROJECT_ROOT", project.resolve())
    monkeypatch.setenv(pn.KEY_FILE_ENV, str(f))
    with pytest.raises(pn.KeyMissingError, match="projektmappen"):
        pn.load_key({})


def test_missing_or_short_key_file_is_a_clear_error(no_key: Path, monkeypatch: pytest.MonkeyPatch,
                                                    tmp_path: Path) -> None:
    monkeypatch.setenv(pn.KEY_FILE_ENV, str(tmp_path / "finns_inte"))
    with pytest.raises(pn.KeyMissingError, match="finns inte"):
        pn.load_key({})
    short = tmp_path / "kort"
    short.write_text("abc", encoding="utf-8")
    monkeypatch.setenv(pn.KEY_FILE_ENV, str(short))
    with pytest.raises(pn.KeyMissingError, match="för kort"):
        pn.load_key({})


# ---------------------------------------------------------------------------------------------
# Detection that survives separators, and leaves dates and ordinary numbers alone
# ---------------------------------------------------------------------------------------------

#: Skatteverket's example 19811218-9876 written with every separator people and systems use.
WRITTEN = [
    "19811218-9876", "198112189876", "811218-9876", "8112189876", "19811218\u00a09876", "811218\u202f9876",
    "811218\u20139876", "811218\u20149876", "811218\u20119876", "811218\u22129876", "811218/9876",
    "811218_9876", "81.12.18.9876", "81 12 18 9876", "811218 - 9876", "811218 \u2013 9876",
    "1981-12-18-9876", "1981-12-18 9876", "19 81 12 18 9876", "811218+9876",
    "".join(chr(0xFF10 + int(d)) for d in "8112189876"),  # full-width digits
]


@pytest.mark.parametrize("written", WRITTEN)
def test_personnummer_is_found_whatever_the_separator(written: str) -> None:
    text = f"Ring mamma om {written}, tack"
    spans = pn.find_identifiers(text, strict=True)
    assert [text[a:b] for a, b in spans] == [written]
    assert pn.mask(text) == f"Ring mamma om {pn.MASK}, tack"
    assert "9876" not in pn.mask(text)


@pytest.mark.parametrize("text", [
    "2025-03-14", "14.03.2025", "2025-03-14 10:30", "2025-03-14 10.30", "2024-03-05 14:30:15.25",
    "2025-01-01_2025-12-31", "2025-01-01 - 2025-12-31", "export_20250314_103000.csv", "070-123 45 67",
    "08-123 456 78", "1 234 567 890", "IFO-2024-000123", "2024001234", "45356", "12 år", "Pilot",
    "0 0 1 0 0 4 1 1 4 0 2 1", "b3f2a1c4d5e6f708",
])
def test_dates_and_ordinary_numbers_are_not_identifiers(text: str) -> None:
    assert pn.find_identifiers(text) == [] and pn.mask(text) == text


def test_samordningsnummer_and_mistyped_control_digits() -> None:
    assert pn.find_in_text("sam 701063-2391") == ["701063-2391"]  # day + 60
    # a wrong control digit is personnummer-like (free text, headers, file names, params) ...
    assert pn.find_in_text("pnr 811218 9877") == ["811218 9877"]
    # ... but in strict mode (id columns, where case numbers may look like dates) only valid ones count
    assert pn.find_identifiers("pnr 811218 9877", strict=True) == []
    # glued to letters, only a valid number counts (ids such as ABC8112189877 are common)
    assert pn.find_in_text("x8112189876") == ["8112189876"] and pn.find_in_text("x8112189877") == []
    # a valid number inside a longer digit run is still found
    assert pn.has_identifier("00198112189876", strict=True)


@pytest.mark.parametrize(("text", "synthetic"), [
    ("20150304-9825", True), ("150304-9825", True), ("20150304-9820", True),  # control digit not checked
    ("19900101-0017", False), ("811218-1234", False), ("kalle", None), ("12345", None),
])
def test_synthetic_series(text: str, synthetic: bool | None) -> None:
    assert pn.in_synthetic_series(text) is synthetic


def test_id_pseudonyms_are_keyed_letters_and_kept_apart_by_column() -> None:
    key = b"k" * 32
    digest = hmac.new(key, b"rad_id:2024-00017", hashlib.sha256).hexdigest()[:16]
    assert pn.pseudonymise_id("rad_id", "2024-00017", key) == "r" + digest.translate(
        str.maketrans("0123456789", "ghijklmnop"))
    assert pn.pseudonymise_ids("barn_id", ["x-1", "x-2", "x-1"], key) == [
        pn.pseudonymise_id("barn_id", v, key) for v in ("x-1", "x-2", "x-1")]
    a, b = pn.pseudonymise_id("rad_id", "17", key), pn.pseudonymise_id("barn_id", "17", key)
    assert a != b and re.fullmatch(r"r[a-p]{16}", a) and re.fullmatch(r"b[a-p]{16}", b)
    assert pn.pseudonymise_id("rad_id", "17", b"j" * 32) != a
    canonical = "198112189876"
    assert pn.pseudonymise_id("barn_id", canonical, key) != pn.pseudonymise(canonical, key)


def test_keys_shorter_than_32_bytes_are_refused(no_key: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(pn.KEY_ENV, "x" * 31)
    with pytest.raises(pn.KeyMissingError, match=r"för kort \(31 byte; minst 32\)") as exc:
        pn.load_key({})
    assert "secrets.token_hex(32)" in str(exc.value)
    monkeypatch.setenv(pn.KEY_ENV, "å" * 16)  # 16 characters, 32 bytes in UTF-8
    assert len(pn.load_key({})) == 32
    with pytest.raises(pn.KeyMissingError):
        pn.check_key(b"k" * 31, "test")

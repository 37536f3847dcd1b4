"""Swedish personnummer: parsing, control digit, age and sex, masking and keyed pseudonymisation.

A personnummer is ``YYYYMMDD-NNNC`` (12 digits) or ``YYMMDD-NNNC`` (10 digits); ``NNN`` is the birth
number (odd third digit = male, even = female) and ``C`` the Luhn control digit over the ten digits
``YYMMDDNNN``. In the 10-digit form the separator ``+`` marks a person aged 100 or more. A
*samordningsnummer* (coordination number) has 60 added to the day.

Personnummer never leave ``data/raw/``: the cleaning stage replaces them by a keyed hash
(:func:`pseudonymise`) with a key that lives outside the repository (:func:`load_key`).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from genomlysning import paths

#: What a valid personnummer looks like (for error messages).
VALID_FORMS = "ÅÅÅÅMMDD-NNNN, ÅÅÅÅMMDDNNNN, ÅÅMMDD-NNNN, ÅÅMMDDNNNN eller ÅÅMMDD+NNNN (100 år eller äldre)"
#: Replacement text used by :func:`mask`.
MASK = "ÅÅÅÅMMDD-XXXX"
#: Offset added to the day of a samordningsnummer.
COORDINATION_OFFSET = 60

#: Environment variable holding the pseudonymisation key itself.
KEY_ENV = "GENOMLYSNING_KEY"
#: Environment variable holding the path of a key file.
KEY_FILE_ENV = "GENOMLYSNING_KEY_FILE"
#: Minimum length of a key, in characters.
MIN_KEY_LENGTH = 16
#: PUBLIC demo key. It is printed here, so it protects nothing: it is used only for synthetic data
#: (params ``synthetic: true``) when no real key is configured, so that the demo runs anywhere.
DEMO_KEY: bytes = b"genomlysning-PUBLIC-demo-key-only-for-synthetic-data"

_STRICT = re.compile(r"^(\d{6}|\d{8})([-+]?)(\d{4})$")
# Personnummer-like: 6 or 8 digits, optional separator, 4 digits, not glued to other letters/digits,
# with a plausible month (01-12) and day (01-31, or 61-91 for samordningsnummer). The control digit
# is deliberately NOT required: a mistyped personnummer still identifies a person.
_LIKE = re.compile(
    r"(?<![0-9A-Za-z])"
    r"(?:\d{2})?\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01]|6[1-9]|[78]\d|9[01])"
    r"[-+ ]?\d{4}(?![0-9])"
)


class PersonnummerError(ValueError):
    """A personnummer could not be parsed; the message says what is wrong and what is valid."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class KeyMissingError(RuntimeError):
    """No usable pseudonymisation key; the message says how to create and set one."""


def luhn_digit(digits: str) -> int:
    """Return the Luhn control digit for ``digits`` (the nine digits ``YYMMDDNNN``)."""
    total = 0
    for i, ch in enumerate(digits):
        prod = int(ch) * (2 if i % 2 == 0 else 1)
        total += prod - 9 if prod > 9 else prod
    return (10 - total % 10) % 10


@dataclass(frozen=True)
class Personnummer:
    """A parsed, valid personnummer or samordningsnummer."""

    birth_date: dt.date
    serial: str
    canonical: str
    is_coordination: bool

    @property
    def sex(self) -> str:
        """Sex code of the schema's ``kon``: ``"pojke"`` (odd 3rd serial digit) or ``"flicka"``."""
        return "pojke" if int(self.canonical[10]) % 2 else "flicka"

    def age_at(self, date: dt.date) -> int:
        """Age in completed years on ``date`` (negative if ``date`` is before the birth date)."""
        b = self.birth_date
        years = date.year - b.year
        if (date.month, date.day) < (b.month, b.day):
            years -= 1
        return years

    def __str__(self) -> str:
        return f"{self.canonical[:8]}-{self.canonical[8:]}"

    def __repr__(self) -> str:  # never print the number itself in tracebacks or logs
        return f"Personnummer(birth_date={self.birth_date.isoformat()}, masked={MASK!r})"


def _bad(what: str) -> PersonnummerError:
    return PersonnummerError(f"ogiltigt personnummer ({what}); giltiga former: {VALID_FORMS} / "
                             f"invalid personnummer ({_ENGLISH.get(what, what)})")


_ENGLISH = {
    "fel antal siffror": "wrong number of digits",
    "felaktig kontrollsiffra": "wrong control digit",
    "ogiltigt datum": "not a valid date",
    "tomt": "empty",
    "födelsedatum efter referensdatum": "birth date after the reference date",
}


def _century_year(yy: int, plus: bool, ref: dt.date, month: int, day: int) -> int:
    """Infer the four-digit year of a 10-digit number: the latest year <= ref (minus 100 for '+')."""
    year = (ref.year // 100) * 100 + yy
    try:
        born = dt.date(year, month, day)
    except ValueError:  # 29 Feb in a non-leap candidate year: compare on 1 Mar instead
        born = dt.date(year, month, 28) + dt.timedelta(days=1)
    if born > ref:
        year -= 100
    if plus:
        year -= 100
    return year


def parse(text: str, ref_date: dt.date | None = None) -> Personnummer:
    """Parse a personnummer or samordningsnummer in any usual form.

    ``ref_date`` (the aktualisering date; default today) decides the century of a 10-digit number:
    the most recent birth date not after ``ref_date``, 100 years earlier with ``+``.
    Raises :class:`PersonnummerError` with a reason in Swedish and English.
    """
    s = re.sub(r"\s+", "", str(text or ""))
    if not s:
        raise _bad("tomt")
    m = _STRICT.match(s)
    if not m:
        raise _bad("fel antal siffror")
    date_part, sep, serial = m.groups()
    month, day = int(date_part[-4:-2]), int(date_part[-2:])
    coordination = day > COORDINATION_OFFSET
    if coordination:
        day -= COORDINATION_OFFSET
    if not (1 <= month <= 12 and 1 <= day <= 31):
        raise _bad("ogiltigt datum")
    ten = date_part[-6:] + serial
    if luhn_digit(ten[:9]) != int(ten[9]):
        raise _bad("felaktig kontrollsiffra")
    if len(date_part) == 8:
        year = int(date_part[:4])
    else:
        year = _century_year(int(date_part[:2]), sep == "+", ref_date or dt.date.today(), month, day)
    try:
        birth = dt.date(year, month, day)
    except ValueError:
        raise _bad("ogiltigt datum") from None
    canonical = f"{year:04d}{date_part[-4:]}{serial}"
    return Personnummer(birth, serial, canonical, coordination)


def is_valid(text: str, ref_date: dt.date | None = None) -> bool:
    """True when ``text`` parses as a personnummer."""
    try:
        parse(text, ref_date)
    except PersonnummerError:
        return False
    return True


def find_in_text(text: str) -> list[str]:
    """Return the personnummer-like substrings of ``text`` (control digit not required)."""
    return [m.group(0) for m in _LIKE.finditer(str(text))] if text else []


def contains(text: str) -> bool:
    """True when ``text`` contains a personnummer-like substring."""
    return bool(text) and _LIKE.search(str(text)) is not None


def looks_like(text: str) -> bool:
    """True when the whole of ``text`` (stripped) is personnummer-like (control digit not checked)."""
    return bool(text) and _LIKE.fullmatch(str(text).strip()) is not None


def mask(text: str) -> str:
    """Replace every personnummer-like substring of ``text`` by ``ÅÅÅÅMMDD-XXXX``."""
    return _LIKE.sub(MASK, str(text)) if text else text


# ---------------------------------------------------------------------------------------------
# Pseudonymisation
# ---------------------------------------------------------------------------------------------

#: Hex digits 0-9 are written as the letters g-p, so a pseudonym holds no digits at all and can never
#: be mistaken for (or flagged as) a personnummer-like number by anyone scanning the outputs.
_NO_DIGITS = str.maketrans("0123456789", "ghijklmnop")


def pseudonymise(canonical: str, key: bytes) -> str:
    """Keyed pseudonym of a canonical 12-digit personnummer: ``"b"`` + the first 16 hex digits of
    HMAC-SHA256 (64 bits), with the digits 0-9 written as the letters g-p.

    Stable for a given key; without the key it cannot be reversed (nor recomputed by trying every
    possible personnummer).
    """
    digest = hmac.new(key, canonical.encode("ascii"), hashlib.sha256).hexdigest()[:16]
    return "b" + digest.translate(_NO_DIGITS)


def default_key_file() -> Path:
    """The per-user key file: ``~/.config/genomlysning/nyckel``."""
    return Path.home() / ".config" / "genomlysning" / "nyckel"


def key_instructions() -> str:
    """How to create and set a key (Swedish and English)."""
    f = "~/.config/genomlysning/nyckel"
    return (
        "Skapa en hemlig nyckel en gång och förvara den utanför projektet (aldrig i git):\n"
        f"  mkdir -p ~/.config/genomlysning && chmod 700 ~/.config/genomlysning\n"
        f"  python -c \"import secrets; print(secrets.token_hex(32))\" > {f}\n"
        f"  chmod 600 {f}\n"
        f"eller ange den med miljövariabeln {KEY_ENV} (själva nyckeln) eller {KEY_FILE_ENV} (sökväg "
        "till en nyckelfil utanför projektmappen). Använd samma nyckel varje år, annars får samma "
        "barn olika barn-id; förlorad nyckel kan inte återskapas.\n"
        "Create a secret key once and keep it outside the project (never in git): see the commands "
        f"above, or set {KEY_ENV} (the key) or {KEY_FILE_ENV} (a key file outside the project)."
    )


def _inside_project(p: Path) -> bool:
    try:
        p.resolve().relative_to(paths.PROJECT_ROOT)
    except ValueError:
        return False
    return True


def _checked(key: str, source: str) -> bytes:
    key = key.strip()
    if len(key) < MIN_KEY_LENGTH:
        raise KeyMissingError(f"pseudonymiseringsnyckeln från {source} är för kort ({len(key)} tecken; "
                              f"minst {MIN_KEY_LENGTH}) / the key from {source} is too short.\n"
                              + key_instructions())
    return key.encode("utf-8")


def _read_key_file(p: Path, source: str) -> bytes:
    if _inside_project(p):
        raise KeyMissingError(
            f"nyckelfilen {source} ligger i projektmappen – vägrar använda den, eftersom den då kan "
            "hamna i git. Flytta den utanför projektet. / The key file is inside the project folder, "
            "where it could be committed; move it outside the project.\n" + key_instructions())
    if not p.is_file():
        raise KeyMissingError(f"nyckelfilen {source} finns inte / key file not found.\n"
                              + key_instructions())
    return _checked(p.read_text(encoding="utf-8"), source)


def load_key(params: dict[str, Any] | None = None) -> bytes:
    """Return the pseudonymisation key.

    Synthetic demo data (``params["synthetic"]`` true) always use the public :data:`DEMO_KEY`, so
    that the demo outputs are identical on every machine whatever keys it holds. Real data: env
    ``GENOMLYSNING_KEY`` (the key), env ``GENOMLYSNING_KEY_FILE`` (a path outside the project), then
    ``~/.config/genomlysning/nyckel``; with none of them :class:`KeyMissingError` explains how to
    create a key.
    """
    if (params or {}).get("synthetic") is True:
        return DEMO_KEY
    env_key = os.environ.get(KEY_ENV)
    if env_key:
        return _checked(env_key, f"${KEY_ENV}")
    env_file = os.environ.get(KEY_FILE_ENV)
    if env_file:
        return _read_key_file(Path(env_file).expanduser(), f"${KEY_FILE_ENV}")
    default = default_key_file()
    if default.is_file():
        return _read_key_file(default, "~/.config/genomlysning/nyckel")
    raise KeyMissingError(
        "ingen pseudonymiseringsnyckel hittades (behövs för att ersätta personnummer med barn-id; "
        "den publika demonyckeln används bara för syntetiska data) / no pseudonymisation key found.\n"
        + key_instructions())

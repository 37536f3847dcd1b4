"""Swedish personnummer: parsing, control digit, age and sex, masking and keyed pseudonymisation.

A personnummer is ``YYYYMMDD-NNNC`` (12 digits) or ``YYMMDD-NNNC`` (10 digits); ``NNN`` is the birth
number (odd third digit = male, even = female) and ``C`` the Luhn control digit over the ten digits
``YYMMDDNNN``. In the 10-digit form the separator ``+`` marks a person aged 100 or more. A
*samordningsnummer* (coordination number) has 60 added to the day.

Personnummer never leave ``data/raw/``: the cleaning stage replaces them by a keyed hash
(:func:`pseudonymise`) with a key of at least 32 bytes that lives outside the repository
(:func:`load_key`); entered row and child ids get keyed pseudonyms too (:func:`pseudonymise_id`).

Detection (:func:`find_identifiers`) survives the separators people and systems write: any space
(also no-break and thin spaces), any dash (hyphen, U+2011, en/em dash, U+2212 minus ...), ``+``,
``/``, ``_`` and ``.``, between the standard groups (``YYYYMMDD-NNNN``, ``YYYY-MM-DD-NNNN``,
``YY MM DD NNNN``, ``19 85 01 01 1234`` ...). A run of 10 or 12 digits whose date part is plausible
(month 01-12, day 01-31 or 61-91 for samordningsnummer; century 18-20) is *personnummer-like*; with a
correct control digit it is a *personnummer*. Ordinary dates (8 digits), times (``10:30``), date
ranges (``2025-01-01_2025-12-31``), phone and case numbers grouped otherwise are not flagged.

Synthetic demo data follow one convention (:func:`in_synthetic_series`): every birth number lies
in the series 980-999 (:data:`SYNTHETIC_SERIALS`); only such files may use the public demo key.
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
#: Minimum length of a key, in bytes (UTF-8): ``secrets.token_hex(32)`` gives 64.
MIN_KEY_LENGTH = 32
#: Birth numbers (digits 7-9 of the ten-digit form) of every synthetic personnummer, inclusive.
SYNTHETIC_SERIALS: tuple[int, int] = (980, 999)
#: PUBLIC demo key. It is printed here, so it protects nothing: it is used only for synthetic data
#: (params ``synthetic: true``) when no real key is configured, so that the demo runs anywhere.
DEMO_KEY: bytes = b"genomlysning-PUBLIC-demo-key-only-for-synthetic-data"

_STRICT = re.compile(r"^(\d{6}|\d{8})([-+]?)(\d{4})$")

#: Characters that may stand between the digit groups of a written personnummer (besides every
#: Unicode space, ``\s``): soft hyphen, zero-width characters, every dash and minus, + / _ .
SEPARATORS = ("\u00ad\u200b\u200c\u200d\u2060\ufeff-\u2010\u2011\u2012\u2013\u2014\u2015\u2212"
              "\ufe58\ufe63\uff0d+/_.")
_SEP = rf"[\s{re.escape(SEPARATORS)}]"
#: Digit groups joined by 1-3 separator characters (``-``, `` - ``, ``\u00a0\u2013\u00a0`` ...).
_CHAIN = re.compile(rf"\d+(?:{_SEP}{{1,3}}\d+)*")
_GROUP = re.compile(r"\d+")
#: At least ten digits somewhere (a cheap filter before the full scan).
_TEN_DIGITS = re.compile(r"\d(?:\D*\d){9}")
#: Where a written personnummer may be split, counted in digits from its right end: before the
#: serial (4), between day, month, year (6, 8) and after the century (10).
_SPLITS = frozenset({4, 6, 8, 10})
_CENTURIES = frozenset({"18", "19", "20"})


@dataclass(frozen=True)
class Found:
    """One personnummer-like run in a text: its span, digits and whether the control digit holds."""

    start: int
    end: int
    digits: str
    valid: bool
    glued: bool  # a letter touches it, or it is a window inside a longer digit run


def _plain_digits(text: str) -> str:
    return "".join(str(int(ch)) for ch in text)  # also folds full-width and other Unicode digits


def _date_shaped(digits: str) -> bool:
    """10 or 12 digits whose date part is plausible (day + 60 allowed: samordningsnummer)."""
    if len(digits) == 12 and digits[:2] not in _CENTURIES:
        return False
    ten = digits[-10:]
    month, day = int(ten[2:4]), int(ten[4:6])
    return 1 <= month <= 12 and (1 <= day <= 31 or 61 <= day <= 91)


def _control_ok(digits: str) -> bool:
    ten = digits[-10:]
    return luhn_digit(ten[:9]) == int(ten[9])


def _splits_ok(lengths: list[int]) -> bool:
    """The groups split the run only where a written personnummer is split (so lists of numbers,
    phone numbers and thousands separators are not read as one)."""
    cuts, acc = set(), 0
    for n in reversed(lengths[1:]):
        acc += n
        cuts.add(acc)
    return cuts <= _SPLITS


def _starts_a_date(groups: list[tuple[int, int, str]], j: int) -> bool:
    """True when the 4-digit group ``j`` is followed by a 1-2 digit group: a year, not a serial."""
    return len(groups[j][2]) == 4 and j + 1 < len(groups) and len(groups[j + 1][2]) <= 2


def _touches_letter(text: str, start: int, end: int) -> bool:
    return (start > 0 and text[start - 1].isalpha()) or (end < len(text) and text[end].isalpha())


def _in_chain(text: str, m: re.Match[str]) -> list[Found]:
    groups = [(m.start() + g.start(), m.start() + g.end(), _plain_digits(g.group(0)))
              for g in _GROUP.finditer(m.group(0))]
    out: list[Found] = []
    for i in range(len(groups)):
        total = 0
        for j in range(i, len(groups)):
            total += len(groups[j][2])
            if total > 12:
                break
            if total not in (10, 12) or _starts_a_date(groups, j):
                continue
            if not _splits_ok([len(g[2]) for g in groups[i:j + 1]]):
                continue
            digits = "".join(g[2] for g in groups[i:j + 1])
            if _date_shaped(digits):
                start, end = groups[i][0], groups[j][1]
                out.append(Found(start, end, digits, _control_ok(digits), _touches_letter(text, start, end)))
    for start, _, digits in groups:  # windows inside one longer digit run (glued to other digits)
        if len(digits) == 10 or (len(digits) == 12 and _date_shaped(digits)):
            continue  # the run itself is the candidate
        for width in (10, 12):
            for k in range(len(digits) - width + 1 if len(digits) > width else 0):
                window = digits[k:k + width]
                if _date_shaped(window):
                    out.append(Found(start + k, start + k + width, window, _control_ok(window), True))
    return out


def scan(text: str) -> list[Found]:
    """Every personnummer-like run in ``text`` (see the module docstring), valid or not."""
    text = str(text or "")
    if len(text) < 10 or not _TEN_DIGITS.search(text):
        return []
    out: list[Found] = []
    for m in _CHAIN.finditer(text):
        if sum(ch.isdigit() for ch in m.group(0)) >= 10:
            out.extend(_in_chain(text, m))
    return out


def find_identifiers(text: str, strict: bool = False) -> list[tuple[int, int]]:
    """Spans (start, end; merged, in order) of the identifiers in ``text``.

    ``strict=False`` (free text, headers, file names, params): every personnummer-like run that
    stands apart from letters, and every valid personnummer also when glued to letters or digits.
    ``strict=True`` (id columns, where case numbers may look like dates): valid personnummer only.
    """
    spans = sorted((f.start, f.end) for f in scan(text) if f.valid or not (strict or f.glued))
    merged: list[tuple[int, int]] = []
    for start, end in spans:
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged


def has_identifier(text: str, strict: bool = False) -> bool:
    """True when ``text`` holds an identifier (:func:`find_identifiers`)."""
    return bool(find_identifiers(text, strict))


class PersonnummerError(ValueError):
    """A personnummer could not be parsed; the message says what is wrong and what is valid."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class KeyMissingError(RuntimeError):
    """No usable pseudonymisation key; the message says how to create and set one."""


class SyntheticDataError(ValueError):
    """Params say ``synthetic: true`` but the file has personnummer outside the demo series."""


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
    return [str(text)[a:b] for a, b in find_identifiers(text)] if text else []


def contains(text: str) -> bool:
    """True when ``text`` contains a personnummer-like substring."""
    return bool(text) and has_identifier(str(text))


def looks_like(text: str) -> bool:
    """True when the whole of ``text`` (stripped) is personnummer-like (control digit not checked)."""
    stripped = str(text or "").strip()
    return bool(stripped) and find_identifiers(stripped) == [(0, len(stripped))]


def mask(text: str) -> str:
    """Replace every personnummer-like substring of ``text`` by ``ÅÅÅÅMMDD-XXXX``."""
    if not text:
        return text
    text = str(text)
    out, last = [], 0
    for start, end in find_identifiers(text):
        out += [text[last:start], MASK]
        last = end
    return "".join([*out, text[last:]])


def in_synthetic_series(text: str) -> bool | None:
    """Whether a personnummer cell follows the synthetic convention (birth number 980-999).

    None when the cell holds no 10- or 12-digit number (then it is no personnummer at all). The
    control digit is not checked: a mistyped synthetic number is still synthetic.
    """
    digits = _plain_digits("".join(ch for ch in str(text or "") if ch.isdigit()))
    if len(digits) not in (10, 12):
        return None
    low, high = SYNTHETIC_SERIALS
    return low <= int(digits[-4:-1]) <= high


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


#: Prefix of the pseudonym of an entered id, by column.
ID_PREFIX: dict[str, str] = {"rad_id": "r", "barn_id": "b"}


def pseudonymise_id(column: str, value: str, key: bytes) -> str:
    """Keyed pseudonym of an entered ``rad_id`` or ``barn_id``: the prefix of :data:`ID_PREFIX` and
    16 letters (HMAC-SHA256 of ``"<column>:<value>"``, digits written as g-p).

    The column name keeps the ids apart from each other and from personnummer pseudonyms; the same
    value with the same key always gets the same pseudonym (so re-referrals are still found).
    """
    return pseudonymise_ids(column, [value], key)[0]


def pseudonymise_ids(column: str, values: list[str], key: bytes) -> list[str]:
    """:func:`pseudonymise_id` of many values (the keyed state of the prefix is computed once)."""
    prefix = ID_PREFIX[column]
    base = hmac.new(key, f"{column}:".encode(), hashlib.sha256)
    out = []
    for value in values:
        h = base.copy()
        h.update(value.encode())
        out.append(prefix + h.hexdigest()[:16].translate(_NO_DIGITS))
    return out


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


def check_key(key: bytes, source: str) -> bytes:
    """``key`` if it has at least :data:`MIN_KEY_LENGTH` bytes, else :class:`KeyMissingError`."""
    if len(key) < MIN_KEY_LENGTH:
        raise KeyMissingError(f"pseudonymiseringsnyckeln från {source} är för kort ({len(key)} byte; "
                              f"minst {MIN_KEY_LENGTH}) / the key from {source} is too short "
                              f"({len(key)} bytes; at least {MIN_KEY_LENGTH}).\n" + key_instructions())
    return key


def _checked(key: str, source: str) -> bytes:
    return check_key(key.strip().encode("utf-8"), source)


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

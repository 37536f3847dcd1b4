"""``genomlysning map FILE``: what each column of an export probably is, and a draft ``mapping:``.

For every column of the file: its header, how many values and distinct values it has, the schema
column it probably is (from the header's words and from its values: dates, Ja/Nej, personnummer,
the schema's code spellings) and, for coded columns, each distinct value with its count. A value
is shown as written only when it may be (:func:`genomlysning.clean.code_like`: it recurs at least
``k`` times, or it is made of a code's words, and holds nothing like a personnummer, phone number
or address); every other value only by its shape. Columns that are no schema column (names, free
text) are shown by shape only and proposed for ``drop``.

The draft ``mapping:`` block (YAML, to paste into ``params/<kommun>.yaml``) carries a comment on
every guess saying what it rests on. Nothing is guessed across a negation: a value with "ej",
"inte", "utan" … is only ever proposed as a code whose spellings are negated too. A value that
nothing points to is written as a commented-out line to fill in. The draft is a starting point:
``genomlysning validate FILE --params P`` then says what is still unknown.
"""

from __future__ import annotations

import argparse
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import pandas as pd

from genomlysning import clean, ingest, paths, personnummer, schema

#: Words of export headers that point to a schema column beside its own name and labels.
HEADER_HINTS: dict[str, tuple[str, ...]] = {
    "rad_id": ("ärende", "ärendenummer", "id", "löpnummer", "löpnr", "dnr", "diarienummer", "nr"),
    "personnummer": ("personnr", "pnr", "persnr", "personnummer"),
    "aktualiseringsdatum": ("inkom", "inkommen", "inkommet", "registrerad", "aktualiserad",
                            "anmälningsdatum", "ankomstdatum"),
    "aktualiseringstyp": ("typ", "ärendetyp", "ärende", "aktualisering"),
    "anmalare": ("anmälare", "uppgiftslämnare", "källa", "anmälande"),
    "skyddsbedomning_datum": ("skyddsbed", "skyddsbedömning"),
    "fb_beslut": ("förhandsbedömning", "fb", "beslut"),
    "fb_datum": ("beslutsdatum", "fb", "förhandsbedömning"),
    "utredning_start": ("påbörjad", "inledd", "start", "startdatum", "utredning"),
    "utredning_slut": ("avslutad", "slut", "slutdatum", "utredning"),
    "barnsamtal": ("samtal", "barnet", "barnsamtal"),
    "barnsamtal_antal": ("antal", "samtal"),
    "kontakt_halso_sjukvard": ("bvc", "bup", "vården", "sjukvård", "hälso"),
    "utredning_utfall": ("resultat", "utfall", "utredningens"),
    "insats_svar": ("svar", "erbjudande", "samtycke"),
    "insats_startad": ("påbörjad", "start", "startdatum", "startad"),
    "insats_typ": ("insatstyp", "insats", "typ"),
    "insats_lagrum": ("lagrum", "lag"),
    "omrade": ("område", "team", "enhet", "distrikt"),
}
#: Header words that say nothing about which column it is.
_STOP = frozenset({"av", "med", "pa", "i", "och", "till", "for", "om", "den", "det", "kategori", "datum",
                   "dag", "typ", "fran", "vid"})
#: Separators tried for a multi-valued reason column.
_REASON_SEPS: tuple[str, ...] = (";", ",", "|", "/")
#: Smallest share of a column's values that decides its kind.
_KIND_SHARE = 0.8


@cache
def _fold(text: str) -> str:
    return clean.normalise_key(text)


@cache
def _tokens(text: str) -> tuple[str, ...]:
    return tuple(re.findall(r"[a-z0-9§]+", _fold(text)))


def _token_sim(a: str, b: str) -> float:
    """1 for equal words, 0.8 when one word of at least 4 letters starts the other ("polis",
    "polismyndigheten"); else for a shared start of at least 4 letters its share of the longer word."""
    if a == b:
        return 1.0
    short, long_ = sorted((a, b), key=len)
    if len(short) >= 4 and long_.startswith(short):
        return 0.8
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    return n / max(len(a), len(b)) if n >= 4 else 0.0


def _words_score(words: Sequence[str], target: Sequence[str]) -> float:
    """Mean over ``words`` (stop words left out) of the best similarity to a word of ``target``."""
    ws = [w for w in words if w not in _STOP] or list(words)
    if not ws or not target:
        return 0.0
    return sum(max(_token_sim(w, t) for t in target) for w in ws) / len(ws)



def _target_words(name: str) -> list[str]:
    c = schema.column(name)
    return [*_tokens(name.replace("_", " ")), *_tokens(c.sv), *_tokens(c.en)]


def header_score(header: str, name: str) -> float:
    """How well an export header's words fit a schema column's name, labels or hint words (0-1)."""
    words = _tokens(header)
    hints = [w for h in HEADER_HINTS.get(name, ()) for w in _tokens(h)]
    return max(_words_score(words, _target_words(name)), _words_score(words, hints))


# ---------------------------------------------------------------------------------------------
# Values
# ---------------------------------------------------------------------------------------------

@dataclass
class ValueGuess:
    """One distinct value of a coded column and what it probably means."""

    text: str          # as written when ``shown``, else its shape
    count: int
    shown: bool
    code: str | None   # schema code, "Ja"/"Nej", reason code; None = unknown
    status: str        # exakt | tolkad | gissning | okand
    why: str = ""


def _spellings(name: str) -> dict[str, list[str]]:
    """``{value: [folded spellings]}`` of a coded or yes/no column (values as a mapping writes them)."""
    out: dict[str, list[str]] = {}
    for key, value in clean.code_lookup(name).items():
        if value == clean.UNKNOWN:  # "uppgift saknas" is read as written, never guessed
            continue
        v = ("Ja" if value else "Nej") if isinstance(value, bool) else str(value)
        out.setdefault(v, []).append(key)
    return out


@cache
def _reason_spellings() -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for r in schema.ORSAKER:
        out[r.code] = [_fold(x) for x in (r.code.replace("_", " "), r.sv, r.en, *r.aliases)]
    return out


def guess_by_words(text: str, spellings: Mapping[str, Sequence[str]]) -> tuple[str | None, str]:
    """The one value whose spellings share most words with ``text`` (same polarity: a negated text
    only with a negated spelling, and the other way round), and why; ``(None, "")`` if none or a tie."""
    key = _fold(text)
    negated = bool(clean._negations(key))
    words = [w for w in _tokens(key) if w not in clean.NEGATIONS]
    scores: dict[str, tuple[float, str]] = {}
    for value, spells in spellings.items():
        for sp in spells:
            if bool(clean._negations(sp)) != negated:
                continue
            target = [w for w in _tokens(sp) if w not in clean.NEGATIONS]
            sc = _words_score(words, target) if words else 0.0
            if sc > scores.get(value, (0.0, ""))[0]:
                scores[value] = (sc, sp)
    ranked = sorted(scores.items(), key=lambda kv: -kv[1][0])
    if not ranked or ranked[0][1][0] < 0.3:
        return None, ""
    if len(ranked) > 1 and ranked[1][1][0] > ranked[0][1][0] - 0.1:
        return None, ""
    value, (_, sp) = ranked[0]
    return value, f"delar ord med {sp!r}" + (" (båda nekande)" if negated else "")


def guess_opposite(text: str, spellings: Mapping[str, Sequence[str]]) -> tuple[str | None, str]:
    """For a two-valued column: a negated declared spelling of one value is the other value."""
    key = _fold(text)
    if len(spellings) != 2 or not clean._negations(key):
        return None, ""
    bare = " ".join(w for w in key.split() if w.strip(".,") not in clean.NEGATIONS)
    for value, spells in spellings.items():
        if bare in spells and not clean._negations(bare):
            other = next(v for v in spellings if v != value)
            return other, f"{bare!r} med ett nekande ord: motsatsen till {value!r}"
    return None, ""


def guess_value(text: str, name: str) -> tuple[str | None, str, str]:
    """``(value, status, why)`` of one distinct value of schema column ``name``."""
    value, status = clean.match_code(text, name)
    spellings = _spellings(name)
    if value is not None:
        v = ("Ja" if value else "Nej") if isinstance(value, bool) else str(value)
        if status == "exakt":
            return v, "exakt", "en stavning i schemat"
        return v, "tolkad", "läses som en stavning i schemat (felskrivning eller lagrumshänvisning)"
    for guess in (guess_opposite, guess_by_words):
        v, why = guess(text, spellings)
        if v is not None:
            return v, "gissning", why
    return None, "okand", ""


@cache
def guess_reason(text: str) -> tuple[str | None, str, str]:
    """``(reason code, status, why)`` of one part of a multi-valued reason cell."""
    code = ingest.reason_lookup().get(ingest.normalise_header(text))
    if code is not None:
        return code, "exakt", "en orsak i schemat"
    v, why = guess_by_words(text, _reason_spellings())
    return (v, "gissning", why) if v is not None else (None, "okand", "")


def _value_guesses(counts: pd.Series, guess: Any, min_count: int, col: str) -> list[ValueGuess]:
    out: list[ValueGuess] = []
    for text, n in counts.items():
        t = str(text)
        code, status, why = guess(t)
        shown = clean.code_like(t, int(n), min_count) or (
            status in ("exakt", "tolkad", "gissning") and clean.code_like(t, 1, 1))
        out.append(ValueGuess(t if shown else clean.display_value(col, t), int(n), shown, code, status, why))
    return out


# ---------------------------------------------------------------------------------------------
# Columns
# ---------------------------------------------------------------------------------------------

@dataclass
class ColumnGuess:
    """One column of the file and what it probably is."""

    pos: int
    header: str
    n: int
    distinct: int
    kind: str                      # datum, ja/nej, personnummer, tal, text, fritext, tom
    target: str | None = None      # schema column (or None: drop)
    how: str = "drop"              # known (header is the schema's), columns, derive, reasons, drop
    why: str = ""
    separator: str | None = None
    values: list[ValueGuess] = field(default_factory=list)

    @property
    def header_shown(self) -> str:
        """The header, or only the column letter when it looks like a personnummer."""
        letter = ingest.column_letter(self.pos)
        return f"(kolumn {letter})" if personnummer.contains(self.header) else f"{letter} {self.header!r}"


def _shares(counts: pd.Series) -> dict[str, float]:
    total = float(counts.sum()) or 1.0
    texts = [str(t) for t in counts.index]
    n = counts.to_numpy(dtype=float)

    def share(pred: Any) -> float:
        return float(sum(w for t, w in zip(texts, n, strict=True) if pred(t)) / total)

    yes_no = set(schema.JA_NEJ_ALIASES_TRUE) | set(schema.JA_NEJ_ALIASES_FALSE)
    return {
        "datum": share(lambda t: not t.isdigit() and clean.parse_date(t) is not None),
        "ja/nej": share(lambda t: _fold(t) in yes_no),
        "personnummer": share(personnummer.looks_like),
        "tal": share(lambda t: clean.parse_int(t) is not None and len(t) <= 3),
        "pnr_i_text": share(personnummer.contains),
        "lang": share(lambda t: len(t) > 30),
    }


def _kind(sh: Mapping[str, float], distinct: int, n: int) -> str:
    for kind in ("personnummer", "datum", "ja/nej", "tal"):
        if sh[kind] >= _KIND_SHARE:
            return kind
    if sh["pnr_i_text"] > 0 or (sh["lang"] >= 0.3 and distinct > 200):
        return "fritext"
    return "text" if n else "tom"


def _reason_split(counts: pd.Series) -> tuple[str, float] | None:
    """The separator of a multi-valued reason column and the share of parts that are reasons."""
    best: tuple[str, float] | None = None
    lookup = ingest.reason_lookup()
    for sep in _REASON_SEPS:
        parts: dict[str, int] = {}
        for text, n in counts.items():
            for part in str(text).split(sep):
                if part.strip():
                    parts[part.strip()] = parts.get(part.strip(), 0) + int(n)
        total = sum(parts.values()) or 1
        hit = sum(n for p, n in parts.items() if ingest.normalise_header(p) in lookup
                  or guess_reason(p)[0] is not None) / total
        multi = sum(int(n) for t, n in counts.items() if sep in str(t)) / (float(counts.sum()) or 1.0)
        if hit >= 0.5 and (multi > 0 or best is None) and (best is None or hit > best[1]):
            best = (sep, hit)
    return best


def _code_share(counts: pd.Series, name: str) -> float:
    if len(counts) > 60:
        return 0.0
    total = float(counts.sum()) or 1.0
    hits = sum(int(n) for t, n in counts.items() if clean.match_code(str(t), name)[1] != "okand")
    return float(hits) / total


def _candidates(g: ColumnGuess, counts: pd.Series, sh: Mapping[str, float]
                ) -> list[tuple[float, str, str, str]]:
    """``(score, how, target, why)`` of every schema column this column may be."""
    exact = ingest.header_lookup().get(ingest.normalise_header(g.header))
    if exact is not None:
        return [(10.0, "known", exact, "rubriken är schemats")]
    out: list[tuple[float, str, str, str]] = []
    if g.kind == "fritext" or g.kind == "tom":
        return out
    split = _reason_split(counts) if g.kind == "text" and g.distinct <= 500 else None
    if split is not None:
        out.append((2.0 + split[1], "reasons", "__orsak__",
                    f"{split[1]:.0%} av delarna (avgränsare {split[0]!r}) är anmälningsorsaker"))
    for name in schema.TEMPLATE_COLUMNS:
        if name in schema.REASON_COLUMNS or name == "barn_id":
            continue
        c = schema.column(name)
        h = header_score(g.header, name)
        hw = f"rubrikens ord liknar {c.sv!r}" if h > 0 else ""
        if name == "personnummer":
            if g.kind == "personnummer":
                out.append((3.0 + h, "columns", name, "värdena är personnummer"))
        elif c.dtype == "date" and g.kind == "datum" and h > 0.2:
            out.append((1.0 + h, "columns", name, f"värdena är datum; {hw}"))
        elif c.dtype == "bool" and g.kind == "ja/nej" and h > 0.2:
            out.append((1.0 + h, "columns", name, f"värdena är Ja/Nej; {hw}"))
        elif c.dtype == "bool" and g.kind == "datum" and h > 0.3:
            out.append((0.9 + h, "derive", name, f"värdena är datum; {hw}: Ja där ett datum finns"))
        elif c.dtype == "code" and g.kind in ("text", "ja/nej"):
            s = _code_share(counts, name)
            if (s >= 0.3 and (g.kind == "text" or h >= 0.5)) or (h >= 0.5 and g.distinct <= 40):
                why = f"{s:.0%} av värdena är dess koder" + (f"; {hw}" if h else "")
                out.append((h + 2 * s, "columns", name, why))
        elif c.dtype == "int" and g.kind == "tal" and h > 0.2:
            out.append((1.0 + h, "columns", name, f"värdena är tal; {hw}"))
        elif name == "rad_id" and g.kind in ("text", "tal") and g.distinct >= 0.95 * g.n and h > 0.2:
            out.append((1.0 + h, "columns", name, f"värdena är unika; {hw}"))
        elif name == "omrade" and g.kind == "text" and h >= 0.5 and g.distinct <= 40:
            out.append((h, "columns", name, hw))
    return out


def guess_columns(sheet: Any, min_count: int) -> list[ColumnGuess]:
    """Every column of a read file (:func:`genomlysning.ingest.read_table`) with its best guess."""
    guesses: list[ColumnGuess] = []
    options: list[tuple[float, int, str, str, str]] = []
    all_counts: dict[int, pd.Series] = {}
    for pos, header in enumerate(sheet.headers):
        s = sheet.frame[pos].dropna().astype(str).str.strip()
        s = s[s != ""]
        counts = s.value_counts(sort=True)
        order = sorted(range(len(counts)), key=lambda i: (-int(counts.iloc[i]), str(counts.index[i])))
        counts = counts.iloc[order]
        all_counts[pos] = counts
        sh = _shares(counts) if len(counts) else dict.fromkeys(("datum", "ja/nej", "personnummer", "tal",
                                                                 "pnr_i_text", "lang"), 0.0)
        g = ColumnGuess(pos, str(header or ""), int(len(s)), int(len(counts)), _kind(sh, len(counts), len(s)))
        guesses.append(g)
        if personnummer.contains(g.header) or not g.header:
            g.why = "rubriken liknar ett personnummer" if g.header else "kolumn utan rubrik"
            continue
        options += [(score, pos, how, target, why) for score, how, target, why in _candidates(g, counts, sh)]
    taken: set[str] = set()
    done: set[int] = set()
    for _score, pos, how, target, why in sorted(options, key=lambda o: (-o[0], o[1], o[3])):
        if pos in done or target in taken:
            continue
        g = guesses[pos]
        g.target, g.how, g.why = target, how, why
        taken.add(target)
        done.add(pos)
    for g in guesses:
        counts = all_counts[g.pos]
        if g.how == "drop" and not g.why:
            g.why = {"fritext": "fritext (visas inte)", "tom": "kolumnen är tom"}.get(
                g.kind, f"ingen schemakolumn passar ({g.kind}, {g.distinct} olika värden)")
        if g.how == "reasons":
            split = _reason_split(counts)
            g.separator = split[0] if split else ";"
            parts: dict[str, int] = {}
            for text, n in counts.items():
                for part in str(text).split(g.separator):
                    if part.strip():
                        parts[part.strip()] = parts.get(part.strip(), 0) + int(n)
            pc = pd.Series(parts, dtype="int64").sort_values(ascending=False, kind="mergesort")
            g.values = _value_guesses(pc, guess_reason, min_count, "orsak_ovrigt")
        elif g.target and schema.column(g.target).dtype in ("code", "bool") and g.how != "derive":
            target = g.target
            g.values = _value_guesses(counts, lambda t, c=target: guess_value(t, c), min_count, target)
    return guesses


# ---------------------------------------------------------------------------------------------
# Output
# ---------------------------------------------------------------------------------------------

def _q(text: str) -> str:
    """A YAML scalar in double quotes (JSON's string syntax is valid YAML)."""
    return json.dumps(str(text), ensure_ascii=False)


def _n(x: int) -> str:
    return f"{x:,}".replace(",", " ")


def describe(guesses: Sequence[ColumnGuess], fil: str, rows: int) -> str:
    """Per column: header, counts, kind, the schema column it probably is and its values."""
    lines = [f"Kolumner i {fil} ({_n(rows)} rader):"]
    for g in guesses:
        target = {"known": f"{g.target} (rubriken känns igen)", "columns": f"{g.target}",
                  "derive": f"{g.target} härledd (Ja där ett datum finns)",
                  "reasons": f"anmälningsorsaker, avgränsare {g.separator!r}", "drop": "tas bort"}[g.how]
        lines.append(f"  {g.header_shown}: {_n(g.n)} värden, {_n(g.distinct)} olika, {g.kind} -> {target}"
                     + (f"  [{g.why}]" if g.why else ""))
        for v in g.values:
            means = {"exakt": f"{v.code}", "tolkad": f"{v.code} (tolkad)",
                     "gissning": f"{v.code}? ({v.why})", "okand": "OKÄND – ange koden"}[v.status]
            lines.append(f"      {v.text!r}: {_n(v.count)} -> {means}")
    return "\n".join(lines)


def _valid(name: str) -> str:
    if name == "__orsak__":
        return ", ".join(r.code for r in schema.ORSAKER)
    c = schema.column(name)
    return "Ja, Nej" if c.dtype == "bool" else ", ".join(x.code for x in c.codes)


def draft_mapping(guesses: Sequence[ColumnGuess]) -> str:
    """The draft ``mapping:`` block (YAML) with a comment on every guess."""
    lines = ["mapping:", "  columns:"]
    for g in guesses:
        if g.how == "columns":
            lines.append(f"    {_q(g.header)}: {g.target}   # gissning: {g.why}")
    values: list[str] = []
    for g in guesses:
        todo = [v for v in g.values if v.status != "exakt"]
        hidden = [v for v in todo if not v.shown]
        if not todo:
            continue
        key = g.header if g.how == "reasons" else g.target
        note_r = "   # orsakskolumnen: värden är orsakskoder" if g.how == "reasons" else ""
        values.append(f"    {_q(str(key))}:{note_r}")
        valid = _valid("__orsak__" if g.how == "reasons" else str(key))
        for v in todo:
            if not v.shown:
                continue
            if v.code is None:
                values.append(f"      # {_q(v.text)}: ?   # {_n(v.count)} st: okänt – skriv en av {valid}")
            else:
                note = "läses redan, här utan varning" if v.status == "tolkad" else f"gissning: {v.why}"
                values.append(f"      {_q(v.text)}: {v.code}   # {_n(v.count)} st; {note}")
        if hidden:
            values.append(f"      # och {len(hidden)} sällsynta värden som inte visas (se genomlysning "
                          "validate)")
    if values:
        lines += ["  values:", *values]
    for g in guesses:
        if g.how == "reasons":
            lines.append(f"  reasons: {{column: {_q(g.header)}, separator: {_q(g.separator or ';')}}}   "
                         f"# gissning: {g.why}")
    derive = [g for g in guesses if g.how == "derive"]
    if derive:
        lines.append("  derive:")
        lines += [f"    {g.target}: {_q(g.header)}   # gissning: {g.why}" for g in derive]
    drop = [g for g in guesses if g.how == "drop" and g.header and not personnummer.contains(g.header)]
    if drop:
        lines.append("  drop:")
        lines += [f"    - {_q(g.header)}   # {g.why}" for g in drop]
    if lines[1] == "  columns:" and (len(lines) == 2 or not lines[2].startswith("    ")):
        lines[1] = "  columns: {}"
    return "\n".join(lines)


def cli_map(args: argparse.Namespace) -> int:
    """``genomlysning map FILE [--params P]``: describe every column and print a draft mapping."""
    from genomlysning import params as params_mod

    path = Path(args.file)
    if not path.is_file():
        print(f"genomlysning map: {clean.mask_text(str(args.file))}: filen finns inte")
        return 2
    prm: dict[str, Any] = params_mod.load(args.params) if args.params else dict(params_mod.DEFAULTS)
    prm = {k: v for k, v in prm.items() if k != "mapping"}
    p = paths.resolve(path)
    fil = paths.relative(p)
    ingest.check_file_name(fil)
    sheet = ingest.read_table(p, fil, prm)
    guesses = guess_columns(sheet, int(prm.get("k", 5)))
    print(describe(guesses, fil, len(sheet.frame)))
    print("\nUtkast att klistra in i params/<kommun>.yaml (kontrollera varje gissning; kör sedan "
          f"genomlysning validate {fil} --params params/<kommun>.yaml):\n")
    print(draft_mapping(guesses))
    return 0

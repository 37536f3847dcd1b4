"""Hostile and careless inputs: every one ends in a message naming the file, row, column or key,
with the accounting intact (rows in = clean + quarantined, and every data row of the file is in),
no traceback and nothing written outside the project.

The corpus is generated here from a small synthetic municipality (no binary files are committed):
:func:`corpus` writes each case's file and params into a throw-away project whose folder sits
beside an ``utanfor/`` folder that must stay empty.
"""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

import openpyxl
import pandas as pd
import pytest

from genomlysning import clean, cli, ingest, params, paths, personnummer, runner, schema, synth

KOMMUN = "fientlig"
ROWS = 40


@dataclass
class Env:
    """A throw-away project (``root``) and the folder beside it that nothing may touch."""

    root: Path
    outside: Path
    header: list[str]
    rows: list[list[str]]
    df: pd.DataFrame
    planted: set[Path] = field(default_factory=set)  # files the test itself put outside the project

    def raw(self, name: str) -> Path:
        return self.root / "data" / "raw" / KOMMUN / name

    def params(self, name: str, extra: str = "") -> Path:
        p = self.root / "params" / f"{KOMMUN}.yaml"
        p.write_text(f"kommun: {KOMMUN}\nnamn: Fientlig\ninput: data/raw/{KOMMUN}/{name}\n"
                     f"period_slut: 2025-12-31\n{extra}", encoding="utf-8")
        return p

    def csv_text(self, sep: str = ";", rows: list[list[str]] | None = None) -> str:
        buf = io.StringIO()
        writer = csv.writer(buf, delimiter=sep, lineterminator="\n")
        writer.writerows([self.header, *(self.rows if rows is None else rows)])
        return buf.getvalue()


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Env:
    root, outside = tmp_path / "projekt", tmp_path / "utanfor"
    for name, sub in (("PROJECT_ROOT", ""), ("DATA_RAW", "data/raw"), ("DATA_PROCESSED", "data/processed"),
                      ("PARAMS_DIR", "params"), ("REPORTS_DIR", "reports")):
        monkeypatch.setattr(paths, name, root / sub if sub else root)
    (root / "params").mkdir(parents=True)
    (root / "data" / "raw" / KOMMUN).mkdir(parents=True)
    outside.mkdir()
    monkeypatch.setenv(personnummer.KEY_ENV, "0f" * 32)
    spec = replace(synth.demo_spec("ekby"), kommun=KOMMUN, volym=ROWS)
    df, _ = synth.generate_kommun(spec, 5)
    df = df.head(ROWS).reset_index(drop=True)
    header = [schema.column(c).sv for c in df.columns]
    rows = [[str(v) for v in r] for r in df.to_numpy(dtype=object)]
    return Env(root, outside, header, rows, df)


def _written_outside(env: Env) -> list[Path]:
    """Files written anywhere under the test's folder except inside the project."""
    return [p for p in env.outside.parent.rglob("*")
            if p.is_file() and env.root not in p.parents and p not in env.planted]


def _processed_files(env: Env) -> set[str]:
    base = env.root / "data" / "processed"
    return {p.relative_to(env.root).as_posix() for p in base.rglob("*") if p.is_file()} if base.exists() \
        else set()


def _prepare(env: Env, capsys: pytest.CaptureFixture[str]) -> tuple[int, str, dict]:
    """``genomlysning prepare`` of the case; exit code, printed text and the accounting written."""
    code = cli.main(["prepare", "--kommun", KOMMUN])
    out = capsys.readouterr().out
    acc_path = env.root / "data" / "processed" / KOMMUN / "redovisning.json"
    import json

    acc = json.loads(acc_path.read_text(encoding="utf-8")) if acc_path.exists() else {}
    assert "Traceback" not in out
    assert _written_outside(env) == []
    assert _processed_files(env) <= {f"data/processed/{KOMMUN}/{f}" for f in clean.PROCESSED_FILES.values()}
    return code, out, acc


def _validate(env: Env, file: Path, prm: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    code = cli.main(["validate", str(file), "--params", str(prm)])
    out = capsys.readouterr().out
    assert "Traceback" not in out and _written_outside(env) == [] and _processed_files(env) == set()
    return code, out


def _problems(env: Env) -> pd.DataFrame:
    return pd.read_csv(env.root / "data" / "processed" / KOMMUN / "valideringsrapport.csv", dtype=str,
                       keep_default_na=False)


def _accounted(acc: dict, rows: int = ROWS) -> None:
    assert acc["rows_in"] == rows == acc["rows_clean"] + acc["rows_quarantined"]


# ---------------------------------------------------------------------------------------------
# The corpus: each case writes a file (and params) and says what the message must name
# ---------------------------------------------------------------------------------------------

@dataclass
class Case:
    """One hostile input: how to write it, the params it needs, what the report must say and the
    Excel row of the first data row (rows are then checked to be numbered as Excel shows them)."""

    name: str
    write: Callable[[Env, Path], None]
    file: str = "aktualiseringar.csv"
    extra: str = ""
    says: tuple[str, ...] = ()
    first_row: int = 2
    quarantined: tuple[int, ...] = ()
    rows: int = ROWS
    columns: tuple[str, ...] = field(default=())


def _utf16(e: Env, p: Path) -> None:
    p.write_bytes(e.csv_text("\t").encode("utf-16"))  # Excel's "Unicode text": UTF-16 LE, BOM, tab


def _stray(e: Env, p: Path) -> None:
    i = next(i for i, r in enumerate(e.rows) if any(ch in r[e.header.index("Anmälare")] for ch in "åäö"))
    value = e.rows[i][e.header.index("Anmälare")]
    lines = e.csv_text().encode("utf-8").split(b"\n")
    lines[0] = lines[0].replace("Anmälare".encode(), "Anmälare".encode("cp1252"))
    lines[i + 1] = lines[i + 1].replace(value.encode(), value.encode("cp1252"), 1)
    p.write_bytes(b"\n".join(lines))
    e.df.attrs["stray_row"] = i + 2


def _short(e: Env, p: Path) -> None:
    rows = [list(r) for r in e.rows]
    rows[4] = rows[4][:12]  # an export cut the row: its utredning and insats fields are gone
    p.write_text(e.csv_text(rows=rows), encoding="utf-8")


def _long(e: Env, p: Path) -> None:
    rows = [list(r) for r in e.rows]
    rows[6] = rows[6] + ["extra", "fält"]
    p.write_text(e.csv_text(rows=rows), encoding="utf-8")


def _xlsx(e: Env, p: Path, *, title: list[str] | None = None, hidden_data: bool = False,
          formula_at: tuple[int, int] | None = None) -> None:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "Export" if hidden_data else "Data"
    if title:
        ws.append(title)
        ws.append([])
    ws.append(e.header)
    for r in e.rows:
        ws.append([v or None for v in r])
    if formula_at:
        ws.cell(row=formula_at[0], column=formula_at[1], value="=1+1")  # no cached value saved
    if hidden_data:
        stale = wb.create_sheet("Data")
        stale.append(e.header)
        stale.append(e.rows[0])
        stale.sheet_state = "hidden"
    wb.save(p)


CASES: list[Case] = [
    Case("utf16", _utf16, says=("UTF-16",)),
    Case("stray_cp1252_byte", _stray, says=("inte är UTF-8", "Windows-1252")),
    Case("pipe", lambda e, p: p.write_text(e.csv_text("|"), encoding="utf-8"), says=("'|' (lodstreck)",)),
    Case("sep_line", lambda e, p: p.write_text("sep=;\n" + e.csv_text(), encoding="utf-8"),
         says=("'sep=;'",)),
    Case("title_above_header", lambda e, p: p.write_text("Export från verksamhetssystemet 2025\n\n"
                                                         + e.csv_text(), encoding="utf-8"),
         says=("rubrikraden är rad 3, inte rad 1", "raderna 1-2"), first_row=4),
    Case("short_row", _short, says=("raden har 12 fält men rubrikraden har 40",), quarantined=(6,)),
    Case("long_row", _long, says=("raden har 42 fält men rubrikraden har 40",), quarantined=(8,)),
    Case("hidden_data_sheet", lambda e, p: _xlsx(e, p, hidden_data=True), file="aktualiseringar.xlsx",
         says=("det dolda bladet 'Data' lästes inte", "'Export'")),
    Case("xlsx_title_above_header", lambda e, p: _xlsx(e, p, title=["Genomlysning 2025"]),
         file="aktualiseringar.xlsx", says=("rubrikraden är rad 3, inte rad 1",), first_row=4),
    Case("formula_without_value", lambda e, p: _xlsx(e, p, formula_at=(9, 1)), file="aktualiseringar.xlsx",
         says=("formelcell utan sparat värde",), quarantined=(9,), columns=("rad_id",)),
]


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_a_hostile_file_is_read_reported_and_accounted_for(case: Case, env: Env,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    file = env.raw(case.file)
    case.write(env, file)
    prm = env.params(case.file, case.extra)
    code, printed = _validate(env, file, prm, capsys)
    assert "Rader in:" in printed, printed[:500]
    for text in case.says:
        assert text in printed, (text, printed[:1500])
    code, out, acc = _prepare(env, capsys)
    assert code == 0, out
    _accounted(acc, case.rows)
    report = _problems(env)
    for text in case.says:
        assert report["regel"].str.contains(text, regex=False).any(), text
    fatal = report[report["allvarlighet"] == "fel"]
    assert set(fatal["rad_excel"].astype(int)) == set(case.quarantined)
    for col in case.columns:
        assert (fatal["kolumn"] == col).all()
    frame = clean.load_clean(KOMMUN)
    expected = [r for r in range(case.first_row, case.first_row + case.rows) if r not in case.quarantined]
    assert sorted(frame["rad_excel"].tolist()) == expected  # numbered as Excel shows the rows
    quarantine = pd.read_csv(env.root / "data" / "processed" / KOMMUN / "karantan.csv")
    assert sorted(quarantine["rad_excel"].tolist()) == list(case.quarantined)


def test_a_stray_byte_is_read_as_windows_1252_in_header_and_cell(env: Env,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    _stray(env, env.raw("aktualiseringar.csv"))
    raw = ingest.read_raw(env.raw("aktualiseringar.csv"))
    assert "anmalare" in raw.columns_found  # the header with its cp1252 'ä' is recognised
    row = env.df.attrs["stray_row"]
    [cell] = [p for p in raw.problems if p.rad_excel == row]
    assert cell.kolumn == "anmalare" and cell.allvarlighet == "varning"
    pos = raw.rad_excel.tolist().index(row)
    assert raw.frame.loc[pos, "anmalare"] == env.rows[row - 2][env.header.index("Anmälare")]


def test_hidden_sheet_is_read_when_named(env: Env, capsys: pytest.CaptureFixture[str]) -> None:
    _xlsx(env, env.raw("aktualiseringar.xlsx"), hidden_data=True)
    raw = ingest.read_raw(env.raw("aktualiseringar.xlsx"), {"sheet": "Data"})
    assert len(raw) == 1  # the stale hidden sheet, only because params named it


# ---------------------------------------------------------------------------------------------
# Files that cannot be read: one message naming what is wrong, exit 1, nothing written
# ---------------------------------------------------------------------------------------------

def _bomb(e: Env, p: Path) -> None:
    """A small xlsx whose sheet unpacks to 3 MB of whitespace (the cap is set to 1 MB)."""
    _xlsx(e, p)
    with zipfile.ZipFile(p) as zf:
        parts = {n: zf.read(n) for n in zf.namelist()}
    sheet = parts["xl/worksheets/sheet1.xml"]
    parts["xl/worksheets/sheet1.xml"] = sheet.replace(b"<sheetData>", b"<sheetData>" + b" " * 3_000_000, 1)
    with zipfile.ZipFile(p, "w", zipfile.ZIP_DEFLATED) as zf:
        for n, data in parts.items():
            zf.writestr(n, data)


UNREADABLE: list[tuple[str, Callable[[Env, Path], None], str, str, tuple[str, ...]]] = [
    ("zip_bomb", _bomb, "aktualiseringar.xlsx", "max_xlsx_mb: 1\n",
     ("packas upp till 3 MB, mer än gränsen 1 MB (max_xlsx_mb)",)),
    ("too_many_cells", lambda e, p: _xlsx(e, p), "aktualiseringar.xlsx", "max_cells: 200\n",
     ("fler än 200 celler (gränsen max_cells)",)),
    ("not_a_zip", lambda e, p: p.write_bytes(b"PK\x03\x04 inte en arbetsbok"), "aktualiseringar.xlsx", "",
     ("kan inte läsas som Excel-fil",)),
    ("colon_separator", lambda e, p: p.write_text(e.csv_text(":"), encoding="utf-8"), "aktualiseringar.csv",
     "", ("Ingen rubrik känns igen", "annan avgränsare", "csv_sep")),
    ("one_column", lambda e, p: p.write_text("Löpnummer Datum Typ\n1 2025-01-01 Anmälan\n", encoding="utf-8"),
     "aktualiseringar.csv", "", ("bara en kolumn", "csv_sep")),
    ("mis_decoded", lambda e, p: p.write_text(e.csv_text(), encoding="utf-8"), "aktualiseringar.csv",
     "encoding: cp1252\n", ("felavkodade", "encoding:")),
    ("empty", lambda e, p: p.write_bytes(b"\r\n \n"), "aktualiseringar.csv", "", ("filen är tom",)),
    ("only_hidden_sheets", lambda e, p: _only_hidden(e, p), "aktualiseringar.xlsx", "",
     ("bara dolda blad",)),
]


def _only_hidden(e: Env, p: Path) -> None:
    """A workbook whose every sheet is hidden (openpyxl refuses to write one: edited in the zip)."""
    import re

    _xlsx(e, p, hidden_data=True)
    with zipfile.ZipFile(p) as zf:
        parts = {n: zf.read(n) for n in zf.namelist()}
    book = re.sub(rb' state="\w+"', b"", parts["xl/workbook.xml"])
    parts["xl/workbook.xml"] = book.replace(b"<sheet ", b'<sheet state="hidden" ')
    with zipfile.ZipFile(p, "w", zipfile.ZIP_DEFLATED) as zf:
        for n, data in parts.items():
            zf.writestr(n, data)


@pytest.mark.parametrize(("name", "write", "file", "extra", "says"), UNREADABLE,
                         ids=[u[0] for u in UNREADABLE])
def test_an_unreadable_file_is_one_message(name: str, write: Callable[[Env, Path], None], file: str,
                                           extra: str, says: tuple[str, ...], env: Env,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    path = env.raw(file)
    write(env, path)
    prm = env.params(file, extra)
    code, printed = _validate(env, path, prm, capsys)
    assert code == 1
    assert printed.startswith(f"genomlysning validate: data/raw/{KOMMUN}/{file}: ")
    for text in says:
        assert text in printed, (text, printed)
    assert len(printed) < 1500  # a few lines, not a dump
    code, out, acc = _prepare(env, capsys)
    assert code == 1 and acc == {} and _processed_files(env) == set()
    assert f"data/raw/{KOMMUN}/{file}" in out


def test_the_size_cap_is_checked_before_the_sheet_is_read(env: Env, monkeypatch: pytest.MonkeyPatch) -> None:
    _bomb(env, env.raw("aktualiseringar.xlsx"))
    monkeypatch.setattr(ingest, "_sheet_rows", lambda *a, **k: pytest.fail("the sheet was read"))
    with pytest.raises(ingest.IngestError, match="max_xlsx_mb"):
        ingest.read_raw(env.raw("aktualiseringar.xlsx"), {"max_xlsx_mb": 1})


# ---------------------------------------------------------------------------------------------
# Bad params and names: the key and value named, exit 1, nothing written anywhere
# ---------------------------------------------------------------------------------------------

BAD_PARAMS: list[tuple[str, str]] = [
    ("k: 1\n", "k = 1: utanför tillåtna värden"),
    ("k: 2.5\n", "k = 2.5: fel typ (decimaltal)"),
    ("k: fem\n", "k = 'fem': fel typ (text)"),
    ("ar: tjugo\n", "ar = 'tjugo': fel typ (text)"),
    ("ateraktualisering_manader: -3\n", "ateraktualisering_manader = -3: utanför tillåtna värden"),
    ("lang: de\n", "lang = 'de': inget av de tillåtna värdena; giltigt: sv eller en"),
    ("reform_datum: 2025-02-30\n", "reform_datum = '2025-02-30': inget giltigt datum"),
    ("omraden: [Nord\n", "ogiltig YAML (rad"),
    ("lang: en\nk: 2\n", "k = 2: out of range; valid: an integer 3-100"),
    ("formula: arendetyp + skostorlek\n", "formula = 'arendetyp + skostorlek'"),
]


@pytest.mark.parametrize(("extra", "says"), BAD_PARAMS, ids=[b[0].split(":")[0] + str(i)
                                                             for i, b in enumerate(BAD_PARAMS)])
def test_bad_params_name_file_key_and_value(extra: str, says: str, env: Env,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    file = env.raw("aktualiseringar.csv")
    file.write_text(env.csv_text(), encoding="utf-8")
    prm = env.params("aktualiseringar.csv", extra)
    code, printed = _validate(env, file, prm, capsys)
    assert code == 1 and f"params/{KOMMUN}.yaml" in printed and says in printed, printed
    code, out, acc = _prepare(env, capsys)
    assert code == 1 and says in out and acc == {}


def test_a_municipality_name_cannot_leave_the_project(env: Env, capsys: pytest.CaptureFixture[str]) -> None:
    evil = env.outside / "x.yaml"
    evil.write_text(f"kommun: ../../utanfor/x\ninput: data/raw/{KOMMUN}/a.csv\n", encoding="utf-8")
    env.planted.add(evil)
    name = "../../utanfor/x"
    code, out, _ = _prepare(env, capsys)  # no params of KOMMUN: fails, writes nothing
    assert cli.main(["prepare", "--kommun", name]) == 1
    out = capsys.readouterr().out
    assert "kommunnamnet '../../utanfor/x' är inte tillåtet" in out and "Traceback" not in out
    assert sorted(p.name for p in env.outside.iterdir()) == ["x.yaml"]
    with pytest.raises(params.ParamsError, match="kommunnamnet"):
        runner.check_params(runner.Project(env.root), [name], [])
    with pytest.raises(params.ParamsError, match=r"kommun = '../../utanfor/x': inget säkert mappnamn"):
        params.load(evil)


def test_an_input_outside_the_project_is_refused(env: Env, capsys: pytest.CaptureFixture[str]) -> None:
    secret = env.outside / "annan.csv"
    secret.write_text(env.csv_text(), encoding="utf-8")
    env.planted.add(secret)
    env.raw("lank.csv").symlink_to(secret)
    env.params("lank.csv")
    code, out, acc = _prepare(env, capsys)
    assert f"input = 'data/raw/{KOMMUN}/lank.csv': pekar utanför projektmappen" in out
    assert code == 1 and acc == {}
    env.params("../../../../utanfor/annan.csv")  # data/raw/<kommun>/../../../../ is the project's parent
    code, out, acc = _prepare(env, capsys)
    assert code == 1 and "pekar utanför projektmappen" in out and acc == {}


def test_a_missing_key_is_a_message_not_a_traceback(env: Env, monkeypatch: pytest.MonkeyPatch,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    env.raw("aktualiseringar.csv").write_text(env.csv_text(), encoding="utf-8")
    env.params("aktualiseringar.csv")
    monkeypatch.delenv(personnummer.KEY_ENV)
    monkeypatch.setenv("GENOMLYSNING_KEY_FILE", str(env.outside / "finns_inte"))
    code, out, acc = _prepare(env, capsys)
    assert code == 1 and "GENOMLYSNING_KEY" in out and acc == {}


def test_an_unexpected_error_is_two_lines_and_exit_1(env: Env, monkeypatch: pytest.MonkeyPatch,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    def boom(*_: object, **__: object) -> None:
        raise RuntimeError("trasigt vid 19811218-9876")

    monkeypatch.setattr(clean, "run_cleaning", boom)
    env.params("aktualiseringar.csv")
    assert cli.main(["prepare", "--kommun", KOMMUN]) == 1
    out = capsys.readouterr().out
    assert out.startswith("genomlysning prepare: oväntat fel (RuntimeError): trasigt vid")
    assert "9876" not in out and "Traceback" not in out and len(out.splitlines()) == 2
    monkeypatch.setenv(cli.DEBUG_ENV, "1")
    with pytest.raises(RuntimeError):
        cli.main(["prepare", "--kommun", KOMMUN])

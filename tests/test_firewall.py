"""The privacy firewall at the edge of data/raw/, end to end.

A small synthetic municipality is written as the template CSV with identifiers planted where real
exports put them: personnummer written with every separator in Område/team, in Löpnummer and in
Barn-id, a personnummer as a column header, a child's name in Område/team and free text in a coded
column and in an extra column. Validation and preparation then run into a throw-away project, and
every file written under data/processed/ (and the printed validation report) is searched for each
planted string, its digits-only forms and every personnummer of the file.
"""

from __future__ import annotations

import json
import re
from dataclasses import replace
from pathlib import Path

import pandas as pd
import pytest

from genomlysning import clean, cli, params, personnummer, synth

KOMMUN = "brandvagg"
AREAS = ["Nord", "Syd", "Centrum", "Pilot"]
#: The real-looking (not demo-series) numbers planted outside the personnummer column.
PLANTED_BIRTHS = ["20120315", "20090704", "20141129", "20070218", "20160902", "20100611", "20130127",
                  "20081010", "20150505", "20110830", "20060422", "20170113", "20120909", "20100101",
                  "20140707", "20090303", "20160606", "20130808"]
NAME = "Kalle Svensson"
FREE_TEXT = "Mamma Eva ringde om Kalle"
NOTE = "Eva Lind tel 070-1234567 har oro"


def valid(birth: str, serial: str) -> str:
    """A valid 12-digit personnummer (no separator) for a birth date YYYYMMDD and a 3-digit serial."""
    return f"{birth}{serial}{personnummer.luhn_digit(birth[2:] + serial)}"


def written_forms(c: str) -> list[str]:
    """The 12-digit personnummer ``c`` written the ways people and systems write it."""
    y4, y2, m, d, s = c[:4], c[2:4], c[4:6], c[6:8], c[8:]
    return [f"{y4}{m}{d}-{s}", f"{y4}{m}{d}{s}", f"{y2}{m}{d}-{s}", f"{y2}{m}{d}{s}",
            f"{y4}{m}{d}\u00a0{s}", f"{y2}{m}{d}\u2011{s}", f"{y2}{m}{d}\u2013{s}", f"{y2}{m}{d}\u2014{s}",
            f"{y2}{m}{d}\u2212{s}", f"{y2}{m}{d}/{s}", f"{y2}{m}{d}_{s}", f"{y2}.{m}.{d}.{s}",
            f"{y2} {m} {d} {s}", f"{y2}{m}{d} - {s}", f"{y4}-{m}-{d}-{s}", f"{y4}-{m}-{d} {s}"]


def samordningsnummer(birth: str, serial: str) -> str:
    """A valid samordningsnummer (day + 60), 10-digit form with a dash."""
    ten = birth[2:6] + f"{int(birth[6:8]) + 60:02d}" + serial
    return f"{ten[:6]}-{ten[6:]}{personnummer.luhn_digit(ten)}"


def _digits(text: str) -> str:
    return re.sub(r"\D", "", text)


@pytest.fixture
def planted(tmp_project: Path, monkeypatch: pytest.MonkeyPatch) -> dict:
    """The raw file with its planted identifiers, its params, and everything needed to search."""
    monkeypatch.setenv(personnummer.KEY_ENV, "0f" * 32)  # real data: an own key of 64 characters
    spec = replace(synth.demo_spec("storstad_vaster"), kommun=KOMMUN, volym=70)
    df, _ = synth.generate_kommun(spec, 11)
    df = df[df["personnummer"] != ""].reset_index(drop=True)
    numbers = [valid(b, f"{120 + i:03d}") for i, b in enumerate(PLANTED_BIRTHS)]
    forms = written_forms(numbers[0])
    plants: list[tuple[int, str, str]] = []  # (row position, column, planted text)
    for i, form in enumerate(forms):  # one person, every separator, in Område/team
        plants.append((i, "omrade", f"Team {form}"))
    plants.append((len(forms), "omrade", samordningsnummer(PLANTED_BIRTHS[1], "456")))
    for j, n in enumerate(numbers[2:8]):  # other people, in Löpnummer
        plants.append((40 + j, "rad_id", written_forms(n)[j % 4 + 4]))
    for j, n in enumerate(numbers[8:14]):  # and in Barn-id (rows without a personnummer)
        plants.append((60 + j, "barn_id", written_forms(n)[j + 5]))
    plants += [(80, "omrade", NAME), (81, "anmalare", FREE_TEXT), (82, "omrade", "Väster")]
    for pos, col, text in plants:
        df.loc[pos, col] = text
        if col == "barn_id":
            df.loc[pos, "personnummer"] = ""
    entered_ids = []
    for k, (pnr_value, _) in enumerate(df.iloc[90:]["personnummer"].value_counts().head(2).items()):
        entered_ids.append(f"K-{42 + k:04d}")  # children entered by barn_id only, several rows each
        df.loc[df["personnummer"] == pnr_value, ["personnummer", "barn_id"]] = ["", entered_ids[-1]]
    header = f"Anteckning om {written_forms(numbers[14])[2]}"
    df[header] = ["ingen" if i % 2 else "" for i in range(len(df))]
    df["Kommentar"] = [NOTE if i == 5 else "" for i in range(len(df))]
    raw_file = tmp_project / "data" / "raw" / KOMMUN / "aktualiseringar.csv"
    synth.write_template_csv(df, raw_file)
    params_file = tmp_project / "params" / f"{KOMMUN}.yaml"
    params_file.write_text(f"kommun: {KOMMUN}\nnamn: Brandvägg\n"
                           f"input: data/raw/{KOMMUN}/aktualiseringar.csv\nperiod_slut: 2025-12-31\n"
                           f"omraden: [{', '.join(AREAS)}]\n", encoding="utf-8")
    secrets = [t for _, _, t in plants if t != "Väster"] + [header, NOTE, "Eva Lind", "070-1234567",
                                                            *entered_ids]
    cores = {n[2:] for n in numbers} | {_digits(samordningsnummer(PLANTED_BIRTHS[1], "456"))}
    cores |= {_digits(p)[-10:] for p in df["personnummer"] if p}
    return {"df": df, "plants": plants, "secrets": secrets, "cores": cores, "header": header,
            "raw_file": raw_file, "params_file": params_file, "root": tmp_project}


def _cells(path: Path) -> list[str]:
    """Every cell of a written file as text (parquet values, CSV fields, JSON strings and keys)."""
    if path.suffix == ".parquet":
        frame = pd.read_parquet(path)
        return [str(v) for c in frame.columns for v in frame[c].astype(object).dropna()] + list(frame.columns)
    if path.suffix == ".csv":
        frame = pd.read_csv(path, dtype=str, keep_default_na=False)
        return [str(v) for c in frame.columns for v in frame[c]] + list(frame.columns)
    out: list[str] = []

    def walk(x: object) -> None:
        if isinstance(x, dict):
            for k, v in x.items():
                out.append(str(k))
                walk(v)
        elif isinstance(x, list):
            for v in x:
                walk(v)
        else:
            out.append(str(x))

    walk(json.loads(path.read_text(encoding="utf-8")))
    return out


def _leaks(texts: list[str], secrets: list[str], cores: set[str]) -> list[str]:
    """Texts holding a planted string, the digits of a personnummer, or anything personnummer-like."""
    found = []
    for t in texts:
        digits = _digits(t)
        if (any(s in t for s in secrets) or any(c in digits for c in cores)
                or personnummer.find_in_text(t)):
            found.append(t)
    return found


def test_nothing_planted_reaches_the_processed_files(planted: dict,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["validate", str(planted["raw_file"]), "--params", str(planted["params_file"])]) == 1
    printed = capsys.readouterr().out
    assert "Rader in:" in printed
    assert _leaks(printed.splitlines(), planted["secrets"], planted["cores"]) == []

    assert cli.main(["prepare", "--kommun", KOMMUN]) == 0
    out_dir = planted["root"] / "data" / "processed" / KOMMUN
    files = sorted(out_dir.iterdir())
    assert [p.name for p in files] == sorted(clean.PROCESSED_FILES.values())
    for path in files:
        assert _leaks(_cells(path), planted["secrets"], planted["cores"]) == [], path.name
        data = path.read_bytes()
        for s in planted["secrets"]:
            assert s.encode("utf-8") not in data, (path.name, s)
        for core in planted["cores"]:
            assert core.encode("ascii") not in data, (path.name, core)


def test_identifiers_are_row_problems_and_every_row_is_accounted_for(planted: dict) -> None:
    result = clean.run_cleaning(KOMMUN)
    acc, df = result.accounting, planted["df"]
    assert acc["rows_in"] == len(df) == acc["rows_clean"] + acc["rows_quarantined"]
    problems = result.problems.assign(rule=result.problems["regel"].str.split(":").str[0])
    quarantined = set(result.quarantine["rad_excel"])
    for pos, col, _ in planted["plants"]:
        rad = pos + 2
        at_row = problems[(problems["rad_excel"] == rad) & (problems["kolumn"] == col)]
        assert len(at_row) == 1, (rad, col)
        rule = at_row["rule"].iloc[0]
        if col in ("rad_id", "barn_id"):  # a personnummer in an id: the row is quarantined
            assert rule == "personnummer_i_text" and rad in quarantined, (rad, col)
        elif col == "omrade":  # the row is kept with the area unknown
            assert rule in ("personnummer_i_text", "omrade_okant") and rad not in quarantined, (rad, col)
        else:
            assert rule == "okand_kod" and rad not in quarantined
    frame = result.frame.set_index("rad_excel")
    for pos, col, _ in planted["plants"]:
        if col == "omrade":
            assert pd.isna(frame.loc[pos + 2, "omrade"])
    assert set(result.frame["omrade"].dropna()) == set(AREAS)  # the column itself is kept
    [(shown, reason)] = [(d["header"], d["reason"]) for d in acc["dropped_columns"]
                         if d["reason"].startswith("rubriken")]
    assert shown.startswith("(kolumn ") and "personnummer" in reason
    assert {d["header"] for d in acc["dropped_columns"]} == {shown, "(kolumn AP)"}  # Kommentar by letter


def test_parquet_holds_no_raw_ids_and_re_referrals_are_still_found(planted: dict) -> None:
    result = clean.run_cleaning(KOMMUN)
    parquet = pd.read_parquet(planted["root"] / "data" / "processed" / KOMMUN / "aktualiseringar.parquet")
    df = planted["df"]
    assert parquet["rad_id"].str.fullmatch(r"r[a-p]{16}").all()
    assert parquet["barn_id"].str.fullmatch(r"b[a-p]{16}").all()
    assert not set(parquet["rad_id"]) & set(df["rad_id"]) and not set(parquet["barn_id"]) & set(df["barn_id"])
    assert parquet["rad_id"].is_unique
    kept = df.iloc[result.frame["rad_excel"].to_numpy() - 2].reset_index(drop=True)
    child = kept["personnummer"].where(kept["personnummer"] != "", "id:" + kept["barn_id"])
    # the same child gets the same pseudonym and different children different ones
    pairs = pd.DataFrame({"raw": child.to_numpy(), "pseudonym": result.frame["barn_id"].to_numpy()})
    assert pairs.groupby("raw")["pseudonym"].nunique().max() == 1
    assert pairs.groupby("pseudonym")["raw"].nunique().max() == 1
    expected = synth.ateraktualisering_flags(child, kept["aktualiseringsdatum"], 12)
    assert result.frame["ateraktualisering"].to_numpy(dtype=bool).tolist() == expected.tolist()
    assert expected.any() and (kept["barn_id"].str.startswith("K-") & expected).any()


def test_a_personnummer_in_a_params_value_refuses_the_run(planted: dict,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    number = valid(PLANTED_BIRTHS[15], "321")
    named = f"namn: 'Barn {number[2:8]}\u2013{number[8:]}'"
    text = planted["params_file"].read_text(encoding="utf-8").replace("namn: Brandvägg", named)
    planted["params_file"].write_text(text, encoding="utf-8")
    with pytest.raises(params.ParamsError, match="värdet av namn liknar ett personnummer") as exc:
        params.load(KOMMUN)
    assert number[8:] not in str(exc.value)
    assert cli.main(["prepare", "--kommun", KOMMUN]) == 1
    out = capsys.readouterr().out
    assert "namn" in out and number[8:] not in out and number[2:8] not in out
    assert not (planted["root"] / "data" / "processed" / KOMMUN).exists()


def test_a_personnummer_in_the_file_name_refuses_the_file(planted: dict,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    number = valid(PLANTED_BIRTHS[16], "654")
    name = f"lista {number[2:8]} {number[8:]}.csv"
    target = planted["raw_file"].with_name(name)
    planted["raw_file"].rename(target)
    assert cli.main(["validate", str(target), "--params", str(planted["params_file"])]) == 1
    out = capsys.readouterr().out
    assert "ser ut att innehålla ett personnummer" in out and number[8:] not in out
    text = planted["params_file"].read_text(encoding="utf-8")
    planted["params_file"].write_text(text.replace("input: data/raw/brandvagg/aktualiseringar.csv\n", ""),
                                      encoding="utf-8")
    assert cli.main(["prepare", "--kommun", KOMMUN]) == 1
    out = capsys.readouterr().out
    assert "personnummer" in out and number[8:] not in out
    assert not (planted["root"] / "data" / "processed" / KOMMUN).exists()


def test_synthetic_params_for_a_file_with_real_personnummer_are_refused(planted: dict) -> None:
    text = planted["params_file"].read_text(encoding="utf-8")
    planted["params_file"].write_text(text + "synthetic: true\n", encoding="utf-8")
    assert clean.run_cleaning(KOMMUN).accounting["rows_in"] == len(planted["df"])  # demo series only
    df = planted["df"].copy()
    df.loc[3, "personnummer"] = f"{PLANTED_BIRTHS[17][:8]}-{valid(PLANTED_BIRTHS[17], '777')[8:]}"
    synth.write_template_csv(df, planted["raw_file"])
    with pytest.raises(personnummer.SyntheticDataError, match="rad 5") as exc:
        clean.run_cleaning(KOMMUN)
    assert "777" not in str(exc.value) and "secrets.token_hex(32)" in str(exc.value)


def test_the_cleaning_notebook_is_not_started_on_a_file_named_with_a_personnummer(
        planted: dict, capsys: pytest.CaptureFixture[str]) -> None:
    number = valid(PLANTED_BIRTHS[15], "987")
    target = planted["raw_file"].with_name(f"{number[:8]}-{number[8:]}.csv")
    planted["raw_file"].rename(target)
    assert cli.main(["clean", "--kommun", KOMMUN, "--input", str(target)]) == 2
    out = capsys.readouterr().out
    assert "personnummer" in out and number[8:] not in out
    assert not (planted["root"] / "reports").exists()  # no notebook, no provenance cell with the name

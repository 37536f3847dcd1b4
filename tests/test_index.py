"""Tests of reports/index.html (genomlysning.index) and of the provenance helpers it shares."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from html.parser import HTMLParser
from pathlib import Path

import pytest

from genomlysning import index, provenance


class _Page(HTMLParser):
    """Collects rows (by id), links and script tags of a page."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[str] = []
        self.links: list[str] = []
        self.scripts = 0
        self.headers: list[str] = []
        self._in_th = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "tr" and a.get("id"):
            self.rows.append(str(a["id"]))
        if tag == "a" and a.get("href"):
            self.links.append(str(a["href"]))
        if tag == "script":
            self.scripts += 1
        self._in_th = tag == "th"

    def handle_data(self, data: str) -> None:
        if self._in_th and data.strip():
            self.headers.append(data.strip())

    def handle_endtag(self, tag: str) -> None:
        if tag == "th":
            self._in_th = False


def _kommun(root: Path, label: str, namn: str, results: dict | None, states: dict[str, str]) -> None:
    (root / "params").mkdir(parents=True, exist_ok=True)
    (root / "params" / f"{label}.yaml").write_text(f"kommun: {label}\nnamn: {namn}\n", encoding="utf-8")
    folder = root / "reports" / label
    (folder / "figures").mkdir(parents=True, exist_ok=True)
    if results is not None:
        (folder / "results.json").write_text(json.dumps(results), encoding="utf-8")
    for nb, status in states.items():
        if status != "skipped":
            for name in (f"{nb}.ipynb", f"{nb}.html", f"{nb}_utan_kod.html"):
                (folder / name).write_text("{}", encoding="utf-8")
    provenance.save_state(folder, {"notebooks": {nb: {"status": s} for nb, s in states.items()}, "files": {}})


@pytest.fixture
def reports(tmp_path: Path) -> Path:
    root = tmp_path / "proj"
    funnel = {"aktualiseringar": 1234, "andel_utredning_inledd": 0.381, "ar": 2025, "barn": 800}
    _kommun(root, "norrvik", "Norrvik", {"tratt": funnel, "modeller": {"auc": 0.71}},
            {"01_cleaning": "ok", "02_funnel": "ok"})
    (root / "reports" / "norrvik" / "figures" / "tratt.png").write_bytes(b"png")
    (root / "reports" / "norrvik" / "norrvik_tabeller.xlsx").write_bytes(b"xlsx")
    _kommun(root, "sodermark", "Södermark <&>", {"tratt": {**funnel, "aktualiseringar": 99}},
            {"01_cleaning": "ok", "02_funnel": "ok"})
    _kommun(root, "ostby", "Östby", None, {"01_cleaning": "failed", "02_funnel": "skipped"})
    # a params file without any report yet is listed too
    (root / "params" / "vastby.yaml").write_text("kommun: vastby\nnamn: Västby\n", encoding="utf-8")
    _kommun(root, "jamforelse", "", {"jamforelse": {"mor": 1.31}}, {"04_compare": "ok"})
    (root / "params" / "jamforelse.yaml").unlink()
    return root


def test_index_lists_every_municipality_with_links_that_exist(reports: Path) -> None:
    path = index.write_index(reports)
    html = path.read_text(encoding="utf-8")
    page = _Page()
    page.feed(html)
    assert page.rows == ["norrvik", "ostby", "sodermark", "vastby"]
    assert page.scripts == 0
    assert "Norrvik" in html and "Östby" in html and "Västby" in html
    assert "Södermark &lt;&amp;&gt;" in html  # escaped
    for href in page.links:
        assert (path.parent / href).is_file(), href
    assert "norrvik/02_funnel_utan_kod.html" in page.links and "norrvik/norrvik_tabeller.xlsx" in page.links
    assert "norrvik/figures/tratt.png" in page.links and "jamforelse/04_compare.html" in page.links
    # headline figures: Swedish formatting, shares as percent, years without separator
    assert "1\u00a0234" in html and "38,1\u00a0%" in html and ">2025<" in html
    assert "Andel: " in html or "andel" in html.lower()
    # failure and skip are visible
    assert 'class="badge failed"' in html and 'class="badge skipped"' in html


def test_index_is_deterministic(reports: Path) -> None:
    first = index.write_index(reports).read_bytes()
    assert index.write_index(reports).read_bytes() == first


def test_headline_keys_prefer_common_numeric_values() -> None:
    a = index.Entry("a", "A", results={"s": {"x": 1, "t": "text", "y": 2.5, "only_a": 1}})
    b = index.Entry("b", "B", results={"s": {"x": 3, "t": "other", "y": 0.5}})
    assert index.headline_keys([a, b], limit=3) == ["s.x", "s.y", "s.t"]
    assert index.flatten({"a": {"b": {"c": 1}, "l": [1, 2], "e": ""}, "d": "x"}) == {"a.b.c": 1, "d": "x"}


def test_empty_project_gets_a_helpful_page(tmp_path: Path) -> None:
    html = index.write_index(tmp_path).read_text(encoding="utf-8")
    assert "genomlysning run" in html and "Ingen jämförelse" in html


def test_provenance_state_and_output_tracking(tmp_path: Path) -> None:
    (tmp_path / "r").mkdir()
    f = tmp_path / "r" / "a.txt"
    f.write_text("1")
    before = provenance.snapshot(tmp_path, [tmp_path / "r", tmp_path / "missing"])
    f.write_text("2")
    (tmp_path / "r" / "b.txt").write_text("new")
    (tmp_path / "r" / "results.json.lock").write_text("")
    after = provenance.snapshot(tmp_path, [tmp_path / "r"])
    written = provenance.written_between(before, after)
    assert written == ["r/a.txt", "r/b.txt"]
    outputs = provenance.hash_files(tmp_path, written)
    assert outputs["r/b.txt"] == provenance.sha256_bytes(b"new")
    assert provenance.outputs_intact(tmp_path, outputs)
    f.write_text("3")
    assert not provenance.outputs_intact(tmp_path, outputs)
    provenance.save_state(tmp_path, {"b": 1, "a": {"z": 1, "y": 2}})
    text = (tmp_path / ".state.json").read_text()
    assert text.index('"a"') < text.index('"b"')
    assert provenance.load_state(tmp_path) == {"a": {"y": 2, "z": 1}, "b": 1}
    assert provenance.load_state(tmp_path / "nowhere") == {}


def test_code_hash_follows_the_code(tmp_path: Path) -> None:
    (tmp_path / "pkg" / "__pycache__").mkdir(parents=True)
    (tmp_path / "pkg" / "a.py").write_text("x = 1\n")
    h1 = provenance.code_hash(tmp_path / "pkg")
    (tmp_path / "pkg" / "__pycache__" / "a.cpython-311.pyc").write_bytes(b"\0")
    (tmp_path / "pkg" / "notes.txt").write_text("not code")
    assert provenance.code_hash(tmp_path / "pkg") == h1
    (tmp_path / "pkg" / "a.py").write_text("x = 2\n")
    h2 = provenance.code_hash(tmp_path / "pkg")
    (tmp_path / "pkg" / "a.py").rename(tmp_path / "pkg" / "b.py")
    assert len({h1, h2, provenance.code_hash(tmp_path / "pkg")}) == 3


def test_provenance_markdown_has_what_it_promises() -> None:
    env = {"git": "abcdef1234+ändrad", "schema": "1.0.0", "code": "f" * 64,
           "versions": provenance.package_versions()}
    md = provenance.provenance_markdown(env, {"kommun": "norrvik", "mapping": {"a|b": 1}},
                                        {"`data/raw/norrvik/x.csv`": "e" * 64}, "notebooks/02_funnel.ipynb",
                                        "d" * 64)
    assert md.startswith("## Härkomst\n")
    for needle in ("`abcdef1234+ändrad`", "`1.0.0`", "`data/raw/norrvik/x.csv`", "e" * 16, "`kommun`",
                   '`"norrvik"`', "a\\|b", "pandas ", "statsmodels ", "papermill ", "genomlysning "):
        assert needle in md, needle
    assert provenance.package_versions(["no-such-package-x"])["no-such-package-x"] == "saknas"


def test_index_renders_in_headless_chromium(reports: Path) -> None:
    if shutil.which("chromium") is None:
        if os.environ.get("CI"):
            pytest.fail("CI must install Debian's chromium: the browser tests may not skip there")
        pytest.skip("headless Chromium not installed")
    path = index.write_index(reports)
    shot = reports / "shot.png"
    with tempfile.TemporaryDirectory() as profile:
        subprocess.run(["chromium", "--headless", "--no-sandbox", "--disable-gpu",
                        "--disable-background-networking", "--disable-component-update", "--disable-sync",
                        "--no-first-run",
                        f"--user-data-dir={profile}", f"--screenshot={shot}", "--window-size=1280,900",
                        path.as_uri()], capture_output=True, timeout=120, check=True,
                       env={**os.environ, "HOME": profile})
        dom = subprocess.run(["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                              f"--user-data-dir={profile}", "--dump-dom", path.as_uri()],
                             capture_output=True, text=True, timeout=120, check=True,
                             env={**os.environ, "HOME": profile}).stdout
    assert shot.stat().st_size > 10_000  # a rendered page, not an empty image
    assert dom.count('<tr id="') == 4 and "Norrvik" in dom


class _Tags(HTMLParser):
    """Every start tag and every href of a page."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: set[str] = set()
        self.hrefs: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.add(tag)
        self.hrefs += [str(v) for k, v in attrs if k == "href"]


def test_every_text_from_a_run_is_escaped_and_every_link_relative(tmp_path: Path) -> None:
    import re
    from urllib.parse import unquote

    script, img = "<script>alert(1)</script>", "<img src=x onerror=alert(2)>"
    _kommun(tmp_path, "norrvik", script, {f"<b>{script}</b>": {"andel_x": img, "n": 5, "t": '"><i>'}},
            {"01_cleaning": "ok", f"02_<u>{img}": "failed"})
    (tmp_path / "reports" / "norrvik" / "figures" / "<svg onload=alert(3)>.png").write_bytes(b"png")
    (tmp_path / "reports" / "norrvik" / "a&b.xlsx").write_bytes(b"xlsx")
    _kommun(tmp_path, "javascript:alert(4)", "x", {"s": {"n": 1}}, {"01_cleaning": "ok"})
    (tmp_path / "params" / "javascript:alert(4).yaml").unlink()  # a report folder without params
    html = index.write_index(tmp_path).read_text(encoding="utf-8")
    page = _Tags()
    page.feed(html)
    assert page.tags <= {"html", "head", "meta", "title", "style", "body", "header", "h1", "p", "em", "code",
                         "main", "h2", "div", "table", "thead", "tbody", "tr", "th", "td", "span", "ul",
                         "li", "a", "details", "summary", "dl", "dt", "dd", "br", "footer"}
    for raw in (script, img, "<svg", "<u>", "<b>", "<i>"):
        assert raw not in html, raw
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html and "&quot;&gt;&lt;i&gt;" in html
    assert "&lt;img src=x onerror=alert(2)&gt;" in html
    for href in page.hrefs:
        assert not re.match(r"[A-Za-z][A-Za-z0-9+.-]*:", href), href  # no scheme: javascript: etc.
        assert (tmp_path / "reports" / unquote(href)).is_file(), href
    assert "javascript%3Aalert%284%29/01_cleaning_utan_kod.html" in page.hrefs
    assert index.href("a b", "figures/c&d.png") == "a%20b/figures/c%26d.png"

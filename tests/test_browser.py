"""Every published HTML page as a reader's browser shows it (headless Chromium, 1 280 px wide).

The pages are those of ``GENOMLYSNING_BROWSER_REPORTS`` (in CI: the reports of the full run on the
second Python version; while that runs beside the suite the variable is ``later`` and CI calls this
module again on them when both are done) or of the project's ``reports/`` when a run made them, or
else a run of the runner on two small demo municipalities (ekby and the tiny pyttby, so that the
comparison runs too) in a throw-away project. Without Chromium the tests skip, except in CI
(``CI`` set), where they fail: CI installs Debian's chromium so that they run.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import browser_support as browser
import pytest

from genomlysning import paths

#: Text that means Python's repr reached the reader instead of a formatted value.
RAW_REPR = re.compile(r"object at 0x[0-9a-fA-F]+|\bnp\.[a-z]+\d*\(|\bdtype[:=]|<NA>|\bNaN\b|\bnan\b|\bNaT\b"
                      r"|\bNone\b|Timestamp\(|array\(\[|\{'[^']{1,40}': |Traceback \(most recent")


#: GENOMLYSNING_BROWSER_REPORTS=later: the pages are tested by a later call (.ci/run, once its run
#: beside the test suite has written every demo report), not by this one.
LATER = "later"


def _require_chromium() -> None:
    if browser.chromium() is None:
        if os.environ.get("CI"):
            pytest.fail("CI must install Debian's chromium: the browser tests may not skip there")
        pytest.skip("headless Chromium not installed")


def _has_reports(reports: Path) -> bool:
    return (reports / "index.html").is_file() and any(reports.glob("*/02_funnel_utan_kod.html"))


@pytest.fixture(scope="session")
def published(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A reports/ folder of a finished run (see the module docstring)."""
    given = os.environ.get("GENOMLYSNING_BROWSER_REPORTS")  # CI: the reports its `run` step made
    if given == LATER:
        pytest.skip("GENOMLYSNING_BROWSER_REPORTS=later: .ci/run opens the pages of its own full run "
                    "afterwards (this suite runs beside that run)")
    _require_chromium()
    for reports in ([Path(given)] if given else []) + [paths.REPORTS_DIR]:
        if _has_reports(reports):
            return reports
    root = tmp_path_factory.mktemp("browser-project")
    (root / "params").mkdir()
    shutil.copytree(paths.PROJECT_ROOT / "notebooks", root / "notebooks")
    env = {**os.environ, "GENOMLYSNING_ROOT": str(root), "OPENBLAS_NUM_THREADS": "1"}
    cli = [sys.executable, "-m", "genomlysning.cli"]
    subprocess.run([*cli, "demo-data", "--only", "ekby", "--only", "pyttby"], env=env, check=True,
                   capture_output=True, timeout=600)
    done = subprocess.run([*cli, "run"], env=env, capture_output=True, text=True, timeout=1800)
    assert done.returncode == 0, done.stdout[-3000:]
    return root / "reports"


def _pages(reports: Path) -> list[Path]:
    return [reports / "index.html", *sorted(reports.glob("*/*.html"))]


def _problems(page: Path, found: dict) -> list[str]:
    """What a reader would see wrong on ``page``."""
    out = [f"image not shown: {src}" for src in found["missing_images"]]
    if found["page_width"] > found["visible_width"]:
        out.append(f"page scrolls sideways: {found['page_width']} px > {found['visible_width']} px")
    out += [f"box scrolls sideways: {box}" for box in found["scroll_boxes"]]
    out += [f"error output: {text}" for text in found["errors"]]
    for text in found["outputs"]:
        out += [f"raw Python {m.group(0)!r} in ...{text[max(0, m.start() - 50):m.end() + 30]!r}"
                for m in RAW_REPR.finditer(text)]
    return [f"{page.parent.name}/{page.name}: {p}" for p in out]


def test_every_page_shows_what_a_reader_should_see(published: Path) -> None:
    pages = _pages(published)
    kommuner = sorted(p.parent.name for p in published.glob("*/02_funnel_utan_kod.html"))
    assert kommuner, "no municipality's reports"
    for kommun in kommuner:  # both versions of every notebook that ran
        for nb in ("01_cleaning", "02_funnel", "03_models"):
            for name in (f"{nb}.html", f"{nb}_utan_kod.html"):
                assert (published / kommun / name).is_file(), f"{kommun}/{name}"
    if len(kommuner) >= 2:
        assert (published / "jamforelse" / "04_compare_utan_kod.html").is_file()
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(browser.probe, pages))
    problems = [p for page, found in zip(pages, results, strict=True) for p in _problems(page, found)]
    assert not problems, "\n".join(problems[:40])
    empty = [page for page, found in zip(pages, results, strict=True)
             if page.name != "index.html" and not found["outputs"]]
    assert not empty, empty  # a notebook page shows its outputs


def test_reader_pages_screenshots(published: Path, tmp_path_factory: pytest.TempPathFactory) -> None:
    """A screenshot of the index and of every page without code, kept for a person to look at."""
    folder = tmp_path_factory.mktemp("screenshots")
    pages = [published / "index.html", *sorted(published.glob("*/*_utan_kod.html"))]
    outs = [folder / f"{p.parent.name}_{p.stem}.png" for p in pages]
    with ThreadPoolExecutor(4) as pool:
        list(pool.map(browser.screenshot, pages, outs))
    for out in outs:
        assert out.stat().st_size > 10_000, out  # a drawn page, not an empty image
    print(f"screenshots: {folder}")


def test_probe_finds_what_it_promises(tmp_path: Path) -> None:
    """The probe itself, on a page with every defect planted (and on a clean one)."""
    _require_chromium()
    (tmp_path / "fig.png").write_bytes(b"")
    bad = tmp_path / "bad.html"
    bad.write_text(
        "<html><head></head><body><img src='fig.png'><img src='missing.png'>"
        "<div style='width:1600px'>wide</div>"
        "<div style='overflow-x:auto;width:300px'><table style='width:900px'><tr><td>1</td></tr></table>"
        "</div>"
        "<div class='jp-OutputArea-output' data-mime-type='application/vnd.jupyter.stderr'>Traceback</div>"
        "<div class='jp-OutputArea-output'><table><tr><td>nan</td><td>np.float64(0.5)</td></tr>"
        "</table></div>"
        "</body></html>", encoding="utf-8")
    found = browser.probe(bad)
    problems = "\n".join(_problems(bad, found))
    assert len(found["missing_images"]) == 2  # an empty file is not an image either
    for needle in ("page scrolls sideways", "box scrolls sideways", "error output", "raw Python 'nan'",
                   "raw Python 'np.float64('"):
        assert needle in problems, needle
    good = tmp_path / "good.html"
    good.write_text("<html><head></head><body><div class='jp-OutputArea-output'><table><tr><td>1\u00a0234"
                    "</td><td>−3,2 till −1,0</td></tr></table></div></body></html>", encoding="utf-8")
    assert _problems(good, browser.probe(good)) == []

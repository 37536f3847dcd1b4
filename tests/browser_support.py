"""Headless Chromium for the browser tests: load a page at 1 280 px, report what a reader would see.

:func:`probe` loads a copy of the page (a ``<base>`` to the original folder, so relative images and
links resolve as in the original, and :data:`PROBE_JS` appended) with ``--dump-dom`` and returns what
the script measured after the load event: images that did not load, the page's and every scroll
box's width against what is visible, the text of error/stderr outputs and of every output area.
:func:`screenshot` saves a PNG of a page as Chromium draws it.
"""

from __future__ import annotations

import html
import json
import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

WIDTH, HEIGHT = 1280, 900
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--hide-scrollbars=false"]

#: Runs after the load event; writes its findings as JSON into <pre id="genomlysning-probe">.
PROBE_JS = """
window.addEventListener('load', function () {
  var r = {}, de = document.documentElement;
  r.page_width = de.scrollWidth; r.visible_width = de.clientWidth;
  r.missing_images = []; r.scroll_boxes = []; r.errors = []; r.outputs = []; r.cells = [];
  document.querySelectorAll('img').forEach(function (im) {
    if (!im.complete || im.naturalWidth === 0)
      r.missing_images.push((im.getAttribute('src') || '').slice(0, 100));
  });
  document.querySelectorAll('body *').forEach(function (el) {
    var ox = getComputedStyle(el).overflowX;
    if ((ox === 'auto' || ox === 'scroll') && el.scrollWidth > el.clientWidth + 1)
      r.scroll_boxes.push(el.tagName + ' ' + el.scrollWidth + '>' + el.clientWidth + ': ' +
                          (el.innerText || '').slice(0, 120));
  });
  document.querySelectorAll('.jp-OutputArea-output').forEach(function (o) {
    var mime = o.getAttribute('data-mime-type') || '';
    if (mime.indexOf('stderr') >= 0 || o.querySelector('.ansi-red-fg, .jp-OutputArea-error'))
      r.errors.push(o.innerText.slice(0, 300));
    r.outputs.push(o.innerText);
  });
  document.querySelectorAll('td, th').forEach(function (c) { r.cells.push(c.innerText.trim()); });
  var pre = document.createElement('pre'); pre.id = 'genomlysning-probe';
  pre.textContent = JSON.stringify(r); document.body.appendChild(pre);
});
"""


def chromium() -> str | None:
    """The Chromium executable on PATH (Debian: chromium), or None."""
    return shutil.which("chromium") or shutil.which("chromium-browser")


def _run(args: list[str], profile: str) -> subprocess.CompletedProcess[str]:
    exe = chromium()
    assert exe, "chromium is not installed"
    argv = [exe, *FLAGS, f"--user-data-dir={profile}", f"--window-size={WIDTH},{HEIGHT}", *args]
    return subprocess.run(argv, capture_output=True, text=True, timeout=180, check=True,
                          env={**os.environ, "HOME": profile})


def probe(page: Path) -> dict:
    """Load ``page`` in headless Chromium at :data:`WIDTH` px; the findings of :data:`PROBE_JS`."""
    text = page.read_text(encoding="utf-8")
    base = f'<base href="{page.parent.resolve().as_uri()}/">'
    text = re.sub(r"<head[^>]*>", lambda m: m.group(0) + base, text, count=1)
    text = text.replace("</body>", f"<script>{PROBE_JS}</script></body>", 1)
    with tempfile.TemporaryDirectory() as tmp:
        copy = Path(tmp) / "page.html"
        copy.write_text(text, encoding="utf-8")
        dom = _run(["--virtual-time-budget=15000", "--dump-dom", copy.as_uri()], str(Path(tmp) / "p")).stdout
    found = re.search(r'<pre id="genomlysning-probe">(.*?)</pre>', dom, re.S)
    assert found, f"{page}: the probe did not run (page did not load?)"
    return json.loads(html.unescape(found.group(1)))


def screenshot(page: Path, out: Path) -> Path:
    """A PNG of ``page`` (first :data:`HEIGHT` px at :data:`WIDTH` px) saved to ``out``."""
    with tempfile.TemporaryDirectory() as tmp:
        _run([f"--screenshot={out}", "--virtual-time-budget=15000", page.resolve().as_uri()], tmp)
    return out

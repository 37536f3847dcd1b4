"""``reports/index.html``: one static page (HTML + CSS, no JavaScript) over every report of a run.

It lists every municipality with its headline figures (read from ``reports/<kommun>/results.json``,
defensively: whatever sections and scalar values are there are shown), the status of its notebooks
(from ``reports/<kommun>/.state.json``) and links to its reports (HTML with and without code, the
XLSX workbook, the figures), then the cross-municipality reports of ``reports/jamforelse/``.

A unit that the runner withheld after its disclosure audit (marker
``data/processed/<unit>/tillbakahallet/tillbakahallet.json``, see
:func:`genomlysning.runner.audit_and_publish`) is shown as withheld, with no figures and no links,
even if files of it were left under ``reports/``.

The page is deterministic (sorted, no timestamps, relative links) so that it is byte-identical for
the same reports. Every text on it that comes from a run (names, keys, values, statuses, file names)
is HTML-escaped, and every link is a relative path with percent-encoded segments (:func:`href`).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from html import escape
from pathlib import Path
from typing import Any
from urllib.parse import quote

from genomlysning import provenance

#: Folder (under reports/) of the cross-municipality notebooks (same as the runner's).
CROSS_LABEL = "jamforelse"
#: Where the runner keeps a withheld unit, and its marker (same as the runner's).
WITHHELD_DIR, WITHHELD_FILE = "tillbakahallet", "tillbakahallet.json"
#: At most this many headline figures per municipality in the overview table.
MAX_HEADLINES = 6
NO_CODE_SUFFIX = "_utan_kod"
#: The overview's columns when the funnel notebook's results are there: (key in any results.json
#: section, Swedish header, English header, what the share is of).
HEADLINES: tuple[tuple[str, str, str, str], ...] = (
    ("aktualiseringar_n", "Aktualiseringar", "Referrals", ""),
    ("barn_n", "Barn", "Children", ""),
    ("aktualiseringar_utredning_inledd_andel_forsta", "Till utredning", "To investigation",
     "av aktualiseringarna"),
    ("aktualiseringar_insats_startad_andel_forsta", "Insats påbörjad", "Intervention started",
     "av aktualiseringarna"),
    ("barnsamtal_andel", "Barnsamtal", "Child interviewed", "av avslutade utredningar"),
    ("fb_inom_14_dagar_andel", "Beslut inom 14 dagar", "Decision within 14 days",
     "av förhandsbedömningarna"),
)
#: Readable names of the known notebooks.
NOTEBOOK_TITLES: dict[str, tuple[str, str]] = {
    "01_cleaning": ("Datarensning", "Data cleaning"),
    "02_funnel": ("Flödet", "Funnel"),
    "03_models": ("Modeller", "Models"),
    "04_compare": ("Jämförelse", "Comparison"),
    "05_change": ("Förändring", "Change"),
}
_YEAR_KEYS = frozenset({"ar", "year", "reform_ar"})

_TEXT: dict[str, dict[str, str]] = {
    "title": {"sv": "Genomlysning – översikt", "en": "Genomlysning – overview"},
    "intro": {"sv": "Rapporter per kommun och stadsdel. <em>Med kod</em> visar hela analysen för den som "
                    "granskar metoden, <em>utan kod</em> bara text, tabeller och figurer. Dolda värden "
                    "(<code>..</code>) avser färre än det minsta tillåtna antalet.",
              "en": "Reports per municipality and district. <em>With code</em> shows the whole analysis "
                    "for reviewers of the method, <em>without code</em> only text, tables and figures. "
                    "Hidden values (<code>..</code>) stand for counts below the smallest allowed."},
    "kommuner": {"sv": "Kommuner och stadsdelar", "en": "Municipalities and districts"},
    "kommun": {"sv": "Kommun", "en": "Municipality"},
    "status": {"sv": "Status", "en": "Status"},
    "rapporter": {"sv": "Rapporter", "en": "Reports"},
    "tabeller": {"sv": "Tabeller", "en": "Tables"},
    "figurer": {"sv": "Figurer", "en": "Figures"},
    "med_kod": {"sv": "med kod", "en": "with code"},
    "utan_kod": {"sv": "utan kod", "en": "without code"},
    "jamforelse": {"sv": "Jämförelse mellan kommuner", "en": "Comparison between municipalities"},
    "ingen_jamforelse": {"sv": "Ingen jämförelse har körts ännu (den kräver minst två kommuner).",
                         "en": "No comparison has been run yet (it needs at least two municipalities)."},
    "inga_kommuner": {"sv": "Inga rapporter ännu: kör <code>genomlysning run</code>.",
                      "en": "No reports yet: run <code>genomlysning run</code>."},
    "nyckeltal": {"sv": "Alla nyckeltal", "en": "All headline figures"},
    "ok": {"sv": "klar", "en": "done"},
    "failed": {"sv": "fel", "en": "failed"},
    "skipped": {"sv": "hoppades över", "en": "skipped"},
    "saknas": {"sv": "ej körd", "en": "not run"},
    "withheld": {"sv": "tillbakahållen", "en": "withheld"},
    "fiktiva": {"sv": "fiktiva data", "en": "fictional data"},
    "tillbakahallen": {"sv": "Rapporterna hålls tillbaka: röjandegranskningen visade att ett dolt värde "
                             "kunde räknas fram ur det som skulle publiceras (eller kunde inte genomföras). "
                             "Inget från enheten publiceras förrän den körts om och godkänts.",
                       "en": "The reports are withheld: the disclosure audit showed that a hidden value "
                             "could be derived from what was to be published (or the audit could not be "
                             "completed). Nothing of this unit is published until it is rerun and passes."},
    "fel_i": {"sv": "Fel i", "en": "Failed:"},
    "harkomst": {"sv": "Varje rapport börjar med en cell <em>Härkomst</em>: git-version, parametrar, "
                       "indatas kontrollsumma och paketversioner.",
                 "en": "Every report opens with a <em>Härkomst</em> (provenance) cell: git version, "
                       "parameters, input checksum and package versions."},
    "xlsx": {"sv": "Excel", "en": "Excel"},
}

_CSS = """
:root{--ink:#1d2433;--muted:#5b6475;--line:#d9dee7;--accent:#1f4e79;--ok:#1b7f3b;--bad:#b42318;
--warn:#8a6100;--bg:#f6f8fb}
*{box-sizing:border-box}
body{margin:0;font-family:system-ui,-apple-system,"Segoe UI",Roboto,Arial,sans-serif;color:var(--ink);
background:var(--bg);line-height:1.45}
header{background:var(--accent);color:#fff;padding:24px 32px}
header h1{margin:0 0 6px;font-size:26px}
header p{margin:0;max-width:60em;opacity:.92}
header code{color:#fff}
main{padding:16px 32px 48px;max-width:1400px}
h2{font-size:19px;margin:28px 0 10px}
table{border-collapse:collapse;width:100%;background:#fff;border:1px solid var(--line)}
th,td{padding:7px 6px;border-bottom:1px solid var(--line);text-align:left;vertical-align:top;font-size:14px}
th{background:#eef2f7;font-weight:600;position:sticky;top:0}
td.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
tbody tr:hover{background:#f9fbfd}
a{color:var(--accent)}
.name{font-weight:600;white-space:nowrap}
.sub{color:var(--muted);font-size:12px}
.badge{display:inline-block;padding:1px 8px;border-radius:10px;font-size:12px;font-weight:600;color:#fff}
.badge.fiktiv{background:#6b4f9e}.badge.ok{background:var(--ok)}.badge.failed,.badge.withheld{background:var(--bad)}.badge.skipped,.badge.saknas{background:var(--warn)}
ul.links{list-style:none;margin:0;padding:0}
ul.links li{white-space:nowrap}
details summary{cursor:pointer;color:var(--accent);white-space:nowrap}
details ul{margin:4px 0 0;padding-left:18px}
dl.all{display:grid;grid-template-columns:auto auto;gap:2px 12px;margin:6px 0 0;font-size:13px}
dl.all dt{color:var(--muted)}dl.all dd{margin:0;font-variant-numeric:tabular-nums}
.scroll{overflow-x:auto}
.cross{background:#fff;border:1px solid var(--line);padding:12px 16px}
footer{color:var(--muted);font-size:12px;padding:0 32px 32px}
"""


def _t(key: str, lang: str) -> str:
    return _TEXT[key]["en" if lang == "en" else "sv"]


# ---------------------------------------------------------------------------------------------
# Reading what a run left behind


@dataclass
class Entry:
    """What the index shows for one municipality (or the comparison)."""

    label: str
    name: str
    notebooks: list[str] = field(default_factory=list)
    status: dict[str, str] = field(default_factory=dict)
    results: dict[str, Any] = field(default_factory=dict)
    workbooks: list[str] = field(default_factory=list)
    figures: list[str] = field(default_factory=list)
    withheld: bool = False
    synthetic: bool = False  # the params file says synthetic: true (demo data)

    @property
    def overall(self) -> str:
        """``withheld`` for a withheld unit, ``failed`` if any notebook failed, ``skipped`` if any
        was skipped, else ``ok``/``saknas``."""
        if self.withheld:
            return "withheld"
        values = set(self.status.values())
        for s in ("failed", "skipped"):
            if s in values:
                return s
        return "ok" if self.notebooks else "saknas"


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _display_name(root: Path, label: str) -> str:
    """The params file's ``namn`` (without importing YAML machinery when there is none)."""
    path = root / "params" / f"{label}.yaml"
    if not path.is_file():
        return label
    try:
        import yaml

        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except Exception:
        return label
    return str(data.get("namn") or label) if isinstance(data, dict) else label


def withheld_marker(root: Path, label: str) -> Path:
    """The runner's marker of a withheld unit (outside reports/: it is never published)."""
    return root / "data" / "processed" / label / WITHHELD_DIR / WITHHELD_FILE


def _synthetic(root: Path, label: str) -> bool:
    from genomlysning.params import is_synthetic_file

    return is_synthetic_file(root / "params" / f"{label}.yaml")


def read_entry(root: Path, label: str) -> Entry:
    """Collect the reports of ``reports/<label>/`` (nothing of a withheld unit but its name)."""
    name = "" if label == CROSS_LABEL else _display_name(root, label)
    synthetic = label != CROSS_LABEL and _synthetic(root, label)
    if withheld_marker(root, label).is_file():
        return Entry(label=label, name=name, withheld=True, synthetic=synthetic)
    folder = root / "reports" / label
    state = provenance.load_state(folder).get("notebooks", {})
    notebooks = sorted(p.stem for p in folder.glob("[0-9][0-9]_*.ipynb"))
    status = {nb: str(state.get(nb, {}).get("status", "saknas")) for nb in notebooks}
    for nb, entry in state.items():  # skipped notebooks have no file but are in the state
        if nb not in status and isinstance(entry, dict):
            status[nb] = str(entry.get("status", "saknas"))
    return Entry(
        label=label,
        name=name,
        notebooks=notebooks,
        status=dict(sorted(status.items())),
        results=_read_json(folder / "results.json"),
        workbooks=sorted(p.name for p in folder.glob("*.xlsx")),
        figures=sorted(p.relative_to(folder).as_posix() for p in (folder / "figures").glob("*.png")),
        synthetic=synthetic,
    )


def read_entries(root: str | os.PathLike[str]) -> tuple[list[Entry], Entry | None]:
    """Every municipality with reports or a params file (sorted), and the comparison (or None)."""
    base = Path(root)
    labels = {p.stem for p in (base / "params").glob("*.yaml")}
    reports = base / "reports"
    if reports.is_dir():
        labels |= {p.name for p in reports.iterdir() if p.is_dir() and (
            any(p.glob("[0-9][0-9]_*.ipynb")) or (p / provenance.STATE_FILE).is_file())}
    markers = (base / "data" / "processed").glob(f"*/{WITHHELD_DIR}/{WITHHELD_FILE}")
    labels |= {p.parents[1].name for p in markers}
    labels.discard(CROSS_LABEL)
    entries = [read_entry(base, label) for label in sorted(labels)]
    cross_dir = reports / CROSS_LABEL
    has_cross = cross_dir.is_dir() or withheld_marker(base, CROSS_LABEL).is_file()
    cross = read_entry(base, CROSS_LABEL) if has_cross else None
    return entries, cross


# ---------------------------------------------------------------------------------------------
# Headline figures


def flatten(results: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Scalar values of nested ``results`` under dotted keys (lists and empty values left out)."""
    out: dict[str, Any] = {}
    for key, value in results.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            out.update(flatten(value, name + "."))
        elif isinstance(value, bool | int | float | str) and value != "":
            out[name] = value
    return out


def curated_keys(entries: Sequence[Entry]) -> list[tuple[str, str, str, str]]:
    """The :data:`HEADLINES` found in at least one municipality's results, as (dotted key, sv, en,
    note); the dotted key is the first section that holds the figure."""
    found: list[tuple[str, str, str, str]] = []
    flats = [flatten(e.results) for e in entries]
    for leaf, sv, en, note in HEADLINES:
        dotted = next((k for f in flats for k in f if k == leaf or k.endswith("." + leaf)), None)
        if dotted is not None:
            found.append((dotted, sv, en, note))
    return found


def headline_keys(entries: Sequence[Entry], limit: int = MAX_HEADLINES) -> list[str]:
    """Fallback columns when none of :data:`HEADLINES` is there: keys present for most
    municipalities, in first-seen order, numbers before text."""
    counts: dict[str, int] = {}
    numeric: dict[str, bool] = {}
    for e in entries:
        for key, value in flatten(e.results).items():
            counts[key] = counts.get(key, 0) + 1
            numeric[key] = numeric.get(key, True) and (isinstance(value, int | float) or value == "..")
    order = list(counts)
    ranked = sorted(order, key=lambda k: (-counts[k], not numeric[k], order.index(k)))
    return ranked[:limit]


def _label(key: str, lang: str) -> str:
    leaf = key.rsplit(".", 1)[-1]
    try:
        from genomlysning import report

        text = report.column_label(leaf, "en" if lang == "en" else "sv")
    except Exception:
        text = leaf
    return text if text != leaf else leaf.replace("_", " ")


def format_value(key: str, value: Any, lang: str = "sv") -> str:
    """A headline value as text: Swedish number format, shares (``andel*``) as percentages."""
    leaf = key.rsplit(".", 1)[-1]
    share = "andel" in leaf.split("_") or leaf.startswith("share")
    is_year = leaf in _YEAR_KEYS or leaf.startswith("ar_")
    if is_year and isinstance(value, int) and not isinstance(value, bool):
        return str(value)  # a year, not a count: no thousands separator
    try:
        from genomlysning import report

        return report.format_number(value, "en" if lang == "en" else "sv", share=share)
    except Exception:
        pass
    if isinstance(value, bool) or not isinstance(value, int | float):
        return str(value)
    text = f"{100 * value:.1f} %" if share else (f"{value:,d}" if isinstance(value, int) else f"{value:.3g}")
    return text.replace(",", "\u00a0").replace(".", ",") if lang != "en" else text


# ---------------------------------------------------------------------------------------------
# HTML


def href(*parts: str) -> str:
    """A relative link (to ``reports/<parts...>``) for an ``href`` attribute: every path segment
    percent-encoded, so that no folder or file name can make it absolute or a ``javascript:`` URL."""
    segments = [s for part in parts for s in part.split("/")]
    return escape("/".join(quote(s, safe="") for s in segments))


def _th(key: str, text: str) -> str:
    return f'<th title="{escape(key)}">{escape(text)}</th>'


def _nb_title(notebook: str, lang: str) -> str:
    """``02 Flödet ...`` for a known notebook, else its file name."""
    if notebook in NOTEBOOK_TITLES:
        sv, en = NOTEBOOK_TITLES[notebook]
        title = en if lang == "en" else sv
        return f'<span title="{escape(notebook)}">{escape(notebook[:2])} {escape(title)}</span>'
    return escape(notebook)


def _demo_badge(e: Entry, lang: str) -> str:
    """`` fiktiva data`` beside a demo municipality (params ``synthetic: true``)."""
    return f' <span class="badge fiktiv">{_t("fiktiva", lang)}</span>' if e.synthetic else ""


def _badge(status: str, lang: str) -> str:
    text = _t(status, lang) if status in _TEXT else status
    return f'<span class="badge {escape(status)}">{escape(text)}</span>'


def _report_links(e: Entry, lang: str) -> str:
    items = []
    for nb in e.notebooks:
        status = e.status.get(nb, "saknas")
        badge = "" if status == "ok" else f" {_badge(status, lang)}"
        items.append(f"<li>{_nb_title(nb, lang)}: "
                     f'<a href="{href(e.label, f"{nb}{NO_CODE_SUFFIX}.html")}">{_t("utan_kod", lang)}</a> · '
                     f'<a href="{href(e.label, f"{nb}.html")}">{_t("med_kod", lang)}</a>{badge}</li>')
    for nb, status in e.status.items():
        if nb not in e.notebooks:
            items.append(f"<li>{_nb_title(nb, lang)} {_badge(status, lang)}</li>")
    return f'<ul class="links">{"".join(items)}</ul>' if items else "–"


def _files(e: Entry, lang: str) -> str:
    parts = []
    for wb in e.workbooks:
        parts.append(f'<a href="{href(e.label, wb)}">{_t("xlsx", lang)}</a>')
    if e.figures:
        links = "".join(f'<li><a href="{href(e.label, f)}">{escape(Path(f).stem)}</a></li>'
                        for f in e.figures)
        parts.append(f'<details><summary>{_t("figurer", lang)} ({len(e.figures)})</summary><ul>{links}</ul>'
                     f"</details>")
    return "<br>".join(parts) if parts else "–"


def _all_figures(e: Entry, lang: str) -> str:
    flat = flatten(e.results)
    if not flat:
        return ""
    rows = "".join(f"<dt>{escape(_label(k, lang))} <span class=\"sub\">{escape(k)}</span></dt>"
                   f"<dd>{escape(format_value(k, v, lang))}</dd>" for k, v in flat.items())
    return (f'<details><summary>{_t("nyckeltal", lang)} ({len(flat)})</summary>'
            f'<dl class="all">{rows}</dl></details>')


def _kommun_table(entries: Sequence[Entry], lang: str) -> str:
    if not entries:
        return f"<p>{_t('inga_kommuner', lang)}</p>"
    curated = curated_keys(entries)
    if curated:
        keys = [c[0] for c in curated]
        head = "".join(_th(key, en if lang == "en" else sv) for key, sv, en, note in curated)
        notes = "; ".join(f"{sv.lower()} {note}" for _, sv, _, note in curated if note)
        legend = "" if lang == "en" or not notes else (
            f'<p class="sub">Andelar: {escape(notes)}. Tidsfristerna räknas på ärenden där fristen hade '
            f"gått ut vid periodens slut (klara eller inte).</p>")
    else:
        keys = headline_keys(entries)
        head = "".join(f'<th title="{escape(k)}">{escape(_label(k, lang))}</th>' for k in keys)
        legend = ""
    rows = []
    for e in entries:
        if e.withheld:
            rows.append(_withheld_row(e, len(keys), lang))
            continue
        flat = flatten(e.results)
        cells = "".join(f'<td class="num">{escape(format_value(k, flat[k], lang)) if k in flat else "–"}</td>'
                        for k in keys)
        status = e.overall
        rows.append(
            f'<tr id="{escape(e.label)}"><td><div class="name">{escape(e.name)} {_badge(status, lang)}'
            f'{_demo_badge(e, lang)}</div>'
            f'<div class="sub">{escape(e.label)}</div>{_all_figures(e, lang)}</td>{cells}'
            f"<td>{_report_links(e, lang)}</td><td>{_files(e, lang)}</td></tr>")
    return (f'<div class="scroll"><table><thead><tr><th>{_t("kommun", lang)}</th>'
            f"{head}"
            f'<th>{_t("rapporter", lang)}</th><th>{_t("tabeller", lang)} / {_t("figurer", lang)}</th>'
            f"</tr></thead>"
            f'<tbody>{"".join(rows)}</tbody></table></div>{legend}')


def _withheld_row(e: Entry, n_keys: int, lang: str) -> str:
    """A withheld unit's row: its name and the notice, no figures, no links."""
    empty = '<td class="num">–</td>' * n_keys
    return (f'<tr id="{escape(e.label)}"><td><div class="name">{escape(e.name)} {_badge("withheld", lang)}'
            f'{_demo_badge(e, lang)}'
            f'</div><div class="sub">{escape(e.label)}</div></td>{empty}'
            f'<td colspan="2">{_t("tillbakahallen", lang)}</td></tr>')


def _cross_section(cross: Entry | None, lang: str) -> str:
    if cross is not None and cross.withheld:
        return f'<div class="cross">{_badge("withheld", lang)} {_t("tillbakahallen", lang)}</div>'
    if cross is None or (not cross.notebooks and not cross.status):
        return f"<p>{_t('ingen_jamforelse', lang)}</p>"
    files = _files(cross, lang)
    return (f'<div class="cross">{_report_links(cross, lang)}'
            f'{"" if files == "–" else f"<p>{files}</p>"}{_all_figures(cross, lang)}</div>')


def render_index(entries: Sequence[Entry], cross: Entry | None, lang: str = "sv",
                 footer: str = "") -> str:
    """The whole page as a string."""
    return (
        f'<!DOCTYPE html>\n<html lang="{"en" if lang == "en" else "sv"}">\n<head>\n<meta charset="utf-8">\n'
        f'<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{_t('title', lang)}</title>\n<style>{_CSS}</style>\n</head>\n<body>\n"
        f"<header><h1>{_t('title', lang)}</h1><p>{_t('intro', lang)}</p></header>\n<main>\n"
        f"<h2>{_t('kommuner', lang)} ({len(entries)})</h2>\n{_kommun_table(entries, lang)}\n"
        f"<h2>{_t('jamforelse', lang)}</h2>\n{_cross_section(cross, lang)}\n"
        f"<p class=\"sub\">{_t('harkomst', lang)}</p>\n</main>\n"
        f"<footer>{escape(footer)}</footer>\n</body>\n</html>\n"
    )


def write_index(root: str | os.PathLike[str] | None = None, lang: str = "sv") -> Path:
    """Write ``reports/index.html`` for the project at ``root`` (default: the project root)."""
    if root is None:
        from genomlysning import paths

        root = paths.PROJECT_ROOT
    base = Path(root)
    entries, cross = read_entries(base)
    footer = f"genomlysning {provenance.package_versions(('genomlysning',))['genomlysning']}, " \
             f"git {provenance.git_version()}"
    path = base / "reports" / "index.html"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_index(entries, cross, lang, footer), encoding="utf-8")
    return path

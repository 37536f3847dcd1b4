"""Notebooks run by hand (JupyterLab, ``papermill … -p kommun K``) cannot mislead.

``genomlysning run`` drives every notebook with exactly the parameters of the params file and marks
its kernels with :data:`RUNNER_ENV`. A hand run has only what the person typed, so each notebook
calls :func:`settle` right after its ``parameters`` cell:

* with only ``kommun`` given, every other parameter still at the notebook's default is read from
  ``params/<kommun>.yaml`` (so a hand run of a municipality reviewing 2024 does not fall back on
  the demo's 2025);
* a name that is no parameter of the notebook (``-p komun K``) stops the run, naming the closest
  valid parameter;
* every figure displayed gets an alt text saying what it shows (:func:`install_alt_text`);
* a hand run does not overwrite what ``genomlysning run`` published: :func:`check_write` (called by
  every writer in :mod:`genomlysning.report`) refuses to write into a report folder that holds the
  runner's state file, unless the runner drives the kernel.
"""

from __future__ import annotations

import ast
import difflib
import os
from collections.abc import MutableMapping
from pathlib import Path
from typing import Any

from genomlysning import paths

#: Set (to "1") in the kernels ``genomlysning run`` starts.
RUNNER_ENV = "GENOMLYSNING_RUNNER"
#: Names every IPython namespace holds.
_IPYTHON_NAMES = frozenset({"In", "Out", "get_ipython", "exit", "quit", "open"})
_PLAIN = (str, int, float, bool, type(None), list, tuple, dict)


class HandRunError(RuntimeError):
    """A hand run was given an unknown parameter or would overwrite published reports."""


def runner_drives() -> bool:
    """Whether ``genomlysning run`` started this kernel."""
    return os.environ.get(RUNNER_ENV) == "1"


def _cells(notebook: str) -> tuple[dict[str, Any], set[str]] | None:
    """``(parameter defaults, every name assigned anywhere)`` of ``notebooks/<notebook>.ipynb``."""
    import json

    path = paths.NOTEBOOKS_DIR / f"{notebook}.ipynb"
    try:
        nb = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    defaults: dict[str, Any] = {}
    assigned: set[str] = set()
    for cell in nb.get("cells", []):
        if cell.get("cell_type") != "code":
            continue
        src = "".join(cell.get("source", []))
        src = "\n".join(ln for ln in src.splitlines() if not ln.lstrip().startswith(("%", "!")))
        try:
            tree = ast.parse(src)
        except SyntaxError:
            continue
        is_params = "parameters" in cell.get("metadata", {}).get("tags", [])
        for node in ast.walk(tree):
            if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
                assigned.add(node.id)
            elif isinstance(node, ast.alias):
                assigned.add((node.asname or node.name).split(".")[0])
            elif isinstance(node, ast.FunctionDef | ast.ClassDef):
                assigned.add(node.name)
        if is_params:
            for node in tree.body:
                target = node.targets[0] if isinstance(node, ast.Assign) and len(node.targets) == 1 else None
                if isinstance(target, ast.Name):
                    try:
                        defaults[target.id] = ast.literal_eval(node.value)
                    except ValueError:
                        defaults[target.id] = None
    return defaults, assigned


def settle(ns: MutableMapping[str, Any], notebook: str) -> list[str]:
    """Complete and check a hand run's parameters in the notebook namespace ``ns`` (see the module
    docstring); returns the parameters read from the params file. Nothing happens when the runner
    drives the kernel (it passes exactly the params file's values)."""
    lang = ns.get("lang")
    install_alt_text("en" if lang == "en" else "sv")
    if runner_drives():
        return []
    found = _cells(notebook)
    if found is None:
        return []
    defaults, assigned = found
    unknown = sorted(k for k, v in ns.items() if not k.startswith("_") and k not in _IPYTHON_NAMES
                     and k not in assigned and isinstance(v, _PLAIN))
    if unknown:
        lines = []
        for k in unknown:
            near = difflib.get_close_matches(k, list(defaults), n=1, cutoff=0.5)
            hint = f" (menade du {near[0]!r}?)" if near else ""
            lines.append(f"{notebook}: okänd parameter {k!r}{hint}; giltiga: {', '.join(defaults)}")
        raise HandRunError("\n".join(lines))
    kommun = ns.get("kommun")
    if not isinstance(kommun, str) or "kommun" not in defaults:
        return []
    from genomlysning import params as params_mod

    try:
        prm = params_mod.load(str(ns.get("params_path") or kommun))
    except params_mod.ParamsError:
        return []  # the notebook's own loading names the problem
    taken = []
    for name, default in defaults.items():
        if name in ("kommun", "params_path", "input_path") or name not in prm:
            continue
        if ns.get(name) == default and prm[name] != default:
            ns[name] = prm[name]
            taken.append(name)
    if taken:
        print(f"Handkörning: {', '.join(f'{n} = {ns[n]!r}' for n in taken)} från "
              f"{paths.relative(paths.params_file(kommun))}")
    return taken


def check_write(path: Path) -> None:
    """Refuse (HandRunError) to write ``path`` inside a report folder that ``genomlysning run``
    published (it holds the runner's state file) unless the runner drives this process."""
    from genomlysning import provenance

    if runner_drives():
        return
    try:
        rel = Path(path).resolve().relative_to(paths.REPORTS_DIR.resolve())
    except ValueError:
        return
    if not rel.parts:
        return
    unit = paths.REPORTS_DIR / rel.parts[0]
    if (unit / provenance.STATE_FILE).is_file():
        raise HandRunError(
            f"{paths.relative(unit)}/ är publicerat av genomlysning run; en handkörning skriver inte över "
            f"det ({paths.relative(path)}). Kör genomlysning run --kommun {rel.parts[0]}, eller kör för hand "
            "i en egen projektmapp: GENOMLYSNING_ROOT=<kopia av projektet> jupyter lab")


def figure_alt_text(fig: Any, lang: str = "sv") -> str:
    """What a figure shows, from its own titles and axis labels (the alt text of the HTML reports):
    ``"Figur: Tratten 2024. Andel per steg (x-axel: andel; y-axel: steg)."``."""
    en = lang == "en"
    parts: list[str] = []
    sup = getattr(fig, "_suptitle", None)
    if sup is not None and sup.get_text().strip():
        parts.append(sup.get_text().strip())
    for ax in fig.get_axes():
        title = " ".join(t.get_text().strip() for t in (ax.title, ax._left_title, ax._right_title)
                         if t.get_text().strip())
        x, y = ax.get_xlabel().strip(), ax.get_ylabel().strip()
        axes = "; ".join(f"{'x-axis' if en else 'x-axel'}: {x}" if i == 0 else
                         f"{'y-axis' if en else 'y-axel'}: {y}" for i, lab in enumerate((x, y)) if lab)
        text = f"{title} ({axes})" if title and axes else title or axes
        if text and text not in parts:
            parts.append(text)
    body = ". ".join(p.rstrip(".") for p in parts) or ("a chart without a title" if en else
                                                        "ett diagram utan rubrik")
    return f"{'Figure' if en else 'Figur'}: {body}."


def install_alt_text(lang: str = "sv") -> bool:
    """Give every matplotlib figure displayed in this IPython kernel an ``alt`` text in its output's
    metadata (:func:`figure_alt_text`); the HTML reports show it. The PNG itself is unchanged.
    False outside IPython."""
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    ip = get_ipython()
    if ip is None:
        return False
    import matplotlib.pyplot as plt
    from matplotlib.figure import Figure

    plt._get_backend_mod()  # load the backend now: the inline backend registers its PNG formatter

    formatter = ip.display_formatter.formatters["image/png"]
    try:
        base = formatter.lookup_by_type(Figure)
    except KeyError:
        return False
    base = getattr(base, "_gl_base", base)

    def png_with_alt(fig: Any) -> Any:
        data = base(fig)
        if data is None or isinstance(data, tuple):
            return data
        return data, {"alt": figure_alt_text(fig, lang)}

    png_with_alt._gl_base = base  # type: ignore[attr-defined]
    formatter.for_type(Figure, png_with_alt)
    return True

"""Provenance of a run: content hashes, git version, package versions, the "Härkomst" cell, run state.

Everything here is deterministic: no timestamps and no absolute paths, so that a report produced twice
from the same inputs at the same commit is byte-identical.

The run state (``reports/<kommun>/.state.json``) records, per notebook, the *key* it was executed
with (a hash of everything its result depends on), its status, and the hashes of the files it wrote.
A notebook is up to date when its key is unchanged and every file it wrote is still there unchanged.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import subprocess
from collections.abc import Iterable, Mapping
from importlib import metadata
from pathlib import Path
from typing import Any

from genomlysning import schema

#: Packages whose versions are recorded in every report (and are part of every notebook's key).
PACKAGES: tuple[str, ...] = ("pandas", "numpy", "scipy", "statsmodels", "matplotlib", "seaborn",
                             "papermill", "genomlysning")
#: Name of the state file written next to the outputs of a run.
STATE_FILE = ".state.json"
#: Tag of the injected provenance cell.
PROVENANCE_TAG = "harkomst"
#: File names never treated as notebook outputs (state, locks, editor droppings).
_IGNORED_SUFFIXES: tuple[str, ...] = (".lock", ".tmp")
_IGNORED_NAMES: frozenset[str] = frozenset({STATE_FILE, ".DS_Store"})

_CHUNK = 1 << 20


def sha256_bytes(data: bytes) -> str:
    """Hex SHA-256 of ``data``."""
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: str | os.PathLike[str]) -> str:
    """Hex SHA-256 of a file's content."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(_CHUNK):
            h.update(chunk)
    return h.hexdigest()


def sha256_json(obj: Any) -> str:
    """Hex SHA-256 of the canonical JSON of ``obj`` (sorted keys, no whitespace)."""
    return sha256_bytes(canonical_json(obj).encode("utf-8"))


def canonical_json(obj: Any) -> str:
    """Canonical JSON text: sorted keys, compact, non-ASCII kept (same object -> same text)."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def package_dir() -> Path:
    """The folder of the installed ``genomlysning`` package."""
    return Path(__file__).resolve().parent


def code_hash(folder: str | os.PathLike[str] | None = None) -> str:
    """Hash of the library code: every ``*.py`` under ``folder`` (default: this package), by relative path.

    ``__pycache__`` is ignored; renaming, adding or editing a module changes the hash.
    """
    base = Path(folder) if folder is not None else package_dir()
    h = hashlib.sha256()
    for path in sorted(p for p in base.rglob("*.py") if "__pycache__" not in p.parts):
        h.update(path.relative_to(base).as_posix().encode("utf-8") + b"\0")
        h.update(sha256_file(path).encode("ascii") + b"\n")
    return h.hexdigest()


def file_or_missing_hash(path: str | os.PathLike[str]) -> str:
    """SHA-256 of a file, or ``"saknas"`` (missing) when it does not exist (the notebook will say why)."""
    p = Path(path)
    return sha256_file(p) if p.is_file() else "saknas"


def git_version(repo: str | os.PathLike[str] | None = None) -> str:
    """Short commit of the code repository, with ``+ändrad`` when tracked code or notebooks differ from it.

    Only ``lib/`` and ``notebooks/`` are checked for changes (including new, untracked files there):
    they are what produced a report. Returns ``"okänd"`` outside a git checkout.
    """
    where = Path(repo) if repo is not None else package_dir().parents[1]
    try:
        head = subprocess.run(["git", "-C", str(where), "rev-parse", "HEAD"], capture_output=True,
                              text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(where), "status", "--porcelain", "--", "lib", "notebooks"],
                               capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "okänd"
    return head[:10] + ("+ändrad" if dirty else "")


def package_versions(packages: Iterable[str] = PACKAGES) -> dict[str, str]:
    """Versions of Python and of ``packages`` (``"saknas"`` for one that is not installed)."""
    out = {"python": platform.python_version()}
    for name in packages:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "saknas"
    return out


def environment() -> dict[str, Any]:
    """What every report of a run shares: commit, package versions, schema version, code hash."""
    return {"git": git_version(), "versions": package_versions(), "schema": schema.SCHEMA_VERSION,
            "code": code_hash()}


def _md_value(value: Any) -> str:
    """A parameter value as inline markdown code (JSON spelling, pipes escaped for tables)."""
    return "`" + canonical_json(value).replace("|", "\\|").replace("`", "'") + "`"


def provenance_markdown(env: Mapping[str, Any], parameters: Mapping[str, Any],
                        inputs: Mapping[str, str], notebook: str, notebook_hash: str) -> str:
    """The Swedish "Härkomst" cell: what produced this report, enough to reproduce it exactly.

    ``inputs`` maps a display name (a project-relative path in backticks, or a description) to a
    SHA-256.
    """
    versions = env.get("versions", {})
    lines = [
        "## Härkomst",
        "",
        "Den här rapporten skapades av `genomlysning run`. Med samma indata, parametrar och "
        "programversion blir den byte för byte likadan.",
        "",
        "| Uppgift | Värde |",
        "|---|---|",
        f"| Notebook | `{notebook}` (sha256 `{notebook_hash[:16]}`) |",
        f"| Git-version | `{env.get('git', 'okänd')}` |",
        f"| Schemaversion | `{env.get('schema', schema.SCHEMA_VERSION)}` |",
        f"| Bibliotekskod (sha256) | `{str(env.get('code', ''))[:16]}` |",
    ]
    if inputs:
        for name, digest in sorted(inputs.items()):
            lines.append(f"| Indata: {name} (sha256) | `{digest[:16]}` |")
    else:
        lines.append("| Indata | ingen egen indatafil |")
    lines.append("| Paketversioner | " + ", ".join(f"{k} {v}" for k, v in versions.items()) + " |")
    lines += ["", "**Parametrar**", ""]
    if parameters:
        lines += ["| Parameter | Värde |", "|---|---|"]
        lines += [f"| `{k}` | {_md_value(v)} |" for k, v in sorted(parameters.items())]
    else:
        lines.append("Notebookens standardvärden (inga parametrar angavs).")
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------------------------------------
# Run state and output tracking


def load_state(folder: str | os.PathLike[str]) -> dict[str, Any]:
    """Read ``folder/.state.json`` ({} if absent or unreadable: then everything is out of date)."""
    path = Path(folder) / STATE_FILE
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def save_state(folder: str | os.PathLike[str], state: Mapping[str, Any]) -> Path:
    """Write ``folder/.state.json`` (sorted keys, stable bytes) atomically."""
    path = Path(folder) / STATE_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(state, sort_keys=True, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    os.replace(tmp, path)
    return path


def _tracked(path: Path) -> bool:
    return path.name not in _IGNORED_NAMES and not path.name.endswith(_IGNORED_SUFFIXES)


Snapshot = dict[str, tuple[int, int]]


def snapshot(root: str | os.PathLike[str], folders: Iterable[str | os.PathLike[str]]) -> Snapshot:
    """``{root-relative path: (mtime_ns, size)}`` of every file under ``folders`` (which may not exist)."""
    base = Path(root)
    out: Snapshot = {}
    for folder in folders:
        f = Path(folder)
        if not f.is_dir():
            continue
        for p in f.rglob("*"):
            if p.is_file() and _tracked(p):
                st = p.stat()
                out[p.relative_to(base).as_posix()] = (st.st_mtime_ns, st.st_size)
    return out


def written_between(before: Snapshot, after: Snapshot) -> list[str]:
    """Files that are new or changed in ``after`` compared with ``before``, sorted."""
    return sorted(p for p, sig in after.items() if before.get(p) != sig)


def hash_files(root: str | os.PathLike[str], relpaths: Iterable[str]) -> dict[str, str]:
    """``{relative path: sha256}`` for files under ``root`` (missing files are left out)."""
    base = Path(root)
    return {rel: sha256_file(base / rel) for rel in sorted(relpaths) if (base / rel).is_file()}


def outputs_intact(root: str | os.PathLike[str], outputs: Mapping[str, str]) -> bool:
    """True when every recorded output file still exists with the recorded hash."""
    base = Path(root)
    for rel, digest in outputs.items():
        p = base / rel
        if not p.is_file() or sha256_file(p) != digest:
            return False
    return True

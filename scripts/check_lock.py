"""Check that requirements.lock pins everything an interpreter would install (stdlib only).

``python scripts/check_lock.py`` runs ``pip install --dry-run --only-binary :all: --report`` of the lock
with the interpreter that runs it and fails if pip would install a package the lock does not pin (a
dependency with an environment marker, e.g. papermill's aiohttp on Python 3.12 only) or a version
other than the pinned one. CI runs it with every supported Python.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tempfile
from pathlib import Path

LOCK = Path(__file__).resolve().parents[1] / "requirements.lock"


def canonical(name: str) -> str:
    """The normalised project name (PEP 503)."""
    return re.sub(r"[-_.]+", "-", name).lower()


def pins(text: str) -> dict[str, str]:
    """Every ``name==version`` of a lock file (markers ignored), by canonical name."""
    found: dict[str, str] = {}
    for line in text.splitlines():
        line = line.split("#", 1)[0].split(";", 1)[0].strip()
        if "==" in line:
            name, version = line.split("==", 1)
            found[canonical(name)] = version.strip()
    return found


def unpinned(report: dict, pinned: dict[str, str]) -> list[str]:
    """What a pip ``--report`` would install that the lock does not pin (or pins at another version)."""
    problems = []
    for item in report.get("install", []):
        meta = item["metadata"]
        name, version = canonical(meta["name"]), meta["version"]
        if pinned.get(name) != version:
            problems.append(f"{name}=={version} (lock: {pinned.get(name, 'not pinned')})")
    return sorted(problems)


def main() -> int:
    """Dry-run the lock with this interpreter; 0 when every package it installs is pinned."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "report.json"
        cmd = [sys.executable, "-m", "pip", "install", "--quiet", "--dry-run", "--ignore-installed",
               "--only-binary", ":all:", "--report", str(out), "-r", str(LOCK)]
        done = subprocess.run(cmd, capture_output=True, text=True)
        if done.returncode != 0:
            print(done.stdout[-2000:], done.stderr[-2000:], sep="\n")
            print(f"check_lock: pip could not resolve the lock on Python {sys.version.split()[0]}")
            return 1
        report = json.loads(out.read_text(encoding="utf-8"))
    problems = unpinned(report, pins(LOCK.read_text(encoding="utf-8")))
    version = sys.version.split()[0]
    if problems:
        print(f"check_lock: Python {version} would install packages the lock does not pin:")
        print("\n".join(f"  {p}" for p in problems))
        return 1
    print(f"check_lock: Python {version}: {len(report.get('install', []))} wheels, all pinned by the lock")
    return 0


if __name__ == "__main__":
    sys.exit(main())

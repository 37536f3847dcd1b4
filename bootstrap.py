"""Set up and run genomlysning without make, the same on Windows, macOS and Linux (stdlib only).

    python bootstrap.py run     # as `make run`: .venv, the demo data, every notebook -> reports/
    python bootstrap.py test    # as `make test`: .venv, the demo data, every test

(On Windows `py bootstrap.py run`.) The first call makes the virtual environment ``.venv`` with the
Python that runs this script (3.11, 3.12 or 3.13) and installs the exact versions of
``requirements.lock`` and this repository; later calls reinstall only when the lock or pyproject.toml
changed. Arguments after the command are passed on, e.g. ``python bootstrap.py run --kommun norrvik``.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent
SUPPORTED = ((3, 11), (3, 12), (3, 13))
SEED = "20261122"
COMMANDS = ("run", "test", "setup")


def venv_python(venv: Path) -> Path:
    """The interpreter inside ``venv`` (Scripts\\python.exe on Windows, bin/python elsewhere)."""
    if os.name == "nt":
        return venv / "Scripts" / "python.exe"
    return venv / "bin" / "python"


def needs_install(venv: Path) -> bool:
    """True when ``venv`` has no stamp or the lock or pyproject.toml is newer than it."""
    stamp = venv / ".installed"
    if not stamp.exists() or not venv_python(venv).exists():
        return True
    newest = max((ROOT / name).stat().st_mtime for name in ("requirements.lock", "pyproject.toml"))
    return stamp.stat().st_mtime < newest


def call(argv: list[str]) -> None:
    """Run ``argv`` in the repository; exit with its code when it fails."""
    print("bootstrap: " + " ".join(str(a) for a in argv), flush=True)
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    code = subprocess.run([str(a) for a in argv], cwd=ROOT, env=env).returncode
    if code != 0:
        sys.exit(code)


def setup(venv: Path) -> Path:
    """Create and fill ``venv`` when needed; return its interpreter."""
    py = venv_python(venv)
    if not py.exists():
        call([sys.executable, "-m", "venv", venv])
    if needs_install(venv):
        call([py, "-m", "pip", "install", "--quiet", "--upgrade", "pip"])
        call([py, "-m", "pip", "install", "--quiet", "-r", ROOT / "requirements.lock"])
        call([py, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation", "-e", ROOT])
        (venv / ".installed").touch()
    version = subprocess.run([str(py), "-c", "import sys; print(sys.version.split()[0])"],
                             capture_output=True, text=True).stdout.strip()
    print(f"bootstrap: {venv.name} uses Python {version}", flush=True)
    return py


def main(argv: list[str]) -> int:
    """``bootstrap.py run|test|setup [args...]``."""
    if not argv or argv[0] not in COMMANDS:
        print(__doc__)
        return 2
    if sys.version_info[:2] not in SUPPORTED:
        print(f"bootstrap: Python 3.11, 3.12 or 3.13 is required, this is {sys.version.split()[0]}")
        return 2
    venv = Path(os.environ.get("GENOMLYSNING_VENV", ROOT / ".venv"))
    py = setup(venv)
    command, rest = argv[0], argv[1:]
    if command == "setup":
        return 0
    if command == "test":  # writes and cleans the demo data itself, then every test
        call([py, "-m", "genomlysning.cli", "test", *rest])
    else:
        call([py, "-m", "genomlysning.cli", "demo-data", "--seed", SEED])
        call([py, "-m", "genomlysning.cli", "run", *rest])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

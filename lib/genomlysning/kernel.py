"""A warm, reusable Jupyter kernel for running many notebooks through papermill.

Starting a kernel and importing pandas, statsmodels, matplotlib and seaborn costs seconds, far more
than most of our notebooks spend computing. A :class:`WarmKernel` starts one IPython kernel, imports
the heavy third-party modules once ("prewarm"), and then executes notebook after notebook in it via
papermill (engine ``genomlysning-warm``). Between notebooks it restores the state a fresh kernel
would have, so that a notebook's output depends only on the notebook and its parameters, never on
what ran before it in the same kernel:

* the user namespace, ``In``/``Out`` and the execution counter (``In [1]`` again);
* every ``genomlysning`` module is dropped from ``sys.modules`` and imported afresh by the next
  notebook (so module-level state in the library never leaks between municipalities);
* matplotlib figures and rcParams (``rc_file_defaults``), pandas options, numpy print/error options,
  the random seeds (re-seeded from the OS, as in a new process), warning filters and the
  "already shown" warning registries, the root logger, the working directory, ``os.environ``,
  ``sys.path``.

Third-party modules stay imported: that is the point. Import-time output of those modules is
swallowed by the prewarm (which imports everything the library and the notebooks import), so it can
never appear in one notebook but not in another depending on scheduling.

Kernel messaging is asynchronous and bound to the event loop of the thread that created it, so each
``WarmKernel`` owns one dedicated thread and does all its work there; callers on any thread block
on a future. The kernel talks over Unix sockets in a private temporary folder.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import sys
import tempfile
import threading
from collections.abc import Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

#: Name of the papermill engine registered by :func:`register_engine`.
ENGINE_NAME = "genomlysning-warm"
KERNEL_NAME = "python3"
#: Seconds to wait for a kernel to start.
START_TIMEOUT = 120
#: One BLAS/OpenMP thread per kernel unless the environment says otherwise: the runner already
#: runs one kernel per core, and threaded OpenBLAS on a small machine slows the models down.
SINGLE_THREADED: dict[str, str] = {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1",
                                   "MKL_NUM_THREADS": "1"}

_SETUP = r'''
def __genomlysning_setup(modules):
    import importlib, logging, os, sys, warnings
    import numpy as np
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for name in modules:
            try:
                importlib.import_module(name)
            except Exception:
                pass
    for name in [m for m in sys.modules if m == "genomlysning" or m.startswith("genomlysning.")]:
        del sys.modules[name]
    state = {"cwd": os.getcwd(), "environ": dict(os.environ), "path": list(sys.path),
             "warnings": list(warnings.filters), "log_handlers": list(logging.root.handlers),
             "log_level": logging.root.level, "np_print": np.get_printoptions(), "np_err": np.geterr()}
    if "pandas" in sys.modules:
        from pandas._config import config as pdc
        state["pandas"] = __genomlysning_flat(pdc._global_config)
    get_ipython()._genomlysning_state = state


def __genomlysning_flat(d):
    out, stack = {}, [("", d)]
    while stack:
        prefix, cur = stack.pop()
        for k, v in cur.items():
            if isinstance(v, dict):
                stack.append((prefix + k + ".", v))
            else:
                out[prefix + k] = v
    return out


get_ipython()._genomlysning_flat = __genomlysning_flat
__genomlysning_setup(%(modules)r)
del __genomlysning_setup, __genomlysning_flat
'''

_RESET = r'''
def __genomlysning_reset():
    import logging, os, random, sys, warnings
    ip = get_ipython()
    st = ip._genomlysning_state
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if "matplotlib.pyplot" in sys.modules:
            import matplotlib
            import matplotlib.pyplot as plt
            plt.close("all")
            matplotlib.rc_file_defaults()
        if "pandas" in sys.modules:
            import pandas as pd
            if "pandas" in st:
                from pandas._config import config as pdc
                now = ip._genomlysning_flat(pdc._global_config)
                for key, value in st["pandas"].items():
                    if now.get(key) is not value and now.get(key) != value:
                        pd.set_option(key, value)
            else:
                pd.reset_option("all")
    import numpy as np
    np.set_printoptions(**st["np_print"])
    np.seterr(**st["np_err"])
    np.random.seed()
    random.seed()
    for name in [m for m in sys.modules if m == "genomlysning" or m.startswith("genomlysning.")]:
        del sys.modules[name]
    os.chdir(st["cwd"])
    os.environ.clear()
    os.environ.update(st["environ"])
    sys.path[:] = st["path"]
    warnings.filters[:] = st["warnings"]
    warnings._filters_mutated()
    warnings.onceregistry.clear()
    logging.root.handlers[:] = st["log_handlers"]
    logging.root.setLevel(st["log_level"])
    ip.reset(new_session=False)  # (its output-cache flush also runs the garbage collector)
    ip.execution_count = 1


__genomlysning_reset()
'''


class KernelError(RuntimeError):
    """The kernel could not be started or reset."""


def quiet_imports() -> None:
    """Skip an optional import that costs ~1.2 s per process and is never used here.

    ``jsonschema`` (imported by ``nbformat``) imports ``rfc3987_syntax`` when installed, which compiles
    a Lark grammar for validating IRIs; the notebook schema never uses that format. Only effective
    before ``nbformat`` is first imported in the process.
    """
    if "jsonschema" not in sys.modules:
        sys.modules.setdefault("rfc3987_syntax", None)  # type: ignore[arg-type]


def register_engine() -> None:
    """Register the ``genomlysning-warm`` papermill engine (idempotent)."""
    quiet_imports()
    from papermill.clientwrap import PapermillNotebookClient
    from papermill.engines import NBClientEngine, papermill_engines
    from papermill.log import logger

    if ENGINE_NAME in papermill_engines._engines:
        return
    # papermill warns about parameters its own inspection misses (see runner.notebook_parameters)
    logging.getLogger("papermill").setLevel(logging.ERROR)

    class WarmEngine(NBClientEngine):
        """papermill engine that executes in an already running kernel (``kernel=WarmKernel``)."""

        @classmethod
        def execute_managed_notebook(cls, nb_man: Any, kernel_name: str, log_output: bool = False,
                                     stdout_file: Any = None, stderr_file: Any = None,
                                     start_timeout: int = 60, execution_timeout: int | None = None,
                                     kernel: WarmKernel | None = None, **kwargs: Any) -> Any:
            if kernel is None:
                raise KernelError("the genomlysning-warm engine needs kernel=WarmKernel")
            client = PapermillNotebookClient(nb_man, km=kernel._km, kernel_name=kernel_name,
                                             timeout=execution_timeout, startup_timeout=start_timeout,
                                             log=logger, log_output=log_output)
            client.kc = kernel._kc  # reuse the running client: no new channels per notebook
            return client.execute()

    papermill_engines.register(ENGINE_NAME, WarmEngine)


class WarmKernel:
    """One IPython kernel, reused for many notebooks (or fresh per notebook with ``reuse=False``).

    ``cwd`` is the kernel's working directory (the notebook folder), ``env`` extra environment
    variables (e.g. ``GENOMLYSNING_ROOT``), ``prewarm`` modules imported once at start.
    """

    def __init__(self, cwd: str | os.PathLike[str], env: Mapping[str, str] | None = None,
                 prewarm: Sequence[str] = (), reuse: bool = True) -> None:
        self.cwd = str(cwd)
        self.env = dict(env or {})
        self.prewarm = tuple(prewarm)
        self.reuse = reuse
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="genomlysning-kernel")
        self._km: Any = None
        self._kc: Any = None
        self._sockets: str | None = None
        self._setup_msg: str | None = None
        self._used = False
        self._closed = False
        self.notebooks_run = 0
        self.kernels_started = 0

    # -- public API (any thread) ------------------------------------------------------------

    def start(self) -> Future[None]:
        """Start the kernel in the background (returns at once); prewarm runs inside the kernel."""
        return self._thread.submit(self._ensure_started)

    def execute(self, input_path: str | os.PathLike[str], output_path: str | os.PathLike[str],
                parameters: Mapping[str, Any], timeout: int | None = None) -> Any:
        """Execute a notebook through papermill in this kernel; return the executed notebook.

        Raises papermill's ``PapermillExecutionError`` when a cell fails (the output notebook with
        the error cell is written first), or another exception when the kernel dies or times out.
        """
        return self._thread.submit(self._execute, str(input_path), str(output_path), dict(parameters),
                                   timeout).result()

    def run_code(self, code: str) -> None:
        """Execute ``code`` silently in the kernel (between notebooks); raise KernelError if it fails."""
        self._thread.submit(self._run_code, code).result()

    def _run_code(self, code: str) -> None:
        self._ensure_started()
        if self._setup_msg is not None:
            msg, self._setup_msg = self._setup_msg, None
            self._reply(msg)
        self._used = True
        self._run_silent(code)

    def close(self) -> None:
        """Shut the kernel down and stop the thread (idempotent)."""
        if self._closed:
            return
        self._closed = True
        try:
            self._thread.submit(self._stop).result()
        except RuntimeError:  # the executor already shut down (at interpreter exit on Python 3.12+)
            self._stop()
        self._thread.shutdown(wait=True)

    # -- kernel thread ------------------------------------------------------------------------

    def _ensure_started(self) -> None:
        if self._km is not None and self._alive():
            return
        self._stop()
        from jupyter_client import AsyncKernelManager
        from jupyter_core.utils import run_sync

        self._sockets = tempfile.mkdtemp(prefix="genomlysning-kernel-")
        env = {**SINGLE_THREADED, **os.environ, "PYDEVD_DISABLE_FILE_VALIDATION": "1", "PYTHONHASHSEED": "0",
               **self.env}
        env.pop("MPLBACKEND", None)  # the kernel's inline backend, as in Jupyter
        km = AsyncKernelManager(kernel_name=KERNEL_NAME, transport="ipc",
                                ip=os.path.join(self._sockets, "k"))
        run_sync(km.start_kernel)(cwd=self.cwd, env=env,
                                  extra_arguments=["--HistoryManager.hist_file=:memory:"])
        kc = km.client()
        kc.start_channels()
        try:
            run_sync(kc.wait_for_ready)(timeout=START_TIMEOUT)
        except Exception as exc:
            kc.stop_channels()
            run_sync(km.shutdown_kernel)(now=True)
            raise KernelError(f"the kernel did not start: {exc}") from exc
        kc.allow_stdin = False
        self._km, self._kc = km, kc
        self._used = False
        self.kernels_started += 1
        self._setup_msg = kc.execute(_SETUP % {"modules": list(self.prewarm)}, silent=True,
                                     store_history=False, allow_stdin=False)

    def _alive(self) -> bool:
        from jupyter_core.utils import run_sync

        try:
            return bool(run_sync(self._km.is_alive)())
        except Exception:
            return False

    def _reply(self, msg_id: str, timeout: float = 3600) -> dict[str, Any]:
        from jupyter_core.utils import run_sync

        while True:
            msg = run_sync(self._kc.get_shell_msg)(timeout=timeout)
            if msg["parent_header"].get("msg_id") == msg_id:
                content = msg["content"]
                if content.get("status") != "ok":
                    raise KernelError(f"{content.get('ename')}: {content.get('evalue')}")
                return content

    def _run_silent(self, code: str) -> None:
        self._reply(self._kc.execute(code, silent=True, store_history=False, allow_stdin=False))

    def _execute(self, input_path: str, output_path: str, parameters: dict[str, Any],
                 timeout: int | None) -> Any:
        import papermill

        register_engine()
        self._ensure_started()
        if self._setup_msg is not None:
            msg, self._setup_msg = self._setup_msg, None
            self._reply(msg)
        if self._used:
            self._run_silent(_RESET)
        self._used = True
        ok = False
        try:
            nb = papermill.execute_notebook(
                input_path, output_path, parameters=parameters, engine_name=ENGINE_NAME,
                kernel_name=KERNEL_NAME, progress_bar=False, request_save_on_cell_execute=False,
                execution_timeout=timeout, kernel=self)
            ok = True
            return nb
        except Exception as exc:
            ok = type(exc).__name__ == "PapermillExecutionError"  # a cell raised: the kernel is fine
            raise
        finally:
            self.notebooks_run += 1
            if not ok or not self.reuse:
                self._stop()

    def _stop(self) -> None:
        from jupyter_core.utils import run_sync

        if self._kc is not None and self._setup_msg is not None:
            with contextlib.suppress(Exception):  # let the prewarm finish: no interrupted imports
                self._reply(self._setup_msg, timeout=60)
        if self._kc is not None:
            with contextlib.suppress(Exception):
                self._kc.stop_channels()
        if self._km is not None:
            try:
                run_sync(self._km.shutdown_kernel)(now=False)
            except Exception:
                with contextlib.suppress(Exception):
                    run_sync(self._km.shutdown_kernel)(now=True)
        if self._sockets is not None:
            shutil.rmtree(self._sockets, ignore_errors=True)
        self._km = self._kc = self._sockets = self._setup_msg = None


# ---------------------------------------------------------------------------------------------
# One kernel per (thread, configuration) in a process: what pool and Dask workers use.

_KERNELS: dict[tuple[Any, ...], WarmKernel] = {}
_KERNELS_LOCK = threading.Lock()


def kernel_for(cwd: str, env: Mapping[str, str], prewarm: Sequence[str], reuse: bool,
               slot: int = 0) -> WarmKernel:
    """The calling thread's kernel number ``slot`` for this configuration, started on first use."""
    key = (threading.current_thread().name, slot, cwd, tuple(sorted(env.items())), tuple(prewarm), reuse)
    with _KERNELS_LOCK:
        kernel = _KERNELS.get(key)
        if kernel is None:
            kernel = _KERNELS[key] = WarmKernel(cwd, env, prewarm, reuse)
            kernel.start()
    return kernel


def shutdown_kernels() -> None:
    """Close every kernel started by :func:`kernel_for` in this process."""
    with _KERNELS_LOCK:
        kernels = list(_KERNELS.values())
        _KERNELS.clear()
    for kernel in kernels:
        kernel.close()

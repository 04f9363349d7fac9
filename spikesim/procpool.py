"""Local worker processes that live no longer than their parent, one thread each.

Used by sweeps (points in parallel, :mod:`spikesim.dse.runner`) and by ``simulate --workers``
(layers in parallel, :mod:`spikesim.sim.parallel`). Workers are started with the ``spawn``
method (no fork of a parent holding numba and BLAS threads), with one BLAS/OpenMP/numba thread
each (:data:`THREAD_VARS`), ignore SIGINT (the parent handles it and stops them), and exit as
soon as their parent is gone (``PR_SET_PDEATHSIG`` on Linux and a watchdog thread elsewhere).
:func:`stop_pool` terminates them at once: an interrupted parent leaves no worker behind.
"""

from __future__ import annotations

import contextlib
import gc
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from typing import Any

from spikesim.errors import InputError, echo
from spikesim.pages import prefer_small_pages

MAX_WORKERS = 64
"""Most local worker processes a run or a sweep starts (more is an InputError naming
``workers``; fewer are started when fewer tasks remain)."""

PARENT_POLL_SECONDS = 0.5
"""How often a local worker checks that its parent is still alive."""

THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS")
"""Thread-count variables set to 1 in every worker process."""


def check_workers(workers: object) -> int:
    """``workers`` if it is an integer from 1 to :data:`MAX_WORKERS`, else an InputError
    naming ``workers``."""
    if not isinstance(workers, int) or isinstance(workers, bool) or workers < 1:
        raise InputError(f"must be at least 1, got {echo(workers)}", field="workers")
    if workers > MAX_WORKERS:
        raise InputError(f"must be at most {MAX_WORKERS}, got {workers}", field="workers")
    return workers


def init_worker() -> None:
    """Worker initializer: one thread per worker, NumPy on ordinary pages
    (:func:`spikesim.pages.prefer_small_pages`)."""
    for var in THREAD_VARS:
        os.environ[var] = "1"
    prefer_small_pages()
    try:
        import numba

        numba.set_num_threads(1)
    except (ImportError, ValueError):  # pragma: no cover - numba missing or already 1
        pass


def freeze_startup_objects() -> None:
    """Take every object alive now (modules, classes, a worker's workload and hardware) out of
    the cyclic garbage collector's generations (``gc.freeze``): they live as long as the
    process, and every full collection traversed them again (a llama2-7b block measured 0.35 s
    of collections, 0.12 s after the freeze). Only in worker processes spikesim starts (a
    library caller's process keeps its collector as it is)."""
    gc.freeze()


def init_local_worker(parent: int) -> None:
    """Initializer of a local pool worker: one thread, SIGINT left to the parent, and exit as
    soon as ``parent`` is gone."""
    init_worker()
    with contextlib.suppress(OSError, ValueError):
        signal.signal(signal.SIGINT, signal.SIG_IGN)
    die_with_parent(parent)


def die_with_parent(parent: int) -> None:
    """Exit this process when ``parent`` exits: PR_SET_PDEATHSIG on Linux, and a watchdog
    thread polling ``os.getppid()`` (every platform; also covers a parent that died before)."""
    if sys.platform.startswith("linux"):
        with contextlib.suppress(Exception):
            import ctypes

            pr_set_pdeathsig = 1
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(pr_set_pdeathsig, int(signal.SIGKILL), 0, 0, 0)
    if os.getppid() != parent:
        os._exit(1)

    def watch() -> None:
        while True:
            time.sleep(PARENT_POLL_SECONDS)
            if os.getppid() != parent:
                os._exit(1)

    threading.Thread(target=watch, name="spikesim-parent-watch", daemon=True).start()


def stop_pool(pool: ProcessPoolExecutor) -> None:
    """Stop a pool at once: cancel what is queued and terminate the worker processes (a
    running task is abandoned)."""
    processes = list((getattr(pool, "_processes", None) or {}).values())
    for proc in processes:
        with contextlib.suppress(Exception):
            proc.terminate()
    pool.shutdown(wait=False, cancel_futures=True)
    for proc in processes:
        with contextlib.suppress(Exception):
            proc.join(timeout=5)
            if proc.is_alive():
                proc.kill()
                proc.join(timeout=5)


@contextmanager
def single_thread_env() -> Iterator[None]:
    """Set THREAD_VARS to 1 while worker processes are spawned (they inherit it), then restore."""
    saved = {var: os.environ.get(var) for var in THREAD_VARS}
    os.environ.update(dict.fromkeys(THREAD_VARS, "1"))
    try:
        yield
    finally:
        for var, value in saved.items():
            if value is None:
                os.environ.pop(var, None)
            else:
                os.environ[var] = value


def local_pool(
    workers: int,
    initializer: Callable[..., None] | None = None,
    initargs: tuple[Any, ...] = (),
) -> ProcessPoolExecutor:
    """A ``spawn`` pool of ``workers`` processes, each initialized by :func:`init_local_worker`
    (tied to this process) and then ``initializer(*initargs)``. Submit work inside
    :func:`single_thread_env` (the workers start on first submit and inherit it); stop it with
    :func:`stop_pool` on failure."""
    import multiprocessing

    return ProcessPoolExecutor(
        max_workers=workers,
        mp_context=multiprocessing.get_context("spawn"),
        initializer=_initialize,
        initargs=(os.getpid(), initializer, initargs),
    )


def _initialize(
    parent: int, initializer: Callable[..., None] | None, initargs: tuple[Any, ...]
) -> None:
    init_local_worker(parent)
    if initializer is not None:
        initializer(*initargs)

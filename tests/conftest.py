"""Test-wide settings: one thread per worker, a writable numba cache, offline hubs, no
remembered checksums on disk (tests/test_trace_format.py tests that cache with its own folder),
and the hypothesis profiles of the default and the slow run."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from typing import Any

os.environ.setdefault("NUMBA_CACHE_DIR", os.path.join(tempfile.gettempdir(), "spikesim-numba"))
for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ.setdefault(var, "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("MPLBACKEND", "Agg")
os.environ.setdefault("SPIKESIM_NO_CACHE", "1")

from pathlib import Path  # noqa: E402

import pytest  # noqa: E402
from hypothesis import settings  # noqa: E402

# Property tests: a quick pass in the default run, hypothesis' full 100 examples in the slow run
# (`python -m pytest -m slow`), which runs every property test again (see the hooks below).
settings.register_profile("default", deadline=None, print_blob=True, max_examples=10)
settings.register_profile("full", deadline=None, print_blob=True, max_examples=100)
settings.load_profile("default")

ROOT = Path(__file__).resolve().parents[1]


def _slow_run(config: pytest.Config) -> bool:
    return str(config.getoption("markexpr", "")).strip() == "slow"


def pytest_configure(config: pytest.Config) -> None:
    if _slow_run(config):  # before the test modules are imported: their tests take this profile
        settings.load_profile("full")
    _compile_this_workers_share()


WARM_PRESETS = (("spikequant-45nm", "spikequant-45nm-ttfs"), ("spikequant-45nm-batched",))
"""Per xdist worker (gw0, gw1, …, modulo their number): presets whose numba kernels it compiles
before collecting (the token-serial array and the codings, the token-batched array)."""


def _compile_this_workers_share() -> None:
    """With a cold numba cache every xdist worker would compile every kernel it meets (about
    12 s of CPU each on this machine: the two arrays' timing kernels are most of it). Instead
    each worker first runs one tiny simulation per preset of its share of
    :data:`WARM_PRESETS`, compiling those kernels into the shared on-disk cache while the
    other worker compiles the rest; when a test later needs the other share, it loads it from
    the cache. Every simulation needs the synthetic-draw and quantization kernels: the first
    worker compiles them under a lock on the cache folder while the second compiles its
    array's timing kernel, then takes the lock and loads them. A warm cache makes all this a
    few tenths of a second; a single process (``-n0``) skips it."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    if not worker.startswith("gw") or os.environ.get("PYTEST_XDIST_WORKER_COUNT") in (None, "1"):
        return
    import numba

    import spikesim
    from spikesim.trace import synth_trace

    index = int(worker[2:]) % len(WARM_PRESETS)
    lock = Path(numba.config.CACHE_DIR or tempfile.gettempdir()) / "spikesim-warm.lock"
    with tempfile.TemporaryDirectory(prefix="spikesim-warm-") as folder:
        if index:
            _compile_batched_timing()
        with _exclusive(lock):  # the first worker's draws and quantization, compiled once
            synth_trace(Path(folder) / "t", gemm=(6, 40, 24), seed=1)
            trace = spikesim.load_trace(Path(folder) / "t")
            if not index:
                _compile_quantization(trace)
        for preset in WARM_PRESETS[index]:
            spikesim.simulate(_hardware(preset), trace, ["spikequant"], cache=False)


def _compile_quantization(trace: Any) -> None:
    from spikesim.quant.kernels import rtn_weights, spikequant_rows

    layer = trace.layers[0]
    spikequant_rows(layer.activations(), 4, 8, 3.0)
    rtn_weights(layer.weights(), 4)


def _compile_batched_timing() -> None:
    import numpy as np

    from spikesim.dataflows.if_token_batched import kernel
    from spikesim.hw.params import array_params

    hw = _hardware("spikequant-45nm-batched")
    ap = array_params(hw, hw.quant.act_bits, hw.quant.salient_bits, 40)
    kernel.block_timing(np.ones((6, 40), np.int16), np.zeros((6, 40), bool), ap,
                        batch=hw.if_array.batch)


def _hardware(preset: str) -> Any:
    import spikesim

    return spikesim.load_hardware(ROOT / "hw_configs" / f"{preset}.yaml")


@contextlib.contextmanager
def _exclusive(path: Path) -> Iterator[None]:
    """Hold an exclusive lock on ``path`` (POSIX ``flock``; elsewhere no lock)."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not POSIX
        yield
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


@pytest.hookimpl(tryfirst=True)  # before `-m` deselects
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """In the slow run, every property test is selected too (with the full profile)."""
    if _slow_run(config):
        for item in items:
            if hasattr(getattr(item, "obj", None), "hypothesis"):
                item.add_marker(pytest.mark.slow)




@pytest.fixture
def repo_root() -> Path:
    return ROOT


@pytest.fixture
def default_hw_path() -> Path:
    return ROOT / "hw_configs" / "spikequant-45nm.yaml"

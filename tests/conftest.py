"""Test-wide settings: one thread per worker, a writable numba cache, offline hubs, no
remembered checksums on disk (tests/test_trace_format.py tests that cache with its own folder),
and the hypothesis profiles of the default and the slow run."""

from __future__ import annotations

import os
import tempfile

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
    the cache. A warm cache makes this a few tenths of a second; a single process (``-n0``)
    skips it."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    if not worker.startswith("gw") or os.environ.get("PYTEST_XDIST_WORKER_COUNT") in (None, "1"):
        return
    import spikesim
    from spikesim.trace import synth_trace

    share = WARM_PRESETS[int(worker[2:]) % len(WARM_PRESETS)]
    with tempfile.TemporaryDirectory(prefix="spikesim-warm-") as folder:
        synth_trace(Path(folder) / "t", gemm=(6, 40, 24), seed=1)
        trace = spikesim.load_trace(Path(folder) / "t")
        for preset in share:
            spikesim.simulate(spikesim.load_hardware(ROOT / "hw_configs" / f"{preset}.yaml"),
                              trace, ["spikequant"], cache=False)


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

""":class:`spikesim.hw.memo.ArrayMemo`: a hit returns what the miss computed, only read-only
arrays are remembered, the bytes held stay bounded; and the token-serial engine's statistics
from the memo equal a fresh kernel run for every layer of a sweep-like sequence of points."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from spikesim.config import load_hardware
from spikesim.dataflows.if_token_serial import engine
from spikesim.hw.memo import ArrayMemo
from spikesim.sim.counts import simulate_counts
from spikesim.trace import load_trace, synth_trace

ROOT = Path(__file__).resolve().parents[2]
HW = ROOT / "hw_configs" / "spikequant-45nm.yaml"


def frozen(a: np.ndarray) -> np.ndarray:
    a.setflags(write=False)
    return a


def test_a_hit_is_the_miss_and_writeable_arrays_are_not_remembered() -> None:
    memo = ArrayMemo(1 << 20)
    a, b = frozen(np.arange(8)), frozen(np.ones(8, bool))
    calls: list[int] = []

    def make() -> np.ndarray:
        calls.append(1)
        return np.array([len(calls)])

    first = memo.get(a, b, "k", make)
    assert memo.get(a, b, "k", make) is first
    assert len(calls) == 1
    assert not first.flags.writeable  # shared: read-only
    assert memo.get(a, b, "other", make)[0] == 2  # another key is another result
    c = np.arange(8)  # equal values but writeable: never remembered
    memo.get(c, b, "k", make)
    memo.get(c, b, "k", make)
    assert len(calls) == 4


def test_the_arrays_held_stay_within_the_bound() -> None:
    memo = ArrayMemo(4 * 800)
    pairs = [(frozen(np.zeros(50, np.int64)), frozen(np.zeros(50, np.int64)))
             for _ in range(6)]  # 800 bytes a pair
    for a, b in pairs:
        memo.get(a, b, 0, lambda: np.zeros(1))
        assert memo.nbytes <= memo.max_bytes
    assert memo.nbytes == 4 * 800
    n = memo.misses
    memo.get(*pairs[0], 0, lambda: np.zeros(1))  # the oldest went first
    memo.get(*pairs[-1], 0, lambda: np.zeros(1))
    assert memo.misses == n + 1
    big = frozen(np.zeros(200, np.int64))
    memo.get(big, big, 0, lambda: np.zeros(1))  # more than a quarter of the bound: not held
    assert all(p[0] is not big for p in memo._pairs.values())


def test_statistics_from_the_memo_equal_fresh_kernel_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Points that read the cached layers' read-only arrays and differ in fields the kernel
    reads or not (as a sweep's do): each point's tables equal those of a run without the
    memo; repeated points are served by it."""
    monkeypatch.delenv("SPIKESIM_NO_CACHE", raising=False)
    monkeypatch.setenv("SPIKESIM_CACHE", str(tmp_path / "cache"))
    synth_trace(tmp_path / "t", shape="smollm2-135m", tokens=8, seed=1)
    trace = load_trace(tmp_path / "t")
    simulate_counts(load_hardware(HW), trace, ["spikequant"])  # fills the cache
    engine.KERNEL_MEMO.clear()
    hits = engine.KERNEL_MEMO.hits
    for point in [{}, {"if_array.columns": 32}, {"if_array.lanes": 4},
                  {"if_array.columns": 32}, {"encoder.count": 2}, {}]:
        hw = load_hardware(HW, point)
        warm = simulate_counts(hw, trace, ["spikequant"])
        memo = engine.KERNEL_MEMO
        monkeypatch.setattr(engine, "KERNEL_MEMO", ArrayMemo(0))  # remembers nothing
        fresh = simulate_counts(hw, trace, ["spikequant"], cache=False)
        monkeypatch.setattr(engine, "KERNEL_MEMO", memo)
        pd.testing.assert_frame_equal(warm.layers, fresh.layers, check_exact=True)
        pd.testing.assert_frame_equal(warm.actions, fresh.actions, check_exact=True)
    assert engine.KERNEL_MEMO.hits > hits


def test_row_counts_are_count_nonzero() -> None:
    from spikesim.hw.memo import row_counts

    rng = np.random.default_rng(3)
    mask = rng.random((5, 7)) < 0.3
    want = np.count_nonzero(mask, axis=1).astype(np.int64)
    np.testing.assert_array_equal(row_counts(mask), want)  # writeable: counted each time
    frozen(mask)
    first = row_counts(mask)
    assert row_counts(mask) is first  # read-only: counted once
    np.testing.assert_array_equal(first, want)
    assert first.dtype == np.int64

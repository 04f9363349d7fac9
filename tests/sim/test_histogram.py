"""The |q| histogram kernel (spikesim.sim.histogram.magnitude_counts) equals its NumPy twin,
bit for bit; the layer column made in Arrow equals the one made from objects."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from spikesim.sim.histogram import magnitude_counts, magnitude_counts_numpy, repeated_strings

DTYPES = st.sampled_from([np.int8, np.int16, np.int32, np.int64])


@st.composite
def quantized(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray]:
    dtype = draw(DTYPES)
    rows, cols = draw(st.integers(0, 6)), draw(st.integers(0, 9))
    lim = int(min(np.iinfo(dtype).max, 300))
    x = draw(arrays(dtype, (rows, cols), elements=st.integers(-lim, lim)))
    mask = draw(arrays(np.bool_, (rows, cols)))
    return x, mask


@given(quantized())
def test_kernel_equals_numpy_twin(case: tuple[np.ndarray, np.ndarray]) -> None:
    x, mask = case
    fast = magnitude_counts(x, mask)
    twin = magnitude_counts_numpy(x, mask)
    for a, b in zip(fast, twin, strict=True):
        assert a.dtype == b.dtype == np.int64
        np.testing.assert_array_equal(a, b)


def test_non_contiguous_and_extremes() -> None:
    x = np.array([[-128, 127, 0, -1], [5, -5, 3, 3]], np.int8)[:, ::2]
    mask = np.array([[True, False, True, True], [False, True, False, True]])[:, ::2]
    for a, b in zip(magnitude_counts(x, mask), magnitude_counts_numpy(x, mask), strict=True):
        np.testing.assert_array_equal(a, b)
    normal, salient = magnitude_counts(x, mask)
    assert salient[128] == 1
    assert normal[5] == 1


def test_layers_sharing_read_only_arrays_count_them_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """q/k/v_proj read one read-only quantization: the second layer's histogram reuses the
    first's counts (equal to a fresh count); writable arrays, or other arrays, are counted."""
    from dataclasses import replace

    import spikesim.sim.histogram as histogram
    from spikesim.quant.layer import Method, QuantizedLayer

    rng = np.random.default_rng(5)
    x_q = rng.integers(-40, 41, size=(6, 32)).astype(np.int16)
    salient = rng.random((6, 32)) < 0.1
    q = QuantizedLayer(
        name="q", op="linear", x_q=x_q, salient=salient, x_scale=np.ones(6, np.float32),
        w_q=np.zeros((4, 32), np.int8), w_scale=np.ones(4, np.float32), output_scale=1.0,
        act_bits=4, salient_bits=8, weight_bits=4, output_bits=8, method=Method.SPIKEQUANT,
    )
    calls: list[int] = []
    counting = histogram.magnitude_counts

    def spy(a: np.ndarray, m: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        calls.append(1)
        return counting(a, m)

    monkeypatch.setattr(histogram, "magnitude_counts", spy)
    monkeypatch.setattr(histogram, "_LAST", histogram._LastCounts())
    writable = [histogram.layer_histogram_arrays(n, q) for n in ("q", "k")]
    assert len(calls) == 2
    x_q.setflags(write=False)
    salient.setflags(write=False)
    shared = [histogram.layer_histogram_arrays(n, replace(q, name=n)) for n in ("q", "k", "v")]
    assert len(calls) == 3
    for got in [*writable[1:], *shared]:
        for a, b in zip(got[1:], writable[0][1:], strict=True):
            assert np.array_equal(a, b)
    other = replace(q, x_q=x_q.copy())
    histogram.layer_histogram_arrays("o", other)
    assert len(calls) == 4


@given(st.lists(st.tuples(st.text(max_size=12), st.integers(0, 5)), max_size=20))
def test_repeated_strings_equal_the_object_column(pairs: list[tuple[str, int]]) -> None:
    """The layer column made in Arrow == the one made from Python objects (dtype, values)."""
    names = [name for name, _ in pairs]
    counts = np.array([count for _, count in pairs], np.int64)
    want = pd.Series(np.repeat(np.array(names, dtype=object), counts), dtype="str")
    got = repeated_strings(names, counts)
    assert got.dtype == want.dtype
    pd.testing.assert_series_equal(got, want)

"""The |q| histogram kernel (spikesim.sim.histogram.magnitude_counts) equals its NumPy twin,
bit for bit."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from spikesim.sim.histogram import magnitude_counts, magnitude_counts_numpy

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

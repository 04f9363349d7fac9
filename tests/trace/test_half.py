"""Rounding float32 to float16 values in place (spikesim.trace.half) == NumPy's
``astype(float16).astype(float32)``, bit for bit: boundaries and random patterns here, every
float32 bit pattern in the slow run."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from spikesim.trace.half import (
    FLOAT16_MAX,
    clip_round_to_float16,
    round_to_float16,
    round_to_float16_twin,
)


def twin_bits(u: np.ndarray) -> np.ndarray:
    with np.errstate(all="ignore"):  # NumPy flags overflow/underflow; the values are the point
        return round_to_float16_twin(u.view(np.float32)).view(np.uint32)


def kernel_bits(u: np.ndarray) -> np.ndarray:
    return round_to_float16(u.view(np.float32).copy()).view(np.uint32)


def edges() -> np.ndarray:
    """Bit patterns around every boundary of the conversion: zeros, float32 subnormals, the
    float16 subnormal range and its ties (2^-25, 2^-24, odd/even multiples ± 1 ulp), 2^-14, the
    top of the finite range (65504, the tie 65520, 65536), inf, NaNs with payloads."""
    ties = np.array([m * 2.0**-25 for m in range(2100)] + [2.0**-14, 2.0**-15,
                    65504.0, 65519.996, 65520.0, 65535.99, 65536.0, 1e9, 1.0, 1.5, 2049.0],
                    np.float32).view(np.uint32)
    near = np.concatenate([ties - 1, ties, ties + 1]).astype(np.uint32)
    special = np.array([0, 1, 0x007FFFFF, 0x00800000, 0x33000000, 0x32FFFFFF, 0x33000001,
                        0x387FFFFF, 0x38800000, 0x477FEFFF, 0x477FF000, 0x477FF001, 0x47800000,
                        0x7F7FFFFF, 0x7F800000, 0x7F800001, 0x7F801FFF, 0x7F802000, 0x7FC00000,
                        0x7FFFFFFF, 0x7FE01234], np.uint32)
    both = np.concatenate([near, special])
    return np.concatenate([both, both | np.uint32(0x80000000)])


def test_edges_equal_numpy() -> None:
    u = edges()
    assert np.array_equal(kernel_bits(u), twin_bits(u))


@given(st.lists(st.integers(0, 2**32 - 1), min_size=1, max_size=200))
def test_random_patterns_equal_numpy(patterns: list[int]) -> None:
    u = np.array(patterns, np.uint32)
    assert np.array_equal(kernel_bits(u), twin_bits(u))


@given(st.lists(st.floats(width=32, allow_nan=False), min_size=1, max_size=100))
def test_clip_round_never_infinite(values: list[float]) -> None:
    x = np.array(values, np.float32)
    want = np.clip(x, -FLOAT16_MAX, FLOAT16_MAX).astype(np.float16).astype(np.float32)
    got = clip_round_to_float16(x.copy())
    assert np.array_equal(got.view(np.uint32), want.view(np.uint32))
    assert np.isfinite(got).all()


def test_rounds_in_place_and_refuses_other_arrays() -> None:
    x = np.array([[0.1, 70000.0]], np.float32)
    assert round_to_float16(x) is x
    assert x[0, 0] == np.float32(np.float16(0.1))
    assert np.isinf(x[0, 1])
    for bad in (np.zeros(3), np.zeros((4, 4), np.float32)[:, ::2]):
        with pytest.raises(ValueError, match="C-contiguous float32"):
            round_to_float16(bad)
    ro = np.zeros(3, np.float32)
    ro.flags.writeable = False
    with pytest.raises(ValueError, match="writable"):
        round_to_float16(ro)


FULL_EXPONENTS = (*range(101, 115), 141, 142, 143, 255)
"""Biased float32 exponents checked on every mantissa: around 2^-25 (below: zero), the float16
subnormals up to the first normal binade (2^-14), the top binades (65,504, the tie at 65,520,
infinity from 65,536) and inf/NaN."""


@pytest.mark.slow  # ~20 s: NumPy's conversion takes 20-100 ns per random pattern
def test_float32_patterns_equal_numpy() -> None:
    """Every pattern of :data:`FULL_EXPONENTS` (both signs) and every 61st of all 2^32."""
    mantissas = np.arange(1 << 23, dtype=np.uint32)
    for sign in (0, 0x80000000):
        for e in FULL_EXPONENTS:
            u = mantissas | np.uint32(sign | (e << 23))
            assert np.array_equal(kernel_bits(u), twin_bits(u)), hex(sign | (e << 23))
    step = 61 << 22
    for start in range(0, 1 << 32, step):
        u = np.arange(start, min(start + step, 1 << 32), 61, dtype=np.uint64).astype(np.uint32)
        assert np.array_equal(kernel_bits(u), twin_bits(u)), hex(start)

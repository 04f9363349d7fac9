"""IF-array functional truth: BLAS fast path == int64 twin; fire rule == re-quantized output."""

from __future__ import annotations

import dataclasses

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from spikesim.config.quant import QuantConfig
from spikesim.hw.functional import functional_outputs, reference_outputs
from spikesim.hw.params import ArrayParams, PassParams
from spikesim.quant.layer import quantize_layer


def params(acc_bits: int, reset_zero: bool, half: bool, fire_cycles: int = 7) -> ArrayParams:
    p = PassParams(0, 4, 7, 3, 16)
    return ArrayParams(8, 8, acc_bits, 4, 1, 2, fire_cycles, reset_zero, half, 8, p, p)


@given(
    seed=st.integers(0, 2**32 - 1),
    acc_bits=st.integers(6, 30),
    reset_zero=st.booleans(),
    half=st.booleans(),
    m=st.integers(1, 20),
    k=st.integers(1, 64),
    n=st.integers(1, 20),
)
def test_fast_functional_equals_integer_twin(
    seed: int, acc_bits: int, reset_zero: bool, half: bool, m: int, k: int, n: int
) -> None:
    rng = np.random.default_rng(seed)
    x = rng.standard_t(3, (m, k)).astype(np.float32)
    w = rng.normal(0, 0.1, (n, k)).astype(np.float32)
    layer = quantize_layer("l", "op", x, w, QuantConfig(mad_k=3.0))
    ap = params(acc_bits, reset_zero, half)
    theta = layer.threshold_fx(ap.frac_bits)
    ref_y, ref_ovf = reference_outputs(layer.x_q, layer.w_q, theta, ap)
    fast = functional_outputs(layer, ap, chunk_tokens=7, keep_outputs=True)
    assert fast.outputs is not None
    np.testing.assert_array_equal(fast.outputs, ref_y)
    assert fast.overflow_events == int(ref_ovf.sum())
    assert fast.output_spikes == int(np.abs(ref_y).sum())


def test_output_spikes_are_the_requantized_output() -> None:
    """Without overflow, ȳ = clip(round(y / s_y)) up to the fixed-point threshold's rounding."""
    rng = np.random.default_rng(0)
    x = rng.standard_t(4, (64, 128)).astype(np.float32)
    w = rng.normal(0, 0.05, (32, 128)).astype(np.float32)
    layer = quantize_layer("l", "op", x, w, QuantConfig())
    ap = dataclasses.replace(params(40, False, True), frac_bits=16)
    got = functional_outputs(layer, ap, keep_outputs=True).outputs
    acc = layer.x_q.astype(np.float64) @ layer.w_q.astype(np.float64).T
    y = acc * layer.x_scale[:, None] * layer.w_scale[None, :]
    want = np.clip(np.rint(y / layer.output_scale), -7, 7)
    assert got is not None
    mismatch = got != want
    # only values within a rounding hair of a .5 boundary may differ (θ is fixed point)
    frac = np.abs(y / layer.output_scale) % 1.0
    assert np.all(np.abs(frac[mismatch] - 0.5) < 1e-3)
    assert mismatch.mean() < 0.01


def test_overflow_is_counted_and_wraps() -> None:
    x_q = np.full((1, 100), 7, np.int16)
    w_q = np.full((2, 100), 7, np.int8)
    ap = params(8, False, False)
    y, ovf = reference_outputs(x_q, w_q, np.ones((1, 2), np.int64), ap)
    assert ovf.all()  # 4900 does not fit 8 bits
    # 4900 mod 256 = 36 -> fires min(36 * 2^8 / 1, 7) = 7 spikes on the wrapped value
    np.testing.assert_array_equal(y, [[7, 7]])


@given(
    seed=st.integers(0, 2**32 - 1),
    limit=st.sampled_from([2**8, 2**10, 2**12, 2**24]),
    m=st.integers(1, 12),
    k=st.integers(1, 48),
    n=st.integers(1, 12),
)
def test_exact_matmul(seed: int, limit: int, m: int, k: int, n: int) -> None:
    """Small float32 limits force the float64 fallback for some tokens."""
    from spikesim.hw.functional import exact_matmul

    rng = np.random.default_rng(seed)
    x = rng.integers(-32767, 32768, (m, k)).astype(np.int16)
    x[rng.random((m, k)) < 0.7] = rng.integers(-7, 8)
    w = rng.integers(-7, 8, (n, k)).astype(np.int8)
    got = exact_matmul(x, w, w.astype(np.float32), limit)
    np.testing.assert_array_equal(got, x.astype(np.int64) @ w.astype(np.int64).T)


def test_functional_split_path_equals_twin() -> None:
    rng = np.random.default_rng(3)
    x = rng.standard_t(2, (40, 64)).astype(np.float32)
    w = rng.normal(0, 0.1, (24, 64)).astype(np.float32)
    layer = quantize_layer("l", "op", x, w, QuantConfig(mad_k=3.0, salient_bits=16))
    ap = params(30, False, True)
    want, ovf = reference_outputs(layer.x_q, layer.w_q, layer.threshold_fx(ap.frac_bits), ap)
    for limit in (2**9, 2**24):
        fast = functional_outputs(layer, ap, keep_outputs=True, exact_limit=limit)
        assert fast.outputs is not None
        np.testing.assert_array_equal(fast.outputs, want)
        assert fast.overflow_events == int(ovf.sum())

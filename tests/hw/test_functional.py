"""IF-array functional truth: BLAS fast path == int64 twin; fire rule == re-quantized output."""

from __future__ import annotations

import dataclasses

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from spikesim._jit import kernel_input
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


def fire_block_twin(y: np.ndarray, check: np.ndarray, sx: np.ndarray, sw: np.ndarray,
                    s_y: float, frac_bits: int, acc_bits: int, fire_cycles: int,
                    reset_zero: bool, half: bool) -> tuple[int, int, np.ndarray]:
    """The fused fire pass in NumPy int64: wrap and count overflow on checked rows, θ as
    threshold_fx, count = min(a // θ, fire_cycles) (or a ≥ θ), signed like v."""
    v = y.astype(np.int64)
    lo, hi = -(1 << (acc_bits - 1)), (1 << (acc_bits - 1)) - 1
    rows = check[:, None]
    overflow = int((rows & ((v < lo) | (v > hi))).sum())
    v = np.where(rows, ((v - lo) & ((1 << acc_bits) - 1)) + lo, v)
    ratio = s_y / (sx.astype(np.float64)[:, None] * sw.astype(np.float64)[None, :])
    theta = np.maximum(1.0, np.rint(np.minimum(ratio * float(1 << frac_bits), 2.0**62)))
    theta = theta.astype(np.int64)
    a = np.abs(v) << frac_bits
    if half:
        a += theta // 2
    cnt = (a >= theta).astype(np.int64) if reset_zero else np.minimum(a // theta, fire_cycles)
    return int(cnt.sum()), overflow, np.where(v > 0, cnt, -cnt)


@given(
    seed=st.integers(0, 2**32 - 1),
    m=st.integers(1, 6),
    n=st.integers(1, 40),
    magnitude=st.integers(0, 40),
    frac_bits=st.integers(0, 20),
    acc_bits=st.integers(4, 41),
    fire_cycles=st.sampled_from([1, 7, 255, 2**20, 2**40]),
    reset_zero=st.booleans(),
    half=st.booleans(),
    log_s_y=st.floats(-30, 60),
)
def test_fire_block_equals_integer_twin(seed: int, m: int, n: int, magnitude: int,
                                        frac_bits: int, acc_bits: int, fire_cycles: int,
                                        reset_zero: bool, half: bool, log_s_y: float) -> None:
    """The fused pass over a matmul block == its int64 twin for thresholds from 1 to 2^62 and
    accumulations past 2^53 (the float64 division's exactness limit, where the kernel divides
    in integers), large fire_cycles (uncapped counts), checked and unchecked rows."""
    from spikesim.hw.functional import _fire_block

    rng = np.random.default_rng(seed)
    y = rng.integers(-(2**magnitude), 2**magnitude + 1, (m, n), dtype=np.int64)
    check = rng.random(m) < 0.5
    sx = rng.lognormal(0.0, 3.0, m).astype(np.float32)
    sw = rng.lognormal(0.0, 3.0, n).astype(np.float32)
    s_y = float(2.0**log_s_y)
    want = fire_block_twin(y, check, sx, sw, s_y, frac_bits, acc_bits, fire_cycles,
                           reset_zero, half)
    out = np.zeros((m, n), np.int64)
    spikes, overflow = _fire_block(y, check, kernel_input(sx), kernel_input(sw), s_y,
                                   frac_bits, acc_bits, fire_cycles, reset_zero, half, out,
                                   True)
    assert (spikes, overflow) == want[:2]
    np.testing.assert_array_equal(out, want[2])


def test_fire_block_divides_in_integers_past_float_exactness() -> None:
    """a = 264580585409063030 over θ = 891944: a float64 quotient rounds up to the next
    integer (a is not exact in float64); the kernel's integer division does not."""
    from spikesim.hw.functional import _fire_block

    a, theta = 264580585409063030, 891944
    assert int(np.float64(a) / np.float64(theta)) != a // theta
    y = np.array([[a, -a]], np.int64)
    out = np.zeros((1, 2), np.int64)
    one = kernel_input(np.ones(1, np.float32))
    spikes, _ = _fire_block(y, np.zeros(1, np.bool_), one, kernel_input(np.ones(2, np.float32)),
                            float(theta), 0, 62, 2**62, False, False, out, True)
    assert spikes == 2 * (a // theta)
    np.testing.assert_array_equal(out, [[a // theta, -(a // theta)]])

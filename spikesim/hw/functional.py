"""Functional truth of the IF array: the output spike counts it produces from the integers.

Integration of every coding (count, bit-serial, TTFS ramp) leaves the membrane at
V = Σ_i x̄_t,i · w̄_j,i computed in ``acc_bits`` two's-complement arithmetic. Additions modulo
2^acc_bits commute, so V is the exact sum wrapped into range whatever the event order; an output
whose exact sum lies outside [-2^(b-1), 2^(b-1)-1] is an **overflow event** (its V is wrong).

Fire phase (``fire_cycles`` = 2^(b_out-1)-1 compare cycles), with θ in fixed point (f bits)::

    a = |V| · 2^f + (θ_fx // 2 if initial_membrane is half_threshold else 0)
    subtract reset: n = min(a // θ_fx, fire_cycles)       (one spike per cycle, a -= θ_fx)
    zero reset:     n = 1 if a >= θ_fx else 0
    ȳ = sgn(V) · n

So the output spike count is the re-quantized output round(y / s_y) (or floor), clipped to
b_out bits, with no dequantization multiply.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from spikesim._jit import kernel_input, njit
from spikesim.hw.intgemm import FLOAT32_EXACT, ExactGemm
from spikesim.hw.params import ArrayParams
from spikesim.quant.layer import QuantizedLayer


def wrap(v: NDArray[np.int64], bits: int) -> NDArray[np.int64]:
    """Two's-complement wrap of int64 values into ``bits`` bits."""
    lo = -(1 << (bits - 1))
    return ((v - lo) & ((1 << bits) - 1)) + lo


def overflowed(v: NDArray[np.int64], bits: int) -> NDArray[np.bool_]:
    lo, hi = -(1 << (bits - 1)), (1 << (bits - 1)) - 1
    return (v < lo) | (v > hi)


def fire(v: NDArray[np.int64], theta_fx: NDArray[np.int64], ap: ArrayParams) -> NDArray[np.int64]:
    """Signed output spike counts for wrapped membranes ``v`` and thresholds ``theta_fx``."""
    a = np.abs(v) << ap.frac_bits
    if ap.half_init:
        a = a + theta_fx // 2
    if ap.reset_zero:
        n = (a >= theta_fx).astype(np.int64)
    else:
        n = np.minimum(a // theta_fx, ap.fire_cycles)
    return np.sign(v) * n


def reference_outputs(
    x_q: NDArray[np.integer],
    w_q: NDArray[np.integer],
    theta_fx: NDArray[np.int64],
    ap: ArrayParams,
) -> tuple[NDArray[np.int64], NDArray[np.bool_]]:
    """Twin: integer matmul in int64, wrap, fire. Returns (ȳ [M, N], overflow [M, N])."""
    exact = np.asarray(x_q, np.int64) @ np.asarray(w_q, np.int64).T
    return fire(wrap(exact, ap.acc_bits), theta_fx, ap), overflowed(exact, ap.acc_bits)


def exact_matmul(
    x_q: NDArray[np.integer],
    w_q: NDArray[np.integer],
    w_f32: NDArray[np.float32],
    exact_limit: int = FLOAT32_EXACT,
) -> NDArray[np.int64]:
    """x_q @ w_q.T exactly, through float32 BLAS (the path before :mod:`spikesim.hw.intgemm`;
    kept as the benchmark's "old" column and for callers of this name).

    Every partial sum of token t's dot products is bounded by max|w| · Σ_i |x_t,i| (its L1
    norm), so float32 is exact for every token whose bound stays below 2^24 — in practice all
    of them, even with 16-bit salient values. The rare token beyond it is recomputed in float64
    (exact below 2^53) or, beyond that, in int64. ``w_f32`` is ``w_q`` as float32 ([N, K],
    converted once per layer); ``exact_limit`` exists for tests (a small one forces the
    fallback paths).
    """
    x = np.asarray(x_q)
    w_max = int(np.abs(w_q).max(initial=0))
    bound = np.abs(x, dtype=np.int64).sum(axis=1) * w_max
    y = (x.astype(np.float32) @ w_f32.T).astype(np.int64)
    wide = np.flatnonzero(bound >= exact_limit)
    if wide.size:
        if int(bound[wide].max()) < 2**53:
            part = x[wide].astype(np.float64) @ np.asarray(w_q, np.float64).T
            y[wide] = part.astype(np.int64)
        else:  # pragma: no cover - needs sums beyond 2^53
            y[wide] = x[wide].astype(np.int64) @ np.asarray(w_q, np.int64).T
    return y


@dataclass(frozen=True, slots=True)
class FunctionalTotals:
    """Value-dependent counts of one layer: output spikes (Σ|ȳ|) and overflow events."""

    output_spikes: int
    overflow_events: int
    outputs: NDArray[np.int64] | None


FLOAT_FLOOR_LIMIT = 1 << 53
"""a // θ equals floor(a / θ) computed in float64 whenever a + θ < 2^53 (both then exact, and
a non-integer quotient lies at least 1/θ below the next integer, more than half its ulp)."""


@njit
def _fire_block(
    y: np.ndarray,
    check: np.ndarray,
    sx: np.ndarray,
    sw: np.ndarray,
    s_y: float,
    frac_bits: int,
    acc_bits: int,
    fire_cycles: int,
    reset_zero: bool,
    half_init: bool,
    out: np.ndarray,
    keep: bool,
) -> tuple[int, int]:
    """Fused wrap → overflow → threshold → fire over an exact-integer matmul block ``y``
    (float32, int32 or int64 holding exact integers). Only tokens with ``check[t]`` can overflow
    (their bound does not exclude it); the others skip the wrap and the overflow test.

    θ_t,j = max(1, rint(min(s_y / (s_x,t · s_w,j) · 2^f, 2^62))) as :meth:`threshold_fx`; the
    spike count a // θ of a = |v|·2^f (+ θ//2) is taken as a float64 division where that is
    exact (:data:`FLOAT_FLOOR_LIMIT`; the integer division costs several times more)."""
    m, n = y.shape
    lo = -(1 << (acc_bits - 1))
    hi = (1 << (acc_bits - 1)) - 1
    mask = (1 << acc_bits) - 1
    scale = float(1 << frac_bits)
    sw64 = np.empty(n, np.float64)
    for j in range(n):
        sw64[j] = np.float64(sw[j])
    th_row = np.empty(n, np.float64)
    spikes = 0
    overflow = 0
    for t in range(m):
        sxt = np.float64(sx[t])
        chk = check[t]
        for j in range(n):  # the row's thresholds first: a branch-free loop (vectorised)
            th_row[j] = max(1.0, np.rint(min(s_y / (sxt * sw64[j]) * scale, 2.0**62)))
        for j in range(n):
            v = np.int64(y[t, j])
            if chk:
                if v < lo or v > hi:
                    overflow += 1
                v = ((v - lo) & mask) + lo
            th = th_row[j]
            theta = np.int64(th)
            a = (v if v >= 0 else -v) << frac_bits
            if half_init:
                a += theta >> 1
            if reset_zero:
                cnt = np.int64(1) if a >= theta else np.int64(0)
            else:
                if theta < FLOAT_FLOOR_LIMIT and a < FLOAT_FLOOR_LIMIT - theta:
                    cnt = np.int64(np.float64(a) / th)
                else:
                    cnt = np.int64(a // theta)
                if cnt > fire_cycles:
                    cnt = np.int64(fire_cycles)
            spikes += int(cnt)
            if keep:
                out[t, j] = cnt if v > 0 else -cnt
    return spikes, overflow


def functional_outputs(
    layer: QuantizedLayer,
    ap: ArrayParams,
    *,
    chunk_tokens: int = 512,
    keep_outputs: bool = False,
    exact_limit: int = FLOAT32_EXACT,
    backend: str = "auto",
) -> FunctionalTotals:
    """Fast path: exact matmul over token chunks (bounded memory; :class:`ExactGemm`, float32
    BLAS or an int8 GEMM), then one fused numba pass (wrap, overflow, θ, fire) in which only the
    tokens whose bound Σ_i |x̄_t,i|·max_j |w̄_j,i| reaches 2^(acc_bits-1) are checked for overflow.
    Twin: :func:`reference_outputs` with ``threshold_fx``. ``exact_limit``: see exact_matmul;
    ``backend``: see :mod:`spikesim.hw.intgemm`. Totals found in the layer's
    ``functional_memo`` under ``ap.functional_key()`` are returned as they are (nothing is
    computed), and computed ones are put there (not with ``keep_outputs``)."""
    memo = None if keep_outputs else layer.functional_memo
    memo_key = ap.functional_key()
    if memo is not None:
        known = memo.get(memo_key)
        if known is not None:
            return FunctionalTotals(known[0], known[1], None)
    m = layer.tokens
    spikes = 0
    overflow = 0
    outs = np.zeros((m, layer.n), np.int64) if keep_outputs else np.zeros((1, 1), np.int64)
    gemm = ExactGemm(layer.w_q, backend, exact_limit, tokens=m)
    hi = (1 << (ap.acc_bits - 1)) - 1
    x_scale, w_scale = kernel_input(layer.x_scale), kernel_input(layer.w_scale)
    for t0 in range(0, m, chunk_tokens):
        t1 = min(m, t0 + chunk_tokens)
        y, bound = gemm(layer.x_q[t0:t1])
        s, o = _fire_block(
            y, bound > hi, x_scale[t0:t1], w_scale, float(layer.output_scale),
            ap.frac_bits, ap.acc_bits, ap.fire_cycles, ap.reset_zero, ap.half_init,
            outs[t0:t1] if keep_outputs else outs, keep_outputs,
        )
        spikes += int(s)
        overflow += int(o)
    if memo is not None:
        memo[memo_key] = (spikes, overflow)
    return FunctionalTotals(spikes, overflow, outs if keep_outputs else None)

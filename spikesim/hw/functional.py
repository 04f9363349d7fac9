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
    n = (a >= theta_fx).astype(np.int64) if ap.reset_zero else np.minimum(a // theta_fx, ap.fire_cycles)
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


def exact_matmul(x_q: NDArray[np.integer], w_q: NDArray[np.integer]) -> NDArray[np.int64]:
    """x_q @ w_q.T exactly, through BLAS: float32 when every partial sum stays below 2^24
    (Σ_i |x||w| bound), float64 (exact below 2^53) otherwise."""
    k = x_q.shape[1]
    bound = float(np.abs(x_q).max(initial=0)) * float(np.abs(w_q).max(initial=0)) * k
    if bound < 2.0**24:
        dtype: type[np.floating] = np.float32
    elif bound < 2.0**53:
        dtype = np.float64
    else:  # pragma: no cover - needs >2^53 sums
        return np.asarray(x_q, np.int64) @ np.asarray(w_q, np.int64).T
    y = np.asarray(x_q, dtype) @ np.asarray(w_q, dtype).T
    return y.astype(np.int64)


@dataclass(frozen=True, slots=True)
class FunctionalTotals:
    """Value-dependent counts of one layer: output spikes (Σ|ȳ|) and overflow events."""

    output_spikes: int
    overflow_events: int
    outputs: NDArray[np.int64] | None


def functional_outputs(
    layer: QuantizedLayer,
    ap: ArrayParams,
    *,
    chunk_tokens: int = 512,
    keep_outputs: bool = False,
) -> FunctionalTotals:
    """Fast path: BLAS matmul over token chunks (bounded memory), wrap, fire, count."""
    m = layer.tokens
    spikes = 0
    overflow = 0
    outs = np.empty((m, layer.n), np.int64) if keep_outputs else None
    for t0 in range(0, m, chunk_tokens):
        t1 = min(m, t0 + chunk_tokens)
        exact = exact_matmul(np.asarray(layer.x_q[t0:t1]), layer.w_q)
        theta = layer.threshold_fx(ap.frac_bits, slice(t0, t1))
        y = fire(wrap(exact, ap.acc_bits), theta, ap)
        spikes += int(np.abs(y).sum())
        overflow += int(overflowed(exact, ap.acc_bits).sum())
        if outs is not None:
            outs[t0:t1] = y
    return FunctionalTotals(spikes, overflow, outs)

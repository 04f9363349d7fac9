"""SpikeQuant activations: per-token MAD saliency, one shared scale, wider salient values.

For each token (row) x_t of a layer's input (our reconstruction of arXiv 2510.19498, see
``shared/reference/spikequant-notes.md`` section 1.3; every choice is a knob in QuantConfig)::

    med_t = median_i x_t,i          MAD_t = median_i |x_t,i - med_t|
    salient(t, i)  <=>  |x_t,i - med_t| > k · MAD_t                     (k = quant.mad_k)
    s_t = max_{i not salient} |x_t,i| / (2^(b_a-1) - 1)                  (scale from normal values)
    x̄_t,i = clip(round(x_t,i / s_t), ±(2^(b_a-1)-1))   if not salient
    x̄_t,i = clip(round(x_t,i / s_t), ±(2^(b_s-1)-1))   if salient      (same scale, more range)

A token whose MAD is zero flags nothing (a constant row has no outliers). A token whose normal
values are all zero takes its scale from the salient values at b_s bits; a token whose scale would
be zero (all zeros, or float32 underflow) gets 1.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from spikesim.quant.rtn import int_dtype, qmax


def mad_salient_mask(x: NDArray[np.floating], mad_k: float) -> NDArray[np.bool_]:
    """Salient mask [M, K]: |x - median| > mad_k · MAD per row (plain MAD, not 1.4826-scaled)."""
    x = np.asarray(x, dtype=np.float32)
    med = np.median(x, axis=1, keepdims=True)
    dev = np.abs(x - med)
    mad = np.median(dev, axis=1, keepdims=True)
    return (dev > mad_k * mad) & (mad > 0)


def spikequant_activations(
    x: NDArray[np.floating], act_bits: int, salient_bits: int, mad_k: float
) -> tuple[NDArray[np.signedinteger], NDArray[np.float32], NDArray[np.bool_]]:
    """Quantize activations ``x`` [M, K]; returns ``(x_q, x_scale, salient)``.

    ``x_q`` holds normal and salient integers together (dtype wide enough for b_s bits),
    ``x_scale`` float32 [M] is the one scale per token, ``salient`` bool [M, K] the MAD mask.
    """
    x = np.asarray(x, dtype=np.float32)
    salient = mad_salient_mask(x, mad_k)
    q_a, q_s = qmax(act_bits), qmax(salient_bits)
    abs_x = np.abs(x)
    normal_step = np.max(np.where(salient, np.float32(0), abs_x), axis=1) / np.float32(q_a)
    salient_step = np.max(abs_x, axis=1) / np.float32(q_s)
    scale = np.where(
        normal_step > 0,
        normal_step,
        np.where(salient_step > 0, salient_step, np.float32(1.0)),
    ).astype(np.float32)
    r = np.rint(x / scale[:, None])
    limit = np.where(salient, q_s, q_a)
    x_q = np.clip(r, -limit, limit).astype(int_dtype(salient_bits))
    return x_q, scale, salient

"""Round-to-nearest symmetric integer quantization (weights per channel, activations per token).

For b bits the integer range is symmetric, [-(2^(b-1)-1), 2^(b-1)-1] (no -2^(b-1), so a sign and a
magnitude of b-1 bits describe every value, which is what spike codings need).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray


def qmax(bits: int) -> int:
    """Largest magnitude of a symmetric signed b-bit integer: 2^(b-1) - 1."""
    return (1 << (bits - 1)) - 1


def int_dtype(bits: int) -> type[np.signedinteger]:
    """Smallest NumPy signed integer dtype holding symmetric b-bit values."""
    if bits <= 8:
        return np.int8
    if bits <= 16:
        return np.int16
    return np.int32


def group_bounds(k: int, group_size: int | None) -> list[tuple[int, int]]:
    """Column ranges [a, b) of consecutive groups of ``group_size`` (one group when None)."""
    if group_size is None or k == 0:
        return [(0, k)]
    return [(a, min(k, a + group_size)) for a in range(0, k, group_size)]


def quantize_rows(
    x: NDArray[np.floating], bits: int, group_size: int | None = None, clip: float = 1.0
) -> tuple[NDArray[np.signedinteger], NDArray[np.float32]]:
    """Symmetric RTN per row, or per group of ``group_size`` columns of a row.

    Returns ``(q, scale)``: ``q`` [R, K], ``scale`` float32 [R, groups] with
    s = clip · max|x| / (2^(b-1)-1) over the row or group; an s that would be zero (all zeros,
    or a float32 underflow) is 1.
    """
    x = np.asarray(x, dtype=np.float32)
    rows, k = x.shape
    bounds = group_bounds(k, group_size)
    q = np.zeros((rows, k), dtype=int_dtype(bits))
    scale = np.ones((rows, len(bounds)), dtype=np.float32)
    qm = qmax(bits)
    for g, (a, b) in enumerate(bounds):
        if b <= a:
            continue
        step = np.max(np.abs(x[:, a:b]), axis=1) * np.float32(clip) / np.float32(qm)
        s = np.where(step > 0, step, np.float32(1.0)).astype(np.float32)
        scale[:, g] = s
        q[:, a:b] = np.clip(np.rint(x[:, a:b] / s[:, None]), -qm, qm)
    return q, scale


def quantize_weights(
    w: NDArray[np.floating], bits: int, group_size: int | None = None
) -> tuple[NDArray[np.int8], NDArray[np.float32]]:
    """Symmetric RTN of weights ``w`` [N, K] (nn.Linear layout).

    Returns ``(w_q, w_scale)``: ``w_q`` int8 [N, K] with w ≈ w_q · s, ``w_scale`` float32 [N]
    (one scale per output channel) or [N, ceil(K/group_size)] with groups along K.
    s = max|w| / (2^(b-1)-1) over the channel (or group); a channel whose s would be zero (all
    zeros, or a float32 underflow) gets s = 1.
    """
    if bits > 8:
        raise ValueError("weights wider than 8 bits are not supported")
    w_q, scale = quantize_rows(w, bits, group_size)
    return w_q.astype(np.int8), (scale[:, 0] if group_size is None else scale)


def quantize_activations(
    x: NDArray[np.floating], bits: int
) -> tuple[NDArray[np.signedinteger], NDArray[np.float32]]:
    """Per-token symmetric RTN of activations ``x`` [M, K]: returns ``(x_q, x_scale)``.

    s_t = max_i |x_t,i| / (2^(b-1)-1); a token whose s_t would be zero gets s_t = 1.
    """
    x_q, scale = quantize_rows(x, bits)
    return x_q, scale[:, 0]

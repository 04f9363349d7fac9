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
    w = np.asarray(w, dtype=np.float32)
    n, k = w.shape
    q = qmax(bits)
    if group_size is None:
        step = np.max(np.abs(w), axis=1) / np.float32(q)
        scale = np.where(step > 0, step, np.float32(1.0)).astype(np.float32)
        w_q = np.clip(np.rint(w / scale[:, None]), -q, q).astype(np.int8)
        return w_q, scale
    groups = -(-k // group_size)
    pad = groups * group_size - k
    wp = np.pad(w, ((0, 0), (0, pad))).reshape(n, groups, group_size)
    step = np.max(np.abs(wp), axis=2) / np.float32(q)
    scale = np.where(step > 0, step, np.float32(1.0)).astype(np.float32)
    w_q = np.clip(np.rint(wp / scale[:, :, None]), -q, q).astype(np.int8)
    return w_q.reshape(n, groups * group_size)[:, :k], scale


def quantize_activations(
    x: NDArray[np.floating], bits: int
) -> tuple[NDArray[np.signedinteger], NDArray[np.float32]]:
    """Per-token symmetric RTN of activations ``x`` [M, K]: returns ``(x_q, x_scale)``.

    s_t = max_i |x_t,i| / (2^(b-1)-1); a token whose s_t would be zero gets s_t = 1.
    """
    x = np.asarray(x, dtype=np.float32)
    q = qmax(bits)
    step = np.max(np.abs(x), axis=1) / np.float32(q)
    scale = np.where(step > 0, step, np.float32(1.0)).astype(np.float32)
    x_q = np.clip(np.rint(x / scale[:, None]), -q, q).astype(int_dtype(bits))
    return x_q, scale

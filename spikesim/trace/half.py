"""Float32 arrays holding float16 values: round in place instead of converting twice.

A generated tensor is float16 by recipe (the dtype a model is served in), but every consumer
reads float32. :func:`round_to_float16` rounds a float32 array in place to the float32 value of
the nearest float16, exactly what ``x.astype(np.float16).astype(np.float32)`` gives
(IEEE 754 round half to even; magnitudes from 65,520 up become infinity; float16 subnormals,
multiples of 2^-24, below 2^-14; NaN keeps its sign and top ten payload bits, quiet), without
the two conversions' fresh arrays (first touches of fresh pages cost more than the arithmetic
on this kind of VM) or NumPy's scalar conversion loops. :func:`round_to_float16_twin` is the
NumPy definition; tests compare the two on boundary and random patterns, and (slow run) on
every pattern of the exponents where the rules change and every 61st of all 2^32.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from spikesim._jit import njit

FLOAT16_MAX = float(np.finfo(np.float16).max)
"""65,504: the largest finite float16."""


def round_to_float16_twin(x: NDArray[np.float32]) -> NDArray[np.float32]:
    """The definition: ``x`` rounded to float16 and back, a new float32 array."""
    return np.asarray(x, dtype=np.float32).astype(np.float16).astype(np.float32)


@njit
def _round_bits(u: np.ndarray) -> None:
    """Round float32 bit patterns ``u`` (uint32, in place) to the nearest float16 value."""
    for i in range(u.shape[0]):
        b = u[i]
        sign = b & np.uint32(0x80000000)
        a = b & np.uint32(0x7FFFFFFF)
        if a >= np.uint32(0x7F800000):  # inf stays; NaN: top ten payload bits, kept a NaN
            if a > np.uint32(0x7F800000):
                m = a & np.uint32(0x007FE000)
                if m == 0:
                    m = np.uint32(0x00002000)
                a = np.uint32(0x7F800000) | m
        elif a >= np.uint32(0x38800000):  # float16 normal range (>= 2^-14): drop 13 bits, RNE
            a = (a + np.uint32(0x0FFF) + ((a >> np.uint32(13)) & np.uint32(1))) & np.uint32(
                0xFFFFE000
            )
            if a >= np.uint32(0x47800000):  # rounded to 2^16 or more: infinity
                a = np.uint32(0x7F800000)
        elif a >= np.uint32(0x33000000):  # [2^-25, 2^-14): a multiple of 2^-24, RNE
            e = a >> np.uint32(23)
            mant = (a & np.uint32(0x007FFFFF)) | np.uint32(0x00800000)
            shift = np.uint32(126) - e  # 14 … 24
            q = mant >> shift
            rem = mant & ((np.uint32(1) << shift) - np.uint32(1))
            half = np.uint32(1) << (shift - np.uint32(1))
            if rem > half or (rem == half and (q & np.uint32(1)) != 0):
                q += np.uint32(1)
            if q == 0:
                a = np.uint32(0)
            else:  # q · 2^-24 as float32 bits: normalise q (at most 1024 = 2^10)
                p = np.uint32(0)
                while (q >> (p + np.uint32(1))) != 0:
                    p += np.uint32(1)
                a = ((p + np.uint32(103)) << np.uint32(23)) | (
                    (q << (np.uint32(23) - p)) & np.uint32(0x007FFFFF)
                )
        else:  # below 2^-25 (and float32 subnormals): signed zero
            a = np.uint32(0)
        u[i] = sign | a


def round_to_float16(x: NDArray[np.float32]) -> NDArray[np.float32]:
    """Round the C-contiguous float32 array ``x`` in place to float16 values (the float32 value
    of ``x.astype(float16)``, bit for bit); returns ``x``."""
    if x.dtype != np.float32 or not x.flags.c_contiguous or not x.flags.writeable:
        raise ValueError("round_to_float16 needs a writable C-contiguous float32 array")
    _round_bits(x.reshape(-1).view(np.uint32))
    return x


def clip_round_to_float16(x: NDArray[np.float32]) -> NDArray[np.float32]:
    """Clip ``x`` (in place) to ±:data:`FLOAT16_MAX`, then :func:`round_to_float16`: float16
    values, none infinite (what a generated tensor holds)."""
    limit = np.float32(FLOAT16_MAX)
    np.clip(x, -limit, limit, out=x)
    return round_to_float16(x)

"""How the cache of quantized layers stores an array: masks as bits, small integers narrow.

A quantized layer holds small integers in wide types: 4-bit activation codes in int16 (beside a
few 16-bit salient ones), a boolean mask one byte per value. :func:`pack_array` stores each
array as

``"bits"``
    a boolean mask, eight values per byte (:func:`numpy.packbits`, little bit order);
``"nibbles"``
    integers wider than a byte with values in [-8, 7], two per byte (the first value in the low
    nibble), two's complement;
``"i1"``
    integers wider than a byte with values in [-128, 127], as int8;
``""``
    anything else as it is, one-byte integers included: an int8 weight matrix is decoded as a
    view of the bytes read, while unpacking its 4-bit codes took 0.15-0.8 s for a llama2-7b
    MLP weight on this machine (fresh memory for 45 M values), more than reading twice the
    bytes;

and :func:`unpack_array` gives back the same dtype, shape and values. A llama2-7b layer's
seven SpikeQuant entries shrank from 421 to 256 MB (with the activations split into normal
codes and salient values, :mod:`spikesim.sim.quantcache`). Packing and unpacking are NumPy
(~20 ms per 22 M values; a numba loop was no faster, and loading its compiled code cost
0.1-0.3 s per dtype in a fresh process).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from numpy.typing import NDArray

PACKED_NBYTES: dict[str, Callable[[int, int], int]] = {
    "": lambda count, itemsize: count * itemsize,
    "bits": lambda count, _: (count + 7) // 8,
    "nibbles": lambda count, _: (count + 1) // 2,
    "i1": lambda count, _: count,
}
"""Stored bytes of ``count`` values of ``itemsize`` bytes under each packing."""


def pack_nibbles(flat: NDArray[np.integer]) -> NDArray[np.uint8]:
    """Values in [-8, 7], two per byte, the first in the low nibble (two's complement)."""
    codes = flat.astype(np.int8, copy=False).view(np.uint8)
    if codes.size % 2:
        codes = np.append(codes, np.uint8(0))
    return (codes[0::2] & np.uint8(0x0F)) | (codes[1::2] << np.uint8(4))


def unpack_nibbles(data: NDArray[np.uint8], count: int) -> NDArray[np.int8]:
    """The first ``count`` values that :func:`pack_nibbles` stored in ``data``, as int8 (in
    place in one array of twice ``data``'s size: no index or wide temporaries, which a table
    lookup by byte value made 5-30× slower on fresh memory)."""
    out = np.empty(2 * data.size, dtype=np.uint8)
    np.bitwise_and(data, np.uint8(0x0F), out=out[0::2])
    np.right_shift(data, np.uint8(4), out=out[1::2])
    np.bitwise_xor(out, np.uint8(8), out=out)  # v ^ 8 - 8 sign-extends a 4-bit code
    signed = out.view(np.int8)
    np.subtract(signed, np.int8(8), out=signed)
    return signed[:count]


def pack_array(a: NDArray[Any]) -> tuple[str, NDArray[Any]]:
    """(packing, stored 1-d array) of ``a`` (see the module docstring)."""
    flat = np.ascontiguousarray(a).reshape(-1)
    if a.dtype == np.bool_:
        return "bits", np.packbits(flat.view(np.uint8), bitorder="little")
    if a.dtype.kind != "i" or a.dtype.itemsize == 1 or not flat.size:
        return "", flat  # bytes are decoded without a copy (unpacking a weight matrix is not)
    low, high = int(flat.min()), int(flat.max())
    if low >= -8 and high <= 7:
        return "nibbles", pack_nibbles(flat)
    if low >= -128 and high <= 127:
        return "i1", flat.astype(np.int8)
    return "", flat


def unpack_array(data: NDArray[np.uint8], packing: str, dtype: np.dtype[Any],
                 count: int) -> NDArray[Any]:
    """The ``count`` values of ``dtype`` that :func:`pack_array` stored as ``data`` (its raw
    bytes) under ``packing``, 1-d, in native byte order (fresh, or a view of ``data`` for
    ``""``)."""
    native = dtype.newbyteorder("=")
    if packing == "bits":
        return np.unpackbits(data, count=count, bitorder="little").view(np.bool_)
    if packing == "nibbles":
        return unpack_nibbles(data, count).astype(native)
    if packing == "i1":
        return data.view(np.int8).astype(native)
    return data.view(dtype).astype(native, copy=False)

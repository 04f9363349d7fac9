"""How the cache of quantized layers stores an array: masks as bits, small integers narrow.

A quantized layer is mostly small integers held in wide types: 4-bit weight codes in int8,
4-bit activation codes in int16 (beside a few 16-bit salient ones), a boolean mask one byte per
value. :func:`pack_array` stores each array in the narrowest of

``"bits"``
    a boolean mask, eight values per byte (:func:`numpy.packbits`, little bit order);
``"nibbles"``
    integers in [-8, 7], two per byte (the first value in the low nibble), two's complement;
``"i1"``
    integers in [-128, 127] held wider, as int8;
``""``
    anything else, as it is;

and :func:`unpack_array` gives back the same dtype, shape and values. A llama2-7b layer's
entries shrank from 421 to 256 MB (to 183 MB with the spiking entries' activations split,
:mod:`spikesim.sim.quantcache`); writing them was 13 % of a SpikeQuant run. The range scan and
the nibble (un)packing are numba kernels, one pass each, with NumPy twins
(:func:`pack_nibbles_numpy`, :func:`unpack_nibbles_numpy`) that tests hold them to.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from numpy.typing import NDArray

from spikesim._jit import njit

PACKINGS = ("", "bits", "nibbles", "i1")
"""The packings an entry may name."""

PACKED_NBYTES: dict[str, Callable[[int, int], int]] = {
    "": lambda count, itemsize: count * itemsize,
    "bits": lambda count, _: (count + 7) // 8,
    "nibbles": lambda count, _: (count + 1) // 2,
    "i1": lambda count, _: count,
}
"""Stored bytes of ``count`` values of ``itemsize`` bytes under each packing."""


@njit
def _int_range(flat: np.ndarray) -> tuple[int, int]:  # pragma: no cover - compiled
    low = flat[0]
    high = flat[0]
    for i in range(1, flat.size):
        v = flat[i]
        if v < low:
            low = v
        elif v > high:
            high = v
    return int(low), int(high)


@njit
def _pack_nibbles(flat: np.ndarray, out: np.ndarray) -> None:  # pragma: no cover - compiled
    n = flat.size
    for i in range(out.size):
        low = np.uint8(flat[2 * i] & 0x0F)
        high = np.uint8(flat[2 * i + 1] & 0x0F) if 2 * i + 1 < n else np.uint8(0)
        out[i] = low | (high << 4)


@njit
def _unpack_nibbles(data: np.ndarray, out: np.ndarray) -> None:  # pragma: no cover - compiled
    for i in range(out.size):
        byte = data[i >> 1]
        v = (byte >> 4) if i & 1 else (byte & 0x0F)
        out[i] = np.int64(v) - 16 if v >= 8 else np.int64(v)


def pack_nibbles_numpy(flat: NDArray[np.integer]) -> NDArray[np.uint8]:
    """Twin of the nibble packer: values in [-8, 7], two per byte, low nibble first."""
    codes = flat.astype(np.int8).view(np.uint8)
    if codes.size % 2:
        codes = np.append(codes, np.uint8(0))
    return ((codes[0::2] & np.uint8(0x0F)) | (codes[1::2] << np.uint8(4))).astype(np.uint8)


def unpack_nibbles_numpy(data: NDArray[np.uint8], count: int,
                         dtype: np.dtype[Any]) -> NDArray[Any]:
    """Twin of the nibble unpacker: ``count`` values of ``dtype`` from ``data``."""
    values = np.empty(2 * data.size, dtype=np.uint8)
    values[0::2] = data & np.uint8(0x0F)
    values[1::2] = data >> np.uint8(4)
    signed = (values[:count] ^ np.uint8(8)).view(np.int8) - np.int8(8)  # sign-extend
    return signed.astype(dtype)


def pack_array(a: NDArray[Any]) -> tuple[str, NDArray[Any]]:
    """(packing, stored 1-d array) of ``a`` (see the module docstring)."""
    flat = np.ascontiguousarray(a).reshape(-1)
    if a.dtype == np.bool_:
        return "bits", np.packbits(flat.view(np.uint8), bitorder="little")
    if a.dtype.kind != "i" or not flat.size:
        return "", flat
    low, high = _int_range(flat)
    if low >= -8 and high <= 7:
        out = np.empty((flat.size + 1) // 2, dtype=np.uint8)
        _pack_nibbles(flat, out)
        return "nibbles", out
    if low >= -128 and high <= 127 and a.dtype.itemsize > 1:
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
        out = np.empty(count, dtype=native)
        if count:
            _unpack_nibbles(data, out)
        return out
    if packing == "i1":
        return data.view(np.int8).astype(native)
    return data.view(dtype).astype(native, copy=False)

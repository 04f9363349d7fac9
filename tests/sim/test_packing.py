"""The cache's array packing (:mod:`spikesim.sim.packing`): nibbles round-trip in the documented
layout, and every packing gives back the dtype, shape and values it was given."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from spikesim.sim import packing

small_ints = st.lists(st.integers(-8, 7), min_size=1, max_size=80)
dtypes = st.sampled_from(["int8", "int16", "int32", "int64"])


@settings(max_examples=200, deadline=None)
@given(small_ints, dtypes)
def test_nibbles_round_trip_low_nibble_first(values: list[int], dtype: str) -> None:
    flat = np.array(values, dtype=dtype)
    packed = packing.pack_nibbles(flat)
    assert packed.dtype == np.uint8
    assert packed.size == (flat.size + 1) // 2
    np.testing.assert_array_equal(packing.unpack_nibbles(packed, flat.size), flat)
    low = packed & 0x0F  # the first of each pair, two's complement in four bits
    np.testing.assert_array_equal(np.where(low >= 8, low.astype(int) - 16, low), flat[0::2])


def test_nibble_layout_by_hand() -> None:
    assert packing.pack_nibbles(np.array([1, -1, -8, 7, 3])).tolist() == [0xF1, 0x78, 0x03]
    assert packing.unpack_nibbles(np.array([0xF1, 0x78, 0x03], np.uint8), 5).tolist() == [
        1, -1, -8, 7, 3]


@settings(max_examples=150, deadline=None)
@given(st.sampled_from(["bool", "int8", "int16", "int32", "int64", "float32"]),
       st.sampled_from([(0,), (1,), (7,), (3, 5), (2, 3, 4)]),
       st.sampled_from([1, 7, 8, 127, 128, 40000]), st.integers(0, 2**32 - 1))
def test_packed_arrays_come_back_equal(dtype: str, shape: tuple[int, ...], bound: int,
                                       seed: int) -> None:
    """Every array an entry stores comes back with its dtype, shape and values, whichever
    packing (bits, nibbles, int8 or none) its values allow, in the bytes the packing says."""
    rng = np.random.default_rng(seed)
    if dtype == "bool":
        a = rng.random(shape) < 0.3
    elif dtype == "float32":
        a = rng.standard_normal(shape).astype(np.float32)
    else:
        info = np.iinfo(np.dtype(dtype))
        top = min(bound, int(info.max))
        a = rng.integers(max(-top - 1, int(info.min)), top + 1, shape).astype(dtype)
    name, stored = packing.pack_array(a)
    raw = np.ascontiguousarray(stored).reshape(-1).view(np.uint8)
    assert raw.size == packing.PACKED_NBYTES[name](a.size, a.dtype.itemsize)
    back = packing.unpack_array(raw, name, a.dtype, a.size).reshape(a.shape)
    assert back.dtype == a.dtype
    np.testing.assert_array_equal(back, a)
    if dtype == "bool":
        assert name == "bits"
    elif dtype != "float32" and a.size:
        low, high = int(a.min()), int(a.max())
        wide = a.dtype.itemsize > 1
        expected = ("nibbles" if wide and low >= -8 and high <= 7 else
                    "i1" if wide and low >= -128 and high <= 127 else "")
        assert name == expected

"""The cache's array packing (:mod:`spikesim.sim.packing`): the numba kernels equal their NumPy
twins bit for bit, and every packing gives back the dtype, shape and values it was given."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from spikesim.sim import packing

small_ints = st.lists(st.integers(-8, 7), min_size=1, max_size=80)
dtypes = st.sampled_from(["int8", "int16", "int32", "int64"])


@settings(max_examples=200, deadline=None)
@given(small_ints, dtypes)
def test_nibble_kernels_equal_their_twins(values: list[int], dtype: str) -> None:
    flat = np.array(values, dtype=dtype)
    packed = np.empty((flat.size + 1) // 2, dtype=np.uint8)
    packing._pack_nibbles(flat, packed)
    np.testing.assert_array_equal(packed, packing.pack_nibbles_numpy(flat))
    out = np.empty(flat.size, dtype=dtype)
    packing._unpack_nibbles(packed, out)
    np.testing.assert_array_equal(out, packing.unpack_nibbles_numpy(packed, flat.size,
                                                                     np.dtype(dtype)))
    np.testing.assert_array_equal(out, flat)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.integers(-(2**40), 2**40), min_size=1, max_size=50))
def test_range_kernel_is_min_and_max(values: list[int]) -> None:
    flat = np.array(values, dtype=np.int64)
    assert packing._int_range(flat) == (int(flat.min()), int(flat.max()))


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
        expected = ("nibbles" if low >= -8 and high <= 7 else
                    "i1" if low >= -128 and high <= 127 and a.dtype.itemsize > 1 else "")
        assert name == expected

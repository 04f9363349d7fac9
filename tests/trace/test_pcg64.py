"""The numba float32 normal and gamma draws (spikesim.trace.pcg64) == NumPy's, bit for bit, and
leave the Generator in the state NumPy would: values, every rare path, and the draws after."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from spikesim.trace import pcg64


@pytest.fixture(autouse=True)
def kernels_in_use() -> None:
    """Every comparison here is of the kernels: they must not have fallen back to NumPy."""
    assert pcg64.agrees_with_numpy()


seeds = st.one_of(st.integers(0, 2**64 - 1),
                  st.lists(st.integers(0, 2**32 - 1), min_size=1, max_size=5))


def same(a: np.ndarray, b: np.ndarray) -> bool:
    return a.shape == b.shape and a.dtype == b.dtype and np.array_equal(
        a.view(np.uint32), b.view(np.uint32))


@given(seeds, st.integers(0, 3), st.integers(0, 2_000), st.integers(1, 3))
@settings(max_examples=60, deadline=None)
def test_normals_equal_numpy_and_leave_the_same_state(seed: int | list[int], before: int, n: int,
                                                     rows: int) -> None:
    ours, theirs = np.random.default_rng(seed), np.random.default_rng(seed)
    for rng in (ours, theirs):  # an odd prefix leaves half a 64-bit output buffered
        rng.random(before, dtype=np.float32)
    got = pcg64.standard_normal(ours, (rows, n))
    assert same(got, theirs.standard_normal((rows, n), dtype=np.float32))
    assert ours.bit_generator.state == theirs.bit_generator.state
    assert ours.integers(0, 2**63) == theirs.integers(0, 2**63)


@given(seeds, st.integers(0, 3), st.integers(0, 2_000),
       st.one_of(st.sampled_from([1.0000001, 1.5, 2.5, 3.0, 5.0]),
                 st.floats(1.0, 400.0, exclude_min=True)))
@settings(max_examples=60, deadline=None)
def test_gammas_equal_numpy_and_leave_the_same_state(seed: int | list[int], before: int, n: int,
                                                    shape: float) -> None:
    ours, theirs = np.random.default_rng(seed), np.random.default_rng(seed)
    for rng in (ours, theirs):
        rng.random(before, dtype=np.float32)
    got = pcg64.standard_gamma(ours, shape, n)
    assert same(got, theirs.standard_gamma(shape, n, dtype=np.float32))
    assert ours.bit_generator.state == theirs.bit_generator.state


def fast_path_misses(seed: int, draws: int) -> tuple[int, int]:
    """Among the first ``draws`` 32-bit words of ``seed``'s stream (low half of each 64-bit
    output first, as NumPy hands them out): the words that miss the ziggurat's fast path, in
    the base layer (tail) and in the others (wedge test)."""
    raw = np.random.default_rng(seed).bit_generator.random_raw((draws + 1) // 2)
    words = raw.view(np.uint32)[:draws]  # little-endian: low half first
    k, _, _ = pcg64.ziggurat_tables()
    layer = words & 0xFF
    miss = ((words >> 9) & 0x7FFFFF) >= k[layer]
    return int((miss & (layer == 0)).sum()), int((miss & (layer != 0)).sum())


def test_every_rare_path_is_taken_and_equal() -> None:
    """400,001 normals: dozens of draws go to the tail beyond R and thousands to the wedge
    test (accepted or redrawn); all equal NumPy's. Gammas of a shape near 1, where V ≤ 0
    redraws and the log test decide often, likewise."""
    n = 400_001
    tail, wedge = fast_path_misses(7, n)
    assert tail > 20
    assert wedge > 1_000
    ours, theirs = np.random.default_rng(7), np.random.default_rng(7)
    got = pcg64.standard_normal(ours, n)
    want = theirs.standard_normal(n, dtype=np.float32)
    assert same(got, want)
    assert (np.abs(want) > pcg64.ZIGGURAT_R).sum() > 10  # accepted tail values
    assert same(pcg64.standard_gamma(ours, 1.05, n),
                theirs.standard_gamma(1.05, n, dtype=np.float32))
    assert ours.bit_generator.state == theirs.bit_generator.state


MULT = (2549297995355413924 << 64) | 4865540595714422341
MASK128 = 2**128 - 1


def rng_whose_next_word_is(word: int) -> np.random.Generator:
    """A PCG64 Generator whose next ``next_uint32`` is ``word``: pick the state after the step
    so that its XSL-RR output has ``word`` as low half, then step the LCG back."""
    inc = 0x5851F42D4C957F2D14057B7EF767814F | 1
    hi = 0x0123456789ABCDEF
    rot = hi >> 58
    out = word | (0xFEEDF00D << 32)
    lo = (((out << rot) | (out >> (64 - rot))) & (2**64 - 1)) ^ hi if rot else out ^ hi
    after = (hi << 64) | lo
    before = ((after - inc) * pow(MULT, -1, 2**128)) & MASK128
    rng = np.random.default_rng(0)
    rng.bit_generator.state = {"bit_generator": "PCG64", "state": {"state": before, "inc": inc},
                               "has_uint32": 0, "uinteger": 0}
    return rng


def test_every_layer_threshold_equals_numpys() -> None:
    """For each of the 256 layers and both signs, a first word just below the layer's
    fast-path threshold and one at it: NumPy and the kernels give the same value and consume
    the same words (the thresholds, the x scale and the tail/wedge entry agree exactly)."""
    k, _, _ = pcg64.ziggurat_tables()
    for layer in range(256):
        for rabs in {max(int(k[layer]) - 1, 0), int(k[layer]), 0x7FFFFF}:
            for sign in (0, 1):
                word = (rabs << 9) | (sign << 8) | layer
                probe = rng_whose_next_word_is(word).bit_generator.random_raw()
                assert probe & 0xFFFFFFFF == word
                ours, theirs = rng_whose_next_word_is(word), rng_whose_next_word_is(word)
                got = pcg64.standard_normal(ours, 3)
                assert same(got, theirs.standard_normal(3, dtype=np.float32)), (layer, rabs)
                assert ours.bit_generator.state == theirs.bit_generator.state


def test_tables_follow_the_construction() -> None:
    k, w, f = pcg64.ziggurat_tables()
    assert k.dtype == np.uint32
    assert w.dtype == np.float32
    assert f.dtype == np.float32
    assert k[1] == 0
    assert f[0] == 1.0
    assert w[255] == np.float32(pcg64.ZIGGURAT_R / 2**23)
    assert np.all(np.diff(f[1:]) < 0)
    assert np.all(np.diff(w[1:]) > 0)


def test_other_generators_and_shapes_go_to_numpy() -> None:
    for shape in (0.5, 1.0):
        ours, theirs = np.random.default_rng(3), np.random.default_rng(3)
        assert same(pcg64.standard_gamma(ours, shape, 100),
                    theirs.standard_gamma(shape, 100, dtype=np.float32))
    ours = np.random.Generator(np.random.Philox(3))
    theirs = np.random.Generator(np.random.Philox(3))
    assert same(pcg64.standard_normal(ours, 100), theirs.standard_normal(100, dtype=np.float32))


def test_a_disagreeing_numpy_falls_back(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pcg64, "agrees_with_numpy", lambda: False)
    called = []
    monkeypatch.setattr(pcg64, "_fill_normal", lambda *a: called.append(a))
    rng = np.random.default_rng(1)
    want = np.random.default_rng(1).standard_normal(10, dtype=np.float32)
    assert same(pcg64.standard_normal(rng, 10), want)
    assert not called

"""Quantization: RTN ranges and scales, SpikeQuant MAD saliency with one shared scale."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from spikesim.config.quant import QuantConfig
from spikesim.quant import (
    dequantized_output,
    mad_salient_mask,
    quantize_activations,
    quantize_layer,
    quantize_weights,
    spikequant_activations,
)

finite = st.floats(-1e3, 1e3, allow_nan=False, width=32)


@given(arrays(np.float32, st.tuples(st.integers(1, 8), st.integers(1, 32)), elements=finite),
       st.integers(2, 8))
def test_rtn_weights_range_and_error(w: np.ndarray, bits: int) -> None:
    w_q, s = quantize_weights(w, bits)
    q = 2 ** (bits - 1) - 1
    assert np.abs(w_q).max(initial=0) <= q
    # round-to-nearest: error at most half a step per channel
    assert np.all(np.abs(w_q * s[:, None] - w) <= s[:, None] / 2 + 1e-4 * np.abs(w) + 1e-30)


def test_rtn_activations_per_token_scale() -> None:
    x = np.array([[1.1, -2.0, 0.5], [0.0, 0.0, 0.0]], np.float32)
    x_q, s = quantize_activations(x, 4)
    assert s[0] == pytest.approx(2.0 / 7)
    assert s[1] == 1.0
    np.testing.assert_array_equal(x_q[0], [4, -7, 2])
    np.testing.assert_array_equal(x_q[1], [0, 0, 0])


def test_mad_rule_by_hand() -> None:
    # median 0, |dev| = [0,1,1,2,2,50] -> MAD = 1.5; k=3 flags |dev| > 4.5
    x = np.array([[0.0, 1.0, -1.0, 2.0, -2.0, 50.0]], np.float32)
    np.testing.assert_array_equal(mad_salient_mask(x, 3.0), [[0, 0, 0, 0, 0, 1]])
    # a constant row (MAD = 0) flags nothing
    assert not mad_salient_mask(np.ones((1, 8), np.float32), 3.0).any()


def test_spikequant_shares_one_scale() -> None:
    # median 0.6, MAD 1.6: with k=3 only 50 is salient
    x = np.array([[0.0, 1.2, -1.2, 2.0, -2.0, 50.0]], np.float32)
    x_q, s, sal = spikequant_activations(x, act_bits=4, salient_bits=8, mad_k=3.0)
    assert s[0] == pytest.approx(2.0 / 7)  # from the largest NON-salient value
    assert sal[0, 5]
    assert x_q[0, 5] == 127  # 50 / (2/7) = 175 -> clipped to INT8's 127
    np.testing.assert_array_equal(x_q[0, :5], [0, 4, -4, 7, -7])


@given(st.integers(0, 2**32 - 1), st.floats(1.5, 12))
def test_spikequant_ranges(seed: int, k: float) -> None:
    rng = np.random.default_rng(seed)
    x = rng.standard_t(3, (6, 64)).astype(np.float32)
    x_q, _, sal = spikequant_activations(x, 4, 8, k)
    assert np.abs(x_q[~sal]).max(initial=0) <= 7
    assert np.abs(x_q[sal]).max(initial=0) <= 127


def test_spikequant_beats_rtn_with_outliers() -> None:
    """Keeping outliers wider with the normal scale reduces the output error versus W4A4 RTN."""
    rng = np.random.default_rng(0)
    x = rng.standard_t(5, (64, 256)).astype(np.float32)
    x[:, [3, 77]] *= 10  # within INT8 reach of the normal scale (127/7 = 18x)
    w = rng.normal(0, 0.05, (64, 256)).astype(np.float32)
    y = x @ w.T
    errs = {}
    for method in ("spikequant", "rtn"):
        layer = quantize_layer("l", "op", x, w, QuantConfig(mad_k=6.0), method=method)  # type: ignore[arg-type]
        errs[method] = float(np.mean((dequantized_output(layer) - y) ** 2) / np.mean(y**2))
    assert errs["spikequant"] < 0.5 * errs["rtn"]


def test_group_size_rejected_for_spiking_datapath() -> None:
    x = np.ones((2, 8), np.float32)
    with pytest.raises(ValueError, match="one weight scale per output channel"):
        quantize_layer("l", "op", x, x, QuantConfig(weight_group_size=4))


@given(
    st.integers(0, 2**32 - 1),
    st.integers(1, 6),
    st.integers(1, 70),
    st.integers(2, 6),
    st.integers(6, 16),
    st.floats(0.5, 12),
    st.floats(0, 0.5),
)
def test_spikequant_kernel_equals_numpy_twin(
    seed: int, m: int, k: int, act_bits: int, sal_bits: int, mad_k: float, zeros: float
) -> None:
    from spikesim.quant.kernels import spikequant_rows

    rng = np.random.default_rng(seed)
    x = (rng.standard_t(3, (m, k)) * rng.choice([1e-3, 1.0, 50.0])).astype(np.float32)
    x[rng.random((m, k)) < zeros] = 0.0  # ties and all-zero rows
    x[0] = x[0, 0]  # a constant row (MAD = 0)
    want = spikequant_activations(x, act_bits, sal_bits, mad_k)
    got = spikequant_rows(x, act_bits, sal_bits, mad_k)
    np.testing.assert_array_equal(got[0], want[0])
    np.testing.assert_array_equal(got[1], want[1])
    np.testing.assert_array_equal(got[2], want[2])


@given(arrays(np.float32, st.tuples(st.integers(1, 8), st.integers(1, 40)), elements=finite),
       st.integers(2, 8))
def test_rtn_weight_kernel_equals_numpy_twin(w: np.ndarray, bits: int) -> None:
    from spikesim.quant.kernels import rtn_weights

    want = quantize_weights(w, bits)
    got = rtn_weights(w, bits)
    np.testing.assert_array_equal(got[0], want[0])
    np.testing.assert_array_equal(got[1], want[1])


@given(
    arrays(np.float32, st.tuples(st.integers(0, 8), st.integers(0, 40)),
           elements=st.one_of(finite, st.sampled_from([0.0, 1e-30, -1e-38, 3.5, -2.5]))),
    st.integers(2, 17),
    st.one_of(st.none(), st.integers(1, 12)),
    st.sampled_from([1.0, 0.9, 0.85, 0.5, 1.3]),
)
def test_rtn_rows_kernel_equals_numpy_twin(
    x: np.ndarray, bits: int, group_size: int | None, clip: float
) -> None:
    """The numba RTN of rows (groups, clip ratio, any width) == quantize_rows, bit for bit:
    integers, their dtype, and the float32 scales."""
    from spikesim.quant.kernels import rtn_rows
    from spikesim.quant.rtn import quantize_rows

    want_q, want_s = quantize_rows(x, bits, group_size, clip)
    got_q, got_s = rtn_rows(x, bits, group_size, clip)
    assert got_q.dtype == want_q.dtype
    np.testing.assert_array_equal(got_q, want_q)
    np.testing.assert_array_equal(got_s, want_s)
    assert got_s.dtype == want_s.dtype


def test_group_weights_equal_per_block_quantization() -> None:
    rng = np.random.default_rng(1)
    w = rng.normal(size=(5, 10)).astype(np.float32)
    w_q, s = quantize_weights(w, 4, group_size=4)
    assert s.shape == (5, 3)
    for g, (a, b) in enumerate([(0, 4), (4, 8), (8, 10)]):
        block_q, block_s = quantize_weights(w[:, a:b], 4)
        np.testing.assert_array_equal(w_q[:, a:b], block_q)
        np.testing.assert_array_equal(s[:, g], block_s)


def test_layers_reading_one_input_share_its_quantization() -> None:
    """q/k/v_proj read the same x: the second quantization of equal bytes returns the first's
    (read-only) arrays; other bytes, another shape or other parameters quantize anew; every
    result equals a direct quantization."""
    from spikesim.quant.kernels import spikequant_rows
    from spikesim.quant.layer import ActivationMemo, Method

    memo = ActivationMemo()
    cfg = QuantConfig()
    rng = np.random.default_rng(5)
    x = rng.standard_t(3, (9, 40)).astype(np.float32)
    first = memo.get(x, cfg, Method.SPIKEQUANT)
    again = memo.get(x.copy(), cfg, Method.SPIKEQUANT)
    assert all(a is b for a, b in zip(first[:3], again[:3], strict=True))
    assert not first[0].flags.writeable
    want = spikequant_rows(x, cfg.act_bits, cfg.salient_bits, cfg.mad_k)
    for got, ref in zip(first[:3], want, strict=True):
        np.testing.assert_array_equal(got, ref)
    y = x.copy()
    y[3, 7] += 1.0
    other = memo.get(y, cfg, Method.SPIKEQUANT)
    assert other[0] is not first[0]
    for got, ref in zip(other[:3], spikequant_rows(y, cfg.act_bits, cfg.salient_bits,
                                                    cfg.mad_k), strict=True):
        np.testing.assert_array_equal(got, ref)
    wider = memo.get(y, cfg.model_copy(update={"mad_k": 2.0}), Method.SPIKEQUANT)
    assert wider[0] is not other[0]
    rtn = memo.get(y, cfg, "rtn")  # type: ignore[arg-type]
    assert rtn[3] == cfg.act_bits
    assert not rtn[2].any()


def arranged(a: np.ndarray, order: str) -> np.ndarray:
    """``a`` as drawn, sorted, reversed, or in organ-pipe order (up, then down)."""
    if order == "sorted":
        return np.sort(a)
    if order == "reversed":
        return np.sort(a)[::-1].copy()
    if order == "organ pipe":
        s = np.sort(a)
        return np.concatenate([s[::2], s[1::2][::-1]])
    return a


@given(
    st.lists(st.sampled_from([0.0, -0.0, 1.0, -1.0, 2.5, 1e-30, -1e-45, 7.0]), max_size=300)
    | st.lists(st.floats(width=32, allow_nan=False, allow_infinity=False), max_size=300),
    st.sampled_from(["as drawn", "sorted", "reversed", "organ pipe"]),
    st.sampled_from([0, 10**9, None]),
)
def test_median_kernel_equals_numpy_median(values: list[float], order: str,
                                           radix_min: int | None) -> None:
    """The median kernel == np.median (float32; the mean of the two middle values for an even
    count) for ties, signed zeros, subnormals, the whole float32 range and ordered inputs, by
    radix select (radix_min 0), by quickselect (10^9) and as dispatched; the input is left as
    it was."""
    from spikesim.quant.kernels import _RADIX_BINS, _median, _median_from

    a = arranged(np.array(values, np.float32), order)
    before = a.copy()
    keys, buckets = np.empty(a.size, np.uint32), np.empty(_RADIX_BINS, np.int64)
    got = (_median(a, keys, buckets) if radix_min is None
           else _median_from(a, keys, buckets, radix_min))
    with np.errstate(all="ignore"):
        want = np.float32(np.median(a)) if a.size else np.float32(np.nan)
    assert got == want or (np.isnan(got) and np.isnan(want))
    assert np.array_equal(a.view(np.uint32), before.view(np.uint32))


@given(
    st.lists(st.sampled_from([0.0, -0.0, 1.0, -1.0, 2.5, 1e-30, 7.0]), max_size=300)
    | st.lists(st.floats(width=32, allow_nan=False), max_size=300),
    st.sampled_from(["as drawn", "sorted", "reversed", "organ pipe"]),
)
def test_heap_sort_equals_numpy_sort(values: list[float], order: str) -> None:
    """The quickselect's fallback sort (heapsort) orders any values as np.sort does (equal
    values compared as floats: the two may order -0 and +0, which are equal, differently)."""
    from spikesim.quant.kernels import _heap_sort

    a = arranged(np.array(values, np.float32), order)
    want = np.sort(a)
    _heap_sort(a)
    assert np.array_equal(a, want)


@given(
    st.lists(st.sampled_from([0.0, -0.0, 1.0, -1.0, 2.5, 1e-30, 7.0]), min_size=1, max_size=300)
    | st.lists(st.floats(-1e6, 1e6, width=32), min_size=1, max_size=300),
    st.sampled_from(["as drawn", "sorted", "reversed", "organ pipe"]),
    st.integers(0, 40),
    st.data(),
)
def test_select_kernel_equals_numpy_partition(values: list[float], order: str, rounds: int,
                                              data: st.DataObject) -> None:
    """The branch-free quickselect returns the k-th smallest (NumPy's partition) and leaves
    a[:k] <= a[k] <= a[k+1:], for ties, signed zeros, ordered inputs, and with the round
    budget cut so the sorting fallback finishes the job."""
    from spikesim.quant.kernels import _select, _select_within

    a = arranged(np.array(values, np.float32), order)
    k = data.draw(st.integers(0, a.size - 1))
    want = np.partition(a, k)[k]
    for select in (_select, lambda b, k: _select_within(b, k, rounds)):
        b = a.copy()
        got = select(b, k)
        assert got == want
        assert (b[:k] <= got).all()
        assert (b[k + 1:] >= got).all()
        assert np.array_equal(np.sort(b), np.sort(a))

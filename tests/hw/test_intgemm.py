"""Exact integer GEMM (spikesim.hw.intgemm): every backend == the int64 NumPy twin, bit for bit;
the functional path on each backend == reference_outputs (output spikes and overflow events)."""

from __future__ import annotations

import importlib.util
import sys

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from spikesim.hw import intgemm
from spikesim.hw.functional import functional_outputs, reference_outputs
from spikesim.hw.intgemm import (
    ExactGemm,
    add_sparse,
    exact_matmul_int,
    reference_bound,
    reference_matmul,
    split_wide,
    token_bound,
)
from spikesim.hw.params import ArrayParams, PassParams
from spikesim.quant.layer import Method, QuantizedLayer

HAS_TORCH = importlib.util.find_spec("torch") is not None
TORCH_BACKENDS = [
    pytest.param(name, marks=pytest.mark.slow) for name in ("int_mm", "onednn") if HAS_TORCH
]
"""The torch paths (importing torch costs seconds; ``auto`` picks them only on VNNI/AMX CPUs):
in the slow run."""
ALL = ["blas", *TORCH_BACKENDS]


def integers(rng: np.random.Generator, m: int, k: int, n: int, act_bits: int, salient_bits: int,
             weight_bits: int, salient: float, sign: int
             ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """x̄ [m, k] (int16: normal values at act_bits, a share of salient ones at salient_bits),
    w̄ [n, k] int8 at weight_bits; ``sign`` 0 mixed, +1/-1 forces one sign of x̄ (sums grow)."""
    qa, qs, qw = (1 << (act_bits - 1)) - 1, (1 << (salient_bits - 1)) - 1, (1 << (weight_bits - 1))
    x = rng.integers(-qa, qa + 1, (m, k))
    mask = rng.random((m, k)) < salient
    x[mask] = rng.integers(-qs, qs + 1, int(mask.sum()))
    if sign:
        x = sign * np.abs(x)
    w = rng.integers(-qw, qw, (n, k))  # -2^(b-1) included: the full two's-complement range
    return x.astype(np.int16), w.astype(np.int8), mask


shapes = {
    "seed": st.integers(0, 2**32 - 1),
    "m": st.integers(0, 40),  # below and above _int_mm's M > 16 of other builds
    "k": st.integers(0, 70),  # not multiples of 8
    "n": st.integers(0, 27),
    "act_bits": st.integers(2, 8),
    "salient_bits": st.integers(2, 16),
    "weight_bits": st.integers(2, 8),
    "salient": st.sampled_from([0.0, 0.025, 0.3, 1.0]),
    "sign": st.sampled_from([0, 1, -1]),
}


@pytest.mark.parametrize("backend", ALL)
@given(**shapes)
def test_exact_gemm_equals_int64_twin(
    backend: str, seed: int, m: int, k: int, n: int, act_bits: int, salient_bits: int,
    weight_bits: int, salient: float, sign: int,
) -> None:
    rng = np.random.default_rng(seed)
    x, w, _ = integers(rng, m, k, n, act_bits, salient_bits, weight_bits, salient, sign)
    gemm = ExactGemm(w, backend)
    y, bound = gemm(x)
    assert y.shape == (m, n)
    np.testing.assert_array_equal(np.asarray(y).astype(np.int64), reference_matmul(x, w))
    colmax = intgemm.column_max(w)
    np.testing.assert_array_equal(bound, reference_bound(x, colmax))
    assert np.all(np.abs(reference_matmul(x, w)) <= bound[:, None])


@pytest.mark.parametrize(
    "backend", ["blas", *([pytest.param("int_mm", marks=pytest.mark.slow)] if HAS_TORCH else [])]
)
@given(seed=st.integers(0, 2**32 - 1), limit=st.sampled_from([2**6, 2**9, 2**12]),
       m=st.integers(1, 20), k=st.integers(1, 50), n=st.integers(1, 12))
def test_fallbacks_stay_exact(backend: str, seed: int, limit: int, m: int, k: int,
                              n: int) -> None:
    """Small limits force the float64 recomputation (blas) and K blocks with an int64 sum and
    the int64 sparse correction (int_mm)."""
    rng = np.random.default_rng(seed)
    x, w, _ = integers(rng, m, k, n, 4, 16, 8, 0.2, 0)
    gemm = ExactGemm(w, backend, exact_limit=limit)
    gemm.int32_limit = limit * 128
    y, _ = gemm(x)
    np.testing.assert_array_equal(np.asarray(y).astype(np.int64), reference_matmul(x, w))


@pytest.mark.slow  # imports torch
@pytest.mark.skipif(not HAS_TORCH, reason="torch is not installed")
@pytest.mark.parametrize(("k", "n", "limit"),
                         [(1, 2, None), (1, 9, None), (5, 3, 64), (3, 7, 2**9)])
def test_int_mm_with_one_input_channel_blocks(k: int, n: int, limit: int | None) -> None:
    """torch 2.13's CPU _int_mm returns wrong sums for K = 1 and N > 1 (measured on this
    machine); a layer of one input channel, or K blocks of one (small int32 limits), take the
    int64 outer product instead."""
    rng = np.random.default_rng(k * 100 + n)
    x, w, _ = integers(rng, 6, k, n, 4, 16, 8, 0.2, 0)
    gemm = ExactGemm(w, "int_mm")
    if limit is not None:
        gemm.int32_limit = limit * 128
    for _ in range(3):  # the wrong sums came from memory the product did not initialise
        y, _ = gemm(x)
        np.testing.assert_array_equal(np.asarray(y).astype(np.int64), reference_matmul(x, w))


def layer_of(x: np.ndarray, w: np.ndarray, mask: np.ndarray, rng: np.random.Generator,
             weight_bits: int) -> QuantizedLayer:
    m, n = x.shape[0], w.shape[0]
    return QuantizedLayer(
        name="l", op="op", x_q=x, salient=mask, w_q=w,
        x_scale=rng.uniform(0.01, 1.0, (m,)).astype(np.float32),
        w_scale=rng.uniform(0.01, 1.0, (n,)).astype(np.float32),
        output_scale=float(rng.uniform(0.05, 50.0)), act_bits=4, salient_bits=16,
        weight_bits=weight_bits, output_bits=4, method=Method.SPIKEQUANT,
    )


@pytest.mark.parametrize("backend", ALL)
@given(**shapes, acc_bits=st.integers(4, 26), reset_zero=st.booleans(), half=st.booleans(),
       chunk=st.sampled_from([3, 17, 512]))
def test_functional_outputs_equal_twin(
    backend: str, seed: int, m: int, k: int, n: int, act_bits: int, salient_bits: int,
    weight_bits: int, salient: float, sign: int, acc_bits: int, reset_zero: bool, half: bool,
    chunk: int,
) -> None:
    """Output spikes and overflow events bit-identical to the int64 twin; small acc_bits make
    overflow (and the per-token bound that must not hide it) common."""
    rng = np.random.default_rng(seed)
    x, w, mask = integers(rng, m, k, n, act_bits, salient_bits, weight_bits, salient, sign)
    layer = layer_of(x, w, mask, rng, weight_bits)
    p = PassParams(0, 4, 7, 3, 16)
    ap = ArrayParams(8, 8, acc_bits, 4, 1, 2, 7, reset_zero, half, 8, p, p)
    want, ovf = reference_outputs(x, w, layer.threshold_fx(ap.frac_bits), ap)
    got = functional_outputs(layer, ap, chunk_tokens=chunk, keep_outputs=True, backend=backend)
    assert got.outputs is not None
    np.testing.assert_array_equal(got.outputs, want)
    assert got.overflow_events == int(ovf.sum())
    assert got.output_spikes == int(np.abs(want).sum())
    plain = functional_outputs(layer, ap, chunk_tokens=chunk, backend=backend)
    assert (plain.output_spikes, plain.overflow_events) == (got.output_spikes, got.overflow_events)


@given(seed=st.integers(0, 2**32 - 1), m=st.integers(0, 9), k=st.integers(0, 30),
       n=st.integers(1, 9))
def test_kernels_equal_twins(seed: int, m: int, k: int, n: int) -> None:
    """token_bound and add_sparse (numba) and column_max against their NumPy twins;
    split_wide reassembles x̄."""
    rng = np.random.default_rng(seed)
    x, w, _ = integers(rng, m, k, n, 4, 16, 8, 0.3, 0)
    colmax = intgemm.column_max(w)
    np.testing.assert_array_equal(colmax, intgemm.reference_column_max(w))
    np.testing.assert_array_equal(token_bound(x, colmax), reference_bound(x, colmax))
    dense, rows, cols, vals = split_wide(x)
    back = dense.astype(np.int64)
    back[rows, cols] += vals
    np.testing.assert_array_equal(back, x)
    terms = vals[:, None] * w[:, cols].T.astype(np.int64)
    for dtype in (np.int64, np.int32, np.float32):
        y = rng.integers(-1000, 1000, (m, n)).astype(dtype)
        twin = y.astype(np.int64)
        np.add.at(twin, rows, terms)
        # every partial sum of an output is at most |y| + Σ|v·w| of its row's records; float32
        # is exact (and add_sparse is used on it) only where that stays below 2^24
        reach = np.abs(y.astype(np.int64))
        np.add.at(reach, rows, np.abs(terms))
        add_sparse(y, rows, cols, vals, w)
        exact = reach < (intgemm.FLOAT32_EXACT if dtype == np.float32 else 2**31)
        np.testing.assert_array_equal(y.astype(np.int64)[exact], twin[exact])


def test_backend_choice() -> None:
    with pytest.raises(ValueError, match="backend"):
        intgemm.resolve_backend("gpu")
    assert intgemm.resolve_backend("blas") == "blas"
    assert intgemm.resolve_backend("auto") in ("blas", "int_mm")
    wide_w = np.full((2, 3), 100, np.int8)  # 2·255·100 saturates oneDNN's int16 pair sums
    assert ExactGemm(wide_w, "onednn").backend == "blas"
    assert ExactGemm(np.full((2, 3), 300, np.int16), "int_mm").backend == "blas"
    x = np.array([[2000, -3, 7]], np.int16)
    np.testing.assert_array_equal(exact_matmul_int(x, wide_w, "blas"), reference_matmul(x, wide_w))


def test_auto_imports_torch_only_for_large_products(monkeypatch: pytest.MonkeyPatch) -> None:
    """``auto``: int_mm on an int8-dot CPU when torch is imported, or installed and the product
    reaches AUTO_IMPORT_MACS; BLAS otherwise (and always without int8 dot products)."""
    big = intgemm.AUTO_IMPORT_MACS
    monkeypatch.delitem(sys.modules, "torch", raising=False)
    for has_dot, installed, macs, want in [
        (True, True, big, "int_mm"), (True, True, big - 1, "blas"), (True, False, big, "blas"),
        (False, True, big, "blas"),
    ]:
        monkeypatch.setattr(intgemm, "_cpu_has_int8_dot", lambda has_dot=has_dot: has_dot)
        monkeypatch.setattr(intgemm, "_torch_installed", lambda installed=installed: installed)
        assert intgemm.resolve_backend("auto", macs) == want, (has_dot, installed, macs)
    monkeypatch.setitem(sys.modules, "torch", object())  # already imported: any size
    monkeypatch.setattr(intgemm, "_cpu_has_int8_dot", lambda: True)
    assert intgemm.resolve_backend("auto", 0) == "int_mm"
    assert intgemm.resolve_backend("blas", big) == "blas"


def test_auto_takes_blas_when_torch_does_not_import(monkeypatch: pytest.MonkeyPatch) -> None:
    """An installed torch that fails to import (a broken build) costs ``auto`` its int8 path,
    not the run: the product is exact on BLAS."""
    monkeypatch.setattr(intgemm, "_cpu_has_int8_dot", lambda: True)
    monkeypatch.setattr(intgemm, "_torch_installed", lambda: True)
    monkeypatch.setattr(intgemm, "_torch_or_none", lambda: None)
    rng = np.random.default_rng(3)
    x, w, _ = integers(rng, 5, 9, 4, 4, 16, 4, 0.3, 0)
    gemm = ExactGemm(w, "auto", tokens=intgemm.AUTO_IMPORT_MACS)
    assert gemm.backend == "blas"
    y, _ = gemm(x)
    np.testing.assert_array_equal(np.asarray(y).astype(np.int64), reference_matmul(x, w))


def test_float32_weights_reuse_a_collected_owners_buffer() -> None:
    """Two live ExactGemm objects never share a float32 weight buffer; once one is collected
    the next takes its buffer (no fresh pages), and every product stays exact."""
    import gc

    from spikesim.hw.intgemm import ScratchPool

    pool = ScratchPool()
    rng = np.random.default_rng(3)
    w1 = rng.integers(-7, 8, (40, 30)).astype(np.int8)
    w2 = rng.integers(-7, 8, (20, 30)).astype(np.int8)
    x = rng.integers(-7, 8, (5, 30)).astype(np.int8)

    class Owner:
        pass

    a, b = Owner(), Owner()
    fa, fb = pool.take(a, w1.shape), pool.take(b, w2.shape)
    assert not np.shares_memory(fa, fb)
    np.copyto(fa, w1, casting="unsafe")
    np.copyto(fb, w2, casting="unsafe")
    np.testing.assert_array_equal(fa, w1)
    np.testing.assert_array_equal(fb, w2)
    base = fa.base
    del fa, a
    gc.collect()
    c = Owner()
    fc = pool.take(c, w2.shape)  # smaller: fits the collected owner's buffer
    assert fc.base is base
    for w in (w1, w2):
        gemm = ExactGemm(w, "blas")
        y, _ = gemm(x)
        np.testing.assert_array_equal(np.asarray(y, np.int64), reference_matmul(x, w))

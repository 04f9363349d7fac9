"""Exact integer GEMM y = x̄ · w̄ᵀ for the functional truth, at BLAS or int8 speed.

Every backend returns an array ``y`` [M, N] whose entries are the exact integers Σ_i x̄_t,i w̄_j,i
(stored as float32, int32 or int64, whichever the backend produced: no copy to int64 when it is
not needed) and the per-token bound

    B_t = Σ_i |x̄_t,i| · max_j |w̄_j,i|   ≥   |every partial sum of token t's dot products|,

which proves exactness (float32 holds every partial sum exactly while B_t < 2^24, int32 while
B_t < 2^31) and lets the caller skip the overflow check of every token with B_t < 2^(acc_bits-1).
A token the backend cannot prove exact is recomputed in float64 (exact below 2^53) or int64.

Backends (all exact; chosen by ``backend=``):

* ``blas`` — float32 BLAS over the integers (numpy). Always available.
* ``int_mm`` — ``torch._int_mm`` (int8 × int8 → int32) over the dense part x̄ clipped to int8,
  plus an exact sparse correction for the wide values (salient values beyond int8, e.g. 16-bit),
  K split so every int32 partial sum is proved in range. torch is imported lazily. On CPUs without
  int8 dot-product instructions (AVX2 only: no VNNI/AMX) this is ~100x slower than ``blas``.
* ``onednn`` — oneDNN's u8·s8 linear with float32 output (torch), same dense/sparse split. Its
  AVX2 kernel adds u8·s8 products pairwise in saturating int16, so it is used only when
  2·255·max|w̄| < 2^15 (weights of at most 7 bits) and for tokens with B_t < 2^24; otherwise
  ``blas``.
* ``auto`` — ``int_mm`` when the CPU reports an int8 dot-product extension (avx512_vnni,
  avx_vnni or amx_int8 in /proc/cpuinfo) and torch is already imported, or is installed and the
  product is large enough to repay importing it (:data:`AUTO_IMPORT_MACS`); else ``blas``.

Twin: :func:`reference_matmul` (int64 NumPy) and :func:`reference_bound`.
"""

from __future__ import annotations

import importlib.util
import math
import sys
import threading
import warnings
import weakref
from functools import lru_cache
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray

from spikesim._jit import kernel_input, njit

Backend = Literal["auto", "blas", "int_mm", "onednn"]
BACKENDS: tuple[str, ...] = ("auto", "blas", "int_mm", "onednn")

FLOAT32_EXACT = 2**24
"""Integers below this magnitude, and every partial sum of them, are exact in float32."""
FLOAT64_EXACT = 2**53
INT32_EXACT = 2**31
INT8_LO, INT8_HI = -128, 127
ONEDNN_MAX_W = 64
"""oneDNN's AVX2 u8·s8 kernel sums two products in saturating int16: 2·255·64 < 2^15."""
AUTO_IMPORT_MACS = 2**36
"""Multiply-accumulates (tokens × N × K) from which ``auto`` imports torch for ``int_mm`` on a
CPU with int8 dot products. Measured on an AVX-512 VNNI EPYC (one thread): ``_int_mm`` takes
0.25 of BLAS's float32 time at every size from 512×64×64 to 512×11008×4096 (1.5e-11 s less per
MAC), and importing torch 1.3-1.9 s: one product of 2^36 MACs (a llama2-7b gate_proj at 1536
tokens) repays most of the import, and the products after it (torch stays imported) are gain."""


def reference_matmul(x_q: NDArray[np.integer], w_q: NDArray[np.integer]) -> NDArray[np.int64]:
    """Twin: x̄ · w̄ᵀ in int64."""
    return np.asarray(x_q, np.int64) @ np.asarray(w_q, np.int64).T


def column_max(w_q: NDArray[np.integer]) -> NDArray[np.int64]:
    """max_j |w̄_j,i| per input channel i ([K], int64), as max(max_j w̄, −min_j w̄): two
    reductions in the weights' own dtype (no int64 copy of w; a llama2-7b gate_proj 245×
    faster than |w| in int64), twin :func:`reference_column_max`."""
    w = np.asarray(w_q)
    if w.shape[0] == 0:
        return np.zeros(w.shape[1], np.int64)
    return np.maximum(w.max(axis=0).astype(np.int64), -w.min(axis=0).astype(np.int64))


def reference_column_max(w_q: NDArray[np.integer]) -> NDArray[np.int64]:
    """Twin of :func:`column_max`: |w̄| in int64, its maximum over the outputs."""
    w = np.asarray(w_q, np.int64)
    return np.abs(w).max(axis=0) if w.shape[0] else np.zeros(w.shape[1], np.int64)


def reference_bound(x_q: NDArray[np.integer], colmax: NDArray[np.int64]) -> NDArray[np.int64]:
    """Twin of :func:`token_bound`: B_t = Σ_i |x̄_t,i| · colmax_i."""
    return np.abs(np.asarray(x_q, np.int64)) @ np.asarray(colmax, np.int64)


@njit
def _token_bound(x: np.ndarray, colmax: np.ndarray, out: np.ndarray) -> None:
    m, k = x.shape
    for t in range(m):
        s = 0
        for i in range(k):
            v = np.int64(x[t, i])
            s += (v if v >= 0 else -v) * colmax[i]
        out[t] = s


def token_bound(x_q: NDArray[np.integer], colmax: NDArray[np.int64]) -> NDArray[np.int64]:
    """B_t = Σ_i |x̄_t,i| · max_j |w̄_j,i| (int64, [M]); numba, twin :func:`reference_bound`."""
    x = kernel_input(x_q)
    out = np.zeros(x.shape[0], np.int64)
    if x.size:
        _token_bound(x, np.ascontiguousarray(colmax, np.int64), out)
    return out


def split_wide(
    x_q: NDArray[np.integer],
) -> tuple[NDArray[np.int8], NDArray[np.intp], NDArray[np.intp], NDArray[np.int64]]:
    """x̄ = dense + sparse: ``dense`` [M, K] int8 holds every value that fits int8 (0 elsewhere);
    (rows, cols, vals) are the rest (salient values wider than 8 bits), row-major order."""
    x = np.asarray(x_q)
    if x.dtype == np.int8:
        empty = np.zeros(0, np.intp)
        return x, empty, empty, np.zeros(0, np.int64)
    wide = (x < INT8_LO) | (x > INT8_HI)
    rows, cols = np.nonzero(wide)
    vals = x[rows, cols].astype(np.int64)
    dense = np.where(wide, 0, x).astype(np.int8) if rows.size else x.astype(np.int8)
    return dense, rows, cols, vals


@njit
def _add_sparse(y: np.ndarray, rows: np.ndarray, slots: np.ndarray, vals: np.ndarray,
                w_used: np.ndarray) -> None:
    """y[r, :] += v · w_used[s, :] for each record (r, s, v); ``w_used`` is [C, N], one
    contiguous row per input channel used."""
    n = y.shape[1]
    for e in range(rows.shape[0]):
        r = rows[e]
        v = vals[e]
        w_row = w_used[slots[e]]
        for j in range(n):
            y[r, j] = y[r, j] + v * np.int64(w_row[j])


def add_sparse(y: np.ndarray, rows: NDArray[np.intp], cols: NDArray[np.intp],
               vals: NDArray[np.int64], w_q: NDArray[np.integer]) -> None:
    """In place: y[r, :] += v · w̄[:, c] per record; exact while y's type holds every partial
    sum (the caller's bound proves it). Twin: ``np.add.at`` in int64 (see the tests).

    The weight columns of the input channels that carry records are first gathered into rows
    of their own ([C, N]): read column by column from w̄ [N, K], every weight of a record was
    a separate cache line (a llama2-7b layer's ~0.2 % salient values took 6.4 s that way, four
    times the int8 GEMM itself)."""
    if rows.size:
        used, slots = np.unique(cols, return_inverse=True)
        w_used = np.ascontiguousarray(np.asarray(w_q)[:, used].T)
        _add_sparse(y, rows, slots.astype(np.intp, copy=False), vals, w_used)


@lru_cache(maxsize=1)
def _cpu_has_int8_dot() -> bool:
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as f:
            flags = f.read(1 << 16)
    except OSError:
        return False
    return any(flag in flags for flag in ("avx512_vnni", "avx_vnni", "amx_int8"))


@lru_cache(maxsize=1)
def _torch_installed() -> bool:
    return importlib.util.find_spec("torch") is not None


def resolve_backend(backend: str, macs: int = 0) -> str:
    """The concrete backend ``auto`` stands for, for a product of ``macs`` multiply-accumulates
    (see the module docstring)."""
    if backend not in BACKENDS:
        raise ValueError(f"unknown exact-GEMM backend {backend!r}; one of {BACKENDS}")
    if backend != "auto":
        return backend
    if _cpu_has_int8_dot() and (
        "torch" in sys.modules or (macs >= AUTO_IMPORT_MACS and _torch_installed())
    ):
        return "int_mm"
    return "blas"


@lru_cache(maxsize=1)
def _torch_or_none() -> Any:
    """The torch module, or None when it does not import (tried once per process)."""
    try:
        import torch
    except (ImportError, OSError):
        return None
    return torch


def _import_torch(*, required: bool) -> Any:
    """The torch module (an optional dependency, imported only for the int8 backends); None
    when it fails to import and the caller can do without (``auto``: an exact product does
    not need it); ``required``: its import error is raised."""
    torch = _torch_or_none()
    if torch is None and required:
        import torch  # raises the import's own error
    return torch


def _read_only_tensor(torch: Any, a: np.ndarray) -> Any:
    """``torch.from_numpy(a)`` for an array torch only reads: no copy, and no warning when
    ``a`` is read-only (a cached layer's arrays are; torch warns that it cannot protect
    them)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="The given NumPy array is not writable")
        return torch.from_numpy(a)


class ScratchPool:
    """Float32 buffers handed out for one owner at a time and taken back when it is collected.

    A buffer of tens of MB from ``np.empty`` / ``astype`` is a fresh ``mmap`` each time (glibc
    maps every block above 32 MB), and filling it page-faults every 4 KiB: converting a
    llama2-7b gate_proj's integer weights to float32 took 0.5-0.7 s that way against 0.01-0.02 s
    into a buffer already touched. The pool keeps the largest buffer returned to it (one: the
    layers of a run are converted one after the other) and gives it to the next owner that
    fits; an owner never shares its buffer (two live owners get two buffers).
    """

    def __init__(self) -> None:
        self._free: list[NDArray[np.float32]] = []
        self._lock = threading.Lock()

    def take(self, owner: object, shape: tuple[int, ...]) -> NDArray[np.float32]:
        """A float32 array of ``shape`` (contents undefined) for ``owner``; its buffer comes
        back to the pool when ``owner`` is garbage-collected."""
        size = math.prod(shape)
        with self._lock:
            buf = self._free.pop() if self._free else None
        if buf is None or buf.size < size:
            buf = np.empty(size, np.float32)
        weakref.finalize(owner, self._give, buf)
        return buf[:size].reshape(shape)

    def _give(self, buf: NDArray[np.float32]) -> None:
        with self._lock:
            if not self._free or self._free[0].size < buf.size:
                self._free[:] = [buf]


SCRATCH = ScratchPool()
"""The pool of :attr:`ExactGemm.w_f32` buffers."""


class ExactGemm:
    """One layer's weights prepared for exact products with any token chunk x̄ [m, K]."""

    int32_limit: int = INT32_EXACT
    """Magnitude below which int32 partial sums are trusted (a smaller one: tests of K blocks)."""

    def __init__(self, w_q: NDArray[np.integer], backend: str = "auto",
                 exact_limit: int = FLOAT32_EXACT, tokens: int = 0) -> None:
        """``tokens``: how many token rows the products will hold in all (``auto``'s choice:
        :func:`resolve_backend` of tokens × N × K)."""
        self.exact_limit = min(exact_limit, FLOAT32_EXACT)  # a smaller one: tests of the fallback
        self.w_q = np.ascontiguousarray(w_q)
        self.n, self.k = int(self.w_q.shape[0]), int(self.w_q.shape[1])
        self.colmax = column_max(self.w_q)
        self.w_max = int(self.colmax.max(initial=0))
        self.backend = resolve_backend(backend, tokens * self.n * self.k)
        if self.backend == "onednn" and (
            self.w_max > ONEDNN_MAX_W or 255 * self.k * max(1, self.w_max) >= INT32_EXACT
        ):
            self.backend = "blas"
        if self.w_max > INT8_HI + 1 and self.backend != "blas":
            self.backend = "blas"  # weights wider than int8: no int8 path
        self._w_f32: NDArray[np.float32] | None = None
        self._torch: Any = None
        self._w_t: Any = None
        if self.backend in ("int_mm", "onednn") and self.n and self.k:
            torch = _import_torch(required=backend != "auto")
            if torch is None:  # auto chose it, but torch does not import here: BLAS
                self.backend = "blas"
                return
            self._torch = torch
            w8 = _read_only_tensor(torch, self.w_q.astype(np.int8, copy=False))
            if self.backend == "int_mm":
                self._w_t = w8.t()  # [K, N] view; _int_mm accepts it
            else:
                self._w_t = torch.ops.onednn.qlinear_prepack(w8.contiguous(), None)

    @property
    def w_f32(self) -> NDArray[np.float32]:
        """``w_q`` as float32 [N, K], in a buffer of :data:`SCRATCH` (this object's own until
        it is collected)."""
        if self._w_f32 is None:
            self._w_f32 = SCRATCH.take(self, (self.n, self.k))
            np.copyto(self._w_f32, self.w_q, casting="unsafe")
        return self._w_f32

    def __call__(self, x_q: NDArray[np.integer]) -> tuple[np.ndarray, NDArray[np.int64]]:
        """(y, B): y [m, N] exact integers (float32, int32 or int64), B [m] the token bounds."""
        x = np.ascontiguousarray(x_q)
        bound = token_bound(x, self.colmax)
        m = x.shape[0]
        if m == 0 or self.n == 0 or self.k == 0:
            return np.zeros((m, self.n), np.int64), bound
        if self.backend == "int_mm":
            y = self._int_mm(x, bound)
        elif self.backend == "onednn":
            y = self._onednn(x, bound)
        else:
            y = x.astype(np.float32) @ self.w_f32.T
            y = self._fix_wide(y, x, bound, self.exact_limit)
        return y, bound

    def _fix_wide(self, y: np.ndarray, x: np.ndarray, bound: NDArray[np.int64],
                  limit: int) -> np.ndarray:
        """Recompute the tokens whose bound does not prove ``y`` exact (float64, else int64)."""
        wide = np.flatnonzero(bound >= limit)
        if not wide.size:
            return y
        y = y.astype(np.int64)
        if int(bound[wide].max()) < FLOAT64_EXACT:
            part = x[wide].astype(np.float64) @ self.w_q.astype(np.float64).T
            y[wide] = part.astype(np.int64)
        else:  # pragma: no cover - needs sums beyond 2^53
            y[wide] = reference_matmul(x[wide], self.w_q)
        return y

    def _int_mm(self, x: np.ndarray, bound: NDArray[np.int64]) -> np.ndarray:
        torch = self._torch
        dense, rows, cols, vals = split_wide(x)
        a = _read_only_tensor(torch, dense)
        # every int32 partial sum of one K block is at most kb · 128 · max|w| < 2^31
        kb = max(1, (self.int32_limit - 1) // (128 * max(1, self.w_max)))
        if kb >= self.k > 1:
            y = torch._int_mm(a, self._w_t).numpy()
        else:
            acc = np.zeros((x.shape[0], self.n), np.int64)
            for k0 in range(0, self.k, kb):
                k1 = min(self.k, k0 + kb)
                if k1 - k0 == 1:  # torch 2.13's CPU _int_mm sums wrongly at K = 1 (N > 1)
                    acc += np.outer(dense[:, k0].astype(np.int64),
                                    self.w_q[:, k0].astype(np.int64))
                else:
                    acc += torch._int_mm(a[:, k0:k1].contiguous(), self._w_t[k0:k1]).numpy()
            y = acc
        if rows.size:
            if y.dtype != np.int64 and int(bound.max()) >= self.int32_limit:
                y = y.astype(np.int64)  # the sparse correction may leave int32
            add_sparse(y, rows, cols, vals, self.w_q)
        return np.asarray(y)

    def _onednn(self, x: np.ndarray, bound: NDArray[np.int64]) -> np.ndarray:
        torch = self._torch
        dense, rows, cols, vals = split_wide(x)
        xu = torch.from_numpy((dense.astype(np.int16) + 128).astype(np.uint8))
        y = torch.ops.onednn.qlinear_pointwise(
            xu, 1.0, 128, self._w_t, torch.ones(self.n), torch.zeros(self.n, dtype=torch.int64),
            None, 1.0, 0, torch.float32, "none", [], "",
        ).numpy()
        # its int32 accumulator holds 255 · K · max|w| < 2^31 (checked at construction); the
        # float32 output, and the correction added to it, are exact while B_t < 2^24
        add_sparse(y, rows, cols, vals, self.w_q)
        return self._fix_wide(y, x, bound, self.exact_limit)


def exact_matmul_int(
    x_q: NDArray[np.integer], w_q: NDArray[np.integer], backend: str = "auto"
) -> NDArray[np.int64]:
    """x̄ · w̄ᵀ exactly, as int64 (convenience over :class:`ExactGemm`; twin
    :func:`reference_matmul`)."""
    y, _ = ExactGemm(w_q, backend)(x_q)
    return np.asarray(y).astype(np.int64)

"""NumPy's float32 normal and gamma draws from a PCG64 ``Generator``, bit for bit, at numba speed.

The synthetic workloads draw a few hundred million float32 values per llama2-7b block through
``Generator.standard_normal(dtype=float32)`` and ``Generator.standard_gamma(dtype=float32)``.
NumPy fills those arrays one value at a time through two function pointers (the distribution,
then the bit generator's ``next_uint32``): about 9-13 ns a normal and 16-26 ns a gamma here,
most of it call overhead around a ziggurat whose fast path is a table lookup and a multiply.
This module runs the same algorithms in one numba loop with the generator's state in
registers (3-4 ns a normal, 7 ns a gamma), reading the state from the ``Generator`` and writing
the advanced state back, so every draw after it — NumPy's or ours — is the one NumPy alone
would have made.

What is reproduced, exactly as NumPy 2 defines it:

* PCG64 (XSL-RR 128/64): ``state ← state · M + inc (mod 2^128)``, output
  ``rotr64(hi ^ lo, hi >> 58)``; ``next_uint32`` returns the low half of a fresh 64-bit output
  and keeps the high half for the next call (``has_uint32``/``uinteger`` of the state dict).
* The float32 ziggurat of Marsaglia & Tsang (2000), 256 layers, r = 3.6541528853610088,
  v = 4.92867323399e-3: one ``next_uint32`` gives the layer (8 bits), the sign (1) and a
  23-bit magnitude; tables built here by the paper's construction (:func:`ziggurat_tables`).
* Marsaglia & Tsang's gamma for shape a > 1 (float32 arithmetic, ``logf``; the normals come
  from the ziggurat, the uniforms are ``(next_uint32 >> 8) · 2^-24``).

Anything else (another bit generator, shape ≤ 1) goes to NumPy. Before the first use in a
process the kernels are compared with NumPy on a fixed draw that exercises the rare paths
(:func:`agrees_with_numpy`); if the installed NumPy draws differently, NumPy is used throughout.
Twin: NumPy itself (``tests/trace/test_pcg64.py`` compares values and the state after).
"""

from __future__ import annotations

import math
from functools import lru_cache
from typing import Any

import numpy as np

from spikesim._bitops import mul_high
from spikesim._jit import njit

ZIGGURAT_R = 3.6541528853610087963519472518
"""x of the base strip's right edge (256-layer normal ziggurat)."""
ZIGGURAT_V = 4.92867323399e-3
"""Area of every layer."""
_MAGNITUDE_SCALE = 2.0**23
"""The float32 ziggurat's magnitudes are 23-bit integers."""

_MULT_HI = np.uint64(2549297995355413924)
_MULT_LO = np.uint64(4865540595714422341)
"""PCG64's 128-bit LCG multiplier, high and low 64 bits."""
_LOW32 = np.uint64(0xFFFFFFFF)
_R_F32 = np.float32(ZIGGURAT_R)
_INV_R_F32 = np.float32(1.0 / ZIGGURAT_R)
_UNIFORM_F32 = np.float32(1.0 / 16777216.0)

# state vector of the kernels (uint64[6]): the 128-bit state and increment, the buffered half
_S_HI, _S_LO, _INC_HI, _INC_LO, _HAS32, _HALF = range(6)


def ziggurat_tables() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(k, w, f)`` of the float32 normal ziggurat: ``k`` [256] uint32 magnitude thresholds of
    the fast path, ``w`` [256] float32 x per magnitude unit, ``f`` [256] float32 density at
    each layer's edge. Marsaglia & Tsang's construction in float64 (edges x_i from
    x_{i+1} by equal areas v), scaled to 23-bit magnitudes, ``k`` rounded to nearest."""
    x = ZIGGURAT_R
    q = ZIGGURAT_V / math.exp(-0.5 * x * x)
    k = [0.0] * 256
    w = [0.0] * 256
    f = [0.0] * 256
    k[0] = x / q * _MAGNITUDE_SCALE
    w[0] = q / _MAGNITUDE_SCALE
    w[255] = x / _MAGNITUDE_SCALE
    f[0] = 1.0
    f[255] = math.exp(-0.5 * x * x)
    outer = x
    for i in range(254, 0, -1):
        x = math.sqrt(-2.0 * math.log(ZIGGURAT_V / x + math.exp(-0.5 * x * x)))
        k[i + 1] = x / outer * _MAGNITUDE_SCALE
        outer = x
        f[i] = math.exp(-0.5 * x * x)
        w[i] = x / _MAGNITUDE_SCALE
    return (np.array([round(v) for v in k], np.uint32), np.array(w, np.float32),
            np.array(f, np.float32))


_K, _W, _F = ziggurat_tables()


@njit
def _step(s_hi: np.uint64, s_lo: np.uint64, inc_hi: np.uint64, inc_lo: np.uint64
          ) -> tuple[np.uint64, np.uint64, np.uint64]:
    """One PCG64 step: the new state (hi, lo) and its 64-bit XSL-RR output."""
    lo = s_lo * _MULT_LO
    hi = mul_high(s_lo, _MULT_LO) + s_lo * _MULT_HI + s_hi * _MULT_LO
    new_lo = lo + inc_lo
    new_hi = hi + inc_hi + (np.uint64(1) if new_lo < lo else np.uint64(0))
    folded = new_hi ^ new_lo
    rot = new_hi >> np.uint64(58)
    return new_hi, new_lo, (folded >> rot) | (folded << ((np.uint64(64) - rot) & np.uint64(63)))


@njit
def _draw32(s_hi: np.uint64, s_lo: np.uint64, inc_hi: np.uint64, inc_lo: np.uint64, has: bool,
            half: np.uint32) -> tuple[np.uint64, np.uint64, bool, np.uint32, np.uint32]:
    """NumPy's PCG64 ``next_uint32`` on a state held in locals: the buffered high half of
    the last 64-bit output if there is one, else the low half of a fresh output (its high
    half buffered). Returns the new (s_hi, s_lo, has, half) and the draw."""
    if has:
        return s_hi, s_lo, False, half, half
    s_hi, s_lo, bits = _step(s_hi, s_lo, inc_hi, inc_lo)
    return s_hi, s_lo, True, np.uint32(bits >> np.uint64(32)), np.uint32(bits & _LOW32)


@njit
def _next_uint32(st: np.ndarray) -> np.uint32:
    """:func:`_draw32` on the state vector ``st`` (the rare paths)."""
    s_hi, s_lo, has, half, r = _draw32(st[_S_HI], st[_S_LO], st[_INC_HI], st[_INC_LO],
                                       st[_HAS32] != 0, np.uint32(st[_HALF]))
    st[_S_HI] = s_hi
    st[_S_LO] = s_lo
    st[_HAS32] = np.uint64(1 if has else 0)
    st[_HALF] = np.uint64(half)
    return r


@njit
def _next_float(st: np.ndarray) -> np.float32:
    """A uniform float32 in [0, 1): the top 24 bits of ``next_uint32`` times 2^-24."""
    return np.float32(_next_uint32(st) >> np.uint32(8)) * _UNIFORM_F32


@njit
def _fast_normal(r: np.uint32, k: np.ndarray, w: np.ndarray) -> tuple[np.float32, bool]:
    """The ziggurat's fast path on draw ``r``: layer r & 255, sign bit 8, 23-bit magnitude
    above; the value and whether it is accepted (magnitude below the layer's threshold)."""
    idx = r & np.uint32(0xFF)
    rabs = (r >> np.uint32(9)) & np.uint32(0x007FFFFF)
    x = np.float32(rabs) * w[idx]
    if (r >> np.uint32(8)) & np.uint32(1):
        x = -x
    return x, rabs < k[idx]


@njit
def _normal_rejected(st: np.ndarray, r: np.uint32, x: np.float32, k: np.ndarray,
                     w: np.ndarray, f: np.ndarray) -> np.float32:
    """The ziggurat's rare paths after draw ``r`` (value ``x``) missed the fast path: the
    tail beyond R for the base layer, the wedge test otherwise; a rejected draw starts over."""
    while True:
        idx = r & np.uint32(0xFF)
        if idx == 0:  # tail: x = R + E1/R with E2 acceptance (1 - U: never log(0))
            while True:
                xx = -_INV_R_F32 * np.float32(math.log1p(-_next_float(st)))
                yy = -np.float32(math.log1p(-_next_float(st)))
                if yy + yy > xx * xx:
                    if (r >> np.uint32(17)) & np.uint32(1):  # bit 8 of the magnitude
                        return -(_R_F32 + xx)
                    return _R_F32 + xx
        u = _next_float(st)
        if np.float64((f[idx - 1] - f[idx]) * u + f[idx]) < math.exp(-0.5 * np.float64(x) *
                                                                     np.float64(x)):
            return x
        r = _next_uint32(st)  # rejected: a fresh draw, fast path first
        x, accepted = _fast_normal(r, k, w)
        if accepted:
            return x


@njit
def _fill_normal(st: np.ndarray, out: np.ndarray, k: np.ndarray, w: np.ndarray,
                 f: np.ndarray) -> None:
    """``out`` (1-D float32) ← standard normals; the fast path keeps the state in locals."""
    s_hi, s_lo, inc_hi, inc_lo = st[_S_HI], st[_S_LO], st[_INC_HI], st[_INC_LO]
    has, half = st[_HAS32] != 0, np.uint32(st[_HALF])
    for i in range(out.shape[0]):
        s_hi, s_lo, has, half, r = _draw32(s_hi, s_lo, inc_hi, inc_lo, has, half)
        x, accepted = _fast_normal(r, k, w)
        if not accepted:
            st[_S_HI], st[_S_LO], st[_HAS32], st[_HALF] = s_hi, s_lo, has, half
            x = _normal_rejected(st, r, x, k, w, f)
            s_hi, s_lo, has, half = st[_S_HI], st[_S_LO], st[_HAS32] != 0, np.uint32(st[_HALF])
        out[i] = x
    st[_S_HI], st[_S_LO], st[_HAS32], st[_HALF] = s_hi, s_lo, has, half


@njit
def _fill_gamma(st: np.ndarray, shape: np.float32, out: np.ndarray, k: np.ndarray,
                w: np.ndarray, f: np.ndarray) -> None:
    """``out`` (1-D float32) ← standard gamma of ``shape`` > 1 (Marsaglia & Tsang, float32:
    X normal, V = (1 + cX)^3, accept b·V on U < 1 - 0.0331 X^4 or on the log test)."""
    b = shape - np.float32(1.0) / np.float32(3.0)
    c = np.float32(1.0) / np.float32(math.sqrt(np.float32(9.0) * b))
    one = np.float32(1.0)
    s_hi, s_lo, inc_hi, inc_lo = st[_S_HI], st[_S_LO], st[_INC_HI], st[_INC_LO]
    has, half = st[_HAS32] != 0, np.uint32(st[_HALF])
    for i in range(out.shape[0]):
        while True:
            s_hi, s_lo, has, half, r = _draw32(s_hi, s_lo, inc_hi, inc_lo, has, half)
            x, accepted = _fast_normal(r, k, w)
            if not accepted:
                st[_S_HI], st[_S_LO], st[_HAS32], st[_HALF] = s_hi, s_lo, has, half
                x = _normal_rejected(st, r, x, k, w, f)
                s_hi, s_lo = st[_S_HI], st[_S_LO]
                has, half = st[_HAS32] != 0, np.uint32(st[_HALF])
            v = one + c * x
            if v <= np.float32(0.0):
                continue
            v = v * v * v
            s_hi, s_lo, has, half, r = _draw32(s_hi, s_lo, inc_hi, inc_lo, has, half)
            u = np.float32(r >> np.uint32(8)) * _UNIFORM_F32
            if u < one - np.float32(0.0331) * (x * x) * (x * x):
                break
            if np.float32(math.log(u)) < np.float32(0.5) * x * x + b * (
                    one - v + np.float32(math.log(v))):
                break
        out[i] = b * v
    st[_S_HI], st[_S_LO], st[_HAS32], st[_HALF] = s_hi, s_lo, has, half


def _read_state(bit_generator: np.random.PCG64) -> np.ndarray:
    state = bit_generator.state
    st = np.zeros(6, np.uint64)
    lcg = state["state"]
    st[_S_HI], st[_S_LO] = lcg["state"] >> 64, lcg["state"] & (2**64 - 1)
    st[_INC_HI], st[_INC_LO] = lcg["inc"] >> 64, lcg["inc"] & (2**64 - 1)
    st[_HAS32], st[_HALF] = state["has_uint32"], state["uinteger"]
    return st


def _write_state(bit_generator: np.random.PCG64, st: np.ndarray) -> None:
    state = bit_generator.state
    state["state"]["state"] = (int(st[_S_HI]) << 64) | int(st[_S_LO])
    state["has_uint32"] = int(st[_HAS32])
    state["uinteger"] = int(st[_HALF])
    bit_generator.state = state


def standard_normal(rng: np.random.Generator, shape: int | tuple[int, ...]) -> np.ndarray:
    """``rng.standard_normal(shape, dtype=np.float32)``, bit for bit, ``rng`` advanced alike."""
    if not _ours(rng):
        return rng.standard_normal(shape, dtype=np.float32)
    return _drawn(rng, shape, _fill_normal)


def standard_gamma(rng: np.random.Generator, a: float,
                   shape: int | tuple[int, ...]) -> np.ndarray:
    """``rng.standard_gamma(a, shape, dtype=np.float32)``, bit for bit, ``rng`` advanced
    alike (NumPy itself for ``a`` ≤ 1)."""
    a32 = np.float32(a)
    if not (a32 > 1.0 and math.isfinite(a32)) or not _ours(rng):
        return rng.standard_gamma(a, shape, dtype=np.float32)
    return _drawn(rng, shape, _fill_gamma, a32)


def _drawn(rng: np.random.Generator, shape: int | tuple[int, ...], fill: Any,
           *params: Any) -> np.ndarray:
    """A float32 array of ``shape`` filled by kernel ``fill`` (arguments: the state vector,
    ``params``, the flat output, the ziggurat tables) from ``rng``'s state, which is then
    advanced to where the kernel left it."""
    out = np.empty(shape, np.float32)
    st = _read_state(rng.bit_generator)  # type: ignore[arg-type]
    fill(st, *params, out.reshape(-1), _K, _W, _F)
    _write_state(rng.bit_generator, st)  # type: ignore[arg-type]
    return out


def _ours(rng: np.random.Generator) -> bool:
    return type(rng.bit_generator) is np.random.PCG64 and agrees_with_numpy()


CHECK_SEED = 20251022
CHECK_DRAWS = 40_001
"""The start-up comparison: enough normals that the tail and wedge paths occur (each ~1 in
4,000 and ~1 in 150 draws), an odd count so the buffered half is carried over."""


@lru_cache(maxsize=1)
def agrees_with_numpy() -> bool:
    """Whether the kernels reproduce this NumPy's draws (values and the state after) on a
    fixed seed: normals, then gammas of shape 2.5 and 1.7. Checked once per process."""
    mine = np.random.default_rng(CHECK_SEED)
    theirs = np.random.default_rng(CHECK_SEED)
    for a in (None, 2.5, 1.7):
        want = (theirs.standard_normal(CHECK_DRAWS, dtype=np.float32) if a is None
                else theirs.standard_gamma(a, CHECK_DRAWS, dtype=np.float32))
        out = (_drawn(mine, CHECK_DRAWS, _fill_normal) if a is None
               else _drawn(mine, CHECK_DRAWS, _fill_gamma, np.float32(a)))
        if not np.array_equal(out.view(np.uint32), want.view(np.uint32)):
            return False
    return bool(mine.bit_generator.state == theirs.bit_generator.state)

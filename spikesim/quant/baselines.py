"""Quantizers of the MAC-array baselines: W4A4 RTN, Atom, SpikeLLM and FP16.

Each returns a :class:`MacQuantized`: the integer GEMM passes the MAC array runs (with their
operand widths and scales), what is stored per token, and the dequantized ("fake-quantized")
output for accuracy checks. One salient-ratio definition applies to every design (SpikeQuant
too): **the fraction of activation elements kept at the wider precision** (elements, not
channels; a channel kept wide for all M tokens counts M elements).

- ``mac-w4a4``: symmetric per-output-channel INT4 weights, symmetric per-token INT4 activations.
- ``atom``: the ``keepers`` input channels with the largest Σ_t x² on the calibration tokens keep
  INT8 with their own per-token scale; the rest are INT4 per token (scale clipped by
  ``clip_ratio``, optionally per group of ``group_size`` channels). Two GEMM passes, each
  dequantized (per group), then added. Weights RTN INT4 (Atom uses GPTQ; we use RTN for all).
- ``spikellm``: the ``salient_fraction`` of input channels with the largest |mean_t((x W^T W) ⊙ x)|
  on the calibration tokens get act_bits + extra_bits bits with their own per-token scale, and are
  split into 2^extra_bits time steps of act_bits-wide multi-bit spikes (each step clipped to
  ±(2^(b-1)-1), the remainder carried to the next step). The normal channels are INT4 per token.
  Two dequantized passes (the salient steps share one accumulator). SpikeLLM uses asymmetric
  per-token activations; we use symmetric ones for every design (one convention).
- ``fp16``: float16 weights and activations, FP16 multiply-accumulate, no quantization.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from spikesim.config.quant import QuantConfig
from spikesim.quant.kernels import rtn_rows, rtn_weights
from spikesim.quant.rtn import group_bounds, int_dtype, qmax


class LazyWeights:
    """A pass's quantized weights (``w_q``, ``w_scale``), computed on first use: the array's
    simulation reads only the pass's shapes and activations, the accuracy path
    (:meth:`MacQuantized.output`) and the references read the weights."""

    def __init__(self, make: Callable[[], tuple[NDArray[np.generic], NDArray[np.float32]]]):
        self._make = make

    @functools.cached_property
    def values(self) -> tuple[NDArray[np.generic], NDArray[np.float32]]:
        return self._make()


@dataclass(frozen=True, eq=False)
class GemmPass:
    """One GEMM pass on the MAC array over input ``channels``.

    ``x_q`` [M, k_p] and ``w_q`` [N, k_p] are integers (floats for fp16); scales are
    [M, groups] and [N, groups] (groups along the pass's channels, in order). ``dequantized``
    is False for a pass that accumulates into the previous pass's integer accumulator (a later
    SpikeLLM time step), so it needs no dequantization of its own.
    """

    label: str
    channels: NDArray[np.int64]
    x_q: NDArray[np.generic]
    x_scale: NDArray[np.float32]
    weights: LazyWeights
    act_bits: int
    weight_bits: int
    dequantized: bool = True
    group_size: int | None = None
    """Scale groups of ``group_size`` consecutive channels of the pass (None: one scale)."""

    @property
    def k(self) -> int:
        return int(self.channels.shape[0])

    @property
    def w_q(self) -> NDArray[np.generic]:
        """Integer weights [N, k_p] (floats for fp16), quantized on first use."""
        return self.weights.values[0]

    @property
    def w_scale(self) -> NDArray[np.float32]:
        """Weight scales [N, groups]."""
        return self.weights.values[1]

    @property
    def groups(self) -> int:
        return int(self.x_scale.shape[1])

    def output(self) -> NDArray[np.float64]:
        """This pass's dequantized contribution to y = x W^T ([M, N], float64)."""
        m, n = self.x_q.shape[0], self.w_q.shape[0]
        y = np.zeros((m, n))
        for g, (a, b) in enumerate(group_bounds(self.k, self.group_size)):
            xs = self.x_q[:, a:b].astype(np.float64) * self.x_scale[:, g : g + 1]
            ws = self.w_q[:, a:b].astype(np.float64) * self.w_scale[:, g : g + 1]
            y += xs @ ws.T
        return y


@dataclass(frozen=True, eq=False)
class MacQuantized:
    """A layer quantized for a MAC-array design."""

    name: str
    op: str
    tokens: int
    k: int
    n: int
    passes: tuple[GemmPass, ...]
    floating: bool
    """True for fp16 (FP16 MACs), False for integer MACs."""
    salient_ratio: float
    """Fraction of activation elements kept at the wider precision."""
    act_bits_per_token: int
    """Bits one token's activations occupy in the activation SRAM."""
    weight_bits: int
    output_bits: int

    def output(self) -> NDArray[np.float64]:
        """Dequantized output Σ_pass (x̄ s_x)(w̄ s_w)^T, [M, N]."""
        return np.sum([p.output() for p in self.passes], axis=0)


def _weights(
    w: NDArray[np.float32], bits: int, channels: NDArray[np.int64], group_size: int | None
) -> LazyWeights:
    return LazyWeights(lambda: _quantize_weights(w, bits, channels, group_size))


def _quantize_weights(
    w: NDArray[np.float32], bits: int, channels: NDArray[np.int64], group_size: int | None
) -> tuple[NDArray[np.signedinteger], NDArray[np.float32]]:
    whole = channels.shape[0] == w.shape[1] and bool(np.all(channels == np.arange(w.shape[1])))
    sub = np.ascontiguousarray(w if whole else w[:, channels])  # no gather of every column
    if group_size is None:
        w_q, s = rtn_weights(sub, bits)
        return w_q, s[:, None]
    return rtn_rows(sub, bits, group_size)


def quantize_w4a4(name: str, op: str, x: NDArray[np.float32], w: NDArray[np.float32],
                  cfg: QuantConfig) -> MacQuantized:
    """Plain RTN W4A4 (``mac-w4a4``)."""
    m, k = x.shape
    ch = np.arange(k)
    x_q, x_s = rtn_rows(x, cfg.act_bits)
    p = GemmPass("int4", ch, x_q, x_s, _weights(w, cfg.weight_bits, ch, None), cfg.act_bits,
                 cfg.weight_bits)
    return MacQuantized(name, op, m, k, w.shape[0], (p,), False, 0.0,
                        k * cfg.act_bits, cfg.weight_bits, cfg.output_bits)


def quantize_atom(name: str, op: str, x: NDArray[np.float32], w: NDArray[np.float32],
                  cfg: QuantConfig) -> MacQuantized:
    """Atom: static INT8 keepers by Σx² on calibration tokens, the rest INT4 (``atom``)."""
    a = cfg.atom
    m, k = x.shape
    keep = min(a.keepers, k)
    energy = np.sum(np.square(x[: cfg.calibration_tokens], dtype=np.float64), axis=0)
    order = np.argsort(-energy, kind="stable")
    keepers = np.sort(order[:keep])
    normal = np.sort(order[keep:])
    passes = []
    if normal.size:
        x_q, x_s = rtn_rows(x[:, normal], cfg.act_bits, a.group_size, a.clip_ratio)
        weights = _weights(w, cfg.weight_bits, normal, a.group_size)
        passes.append(GemmPass("int4", normal, x_q, x_s, weights, cfg.act_bits, cfg.weight_bits,
                               group_size=a.group_size))
    if keepers.size:
        x_q, x_s = rtn_rows(x[:, keepers], a.keeper_bits)
        weights = _weights(w, cfg.weight_bits, keepers, None)
        passes.append(GemmPass("int8 keepers", keepers, x_q, x_s, weights, a.keeper_bits,
                               cfg.weight_bits))
    bits = normal.size * cfg.act_bits + keepers.size * a.keeper_bits
    return MacQuantized(name, op, m, k, w.shape[0], tuple(passes), False,
                        keep / k if k else 0.0, bits, cfg.weight_bits, cfg.output_bits)


def spikellm_channels(x: NDArray[np.float32], w: NDArray[np.float32], count: int
                      ) -> NDArray[np.int64]:
    """The ``count`` input channels with the largest |mean_t((x W^T W) ⊙ x)| (sorted)."""
    xf = x.astype(np.float32)
    proxy = np.abs(np.mean(((xf @ w.T) @ w) * xf, axis=0, dtype=np.float64))
    return np.sort(np.argsort(-proxy, kind="stable")[:count]).astype(np.int64)


def quantize_spikellm(name: str, op: str, x: NDArray[np.float32], w: NDArray[np.float32],
                      cfg: QuantConfig) -> MacQuantized:
    """SpikeLLM: salient channels at b+extra bits, spread over 2^extra steps (``spikellm``)."""
    s = cfg.spikellm
    m, k = x.shape
    count = round(s.salient_fraction * k)
    salient = spikellm_channels(x[: cfg.calibration_tokens], w, count)
    normal = np.setdiff1d(np.arange(k), salient)
    passes = []
    if normal.size:
        x_q, x_s = rtn_rows(x[:, normal], cfg.act_bits)
        weights = _weights(w, cfg.weight_bits, normal, None)
        passes.append(GemmPass("int4", normal, x_q, x_s, weights, cfg.act_bits, cfg.weight_bits))
    if salient.size:
        wide = cfg.act_bits + s.extra_bits
        x_q, x_s = rtn_rows(x[:, salient], wide)
        weights = _weights(w, cfg.weight_bits, salient, None)  # shared by every step
        remaining = x_q.astype(np.int32)
        lim = qmax(cfg.act_bits)
        for step in range(2**s.extra_bits):
            spike = np.clip(remaining, -lim, lim)
            remaining = remaining - spike
            passes.append(GemmPass(f"salient step {step + 1}", salient,
                                   spike.astype(int_dtype(cfg.act_bits)), x_s, weights,
                                   cfg.act_bits, cfg.weight_bits, dequantized=step == 0))
    bits = normal.size * cfg.act_bits + salient.size * (cfg.act_bits + s.extra_bits)
    return MacQuantized(name, op, m, k, w.shape[0], tuple(passes), False,
                        salient.size / k if k else 0.0, bits, cfg.weight_bits, cfg.output_bits)


def quantize_fp16(name: str, op: str, x: NDArray[np.float32], w: NDArray[np.float32],
                  cfg: QuantConfig) -> MacQuantized:
    """FP16 weights and activations (``fp16``): no quantization, FP16 MACs."""
    m, k = x.shape
    ch = np.arange(k)
    one_x = np.ones((m, 1), np.float32)
    one_w = np.ones((w.shape[0], 1), np.float32)
    weights = LazyWeights(lambda: (w.astype(np.float16), one_w))
    p = GemmPass("fp16", ch, x.astype(np.float16), one_x, weights, 16, 16)
    return MacQuantized(name, op, m, k, w.shape[0], (p,), True, 0.0, k * 16, 16, 16)


QUANT_FIELDS: dict[Callable[..., MacQuantized], tuple[str, ...]] = {
    quantize_w4a4: ("act_bits", "weight_bits", "output_bits"),
    quantize_atom: ("act_bits", "weight_bits", "output_bits", "calibration_tokens", "atom"),
    quantize_spikellm: (
        "act_bits", "weight_bits", "output_bits", "calibration_tokens", "spikellm"
    ),
    quantize_fp16: (),
}
"""The :class:`~spikesim.config.quant.QuantConfig` fields (a section: all of it) each quantizer
reads, its lazy weights included (the cache of quantized layers keys on exactly these: keep
them in step)."""


def pass_weights(
    w: Callable[[], NDArray[np.float32]], floating: bool, bits: int,
    channels: NDArray[np.int64], group_size: int | None,
) -> LazyWeights:
    """A pass's lazy weights from the float weights ``w()`` (read on first use), as the
    quantizers above make them: float16 for an fp16 pass, else RTN at ``bits`` over
    ``channels`` in groups of ``group_size``."""
    if floating:

        def fp16() -> tuple[NDArray[np.generic], NDArray[np.float32]]:
            values = w()
            return values.astype(np.float16), np.ones((values.shape[0], 1), np.float32)

        return LazyWeights(fp16)
    return LazyWeights(lambda: _quantize_weights(w(), bits, channels, group_size))

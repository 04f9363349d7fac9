"""QuantizedLayer: the integers, scales and salient mask of one linear layer, ready to map.

The output side of threshold folding lives here too: a static per-layer output scale s_y
(calibrated on the first ``calibration_tokens`` tokens of the float output y = x W^T) and the
fixed-point threshold θ_t,j = s_y / (s_x,t · s_w,j) with ``frac_bits`` fractional bits, so the
IF neuron's output spike count is the re-quantized output ȳ = round(y / s_y) (or floor).
"""

from __future__ import annotations

import hashlib
import threading
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol

import numpy as np
from numpy.typing import NDArray

from spikesim.config.quant import QuantConfig
from spikesim.quant.kernels import rtn_rows, rtn_weights, spikequant_rows
from spikesim.quant.rtn import qmax


class Method(StrEnum):
    """Activation quantization method of a spiking design."""

    SPIKEQUANT = "spikequant"
    RTN = "rtn"


QUANT_FIELDS: dict[Method, tuple[str, ...]] = {
    Method.SPIKEQUANT: (
        "weight_group_size", "weight_bits", "act_bits", "salient_bits", "mad_k", "output_bits",
        "calibration_tokens",
    ),
    Method.RTN: ("weight_group_size", "weight_bits", "act_bits", "output_bits",
                 "calibration_tokens"),
}
"""The :class:`~spikesim.config.quant.QuantConfig` fields :func:`quantize_layer` reads under
each method (the cache of quantized layers keys on exactly these: keep them in step)."""


class TotalsMemo(Protocol):
    """A store of a layer's functional totals (output spikes, overflow events) by key."""

    def get(self, key: tuple[Any, ...]) -> tuple[int, int] | None: ...

    def __setitem__(self, key: tuple[Any, ...], value: tuple[int, int]) -> None: ...


@dataclass(frozen=True, eq=False)
class QuantizedLayer:
    """One linear layer y = W x per token, quantized.

    Attributes
    ----------
    x_q:
        [M, K] signed integers; salient entries may use up to ``salient_bits``.
    salient:
        [M, K] bool, True where the value is stored as a salient (index, value) record.
    x_scale:
        [M] float32, s_x,t (one per token, shared by normal and salient values).
    w_q:
        [N, K] int8 weights, ``weight_bits`` wide.
    w_scale:
        [N] float32, s_w,j.
    output_scale:
        s_y, float, static per layer.
    """

    name: str
    op: str
    x_q: NDArray[np.signedinteger]
    salient: NDArray[np.bool_]
    x_scale: NDArray[np.float32]
    w_q: NDArray[np.int8]
    w_scale: NDArray[np.float32]
    output_scale: float
    act_bits: int
    salient_bits: int
    weight_bits: int
    output_bits: int
    method: Method
    functional_memo: TotalsMemo | None = field(
        default=None, compare=False, repr=False
    )
    """Where :func:`spikesim.hw.functional.functional_outputs` remembers its totals (output
    spikes, overflow events) per :meth:`ArrayParams.functional_key
    <spikesim.hw.params.ArrayParams.functional_key>`: the on-disk cache gives a cached layer
    one (:mod:`spikesim.sim.quantcache`), so a sweep over timing-only fields computes the
    exact matmul once; None: not remembered."""

    @property
    def tokens(self) -> int:
        return int(self.x_q.shape[0])

    @property
    def k(self) -> int:
        return int(self.x_q.shape[1])

    @property
    def n(self) -> int:
        return int(self.w_q.shape[0])

    @property
    def salient_ratio(self) -> float:
        """Fraction of activation values flagged salient (elements, not channels)."""
        return float(self.salient.mean()) if self.salient.size else 0.0

    def threshold_fx(
        self, frac_bits: int, tokens: slice = slice(None), cols: slice = slice(None)
    ) -> NDArray[np.int64]:
        """Fixed-point thresholds θ_fx[t, j] = max(1, round(2^f · s_y / (s_x,t · s_w,j)))."""
        sx = self.x_scale[tokens].astype(np.float64)[:, None]
        sw = self.w_scale[cols].astype(np.float64)[None, :]
        theta = self.output_scale / (sx * sw) * float(1 << frac_bits)
        return np.maximum(1, np.rint(np.minimum(theta, 2.0**62))).astype(np.int64)


def calibrate_output_scale(
    x: NDArray[np.floating], w: NDArray[np.floating], output_bits: int, tokens: int
) -> float:
    """s_y = max |x[:tokens] W^T| / (2^(b_out-1)-1), from the float output; 1.0 if all zero."""
    y = np.asarray(x[:tokens], dtype=np.float32) @ np.asarray(w, dtype=np.float32).T
    amax = float(np.max(np.abs(y))) if y.size else 0.0
    return amax / qmax(output_bits) if amax > 0 else 1.0


class ActivationMemo:
    """The last activation quantization made, under the SHA-256 of the float activations'
    bytes, their shape and dtype, the method and its parameters: q/k/v_proj (and gate/up_proj)
    read the same input, so the second and third layers of such a group find its median/MAD
    quantization done (hashing x costs ~3 % of quantizing it). Holds one result; its arrays
    are read-only (layers of a group share them)."""

    def __init__(self) -> None:
        self._key: tuple[Any, ...] | None = None
        self._value: tuple[np.ndarray, np.ndarray, np.ndarray, int] | None = None
        self._lock = threading.Lock()

    def get(
        self, x: NDArray[np.floating], cfg: QuantConfig, method: Method
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
        """(x_q, x_scale, salient, salient_bits) of ``x`` under ``method`` and ``cfg``."""
        method = Method(method)
        xs = np.ascontiguousarray(x)
        params = (
            (cfg.act_bits, cfg.salient_bits, cfg.mad_k)
            if method == Method.SPIKEQUANT
            else (cfg.act_bits,)
        )
        digest = hashlib.sha256(xs.reshape(-1).view(np.uint8).data).hexdigest()
        key = (digest, xs.shape, xs.dtype.str, method.value, params)
        with self._lock:
            if self._key == key and self._value is not None:
                return self._value
        value = _quantize_activations(xs, cfg, method)
        for a in value[:3]:
            a.flags.writeable = False
        with self._lock:
            self._key, self._value = key, value
        return value


def _quantize_activations(
    x: NDArray[np.floating], cfg: QuantConfig, method: Method
) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    if method == Method.SPIKEQUANT:
        x_q, x_scale, salient = spikequant_rows(x, cfg.act_bits, cfg.salient_bits, cfg.mad_k)
        return x_q, x_scale, salient, cfg.salient_bits
    x_q, x_scale = rtn_rows(x, cfg.act_bits)  # fast twin of quantize_activations
    return x_q, x_scale[:, 0], np.zeros(x_q.shape, dtype=bool), cfg.act_bits


ACTIVATIONS = ActivationMemo()
"""The process's memo of the last activation quantization (:func:`quantize_layer`)."""


def quantize_layer(
    name: str,
    op: str,
    x: NDArray[np.floating],
    w: NDArray[np.floating],
    cfg: QuantConfig,
    method: Method = Method.SPIKEQUANT,
) -> QuantizedLayer:
    """Quantize one layer's float activations ``x`` [M, K] and weights ``w`` [N, K] (the
    activations' quantization through :data:`ACTIVATIONS`: layers that read the same input
    share it)."""
    if cfg.weight_group_size is not None:
        raise ValueError("the spiking datapath needs one weight scale per output channel")
    w_q, w_scale = rtn_weights(w, cfg.weight_bits)
    x_q, x_scale, salient, salient_bits = ACTIVATIONS.get(x, cfg, method)
    s_y = calibrate_output_scale(x, w, cfg.output_bits, cfg.calibration_tokens)
    return QuantizedLayer(
        name=name,
        op=op,
        x_q=x_q,
        salient=salient,
        x_scale=x_scale,
        w_q=w_q,
        w_scale=w_scale,
        output_scale=s_y,
        act_bits=cfg.act_bits,
        salient_bits=salient_bits,
        weight_bits=cfg.weight_bits,
        output_bits=cfg.output_bits,
        method=method,
    )


def dequantized_output(layer: QuantizedLayer) -> NDArray[np.float64]:
    """The float output the integers represent: s_x,t · s_w,j · Σ_i x̄_t,i w̄_j,i  ([M, N])."""
    acc = layer.x_q.astype(np.float64) @ layer.w_q.astype(np.float64).T
    return acc * layer.x_scale[:, None].astype(np.float64) * layer.w_scale[None, :]

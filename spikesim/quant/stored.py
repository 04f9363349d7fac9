"""Quantized tensors stored in a trace beside the floats (``spikesim synth/extract --method``).

For method m the layer file gains ``m.x_q`` (int16 [M, K]), ``m.x_scale`` (float32 [M]),
``m.salient`` (uint8 [M, K], 1 = salient), ``m.w_q`` (int8 [N, K]), ``m.w_scale`` (float32 [N])
and ``m.output_scale`` (float32 [1]), computed by :func:`spikesim.quant.quantize_layer` with the
knobs recorded in the manifest. The simulator always re-quantizes from the floats (so any knob
can change); the stored integers let other tools read exactly what a method produced.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import numpy as np

from spikesim.config.quant import QuantConfig
from spikesim.quant.layer import Method, quantize_layer


def stored_tensors(
    x: np.ndarray, w: np.ndarray, cfg: QuantConfig, method: Method
) -> dict[str, np.ndarray]:
    """The integer tensors of ``method`` for one layer (names prefixed by the method)."""
    q = quantize_layer("", "", x, w, cfg, method)
    p = method.value
    return {
        f"{p}.x_q": np.asarray(q.x_q, np.int16),
        f"{p}.x_scale": np.asarray(q.x_scale, np.float32),
        f"{p}.salient": np.asarray(q.salient, np.uint8),
        f"{p}.w_q": np.asarray(q.w_q, np.int8),
        f"{p}.w_scale": np.asarray(q.w_scale, np.float32),
        f"{p}.output_scale": np.array([q.output_scale], np.float32),
    }


def stored_tensors_fn(
    methods: Sequence[Method], cfg: QuantConfig
) -> Callable[[np.ndarray, np.ndarray], Mapping[str, np.ndarray]]:
    """``extra(x, w)`` for the trace writers: the tensors of every method in ``methods``."""

    def extra(x: np.ndarray, w: np.ndarray) -> dict[str, np.ndarray]:
        xf, wf = np.asarray(x, np.float32), np.asarray(w, np.float32)
        out: dict[str, np.ndarray] = {}
        for method in methods:
            out.update(stored_tensors(xf, wf, cfg, method))
        return out

    return extra

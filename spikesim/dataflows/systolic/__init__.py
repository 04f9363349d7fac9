"""The systolic MAC array of the baselines (``mac.dataflow``: os | ws | is), and the MAC designs.

timing.py (SCALE-Sim's closed-form compute cycles), actions.py (MAC, operand SRAM, dequant and
requant counts), engine.py (memory steps and the transaction pipeline), area.py (logic parts).
The designs differ only in their quantizer (:mod:`spikesim.quant.baselines`) and PE operand
widths; the array's timing has a closed form, so there is no cycle-by-cycle reference (tests
compare it with SCALE-Sim itself).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from spikesim.config.hardware import HardwareConfig
from spikesim.config.quant import QuantConfig
from spikesim.dataflows.base import (
    DesignKind,
    LayerSim,
    ReferenceResult,
    quantize_trace_layer,
)
from spikesim.dataflows.systolic import area, engine
from spikesim.hw.parts import LogicPart
from spikesim.mapping.schedule import Schedule
from spikesim.quant import baselines
from spikesim.quant.baselines import MacQuantized
from spikesim.trace import TraceLayer

MacQuantizer = Callable[
    [str, str, NDArray[np.float32], NDArray[np.float32], QuantConfig], MacQuantized
]
"""``(name, op, x [M, K], w [N, K], quant) -> MacQuantized``."""


@dataclass(frozen=True)
class MacDesign:
    """A quantization method on the systolic MAC array (a
    :class:`~spikesim.dataflows.base.Design`)."""

    name: str
    description: str
    color: str
    quantizer: MacQuantizer
    pe_bits: Callable[[QuantConfig], tuple[int, int]]
    """The PE's multiplier operand widths (activation, weight) under a quantization config."""
    needs_calibration: bool = False
    is_reference: bool = False
    kind: DesignKind = DesignKind.MAC
    ignores: tuple[str, ...] = (
        "if_array", "encoder", "quant.normal_coding", "quant.salient_coding", "mac.zero_skip"
    )
    """What a bit-parallel MAC design never reads: the spiking knobs, and ``mac.zero_skip``
    (only the bit-serial array skips zero bits)."""

    def quantize(
        self, name: str, op: str, x: NDArray[np.float32], w: NDArray[np.float32],
        quant: QuantConfig,
    ) -> MacQuantized:
        return self.quantizer(name, op, x, w, quant)

    def map(self, quantized: MacQuantized, hw: HardwareConfig) -> Schedule:
        return engine.map_mac_layer(quantized, hw)

    @property
    def quantization(self) -> tuple[str, MacQuantizer]:
        return ("mac", self.quantizer)

    def simulate(self, layer: TraceLayer, hw: HardwareConfig) -> LayerSim:
        return self.simulate_quantized(quantize_trace_layer(self, layer, hw.quant), hw)

    def simulate_quantized(self, quantized: MacQuantized, hw: HardwareConfig) -> LayerSim:
        return engine.simulate_mac_layer(quantized, hw, self.name)

    def reference(self, layer: TraceLayer, hw: HardwareConfig) -> ReferenceResult | None:
        return None

    def area_parts(self, hw: HardwareConfig) -> list[LogicPart]:
        return area.area_parts(hw, *self.pe_bits(hw.quant))

    def notes(self, hw: HardwareConfig) -> list[str]:
        return []


MAC_DESIGNS = (
    MacDesign(
        "mac-w4a4",
        "W4A4 RTN (per-channel weights, per-token activations) on the systolic MAC array",
        "#0072B2",  # blue
        baselines.quantize_w4a4,
        lambda q: (q.act_bits, q.weight_bits),
    ),
    MacDesign(
        "atom",
        "Atom: static INT8 keeper channels (Σx² on calibration tokens), the rest INT4",
        "#009E73",  # bluish green
        baselines.quantize_atom,
        lambda q: (q.atom.keeper_bits, q.weight_bits),
        needs_calibration=True,
    ),
    MacDesign(
        "spikellm",
        "SpikeLLM: salient channels one bit wider over two INT4 steps",
        "#CC79A7",  # reddish purple
        baselines.quantize_spikellm,
        lambda q: (q.act_bits, q.weight_bits),
        needs_calibration=True,
    ),
    MacDesign(
        "fp16",
        "FP16 weights and activations, FP16 MACs (full-precision reference)",
        "#8C8C8C",  # grey
        baselines.quantize_fp16,
        lambda q: (16, 16),
    ),
)
"""The MAC-array baselines, in the demo's order."""

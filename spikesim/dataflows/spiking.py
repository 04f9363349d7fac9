"""Spiking designs: a quantization method on the IF array, run by the dataflow the hardware
names (``if_array.dataflow``)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from spikesim.config.hardware import HardwareConfig
from spikesim.config.quant import Coding, QuantConfig
from spikesim.dataflows.base import (
    DesignKind,
    IFArrayDataflow,
    LayerSim,
    ReferenceResult,
    quantize_trace_layer,
)
from spikesim.dataflows.registry import IF_DATAFLOWS
from spikesim.hw.parts import LogicPart
from spikesim.mapping.schedule import Schedule
from spikesim.quant.layer import Method, QuantizedLayer, quantize_layer
from spikesim.trace import TraceLayer


@dataclass(frozen=True)
class SpikingDesign:
    """A :class:`~spikesim.dataflows.base.Design` on the integrate-and-fire array."""

    name: str
    description: str
    color: str
    method: Method
    needs_calibration: bool = False
    is_reference: bool = False
    kind: DesignKind = DesignKind.SPIKING
    ignores: tuple[str, ...] = ("mac",)

    @staticmethod
    def dataflow(hw: HardwareConfig) -> IFArrayDataflow:
        """The registered implementation of ``hw.if_array.dataflow``."""
        return IF_DATAFLOWS.get(hw.if_array.dataflow.value)

    def quantize(
        self, name: str, op: str, x: NDArray[np.float32], w: NDArray[np.float32],
        quant: QuantConfig,
    ) -> QuantizedLayer:
        return quantize_layer(name, op, x, w, quant, self.method)

    def map(self, quantized: QuantizedLayer, hw: HardwareConfig) -> Schedule:
        return self.dataflow(hw).map(quantized, hw)

    @property
    def quantization(self) -> tuple[str, Method]:
        return ("spiking", self.method)

    def simulate(self, layer: TraceLayer, hw: HardwareConfig) -> LayerSim:
        return self.simulate_quantized(quantize_trace_layer(self, layer, hw.quant), hw)

    def simulate_quantized(self, quantized: QuantizedLayer, hw: HardwareConfig) -> LayerSim:
        return self.dataflow(hw).simulate(quantized, hw, self.name)

    def reference(self, layer: TraceLayer, hw: HardwareConfig) -> ReferenceResult:
        return self.dataflow(hw).reference(quantize_trace_layer(self, layer, hw.quant), hw)

    def area_parts(self, hw: HardwareConfig) -> list[LogicPart]:
        return self.dataflow(hw).area_parts(hw)

    def notes(self, hw: HardwareConfig) -> list[str]:
        """The dataflow's notes, and an ``encoder.window`` set while no pass is TTFS-coded."""
        notes = self.dataflow(hw).notes(hw)
        q = hw.quant
        if hw.encoder.window is not None and Coding.TTFS not in (
            q.normal_coding, q.salient_coding
        ):
            notes.append(
                f"encoder.window ({hw.encoder.window}) applies to TTFS coding only; "
                "quant.normal_coding and quant.salient_coding are not ttfs"
            )
        return notes


SPIKEQUANT = SpikingDesign(
    "spikequant",
    "SpikeQuant: MAD-rule salient activations re-encoded as spikes, threshold-folded scales",
    "#D55E00",  # vermillion: the design under study
    Method.SPIKEQUANT,
    is_reference=True,
)

"""Spiking designs: a quantization method on the IF array, run by the dataflow the hardware
names (``if_array.dataflow``); attention matmuls in the form it names
(``if_array.attention_form``: spike × integer like a linear, or spike × spike,
:mod:`spikesim.dataflows.spike_spike`)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from spikesim.config.hardware import AttentionForm, HardwareConfig
from spikesim.config.quant import Coding, QuantConfig
from spikesim.dataflows import spike_spike
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
        if spike_spike.applies(quantized, hw):
            return spike_spike.simulate_layer(quantized, hw, self.name)
        return self.dataflow(hw).simulate(quantized, hw, self.name)

    def reference(self, layer: TraceLayer, hw: HardwareConfig) -> ReferenceResult:
        quantized = quantize_trace_layer(self, layer, hw.quant)
        if spike_spike.applies(quantized, hw):
            return spike_spike.reference_simulate_layer(quantized, hw)
        return self.dataflow(hw).reference(quantized, hw)

    def area_parts(self, hw: HardwareConfig) -> list[LogicPart]:
        return [*self.dataflow(hw).area_parts(hw), *spike_spike.area_parts(hw)]

    def notes(self, hw: HardwareConfig) -> list[str]:
        """The dataflow's notes, an ``encoder.window`` set while no pass is TTFS-coded, and a
        row latch the spike × spike attention matmuls do not use."""
        notes = self.dataflow(hw).notes(hw)
        if hw.if_array.row_latch and hw.if_array.attention_form == AttentionForm.SPIKE_SPIKE:
            notes.append(
                "if_array.row_latch applies to the linear layers only: under "
                "if_array.attention_form spike_spike the attention matmuls issue unlatched "
                "(each event increments coincidence counters by +-1)"
            )
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

"""Token-serial IF array (``if_array.dataflow: token_serial``): tokens one at a time, one
weight-row read per input spike event.

mapping.py (schedule), kernel.py (numba block kernel) and twin.py (its NumPy definition),
engine.py (fast engine), reference.py (cycle-by-cycle machine), area.py (logic parts).
"""

from __future__ import annotations

from dataclasses import dataclass

from spikesim.config.hardware import HardwareConfig, IFDataflow
from spikesim.dataflows.base import LayerSim, ReferenceResult
from spikesim.dataflows.if_token_serial import area, engine, mapping, reference
from spikesim.hw.parts import LogicPart
from spikesim.mapping.schedule import Schedule
from spikesim.quant.layer import QuantizedLayer


@dataclass(frozen=True)
class TokenSerial:
    """The :class:`~spikesim.dataflows.base.IFArrayDataflow` of ``token_serial``."""

    name: str = IFDataflow.TOKEN_SERIAL.value

    def map(self, quantized: QuantizedLayer, hw: HardwareConfig) -> Schedule:
        return mapping.map_layer(quantized, hw)

    def simulate(self, quantized: QuantizedLayer, hw: HardwareConfig, design: str) -> LayerSim:
        return engine.simulate_layer(quantized, hw, design)

    def reference(self, quantized: QuantizedLayer, hw: HardwareConfig) -> ReferenceResult:
        return reference.reference_simulate_layer(quantized, hw)

    def area_parts(self, hw: HardwareConfig) -> list[LogicPart]:
        return area.area_parts(hw)


TOKEN_SERIAL = TokenSerial()

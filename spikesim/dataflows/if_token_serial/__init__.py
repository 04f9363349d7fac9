"""Token-serial IF array (``if_array.dataflow: token_serial``): tokens one at a time, one
weight-row read per input spike event.

mapping.py (schedule), kernel.py (numba block kernel) and twin.py (its NumPy definition),
engine.py (fast engine), reference.py (cycle-by-cycle machine), area.py (logic parts).
"""

from __future__ import annotations

from dataclasses import dataclass

from spikesim.config.hardware import BankRole, HardwareConfig, IFDataflow
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

    def notes(self, hw: HardwareConfig) -> list[str]:
        """Lanes beyond the weight SRAM's banks × ports never issue: every event fetches its
        row (without ``row_latch``; latched events read the latch and need no port)."""
        name, wbank = hw.sram_for(BankRole.WEIGHTS)
        reads = wbank.banks * wbank.ports
        if hw.if_array.lanes > reads and not hw.if_array.row_latch:
            return [
                f"if_array.lanes ({hw.if_array.lanes}) exceeds sram.{name}.banks x ports "
                f"({reads}): at most {reads} spike events can issue per cycle, the other lanes "
                "stay idle"
            ]
        return []


TOKEN_SERIAL = TokenSerial()

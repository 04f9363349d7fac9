"""Token-batched IF array (``if_array.dataflow: token_batched``): ``batch_tokens`` tokens go
through the array together and one weight-row fetch serves the events of every token of the
batch whose value at that input is non-zero (Parallel Time Batching, HPCA 2022; Prosperity,
HPCA 2025).

The definition, shared by the twin, the kernel, the engine and the reference:

- Schedule: the token-serial one (:func:`spikesim.dataflows.if_token_serial.mapping.map_layer`);
  inside a step the block's tokens are cut into batches of ``if_array.batch`` tokens (the last
  may be smaller; a batch never spans two blocks).
- Per batch: a normal batch pass (all tokens' normal values over the chunk), then a salient
  batch pass if a token has salient values there; the encoders scan them as one encoded vector
  each (bt · K values, or the batch's salient records).
- Event order: latched passes input-major (input, token, step), one stream; others step-major
  (step, input, token), one stream only under count coding. Issue: :func:`.twin.batch_issue_cycles`
  (a row is fetched once per input for a latched pass; without the latch once per input per
  cycle: events of one input in one cycle share the read bus).
- Slope (TTFS), shift and merge (bit-serial) ops and the fire phase act on the whole batch,
  ``lanes`` tokens' rows at a time (:func:`.twin.op_cycles`).
- Membranes of batch × columns neurons live in registers or in the SRAM with role
  ``membrane`` (``if_array.membrane_store``, :mod:`.record`): there every run of events of one
  token on one input reads and writes that token's record, the SRAM's ports bound those runs
  per cycle and its capacity bounds the batch.

twin.py (the NumPy definition of a step's timing), kernel.py (its numba twin), engine.py,
reference.py (cycle-by-cycle machine), record.py (the SRAM membrane record), area.py.
"""

from __future__ import annotations

from dataclasses import dataclass

from spikesim.config.hardware import HardwareConfig, IFDataflow
from spikesim.config.quant import Coding
from spikesim.dataflows.base import LayerSim, ReferenceResult
from spikesim.dataflows.if_token_batched import area, engine, reference
from spikesim.dataflows.if_token_serial.mapping import map_layer
from spikesim.hw.parts import LogicPart
from spikesim.mapping.schedule import Schedule
from spikesim.quant.layer import QuantizedLayer


@dataclass(frozen=True)
class TokenBatched:
    """The :class:`~spikesim.dataflows.base.IFArrayDataflow` of ``token_batched``."""

    name: str = IFDataflow.TOKEN_BATCHED.value

    def map(self, quantized: QuantizedLayer, hw: HardwareConfig) -> Schedule:
        return map_layer(quantized, hw)

    def simulate(self, quantized: QuantizedLayer, hw: HardwareConfig, design: str) -> LayerSim:
        return engine.simulate_layer(quantized, hw, design)

    def reference(self, quantized: QuantizedLayer, hw: HardwareConfig) -> ReferenceResult:
        return reference.reference_simulate_layer(quantized, hw)

    def area_parts(self, hw: HardwareConfig) -> list[LogicPart]:
        return area.area_parts(hw)

    def notes(self, hw: HardwareConfig) -> list[str]:
        """Knobs that cannot take effect: ``row_latch`` when both codings are TTFS (a TTFS
        value emits one spike, there is nothing to latch)."""
        q = hw.quant
        if hw.if_array.row_latch and q.normal_coding == q.salient_coding == Coding.TTFS:
            return ["if_array.row_latch has no effect: both codings are ttfs (one spike per value)"]
        return []


TOKEN_BATCHED = TokenBatched()

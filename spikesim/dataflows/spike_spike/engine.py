"""Fast engine of the spike × spike attention form: the token-serial (or token-batched) engine
with coincidence arithmetic.

The schedule, the issue timing (lanes, bank ports, step boundaries, batches, encoder FIFO,
DRAM) and the memory traffic are the array's own (:mod:`spikesim.dataflows.if_token_serial`,
:mod:`spikesim.dataflows.if_token_batched`); what changes is given to it as an
:class:`~spikesim.dataflows.if_token_serial.engine.Arithmetic`: no ``acc_bits`` add per event
and column; fold cycles and ``planes`` adds per column (per token of a batch) after each issue
group with events (the block kernels' fold arguments and their ``ISSUE_GROUPS`` /
``FOLDED_TOKENS`` statistics); one ``if_array.acc`` at ``counter_bits`` per coincidence
(:func:`.params.coincidences`, a closed form of the operands). The cycle-by-cycle reference
(:mod:`.reference`) increments every counter one coincidence at a time; tests show both agree.
"""

from __future__ import annotations

from spikesim.actions import ActionCounter
from spikesim.config.hardware import HardwareConfig, IFDataflow
from spikesim.dataflows.base import LayerSim
from spikesim.dataflows.if_token_batched import engine as token_batched
from spikesim.dataflows.if_token_serial import engine as token_serial
from spikesim.dataflows.spike_spike.params import (
    attention_array_params,
    coincidences,
    spike_spike_params,
)
from spikesim.quant.layer import QuantizedLayer


def simulate_layer(layer: QuantizedLayer, hw: HardwareConfig, design: str) -> LayerSim:
    """Simulate an attention layer in the spike × spike form on the token-serial or the
    token-batched array (``if_array.dataflow``)."""
    ap = attention_array_params(layer, hw)
    ss = spike_spike_params(layer, hw, ap)
    increments = ActionCounter()
    increments.add("if_array", "acc", coincidences(layer, ap), ss.counter_bits)
    arithmetic = token_serial.Arithmetic(
        event_adds=False, fold_cycles=ss.fold_cycles, fold_adds=ss.planes, extra=increments
    )
    if hw.if_array.dataflow == IFDataflow.TOKEN_BATCHED:
        return token_batched.simulate_layer(layer, hw, design, ap=ap, arithmetic=arithmetic)
    return token_serial.simulate_layer(layer, hw, design, ap=ap, arithmetic=arithmetic)

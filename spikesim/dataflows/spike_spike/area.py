"""Logic the spike × spike attention form adds to the token-serial IF array (its adders, neurons,
threshold multiplier and encoders stay: linear layers use them, and the fold reuses the adders).

``if_array.coincidence_counters``: ``columns`` × P up/down counters of ``coincidence_bits``
(P = ``kv_cache.bits`` − 1 magnitude planes of K/V), the ``counter`` row of the area table;
on the token-batched array one such set per token of the batch (``batch_tokens``).
``if_array.popcounts``: per counter, a popcount of the ``lanes`` coincidences one cycle can
bring, as ``lanes`` − 1 one-bit full adders (``int_add`` at 1 bit; an n-input popcount needs
about n − 1 full adders — an approximation).
"""

from __future__ import annotations

from spikesim.config.hardware import AttentionForm, HardwareConfig
from spikesim.hw.parts import LogicPart


def area_parts(hw: HardwareConfig) -> list[LogicPart]:
    """The parts above when ``if_array.attention_form`` is ``spike_spike``, else none."""
    a = hw.if_array
    if a.attention_form != AttentionForm.SPIKE_SPIKE:
        return []
    counters = a.batch * a.columns * (hw.kv_cache.bits - 1)  # batch: 1 when token-serial
    parts = [LogicPart("if_array.coincidence_counters", counters, "counter", a.counter_bits)]
    if a.lanes > 1:
        parts.append(LogicPart("if_array.popcounts", counters * (a.lanes - 1), "int_add", 1))
    return parts

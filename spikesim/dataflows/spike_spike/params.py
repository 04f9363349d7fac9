"""Integer parameters of the spike × spike attention form, and the counts that follow from the
operands alone (the physics and the cycle model are in the package docstring,
:mod:`spikesim.dataflows.spike_spike`).

Nothing here steps cycles: the timing is the token-serial block kernel's, with
:attr:`SpikeSpikeParams.fold_cycles` after each issue group.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
from numpy.typing import NDArray

from spikesim.config.hardware import AttentionForm, HardwareConfig
from spikesim.errors import InputError
from spikesim.hw.params import ArrayParams, PassParams, array_params
from spikesim.mapping.schedule import ceil_div
from spikesim.quant.layer import QuantizedLayer
from spikesim.quant.rtn import qmax
from spikesim.trace.attention import ATTENTION_OPS

CODING_NAMES = ("count", "bitserial", "ttfs")
"""Names of the kernel coding ids (:data:`spikesim.hw.params.CODING_ID`), for messages."""


def applies(layer: QuantizedLayer, hw: HardwareConfig) -> bool:
    """Whether ``layer`` runs in the spike × spike form on ``hw``: an attention matmul
    (``op`` ``attn_score`` or ``attn_value``) under ``if_array.attention_form: spike_spike``."""
    return (
        hw.if_array.attention_form == AttentionForm.SPIKE_SPIKE and layer.op in ATTENTION_OPS
    )


@dataclass(frozen=True, slots=True)
class SpikeSpikeParams:
    """The spike × spike array's integers for one layer.

    planes: magnitude bit planes of the w operand (``weight_bits - 1``, the KV cache's bits
    less the sign). counter_bits: width of each signed coincidence counter. fold_cycles:
    cycles of one fold, ceil(planes / lanes) (each column's ``lanes`` adders add one shifted
    counter each per cycle). group_bound: the largest count one counter can reach in one issue
    group for this layer's K and codings.
    """

    planes: int
    counter_bits: int
    fold_cycles: int
    group_bound: int

    @property
    def counter_max(self) -> int:
        """The largest magnitude a ``counter_bits`` two's-complement counter holds."""
        return (1 << (self.counter_bits - 1)) - 1


def group_bound(k: int, pp: PassParams) -> int:
    """The most events one issue group of a pass over ``k`` inputs can issue to one counter:
    count coding (one stream) K × the largest magnitude; bit-serial and TTFS (one group per
    plane or step) K. Latched passes do not occur (:func:`attention_array_params`)."""
    return k * qmax(pp.bits) if pp.coding == 0 else k


def attention_array_params(layer: QuantizedLayer, hw: HardwareConfig) -> ArrayParams:
    """The token-serial array's parameters for an attention layer in the spike × spike form:
    those of :func:`array_params` with no row latch (an event increments counters by ±1, so
    the input-major latched stream, whose bit-serial events weigh 2^plane, is not used)."""
    ap = array_params(hw, layer.act_bits, layer.salient_bits, layer.k)
    return replace(
        ap,
        normal=replace(ap.normal, latch=False),
        salient=replace(ap.salient, latch=False),
    )


def spike_spike_params(
    layer: QuantizedLayer, hw: HardwareConfig, ap: ArrayParams
) -> SpikeSpikeParams:
    """The layer's :class:`SpikeSpikeParams`; an InputError naming
    ``if_array.coincidence_bits`` when one issue group could overflow a counter (the sums
    would no longer be exact)."""
    planes = layer.weight_bits - 1
    bits = hw.if_array.counter_bits
    pp = max((ap.normal, ap.salient), key=lambda p: group_bound(layer.k, p))
    worst = group_bound(layer.k, pp)
    params = SpikeSpikeParams(planes, bits, ceil_div(planes, ap.lanes), worst)
    if worst > params.counter_max:
        need = worst.bit_length() + 1
        raise InputError(
            f"attention layer {layer.name}: one issue group can count {worst} coincidences "
            f"(K={layer.k}, {CODING_NAMES[pp.coding]} coding of {pp.bits}-bit values), more "
            f"than a {bits}-bit counter holds; set it to at least {need}",
            field="if_array.coincidence_bits",
        )
    return params


def events_per_value(q: NDArray[np.integer], pp: PassParams) -> NDArray[np.int64]:
    """Spike events each value of ``q`` emits in a pass coded as ``pp`` (the lengths of
    :func:`spikesim.hw.coding.pass_events`): count |q|, bit-serial popcount(|q|), TTFS 1 for
    every non-zero value."""
    mag = np.abs(np.asarray(q, dtype=np.int64))
    if pp.coding == 0:
        return mag
    if pp.coding == 1:
        return np.bitwise_count(mag).astype(np.int64)
    return (mag != 0).astype(np.int64)


def coincidences(layer: QuantizedLayer, ap: ArrayParams) -> int:
    """Counter increments of the whole layer: every (event, output, set magnitude bit of its
    w) is one, so the sum is Σ_i E_i · B_i with E_i the events input i emits over all tokens
    (normal and salient passes) and B_i = Σ_n popcount(|w[n, i]|). Every (block, tile, chunk)
    step of the schedule integrates its tokens' events of its inputs once against its columns,
    so the sum does not depend on the schedule."""
    x = np.asarray(layer.x_q, dtype=np.int64)
    sal = np.asarray(layer.salient, dtype=bool)
    events = events_per_value(np.where(sal, 0, x), ap.normal) + events_per_value(
        np.where(sal, x, 0), ap.salient
    )
    per_input = events.sum(axis=0, dtype=np.int64)
    set_bits = np.bitwise_count(np.abs(np.asarray(layer.w_q, dtype=np.int64)))
    return int(per_input @ set_bits.sum(axis=0, dtype=np.int64))

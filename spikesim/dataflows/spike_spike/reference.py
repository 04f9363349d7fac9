"""Cycle-by-cycle reference of the spike × spike attention form (slow and obvious; small layers).

The token-serial machine (:mod:`spikesim.dataflows.if_token_serial.reference`: DRAM channel,
encoders and FIFO, issue under lanes and bank ports, fire phase, K-split membranes) with its
array unit's arithmetic replaced by :class:`SpikeSpikeArray`: each issued event reads the
tile's spike planes of its input (the same row words as an integer row), and for every column
and every set magnitude bit s of that column's w increments the coincidence counter C[col][s]
by sgn(x)·sgn(w), one ``if_array.acc`` at ``counter_bits`` each; after each issue group with
events, ``fold_cycles`` cycles fold the counters, ``lanes`` planes per cycle, into the
register the events of a spike × integer pass add into (V for count coding, P for bit-serial,
I for TTFS): R += C[s] · 2^s, one ``if_array.acc`` at ``acc_bits`` per column and plane, and
C[s] = 0. Every counter stays within its ``counter_bits`` range (checked at each increment).
The membrane then holds the same wrapped sum as the spike × integer array, so the fire phase
and the outputs are the integer reference's.

On the token-batched array (:class:`SpikeSpikeBatchedArray`) the same, with counters for every
token of the batch and a fold of the whole batch after each issue group.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from spikesim.actions import ActionCounter
from spikesim.config.hardware import HardwareConfig, IFDataflow
from spikesim.dataflows.base import ReferenceResult
from spikesim.dataflows.if_token_batched import reference as token_batched
from spikesim.dataflows.if_token_batched.record import MembraneRecord
from spikesim.dataflows.if_token_batched.reference import BatchPass, TokenBatchedArray
from spikesim.dataflows.if_token_batched.twin import fold_cycles as batch_fold_cycles
from spikesim.dataflows.if_token_serial import reference as token_serial
from spikesim.dataflows.if_token_serial.reference import TokenSerialArray
from spikesim.dataflows.spike_spike.params import (
    SpikeSpikeParams,
    attention_array_params,
    spike_spike_params,
)
from spikesim.hw.params import ArrayParams
from spikesim.hw.reference_units import (
    CycleCounts,
    EncodedPass,
    FirePhase,
    Membranes,
    event_weights,
    wrap,
)
from spikesim.mapping.schedule import Schedule
from spikesim.quant.layer import QuantizedLayer


def count_coincidences(
    p: EncodedPass, e: int, weights: NDArray[np.integer], counters: list[list[int]],
    mem: Membranes, acts: ActionCounter, ss: SpikeSpikeParams,
) -> None:
    """Event ``e`` of pass ``p`` against the tile's column weights of its input: for every
    column and set magnitude bit s of its w, C[col][s] += sgn(x)·sgn(w) (one ``if_array.acc``
    at ``counter_bits`` each, the counter checked to stay in range); the membrane's exact sum
    gets the event's share of the product. Shared by both arrays' references."""
    assert not p.pp.latch, "the spike x spike form runs unlatched passes"
    sgn, plane_weight, ttfs_weight = event_weights(p, e)
    for c in range(len(weights)):
        w = int(weights[c])
        mag, direction = abs(w), sgn * (1 if w > 0 else -1)
        for s in range(ss.planes):
            if (mag >> s) & 1:  # a coincidence: the event meets a set bit of plane s
                counters[c][s] += direction
                assert abs(counters[c][s]) <= ss.counter_max, "coincidence counter overflow"
                acts.add("if_array", "acc", 1, ss.counter_bits)
        mem.exact[c] += sgn * w * plane_weight * ttfs_weight


def fold_plane(
    reg: list[int], counters: list[list[int]], plane: int, cols: int, acc_bits: int
) -> None:
    """R += C[s] · 2^s for the first ``cols`` columns of one plane s, and C[s] = 0 (the caller
    counts the ``acc_bits`` adds)."""
    for c in range(cols):
        reg[c] = wrap(reg[c] + (counters[c][plane] << plane), acc_bits)
        counters[c][plane] = 0


class SpikeSpikeArray(TokenSerialArray):
    """The token-serial array unit with coincidence counters instead of per-event adds."""

    def __init__(
        self,
        layer: QuantizedLayer,
        hw: HardwareConfig,
        sched: Schedule,
        acts: ActionCounter,
        counts: CycleCounts,
        fire: FirePhase,
        ap: ArrayParams | None = None,
    ):
        if ap is None:
            ap = attention_array_params(layer, hw)
        super().__init__(layer, hw, sched, acts, counts, fire, ap)
        self.ss = spike_spike_params(layer, hw, ap)
        cols = max(sched.tile_columns)
        self.counters = [[0] * self.ss.planes for _ in range(cols)]
        """C[col][s]: signed coincidences of the current issue group with plane s."""
        self.fold_next = 0
        """The next plane the fold in progress adds (0: no fold in progress)."""

    def _integrate(self, p: EncodedPass, e: int, i: int, mem: Membranes, c0: int) -> None:
        weights = self.w[c0 : c0 + self.cols, self.i0 + i]
        count_coincidences(p, e, weights, self.counters, mem, self.acts, self.ss)

    def _micro_ops(self, p: EncodedPass) -> list[tuple[str, int]]:
        """The token-serial micro-ops with ``fold_cycles`` fold cycles after each issue group
        (an empty count-coded pass has none: it issued nothing)."""
        ops: list[tuple[str, int]] = []
        for op in super()._micro_ops(p):
            ops.append(op)
            if op[0] == "issue":
                ops.extend([("fold", 0)] * self.ss.fold_cycles)
        return ops

    def _op_cycle(self, kind: str, s: int, p: EncodedPass, mem: Membranes) -> None:
        if kind != "fold":
            super()._op_cycle(kind, s, p, mem)
            return
        reg = self._register(p, mem)
        first = self.fold_next
        last = min(self.ss.planes, first + self.ap.lanes)
        acc_bits = self.ap.acc_bits
        for plane in range(first, last):
            fold_plane(reg, self.counters, plane, self.cols, acc_bits)
        self.acts.add("if_array", "acc", self.cols * (last - first), acc_bits)
        self.fold_next = 0 if last == self.ss.planes else last


class SpikeSpikeBatchedArray(TokenBatchedArray):
    """The token-batched array unit with coincidence counters for every token of the batch:
    C[t][col][s]. Each event increments its own token's counters; after each issue group
    with events the fold adds every token's counters into that token's register, (token,
    plane) pairs in order, ``lanes`` pairs per column per cycle
    (:func:`spikesim.dataflows.if_token_batched.twin.fold_cycles` cycles)."""

    def __init__(
        self,
        layer: QuantizedLayer,
        hw: HardwareConfig,
        sched: Schedule,
        acts: ActionCounter,
        counts: CycleCounts,
        outputs: NDArray[np.int64],
        record: MembraneRecord | None,
        ap: ArrayParams | None = None,
    ):
        if ap is None:
            ap = attention_array_params(layer, hw)
        assert record is None, "the spike x spike form keeps the batch's membranes in registers"
        super().__init__(layer, hw, sched, acts, counts, outputs, record, ap)
        self.ss = spike_spike_params(layer, hw, ap)
        cols = max(sched.tile_columns)
        self.counters = [
            [[0] * self.ss.planes for _ in range(cols)] for _ in range(hw.if_array.batch)
        ]
        """C[t][col][s]: signed coincidences of token t of the batch in the current group."""

    def _integrate(self, p: BatchPass, e: int, i: int, t: int, c0: int) -> None:
        weights = self.w[c0 : c0 + self.cols, self.i0 + i]
        count_coincidences(p, e, weights, self.counters[t], self.mems[t], self.acts, self.ss)

    def _pass_ops(self, p: BatchPass) -> list[tuple[str, int]]:
        """The token-batched ops with a fold of the batch after each issue group."""
        folds = batch_fold_cycles(p.bt, self.ss.planes, self.ap.lanes)
        ops: list[tuple[str, int]] = []
        for op in super()._pass_ops(p):
            ops.append(op)
            if op[0] == "issue":
                ops.extend(("fold", j) for j in range(folds))
        return ops

    def _op_cycle(self, kind: str, s: int, p: BatchPass) -> None:
        if kind != "fold":
            super()._op_cycle(kind, s, p)
            return
        planes, lanes, acc_bits = self.ss.planes, self.ap.lanes, self.ap.acc_bits
        for q in range(s * lanes, min((s + 1) * lanes, p.bt * planes)):
            t, plane = divmod(q, planes)
            reg = self._register(p, self.mems[t])
            fold_plane(reg, self.counters[t], plane, self.cols, acc_bits)
            self.acts.add("if_array", "acc", self.cols, acc_bits)


def reference_simulate_layer(layer: QuantizedLayer, hw: HardwareConfig) -> ReferenceResult:
    """Step every cycle of an attention layer in the spike × spike form (on the token-serial
    or the token-batched array, as ``if_array.dataflow`` says)."""
    ap = attention_array_params(layer, hw)
    if hw.if_array.dataflow == IFDataflow.TOKEN_BATCHED:
        return token_batched.reference_simulate_layer(
            layer, hw, ap=ap, array_unit=SpikeSpikeBatchedArray
        )
    return token_serial.reference_simulate_layer(layer, hw, ap=ap, array_unit=SpikeSpikeArray)

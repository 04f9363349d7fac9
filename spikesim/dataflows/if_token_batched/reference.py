"""Cycle-by-cycle reference of the token-batched IF array (slow and obvious; small layers only).

It steps one clock cycle at a time through the whole layer. The shared unit machines of
:mod:`spikesim.hw.reference_units` model the DRAM channel and double buffers, the encoders
scanning passes into their FIFO, the fire phase (one :class:`FirePhase` per lane) and the
membrane registers; this module writes only the token-batched array unit.

Inside a schedule step (block, tile, K chunk) the block's tokens go through the array in
consecutive **batches** of ``if_array.batch`` tokens (the last one may be smaller). A batch's
passes are its **normal batch pass** (every token's normal values over the chunk) and, if any of
its tokens has a salient value there, its **salient batch pass**: the events of all its tokens
merged into one stream, ordered by (input, token, step) when latched, else by (step, input,
token), so that one weight-row fetch serves the consecutive events of one input in a cycle (a
latched pass: the whole run of one input). Every event adds ±w to its token's ``columns``
``acc_bits`` membranes. The TTFS slope, bit-serial shift and merge ops act on every neuron of
the batch and take ``g`` cycles each (``ceil(bt / lanes)``; with the ``sram`` membrane store also
at least the record traffic ``ceil(bt · rec_words / mem_ports)``). After the batch's last pass
its tokens fire, ``lanes`` at a time, ``fire_cycles`` cycles a group (the ``sram`` store first
reads the batch's records), or, in a K-split layer's chunks but the last, write their partial
membranes back (``membrane_cycles`` cycles a token; re-read before the batch's first pass in every
chunk but the first).

With the ``sram`` store (:mod:`.record`) every run of events of one token on one input reads and
writes that token's membrane record: ``rec_words`` word-accesses of the ``mem_ports`` the
membrane SRAM serves per cycle.

The definition both this reference and the fast engine implement is the dataflow's spec (see
the package docstring); tests check the fast engine reproduces this reference's cycles, stall
attribution, action counts and output spikes exactly, and the outputs equal the integer
reference :func:`spikesim.hw.functional.reference_outputs`.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from spikesim.actions import ActionCounter
from spikesim.config.hardware import BankRole, HardwareConfig
from spikesim.dataflows.base import ReferenceResult
from spikesim.dataflows.if_token_batched.record import MembraneRecord, membrane_record
from spikesim.dataflows.if_token_serial.mapping import map_layer
from spikesim.hw.coding import pass_events
from spikesim.hw.memory import membrane_cycles, membrane_sram, membrane_words
from spikesim.hw.params import ArrayParams, PassParams, array_params
from spikesim.hw.reference_units import (
    CycleCounts,
    DramChannel,
    EncodedPass,
    FirePhase,
    Membranes,
    PassEncoder,
    SramPort,
    event_register,
    integrate_spike_int,
    pass_micro_ops,
    run_steps_by_cycle,
    wrap,
)
from spikesim.mapping.schedule import Schedule, ceil_div
from spikesim.quant.layer import QuantizedLayer


def _port(hw: HardwareConfig, role: BankRole) -> SramPort:
    name, bank = hw.sram_for(role)
    return f"sram.{name}", bank.word_bits


@dataclass
class BatchPass(EncodedPass):
    """One pass of a batch: the events of all its tokens, merged into one issue order.

    ``token`` is the batch's first token (layer index), ``tok`` each event's token relative to
    it; ``n_values`` the values the encoders scan (bt × chunk inputs for a normal pass, the
    batch's salient count in the chunk for a salient pass); ``words`` the words they read
    (the sum over the batch's tokens of each token's packed values or salient records);
    ``last_of_token`` marks the batch's last pass."""

    tok: NDArray[np.int64]
    bt: int
    first_of_batch: bool
    words: int


def batch_passes(
    layer: QuantizedLayer,
    ap: ArrayParams,
    t0: int,
    t1: int,
    inputs: tuple[int, int],
    record_bits: int,
    act_word: int,
    sal_word: int,
) -> list[BatchPass]:
    """The passes of the batch of tokens [t0, t1) over the inputs [i0, i1) (event indices
    relative to i0): its normal batch pass, then its salient batch pass if any of its tokens
    has a salient value in the range."""
    i0, i1 = inputs
    rows = np.asarray(layer.x_q[t0:t1, i0:i1], np.int64)
    masks = np.asarray(layer.salient[t0:t1, i0:i1], bool)
    bt = t1 - t0
    sal_counts = masks.sum(axis=1)
    kinds: list[tuple[bool, NDArray[np.int64], int, PassParams, int]] = [
        (
            False,
            np.where(masks, 0, rows),
            bt * (i1 - i0),
            ap.normal,
            bt * ceil_div((i1 - i0) * layer.act_bits, act_word),
        )
    ]
    if masks.any():
        words = sum(ceil_div(int(c) * record_bits, sal_word) for c in sal_counts)
        kinds.append((True, np.where(masks, rows, 0), int(sal_counts.sum()), ap.salient, words))
    passes: list[BatchPass] = []
    for n, (is_sal, values, n_values, pp, words) in enumerate(kinds):
        parts = [pass_events(values[t], pp) for t in range(bt)]
        idx = np.concatenate([p[0] for p in parts]).astype(np.int64)
        step = np.concatenate([p[1] for p in parts]).astype(np.int64)
        sign = np.concatenate([p[2] for p in parts]).astype(np.int64)
        tok = np.concatenate([np.full(len(p[0]), t, np.int64) for t, p in enumerate(parts)])
        # latched: (idx, t, step); otherwise (step, idx, t) -- np.lexsort's last key is primary
        order = np.lexsort((step, tok, idx)) if pp.latch else np.lexsort((tok, idx, step))
        passes.append(
            BatchPass(
                token=t0,
                salient=is_sal,
                n_values=n_values,
                pp=pp,
                idx=idx[order],
                step=step[order],
                sign=sign[order],
                last_of_token=n == len(kinds) - 1,
                tok=tok[order],
                bt=bt,
                first_of_batch=n == 0,
                words=words,
            )
        )
    return passes


class TokenBatchedArray:
    """The array unit: one batch's passes at a time against one tile of ``columns`` outputs."""

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
        self.layer, self.hw, self.sched = layer, hw, sched
        if ap is None:
            ap = array_params(hw, layer.act_bits, layer.salient_bits, layer.k)
        self.ap = ap
        self.acts, self.counts = acts, counts
        self.record = record
        self.batch = hw.if_array.batch
        self.weights = _port(hw, BankRole.WEIGHTS)
        self.activations = _port(hw, BankRole.ACTIVATIONS)
        self.salient = _port(hw, BankRole.SALIENT)
        # one fire unit per lane: a group of up to ``lanes`` tokens fires together
        self.fire_units = [
            FirePhase(
                ap,
                acts,
                outputs,
                _port(hw, BankRole.OUTPUT),
                layer.output_bits,
                hw.if_array.compare_width_bits,
            )
            for _ in range(min(ap.lanes, self.batch))
        ]
        self.w = np.asarray(layer.w_q, np.int64)
        self.col0 = [sum(sched.tile_columns[:j]) for j in range(len(sched.tile_columns))]
        self.chunks = sched.k_chunks or ((0, layer.k),)
        self.passes_of: dict[tuple[int, int], list[BatchPass]] = {}
        for b, (t0, t1) in enumerate(sched.blocks):
            for c, rng in enumerate(self.chunks):
                self.passes_of[(b, c)] = [
                    p
                    for s in range(t0, t1, self.batch)
                    for p in batch_passes(
                        layer,
                        ap,
                        s,
                        min(t1, s + self.batch),
                        rng,
                        sched.record_bits,
                        self.activations[1],
                        self.salient[1],
                    )
                ]
        name, bank = membrane_sram(hw)
        self.membrane_store: SramPort = (f"sram.{name}", bank.word_bits)
        self.partial: dict[tuple[int, int], Membranes] = {}
        """Partial membranes written back, by (token, tile), until the next chunk re-reads them."""
        self.writeback_left = 0
        self.record_reads_left = 0
        self.fire_queue: deque[int] = deque()
        """Tokens (layer index) of the batch still to fire, in order."""
        self.mems: list[Membranes] = []
        """The batch's membranes, by token relative to the batch's first."""

    @property
    def overflow_events(self) -> int:
        return sum(u.overflow_events for u in self.fire_units)

    @property
    def output_spikes(self) -> int:
        return sum(u.output_spikes for u in self.fire_units)

    def _read(self, p: EncodedPass) -> tuple[str, int, int]:
        """Words the encoders read for a batch pass: per token its salient records, or its
        packed normal values."""
        assert isinstance(p, BatchPass)
        comp, word = self.salient if p.salient else self.activations
        return comp, p.words, word

    def begin_step(self, step: int) -> PassEncoder:
        st = self.sched.steps[step]
        self.passes: list[BatchPass] = self.passes_of[(st.block, st.chunk)]
        self.tile = st.tile
        self.cols = self.sched.tile_columns[st.tile]
        self.chunk, self.i0 = st.chunk, self.chunks[st.chunk][0]
        self.last_chunk = st.chunk == len(self.chunks) - 1
        self.mem_cycles = membrane_cycles(self.hw, self.cols)
        self.rec_words = self.record.words(self.cols) if self.record is not None else 0
        self.arr_pass: int | None = None
        self.arr_next = 0
        self.ops: deque[tuple[str, int]] = deque()
        self.ev_ptr = self.group_cycles = self.group_events = 0
        return PassEncoder(list(self.passes), self.ap.fifo_depth, self.acts, self._read)

    def step_done(self) -> bool:
        return (
            self.arr_next == len(self.passes)
            and self.arr_pass is None
            and not self.firing
            and not self.writeback_left
        )

    @property
    def firing(self) -> bool:
        return bool(
            self.record_reads_left or self.fire_queue or any(u.busy for u in self.fire_units)
        )

    def _op_cycles(self, bt: int) -> int:
        """g: cycles of one slope, shift or merge op over the batch's ``bt`` tokens."""
        g = ceil_div(bt, self.ap.lanes)
        if self.record is not None:
            g = max(g, ceil_div(bt * self.rec_words, self.record.ports))
        return g

    def _record_access(self, n: int) -> None:
        """``n`` read-modify-writes of a token's membrane record (``sram`` store)."""
        if self.record is not None and n:
            self.acts.add(self.record.component, "read", n * self.rec_words, self.record.word_bits)
            self.acts.add(self.record.component, "write", n * self.rec_words, self.record.word_bits)

    def _issue_cycle(self, p: BatchPass, s: int) -> None:
        ap, cols, c0 = self.ap, self.cols, self.col0[self.tile]
        comp, word = self.weights
        row_words = ceil_div(cols * self.layer.weight_bits, word)
        used: dict[int, int] = {}
        words_used = 0
        issued = 0
        latch = p.pp.latch
        while self.ev_ptr < len(p.idx) and issued < ap.lanes:
            e = self.ev_ptr
            if s != -1 and p.step[e] != s:
                break
            i, t = int(p.idx[e]), int(p.tok[e])  # i relative to the chunk: bank i mod banks
            same_input = e > 0 and int(p.idx[e - 1]) == i
            # latched: once per run of one input in the stream; else once per run in a cycle
            fetch = not same_input if latch else (issued == 0 or not same_input)
            access = self.record is not None and (
                issued == 0 or not same_input or int(p.tok[e - 1]) != t
            )
            b = i % ap.weight_banks
            if fetch and used.get(b, 0) >= ap.weight_ports:
                break
            if access:
                assert self.record is not None
                if words_used + self.rec_words > self.record.ports:
                    break
                words_used += self.rec_words
                self._record_access(1)
            if fetch:
                used[b] = used.get(b, 0) + 1
                self.acts.add(comp, "read", row_words, word)
                if latch:  # the row goes into the lane's latch
                    self.acts.add("latch", "write", cols, self.layer.weight_bits)
            self._integrate(p, e, i, t, c0)
            self.acts.add("encoder", "emit", 1, p.pp.bits)
            issued += 1
            self.ev_ptr += 1
            self.group_events += 1
        self.group_cycles += 1
        e = self.ev_ptr
        if e >= len(p.idx) or (s != -1 and p.step[e] != s):
            ideal = -(-self.group_events // ap.lanes)
            self.counts.compute += ideal
            self.counts.stall_bank += self.group_cycles - ideal
            self.group_cycles = self.group_events = 0
            self.ops.popleft()

    def _integrate(self, p: BatchPass, e: int, i: int, t: int, c0: int) -> None:
        """Event ``e`` of pass ``p`` (input ``i`` of the chunk, token ``t`` of the batch) adds
        ±w into its token's ``cols`` registers (:func:`integrate_spike_int`)."""
        weights = self.w[c0 : c0 + self.cols, self.i0 + i]
        integrate_spike_int(p, e, weights, self.mems[t], self.acts, self.ap,
                            self.layer.weight_bits)

    _register = staticmethod(event_register)

    def _pass_ops(self, p: BatchPass) -> list[tuple[str, int]]:
        """The array's work for pass ``p``: its issue groups (:func:`pass_micro_ops`) and its
        slope, shift and merge ops, each spread over ``g`` cycles (:meth:`_op_cycles`)."""
        g = self._op_cycles(p.bt)
        ops: list[tuple[str, int]] = []
        for kind, s in pass_micro_ops(p):
            if kind in ("slope", "shift", "merge"):
                ops += [(kind, j) for j in range(g)]
            else:
                ops.append((kind, s))
        return ops

    def _op_cycle(self, kind: str, s: int, p: BatchPass) -> None:
        """One cycle of a micro-op other than an issue group (cycle ``s`` of a slope, shift or
        merge op; an empty pass; a partial-membrane re-read)."""
        if kind in ("slope", "shift", "merge"):
            self._batch_op_cycle(kind, s, self._op_cycles(p.bt), p.bt)

    def _batch_op_cycle(self, kind: str, j: int, g: int, bt: int) -> None:
        """Cycle ``j`` of ``g`` of a slope, shift or merge op: it does tokens
        [j·bt/g, (j+1)·bt/g) of the batch (the op's result is the same however it is spread)."""
        ap = self.ap
        for t in range(j * bt // g, (j + 1) * bt // g):
            mem = self.mems[t]
            for c in range(self.cols):
                if kind == "slope":
                    mem.v[c] = wrap(mem.v[c] + mem.i[c], ap.acc_bits)
                elif kind == "shift":
                    mem.p[c] = wrap(2 * mem.p[c], ap.acc_bits)
                else:  # merge
                    mem.v[c] = wrap(mem.v[c] + mem.p[c], ap.acc_bits)
            self.acts.add("if_array", "shift" if kind == "shift" else "acc", self.cols, ap.acc_bits)
            self._record_access(1)

    def _fire_cycle(self) -> None:
        """One cycle of the batch's fire phase: the record reads (``sram`` store), then groups
        of up to ``lanes`` tokens, ``fire_cycles`` cycles a group."""
        self.counts.compute += 1
        if self.record_reads_left:
            self.record_reads_left -= 1
            return
        if not any(u.busy for u in self.fire_units):  # the next group starts
            ap, c0 = self.ap, self.col0[self.tile]
            for unit in self.fire_units:
                if not self.fire_queue:
                    break
                token = self.fire_queue.popleft()
                theta = self.layer.threshold_fx(
                    ap.frac_bits, slice(token, token + 1), slice(c0, c0 + self.cols)
                )[0]
                unit.start(token, c0, [int(v) for v in theta], self.mems[token - self.batch_t0])
                self.acts.add("threshold", "multiply", self.cols, self.hw.if_array.threshold_bits)
        for unit in self.fire_units:
            if unit.busy:
                unit.cycle()

    def cycle(self, encoder: PassEncoder) -> int | None:
        if self.firing:
            self._fire_cycle()
            return None
        if self.writeback_left:  # partial membranes to the membrane store, one cycle at a time
            self.writeback_left -= 1
            self.counts.compute += 1
            return None
        if self.arr_pass is None:
            if not (self.arr_next < len(self.passes) and encoder.scanned[self.arr_next]):
                self.counts.stall_encoder += 1
                return None
            self.arr_pass = self.arr_next
            self.arr_next += 1
            p = self.passes[self.arr_pass]
            ops = self._pass_ops(p)
            if p.first_of_batch:
                self.batch_t0 = p.token
                tokens = range(p.token, p.token + p.bt)
                if self.chunk == 0:
                    self.mems = [Membranes(self.cols, self.ap.acc_bits) for _ in tokens]
                else:  # re-read the partial membranes the previous chunk wrote back
                    self.mems = [self.partial.pop((t, self.tile)) for t in tokens]
                    comp, word = self.membrane_store
                    words = p.bt * membrane_words(self.hw, self.cols)
                    self.acts.add(comp, "read", words, word)
                    ops = [("reread", 0)] * (p.bt * self.mem_cycles) + ops
            for mem in self.mems:
                mem.i = [0] * self.cols
                mem.p = [0] * self.cols
            self.ops = deque(ops)
            self.ev_ptr = self.group_cycles = self.group_events = 0
        p = self.passes[self.arr_pass]
        kind, s = self.ops[0]
        if kind == "issue":
            self._issue_cycle(p, s)
        else:
            self._op_cycle(kind, s, p)
            self.counts.compute += 1
            self.ops.popleft()
        if self.ops:
            return None
        done, self.arr_pass = self.arr_pass, None
        if p.last_of_token and not self.last_chunk:
            for t, mem in enumerate(self.mems):
                self.partial[(p.token + t, self.tile)] = mem
            comp, word = self.membrane_store
            self.acts.add(comp, "write", p.bt * membrane_words(self.hw, self.cols), word)
            self.writeback_left = p.bt * self.mem_cycles
        elif p.last_of_token:
            self.fire_queue = deque(range(p.token, p.token + p.bt))
            if self.record is not None:  # the fire phase reads the batch's records first
                words = p.bt * self.rec_words
                self.acts.add(self.record.component, "read", words, self.record.word_bits)
                self.record_reads_left = ceil_div(words, self.record.ports)
        return done


def reference_simulate_layer(
    layer: QuantizedLayer,
    hw: HardwareConfig,
    *,
    ap: ArrayParams | None = None,
    array_unit: type[TokenBatchedArray] = TokenBatchedArray,
) -> ReferenceResult:
    """Step every cycle of the layer; returns cycles, stalls, actions and the output integers.

    ``ap`` (default: :func:`array_params` of ``hw``) and ``array_unit`` (default
    :class:`TokenBatchedArray`) let a variant of the array (the spike × spike attention form)
    run on the same machine. Raises InputError for a ``sram`` membrane store that cannot serve
    the batch (see :func:`.record.membrane_record`)."""
    if ap is None:
        ap = array_params(hw, layer.act_bits, layer.salient_bits, layer.k)
    record = membrane_record(hw, ap)
    sched = map_layer(layer, hw)
    acts = ActionCounter()
    counts = CycleCounts()
    outputs = np.zeros((layer.tokens, layer.n), np.int64)
    dram = DramChannel(
        sched,
        acts,
        weights=_port(hw, BankRole.WEIGHTS),
        activations=_port(hw, BankRole.ACTIVATIONS),
        salient=_port(hw, BankRole.SALIENT),
        weight_bits=layer.weight_bits,
    )
    array = array_unit(layer, hw, sched, acts, counts, outputs, record, ap)
    total = run_steps_by_cycle(len(sched.steps), dram, array, counts)
    acts.add("dram", "write", sched.output_bytes, 8)
    return ReferenceResult(
        total_cycles=total,
        compute_cycles=counts.compute,
        stall_encoder_cycles=counts.stall_encoder,
        stall_bank_cycles=counts.stall_bank,
        stall_dram_cycles=counts.stall_dram,
        outputs=outputs,
        overflow_events=array.overflow_events,
        output_spikes=array.output_spikes,
        actions=acts,
    )

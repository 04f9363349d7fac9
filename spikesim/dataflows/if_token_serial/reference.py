"""Cycle-by-cycle reference of the token-serial IF array (slow and obvious; small layers only).

It steps one clock cycle at a time through the whole layer. The shared unit machines of
:mod:`spikesim.hw.reference_units` model the DRAM channel and double buffers, the encoders
scanning passes into their FIFO, the fire phase and the membrane registers; this module writes
only the token-serial array unit: each pass of one token is integrated against one tile (one K
chunk of it when the layer is split), issuing events in order under the lane and bank-port
limits, with the TTFS slope and bit-serial shift/merge cycles, every event adding ±w to
``columns`` ``acc_bits`` membranes. A split layer's token re-reads its partial membranes
(``membrane_cycles`` cycles, as ``reread`` micro-ops before its first pass) in every chunk but
the first, and writes them back (``membrane_cycles`` cycles instead of the fire phase) in every
chunk but the last; the membrane values themselves are carried between the steps.

It shares only definitions with the fast engine: the mapping (:func:`map_layer`), the spike
coding order (:func:`spikesim.hw.coding.pass_events`) and the DRAM transfer time. Tests check the
fast engine reproduces its cycles, stall attribution, action counts and output spikes exactly.
"""

from __future__ import annotations

from collections import deque

import numpy as np

from spikesim.actions import ActionCounter
from spikesim.config.hardware import BankRole, HardwareConfig
from spikesim.dataflows.base import ReferenceResult
from spikesim.dataflows.if_token_serial.mapping import map_layer
from spikesim.hw.memory import membrane_cycles, membrane_sram, membrane_words
from spikesim.hw.params import ArrayParams, array_params
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
    token_passes,
    wrap,
)
from spikesim.mapping.schedule import Schedule, ceil_div
from spikesim.quant.layer import QuantizedLayer


def _port(hw: HardwareConfig, role: BankRole) -> SramPort:
    name, bank = hw.sram_for(role)
    return f"sram.{name}", bank.word_bits


class TokenSerialArray:
    """The array unit: one token's passes at a time against one tile of ``columns`` outputs."""

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
        self.layer, self.hw, self.sched = layer, hw, sched
        if ap is None:
            ap = array_params(hw, layer.act_bits, layer.salient_bits, layer.k)
        self.ap = ap
        self.acts, self.counts, self.fire = acts, counts, fire
        self.weights = _port(hw, BankRole.WEIGHTS)
        self.activations = _port(hw, BankRole.ACTIVATIONS)
        self.salient = _port(hw, BankRole.SALIENT)
        self.w = np.asarray(layer.w_q, np.int64)
        self.col0 = [sum(sched.tile_columns[:j]) for j in range(len(sched.tile_columns))]
        self.chunks = sched.k_chunks or ((0, layer.k),)
        self.passes_of = {
            (b, c): token_passes(layer, ap, t0, t1, rng)
            for b, (t0, t1) in enumerate(sched.blocks)
            for c, rng in enumerate(self.chunks)
        }
        name, bank = membrane_sram(hw)
        self.membrane_store: SramPort = (f"sram.{name}", bank.word_bits)
        self.partial: dict[tuple[int, int], Membranes] = {}
        """Partial membranes written back, by (token, tile), until the next chunk re-reads them."""
        self.writeback_left = 0

    def _read(self, p: EncodedPass) -> tuple[str, int, int]:
        """Words the encoders read for a pass: salient records, or the packed normal values."""
        if p.salient:
            comp, word = self.salient
            bits = p.n_values * self.sched.record_bits
        else:
            comp, word = self.activations
            bits = p.n_values * self.layer.act_bits
        return comp, ceil_div(bits, word), word

    def begin_step(self, step: int) -> PassEncoder:
        st = self.sched.steps[step]
        self.passes = self.passes_of[(st.block, st.chunk)]
        self.tile = st.tile
        self.cols = self.sched.tile_columns[st.tile]
        self.chunk, self.i0 = st.chunk, self.chunks[st.chunk][0]
        self.last_chunk = st.chunk == len(self.chunks) - 1
        self.mem_cycles = membrane_cycles(self.hw, self.cols)
        self.arr_pass: int | None = None
        self.arr_next = 0
        self.ops: deque[tuple[str, int]] = deque()
        self.ev_ptr = self.group_cycles = self.group_events = 0
        self.mem: Membranes | None = None
        return PassEncoder(self.passes, self.ap.fifo_depth, self.acts, self._read)

    def step_done(self) -> bool:
        return (
            self.arr_next == len(self.passes) and self.arr_pass is None and not self.fire.busy
            and not self.writeback_left
        )

    def _issue_cycle(self, p: EncodedPass, s: int) -> None:
        ap, mem, cols, c0 = self.ap, self.mem, self.cols, self.col0[self.tile]
        assert mem is not None
        comp, word = self.weights
        row_words = ceil_div(cols * self.layer.weight_bits, word)
        used: dict[int, int] = {}
        issued = 0
        latch = p.pp.latch
        while self.ev_ptr < len(p.idx) and issued < ap.lanes:
            e = self.ev_ptr
            if s != -1 and p.step[e] != s:
                break
            i = int(p.idx[e])  # relative to the chunk's first input: bank i mod banks
            fetch = not latch or e == 0 or int(p.idx[e - 1]) != i
            if fetch:
                b = i % ap.weight_banks
                if used.get(b, 0) >= ap.weight_ports:
                    break
                used[b] = used.get(b, 0) + 1
                self.acts.add(comp, "read", row_words, word)
                if latch:  # the row goes into the lane's latch
                    self.acts.add("latch", "write", cols, self.layer.weight_bits)
            self._integrate(p, e, i, mem, c0)
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

    def _integrate(self, p: EncodedPass, e: int, i: int, mem: Membranes, c0: int) -> None:
        """Event ``e`` of pass ``p`` (input ``i`` of the chunk) adds ±w into the tile's
        ``cols`` registers (:func:`integrate_spike_int`)."""
        weights = self.w[c0 : c0 + self.cols, self.i0 + i]
        integrate_spike_int(p, e, weights, mem, self.acts, self.ap, self.layer.weight_bits)

    _register = staticmethod(event_register)

    def _micro_ops(self, p: EncodedPass) -> list[tuple[str, int]]:
        """The array's single-cycle work for pass ``p`` (:func:`pass_micro_ops`)."""
        return pass_micro_ops(p)

    def _op_cycle(self, kind: str, s: int, p: EncodedPass, mem: Membranes) -> None:
        """One cycle of a micro-op other than an issue group: a TTFS slope add, a bit-serial
        shift or merge, an empty count-coded pass, a partial-membrane re-read."""
        ap = self.ap
        for c in range(self.cols):
            if kind == "slope":
                mem.v[c] = wrap(mem.v[c] + mem.i[c], ap.acc_bits)
            elif kind == "shift":
                mem.p[c] = wrap(2 * mem.p[c], ap.acc_bits)
            elif kind == "merge":
                mem.v[c] = wrap(mem.v[c] + mem.p[c], ap.acc_bits)
        if kind not in ("empty", "reread"):
            action = "shift" if kind == "shift" else "acc"
            self.acts.add("if_array", action, self.cols, ap.acc_bits)

    def cycle(self, encoder: PassEncoder) -> int | None:
        ap = self.ap
        if self.fire.busy:
            self.fire.cycle()
            self.counts.compute += 1
            if not self.fire.busy:
                self.mem = None  # the next token starts from fresh membranes
            return None
        if self.writeback_left:  # partial membranes to the membrane store, one cycle at a time
            self.writeback_left -= 1
            self.counts.compute += 1
            if not self.writeback_left:
                self.mem = None
            return None
        if self.arr_pass is None:
            if not (self.arr_next < len(self.passes) and encoder.scanned[self.arr_next]):
                self.counts.stall_encoder += 1
                return None
            self.arr_pass = self.arr_next
            self.arr_next += 1
            ops = self._micro_ops(self.passes[self.arr_pass])
            if self.mem is None:  # the token's first pass
                token = self.passes[self.arr_pass].token
                if self.chunk == 0:
                    self.mem = Membranes(self.cols, ap.acc_bits)
                else:  # re-read the partial membranes the previous chunk wrote back
                    self.mem = self.partial.pop((token, self.tile))
                    comp, word = self.membrane_store
                    self.acts.add(comp, "read", membrane_words(self.hw, self.cols), word)
                    ops = [("reread", 0)] * self.mem_cycles + ops
            self.mem.i = [0] * self.cols
            self.mem.p = [0] * self.cols
            self.ops = deque(ops)
            self.ev_ptr = self.group_cycles = self.group_events = 0
        p = self.passes[self.arr_pass]
        mem = self.mem
        assert mem is not None
        kind, s = self.ops[0]
        if kind == "issue":
            self._issue_cycle(p, s)
        else:
            self._op_cycle(kind, s, p, mem)
            self.counts.compute += 1
            self.ops.popleft()
        if self.ops:
            return None
        done, self.arr_pass = self.arr_pass, None
        if p.last_of_token and not self.last_chunk:
            self.partial[(p.token, self.tile)] = mem
            comp, word = self.membrane_store
            self.acts.add(comp, "write", membrane_words(self.hw, self.cols), word)
            self.writeback_left = self.mem_cycles
        elif p.last_of_token:
            c0 = self.col0[self.tile]
            theta = self.layer.threshold_fx(
                ap.frac_bits, slice(p.token, p.token + 1), slice(c0, c0 + self.cols)
            )[0]
            self.fire.start(p.token, c0, [int(v) for v in theta], mem)
            self.acts.add("threshold", "multiply", self.cols, self.hw.if_array.threshold_bits)
        return done


def reference_simulate_layer(
    layer: QuantizedLayer,
    hw: HardwareConfig,
    *,
    ap: ArrayParams | None = None,
    array_unit: type[TokenSerialArray] = TokenSerialArray,
) -> ReferenceResult:
    """Step every cycle of the layer; returns cycles, stalls, actions and the output integers.

    ``ap`` (default: :func:`array_params` of ``hw``) and ``array_unit`` (default
    :class:`TokenSerialArray`) let a variant of the array (the spike × spike attention form)
    run on the same machine."""
    sched = map_layer(layer, hw)
    acts = ActionCounter()
    counts = CycleCounts()
    outputs = np.zeros((layer.tokens, layer.n), np.int64)
    if ap is None:
        ap = array_params(hw, layer.act_bits, layer.salient_bits, layer.k)
    fire = FirePhase(
        ap, acts, outputs, _port(hw, BankRole.OUTPUT), layer.output_bits,
        hw.if_array.compare_width_bits,
    )
    dram = DramChannel(
        sched,
        acts,
        weights=_port(hw, BankRole.WEIGHTS),
        activations=_port(hw, BankRole.ACTIVATIONS),
        salient=_port(hw, BankRole.SALIENT),
        weight_bits=layer.weight_bits,
    )
    array = array_unit(layer, hw, sched, acts, counts, fire, ap)
    total = run_steps_by_cycle(len(sched.steps), dram, array, counts)
    acts.add("dram", "write", sched.output_bytes, 8)
    return ReferenceResult(
        total_cycles=total,
        compute_cycles=counts.compute,
        stall_encoder_cycles=counts.stall_encoder,
        stall_bank_cycles=counts.stall_bank,
        stall_dram_cycles=counts.stall_dram,
        outputs=outputs,
        overflow_events=fire.overflow_events,
        output_spikes=fire.output_spikes,
        actions=acts,
    )

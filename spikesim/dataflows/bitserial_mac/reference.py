"""Cycle-by-cycle reference of the bit-serial MAC array (slow and obvious; small layers only).

It walks every fold, every beat and every bit-cycle of the definition in
:mod:`spikesim.dataflows.bitserial_mac`, with one Python object per processing element (PE): in
each bit-cycle every PE that still has a bit plane of its activation to process ANDs the weight
with that bit, applies the sign, and shift-adds into its ``acc_bits`` accumulator, and each such
operation is counted. Operand elements are counted as they enter the array (SRAM reads) and
outputs or partial sums as they leave it (SRAM writes), then packed into words like the MAC
baselines. The accumulators are the real integer outputs (checked against ``x_q @ w_q^T``).

Nothing here is shared with :mod:`.timing` (the fast engine) but the SCALE-Sim fold length
``L`` and the memory model: after the array's compute cycles are known, the DRAM/double-buffer
pipeline and the DRAM fill actions are the MAC baselines'
(:func:`spikesim.dataflows.systolic.engine.memory_times`,
:func:`spikesim.hw.memory.count_load_actions`), whose own tests live with them.
"""

from __future__ import annotations

import numpy as np

from spikesim.actions import ActionCounter
from spikesim.config.hardware import BankRole, Dataflow, HardwareConfig, ZeroSkip
from spikesim.dataflows.base import ReferenceResult
from spikesim.dataflows.bitserial_mac.engine import ARRAY, check_integer
from spikesim.dataflows.systolic.engine import map_mac_layer, memory_times
from spikesim.hw.memory import count_load_actions
from spikesim.quant.baselines import GemmPass, MacQuantized


class PE:
    """One processing element: a stationary or passing weight, one activation's bit planes."""

    def __init__(self) -> None:
        self.acc = 0
        self.weight = 0
        self.sign = 1
        self.mag = 0
        self.planes: list[int] = []

    def start(self, acc_in: int, activation: int, weight: int, planes: int,
              zero_skip: ZeroSkip) -> None:
        """Begin one multiply: accumulator loaded with ``acc_in``; planes to process, LSB
        first: all ``planes`` (Stripes) or the set bits of ``|activation|`` (Pragmatic)."""
        self.acc = acc_in
        self.weight = weight
        self.sign = -1 if activation < 0 else 1
        mag = abs(activation)
        self.mag = mag
        if zero_skip is ZeroSkip.NONE:
            self.planes = list(range(planes))
        else:
            self.planes = [p for p in range(planes) if (mag >> p) & 1]

    def bit_cycle(self, counter: ActionCounter, weight_bits: int, acc_bits: int) -> None:
        """Process one plane if any remain: gate, sign, shift-add (two counted actions)."""
        if not self.planes:
            return
        p = self.planes.pop(0)
        gated = self.weight if (self.mag >> p) & 1 else 0
        self.acc += self.sign * (gated << p)
        counter.add(ARRAY, "and", 1, weight_bits)
        counter.add(ARRAY, "add", 1, acc_bits)


def _run_beat(pes: list[PE], planes: int, zero_skip: ZeroSkip, counter: ActionCounter,
              weight_bits: int, acc_bits: int) -> int:
    """Step the bit-cycles of one streaming beat; returns how many it took."""
    cycles = 0
    while True:
        if zero_skip is ZeroSkip.NONE:
            if cycles == planes:
                return cycles
        elif cycles >= 1 and not any(pe.planes for pe in pes):
            return cycles
        for pe in pes:
            pe.bit_cycle(counter, weight_bits, acc_bits)
        cycles += 1


def _pass(p: GemmPass, n: int, hw: HardwareConfig, counter: ActionCounter,
          out: np.ndarray) -> tuple[int, int, int, int]:
    """Step one pass; returns (bit-cycles, A reads, B reads, output-element writes)."""
    mac = hw.mac
    rows, cols, df, skip = mac.rows, mac.cols, mac.dataflow, mac.zero_skip
    planes = p.act_bits - 1
    x = p.x_q.astype(np.int64)
    w = p.w_q.astype(np.int64)  # [N, k]
    m, k = x.shape
    sr, sc, t = {Dataflow.OS: (m, n, k), Dataflow.WS: (k, n, m), Dataflow.IS: (k, m, n)}[df]
    fold_beats = (rows + cols + t - 2) if df is Dataflow.OS else (2 * rows + cols + t - 2)
    a_reads = b_reads = o_writes = cycles = 0
    for fr in range(-(-sr // rows)):
        for fc in range(-(-sc // cols)):
            vr = range(fr * rows, min(sr, (fr + 1) * rows))  # valid rows' indices
            vc = range(fc * cols, min(sc, (fc + 1) * cols))
            cycles += planes * (fold_beats - t)  # fill / stationary load / skew / drain beats
            grid = {(r, c): PE() for r in vr for c in vc}
            if df is Dataflow.OS:  # PE (r, c) keeps O[m=r, n=c]; beat tt brings input k=tt
                for tt in range(t):
                    a_reads += len(vr)
                    b_reads += len(vc)
                    for (r, c), pe in grid.items():
                        pe.start(pe.acc, int(x[r, tt]), int(w[c, tt]), planes, skip)
                    cycles += _run_beat(list(grid.values()), planes, skip, counter,
                                        p.weight_bits, mac.acc_bits)
                for (r, c), pe in grid.items():
                    out[r, c] += pe.acc
                    o_writes += 1
                continue
            if df is Dataflow.WS:  # PE (r, c) keeps B[k=r, n=c]; beat tt brings token m=tt
                b_reads += len(vr) * len(vc)
            else:  # is: PE (r, c) keeps A[m=c, k=r]; beat tt brings output n=tt
                a_reads += len(vr) * len(vc)
            for tt in range(t):
                if df is Dataflow.WS:
                    a_reads += len(vr)
                else:
                    b_reads += len(vr)
                # The skew is not stepped: in the array PE r works on this wavefront one beat
                # after PE r - 1 and starts its accumulator from the partial sum PE r - 1 has
                # just finished (a load, not an add). Here every PE starts from 0 and the
                # column's chain is summed when the beat ends: the same shift-adds, the same sums.
                for c in vc:
                    for r in vr:
                        a, b = (int(x[tt, r]), int(w[c, r])) if df is Dataflow.WS else (
                            int(x[c, r]), int(w[tt, r]))
                        grid[(r, c)].start(0, a, b, planes, skip)
                cycles += _run_beat(list(grid.values()), planes, skip, counter,
                                    p.weight_bits, mac.acc_bits)
                for c in vc:
                    psum = sum(grid[(r, c)].acc for r in vr)  # leaves the bottom PE
                    if df is Dataflow.WS:
                        out[tt, c] += psum
                    else:
                        out[c, tt] += psum
                    o_writes += 1
    return cycles, a_reads, b_reads, o_writes


def _words(elements: int, bits: int, word_bits: int) -> int:
    return -(-elements * bits // word_bits)


def reference_layer(q: MacQuantized, hw: HardwareConfig) -> ReferenceResult:
    """Step every bit-cycle of a (small) layer; integer outputs, cycles and every action."""
    check_integer(q)
    counter = ActionCounter()
    wname, wbank = hw.sram_for(BankRole.WEIGHTS)
    aname, abank = hw.sram_for(BankRole.ACTIVATIONS)
    oname, obank = hw.sram_for(BankRole.OUTPUT)
    outputs = q.tokens * q.n
    out = np.zeros((q.tokens, q.n), np.int64)
    bit_cycles = 0
    dequant_terms = 0
    for p in q.passes:
        cycles, a_reads, b_reads, o_writes = _pass(p, q.n, hw, counter, out)
        bit_cycles += cycles
        counter.add(f"sram.{aname}", "read", _words(a_reads, p.act_bits, abank.word_bits),
                    abank.word_bits)
        counter.add(f"sram.{wname}", "read", _words(b_reads, p.weight_bits, wbank.word_bits),
                    wbank.word_bits)
        if o_writes > outputs:  # partial sums written and read back at acc_bits
            words = _words(o_writes - outputs, hw.mac.acc_bits, obank.word_bits)
            counter.add(f"sram.{oname}", "write", words, obank.word_bits)
            counter.add(f"sram.{oname}", "read", words, obank.word_bits)
        if p.dequantized:
            counter.add("dequant", "fp_multiply", 2 * outputs * p.groups, 16)
            dequant_terms += p.groups
    if dequant_terms > 1:
        counter.add("dequant", "fp_add", (dequant_terms - 1) * outputs, 16)
    counter.add("requant", "fp_multiply", outputs, 16)
    out_words = _words(outputs, q.output_bits, obank.word_bits)
    counter.add(f"sram.{oname}", "write", out_words, obank.word_bits)
    counter.add(f"sram.{oname}", "read", out_words, obank.word_bits)
    compute = bit_cycles - 1
    sched = map_mac_layer(q, hw)
    times = memory_times(sched, compute)
    count_load_actions(counter, sched, hw, q.weight_bits)
    return ReferenceResult(
        total_cycles=times.total_cycles,
        compute_cycles=compute,
        stall_encoder_cycles=0,
        stall_bank_cycles=0,
        stall_dram_cycles=times.stall_dram_cycles,
        outputs=out,
        overflow_events=0,
        output_spikes=0,
        actions=counter,
    )

"""Cycle-by-cycle reference model of the spiking accelerator (slow and obvious; small layers only).

It steps one clock cycle at a time through the whole layer: the DRAM channel, the double buffers,
the encoders scanning passes into their FIFO of encoded vectors, the array issuing events under
the lane and bank-port limits, the TTFS slope, bit-serial shift/merge and fire-phase cycles, and
the membranes themselves (acc_bits two's-complement registers, updated per event per column).

It shares only definitions with the fast engine: the mapping (:func:`map_layer`), the spike
coding order (:func:`spikesim.hw.twins.pass_events`) and the DRAM transfer time. Tests check the
fast engine reproduces its cycles, stall attribution, action counts and output spikes exactly.

Within a cycle, every unit acts on the state at the start of the cycle; results are visible from
the next cycle (a pass scanned in cycle c can be integrated from cycle c+1; a buffer freed in
cycle c can be refilled from cycle c+1; a load finishing in cycle c lets compute start at c+1).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from spikesim.actions import ActionCounter
from spikesim.config.hardware import BankRole, HardwareConfig, SRAMBankConfig
from spikesim.hw.params import ArrayParams, PassParams, array_params
from spikesim.hw.twins import pass_events
from spikesim.mapping.schedule import ceil_div, map_layer
from spikesim.quant.layer import QuantizedLayer


@dataclass
class ReferenceResult:
    total_cycles: int
    compute_cycles: int
    stall_encoder_cycles: int
    stall_bank_cycles: int
    stall_dram_cycles: int
    outputs: NDArray[np.int64]
    overflow_events: int
    output_spikes: int
    actions: ActionCounter = field(default_factory=ActionCounter)


@dataclass
class _Pass:
    token: int  # index within the layer
    salient: bool
    n_values: int
    pp: PassParams
    idx: NDArray[np.int64]
    step: NDArray[np.int64]
    sign: NDArray[np.int64]
    last_of_token: bool


def _wrap(v: int, bits: int) -> int:
    m = 1 << bits
    v %= m
    return v - m if v >= (m >> 1) else v


class _Membranes:
    """Registers of one token against one tile: V (membrane), I (TTFS slope), P (bit-serial)."""

    def __init__(self, cols: int, bits: int):
        self.bits = bits
        self.v = [0] * cols
        self.i = [0] * cols
        self.p = [0] * cols
        self.exact = [0] * cols  # unwrapped sum, only to detect overflow


def _build_passes(layer: QuantizedLayer, ap: ArrayParams, t0: int, t1: int) -> list[_Pass]:
    passes: list[_Pass] = []
    for t in range(t0, t1):
        row = np.asarray(layer.x_q[t], np.int64)
        mask = np.asarray(layer.salient[t], bool)
        kinds = [(False, np.where(mask, 0, row), layer.k, ap.normal)]
        if mask.any():
            kinds.append((True, np.where(mask, row, 0), int(mask.sum()), ap.salient))
        for n, (is_sal, values, n_values, pp) in enumerate(kinds):
            idx, step, sign = pass_events(values, pp)
            passes.append(_Pass(t, is_sal, n_values, pp, idx, step, sign, n == len(kinds) - 1))
    return passes


def _micro_ops(p: _Pass) -> list[tuple[str, int]]:
    """The array's work for a pass: ('issue', step) groups (step -1: count coding's single
    stream) and single-cycle ops ('slope', 'shift', 'merge', 'empty')."""
    pp = p.pp
    if pp.coding == 0:
        return [("issue", -1)] if len(p.idx) else [("empty", 0)]
    ops: list[tuple[str, int]] = []
    if pp.coding == 2:
        for s in range(1, pp.window + 1):
            if np.any(p.step == s):
                ops.append(("issue", s))
            ops.append(("slope", 0))
        return ops
    for s in range(1, pp.planes + 1):
        if np.any(p.step == s):
            ops.append(("issue", s))
        if s < pp.planes:
            ops.append(("shift", 0))
    ops.append(("merge", 0))
    return ops


class _Machine:
    """State of the accelerator while it runs one layer; :meth:`tick` advances one cycle."""

    def __init__(self, layer: QuantizedLayer, hw: HardwareConfig):
        self.layer = layer
        self.hw = hw
        self.ap = ap = array_params(hw, layer.act_bits, layer.salient_bits, layer.k)
        self.sched = sched = map_layer(layer, hw)
        self.banks: dict[BankRole, tuple[str, SRAMBankConfig]] = {
            role: hw.sram_for(role) for role in BankRole if role != BankRole.MEMBRANE
        }
        self.acts = ActionCounter()
        self.outputs = np.zeros((layer.tokens, layer.n), np.int64)
        self.overflow = 0
        self.out_spikes = 0
        self.w = np.asarray(layer.w_q, np.int64)
        self.col0 = [sum(sched.tile_columns[:j]) for j in range(len(sched.tile_columns))]
        self.block_passes = [_build_passes(layer, ap, t0, t1) for t0, t1 in sched.blocks]
        n = len(sched.steps)
        # DRAM channel and buffers
        self.next_load = 0
        self.loading: int | None = None
        self.load_left = 0
        self.loaded = [False] * n
        self.slots_free = 2
        # array
        self.step = -1
        self.step_active = False
        self.cycle = 0
        self.compute = self.stall_enc = self.stall_bank = self.stall_dram = 0

    # -- helpers -------------------------------------------------------------------------------
    def _bank(self, role: BankRole) -> tuple[str, int]:
        name, bank = self.banks[role]
        return f"sram.{name}", bank.word_bits

    def _start_loads(self) -> None:
        sched, layer = self.sched, self.layer
        while self.loading is None and self.next_load < len(sched.steps) and self.slots_free:
            st = sched.steps[self.next_load]
            self.slots_free -= 1
            self.acts.add("dram", "read", st.load_bytes, 8)
            if st.weight_bytes:
                comp, word = self._bank(BankRole.WEIGHTS)
                c = sched.tile_columns[st.tile]
                self.acts.add(comp, "write", ceil_div(layer.k * c * layer.weight_bits, word), word)
            if st.activation_bytes:
                comp, word = self._bank(BankRole.ACTIVATIONS)
                words = ceil_div(sched.block_normal_bits[st.block], word)
                self.acts.add(comp, "write", words, word)
                if sched.block_salient_bits[st.block]:
                    comp, word = self._bank(BankRole.SALIENT)
                    words = ceil_div(sched.block_salient_bits[st.block], word)
                    self.acts.add(comp, "write", words, word)
            dur = sched.load_cycles(st.load_bytes)
            if dur == 0:
                self.loaded[self.next_load] = True
            else:
                self.loading, self.load_left = self.next_load, dur
            self.next_load += 1

    def _begin_step(self, s: int) -> None:
        st = self.sched.steps[s]
        self.step, self.step_active = s, True
        self.passes = self.block_passes[st.block]
        self.tile = st.tile
        self.cols = self.sched.tile_columns[st.tile]
        self.enc_next, self.enc_scanned = 0, 0
        self.enc_busy: int | None = None
        self.scanned = [False] * len(self.passes)
        self.emitted = [False] * len(self.passes)
        self.arr_pass: int | None = None
        self.arr_next = 0
        self.ops: deque[tuple[str, int]] = deque()
        self.ev_ptr = self.group_cycles = self.group_events = 0
        self.fire_left = 0
        self.mem: _Membranes | None = None

    def _encoder(self) -> int | None:
        """One encoder cycle; returns the pass whose scan completes in this cycle."""
        ap = self.ap
        if self.enc_busy is None and self.enc_next < len(self.passes):
            in_use = sum(1 for q in range(self.enc_next) if not self.emitted[q])
            if in_use < ap.fifo_depth:
                self.enc_busy, self.enc_scanned = self.enc_next, 0
                self.enc_next += 1
                p = self.passes[self.enc_busy]
                if p.salient:
                    comp, word = self._bank(BankRole.SALIENT)
                    bits = p.n_values * self.sched.record_bits
                else:
                    comp, word = self._bank(BankRole.ACTIVATIONS)
                    bits = self.layer.k * self.layer.act_bits
                self.acts.add(comp, "read", ceil_div(bits, word), word)
        if self.enc_busy is None:
            return None
        p = self.passes[self.enc_busy]
        n_now = min(p.pp.scan_rate, p.n_values - self.enc_scanned)
        self.enc_scanned += n_now
        self.acts.add("encoder", "convert", n_now, p.pp.bits)
        if self.enc_scanned >= p.n_values:
            done, self.enc_busy = self.enc_busy, None
            return done
        return None

    def _fire_cycle(self) -> None:
        ap, cols = self.ap, self.cols
        self.acts.add("if_array", "compare", cols, ap.acc_bits)
        for c in range(cols):
            if self.fire_a[c] >= self.fire_theta[c] and not (ap.reset_zero and self.fire_n[c]):
                self.fire_n[c] += 1
                self.fire_a[c] = 0 if ap.reset_zero else self.fire_a[c] - self.fire_theta[c]
                self.acts.add("if_array", "fire", 1, ap.acc_bits)
        self.compute += 1
        self.fire_left -= 1
        if self.fire_left == 0:
            assert self.mem is not None
            lo, hi = -(1 << (ap.acc_bits - 1)), (1 << (ap.acc_bits - 1)) - 1
            for c in range(cols):
                self.outputs[self.fire_token, self.col0[self.tile] + c] = (
                    int(np.sign(self.mem.v[c])) * self.fire_n[c]
                )
                self.out_spikes += self.fire_n[c]
                self.overflow += int(not lo <= self.mem.exact[c] <= hi)
            comp, word = self._bank(BankRole.OUTPUT)
            words = ceil_div(cols * self.layer.output_bits, word)
            self.acts.add(comp, "write", words, word)
            self.acts.add(comp, "read", words, word)  # drained to DRAM (write-back)
            self.mem = None

    def _issue_cycle(self, p: _Pass, s: int) -> None:
        ap, mem, cols, c0 = self.ap, self.mem, self.cols, self.col0[self.tile]
        assert mem is not None
        comp, word = self._bank(BankRole.WEIGHTS)
        row_words = ceil_div(cols * self.layer.weight_bits, word)
        used: dict[int, int] = {}
        issued = 0
        while self.ev_ptr < len(p.idx) and issued < ap.lanes:
            e = self.ev_ptr
            if s != -1 and p.step[e] != s:
                break
            i = int(p.idx[e])
            b = i % ap.weight_banks
            if used.get(b, 0) >= ap.weight_ports:
                break
            used[b] = used.get(b, 0) + 1
            sgn = int(p.sign[e])
            reg = mem.v if p.pp.coding == 0 else (mem.i if p.pp.coding == 2 else mem.p)
            for c in range(cols):
                reg[c] = _wrap(reg[c] + sgn * int(self.w[c0 + c, i]), ap.acc_bits)
                mem.exact[c] += sgn * int(self.w[c0 + c, i]) * (
                    1 if p.pp.coding != 1 else 1 << (p.pp.planes - int(p.step[e]))
                ) * (1 if p.pp.coding != 2 else int(p.pp.window + 1 - p.step[e]))
            self.acts.add("if_array", "acc", cols, ap.acc_bits)
            self.acts.add("encoder", "emit", 1, p.pp.bits)
            self.acts.add(comp, "read", row_words, word)
            issued += 1
            self.ev_ptr += 1
            self.group_events += 1
        self.group_cycles += 1
        e = self.ev_ptr
        if e >= len(p.idx) or (s != -1 and p.step[e] != s):
            ideal = -(-self.group_events // ap.lanes)
            self.compute += ideal
            self.stall_bank += self.group_cycles - ideal
            self.group_cycles = self.group_events = 0
            self.ops.popleft()

    def _array(self) -> int | None:
        """One array cycle; returns the pass whose integration completes in this cycle."""
        ap = self.ap
        if self.fire_left > 0:
            self._fire_cycle()
            return None
        if self.arr_pass is None:
            if not (self.arr_next < len(self.passes) and self.scanned[self.arr_next]):
                self.stall_enc += 1
                return None
            self.arr_pass = self.arr_next
            self.arr_next += 1
            if self.mem is None:
                self.mem = _Membranes(self.cols, ap.acc_bits)
            self.mem.i = [0] * self.cols
            self.mem.p = [0] * self.cols
            self.ops = deque(_micro_ops(self.passes[self.arr_pass]))
            self.ev_ptr = self.group_cycles = self.group_events = 0
        p = self.passes[self.arr_pass]
        mem = self.mem
        assert mem is not None
        kind, s = self.ops[0]
        if kind == "issue":
            self._issue_cycle(p, s)
        else:
            for c in range(self.cols):
                if kind == "slope":
                    mem.v[c] = _wrap(mem.v[c] + mem.i[c], ap.acc_bits)
                elif kind == "shift":
                    mem.p[c] = _wrap(2 * mem.p[c], ap.acc_bits)
                elif kind == "merge":
                    mem.v[c] = _wrap(mem.v[c] + mem.p[c], ap.acc_bits)
            if kind != "empty":
                action = "shift" if kind == "shift" else "acc"
                self.acts.add("if_array", action, self.cols, ap.acc_bits)
            self.compute += 1
            self.ops.popleft()
        if self.ops:
            return None
        done, self.arr_pass = self.arr_pass, None
        if p.last_of_token:
            c0 = self.col0[self.tile]
            theta = self.layer.threshold_fx(
                ap.frac_bits, slice(p.token, p.token + 1), slice(c0, c0 + self.cols)
            )[0]
            self.fire_theta = [int(v) for v in theta]
            self.fire_a = [
                (abs(mem.v[c]) << ap.frac_bits) + (self.fire_theta[c] // 2 if ap.half_init else 0)
                for c in range(self.cols)
            ]
            self.fire_n = [0] * self.cols
            self.fire_left = ap.fire_cycles
            self.fire_token = p.token
            self.acts.add("threshold", "multiply", self.cols, self.hw.if_array.threshold_bits)
        return done

    # -- one clock cycle -------------------------------------------------------------------------
    def tick(self) -> bool:
        """Advance one cycle; False once the layer's last output has been written."""
        self._start_loads()
        if not self.step_active:
            if self.step + 1 >= len(self.sched.steps):
                return False
            if self.loaded[self.step + 1]:
                self._begin_step(self.step + 1)
            else:
                self.stall_dram += 1
        scanned = emitted = None
        if self.step_active:
            scanned = self._encoder()
            emitted = self._array()
        # end of cycle: results become visible
        if scanned is not None:
            self.scanned[scanned] = True
        if emitted is not None:
            self.emitted[emitted] = True
        if self.loading is not None:
            self.load_left -= 1
            if self.load_left == 0:
                self.loaded[self.loading] = True
                self.loading = None
        if (
            self.step_active
            and self.arr_next == len(self.passes)
            and self.arr_pass is None
            and self.fire_left == 0
        ):
            self.step_active = False
            self.slots_free += 1
        self.cycle += 1
        return True


def reference_simulate_layer(layer: QuantizedLayer, hw: HardwareConfig) -> ReferenceResult:
    """Step every cycle of the layer; returns cycles, stalls, actions and the output integers."""
    m = _Machine(layer, hw)
    while m.tick():
        pass
    m.acts.add("dram", "write", m.sched.output_bytes, 8)
    return ReferenceResult(
        total_cycles=m.cycle,
        compute_cycles=m.compute,
        stall_encoder_cycles=m.stall_enc,
        stall_bank_cycles=m.stall_bank,
        stall_dram_cycles=m.stall_dram,
        outputs=m.outputs,
        overflow_events=m.overflow,
        output_spikes=m.out_spikes,
        actions=m.acts,
    )

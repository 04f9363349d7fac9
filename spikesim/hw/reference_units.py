"""Unit machines of the cycle-by-cycle references: slow, obvious, one clock cycle at a time.

A dataflow's reference composes these shared units and writes only its own array/issue unit:

- :class:`DramChannel`: one channel loading each schedule step's bytes, in order, into
  ``buffers`` slots (double buffering); a slot is held until the step's compute is done.
- :class:`PassEncoder`: the encoders scanning passes (a token's normal values, or its salient
  records) into a FIFO of ``fifo_depth`` encoded vectors; a full FIFO stalls them.
- :class:`FirePhase`: compare and subtract (or zero) reset per output spike, one compare per column
  per cycle, for ``fire_cycles`` cycles; writes the outputs to the output SRAM.
- :class:`Membranes`: the ``acc_bits`` two's-complement registers of the neurons.
- :class:`CycleCounts`: compute cycles and stall cycles by cause.
- :func:`token_passes` and :func:`pass_micro_ops`: the spike-coded passes of a token and the
  single-cycle work they need on the array (issue groups, TTFS slope adds, bit-serial shifts and
  merge).

Timing convention shared by every unit: within a cycle, every unit acts on the state at the start
of the cycle; results are visible from the next cycle (a pass scanned in cycle c can be integrated
from cycle c+1; a buffer freed in cycle c can be refilled from cycle c+1; a load finishing in
cycle c lets compute start at c+1).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import numpy as np
from numpy.typing import NDArray

from spikesim.actions import ActionCounter
from spikesim.hw.coding import pass_events
from spikesim.hw.params import ArrayParams, PassParams
from spikesim.mapping.schedule import Schedule, ceil_div
from spikesim.quant.layer import QuantizedLayer

SramPort = tuple[str, int]
"""An SRAM as the counters see it: (component ``sram.<name>``, word bits)."""


def wrap(v: int, bits: int) -> int:
    """``v`` in a ``bits``-wide two's-complement register (wraps on overflow)."""
    m = 1 << bits
    v %= m
    return v - m if v >= (m >> 1) else v


class Membranes:
    """Registers of one token against one tile: V (membrane), I (TTFS slope), P (bit-serial
    partial sum), each ``bits`` wide; ``exact`` is V's unwrapped sum, kept only to detect
    overflow."""

    def __init__(self, cols: int, bits: int):
        self.bits = bits
        self.v = [0] * cols
        self.i = [0] * cols
        self.p = [0] * cols
        self.exact = [0] * cols


def event_register(p: EncodedPass, mem: Membranes) -> list[int]:
    """The register an unlatched pass's events add into: V (count), I (TTFS), P
    (bit-serial)."""
    return mem.v if p.pp.coding == 0 else (mem.i if p.pp.coding == 2 else mem.p)


def event_weights(p: EncodedPass, e: int) -> tuple[int, int, int]:
    """(sign, plane weight, TTFS weight) of event ``e``: sgn(x); 2^(planes - step) for a
    bit-serial event, else 1; T + 1 - step for a TTFS event, else 1. The event's share of the
    exact product is sign · w · plane weight · TTFS weight."""
    plane_weight = 1 << (p.pp.planes - int(p.step[e])) if p.pp.coding == 1 else 1
    ttfs_weight = int(p.pp.window + 1 - p.step[e]) if p.pp.coding == 2 else 1
    return int(p.sign[e]), plane_weight, ttfs_weight


def integrate_spike_int(
    p: EncodedPass, e: int, weights: NDArray[np.integer], mem: Membranes, acts: ActionCounter,
    ap: ArrayParams, weight_bits: int,
) -> None:
    """Event ``e`` of pass ``p`` adds ±w (``weights``: the tile's column weights of its input)
    into one token's registers: V (count coding, latched passes), I (TTFS) or P (bit-serial);
    a latched event reads its row from the latch (bit-serial: shifted by its plane, straight
    into V). Shared by the IF arrays' cycle-by-cycle references."""
    cols = len(weights)
    sgn, plane_weight, ttfs_weight = event_weights(p, e)
    if p.pp.latch:
        acts.add("latch", "read", cols, weight_bits)
        if p.pp.coding == 1:
            acts.add("if_array", "shift", cols, ap.acc_bits)
        reg, step_weight = mem.v, plane_weight
    else:
        reg, step_weight = event_register(p, mem), 1
    for c in range(cols):
        w = int(weights[c])
        reg[c] = wrap(reg[c] + sgn * w * step_weight, ap.acc_bits)
        mem.exact[c] += sgn * w * plane_weight * ttfs_weight
    acts.add("if_array", "acc", cols, ap.acc_bits)


@dataclass
class CycleCounts:
    """Where the cycles of a layer went (``compute + stalls = total``)."""

    compute: int = 0
    stall_encoder: int = 0
    stall_bank: int = 0
    stall_dram: int = 0


@dataclass
class EncodedPass:
    """One pass of spike events: a token's normal values or its salient values."""

    token: int
    """Token index within the layer."""
    salient: bool
    n_values: int
    """Values the encoders scan (K for a normal pass, the salient count otherwise)."""
    pp: PassParams
    idx: NDArray[np.int64]
    step: NDArray[np.int64]
    sign: NDArray[np.int64]
    last_of_token: bool


def token_passes(
    layer: QuantizedLayer, ap: ArrayParams, t0: int, t1: int, inputs: tuple[int, int] | None = None
) -> list[EncodedPass]:
    """The passes of tokens [t0, t1) over the inputs [i0, i1) (default all K; event indices are
    relative to i0): per token its normal pass (salient positions hold 0), then its salient
    pass if it has salient values in the range."""
    i0, i1 = inputs if inputs is not None else (0, layer.k)
    passes: list[EncodedPass] = []
    for t in range(t0, t1):
        row = np.asarray(layer.x_q[t, i0:i1], np.int64)
        mask = np.asarray(layer.salient[t, i0:i1], bool)
        kinds = [(False, np.where(mask, 0, row), i1 - i0, ap.normal)]
        if mask.any():
            kinds.append((True, np.where(mask, row, 0), int(mask.sum()), ap.salient))
        for n, (is_sal, values, n_values, pp) in enumerate(kinds):
            idx, step, sign = pass_events(values, pp)
            passes.append(
                EncodedPass(t, is_sal, n_values, pp, idx, step, sign, n == len(kinds) - 1)
            )
    return passes


def pass_micro_ops(p: EncodedPass) -> list[tuple[str, int]]:
    """The array's work for a pass: ('issue', step) groups (step -1: one stream, count coding
    or a latched pass) and single-cycle ops ('slope', 'shift', 'merge', 'empty')."""
    pp = p.pp
    if pp.coding == 0 or pp.latch:
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


class DramChannel:
    """One DRAM channel loading the schedule's steps in order into ``buffers`` slots.

    A load starts once the channel is idle and a slot is free; it takes
    ``Schedule.step_load_cycles(step)`` cycles (0 bytes: loaded at once). Each load counts its
    DRAM bytes, the store words it reads (weights from the on-chip store) and the SRAM words it
    writes (weights, activations, salient records).
    """

    def __init__(
        self,
        sched: Schedule,
        acts: ActionCounter,
        *,
        weights: SramPort,
        activations: SramPort,
        salient: SramPort,
        weight_bits: int,
        buffers: int = 2,
    ):
        self.sched = sched
        self.acts = acts
        self.weights, self.activations, self.salient = weights, activations, salient
        self.weight_bits = weight_bits
        self.next_load = 0
        self.loading: int | None = None
        self.load_left = 0
        self.loaded = [False] * len(sched.steps)
        self.slots_free = buffers

    def start_loads(self) -> None:
        """Start every load that can start this cycle."""
        sched = self.sched
        while self.loading is None and self.next_load < len(sched.steps) and self.slots_free:
            st = sched.steps[self.next_load]
            self.slots_free -= 1
            self.acts.add("dram", "read", sched.dram_step_bytes(st), 8)
            if sched.weights_from_store:
                self.acts.add(sched.weight_component, "read", sched.store_read_words(st),
                              sched.store_word_bits)
            if st.weight_bytes:
                comp, word = self.weights
                c = sched.tile_columns[st.tile]
                bits = sched.chunk_inputs(st.chunk) * c * self.weight_bits
                self.acts.add(comp, "write", ceil_div(bits, word), word)
            if st.activation_bytes:
                comp, word = self.activations
                words = ceil_div(sched.block_normal_bits[st.block], word)
                self.acts.add(comp, "write", words, word)
                if sched.block_salient_bits[st.block]:
                    comp, word = self.salient
                    words = ceil_div(sched.block_salient_bits[st.block], word)
                    self.acts.add(comp, "write", words, word)
            dur = sched.step_load_cycles(st)
            if dur == 0:
                self.loaded[self.next_load] = True
            else:
                self.loading, self.load_left = self.next_load, dur
            self.next_load += 1

    def end_cycle(self) -> None:
        """The transfer in flight advances one cycle (visible from the next one)."""
        if self.loading is not None:
            self.load_left -= 1
            if self.load_left == 0:
                self.loaded[self.loading] = True
                self.loading = None

    def release(self) -> None:
        """A step finished computing: its slot is free again."""
        self.slots_free += 1


class PassEncoder:
    """The encoders of one step: scan its passes, in order, into a FIFO of encoded vectors.

    A pass starts when fewer than ``fifo_depth`` scanned passes wait to be emitted by the array;
    it reads its words from its SRAM (``read(pass)`` gives component, words, word bits) when it
    starts and scans ``pp.scan_rate`` values per cycle. ``scanned``/``emitted`` are set by the
    machine at the end of the cycle.
    """

    def __init__(
        self,
        passes: list[EncodedPass],
        fifo_depth: int,
        acts: ActionCounter,
        read: Callable[[EncodedPass], tuple[str, int, int]],
    ):
        self.passes = passes
        self.fifo_depth = fifo_depth
        self.acts = acts
        self.read = read
        self.next = 0
        self.busy: int | None = None
        self.scanned_values = 0
        self.scanned = [False] * len(passes)
        self.emitted = [False] * len(passes)

    def cycle(self) -> int | None:
        """One encoder cycle; returns the pass whose scan completes in this cycle."""
        if self.busy is None and self.next < len(self.passes):
            in_use = sum(1 for q in range(self.next) if not self.emitted[q])
            if in_use < self.fifo_depth:
                self.busy, self.scanned_values = self.next, 0
                self.next += 1
                comp, words, word = self.read(self.passes[self.busy])
                self.acts.add(comp, "read", words, word)
        if self.busy is None:
            return None
        p = self.passes[self.busy]
        n_now = min(p.pp.scan_rate, p.n_values - self.scanned_values)
        self.scanned_values += n_now
        self.acts.add("encoder", "convert", n_now, p.pp.bits)
        if self.scanned_values >= p.n_values:
            done, self.busy = self.busy, None
            return done
        return None


class FirePhase:
    """The fire phase of one token against one tile (``ap.fire_cycles`` cycles).

    Starts from the membrane V: A = |V| · 2^frac (+ θ/2 when ``half_init``); each cycle every
    column compares A with its fixed-point θ and, on a spike, subtracts θ (or zeroes A, firing at
    most once, under reset to zero). At the end the signed spike counts are the outputs; an
    exact sum outside ``acc_bits`` counts an overflow event; the outputs are written to the
    output SRAM (and read back for the DRAM write-back).
    """

    def __init__(
        self,
        ap: ArrayParams,
        acts: ActionCounter,
        outputs: NDArray[np.int64],
        output: SramPort,
        output_bits: int,
        compare_bits: int,
    ):
        self.ap = ap
        self.acts = acts
        self.outputs = outputs
        self.output = output
        self.output_bits = output_bits
        self.compare_bits = compare_bits
        self.left = 0
        self.overflow_events = 0
        self.output_spikes = 0

    @property
    def busy(self) -> bool:
        return self.left > 0

    def start(self, token: int, col0: int, theta: list[int], mem: Membranes) -> None:
        ap = self.ap
        self.token, self.col0, self.theta, self.mem = token, col0, theta, mem
        self.a = [
            (abs(mem.v[c]) << ap.frac_bits) + (theta[c] // 2 if ap.half_init else 0)
            for c in range(len(theta))
        ]
        self.n = [0] * len(theta)
        self.left = ap.fire_cycles

    def cycle(self) -> None:
        """One fire cycle (a compute cycle of the array)."""
        ap, cols = self.ap, len(self.theta)
        self.acts.add("if_array", "compare", cols, self.compare_bits)
        for c in range(cols):
            if self.a[c] >= self.theta[c] and not (ap.reset_zero and self.n[c]):
                self.n[c] += 1
                self.a[c] = 0 if ap.reset_zero else self.a[c] - self.theta[c]
                self.acts.add("if_array", "fire", 1, ap.acc_bits)
        self.left -= 1
        if self.left == 0:
            lo, hi = -(1 << (ap.acc_bits - 1)), (1 << (ap.acc_bits - 1)) - 1
            for c in range(cols):
                self.outputs[self.token, self.col0 + c] = int(np.sign(self.mem.v[c])) * self.n[c]
                self.output_spikes += self.n[c]
                self.overflow_events += int(not lo <= self.mem.exact[c] <= hi)
            comp, word = self.output
            words = ceil_div(cols * self.output_bits, word)
            self.acts.add(comp, "write", words, word)
            self.acts.add(comp, "read", words, word)  # drained to DRAM (write-back)


class ArrayUnit(Protocol):
    """What a dataflow's reference writes: its array/issue unit over one schedule step at a time."""

    def begin_step(self, step: int) -> PassEncoder:
        """Start schedule step ``step`` (its data is loaded); return the encoder feeding it."""
        ...

    def cycle(self, encoder: PassEncoder) -> int | None:
        """One array cycle; returns the pass whose integration completes in this cycle."""
        ...

    def step_done(self) -> bool:
        """True once every pass of the step is integrated and the last fire phase is over."""
        ...


def run_steps_by_cycle(
    steps: int, dram: DramChannel, array: ArrayUnit, counts: CycleCounts
) -> int:
    """Step every cycle until the last of ``steps`` schedule steps is done; returns the cycles.

    Each cycle: loads start; an idle array begins the next step once its data is loaded (else
    the cycle is a DRAM stall); the encoder and the array act; then their results, the DRAM
    transfer and the step's completion (its buffer slot is released) become visible.
    """
    cycle = 0
    step = -1
    active = False
    encoder: PassEncoder | None = None
    while True:
        dram.start_loads()
        if not active:
            if step + 1 >= steps:
                return cycle
            if dram.loaded[step + 1]:
                step += 1
                active = True
                encoder = array.begin_step(step)
            else:
                counts.stall_dram += 1
        scanned = emitted = None
        if active:
            assert encoder is not None
            scanned = encoder.cycle()
            emitted = array.cycle(encoder)
        if encoder is not None:
            if scanned is not None:
                encoder.scanned[scanned] = True
            if emitted is not None:
                encoder.emitted[emitted] = True
        dram.end_cycle()
        if active and array.step_done():
            active = False
            dram.release()
        cycle += 1

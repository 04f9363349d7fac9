"""The fast engine of the token-serial IF array: one layer, cycle-exact, without stepping cycles.

1. :func:`.mapping.map_layer` splits the layer into (token block, output tile, K chunk) steps.
2. For each token block (and K chunk) the numba kernel :func:`.kernel.block_timing` computes the
   array's cycles (issue with bank conflicts, encoder FIFO stalls, slope/shift/fire cycles,
   partial-membrane write-back and re-read) from the real integers. Weight rows live in bank
   i mod banks for every tile, so all tiles of a block take the same cycles: the kernel runs once
   per block (split layers: once per block, chunk and tile width, see
   :func:`step_statistics`).
3. simpy orchestrates the step transactions (DRAM loads into double buffers, array computes) and
   yields the total cycles and the DRAM stall.
4. The functional path (exact integer matmul, wrap, fire) gives output spikes and overflow events.
5. Action counts are assembled per step from the kernel's statistics.

The cycle-by-cycle reference in :mod:`.reference` steps every cycle of the same machine;
tests show both give identical cycles and action counts.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import numpy as np

from spikesim._jit import map_threads
from spikesim.actions import ActionCounter
from spikesim.config.hardware import BankRole, HardwareConfig
from spikesim.dataflows.base import LayerSim
from spikesim.dataflows.if_token_serial import kernel
from spikesim.dataflows.if_token_serial.mapping import map_layer
from spikesim.hw import stats as S
from spikesim.hw.functional import functional_outputs
from spikesim.hw.memo import ArrayMemo, row_counts
from spikesim.hw.memory import count_load_actions, membrane_cycles, membrane_sram, membrane_words
from spikesim.hw.params import ArrayParams, array_params
from spikesim.hw.transfers import run_steps
from spikesim.mapping.schedule import Schedule, ceil_div
from spikesim.quant.layer import QuantizedLayer


def salient_read_words(salient_counts: np.ndarray, record_bits: int, word_bits: int) -> int:
    """Words read to fetch each token's salient records (records packed per token)."""
    return int(np.sum(-(-(salient_counts.astype(np.int64) * record_bits) // word_bits)))


StepKey = tuple[int, int, int]
"""(block, K chunk, tile width): the steps that take the same cycles and do the same work."""


KERNEL_MEMO = ArrayMemo(256 * 1024**2)
"""The block kernel's statistics per (read-only x_q and salient arrays, kernel arguments), in
this process: k/v_proj (up_proj) find q_proj's (gate_proj's) steps, and a sweep point that
changes only fields the kernel does not read (:meth:`ArrayParams.timing_key
<spikesim.hw.params.ArrayParams.timing_key>`, the token blocks and K chunks) finds the previous
points' (see :mod:`spikesim.hw.memo`). At most 256 MiB of activation arrays held."""


def step_statistics(
    layer: QuantizedLayer, hw: HardwareConfig, ap: ArrayParams, sched: Schedule,
    fold_cycles: int = 0,
) -> dict[StepKey, np.ndarray]:
    """The block kernel's statistics for every (block, chunk, tile width) of the schedule
    (``fold_cycles`` after each issue group: see :func:`.kernel.block_timing`); the arrays
    returned may be shared (:data:`KERNEL_MEMO`): do not write them.

    Weight rows live in bank i mod banks (i counted from the chunk's first input) for every
    tile, so all tiles of a (block, chunk) take the same cycles, except that a split layer's
    membrane write-back and re-read take :func:`membrane_cycles` of the tile's width: unsplit,
    the kernel runs once per block; split, once per (block, chunk, width).
    """
    x_q = np.asarray(layer.x_q)
    sal = np.asarray(layer.salient)
    chunks = sched.k_chunks or ((0, layer.k),)
    last = len(chunks) - 1
    widths = sorted(set(sched.tile_columns))
    timing = ap.timing_key()
    jobs: list[tuple[int, int, int | None]] = [
        (b, c, w)
        for b in range(len(sched.blocks))
        for c in range(len(chunks))
        for w in (widths if last else [None])
    ]

    def run(job: tuple[int, int, int | None]) -> np.ndarray:
        b, c, w = job
        (t0, t1), (i0, i1) = sched.blocks[b], chunks[c]
        mem = membrane_cycles(hw, w) if w is not None else 0
        reread, writeback = (mem if c > 0 else 0), (mem if c < last else 0)
        key = (timing, t0, t1, i0, i1, reread, writeback, c == last, fold_cycles)
        return KERNEL_MEMO.get(x_q, sal, key, lambda: kernel.block_timing(
            x_q[t0:t1, i0:i1], sal[t0:t1, i0:i1], ap,
            reread_cycles=reread, writeback_cycles=writeback, fire=c == last,
            fold_cycles=fold_cycles,
        ))

    stats: dict[StepKey, np.ndarray] = {}
    for (b, c, w), st in zip(jobs, map_threads(run, jobs), strict=True):
        for width in widths if w is None else [w]:
            stats[(b, c, width)] = st
    return stats


def count_actions(
    layer: QuantizedLayer,
    hw: HardwareConfig,
    ap: ArrayParams,
    sched: Schedule,
    stats: dict[StepKey, np.ndarray],
    output_spikes: int,
    *,
    event_adds: bool = True,
    fold_adds: int = 0,
) -> ActionCounter:
    """Action counts of a layer from the schedule and the kernel statistics of its steps.

    ``event_adds``: each event adds its weight into ``cols`` membranes (``if_array.acc`` at
    ``acc_bits``); False for the spike × spike attention form, which counts its coincidence
    increments itself. ``fold_adds``: ``acc_bits`` adds per column after each issue group
    (the spike × spike form's counter fold; 0 otherwise)."""
    counter = ActionCounter()
    wname, wbank = hw.sram_for(BankRole.WEIGHTS)
    aname, abank = hw.sram_for(BankRole.ACTIVATIONS)
    sname, sbank = hw.sram_for(BankRole.SALIENT)
    oname, obank = hw.sram_for(BankRole.OUTPUT)
    mname, mbank = membrane_sram(hw)
    acc_bits = ap.acc_bits
    chunks = sched.k_chunks or ((0, layer.k),)
    last = len(chunks) - 1
    # every tile of a (block, chunk) repeats the same work; tiles differ only in width
    widths = Counter(sched.tile_columns)
    whole = row_counts(np.asarray(layer.salient)) if len(chunks) == 1 else None
    for b, (t0, t1) in enumerate(sched.blocks):
        tokens = t1 - t0
        for c, (i0, i1) in enumerate(chunks):
            sal_counts = (whole[t0:t1] if whole is not None
                          else np.count_nonzero(layer.salient[t0:t1, i0:i1], axis=1))
            sal_words = salient_read_words(sal_counts, sched.record_bits, sbank.word_bits)
            act_words = tokens * ceil_div((i1 - i0) * layer.act_bits, abank.word_bits)
            for cols, n in widths.items():
                st = stats[(b, c, cols)]
                events = int(st[S.EVENTS_NORMAL] + st[S.EVENTS_SALIENT])
                fetches = int(st[S.FETCHES])
                adds = (events if event_adds else 0) + int(st[S.EXTRA_ACC])
                acc = (adds + fold_adds * int(st[S.ISSUE_GROUPS])) * cols
                counter.add("if_array", "acc", n * acc, acc_bits)
                shifts = int(st[S.SHIFTS] + st[S.SHIFTED_EVENTS])
                counter.add("if_array", "shift", n * shifts * cols, acc_bits)
                counter.add("if_array", "compare", n * int(st[S.FIRE_CYCLES]) * cols,
                            hw.if_array.compare_width_bits)
                counter.add("encoder", "convert", n * int(st[S.SCANNED_NORMAL]), layer.act_bits)
                counter.add("encoder", "convert", n * int(st[S.SCANNED_SALIENT]),
                            layer.salient_bits)
                counter.add("encoder", "emit", n * int(st[S.EVENTS_NORMAL]), layer.act_bits)
                counter.add("encoder", "emit", n * int(st[S.EVENTS_SALIENT]), layer.salient_bits)
                row_words = ceil_div(cols * layer.weight_bits, wbank.word_bits)
                counter.add(f"sram.{wname}", "read", n * fetches * row_words, wbank.word_bits)
                if st[S.LATCHED_EVENTS]:
                    latch_fetches = fetches - (events - int(st[S.LATCHED_EVENTS]))
                    counter.add("latch", "write", n * latch_fetches * cols, layer.weight_bits)
                    counter.add("latch", "read", n * int(st[S.LATCHED_EVENTS]) * cols,
                                layer.weight_bits)
                counter.add(f"sram.{aname}", "read", n * act_words, abank.word_bits)
                counter.add(f"sram.{sname}", "read", n * sal_words, sbank.word_bits)
                mem_words = n * tokens * membrane_words(hw, cols)
                if c < last:  # partial membranes written back ...
                    counter.add(f"sram.{mname}", "write", mem_words, mbank.word_bits)
                if c > 0:  # ... and re-read by the next chunk
                    counter.add(f"sram.{mname}", "read", mem_words, mbank.word_bits)
                if c == last:
                    counter.add("threshold", "multiply", n * tokens * cols,
                                hw.if_array.threshold_bits)
                    out_words = n * tokens * ceil_div(cols * layer.output_bits, obank.word_bits)
                    counter.add(f"sram.{oname}", "write", out_words, obank.word_bits)
                    counter.add(f"sram.{oname}", "read", out_words, obank.word_bits)  # write-back
    counter.add("if_array", "fire", output_spikes, acc_bits)
    count_load_actions(counter, sched, hw, layer.weight_bits)
    return counter


@dataclass(frozen=True, slots=True)
class Arithmetic:
    """How the array's events integrate, for :func:`simulate_layer`. The default is
    spike × integer: each event adds its weight into ``cols`` membranes, nothing after an issue
    group. The spike × spike attention form (:mod:`spikesim.dataflows.spike_spike`) counts
    coincidences instead (``extra``), and folds its counters after each issue group."""

    event_adds: bool = True
    """Each event adds its weight into the tile's registers (``if_array.acc`` at
    ``acc_bits``)."""
    fold_cycles: int = 0
    """Compute cycles after each issue group with events (token-serial array; the
    token-batched array's fold of a batch takes
    :func:`spikesim.dataflows.if_token_batched.twin.fold_cycles` of ``fold_adds`` planes)."""
    fold_adds: int = 0
    """``acc_bits`` adds per column (and per token of a batch) after each issue group with
    events."""
    extra: ActionCounter | None = None
    """Actions added as they are (the spike × spike form's counter increments)."""


SPIKE_INT = Arithmetic()


def simulate_layer(
    layer: QuantizedLayer,
    hw: HardwareConfig,
    design: str,
    *,
    ap: ArrayParams | None = None,
    arithmetic: Arithmetic = SPIKE_INT,
) -> LayerSim:
    """Simulate one quantized layer on the spiking accelerator ``hw`` (``ap``: the array's
    parameters, default :func:`array_params` of ``hw``; ``arithmetic``: spike × integer
    unless a variant says otherwise)."""
    if ap is None:
        ap = array_params(hw, layer.act_bits, layer.salient_bits, layer.k)
    sched = map_layer(layer, hw)
    stats = step_statistics(layer, hw, ap, sched, arithmetic.fold_cycles)
    step_stats = [stats[(s.block, s.chunk, sched.tile_columns[s.tile])] for s in sched.steps]
    compute = [int(st[S.TOTAL]) for st in step_stats]
    loads = [sched.step_load_cycles(s) for s in sched.steps]
    times = run_steps(loads, compute)
    func = functional_outputs(layer, ap)
    actions = count_actions(
        layer, hw, ap, sched, stats, func.output_spikes,
        event_adds=arithmetic.event_adds, fold_adds=arithmetic.fold_adds,
    )
    if arithmetic.extra is not None:
        actions.extend(arithmetic.extra)

    total_stats = np.sum(step_stats, axis=0) if step_stats else np.zeros(S.SIZE, np.int64)
    # the spike events of one tile (every tile integrates the same events)
    tile0 = [st for s, st in zip(sched.steps, step_stats, strict=True) if s.tile == 0]
    events_per_pass = int(sum(int(st[S.EVENTS_NORMAL] + st[S.EVENTS_SALIENT]) for st in tile0))
    compute_cycles = int(total_stats[S.COMPUTE])
    stall_enc = int(total_stats[S.STALL_ENCODER])
    stall_bank = int(total_stats[S.STALL_BANK])
    assert compute_cycles + stall_enc + stall_bank + times.stall_dram_cycles == times.total_cycles
    issued = int(total_stats[S.EVENTS_NORMAL] + total_stats[S.EVENTS_SALIENT])
    return LayerSim(
        layer=layer.name,
        op=layer.op,
        design=design,
        tokens=layer.tokens,
        k=layer.k,
        n=layer.n,
        total_cycles=times.total_cycles,
        compute_cycles=compute_cycles,
        stall_encoder_cycles=stall_enc,
        stall_bank_cycles=stall_bank,
        stall_dram_cycles=times.stall_dram_cycles,
        utilization=issued / (ap.lanes * times.total_cycles) if times.total_cycles else 0.0,
        spikes=events_per_pass,
        acc_ops=actions.get("if_array", "acc"),
        mac_ops=0,
        salient_ratio=layer.salient_ratio,
        overflow_events=func.overflow_events,
        output_spikes=func.output_spikes,
        actions=actions,
        dram_weight_bytes=sched.dram_weight_bytes,
        dram_activation_bytes=sched.dram_activation_bytes,
        dram_output_bytes=sched.dram_output_bytes,
        transactions=times.transactions,
    )

"""The fast engine of the token-batched IF array: one layer, cycle-exact, without stepping cycles.

Same structure as the token-serial engine (:mod:`spikesim.dataflows.if_token_serial.engine`):
the shared schedule (token blocks, output tiles, K chunks), the numba kernel
:func:`.kernel.block_timing` per (block, chunk, tile width), simpy for the step transactions,
the functional path for the outputs, and action counts assembled from the kernel statistics.
The cycle-by-cycle reference in :mod:`.reference` steps every cycle of the same machine; tests
show both give identical cycles and action counts.
"""

from __future__ import annotations

from collections import Counter

import numpy as np

from spikesim._jit import map_threads
from spikesim.actions import ActionCounter
from spikesim.config.hardware import BankRole, HardwareConfig
from spikesim.dataflows.base import LayerSim
from spikesim.dataflows.if_token_batched import kernel
from spikesim.dataflows.if_token_batched.record import MembraneRecord, membrane_record
from spikesim.dataflows.if_token_serial.engine import SPIKE_INT, Arithmetic, salient_read_words
from spikesim.dataflows.if_token_serial.mapping import map_layer
from spikesim.hw import stats as S
from spikesim.hw.functional import functional_outputs
from spikesim.hw.memo import row_counts
from spikesim.hw.memory import count_load_actions, membrane_cycles, membrane_sram, membrane_words
from spikesim.hw.params import ArrayParams, array_params
from spikesim.hw.transfers import run_steps
from spikesim.mapping.schedule import Schedule, ceil_div
from spikesim.quant.layer import QuantizedLayer

StepKey = tuple[int, int, int]
"""(block, K chunk, tile width): the steps that take the same cycles and do the same work."""


def step_statistics(
    layer: QuantizedLayer,
    hw: HardwareConfig,
    ap: ArrayParams,
    sched: Schedule,
    record: MembraneRecord | None,
    fold_planes: int = 0,
) -> dict[StepKey, np.ndarray]:
    """The block kernel's statistics for every (block, chunk, tile width) of the schedule
    (``fold_planes``: the spike × spike form's counter folds, see :func:`.kernel.block_timing`).

    Weight rows live in bank i mod banks for every tile, so tiles of a (block, chunk) differ
    only through their width: the membrane write-back/re-read cycles of a split layer and the
    record words of an SRAM store. The kernel runs once per block and chunk, and once per
    width only when the width matters.
    """
    x_q = np.ascontiguousarray(layer.x_q, dtype=np.int16)
    sal = np.ascontiguousarray(layer.salient)
    chunks = sched.k_chunks or ((0, layer.k),)
    last = len(chunks) - 1
    widths = sorted(set(sched.tile_columns))
    by_width = bool(last) or record is not None
    jobs: list[tuple[int, int, int | None]] = [
        (b, c, w)
        for b in range(len(sched.blocks))
        for c in range(len(chunks))
        for w in (widths if by_width else [None])
    ]

    def run(job: tuple[int, int, int | None]) -> np.ndarray:
        b, c, w = job
        (t0, t1), (i0, i1) = sched.blocks[b], chunks[c]
        return kernel.block_timing(
            x_q[t0:t1, i0:i1], sal[t0:t1, i0:i1], ap,
            batch=hw.if_array.batch,
            rec_words=record.words(w) if record is not None and w is not None else 0,
            mem_ports=record.ports if record is not None else 0,
            membrane_cycles=membrane_cycles(hw, w) if last and w is not None else 0,
            first_chunk=c == 0,
            last_chunk=c == last,
            fold_planes=fold_planes,
        )

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
    record: MembraneRecord | None,
    output_spikes: int,
    *,
    event_adds: bool = True,
    fold_adds: int = 0,
) -> ActionCounter:
    """Action counts of a layer from the schedule and the kernel statistics of its steps.

    ``event_adds`` and ``fold_adds`` as for the token-serial array
    (:func:`spikesim.dataflows.if_token_serial.engine.count_actions`): the spike × spike form
    has no add per event and column but ``fold_adds`` per column for every token of the batch
    after each issue group (``FOLDED_TOKENS``)."""
    counter = ActionCounter()
    wname, wbank = hw.sram_for(BankRole.WEIGHTS)
    aname, abank = hw.sram_for(BankRole.ACTIVATIONS)
    sname, sbank = hw.sram_for(BankRole.SALIENT)
    oname, obank = hw.sram_for(BankRole.OUTPUT)
    mname, mbank = membrane_sram(hw)
    acc_bits = ap.acc_bits
    chunks = sched.k_chunks or ((0, layer.k),)
    last = len(chunks) - 1
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
                acc = (adds + fold_adds * int(st[S.FOLDED_TOKENS])) * cols
                counter.add("if_array", "acc", n * acc, acc_bits)
                shifts = int(st[S.SHIFTS] + st[S.SHIFTED_EVENTS])
                counter.add("if_array", "shift", n * shifts * cols, acc_bits)
                counter.add("if_array", "compare", n * int(st[S.COMPARES]) * cols,
                            hw.if_array.compare_width_bits)
                counter.add("encoder", "convert", n * int(st[S.SCANNED_NORMAL]), layer.act_bits)
                counter.add("encoder", "convert", n * int(st[S.SCANNED_SALIENT]),
                            layer.salient_bits)
                counter.add("encoder", "emit", n * int(st[S.EVENTS_NORMAL]), layer.act_bits)
                counter.add("encoder", "emit", n * int(st[S.EVENTS_SALIENT]), layer.salient_bits)
                row_words = ceil_div(cols * layer.weight_bits, wbank.word_bits)
                counter.add(f"sram.{wname}", "read", n * fetches * row_words, wbank.word_bits)
                if st[S.LATCHED_EVENTS]:  # a latched pass's fetch fills the latch
                    counter.add("latch", "write", n * int(st[S.LATCH_FILLS]) * cols,
                                layer.weight_bits)
                    counter.add("latch", "read", n * int(st[S.LATCHED_EVENTS]) * cols,
                                layer.weight_bits)
                counter.add(f"sram.{aname}", "read", n * act_words, abank.word_bits)
                counter.add(f"sram.{sname}", "read", n * sal_words, sbank.word_bits)
                if record is not None:
                    rw = n * int(st[S.RECORD_WORDS])
                    counter.add(record.component, "read", rw + n * int(st[S.RECORD_FIRE_WORDS]),
                                record.word_bits)
                    counter.add(record.component, "write", rw, record.word_bits)
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
                    counter.add(f"sram.{oname}", "read", out_words, obank.word_bits)
    counter.add("if_array", "fire", output_spikes, acc_bits)
    count_load_actions(counter, sched, hw, layer.weight_bits)
    return counter


def simulate_layer(
    layer: QuantizedLayer,
    hw: HardwareConfig,
    design: str,
    *,
    ap: ArrayParams | None = None,
    arithmetic: Arithmetic = SPIKE_INT,
) -> LayerSim:
    """Simulate one quantized layer on the token-batched spiking accelerator ``hw`` (``ap``
    and ``arithmetic`` as for the token-serial engine; the fold of a batch takes
    :func:`.twin.fold_cycles` of ``arithmetic.fold_adds`` planes, its ``fold_cycles`` is the
    token-serial array's and not used here)."""
    if ap is None:
        ap = array_params(hw, layer.act_bits, layer.salient_bits, layer.k)
    record = membrane_record(hw, ap)
    sched = map_layer(layer, hw)
    stats = step_statistics(layer, hw, ap, sched, record, arithmetic.fold_adds)
    step_stats = [stats[(s.block, s.chunk, sched.tile_columns[s.tile])] for s in sched.steps]
    compute = [int(st[S.TOTAL]) for st in step_stats]
    loads = [sched.step_load_cycles(s) for s in sched.steps]
    times = run_steps(loads, compute)
    func = functional_outputs(layer, ap)
    actions = count_actions(
        layer, hw, ap, sched, stats, record, func.output_spikes,
        event_adds=arithmetic.event_adds, fold_adds=arithmetic.fold_adds,
    )
    if arithmetic.extra is not None:
        actions.extend(arithmetic.extra)

    total_stats = np.sum(step_stats, axis=0) if step_stats else np.zeros(S.SIZE, np.int64)
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

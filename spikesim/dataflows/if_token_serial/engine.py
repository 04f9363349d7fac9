"""The fast engine of the token-serial IF array: one layer, cycle-exact, without stepping cycles.

1. :func:`.mapping.map_layer` splits the layer into (token block, output tile) steps.
2. For each token block the numba kernel :func:`.kernel.block_timing` computes the
   array's cycles (issue with bank conflicts, encoder FIFO stalls, slope/shift/fire cycles) from
   the real integers. Weight rows live in bank i mod banks for every tile, so all tiles of a block
   take the same cycles: the kernel runs once per block.
3. simpy orchestrates the step transactions (DRAM loads into double buffers, array computes) and
   yields the total cycles and the DRAM stall.
4. The functional path (exact integer matmul, wrap, fire) gives output spikes and overflow events.
5. Action counts are assembled per step from the kernel's statistics.

The cycle-by-cycle reference in :mod:`.reference` steps every cycle of the same machine;
tests show both give identical cycles and action counts.
"""

from __future__ import annotations

from collections import Counter

import numpy as np

from spikesim._jit import map_threads
from spikesim.actions import ActionCounter
from spikesim.config.hardware import BankRole, HardwareConfig
from spikesim.dataflows.base import LayerSim
from spikesim.dataflows.if_token_serial import kernel
from spikesim.dataflows.if_token_serial.mapping import map_layer
from spikesim.hw import stats as S
from spikesim.hw.functional import functional_outputs
from spikesim.hw.memory import count_load_actions
from spikesim.hw.params import ArrayParams, array_params
from spikesim.hw.transfers import run_steps
from spikesim.mapping.schedule import Schedule, ceil_div
from spikesim.quant.layer import QuantizedLayer


def salient_read_words(salient_counts: np.ndarray, record_bits: int, word_bits: int) -> int:
    """Words read to fetch each token's salient records (records packed per token)."""
    return int(np.sum(-(-(salient_counts.astype(np.int64) * record_bits) // word_bits)))


def count_actions(
    layer: QuantizedLayer,
    hw: HardwareConfig,
    ap: ArrayParams,
    sched: Schedule,
    block_stats: list[np.ndarray],
    output_spikes: int,
) -> ActionCounter:
    """Action counts of a layer from the schedule and each block's kernel statistics."""
    counter = ActionCounter()
    wname, wbank = hw.sram_for(BankRole.WEIGHTS)
    aname, abank = hw.sram_for(BankRole.ACTIVATIONS)
    sname, sbank = hw.sram_for(BankRole.SALIENT)
    oname, obank = hw.sram_for(BankRole.OUTPUT)
    acc_bits = ap.acc_bits
    sal_counts = np.count_nonzero(layer.salient, axis=1)
    # every tile of a block repeats the same work; tiles differ only in width (the last one)
    widths = Counter(sched.tile_columns)
    for b, (t0, t1) in enumerate(sched.blocks):
        st = block_stats[b]
        tokens = t1 - t0
        events = int(st[S.EVENTS_NORMAL] + st[S.EVENTS_SALIENT])
        fetches = int(st[S.FETCHES])
        sal_words = salient_read_words(sal_counts[t0:t1], sched.record_bits, sbank.word_bits)
        act_words = tokens * ceil_div(layer.k * layer.act_bits, abank.word_bits)
        for cols, n in widths.items():
            acc = (events + int(st[S.EXTRA_ACC])) * cols
            counter.add("if_array", "acc", n * acc, acc_bits)
            shifts = int(st[S.SHIFTS] + st[S.SHIFTED_EVENTS])
            counter.add("if_array", "shift", n * shifts * cols, acc_bits)
            counter.add("if_array", "compare", n * int(st[S.FIRE_CYCLES]) * cols, acc_bits)
            counter.add("threshold", "multiply", n * tokens * cols, hw.if_array.threshold_bits)
            counter.add("encoder", "convert", n * int(st[S.SCANNED_NORMAL]), layer.act_bits)
            counter.add("encoder", "convert", n * int(st[S.SCANNED_SALIENT]), layer.salient_bits)
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
            out_words = n * tokens * ceil_div(cols * layer.output_bits, obank.word_bits)
            counter.add(f"sram.{oname}", "write", out_words, obank.word_bits)
            counter.add(f"sram.{oname}", "read", out_words, obank.word_bits)  # write-back
    counter.add("if_array", "fire", output_spikes, acc_bits)
    count_load_actions(counter, sched, hw, layer.weight_bits)
    return counter


def simulate_layer(layer: QuantizedLayer, hw: HardwareConfig, design: str) -> LayerSim:
    """Simulate one quantized layer on the spiking accelerator ``hw``."""
    ap = array_params(hw, layer.act_bits, layer.salient_bits, layer.k)
    sched = map_layer(layer, hw)
    x_q = np.ascontiguousarray(layer.x_q, dtype=np.int16)
    sal = np.ascontiguousarray(layer.salient)
    block_stats = map_threads(
        lambda block: kernel.block_timing(x_q[block[0]:block[1]], sal[block[0]:block[1]], ap),
        list(sched.blocks),
    )
    compute = [int(block_stats[s.block][S.TOTAL]) for s in sched.steps]
    loads = [sched.load_cycles(s.load_bytes) for s in sched.steps]
    times = run_steps(loads, compute)
    func = functional_outputs(layer, ap)
    actions = count_actions(layer, hw, ap, sched, block_stats, func.output_spikes)

    n_tiles = len(sched.tile_columns)
    total_stats = np.sum(block_stats, axis=0) if block_stats else np.zeros(S.SIZE, np.int64)
    events_per_pass = int(total_stats[S.EVENTS_NORMAL] + total_stats[S.EVENTS_SALIENT])
    compute_cycles = int(total_stats[S.COMPUTE]) * n_tiles
    stall_enc = int(total_stats[S.STALL_ENCODER]) * n_tiles
    stall_bank = int(total_stats[S.STALL_BANK]) * n_tiles
    assert compute_cycles + stall_enc + stall_bank + times.stall_dram_cycles == times.total_cycles
    issued = events_per_pass * n_tiles
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

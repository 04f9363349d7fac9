"""A layer on a MAC-array baseline: SCALE-Sim compute timing, the same SRAM/DRAM model as the
spiking design.

Compute: each GEMM pass takes :func:`spikesim.dataflows.systolic.timing.systolic_gemm` cycles (what
SCALE-Sim reports for that GEMM, array and dataflow); ``compute_cycles`` is their sum, so a user
can check it against SCALE-Sim. Memory: the layer is mapped like the spiking design (token
blocks sized to half the activation SRAM at the design's storage bits per token,
double-buffered tiles of ``mac.cols`` output channels, narrower when such a tile does not fit
twice); each step's share of the compute cycles is proportional to its MACs (integer
apportionment), and simpy runs the same DRAM/double-buffer transactions, so
``stall_dram_cycles`` comes from the same model. The MAC array has no encoder or bank-conflict
stalls (SCALE-Sim's CALC bandwidth mode: operands always delivered).
"""

from __future__ import annotations

import numpy as np

from spikesim.actions import ActionCounter
from spikesim.config.hardware import HardwareConfig
from spikesim.dataflows.base import LayerSim
from spikesim.dataflows.systolic.actions import mac_actions
from spikesim.dataflows.systolic.timing import systolic_gemm
from spikesim.hw.memory import count_load_actions
from spikesim.hw.transfers import StepTimes, run_steps
from spikesim.mapping.schedule import Schedule, plan_steps
from spikesim.quant.baselines import MacQuantized


def apportion(total: int, weights: list[int]) -> list[int]:
    """Split ``total`` into integers proportional to ``weights`` (cumulative rounding down)."""
    w = np.asarray(weights, dtype=np.float64)
    if total == 0 or w.sum() == 0:
        return [0] * len(weights)
    bounds = np.floor(total * np.cumsum(w) / w.sum() + 1e-9).astype(np.int64)
    bounds[-1] = total
    return [int(v) for v in np.diff(np.concatenate([[0], bounds]))]


def map_mac_layer(q: MacQuantized, hw: HardwareConfig) -> Schedule:
    """Memory steps of a MAC layer: token blocks at the design's storage bits per token, tiles
    of ``mac.cols`` output channels, narrowed when such a tile does not fit twice."""
    return plan_steps(
        name=q.name,
        m=q.tokens,
        k=q.k,
        n=q.n,
        normal_bits_per_token=q.act_bits_per_token,
        salient_bits_per_token=np.zeros(q.tokens, np.int64),
        record_bits=1,
        weight_bits=q.weight_bits,
        output_bits=q.output_bits,
        tile_cols=hw.mac.cols,
        hw=hw,
        shrink_tiles=True,
    )


def memory_times(sched: Schedule, compute_cycles: int) -> StepTimes:
    """The DRAM/double-buffer transactions of a MAC layer: ``compute_cycles`` spread over the
    steps in proportion to their MACs (tokens × tile columns, integer apportionment)."""
    shares = apportion(
        compute_cycles,
        [(sched.blocks[s.block][1] - sched.blocks[s.block][0]) * sched.tile_columns[s.tile]
         for s in sched.steps],
    )
    return run_steps([sched.step_load_cycles(s) for s in sched.steps], shares)


def mac_layer_sim(
    q: MacQuantized,
    hw: HardwareConfig,
    design: str,
    sched: Schedule,
    compute_cycles: int,
    actions: ActionCounter,
    busy_pe_cycles: int,
) -> LayerSim:
    """The LayerSim of a MAC-array layer: memory transactions from :func:`memory_times`, the
    DRAM fill counts added to ``actions``; utilization = ``busy_pe_cycles`` / (rows × cols ×
    total cycles)."""
    times = memory_times(sched, compute_cycles)
    count_load_actions(actions, sched, hw, q.weight_bits)
    peak = hw.mac.rows * hw.mac.cols * times.total_cycles
    return LayerSim(
        layer=q.name,
        op=q.op,
        design=design,
        tokens=q.tokens,
        k=q.k,
        n=q.n,
        total_cycles=times.total_cycles,
        compute_cycles=compute_cycles,
        stall_encoder_cycles=0,
        stall_bank_cycles=0,
        stall_dram_cycles=times.stall_dram_cycles,
        utilization=busy_pe_cycles / peak if peak else 0.0,
        spikes=0,
        acc_ops=0,
        mac_ops=sum(q.tokens * p.k * q.n for p in q.passes),
        salient_ratio=q.salient_ratio,
        overflow_events=0,
        output_spikes=0,
        actions=actions,
        dram_weight_bytes=sched.dram_weight_bytes,
        dram_activation_bytes=sched.dram_activation_bytes,
        dram_output_bytes=sched.dram_output_bytes,
        transactions=times.transactions,
    )


def simulate_mac_layer(q: MacQuantized, hw: HardwareConfig, design: str) -> LayerSim:
    """Simulate one layer of the MAC baseline ``design``."""
    mac = hw.mac
    timings = [systolic_gemm(q.tokens, p.k, q.n, mac.rows, mac.cols, mac.dataflow)
               for p in q.passes]
    compute = sum(t.compute_cycles for t in timings)
    macs = sum(q.tokens * p.k * q.n for p in q.passes)
    sched = map_mac_layer(q, hw)
    return mac_layer_sim(q, hw, design, sched, compute, mac_actions(q, timings, hw), macs)

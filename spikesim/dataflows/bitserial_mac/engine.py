"""A layer on the bit-serial MAC array: :mod:`.timing` for the array, the MAC baselines' memory
model for the rest.

Memory steps, their share of the compute cycles (proportional to MACs, integer apportionment)
and the DRAM/double-buffer transactions are exactly the MAC engine's
(:mod:`spikesim.dataflows.systolic.engine`). Actions are ``mac-w4a4``'s
(:func:`spikesim.dataflows.systolic.actions.mac_actions`: SRAM operand reads and partial sums as
SCALE-Sim counts them for the dataflow, dequantization, requantization, output write-back) with
the bit-parallel ``mac_array.multiply`` / ``mac_array.add`` replaced by, per PE bit-plane
operation, one ``mac_array.and`` at ``weight_bits`` (the operand gate: the weight ANDed with the
activation's bit, XORed with its sign) and one ``mac_array.add`` at ``mac.acc_bits`` (the
shift-add into the accumulator).
"""

from __future__ import annotations

from collections.abc import Sequence

from spikesim.actions import ActionCounter
from spikesim.config.hardware import HardwareConfig
from spikesim.dataflows.base import LayerSim
from spikesim.dataflows.bitserial_mac.timing import BitSerialTiming, bitserial_gemm
from spikesim.dataflows.systolic.actions import mac_actions
from spikesim.dataflows.systolic.engine import mac_layer_sim, map_mac_layer
from spikesim.quant.baselines import MacQuantized

ARRAY = "mac_array"


def check_integer(q: MacQuantized) -> None:
    if q.floating:
        raise ValueError(f"layer {q.name}: the bit-serial array needs integer activations")


def array_actions(
    q: MacQuantized, plane_ops: Sequence[int], systolic_actions: ActionCounter,
    hw: HardwareConfig,
) -> ActionCounter:
    """``systolic_actions`` (mac-w4a4's counts for the same passes) without its ``mac_array``
    rows, plus ``plane_ops`` operand gates and shift-adds."""
    counter = ActionCounter()
    for a in systolic_actions.items():
        if a.component != ARRAY:
            counter.add(a.component, a.action, a.count, a.bits)
    for p, ops in zip(q.passes, plane_ops, strict=True):
        counter.add(ARRAY, "and", ops, p.weight_bits)
        counter.add(ARRAY, "add", ops, hw.mac.acc_bits)
    return counter


def layer_timings(q: MacQuantized, hw: HardwareConfig) -> list[BitSerialTiming]:
    mac = hw.mac
    return [bitserial_gemm(p.x_q, q.n, mac.rows, mac.cols, mac.dataflow, p.act_bits,
                           mac.zero_skip) for p in q.passes]


def simulate_bitserial_layer(q: MacQuantized, hw: HardwareConfig, design: str) -> LayerSim:
    """Simulate one layer on the bit-serial MAC array (fast engine); utilization counts
    bit-plane operations per PE-cycle."""
    check_integer(q)
    timings = layer_timings(q, hw)
    compute = sum(t.compute_cycles for t in timings)
    actions = array_actions(
        q, [t.plane_ops for t in timings], mac_actions(q, [t.systolic for t in timings], hw), hw
    )
    plane_ops = sum(t.plane_ops for t in timings)
    return mac_layer_sim(q, hw, design, map_mac_layer(q, hw), compute, actions, plane_ops)

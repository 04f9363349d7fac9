"""Per-layer simulation results (counts and cycles, no energy: the energy model prices them)."""

from __future__ import annotations

from dataclasses import dataclass

from spikesim.actions import ActionCounter
from spikesim.sim.steps import Transaction


@dataclass(frozen=True, eq=False)
class LayerSim:
    """Cycles and action counts of one layer under one design.

    ``total_cycles = compute_cycles + stall_encoder_cycles + stall_bank_cycles
    + stall_dram_cycles``.
    ``spikes`` counts input spike events once per token (not once per output tile);
    ``acc_ops`` counts every accumulate of the IF array (events × active columns, slope adds,
    merges); ``utilization`` is issued events / (lanes × total_cycles).
    """

    layer: str
    op: str
    design: str
    tokens: int
    k: int
    n: int
    total_cycles: int
    compute_cycles: int
    stall_encoder_cycles: int
    stall_bank_cycles: int
    stall_dram_cycles: int
    utilization: float
    spikes: int
    acc_ops: int
    mac_ops: int
    salient_ratio: float
    overflow_events: int
    output_spikes: int
    actions: ActionCounter
    transactions: tuple[Transaction, ...] = ()

    def row(self) -> dict[str, object]:
        """The layer's fields for ``layers.csv`` (energy columns are added by the pricing step)."""
        return {
            "layer": self.layer,
            "op": self.op,
            "tokens": self.tokens,
            "k": self.k,
            "n": self.n,
            "design": self.design,
            "total_cycles": self.total_cycles,
            "compute_cycles": self.compute_cycles,
            "stall_cycles": self.stall_encoder_cycles
            + self.stall_bank_cycles
            + self.stall_dram_cycles,
            "stall_encoder_cycles": self.stall_encoder_cycles,
            "stall_bank_cycles": self.stall_bank_cycles,
            "stall_dram_cycles": self.stall_dram_cycles,
            "utilization": self.utilization,
            "spikes": self.spikes,
            "acc_ops": self.acc_ops,
            "mac_ops": self.mac_ops,
            "salient_ratio": self.salient_ratio,
            "overflow_events": self.overflow_events,
        }

"""The FP vector unit (spikesim.hw.vector): counts and cycles by hand for tiny layers, the closed
form equal to the cycle-by-cycle reference, pricing through the FP16 rows, and the unit's rows
in a simulation (the same under every design)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import spikesim
from spikesim.config import HardwareConfig, load_hardware
from spikesim.energy import price_actions
from spikesim.energy.model import energy_model
from spikesim.hw.vector import (
    VectorCounts,
    exp_ops,
    per_element_ops,
    reciprocal_ops,
    rsqrt_ops,
    vector_counts,
    vector_reference,
)
from spikesim.trace.vector import VectorLayer, VectorOp

PRESET = Path(__file__).resolve().parents[2] / "hw_configs" / "spikequant-45nm.yaml"
HW = load_hardware(PRESET, {"vector.lanes": 4})
"""Activation SRAM: 64-bit words, 4 banks of 1 port (4 words, 16 FP16 values per cycle)."""


def hw_with(**changes: object) -> HardwareConfig:
    return load_hardware(PRESET, {"vector.lanes": 4, **changes})


def test_fp16_operation_counts() -> None:
    """The per-element counts the module docstring states (exp degree 3, 2 Newton steps)."""
    cfg = HW.vector
    assert (cfg.exp_poly_degree, cfg.newton_steps, cfg.value_bits) == (3, 2, 16)
    assert (exp_ops(3).count("add"), exp_ops(3).count("mult")) == (6, 4)
    assert (reciprocal_ops(2).count("add"), reciprocal_ops(2).count("mult")) == (2, 4)
    assert (rsqrt_ops(2).count("add"), rsqrt_ops(2).count("mult")) == (2, 7)
    assert {op.value: per_element_ops(op, cfg) for op in VectorOp} == {
        "rmsnorm": (1, 3),
        "rope": (1, 2),
        "softmax": (9, 5),
        "silu_mul": (9, 10),
        "residual": (1, 0),
        "kv_write": (3, 1),
    }
    fp32 = load_hardware(PRESET, {"vector.format": "fp32"}).vector
    assert (fp32.exp_poly_degree, fp32.newton_steps, fp32.value_bits) == (6, 3, 32)


def test_rmsnorm_by_hand() -> None:
    """2 tokens of 8 on 4 lanes. Per token: pass 1 (x², accumulate) 2 groups × 2 ops = 4
    cycles; a tree over 4 partial sums: 3 adds in 2 levels; · 1/d, + ε and 1/sqrt (1 + 2 × 3
    mults, 2 adds): 11 serial cycles; pass 2 (· r, · γ) 2 × 2 = 4 cycles: 21 cycles. x read in
    pass 1 (2 words), γ read and y written in pass 2 (2 + 2 words), never waiting for SRAM."""
    layer = VectorLayer("n", "rmsnorm", tokens=2, width=8)
    counts = vector_counts(layer, HW)
    per_token_adds = 8 * 1 + 3 + (1 + 2)
    per_token_mults = 8 * 3 + (1 + 7)
    assert counts == VectorCounts(
        adds=2 * per_token_adds, mults=2 * per_token_mults, sram_reads=2 * 4, sram_writes=2 * 2,
        compute_cycles=2 * (4 + 2 + 11 + 4), stall_bank_cycles=0,
    )
    assert (counts.adds, counts.mults, counts.total_cycles) == (28, 64, 42)


def test_softmax_by_hand() -> None:
    """3 tokens, 2 heads: causal rows of 1, 2, 3 scores per head. Per element 9 adds, 5 mults
    (12 elements); per row two trees (max, sum) over min(4, r) partials and 1/sum (4 mults, 2
    adds). A row of r <= 4: 1 + 12 + 1 cycles of passes, 6 of 1/sum, 2 × ceil(log2 r) of
    trees."""
    layer = VectorLayer("s", "softmax", tokens=3, width=3, heads=2)
    assert layer.elements == 12
    counts = vector_counts(layer, HW)
    trees = 2 * (0 + 1 + 2)  # per head: rows of 1, 2, 3 partials, two trees each
    assert counts.adds == 12 * 9 + 2 * trees + 6 * 2
    assert counts.mults == 12 * 5 + 6 * 4
    assert counts.compute_cycles == 2 * ((20 + 0) + (20 + 2) + (20 + 4))
    assert (counts.sram_reads, counts.sram_writes, counts.stall_bank_cycles) == (6, 6, 0)


def test_kv_write_by_hand() -> None:
    """One token, one KV head of head_dim 8 (rows: its k and its v) on 4 lanes, 4-bit cache
    with FP16 scales. Per row: pass 1 (|x| max) 2 groups × 1 op, a tree of 3 compares in 2
    levels, 1/max (4 mults, 2 adds), · q_max and · 1/q_max (2 mults): 2 + 2 + 8 = 12 cycles;
    pass 2 (· 1/scale, two adds to round) 2 × 3 = 6 cycles. x read once (2 words); nothing
    written to the SRAM: (8 × 4 + 16) / 8 = 6 bytes per row go to DRAM."""
    layer = VectorLayer("w", "kv_write", tokens=1, width=8, rows_per_token=2, op_class="kv")
    counts = vector_counts(layer, HW)
    assert counts == VectorCounts(
        adds=2 * (8 + 3 + 2 + 16), mults=2 * (6 + 8), sram_reads=2 * 2, sram_writes=0,
        compute_cycles=2 * (12 + 6), stall_bank_cycles=0, dram_write_bytes=2 * 6,
    )
    wide = vector_counts(layer, hw_with(**{"kv_cache.bits": 8, "kv_cache.scale_bits": 0}))
    assert wide.dram_write_bytes == 2 * 8
    priced = counts.actions(HW).to_frame()
    dram = priced[priced["component"] == "dram"]
    assert dram[["action", "count", "bits"]].values.tolist() == [["write", 12, 8]]


def test_decode_and_batched_softmax_rows() -> None:
    """A decode step's softmax: every (sequence, head) row holds the step's keys; a batched
    prefill: one causal triangle per sequence."""
    decode = VectorLayer("s", "softmax", tokens=3, width=5, heads=2, keys=5)
    assert decode.rows() == ((5, 6),)
    assert decode.elements == 30
    batched = VectorLayer("s", "softmax", tokens=6, width=3, heads=2, sequences=2)
    assert batched.rows() == ((1, 4), (2, 4), (3, 4))
    assert batched.elements == 2 * 2 * 6
    with pytest.raises(ValueError, match="multiple of sequences"):
        VectorLayer("s", "softmax", tokens=5, width=3, sequences=2)


def test_silu_rope_residual_by_hand() -> None:
    silu = vector_counts(VectorLayer("g", "silu_mul", tokens=1, width=4), HW)
    assert (silu.adds, silu.mults, silu.compute_cycles) == (36, 40, 19)  # 19 ops, one group
    assert (silu.sram_reads, silu.sram_writes) == (2, 1)  # gate and up in, one out
    rope = vector_counts(VectorLayer("r", "rope", tokens=1, width=8, table_values=4), HW)
    assert (rope.adds, rope.mults, rope.compute_cycles) == (8, 16, 6)
    assert (rope.sram_reads, rope.sram_writes) == (2 + 1, 2)  # q/k words + the cos/sin word
    residual = vector_counts(VectorLayer("a", "residual", tokens=2, width=8), HW)
    assert (residual.adds, residual.mults, residual.compute_cycles) == (16, 0, 4)
    assert residual.stall_bank_cycles == 0  # 6 words per token over 4 ports: 2 cycles
    one_bank = vector_counts(VectorLayer("a", "residual", tokens=2, width=8),
                             hw_with(**{"sram.activations.banks": 1}))
    assert one_bank.stall_bank_cycles == 2 * (6 - 2)  # 6 words on one port vs 2 cycles of adds
    assert one_bank.total_cycles == 12


@settings(max_examples=40, deadline=None)
@given(
    op=st.sampled_from(list(VectorOp)),
    tokens=st.integers(1, 5),
    width=st.integers(1, 37),
    heads=st.integers(1, 3),
    lanes=st.integers(1, 9),
    banks=st.integers(1, 3),
    word_bits=st.sampled_from([16, 24, 64, 128]),
    fmt=st.sampled_from(["fp16", "fp32"]),
    newton=st.integers(0, 3),
    shape=st.sampled_from(["prefill", "batched", "decode"]),
    kv_bits=st.integers(2, 8),
)
def test_closed_form_equals_cycle_by_cycle_reference(
    op: VectorOp, tokens: int, width: int, heads: int, lanes: int, banks: int, word_bits: int,
    fmt: str, newton: int, shape: str, kv_bits: int,
) -> None:
    hw = load_hardware(PRESET, {
        "vector.lanes": lanes, "vector.format": fmt, "vector.newton_iterations": newton,
        "sram.activations.banks": banks, "sram.activations.word_bits": word_bits,
        "kv_cache.bits": kv_bits,
    })
    softmax = op is VectorOp.SOFTMAX
    sequences = 2 if shape == "batched" else 1
    keys = width if shape == "decode" and softmax else 0
    layer = VectorLayer("l", op.value, tokens * sequences,
                        (keys or tokens) if softmax else width,
                        heads=heads if softmax else 1,
                        table_values=width % 7 if op is VectorOp.ROPE else 0,
                        sequences=sequences if softmax else 1, keys=keys,
                        rows_per_token=heads if op is VectorOp.KV_WRITE else 1)
    assert vector_counts(layer, hw) == vector_reference(layer, hw)


def test_priced_as_fp16_operations_and_sram_words() -> None:
    """fp_add 0.4 pJ and fp_mult 1.1 pJ (Horowitz FP16 rows); SRAM words at the SRAM's price."""
    hw = load_hardware(PRESET, {"energy.operations": "horowitz-45nm"})
    counts = vector_counts(VectorLayer("n", "rmsnorm", tokens=2, width=8), hw)
    frame = counts.actions(hw).to_frame()
    priced = price_actions(frame, hw, energy_model(hw)).set_index(["component", "action"])
    add, mult = priced.loc[("vector_unit", "fp_add")], priced.loc[("vector_unit", "fp_mult")]
    assert (int(add["bits"]), int(mult["bits"])) == (16, 16)
    assert float(add["energy_pj"]) == pytest.approx(counts.adds * 0.4)
    assert float(mult["energy_pj"]) == pytest.approx(counts.mults * 1.1)
    reads = priced.loc[("sram.activations", "read")]
    assert (int(reads["count"]), int(reads["bits"])) == (counts.sram_reads, 64)


def test_vector_rows_equal_under_every_design() -> None:
    """A vector layer is simulated once and its row is the same for every design."""
    from spikesim.trace import load_workload

    wl = load_workload("shape:smollm2-135m", tokens=4)
    result = spikesim.simulate(HW, wl, ["spikequant", "mac-w4a4"],
                               layers=["layers.0.mlp.[rs]*", "layers.0.self_attn.softmax"])
    vector = result.layers[result.layers["op_class"] == "vector"]
    assert set(vector["layer"]) == {
        "layers.0.mlp.rmsnorm", "layers.0.mlp.silu_mul", "layers.0.mlp.residual",
        "layers.0.self_attn.softmax",
    }
    by_design = {d: part.drop(columns="design").reset_index(drop=True)
                 for d, part in vector.groupby("design")}
    pd.testing.assert_frame_equal(by_design["spikequant"], by_design["mac-w4a4"])
    assert (vector[["spikes", "acc_ops", "mac_ops", "energy_paper_pj"]] == 0).all().all()
    assert (vector["energy_compute_pj"] > 0).all()  # the vector unit's arithmetic
    silu = vector[vector["layer"] == "layers.0.mlp.silu_mul"].iloc[0]
    assert (silu["tokens"], silu["k"], silu["n"]) == (4, 1536, 1536)
    assert silu["total_cycles"] == vector_counts(wl.layer("layers.0.mlp.silu_mul"),  # type: ignore[arg-type]
                                                 HW).total_cycles

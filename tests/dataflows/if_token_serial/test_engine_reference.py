"""The fast engine reproduces the cycle-by-cycle reference exactly on small layers.

Same total cycles, same stall attribution, same action counts, same output spikes and overflow
events; and the reference's output integers equal the integer reference (matmul + fire rule).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from spikesim.config import load_hardware
from spikesim.dataflows.if_token_serial.engine import simulate_layer
from spikesim.dataflows.if_token_serial.mapping import map_layer
from spikesim.dataflows.if_token_serial.reference import reference_simulate_layer
from spikesim.hw.functional import reference_outputs
from spikesim.hw.params import array_params
from spikesim.quant.layer import quantize_layer

ROOT = Path(__file__).resolve().parents[3]

SMALL = {
    "if_array.columns": 8,
    "dram.latency_cycles": 5,
    "dram.bandwidth_bytes_per_cycle": 8,
    "sram.activations.capacity_bytes": 64,  # several token blocks
    "sram.weights.capacity_bytes": 4096,
}

CASES: dict[str, tuple[str, dict[str, Any]]] = {
    "default count+ttfs": ("spikequant-45nm", {}),
    "count, bank-conflict bound": (
        "spikequant-45nm-count", {"sram.weights.banks": 2, "if_array.lanes": 8}
    ),
    "ttfs, encoder bound": (
        "spikequant-45nm-ttfs",
        {"encoder.count": 1, "encoder.values_per_cycle": 1, "encoder.fifo_depth": 1,
         "quant.salient_coding": "count"},
    ),
    "activation-SRAM bound (encoder stall)": (
        "spikequant-45nm",
        {"sram.activations.word_bits": 8, "sram.activations.banks": 1,
         "sram.activations.capacity_bytes": 1024, "quant.mad_k": 1000.0,
         "encoder.fifo_depth": 1},
    ),
    "bitserial+count, deep fifo": (
        "spikequant-45nm",
        {"quant.normal_coding": "bitserial", "quant.salient_coding": "count",
         "encoder.fifo_depth": 3, "sram.weights.ports": 2},
    ),
    "dram bound, weights not resident": (
        "spikequant-45nm",
        {"dram.bandwidth_bytes_per_cycle": 0.25, "sram.weights.capacity_bytes": 320,
         "dram.latency_cycles": 40},
    ),
    "overflow, zero reset, floor": (
        "spikequant-45nm",
        {"if_array.acc_bits": 7, "if_array.reset": "zero", "if_array.initial_membrane": "zero"},
    ),
    "ttfs long window, salient bitserial": (
        "spikequant-45nm-ttfs",
        {"encoder.window": 140, "quant.salient_coding": "bitserial", "quant.salient_bits": 6},
    ),
    "row latch, count + bitserial, bank-conflict bound": (
        "spikequant-45nm",
        {"if_array.row_latch": True, "sram.weights.banks": 2, "if_array.lanes": 8},
    ),
    "compare counted at 12 bits": ("spikequant-45nm", {"if_array.compare_bits": 12}),
    "weights from the on-chip store, store-read bound, slow dram": (
        "spikequant-45nm",
        {"sram.store": {"role": "store", "capacity_bytes": 1 << 20, "word_bits": 8},
         "mapping.weight_source": "store", "sram.weights.capacity_bytes": 320,
         "dram.bandwidth_bytes_per_cycle": 0.5},
    ),
    "row latch, bitserial normal, ttfs salient, overflow": (
        "spikequant-45nm",
        {"if_array.row_latch": True, "quant.normal_coding": "bitserial",
         "quant.salient_coding": "ttfs", "quant.salient_bits": 6, "if_array.acc_bits": 9},
    ),
}


# --------------------------------------------------------------------------------------------
# K-splitting: tiles of 40 inputs x 8 columns x 4 bits = 160 bytes; 200 bytes hold 25 inputs of
# a chunk-tile twice (2 chunks of 20), 120 bytes hold 15 (3 chunks of 14, 13, 13)
# --------------------------------------------------------------------------------------------

MEMBRANE_SRAM = {"sram.membrane": {"role": "membrane", "capacity_bytes": 2048, "word_bits": 32,
                                   "banks": 2}}

SPLIT_CASES: dict[str, tuple[str, dict[str, Any], int]] = {
    # name: (preset, overrides, chunks)
    "K split in 2, membranes in the output SRAM": (
        "spikequant-45nm", {"sram.weights.capacity_bytes": 200}, 2,
    ),
    "K split in 3, membrane SRAM, weights_outer, slow dram": (
        "spikequant-45nm",
        {"sram.weights.capacity_bytes": 120, "mapping.loop_order": "weights_outer",
         "dram.bandwidth_bytes_per_cycle": 0.5, **MEMBRANE_SRAM},
        3,
    ),
    "K split in 3, weights from a wide store": (
        "spikequant-45nm",
        {"sram.weights.capacity_bytes": 120, "mapping.weight_source": "store",
         "sram.store": {"role": "store", "capacity_bytes": 1 << 16, "word_bits": 128,
                        "banks": 2}},
        3,
    ),
    "K split in 3, overflow, bitserial + ttfs, zero reset": (
        "spikequant-45nm",
        {"sram.weights.capacity_bytes": 120, "if_array.acc_bits": 7, "if_array.reset": "zero",
         "quant.normal_coding": "bitserial", "quant.salient_coding": "ttfs",
         "quant.salient_bits": 6},
        3,
    ),
    "K split in 2, row latch, bank-conflict bound, encoder bound": (
        "spikequant-45nm-count",
        {"sram.weights.capacity_bytes": 200, "if_array.row_latch": True,
         "sram.weights.banks": 2, "if_array.lanes": 8, "encoder.count": 1,
         "encoder.values_per_cycle": 2, "encoder.fifo_depth": 1},
        2,
    ),
}


def small_layer(hw: Any, seed: int = 1, m: int = 6, k: int = 40, n: int = 20) -> Any:
    rng = np.random.default_rng(seed)
    x = rng.standard_t(4, (m, k)).astype(np.float32)
    x[:, min(5, k - 1)] *= 40  # a persistent outlier channel
    w = rng.normal(0, 0.05, (n, k)).astype(np.float32)
    return quantize_layer("layers.0.mlp.up_proj", "up_proj", x, w, hw.quant)


def assert_same(layer: Any, hw: Any) -> tuple[Any, Any]:
    fast = simulate_layer(layer, hw, "spikequant")
    ref = reference_simulate_layer(layer, hw)
    assert (
        fast.total_cycles, fast.compute_cycles, fast.stall_encoder_cycles,
        fast.stall_bank_cycles, fast.stall_dram_cycles,
    ) == (
        ref.total_cycles, ref.compute_cycles, ref.stall_encoder_cycles,
        ref.stall_bank_cycles, ref.stall_dram_cycles,
    )
    a = {(x.component, x.action, x.bits): x.count for x in fast.actions.items() if x.count}
    b = {(x.component, x.action, x.bits): x.count for x in ref.actions.items() if x.count}
    assert a == b
    assert fast.output_spikes == ref.output_spikes
    assert fast.overflow_events == ref.overflow_events
    ap = array_params(hw, layer.act_bits, layer.salient_bits, layer.k)
    want, ovf = reference_outputs(layer.x_q, layer.w_q, layer.threshold_fx(ap.frac_bits), ap)
    np.testing.assert_array_equal(ref.outputs, want)
    assert ref.overflow_events == int(ovf.sum())
    return fast, ref


@pytest.mark.parametrize("case", list(CASES))
def test_fast_engine_equals_cycle_reference(case: str, repo_root: Any) -> None:
    preset, overrides = CASES[case]
    hw = load_hardware(repo_root / "hw_configs" / f"{preset}.yaml", {**SMALL, **overrides})
    fast, _ = assert_same(small_layer(hw), hw)
    if "encoder bound" in case or "SRAM bound" in case:
        assert fast.stall_encoder_cycles > 0.3 * fast.total_cycles
    if "dram bound" in case:
        assert fast.stall_dram_cycles > 0.3 * fast.total_cycles
    if "bank-conflict" in case:
        assert fast.stall_bank_cycles > 0
    if "overflow" in case:
        assert fast.overflow_events > 0


@pytest.mark.parametrize("case", list(SPLIT_CASES))
def test_k_split_fast_engine_equals_cycle_reference(case: str, repo_root: Any) -> None:
    """Partial membranes written back and re-read between chunks: identical cycles, stall
    attribution and action counts; the outputs equal the unsplit integer reference (addition
    mod 2^acc_bits is associative), overflow included; the membrane traffic is
    tokens x tiles x (chunks - 1) writes and as many reads."""
    preset, overrides, chunks = SPLIT_CASES[case]
    hw = load_hardware(repo_root / "hw_configs" / f"{preset}.yaml", {**SMALL, **overrides})
    layer = small_layer(hw)
    sched = map_layer(layer, hw)
    assert len(sched.k_chunks) == chunks
    fast, _ = assert_same(layer, hw)
    unsplit_hw = load_hardware(
        repo_root / "hw_configs" / f"{preset}.yaml",
        {**SMALL, **overrides, "sram.weights.capacity_bytes": 4096},
    )
    unsplit = simulate_layer(layer, unsplit_hw, "spikequant")
    assert (fast.output_spikes, fast.overflow_events, fast.spikes) == (
        unsplit.output_spikes, unsplit.overflow_events, unsplit.spikes
    )
    store = "membrane" if "membrane SRAM" in case else "output"
    word = hw.sram[store].word_bits
    per_token = sum(-(-c * hw.if_array.acc_bits // word) for c in sched.tile_columns)
    moved = layer.tokens * per_token * (chunks - 1)
    # the output SRAM also holds the outputs (written once, read back for DRAM)
    out_words = unsplit.actions.get(f"sram.{store}", "write") if store == "output" else 0
    assert fast.actions.get(f"sram.{store}", "write") == out_words + moved
    assert fast.actions.get(f"sram.{store}", "read") == out_words + moved
    assert fast.compute_cycles > unsplit.compute_cycles
    if "overflow" in case:
        assert fast.overflow_events > 0
    if "bank-conflict" in case:
        assert fast.stall_bank_cycles > 0
    if "encoder bound" in case:
        assert fast.stall_encoder_cycles > 0


def test_dram_roofline_bound(repo_root: Any) -> None:
    """No layer finishes faster than its DRAM traffic allows."""
    hw = load_hardware(
        repo_root / "hw_configs" / "spikequant-45nm.yaml",
        {**SMALL, "dram.bandwidth_bytes_per_cycle": 0.5},
    )
    fast = simulate_layer(small_layer(hw), hw, "spikequant")
    read_bytes = fast.actions.get("dram", "read")
    assert fast.total_cycles >= read_bytes / 0.5


@pytest.mark.slow  # the reference steps every cycle in Python: ~1 s an example
@settings(max_examples=60, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 10_000),
    normal=st.sampled_from(["count", "bitserial", "ttfs"]),
    salient=st.sampled_from(["count", "bitserial", "ttfs"]),
    lanes=st.integers(1, 12),
    banks=st.integers(1, 6),
    values=st.integers(1, 20),
    fifo=st.integers(1, 3),
    bw=st.sampled_from([0.5, 2.0, 16.0]),
    m=st.integers(1, 5),
    k=st.integers(2, 24),
    n=st.integers(1, 12),
    latch=st.booleans(),
)
def test_random_configs_match_reference(
    seed: int, normal: str, salient: str, lanes: int, banks: int, values: int,
    fifo: int, bw: float, m: int, k: int, n: int, latch: bool,
) -> None:
    hw = load_hardware(
        ROOT / "hw_configs" / "spikequant-45nm.yaml",
        {
            **SMALL,
            "if_array.columns": 5,
            "quant.normal_coding": normal,
            "quant.salient_coding": salient,
            "quant.mad_k": 2.5,
            "if_array.lanes": lanes,
            "sram.weights.banks": banks,
            "encoder.count": 1,
            "encoder.values_per_cycle": values,
            "encoder.fifo_depth": fifo,
            "dram.bandwidth_bytes_per_cycle": bw,
            "if_array.row_latch": latch,
        },
    )
    assert_same(small_layer(hw, seed, m, k, n), hw)


@pytest.mark.parametrize("coding", ["count", "bitserial"])
def test_row_latch_fetches_each_row_once_per_value(coding: str, repo_root: Any) -> None:
    """The latch changes only where weights come from and when: the same adds, the same output
    spikes, one weight-row read per non-zero value instead of one per spike event."""
    base = {**SMALL, "quant.normal_coding": coding, "quant.salient_coding": coding}
    plain_hw = load_hardware(repo_root / "hw_configs" / "spikequant-45nm.yaml", base)
    latch_hw = load_hardware(
        repo_root / "hw_configs" / "spikequant-45nm.yaml", {**base, "if_array.row_latch": True}
    )
    layer = small_layer(plain_hw)
    plain = simulate_layer(layer, plain_hw, "spikequant")
    latched, _ = assert_same(layer, latch_hw)
    assert latched.output_spikes == plain.output_spikes
    assert latched.spikes == plain.spikes
    nonzero = int(np.count_nonzero(layer.x_q))
    tiles = -(-layer.n // 8)
    row_words = -(-8 * layer.weight_bits // 256)
    weights = next(n for n, b in latch_hw.sram.items() if b.role.value == "weights")
    loaded = latched.actions.get(f"sram.{weights}", "write")
    assert latched.actions.get(f"sram.{weights}", "read") == nonzero * tiles * row_words
    assert plain.actions.get(f"sram.{weights}", "read") == plain.spikes * tiles * row_words
    assert latched.actions.get("latch", "read") == plain.spikes * layer.n
    assert latched.actions.get("latch", "write") == nonzero * layer.n
    assert loaded == plain.actions.get(f"sram.{weights}", "write")


# --------------------------------------------------------------------------------------------
# DRAM loop order (mapping.loop_order): both engines follow sched.steps, in either order
# --------------------------------------------------------------------------------------------

NOT_RESIDENT = {"sram.weights.capacity_bytes": 320, "dram.bandwidth_bytes_per_cycle": 0.5}
"""Tiles of 160, 160 and 80 bytes fit twice in 320 bytes but not all together; six one-token
blocks (the 64-byte activation SRAM holds one token's 160 bits in each half) that do not fit
together either: both orders repeat loads."""

LOOP_ORDER_CASES: dict[str, tuple[str, dict[str, Any], str, bool]] = {
    # name: (preset, overrides, the order the schedule follows, in the default run)
    "weights_outer, weights and activations reloaded": (
        "spikequant-45nm", {**NOT_RESIDENT, "mapping.loop_order": "weights_outer"},
        "weights_outer", True,
    ),
    "auto picks weights_outer": (
        "spikequant-45nm", {**NOT_RESIDENT, "mapping.loop_order": "auto"}, "weights_outer", True,
    ),
    "tokens_outer, weights reloaded": (
        "spikequant-45nm", {**NOT_RESIDENT, "mapping.loop_order": "tokens_outer"},
        "tokens_outer", False,
    ),
    "weights_outer, activations resident": (
        "spikequant-45nm",
        {**NOT_RESIDENT, "sram.activations.capacity_bytes": 128,
         "mapping.loop_order": "weights_outer"},
        "weights_outer", False,
    ),
    "auto picks tokens_outer (weights resident)": (
        "spikequant-45nm", {"mapping.loop_order": "auto"}, "tokens_outer", False,
    ),
    "weights_outer, ttfs, encoder bound": (
        "spikequant-45nm-ttfs",
        {**NOT_RESIDENT, "encoder.count": 1, "encoder.values_per_cycle": 1,
         "encoder.fifo_depth": 1, "quant.salient_coding": "count",
         "mapping.loop_order": "weights_outer"},
        "weights_outer", False,
    ),
    "weights_outer, count, bank-conflict bound, slow dram": (
        "spikequant-45nm-count",
        {**NOT_RESIDENT, "sram.weights.banks": 2, "if_array.lanes": 8,
         "dram.bandwidth_bytes_per_cycle": 0.25, "dram.latency_cycles": 40,
         "mapping.loop_order": "weights_outer"},
        "weights_outer", False,
    ),
}


@pytest.mark.parametrize(
    "case",
    [c if LOOP_ORDER_CASES[c][3] else pytest.param(c, marks=pytest.mark.slow)
     for c in LOOP_ORDER_CASES],
)
def test_loop_order_fast_engine_equals_cycle_reference(case: str, repo_root: Any) -> None:
    """Identical cycles, stall attribution and action counts in either loop order, on a layer
    of several blocks and tiles; the DRAM columns are the schedule's bytes per operand."""
    preset, overrides, order, _ = LOOP_ORDER_CASES[case]
    hw = load_hardware(repo_root / "hw_configs" / f"{preset}.yaml", {**SMALL, **overrides})
    layer = small_layer(hw)
    sched = map_layer(layer, hw)
    assert sched.loop_order == order
    assert len(sched.blocks) > 1
    assert len(sched.tile_columns) > 1
    assert sched.activations_resident == ("activations resident" in case)
    fast, _ = assert_same(layer, hw)
    assert fast.stall_dram_cycles > 0
    assert (fast.dram_weight_bytes, fast.dram_activation_bytes, fast.dram_output_bytes) == (
        sched.dram_weight_bytes, sched.dram_activation_bytes, sched.dram_output_bytes
    )
    assert fast.actions.get("dram", "read") == sched.dram_read_bytes
    assert fast.actions.get("dram", "write") == sched.output_bytes


def test_loop_order_moves_only_dram_traffic(repo_root: Any) -> None:
    """The order changes which loads repeat (and so DRAM bytes and stalls), never the array's
    work: compute, encoder and bank-conflict cycles, and every non-DRAM-fed action, are equal."""
    path = repo_root / "hw_configs" / "spikequant-45nm.yaml"
    runs = {
        order: simulate_layer(
            small_layer(hw := load_hardware(path, {**SMALL, **NOT_RESIDENT,
                                                   "mapping.loop_order": order})),
            hw, "spikequant",
        )
        for order in ("tokens_outer", "weights_outer")
    }
    to, wo = runs["tokens_outer"], runs["weights_outer"]
    assert (to.compute_cycles, to.stall_encoder_cycles, to.stall_bank_cycles) == (
        wo.compute_cycles, wo.stall_encoder_cycles, wo.stall_bank_cycles
    )
    assert to.output_spikes == wo.output_spikes
    assert to.dram_output_bytes == wo.dram_output_bytes
    assert wo.dram_weight_bytes < to.dram_weight_bytes  # each tile once, not once per block
    assert wo.dram_activation_bytes > to.dram_activation_bytes  # each block once per tile
    for name in ("if_array", "encoder", "threshold"):
        for action in ("acc", "fire", "convert", "emit", "multiply"):
            assert to.actions.get(name, action) == wo.actions.get(name, action)


@pytest.mark.slow  # the reference steps every cycle in Python
@settings(max_examples=30, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 10_000),
    order=st.sampled_from(["tokens_outer", "weights_outer", "auto"]),
    weights=st.sampled_from([120, 200, 4096]),
    activations=st.sampled_from([24, 40, 64, 512]),
    bw=st.sampled_from([0.25, 2.0, 16.0]),
    m=st.integers(1, 8),
    n=st.integers(1, 16),
)
def test_random_loop_orders_match_reference(
    seed: int, order: str, weights: int, activations: int, bw: float, m: int, n: int
) -> None:
    hw = load_hardware(
        ROOT / "hw_configs" / "spikequant-45nm.yaml",
        {
            **SMALL,
            "if_array.columns": 3,
            "quant.mad_k": 2.5,
            "sram.weights.capacity_bytes": weights,
            "sram.activations.capacity_bytes": activations,
            "dram.bandwidth_bytes_per_cycle": bw,
            "mapping.loop_order": order,
        },
    )
    assert_same(small_layer(hw, seed, m, 16, n), hw)


@pytest.mark.slow  # the reference steps every cycle in Python
@settings(max_examples=30, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 10_000),
    order=st.sampled_from(["tokens_outer", "weights_outer", "auto"]),
    weights=st.sampled_from([16, 20, 24, 56]),
    normal=st.sampled_from(["count", "bitserial", "ttfs"]),
    salient=st.sampled_from(["count", "bitserial", "ttfs"]),
    membrane=st.booleans(),
    latch=st.booleans(),
    acc_bits=st.sampled_from([8, 24]),
    m=st.integers(1, 5),
    n=st.integers(1, 10),
)
def test_random_k_splits_match_reference(
    seed: int, order: str, weights: int, normal: str, salient: str, membrane: bool,
    latch: bool, acc_bits: int, m: int, n: int,
) -> None:
    """K=16, 3 columns of 4 bits: 24 bytes a tile; 16, 20, 24 and 56 bytes of weight SRAM split
    K in 4, 3, 2 and 1 chunks."""
    hw = load_hardware(
        ROOT / "hw_configs" / "spikequant-45nm.yaml",
        {
            **SMALL,
            "if_array.columns": 3,
            "quant.mad_k": 2.5,
            "quant.normal_coding": normal,
            "quant.salient_coding": salient,
            "if_array.row_latch": latch,
            "if_array.acc_bits": acc_bits,
            "sram.weights.capacity_bytes": weights,
            "sram.activations.capacity_bytes": 40,
            "mapping.loop_order": order,
            **(MEMBRANE_SRAM if membrane else {}),
        },
    )
    assert_same(small_layer(hw, seed, m, 16, n), hw)


def test_layers_sharing_read_only_activations_share_step_statistics(
    monkeypatch: pytest.MonkeyPatch, repo_root: Any,
) -> None:
    """q/k/v_proj read one read-only x_q (the shared activation quantization): the second layer
    takes the first's step statistics (no kernel call) and gets exactly what it computes
    alone; a writable x_q, or other array parameters, computes afresh."""
    import dataclasses

    from spikesim.dataflows.if_token_serial import engine as ts_engine
    from spikesim.dataflows.if_token_serial import kernel as ts_kernel

    preset = repo_root / "hw_configs" / "spikequant-45nm.yaml"
    hw = load_hardware(preset, {"if_array.columns": 8})
    first = small_layer(hw, seed=4)
    for a in (first.x_q, first.salient):
        a.flags.writeable = False
    rng = np.random.default_rng(9)
    second = dataclasses.replace(first, name="layers.0.self_attn.k_proj",
                                 w_q=rng.integers(-7, 8, first.w_q.shape).astype(np.int8))
    calls = []
    real = ts_kernel.block_timing

    def counted(*args: object, **kw: object) -> np.ndarray:
        calls.append(1)
        return real(*args, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(ts_kernel, "block_timing", counted)
    a = ts_engine.simulate_layer(first, hw, "spikequant")
    n_first = len(calls)
    b = ts_engine.simulate_layer(second, hw, "spikequant")
    assert n_first > 0
    assert len(calls) == n_first  # reused
    fresh = dataclasses.replace(second, x_q=second.x_q.copy(), salient=second.salient.copy())
    c = ts_engine.simulate_layer(fresh, hw, "spikequant")
    assert len(calls) > n_first  # writable arrays: computed
    assert (b.total_cycles, b.compute_cycles, b.stall_bank_cycles) == (
        c.total_cycles, c.compute_cycles, c.stall_bank_cycles)
    assert b.actions.rows("l", "d") == c.actions.rows("l", "d")
    assert a.total_cycles == b.total_cycles
    other = load_hardware(preset, {"if_array.columns": 8, "if_array.lanes": 4})
    before = len(calls)
    ts_engine.simulate_layer(second, other, "spikequant")
    assert len(calls) > before  # other array parameters: computed

"""The spike × spike attention form (``if_array.attention_form: spike_spike``) on the token-serial
and the token-batched arrays: the fast engine equals the cycle-by-cycle reference (cycles, stall
attribution, every action count, output spikes, overflow events), the reference's outputs equal
the integer reference, a 2×3 by 3×2 product gives the hand-computed cycles and counts, and what
the form changes against spike × integer is exactly the arithmetic (coincidence increments and
folds instead of one add per event) and the fold cycles."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from spikesim.config import load_hardware
from spikesim.dataflows import get_design, spike_spike
from spikesim.dataflows.if_token_serial.engine import simulate_layer as spike_int_layer
from spikesim.dataflows.if_token_serial.mapping import map_layer
from spikesim.dataflows.spike_spike.params import (
    attention_array_params,
    coincidences,
    spike_spike_params,
)
from spikesim.errors import InputError
from spikesim.hw.functional import reference_outputs
from spikesim.hw.params import array_params
from spikesim.quant.layer import Method, QuantizedLayer, quantize_layer
from spikesim.trace.attention import AttentionLayer, attention_layers
from spikesim.trace.synth import ModelShape

ROOT = Path(__file__).resolve().parents[3]
PRESET = ROOT / "hw_configs" / "spikequant-45nm.yaml"

SMALL = {
    "if_array.columns": 8,
    "dram.latency_cycles": 5,
    "dram.bandwidth_bytes_per_cycle": 8,
    "sram.activations.capacity_bytes": 64,  # several token blocks
    "sram.weights.capacity_bytes": 4096,
    "if_array.attention_form": "spike_spike",
}

CASES: dict[str, dict[str, Any]] = {
    "default codings (count + bitserial salient)": {},
    "lanes 1: a fold takes 3 cycles": {"if_array.lanes": 1},
    "lanes 2, KV8: 7 planes fold in 4 cycles": {"if_array.lanes": 2, "quant.weight_bits": 8},
    "count + ttfs, encoder bound": {
        "quant.salient_coding": "ttfs", "quant.salient_bits": 6, "encoder.count": 1,
        "encoder.values_per_cycle": 1, "encoder.fifo_depth": 1,
    },
    "bitserial + count, bank-conflict bound": {
        "quant.normal_coding": "bitserial", "quant.salient_coding": "count",
        "quant.salient_bits": 8, "sram.weights.banks": 2, "if_array.lanes": 8,
    },
    "ttfs normal, long window": {
        "quant.normal_coding": "ttfs", "encoder.window": 20, "quant.salient_coding": "bitserial",
    },
    "overflow, zero reset, floor, 10-bit counters": {
        "if_array.acc_bits": 7, "if_array.reset": "zero", "if_array.initial_membrane": "zero",
        "if_array.coincidence_bits": 10,
    },
    "dram bound, weights not resident": {
        "dram.bandwidth_bytes_per_cycle": 0.25, "sram.weights.capacity_bytes": 320,
        "dram.latency_cycles": 40,
    },
    "K split in 3, membrane SRAM, weights_outer": {
        "sram.weights.capacity_bytes": 120, "mapping.loop_order": "weights_outer",
        "sram.membrane": {"role": "membrane", "capacity_bytes": 2048, "word_bits": 32},
    },
    "row latch set: attention passes issue unlatched": {"if_array.row_latch": True},
    # the token-batched array: counters per batch token, a fold of the batch per issue group
    "token-batched, batch 4 (count + bitserial salient)": {
        "if_array.dataflow": "token_batched", "if_array.batch_tokens": 4,
    },
    "token-batched, batch 4 (smaller last batch), lanes 2, bitserial + count": {
        "if_array.dataflow": "token_batched", "if_array.batch_tokens": 4, "if_array.lanes": 2,
        "quant.normal_coding": "bitserial", "quant.salient_coding": "count",
        "quant.salient_bits": 8,
    },
    "token-batched, ttfs + bitserial, batch 5, lanes 1, encoder bound": {
        "if_array.dataflow": "token_batched", "if_array.batch_tokens": 5, "if_array.lanes": 1,
        "quant.normal_coding": "ttfs", "quant.salient_coding": "bitserial",
        "encoder.count": 1, "encoder.values_per_cycle": 1, "encoder.fifo_depth": 1,
    },
    "token-batched, K split in 3, batch 2, overflow, 10-bit counters": {
        "if_array.dataflow": "token_batched", "if_array.batch_tokens": 2,
        "sram.weights.capacity_bytes": 120, "mapping.loop_order": "weights_outer",
        "sram.membrane": {"role": "membrane", "capacity_bytes": 2048, "word_bits": 32},
        "if_array.acc_bits": 7, "if_array.reset": "zero", "if_array.coincidence_bits": 10,
    },
    "token-batched, batch 3, dram bound, row latch set, bank-conflict bound": {
        "if_array.dataflow": "token_batched", "if_array.batch_tokens": 3,
        "if_array.row_latch": True, "sram.weights.banks": 2, "if_array.lanes": 8,
        "dram.bandwidth_bytes_per_cycle": 0.25, "sram.weights.capacity_bytes": 320,
        "dram.latency_cycles": 40,
    },
}


def small_layer(hw: Any, op: str = "attn_score", seed: int = 1, m: int = 6, k: int = 40,
                n: int = 20) -> QuantizedLayer:
    rng = np.random.default_rng(seed)
    x = rng.standard_t(4, (m, k)).astype(np.float32)
    x[:, min(5, k - 1)] *= 40  # a persistent outlier channel: salient values
    w = rng.normal(0, 0.05, (n, k)).astype(np.float32)
    return quantize_layer(f"layers.0.attn.{op}", op, x, w, hw.quant)


def counts(counter: Any) -> dict[tuple[str, str, int], int]:
    return {(a.component, a.action, a.bits): a.count for a in counter.items() if a.count}


def assert_same(layer: QuantizedLayer, hw: Any) -> tuple[Any, Any]:
    fast = spike_spike.simulate_layer(layer, hw, "spikequant")
    ref = spike_spike.reference_simulate_layer(layer, hw)
    assert (
        fast.total_cycles, fast.compute_cycles, fast.stall_encoder_cycles,
        fast.stall_bank_cycles, fast.stall_dram_cycles,
    ) == (
        ref.total_cycles, ref.compute_cycles, ref.stall_encoder_cycles,
        ref.stall_bank_cycles, ref.stall_dram_cycles,
    )
    assert counts(fast.actions) == counts(ref.actions)
    assert (fast.output_spikes, fast.overflow_events) == (ref.output_spikes, ref.overflow_events)
    ap = array_params(hw, layer.act_bits, layer.salient_bits, layer.k)
    want, ovf = reference_outputs(layer.x_q, layer.w_q, layer.threshold_fx(ap.frac_bits), ap)
    np.testing.assert_array_equal(ref.outputs, want)
    assert ref.overflow_events == int(ovf.sum())
    return fast, ref


@pytest.mark.parametrize("case", list(CASES))
def test_fast_engine_equals_cycle_reference(case: str) -> None:
    hw = load_hardware(PRESET, {**SMALL, **CASES[case]})
    layer = small_layer(hw)
    fast, _ = assert_same(layer, hw)
    assert fast.spikes > 0
    if "encoder bound" in case:
        assert fast.stall_encoder_cycles > 0.3 * fast.total_cycles
    if "dram bound" in case:
        assert fast.stall_dram_cycles > 0.3 * fast.total_cycles
    if "bank-conflict" in case:
        assert fast.stall_bank_cycles > 0
    if "overflow" in case:
        assert fast.overflow_events > 0
    if "K split" in case:
        assert len(map_layer(layer, hw).k_chunks) == 3


SHAPE = ModelShape(hidden=64, intermediate=128, q_out=64, kv_out=32, blocks=2, heads=4,
                   kv_heads=2)
"""head_dim 16, 2 query heads per KV group (as tests/dataflows/test_attention_layers.py)."""


def generated(name: str) -> AttentionLayer:
    return {x.name: x for x in attention_layers(SHAPE, 1, 24, 5, query_block=8)}[name]


@pytest.mark.parametrize(
    "name", ["layers.1.attn.score.g1.q2", "layers.1.attn.value.g1.q2"]
)
def test_generated_attention_layers_through_the_design(name: str) -> None:
    """The design runs a real attention matmul (Q·Kᵀ, P·V) in the form the hardware names:
    spike × spike equals its reference and the integer truth; its outputs, spikes, DRAM and
    weight-SRAM traffic are spike × integer's (the spike planes are the stored bits)."""
    layer = generated(name)
    design = get_design("spikequant")
    hw = load_hardware(PRESET, SMALL)
    q = design.quantize(layer.name, layer.op, layer.activations(), layer.weights(), hw.quant)
    fast = design.simulate_quantized(q, hw)
    ref = design.reference(layer, hw)
    assert (fast.total_cycles, counts(fast.actions)) == (ref.total_cycles, counts(ref.actions))
    assert_same(q, hw)
    plain_hw = load_hardware(PRESET, {**SMALL, "if_array.attention_form": "spike_int"})
    plain = design.simulate_quantized(q, plain_hw)
    assert (fast.output_spikes, fast.overflow_events, fast.spikes) == (
        plain.output_spikes, plain.overflow_events, plain.spikes
    )
    for component in ("sram.weights", "dram"):
        for action in ("read", "write"):
            assert fast.actions.get(component, action) == plain.actions.get(component, action)
    assert fast.total_cycles > plain.total_cycles  # the folds


def test_only_attention_layers_change() -> None:
    """A linear layer on spike × spike hardware is simulated exactly as on spike × integer."""
    hw = load_hardware(PRESET, SMALL)
    plain_hw = load_hardware(PRESET, {**SMALL, "if_array.attention_form": "spike_int"})
    design = get_design("spikequant")
    linear = small_layer(hw, op="up_proj")
    assert not spike_spike.applies(linear, hw)
    a, b = design.simulate_quantized(linear, hw), design.simulate_quantized(linear, plain_hw)
    assert (a.total_cycles, counts(a.actions)) == (b.total_cycles, counts(b.actions))
    attention = small_layer(hw, op="attn_value")
    assert spike_spike.applies(attention, hw)
    assert not spike_spike.applies(attention, plain_hw)


def test_arithmetic_replaced_and_nothing_else() -> None:
    """Against spike × integer on the same layer: the acc_bits add per (event, column) goes,
    one counter increment per coincidence and P adds per column per issue group come, and the
    compute cycles grow by fold_cycles per issue group; every other count is the same."""
    hw = load_hardware(PRESET, {**SMALL, "if_array.lanes": 2})  # 3 planes: 2 fold cycles
    plain_hw = load_hardware(PRESET, {**SMALL, "if_array.lanes": 2,
                                      "if_array.attention_form": "spike_int"})
    layer = small_layer(hw)
    ss = spike_spike.simulate_layer(layer, hw, "spikequant")
    si = spike_int_layer(layer, plain_hw, "spikequant")
    ap = attention_array_params(layer, hw)
    params = spike_spike_params(layer, hw, ap)
    assert (params.planes, params.counter_bits, params.fold_cycles) == (3, 16, 2)
    a, b = counts(ss.actions), counts(si.actions)
    acc = ("if_array", "acc", 24)
    inc = ("if_array", "acc", 16)
    assert a.pop(inc) == coincidences(layer, ap)
    tiles = [8, 8, 4]  # every tile integrates the same events: si.spikes of them
    # acc_bits adds: spike x integer's events x columns go, planes x columns per group come
    diff = a.pop(acc) - b.pop(acc) + si.spikes * sum(tiles)
    groups, rest = divmod(diff, params.planes * sum(tiles))
    assert rest == 0
    assert groups > 0
    assert a == b
    assert ss.compute_cycles - si.compute_cycles == params.fold_cycles * groups * len(tiles)


def test_coincidences_are_events_times_set_bits() -> None:
    """The closed form of the increments against a plain loop over events and set bits."""
    hw = load_hardware(PRESET, {**SMALL, "quant.normal_coding": "bitserial",
                                "quant.salient_coding": "ttfs", "quant.salient_bits": 6})
    layer = small_layer(hw, m=3, k=7, n=5)
    ap = attention_array_params(layer, hw)
    want = 0
    for t in range(layer.tokens):
        for i in range(layer.k):
            v = int(layer.x_q[t, i])
            if v == 0:
                continue
            pp = ap.salient if layer.salient[t, i] else ap.normal
            ev = abs(v) if pp.coding == 0 else (bin(abs(v)).count("1") if pp.coding == 1 else 1)
            want += ev * sum(bin(abs(int(w))).count("1") for w in layer.w_q[:, i])
    assert coincidences(layer, ap) == want


# --------------------------------------------------------------------------------------------
# A hand-computed 2x3 by 3x2 product
# --------------------------------------------------------------------------------------------

X = np.array([[1, 0, 2], [0, 3, -1]], dtype=np.int16)
"""Q: 2 tokens x K = 3, count-coded, no salient value."""
W = np.array([[3, -1, 2], [0, 5, -7]], dtype=np.int8)
"""K: N = 2 keys x K = 3; magnitudes 011 001 010 / 000 101 111 (3 planes at KV4)."""


def tiny_layer() -> QuantizedLayer:
    return QuantizedLayer(
        name="layers.0.attn.score.g0.q0", op="attn_score", x_q=X,
        salient=np.zeros(X.shape, dtype=bool), x_scale=np.ones(2, np.float32), w_q=W,
        w_scale=np.ones(2, np.float32), output_scale=4.0, act_bits=4, salient_bits=16,
        weight_bits=4, output_bits=4, method=Method.SPIKEQUANT,
    )


TINY = {"if_array.attention_form": "spike_spike", "sram.weights.ports": 4,
        "dram.latency_cycles": 0}
"""The default preset (16 lanes, 16 weight banks) with 4 ports per bank (a value's 3 unit
spikes never conflict) and no DRAM latency."""


def test_hand_computed_tiny_product() -> None:
    """Events (count coding, ordered by step then input): token 0 emits i0, i2 at step 1 and
    i2 at step 2 (3 events), token 1 i1, i2 at step 1, i1 at 2, i1 at 3 (4 events): one issue
    cycle each. Coincidences: B_i = Σ_n popcount|w_ni| = (2, 3, 4); token 0: 1·2 + 2·4 = 10,
    token 1: 3·3 + 1·4 = 13; 23 increments. Timing: one 6-byte DRAM load (1 cycle at 32 B per
    cycle: a DRAM stall); per token 1 scan cycle (64 values per cycle), 1 issue cycle, 1 fold
    cycle (3 planes, 16 lanes), 7 fire cycles; token 0 waits 1 cycle for its scan (encoder
    stall), token 1's scan is done by then. Outputs: Q·Kᵀ = [[7, -14], [-5, 22]], θ = 4 in
    round-to-nearest: [[2, -4], [-1, 6]], 13 output spikes."""
    hw = load_hardware(PRESET, TINY)
    layer = tiny_layer()
    fast, ref = assert_same(layer, hw)
    np.testing.assert_array_equal(X.astype(np.int64) @ W.astype(np.int64).T,
                                  [[7, -14], [-5, 22]])
    np.testing.assert_array_equal(ref.outputs, [[2, -4], [-1, 6]])
    assert (fast.total_cycles, fast.compute_cycles, fast.stall_encoder_cycles,
            fast.stall_bank_cycles, fast.stall_dram_cycles) == (20, 18, 1, 0, 1)
    assert counts(fast.actions) == {
        ("if_array", "acc", 16): 23,  # coincidence increments
        ("if_array", "acc", 24): 2 * 3 * 2,  # 2 folds x 3 planes x 2 columns
        ("if_array", "compare", 24): 2 * 7 * 2,  # 2 tokens x 7 fire cycles x 2 columns
        ("if_array", "fire", 24): 13,
        ("encoder", "convert", 4): 6,
        ("encoder", "emit", 4): 7,
        ("sram.weights", "read", 256): 7,  # one spike-plane row (2 x 4 bits) per event
        ("sram.weights", "write", 256): 1,
        ("sram.activations", "read", 64): 2,
        ("sram.activations", "write", 64): 1,
        ("threshold", "multiply", 16): 4,
        ("sram.output", "write", 64): 2,
        ("sram.output", "read", 64): 2,
        ("dram", "read", 8): 6,
        ("dram", "write", 8): 2,
    }
    # the same product in spike x integer: one 24-bit add per event and column, no fold
    plain = spike_int_layer(layer, load_hardware(PRESET, {**TINY, "if_array.attention_form":
                                                          "spike_int"}), "spikequant")
    assert plain.total_cycles == 18
    assert plain.actions.get("if_array", "acc") == 7 * 2
    assert plain.output_spikes == fast.output_spikes


def test_token_batched_arithmetic_replaced_and_nothing_else() -> None:
    """On the token-batched array, against spike × integer: the acc_bits add per (event,
    column) goes, P adds per column for every token of the batch per issue group come (the
    fold of the whole batch), and the compute cycles grow by ceil(bt · P / lanes) per group;
    every other count is the same. Count coding, one group per batch pass: 6 tokens in one
    block (batches of 4 and 2), 3 planes, 2 lanes: folds of 6 and 3 cycles."""
    over = {**SMALL, "if_array.lanes": 2, "if_array.dataflow": "token_batched",
            "if_array.batch_tokens": 4, "sram.activations.capacity_bytes": 4096,
            "quant.salient_coding": "count", "quant.salient_bits": 8}
    hw = load_hardware(PRESET, over)
    plain_hw = load_hardware(PRESET, {**over, "if_array.attention_form": "spike_int"})
    layer = small_layer(hw)  # 6 tokens: one block, batches of 4 and 2
    assert len(map_layer(layer, hw).blocks) == 1
    ss = spike_spike.simulate_layer(layer, hw, "spikequant")
    si = get_design("spikequant").simulate_quantized(layer, plain_hw)
    ap = attention_array_params(layer, hw)
    a, b = counts(ss.actions), counts(si.actions)
    assert a.pop(("if_array", "acc", 16)) == coincidences(layer, ap)
    tiles = [8, 8, 4]
    passes = [(4, bool(layer.salient[:4].any())), (2, bool(layer.salient[4:].any()))]
    groups = [bt for bt, sal in passes for _ in range(1 + sal)]  # one group a batch pass
    folded_tokens = sum(groups)
    diff = a.pop(("if_array", "acc", 24)) - b.pop(("if_array", "acc", 24))
    assert diff == (3 * folded_tokens - si.spikes) * sum(tiles)
    assert a == b
    fold = sum(-(-(bt * 3) // 2) for bt in groups)
    assert ss.compute_cycles - si.compute_cycles == fold * len(tiles)
    assert (ss.output_spikes, ss.overflow_events) == (si.output_spikes, si.overflow_events)


def test_token_batched_sram_store_is_refused() -> None:
    """The batch's counters live beside its membranes: spike × spike with the SRAM membrane
    store is a configuration error naming the field."""
    with pytest.raises(InputError) as err:
        load_hardware(PRESET, {"if_array.attention_form": "spike_spike",
                               "if_array.dataflow": "token_batched",
                               "if_array.membrane_store": "sram"})
    assert "if_array.membrane_store" in str(err.value)
    hw = load_hardware(PRESET, {"if_array.attention_form": "spike_spike",
                                "if_array.dataflow": "token_batched",
                                "if_array.batch_tokens": 8})
    counters = {p.component: p for p in get_design("spikequant").area_parts(hw)}
    assert counters["if_array.coincidence_counters"].count == 8 * 64 * 3


def test_counter_too_narrow_is_an_input_error() -> None:
    """Count-coded 4-bit values over K = 40 can reach 280 coincidences in one group: a 9-bit
    counter (255) is refused, naming the field and the width needed; 10 bits are enough."""
    hw = load_hardware(PRESET, {**SMALL, "if_array.coincidence_bits": 9,
                                "quant.salient_coding": "bitserial"})
    layer = small_layer(hw)
    with pytest.raises(InputError) as err:
        spike_spike.simulate_layer(layer, hw, "spikequant")
    assert err.value.field == "if_array.coincidence_bits"
    assert "280" in err.value.message
    assert "at least 10" in err.value.message
    ok = load_hardware(PRESET, {**SMALL, "if_array.coincidence_bits": 10})
    spike_spike.simulate_layer(layer, ok, "spikequant")


def test_area_and_notes() -> None:
    hw = load_hardware(PRESET, {"if_array.attention_form": "spike_spike",
                                "if_array.row_latch": True})
    design = get_design("spikequant")
    parts = {p.component: p for p in design.area_parts(hw)}
    counters = parts["if_array.coincidence_counters"]
    assert (counters.count, counters.part, counters.bits) == (64 * 3, "counter", 16)
    assert parts["if_array.popcounts"].count == 64 * 3 * 15
    plain = load_hardware(PRESET)
    assert "if_array.coincidence_counters" not in {p.component
                                                    for p in design.area_parts(plain)}
    assert any("if_array.row_latch" in n and "spike_spike" in n for n in design.notes(hw))
    assert not any("spike_spike" in n for n in design.notes(plain))


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
    kv_bits=st.integers(2, 8),
    m=st.integers(1, 5),
    k=st.integers(2, 24),
    n=st.integers(1, 12),
    op=st.sampled_from(["attn_score", "attn_value"]),
    weight_bytes=st.sampled_from([4096, 64]),  # 64: K split into chunks of 6-12 inputs
    batch=st.sampled_from([None, 1, 2, 3, 7]),  # None: token-serial, else token-batched
)
def test_random_configs_match_reference(
    seed: int, normal: str, salient: str, lanes: int, banks: int, values: int,
    fifo: int, bw: float, kv_bits: int, m: int, k: int, n: int, op: str, weight_bytes: int,
    batch: int | None,
) -> None:
    batched = {} if batch is None else {"if_array.dataflow": "token_batched",
                                        "if_array.batch_tokens": batch}
    hw = load_hardware(
        PRESET,
        {
            **SMALL,
            "if_array.columns": 5,
            "quant.normal_coding": normal,
            "quant.salient_coding": salient,
            "quant.salient_bits": 8,
            "quant.weight_bits": kv_bits,
            "quant.mad_k": 2.5,
            "if_array.lanes": lanes,
            "sram.weights.banks": banks,
            "encoder.count": 1,
            "encoder.values_per_cycle": values,
            "encoder.fifo_depth": fifo,
            "dram.bandwidth_bytes_per_cycle": bw,
            "if_array.coincidence_bits": 24,
            "sram.weights.capacity_bytes": weight_bytes,
            **batched,
        },
    )
    assert_same(small_layer(hw, op, seed, m, k, n), hw)

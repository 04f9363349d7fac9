"""Every registered design simulates the attention GEMMs (spikesim.trace.attention) like a
linear layer, and the proofs of the linears hold on them: on the IF array (both dataflows) the
fast engine equals the cycle-by-cycle reference and the output spikes equal the integer
reference; the MAC designs' compute cycles are the systolic closed form (the bit-serial
array's engine equals its reference)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import spikesim
from spikesim.config import load_hardware
from spikesim.dataflows import DesignKind, design_names, get_design
from spikesim.dataflows.bitserial_mac.reference import reference_layer as bitserial_reference
from spikesim.dataflows.systolic.timing import systolic_gemm
from spikesim.hw.functional import reference_outputs
from spikesim.hw.params import array_params
from spikesim.trace.attention import AttentionLayer, attention_layers, decode_attention_layers
from spikesim.trace.synth import ModelShape

ROOT = Path(__file__).resolve().parents[2]
PRESET = ROOT / "hw_configs" / "spikequant-45nm.yaml"

SHAPE = ModelShape(hidden=64, intermediate=128, q_out=64, kv_out=32, blocks=2, heads=4,
                   kv_heads=2)
"""head_dim 16, 2 query heads per KV group."""

SMALL = {
    "if_array.columns": 8,
    "dram.latency_cycles": 5,
    "dram.bandwidth_bytes_per_cycle": 8,
    "sram.activations.capacity_bytes": 64,  # several token blocks
    "sram.weights.capacity_bytes": 4096,
    "mac.rows": 4,
    "mac.cols": 4,
}

DATAFLOWS = {
    "token_serial": {},
    "token_batched": {"if_array.dataflow": "token_batched", "if_array.batch_tokens": 4,
                      "sram.activations.capacity_bytes": 256},
}


def layers() -> dict[str, AttentionLayer]:
    """24 tokens in query blocks of 8: 2 groups x 3 blocks x (score, value); and the decode
    step at position 23 of 2 sequences (its 24 keys; 2 groups x 2 sequences x (score, value))."""
    prefill = attention_layers(SHAPE, 1, 24, 5, query_block=8)
    decode = decode_attention_layers(SHAPE, 1, step=0, position=23, positions=24, seed=5,
                                     sequences=2)
    return {x.name: x for x in (*prefill, *decode)}


def counts(counter: Any) -> dict[tuple[str, str, int], int]:
    return {(a.component, a.action, a.bits): a.count for a in counter.items() if a.count}


@pytest.mark.parametrize("dataflow", list(DATAFLOWS))
@pytest.mark.parametrize(
    "name",
    [
        "layers.1.attn.score.g1.q2",  # K = head_dim, N = 24 keys
        "layers.1.attn.value.g1.q2",  # K = 24 keys (diagonal tile half masked), N = head_dim
        pytest.param("layers.1.attn.score.g0.q0", marks=pytest.mark.slow),
        pytest.param("layers.1.attn.value.g0.q0", marks=pytest.mark.slow),
        pytest.param("layers.1.attn.value.g0.q1", marks=pytest.mark.slow),
        "decode.0.layers.1.attn.score.g1.seq1",  # one query token's 2 heads, 24 keys
        "decode.0.layers.1.attn.value.g1.seq1",
    ],
)
def test_spiking_engine_equals_reference_and_integer_truth(dataflow: str, name: str) -> None:
    hw = load_hardware(PRESET, {**SMALL, **DATAFLOWS[dataflow]})
    layer = layers()[name]
    design = get_design("spikequant")
    q = design.quantize(layer.name, layer.op, layer.activations(), layer.weights(), hw.quant)
    fast = design.simulate_quantized(q, hw)
    ref = design.reference(layer, hw)
    assert (fast.layer, fast.op, fast.tokens, fast.k, fast.n) == (
        layer.name, layer.op, layer.tokens, layer.k, layer.n
    )
    assert (
        fast.total_cycles, fast.compute_cycles, fast.stall_encoder_cycles,
        fast.stall_bank_cycles, fast.stall_dram_cycles,
    ) == (
        ref.total_cycles, ref.compute_cycles, ref.stall_encoder_cycles,
        ref.stall_bank_cycles, ref.stall_dram_cycles,
    )
    assert counts(fast.actions) == counts(ref.actions)
    assert (fast.output_spikes, fast.overflow_events) == (ref.output_spikes, ref.overflow_events)
    ap = array_params(hw, q.act_bits, q.salient_bits, q.k)
    want, ovf = reference_outputs(q.x_q, q.w_q, q.threshold_fx(ap.frac_bits), ap)
    np.testing.assert_array_equal(ref.outputs, want)
    assert ref.overflow_events == int(ovf.sum())
    assert fast.spikes > 0
    assert fast.output_spikes > 0
    if layer.op == "attn_value" and layer.phase == "prefill":  # P >= 0; masked entries 0
        assert q.x_q.min() >= 0
        masked = np.arange(layer.k)[None, :] > layer.query_positions[:, None]
        assert masked.any()
        assert (q.x_q[masked] == 0).all()


@pytest.mark.parametrize("dataflow", ["os", "ws", "is"])
def test_mac_cycles_are_the_systolic_closed_form(dataflow: str) -> None:
    hw = load_hardware(PRESET, {**SMALL, "mac.dataflow": dataflow,
                                "sram.activations.capacity_bytes": 256})  # fp16 tokens fit
    for name in ("layers.1.attn.score.g0.q2", "layers.1.attn.value.g0.q2"):
        layer = layers()[name]
        x, w = layer.activations(), layer.weights()
        for design_name in design_names(DesignKind.MAC):
            design = get_design(design_name)
            q = design.quantize(layer.name, layer.op, x, w, hw.quant)
            sim = design.simulate_quantized(q, hw)
            assert (sim.tokens, sim.k, sim.n) == (layer.tokens, layer.k, layer.n)
            assert sim.total_cycles == sim.compute_cycles + sim.stall_dram_cycles
            if design_name == "mac-bitserial":  # its own cycle-by-cycle reference
                ref = bitserial_reference(q, hw)
                assert (sim.compute_cycles, sim.total_cycles) == (
                    ref.compute_cycles, ref.total_cycles
                )
                assert counts(sim.actions) == counts(ref.actions)
                p = q.passes[0]
                np.testing.assert_array_equal(
                    ref.outputs, p.x_q.astype(np.int64) @ p.w_q.astype(np.int64).T
                )
                continue
            want = sum(
                systolic_gemm(layer.tokens, p.k, layer.n, 4, 4, dataflow).compute_cycles
                for p in q.passes
            )
            assert sim.compute_cycles == want
            assert sim.mac_ops == sum(layer.tokens * p.k * layer.n for p in q.passes)


@dataclass
class _Workload:
    """The smallest :class:`~spikesim.trace.Workload`: the layers and what a summary says."""

    layers: tuple[AttentionLayer, ...]
    name: str = "attention"
    path: Path | None = None
    tokens: int = 24
    source: dict[str, Any] = field(default_factory=lambda: {"kind": "test"})


def test_every_design_simulates_and_prices_attention_layers() -> None:
    hw = load_hardware(PRESET, {**SMALL, "sram.activations.capacity_bytes": 256})
    chosen = layers()
    workload = _Workload(layers=(chosen["layers.1.attn.score.g1.q1"],
                                 chosen["layers.1.attn.value.g1.q1"]))
    designs = design_names()
    result = spikesim.simulate(hw, workload, list(designs))
    table = result.layers
    assert len(table) == 2 * len(designs)
    assert set(table["design"]) == set(designs)
    assert set(table["op"]) == {"attn_score", "attn_value"}
    assert (table["energy_pj"] > 0).all()
    assert (table["total_cycles"] > 0).all()
    spiking = table[table["design"] == "spikequant"]
    assert (spiking["spikes"] > 0).all()

"""MAC-array baselines: hand-counted actions, SCALE-Sim compute cycles, quantizer accuracy."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from spikesim.config import load_hardware
from spikesim.config.quant import AtomConfig, QuantConfig
from spikesim.dataflows import DesignKind, design_names, get_design
from spikesim.dataflows.systolic.engine import apportion, map_mac_layer, simulate_mac_layer
from spikesim.dataflows.systolic.timing import systolic_gemm
from spikesim.quant.baselines import quantize_atom, quantize_w4a4

ROOT = Path(__file__).resolve().parents[3]


def toy_hw(**extra: object):  # type: ignore[no-untyped-def]
    return load_hardware(
        ROOT / "hw_configs" / "spikequant-45nm.yaml",
        {"mac.rows": 4, "mac.cols": 4, "mac.dataflow": "os", **extra},
    )


def toy_tensors(m: int = 4, k: int = 8, n: int = 6) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    return (rng.normal(size=(m, k)).astype(np.float32),
            rng.normal(size=(n, k)).astype(np.float32))


def counts(res) -> dict[tuple[str, str, int], int]:  # type: ignore[no-untyped-def]
    return {(a.component, a.action, a.bits): a.count for a in res.actions.items() if a.count}


def test_w4a4_toy_hand_count() -> None:
    """M=4, K=8, N=6 on a 4x4 output-stationary array, counted by hand."""
    hw = toy_hw()
    x, w = toy_tensors()
    res = simulate_mac_layer(quantize_w4a4("l", "op", x, w, hw.quant), hw, "test")
    # SCALE-Sim os: Sr=M=4, Sc=N=6, T=K=8 -> 1 x 2 folds of R+C+T-2 = 14 cycles, minus 1
    assert res.compute_cycles == 2 * 14 - 1
    assert res.total_cycles == res.compute_cycles + res.stall_dram_cycles
    assert counts(res) == {
        ("mac_array", "multiply", 4): 4 * 8 * 6,          # INT4 x INT4
        ("mac_array", "add", 32): 4 * 8 * 6,              # 32-bit accumulators
        ("dequant", "fp_multiply", 16): 2 * 24,           # s_x*s_w, then * sum, per output
        ("requant", "fp_multiply", 16): 24,               # * 1/s_y per output
        # IFMAP reads M*K*Fc = 64 elements x 4 bits = 256 bits = 4 words of 64 bits
        ("sram.activations", "read", 64): 4,
        # FILTER reads K*N*Fr = 48 x 4 bits = 192 bits -> 1 word of 256 bits
        ("sram.weights", "read", 256): 1,
        # 24 outputs x 4 bits = 96 bits = 2 words written, then drained to DRAM
        ("sram.output", "write", 64): 2,
        ("sram.output", "read", 64): 2,
        # DRAM fills: 2 weight tiles (4 and 2 columns: 16 + 8 bytes), 1 block of 4 tokens x 32 bits
        ("sram.weights", "write", 256): 2,
        ("sram.activations", "write", 64): 2,
        ("dram", "read", 8): 16 + 8 + 16,
        ("dram", "write", 8): 12,                          # 24 outputs x 4 bits
    }


def test_weights_from_the_store_toy_hand_count() -> None:
    """The toy of test_w4a4_toy_hand_count with its weights in an on-chip store of 64-bit
    words, 2 banks: the tiles (16 and 8 bytes) are 2 + 1 store reads instead of DRAM bytes, and
    their loads take ceil(16 / 16) and ceil(8 / 16) store cycles; activations and outputs still
    move through DRAM."""
    store = {"sram.store": {"role": "store", "capacity_bytes": 1 << 20, "word_bits": 64,
                            "banks": 2}, "mapping.weight_source": "store"}
    x, w = toy_tensors()
    plain = toy_hw()
    hw = toy_hw(**store)
    q = quantize_w4a4("l", "op", x, w, hw.quant)
    res = simulate_mac_layer(q, hw, "test")
    base = counts(simulate_mac_layer(q, plain, "test"))
    want = dict(base)
    want[("dram", "read", 8)] = 16                      # the block of activations only
    want[("sram.store", "read", 64)] = 2 + 1
    assert counts(res) == want
    assert (res.dram_weight_bytes, res.dram_activation_bytes) == (0, 16)
    sched = map_mac_layer(q, hw)
    assert [sched.step_load_cycles(s) for s in sched.steps] == [
        1 + plain.dram.latency_cycles + math.ceil(16 / plain.dram.bandwidth_bytes_per_cycle), 1,
    ]


def test_atom_toy_hand_count() -> None:
    hw = toy_hw(**{"quant.atom.keepers": 2})
    x, w = toy_tensors()
    q = quantize_atom("l", "op", x, w, hw.quant)
    assert [p.k for p in q.passes] == [6, 2]
    assert q.salient_ratio == pytest.approx(2 / 8)
    assert q.act_bits_per_token == 6 * 4 + 2 * 8
    c = counts(simulate_mac_layer(q, hw, "test"))
    assert c[("mac_array", "multiply", 4)] == 4 * 6 * 6
    assert c[("mac_array", "multiply", 8)] == 4 * 2 * 6     # INT8 keepers x INT4 weights
    assert c[("mac_array", "add", 32)] == 4 * 8 * 6
    assert c[("dequant", "fp_multiply", 16)] == 2 * 24 * 2  # both passes dequantized
    assert c[("dequant", "fp_add", 16)] == 24                # and added
    assert c[("requant", "fp_multiply", 16)] == 24


def test_spikellm_two_steps_share_one_dequant() -> None:
    hw = toy_hw(**{"quant.spikellm.salient_fraction": 0.25})
    x, w = toy_tensors()
    q = get_design("spikellm").quantize("l", "op", x, w, hw.quant)
    assert [p.label for p in q.passes] == ["int4", "salient step 1", "salient step 2"]
    assert [p.dequantized for p in q.passes] == [True, True, False]
    c = counts(simulate_mac_layer(q, hw, "test"))
    assert c[("mac_array", "multiply", 4)] == 4 * 6 * 6 + 2 * (4 * 2 * 6)
    assert c[("dequant", "fp_multiply", 16)] == 2 * 24 * 2
    # the two steps reconstruct the 5-bit salient integers exactly
    steps = q.passes[1].x_q.astype(int) + q.passes[2].x_q.astype(int)
    assert np.abs(steps).max() <= 15


def test_fp16_counts_fp_macs_and_no_dequant() -> None:
    hw = toy_hw()
    x, w = toy_tensors()
    q = get_design("fp16").quantize("l", "op", x, w, hw.quant)
    c = counts(simulate_mac_layer(q, hw, "test"))
    assert c[("mac_array", "fp_multiply", 16)] == 4 * 8 * 6
    assert c[("mac_array", "fp_add", 16)] == 4 * 8 * 6
    assert not any(k[0] in ("dequant", "requant") for k in c)


@pytest.mark.parametrize("dataflow", ["os", "ws", "is"])
def test_compute_cycles_are_scalesim_sum(dataflow: str) -> None:
    hw = toy_hw(**{"mac.dataflow": dataflow, "quant.atom.keepers": 3})
    x, w = toy_tensors(m=9, k=11, n=7)
    q = quantize_atom("l", "op", x, w, hw.quant)
    res = simulate_mac_layer(q, hw, "test")
    want = sum(systolic_gemm(9, p.k, 7, 4, 4, dataflow).compute_cycles for p in q.passes)
    assert res.compute_cycles == want
    assert res.total_cycles == want + res.stall_dram_cycles


def test_dram_bound_mac_layer_stalls() -> None:
    hw = toy_hw(**{"dram.bandwidth_bytes_per_cycle": 0.05})
    x, w = toy_tensors(m=16, k=64, n=32)
    res = simulate_mac_layer(quantize_w4a4("l", "op", x, w, hw.quant), hw, "test")
    assert res.stall_dram_cycles > res.compute_cycles
    assert res.total_cycles >= res.actions.get("dram", "read") / 0.05


def test_apportion_is_exact() -> None:
    parts = apportion(1001, [3, 1, 1, 5])
    assert sum(parts) == 1001
    assert parts == [300, 100, 100, 501]


def outlier_trace(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.standard_t(5, (256, 512)).astype(np.float32)
    x[:, rng.choice(512, 6, replace=False)] *= 15  # persistent outlier channels
    w = rng.normal(0, 0.05, (128, 512)).astype(np.float32)
    return x, w


def rel_err(design: str, cfg: QuantConfig) -> float:
    x, w = outlier_trace()
    y = x @ w.T
    out = get_design(design).quantize("l", "op", x, w, cfg).output()
    return float(np.mean((out - y) ** 2) / np.mean(y**2))


def test_atom_keepers_reduce_error_versus_rtn() -> None:
    cfg = QuantConfig(atom=AtomConfig(keepers=16))
    assert rel_err("atom", cfg) < 0.5 * rel_err("mac-w4a4", cfg)


def test_error_ordering_on_outlier_channels() -> None:
    cfg = QuantConfig()
    errs = {d: rel_err(d, cfg) for d in design_names(DesignKind.MAC)}
    assert errs["fp16"] < 1e-5
    assert errs["spikellm"] < errs["mac-w4a4"]
    assert errs["atom"] < errs["mac-w4a4"]


def test_wide_weights_use_narrower_tiles() -> None:
    """FP16 weights of a long-K layer do not fit a full tile twice: the MAC mapping narrows."""
    hw = toy_hw(**{"sram.weights.capacity_bytes": 1024, "mac.cols": 16})
    x, w = toy_tensors(m=4, k=64, n=20)  # 64 x 16 x 16 bits = 2 KiB per full tile
    res = simulate_mac_layer(get_design("fp16").quantize("l", "op", x, w, hw.quant), hw, "test")
    # widest tile fitting twice in 1 KiB: 1024 * 8 / (2 * 64 * 16) = 4 columns -> 5 tiles
    assert res.actions.get("sram.weights", "write") == 5 * (64 * 4 * 16 // 256)


def test_atom_groups_honour_group_size() -> None:
    """9 normal channels in groups of 4 are groups of 4, 4 and 1 (not 3 groups of 3)."""
    hw = toy_hw(**{"quant.atom.keepers": 2, "quant.atom.group_size": 4})
    x, w = toy_tensors(m=4, k=11, n=6)
    q = quantize_atom("l", "op", x, w, hw.quant)
    normal = q.passes[0]
    assert normal.k == 9
    assert normal.groups == 3
    for g, (a, b) in enumerate([(0, 4), (4, 8), (8, 9)]):
        cols = x[:, normal.channels[a:b]]
        step = np.max(np.abs(cols), axis=1) * np.float32(0.9) / np.float32(7)
        np.testing.assert_array_equal(normal.x_scale[:, g], step)
    c = counts(simulate_mac_layer(q, hw, "test"))
    # 3 scale groups in the INT4 pass + 1 in the keepers: 2 multiplies each, 3 adds to combine
    assert c[("dequant", "fp_multiply", 16)] == 2 * 24 * 4
    assert c[("dequant", "fp_add", 16)] == 3 * 24

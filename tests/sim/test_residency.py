"""The on-chip store (spikesim.sim.residency): which weights and KV caches a run keeps on chip,
and the DRAM traffic of a decode step computed by hand from it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from _models import TINY_LLAMA_CONFIG

import spikesim
from spikesim.cli import main
from spikesim.config import WeightSource, load_hardware
from spikesim.sim.counts import simulate_counts
from spikesim.sim.residency import kv_cache_bytes, plan_residency, weight_key
from spikesim.trace import load_workload

ROOT = Path(__file__).resolve().parents[2]
HW = ROOT / "hw_configs" / "spikequant-45nm.yaml"

CONFIG: dict[str, Any] = TINY_LLAMA_CONFIG
"""2 blocks, head_dim 16, 2 KV groups of 2 query heads."""

# Weights of one block at 4 bits (K x N / 2 bytes): q 64x64, k and v 64x32, o 64x64,
# gate and up 64x96, down 96x64.
BLOCK_WEIGHT_BYTES = (64 * 64 + 2 * 64 * 32 + 64 * 64 + 3 * 64 * 96) // 2
CONTEXT, BATCH, STEPS = 10, 2, 2
# A block's cache at its final length (context + steps keys), for 2 groups x 2 sequences,
# K and V, rows of ceil((16 x 4 + 16) / 8) = 10 bytes.
BLOCK_KV_BYTES = 2 * BATCH * 2 * (CONTEXT + STEPS) * 10


@pytest.fixture(scope="module")
def workload(tmp_path_factory: pytest.TempPathFactory) -> Any:
    path = tmp_path_factory.mktemp("model") / "tiny" / "config.json"
    path.parent.mkdir()
    path.write_text(json.dumps(CONFIG), encoding="utf-8")
    return load_workload(path, phase="decode", context=CONTEXT, batch=BATCH,
                         decode_steps=STEPS)


def store_hw(capacity: int, source: str = "auto") -> Any:
    return load_hardware(HW, {
        "sram.store": {"role": "store", "capacity_bytes": capacity, "word_bits": 256,
                       "banks": 8},
        "mapping.weight_source": source,
    })


def decode_rows(hw: Any, workload: Any, design: str = "mac-w4a4") -> pd.DataFrame:
    rows = simulate_counts(hw, workload, design, cache=False).layers
    assert set(rows["phase"]) == {"decode"}
    return rows


def test_plan_weights_first_then_kv_blocks(workload: Any) -> None:
    assert BLOCK_WEIGHT_BYTES == 15360
    assert BLOCK_KV_BYTES == 960
    assert kv_cache_bytes(workload.layers, store_hw(1)) == {0: 960, 1: 960}
    plan = plan_residency(workload.layers, store_hw(BLOCK_WEIGHT_BYTES + BLOCK_KV_BYTES))
    assert set(plan.weights) == {f"layers.0.{p}" for p in (
        "self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "self_attn.o_proj",
        "mlp.gate_proj", "mlp.up_proj", "mlp.down_proj")}
    assert plan.kv_blocks == {0: BLOCK_KV_BYTES}
    assert plan.weights_total_bytes == 2 * BLOCK_WEIGHT_BYTES
    assert plan.kv_total_bytes == 2 * BLOCK_KV_BYTES
    assert plan.describe() is not None
    assert "15,360 of 30,720" in plan.describe()
    assert weight_key("decode.12.layers.3.mlp.up_proj") == "layers.3.mlp.up_proj"


@pytest.mark.parametrize("design", ["mac-w4a4", "spikequant"])
def test_decode_dram_traffic_by_hand(workload: Any, design: str) -> None:
    """A store holding block 0's weights and KV cache: each decode step reads from DRAM block 1's
    weights (every byte once: one block of B = 2 tokens) and block 1's K and V (each sequence's
    new token against context + s + 1 keys of 16 values of 4 bits, for K and for V); block 0
    reads nothing from DRAM for its weights or cache, and appends its k and v to the store."""
    rows = decode_rows(store_hw(BLOCK_WEIGHT_BYTES + BLOCK_KV_BYTES), workload, design)
    block1 = rows["layer"].str.contains(r"\.layers\.1\.")
    linear = rows["op_class"] == "linear"
    attention = rows["op_class"] == "attention"
    kv_read_block1 = sum(2 * BATCH * 2 * (CONTEXT + s + 1) * 16 * 4 // 8 for s in range(STEPS))
    assert rows.loc[linear & block1, "dram_weight_bytes"].sum() == STEPS * BLOCK_WEIGHT_BYTES
    assert rows.loc[attention & block1, "dram_weight_bytes"].sum() == kv_read_block1
    assert rows.loc[~block1, "dram_weight_bytes"].sum() == 0
    # per generated token: weights not on chip + KV bytes read, over B x steps tokens
    per_token = (STEPS * BLOCK_WEIGHT_BYTES + kv_read_block1) / (BATCH * STEPS)
    assert rows["dram_weight_bytes"].sum() / (BATCH * STEPS) == per_token
    kv_write = rows["op"] == "kv_write"
    # 2 sequences x 2 KV heads x (K, V) rows of 10 bytes per step
    assert rows.loc[kv_write & block1, "dram_output_bytes"].tolist() == [80] * STEPS
    assert rows.loc[kv_write & ~block1, "dram_output_bytes"].tolist() == [0] * STEPS

    everything = decode_rows(store_hw(1, "dram"), workload, design)
    assert everything.loc[everything["op_class"] == "linear", "dram_weight_bytes"].sum() == (
        STEPS * 2 * BLOCK_WEIGHT_BYTES)
    assert everything.loc[everything["op_class"] == "attention", "dram_weight_bytes"].sum() == (
        2 * kv_read_block1)
    # without a store, auto is dram: the same rows
    plain = decode_rows(load_hardware(HW), workload, design)
    pd.testing.assert_frame_equal(plain, everything)
    # the store's cycles replace DRAM transfers of resident layers, never the arithmetic
    same = ["layer", "compute_cycles", "mac_ops", "acc_ops", "dram_activation_bytes"]
    pd.testing.assert_frame_equal(rows[same], everything[same])


def test_store_source_holds_everything_and_is_priced(workload: Any) -> None:
    """``weight_source: store`` reads every operand from the store (no capacity check); the
    store's reads and writes are priced like any SRAM of its size."""
    hw = store_hw(1 << 20, "store")
    run = spikesim.simulate(hw, workload, designs="mac-w4a4,spikequant")
    assert run.layers["dram_weight_bytes"].sum() == 0
    kv_write = run.layers["op"] == "kv_write"
    assert run.layers.loc[kv_write, "dram_output_bytes"].sum() == 0
    store = run.actions[run.actions["component"] == "sram.store"]
    assert set(store["action"]) == {"read", "write", "leak"}
    assert (store["energy_pj"] > 0).all()
    assert plan_residency(workload.layers, hw).source == WeightSource.STORE


def test_store_config_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(Exception, match="no SRAM has role 'store'"):
        load_hardware(HW, {"mapping.weight_source": "store"})
    with pytest.raises(Exception, match="at most one SRAM with role 'store'"):
        load_hardware(HW, {
            "sram.s1": {"role": "store", "capacity_bytes": 1024},
            "sram.s2": {"role": "store", "capacity_bytes": 1024},
        })
    yaml = tmp_path / "hw.yaml"
    yaml.write_text(HW.read_text(encoding="utf-8") + "\nmapping:\n  weight_source: store\n",
                    encoding="utf-8")
    assert main(["validate", str(yaml)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert err[0].startswith("error:")
    assert str(yaml) in err[0]
    assert "weight_source" in err[0]

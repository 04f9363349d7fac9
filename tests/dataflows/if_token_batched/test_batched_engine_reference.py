"""The token-batched fast engine reproduces its cycle-by-cycle reference exactly on small layers:
same total cycles, stall attribution, action counts, output spikes and overflow events; the
reference's output integers equal the integer reference. And batching does what it is for: it
changes cycles and weight reads, never the function."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from batched_cases import BASE, CASES, membrane_sram, small_layer
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from spikesim.config import load_hardware
from spikesim.dataflows.if_token_batched.engine import simulate_layer
from spikesim.dataflows.if_token_batched.reference import reference_simulate_layer
from spikesim.dataflows.if_token_serial.engine import simulate_layer as serial_layer
from spikesim.hw.functional import reference_outputs
from spikesim.hw.params import array_params

ROOT = Path(__file__).resolve().parents[3]


def assert_same(layer: Any, hw: Any) -> Any:
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
    assert (fast.output_spikes, fast.overflow_events) == (ref.output_spikes, ref.overflow_events)
    ap = array_params(hw, layer.act_bits, layer.salient_bits, layer.k)
    want, ovf = reference_outputs(layer.x_q, layer.w_q, layer.threshold_fx(ap.frac_bits), ap)
    np.testing.assert_array_equal(ref.outputs, want)
    assert ref.overflow_events == int(ovf.sum())
    return fast


@pytest.mark.parametrize("case", list(CASES))
def test_fast_engine_equals_cycle_reference(case: str) -> None:
    preset, overrides = CASES[case]
    hw = load_hardware(ROOT / "hw_configs" / f"{preset}.yaml", overrides)
    fast = assert_same(small_layer(hw.quant), hw)
    if "encoder bound" in case:
        assert fast.stall_encoder_cycles > 0.3 * fast.total_cycles
    if "dram bound" in case:
        assert fast.stall_dram_cycles > 0.3 * fast.total_cycles
    if "bank-conflict" in case:
        assert fast.stall_bank_cycles > 0
    if "overflow" in case:
        assert fast.overflow_events > 0
    if "sram store" in case:
        assert fast.actions.get("sram.membrane", "read") > 0


@pytest.mark.parametrize("latch", [False, True])
def test_batching_shares_weight_reads_not_results(latch: bool) -> None:
    """The same adds and outputs as token by token; fewer weight-row reads as the batch grows
    (a latched batch reads each row at most once per input, pass and batch)."""
    reads = []
    for batch in (1, 2, 5, 10):
        hw = load_hardware(
            ROOT / "hw_configs" / "spikequant-45nm-count.yaml",
            {**BASE, "sram.activations.capacity_bytes": 4096, "if_array.batch_tokens": batch,
             "if_array.row_latch": latch},
        )
        layer = small_layer(hw.quant)
        sim = simulate_layer(layer, hw, "spikequant")
        serial = serial_layer(layer, hw.model_copy(update={"if_array": hw.if_array.model_copy(
            update={"dataflow": "token_serial", "batch_tokens": None})}), "spikequant")
        assert (sim.output_spikes, sim.overflow_events, sim.spikes) == (
            serial.output_spikes, serial.overflow_events, serial.spikes)
        assert sim.acc_ops == serial.acc_ops
        reads.append(sim.actions.get("sram.weights", "read"))
    assert reads == sorted(reads, reverse=True)
    assert reads[-1] < reads[0] / 2
    if latch:  # one batch of 10 tokens: at most one read per input, pass and tile (3 tiles)
        assert reads[-1] <= 2 * 40 * 3


@pytest.mark.slow  # the reference steps every cycle in Python
@settings(max_examples=40, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 10_000),
    normal=st.sampled_from(["count", "bitserial", "ttfs"]),
    salient=st.sampled_from(["count", "bitserial", "ttfs"]),
    lanes=st.integers(1, 8),
    banks=st.integers(1, 4),
    batch=st.integers(1, 7),
    fifo=st.integers(1, 3),
    m=st.integers(1, 9),
    k=st.integers(2, 20),
    n=st.integers(1, 12),
    latch=st.booleans(),
    store=st.sampled_from([None, (128, 4, 1), (256, 2, 1), (512, 1, 2), (128, 3, 2)]),
    split=st.booleans(),
)
def test_random_configs_match_reference(
    seed: int, normal: str, salient: str, lanes: int, banks: int, batch: int, fifo: int,
    m: int, k: int, n: int, latch: bool, store: tuple[int, int, int] | None, split: bool,
) -> None:
    overrides: dict[str, Any] = {
        **BASE,
        "if_array.columns": 5,
        "quant.normal_coding": normal,
        "quant.salient_coding": salient,
        "quant.mad_k": 2.5,
        "if_array.lanes": lanes,
        "sram.weights.banks": banks,
        "encoder.count": 1,
        "encoder.values_per_cycle": 7,
        "encoder.fifo_depth": fifo,
        "if_array.batch_tokens": batch,
        "if_array.row_latch": latch,
    }
    if store is not None:
        word, mbanks, ports = store
        overrides.update(membrane_sram(word, mbanks, ports, capacity=1 << 16))
        overrides["if_array.membrane_store"] = "sram"
    if split:  # tiles of k x 5 columns x 4 bits: room for about half of it twice
        overrides["sram.weights.capacity_bytes"] = max(k * 5 * 4 // 8, 10)
    hw = load_hardware(ROOT / "hw_configs" / "spikequant-45nm.yaml", overrides)
    assert_same(small_layer(hw.quant, seed, m, k, n), hw)

"""``mac-bitserial``: fast engine = cycle-by-cycle reference, the Stripes relation to SCALE-Sim,
hand counts, functional truth against ``mac-w4a4``, pricing and area."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from spikesim.config import load_hardware
from spikesim.config.hardware import ZeroSkip
from spikesim.dataflows import DesignKind, design_names, get_design
from spikesim.dataflows.bitserial_mac.engine import simulate_bitserial_layer
from spikesim.dataflows.bitserial_mac.reference import reference_layer
from spikesim.dataflows.bitserial_mac.timing import bitserial_gemm, magnitude_bits
from spikesim.dataflows.systolic.engine import simulate_mac_layer
from spikesim.dataflows.systolic.timing import systolic_gemm
from spikesim.quant.baselines import MacQuantized, quantize_w4a4

ROOT = Path(__file__).resolve().parents[3]
PRESET = ROOT / "hw_configs" / "spikequant-45nm.yaml"
SMALL = {
    "dram.latency_cycles": 5,
    "dram.bandwidth_bytes_per_cycle": 4,
    "sram.activations.capacity_bytes": 64,  # several token blocks
    "sram.weights.capacity_bytes": 512,  # narrowed, reloaded tiles
}


def hw_for(**extra: Any):  # type: ignore[no-untyped-def]
    return load_hardware(PRESET, {**SMALL, **extra})


def toy(m: int, k: int, n: int, seed: int, hw: Any, zeros: float = 0.0) -> MacQuantized:
    rng = np.random.default_rng(seed)
    x = rng.standard_t(3, size=(m, k)).astype(np.float32)
    x[rng.random((m, k)) < zeros] = 0.0
    w = rng.normal(size=(n, k)).astype(np.float32)
    return quantize_w4a4("layers.0.toy", "toy", x, w, hw.quant)


def counts(counter: Any) -> dict[tuple[str, str, int], int]:
    return {(a.component, a.action, a.bits): a.count for a in counter.items() if a.count}


def assert_engine_equals_reference(q: MacQuantized, hw: Any) -> None:
    fast = simulate_bitserial_layer(q, hw, "mac-bitserial")
    ref = reference_layer(q, hw)
    assert fast.compute_cycles == ref.compute_cycles
    assert fast.total_cycles == ref.total_cycles
    assert fast.stall_dram_cycles == ref.stall_dram_cycles
    assert counts(fast.actions) == counts(ref.actions)
    p = q.passes[0]
    exact = p.x_q.astype(np.int64) @ p.w_q.astype(np.int64).T
    np.testing.assert_array_equal(ref.outputs, exact)


@pytest.mark.parametrize("zero_skip", [z.value for z in ZeroSkip])
@pytest.mark.parametrize("dataflow", ["os", "ws", "is"])
@pytest.mark.parametrize(("m", "k", "n", "rows", "cols"),
                         [(7, 10, 9, 3, 4), (4, 5, 3, 4, 4), (9, 3, 11, 2, 5)])
def test_engine_equals_reference(dataflow: str, zero_skip: str, m: int, k: int, n: int,
                                 rows: int, cols: int) -> None:
    hw = hw_for(**{"mac.dataflow": dataflow, "mac.zero_skip": zero_skip,
                   "mac.rows": rows, "mac.cols": cols})
    assert_engine_equals_reference(toy(m, k, n, seed=m * k + n, hw=hw, zeros=0.3), hw)


@given(
    m=st.integers(1, 8), k=st.integers(1, 9), n=st.integers(1, 8),
    rows=st.integers(1, 4), cols=st.integers(1, 4),
    dataflow=st.sampled_from(["os", "ws", "is"]),
    zero_skip=st.sampled_from([z.value for z in ZeroSkip]),
    act_bits=st.integers(2, 6), zeros=st.sampled_from([0.0, 0.5, 1.0]), seed=st.integers(0, 99),
)
def test_engine_equals_reference_random(m: int, k: int, n: int, rows: int, cols: int,
                                        dataflow: str, zero_skip: str, act_bits: int,
                                        zeros: float, seed: int) -> None:
    hw = hw_for(**{"mac.dataflow": dataflow, "mac.zero_skip": zero_skip, "mac.rows": rows,
                   "mac.cols": cols, "quant.act_bits": act_bits})
    assert_engine_equals_reference(toy(m, k, n, seed, hw, zeros), hw)


@pytest.mark.parametrize("dataflow", ["os", "ws", "is"])
@pytest.mark.parametrize("act_bits", [2, 4, 8])
def test_stripes_is_planes_times_scalesim(dataflow: str, act_bits: int) -> None:
    """zero_skip none: compute_cycles + 1 = (act_bits - 1) · (SCALE-Sim cycles + 1)."""
    hw = hw_for(**{"mac.dataflow": dataflow, "quant.act_bits": act_bits,
                   "mac.rows": 5, "mac.cols": 3})
    q = toy(13, 17, 11, seed=act_bits, hw=hw)
    bitserial = simulate_bitserial_layer(q, hw, "mac-bitserial")
    scalesim = systolic_gemm(13, 17, 11, 5, 3, dataflow).compute_cycles
    assert bitserial.compute_cycles + 1 == (act_bits - 1) * (scalesim + 1)
    assert simulate_mac_layer(q, hw, "mac-w4a4").compute_cycles == scalesim


def test_zero_skip_hand_count() -> None:
    """os, 2 x 2 array, A = [[0, 3], [1, 0], [5, 7]] (magnitude bits [[0, 2], [1, 0], [2, 3]]),
    N = 3 outputs: token blocks {0, 1} and {2}, two column folds."""
    x = np.array([[0, 3], [1, 0], [5, 7]], np.int8)
    assert magnitude_bits(x).tolist() == [[0, 2], [1, 0], [2, 3]]
    t = bitserial_gemm(x, 3, 2, 2, "os", 4, "activation_bits")
    # wavefront maxima: block 0: k=0 -> 1, k=1 -> 2; block 1: k=0 -> 2, k=1 -> 3; = 8, x2 folds
    assert t.streaming_bit_cycles == 2 * 8
    assert t.fill_bit_cycles == 3 * 4 * (2 + 2 - 2)  # P=3, F=4 folds, L - T = R + C - 2
    assert t.plane_ops == 3 * (0 + 2 + 1 + 0 + 2 + 3)
    zeros = bitserial_gemm(np.zeros((2, 2), np.int8), 3, 2, 2, "os", 4, "activation_bits")
    assert zeros.streaming_bit_cycles == 2 * 2  # 1 bit-cycle per beat
    assert zeros.plane_ops == 0
    stripes = bitserial_gemm(x, 3, 2, 2, "os", 4, "none")
    assert stripes.streaming_bit_cycles == 3 * 4 * 2
    assert stripes.plane_ops == 3 * 3 * 2 * 3


def test_actions_replace_the_multipliers_only() -> None:
    hw = hw_for(**{"mac.zero_skip": "activation_bits"})
    q = toy(6, 8, 5, seed=3, hw=hw, zeros=0.2)
    bits = counts(simulate_bitserial_layer(q, hw, "mac-bitserial").actions)
    w4a4 = counts(simulate_mac_layer(q, hw, "mac-w4a4").actions)
    ops = 5 * int(magnitude_bits(q.passes[0].x_q).sum())
    assert bits.pop(("mac_array", "and", 4)) == ops
    assert bits.pop(("mac_array", "add", 32)) == ops
    del w4a4[("mac_array", "multiply", 4)], w4a4[("mac_array", "add", 32)]
    assert bits == w4a4


def test_output_is_mac_w4a4s() -> None:
    hw = hw_for()
    rng = np.random.default_rng(5)
    x = rng.normal(size=(6, 12)).astype(np.float32)
    w = rng.normal(size=(7, 12)).astype(np.float32)
    ours = get_design("mac-bitserial").quantize("l", "op", x, w, hw.quant)
    theirs = get_design("mac-w4a4").quantize("l", "op", x, w, hw.quant)
    np.testing.assert_array_equal(ours.output(), theirs.output())
    ref = reference_layer(ours, hw)
    p = theirs.passes[0]
    np.testing.assert_array_equal(ref.outputs,
                                  p.x_q.astype(np.int64) @ p.w_q.astype(np.int64).T)


def test_registered_as_a_mac_design() -> None:
    design = get_design("mac-bitserial")
    assert "mac-bitserial" in design_names(DesignKind.MAC)
    assert not design.needs_calibration
    assert not design.is_reference


def test_priced_and_area() -> None:
    from spikesim.dse.area import area_parts
    from spikesim.energy import energy_model
    from spikesim.energy.price import energy_per_action

    hw = hw_for(**{"mac.zero_skip": "activation_bits"})
    table = energy_model(hw)
    gate = energy_per_action(table, "mac_array", "and", 4, hw)
    assert gate.energy_pj == pytest.approx(0.015)  # the 8-bit add row scaled to 4 bits
    names = {p.component for p in area_parts(hw, table, "mac-bitserial")}
    assert {"mac_array.gates", "mac_array.adders", "mac_array.shifters"} <= names

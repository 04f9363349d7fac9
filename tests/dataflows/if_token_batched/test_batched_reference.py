"""The token-batched cycle-by-cycle reference: its output integers equal the integer reference
(matmul, wrap, fire) in every coding, latch, batch size, membrane store and K split; its cycles
and action counts match hand-computed examples; its membrane store raises the spec's InputErrors.
"""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from batched_cases import BASE, CASES, membrane_sram, small_layer
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from spikesim.config import load_hardware
from spikesim.config.hardware import HardwareConfig
from spikesim.dataflows.base import ReferenceResult
from spikesim.dataflows.if_token_batched.record import membrane_record, record_regs
from spikesim.dataflows.if_token_batched.reference import reference_simulate_layer
from spikesim.dataflows.if_token_serial.mapping import map_layer
from spikesim.dataflows.if_token_serial.reference import (
    reference_simulate_layer as token_serial_reference,
)
from spikesim.errors import InputError
from spikesim.hw.functional import reference_outputs
from spikesim.hw.params import array_params
from spikesim.quant.layer import Method, QuantizedLayer

ROOT = Path(__file__).resolve().parents[3]


def hardware(preset: str, overrides: dict[str, Any]) -> HardwareConfig:
    return load_hardware(ROOT / "hw_configs" / f"{preset}.yaml", overrides)


def actions(res: Any) -> dict[tuple[str, str, int], int]:
    return {(x.component, x.action, x.bits): x.count for x in res.actions.items() if x.count}


def check_outputs(layer: QuantizedLayer, hw: HardwareConfig) -> ReferenceResult:
    """Run the reference; its outputs and overflow events are the integer reference's, and its
    cycles add up."""
    ref = reference_simulate_layer(layer, hw)
    ap = array_params(hw, layer.act_bits, layer.salient_bits, layer.k)
    want, ovf = reference_outputs(layer.x_q, layer.w_q, layer.threshold_fx(ap.frac_bits), ap)
    np.testing.assert_array_equal(ref.outputs, want)
    assert ref.overflow_events == int(ovf.sum())
    assert ref.output_spikes == int(np.abs(want).sum())
    assert ref.total_cycles == (
        ref.compute_cycles
        + ref.stall_encoder_cycles
        + ref.stall_bank_cycles
        + ref.stall_dram_cycles
    )
    return ref


@pytest.mark.parametrize("case", list(CASES))
def test_shared_cases_match_integer_reference(case: str) -> None:
    preset, overrides = CASES[case]
    hw = hardware(preset, overrides)
    layer = small_layer(hw.quant)
    ref = check_outputs(layer, hw)
    sched = map_layer(layer, hw)
    assert len(sched.blocks) == 2
    if "encoder bound" in case:
        assert ref.stall_encoder_cycles > 0.3 * ref.total_cycles
    if "dram bound" in case:
        assert ref.stall_dram_cycles > 0.3 * ref.total_cycles
    if "bank-conflict" in case:
        assert ref.stall_bank_cycles > 0
    if "overflow" in case:
        assert ref.overflow_events > 0
    if "K split" in case:
        assert len(sched.k_chunks) == int(case.split("K split in ")[1][0])
    if "sram store" in case:
        assert membrane_record(hw, array_params(hw, layer.act_bits, layer.salient_bits, 40))


STORES: dict[str, dict[str, Any]] = {
    "registers": {},
    "sram": {"if_array.membrane_store": "sram", **membrane_sram(256, banks=2)},
}


@pytest.mark.parametrize(
    ("coding", "latch", "batch", "store"),
    list(itertools.product(["count", "bitserial", "ttfs"], [False, True], [1, 3, 4, 8], STORES)),
)
def test_outputs_equal_integer_reference(coding: str, latch: bool, batch: int, store: str) -> None:
    """Every coding (normal and salient alike), row latch on/off, batches of 1, 3 (the last of a
    block smaller), 4 and 8 (larger than the blocks of 6 and 2 tokens), membranes in registers
    or in the membrane SRAM."""
    hw = hardware(
        "spikequant-45nm",
        {
            **BASE,
            "quant.normal_coding": coding,
            "quant.salient_coding": coding,
            "quant.salient_bits": 6,
            "quant.mad_k": 2.5,
            "if_array.row_latch": latch,
            "if_array.batch_tokens": batch,
            "if_array.lanes": 4,
            **STORES[store],
        },
    )
    layer = small_layer(hw.quant, seed=batch, m=8, k=24, n=12)
    check_outputs(layer, hw)


SPLIT = {"sram.weights.capacity_bytes": 200}
"""40 inputs x 8 columns x 4 bits = 160 bytes a tile; 200 bytes hold 25 inputs twice: 2 chunks."""


@pytest.mark.parametrize("store", list(STORES))
@pytest.mark.parametrize("batch", [1, 4])
def test_k_split_outputs_and_membrane_traffic(store: str, batch: int) -> None:
    """Partial membranes carried between chunks give the unsplit outputs. Registers (membranes
    moved through the output SRAM): each chunk but the last writes tokens x membrane_words per
    tile, each but the first reads as many. SRAM store: the membrane SRAM's reads exceed its
    writes by the fire phases' record reads (tokens x rec_words per tile), split or not."""
    overrides = {**BASE, "if_array.batch_tokens": batch, **STORES[store]}
    hw = hardware("spikequant-45nm", {**overrides, **SPLIT})
    layer = small_layer(hw.quant)
    sched = map_layer(layer, hw)
    assert len(sched.k_chunks) == 2
    split = check_outputs(layer, hw)
    unsplit = check_outputs(layer, hardware("spikequant-45nm", overrides))
    a, b = actions(split), actions(unsplit)
    if store == "registers":
        word = hw.sram["output"].word_bits
        moved = layer.tokens * sum(-(-c * 24 // word) for c in sched.tile_columns)
        for rw in ("read", "write"):
            key = ("sram.output", rw, word)
            assert a[key] - b[key] == moved
    else:
        # records of 2 registers (V, P: the salient passes are bit-serial), 256-bit words
        fire_reads = layer.tokens * sum(-(-c * 24 * 2 // 256) for c in sched.tile_columns)
        for res in (a, b):
            read, write = res[("sram.membrane", "read", 256)], res[("sram.membrane", "write", 256)]
            assert read - write == fire_reads
    for key in (("if_array", "compare", 24), ("encoder", "emit", 4), ("encoder", "emit", 16)):
        assert a[key] == b[key]
    assert split.compute_cycles > unsplit.compute_cycles


# --------------------------------------------------------------------------------------------
# hand-computed examples
# --------------------------------------------------------------------------------------------


def hand_layer(x: list[list[int]], w: list[list[int]]) -> QuantizedLayer:
    """Integers given; all scales 1, so θ_fx = 2^8 and (half-threshold init) ȳ = round(V)."""
    x_q = np.array(x, np.int16)
    w_q = np.array(w, np.int8)
    return QuantizedLayer(
        name="hand",
        op="up_proj",
        x_q=x_q,
        salient=np.zeros(x_q.shape, bool),
        x_scale=np.ones(x_q.shape[0], np.float32),
        w_q=w_q,
        w_scale=np.ones(w_q.shape[0], np.float32),
        output_scale=1.0,
        act_bits=4,
        salient_bits=16,
        weight_bits=4,
        output_bits=4,
        method=Method.SPIKEQUANT,
    )


HAND = {
    "if_array.dataflow": "token_batched",
    "if_array.columns": 8,
    "if_array.lanes": 2,
    "dram.latency_cycles": 5,
    "dram.bandwidth_bytes_per_cycle": 8,
}


def test_hand_example_count_shared_fetches_and_bank_conflict() -> None:
    """2 tokens, K = 3, 2 outputs, count coding, lanes 2, one weight bank of one port, one batch.

    x = [[2, 0, 1], [1, 1, 0]]. Events (index, token, step), in (step, index, token) order, one
    stream: (0,0,1) (0,1,1) (1,1,1) (2,0,1) | (0,0,2).
      cycle 1: (0,0,1) fetches row 0 (bank 0); (0,1,1) same input: shares it  -> 2 issued
      cycle 2: (1,1,1) fetches row 1 (bank 0); (2,0,1) needs bank 0 again: waits
      cycle 3: (2,0,1) fetches row 2; (0,0,2) needs bank 0: waits
      cycle 4: (0,0,2) fetches row 0
    actual 4, ideal ceil(5/2) = 3: one bank stall; 4 fetches (token-serial: 5).
    Step: DRAM load = 5 + ceil((3 weight bytes + ceil(24/8) activation bytes) / 8) = 6 cycles
    (DRAM stall); the encoders scan the batch's 6 values in 1 cycle (64 a cycle): 1 encoder
    stall; issue 4; fire 7 x ceil(2/2) = 7. compute = 3 + 7 = 10, total = 6 + 1 + 4 + 7 = 18.
    V = [[2·1 + 3, 2·-2 + 2], [1 - 2, -1 + 1]] = [[5, 0], [-1, 0]].
    """
    hw = hardware("spikequant-45nm-count", {**HAND, "sram.weights.banks": 1})
    layer = hand_layer([[2, 0, 1], [1, 1, 0]], [[1, -2, 3], [-1, 1, 2]])
    ref = check_outputs(layer, hw)
    np.testing.assert_array_equal(ref.outputs, [[5, 0], [-1, 0]])
    assert (
        ref.total_cycles,
        ref.compute_cycles,
        ref.stall_encoder_cycles,
        ref.stall_bank_cycles,
        ref.stall_dram_cycles,
    ) == (18, 10, 1, 1, 6)
    assert actions(ref) == {
        ("if_array", "acc", 24): 5 * 2,
        ("if_array", "compare", 24): 7 * 2 * 2,  # fire_cycles x tokens x columns
        ("if_array", "fire", 24): 6,  # |5| + |-1| output spikes
        ("threshold", "multiply", 16): 2 * 2,
        ("encoder", "convert", 4): 6,
        ("encoder", "emit", 4): 5,
        ("sram.weights", "read", 256): 4,
        ("sram.weights", "write", 256): 1,
        ("sram.activations", "read", 64): 2,  # per token ceil(3 x 4 / 64)
        ("sram.activations", "write", 64): 1,
        ("sram.output", "write", 64): 2,
        ("sram.output", "read", 64): 2,
        ("dram", "read", 8): 6,
        ("dram", "write", 8): 2,
    }


def test_hand_example_bitserial_sram_store() -> None:
    """3 tokens (one batch, bt = 3), K = 3, 2 outputs, bit-serial (3 planes), lanes 2, membrane
    records in an SRAM of one 128-bit port: a record is 2 columns x 24 bits x 2 registers (V, P)
    = 96 bits = 1 word, so one record access per cycle.

    x = [[3, 0, -1], [0, 2, 0], [1, 0, 0]]. Plane 1 (bit 2): no event. Plane 2 (bit 1):
    (0,t0) (1,t1): cycle 1 (0,t0); (1,t1) needs a second record access: cycle 2 -> 2 cycles,
    ideal 1. Plane 3 (bit 0): (0,t0) (0,t2) (2,t0): one record access a cycle -> 3 cycles,
    ideal 2; (0,t2) is first in its cycle, so it fetches row 0 again: 5 fetches. Overhead ops
    (2 shifts, 1 merge) take g = max(ceil(3/2), ceil(3 x 1 / 1)) = 3 cycles each: 9.
    Step: 1 encoder stall (9 values, 64 a cycle); 5 issue + 9 ops; fire: 3 record-read cycles
    + 7 x ceil(3/2) = 14. compute = 3 + 9 + 3 + 14 = 29; bank stall 2; DRAM load 5 +
    ceil((3 + ceil(36/8)) / 8) = 6; total = 6 + 1 + 5 + 9 + 17 = 38.
    Record words: 5 issue accesses + 3 ops x 3 tokens = 14 read and written, + 3 fire reads.
    V = [[3 + 1, 6 - 1], [4, -6], [1, 2]].
    """
    hw = hardware(
        "spikequant-45nm",
        {
            **HAND,
            "if_array.columns": 2,
            "if_array.batch_tokens": 3,
            "if_array.membrane_store": "sram",
            "quant.normal_coding": "bitserial",
            **membrane_sram(128),
        },
    )
    layer = hand_layer([[3, 0, -1], [0, 2, 0], [1, 0, 0]], [[1, 2, -1], [2, -3, 1]])
    ref = check_outputs(layer, hw)
    np.testing.assert_array_equal(ref.outputs, [[4, 5], [4, -6], [1, 2]])
    assert (
        ref.total_cycles,
        ref.compute_cycles,
        ref.stall_encoder_cycles,
        ref.stall_bank_cycles,
        ref.stall_dram_cycles,
    ) == (38, 29, 1, 2, 6)
    got = actions(ref)
    assert got[("sram.membrane", "read", 128)] == 17
    assert got[("sram.membrane", "write", 128)] == 14
    assert got[("sram.weights", "read", 256)] == 5
    assert got[("if_array", "acc", 24)] == (5 + 3) * 2  # events + merge of 3 tokens
    assert got[("if_array", "shift", 24)] == 2 * 3 * 2  # 2 shift ops x 3 tokens x 2 columns
    assert got[("if_array", "compare", 24)] == 7 * 3 * 2


# --------------------------------------------------------------------------------------------
# against the token-serial reference
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("coding", ["bitserial", "ttfs"])
def test_batch_of_one_is_token_serial(coding: str) -> None:
    """A batch of one token in registers is the token-serial array, where a cycle never mixes
    steps (so one input never has two events in one cycle): identical in every count."""
    overrides = {k: v for k, v in BASE.items() if k != "if_array.dataflow"} | {
        "quant.normal_coding": coding,
        "quant.salient_coding": coding,
        "quant.salient_bits": 6,
    }
    serial_hw = hardware("spikequant-45nm", overrides)
    batched_hw = hardware(
        "spikequant-45nm",
        {**overrides, "if_array.dataflow": "token_batched", "if_array.batch_tokens": 1},
    )
    layer = small_layer(serial_hw.quant, m=6)
    serial = token_serial_reference(layer, serial_hw)
    batched = check_outputs(layer, batched_hw)
    for field in ("total_cycles", "compute_cycles", "stall_encoder_cycles", "stall_bank_cycles"):
        assert getattr(batched, field) == getattr(serial, field), field
    assert actions(batched) == actions(serial)


@pytest.mark.parametrize("latch", [False, True])
def test_batching_shares_weight_fetches_only(latch: bool) -> None:
    """Batching changes which weight-row reads serve which events, never the arithmetic: the
    same adds, compares, spikes and outputs as token-serial, with fewer fetches. (Every token of
    this layer has salient values, so a salient batch pass merges exactly the tokens that
    token-serial merges: the spec counts bt merges per bit-serial batch pass.)"""
    overrides = {k: v for k, v in BASE.items() if k != "if_array.dataflow"}
    overrides["if_array.row_latch"] = latch
    serial_hw = hardware("spikequant-45nm", overrides)
    batched_hw = hardware(
        "spikequant-45nm",
        {**overrides, "if_array.dataflow": "token_batched", "if_array.batch_tokens": 4},
    )
    layer = small_layer(serial_hw.quant)
    serial = actions(token_serial_reference(layer, serial_hw))
    batched = actions(check_outputs(layer, batched_hw))
    for key in serial:
        if key[0] in ("if_array", "encoder", "threshold") or key[:2] == ("dram", "read"):
            assert batched[key] == serial[key], key
    fetches = ("sram.weights", "read", 256)
    assert batched[fetches] < serial[fetches]


def test_record_registers() -> None:
    """V always; I if either pass kind is TTFS; P if either is bit-serial without the latch
    (whether or not the layer has values of that kind)."""
    base = {**BASE, "if_array.membrane_store": "sram", **membrane_sram(256, banks=4)}
    for normal, salient, latch, regs in [
        ("count", "count", False, 1),
        ("count", "bitserial", False, 2),
        ("count", "bitserial", True, 1),
        ("ttfs", "count", True, 2),
        ("ttfs", "bitserial", False, 3),
    ]:
        hw = hardware(
            "spikequant-45nm",
            {
                **base,
                "quant.normal_coding": normal,
                "quant.salient_coding": salient,
                "quant.salient_bits": 6,
                "if_array.row_latch": latch,
            },
        )
        ap = array_params(hw, 4, 6, 40)
        assert record_regs(ap) == regs
        rec = membrane_record(hw, ap)
        assert rec is not None
        assert (rec.ports, rec.words(8), rec.words(3)) == (
            4,
            -(-8 * 24 * regs // 256),
            -(-3 * 24 * regs // 256),
        )
    assert membrane_record(hardware("spikequant-45nm", BASE), ap) is None


# --------------------------------------------------------------------------------------------
# InputErrors of the sram store
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"if_array.membrane_store": "sram"}, "if_array.membrane_store"),
        (
            # 8 columns x 24 bits x 2 registers = 384 bits = 6 words of 64 > 2 x 2 ports
            {"if_array.membrane_store": "sram", **membrane_sram(64, banks=2, ports=2)},
            "sram.membrane.word_bits",
        ),
        (
            # 20 records of 384 bits = 960 bytes > 512
            {
                "if_array.membrane_store": "sram",
                "if_array.batch_tokens": 20,
                **membrane_sram(256, banks=2, capacity=512),
            },
            "if_array.batch_tokens",
        ),
    ],
)
def test_membrane_store_input_errors(overrides: dict[str, Any], field: str) -> None:
    hw = hardware("spikequant-45nm", {**BASE, **overrides})
    layer = small_layer(hw.quant, m=2)
    with pytest.raises(InputError) as err:
        reference_simulate_layer(layer, hw)
    assert err.value.field == field


def test_batch_of_records_that_just_fits() -> None:
    """10 records of 384 bits = 480 bytes fit exactly in 480 bytes: no error."""
    hw = hardware(
        "spikequant-45nm",
        {
            **BASE,
            "if_array.membrane_store": "sram",
            "if_array.batch_tokens": 10,
            **membrane_sram(256, banks=2, capacity=480),
        },
    )
    check_outputs(small_layer(hw.quant, m=3), hw)


@pytest.mark.slow  # the reference steps every cycle in Python
@settings(max_examples=40, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 10_000),
    normal=st.sampled_from(["count", "bitserial", "ttfs"]),
    salient=st.sampled_from(["count", "bitserial", "ttfs"]),
    latch=st.booleans(),
    batch=st.integers(1, 9),
    lanes=st.integers(1, 9),
    sram=st.booleans(),
    weights=st.sampled_from([16, 24, 4096]),
    acc_bits=st.sampled_from([7, 24]),
    m=st.integers(1, 12),
    n=st.integers(1, 10),
)
def test_random_configs_match_integer_reference(
    seed: int,
    normal: str,
    salient: str,
    latch: bool,
    batch: int,
    lanes: int,
    sram: bool,
    weights: int,
    acc_bits: int,
    m: int,
    n: int,
) -> None:
    """K = 16, 3 columns: 16, 24 and 4096 bytes of weight SRAM split K in 4, 2 and 1 chunks; a
    record of up to 3 x 24 x 3 = 216 bits takes at most 4 of the 4 membrane-SRAM ports."""
    hw = hardware(
        "spikequant-45nm",
        {
            **BASE,
            "if_array.columns": 3,
            "sram.activations.capacity_bytes": 40,
            "sram.weights.capacity_bytes": weights,
            "quant.normal_coding": normal,
            "quant.salient_coding": salient,
            "quant.salient_bits": 6,
            "quant.mad_k": 2.5,
            "if_array.row_latch": latch,
            "if_array.batch_tokens": batch,
            "if_array.lanes": lanes,
            "if_array.acc_bits": acc_bits,
            **({"if_array.membrane_store": "sram", **membrane_sram(64, banks=4)} if sram else {}),
        },
    )
    check_outputs(small_layer(hw.quant, seed, m, 16, n), hw)

"""An independent oracle for the mapping: token blocks, weight tiles, residency and DRAM bytes.

The fast engine and the cycle-by-cycle reference share :func:`spikesim.mapping.schedule.plan_steps`,
so their agreement says nothing about it. Here the same quantities are derived another way,
straight from the rules of the module docstring and without calling the planner's helpers:

- tiles are ``columns`` outputs wide, the last one partial; a tile must fit twice (double buffer)
  in the weight SRAM; with ``shrink_tiles`` the widest tile that fits twice is used instead
  (found by brute force here); without it K is split into the fewest chunks C (tried C = 1, 2,
  ... by brute force) whose equal-as-possible contiguous ranges (the first K mod C one input
  longer) give chunk-tiles of the widest tile that fit twice; if even C = K does not, an InputError
  names ``sram.<name>.capacity_bytes``;
- a token's normal values take K·b_a bits, its salient values one (index, value) record of
  ceil(log2 K) + b_s bits each; blocks are found with prefix sums (not a greedy loop) so that a
  block's normal bits, salient bits and output bits (B·columns·b_out) each fit half their SRAM;
- steps are (block, tile, chunk), chunks innermost in both orders;
- weights are resident iff all chunk-tiles fit the weight SRAM; activations are resident iff the
  blocks' normal bytes all fit the activation SRAM and their salient bytes the salient SRAM;
- ``tokens_outer`` (steps block-major): a tile is loaded in the first block only if weights are
  resident, in every block otherwise; a block's activations are loaded with its first tile;
  DRAM read bytes = tile bytes × (1 or blocks) + activation bytes;
- ``weights_outer`` (steps tile-major): a chunk-tile is loaded with its first block (split and
  not resident: with every block); a block's activations are loaded with the first chunk of the
  first tile only if activations are resident, with the first chunk of every tile otherwise;
  DRAM read bytes = tile bytes × (1 or blocks) + activation bytes × (1 or tiles);
- ``auto``: both plans are built and the one with fewer read bytes wins (ties: tokens_outer);
- output bytes ceil(M·N·b_out / 8) in every order;

plus conservation checks on the planner's own output (blocks partition [0, M) in order and are
maximal, tile columns sum to N, every step (b, j) appears once in loop order). Hypothesis drives
it over shapes, SRAM capacities and word widths, salient masks and bit widths and the three loop
orders, with real HardwareConfig objects from ``hw_configs/spikequant-45nm.yaml``.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from fractions import Fraction
from itertools import pairwise
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from spikesim.config.hardware import HardwareConfig
from spikesim.config.loader import load_hardware
from spikesim.config.mapping import LoopOrder
from spikesim.dataflows.if_token_serial.mapping import map_layer
from spikesim.errors import InputError
from spikesim.mapping.schedule import Schedule, dram_cycles, index_bits, plan_steps
from spikesim.quant.layer import quantize_layer

ROOT = Path(__file__).resolve().parents[1]
HW = ROOT / "hw_configs" / "spikequant-45nm.yaml"
SRAMS = ("weights", "activations", "salient", "output")
"""The SRAM names of HW (their roles have the same names)."""


def bytes_of(bits: int) -> int:
    return (bits + 7) // 8


def record_bits_of(k: int, salient_bits: int) -> int:
    """One salient record: an index 0..K-1 (at least one bit) and the value."""
    return max(1, (k - 1).bit_length()) + salient_bits


# --------------------------------------------------------------------------------------------
# The oracle
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    """One planning problem: the layer's shape and storage needs, and the hardware."""

    m: int
    k: int
    n: int
    mask: np.ndarray
    """Salient positions [M, K]."""
    hw: HardwareConfig
    shrink: bool = False

    @property
    def rec_bits(self) -> int:
        return record_bits_of(self.k, self.hw.quant.salient_bits)

    @property
    def salient_bits_per_token(self) -> np.ndarray:
        return self.mask.sum(axis=1).astype(np.int64) * self.rec_bits

    @property
    def normal_bits_per_token(self) -> int:
        return self.k * self.hw.quant.act_bits

    def cap(self, name: str) -> int:
        return self.hw.sram[name].capacity_bytes

    def plan(self) -> Schedule:
        q = self.hw.quant
        return plan_steps(
            name="layer",
            m=self.m,
            k=self.k,
            n=self.n,
            normal_bits_per_token=self.normal_bits_per_token,
            salient_bits_per_token=self.salient_bits_per_token,
            record_bits=self.rec_bits,
            weight_bits=q.weight_bits,
            output_bits=q.output_bits,
            tile_cols=self.hw.if_array.columns,
            hw=self.hw,
            shrink_tiles=self.shrink,
        )


@dataclass(frozen=True)
class Expected:
    tile_width: int
    tile_columns: tuple[int, ...]
    tile_bytes: tuple[int, ...]
    blocks: tuple[tuple[int, int], ...]
    normal_bits: tuple[int, ...]
    salient_bits: tuple[int, ...]
    resident: bool
    activations_resident: bool
    order: LoopOrder
    """The loop order of ``steps`` (never auto)."""
    steps: tuple[tuple[int, int, int, int, int], ...]
    """(block, tile, chunk, weight bytes, activation bytes) in loop order."""
    output_bytes: int
    chunks: tuple[tuple[int, int], ...] = ()
    """Input ranges of the K chunks."""

    @property
    def weight_bytes(self) -> int:
        return sum(s[3] for s in self.steps)

    @property
    def activation_bytes(self) -> int:
        return sum(s[4] for s in self.steps)


def tile_bytes_of(case: Case, columns: int, inputs: int | None = None) -> int:
    return bytes_of((case.k if inputs is None else inputs) * columns * case.hw.quant.weight_bits)


def chunks_of(case: Case, width: int) -> list[tuple[int, int]] | None:
    """The fewest equal-as-possible contiguous K ranges whose chunk-tiles fit twice (brute
    force over the chunk count); None if even one input per chunk does not fit."""
    for count in range(1, case.k + 1):
        sizes = [case.k // count + (1 if c < case.k % count else 0) for c in range(count)]
        if 2 * tile_bytes_of(case, width, max(sizes)) <= case.cap("weights"):
            starts = np.concatenate([[0], np.cumsum(sizes)])
            return [(int(a), int(b)) for a, b in pairwise(starts)]
    return None


def oracle(case: Case) -> Expected | set[str]:
    """The schedule the rules call for, or the set of SRAMs too small for them."""
    q, cols, n = case.hw.quant, case.hw.if_array.columns, case.n
    w_cap = case.cap("weights")
    width = cols
    if case.shrink and 2 * tile_bytes_of(case, cols) > w_cap:
        width = next((c for c in range(cols, 0, -1) if 2 * tile_bytes_of(case, c) <= w_cap), 1)
    tile_columns = [width] * (n // width) + ([n % width] if n % width else [])
    chunks = [(0, case.k)] if case.shrink else chunks_of(case, max(tile_columns))
    chunk_bytes = [[tile_bytes_of(case, c, i1 - i0) for i0, i1 in chunks or [(0, case.k)]]
                   for c in tile_columns]
    tile_bytes = [sum(row) for row in chunk_bytes]

    a_half, s_half, o_half = (4 * case.cap(name) for name in SRAMS[1:])  # bits in half the SRAM
    normal = case.normal_bits_per_token
    salient = case.salient_bits_per_token
    out = width * q.output_bits
    too_small = {
        name
        for name, bad in (
            ("weights", 2 * max(max(row) for row in chunk_bytes) > w_cap),
            ("activations", normal > a_half),
            ("salient", int(salient.max()) > s_half),
            ("output", out > o_half),
        )
        if bad
    }
    if too_small:
        return too_small
    assert chunks is not None
    split = len(chunks) > 1

    most_tokens = min(a_half // normal, o_half // out)
    prefix = np.concatenate([[0], np.cumsum(salient)])
    blocks = []
    t0 = 0
    while t0 < case.m:
        by_salient = int(np.searchsorted(prefix, prefix[t0] + s_half, side="right")) - 1
        t1 = min(case.m, t0 + most_tokens, by_salient)
        blocks.append((t0, t1))
        t0 = t1
    normal_bits = tuple((t1 - t0) * normal for t0, t1 in blocks)
    salient_bits = tuple(int(prefix[t1] - prefix[t0]) for t0, t1 in blocks)

    resident = sum(tile_bytes) <= w_cap
    acts_resident = (
        sum(bytes_of(bits) for bits in normal_bits) <= case.cap("activations")
        and sum(bytes_of(bits) for bits in salient_bits) <= case.cap("salient")
    )
    block_bytes = [bytes_of(nb) + bytes_of(sb) for nb, sb in zip(normal_bits, salient_bits,
                                                                 strict=True)]
    triples = [(b, j, c) for b in range(len(blocks)) for j in range(len(tile_columns))
               for c in range(len(chunks))]
    tokens_outer = tuple(
        (b, j, c, chunk_bytes[j][c] if b == 0 or not resident else 0,
         block_bytes[b] if j == 0 and c == 0 else 0)
        for b, j, c in triples
    )
    weights_outer = tuple(
        (b, j, c, chunk_bytes[j][c] if b == 0 or (split and not resident) else 0,
         block_bytes[b] if c == 0 and (j == 0 or not acts_resident) else 0)
        for b, j, c in sorted(triples, key=lambda bjc: (bjc[1], bjc[0], bjc[2]))
    )

    def read_bytes(steps: tuple[tuple[int, int, int, int, int], ...]) -> int:
        return sum(s[3] + s[4] for s in steps)

    order = case.hw.mapping.loop_order
    if order == LoopOrder.AUTO:
        better = read_bytes(weights_outer) < read_bytes(tokens_outer)
        order = LoopOrder.WEIGHTS_OUTER if better else LoopOrder.TOKENS_OUTER
    return Expected(
        tile_width=width,
        tile_columns=tuple(tile_columns),
        tile_bytes=tuple(tile_bytes),
        blocks=tuple(blocks),
        normal_bits=normal_bits,
        salient_bits=salient_bits,
        resident=resident,
        activations_resident=acts_resident,
        order=order,
        steps=tokens_outer if order == LoopOrder.TOKENS_OUTER else weights_outer,
        output_bytes=bytes_of(case.m * n * q.output_bits),
        chunks=tuple(chunks),
    )


# --------------------------------------------------------------------------------------------
# Conservation checks on the planner's own output
# --------------------------------------------------------------------------------------------


def check_conservation(case: Case, sched: Schedule, width: int) -> None:
    """``width``: the tile width the layer was cut into (``columns``, or narrower if shrunk)."""
    q = case.hw.quant
    a_half, s_half, o_half = (4 * case.cap(name) for name in SRAMS[1:])
    normal, salient = case.normal_bits_per_token, case.salient_bits_per_token
    out = width * q.output_bits

    # tiles: full width, the last one partial, summing to N; each fits twice
    assert sum(sched.tile_columns) == case.n
    assert all(c == width for c in sched.tile_columns[:-1])
    assert 0 < sched.tile_columns[-1] <= width
    # chunks: contiguous, covering [0, K), sizes differ by at most one; each chunk-tile fits
    # twice, and one chunk fewer would not
    chunks = sched.k_chunks
    assert chunks[0][0] == 0
    assert chunks[-1][1] == case.k
    assert all(a[1] == b[0] for a, b in pairwise(chunks))
    sizes = [i1 - i0 for i0, i1 in chunks]
    assert min(sizes) >= 1
    assert max(sizes) - min(sizes) <= 1
    assert 2 * tile_bytes_of(case, max(sched.tile_columns), max(sizes)) <= case.cap("weights")
    if len(chunks) > 1:
        fewer = -(-case.k // (len(chunks) - 1))
        assert 2 * tile_bytes_of(case, max(sched.tile_columns), fewer) > case.cap("weights")
    nc = len(chunks)

    # blocks: partition [0, M) in order, each fits, each is maximal
    assert sched.blocks[0][0] == 0
    assert sched.blocks[-1][1] == case.m
    for (_, end), (start, _) in zip(sched.blocks, sched.blocks[1:], strict=False):
        assert end == start
    for b, (t0, t1) in enumerate(sched.blocks):
        assert t1 > t0
        size, sal = t1 - t0, int(salient[t0:t1].sum())
        assert sched.block_normal_bits[b] == size * normal <= a_half
        assert sched.block_salient_bits[b] == sal <= s_half
        assert size * out <= o_half
        if t1 < case.m:  # one more token would overflow one of the three halves
            assert (
                (size + 1) * normal > a_half
                or sal + int(salient[t1]) > s_half
                or (size + 1) * out > o_half
            )

    # steps: every (b, j) once, in loop order; loads only where the rules put them
    nb, nt = len(sched.blocks), len(sched.tile_columns)
    requested = case.hw.mapping.loop_order
    assert sched.loop_order != LoopOrder.AUTO
    assert requested in (LoopOrder.AUTO, sched.loop_order)
    tokens_outer = sched.loop_order == LoopOrder.TOKENS_OUTER
    assert [(s.block, s.tile, s.chunk) for s in sched.steps] == (
        [(b, j, c) for b in range(nb) for j in range(nt) for c in range(nc)]
        if tokens_outer
        else [(b, j, c) for j in range(nt) for b in range(nb) for c in range(nc)]
    )
    weight_total = sum(tile_bytes_of(case, c, s) for c in sched.tile_columns for s in sizes)
    assert sched.weights_resident == (weight_total <= case.cap("weights"))
    once_outer = sched.weights_resident or nc == 1  # weights_outer: each chunk-tile loaded once
    weight_loads = 1 if sched.weights_resident or (not tokens_outer and once_outer) else nb
    assert sched.dram_weight_bytes == sum(s.weight_bytes for s in sched.steps)
    assert sched.dram_weight_bytes == weight_total * weight_loads
    assert weight_total >= bytes_of(case.k * case.n * q.weight_bits)
    act_loads = 1 if sched.activations_resident or tokens_outer else nt
    act = sched.dram_activation_bytes
    assert act == sum(s.activation_bytes for s in sched.steps)
    assert act % act_loads == 0
    exact_act_bits = case.m * normal + int(salient.sum())
    assert bytes_of(exact_act_bits) <= act // act_loads <= bytes_of(exact_act_bits) + 2 * nb
    if sched.activations_resident:  # the resident blocks fit their SRAMs together
        assert bytes_of(case.m * normal) <= case.cap("activations")
        assert bytes_of(int(salient.sum())) <= case.cap("salient")
    assert all(s.activation_bytes == 0 for s in sched.steps if s.chunk > 0)
    if tokens_outer:  # a block's activations come with its first tile
        assert all(s.activation_bytes == 0 for s in sched.steps if s.tile > 0)
    elif once_outer:  # a chunk-tile comes with its first block
        assert all(s.weight_bytes == 0 for s in sched.steps if s.block > 0)
    assert sched.dram_read_bytes == sum(s.load_bytes for s in sched.steps)
    assert sched.dram_read_bytes == weight_total * weight_loads + act
    # auto: the order chosen reads no more than the other one would
    other_w = weight_total * (1 if sched.weights_resident else nb)
    other_a = act // act_loads * (1 if sched.activations_resident else nt)
    if requested == LoopOrder.AUTO:
        to_bytes = other_w + act // act_loads
        wo_bytes = weight_total * (1 if once_outer else nb) + other_a
        assert sched.dram_read_bytes == min(to_bytes, wo_bytes)
        assert tokens_outer == (to_bytes <= wo_bytes)
    assert sched.output_bytes == sched.dram_output_bytes
    assert sched.output_bytes == bytes_of(case.m * case.n * q.output_bits)


def assert_matches_oracle(case: Case) -> Schedule | None:
    want = oracle(case)
    if isinstance(want, set):
        with pytest.raises(InputError) as info:
            case.plan()
        assert info.value.field in {f"sram.{name}.capacity_bytes" for name in want}
        return None
    sched = case.plan()
    got = (
        sched.tile_columns,
        sched.blocks,
        sched.block_normal_bits,
        sched.block_salient_bits,
        sched.weights_resident,
        sched.activations_resident,
        sched.loop_order,
        tuple((s.block, s.tile, s.chunk, s.weight_bytes, s.activation_bytes)
              for s in sched.steps),
        sched.output_bytes,
        (sched.dram_weight_bytes, sched.dram_activation_bytes, sched.dram_output_bytes),
        sched.k_chunks,
    )
    assert got == (
        want.tile_columns,
        want.blocks,
        want.normal_bits,
        want.salient_bits,
        want.resident,
        want.activations_resident,
        want.order,
        want.steps,
        want.output_bytes,
        (want.weight_bytes, want.activation_bytes, want.output_bytes),
        want.chunks,
    )
    assert (sched.tokens, sched.k, sched.n, sched.record_bits) == (
        case.m, case.k, case.n, case.rec_bits
    )
    check_conservation(case, sched, want.tile_width)
    return sched


# --------------------------------------------------------------------------------------------
# Hypothesis cases: real hardware configs with random capacities, word widths and bit widths
# --------------------------------------------------------------------------------------------


def hardware(overrides: dict[str, Any]) -> HardwareConfig:
    return load_hardware(HW, overrides)


@st.composite
def cases(draw: st.DrawFn, *, shrink: bool = False) -> Case:
    m = draw(st.integers(1, 24))
    k = draw(st.integers(1, 160))
    n = draw(st.integers(1, 96))
    columns = draw(st.integers(1, 40))
    weight_bits = draw(st.integers(2, 8))
    act_bits = draw(st.integers(2, 8))
    salient_bits = draw(st.integers(act_bits, 16))
    output_bits = draw(st.integers(2, 16))
    density = draw(st.sampled_from([0.0, 0.02, 0.1, 0.5, 1.0]))
    seed = draw(st.integers(0, 2**32 - 1))
    mask = np.random.default_rng(seed).random((m, k)) < density

    # capacities around what the layer needs, so blocks split, tiles stay or reload, and a
    # few cases just do not fit (the error path)
    widths = [columns] * (n // columns) + ([n % columns] if n % columns else [])
    tile = bytes_of(k * widths[0] * weight_bits)
    all_tiles = sum(bytes_of(k * c * weight_bits) for c in widths)
    rec = record_bits_of(k, salient_bits)
    per_token = mask.sum(axis=1) * rec
    salient_need = draw(st.sampled_from([int(per_token.max()), int(per_token.mean())]))

    def around(bits_per_token: int) -> int:
        tokens = draw(st.sampled_from([1, 1.5, 2, 3, 7, m, 2 * m]))
        return max(1, bytes_of(int(2 * tokens * bits_per_token)) + draw(st.integers(-2, 2)))

    w_cap = draw(st.one_of(st.integers(max(1, 2 * tile - 3), 2 * tile + 8),
                           st.integers(1, max(1, tile)),  # K split into several chunks
                           st.integers(max(1, all_tiles - 8), all_tiles + 8),
                           st.integers(2 * tile, 4 * all_tiles + 16)))
    overrides: dict[str, Any] = {
        "if_array.columns": columns,
        "quant.weight_bits": weight_bits,
        "quant.act_bits": act_bits,
        "quant.salient_bits": salient_bits,
        "quant.output_bits": output_bits,
        "sram.weights.capacity_bytes": w_cap,
        "sram.activations.capacity_bytes": around(k * act_bits),
        "sram.salient.capacity_bytes": around(max(salient_need, rec)),
        "sram.output.capacity_bytes": around(columns * output_bits),
        "dram.latency_cycles": draw(st.integers(0, 200)),
        "dram.bandwidth_bytes_per_cycle": draw(st.integers(1, 256)) / 2 ** draw(st.integers(0, 6)),
        "mapping.loop_order": draw(st.sampled_from(list(LoopOrder))),
    }
    for name in SRAMS:
        overrides[f"sram.{name}.word_bits"] = draw(st.sampled_from([8, 16, 64, 100, 256, 4096]))
        overrides[f"sram.{name}.banks"] = draw(st.integers(1, 16))
    return Case(m, k, n, mask, hardware(overrides), shrink)


@settings(max_examples=3 * settings.default.max_examples)  # 30 by default; 300 in the slow run
@given(cases())
def test_plan_equals_the_oracle(case: Case) -> None:
    assert_matches_oracle(case)


@settings(max_examples=2 * settings.default.max_examples)
@given(cases(shrink=True))
def test_shrink_tiles_picks_the_widest_tile_that_fits_twice(case: Case) -> None:
    sched = assert_matches_oracle(case)
    if sched is not None and len(sched.tile_columns) > 1:
        width = sched.tile_columns[0]
        if width < case.hw.if_array.columns:  # shrunk: one column more would not fit twice
            assert 2 * tile_bytes_of(case, width + 1) > case.cap("weights")


@given(cases(), st.sampled_from([8, 64, 4096]), st.integers(1, 64), st.integers(1, 4))
def test_word_width_banks_and_ports_do_not_change_the_plan(
    case: Case, word_bits: int, banks: int, ports: int
) -> None:
    """Storage is counted in bits (packed), so the access width and banking do not matter."""
    if isinstance(oracle(case), set):
        return
    sram = {
        name: bank.model_copy(update={"word_bits": word_bits, "banks": banks, "ports": ports})
        for name, bank in case.hw.sram.items()
    }
    other = Case(case.m, case.k, case.n, case.mask, case.hw.model_copy(update={"sram": sram}))
    assert other.plan() == case.plan()


@given(
    nbytes=st.integers(0, 10**7),
    latency=st.integers(0, 500),
    numerator=st.integers(1, 4096),
    shift=st.integers(0, 8),
)
def test_dram_cycles_of_a_load(nbytes: int, latency: int, numerator: int, shift: int) -> None:
    """latency + ceil(bytes / bandwidth), in exact arithmetic (bandwidths k / 2^j); 0 bytes: 0."""
    bandwidth = numerator / 2**shift
    hw = hardware({"dram.latency_cycles": latency, "dram.bandwidth_bytes_per_cycle": bandwidth})
    case = Case(1, 8, 8, np.zeros((1, 8), dtype=bool), hw)
    sched = case.plan()
    assert (sched.dram_latency_cycles, sched.dram_bytes_per_cycle) == (latency, bandwidth)
    exact = -(-Fraction(nbytes) // Fraction(numerator, 2**shift))
    assert sched.load_cycles(nbytes) == (latency + exact if nbytes else 0)


@pytest.mark.parametrize("k", [1, 2, 3, 4, 5, 7, 8, 9, 576, 1024, 1025, 11008])
def test_index_bits(k: int) -> None:
    assert index_bits(k) == max(1, (k - 1).bit_length())


# --------------------------------------------------------------------------------------------
# Hand-checked examples and the error paths
# --------------------------------------------------------------------------------------------


def test_hand_example(default_hw_path: Path) -> None:
    """M=5, K=16, N=10, columns 4: tiles 4+4+2 (16·4·4 bits = 32 bytes each, 16 for the last);
    A4: 64 normal bits per token, 128 bits in half the 32-byte activation SRAM → blocks of 2;
    token 1 holds 3 salient records of 4 + 16 = 20 bits, token 2 one (half the salient SRAM:
    64 bits)."""
    hw = load_hardware(
        default_hw_path,
        {
            "if_array.columns": 4,
            "sram.weights.capacity_bytes": 80,  # all 3 tiles (80 bytes) fit: resident
            "sram.activations.capacity_bytes": 32,
            "sram.salient.capacity_bytes": 16,
            "sram.output.capacity_bytes": 64,
        },
    )
    mask = np.zeros((5, 16), dtype=bool)
    mask[1, [0, 5, 9]] = True
    mask[2, 3] = True
    sched = assert_matches_oracle(Case(5, 16, 10, mask, hw))
    assert sched is not None
    assert sched.tile_columns == (4, 4, 2)
    assert sched.blocks == ((0, 2), (2, 4), (4, 5))
    assert sched.block_salient_bits == (60, 20, 0)
    assert sched.weights_resident
    assert [s.load_bytes for s in sched.steps] == [
        32 + 16 + 8, 32, 16,  # block 0: 2 × 64 normal bits, 60 salient bits
        16 + 3, 0, 0,  # weights resident: loaded in block 0 only
        8, 0, 0,
    ]
    assert sched.output_bytes == 5 * 10 * 4 // 8


def hand_case(default_hw_path: Path, order: str, weights: int, activations: int) -> Case:
    """The layer of :func:`test_hand_example` (tiles of 32, 32, 16 bytes; blocks of 2, 2, 1
    tokens carrying 16 + 8, 16 + 3 and 8 + 0 bytes of normal + salient activations)."""
    hw = load_hardware(
        default_hw_path,
        {
            "if_array.columns": 4,
            "sram.weights.capacity_bytes": weights,
            "sram.activations.capacity_bytes": activations,
            "sram.salient.capacity_bytes": 16,
            "sram.output.capacity_bytes": 64,
            "mapping.loop_order": order,
        },
    )
    mask = np.zeros((5, 16), dtype=bool)
    mask[1, [0, 5, 9]] = True
    mask[2, 3] = True
    return Case(5, 16, 10, mask, hw)


def test_hand_example_weights_outer(default_hw_path: Path) -> None:
    """Tile-major steps; each tile loaded with its first block; 40 bytes of normal activations
    do not fit the 32-byte activation SRAM, so every block is reloaded for every tile."""
    sched = assert_matches_oracle(hand_case(default_hw_path, "weights_outer", 79, 32))
    assert sched is not None
    assert sched.loop_order == LoopOrder.WEIGHTS_OUTER
    assert not sched.weights_resident
    assert not sched.activations_resident
    assert [(s.block, s.tile) for s in sched.steps] == [
        (0, 0), (1, 0), (2, 0), (0, 1), (1, 1), (2, 1), (0, 2), (1, 2), (2, 2)
    ]
    assert [s.load_bytes for s in sched.steps] == [
        32 + 24, 19, 8,
        32 + 24, 19, 8,
        16 + 24, 19, 8,
    ]
    assert (sched.dram_weight_bytes, sched.dram_activation_bytes) == (80, 3 * 51)
    assert sched.dram_output_bytes == 5 * 10 * 4 // 8


def test_hand_example_weights_outer_resident_activations(default_hw_path: Path) -> None:
    """A 40-byte activation SRAM holds the three blocks' 40 normal bytes (and 16 bytes hold
    their 11 salient bytes): activations are loaded once, with the first tile."""
    sched = assert_matches_oracle(hand_case(default_hw_path, "weights_outer", 79, 40))
    assert sched is not None
    assert sched.activations_resident
    assert sched.blocks == ((0, 2), (2, 4), (4, 5))
    assert [s.load_bytes for s in sched.steps] == [
        32 + 24, 19, 8,
        32, 0, 0,
        16, 0, 0,
    ]


@pytest.mark.parametrize(
    ("weights", "activations", "chosen", "read_bytes"),
    [
        (80, 32, "tokens_outer", 80 + 51),  # weights resident: 131 against 80 + 3 × 51
        (79, 32, "weights_outer", 80 + 3 * 51),  # 233 against 3 × 80 + 51 = 291
        (79, 40, "weights_outer", 80 + 51),  # activations resident: 131 against 291
        (80, 40, "tokens_outer", 80 + 51),  # both resident: a tie goes to tokens_outer
    ],
)
def test_auto_takes_the_order_with_fewer_read_bytes(
    weights: int, activations: int, chosen: str, read_bytes: int, default_hw_path: Path
) -> None:
    sched = assert_matches_oracle(hand_case(default_hw_path, "auto", weights, activations))
    assert sched is not None
    assert sched.loop_order == chosen
    assert sched.dram_read_bytes == read_bytes
    others = [hand_case(default_hw_path, o, weights, activations).plan().dram_read_bytes
              for o in ("tokens_outer", "weights_outer")]
    assert sched.dram_read_bytes == min(others)


@pytest.mark.parametrize("order", ["tokens_outer", "weights_outer"])
def test_hand_example_k_split(order: str, default_hw_path: Path) -> None:
    """The layer of :func:`test_hand_example` with a 40-byte weight SRAM: a 32-byte tile does not
    fit twice; k_max = 8 · 20 // (4 · 4) = 10 inputs, so C = ceil(16 / 10) = 2 chunks of 8
    inputs (chunk-tiles of 16, 16 and 8 bytes, 80 in all > 40: not resident, so every chunk-tile
    is reloaded for every block in both orders). A block's activations come with a first chunk."""
    sched = assert_matches_oracle(hand_case(default_hw_path, order, 40, 32))
    assert sched is not None
    assert sched.k_chunks == ((0, 8), (8, 16))
    assert not sched.weights_resident
    assert len(sched.steps) == 3 * 3 * 2
    if order == "tokens_outer":
        assert [(s.block, s.tile, s.chunk, s.load_bytes) for s in sched.steps[:6]] == [
            (0, 0, 0, 16 + 24), (0, 0, 1, 16), (0, 1, 0, 16), (0, 1, 1, 16), (0, 2, 0, 8),
            (0, 2, 1, 8),
        ]
    else:
        assert [(s.block, s.tile, s.chunk, s.load_bytes) for s in sched.steps[:6]] == [
            (0, 0, 0, 16 + 24), (0, 0, 1, 16), (1, 0, 0, 16 + 19), (1, 0, 1, 16),
            (2, 0, 0, 16 + 8), (2, 0, 1, 16),
        ]
    assert sched.dram_weight_bytes == 3 * 80
    assert sched.dram_activation_bytes == (51 if order == "tokens_outer" else 3 * 51)


def test_k_split_resident_chunks(default_hw_path: Path) -> None:
    """One 4-column tile of K=16 (32 bytes) in 40 bytes: two 16-byte chunk-tiles fit together,
    so they are resident and loaded once even in weights_outer."""
    hw = load_hardware(
        default_hw_path,
        {"if_array.columns": 4, "sram.weights.capacity_bytes": 40,
         "sram.activations.capacity_bytes": 32, "mapping.loop_order": "weights_outer"},
    )
    sched = assert_matches_oracle(Case(5, 16, 4, np.zeros((5, 16), dtype=bool), hw))
    assert sched is not None
    assert sched.k_chunks == ((0, 8), (8, 16))
    assert sched.weights_resident
    assert sched.dram_weight_bytes == 32


def test_k_split_uneven_chunks(default_hw_path: Path) -> None:
    """K=17 with k_max = 8 · 10 // 16 = 5: C = 4 chunks of 5, 4, 4, 4 inputs."""
    hw = load_hardware(default_hw_path, {"if_array.columns": 4, "sram.weights.capacity_bytes": 21})
    sched = assert_matches_oracle(Case(2, 17, 4, np.zeros((2, 17), dtype=bool), hw))
    assert sched is not None
    assert sched.k_chunks == ((0, 5), (5, 9), (9, 13), (13, 17))


def test_salient_records_limit_blocks(default_hw_path: Path) -> None:
    """Half of an 8-byte salient SRAM (32 bits) holds one 20-bit record: a token with a salient
    value closes its block although the activation SRAM would take two tokens."""
    hw = load_hardware(
        default_hw_path,
        {"if_array.columns": 4, "sram.activations.capacity_bytes": 32,
         "sram.salient.capacity_bytes": 8},
    )
    mask = np.zeros((5, 16), dtype=bool)
    mask[[0, 1, 3], 2] = True
    sched = assert_matches_oracle(Case(5, 16, 10, mask, hw))
    assert sched is not None
    assert sched.blocks == ((0, 1), (1, 3), (3, 5))
    assert sched.block_salient_bits == (20, 20, 20)


def test_map_layer_feeds_the_planner_a_quantized_layer(default_hw_path: Path) -> None:
    """The token-serial IF mapping of a real SpikeQuant layer: K·b_a normal bits per token, one
    (index, value) record per salient value, tiles of ``if_array.columns``."""
    hw = load_hardware(
        default_hw_path,
        {"if_array.columns": 8, "sram.activations.capacity_bytes": 256,
         "sram.salient.capacity_bytes": 96, "quant.mad_k": 2.5},
    )
    rng = np.random.default_rng(3)
    x = rng.standard_t(4, (12, 40)).astype(np.float32)
    x[:, 5] *= 40  # a persistent outlier channel
    w = rng.normal(0, 0.05, (20, 40)).astype(np.float32)
    layer = quantize_layer("layers.0.mlp.up_proj", "up_proj", x, w, hw.quant)
    assert layer.salient.any()
    case = Case(12, 40, 20, layer.salient, hw)
    sched = assert_matches_oracle(case)
    assert sched is not None
    assert 2 < len(sched.blocks) < 12  # 5 to 9 records of 6 + 16 bits a token, 384 bits a block
    assert map_layer(layer, hw) == replace(sched, layer=layer.name)


def test_not_resident_reloads_every_block(default_hw_path: Path) -> None:
    hw = load_hardware(
        default_hw_path,
        {"if_array.columns": 4, "sram.weights.capacity_bytes": 79,
         "sram.activations.capacity_bytes": 32},
    )
    sched = assert_matches_oracle(Case(5, 16, 10, np.zeros((5, 16), dtype=bool), hw))
    assert sched is not None
    assert not sched.weights_resident
    assert sum(s.weight_bytes for s in sched.steps) == 3 * 80


@pytest.mark.parametrize(
    ("overrides", "name"),
    [
        # one input per chunk (4 columns x 4 bits = 2 bytes) does not fit twice in 3 bytes
        # (63 bytes, too small for a 32-byte tile, now splits K)
        ({"sram.weights.capacity_bytes": 3}, "weights"),
        ({"sram.activations.capacity_bytes": 15}, "activations"),  # 64 bits > half of 15 bytes
        ({"sram.output.capacity_bytes": 3}, "output"),  # 4 columns × 4 bits > 12 bits
        ({"sram.salient.capacity_bytes": 9}, "salient"),  # 3 records of 20 bits > 36 bits
    ],
)
def test_too_small_sram_names_its_capacity(
    overrides: dict[str, int], name: str, default_hw_path: Path
) -> None:
    hw = load_hardware(default_hw_path, {"if_array.columns": 4, **overrides})
    mask = np.zeros((5, 16), dtype=bool)
    mask[1, [0, 5, 9]] = True
    case = Case(5, 16, 10, mask, hw)
    assert oracle(case) == {name}
    with pytest.raises(InputError) as info:
        case.plan()
    assert info.value.field == f"sram.{name}.capacity_bytes"


def test_error_names_the_sram_by_its_own_name(tmp_path: Path) -> None:
    data = yaml.safe_load(HW.read_text())
    data["sram"] = {f"buf_{name}": bank for name, bank in data["sram"].items()}
    data["sram"]["buf_weights"]["capacity_bytes"] = 7  # one input of 8 columns (4 bytes) fits once
    path = tmp_path / "renamed.yaml"
    path.write_text(yaml.safe_dump(data))
    hw = load_hardware(path)
    case = Case(2, 16, 8, np.zeros((2, 16), dtype=bool), hw)
    with pytest.raises(InputError) as info:
        case.plan()
    assert info.value.field == "sram.buf_weights.capacity_bytes"


def test_shrink_tiles_when_nothing_fits(default_hw_path: Path) -> None:
    """K=16 at 4 bits: one column is 8 bytes, so 15 bytes cannot hold two tiles of any width."""
    hw = load_hardware(default_hw_path, {"sram.weights.capacity_bytes": 15})
    case = Case(2, 16, 8, np.zeros((2, 16), dtype=bool), hw, shrink=True)
    assert oracle(case) == {"weights"}
    with pytest.raises(InputError) as info:
        case.plan()
    assert info.value.field == "sram.weights.capacity_bytes"
    hw = load_hardware(default_hw_path, {"sram.weights.capacity_bytes": 16})
    sched = Case(2, 16, 8, np.zeros((2, 16), dtype=bool), hw, shrink=True).plan()
    assert sched.tile_columns == (1,) * 8


def test_shrink_tiles_with_an_odd_capacity(default_hw_path: Path) -> None:
    """K=3 at 4 bits in 9 bytes: 3 columns take 36 bits = 5 bytes (twice: 10 > 9), 2 columns
    take 3 bytes (twice: 6 <= 9), so the widest tile that fits twice is 2 columns. (Sizing the
    tile as 8·capacity // (2·K·b_w) columns, ignoring that a tile is whole bytes, picks 3.)"""
    hw = load_hardware(default_hw_path, {"sram.weights.capacity_bytes": 9})
    case = Case(2, 3, 8, np.zeros((2, 3), dtype=bool), hw, shrink=True)
    want = oracle(case)
    assert isinstance(want, Expected)
    assert want.tile_columns == (2, 2, 2, 2)
    assert case.plan().tile_columns == want.tile_columns


@pytest.mark.parametrize(
    ("nbytes", "bandwidth", "cycles"),
    [(21, 0.7, 30), (21, 0.35, 60), (22, 0.35, 63), (64, 32.0, 2)],
)
def test_dram_cycles_divide_the_decimal_bandwidth_exactly(
    nbytes: int, bandwidth: float, cycles: int
) -> None:
    """21 bytes at 0.7 bytes/cycle take 30 cycles (the float quotient 30.000000000000004 would
    round up to 31)."""
    assert dram_cycles(nbytes, 5, bandwidth) == 5 + cycles

"""Mapping: split a quantized layer into schedule steps (token block × output tile × K chunk).

Steps and loop order (``mapping.loop_order``; the blocks, tiles and chunks are the same in both)::

    tokens_outer (default):                      weights_outer:
    for block b of consecutive tokens:           for tile j of `columns` output channels:
        for tile j of `columns` output channels:     for block b of consecutive tokens:
            for chunk c of the K inputs:                 for chunk c of the K inputs:
                step (b, j, c)                               step (b, j, c)

In step (b, j, c) every token of block b is encoded and integrated against the inputs of chunk c
of weight tile j (its *chunk-tile*). Chunks are innermost in both orders, so one block's partial
membranes of one tile are live at a time. A layer whose tiles fit (see below) has one chunk,
[0, K), and its steps are the (b, j) steps of the unsplit plan.
``auto`` takes whichever of the two orders reads fewer DRAM bytes for the layer (weights plus
activations; ties go to ``tokens_outer``) and records the order chosen in the schedule.

Storage (mixed bit width, dynamic per token): a token's normal values are packed at b_a bits
(K · b_a bits, salient positions hold 0); its salient values are (index, value) records of
ceil(log2 K) + b_s bits in the salient SRAM. Blocks are formed greedily so that a block's normal
bits, salient bits and output bits (B · columns · b_out) each fit in half of their SRAM (double
buffering). A block's activations are ceil(normal bits / 8) + ceil(salient bits / 8) bytes.

K-splitting (spiking designs; MAC designs narrow their tiles instead, ``shrink_tiles``): a
chunk-tile of k_c inputs and c columns is ceil(k_c · c · b_w / 8) bytes and must fit twice in the
weight SRAM (double buffering). The K inputs are cut into the fewest chunks C for which the
widest tile's largest chunk fits twice: with k_max = 8 · floor(capacity / 2) // (c · b_w) for
the widest tile's c = min(columns, N) columns (the most inputs of its chunk-tile that fit
twice), C = ceil(K / k_max). The chunks
are contiguous input ranges, as equal as possible: the first K mod C have ceil(K / C) inputs,
the rest floor(K / C). k_max = 0 (one input per chunk does not fit twice) is an error naming
the weight SRAM's capacity.

Residency (which loads repeat):

- Weights are *resident* when all chunk-tiles fit the weight SRAM together (the sum of their
  bytes is at most its capacity). ``tokens_outer``: a resident chunk-tile is loaded once, with
  the first block; otherwise every chunk-tile is reloaded for every block (double-buffered in
  half the SRAM). ``weights_outer``: unsplit (one chunk), each tile is loaded once, with the
  first block, whether resident or not (it stays while the blocks stream past it); split, the
  chunks of a tile alternate within every block, so a chunk-tile is loaded once (with the first
  block) only when the weights are resident, else reloaded for every block.
- Activations are *resident* when all blocks fit their SRAMs together: the sum over blocks of
  ceil(normal bits / 8) is at most the activation SRAM's capacity and the sum over blocks of
  ceil(salient bits / 8) is at most the salient SRAM's capacity. ``weights_outer``: resident
  activations are loaded once, with the first tile; otherwise every block's activations (its
  normal values and its salient records) are reloaded for every tile (double-buffered in half of
  each SRAM); they are loaded with the tile's first chunk and stay for its other chunks.
  ``tokens_outer``: a block's activations are loaded once, with its first step (first tile,
  first chunk), whether resident or not.

Partial membranes (more than one chunk): step (b, j, c) integrates, for each token of block b,
only the inputs of chunk c (its normal pass scans the chunk's k_c values, its salient pass the
chunk's salient records). After every chunk but the last the token's ``columns`` membranes
(acc_bits each) are written to the membrane store, and re-read at the start of its next chunk;
only the last chunk runs the fire phase. The membrane store is the SRAM with role ``membrane``
if the hardware has one, else the output SRAM (:func:`spikesim.hw.memory.membrane_sram`; its
capacity is not checked against the B · c · acc_bits a block's partial membranes need). For a
tile of c columns a write-back (or a re-read) moves ceil(c · acc_bits / word_bits) words and
takes ceil(c · acc_bits / (word_bits · banks · ports)) array cycles of the store, counted as
compute cycles (the re-read before the token's first pass of the chunk, the write-back in place
of the fire phase). Weight row i of a chunk-tile [i0, i1) lives in bank (i - i0) mod banks. The
membranes wrap at acc_bits exactly as unsplit: addition mod 2^acc_bits is associative.


DRAM: one channel serving loads in step order; a load of ``bytes`` takes
``latency_cycles + ceil(bytes / bandwidth_bytes_per_cycle)`` cycles (0 bytes: no transfer).
The load for step s may start once the channel is free and step s-2 has finished computing (its
buffer is free again). Output write-back (M · N · b_out bits) is counted as traffic and energy;
it is posted (write buffer) and does not stall the array; it is the same in both orders.

On-chip store (``mapping.weight_source`` resolved to ``store`` for the layer, see
:mod:`spikesim.sim.residency`): the step's weight bytes are read from the SRAM with role
``store`` instead of DRAM, ``ceil(bytes / (word_bits · banks · ports / 8))`` cycles with no
fixed latency, then its activation bytes from DRAM as above, one after the other on the
step's load; the DRAM byte figures of such a layer hold its activations only.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from fractions import Fraction
from itertools import pairwise

import numpy as np

from spikesim.config.hardware import BankRole, HardwareConfig
from spikesim.config.mapping import LoopOrder, WeightSource
from spikesim.errors import InputError


def index_bits(k: int) -> int:
    """Bits of an input index 0..K-1 in a salient record."""
    return max(1, math.ceil(math.log2(k))) if k > 1 else 1


def ceil_div(a: int, b: int) -> int:
    return -(-a // b)


@dataclass(frozen=True, slots=True)
class Step:
    """One (token block, output tile, K chunk) step and the DRAM bytes it needs loaded first."""

    block: int
    tile: int
    weight_bytes: int
    activation_bytes: int
    chunk: int = 0
    """The K chunk (input range :attr:`Schedule.k_chunks` [chunk]) of the tile."""

    @property
    def load_bytes(self) -> int:
        return self.weight_bytes + self.activation_bytes


@dataclass(frozen=True, slots=True)
class Schedule:
    """Steps of one layer and the storage figures behind them."""

    layer: str
    tokens: int
    k: int
    n: int
    tile_columns: tuple[int, ...]
    """Active output columns of each tile (the last tile may be partial)."""
    blocks: tuple[tuple[int, int], ...]
    """Token ranges [t0, t1) of the blocks."""
    block_normal_bits: tuple[int, ...]
    block_salient_bits: tuple[int, ...]
    record_bits: int
    """Bits of one salient (index, value) record."""
    weights_resident: bool
    """All tiles fit the weight SRAM together (see the module docstring)."""
    steps: tuple[Step, ...]
    """The steps in loop order (the order the DRAM channel and the array serve them)."""
    dram_latency_cycles: int
    dram_bytes_per_cycle: float
    output_bytes: int
    """DRAM write-back of the layer's outputs (posted)."""
    activations_resident: bool = False
    """All blocks' activations fit their SRAMs together (see the module docstring)."""
    loop_order: LoopOrder = LoopOrder.TOKENS_OUTER
    """The order :attr:`steps` follow (``auto`` resolved to the order it chose)."""
    k_chunks: tuple[tuple[int, int], ...] = ()
    """Input ranges [i0, i1) of the K chunks (one, (0, K), when the tiles fit unsplit)."""
    weight_component: str = "dram"
    """Where weight tiles are read from: ``dram``, or the on-chip store ``sram.<name>``."""
    store_bytes_per_cycle: float = 0.0
    """Read bandwidth of the store (word_bits · banks · ports / 8; 0 when weights come from
    DRAM)."""
    store_word_bits: int = 0
    """Access width of the store (0 when weights come from DRAM)."""

    def store_read_words(self, step: Step) -> int:
        """Store words read for step ``step``'s weight tiles: ceil(8 · bytes / word_bits)
        (0 when weights come from DRAM)."""
        if not self.weights_from_store or not step.weight_bytes:
            return 0
        return ceil_div(8 * step.weight_bytes, self.store_word_bits)

    @property
    def weights_from_store(self) -> bool:
        """Whether weight tiles are read from the on-chip store instead of DRAM."""
        return self.weight_component != "dram"

    def step_load_cycles(self, step: Step) -> int:
        """Cycles of step ``step``'s load: its weight bytes from DRAM together with its
        activations (one transfer), or, from the store, the store's cycles then the DRAM
        transfer of its activations."""
        if not self.weights_from_store:
            return self.load_cycles(step.load_bytes)
        return (dram_cycles(step.weight_bytes, 0, self.store_bytes_per_cycle)
                + self.load_cycles(step.activation_bytes))

    def dram_step_bytes(self, step: Step) -> int:
        """DRAM bytes step ``step`` reads (its weights only when they come from DRAM)."""
        if self.weights_from_store:
            return step.activation_bytes
        return step.load_bytes

    def chunk_inputs(self, chunk: int) -> int:
        """Inputs of chunk ``chunk`` (K when unsplit)."""
        if not self.k_chunks:
            return self.k
        i0, i1 = self.k_chunks[chunk]
        return i1 - i0

    def load_cycles(self, nbytes: int) -> int:
        """DRAM cycles to move ``nbytes`` (0 for nothing)."""
        return dram_cycles(nbytes, self.dram_latency_cycles, self.dram_bytes_per_cycle)

    @property
    def weight_bytes(self) -> int:
        """Bytes of weight tiles loaded into the weight SRAM, over all steps (from DRAM or
        from the store)."""
        return sum(s.weight_bytes for s in self.steps)

    @property
    def dram_weight_bytes(self) -> int:
        """DRAM bytes read for weight tiles, over all steps (0 when they come from the
        store)."""
        return 0 if self.weights_from_store else self.weight_bytes

    @property
    def dram_activation_bytes(self) -> int:
        """DRAM bytes read for activations (normal values and salient records), over all steps."""
        return sum(s.activation_bytes for s in self.steps)

    @property
    def dram_output_bytes(self) -> int:
        """DRAM bytes written back for the outputs (:attr:`output_bytes`)."""
        return self.output_bytes

    @property
    def dram_read_bytes(self) -> int:
        """All DRAM bytes read: weights plus activations."""
        return self.dram_weight_bytes + self.dram_activation_bytes


@functools.lru_cache(maxsize=4096)
def dram_cycles(nbytes: int, latency_cycles: int, bytes_per_cycle: float) -> int:
    """``latency_cycles + ceil(nbytes / bytes_per_cycle)`` (0 for nothing), the division exact
    on the bandwidth's decimal value (0.7 bytes per cycle is 7/10, not the binary float just
    above it, which would round 21 bytes up to 31 cycles instead of 30). Memoized: a layer's
    steps move a few distinct sizes, tens of thousands of times."""
    if nbytes <= 0:
        return 0
    return latency_cycles + math.ceil(Fraction(nbytes) / Fraction(repr(bytes_per_cycle)))


def plan_steps(
    *,
    name: str,
    m: int,
    k: int,
    n: int,
    normal_bits_per_token: int,
    salient_bits_per_token: np.ndarray,
    record_bits: int,
    weight_bits: int,
    output_bits: int,
    tile_cols: int,
    hw: HardwareConfig,
    shrink_tiles: bool = False,
) -> Schedule:
    """Token blocks × weight tiles for any design, in the loop order ``hw.mapping.loop_order``
    (see the module docstring for the rules).

    ``shrink_tiles``: when a tile of ``tile_cols`` output channels does not fit twice in the
    weight SRAM, use the widest tile that does (MAC designs, whose compute timing does not
    depend on the memory tiles); otherwise split K into chunks (spiking designs, see the module
    docstring). A tile that fits neither way is an error naming the SRAM's capacity.
    """
    cols = tile_cols
    _, wbank_cfg = hw.sram_for(BankRole.WEIGHTS)
    if shrink_tiles and 2 * ceil_div(k * cols * weight_bits, 8) > wbank_cfg.capacity_bytes:
        # widest c with 2 * ceil(K * c * b_w / 8) <= capacity, i.e. K * c * b_w <= 8 * (cap // 2)
        cols = max(1, min(cols, 8 * (wbank_cfg.capacity_bytes // 2) // (k * weight_bits)))
    tile_columns = tuple(min(cols, n - j0) for j0 in range(0, n, cols))
    wname, wbank = hw.sram_for(BankRole.WEIGHTS)
    aname, abank = hw.sram_for(BankRole.ACTIVATIONS)
    sname, sbank = hw.sram_for(BankRole.SALIENT)
    oname, obank = hw.sram_for(BankRole.OUTPUT)

    k_chunks = [(0, k)]
    widest_cols = max(tile_columns)
    if not shrink_tiles and 2 * ceil_div(k * widest_cols * weight_bits, 8) > wbank.capacity_bytes:
        k_max = 8 * (wbank.capacity_bytes // 2) // (widest_cols * weight_bits)
        if k_max >= 1:
            n_chunks = ceil_div(k, k_max)
            size, extra = divmod(k, n_chunks)
            bounds = [c * size + min(c, extra) for c in range(n_chunks + 1)]
            k_chunks = list(pairwise(bounds))
    # chunk_bytes[j][c]: bytes of chunk c of tile j
    chunk_bytes = [[ceil_div((i1 - i0) * c * weight_bits, 8) for i0, i1 in k_chunks]
                   for c in tile_columns]
    widest = max(max(row) for row in chunk_bytes)
    if 2 * widest > wbank.capacity_bytes:
        i0, i1 = k_chunks[0]
        raise InputError(
            f"a weight tile of {widest} bytes (K={i1 - i0} x {max(tile_columns)} columns x "
            f"{weight_bits} bits, layer {name}) does not fit twice (double buffer) "
            f"in {wbank.capacity_bytes} bytes",
            field=f"sram.{wname}.capacity_bytes",
        )
    tile_bytes = [sum(row) for row in chunk_bytes]
    weights_resident = sum(tile_bytes) <= wbank.capacity_bytes
    split = len(k_chunks) > 1

    rec_bits = record_bits
    normal_bits_tok = normal_bits_per_token
    sal_bits_tok = np.asarray(salient_bits_per_token, dtype=np.int64)
    out_bits_tok = cols * output_bits
    a_half, s_half, o_half = (8 * b.capacity_bytes // 2 for b in (abank, sbank, obank))
    if normal_bits_tok > a_half:
        raise InputError(
            f"one token's activations ({normal_bits_tok} bits) do not fit half of the SRAM",
            field=f"sram.{aname}.capacity_bytes",
        )
    if out_bits_tok > o_half:
        raise InputError(
            f"one token's outputs of a tile ({out_bits_tok} bits) do not fit half of the SRAM",
            field=f"sram.{oname}.capacity_bytes",
        )
    worst = int(sal_bits_tok.max(initial=0))
    if worst > s_half:
        raise InputError(
            f"a token's {worst // rec_bits} salient records ({worst} bits) do not fit half "
            f"of the SRAM",
            field=f"sram.{sname}.capacity_bytes",
        )

    blocks: list[tuple[int, int]] = []
    bn: list[int] = []
    bs: list[int] = []
    t0 = 0
    max_by_other = min(a_half // normal_bits_tok, o_half // out_bits_tok)
    while t0 < m:
        t1 = t0
        sal_sum = 0
        while t1 < m and t1 - t0 < max_by_other and sal_sum + sal_bits_tok[t1] <= s_half:
            sal_sum += int(sal_bits_tok[t1])
            t1 += 1
        blocks.append((t0, t1))
        bn.append((t1 - t0) * normal_bits_tok)
        bs.append(sal_sum)
        t0 = t1

    act_bytes = [ceil_div(nb, 8) + ceil_div(sb, 8) for nb, sb in zip(bn, bs, strict=True)]
    activations_resident = (
        sum(ceil_div(nb, 8) for nb in bn) <= abank.capacity_bytes
        and sum(ceil_div(sb, 8) for sb in bs) <= sbank.capacity_bytes
    )
    order = hw.mapping.loop_order
    if order == LoopOrder.AUTO:
        n_blocks, n_tiles = len(blocks), len(tile_bytes)
        tokens_outer = sum(tile_bytes) * (1 if weights_resident else n_blocks) + sum(act_bytes)
        weights_once = weights_resident or not split
        weights_outer = (sum(tile_bytes) * (1 if weights_once else n_blocks)
                         + sum(act_bytes) * (1 if activations_resident else n_tiles))
        order = LoopOrder.WEIGHTS_OUTER if weights_outer < tokens_outer else LoopOrder.TOKENS_OUTER
    steps = []
    if order == LoopOrder.TOKENS_OUTER:
        for b, ab in enumerate(act_bytes):
            for j, row in enumerate(chunk_bytes):
                for c, cb in enumerate(row):
                    wb = cb if (b == 0 or not weights_resident) else 0
                    steps.append(Step(b, j, wb, ab if j == 0 and c == 0 else 0, c))
    else:
        reload_weights = split and not weights_resident
        for j, row in enumerate(chunk_bytes):
            for b, ab in enumerate(act_bytes):
                for c, cb in enumerate(row):
                    wb = cb if (b == 0 or reload_weights) else 0
                    first = c == 0 and (j == 0 or not activations_resident)
                    steps.append(Step(b, j, wb, ab if first else 0, c))
    weight_component, store_bpc, store_word_bits = "dram", 0.0, 0
    stored = hw.store()
    if hw.mapping.weight_source == WeightSource.STORE and stored is not None:
        store_name, store = stored
        weight_component = f"sram.{store_name}"
        store_bpc = store.word_bits * store.banks * store.ports / 8
        store_word_bits = store.word_bits
    return Schedule(
        layer=name,
        tokens=m,
        k=k,
        n=n,
        tile_columns=tile_columns,
        blocks=tuple(blocks),
        block_normal_bits=tuple(bn),
        block_salient_bits=tuple(bs),
        record_bits=rec_bits,
        weights_resident=weights_resident,
        steps=tuple(steps),
        dram_latency_cycles=hw.dram.latency_cycles,
        dram_bytes_per_cycle=hw.dram.bandwidth_bytes_per_cycle,
        output_bytes=ceil_div(m * n * output_bits, 8),
        activations_resident=activations_resident,
        loop_order=order,
        k_chunks=tuple(k_chunks),
        weight_component=weight_component,
        store_bytes_per_cycle=store_bpc,
        store_word_bits=store_word_bits,
    )

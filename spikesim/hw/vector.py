"""The floating-point vector unit: RMSNorm, RoPE, softmax, SiLU·up and residual adds, counted.

Real spiking LLM designs keep these operators in FP16 outside the spiking array; every design
of spikesim runs them on this one unit (``vector:`` in the hardware YAML,
:class:`~spikesim.config.vector.VectorConfig`), so each design's totals are whole-model totals
and the operators cost the same under every design.

The unit
--------
``lanes`` lanes; each performs one FP operation (add or multiply, in ``vector.format``) per
cycle on its own element. An operator walks *rows* (a token's hidden vector, a softmax row;
:meth:`~spikesim.trace.vector.VectorLayer.rows`) in *passes*. A pass over a row of ``r``
elements takes ceil(r / lanes) groups × (operations per element) cycles; a pass that reduces
the row (a sum or a max) then combines the lanes' partial results in a tree of
ceil(log2(min(lanes, r))) levels (min(lanes, r) − 1 operations), and per-row scalar work (a
reciprocal, a reciprocal square root) runs serially on one lane, one operation per cycle.
The row's values stay in the unit (its registers and a row buffer) between passes: from the
activation SRAM the unit reads each operator's inputs once and writes its outputs once, as
``vector.format`` values packed into the SRAM's words (each row and each stream starting at a
word boundary). SRAM traffic overlaps the arithmetic (streamed): a pass takes
max(arithmetic cycles, SRAM cycles), SRAM cycles being its words / (banks × ports) of the
activation SRAM; the excess is ``stall_bank_cycles``.

Operations per element (FP16 defaults: exp degree k = 3, Newton iterations i = 2)
---------------------------------------------------------------------------------
``exp(x)`` (assumption: range reduction and a polynomial, Cody & Waite, *Software Manual for
the Elementary Functions*, 1980; J.-M. Muller, *Elementary Functions*, 3rd ed., 2016, ch. 11):
t = x·log2(e) (1 mult); n = round(t) by adding and subtracting 1.5·2^10 (2 adds); f = t − n
(1 add); 2^f by a degree-k polynomial in Horner form (k mults, k adds); scaling by 2^n is an
integer add to the exponent field (not counted). 1 + k mults, 3 + k adds: 4 and 6 for k = 3,
whose near-minimax (Chebyshev) fit of 2^f has a relative error of 1.0e-4, below FP16's 2^-11
(degree 2: 2.3e-3, too coarse; FP32 needs k = 6: 2.5e-9).

``1/x`` and ``1/sqrt(x)`` (assumption: Newton-Raphson from a bit-trick seed; M. J. Flynn, "On
division by functional iteration", IEEE Trans. Computers C-19(8), 1970; C. Lomont, "Fast
inverse square root", 2003): the seed is one integer subtract on the bit pattern (FP16
constants 0x7798 for 1/x and 0x59BB for 1/sqrt, found by exhaustive search over the FP16
normals: relative errors 5.1 % and 3.5 %; not counted: no FP operation). Each 1/x iteration
y ← y·(2 − x·y) is 2 mults + 1 add; each 1/sqrt iteration y ← y·(1.5 − (x/2)·y·y) is 3 mults
+ 1 add after one mult for x/2. Two iterations bring both below FP16's 2^-11 (0.26 % then
6.6e-6 for 1/x; 0.18 % then 4.9e-6 for 1/sqrt); FP32 takes three. 1/x: 4 mults, 2 adds;
1/sqrt: 7 mults, 2 adds.

=============  ===============================================  ==========  ==========  =====
operator       per element (adds a, mults m; passes)            a           m           SRAM
=============  ===============================================  ==========  ==========  =====
``rmsnorm``    pass 1: x² (m), accumulate (a); pass 2: · r      1           3           R 2
               (m), · γ (m). Per token: the sum's tree, then                             W 1
               · 1/d (m), + ε (a), 1/sqrt: 8 m + 3 a serially
``rope``       x·cos (m), rotate_half(x)·sin (m), add (a),      1           2           R 1
               for q and k of every head; per token the                                  W 1
               head_dim cos/sin values are read once
``softmax``    pass 1: max (a compare, priced as an add);       9           5           R 1
               pass 2: x − max (a), exp (6 a, 4 m), accumulate                           W 1
               (a); pass 3: · 1/sum (m). Per row: two trees
               (max, sum) and 1/sum (4 m + 2 a) serially
``silu_mul``   silu(g)·u = g·u / (1 + exp(−g)): exp (6 a, 4 m;  9           10          R 2
               the sign flip is free), 1 + e (a), 1/x (2 a,                              W 1
               4 m), · g (m), · u (m)
``residual``   x + f(x) (a)                                     1           0           R 2
                                                                                        W 1
``kv_write``   pass 1: |x| max (a compare; the sign is a bit);  3           1           R 1
               pass 2: x · (1/scale) (m), round to an integer                           DRAM
               (2 a: add and subtract 1.5·2^10). Per row: the
               max's tree, then 1/max (4 m + 2 a), · q_max
               (m) for 1/scale and · 1/q_max (m) for the
               stored scale, serially
=============  ===============================================  ==========  ==========  =====

(R, W: values read and written per element; γ is RMSNorm's weight vector, read per token.)

``kv_write`` (the KV cache's quantize-and-append, :mod:`spikesim.config.kv`) writes its results
to DRAM, not to the SRAM: per row (one token's k or v of one KV head) ceil((head_dim ·
kv_cache.bits + kv_cache.scale_bits) / 8) bytes, as a ``dram`` ``write`` of 8-bit bytes like
an array's output write-back, posted (it never stalls the unit).
Softmax's score scaling 1/sqrt(head_dim) costs nothing: the max of the unscaled scores is the
max of the scaled ones, and the factor joins exp's first constant, t = (x − max) · log2(e) /
sqrt(head_dim).

Components and actions: ``vector_unit`` ``fp_add`` and ``fp_mult`` at the format's width (16
for FP16: Horowitz's FP16 add and multiply), and ``sram.<activations>`` ``read``/``write`` of
one word. :func:`vector_counts` is the closed form (integer arithmetic, no NumPy);
:func:`vector_reference` steps the same unit cycle by cycle, and tests show the two agree.
"""

from __future__ import annotations

from dataclasses import dataclass

from spikesim.actions import ActionCounter
from spikesim.config.hardware import BankRole, HardwareConfig
from spikesim.config.mapping import WeightSource
from spikesim.config.vector import VectorConfig
from spikesim.trace.vector import VectorLayer, VectorOp

__all__ = [
    "VECTOR_UNIT",
    "Pass",
    "VectorCounts",
    "dram_row_bytes",
    "exp_ops",
    "op_passes",
    "per_element_ops",
    "reciprocal_ops",
    "rsqrt_ops",
    "vector_counts",
    "vector_reference",
]

VECTOR_UNIT = "vector_unit"
"""Component name of the vector unit's arithmetic (actions ``fp_add``, ``fp_mult``)."""

ADD = "add"
MULT = "mult"

REFERENCE_MAX_ELEMENTS = 1 << 20
"""Largest layer :func:`vector_reference` steps (elements): it is slow on purpose."""


def exp_ops(degree: int) -> tuple[str, ...]:
    """exp(x): t = x·log2 e; n = round(t) (two adds of 1.5·2^10); f = t − n; Horner of degree
    ``degree`` (one mult and one add per coefficient)."""
    return (MULT, ADD, ADD, ADD) + (MULT, ADD) * degree


def reciprocal_ops(iterations: int) -> tuple[str, ...]:
    """1/x: ``iterations`` × (x·y, 2 − xy, y·(2 − xy)) from a seed of no FP operation."""
    return (MULT, ADD, MULT) * iterations


def rsqrt_ops(iterations: int) -> tuple[str, ...]:
    """1/sqrt(x): x/2, then ``iterations`` × (y·y, (x/2)·y², 1.5 − ·, y·(·)) from a seed of no
    FP operation."""
    return (MULT,) + (MULT, MULT, ADD, MULT) * iterations


@dataclass(frozen=True)
class Pass:
    """One walk of the vector unit over a row.

    ``ops`` is each element's operation sequence (one lane-cycle each); ``reads`` and
    ``writes`` are the values per element read from and written to the activation SRAM (each a
    separate stream); ``table`` adds the layer's per-row table values (RoPE's cos/sin) to the
    reads; ``reduce`` combines the lanes' partial results in a tree afterwards (one add or
    compare per merge); ``scalar`` runs once per row after that, serially on one lane.
    """

    ops: tuple[str, ...]
    reads: int = 0
    writes: int = 0
    table: bool = False
    reduce: bool = False
    scalar: tuple[str, ...] = ()


def op_passes(op: str, config: VectorConfig) -> tuple[Pass, ...]:
    """The passes of operator ``op`` (a :class:`~spikesim.trace.vector.VectorOp` value) under
    ``config``'s exp degree and Newton iterations (see the module docstring)."""
    k, it = config.exp_poly_degree, config.newton_steps
    exp = exp_ops(k)
    if op == VectorOp.RMSNORM:
        return (
            Pass((MULT, ADD), reads=1, reduce=True, scalar=(MULT, ADD, *rsqrt_ops(it))),
            Pass((MULT, MULT), reads=1, writes=1),
        )
    if op == VectorOp.ROPE:
        return (Pass((MULT, MULT, ADD), reads=1, writes=1, table=True),)
    if op == VectorOp.SOFTMAX:
        return (
            Pass((ADD,), reads=1, reduce=True),
            Pass((ADD, *exp, ADD), reduce=True, scalar=reciprocal_ops(it)),
            Pass((MULT,), writes=1),
        )
    if op == VectorOp.SILU_MUL:
        return (Pass((*exp, ADD, *reciprocal_ops(it), MULT, MULT), reads=2, writes=1),)
    if op == VectorOp.RESIDUAL:
        return (Pass((ADD,), reads=2, writes=1),)
    if op == VectorOp.KV_WRITE:
        return (
            Pass((ADD,), reads=1, reduce=True, scalar=(*reciprocal_ops(it), MULT, MULT)),
            Pass((MULT, ADD, ADD)),
        )
    raise ValueError(f"unknown vector op {op!r}")


def per_element_ops(op: str, config: VectorConfig) -> tuple[int, int]:
    """(adds, mults) per element of ``op`` (per-row work excluded)."""
    ops = [o for p in op_passes(op, config) for o in p.ops]
    return ops.count(ADD), ops.count(MULT)


@dataclass(frozen=True)
class VectorCounts:
    """Operations, SRAM words and cycles of one vector layer."""

    adds: int
    mults: int
    sram_reads: int
    """Words read from the activation SRAM."""
    sram_writes: int
    """Words written to the activation SRAM."""
    compute_cycles: int
    """Cycles of arithmetic (lane groups, reduction trees, per-row scalar work)."""
    stall_bank_cycles: int
    """Cycles a pass waits for the activation SRAM beyond its arithmetic."""
    dram_write_bytes: int = 0
    """Bytes a ``kv_write`` appends to the KV cache (the quantized keys and values and their
    scales): to DRAM, or to the on-chip store when the cache lives there
    (:func:`cache_in_store`)."""

    @property
    def total_cycles(self) -> int:
        return self.compute_cycles + self.stall_bank_cycles

    @property
    def operations(self) -> int:
        return self.adds + self.mults

    def actions(self, hw: HardwareConfig) -> ActionCounter:
        """``vector_unit.fp_add``/``fp_mult`` at the format's width and the activation SRAM's
        ``read``/``write`` words."""
        counter = ActionCounter()
        bits = hw.vector.value_bits
        counter.add(VECTOR_UNIT, "fp_add", self.adds, bits)
        counter.add(VECTOR_UNIT, "fp_mult", self.mults, bits)
        name, bank = hw.sram_for(BankRole.ACTIVATIONS)
        counter.add(f"sram.{name}", "read", self.sram_reads, bank.word_bits)
        counter.add(f"sram.{name}", "write", self.sram_writes, bank.word_bits)
        if self.dram_write_bytes:
            stored = hw.store()
            if cache_in_store(hw) and stored is not None:
                store_name, store = stored
                words = _ceil_div(8 * self.dram_write_bytes, store.word_bits)
                counter.add(f"sram.{store_name}", "write", words, store.word_bits)
            else:
                counter.add("dram", "write", self.dram_write_bytes, 8)
        return counter


def cache_in_store(hw: HardwareConfig) -> bool:
    """Whether a ``kv_write`` on ``hw`` appends to the on-chip store (``mapping.weight_source``
    ``store``, with a store) rather than to DRAM."""
    return hw.mapping.weight_source == WeightSource.STORE and hw.store() is not None


def _ceil_div(a: int, b: int) -> int:
    return -(-a // b)


def _tree_levels(n: int) -> int:
    """ceil(log2(n)) for n >= 1: levels of a pairwise tree over n partial results."""
    return (n - 1).bit_length()


def _pass_words(p: Pass, length: int, table_values: int, value_bits: int,
                word_bits: int) -> tuple[int, int]:
    """(words read, words written) of one pass over one row."""
    stream = _ceil_div(length * value_bits, word_bits)
    reads = p.reads * stream
    if p.table and table_values:
        reads += _ceil_div(table_values * value_bits, word_bits)
    return reads, p.writes * stream


def dram_row_bytes(layer: VectorLayer, length: int, hw: HardwareConfig) -> int:
    """DRAM bytes one row of ``length`` elements writes: a ``kv_write`` row's integers and scale
    (ceil((length · kv_cache.bits + kv_cache.scale_bits) / 8)); 0 for every other operator."""
    if layer.op != VectorOp.KV_WRITE:
        return 0
    return _ceil_div(length * hw.kv_cache.bits + hw.kv_cache.scale_bits, 8)


def vector_counts(layer: VectorLayer, hw: HardwareConfig) -> VectorCounts:
    """Operations, SRAM words and cycles of ``layer`` on ``hw.vector`` (closed form, per
    distinct row length)."""
    config = hw.vector
    lanes, bits = config.lanes, config.value_bits
    _, bank = hw.sram_for(BankRole.ACTIVATIONS)
    ports = bank.banks * bank.ports
    passes = op_passes(layer.op, config)
    adds = mults = reads = writes = compute = stall = dram = 0
    for length, count in layer.rows():
        dram += count * dram_row_bytes(layer, length, hw)
        groups = _ceil_div(length, lanes)
        used = min(lanes, length)
        row_adds = row_mults = row_reads = row_writes = row_compute = row_stall = 0
        for p in passes:
            n_add, n_mult = p.ops.count(ADD), p.ops.count(MULT)
            row_adds += length * n_add
            row_mults += length * n_mult
            arithmetic = groups * len(p.ops)
            r, w = _pass_words(p, length, layer.table_values, bits, bank.word_bits)
            row_reads += r
            row_writes += w
            row_stall += max(0, _ceil_div(r + w, ports) - arithmetic)
            row_compute += arithmetic
            if p.reduce:
                row_adds += used - 1
                row_compute += _tree_levels(used)
            row_adds += p.scalar.count(ADD)
            row_mults += p.scalar.count(MULT)
            row_compute += len(p.scalar)
        adds += count * row_adds
        mults += count * row_mults
        reads += count * row_reads
        writes += count * row_writes
        compute += count * row_compute
        stall += count * row_stall
    return VectorCounts(adds, mults, reads, writes, compute, stall, dram)


def vector_reference(layer: VectorLayer, hw: HardwareConfig) -> VectorCounts:
    """The same unit stepped cycle by cycle (slow, obvious; at most
    :data:`REFERENCE_MAX_ELEMENTS` elements).

    Every row, one after another; in each pass, every cycle the next group of at most
    ``lanes`` elements performs its next operation (each active lane counts one) and the
    activation SRAM moves up to banks × ports of the pass's words (reads first); the pass ends
    when both are done, and a cycle that moved words but ran no operation is a bank stall. A
    reduction then merges the partial results pairwise, one tree level per cycle; the per-row
    scalar operations follow, one per cycle.
    """
    if layer.elements > REFERENCE_MAX_ELEMENTS:
        raise ValueError(f"layer {layer.name} is too large for the reference model")
    config = hw.vector
    lanes, bits = config.lanes, config.value_bits
    _, bank = hw.sram_for(BankRole.ACTIVATIONS)
    ports = bank.banks * bank.ports
    passes = op_passes(layer.op, config)
    adds = mults = reads = writes = compute = stall = dram = 0
    for length, count in layer.rows():
        for _ in range(count):
            dram += dram_row_bytes(layer, length, hw)
            for p in passes:
                groups = [min(lanes, length - start) for start in range(0, length, lanes)]
                schedule = [(size, op) for size in groups for op in p.ops]
                read_left, write_left = _pass_words(p, length, layer.table_values, bits,
                                                    bank.word_bits)
                cycle = 0
                while cycle < len(schedule) or read_left or write_left:
                    budget = ports
                    served = min(budget, read_left)
                    read_left -= served
                    reads += served
                    served_w = min(budget - served, write_left)
                    write_left -= served_w
                    writes += served_w
                    if cycle < len(schedule):
                        size, op = schedule[cycle]
                        if op == ADD:
                            adds += size
                        else:
                            mults += size
                        compute += 1
                    else:
                        stall += 1
                    cycle += 1
                if p.reduce:
                    partials = min(lanes, length)
                    while partials > 1:
                        merges = partials // 2
                        adds += merges
                        partials -= merges
                        compute += 1
                for op in p.scalar:
                    if op == ADD:
                        adds += 1
                    else:
                        mults += 1
                    compute += 1
    return VectorCounts(adds, mults, reads, writes, compute, stall, dram)

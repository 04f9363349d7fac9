"""Vector operators as layers of a workload: what the FP vector unit computes, element by element.

A :class:`VectorLayer` is one operator of a decoder block that real spiking LLM designs keep in
floating point, outside the array: RMSNorm, RoPE, softmax, SiLU(gate)·up and the residual add.
It has no activations or weights to generate (its cost does not depend on the values); it says
how many elements the operator touches, as *rows* — the units a reduction runs over:

============  =====================================  =========================================
op            rows (length × how many)               ``width`` (``k`` = ``n``)
============  =====================================  =========================================
``rmsnorm``   ``hidden`` × tokens                    hidden
``rope``      ``q_out + kv_out`` × tokens (q and k   q_out + kv_out
              of every head), plus ``head_dim``
              cos/sin values read per token
``softmax``   causal: for query t = 1 … tokens, a    tokens (the longest row)
              row of t scores, × heads (query heads;
              GQA shares keys, not scores)
``silu_mul``  ``intermediate`` × tokens              intermediate
``residual``  ``hidden`` × tokens                    hidden
``kv_write``  ``head_dim`` × 2 · kv_heads · tokens     head_dim
              (each new token's k and v of every
              KV head, one row each)
============  =====================================  =========================================

Softmax covers the causal scores only (T(T+1)/2 per head and sequence): a score the causal mask
removes is never exponentiated, even where a score matmul computes a whole diagonal block. A
batch of ``sequences`` sequences has one causal triangle per sequence (``tokens`` counts the
tokens of all of them). In a decode step (``keys`` > 0) every query row, one per sequence
and head, holds ``keys`` scores: the cache's keys and the new token's own.

``kv_write`` (``op_class`` ``kv``) quantizes the new keys and values to the KV cache's format
and appends them to the cache (:mod:`spikesim.config.kv`); its rows are per token and KV head,
the groups that share one scale.

How many operations each element costs is the hardware's business
(:mod:`spikesim.hw.vector`).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from enum import StrEnum

from spikesim.schema import OpClass, Phase
from spikesim.trace.shapes import ModelShape

__all__ = ["VECTOR_GENERATOR_VERSION", "VectorLayer", "VectorOp", "block_vector_layer"]

VECTOR_GENERATOR_VERSION = 1
"""Version of the element counts below (part of every vector layer's recipe digest)."""


class VectorOp(StrEnum):
    """The operators of the vector unit (``op`` of a vector layer)."""

    RMSNORM = "rmsnorm"
    ROPE = "rope"
    SOFTMAX = "softmax"
    SILU_MUL = "silu_mul"
    RESIDUAL = "residual"
    KV_WRITE = "kv_write"


@dataclass(frozen=True)
class VectorLayer:
    """One vector operator of a workload (``op_class`` ``vector``).

    Attributes
    ----------
    name:
        ``layers.{block}.{self_attn|mlp}.{op}``.
    op:
        A :class:`VectorOp` value.
    tokens:
        Tokens processed (M).
    width:
        Elements of one token's row (softmax: ``tokens``, the longest causal row); ``k`` and
        ``n`` both report it.
    heads:
        Softmax: query heads (one causal score matrix each); 1 otherwise.
    table_values:
        RoPE: cos/sin values read per token (``head_dim``: head_dim/2 of each, shared by every
        head); 0 otherwise.
    block:
        Decoder block index.
    phase:
        ``prefill`` or ``decode``.
    op_class:
        ``vector``, or ``kv`` for ``kv_write``.
    sequences:
        Softmax of a prefill: sequences of the batch, one causal triangle each of
        ``tokens / sequences`` rows.
    keys:
        Softmax of a decode step: scores per query row (0: a prefill's causal rows).
    rows_per_token:
        ``kv_write``: rows per token (2 × KV heads); 1 otherwise.
    """

    name: str
    op: str
    tokens: int
    width: int
    heads: int = 1
    table_values: int = 0
    block: int = 0
    phase: str = Phase.PREFILL.value
    op_class: str = OpClass.VECTOR.value
    sequences: int = 1
    keys: int = 0
    rows_per_token: int = 1

    def __post_init__(self) -> None:
        if self.op not in VectorOp.__members__.values():
            raise ValueError(f"unknown vector op {self.op!r}")
        for field_name in ("tokens", "width", "heads", "sequences", "rows_per_token"):
            if getattr(self, field_name) < 1:
                raise ValueError(f"{field_name} must be positive")
        if self.keys < 0:
            raise ValueError("keys must not be negative")
        if self.tokens % self.sequences:
            raise ValueError("tokens must be a multiple of sequences")

    @property
    def k(self) -> int:
        """Row width (``width``)."""
        return self.width

    @property
    def n(self) -> int:
        """Row width (``width``): a vector operator writes a row as wide as it reads."""
        return self.width

    @property
    def causal(self) -> bool:
        """True for a prefill's softmax: row t (1-based) of each sequence holds t scores."""
        return self.op == VectorOp.SOFTMAX and not self.keys

    def rows(self) -> tuple[tuple[int, int], ...]:
        """``(length, count)`` of the rows the operator reduces or walks over, shortest first:
        ``count`` rows of ``length`` elements each."""
        if self.causal:
            per_sequence = self.tokens // self.sequences
            count = self.heads * self.sequences
            return tuple((t, count) for t in range(1, per_sequence + 1))
        if self.op == VectorOp.SOFTMAX:
            return ((self.keys, self.heads * self.tokens),)
        return ((self.width, self.tokens * self.rows_per_token),)

    @property
    def elements(self) -> int:
        """Elements processed: Σ length × count over :meth:`rows`."""
        return sum(length * count for length, count in self.rows())

    @property
    def sha256(self) -> str:
        """Digest of what defines the layer (op, tokens, width, heads, table values, version):
        its identity in ``summary.json``."""
        recipe = {
            "kind": "vector",
            "version": VECTOR_GENERATOR_VERSION,
            "op": self.op,
            "tokens": self.tokens,
            "width": self.width,
            "heads": self.heads,
            "table_values": self.table_values,
            "phase": self.phase,
        }
        for extra, default in (("sequences", 1), ("keys", 0), ("rows_per_token", 1),
                               ("op_class", OpClass.VECTOR.value)):
            if getattr(self, extra) != default:
                recipe[extra] = getattr(self, extra)
        text = json.dumps(recipe, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode("utf-8")).hexdigest()


_GROUP = {
    VectorOp.ROPE: "self_attn",
    VectorOp.SOFTMAX: "self_attn",
    VectorOp.KV_WRITE: "self_attn",
    VectorOp.SILU_MUL: "mlp",
}


def block_vector_layer(
    op: VectorOp,
    *,
    block: int,
    tokens: int,
    dims: ModelShape,
    group: str | None = None,
    phase: str = Phase.PREFILL.value,
    prefix: str = "",
    sequences: int = 1,
    keys: int = 0,
) -> VectorLayer:
    """The vector operator ``op`` of decoder block ``block`` of a model of shape ``dims`` at
    ``tokens`` tokens (all sequences' together). ``group`` (``self_attn`` or ``mlp``) names the
    sub-block of an RMSNorm or a residual add (each block has two); the others have one.

    ``prefix`` starts the name (``decode.{step}.`` in a decode step); ``sequences`` is the
    batch of a prefill (softmax: one causal triangle per sequence); ``keys`` the keys every
    query attends in a decode step (softmax)."""
    where = _GROUP.get(op, group)
    if where not in ("self_attn", "mlp"):
        raise ValueError(f"{op.value} needs group self_attn or mlp")
    name = f"{prefix}layers.{block}.{where}.{op.value}"
    if op is VectorOp.ROPE:
        return VectorLayer(name, op.value, tokens, dims.q_out + dims.kv_out,
                           table_values=dims.head_dim, block=block, phase=phase)
    if op is VectorOp.SOFTMAX:
        if keys:
            return VectorLayer(name, op.value, tokens, keys, heads=dims.heads, keys=keys,
                               block=block, phase=phase)
        return VectorLayer(name, op.value, tokens, tokens // sequences, heads=dims.heads,
                           sequences=sequences, block=block, phase=phase)
    if op is VectorOp.KV_WRITE:
        return VectorLayer(name, op.value, tokens, dims.head_dim,
                           rows_per_token=2 * dims.kv_heads, op_class=OpClass.KV.value,
                           block=block, phase=phase)
    if op is VectorOp.SILU_MUL:
        return VectorLayer(name, op.value, tokens, dims.intermediate, block=block, phase=phase)
    return VectorLayer(name, op.value, tokens, dims.hidden, block=block, phase=phase)

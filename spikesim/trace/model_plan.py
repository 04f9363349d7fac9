"""The layers of a model's inference: a prefill, decode steps, or both, for a batch of sequences.

A :class:`PhasePlan` says what to run (``phase``, ``batch``, the prefill's ``tokens``, the decode
steps' ``context`` and ``decode_steps``); :func:`model_layers` turns it and a model's
dimensions into layers, block after block in execution order.

Prefill (``phase`` ``prefill`` or ``both``)
    ``batch`` sequences of ``tokens`` tokens each. The linears run all ``batch · tokens``
    tokens as one GEMM (M = batch · tokens); each sequence's attention is its own set of
    causal GEMMs (:func:`~spikesim.trace.attention.attention_layers`); the vector operators
    cover every token (softmax: one causal triangle per sequence); ``kv_write`` appends every
    token's k and v to the KV cache. Names are ``layers.{block}.…`` (a batch of more than one
    adds ``.seq{b}`` to attention layers).
Decode step s (``phase`` ``decode`` or ``both``)
    Each of the ``batch`` sequences generates one token, at position ``context + s``: the
    linears are GEMMs of M = ``batch`` rows (a GEMV per sequence, batched), with the same
    weights as the prefill, streamed again from DRAM like any layer's unless an on-chip store
    holds them (:mod:`spikesim.sim.residency`); ``kv_write`` appends the
    batch's new k and v; each sequence's new token attends its ``context + s + 1`` keys
    (:func:`~spikesim.trace.attention.decode_attention_layers`: K and V read from the cache);
    softmax rows hold ``context + s + 1`` scores. Names are ``decode.{s}.layers.{block}.…``,
    phase ``decode``. ``both`` takes ``context`` = ``tokens``: the decode continues the
    prefill's sequences (sequence 0's keys are the prefill's).

Per block, in order (:data:`BLOCK_STEPS`, which a recorded trace's phases follow too;
``[d]``: decode only changes the M and the names)::

    rmsnorm  q_proj k_proj v_proj  rope  kv_write  attention…  softmax  o_proj  residual
    rmsnorm  gate_proj up_proj  silu_mul  down_proj  residual

Values: a decode step's linear inputs are drawn from their own random stream (``(1, s)`` of
:func:`~spikesim.trace.synth.generate_activations`), with the statistics of the prefill's; its
attention operands are the sequence's q, k, v at the step's position.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from spikesim.errors import InputError, echo, positive_int
from spikesim.schema import Phase
from spikesim.trace.attention import (
    AttentionCache,
    AttentionLayer,
    attention_layers,
    decode_attention_layers,
)
from spikesim.trace.generated import (
    GeneratedLayer,
    InputCache,
    SizeSource,
    WeightCache,
    linear_recipe_sha256,
)
from spikesim.trace.synth import ActivationStats, ModelShape, shape_plan
from spikesim.trace.vector import VectorLayer, VectorOp, block_vector_layer

__all__ = [
    "ATTENTION_QUERY_BLOCK",
    "BLOCK_STEPS",
    "PHASE_CHOICES",
    "BlockStep",
    "ModelLayer",
    "PhasePlan",
    "block_vector",
    "model_layers",
    "phase_plan",
]

ATTENTION_QUERY_BLOCK = 128
"""Query tokens per attention layer of a prefill (``query_block`` of
:func:`spikesim.trace.attention.attention_layers`)."""

PHASE_CHOICES = ("prefill", "decode", "both")
"""Values of ``phase``: the prefill alone, decode steps alone, or the prefill then the steps."""

DECODE_STREAM = 1
"""First element of the random stream of a decode step's linear inputs: ``(1, step)``."""

ModelLayer = GeneratedLayer | AttentionLayer | VectorLayer
"""One layer of a model's plan."""


@dataclass(frozen=True)
class PhasePlan:
    """What a model workload runs (see the module docstring).

    Attributes
    ----------
    phase:
        ``prefill``, ``decode`` or ``both``.
    batch:
        Sequences processed together.
    tokens:
        Prefill length per sequence (``None`` for ``decode``).
    context:
        Tokens in each sequence's KV cache before the first decode step (``None`` for
        ``prefill``; ``tokens`` for ``both``).
    decode_steps:
        Tokens each sequence generates (0 for ``prefill``).
    """

    phase: str
    batch: int
    tokens: int | None
    context: int | None
    decode_steps: int

    @property
    def has_prefill(self) -> bool:
        return self.phase in ("prefill", "both")

    @property
    def has_decode(self) -> bool:
        return self.phase in ("decode", "both")

    @property
    def positions(self) -> int:
        """Positions of each sequence that exist by the end: prefill plus generated tokens."""
        if self.has_decode:
            return (self.context or 0) + self.decode_steps
        return self.tokens or 0

    @property
    def prefill_tokens(self) -> int:
        """Tokens the prefill processes, all sequences together (0 without a prefill)."""
        return self.batch * (self.tokens or 0) if self.has_prefill else 0

    @property
    def generated_tokens(self) -> int:
        """Tokens the decode steps generate, all sequences together (0 without decode)."""
        return self.batch * self.decode_steps if self.has_decode else 0

    def source(self) -> dict[str, object]:
        """The plan for ``summary.json`` (``trace.source.phases``)."""
        return {
            "phase": self.phase,
            "batch": self.batch,
            "tokens": self.tokens,
            "context": self.context,
            "decode_steps": self.decode_steps,
            "prefill_tokens": self.prefill_tokens,
            "generated_tokens": self.generated_tokens,
        }


def phase_plan(
    *,
    phase: str | None = None,
    batch: int | None = None,
    tokens: int | None = None,
    context: int | None = None,
    decode_steps: int | None = None,
    what: str = "a model workload",
) -> PhasePlan:
    """Check and complete the phase parameters of a model workload.

    ``phase`` defaults to ``prefill``, ``batch`` to 1, ``decode_steps`` to 1 in a decode.
    ``prefill`` needs ``tokens`` and takes no ``context`` or ``decode_steps``; ``decode``
    needs ``context`` and takes no ``tokens`` (the prefill length is the context);
    ``both`` needs ``tokens`` and takes ``context`` only equal to it. Every error is an
    :class:`InputError` naming the parameter (``phase``, ``batch``, ``tokens``, ``context``,
    ``decode_steps``).
    """
    chosen = "prefill" if phase is None else phase
    if chosen not in PHASE_CHOICES:
        raise InputError(
            f"phase must be one of {', '.join(PHASE_CHOICES)}, got {echo(phase)}", field="phase"
        )
    b = 1 if batch is None else positive_int(batch, "batch")
    if tokens is not None:
        positive_int(tokens, "tokens")
    if context is not None:
        positive_int(context, "context")
    if chosen == "prefill":
        for name, value in (("context", context), ("decode_steps", decode_steps)):
            if value is not None:
                raise InputError(
                    f"{name} applies to the decode phase: give phase decode or both",
                    field=name,
                )
        if tokens is None:
            raise InputError(
                f"{what} has no token count: give tokens (the prefill length M, e.g. 2048)",
                field="tokens",
            )
        return PhasePlan("prefill", b, tokens, None, 0)
    steps = 1 if decode_steps is None else positive_int(decode_steps, "decode_steps")
    if chosen == "decode":
        if tokens is not None:
            raise InputError(
                "tokens is the prefill length; a decode phase starts from a context: give "
                "context (tokens already in the KV cache) instead, or phase both",
                field="tokens",
            )
        if context is None:
            raise InputError(
                "the decode phase needs context: the tokens already in each sequence's KV "
                "cache (e.g. 4096)",
                field="context",
            )
        return PhasePlan("decode", b, None, context, steps)
    if tokens is None:
        raise InputError(
            f"{what} has no token count: give tokens (the prefill length M, e.g. 2048)",
            field="tokens",
        )
    if context is not None and context != tokens:
        raise InputError(
            f"context={context} contradicts tokens={tokens}: with phase both the decode "
            "continues the prefill, whose length is the context (leave context unset)",
            field="context",
        )
    return PhasePlan("both", b, tokens, tokens, steps)


class _Linears:
    """The generated linears of a model, made on demand per (phase, step, block, op) with the
    workload's shared input cache."""

    def __init__(self, dims: ModelShape, seed: int,
                 stats: tuple[tuple[str, ActivationStats], ...] = ()) -> None:
        self.dims = dims
        self.seed = seed
        self.stats = stats
        self.cache = InputCache()
        self.weights = WeightCache()
        self.shapes = {op: (k, n) for _, op, k, n in shape_plan(dims, 1)}

    def layer(self, block: int, op: str, *, rows: int, prefix: str = "",
              stream: tuple[int, ...] = (), phase: str = Phase.PREFILL.value,
              size_field: str = "tokens") -> GeneratedLayer:
        k, n = self.shapes[op]
        where = "mlp" if op in ("gate_proj", "up_proj", "down_proj") else "self_attn"
        note = "; give fewer tokens" if size_field == "tokens" else f"; give a smaller {size_field}"
        return GeneratedLayer(
            name=f"{prefix}layers.{block}.{where}.{op}", op=op, tokens=rows, k=k, n=n,
            block=block, seed=self.seed, hidden=self.dims.hidden,
            sha256=linear_recipe_sha256(seed=self.seed, block=block, op=op, tokens=rows, k=k,
                                        n=n, hidden=self.dims.hidden, stream=stream,
                                        stats=self.stats),
            x_size=SizeSource(size_field, note=note),
            phase=phase, stream=stream, stats=self.stats, _cache=self.cache,
            _weights=self.weights,
        )


@dataclass(frozen=True)
class BlockStep:
    """One step of a decoder block's execution order (:data:`BLOCK_STEPS`).

    Attributes
    ----------
    kind:
        ``vector`` (a :class:`~spikesim.trace.vector.VectorOp`), ``linear`` (a projection:
        ``q_proj`` … ``down_proj``) or ``attention`` (the block's attention matmuls, all of
        them).
    op:
        The vector op or the projection (``attention`` for the attention matmuls).
    group:
        The sub-block the step belongs to: ``self_attn`` or ``mlp``.
    """

    kind: str
    op: str
    group: str


VECTOR, LINEAR, ATTENTION = "vector", "linear", "attention"
"""Values of :attr:`BlockStep.kind`."""


def _steps(*steps: tuple[str, str, str]) -> tuple[BlockStep, ...]:
    return tuple(BlockStep(kind, op, group) for kind, op, group in steps)


BLOCK_STEPS: tuple[BlockStep, ...] = _steps(
    (VECTOR, VectorOp.RMSNORM.value, "self_attn"),
    (LINEAR, "q_proj", "self_attn"),
    (LINEAR, "k_proj", "self_attn"),
    (LINEAR, "v_proj", "self_attn"),
    (VECTOR, VectorOp.ROPE.value, "self_attn"),
    (VECTOR, VectorOp.KV_WRITE.value, "self_attn"),
    (ATTENTION, ATTENTION, "self_attn"),
    (VECTOR, VectorOp.SOFTMAX.value, "self_attn"),
    (LINEAR, "o_proj", "self_attn"),
    (VECTOR, VectorOp.RESIDUAL.value, "self_attn"),
    (VECTOR, VectorOp.RMSNORM.value, "mlp"),
    (LINEAR, "gate_proj", "mlp"),
    (LINEAR, "up_proj", "mlp"),
    (VECTOR, VectorOp.SILU_MUL.value, "mlp"),
    (LINEAR, "down_proj", "mlp"),
    (VECTOR, VectorOp.RESIDUAL.value, "mlp"),
)
"""A decoder block in execution order (the module docstring's table): what a model's plan
emits per block and step, and where a recorded trace places its vector operators
(:mod:`spikesim.trace.recorded`)."""


def block_vector(
    step: BlockStep, dims: ModelShape, block: int, rows: int, *, prefix: str, phase: str,
    sequences: int = 1, keys: int = 0,
) -> VectorLayer:
    """The vector layer of ``step`` (kind ``vector``) in block ``block`` at ``rows`` rows (all
    sequences' tokens in a prefill, one per sequence in a decode step; ``sequences``, ``keys``
    and ``prefix`` as :func:`~spikesim.trace.vector.block_vector_layer` reads them)."""
    return block_vector_layer(VectorOp(step.op), block=block, tokens=rows, dims=dims,
                              group=step.group, phase=phase, prefix=prefix,
                              sequences=sequences, keys=keys)


def _block(
    dims: ModelShape, block: int, rows: int, linear: _Linears, attention: Sequence[ModelLayer],
    *, prefix: str, phase: str, stream: tuple[int, ...], size_field: str, sequences: int = 1,
    keys: int = 0,
) -> list[ModelLayer]:
    """One decoder block in execution order (:data:`BLOCK_STEPS`)."""
    out: list[ModelLayer] = []
    for step in BLOCK_STEPS:
        if step.kind == VECTOR:
            out.append(block_vector(step, dims, block, rows, prefix=prefix, phase=phase,
                                    sequences=sequences, keys=keys))
        elif step.kind == LINEAR:
            out.append(linear.layer(block, step.op, rows=rows, prefix=prefix, stream=stream,
                                    phase=phase, size_field=size_field))
        else:
            out += attention
    return out


def model_layers(dims: ModelShape, plan: PhasePlan, seed: int,
                 stats: tuple[tuple[str, ActivationStats], ...] = ()) -> tuple[ModelLayer, ...]:
    """Every layer of ``plan`` on a model of shape ``dims`` (module docstring), in execution
    order: the prefill's blocks, then each decode step's blocks. Nothing is generated yet.
    ``stats``: fitted activation statistics of the linears' inputs (:mod:`.fitstats`)."""
    linear = _Linears(dims, seed, stats)
    cache = AttentionCache()
    layers: list[ModelLayer] = []
    if plan.has_prefill and plan.tokens is not None:
        rows = plan.batch * plan.tokens
        for block in range(dims.blocks):
            attention = attention_layers(dims, block, plan.tokens, seed, ATTENTION_QUERY_BLOCK,
                                         cache=cache, sequences=plan.batch)
            layers += _block(dims, block, rows, linear, attention, prefix="",
                             phase=Phase.PREFILL.value, stream=(),
                             size_field="tokens" if plan.batch == 1 else "batch",
                             sequences=plan.batch)
    if plan.has_decode and plan.context is not None:
        for step in range(plan.decode_steps):
            position = plan.context + step
            prefix = f"decode.{step}."
            for block in range(dims.blocks):
                attention = decode_attention_layers(
                    dims, block, step=step, position=position, positions=plan.positions,
                    seed=seed, sequences=plan.batch, cache=cache, queries_from=plan.context,
                )
                layers += _block(dims, block, plan.batch, linear, attention, prefix=prefix,
                                 phase=Phase.DECODE.value, stream=(DECODE_STREAM, step),
                                 size_field="batch", keys=position + 1)
    return tuple(layers)

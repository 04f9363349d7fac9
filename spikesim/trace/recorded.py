"""A real model's attention operands and decode steps, recorded in a trace, as workload layers.

``spikesim extract --attention --decode-steps N`` (:func:`spikesim.trace.extract.extract_trace`)
adds two optional sections to a trace's manifest (:data:`~spikesim.trace.format.SECTION_KEYS`),
each with its own ``.safetensors`` files, hashed and checked like the layers' files::

    "attention": {"heads": H, "kv_heads": G, "head_dim": d, "sequences": S,
                  "prefill_tokens": T, "positions": P,
                  "blocks": [{"block": 15, "module": "layers.15.self_attn", "file": …,
                              "sha256": …, "bytes": …,
                              "tensors": {"q": [S, P, H, d], "k": [S, P, G, d],
                                          "v": [S, P, G, d]}}]}
    "decode":    {"steps": N, "sequences": S, "token_ids": [[N ids] per sequence],
                  "layers": [{"name": "layers.15.self_attn.q_proj", "file": …, "sha256": …,
                              "bytes": …, "tensors": {"x": [N · S, K]}}]}

``attention``: for every decoder block that has a recorded linear, the operands of every head
of its attention, per sequence and position (the T prompt positions, then the N generated
ones: P = T + N): q and k **after RoPE** (the model's own rotary embedding), v as the model
computed it; float16 or float32 like the layers. Query head h reads KV head h // (H / G).
``decode``: the input of each recorded linear at each decode step (row s · S + b is sequence
b's generated token at step s); the weights are the prefill layer's (``name``), not stored
again. ``token_ids`` are the tokens the steps fed (greedy, each the argmax of the previous
pass).

The layers (:func:`recorded_layers`, in execution order)
--------------------------------------------------------
The prefill: the manifest's linear layers in order and, for each attention block b, the layers
of :func:`~spikesim.trace.attention.attention_layers` for b (``layers.{b}.attn.score.g{g}.q{i}``
…, query blocks of :data:`~spikesim.trace.model_plan.ATTENTION_QUERY_BLOCK` tokens, causal,
``.seq{s}`` when S > 1), placed after the block's last recorded q/k/v projection (or before its
first linear when none is recorded). Then decode step s = 0 … N-1: the same order, each linear
with decode inputs as ``decode.{s}.<name>`` (M = S rows, phase ``decode``), each attention
block as :func:`~spikesim.trace.attention.decode_attention_layers` at position T + s against
the real cache (keys 0 … T + s). The attention layers are the synthesized ones
(:class:`~spikesim.trace.attention.AttentionLayer`: names, causal tiling, P = the float32
causal softmax of the score layer's own q and k) with the recorded q, k, v in place of the
generated ones (:class:`RecordedAttentionLayer`), so a trace and a named shape differ only in
their values.

Vector operators (with a ``phase``)
-----------------------------------
Loaded with a ``phase`` (:func:`read_sections`), a trace with an attention section also lists
the vector operators of each attention block (:class:`~spikesim.trace.vector.VectorLayer`:
RMSNorm, RoPE, KV write, softmax, residual adds, SiLU·up), made and placed as a named shape
of the trace's dimensions makes and places them (:data:`~spikesim.trace.model_plan.
BLOCK_STEPS`, :func:`~spikesim.trace.model_plan.block_vector`): heads, KV heads and head
dim from the section, the model width from q_proj's K and the MLP width from gate_proj's N
(or another projection that shows it, :func:`recorded_dims`); the prefill's at the trace's
S · T tokens, decode step s's at S rows whose softmax rows hold T + s + 1 keys. Each goes
just before the block's next recorded linear or attention in that order (the last ones just
after the block's last); a block's MLP operators (its norm, SiLU·up, residual add) only with a
recorded MLP linear of the block. On a trace of whole blocks the layers are exactly the named
shape's layers of those blocks, values aside. Without a phase (the linear layers alone)
nothing of this is built, and a trace without recorded attention has no vector operators.

Everything here reads numpy only; recording needs torch (:mod:`spikesim.trace.recording`).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import numpy as np

from spikesim.errors import InputError
from spikesim.schema import OpClass, Phase
from spikesim.trace.attention import (
    AttentionCache,
    AttentionLayer,
    GroupValues,
    attention_layers,
    decode_attention_layers,
)
from spikesim.trace.format import (
    SectionFile,
    TraceEntry,
    TraceFile,
    TraceLayer,
    TraceSection,
    _require,
    load_tensor_file,
    register_section_reader,
)
from spikesim.trace.model_plan import (
    ATTENTION,
    ATTENTION_QUERY_BLOCK,
    BLOCK_STEPS,
    LINEAR,
    VECTOR,
    BlockStep,
    block_vector,
)
from spikesim.trace.synth import ModelShape
from spikesim.trace.vector import VectorLayer

__all__ = [
    "QKV_OPS",
    "BlockOperands",
    "DecodeInputs",
    "DecodeLinearLayer",
    "RecordedAttention",
    "RecordedAttentionLayer",
    "RecordedDecode",
    "RecordedItem",
    "RecordedParts",
    "attention_section",
    "block_of",
    "decode_section",
    "load_recorded",
    "read_sections",
    "recorded_dims",
    "recorded_layers",
]

QKV_OPS = ("q_proj", "k_proj", "v_proj")
"""The projections whose outputs are an attention's q, k, v (LLaMA-style names)."""

_FLOATS = ("float16", "float32")
_DIGITS = re.compile(r"^\d+$")


def block_of(name: str) -> int | None:
    """The decoder block of a layer or module name: its last all-digit component
    (``layers.15.self_attn.q_proj`` → 15; ``h.0.attn.c_attn`` → 0), or None."""
    numbers = [part for part in name.split(".") if _DIGITS.match(part)]
    return int(numbers[-1]) if numbers else None


# --------------------------------------------------------------------------------------------
# What the sections hold
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class BlockOperands:
    """One decoder block's recorded q, k, v (one file).

    Attributes
    ----------
    block:
        Decoder block index.
    module:
        The attention module's name (``layers.15.self_attn``).
    file:
        The file: ``q`` ``[S, P, H, d]``, ``k`` and ``v`` ``[S, P, G, d]``.
    heads_per_group:
        Query heads per KV head (H / G).
    """

    block: int
    module: str
    file: TraceFile
    heads_per_group: int
    _cache: AttentionCache = field(
        default_factory=AttentionCache, compare=False, hash=False, repr=False
    )

    def group(self, group: int, sequence: int) -> GroupValues:
        """KV group ``group`` of sequence ``sequence``: q ``[heads_per_group, P, d]``, k and
        v ``[P, d]``, as stored (read-only; the last one asked is kept)."""
        return self._cache.get((self.file.file, group, sequence),
                               lambda: self._read(group, sequence))

    def _read(self, group: int, sequence: int) -> GroupValues:
        heads = slice(group * self.heads_per_group, (group + 1) * self.heads_per_group)
        q = np.ascontiguousarray(self.file.finite("q", (sequence, slice(None), heads))
                                 .transpose(1, 0, 2))
        k = self.file.finite("k", (sequence, slice(None), group))
        v = self.file.finite("v", (sequence, slice(None), group))
        for array in (q, k, v):
            array.flags.writeable = False
        return GroupValues(q=q, k=k, v=v)


@dataclass(frozen=True)
class RecordedAttention:
    """The ``attention`` section: dimensions and each block's operands.

    Attributes
    ----------
    heads, kv_heads, head_dim:
        H query heads, G key/value heads, d channels per head.
    sequences:
        S sequences of ``prefill_tokens`` prompt tokens each (the trace's tokens are S · T).
    prefill_tokens:
        T, prompt tokens per sequence.
    positions:
        P positions recorded per sequence: T, plus the decode steps.
    blocks:
        Each recorded block's operands, in block order.
    """

    heads: int
    kv_heads: int
    head_dim: int
    sequences: int
    prefill_tokens: int
    positions: int
    blocks: tuple[BlockOperands, ...]

    def shape(self) -> ModelShape:
        """The dimensions :func:`~spikesim.trace.attention.attention_layers` reads (heads,
        KV heads, head dim; ``blocks`` covers the recorded blocks; the widths of the MLP and
        the residual are not used there)."""
        q_out = self.heads * self.head_dim
        return ModelShape(
            hidden=q_out, intermediate=q_out, q_out=q_out, kv_out=self.kv_heads * self.head_dim,
            blocks=max(b.block for b in self.blocks) + 1, heads=self.heads,
            kv_heads=self.kv_heads,
        )


@dataclass(frozen=True)
class DecodeInputs:
    """One linear's inputs over the decode steps: ``x`` ``[steps · sequences, K]`` of
    ``file``, step-major; the weights are those of the prefill layer ``name``."""

    name: str
    file: TraceFile


@dataclass(frozen=True)
class RecordedDecode:
    """The ``decode`` section: N steps of S sequences, their token ids, each linear's inputs."""

    steps: int
    sequences: int
    token_ids: tuple[tuple[int, ...], ...]
    inputs: tuple[DecodeInputs, ...]


@dataclass(frozen=True)
class RecordedParts:
    """A trace's recorded sections (either may be absent)."""

    attention: RecordedAttention | None
    decode: RecordedDecode | None

    @property
    def files(self) -> tuple[TraceFile, ...]:
        """Every section file, in manifest order."""
        out = [b.file for b in self.attention.blocks] if self.attention else []
        out += [i.file for i in self.decode.inputs] if self.decode else []
        return tuple(out)


# --------------------------------------------------------------------------------------------
# Layers
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RecordedAttentionLayer(AttentionLayer):
    """An attention GEMM (:class:`~spikesim.trace.attention.AttentionLayer`: same names,
    shapes, tiling and P) whose q, k, v are a trace's recorded ones (``operands``) instead of
    generated ones; ``sha256`` digests the operands' file hash and the layer's fields."""

    operands: BlockOperands | None = field(default=None, compare=False, hash=False, repr=False)

    def __repr__(self) -> str:
        """One short line: name, op, shapes, phase (the other fields stay attributes)."""
        return (
            f"RecordedAttentionLayer({self.name!r}, op={self.op!r}, x=[{self.tokens}, "
            f"{self.k}], w=[{self.n}, {self.k}], phase={self.phase!r})"
        )

    def group_values(self) -> GroupValues:
        """The recorded q ``[heads_per_group, P, d]``, k and v ``[P, d]`` of this layer's KV
        group and sequence (read-only)."""
        if self.operands is None:  # pragma: no cover - always set by recorded_layers
            raise ValueError(f"recorded attention layer {self.name!r} has no operands")
        return self.operands.group(self.group, self.sequence)


@dataclass(frozen=True)
class DecodeLinearLayer:
    """A linear of a recorded decode step: ``x`` = the step's rows of the recorded inputs
    ``[sequences, K]``, ``w`` = the prefill layer's weights ``[N, K]`` (one file on disk).

    Attributes
    ----------
    name, op, tokens, k, n:
        ``decode.{step}.<prefill name>``, the prefill layer's op, M = sequences, K, N.
    step:
        The decode step.
    sha256:
        Digest of the inputs' and the weights' file hashes and the rows.
    inputs:
        The recorded inputs (all steps).
    prefill:
        The prefill layer whose weights this step reads.
    op_class, phase:
        ``linear``, ``decode``.
    """

    name: str
    op: str
    tokens: int
    k: int
    n: int
    step: int
    sha256: str
    inputs: TraceFile = field(compare=False, hash=False, repr=False)
    prefill: TraceLayer = field(compare=False, hash=False, repr=False)
    op_class: str = OpClass.LINEAR.value
    phase: str = Phase.DECODE.value

    def __repr__(self) -> str:
        """One short line: name, op, shapes and the prefill layer whose weights it reads."""
        return (
            f"DecodeLinearLayer({self.name!r}, op={self.op!r}, x=[{self.tokens}, {self.k}], "
            f"w=[{self.n}, {self.k}] of {self.prefill.name!r})"
        )

    def tensor_names(self) -> tuple[str, ...]:
        """``("x", "w")``."""
        return ("x", "w")

    def activations(self) -> np.ndarray:
        """``x`` as a fresh float32 array ``[tokens, k]``."""
        rows = slice(self.step * self.tokens, (self.step + 1) * self.tokens)
        return self.inputs.finite("x", rows).astype(np.float32)

    def weights(self) -> np.ndarray:
        """``w`` as a fresh float32 array ``[n, k]`` (the prefill layer's)."""
        return self.prefill.weights()


RecordedItem = RecordedAttentionLayer | DecodeLinearLayer
"""A layer built from a trace's recorded sections."""


def _digest(*parts: object) -> str:
    return hashlib.sha256("|".join(map(str, parts)).encode("utf-8")).hexdigest()


def _recorded(layer: AttentionLayer, operands: BlockOperands) -> RecordedAttentionLayer:
    """``layer`` with the recorded operands (and a digest of them) in place of generated ones."""
    values = {f.name: getattr(layer, f.name) for f in fields(AttentionLayer) if f.init}
    values["sha256"] = _digest(
        "recorded-attention", operands.file.sha256, layer.name, layer.op, layer.block,
        layer.group, layer.sequence, layer.start, layer.stop, layer.keys,
    )
    values["_cache"] = AttentionCache()
    return RecordedAttentionLayer(**values, operands=operands)


def _decode_linear(prefill: TraceLayer, inputs: DecodeInputs, step: int, rows: int
                   ) -> DecodeLinearLayer:
    name = f"decode.{step}.{prefill.name}"
    return DecodeLinearLayer(
        name=name, op=prefill.op, tokens=rows, k=prefill.k, n=prefill.n, step=step,
        sha256=_digest("recorded-decode", inputs.file.sha256, prefill.sha256, name,
                       step * rows, (step + 1) * rows),
        inputs=inputs.file, prefill=prefill,
    )


def _order(linears: Sequence[TraceLayer], attention: RecordedAttention | None
           ) -> list[TraceLayer | BlockOperands]:
    """The manifest's linears with each attention block placed after the block's last q/k/v
    projection, or before its first linear."""
    slots: list[TraceLayer | BlockOperands] = list(linears)
    for operands in attention.blocks if attention else ():
        qkv = {f"{operands.module}.{op}" for op in QKV_OPS}
        after = [i for i, s in enumerate(slots) if isinstance(s, TraceLayer) and s.name in qkv]
        of_block = [i for i, s in enumerate(slots)
                    if isinstance(s, TraceLayer) and block_of(s.name) == operands.block]
        at = after[-1] + 1 if after else (of_block[0] if of_block else len(slots))
        slots.insert(at, operands)
    return slots


_Slot = TraceLayer | BlockOperands
_Placed = dict[int, list[tuple[int, BlockStep]]]
"""Slot index → the vector steps (block, step) placed before (or after) that slot."""


def _places(slots: Sequence[_Slot], attention: RecordedAttention,
            present: Callable[[TraceLayer], bool]) -> tuple[_Placed, _Placed]:
    """Where each attention block's vector operators go among ``slots`` (one phase's: the
    linears for which ``present`` holds, and the attention blocks), as
    :data:`~spikesim.trace.model_plan.BLOCK_STEPS` orders them: each just before the block's
    next recorded step (a linear of the block whose ``op`` is the step's, or its attention),
    those after the last one just after it. The MLP's operators (its norm, SiLU·up, residual
    add) come only with a recorded MLP linear of the block."""
    before: _Placed = {}
    after: _Placed = {}
    for operands in attention.blocks:
        anchors: dict[int, int] = {}
        for i, step in enumerate(BLOCK_STEPS):
            if step.kind == ATTENTION:
                anchors[i] = next(j for j, s in enumerate(slots) if s is operands)
            elif step.kind == LINEAR:
                found = next((j for j, s in enumerate(slots)
                              if isinstance(s, TraceLayer) and s.op == step.op and present(s)
                              and block_of(s.name) == operands.block), None)
                if found is not None:
                    anchors[i] = found
        mlp = any(BLOCK_STEPS[i].group == "mlp" for i in anchors)
        pending: list[tuple[int, BlockStep]] = []
        last = anchors[min(anchors)]
        for i, step in enumerate(BLOCK_STEPS):
            if i in anchors:
                before.setdefault(anchors[i], []).extend(pending)
                pending, last = [], anchors[i]
            elif step.kind == VECTOR and (mlp or step.group != "mlp"):
                pending.append((operands.block, step))
        after.setdefault(last, []).extend(pending)
    return before, after


def recorded_layers(linears: tuple[TraceLayer, ...], parts: RecordedParts,
                    dims: ModelShape | None = None
                    ) -> tuple[TraceLayer | RecordedItem | VectorLayer, ...]:
    """Every layer of a trace with recorded sections, in execution order (module docstring):
    the prefill (linears and attention), then each decode step.

    With ``dims`` (:func:`recorded_dims`) and an attention section, also the vector operators
    of each attention block, as a named shape of those dimensions has them
    (:func:`~spikesim.trace.model_plan.block_vector`: same names, fields and order around the
    block's linears and attention): at the trace's tokens in the prefill (one causal softmax
    triangle per sequence), at one row per sequence in decode step s, whose softmax rows hold
    the T + s + 1 keys of the recorded cache. A block's MLP operators come with a recorded
    MLP linear of the block (:func:`_places`)."""
    attention = parts.attention
    slots = _order(linears, attention)
    shape = attention.shape() if attention else None
    decode = parts.decode
    inputs = {i.name: i for i in decode.inputs} if decode is not None else {}

    def placed(steps: Iterable[tuple[int, BlockStep]], rows: int, prefix: str, phase: str,
               sequences: int, keys: int) -> list[VectorLayer]:
        if dims is None:
            return []
        return [block_vector(step, dims, block, rows, prefix=prefix, phase=phase,
                             sequences=sequences, keys=keys) for block, step in steps]

    out: list[TraceLayer | RecordedItem | VectorLayer] = []
    before, after = (_places(slots, attention, lambda _: True)
                     if dims is not None and attention is not None else ({}, {}))
    for j, slot in enumerate(slots):
        if attention is not None:
            out += placed(before.get(j, ()), attention.sequences * attention.prefill_tokens,
                          "", Phase.PREFILL.value, attention.sequences, 0)
        if isinstance(slot, TraceLayer):
            out.append(slot)
        elif attention is not None and shape is not None:
            out += [_recorded(layer, slot) for layer in attention_layers(
                shape, slot.block, attention.prefill_tokens, 0, ATTENTION_QUERY_BLOCK,
                sequences=attention.sequences,
            )]
        if attention is not None:
            out += placed(after.get(j, ()), attention.sequences * attention.prefill_tokens,
                          "", Phase.PREFILL.value, attention.sequences, 0)
    if decode is None:
        return tuple(out)
    before, after = (_places(slots, attention, lambda s: s.name in inputs)
                     if dims is not None and attention is not None else ({}, {}))
    for step in range(decode.steps):
        prefix = f"decode.{step}."
        position = attention.prefill_tokens + step if attention is not None else 0
        for j, slot in enumerate(slots):
            out += placed(before.get(j, ()), decode.sequences, prefix, Phase.DECODE.value, 1,
                          position + 1)
            if isinstance(slot, TraceLayer):
                if slot.name in inputs:
                    out.append(_decode_linear(slot, inputs[slot.name], step, decode.sequences))
            elif attention is not None and shape is not None:
                out += [_recorded(layer, slot) for layer in decode_attention_layers(
                    shape, slot.block, step=step, position=position,
                    positions=attention.positions, seed=0, sequences=decode.sequences,
                )]
            out += placed(after.get(j, ()), decode.sequences, prefix, Phase.DECODE.value, 1,
                          position + 1)
    return tuple(out)


_HIDDEN_FROM = (("q_proj", "k"), ("k_proj", "k"), ("v_proj", "k"), ("o_proj", "n"),
                ("gate_proj", "k"), ("up_proj", "k"), ("down_proj", "n"))
"""Where a trace's linears show the model width (hidden): (op, side), first one first."""

_INTERMEDIATE_FROM = (("gate_proj", "n"), ("up_proj", "n"), ("down_proj", "k"))
"""Where they show the MLP width (intermediate)."""


def _width(linears: Sequence[TraceLayer], sources: tuple[tuple[str, str], ...], what: str,
           manifest: Path) -> int | None:
    """The width ``what`` as the first of ``sources`` has it in ``linears`` (manifest order),
    checked against every other one; None if no linear has such an op."""
    seen = [(getattr(layer, side), index, op, side) for op, side in sources
            for index, layer in enumerate(linears) if layer.op == op]
    if not seen:
        return None
    value, first, op, side = seen[0]
    for other, index, other_op, other_side in seen[1:]:
        if other != value:
            raise InputError(
                f"{other_op} {linears[index].name!r} has {other_side}={other}, but {op} "
                f"{linears[first].name!r} makes the {what} width {value} ({side}): the vector "
                "operators of a phase need one width",
                file=manifest, field=f"layers[{index}].{other_side}",
            )
    return value


def recorded_dims(linears: Sequence[TraceLayer], attention: RecordedAttention,
                  manifest: Path) -> ModelShape:
    """The model dimensions of a trace's vector operators: heads, KV heads and head dim from the
    ``attention`` section; ``hidden`` from the linears (q_proj's K, else k/v_proj's K, o_proj's
    N, gate/up_proj's K, down_proj's N), ``intermediate`` likewise (gate_proj's N, else
    up_proj's N, down_proj's K; 0 when the trace has no MLP linear, whose operators are then
    never built). Every linear that shows a width must agree.

    Raises
    ------
    InputError
        Naming the manifest and ``layers`` when no linear shows the model width, or
        ``layers[i].k`` / ``.n`` of a linear that disagrees.
    """
    hidden = _width(linears, _HIDDEN_FROM, "model (hidden)", manifest)
    if hidden is None:
        raise InputError(
            "the vector operators of a phase (RMSNorm, residual adds) need the model width, "
            "but the trace has no q_proj, k_proj, v_proj, o_proj, gate_proj, up_proj or "
            "down_proj layer to read it from (load it without a phase for its linear layers)",
            file=manifest, field="layers",
        )
    intermediate = _width(linears, _INTERMEDIATE_FROM, "MLP (intermediate)", manifest)
    return ModelShape(
        hidden=hidden, intermediate=intermediate or 0,
        q_out=attention.heads * attention.head_dim,
        kv_out=attention.kv_heads * attention.head_dim,
        blocks=max(b.block for b in attention.blocks) + 1, heads=attention.heads,
        kv_heads=attention.kv_heads,
    )


# --------------------------------------------------------------------------------------------
# Reading the sections
# --------------------------------------------------------------------------------------------


def _positive(obj: Mapping[str, Any], key: str, manifest: Path, where: str) -> int:
    value: int = _require(obj, key, int, manifest, f"{where}.{key}")
    if value <= 0:
        raise InputError(f"must be a positive integer, got {value}", file=manifest,
                         field=f"{where}.{key}")
    return value


def _only(obj: Any, keys: tuple[str, ...], manifest: Path, where: str) -> dict[str, Any]:
    if not isinstance(obj, dict):
        raise InputError("must be an object", file=manifest, field=where)
    for key in obj:
        if key not in keys:
            raise InputError(f"unknown field (allowed: {', '.join(keys)})", file=manifest,
                             field=f"{where}.{key}")
    return obj


def _float_tensor(file: TraceFile, name: str, shape: tuple[int, ...], manifest: Path,
                  where: str) -> None:
    spec = file.spec(name)
    if spec.dtype not in _FLOATS or spec.shape != shape:
        raise InputError(
            f"{name} must be float16 or float32 of shape {list(shape)}, got {spec.dtype} "
            f"{list(spec.shape)}",
            file=manifest, field=f"{where}.tensors.{name}",
        )


def _unique_file(file: TraceFile, seen: set[str], manifest: Path, where: str) -> None:
    if file.file.name in seen:
        raise InputError(f"file {file.file.name!r} is listed twice", file=manifest,
                         field=f"{where}.file")
    seen.add(file.file.name)


def _attention(obj: Any, trace_dir: Path, manifest: Path, tokens: int, seen: set[str],
               positions: int | None) -> RecordedAttention:
    where = "attention"
    keys = ("heads", "kv_heads", "head_dim", "sequences", "prefill_tokens", "positions",
            "blocks")
    section = _only(obj, keys, manifest, where)
    h, g, d, s, t, p = (_positive(section, key, manifest, where) for key in keys[:-1])
    if h % g:
        raise InputError(f"heads ({h}) must be a multiple of kv_heads ({g})", file=manifest,
                         field=f"{where}.kv_heads")
    if d % 2:
        raise InputError(f"must be even, got {d}", file=manifest, field=f"{where}.head_dim")
    if s * t != tokens:
        raise InputError(f"sequences x prefill_tokens = {s * t}, but the trace has {tokens} "
                         "tokens", file=manifest, field=f"{where}.prefill_tokens")
    want = t if positions is None else t + positions
    if p != want:
        raise InputError(f"must be prefill_tokens + decode steps = {want}, got {p}",
                         file=manifest, field=f"{where}.positions")
    entries: list[Any] = _require(section, "blocks", list, manifest, f"{where}.blocks")
    if not entries:
        raise InputError("at least one block is needed", file=manifest, field=f"{where}.blocks")
    blocks: list[BlockOperands] = []
    for i, entry in enumerate(entries):
        at = f"{where}.blocks[{i}]"
        file = load_tensor_file(entry, at, trace_dir, manifest, ("block", "module"))
        _unique_file(file, seen, manifest, at)
        block: int = _require(entry, "block", int, manifest, f"{at}.block")
        if block < 0 or any(b.block == block for b in blocks):
            raise InputError(f"must be a new non-negative block index, got {block}",
                             file=manifest, field=f"{at}.block")
        module: str = _require(entry, "module", str, manifest, f"{at}.module")
        for name, heads in (("q", h), ("k", g), ("v", g)):
            _float_tensor(file, name, (s, p, heads, d), manifest, at)
        blocks.append(BlockOperands(block=block, module=module, file=file,
                                    heads_per_group=h // g))
    return RecordedAttention(h, g, d, s, t, p, tuple(sorted(blocks, key=lambda b: b.block)))


def _token_ids(value: Any, sequences: int, steps: int, manifest: Path
               ) -> tuple[tuple[int, ...], ...]:
    ok = (isinstance(value, list) and len(value) == sequences and all(
        isinstance(row, list) and len(row) == steps
        and all(isinstance(i, int) and not isinstance(i, bool) and i >= 0 for i in row)
        for row in value
    ))
    if not ok:
        raise InputError(f"must be {sequences} list(s) of {steps} non-negative token ids",
                         file=manifest, field="decode.token_ids")
    return tuple(tuple(row) for row in value)


def _decode(obj: Any, trace_dir: Path, manifest: Path, tokens: int, seen: set[str],
            linears: Mapping[str, TraceLayer]) -> RecordedDecode:
    where = "decode"
    section = _only(obj, ("steps", "sequences", "token_ids", "layers"), manifest, where)
    steps = _positive(section, "steps", manifest, where)
    sequences = _positive(section, "sequences", manifest, where)
    if tokens % sequences:
        raise InputError(f"the trace's {tokens} tokens do not split into {sequences} "
                         "sequences", file=manifest, field=f"{where}.sequences")
    ids = _token_ids(section.get("token_ids"), sequences, steps, manifest)
    entries: list[Any] = _require(section, "layers", list, manifest, f"{where}.layers")
    inputs: list[DecodeInputs] = []
    for i, entry in enumerate(entries):
        at = f"{where}.layers[{i}]"
        file = load_tensor_file(entry, at, trace_dir, manifest, ("name",))
        _unique_file(file, seen, manifest, at)
        name: str = _require(entry, "name", str, manifest, f"{at}.name")
        layer = linears.get(name)
        if layer is None or any(x.name == name for x in inputs):
            raise InputError(f"{name!r} is not a linear layer of the trace or is listed "
                             "twice", file=manifest, field=f"{at}.name")
        if file.tensor_names() != ("x",):
            raise InputError("a decode file holds exactly one tensor, x", file=manifest,
                             field=f"{at}.tensors")
        _float_tensor(file, "x", (steps * sequences, layer.k), manifest, at)
        inputs.append(DecodeInputs(name=name, file=file))
    return RecordedDecode(steps, sequences, ids, tuple(inputs))


def load_recorded(sections: Mapping[str, Any], trace_dir: Path, manifest: Path,
                  linears: tuple[TraceLayer, ...], tokens: int, files: Iterable[str]
                  ) -> RecordedParts:
    """Check the ``attention`` and ``decode`` sections of a manifest against the trace (its
    linear layers, tokens and layer ``files``) and their files (:func:`load_tensor_file`);
    every problem is an :class:`InputError` naming the manifest and the field."""
    seen = set(files)
    decode = None
    if "decode" in sections:
        decode = _decode(sections["decode"], trace_dir, manifest, tokens, seen,
                         {layer.name: layer for layer in linears})
    attention = None
    if "attention" in sections:
        attention = _attention(sections["attention"], trace_dir, manifest, tokens, seen,
                               decode.steps if decode else None)
        if decode is not None and decode.sequences != attention.sequences:
            raise InputError(f"{decode.sequences} sequences, but attention has "
                             f"{attention.sequences}", file=manifest, field="decode.sequences")
    return RecordedParts(attention=attention, decode=decode)


def read_sections(sections: Mapping[str, Any], trace_dir: Path, manifest: Path,
                  linears: tuple[TraceLayer, ...], tokens: int, files: set[str],
                  phase: str | None = None) -> tuple[tuple[TraceEntry, ...], RecordedParts]:
    """The trace's layers and sections (:func:`load_recorded`, :func:`recorded_layers`): what
    :func:`~spikesim.trace.format.load_trace` calls for a manifest with sections. With a
    ``phase`` and an attention section, the layers include the vector operators
    (:func:`recorded_dims`); without one (the linear layers alone) they are not built."""
    parts = load_recorded(sections, trace_dir, manifest, linears, tokens, files)
    dims = (recorded_dims(linears, parts.attention, manifest)
            if phase is not None and parts.attention is not None else None)
    return recorded_layers(linears, parts, dims), parts


register_section_reader(read_sections)


# --------------------------------------------------------------------------------------------
# Writing the sections (extraction)
# --------------------------------------------------------------------------------------------


def attention_section(
    *, heads: int, kv_heads: int, head_dim: int, sequences: int, prefill_tokens: int,
    blocks: Iterable[tuple[int, str, Mapping[str, np.ndarray]]],
) -> TraceSection:
    """The ``attention`` section for :func:`~spikesim.trace.format.write_trace`: ``blocks``
    yields (block, module name, {"q": [S, P, H, d], "k": [S, P, G, d], "v": …}) in block
    order; P is read from the arrays' shape when written."""
    items = list(blocks)
    positions = int(next(iter(items))[2]["q"].shape[1]) if items else prefill_tokens
    meta = {"heads": heads, "kv_heads": kv_heads, "head_dim": head_dim, "sequences": sequences,
            "prefill_tokens": prefill_tokens, "positions": positions}
    files = (SectionFile(label=f"{module}.qkv", meta={"block": block, "module": module},
                         tensors=tensors) for block, module, tensors in items)
    return TraceSection(key="attention", meta=meta, files_key="blocks", files=files)


def decode_section(
    *, steps: int, sequences: int, token_ids: Sequence[Sequence[int]],
    inputs: Iterable[tuple[str, np.ndarray]],
) -> TraceSection:
    """The ``decode`` section: ``inputs`` yields (prefill layer name, x ``[steps · sequences,
    K]``) in layer order; ``token_ids`` the ids each sequence's steps fed."""
    meta = {"steps": steps, "sequences": sequences,
            "token_ids": [[int(i) for i in row] for row in token_ids]}
    files = (SectionFile(label=f"decode.{name}", meta={"name": name}, tensors={"x": x})
             for name, x in inputs)
    return TraceSection(key="decode", meta=meta, files_key="layers", files=files)

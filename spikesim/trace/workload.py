"""Workloads: what the simulator runs, from a trace on disk or from shapes alone.

A workload is a sequence of layers: linear layers (and a model's attention matmuls), each
giving its activations ``x`` ``[M, K]`` and weights ``w`` ``[N, K]`` when asked, and a model's
vector operators, which have neither (see "The block plan"). :func:`load_workload` opens one of
four kinds:

``trace``
    A trace directory (:func:`~spikesim.trace.format.load_trace`), or the name of a shipped
    trace (``smollm2-135m``): exactly what ``--trace`` accepts. Values are on disk.
``topology-csv``
    A topology CSV of GEMMs, ``layer, M, N, K`` (SCALE-Sim's GEMM topology files too; see
    :mod:`spikesim.trace.topology`): one layer per row, op ``gemm``.
``hf-config``
    A Hugging Face ``config.json`` (LlamaForCausalLM-style, GQA included): every decoder block
    of the model at ``tokens`` tokens, as the block plan below.
``named-shape``
    A named model shape of :data:`~spikesim.trace.synth.SHAPES` (``llama2-7b``, ``llama2-13b``,
    ``llama2-70b``, ``mistral-7b``, ``smollm2-135m``), at ``tokens`` tokens, as the block plan
    below. ``shape:NAME`` always means the shape; a bare name means it when no file, directory
    or shipped trace has that name (``smollm2-135m`` is a shipped trace: its shape is
    ``shape:smollm2-135m``).

The block plan
--------------
A model (config or named shape) runs each decoder block ``b`` in execution order, every layer
with its ``op_class`` (:class:`~spikesim.schema.OpClass`) and ``phase`` (``prefill``)::

    layers.b.self_attn.rmsnorm          vector     attention norm
    layers.b.self_attn.{q,k,v}_proj     linear
    layers.b.self_attn.rope             vector     RoPE on q and k
    layers.b.attn.{score,value}.g*.q*   attention  Q·Kᵀ, P·V per KV group and query block
    layers.b.self_attn.softmax          vector     over every causal score of the block
    layers.b.self_attn.o_proj           linear
    layers.b.self_attn.residual         vector
    layers.b.mlp.rmsnorm                vector     MLP norm
    layers.b.mlp.{gate,up}_proj         linear
    layers.b.mlp.silu_mul               vector     SiLU(gate)·up
    layers.b.mlp.down_proj              linear
    layers.b.mlp.residual               vector

Attention layers come from :func:`spikesim.trace.attention.attention_layers` with query
blocks of :data:`ATTENTION_QUERY_BLOCK` tokens, in its order (per KV group and query block, the
score layer then the value layer; one cache for the whole workload). The softmax of all of them
is one vector layer after them: a fused kernel interleaves it with the tiles, but the layers
of a run add up one after another, so only the order of the rows differs. Vector layers
(:class:`~spikesim.trace.vector.VectorLayer`) carry element counts only and run on the vector
unit of every design. A topology CSV stays a list of GEMMs (op ``gemm``, class ``linear``) and a
trace on disk stays its recorded linear layers: neither gains attention or vector layers.

The last three are *shape-only*: nothing is on disk but the description. Their values are
generated on the fly, per layer, by the generator of :mod:`spikesim.trace.synth` (the same
LLM-like statistics and random streams): a layer's ``x`` and ``w`` are generated when
:meth:`GeneratedLayer.activations` / :meth:`GeneratedLayer.weights` are called and belong to the
caller, so memory holds one layer at a time (plus one cached input ``x`` in float16, shared by
q/k/v_proj and by gate/up_proj of a block). Values are rounded to float16 as ``synth`` writes
them, and depend only on (seed, block, op, M, K, N, model width): the same seed gives
bit-identical values whatever the order layers are asked in, and a named shape or config equals
the trace ``spikesim synth --shape … --layers … --tokens … --seed …`` would write. A topology
row *i* draws from the streams of block *i* with the statistics of ``synth --gemm`` (the
post-RMSNorm residual stream), so a one-row CSV equals ``synth --gemm M,K,N``.

Tokens and seed
---------------
``tokens`` is required for a config or a named shape (the prefill length M decides how weights
are amortised, so no default is guessed); for a topology CSV it replaces the M of every row; for
a trace it may only repeat the trace's own token count. ``seed`` (default
:data:`DEFAULT_SEED`) applies to shape-only workloads; a trace's values are on disk, so a seed is
refused there.

Sizes
-----
A generated tensor may hold at most :data:`~spikesim.trace.synth.MAX_TENSOR_ELEMENTS` (2^27)
elements, as in ``synth``. The check runs on the layers actually simulated
(:func:`check_layer_sizes`, called by :func:`spikesim.api.run` before simulating anything) and
again when a layer is generated; the error names the layer. llama2-70b's gate/up/down weights
(28672 x 8192) are over the limit: select other layers (``--layers``).
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol, TypeAlias, runtime_checkable

import numpy as np

from spikesim.errors import InputError, echo
from spikesim.schema import OpClass, Phase
from spikesim.trace.attention import AttentionCache, attention_layers
from spikesim.trace.format import MANIFEST_NAME, Trace, _sha256_file, load_trace
from spikesim.trace.last_value import LastValue
from spikesim.trace.shipped import SHIPPED_TRACES, resolve_trace
from spikesim.trace.synth import (
    GENERATOR_VERSION,
    MAX_SEED,
    SHAPES,
    ModelShape,
    check_tensor_size,
    generate_activations,
    generate_weights,
    shape_plan,
    site_of,
    statistics_source,
)
from spikesim.trace.topology import GemmRow, read_hf_config, read_topology_csv
from spikesim.trace.vector import VectorLayer, VectorOp, block_vector_layer

__all__ = [
    "ATTENTION_QUERY_BLOCK",
    "DEFAULT_SEED",
    "SHAPE_PREFIX",
    "WORKLOAD_KINDS",
    "GeneratedLayer",
    "ShapeWorkload",
    "SizeSource",
    "Workload",
    "WorkloadItem",
    "WorkloadLayer",
    "check_layer_sizes",
    "load_workload",
    "workload_summary",
]

DEFAULT_SEED = 0
"""Seed of a shape-only workload when none is given (``synth``'s default too)."""

SHAPE_PREFIX = "shape:"
"""``shape:NAME`` names a model shape even where a file or shipped trace has that name."""

WORKLOAD_KINDS = ("trace", "topology-csv", "hf-config", "named-shape")
"""The kinds of workload, as ``summary.json`` records them (``trace.kind``)."""

GENERATED_DTYPE = "float16"
"""Values of shape-only workloads are rounded to this dtype, as ``synth`` writes them."""

ATTENTION_QUERY_BLOCK = 128
"""Query tokens per attention layer of a model's block plan (``query_block`` of
:func:`spikesim.trace.attention.attention_layers`)."""


# --------------------------------------------------------------------------------------------
# What the simulator consumes
# --------------------------------------------------------------------------------------------


class WorkloadLayer(Protocol):
    """One layer with activations and weights, as the simulator reads it: a linear layer
    (:class:`~spikesim.trace.TraceLayer` and :class:`GeneratedLayer` are two) or an attention
    matmul. Vector operators (:class:`~spikesim.trace.vector.VectorLayer`) have neither and are
    not one."""

    @property
    def name(self) -> str:
        """Unique layer name."""
        ...

    @property
    def op(self) -> str:
        """Operator (``q_proj`` … ``down_proj``, ``gemm``, ``attn_score``, ``attn_value``)."""
        ...

    @property
    def op_class(self) -> str:
        """:class:`~spikesim.schema.OpClass` value: ``linear`` (the default), ``attention``."""
        ...

    @property
    def phase(self) -> str:
        """:class:`~spikesim.schema.Phase` value: ``prefill`` (the default) or ``decode``."""
        ...

    @property
    def tokens(self) -> int:
        """M, rows of ``x``."""
        ...

    @property
    def k(self) -> int:
        """K, input features."""
        ...

    @property
    def n(self) -> int:
        """N, output features."""
        ...

    @property
    def sha256(self) -> str:
        """Identity of the layer's values: its file's SHA-256 (trace) or the digest of the
        generation recipe (shape-only)."""
        ...

    def activations(self) -> np.ndarray:
        """``x`` as a fresh float32 array ``[tokens, k]``."""
        ...

    def weights(self) -> np.ndarray:
        """``w`` as a fresh float32 array ``[n, k]``."""
        ...


WorkloadItem: TypeAlias = WorkloadLayer | VectorLayer
"""One layer of a workload: one with activations and weights, or a vector operator."""


class Workload(Protocol):
    """Layers to simulate, with what ``summary.json`` and the report say of them
    (:class:`~spikesim.trace.Trace` and :class:`ShapeWorkload` are two)."""

    @property
    def name(self) -> str: ...

    @property
    def path(self) -> Path | None:
        """The trace directory or the description file; ``None`` for a named shape."""
        ...

    @property
    def tokens(self) -> int:
        """Token count of the workload (the largest M of a topology CSV)."""
        ...

    @property
    def source(self) -> Mapping[str, Any]:
        """Provenance (``kind``, ``seed`` …), recorded in ``summary.json``."""
        ...

    @property
    def layers(self) -> Sequence[WorkloadItem]: ...


# --------------------------------------------------------------------------------------------
# Generated layers
# --------------------------------------------------------------------------------------------


class _InputCache(LastValue[np.ndarray]):
    """The last generated input ``x`` (float16) of one workload, keyed by everything its values
    depend on, so q/k/v_proj (and gate/up_proj) of a block generate it once. Holds one array."""


@dataclass(frozen=True)
class SizeSource:
    """What set the size of a generated tensor: a parameter (``tokens``, ``layers``: the layers
    chosen) or a field of a file (a topology CSV's ``M`` on some line)."""

    field: str
    file: Path | None = None
    where: str = ""
    """Prefix of the error message (``"line 3: "``)."""
    note: str = ""
    """End of the error message (what to do instead)."""


@dataclass(frozen=True)
class GeneratedLayer:
    """A linear layer of a shape-only workload; ``x`` and ``w`` are generated when asked.

    Attributes
    ----------
    name, op, tokens, k, n:
        As :class:`~spikesim.trace.TraceLayer` (``tokens`` is M).
    block:
        The random-stream block (decoder block index, or the row index of a topology CSV).
    seed:
        The workload's seed.
    hidden:
        Residual width of the model (shared outlier channels of q/k/v and gate/up inputs), or
        ``None`` for a standalone GEMM.
    sha256:
        Digest of the generation recipe (generator version, seed, block, op, M, K, N, hidden,
        dtype): equal digests, equal values.
    x_size, w_size:
        Who set the size of ``x`` / ``w`` (a parameter, or a file's field and row), named by
        the error refusing a tensor that is too big.
    op_class, phase:
        ``linear`` and ``prefill`` (the values do not depend on them).

    The layers of one workload share a one-entry cache of the last generated ``x`` (float16),
    so the layers of a block that read the same input (q/k/v_proj, gate/up_proj) generate it
    once; it never holds more than that one array.
    """

    name: str
    op: str
    tokens: int
    k: int
    n: int
    block: int
    seed: int
    hidden: int | None
    sha256: str
    x_size: SizeSource = field(
        default_factory=lambda: SizeSource("tokens", note="; give fewer tokens")
    )
    w_size: SizeSource = field(
        default_factory=lambda: SizeSource("layers", note="; select layers that fit")
    )
    op_class: str = OpClass.LINEAR.value
    phase: str = Phase.PREFILL.value
    _cache: _InputCache = field(
        default_factory=_InputCache, compare=False, hash=False, repr=False
    )

    def tensor_names(self) -> tuple[str, ...]:
        """``("x", "w")``: the tensors a generated layer has."""
        return ("x", "w")

    def check_size(self) -> None:
        """Refuse (:class:`InputError`) an ``x`` or ``w`` of more than 2^27 elements."""
        for tensor, rows, size in (("x", self.tokens, self.x_size), ("w", self.n, self.w_size)):
            try:
                check_tensor_size(self.name, tensor, rows, self.k, field=size.field)
            except InputError as exc:
                raise InputError(size.where + exc.message + size.note, file=size.file,
                                 field=size.field) from None

    def tensor(self, name: str) -> np.ndarray:
        """Tensor ``x`` or ``w`` as generated (float16, read-only; ``x`` may be shared with the
        other layers of its block, so it must not be written)."""
        if name == "x":
            self.check_size()
            key = (self.seed, self.block, site_of(self.op), self.tokens, self.k, self.hidden)
            x = self._cache.get(key, lambda: generate_activations(
                seed=self.seed, block=self.block, op=self.op, m=self.tokens, k=self.k,
                hidden=self.hidden, dtype=GENERATED_DTYPE,
            ))
            x.flags.writeable = False
            return x
        if name == "w":
            self.check_size()
            w = generate_weights(
                seed=self.seed, block=self.block, op=self.op, n=self.n, k=self.k,
                dtype=GENERATED_DTYPE,
            )
            w.flags.writeable = False
            return w
        raise InputError(f"layer {self.name!r} has no tensor {name!r} (has: x, w)", field=name)

    def activations(self) -> np.ndarray:
        """``x`` as a fresh float32 array ``[tokens, k]`` (the caller's to keep or drop)."""
        return self.tensor("x").astype(np.float32)

    def weights(self) -> np.ndarray:
        """``w`` as a fresh float32 array ``[n, k]`` (``nn.Linear`` convention)."""
        return self.tensor("w").astype(np.float32)


def _recipe_sha256(
    *, seed: int, block: int, op: str, tokens: int, k: int, n: int, hidden: int | None
) -> str:
    recipe = {
        "generator": "spikesim.trace.synth",
        "generator_version": GENERATOR_VERSION,
        "seed": seed,
        "block": block,
        "op": op,
        "site": site_of(op),
        "tokens": tokens,
        "k": k,
        "n": n,
        "hidden": hidden,
        "dtype": GENERATED_DTYPE,
    }
    text = json.dumps(recipe, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class ShapeWorkload:
    """A shape-only workload: layers whose values are generated when asked.

    Attributes
    ----------
    kind:
        ``topology-csv``, ``hf-config`` or ``named-shape``.
    name:
        The CSV's stem, the config's folder (or stem), or the shape's name.
    path:
        The description file, or ``None`` for a named shape.
    file_sha256:
        SHA-256 of the description file, or ``None``.
    tokens:
        The token count (the largest M of a topology CSV).
    seed:
        The seed every layer's values derive from.
    source:
        Provenance for ``summary.json`` (kind, file and its hash, seed, tokens, dimensions,
        generator and its statistics).
    layers:
        The layers, in order (a model's: the block plan of the module docstring).
    """

    kind: str
    name: str
    path: Path | None
    file_sha256: str | None
    tokens: int
    seed: int
    source: dict[str, Any] = field(hash=False)
    layers: tuple[WorkloadItem, ...]

    def layer(self, name: str) -> WorkloadItem:
        """The layer called ``name`` (:class:`InputError` naming ``layers`` if none)."""
        for layer in self.layers:
            if layer.name == name:
                return layer
        raise InputError(f"workload {self.name!r} has no layer {name!r}", field="layers")

    def __repr__(self) -> str:
        """One short line: kind, name, layer and token counts, seed (``source`` stays an
        attribute)."""
        return (
            f"ShapeWorkload({self.name!r}, kind={self.kind!r}, {len(self.layers)} layers, "
            f"{self.tokens} tokens, seed={self.seed})"
        )

    def layer_names(self) -> tuple[str, ...]:
        """Names of all layers, in order."""
        return tuple(layer.name for layer in self.layers)


# --------------------------------------------------------------------------------------------
# Loading
# --------------------------------------------------------------------------------------------


def _check_tokens(tokens: int | None) -> int | None:
    if tokens is None:
        return None
    if not isinstance(tokens, int) or isinstance(tokens, bool) or tokens < 1:
        raise InputError(f"tokens must be a positive integer, got {echo(tokens)}", field="tokens")
    return tokens


def _check_seed(seed: int | None) -> int:
    if seed is None:
        return DEFAULT_SEED
    if not isinstance(seed, int) or isinstance(seed, bool) or not 0 <= seed <= MAX_SEED:
        raise InputError(
            f"seed must be an integer from 0 to 2^64-1, got {echo(seed)}", field="seed"
        )
    return seed


def _need_tokens(tokens: int | None, what: str) -> int:
    if tokens is None:
        raise InputError(
            f"{what} has no token count: give tokens (the prefill length M, e.g. 2048)",
            field="tokens",
        )
    return tokens


def _base_source(kind: str, seed: int, tokens: int) -> dict[str, Any]:
    return {
        "kind": kind,
        "generator": "spikesim.trace.synth",
        "generator_version": GENERATOR_VERSION,
        "seed": seed,
        "tokens": tokens,
        "dtype": GENERATED_DTYPE,
    }


def _attention_plan() -> Callable[[ModelShape, int, int, int], Sequence[WorkloadLayer]]:
    """``attention_layers`` of :mod:`spikesim.trace.attention` with query blocks of
    :data:`ATTENTION_QUERY_BLOCK` and one cache (one KV group held) for every call."""
    cache = AttentionCache()

    def plan(dims: ModelShape, block: int, tokens: int, seed: int) -> Sequence[WorkloadLayer]:
        return attention_layers(dims, block, tokens, seed, ATTENTION_QUERY_BLOCK, cache=cache)

    return plan


def _model_layers(dims: ModelShape, tokens: int, seed: int) -> tuple[WorkloadItem, ...]:
    """The block plan (module docstring) of every decoder block of ``dims``."""
    cache = _InputCache()
    attention = _attention_plan()
    linear: dict[tuple[int, str], GeneratedLayer] = {}
    for name, op, k, n in shape_plan(dims, dims.blocks):
        block = int(name.split(".")[1])
        linear[(block, op)] = GeneratedLayer(
            name=name, op=op, tokens=tokens, k=k, n=n, block=block, seed=seed,
            hidden=dims.hidden,
            sha256=_recipe_sha256(seed=seed, block=block, op=op, tokens=tokens, k=k, n=n,
                                  hidden=dims.hidden),
            _cache=cache,
        )
    layers: list[WorkloadItem] = []
    for block in range(dims.blocks):

        def vector(op: VectorOp, group: str | None = None, block: int = block) -> VectorLayer:
            return block_vector_layer(op, block=block, tokens=tokens, dims=dims, group=group)

        def lin(*ops: str, block: int = block) -> list[WorkloadItem]:
            return [linear[(block, op)] for op in ops]

        matmuls = attention(dims, block, tokens, seed)
        layers += [
            vector(VectorOp.RMSNORM, "self_attn"),
            *lin("q_proj", "k_proj", "v_proj"),
            vector(VectorOp.ROPE),
            *matmuls,
            vector(VectorOp.SOFTMAX),
            *lin("o_proj"),
            vector(VectorOp.RESIDUAL, "self_attn"),
            vector(VectorOp.RMSNORM, "mlp"),
            *lin("gate_proj", "up_proj"),
            vector(VectorOp.SILU_MUL),
            *lin("down_proj"),
            vector(VectorOp.RESIDUAL, "mlp"),
        ]
    return tuple(layers)


def _named_shape(name: str, tokens: int | None, seed: int) -> ShapeWorkload:
    dims = SHAPES[name]
    m = _need_tokens(tokens, f"named shape {name!r}")
    source = {
        **_base_source("named-shape", seed, m),
        "shape": name,
        "dims": {**asdict(dims), "head_dim": dims.head_dim},
        "layers": dims.blocks,
        "query_block": ATTENTION_QUERY_BLOCK,
        "statistics": statistics_source(),
    }
    return ShapeWorkload(
        kind="named-shape", name=name, path=None, file_sha256=None, tokens=m, seed=seed,
        source=source, layers=_model_layers(dims, m, seed),
    )


def _hf_config(path: Path, tokens: int | None, seed: int) -> ShapeWorkload:
    model, sha = read_hf_config(path)
    m = _need_tokens(tokens, "a config.json workload")
    name = path.parent.name if path.name == "config.json" and path.parent.name else path.stem
    source = {
        **_base_source("hf-config", seed, m),
        "model": name,
        "file": str(path.resolve()),
        "file_sha256": sha,
        "model_type": model.model_type,
        "architectures": list(model.architectures),
        "config": model.fields,
        "layers": model.shape.blocks,
        "query_block": ATTENTION_QUERY_BLOCK,
        "statistics": statistics_source(),
    }
    return ShapeWorkload(
        kind="hf-config", name=name, path=path, file_sha256=sha, tokens=m, seed=seed,
        source=source, layers=_model_layers(model.shape, m, seed),
    )


def _csv_layer(row: GemmRow, index: int, m: int, seed: int, path: Path,
               override: bool, cache: _InputCache) -> GeneratedLayer:
    where = f"line {row.line}: "
    return GeneratedLayer(
        name=row.name, op="gemm", tokens=m, k=row.k, n=row.n, block=index, seed=seed,
        hidden=None,
        sha256=_recipe_sha256(seed=seed, block=index, op="gemm", tokens=m, k=row.k, n=row.n,
                              hidden=None),
        x_size=(
            SizeSource("tokens", note="; give fewer tokens") if override
            else SizeSource("M", path, where)
        ),
        w_size=SizeSource("N", path, where),
        _cache=cache,
    )


def _topology_csv(path: Path, tokens: int | None, seed: int) -> ShapeWorkload:
    rows, sha = read_topology_csv(path)
    override = tokens is not None
    ms = [tokens if tokens is not None else row.m for row in rows]
    cache = _InputCache()
    layers = tuple(
        _csv_layer(row, i, m, seed, path, override, cache)
        for i, (row, m) in enumerate(zip(rows, ms, strict=True))
    )
    m_max = max(ms)
    source = {
        **_base_source("topology-csv", seed, m_max),
        "file": str(path.resolve()),
        "file_sha256": sha,
        "rows": len(rows),
        "tokens_override": tokens,
        "statistics": statistics_source(),
    }
    return ShapeWorkload(
        kind="topology-csv", name=path.stem, path=path, file_sha256=sha, tokens=m_max,
        seed=seed, source=source, layers=layers,
    )


def _trace(path: Path, tokens: int | None, seed: int | None) -> Trace:
    trace = load_trace(path)
    if tokens is not None and tokens != trace.tokens:
        raise InputError(
            f"tokens={tokens} contradicts the trace's {trace.tokens} tokens (a trace's values "
            "are on disk; leave tokens unset)",
            field="tokens",
        )
    if seed is not None:
        raise InputError(
            "a trace's values are on disk; a seed applies only to shape-only workloads "
            "(topology CSV, config.json, named shape)",
            field="seed",
        )
    return trace


def _unknown(text: str) -> InputError:
    return InputError(
        f"no file, directory, shipped trace or named shape called {echo(text)} (named shapes: "
        f"{', '.join(sorted(SHAPES))}, also as shape:NAME; shipped traces: "
        f"{', '.join(sorted(SHIPPED_TRACES))}; files: a topology *.csv or a config.json)",
        field="workload",
    )


def load_workload(
    workload: str | os.PathLike[str],
    *,
    tokens: int | None = None,
    seed: int | None = None,
) -> Trace | ShapeWorkload:
    """Open a workload: a trace directory or shipped trace, a topology CSV, a Hugging Face
    ``config.json``, or a named shape (see the module docstring for how ``workload`` is read).

    Parameters
    ----------
    workload:
        A path or a name. An existing directory is a trace; an existing ``*.csv`` file a
        topology; an existing ``*.json`` file a config; ``shape:NAME`` a named shape; a bare
        name that is none of these a shipped trace, else a named shape.
    tokens:
        Prefill length M: required for a config or a named shape; replaces every row's M of a
        topology CSV; for a trace, only its own token count is accepted.
    seed:
        Seed of the generated values (default :data:`DEFAULT_SEED`); refused for a trace.

    Returns
    -------
    Trace | ShapeWorkload
        Either way, what :func:`spikesim.simulate` accepts. Nothing is generated yet.

    Raises
    ------
    InputError
        A missing path (field ``workload``), an unknown name (the known ones listed), a bad
        file (its row and field), tokens missing or not positive (``tokens``), a bad seed
        (``seed``).
    """
    checked_tokens = _check_tokens(tokens)
    text = os.fspath(workload)
    if not text:
        raise InputError("empty workload name", field="workload")
    if text.startswith(SHAPE_PREFIX):
        name = text[len(SHAPE_PREFIX):]
        if name not in SHAPES:
            raise InputError(
                f"unknown named shape {echo(name)} (known: {', '.join(sorted(SHAPES))})",
                field="workload",
            )
        return _named_shape(name, checked_tokens, _check_seed(seed))
    path = Path(text)
    if path.is_dir():
        return _trace(path, checked_tokens, seed)
    suffix = path.suffix.lower()
    if path.exists() or path.is_symlink():
        if suffix == ".csv":
            return _topology_csv(path, checked_tokens, _check_seed(seed))
        if suffix == ".json":
            return _hf_config(path, checked_tokens, _check_seed(seed))
        raise InputError(
            "not a workload: expected a trace directory, a topology CSV (*.csv) or a Hugging "
            "Face config (*.json)",
            file=path,
            field="workload",
        )
    if len(path.parts) == 1 and suffix not in (".csv", ".json"):
        shipped = resolve_trace(text)
        if (shipped / MANIFEST_NAME).is_file():
            try:
                return _trace(shipped, checked_tokens, seed)
            except InputError as exc:
                if text not in SHAPES or exc.field not in ("tokens", "seed"):
                    raise
                raise InputError(
                    f"{exc.message}; {text!r} is the shipped trace, the named shape is "
                    f"{SHAPE_PREFIX}{text}",
                    field=exc.field,
                ) from None
        if text in SHAPES:
            return _named_shape(text, checked_tokens, _check_seed(seed))
        raise _unknown(text)
    raise InputError("workload does not exist", file=path, field="workload")


@runtime_checkable
class _SizeChecked(Protocol):
    def check_size(self) -> None: ...


def check_layer_sizes(layers: Iterable[WorkloadItem]) -> None:
    """Refuse, before anything is generated, a generated layer whose ``x`` or ``w`` would hold
    more than 2^27 elements (the first one, by name): every layer with a ``check_size()``
    (generated linears and attention matmuls; trace layers are on disk and vector layers have
    no tensors: not checked)."""
    for layer in layers:
        if isinstance(layer, _SizeChecked):
            layer.check_size()


def workload_summary(workload: Workload, shown_path: str | Path | None = None) -> dict[str, Any]:
    """The ``trace`` object of ``summary.json``: what the workload was.

    For a trace: ``name``, ``kind`` (``trace``), ``path`` (``shown_path`` if given), ``tokens``,
    ``source``, ``manifest_sha256`` and ``layer_sha256`` (each layer file's). For a shape-only
    workload: ``name``, ``kind`` (``topology-csv``, ``hf-config``, ``named-shape``), ``path``
    and ``file_sha256`` of the description file (``null`` for a named shape), ``tokens``,
    ``seed``, ``source`` and ``layer_sha256`` (each layer's generation-recipe digest).
    """
    layer_sha = {layer.name: layer.sha256 for layer in workload.layers}
    if isinstance(workload, ShapeWorkload):
        return {
            "name": workload.name,
            "kind": workload.kind,
            "path": None if workload.path is None else str(Path(workload.path).resolve()),
            "file_sha256": workload.file_sha256,
            "tokens": workload.tokens,
            "seed": workload.seed,
            "source": dict(workload.source),
            "layer_sha256": layer_sha,
        }
    directory = Path(workload.path) if workload.path is not None else Path(".")
    shown = Path(shown_path) if shown_path is not None else directory
    return {
        "name": workload.name,
        "kind": "trace",
        "path": str(shown.resolve()),
        "tokens": workload.tokens,
        "source": dict(workload.source),
        "manifest_sha256": _sha256_file(directory / MANIFEST_NAME),
        "layer_sha256": layer_sha,
    }

"""Workloads: what the simulator runs, from a trace on disk or from shapes alone.

A workload is a sequence of layers: linear layers (and a model's attention matmuls), each
giving its activations ``x`` ``[M, K]`` and weights ``w`` ``[N, K]`` when asked, and a model's
vector operators, which have neither (see "The block plan"). :func:`load_workload` opens one of
four kinds:

``trace``
    A trace directory (:func:`~spikesim.trace.format.load_trace`), or the name of a shipped
    trace (``smollm2-135m``): exactly what ``--trace`` accepts. Values are on disk. Its linear
    layers by default; a trace extracted with ``--attention`` / ``--decode-steps N`` also
    yields, with ``phase`` ``prefill``, ``decode`` or ``both``, the attention matmuls of its
    recorded blocks and its decode steps (``decode.{s}.…``, phase ``decode``), built from the
    recorded q, k, v and inputs as the block plan below builds them from generated ones, and
    the vector operators of its attention blocks, where the block plan has them
    (:mod:`spikesim.trace.recorded`).
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
with its ``op_class`` (:class:`~spikesim.schema.OpClass`) and ``phase`` (``prefill``; the
decode steps and batches of :mod:`spikesim.trace.model_plan` repeat the plan per step)::

    layers.b.self_attn.rmsnorm          vector     attention norm
    layers.b.self_attn.{q,k,v}_proj     linear
    layers.b.self_attn.rope             vector     RoPE on q and k
    layers.b.self_attn.kv_write         kv         k and v quantized into the KV cache
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
trace on disk its recorded linear layers unless a ``phase`` asks for its recorded attention
and decode steps (with their vector layers).

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

Tokens, phases and seed
-----------------------
``tokens`` is required for a config or a named shape in a prefill (the prefill length M decides
how weights are amortised, so no default is guessed); for a topology CSV it replaces the M of
every row; for a trace it may only repeat the trace's own token count. A model also takes
``phase``, ``batch``, ``context`` and ``decode_steps`` (:func:`~spikesim.trace.model_plan.
phase_plan`); a trace or a topology CSV refuses them (their layers are prefill GEMMs). A model
workload's ``tokens`` attribute is every token it runs: the prefill's (batch × tokens) plus the
decode's (batch × decode_steps), what energy per token divides by. ``seed`` (default
:data:`DEFAULT_SEED`) applies to shape-only workloads; a trace's values are on disk, so a seed is
refused there.

Sizes
-----
A generated input may hold at most :data:`~spikesim.trace.synth.MAX_TENSOR_ELEMENTS` (2^27)
elements and generated weights :data:`~spikesim.trace.synth.MAX_WEIGHT_ELEMENTS` (2^28), as in
``synth``. The check runs on the layers actually simulated (:func:`check_layer_sizes`, called by
:func:`spikesim.api.run` before simulating anything) and again when a layer is generated; the
error names the layer. llama2-70b's gate/up/down weights (28672 x 8192) fit.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol, TypeAlias, runtime_checkable

import numpy as np

from spikesim.errors import InputError, echo, positive_int
from spikesim.trace.fitstats import FittedStats, read_activation_stats
from spikesim.trace.format import MANIFEST_NAME, Trace, _open_inside, _sha256_open, load_trace
from spikesim.trace.generated import (
    GENERATED_DTYPE,
    GeneratedLayer,
    InputCache,
    SizeSource,
    linear_recipe_sha256,
)
from spikesim.trace.model_plan import ATTENTION_QUERY_BLOCK, PhasePlan, model_layers, phase_plan
from spikesim.trace.recorded import read_sections  # noqa: F401 - installs the sections' reader
from spikesim.trace.shipped import SHIPPED_TRACES, resolve_trace
from spikesim.trace.synth import (
    GENERATOR_VERSION,
    MAX_SEED,
    SHAPES,
    ActivationStats,
    ModelShape,
    statistics_source,
)
from spikesim.trace.topology import GemmRow, read_hf_config, read_topology_csv
from spikesim.trace.vector import VectorLayer

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
        """``x`` as a float32 array ``[tokens, k]``, to read only: a generated layer's is
        shared and read-only, a trace's fresh."""
        ...

    def weights(self) -> np.ndarray:
        """``w`` as a float32 array ``[n, k]``, to read only (shared, as ``activations``)."""
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
        The token count: the largest M of a topology CSV; a model's prefill and generated
        tokens, all sequences together.
    seed:
        The seed every layer's values derive from.
    source:
        Provenance for ``summary.json`` (kind, file and its hash, seed, tokens, dimensions,
        generator and its statistics).
    layers:
        The layers, in order (a model's: the block plan of the module docstring).
    plan:
        A model's phases (:class:`~spikesim.trace.model_plan.PhasePlan`); ``None`` for a
        topology CSV.
    """

    kind: str
    name: str
    path: Path | None
    file_sha256: str | None
    tokens: int
    seed: int
    source: dict[str, Any] = field(hash=False)
    layers: tuple[WorkloadItem, ...]
    plan: PhasePlan | None = None

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
    return None if tokens is None else positive_int(tokens, "tokens")


def _check_seed(seed: int | None) -> int:
    if seed is None:
        return DEFAULT_SEED
    if not isinstance(seed, int) or isinstance(seed, bool) or not 0 <= seed <= MAX_SEED:
        raise InputError(
            f"seed must be an integer from 0 to 2^64-1, got {echo(seed)}", field="seed"
        )
    return seed


def _base_source(kind: str, seed: int, tokens: int | None) -> dict[str, Any]:
    return {
        "kind": kind,
        "generator": "spikesim.trace.synth",
        "generator_version": GENERATOR_VERSION,
        "seed": seed,
        "tokens": tokens,
        "dtype": GENERATED_DTYPE,
    }


def _pairs(fitted: FittedStats | None) -> tuple[tuple[str, ActivationStats], ...]:
    return () if fitted is None else fitted.pairs()


def _fitted_source(fitted: FittedStats | None) -> dict[str, Any]:
    """The ``source`` entry of fitted statistics (none without them: sources, and so sweep
    point ids, of workloads without ``stats`` are unchanged)."""
    return {} if fitted is None else {"fitted_statistics": fitted.source()}


def _model_workload(kind: str, name: str, dims: ModelShape, plan: PhasePlan, seed: int,
                    extra: dict[str, Any], path: Path | None = None,
                    file_sha256: str | None = None,
                    fitted: FittedStats | None = None) -> ShapeWorkload:
    """A named shape or a config's model under ``plan``."""
    tokens = plan.prefill_tokens + plan.generated_tokens
    source = {
        **_base_source(kind, seed, plan.tokens),
        **extra,
        "layers": dims.blocks,
        "query_block": ATTENTION_QUERY_BLOCK,
        "phases": plan.source(),
        "statistics": statistics_source(),
        **_fitted_source(fitted),
    }
    return ShapeWorkload(
        kind=kind, name=name, path=path, file_sha256=file_sha256, tokens=tokens, seed=seed,
        source=source, layers=model_layers(dims, plan, seed, _pairs(fitted)), plan=plan,
    )


def _named_shape(name: str, plan: PhaseArgs, seed: int,
                 fitted: FittedStats | None = None) -> ShapeWorkload:
    dims = SHAPES[name]
    extra = {"shape": name, "dims": {**asdict(dims), "head_dim": dims.head_dim}}
    return _model_workload("named-shape", name, dims, plan.check(f"named shape {name!r}"),
                           seed, extra, fitted=fitted)


def _hf_config(path: Path, plan: PhaseArgs, seed: int,
               fitted: FittedStats | None = None) -> ShapeWorkload:
    model, sha = read_hf_config(path)
    name = path.parent.name if path.name == "config.json" and path.parent.name else path.stem
    extra = {
        "model": name,
        "file": str(path.resolve()),
        "file_sha256": sha,
        "model_type": model.model_type,
        "architectures": list(model.architectures),
        "config": model.fields,
    }
    return _model_workload("hf-config", name, model.shape, plan.check("a config.json workload"),
                           seed, extra, path=path, file_sha256=sha, fitted=fitted)


def _csv_layer(row: GemmRow, index: int, m: int, seed: int, path: Path,
               override: bool, cache: InputCache,
               stats: tuple[tuple[str, ActivationStats], ...] = ()) -> GeneratedLayer:
    where = f"line {row.line}: "
    return GeneratedLayer(
        name=row.name, op="gemm", tokens=m, k=row.k, n=row.n, block=index, seed=seed,
        hidden=None,
        sha256=linear_recipe_sha256(seed=seed, block=index, op="gemm", tokens=m, k=row.k, n=row.n,
                                    hidden=None, stats=stats),
        stats=stats,
        x_size=(
            SizeSource("tokens", note="; give fewer tokens") if override
            else SizeSource("M", path, where)
        ),
        w_size=SizeSource("N", path, where),
        _cache=cache,
    )


def _topology_csv(path: Path, tokens: int | None, seed: int,
                  fitted: FittedStats | None = None) -> ShapeWorkload:
    rows, sha = read_topology_csv(path)
    override = tokens is not None
    ms = [tokens if tokens is not None else row.m for row in rows]
    cache = InputCache()
    layers = tuple(
        _csv_layer(row, i, m, seed, path, override, cache, _pairs(fitted))
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
        **_fitted_source(fitted),
    }
    return ShapeWorkload(
        kind="topology-csv", name=path.stem, path=path, file_sha256=sha, tokens=m_max,
        seed=seed, source=source, layers=layers,
    )


def _trace(path: Path, tokens: int | None, seed: int | None, phase: str | None = None) -> Trace:
    trace = load_trace(path, phase=phase)
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


TRACE_ON_DISK = "a trace on disk"


@dataclass(frozen=True)
class PhaseArgs:
    """The phase parameters as given (``None``: not given), checked once the workload's kind is
    known: a model completes them (:func:`~spikesim.trace.model_plan.phase_plan`), a trace or a
    topology CSV refuses any but ``phase`` ``prefill``."""

    tokens: int | None = None
    phase: str | None = None
    batch: int | None = None
    context: int | None = None
    decode_steps: int | None = None

    def check(self, what: str) -> PhasePlan:
        return phase_plan(phase=self.phase, batch=self.batch, tokens=self.tokens,
                          context=self.context, decode_steps=self.decode_steps, what=what)

    def refuse(self, what: str) -> None:
        """:class:`InputError` naming the first parameter given that ``what`` cannot take (a
        trace takes ``phase``: which of its recorded layers)."""
        trace = what == TRACE_ON_DISK
        given = [("phase", None if trace or self.phase == "prefill" else self.phase),
                 ("batch", self.batch), ("context", self.context),
                 ("decode_steps", self.decode_steps)]
        for name, value in given:
            if value is not None:
                why = ("'s batch, context and decode steps are those it was extracted with"
                       if trace else " is a list of prefill GEMMs")
                raise InputError(
                    f"{name} applies to a model workload (a named shape or a config.json); "
                    f"{what}{why}",
                    field=name,
                )


def load_workload(
    workload: str | os.PathLike[str],
    *,
    tokens: int | None = None,
    seed: int | None = None,
    phase: str | None = None,
    batch: int | None = None,
    context: int | None = None,
    decode_steps: int | None = None,
    stats: str | os.PathLike[str] | None = None,
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
    phase, batch, context, decode_steps:
        A model's phases (:func:`~spikesim.trace.model_plan.phase_plan`): ``prefill`` (the
        default), ``decode`` (needs ``context``) or ``both``; refused for a trace or a CSV.
    stats:
        A statistics file of ``spikesim fit-stats`` (:mod:`spikesim.trace.fitstats`): the
        generated linear inputs take its fitted statistics for the sites it has; refused for a
        trace (its values are on disk).

    Returns
    -------
    Trace | ShapeWorkload
        Either way, what :func:`spikesim.simulate` accepts. Nothing is generated yet.

    Raises
    ------
    InputError
        A missing path (field ``workload``), an unknown name (the known ones listed), a bad
        file (its row and field), tokens missing or not positive (``tokens``), a bad seed
        (``seed``), bad or contradictory phase parameters (the parameter named).
    """
    checked_tokens = _check_tokens(tokens)
    args = PhaseArgs(checked_tokens, phase, batch, context, decode_steps)
    text = os.fspath(workload)
    if not text:
        raise InputError("empty workload name", field="workload")
    loaded = _load(text, args, checked_tokens, seed, phase, stats)
    if stats is not None and not isinstance(loaded, ShapeWorkload):
        raise InputError(
            "applies to shape-only workloads (a trace's values are on disk, with their own "
            "statistics)", field="stats",
        )
    return loaded


def _load(text: str, args: PhaseArgs, checked_tokens: int | None, seed: int | None,
          phase: str | None, stats: str | os.PathLike[str] | None) -> Trace | ShapeWorkload:
    """:func:`load_workload` once its arguments are checked."""

    def fitted() -> FittedStats | None:
        return None if stats is None else read_activation_stats(os.fspath(stats))

    if text.startswith(SHAPE_PREFIX):
        name = text[len(SHAPE_PREFIX):]
        if name not in SHAPES:
            raise InputError(
                f"unknown named shape {echo(name)} (known: {', '.join(sorted(SHAPES))})",
                field="workload",
            )
        return _named_shape(name, args, _check_seed(seed), fitted())
    path = Path(text)
    if path.is_dir():
        args.refuse(TRACE_ON_DISK)
        return _trace(path, checked_tokens, seed, phase)
    suffix = path.suffix.lower()
    if path.exists() or path.is_symlink():
        if suffix == ".csv":
            args.refuse("a topology CSV")
            return _topology_csv(path, checked_tokens, _check_seed(seed), fitted())
        if suffix == ".json":
            return _hf_config(path, args, _check_seed(seed), fitted())
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
                args.refuse(TRACE_ON_DISK)
                return _trace(shipped, checked_tokens, seed, phase)
            except InputError as exc:
                if text not in SHAPES or exc.field not in (
                    "tokens", "seed", "phase", "batch", "context", "decode_steps"
                ):
                    raise
                raise InputError(
                    f"{exc.message}; {text!r} is the shipped trace, the named shape is "
                    f"{SHAPE_PREFIX}{text}",
                    field=exc.field,
                ) from None
        if text in SHAPES:
            return _named_shape(text, args, _check_seed(seed), fitted())
        raise _unknown(text)
    raise InputError("workload does not exist", file=path, field="workload")


@runtime_checkable
class _SizeChecked(Protocol):
    def check_size(self) -> None: ...


def check_layer_sizes(layers: Iterable[WorkloadItem]) -> None:
    """Refuse, before anything is generated, a generated layer whose ``x`` or ``w`` would hold
    more elements than its limit (the first one, by name): every layer with a ``check_size()``
    (generated linears and attention matmuls; trace layers are on disk and vector layers have
    no tensors: not checked)."""
    for layer in layers:
        if isinstance(layer, _SizeChecked):
            layer.check_size()


def _manifest_sha256(directory: Path) -> str:
    """SHA-256 of a trace's manifest, read through the same confinement as loading it (a
    manifest swapped for a link since is refused, not read)."""
    with _open_inside(directory / MANIFEST_NAME, directory, None, "manifest") as fh:
        return _sha256_open(fh)


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
        "manifest_sha256": _manifest_sha256(directory),
        "layer_sha256": layer_sha,
    }

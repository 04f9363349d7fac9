"""Linear layers whose values are generated when asked (shape-only workloads).

A :class:`GeneratedLayer` holds no values: its ``x`` and ``w`` come from the generator of
:mod:`spikesim.trace.synth` (the LLM-like statistics and random streams of ``synth``) when
:meth:`GeneratedLayer.activations` / :meth:`GeneratedLayer.weights` are called, so memory holds
one layer at a time (plus one cached input ``x``, :class:`InputCache`, shared by the layers of
a block that read the same input, and one cached ``w``, :class:`WeightCache`, shared by a
projection's decode steps). :func:`linear_recipe_sha256` is the layer's identity: equal
digests, equal values.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from spikesim.errors import InputError
from spikesim.schema import OpClass, Phase
from spikesim.trace.last_value import LastValue
from spikesim.trace.synth import (
    GENERATOR_VERSION,
    ActivationStats,
    check_tensor_size,
    generate_activations,
    generate_weights,
    site_of,
)

__all__ = [
    "GENERATED_DTYPE",
    "GeneratedLayer",
    "InputCache",
    "SizeSource",
    "WeightCache",
    "linear_recipe_sha256",
]

GENERATED_DTYPE = "float16"
"""Values of shape-only workloads are rounded to this dtype, as ``synth`` writes them (they are
held in float32 arrays: every consumer reads float32, and float32 holds them exactly)."""


class InputCache(LastValue[np.ndarray]):
    """The last generated input ``x`` (float16 values, float32) of one workload, keyed by
    everything its values depend on, so q/k/v_proj (and gate/up_proj) of a block generate it
    once. Holds one array."""


class WeightCache(LastValue[np.ndarray]):
    """The last generated weights ``w`` (float16 values, float32) of one workload, keyed by
    everything their values depend on, so a projection counted at every decode step one after
    the other (:func:`spikesim.sim.counts.counting_order`) generates them once. Holds one
    array."""


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
        ``linear``, and ``prefill`` or ``decode`` (the values do not depend on them).
    stream:
        Selects the random stream of ``x`` (:func:`~spikesim.trace.synth.generate_activations`):
        ``()`` for a prefill (``synth``'s values), ``(1, step)`` for decode step ``step``.
    stats:
        ``(site, statistics)`` pairs replacing the built-in activation statistics of those sites
        (fitted to a trace, :mod:`spikesim.trace.fitstats`); ``()``: the built-in ones.

    The layers of one workload share a one-entry cache of the last generated ``x``,
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
    stream: tuple[int, ...] = ()
    stats: tuple[tuple[str, ActivationStats], ...] = ()
    _cache: InputCache = field(
        default_factory=InputCache, compare=False, hash=False, repr=False
    )
    _weights: WeightCache = field(
        default_factory=WeightCache, compare=False, hash=False, repr=False
    )

    @property
    def reuse_key(self) -> tuple[object, ...]:
        """What the weights' values depend on: layers of equal keys (one projection in the
        prefill and at every decode step) have the same ``w`` (counted one after the other,
        they generate it once: :func:`spikesim.sim.counts.counting_order`)."""
        return ("weights", self.seed, self.block, self.op, self.n, self.k, GENERATED_DTYPE)

    def tensor_names(self) -> tuple[str, ...]:
        """``("x", "w")``: the tensors a generated layer has."""
        return ("x", "w")

    def check_size(self) -> None:
        """Refuse (:class:`InputError`) an ``x`` of more than 2^27 elements or a ``w`` of
        more than 2^28 (:func:`~spikesim.trace.synth.check_tensor_size`)."""
        for tensor, rows, size in (("x", self.tokens, self.x_size), ("w", self.n, self.w_size)):
            try:
                check_tensor_size(self.name, tensor, rows, self.k, field=size.field)
            except InputError as exc:
                raise InputError(size.where + exc.message + size.note, file=size.file,
                                 field=size.field) from None

    def tensor(self, name: str) -> np.ndarray:
        """Tensor ``x`` or ``w`` as generated, float16 (a new array)."""
        return self._held(name).astype(np.float16)

    def _held(self, name: str) -> np.ndarray:
        """Tensor ``x`` or ``w``: float16 values in a read-only float32 array (``x`` may be
        shared with the other layers of its block, ``w`` with the same projection at other
        decode steps)."""
        if name == "x":
            self.check_size()
            key = (self.seed, self.block, site_of(self.op), self.tokens, self.k, self.hidden,
                   self.stream, self.stats)
            x = self._cache.get(key, lambda: generate_activations(
                seed=self.seed, block=self.block, op=self.op, m=self.tokens, k=self.k,
                hidden=self.hidden, dtype=GENERATED_DTYPE, stream=self.stream,
                stats=dict(self.stats) or None, holder="float32",
            ))
            x.flags.writeable = False
            return x
        if name == "w":
            self.check_size()
            w = self._weights.get(self.reuse_key, lambda: generate_weights(
                seed=self.seed, block=self.block, op=self.op, n=self.n, k=self.k,
                dtype=GENERATED_DTYPE, holder="float32",
            ))
            w.flags.writeable = False
            return w
        raise InputError(f"layer {self.name!r} has no tensor {name!r} (has: x, w)", field=name)

    def activations(self) -> np.ndarray:
        """``x`` as a read-only float32 array ``[tokens, k]`` of float16 values, the one held
        for the layers of its block that read the same input (not a copy)."""
        return self._held("x")

    def weights(self) -> np.ndarray:
        """``w`` as a read-only float32 array ``[n, k]`` of float16 values (``nn.Linear``
        convention), shared with the projection's other decode steps."""
        return self._held("w")


def linear_recipe_sha256(
    *, seed: int, block: int, op: str, tokens: int, k: int, n: int, hidden: int | None,
    stream: tuple[int, ...] = (),
    stats: tuple[tuple[str, ActivationStats], ...] = (),
) -> str:
    """Digest of a generated linear layer's recipe (``stats``, when given, are part of it)."""
    recipe: dict[str, object] = {
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
    if stream:
        recipe["stream"] = list(stream)
    if stats:
        recipe["activation_stats"] = {site: asdict(value) for site, value in stats}
    text = json.dumps(recipe, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()

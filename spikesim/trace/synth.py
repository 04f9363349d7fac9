"""Synthetic traces with LLM-like activation and weight statistics.

:func:`synth_trace` writes a trace (see :mod:`spikesim.trace.format`) for the linear layers of
decoder blocks of a named model shape, or for a single GEMM, without needing the model. The
numbers are random but shaped like those of real quantized-LLM workloads, because what a spiking
accelerator costs depends on them (outliers make salient values, heavy tails make long spike
trains).

Shapes (``nn.Linear`` weights ``[N, K]``; K inputs → N outputs)
----------------------------------------------------------------
``llama2-7b`` (hidden 4096, intermediate 11008, 32 blocks)
    q/k/v/o_proj 4096→4096, gate/up_proj 4096→11008, down_proj 11008→4096.
``llama2-13b`` (hidden 5120, intermediate 13824, 40 blocks)
    q/k/v/o_proj 5120→5120, gate/up_proj 5120→13824, down_proj 13824→5120.
``llama2-70b`` (hidden 8192, 64 heads, 8 KV heads of dim 128, intermediate 28672, 80 blocks)
    q_proj 8192→8192, k/v_proj 8192→1024, o_proj 8192→8192, gate/up_proj 8192→28672,
    down_proj 28672→8192 (gate/up/down weights of 235 M elements, under
    :data:`MAX_WEIGHT_ELEMENTS`).
``mistral-7b`` (hidden 4096, 32 heads, 8 KV heads of dim 128, intermediate 14336, 32 blocks)
    q_proj 4096→4096, k/v_proj 4096→1024, o_proj 4096→4096, gate/up_proj 4096→14336,
    down_proj 14336→4096.
``smollm2-135m`` (hidden 576, 9 heads, 3 KV heads of dim 64, intermediate 1536, 30 blocks)
    q_proj 576→576, k/v_proj 576→192, o_proj 576→576, gate/up_proj 576→1536,
    down_proj 1536→576.
``gemm=(M, K, N)``
    One layer named ``gemm`` (op ``gemm``) with M tokens. Several GEMMs (a list of triples, all
    with the same M: a trace has one token count) give layers ``gemm.0``, ``gemm.1``, …; GEMM
    *i* draws from the streams of block *i*, so the first one equals the single-GEMM layer.

Layers are named ``layers.{i}.self_attn.{q,k,v,o}_proj`` and ``layers.{i}.mlp.{gate,up,down}_proj``
and written in that order. As in a real model, q/k/v_proj share one input and gate/up_proj share
another (the same array is stored in each layer's file).

Activation statistics (x, ``[M, K]``; bulk scale s = 1)
-----------------------------------------------------
* **Bulk**: Student-t with ``df`` degrees of freedom, normalised to unit variance, times a
  per-token scale (lognormal, σ = 0.25; token norms differ) and a per-channel gain (lognormal,
  σ = ``channel_sigma``; e.g. RMSNorm weights).
* **Persistent outlier channels**: a fraction ``outlier_fraction`` (≥ 1 channel) of input
  channels, the same for every token, carry values of magnitude ``outlier_lo``…``outlier_hi`` × s
  (log-spaced, one channel at the top of the range), a fixed sign per channel and ±15 % per-token
  variation. For inputs of width ``hidden`` (q/k/v and gate/up inputs) the outlier channels are the
  same in every block, like the persistent outlier features of the residual stream.
* **Rare massive values**: each entry independently with probability ``massive_rate`` becomes
  ± ``massive_lo``…``massive_hi`` × s (log-uniform).
* **down_proj input** is a SwiGLU product ``silu(g) * u`` of two heavy-tailed tensors (``g``
  :data:`SWIGLU_GATE_SCALE` deviations wide), so it is
  more heavy-tailed and skewed; its outlier channels come from ``u`` and it has 10× more massive
  values.

Site parameters (``df``, ``channel_sigma``, ``outlier_fraction``, outlier range, ``massive_rate``,
massive range) are in :data:`ACTIVATION_STATS` and are recorded in the manifest's ``source``.

Weight statistics (w, ``[N, K]``)
---------------------------------
Gaussian with standard deviation ``1/sqrt(K)`` times a per-output-channel scale (lognormal,
σ = 0.3), plus a few large weights (a fraction 2·10⁻⁶ of entries, at least 1) of magnitude
10…50 × ``1/sqrt(K)``.

Values are generated in float32 and written as ``dtype`` (default float16), clipped to its finite
range. Randomness comes only from ``numpy.random.default_rng([seed, block, site])``, one stream
per (block, tensor), so the same arguments give byte-identical files, and block *i* is the same
whatever the number of blocks requested. Only one block's tensors are in memory at a time (a
llama2-7b block at 2048 tokens peaks well under 1 GB).
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from spikesim.errors import InputError, echo
from spikesim.trace import pcg64
from spikesim.trace.format import (
    ExtraTensors,
    LayerTensors,
    Trace,
    with_extra_tensors,
    write_trace,
)
from spikesim.trace.half import FLOAT16_MAX, clip_round_to_float16
from spikesim.trace.shapes import SHAPES, ModelShape

__all__ = [
    "ACTIVATION_STATS",
    "DEFAULT_TOKENS",
    "GENERATOR_VERSION",
    "MAX_SEED",
    "MAX_TENSOR_ELEMENTS",
    "MAX_WEIGHT_ELEMENTS",
    "SHAPES",
    "SWIGLU_GATE_SCALE",
    "ActivationStats",
    "Gemm",
    "ModelShape",
    "check_tensor_size",
    "gemm_names",
    "generate_activations",
    "generate_weights",
    "layer_plan",
    "parse_gemm",
    "plan_block",
    "shape_plan",
    "site_of",
    "site_stats",
    "statistics_source",
    "synth_layers",
    "synth_trace",
]

GENERATOR_VERSION = 1
"""Bumped whenever the generated numbers change for the same arguments."""

DEFAULT_TOKENS = 256
"""Tokens M used for named shapes when ``tokens`` is not given."""

_DTYPES = ("float16", "float32")

MAX_TENSOR_ELEMENTS = 2**27
"""Most elements of one generated activation tensor (x ``[M, K]``): 512 MiB in float32. An
input is generated in float32 with up to three such temporaries (the SwiGLU input of
down_proj), so an input at the limit peaks around 2 GB; larger requests are refused up front,
naming the flag (``tokens`` for a shape: llama2-7b allows up to 12,192 tokens; ``gemm``)."""

MAX_WEIGHT_ELEMENTS = 2**28
"""Most elements of one generated weight tensor (w ``[N, K]``): 1 GiB in float32, with no
SwiGLU temporaries. It admits llama2-70b's MLP projections (28672 x 8192 = 235 M): one of them
at 64 tokens peaked at 5.05 GB under SpikeQuant (measured: generation, quantization and the
exact outputs of gate_proj)."""

MAX_SEED = 2**64 - 1
"""Largest seed (it is stored in the manifest; numpy seeds are 64-bit words)."""




@dataclass(frozen=True)
class ActivationStats:
    """Parameters of one activation site (see the module docstring); magnitudes × bulk scale."""

    df: float
    channel_sigma: float
    outlier_fraction: float
    outlier_lo: float
    outlier_hi: float
    massive_rate: float
    massive_lo: float
    massive_hi: float


ACTIVATION_STATS: dict[str, ActivationStats] = {
    # Post-RMSNorm residual stream, input of q/k/v_proj.
    "attn_in": ActivationStats(4.5, 0.3, 0.0075, 10.0, 100.0, 1e-5, 100.0, 1000.0),
    # Attention output, input of o_proj: milder channels.
    "o_in": ActivationStats(5.0, 0.4, 0.005, 10.0, 30.0, 1e-5, 100.0, 1000.0),
    # Post-RMSNorm residual stream, input of gate/up_proj.
    "mlp_in": ActivationStats(4.5, 0.3, 0.0075, 10.0, 100.0, 1e-5, 100.0, 1000.0),
    # SwiGLU product silu(g) * u, input of down_proj.
    "down_in": ActivationStats(4.0, 0.5, 0.0075, 10.0, 100.0, 1e-4, 100.0, 1000.0),
}
"""Statistics of each activation site, by site name."""

SWIGLU_GATE_SCALE = 1.5
"""The gate ``g`` of the down_proj input ``silu(g) * u`` is this many unit-variance Student-t
deviations wide."""


def site_stats(site: str, table: Mapping[str, ActivationStats] | None = None) -> ActivationStats:
    """The statistics of ``site``: ``table``'s (statistics fitted to a trace,
    :mod:`spikesim.trace.fitstats`) when it has the site, else :data:`ACTIVATION_STATS`'."""
    if table is not None and site in table:
        return table[site]
    return ACTIVATION_STATS[site]


_WEIGHT_CHANNEL_SIGMA = 0.3
_LARGE_WEIGHT_FRACTION = 2e-6
_LARGE_WEIGHT_LO, _LARGE_WEIGHT_HI = 10.0, 50.0
_TOKEN_SIGMA = 0.25
_OUTLIER_JITTER = 0.15

# Stream ids for default_rng([seed, block, site]).
_SITE_IDS = {"hidden_outliers": 0, "attn_in": 1, "o_in": 2, "mlp_in": 3, "down_in": 4}
_WEIGHT_SITE_BASE = 16
_OPS = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")
_OP_SITE = {
    "q_proj": "attn_in",
    "k_proj": "attn_in",
    "v_proj": "attn_in",
    "o_proj": "o_in",
    "gate_proj": "mlp_in",
    "up_proj": "mlp_in",
    "down_proj": "down_in",
    "gemm": "attn_in",
}


def parse_gemm(text: str) -> tuple[int, int, int]:
    """Parse ``"M,K,N"`` (tokens, input features, output features) into positive integers.

    Raises
    ------
    InputError
        ``field="gemm"`` if the text is not three positive integers.
    """
    parts = [p.strip() for p in text.split(",")]
    try:
        values = tuple(int(p) for p in parts)
    except ValueError:
        values = ()
    if len(values) != 3 or min(values) <= 0:
        raise InputError(
            f"expected M,K,N as three positive integers, got {echo(text)}", field="gemm"
        )
    return values[0], values[1], values[2]


def layer_plan(shape: str, layers: int) -> list[tuple[str, str, int, int]]:
    """(name, op, K, N) of every linear layer of the first ``layers`` blocks of ``shape``."""
    return shape_plan(SHAPES[shape], layers)


def shape_plan(dims: ModelShape, layers: int) -> list[tuple[str, str, int, int]]:
    """(name, op, K, N) of every linear layer of the first ``layers`` blocks of ``dims``, in
    the order :func:`synth_trace` writes them (``layers.{i}.self_attn.{q,k,v,o}_proj``,
    ``layers.{i}.mlp.{gate,up,down}_proj``)."""
    io = {
        "q_proj": (dims.hidden, dims.q_out),
        "k_proj": (dims.hidden, dims.kv_out),
        "v_proj": (dims.hidden, dims.kv_out),
        "o_proj": (dims.q_out, dims.hidden),
        "gate_proj": (dims.hidden, dims.intermediate),
        "up_proj": (dims.hidden, dims.intermediate),
        "down_proj": (dims.intermediate, dims.hidden),
    }
    plan = []
    for i in range(layers):
        for op in _OPS:
            group = "self_attn" if op in ("q_proj", "k_proj", "v_proj", "o_proj") else "mlp"
            k, n = io[op]
            plan.append((f"layers.{i}.{group}.{op}", op, k, n))
    return plan


# --------------------------------------------------------------------------------------------
# Generators (float32, vectorised)
# --------------------------------------------------------------------------------------------


def _student_t(rng: np.random.Generator, shape: tuple[int, int], df: float) -> np.ndarray:
    """Student-t samples scaled to unit variance (float32).

    ``t = z * sqrt(df / chi2_df)`` with ``chi2_df = 2 * Gamma(df / 2)``, times ``sqrt((df-2)/df)``.
    """
    out = pcg64.standard_normal(rng, shape)
    gamma = pcg64.standard_gamma(rng, df / 2.0, shape)
    np.maximum(gamma, np.float32(1e-12), out=gamma)
    # sqrt(df / (2 gamma)) * sqrt((df - 2) / df) = sqrt((df - 2) / 2 / gamma)
    np.reciprocal(gamma, out=gamma)
    gamma *= np.float32((df - 2.0) / 2.0)
    np.sqrt(gamma, out=gamma)
    out *= gamma
    return out


def _outlier_channels(rng: np.random.Generator, k: int, fraction: float) -> np.ndarray:
    count = min(k, max(1, round(fraction * k)))
    return np.sort(rng.choice(k, size=count, replace=False))


def _bulk(rng: np.random.Generator, m: int, k: int, stats: ActivationStats) -> np.ndarray:
    """Heavy-tailed bulk with per-token and per-channel scales, float32 [m, k]."""
    x = _student_t(rng, (m, k), stats.df)
    token_scale = rng.lognormal(0.0, _TOKEN_SIGMA, size=(m, 1)).astype(np.float32)
    channel_gain = rng.lognormal(0.0, stats.channel_sigma, size=(1, k)).astype(np.float32)
    x *= token_scale
    x *= channel_gain
    return x


def _add_outliers(
    rng: np.random.Generator,
    x: np.ndarray,
    channels: np.ndarray,
    stats: ActivationStats,
    *,
    multiply: bool,
) -> None:
    """Make ``channels`` persistent outliers: set (or multiply) them to ±lo…hi with jitter."""
    m = x.shape[0]
    count = channels.size
    magnitudes = np.geomspace(stats.outlier_hi, stats.outlier_lo, count)
    rng.shuffle(magnitudes)
    signs = rng.choice(np.array([-1.0, 1.0]), size=count)
    jitter = 1.0 + _OUTLIER_JITTER * rng.standard_normal((m, count))
    values = (signs * magnitudes * jitter).astype(np.float32)
    if multiply:
        x[:, channels] *= np.abs(values)
    else:
        x[:, channels] = values


def _add_massive(rng: np.random.Generator, x: np.ndarray, stats: ActivationStats) -> None:
    """Scatter rare massive values (probability ``massive_rate`` per entry)."""
    flat = x.reshape(-1)
    count = int(rng.binomial(flat.size, stats.massive_rate))
    if count == 0:
        return
    idx = rng.integers(0, flat.size, size=count)
    mags = np.exp(rng.uniform(np.log(stats.massive_lo), np.log(stats.massive_hi), size=count))
    signs = rng.choice(np.array([-1.0, 1.0]), size=count)
    flat[idx] = (signs * mags).astype(np.float32)


def _activations(
    seed: int, block: int, site: str, m: int, k: int, shared_channels: np.ndarray | None,
    stream: tuple[int, ...] = (), table: Mapping[str, ActivationStats] | None = None,
) -> np.ndarray:
    stats = site_stats(site, table)
    rng = np.random.default_rng([seed, block, _SITE_IDS[site], *stream])
    if site == "down_in":
        # SwiGLU: silu(g) * u, g and u heavy-tailed; outlier channels come through u.
        u = _bulk(rng, m, k, stats)
        channels = _outlier_channels(rng, k, stats.outlier_fraction)
        _add_outliers(rng, u, channels, stats, multiply=True)
        g = _student_t(rng, (m, k), stats.df)
        g *= np.float32(SWIGLU_GATE_SCALE)
        # silu(g) = g / (1 + exp(-g)), in place; exp overflow to inf gives 0, which is right.
        sig = np.negative(g)
        with np.errstate(over="ignore"):
            np.exp(sig, out=sig)
        sig += np.float32(1.0)
        np.divide(g, sig, out=g)
        del sig
        u *= g
        del g
        x = u
    else:
        x = _bulk(rng, m, k, stats)
        channels = (
            shared_channels
            if shared_channels is not None
            else _outlier_channels(rng, k, stats.outlier_fraction)
        )
        _add_outliers(rng, x, channels, stats, multiply=False)
    _add_massive(rng, x, stats)
    return x


def _weights(seed: int, block: int, op_index: int, n: int, k: int) -> np.ndarray:
    rng = np.random.default_rng([seed, block, _WEIGHT_SITE_BASE + op_index])
    w = pcg64.standard_normal(rng, (n, k))
    row_scale = rng.lognormal(0.0, _WEIGHT_CHANNEL_SIGMA, size=(n, 1)) / np.sqrt(k)
    w *= row_scale.astype(np.float32)
    count = max(1, round(_LARGE_WEIGHT_FRACTION * n * k))
    idx = rng.integers(0, n * k, size=count)
    mags = np.exp(rng.uniform(np.log(_LARGE_WEIGHT_LO), np.log(_LARGE_WEIGHT_HI), size=count))
    signs = rng.choice(np.array([-1.0, 1.0]), size=count)
    w.reshape(-1)[idx] = (signs * mags / np.sqrt(k)).astype(np.float32)
    return w


def _cast(arr: np.ndarray, dtype: str, holder: str | None = None) -> np.ndarray:
    """Round float32 ``arr`` (in place) to ``dtype``'s values, clipped to its finite range so
    no Inf appears, held in ``holder`` (default ``dtype``; float32 holds float16 values
    exactly)."""
    if dtype == "float32":
        return arr
    if holder == "float32":
        return clip_round_to_float16(arr)
    limit = np.float32(FLOAT16_MAX)
    np.clip(arr, -limit, limit, out=arr)
    return arr.astype(np.float16)


def site_of(op: str) -> str:
    """The activation-statistics site (a key of :data:`ACTIVATION_STATS`) of the input of
    ``op`` (``q_proj`` … ``down_proj``; ``gemm`` and any other op: ``attn_in``)."""
    return _OP_SITE.get(op, "attn_in")


def generate_activations(
    *, seed: int, block: int, op: str, m: int, k: int, hidden: int | None, dtype: str,
    stream: tuple[int, ...] = (), stats: Mapping[str, ActivationStats] | None = None,
    holder: str | None = None,
) -> np.ndarray:
    """The input ``x`` ``[m, k]`` of layer ``op`` of block ``block``, as :func:`synth_trace`
    writes it (``dtype``, float16 clipped to its finite range), in an array of dtype
    ``holder`` (default ``dtype``; ``"float32"``: the same values, widened).

    ``hidden`` is the model's residual width when the layer belongs to a model shape: the
    inputs of q/k/v and gate/up_proj then carry the persistent outlier channels of the
    residual stream, the same in every block; ``None`` for a standalone GEMM. Values depend
    only on the arguments (one random stream per (seed, block, site)).

    ``stream`` (non-negative integers) selects another stream of the same statistics: the
    rows of a decode step (``(1, step)``) are new tokens, not the prefill's rows again. Empty
    (the default) is the stream ``synth`` writes. The residual stream's outlier channels are
    the model's in every stream; a site's own outlier channels (o_proj and down_proj inputs)
    and channel gains are drawn with the rows, so another stream redraws them.

    ``stats``: statistics per site replacing :data:`ACTIVATION_STATS`' (sites it lacks keep
    those); the random streams are the same, so only the values' statistics change.
    """
    site = site_of(op)
    shared: np.ndarray | None = None
    if hidden is not None and site in ("attn_in", "mlp_in"):
        rng = np.random.default_rng([seed, 0, _SITE_IDS["hidden_outliers"]])
        shared = _outlier_channels(rng, hidden, site_stats("attn_in", stats).outlier_fraction)
    return _cast(_activations(seed, block, site, m, k, shared, stream, stats), dtype, holder)


def generate_weights(
    *, seed: int, block: int, op: str, n: int, k: int, dtype: str, holder: str | None = None
) -> np.ndarray:
    """The weights ``w`` ``[n, k]`` of layer ``op`` of block ``block``, as :func:`synth_trace`
    writes them (``dtype``), in an array of dtype ``holder`` (default ``dtype``); one random
    stream per (seed, block, op)."""
    op_index = _OPS.index(op) if op in _OPS else len(_OPS)
    return _cast(_weights(seed, block, op_index, n, k), dtype, holder)


def check_tensor_size(name: str, tensor: str, rows: int, k: int, *, field: str) -> None:
    """Refuse a generated tensor of more elements than its limit (``x`` ``[M, K]``:
    :data:`MAX_TENSOR_ELEMENTS`; ``w`` ``[N, K]``: :data:`MAX_WEIGHT_ELEMENTS`):
    :class:`InputError` naming layer ``name``, the tensor and ``field`` (the argument or flag
    that set the size)."""
    limit, text = ((MAX_WEIGHT_ELEMENTS, "2^28, 1 GiB") if tensor == "w"
                   else (MAX_TENSOR_ELEMENTS, "2^27, 512 MiB"))
    if rows * k > limit:
        raise InputError(
            f"{tensor} of layer {name!r} would be {rows} x {k} = {rows * k:.3g} elements, "
            f"more than the {limit} ({text} in float32) a synthetic {tensor} may hold",
            field=field,
        )


# --------------------------------------------------------------------------------------------
# Public API
# --------------------------------------------------------------------------------------------


Gemm = tuple[int, int, int]
"""(M, K, N): M tokens, K input features, N output features."""


def _gemm_list(gemm: Gemm | Sequence[Gemm]) -> list[Gemm]:
    """``gemm`` as a list of (M, K, N): one triple, or a sequence of triples."""
    if isinstance(gemm, list | tuple) and gemm and all(isinstance(g, list | tuple) for g in gemm):
        return [tuple(g) for g in gemm]
    return [gemm]  # type: ignore[list-item]


def gemm_names(count: int) -> list[str]:
    """Layer names of ``count`` GEMMs: ``gemm`` for one, ``gemm.0`` … for several."""
    return ["gemm"] if count == 1 else [f"gemm.{i}" for i in range(count)]


def _check_args(
    shape: str | None,
    gemm: Gemm | Sequence[Gemm] | None,
    layers: int,
    tokens: int | None,
    seed: int,
    dtype: str,
) -> tuple[int, list[tuple[str, str, int, int]]]:
    """Validate arguments; return (M, plan)."""
    if (shape is None) == (gemm is None):
        raise InputError("give exactly one of a named shape or a gemm M,K,N", field="shape")
    if dtype not in _DTYPES:
        raise InputError(f"dtype must be one of {', '.join(_DTYPES)}, got {dtype!r}", field="dtype")
    if not isinstance(seed, int) or isinstance(seed, bool) or not 0 <= seed <= MAX_SEED:
        raise InputError(
            f"seed must be an integer from 0 to 2^64-1, got {echo(seed)}", field="seed"
        )
    if not isinstance(layers, int) or isinstance(layers, bool) or layers < 1:
        raise InputError(f"layers must be a positive integer, got {layers!r}", field="layers")
    if tokens is not None and (
        not isinstance(tokens, int) or isinstance(tokens, bool) or tokens < 1
    ):
        raise InputError(f"tokens must be a positive integer, got {tokens!r}", field="tokens")
    if gemm is not None:
        gemms = _gemm_list(gemm)
        for g in gemms:
            if len(g) != 3 or not all(
                isinstance(d, int) and not isinstance(d, bool) and d > 0 for d in g
            ):
                raise InputError(
                    f"gemm must be three positive integers M,K,N, got {g!r}", field="gemm"
                )
        m = gemms[0][0]
        for g in gemms[1:]:
            if g[0] != m:
                raise InputError(
                    f"every gemm of one trace needs the same M (a trace has one token count); "
                    f"got M={m} and M={g[0]}",
                    field="gemm",
                )
        if tokens is not None and tokens != m:
            raise InputError(
                f"tokens={tokens} contradicts gemm M={m} (leave tokens unset for a gemm)",
                field="tokens",
            )
        if layers != 1:
            raise InputError(
                "layers applies to a named shape; a gemm trace has one layer per gemm",
                field="layers",
            )
        plan = [
            (name, "gemm", k, n)
            for name, (_, k, n) in zip(gemm_names(len(gemms)), gemms, strict=True)
        ]
        _check_size(m, plan, "gemm")
        return m, plan
    assert shape is not None
    if shape not in SHAPES:
        raise InputError(
            f"unknown shape {shape!r} (known: {', '.join(sorted(SHAPES))})", field="shape"
        )
    if layers > SHAPES[shape].blocks:
        raise InputError(
            f"{shape} has {SHAPES[shape].blocks} blocks, asked for {layers}", field="layers"
        )
    m = DEFAULT_TOKENS if tokens is None else tokens
    plan = layer_plan(shape, layers)
    _check_size(m, plan, "tokens")
    return m, plan


def _check_size(m: int, plan: list[tuple[str, str, int, int]], flag: str) -> None:
    """Refuse a layer whose x ``[m, K]`` or w ``[N, K]`` exceeds its limit
    (:func:`check_tensor_size`)."""
    for name, _, k, n in plan:
        check_tensor_size(name, "x", m, k, field=flag)
        check_tensor_size(name, "w", n, k, field=flag)


def synth_layers(
    *,
    shape: str | None = None,
    gemm: Gemm | Sequence[Gemm] | None = None,
    layers: int = 1,
    tokens: int | None = None,
    seed: int = 0,
    dtype: str = "float16",
) -> Iterator[LayerTensors]:
    """Generate the layers of a synthetic trace one at a time (arguments as :func:`synth_trace`).

    Arguments are validated before the first layer is produced (when the iterator is created).
    """
    m, plan = _check_args(shape, gemm, layers, tokens, seed, dtype)
    return _generate(m, plan, shape, seed, dtype)


def plan_block(name: str, index: int) -> int:
    """The random-stream block of the layer ``name`` at ``index`` in a synthetic plan: ``i``
    of ``layers.{i}.…``, else (GEMMs) its index."""
    if name.startswith("layers."):
        return int(name.split(".")[1])
    return index


def _generate(
    m: int,
    plan: list[tuple[str, str, int, int]],
    shape: str | None,
    seed: int,
    dtype: str,
) -> Iterator[LayerTensors]:
    hidden = SHAPES[shape].hidden if shape is not None else None
    cached_site: tuple[int, str] | None = None
    cached_x: np.ndarray | None = None
    for index, (name, op, k, n) in enumerate(plan):
        block = plan_block(name, index)
        site = site_of(op)
        if cached_site != (block, site) or cached_x is None:
            cached_x = None  # release the previous input before generating the next
            cached_x = generate_activations(
                seed=seed, block=block, op=op, m=m, k=k, hidden=hidden, dtype=dtype
            )
            cached_site = (block, site)
        w = generate_weights(seed=seed, block=block, op=op, n=n, k=k, dtype=dtype)
        yield LayerTensors(name=name, op=op, tensors={"x": cached_x, "w": w})
        del w


def statistics_source() -> dict[str, Any]:
    """The generator's statistics, as recorded in a synthetic trace's or workload's source."""
    return {
        "activations": {site: asdict(s) for site, s in ACTIVATION_STATS.items()},
        "weights": {
            "std": "1/sqrt(K)",
            "channel_sigma": _WEIGHT_CHANNEL_SIGMA,
            "large_fraction": _LARGE_WEIGHT_FRACTION,
            "large_range": [_LARGE_WEIGHT_LO, _LARGE_WEIGHT_HI],
        },
        "token_sigma": _TOKEN_SIGMA,
        "outlier_jitter": _OUTLIER_JITTER,
    }


def _gemm_source(gemm: Gemm | Sequence[Gemm] | None) -> list[Any] | None:
    """The manifest's ``gemm``: ``[M, K, N]`` for one GEMM, a list of them for several."""
    if gemm is None:
        return None
    gemms = _gemm_list(gemm)
    return list(gemms[0]) if len(gemms) == 1 else [list(g) for g in gemms]


def synth_trace(
    path: str | os.PathLike[str],
    *,
    shape: str | None = None,
    gemm: Gemm | Sequence[Gemm] | None = None,
    layers: int = 1,
    tokens: int | None = None,
    seed: int = 0,
    dtype: str = "float16",
    name: str | None = None,
    extra: ExtraTensors | None = None,
    source_extra: Mapping[str, Any] | None = None,
) -> Trace:
    """Write a synthetic trace with LLM-like statistics and return it loaded.

    Parameters
    ----------
    path:
        Trace directory to write (replaced atomically if it already holds a trace). Its last
        component becomes the trace name.
    shape:
        Named model shape (``"llama2-7b"``, ``"smollm2-135m"``); exclusive with ``gemm``.
    gemm:
        ``(M, K, N)``: one layer ``gemm`` with M tokens, K inputs, N outputs; or a sequence of
        such triples with the same M: layers ``gemm.0``, ``gemm.1``, …; exclusive with
        ``shape``.
    layers:
        Number of decoder blocks (7 linear layers each) for a named shape; must be 1 for gemms.
    tokens:
        Tokens M per layer for a named shape (default :data:`DEFAULT_TOKENS`). For a gemm leave it
        unset (M comes from ``gemm``) or equal to M.
    seed:
        Non-negative seed; the same arguments give byte-identical files.
    dtype:
        ``"float16"`` (default) or ``"float32"`` for ``x`` and ``w``.
    name:
        Trace name recorded in the manifest (default: the directory's name).
    extra, source_extra:
        Tensors to store beside ``x`` and ``w`` (see :func:`with_extra_tensors`) and what to add
        to the manifest's ``source`` about them.

    Returns
    -------
    Trace

    Raises
    ------
    InputError
        For bad arguments (``field`` is the argument name) or an unwritable ``path``.
    """
    m, plan = _check_args(shape, gemm, layers, tokens, seed, dtype)
    source: dict[str, Any] = {
        "kind": "synthetic",
        "generator": "spikesim.trace.synth",
        "generator_version": GENERATOR_VERSION,
        "shape": shape if shape is not None else "gemm",
        "gemm": _gemm_source(gemm),
        "layers": layers,
        "tokens": m,
        "seed": seed,
        "dtype": dtype,
        "statistics": statistics_source(),
    }
    target = Path(path)
    return write_trace(
        target,
        name=name or target.name,
        source={**source, **dict(source_extra or {})},
        layers=with_extra_tensors(_generate(m, plan, shape, seed, dtype), extra),
    )

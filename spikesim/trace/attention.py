"""The attention matmuls of a prefill pass, as GEMM layers of a shape-only workload.

A decoder block's attention computes, for each query head h (causal, scaled)::

    S_h = Q_h K_g^T / sqrt(d)      P_h = softmax(S_h)      O_h = P_h V_g

where d is the head dimension and g = h // (heads / kv_heads) is the key/value head that query
head h shares with the other heads of its group (grouped-query attention, GQA; Hugging Face's
``repeat_kv``). :func:`attention_layers` turns one block's attention into GEMM layers that every
design simulates like a linear layer: ``x`` ``[M, K]`` plays the activations and ``w``
``[N, K]`` the weights. A spiking design runs them as "spike x integer": the queries (or the
probabilities P) become spikes, the integers of K (or V) play the weights; a MAC design runs the
same GEMMs on its systolic array.

Tiling (FlashAttention-style, causal)
-------------------------------------
Queries are cut into blocks of ``query_block`` tokens; query block i (positions
[i·query_block, min((i+1)·query_block, tokens))) attends keys [0, L_i) with
L_i = min((i+1)·query_block, tokens). Key tiles above the diagonal are fully masked and
skipped; the diagonal tile is computed whole, its masked entries included (the array does not
know the mask). Per (KV group g, query block i) there are two layers:

``layers.{block}.attn.score.g{g}.q{i}`` (op ``attn_score``)
    ``x`` = the queries of the group's heads in block i, ``[heads_per_group · rows, d]``;
    ``w`` = K_g[0:L_i], ``[L_i, d]``. Output: Q K^T, the unscaled scores (1/sqrt(d) belongs to
    the softmax, which runs on the vector unit, not here).
``layers.{block}.attn.value.g{g}.q{i}`` (op ``attn_value``)
    ``x`` = P, ``[heads_per_group · rows, L_i]``; ``w`` = V_g^T[:, 0:L_i], ``[d, L_i]``.
    Output: P V.

Rows are token-major: row r is query position i·query_block + r // heads_per_group of head
g·heads_per_group + r % heads_per_group, as FlashAttention-3 packs the query heads of one KV
head into one tile (``PackGQA``: physical row / qhead_per_khead is the token). The first rows
of a layer (what a static calibration reads, ``quant.calibration_tokens``) therefore hold every
head of the group. For llama2-7b at 2048 tokens (32 heads, no GQA) a block has 32 groups × 16
query blocks × 2 = 1024 such layers; they compute the lower triangle plus half of each diagonal
tile, (tokens² / 2 + tokens · query_block / 2) · d MACs per head and matmul.

Batches and decode steps
------------------------
A batch of B sequences (``sequences``) repeats the layers per sequence, each attending only its
own keys (names end ``.seq{b}`` when B > 1). A decode step
(:func:`decode_attention_layers`) has one query token per sequence, at position p, against
its keys 0 … p (the KV cache and its own): per KV group and sequence a score layer
``decode.{step}.layers.{block}.attn.score.g{g}.seq{b}`` (``x`` ``[heads_per_group, d]``, ``w``
= K_g[0:p+1]) and a value layer (``x`` = P ``[heads_per_group, p+1]``, ``w`` = V_g^T); no key
is masked. Sequence b's per-token draws come from its own streams (sequence 0's are those of
a batch of one, so a decode continuing a prefill reads the prefill's very keys); the group's
constants (gains, massive pairs, the sink key) are the model's, shared by every sequence.

P is computed exactly: the float32 softmax (max subtracted) of the float32 scores
x W^T / sqrt(d) of the very float16 ``q`` and ``k`` the score layer holds, with masked entries
set to 0 (a masked probability is 0: no spike on the IF array, a multiplication by zero on a
MAC array, which computes the dense tile anyway). Every row of P sums to 1 over its keys
0 … t (to float32 rounding). P lies in [0, 1], so its per-token symmetric quantization uses
only the positive half of the integer range.

Quantization of these layers (no design treats an op specially): K and V are the weights,
quantized per output channel — for a score layer a channel is one *key* (a row of K), for a
value layer one *head dimension* of V (over the L_i keys); Q and P are the activations, per
token (row), SpikeQuant's MAD saliency applied to them as to any activation. With the
default 128 keepers, Atom keeps all of a score layer's K = d = 128 query channels at INT8 (and
all keys of the first query block's value layer); a later value layer keeps the 128 keys of
largest Σ P² on the calibration rows. SpikeLLM's salient channels come from its proxy on the
calibration rows, as for a linear. No edit of ``spikesim/quant`` or ``spikesim/dataflows`` was
needed: ``op`` is carried through, never interpreted.

Values: LLM-like q, k, v after RoPE
-----------------------------------
Generated per (block, KV group) for the whole sequence, from seeded streams
``numpy.random.default_rng([seed, block, 64, group, part, chunk])``, in float32, rounded to
float16 (clipped to its finite range) as q/k/v are held in a real model; what a layer asks for
is sliced from them. Token t's values depend only on (seed, block, group, t, the shape's
``head_dim`` and heads per group, :data:`ATTENTION_STATS`), not on ``tokens``,
``query_block`` or the order layers are asked in (per-token draws come in fixed chunks of
:data:`CHUNK_TOKENS` tokens, each from its own stream). Pre-RoPE, per head (bulk scale 1):

* **Bulk** (q, k): Student-t (``df``) of unit variance, times a per-channel gain (lognormal,
  ``channel_sigma``; one per query head, one per KV head) and a per-token scale (lognormal,
  ``token_sigma``).
* **Massive values in low-frequency rotary dimensions** (q and k): ``massive_pairs`` of the
  d/2 rotary pairs (j, j + d/2) — at least one, drawn per KV group among the
  ``massive_region`` lowest-frequency pairs (RoPE frequency base^(-2j/d) smallest for j near
  d/2) — carry a persistent 2-vector of norm ``massive_lo`` … ``massive_hi`` × bulk
  (log-uniform per head and pair) and ±``massive_jitter`` per token; its phase is drawn per
  pair for the group's query heads (each head off by ``head_phase_sigma``) and independently
  for the key. The same pairs in every query head of the group and in its key, because the
  paper that found them sees them concentrated in specific regions of both Q and K. Being
  low-frequency (d = 128: pairs 60 … 63, ω ≤ 1.8·10⁻⁴ rad per position) they turn by at most
  0.36 rad over 2048 positions, so post-RoPE they stay persistent outlier channels, the
  structure KIVI and KVQuant report for keys.
* **Content with recency** (q and k): a shared content vector z_t per group, AR(1) over
  positions with correlation ``content_rho`` and unit variance, enters q and k with weight
  ``content_weight`` (the bulk with sqrt(1 - content_weight²)), so a query meets its own and
  its neighbours' keys with a larger score; with RoPE's rotation this gives the recency
  decay of RoFormer's "long-term decay" property.
* **Attention sink** (k at position 0): the first key is a "key bias": a tenth of the bulk
  (content included) plus, instead of the key's massive values, the least-norm vector in the
  massive channels (where the queries have their mean) whose score, after 1/sqrt(d), exceeds
  that of an average key by ``sink_lo`` … ``sink_hi`` (uniform per query head; exact for up
  to 2 × massive pairs heads per group, least squares beyond); the first value is scaled by
  ``sink_value_scale``. Most heads then put a large share of attention on token 0 and take
  little from it.
* **v**: Student-t (``v_df``) times a per-channel gain (lognormal, ``v_channel_sigma``) and a
  per-token scale; no outlier channels ("values show no such structure").

Then q and k are rotated by RoPE (Hugging Face's rotate-half convention, base
:data:`ROPE_BASE` = 10000 of Llama 2 and Mistral 7B v0.1).

Sources (the structure; magnitudes are our reconstruction, every one a field of
:class:`AttentionStats`, recorded by :func:`attention_statistics_source`):

* Jin et al., "Massive Values in Self-Attention Modules are the Key to Contextual Knowledge
  Understanding", ICML 2025, arXiv:2502.01563: concentrated massive values in specific regions
  of Q and K, not in V, in RoPE models (Llama, Gemma, Qwen), in the low-frequency dimensions,
  from the first layers on.
* Liu et al., "KIVI: A Tuning-Free Asymmetric 2bit Quantization for KV Cache", ICML 2024,
  arXiv:2402.02750: the key cache has a few fixed channels of persistently large magnitude,
  the value cache no such structure (per-channel keys, per-token values).
* Hooper et al., "KVQuant", arXiv:2401.18079: per-channel outliers in keys, quantized
  pre-RoPE because RoPE mixes channel pairs (our high-frequency pairs carry no persistent
  means, so their post-RoPE channels look like noise).
* Xiao et al., "Efficient Streaming Language Models with Attention Sinks" (StreamingLLM),
  arXiv:2309.17453: a large share of attention goes to the initial token whatever its
  content. Gu et al., "When Attention Sink Emerges in Language Models: An Empirical View",
  arXiv:2410.10781: the sink acts as a key bias (its key aligned with the queries, its norm
  not larger) and its value has a small norm.
* Su et al., "RoFormer", arXiv:2104.09864: RoPE's rotate-pair form and the decay of the
  inner product with relative distance.

What the defaults give (measured on the 32 heads of llama2-7b's block 0, seed 0, 2048 tokens;
median, and 10th-90th percentile over heads) — outcomes of the reconstruction, not targets
taken from a paper:

* attention on token 0: 0.73 (0.29-0.95) for queries 128-255, 0.26 (0.01-0.76) for queries
  1920-2047; effective keys exp(entropy of P) 3.1 (1.3-7.5) and 16 (3.5-67); on the 8
  heads of each of 4 llama2-70b groups the sink is weaker late (median 0.59 early, 0.20 late);
* standard deviation of a query's scores over its keys (after 1/sqrt(d)): 2.4 (2.0-2.8);
* largest / median channel mean |value|: q 12, k 12, v 2.1; |v_0| / mean |v_t| 0.10;
* SpikeQuant's MAD rule (k = 6) flags 3.5 % of q, 3.6 % of k, 1.2 % of v and 21 % of P
  (P's rows are a few large probabilities over a floor of tiny ones, so its MAD is tiny);
  per-row INT4 RTN leaves 0.2 % of P's entries non-zero.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from typing import Any

import numpy as np

from spikesim.errors import InputError, echo, positive_int
from spikesim.trace import pcg64
from spikesim.trace.last_value import LastValue
from spikesim.trace.synth import MAX_SEED, MAX_TENSOR_ELEMENTS, ModelShape

__all__ = [
    "ATTENTION_GENERATOR_VERSION",
    "ATTENTION_OPS",
    "ATTENTION_STATS",
    "CHUNK_TOKENS",
    "DEFAULT_QUERY_BLOCK",
    "ROPE_BASE",
    "AttentionCache",
    "AttentionLayer",
    "AttentionStats",
    "GroupValues",
    "apply_rope",
    "attention_layers",
    "attention_statistics_source",
    "causal_softmax",
    "decode_attention_layers",
    "generate_group",
    "rope_frequencies",
]

ATTENTION_GENERATOR_VERSION = 1
"""Bumped whenever the generated q, k, v change for the same arguments."""

ATTENTION_OPS = ("attn_score", "attn_value")
"""The ``op`` of a score layer (Q K^T) and of a value layer (P V)."""

DEFAULT_QUERY_BLOCK = 128
"""Query tokens per block (FlashAttention's usual tile height)."""

ROPE_BASE = 10000.0
"""RoPE base θ (``rope_theta`` of Llama 2 and Mistral 7B v0.1)."""

CHUNK_TOKENS = 256
"""Per-token draws come in chunks of this many positions, one stream each, so a token's values
do not depend on the sequence length."""

GENERATED_DTYPE = "float16"
"""q, k and v are rounded to this dtype; P is float32."""

_SITE = 64
"""Stream id of attention operands in ``default_rng([seed, block, site, …])`` (synth's linears
use 0 … 4 and 16 …)."""

_PARAMS, _CONTENT, _K_NOISE, _V_NOISE, _K_JITTER = 0, 1, 2, 3, 4
_Q_NOISE_BASE = 16
"""Part ids of the streams: per-group parameters, content innovations, k bulk, v bulk, k
massive jitter; query head j of the group: bulk 16 + 2j, massive jitter 17 + 2j."""


@dataclass(frozen=True)
class AttentionStats:
    """Statistics of q, k, v per head (see the module docstring); magnitudes × bulk scale 1."""

    df: float = 5.0
    """Student-t degrees of freedom of the q/k bulk."""
    channel_sigma: float = 0.5
    """Lognormal σ of the per-channel gain of the q/k bulk (one gain vector per head)."""
    token_sigma: float = 0.2
    """Lognormal σ of the per-token scale of q, k and v."""
    massive_pairs: float = 1 / 32
    """Rotary pairs carrying massive values, as a fraction of the d/2 pairs (at least one):
    2 of 64 for d = 128, i.e. 4 of 128 channels."""
    massive_region: float = 1 / 16
    """The massive pairs are drawn among this fraction of the pairs with the lowest RoPE
    frequency (at least one pair, at least ``massive_pairs``)."""
    massive_lo: float = 6.0
    massive_hi: float = 15.0
    """Norm of a massive pair's 2-vector, log-uniform in [lo, hi] per head and pair."""
    massive_jitter: float = 0.05
    """Relative per-token variation of a massive pair's norm (Gaussian σ)."""
    head_phase_sigma: float = 0.3
    """The query heads of a KV group share each massive pair's phase up to this Gaussian σ
    (radians), so they share its sink; the key's phases are independent."""
    content_weight: float = 0.5
    """Weight of the shared content vector z_t in q and k (the bulk has sqrt(1 - w²))."""
    content_rho: float = 0.9
    """AR(1) correlation of z between consecutive positions."""
    sink_lo: float = 8.0
    sink_hi: float = 14.0
    """Score (after 1/sqrt(d)) of the sink key above an average key, uniform per query head."""
    sink_value_scale: float = 0.1
    """Factor on the value of token 0 (the sink's value has a small norm)."""
    v_df: float = 6.0
    """Student-t degrees of freedom of v."""
    v_channel_sigma: float = 0.3
    """Lognormal σ of v's per-channel gain."""
    rope_base: float = ROPE_BASE
    """RoPE base θ."""


ATTENTION_STATS = AttentionStats()
"""The statistics every attention layer is generated with."""

def attention_statistics_source(stats: AttentionStats = ATTENTION_STATS) -> dict[str, Any]:
    """The attention generator's statistics, for a workload's ``source`` in ``summary.json``."""
    return {
        "generator": "spikesim.trace.attention",
        "generator_version": ATTENTION_GENERATOR_VERSION,
        "dtype": GENERATED_DTYPE,
        "chunk_tokens": CHUNK_TOKENS,
        "statistics": asdict(stats),
    }


# --------------------------------------------------------------------------------------------
# RoPE and the causal softmax
# --------------------------------------------------------------------------------------------


def rope_frequencies(head_dim: int, base: float = ROPE_BASE) -> np.ndarray:
    """ω_j = base^(-2j/d), j = 0 … d/2 - 1 (float64): pair (j, j + d/2) turns by t·ω_j at
    position t."""
    return base ** (-np.arange(0, head_dim, 2, dtype=np.float64) / head_dim)


@lru_cache(maxsize=4)
def _rope_tables(first: int, count: int, d: int, base: float) -> tuple[np.ndarray, np.ndarray]:
    """cos and sin (float32, read-only) of positions ``first`` … first+count-1: a group's
    q heads and k at one length share them."""
    return _rope_cos_sin(np.arange(first, first + count), d, base)


def _rope_cos_sin(positions: np.ndarray, d: int, base: float) -> tuple[np.ndarray, np.ndarray]:
    angle = np.outer(positions.astype(np.float64), rope_frequencies(d, base))
    cos = np.cos(angle).astype(np.float32)
    sin = np.sin(angle).astype(np.float32)
    cos.flags.writeable = False
    sin.flags.writeable = False
    return cos, sin


def apply_rope(x: np.ndarray, positions: np.ndarray, base: float = ROPE_BASE) -> np.ndarray:
    """RoPE of ``x`` ``[..., T, d]`` at ``positions`` ``[T]`` (Hugging Face's rotate-half
    form: x·cos + rotate_half(x)·sin, rotate_half(x) = (-x₂, x₁)); float32, a new array.
    Consecutive positions reuse cached tables (the same numbers)."""
    d = x.shape[-1]
    positions = np.asarray(positions)
    first = int(positions[0]) if positions.size else 0
    if positions.size and np.array_equal(positions, np.arange(first, first + positions.size)):
        cos, sin = _rope_tables(first, int(positions.size), d, float(base))
    else:
        cos, sin = _rope_cos_sin(positions, d, base)
    x1, x2 = x[..., : d // 2], x[..., d // 2 :]
    return np.concatenate([x1 * cos - x2 * sin, x2 * cos + x1 * sin], axis=-1).astype(
        np.float32
    )


def causal_softmax(
    scores: np.ndarray, query_positions: np.ndarray, scale: float
) -> np.ndarray:
    """P = softmax(scores · scale) over keys 0 … t of each row (float32; masked entries 0).

    ``scores`` ``[R, L]`` are raw q·k products of keys 0 … L-1; row r is the query at
    position ``query_positions[r]``, which sees keys s ≤ t.
    """
    s = scores.astype(np.float32, copy=True)
    s *= np.float32(scale)
    masked = np.arange(s.shape[1])[None, :] > query_positions[:, None]
    s[masked] = -np.inf
    s -= np.max(s, axis=1, keepdims=True)
    np.exp(s, out=s)
    s /= np.sum(s, axis=1, keepdims=True, dtype=np.float32)
    return s


# --------------------------------------------------------------------------------------------
# Generation of one KV group's q, k, v
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class GroupValues:
    """q ``[heads_per_group, T - q_start, d]`` (positions ``q_start`` … T-1), k ``[T, d]``,
    v ``[T, d]`` of one KV group after RoPE, float16, read-only."""

    q: np.ndarray
    k: np.ndarray
    v: np.ndarray
    q_start: int = 0
    """First position ``q`` holds (a decode run needs only its new tokens' queries)."""


def _student(rng: np.random.Generator, shape: tuple[int, int], df: float) -> np.ndarray:
    """Student-t of unit variance, float32."""
    return (rng.standard_t(df, shape) * math.sqrt((df - 2.0) / df)).astype(np.float32)


def _chunks(tokens: int) -> range:
    return range(-(-tokens // CHUNK_TOKENS))


def _per_token(
    seed: int, block: int, group: int, part: int, tokens: int, width: int, draw: str,
    df: float = 0.0, sigma: float = 0.0, sequence: int = 0, first: int = 0,
) -> np.ndarray:
    """``[tokens - first, width]`` per-token draws of positions ``first`` … tokens-1 from
    chunk streams (each chunk drawn whole, so a token's values depend neither on ``tokens``
    nor on ``first``; ``first`` is a multiple of :data:`CHUNK_TOKENS`): ``draw`` is
    ``student`` (df), ``normal`` or ``lognormal`` (σ; ``width`` 1 gives a per-token scale).
    Sequence 0's streams are ``[seed, block, site, group, part, chunk]``; sequence b > 0
    appends b."""
    out = np.empty((tokens - first, width), dtype=np.float32)
    tail = [sequence] if sequence else []
    for c in _chunks(tokens)[first // CHUNK_TOKENS:]:
        rng = np.random.default_rng([seed, block, _SITE, group, part, c, *tail])
        if draw == "student":
            values = _student(rng, (CHUNK_TOKENS, width), df)
        elif draw == "normal":
            values = pcg64.standard_normal(rng, (CHUNK_TOKENS, width))
        else:
            values = rng.lognormal(0.0, sigma, (CHUNK_TOKENS, width)).astype(np.float32)
        start = c * CHUNK_TOKENS
        stop = min(tokens, start + CHUNK_TOKENS)
        out[start - first : stop - first] = values[: stop - start]
    return out


@dataclass(frozen=True)
class _GroupParams:
    """Per-group constants (drawn from the group's parameter stream)."""

    pairs: np.ndarray  # [P] indices j of the massive pairs (channels j and j + d/2)
    q_gain: np.ndarray  # [H, d]
    k_gain: np.ndarray  # [d]
    v_gain: np.ndarray  # [d]
    q_mean: np.ndarray  # [H, d] pre-RoPE massive vectors of the query heads
    k_mean: np.ndarray  # [d]
    sink_key: np.ndarray  # [d] pre-RoPE key of position 0


def _massive_vector(d: int, pairs: np.ndarray, norms: np.ndarray, phases: np.ndarray
                    ) -> np.ndarray:
    out = np.zeros(d, dtype=np.float64)
    out[pairs] = norms * np.cos(phases)
    out[pairs + d // 2] = norms * np.sin(phases)
    return out


def _group_params(seed: int, block: int, group: int, heads: int, d: int,
                  stats: AttentionStats) -> _GroupParams:
    rng = np.random.default_rng([seed, block, _SITE, group, _PARAMS])
    half = d // 2
    count = max(1, round(stats.massive_pairs * half))
    region = min(half, max(count, round(stats.massive_region * half)))
    pairs = np.sort(rng.choice(np.arange(half - region, half), size=count, replace=False))
    q_gain = rng.lognormal(0.0, stats.channel_sigma, (heads, d))
    k_gain = rng.lognormal(0.0, stats.channel_sigma, d)
    v_gain = rng.lognormal(0.0, stats.v_channel_sigma, d)
    lo, hi = math.log(stats.massive_lo), math.log(stats.massive_hi)
    phase = rng.uniform(0.0, 2 * math.pi, count)  # shared by the group's query heads
    q_mean = np.stack([
        _massive_vector(d, pairs, np.exp(rng.uniform(lo, hi, count)),
                        phase + rng.normal(0.0, stats.head_phase_sigma, count))
        for _ in range(heads)
    ])
    k_mean = _massive_vector(d, pairs, np.exp(rng.uniform(lo, hi, count)),
                             rng.uniform(0.0, 2 * math.pi, count))
    # The sink key lies in the massive channels, where the queries have their mean: the
    # least-norm key whose score (after 1/sqrt(d)) exceeds that of an average key (the
    # massive part q_h·k̄) by a draw of [sink_lo, sink_hi] for every head h of the group
    # (exactly when heads <= 2 x pairs, else in the least-squares sense).
    channels = np.concatenate([pairs, pairs + half])
    advantage = rng.uniform(stats.sink_lo, stats.sink_hi, heads)
    target = advantage * math.sqrt(d) + q_mean @ k_mean
    sink_key = np.zeros(d, dtype=np.float64)
    sink_key[channels] = np.linalg.lstsq(q_mean[:, channels], target, rcond=None)[0]
    return _GroupParams(
        pairs=pairs, q_gain=q_gain.astype(np.float32), k_gain=k_gain.astype(np.float32),
        v_gain=v_gain.astype(np.float32), q_mean=q_mean.astype(np.float32),
        k_mean=k_mean.astype(np.float32), sink_key=sink_key.astype(np.float32),
    )


def _content(seed: int, block: int, group: int, tokens: int, d: int, rho: float,
             sequence: int = 0) -> np.ndarray:
    """z_t = ρ z_{t-1} + sqrt(1 - ρ²) e_t, z_0 = e_0 (unit variance), float32 [tokens, d]."""
    e = _per_token(seed, block, group, _CONTENT, tokens, d, "normal", sequence=sequence)
    z = np.empty_like(e)
    gain = np.float32(math.sqrt(1.0 - rho * rho))
    r = np.float32(rho)
    prev = e[0]
    z[0] = prev
    for t in range(1, tokens):
        prev = r * prev + gain * e[t]
        z[t] = prev
    return z


def _with_massive(seed: int, block: int, group: int, part: int, tokens: int, d: int,
                  pairs: np.ndarray, mean: np.ndarray, jitter: float, sequence: int = 0,
                  first: int = 0) -> np.ndarray:
    """The persistent massive vector ``mean`` with ±jitter per token and pair, positions
    ``first`` … tokens-1, [tokens - first, d]."""
    out = np.zeros((tokens - first, d), dtype=np.float32)
    factor = 1.0 + jitter * _per_token(seed, block, group, part, tokens, pairs.size, "normal",
                                       sequence=sequence, first=first)
    out[:, pairs] = mean[pairs][None, :] * factor
    out[:, pairs + d // 2] = mean[pairs + d // 2][None, :] * factor
    return out


def _to_float16(x: np.ndarray) -> np.ndarray:
    limit = np.float32(np.finfo(np.float16).max)
    out = np.clip(x, -limit, limit).astype(np.float16)
    out.flags.writeable = False
    return out


def generate_group(
    *, seed: int, block: int, group: int, heads_per_group: int, head_dim: int, tokens: int,
    stats: AttentionStats = ATTENTION_STATS, sequence: int = 0, queries_from: int = 0,
) -> GroupValues:
    """q, k, v of KV group ``group`` of block ``block`` for positions 0 … tokens-1, after RoPE
    (see the module docstring), float16.

    ``sequence`` numbers the sequences of a batch: each has its own per-token draws (content,
    bulk, jitter, token scales); the group's constants (gains, massive pairs and vectors, the
    sink key) belong to the model and are the same in every sequence. Sequence 0 is the
    sequence of a batch of one.

    ``queries_from``: q is made only for the positions from the start of the chunk
    (:data:`CHUNK_TOKENS`) holding that position on (``GroupValues.q_start``): a decode run asks
    for its new tokens' queries alone. Every value made is the one a full call makes."""
    d, heads = head_dim, heads_per_group
    p = _group_params(seed, block, group, heads, d, stats)
    w = np.float32(stats.content_weight)
    b = np.float32(math.sqrt(1.0 - stats.content_weight**2))
    z = _content(seed, block, group, tokens, d, stats.content_rho, sequence)
    positions = np.arange(tokens)

    q_start = min(queries_from, tokens - 1) // CHUNK_TOKENS * CHUNK_TOKENS

    def bulk(part: int, gain: np.ndarray, first: int = 0) -> np.ndarray:
        x = _per_token(seed, block, group, part, tokens, d, "student", df=stats.df,
                       sequence=sequence, first=first)
        x *= b
        x += w * z[first:]
        x *= gain[None, :]
        x *= _per_token(seed, block, group, part + 1000, tokens, 1, "lognormal",
                        sigma=stats.token_sigma, sequence=sequence, first=first)
        return x

    k = bulk(_K_NOISE, p.k_gain)
    k[0] *= np.float32(0.1)  # the sink: a key bias, little of the bulk and content
    massive = _with_massive(seed, block, group, _K_JITTER, tokens, d, p.pairs, p.k_mean,
                            stats.massive_jitter, sequence)
    massive[0] = p.sink_key
    k += massive
    del massive
    k_rot = _to_float16(apply_rope(k, positions, stats.rope_base))
    del k
    q = np.empty((heads, tokens - q_start, d), dtype=np.float16)
    for j in range(heads):
        qj = bulk(_Q_NOISE_BASE + 2 * j, p.q_gain[j], q_start)
        qj += _with_massive(seed, block, group, _Q_NOISE_BASE + 2 * j + 1, tokens, d, p.pairs,
                            p.q_mean[j], stats.massive_jitter, sequence, q_start)
        q[j] = _to_float16(apply_rope(qj, positions[q_start:], stats.rope_base))
    q.flags.writeable = False
    v = _per_token(seed, block, group, _V_NOISE, tokens, d, "student", df=stats.v_df,
                   sequence=sequence)
    v *= p.v_gain[None, :]
    v *= _per_token(seed, block, group, _V_NOISE + 1000, tokens, 1, "lognormal",
                    sigma=stats.token_sigma, sequence=sequence)
    v[0] *= np.float32(stats.sink_value_scale)
    return GroupValues(q=q, k=k_rot, v=_to_float16(v), q_start=q_start)


class AttentionCache(LastValue[GroupValues]):
    """The q, k, v of the last KV group generated, keyed by everything they depend on, so the
    score and value layers of a group (asked one after the other) generate them once. Holds one
    group: heads_per_group + 2 arrays of tokens × head_dim float16."""


# --------------------------------------------------------------------------------------------
# Layers
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class AttentionLayer:
    """One attention GEMM (score or value) of one KV group and query block; the
    :class:`~spikesim.trace.workload.WorkloadLayer` protocol (``x`` and ``w`` generated when
    asked).

    Attributes
    ----------
    name, op:
        ``layers.{block}.attn.{score|value}.g{group}.q{index}``; ``attn_score`` or
        ``attn_value``.
    tokens, k, n:
        M = heads_per_group × rows; K and N: (head_dim, keys) for a score layer,
        (keys, head_dim) for a value layer.
    block, group, index:
        Decoder block, KV group, query block.
    start, stop:
        Query positions [start, stop) of the block.
    keys:
        L = stop: keys 0 … L-1 (causal, diagonal tile whole).
    sequence_tokens:
        The prefill length (positions 0 … sequence_tokens-1 exist).
    heads_per_group, head_dim, seed:
        Shape and seed of the generated values.
    sha256:
        Digest of the generation recipe: equal digests, equal values.
    op_class, phase:
        ``attention``, and ``prefill`` or ``decode`` (the report's operator class and phase).
    sequence:
        The sequence of the batch whose q, k, v these are (0 for a batch of one).
    """

    name: str
    op: str
    tokens: int
    k: int
    n: int
    block: int
    group: int
    index: int
    start: int
    stop: int
    keys: int
    sequence_tokens: int
    heads_per_group: int
    head_dim: int
    seed: int
    sha256: str
    op_class: str = "attention"
    phase: str = "prefill"
    sequence: int = 0
    stats: AttentionStats = field(default=ATTENTION_STATS, repr=False)
    queries_from: int = 0
    """The first position whose queries the group's generation makes (:func:`generate_group`;
    a decode run's first new token, so its steps share one generation). Not in ``sha256``:
    the values are the same."""
    _cache: AttentionCache = field(
        default_factory=AttentionCache, compare=False, hash=False, repr=False
    )

    @property
    def rows(self) -> int:
        """Query positions in the block (stop - start)."""
        return self.stop - self.start

    @property
    def query_positions(self) -> np.ndarray:
        """Position of each row of ``x`` (token-major: heads_per_group rows per position)."""
        return np.repeat(np.arange(self.start, self.stop), self.heads_per_group)

    def tensor_names(self) -> tuple[str, ...]:
        """``("x", "w")``."""
        return ("x", "w")

    def check_size(self) -> None:
        """Refuse (:class:`InputError`, field ``tokens``) an ``x`` or ``w`` of more than 2^27
        elements (a value layer's P at a very long prefill)."""
        for tensor, rows in (("x", self.tokens), ("w", self.n)):
            if rows * self.k > MAX_TENSOR_ELEMENTS:
                raise InputError(
                    f"{tensor} of layer {self.name!r} would be {rows} x {self.k} = "
                    f"{rows * self.k:.3g} elements, more than the {MAX_TENSOR_ELEMENTS} (2^27) "
                    "a generated tensor may hold; give fewer tokens",
                    field="tokens",
                )

    @property
    def reuse_key(self) -> tuple[object, ...]:
        """What the group's q, k, v depend on: the score and value layers of every query block
        and decode step of one KV group and sequence share them (counted one after the other,
        they generate them once: :func:`spikesim.sim.counts.counting_order`)."""
        return ("attention", self.seed, self.block, self.group, self.heads_per_group,
                self.head_dim, self.sequence_tokens, self.stats, self.sequence,
                self.queries_from)

    def group_values(self) -> GroupValues:
        """The group's q, k, v (float16, read-only; shared through the cache: do not write)."""
        return self._cache.get(self.reuse_key, lambda: generate_group(
            seed=self.seed, block=self.block, group=self.group,
            heads_per_group=self.heads_per_group, head_dim=self.head_dim,
            tokens=self.sequence_tokens, stats=self.stats, sequence=self.sequence,
            queries_from=self.queries_from,
        ))

    def queries(self) -> np.ndarray:
        """The score layer's ``x``: the group's queries of positions [start, stop), token-major
        ``[heads_per_group · rows, head_dim]``, float32 (fresh)."""
        values = self.group_values()
        q = values.q[:, self.start - values.q_start : self.stop - values.q_start, :]
        return np.ascontiguousarray(q.transpose(1, 0, 2)).reshape(
            self.rows * self.heads_per_group, self.head_dim
        ).astype(np.float32)

    def probabilities(self) -> np.ndarray:
        """The value layer's ``x``: P of the rows of :meth:`queries` over keys 0 … keys-1,
        float32 ``[heads_per_group · rows, keys]`` (masked entries 0)."""
        k = self.group_values().k[: self.keys].astype(np.float32)
        scores = self.queries() @ k.T
        return causal_softmax(scores, self.query_positions, 1.0 / math.sqrt(self.head_dim))

    def activations(self) -> np.ndarray:
        """``x`` as a fresh float32 array ``[tokens, k]``: queries (score) or P (value)."""
        self.check_size()
        return self.queries() if self.op == "attn_score" else self.probabilities()

    def weights(self) -> np.ndarray:
        """``w`` as a fresh float32 array ``[n, k]``: K[0:keys] (score) or V^T[:, 0:keys]
        (value)."""
        self.check_size()
        values = self.group_values()
        if self.op == "attn_score":
            return values.k[: self.keys].astype(np.float32)
        return np.ascontiguousarray(values.v[: self.keys].T, dtype=np.float32)


def _recipe_hasher(stats: AttentionStats) -> Any:
    """SHA-256 state after the generator's part of the recipe (shared by a call's layers)."""
    text = json.dumps(attention_statistics_source(stats), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8"))


def _recipe_sha256(hasher: Any, layer: tuple[object, ...]) -> str:
    """Digest of the generation recipe: the generator's part, then the layer's fields
    (name, op, seed, block, group, start, stop, keys, heads per group, head dim)."""
    h = hasher.copy()
    h.update("|".join(map(str, layer)).encode("utf-8"))
    return str(h.hexdigest())


def _check(shape: ModelShape, block: int, tokens: int, seed: int, query_block: int) -> None:
    positive_int(tokens, "tokens")
    positive_int(query_block, "query_block")
    if not isinstance(seed, int) or isinstance(seed, bool) or not 0 <= seed <= MAX_SEED:
        raise InputError(
            f"seed must be an integer from 0 to 2^64-1, got {echo(seed)}", field="seed"
        )
    if not isinstance(block, int) or isinstance(block, bool) or not 0 <= block < shape.blocks:
        raise InputError(
            f"block must be an integer from 0 to {shape.blocks - 1}, got {echo(block)}",
            field="block",
        )
    if shape.heads < 1 or shape.kv_heads < 1 or shape.heads % shape.kv_heads:
        raise InputError(
            f"heads ({shape.heads}) must be a positive multiple of kv_heads "
            f"({shape.kv_heads})",
            field="kv_heads",
        )
    d = shape.head_dim
    if d < 2 or d % 2 or d * shape.heads != shape.q_out or d * shape.kv_heads != shape.kv_out:
        raise InputError(
            f"head_dim {d} must be even and q_out ({shape.q_out}) = heads x head_dim, kv_out "
            f"({shape.kv_out}) = kv_heads x head_dim (RoPE turns pairs of channels)",
            field="heads",
        )


def attention_layers(
    shape: ModelShape,
    block: int,
    tokens: int,
    seed: int,
    query_block: int = DEFAULT_QUERY_BLOCK,
    *,
    cache: AttentionCache | None = None,
    sequences: int = 1,
) -> list[AttentionLayer]:
    """The attention GEMMs of decoder block ``block`` of ``shape`` in a prefill of ``tokens``
    tokens, in order: for each KV group g, for each query block i, the score layer then the
    value layer (see the module docstring for the tiling, the names and the values).

    Parameters
    ----------
    shape:
        The model's dimensions (``heads``, ``kv_heads``, ``head_dim``).
    block:
        Decoder block index (0 … ``shape.blocks`` - 1): its own random streams.
    tokens:
        Prefill length (of each sequence).
    seed:
        The workload's seed (0 … 2^64-1).
    query_block:
        Query tokens per block (the last one clipped to ``tokens``).
    cache:
        Where the layers keep the last generated KV group; pass one cache to every call of a
        workload so memory holds one group in all (default: one per call, i.e. per block).
    sequences:
        Sequences of the batch, each attending only its own keys: for each KV group, each
        sequence b runs its query blocks, named with the suffix ``.seq{b}`` when there is more
        than one sequence (a batch of one keeps the names above).

    Returns
    -------
    list[AttentionLayer]
        ``2 × kv_heads × sequences × ceil(tokens / query_block)`` layers. Nothing is
        generated yet.

    Raises
    ------
    InputError
        Tokens, query_block, sequences, seed or block out of range, or a shape whose heads are
        not a multiple of its KV heads or whose head dimension is odd (field named).
    """
    _check(shape, block, tokens, seed, query_block)
    positive_int(sequences, "batch")
    shared = cache if cache is not None else AttentionCache()
    per_group = shape.heads // shape.kv_heads
    d = shape.head_dim
    hasher = _recipe_hasher(ATTENTION_STATS)
    layers: list[AttentionLayer] = []
    for g in range(shape.kv_heads):
        for b in range(sequences):
            suffix = f".seq{b}" if sequences > 1 else ""
            for i in range(-(-tokens // query_block)):
                start, stop = i * query_block, min(tokens, (i + 1) * query_block)
                for op, kind in (("attn_score", "score"), ("attn_value", "value")):
                    m = per_group * (stop - start)
                    k, n = (d, stop) if op == "attn_score" else (stop, d)
                    name = f"layers.{block}.attn.{kind}.g{g}.q{i}{suffix}"
                    recipe: tuple[object, ...] = (name, op, seed, block, g, start, stop, stop,
                                                  per_group, d) + ((b,) if b else ())
                    layers.append(AttentionLayer(
                        name=name, op=op, tokens=m, k=k, n=n, block=block, group=g, index=i,
                        start=start, stop=stop, keys=stop, sequence_tokens=tokens,
                        heads_per_group=per_group, head_dim=d, seed=seed,
                        sha256=_recipe_sha256(hasher, recipe), sequence=b, _cache=shared,
                    ))
    return layers


def decode_attention_layers(
    shape: ModelShape,
    block: int,
    *,
    step: int,
    position: int,
    positions: int,
    seed: int,
    sequences: int = 1,
    cache: AttentionCache | None = None,
    queries_from: int | None = None,
) -> list[AttentionLayer]:
    """The attention GEMVs of decoder block ``block`` in decode step ``step``: each sequence's
    new token, at ``position``, attends its keys 0 … position (the KV cache plus its own).

    For each KV group g and each sequence b (in that order), a score layer
    ``decode.{step}.layers.{block}.attn.score.g{g}.seq{b}`` (``x`` = the new token's queries
    of the group's heads, ``[heads_per_group, head_dim]``; ``w`` = K_g[0:position+1]) then the
    value layer ``….attn.value.g{g}.seq{b}`` (``x`` = P ``[heads_per_group, position+1]``;
    ``w`` = V_g^T). The q, k, v are those of :func:`generate_group` for the sequence (positions
    0 … ``positions``-1 are generated, so every step of a run shares one draw of a sequence's
    values, and sequence 0 continues the prefill's sequence; queries only from
    ``queries_from``, default ``position``: pass the run's first decode position so that its
    steps share one generation). Phase ``decode``.

    Raises
    ------
    InputError
        ``position`` negative or not below ``positions``, ``sequences`` not positive, or a
        bad seed, block or shape (as :func:`attention_layers`).
    """
    _check(shape, block, positions, seed, DEFAULT_QUERY_BLOCK)
    positive_int(sequences, "batch")
    if not isinstance(position, int) or isinstance(position, bool) or not (
        0 <= position < positions
    ):
        raise InputError(
            f"decode position must be an integer from 0 to {positions - 1}, got "
            f"{echo(position)}",
            field="context",
        )
    shared = cache if cache is not None else AttentionCache()
    per_group = shape.heads // shape.kv_heads
    d = shape.head_dim
    keys = position + 1
    hasher = _recipe_hasher(ATTENTION_STATS)
    layers: list[AttentionLayer] = []
    for g in range(shape.kv_heads):
        for b in range(sequences):
            for op, kind in (("attn_score", "score"), ("attn_value", "value")):
                k, n = (d, keys) if op == "attn_score" else (keys, d)
                name = f"decode.{step}.layers.{block}.attn.{kind}.g{g}.seq{b}"
                recipe = (name, op, seed, block, g, position, keys, keys, per_group, d, b)
                layers.append(AttentionLayer(
                    name=name, op=op, tokens=per_group, k=k, n=n, block=block, group=g,
                    index=step, start=position, stop=keys, keys=keys, sequence_tokens=positions,
                    heads_per_group=per_group, head_dim=d, seed=seed,
                    sha256=_recipe_sha256(hasher, recipe), phase="decode", sequence=b,
                    queries_from=position if queries_from is None else queries_from,
                    _cache=shared,
                ))
    return layers

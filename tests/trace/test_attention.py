"""Attention GEMMs of a prefill pass (spikesim.trace.attention): causal tiling and names, GQA,
P as the exact causal softmax of the score layer's own q and k, deterministic and
order-independent values, the structure of the generated q, k, v, bad arguments."""

from __future__ import annotations

import math

import numpy as np
import pytest

from spikesim.errors import InputError
from spikesim.trace import SHAPES
from spikesim.trace.attention import (
    ATTENTION_OPS,
    AttentionCache,
    AttentionLayer,
    apply_rope,
    attention_layers,
    causal_softmax,
    generate_group,
    rope_frequencies,
)
from spikesim.trace.synth import MAX_TENSOR_ELEMENTS, ModelShape

SMALL = ModelShape(hidden=64, intermediate=128, q_out=64, kv_out=32, blocks=2, heads=4,
                   kv_heads=2)
"""head_dim 16, 2 query heads per KV group, 2 groups."""


def small(tokens: int = 24, query_block: int = 8, seed: int = 3, block: int = 1
          ) -> list[AttentionLayer]:
    return attention_layers(SMALL, block, tokens, seed, query_block)


def by_name(layers: list[AttentionLayer]) -> dict[str, AttentionLayer]:
    return {layer.name: layer for layer in layers}


def test_causal_tiling_names_and_shapes() -> None:
    """Per group, per query block: score then value; N (score) = K (value) = keys up to the
    block's end, the last block clipped to the tokens; M = heads per group x rows."""
    layers = small(tokens=20, query_block=8)
    assert len(layers) == 2 * 2 * 3
    want = []
    for g in range(2):
        for i, (start, stop) in enumerate([(0, 8), (8, 16), (16, 20)]):
            rows = stop - start
            want.append((f"layers.1.attn.score.g{g}.q{i}", "attn_score", 2 * rows, 16, stop))
            want.append((f"layers.1.attn.value.g{g}.q{i}", "attn_value", 2 * rows, stop, 16))
    assert [(x.name, x.op, x.tokens, x.k, x.n) for x in layers] == want
    assert {x.op for x in layers} == set(ATTENTION_OPS)
    assert all(x.op_class == "attention" and x.phase == "prefill" for x in layers)
    assert all(x.keys == x.stop == min(20, (x.index + 1) * 8) for x in layers)
    for layer in layers[:6]:  # the tensors have the shapes the layer states
        assert layer.activations().shape == (layer.tokens, layer.k)
        assert layer.weights().shape == (layer.n, layer.k)
    assert len({x.sha256 for x in layers}) == len(layers)


def test_gqa_llama2_70b_groups_of_eight() -> None:
    """64 query heads share 8 KV heads: 8 groups of 8 heads, rows token-major."""
    shape = SHAPES["llama2-70b"]
    layers = attention_layers(shape, 0, 256, 0)
    scores = [x for x in layers if x.op == "attn_score"]
    assert len(layers) == 2 * 8 * 2
    assert sorted({x.group for x in layers}) == list(range(8))
    assert all(x.heads_per_group == 8 and x.tokens == 8 * 128 and x.k == 128 for x in scores)
    assert [x.n for x in scores[:2]] == [128, 256]
    # the last group's second query block: row r is position 128 + r // 8 of head r % 8
    layer = scores[-1]
    q = layer.group_values().q
    assert q.shape == (8, 256, 128)
    x = layer.activations()
    for r in (0, 1, 7, 8, 9, 1023):
        np.testing.assert_array_equal(x[r], q[r % 8, 128 + r // 8].astype(np.float32))
    np.testing.assert_array_equal(layer.query_positions[:17], [128] * 8 + [129] * 8 + [130])


def test_p_is_the_causal_softmax_of_the_score_layers_own_q_and_k() -> None:
    layers = by_name(small())
    for g in range(2):
        for i in range(3):
            score = layers[f"layers.1.attn.score.g{g}.q{i}"]
            value = layers[f"layers.1.attn.value.g{g}.q{i}"]
            q, k = score.activations(), score.weights()
            p = value.activations()
            # bit-exact: the same float32 recipe on the same operands
            np.testing.assert_array_equal(
                p, causal_softmax(q @ k.T, score.query_positions, 1 / math.sqrt(16))
            )
            # and the softmax it means, in float64
            t = score.query_positions
            s = (q.astype(np.float64) @ k.T.astype(np.float64)) / 4.0
            mask = np.arange(k.shape[0])[None, :] > t[:, None]
            s[mask] = -np.inf
            want = np.exp(s - s.max(axis=1, keepdims=True))
            want /= want.sum(axis=1, keepdims=True)
            np.testing.assert_allclose(p, want, rtol=1e-5, atol=1e-7)
            assert (p[mask] == 0).all()
            np.testing.assert_allclose(p.sum(axis=1), 1.0, rtol=1e-6)
            assert (p[~mask] > 0).any()
            assert p.min() >= 0
            assert p.max() <= 1
            # the diagonal tile: row of position t has t + 1 unmasked keys
            np.testing.assert_array_equal((~mask).sum(axis=1), t + 1)
            # value weights are V^T of the same keys the score layer used
            np.testing.assert_array_equal(
                value.weights(), score.group_values().v[: score.keys].T.astype(np.float32)
            )


def test_values_are_deterministic_and_order_independent() -> None:
    forward = small()
    backward = small()  # another cache, layers asked in the reverse order, groups interleaved
    got = {x.name: (x.activations(), x.weights()) for x in reversed(backward)}
    for layer in forward:
        x, w = got[layer.name]
        np.testing.assert_array_equal(layer.activations(), x)
        np.testing.assert_array_equal(layer.weights(), w)
    assert [x.sha256 for x in forward] == [x.sha256 for x in backward]
    other_seed = small(seed=4)
    assert not np.array_equal(other_seed[0].activations(), forward[0].activations())
    assert other_seed[0].sha256 != forward[0].sha256
    other_block = small(block=0)
    assert not np.array_equal(other_block[0].weights(), forward[0].weights())


def test_token_values_do_not_depend_on_length_or_tiling() -> None:
    """Position t's q, k, v are the same at any prefill length and query block (per-token draws
    come in fixed chunks), so a shorter prefill's layers are the longer one's first ones."""
    long = generate_group(seed=3, block=1, group=1, heads_per_group=2, head_dim=16, tokens=300)
    short = generate_group(seed=3, block=1, group=1, heads_per_group=2, head_dim=16, tokens=40)
    for a, b in ((long.q[:, :40], short.q), (long.k[:40], short.k), (long.v[:40], short.v)):
        np.testing.assert_array_equal(a, b)
    a = by_name(small(tokens=24, query_block=8))
    b = by_name(small(tokens=16, query_block=8))
    for name in ("layers.1.attn.score.g1.q1", "layers.1.attn.value.g1.q1"):
        np.testing.assert_array_equal(a[name].activations(), b[name].activations())
        assert a[name].sha256 == b[name].sha256
    wide = by_name(small(tokens=24, query_block=12))["layers.1.attn.score.g0.q0"]
    np.testing.assert_array_equal(
        wide.activations()[:16], a["layers.1.attn.score.g0.q0"].activations()
    )


def test_one_group_in_memory() -> None:
    cache = AttentionCache()
    layers = attention_layers(SMALL, 0, 24, 0, 8, cache=cache)
    more = attention_layers(SMALL, 1, 24, 0, 8, cache=cache)
    layers[0].weights()
    first = layers[0].group_values()
    assert layers[1].group_values() is first  # the group's value layer: no regeneration
    more[0].weights()
    assert layers[0]._cache is more[0]._cache
    assert more[0].group_values() is not first


def test_rope_turns_pairs_by_position() -> None:
    """Rotate-half RoPE: pair (j, j + d/2) turns by t·base^(-2j/d); norms and relative
    products are kept (<R_t q, R_s k> depends on t - s only)."""
    rng = np.random.default_rng(0)
    q, k = rng.normal(size=(2, 1, 16)).astype(np.float32)
    omega = rope_frequencies(16)
    assert omega[0] == 1.0
    assert omega[-1] == pytest.approx(10000 ** (-14 / 16))
    one = apply_rope(q, np.array([5]))
    angle = 5 * omega[3]
    assert one[0, 3] == pytest.approx(q[0, 3] * math.cos(angle) - q[0, 11] * math.sin(angle),
                                      rel=1e-5)
    assert np.linalg.norm(one) == pytest.approx(np.linalg.norm(q), rel=1e-5)
    a = float(apply_rope(q, np.array([9]))[0] @ apply_rope(k, np.array([4]))[0])
    b = float(apply_rope(q, np.array([25]))[0] @ apply_rope(k, np.array([20]))[0])
    assert a == pytest.approx(b, rel=1e-4)


def test_generated_statistics_have_the_stated_structure() -> None:
    """Massive values of q and k in low-frequency rotary pairs, none in v; a sink at token 0
    that takes much attention and gives little value."""
    d, tokens = 128, 512
    g = generate_group(seed=0, block=0, group=0, heads_per_group=2, head_dim=d, tokens=tokens)
    q, k, v = (a.astype(np.float32) for a in (g.q, g.k, g.v))
    low_frequency = set(range(60, 64))  # the lowest 1/16 of the 64 rotary pairs

    def pair_norms(x: np.ndarray) -> np.ndarray:
        """Mean norm of each rotary pair (j, j + d/2) over tokens (RoPE keeps it)."""
        return np.hypot(x[:, : d // 2], x[:, d // 2 :]).mean(axis=0)

    for x in (k[1:], q[0], q[1]):
        norms = pair_norms(x)
        assert set(np.argsort(-norms)[:2].tolist()) <= low_frequency
        assert norms.max() > 4 * np.median(norms)
        channels = np.abs(x).mean(axis=0)
        assert channels.max() > 5 * np.median(channels)
    mean_v = np.abs(v[1:]).mean(axis=0)
    assert mean_v.max() < 4 * np.median(mean_v)
    p = causal_softmax(q[0] @ k.T, np.arange(tokens), 1 / math.sqrt(d))
    assert p[64:, 0].mean() > 0.2
    assert np.linalg.norm(v[0]) < 0.3 * np.linalg.norm(v[1:], axis=1).mean()


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"tokens": 0}, "tokens"),
        ({"query_block": 0}, "query_block"),
        ({"seed": -1}, "seed"),
        ({"block": 2}, "block"),
        ({"shape": ModelShape(64, 128, 64, 48, 2, 4, 3)}, "kv_heads"),
        ({"shape": ModelShape(60, 128, 60, 60, 2, 4, 4)}, "heads"),  # head_dim 15
    ],
)
def test_bad_arguments_name_the_field(kwargs: dict, field: str) -> None:
    args = {"shape": SMALL, "block": 0, "tokens": 24, "seed": 0, "query_block": 8, **kwargs}
    with pytest.raises(InputError) as err:
        attention_layers(**args)
    assert err.value.field == field


def test_oversized_probabilities_refused_before_generation() -> None:
    """llama2-70b at 20,000 tokens in query blocks of 10,000: the last value layer's P
    (80,000 x 20,000 > 2^27) is refused by name, and nothing was generated to find out."""
    layers = attention_layers(SHAPES["llama2-70b"], 0, 20_000, 0, 10_000)
    last = layers[-1]
    assert last.tokens * last.k > MAX_TENSOR_ELEMENTS
    with pytest.raises(InputError, match=last.name) as err:
        last.check_size()
    assert err.value.field == "tokens"
    with pytest.raises(InputError):
        last.activations()
    assert last._cache._value is None
    layers[0].check_size()  # the first score layer is small


@pytest.mark.parametrize(("tokens", "queries_from", "q_start"), [
    (700, 600, 512), (700, 0, 0), (700, 699, 512), (256, 255, 0), (513, 512, 512),
])
def test_queries_from_makes_the_same_values(tokens: int, queries_from: int,
                                            q_start: int) -> None:
    """A decode run's generation (queries of its new tokens only) holds, bit for bit, what the
    whole generation holds: the keys and values, and the queries from the chunk on."""
    args = {"seed": 4, "block": 1, "group": 0, "heads_per_group": 2, "head_dim": 16,
            "tokens": tokens, "sequence": 1}
    whole = generate_group(**args)  # type: ignore[arg-type]
    part = generate_group(**args, queries_from=queries_from)  # type: ignore[arg-type]
    assert part.q_start == q_start
    np.testing.assert_array_equal(part.q, whole.q[:, q_start:])
    np.testing.assert_array_equal(part.k, whole.k)
    np.testing.assert_array_equal(part.v, whole.v)


def test_rope_tables_equal_the_direct_computation() -> None:
    x = np.random.default_rng(0).standard_normal((3, 40, 16)).astype(np.float32)
    consecutive = apply_rope(x, np.arange(100, 140))
    perm = [*range(1, 40), 0]  # not consecutive: computed directly, not from the tables
    direct = apply_rope(x[..., perm, :], np.arange(100, 140)[perm])
    np.testing.assert_array_equal(direct, consecutive[..., perm, :])

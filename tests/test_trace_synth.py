"""Synthetic traces: shapes, determinism, LLM-like statistics, argument errors."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from spikesim.errors import InputError
from spikesim.trace import SHAPES, load_trace, parse_gemm, synth_layers, synth_trace
from spikesim.trace.synth import layer_plan

SMOL_EXPECTED = [
    ("layers.0.self_attn.q_proj", "q_proj", 576, 576),
    ("layers.0.self_attn.k_proj", "k_proj", 576, 192),
    ("layers.0.self_attn.v_proj", "v_proj", 576, 192),
    ("layers.0.self_attn.o_proj", "o_proj", 576, 576),
    ("layers.0.mlp.gate_proj", "gate_proj", 576, 1536),
    ("layers.0.mlp.up_proj", "up_proj", 576, 1536),
    ("layers.0.mlp.down_proj", "down_proj", 1536, 576),
]


def channel_max_ratio(x: np.ndarray) -> float:
    """Largest per-input-channel max|x| over the median channel's max|x|."""
    channel_max = np.abs(x).max(axis=0)
    return float(channel_max.max() / np.median(channel_max))


def test_smollm2_shapes(tmp_path: Path) -> None:
    trace = synth_trace(tmp_path / "smol", shape="smollm2-135m", tokens=4)
    got = [(lay.name, lay.op, lay.k, lay.n) for lay in trace.layers]
    assert got == SMOL_EXPECTED
    assert trace.tokens == 4
    assert trace.name == "smol"
    for layer in trace.layers:
        assert layer.tokens == 4
        assert layer.tensor("x").shape == (4, layer.k)
        assert layer.tensor("w").shape == (layer.n, layer.k)
        assert layer.tensor("x").dtype == np.float16
        assert layer.tensor("w").dtype == np.float16
        assert layer.tensor_names() == ("x", "w")
    assert trace.source["kind"] == "synthetic"
    assert trace.source["shape"] == "smollm2-135m"
    assert trace.source["seed"] == 0
    assert trace.source["tokens"] == 4


def test_smollm2_two_blocks(tmp_path: Path) -> None:
    trace = synth_trace(tmp_path / "smol", shape="smollm2-135m", tokens=3, layers=2)
    assert len(trace.layers) == 14
    assert trace.layers[7].name == "layers.1.self_attn.q_proj"
    assert trace.layers[13].file.name == "013_layers.1.mlp.down_proj.safetensors"


def test_llama2_7b_plan() -> None:
    plan = layer_plan("llama2-7b", 2)
    assert len(plan) == 14
    assert plan[:7] == [
        ("layers.0.self_attn.q_proj", "q_proj", 4096, 4096),
        ("layers.0.self_attn.k_proj", "k_proj", 4096, 4096),
        ("layers.0.self_attn.v_proj", "v_proj", 4096, 4096),
        ("layers.0.self_attn.o_proj", "o_proj", 4096, 4096),
        ("layers.0.mlp.gate_proj", "gate_proj", 4096, 11008),
        ("layers.0.mlp.up_proj", "up_proj", 4096, 11008),
        ("layers.0.mlp.down_proj", "down_proj", 11008, 4096),
    ]
    assert plan[13][0] == "layers.1.mlp.down_proj"
    assert SHAPES["llama2-7b"].blocks == 32


@pytest.mark.slow
def test_llama2_7b_trace(tmp_path: Path) -> None:
    trace = synth_trace(tmp_path / "llama", shape="llama2-7b", tokens=2)
    assert [(lay.name, lay.op, lay.k, lay.n) for lay in trace.layers] == layer_plan("llama2-7b", 1)
    down = trace.layer("layers.0.mlp.down_proj")
    assert down.tensor("x").shape == (2, 11008)
    assert down.tensor("w").shape == (4096, 11008)
    w = down.weights()
    assert 0.8 / np.sqrt(11008) < w.std() < 1.3 / np.sqrt(11008)


def test_gemm_shape(tmp_path: Path) -> None:
    trace = synth_trace(tmp_path / "g", gemm=(8, 32, 16), seed=3)
    assert len(trace.layers) == 1
    layer = trace.layers[0]
    assert (layer.name, layer.op, layer.tokens, layer.k, layer.n) == ("gemm", "gemm", 8, 32, 16)
    assert trace.tokens == 8
    assert trace.source["shape"] == "gemm"
    assert trace.source["gemm"] == [8, 32, 16]
    layer.activations()
    layer.weights()


def test_gemm_explicit_matching_tokens(tmp_path: Path) -> None:
    trace = synth_trace(tmp_path / "g", gemm=(8, 32, 16), tokens=8)
    assert trace.tokens == 8


def test_float32_dtype(tmp_path: Path) -> None:
    trace = synth_trace(tmp_path / "g", gemm=(4, 16, 8), dtype="float32")
    assert trace.layers[0].tensor("x").dtype == np.float32
    assert trace.layers[0].tensor("w").dtype == np.float32


def test_same_seed_byte_identical(tmp_path: Path) -> None:
    a = synth_trace(tmp_path / "a", shape="smollm2-135m", tokens=4, seed=7)
    b = synth_trace(tmp_path / "b", shape="smollm2-135m", tokens=4, seed=7)
    c = synth_trace(tmp_path / "c", shape="smollm2-135m", tokens=4, seed=8)
    assert [lay.sha256 for lay in a.layers] == [lay.sha256 for lay in b.layers]
    for la, lb in zip(a.layers, b.layers, strict=True):
        assert la.file.read_bytes() == lb.file.read_bytes()
    manifest_a = json.loads((tmp_path / "a" / "manifest.json").read_text())
    manifest_b = json.loads((tmp_path / "b" / "manifest.json").read_text())
    manifest_b["name"] = "a"
    assert manifest_a == manifest_b
    assert all(la.sha256 != lc.sha256 for la, lc in zip(a.layers, c.layers, strict=True))


def test_blocks_do_not_depend_on_block_count(tmp_path: Path) -> None:
    one = synth_trace(tmp_path / "one", shape="smollm2-135m", tokens=2, layers=1)
    two = synth_trace(tmp_path / "two", shape="smollm2-135m", tokens=2, layers=2)
    assert [lay.sha256 for lay in one.layers] == [lay.sha256 for lay in two.layers[:7]]
    assert len({lay.sha256 for lay in two.layers}) == 14


def test_shared_inputs(tmp_path: Path) -> None:
    trace = synth_trace(tmp_path / "s", shape="smollm2-135m", tokens=5)
    x = {lay.op: np.asarray(lay.tensor("x")) for lay in trace.layers}
    np.testing.assert_array_equal(x["q_proj"], x["k_proj"])
    np.testing.assert_array_equal(x["q_proj"], x["v_proj"])
    np.testing.assert_array_equal(x["gate_proj"], x["up_proj"])
    assert not np.array_equal(x["q_proj"], x["gate_proj"])
    assert not np.array_equal(x["q_proj"], x["o_proj"])


@pytest.mark.parametrize("tokens", [4, 64])
def test_activations_have_outlier_channels(tmp_path: Path, tokens: int) -> None:
    trace = synth_trace(tmp_path / "s", shape="smollm2-135m", tokens=tokens)
    for op in ("q_proj", "o_proj", "gate_proj", "down_proj"):
        layer = next(lay for lay in trace.layers if lay.op == op)
        assert channel_max_ratio(layer.activations()) >= 10.0, op


def test_outlier_channels_are_persistent(tmp_path: Path) -> None:
    """The same hidden channels are outliers for every token and in every block."""
    trace = synth_trace(tmp_path / "s", shape="smollm2-135m", tokens=32, layers=2)
    sets = []
    for name in ("layers.0.self_attn.q_proj", "layers.0.mlp.up_proj", "layers.1.self_attn.q_proj"):
        x = np.abs(trace.layer(name).activations())
        # persistent: large for (nearly) every token, so even the per-channel median is large
        persistent = np.flatnonzero(np.median(x, axis=0) > 5.0)
        assert np.all(np.quantile(x[:, persistent], 0.1, axis=0) > 5.0)
        sets.append(set(persistent.tolist()))
    assert sets[0] == sets[1] == sets[2]
    assert 1 <= len(sets[0]) <= 0.01 * 576


def test_activation_tails_and_massive_values(tmp_path: Path) -> None:
    trace = synth_trace(tmp_path / "s", shape="smollm2-135m", tokens=256)
    q = trace.layer("layers.0.self_attn.q_proj").activations()
    down = trace.layer("layers.0.mlp.down_proj").activations()
    bulk = np.delete(q, np.flatnonzero(np.abs(q).max(axis=0) > 8), axis=1).ravel()
    kurtosis = np.mean((bulk - bulk.mean()) ** 4) / bulk.var() ** 2
    assert kurtosis > 4.0  # heavier-tailed than a Gaussian (3)
    channel_median = np.median(np.abs(down), axis=0)
    ordinary = down[:, channel_median < np.quantile(channel_median, 0.98)]
    # ~1e-4 of entries are massive (100-1000, the bulk being ~0.1): expect ~38 here
    assert 10 <= np.count_nonzero(np.abs(ordinary) > 100) <= 100
    assert np.abs(ordinary).max() > 1000 * np.median(np.abs(ordinary))
    assert np.abs(down).max() < np.finfo(np.float16).max


def test_weight_statistics(tmp_path: Path) -> None:
    trace = synth_trace(tmp_path / "s", shape="smollm2-135m", tokens=2)
    for layer in trace.layers:
        w = layer.weights()
        std = np.median(w.std(axis=1))
        assert 0.7 / np.sqrt(layer.k) < std < 1.3 / np.sqrt(layer.k)
        row_std = w.std(axis=1)
        assert row_std.max() / row_std.min() > 1.5  # per-channel scales vary
        assert np.abs(w).max() > 8 / np.sqrt(layer.k)  # a few large weights


def test_float16_never_overflows(tmp_path: Path) -> None:
    trace = synth_trace(tmp_path / "g", gemm=(64, 4096, 4), seed=1)
    x = np.asarray(trace.layers[0].tensor("x"))
    assert np.isfinite(x).all()


def test_synth_layers_is_a_stream() -> None:
    stream = synth_layers(shape="smollm2-135m", tokens=2)
    first = next(stream)
    assert first.name == "layers.0.self_attn.q_proj"
    assert first.tensors["x"].shape == (2, 576)
    assert len(list(stream)) == 6


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({}, "shape"),
        ({"shape": "smollm2-135m", "gemm": (1, 2, 3)}, "shape"),
        ({"shape": "gpt-5"}, "shape"),
        ({"shape": "smollm2-135m", "layers": 0}, "layers"),
        ({"shape": "smollm2-135m", "layers": 31}, "layers"),
        ({"shape": "smollm2-135m", "tokens": 0}, "tokens"),
        ({"shape": "smollm2-135m", "seed": -1}, "seed"),
        ({"shape": "smollm2-135m", "dtype": "int8"}, "dtype"),
        ({"gemm": (0, 2, 3)}, "gemm"),
        ({"gemm": (1, 2)}, "gemm"),
        ({"gemm": (4, 2, 3), "tokens": 5}, "tokens"),
        ({"gemm": (4, 2, 3), "layers": 2}, "layers"),
    ],
)
def test_bad_arguments(tmp_path: Path, kwargs: dict[str, Any], field: str) -> None:
    with pytest.raises(InputError) as info:
        synth_trace(tmp_path / "t", **kwargs)
    assert info.value.field == field
    assert not (tmp_path / "t").exists()
    assert list(tmp_path.iterdir()) == []


def test_parse_gemm() -> None:
    assert parse_gemm("8, 32,16") == (8, 32, 16)
    for bad in ("8,32", "8,32,x", "8,0,16", "", "1,2,3,4"):
        with pytest.raises(InputError) as info:
            parse_gemm(bad)
        assert info.value.field == "gemm"


def test_synth_trace_loads_back(tmp_path: Path) -> None:
    synth_trace(tmp_path / "s", gemm=(3, 5, 7))
    assert load_trace(tmp_path / "s").layers[0].activations().shape == (3, 5)

"""Shape-only workloads (spikesim.trace.workload, spikesim.trace.topology): topology CSVs (ours and
SCALE-Sim's), Hugging Face config.json, named shapes; generated values equal synth's, seeded,
order-independent; bounded, one-line errors naming the file, row and field."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import spikesim
import spikesim.trace.topology as topology
from spikesim.errors import InputError
from spikesim.sim.counts import select_layers
from spikesim.trace import (
    SHAPES,
    ShapeWorkload,
    Trace,
    load_workload,
    synth_layers,
    synth_trace,
)
from spikesim.trace.synth import MAX_TENSOR_ELEMENTS, MAX_WEIGHT_ELEMENTS
from spikesim.trace.workload import GeneratedLayer, check_layer_sizes, workload_summary

OPS = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")

TINY_CONFIG: dict[str, Any] = {
    "architectures": ["LlamaForCausalLM"],
    "model_type": "llama",
    "hidden_size": 16,
    "intermediate_size": 24,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "num_key_value_heads": 2,
    "vocab_size": 100,
}

# SmolLM2-135M's config.json (the values that matter, as published with the model)
SMOLLM2_CONFIG: dict[str, Any] = {
    "architectures": ["LlamaForCausalLM"],
    "head_dim": 64,
    "hidden_act": "silu",
    "hidden_size": 576,
    "intermediate_size": 1536,
    "model_type": "llama",
    "num_attention_heads": 9,
    "num_hidden_layers": 30,
    "num_key_value_heads": 3,
    "rope_theta": 100000,
    "tie_word_embeddings": True,
    "vocab_size": 49152,
}

# meta-llama/Llama-2-70b-hf config.json
LLAMA2_70B_CONFIG: dict[str, Any] = {
    "architectures": ["LlamaForCausalLM"],
    "hidden_act": "silu",
    "hidden_size": 8192,
    "intermediate_size": 28672,
    "max_position_embeddings": 4096,
    "model_type": "llama",
    "num_attention_heads": 64,
    "num_hidden_layers": 80,
    "num_key_value_heads": 8,
    "rms_norm_eps": 1e-05,
    "rope_scaling": None,
    "vocab_size": 32000,
}


def write_csv(path: Path, text: str, *, newline: str = "\n") -> Path:
    path.write_bytes(text.replace("\n", newline).encode("utf-8"))
    return path


def write_config(path: Path, config: dict[str, Any]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(config), encoding="utf-8")
    return path


def same_bits(a: np.ndarray, b: np.ndarray) -> bool:
    return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()


def plan(workload: Any) -> list[tuple[str, str, int, int, int]]:
    return [(lay.name, lay.op, lay.tokens, lay.k, lay.n) for lay in workload.layers]


def linears(workload: Any) -> list[Any]:
    """The linear layers of a workload (a model's block plan also has attention and vector
    layers)."""
    return [lay for lay in workload.layers if lay.op_class == "linear"]


def linear_plan(workload: Any) -> list[tuple[str, str, int, int, int]]:
    return [(lay.name, lay.op, lay.tokens, lay.k, lay.n) for lay in linears(workload)]


# --------------------------------------------------------------------------------------------
# Topology CSV
# --------------------------------------------------------------------------------------------


def test_topology_csv_rows(tmp_path: Path) -> None:
    csv = write_csv(tmp_path / "topo.csv", "layer,M,N,K\nq,8,40,64\nup,4,48,64\n")
    wl = load_workload(csv)
    assert isinstance(wl, ShapeWorkload)
    assert wl.kind == "topology-csv"
    assert wl.name == "topo"
    assert plan(wl) == [("q", "gemm", 8, 64, 40), ("up", "gemm", 4, 64, 48)]
    assert wl.tokens == 8  # the largest M
    assert wl.seed == 0
    assert wl.layers[0].activations().shape == (8, 64)
    assert wl.layers[1].weights().shape == (48, 64)


def test_scale_sim_gemm_topology(tmp_path: Path) -> None:
    """scale-sim-v2 topologies/GEMM_mnk/*.csv: 'Layer,M,N,K,' or 'Layer Name, M, N, K,', rows
    ending in ',', CRLF line ends, the last line without a line end."""
    gpt2 = "Layer,M,N,K,\nQKT,1024,1024,64,\nQKTV,1024,64,1024,\nLinear1,1024,4800,1600,"
    wl = load_workload(write_csv(tmp_path / "gpt2.csv", gpt2, newline="\r\n"))
    assert plan(wl) == [
        ("QKT", "gemm", 1024, 64, 1024),
        ("QKTV", "gemm", 1024, 1024, 64),
        ("Linear1", "gemm", 1024, 1600, 4800),
    ]
    test = "Layer Name, M, N, K,\nTest 1, 128, 64, 256,"
    wl = load_workload(write_csv(tmp_path / "test_mnk_input.csv", test))
    assert plan(wl) == [("Test 1", "gemm", 128, 256, 64)]


def test_csv_columns_by_name_bom_and_blank_lines(tmp_path: Path) -> None:
    text = "\ufeffK, n ,LAYER,m\n\n64,40,q,8\n\n"
    wl = load_workload(write_csv(tmp_path / "t.csv", text))
    assert plan(wl) == [("q", "gemm", 8, 64, 40)]


def test_csv_tokens_replace_every_m(tmp_path: Path) -> None:
    csv = write_csv(tmp_path / "t.csv", "layer,M,N,K\na,8,40,64\nb,4,48,64\n")
    wl = load_workload(csv, tokens=3)
    assert [lay.tokens for lay in wl.layers] == [3, 3]
    assert wl.tokens == 3
    assert wl.source["tokens_override"] == 3


def test_one_row_csv_equals_synth_gemm(tmp_path: Path) -> None:
    """Row i draws from block i's streams with synth --gemm's statistics: a one-row CSV is
    bit-identical to `synth --gemm M,K,N` at the same seed (float16 rounding included)."""
    wl = load_workload(write_csv(tmp_path / "t.csv", "layer,M,N,K\ng,8,40,64\n"), seed=5)
    trace = synth_trace(tmp_path / "trace", gemm=(8, 64, 40), seed=5)
    assert same_bits(wl.layers[0].activations(), trace.layers[0].activations())
    assert same_bits(wl.layers[0].weights(), trace.layers[0].weights())
    assert same_bits(wl.layers[0].tensor("x"), np.asarray(trace.layers[0].tensor("x")))


# --------------------------------------------------------------------------------------------
# Hugging Face config.json and named shapes
# --------------------------------------------------------------------------------------------


def test_hf_config_gqa_shapes(tmp_path: Path) -> None:
    config = write_config(tmp_path / "tiny-llama" / "config.json", TINY_CONFIG)
    wl = load_workload(config, tokens=5)
    assert isinstance(wl, ShapeWorkload)
    assert wl.kind == "hf-config"
    assert wl.name == "tiny-llama"
    # head_dim = 16 / 4 = 4; 2 KV heads: k/v_proj 16 -> 8
    assert linear_plan(wl)[:7] == [
        ("layers.0.self_attn.q_proj", "q_proj", 5, 16, 16),
        ("layers.0.self_attn.k_proj", "k_proj", 5, 16, 8),
        ("layers.0.self_attn.v_proj", "v_proj", 5, 16, 8),
        ("layers.0.self_attn.o_proj", "o_proj", 5, 16, 16),
        ("layers.0.mlp.gate_proj", "gate_proj", 5, 16, 24),
        ("layers.0.mlp.up_proj", "up_proj", 5, 16, 24),
        ("layers.0.mlp.down_proj", "down_proj", 5, 24, 16),
    ]
    assert len(linears(wl)) == 14
    assert wl.source["config"]["head_dim"] == 4
    assert wl.source["config"]["num_key_value_heads"] == 2


def test_hf_config_defaults_and_explicit_head_dim(tmp_path: Path) -> None:
    no_kv = {k: v for k, v in TINY_CONFIG.items() if k != "num_key_value_heads"}
    wl = load_workload(write_config(tmp_path / "a.json", no_kv), tokens=1)
    assert [lay.n for lay in linears(wl)[:3]] == [16, 16, 16]  # kv heads = heads
    explicit = {**TINY_CONFIG, "head_dim": 6, "num_key_value_heads": None}
    wl = load_workload(write_config(tmp_path / "b.json", explicit), tokens=1)
    q, k, _, o = linears(wl)[:4]
    assert (q.n, k.n, o.k) == (24, 24, 24)  # 4 heads x 6; null kv heads = 4


def test_llama2_70b_gqa_shapes() -> None:
    wl = load_workload("llama2-70b", tokens=16)
    assert isinstance(wl, ShapeWorkload)
    assert wl.kind == "named-shape"
    assert len(linears(wl)) == 80 * 7
    assert [(lay.op, lay.k, lay.n) for lay in linears(wl)[:7]] == [
        ("q_proj", 8192, 8192),
        ("k_proj", 8192, 1024),  # 8 KV heads x 128
        ("v_proj", 8192, 1024),
        ("o_proj", 8192, 8192),
        ("gate_proj", 8192, 28672),
        ("up_proj", 8192, 28672),
        ("down_proj", 28672, 8192),
    ]
    dims = SHAPES["llama2-70b"]
    assert (dims.heads, dims.kv_heads, dims.head_dim) == (64, 8, 128)


def test_named_shapes_match_their_configs(tmp_path: Path) -> None:
    """The named shapes are the models' config.json values: a config gives the same layers."""
    for name, config in (("llama2-70b", LLAMA2_70B_CONFIG), ("smollm2-135m", SMOLLM2_CONFIG)):
        from_config = load_workload(write_config(tmp_path / name / "config.json", config),
                                    tokens=2)
        from_name = load_workload(f"shape:{name}", tokens=2)
        assert plan(from_config) == plan(from_name)
        assert [lay.sha256 for lay in from_config.layers] == [
            lay.sha256 for lay in from_name.layers
        ]
    mistral = SHAPES["mistral-7b"]
    assert (mistral.hidden, mistral.intermediate, mistral.kv_out, mistral.blocks) == (
        4096, 14336, 1024, 32
    )
    l13 = SHAPES["llama2-13b"]
    assert (l13.hidden, l13.intermediate, l13.kv_out, l13.blocks) == (5120, 13824, 5120, 40)


def test_named_shape_equals_synth_trace(tmp_path: Path) -> None:
    """A named shape's layers are bit-identical to the trace synth writes for the same shape,
    tokens and seed (blocks 0 and 1, every op, shared residual outlier channels included)."""
    trace = synth_trace(tmp_path / "s", shape="smollm2-135m", layers=2, tokens=3, seed=11)
    wl = load_workload("shape:smollm2-135m", tokens=3, seed=11)
    for on_disk in trace.layers:
        generated = wl.layer(on_disk.name)
        assert (generated.op, generated.k, generated.n) == (on_disk.op, on_disk.k, on_disk.n)
        assert same_bits(generated.activations(), on_disk.activations()), on_disk.name
        assert same_bits(generated.weights(), on_disk.weights()), on_disk.name


# --------------------------------------------------------------------------------------------
# Determinism, order independence, memory
# --------------------------------------------------------------------------------------------


def test_same_seed_same_bits_in_any_order() -> None:
    forward = load_workload("shape:smollm2-135m", tokens=2, seed=3)
    backward = load_workload("shape:smollm2-135m", tokens=2, seed=3)
    names = [lay.name for lay in linears(forward)[:14]]
    first = {n: (forward.layer(n).activations(), forward.layer(n).weights()) for n in names}
    for n in reversed(names):
        x, w = backward.layer(n).activations(), backward.layer(n).weights()
        assert same_bits(x, first[n][0]), n
        assert same_bits(w, first[n][1]), n
    # asked again, after other layers: still the same
    assert same_bits(forward.layer(names[0]).activations(), first[names[0]][0])
    assert [lay.sha256 for lay in forward.layers] == [lay.sha256 for lay in backward.layers]


def test_seed_changes_values_and_digests() -> None:
    a = linears(load_workload("shape:smollm2-135m", tokens=2, seed=0))[0]
    b = linears(load_workload("shape:smollm2-135m", tokens=2, seed=1))[0]
    assert not np.array_equal(a.activations(), b.activations())
    assert not np.array_equal(a.weights(), b.weights())
    assert a.sha256 != b.sha256


def test_generated_arrays_are_shared_and_read_only() -> None:
    """x and w are float16 values held in float32 arrays made once and shared: q/k/v read one
    x; nobody may write it (the next layer would read the change)."""
    wl = load_workload("shape:smollm2-135m", tokens=2)
    q, k = linears(wl)[0], linears(wl)[1]
    x = q.activations()
    assert x.dtype == np.float32
    assert not x.flags.writeable
    with pytest.raises(ValueError, match="read-only"):
        x[:] = 0
    assert k.activations() is x  # q/k/v share one input, generated once (a one-entry cache)
    assert linears(wl)[3].activations() is not x  # o_proj: another input
    assert not q.weights().flags.writeable
    for name, held in (("x", x), ("w", q.weights())):
        half = q.tensor(name)  # the values as float16, as synth writes them
        assert half.dtype == np.float16
        assert same_bits(half.astype(np.float32), held)
    assert q.tensor_names() == ("x", "w")
    with pytest.raises(InputError):
        q.tensor("x_q")


@pytest.mark.slow  # opens every named shape and phase: 0.9 s
def test_nothing_generated_on_load() -> None:
    """Opening a whole llama2-7b at 2048 tokens is instant: values come only when asked."""
    wl = load_workload("llama2-7b", tokens=2048)
    assert len(linears(wl)) == 224
    assert all(isinstance(lay, GeneratedLayer) for lay in linears(wl))


# --------------------------------------------------------------------------------------------
# Layer selection and sizes
# --------------------------------------------------------------------------------------------


def test_select_layers_names_and_globs() -> None:
    wl = load_workload("shape:smollm2-135m", tokens=1)
    chosen = select_layers(wl, ["layers.1.*", "layers.0.mlp.down_proj"])
    assert [lay.name for lay in chosen] == [
        "layers.0.mlp.down_proj", *(n for n in wl.layer_names() if n.startswith("layers.1."))
    ]
    with pytest.raises(InputError) as info:
        select_layers(wl, ["layers.99.*"])
    assert info.value.field == "layers"


@pytest.mark.slow  # builds a 196,608-layer plan at 12k tokens: ~3 s
def test_too_big_layer_is_refused_naming_it(tmp_path: Path) -> None:
    wl = load_workload("llama2-70b", tokens=16)
    check_layer_sizes(linears(wl)[:7])  # the MLP weights, 28672 x 8192, fit under 2^28
    assert 28672 * 8192 <= MAX_WEIGHT_ELEMENTS < 2 * 28672 * 8192
    csv = write_csv(tmp_path / "w.csv", f"layer,M,N,K\nwide,2,{MAX_WEIGHT_ELEMENTS // 1024 + 1},"
                    "1024\n")
    wide = load_workload(csv)
    with pytest.raises(InputError) as info:
        check_layer_sizes(wide.layers)
    assert "'wide'" in info.value.message
    assert "2^28" in info.value.message
    assert info.value.field == "N"
    with pytest.raises(InputError):
        wide.layers[0].weights()  # generating it refuses too
    too_long = load_workload("llama2-7b", tokens=MAX_TENSOR_ELEMENTS // 11008 + 1)
    with pytest.raises(InputError) as info:
        check_layer_sizes(too_long.layers)
    assert info.value.field == "tokens"


def test_too_big_csv_row_names_line_and_column(tmp_path: Path) -> None:
    csv = write_csv(tmp_path / "t.csv", "layer,M,N,K\nsmall,2,2,2\nhuge,200000,2,1000\n")
    wl = load_workload(csv)
    with pytest.raises(InputError) as info:
        check_layer_sizes(wl.layers)
    assert info.value.file == str(csv)
    assert info.value.field == "M"
    assert "line 3" in info.value.message
    assert "'huge'" in info.value.message


# --------------------------------------------------------------------------------------------
# What summary.json records
# --------------------------------------------------------------------------------------------


def test_workload_summary(tmp_path: Path) -> None:
    csv = write_csv(tmp_path / "t.csv", "layer,M,N,K\na,2,4,8\n")
    summary = workload_summary(load_workload(csv, seed=9))
    assert summary["kind"] == "topology-csv"
    assert summary["path"] == str(csv.resolve())
    assert len(summary["file_sha256"]) == 64
    assert (summary["seed"], summary["tokens"]) == (9, 2)
    assert summary["source"]["seed"] == 9
    assert list(summary["layer_sha256"]) == ["a"]
    named = workload_summary(load_workload("mistral-7b", tokens=7))
    assert named["kind"] == "named-shape"
    assert named["path"] is None
    assert named["file_sha256"] is None
    assert named["source"]["dims"]["kv_out"] == 1024
    config = write_config(tmp_path / "m" / "config.json", TINY_CONFIG)
    hf = workload_summary(load_workload(config, tokens=3))
    assert hf["kind"] == "hf-config"
    assert hf["file_sha256"] == topology.sha256_bytes(config.read_bytes())
    trace = synth_trace(tmp_path / "trace", gemm=(2, 4, 8))
    traced = workload_summary(trace)
    assert traced["kind"] == "trace"
    assert set(traced) >= {"manifest_sha256", "layer_sha256", "source", "path"}


# --------------------------------------------------------------------------------------------
# Traces and names through load_workload
# --------------------------------------------------------------------------------------------


def test_trace_directory_and_shipped_trace(tmp_path: Path) -> None:
    trace = synth_trace(tmp_path / "t", gemm=(2, 4, 8))
    loaded = load_workload(tmp_path / "t")
    assert isinstance(loaded, Trace)
    assert loaded.layer_names() == trace.layer_names()
    assert isinstance(load_workload(tmp_path / "t", tokens=2), Trace)  # its own count is fine
    shipped = load_workload("smollm2-135m")
    assert isinstance(shipped, Trace)  # a bare name is the shipped trace, as --trace reads it
    assert isinstance(load_workload("shape:smollm2-135m", tokens=4), ShapeWorkload)


def test_api_load_workload_is_what_simulate_takes() -> None:
    wl = spikesim.load_workload("shape:smollm2-135m", tokens=2, seed=1)
    assert isinstance(wl, ShapeWorkload)
    with pytest.raises(InputError) as info:
        spikesim.load_workload("/nonexistent/dir/topo.csv")
    assert info.value.field == "workload"


# --------------------------------------------------------------------------------------------
# Bad input: one InputError naming the file, the row and the field
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "field", "needles"),
    [
        pytest.param("layer,M,N\nq,1,2\n", "K", ["missing column K"], id="missing-column"),
        pytest.param("layer,M,N,K,X\nq,1,2,3,4\n", "X", ["unknown column"], id="unknown-column"),
        pytest.param("layer,M,N,K\nq,0,2,3\n", "M", ["line 2", "'q'", "positive"],
                     id="zero"),
        pytest.param("layer,M,N,K\nq,1,2,3\nr,1,-2,3\n", "N", ["line 3", "'-2'"],
                     id="negative"),
        pytest.param("layer,M,N,K\nq,1,2,3.5\n", "K", ["line 2", "'3.5'"], id="non-integer"),
        pytest.param("layer,M,N,K\nq,1,two,3\n", "N", ["'two'"], id="word"),
        pytest.param("layer,M,N,K\nq,1,2\n", "K", ["got ''"], id="short-row"),
        pytest.param("layer,M,N,K\nq,1,2,3,9\n", "column 5", ["5 cells"], id="long-row"),
        pytest.param("layer,M,N,K\n,1,2,3\n", "layer", ["empty layer name"], id="no-name"),
        pytest.param("layer,M,N,K\nq,1,2,3\nq,1,2,3\n", "layer", ["line 3", "line 2"],
                     id="duplicate-name"),
        pytest.param("layer,M,N,K\nq,1,2,1234567890123\n", "K", ["absurd"], id="absurd"),
        pytest.param("", None, ["empty"], id="empty"),
        pytest.param("\n\n", None, ["empty"], id="blank"),
        pytest.param("layer,M,N,K\n", None, ["no GEMM rows"], id="header-only"),
        pytest.param("layer,M,N,K\n\x00", None, ["binary"], id="binary"),
    ],
)
def test_bad_topology_csv(tmp_path: Path, text: str, field: str | None,
                          needles: list[str]) -> None:
    csv = write_csv(tmp_path / "bad.csv", text)
    with pytest.raises(InputError) as info:
        load_workload(csv)
    assert info.value.file == str(csv)
    assert info.value.field == field
    for needle in needles:
        assert needle in info.value.message, info.value.message


def test_csv_row_and_size_limits(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(topology, "MAX_TOPOLOGY_ROWS", 3)
    rows = "".join(f"l{i},1,1,1\n" for i in range(4))
    csv = write_csv(tmp_path / "many.csv", "layer,M,N,K\n" + rows)
    with pytest.raises(InputError, match="more than 3 GEMM rows"):
        load_workload(csv)
    monkeypatch.setattr(topology, "MAX_TOPOLOGY_BYTES", 20)
    with pytest.raises(InputError, match="20-byte limit") as info:
        load_workload(csv)
    assert info.value.file == str(csv)


@pytest.mark.parametrize(
    ("change", "field", "needle"),
    [
        pytest.param({"hidden_size": None}, "hidden_size", "required", id="hidden-null"),
        pytest.param({"intermediate_size": "big"}, "intermediate_size", "positive",
                     id="intermediate-string"),
        pytest.param({"num_hidden_layers": 0}, "num_hidden_layers", "positive", id="layers-0"),
        pytest.param({"num_attention_heads": True}, "num_attention_heads", "positive",
                     id="heads-bool"),
        pytest.param({"num_key_value_heads": 3}, "num_key_value_heads", "divide", id="gqa"),
        pytest.param({"hidden_size": 18}, "head_dim", "head_dim", id="heads-dont-divide"),
        pytest.param({"num_local_experts": 8}, "num_local_experts", "mixture", id="moe"),
        pytest.param({"num_hidden_layers": 20000}, "num_hidden_layers", "more than",
                     id="too-many-layers"),
    ],
)
def test_bad_hf_config(tmp_path: Path, change: dict[str, Any], field: str, needle: str) -> None:
    config = write_config(tmp_path / "config.json", {**TINY_CONFIG, **change})
    with pytest.raises(InputError) as info:
        load_workload(config, tokens=4)
    assert info.value.file == str(config)
    assert info.value.field == field
    assert needle in info.value.message


@pytest.mark.parametrize(
    "key", ["hidden_size", "intermediate_size", "num_hidden_layers", "num_attention_heads"]
)
def test_hf_config_missing_field_is_named(tmp_path: Path, key: str) -> None:
    config = write_config(
        tmp_path / "config.json", {k: v for k, v in TINY_CONFIG.items() if k != key}
    )
    with pytest.raises(InputError) as info:
        load_workload(config, tokens=4)
    assert (info.value.file, info.value.field) == (str(config), key)


def test_bad_hf_config_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for text, needle in (("[1, 2]", "JSON object"), ('{"a": 1', "not valid JSON"),
                         ('{"a": 1, "a": 2}', "duplicate"), ('{"a": NaN}', "NaN")):
        path = tmp_path / "config.json"
        path.write_text(text)
        with pytest.raises(InputError, match=needle) as info:
            load_workload(path, tokens=1)
        assert info.value.file == str(path)
    monkeypatch.setattr(topology, "MAX_CONFIG_BYTES", 10)
    config = write_config(tmp_path / "big.json", TINY_CONFIG)
    with pytest.raises(InputError, match="10-byte limit"):
        load_workload(config, tokens=1)


@pytest.mark.parametrize(
    ("workload", "kwargs", "field", "needle"),
    [
        pytest.param("llama2-7b", {}, "tokens", "token count", id="shape-needs-tokens"),
        pytest.param("llama2-7b", {"tokens": 0}, "tokens", "positive", id="tokens-zero"),
        pytest.param("llama2-7b", {"tokens": -3}, "tokens", "positive", id="tokens-negative"),
        pytest.param("llama2-7b", {"tokens": True}, "tokens", "positive", id="tokens-bool"),
        pytest.param("llama2-7b", {"tokens": 4, "seed": -1}, "seed", "seed", id="seed"),
        pytest.param("gpt-9", {"tokens": 4}, "workload", "llama2-70b, llama2-7b",
                     id="unknown-name"),
        pytest.param("shape:gpt-9", {"tokens": 4}, "workload", "known: llama2-13b",
                     id="unknown-shape"),
        pytest.param("smollm2-135m", {"tokens": 4}, "tokens", "shape:smollm2-135m",
                     id="shipped-trace-tokens"),
        pytest.param("smollm2-135m", {"seed": 1}, "seed", "on disk", id="shipped-trace-seed"),
    ],
)
def test_bad_arguments(workload: str, kwargs: dict[str, Any], field: str, needle: str) -> None:
    with pytest.raises(InputError) as info:
        load_workload(workload, **kwargs)
    assert info.value.field == field
    assert needle in info.value.message, info.value.message


def test_bad_paths(tmp_path: Path) -> None:
    for path in (tmp_path / "missing.csv", tmp_path / "sub" / "config.json",
                 tmp_path / "no" / "trace"):
        with pytest.raises(InputError, match="does not exist") as info:
            load_workload(path, tokens=1)
        assert (info.value.file, info.value.field) == (str(path), "workload")
    other = tmp_path / "notes.txt"
    other.write_text("hi")
    with pytest.raises(InputError, match="not a workload") as info:
        load_workload(other)
    assert info.value.file == str(other)
    (tmp_path / "dir.csv").mkdir()
    with pytest.raises(InputError):  # a directory is read as a trace: it has no manifest
        load_workload(tmp_path / "dir.csv")


def test_special_files_are_refused_without_blocking(tmp_path: Path) -> None:
    """A pipe named like a CSV is refused before it is opened (opening would wait forever)."""
    fifo = tmp_path / "topo.csv"
    os.mkfifo(fifo)
    with pytest.raises(InputError, match="not a regular file") as info:
        load_workload(fifo)
    assert info.value.file == str(fifo)
    link = tmp_path / "config.json"
    link.symlink_to("/dev/zero")
    with pytest.raises(InputError, match="not a regular file"):
        load_workload(link, tokens=1)


def test_synth_several_gemms() -> None:
    """``synth --gemm`` given several times: one layer each; the first equals the single GEMM."""
    layers = list(synth_layers(gemm=[(2, 8, 4), (2, 16, 6)], seed=1))
    assert [(lay.name, lay.tensors["w"].shape) for lay in layers] == [
        ("gemm.0", (4, 8)), ("gemm.1", (6, 16))
    ]
    (single,) = synth_layers(gemm=(2, 8, 4), seed=1)
    assert single.name == "gemm"
    for t in ("x", "w"):
        assert same_bits(layers[0].tensors[t], single.tensors[t])
    with pytest.raises(InputError, match="same M") as info:
        list(synth_layers(gemm=[(2, 8, 4), (3, 8, 4)]))
    assert info.value.field == "gemm"

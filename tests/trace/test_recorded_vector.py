"""The vector operators of a recorded trace's phases (spikesim.trace.recorded.recorded_layers):
the norms, RoPE, KV write, softmax, residual adds and SiLU·up of each block whose attention the
trace recorded, equal to a named shape's of the same dimensions and token counts (names,
fields, order around the linears and attention matmuls), none without a phase, and a clear
error where the trace cannot give their widths."""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import spikesim
from spikesim.errors import InputError
from spikesim.trace import load_trace, load_workload
from spikesim.trace.format import LayerTensors, TraceLayer, write_trace
from spikesim.trace.model_plan import ModelLayer, model_layers, phase_plan
from spikesim.trace.recorded import attention_section, decode_section
from spikesim.trace.synth import ModelShape
from spikesim.trace.vector import VectorLayer
from spikesim.trace.workload import ShapeWorkload

ROOT = Path(__file__).resolve().parents[2]
HW = ROOT / "hw_configs" / "spikequant-45nm.yaml"

H, G, D, S, T, N = 4, 2, 8, 2, 10, 2
"""Heads, KV heads, head dim, sequences, prompt tokens per sequence, decode steps."""
HIDDEN, INTER = 24, 40
"""Model and MLP widths (different, so a width read from the wrong layer shows)."""
SHAPE = ModelShape(hidden=HIDDEN, intermediate=INTER, q_out=H * D, kv_out=G * D, blocks=2,
                   heads=H, kv_heads=G)
WIDTHS = {"q_proj": (HIDDEN, H * D), "k_proj": (HIDDEN, G * D), "v_proj": (HIDDEN, G * D),
          "o_proj": (H * D, HIDDEN), "gate_proj": (HIDDEN, INTER), "up_proj": (HIDDEN, INTER),
          "down_proj": (INTER, HIDDEN)}
"""(K, N) of each projection."""
BLOCK = ("self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "self_attn.o_proj",
         "mlp.gate_proj", "mlp.up_proj", "mlp.down_proj")
PHASES = ("prefill", "decode", "both")


def write(path: Path, names: list[str], blocks: tuple[int, ...] = (0, 1),
          widths: dict[str, tuple[int, int]] | None = None) -> Path:
    """A trace of the linears ``names`` (ops from the last name part), the attention of
    ``blocks`` and ``N`` decode steps of every linear, ``S`` sequences of ``T`` tokens."""
    rng = np.random.default_rng(3)
    shapes = {**WIDTHS, **(widths or {})}

    def array(*shape: int) -> np.ndarray:
        return rng.standard_normal(shape).astype(np.float16)

    layers = []
    for name in names:
        op = name.rsplit(".", 1)[-1]
        k, n = shapes.get(op, (HIDDEN, HIDDEN))
        layers.append(LayerTensors(name, op, {"x": array(S * T, k), "w": array(n, k)}))
    positions = T + N
    sections = [
        attention_section(
            heads=H, kv_heads=G, head_dim=D, sequences=S, prefill_tokens=T,
            blocks=[(b, f"layers.{b}.self_attn", {"q": array(S, positions, H, D),
                                                   "k": array(S, positions, G, D),
                                                   "v": array(S, positions, G, D)})
                    for b in blocks],
        ),
        decode_section(
            steps=N, sequences=S, token_ids=[[1] * N] * S,
            inputs=[(lay.name, array(N * S, lay.tensors["x"].shape[1])) for lay in layers],
        ),
    ]
    write_trace(path, name=path.name, source={"kind": "test"}, layers=layers,
                sections=sections)
    return path


def shape_layers(phase: str, dims: ModelShape = SHAPE, tokens: int = T, batch: int = S,
                 steps: int = N) -> tuple[ModelLayer, ...]:
    """The named shape's layers of ``phase`` at the trace's token counts (seed irrelevant: only
    names and vector layers are compared)."""
    if phase == "decode":
        plan = phase_plan(phase=phase, batch=batch, context=tokens, decode_steps=steps)
    elif phase == "both":
        plan = phase_plan(phase=phase, batch=batch, tokens=tokens, decode_steps=steps)
    else:
        plan = phase_plan(phase=phase, batch=batch, tokens=tokens)
    return model_layers(dims, plan, 0)


def vectors(layers: Iterable[object]) -> list[VectorLayer]:
    return [lay for lay in layers if isinstance(lay, VectorLayer)]


@pytest.fixture(scope="module")
def whole(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Blocks 0 and 1 whole: every projection, the attention, decode steps."""
    return write(tmp_path_factory.mktemp("traces") / "whole",
                 [f"layers.{b}.{part}" for b in (0, 1) for part in BLOCK])


@pytest.mark.parametrize("phase", PHASES)
def test_vector_layers_are_the_named_shapes(whole: Path, phase: str) -> None:
    """Same vector layers (every field, so names, ops, tokens, widths, heads, sequences, keys,
    rows per token, phase, class) and digests as the named shape of the trace's dimensions,
    and every layer in the shape's order."""
    trace = load_trace(whole, phase=phase)
    shape = shape_layers(phase)
    got, want = vectors(trace.layers), vectors(shape)
    assert got == want
    assert [v.sha256 for v in got] == [v.sha256 for v in want]
    assert len(got) == 8 * 2 * {"prefill": 1, "decode": N, "both": 1 + N}[phase]
    names = set(trace.layer_names())
    assert list(trace.layer_names()) == [lay.name for lay in shape if lay.name in names]
    assert {lay.phase for lay in got} == ({"prefill", "decode"} if phase == "both" else {phase})


def test_vector_fields_come_from_the_trace(whole: Path) -> None:
    trace = load_trace(whole, phase="both")
    by_name = {lay.name: lay for lay in vectors(trace.layers)}
    assert by_name["layers.0.mlp.silu_mul"].width == INTER  # gate_proj's N
    assert by_name["layers.1.self_attn.rmsnorm"].width == HIDDEN  # q_proj's K
    rope = by_name["layers.0.self_attn.rope"]
    assert (rope.width, rope.table_values, rope.tokens) == ((H + G) * D, D, S * T)
    softmax = by_name["layers.1.self_attn.softmax"]
    assert (softmax.heads, softmax.sequences, softmax.tokens, softmax.keys) == (H, S, S * T, 0)
    kv = by_name["layers.0.self_attn.kv_write"]
    assert (kv.op_class, kv.rows_per_token, kv.width) == ("kv", 2 * G, D)
    for step in range(N):
        softmax = by_name[f"decode.{step}.layers.1.self_attn.softmax"]
        assert (softmax.tokens, softmax.keys, softmax.phase) == (S, T + step + 1, "decode")
        assert by_name[f"decode.{step}.layers.0.mlp.residual"].tokens == S


def test_without_a_phase_the_trace_is_its_linears(whole: Path) -> None:
    trace = load_trace(whole)
    assert all(isinstance(lay, TraceLayer) for lay in trace.layers)
    assert trace.layers == trace.manifest_layers
    assert trace.layer_names() == tuple(f"layers.{b}.{part}" for b in (0, 1) for part in BLOCK)
    assert trace.tokens == S * T
    both = load_trace(whole, phase="both")
    assert both.manifest_layers == trace.layers
    # the linears and attention of a phase are where they were before vector layers
    assert [lay.name for lay in both.layers if not isinstance(lay, VectorLayer)] == [
        lay.name for lay in shape_layers("both") if not isinstance(lay, VectorLayer)
    ]


def test_simulated_like_the_named_shapes(whole: Path) -> None:
    """Vector layers cost on a trace what they cost on the named shape (same rows)."""
    chosen = ["layers.1.self_attn.softmax", "layers.0.mlp.silu_mul",
              "decode.1.layers.0.self_attn.kv_write", "decode.0.layers.1.self_attn.rope"]
    hw = spikesim.load_hardware(HW)
    trace = spikesim.simulate(hw, load_workload(whole, phase="both"), ["spikequant"],
                              layers=chosen).layers
    named = ShapeWorkload(kind="named-shape", name="same-dims", path=None, file_sha256=None,
                          tokens=S * (T + N), seed=0, source={},
                          layers=shape_layers("both"))
    shape = spikesim.simulate(hw, named, ["spikequant"], layers=chosen).layers
    assert sorted(trace["layer"]) == sorted(chosen)
    pd.testing.assert_frame_equal(trace.reset_index(drop=True), shape.reset_index(drop=True))
    assert (trace["energy_pj"] > 0).all()
    assert set(trace["op_class"]) == {"vector", "kv"}


def test_blocks_in_part(tmp_path: Path) -> None:
    """A block with its attention and o_proj only has the attention's operators, not the
    MLP's; one with its attention and down_proj (the shipped trace's block 11) has all."""
    path = write(tmp_path / "part", ["layers.0.mlp.down_proj", "layers.2.self_attn.o_proj"],
                 blocks=(0, 2))
    names = load_trace(path, phase="prefill").layer_names()
    attn = [f"layers.{{b}}.attn.{kind}.g{g}.q0.seq{s}" for g in range(G) for s in range(S)
            for kind in ("score", "value")]
    assert names == tuple(
        [f"layers.0.self_attn.{op}" for op in ("rmsnorm", "rope", "kv_write")]
        + [a.format(b=0) for a in attn]
        + [f"layers.0.self_attn.{op}" for op in ("softmax", "residual")]
        + ["layers.0.mlp.rmsnorm", "layers.0.mlp.silu_mul", "layers.0.mlp.down_proj",
           "layers.0.mlp.residual"]
        + [f"layers.2.self_attn.{op}" for op in ("rmsnorm", "rope", "kv_write")]
        + [a.format(b=2) for a in attn]
        + ["layers.2.self_attn.softmax", "layers.2.self_attn.o_proj",
           "layers.2.self_attn.residual"]
    )
    trace = load_trace(path, phase="prefill")
    dims = ModelShape(hidden=HIDDEN, intermediate=INTER, q_out=H * D, kv_out=G * D, blocks=3,
                      heads=H, kv_heads=G)
    want = {lay.name: lay for lay in vectors(shape_layers("prefill", dims))}
    assert all(lay == want[lay.name] for lay in vectors(trace.layers))


def test_widths_that_disagree_are_refused_with_a_phase(tmp_path: Path) -> None:
    path = write(tmp_path / "odd", [f"layers.0.{part}" for part in BLOCK], blocks=(0,),
                 widths={"gate_proj": (HIDDEN + 8, INTER), "up_proj": (HIDDEN + 8, INTER)})
    assert len(load_trace(path).layers) == len(BLOCK)  # the linears alone need no width
    for phase in PHASES:
        with pytest.raises(InputError) as err:
            load_trace(path, phase=phase)
        assert err.value.field == "layers[4].k"  # gate_proj, against q_proj's K
        assert err.value.file == str(path / "manifest.json")
        assert "'layers.0.self_attn.q_proj'" in err.value.message


def test_no_linear_to_read_the_width_from(tmp_path: Path) -> None:
    path = write(tmp_path / "gpt", ["h.0.attn.c_attn"], blocks=(0,))
    assert load_trace(path).layer_names() == ("h.0.attn.c_attn",)
    with pytest.raises(InputError) as err:
        load_trace(path, phase="prefill")
    assert err.value.field == "layers"
    assert err.value.file == str(path / "manifest.json")
    assert "model width" in err.value.message


def test_a_trace_without_attention_has_no_vector_layers(tmp_path: Path) -> None:
    path = write(tmp_path / "noattn", [f"layers.0.{part}" for part in BLOCK], blocks=(0,))
    manifest = json.loads((path / "manifest.json").read_text())
    del manifest["attention"]
    (path / "manifest.json").write_text(json.dumps(manifest))
    for phase in PHASES:
        assert not vectors(load_trace(path, phase=phase).layers)


@pytest.mark.parametrize("phase", PHASES)
def test_shipped_trace_has_the_shapes_vector_layers(phase: str) -> None:
    """traces/smollm2-135m (blocks 11 and 15; 256 prompt tokens, 32 steps): its vector layers
    and its order are those of shape:smollm2-135m at the same tokens, in those blocks."""
    trace = load_trace(ROOT / "traces" / "smollm2-135m", phase=phase)
    kw = {"context": 256} if phase == "decode" else {"tokens": 256}
    steps = None if phase == "prefill" else 32
    shape = load_workload("shape:smollm2-135m", phase=phase, decode_steps=steps, **kw)
    want = [lay for lay in vectors(shape.layers) if lay.block in (11, 15)]
    assert vectors(trace.layers) == want
    names = set(trace.layer_names())
    assert list(trace.layer_names()) == [lay.name for lay in shape.layers if lay.name in names]

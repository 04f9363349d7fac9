"""Recorded attention operands and decode steps in a trace (spikesim.trace.recorded), without
torch: the sections' format and checks, the layers built from them (the synthesized attention
construction fed recorded values: bit-equal to a named shape's on the same q, k, v), their
order, phase and class, a simulation of them, and the shipped trace's new parts."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

import spikesim
from spikesim.errors import InputError
from spikesim.trace import load_trace, load_workload
from spikesim.trace.attention import attention_layers, decode_attention_layers, generate_group
from spikesim.trace.format import LayerTensors, TraceLayer, write_trace
from spikesim.trace.recorded import (
    DecodeLinearLayer,
    RecordedAttentionLayer,
    attention_section,
    block_of,
    decode_section,
)
from spikesim.trace.shipped import SHIPPED_TRACES
from spikesim.trace.synth import ModelShape
from spikesim.trace.vector import VectorLayer

ROOT = Path(__file__).resolve().parents[2]
HW = ROOT / "hw_configs" / "spikequant-45nm.yaml"

H, G, D, T, N, HIDDEN = 4, 2, 16, 150, 3, 32
"""Heads, KV heads, head dim, prompt tokens, decode steps, model width of the test traces."""
VECTORS = 8
"""Vector operators of a block (2 norms, RoPE, KV write, softmax, 2 residual adds, SiLU·up)."""
SHAPE = ModelShape(hidden=HIDDEN, intermediate=HIDDEN, q_out=H * D, kv_out=G * D, blocks=2,
                   heads=H, kv_heads=G)
WIDTHS = {"q_proj": (HIDDEN, H * D), "k_proj": (HIDDEN, G * D), "v_proj": (HIDDEN, G * D),
          "o_proj": (H * D, HIDDEN), "down_proj": (HIDDEN, HIDDEN)}

SHIPPED_LAYER_SHA256 = {
    "layers.11.mlp.down_proj":
        "9ab87be78c31a24c001ed7b44de760b892e1d9a0d2232a7c95b182d01b9643a6",
    "layers.15.self_attn.q_proj":
        "f1f75de476694a127462d3c209834eb0f149c53ec4ddc6ffe8389ecf092d8a70",
    "layers.15.self_attn.k_proj":
        "0cb9803b9b660872d25418a4962e0a08a7d11e97839a599d7d876944411ab70f",
    "layers.15.self_attn.v_proj":
        "4e4c7def65550c7eca48674590ec513eb1e2eb5a116bd4a8b1a273d51a9ab5b4",
    "layers.15.self_attn.o_proj":
        "80bca5b5ee7b0ad1b14b97063758807cee257bfbc01bee4b83c1dd5c202d225e",
    "layers.15.mlp.gate_proj":
        "7d49e7eb766622472ea60cdf18d607813e8d6bfa723d01db62f569c9e48ccb1b",
    "layers.15.mlp.up_proj":
        "6c0f9a7f594d85f028e42e93715369381e107edb21b30d472c8675a8815f7ea4",
    "layers.15.mlp.down_proj":
        "fb105c21dd3f2f9e62bbdf53eb6b79c26bc630cb47f20c404bef470a244b8713",
}
"""The shipped trace's linear layer files before its attention and decode parts were added:
they stay byte for byte."""


def generated_operands(block: int, positions: int) -> dict[str, np.ndarray]:
    """The named shape's q, k, v of ``block`` laid out as a trace stores them: q ``[1, P, H,
    d]``, k and v ``[1, P, G, d]`` (float16)."""
    groups = [generate_group(seed=0, block=block, group=g, heads_per_group=H // G, head_dim=D,
                             tokens=positions) for g in range(G)]
    return {
        "q": np.concatenate([gv.q.transpose(1, 0, 2) for gv in groups], axis=1)[None],
        "k": np.stack([gv.k for gv in groups], axis=1)[None],
        "v": np.stack([gv.v for gv in groups], axis=1)[None],
    }


def linear(name: str, rng: np.random.Generator) -> LayerTensors:
    op = name.rsplit(".", 1)[-1]
    k, n = WIDTHS[op]
    return LayerTensors(name, op, {"x": rng.standard_normal((T, k)).astype(np.float16),
                                   "w": rng.standard_normal((n, k)).astype(np.float16)})


NAMES = ("layers.0.mlp.down_proj", "layers.1.self_attn.q_proj", "layers.1.self_attn.k_proj",
         "layers.1.self_attn.v_proj", "layers.1.self_attn.o_proj", "layers.1.mlp.down_proj")


def write_recorded(path: Path, *, attention: bool = True, steps: int | None = N) -> Path:
    """A trace like the shipped one in miniature: block 0's down_proj and block 1's attention
    and linears, with the attention operands of blocks 0 and 1 and ``steps`` decode steps."""
    rng = np.random.default_rng(7)
    layers = [linear(name, rng) for name in NAMES]
    positions = T + (steps or 0)
    sections = []
    if attention:
        sections.append(attention_section(
            heads=H, kv_heads=G, head_dim=D, sequences=1, prefill_tokens=T,
            blocks=[(b, f"layers.{b}.self_attn", generated_operands(b, positions))
                    for b in (0, 1)],
        ))
    if steps:
        sections.append(decode_section(
            steps=steps, sequences=1, token_ids=[list(range(10, 10 + steps))],
            inputs=[(lay.name, rng.standard_normal((steps, lay.tensors["x"].shape[1]))
                     .astype(np.float16)) for lay in layers],
        ))
    write_trace(path, name=path.name, source={"kind": "test"}, layers=layers, sections=sections)
    return path


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_recorded(tmp_path_factory.mktemp("traces") / "rec")


def test_attention_layers_are_the_named_shapes_on_the_same_values(recorded: Path) -> None:
    trace = load_trace(recorded, phase="both")
    synthesized = {}
    for block in (0, 1):
        synthesized.update({lay.name: lay for lay in attention_layers(SHAPE, block, T, 0, 128)})
        for step in range(N):
            synthesized.update({lay.name: lay for lay in decode_attention_layers(
                SHAPE, block, step=step, position=T + step, positions=T + N, seed=0)})
    got = [lay for lay in trace.layers if isinstance(lay, RecordedAttentionLayer)]
    assert sorted(lay.name for lay in got) == sorted(synthesized)
    for lay in got:
        twin = synthesized[lay.name]
        assert (lay.op, lay.tokens, lay.k, lay.n, lay.phase, lay.op_class, lay.start, lay.stop,
                lay.keys) == (twin.op, twin.tokens, twin.k, twin.n, twin.phase, twin.op_class,
                              twin.start, twin.stop, twin.keys)
        np.testing.assert_array_equal(lay.activations(), twin.activations())
        np.testing.assert_array_equal(lay.weights(), twin.weights())
    assert len({lay.sha256 for lay in got}) == len(got)


def test_layers_in_execution_order(recorded: Path) -> None:
    """The linears and attention matmuls (vector operators: tests/trace/test_recorded_vector.py)."""
    names = [lay.name for lay in load_trace(recorded, phase="both").layers
             if not isinstance(lay, VectorLayer)]
    prefill = [n for n in names if not n.startswith("decode.")]
    assert prefill[:5] == ["layers.0.attn.score.g0.q0", "layers.0.attn.value.g0.q0",
                           "layers.0.attn.score.g0.q1", "layers.0.attn.value.g0.q1",
                           "layers.0.attn.score.g1.q0"]
    assert prefill.index("layers.0.mlp.down_proj") == 8  # block 0's attention comes first
    at = prefill.index("layers.1.self_attn.v_proj")
    assert prefill[at + 1] == "layers.1.attn.score.g0.q0"  # after q/k/v, before o_proj
    assert prefill[at + 9] == "layers.1.self_attn.o_proj"
    step0 = [n for n in names if n.startswith("decode.0.")]
    assert step0[:4] == ["decode.0.layers.0.attn.score.g0.seq0",
                         "decode.0.layers.0.attn.value.g0.seq0",
                         "decode.0.layers.0.attn.score.g1.seq0",
                         "decode.0.layers.0.attn.value.g1.seq0"]
    assert step0[4:8] == ["decode.0.layers.0.mlp.down_proj", "decode.0.layers.1.self_attn.q_proj",
                          "decode.0.layers.1.self_attn.k_proj",
                          "decode.0.layers.1.self_attn.v_proj"]
    assert len(names) == len(NAMES) + 2 * 8 + N * (len(NAMES) + 2 * 4)
    assert names[-1] == f"decode.{N - 1}.layers.1.mlp.down_proj"


def test_decode_linears_read_their_row_and_the_prefill_weights(recorded: Path) -> None:
    trace = load_trace(recorded, phase="both")
    raw = json.loads((recorded / "manifest.json").read_text())
    assert raw["decode"]["token_ids"] == [[10, 11, 12]]
    assert trace.recorded is not None
    assert trace.recorded.decode is not None
    assert trace.recorded.decode.token_ids == ((10, 11, 12),)
    prefill = trace.layer("layers.1.self_attn.o_proj")
    assert isinstance(prefill, TraceLayer)
    x_all = trace.recorded.decode.inputs[4].file.tensor("x")
    for step in range(N):
        lay = trace.layer(f"decode.{step}.layers.1.self_attn.o_proj")
        assert isinstance(lay, DecodeLinearLayer)
        assert (lay.op, lay.tokens, lay.k, lay.n, lay.phase, lay.op_class) == (
            "o_proj", 1, prefill.k, prefill.n, "decode", "linear")
        row = x_all[step : step + 1].astype(np.float32)
        np.testing.assert_array_equal(lay.activations(), row)
        np.testing.assert_array_equal(lay.weights(), prefill.weights())
    linears = tuple(lay for lay in trace.layers if isinstance(lay, TraceLayer))
    assert trace.manifest_layers == linears
    assert len(trace.manifest_layers) == len(NAMES)


def test_workload_and_simulation_have_decode_and_attention(recorded: Path) -> None:
    workload = load_workload(recorded, phase="both")
    assert {(lay.phase, lay.op_class) for lay in workload.layers} == {
        (phase, op_class) for phase in ("prefill", "decode")
        for op_class in ("linear", "attention", "vector", "kv")}
    chosen = ["layers.1.attn.score.g1.q1", "layers.1.attn.value.g1.q1",
              "decode.2.layers.1.attn.score.g0.seq0", "decode.2.layers.1.attn.value.g0.seq0",
              "decode.2.layers.1.self_attn.q_proj", "layers.1.self_attn.softmax",
              "decode.2.layers.1.self_attn.softmax", "decode.2.layers.1.self_attn.kv_write"]
    table = spikesim.simulate(spikesim.load_hardware(HW), workload, ["spikequant"],
                              layers=chosen).layers
    rows = table.set_index("layer")
    assert list(rows.loc[chosen, "phase"]) == ["prefill", "prefill"] + ["decode"] * 3 + [
        "prefill", "decode", "decode"]
    assert list(rows.loc[chosen, "op_class"]) == ["attention"] * 4 + ["linear"] + [
        "vector", "vector", "kv"]
    assert rows.loc["decode.2.layers.1.attn.score.g0.seq0", "n"] == T + 3  # the real cache
    assert rows.loc["decode.2.layers.1.self_attn.softmax", "n"] == T + 3
    assert (rows["total_cycles"] > 0).all()


def test_attention_without_decode_and_decode_without_attention(tmp_path: Path) -> None:
    only_attention = load_trace(write_recorded(tmp_path / "a", steps=None), phase="both")
    assert not any(n.startswith("decode.") for n in only_attention.layer_names())
    assert len(only_attention.layers) == len(NAMES) + 16 + 2 * VECTORS
    only_decode = load_trace(write_recorded(tmp_path / "d", attention=False), phase="both")
    assert {type(lay) for lay in only_decode.layers} == {TraceLayer, DecodeLinearLayer}
    assert len(only_decode.layers) == len(NAMES) * (1 + N)


def edit(trace: Path, tmp_path: Path, change: Any) -> Path:
    """A copy of ``trace`` whose manifest ``change(manifest)`` edited."""
    copy = tmp_path / "edited"
    shutil.copytree(trace, copy)
    manifest = json.loads((copy / "manifest.json").read_text())
    change(manifest)
    (copy / "manifest.json").write_text(json.dumps(manifest))
    return copy


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda m: m["decode"]["layers"][0].update(name="layers.9.nothing"),
         "decode.layers[0].name"),
        (lambda m: m["decode"].update(steps=4), "decode.token_ids"),
        (lambda m: m["decode"].update(token_ids=[[1, 2]]), "decode.token_ids"),
        (lambda m: m["attention"].update(positions=T), "attention.positions"),
        (lambda m: m["attention"].update(heads=3), "attention.kv_heads"),
        (lambda m: m["attention"].update(prefill_tokens=T - 1), "attention.prefill_tokens"),
        (lambda m: m["attention"]["blocks"][1].update(block=0), "attention.blocks[1].block"),
        (lambda m: m["attention"]["blocks"][0]["tensors"]["q"].update(shape=[1, T + N, H, 8]),
         "q"),
        (lambda m: m["attention"]["blocks"][0].update(bytes=5), "attention.blocks[0].bytes"),
        (lambda m: m["attention"].update(extra=1), "attention.extra"),
        (lambda m: m["decode"]["layers"][1].update(file=m["decode"]["layers"][0]["file"]),
         "decode.layers[1].file"),
    ],
    ids=["unknown-layer", "steps", "token-ids", "positions", "heads", "tokens", "block",
         "q-shape", "bytes", "unknown-key", "shared-file"],
)
def test_bad_sections_name_the_manifest_field(recorded: Path, tmp_path: Path, change: Any,
                                              field: str) -> None:
    with pytest.raises(InputError) as err:
        load_trace(edit(recorded, tmp_path, change), phase="both")
    assert err.value.field == field
    assert err.value.file is not None


def test_corrupt_operands_are_caught_on_first_read(recorded: Path, tmp_path: Path) -> None:
    copy = tmp_path / "corrupt"
    shutil.copytree(recorded, copy)
    qkv = next(copy.glob("*layers.1.self_attn.qkv.safetensors"))
    data = bytearray(qkv.read_bytes())
    data[-1] ^= 0xFF
    qkv.write_bytes(bytes(data))
    trace = load_trace(copy, phase="both")
    with pytest.raises(InputError) as err:
        trace.layer("layers.1.attn.score.g1.q1").weights()
    assert err.value.field == "sha256"


def test_block_of() -> None:
    assert block_of("layers.15.self_attn.q_proj") == 15
    assert block_of("decoder.layers.0.self_attn.k_proj") == 0
    assert block_of("lm_head") is None


def test_shipped_trace_lists_its_attention_and_decode_parts() -> None:
    path = ROOT / "traces" / "smollm2-135m"
    manifest = json.loads((path / "manifest.json").read_text())
    assert {e["name"]: e["sha256"] for e in manifest["layers"]} == SHIPPED_LAYER_SHA256
    attention = manifest["attention"]
    assert (attention["heads"], attention["kv_heads"], attention["head_dim"]) == (9, 3, 64)
    assert (attention["prefill_tokens"], attention["positions"]) == (256, 288)
    assert [(b["block"], b["module"]) for b in attention["blocks"]] == [
        (11, "layers.11.self_attn"), (15, "layers.15.self_attn")]
    decode = manifest["decode"]
    assert (decode["steps"], decode["sequences"]) == (32, 1)
    assert len(decode["token_ids"][0]) == 32
    assert [e["name"] for e in decode["layers"]] == list(SHIPPED_LAYER_SHA256)
    source = manifest["source"]
    assert source["command"] == SHIPPED_TRACES["smollm2-135m"].command("traces/smollm2-135m")
    assert "--attention --decode-steps 32" in source["command"]
    assert source["phases"]["generated_tokens"] == 32
    trace = load_trace(path, phase="both")
    kinds = {(lay.phase, lay.op_class) for lay in trace.layers}
    assert kinds == {(phase, op_class) for phase in ("prefill", "decode")
                     for op_class in ("linear", "attention", "vector", "kv")}
    assert len(trace.layers) == 8 + 2 * (12 + VECTORS) + 32 * (8 + 2 * (6 + VECTORS))
    size = sum(f.stat().st_size for f in path.iterdir())
    assert size < 15_000_000


def attention_output(trace: Any, prefix: str, block: int, rows: int, width: int) -> np.ndarray:
    """P·V of the value layers ``{prefix}layers.{block}.attn.value.*`` placed as the attention
    module's output ``[rows, width]`` (a row per position in the prefill, per sequence in a
    decode step; head h in columns h·d … (h+1)·d-1)."""
    out = np.full((rows, width), np.nan)
    for lay in trace.layers:
        if not lay.name.startswith(f"{prefix}layers.{block}.attn.value."):
            continue
        assert isinstance(lay, RecordedAttentionLayer)
        pv = lay.activations().astype(np.float64) @ lay.weights().astype(np.float64).T
        per, d = lay.heads_per_group, lay.head_dim
        for r, values in enumerate(pv):
            row = lay.sequence if prefix else lay.start + r // per
            head = lay.group * per + r % per
            out[row, head * d : (head + 1) * d] = values
    return out


def test_shipped_attention_reproduces_the_o_proj_input() -> None:
    """The recorded q·kᵀ softmax·v of block 15, through the attention layers, is the input of
    its o_proj (recorded separately) in the prefill and in decode steps, to float16 rounding
    (0.5 % of the largest value; measured 0.15 %)."""
    trace = load_trace(ROOT / "traces" / "smollm2-135m", phase="both")
    o_proj = trace.layer("layers.15.self_attn.o_proj")
    got = attention_output(trace, "", 15, 256, o_proj.k)
    want = o_proj.activations()
    assert not np.isnan(got).any()
    np.testing.assert_allclose(got, want, rtol=0, atol=0.005 * np.abs(want).max())
    for step in (0, 31):
        got = attention_output(trace, f"decode.{step}.", 15, 1, o_proj.k)
        want = trace.layer(f"decode.{step}.layers.15.self_attn.o_proj").activations()
        np.testing.assert_allclose(got, want, rtol=0, atol=0.005 * np.abs(want).max())


def test_a_traces_phase_chooses_among_its_recorded_layers(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``phase`` of a trace: its prefill (default: linears and attention), its decode steps, or
    both; the CLI's ``--phase`` with ``--trace``, and a sweep's identity of each."""
    from spikesim.cli import main
    from spikesim.dse.runner import WORKLOAD_PREFIX, manifest_sha256, sweep_workload

    shipped = ROOT / "traces" / "smollm2-135m"
    linears = load_workload(shipped)
    prefill = load_workload(shipped, phase="prefill")
    decode = load_workload(shipped, phase="decode")
    both = load_trace(shipped, phase="both")
    assert linears.layers == linears.manifest_layers
    assert len(linears.layers) == 8
    # energy per token divides by the tokens the chosen layers run (1 sequence x 32 steps)
    assert (linears.tokens, prefill.tokens, decode.tokens, both.tokens) == (256, 256, 32, 288)
    assert {layer.phase for layer in prefill.layers} == {"prefill"}
    assert {layer.op_class for layer in prefill.layers} == {"linear", "attention", "vector", "kv"}
    assert {layer.phase for layer in decode.layers} == {"decode"}
    assert [layer.name for layer in both.layers] == [
        layer.name for layer in both.layers if layer.phase == "prefill"
    ] + [layer.name for layer in decode.layers]
    assert len(decode.layers) == 32 * (8 + 12 + 2 * VECTORS)
    out = tmp_path / "run"
    assert main(["simulate", "--hw", "spikequant-45nm", "--trace", "smollm2-135m", "--phase",
                 "decode", "--layers", "decode.0.*", "--out", str(out), "--quiet",
                 "--no-figures"]) == 0
    rows = pd.read_csv(out / "layers.csv")
    assert set(rows["phase"]) == {"decode"}
    assert set(rows["op_class"]) == {"linear", "attention", "vector", "kv"}
    capsys.readouterr()
    assert sweep_workload(shipped, {}) == (str(shipped.resolve()), manifest_sha256(shipped))
    ids = {sweep_workload(shipped, {"phase": phase}) for phase in ("prefill", "decode", "both")}
    assert all(reference.startswith(WORKLOAD_PREFIX) for reference, _ in ids)
    assert len({identity for _, identity in ids} | {manifest_sha256(shipped)}) == 4

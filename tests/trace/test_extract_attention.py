"""Extraction of attention operands and decode steps (spikesim extract --attention
--decode-steps N) from tiny LLaMA models built from config and, when it is available, the real
SmolLM2: the recorded q·kᵀ softmax·v is the attention module's output before o_proj, the decode
steps are greedy generation on the KV cache, bad flags are one error line."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from _models import VOCAB, byte_tokenizer, save_tiny_llama, tiny_gpt2, tiny_llama
from cli_support import assert_one_error

from spikesim.cli import main
from spikesim.errors import InputError
from spikesim.trace import load_trace
from spikesim.trace.extract import extract_trace, token_batches
from spikesim.trace.recorded import RecordedAttentionLayer

# torch takes seconds to import: like tests/test_extract.py, this file runs with `-m slow`
pytestmark = pytest.mark.slow
torch: Any = None

SEQS, LENGTH, STEPS = 2, 20, 3


@pytest.fixture(autouse=True, scope="module")
def _torch() -> None:
    global torch
    torch = pytest.importorskip("torch")
    pytest.importorskip("transformers")
    torch.set_num_threads(1)


def prompt_ids() -> list[int]:
    g = torch.Generator().manual_seed(1)
    return torch.randint(3, VOCAB, (SEQS * LENGTH,), generator=g).tolist()


def o_proj_inputs(model: Any) -> tuple[dict[int, list[Any]], list[Any]]:
    """Each block's o_proj input per call ``[B, T, H·d]`` (the attention output)."""
    calls: dict[int, list[Any]] = {}
    handles = []
    for block, layer in enumerate(model.model.layers):
        calls[block] = []
        handles.append(layer.self_attn.o_proj.register_forward_pre_hook(
            lambda m, args, b=block: calls[b].append(args[0].detach().clone())))
    return calls, handles


@pytest.fixture(scope="module")
def extracted(tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, Any, dict[int, list[Any]]]:
    """A float32 trace of a tiny LLaMA (2 blocks, 4 heads, 2 KV heads) with attention and
    decode steps, its model and the o_proj inputs seen while extracting."""
    model = tiny_llama()
    calls, handles = o_proj_inputs(model)
    batches = token_batches(prompt_ids(), tokens=SEQS * LENGTH, seq_len=LENGTH, batch=SEQS)
    out = tmp_path_factory.mktemp("traces") / "tiny"
    trace = extract_trace(model, batches, out, dtype="float32", progress=False, attention=True,
                          decode_steps=STEPS)
    for h in handles:
        h.remove()
    assert trace.layers == trace.manifest_layers  # a trace is its linear layers by default
    return load_trace(out, phase="both"), model, calls


def reference_attention(q: np.ndarray, k: np.ndarray, v: np.ndarray, positions: int
                        ) -> np.ndarray:
    """softmax(q kᵀ / sqrt(d), causal) v of one sequence: q ``[P, H, d]``, k, v ``[P, G, d]``
    → ``[P, H·d]`` (float64)."""
    heads, kv_heads, d = q.shape[1], k.shape[1], q.shape[2]
    kk = np.repeat(k.astype(np.float64), heads // kv_heads, axis=1)
    vv = np.repeat(v.astype(np.float64), heads // kv_heads, axis=1)
    scores = np.einsum("phd,thd->hpt", q.astype(np.float64), kk) / np.sqrt(d)
    scores[:, np.triu(np.ones((positions, positions), dtype=bool), 1)] = -np.inf
    p = np.exp(scores - scores.max(axis=-1, keepdims=True))
    p /= p.sum(axis=-1, keepdims=True)
    return np.einsum("hpt,thd->phd", p, vv).reshape(positions, heads * d)


def test_recorded_attention_is_the_modules_output(extracted: Any) -> None:
    trace, _, calls = extracted
    attention = trace.recorded.attention
    assert (attention.heads, attention.kv_heads, attention.head_dim) == (4, 2, 16)
    assert (attention.sequences, attention.prefill_tokens, attention.positions) == (
        SEQS, LENGTH, LENGTH + STEPS)
    for operands in attention.blocks:
        q, k, v = (np.asarray(operands.file.tensor(n)) for n in ("q", "k", "v"))
        # the module's outputs: the prompt's pass [S, T, H·d], then one [S, 1, H·d] per step
        seen = torch.cat(calls[operands.block], dim=1).numpy()
        assert seen.shape == (SEQS, LENGTH + STEPS, 64)
        for s in range(SEQS):
            got = reference_attention(q[s], k[s], v[s], LENGTH + STEPS)
            np.testing.assert_allclose(got, seen[s], rtol=1e-5, atol=1e-6)


def test_attention_layers_compute_the_modules_output(extracted: Any) -> None:
    """The value layers' P·V (the synthesized construction on the recorded q, k, v) is the
    o_proj input, prefill and decode (the trace's own o_proj x)."""
    trace, _, _ = extracted
    for block in (0, 1):
        o_proj = trace.layer(f"layers.{block}.self_attn.o_proj")
        want = o_proj.activations()
        got = np.full(want.shape, np.nan)
        for lay in trace.layers:
            if not lay.name.startswith(f"layers.{block}.attn.value."):
                continue
            assert isinstance(lay, RecordedAttentionLayer)
            pv = lay.activations().astype(np.float64) @ lay.weights().astype(np.float64).T
            per, d = lay.heads_per_group, lay.head_dim
            for r, values in enumerate(pv):
                row = lay.sequence * LENGTH + lay.start + r // per
                head = lay.group * per + r % per
                got[row, head * d : (head + 1) * d] = values
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)
        for step in range(STEPS):
            x = trace.layer(f"decode.{step}.layers.{block}.self_attn.o_proj").activations()
            got = np.full(x.shape, np.nan)
            for s in range(SEQS):
                for g in range(2):
                    lay = trace.layer(f"decode.{step}.layers.{block}.attn.value.g{g}.seq{s}")
                    pv = lay.activations().astype(np.float64) @ lay.weights().T
                    got[s, g * 32 : (g + 1) * 32] = pv.reshape(-1)
            np.testing.assert_allclose(got, x, rtol=1e-4, atol=1e-5)


def test_decode_steps_are_greedy_generation(extracted: Any) -> None:
    trace, model, _ = extracted
    decode = trace.recorded.decode
    assert (decode.steps, decode.sequences) == (STEPS, SEQS)
    prompt = torch.tensor(prompt_ids()).reshape(SEQS, LENGTH)
    with torch.no_grad():
        generated = model.generate(prompt, max_new_tokens=STEPS, do_sample=False,
                                   pad_token_id=0)
    assert [list(row) for row in decode.token_ids] == generated[:, LENGTH:].tolist()
    # each step's inputs are those of a pass over the whole sequence at that position
    full = torch.cat([prompt, torch.tensor(decode.token_ids)], dim=1)
    seen: list[Any] = []
    down = model.model.layers[1].mlp.down_proj
    handle = down.register_forward_pre_hook(lambda m, args: seen.append(args[0].detach()))
    with torch.no_grad():
        model(input_ids=full, use_cache=False)
    handle.remove()
    for step in range(STEPS):
        x = trace.layer(f"decode.{step}.layers.1.mlp.down_proj").activations()
        np.testing.assert_allclose(x, seen[0][:, LENGTH + step].numpy(), rtol=1e-4, atol=1e-5)
    layers = {(lay.phase, lay.op_class) for lay in trace.layers}
    assert ("decode", "attention") in layers
    assert ("decode", "linear") in layers
    assert trace.source["phases"]["generated_tokens"] == SEQS * STEPS


def test_attention_of_a_model_without_it_is_refused(tmp_path: Path) -> None:
    batches = token_batches(prompt_ids(), tokens=LENGTH, seq_len=LENGTH, batch=1)
    with pytest.raises(InputError) as err:
        extract_trace(tiny_gpt2(), batches, tmp_path / "t", progress=False, attention=True)
    assert err.value.field == "attention"
    assert "q_proj" in err.value.message
    assert not (tmp_path / "t").exists()


def test_decode_needs_one_forward_pass(tmp_path: Path) -> None:
    batches = token_batches(prompt_ids(), tokens=SEQS * LENGTH, seq_len=LENGTH, batch=1)
    with pytest.raises(InputError) as err:
        extract_trace(tiny_llama(), batches, tmp_path / "t", progress=False, decode_steps=2)
    assert err.value.field == "decode_steps"


# --------------------------------------------------------------------------------------------
# The CLI
# --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def llama_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return save_tiny_llama(tmp_path_factory.mktemp("models") / "tiny-llama")


def test_cli_attention_and_decode(llama_dir: Path, tmp_path: Path,
                                  capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "t"
    code = main(["extract", "--model", str(llama_dir), "--out", str(out), "--tokens", "32",
                 "--seq-len", "16", "--batch", "2", "--layers", "layers.1.*", "--attention",
                 "--decode-steps", "2", "--quiet"])  # fmt: skip
    stdout, err = capsys.readouterr()
    assert code == 0, err
    assert "7 layer(s), 32 tokens" in stdout
    assert "attention of block(s) 1 and 2 decode step(s)" in stdout
    manifest = json.loads((out / "manifest.json").read_text())
    assert [b["block"] for b in manifest["attention"]["blocks"]] == [1]
    assert manifest["attention"]["blocks"][0]["tensors"]["q"]["shape"] == [2, 18, 4, 16]
    assert len(manifest["decode"]["token_ids"]) == 2
    assert len(manifest["source"]["decode"]["text"]) == 2
    assert "--attention --decode-steps 2" in manifest["source"]["command"]
    assert len(load_trace(out, phase="both").layers) == 7 + 8 + 8 + 2 * (7 + 8 + 8)  # 8 vector


@pytest.mark.parametrize(
    ("extra", "needles"),
    [
        (["--decode-steps", "0"], ["--decode-steps", "positive"]),
        (["--decode-steps", "-3"], ["--decode-steps", "positive"]),
        (["--tokens", "40", "--seq-len", "16", "--decode-steps", "2"],
         ["--decode-steps", "one forward pass"]),
        (["--tokens", "100", "--seq-len", "100", "--decode-steps", "40"],
         ["--decode-steps", "context length 128"]),
    ],
    ids=["zero", "negative", "several-passes", "context"],
)
def test_cli_bad_decode_steps(extra: list[str], needles: list[str], llama_dir: Path,
                              tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["extract", "--model", str(llama_dir), "--out", str(tmp_path / "t"), "--quiet",
                 *extra])
    assert_one_error(code, capsys.readouterr()[1], *needles)
    assert not (tmp_path / "t").exists()


def test_cli_attention_without_llama_attention(tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    model_dir = tmp_path / "tiny-gpt2"
    tiny_gpt2().save_pretrained(model_dir)
    byte_tokenizer().save_pretrained(model_dir)
    code = main(["extract", "--model", str(model_dir), "--out", str(tmp_path / "t"),
                 "--tokens", "16", "--attention", "--quiet"])
    assert_one_error(code, capsys.readouterr()[1], "--attention", "q_proj")
    assert not (tmp_path / "t").exists()


# --------------------------------------------------------------------------------------------
# The real model (only when it is available)
# --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def smollm2_dir() -> Path:
    pytest.importorskip("gguf", reason="the [real-model] extra (gguf) is not installed")
    from spikesim.trace.models import fetch_known_model

    try:
        return fetch_known_model("smollm2-135m")
    except InputError as exc:
        pytest.skip(f"SmolLM2-135M cannot be fetched: {exc}")


def test_real_smollm2_attention_is_its_o_proj_input(
    smollm2_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "smol"
    code = main(["extract", "--model", "smollm2-135m", "--out", str(out), "--tokens", "64",
                 "--layers", "layers.3.self_attn.*", "--dtype", "float32", "--attention",
                 "--decode-steps", "4", "--quiet"])  # fmt: skip
    _, err = capsys.readouterr()
    assert code == 0, err
    trace = load_trace(out, phase="both")
    operands = trace.recorded.attention.blocks[0]
    q, k, v = (np.asarray(operands.file.tensor(n))[0] for n in ("q", "k", "v"))
    assert q.shape == (68, 9, 64)
    got = reference_attention(q, k, v, 68)
    want = np.concatenate(
        [trace.layer("layers.3.self_attn.o_proj").activations()]
        + [trace.layer(f"decode.{s}.layers.3.self_attn.o_proj").activations() for s in range(4)]
    )
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4 * np.abs(want).max())

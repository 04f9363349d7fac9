"""Fake quantization equals the integer path; perplexity per method; the eval CLI."""

from __future__ import annotations

import csv
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from spikesim.cli import main
from spikesim.config.quant import QuantConfig
from spikesim.dataflows import DesignKind, design_names, get_design
from spikesim.errors import InputError
from spikesim.eval import available_methods, fake_quant_linear, parse_methods
from spikesim.quant import Method, dequantized_output, quantize_layer

CFG = QuantConfig()


def outlier_layer(m: int = 24, k: int = 96, n: int = 40, seed: int = 0) -> tuple[Any, Any]:
    """x [m, k] with two outlier channels and a few massive values; w [n, k]."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((m, k)).astype(np.float32)
    x[:, [3, k // 2 + 2]] *= 30.0
    x[rng.integers(0, m, 4), rng.integers(0, k, 4)] = 200.0
    w = (rng.standard_normal((n, k)) / np.sqrt(k)).astype(np.float32)
    return x, w


# --------------------------------------------------------------------------------------------
# No torch needed
# --------------------------------------------------------------------------------------------


def test_methods_include_every_quant_method_and_the_mac_baselines() -> None:
    names = available_methods()
    assert names[:2] == ("fp32", "fp16")
    for m in Method:
        assert m.value in names
    for m in ("atom", "spikellm", "mac-w4a4"):
        assert m in names
    assert parse_methods("rtn, spikequant,rtn") == ("rtn", "spikequant")
    with pytest.raises(InputError, match="unknown method"):
        parse_methods("rtn,int3")
    with pytest.raises(InputError, match="field 'methods'"):
        parse_methods(" , ")


@pytest.mark.parametrize("method", [Method.RTN, Method.SPIKEQUANT])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_fake_quant_equals_integer_path(method: Method, seed: int) -> None:
    x, w = outlier_layer(seed=seed)
    reference = dequantized_output(quantize_layer("l", "op", x, w, CFG, method))
    fake = fake_quant_linear(x, w, method.value, CFG)
    scale = np.abs(reference).max()
    np.testing.assert_allclose(fake, reference, rtol=0, atol=1e-5 * scale)


@pytest.mark.parametrize("method", ["atom", "spikellm", "mac-w4a4"])
def test_mac_baselines_go_through_their_integer_path(method: str) -> None:
    x, w = outlier_layer(m=40)
    reference = get_design(method).quantize("l", "op", x, w, CFG).output()
    np.testing.assert_allclose(fake_quant_linear(x, w, method, CFG), reference, rtol=1e-5,
                               atol=1e-5 * np.abs(reference).max())  # fmt: skip


def test_rtn_equals_the_mac_w4a4_baseline() -> None:
    x, w = outlier_layer()
    a = fake_quant_linear(x, w, "rtn", CFG)
    b = get_design("mac-w4a4").quantize("l", "op", x, w, CFG).output()
    np.testing.assert_allclose(a, b, rtol=0, atol=1e-5 * np.abs(b).max())


def test_fp16_and_fp32() -> None:
    x, w = outlier_layer()
    np.testing.assert_allclose(fake_quant_linear(x, w, "fp32", CFG), x @ w.T, rtol=1e-6)
    xh, wh = x.astype(np.float16).astype(np.float32), w.astype(np.float16).astype(np.float32)
    np.testing.assert_allclose(fake_quant_linear(x, w, "fp16", CFG), xh @ wh.T, rtol=1e-6)


# --------------------------------------------------------------------------------------------
# Inside a torch model
# --------------------------------------------------------------------------------------------


@pytest.fixture
def torch_mod() -> Any:
    torch = pytest.importorskip("torch")
    torch.set_num_threads(1)
    return torch


@pytest.mark.slow  # imports torch (seconds) and builds a model
@pytest.mark.parametrize("method", ["rtn", "spikequant", "fp16", "atom", "spikellm"])
def test_fake_quantized_linear_module(method: str, torch_mod: Any) -> None:
    from spikesim.eval import fake_quantized

    torch = torch_mod
    x, w = outlier_layer(m=30)
    lin = torch.nn.Linear(w.shape[1], w.shape[0], bias=True)
    with torch.no_grad():
        lin.weight.copy_(torch.from_numpy(w))
        lin.bias.copy_(torch.linspace(-1, 1, w.shape[0]))
    model = torch.nn.Sequential(lin)
    original = lin.weight.detach().clone()
    b = lin.bias.detach().numpy()
    xt = torch.from_numpy(x).reshape(2, 15, -1)  # [batch, seq, K]: quantized per token
    with fake_quantized(model, method, CFG) as stats, torch.no_grad():
        y = model(xt).reshape(30, -1).numpy()
    if method in design_names(DesignKind.MAC) and method != "fp16":
        mq = get_design(method).quantize("0", "0", x, w, CFG)
        reference = mq.output() + b
        ratio = mq.salient_ratio
    elif method == "fp16":
        reference = fake_quant_linear(x, w, "fp16", CFG) + b
        ratio = 0.0
    else:
        layer = quantize_layer("0", "0", x, w, CFG, Method(method))
        reference = dequantized_output(layer) + b
        ratio = layer.salient_ratio
    np.testing.assert_allclose(y, reference, rtol=0, atol=1e-5 * np.abs(reference).max())
    assert stats.layers == 1
    assert stats.values == x.size
    assert stats.salient_ratio == pytest.approx(ratio)
    assert torch.equal(lin.weight, original)  # restored
    if method == "spikequant":
        assert 0 < stats.salient_ratio < 0.2


@pytest.mark.slow  # imports torch (seconds) and builds a model
def test_static_calibration_prefix(torch_mod: Any) -> None:
    """With calibration rows, atom picks channels on them and scores only the real tokens."""
    from spikesim.eval import fake_quantized

    torch = torch_mod
    x, w = outlier_layer(m=20, seed=4)
    calib, _ = outlier_layer(m=16, seed=5)
    lin = torch.nn.Linear(w.shape[1], w.shape[0], bias=False)
    with torch.no_grad():
        lin.weight.copy_(torch.from_numpy(w))
    model = torch.nn.Sequential(lin)
    with fake_quantized(model, "atom", CFG, calibration={"0": calib}), torch.no_grad():
        y = model(torch.from_numpy(x)).numpy()
    both = np.concatenate([calib, x])
    reference = get_design("atom").quantize("0", "0", both, w, CFG).output()[16:]
    np.testing.assert_allclose(y, reference, rtol=0, atol=1e-5 * np.abs(reference).max())


@pytest.mark.slow  # imports torch (seconds) and builds a model
def test_weights_restored_after_an_exception(torch_mod: Any) -> None:
    from spikesim.eval import fake_quantized

    torch = torch_mod
    model = torch.nn.Sequential(torch.nn.Linear(8, 4))
    before = model[0].weight.detach().clone()
    changed = []

    def run() -> None:
        with fake_quantized(model, "rtn", CFG):
            changed.append(not torch.equal(model[0].weight, before))
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        run()
    assert changed == [True]
    assert torch.equal(model[0].weight, before)
    assert not model[0]._forward_pre_hooks


@pytest.mark.slow  # imports torch (seconds) and builds a model
def test_gpt2_conv1d_fake_quant(torch_mod: Any) -> None:
    from spikesim.eval import fake_quantized

    torch = torch_mod
    transformers = pytest.importorskip("transformers")
    from transformers.pytorch_utils import Conv1D

    torch.manual_seed(0)
    conv = Conv1D(24, 16)  # nf=24 outputs, nx=16 inputs; weight [16, 24]
    model = torch.nn.Sequential(conv)
    x, _ = outlier_layer(m=10, k=16)
    with fake_quantized(model, "spikequant", CFG), torch.no_grad():
        y = model(torch.from_numpy(x)).numpy()
    w_nk = conv.weight.detach().numpy().T
    ref = dequantized_output(quantize_layer("0", "0", x, w_nk, CFG, Method.SPIKEQUANT))
    ref = ref + conv.bias.detach().numpy()
    np.testing.assert_allclose(y, ref, rtol=0, atol=1e-5 * np.abs(ref).max())
    assert transformers is not None


# --------------------------------------------------------------------------------------------
# Perplexity and the CLI on a tiny model
# --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def llama_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    pytest.importorskip("torch")
    pytest.importorskip("transformers")
    import torch

    torch.set_num_threads(1)
    from _models import save_tiny_llama

    return save_tiny_llama(tmp_path_factory.mktemp("models") / "tiny-llama")


@pytest.mark.slow  # imports torch (seconds) and builds a model
def test_eval_cli_table_and_csv(
    llama_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "eval.csv"
    code = main(["eval", "--model", str(llama_dir), "--methods", "fp32,fp16,rtn,spikequant",
                 "--tokens", "64", "--seq-len", "32", "--out", str(out), "--quiet"])  # fmt: skip
    stdout, err = capsys.readouterr()
    assert code == 0, err
    assert "fp32 = unquantized reference" in stdout
    with open(out, newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert list(rows[0]) == ["method", "perplexity", "salient_ratio"]
    assert [r["method"] for r in rows] == ["fp32", "fp16", "rtn", "spikequant"]
    ppl = {r["method"]: float(r["perplexity"]) for r in rows}
    assert all(math.isfinite(p) and p > 1 for p in ppl.values())
    # random weights over a 256-byte vocabulary: near-uniform predictions
    assert 100 < ppl["fp32"] < 600
    assert ppl["fp16"] == pytest.approx(ppl["fp32"], rel=1e-3)
    assert rows[0]["salient_ratio"] == ""
    assert float(rows[2]["salient_ratio"]) == 0.0
    assert 0 < float(rows[3]["salient_ratio"]) < 0.2


@pytest.mark.slow  # imports torch (seconds) and builds a model
def test_eval_set_changes_the_salient_ratio(llama_dir: Path) -> None:
    from spikesim.eval import evaluate

    low = evaluate(llama_dir, "spikequant", cfg=QuantConfig(mad_k=3.0), tokens=32)
    high = evaluate(llama_dir, "spikequant", cfg=QuantConfig(mad_k=12.0), tokens=32)
    assert low.scores[0].salient_ratio > high.scores[0].salient_ratio
    assert low.info["quant"]["mad_k"] == 3.0


@pytest.mark.slow  # imports torch (seconds) and builds a model
@pytest.mark.parametrize(
    ("extra", "needles"),
    [
        (["--set", "quant.mad_k=-1"], ["quant.mad_k", "--set"]),
        (["--set", "if_array.lanes=4"], ["--set", "quant.*"]),
        (["--methods", "fp32,int3"], ["--methods", "int3"]),
        (["--tokens", "100000"], ["--tokens"]),
    ],
    ids=["bad-value", "not-quant", "method", "tokens"],
)
def test_eval_cli_errors(
    extra: list[str], needles: list[str], llama_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["eval", "--model", str(llama_dir), "--quiet", *extra])
    _, err = capsys.readouterr()
    assert code == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("error: ")
    for needle in needles:
        assert needle in lines[0]


@pytest.mark.slow  # imports torch (seconds)
def test_eval_bad_model(capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("torch")
    pytest.importorskip("transformers")
    code = main(["eval", "--model", "/no/such/dir", "--quiet"])
    _, err = capsys.readouterr()
    assert code == 2
    assert err.startswith("error: ")
    assert "--model" in err


@pytest.mark.slow
def test_real_smollm2_eval(capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("torch")
    pytest.importorskip("transformers")
    pytest.importorskip("gguf", reason="the [real-model] extra (gguf) is not installed")
    from spikesim.eval import evaluate
    from spikesim.trace.models import fetch_known_model

    try:
        fetch_known_model("smollm2-135m")
    except InputError as exc:
        pytest.skip(f"SmolLM2-135M cannot be fetched: {exc}")
    result = evaluate("smollm2-135m", "fp32,spikequant", tokens=64)
    fp32, sq = result.scores
    assert 5 < fp32.perplexity < 200  # a trained model on English text
    assert sq.perplexity > fp32.perplexity
    assert 0.002 < sq.salient_ratio < 0.05

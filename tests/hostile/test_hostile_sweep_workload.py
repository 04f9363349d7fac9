"""Hostile workload axes: values the workload cannot take (a batch for a trace or a topology CSV,
a context with phase both or a prefill, tokens for a decode), layer patterns that match nothing,
too many workloads. Each is one ``error:`` line naming the sweep file and the axis (the
loader's own words), found before any task runs, with ``--out`` never created."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import hostile_support
import pytest
from hostile_support import HW, assert_one_error, run, write_spec

import spikesim.dse.runner as runner
from spikesim.trace import synth_trace

CONFIG = {
    "architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": 64,
    "intermediate_size": 96, "num_hidden_layers": 1, "num_attention_heads": 4,
    "num_key_value_heads": 2,
}


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("inputs")
    trace = folder / "trace"
    synth_trace(trace, gemm=(8, 32, 16))
    csv = folder / "g.csv"
    csv.write_text("layer,M,N,K\nq,8,32,32\n", encoding="utf-8")
    config = folder / "model" / "config.json"
    config.parent.mkdir()
    config.write_text(json.dumps(CONFIG), encoding="utf-8")
    return {"trace": trace, "csv": csv, "config": config}


def _spec(tmp_path: Path, axes: dict[str, Any]) -> Path:
    return write_spec(tmp_path / "sweep.yaml", axes, base=str(HW), designs=["mac-w4a4"])


@pytest.mark.parametrize(
    ("axes", "what", "flags", "field", "needles"),
    [
        ({"workload.batch": [1, 2]}, "trace", [], "axes.workload.batch",
         ["value 1: batch applies to a model workload", "a trace on disk"]),
        ({"workload.tokens": [8, 9]}, "trace", [], "axes.workload.tokens",
         ["value 9: tokens=9 contradicts the trace's 8 tokens"]),
        ({"workload.context": [8]}, "trace", ["--phase", "decode"], "axes.workload.context",
         ["context applies to a model workload"]),
        ({"workload.batch": [2]}, "csv", [], "axes.workload.batch",
         ["a topology CSV is a list of prefill GEMMs"]),
        ({"workload.decode_steps": [2]}, "csv", [], "axes.workload.decode_steps",
         ["decode_steps applies to a model workload"]),
        ({"workload.context": [8, 16]}, "config", ["--phase", "both", "--tokens", "8"],
         "axes.workload.context", ["value 16: context=16 contradicts tokens=8"]),
        ({"workload.context": [8]}, "config", ["--tokens", "8"], "axes.workload.context",
         ["context applies to the decode phase"]),
        ({"workload.tokens": [8]}, "config", ["--phase", "decode", "--context", "4"],
         "axes.workload.tokens", ["tokens is the prefill length"]),
        ({"b": [{"workload.batch": 2, "workload.context": 4}]}, "trace", ["--phase", "both"],
         "axes.b", ["(at 'workload.batch')"]),
    ],
)
def test_a_value_the_workload_cannot_take_names_the_axis(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], inputs: dict[str, Path],
    axes: dict[str, Any], what: str, flags: list[str], field: str, needles: list[str],
) -> None:
    spec = _spec(tmp_path, axes)
    out = tmp_path / "out"
    where = "--trace" if what == "trace" else "--workload"
    code, printed, err = run(capsys, "sweep", spec, where, inputs[what], *flags, "--out", out,
                             "--quiet")
    assert_one_error(code, err, f"error: {spec}: field '{field}': ", *needles)
    assert not printed.strip()
    assert not out.exists()


def test_a_flag_the_workload_needs_is_named_with_the_point(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], inputs: dict[str, Path]
) -> None:
    """A batch axis over a decode without --context: the flag is at fault, named as simulate
    names it, with the workload values that were being loaded."""
    spec = _spec(tmp_path, {"workload.batch": [1, 2]})
    code, _, err = run(capsys, "sweep", spec, "--workload", inputs["config"], "--phase",
                       "decode", "--out", tmp_path / "out", "--quiet")
    assert_one_error(code, err, "field '--context'", "the decode phase needs context",
                     f"(at workload.batch=1 of {spec})")


def test_layers_matching_nothing_at_some_point(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], inputs: dict[str, Path]
) -> None:
    """``--layers`` must select layers of every point's workload: decode.1.* exists with two
    steps, not with one."""
    spec = _spec(tmp_path, {"workload.decode_steps": [2, 1]})
    code, _, err = run(capsys, "sweep", spec, "--workload", inputs["config"], "--phase",
                       "decode", "--context", "4", "--layers", "decode.1.*", "--out",
                       tmp_path / "out", "--quiet")
    assert_one_error(code, err, "field '--layers'", "no such layer(s): decode.1.*",
                     "workload.decode_steps=1")
    assert not (tmp_path / "out").exists()
    plain = _spec(tmp_path, {"dram.bandwidth_bytes_per_cycle": [16]})
    code, _, err = run(capsys, "sweep", plain, "--trace", inputs["trace"], "--layers", "nope",
                       "--out", tmp_path / "out", "--quiet")
    assert_one_error(code, err, "field '--layers'", "no such layer(s): nope")


def test_too_many_workloads_is_refused_quickly(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], inputs: dict[str, Path],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(runner, "MAX_WORKLOADS", 3)
    spec = _spec(tmp_path, {"workload.batch": [1, 2], "workload.context": [4, 5]})
    code, _, err = run(capsys, "sweep", spec, "--workload", inputs["config"], "--phase",
                       "decode", "--out", tmp_path / "out", "--quiet")
    assert_one_error(code, err, f"{spec}: field 'axes'", "more than 3 distinct workloads")


def test_workload_axes_with_a_trace_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], inputs: dict[str, Path],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A trace takes ``workload.tokens`` equal to its own count (nothing else): the point runs,
    its rows carry the value and the energy per prompt token."""
    from spikesim.dse import read_results

    spec = _spec(tmp_path, {"workload.tokens": [8]})
    with hostile_support.inline_sweeps(monkeypatch):
        code, _, err = run(capsys, "sweep", spec, "--trace", inputs["trace"], "--out",
                                 tmp_path / "out", "--quiet")
    assert code == 0, err
    total = read_results(tmp_path / "out").query("layer == 'TOTAL'").iloc[0]
    assert (total["workload.tokens"], total["prefill_tokens"]) == (8, 8)
    assert total["prefill_energy_per_token_pj"] == pytest.approx(total["energy_pj"] / 8)

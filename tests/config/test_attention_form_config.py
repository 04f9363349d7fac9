"""``if_array.attention_form`` and ``if_array.coincidence_bits``: defaults, validation errors
that name the field, and the CLI's one-line exit-2 contract for them."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import yaml
from cli_support import assert_one_error, run

from spikesim.config import load_hardware
from spikesim.config.hardware import AttentionForm
from spikesim.errors import InputError

ROOT = Path(__file__).resolve().parents[2]
PRESET = ROOT / "hw_configs" / "spikequant-45nm.yaml"
BATCHED = ROOT / "hw_configs" / "spikequant-45nm-batched.yaml"


def test_defaults_keep_spike_times_integer() -> None:
    a = load_hardware(PRESET).if_array
    assert a.attention_form == AttentionForm.SPIKE_INT
    assert a.coincidence_bits is None
    b = load_hardware(PRESET, {"if_array.attention_form": "spike_spike"}).if_array
    assert (b.attention_form, b.counter_bits) == (AttentionForm.SPIKE_SPIKE, 16)
    c = load_hardware(PRESET, {"if_array.attention_form": "spike_spike",
                               "if_array.coincidence_bits": 9}).if_array
    assert c.counter_bits == 9


@pytest.mark.parametrize(
    ("path", "overrides", "field", "needle"),
    [
        (BATCHED, {"if_array.attention_form": "spike_spike", "if_array.membrane_store": "sram"},
         "if_array.membrane_store", "spike_spike"),
        (PRESET, {"if_array.dataflow": "token_batched", "if_array.attention_form": "spike_spike",
                  "if_array.membrane_store": "sram"},
         "if_array.membrane_store", "registers"),
        (PRESET, {"if_array.attention_form": "spike_times_spike"}, "if_array.attention_form",
         "spike_spike"),
        (PRESET, {"if_array.coincidence_bits": 12}, "if_array.coincidence_bits",
         "spike_spike only"),
        (PRESET, {"if_array.attention_form": "spike_spike", "if_array.coincidence_bits": 1},
         "if_array.coincidence_bits", ""),
        (PRESET, {"if_array.attention_form": "spike_spike", "if_array.coincidence_bits": 64},
         "if_array.coincidence_bits", ""),
    ],
)
def test_bad_values_name_the_field(
    path: Path, overrides: dict[str, object], field: str, needle: str
) -> None:
    with pytest.raises(InputError) as err:
        load_hardware(path, overrides)
    assert err.value.field == field
    assert needle in err.value.message


def test_token_batched_takes_spike_spike_with_registers() -> None:
    """The token-batched preset (membranes in registers) runs spike × spike."""
    a = load_hardware(BATCHED, {"if_array.attention_form": "spike_spike"}).if_array
    assert a.attention_form == AttentionForm.SPIKE_SPIKE


def test_cli_validate_refuses_spike_spike_with_an_sram_membrane_store(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = yaml.safe_load(BATCHED.read_text())
    data["if_array"]["attention_form"] = "spike_spike"
    data["if_array"]["membrane_store"] = "sram"
    path = tmp_path / "hw.yaml"
    path.write_text(yaml.safe_dump(data))
    code, _, err = run(capsys, "validate", path)
    assert_one_error(code, err, "hw.yaml", "if_array.membrane_store", "spike_spike")


def test_cli_simulate_refuses_spike_spike_with_an_sram_membrane_store(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(
        capsys, "simulate", "--hw", "spikequant-45nm-batched", "--workload", "shape:smollm2-135m",
        "--tokens", "8", "--out", tmp_path / "run", "--set", "if_array.attention_form=spike_spike",
        "--set", "if_array.membrane_store=sram",
    )
    assert_one_error(code, err, "if_array.membrane_store", "spike_spike")
    assert not (tmp_path / "run").exists()


def test_cli_simulate_runs_token_batched_spike_spike(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """An attention matmul of the shape workload on the token-batched preset in the
    spike × spike form: the run's layer table says so through its extra fold cycles."""
    args = [
        "simulate", "--hw", "spikequant-45nm-batched", "--workload", "shape:smollm2-135m",
        "--tokens", "8", "--layers", "layers.0.attn.score.g0.q0", "--designs", "spikequant",
        "--no-cache", "--quiet", "--no-figures",
    ]
    code, _, err = run(capsys, *args, "--out", tmp_path / "ss",
                       "--set", "if_array.attention_form=spike_spike")
    assert code == 0, err
    code, _, err = run(capsys, *args, "--out", tmp_path / "si")
    assert code == 0, err
    ss = pd.read_csv(tmp_path / "ss" / "layers.csv")
    si = pd.read_csv(tmp_path / "si" / "layers.csv")
    assert list(ss["layer"]) == list(si["layer"]) == ["layers.0.attn.score.g0.q0"]
    assert int(ss["compute_cycles"].iloc[0]) > int(si["compute_cycles"].iloc[0])
    assert int(ss["spikes"].iloc[0]) == int(si["spikes"].iloc[0])
    assert int(ss["overflow_events"].iloc[0]) == int(si["overflow_events"].iloc[0])


def test_cli_simulate_refuses_a_too_narrow_counter(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A value layer of 8 keys, count-coded P: 8 x 7 = 56 coincidences in one group do not fit
    a 6-bit counter."""
    code, _, err = run(
        capsys, "simulate", "--hw", "spikequant-45nm", "--workload", "shape:smollm2-135m",
        "--tokens", "8", "--layers", "layers.0.attn.value.g0.q0", "--no-cache", "--quiet",
        "--no-figures", "--out", tmp_path / "run",
        "--set", "if_array.attention_form=spike_spike", "--set", "if_array.coincidence_bits=6",
    )
    assert_one_error(code, err, "if_array.coincidence_bits", "56", "at least 7")

"""Activation statistics fitted to a trace (spikesim.trace.fitstats, ``spikesim fit-stats``):
the special functions, the estimators recovering the generator's own parameters, the file, and
the generator using them."""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import numpy as np
import pytest
import yaml
from cli_support import assert_one_error, run, snapshot
from hypothesis import given
from hypothesis import strategies as st

from spikesim.errors import InputError
from spikesim.trace.fitstats import (
    DF_MAX,
    digamma,
    fit_activations,
    load_activation_stats,
    trigamma,
)
from spikesim.trace.generated import linear_recipe_sha256
from spikesim.trace.synth import ACTIVATION_STATS, generate_activations

EULER_GAMMA = 0.5772156649015329


def test_special_functions_at_known_points() -> None:
    assert digamma(1.0) == pytest.approx(-EULER_GAMMA, abs=1e-10)
    assert digamma(0.5) == pytest.approx(-EULER_GAMMA - 2 * math.log(2), abs=1e-10)
    assert trigamma(1.0) == pytest.approx(math.pi**2 / 6, abs=1e-10)
    assert trigamma(0.5) == pytest.approx(math.pi**2 / 2, abs=1e-10)


@given(st.floats(0.05, 500.0))
def test_special_functions_recurrence(x: float) -> None:
    assert digamma(x + 1) == pytest.approx(digamma(x) + 1 / x, rel=1e-9, abs=1e-9)
    assert trigamma(x + 1) == pytest.approx(trigamma(x) - 1 / x**2, rel=1e-9, abs=1e-9)


SITE_OP = {"attn_in": "q_proj", "o_in": "o_proj", "mlp_in": "gate_proj", "down_in": "down_proj"}


@pytest.mark.parametrize(("site", "df"), [
    ("attn_in", 3.0), ("attn_in", 6.0), ("o_in", 4.5), ("mlp_in", 10.0), ("down_in", 4.0),
])
def test_fit_recovers_the_generators_parameters(site: str, df: float) -> None:
    """Values generated with known statistics (scaled by 0.2: a trace's units are its own)
    give them back: df within 15 %, channel σ within 0.04, the outlier count within 1.5
    channels of the 0.75 %, the range within 35 %, a massive rate of 1e-3 within 25 %."""
    true = dataclasses.replace(ACTIVATION_STATS[site], df=df, massive_rate=1e-3)
    x = 0.2 * generate_activations(seed=3, block=1, op=SITE_OP[site], m=384, k=1024,
                                   hidden=None, dtype="float32", stats={site: true})
    fitted, scale = fit_activations(x, site)
    assert fitted.df == pytest.approx(df, rel=0.15)
    assert fitted.channel_sigma == pytest.approx(true.channel_sigma, abs=0.04)
    assert abs(fitted.outlier_fraction - true.outlier_fraction) * 1024 <= 1.5
    assert fitted.outlier_lo == pytest.approx(true.outlier_lo, rel=0.35)
    assert fitted.outlier_hi == pytest.approx(true.outlier_hi, rel=0.6)
    assert fitted.massive_rate == pytest.approx(1e-3, rel=0.25)
    assert fitted.massive_hi == pytest.approx(true.massive_hi, rel=0.25)
    assert scale == pytest.approx(0.2, rel=0.1)


def test_gaussian_bulk_fits_the_largest_df() -> None:
    rng = np.random.default_rng(0)
    x = rng.standard_normal((256, 512)) * rng.lognormal(0, 0.3, size=(1, 512))
    fitted, _ = fit_activations(x, "attn_in")
    assert fitted.df >= 40
    assert fitted.df <= DF_MAX
    assert fitted.outlier_fraction == 0.0
    assert fitted.massive_rate == 0.0


def test_generator_without_stats_is_unchanged() -> None:
    args = {"seed": 5, "block": 2, "op": "o_proj", "m": 16, "k": 64, "hidden": None,
            "dtype": "float16"}
    plain = generate_activations(**args)  # type: ignore[arg-type]
    same = generate_activations(**args, stats=dict(ACTIVATION_STATS))  # type: ignore[arg-type]
    np.testing.assert_array_equal(plain, same)
    other = dataclasses.replace(ACTIVATION_STATS["o_in"], df=3.0)
    changed = generate_activations(**args, stats={"o_in": other})  # type: ignore[arg-type]
    assert not np.array_equal(plain, changed)
    recipe = {"seed": 5, "block": 2, "op": "o_proj", "tokens": 16, "k": 64, "n": 8,
              "hidden": None}
    assert linear_recipe_sha256(**recipe) == linear_recipe_sha256(**recipe, stats=())  # type: ignore[arg-type]
    assert linear_recipe_sha256(**recipe) != linear_recipe_sha256(  # type: ignore[arg-type]
        **recipe, stats=(("o_in", other),))


def test_fit_stats_cli_on_the_shipped_trace(capsys: pytest.CaptureFixture[str],
                                             tmp_path: Path) -> None:
    out = tmp_path / "smol.yaml"
    code, stdout, err = run(capsys, "fit-stats", "smollm2-135m", "--out", out)
    assert code == 0, err
    assert "wrote" in stdout
    stats = load_activation_stats(out)
    assert set(stats) == {"attn_in", "o_in", "mlp_in", "down_in"}
    document = yaml.safe_load(out.read_text(encoding="utf-8"))
    assert document["sites"]["down_in"]["layers"] == [
        "layers.11.mlp.down_proj", "layers.15.mlp.down_proj"]
    # SmolLM2's down_proj input of block 11 carries the model's massive activations
    assert stats["down_in"].massive_rate > 0
    assert stats["down_in"].massive_hi > 1000
    before = snapshot(tmp_path)
    code, _, err = run(capsys, "fit-stats", "smollm2-135m", "--out", out)
    assert_one_error(code, err, "--out", "exists")
    assert snapshot(tmp_path) == before
    code, _, err = run(capsys, "fit-stats", "smollm2-135m", "--out", out, "--layers",
                       "layers.15.mlp.*", "--force")
    assert code == 0, err
    assert set(load_activation_stats(out)) == {"mlp_in", "down_in"}
    nested = tmp_path / "new" / "dir" / "s.yaml"  # missing folders are made
    assert run(capsys, "fit-stats", "smollm2-135m", "--out", nested)[0] == 0
    blocker = tmp_path / "file"
    blocker.write_text("x", encoding="utf-8")
    code, _, err = run(capsys, "fit-stats", "smollm2-135m", "--out", blocker / "s.yaml")
    assert_one_error(code, err, "--out", "not a directory")


@pytest.mark.parametrize(("change", "field"), [
    ({"format": "other"}, "format"),
    ({"version": 2}, "version"),
    ({"sites": {"lm_head": dataclasses.asdict(ACTIVATION_STATS["o_in"])}}, "sites"),
    ({"sites": {}}, "sites"),
    ({"sites.attn_in.df": 2.0}, "sites.attn_in.df"),
    ({"sites.attn_in.massive_rate": -1}, "sites.attn_in.massive_rate"),
    ({"sites.attn_in.outlier_lo": 1e5}, "sites.attn_in"),
    ({"sites.attn_in.colour": 1}, "sites.attn_in.colour"),
])
def test_bad_statistics_file_names_the_field(tmp_path: Path, change: dict[str, object],
                                             field: str) -> None:
    document: dict[str, object] = {
        "format": "spikesim-activation-stats", "version": 1,
        "sites": {"attn_in": dataclasses.asdict(ACTIVATION_STATS["attn_in"])},
    }
    for key, value in change.items():
        if key.startswith("sites."):
            _, site, name = key.split(".")
            document["sites"][site][name] = value  # type: ignore[index]
        else:
            document[key] = value
    path = tmp_path / "stats.yaml"
    path.write_text(yaml.safe_dump(document), encoding="utf-8")
    with pytest.raises(InputError) as info:
        load_activation_stats(path)
    assert info.value.file == str(path)
    assert info.value.field == field


@pytest.fixture(scope="module")
def smol_stats(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from spikesim.cli import main

    out = tmp_path_factory.mktemp("stats") / "smol.yaml"
    assert main(["fit-stats", "smollm2-135m", "--out", str(out)]) == 0
    return out


def test_shape_workload_generates_with_fitted_statistics(smol_stats: Path,
                                                         tmp_path: Path) -> None:
    from spikesim.trace import load_workload

    plain = load_workload("shape:smollm2-135m", tokens=16)
    fitted = load_workload("shape:smollm2-135m", tokens=16, stats=smol_stats)
    assert [layer.name for layer in plain.layers] == [layer.name for layer in fitted.layers]
    q_plain = plain.layer("layers.0.self_attn.q_proj")
    q_fitted = fitted.layer("layers.0.self_attn.q_proj")
    assert q_plain.sha256 != q_fitted.sha256
    assert not np.array_equal(q_plain.activations(), q_fitted.activations())
    np.testing.assert_array_equal(q_plain.weights(), q_fitted.weights())  # weights: built-in
    assert "fitted_statistics" not in plain.source
    assert fitted.source["fitted_statistics"]["activations"]["attn_in"]["df"] == (
        load_activation_stats(smol_stats)["attn_in"].df)
    csv = tmp_path / "gemms.csv"
    csv.write_text("layer,M,N,K\nfc,8,32,64\n", encoding="utf-8")
    gemm_plain = load_workload(csv).layers[0]
    gemm_fitted = load_workload(csv, stats=smol_stats).layers[0]
    assert gemm_plain.sha256 != gemm_fitted.sha256  # op gemm: the attn_in site


def test_stats_flag_errors(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                           smol_stats: Path) -> None:
    out = tmp_path / "run"
    code, _, err = run(capsys, "simulate", "--hw", "spikequant-45nm", "--trace",
                       "smollm2-135m", "--stats", smol_stats, "--out", out)
    assert_one_error(code, err, "--stats", "--workload")
    missing = tmp_path / "none.yaml"
    code, _, err = run(capsys, "simulate", "--hw", "spikequant-45nm", "--workload",
                       "shape:smollm2-135m", "--tokens", 8, "--stats", missing, "--out", out)
    assert_one_error(code, err, "--stats", str(missing), "does not exist")
    bad = tmp_path / "bad.yaml"
    bad.write_text("format: spikesim-activation-stats\nversion: 1\nsites:\n  attn_in: {}\n",
                   encoding="utf-8")
    code, _, err = run(capsys, "simulate", "--hw", "spikequant-45nm", "--workload",
                       "shape:smollm2-135m", "--tokens", 8, "--stats", bad, "--out", out)
    assert_one_error(code, err, str(bad), "sites.attn_in.df")
    assert not out.exists()
    from spikesim.trace import load_workload

    with pytest.raises(InputError) as info:
        load_workload("smollm2-135m", stats=smol_stats)
    assert info.value.field == "stats"


def test_sweep_points_use_the_statistics(smol_stats: Path, tmp_path: Path,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """A sweep with ``stats`` gives the TOTAL of a simulate run with them (and ids of its own:
    a sweep without them is another workload)."""
    import spikesim
    from spikesim.dse import read_results, run_sweep
    from spikesim.dse.runner import resolve_workload
    from tests.hostile.hostile_support import inline_sweeps

    spec = tmp_path / "s.yaml"
    spec.write_text("base: spikequant-45nm\naxes:\n  if_array.lanes: [16]\n"
                    "designs: [spikequant]\n", encoding="utf-8")
    layers = ["layers.0.self_attn.q_proj"]
    params = {"tokens": 16, "stats": str(smol_stats)}
    with inline_sweeps(monkeypatch):
        run_sweep(spec, "shape:smollm2-135m", tmp_path / "r.parquet", workload=params,
                  layers=layers)
    total = read_results(tmp_path / "r.parquet")
    total = total[total["layer"] == "TOTAL"]
    hw = spikesim.load_hardware("spikequant-45nm")
    wl = spikesim.load_workload("shape:smollm2-135m", tokens=16, stats=smol_stats)
    alone = spikesim.simulate(hw, wl, "spikequant", layers=layers).layers
    assert int(total["total_cycles"].iloc[0]) == int(alone["total_cycles"].sum())
    assert float(total["energy_pj"].iloc[0]) == pytest.approx(float(alone["energy_pj"].sum()))
    with_stats = resolve_workload("shape:smollm2-135m", params)[1]
    without = resolve_workload("shape:smollm2-135m", {"tokens": 16})[1]
    assert with_stats != without

"""The design registry: duplicates and unknown names are errors, and a design added to the
registry runs through simulate, the run directory, the report and sweep specs with no edit
anywhere else (the extension point a new design or dataflow uses)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

import spikesim
from spikesim.config.hardware import IFDataflow
from spikesim.dataflows import (
    DESIGNS,
    IF_DATAFLOWS,
    DesignKind,
    design_names,
    get_design,
    parse_designs,
    reference_design,
    register_design,
)
from spikesim.dataflows.base import Registry
from spikesim.dataflows.spiking import SpikingDesign
from spikesim.errors import InputError
from spikesim.quant.layer import Method

ROOT = Path(__file__).resolve().parents[2]


def test_builtin_designs_in_demo_order() -> None:
    assert design_names() == (
        "spikequant", "mac-w4a4", "atom", "spikellm", "fp16", "mac-bitserial"
    )
    assert design_names(DesignKind.SPIKING) == ("spikequant",)
    assert reference_design() == "spikequant"
    assert {d.name for d in DESIGNS if d.needs_calibration} == {"atom", "spikellm"}


def test_every_if_dataflow_value_is_implemented() -> None:
    assert set(IF_DATAFLOWS.names()) == {d.value for d in IFDataflow}


def test_duplicate_registration_is_an_error() -> None:
    reg: Registry[int] = Registry("thing", field="things")
    reg.register("a", 1)
    with pytest.raises(ValueError, match="already registered"):
        reg.register("a", 2)
    with pytest.raises(ValueError, match="already registered"):
        register_design(get_design("spikequant"))


def test_unknown_design_names_the_parameter() -> None:
    with pytest.raises(InputError) as info:
        parse_designs("spikequant,nosuch")
    assert info.value.field == "designs"
    assert "unknown design 'nosuch'" in info.value.message
    with pytest.raises(InputError, match="no design"):
        parse_designs(" , ")
    assert parse_designs("fp16, atom,fp16") == ("fp16", "atom")


@pytest.fixture
def extra_design() -> Iterator[str]:
    """SpikeQuant's datapath fed plain RTN activations, registered for one test."""
    design = SpikingDesign(
        "spiking-rtn", "RTN activations on the IF array", "#000000", Method.RTN
    )
    register_design(design)
    try:
        yield design.name
    finally:
        del DESIGNS._items[design.name]


@pytest.mark.slow  # the shipped trace, a run directory and its figures at full resolution
def test_a_registered_design_runs_everywhere(extra_design: str, tmp_path: Path) -> None:
    from spikesim.dse.spec import SweepSpec
    from spikesim.report.rundir import write_run_dir

    hw = spikesim.load_hardware(ROOT / "hw_configs" / "spikequant-45nm.yaml")
    trace = spikesim.load_trace(ROOT / "traces" / "smollm2-135m")
    layer = trace.layers[1].name
    result = spikesim.simulate(hw, trace, ["spikequant", extra_design], layers=[layer])
    rows = result.layers.set_index("design")
    assert list(rows.index) == ["spikequant", extra_design]
    assert rows.loc[extra_design, "spikes"] > 0
    assert rows.loc[extra_design, "salient_ratio"] == 0.0  # RTN keeps nothing wide
    out = write_run_dir(tmp_path / "run", result, hardware_file=None, overrides={})
    assert extra_design in (out / "report.md").read_text(encoding="utf-8")
    spec = SweepSpec.model_validate(
        {"base": "x.yaml", "axes": {"if_array.lanes": [8]}, "designs": [extra_design]}
    )
    assert spec.designs == (extra_design,)

"""Work is done once per run: each layer is read once and quantized once per distinct
quantization (mac-w4a4 and mac-bitserial share one), and the spike statistics come from the
simulation's own quantization; the results equal doing everything separately."""

from __future__ import annotations

from typing import Any

import pandas as pd
import pytest

import spikesim
from spikesim.dataflows import get_design
from spikesim.trace import synth_trace
from spikesim.trace.format import TraceLayer


def test_one_read_and_one_quantization_per_layer(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    synth_trace(tmp_path / "t", shape="smollm2-135m", tokens=24, seed=1)
    trace = spikesim.load_trace(tmp_path / "t")
    hw = spikesim.load_hardware("spikequant-45nm")
    designs = ["spikequant", "mac-w4a4", "mac-bitserial"]
    reads: list[str] = []
    quantized: list[tuple[str, str]] = []
    original = TraceLayer.activations

    def counting_read(self: TraceLayer) -> Any:
        reads.append(self.name)
        return original(self)

    monkeypatch.setattr(TraceLayer, "activations", counting_read)
    for name in designs:
        design = get_design(name)
        real = type(design).quantize

        def counting_quantize(self: Any, layer: str, *args: Any, _real: Any = real) -> Any:
            quantized.append((self.name, layer))
            return _real(self, layer, *args)

        monkeypatch.setattr(type(design), "quantize", counting_quantize)
    result = spikesim.simulate(hw, trace, designs)
    names = [layer.name for layer in trace.layers]
    assert reads == names
    # one SpikeQuant and one W4A4 quantization per layer (mac-bitserial reuses mac-w4a4's)
    assert sorted(quantized) == sorted(
        [("spikequant", n) for n in names] + [("mac-w4a4", n) for n in names]
    )
    monkeypatch.undo()
    # the same rows as each design simulated on its own
    for layer in trace.layers[:2]:
        for name in designs:
            alone = get_design(name).simulate(layer, hw).row()
            row = result.layers.query("layer == @layer.name and design == @name").iloc[0]
            assert int(row["total_cycles"]) == alone["total_cycles"]
            assert int(row["acc_ops"]) == alone["acc_ops"]
    # the run's spike statistics are the standalone ones
    assert result.spike_stats is not None
    pd.testing.assert_frame_equal(result.spike_stats, spikesim.spike_stats(hw, trace))
    assert spikesim.simulate(hw, trace, ["mac-w4a4"]).spike_stats is None

"""spikesim: cycle-level simulation of spiking (integrate-and-fire) accelerators for quantized LLMs.

The Python API (the CLI is a thin layer over it)::

    import spikesim
    hw = spikesim.load_hardware("hw_configs/spikequant-45nm.yaml")
    trace = spikesim.load_trace("traces/demo")
    result = spikesim.simulate(hw, trace, designs=["spikequant"])
    result.layers    # one row per (layer, design): cycles, stalls, energy per component
    result.actions   # one row per (layer, design, component, action, bits): counts and pJ
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("spikesim")
except PackageNotFoundError:  # pragma: no cover - running from a source tree without install
    __version__ = "0.0.0+unknown"

from spikesim.api import SimResult, load_hardware, load_trace, simulate

__all__ = ["SimResult", "__version__", "load_hardware", "load_trace", "simulate"]

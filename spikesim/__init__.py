"""spikesim: cycle-level simulation of spiking (integrate-and-fire) accelerators for quantized LLMs.

The Python API (the CLI is a thin layer over it)::

    import spikesim
    hw = spikesim.load_hardware("hw_configs/spikequant-45nm.yaml")
    trace = spikesim.load_trace("traces/demo")
    result = spikesim.simulate(hw, trace, designs=["spikequant"])
    # or a workload from shapes alone, values generated per layer (nothing on disk):
    workload = spikesim.load_workload("llama2-7b", tokens=2048, seed=0)
    result.layers    # one row per (layer, design): cycles, stalls, energy per component
    result.actions   # one row per (layer, design, component, action, bits): counts and pJ

The package face is lazy: ``import spikesim`` (or any low layer, such as ``spikesim.errors``)
loads nothing else until an API name is used.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from spikesim.version import __version__

if TYPE_CHECKING:
    from spikesim.api import (
        SimResult,
        design_names,
        load_hardware,
        load_trace,
        load_workload,
        run,
        simulate,
        spike_stats,
    )

__all__ = [
    "SimResult",
    "__version__",
    "design_names",
    "load_hardware",
    "load_trace",
    "load_workload",
    "run",
    "simulate",
    "spike_stats",
]
_API_NAMES = frozenset(__all__) - {"__version__"}


def __getattr__(name: str) -> Any:
    """Import :mod:`spikesim.api` on first use of one of its names (PEP 562)."""
    if name in _API_NAMES:
        return getattr(import_module("spikesim.api"), name)
    raise AttributeError(f"module 'spikesim' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *_API_NAMES])

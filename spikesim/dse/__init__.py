"""Design-space exploration: sweep hardware configurations × designs, keep every result, find
the Pareto front over energy, cycles and area.

- :mod:`~spikesim.dse.spec` — the sweep YAML (base, axes, sampling, designs, constraints)
- :mod:`~spikesim.dse.area` — area of a design from the technology table's ``area:`` section
- :mod:`~spikesim.dse.runner` — local process pool or Dask; resumable; failures recorded
- :mod:`~spikesim.dse.store` — the Parquet dataset of atomically written parts
- :mod:`~spikesim.dse.pareto` — front extraction (NumPy) and the front figure
"""

from spikesim.dse.area import area_mm2, area_parts
from spikesim.dse.pareto import OBJECTIVES, draw_front, pareto_front, pareto_mask
from spikesim.dse.runner import SweepSummary, run_sweep
from spikesim.dse.spec import LoadedSweep, SweepSpec, load_sweep
from spikesim.dse.store import read_results

__all__ = [
    "OBJECTIVES",
    "LoadedSweep",
    "SweepSpec",
    "SweepSummary",
    "area_mm2",
    "area_parts",
    "draw_front",
    "load_sweep",
    "pareto_front",
    "pareto_mask",
    "read_results",
    "run_sweep",
]

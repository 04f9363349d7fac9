"""The import layers of DESIGN.md hold, and no module imports itself through others.

The layers are an import-linter contract in pyproject.toml (``[tool.importlinter]``); this test
runs it, so CI fails on an upward import. Cycles (also inside one layer) are found with grimp,
import-linter's own graph: for every direct import a → b, there must be no chain b → … → a.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import grimp
import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_import_layers_contract_is_kept() -> None:
    lint = Path(sys.executable).with_name("lint-imports")
    proc = subprocess.run(
        [str(lint), "--config", str(ROOT / "pyproject.toml"), "--no-cache"],
        cwd=ROOT, capture_output=True, text=True, check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_no_import_cycles() -> None:
    graph = grimp.build_graph("spikesim", cache_dir=None)
    cycles = []
    for importer in sorted(graph.modules):
        for imported in sorted(graph.find_modules_directly_imported_by(importer)):
            back = graph.find_shortest_chain(importer=imported, imported=importer)
            if back is not None:
                cycles.append(" -> ".join([importer, *back]))
    assert not cycles, "import cycles:\n" + "\n".join(cycles)


@pytest.mark.parametrize("module", ["spikesim.errors", "spikesim.config", "spikesim.schema"])
def test_low_layers_import_cheaply(module: str) -> None:
    """Importing a low layer does not load the API, pandas or numba (the package face is lazy)."""
    code = (
        f"import sys, {module}; "
        "heavy = [m for m in ('spikesim.api', 'pandas', 'numba', 'simpy') if m in sys.modules]; "
        "print(','.join(heavy))"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT
    )
    assert proc.stdout.strip() == ""

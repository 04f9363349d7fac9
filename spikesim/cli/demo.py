"""``spikesim demo``: the whole job with no arguments, on the shipped SmolLM2 trace.

Its run directory also holds the trace (``DIR/trace``), so it is staged as a whole: the trace is
copied (or re-extracted) into the staged directory, simulated with :func:`spikesim.api.simulate`
and :func:`spikesim.api.spike_stats`, and written with the run-directory writer
(:func:`spikesim.report.rundir.write_run_files`), exactly what :func:`spikesim.api.run` does for
``simulate``.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from spikesim.cli.common import EXIT_OK, Progress, command_line, print_totals, show_progress

if TYPE_CHECKING:
    from spikesim.trace import Trace

NAME = "demo"
DEMO_OUT = "runs/demo"
DEMO_PRESET = "spikequant-45nm"
DEMO_TRACE = "smollm2-135m"

HELP = "the whole job with no arguments: simulate the shipped SmolLM2 trace, report"
DESCRIPTION = (
    f"Simulate the shipped trace traces/{DEMO_TRACE} (extracted from the real "
    "SmolLM2-135M-Instruct by spikesim extract; the command is in its manifest), copied "
    f"into DIR/trace, on the '{DEMO_PRESET}' preset with every registered design (SpikeQuant "
    "and the MAC baselines), and write the run directory and report.md into DIR. "
    "Needs no torch. --extract redoes the extraction first (needs the [extract] and "
    "[real-model] extras)."
)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--out",
        default=DEMO_OUT,
        metavar="DIR",
        help=f"run directory to write (default {DEMO_OUT})",
    )
    p.add_argument(
        "--extract",
        action="store_true",
        help="re-extract the trace from the model first instead of using the shipped copy",
    )
    p.add_argument(
        "--quiet", action="store_true", help="no progress bar on stderr (shown on a terminal only)"
    )


def run(args: argparse.Namespace) -> int:
    from spikesim import api
    from spikesim.config.presets import preset_path
    from spikesim.report.rundir import staged_run_dir, write_run_files

    out = Path(args.out)
    hw_path = preset_path(DEMO_PRESET)
    hw = api.load_hardware(hw_path)
    with staged_run_dir(out) as stage:
        trace = _demo_trace(stage, args)
        designs = api.design_names()
        total = len(trace.layers) * len(designs)
        with Progress(show_progress(args.quiet), total) as progress:
            result = api.simulate(hw, trace, designs, on_layer=progress.callback)
        write_run_files(
            stage,
            result,
            hardware_file=hw_path,
            overrides={},
            trace_path=out / "trace",
            command=command_line(args),
            spike_stats=api.spike_stats(hw, trace),
        )
    print_totals(result, out)
    return EXIT_OK


def _demo_trace(stage: Path, args: argparse.Namespace) -> Trace:
    """The demo's trace in ``stage/trace``: the shipped one copied, or re-extracted."""
    import shutil

    from spikesim.trace import load_trace
    from spikesim.trace.shipped import SHIPPED_TRACES, shipped_trace_path

    target = stage / "trace"
    if not args.extract:
        shutil.copytree(shipped_trace_path(DEMO_TRACE), target)
        return load_trace(target)
    from spikesim.trace.extract import extract_model_trace
    from spikesim.trace.models import require_torch

    require_torch("--extract")
    recipe = SHIPPED_TRACES[DEMO_TRACE]
    return extract_model_trace(
        recipe.model,
        target,
        tokens=recipe.tokens,
        layers=recipe.layers,
        dtype=recipe.dtype,
        name=DEMO_TRACE,
        command=command_line(args),
        progress=show_progress(args.quiet),
    )

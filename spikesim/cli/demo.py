"""``spikesim demo``: the whole job with no arguments, on the shipped SmolLM2 trace.

Its run directory also holds the trace (``DIR/trace``), so it is staged as a whole: the trace is
copied (or re-extracted) into the staged directory, simulated with :func:`spikesim.api.simulate`
(whose run also gives the |q| histogram of :func:`spikesim.api.spike_stats`), and written with
the run-directory writer (:func:`spikesim.report.rundir.write_run_files`), exactly what
:func:`spikesim.api.run` does for ``simulate``.

The reference design is simulated twice: on the default preset (token-serial IF array, one
weight-row read per spike) and on the best spiking preset of ``sweeps/dataflows.yaml``
(token-batched, row latch), whose run directory is ``DIR/<preset>/``; the first table printed
puts both beside the MAC baselines.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from spikesim.cli.common import EXIT_OK, Progress, command_line, print_totals, show_progress

if TYPE_CHECKING:
    from spikesim.sim.result import SimResult
    from spikesim.trace import Trace

NAME = "demo"
DEMO_OUT = "runs/demo"
DEMO_PRESET = "spikequant-45nm"
BEST_SPIKING_PRESET = "spikequant-45nm-batched"
DEMO_TRACE = "smollm2-135m"

HELP = "the whole job with no arguments: simulate the shipped SmolLM2 trace, report"
DESCRIPTION = (
    f"Simulate the shipped trace traces/{DEMO_TRACE} (extracted from the real "
    "SmolLM2-135M-Instruct by spikesim extract; the command is in its manifest), copied "
    f"into DIR/trace, on the '{DEMO_PRESET}' preset with every registered design (SpikeQuant "
    "and the MAC baselines), and write the run directory and report.md into DIR; SpikeQuant "
    f"also on the token-batched '{BEST_SPIKING_PRESET}' preset, into DIR/{BEST_SPIKING_PRESET}. "
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
    best_path = preset_path(BEST_SPIKING_PRESET)
    best_hw = api.load_hardware(best_path)
    reference = api.parse_designs(None)
    with staged_run_dir(out) as stage:
        trace = _demo_trace(stage, args)
        designs = api.design_names()
        total = len(trace.layers) * (len(designs) + len(reference))
        with Progress(show_progress(args.quiet), total) as progress:
            result = api.simulate(hw, trace, designs, on_layer=progress.callback)
            best = api.simulate(best_hw, trace, reference, on_layer=progress.callback)
        write_run_files(
            stage,
            result,
            hardware_file=hw_path,
            overrides={},
            trace_path=out / "trace",
            command=command_line(args),
            spike_stats=result.spike_stats,  # SpikeQuant ran: its quantization gave it
        )
        (stage / BEST_SPIKING_PRESET).mkdir()
        write_run_files(
            stage / BEST_SPIKING_PRESET,
            best,
            hardware_file=best_path,
            overrides={},
            trace_path=out / "trace",
            command=command_line(args),
        )
    print_dataflows(best, result, out / BEST_SPIKING_PRESET)
    print()
    print_totals(result, out)
    return EXIT_OK


def print_dataflows(best: SimResult, default: SimResult, best_dir: Path) -> None:
    """The reference design on both presets beside the MAC baselines (of the default preset:
    they do not read the IF-array knobs), energy and cycles relative to ``mac-w4a4``."""
    from spikesim.report.markdown import design_totals, fmt_int, fmt_number, text_table

    def hardware(res: SimResult, design: str) -> str:
        if design not in best.designs:
            return res.hardware.name
        a = res.hardware.if_array
        batch = f" {a.batch}" if a.batch > 1 else ""
        latch = ", latch" if a.row_latch else ""
        coding = res.hardware.quant.normal_coding.value
        return f"{res.hardware.name} ({a.dataflow.value}{batch}{latch}, {coding})"

    rows: list[tuple[str, str, int, float]] = []
    for res in (best, default):
        totals = design_totals(res.layers, res.hardware.clock_hz, res.trace.tokens)
        rows.extend(
            (str(r["design"]), hardware(res, str(r["design"])), int(r["total_cycles"]),
             float(r["energy_pj"]))
            for r in totals.to_dict("records")
        )
    base = next((r for r in rows if r[0] == "mac-w4a4"), rows[-1])
    print(f"SpikeQuant by IF-array dataflow, against the MAC baselines (× {base[0]}):")
    table = [
        [d, h, fmt_int(c), fmt_number(e / 1e6), fmt_number(e / base[3], 3),
         fmt_number(c / base[2], 3)]
        for d, h, c, e in rows
    ]
    headers = ["design", "hardware", "cycles", "energy (µJ)", f"energy ÷ {base[0]}",
               f"cycles ÷ {base[0]}"]
    print(text_table(headers, table, "llrrrr"), end="")
    print(f"run directory of the {best.hardware.name} run: {best_dir}")


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
        attention=recipe.attention,
        decode_steps=recipe.decode_steps,
        name=DEMO_TRACE,
        command=command_line(args),
        progress=show_progress(args.quiet),
    )

"""``spikesim simulate``: one call to :func:`spikesim.api.run`, then the totals on stdout.

The workload is ``--trace DIR`` (a trace directory or shipped trace, as always) or ``--workload
W`` (that, or a topology CSV, a Hugging Face ``config.json``, a named shape: see
:func:`spikesim.api.load_workload`), with ``--tokens`` and ``--seed`` for shape-only workloads,
and ``--phase``, ``--batch``, ``--context``, ``--decode-steps`` for a model (a config or a named
shape; :mod:`spikesim.trace.model_plan`).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from spikesim.cli.common import (
    EXIT_OK,
    Progress,
    add_workload_arguments,
    command_line,
    from_overrides,
    parse_sets,
    print_totals,
    show_progress,
    split_list,
    workload_parameters,
)
from spikesim.cli.synth import SHAPE_NAMES
from spikesim.errors import InputError

if TYPE_CHECKING:
    from spikesim.trace import Workload

NAME = "simulate"
HELP = "simulate a trace or workload on a hardware config and write a run directory"
DESCRIPTION = (
    "Simulate every layer of a trace (or of a shape-only workload: a topology CSV, a Hugging "
    "Face config.json or a named shape, whose values are generated per layer, seeded, and "
    "never written) under each design, price the action counts, and "
    "write the run directory (config.yaml, layers.csv, actions.csv, transactions.csv, "
    "spike_stats.csv, summary.json, report.md, figures/). Prints the per-design totals."
)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--hw",
        required=True,
        metavar="FILE",
        help="hardware YAML, or the name of a preset in hw_configs/",
    )
    add_workload_arguments(
        p,
        "a trace directory or shipped trace (as --trace); a topology CSV of GEMMs "
        "(columns layer,M,N,K; SCALE-Sim's GEMM topology files too); a Hugging Face "
        f"config.json; or a named shape ({SHAPE_NAMES}; shape:NAME when a shipped trace has "
        "the name). Shape-only workloads generate each layer's values on the fly, seeded; "
        "nothing is written. A config.json or a named shape runs each decoder block whole: "
        "its linears, attention matmuls (layers.B.attn.*) and FP vector operators (RMSNorm, "
        "RoPE, softmax, SiLU*up, residual adds on the vector unit)",
    )
    p.add_argument(
        "--out",
        required=True,
        metavar="RUN_DIR",
        help="run directory to write (replaced atomically if it is one already)",
    )
    p.add_argument(
        "--designs",
        default=None,
        metavar="NAME,...",
        help="comma-separated registered designs to simulate (default: the reference design, "
        "the one every other is compared against)",
    )
    p.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="PATH=VALUE",
        help="override a hardware field, e.g. if_array.lanes=32 (repeatable)",
    )
    p.add_argument(
        "--layers",
        default=None,
        metavar="NAME,...",
        help="simulate only these layers (comma-separated names or shell globs, e.g. "
        "'layers.0.*')",
    )
    p.add_argument(
        "--timeline",
        default=None,
        metavar="LAYER,...",
        help="also write RUN_DIR/timeline-LAYER.json: the layer's DRAM/array transactions as a "
        "Chrome/Perfetto trace (open in ui.perfetto.dev)",
    )
    p.add_argument(
        "--no-figures",
        action="store_true",
        help="skip drawing figures/ (about a second); 'spikesim report RUN_DIR' draws them later",
    )
    p.add_argument(
        "--no-cache", action="store_true",
        help="do not read or write the cache of quantized layers (spikesim cache info); "
        "SPIKESIM_NO_CACHE=1 does the same",
    )
    p.add_argument(
        "--workers",
        type=int,
        default=1,
        metavar="N",
        help="worker processes counting the layers, one thread each (default 1; at most 64); "
        "the run's tables are the same as with one",
    )
    p.add_argument(
        "--quiet", action="store_true", help="no progress bar on stderr (shown on a terminal only)"
    )


def run(args: argparse.Namespace) -> int:
    from spikesim.fsutil import interruptible

    # SIGTERM/SIGINT/SIGHUP unwind the staging: the temporary run directory is removed and
    # --out keeps its previous contents; one line "error: interrupted"
    with interruptible():
        return _run(args)


def _run(args: argparse.Namespace) -> int:
    from spikesim import api
    from spikesim.report.timeline import timeline_file_name

    overrides = parse_sets(args.set)
    layers = split_list(args.layers, "--layers") if args.layers is not None else None
    timeline = split_list(args.timeline, "--timeline") if args.timeline is not None else []
    workload: Workload | str
    params = workload_parameters(args)
    if args.workload is not None:
        workload = api.load_workload(args.workload, **params)
    elif args.phase is not None:
        workload = api.load_workload(args.trace, phase=args.phase)
    else:
        workload = args.trace
    show = show_progress(args.quiet)
    steps = _steps(workload, args.designs, layers) if show else None
    with Progress(show, steps) as progress:
        try:
            result = api.run(
                args.hw,
                workload,
                args.out,
                designs=args.designs,
                layers=layers,
                overrides=overrides,
                timeline_layers=timeline,
                figures=not args.no_figures,
                on_layer=progress.callback,
                command=command_line(args),
                cache=not args.no_cache,
                workers=args.workers,
            )
        except InputError as exc:
            raise from_overrides(exc, overrides, args.hw) from None
    out = Path(args.out)
    print_totals(result, out)
    for note in result.notes:
        print(f"note: {note}")
    for name in timeline:
        print(f"timeline of {name}: {out / timeline_file_name(name)} (open in ui.perfetto.dev)")
    return EXIT_OK


def _steps(workload: Workload | str, designs: str | None, layers: list[str] | None) -> int | None:
    """Layers × designs, the length of the progress bar (None if an input is bad: run says so)."""
    from spikesim import api
    from spikesim.sim.counts import select_layers

    try:
        loaded = api.load_trace(workload) if isinstance(workload, str) else workload
        n_layers = len(select_layers(loaded, layers))
        return n_layers * (1 if designs is None else len(api.parse_designs(designs)))
    except InputError:
        return None

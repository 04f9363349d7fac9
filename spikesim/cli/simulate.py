"""``spikesim simulate``: one call to :func:`spikesim.api.run`, then the totals on stdout."""

from __future__ import annotations

import argparse
from pathlib import Path

from spikesim.cli.common import (
    EXIT_OK,
    Progress,
    add_trace_argument,
    command_line,
    from_overrides,
    parse_sets,
    print_totals,
    show_progress,
    split_list,
)
from spikesim.errors import InputError

NAME = "simulate"
HELP = "simulate a trace on a hardware config and write a run directory"
DESCRIPTION = (
    "Simulate every layer of a trace under each design, price the action counts, and "
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
    add_trace_argument(p)
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
        help="simulate only these layers of the trace (comma-separated names)",
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
    show = show_progress(args.quiet)
    with Progress(show, _steps(args.trace, args.designs, layers) if show else None) as progress:
        try:
            result = api.run(
                args.hw,
                args.trace,
                args.out,
                designs=args.designs,
                layers=layers,
                overrides=overrides,
                timeline_layers=timeline,
                figures=not args.no_figures,
                on_layer=progress.callback,
                command=command_line(args),
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


def _steps(trace: str, designs: str | None, layers: list[str] | None) -> int | None:
    """Layers × designs, the length of the progress bar (None if an input is bad: run says so)."""
    from spikesim import api

    try:
        n_layers = len(layers) if layers is not None else len(api.load_trace(trace).layers)
        return n_layers * (1 if designs is None else len(api.parse_designs(designs)))
    except InputError:
        return None

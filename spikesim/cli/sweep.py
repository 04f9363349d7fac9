"""``spikesim sweep``: run a sweep spec into a Parquet dataset, then print the Pareto front."""

from __future__ import annotations

import argparse

from spikesim.cli.common import (
    EXIT_OK,
    add_workload_arguments,
    patterns,
    show_progress,
    workload_parameters,
)
from spikesim.cli.pareto import show_front

NAME = "sweep"
HELP = "simulate many hardware points × designs into a Parquet dataset, then Pareto"
DESCRIPTION = (
    "Run every point of a sweep spec (base hardware YAML + axes, grid or random "
    "sampling, designs, constraints) on a trace or a workload (--workload: a topology CSV, a "
    "config.json or a named shape, prefill or decode; workload.tokens, workload.batch, "
    "workload.context and workload.decode_steps axes vary it point by point, and their rows "
    "gain energy per prompt and per generated token), in parallel (local processes, or a Dask "
    "scheduler), into a Parquet dataset directory: one part per finished (point, "
    "design), written atomically, so an interrupted sweep resumes where it stopped. A "
    "failing point is recorded with its error. Ends with the Pareto front. --out must be "
    "absent, empty or a results directory (never a trace, a run directory or another folder); "
    "a sweep has at most 100,000 points (grid size or samples) and 64 workers."
)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "spec",
        metavar="SWEEP.yaml",
        help="sweep specification (top-level 'axes'), or a shipped sweep by name "
        "(dataflows, decode-batch-context, example)",
    )
    add_workload_arguments(
        p,
        "any workload of 'spikesim simulate --workload' (a trace, a topology CSV, a "
        "config.json, a named shape), regenerated in each worker from its description",
    )
    p.add_argument(
        "--layers",
        default=None,
        metavar="PATTERNS",
        help="simulate only these layers at every point (comma-separated names or shell globs, "
        "e.g. 'decode.0.layers.0.*'), as simulate --layers; part of the point ids",
    )
    p.add_argument(
        "--out",
        required=True,
        metavar="RESULTS.parquet",
        help="results dataset (a directory of Parquet parts); an interrupted sweep resumes",
    )
    p.add_argument(
        "--workers",
        type=int,
        default=1,
        metavar="N",
        help="local worker processes (default 1; at most 64, and no more than the tasks to run)",
    )
    p.add_argument(
        "--scheduler",
        default=None,
        metavar="tcp://HOST:PORT",
        help="run on this Dask distributed scheduler instead (needs spikesim[dist])",
    )
    p.add_argument(
        "--no-cache", action="store_true",
        help="do not read or write the cache of quantized layers (spikesim cache info); "
        "SPIKESIM_NO_CACHE=1 does the same",
    )
    p.add_argument("--quiet", action="store_true", help="no progress bar and no Pareto table")


def run(args: argparse.Namespace) -> int:
    from spikesim.dse.runner import run_sweep
    from spikesim.fsutil import interruptible

    # SIGTERM/SIGINT/SIGHUP unwind: workers stopped, temporary parts and figures removed, the
    # finished parts kept (rerun the command to resume); one line "error: interrupted"
    params = workload_parameters(args)
    with interruptible():
        summary = run_sweep(
            args.spec,
            args.trace if args.trace is not None else args.workload,
            args.out,
            workload=None if args.trace is not None and args.phase is None else params,
            workers=args.workers,
            scheduler=args.scheduler,
            progress=show_progress(args.quiet),
            cache=not args.no_cache,
            layers=patterns(args.layers, "--layers"),
        )
        print(summary.text())
        show_front(summary.out, quiet=args.quiet)
    return EXIT_OK

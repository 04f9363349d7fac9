"""``spikesim fit-stats``: fit the shape-only generator's activation statistics to a trace
(:mod:`spikesim.trace.fitstats`); ``simulate --stats FILE`` and ``sweep --stats FILE`` use them."""

from __future__ import annotations

import argparse
from pathlib import Path

from spikesim.cli.common import EXIT_OK, check_out, command_line

NAME = "fit-stats"
HELP = "fit the activation statistics of shape-only workloads to a trace"
DESCRIPTION = (
    "Fit, per activation site (attn_in: q/k/v input, o_in, mlp_in: gate/up input, down_in), "
    "the statistics with which shape-only workloads generate their activations (Student-t df, "
    "channel gain spread, outlier channels, massive values) to the inputs of a trace's linear "
    "layers, and write them as a YAML file for simulate --stats. Sites the trace has no layer "
    "of keep the built-in statistics."
)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("trace", metavar="TRACE",
                   help="trace directory, or the name of a shipped trace (smollm2-135m)")
    p.add_argument("--out", required=True, metavar="FILE",
                   help="statistics file to write (YAML)")
    p.add_argument("--layers", default=None, metavar="NAME,...",
                   help="only these layers (names or shell patterns, comma-separated)")
    p.add_argument("--force", action="store_true", help="replace --out if it exists")


def run(args: argparse.Namespace) -> int:
    import yaml

    from spikesim.fsutil import atomic_write_file, interruptible
    from spikesim.sim.counts import select_layers, tensor_layers
    from spikesim.trace import load_trace
    from spikesim.trace.fitstats import fit_layers, stats_document
    from spikesim.trace.shipped import resolve_trace

    out = Path(args.out)
    path = resolve_trace(args.trace)
    check_out(out, force=args.force, inputs=[path / "manifest.json"])
    trace = load_trace(path)
    layers = args.layers.split(",") if args.layers else None
    chosen = tensor_layers(select_layers(trace, layers))
    fitted = fit_layers((layer.name, layer.op, layer.activations) for layer in chosen)
    if not fitted:
        from spikesim.errors import InputError

        raise InputError(
            "no layer of the trace is a q/k/v/o, gate/up or down projection; nothing to fit",
            file=path, field="layers",
        )
    source = {"trace": str(path), "command": command_line(args),
              "layers_fitted": sum(len(f.layers) for f in fitted.values())}
    text = yaml.safe_dump(stats_document(fitted, source), sort_keys=False)
    with interruptible():
        out.parent.mkdir(parents=True, exist_ok=True)  # check_out: its nearest parent is a dir
        atomic_write_file(out, lambda fh: fh.write(text.encode("utf-8")))
    print(f"{'site':8} {'layers':>6} {'df':>8} {'ch.sigma':>8} {'outliers':>9} "
          f"{'out.range':>15} {'massive':>9}")
    for site, f in fitted.items():
        s = f.stats
        print(f"{site:8} {len(f.layers):>6} {s.df:>8.3g} {s.channel_sigma:>8.3g} "
              f"{s.outlier_fraction:>9.3%} {s.outlier_lo:>7.3g}-{s.outlier_hi:<7.3g} "
              f"{s.massive_rate:>9.2e}")
    print(f"wrote {out}")
    return EXIT_OK

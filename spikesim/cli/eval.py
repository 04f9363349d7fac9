"""``spikesim eval``: perplexity of a causal LM under each quantization method (needs torch)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from spikesim.cli.common import (
    EXIT_OK,
    add_text_arguments,
    parse_sets,
    patterns,
    quant_config,
    show_progress,
)
from spikesim.errors import InputError

NAME = "eval"
EVAL_METHODS = "fp32,fp16,rtn,spikequant"
CSV_COLUMNS = ["method", "perplexity", "salient_ratio"]
"""Columns of ``--out`` (an empty salient_ratio: the method flags no salient values)."""

HELP = "perplexity of a causal LM under each quantization method (needs torch)"
DESCRIPTION = (
    "Perplexity on held-out text (default: the built-in sample, disjoint from the "
    "calibration text) with every linear layer but lm_head fake-quantized by the "
    "simulator's own quantizers: weights per-channel RTN at quant.weight_bits; "
    "activations per token (rtn: RTN at quant.act_bits; spikequant: MAD saliency, "
    "shared scale, salient values at quant.salient_bits). fp32 is the unquantized "
    "reference; fp16 rounds weights and linear inputs to float16."
)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", required=True, metavar="PATH_OR_ID", help="model directory or id")
    p.add_argument(
        "--methods",
        default=EVAL_METHODS,
        metavar="NAME,...",
        help=f"comma-separated methods (default {EVAL_METHODS})",
    )
    add_text_arguments(p, "UTF-8 held-out text (default built-in)", 512, "scored")
    p.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="quant.FIELD=VALUE",
        help="override a quantization knob, e.g. quant.mad_k=6 (repeatable)",
    )
    p.add_argument(
        "--hw",
        default=None,
        metavar="FILE",
        help="take the quant section from this hardware YAML or preset (default: defaults)",
    )
    p.add_argument("--layers", default=None, metavar="PATTERNS", help="globs of layers to quantize")
    p.add_argument(
        "--exclude", default=None, metavar="PATTERNS", help="globs of layers to keep float"
    )
    p.add_argument(
        "--out", default=None, metavar="CSV", help="write method,perplexity,salient_ratio"
    )
    p.add_argument("--quiet", action="store_true", help="no per-method progress on stderr")


def run(args: argparse.Namespace) -> int:
    import math

    from spikesim.eval import evaluate, parse_methods
    from spikesim.report.markdown import text_table

    methods = parse_methods(args.methods)
    cfg = quant_config(args.hw, parse_sets(args.set))
    out = Path(args.out) if args.out is not None else None
    if out is not None and out.is_dir():
        raise InputError("is a directory; --out takes a CSV file name", file=out, field="--out")
    show = show_progress(args.quiet)  # progress bars: on a terminal only

    def step(score: Any) -> None:
        # one line per finished method, also off a terminal (a log shows the run is alive)
        if not args.quiet:
            print(f"{score.method}: perplexity {score.perplexity:.3f}", file=sys.stderr, flush=True)

    result = evaluate(
        args.model,
        methods,
        cfg=cfg,
        text=args.text,
        tokens=args.tokens,
        seq_len=args.seq_len,
        batch=args.batch,
        layers=patterns(args.layers, "--layers"),
        exclude=patterns(args.exclude, "--exclude"),
        on_method=step,
        progress=show,
    )
    rows = [
        [
            s.method,
            f"{s.perplexity:.3f}",
            "-" if math.isnan(s.salient_ratio) else f"{100 * s.salient_ratio:.2f} %",
        ]
        for s in result.scores
    ]
    print(
        f"perplexity of {args.model} on {result.predictions} predicted tokens of "
        f"{result.info['text']['source']} (sequences of {result.info['seq_len']}); "
        f"W{cfg.weight_bits} per-channel RTN, A{cfg.act_bits} per token, salient "
        f"{cfg.salient_bits} bits, mad_k {cfg.mad_k:g}; fp32 = unquantized reference"
    )
    print(text_table(["method", "perplexity", "salient ratio"], rows, "lrr"), end="")
    if out is not None:
        write_csv(result.rows(), out)
        print(f"wrote {out}")
    return EXIT_OK


def write_csv(rows: list[dict[str, Any]], out: Path) -> None:
    """``rows`` as the CSV ``out`` (NaN written empty), replaced atomically."""
    import os

    import pandas as pd

    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp")
    try:
        pd.DataFrame(rows, columns=CSV_COLUMNS).to_csv(
            tmp, index=False, lineterminator="\n", encoding="utf-8"
        )
        os.replace(tmp, out)
    finally:
        tmp.unlink(missing_ok=True)

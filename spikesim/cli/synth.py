"""``spikesim synth``: write a synthetic trace with LLM-like statistics."""

from __future__ import annotations

import argparse

from spikesim.cli.common import EXIT_OK, add_dtype_argument, add_method_arguments, stored_methods

NAME = "synth"
HELP = "write a synthetic trace with LLM-like statistics"
DESCRIPTION = (
    "Write a synthetic trace (manifest.json + one .safetensors per linear layer) with "
    "LLM-like activation statistics: either the linear layers of a named model shape or "
    "GEMMs (--gemm once per layer)."
)

SHAPE_NAMES = "llama2-7b, llama2-13b, llama2-70b, mistral-7b, smollm2-135m"
"""The named shapes of :data:`spikesim.trace.synth.SHAPES`, for help texts (spelled out so that
building the parser imports no numpy; a test checks they agree)."""


def add_arguments(p: argparse.ArgumentParser) -> None:
    what = p.add_mutually_exclusive_group(required=True)
    what.add_argument(
        "--shape", metavar="NAME",
        help=f"named model shape ({SHAPE_NAMES})",
    )
    what.add_argument(
        "--gemm", action="append", metavar="M,K,N",
        help="a GEMM layer: M tokens, K inputs, N outputs; repeat for several layers (named "
        "gemm.0, gemm.1, ...; all with the same M)",
    )
    p.add_argument(
        "--layers",
        type=int,
        default=1,
        metavar="N",
        help="decoder blocks of the shape, 7 linear layers each (default 1)",
    )
    p.add_argument(
        "--tokens",
        type=int,
        default=None,
        metavar="N",
        help="tokens per layer for a shape (default 256; a gemm takes M)",
    )
    p.add_argument("--seed", type=int, default=0, metavar="S", help="random seed (default 0)")
    add_dtype_argument(p)
    p.add_argument("--out", required=True, metavar="DIR", help="trace directory to write")
    add_method_arguments(p)


def run(args: argparse.Namespace) -> int:
    from spikesim.fsutil import interruptible
    from spikesim.trace import parse_gemm, synth_trace

    extra, note = stored_methods(args)
    # SIGTERM/SIGINT/SIGHUP unwind the staging: the temporary trace directory is removed and
    # --out keeps its previous contents; one line "error: interrupted"
    with interruptible():
        trace = synth_trace(
            args.out,
            shape=args.shape,
            gemm=[parse_gemm(g) for g in args.gemm] if args.gemm is not None else None,
            layers=args.layers,
            tokens=args.tokens,
            seed=args.seed,
            dtype=args.dtype,
            extra=extra,
            source_extra=note,
        )
    print(
        f"wrote synthetic trace '{trace.name}' to {trace.path}: {len(trace.layers)} layer(s), "
        f"{trace.tokens} tokens, seed {args.seed}, {args.dtype}"
    )
    return EXIT_OK

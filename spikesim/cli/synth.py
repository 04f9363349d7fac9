"""``spikesim synth``: write a synthetic trace with LLM-like statistics."""

from __future__ import annotations

import argparse

from spikesim.cli.common import EXIT_OK, add_dtype_argument, add_method_arguments, stored_methods

NAME = "synth"
HELP = "write a synthetic trace with LLM-like statistics"
DESCRIPTION = (
    "Write a synthetic trace (manifest.json + one .safetensors per linear layer) with "
    "LLM-like activation statistics: either the linear layers of a named model shape or "
    "one GEMM."
)

SHAPE_CHOICES = ("llama2-7b", "smollm2-135m")


def add_arguments(p: argparse.ArgumentParser) -> None:
    what = p.add_mutually_exclusive_group(required=True)
    what.add_argument("--shape", choices=SHAPE_CHOICES, help="named model shape")
    what.add_argument("--gemm", metavar="M,K,N", help="one GEMM: M tokens, K inputs, N outputs")
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
            gemm=parse_gemm(args.gemm) if args.gemm is not None else None,
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

"""``spikesim extract``: record a causal LM's linear layers into a trace (needs torch)."""

from __future__ import annotations

import argparse

from spikesim.cli.common import (
    EXIT_OK,
    add_dtype_argument,
    add_method_arguments,
    add_text_arguments,
    command_line,
    patterns,
    show_progress,
    stored_methods,
)

NAME = "extract"
HELP = "record a Hugging Face causal LM's linear layers into a trace (needs torch)"
DESCRIPTION = (
    "Run a causal LM (a local directory, the known name smollm2-135m, or a hub id) on "
    "calibration text and write a trace: for every selected linear layer its input "
    "activations x [tokens, K] and weights w [N, K] (GPT-2 Conv1D weights transposed). "
    "lm_head is excluded unless --layers names it. Needs the [extract] extra (torch, "
    "transformers); smollm2-135m also needs [real-model] (gguf, accelerate) and is "
    "fetched once into $SPIKESIM_CACHE (default ~/.cache/spikesim). With HF_HUB_OFFLINE "
    "set, hub ids are looked up in the local cache only."
)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", required=True, metavar="PATH_OR_ID", help="model directory or id")
    p.add_argument("--out", required=True, metavar="DIR", help="trace directory to write")
    add_text_arguments(p, "UTF-8 calibration text (default: the built-in sample)", 256, "traced")
    p.add_argument(
        "--layers",
        default=None,
        metavar="PATTERNS",
        help="comma-separated globs of layers to record, e.g. 'layers.0.*,layers.15.mlp.*' "
        "(default: every linear but lm_head)",
    )
    p.add_argument(
        "--exclude", default=None, metavar="PATTERNS", help="comma-separated globs to skip"
    )
    add_dtype_argument(p)
    p.add_argument("--quiet", action="store_true", help="no progress bars on stderr")
    add_method_arguments(p)


def run(args: argparse.Namespace) -> int:
    from spikesim.trace.extract import extract_model_trace

    extra, note = stored_methods(args)
    trace = extract_model_trace(
        args.model,
        args.out,
        text=args.text,
        tokens=args.tokens,
        layers=patterns(args.layers, "--layers"),
        exclude=patterns(args.exclude, "--exclude"),
        batch=args.batch,
        seq_len=args.seq_len,
        dtype=args.dtype,
        command=command_line(args),
        progress=show_progress(args.quiet),
        extra=extra,
        source_extra=note,
    )
    size = sum(layer.size_bytes for layer in trace.layers)
    print(
        f"wrote trace '{trace.name}' to {trace.path}: {len(trace.layers)} layer(s), "
        f"{trace.tokens} tokens of {trace.source['text']['source']}, from {args.model} "
        f"({args.dtype}, {size / 1e6:.1f} MB)"
    )
    return EXIT_OK

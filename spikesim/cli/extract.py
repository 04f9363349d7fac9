"""``spikesim extract``: record a causal LM's linear layers into a trace (needs torch)."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

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

if TYPE_CHECKING:
    from spikesim.trace import Trace
    from spikesim.trace.recorded import RecordedParts

NAME = "extract"
HELP = "record a Hugging Face causal LM's linear layers into a trace (needs torch)"
DESCRIPTION = (
    "Run a causal LM (a local directory, the known name smollm2-135m, or a hub id) on "
    "calibration text and write a trace: for every selected linear layer its input "
    "activations x [tokens, K] and weights w [N, K] (GPT-2 Conv1D weights transposed). "
    "lm_head is excluded unless --layers names it. Needs the [extract] extra (torch, "
    "transformers); smollm2-135m also needs [real-model] (gguf, accelerate) and is "
    "fetched once into $SPIKESIM_CACHE (default ~/.cache/spikesim). With HF_HUB_OFFLINE "
    "set, hub ids are looked up in the local cache only. --attention also records the q, k "
    "(after RoPE) and v of every head of each decoder block with a recorded linear "
    "(LLaMA-style attention); --decode-steps N then generates N tokens greedily with the KV "
    "cache and records each step's linear inputs (and, with --attention, the new token's "
    "q, k, v): the trace's workload gains those blocks' attention matmuls and N decode steps."
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
    p.add_argument(
        "--attention",
        action="store_true",
        help="also record the attention operands (q, k after RoPE, v; every head) of each "
        "decoder block with a recorded linear",
    )
    p.add_argument(
        "--decode-steps",
        type=int,
        default=None,
        metavar="N",
        help="after the prompt, generate N tokens greedily (KV cache) and record each step's "
        "linear inputs (the prompt must be one pass: --tokens a multiple of --seq-len, at "
        "most --seq-len x --batch)",
    )
    p.add_argument("--quiet", action="store_true", help="no progress bars on stderr")
    add_method_arguments(p)


def run(args: argparse.Namespace) -> int:

    extra, note = stored_methods(args)
    trace = _extract(args, extra, note)
    size = sum(layer.size_bytes for layer in trace.manifest_layers)
    size += sum(f.size_bytes for f in _recorded(trace).files) if trace.recorded else 0
    print(
        f"wrote trace '{trace.name}' to {trace.path}: {len(trace.manifest_layers)} layer(s), "
        f"{trace.tokens} tokens of {trace.source['text']['source']}, from {args.model} "
        f"({args.dtype}, {size / 1e6:.1f} MB){_recorded_note(trace)}"
    )
    return EXIT_OK


def _recorded_note(trace: Trace) -> str:
    """``; attention of blocks …, N decode steps (…)`` for a trace with recorded parts."""
    if trace.recorded is None:
        return ""
    parts = _recorded(trace)
    notes = []
    if parts.attention is not None:
        blocks = ", ".join(str(b.block) for b in parts.attention.blocks)
        notes.append(f"attention of block(s) {blocks}")
    if parts.decode is not None:
        notes.append(f"{parts.decode.steps} decode step(s)")
    from spikesim.trace import load_trace

    every = load_trace(trace.path, phase="both")
    return (f"; {' and '.join(notes)}: {len(every.layers)} workload layers with --phase both "
            f"(the linear layers alone without --phase)")


def _recorded(trace: Trace) -> RecordedParts:
    from spikesim.trace.recorded import RecordedParts

    assert isinstance(trace.recorded, RecordedParts)
    return trace.recorded


def _extract(args: argparse.Namespace, extra: Any, note: dict[str, Any]) -> Trace:
    from spikesim.trace.extract import extract_model_trace

    return extract_model_trace(
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
        attention=args.attention,
        decode_steps=args.decode_steps,
    )

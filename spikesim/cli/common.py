"""What several subcommands share: the parser, exit codes, argument groups, progress, totals.

Nothing here does a subcommand's work; the subcommand modules call :mod:`spikesim.api` (and the
library modules under it) and use these helpers to read flags and print results.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

from spikesim.errors import InputError, shorten

if TYPE_CHECKING:
    from spikesim.config.hardware import HardwareConfig
    from spikesim.config.quant import QuantConfig
    from spikesim.sim.result import SimResult

EXIT_OK = 0
EXIT_INTERNAL = 1
"""An unexpected exception: a bug in spikesim, not the user's input (one ``error:`` line)."""
EXIT_INPUT = 2
EXIT_INTERRUPTED = 130

DEBUG_ENV = "SPIKESIM_DEBUG"
"""Environment variable: ``1`` (or ``true``, ``yes``) lets an unexpected exception end the
command with its full Python traceback instead of the one-line internal error."""

INTERNAL_MESSAGE_LIMIT = 300
"""Characters of an unexpected exception's message echoed in the internal-error line."""

DTYPE_CHOICES = ("float16", "float32")
"""``--dtype`` of synth and extract: the dtype of x and w on disk."""


def debug_enabled() -> bool:
    """True when :data:`DEBUG_ENV` asks for tracebacks of unexpected exceptions."""
    return os.environ.get(DEBUG_ENV, "").strip().lower() in ("1", "true", "yes")


def internal_error(exc: BaseException) -> str:
    """The one line (after ``error: ``) reporting the unexpected exception ``exc``: its type and
    its message, bounded, and how to see the traceback."""
    detail = type(exc).__name__
    message = shorten(" ".join(str(exc).split()), INTERNAL_MESSAGE_LIMIT)
    if message:
        detail = f"{detail}: {message}"
    return (
        f"internal error (a bug in spikesim, please report it): {detail}; "
        f"set {DEBUG_ENV}=1 to see the traceback"
    )


class UsageError(Exception):
    """A command-line usage error (argparse's), reported as one ``error:`` line."""


class Parser(argparse.ArgumentParser):
    """argparse that raises :class:`UsageError` instead of printing usage and exiting."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{self.prog}: {message}")


def command_line(args: argparse.Namespace) -> list[str]:
    """The command line that is running (recorded in manifests and ``summary.json``)."""
    return ["spikesim", *args.argv]


# --------------------------------------------------------------------------------------------
# Argument groups
# --------------------------------------------------------------------------------------------


def add_text_arguments(
    p: argparse.ArgumentParser, text_help: str, tokens_default: int, tokens_verb: str
) -> None:
    """--text, --tokens, --seq-len and --batch: the text a model is run on (extract, eval)."""
    p.add_argument("--text", default=None, metavar="FILE", help=text_help)
    p.add_argument(
        "--tokens",
        type=int,
        default=tokens_default,
        metavar="N",
        help=f"tokens {tokens_verb} (default {tokens_default})",
    )
    p.add_argument(
        "--seq-len",
        type=int,
        default=None,
        metavar="L",
        help="tokens per sequence (default min(tokens, 256, context length))",
    )
    p.add_argument(
        "--batch", type=int, default=1, metavar="B", help="sequences per forward pass (default 1)"
    )


def add_method_arguments(p: argparse.ArgumentParser) -> None:
    """--method and --set of synth and extract: store a method's integers in the trace."""
    p.add_argument(
        "--method",
        default=None,
        metavar="NAME,...",
        help="also store these methods' quantized tensors beside x and w (spikequant, rtn): "
        "<method>.x_q, .x_scale, .salient, .w_q, .w_scale, .output_scale",
    )
    p.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="quant.FIELD=VALUE",
        help="quantization knob for --method, e.g. quant.mad_k=6 (repeatable)",
    )


def add_dtype_argument(p: argparse.ArgumentParser) -> None:
    """--dtype of synth and extract."""
    p.add_argument(
        "--dtype",
        choices=DTYPE_CHOICES,
        default="float16",
        help="dtype of x and w on disk (default float16)",
    )


# --------------------------------------------------------------------------------------------
# Reading flag values
# --------------------------------------------------------------------------------------------


WORKLOAD_FLAGS = ("tokens", "seed", "phase", "batch", "context", "decode_steps", "stats")
"""The parameters of :func:`spikesim.api.load_workload` beside the workload itself (flags
``--tokens`` … ``--decode-steps``, ``--stats``)."""


def add_workload_arguments(p: argparse.ArgumentParser, workload_help: str) -> None:
    """``--trace DIR`` or ``--workload W`` (one required), and the parameters of a shape-only or
    model workload: ``--tokens``, ``--seed``, ``--phase``, ``--batch``, ``--context``,
    ``--decode-steps`` (simulate and sweep)."""
    what = p.add_mutually_exclusive_group(required=True)
    what.add_argument(
        "--trace", metavar="DIR",
        help="trace directory, or the name of a shipped trace (smollm2-135m)",
    )
    what.add_argument("--workload", metavar="W", help=workload_help)
    p.add_argument(
        "--tokens", type=int, default=None, metavar="N",
        help="prefill length M of a shape-only workload (per sequence): required for a "
        "config.json or a named shape in phase prefill or both; replaces M of every row of a "
        "topology CSV",
    )
    p.add_argument(
        "--phase", default=None, metavar="PHASE",
        help="what a model workload (config.json or named shape) runs: prefill (default; "
        "--tokens tokens per sequence), decode (--decode-steps generated tokens per sequence "
        "from a KV cache of --context tokens; layers decode.S.*), or both (the prefill, then "
        "the decode steps continuing it). With --trace: which recorded layers (default its "
        "linear layers; prefill adds the attention it recorded with extract --attention and "
        "those blocks' FP vector operators, decode its recorded decode steps, both all of "
        "them)",
    )
    p.add_argument(
        "--batch", type=int, default=None, metavar="B",
        help="sequences processed together (default 1): linears run B rows per decode step "
        "(B x tokens in the prefill), each sequence's attention reads its own KV cache",
    )
    p.add_argument(
        "--context", type=int, default=None, metavar="L",
        help="phase decode: tokens already in each sequence's KV cache at the first step "
        "(phase both: the prefill's --tokens)",
    )
    p.add_argument(
        "--decode-steps", type=int, default=None, metavar="N",
        help="phase decode or both: tokens generated per sequence (default 1); step s attends "
        "context + s + 1 keys",
    )
    p.add_argument(
        "--seed", type=int, default=None, metavar="S",
        help="seed of a shape-only workload's generated values (default 0)",
    )
    p.add_argument(
        "--stats", default=None, metavar="FILE",
        help="activation statistics fitted to a real trace (spikesim fit-stats) for the "
        "generated linear inputs of a shape-only workload (default: the built-in LLM-like "
        "statistics)",
    )


def workload_parameters(args: argparse.Namespace) -> dict[str, Any]:
    """The workload parameters given (:data:`WORKLOAD_FLAGS`; ``None``: not given). With
    ``--trace`` only ``--phase`` may be given (which of the trace's recorded layers; its tokens
    and values are on disk): any other is an :class:`InputError` naming the first flag."""
    params = {name: getattr(args, name) for name in WORKLOAD_FLAGS}
    if args.trace is not None:
        for name, value in params.items():
            if value is not None and name != "phase":
                flag = "--" + name.replace("_", "-")
                raise InputError(
                    f"{flag} applies to --workload (a trace's tokens and values are on disk)",
                    field=flag,
                )
    return params


def split_list(text: str, flag: str) -> list[str]:
    """A comma-separated list (blanks dropped, duplicates removed in order); ``flag`` names it."""
    items = [part.strip() for part in text.split(",")]
    items = [part for part in items if part]
    if not items:
        raise InputError("expected a comma-separated list of names", field=flag)
    return list(dict.fromkeys(items))


def patterns(text: str | None, flag: str) -> list[str] | None:
    """Optional comma-separated glob patterns (``--layers``, ``--exclude``)."""
    return split_list(text, flag) if text is not None else None


def parse_sets(texts: Sequence[str] | None) -> dict[str, Any]:
    """The ``--set PATH=VALUE`` flags as ``{dotted.path: value}`` (later ones win)."""
    from spikesim.config.loader import parse_override

    overrides: dict[str, Any] = {}
    for text in texts or ():
        key, value = parse_override(text)
        overrides[key] = value
    return overrides


def from_overrides(exc: InputError, overrides: Mapping[str, Any], hw: str) -> InputError:
    """``exc`` saying ``(value given by --set)`` when it is about a field of the hardware
    config ``hw`` (the ``--hw`` value) that an override set (or a part of one)."""
    field = exc.field
    if not field or not any(
        field == key or field.startswith(f"{key}.") or key.startswith(f"{field}.")
        for key in overrides
    ):
        return exc
    if exc.file is not None and exc.file != str(hardware_file(hw)):
        return exc  # a field of another file (the trace's, an energy table's)
    return InputError(f"{exc.message} (value given by --set)", file=exc.file, field=field)


def hardware_file(text: str) -> Path:
    """A ``--hw`` value as a path: a file, or the file of the preset so named."""
    from spikesim.config.presets import resolve_hardware

    return resolve_hardware(text)


def load_hardware_file(text: str) -> HardwareConfig:
    """The hardware config of a ``--hw`` value (an error without a field names ``--hw``)."""
    from spikesim.api import load_hardware

    try:
        return load_hardware(hardware_file(text))
    except InputError as exc:
        if exc.field:
            raise
        raise InputError(exc.message, file=exc.file, field="hardware") from None


def quant_config(hw_file: str | None, overrides: Mapping[str, Any]) -> QuantConfig:
    """QuantConfig: defaults (or the ``quant:`` section of ``--hw``) with ``--set quant.X=V``."""
    from spikesim.config.loader import apply_overrides, validate_mapping
    from spikesim.config.quant import QuantConfig

    base: dict[str, Any] = {}
    if hw_file is not None:
        base = load_hardware_file(hw_file).quant.model_dump(mode="json")
    local: dict[str, Any] = {}
    for key, value in overrides.items():
        if not key.startswith("quant.") or key == "quant.":
            raise InputError(f"eval takes only quant.* overrides, got '{key}'", field="--set")
        local[key.removeprefix("quant.")] = value
    data = apply_overrides(base, local)
    try:
        return validate_mapping(QuantConfig, data, file=None)
    except InputError as exc:
        raise InputError(
            f"{exc.message} (value given by --set)", field=f"quant.{exc.field}"
        ) from None


def stored_methods(args: argparse.Namespace) -> tuple[Any, dict[str, Any]]:
    """``--method``/``--set`` of synth and extract: the extra-tensor function and its note."""
    if not args.method:
        if args.set:
            raise InputError("--set only applies with --method", field="--set")
        return None, {}
    from spikesim.quant.layer import Method
    from spikesim.quant.stored import stored_tensors_fn

    names = split_list(args.method, "--method")
    known = [m.value for m in Method]
    for name in names:
        if name not in known:
            raise InputError(
                f"unknown method '{name}' (known: {', '.join(known)})", field="--method"
            )
    cfg = quant_config(None, parse_sets(args.set))
    methods = [Method(n) for n in dict.fromkeys(names)]
    note = {
        "quantized": {
            "methods": [m.value for m in methods],
            "quant": cfg.model_dump(mode="json"),
        }
    }
    return stored_tensors_fn(methods, cfg), note


# --------------------------------------------------------------------------------------------
# Output
# --------------------------------------------------------------------------------------------


def show_progress(quiet: bool) -> bool:
    """Progress goes to stderr only on a terminal and without ``--quiet``."""
    return not quiet and sys.stderr.isatty()


class Progress:
    """Per-(layer, design) progress on stderr: a tqdm bar on a terminal, nothing otherwise.

    Without tqdm installed it falls back to one ``[i/n] layer (design)`` line per step. Use as
    a context manager; :attr:`callback` is the ``on_layer`` argument of ``simulate`` and ``run``
    (None when disabled, so logs and CI stay quiet). ``total`` may be None when unknown.
    """

    def __init__(self, enabled: bool, total: int | None) -> None:
        self._bar: Any = None
        self._done = 0
        self._total = total
        self.callback: Callable[[str, str], None] | None = None
        if not enabled:
            return
        try:
            from tqdm import tqdm
        except ImportError:
            self.callback = self._line
            return
        self._bar = tqdm(
            total=total, unit="layer", file=sys.stderr, leave=False, dynamic_ncols=True
        )
        self.callback = self._tick

    def _line(self, layer: str, design: str) -> None:
        self._done += 1
        of = "?" if self._total is None else self._total
        print(f"[{self._done}/{of}] {layer} ({design})", file=sys.stderr, flush=True)

    def _tick(self, layer: str, design: str) -> None:
        self._bar.set_postfix_str(f"{layer} ({design})", refresh=False)
        self._bar.update(1)

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.close()


def print_totals(result: SimResult, run_dir: Path) -> None:
    """The per-design totals of a run and where its run directory is, on stdout."""
    from spikesim.dataflows import reference_design
    from spikesim.report.markdown import design_totals, phase_rows, text_table, totals_rows
    from spikesim.report.phases import phase_tokens, phase_totals
    from spikesim.schema import Phase

    totals = design_totals(result.layers, result.hardware.clock_hz, result.trace.tokens)
    headers, rows, align = totals_rows(totals)
    n_layers = len(dict.fromkeys(result.layers["layer"]))
    print(
        f"trace '{result.trace.name}' ({n_layers} layer(s), {result.trace.tokens} tokens) on "
        f"'{result.hardware.name}'"
    )
    print(text_table(headers, rows, align), end="")
    phases = phase_tokens(result.trace.source, result.trace.tokens)
    if Phase.DECODE.value in phases or len(phases) > 1:
        table = phase_totals(result.layers, result.hardware.clock_hz, phases)
        headers, rows, align = phase_rows(table, reference_design())
        print("per token, by phase:")
        print(text_table(headers, rows, align), end="")
    print(f"run directory: {run_dir} (report: {run_dir / 'report.md'})")


def check_out(out: Path, *, force: bool, inputs: list[Path]) -> None:
    """``out`` (the file a command writes, flag ``--out``) may be written: not a directory,
    under a directory, not one of ``inputs``, and new (or ``force``)."""
    if out.is_dir():
        raise InputError(
            "is a directory; --out names the file to write", file=out, field="--out"
        )
    for parent in out.parents:
        if os.path.lexists(parent):
            if not parent.is_dir():
                raise InputError(
                    f"cannot be created: '{parent}' is not a directory", file=out, field="--out"
                )
            break
    target = out.resolve()
    for path in inputs:
        if path.resolve() == target:
            raise InputError(
                "is one of the input files; refusing to write over it", file=out, field="--out"
            )
    if os.path.lexists(out) and not force:
        raise InputError(
            "exists; refusing to overwrite it (pass --force to replace it)",
            file=out,
            field="--out",
        )

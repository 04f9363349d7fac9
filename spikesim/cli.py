"""The ``spikesim`` command line: a thin layer over the Python API.

Subcommands: ``validate``, ``synth``, ``simulate``, ``demo``, ``report``. Exit codes: 0 on
success, 2 on bad input (one line ``error: ...`` on stderr naming the file and the field, never a
traceback), 130 when interrupted.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

from spikesim.errors import InputError

if TYPE_CHECKING:
    from spikesim.api import SimResult
    from spikesim.config.hardware import HardwareConfig
    from spikesim.trace import Trace

EXIT_OK = 0
EXIT_INPUT = 2
EXIT_INTERRUPTED = 130

DEMO_OUT = "runs/demo"
DEMO_PRESET = "spikequant-45nm"
DEMO_SHAPE = "smollm2-135m"
DEMO_BLOCKS = 1
DEMO_TOKENS = 256
DEMO_SEED = 0
DEMO_DESIGNS = ("spikequant",)

_SHAPE_CHOICES = ("llama2-7b", "smollm2-135m")
_DTYPE_CHOICES = ("float16", "float32")
_SYNTH_FIELDS = {"shape", "gemm", "layers", "tokens", "seed", "dtype"}


class UsageError(Exception):
    """A command-line usage error (argparse's), reported as one ``error:`` line."""


class _Parser(argparse.ArgumentParser):
    """argparse that raises :class:`UsageError` instead of printing usage and exiting."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{self.prog}: {message}")


# --------------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------------


def _with_field(exc: InputError, field: str) -> InputError:
    """``exc`` with ``field`` filled in if it names none (e.g. the flag the file came from)."""
    if exc.field:
        return exc
    return InputError(exc.message, file=exc.file, field=field)


def _split_list(text: str, flag: str) -> list[str]:
    items = [part.strip() for part in text.split(",")]
    items = [part for part in items if part]
    if not items:
        raise InputError("expected a comma-separated list of names", field=flag)
    return list(dict.fromkeys(items))


def _parse_sets(texts: Sequence[str] | None) -> dict[str, Any]:
    from spikesim.config.loader import parse_override

    overrides: dict[str, Any] = {}
    for text in texts or ():
        key, value = parse_override(text)
        overrides[key] = value
    return overrides


def _hardware_path(text: str, flag: str) -> Path:
    from spikesim.config.presets import resolve_hardware

    try:
        return resolve_hardware(text)
    except InputError as exc:
        raise InputError(exc.message, file=exc.file, field=flag) from None


def _load_hardware(path: Path, overrides: dict[str, Any]) -> HardwareConfig:
    from spikesim.api import load_hardware

    try:
        return load_hardware(path, overrides or None)
    except InputError as exc:
        if exc.field and any(
            exc.field == key or exc.field.startswith(f"{key}.") or key.startswith(f"{exc.field}.")
            for key in overrides
        ):
            raise InputError(
                f"{exc.message} (value given by --set)", file=exc.file, field=exc.field
            ) from None
        raise _with_field(exc, "--hw") from None


def _load_trace(path: str) -> Trace:
    from spikesim.api import load_trace

    try:
        return load_trace(path)
    except InputError as exc:
        raise _with_field(exc, "--trace") from None


def _progress(enabled: bool, total: int) -> Callable[[str, str], None] | None:
    """A per-layer progress callback printing to stderr, or None when disabled."""
    if not enabled:
        return None
    done = [0]

    def report(layer: str, design: str) -> None:
        done[0] += 1
        print(f"[{done[0]}/{total}] {layer} ({design})", file=sys.stderr, flush=True)

    return report


def _show_progress(quiet: bool) -> bool:
    return not quiet and sys.stderr.isatty()


def _print_totals(result: SimResult, run_dir: Path) -> None:
    from spikesim.report.markdown import design_totals, text_table, totals_rows

    totals = design_totals(result.layers, result.hardware.clock_hz, result.trace.tokens)
    headers, rows, align = totals_rows(totals)
    n_layers = len(dict.fromkeys(result.layers["layer"]))
    print(
        f"trace '{result.trace.name}' ({n_layers} layer(s), {result.trace.tokens} tokens) on "
        f"'{result.hardware.name}'"
    )
    print(text_table(headers, rows, align), end="")
    print(f"run directory: {run_dir} (report: {run_dir / 'report.md'})")


def _trace_inside(trace_dir: Path, run_dir: Path) -> tuple[str, ...]:
    """The trace's path relative to ``run_dir`` if it lives inside it (to carry it over)."""
    try:
        rel = trace_dir.resolve().relative_to(run_dir.resolve())
    except ValueError:
        return ()
    if rel == Path("."):
        return ()
    return (rel.as_posix(),)


# --------------------------------------------------------------------------------------------
# Subcommands
# --------------------------------------------------------------------------------------------


def _cmd_validate(args: argparse.Namespace) -> int:
    from spikesim.api import load_hardware
    from spikesim.config.loader import read_yaml_mapping
    from spikesim.energy import load_energy_table

    path = _hardware_path(args.file, "FILE")
    data = read_yaml_mapping(path)
    if "operations" in data:
        table = load_energy_table(path)
        print(f"ok: {args.file}: valid energy table '{table.name}'")
        return EXIT_OK
    hw = load_hardware(path)
    try:
        load_energy_table(hw.energy.table)
    except InputError as exc:
        if exc.file is not None:
            raise
        raise InputError(exc.message, file=path, field=exc.field or "energy.table") from None
    print(f"ok: {args.file}: valid hardware config '{hw.name}'")
    return EXIT_OK


def _cmd_synth(args: argparse.Namespace) -> int:
    from spikesim.trace import parse_gemm, synth_trace

    try:
        gemm = parse_gemm(args.gemm) if args.gemm is not None else None
        trace = synth_trace(
            args.out,
            shape=args.shape,
            gemm=gemm,
            layers=args.layers,
            tokens=args.tokens,
            seed=args.seed,
            dtype=args.dtype,
        )
    except InputError as exc:
        if exc.file is None and exc.field in _SYNTH_FIELDS:
            raise InputError(exc.message, field=f"--{exc.field}") from None
        raise
    print(
        f"wrote synthetic trace '{trace.name}' to {trace.path}: {len(trace.layers)} layer(s), "
        f"{trace.tokens} tokens, seed {args.seed}, {args.dtype}"
    )
    return EXIT_OK


def _cmd_simulate(args: argparse.Namespace) -> int:
    from spikesim.api import parse_designs, simulate
    from spikesim.report.rundir import check_run_dir_target, write_run_dir

    overrides = _parse_sets(args.set)
    designs = parse_designs(args.designs)
    layers = _split_list(args.layers, "--layers") if args.layers is not None else None
    out = check_run_dir_target(args.out)
    hw_path = _hardware_path(args.hw, "--hw")
    hw = _load_hardware(hw_path, overrides)
    trace = _load_trace(args.trace)
    n_layers = len(layers) if layers is not None else len(trace.layers)
    result = simulate(
        hw,
        trace,
        designs,
        layers=layers,
        on_layer=_progress(_show_progress(args.quiet), n_layers * len(designs)),
    )
    write_run_dir(
        out,
        result,
        hardware_file=hw_path,
        overrides=overrides,
        keep=_trace_inside(Path(trace.path), out),
        command=["spikesim", *args.argv],
    )
    _print_totals(result, out)
    return EXIT_OK


def _cmd_demo(args: argparse.Namespace) -> int:
    from spikesim.api import simulate
    from spikesim.config.presets import preset_path
    from spikesim.report.rundir import staged_run_dir, write_run_files
    from spikesim.trace import synth_trace

    out = Path(args.out)
    hw_path = preset_path(DEMO_PRESET)
    hw = _load_hardware(hw_path, {})
    with staged_run_dir(out) as stage:
        trace = synth_trace(
            stage / "trace",
            name=f"{DEMO_SHAPE}-synthetic",
            shape=DEMO_SHAPE,
            layers=DEMO_BLOCKS,
            tokens=DEMO_TOKENS,
            seed=DEMO_SEED,
        )
        total = len(trace.layers) * len(DEMO_DESIGNS)
        result = simulate(
            hw, trace, DEMO_DESIGNS, on_layer=_progress(_show_progress(args.quiet), total)
        )
        write_run_files(
            stage,
            result,
            hardware_file=hw_path,
            overrides={},
            trace_path=out / "trace",
            command=["spikesim", *args.argv],
        )
    _print_totals(result, out)
    return EXIT_OK


def _cmd_report(args: argparse.Namespace) -> int:
    from spikesim.report.rundir import write_report

    path = write_report(args.run_dir)
    print(f"wrote {path}")
    return EXIT_OK


# --------------------------------------------------------------------------------------------
# Parser
# --------------------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``spikesim`` (its errors raise :class:`UsageError`)."""
    from spikesim import __version__

    parser = _Parser(
        prog="spikesim",
        description=(
            "Cycle-level simulator of spiking (integrate-and-fire) accelerators for quantized "
            "LLMs. Exit codes: 0 ok, 2 bad input (one 'error:' line), 130 interrupted."
        ),
    )
    parser.add_argument("--version", action="version", version=f"spikesim {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser(
        "validate",
        help="check a hardware YAML (or an energy-table YAML) and print one line",
        description=(
            "Validate a hardware configuration YAML, or an energy-table YAML (recognised by its "
            "top-level 'operations' key). A bare name refers to a shipped preset in hw_configs/."
        ),
    )
    p.add_argument("file", metavar="FILE", help="hardware or energy-table YAML (or preset name)")
    p.set_defaults(handler=_cmd_validate)

    p = sub.add_parser(
        "synth",
        help="write a synthetic trace with LLM-like statistics",
        description=(
            "Write a synthetic trace (manifest.json + one .safetensors per linear layer) with "
            "LLM-like activation statistics: either the linear layers of a named model shape or "
            "one GEMM."
        ),
    )
    what = p.add_mutually_exclusive_group(required=True)
    what.add_argument("--shape", choices=_SHAPE_CHOICES, help="named model shape")
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
    p.add_argument(
        "--dtype",
        choices=_DTYPE_CHOICES,
        default="float16",
        help="dtype of x and w on disk (default float16)",
    )
    p.add_argument("--out", required=True, metavar="DIR", help="trace directory to write")
    p.set_defaults(handler=_cmd_synth)

    p = sub.add_parser(
        "simulate",
        help="simulate a trace on a hardware config and write a run directory",
        description=(
            "Simulate every layer of a trace under each design, price the action counts, and "
            "write the run directory (config.yaml, layers.csv, actions.csv, transactions.csv, "
            "summary.json, report.md). Prints the per-design totals."
        ),
    )
    p.add_argument(
        "--hw",
        required=True,
        metavar="FILE",
        help="hardware YAML, or the name of a preset in hw_configs/",
    )
    p.add_argument("--trace", required=True, metavar="DIR", help="trace directory")
    p.add_argument(
        "--out",
        required=True,
        metavar="RUN_DIR",
        help="run directory to write (replaced atomically if it is one already)",
    )
    p.add_argument(
        "--designs",
        default="spikequant",
        metavar="NAME,...",
        help="comma-separated designs to simulate (default spikequant)",
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
    p.add_argument("--quiet", action="store_true", help="no per-layer progress on stderr")
    p.set_defaults(handler=_cmd_simulate)

    p = sub.add_parser(
        "demo",
        help="the whole job with no arguments: synthesize, simulate, report",
        description=(
            f"Synthesize a {DEMO_SHAPE} trace ({DEMO_BLOCKS} decoder block, {DEMO_TOKENS} "
            f"tokens, seed {DEMO_SEED}) into DIR/trace, simulate it on the '{DEMO_PRESET}' "
            f"preset with design(s) {', '.join(DEMO_DESIGNS)}, and write the run directory and "
            "report.md into DIR. The trace is synthetic (LLM-like statistics); traces extracted "
            "from the real model come in a later release."
        ),
    )
    p.add_argument(
        "--out",
        default=DEMO_OUT,
        metavar="DIR",
        help=f"run directory to write (default {DEMO_OUT})",
    )
    p.add_argument("--quiet", action="store_true", help="no per-layer progress on stderr")
    p.set_defaults(handler=_cmd_demo)

    p = sub.add_parser(
        "report",
        help="regenerate report.md of a run directory from its tables",
        description=(
            "Regenerate RUN_DIR/report.md from RUN_DIR's layers.csv, actions.csv and summary.json "
            "only."
        ),
    )
    p.add_argument("run_dir", metavar="RUN_DIR", help="a run directory written by simulate/demo")
    p.set_defaults(handler=_cmd_report)
    return parser


# --------------------------------------------------------------------------------------------
# Entry point
# --------------------------------------------------------------------------------------------


def _error(message: str) -> None:
    print(f"error: {' '.join(message.split())}", file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> int:
    """Run the CLI with ``argv`` (default ``sys.argv[1:]``); return the exit code."""
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        parser = build_parser()
        try:
            args = parser.parse_args(argv)
        except SystemExit as exc:  # --help / --version print and "exit" 0
            return exc.code if isinstance(exc.code, int) else EXIT_OK
        args.argv = argv
        handler: Callable[[argparse.Namespace], int] = args.handler
        return handler(args)
    except UsageError as exc:
        _error(str(exc))
        return EXIT_INPUT
    except InputError as exc:
        _error(exc.one_line())
        return EXIT_INPUT
    except OSError as exc:
        where = exc.filename if exc.filename is not None else "?"
        _error(f"{where}: {exc.strerror or exc}")
        return EXIT_INPUT
    except KeyboardInterrupt:
        _error("interrupted")
        return EXIT_INTERRUPTED

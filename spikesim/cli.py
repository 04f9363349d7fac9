"""The ``spikesim`` command line: a thin layer over the Python API.

Subcommands: ``validate``, ``synth``, ``extract``, ``simulate``, ``demo``, ``report``, ``eval``.
Exit codes: 0 on
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
from spikesim.report.timeline import timeline_file_name

if TYPE_CHECKING:
    from spikesim.api import SimResult
    from spikesim.config.hardware import HardwareConfig
    from spikesim.trace import Trace

EXIT_OK = 0
EXIT_INPUT = 2
EXIT_INTERRUPTED = 130

DEMO_OUT = "runs/demo"
DEMO_PRESET = "spikequant-45nm"
DEMO_TRACE = "smollm2-135m"
DEMO_DESIGNS = ("spikequant", "mac-w4a4", "atom", "spikellm", "fp16")
EVAL_METHODS = "fp32,fp16,rtn,spikequant"

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


class _Progress:
    """Per-(layer, design) progress on stderr: a tqdm bar on a terminal, nothing otherwise.

    Without tqdm installed it falls back to one ``[i/n] layer (design)`` line per step. Use as
    a context manager; :attr:`callback` is the ``on_layer`` argument of ``simulate`` (None when
    disabled, so logs and CI stay quiet).
    """

    def __init__(self, enabled: bool, total: int) -> None:
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
        print(f"[{self._done}/{self._total}] {layer} ({design})", file=sys.stderr, flush=True)

    def _tick(self, layer: str, design: str) -> None:
        self._bar.set_postfix_str(f"{layer} ({design})", refresh=False)
        self._bar.update(1)

    def __enter__(self) -> _Progress:
        return self

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.close()


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
    if "axes" in data:
        from spikesim.dse.spec import load_sweep

        sweep = load_sweep(path)
        spec = sweep.spec
        n = spec.grid_size if spec.samples is None else min(spec.samples, spec.grid_size)
        print(
            f"ok: {args.file}: valid sweep spec ({n} point(s) × {len(spec.designs)} design(s), "
            f"base {sweep.base_path})"
        )
        return EXIT_OK
    hw = load_hardware(path)
    try:
        load_energy_table(hw.energy.table)
    except InputError as exc:
        if exc.file is not None:
            raise
        raise InputError(exc.message, file=path, field=exc.field or "energy.table") from None
    print(f"ok: {args.file}: valid hardware config '{hw.name}'")
    for line in hardware_notes(hw):
        print(f"note: {line}")
    return EXIT_OK


def hardware_notes(hw: HardwareConfig) -> list[str]:
    """Valid but wasteful combinations a user probably did not mean (printed by validate)."""
    from spikesim.config.hardware import BankRole

    notes = []
    name, wbank = hw.sram_for(BankRole.WEIGHTS)
    reads = wbank.banks * wbank.ports
    if hw.if_array.lanes > reads:
        notes.append(
            f"if_array.lanes ({hw.if_array.lanes}) exceeds sram.{name}.banks x ports ({reads}): "
            f"at most {reads} spike events can issue per cycle, the other lanes stay idle"
        )
    return notes


def _cmd_synth(args: argparse.Namespace) -> int:
    from spikesim.trace import parse_gemm, synth_trace

    extra, note = _stored_methods(args)
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
            extra=extra,
            source_extra=note,
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


def _check_timeline(timeline: str | None, names: Sequence[str]) -> tuple[str, ...]:
    """The ``--timeline`` layers (comma-separated), each one of the simulated ``names``."""
    if timeline is None:
        return ()
    wanted = _split_list(timeline, "--timeline")
    unknown = [name for name in wanted if name not in names]
    if unknown:
        raise InputError(
            f"no such simulated layer(s): {', '.join(unknown)} (layers: {', '.join(names)})",
            field="--timeline",
        )
    return tuple(wanted)


def _cmd_simulate(args: argparse.Namespace) -> int:
    from spikesim.api import parse_designs, simulate, spike_stats
    from spikesim.report.rundir import check_run_dir_target, write_run_dir

    overrides = _parse_sets(args.set)
    designs = parse_designs(args.designs)
    layers = _split_list(args.layers, "--layers") if args.layers is not None else None
    out = check_run_dir_target(args.out)
    hw_path = _hardware_path(args.hw, "--hw")
    hw = _load_hardware(hw_path, overrides)
    trace = _load_trace(args.trace)
    names = layers if layers is not None else [layer.name for layer in trace.layers]
    timeline = _check_timeline(args.timeline, names)
    with _Progress(_show_progress(args.quiet), len(names) * len(designs)) as progress:
        result = simulate(hw, trace, designs, layers=layers, on_layer=progress.callback)
    write_run_dir(
        out,
        result,
        hardware_file=hw_path,
        overrides=overrides,
        keep=_trace_inside(Path(trace.path), out),
        command=["spikesim", *args.argv],
        spike_stats=spike_stats(hw, trace, layers=layers),
        timeline_layers=timeline,
        figures=not args.no_figures,
    )
    _print_totals(result, out)
    for name in timeline:
        print(f"timeline of {name}: {out / timeline_file_name(name)} (open in ui.perfetto.dev)")
    return EXIT_OK


def _demo_trace(stage: Path, args: argparse.Namespace) -> Trace:
    """The demo's trace in ``stage/trace``: the shipped one copied, or re-extracted."""
    import shutil

    from spikesim.trace import load_trace
    from spikesim.trace.shipped import SHIPPED_TRACES, shipped_trace_path

    target = stage / "trace"
    if not args.extract:
        shutil.copytree(shipped_trace_path(DEMO_TRACE), target)
        return load_trace(target)
    from spikesim.trace.extract import extract_model_trace
    from spikesim.trace.models import require_torch

    require_torch("--extract")
    recipe = SHIPPED_TRACES[DEMO_TRACE]
    return extract_model_trace(
        recipe.model,
        target,
        tokens=recipe.tokens,
        layers=recipe.layers,
        dtype=recipe.dtype,
        name=DEMO_TRACE,
        command=["spikesim", *args.argv],
        progress=_show_progress(args.quiet),
    )


def _cmd_demo(args: argparse.Namespace) -> int:
    from spikesim.api import simulate, spike_stats
    from spikesim.config.presets import preset_path
    from spikesim.report.rundir import staged_run_dir, write_run_files

    out = Path(args.out)
    hw_path = preset_path(DEMO_PRESET)
    hw = _load_hardware(hw_path, {})
    with staged_run_dir(out) as stage:
        trace = _demo_trace(stage, args)
        total = len(trace.layers) * len(DEMO_DESIGNS)
        with _Progress(_show_progress(args.quiet), total) as progress:
            result = simulate(hw, trace, DEMO_DESIGNS, on_layer=progress.callback)
        write_run_files(
            stage,
            result,
            hardware_file=hw_path,
            overrides={},
            trace_path=out / "trace",
            command=["spikesim", *args.argv],
            spike_stats=spike_stats(hw, trace),
        )
    _print_totals(result, out)
    return EXIT_OK


def _patterns(text: str | None, flag: str) -> list[str] | None:
    return _split_list(text, flag) if text is not None else None


def _cmd_extract(args: argparse.Namespace) -> int:
    from spikesim.trace.extract import extract_model_trace

    extra, note = _stored_methods(args)
    trace = extract_model_trace(
        args.model,
        args.out,
        text=args.text,
        tokens=args.tokens,
        layers=_patterns(args.layers, "--layers"),
        exclude=_patterns(args.exclude, "--exclude"),
        batch=args.batch,
        seq_len=args.seq_len,
        dtype=args.dtype,
        command=["spikesim", *args.argv],
        progress=_show_progress(args.quiet),
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


def _stored_methods(args: argparse.Namespace) -> tuple[Any, dict[str, Any]]:
    """``--method``/``--set`` of synth and extract: the extra-tensor function and its note."""
    if not args.method:
        if args.set:
            raise InputError("--set only applies with --method", field="--set")
        return None, {}
    from spikesim.quant.layer import Method
    from spikesim.quant.stored import stored_tensors_fn

    names = _split_list(args.method, "--method")
    known = [m.value for m in Method]
    for name in names:
        if name not in known:
            raise InputError(f"unknown method '{name}' (known: {', '.join(known)})",
                             field="--method")
    cfg = _quant_config(None, _parse_sets(args.set))
    methods = [Method(n) for n in dict.fromkeys(names)]
    note = {
        "quantized": {
            "methods": [m.value for m in methods],
            "quant": cfg.model_dump(mode="json"),
        }
    }
    return stored_tensors_fn(methods, cfg), note


def _quant_config(hw_file: str | None, overrides: dict[str, Any]) -> Any:
    """QuantConfig: defaults (or the ``quant:`` section of ``--hw``) with ``--set quant.X=V``."""
    from spikesim.config.loader import apply_overrides, validate_mapping
    from spikesim.config.quant import QuantConfig

    base: dict[str, Any] = {}
    if hw_file is not None:
        hw = _load_hardware(_hardware_path(hw_file, "--hw"), {})
        base = hw.quant.model_dump(mode="json")
    local: dict[str, Any] = {}
    for key, value in overrides.items():
        if not key.startswith("quant.") or key == "quant.":
            raise InputError(
                f"eval takes only quant.* overrides, got '{key}'", field="--set"
            )
        local[key.removeprefix("quant.")] = value
    data = apply_overrides(base, local)
    try:
        return validate_mapping(QuantConfig, data, file=None)
    except InputError as exc:
        raise InputError(
            f"{exc.message} (value given by --set)", field=f"quant.{exc.field}"
        ) from None


def _cmd_eval(args: argparse.Namespace) -> int:
    import csv
    import math

    from spikesim.eval import evaluate, parse_methods
    from spikesim.report.markdown import text_table

    methods = parse_methods(args.methods)
    cfg = _quant_config(args.hw, _parse_sets(args.set))
    out = Path(args.out) if args.out is not None else None
    if out is not None and out.is_dir():
        raise InputError("is a directory; --out takes a CSV file name", file=out, field="--out")
    show = _show_progress(args.quiet)

    def step(score: Any) -> None:
        if show:
            print(f"{score.method}: perplexity {score.perplexity:.3f}", file=sys.stderr, flush=True)

    result = evaluate(
        args.model,
        methods,
        cfg=cfg,
        text=args.text,
        tokens=args.tokens,
        seq_len=args.seq_len,
        batch=args.batch,
        layers=_patterns(args.layers, "--layers"),
        exclude=_patterns(args.exclude, "--exclude"),
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
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = out.with_name(f".{out.name}.tmp")
        with open(tmp, "w", newline="", encoding="utf-8") as fh:
            writer = csv.DictWriter(fh, fieldnames=["method", "perplexity", "salient_ratio"])
            writer.writeheader()
            for row in result.rows():
                writer.writerow(
                    {**row, "salient_ratio": "" if math.isnan(row["salient_ratio"])
                     else row["salient_ratio"]}
                )
        tmp.replace(out)
        print(f"wrote {out}")
    return EXIT_OK


def _cmd_sweep(args: argparse.Namespace) -> int:
    from spikesim.dse.commands import sweep_main

    return sweep_main(args)


def _cmd_pareto(args: argparse.Namespace) -> int:
    from spikesim.dse.commands import pareto_main

    return pareto_main(args)


def _cmd_report(args: argparse.Namespace) -> int:
    from spikesim.report.rundir import check_compare_target, write_comparison, write_report

    run_dirs = [Path(d) for d in dict.fromkeys(args.run_dir)]
    if args.out is not None and len(run_dirs) < 2:
        raise InputError("--out is for comparing several run directories", field="--out")
    out = None
    if len(run_dirs) > 1:
        out = check_compare_target(args.out if args.out is not None else run_dirs[0] / "compare")
    for run_dir in run_dirs:
        path = write_report(run_dir)
        print(f"wrote {path} and {run_dir / 'figures'}/")
    if out is not None:
        print(f"wrote {write_comparison(run_dirs, out)} and {out / 'figures'}/")
    return EXIT_OK


# --------------------------------------------------------------------------------------------
# Parser
# --------------------------------------------------------------------------------------------


def _add_text_arguments(
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


def _add_method_arguments(p: argparse.ArgumentParser) -> None:
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
            "Validate a hardware configuration YAML, an energy-table YAML (recognised by its "
            "top-level 'operations' key) or a sweep spec (top-level 'axes' key). A bare name "
            "refers to a shipped preset in hw_configs/."
        ),
    )
    p.add_argument(
        "file", metavar="FILE", help="hardware, energy-table or sweep YAML (or preset name)"
    )
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
    _add_method_arguments(p)
    p.set_defaults(handler=_cmd_synth)

    p = sub.add_parser(
        "simulate",
        help="simulate a trace on a hardware config and write a run directory",
        description=(
            "Simulate every layer of a trace under each design, price the action counts, and "
            "write the run directory (config.yaml, layers.csv, actions.csv, transactions.csv, "
            "spike_stats.csv, summary.json, report.md, figures/). Prints the per-design totals."
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
    p.set_defaults(handler=_cmd_simulate)

    p = sub.add_parser(
        "extract",
        help="record a Hugging Face causal LM's linear layers into a trace (needs torch)",
        description=(
            "Run a causal LM (a local directory, the known name smollm2-135m, or a hub id) on "
            "calibration text and write a trace: for every selected linear layer its input "
            "activations x [tokens, K] and weights w [N, K] (GPT-2 Conv1D weights transposed). "
            "lm_head is excluded unless --layers names it. Needs the [extract] extra (torch, "
            "transformers); smollm2-135m also needs [real-model] (gguf, accelerate) and is "
            "fetched once into $SPIKESIM_CACHE (default ~/.cache/spikesim). With HF_HUB_OFFLINE "
            "set, hub ids are looked up in the local cache only."
        ),
    )
    p.add_argument("--model", required=True, metavar="PATH_OR_ID", help="model directory or id")
    p.add_argument("--out", required=True, metavar="DIR", help="trace directory to write")
    _add_text_arguments(p, "UTF-8 calibration text (default: the built-in sample)", 256, "traced")
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
    p.add_argument(
        "--dtype",
        choices=_DTYPE_CHOICES,
        default="float16",
        help="dtype of x and w on disk (default float16)",
    )
    p.add_argument("--quiet", action="store_true", help="no progress bars on stderr")
    _add_method_arguments(p)
    p.set_defaults(handler=_cmd_extract)

    p = sub.add_parser(
        "demo",
        help="the whole job with no arguments: simulate the shipped SmolLM2 trace, report",
        description=(
            f"Simulate the shipped trace traces/{DEMO_TRACE} (extracted from the real "
            "SmolLM2-135M-Instruct by spikesim extract; the command is in its manifest), copied "
            f"into DIR/trace, on the '{DEMO_PRESET}' preset with design(s) "
            f"{', '.join(DEMO_DESIGNS)}, and write the run directory and report.md into DIR. "
            "Needs no torch. --extract redoes the extraction first (needs the [extract] and "
            "[real-model] extras)."
        ),
    )
    p.add_argument(
        "--out",
        default=DEMO_OUT,
        metavar="DIR",
        help=f"run directory to write (default {DEMO_OUT})",
    )
    p.add_argument(
        "--extract",
        action="store_true",
        help="re-extract the trace from the model first instead of using the shipped copy",
    )
    p.add_argument(
        "--quiet", action="store_true", help="no progress bar on stderr (shown on a terminal only)"
    )
    p.set_defaults(handler=_cmd_demo)

    p = sub.add_parser(
        "eval",
        help="perplexity of a causal LM under each quantization method (needs torch)",
        description=(
            "Perplexity on held-out text (default: the built-in sample, disjoint from the "
            "calibration text) with every linear layer but lm_head fake-quantized by the "
            "simulator's own quantizers: weights per-channel RTN at quant.weight_bits; "
            "activations per token (rtn: RTN at quant.act_bits; spikequant: MAD saliency, "
            "shared scale, salient values at quant.salient_bits). fp32 is the unquantized "
            "reference; fp16 rounds weights and linear inputs to float16."
        ),
    )
    p.add_argument("--model", required=True, metavar="PATH_OR_ID", help="model directory or id")
    p.add_argument(
        "--methods",
        default=EVAL_METHODS,
        metavar="NAME,...",
        help=f"comma-separated methods (default {EVAL_METHODS})",
    )
    _add_text_arguments(p, "UTF-8 held-out text (default built-in)", 512, "scored")
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
    p.add_argument(
        "--layers", default=None, metavar="PATTERNS", help="globs of layers to quantize"
    )
    p.add_argument(
        "--exclude", default=None, metavar="PATTERNS", help="globs of layers to keep float"
    )
    p.add_argument(
        "--out", default=None, metavar="CSV", help="write method,perplexity,salient_ratio"
    )
    p.add_argument("--quiet", action="store_true", help="no per-method progress on stderr")
    p.set_defaults(handler=_cmd_eval)

    p = sub.add_parser(
        "report",
        help="redraw report.md and figures of run directories; compare several",
        description=(
            "Regenerate RUN_DIR/report.md and RUN_DIR/figures/ (PNG and PDF) from RUN_DIR's "
            "tables only (layers.csv, actions.csv, spike_stats.csv, summary.json). With several "
            "run directories (e.g. two hardware configs), also write a combined comparison "
            "(compare.md, compare.json, figures/) into --out."
        ),
    )
    p.add_argument(
        "run_dir",
        metavar="RUN_DIR",
        nargs="+",
        help="run directories written by simulate/demo",
    )
    p.add_argument(
        "--out",
        default=None,
        metavar="DIR",
        help="where the comparison of several run directories goes (default FIRST_RUN_DIR/compare;"
        " replaced atomically if it is a comparison already)",
    )
    p.set_defaults(handler=_cmd_report)

    from spikesim.dse.commands import add_pareto_arguments, add_sweep_arguments

    p = sub.add_parser(
        "sweep",
        help="simulate many hardware points × designs into a Parquet dataset, then Pareto",
        description=(
            "Run every point of a sweep spec (base hardware YAML + axes, grid or random "
            "sampling, designs, constraints) on a trace, in parallel (local processes, or a Dask "
            "scheduler), into a Parquet dataset directory: one part per finished (point, "
            "design), written atomically, so an interrupted sweep resumes where it stopped. A "
            "failing point is recorded with its error. Ends with the Pareto front."
        ),
    )
    add_sweep_arguments(p)
    p.set_defaults(handler=_cmd_sweep)

    p = sub.add_parser(
        "pareto",
        help="print the Pareto-optimal points of a sweep and draw the front",
        description=(
            "Print the Pareto-optimal points (energy_pj, total_cycles, area_mm2 of the TOTAL "
            "rows, across designs) of a sweep's results and draw the front (PNG and PDF next "
            "to the results: RESULTS-pareto.png/.pdf)."
        ),
    )
    add_pareto_arguments(p)
    p.set_defaults(handler=_cmd_pareto)
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

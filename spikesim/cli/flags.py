"""API parameter → command-line flag: the one place a library error gets the CLI's names.

Library code raises :class:`~spikesim.errors.InputError` in its caller's terms: the field is an
API parameter (``designs``, ``seq_len``, ``hardware``) or a config field path
(``if_array.lanes``, ``sram.weights.capacity_bytes``). Before the CLI prints the error, it renames
a parameter to the flag that fed it (``designs`` → ``--designs``, ``hardware`` → ``--hw``); field
paths pass unchanged.

A field is renamed only when both hold:

- the running subcommand has that flag (``demo`` has no ``--trace``, so a ``trace`` error there
  keeps its name), and
- the error names no file, or the parameter's value is itself a path (``out``, ``trace`` …). An
  error that names a file and a field it does not get from a flag is about a field *inside* that
  file (a trace manifest's ``layers``, a sweep spec's ``designs``) and keeps its name.
"""

from __future__ import annotations

import argparse

from spikesim.errors import InputError

PARAMETER_FLAGS: dict[str, str] = {
    "attention": "--attention",
    "batch": "--batch",
    "context": "--context",
    "decode_steps": "--decode-steps",
    "designs": "--designs",
    "dtype": "--dtype",
    "exclude": "--exclude",
    "gemm": "--gemm",
    "hardware": "--hw",
    "layers": "--layers",
    "methods": "--methods",
    "model": "--model",
    "out": "--out",
    "overrides": "--set",
    "phase": "--phase",
    "run_dirs": "RUN_DIR",
    "scheduler": "--scheduler",
    "seed": "--seed",
    "seq_len": "--seq-len",
    "shape": "--shape",
    "stats": "--stats",
    "text": "--text",
    "timeline_layers": "--timeline",
    "tokens": "--tokens",
    "trace": "--trace",
    "workers": "--workers",
    "workload": "--workload",
}
"""API parameter name → the flag (or positional) of the subcommands that pass it."""

PATH_PARAMETERS = frozenset(
    {"hardware", "model", "out", "run_dirs", "stats", "text", "trace", "workload"}
)
"""Parameters whose value is a file or directory: their errors name that path as the file."""


def parser_flags(parser: argparse.ArgumentParser) -> frozenset[str]:
    """The option strings and positional metavars of a (sub)command's parser."""
    names: set[str] = set()
    for action in parser._actions:
        if action.option_strings:
            names.update(action.option_strings)
        elif isinstance(action.metavar, str):
            names.add(action.metavar)
        else:
            names.add(action.dest)
    return frozenset(names)


def with_flag(exc: InputError, flags: frozenset[str]) -> InputError:
    """``exc`` with its field renamed to the flag that fed it, if it is such a parameter."""
    field = exc.field
    flag = PARAMETER_FLAGS.get(field or "")
    if flag is None or flag not in flags:
        return exc
    if exc.file is not None and field not in PATH_PARAMETERS:
        return exc
    return InputError(exc.message, file=exc.file, field=flag)

"""The ``spikesim`` command line: a thin layer over the Python API (:mod:`spikesim.api`).

One module per subcommand (``validate``, ``energy``, ``synth``, ``fit-stats``, ``simulate``,
``extract``, ``demo``, ``eval``, ``report``, ``sweep``, ``pareto``, ``cache``) declares its flags
(``add_arguments``) beside its handler (``run``); :mod:`spikesim.cli.common` holds what they
share and :mod:`spikesim.cli.flags` turns the API parameters named in library errors into flags.

Exit codes: 0 on success, 2 on bad input (one line ``error: ...`` on stderr naming the file and
the field, never a traceback), 128 + the signal's number when interrupted (130 for SIGINT or
Ctrl-C, 143 for SIGTERM, 129 for SIGHUP), 1 on any other exception: a bug in spikesim, reported
as one line ``error: internal error (...): TYPE: message; ...`` (``SPIKESIM_DEBUG=1`` lets it
raise with its traceback instead).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import Protocol

from spikesim.cli import (
    cache,
    demo,
    energy,
    extract,
    fitstats,
    pareto,
    report,
    simulate,
    sweep,
    synth,
    validate,
)
from spikesim.cli import eval as eval_command
from spikesim.cli.common import (
    EXIT_INPUT,
    EXIT_INTERNAL,
    EXIT_INTERRUPTED,
    EXIT_OK,
    Parser,
    UsageError,
    debug_enabled,
    internal_error,
)
from spikesim.cli.flags import parser_flags, with_flag
from spikesim.errors import InputError
from spikesim.fsutil import Interrupted
from spikesim.pages import prefer_small_pages

__all__ = ["COMMANDS", "Command", "build_parser", "main"]


class Command(Protocol):
    """What a subcommand module provides."""

    NAME: str
    HELP: str
    """One line for ``spikesim --help``."""
    DESCRIPTION: str
    """The paragraph of ``spikesim NAME --help``."""

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        """Declare the subcommand's flags."""

    def run(self, args: argparse.Namespace) -> int:
        """Do the subcommand's work; return the exit code (errors are raised)."""


COMMANDS: tuple[Command, ...] = (
    validate,
    energy,
    synth,
    fitstats,
    simulate,
    extract,
    demo,
    eval_command,
    report,
    sweep,
    pareto,
    cache,
)
"""The subcommand modules, in the order ``spikesim --help`` lists them."""


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``spikesim`` (its errors raise :class:`UsageError`)."""
    from spikesim.version import __version__

    parser = Parser(
        prog="spikesim",
        description=(
            "Cycle-level simulator of spiking (integrate-and-fire) accelerators for quantized "
            "LLMs. Exit codes: 0 ok, 2 bad input (one 'error:' line), 128 + signal number "
            "when interrupted (130 Ctrl-C, 143 SIGTERM), 1 internal error (a bug; "
            "SPIKESIM_DEBUG=1 shows its traceback)."
        ),
    )
    parser.add_argument("--version", action="version", version=f"spikesim {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for command in COMMANDS:
        p = sub.add_parser(command.NAME, help=command.HELP, description=command.DESCRIPTION)
        command.add_arguments(p)
        p.set_defaults(handler=command.run, flags=parser_flags(p))
    return parser


def _error(message: str) -> None:
    print(f"error: {' '.join(message.split())}", file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> int:
    """Run the CLI with ``argv`` (default ``sys.argv[1:]``); return the exit code."""
    argv = list(sys.argv[1:] if argv is None else argv)
    prefer_small_pages()
    flags: frozenset[str] = frozenset()
    try:
        parser = build_parser()
        try:
            args = parser.parse_args(argv)
        except SystemExit as exc:  # --help / --version print and "exit" 0
            return exc.code if isinstance(exc.code, int) else EXIT_OK
        args.argv = argv
        flags = args.flags
        handler: Callable[[argparse.Namespace], int] = args.handler
        return handler(args)
    except UsageError as exc:
        _error(str(exc))
        return EXIT_INPUT
    except InputError as exc:
        _error(with_flag(exc, flags).one_line())
        return EXIT_INPUT
    except OSError as exc:
        where = exc.filename if exc.filename is not None else "?"
        _error(f"{where}: {exc.strerror or exc}")
        return EXIT_INPUT
    except KeyboardInterrupt as exc:
        # a signal's shell convention, 128 + its number (SIGINT 130, SIGTERM 143, SIGHUP 129);
        # Ctrl-C outside an interruptible block is SIGINT too
        _error("interrupted")
        return 128 + exc.signum if isinstance(exc, Interrupted) else EXIT_INTERRUPTED
    except Exception as exc:  # a bug, not the input: one line, unless debugging
        if debug_enabled():
            raise
        _error(internal_error(exc))
        return EXIT_INTERNAL

"""Errors that reach the user as one ``error: ...`` line.

Every problem caused by user input (a configuration file, a trace, a command-line value) is raised
as :class:`InputError`. It carries the file and the field it concerns, so the CLI can print one
line naming both and exit with code 2, never a traceback.
"""

from __future__ import annotations

from pathlib import Path

ECHO_LIMIT = 80
"""Characters of a user-supplied value echoed in an error message (longer ones are cut)."""

FIELD_LIMIT = 200
"""Characters of a field path in an error line (a hostile key can be megabytes long)."""

MESSAGE_LIMIT = 1000
"""Characters of the message part of an error line."""

FILE_LIMIT = 4096
"""Characters of the file part of an error line (the longest path a POSIX system resolves)."""


def shorten(text: object, limit: int = ECHO_LIMIT) -> str:
    """``text`` (``str()`` of it) cut to ``limit`` characters, ending in ``…`` when cut, so a
    50 MB scalar is never echoed whole."""
    text = str(text)
    if len(text) <= limit:
        return text
    return text[: max(0, limit - 1)] + "…"


def echo(value: object, limit: int = ECHO_LIMIT) -> str:
    """``repr(value)`` for an error message, cut to ``limit`` characters (see :func:`shorten`).

    Long strings are cut before ``repr`` so a huge value is never copied whole."""
    if isinstance(value, str | bytes) and len(value) > 4 * limit:
        value = value[: 4 * limit]
    return shorten(repr(value), limit)


class InputError(Exception):
    """Bad user input: names the file (if any) and the field (if any) at fault.

    Parameters
    ----------
    message:
        What is wrong, in plain words.
    file:
        The file the bad value came from, or ``None`` for command-line input.
    field:
        The dotted field path (``if_array.lanes``) or tensor name at fault, or ``None``.
    """

    def __init__(self, message: str, *, file: str | Path | None = None, field: str | None = None):
        self.message = message
        self.file = None if file is None else str(file)
        self.field = field
        super().__init__(self.one_line())

    def __reduce__(self) -> tuple[object, ...]:
        # keep file and field across processes (a worker's error reaches the parent pickled)
        return (_rebuild_input_error, (type(self), self.message, self.file, self.field))

    def one_line(self) -> str:
        """The single line the CLI prints after ``error: ``."""
        where = []
        if self.file is not None:
            where.append(shorten(self.file, FILE_LIMIT))
        if self.field:
            where.append(f"field '{shorten(self.field, FIELD_LIMIT)}'")
        prefix = ": ".join(where)
        message = shorten(self.message, MESSAGE_LIMIT)
        text = f"{prefix}: {message}" if prefix else message
        return " ".join(text.split())  # exactly one line


def _rebuild_input_error(
    cls: type[InputError], message: str, file: str | None, field: str | None
) -> InputError:
    return cls(message, file=file, field=field)


def positive_int(value: object, name: str) -> int:
    """``value`` if it is an integer of at least 1 (a boolean is not), else an
    :class:`InputError` naming ``name`` as the field: ``"{name} must be a positive integer,
    got …"``."""
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise InputError(f"{name} must be a positive integer, got {echo(value)}", field=name)
    return value

"""Errors that reach the user as one ``error: ...`` line.

Every problem caused by user input (a configuration file, a trace, a command-line value) is raised
as :class:`InputError`. It carries the file and the field it concerns, so the CLI can print one
line naming both and exit with code 2, never a traceback.
"""

from __future__ import annotations

from pathlib import Path


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

    def one_line(self) -> str:
        """The single line the CLI prints after ``error: ``."""
        where = []
        if self.file is not None:
            where.append(self.file)
        if self.field:
            where.append(f"field '{self.field}'")
        prefix = ": ".join(where)
        text = f"{prefix}: {self.message}" if prefix else self.message
        return " ".join(text.split())  # exactly one line

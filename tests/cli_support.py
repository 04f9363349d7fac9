"""What CLI tests share: run a command in-process, assert the one-line error contract, and
snapshot folders to show that nothing changed. Import it as ``from cli_support import ...``
(``tests/`` is on ``sys.path``: pytest puts the folder of the root ``conftest.py`` there)."""

from __future__ import annotations

from pathlib import Path

import pytest

from spikesim.cli import main


def run(capsys: pytest.CaptureFixture[str], *args: object) -> tuple[int, str, str]:
    """``spikesim ARGS`` in this process: (exit code, stdout, stderr)."""
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


MAX_LINE = 1400
"""Longest acceptable error line: file + field (cut at 200) + message (cut at 1000)."""


def assert_one_error(code: int, err: str, *needles: object) -> str:
    """Exit 2, exactly one bounded stderr line ``error: ...`` containing every needle."""
    assert code == 2, err[:2000]
    assert "Traceback" not in err
    lines = err.splitlines()
    assert len(lines) == 1, err[:2000]
    line = lines[0]
    assert line.startswith("error: "), line[:2000]
    assert len(line) <= MAX_LINE, (len(line), line[:300])
    for needle in needles:
        assert str(needle) in line, (needle, line)
    return line


def snapshot(folder: Path) -> dict[str, bytes]:
    """Every file below ``folder`` (or ``folder`` itself if it is a file) with its bytes."""
    if folder.is_file():
        return {folder.name: folder.read_bytes()}
    return {
        str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()
    }


def hidden_siblings(folder: Path) -> list[str]:
    """The hidden entries beside ``folder`` (staging debris would show here)."""
    return sorted(p.name for p in folder.parent.iterdir() if p.name.startswith("."))

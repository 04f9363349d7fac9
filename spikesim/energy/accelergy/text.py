"""How the importer writes numbers and joins phrases in notes, sources and error messages."""

from __future__ import annotations


def fmt(x: float) -> str:
    """A number as quoted in notes, sources and errors (6 significant digits)."""
    return f"{x:.6g}"


def join(*parts: str) -> str:
    """The non-empty ``parts`` as one note, ``; ``-separated."""
    return "; ".join(p for p in parts if p)

"""Text for extraction (calibration) and evaluation (held-out), built in or from a file.

Two built-in samples ship as package data in ``spikesim/trace/data/``: ``calibration.txt`` (fed
through the model when extracting a trace) and ``heldout.txt`` (perplexity in ``spikesim eval``).
They are original English prose written for this project (a few hundred words each, about 900
tokens for the SmolLM2 tokenizer) and share no sentences, so an evaluation never scores the text
the activations were calibrated on. No torch needed here.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from spikesim.errors import InputError

__all__ = ["BUILTIN_TEXTS", "TextSource", "read_text"]

BUILTIN_TEXTS = ("calibration", "heldout")
"""Names of the built-in samples (``spikesim/trace/data/NAME.txt``)."""


@dataclass(frozen=True)
class TextSource:
    """A text and where it came from.

    Attributes
    ----------
    text:
        The text (UTF-8 decoded).
    label:
        ``"builtin:calibration"``, ``"builtin:heldout"`` or the file path as given.
    sha256:
        SHA-256 (hex) of the UTF-8 bytes, recorded in manifests and eval output.
    """

    text: str
    label: str
    sha256: str


def read_text(
    path: str | os.PathLike[str] | None, *, builtin: str, field: str = "text"
) -> TextSource:
    """The text of ``path``, or the built-in sample ``builtin`` when ``path`` is None.

    Raises
    ------
    InputError
        If the file cannot be read, is not UTF-8 or holds only whitespace (naming ``field``).
    """
    if path is None:
        if builtin not in BUILTIN_TEXTS:
            raise ValueError(f"unknown built-in text {builtin!r}")
        data = resources.files("spikesim.trace").joinpath("data", f"{builtin}.txt").read_bytes()
        label = f"builtin:{builtin}"
        file: str | Path | None = None
    else:
        file = Path(path)
        label = os.fspath(path)
        try:
            data = file.read_bytes()
        except FileNotFoundError:
            raise InputError("file not found", file=file, field=field) from None
        except OSError as exc:
            raise InputError(
                f"cannot read file: {exc.strerror or exc}", file=file, field=field
            ) from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise InputError("text is not UTF-8", file=file, field=field) from None
    if not text.strip():
        raise InputError("text is empty", file=file, field=field)
    return TextSource(text=text, label=label, sha256=hashlib.sha256(data).hexdigest())

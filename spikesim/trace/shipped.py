"""Traces shipped with spikesim (``traces/NAME/``) and the recipe that made each one.

The repository's ``traces/`` folder is canonical. A source or editable install finds it next to
the package (``<repo>/traces``); a wheel install carries a copy in
``<sys.prefix>/share/spikesim/traces`` (``[tool.setuptools.data-files]`` in pyproject.toml).
Reading a shipped trace needs no torch; remaking one (``spikesim demo --extract``, or the
recipe's command) needs the ``[extract]`` and ``[real-model]`` extras.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from pathlib import Path

from spikesim.errors import InputError
from spikesim.fsutil import shared_data_dirs

__all__ = ["SHIPPED_TRACES", "ExtractRecipe", "shipped_trace_path"]


@dataclass(frozen=True)
class ExtractRecipe:
    """The ``spikesim extract`` arguments that produce a shipped trace.

    Attributes
    ----------
    model:
        ``--model`` (a known name, so no hub is needed).
    tokens:
        ``--tokens`` of the built-in calibration text.
    layers:
        ``--layers`` glob patterns.
    dtype:
        ``--dtype`` on disk.
    why:
        Why these layers.
    attention:
        ``--attention``: record the attention operands of the recorded blocks.
    decode_steps:
        ``--decode-steps`` (None: no decode part).
    """

    model: str
    tokens: int
    layers: tuple[str, ...]
    dtype: str
    why: str
    attention: bool = False
    decode_steps: int | None = None

    def argv(self, out: str) -> list[str]:
        """The ``spikesim extract`` arguments writing to ``out``."""
        return [
            "extract",
            "--model",
            self.model,
            "--out",
            out,
            "--tokens",
            str(self.tokens),
            "--layers",
            ",".join(self.layers),
            "--dtype",
            self.dtype,
            *(["--attention"] if self.attention else []),
            *(["--decode-steps", str(self.decode_steps)] if self.decode_steps else []),
        ]

    def command(self, out: str) -> str:
        """The shell command line (``spikesim extract ...``)."""
        return shlex.join(["spikesim", *self.argv(out)])


SHIPPED_TRACES: dict[str, ExtractRecipe] = {
    "smollm2-135m": ExtractRecipe(
        model="smollm2-135m",
        tokens=256,
        layers=("layers.11.mlp.down_proj", "layers.15.*"),
        dtype="float16",
        why=(
            "the seven linears of the middle decoder block (15 of 30), plus block 11's down_proj, "
            "whose input carries SmolLM2's massive activations (|x| up to about 2800, 3400x the "
            "median channel); the attention operands (q, k after RoPE, v) of blocks 11 and 15 "
            "and 32 greedy decode steps, so the workload has attention matmuls and a decode "
            "phase; about 13 MB in float16"
        ),
        attention=True,
        decode_steps=32,
    ),
}
"""Shipped trace name → the recipe that made it (its command is also in its manifest)."""


def _trace_dirs() -> list[Path]:
    return shared_data_dirs("traces")


def resolve_trace(text: str | Path) -> Path:
    """A trace argument as a directory: an existing path, or anything path-like (a missing one
    is reported when it is opened), is taken as is; a bare name that is not a directory here is
    looked up among the shipped traces (``smollm2-135m``), so it works from any directory and
    any install."""
    path = Path(text)
    if path.exists() or len(path.parts) > 1 or not path.parts:
        return path
    for folder in _trace_dirs():
        candidate = folder / path.name
        if (candidate / "manifest.json").is_file():
            return candidate
    return path


def shipped_trace_path(name: str = "smollm2-135m") -> Path:
    """Directory of the shipped trace ``name``.

    Raises
    ------
    InputError
        If it is not found in any installed location.
    """
    for folder in _trace_dirs():
        path = folder / name
        if (path / "manifest.json").is_file():
            return path
    raise InputError(
        f"shipped trace {name!r} not found (looked in: "
        f"{', '.join(str(d) for d in _trace_dirs()) or 'no traces folder installed'}); "
        "reinstall spikesim or use --extract",
        field="trace",
    )

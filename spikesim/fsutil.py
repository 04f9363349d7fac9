"""Files on disk: atomic replacement of directories (shared by every writer of traces and run
directories) and the folders that hold the shipped data.

A writer builds its output in a fresh hidden sibling of the target, then swaps it into place,
so a failure at any point leaves the previous contents untouched.
"""

from __future__ import annotations

import os
import secrets
import shutil
import sys
from pathlib import Path


def shared_data_dirs(name: str) -> list[Path]:
    """Existing folders holding the shipped ``name`` data (``hw_configs``, ``traces``), in search
    order: beside the package in a source checkout or editable install, then the wheel's data
    files under ``<prefix>/share/spikesim/``."""
    candidates = [
        Path(__file__).resolve().parents[1] / name,
        Path(sys.prefix) / "share" / "spikesim" / name,
    ]
    found: list[Path] = []
    for folder in candidates:
        if folder.is_dir() and folder not in found:
            found.append(folder)
    return found


def make_sibling_dir(target: Path, tag: str) -> Path:
    """Create a fresh hidden sibling directory ``.NAME.TAG-xxxxxxxx`` of ``target``.

    Made with a plain ``mkdir`` so its permissions follow the umask (``tempfile.mkdtemp``
    would make it 0700 and the finished trace or run directory unreadable to others).
    """
    for _ in range(100):
        path = target.parent / f".{target.name}.{tag}-{secrets.token_hex(4)}"
        try:
            path.mkdir()
        except FileExistsError:
            continue
        return path
    raise FileExistsError(f"could not create a temporary directory next to {target}")


def replace_dir(new: Path, target: Path) -> None:
    """Move the finished directory ``new`` to ``target``, replacing what is there last.

    A missing or empty ``target`` is replaced by one rename. Otherwise the old directory is
    moved aside first, put back if the second rename fails, and deleted only afterwards.
    """
    if not target.exists() or (target.is_dir() and not any(target.iterdir())):
        os.replace(new, target)
        return
    old = make_sibling_dir(target, "old")
    os.replace(target, old)  # onto the empty placeholder
    try:
        os.replace(new, target)
    except BaseException:
        os.replace(old, target)
        raise
    shutil.rmtree(old, ignore_errors=True)

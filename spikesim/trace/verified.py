"""Layer-file checksums verified once and remembered, across processes and runs.

Verifying a layer file means hashing all of it (a llama2-7b layer at 2048 tokens is hundreds of
MB). A file whose sha256 matched its manifest is remembered by what identifies one version of
it: resolved path, inode, size and modification time (ns), with the checksum it matched. A
later run (or another sweep worker) that finds the same five values skips the hash; any write
to the file changes its modification time, so it is hashed again.

Memory: a set per process. Disk: one line per verified file version appended to
``$SPIKESIM_CACHE/verified-checksums.tsv`` (default ``~/.cache/spikesim``; each append is a single
``write`` on a file opened ``O_APPEND``, safe for concurrent workers; the file starts over
beyond 4 MiB). ``SPIKESIM_NO_CACHE=1`` keeps the memory only. An unwritable cache is ignored:
the files are then hashed once per process, as before.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

Key = tuple[str, int, int, int, str]
"""(resolved path, inode, size in bytes, mtime in ns, sha256 it matched)."""

_MAX_FILE_BYTES = 4 * 1024 * 1024
_FILE_NAME = "verified-checksums.tsv"

_memory: set[Key] = set()
_loaded: set[Path] = set()
_lock = threading.Lock()


def cache_dir() -> Path:
    """The spikesim cache: ``$SPIKESIM_CACHE`` or ``~/.cache/spikesim``."""
    env = os.environ.get("SPIKESIM_CACHE")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "spikesim"


def disk_cache_enabled() -> bool:
    """False when ``SPIKESIM_NO_CACHE`` is 1, true or yes: no spikesim cache is read or written
    on disk (remembered checksums, quantized layers)."""
    return os.environ.get("SPIKESIM_NO_CACHE", "").strip().lower() not in ("1", "true", "yes")


def _line(key: Key) -> str | None:
    path, ino, size, mtime, sha = key
    if any(c in path for c in "\t\n\r"):
        return None  # not representable in one line: kept in memory only
    return f"{path}\t{ino}\t{size}\t{mtime}\t{sha}\n"


def _parse(line: str) -> Key | None:
    parts = line.rstrip("\n").split("\t")
    if len(parts) != 5:
        return None
    path, ino, size, mtime, sha = parts
    try:
        return (path, int(ino), int(size), int(mtime), sha)
    except ValueError:
        return None


def _load(file: Path) -> None:
    """Read the remembered keys of ``file`` once per process (bounded; a damaged line is
    skipped, an unreadable file is ignored)."""
    if file in _loaded:
        return
    _loaded.add(file)
    try:
        with open(file, encoding="utf-8", errors="replace") as fh:
            text = fh.read(_MAX_FILE_BYTES + 1)
    except OSError:
        return
    for line in text.splitlines()[: None if len(text) <= _MAX_FILE_BYTES else -1]:
        key = _parse(line)
        if key is not None:
            _memory.add(key)


def is_verified(key: Key) -> bool:
    """True when this exact file version was verified against this checksum before."""
    with _lock:
        if key in _memory:
            return True
        if disk_cache_enabled():
            _load(cache_dir() / _FILE_NAME)
        return key in _memory


def remember(key: Key) -> None:
    """Record a verified file version (memory, and the cache file unless disabled)."""
    with _lock:
        _memory.add(key)
    line = _line(key)
    if line is None or not disk_cache_enabled():
        return
    file = cache_dir() / _FILE_NAME
    try:
        file.parent.mkdir(parents=True, exist_ok=True)
        if file.exists() and file.stat().st_size > _MAX_FILE_BYTES:
            file.unlink()  # start over; what was verified stays in this process's memory
        fd = os.open(file, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, line.encode("utf-8"))
        finally:
            os.close(fd)
    except OSError:
        pass  # an unwritable cache only costs hashing again in the next process


def forget_all() -> None:
    """Forget what this process remembers (tests; the cache file is left alone)."""
    with _lock:
        _memory.clear()
        _loaded.clear()

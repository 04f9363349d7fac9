"""Files on disk: atomic replacement of directories (shared by every writer of traces and run
directories), the folders that hold the shipped data, and clean interruption.

A writer builds its output in a fresh hidden sibling of the target, then swaps it into place,
so a failure at any point leaves the previous contents untouched.

Temporary siblings are named ``.NAME.TAG-PID-HHHHHHHHRRRRRRRR``: the writing process's id, 8 hex
digits naming the host and PID namespace it runs in, 8 random hex digits. A writer that was
killed outright (SIGKILL, power loss) cannot remove its sibling; the next writer of the same
target (:func:`make_sibling_dir`) removes every sibling of that exact pattern whose process ran
on this host and namespace and no longer exists (a ``tmp`` sibling is deleted; an ``old`` one,
the previous contents moved aside, is put back if the target is missing, else deleted). A
sibling of a process that is still running, of another host, or of another naming is never
touched.

:func:`interruptible` turns SIGTERM, SIGINT and SIGHUP into an :class:`Interrupted` exception
(a :class:`KeyboardInterrupt`), raised once, so that every ``finally`` and ``except
BaseException`` between the signal and the command line runs and removes its staging; the
renames that swap a directory into place are never split by it (:func:`signals_deferred`).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import secrets
import shutil
import signal
import socket
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

from spikesim.errors import InputError

__all__ = [
    "Interrupted",
    "atomic_write_file",
    "decode_text",
    "interruptible",
    "make_sibling_dir",
    "owner_is_gone",
    "process_tag",
    "read_json_object",
    "remove_debris",
    "remove_stale_files",
    "replace_dir",
    "shared_data_dirs",
    "signals_deferred",
    "staged_dir",
]


def shared_data_dirs(name: str) -> list[Path]:
    """Existing folders holding the shipped ``name`` data (``hw_configs``, ``traces``,
    ``sweeps``, ``notebooks``), in search order: beside the package in a source checkout or
    editable install, then the wheel's data files under ``share/spikesim/`` of the environment
    (``<sys.prefix>``), of a ``pip install --target DIR`` (``DIR``, the folder holding the
    package), of a ``pip install --prefix P`` or ``--user`` (``P`` or ``site.USER_BASE``: three
    levels above ``P/lib/pythonX.Y/site-packages``)."""
    import site

    root = Path(__file__).resolve().parents[1]
    candidates = [
        root / name,
        Path(sys.prefix) / "share" / "spikesim" / name,
        root / "share" / "spikesim" / name,
        *([root.parents[2] / "share" / "spikesim" / name] if len(root.parents) > 2 else []),
        Path(site.getuserbase()) / "share" / "spikesim" / name,
    ]
    found: list[Path] = []
    for folder in candidates:
        if folder.is_dir() and folder not in found:
            found.append(folder)
    return found


# --------------------------------------------------------------------------------------------
# Who wrote a temporary file, and is it still running
# --------------------------------------------------------------------------------------------


def _namespace_id() -> str:
    try:
        return os.readlink("/proc/self/ns/pid")
    except OSError:
        return ""


_PROCESS_TAG = hashlib.sha256(
    f"{socket.gethostname()}\0{_namespace_id()}".encode("utf-8", "replace")
).hexdigest()[:8]


def process_tag() -> str:
    """8 hex digits naming this host and PID namespace (a PID means something only there)."""
    return _PROCESS_TAG


def owner_is_gone(pid: int, tag: str) -> bool:
    """True only when the process ``pid`` of the host/namespace ``tag`` surely no longer exists.

    False for another host or namespace, for a live process (also one of another user), and on
    platforms where liveness cannot be asked without side effects (Windows).
    """
    if tag != _PROCESS_TAG or pid <= 0 or pid == os.getpid() or os.name != "posix":
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except (OSError, OverflowError, ValueError):
        return False
    return False


def _debris_pattern(name: str, tags: str = "tmp|old") -> re.Pattern[str]:
    return re.compile(
        rf"^\.{re.escape(name)}\.({tags})-([0-9]{{1,10}})-([0-9a-f]{{8}})[0-9a-f]{{8}}$"
    )


def remove_debris(target: Path, *, files: bool = False) -> list[Path]:
    """Remove the temporary siblings of ``target`` left by killed writers; return them.

    Only names ``.NAME.tmp-PID-TAGRAND`` / ``.NAME.old-PID-TAGRAND`` whose process is gone
    (:func:`owner_is_gone`) are touched: directories (made by :func:`make_sibling_dir`), or
    with ``files`` regular ``tmp`` files (made by :func:`atomic_write_file`). An ``old``
    sibling is the previous contents of ``target`` moved aside by :func:`replace_dir`: it is
    put back when ``target`` is missing.
    """
    target = Path(target)
    parent = target.parent if str(target.parent) else Path(".")
    pattern = _debris_pattern(target.name, "tmp" if files else "tmp|old")
    try:
        entries = sorted(os.listdir(parent))
    except OSError:
        return []
    removed: list[Path] = []
    for entry in entries:
        match = pattern.match(entry)
        if match is None or not owner_is_gone(int(match.group(2)), match.group(3)):
            continue
        path = parent / entry
        if path.is_symlink() or not (path.is_file() if files else path.is_dir()):
            continue  # not what the writer makes
        if files:
            with contextlib.suppress(OSError):
                path.unlink()
                removed.append(path)
            continue
        if match.group(1) == "old" and not os.path.lexists(target):
            with contextlib.suppress(OSError):
                os.replace(path, target)  # the previous contents, back where they were
                removed.append(path)
                continue
        shutil.rmtree(path, ignore_errors=True)
        removed.append(path)
    return removed


def make_sibling_dir(target: Path, tag: str) -> Path:
    """Create a fresh hidden sibling directory ``.NAME.TAG-PID-xxxxxxxxxxxxxxxx`` of ``target``.

    Debris of killed writers of the same target is removed first (:func:`remove_debris`).
    Made with a plain ``mkdir`` so its permissions follow the umask (``tempfile.mkdtemp``
    would make it 0700 and the finished trace or run directory unreadable to others).
    """
    target = Path(target)
    remove_debris(target)
    for _ in range(100):
        name = f".{target.name}.{tag}-{os.getpid()}-{_PROCESS_TAG}{secrets.token_hex(4)}"
        path = target.parent / name
        try:
            path.mkdir()
        except FileExistsError:
            continue
        return path
    raise FileExistsError(f"could not create a temporary directory next to {target}")


def replace_dir(new: Path, target: Path) -> None:
    """Move the finished directory ``new`` to ``target``, replacing what is there last.

    A missing or empty ``target`` is replaced by one rename. Otherwise the old directory is
    moved aside first, put back if the second rename fails, and deleted only afterwards. A
    signal arriving meanwhile takes effect once the renames are done (:func:`signals_deferred`).
    Debris of killed writers of ``target`` is removed first (:func:`remove_debris`).
    """
    remove_debris(target)
    with signals_deferred():
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


def remove_stale_files(folder: Path, names: re.Pattern[str]) -> int:
    """One listing of ``folder``: remove every temporary file ``.NAME.tmp-PID-TAGRAND`` of
    :func:`atomic_write_file` whose ``NAME`` matches ``names`` (fully) and whose writer is gone
    (:func:`owner_is_gone`); return how many. For a folder of many files written by
    ``atomic_write_file(..., remove_stale=False)``: one scan instead of one per write."""
    pattern = re.compile(r"^\.(.+)\.tmp-([0-9]{1,10})-([0-9a-f]{8})[0-9a-f]{8}$")
    try:
        entries = os.listdir(folder)
    except OSError:
        return 0
    removed = 0
    for entry in entries:
        match = pattern.match(entry)
        if (match is None or not names.fullmatch(match.group(1))
                or not owner_is_gone(int(match.group(2)), match.group(3))):
            continue
        path = folder / entry
        if path.is_symlink() or not path.is_file():
            continue
        with contextlib.suppress(OSError):
            path.unlink()
            removed += 1
    return removed


def atomic_write_file(
    target: str | Path,
    write: Callable[[IO[bytes]], Any],
    *,
    remove_stale: bool = True,
    durable: bool = True,
) -> Path:
    """Write ``target`` through ``write(binary file)`` into a hidden temporary file beside it,
    flushed and fsync'ed, then renamed into place: ``target`` is the old file or the new one,
    never a partial one. The temporary file is removed on any failure or interruption.

    ``remove_stale``: first remove the temporary files of ``target`` that killed writers left
    (:func:`remove_debris`, one listing of the folder). A writer of many files into one large
    folder passes False and removes them in bulk (:func:`remove_stale_files`): a listing per
    write would make a folder of n files cost n² to fill. ``durable``: fsync the file before
    the rename (a cache whose entries carry their own checksum passes False: after a crash
    an entry is whole, missing, or detected as damaged)."""
    target = Path(target)
    if remove_stale:
        remove_debris(target, files=True)
    tmp = target.parent / f".{target.name}.tmp-{os.getpid()}-{_PROCESS_TAG}{secrets.token_hex(4)}"
    try:
        with open(tmp, "xb") as fh:
            write(fh)
            fh.flush()
            if durable:
                os.fsync(fh.fileno())
        with signals_deferred():
            os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    return target


# --------------------------------------------------------------------------------------------
# Clean interruption
# --------------------------------------------------------------------------------------------


class Interrupted(KeyboardInterrupt):
    """A termination signal (SIGTERM, SIGINT, SIGHUP) received inside :func:`interruptible`.

    A :class:`KeyboardInterrupt`, so ``except Exception`` does not swallow it and the command
    line reports it as an interruption.
    """

    def __init__(self, signum: int) -> None:
        self.signum = signum
        try:
            name = signal.Signals(signum).name
        except ValueError:
            name = str(signum)
        super().__init__(f"interrupted by {name}")


class _SignalState:
    def __init__(self) -> None:
        self.installed = False
        self.raised = False
        self.defer = 0
        self.pending: int | None = None


_STATE = _SignalState()


def _signals() -> list[signal.Signals]:
    names = ("SIGTERM", "SIGINT", "SIGHUP")
    return [getattr(signal, n) for n in names if hasattr(signal, n)]


def _on_signal(signum: int, frame: object) -> None:
    if _STATE.raised:
        return  # already unwinding: let the clean-up finish
    if _STATE.defer:
        _STATE.pending = signum
        return
    _STATE.raised = True
    raise Interrupted(signum)


@contextlib.contextmanager
def interruptible() -> Iterator[None]:
    """Within the block, SIGTERM, SIGINT and SIGHUP raise :class:`Interrupted` (once: signals
    arriving while it unwinds are ignored, so clean-up is not cut short); the previous handlers
    are restored on exit. Nested use and use outside the main thread change nothing.
    """
    if _STATE.installed or threading.current_thread() is not threading.main_thread():
        yield
        return
    previous: dict[signal.Signals, Any] = {}
    try:
        for sig in _signals():
            previous[sig] = signal.signal(sig, _on_signal)
    except (OSError, ValueError):  # pragma: no cover - an embedding that forbids it
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        yield
        return
    _STATE.installed = True
    _STATE.raised = False
    _STATE.pending = None
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        _STATE.installed = False
        _STATE.raised = False
        _STATE.pending = None


@contextlib.contextmanager
def signals_deferred() -> Iterator[None]:
    """Hold back :func:`interruptible`'s signals while the block runs (a few renames that must
    happen together); one that arrived meanwhile is raised when the block ends normally."""
    _STATE.defer += 1
    try:
        yield
    finally:
        _STATE.defer -= 1
    if not _STATE.defer and _STATE.pending is not None and not _STATE.raised:
        signum, _STATE.pending = _STATE.pending, None
        _STATE.raised = True
        raise Interrupted(signum)


@contextlib.contextmanager
def staged_dir(target: Path) -> Iterator[Path]:
    """A new directory for ``target``, written in a staging sibling and swapped in whole.

    The staging directory (``.NAME.tmp-PID-TAG…``, :func:`make_sibling_dir`) is made with
    :func:`interruptible`'s signals held back, so it is owned from the moment it exists; when the
    block ends normally it replaces ``target`` (:func:`replace_dir`), and whatever stops the block
    (an error, an interruption) removes it and leaves ``target`` as it was.
    """
    tmp: Path | None = None
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        with signals_deferred():  # made and owned in one step: never left behind
            tmp = make_sibling_dir(target, "tmp")
        yield tmp
        replace_dir(tmp, target)
        tmp = None
    finally:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)


# --------------------------------------------------------------------------------------------
# Text files and bounded JSON files
# --------------------------------------------------------------------------------------------


def decode_text(
    raw: bytes,
    *,
    file: Path,
    what: str = "file",
    encoding: str = "utf-8",
    binary_note: str = "",
) -> str:
    """The bytes ``raw`` read from ``file`` as text: no NUL byte (a binary file), then decoded
    with ``encoding`` (``utf-8``, or ``utf-8-sig`` to drop a leading byte-order mark).

    Failures are :class:`~spikesim.errors.InputError` naming ``file``, worded ``WHAT holds
    binary data (a NUL byte at offset N)BINARY_NOTE`` and ``WHAT is not UTF-8 text (invalid byte
    at offset N)``.
    """
    nul = raw.find(b"\0")
    if nul >= 0:
        raise InputError(
            f"{what} holds binary data (a NUL byte at offset {nul}){binary_note}", file=file
        )
    try:
        return raw.decode(encoding)
    except UnicodeDecodeError as exc:
        raise InputError(
            f"{what} is not UTF-8 text (invalid byte at offset {exc.start})", file=file
        ) from None


def read_json_object(path: Path, max_bytes: int, *, empty: str | None = None) -> dict[str, Any]:
    """The JSON object in the file ``path``, read whole if it holds at most ``max_bytes``.

    Every failure is an :class:`~spikesim.errors.InputError` naming ``path``: unreadable, larger
    than ``max_bytes`` (not read further), empty (with the message ``empty``, when given; else
    reported as malformed JSON), not UTF-8, malformed or too deeply nested JSON, or a top level
    that is not an object.
    """
    try:
        with open(path, "rb") as fh:
            raw = fh.read(max_bytes + 1)
    except OSError as exc:
        raise InputError(f"cannot read file ({exc.strerror or exc})", file=path) from None
    if len(raw) > max_bytes:
        raise InputError(f"larger than {max_bytes >> 20} MiB; not read", file=path)
    if empty is not None and not raw.strip():
        raise InputError(empty, file=path)
    try:
        data = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise InputError("not UTF-8 text", file=path) from None
    except json.JSONDecodeError as exc:
        raise InputError(f"malformed JSON at line {exc.lineno}: {exc.msg}", file=path) from None
    except (ValueError, RecursionError):
        raise InputError(
            "malformed JSON (nested too deep or a number too long)", file=path
        ) from None
    if not isinstance(data, dict):
        raise InputError("top level must be a JSON object", file=path)
    return data

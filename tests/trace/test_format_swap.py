"""A trace file swapped between its check and its open is refused, never read (issue 14).

The trace reader refuses symbolic links out of the trace directory. These tests make the swap
happen deterministically, right after the check passed (the check is wrapped), for the
manifest and a layer file, at load time and at the first tensor read: the file is replaced by a
link to a byte-identical copy outside the trace (which, if followed, would load without
complaint) or by another regular file. Each is one InputError naming the file and the field, and
no descriptor of the outside copy is ever opened.
"""

from __future__ import annotations

import builtins
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from spikesim.errors import InputError
from spikesim.trace import format as tformat
from spikesim.trace import load_trace, synth_trace


@pytest.fixture
def trace_dir(tmp_path: Path) -> Path:
    out = tmp_path / "trace"
    synth_trace(out, gemm=(8, 32, 16))
    return out


@pytest.fixture
def opened_inodes(monkeypatch: pytest.MonkeyPatch) -> list[tuple[int, int]]:
    """(device, inode) of every file successfully opened by os.open or open() meanwhile
    (a test clears it once its own files are made)."""
    seen: list[tuple[int, int]] = []
    real_os_open, real_open = os.open, builtins.open

    def note(fd: int) -> None:
        st = os.fstat(fd)
        seen.append((st.st_dev, st.st_ino))

    def os_open(*args: Any, **kwargs: Any) -> int:
        fd = real_os_open(*args, **kwargs)
        note(fd)
        return fd

    def open_(*args: Any, **kwargs: Any) -> Any:
        fh = real_open(*args, **kwargs)
        note(fh.fileno())
        return fh

    monkeypatch.setattr(os, "open", os_open)
    monkeypatch.setattr(builtins, "open", open_)
    return seen


def _outside_copy(file: Path, tmp_path: Path) -> Path:
    """A byte-identical copy of ``file`` outside the trace directory."""
    outside = tmp_path / "outside"
    outside.mkdir(exist_ok=True)
    copy = outside / file.name
    copy.write_bytes(file.read_bytes())
    return copy


def _to_link(file: Path, target: Path) -> None:
    file.unlink()
    file.symlink_to(target)


def _to_other_file(file: Path, other: Path) -> None:
    os.replace(other, file)  # another regular file (another inode) under the checked name


def _swap_after_check(
    monkeypatch: pytest.MonkeyPatch, victim: Path, swap: Callable[[], None]
) -> list[Path]:
    """Wrap the trace reader's check so that ``swap()`` runs right after it passed for
    ``victim`` (once); return the list of paths the check was called for."""
    real = tformat._inside_trace
    checked: list[Path] = []

    def racing(path: Path, *args: Any) -> Any:
        result = real(path, *args)
        checked.append(path)
        if path == victim and checked.count(victim) == 1:
            swap()
        return result

    monkeypatch.setattr(tformat, "_inside_trace", racing)
    return checked


def _inode(path: Path) -> tuple[int, int]:
    st = path.stat()
    return st.st_dev, st.st_ino


def test_layer_swapped_for_a_link_at_load_is_refused(
    trace_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    opened_inodes: list[tuple[int, int]],
) -> None:
    layer = load_trace(trace_dir).layers[0].file
    copy = _outside_copy(layer, tmp_path)
    opened_inodes.clear()
    checked = _swap_after_check(monkeypatch, layer, lambda: _to_link(layer, copy))
    with pytest.raises(InputError) as info:
        load_trace(trace_dir)
    assert layer in checked
    assert layer.is_symlink()
    assert info.value.file == str(layer)
    assert info.value.field == "layers[0].file"
    assert "symbolic link" in info.value.message
    assert "refused" in info.value.message
    assert _inode(copy) not in opened_inodes


def test_manifest_swapped_for_a_link_is_refused(
    trace_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    opened_inodes: list[tuple[int, int]],
) -> None:
    manifest = trace_dir / tformat.MANIFEST_NAME
    copy = _outside_copy(manifest, tmp_path)
    opened_inodes.clear()
    _swap_after_check(monkeypatch, manifest, lambda: _to_link(manifest, copy))
    with pytest.raises(InputError) as info:
        load_trace(trace_dir)
    assert info.value.file == str(manifest)
    assert info.value.field is None
    assert "manifest became a symbolic link" in info.value.message
    assert _inode(copy) not in opened_inodes


def test_layer_swapped_for_another_file_is_refused(
    trace_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    opened_inodes: list[tuple[int, int]],
) -> None:
    """Another regular file renamed over the checked one (e.g. a hard link of a file outside
    the trace) is not the file that was checked: refused by its identity."""
    layer = load_trace(trace_dir).layers[0].file
    copy = _outside_copy(layer, tmp_path)
    opened_inodes.clear()
    other = trace_dir / "other.bin"
    os.link(copy, other)  # the outside file's inode, entering the trace by a rename
    _swap_after_check(monkeypatch, layer, lambda: _to_other_file(layer, other))
    with pytest.raises(InputError) as info:
        load_trace(trace_dir)
    assert info.value.file == str(layer)
    assert info.value.field == "layers[0].file"
    assert "replaced while being opened" in info.value.message
    # opened by the checked name only to compare its identity, then closed unread (a
    # byte-identical copy: had it been read, the trace would have loaded)
    assert opened_inodes.count(_inode(copy)) <= 1


def test_layer_swapped_before_the_first_tensor_read_is_refused(
    trace_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    opened_inodes: list[tuple[int, int]],
) -> None:
    """Tensors are read lazily, long after load_trace's check: they are checked again, and the
    checksum and the memory map come from the descriptor that check opened."""
    trace = load_trace(trace_dir)
    layer = trace.layers[0]
    copy = _outside_copy(layer.file, tmp_path)
    opened_inodes.clear()
    _swap_after_check(monkeypatch, layer.file, lambda: _to_link(layer.file, copy))
    with pytest.raises(InputError) as info:
        layer.tensor("x")
    assert info.value.file == str(layer.file)
    assert info.value.field == "x"
    assert "became a symbolic link" in info.value.message
    # without a race the link is refused by the check itself
    with pytest.raises(InputError, match="outside the trace directory") as info:
        layer.verify()
    assert info.value.field == "sha256"
    with pytest.raises(InputError, match="outside the trace directory"):
        layer.weights()
    assert _inode(copy) not in opened_inodes


def test_tensors_are_mapped_from_the_checked_file(trace_dir: Path) -> None:
    """The lazily read tensors still come as read-only memory maps of the layer file."""
    import numpy as np

    layer = load_trace(trace_dir).layers[0]
    x = layer.tensor("x")
    assert isinstance(x, np.memmap)
    assert not x.flags.writeable
    assert x.shape == (8, 32)
    assert layer.activations().shape == (8, 32)


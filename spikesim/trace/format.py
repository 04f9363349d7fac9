"""The trace directory format: ``manifest.json`` plus one ``.safetensors`` file per linear layer.

A trace records, for every linear layer of a model, the input activations ``x`` and the weights
``w`` that the layer multiplied, plus optional extra tensors (integer codes, scales, masks)::

    traces/NAME/
        manifest.json
        000_layers.0.self_attn.q_proj.safetensors
        001_layers.0.self_attn.k_proj.safetensors
        ...

``manifest.json`` (schema version 1)::

    {"schema_version": 1, "name": str, "tokens": int,
     "source": {...free dict: kind, model, generator parameters, seed, command...},
     "layers": [{"name": "layers.0.self_attn.q_proj", "op": "q_proj",
                 "file": "000_layers.0.self_attn.q_proj.safetensors",
                 "tokens": M, "k": K, "n": N, "sha256": hex, "bytes": int,
                 "tensors": {"x": {"dtype": "float16", "shape": [M, K]}, ...}}]}

Each layer file holds at least

* ``x`` — activations, float16 or float32, shape ``[M, K]`` (M tokens, K input features);
* ``w`` — weights in the ``torch.nn.Linear`` convention, float16 or float32, shape ``[N, K]``
  (N output features), so the layer computes ``y = x @ w.T`` of shape ``[M, N]``;

plus whatever extra tensors the writer was given (``w_q`` int8 ``[N, K]``, ``w_scale`` float32
``[N]``, ``x_q`` int16 ``[M, K]``, ``x_scale`` float32 ``[M]``, ``salient`` uint8 ``[M, K]`` …).

Optional sections (additive; :data:`SECTION_KEYS`): ``"attention"`` and ``"decode"`` hold what
``spikesim extract --attention --decode-steps N`` records beside the linear layers — each a
JSON object whose list of files (``blocks`` / ``layers``) has entries ``{..., "file", "sha256",
"bytes", "tensors"}`` checked like a layer's (:func:`load_tensor_file`). Their meaning and the
workload layers built from them are :mod:`spikesim.trace.recorded`'s; loaded with a ``phase``,
a trace that has them lists those layers in :attr:`Trace.layers` after (or among) its linear
layers, with the vector operators of the blocks whose attention it recorded.

Reading is lazy and cheap: :func:`load_trace` checks the manifest, the file sizes and every
safetensors header (so a truncated or mislabelled file is caught at once) but reads no tensor
data. Tensors are memory-mapped read-only on first use; the file's SHA-256 is verified the first
time any tensor of a layer is touched (once per process). Every problem is reported as
:class:`~spikesim.errors.InputError` naming the file and the field.
"""

from __future__ import annotations

import errno
import hashlib
import io
import json
import math
import os
import re
import stat
import struct
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, TypeAlias

import numpy as np
from safetensors.numpy import save_file

from spikesim.errors import InputError, echo
from spikesim.fsutil import staged_dir
from spikesim.trace import verified

if TYPE_CHECKING:
    from spikesim.trace.vector import VectorLayer

__all__ = [
    "MANIFEST_NAME",
    "SCHEMA_VERSION",
    "SECTION_KEYS",
    "LayerTensors",
    "SectionFile",
    "SectionReader",
    "TensorSpec",
    "Trace",
    "TraceEntry",
    "TraceFile",
    "TraceItem",
    "TraceLayer",
    "TraceSection",
    "load_tensor_file",
    "load_trace",
    "register_section_reader",
    "write_trace",
]

SCHEMA_VERSION = 1
"""The manifest schema version this module reads and writes."""

MANIFEST_NAME = "manifest.json"
"""File name of the manifest inside a trace directory."""

_HASH_CHUNK_BYTES = 8 * 1024 * 1024
_FINITE_CHUNK_ELEMENTS = 4 * 1024 * 1024

MAX_HEADER_BYTES = 1024 * 1024
"""Largest safetensors header read (bytes). A layer file's header lists a handful of tensors in
a few hundred bytes; a longer one is refused before anything is allocated for it."""

MAX_MANIFEST_BYTES = 16 * 1024 * 1024
"""Largest ``manifest.json`` read (bytes); a trace of every layer of a 7B model needs ~150 KB."""

MAX_JSON_DEPTH = 64
"""Deepest nesting of objects and arrays in a manifest or a safetensors header."""

MAX_JSON_INT_DIGITS = 100
"""Longest integer literal in a manifest or a header (characters); longer ones are refused
(Python refuses to convert more than 4300 digits, with a ValueError)."""

MAX_TENSOR_RANK = 8
"""Most dimensions of a tensor's shape (x and w have 2)."""

# safetensors dtype tag <-> numpy dtype name (little-endian on disk).
_ST_TO_NUMPY: dict[str, str] = {
    "F16": "float16",
    "F32": "float32",
    "F64": "float64",
    "I8": "int8",
    "I16": "int16",
    "I32": "int32",
    "I64": "int64",
    "U8": "uint8",
    "U16": "uint16",
    "U32": "uint32",
    "U64": "uint64",
    "BOOL": "bool",
}
_NUMPY_TO_ST = {v: k for k, v in _ST_TO_NUMPY.items()}
_FLOAT_DTYPES = ("float16", "float32")
"""dtypes allowed for the required tensors ``x`` and ``w``."""

_TENSOR_NAME_RE = re.compile(r"^[A-Za-z0-9_.]+$")
_LAYER_FILE_RE = re.compile(r"^[A-Za-z0-9._-]+\.safetensors$")
"""A layer file's name: what :func:`_layer_file_name` writes (no separators, no NUL)."""
_UNSAFE_FILE_CHARS_RE = re.compile(r"[^A-Za-z0-9._-]")
_SHA256_RE = re.compile(r"^[0-9a-f]{64}$")

_LAYER_KEYS = ("name", "op", "file", "tokens", "k", "n", "sha256", "bytes", "tensors")
SECTION_KEYS = ("attention", "decode")
"""Optional top-level manifest sections (:mod:`spikesim.trace.recorded`)."""
_TOP_KEYS = ("schema_version", "name", "tokens", "source", "layers", *SECTION_KEYS)
_FILE_KEYS = ("file", "sha256", "bytes", "tensors")
"""The keys of a section file's entry that :func:`load_tensor_file` checks."""


# --------------------------------------------------------------------------------------------
# Data types
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LayerTensors:
    """One linear layer handed to :func:`write_trace`.

    Parameters
    ----------
    name:
        Unique layer name, e.g. ``"layers.0.self_attn.q_proj"``.
    op:
        Short operator name, e.g. ``"q_proj"`` (or ``"gemm"``).
    tensors:
        Tensor name → array. Must contain ``x`` (activations, float16/float32, ``[M, K]``) and
        ``w`` (weights, float16/float32, ``[N, K]``); any further tensors are stored as given.
    """

    name: str
    op: str
    tensors: Mapping[str, np.ndarray] = field(hash=False)


@dataclass(frozen=True)
class TensorSpec:
    """Where one tensor lives inside a layer file.

    Attributes
    ----------
    name:
        Tensor name (``x``, ``w``, ``w_q`` …).
    dtype:
        NumPy dtype name (``float16``, ``int8`` …); data are little-endian on disk.
    shape:
        Tensor shape.
    offset_bytes:
        Absolute byte offset of the first element in the file.
    nbytes:
        Size of the tensor data in bytes.
    """

    name: str
    dtype: str
    shape: tuple[int, ...]
    offset_bytes: int
    nbytes: int


@dataclass(frozen=True)
class TraceLayer:
    """One linear layer of a loaded trace; tensors are read lazily from ``file``.

    Attributes
    ----------
    name:
        Unique layer name, e.g. ``"layers.0.mlp.down_proj"``.
    op:
        Short operator name (``q_proj`` … ``down_proj``, ``gemm``).
    tokens:
        M, the number of tokens (rows of ``x``).
    k:
        K, input features (columns of ``x`` and ``w``).
    n:
        N, output features (rows of ``w``).
    file:
        Path of the layer's ``.safetensors`` file.
    sha256:
        Expected SHA-256 (lower-case hex) of the whole file.
    size_bytes:
        Expected file size in bytes.
    specs:
        Location, dtype and shape of every tensor in the file.
    op_class:
        ``linear``: a trace records linear layers only (its manifest has no class).
    phase:
        ``prefill``: a trace's tokens are one prefill pass.
    """

    name: str
    op: str
    tokens: int
    k: int
    n: int
    file: Path
    sha256: str
    size_bytes: int
    specs: tuple[TensorSpec, ...]
    op_class: str = "linear"
    phase: str = "prefill"

    def __repr__(self) -> str:
        """One short line: name, op, shapes and file (the specs and hash stay attributes)."""
        return (
            f"TraceLayer({self.name!r}, op={self.op!r}, x=[{self.tokens}, {self.k}], "
            f"w=[{self.n}, {self.k}], file={self.file.name!r})"
        )

    def tensor_names(self) -> tuple[str, ...]:
        """Names of the tensors stored in this layer's file, in manifest order."""
        return tuple(s.name for s in self.specs)

    def spec(self, name: str) -> TensorSpec:
        """The :class:`TensorSpec` of tensor ``name``.

        Raises
        ------
        InputError
            If the layer has no tensor of that name (``field`` is the tensor name).
        """
        for s in self.specs:
            if s.name == name:
                return s
        raise InputError(
            f"layer {self.name!r} has no tensor {name!r} (has: {', '.join(self.tensor_names())})",
            file=self.file,
            field=name,
        )

    def verify(self) -> None:
        """Check the file's SHA-256 against the manifest (hashed once per process, then cached).

        The file is checked again to be inside the trace directory and is read through the
        descriptor that check opened (:func:`_open_inside`).

        Raises
        ------
        InputError
            ``field="sha256"`` on mismatch, if the file cannot be read, or if it now leaves the
            trace directory.
        """
        with self._open("sha256") as fh:
            _verify_open(fh, self.file, self.sha256, self.size_bytes)

    def _open(self, fld: str) -> io.FileIO:
        """The layer file, opened as :func:`load_trace` opened it (inside the trace, no link
        out of it, the file checked is the file read); errors name ``fld``."""
        return _open_inside(self.file, self.file.parent, fld, "layer file")

    def tensor(self, name: str) -> np.ndarray:
        """Tensor ``name`` as a read-only memory-mapped array (no copy into RAM).

        The file's checksum is verified on the first access to any tensor of the layer.

        Returns
        -------
        numpy.ndarray
            A read-only ``numpy.memmap`` (or an empty read-only array for zero-size tensors)
            with the dtype and shape recorded in the file.
        """
        spec = self.spec(name)
        dtype = np.dtype(spec.dtype).newbyteorder("<")
        with self._open(name) as fh:  # verified and mapped through the same descriptor
            _verify_open(fh, self.file, self.sha256, self.size_bytes)
            if spec.nbytes == 0:
                empty = np.zeros(spec.shape, dtype=dtype)
                empty.flags.writeable = False
                return empty
            try:
                return np.memmap(
                    fh, dtype=dtype, mode="r", offset=spec.offset_bytes, shape=spec.shape
                )
            except (OSError, ValueError) as exc:
                raise InputError(
                    f"cannot memory-map tensor: {exc}", file=self.file, field=name
                ) from exc

    def activations(self) -> np.ndarray:
        """Activations ``x`` as float32, shape ``[tokens, k]`` (a fresh, writable array).

        Raises
        ------
        InputError
            ``field="x"`` if any value is NaN or ±Inf.
        """
        return self._finite_float32("x")

    def weights(self) -> np.ndarray:
        """Weights ``w`` as float32, shape ``[n, k]`` (``nn.Linear`` convention; fresh array).

        Raises
        ------
        InputError
            ``field="w"`` if any value is NaN or ±Inf.
        """
        return self._finite_float32("w")

    def _finite_float32(self, name: str) -> np.ndarray:
        src = self.tensor(name)
        out = np.empty(src.shape, dtype=np.float32)
        rows_per_chunk = max(1, _FINITE_CHUNK_ELEMENTS // max(1, src.shape[1]))
        for start in range(0, src.shape[0], rows_per_chunk):
            stop = min(start + rows_per_chunk, src.shape[0])
            chunk = out[start:stop]
            chunk[...] = src[start:stop]
            if not np.isfinite(chunk).all():
                bad = np.argwhere(~np.isfinite(chunk))[0]
                row, col = int(bad[0]) + start, int(bad[1])
                raise InputError(
                    f"non-finite value {chunk[row - start, col]} at [{row}, {col}] "
                    f"in layer {self.name!r}",
                    file=self.file,
                    field=name,
                )
        return out


class TraceItem(Protocol):
    """A layer of a loaded trace: a :class:`TraceLayer` (one file of the manifest's
    ``layers``), or a layer built from its recorded sections (an attention matmul or a decode
    step's linear, :mod:`spikesim.trace.recorded`). What the simulator reads of it (the
    ``WorkloadLayer`` protocol of :mod:`spikesim.trace.workload`)."""

    @property
    def name(self) -> str: ...

    @property
    def op(self) -> str: ...

    @property
    def op_class(self) -> str: ...

    @property
    def phase(self) -> str: ...

    @property
    def tokens(self) -> int: ...

    @property
    def k(self) -> int: ...

    @property
    def n(self) -> int: ...

    @property
    def sha256(self) -> str: ...

    def activations(self) -> np.ndarray:
        """``x`` as a fresh float32 array ``[tokens, k]``."""
        ...

    def weights(self) -> np.ndarray:
        """``w`` as a fresh float32 array ``[n, k]``."""
        ...


TraceEntry: TypeAlias = "TraceItem | VectorLayer"
"""One entry of :attr:`Trace.layers`: a layer with tensors (:class:`TraceItem`), or, with a
``phase``, a vector operator of a block whose attention the trace recorded
(:class:`~spikesim.trace.vector.VectorLayer`: element counts only)."""

SectionReader = Callable[
    [Mapping[str, Any], Path, Path, tuple[TraceLayer, ...], int, set[str], str | None],
    tuple[tuple[TraceEntry, ...], object],
]
"""``reader(sections, trace_dir, manifest, layers, tokens, layer_files, phase) -> (every layer
in order, the parsed sections)``: reads a manifest's optional sections (:data:`SECTION_KEYS`);
with ``phase`` ``None`` (the linear layers alone) it need not build the vector operators."""

_section_reader: list[SectionReader] = []


def register_section_reader(reader: SectionReader) -> None:
    """Install the reader of the manifest's optional sections. :mod:`spikesim.trace.recorded`
    installs its own when imported (``spikesim.trace`` imports it), so this module need not
    import it: the sections' layers build on the attention model, which builds on this one."""
    _section_reader[:] = [reader]


@dataclass(frozen=True)
class Trace:
    """A loaded trace: manifest contents plus lazily readable layers.

    Attributes
    ----------
    path:
        The trace directory.
    name:
        Trace name from the manifest.
    tokens:
        M, the number of tokens every linear layer was traced on; with ``phase`` ``decode`` or
        ``both``, the tokens the chosen layers run (the generated tokens, sequences × decode
        steps, alone or after the M of the prefill), what energy per token divides by, as a
        model workload's ``tokens``.
    source:
        Free-form provenance (``kind``: ``"synthetic"`` or ``"model"``, generator parameters,
        seed, command …). Treat as read-only.
    schema_version:
        Manifest schema version (1).
    layers:
        The layers in manifest order (:class:`TraceLayer`); a trace with recorded sections
        (``attention``, ``decode``) and a ``phase`` lists the layers built from them, in
        execution order, with the vector operators of its attention blocks
        (:func:`spikesim.trace.recorded.recorded_layers`).
    recorded:
        The recorded sections (:class:`~spikesim.trace.recorded.RecordedParts`), or ``None``.
    """

    path: Path
    name: str
    tokens: int
    source: dict[str, Any] = field(hash=False)
    schema_version: int
    layers: tuple[TraceEntry, ...]
    recorded: object | None = field(default=None, compare=False, hash=False, repr=False)

    @property
    def manifest_layers(self) -> tuple[TraceLayer, ...]:
        """The linear layers of the manifest's ``layers`` list (one file each), in its order."""
        return tuple(layer for layer in self.layers if isinstance(layer, TraceLayer))

    def layer(self, name: str) -> TraceEntry:
        """The layer called ``name``.

        Raises
        ------
        InputError
            If the trace has no such layer (``field="layers"``).
        """
        for layer in self.layers:
            if layer.name == name:
                return layer
        raise InputError(
            f"trace {self.name!r} has no layer {name!r}",
            file=self.path / MANIFEST_NAME,
            field="layers",
        )

    def __repr__(self) -> str:
        """One short line: name, layer and token counts, kind and path (``source`` and the
        layers stay attributes)."""
        kind = self.source.get("kind", "?") if isinstance(self.source, dict) else "?"
        return (
            f"Trace({self.name!r}, {len(self.layers)} layers, {self.tokens} tokens, "
            f"kind={kind!r}, path={str(self.path)!r})"
        )

    def layer_names(self) -> tuple[str, ...]:
        """Names of all layers, in manifest order."""
        return tuple(layer.name for layer in self.layers)


@dataclass(frozen=True)
class TraceFile:
    """A tensor file of a trace section (not a linear layer): recorded attention operands or a
    decode step's inputs (:mod:`spikesim.trace.recorded`). Read lazily and verified like a
    layer's file: memory-mapped on first use, its SHA-256 checked once per process.

    Attributes
    ----------
    file:
        Path of the ``.safetensors`` file.
    sha256:
        Expected SHA-256 (lower-case hex) of the whole file.
    size_bytes:
        Expected file size in bytes.
    specs:
        Location, dtype and shape of every tensor in the file, in manifest order.
    """

    file: Path
    sha256: str
    size_bytes: int
    specs: tuple[TensorSpec, ...]

    def tensor_names(self) -> tuple[str, ...]:
        """Names of the tensors stored in the file, in manifest order."""
        return tuple(s.name for s in self.specs)

    def spec(self, name: str) -> TensorSpec:
        """The :class:`TensorSpec` of tensor ``name`` (:class:`InputError` naming it if
        absent)."""
        for s in self.specs:
            if s.name == name:
                return s
        raise InputError(
            f"file has no tensor {name!r} (has: {', '.join(self.tensor_names())})",
            file=self.file,
            field=name,
        )

    def tensor(self, name: str) -> np.ndarray:
        """Tensor ``name`` as a read-only memory-mapped array (the file verified first)."""
        spec = self.spec(name)
        dtype = np.dtype(spec.dtype).newbyteorder("<")
        with _open_inside(self.file, self.file.parent, name, "trace file") as fh:
            _verify_open(fh, self.file, self.sha256, self.size_bytes)
            if spec.nbytes == 0:
                empty = np.zeros(spec.shape, dtype=dtype)
                empty.flags.writeable = False
                return empty
            try:
                return np.memmap(
                    fh, dtype=dtype, mode="r", offset=spec.offset_bytes, shape=spec.shape
                )
            except (OSError, ValueError) as exc:
                raise InputError(
                    f"cannot memory-map tensor: {exc}", file=self.file, field=name
                ) from exc

    def finite(self, name: str, index: Any = ...) -> np.ndarray:
        """``tensor(name)[index]`` as a fresh array of its own dtype, refused
        (:class:`InputError` naming the file and tensor) if any value is NaN or ±Inf."""
        out = np.array(self.tensor(name)[index])
        if out.dtype.kind == "f" and not np.isfinite(out).all():
            raise InputError(
                f"non-finite value in tensor {name!r}", file=self.file, field=name
            )
        return out


# --------------------------------------------------------------------------------------------
# Checksums (verified once per file version, remembered across runs: trace/verified.py)
# --------------------------------------------------------------------------------------------

def _sha256_open(fh: io.FileIO) -> str:
    """SHA-256 (hex) of the open file ``fh``, read from its start in chunks."""
    digest = hashlib.sha256()
    buf = bytearray(_HASH_CHUNK_BYTES)
    view = memoryview(buf)
    fh.seek(0)
    while True:
        n = fh.readinto(buf)
        if not n:
            break
        digest.update(view[:n])
    return digest.hexdigest()


def _sha256_file(file: Path) -> str:
    """SHA-256 (hex) of the file at ``file`` (one the caller wrote or already checked)."""
    with open(file, "rb", buffering=0) as fh:
        return _sha256_open(fh)


def _verify_open(fh: io.FileIO, file: Path, sha256: str, size_bytes: int) -> None:
    """Check the open layer file ``fh`` (named ``file``) against the manifest's size and
    SHA-256; the file version is identified (for :mod:`verified`) by the descriptor's status,
    so what is hashed and what is remembered are the same file."""
    try:
        st = os.fstat(fh.fileno())
        key = (str(file.resolve()), st.st_ino, st.st_size, st.st_mtime_ns, sha256)
        if verified.is_verified(key):
            return
        if st.st_size != size_bytes:
            raise InputError(
                f"file is {st.st_size} bytes but the manifest says {size_bytes} "
                "(modified after loading?)",
                file=file,
                field="bytes",
            )
        actual = _sha256_open(fh)
    except OSError as exc:
        raise InputError(f"cannot read layer file: {exc}", file=file, field="sha256") from exc
    if actual != sha256:
        raise InputError(
            f"checksum mismatch: file has sha256 {actual}, manifest says {sha256} "
            "(file corrupted or modified)",
            file=file,
            field="sha256",
        )
    verified.remember(key)


# --------------------------------------------------------------------------------------------
# Writing
# --------------------------------------------------------------------------------------------


def _layer_file_name(index: int, name: str) -> str:
    return f"{index:03d}_{_UNSAFE_FILE_CHARS_RE.sub('_', name)}.safetensors"


@dataclass(frozen=True)
class SectionFile:
    """One file of a :class:`TraceSection` handed to :func:`write_trace`.

    Parameters
    ----------
    label:
        Names the file (``NNN_<label>.safetensors``, numbered after the layers').
    meta:
        JSON-serialisable fields of the file's manifest entry (``block``, ``name`` …).
    tensors:
        Tensor name → array (any rank; floats must be finite).
    """

    label: str
    meta: Mapping[str, Any] = field(hash=False)
    tensors: Mapping[str, np.ndarray] = field(hash=False)


@dataclass(frozen=True)
class TraceSection:
    """An optional manifest section (:data:`SECTION_KEYS`) and its files.

    The manifest gets ``key: {**meta, files_key: [entry of each file]}``, each entry
    ``{**file.meta, "file", "sha256", "bytes", "tensors"}``.
    """

    key: str
    meta: Mapping[str, Any] = field(hash=False)
    files_key: str
    files: Iterable[SectionFile] = field(hash=False)


def _write_section_file(tmp: Path, index: int, part: SectionFile, key: str) -> dict[str, Any]:
    """Write one section file into ``tmp``; its manifest entry."""
    arrays: dict[str, np.ndarray] = {}
    for tname, value in part.tensors.items():
        fld = f"{key}.{part.label}.{tname}"
        if not isinstance(tname, str) or not _TENSOR_NAME_RE.match(tname):
            raise InputError(f"invalid tensor name {tname!r}", field=fld)
        arr = np.asarray(value)
        if arr.dtype.name not in _NUMPY_TO_ST:
            raise InputError(
                f"unsupported dtype {arr.dtype} (allowed: {', '.join(_NUMPY_TO_ST)})", field=fld
            )
        if arr.dtype.kind == "f":
            _check_finite(arr, f"{key}.{part.label}", tname)
        arrays[tname] = np.ascontiguousarray(arr, dtype=arr.dtype.newbyteorder("<"))
    if not arrays:
        raise InputError("a section file needs at least one tensor", field=f"{key}.{part.label}")
    file_name = _layer_file_name(index, part.label)
    file_path = tmp / file_name
    tensor_meta = {t: {"dtype": a.dtype.name, "shape": list(a.shape)} for t, a in arrays.items()}
    save_file(arrays, str(file_path))
    del arrays
    return {
        **dict(part.meta),
        "file": file_name,
        "sha256": _sha256_file(file_path),
        "bytes": file_path.stat().st_size,
        "tensors": tensor_meta,
    }


def _check_finite(arr: np.ndarray, layer: str, tensor: str) -> None:
    flat = arr.reshape(-1)
    for start in range(0, flat.size, _FINITE_CHUNK_ELEMENTS):
        if not np.isfinite(flat[start : start + _FINITE_CHUNK_ELEMENTS]).all():
            raise InputError(
                f"layer {layer!r}: tensor {tensor!r} contains NaN or Inf",
                field=f"{layer}.{tensor}",
            )


def _prepare_tensors(
    layer: LayerTensors, index: int, tokens: int | None
) -> tuple[dict[str, np.ndarray], int, int, int]:
    """Validate one layer's tensors; return contiguous little-endian arrays and (M, K, N)."""
    where = f"layers[{index}]"
    if not isinstance(layer, LayerTensors):
        raise InputError(f"expected LayerTensors, got {type(layer).__name__}", field=where)
    if not layer.name or not isinstance(layer.name, str):
        raise InputError("layer name must be a non-empty string", field=f"{where}.name")
    if not layer.op or not isinstance(layer.op, str):
        raise InputError("layer op must be a non-empty string", field=f"{where}.op")
    out: dict[str, np.ndarray] = {}
    for tname, value in layer.tensors.items():
        fld = f"{layer.name}.{tname}"
        if not isinstance(tname, str) or not _TENSOR_NAME_RE.match(tname):
            raise InputError(f"invalid tensor name {tname!r}", field=fld)
        arr = np.asarray(value)
        if arr.dtype.name not in _NUMPY_TO_ST:
            raise InputError(
                f"unsupported dtype {arr.dtype} (allowed: {', '.join(_NUMPY_TO_ST)})", field=fld
            )
        arr = np.ascontiguousarray(arr, dtype=arr.dtype.newbyteorder("<"))
        out[tname] = arr
    for req in ("x", "w"):
        if req not in out:
            raise InputError(f"layer {layer.name!r} has no tensor {req!r}", field=layer.name)
        arr = out[req]
        if arr.dtype.name not in _FLOAT_DTYPES or arr.ndim != 2:
            raise InputError(
                f"{req} must be a 2-D float16/float32 array, got {arr.dtype} {list(arr.shape)}",
                field=f"{layer.name}.{req}",
            )
        if 0 in arr.shape:
            raise InputError(
                f"{req} is empty: shape {list(arr.shape)}", field=f"{layer.name}.{req}"
            )
        _check_finite(arr, layer.name, req)
    m, k = out["x"].shape
    n, kw = out["w"].shape
    if kw != k:
        raise InputError(
            f"x is [M, K] = {[m, k]} but w is [N, K] = {[n, kw]}: K differs",
            field=f"{layer.name}.w",
        )
    if tokens is not None and m != tokens:
        raise InputError(
            f"layer has {m} tokens but earlier layers have {tokens}; a trace has one token count",
            field=f"{layer.name}.x",
        )
    return out, m, k, n


def _is_trace_dir(path: Path) -> bool:
    return path.is_dir() and (path / MANIFEST_NAME).is_file()


def write_trace(
    path: str | os.PathLike[str],
    *,
    name: str,
    source: Mapping[str, Any],
    layers: Iterable[LayerTensors],
    sections: Iterable[TraceSection] = (),
) -> Trace:
    """Write a trace directory, one layer at a time, atomically.

    Layers are consumed one by one and each layer file is written as soon as it arrives, so a
    generator of layers never needs the whole model in memory. Everything goes into a temporary
    sibling directory first; only when every file and the manifest are complete does it take the
    place of ``path``. If ``path`` already holds a trace (or is an empty directory) it is replaced
    then; if writing fails for any reason the old trace is left intact and the temporary
    directory is removed.

    Parameters
    ----------
    path:
        Target directory. Its parent is created if needed. It must not exist, be an empty
        directory, or be an existing trace directory.
    name:
        Trace name stored in the manifest.
    source:
        JSON-serialisable provenance dict (``kind``, ``model``, generator parameters, seed,
        command …).
    layers:
        The layers, in order. Names must be unique and all layers must share the token count M.
    sections:
        Optional manifest sections (:data:`SECTION_KEYS`), their files written after the
        layers' (numbered on from them), each file as it arrives.

    Returns
    -------
    Trace
        The written trace, as :func:`load_trace` returns it.

    Raises
    ------
    InputError
        If ``path`` is occupied by something that is not a trace, or a layer is malformed
        (missing ``x``/``w``, bad dtype, K mismatch, NaN/Inf in ``x``/``w`` …).
    """
    target = Path(path)
    if not isinstance(name, str) or not name:
        raise InputError("trace name must be a non-empty string", field="name")
    try:
        source_dict = json.loads(json.dumps(dict(source), sort_keys=False))
    except (TypeError, ValueError) as exc:
        raise InputError(f"source must be JSON-serialisable: {exc}", field="source") from exc
    occupied = target.exists() and not _is_trace_dir(target)
    if occupied and (not target.is_dir() or any(target.iterdir())):
        raise InputError(
            "refusing to overwrite: path exists and is not a trace directory", file=target
        )
    with staged_dir(target) as tmp:
        entries: list[dict[str, Any]] = []
        seen: set[str] = set()
        tokens: int | None = None
        for index, layer in enumerate(layers):
            arrays, m, k, n = _prepare_tensors(layer, index, tokens)
            if layer.name in seen:
                raise InputError(f"duplicate layer name {layer.name!r}", field=f"layers[{index}]")
            seen.add(layer.name)
            tokens = m
            file_name = _layer_file_name(index, layer.name)
            file_path = tmp / file_name
            tensor_meta = {
                t: {"dtype": a.dtype.name, "shape": list(a.shape)} for t, a in arrays.items()
            }
            save_file(arrays, str(file_path))
            del arrays
            sha = _sha256_file(file_path)
            entries.append(
                {
                    "name": layer.name,
                    "op": layer.op,
                    "file": file_name,
                    "tokens": m,
                    "k": k,
                    "n": n,
                    "sha256": sha,
                    "bytes": file_path.stat().st_size,
                    "tensors": tensor_meta,
                }
            )
        if tokens is None:
            raise InputError("a trace needs at least one layer", field="layers")
        manifest: dict[str, Any] = {
            "schema_version": SCHEMA_VERSION,
            "name": name,
            "tokens": tokens,
            "source": source_dict,
            "layers": entries,
        }
        index = len(entries)
        for section in sections:
            if section.key not in SECTION_KEYS or section.key in manifest:
                raise InputError(
                    f"unknown or repeated section {section.key!r} (known: "
                    f"{', '.join(SECTION_KEYS)})",
                    field="sections",
                )
            files: list[dict[str, Any]] = []
            for part in section.files:
                files.append(_write_section_file(tmp, index, part, section.key))
                index += 1
            manifest[section.key] = json.loads(
                json.dumps({**dict(section.meta), section.files_key: files})
            )
        with open(tmp / MANIFEST_NAME, "w", encoding="utf-8") as fh:
            json.dump(manifest, fh, indent=2)
            fh.write("\n")
    return load_trace(target)


# --------------------------------------------------------------------------------------------
# Loading
# --------------------------------------------------------------------------------------------


def _require(
    obj: Mapping[str, Any], key: str, kind: type | tuple[type, ...], file: Path, fld: str
) -> Any:
    if key not in obj:
        raise InputError("required field is missing", file=file, field=fld)
    value = obj[key]
    kinds = kind if isinstance(kind, tuple) else (kind,)
    if (int in kinds and isinstance(value, bool)) or not isinstance(value, kinds):
        names = " or ".join(k.__name__ for k in kinds)
        raise InputError(
            f"expected {names}, got {type(value).__name__} {echo(value)}", file=file, field=fld
        )
    return value


def _require_positive_int(obj: Mapping[str, Any], key: str, file: Path, fld: str) -> int:
    value: int = _require(obj, key, int, file, fld)
    if value <= 0:
        raise InputError(f"must be a positive integer, got {value}", file=file, field=fld)
    return value


def _reject_unknown(
    obj: Mapping[str, Any], allowed: tuple[str, ...], file: Path, prefix: str
) -> None:
    for key in obj:
        if key not in allowed:
            raise InputError(
                f"unknown field (allowed: {', '.join(allowed)})",
                file=file,
                field=f"{prefix}{key}",
            )


def _parse_shape(value: Any, file: Path, fld: str) -> tuple[int, ...]:
    if not isinstance(value, list) or not all(
        isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in value
    ):
        raise InputError(
            f"shape must be a list of non-negative integers, got {echo(value)}",
            file=file,
            field=fld,
        )
    if len(value) > MAX_TENSOR_RANK:
        raise InputError(
            f"shape has {len(value)} dimensions (at most {MAX_TENSOR_RANK})", file=file, field=fld
        )
    return tuple(value)


class _JSONProblem(Exception):
    """Raised by the JSON parse hooks of :func:`_parse_json`."""


def _json_object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise _JSONProblem(f"duplicate key {echo(key)} in an object")
        out[key] = value
    return out


def _json_constant(name: str) -> Any:
    raise _JSONProblem(f"{name} is not allowed (JSON has no NaN or Infinity)")


def _json_int(text: str) -> int:
    if len(text) > MAX_JSON_INT_DIGITS:
        raise _JSONProblem(
            f"integer of {len(text)} digits is too long (at most {MAX_JSON_INT_DIGITS})"
        )
    return int(text)


def _json_depth(value: Any) -> int:
    """Nesting depth of parsed JSON (iterative; a scalar is 0)."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, dict | list):
            depth += 1
            deepest = max(deepest, depth)
            if deepest > MAX_JSON_DEPTH:
                break
            children = node.values() if isinstance(node, dict) else node
            stack.extend((child, depth) for child in children)
    return deepest


def _parse_json(raw: bytes, what: str, file: Path, fld: str | None) -> Any:
    """Strict JSON of ``raw`` (UTF-8; no duplicate keys, NaN or Infinity, nor huge integers;
    at most :data:`MAX_JSON_DEPTH` levels); every problem is an InputError naming ``file``."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(
            f"{what} is not UTF-8 text (invalid byte at offset {exc.start})", file=file, field=fld
        ) from None
    try:
        value = json.loads(
            text,
            object_pairs_hook=_json_object,
            parse_constant=_json_constant,
            parse_int=_json_int,
        )
    except json.JSONDecodeError as exc:
        raise InputError(
            f"{what} is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}",
            file=file,
            field=fld,
        ) from None
    except _JSONProblem as exc:
        raise InputError(f"{what}: {exc}", file=file, field=fld) from None
    except RecursionError:
        raise InputError(
            f"{what} is nested more than {MAX_JSON_DEPTH} levels deep", file=file, field=fld
        ) from None
    if _json_depth(value) > MAX_JSON_DEPTH:
        raise InputError(
            f"{what} is nested more than {MAX_JSON_DEPTH} levels deep", file=file, field=fld
        )
    return value


def _inside_trace(
    path: Path, trace_dir: Path, fld: str | None, what: str
) -> tuple[Path, os.stat_result]:
    """Refuse ``path`` (a direct child of ``trace_dir``) unless it is a regular file inside the
    trace directory: a symbolic link is followed only when its target is inside the trace
    directory too. Checked with ``lstat``, before anything is opened, so nothing is read from a
    target outside the trace (and the message says nothing of it).

    Returns the path to open (``path``, or the resolved target of a link) and its ``lstat``:
    :func:`_open_inside` opens exactly that file and nothing else."""
    try:
        st = path.lstat()
    except FileNotFoundError:
        raise InputError(f"{what} is missing", file=path, field=fld) from None
    except (OSError, ValueError) as exc:
        raise InputError(
            f"cannot read {what} ({exc.__class__.__name__})", file=path, field=fld
        ) from None
    checked = path
    if stat.S_ISLNK(st.st_mode):
        try:
            target = path.resolve(strict=True)
            root = trace_dir.resolve(strict=True)
        except (OSError, RuntimeError):
            raise InputError(
                f"{what} is a symbolic link that cannot be followed", file=path, field=fld
            ) from None
        if not target.is_relative_to(root):
            raise InputError(
                f"{what} is a symbolic link to a file outside the trace directory (refused)",
                file=path,
                field=fld,
            )
        checked = target
        try:
            st = target.lstat()  # resolved: the file itself, not a link
        except OSError:
            raise InputError(
                f"{what} is a symbolic link that cannot be followed", file=path, field=fld
            ) from None
    if not stat.S_ISREG(st.st_mode):
        kind = "a directory" if stat.S_ISDIR(st.st_mode) else "not a regular file"
        raise InputError(f"{what} is {kind}", file=path, field=fld)
    return checked, st


_OPEN_FLAGS = (
    os.O_RDONLY
    | getattr(os, "O_NOFOLLOW", 0)  # the checked name is not a link: never follow one
    | getattr(os, "O_NONBLOCK", 0)  # a FIFO swapped in is not waited for (refused below)
    | getattr(os, "O_CLOEXEC", 0)
    | getattr(os, "O_BINARY", 0)
)


def _open_inside(path: Path, trace_dir: Path, fld: str | None, what: str) -> io.FileIO:
    """``path`` opened for reading once :func:`_inside_trace` accepts it, as one act.

    The name that was checked is opened without following a symbolic link (``O_NOFOLLOW``),
    and the opened descriptor must be the very file that was checked (same device and inode):
    a file swapped for a link or another file between the check and the open is refused, not
    read. Everything is then read from the returned file, never again by name.
    """
    checked, st = _inside_trace(path, trace_dir, fld, what)
    try:
        fd = os.open(checked, _OPEN_FLAGS)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise InputError(
                f"{what} became a symbolic link while being opened (refused)",
                file=path,
                field=fld,
            ) from None
        raise InputError(
            f"cannot read {what} ({exc.__class__.__name__})", file=path, field=fld
        ) from None
    try:
        opened = os.fstat(fd)
        if (opened.st_dev, opened.st_ino) != (st.st_dev, st.st_ino) or not stat.S_ISREG(
            opened.st_mode
        ):
            raise InputError(
                f"{what} was replaced while being opened (refused)", file=path, field=fld
            )
        if hasattr(os, "set_blocking"):
            os.set_blocking(fd, True)
        return io.FileIO(fd, "rb", closefd=True)
    except BaseException:
        os.close(fd)
        raise


def _read_header(fh: io.FileIO, file: Path, size: int) -> dict[str, Any]:
    """Parse the safetensors header of the open layer file ``fh`` (named ``file``, ``size``
    bytes): u64 little-endian length, then that many bytes of JSON."""
    if size < 8:
        raise InputError(
            f"file is {size} bytes, too short for a safetensors header", file=file, field="header"
        )
    try:
        fh.seek(0)
        prefix = _read_exactly(fh, 8)
        if len(prefix) < 8:
            raise InputError(
                "file ended before its safetensors header (modified while read?)",
                file=file,
                field="header",
            )
        (length,) = struct.unpack("<Q", prefix)
        if length > size - 8:
            raise InputError(
                f"header length {length} exceeds the file size {size} (truncated or not "
                "a safetensors file)",
                file=file,
                field="header",
            )
        if length > MAX_HEADER_BYTES:
            raise InputError(
                f"header length {length} is more than the {MAX_HEADER_BYTES}-byte limit "
                "(not a layer file of a trace)",
                file=file,
                field="header",
            )
        raw = _read_exactly(fh, length)
    except OSError as exc:
        raise InputError(f"cannot read layer file: {exc}", file=file, field="header") from exc
    header = _parse_json(raw, "safetensors header", file, "header")
    if not isinstance(header, dict):
        raise InputError("safetensors header is not a JSON object", file=file, field="header")
    header["__data_start__"] = 8 + length
    return header


def _read_exactly(fh: io.FileIO, size: int) -> bytes:
    """``size`` bytes from ``fh`` (an unbuffered file may return fewer per read); fewer only
    at the end of the file."""
    chunks: list[bytes] = []
    while size > 0:
        chunk = fh.read(size)
        if not chunk:
            break
        chunks.append(chunk)
        size -= len(chunk)
    return b"".join(chunks)


def _header_specs(fh: io.FileIO, file: Path, size: int) -> dict[str, TensorSpec]:
    header = _read_header(fh, file, size)
    data_start: int = header.pop("__data_start__")
    header.pop("__metadata__", None)
    data_len = size - data_start
    specs: dict[str, TensorSpec] = {}
    for tname, entry in header.items():
        if not isinstance(entry, dict):
            raise InputError("header entry is not an object", file=file, field=tname)
        st_dtype = entry.get("dtype")
        if not isinstance(st_dtype, str) or st_dtype not in _ST_TO_NUMPY:
            raise InputError(
                f"unsupported dtype {echo(st_dtype)} (allowed: {', '.join(_ST_TO_NUMPY)})",
                file=file,
                field=tname,
            )
        dtype = _ST_TO_NUMPY[st_dtype]
        shape = _parse_shape(entry.get("shape"), file, tname)
        offsets = entry.get("data_offsets")
        if (
            not isinstance(offsets, list)
            or len(offsets) != 2
            or not all(isinstance(o, int) and not isinstance(o, bool) for o in offsets)
        ):
            raise InputError(f"bad data_offsets {echo(offsets)}", file=file, field=tname)
        begin, end = offsets
        if not 0 <= begin <= end <= data_len:
            raise InputError(
                f"data_offsets [{begin}, {end}] lie outside the {data_len}-byte data region "
                "(file truncated?)",
                file=file,
                field=tname,
            )
        nbytes = math.prod(shape) * np.dtype(dtype).itemsize
        if end - begin != nbytes:
            needs = f"{nbytes}" if nbytes <= data_len else f"more than the file's {data_len}"
            raise InputError(
                f"data_offsets span {end - begin} bytes but {dtype} {echo(list(shape))} needs "
                f"{needs}",
                file=file,
                field=tname,
            )
        specs[tname] = TensorSpec(tname, dtype, shape, data_start + begin, nbytes)
    return specs


def _entry_file_name(entry: dict[str, Any], where: str, manifest: Path, what: str) -> str:
    """The ``file`` of a manifest entry: a plain ``*.safetensors`` name inside the trace."""
    file_name: str = _require(entry, "file", str, manifest, f"{where}.file")
    if len(file_name) > 255 or not _LAYER_FILE_RE.match(file_name):
        raise InputError(
            f"{what} must be a plain '*.safetensors' name inside the trace (letters, digits, "
            f"'.', '_', '-'; at most 255 characters), got {echo(file_name)}",
            file=manifest,
            field=f"{where}.file",
        )
    return file_name


def _entry_table(
    entry: dict[str, Any], where: str, manifest: Path
) -> tuple[str, int, dict[str, tuple[str, tuple[int, ...]]]]:
    """``sha256``, ``bytes`` and the tensor table (name → (dtype, shape)) of a manifest entry,
    the table checked for internal consistency."""
    sha: str = _require(entry, "sha256", str, manifest, f"{where}.sha256")
    if not _SHA256_RE.match(sha):
        raise InputError("must be 64 lower-case hex digits", file=manifest, field=f"{where}.sha256")
    size_bytes: int = _require(entry, "bytes", int, manifest, f"{where}.bytes")
    tensors: dict[str, Any] = _require(entry, "tensors", dict, manifest, f"{where}.tensors")
    declared: dict[str, tuple[str, tuple[int, ...]]] = {}
    for tname, meta in tensors.items():
        fld = f"{where}.tensors.{tname}"
        if not isinstance(meta, dict):
            raise InputError("tensor entry must be an object", file=manifest, field=fld)
        _reject_unknown(meta, ("dtype", "shape"), manifest, f"{fld}.")
        dtype: str = _require(meta, "dtype", str, manifest, f"{fld}.dtype")
        if dtype not in _NUMPY_TO_ST:
            raise InputError(
                f"unsupported dtype {echo(dtype)}", file=manifest, field=f"{fld}.dtype"
            )
        declared[tname] = (dtype, _parse_shape(meta.get("shape"), manifest, f"{fld}.shape"))
    return sha, size_bytes, declared


def _entry_file_specs(
    file: Path,
    trace_dir: Path,
    where: str,
    size_bytes: int,
    declared: dict[str, tuple[str, tuple[int, ...]]],
    what: str,
    required: tuple[str, ...] = (),
) -> dict[str, TensorSpec]:
    """The tensors of ``file`` (opened inside the trace) after checking its size against the
    manifest's ``bytes``, that it has the ``required`` tensors, and that its tensors are
    exactly the manifest's ``declared`` ones, with their dtypes and shapes."""
    with _open_inside(file, trace_dir, f"{where}.file", what) as fh:
        actual_size = os.fstat(fh.fileno()).st_size
        if actual_size != size_bytes:
            raise InputError(
                f"file is {actual_size} bytes but the manifest says {size_bytes} "
                "(truncated or modified)",
                file=file,
                field=f"{where}.bytes",
            )
        specs = _header_specs(fh, file, actual_size)
    for req in required:
        if req not in specs:
            raise InputError(f"{what} has no tensor {req!r}", file=file, field=req)
    for tname, spec in specs.items():
        if tname not in declared:
            raise InputError(
                "tensor is in the file but not in the manifest", file=file, field=tname
            )
        dtype, shape = declared[tname]
        if (spec.dtype, spec.shape) != (dtype, shape):
            raise InputError(
                f"file has {spec.dtype} {list(spec.shape)}, manifest says {dtype} {list(shape)}",
                file=file,
                field=tname,
            )
    for tname in declared:
        if tname not in specs:
            raise InputError(
                "tensor is in the manifest but not in the file", file=file, field=tname
            )
    return specs


def _load_layer(entry: Any, index: int, trace_dir: Path, manifest: Path) -> TraceLayer:
    where = f"layers[{index}]"
    if not isinstance(entry, dict):
        raise InputError("layer entry must be an object", file=manifest, field=where)
    _reject_unknown(entry, _LAYER_KEYS, manifest, f"{where}.")
    name: str = _require(entry, "name", str, manifest, f"{where}.name")
    op: str = _require(entry, "op", str, manifest, f"{where}.op")
    file_name = _entry_file_name(entry, where, manifest, "layer file")
    tokens = _require_positive_int(entry, "tokens", manifest, f"{where}.tokens")
    k = _require_positive_int(entry, "k", manifest, f"{where}.k")
    n = _require_positive_int(entry, "n", manifest, f"{where}.n")
    sha, size_bytes, declared = _entry_table(entry, where, manifest)
    expected_shapes = {"x": (tokens, k), "w": (n, k)}
    for req, want in expected_shapes.items():
        if req not in declared:
            raise InputError(
                f"layer has no tensor {req!r}", file=manifest, field=f"{where}.tensors.{req}"
            )
        dtype, shape = declared[req]
        if dtype not in _FLOAT_DTYPES:
            raise InputError(
                f"{req} must be float16 or float32, got {dtype}",
                file=manifest,
                field=f"{where}.tensors.{req}.dtype",
            )
        if shape != want:
            raise InputError(
                f"{req} shape {list(shape)} disagrees with tokens={tokens}, k={k}, n={n} "
                f"(expected {list(want)})",
                file=manifest,
                field=f"{where}.tensors.{req}.shape",
            )

    file = trace_dir / file_name
    specs = _entry_file_specs(file, trace_dir, where, size_bytes, declared, "layer file",
                              required=("x", "w"))
    return TraceLayer(
        name=name,
        op=op,
        tokens=tokens,
        k=k,
        n=n,
        file=file,
        sha256=sha,
        size_bytes=size_bytes,
        specs=tuple(specs[t] for t in declared),
    )


def load_tensor_file(
    entry: Any, where: str, trace_dir: Path, manifest: Path, keys: tuple[str, ...] = ()
) -> TraceFile:
    """Check one section file's manifest entry (``file``, ``sha256``, ``bytes``, ``tensors``,
    plus the section's own ``keys``, checked by the caller) against the file: its name, size
    and safetensors header, every tensor's dtype and shape as the manifest says. Errors name
    ``where`` (``decode.layers[2]``) and the field."""
    if not isinstance(entry, dict):
        raise InputError("file entry must be an object", file=manifest, field=where)
    _reject_unknown(entry, (*keys, *_FILE_KEYS), manifest, f"{where}.")
    file_name = _entry_file_name(entry, where, manifest, "file")
    sha, size_bytes, declared = _entry_table(entry, where, manifest)
    file = trace_dir / file_name
    specs = _entry_file_specs(file, trace_dir, where, size_bytes, declared, "trace file")
    return TraceFile(
        file=file, sha256=sha, size_bytes=size_bytes, specs=tuple(specs[t] for t in declared)
    )


def _read_manifest(manifest: Path, trace_dir: Path) -> bytes:
    """The bytes of ``manifest.json``, checked to be a file inside the trace and read from the
    file checked (:func:`_open_inside`): a bounded read of at most :data:`MAX_MANIFEST_BYTES`."""
    try:
        with _open_inside(manifest, trace_dir, None, "manifest") as fh:
            raw = _read_exactly(fh, MAX_MANIFEST_BYTES + 1)
    except OSError as exc:
        raise InputError(
            f"cannot read manifest ({exc.__class__.__name__})", file=manifest
        ) from None
    if len(raw) > MAX_MANIFEST_BYTES:
        raise InputError(
            f"manifest is more than the {MAX_MANIFEST_BYTES}-byte limit", file=manifest
        )
    return raw


TRACE_PHASES = ("prefill", "decode", "both")
"""Values of :func:`load_trace`'s ``phase``: which of a trace's layers it yields."""


def load_trace(path: str | os.PathLike[str], *, phase: str | None = None) -> Trace:
    """Open a trace directory and validate everything except the tensor data.

    Checks the manifest (JSON, ``schema_version`` 1, required fields and their types), and for
    every layer: the file exists, its size equals the manifest's ``bytes``, its safetensors
    header parses with every tensor's ``data_offsets`` inside the file, ``x`` is
    ``[tokens, k]`` and ``w`` is ``[n, k]`` (float16/float32), and the header agrees with the
    manifest's tensor table. Checksums are verified lazily, on first tensor access.

    Parameters
    ----------
    path:
        The trace directory (the one holding ``manifest.json``).
    phase:
        Which layers :attr:`Trace.layers` holds. ``None`` (default): the linear layers of the
        manifest's ``layers`` list, what a trace has always held (so a trace extracted with
        ``--attention`` / ``--decode-steps`` gives the same numbers as before unless asked);
        ``prefill``: those and the attention matmuls of the recorded pass; ``decode``: the
        recorded decode steps (``--decode-steps``); ``both``: prefill then decode. Asking a
        trace for a phase it did not record (``decode`` without a decode part) is an error.
        With recorded attention, a phase also holds the vector operators (RMSNorm, RoPE, KV
        write, softmax, residual adds, SiLU·up) of every block whose attention was recorded,
        as a named shape of the trace's dimensions places them
        (:func:`spikesim.trace.recorded.recorded_layers`).

    Returns
    -------
    Trace

    Raises
    ------
    InputError
        Naming the file and the field at fault (e.g. ``field="layers[3].bytes"``).
    """
    if phase is not None and phase not in TRACE_PHASES:
        raise InputError(f"phase must be one of {', '.join(TRACE_PHASES)}, got {echo(phase)}",
                         field="phase")
    trace_dir = Path(path)
    if not trace_dir.is_dir():
        what = "is not a directory" if trace_dir.exists() else "does not exist"
        raise InputError(f"trace directory {what}", file=trace_dir)
    manifest = trace_dir / MANIFEST_NAME
    if not manifest.exists() and not manifest.is_symlink():
        raise InputError("trace has no manifest.json", file=manifest)
    data = _parse_json(_read_manifest(manifest, trace_dir), "manifest", manifest, None)
    if not isinstance(data, dict):
        raise InputError("manifest must be a JSON object", file=manifest)
    version = _require(data, "schema_version", int, manifest, "schema_version")
    if version != SCHEMA_VERSION:
        raise InputError(
            f"unsupported schema_version {version} (this spikesim reads {SCHEMA_VERSION})",
            file=manifest,
            field="schema_version",
        )
    _reject_unknown(data, _TOP_KEYS, manifest, "")
    name: str = _require(data, "name", str, manifest, "name")
    tokens = _require_positive_int(data, "tokens", manifest, "tokens")
    source: dict[str, Any] = _require(data, "source", dict, manifest, "source")
    raw_layers: list[Any] = _require(data, "layers", list, manifest, "layers")
    if not raw_layers:
        raise InputError("a trace needs at least one layer", file=manifest, field="layers")
    layers: list[TraceLayer] = []
    seen_names: set[str] = set()
    seen_files: set[str] = set()
    for index, entry in enumerate(raw_layers):
        layer = _load_layer(entry, index, trace_dir, manifest)
        if layer.name in seen_names:
            raise InputError(
                f"duplicate layer name {layer.name!r}", file=manifest, field=f"layers[{index}].name"
            )
        if layer.file.name in seen_files:
            raise InputError(
                f"duplicate layer file {layer.file.name!r}",
                file=manifest,
                field=f"layers[{index}].file",
            )
        if layer.tokens != tokens:
            raise InputError(
                f"layer has {layer.tokens} tokens but the trace has {tokens}",
                file=manifest,
                field=f"layers[{index}].tokens",
            )
        seen_names.add(layer.name)
        seen_files.add(layer.file.name)
        layers.append(layer)
    sections = {key: data[key] for key in SECTION_KEYS if key in data}
    if not sections:
        if phase == "decode":
            _of_phase((), phase, manifest)
        return Trace(
            path=trace_dir,
            name=name,
            tokens=tokens,
            source=source,
            schema_version=version,
            layers=tuple(layers),
        )
    if not _section_reader:  # pragma: no cover - spikesim.trace imports the reader
        raise InputError("no reader of the manifest's sections is installed (import "
                         "spikesim.trace)", file=manifest, field=next(iter(sections)))
    items, recorded = _section_reader[0](
        sections, trace_dir, manifest, tuple(layers), tokens, seen_files, phase
    )
    decode = getattr(recorded, "decode", None)
    generated = decode.steps * decode.sequences if decode is not None else 0
    run_tokens = {"decode": generated, "both": tokens + generated}.get(phase or "", tokens)
    return Trace(
        path=trace_dir,
        name=name,
        tokens=run_tokens,
        source=source,
        schema_version=version,
        layers=_of_phase(items, phase, manifest),
        recorded=recorded,
    )


def _of_phase(items: tuple[TraceEntry, ...], phase: str | None, manifest: Path
              ) -> tuple[TraceEntry, ...]:
    """The layers of ``phase`` (``both``: all of them, in order; None: the manifest's linear
    layers)."""
    if phase is None:
        return tuple(item for item in items if isinstance(item, TraceLayer))
    if phase == "both":
        return items
    chosen = tuple(item for item in items if str(item.phase) == phase)
    if not chosen:
        raise InputError(
            f"the trace has no {phase} layers (a decode part is recorded by "
            "spikesim extract --decode-steps N)",
            file=manifest,
            field="phase",
        )
    return chosen


ExtraTensors = Callable[[np.ndarray, np.ndarray], Mapping[str, np.ndarray]]
"""``extra(x, w) -> {name: array}``: tensors computed from a layer's float ``x`` and ``w`` and
stored beside them (e.g. a quantization method's integers; see ``spikesim.quant.stored``)."""


def with_extra_tensors(
    layers: Iterable[LayerTensors], extra: ExtraTensors | None
) -> Iterator[LayerTensors]:
    """The layer stream with ``extra(x, w)`` added to each layer's tensors (streaming)."""
    for layer in layers:
        if extra is None:
            yield layer
            continue
        tensors = dict(layer.tensors)
        added = extra(np.asarray(tensors["x"]), np.asarray(tensors["w"]))
        clash = set(added) & set(tensors)
        if clash:
            raise ValueError(f"extra tensors would overwrite {sorted(clash)}")
        tensors.update(added)
        yield LayerTensors(name=layer.name, op=layer.op, tensors=tensors)


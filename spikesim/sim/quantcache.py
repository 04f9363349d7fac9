"""A content-addressed on-disk cache of quantized layers, shared by runs and sweep workers.

A sweep over hardware-only axes (lanes, banks, SRAM sizes, dataflow, latch) would quantize every
layer again at every point, although the quantization depends only on the layer's values and
on the few :class:`~spikesim.config.quant.QuantConfig` fields its quantizer reads. The first
run stores what :meth:`Design.quantize <spikesim.dataflows.base.Design.quantize>` returned; the
next ones load it (and need not even read the layer's floats).

**Key** (:func:`entry_key`): the SHA-256 of the canonical JSON (sorted keys, no spaces) of

- ``format``: :data:`FORMAT` (the entry layout), ``quantizers``: :data:`QUANTIZER_VERSION` (bump
  it when a quantizer's output changes) and ``quant_source``: the SHA-256 of the source of
  :mod:`spikesim.quant` (every ``.py`` file, sorted by name: any edit of a quantizer misses),
  ``spikesim``: the installed version string;
- ``layer``: :attr:`WorkloadLayer.sha256 <spikesim.trace.WorkloadLayer.sha256>` (the layer file's
  SHA-256, or the digest of a generated layer's recipe);
- ``quantization``: the design's quantization (``spiking/spikequant``, ``mac/quantize_atom`` …);
- ``quant``: the fields that quantization reads (:data:`spikesim.quant.layer.QUANT_FIELDS`,
  :data:`spikesim.quant.baselines.QUANT_FIELDS`), as ``hw.quant.model_dump(mode="json")``
  gives them — no other field (a sweep over the spike codings hits).

The layer's name and operator are not in the key (no quantizer reads them): an entry is given
the current layer's.

**Output totals** (:class:`FunctionalMemo`): a spiking layer taken from (or put in) the cache
carries a memo of its exact outputs' totals (output spikes, overflow events), one small
``<64 hex digits>.fo`` file per functional key (acc_bits, frac_bits, fire_cycles, reset rule,
initial membrane: :meth:`~spikesim.hw.params.ArrayParams.functional_key`). A hardware point
that changes only timing fields (lanes, banks, FIFOs, SRAM sizes, codings, dataflow) finds
them and skips the exact matmul. They are bounded, listed and cleared with the entries.

**Entries**: ``$SPIKESIM_CACHE/quantized/<64 hex digits>.q`` (default
``~/.cache/spikesim``), one file each: a magic line, the SHA-256 of the rest, the length of a
JSON header (scalars; each array's dtype from a short list, shape, place and packing) and the
arrays' bytes, masks as bits and small integers in 4 or 8 bits (:mod:`.packing`). No
pickle: a file is read only after its checksum matched, and then only as numbers.
A truncated or corrupt entry is a miss and is removed. Writes go through
:func:`spikesim.fsutil.atomic_write_file` (temporary file beside it, then a rename; not
fsync'ed: after a crash an entry is whole, absent, or caught by its checksum), so
concurrent workers writing one key leave one whole entry; the temporary files of killed writers
are removed at each scan of the folder (not at every write: a listing of a folder of tens of
thousands of entries per write made the cache quadratic to fill). A hit refreshes the entry's
modification time. The directory holds at most ``SPIKESIM_CACHE_MAX_BYTES`` (default 2 GiB):
a run scans it once, then counts what it writes, and when that count passes the bound it removes
the least recently used entries down to 7/8 of it (so a full cache is scanned once per bound/8
bytes written, not on every write: a run of thousands of small layers stays linear). Writers in
other processes are seen at the next scan, at the latest after bound/8 bytes of one's own
writes, so together they can overshoot the bound by about that much. A run writes the
entries of the layers :func:`admitted_layers` admits (as many of its layers as fit in 7/8 of
the bound, in counting order), so a run larger than the cache does not evict its own entries.
Only names of that exact pattern are ever read or removed. ``SPIKESIM_NO_CACHE=1`` (or
``cache=False``: the ``--no-cache`` flags) turns the cache off; an unwritable cache directory
only costs quantizing.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import stat
import struct
import threading
import time
from collections.abc import Callable, Collection, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from spikesim.config.quant import QuantConfig
from spikesim.fsutil import atomic_write_file, remove_stale_files
from spikesim.quant import baselines
from spikesim.quant import layer as quant_layer
from spikesim.quant.baselines import GemmPass, LazyWeights, MacQuantized, pass_weights
from spikesim.quant.layer import Method, QuantizedLayer
from spikesim.sim.packing import PACKED_NBYTES, pack_array, unpack_array
from spikesim.trace.vector import VectorLayer
from spikesim.trace.verified import cache_dir, disk_cache_enabled

FORMAT = 2
"""Layout of an entry file (bump on any change of :func:`encode`; 2: arrays packed,
:func:`~spikesim.sim.packing.pack_array`, a spiking layer's codes split into normal and
salient)."""

QUANTIZER_VERSION = 1
"""Bump when a quantizer's output changes for the same inputs and fields (the source digest in
the key catches edits of :mod:`spikesim.quant` as well; this covers changes elsewhere)."""

DEFAULT_MAX_BYTES = 2 * 1024**3
"""Default bound of the cache directory (``SPIKESIM_CACHE_MAX_BYTES``)."""

SUBDIR = "quantized"
SUFFIX = ".q"
_MAGIC = b"SPIKESIM-QUANTIZED\n"
_ENTRY = re.compile(r"^[0-9a-f]{64}\.(q|fo)$")
_ENTRY_NAME = re.compile(r"[0-9a-f]{64}\.(q|fo)")
TOTALS_SUFFIX = ".fo"
"""Suffix of a functional-totals file (:class:`FunctionalMemo`)."""
_DTYPES = frozenset({"|b1", "|i1", "<i2", "<i4", "<i8", "<f2", "<f4", "<f8"})
"""Array dtypes an entry may hold (little-endian numbers and booleans only)."""

Inputs = Callable[[], tuple[NDArray[np.float32], NDArray[np.float32]]]
"""Gives the layer's ``(x, w)`` floats (read only on a miss)."""


# --------------------------------------------------------------------------------------------
# Key
# --------------------------------------------------------------------------------------------


def quantization_fields(quantization: object) -> tuple[str, tuple[str, ...]] | None:
    """``(name, QuantConfig fields read)`` of a design's :attr:`quantization`, or None for one
    this cache does not know (such a design is never cached)."""
    if isinstance(quantization, tuple) and len(quantization) == 2:
        family, how = quantization
        if family == "spiking" and isinstance(how, Method) and how in quant_layer.QUANT_FIELDS:
            return f"spiking/{how.value}", quant_layer.QUANT_FIELDS[how]
        if family == "mac" and how in baselines.QUANT_FIELDS:
            return f"mac/{how.__name__}", baselines.QUANT_FIELDS[how]
    return None


_source_digest: str | None = None


def quant_source_sha256() -> str:
    """SHA-256 of the source files of :mod:`spikesim.quant` (names and bytes, sorted)."""
    global _source_digest
    if _source_digest is None:
        digest = hashlib.sha256()
        folder = Path(quant_layer.__file__).parent
        for file in sorted(folder.glob("*.py")):
            digest.update(file.name.encode() + b"\0" + file.read_bytes() + b"\0")
        _source_digest = digest.hexdigest()
    return _source_digest


def key_contents(layer_sha256: str, quantization: object, quant: QuantConfig) -> dict[str, Any]:
    """What :func:`entry_key` hashes (see the module docstring); KeyError for an unknown
    quantization."""
    known = quantization_fields(quantization)
    if known is None:
        raise KeyError(f"no cache key for quantization {quantization!r}")
    from spikesim.version import __version__

    name, fields = known
    dumped = quant.model_dump(mode="json")
    return {
        "format": FORMAT,
        "quantizers": QUANTIZER_VERSION,
        "quant_source": quant_source_sha256(),
        "spikesim": __version__,
        "layer": layer_sha256,
        "quantization": name,
        "quant": {f: dumped[f] for f in fields},
    }


def entry_key(layer_sha256: str, quantization: object, quant: QuantConfig) -> str | None:
    """The entry's 64 hex digits, or None if the quantization is unknown here (remembered per
    process under the layer, the quantization and the typed values of the fields it reads,
    when they are hashable: a sweep asks for the same keys at every point)."""
    known = quantization_fields(quantization)
    if known is None:
        return None
    values = tuple((type(v), v) for v in (getattr(quant, f) for f in known[1]))
    memo_key: tuple[Any, ...] | None = (FORMAT, QUANTIZER_VERSION, layer_sha256, known[0],
                                         values)
    try:
        found = _entry_keys.get(memo_key)  # type: ignore[arg-type]
    except TypeError:  # a section (a model) is not hashable: not remembered
        memo_key, found = None, None
    if found is not None:
        return found
    contents = key_contents(layer_sha256, quantization, quant)
    text = json.dumps(contents, sort_keys=True, separators=(",", ":"), allow_nan=False)
    key = hashlib.sha256(text.encode("utf-8")).hexdigest()
    if memo_key is not None:
        if len(_entry_keys) >= 1 << 16:
            _entry_keys.clear()
        _entry_keys[memo_key] = key
    return key


_entry_keys: dict[tuple[Any, ...], str] = {}
"""The keys :func:`entry_key` made in this process."""


# --------------------------------------------------------------------------------------------
# Entry format
# --------------------------------------------------------------------------------------------


class _Corrupt(ValueError):
    """An entry that is not what :func:`encode` writes."""


def encode(quantized: QuantizedLayer | MacQuantized) -> bytes:
    """The entry bytes of a quantized layer (its name and operator left out)."""
    return b"".join(encode_parts(quantized))


def encode_parts(quantized: QuantizedLayer | MacQuantized) -> list[bytes | memoryview]:
    """:func:`encode`'s bytes as consecutive parts: the magic line with the checksum and the
    header, then each array's own buffer (no copy of the arrays: a llama2-7b layer's entry is
    ~100 MB, and two copies of it cost more than hashing and writing it)."""
    arrays: list[NDArray[Any]] = []

    def put(a: NDArray[Any]) -> int:
        arrays.append(np.ascontiguousarray(a))
        return len(arrays) - 1

    if isinstance(quantized, QuantizedLayer):
        q = quantized
        header: dict[str, Any] = {
            "kind": "spiking",  # x_q as its normal codes (salient places 0) + salient values
            "x_normal": put(np.where(q.salient, 0, q.x_q).astype(q.x_q.dtype, copy=False)),
            "x_salient": put(q.x_q[q.salient]),
            "salient": put(q.salient), "x_scale": put(q.x_scale),
            "w_q": put(q.w_q), "w_scale": put(q.w_scale),
            "output_scale": float(q.output_scale), "act_bits": q.act_bits,
            "salient_bits": q.salient_bits, "weight_bits": q.weight_bits,
            "output_bits": q.output_bits, "method": q.method.value,
        }
    else:
        m = quantized
        header = {
            "kind": "mac", "tokens": m.tokens, "k": m.k, "n": m.n, "floating": m.floating,
            "salient_ratio": float(m.salient_ratio),
            "act_bits_per_token": m.act_bits_per_token, "weight_bits": m.weight_bits,
            "output_bits": m.output_bits,
            "passes": [
                {"label": p.label, "channels": put(p.channels), "x_q": put(p.x_q),
                 "x_scale": put(p.x_scale), "act_bits": p.act_bits,
                 "weight_bits": p.weight_bits, "dequantized": p.dequantized,
                 "group_size": p.group_size}
                for p in m.passes
            ],
        }
    specs: list[dict[str, Any]] = []
    stored: list[NDArray[Any]] = []
    offset = 0
    for a in arrays:
        dtype = a.dtype.newbyteorder("<") if a.dtype.byteorder == ">" else a.dtype
        if dtype.str not in _DTYPES:
            raise TypeError(f"cannot cache an array of dtype {a.dtype}")
        packing, data = pack_array(a.astype(dtype, copy=False))
        specs.append({"dtype": dtype.str, "shape": list(a.shape), "offset": offset,
                      "pack": packing, "nbytes": int(data.nbytes)})
        stored.append(data)
        offset += data.nbytes
    header["arrays"] = specs
    head = json.dumps(header, sort_keys=True, separators=(",", ":"), allow_nan=False).encode()
    body: list[bytes | memoryview] = [struct.pack("<Q", len(head)) + head]
    body.extend(np.ascontiguousarray(d).reshape(-1).view(np.uint8).data for d in stored)
    digest = hashlib.sha256()
    for part in body:
        digest.update(part)
    return [_MAGIC + digest.hexdigest().encode() + b"\n", *body]


def decode(data: bytearray, name: str, op: str,
           weights: Callable[[], NDArray[np.float32]]) -> QuantizedLayer | MacQuantized:
    """The quantized layer of entry bytes ``data`` (checked whole first), named ``name``/``op``;
    a MAC layer's lazy weights come from ``weights()``. Raises :class:`_Corrupt`."""
    start = len(_MAGIC) + 65
    if len(data) < start + 8 or bytes(data[: len(_MAGIC)]) != _MAGIC:
        raise _Corrupt("bad magic or truncated")
    body = memoryview(data)[start:]
    if hashlib.sha256(body).hexdigest().encode() != bytes(data[len(_MAGIC) : start - 1]):
        raise _Corrupt("checksum mismatch")
    (head_len,) = struct.unpack_from("<Q", body, 0)
    try:
        header = json.loads(bytes(body[8 : 8 + head_len]))
        arrays = _arrays(body[8 + head_len :], header["arrays"])

        def arr(i: int) -> NDArray[Any]:
            return arrays[i]

        if header["kind"] == "spiking":
            x_q, salient = arr(header["x_normal"]), arr(header["salient"])
            places, values = np.flatnonzero(salient), arr(header["x_salient"])
            if salient.shape != x_q.shape or values.shape != places.shape:
                raise _Corrupt("salient values do not match their mask")
            x_q.reshape(-1)[places] = values  # 3-4x faster than through the boolean mask
            return QuantizedLayer(
                name=name, op=op, x_q=x_q, salient=salient,
                x_scale=arr(header["x_scale"]), w_q=arr(header["w_q"]),
                w_scale=arr(header["w_scale"]), output_scale=float(header["output_scale"]),
                act_bits=int(header["act_bits"]), salient_bits=int(header["salient_bits"]),
                weight_bits=int(header["weight_bits"]), output_bits=int(header["output_bits"]),
                method=Method(header["method"]),
            )
        if header["kind"] == "mac":
            floating = bool(header["floating"])
            shared: dict[tuple[bytes, int, int | None], LazyWeights] = {}
            passes = []
            for p in header["passes"]:
                channels = arr(p["channels"])
                group = None if p["group_size"] is None else int(p["group_size"])
                bits = int(p["weight_bits"])
                wkey = (channels.tobytes(), bits, group)
                if wkey not in shared:  # passes over the same channels share one (SpikeLLM)
                    shared[wkey] = pass_weights(weights, floating, bits, channels, group)
                passes.append(GemmPass(
                    str(p["label"]), channels, arr(p["x_q"]), arr(p["x_scale"]), shared[wkey],
                    int(p["act_bits"]), bits, dequantized=bool(p["dequantized"]),
                    group_size=group,
                ))
            return MacQuantized(
                name, op, int(header["tokens"]), int(header["k"]), int(header["n"]),
                tuple(passes), floating, float(header["salient_ratio"]),
                int(header["act_bits_per_token"]), int(header["weight_bits"]),
                int(header["output_bits"]),
            )
        raise _Corrupt("unknown kind")
    except (KeyError, TypeError, ValueError, IndexError, AttributeError) as exc:
        raise _Corrupt(str(exc)) from exc


def _arrays(blob: memoryview, specs: list[dict[str, Any]]) -> list[NDArray[Any]]:
    out = []
    for s in specs:
        if s["dtype"] not in _DTYPES:
            raise _Corrupt(f"dtype {s['dtype']!r}")
        packing = s["pack"]
        if packing not in PACKED_NBYTES:
            raise _Corrupt(f"packing {packing!r}")
        dtype = np.dtype(s["dtype"])
        shape = tuple(int(d) for d in s["shape"])
        count = int(np.prod(shape, dtype=np.int64))
        offset, nbytes = int(s["offset"]), int(s["nbytes"])
        if (min(shape, default=0) < 0 or offset < 0 or offset + nbytes > len(blob)
                or nbytes != PACKED_NBYTES[packing](count, dtype.itemsize)):
            raise _Corrupt("array outside the entry")
        data = np.frombuffer(blob, dtype=np.uint8, count=nbytes, offset=offset)
        out.append(unpack_array(data, packing, dtype, count).reshape(shape))
    return out


# --------------------------------------------------------------------------------------------
# The directory
# --------------------------------------------------------------------------------------------


def max_bytes() -> int:
    """``SPIKESIM_CACHE_MAX_BYTES`` (a non-negative integer), else :data:`DEFAULT_MAX_BYTES`."""
    text = os.environ.get("SPIKESIM_CACHE_MAX_BYTES", "").strip()
    try:
        value = int(text)
    except ValueError:
        return DEFAULT_MAX_BYTES
    return max(0, value)


ENTRY_HEADER_BYTES = 4096
"""Allowance for an entry's magic line, checksum and JSON header in :func:`estimated_bytes`."""


def estimated_bytes(layer: Any) -> int:
    """An entry's size before it exists, from the layer's shape: one byte per weight (N·K)
    and per activation (M·K), four per token and output scale, and the header. An entry holds
    less (int8 weights raw, activation codes in 4 bits beside a mask bit, the few salient values
    wider: the seven linears of a llama2-7b block at 2048 tokens take 256 MB as SpikeQuant
    entries, 276 MB estimated)."""
    m, k, n = int(layer.tokens), int(layer.k), int(layer.n)
    return n * k + m * k + 4 * (m + n) + ENTRY_HEADER_BYTES


def admitted_layers(layers: Sequence[Any], quantizations: Collection[object],
                    bound: int | None = None) -> frozenset[str]:
    """The names of the tensor layers among ``layers`` (in the order a run counts them) whose
    quantizations the run may write to the cache: each, in that order, whose entries (one per
    cacheable quantization among ``quantizations``, :func:`estimated_bytes`) still fit in
    what the run's earlier admitted entries left of 7/8 of ``bound`` (default
    :func:`max_bytes`; 7/8: the level eviction brings the directory down to).

    A run whose entries exceed the bound would otherwise write every one and evict its own
    first ones to make room for the last: the next run, counting in the same order, would find
    none of them (least-recently-used eviction over a sequence longer than the cache hits
    nothing) and write them all again. Bounded this way, a whole llama2-7b prefill at 2048
    tokens writes 1.8 GB of entries (its first four blocks and a part of the fifth) instead of
    15.7 GB, and a run after it hits those layers every time. Hits are read whether admitted
    or not."""
    cacheable = sum(1 for q in set(quantizations) if quantization_fields(q) is not None)
    if not cacheable:
        return frozenset()
    budget = (max_bytes() if bound is None else bound) * 7 // 8
    admitted: list[str] = []
    for layer in layers:
        if isinstance(layer, VectorLayer):
            continue
        need = cacheable * estimated_bytes(layer)
        if need <= budget:
            budget -= need
            admitted.append(layer.name)
    return frozenset(admitted)


def directory() -> Path:
    """``$SPIKESIM_CACHE/quantized`` (default ``~/.cache/spikesim/quantized``)."""
    return cache_dir() / SUBDIR


@dataclass(frozen=True)
class CacheInfo:
    """What ``spikesim cache info`` prints."""

    directory: Path
    entries: int
    bytes: int
    max_bytes: int
    enabled: bool


def _entries(folder: Path) -> list[tuple[float, int, Path]]:
    """(mtime, size, path) of every entry file in ``folder`` (names of the entry pattern)."""
    found = []
    try:
        names = os.listdir(folder)
    except OSError:
        return []
    for entry in names:
        if not _ENTRY.match(entry):
            continue
        path = folder / entry
        try:
            st = path.lstat()
        except OSError:
            continue
        if stat.S_ISREG(st.st_mode):
            found.append((st.st_mtime, st.st_size, path))
    return found


def info() -> CacheInfo:
    """Location, entry count and bytes of the cache."""
    entries = _entries(directory())
    return CacheInfo(directory(), len(entries), sum(size for _, size, _ in entries),
                     max_bytes(), disk_cache_enabled())


def clear() -> tuple[int, int]:
    """Remove every cache entry (and temporary files of killed writers) and forget what this
    process kept of them; return the entries and bytes removed. Nothing else in the directory
    is touched."""
    folder = directory()
    removed, freed = 0, 0
    for _, size, path in _entries(folder):
        with contextlib.suppress(OSError):
            path.unlink()
            removed += 1
            freed += size
    _remove_debris(folder)
    _DECODED.clear()
    _TOTALS.clear()
    return removed, freed


def _remove_debris(folder: Path) -> None:
    """The temporary files of entries whose writers were killed (one listing)."""
    remove_stale_files(folder, _ENTRY_NAME)


def _evict(folder: Path, bound: int, target: int, keep: Path | None = None) -> int:
    """Scan the folder (removing the temporary files of killed writers); if it holds more
    than ``bound`` bytes, remove the least recently used entries until it holds at most
    ``target`` (``keep``, the entry just written, goes last). Returns the bytes left."""
    _remove_debris(folder)
    entries = _entries(folder)
    total = sum(size for _, size, _ in entries)
    if total <= bound:
        return total
    entries.sort(key=lambda e: (e[2] == keep, e[0], e[2].name))
    for _, size, path in entries:
        if total <= target:
            break
        with contextlib.suppress(OSError):
            path.unlink()
        total -= size
    return total


TOUCH_INTERVAL_S = 60.0
"""A process marks a file it used as recently used (its modification time, which eviction
orders by) at most this often: eviction needs the order of use at minute scale, not a write
per use (a sweep point used to touch 14 files)."""

_touched: dict[str, float] = {}
"""When this process last touched each file (monotonic seconds)."""


def _touch(path: Path) -> None:
    """Set ``path``'s modification time to now, unless this process did so less than
    :data:`TOUCH_INTERVAL_S` ago; a vanished file is no error."""
    now = time.monotonic()
    name = str(path)
    last = _touched.get(name)
    if last is not None and now - last < TOUCH_INTERVAL_S:
        return
    if len(_touched) >= 1 << 16:
        _touched.clear()
    with contextlib.suppress(OSError):
        os.utime(path)
    _touched[name] = now


class QuantCache:
    """The cache directory as one run uses it (see the module docstring)."""

    def __init__(self, folder: Path | None = None, bound: int | None = None) -> None:
        self.folder = directory() if folder is None else folder
        self.bound = max_bytes() if bound is None else bound
        self.hits = 0
        self.misses = 0
        self._known: int | None = None
        """Bytes in the folder at the last scan plus this cache's writes since (None: not
        scanned yet)."""
        self._since_scan = 0
        self._lock = threading.Lock()  # the byte counts: the writer thread and account()
        self._writer: ThreadPoolExecutor | None = None
        self._pending: Future[None] | None = None

    def path(self, key: str) -> Path:
        if not re.fullmatch(r"[0-9a-f]{64}", key):
            raise ValueError(f"not an entry key: {key!r}")
        return self.folder / f"{key}{SUFFIX}"

    def load(self, key: str, name: str, op: str,
             weights: Callable[[], NDArray[np.float32]]) -> QuantizedLayer | MacQuantized | None:
        """The entry ``key`` or None (missing, unreadable, or corrupt: then it is removed)."""
        path = self.path(key)
        try:
            with open(path, "rb") as fh:
                st = os.fstat(fh.fileno())
                data = bytearray(st.st_size)
                read = fh.readinto(data)
        except OSError:
            return None
        try:
            if read != st.st_size:
                raise _Corrupt("short read")
            quantized = decode(data, name, op, weights)
        except _Corrupt:
            with contextlib.suppress(OSError):
                now = path.stat()
                if (now.st_ino, now.st_dev) == (st.st_ino, st.st_dev):  # not replaced meanwhile
                    path.unlink()
            return None
        _touch(path)  # recently used
        return quantized

    def store(self, key: str, quantized: QuantizedLayer | MacQuantized) -> None:
        """Write the entry (atomically), then bound the directory; errors only skip it."""
        try:
            parts = encode_parts(quantized)
        except TypeError:
            return
        size = sum(len(p) if isinstance(p, bytes) else p.nbytes for p in parts)
        if size > self.bound:
            return
        path = self.path(key)

        def write(fh: Any) -> None:
            for part in parts:
                fh.write(part)

        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            atomic_write_file(path, write, remove_stale=False, durable=False)
        except OSError:
            return
        with self._lock:
            self._since_scan += size
            if self._known is not None and self._since_scan <= self.bound // 8:
                self._known += size
                if self._known <= self.bound:
                    return
            self._known = _evict(self.folder, self.bound, self.bound - self.bound // 8,
                                 keep=path)
            self._since_scan = 0

    def store_later(self, key: str, quantized: QuantizedLayer | MacQuantized) -> None:
        """:meth:`store` on this cache's writer thread, while the caller simulates the layer
        (encoding and writing a llama2-7b layer's entry took ~0.3 s each, 13 % of a
        SpikeQuant run, on the simulation's path); the previous store is waited for first (at
        most one waits: its arrays stay alive until written). :meth:`flush` waits for it."""
        self.flush(shutdown=False)
        if self._writer is None:
            self._writer = ThreadPoolExecutor(1, thread_name_prefix="spikesim-cache-writer")
        self._pending = self._writer.submit(self.store, key, quantized)

    def flush(self, *, shutdown: bool = True) -> None:
        """Wait for the store in flight (:meth:`store_later`; its errors other than the
        cache's own, which only skip the entry, are raised here) and, with ``shutdown``, stop
        the writer thread."""
        pending, self._pending = self._pending, None
        try:
            if pending is not None:
                pending.result()
        finally:
            if shutdown and self._writer is not None:
                self._writer.shutdown(wait=True)
                self._writer = None

    def quantize(self, design: Any, layer: Any, quant: QuantConfig, inputs: Inputs,
                 *, write: bool = True) -> Any:
        """``design.quantize`` of ``layer`` under ``quant``, from the cache when there.
        ``inputs()`` gives the layer's floats; it is called only on a miss. A spiking entry
        this process has read before comes from :data:`_DECODED` (read-only arrays). A miss is
        stored only with ``write`` (:func:`admitted_layers`); without, nothing of it (entry or
        output totals) is written."""
        key = entry_key(layer.sha256, design.quantization, quant)
        if key is not None:
            found: QuantizedLayer | MacQuantized | None = _DECODED.get(self.folder, key)
            if found is not None:
                _touch(self.path(key))  # recently used, as a read from disk
                found = replace(found, name=layer.name, op=layer.op)
            else:
                found = self.load(key, layer.name, layer.op, layer.weights)
                if isinstance(found, QuantizedLayer):
                    found = _DECODED.put(self.folder, key, found)
            if found is not None:
                self.hits += 1
                return self._with_memo(key, found)
        self.misses += 1
        x, w = inputs()
        quantized = design.quantize(layer.name, layer.op, x, w, quant)
        if not write:
            return quantized
        if key is not None and isinstance(quantized, QuantizedLayer | MacQuantized):
            self.store_later(key, quantized)
        return self._with_memo(key, quantized)

    def _with_memo(self, key: str | None, quantized: Any) -> Any:
        """A spiking layer with a :class:`FunctionalMemo` of entry ``key`` (others as they
        are)."""
        if key is None or not isinstance(quantized, QuantizedLayer):
            return quantized
        return replace(quantized, functional_memo=FunctionalMemo(self, key))

    def account(self, nbytes: int) -> None:
        """Count ``nbytes`` just written beside the entries (see :meth:`store`)."""
        with self._lock:
            self._since_scan += nbytes
            if self._known is not None:
                self._known += nbytes


class _DecodedEntries:
    """Spiking entries this process has decoded, by (cache folder, key), least recently used
    first, at most :data:`DECODED_MAX_BYTES` of arrays: the points of a sweep in one worker
    read the same entries at every point, and an entry's content is fixed by its key, so a
    second read would only repeat the first (reading and hashing the file). Their arrays are
    made read-only: runs share them."""

    def __init__(self, bound: int) -> None:
        self.bound = bound
        self.nbytes = 0
        self._entries: dict[tuple[str, str], tuple[QuantizedLayer, int]] = {}

    def get(self, folder: Path, key: str) -> QuantizedLayer | None:
        found = self._entries.pop((str(folder), key), None)
        if found is None:
            return None
        self._entries[(str(folder), key)] = found  # most recently used last
        return found[0]

    def put(self, folder: Path, key: str, layer: QuantizedLayer) -> QuantizedLayer:
        arrays = (layer.x_q, layer.salient, layer.x_scale, layer.w_q, layer.w_scale)
        size = sum(a.nbytes for a in arrays)
        if size > self.bound // 4:
            return layer
        for a in arrays:
            a.setflags(write=False)
        while self._entries and self.nbytes + size > self.bound:
            _, (_, dropped) = self._pop_oldest()
            self.nbytes -= dropped
        self._entries[(str(folder), key)] = (layer, size)
        self.nbytes += size
        return layer

    def _pop_oldest(self) -> tuple[tuple[str, str], tuple[QuantizedLayer, int]]:
        oldest = next(iter(self._entries))
        return oldest, self._entries.pop(oldest)

    def clear(self) -> None:
        self._entries.clear()
        self.nbytes = 0


DECODED_MAX_BYTES = 256 * 1024**2
"""Bound of the arrays of :data:`_DECODED`, per process."""

_DECODED = _DecodedEntries(DECODED_MAX_BYTES)


class FunctionalMemo:
    """The functional totals (output spikes, overflow events) of one cached spiking layer, per
    :meth:`~spikesim.hw.params.ArrayParams.functional_key`: one small JSON file each,
    ``<sha256 of the entry key and the functional key>.fo`` beside the entries (bounded,
    listed and cleared with them). A sweep over timing-only fields then runs the layer's exact
    matmul once. A file that does not hold exactly this entry's and key's two non-negative
    integers is a miss (and is removed); writes are atomic. What a process read or wrote it
    keeps (:data:`_TOTALS`: the totals are fixed by the entry and the key, so the file is
    read once per process, not once per point)."""

    def __init__(self, cache: QuantCache, entry: str) -> None:
        self.cache = cache
        self.entry = entry

    def _path(self, array: tuple[int, ...]) -> Path:
        text = json.dumps({"entry": self.entry, "array": list(array)}, sort_keys=True)
        digest = hashlib.sha256(text.encode()).hexdigest()
        return self.cache.folder / f"{digest}{TOTALS_SUFFIX}"

    def get(self, key: tuple[Any, ...]) -> tuple[int, int] | None:
        array = tuple(int(v) for v in key)
        seen = _TOTALS.get((str(self.cache.folder), self.entry, array))
        if seen is not None:
            _touch(seen[1])  # recently used, as a read
            return seen[0]
        path = self._path(array)
        try:
            data = json.loads(path.read_bytes())
            ok = (data["entry"] == self.entry and data["array"] == list(array)
                  and all(type(data[f]) is int and data[f] >= 0
                          for f in ("spikes", "overflow")))
        except FileNotFoundError:
            return None
        except (OSError, ValueError, KeyError, TypeError):
            ok = False
        if not ok:
            with contextlib.suppress(OSError):
                path.unlink()
            return None
        _touch(path)
        totals = int(data["spikes"]), int(data["overflow"])
        _remember_totals(self.cache.folder, self.entry, array, totals, path)
        return totals

    def __setitem__(self, key: tuple[Any, ...], value: tuple[int, int]) -> None:
        array = tuple(int(v) for v in key)
        path = self._path(array)
        spikes, overflow = int(value[0]), int(value[1])
        _remember_totals(self.cache.folder, self.entry, array, (spikes, overflow), path)
        data = json.dumps({"entry": self.entry, "array": list(array), "spikes": spikes,
                           "overflow": overflow}, sort_keys=True).encode()
        try:
            self.cache.folder.mkdir(parents=True, exist_ok=True)
            atomic_write_file(path, lambda fh: fh.write(data), remove_stale=False,
                              durable=False)
        except OSError:
            return
        self.cache.account(len(data))


_TOTALS: dict[tuple[str, str, tuple[int, ...]], tuple[tuple[int, int], Path]] = {}
"""The functional totals this process read or wrote, by (cache folder, entry key, functional
key), with their file (:class:`FunctionalMemo`); :func:`clear` empties it."""


def _remember_totals(folder: Path, entry: str, array: tuple[int, ...],
                     totals: tuple[int, int], path: Path) -> None:
    if len(_TOTALS) >= 1 << 16:
        _TOTALS.clear()
    _TOTALS[(str(folder), entry, array)] = (totals, path)


def open_cache(enabled: bool = True) -> QuantCache | None:
    """The cache for a run, or None when ``enabled`` is False or ``SPIKESIM_NO_CACHE`` is set."""
    if not enabled or not disk_cache_enabled():
        return None
    return QuantCache()

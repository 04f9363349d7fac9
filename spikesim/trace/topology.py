"""Shape-only workload descriptions: a topology CSV of GEMMs and a Hugging Face ``config.json``.

Both are read with bounded reads and strict checks; every problem is one
:class:`~spikesim.errors.InputError` naming the file, the row (its line) and the field. What they
describe is turned into layers with generated values by :mod:`spikesim.trace.workload`.

Topology CSV
------------
One GEMM per row, ``y[M, N] = x[M, K] @ w[N, K].T`` (M tokens, K input features, N output
features)::

    layer,M,N,K
    layers.0.self_attn.q_proj,2048,4096,4096
    ...

Columns are found by their header names (any order, case and surrounding blanks ignored):
``layer`` (also ``layer name``, ``layer_name``, ``name``), ``M``, ``N``, ``K``. SCALE-Sim's GEMM
topology files (``topologies/GEMM_mnk/*.csv`` of scale-sim-v2: header ``Layer,M,N,K,`` or
``Layer Name, M, N, K,``, every row ending in a comma, CRLF line ends) are read as they are: an
empty last column is ignored, as are blank lines. SCALE-Sim's own reader takes the same
convention: ifmap ``M x K``, filter ``K x N``, ofmap ``M x N``. A UTF-8 byte-order mark is
skipped. Layer names must be unique (they key ``layers.csv``).

Hugging Face config.json
------------------------
A decoder-only model of the LLaMA family (``LlamaForCausalLM``, Mistral, Qwen2, SmolLM2 …):
``hidden_size``, ``intermediate_size``, ``num_hidden_layers`` and ``num_attention_heads`` are
required; ``num_key_value_heads`` (GQA; default ``num_attention_heads``) and ``head_dim``
(default ``hidden_size / num_attention_heads``) are optional (``null`` counts as absent). Every
decoder block has the linears q/k/v/o_proj and gate/up/down_proj: q_proj ``hidden → heads ×
head_dim``, k/v_proj ``hidden → kv_heads × head_dim``, o_proj ``heads × head_dim → hidden``,
gate/up_proj ``hidden → intermediate``, down_proj ``intermediate → hidden``. Mixture-of-experts
configs are refused (their ``intermediate_size`` is one expert's).
"""

from __future__ import annotations

import csv
import hashlib
import io
import os
import re
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from spikesim.errors import InputError, echo
from spikesim.fsutil import decode_text
from spikesim.trace.format import _parse_json
from spikesim.trace.synth import ModelShape

__all__ = [
    "MAX_CONFIG_BYTES",
    "MAX_TOPOLOGY_BYTES",
    "MAX_TOPOLOGY_ROWS",
    "MAX_WORKLOAD_LAYERS",
    "GemmRow",
    "HFModel",
    "read_hf_config",
    "read_topology_csv",
]

MAX_TOPOLOGY_ROWS = 100_000
"""Most GEMM rows of a topology CSV (a whole 80-block model has 560 linears)."""

MAX_TOPOLOGY_BYTES = 16 * 1024 * 1024
"""Largest topology CSV read (bytes): 100,000 rows of about 160 characters."""

MAX_CONFIG_BYTES = 10 * 1024 * 1024
"""Largest ``config.json`` read (bytes); a real one is a few kB."""

MAX_WORKLOAD_LAYERS = MAX_TOPOLOGY_ROWS
"""Most linear layers of a model described by its config (7 per decoder block)."""

MAX_NAME_CHARS = 256
"""Longest layer name in a topology CSV."""

_MAX_DIM_DIGITS = 12
"""Longest dimension literal in a topology CSV (larger values are absurd anyway)."""

_LAYER_HEADERS = ("layer", "layer name", "layer_name", "name")
_DIM_COLUMNS = ("M", "N", "K")
_DIGITS_RE = re.compile(r"^[0-9]+$")
_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f]")
_MOE_KEYS = ("num_local_experts", "num_experts", "n_routed_experts", "moe_intermediate_size")


@dataclass(frozen=True)
class GemmRow:
    """One row of a topology CSV.

    Attributes
    ----------
    name:
        The layer name (``layer`` column).
    m, n, k:
        Tokens (rows of x), output features, input features.
    line:
        The row's line in the file (1 is the header), for error messages.
    """

    name: str
    m: int
    n: int
    k: int
    line: int


@dataclass(frozen=True)
class HFModel:
    """The decoder dimensions read from a Hugging Face ``config.json``.

    Attributes
    ----------
    shape:
        Linear-layer dimensions of one decoder block, and the number of blocks.
    head_dim:
        Width of one attention head.
    fields:
        The config values used (``hidden_size`` … ``head_dim``), with defaults applied.
    model_type, architectures:
        As the config states them (``None`` / empty if absent), for the record.
    """

    shape: ModelShape
    head_dim: int
    fields: dict[str, int]
    model_type: str | None
    architectures: tuple[str, ...]


def read_bounded(path: Path, limit: int, what: str) -> bytes:
    """The bytes of the regular file ``path`` (at most ``limit``; a larger file, a directory,
    a device or a pipe is refused, naming the file)."""
    try:
        st = path.stat()
    except FileNotFoundError:
        raise InputError(f"{what} does not exist", file=path) from None
    except (OSError, ValueError) as exc:
        raise InputError(f"cannot read {what} ({exc.__class__.__name__})", file=path) from None
    if not stat.S_ISREG(st.st_mode):
        kind = "a directory" if stat.S_ISDIR(st.st_mode) else "not a regular file"
        raise InputError(f"{what} is {kind}", file=path)
    if st.st_size > limit:
        raise InputError(
            f"{what} is {st.st_size} bytes, more than the {limit}-byte limit", file=path
        )
    try:
        with open(path, "rb") as fh:
            raw = fh.read(limit + 1)  # bounded: a file growing meanwhile stops here
    except (OSError, ValueError) as exc:
        raise InputError(f"cannot read {what} ({exc.__class__.__name__})", file=path) from None
    if len(raw) > limit:
        raise InputError(f"{what} is more than the {limit}-byte limit", file=path)
    return raw


def sha256_bytes(data: bytes) -> str:
    """Lower-case hex SHA-256 of ``data``."""
    return hashlib.sha256(data).hexdigest()


# --------------------------------------------------------------------------------------------
# Topology CSV
# --------------------------------------------------------------------------------------------


def _trim(cells: list[str]) -> list[str]:
    """Cells stripped of blanks, trailing empty cells dropped (SCALE-Sim ends rows in ',')."""
    out = [c.strip() for c in cells]
    while out and not out[-1]:
        out.pop()
    return out


def _header_columns(header: list[str], path: Path) -> dict[str, int]:
    """Column name (``layer``, ``M``, ``N``, ``K``) → index, from the header row."""
    expected = "layer, M, N, K (SCALE-Sim's 'Layer, M, N, K,' is accepted too)"
    columns: dict[str, int] = {}
    for index, cell in enumerate(header):
        key = " ".join(cell.lower().split())
        name = "layer" if key in _LAYER_HEADERS else key.upper() if key in ("m", "n", "k") else None
        if name is None:
            raise InputError(
                f"line 1: unknown column {echo(cell)} (expected the columns {expected})",
                file=path,
                field=cell or f"column {index + 1}",
            )
        if name in columns:
            raise InputError(f"line 1: column {name} appears twice", file=path, field=name)
        columns[name] = index
    for name in ("layer", *_DIM_COLUMNS):
        if name not in columns:
            raise InputError(
                f"line 1: missing column {name} (expected the columns {expected}; "
                f"got {', '.join(header) or 'none'})",
                file=path,
                field=name,
            )
    return columns


def _dimension(cell: str, line: int, layer: str, column: str, path: Path) -> int:
    if not _DIGITS_RE.match(cell) or int(cell) <= 0:
        raise InputError(
            f"line {line} (layer {echo(layer)}): {column} must be a positive integer, "
            f"got {echo(cell)}",
            file=path,
            field=column,
        )
    if len(cell) > _MAX_DIM_DIGITS:
        raise InputError(
            f"line {line} (layer {echo(layer)}): {column} = {echo(cell)} is absurdly large",
            file=path,
            field=column,
        )
    return int(cell)


def read_topology_csv(path: str | os.PathLike[str]) -> tuple[list[GemmRow], str]:
    """The GEMM rows of a topology CSV (see the module docstring) and the file's SHA-256.

    Raises
    ------
    InputError
        Naming the file, and the line and column at fault: a missing or unknown column, an
        empty file or no rows, a non-integer or non-positive dimension, an empty or duplicate
        layer name, more than :data:`MAX_TOPOLOGY_ROWS` rows or :data:`MAX_TOPOLOGY_BYTES`.
    """
    path = Path(path)
    raw = read_bounded(path, MAX_TOPOLOGY_BYTES, "topology CSV")
    text = decode_text(raw, file=path, what="topology CSV", encoding="utf-8-sig")
    reader = csv.reader(io.StringIO(text, newline=""))
    header: list[str] | None = None
    columns: dict[str, int] = {}
    rows: list[GemmRow] = []
    seen: dict[str, int] = {}
    try:
        for cells in reader:
            line = reader.line_num
            trimmed = _trim(cells)
            if not trimmed:
                continue  # blank line
            if header is None:
                header = trimmed
                columns = _header_columns(header, path)
                continue
            if len(trimmed) > len(header):
                raise InputError(
                    f"line {line}: {len(trimmed)} cells but the header has {len(header)} "
                    "columns",
                    file=path,
                    field=f"column {len(header) + 1}",
                )
            if len(rows) >= MAX_TOPOLOGY_ROWS:
                raise InputError(
                    f"line {line}: more than {MAX_TOPOLOGY_ROWS} GEMM rows", file=path
                )
            padded = trimmed + [""] * (len(header) - len(trimmed))
            name = padded[columns["layer"]]
            if not name:
                raise InputError(f"line {line}: empty layer name", file=path, field="layer")
            if len(name) > MAX_NAME_CHARS or _CONTROL_RE.search(name):
                raise InputError(
                    f"line {line}: layer name {echo(name)} is longer than {MAX_NAME_CHARS} "
                    "characters or holds control characters",
                    file=path,
                    field="layer",
                )
            if name in seen:
                raise InputError(
                    f"line {line}: layer name {echo(name)} already used on line {seen[name]}",
                    file=path,
                    field="layer",
                )
            m, n, k = (
                _dimension(padded[columns[c]], line, name, c, path) for c in _DIM_COLUMNS
            )
            seen[name] = line
            rows.append(GemmRow(name=name, m=m, n=n, k=k, line=line))
    except csv.Error as exc:
        raise InputError(
            f"line {reader.line_num}: malformed CSV ({exc})", file=path
        ) from None
    if header is None:
        raise InputError(
            "topology CSV is empty (expected a header 'layer,M,N,K' and one row per GEMM)",
            file=path,
        )
    if not rows:
        raise InputError("topology CSV has a header but no GEMM rows", file=path)
    return rows, sha256_bytes(raw)


# --------------------------------------------------------------------------------------------
# Hugging Face config.json
# --------------------------------------------------------------------------------------------


def _optional(config: dict[str, Any], key: str, path: Path) -> int | None:
    """``config[key]`` as a positive integer, or ``None`` if absent or null."""
    value = config.get(key)
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
        raise InputError(f"must be a positive integer, got {echo(value)}", file=path, field=key)
    return value


def _required(config: dict[str, Any], key: str, path: Path) -> int:
    """``config[key]`` as a positive integer (missing or null: an error naming it)."""
    value = _optional(config, key, path)
    if value is None:
        raise InputError(
            "required field is missing (a LlamaForCausalLM-style config.json has "
            "hidden_size, intermediate_size, num_hidden_layers, num_attention_heads)",
            file=path,
            field=key,
        )
    return value


def read_hf_config(path: str | os.PathLike[str]) -> tuple[HFModel, str]:
    """The decoder dimensions of a Hugging Face ``config.json`` and the file's SHA-256.

    Raises
    ------
    InputError
        Naming the file and the field: not a JSON object, a required field missing, a
        dimension not a positive integer, ``num_key_value_heads`` not dividing
        ``num_attention_heads``, ``hidden_size`` not a multiple of the heads without
        ``head_dim``, a mixture-of-experts config, more than :data:`MAX_WORKLOAD_LAYERS`
        linears, more than :data:`MAX_CONFIG_BYTES`.
    """
    path = Path(path)
    raw = read_bounded(path, MAX_CONFIG_BYTES, "config.json")
    decode_text(raw, file=path, what="config.json", encoding="utf-8-sig")
    config = _parse_json(raw, "config.json", path, None)
    if not isinstance(config, dict):
        raise InputError("config.json must be a JSON object", file=path)
    for key in _MOE_KEYS:
        if config.get(key) not in (None, 0, 1):
            raise InputError(
                "a mixture-of-experts config is not supported (only dense decoder MLPs)",
                file=path,
                field=key,
            )
    hidden = _required(config, "hidden_size", path)
    intermediate = _required(config, "intermediate_size", path)
    blocks = _required(config, "num_hidden_layers", path)
    heads = _required(config, "num_attention_heads", path)
    kv_heads = _optional(config, "num_key_value_heads", path) or heads
    if heads % kv_heads:
        raise InputError(
            f"num_key_value_heads {kv_heads} must divide num_attention_heads {heads}",
            file=path,
            field="num_key_value_heads",
        )
    head_dim = _optional(config, "head_dim", path)
    if head_dim is None:
        if hidden % heads:
            raise InputError(
                f"hidden_size {hidden} is not a multiple of num_attention_heads {heads}; "
                "the config needs head_dim",
                file=path,
                field="head_dim",
            )
        head_dim = hidden // heads
    if blocks * 7 > MAX_WORKLOAD_LAYERS:
        raise InputError(
            f"{blocks} decoder blocks make {blocks * 7} linear layers, more than "
            f"{MAX_WORKLOAD_LAYERS}",
            file=path,
            field="num_hidden_layers",
        )
    model_type = config.get("model_type")
    architectures = config.get("architectures")
    shape = ModelShape(
        hidden=hidden,
        intermediate=intermediate,
        q_out=heads * head_dim,
        kv_out=kv_heads * head_dim,
        blocks=blocks,
        heads=heads,
        kv_heads=kv_heads,
    )
    fields = {
        "hidden_size": hidden,
        "intermediate_size": intermediate,
        "num_hidden_layers": blocks,
        "num_attention_heads": heads,
        "num_key_value_heads": kv_heads,
        "head_dim": head_dim,
    }
    return (
        HFModel(
            shape=shape,
            head_dim=head_dim,
            fields=fields,
            model_type=model_type if isinstance(model_type, str) else None,
            architectures=tuple(
                a for a in (architectures if isinstance(architectures, list) else [])
                if isinstance(a, str)
            ),
        ),
        sha256_bytes(raw),
    )

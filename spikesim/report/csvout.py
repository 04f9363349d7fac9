"""CSV tables of a run directory, byte for byte as pandas writes them, faster when they allow.

A whole-model run writes tables of tens of millions of rows (a llama2-7b prefill's
``spike_stats.csv``: 30 M rows, 1.1 GB, 28 s through :meth:`pandas.DataFrame.to_csv`). A table
whose columns are all integers or strings (``spike_stats.csv``, ``transactions.csv``) goes
through Arrow's CSV writer instead (about 8× faster), under three conditions that make its
bytes pandas' own: the header line is pandas' (Arrow quotes every name), no value is null,
and no string holds a character that CSV must quote (comma, quote, CR, LF: Arrow's
``quoting_style="none"`` refuses them, and pandas is used from scratch). Integers print the
same in both; any other column type (floats, booleans) keeps pandas.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.csv as pa_csv

ARROW_MIN_ROWS = 65_536
"""Tables shorter than this are written by pandas (Arrow's gain is in the long ones)."""


def write_csv(frame: pd.DataFrame, path: Path) -> None:
    """``frame.to_csv(path, index=False, lineterminator="\\n", encoding="utf-8")``, the same
    bytes (see the module docstring)."""
    if not _write_through_arrow(frame, path):
        frame.to_csv(path, index=False, lineterminator="\n", encoding="utf-8")


def _plain(field: pa.Field) -> bool:
    kind = field.type
    if pa.types.is_dictionary(kind):
        kind = kind.value_type
    return bool(pa.types.is_integer(kind) or pa.types.is_string(kind)
                or pa.types.is_large_string(kind))


def _write_through_arrow(frame: pd.DataFrame, path: Path) -> bool:
    """Write ``frame`` with Arrow when that gives pandas' bytes; False when it cannot (the
    caller's pandas then writes the file, over anything begun here)."""
    if len(frame) < ARROW_MIN_ROWS or not frame.columns.is_unique or frame.shape[1] < 2:
        return False  # (one column: pandas writes an empty string as "", Arrow as nothing)
    if not all(pd.api.types.is_integer_dtype(d) or pd.api.types.is_string_dtype(d)
               for d in frame.dtypes):  # (an object column of other values: _plain below)
        return False
    try:
        table = pa.Table.from_pandas(frame, preserve_index=False)
    except (pa.ArrowException, TypeError, ValueError):
        return False
    if not all(_plain(f) for f in table.schema) or any(c.null_count for c in table.columns):
        return False
    header = frame.head(0).to_csv(index=False, lineterminator="\n").encode("utf-8")
    try:
        with pa.OSFile(str(path), "wb") as sink:
            sink.write(header)
            pa_csv.write_csv(table, sink, pa_csv.WriteOptions(include_header=False,
                                                              quoting_style="none"))
    except pa.ArrowInvalid:  # a value CSV must quote: pandas writes the file again
        return False
    return True

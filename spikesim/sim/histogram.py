"""The |q| histogram of spiking-quantized layers (the rows of ``spike_stats.csv``).

:func:`layer_histogram_arrays` counts one layer into plain arrays; :func:`histogram_frame`
makes one table of many layers' counts at the end of a run (no DataFrame per layer: a run of
thousands of small layers would spend more time building frames than counting).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import numpy as np
import pandas as pd
import pyarrow as pa
from numpy.typing import NDArray

from spikesim._jit import kernel_input, njit
from spikesim.quant.layer import QuantizedLayer
from spikesim.schema import SPIKE_STATS_COLUMNS


class Histogram(NamedTuple):
    """One layer's |q| histogram: the magnitudes that occur (ascending) and how many normal and
    salient activations have each."""

    layer: str
    abs_q: NDArray[np.int64]
    normal_count: NDArray[np.int64]
    salient_count: NDArray[np.int64]


def magnitude_counts_numpy(
    x_q: NDArray[np.integer], salient: NDArray[np.bool_]
) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """(normal, salient) counts of each |q| = 0 … max|q| over ``x_q`` split by the ``salient``
    mask (same shape). Plain NumPy; the twin of :func:`magnitude_counts`."""
    mag = np.abs(x_q.astype(np.int64)).ravel()
    sal = salient.ravel()
    size = int(mag.max(initial=0)) + 1
    salient_count = np.bincount(mag[sal], minlength=size)
    normal_count = np.bincount(mag, minlength=size) - salient_count
    return normal_count.astype(np.int64), salient_count.astype(np.int64)


@njit
def _magnitude_counts(
    x_q: NDArray[np.integer], salient: NDArray[np.bool_], size: int
) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    normal = np.zeros(size, np.int64)
    sal = np.zeros(size, np.int64)
    for i in range(x_q.size):
        v = np.int64(x_q[i])
        if v < 0:
            v = -v
        if salient[i]:
            sal[v] += 1
        else:
            normal[v] += 1
    return normal, sal


def magnitude_counts(
    x_q: NDArray[np.integer], salient: NDArray[np.bool_]
) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """:func:`magnitude_counts_numpy` in one pass and no temporaries (numba): equal, bit for
    bit (hypothesis test)."""
    flat = kernel_input(x_q).ravel()
    mask = kernel_input(salient).ravel()
    if flat.size == 0:
        return np.zeros(1, np.int64), np.zeros(1, np.int64)
    size = int(max(int(flat.max()), -int(flat.min()))) + 1
    return _magnitude_counts(flat, mask, size)


class _LastCounts:
    """The last :func:`magnitude_counts` of read-only arrays, with the arrays themselves (so
    that their identity means their values: read-only arrays held here cannot change, nor
    be freed and their ids reused). Writable arrays are always counted."""

    def __init__(self) -> None:
        self._last: tuple[NDArray[np.integer], NDArray[np.bool_],
                          tuple[NDArray[np.int64], NDArray[np.int64]]] | None = None

    def counts(
        self, x_q: NDArray[np.integer], salient: NDArray[np.bool_]
    ) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
        last = self._last
        if last is not None and last[0] is x_q and last[1] is salient:
            return last[2]
        counted = magnitude_counts(x_q, salient)
        if x_q.flags.writeable or salient.flags.writeable:
            self._last = None
        else:
            for a in counted:
                a.setflags(write=False)
            self._last = (x_q, salient, counted)
        return counted


_LAST = _LastCounts()


def layer_histogram_arrays(layer: str, quantized: QuantizedLayer) -> Histogram:
    """The |q| that occur in ``quantized`` (ascending) with ``normal_count`` and
    ``salient_count``: how many activations (tokens × k) have that magnitude, split by the
    salient mask. Layers that read the same read-only arrays (q/k/v_proj after their shared
    quantization) count them once (:class:`_LastCounts`)."""
    normal_count, salient_count = _LAST.counts(quantized.x_q, quantized.salient)
    present = np.flatnonzero(normal_count + salient_count)
    return Histogram(
        layer,
        present.astype(np.int64),
        normal_count[present],
        salient_count[present],
    )


def repeated_strings(names: Sequence[str], counts: NDArray[np.int64]) -> pd.Series:
    """``names[i]`` ``counts[i]`` times each, in order, as a column of dtype ``"str"``:
    ``pd.Series(np.repeat(np.array(names, dtype=object), counts), dtype="str")``, equal.

    Where ``"str"`` is Arrow-backed (pandas 3) the column's buffers are made directly (offsets
    from the repeated lengths, the text as each name's bytes repeated) instead of tens of
    millions of Python string references: a whole llama2-7b prefill's 30 M histogram rows took
    15 s through objects, 7-11 s through Arrow's dictionary cast, 1.3 s this way."""
    def through_objects() -> pd.Series:
        return pd.Series(np.repeat(np.array(names, dtype=object), counts), dtype="str")

    target = pd.Series([], dtype="str").dtype
    if not (isinstance(target, pd.StringDtype) and target.storage == "pyarrow"):
        return through_objects()
    encoded = [name.encode("utf-8") for name in names]
    lengths = np.array([len(e) for e in encoded], np.int64)
    offsets = np.zeros(int(counts.sum()) + 1, np.int64)
    np.cumsum(np.repeat(lengths, counts), out=offsets[1:])
    text = b"".join(e * int(c) for e, c in zip(encoded, counts, strict=True))
    values = pa.LargeStringArray.from_buffers(
        len(offsets) - 1, pa.py_buffer(offsets), pa.py_buffer(text)
    )
    try:
        return pd.Series(pd.arrays.ArrowStringArray(values, dtype=target))  # type: ignore[call-arg]
    except TypeError:  # pragma: no cover - a pandas 2 with infer_string (no dtype argument)
        return through_objects()


def histogram_frame(histograms: Sequence[Histogram]) -> pd.DataFrame:
    """One table of ``histograms`` in order, columns
    :data:`~spikesim.schema.SPIKE_STATS_COLUMNS` (``layer`` str, the counts int64); no
    histograms: an empty table with those columns."""
    if not histograms:
        return pd.DataFrame(columns=SPIKE_STATS_COLUMNS)
    sizes = np.array([len(h.abs_q) for h in histograms], np.int64)
    # the three count columns concatenated straight into one int64 block, which the frame
    # takes as it is (a dict of columns would be copied into such a block, then reordered)
    block = np.empty((3, int(sizes.sum())), np.int64)
    for row, field in enumerate(("abs_q", "normal_count", "salient_count")):
        np.concatenate([getattr(h, field) for h in histograms], out=block[row],
                       casting="unsafe")
    frame = pd.DataFrame(block.T, columns=list(SPIKE_STATS_COLUMNS[1:]), copy=False)
    frame.insert(0, "layer", repeated_strings([h.layer for h in histograms], sizes))
    return frame


def layer_histogram(layer: str, quantized: QuantizedLayer) -> pd.DataFrame:
    """One row per |q| that occurs (ascending): ``normal_count`` and ``salient_count`` are how
    many activations (tokens × k) of ``quantized`` have that magnitude, split by the salient
    mask. Columns :data:`~spikesim.schema.SPIKE_STATS_COLUMNS`."""
    return histogram_frame([layer_histogram_arrays(layer, quantized)])

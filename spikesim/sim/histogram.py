"""The |q| histogram of one spiking-quantized layer (a row block of ``spike_stats.csv``)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from spikesim.quant.layer import QuantizedLayer
from spikesim.schema import SPIKE_STATS_COLUMNS


def layer_histogram(layer: str, quantized: QuantizedLayer) -> pd.DataFrame:
    """One row per |q| that occurs (ascending): ``normal_count`` and ``salient_count`` are how
    many activations (tokens × k) of ``quantized`` have that magnitude, split by the salient
    mask. Columns :data:`~spikesim.schema.SPIKE_STATS_COLUMNS`."""
    mag = np.abs(quantized.x_q.astype(np.int64)).ravel()
    sal = quantized.salient.ravel()
    size = int(mag.max(initial=0)) + 1
    salient_count = np.bincount(mag[sal], minlength=size)
    normal_count = np.bincount(mag, minlength=size) - salient_count
    present = np.flatnonzero(normal_count + salient_count)
    return pd.DataFrame(
        {
            "layer": layer,
            "abs_q": present.astype(np.int64),
            "normal_count": normal_count[present].astype(np.int64),
            "salient_count": salient_count[present].astype(np.int64),
        }
    )[SPIKE_STATS_COLUMNS]

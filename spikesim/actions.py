"""Action counts: the vocabulary between the simulator (it counts) and the energy model (it prices).

An action is one event of one hardware component at one bit width, e.g. ``("if_array", "acc", 24)``
is one 24-bit accumulate in the integrate-and-fire array. The simulator emits counts of actions;
``energy/`` multiplies each count by a per-action energy from a table. Changing the table never
changes a count.

Component names used by the simulator and the baselines:

==================  ==========================================================================
component           actions (``bits`` is the operand or access width)
==================  ==========================================================================
``if_array``        ``acc`` (add ±w into a membrane or slope register; under
                    ``if_array.attention_form: spike_spike`` an attention matmul's ±1
                    increment of a coincidence counter at ``coincidence_bits``, and the
                    fold of the counters into the register at ``acc_bits``), ``shift`` (a
                    bit-serial partial-sum shift, or a latched weight shifted by its plane),
                    ``compare``
                    (fire-phase threshold compare), ``fire``
                    (subtract θ on an output spike)
``threshold``       ``multiply`` (θ = c_j · r_t, fixed point), one per output per token
``latch``           ``write`` (one weight of a fetched row into a lane's row latch), ``read``
                    (one latched weight used by an event); ``if_array.row_latch`` only
``encoder``         ``convert`` (one stored value scanned), ``emit`` (one spike event emitted)
``sram.<bank>``     ``read``, ``write`` (one word of ``word_bits``)
``dram``            ``read``, ``write`` (``count`` bytes, ``bits`` = 8)
``mac_array``       ``multiply``, ``add`` (baselines); ``and`` (bit-serial operand gate of
                    ``mac-bitserial``: the weight ANDed with one activation bit, sign XORed;
                    ``bits`` = weight width), with one ``add`` per processed bit plane
``dequant``         ``multiply`` (baselines)
``requant``         ``multiply`` (baselines)
``vector_unit``     ``fp_add``, ``fp_mult`` (the FP vector unit of every design: RMSNorm, RoPE,
                    softmax, SiLU·up, residual adds; ``bits`` = 16 for FP16)
==================  ==========================================================================
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from spikesim.schema import COUNTED_ACTION_COLUMNS


@dataclass(frozen=True, slots=True)
class ActionCount:
    """``count`` occurrences of ``action`` on ``component`` at ``bits`` operand/access width."""

    component: str
    action: str
    count: int
    bits: int


class ActionCounter:
    """Accumulates action counts keyed by (component, action, bits); deterministic order."""

    def __init__(self) -> None:
        self._counts: dict[tuple[str, str, int], int] = defaultdict(int)

    def add(self, component: str, action: str, count: int, bits: int) -> None:
        """Add ``count`` (>= 0) occurrences; zero counts are kept so tables have stable rows."""
        if count < 0:
            raise ValueError(f"negative action count {count} for {component}.{action}")
        self._counts[(component, action, int(bits))] += int(count)

    def extend(self, other: ActionCounter) -> None:
        for (component, action, bits), count in other._counts.items():
            self._counts[(component, action, bits)] += count

    def items(self) -> list[ActionCount]:
        """All counts, sorted by (component, action, bits)."""
        return [
            ActionCount(component, action, count, bits)
            for (component, action, bits), count in sorted(self._counts.items())
        ]

    def get(self, component: str, action: str, bits: int | None = None) -> int:
        """Total count of an action (over all widths unless ``bits`` is given)."""
        return sum(
            c
            for (comp, act, b), c in self._counts.items()
            if comp == component and act == action and (bits is None or b == bits)
        )

    def rows(self, *keys: str) -> list[tuple[object, ...]]:
        """All counts as plain tuples ``(*keys, component, action, count, bits)``, sorted by
        (component, action, bits) as :meth:`items`: the rows of a keyed action table
        (:func:`keyed_actions_frame`), without an object per count."""
        return [
            (*keys, component, action, count, bits)
            for (component, action, bits), count in sorted(self._counts.items())
        ]

    def to_frame(self) -> pd.DataFrame:
        return actions_frame(self.items())


def actions_frame(items: Iterable[ActionCount]) -> pd.DataFrame:
    """A tidy DataFrame with columns component, action, count (int64), bits (int64)."""
    rows = [(a.component, a.action, a.count, a.bits) for a in items]
    return keyed_actions_frame(rows, ())


def keyed_actions_frame(rows: Sequence[tuple[object, ...]], keys: Sequence[str]) -> pd.DataFrame:
    """One tidy DataFrame of many counters' rows (:meth:`ActionCounter.rows`): columns ``keys``
    (``layer``, ``design``, ...), then component, action, count (int64), bits (int64). Built
    once for a whole run, never one frame per layer."""
    names = [*keys, *COUNTED_ACTION_COLUMNS]
    if not rows:  # pandas gives an empty list float64, an empty row frame object columns
        frame = pd.DataFrame(rows, columns=names)
        return frame.astype({"count": "int64", "bits": "int64"})
    columns = list(zip(*rows, strict=True))  # by column: each inferred as the rows' column is
    data: dict[str, object] = {
        name: list(column) for name, column in zip(names[:-2], columns[:-2], strict=True)}
    data[names[-2]] = np.array(columns[-2], dtype=np.int64)  # count
    data[names[-1]] = np.array(columns[-1], dtype=np.int64)  # bits
    return pd.DataFrame(data)

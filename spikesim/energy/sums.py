"""Sums of energies per group, bit for bit those of pandas' ``groupby(...).sum()``.

The layer table's energies have always been pandas group sums (of priced action rows per layer
row and component), and floating-point sums depend on how they are taken: pandas adds a
group's values with ``np.add.reduceat`` when its group ids are sorted along the rows
(pandas 3), else with a compensated (Kahan) loop in row order, skipping NaN. A sweep point
priced a few hundred rows through about ten such groupbys, whose set-up (an index of the
labels, a factorization, a monotonicity check) cost far more than the additions.

:func:`group_sums` takes the same sums from the labels directly: the compensated loop is a
numba kernel (:func:`_kahan_group_sums`, the arithmetic of pandas' ``group_sum``: no fused or
reordered operations), the sorted case is the same ``np.add.reduceat``. Which of the two pandas
uses for sorted ids is asked of pandas once per process, on values where they differ
(:func:`sorted_ids_use_reduceat`); tests check the sums against pandas itself, bit for bit.
"""

from __future__ import annotations

import functools

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from spikesim._jit import kernel_input, njit


@njit
def _kahan_group_sums(
    values: np.ndarray, labels: np.ndarray, size: int
) -> np.ndarray:  # pragma: no cover - compiled
    sums = np.zeros(size, dtype=np.float64)
    compensation = np.zeros(size, dtype=np.float64)
    for i in range(values.shape[0]):
        lab = labels[i]
        val = values[i]
        if val != val:  # NaN is skipped
            continue
        y = val - compensation[lab]
        t = sums[lab] + y
        compensation[lab] = t - sums[lab] - y
        if compensation[lab] != compensation[lab]:  # an infinite value: keep the infinity
            compensation[lab] = 0.0
        sums[lab] = t
    return sums


def kahan_group_sums_twin(
    values: NDArray[np.float64], labels: NDArray[np.intp], size: int
) -> NDArray[np.float64]:
    """Plain-Python twin of :func:`_kahan_group_sums` (tests compare them bit for bit)."""
    sums = [0.0] * size
    compensation = [0.0] * size
    for val, lab in zip(values.tolist(), labels.tolist(), strict=True):
        if val != val:
            continue
        y = val - compensation[lab]
        t = sums[lab] + y
        compensation[lab] = t - sums[lab] - y
        if compensation[lab] != compensation[lab]:
            compensation[lab] = 0.0
        sums[lab] = t
    return np.array(sums, dtype=np.float64)


@functools.cache
def sorted_ids_use_reduceat() -> bool:
    """Whether this pandas sums the groups of sorted ids with ``np.add.reduceat`` (pandas 3)
    rather than its compensated loop (pandas 2): asked of pandas itself on the first of some
    seeded random values where the two sums differ (numpy's reduction order is its own)."""
    rng = np.random.default_rng(0)
    for _ in range(1000):
        probe = rng.standard_normal(16) * 10.0 ** rng.integers(-3, 12, size=16)
        reduceat = float(np.add.reduceat(probe, [0])[0])
        one_group = kernel_input(np.zeros(len(probe), np.intp))
        compensated = float(_kahan_group_sums(kernel_input(probe), one_group, 1)[0])
        if reduceat != compensated:
            found = float(pd.Series(probe).groupby(np.zeros(len(probe), np.intp)).sum().iloc[0])
            if found not in (reduceat, compensated):
                raise RuntimeError(f"pandas sums a group neither way spikesim knows ({found!r})")
            return found == reduceat
    raise RuntimeError("no probe told np.add.reduceat and a compensated sum apart")


def group_sums(
    values: NDArray[np.float64], labels: NDArray[np.intp], size: int, *, sort: bool
) -> NDArray[np.float64]:
    """Σ ``values`` per label (labels in ``0..size-1``): the
    sums of ``pd.Series(values).groupby(labels, sort=sort).sum()`` at their labels, bit for
    bit, 0 where a label has no row.

    ``sort`` matters only for which algorithm pandas picks: sorted grouping numbers the groups
    by label, so its ids are sorted along the rows when the labels are; unsorted grouping
    numbers them by first appearance, so its ids are sorted when each group's rows are
    consecutive."""
    values = kernel_input(values, np.float64)
    labels = kernel_input(labels, np.intp)
    if len(values) != len(labels):
        raise ValueError(f"{len(values)} values but {len(labels)} labels")
    if not len(values):
        return np.zeros(size, dtype=np.float64)
    if labels.min() < 0 or labels.max() >= size:
        raise ValueError(f"labels must lie in 0..{size - 1}")
    if _ids_sorted(labels, sort) and not np.isnan(values).any() and sorted_ids_use_reduceat():
        start = np.flatnonzero(np.r_[True, labels[1:] != labels[:-1]])
        out = np.zeros(size, dtype=np.float64)
        with np.errstate(invalid="ignore"):  # inf - inf is NaN, as pandas leaves it
            out[labels[start]] = np.add.reduceat(values, start)
        return out
    return np.asarray(_kahan_group_sums(values, labels, size), dtype=np.float64)


def _ids_sorted(labels: NDArray[np.intp], sort: bool) -> bool:
    """Whether pandas' group ids of ``labels`` are sorted along the rows."""
    if sort:
        return bool((labels[1:] >= labels[:-1]).all())
    starts = labels[np.r_[True, labels[1:] != labels[:-1]]]
    return len(np.unique(starts)) == len(starts)  # each label in one run of rows

"""``group_sums`` is pandas' ``groupby(...).sum()``, bit for bit, for both groupings and for
labels sorted, grouped in runs, or scattered; its numba kernel equals its plain twin."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from spikesim._jit import kernel_input
from spikesim.energy.sums import _kahan_group_sums, group_sums, kahan_group_sums_twin

# magnitudes 1e-6..1e12 of both signs (energies in pJ span this), some NaN and infinities
finite = st.floats(min_value=-1e12, max_value=1e12, allow_nan=False)
value = st.one_of(finite, finite.map(lambda v: v * 1e-9), st.just(float("nan")),
                  st.just(float("inf")), st.just(float("-inf")))


@st.composite
def labelled(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray, int]:
    n = draw(st.integers(1, 60))
    size = draw(st.integers(1, 8))
    values = np.array(draw(st.lists(value, min_size=n, max_size=n)), dtype=np.float64)
    labels = np.array(draw(st.lists(st.integers(0, size - 1), min_size=n, max_size=n)))
    shape = draw(st.sampled_from(["scattered", "sorted", "runs"]))
    if shape == "sorted":
        labels = np.sort(labels)
    elif shape == "runs":  # each label's rows together, labels in any order
        order = draw(st.permutations(list(range(size))))
        labels = np.array(order)[np.sort(labels)]
    return values, labels.astype(np.intp), size


def pandas_sums(values: np.ndarray, labels: np.ndarray, size: int, sort: bool) -> np.ndarray:
    with np.errstate(invalid="ignore"):  # inf - inf
        sums = pd.Series(values).groupby(labels, sort=sort).sum()
    out = np.zeros(size, dtype=np.float64)
    out[sums.index.to_numpy()] = sums.to_numpy(dtype=np.float64)
    return out


@settings(max_examples=200, deadline=None)
@given(labelled(), st.booleans())
def test_group_sums_are_pandas_sums_bit_for_bit(case: tuple[np.ndarray, np.ndarray, int],
                                                  sort: bool) -> None:
    values, labels, size = case
    got = group_sums(values, labels, size, sort=sort)
    want = pandas_sums(values, labels, size, sort)
    np.testing.assert_array_equal(got.view(np.int64), want.view(np.int64))


@settings(max_examples=100, deadline=None)
@given(labelled())
def test_kahan_kernel_equals_its_twin(case: tuple[np.ndarray, np.ndarray, int]) -> None:
    values, labels, size = case
    got = _kahan_group_sums(kernel_input(values), kernel_input(labels), size)
    np.testing.assert_array_equal(got.view(np.int64),
                                  kahan_group_sums_twin(values, labels, size).view(np.int64))


def test_a_sum_the_two_algorithms_disagree_on_is_pandas_own() -> None:
    """Values where reduceat and the compensated loop differ, as one sorted group and as one
    scattered among others: each time pandas' result."""
    rng = np.random.default_rng(7)
    tried = 0
    for _ in range(500):
        values = rng.standard_normal(12) * 10.0 ** rng.integers(-3, 12, size=12)
        one = np.zeros(12, np.intp)
        compensated = _kahan_group_sums(kernel_input(values), kernel_input(one), 1)[0]
        if np.add.reduceat(values, [0])[0] == compensated:
            continue
        tried += 1
        for labels in (one, np.arange(12, dtype=np.intp) % 2):
            for sort in (True, False):
                got = group_sums(values, labels, 2, sort=sort)
                want = pandas_sums(values, labels, 2, sort)
                assert got.tobytes() == want.tobytes()
    assert tried > 10


def test_labels_outside_the_size_are_refused() -> None:
    with pytest.raises(ValueError, match="labels"):
        group_sums(np.ones(2), np.array([0, 3]), 2, sort=True)
    with pytest.raises(ValueError, match="labels"):
        group_sums(np.ones(2), np.array([0, -1]), 2, sort=True)
    with pytest.raises(ValueError, match="values"):
        group_sums(np.ones(2), np.array([0]), 2, sort=True)
    assert group_sums(np.ones(0), np.zeros(0, np.intp), 3, sort=False).tolist() == [0, 0, 0]

"""Pareto extraction equals brute force; the front table and figure."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from spikesim.dse.pareto import draw_front, pareto_front, pareto_mask


def brute_force(v: np.ndarray) -> np.ndarray:
    n = len(v)
    out = np.ones(n, dtype=bool)
    for i in range(n):
        for j in range(n):
            if all(v[j] <= v[i]) and any(v[j] < v[i]):
                out[i] = False
                break
    return out


@given(
    st.integers(1, 4).flatmap(
        lambda k: arrays(np.float64, st.tuples(st.integers(0, 60), st.just(k)),
                         elements=st.integers(0, 6).map(float))
    )
)
def test_pareto_mask_equals_brute_force(v: np.ndarray) -> None:
    np.testing.assert_array_equal(pareto_mask(v), brute_force(v))


def test_pareto_mask_blocks_and_ties() -> None:
    rng = np.random.default_rng(0)
    v = rng.integers(0, 30, size=(1300, 3)).astype(float)  # several blocks of 512
    np.testing.assert_array_equal(pareto_mask(v), brute_force(v))
    same = np.ones((3, 2))
    assert pareto_mask(same).all()  # equal points do not dominate each other


def _results() -> pd.DataFrame:
    rows = []
    for i, (e, c, a, d) in enumerate([(1, 5, 1, "spikequant"), (2, 2, 2, "spikequant"),
                                      (3, 3, 3, "spikequant"), (4, 1, 4, "mac-w4a4"),
                                      (5, 2, 5, "mac-w4a4"), (9, 9, 9, "fp16")]):
        rows.append({"point_index": i, "design": d, "layer": "TOTAL", "energy_pj": e,
                     "total_cycles": c, "area_mm2": a, "error": ""})
        rows.append({"point_index": i, "design": d, "layer": "q_proj", "energy_pj": e,
                     "total_cycles": c, "area_mm2": a, "error": ""})
    rows.append({"point_index": 9, "design": "spikequant", "layer": "TOTAL", "energy_pj": np.nan,
                 "total_cycles": np.nan, "area_mm2": 1.0, "error": "InputError: no fit"})
    return pd.DataFrame(rows)


@pytest.mark.slow  # a sweep of a dozen points end to end: 1.3 s
def test_pareto_front_across_and_within_designs(tmp_path: Path) -> None:
    front = pareto_front(_results())
    assert len(front) == 6  # TOTAL rows of successful points only
    across = dict(zip(front["point_index"], front["pareto"], strict=True))
    assert across == {0: True, 1: True, 2: False, 3: True, 4: False, 5: False}
    within = dict(zip(front["point_index"], front["pareto_design"], strict=True))
    assert within == {0: True, 1: True, 2: False, 3: True, 4: False, 5: True}
    paths = draw_front(front, tmp_path / "fig" / "r-pareto")
    assert [p.suffix for p in paths] == [".png", ".pdf"]
    assert all(p.stat().st_size > 0 for p in paths)


def test_display_units_keep_axes_free_of_offsets() -> None:
    from spikesim.dse.pareto import display_unit

    assert display_unit("energy_pj", pd.Series([9.9e8, 1.2e9, 9.3e9])) == (1e9, "energy (mJ)")
    assert display_unit("energy_pj", pd.Series([3.0e5, 8.0e5])) == (1e3, "energy (nJ)")
    assert display_unit("total_cycles", pd.Series([1.2e6, 3.9e6])) == (1e6, "cycles (millions)")
    assert display_unit("total_cycles", pd.Series([800.0])) == (1.0, "cycles")
    assert display_unit("area_mm2", pd.Series([5.5, 14.5])) == (1.0, "area (mm²)")


def test_front_table_lists_a_repeated_point_once() -> None:
    from spikesim.dse.pareto import front_table

    row = {"design": "mac-w4a4", "layer": "TOTAL", "error": "", "if_array.lanes": None,
           "energy_pj": 1.0e9, "total_cycles": 10, "area_mm2": 1.0}
    front = pareto_front(pd.DataFrame([row, dict(row)]))
    lines = front_table(front, ["if_array.lanes"]).splitlines()
    assert len(lines) == 2  # the header and one point


def test_bit_parallel_mac_designs_share_zero_skip_points() -> None:
    from spikesim.dataflows import get_design

    for name in ("mac-w4a4", "atom", "spikellm", "fp16"):
        assert "mac.zero_skip" in get_design(name).ignores
    assert "mac.zero_skip" not in get_design("mac-bitserial").ignores

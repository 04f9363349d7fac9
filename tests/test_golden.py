"""End-to-end golden: the numbers of every preset on the shipped trace do not move.

Each case's ``layers.csv`` and ``actions.csv`` in ``tests/golden/<preset>/`` was written by
``python tests/golden/regenerate.py``. Every column stored there must exist in today's tables
with exactly the same values, row for row (through the same CSV round trip, so floats compare
by their shortest repr). New columns may appear; none may change or vanish.
"""

from __future__ import annotations

import io

import pandas as pd
import pytest
from golden_cases import GOLDEN_CASES, GOLDEN_DIR, golden_tables


def _round_trip(frame: pd.DataFrame) -> pd.DataFrame:
    buf = io.StringIO()
    frame.to_csv(buf, index=False)
    buf.seek(0)
    return pd.read_csv(buf, keep_default_na=False)


@pytest.mark.parametrize("case", GOLDEN_CASES)
def test_golden_numbers_are_reproduced(case: str) -> None:
    layers, actions = golden_tables(case)
    for name, frame in (("layers", layers), ("actions", actions)):
        golden = pd.read_csv(GOLDEN_DIR / case / f"{name}.csv", keep_default_na=False)
        now = _round_trip(frame)
        missing = [c for c in golden.columns if c not in now.columns]
        assert not missing, f"{case}/{name}.csv: columns gone: {missing}"
        pd.testing.assert_frame_equal(
            now[list(golden.columns)], golden, check_exact=True, obj=f"{case}/{name}.csv"
        )

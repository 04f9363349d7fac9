"""Run-directory CSV tables through Arrow (spikesim.report.csvout) are pandas' bytes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from spikesim.report import csvout

TEXT = st.text(alphabet=st.sampled_from(list('ab.,"\n\r é_-0\t;')), max_size=6)


@st.composite
def frames(draw: st.DrawFn) -> pd.DataFrame:
    rows = draw(st.integers(0, 12))
    columns: dict[str, object] = {}
    for i in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["str", "arrow", "int64", "uint8", "float", "bool"]))
        name = draw(st.sampled_from(["layer", "a b", "x,y", "q", "n"])) + str(i)
        if kind in ("str", "arrow"):
            values = draw(st.lists(TEXT, min_size=rows, max_size=rows))
            columns[name] = pd.Series(values, dtype="str" if kind == "str" else "string[pyarrow]")
        elif kind == "int64":
            columns[name] = np.array(draw(st.lists(st.integers(-2**63, 2**63 - 1),
                                                   min_size=rows, max_size=rows)), np.int64)
        elif kind == "uint8":
            columns[name] = np.array(draw(st.lists(st.integers(0, 255), min_size=rows,
                                                   max_size=rows)), np.uint8)
        elif kind == "float":
            columns[name] = np.array(draw(st.lists(st.floats(allow_nan=False), min_size=rows,
                                                   max_size=rows)), float)
        else:
            columns[name] = np.array(draw(st.lists(st.booleans(), min_size=rows,
                                                   max_size=rows)), bool)
    return pd.DataFrame(columns)


@given(frame=frames())
@settings(max_examples=150, deadline=None)
def test_written_bytes_are_pandas_bytes(frame: pd.DataFrame,
                                        tmp_path_factory: pytest.TempPathFactory) -> None:
    """Every table, long or short (the Arrow path forced at any length), integer, string
    (structural characters included), float or boolean: the bytes of pandas' to_csv."""
    folder = tmp_path_factory.mktemp("csv")
    with pytest.MonkeyPatch.context() as m:
        m.setattr(csvout, "ARROW_MIN_ROWS", 0)
        csvout.write_csv(frame, folder / "fast.csv")
    frame.to_csv(folder / "pandas.csv", index=False, lineterminator="\n", encoding="utf-8")
    assert (folder / "fast.csv").read_bytes() == (folder / "pandas.csv").read_bytes()


def test_a_long_integer_and_string_table_takes_arrow(tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    rows = csvout.ARROW_MIN_ROWS
    frame = pd.DataFrame({
        "layer": pd.Series(np.repeat(np.array(["layers.0.q_proj", "layers.0.k_proj"], object),
                                     rows // 2), dtype="str"),
        "abs_q": np.arange(rows, dtype=np.int64), "count": np.arange(rows, dtype=np.int64) * 7,
    })
    calls = []
    real = csvout.pa_csv.write_csv
    monkeypatch.setattr(csvout.pa_csv, "write_csv",
                        lambda *a, **k: calls.append(1) or real(*a, **k))
    csvout.write_csv(frame, tmp_path / "fast.csv")
    assert calls == [1]
    frame.to_csv(tmp_path / "pandas.csv", index=False, lineterminator="\n", encoding="utf-8")
    assert (tmp_path / "fast.csv").read_bytes() == (tmp_path / "pandas.csv").read_bytes()

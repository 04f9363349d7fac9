"""The transaction timeline of one layer as a Chrome / Perfetto trace (trace event format).

:func:`chrome_trace` is pure: it turns rows of ``transactions.csv`` into the JSON-ready dict that
``chrome://tracing`` and https://ui.perfetto.dev open. Writing it is the job of
:mod:`spikesim.report.rundir` (:func:`~spikesim.report.rundir.write_timeline`).

Mapping: one process (``pid``) per design, one thread (``tid``) per unit (``dram``, ``array``,
any other unit after them); one complete event (``"ph": "X"``) per transaction, named by its
``kind`` (``load``, ``compute``); ``ts`` and ``dur`` in microseconds, computed once here from the
integer cycles and the clock: ``ts = start_cycle / clock_hz · 1e6``. The exact cycles are kept in
``args``. Metadata events (``"ph": "M"``) name the processes and threads.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from spikesim.errors import InputError

__all__ = ["TIMELINE_UNITS", "chrome_trace", "timeline_file_name"]

TIMELINE_UNITS = ("dram", "array")
"""Units in thread order (``tid`` 1, 2, …); other units follow in order of appearance."""

_US_PER_S = 1e6


def timeline_file_name(layer: str) -> str:
    """File name of a layer's timeline in a run directory (``timeline-<layer>.json``)."""
    safe = "".join(c if c.isalnum() or c in "._-" else "_" for c in layer)
    return f"timeline-{safe}.json"


def chrome_trace(transactions: pd.DataFrame, layer: str, clock_hz: float) -> dict[str, Any]:
    """The transactions of ``layer`` (every design) in Chrome trace event format.

    Parameters
    ----------
    transactions:
        ``transactions.csv`` of a run: ``layer, design, unit, kind, step, start_cycle,
        end_cycle`` (cycles are integers; a transaction occupies ``[start_cycle, end_cycle)``).
    layer:
        The layer to export.
    clock_hz:
        Clock frequency (Hz) converting cycles to time.

    Returns
    -------
    dict
        ``{"traceEvents": [...], "displayTimeUnit": "ns", "otherData": {...}}``.

    Raises
    ------
    InputError
        ``layer`` has no transactions (the message lists the layers that have), or
        ``clock_hz`` is not positive.
    """
    if not clock_hz > 0:
        raise InputError(f"clock must be positive, got {clock_hz}", field="clock_hz")
    rows = transactions[transactions["layer"].astype(str) == layer]
    if not len(rows):
        known = ", ".join(dict.fromkeys(transactions["layer"].astype(str))) or "none"
        raise InputError(f"no transactions for layer '{layer}' (layers: {known})", field="layer")
    us_per_cycle = _US_PER_S / float(clock_hz)
    designs = list(dict.fromkeys(rows["design"].astype(str)))
    seen = list(dict.fromkeys(rows["unit"].astype(str)))
    units = [u for u in TIMELINE_UNITS if u in seen] + [u for u in seen if u not in TIMELINE_UNITS]
    pid_of = {d: i + 1 for i, d in enumerate(designs)}
    tid_of = {u: i + 1 for i, u in enumerate(units)}
    events: list[dict[str, Any]] = []
    for design, pid in pid_of.items():
        events.append(
            {"name": "process_name", "ph": "M", "pid": pid, "tid": 0, "args": {"name": design}}
        )
        events.append(
            {"name": "process_sort_index", "ph": "M", "pid": pid, "tid": 0,
             "args": {"sort_index": pid}}
        )
        for unit, tid in tid_of.items():
            events.append(
                {"name": "thread_name", "ph": "M", "pid": pid, "tid": tid, "args": {"name": unit}}
            )
    ordered = rows.sort_values(["design", "unit", "start_cycle", "step"], kind="stable")
    for r in ordered.to_dict("records"):
        start, end = int(r["start_cycle"]), int(r["end_cycle"])
        events.append(
            {
                "name": str(r["kind"]),
                "cat": str(r["unit"]),
                "ph": "X",
                "ts": start * us_per_cycle,
                "dur": (end - start) * us_per_cycle,
                "pid": pid_of[str(r["design"])],
                "tid": tid_of[str(r["unit"])],
                "args": {
                    "step": int(r["step"]),
                    "start_cycle": start,
                    "end_cycle": end,
                    "cycles": end - start,
                },
            }
        )
    return {
        "traceEvents": events,
        "displayTimeUnit": "ns",
        "otherData": {"layer": layer, "clock_hz": float(clock_hz), "time_unit": "us"},
    }

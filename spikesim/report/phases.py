"""Energy and latency per token of each inference phase (prefill, decode), per design.

Architecture papers compare LLM accelerators per token of each phase: the prefill's energy per
prompt token and its latency (time to first token), the decode's energy per generated token and
its latency per step (time per output token; a step generates one token of every sequence of
the batch). :func:`phase_totals` computes both from ``layers.csv``, split by operator class, with
the token counts of the run's phase plan (``summary.json`` ``trace.source.phases``;
:func:`phase_tokens`).

Layers run one after another (as everywhere in spikesim), so a phase's seconds are its layers'
cycles over the clock. When ``--layers`` selected part of a model, the figures are those of the
selected layers over the phase's tokens.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import pandas as pd

from spikesim.schema import OP_CLASSES, PHASES, Phase

__all__ = ["PHASE_COLUMNS", "phase_tokens", "phase_totals", "summary_count"]

PHASE_COLUMNS = [
    "design", "phase", "tokens", "steps", "total_cycles", "seconds", "seconds_per_step",
    "energy_pj", "energy_per_token_pj",
    *(f"energy_{c}_per_token_pj" for c in OP_CLASSES),
]
"""Columns of :func:`phase_totals` (``summary.json`` ``phases``): ``tokens`` the phase processed
(prefill: prompt tokens of every sequence) or generated (decode); ``steps`` (prefill 1, decode
the steps); ``seconds_per_step`` (decode: time per output token); energy per token in all and
per operator class."""


def summary_count(value: Any, default: int = 0) -> int:
    """A positive integer of a summary read back from disk, else ``default`` (not a count: a
    hand-edited ``summary.json`` may hold anything)."""
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return value
    return default


def phase_tokens(source: Mapping[str, Any], tokens: int) -> dict[str, tuple[int, int]]:
    """``{phase: (tokens, steps)}`` of a run: a model workload's plan (``source["phases"]``:
    ``prefill_tokens``, ``generated_tokens``, ``decode_steps``), else a prefill of ``tokens``
    tokens in one step (a trace, a topology CSV). Values that are not positive integers (a
    hand-edited ``summary.json``) count as absent."""
    plan = source.get("phases") if isinstance(source, Mapping) else None
    if not isinstance(plan, Mapping):
        return {Phase.PREFILL.value: (int(tokens), 1)}
    out: dict[str, tuple[int, int]] = {}
    if summary_count(plan.get("prefill_tokens")):
        out[Phase.PREFILL.value] = (summary_count(plan.get("prefill_tokens")), 1)
    if summary_count(plan.get("generated_tokens")):
        out[Phase.DECODE.value] = (summary_count(plan.get("generated_tokens")),
                                   summary_count(plan.get("decode_steps"), 1))
    return out


def _per(energy_pj: float, tokens: int) -> float:
    return energy_pj / tokens if tokens else math.nan


def phase_totals(
    layers: pd.DataFrame, clock_hz: float, phases: Mapping[str, tuple[int, int]]
) -> pd.DataFrame:
    """Per design (first-appearance order) and phase (:data:`PHASES` order, those present):
    cycles, seconds, energy, and energy per token, in all and per operator class
    (columns :data:`PHASE_COLUMNS`). A phase absent from ``phases`` has 0 tokens and NaN per
    token."""
    frame = layers.assign(
        phase=layers["phase"].astype(str) if "phase" in layers else Phase.PREFILL.value,
        op_class=layers["op_class"].astype(str) if "op_class" in layers else OP_CLASSES[0],
    )
    rows: list[dict[str, Any]] = []
    designs = list(dict.fromkeys(frame["design"]))
    present = [p for p in PHASES if p in set(frame["phase"])]
    present += [p for p in dict.fromkeys(frame["phase"]) if p not in present]
    clock = float(clock_hz) if clock_hz > 0 else 1.0
    for design in designs:
        of_design = frame[frame["design"] == design]
        for phase in present:
            part = of_design[of_design["phase"] == phase]
            if part.empty:
                continue
            tokens, steps = phases.get(phase, (0, 1))
            cycles = int(part["total_cycles"].sum())
            energy = float(part["energy_pj"].sum())
            by_class = part.groupby("op_class")["energy_pj"].sum()
            row: dict[str, Any] = {
                "design": design, "phase": phase, "tokens": int(tokens), "steps": int(steps),
                "total_cycles": cycles, "seconds": cycles / clock,
                "seconds_per_step": cycles / clock / steps,
                "energy_pj": energy, "energy_per_token_pj": _per(energy, tokens),
            }
            for c in OP_CLASSES:
                row[f"energy_{c}_per_token_pj"] = _per(float(by_class.get(c, 0.0)), tokens)
            rows.append(row)
    return pd.DataFrame(rows, columns=PHASE_COLUMNS)

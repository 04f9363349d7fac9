"""Throughput of ``spikesim sweep``: 200 hardware points on a synthetic smollm2-135m trace.

Prints points per minute with 1 and 2 local workers, and the overhead beyond the simulation
itself (everything that is not time inside ``spikesim.simulate``: scheduling, pickling, config
validation, building the rows, writing the Parquet parts), as a share of the simulation time:

- ``worker``: (Σ task time − Σ simulate time) / Σ simulate time, inside the workers;
- ``steady``: per point once the pool runs: ((t_last − t_first) × workers − Σ simulate time of
  the points finished after the first) / that Σ, where t_* are the times results arrive;
- ``total``: (wall × workers − Σ simulate time) / Σ simulate time, wall including planning and
  the one-time start of the worker processes (spawn: each imports spikesim).

With one worker the points run in the sweep's own process (no worker to start). Issue 13
measured 718 points/min with one worker before its work (target: at least 5x that, 3,590);
both are printed beside the figures. Not a timed test.

    python benchmarks/bench_sweep.py                    # 32 tokens, 200 points, 1 and 2 workers
    python benchmarks/bench_sweep.py --tokens 16 --workers 1 2
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
BEFORE_PTS_PER_MIN = 718.0
"""Issue 13's figure for one worker before its work (same benchmark, same machine class)."""
TARGET_PTS_PER_MIN = 5 * BEFORE_PTS_PER_MIN
AXES = {  # 5 × 5 × 4 × 2 = 200 points
    "if_array.lanes": [4, 8, 16, 32, 64],
    "if_array.columns": [16, 32, 64, 128, 256],
    "encoder.count": [1, 2, 4, 8],
    "quant.normal_coding": ["count", "bitserial"],
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tokens", type=int, default=32)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    args = parser.parse_args()
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
        os.environ.setdefault(var, "1")

    from spikesim.dse import run_sweep
    from spikesim.dse.runner import TaskOutcome
    from spikesim.trace import synth_trace

    with tempfile.TemporaryDirectory() as tmp:
        trace = Path(tmp) / "smollm2"
        synth_trace(trace, shape="smollm2-135m", tokens=args.tokens, seed=0)
        spec = Path(tmp) / "sweep.yaml"
        spec.write_text(
            yaml.safe_dump({"base": str(ROOT / "hw_configs" / "spikequant-45nm.yaml"),
                            "axes": AXES, "designs": ["spikequant"]}),
            encoding="utf-8",
        )
        print(f"sweep: 200 points × spikequant on smollm2-135m (1 block, 7 linears), "
              f"{args.tokens} tokens, {os.cpu_count()} cores")
        print(f"one worker before issue 13: {BEFORE_PTS_PER_MIN:.0f} points/min; "
              f"target {TARGET_PTS_PER_MIN:.0f}")
        print(f"{'workers':>7} {'wall s':>7} {'pts/min':>8} {'steady pts/min':>14} "
              f"{'sim/pt ms':>9} {'worker':>7} {'steady':>7} {'total':>7} {'x before':>8}")
        for workers in args.workers:
            out = Path(tmp) / f"results-{workers}.parquet"
            arrivals: list[tuple[float, float]] = []

            def seen(outcome: TaskOutcome, arrivals: list[tuple[float, float]] = arrivals) -> None:
                arrivals.append((time.perf_counter(), outcome.sim_seconds))

            t0 = time.perf_counter()
            s = run_sweep(spec, trace, out, workers=workers, on_outcome=seen)
            wall = time.perf_counter() - t0  # includes planning and pool start-up
            if s.ran != 200 or s.failed:
                raise SystemExit(f"unexpected sweep result: {s.text()}")
            span = arrivals[-1][0] - arrivals[0][0]
            sim_after = sum(sim for _, sim in arrivals[1:])
            worker = (s.task_seconds - s.sim_seconds) / s.sim_seconds
            steady = (span * workers - sim_after) / sim_after
            total = (wall * workers - s.sim_seconds) / s.sim_seconds
            print(f"{workers:>7} {wall:>7.1f} {60 * s.ran / wall:>8.1f} "
                  f"{60 * (len(arrivals) - 1) / span:>14.1f} {1000 * s.sim_seconds / s.ran:>9.1f} "
                  f"{100 * worker:>6.1f}% {100 * steady:>6.1f}% {100 * total:>6.1f}% "
                  f"{60 * s.ran / wall / BEFORE_PTS_PER_MIN:>8.2f}")


if __name__ == "__main__":
    main()

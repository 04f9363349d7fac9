"""The fixed cost per small layer: a whole-model workload has thousands of them.

The whole smollm2-135m shape (30 decoder layers of 21 layers each: 7 linears, the attention
matmuls per KV group, the vector-unit operators; 630 in all) at 16 tokens, SpikeQuant and
W4A4 (1,260 (layer, design) rows), in process through ``spikesim.simulate`` with the cache of
quantized layers warm (quantization is not what this measures) and the process's memory of
the previous run's kernel statistics, row counts and output totals cleared before each run
(a run counts its layers as in a fresh process). The floor: one float32 BLAS
pass over the same GEMMs (activations x weights^T of every tensor layer, operands already in
memory), what any simulator that produces exact outputs must at least do. Printed: the time
per row in ms and as a ratio to the floor's time per tensor layer, for the whole ``simulate``
and for its two stages (counting: ``simulate_counts``; pricing: ``price_run``), each against
the floor measured beside it in the same repeat; medians of ``--repeat``, in process CPU time
(the machine may be shared). Not a timed test: it prints.

The "before" column is what this machine measured before issue 13's fixed-cost work (a pandas
DataFrame per (layer, design) for the action counts and for the histogram, then one concat;
every action row priced through a per-row loop; a provenance sentence per leakage row, and the
range bounds priced with full provenance only to be summed), same defaults.

    python benchmarks/bench_layers.py
    python benchmarks/bench_layers.py --tokens 256 --layers 'layers.0.*,layers.1.*'
    python benchmarks/bench_layers.py --profile   # also a cProfile of one simulate, top 25
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from collections.abc import Callable
from statistics import median

BEFORE = {"simulate": 26.5, "counting": 23.5, "pricing": 1.6}
"""Per-row time as a ratio to the floor's time per tensor layer, before the change."""


def cpu_seconds(fn: Callable[[], object]) -> float:
    """CPU time of this process spent in ``fn()`` (the machine may be shared: time spent
    descheduled is not the simulator's)."""
    t = time.process_time()
    fn()
    return time.process_time() - t


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tokens", type=int, default=16)
    parser.add_argument("--layers", default="*", help="comma-separated names or globs")
    parser.add_argument("--designs", default="spikequant,mac-w4a4")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="spikesim-bench-") as tmp:
        os.environ["SPIKESIM_CACHE"] = os.path.join(tmp, "cache")
        os.environ.pop("SPIKESIM_NO_CACHE", None)
        run(args)


def run(args: argparse.Namespace) -> None:
    import numpy as np

    import spikesim
    from spikesim.energy import energy_model
    from spikesim.pipeline import price_run
    from spikesim.sim.counts import select_layers, simulate_counts, tensor_layers

    hw = spikesim.load_hardware("spikequant-45nm")
    workload = spikesim.load_workload("shape:smollm2-135m", tokens=args.tokens)
    layers = args.layers.split(",")
    chosen = select_layers(workload, layers)
    tensors = tensor_layers(chosen)
    operands = [
        (np.asarray(t.activations(), np.float32), np.asarray(t.weights(), np.float32))
        for t in tensors
    ]
    result = spikesim.simulate(hw, workload, args.designs, layers=layers)  # warm: jit, cache
    rows = len(result.layers)

    def floor() -> None:
        for x, w in operands:
            x @ w.T

    from spikesim.dataflows.if_token_serial.engine import KERNEL_MEMO
    from spikesim.hw.memo import ROW_COUNTS
    from spikesim.sim import quantcache

    def forget() -> None:
        """Forget what a previous run of the same workload left in this process besides the
        decoded cache entries (timing-kernel statistics, salient row counts, output totals
        read): each timed run counts its layers as a run in a fresh process would."""
        KERNEL_MEMO.clear()
        ROW_COUNTS.clear()
        quantcache._TOTALS.clear()

    def simulate() -> None:
        forget()
        spikesim.simulate(hw, workload, args.designs, layers=layers)

    def counting() -> None:
        forget()
        simulate_counts(hw, workload, args.designs, layers=layers)

    table = energy_model(hw)
    counted = simulate_counts(hw, workload, args.designs, layers=layers)

    def pricing() -> None:
        price_run(counted, hw, table)

    stages = {"simulate": simulate, "counting": counting, "pricing": pricing}
    ratios: dict[str, list[float]] = {name: [] for name in stages}
    ms: dict[str, list[float]] = {name: [] for name in ["floor", *stages]}
    for _ in range(args.repeat):  # each stage against a floor measured right beside it
        for name, fn in stages.items():
            per_floor = cpu_seconds(floor) / len(tensors)
            per_row = cpu_seconds(fn) / rows
            ratios[name].append(per_row / per_floor)
            ms["floor"].append(per_floor * 1e3)
            ms[name].append(per_row * 1e3)
    print(f"workload: smollm2-135m shape, {args.tokens} tokens, layers {args.layers}: "
          f"{len(chosen)} layers ({len(tensors)} with a GEMM), designs {args.designs}: "
          f"{rows} rows; median of {args.repeat}, process CPU time")
    print(f"floor (float32 GEMM per tensor layer): {median(ms['floor']):.3f} ms")
    print(f"{'stage':10s} {'ms/row':>8s} {'x floor':>8s} {'before':>8s}")
    for name in stages:
        print(f"{name:10s} {median(ms[name]):8.2f} {median(ratios[name]):8.2f} "
              f"{BEFORE[name]:8.2f}")
    if args.profile:
        import cProfile
        import pstats

        profile = cProfile.Profile()
        profile.runcall(simulate)
        pstats.Stats(profile).sort_stats("cumulative").print_stats(25)


if __name__ == "__main__":
    main()

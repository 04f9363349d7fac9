"""Whole-simulation speed against one float32 BLAS pass over the same GEMMs, in one run.

One llama2-7b-shaped decoder layer (7 linears) at 2048 tokens (synthesized unless --trace is
given). The floor: read each layer's activations and weights from the trace and multiply them
once in float32 (what any simulator that produces exact outputs must at least do). Then
``spikesim.simulate`` with SpikeQuant alone, and with all six designs (each with a cold cache of
quantized layers), then SpikeQuant again at another hardware point (twice the lanes) with the
cache the previous run left, each timed as a ratio to that floor. Peak RSS of the process is
printed too. NumPy runs on ordinary pages, as in the CLI (:mod:`spikesim.pages`; set
``NUMPY_MADVISE_HUGEPAGE=1`` to time huge pages). Not a timed test: it prints.

The "before" column is what issue 13 measured on main before the shared work (same machine
class, same ratios): 2.5x for SpikeQuant alone, about 7x for every design.

With ``--whole``, also the whole llama2-7b prefill from shapes (``spikesim simulate --workload
llama2-7b --designs spikequant --workers 2 --no-figures``, a fresh process with an empty cache
of quantized layers; 32 blocks, 33,248 layers at 2048 tokens): its wall time against issue
13's 180 s and against the floor scaled to the model (32 × the layer floor, over 2 cores), and
the CPU seconds of its processes (issue 13 extrapolated 870 before). About 10 minutes on a
2-core machine. With ``--whole-warm``, that run fills a cache bounded at
:data:`WHOLE_CACHE_BYTES` instead (the whole model's entries take ~15 GB: it needs that much
free disk where the temporary directory lies) and the same command is then timed again with
every layer cached, as a sweep's later points run. About 15 minutes.

    python benchmarks/bench_speed.py
    python benchmarks/bench_speed.py --trace traces/l7 --tokens 2048
    python benchmarks/bench_speed.py --whole
    python benchmarks/bench_speed.py --whole-warm
"""

from __future__ import annotations

import argparse
import os
import resource
import tempfile
import time
from pathlib import Path

WHOLE_TARGET_S = 180.0
WHOLE_BEFORE_CPU_S = 870.0
"""Issue 13's whole-prefill row: at most 180 s wall on 2 cores; about 870 CPU-s before
(extrapolated from one layer)."""
WHOLE_CACHE_BYTES = 20 * 1024**3
"""``SPIKESIM_CACHE_MAX_BYTES`` of ``--whole-warm``: room for every entry of the prefill."""
BLOCKS = 32
"""Decoder blocks of llama2-7b (the layer floor scaled to the model)."""

BEFORE = {"spikequant": 2.5, "all designs": 7.0, "spikequant, other lanes, warm": 2.5}
TARGET = {"spikequant": 1.5, "all designs": 2.5, "spikequant, other lanes, warm": 0.3}
"""Issue 13's targets, as ratios to the floor."""


def main() -> None:
    import numpy as np

    import spikesim

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trace", help="existing llama2-7b-shaped trace")
    parser.add_argument("--tokens", type=int, default=2048)
    parser.add_argument("--whole", action="store_true",
                        help="also time the whole llama2-7b prefill (about 10 minutes)")
    parser.add_argument("--whole-warm", action="store_true",
                        help="time the whole prefill filling a 20 GiB cache, then again with "
                             "every layer cached (about 15 minutes, ~15 GB of disk)")
    args = parser.parse_args()
    from spikesim.pages import prefer_small_pages

    prefer_small_pages()  # as the CLI and its workers run (spikesim.pages), floor included
    tmp = None
    trace_dir = args.trace
    if trace_dir is None:
        from spikesim.trace import synth_trace

        tmp = tempfile.TemporaryDirectory(prefix="spikesim-bench-")
        trace_dir = str(Path(tmp.name) / "llama2-7b")
        synth_trace(trace_dir, shape="llama2-7b", layers=1, tokens=args.tokens, seed=0)
    hw = spikesim.load_hardware("spikequant-45nm")
    trace = spikesim.load_trace(trace_dir)
    for layer in trace.layers:
        layer.verify()  # checksums once, outside the timings
    # warm the numba kernels outside the timings (compile or cache load)
    tiny = Path(tempfile.mkdtemp(prefix="spikesim-warm-")) / "t"
    from spikesim.trace import synth_trace as _synth

    _synth(tiny, gemm=(8, 64, 64))
    spikesim.simulate(hw, spikesim.load_trace(tiny), spikesim.design_names())

    t = time.perf_counter()
    for layer in trace.layers:
        x = np.asarray(layer.activations(), np.float32)
        w = np.asarray(layer.weights(), np.float32)
        x @ w.T
    floor = time.perf_counter() - t
    print(f"{len(trace.layers)} linears of {trace.tokens} tokens; floor (read + one float32 "
          f"matmul each): {floor:.2f} s")
    print(f"{'case':<28} {'seconds':>8} {'x floor':>8} {'before':>7} {'target':>7}")
    other = spikesim.load_hardware("spikequant-45nm", {"if_array.lanes": 2 * hw.if_array.lanes})
    cases = (
        ("spikequant", ["spikequant"], hw, True),
        ("all designs", list(spikesim.design_names()), hw, True),
        ("spikequant, other lanes, warm", ["spikequant"], other, False),
    )
    for case, designs, point, fresh_cache in cases:
        if fresh_cache:  # a cold cache of quantized layers and output totals
            os.environ["SPIKESIM_CACHE"] = tempfile.mkdtemp(prefix="spikesim-bench-cache-")
        t = time.perf_counter()
        spikesim.simulate(point, trace, designs)
        seconds = time.perf_counter() - t
        print(f"{case:<28} {seconds:>8.2f} {seconds / floor:>8.2f} {BEFORE[case]:>6.1f}x "
              f"{TARGET[case]:>6.1f}x")
    print(f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20:.2f} GiB")
    if args.whole or args.whole_warm:
        whole_prefill(args.tokens, floor, warm=args.whole_warm)
    if tmp is not None:
        tmp.cleanup()


def whole_prefill(tokens: int, layer_floor_s: float, *, warm: bool = False) -> None:
    """Time ``spikesim simulate`` of the whole llama2-7b prefill in a fresh process (its own
    empty cache) and print it against the 180 s target and the floor scaled to the model;
    with ``warm``, the cache it fills holds every layer and the run is timed again."""
    import shutil

    with tempfile.TemporaryDirectory(prefix="spikesim-whole-") as work:
        env = dict(os.environ, SPIKESIM_CACHE=str(Path(work) / "cache"))
        env.pop("SPIKESIM_NO_CACHE", None)
        label = "empty cache"
        if warm:
            free = shutil.disk_usage(work).free
            if free < WHOLE_CACHE_BYTES:
                print(f"whole prefill, warm: skipped ({free / 2**30:.1f} GiB free in {work}, "
                      f"{WHOLE_CACHE_BYTES / 2**30:.0f} GiB needed)")
                warm = False
            else:
                env["SPIKESIM_CACHE_MAX_BYTES"] = str(WHOLE_CACHE_BYTES)
                label = f"empty cache, filling one of {WHOLE_CACHE_BYTES / 2**30:.0f} GiB"
        _print_whole(tokens, layer_floor_s, label, *_timed_prefill(tokens, env, work, "cold"))
        if warm:
            _print_whole(tokens, layer_floor_s, "every layer cached",
                         *_timed_prefill(tokens, env, work, "warm"))


def _timed_prefill(tokens: int, env: dict[str, str], work: str,
                   name: str) -> tuple[float, float, float]:
    """(wall s, CPU-s of the child processes, largest child's peak RSS GiB) of one run."""
    import subprocess
    import sys

    command = [sys.executable, "-m", "spikesim", "simulate", "--hw", "spikequant-45nm",
               "--workload", "llama2-7b", "--tokens", str(tokens), "--designs",
               "spikequant", "--workers", "2", "--no-figures", "--quiet",
               "--out", str(Path(work) / name)]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    subprocess.run(command, env=env, check=True, stdout=subprocess.DEVNULL)
    wall = time.perf_counter() - t
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, after.ru_maxrss / 2**20


def _print_whole(tokens: int, layer_floor_s: float, label: str, wall: float, cpu: float,
                 rss_gib: float) -> None:
    floor = BLOCKS * layer_floor_s / 2
    print(f"whole llama2-7b prefill, {tokens} tokens, spikequant, --workers 2, {label}: "
          f"{wall:.0f} s wall (target {WHOLE_TARGET_S:.0f} s; floor {BLOCKS} x "
          f"{layer_floor_s:.1f} s / 2 cores = {floor:.0f} s, {wall / floor:.2f}x), {cpu:.0f} "
          f"CPU-s (before ~{WHOLE_BEFORE_CPU_S:.0f}), peak RSS of its largest process "
          f"{rss_gib:.1f} GiB")


if __name__ == "__main__":
    main()

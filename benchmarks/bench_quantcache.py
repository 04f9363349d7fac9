"""The cache of quantized layers on a sweep over hardware-only axes, cold against warm.

A sweep of 8 points (``if_array.lanes`` × ``sram.weights.banks``, 4 × 2) on the shipped trace
(smollm2-135m, 8 layers, 256 tokens), SpikeQuant, through ``spikesim.dse.run_sweep``: run once
with the cache off, once with an empty cache (cold: every point of the first worker quantizes;
the entries are written), once more with it filled (warm: no layer is quantized or read). Also
prints the share of the no-cache sweep's time spent quantizing (``Design.quantize``, timed in
process with the pool replaced by an in-process loop). Ratios, not only seconds. Not a timed test.

    python benchmarks/bench_quantcache.py [--workers 1] [--repeat 3] [--designs spikequant]
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
AXES = {"if_array.lanes": [8, 16, 32, 64], "sram.weights.banks": [8, 16]}


def sweep_once(spec: Path, out: Path, workers: int, cache: bool) -> float:
    from spikesim.dse import run_sweep

    shutil.rmtree(out, ignore_errors=True)
    start = time.perf_counter()
    run_sweep(spec, "smollm2-135m", out, workers=workers, cache=cache)
    return time.perf_counter() - start


def quantize_share(spec: Path, out: Path) -> float:
    """Share of an in-process, no-cache sweep's wall time spent in ``Design.quantize``."""
    from spikesim.dataflows import get_design
    from spikesim.dse import runner

    spent = [0.0]
    patched: list[tuple[Any, Any]] = []
    for name in ("spikequant", "mac-w4a4"):
        design = get_design(name)
        cls = type(design)
        original = cls.quantize

        def timed(self: Any, *args: Any, _original: Any = original, **kw: Any) -> Any:
            t0 = time.perf_counter()
            try:
                return _original(self, *args, **kw)
            finally:
                spent[0] += time.perf_counter() - t0

        if (cls, original) not in patched:
            patched.append((cls, original))
            cls.quantize = timed
    real_local = runner._run_local

    def local(tasks: Any, trace_path: str, trace_sha: str, workers: int, on_outcome: Any,
              cache: bool = True) -> None:
        for task in tasks:
            on_outcome(runner.run_task(task, trace_path, trace_sha, cache))

    runner._run_local = local
    try:
        wall = sweep_once(spec, out, 1, cache=False)
    finally:
        runner._run_local = real_local
        for cls, original in patched:
            cls.quantize = original
    return spent[0] / wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--designs", default="spikequant")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        os.environ["SPIKESIM_CACHE"] = str(folder / "cache")
        os.environ.pop("SPIKESIM_NO_CACHE", None)
        spec = folder / "sweep.yaml"
        spec.write_text(yaml.safe_dump({
            "base": str(ROOT / "hw_configs" / "spikequant-45nm.yaml"),
            "axes": AXES, "designs": args.designs.split(","),
        }), encoding="utf-8")
        from spikesim.sim import quantcache

        share = quantize_share(spec, folder / "share.parquet")
        rows: dict[str, list[float]] = {"off": [], "cold": [], "warm": []}
        for _ in range(args.repeat):
            rows["off"].append(sweep_once(spec, folder / "r.parquet", args.workers, False))
            quantcache.clear()
            rows["cold"].append(sweep_once(spec, folder / "r.parquet", args.workers, True))
            rows["warm"].append(sweep_once(spec, folder / "r.parquet", args.workers, True))
        best = {k: min(v) for k, v in rows.items()}
        info = quantcache.info()
        print(f"sweep: 8 points ({', '.join(AXES)}), designs {args.designs}, "
              f"{args.workers} worker(s), best of {args.repeat}")
        print(f"quantization share of the no-cache sweep (in process): {share:.1%}")
        for k, v in best.items():
            print(f"  cache {k:4s}: {v:6.2f} s wall   ({v / best['off']:.2f}x of no cache)")
        print(f"  warm / cold: {best['warm'] / best['cold']:.2f}x; "
              f"entries {info.entries}, {info.bytes:,} bytes")


if __name__ == "__main__":
    main()

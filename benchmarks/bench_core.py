"""Speed and memory of the core simulator on one llama2-7b-shaped decoder layer (7 linears).

Prints, for 256, 512, 1024 and 2048 tokens: wall time of the SpikeQuant simulation split into
stages (trace read, quantization, engine, pricing), peak RSS, and the ratio of the simulation time
to the floor (reading the layer's activations from the trace and summing |q| per token). Each
token count runs in a fresh subprocess so peak RSS is its own. Not a timed test: it prints.

    python benchmarks/bench_core.py            # synthesizes the trace into a temp dir first
    python benchmarks/bench_core.py --trace traces/llama-2048
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

# One simulation may use every core for BLAS (the functional matmul); a sweep worker would use
# one. Set OMP_NUM_THREADS=1 to measure the single-thread figure.

TOKENS = (256, 512, 1024, 2048)


def measure(trace_dir: str, tokens: int, baselines: bool) -> dict[str, object]:
    """One measurement in this process (called in a subprocess by main)."""
    import numpy as np

    import spikesim
    from spikesim.dataflows import get_design
    from spikesim.dataflows.if_token_serial.engine import simulate_layer
    from spikesim.energy import component_energy, load_energy_table, price_actions
    from spikesim.quant import Method, quantize_layer
    from spikesim.quant.rtn import quantize_activations

    root = Path(__file__).resolve().parents[1]
    hw = spikesim.load_hardware(root / "hw_configs" / "spikequant-45nm.yaml")
    trace = spikesim.load_trace(trace_dir)
    for layer in trace.layers:
        layer.verify()  # checksums once, outside the timings (they are cached per process)

    # warm the numba kernels (compile or load from cache) on a tiny layer, outside the timings
    rng = np.random.default_rng(0)
    tiny = quantize_layer("w", "w", rng.normal(size=(4, 64)), rng.normal(size=(64, 64)), hw.quant)
    t = time.perf_counter()
    simulate_layer(tiny, hw, "spikequant")
    warmup = time.perf_counter() - t

    table = load_energy_table(hw.energy.table)
    stages = {"read_s": 0.0, "quantize_s": 0.0, "engine_s": 0.0, "price_s": 0.0, "floor_s": 0.0}
    cycles = 0
    spikes = 0
    for layer in trace.layers:
        t0 = time.perf_counter()
        x = layer.activations()[:tokens]
        w = layer.weights()
        t1 = time.perf_counter()
        ql = quantize_layer(layer.name, layer.op, x, w, hw.quant, Method.SPIKEQUANT)
        t2 = time.perf_counter()
        res = simulate_layer(ql, hw, "spikequant")
        t3 = time.perf_counter()
        priced = price_actions(res.actions.to_frame(), hw, table)
        component_energy(priced, [])
        t4 = time.perf_counter()
        stages["read_s"] += t1 - t0
        stages["quantize_s"] += t2 - t1
        stages["engine_s"] += t3 - t2
        stages["price_s"] += t4 - t3
        cycles += res.total_cycles
        spikes += res.spikes
        del x, w, ql, res
        # the floor: read the activations from the trace and sum |q| per token
        f0 = time.perf_counter()
        xf = np.asarray(layer.tensor("x")[:tokens], dtype=np.float32)
        q, _ = quantize_activations(xf, 4)
        np.abs(q, dtype=np.int32).sum(axis=1)
        stages["floor_s"] += time.perf_counter() - f0
    total = stages["read_s"] + stages["quantize_s"] + stages["engine_s"] + stages["price_s"]
    # the four MAC baselines on the same layers (read + quantize + simulate + price)
    baseline_s: dict[str, float] = {}
    if baselines:
        for design in ("mac-w4a4", "atom", "spikellm", "fp16"):
            t0 = time.perf_counter()
            for layer in trace.layers:
                res = get_design(design).simulate(_Prefix(layer, tokens), hw)
                price_actions(res.actions.to_frame(), hw, table)
            baseline_s[design] = time.perf_counter() - t0
    return {
        "tokens": tokens,
        **stages,
        "simulate_s": total,
        "warmup_s": warmup,
        "ratio_to_floor": total / stages["floor_s"],
        "peak_rss_gib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20,
        "total_cycles": cycles,
        "spikes": spikes,
        "baseline_s": baseline_s,
    }


class _Prefix:
    """A trace layer restricted to its first ``tokens`` tokens (same interface for designs)."""

    def __init__(self, layer: object, tokens: int):
        self._layer = layer
        self._tokens = tokens

    def __getattr__(self, name: str) -> object:
        return getattr(self._layer, name)

    def activations(self) -> object:
        return self._layer.activations()[: self._tokens]  # type: ignore[attr-defined]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trace", help="existing llama2-7b-shaped trace with >= 2048 tokens")
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(measure(args.trace, args.one, args.one == max(TOKENS))))
        return
    trace = args.trace
    tmp = None
    if trace is None:
        from spikesim.trace import synth_trace

        tmp = tempfile.TemporaryDirectory(prefix="spikesim-bench-")
        trace = str(Path(tmp.name) / "llama2-7b")
        t = time.perf_counter()
        synth_trace(trace, shape="llama2-7b", layers=1, tokens=max(TOKENS), seed=0)
        print(f"synthesized llama2-7b decoder layer, {max(TOKENS)} tokens: "
              f"{time.perf_counter() - t:.1f} s")
    print(f"{'tokens':>6} {'simulate s':>10} {'read':>6} {'quant':>6} {'engine':>7} "
          f"{'price':>6} {'floor s':>8} {'ratio':>6} {'peak GiB':>8} {'Mcycles':>9}")
    rows = []
    for tokens in TOKENS:
        out = subprocess.run(
            [sys.executable, __file__, "--trace", trace, "--one", str(tokens)],
            check=True, capture_output=True, text=True,
        )
        r = json.loads(out.stdout.strip().splitlines()[-1])
        rows.append(r)
        print(f"{r['tokens']:>6} {r['simulate_s']:>10.2f} {r['read_s']:>6.2f} "
              f"{r['quantize_s']:>6.2f} {r['engine_s']:>7.2f} {r['price_s']:>6.2f} "
              f"{r['floor_s']:>8.2f} {r['ratio_to_floor']:>6.1f} {r['peak_rss_gib']:>8.2f} "
              f"{r['total_cycles'] / 1e6:>9.1f}")
    import numpy as np

    tok = np.array([r["tokens"] for r in rows], float)
    sec = np.array([r["simulate_s"] for r in rows], float)
    slope, intercept = np.polyfit(tok, sec, 1)
    worst = float(np.max(np.abs(sec - (slope * tok + intercept)) / sec))
    print(f"affine fit: {intercept:.2f} s per layer set (weights: read, quantize) + "
          f"{slope * 1e3:.2f} ms per token; largest deviation from the line {worst:.0%}")
    print(f"numba warm-up (compile or cache load) outside the timings: {rows[0]['warmup_s']:.2f} s")
    last = rows[-1]
    print(f"baselines at {last['tokens']} tokens (read + quantize + simulate + price), "
          f"against SpikeQuant's {last['simulate_s']:.2f} s:")
    for design, seconds in last["baseline_s"].items():
        print(f"  {design:<9} {seconds:6.2f} s  ({seconds / last['simulate_s']:.2f} x SpikeQuant)")
    if tmp is not None:
        tmp.cleanup()


if __name__ == "__main__":
    main()

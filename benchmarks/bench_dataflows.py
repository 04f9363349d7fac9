"""Speed of the IF-array dataflows on one llama2-7b-shaped decoder layer (7 linears) at 2048 tokens.

The layers are read and quantized once (SpikeQuant); then each dataflow's fast engine simulates
all seven. Times are printed as ratios to the token-serial engine measured in the same run (the
floor this benchmark holds the new dataflows to: the token-batched array should stay within
1.5x of it), and to a plain floor: one float32 matmul per layer (what the functional outputs
alone cost). Not a timed test: it prints.

    python benchmarks/bench_dataflows.py            # synthesizes the trace into a temp dir first
    python benchmarks/bench_dataflows.py --trace traces/llama-2048 --tokens 1024
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

CONFIGS: dict[str, dict[str, object]] = {
    "token_serial": {},
    "token_serial, row latch": {"if_array.row_latch": True},
    "token_batched 16": {"if_array.dataflow": "token_batched", "if_array.batch_tokens": 16},
    "token_batched 128, latch": {
        "if_array.dataflow": "token_batched", "if_array.batch_tokens": 128,
        "if_array.row_latch": True,
    },
    "token_batched 256": {"if_array.dataflow": "token_batched", "if_array.batch_tokens": 256},
    "token_batched 32, sram store": {
        "if_array.dataflow": "token_batched", "if_array.batch_tokens": 32,
        "if_array.membrane_store": "sram",
        "sram.membrane": {"role": "membrane", "capacity_bytes": 262144, "word_bits": 1024,
                          "banks": 16, "ports": 1},
    },
}


def main() -> None:
    import numpy as np

    import spikesim
    from spikesim.dataflows.spiking import SPIKEQUANT
    from spikesim.quant import Method, quantize_layer

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trace", help="existing llama2-7b-shaped trace")
    parser.add_argument("--tokens", type=int, default=2048)
    args = parser.parse_args()
    tmp = None
    trace_dir = args.trace
    if trace_dir is None:
        from spikesim.trace import synth_trace

        tmp = tempfile.TemporaryDirectory(prefix="spikesim-bench-")
        trace_dir = str(Path(tmp.name) / "llama2-7b")
        synth_trace(trace_dir, shape="llama2-7b", layers=1, tokens=args.tokens, seed=0)
    root = Path(__file__).resolve().parents[1]
    base = root / "hw_configs" / "spikequant-45nm.yaml"
    trace = spikesim.load_trace(trace_dir)
    hw0 = spikesim.load_hardware(base)
    layers = []
    floor = 0.0
    for layer in trace.layers:
        x = np.asarray(layer.activations()[: args.tokens], np.float32)
        w = np.asarray(layer.weights(), np.float32)
        layers.append(quantize_layer(layer.name, layer.op, x, w, hw0.quant, Method.SPIKEQUANT))
        t = time.perf_counter()
        x @ w.T
        floor += time.perf_counter() - t
    rng = np.random.default_rng(0)
    tiny = quantize_layer("w", "w", rng.normal(size=(8, 64)), rng.normal(size=(64, 64)),
                          hw0.quant, Method.SPIKEQUANT)
    print(f"{len(layers)} layers of {args.tokens} tokens, quantized once; float32 matmul floor "
          f"{floor:.2f} s")
    print(f"{'dataflow':<30} {'s':>7} {'x serial':>9} {'x matmul':>9} {'Mcycles':>9} "
          f"{'weight reads M':>15}")
    serial = None
    for name, overrides in CONFIGS.items():
        hw = spikesim.load_hardware(base, overrides)
        flow = SPIKEQUANT.dataflow(hw)
        flow.simulate(tiny, hw, "warm-up")  # numba compile or cache load, outside the timing
        t = time.perf_counter()
        sims = [flow.simulate(q, hw, "spikequant") for q in layers]
        seconds = time.perf_counter() - t
        serial = serial or seconds
        cycles = sum(s.total_cycles for s in sims)
        reads = sum(s.actions.get("sram.weights", "read") for s in sims)
        print(f"{name:<30} {seconds:>7.2f} {seconds / serial:>9.2f} {seconds / floor:>9.2f} "
              f"{cycles / 1e6:>9.1f} {reads / 1e6:>15.1f}")
    if tmp is not None:
        tmp.cleanup()


if __name__ == "__main__":
    main()

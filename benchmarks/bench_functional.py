"""Exact outputs of one large layer (the IF array's functional truth) against one float32 BLAS pass.

A llama2-7b-sized linear at 2048 tokens (K=4096; N=4096 like q/k/v/o and N=11008 like gate/up),
integers drawn like SpikeQuant's: INT4 activations with 2.5 % salient values at 8 bits (x̄ as
int16), INT4 weights. The floor, measured in the same run: read the integers as float32 and
multiply once (what any simulator that produces exact outputs must at least do). Then, as ratios
to that floor: the exact matmul alone and the whole exact-output pass (matmul, wrap, overflow
events, θ, fire), for the old path (``exact_matmul``: float32 BLAS, int64 copy, every token
checked for overflow) and for ``functional_outputs`` on each backend of ``spikesim.hw.intgemm``
(overflow checked only on the tokens whose bound does not exclude it). ``int_mm`` is measured on
the first ``--int-mm-tokens`` tokens and scaled to the full layer (on AVX2-only CPUs it runs at
about 1 % of BLAS speed). Best of ``--repeat``. Not a timed test: it prints.

    python benchmarks/bench_functional.py [--tokens 2048] [--repeat 2] [--acc-bits 24]
"""

from __future__ import annotations

import argparse
import importlib.util
import time
from collections.abc import Callable

import numpy as np

from spikesim.hw.params import ArrayParams


def best(fn: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def main() -> None:
    from spikesim.hw.params import PassParams

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tokens", type=int, default=2048)
    parser.add_argument("--k", type=int, default=4096)
    parser.add_argument("--n", default="4096,11008")
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--acc-bits", type=int, default=24)
    parser.add_argument("--int-mm-tokens", type=int, default=32)
    args = parser.parse_args()
    has_torch = importlib.util.find_spec("torch") is not None
    if has_torch:
        import torch

        torch.set_num_threads(1)
    backends = ["blas", *(["onednn", "int_mm"] if has_torch else [])]
    rng = np.random.default_rng(0)
    m, k = args.tokens, args.k
    x = rng.integers(-7, 8, (m, k)).astype(np.int16)
    sal = rng.random((m, k)) < 0.025
    x[sal] = rng.integers(-127, 128, int(sal.sum()))
    p = PassParams(0, 4, 7, 3, 16)
    ap = ArrayParams(8, 8, args.acc_bits, 4, 1, 2, 7, False, True, 8, p, p)
    print(f"exact outputs of one linear, M={m} K={k}, INT4 x (2.5 % salient at 8 bits) and W, "
          f"acc_bits {args.acc_bits}; best of {args.repeat}; torch: {has_torch}")
    print(f"{'N':>6} {'path':<22} {'matmul s':>9} {'x floor':>8} {'outputs s':>10} {'x floor':>8}")
    for n in (int(v) for v in args.n.split(",")):
        measure(rng.integers(-8, 8, (n, k)).astype(np.int8), x, sal, ap, backends, args)


def measure(w: np.ndarray, x: np.ndarray, sal: np.ndarray, ap: ArrayParams, backends: list[str],
            args: argparse.Namespace) -> None:
    """One row per path for the layer with weights ``w`` [N, K]."""
    from spikesim.hw.functional import _fire_block, exact_matmul, functional_outputs
    from spikesim.hw.intgemm import ExactGemm
    from spikesim.quant.layer import Method, QuantizedLayer

    m, n = x.shape[0], w.shape[0]
    layer = QuantizedLayer(
        name="l", op="op", x_q=x, salient=sal, x_scale=np.full(m, 0.1, np.float32),
        w_q=w, w_scale=np.full(n, 0.01, np.float32), output_scale=0.5, act_bits=4,
        salient_bits=8, weight_bits=4, output_bits=4, method=Method.SPIKEQUANT,
    )
    functional_outputs(layer, ap, chunk_tokens=16)  # compile / load the kernels

    def floor() -> None:
        np.asarray(x, np.float32) @ np.asarray(w, np.float32).T

    def old_matmul() -> None:
        w_f32 = np.asarray(w, np.float32)
        for t0 in range(0, m, 512):
            exact_matmul(x[t0:t0 + 512], w, w_f32)

    def old_outputs() -> None:
        w_f32 = np.asarray(w, np.float32)
        out = np.zeros((1, 1), np.int64)
        for t0 in range(0, m, 512):
            t1 = min(m, t0 + 512)
            y = exact_matmul(x[t0:t1], w, w_f32)
            _fire_block(y, np.ones(t1 - t0, np.bool_), layer.x_scale[t0:t1],
                        layer.w_scale, 0.5, ap.frac_bits, ap.acc_bits, ap.fire_cycles,
                        ap.reset_zero, ap.half_init, out, False)

    base = best(floor, args.repeat)
    print(f"{n:>6} {'floor (f32 BLAS)':<22} {base:>9.2f} {1.0:>8.2f}")
    rows = [("old (exact_matmul)", best(old_matmul, args.repeat),
             best(old_outputs, args.repeat))]
    for backend in backends:
        tokens = min(m, args.int_mm_tokens) if backend == "int_mm" else m
        if tokens < 1:  # --int-mm-tokens 0: skip the int8 GEMM
            continue
        scale = m / tokens
        part = x[:tokens]

        def new_matmul(backend: str = backend, part: np.ndarray = part) -> None:
            gemm = ExactGemm(w, backend)
            for t0 in range(0, part.shape[0], 512):
                gemm(part[t0:t0 + 512])

        sub = layer if tokens == m else QuantizedLayer(
            name="l", op="op", x_q=part, salient=sal[:tokens], x_scale=layer.x_scale[:tokens],
            w_q=w, w_scale=layer.w_scale, output_scale=0.5, act_bits=4, salient_bits=8,
            weight_bits=4, output_bits=4, method=Method.SPIKEQUANT,
        )
        reps = 1 if backend == "int_mm" else args.repeat
        label = f"new ({backend})" + (f" x{scale:.0f}" if scale != 1 else "")
        def new_outputs(backend: str = backend, sub: QuantizedLayer = sub) -> None:
            functional_outputs(sub, ap, backend=backend)

        rows.append((label, best(new_matmul, reps) * scale, best(new_outputs, reps) * scale))
    for label, mm, outs in rows:
        print(f"{n:>6} {label:<22} {mm:>9.2f} {mm / base:>8.2f} {outs:>10.2f} "
              f"{outs / base:>8.2f}")


if __name__ == "__main__":
    main()

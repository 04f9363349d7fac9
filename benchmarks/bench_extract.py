"""Speed and memory of trace extraction from the real SmolLM2-135M (512 tokens, every linear).

Prints, each phase in a fresh subprocess so its peak RSS is its own:

* ``forward``: a bare forward pass over the tokens (no hooks), the floor;
* ``extract``: :func:`spikesim.trace.extract.extract_trace` on the same batches, every linear
  but lm_head (210 layers), float16, written to a temp dir (forward + hooks + checksummed
  safetensors writes);

with wall time (model load excluded and reported separately), peak RSS, the trace size on disk
and the ratio extract / forward. Needs the [extract] and [real-model] extras; the first run
fetches and converts the model into the cache (~20 s). Not a timed test: it prints.

    python benchmarks/bench_extract.py                    # 512 tokens, 1 thread
    python benchmarks/bench_extract.py --tokens 256 --threads 2 --layers 'layers.15.*'
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def measure(phase: str, tokens: int, seq_len: int, layers: str | None) -> dict[str, object]:
    """One phase in this process (called in a subprocess by main)."""
    import torch

    from spikesim.trace.extract import extract_trace, token_batches, tokenize
    from spikesim.trace.models import load_causal_lm
    from spikesim.trace.text import read_text

    t = time.perf_counter()
    loaded = load_causal_lm("smollm2-135m", progress=False)
    load_s = time.perf_counter() - t
    ids = tokenize(loaded.tokenizer, read_text(None, builtin="calibration").text)
    if len(ids) < tokens:
        raise SystemExit(f"the calibration text has only {len(ids)} tokens")
    batches = token_batches(ids, tokens=tokens, seq_len=seq_len, batch=1)
    with torch.no_grad():  # warm-up on a short input, outside the timing
        loaded.model(input_ids=batches[0]["input_ids"][:, :8], use_cache=False)
    out: dict[str, object] = {"phase": phase, "load_s": load_s}
    t = time.perf_counter()
    if phase == "forward":
        with torch.no_grad():
            for b in batches:
                loaded.model(**b)
    else:
        with tempfile.TemporaryDirectory() as tmp:
            trace = extract_trace(
                loaded.model,
                batches,
                Path(tmp) / "trace",
                layers=layers.split(",") if layers else None,
                progress=False,
            )
            out["layers"] = len(trace.layers)
            out["trace_bytes"] = sum(p.stat().st_size for p in (Path(tmp) / "trace").iterdir())
    out["wall_s"] = time.perf_counter() - t
    out["peak_rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tokens", type=int, default=512)
    parser.add_argument("--seq-len", type=int, default=256)
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    parser.add_argument("--layers", default=None, help="glob patterns (default every linear)")
    parser.add_argument("--phase", choices=("forward", "extract"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.phase:
        import torch

        torch.set_num_threads(args.threads)
        print(json.dumps(measure(args.phase, args.tokens, args.seq_len, args.layers)))
        return
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    results = {}
    for phase in ("forward", "extract"):
        cmd = [sys.executable, __file__, "--phase", phase, "--tokens", str(args.tokens),
               "--seq-len", str(args.seq_len), "--threads", str(args.threads)]  # fmt: skip
        if args.layers:
            cmd += ["--layers", args.layers]
        proc = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
        if proc.returncode != 0:
            raise SystemExit(proc.stderr.strip().splitlines()[-1] if proc.stderr else "failed")
        results[phase] = json.loads(proc.stdout.strip().splitlines()[-1])
    fwd, ext = results["forward"], results["extract"]
    print(f"SmolLM2-135M, {args.tokens} tokens (sequences of {args.seq_len}), "
          f"{args.threads} torch thread(s)")  # fmt: skip
    print(f"{'phase':<10} {'wall (s)':>9} {'peak RSS (MiB)':>15} {'model load (s)':>15}")
    for r in (fwd, ext):
        print(f"{r['phase']:<10} {r['wall_s']:>9.2f} {r['peak_rss_mib']:>15.0f} "
              f"{r['load_s']:>15.2f}")  # fmt: skip
    print(f"extract / forward: {ext['wall_s'] / fwd['wall_s']:.1f}x; "  # type: ignore[operator]
          f"{ext['layers']} layers, trace {ext['trace_bytes'] / 1e6:.1f} MB (float16)")  # type: ignore[operator]  # fmt: skip


if __name__ == "__main__":
    main()

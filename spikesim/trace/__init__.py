"""Workload traces: per-linear-layer activations and weights on disk, real or synthetic.

A trace is a directory with ``manifest.json`` and one ``.safetensors`` file per linear layer
(see :mod:`spikesim.trace.format`). :func:`synth_trace` writes one with LLM-like statistics
(see :mod:`spikesim.trace.synth`); :func:`load_trace` opens one lazily, memory-mapping tensors
and verifying checksums on first use.
"""

from spikesim.trace.format import (
    LayerTensors,
    TensorSpec,
    Trace,
    TraceLayer,
    load_trace,
    write_trace,
)
from spikesim.trace.synth import SHAPES, parse_gemm, synth_layers, synth_trace

__all__ = [
    "SHAPES",
    "LayerTensors",
    "TensorSpec",
    "Trace",
    "TraceLayer",
    "load_trace",
    "parse_gemm",
    "synth_layers",
    "synth_trace",
    "write_trace",
]

"""Workloads: per-linear-layer activations and weights, on disk (traces) or from shapes alone.

A trace is a directory with ``manifest.json`` and one ``.safetensors`` file per linear layer
(see :mod:`spikesim.trace.format`). :func:`synth_trace` writes one with LLM-like statistics
(see :mod:`spikesim.trace.synth`); :func:`load_trace` opens one lazily, memory-mapping tensors
and verifying checksums on first use. :func:`load_workload` also opens shape-only workloads (a
topology CSV, a Hugging Face ``config.json``, a named shape) whose values are generated per layer
when the simulator asks for them (see :mod:`spikesim.trace.workload`); a model's block plan also
holds attention matmuls and vector operators (:mod:`spikesim.trace.vector`).
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
from spikesim.trace.vector import VectorLayer, VectorOp
from spikesim.trace.workload import (
    GeneratedLayer,
    ShapeWorkload,
    Workload,
    WorkloadItem,
    WorkloadLayer,
    load_workload,
)

__all__ = [
    "SHAPES",
    "GeneratedLayer",
    "LayerTensors",
    "ShapeWorkload",
    "TensorSpec",
    "Trace",
    "TraceLayer",
    "VectorLayer",
    "VectorOp",
    "Workload",
    "WorkloadItem",
    "WorkloadLayer",
    "load_trace",
    "load_workload",
    "parse_gemm",
    "synth_layers",
    "synth_trace",
    "write_trace",
]

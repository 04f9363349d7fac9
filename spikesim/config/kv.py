"""The KV cache (the ``kv_cache:`` section of a hardware YAML): how keys and values are stored
between the step that computes them and the attention steps that read them.

Every design stores the cache the same way, so the cache's cost is the same under every
design and comparisons stay about the arrays:

* **Format.** K and V are integers of ``bits`` bits (symmetric), with one scale of
  ``scale_bits`` bits per token and KV head for K and one for V. 4 bits is the KV4 of the
  W4A4 methods (Atom, Zhao et al., MLSys 2024, arXiv:2310.19102; QuaRot, Ashkboos et al.,
  NeurIPS 2024, arXiv:2404.00456), the format a W4A4 accelerator's attention reads.
* **Writes** (``kv`` layers, :mod:`spikesim.hw.vector`): after RoPE, each new token's k and v
  of every KV head are quantized on the vector unit (abs-max, one reciprocal per row, a
  multiply and a round per value) and appended to the cache in DRAM.
* **Reads**: an attention matmul takes K (score) or V (value) as its ``w`` operand; those
  integers are quantized at ``bits`` (the design's per-channel weight rule, with
  ``quant.weight_bits`` replaced by ``bits``) and stream from DRAM through the weight SRAM
  like any weight tile, so their DRAM bytes are the cache's read traffic (``dram_weight_bytes``
  of the attention rows; store reads when the block's cache is on chip), overlapped with the
  array as the engines model it.

Where it lives: in DRAM, unless the hardware has an on-chip store (an SRAM with role
``store``) with room left after the weights: then the residency plan
(:mod:`spikesim.sim.residency`) keeps decoder blocks' caches there, block by block while they
fit, and their reads and appends go to the store; the other blocks spill to DRAM. (A cache is
large: 1 GiB for llama2-7b at 4096 tokens and 4 bits.)
"""

from __future__ import annotations

from pydantic import Field

from spikesim.config._base import FrozenModel


class KVCacheConfig(FrozenModel):
    """Storage format of the KV cache (see the module docstring)."""

    bits: int = Field(4, ge=2, le=8)
    """Bits of one stored key or value (symmetric integer). Also the width at which attention
    matmuls read K and V (their ``w`` operand)."""

    scale_bits: int = Field(16, ge=0, le=32)
    """Bits of the scale stored per token and KV head, once for K and once for V (16: FP16;
    0: scales not counted)."""

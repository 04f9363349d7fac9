"""Quantization and spike-coding knobs (the ``quant:`` section of a hardware YAML).

Every open choice of the SpikeQuant method that the paper's body would fix is a knob here, with
our reconstruction as the default (see ``shared/reference/spikequant-notes.md`` section 1.3).
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import Field, model_validator

from spikesim.config._base import FrozenModel


class Coding(StrEnum):
    """How a signed integer q becomes spike events.

    count: |q| unit spikes of sign sgn(q), at time steps 1..|q| (rate code, one stream).
    bitserial: one spike per set magnitude bit, one pass per bit plane (MSB first), with a shift.
    ttfs: one spike at time step T+1-|q| into a ramp (slope register) neuron.
    """

    COUNT = "count"
    BITSERIAL = "bitserial"
    TTFS = "ttfs"


class AtomConfig(FrozenModel):
    """Atom baseline (arXiv 2310.19102): static INT8 "keeper" input channels, the rest INT4."""

    keepers: int = Field(128, ge=0, le=2**20)
    """Input channels kept at ``keeper_bits``: the top channels by Σ_t x_t,i² on the calibration
    tokens (the diagonal of the Hessian proxy X^T X, Atom's ``hessian`` sort metric)."""

    keeper_bits: int = Field(8, ge=2, le=16)
    """Bits of the keeper channels (symmetric, their own per-token scale)."""

    clip_ratio: float = Field(0.9, gt=0, le=1)
    """Clip ratio of the normal channels' per-token scale (Atom's script uses 0.9)."""

    group_size: int | None = Field(None, gt=0, le=2**20)
    """Optional activation/weight group size along K for the normal channels (Atom uses 128);
    None: one scale per token and per output channel. Each group adds a dequantization."""


class SpikeLLMConfig(FrozenModel):
    """SpikeLLM baseline (arXiv 2407.04752): salient channels one bit wider over 2 time steps."""

    salient_fraction: float = Field(0.1, ge=0, le=1)
    """Fraction of input channels treated as salient (SpikeLLM's example uses 10 %), chosen on
    the calibration tokens by |mean_t((x W^T W) ⊙ x)| per channel (their saliency proxy)."""

    extra_bits: int = Field(1, ge=1, le=4)
    """Extra bits of salient channels; they are spread over 2^extra_bits time steps of
    act_bits-wide multi-bit spikes (two INT4 GEMM passes for the default)."""


class QuantConfig(FrozenModel):
    """Weight and activation quantization of every simulated linear layer."""

    weight_bits: int = Field(4, ge=2, le=8)
    """Symmetric per-output-channel weight bits b_w (RTN): w̄ in [-(2^(b_w-1)-1), 2^(b_w-1)-1]."""

    weight_group_size: int | None = Field(None, gt=0, le=2**20)
    """Optional weight group size along the input dimension (None: one scale per output channel).
    The spiking datapath folds one scale per output channel into θ, so SpikeQuant requires None."""

    act_bits: int = Field(4, ge=2, le=8)
    """Bits b_a of normal (non-salient) activations, symmetric per token."""

    salient_bits: int = Field(16, ge=2, le=16)
    """Bits b_s of salient activations; they share the token's scale (more spikes, no new scale).
    Default 16, measured: sharing the normal scale, b_s bits reach 2^(b_s-1)-1 normal steps, so
    8 bits clip at ~18x the largest normal value, while the real SmolLM2-135M's massive
    activations are 100-3000x; its W4A4 perplexity is 22,247 with b_s = 8 and 74.7 with
    b_s = 16 (fp32: 29.2, RTN W4A4: 8,686)."""

    mad_k: float = Field(6.0, gt=0)
    """Saliency rule: x is salient iff |x - median(x_t)| > mad_k * MAD(x_t), per token (row).
    Plain MAD, not 1.4826-scaled. Default measured on the real SmolLM2-135M-Instruct (all 210
    linear inputs, 256 tokens of the built-in calibration text): 2.55 % of the activation
    elements are salient at k = 6 (3.61 % at 5, 1.93 % at 7), inside the paper's reported
    2.45-2.68 %. The realised ratio is reported per layer."""

    output_bits: int = Field(4, ge=2, le=16)
    """Bits of the re-quantized output ȳ; the fire phase emits at most 2^(b_out-1)-1 spikes."""

    calibration_tokens: int = Field(128, gt=0, le=2**31)
    """Tokens (the first ones of the trace) used to calibrate the static per-layer output scale
    s_y = max|y| / (2^(b_out-1)-1) from the float output y = x W^T."""

    normal_coding: Coding = Coding.COUNT
    """Spike coding of normal activations."""

    salient_coding: Coding = Coding.BITSERIAL
    """Spike coding of salient activations. Default bit-serial: a 16-bit salient value costs at
    most 15 events over 15 planes, where TTFS would need a 32,767-step window and count coding
    up to 32,767 spikes (both stay available, and are sensible at 8 bits)."""

    atom: AtomConfig = AtomConfig()
    """Knobs of the Atom baseline design."""

    spikellm: SpikeLLMConfig = SpikeLLMConfig()
    """Knobs of the SpikeLLM baseline design."""

    @model_validator(mode="after")
    def _salient_wider(self) -> QuantConfig:
        if self.salient_bits < self.act_bits:
            raise ValueError(
                f"salient_bits ({self.salient_bits}) must be >= act_bits ({self.act_bits})"
            )
        return self

"""``mac-bitserial``: W4A4 RTN on a bit-serial systolic MAC array (Stripes, and with
``mac.zero_skip: activation_bits`` Bit-Pragmatic-style zero-bit skipping).

The MAC-world analogue of spike coding: does a spiking win come from spikes, or from skipping
zeros? Same quantizer as ``mac-w4a4`` (:func:`spikesim.quant.baselines.quantize_w4a4`), same
``mac.rows × mac.cols`` array, ``mac.dataflow`` and memory model; only the PE differs.

Definition (what the fast engine :mod:`.timing` computes and :mod:`.reference` steps)
---------------------------------------------------------------------------------------
**PE.** Weights are bit-parallel (``weight_bits``), activations bit-serial in sign-magnitude:
an activation a of ``act_bits`` (|a| ≤ 2^(act_bits-1) - 1) has ``P = act_bits - 1`` magnitude
bit planes. In one *bit-cycle* a PE processes one plane p: it ANDs the weight with bit p of |a|,
negates by a's sign (XOR + carry-in, no extra cycle) and shift-adds ``±(w·bit) << p`` into its
``mac.acc_bits`` accumulator. The sign costs no bit-cycle. In ws and is the accumulator starts
from the partial sum received from the PE above (a load, not an add).

**Beats and wavefronts.** The array runs SCALE-Sim's schedule
(:mod:`spikesim.dataflows.systolic.timing`: ``F`` folds of ``L`` cycles, ``T`` of them
streaming). Each SCALE-Sim cycle is one *beat* of the bit-serial array. The ``T`` streaming
beats of a fold each carry one *wavefront*, the activations that enter the array together:

- os (PE (r, c) keeps O[m, n]): beat k carries {A[m, k] : m in the fold's R tokens};
- ws (PE (r, c) keeps B[k, n]): beat m carries {A[m, k] : k in the fold's R inputs};
- is (PE (r, c) keeps A[m, k]): every one of the N beats uses the fold's R × C stationary
  activations, so each beat's wavefront is that whole block.

A streaming beat lasts ``P`` bit-cycles with ``zero_skip: none`` (Stripes). With
``zero_skip: activation_bits`` (Bit-Pragmatic) it lasts ``max(1, most set bits of |a| over the
wavefront)`` bit-cycles: PEs of a wavefront wait for the slowest one (clock-gated, no action),
and a wavefront of zeros still takes one bit-cycle (the beat that moves the operands). The
``L - T`` other beats of a fold (stationary load, skew fill, drain) last ``P`` bit-cycles in both
modes (conservative: they carry the tails of several wavefronts, which we do not track).

**Cycles.** ``compute_cycles`` = all bit-cycles - 1 (SCALE-Sim's index of the last cycle).
Hence with ``zero_skip: none``: ``compute_cycles + 1 = P · (SCALE-Sim compute cycles + 1)``,
exactly. The clock is ``clock_hz`` (a bit-cycle is one clock, as a MAC cycle is for the
bit-parallel designs: an assumption favouring neither).

**Actions.** Per PE bit-plane operation: ``mac_array.and`` at ``weight_bits`` and
``mac_array.add`` at ``mac.acc_bits``; ``P`` per multiply with ``none``, the set bits of |a| per
multiply with ``activation_bits`` (zero activations: none). SRAM operand reads, partial sums,
dequantization, requantization and output write-back are ``mac-w4a4``'s (an activation is read
once and held in the PE's shift register over its planes). ``mac_ops`` counts multiplies
(M·K·N); ``utilization`` = plane operations / (rows · cols · total_cycles).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from spikesim.config.hardware import HardwareConfig
from spikesim.config.quant import QuantConfig
from spikesim.dataflows.base import (
    DesignKind,
    LayerSim,
    ReferenceResult,
    quantize_trace_layer,
)
from spikesim.dataflows.bitserial_mac import area, engine, reference
from spikesim.dataflows.systolic.engine import map_mac_layer
from spikesim.hw.parts import LogicPart
from spikesim.mapping.schedule import Schedule
from spikesim.quant.baselines import MacQuantized, quantize_w4a4
from spikesim.trace import TraceLayer


@dataclass(frozen=True)
class BitSerialMacDesign:
    """W4A4 RTN on the bit-serial MAC array (a :class:`~spikesim.dataflows.base.Design`)."""

    name: str = "mac-bitserial"
    description: str = (
        "W4A4 RTN on a bit-serial systolic MAC array (Stripes; mac.zero_skip=activation_bits: "
        "Bit-Pragmatic zero-bit skipping)"
    )
    color: str = "#E69F00"  # orange (Okabe-Ito)
    needs_calibration: bool = False
    is_reference: bool = False
    kind: DesignKind = DesignKind.MAC
    ignores: tuple[str, ...] = (
        "if_array", "encoder", "quant.normal_coding", "quant.salient_coding"
    )

    def quantize(
        self, name: str, op: str, x: NDArray[np.float32], w: NDArray[np.float32],
        quant: QuantConfig,
    ) -> MacQuantized:
        return quantize_w4a4(name, op, x, w, quant)

    def map(self, quantized: MacQuantized, hw: HardwareConfig) -> Schedule:
        return map_mac_layer(quantized, hw)

    @property
    def quantization(self) -> tuple[str, object]:
        """``mac-w4a4``'s: the same quantizer."""
        return ("mac", quantize_w4a4)

    def simulate(self, layer: TraceLayer, hw: HardwareConfig) -> LayerSim:
        return self.simulate_quantized(quantize_trace_layer(self, layer, hw.quant), hw)

    def simulate_quantized(self, quantized: MacQuantized, hw: HardwareConfig) -> LayerSim:
        return engine.simulate_bitserial_layer(quantized, hw, self.name)

    def reference(self, layer: TraceLayer, hw: HardwareConfig) -> ReferenceResult | None:
        return reference.reference_layer(
            quantize_trace_layer(self, layer, hw.quant),
            hw,
        )

    def area_parts(self, hw: HardwareConfig) -> list[LogicPart]:
        return area.area_parts(hw)

    def notes(self, hw: HardwareConfig) -> list[str]:
        return []


MAC_BITSERIAL = BitSerialMacDesign()
"""The registered ``mac-bitserial`` design."""

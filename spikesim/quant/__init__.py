"""Quantization: RTN weights/activations, SpikeQuant MAD saliency, the QuantizedLayer artifact."""

from spikesim.quant.layer import (
    Method,
    QuantizedLayer,
    calibrate_output_scale,
    dequantized_output,
    quantize_layer,
)
from spikesim.quant.rtn import qmax, quantize_activations, quantize_weights
from spikesim.quant.spikequant import mad_salient_mask, spikequant_activations

__all__ = [
    "Method",
    "QuantizedLayer",
    "calibrate_output_scale",
    "dequantized_output",
    "mad_salient_mask",
    "qmax",
    "quantize_activations",
    "quantize_layer",
    "quantize_weights",
    "spikequant_activations",
]

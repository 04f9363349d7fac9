"""Model-quality evaluation: perplexity under fake quantization with the simulator's quantizers.

``spikesim eval`` runs a causal LM on held-out text once per method (``fp32`` reference,
``fp16``, and every :class:`spikesim.quant.Method`) with its linear layers fake-quantized by the
same integer functions the simulator uses (see :mod:`spikesim.eval.fakequant`). Importing this
package does not import torch; the functions that run a model do.
"""

from spikesim.eval.fakequant import (
    ACTIVATION_QUANTIZERS,
    REFERENCE_METHODS,
    FakeQuantStats,
    available_methods,
    fake_quant_activations,
    fake_quant_linear,
    fake_quant_weights,
    fake_quantized,
    parse_methods,
)
from spikesim.eval.perplexity import (
    DEFAULT_EVAL_TOKENS,
    EvalResult,
    MethodScore,
    evaluate,
    perplexity,
)

__all__ = [
    "ACTIVATION_QUANTIZERS",
    "DEFAULT_EVAL_TOKENS",
    "REFERENCE_METHODS",
    "EvalResult",
    "FakeQuantStats",
    "MethodScore",
    "available_methods",
    "evaluate",
    "fake_quant_activations",
    "fake_quant_linear",
    "fake_quant_weights",
    "fake_quantized",
    "parse_methods",
    "perplexity",
]

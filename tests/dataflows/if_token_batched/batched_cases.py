"""Small token-batched configurations shared by the reference tests and the engine-vs-reference
equality test: ``CASES[name] = (preset, overrides)``, the overrides complete (BASE included), for
``load_hardware(repo/hw_configs/<preset>.yaml, overrides)`` and :func:`small_layer`.

The layer of :func:`small_layer` (10 tokens, K = 40, N = 20) on BASE: 20 bytes of normal values
a token, 128 bytes (half the activation SRAM) per block, so blocks of 6 and 4 tokens; tiles of
8, 8 and 4 columns; 160 bytes a tile (40 inputs x 8 columns x 4 bits). Case names carry the
property they exercise ("encoder bound", "dram bound", "bank-conflict", "overflow", "K split",
"sram store"), which the tests may assert.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from spikesim.config.quant import QuantConfig
from spikesim.quant.layer import QuantizedLayer, quantize_layer

BASE: dict[str, Any] = {
    "if_array.dataflow": "token_batched",
    "if_array.columns": 8,
    "dram.latency_cycles": 5,
    "dram.bandwidth_bytes_per_cycle": 8,
    "sram.activations.capacity_bytes": 256,  # blocks of 6 and 4 tokens
    "sram.weights.capacity_bytes": 4096,
}


def membrane_sram(word_bits: int, banks: int = 1, ports: int = 1, capacity: int = 4096) -> dict:
    """Overrides adding an SRAM named ``membrane`` with role membrane."""
    return {
        "sram.membrane": {
            "role": "membrane",
            "capacity_bytes": capacity,
            "word_bits": word_bits,
            "banks": banks,
            "ports": ports,
        }
    }


def _case(preset: str, *parts: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    overrides = dict(BASE)
    for part in parts:
        overrides.update(part)
    return preset, overrides


CASES: dict[str, tuple[str, dict[str, Any]]] = {
    "count + bitserial salient, batch 4": _case("spikequant-45nm", {"if_array.batch_tokens": 4}),
    "batch 1, ttfs + count salient": _case(
        "spikequant-45nm-ttfs",
        {"if_array.batch_tokens": 1, "quant.salient_coding": "count"},
    ),
    "bitserial + count, batch 3 (smaller last batch), lanes 2": _case(
        "spikequant-45nm",
        {
            "if_array.batch_tokens": 3,
            "if_array.lanes": 2,
            "quant.normal_coding": "bitserial",
            "quant.salient_coding": "count",
        },
    ),
    "weights from the on-chip store (8-bit words), batch 3, slow dram": _case(
        "spikequant-45nm",
        {"if_array.batch_tokens": 3, "mapping.weight_source": "store",
         "sram.store": {"role": "store", "capacity_bytes": 1 << 20, "word_bits": 8},
         "dram.bandwidth_bytes_per_cycle": 0.5, "sram.weights.capacity_bytes": 320},
    ),
    "batch 8 larger than the block, lanes 1": _case(
        "spikequant-45nm-count", {"if_array.batch_tokens": 8, "if_array.lanes": 1}
    ),
    "row latch, count + bitserial, batch 5, bank-conflict bound": _case(
        "spikequant-45nm",
        {
            "if_array.batch_tokens": 5,
            "if_array.row_latch": True,
            "sram.weights.banks": 2,
            "if_array.lanes": 8,
        },
    ),
    "row latch, bitserial normal, ttfs salient, batch 2, lanes 4": _case(
        "spikequant-45nm",
        {
            "if_array.batch_tokens": 2,
            "if_array.row_latch": True,
            "if_array.lanes": 4,
            "quant.normal_coding": "bitserial",
            "quant.salient_coding": "ttfs",
            "quant.salient_bits": 6,
        },
    ),
    "ttfs, batch 3, encoder bound": _case(
        "spikequant-45nm-ttfs",
        {
            "if_array.batch_tokens": 3,
            "encoder.count": 1,
            "encoder.values_per_cycle": 1,
            "encoder.fifo_depth": 1,
            "quant.salient_coding": "count",
        },
    ),
    "batch 6, lanes 5, weight ports 2, deep fifo, bitserial + count": _case(
        "spikequant-45nm",
        {
            "if_array.batch_tokens": 6,
            "if_array.lanes": 5,
            "sram.weights.ports": 2,
            "sram.weights.banks": 3,
            "encoder.fifo_depth": 3,
            "quant.normal_coding": "bitserial",
            "quant.salient_coding": "count",
        },
    ),
    "batch 4, dram bound, weights not resident": _case(
        "spikequant-45nm",
        {
            "if_array.batch_tokens": 4,
            "dram.bandwidth_bytes_per_cycle": 0.25,
            "sram.weights.capacity_bytes": 320,
            "dram.latency_cycles": 40,
        },
    ),
    "sram store, port limited, batch 4, bank-conflict": _case(
        "spikequant-45nm",
        # record: 8 columns x 24 bits x 2 registers (V, P) = 384 bits = 2 words of 256; 2 ports
        {"if_array.batch_tokens": 4, "if_array.membrane_store": "sram"},
        membrane_sram(256, banks=2),
    ),
    "sram store, ttfs + bitserial salient, wide ports, batch 7, lanes 3": _case(
        "spikequant-45nm-ttfs",
        # record: 8 x 24 x 3 registers (V, I, P) = 576 bits = 5 words of 128; 4 x 2 ports
        {
            "if_array.batch_tokens": 7,
            "if_array.lanes": 3,
            "if_array.membrane_store": "sram",
            "quant.salient_coding": "bitserial",
        },
        membrane_sram(128, banks=4, ports=2),
    ),
    "K split in 2, registers, batch 3": _case(
        "spikequant-45nm",
        {"if_array.batch_tokens": 3, "sram.weights.capacity_bytes": 200},
    ),
    "K split in 3, sram store, row latch, batch 2, bank-conflict": _case(
        "spikequant-45nm",
        # record: 8 x 24 x 1 register (V; latched bit-serial needs no P) = 192 bits = 3 words
        {
            "if_array.batch_tokens": 2,
            "if_array.row_latch": True,
            "if_array.membrane_store": "sram",
            "sram.weights.capacity_bytes": 120,
            "sram.weights.banks": 2,
        },
        membrane_sram(64, banks=2, ports=2),
    ),
    "K split in 2, sram store, count, encoder bound": _case(
        "spikequant-45nm-count",
        {
            "if_array.batch_tokens": 5,
            "if_array.membrane_store": "sram",
            "sram.weights.capacity_bytes": 200,
            "encoder.count": 1,
            "encoder.values_per_cycle": 1,
            "encoder.fifo_depth": 1,
        },
        membrane_sram(256, banks=4),
    ),
    "overflow, acc_bits 7, zero reset, floor, batch 4, lanes 3": _case(
        "spikequant-45nm",
        {
            "if_array.batch_tokens": 4,
            "if_array.lanes": 3,
            "if_array.acc_bits": 7,
            "if_array.reset": "zero",
            "if_array.initial_membrane": "zero",
        },
    ),
}


def small_layer(
    quant: QuantConfig, seed: int = 1, m: int = 10, k: int = 40, n: int = 20
) -> QuantizedLayer:
    """A small layer with a persistent outlier channel (salient values in every token)."""
    rng = np.random.default_rng(seed)
    x = rng.standard_t(4, (m, k)).astype(np.float32)
    x[:, min(5, k - 1)] *= 40
    w = rng.normal(0, 0.05, (n, k)).astype(np.float32)
    return quantize_layer("layers.0.mlp.up_proj", "up_proj", x, w, quant)

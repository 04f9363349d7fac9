"""Typed configuration: hardware, quantization knobs, loaders."""

from spikesim.config.hardware import (
    BankRole,
    DRAMConfig,
    EncoderConfig,
    HardwareConfig,
    IFArrayConfig,
    MACArrayConfig,
    SRAMBankConfig,
)
from spikesim.config.kv import KVCacheConfig
from spikesim.config.loader import apply_overrides, load_hardware, parse_override
from spikesim.config.mapping import LoopOrder, MappingConfig, WeightSource
from spikesim.config.quant import Coding, QuantConfig
from spikesim.config.vector import VectorConfig, VectorFormat

__all__ = [
    "BankRole",
    "Coding",
    "DRAMConfig",
    "EncoderConfig",
    "HardwareConfig",
    "IFArrayConfig",
    "KVCacheConfig",
    "LoopOrder",
    "MACArrayConfig",
    "MappingConfig",
    "QuantConfig",
    "SRAMBankConfig",
    "VectorConfig",
    "VectorFormat",
    "WeightSource",
    "apply_overrides",
    "load_hardware",
    "parse_override",
]

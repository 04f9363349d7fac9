"""Designs and dataflows: the :class:`Design` protocol, the registries, and every built-in entry.

This file is the list of registry entries (explicit, no module scanning). A new IF-array
dataflow is one folder here, one value of :class:`spikesim.config.hardware.IFDataflow`, one
``register_if_dataflow`` line below, one preset in ``hw_configs/`` and one test folder in
``tests/dataflows/``; nothing in ``api``, ``dse``, ``eval``, ``report`` or ``cli`` changes.
``spike_spike/`` is not a dataflow but the spike × spike form of the attention matmuls on the
token-serial array (``if_array.attention_form``), chosen per layer by the spiking designs.
"""

from __future__ import annotations

from spikesim.dataflows.base import Design, DesignKind, IFArrayDataflow, LayerSim, ReferenceResult
from spikesim.dataflows.bitserial_mac import MAC_BITSERIAL
from spikesim.dataflows.if_token_batched import TOKEN_BATCHED
from spikesim.dataflows.if_token_serial import TOKEN_SERIAL
from spikesim.dataflows.registry import (
    DESIGNS,
    IF_DATAFLOWS,
    design_color,
    design_names,
    get_design,
    parse_designs,
    reference_design,
    register_design,
    register_if_dataflow,
)
from spikesim.dataflows.spiking import SPIKEQUANT
from spikesim.dataflows.systolic import MAC_DESIGNS

register_if_dataflow(TOKEN_SERIAL)
register_if_dataflow(TOKEN_BATCHED)

register_design(SPIKEQUANT)
for _design in MAC_DESIGNS:
    register_design(_design)
register_design(MAC_BITSERIAL)

__all__ = [
    "DESIGNS",
    "IF_DATAFLOWS",
    "Design",
    "DesignKind",
    "IFArrayDataflow",
    "LayerSim",
    "ReferenceResult",
    "design_color",
    "design_names",
    "get_design",
    "parse_designs",
    "reference_design",
    "register_design",
    "register_if_dataflow",
]

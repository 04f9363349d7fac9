"""What a design is, what a dataflow must implement, and the registry that holds them.

A **design** is a quantization method plus the array that runs it: ``spikequant`` is SpikeQuant's
quantization on the integrate-and-fire (IF) array; ``mac-w4a4`` is per-token W4A4 RTN on the
systolic MAC array. A design implements the :class:`Design` protocol: quantize a trace layer,
map it, simulate it (counts and cycles, never energy), optionally step it cycle by cycle
(the reference the fast engine is proven against), and list its area parts.

A **dataflow** is how an array walks a layer. The IF array's dataflow is the hardware field
``if_array.dataflow`` (:class:`~spikesim.config.hardware.IFDataflow`); each value is implemented
by one :class:`IFArrayDataflow` in its own folder of ``spikesim/dataflows`` and registered in
:data:`spikesim.dataflows.registry.IF_DATAFLOWS`. Spiking designs run on whichever dataflow the
hardware names, so a new dataflow needs no new design, and no edit outside its folder beyond one
enum value and one registry entry.

Registries are explicit (no module scanning) and registering a name twice is an error.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterator
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar

import numpy as np
from numpy.typing import NDArray

from spikesim.actions import ActionCounter
from spikesim.errors import InputError
from spikesim.hw.parts import LogicPart
from spikesim.hw.transfers import Timeline, empty_timeline

if TYPE_CHECKING:
    from spikesim.config.hardware import HardwareConfig
    from spikesim.config.quant import QuantConfig
    from spikesim.mapping.schedule import Schedule
    from spikesim.trace import TraceLayer, WorkloadLayer


class DesignKind(StrEnum):
    """The family of arithmetic a design uses."""

    SPIKING = "spiking"
    """Integrate-and-fire array: input spikes accumulate weights, no multiplier."""
    MAC = "mac"
    """Multiply-accumulate array (the baselines)."""


@dataclass(frozen=True, eq=False)
class LayerSim:
    """Cycles and action counts of one layer under one design (no energy: energy prices them).

    ``total_cycles = compute_cycles + stall_encoder_cycles + stall_bank_cycles
    + stall_dram_cycles``.
    ``spikes`` counts input spike events once per token (not once per output tile);
    ``acc_ops`` counts every accumulate of the IF array (events × active columns, slope adds,
    merges; in the spike × spike attention form coincidence increments and counter folds);
    ``utilization`` is issued events / (lanes × total_cycles) on the IF array and
    MACs / (rows × cols × total_cycles) on a MAC array.
    """

    layer: str
    op: str
    design: str
    tokens: int
    k: int
    n: int
    total_cycles: int
    compute_cycles: int
    stall_encoder_cycles: int
    stall_bank_cycles: int
    stall_dram_cycles: int
    utilization: float
    spikes: int
    acc_ops: int
    mac_ops: int
    salient_ratio: float
    overflow_events: int
    output_spikes: int
    actions: ActionCounter
    dram_weight_bytes: int = 0
    """DRAM bytes read for weights (:attr:`Schedule.dram_weight_bytes`; 0: no DRAM schedule)."""
    dram_activation_bytes: int = 0
    """DRAM bytes read for activations, salient records included."""
    dram_output_bytes: int = 0
    """DRAM bytes written back for the outputs."""
    transactions: Timeline = field(default_factory=empty_timeline)
    """The layer's DRAM loads and array computes (:func:`spikesim.hw.transfers.run_steps`)."""
    op_class: str = "linear"
    """The operator's class (:class:`~spikesim.schema.OpClass`): the workload layer's, set by
    the simulation loop (a dataflow sees only the quantized layer)."""
    phase: str = "prefill"
    """The inference phase (:class:`~spikesim.schema.Phase`), as ``op_class``."""

    def row(self) -> dict[str, object]:
        """The layer's fields for ``layers.csv`` (energy columns are added by the pricing step)."""
        return {
            "layer": self.layer,
            "op": self.op,
            "op_class": self.op_class,
            "phase": self.phase,
            "tokens": self.tokens,
            "k": self.k,
            "n": self.n,
            "design": self.design,
            "total_cycles": self.total_cycles,
            "compute_cycles": self.compute_cycles,
            "stall_cycles": self.stall_encoder_cycles
            + self.stall_bank_cycles
            + self.stall_dram_cycles,
            "stall_encoder_cycles": self.stall_encoder_cycles,
            "stall_bank_cycles": self.stall_bank_cycles,
            "stall_dram_cycles": self.stall_dram_cycles,
            "utilization": self.utilization,
            "spikes": self.spikes,
            "acc_ops": self.acc_ops,
            "mac_ops": self.mac_ops,
            "salient_ratio": self.salient_ratio,
            "overflow_events": self.overflow_events,
            "dram_weight_bytes": self.dram_weight_bytes,
            "dram_activation_bytes": self.dram_activation_bytes,
            "dram_output_bytes": self.dram_output_bytes,
        }


@dataclass
class ReferenceResult:
    """What a cycle-by-cycle reference model gives for one layer (to check a fast engine)."""

    total_cycles: int
    compute_cycles: int
    stall_encoder_cycles: int
    stall_bank_cycles: int
    stall_dram_cycles: int
    outputs: NDArray[np.int64]
    """[tokens, n] output integers (spike counts with sign)."""
    overflow_events: int
    output_spikes: int
    actions: ActionCounter = field(default_factory=ActionCounter)


class Design(Protocol):
    """A quantization method on an array: what ``simulate``, ``sweep`` and ``eval`` run."""

    @property
    def name(self) -> str:
        """Registry key, the ``design`` column of every table (``spikequant``, ``mac-w4a4``)."""
        ...

    @property
    def kind(self) -> DesignKind: ...

    @property
    def description(self) -> str:
        """One line for reports and ``--help``."""
        ...

    @property
    def color(self) -> str:
        """Colour of the design in every figure (hex RGB)."""
        ...

    @property
    def needs_calibration(self) -> bool:
        """True when quantizing needs calibration data chosen ahead of time (static channels)."""
        ...

    @property
    def is_reference(self) -> bool:
        """True for the design every other one is compared against (the design under study)."""
        ...

    @property
    def ignores(self) -> tuple[str, ...]:
        """Fields (dotted paths, whole sections included) of the hardware config this design
        never reads (MAC designs: ``if_array``, ``encoder``, the spike codings): a sweep
        simulates it once for points that differ only there."""
        ...

    def quantize(
        self, name: str, op: str, x: NDArray[np.float32], w: NDArray[np.float32],
        quant: QuantConfig,
    ) -> Any:
        """Layer ``name`` (operator ``op``: inputs ``x`` [M, K], weights ``w`` [N, K]) under
        this design's method: integers, scales and masks, ready to map."""
        ...

    def map(self, quantized: Any, hw: HardwareConfig) -> Schedule:
        """The layer's schedule (token blocks × weight tiles, DRAM loads) on ``hw``."""
        ...

    @property
    def quantization(self) -> Hashable:
        """Designs with equal ``quantization`` quantize a layer identically under one
        quantization config: a run quantizes each layer once for all of them."""
        ...

    def simulate(self, layer: TraceLayer, hw: HardwareConfig) -> LayerSim:
        """Quantize, map and simulate one trace layer: cycles and action counts."""
        ...

    def simulate_quantized(self, quantized: Any, hw: HardwareConfig) -> LayerSim:
        """Map and simulate a layer already quantized by :meth:`quantize` (or by a design of
        equal :attr:`quantization`) under ``hw.quant``."""
        ...

    def reference(self, layer: TraceLayer, hw: HardwareConfig) -> ReferenceResult | None:
        """The cycle-by-cycle reference of the same layer (small layers), or None if the
        design's timing is a closed form (the systolic array's SCALE-Sim formulas)."""
        ...

    def area_parts(self, hw: HardwareConfig) -> list[LogicPart]:
        """The design's logic on ``hw`` (SRAMs excluded), for area."""
        ...

    def notes(self, hw: HardwareConfig) -> list[str]:
        """Configuration values of ``hw`` that cannot take effect on this design (each names
        its field path and says why), for ``validate``, ``simulate`` and the report."""
        ...


def quantize_trace_layer(design: Design, layer: WorkloadLayer, quant: QuantConfig) -> Any:
    """``design.quantize`` of a workload layer (its name, operator, activations and weights)."""
    return design.quantize(layer.name, layer.op, layer.activations(), layer.weights(), quant)


class IFArrayDataflow(Protocol):
    """One dataflow of the integrate-and-fire array (``if_array.dataflow``)."""

    @property
    def name(self) -> str:
        """The :class:`~spikesim.config.hardware.IFDataflow` value it implements."""
        ...

    def map(self, quantized: Any, hw: HardwareConfig) -> Schedule: ...

    def simulate(self, quantized: Any, hw: HardwareConfig, design: str) -> LayerSim:
        """Fast engine: cycles and counts, identical to :meth:`reference`."""
        ...

    def reference(self, quantized: Any, hw: HardwareConfig) -> ReferenceResult:
        """Cycle-by-cycle reference (slow, obvious; small layers)."""
        ...

    def area_parts(self, hw: HardwareConfig) -> list[LogicPart]: ...

    def notes(self, hw: HardwareConfig) -> list[str]:
        """Values of ``hw`` that cannot take effect on this dataflow."""
        ...


T = TypeVar("T")


class Registry(Generic[T]):
    """Name → item, in registration order; a duplicate name is an error, an unknown name an
    :class:`~spikesim.errors.InputError` that lists the known ones."""

    def __init__(self, what: str, field: str):
        self._what = what
        self._field = field
        self._items: dict[str, T] = {}

    def register(self, name: str, item: T) -> T:
        if name in self._items:
            raise ValueError(f"{self._what} '{name}' is already registered")
        self._items[name] = item
        return item

    def get(self, name: str) -> T:
        try:
            return self._items[name]
        except KeyError:
            raise InputError(
                f"unknown {self._what} '{name}' (known: {', '.join(sorted(self._items))})",
                field=self._field,
            ) from None

    def names(self) -> tuple[str, ...]:
        return tuple(self._items)

    def __contains__(self, name: object) -> bool:
        return name in self._items

    def __iter__(self) -> Iterator[T]:
        return iter(self._items.values())

    def __len__(self) -> int:
        return len(self._items)

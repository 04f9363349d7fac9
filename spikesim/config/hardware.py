"""The accelerator description (``hw_configs/*.yaml``): typed, frozen, validated.

Units are in the field names. Simulation time is integer cycles of ``clock_hz``; seconds appear
only in reports.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Any

from pydantic import Field, ValidationInfo, field_validator, model_validator

from spikesim.config._base import FrozenModel
from spikesim.config.kv import KVCacheConfig
from spikesim.config.mapping import MappingConfig, WeightSource
from spikesim.config.quant import QuantConfig
from spikesim.config.vector import VectorConfig


class ResetMode(StrEnum):
    """IF neuron reset after an output spike: subtract θ (soft) or set the membrane to zero."""

    SUBTRACT = "subtract"
    ZERO = "zero"


class InitialMembrane(StrEnum):
    """Membrane offset at the start of the fire phase: zero (floor) or θ/2 (round to nearest)."""

    ZERO = "zero"
    HALF_THRESHOLD = "half_threshold"


class IFDataflow(StrEnum):
    """How the integrate-and-fire array walks a layer (one folder of ``spikesim/dataflows`` each).

    ``token_serial``: tokens go through the array one at a time; every input spike event reads
    the weight-row slice W[i, tile] it adds from the weight SRAM.
    ``token_batched``: ``batch_tokens`` tokens go through the array together; one fetch of
    W[i, tile] serves the events of every token of the batch whose value at i is non-zero
    (Parallel Time Batching, Prosperity), their membranes held in a membrane store.
    """

    TOKEN_SERIAL = "token_serial"
    TOKEN_BATCHED = "token_batched"


class AttentionForm(StrEnum):
    """How a spiking design runs the attention matmuls (``op_class`` ``attention``: Q·Kᵀ and
    P·V) on the IF array; linear layers always run spike × integer.

    ``spike_int``: the x operand (Q or P) is spike-coded, the w operand (K or Vᵀ, read from the
    KV cache) plays the integer weights, one ``acc_bits`` add per event and column, as for a
    linear layer.
    ``spike_spike``: both operands are spikes: K (or V) is stored as sign-magnitude bit planes
    (the KV cache's own bits) and each x event increments, per column, the coincidence counter
    of every set plane bit; the counters are folded into the membrane after each issue group
    (:mod:`spikesim.dataflows.spike_spike`). Token-serial dataflow, or token-batched with its
    membranes (and the batch's counters) in registers.
    """

    SPIKE_INT = "spike_int"
    SPIKE_SPIKE = "spike_spike"


class MembraneStore(StrEnum):
    """Where the token-batched array holds the membranes of its batch × columns neurons.

    ``registers``: registers beside the adders (area grows with the batch; no access counted,
    as for the token-serial array's registers). ``sram``: the SRAM with role ``membrane``; each
    run of events of one token on one input reads and writes that token's membrane record
    (counted and priced), the SRAM's ports bound the runs per cycle and its capacity the batch.
    """

    REGISTERS = "registers"
    SRAM = "sram"


class IFArrayConfig(FrozenModel):
    """Integrate-and-fire accumulator array: ``lanes`` input events per cycle × ``columns`` neurons.

    Each issued event (input i, sign s) adds s·W̄[i, j] to the membrane of every active column j:
    ``columns`` accumulates of ``acc_bits``. Membranes are two's-complement registers that wrap
    on overflow; an output whose exact sum does not fit in ``acc_bits`` is an overflow event.
    """

    lanes: int = Field(16, gt=0, le=4096)
    """Input spike events accepted per cycle."""

    columns: int = Field(64, gt=0, le=65536)
    """Output neurons (output channels of one tile) integrated in parallel."""

    acc_bits: int = Field(24, ge=4, le=63)
    """Width of membrane, slope and partial-sum registers (bits, signed)."""

    compare_bits: int | None = Field(None, ge=2, le=63)
    """Width at which the fire phase's per-column compare (action ``if_array.compare``) is
    counted (bits); None: ``acc_bits``. A pricing-relevant width, not a datapath change: the
    membranes still wrap at ``acc_bits`` and the fire rule is unchanged."""

    reset: ResetMode = ResetMode.SUBTRACT
    """Reset after an output spike."""

    initial_membrane: InitialMembrane = InitialMembrane.HALF_THRESHOLD
    """Offset added before firing: zero gives floor(V/θ), half_threshold gives round(V/θ)."""

    threshold_frac_bits: int = Field(8, ge=0, le=24)
    """Fractional bits of the fixed-point threshold θ = s_y / (s_x · s_w)."""

    threshold_bits: int = Field(16, ge=4, le=32)
    """Width of the per-output threshold multiply θ = c_j · r_t (action ``threshold.multiply``)."""

    dataflow: IFDataflow = IFDataflow.TOKEN_SERIAL
    """The array's dataflow (see :class:`IFDataflow`); each is implemented in its own folder of
    ``spikesim/dataflows`` and registered there."""

    attention_form: AttentionForm = AttentionForm.SPIKE_INT
    """How the attention matmuls run on the array (see :class:`AttentionForm`): ``spike_int``
    (as linear layers) or ``spike_spike`` (coincidences of Q/P spikes with the bit planes of K/V;
    ``token_serial``, or ``token_batched`` with ``membrane_store: registers``). Linear layers
    are not affected."""

    coincidence_bits: int | None = Field(None, ge=2, le=63)
    """``attention_form: spike_spike`` only: width of each coincidence counter (bits, signed
    up/down counter; one per column and K/V magnitude bit plane); None: 16. A counter is folded
    into the membrane after every issue group, so it must hold the largest signed count one
    group can reach (count coding: K × the largest magnitude; bit-serial and TTFS: K); an
    attention layer that could exceed it is an error naming this field."""

    row_latch: bool = False
    """Input-major issue with a row latch per lane: one weight-row fetch per non-zero value
    serves all its unit spikes (count coding) or set bit planes (bit-serial coding, added
    shifted into the membrane); the latch's writes and reads are counted (``latch.write``,
    ``latch.read``). TTFS values emit one spike each, so TTFS passes are unchanged. False:
    every spike event reads its row from the weight SRAM."""

    batch_tokens: int | None = Field(None, ge=1, le=65536)
    """``token_batched`` only: tokens integrated together (their spikes share each weight-row
    fetch); None: 32. The last batch of a token block may be smaller; a batch never spans two
    blocks."""

    membrane_store: MembraneStore | None = None
    """``token_batched`` only: where the batch's membranes live (see :class:`MembraneStore`);
    None: registers."""

    @property
    def batch(self) -> int:
        """Tokens per batch: ``batch_tokens`` (default 32) on ``token_batched``, else 1."""
        if self.dataflow != IFDataflow.TOKEN_BATCHED:
            return 1
        return 32 if self.batch_tokens is None else self.batch_tokens

    @property
    def counter_bits(self) -> int:
        """Width of the spike × spike coincidence counters: ``coincidence_bits``, else 16."""
        return 16 if self.coincidence_bits is None else self.coincidence_bits

    @property
    def store(self) -> MembraneStore:
        """The membrane store in effect (registers unless ``membrane_store: sram``)."""
        return self.membrane_store or MembraneStore.REGISTERS

    @property
    def compare_width_bits(self) -> int:
        """The width the fire-phase compare is counted at: ``compare_bits``, else ``acc_bits``."""
        return self.acc_bits if self.compare_bits is None else self.compare_bits

    @model_validator(mode="after")
    def _fits_int64(self) -> IFArrayConfig:
        if self.acc_bits + self.threshold_frac_bits > 62:
            raise ValueError("acc_bits + threshold_frac_bits must be at most 62")
        return self

    @field_validator("attention_form")
    @classmethod
    def _spike_spike_on_if_dataflow(
        cls, value: AttentionForm, info: ValidationInfo
    ) -> AttentionForm:
        dataflow = info.data.get("dataflow")
        known = (None, IFDataflow.TOKEN_SERIAL, IFDataflow.TOKEN_BATCHED)
        if value == AttentionForm.SPIKE_SPIKE and dataflow not in known:
            raise ValueError(
                f"spike_spike runs on dataflow token_serial or token_batched (dataflow is "
                f"{dataflow.value}); use attention_form spike_int"
            )
        return value

    @field_validator("membrane_store")
    @classmethod
    def _registers_under_spike_spike(
        cls, value: MembraneStore | None, info: ValidationInfo
    ) -> MembraneStore | None:
        """The spike × spike form keeps each batch token's coincidence counters beside its
        membranes, in registers; a membrane record in SRAM would make every coincidence a
        read-modify-write of it (not modelled)."""
        form = info.data.get("attention_form")
        if value == MembraneStore.SRAM and form == AttentionForm.SPIKE_SPIKE:
            raise ValueError(
                "sram is not supported under attention_form spike_spike (the batch's "
                "coincidence counters live beside its membranes, in registers); use registers "
                "or attention_form spike_int"
            )
        return value

    @field_validator("coincidence_bits")
    @classmethod
    def _knob_of_spike_spike(cls, value: int | None, info: ValidationInfo) -> int | None:
        form = info.data.get("attention_form")
        if value is not None and form is not None and form != AttentionForm.SPIKE_SPIKE:
            raise ValueError(
                f"applies to attention_form spike_spike only (attention_form is {form.value})"
            )
        return value

    @field_validator("batch_tokens", "membrane_store")
    @classmethod
    def _knob_of_token_batched(cls, value: object, info: ValidationInfo) -> object:
        dataflow = info.data.get("dataflow")
        if value is not None and dataflow is not None and dataflow != IFDataflow.TOKEN_BATCHED:
            raise ValueError(
                f"applies to dataflow token_batched only (dataflow is {dataflow.value})"
            )
        return value


class EncoderConfig(FrozenModel):
    """Spike encoders: convert stored integers to spike events for the array.

    The encoders scan a pass (a token's normal values, or its salient records) at
    min(``count × values_per_cycle``, the values its SRAM delivers per cycle) into one of
    ``fifo_depth`` encoded-vector buffers; the array integrates a buffer once it is complete.
    A full FIFO stalls the encoders, an empty one stalls the array (encoder-bound; this includes
    a too-narrow activation or salient SRAM).
    """

    count: int = Field(4, gt=0, le=1024)
    """Number of encoders."""

    values_per_cycle: int = Field(16, gt=0, le=4096)
    """Values scanned per encoder per cycle."""

    fifo_depth: int = Field(2, ge=1, le=64)
    """Encoded spike vectors (passes) buffered between encoders and array (2 = double buffer)."""

    window: int | None = Field(None, gt=0, le=65535)
    """TTFS / count window T in time steps (None: 2^(b-1)-1 of the pass's bit width). Must be
    at least the largest magnitude of the pass; a longer window costs extra slope cycles."""


class BankRole(StrEnum):
    WEIGHTS = "weights"
    ACTIVATIONS = "activations"
    SALIENT = "salient"
    MEMBRANE = "membrane"
    OUTPUT = "output"
    STORE = "store"
    """The optional on-chip store (global buffer) that holds weights and KV cache across
    layers and decode steps (``mapping.weight_source``, :mod:`spikesim.sim.residency`)."""


class SRAMBankConfig(FrozenModel):
    """One named SRAM of ``banks`` equal banks; weight rows are interleaved i mod ``banks``."""

    role: BankRole
    """What it stores (exactly one SRAM per role for weights, activations, salient, output; at
    most one membrane store and one on-chip store)."""

    capacity_bytes: int = Field(gt=0, le=2**40)
    """Total capacity over all banks (bytes; at most 1 TiB)."""

    word_bits: int = Field(64, ge=8, le=4096)
    """Access width: bits moved by one read or write."""

    banks: int = Field(1, gt=0, le=1024)
    """Independent banks (each serves ``ports`` accesses per cycle)."""

    ports: int = Field(1, gt=0, le=16)
    """Accesses per bank per cycle."""


class DRAMConfig(FrozenModel):
    """Off-chip memory: one channel, transactions served in order."""

    bandwidth_bytes_per_cycle: float = Field(32.0, ge=1e-6)
    """Sustained bandwidth (bytes per accelerator clock cycle; finite, at least 1e-6 so that a
    transfer's cycle count stays a sane integer: 1 GB then takes 10^15 cycles)."""

    latency_cycles: int = Field(100, ge=0, le=10**9)
    """Fixed latency added to every transfer (at most 10^9 cycles)."""


class Dataflow(StrEnum):
    """Systolic dataflow of the MAC array (SCALE-Sim's names): output, weight or input
    stationary."""

    OS = "os"
    WS = "ws"
    IS = "is"


class ZeroSkip(StrEnum):
    """Activation zero-bit skipping of the bit-serial MAC array (``mac-bitserial``).

    ``none`` (Stripes): every wavefront takes all act_bits - 1 magnitude bit planes.
    ``activation_bits`` (Bit-Pragmatic): a wavefront takes as many bit-cycles as the most set
    magnitude bits among its values (at least 1); idle PEs wait, clock-gated.
    """

    NONE = "none"
    ACTIVATION_BITS = "activation_bits"


class MACArrayConfig(FrozenModel):
    """Systolic MAC array of the baselines (rows × cols PEs)."""

    rows: int = Field(32, gt=0, le=4096)
    cols: int = Field(32, gt=0, le=4096)
    dataflow: Dataflow = Dataflow.OS
    acc_bits: int = Field(32, ge=8, le=64)
    """Accumulator width of each PE."""
    zero_skip: ZeroSkip = ZeroSkip.NONE
    """Bit-serial designs only (``mac-bitserial``): skip zero activation bits (see
    :class:`ZeroSkip`); the bit-parallel MAC designs ignore it."""


class SpikeAdd(StrEnum):
    """How a spike's add into the membrane (action ``if_array.acc``) is priced.

    ``full_width``: an ``int_add`` at the counted width (``if_array.acc_bits``).
    ``operand_width``: an ``int_add`` at ``quant.weight_bits + energy.spike_add_guard_bits``
    (at most the counted width): the event adds a sign-extended ``weight_bits`` operand, so
    above the operand the adder only ripples a carry or borrow through the membrane's upper
    bits. Pricing only; the counts do not change.
    """

    FULL_WIDTH = "full_width"
    OPERAND_WIDTH = "operand_width"


class PaperConvention(FrozenModel):
    """The SNN papers' energy convention: operation counts × one energy per MAC and per
    accumulate, no memory (``energy_paper_pj`` = ``mac_ops`` × ``mac_pj`` + ``acc_ops`` ×
    ``ac_pj``). Defaults: 32-bit float at 45 nm, E_MAC = 4.6 pJ (Horowitz FP32 multiply 3.7 +
    add 0.9) and E_AC = 0.9 pJ (FP32 add), as used by Spike-driven Transformer, Spikingformer and
    SpikeGPT."""

    mac_pj: float = Field(4.6, ge=0, allow_inf_nan=False)
    """Energy of one multiply-accumulate (pJ)."""

    ac_pj: float = Field(0.9, ge=0, allow_inf_nan=False)
    """Energy of one accumulate (pJ)."""

    source: str = Field(
        "SNN-paper convention: E_MAC 4.6 pJ, E_AC 0.9 pJ (32-bit float, 45 nm, after Horowitz, "
        "ISSCC 2014), as applied in Spike-driven Transformer (Yao et al., NeurIPS 2023), "
        "Spikingformer and SpikeGPT",
        min_length=1,
        max_length=4096,
    )
    """Where the two constants come from (printed in the report)."""


def _table_name() -> Any:
    return Field(None, min_length=1, max_length=4096)


class EnergyRef(FrozenModel):
    """Which per-action energy tables price the counts, and the pricing choices on top of them.

    Per part (``operations``, ``sram``, ``dram``): the part's own field, else ``table``, else the
    built-in default of ``node_nm`` (45 nm when nothing is named); see
    :mod:`spikesim.energy.model`. Each is a built-in table name or a path to a YAML table
    (relative to the hardware YAML)."""

    table: str | None = _table_name()
    """One table for every part that does not name its own (``horowitz-45nm``: the numbers
    spikesim gave before tables could be combined)."""

    node_nm: float | None = Field(None, gt=0, le=1000, allow_inf_nan=False)
    """Technology node (nm): picks the built-in tables of parts not named, and every named
    operations and SRAM table must be at this node."""

    operations: str | None = _table_name()
    """Table of logic operations (adds, multiplies, registers), logic leakage and logic area."""

    sram: str | None = _table_name()
    """Table of SRAM access energy (and SRAM leakage and area)."""

    dram: str | None = _table_name()
    """Table of off-chip DRAM energy per bit."""

    spike_add: SpikeAdd = SpikeAdd.FULL_WIDTH
    """Width at which a spike's membrane add (``if_array.acc``) is priced (see
    :class:`SpikeAdd`)."""

    spike_add_guard_bits: int = Field(2, ge=0, le=32)
    """Bits above ``quant.weight_bits`` priced under ``spike_add: operand_width``: the carry or
    borrow an increment/decrement of uniformly distributed upper bits ripples through
    (1 + 1/2 + 1/4 + ... = 2 bits on average)."""

    paper: PaperConvention = PaperConvention()
    """Constants of the SNN-paper accounting view (``energy_paper_pj``)."""

    @model_validator(mode="after")
    def _table_prices_something(self) -> EnergyRef:
        if self.table is not None and None not in (self.operations, self.sram, self.dram):
            raise ValueError(
                "energy.table would price no part: energy.operations, energy.sram and "
                "energy.dram are all named (remove table, or the part you want it to price)"
            )
        return self

    def with_paths_from(self, folder: Path) -> EnergyRef:
        """This reference with every relative ``.yaml``/``.yml`` table path resolved against
        ``folder`` (the hardware YAML's folder); built-in names stay as they are."""
        update: dict[str, str] = {}
        for field in ("table", "operations", "sram", "dram"):
            value = getattr(self, field)
            if value is None:
                continue
            path = Path(value)
            if path.suffix in (".yaml", ".yml") and not path.is_absolute():
                update[field] = str((folder / path).resolve())
        return self.model_copy(update=update) if update else self


class HardwareConfig(FrozenModel):
    """A complete accelerator: array, encoders, SRAMs, DRAM, quantization knobs, energy table."""

    name: str = Field("spikequant", max_length=256)
    """A short name used in reports (at most 256 characters)."""

    clock_hz: float = Field(500e6, ge=1.0)
    """Accelerator clock (Hz; finite, at least 1 Hz); converts cycles to seconds in reports and
    leakage energy."""

    if_array: IFArrayConfig = IFArrayConfig()
    encoder: EncoderConfig = EncoderConfig()
    sram: dict[str, SRAMBankConfig]
    """Named SRAMs; one each with role weights, activations, salient and output."""

    dram: DRAMConfig = DRAMConfig()
    quant: QuantConfig = QuantConfig()
    mac: MACArrayConfig = MACArrayConfig()
    mapping: MappingConfig = MappingConfig()
    """DRAM loop order of every design's steps (``mapping.loop_order``)."""

    vector: VectorConfig = VectorConfig()
    """The floating-point vector unit of the operators outside the array (RMSNorm, RoPE,
    softmax, SiLU·up, residual adds), shared by every design."""

    kv_cache: KVCacheConfig = KVCacheConfig()
    """Storage format of the KV cache (:mod:`spikesim.config.kv`), shared by every design."""

    energy: EnergyRef = EnergyRef()

    @field_validator("sram")
    @classmethod
    def _one_sram_per_role(cls, sram: dict[str, SRAMBankConfig]) -> dict[str, SRAMBankConfig]:
        for role in (BankRole.WEIGHTS, BankRole.ACTIVATIONS, BankRole.SALIENT, BankRole.OUTPUT):
            names = [n for n, b in sram.items() if b.role == role]
            if len(names) != 1:
                raise ValueError(
                    f"need exactly one SRAM with role '{role.value}', found {len(names)}"
                    + (f" ({', '.join(names)})" if names else "")
                )
        for role in (BankRole.MEMBRANE, BankRole.STORE):
            names = [n for n, b in sram.items() if b.role == role]
            if len(names) > 1:
                raise ValueError(
                    f"at most one SRAM with role '{role.value}', found {len(names)} "
                    f"({', '.join(names)})"
                )
        return sram

    @model_validator(mode="after")
    def _store_exists(self) -> HardwareConfig:
        if self.mapping.weight_source == WeightSource.STORE and self.store() is None:
            raise ValueError(
                "mapping.weight_source is 'store' but no SRAM has role 'store' "
                "(add one, or use 'auto' or 'dram')"
            )
        return self

    def store(self) -> tuple[str, SRAMBankConfig] | None:
        """The (name, config) of the on-chip store (role ``store``), or None."""
        for name, bank in self.sram.items():
            if bank.role == BankRole.STORE:
                return name, bank
        return None

    def sram_for(self, role: BankRole) -> tuple[str, SRAMBankConfig]:
        """The (name, config) of the SRAM holding ``role``."""
        for name, bank in self.sram.items():
            if bank.role == role:
                return name, bank
        raise KeyError(role)

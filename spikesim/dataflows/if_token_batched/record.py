"""The membrane record of the token-batched array with ``if_array.membrane_store: sram``.

Each token of a batch keeps its ``cols`` neurons' registers in one record of the SRAM with role
``membrane``: V, plus I (TTFS slope) if any pass kind is TTFS, plus P (bit-serial partial sum)
if any pass kind is bit-serial and not latched, each ``acc_bits`` wide. One access of a record
moves ``rec_words(cols)`` words; the SRAM serves ``ports`` = banks × ports word-accesses per
cycle. Shared by the engine, the kernel and the cycle-by-cycle reference.
"""

from __future__ import annotations

from dataclasses import dataclass

from spikesim.config.hardware import BankRole, HardwareConfig, MembraneStore
from spikesim.errors import InputError
from spikesim.hw.params import ArrayParams
from spikesim.mapping.schedule import ceil_div


@dataclass(frozen=True, slots=True)
class MembraneRecord:
    """A token's membrane record in the membrane SRAM (``sram`` store only)."""

    name: str
    """The membrane SRAM's name (component ``sram.<name>``)."""
    word_bits: int
    """Its word width."""
    regs: int
    """Registers per neuron: 1 (V) + 1 if any pass kind is TTFS (I) + 1 if any pass kind is
    bit-serial and not latched (P)."""
    acc_bits: int
    ports: int
    """Word-accesses per cycle: banks × ports of the membrane SRAM."""

    @property
    def component(self) -> str:
        return f"sram.{self.name}"

    def bits(self, cols: int) -> int:
        """Bits of one token's record over ``cols`` columns: cols × acc_bits × regs."""
        return cols * self.acc_bits * self.regs

    def words(self, cols: int) -> int:
        """Words of one access of a token's record over ``cols`` columns (rec_words)."""
        return ceil_div(self.bits(cols), self.word_bits)


def record_regs(ap: ArrayParams) -> int:
    """Registers per neuron the passes of the layer need (see :class:`MembraneRecord`)."""
    kinds = (ap.normal, ap.salient)
    ttfs = any(pp.coding == 2 for pp in kinds)
    partial = any(pp.coding == 1 and not pp.latch for pp in kinds)
    return 1 + int(ttfs) + int(partial)


def membrane_record(hw: HardwareConfig, ap: ArrayParams) -> MembraneRecord | None:
    """The membrane record of the ``sram`` store; None with ``registers``.

    Raises InputError when no SRAM has role membrane (field ``if_array.membrane_store``), when
    one record of ``if_array.columns`` needs more words than the SRAM serves per cycle (field
    ``sram.<membrane>.word_bits``), or when ``batch`` records do not fit in its capacity (field
    ``if_array.batch_tokens``); checked in that order.
    """
    if hw.if_array.store != MembraneStore.SRAM:
        return None
    if not any(b.role == BankRole.MEMBRANE for b in hw.sram.values()):
        raise InputError(
            "membrane_store sram needs an SRAM with role 'membrane'",
            field="if_array.membrane_store",
        )
    name, bank = hw.sram_for(BankRole.MEMBRANE)
    rec = MembraneRecord(
        name=name,
        word_bits=bank.word_bits,
        regs=record_regs(ap),
        acc_bits=hw.if_array.acc_bits,
        ports=bank.banks * bank.ports,
    )
    cols = hw.if_array.columns
    if rec.words(cols) > rec.ports:
        raise InputError(
            f"a membrane record of {cols} columns ({rec.bits(cols)} bits: {rec.regs} registers "
            f"of {rec.acc_bits} bits each) needs {rec.words(cols)} words, more than the "
            f"{rec.ports} word accesses per cycle of SRAM '{name}' (banks × ports)",
            field=f"sram.{name}.word_bits",
        )
    batch = hw.if_array.batch
    if batch * rec.bits(cols) > bank.capacity_bytes * 8:
        raise InputError(
            f"{batch} membrane records of {rec.bits(cols)} bits do not fit in SRAM '{name}' "
            f"({bank.capacity_bytes} bytes)",
            field="if_array.batch_tokens",
        )
    return rec

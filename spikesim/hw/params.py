"""Integer parameters of the spiking datapath, derived once from a HardwareConfig.

Kernels take flat integers, not pydantic objects; this module is the one place that turns the
configuration into those integers (and checks the combinations a single field cannot check).
"""

from __future__ import annotations

from dataclasses import dataclass

from spikesim.config.hardware import BankRole, HardwareConfig, ResetMode
from spikesim.config.quant import Coding
from spikesim.errors import InputError
from spikesim.mapping.schedule import index_bits
from spikesim.quant.rtn import qmax

CODING_ID = {Coding.COUNT: 0, Coding.BITSERIAL: 1, Coding.TTFS: 2}
"""Integer ids of the codings inside kernels."""


@dataclass(frozen=True, slots=True)
class PassParams:
    """How one kind of pass (normal or salient values) is encoded and integrated.

    coding: 0 count, 1 bitserial, 2 ttfs. bits: stored value width (sign + magnitude).
    window: TTFS window T in steps (count/bitserial: the largest magnitude). planes: magnitude
    bit planes (bits - 1). scan_rate: values the encoders scan per cycle for this kind of pass:
    min(encoders × values_per_cycle, what its SRAM delivers per cycle = banks × ports ×
    floor(word_bits / stored bits)). latch: input-major issue through a row latch (count and
    bit-serial passes with ``if_array.row_latch``; never TTFS).
    """

    coding: int
    bits: int
    window: int
    planes: int
    scan_rate: int
    latch: bool = False

    @property
    def max_events_per_value(self) -> int:
        if self.coding == 0:
            return qmax(self.bits)
        if self.coding == 1:
            return self.planes
        return 1


@dataclass(frozen=True, slots=True)
class ArrayParams:
    """Everything the array/encoder timing kernels need, as integers."""

    lanes: int
    columns: int
    acc_bits: int
    weight_banks: int
    weight_ports: int
    fifo_depth: int
    fire_cycles: int
    """Output window: cycles of the fire phase per token (2^(b_out-1)-1)."""
    reset_zero: bool
    half_init: bool
    frac_bits: int
    normal: PassParams
    salient: PassParams

    def timing_key(self) -> tuple[object, ...]:
        """The fields the array's timing kernels read (lanes, weight banks and ports, FIFO
        depth, fire cycles, both passes): two parameter sets with the same key give the same
        statistics for the same activations. The output-only fields (:meth:`functional_key`
        but fire_cycles) and ``columns`` are not among them."""
        return (self.lanes, self.weight_banks, self.weight_ports, self.fifo_depth,
                self.fire_cycles, self.normal, self.salient)

    def functional_key(self) -> tuple[int, int, int, bool, bool]:
        """The fields the output spikes and overflow events depend on (besides the quantized
        layer): (acc_bits, frac_bits, fire_cycles, reset_zero, half_init). Timing fields
        (lanes, banks, FIFO, codings) are not among them."""
        return (self.acc_bits, self.frac_bits, self.fire_cycles, self.reset_zero,
                self.half_init)


def array_params(hw: HardwareConfig, act_bits: int, salient_bits: int, k: int) -> ArrayParams:
    """Derive kernel parameters for a layer with ``k`` inputs.

    Raises InputError when the TTFS window is too short for the bits, or a salient record
    (index + value) is wider than the salient SRAM's word.
    """
    q = hw.quant
    enc_rate = hw.encoder.count * hw.encoder.values_per_cycle
    _, abank = hw.sram_for(BankRole.ACTIVATIONS)
    sname, sbank = hw.sram_for(BankRole.SALIENT)
    record_bits = index_bits(k) + salient_bits
    if record_bits > sbank.word_bits:
        raise InputError(
            f"a salient record ({record_bits} bits: index of {k} inputs + {salient_bits}-bit "
            f"value) is wider than the word",
            field=f"sram.{sname}.word_bits",
        )
    rates = (
        min(enc_rate, abank.banks * abank.ports * (abank.word_bits // act_bits)),
        min(enc_rate, sbank.banks * sbank.ports * (sbank.word_bits // record_bits)),
    )
    passes = []
    for (coding, bits), rate in zip(
        ((q.normal_coding, act_bits), (q.salient_coding, salient_bits)), rates, strict=True
    ):
        need = qmax(bits)
        window = need
        if coding == Coding.TTFS and hw.encoder.window is not None:
            if hw.encoder.window < need:
                raise InputError(
                    f"TTFS window {hw.encoder.window} is shorter than the largest magnitude "
                    f"{need} of {bits}-bit values",
                    field="encoder.window",
                )
            window = hw.encoder.window
        latch = hw.if_array.row_latch and coding != Coding.TTFS
        passes.append(PassParams(CODING_ID[coding], bits, window, bits - 1, rate, latch))
    _, wbank = hw.sram_for(BankRole.WEIGHTS)
    return ArrayParams(
        lanes=hw.if_array.lanes,
        columns=hw.if_array.columns,
        acc_bits=hw.if_array.acc_bits,
        weight_banks=wbank.banks,
        weight_ports=wbank.ports,
        fifo_depth=hw.encoder.fifo_depth,
        fire_cycles=qmax(q.output_bits),
        reset_zero=hw.if_array.reset == ResetMode.ZERO,
        half_init=hw.if_array.initial_membrane.value == "half_threshold",
        frac_bits=hw.if_array.threshold_frac_bits,
        normal=passes[0],
        salient=passes[1],
    )

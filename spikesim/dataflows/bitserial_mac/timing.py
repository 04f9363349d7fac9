"""Fast engine of the bit-serial MAC array: bit-cycles and PE plane operations of one GEMM pass,
from the real activation integers (vectorised NumPy, no per-cycle loop).

The definition (wavefronts, beats, bit-cycles) is in the package docstring
(:mod:`spikesim.dataflows.bitserial_mac`); :mod:`.reference` steps it cycle by cycle. Writing
``P = act_bits - 1``, ``F = F_r · F_c`` folds and ``L`` SCALE-Sim cycles per fold of which ``T``
are streaming beats (:mod:`spikesim.dataflows.systolic.timing`), and ``p(a)`` the number of set
bits of ``|a|``:

* ``zero_skip: none``: ``compute_cycles = P · F · L - 1``, i.e. ``compute_cycles + 1 =
  P · (SCALE-Sim compute cycles + 1)``; ``plane_ops = P · M · K · N``.
* ``zero_skip: activation_bits``: ``compute_cycles = Σ_wavefronts max(1, max p(a)) + P · F ·
  (L - T) - 1``, the wavefronts per dataflow being

  - os: for each token block (``R`` tokens) and input ``k``: ``{A[m, k] : m in block}``,
    streamed once per column fold (``F_c`` times);
  - ws: for each input block (``R`` inputs) and token ``m``: ``{A[m, k] : k in block}``,
    streamed once per column fold (``F_c`` times);
  - is: for each (input block, token block) fold: the fold's ``R × C`` stationary activations,
    for each of its ``T = N`` beats;

  and ``plane_ops = N · Σ_{m,k} p(A[m, k])``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from spikesim.config.hardware import Dataflow, ZeroSkip
from spikesim.dataflows.systolic.timing import SystolicTiming, systolic_gemm

__all__ = ["BitSerialTiming", "bitserial_gemm", "magnitude_bits", "streaming_bit_cycles"]


@dataclass(frozen=True, slots=True)
class BitSerialTiming:
    """Timing and PE work of one GEMM pass on the bit-serial array (integers)."""

    systolic: SystolicTiming
    """The same GEMM on the bit-parallel array (SCALE-Sim's folds, beats, SRAM traffic)."""
    planes: int
    """``P = act_bits - 1``: magnitude bit planes of an activation (the sign costs no cycle)."""
    zero_skip: ZeroSkip
    streaming_bit_cycles: int
    """Bit-cycles of the ``F · T`` streaming beats (the wavefronts)."""
    plane_ops: int
    """PE bit-plane operations (each one operand gate and one ``acc_bits`` shift-add)."""

    @property
    def fill_bit_cycles(self) -> int:
        """Bit-cycles of the ``F · (L - T)`` fill, stationary-load, skew and drain beats (``P``
        each, with or without zero skipping)."""
        s = self.systolic
        return self.planes * s.folds * (s.cycles_per_fold - s.t)

    @property
    def compute_cycles(self) -> int:
        """Index of the last bit-cycle (SCALE-Sim's 0-based convention): all bit-cycles - 1."""
        return self.streaming_bit_cycles + self.fill_bit_cycles - 1


def magnitude_bits(x_q: NDArray[np.generic]) -> NDArray[np.uint8]:
    """Set bits of ``|x|`` per element (``p(a)``), same shape, uint8."""
    return np.bitwise_count(np.abs(np.asarray(x_q).astype(np.int16)))


def _block_max(bits: NDArray[np.uint8], axis: int, size: int) -> NDArray[np.uint8]:
    """Max of ``bits`` over consecutive blocks of ``size`` along ``axis`` (zero padded)."""
    length = bits.shape[axis]
    blocks = -(-length // size)
    pad = [(0, 0)] * bits.ndim
    pad[axis] = (0, blocks * size - length)
    padded = np.pad(bits, pad)
    shape = list(padded.shape)
    shape[axis : axis + 1] = [blocks, size]
    return np.asarray(padded.reshape(shape).max(axis=axis + 1))


def streaming_bit_cycles(
    bits: NDArray[np.uint8], n: int, rows: int, cols: int, dataflow: Dataflow
) -> int:
    """Σ over the streaming beats of ``max(1, most set magnitude bits in the wavefront)``.

    ``bits`` is :func:`magnitude_bits` of the pass's activations ``[M, K]``; ``n`` outputs.
    """
    if dataflow is Dataflow.OS:  # wavefront: a token block's A[:, k]; once per column fold
        per_beat = _block_max(bits, 0, rows)  # [F_r, K]
        repeat = -(-n // cols)
    elif dataflow is Dataflow.WS:  # wavefront: token m's A[m, input block]; per column fold
        per_beat = _block_max(bits, 1, rows)  # [M, F_r]
        repeat = -(-n // cols)
    else:  # is: the fold's stationary block A[token block, input block], for each of N beats
        per_beat = _block_max(_block_max(bits, 0, cols), 1, rows)  # [F_c, F_r]
        repeat = n
    return repeat * int(np.maximum(per_beat, 1).sum(dtype=np.int64))


def bitserial_gemm(
    x_q: NDArray[np.generic], n: int, rows: int, cols: int, dataflow: Dataflow | str,
    act_bits: int, zero_skip: ZeroSkip | str,
) -> BitSerialTiming:
    """Time ``A[M, K] @ B[K, n]`` (``A = x_q``) on a ``rows × cols`` bit-serial array."""
    m, k = x_q.shape
    df = Dataflow(dataflow)
    skip = ZeroSkip(zero_skip)
    systolic = systolic_gemm(m, k, n, rows, cols, df)
    planes = act_bits - 1
    if skip is ZeroSkip.NONE:
        streaming = planes * systolic.folds * systolic.t
        plane_ops = planes * m * k * n
    else:
        bits = magnitude_bits(x_q)
        streaming = streaming_bit_cycles(bits, n, rows, cols, df)
        plane_ops = n * int(bits.sum(dtype=np.int64))
    return BitSerialTiming(systolic, planes, skip, streaming, plane_ops)

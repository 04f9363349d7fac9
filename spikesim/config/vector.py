"""The vector unit (the ``vector:`` section of a hardware YAML): the floating-point operators that
spiking LLM designs keep outside the array (RMSNorm, RoPE, softmax, SiLU·up, residual adds).

The unit and its operation counts are :mod:`spikesim.hw.vector`; every design runs these
operators on the same unit.
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import Field

from spikesim.config._base import FrozenModel


class VectorFormat(StrEnum):
    """Floating-point format of the vector unit's arithmetic and of the values it reads and
    writes (FP16: 16-bit words, priced by the ``fp_add``/``fp_mult`` rows at 16 bits; FP32: 32)."""

    FP16 = "fp16"
    FP32 = "fp32"

    @property
    def bits(self) -> int:
        """Width of one value (bits): 16 or 32."""
        return 16 if self is VectorFormat.FP16 else 32


_DEFAULT_EXP_DEGREE = {VectorFormat.FP16: 3, VectorFormat.FP32: 6}
_DEFAULT_NEWTON = {VectorFormat.FP16: 2, VectorFormat.FP32: 3}


class VectorConfig(FrozenModel):
    """A SIMD floating-point unit of ``lanes`` lanes; each lane performs one FP operation (an add
    or a multiply) per cycle on its own element.

    An operator of ``a`` adds and ``m`` multiplies per element processes a row of ``r`` elements
    in ceil(r / lanes) groups of ``a + m`` cycles each; row reductions (a norm's sum of
    squares, softmax's max and sum) add a tree over the lanes' partial results and a few
    scalar operations per row. See :mod:`spikesim.hw.vector` for every count.
    """

    lanes: int = Field(16, gt=0, le=4096)
    """Elements processed side by side (one FP operation per lane per cycle)."""

    format: VectorFormat = VectorFormat.FP16
    """Format of the arithmetic and of the values moved through the activation SRAM."""

    exp_degree: int | None = Field(None, ge=1, le=12)
    """Degree of the polynomial approximating 2^f on the reduced range of exp (see
    :mod:`spikesim.hw.vector`). None: 3 for fp16 (relative error 1.0e-4 < 2^-11), 6 for fp32
    (2.5e-9 < 2^-24)."""

    newton_iterations: int | None = Field(None, ge=0, le=8)
    """Newton-Raphson iterations of a reciprocal or reciprocal square root, from a bit-trick
    seed. None: 2 for fp16 (seed error 3.5-5.1 %, then 0.26 %, then 6.6e-6 < 2^-11), 3 for
    fp32."""

    @property
    def value_bits(self) -> int:
        """Bits of one value: 16 (fp16) or 32 (fp32)."""
        return self.format.bits

    @property
    def exp_poly_degree(self) -> int:
        """The exp polynomial degree in effect (``exp_degree``, else the format's default)."""
        return _DEFAULT_EXP_DEGREE[self.format] if self.exp_degree is None else self.exp_degree

    @property
    def newton_steps(self) -> int:
        """The Newton iterations in effect (``newton_iterations``, else the format's default)."""
        if self.newton_iterations is None:
            return _DEFAULT_NEWTON[self.format]
        return self.newton_iterations

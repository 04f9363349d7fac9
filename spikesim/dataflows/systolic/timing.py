"""Closed-form systolic-array timing for one GEMM, identical to SCALE-Sim's compute model.

The MAC baselines time each GEMM the way SCALE-Sim (v2/v3, PyPI ``scalesim``) does for the same
GEMM, array and dataflow, so a user can run SCALE-Sim on the same shape and get the same number.
SCALE-Sim builds per-fold demand matrices and replays them through its memory model; with its
default ``CALC`` bandwidth mode it never stalls, and its reported ``Total Cycles`` is then a
closed-form function of the shape. This module evaluates that function directly: no matrices,
O(1) per GEMM.

GEMM convention
---------------
``A[M, K] @ B[K, N] -> O[M, N]``: ``M`` tokens, ``K`` inputs, ``N`` outputs. In SCALE-Sim terms
``A`` is the IFMAP operand matrix (rows = output pixels, columns = window elements), ``B`` the
FILTER operand matrix (rows = window elements, columns = filters) and ``O`` the OFMAP. A GEMM
topology row ``M, N, K`` is a convolution with ``M`` output pixels, window ``K`` and ``N`` filters.

Mapping onto an ``R × C`` array (SCALE-Sim's ``Sr``, ``Sc``, ``T``)
-------------------------------------------------------------------
======== ============= ============= ============= ======================================
dataflow ``Sr`` (rows) ``Sc`` (cols) ``T`` (time)  stationary in the PEs
======== ============= ============= ============= ======================================
os       ``M``         ``N``         ``K``         one output ``O[m, n]`` per PE
ws       ``K``         ``N``         ``M``         one weight ``B[k, n]`` per PE
is       ``K``         ``M``         ``N``         one input ``A[m, k]`` per PE
======== ============= ============= ============= ======================================

Folds: ``F_r = ceil(Sr / R)``, ``F_c = ceil(Sc / C)``, ``F = F_r · F_c`` (every fold is padded to
the full array, so a partial fold costs as much time as a full one).

Cycles per fold (rows of SCALE-Sim's demand matrices, fill and drain included):

* os: ``L = R + C + T - 2`` (``T`` operand pairs streamed in, skewed by ``R - 1`` rows and
  ``C - 1`` columns; the ``R`` outputs per column drain during the last skew).
* ws, is: ``L = 2R + C + T - 2`` (``R`` cycles to load the stationary operand, then ``T``
  streamed rows skewed by ``R - 1``, plus ``C - 1`` cycles for the partial sums to leave).

Reported compute cycles: ``F · L - 1``. SCALE-Sim reports the *index* of the cycle in which the
last OFMAP write is serviced (``int(max(ofmap_serviced_cycles))``), cycles being numbered from 0,
so its ``Total Cycles`` is one less than the ``F · L`` rows of the schedule. We keep that
convention so numbers match SCALE-Sim exactly; :attr:`SystolicTiming.schedule_cycles` is the
inclusive count ``F · L``. The ``- 1`` matters only for a 1 × 1 array with os, where it makes the
reported count ``MKN - 1`` (below the one-MAC-per-cycle bound) and 0 for a 1 × 1 × 1 GEMM.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from spikesim.config.hardware import Dataflow

__all__ = ["SystolicTiming", "systolic_gemm"]


@dataclass(frozen=True, slots=True)
class SystolicTiming:
    """Timing and SRAM traffic of one GEMM on one systolic array, as SCALE-Sim computes them.

    All counts are integers (cycles or element accesses); ratios are fractions in ``[0, 1]``
    (SCALE-Sim prints them as percentages).
    """

    m: int
    """Tokens (rows of ``A`` and of the output)."""
    k: int
    """Inputs (reduction dimension)."""
    n: int
    """Outputs (columns of ``B`` and of the output)."""
    rows: int
    """Array rows ``R``."""
    cols: int
    """Array columns ``C``."""
    dataflow: Dataflow
    """os, ws or is."""
    sr: int
    """SCALE-Sim ``Sr``: the GEMM dimension spread over the array rows."""
    sc: int
    """SCALE-Sim ``Sc``: the GEMM dimension spread over the array columns."""
    t: int
    """SCALE-Sim ``T``: the GEMM dimension streamed through time within a fold."""
    folds_rows: int
    """``ceil(Sr / R)``."""
    folds_cols: int
    """``ceil(Sc / C)``."""
    cycles_per_fold: int
    """``R + C + T - 2`` (os) or ``2R + C + T - 2`` (ws, is)."""
    compute_cycles: int
    """SCALE-Sim's COMPUTE_REPORT ``Total Cycles``: ``folds · cycles_per_fold - 1``."""
    ifmap_sram_reads: int
    """Reads of ``A`` elements from the IFMAP SRAM (SCALE-Sim ``SRAM IFMAP Reads``)."""
    filter_sram_reads: int
    """Reads of ``B`` elements from the FILTER SRAM (SCALE-Sim ``SRAM Filter Reads``)."""
    ofmap_sram_writes: int
    """Output (or partial-sum) element writes to the OFMAP SRAM, one per element per fold that
    produces it. Equals SCALE-Sim's ``SRAM OFMAP Writes`` for ws and is; see
    :attr:`scalesim_ofmap_sram_writes` for os."""
    mapping_efficiency: float
    """SCALE-Sim ``Mapping Efficiency``: mean over folds of (PEs mapped) / (R·C)."""
    compute_utilization: float
    """SCALE-Sim ``Compute Util``: mean over folds of MACs / (R·C · its per-fold window)."""

    @property
    def folds(self) -> int:
        """Total folds ``folds_rows · folds_cols``."""
        return self.folds_rows * self.folds_cols

    @property
    def schedule_cycles(self) -> int:
        """Length of the schedule, fill and drain included: ``folds · cycles_per_fold``.

        One more than :attr:`compute_cycles` (which follows SCALE-Sim's 0-based cycle index).
        """
        return self.folds * self.cycles_per_fold

    @property
    def macs(self) -> int:
        """Multiply-accumulates of the GEMM, ``M · K · N``."""
        return self.m * self.k * self.n

    @property
    def utilization(self) -> float:
        """SCALE-Sim ``Overall Util``: ``MKN / (compute_cycles · R · C)``.

        Exceeds 1 only in the os 1 × 1-array artefact described in the module docstring; for the
        1 × 1 × 1 GEMM on a 1 × 1 os array (``compute_cycles == 0``, where SCALE-Sim divides by
        zero) it is reported as 1.0.
        """
        if self.compute_cycles == 0:
            return 1.0
        return self.macs / (self.compute_cycles * self.rows * self.cols)

    @property
    def scalesim_ofmap_sram_writes(self) -> int:
        """The OFMAP write count SCALE-Sim v3 prints.

        For os, SCALE-Sim adds ``R + C`` per fold on top of the ``M · N`` element writes (a
        bookkeeping term in its os OFMAP demand builder, not extra data); ws and is print
        :attr:`ofmap_sram_writes` unchanged.
        """
        if self.dataflow is Dataflow.OS:
            return self.ofmap_sram_writes + self.folds * (self.rows + self.cols)
        return self.ofmap_sram_writes


def _check_positive(**values: int) -> None:
    for name, value in values.items():
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be a positive integer, got {value!r}")


def systolic_gemm(
    m: int, k: int, n: int, rows: int, cols: int, dataflow: Dataflow | str
) -> SystolicTiming:
    r"""Time ``A[m, k] @ B[k, n]`` on a ``rows × cols`` systolic array, SCALE-Sim style.

    Parameters
    ----------
    m, k, n:
        GEMM shape: tokens, inputs, outputs (each ≥ 1).
    rows, cols:
        Array size ``R × C`` in PEs (each ≥ 1).
    dataflow:
        :class:`~spikesim.config.hardware.Dataflow` or its value ``"os" | "ws" | "is"``.

    Returns
    -------
    SystolicTiming
        With, writing ``F_r = ceil(Sr/R)``, ``F_c = ceil(Sc/C)``, ``F = F_r F_c``:

        * os (``Sr, Sc, T = M, N, K``): ``compute_cycles = F (R + C + K - 2) - 1``;
          IFMAP reads ``M K F_c``, FILTER reads ``K N F_r``, OFMAP writes ``M N``;
          compute-util window per fold ``U = R + C + T - 2``.
        * ws (``Sr, Sc, T = K, N, M``): ``compute_cycles = F (2R + C + M - 2) - 1``;
          IFMAP reads ``M K F_c``, FILTER reads ``K N``, OFMAP writes ``M N F_r``;
          ``U = 2R + 2C + T - 3``.
        * is (``Sr, Sc, T = K, M, N``): ``compute_cycles = F (2R + C + N - 2) - 1``;
          IFMAP reads ``M K``, FILTER reads ``K N F_c``, OFMAP writes ``M N F_r``;
          ``U = 2R + 2C + T - 3``.

        Because every row fold sees every column fold, the per-fold averages reduce to
        ``mapping_efficiency = Sr Sc / (F R C)`` and
        ``compute_utilization = Sr Sc T / (F R C U)``.

    Raises
    ------
    ValueError
        If a dimension is not a positive integer or the dataflow is unknown.

    Examples
    --------
    >>> t = systolic_gemm(4, 4, 4, 4, 4, "os")
    >>> (t.sr, t.sc, t.t, t.folds, t.cycles_per_fold, t.compute_cycles)
    (4, 4, 4, 1, 10, 9)
    >>> systolic_gemm(64, 32, 48, 3, 5, "ws").compute_cycles
    8029
    """
    _check_positive(m=m, k=k, n=n, rows=rows, cols=cols)
    df = Dataflow(dataflow)
    if df is Dataflow.OS:
        sr, sc, t = m, n, k
    elif df is Dataflow.WS:
        sr, sc, t = k, n, m
    else:
        sr, sc, t = k, m, n
    folds_rows = math.ceil(sr / rows)
    folds_cols = math.ceil(sc / cols)
    folds = folds_rows * folds_cols

    if df is Dataflow.OS:
        cycles_per_fold = rows + cols + t - 2
        util_window = cycles_per_fold
        ifmap_reads = m * k * folds_cols
        filter_reads = k * n * folds_rows
        ofmap_writes = m * n
    elif df is Dataflow.WS:
        cycles_per_fold = 2 * rows + cols + t - 2
        util_window = 2 * rows + 2 * cols + t - 3
        ifmap_reads = m * k * folds_cols
        filter_reads = k * n
        ofmap_writes = m * n * folds_rows
    else:
        cycles_per_fold = 2 * rows + cols + t - 2
        util_window = 2 * rows + 2 * cols + t - 3
        ifmap_reads = m * k
        filter_reads = k * n * folds_cols
        ofmap_writes = m * n * folds_rows

    pe_slots = folds * rows * cols
    return SystolicTiming(
        m=m,
        k=k,
        n=n,
        rows=rows,
        cols=cols,
        dataflow=df,
        sr=sr,
        sc=sc,
        t=t,
        folds_rows=folds_rows,
        folds_cols=folds_cols,
        cycles_per_fold=cycles_per_fold,
        compute_cycles=folds * cycles_per_fold - 1,
        ifmap_sram_reads=ifmap_reads,
        filter_sram_reads=filter_reads,
        ofmap_sram_writes=ofmap_writes,
        mapping_efficiency=sr * sc / pe_slots,
        compute_utilization=sr * sc * t / (pe_slots * util_window),
    )

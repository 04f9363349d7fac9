"""MAC-array baselines: systolic timing that matches SCALE-Sim for the same GEMM and dataflow."""

from spikesim.baseline.systolic import SystolicTiming, systolic_gemm

__all__ = ["SystolicTiming", "systolic_gemm"]

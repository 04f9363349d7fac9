"""Integer instructions numba does not expose, as LLVM intrinsics callable from ``@njit``
kernels: the set-bit count and lowest set bit of a 64-bit word (the bank-mask issue model,
:mod:`spikesim.hw.bankmask`) and the high half of a 64 × 64-bit product (PCG64's 128-bit
state step, :mod:`spikesim.trace.pcg64`). Each compiles to one x86-64 instruction
(``popcnt``, ``tzcnt``, ``mul``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, cast

import numpy as np
from llvmlite import ir
from numba import types
from numba.extending import intrinsic


def _popcount_typed(typingctx: Any, x: Any) -> tuple[Any, Any]:
    sig = types.int64(types.uint64)

    def codegen(context: Any, builder: Any, signature: Any, args: Any) -> Any:
        return builder.ctpop(args[0])

    return sig, codegen


def _trailing_zeros_typed(typingctx: Any, x: Any) -> tuple[Any, Any]:
    sig = types.int64(types.int64)

    def codegen(context: Any, builder: Any, signature: Any, args: Any) -> Any:
        return builder.cttz(args[0], ir.Constant(ir.IntType(1), 0))

    return sig, codegen


def _mul_high_typed(typingctx: Any, a: Any, b: Any) -> tuple[Any, Any]:
    sig = types.uint64(types.uint64, types.uint64)

    def codegen(context: Any, builder: Any, signature: Any, args: Any) -> Any:
        wide = ir.IntType(128)
        product = builder.mul(builder.zext(args[0], wide), builder.zext(args[1], wide))
        return builder.trunc(builder.lshr(product, ir.Constant(wide, 64)), ir.IntType(64))

    return sig, codegen


popcount = cast(Callable[[Any], int], intrinsic(_popcount_typed))
"""Set bits of a uint64."""
trailing_zeros = cast(Callable[[Any], int], intrinsic(_trailing_zeros_typed))
"""Index of the lowest set bit of an int64 (64 for 0)."""
mul_high = cast(Callable[[np.uint64, np.uint64], np.uint64], intrinsic(_mul_high_typed))
"""High 64 bits of the 128-bit product of two uint64."""

"""The numba kernels agree bit-exactly with their plain NumPy twins (property tests)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from spikesim.dataflows.if_token_serial import kernel as kernels
from spikesim.dataflows.if_token_serial import twin as twins
from spikesim.hw import stats as S
from spikesim.hw.coding import pass_events
from spikesim.hw.params import ArrayParams, PassParams
from spikesim.quant.rtn import qmax


def pass_params(draw: st.DrawFn, bits: int) -> PassParams:
    coding = draw(st.integers(0, 2))
    window = qmax(bits) + draw(st.integers(0, 3))
    rate = draw(st.integers(1, 50))
    latch = coding != 2 and draw(st.booleans())
    return PassParams(coding, bits, window if coding == 2 else qmax(bits), bits - 1, rate, latch)


Chunk = dict[str, int | bool]
"""The K-chunk and fold arguments of block_timing: reread_cycles, writeback_cycles, fire,
fold_cycles."""


@st.composite
def chunk_args(draw: st.DrawFn) -> Chunk:
    """Unsplit (0, 0, fire), or a first, middle or last chunk of a K-split layer; no fold
    (spike x integer) or 1-4 fold cycles per issue group (the spike x spike attention form)."""
    kind = draw(st.sampled_from(["unsplit", "first", "middle", "last"]))
    mem = draw(st.integers(1, 5))
    return {
        "reread_cycles": mem if kind in ("middle", "last") else 0,
        "writeback_cycles": mem if kind in ("first", "middle") else 0,
        "fire": kind in ("unsplit", "last"),
        "fold_cycles": draw(st.sampled_from([0, 0, 1, 2, 4])),
    }


@st.composite
def block_case(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray, ArrayParams]:
    act_bits = draw(st.integers(2, 5))
    sal_bits = draw(st.integers(act_bits, 8))
    tokens = draw(st.integers(1, 4))
    k = draw(st.integers(1, 40))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    x = rng.integers(-qmax(act_bits), qmax(act_bits) + 1, (tokens, k))
    x[rng.random((tokens, k)) < draw(st.floats(0, 0.9))] = 0
    sal = rng.random((tokens, k)) < draw(st.floats(0, 0.3))
    x[sal] = rng.integers(-qmax(sal_bits), qmax(sal_bits) + 1, int(sal.sum()))
    ap = ArrayParams(
        lanes=draw(st.integers(1, 9)),
        columns=4,
        acc_bits=16,
        weight_banks=draw(st.integers(1, 8)),
        weight_ports=draw(st.integers(1, 3)),
        fifo_depth=draw(st.integers(1, 4)),
        fire_cycles=draw(st.integers(1, 8)),
        reset_zero=False,
        half_init=True,
        frac_bits=4,
        normal=pass_params(draw, act_bits),
        salient=pass_params(draw, sal_bits),
    )
    return x.astype(np.int16), sal, ap


@given(block_case(), chunk_args())
def test_block_timing_kernel_equals_twin(
    case: tuple[np.ndarray, np.ndarray, ArrayParams], chunk: Chunk
) -> None:
    x, sal, ap = case
    np.testing.assert_array_equal(
        kernels.block_timing(x, sal, ap, **chunk),  # type: ignore[arg-type]
        twins.block_timing(x, sal, ap, **chunk),  # type: ignore[arg-type]
    )


@given(block_case(), chunk_args())
def test_block_timing_accounts_every_cycle(
    case: tuple[np.ndarray, np.ndarray, ArrayParams], chunk: Chunk
) -> None:
    x, sal, ap = case
    s = kernels.block_timing(x, sal, ap, **chunk)  # type: ignore[arg-type]
    assert s[S.TOTAL] == s[S.COMPUTE] + s[S.STALL_ENCODER] + s[S.STALL_BANK]
    tokens = x.shape[0]
    assert s[S.MEMBRANE_CYCLES] == tokens * (chunk["reread_cycles"] + chunk["writeback_cycles"])
    assert s[S.FIRE_CYCLES] == (tokens * ap.fire_cycles if chunk["fire"] else 0)
    assert s[S.STALL_BANK] >= 0
    # every value is scanned once; every nonzero value emits its events
    assert s[S.SCANNED_NORMAL] == x.shape[0] * x.shape[1]
    assert s[S.SCANNED_SALIENT] == int(sal.sum())


@given(block_case(), chunk_args())
def test_fold_cycles_add_compute_per_issue_group(
    case: tuple[np.ndarray, np.ndarray, ArrayParams], chunk: Chunk
) -> None:
    """Folds lengthen compute by fold_cycles per issue group with events, and change nothing
    else but the times; the groups are one per pass with events (count coding, latched) or
    one per distinct step of a pass's events (bit-serial planes, TTFS steps)."""
    x, sal, ap = case
    fold = {**chunk, "fold_cycles": 0}
    base = kernels.block_timing(x, sal, ap, **fold)  # type: ignore[arg-type]
    for cycles in (1, 3):
        args = {**fold, "fold_cycles": cycles}
        folded = kernels.block_timing(x, sal, ap, **args)  # type: ignore[arg-type]
        assert folded[S.ISSUE_GROUPS] == base[S.ISSUE_GROUPS]
        assert folded[S.COMPUTE] - base[S.COMPUTE] == cycles * base[S.ISSUE_GROUPS]
        same = [i for i in range(S.SIZE) if i not in (S.TOTAL, S.COMPUTE, S.STALL_ENCODER)]
        np.testing.assert_array_equal(folded[same], base[same])
    groups = 0
    for t in range(x.shape[0]):
        for values, pp in ((np.where(sal[t], 0, x[t]), ap.normal),
                           (np.where(sal[t], x[t], 0), ap.salient)):
            steps = pass_events(values, pp)[1]
            if len(steps):
                groups += 1 if pp.coding == 0 or pp.latch else len(set(steps.tolist()))
    assert base[S.ISSUE_GROUPS] == groups


def test_threaded_kernels_equal_serial(monkeypatch: pytest.MonkeyPatch) -> None:
    """Two threads (as on a user's machine) give exactly what one thread (tests, sweeps) gives."""
    from test_engine_reference import ROOT, SMALL

    from spikesim import _jit
    from spikesim.config import load_hardware
    from spikesim.config.quant import QuantConfig
    from spikesim.dataflows.if_token_serial.engine import simulate_layer
    from spikesim.quant import kernels as qk
    from spikesim.quant.layer import quantize_layer

    rng = np.random.default_rng(0)
    x = rng.standard_t(3, (37, 96)).astype(np.float32)
    w = rng.normal(0, 0.1, (40, 96)).astype(np.float32)
    hw = load_hardware(
        ROOT / "hw_configs" / "spikequant-45nm.yaml",
        {**SMALL, "sram.activations.capacity_bytes": 256},  # several token blocks
    )

    def run() -> tuple[object, ...]:
        q = qk.spikequant_rows(x, 4, 16, 6.0)
        r = qk.rtn_weights(w, 4)
        sim = simulate_layer(quantize_layer("l", "op", x, w, QuantConfig()), hw, "spikequant")
        return (*q, *r, sim.total_cycles, sim.stall_bank_cycles, sim.actions.items())

    serial = run()
    monkeypatch.setattr(_jit, "worker_threads", lambda: 2)
    monkeypatch.setattr(qk, "worker_threads", lambda: 2)
    threaded = run()
    for a, b in zip(serial, threaded, strict=True):
        if isinstance(a, np.ndarray):
            np.testing.assert_array_equal(a, b)
        else:
            assert a == b


@given(block_case(), chunk_args(), st.integers(1, 512), st.integers(4, 32),
       st.integers(0, 8), st.booleans(), st.booleans())
def test_block_timing_reads_only_its_timing_key(
    case: tuple[np.ndarray, np.ndarray, ArrayParams], chunk: Chunk, columns: int,
    acc_bits: int, frac_bits: int, reset_zero: bool, half_init: bool,
) -> None:
    """Parameters with the same :meth:`ArrayParams.timing_key` give the same statistics (what
    lets the engine's memo share them across hardware points): the fields outside it
    (columns and the output-only fields) change nothing."""
    from dataclasses import replace

    x, sal, ap = case
    other = replace(ap, columns=columns, acc_bits=acc_bits, frac_bits=frac_bits,
                    reset_zero=reset_zero, half_init=half_init)
    assert other.timing_key() == ap.timing_key()
    np.testing.assert_array_equal(
        kernels.block_timing(x, sal, other, **chunk),  # type: ignore[arg-type]
        kernels.block_timing(x, sal, ap, **chunk),  # type: ignore[arg-type]
    )

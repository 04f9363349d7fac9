"""The token-batched numba kernel agrees bit-exactly with its NumPy twin (property tests), and
the twin's issue rule does what its docstring says on hand-checked streams."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from spikesim.dataflows.if_token_batched import kernel as kernels
from spikesim.dataflows.if_token_batched import twin as twins
from spikesim.hw import stats as S
from spikesim.hw.params import ArrayParams, PassParams
from spikesim.quant.rtn import qmax

Args = dict[str, int | bool]


def pass_params(draw: st.DrawFn, bits: int) -> PassParams:
    coding = draw(st.integers(0, 2))
    window = qmax(bits) + draw(st.integers(0, 3))
    rate = draw(st.integers(1, 50))
    latch = coding != 2 and draw(st.booleans())
    return PassParams(coding, bits, window if coding == 2 else qmax(bits), bits - 1, rate, latch)


@st.composite
def block_case(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray, ArrayParams, Args]:
    act_bits = draw(st.integers(2, 5))
    sal_bits = draw(st.integers(act_bits, 8))
    tokens = draw(st.integers(1, 7))
    k = draw(st.integers(1, 30))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
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
    kind = draw(st.sampled_from(["unsplit", "first", "middle", "last"]))
    rec_words = draw(st.integers(0, 3))
    args: Args = {
        "batch": draw(st.integers(1, 8)),
        "rec_words": rec_words,
        "mem_ports": rec_words + draw(st.integers(0, 4)) if rec_words else 0,
        "membrane_cycles": draw(st.integers(1, 4)) if kind != "unsplit" else 0,
        "first_chunk": kind in ("unsplit", "first"),
        "last_chunk": kind in ("unsplit", "last"),
        "fold_planes": draw(st.sampled_from([0, 0, 1, 3, 7])),  # spike x spike folds
    }
    return x.astype(np.int16), sal, ap, args


@given(block_case())
def test_block_timing_kernel_equals_twin(
    case: tuple[np.ndarray, np.ndarray, ArrayParams, Args],
) -> None:
    x, sal, ap, args = case
    np.testing.assert_array_equal(
        kernels.block_timing(x, sal, ap, **args),  # type: ignore[arg-type]
        twins.block_timing(x, sal, ap, **args),  # type: ignore[arg-type]
    )


@given(block_case())
def test_block_timing_accounts_every_cycle(
    case: tuple[np.ndarray, np.ndarray, ArrayParams, Args],
) -> None:
    x, sal, ap, args = case
    s = twins.block_timing(x, sal, ap, **args)  # type: ignore[arg-type]
    assert s[S.TOTAL] == s[S.COMPUTE] + s[S.STALL_ENCODER] + s[S.STALL_BANK]
    assert s[S.STALL_BANK] >= 0
    assert s[S.SCANNED_NORMAL] == x.size
    assert s[S.SCANNED_SALIENT] == int(sal.sum())
    tokens, batch = x.shape[0], int(args["batch"])
    sizes = [min(batch, tokens - b0) for b0 in range(0, tokens, batch)]
    if args["last_chunk"]:
        assert s[S.COMPARES] == tokens * ap.fire_cycles
        assert s[S.FIRE_CYCLES] == sum(ap.fire_cycles * -(-bt // ap.lanes) for bt in sizes)
    # a row is fetched at most once per event, at least once per distinct input of a pass
    assert s[S.FETCHES] <= s[S.EVENTS_NORMAL] + s[S.EVENTS_SALIENT]


def test_one_fetch_per_input_serves_the_whole_batch() -> None:
    """Count coding, latched: 3 tokens with non-zeros at inputs 0 and 2 fetch 2 rows."""
    pp = PassParams(0, 4, 7, 3, 16, latch=True)
    values = np.array([[2, 0, 1], [1, 0, 0], [0, 0, 3]])
    idx, tok, step = twins.batch_stream(values, pp)
    assert list(zip(idx, tok, step, strict=True)) == [
        (0, 0, 1),
        (0, 0, 2),
        (0, 1, 1),
        (2, 0, 1),
        (2, 2, 1),
        (2, 2, 2),
        (2, 2, 3),
    ]
    # 2 lanes, 1 bank with 1 port: the fetch of input 2 waits for a cycle of its own port
    actual, ideal, fetches, records = twins.batch_issue_cycles(
        idx, tok, step, lanes=2, banks=1, ports=1, one_stream=True, latch=True
    )
    # cycle 1: (0,0,1) fetch, (0,0,2); cycle 2: (0,1,1), (2,0,1) needs a 2nd port -> waits;
    # cycle 3: (2,0,1) fetch, (2,2,1); cycle 4: (2,2,2), (2,2,3)
    assert (actual, ideal, fetches, records) == (4, 4, 2, 0)
    # unlatched: each cycle's first event fetches again (cycles 2 and 4 re-read their rows)
    pp = PassParams(0, 4, 7, 3, 16, latch=False)
    idx, tok, step = twins.batch_stream(values, pp)  # (step, input, token)
    assert list(zip(idx, tok, step, strict=True)) == [
        (0, 0, 1),
        (0, 1, 1),
        (2, 0, 1),
        (2, 2, 1),
        (0, 0, 2),
        (2, 2, 2),
        (2, 2, 3),
    ]
    actual, ideal, fetches, records = twins.batch_issue_cycles(
        idx, tok, step, lanes=2, banks=1, ports=1, one_stream=True, latch=False
    )
    # c1: (0,0,1)F (0,1,1); c2: (2,0,1)F (2,2,1); c3: (0,0,2)F, (2,2,2) needs a port -> c4:
    # (2,2,2)F (2,2,3)
    assert (actual, ideal, fetches, records) == (4, 4, 4, 0)
    # SRAM records of 2 words, 3 word accesses per cycle: one new (input, token) run per cycle;
    # (2,2,2) and (2,2,3) are one run of one record and share a cycle
    actual, _, fetches, records = twins.batch_issue_cycles(
        idx,
        tok,
        step,
        lanes=2,
        banks=1,
        ports=2,
        one_stream=True,
        latch=False,
        rec_words=2,
        mem_ports=3,
    )
    assert (actual, records) == (6, 6)

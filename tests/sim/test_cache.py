"""The on-disk cache of quantized layers (:mod:`spikesim.sim.quantcache`): a hit is a miss bit
for bit, the key covers exactly the quant fields each quantizer reads, damaged entries are
misses and go away, the size bound holds, concurrent writers leave one whole entry, and the
``--no-cache`` flags and ``spikesim cache`` do what they say."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from cli_support import run

from spikesim.config import load_hardware
from spikesim.config.quant import QuantConfig
from spikesim.dataflows import design_names, get_design
from spikesim.quant.baselines import MacQuantized
from spikesim.quant.layer import QuantizedLayer
from spikesim.sim import quantcache
from spikesim.sim.counts import simulate_counts
from spikesim.sim.quantcache import QuantCache, entry_key, quantization_fields
from spikesim.trace import load_trace, synth_trace

ROOT = Path(__file__).resolve().parents[2]
HW = ROOT / "hw_configs" / "spikequant-45nm.yaml"


@pytest.fixture
def cache_on(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The cache switched on, in a fresh folder; returns its ``quantized`` directory."""
    monkeypatch.delenv("SPIKESIM_NO_CACHE", raising=False)
    monkeypatch.delenv("SPIKESIM_CACHE_MAX_BYTES", raising=False)
    monkeypatch.setenv("SPIKESIM_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache" / "quantized"


@pytest.fixture(scope="module")
def trace_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two layers; 40 tokens, so calibration_tokens = 8 changes what is calibrated."""
    path = tmp_path_factory.mktemp("trace") / "two"
    synth_trace(path, gemm=[(40, 64, 48), (40, 48, 32)], seed=5)
    return path


def entries(folder: Path) -> list[Path]:
    return sorted(folder.glob("*.q")) if folder.is_dir() else []


def quantized_arrays(q: Any) -> dict[str, Any]:
    """Every number a quantized layer holds (lazy MAC weights forced), by name."""
    if isinstance(q, QuantizedLayer):
        return {f: getattr(q, f) for f in (
            "x_q", "salient", "x_scale", "w_q", "w_scale", "output_scale", "act_bits",
            "salient_bits", "weight_bits", "output_bits", "method", "name", "op")}
    assert isinstance(q, MacQuantized)
    out: dict[str, Any] = {f: getattr(q, f) for f in (
        "name", "op", "tokens", "k", "n", "floating", "salient_ratio", "act_bits_per_token",
        "weight_bits", "output_bits")}
    for i, p in enumerate(q.passes):
        for f in ("label", "channels", "x_q", "x_scale", "act_bits", "weight_bits",
                  "dequantized", "group_size", "w_q", "w_scale"):
            out[f"{i}.{f}"] = getattr(p, f)
    return out


def same(a: Any, b: Any) -> bool:
    """Equal values, dtypes and shapes (bit for bit for arrays)."""
    da, db = quantized_arrays(a), quantized_arrays(b)
    if da.keys() != db.keys():
        return False
    for key, va in da.items():
        vb = db[key]
        if isinstance(va, np.ndarray):
            if not (isinstance(vb, np.ndarray) and va.dtype == vb.dtype and va.shape == vb.shape
                    and va.tobytes() == vb.tobytes()):
                return False
        elif type(va) is not type(vb) or va != vb:
            return False
    return True


# --------------------------------------------------------------------------------------------
# A hit is a miss, bit for bit
# --------------------------------------------------------------------------------------------


def test_hit_gives_the_tables_and_arrays_of_a_miss(trace_dir: Path, cache_on: Path) -> None:
    hw = load_hardware(HW)
    trace = load_trace(trace_dir)
    designs = list(design_names())
    plain = simulate_counts(hw, trace, designs, cache=False)
    assert entries(cache_on) == []
    cold = simulate_counts(hw, trace, designs)
    stored = entries(cache_on)
    assert stored  # one per (layer, distinct quantization)
    warm = simulate_counts(hw, trace, designs)
    assert entries(cache_on) == stored
    for run_ in (cold, warm):
        pd.testing.assert_frame_equal(run_.layers, plain.layers, check_exact=True)
        pd.testing.assert_frame_equal(run_.actions, plain.actions, check_exact=True)
        pd.testing.assert_frame_equal(run_.transactions, plain.transactions, check_exact=True)
        assert run_.spike_stats is not None
        assert plain.spike_stats is not None
        pd.testing.assert_frame_equal(run_.spike_stats, plain.spike_stats, check_exact=True)
    store = QuantCache()
    for name in designs:
        design = get_design(name)
        for layer in trace.layers:
            fresh = design.quantize(layer.name, layer.op, layer.activations(), layer.weights(),
                                    hw.quant)
            key = entry_key(layer.sha256, design.quantization, hw.quant)
            assert key is not None
            loaded = store.load(key, layer.name, layer.op, layer.weights)
            assert loaded is not None, (name, layer.name)
            assert same(loaded, fresh), (name, layer.name)


def totals_files(folder: Path) -> list[Path]:
    return sorted(folder.glob("*.fo")) if folder.is_dir() else []


def test_functional_totals_are_computed_once_per_functional_key(
    trace_dir: Path, cache_on: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A hardware point that changes only timing fields reuses the exact matmul's totals (no
    GEMM runs), with the tables of an uncached run; a field the outputs depend on
    (acc_bits) computes them again; a process reads a totals file once; a damaged totals file
    is a miss and is replaced."""
    from spikesim.hw import functional

    gemms = [0]
    real = functional.ExactGemm.__call__

    def counted(self: Any, x: Any) -> Any:
        gemms[0] += 1
        return real(self, x)

    monkeypatch.setattr(functional.ExactGemm, "__call__", counted)
    trace = load_trace(trace_dir)
    designs = ["spikequant"]
    cold = simulate_counts(load_hardware(HW), trace, designs)
    assert gemms[0] == 2
    assert len(totals_files(cache_on)) == 2
    for point in ({"if_array.lanes": 4}, {"sram.weights.banks": 2, "encoder.fifo_depth": 1},
                  {"if_array.dataflow": "token_batched"}):
        hw = load_hardware(HW, point)
        gemms[0] = 0
        warm = simulate_counts(hw, trace, designs)
        assert gemms[0] == 0, point
        plain = simulate_counts(hw, trace, designs, cache=False)
        pd.testing.assert_frame_equal(warm.layers, plain.layers, check_exact=True)
        pd.testing.assert_frame_equal(warm.actions, plain.actions, check_exact=True)
    fires = cold.actions[cold.actions["action"] == "fire"]  # one per output spike
    assert len(fires) == 2
    assert (fires["count"] > 0).all()
    gemms[0] = 0
    narrow = load_hardware(HW, {"if_array.acc_bits": 12})
    simulate_counts(narrow, trace, designs)
    assert gemms[0] == 2
    assert len(totals_files(cache_on)) == 4
    for path in totals_files(cache_on):
        path.write_text('{"spikes": -1}')
    gemms[0] = 0  # this process read or wrote them: it does not read them again
    again = simulate_counts(load_hardware(HW), trace, designs)
    assert gemms[0] == 0
    pd.testing.assert_frame_equal(again.layers, cold.layers, check_exact=True)
    quantcache._TOTALS.clear()  # as a new process: the damaged files are misses, replaced
    again = simulate_counts(load_hardware(HW), trace, designs)
    assert gemms[0] == 2
    pd.testing.assert_frame_equal(again.layers, cold.layers, check_exact=True)
    readable = [f for f in totals_files(cache_on) if "spikes\": -1" not in f.read_text()]
    assert len(readable) == 2  # rewritten; acc_bits 12's, not read since, stay damaged
    assert quantcache.info().entries == len(entries(cache_on)) + 4
    quantcache.clear()
    assert totals_files(cache_on) == []


def test_a_full_hit_never_reads_the_layer(trace_dir: Path, cache_on: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    hw = load_hardware(HW)
    simulate_counts(hw, load_trace(trace_dir), ["spikequant", "mac-w4a4"])
    from spikesim.trace.format import TraceLayer

    def refuse(self: Any) -> None:
        raise AssertionError("read on a hit")

    monkeypatch.setattr(TraceLayer, "activations", refuse)
    monkeypatch.setattr(TraceLayer, "weights", refuse)
    simulate_counts(hw, load_trace(trace_dir), ["spikequant", "mac-w4a4"])


# --------------------------------------------------------------------------------------------
# The key: every quant field a quantizer reads, nothing else
# --------------------------------------------------------------------------------------------

VARIANTS: dict[str, object] = {
    "weight_bits": 6,
    "weight_group_size": 16,
    "act_bits": 3,
    "salient_bits": 12,
    "mad_k": 3.0,
    "output_bits": 6,
    "calibration_tokens": 8,
    "normal_coding": "ttfs",
    "salient_coding": "count",
    "atom.keepers": 4,
    "atom.keeper_bits": 6,
    "atom.clip_ratio": 0.8,
    "atom.group_size": 16,
    "spikellm.salient_fraction": 0.3,
    "spikellm.extra_bits": 2,
}
"""One other valid value for every leaf field of QuantConfig."""


def leaf_fields(data: dict[str, Any], prefix: str = "") -> list[str]:
    out = []
    for key, value in data.items():
        if isinstance(value, dict):
            out.extend(leaf_fields(value, f"{prefix}{key}."))
        else:
            out.append(prefix + key)
    return out


def changed(quant: QuantConfig, path: str, value: object) -> QuantConfig:
    data = quant.model_dump(mode="json")
    head, _, leaf = path.rpartition(".")
    (data[head] if head else data)[leaf] = value
    return QuantConfig.model_validate(data)


def test_every_quant_field_has_a_variant() -> None:
    assert sorted(leaf_fields(QuantConfig().model_dump(mode="json"))) == sorted(VARIANTS)


@pytest.mark.parametrize("name", design_names())
def test_key_covers_each_field_the_quantizer_reads_and_no_other(
    name: str, trace_dir: Path
) -> None:
    """For each quant field changed alone: the key changes iff the design's quantizer reads
    it; and where the key stays, the quantized layer (weights included) is bit-identical —
    a key too narrow would hand out a wrong layer."""
    design = get_design(name)
    known = quantization_fields(design.quantization)
    assert known is not None
    reads = known[1]
    base = QuantConfig()
    layer = load_trace(trace_dir).layers[0]
    x, w = layer.activations(), layer.weights()
    reference = design.quantize(layer.name, layer.op, x, w, base)
    base_key = entry_key(layer.sha256, design.quantization, base)
    for path, value in VARIANTS.items():
        quant = changed(base, path, value)
        key = entry_key(layer.sha256, design.quantization, quant)
        assert (key != base_key) == (path.split(".")[0] in reads), path
        if key == base_key:
            other = design.quantize(layer.name, layer.op, x, w, quant)
            assert same(other, reference), f"{name}: {path} changes the output, not the key"
    assert entry_key("0" * 64, design.quantization, base) != base_key  # the layer's values


# --------------------------------------------------------------------------------------------
# Damaged entries, the bound, concurrent writers
# --------------------------------------------------------------------------------------------


def stored_entry(trace_dir: Path) -> tuple[QuantCache, str, Any, Any]:
    hw = load_hardware(HW)
    layer = load_trace(trace_dir).layers[0]
    design = get_design("spikequant")
    store = QuantCache()
    q = store.quantize(design, layer, hw.quant, lambda: (layer.activations(), layer.weights()))
    store.flush()  # a miss is stored on the cache's writer thread
    key = entry_key(layer.sha256, design.quantization, hw.quant)
    assert key is not None
    assert store.path(key).is_file()
    return store, key, layer, q


def with_a_salient_value_less(data: bytearray) -> bytearray:
    """Entry bytes whose header lists one salient value fewer than the mask marks, checksum
    recomputed (a writer's bug rather than a damaged disk)."""
    import hashlib
    import struct

    from spikesim.sim.packing import PACKED_NBYTES

    start = len(quantcache._MAGIC) + 65
    body = bytes(data[start:])
    (head_len,) = struct.unpack_from("<Q", body, 0)
    header = json.loads(body[8 : 8 + head_len])
    spec = header["arrays"][header["x_salient"]]
    assert spec["shape"][0] > 0
    spec["shape"] = [spec["shape"][0] - 1]
    spec["nbytes"] = PACKED_NBYTES[spec["pack"]](spec["shape"][0],
                                                 np.dtype(spec["dtype"]).itemsize)
    head = json.dumps(header).encode()
    body = struct.pack("<Q", len(head)) + head + body[8 + head_len:]
    digest = hashlib.sha256(body).hexdigest().encode()
    return bytearray(data[: len(quantcache._MAGIC)] + digest + data[start - 1 : start] + body)


@pytest.mark.parametrize("damage", ["truncate", "flip", "empty", "garbage", "salient count"])
def test_a_damaged_entry_is_a_miss_and_is_removed(
    damage: str, trace_dir: Path, cache_on: Path
) -> None:
    store, key, layer, q = stored_entry(trace_dir)
    path = store.path(key)
    data = bytearray(path.read_bytes())
    if damage == "truncate":
        data = data[: len(data) // 2]
    elif damage == "flip":
        data[-1] ^= 0x01
    elif damage == "empty":
        data = bytearray()
    elif damage == "salient count":
        assert q.salient.any()
        data = with_a_salient_value_less(data)
    else:
        data = bytearray(b"\x00" * 100)
    path.write_bytes(bytes(data))
    assert store.load(key, layer.name, layer.op, layer.weights) is None
    assert not path.exists()
    again = store.quantize(get_design("spikequant"), layer, load_hardware(HW).quant,
                           lambda: (layer.activations(), layer.weights()))
    store.flush()
    assert same(again, q)
    assert path.is_file()


def test_keys_are_hex_digests_only(cache_on: Path) -> None:
    with pytest.raises(ValueError, match="not an entry key"):
        QuantCache().path("../../etc/passwd")


def test_eviction_keeps_the_bound_least_recently_used_first(
    trace_dir: Path, cache_on: Path
) -> None:
    _, key, layer, q = stored_entry(trace_dir)
    size = QuantCache().path(key).stat().st_size
    QuantCache().path(key).unlink()
    bound = 3 * size + size // 2  # room for three entries
    store = QuantCache(bound=bound)
    keys = [f"{i:064x}" for i in range(5)]
    past = time.time_ns() - 1000 * 10**9
    for i, k in enumerate(keys):
        store.store(k, q)
        os.utime(store.path(k), ns=(past + i * 10**9, past + i * 10**9))
        assert sum(p.stat().st_size for p in entries(cache_on)) <= bound
        if i == 2:  # the first entry used again (a hit refreshes it): now the newest
            assert store.load(keys[0], layer.name, layer.op, layer.weights) is not None
    kept = sorted(p.name[:64] for p in entries(cache_on))
    assert kept == [keys[0], keys[3], keys[4]]


def test_a_hit_marks_its_entry_used_at_most_once_a_minute(
    trace_dir: Path, cache_on: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Hits set the entry's modification time (the order eviction uses), but a process writes
    it at most once per TOUCH_INTERVAL_S for the same file."""
    store, key, layer, _ = stored_entry(trace_dir)
    path = store.path(key)
    touches: list[str] = []
    real = os.utime

    def counted(target: Any, *args: Any, **kwargs: Any) -> None:
        touches.append(str(target))
        real(target, *args, **kwargs)

    monkeypatch.setattr(quantcache.os, "utime", counted)
    for _ in range(3):
        assert store.load(key, layer.name, layer.op, layer.weights) is not None
    assert touches == [str(path)]
    monkeypatch.setattr(quantcache, "TOUCH_INTERVAL_S", 0.0)
    past = time.time_ns() - 1000 * 10**9
    real(path, ns=(past, past))
    assert store.load(key, layer.name, layer.op, layer.weights) is not None
    assert touches == [str(path)] * 2
    assert path.stat().st_mtime_ns > past


def test_a_full_cache_is_not_scanned_on_every_write(
    trace_dir: Path, cache_on: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Writes are counted between scans: 64 stores into a cache kept at its bound scan the
    directory a handful of times (once at the start, then once per bound/8 bytes), not 64."""
    import spikesim.sim.quantcache as quantcache

    _, key, _, q = stored_entry(trace_dir)
    size = QuantCache().path(key).stat().st_size
    scans = []
    real = quantcache._entries

    def counted(folder: Path) -> Any:
        scans.append(folder)
        return real(folder)

    monkeypatch.setattr(quantcache, "_entries", counted)
    listings = []
    real_listdir = os.listdir

    def listdir(folder: Any) -> Any:
        listings.append(folder)
        return real_listdir(folder)

    monkeypatch.setattr(os, "listdir", listdir)
    bound = 32 * size
    store = QuantCache(bound=bound)
    for i in range(64):
        store.store(f"{i:064x}", q)
    assert sum(p.stat().st_size for p in entries(cache_on)) <= bound
    assert len(scans) <= 1 + 64 // 4  # one scan per bound/8 (4 entries) written at most
    # each scan lists the folder twice (killed writers' temporary files, then the entries);
    # a write itself lists nothing (it used to list the whole folder: quadratic to fill)
    assert len(listings) == 2 * len(scans)


def test_killed_writers_temporary_files_go_at_a_scan(cache_on: Path, trace_dir: Path) -> None:
    """A dead writer's temporary entry file is removed when the cache scans the folder; a
    living writer's, another name's and a user's file stay."""
    from spikesim.fsutil import process_tag

    _, _, _, q = stored_entry(trace_dir)
    tag = process_tag()
    dead = cache_on / f".{'e' * 64}.q.tmp-{_dead_pid()}-{tag}{'0' * 8}"
    live = cache_on / f".{'f' * 64}.fo.tmp-{os.getpid()}-{tag}{'1' * 8}"
    other = cache_on / f".notes.txt.tmp-{_dead_pid()}-{tag}{'2' * 8}"
    for path in (dead, live, other):
        path.write_bytes(b"partial")
    QuantCache().store(f"{1:064x}", q)  # a new cache object's first write scans
    assert not dead.exists()
    assert live.exists()
    assert other.exists()


def _dead_pid() -> int:
    """The id of a process that has just exited (not reused this soon)."""
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


@pytest.mark.slow  # two writer processes: ~2 s
def test_two_processes_writing_one_key_leave_one_valid_entry(
    trace_dir: Path, cache_on: Path
) -> None:
    _, key, layer, q = stored_entry(trace_dir)
    QuantCache().path(key).unlink()
    script = textwrap.dedent(f"""
        import sys
        import numpy as np
        from spikesim.quant.layer import Method, QuantizedLayer
        from spikesim.sim.quantcache import QuantCache
        arrays = np.load({str(cache_on.parent / "arrays.npz")!r})
        q = QuantizedLayer("n", "o", arrays["x_q"], arrays["salient"], arrays["x_scale"],
                           arrays["w_q"], arrays["w_scale"], {q.output_scale!r}, {q.act_bits},
                           {q.salient_bits}, {q.weight_bits}, {q.output_bits}, Method.SPIKEQUANT)
        store = QuantCache()
        sys.stdin.readline()  # start together
        for _ in range(40):
            store.store({key!r}, q)
            assert store.load({key!r}, "n", "o", lambda: None) is not None
    """)
    np.savez(cache_on.parent / "arrays.npz", x_q=q.x_q, salient=q.salient, x_scale=q.x_scale,
             w_q=q.w_q, w_scale=q.w_scale)
    procs = [subprocess.Popen([sys.executable, "-c", script], stdin=subprocess.PIPE, env=os.environ)
             for _ in range(2)]
    for proc in procs:
        assert proc.stdin is not None
        proc.stdin.write(b"go\n")
        proc.stdin.flush()
    assert [proc.wait(timeout=120) for proc in procs] == [0, 0]
    assert [p.name for p in cache_on.iterdir()] == [f"{key}.q"]  # no temporary files left
    (cache_on.parent / "arrays.npz").unlink()
    loaded = QuantCache().load(key, layer.name, layer.op, layer.weights)
    assert loaded is not None
    assert same(loaded, q)


# --------------------------------------------------------------------------------------------
# Switches and the cache command
# --------------------------------------------------------------------------------------------


def test_no_cache_environment_and_parameter(trace_dir: Path, cache_on: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    hw = load_hardware(HW)
    simulate_counts(hw, load_trace(trace_dir), None, cache=False)
    assert entries(cache_on) == []
    monkeypatch.setenv("SPIKESIM_NO_CACHE", "1")
    simulate_counts(hw, load_trace(trace_dir), None)
    assert entries(cache_on) == []
    assert quantcache.open_cache(True) is None


def test_simulate_no_cache_flag(trace_dir: Path, cache_on: Path, tmp_path: Path,
                                capsys: pytest.CaptureFixture[str]) -> None:
    args = ["simulate", "--hw", HW, "--trace", trace_dir, "--quiet", "--no-figures"]
    code, _, err = run(capsys, *args, "--out", tmp_path / "a", "--no-cache")
    assert code == 0, err
    assert entries(cache_on) == []
    code, _, err = run(capsys, *args, "--out", tmp_path / "b")
    assert code == 0, err
    assert len(entries(cache_on)) == 2  # two layers, one quantization
    for table in ("layers.csv", "actions.csv"):
        assert (tmp_path / "a" / table).read_bytes() == (tmp_path / "b" / table).read_bytes()
    code, _, err = run(capsys, *args, "--out", tmp_path / "c")  # warm
    assert code == 0, err
    for table in ("layers.csv", "actions.csv"):
        assert (tmp_path / "a" / table).read_bytes() == (tmp_path / "c" / table).read_bytes()


@pytest.mark.slow  # a sweep in a spawned worker process: ~2.5 s
def test_sweep_passes_no_cache_to_its_workers(
    trace_dir: Path, cache_on: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from spikesim.dse import runner

    seen: list[bool] = []
    real = runner.run_task

    def spy(task: Any, trace_path: str, trace_sha: str, cache: bool = True) -> Any:
        seen.append(cache)
        return real(task, trace_path, trace_sha, cache)

    def local(tasks: Any, trace_path: str, trace_sha: str, workers: int, on_outcome: Any,
              cache: bool = True) -> None:  # the pool's job, in process
        for task in tasks:
            on_outcome(spy(task, trace_path, trace_sha, cache))

    monkeypatch.setattr(runner, "_run_local", local)
    spec = tmp_path / "sweep.yaml"
    spec.write_text(f"base: {HW}\naxes:\n  if_array.lanes: [8, 16]\n", encoding="utf-8")
    common = ["sweep", spec, "--trace", trace_dir, "--quiet"]
    code, _, err = run(capsys, *common, "--out", tmp_path / "a.parquet", "--no-cache")
    assert code == 0, err
    assert seen == [False, False]
    assert entries(cache_on) == []
    code, _, err = run(capsys, *common, "--out", tmp_path / "b.parquet")
    assert code == 0, err
    assert seen[2:] == [True, True]
    assert len(entries(cache_on)) == 2


def test_cache_info_and_clear_touch_only_entries(
    trace_dir: Path, cache_on: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    simulate_counts(load_hardware(HW), load_trace(trace_dir), ["spikequant", "atom"])
    stored = entries(cache_on) + totals_files(cache_on)
    assert len(stored) == 6  # 2 layers x 2 quantizations, 2 spiking layers' output totals
    others = [cache_on / "notes.txt", cache_on / ("f" * 64 + ".qq"), cache_on.parent / "x.tsv"]
    for other in others:
        other.write_text("keep me", encoding="utf-8")
    code, out, err = run(capsys, "cache", "info")
    assert code == 0, err
    assert f"directory: {cache_on}" in out
    assert "entries: 6" in out
    assert f"bytes: {sum(p.stat().st_size for p in stored):,}" in out
    code, out, err = run(capsys, "cache", "clear")
    assert code == 0, err
    assert "removed 6 entries" in out
    assert entries(cache_on) == []
    assert totals_files(cache_on) == []
    assert all(p.read_text(encoding="utf-8") == "keep me" for p in others)
    code, out, _ = run(capsys, "cache", "info")
    assert "entries: 0" in out


def test_a_miss_is_stored_in_the_background_and_flushed(
    trace_dir: Path, cache_on: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A miss is stored on the cache's writer thread: after ``flush`` the entry is whole on
    disk and equal to a synchronous store's; a bug in the writer is raised by ``flush``."""
    store, key, _, q = stored_entry(trace_dir)  # quantize, then flush
    background = store.path(key).read_bytes()
    store.path(key).unlink()
    store.store(key, q)
    assert store.path(key).read_bytes() == background

    def broken(quantized: Any) -> Any:
        raise RuntimeError("encoder bug")

    monkeypatch.setattr(quantcache, "encode_parts", broken)
    store.store_later(key, q)
    with pytest.raises(RuntimeError, match="encoder bug"):
        store.flush()
    store.flush()  # nothing left in flight


# --------------------------------------------------------------------------------------------
# A run larger than the cache writes what fits, and nothing it would evict itself
# --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def six_layers(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("trace") / "six"
    synth_trace(path, gemm=[(40, 64, 48), (40, 48, 96), (40, 96, 32), (40, 32, 64),
                            (40, 64, 64), (40, 64, 16)], seed=9)
    return path


def test_admission_is_first_fit_in_counting_order_and_skips_vector_layers() -> None:
    from spikesim.trace import load_workload

    model = load_workload("llama2-7b", tokens=64)
    layers = list(model.layers)[:60]
    spiking = get_design("spikequant").quantization
    tensor = [layer for layer in layers if getattr(layer, "op_class", "") != "vector"]
    sizes = [quantcache.estimated_bytes(layer) for layer in tensor]
    bound = (sizes[0] + sizes[1] + sizes[-1]) * 8 // 7
    admitted = quantcache.admitted_layers(layers, [spiking, spiking], bound)
    want, left = [], bound * 7 // 8
    for layer, size in zip(tensor, sizes, strict=True):
        if size <= left:
            want.append(layer.name)
            left -= size
    assert admitted == frozenset(want)
    assert {tensor[0].name, tensor[1].name} <= admitted
    assert all(getattr(model.layer(n), "op_class", "") != "vector" for n in admitted)
    # two quantizations need twice the room; designs the cache does not know need none
    two = quantcache.admitted_layers(layers, [spiking, get_design("mac-w4a4").quantization],
                                     bound)
    assert tensor[0].name in two
    assert len(two) < len(admitted)
    assert quantcache.admitted_layers(layers, [("other", None)], bound) == frozenset()
    assert quantcache.admitted_layers(layers, [spiking], 0) == frozenset()


def bound_to_first(trace: Any, layers: int, monkeypatch: pytest.MonkeyPatch) -> int:
    """Set the cache's bound so that the entries of ``trace``'s first ``layers`` layers (one
    quantization each) fit in 7/8 of it, and no more; return the bound."""
    sizes = [quantcache.estimated_bytes(layer) for layer in trace.layers]
    bound = sum(sizes[:layers]) * 8 // 7 + 1
    monkeypatch.setenv("SPIKESIM_CACHE_MAX_BYTES", str(bound))
    return bound


def test_a_run_larger_than_the_cache_writes_only_what_fits(
    six_layers: Path, cache_on: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    hw = load_hardware(HW)
    trace = load_trace(six_layers)
    bound = bound_to_first(trace, 3, monkeypatch)
    plain = simulate_counts(hw, trace, None, cache=False)
    cold = simulate_counts(hw, trace, None)
    stored = entries(cache_on)
    want = quantcache.admitted_layers(trace.layers, [get_design("spikequant").quantization])
    assert want == {layer.name for layer in trace.layers[:3]}
    assert len(stored) == 3
    assert sum(p.stat().st_size for p in stored) <= bound * 7 // 8  # the estimate is generous
    stored_keys = {p.name[:64] for p in stored}
    for p in totals_files(cache_on):  # output totals only for the entries written
        assert json.loads(p.read_bytes())["entry"] in stored_keys
    assert len(totals_files(cache_on)) == 3
    warm = simulate_counts(hw, trace, None)
    assert entries(cache_on) == stored  # nothing written, nothing evicted
    assert len(totals_files(cache_on)) == 3
    for run_ in (cold, warm):
        pd.testing.assert_frame_equal(run_.layers, plain.layers, check_exact=True)
        pd.testing.assert_frame_equal(run_.actions, plain.actions, check_exact=True)


@pytest.mark.slow  # two spawned worker processes: ~3 s
def test_workers_write_the_entries_one_process_writes(
    six_layers: Path, cache_on: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from spikesim.sim.parallel import simulate_counts_in

    hw = load_hardware(HW)
    trace = load_trace(six_layers)
    bound_to_first(trace, 4, monkeypatch)
    simulate_counts(hw, trace, None)
    one = sorted(p.stat().st_size for p in entries(cache_on))
    assert len(one) == 4
    quantcache.clear()
    simulate_counts_in(hw, trace, None, workers=2)
    # the same layers' entries (their sizes differ by shape); not compared by name: a key
    # holds the installed version, which the workers read when they start (another test
    # building the wheel from this tree rewrites the metadata it is read from)
    assert sorted(p.stat().st_size for p in entries(cache_on)) == one

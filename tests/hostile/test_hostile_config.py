"""Hostile configuration input: every bad hardware (or sweep, energy-table) YAML is one error.

Each case writes a bad file and runs it through the CLI in-process, as ``spikesim validate FILE``
and as ``spikesim simulate --hw FILE`` into an existing run directory. The contract checked for
every case: exit code 2, exactly one stderr line ``error: ...`` naming the file (and the field,
where there is one), no traceback, a bounded line (long values are cut, never echoed whole), and
the run directory byte-for-byte unchanged with no temporary sibling left behind.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from hostile_support import (
    MAX_LINE,
    assert_one_error,
    refused_by_simulate,
    refused_by_validate,
    run,
    snapshot,
)

from spikesim.cli import main
from spikesim.config.loader import YAML_MAX_BYTES, YAML_MAX_DEPTH, read_yaml_mapping
from spikesim.errors import InputError

ROOT = Path(__file__).resolve().parents[2]
HW_TEXT = (ROOT / "hw_configs" / "spikequant-45nm.yaml").read_text()
GEMM = "8,64,40"


def sub(old: str, new: str) -> Callable[[str], str]:
    """A mutation of the preset text replacing ``old`` (which must occur) by ``new``."""

    def mutate(text: str) -> str:
        assert old in text, old
        return text.replace(old, new, 1)

    return mutate


def append(extra: str) -> Callable[[str], str]:
    return lambda text: text + extra


@dataclass(frozen=True)
class Case:
    """A bad configuration file: its bytes from the preset text (or a path), and what the one
    error line must say (``field`` may be None when the file as a whole is at fault)."""

    make: Callable[[str], str | bytes] | None
    field: str | None
    says: str
    path: str | None = None
    """Use this path instead of writing a file (``/dev/zero``)."""
    setup: Callable[[Path], None] | None = None
    """Create the file at the given path some other way (a directory, a missing file)."""


def _deep_flow(levels: int) -> Callable[[str], str]:
    return append(f"bogus: {'[' * levels}1{']' * levels}\n")


def _deep_block(levels: int) -> Callable[[str], str]:
    return append("".join(f"{'  ' * i}k{i}:\n" for i in range(levels)) + "  " * levels + "x: 1\n")


def _alias_bomb(text: str) -> str:
    lines = ['a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for i in range(1, 9):
        refs = ", ".join([f"*a{i - 1}"] * 9)
        lines.append(f"a{i}: &a{i} [{refs}]")
    return text + "\n".join(lines) + "\n"


def _garbage(text: str) -> bytes:
    return bytes(range(256)) * 16


def _mkdir(path: Path) -> None:
    path.mkdir()


def _nothing(path: Path) -> None:
    pass


HUGE = 5_000_000
"""Length of a huge scalar (below the file size limit, so it reaches validation)."""

CASES: dict[str, Case] = {
    # duplicate keys: an error naming the key, never "last one wins"
    "dup-top-key": Case(append("name: again\n"), "name", "duplicate key 'name'"),
    "dup-nested-key": Case(
        sub("  lanes: 16 ", "  lanes: 16\n  lanes: 32 "), "if_array.lanes", "duplicate key"
    ),
    "dup-flow-key": Case(
        sub("{role: weights,", "{role: weights, role: output,"),
        "sram.weights.role",
        "duplicate key",
    ),
    "dup-sram-name": Case(
        sub("  activations: {", "  weights: {role: output, capacity_bytes: 8}\n  activations: {"),
        "sram.weights",
        "duplicate key",
    ),
    "dup-quoted-and-plain": Case(append('"name": again\n'), "name", "duplicate key"),
    # a boolean is not a number
    "lanes-true": Case(sub("lanes: 16 ", "lanes: true "), "if_array.lanes", "boolean"),
    "lanes-yes": Case(sub("lanes: 16 ", "lanes: yes "), "if_array.lanes", "boolean"),
    "columns-false": Case(sub("columns: 64 ", "columns: false "), "if_array.columns", "boolean"),
    "capacity-true": Case(
        sub("capacity_bytes: 65536", "capacity_bytes: true"),
        "sram.salient.capacity_bytes",
        "boolean",
    ),
    "latency-true": Case(
        sub("latency_cycles: 100", "latency_cycles: on"), "dram.latency_cycles", "boolean"
    ),
    "window-true": Case(sub("window: null ", "window: true "), "encoder.window", "boolean"),
    "weight-bits-true": Case(
        sub("  weight_bits: 4", "  weight_bits: true"), "quant.weight_bits", "boolean"
    ),
    "keepers-true": Case(
        sub("  weight_bits: 4", "  weight_bits: 4\n  atom: {keepers: true}"),
        "quant.atom.keepers",
        "boolean",
    ),
    "clock-true": Case(sub("clock_hz: 500.0e+6", "clock_hz: true"), "clock_hz", "boolean"),
    "bandwidth-true": Case(
        sub("bandwidth_bytes_per_cycle: 32.0", "bandwidth_bytes_per_cycle: true"),
        "dram.bandwidth_bytes_per_cycle",
        "boolean",
    ),
    # floats must be finite
    "clock-inf": Case(sub("clock_hz: 500.0e+6", "clock_hz: .inf"), "clock_hz", "finite"),
    "clock-minus-inf": Case(sub("clock_hz: 500.0e+6", "clock_hz: -.inf"), "clock_hz", "finite"),
    "clock-nan": Case(sub("clock_hz: 500.0e+6", "clock_hz: .nan"), "clock_hz", "finite"),
    "clock-1e400": Case(sub("clock_hz: 500.0e+6", "clock_hz: 1.0e+400"), "clock_hz", "finite"),
    "clock-1e400-string": Case(sub("clock_hz: 500.0e+6", "clock_hz: 1e400"), "clock_hz", "finite"),
    "clock-tiny": Case(sub("clock_hz: 500.0e+6", "clock_hz: 1.0e-300"), "clock_hz", "greater"),
    "bandwidth-inf": Case(
        sub("bandwidth_bytes_per_cycle: 32.0", "bandwidth_bytes_per_cycle: .inf"),
        "dram.bandwidth_bytes_per_cycle",
        "finite",
    ),
    "bandwidth-nan": Case(
        sub("bandwidth_bytes_per_cycle: 32.0", "bandwidth_bytes_per_cycle: .NaN"),
        "dram.bandwidth_bytes_per_cycle",
        "finite",
    ),
    "bandwidth-near-zero": Case(
        sub("bandwidth_bytes_per_cycle: 32.0", "bandwidth_bytes_per_cycle: 1.0e-300"),
        "dram.bandwidth_bytes_per_cycle",
        "greater than or equal to 0.000001",
    ),
    "bandwidth-zero": Case(
        sub("bandwidth_bytes_per_cycle: 32.0", "bandwidth_bytes_per_cycle: 0.0"),
        "dram.bandwidth_bytes_per_cycle",
        "greater than or equal",
    ),
    "mad-k-inf": Case(
        sub("  act_bits: 4", "  act_bits: 4\n  mad_k: .inf"), "quant.mad_k", "finite"
    ),
    "mad-k-nan": Case(
        sub("  act_bits: 4", "  act_bits: 4\n  mad_k: .nan"), "quant.mad_k", "finite"
    ),
    "mad-k-1e400": Case(
        sub("  act_bits: 4", "  act_bits: 4\n  mad_k: 1.0e+400"), "quant.mad_k", "finite"
    ),
    "clip-ratio-nan": Case(
        sub("  act_bits: 4", "  act_bits: 4\n  atom: {clip_ratio: .nan}"),
        "quant.atom.clip_ratio",
        "finite",
    ),
    "salient-fraction-inf": Case(
        sub("  act_bits: 4", "  act_bits: 4\n  spikellm: {salient_fraction: .inf}"),
        "quant.spikellm.salient_fraction",
        "finite",
    ),
    # integers beyond any sane machine (they would overflow int64 later)
    "latency-huge": Case(
        sub("latency_cycles: 100", "latency_cycles: 99999999999999999999999999"),
        "dram.latency_cycles",
        "less than or equal",
    ),
    "capacity-huge": Case(
        sub("capacity_bytes: 65536", "capacity_bytes: 99999999999999999999999999"),
        "sram.salient.capacity_bytes",
        "less than or equal",
    ),
    "keepers-huge": Case(
        sub("  act_bits: 4", "  act_bits: 4\n  atom: {keepers: 99999999999999999999}"),
        "quant.atom.keepers",
        "less than or equal",
    ),
    "int-5000-digits": Case(
        sub("lanes: 16 ", f"lanes: {'9' * 5000} "), None, "integer of 5000 characters is too long"
    ),
    # unknown keys are reported where they are
    "unknown-under-sram-weights": Case(
        sub("ports: 1}\n  activations", "ports: 1, bogus: 3}\n  activations"),
        "sram.weights.bogus",
        "unknown field",
    ),
    "unknown-top-level": Case(append("bogus: 1\n"), "bogus", "unknown field"),
    "unknown-in-if-array": Case(
        sub("  lanes: 16 ", "  lanse: 16\n  lanes: 16 "), "if_array.lanse", "unknown field"
    ),
    # huge values are cut in the message
    "huge-scalar-in-int-field": Case(
        sub("lanes: 16 ", f"lanes: {'a' * HUGE} "), "if_array.lanes", "…"
    ),
    "huge-name": Case(
        sub("name: spikequant-45nm", f"name: {'x' * HUGE}"), "name", "at most 256 characters"
    ),
    "huge-unknown-key": Case(append(f"? {'k' * HUGE}\n: 1\n"), "kkkkkkkk", "unknown field"),
    "huge-string-in-enum": Case(
        sub("reset: subtract", f"reset: {'s' * HUGE}"), "if_array.reset", "…"
    ),
    # size, depth and alias limits
    "file-over-size-limit": Case(
        lambda text: text + "#" * (YAML_MAX_BYTES + 10) + "\n", None, "byte limit"
    ),
    "dev-zero": Case(None, None, "byte limit", path="/dev/zero"),
    "deep-flow-nesting": Case(_deep_flow(YAML_MAX_DEPTH + 36), None, "levels deep"),
    "very-deep-flow-nesting": Case(_deep_flow(100_000), None, "malformed YAML"),
    "deep-block-nesting": Case(_deep_block(YAML_MAX_DEPTH + 10), "k0.k1.k2", "levels deep"),
    "alias-bomb": Case(_alias_bomb, None, "nodes (aliases expanded)"),
    "recursive-alias": Case(append("bogus: &r [1, *r]\n"), "bogus", "recursive alias"),
    # not a mapping, not text, not a file
    "top-level-list": Case(lambda text: "- 1\n- 2\n", None, "mapping"),
    "top-level-scalar": Case(lambda text: "just a string\n", None, "mapping"),
    "binary-garbage": Case(_garbage, None, "binary"),
    "utf16": Case(lambda text: text.encode("utf-16"), None, "binary"),
    "non-utf8": Case(lambda text: text.encode("latin-1") + b"name: caf\xe9\n", None, "UTF-8"),
    "empty-file": Case(lambda text: "", None, "empty"),
    "comment-only": Case(lambda text: "# nothing here\n", None, "empty"),
    "directory": Case(None, None, "directory", setup=_mkdir),
    "missing-file": Case(None, None, "not found", setup=_nothing),
    # YAML that does not parse
    "python-tag": Case(append("x: !!python/object/apply:os.system [ls]\n"), None, "malformed YAML"),
    "two-documents": Case(lambda text: text + "---\nname: b\n", None, "single document"),
    "unterminated-flow": Case(append("bogus: [1, 2\n"), None, "malformed YAML"),
    "tab-indent": Case(sub("  lanes: 16 ", "\tlanes: 16 "), None, "malformed YAML"),
    # wrong shapes of values
    "integer-key": Case(append("1: 2\n"), "1", "string"),
    "sram-role-null": Case(
        sub(
            "  salient:     {role: salient,     capacity_bytes: 65536,   word_bits: 64,  "
            "banks: 1,  ports: 1}",
            "  salient: null",
        ),
        "sram.salient",
        "valid dictionary",
    ),
    "name-is-list": Case(sub("name: spikequant-45nm", "name: [a, b]"), "name", "string"),
    "if-array-is-scalar": Case(
        lambda text: text.replace("if_array:\n", "if_array: 3\nunused:\n", 1),
        "if_array",
        "valid dictionary",
    ),
}


def _write_case(case: Case, folder: Path) -> Path:
    if case.path is not None:
        return Path(case.path)
    path = folder / "hw.yaml"
    if case.setup is not None:
        case.setup(path)
        return path
    assert case.make is not None
    data = case.make(HW_TEXT)
    if isinstance(data, str):
        path.write_text(data, encoding="utf-8")
    else:
        path.write_bytes(data)
    return path


def _needles(case: Case, path: Path) -> list[str]:
    needles = [str(path), case.says]
    if case.field is not None:
        needles.append(f"field '{case.field}")
    return needles


# --------------------------------------------------------------------------------------------
# Fixtures: a tiny trace and an existing run directory (must survive every failed run)
# --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tiny_trace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("hostile-config-trace") / "gemm"
    assert main(["synth", "--gemm", GEMM, "--out", str(out)]) == 0
    return out


@pytest.fixture(scope="module")
def master_run(tmp_path_factory: pytest.TempPathFactory, tiny_trace: Path) -> Path:
    out = tmp_path_factory.mktemp("hostile-config-run") / "run"
    args = ["simulate", "--hw", "spikequant-45nm", "--trace", str(tiny_trace), "--out", str(out)]
    assert main([*args, "--quiet", "--no-figures"]) == 0
    return out


@pytest.fixture
def existing_run(master_run: Path, tmp_path: Path) -> Path:
    """A private copy of a finished run directory, plus a sentinel file a new run would drop."""
    out = tmp_path / "runs" / "run"
    shutil.copytree(master_run, out)
    (out / "sentinel.txt").write_text("keep me\n")
    return out


# --------------------------------------------------------------------------------------------
# Tests
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", [
    pytest.param(name, marks=pytest.mark.slow) if name.startswith("huge-") else name
    for name in CASES
])  # the four 5 MB "huge-" files take 0.4-0.6 s each: they run in the slow pass
def test_validate_refuses(name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    case = CASES[name]
    path = _write_case(case, tmp_path)
    before = snapshot(tmp_path)
    refused_by_validate(capsys, path, *_needles(case, path))
    assert snapshot(tmp_path) == before


@pytest.mark.parametrize("name", list(CASES))
def test_simulate_refuses_and_keeps_the_run(
    name: str,
    tmp_path: Path,
    tiny_trace: Path,
    existing_run: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    case = CASES[name]
    folder = tmp_path / "input"
    folder.mkdir()
    path = _write_case(case, folder)
    refused_by_simulate(capsys, path, tiny_trace, existing_run, *_needles(case, path))


# --- --set overrides go through the same checks ------------------------------------------------

OVERRIDES: dict[str, tuple[str, str, str]] = {
    "set-bool-for-int": ("if_array.lanes=true", "if_array.lanes", "boolean"),
    "set-inf-float": ("clock_hz=.inf", "clock_hz", "finite"),
    "set-nan-float": ("quant.mad_k=.nan", "quant.mad_k", "finite"),
    "set-near-zero-bandwidth": (
        "dram.bandwidth_bytes_per_cycle=1.0e-300",
        "dram.bandwidth_bytes_per_cycle",
        "greater than or equal",
    ),
    "set-5000-digit-int": (f"if_array.lanes={'9' * 5000}", "if_array.lanes", "…"),
    "set-deep-path": (".".join(["a"] * 100) + "=1", "--set", "levels deep"),
    "set-huge-value": (f"name={'x' * HUGE}", "name", "…"),
}


@pytest.mark.parametrize("name", list(OVERRIDES))
def test_bad_override_is_one_error(
    name: str,
    tiny_trace: Path,
    existing_run: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    text, field, says = OVERRIDES[name]
    refused_by_simulate(
        capsys, "spikequant-45nm", tiny_trace, existing_run, f"field '{field}", says,
        extra=("--set", text),
    )


# --- other kinds of YAML (sweep spec, energy table) share the reader --------------------------

SWEEP = "base: {base}\naxes:\n  if_array.lanes: [8, 16]\ndesigns: [spikequant]\n"

OTHER_KINDS: dict[str, tuple[str, str | None, str]] = {
    "sweep-dup-axis": (
        SWEEP + "axes:\n  if_array.columns: [32]\n",
        "axes",
        "duplicate key",
    ),
    "sweep-samples-true": (SWEEP + "samples: true\n", "samples", "boolean"),
    "sweep-max-area-inf": (SWEEP + "constraints: {max_area_mm2: .inf}\n", "constraints", "finite"),
    "energy-table-dup-key": (
        "name: t\nname: u\ntechnology_nm: 45\n",
        "name",
        "duplicate key",
    ),
}


@pytest.mark.parametrize("name", list(OTHER_KINDS))
def test_other_yaml_kinds(name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text, field, says = OTHER_KINDS[name]
    path = tmp_path / "spec.yaml"
    path.write_text(text.replace("{base}", str(ROOT / "hw_configs" / "spikequant-45nm.yaml")))
    code, _, err = run(capsys, "validate", path)
    needles = [str(path), says] + ([f"field '{field}"] if field else [])
    assert_one_error(code, err, *needles)


# --- what must still work ----------------------------------------------------------------------


def test_anchors_and_merge_keys_still_work(tmp_path: Path) -> None:
    """A merge key ``<<`` is not a duplicate, and an explicit key after it overrides it."""
    path = tmp_path / "anchors.yaml"
    path.write_text("a: &x {p: 1, q: 2}\nb:\n  <<: *x\n  q: 3\nc: *x\n")
    data = read_yaml_mapping(path)
    assert data == {"a": {"p": 1, "q": 2}, "b": {"p": 1, "q": 3}, "c": {"p": 1, "q": 2}}


def test_shipped_presets_still_validate(capsys: pytest.CaptureFixture[str]) -> None:
    for path in sorted((ROOT / "hw_configs").glob("*.yaml")):
        code, out, err = run(capsys, "validate", path)
        assert code == 0, err
        assert out.startswith("ok: ")


def test_row_latch_bool_still_accepted(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Booleans stay fine where the field is a boolean."""
    path = tmp_path / "hw.yaml"
    path.write_text(HW_TEXT.replace("  reset: subtract", "  row_latch: true\n  reset: subtract"))
    code, _, err = run(capsys, "validate", path)
    assert code == 0, err


def test_echo_is_cut_in_the_error_object() -> None:
    exc = InputError("x" * 10_000_000, file="f.yaml", field="k" * 1_000_000)
    line = exc.one_line()
    assert len(line) < MAX_LINE
    assert line.endswith("…")


def test_fifo_as_yaml_is_bounded(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A named pipe with a writer that never stops is read at most up to the size limit."""
    if not hasattr(os, "mkfifo"):
        pytest.skip("no named pipes here")
    import threading

    fifo = tmp_path / "pipe.yaml"
    os.mkfifo(fifo)
    stop = threading.Event()

    def writer() -> None:
        try:
            with open(fifo, "wb") as fh:
                chunk = b"#" * 65536
                while not stop.is_set():
                    fh.write(chunk)
        except (BrokenPipeError, OSError):
            pass

    thread = threading.Thread(target=writer, daemon=True)
    thread.start()
    try:
        code, _, err = run(capsys, "validate", fifo)
    finally:
        stop.set()
        thread.join(timeout=5)
    assert_one_error(code, err, str(fifo), "byte limit")

"""Hostile trace directories and synth requests: every one is a single error, read nothing else.

Each trace case copies a tiny good trace, breaks one thing (a symlink out of the directory, a
deeply nested or huge manifest, a safetensors header that lies), and runs ``spikesim simulate``
on it in-process into an existing run directory. Checked for every case: exit code 2, exactly one
stderr line ``error: ...`` naming the file and the field, no traceback, a bounded line, the run
directory byte-for-byte unchanged, and no file outside the trace directory opened (nor any byte
of it in the message).
"""

from __future__ import annotations

import builtins
import hashlib
import io
import json
import os
import shutil
import struct
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hostile_support import (
    assert_one_error,
    hidden_siblings,
    refused_by_simulate,
    run,
    snapshot,
)

from spikesim.cli import main
from spikesim.trace import load_trace
from spikesim.trace.format import (
    MAX_HEADER_BYTES,
    MAX_JSON_DEPTH,
    MAX_MANIFEST_BYTES,
    MAX_TENSOR_RANK,
)
from spikesim.trace.synth import MAX_TENSOR_ELEMENTS, synth_layers

GEMM = "8,64,40"
SECRET = b"TOPSECRET-BYTES-"


class Trace:
    """A private copy of the tiny trace being broken, with helpers to edit it consistently."""

    def __init__(self, path: Path, outside: Path) -> None:
        self.path = path
        self.outside = outside
        """A folder outside the trace holding a secret file (a target for symlinks)."""
        self.manifest_path = path / "manifest.json"
        self.manifest: dict[str, Any] = json.loads(self.manifest_path.read_text())
        self.layer = path / self.manifest["layers"][0]["file"]

    def save_manifest(self) -> None:
        self.manifest_path.write_text(json.dumps(self.manifest))

    def entry(self) -> dict[str, Any]:
        entry: dict[str, Any] = self.manifest["layers"][0]
        return entry

    def write_layer(self, data: bytes) -> None:
        """Replace the layer file and fix its size and checksum in the manifest."""
        self.layer.write_bytes(data)
        self.entry()["bytes"] = len(data)
        self.entry()["sha256"] = hashlib.sha256(data).hexdigest()
        self.save_manifest()

    def header(self) -> dict[str, Any]:
        data = self.layer.read_bytes()
        (length,) = struct.unpack("<Q", data[:8])
        header: dict[str, Any] = json.loads(data[8 : 8 + length])
        return header

    def set_header(self, raw: bytes, length: int | None = None) -> None:
        """Replace the safetensors header by ``raw`` (declared length ``length``)."""
        data = self.layer.read_bytes()
        (old,) = struct.unpack("<Q", data[:8])
        body = data[8 + old :]
        n = len(raw) if length is None else length
        self.write_layer(struct.pack("<Q", n) + raw + body)

    def edit_header(self, edit: Callable[[dict[str, Any]], None]) -> None:
        header = self.header()
        edit(header)
        self.set_header(json.dumps(header).encode())

    def secret_file(self, name: str = "secret.safetensors") -> Path:
        path = self.outside / name
        path.write_bytes(SECRET * 64)
        return path


def _symlink_layer_outside(t: Trace) -> None:
    target = t.secret_file()
    t.layer.unlink()
    t.layer.symlink_to(target)


def _symlink_layer_outside_valid(t: Trace) -> None:
    """A byte-identical copy outside the trace: still refused (the link leaves the trace)."""
    target = t.outside / "copy.safetensors"
    shutil.copyfile(t.layer, target)
    t.layer.unlink()
    t.layer.symlink_to(target)


def _symlink_layer_relative_escape(t: Trace) -> None:
    t.secret_file()
    t.layer.unlink()
    t.layer.symlink_to(Path("..") / t.outside.name / "secret.safetensors")


def _symlink_layer_dev_zero(t: Trace) -> None:
    t.layer.unlink()
    t.layer.symlink_to("/dev/zero")


def _symlink_layer_dangling(t: Trace) -> None:
    t.layer.unlink()
    t.layer.symlink_to(t.outside / "does-not-exist.safetensors")


def _symlink_manifest_outside(t: Trace) -> None:
    target = t.outside / "manifest.json"
    target.write_bytes(SECRET + t.manifest_path.read_bytes())
    t.manifest_path.unlink()
    t.manifest_path.symlink_to(target)


def _symlink_manifest_dev_zero(t: Trace) -> None:
    t.manifest_path.unlink()
    t.manifest_path.symlink_to("/dev/zero")


def _manifest_text(text: str | bytes) -> Callable[[Trace], None]:
    def mutate(t: Trace) -> None:
        if isinstance(text, str):
            t.manifest_path.write_text(text)
        else:
            t.manifest_path.write_bytes(text)

    return mutate


def _manifest_replace(old: str, new: str) -> Callable[[Trace], None]:
    def mutate(t: Trace) -> None:
        text = json.dumps(t.manifest)
        assert old in text, old
        t.manifest_path.write_text(text.replace(old, new, 1))

    return mutate


def _manifest_nested_in_source(levels: int) -> Callable[[Trace], None]:
    def mutate(t: Trace) -> None:
        text = json.dumps(t.manifest)
        t.manifest_path.write_text(
            text.replace('"source": {', '"source": {"deep": ' + "[" * levels + "]" * levels + ", ")
        )

    return mutate


def _manifest_key(key: str, value: Any) -> Callable[[Trace], None]:
    def mutate(t: Trace) -> None:
        t.manifest[key] = value
        t.save_manifest()

    return mutate


def _manifest_huge(t: Trace) -> None:
    with open(t.manifest_path, "wb") as fh:
        fh.write(b" " * (MAX_MANIFEST_BYTES + 1))


def _manifest_dir(t: Trace) -> None:
    t.manifest_path.unlink()
    t.manifest_path.mkdir()


def _manifest_missing(t: Trace) -> None:
    t.manifest_path.unlink()


def _entry(key: str, value: Any) -> Callable[[Trace], None]:
    def mutate(t: Trace) -> None:
        t.entry()[key] = value
        t.save_manifest()

    return mutate


def _layer_missing(t: Trace) -> None:
    t.layer.unlink()


def _layer_dir(t: Trace) -> None:
    t.layer.unlink()
    t.layer.mkdir()


def _layer_fifo(t: Trace) -> None:
    t.layer.unlink()
    os.mkfifo(t.layer)


def _layer_tiny(t: Trace) -> None:
    t.write_layer(b"\x01\x02\x03")


def _header(raw: bytes, length: int | None = None) -> Callable[[Trace], None]:
    return lambda t: t.set_header(raw, length)


def _header_edit(edit: Callable[[dict[str, Any]], None]) -> Callable[[Trace], None]:
    return lambda t: t.edit_header(edit)


def _set_x(key: str, value: Any) -> Callable[[dict[str, Any]], None]:
    return lambda h: h["x"].__setitem__(key, value)


def _header_raw_edit(old: bytes, new: bytes) -> Callable[[Trace], None]:
    def mutate(t: Trace) -> None:
        raw = json.dumps(t.header()).encode()
        assert old in raw, old
        t.set_header(raw.replace(old, new, 1))

    return mutate


def _header_over_limit(t: Trace) -> None:
    """A header longer than the limit but inside the file (padded with spaces, valid JSON)."""
    raw = json.dumps(t.header()).encode()
    t.set_header(raw + b" " * (MAX_HEADER_BYTES + 1 - len(raw)))


def _header_dup_key(t: Trace) -> None:
    raw = json.dumps(t.header()).encode()
    t.set_header(raw[:-1] + b', "x": {"dtype": "F16", "shape": [1], "data_offsets": [0, 2]}}')


def _trace_is_file(t: Trace) -> None:
    shutil.rmtree(t.path)
    t.path.write_text("not a directory\n")


LAYER_FIELD = "layers[0].file"

# name -> (mutation, file the error names: "manifest" / "layer" / "trace", field or None, says)
TRACE_CASES: dict[str, tuple[Callable[[Trace], None], str, str | None, str]] = {
    # symbolic links out of the trace directory: refused before anything is opened
    "layer-symlink-outside": (_symlink_layer_outside, "layer", LAYER_FIELD, "outside the trace"),
    "layer-symlink-outside-valid": (
        _symlink_layer_outside_valid, "layer", LAYER_FIELD, "outside the trace",
    ),
    "layer-symlink-relative-escape": (
        _symlink_layer_relative_escape, "layer", LAYER_FIELD, "outside the trace",
    ),
    "layer-symlink-dev-zero": (_symlink_layer_dev_zero, "layer", LAYER_FIELD, "outside the trace"),
    "layer-symlink-dangling": (_symlink_layer_dangling, "layer", LAYER_FIELD, "symbolic link"),
    "manifest-symlink-outside": (
        _symlink_manifest_outside, "manifest", None, "outside the trace",
    ),
    "manifest-symlink-dev-zero": (
        _symlink_manifest_dev_zero, "manifest", None, "outside the trace",
    ),
    # the manifest: nesting, size, strict JSON
    "manifest-nested-100000": (
        _manifest_text("[" * 100_000 + "]" * 100_000), "manifest", None, "levels deep",
    ),
    "manifest-nested-in-source": (
        _manifest_nested_in_source(100_000), "manifest", None, "levels deep",
    ),
    "manifest-nested-just-over": (
        _manifest_nested_in_source(MAX_JSON_DEPTH + 1), "manifest", None, "levels deep",
    ),
    "manifest-huge": (_manifest_huge, "manifest", None, "byte limit"),
    "manifest-nan": (_manifest_replace('"tokens": 8', '"tokens": NaN'), "manifest", None, "NaN"),
    "manifest-infinity": (
        _manifest_replace('"tokens": 8', '"tokens": -Infinity'), "manifest", None, "Infinity",
    ),
    "manifest-duplicate-key": (
        _manifest_replace('"tokens": 8', '"tokens": 8, "tokens": 9'), "manifest", None,
        "duplicate key 'tokens'",
    ),
    "manifest-5000-digit-int": (
        _manifest_replace('"tokens": 8', '"tokens": ' + "9" * 5000), "manifest", None, "digits",
    ),
    "manifest-non-utf8": (_manifest_text(b'\xff\xfe{"a": 1}'), "manifest", None, "UTF-8"),
    "manifest-empty": (_manifest_text(""), "manifest", None, "not valid JSON"),
    "manifest-binary": (_manifest_text(bytes(range(256))), "manifest", None, "manifest"),
    "manifest-top-level-list": (_manifest_text("[1, 2]"), "manifest", None, "JSON object"),
    "manifest-is-directory": (_manifest_dir, "manifest", None, "directory"),
    "manifest-missing": (_manifest_missing, "manifest", None, "no manifest.json"),
    "manifest-tokens-bool": (_manifest_replace('"tokens": 8', '"tokens": true'), "manifest",
                             "tokens", "expected int"),
    "manifest-no-layers": (_manifest_key("layers", []), "manifest", "layers", "at least one"),
    "manifest-unknown-key": (_manifest_key("extra", 1), "manifest", "extra", "unknown field"),
    # layer file names that leave the trace directory
    "layer-name-dotdot": (_entry("file", "../x.safetensors"), "manifest", LAYER_FIELD, "plain"),
    "layer-name-absolute": (
        _entry("file", "/etc/passwd.safetensors"), "manifest", LAYER_FIELD, "plain",
    ),
    "layer-name-subdir": (_entry("file", "sub/x.safetensors"), "manifest", LAYER_FIELD, "plain"),
    "layer-name-nul": (_entry("file", "a\x00.safetensors"), "manifest", LAYER_FIELD, "plain"),
    "layer-name-huge": (
        _entry("file", "a" * 1_000_000 + ".safetensors"), "manifest", LAYER_FIELD, "…",
    ),
    "layer-name-not-string": (_entry("file", ["x"]), "manifest", LAYER_FIELD, "expected str"),
    # the layer file itself
    "layer-missing": (_layer_missing, "layer", LAYER_FIELD, "missing"),
    "layer-is-directory": (_layer_dir, "layer", LAYER_FIELD, "directory"),
    "layer-is-fifo": (_layer_fifo, "layer", LAYER_FIELD, "not a regular file"),
    "layer-too-short": (_layer_tiny, "layer", "header", "too short"),
    "layer-size-disagrees": (_entry("bytes", 1), "layer", "layers[0].bytes", "manifest says"),
    # safetensors headers that lie
    "header-length-absurd": (_header(b"{}", length=2**63), "layer", "header", "exceeds"),
    "header-length-over-limit": (_header_over_limit, "layer", "header", "byte limit"),
    "header-nested-50000": (_header(b"[" * 50_000 + b"]" * 50_000), "layer", "header", "levels"),
    "header-nested-in-object": (
        _header(b'{"x": ' + b"[" * 50_000 + b"]" * 50_000 + b"}"), "layer", "header", "levels",
    ),
    "header-nested-just-over": (
        _header(b'{"x": ' + b"[" * MAX_JSON_DEPTH + b"]" * MAX_JSON_DEPTH + b"}"),
        "layer", "header", "levels",
    ),
    "header-not-object": (_header(b"[1, 2]"), "layer", "header", "not a JSON object"),
    "header-string": (_header(b'"x"'), "layer", "header", "not a JSON object"),
    "header-not-json": (_header(b"{not json"), "layer", "header", "not valid JSON"),
    "header-not-utf8": (_header(b'{"\xff": 1}'), "layer", "header", "UTF-8"),
    "header-duplicate-key": (_header_dup_key, "layer", "header", "duplicate key 'x'"),
    "header-nan": (
        _header_raw_edit(b'"data_offsets": [0', b'"data_offsets": [NaN'), "layer", "header",
        "NaN",
    ),
    "header-entry-not-object": (_header_edit(lambda h: h.__setitem__("x", 3)), "layer", "x",
                                "not an object"),
    "offsets-out-of-range": (
        _header_edit(_set_x("data_offsets", [0, 10**12])), "layer", "x", "outside",
    ),
    "offsets-negative": (_header_edit(_set_x("data_offsets", [-5, 10])), "layer", "x", "outside"),
    "offsets-reversed": (_header_edit(_set_x("data_offsets", [10, 0])), "layer", "x", "outside"),
    "offsets-not-list": (
        _header_edit(_set_x("data_offsets", "0-10")), "layer", "x", "data_offsets",
    ),
    "offsets-bool": (
        _header_edit(_set_x("data_offsets", [False, True])), "layer", "x", "data_offsets",
    ),
    "offsets-three": (
        _header_edit(_set_x("data_offsets", [0, 1, 2])), "layer", "x", "data_offsets",
    ),
    "dtype-unknown": (_header_edit(_set_x("dtype", "F8_E4M3")), "layer", "x", "unsupported dtype"),
    "dtype-not-string": (_header_edit(_set_x("dtype", [1])), "layer", "x", "unsupported dtype"),
    "dtype-huge": (_header_edit(_set_x("dtype", "F" * 100_000)), "layer", "x", "…"),
    "shape-product-overflow": (
        _header_edit(_set_x("shape", [2**40, 2**40, 2**40])), "layer", "x", "needs more than",
    ),
    "shape-negative": (_header_edit(_set_x("shape", [-8, 64])), "layer", "x", "non-negative"),
    "shape-rank-too-high": (
        _header_edit(_set_x("shape", [1] * (MAX_TENSOR_RANK + 1))), "layer", "x", "dimensions",
    ),
    "shape-5000-digit-dim": (
        _header_raw_edit(b'"shape": [8', b'"shape": [' + b"9" * 5000), "layer", "header",
        "digits",
    ),
    "shape-not-list": (_header_edit(_set_x("shape", "8x64")), "layer", "x", "shape"),
    "shape-float": (_header_edit(_set_x("shape", [8.0, 64])), "layer", "x", "shape"),
    "shape-disagrees": (_header_edit(_set_x("shape", [4, 128])), "layer", "x", "manifest says"),
    "trace-is-a-file": (_trace_is_file, "trace", None, "not a directory"),
}


# --------------------------------------------------------------------------------------------
# Fixtures
# --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def master_trace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("hostile-trace") / "gemm"
    assert main(["synth", "--gemm", GEMM, "--out", str(out)]) == 0
    return out


@pytest.fixture(scope="module")
def master_run(tmp_path_factory: pytest.TempPathFactory, master_trace: Path) -> Path:
    out = tmp_path_factory.mktemp("hostile-trace-run") / "run"
    args = ["simulate", "--hw", "spikequant-45nm", "--trace", str(master_trace), "--out", str(out)]
    assert main([*args, "--quiet", "--no-figures"]) == 0
    return out


@pytest.fixture
def trace(master_trace: Path, tmp_path: Path) -> Trace:
    """A private copy of the tiny trace, next to a folder of secrets outside it."""
    path = tmp_path / "trace"
    shutil.copytree(master_trace, path)
    outside = tmp_path / "secretdir"
    outside.mkdir()
    return Trace(path, outside)


@pytest.fixture
def existing_run(master_run: Path, tmp_path: Path) -> Path:
    out = tmp_path / "runs" / "run"
    shutil.copytree(master_run, out)
    (out / "sentinel.txt").write_text("keep me\n")
    return out


@pytest.fixture
def opened(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every path opened (builtins.open, io.open, os.open) while the test runs, resolved."""
    seen: list[str] = []
    real_open, real_io_open, real_os_open = builtins.open, io.open, os.open

    def note(file: Any) -> None:
        if isinstance(file, str | bytes | os.PathLike):
            seen.append(os.path.realpath(os.fsdecode(file)))

    def patched_open(file: Any, *args: Any, **kwargs: Any) -> Any:
        note(file)
        return real_open(file, *args, **kwargs)

    def patched_io_open(file: Any, *args: Any, **kwargs: Any) -> Any:
        note(file)
        return real_io_open(file, *args, **kwargs)

    def patched_os_open(path: Any, *args: Any, **kwargs: Any) -> Any:
        note(path)
        return real_os_open(path, *args, **kwargs)

    monkeypatch.setattr(builtins, "open", patched_open)
    monkeypatch.setattr(io, "open", patched_io_open)
    monkeypatch.setattr(os, "open", patched_os_open)
    return seen


# --------------------------------------------------------------------------------------------
# Tests
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", list(TRACE_CASES))
def test_bad_trace_is_one_error(
    name: str,
    trace: Trace,
    existing_run: Path,
    capsys: pytest.CaptureFixture[str],
    request: pytest.FixtureRequest,
) -> None:
    mutate, names, field, says = TRACE_CASES[name]
    mutate(trace)
    file = {"manifest": trace.manifest_path, "layer": trace.layer, "trace": trace.path}[names]
    opened: list[str] = request.getfixturevalue("opened")
    needles = [str(file), says] + ([f"field '{field}'"] if field else [])
    # one error line, the existing run untouched
    err = refused_by_simulate(capsys, "spikequant-45nm", trace.path, existing_run, *needles)
    # nothing from outside the trace: no byte of it in the message, no file of it opened
    assert SECRET.decode() not in err
    assert "secretdir" not in err
    outside = os.path.realpath(trace.outside)
    assert not [p for p in opened if p.startswith(outside + os.sep)], opened
    assert "/dev/zero" not in opened


def test_symlink_inside_the_trace_is_fine(trace: Trace) -> None:
    """A layer file that links to another file inside the trace directory still loads."""
    real = trace.path / "real.bin"
    os.rename(trace.layer, real)
    trace.layer.symlink_to(real.name)
    loaded = load_trace(trace.path)
    assert loaded.layers[0].activations().shape == (8, 64)


def test_trace_dir_through_a_symlink_is_fine(trace: Trace, tmp_path: Path) -> None:
    """The trace directory itself may be reached through a link (its files are inside it)."""
    link = tmp_path / "linked-trace"
    link.symlink_to(trace.path)
    assert load_trace(link).layers[0].weights().shape == (40, 64)


# --- synth: requests too big for memory are refused up front, naming the flag --------------------

SYNTH_CASES: dict[str, tuple[list[str], str, str]] = {
    "shape-tokens-million": (
        ["--shape", "llama2-7b", "--tokens", "1000000"], "--tokens", "elements",
    ),
    "shape-tokens-just-over": (
        ["--shape", "llama2-7b", "--tokens", str(MAX_TENSOR_ELEMENTS // 11008 + 1)], "--tokens",
        "elements",
    ),
    "gemm-x-too-big": (["--gemm", "100000,100000,1"], "--gemm", "x of layer 'gemm'"),
    "gemm-w-too-big": (["--gemm", "1,100000,100000"], "--gemm", "w of layer 'gemm'"),
    "gemm-huge-digits": (["--gemm", "1,1," + "9" * 5000], "--gemm", "…"),
    "gemm-not-numbers": (["--gemm", "a,b,c"], "--gemm", "three positive integers"),
    "seed-too-big": (["--gemm", GEMM, "--seed", str(2**64)], "--seed", "2^64-1"),
    "tokens-zero": (["--shape", "smollm2-135m", "--tokens", "0"], "--tokens", "positive"),
    "layers-too-many": (["--shape", "smollm2-135m", "--layers", "31"], "--layers", "blocks"),
}


@pytest.mark.parametrize("name", list(SYNTH_CASES))
def test_synth_refuses_up_front(
    name: str, master_trace: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args, flag, says = SYNTH_CASES[name]
    out = tmp_path / "traces" / "existing"
    shutil.copytree(master_trace, out)
    before = snapshot(out)
    hidden = hidden_siblings(out)
    code, _, err = run(capsys, "synth", *args, "--out", out)
    assert_one_error(code, err, f"field '{flag}'", says)
    assert snapshot(out) == before
    assert hidden_siblings(out) == hidden


def test_synth_limit_boundary() -> None:
    """The largest llama2-7b request is accepted (arguments only: nothing is generated)."""
    most = MAX_TENSOR_ELEMENTS // 11008
    assert most >= 2048  # the README's llama2-7b example stays well inside the limit
    synth_layers(shape="llama2-7b", tokens=most)  # validated, not generated

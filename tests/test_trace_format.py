"""Trace directory format: round trip, validation of every bad input, atomic writes."""

from __future__ import annotations

import hashlib
import io
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from safetensors.numpy import save_file

from spikesim.errors import InputError
from spikesim.trace import LayerTensors, Trace, load_trace, synth_trace, write_trace
from spikesim.trace import format as tformat

SOURCE = {"kind": "synthetic", "seed": 0, "command": "pytest"}


def make_layer(
    name: str, m: int = 4, k: int = 8, n: int = 6, seed: int = 0, dtype: str = "float16"
) -> LayerTensors:
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((m, k)).astype(dtype)
    w = rng.standard_normal((n, k)).astype(dtype)
    return LayerTensors(
        name=name,
        op=name.rsplit(".", 1)[-1],
        tensors={
            "x": x,
            "w": w,
            "w_q": rng.integers(-8, 8, size=(n, k), dtype=np.int8),
            "w_scale": rng.random(n, dtype=np.float32),
            "x_q": rng.integers(-128, 128, size=(m, k), dtype=np.int16),
            "x_scale": rng.random(m, dtype=np.float32),
            "salient": (rng.random((m, k)) < 0.1).astype(np.uint8),
        },
    )


def make_trace(path: Path, n_layers: int = 3, seed: int = 0) -> Trace:
    layers = [make_layer(f"layers.{i}.mlp.up_proj", seed=seed + i) for i in range(n_layers)]
    return write_trace(path, name=path.name, source=SOURCE, layers=layers)


def read_manifest(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((path / "manifest.json").read_text())
    return data


def write_manifest(path: Path, data: dict[str, Any]) -> None:
    (path / "manifest.json").write_text(json.dumps(data, indent=2))


def rewrite_layer(path: Path, index: int, tensors: dict[str, np.ndarray]) -> Path:
    """Replace layer ``index``'s file with ``tensors`` and make the manifest agree with it."""
    data = read_manifest(path)
    entry = data["layers"][index]
    file = path / entry["file"]
    save_file(tensors, str(file))
    entry["bytes"] = file.stat().st_size
    entry["sha256"] = hashlib.sha256(file.read_bytes()).hexdigest()
    entry["tensors"] = {
        t: {"dtype": a.dtype.name, "shape": list(a.shape)} for t, a in tensors.items()
    }
    write_manifest(path, data)
    return file


def load_everything(path: Path) -> None:
    """Load a trace and touch every tensor of every layer."""
    trace = load_trace(path)
    for layer in trace.layers:
        for name in layer.tensor_names():
            layer.tensor(name)
        layer.activations()
        layer.weights()


def raises_input_error(path: Path, *, file: Path | str, field: str | None) -> InputError:
    with pytest.raises(InputError) as info:
        load_everything(path)
    err = info.value
    assert err.file == str(file)
    assert err.field == field
    assert "\n" not in err.one_line()
    return err


def siblings(path: Path) -> list[str]:
    return sorted(p.name for p in path.parent.iterdir())


# --------------------------------------------------------------------------------------------
# Round trip
# --------------------------------------------------------------------------------------------


def test_round_trip_identical_arrays_read_only_memmap(tmp_path: Path) -> None:
    layers = [make_layer(f"layers.{i}.self_attn.q_proj", seed=i) for i in range(3)]
    trace = write_trace(tmp_path / "t", name="t", source=SOURCE, layers=layers)
    again = load_trace(tmp_path / "t")
    assert again == trace
    assert trace.name == "t"
    assert trace.tokens == 4
    assert trace.schema_version == 1
    assert trace.source == SOURCE
    assert [lay.name for lay in trace.layers] == [lay.name for lay in layers]
    for written, layer in zip(layers, trace.layers, strict=True):
        assert (layer.tokens, layer.k, layer.n) == (4, 8, 6)
        assert layer.op == "q_proj"
        assert layer.tensor_names() == tuple(written.tensors)
        for name, expected in written.tensors.items():
            got = layer.tensor(name)
            assert isinstance(got, np.memmap)
            assert not got.flags.writeable
            with pytest.raises(ValueError, match="read-only"):
                got[...] = 0
            assert got.dtype == expected.dtype
            np.testing.assert_array_equal(got, expected)
        x = layer.activations()
        assert x.dtype == np.float32
        np.testing.assert_array_equal(x, written.tensors["x"].astype(np.float32))
        np.testing.assert_array_equal(layer.weights(), written.tensors["w"].astype(np.float32))
    assert trace.layer("layers.1.self_attn.q_proj") is trace.layers[1]


def test_manifest_contents(tmp_path: Path) -> None:
    trace = make_trace(tmp_path / "t", n_layers=2)
    text = (tmp_path / "t" / "manifest.json").read_text()
    assert text.startswith('{\n  "schema_version": 1,\n  "name": "t"')
    data = json.loads(text)
    assert list(data) == ["schema_version", "name", "tokens", "source", "layers"]
    entry = data["layers"][1]
    assert entry["file"] == "001_layers.1.mlp.up_proj.safetensors"
    file = tmp_path / "t" / entry["file"]
    assert entry["bytes"] == file.stat().st_size
    assert entry["sha256"] == hashlib.sha256(file.read_bytes()).hexdigest()
    assert entry["tensors"]["x"] == {"dtype": "float16", "shape": [4, 8]}
    assert entry["tensors"]["w_q"] == {"dtype": "int8", "shape": [6, 8]}
    assert trace.layers[1].sha256 == entry["sha256"]
    assert trace.layers[1].size_bytes == entry["bytes"]


@settings(max_examples=25, deadline=None)
@given(
    m=st.integers(1, 7),
    k=st.integers(1, 9),
    n=st.integers(1, 5),
    dtype=st.sampled_from(["float16", "float32"]),
    n_layers=st.integers(1, 3),
    seed=st.integers(0, 2**16),
)
def test_round_trip_property(m: int, k: int, n: int, dtype: str, n_layers: int, seed: int) -> None:
    layers = [make_layer(f"l{i}", m, k, n, seed + i, dtype) for i in range(n_layers)]
    with tempfile.TemporaryDirectory() as tmp:
        trace = write_trace(Path(tmp) / "t", name="t", source={}, layers=iter(layers))
        for written, layer in zip(layers, load_trace(Path(tmp) / "t").layers, strict=True):
            for name, expected in written.tensors.items():
                np.testing.assert_array_equal(layer.tensor(name), expected)
        assert len(trace.layers) == n_layers


def test_non_contiguous_and_big_endian_inputs_round_trip(tmp_path: Path) -> None:
    base = np.arange(48, dtype=np.float32).reshape(4, 12)
    x = base[:, ::2]  # non-contiguous view [4, 6]
    w = np.arange(18, dtype=">f4").reshape(3, 6)  # big-endian
    layer = LayerTensors("g", "gemm", {"x": x, "w": w})
    trace = write_trace(tmp_path / "t", name="t", source={}, layers=[layer])
    np.testing.assert_array_equal(trace.layers[0].activations(), x)
    np.testing.assert_array_equal(trace.layers[0].weights(), w.astype(np.float32))


def test_checksum_is_verified_once_per_process(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_trace(tmp_path / "t", n_layers=2)
    calls: list[int] = []
    real = tformat._sha256_open

    def counting(fh: io.FileIO) -> str:
        calls.append(os.fstat(fh.fileno()).st_ino)
        return real(fh)

    monkeypatch.setattr(tformat, "_sha256_open", counting)
    trace = load_trace(tmp_path / "t")
    assert calls == []  # loading hashes nothing
    layer = trace.layers[0]
    layer.tensor("x")
    layer.tensor("w")
    layer.activations()
    load_trace(tmp_path / "t").layers[0].weights()
    assert calls == [layer.file.stat().st_ino]


def test_unknown_layer_and_tensor_names(tmp_path: Path) -> None:
    trace = make_trace(tmp_path / "t", n_layers=1)
    with pytest.raises(InputError) as info:
        trace.layer("nope")
    assert info.value.field == "layers"
    assert info.value.file == str(tmp_path / "t" / "manifest.json")
    with pytest.raises(InputError) as info:
        trace.layers[0].tensor("nope")
    assert info.value.field == "nope"
    assert info.value.file == str(trace.layers[0].file)


# --------------------------------------------------------------------------------------------
# Bad traces: every one an InputError naming file and field
# --------------------------------------------------------------------------------------------


def test_missing_directory(tmp_path: Path) -> None:
    raises_input_error(tmp_path / "absent", file=tmp_path / "absent", field=None)


def test_path_is_a_file(tmp_path: Path) -> None:
    (tmp_path / "f").write_text("hi")
    raises_input_error(tmp_path / "f", file=tmp_path / "f", field=None)


def test_missing_manifest(tmp_path: Path) -> None:
    (tmp_path / "t").mkdir()
    raises_input_error(tmp_path / "t", file=tmp_path / "t" / "manifest.json", field=None)


def test_malformed_json(tmp_path: Path) -> None:
    make_trace(tmp_path / "t")
    (tmp_path / "t" / "manifest.json").write_text('{"schema_version": 1, "name": ')
    err = raises_input_error(tmp_path / "t", file=tmp_path / "t" / "manifest.json", field=None)
    assert "not valid JSON" in err.message


def test_manifest_not_an_object(tmp_path: Path) -> None:
    make_trace(tmp_path / "t")
    (tmp_path / "t" / "manifest.json").write_text("[1, 2]")
    raises_input_error(tmp_path / "t", file=tmp_path / "t" / "manifest.json", field=None)


@pytest.mark.parametrize("version", [2, 0, "1", None, True])
def test_wrong_schema_version(tmp_path: Path, version: Any) -> None:
    make_trace(tmp_path / "t")
    data = read_manifest(tmp_path / "t")
    data["schema_version"] = version
    write_manifest(tmp_path / "t", data)
    raises_input_error(
        tmp_path / "t", file=tmp_path / "t" / "manifest.json", field="schema_version"
    )


@pytest.mark.parametrize(
    "field_path",
    [
        "schema_version",
        "name",
        "tokens",
        "source",
        "layers",
        "layers.1.name",
        "layers.1.op",
        "layers.1.file",
        "layers.1.tokens",
        "layers.1.k",
        "layers.1.n",
        "layers.1.sha256",
        "layers.1.bytes",
        "layers.1.tensors",
        "layers.1.tensors.x",
        "layers.1.tensors.w",
        "layers.1.tensors.x.dtype",
        "layers.1.tensors.w.shape",
    ],
)
def test_missing_field(tmp_path: Path, field_path: str) -> None:
    make_trace(tmp_path / "t")
    data = read_manifest(tmp_path / "t")
    *parents, last = field_path.split(".")
    node: Any = data
    for part in parents:
        node = node[int(part)] if part.isdigit() else node[part]
    del node[last]
    write_manifest(tmp_path / "t", data)
    expected = field_path.replace("layers.1", "layers[1]")
    raises_input_error(tmp_path / "t", file=tmp_path / "t" / "manifest.json", field=expected)


@pytest.mark.parametrize(
    ("field_path", "value"),
    [
        ("name", 3),
        ("tokens", "4"),
        ("tokens", 0),
        ("tokens", 4.0),
        ("source", []),
        ("layers", {}),
        ("layers", []),
        ("layers.0.k", True),
        ("layers.0.n", -6),
        ("layers.0.sha256", "abc"),
        ("layers.0.bytes", "12"),
        ("layers.0.file", "../elsewhere.safetensors"),
        ("layers.0.file", "000.bin"),
        ("layers.0.tensors.x.shape", [4, "8"]),
        ("layers.0.tensors.x.dtype", "bfloat16"),
        ("layers.0.tensors.x.dtype", "int8"),
        ("layers.0.extra", 1),
        ("extra", 1),
    ],
)
def test_wrong_field_value(tmp_path: Path, field_path: str, value: Any) -> None:
    make_trace(tmp_path / "t")
    data = read_manifest(tmp_path / "t")
    *parents, last = field_path.split(".")
    node: Any = data
    for part in parents:
        node = node[int(part)] if part.isdigit() else node[part]
    node[last] = value
    write_manifest(tmp_path / "t", data)
    expected = field_path.replace("layers.0", "layers[0]")
    raises_input_error(tmp_path / "t", file=tmp_path / "t" / "manifest.json", field=expected)


def test_layer_tokens_disagree_with_trace(tmp_path: Path) -> None:
    make_trace(tmp_path / "t")
    data = read_manifest(tmp_path / "t")
    data["tokens"] = 5
    write_manifest(tmp_path / "t", data)
    raises_input_error(
        tmp_path / "t", file=tmp_path / "t" / "manifest.json", field="layers[0].tokens"
    )


def test_duplicate_layer_name(tmp_path: Path) -> None:
    make_trace(tmp_path / "t")
    data = read_manifest(tmp_path / "t")
    data["layers"][2]["name"] = data["layers"][0]["name"]
    write_manifest(tmp_path / "t", data)
    raises_input_error(
        tmp_path / "t", file=tmp_path / "t" / "manifest.json", field="layers[2].name"
    )


def test_missing_layer_file(tmp_path: Path) -> None:
    trace = make_trace(tmp_path / "t")
    trace.layers[1].file.unlink()
    raises_input_error(tmp_path / "t", file=trace.layers[1].file, field="layers[1].file")


def test_truncated_layer_file(tmp_path: Path) -> None:
    trace = make_trace(tmp_path / "t")
    file = trace.layers[2].file
    file.write_bytes(file.read_bytes()[:-5])
    raises_input_error(tmp_path / "t", file=file, field="layers[2].bytes")


def test_truncated_layer_file_with_matching_manifest_size(tmp_path: Path) -> None:
    """A truncated file whose size the manifest agrees with fails on its header offsets."""
    trace = make_trace(tmp_path / "t")
    file = trace.layers[0].file
    file.write_bytes(file.read_bytes()[:-5])
    data = read_manifest(tmp_path / "t")
    data["layers"][0]["bytes"] = file.stat().st_size
    write_manifest(tmp_path / "t", data)
    with pytest.raises(InputError) as info:
        load_trace(tmp_path / "t")
    assert info.value.file == str(file)
    assert info.value.field in trace.layers[0].tensor_names()
    assert "outside" in info.value.message


def test_layer_file_cut_to_a_few_bytes(tmp_path: Path) -> None:
    trace = make_trace(tmp_path / "t")
    file = trace.layers[0].file
    for size in (20, 3):
        file.write_bytes(file.read_bytes()[:size])
        data = read_manifest(tmp_path / "t")
        data["layers"][0]["bytes"] = size
        write_manifest(tmp_path / "t", data)
        raises_input_error(tmp_path / "t", file=file, field="header")


def test_garbage_header(tmp_path: Path) -> None:
    trace = make_trace(tmp_path / "t")
    file = trace.layers[0].file
    raw = bytearray(file.read_bytes())
    raw[8:12] = b"\xff\xfe{["
    file.write_bytes(bytes(raw))
    raises_input_error(tmp_path / "t", file=file, field="header")


def test_size_mismatch(tmp_path: Path) -> None:
    trace = make_trace(tmp_path / "t")
    file = trace.layers[1].file
    with open(file, "ab") as fh:
        fh.write(b"\0" * 16)
    raises_input_error(tmp_path / "t", file=file, field="layers[1].bytes")


def test_checksum_mismatch(tmp_path: Path) -> None:
    trace = make_trace(tmp_path / "t")
    file = trace.layers[1].file
    raw = bytearray(file.read_bytes())
    raw[-1] ^= 0x01  # last byte of the data region; size unchanged
    file.write_bytes(bytes(raw))
    loaded = load_trace(tmp_path / "t")  # loading reads no data, so it succeeds
    loaded.layers[0].tensor("x")
    with pytest.raises(InputError) as info:
        loaded.layers[1].tensor("x")
    assert info.value.file == str(file)
    assert info.value.field == "sha256"
    assert "checksum mismatch" in info.value.message


def test_wrong_shape_in_manifest(tmp_path: Path) -> None:
    make_trace(tmp_path / "t")
    data = read_manifest(tmp_path / "t")
    data["layers"][0]["k"] = 9
    write_manifest(tmp_path / "t", data)
    raises_input_error(
        tmp_path / "t", file=tmp_path / "t" / "manifest.json", field="layers[0].tensors.x.shape"
    )


def test_manifest_shape_disagrees_with_file(tmp_path: Path) -> None:
    trace = make_trace(tmp_path / "t")
    data = read_manifest(tmp_path / "t")
    entry = data["layers"][0]
    entry["k"] = 9
    entry["tensors"]["x"]["shape"] = [4, 9]
    entry["tensors"]["w"]["shape"] = [6, 9]
    write_manifest(tmp_path / "t", data)
    raises_input_error(tmp_path / "t", file=trace.layers[0].file, field="w")


def test_manifest_dtype_disagrees_with_file(tmp_path: Path) -> None:
    trace = make_trace(tmp_path / "t")
    data = read_manifest(tmp_path / "t")
    data["layers"][0]["tensors"]["w_q"]["dtype"] = "uint8"
    write_manifest(tmp_path / "t", data)
    raises_input_error(tmp_path / "t", file=trace.layers[0].file, field="w_q")


def test_tensor_missing_from_manifest_or_file(tmp_path: Path) -> None:
    trace = make_trace(tmp_path / "t")
    data = read_manifest(tmp_path / "t")
    del data["layers"][0]["tensors"]["salient"]
    write_manifest(tmp_path / "t", data)
    raises_input_error(tmp_path / "t", file=trace.layers[0].file, field="salient")
    data["layers"][0]["tensors"]["salient"] = {"dtype": "uint8", "shape": [4, 8]}
    data["layers"][0]["tensors"]["extra"] = {"dtype": "uint8", "shape": [4, 8]}
    write_manifest(tmp_path / "t", data)
    raises_input_error(tmp_path / "t", file=trace.layers[0].file, field="extra")


def test_nan_in_x(tmp_path: Path) -> None:
    make_trace(tmp_path / "t")
    x = np.ones((4, 8), np.float16)
    x[2, 3] = np.nan
    file = rewrite_layer(tmp_path / "t", 1, {"x": x, "w": np.ones((6, 8), np.float16)})
    trace = load_trace(tmp_path / "t")
    trace.layers[1].weights()
    assert np.isnan(trace.layers[1].tensor("x")[2, 3])  # raw access is allowed
    with pytest.raises(InputError) as info:
        trace.layers[1].activations()
    assert (info.value.file, info.value.field) == (str(file), "x")
    assert "[2, 3]" in info.value.message


def test_inf_in_w(tmp_path: Path) -> None:
    make_trace(tmp_path / "t")
    w = np.ones((6, 8), np.float32)
    w[5, 0] = -np.inf
    file = rewrite_layer(tmp_path / "t", 0, {"x": np.ones((4, 8), np.float32), "w": w})
    trace = load_trace(tmp_path / "t")
    trace.layers[0].activations()
    with pytest.raises(InputError) as info:
        trace.layers[0].weights()
    assert (info.value.file, info.value.field) == (str(file), "w")


def test_file_modified_after_loading(tmp_path: Path) -> None:
    trace = make_trace(tmp_path / "t")
    with open(trace.layers[0].file, "ab") as fh:
        fh.write(b"\0")
    with pytest.raises(InputError) as info:
        trace.layers[0].tensor("x")
    assert info.value.file == str(trace.layers[0].file)


# --------------------------------------------------------------------------------------------
# Writing: validation and atomicity
# --------------------------------------------------------------------------------------------


def test_write_rejects_bad_layers(tmp_path: Path) -> None:
    x = np.ones((4, 8), np.float16)
    w = np.ones((6, 8), np.float16)
    cases: list[tuple[list[LayerTensors], str]] = [
        ([LayerTensors("a", "a", {"x": x})], "a"),
        ([LayerTensors("a", "a", {"x": x, "w": w[:, :7]})], "a.w"),
        ([LayerTensors("a", "a", {"x": x.astype(np.int8), "w": w})], "a.x"),
        ([LayerTensors("a", "a", {"x": x[0], "w": w})], "a.x"),
        ([LayerTensors("a", "a", {"x": x * np.nan, "w": w})], "a.x"),
        ([LayerTensors("a", "a", {"x": x, "w": w, "bad name": w})], "a.bad name"),
        ([LayerTensors("a", "a", {"x": x, "w": w, "c": w.astype(np.complex64)})], "a.c"),
        (
            [LayerTensors("a", "a", {"x": x, "w": w}), LayerTensors("a", "a", {"x": x, "w": w})],
            "layers[1]",
        ),
        (
            [
                LayerTensors("a", "a", {"x": x, "w": w}),
                LayerTensors("b", "b", {"x": x[:3], "w": w}),
            ],
            "b.x",
        ),
        ([], "layers"),
    ]
    for layers, field in cases:
        with pytest.raises(InputError) as info:
            write_trace(tmp_path / "t", name="t", source={}, layers=layers)
        assert info.value.field == field
        assert siblings(tmp_path / "t") == []
    with pytest.raises(InputError) as info:
        write_trace(tmp_path / "t", name="t", source={"f": object()}, layers=[])
    assert info.value.field == "source"


def test_write_refuses_to_clobber_non_trace(tmp_path: Path) -> None:
    (tmp_path / "dir").mkdir()
    (tmp_path / "dir" / "precious.txt").write_text("keep me")
    (tmp_path / "file").write_text("keep me")
    for target in (tmp_path / "dir", tmp_path / "file"):
        with pytest.raises(InputError) as info:
            make_trace(target)
        assert info.value.file == str(target)
    assert (tmp_path / "dir" / "precious.txt").read_text() == "keep me"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dir", "file"]


def test_write_into_empty_dir_and_new_parents(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    make_trace(tmp_path / "empty")
    load_trace(tmp_path / "empty")
    make_trace(tmp_path / "a" / "b" / "c")
    load_trace(tmp_path / "a" / "b" / "c")


def test_overwrite_existing_trace(tmp_path: Path) -> None:
    make_trace(tmp_path / "t", n_layers=3, seed=0)
    new = make_trace(tmp_path / "t", n_layers=1, seed=10)
    assert len(load_trace(tmp_path / "t").layers) == 1
    np.testing.assert_array_equal(new.layers[0].tensor("x"), make_layer("l", seed=10).tensors["x"])
    assert sorted(p.name for p in (tmp_path / "t").iterdir()) == [
        "000_layers.0.mlp.up_proj.safetensors",
        "manifest.json",
    ]
    assert siblings(tmp_path / "t") == ["t"]


def test_failed_write_leaves_old_trace_intact(tmp_path: Path) -> None:
    old = make_trace(tmp_path / "t", n_layers=2, seed=0)
    old_manifest = (tmp_path / "t" / "manifest.json").read_bytes()
    old_x = np.array(old.layers[0].tensor("x"))

    def failing() -> Iterator[LayerTensors]:
        yield make_layer("new.0", seed=99)
        raise RuntimeError("generator died")

    with pytest.raises(RuntimeError, match="generator died"):
        write_trace(tmp_path / "t", name="t", source={}, layers=failing())
    assert siblings(tmp_path / "t") == ["t"]
    assert (tmp_path / "t" / "manifest.json").read_bytes() == old_manifest
    again = load_trace(tmp_path / "t")
    np.testing.assert_array_equal(again.layers[0].tensor("x"), old_x)
    again.layers[1].activations()


def test_failed_first_write_leaves_nothing(tmp_path: Path) -> None:
    def failing() -> Iterator[LayerTensors]:
        yield make_layer("new.0")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        write_trace(tmp_path / "t", name="t", source={}, layers=failing())
    assert list(tmp_path.iterdir()) == []


def test_write_is_streamed(tmp_path: Path) -> None:
    """Each layer file exists on disk before the next layer is requested."""
    seen: list[list[str]] = []

    def layers() -> Iterator[LayerTensors]:
        for i in range(3):
            tmp_dirs = [p for p in tmp_path.iterdir() if p.name.startswith(".t.tmp-")]
            seen.append(sorted(os.listdir(tmp_dirs[0])) if tmp_dirs else [])
            yield make_layer(f"l{i}")

    write_trace(tmp_path / "t", name="t", source={}, layers=layers())
    assert [len(s) for s in seen] == [0, 1, 2]


def test_zero_size_extra_tensor(tmp_path: Path) -> None:
    layer = make_layer("l")
    tensors = {**layer.tensors, "salient_idx": np.zeros((0, 2), np.int32)}
    trace = write_trace(
        tmp_path / "t", name="t", source={}, layers=[LayerTensors("l", "l", tensors)]
    )
    empty = trace.layers[0].tensor("salient_idx")
    assert empty.shape == (0, 2)
    assert empty.dtype == np.int32
    assert not empty.flags.writeable


def test_verified_checksums_are_remembered_across_processes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A file version verified once is not hashed again by a later process (same path, inode,
    size and mtime); a modified file is hashed again and its corruption found."""
    from spikesim.trace import format as fmt
    from spikesim.trace import verified

    monkeypatch.setenv("SPIKESIM_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("SPIKESIM_NO_CACHE", raising=False)
    synth_trace(tmp_path / "t", gemm=(8, 32, 16))
    verified.forget_all()
    layer = load_trace(tmp_path / "t").layers[0]
    layer.verify()
    assert (tmp_path / "cache" / "verified-checksums.tsv").read_text().count("\n") == 1
    verified.forget_all()  # a new process: only the cache file remembers

    def no_hash(fh: io.FileIO) -> str:
        raise AssertionError("hashed again")

    monkeypatch.setattr(fmt, "_sha256_open", no_hash)
    load_trace(tmp_path / "t").layers[0].verify()
    monkeypatch.undo()
    monkeypatch.setenv("SPIKESIM_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("SPIKESIM_NO_CACHE", raising=False)
    # a write changes the mtime: hashed again, the corruption is found
    data = bytearray(layer.file.read_bytes())
    data[-1] ^= 0xFF
    stat = layer.file.stat()
    layer.file.write_bytes(bytes(data))
    os.utime(layer.file, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))
    with pytest.raises(InputError, match="checksum mismatch"):
        load_trace(tmp_path / "t").layers[0].verify()
    verified.forget_all()


def test_reprs_are_one_short_line() -> None:
    """A trace and its layers print as one line each, not kilobytes of manifest (issue 14)."""
    from spikesim.trace import load_workload
    from spikesim.trace.shipped import shipped_trace_path

    trace = load_trace(shipped_trace_path("smollm2-135m"))
    for obj in (trace, trace.layers[0], load_workload("llama2-7b", tokens=8)):
        text = repr(obj)
        assert "\n" not in text
        assert len(text) < 200, text
    assert repr(trace).startswith("Trace('smollm2-135m', 8 layers, 256 tokens")

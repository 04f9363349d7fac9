"""One NUL-byte and UTF-8 check (``spikesim.fsutil.decode_text``) behind the YAML reader and the
workload readers, each keeping its wording (issue 14)."""

from __future__ import annotations

from pathlib import Path

import pytest

from spikesim.config.loader import read_yaml_mapping
from spikesim.errors import InputError
from spikesim.fsutil import decode_text
from spikesim.trace.topology import read_hf_config, read_topology_csv


def test_decode_text() -> None:
    file = Path("x.txt")
    assert decode_text(b"a: 1\n", file=file) == "a: 1\n"
    assert decode_text("\ufeffé".encode(), file=file, encoding="utf-8-sig") == "é"
    assert decode_text("\ufeffé".encode(), file=file) == "\ufeffé"
    with pytest.raises(InputError) as info:
        decode_text(b"ab\0c", file=file, what="thing", binary_note=", not text")
    want = "x.txt: thing holds binary data (a NUL byte at offset 2), not text"
    assert info.value.one_line() == want
    with pytest.raises(InputError) as info:
        decode_text(b"ab\xffc", file=file)
    assert info.value.one_line() == "x.txt: file is not UTF-8 text (invalid byte at offset 2)"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"a: 1\n\0", "file holds binary data (a NUL byte at offset 5), not YAML text"),
        (b"a: caf\xe9\n", "file is not UTF-8 text (invalid byte at offset 6)"),
    ],
)
def test_yaml_wording(data: bytes, message: str, tmp_path: Path) -> None:
    path = tmp_path / "hw.yaml"
    path.write_bytes(data)
    with pytest.raises(InputError) as info:
        read_yaml_mapping(path)
    assert info.value.file == str(path)
    assert info.value.message == message


@pytest.mark.parametrize(
    ("read", "name", "what"),
    [
        (read_topology_csv, "topo.csv", "topology CSV"),
        (read_hf_config, "config.json", "config.json"),
    ],
)
def test_workload_wording(read: object, name: str, what: str, tmp_path: Path) -> None:
    path = tmp_path / name
    assert callable(read)
    path.write_bytes(b"layer,M\0")
    with pytest.raises(InputError) as info:
        read(path)
    assert info.value.file == str(path)
    assert info.value.message == f"{what} holds binary data (a NUL byte at offset 7)"
    path.write_bytes(b"\xef\xbb\xbflayer\xff")  # a byte-order mark is fine, a bad byte is not
    with pytest.raises(InputError) as info:
        read(path)
    # (the offset is counted after the byte-order mark)
    assert info.value.message == f"{what} is not UTF-8 text (invalid byte at offset 5)"

"""A newcomer outside the repository: the wheel installed with ``--target`` and with
``--prefix`` (the layout of ``--user``), commands run from an empty folder find the presets,
the shipped trace, the example sweeps and the notebooks by name."""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
         "-w", str(out), str(ROOT)],
        check=True, capture_output=True, text=True,
    )  # fmt: skip
    (found,) = out.glob("spikesim-*.whl")
    return found


def _install(wheel: Path, where: Path, mode: str) -> Path:
    """Install ``wheel`` in ``mode`` under ``where``; the folder to put on PYTHONPATH."""
    flag = {"target": "--target", "prefix": "--prefix"}[mode]
    subprocess.run(
        # --ignore-installed: never touch the spikesim installed in this environment (pip would
        # otherwise uninstall it before a --prefix install)
        [sys.executable, "-m", "pip", "install", "--no-deps", "--ignore-installed", "-q", flag,
         str(where), str(wheel)],
        check=True, capture_output=True, text=True,
    )  # fmt: skip
    if mode == "target":
        return where
    rel = Path(sysconfig.get_path("purelib")).relative_to(sysconfig.get_path("data"))
    return where / rel


def _spikesim(path: Path, cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(path)}
    code = "import sys; from spikesim.cli import main; sys.exit(main(sys.argv[1:]))"
    return subprocess.run(
        [sys.executable, "-c", code, *args], cwd=cwd, env=env, capture_output=True, text=True,
        timeout=300,
    )  # fmt: skip


@pytest.mark.parametrize("mode", ["target", "prefix"])
def test_installed_wheel_finds_its_data_by_name(wheel: Path, tmp_path: Path, mode: str) -> None:
    path = _install(wheel, tmp_path / "install", mode)
    empty = tmp_path / "empty"
    empty.mkdir()
    probe = subprocess.run(
        [sys.executable, "-c", "import spikesim; print(spikesim.__file__)"],
        cwd=empty, env={**os.environ, "PYTHONPATH": str(path)}, capture_output=True, text=True,
    )  # fmt: skip
    assert probe.stdout.startswith(str(tmp_path / "install")), probe.stdout + probe.stderr
    for args, says in [
        (("validate", "spikequant-45nm"), "valid hardware config"),
        (("validate", "dataflows"), "valid sweep spec"),
        (("energy", "list"), "cacti7-45nm-lop"),
    ]:
        done = _spikesim(path, empty, *args)
        assert done.returncode == 0, done.stderr
        assert says in done.stdout
    if mode != "target":
        return  # one simulation (JIT-compiled afresh for the installed copy) is enough
    done = _spikesim(
        path, empty, "simulate", "--hw", "spikequant-45nm", "--trace", "smollm2-135m",
        "--layers", "layers.15.self_attn.k_proj", "--designs", "mac-w4a4", "--out", "run",
        "--no-figures", "--quiet",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert (empty / "run" / "layers.csv").is_file()


@pytest.mark.parametrize("mode", ["target", "prefix"])
def test_installed_wheel_carries_the_notebooks(wheel: Path, tmp_path: Path, mode: str) -> None:
    _install(wheel, tmp_path / "install", mode)
    notebooks = list((tmp_path / "install").rglob("share/spikesim/notebooks/*.ipynb"))
    assert {n.name for n in notebooks} == {n.name for n in (ROOT / "notebooks").glob("*.ipynb")}

"""An unexpected exception (a bug, not the input) is one ``error:`` line and exit 1 (issue 14).

``SPIKESIM_DEBUG=1`` lets it raise with its traceback instead. Interruptions keep their exit
code (128 + the signal's number) and bad input keeps exit 2.
"""

from __future__ import annotations

import argparse
import signal
from collections.abc import Callable
from pathlib import Path

import pytest
from cli_support import assert_one_error, run

from spikesim.cli import validate
from spikesim.cli.common import DEBUG_ENV, EXIT_INTERNAL, INTERNAL_MESSAGE_LIMIT
from spikesim.fsutil import Interrupted

HW = Path(__file__).resolve().parents[1] / "hw_configs" / "spikequant-45nm.yaml"


def _raising(exc: BaseException) -> Callable[[argparse.Namespace], int]:
    def run_(args: argparse.Namespace) -> int:
        raise exc

    return run_


@pytest.fixture
def no_debug(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(DEBUG_ENV, raising=False)


@pytest.mark.usefixtures("no_debug")
def test_a_bug_is_one_line_and_exit_1(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(validate, "run", _raising(RuntimeError("boom\nsecond line")))
    before = sorted(tmp_path.iterdir())
    monkeypatch.chdir(tmp_path)
    code, out, err = run(capsys, "validate", HW)
    assert code == EXIT_INTERNAL == 1
    assert not out
    assert "Traceback" not in err
    assert err.splitlines() == [
        "error: internal error (a bug in spikesim, please report it): RuntimeError: boom "
        f"second line; set {DEBUG_ENV}=1 to see the traceback"
    ]
    assert sorted(tmp_path.iterdir()) == before  # no file written for it


@pytest.mark.usefixtures("no_debug")
def test_a_long_message_is_cut(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(validate, "run", _raising(ValueError("x" * 1_000_000)))
    code, _, err = run(capsys, "validate", HW)
    assert code == 1
    (line,) = err.splitlines()
    assert "ValueError: xxx" in line
    assert "…" in line
    assert len(line) < INTERNAL_MESSAGE_LIMIT + 200


@pytest.mark.usefixtures("no_debug")
def test_an_empty_message_names_the_type(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(validate, "run", _raising(AssertionError()))
    code, _, err = run(capsys, "validate", HW)
    assert code == 1
    assert "please report it): AssertionError; set SPIKESIM_DEBUG=1" in err


@pytest.mark.parametrize("value", ["1", "true", "YES"])
def test_debug_reraises(
    value: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv(DEBUG_ENV, value)
    monkeypatch.setattr(validate, "run", _raising(RuntimeError("boom")))
    with pytest.raises(RuntimeError, match="boom"):
        run(capsys, "validate", HW)
    assert capsys.readouterr().err == ""


@pytest.mark.parametrize("value", ["", "0", "no"])
def test_debug_off_values(
    value: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv(DEBUG_ENV, value)
    monkeypatch.setattr(validate, "run", _raising(RuntimeError("boom")))
    code, _, err = run(capsys, "validate", HW)
    assert code == 1
    assert err.startswith("error: internal error")


@pytest.mark.parametrize(
    ("exc", "code"),
    [(KeyboardInterrupt(), 130), (Interrupted(signal.SIGTERM), 143)],
)
def test_interruptions_keep_their_code(
    exc: BaseException, code: int, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv(DEBUG_ENV, "1")  # not a bug: debugging changes nothing
    monkeypatch.setattr(validate, "run", _raising(exc))
    got, _, err = run(capsys, "validate", HW)
    assert got == code
    assert err.splitlines() == ["error: interrupted"]


def test_bad_input_is_still_exit_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv(DEBUG_ENV, "1")  # input errors are never re-raised
    bad = tmp_path / "hw.yaml"
    bad.write_text("if_array: {lanes: -1}\n")
    code, _, err = run(capsys, "validate", bad)
    assert_one_error(code, err, str(bad))

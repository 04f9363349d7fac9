"""spikesim's own processes ask NumPy for ordinary pages (spikesim.pages), unless the user set
NUMPY_MADVISE_HUGEPAGE; a program importing spikesim keeps NumPy's setting."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from spikesim.pages import ENV

PROBE = """
import numpy, spikesim.pages as p
m = p.numpy_multiarray()
before = m._get_madvise_hugepage()
{action}
print(before, m._get_madvise_hugepage())
"""


def probe(action: str, env_value: str | None) -> str:
    env = {k: v for k, v in os.environ.items() if k != ENV}
    if env_value is not None:
        env[ENV] = env_value
    out = subprocess.run([sys.executable, "-c", PROBE.format(action=action)], env=env,
                         capture_output=True, text=True, check=True)
    return out.stdout.strip().splitlines()[-1]


@pytest.mark.parametrize(("action", "env_value", "want"), [
    ("import spikesim.api", None, "{0} {0}"),  # importing spikesim changes nothing
    ("p.prefer_small_pages()", None, "{0} False"),
    ("from spikesim.cli import main; main(['--version'])", None, "{0} False"),
    ("from spikesim.procpool import init_worker; init_worker()", None, "{0} False"),
    ("p.prefer_small_pages()", "1", "True True"),  # the user's choice stands
    ("p.prefer_small_pages()", "0", "False False"),
])
def test_numpy_pages(action: str, env_value: str | None, want: str) -> None:
    default = probe("", None).split()[0]  # NumPy's own default on this kernel
    assert probe(action, env_value) == want.format(default)

"""Regenerate the end-to-end goldens: every preset of ``hw_configs/`` on the shipped SmolLM2-135M
trace, under every registered design of the demo, as ``layers.csv`` and ``actions.csv``.

Run from anywhere (the paths are taken relative to this file)::

    python tests/golden/regenerate.py

Only regenerate when a change is *meant* to change numbers, and say so in the commit message:
``tests/test_golden.py`` asserts that every value of these files is reproduced exactly.
"""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from golden_cases import GOLDEN_CASES, golden_tables  # noqa: E402


def main() -> None:
    for case in GOLDEN_CASES:
        layers, actions = golden_tables(case)
        out = HERE / case
        out.mkdir(exist_ok=True)
        layers.to_csv(out / "layers.csv", index=False)
        actions.to_csv(out / "actions.csv", index=False)
        print(f"wrote {out}: {len(layers)} layer rows, {len(actions)} action rows")


if __name__ == "__main__":
    main()

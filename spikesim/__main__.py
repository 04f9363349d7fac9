"""``python -m spikesim``: the command line (see :mod:`spikesim.cli`)."""

from spikesim.cli import main

if __name__ == "__main__":
    raise SystemExit(main())

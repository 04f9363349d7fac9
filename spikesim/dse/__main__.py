"""``python -m spikesim.dse SWEEP.yaml --trace T --out R [--workers N] [--scheduler ADDR]``."""

import sys

from spikesim.dse.commands import main

if __name__ == "__main__":
    sys.exit(main())

"""``spikesim cache``: the on-disk cache of quantized layers (:mod:`spikesim.sim.quantcache`).

``spikesim cache info`` prints its directory, entries, bytes, bound and whether it is on;
``spikesim cache clear`` removes its entries (files named ``<64 hex digits>.q`` in
``$SPIKESIM_CACHE/quantized``, and temporary files of killed writers), nothing else.
"""

from __future__ import annotations

import argparse

from spikesim.cli.common import EXIT_OK
from spikesim.cli.flags import parser_flags

NAME = "cache"
HELP = "show or clear the on-disk cache of quantized layers"
DESCRIPTION = (
    "'cache info' prints where the cache of quantized layers lives ($SPIKESIM_CACHE/quantized, "
    "default ~/.cache/spikesim/quantized), its entries and bytes, its bound "
    "(SPIKESIM_CACHE_MAX_BYTES, default 2 GiB) and whether it is on (SPIKESIM_NO_CACHE=1 turns "
    "it off). 'cache clear' removes its entries and nothing else."
)


def add_arguments(p: argparse.ArgumentParser) -> None:
    sub = p.add_subparsers(dest="cache_command", required=True, metavar="ACTION")
    for name, text in (
        ("info", "print the cache's directory, entries, bytes and bound"),
        ("clear", "remove every entry of the cache"),
    ):
        action = sub.add_parser(name, help=text, description=text[0].upper() + text[1:] + ".")
        action.set_defaults(flags=parser_flags(action))


def run(args: argparse.Namespace) -> int:
    from spikesim.sim import quantcache

    if args.cache_command == "clear":
        removed, freed = quantcache.clear()
        print(f"removed {removed} entries ({freed:,} bytes) from {quantcache.directory()}")
        return EXIT_OK
    found = quantcache.info()
    print(f"directory: {found.directory}")
    print(f"entries: {found.entries}")
    print(f"bytes: {found.bytes:,} (bound {found.max_bytes:,})")
    print(f"enabled: {'yes' if found.enabled else 'no (SPIKESIM_NO_CACHE)'}")
    return EXIT_OK

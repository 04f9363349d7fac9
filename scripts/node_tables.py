"""Operation tables at 32, 28 and 22 nm, interpolated between two measured technology nodes.

spikesim ships operation energies measured at two nodes: Horowitz, ISSCC 2014, at 45 nm
(``horowitz-45nm``) and Jouppi et al., "Ten Lessons From Three Generations Shaped Google's
TPUv4i", ISCA 2021, at 7 nm (``jouppi-7nm``). This script writes ``node-32nm``, ``node-28nm`` and
``node-22nm`` from them, one rule for every number:

* a row measured at both nodes (same operation, same width) becomes
  ``E(n) = E45 · (E7 / E45) ** t`` with ``t = ln(45 / n) / ln(45 / 7)``: geometric interpolation
  in the node, a straight line in log energy against log node through the two measurements;
* a row known at 45 nm only (the register rows, Aladdin's 40 nm numbers) shrinks by the measured
  ratio of the 8-bit integer add to the same power, ``E(n) = E45 · (E7_add8 / E45_add8) ** t``
  (jouppi-7nm derives its 7 nm register row by that ratio, so this is also the interpolation
  between the two register rows); a 0 pJ row stays 0;
* logic area (``node_scale``) and the SRAM bit cell are interpolated the same way between the
  two tables' values; off-chip DRAM is Horowitz's (it does not depend on the logic node);
  leakage is 0 W; there is no ``sram`` section (CACTI tables per node provide it).

Every value is rounded to 6 significant digits. Rerun after editing either endpoint table::

    python scripts/node_tables.py            # rewrite spikesim/energy/tables/node-*.yaml
    python scripts/node_tables.py --check    # exit 1 if the shipped files are stale
    python scripts/node_tables.py --out DIR  # write elsewhere

Only PyYAML is needed; spikesim is not imported (tests/energy/test_node_tables.py validates the
output with spikesim's loader and checks it is byte-identical to a fresh run).
"""

from __future__ import annotations

import argparse
import math
import re
import sys
import textwrap
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
TABLES_DIR = ROOT / "spikesim" / "energy" / "tables"

LOW_TABLE = "horowitz-45nm"
HIGH_TABLE = "jouppi-7nm"
NODES = (32, 28, 22)
"""Nodes written (nm), each to ``node-<n>nm.yaml``."""

SIGNIFICANT = 6
WIDTH = 100

RATIO_ROW = ("int_add", 8)
"""The measured row whose 7 nm / 45 nm ratio scales rows known at 45 nm only."""

STILLMAKER_BAAS = {
    45: (1.103, -0.362, 0.2767),
    32: (0.9559, -0.7823, 0.471),
    20: (0.373, -0.1582, 0.04104),
    7: (0.1776, -0.09097, 0.02447),
}
"""Energy coefficients (a, b, c: a·Vdd² + b·Vdd + c) of Stillmaker & Baas, "Scaling equations for
the accurate prediction of CMOS device performance from 180nm to 7nm", Integration 58 (2017),
at the listed nodes, as coded in Accelergy-Project/hwcomponents,
hwcomponents/scaling/techscaling.py (ENERGY_SCALING). Used only to compare, in each table's
description."""

SB_VDD = 0.8
"""The supply hwcomponents assumes when none is given (V)."""


# --------------------------------------------------------------------------------------- rules


def exponent(node_nm: float, low_nm: float, high_nm: float) -> float:
    """``t = ln(low / node) / ln(low / high)``: 0 at the low node (45 nm), 1 at the high (7 nm)."""
    return math.log(low_nm / node_nm) / math.log(low_nm / high_nm)


def interpolate(e_low: float, e_high: float, t: float) -> float:
    """``E_low · (E_high / E_low) ** t``; 0 when both ends are 0."""
    if e_low == 0 and e_high == 0:
        return 0.0
    if e_low <= 0 or e_high <= 0:
        raise ValueError(f"cannot interpolate geometrically between {e_low} and {e_high}")
    return e_low * (e_high / e_low) ** t


def rounded(x: float) -> float:
    """``x`` to :data:`SIGNIFICANT` significant digits."""
    return float(f"{x:.{SIGNIFICANT}g}")


def stillmaker_baas_factor(node_nm: int) -> float:
    """Stillmaker & Baas energy factor from 45 nm to a listed node at :data:`SB_VDD`."""

    def energy(n: int) -> float:
        a, b, c = STILLMAKER_BAAS[n]
        return a * SB_VDD**2 + b * SB_VDD + c

    return energy(node_nm) / energy(45)


def stillmaker_baas_text(node_nm: int) -> str:
    """What Stillmaker & Baas say at ``node_nm``: a listed value or a log interpolation."""
    if node_nm in STILLMAKER_BAAS:
        return f"{stillmaker_baas_factor(node_nm):.2f} at {node_nm} nm (a listed node)"
    hi, lo = 32, 20
    if not lo < node_nm < hi:
        raise ValueError(f"no Stillmaker & Baas comparison for {node_nm} nm")
    t = math.log(hi / node_nm) / math.log(hi / lo)
    value = interpolate(stillmaker_baas_factor(hi), stillmaker_baas_factor(lo), t)
    return (
        f"about {value:.2f} at {node_nm} nm by log interpolation between their listed 32 and "
        f"20 nm values (hwcomponents' own interpolation between listed nodes runs the wrong way, "
        f"so its {node_nm} nm value is not used)"
    )


# ------------------------------------------------------------------------------------ building


def _load(tables_dir: Path, name: str) -> dict[str, Any]:
    with (tables_dir / f"{name}.yaml").open(encoding="utf-8") as fh:
        data = yaml.safe_load(fh)
    if not isinstance(data, dict):
        raise ValueError(f"{name}.yaml is not a mapping")
    return data


def _clean(text: str) -> str:
    return " ".join(str(text).split())


def _rows(table: dict[str, Any], op: str) -> dict[int, dict[str, Any]]:
    return {int(r["bits"]): r for r in table["operations"][op]["rows"]}


WIDTH_RULES = {
    "linear": (
        "Width rule as in both endpoint tables: linear in bits (interpolated linearly in bits "
        "between the rows, proportional to bits outside them)."
    ),
    "quadratic": (
        "Width rule as in both endpoint tables: quadratic in bits (interpolated linearly in "
        "bits^2 between the rows, as (bits/ref)^2 outside them)."
    ),
    "none": (
        "Floating-point formats, not widths of one circuit: bits=16 prices FP16, bits=32 FP32; "
        "any other width uses the next wider format's row unscaled (the widest above 32)."
    ),
}

ROW_KNOWN_AT_LOW_ONLY = ("register_read", "register_write")
"""Rows with no measurement at the high node (Aladdin's 40 nm register, used at 45 nm)."""

REGISTER_NOTES = {
    "register_read": (
        "Neither endpoint measures registers: Aladdin's 40 nm 1-bit read (used unscaled at 45 nm "
        "by horowitz-45nm) is scaled to this node like the measured 8-bit integer add (see the "
        "row's note); linear in bits from the 1-bit row. Prices the row latches' reads "
        "(latch.read, one per weight per event)."
    ),
    "register_write": (
        "Aladdin's register row charges its dynamic energy to reads and 0 pJ to writes; kept as "
        "published at every node (the pair prices a register access once). Prices the row "
        "latches' writes (latch.write, one per weight per fetched row)."
    ),
}


def _operation(
    op: str, low: dict[str, Any], high: dict[str, Any], node: int, t: float
) -> dict[str, Any]:
    low_op, high_op = low["operations"][op], high["operations"][op]
    if low_op["scaling"] != high_op["scaling"]:
        raise ValueError(f"{op}: the endpoint tables use different width rules")
    low_rows, high_rows = _rows(low, op), _rows(high, op)
    if set(low_rows) != set(high_rows):
        raise ValueError(f"{op}: the endpoint tables have rows at different widths")
    ratio_op, ratio_bits = RATIO_ROW
    ratio_low = float(_rows(low, ratio_op)[ratio_bits]["energy_pj"])
    ratio_high = float(_rows(high, ratio_op)[ratio_bits]["energy_pj"])
    lo_nm, hi_nm = low["technology_nm"], high["technology_nm"]
    exp_text = f"t = ln({lo_nm}/{node})/ln({lo_nm}/{hi_nm}) = {t:.4f}"
    rows = []
    for bits in sorted(low_rows):
        r_low, r_high = low_rows[bits], high_rows[bits]
        e_low, e_high = float(r_low["energy_pj"]), float(r_high["energy_pj"])
        both = (
            f"{LOW_TABLE}: {_clean(r_low['source'])} ({e_low:g} pJ at {lo_nm} nm); "
            f"{HIGH_TABLE}: {_clean(r_high['source'])} ({e_high:g} pJ at {hi_nm} nm)"
        )
        if op in ROW_KNOWN_AT_LOW_ONLY and e_low == 0:
            if e_high != 0:
                raise ValueError(f"{op} {bits}-bit: 0 pJ at {lo_nm} nm but not at {hi_nm} nm")
            value = 0.0
            source = f"0 pJ at both nodes, kept at {node} nm. {both}"
            note = "A 0 pJ row stays 0 at every node."
        elif op in ROW_KNOWN_AT_LOW_ONLY:
            exact = interpolate(e_low, e_low * ratio_high / ratio_low, t)
            check = interpolate(e_low, e_high, t)
            if not math.isclose(exact, check, rel_tol=1e-6):
                raise ValueError(
                    f"{op} {bits}-bit: {HIGH_TABLE}'s row is not {LOW_TABLE}'s times the "
                    f"{ratio_bits}-bit {ratio_op} ratio"
                )
            value = rounded(exact)
            source = (
                f"Scaled from {lo_nm} nm by the measured {ratio_bits}-bit {ratio_op} ratio "
                f"({ratio_high:g}/{ratio_low:g}, {HIGH_TABLE} over {LOW_TABLE}) to the power t. "
                f"{both}"
            )
            note = (
                f"Known at {lo_nm} nm only (Aladdin's 40 nm row, used unscaled at {lo_nm} nm). "
                f"Assumption: it shrinks with the node like the measured {ratio_bits}-bit "
                f"{ratio_op}: E({node} nm) = E{lo_nm} · (E7_add8/E45_add8)^t, {exp_text}: "
                f"{e_low:g} · ({ratio_high:g}/{ratio_low:g})^{t:.4f} = {value:g} pJ (rounded "
                f"to {SIGNIFICANT} significant digits); {HIGH_TABLE} derives its {hi_nm} nm row "
                f"by the same ratio, so this is also the geometric interpolation between the two "
                f"rows."
            )
        else:
            value = rounded(interpolate(e_low, e_high, t))
            source = f"Geometric interpolation in the node between {both}"
            note = (
                f"E({node} nm) = E{lo_nm} · (E{hi_nm}/E{lo_nm})^t, {exp_text}: {e_low:g} · "
                f"({e_high:g}/{e_low:g})^{t:.4f} = {value:g} pJ (rounded to {SIGNIFICANT} "
                f"significant digits). Assumption: between the two measured nodes the energy "
                f"falls geometrically with the node (a straight line in log energy against log "
                f"node); nothing between 45 and 7 nm is measured here."
            )
        rows.append({"bits": bits, "energy_pj": value, "source": source, "note": note})
    if op in REGISTER_NOTES:
        op_note = REGISTER_NOTES[op]
    else:
        op_note = (
            f"{WIDTH_RULES[low_op['scaling']]} Each row is geometric interpolation in the node "
            f"between {LOW_TABLE} ({lo_nm} nm) and {HIGH_TABLE} ({hi_nm} nm); see its note."
        )
    return {"scaling": low_op["scaling"], "note": op_note, "rows": rows}


def _factors(low: dict[str, Any], high: dict[str, Any], t: float) -> tuple[str, str]:
    """The smallest and largest E(n)/E45 over the rows measured at both nodes, described."""
    found: list[tuple[float, str]] = []
    for op, body in low["operations"].items():
        if op in ROW_KNOWN_AT_LOW_ONLY:
            continue
        high_rows = _rows(high, op)
        for r in body["rows"]:
            e_low, e_high = float(r["energy_pj"]), float(high_rows[int(r["bits"])]["energy_pj"])
            label = f"{r['bits']}-bit {op.replace('_', ' ')}"
            found.append((interpolate(e_low, e_high, t) / e_low, label))
    found.sort()
    (lo_f, lo_what), (hi_f, hi_what) = found[0], found[-1]
    return f"{lo_f:.2f} ({lo_what})", f"{hi_f:.2f} ({hi_what})"


def build(node: int, low: dict[str, Any], high: dict[str, Any]) -> dict[str, Any]:
    """The table at ``node`` nm as a mapping (in file order)."""
    lo_nm, hi_nm = low["technology_nm"], high["technology_nm"]
    if not hi_nm < node < lo_nm:
        raise ValueError(f"{node} nm is not between {hi_nm} and {lo_nm} nm")
    if set(low["operations"]) != set(high["operations"]):
        raise ValueError("the endpoint tables have different operations")
    t = exponent(node, lo_nm, hi_nm)
    name = f"node-{node}nm"
    f_lo, f_hi = _factors(low, high, t)
    m_lo, m_hi = _factors(low, high, 1.0)
    sb_hi = stillmaker_baas_factor(hi_nm)
    description = (
        f"Operation energies at {node} nm, interpolated between two measured nodes: Horowitz, "
        f"ISSCC 2014 ({lo_nm} nm, table {LOW_TABLE}) and Jouppi et al., ISCA 2021, Ten Lessons "
        f"({hi_nm} nm, table {HIGH_TABLE}). Every row measured at both nodes is E({node} nm) = "
        f"E{lo_nm} · (E{hi_nm}/E{lo_nm})^t, t = ln({lo_nm}/{node})/ln({lo_nm}/{hi_nm}) = "
        f"{t:.4f} (geometric interpolation in the node), rounded to {SIGNIFICANT} significant "
        f"digits; the register rows, known at {lo_nm} nm only, shrink by the measured 8-bit add "
        f"ratio to the same power. Generated by scripts/node_tables.py. The factors "
        f"E({node} nm)/E{lo_nm} run from {f_lo} to {f_hi}. Stillmaker & Baas's scaling "
        f"equations (Integration 2017, as coded in hwcomponents, {SB_VDD} V) are steeper: "
        f"{stillmaker_baas_text(node)}, and {sb_hi:.3f} at {hi_nm} nm where Ten Lessons "
        f"measured {m_lo.split()[0]}-{m_hi.split()[0]}; these tables follow the measurements. "
        f"No sram section: take SRAM "
        f"from a CACTI table at this node (energy: {{operations: {name}, sram: ...}}). DRAM is "
        f"Horowitz's off-chip figure, which does not depend on the logic node. Leakage is not "
        f"modelled (0 W). Area: Aladdin's logic rows and an SRAM bit cell, both interpolated "
        f"the same way between the endpoint tables' values (an assumption)."
    )
    operations = {op: _operation(op, low, high, node, t) for op in low["operations"]}

    dram = dict(low["dram"])
    low_note = _clean(low["dram"].get("note", ""))
    dram["note"] = (
        f"Off-chip DRAM energy belongs to the memory and its interface, not to the accelerator's "
        f"logic node: {LOW_TABLE}'s figure is reused unchanged. {low_note} For HBM take the "
        f"dram part from {HIGH_TABLE} ({high['dram']['energy_pj_per_bit']:g} pJ/bit)."
    )
    dram["source"] = _clean(dram["source"])

    leakage = {
        "sram_w_per_byte": 0.0,
        "components": {},
        "source": (
            "Not modelled by the built-in table (the endpoint tables give dynamic energies only): "
            "0 W. Set leakage.sram_w_per_byte and leakage.components in a user table to charge "
            "static power times simulated time."
        ),
    }

    low_area, high_area = low["area"], high["area"]
    if low_area["components"] != high_area["components"]:
        raise ValueError("the endpoint tables' area components differ")
    s_low, s_high = float(low_area["node_scale"]), float(high_area["node_scale"])
    node_scale = rounded(interpolate(s_low, s_high, t))
    components = {
        k: {kk: _clean(vv) if isinstance(vv, str) else vv for kk, vv in v.items()}
        for k, v in low_area["components"].items()
    }

    def cell_um2(sram: dict[str, Any]) -> float:
        return float(sram["cell_area_f2"]) * (float(sram["feature_nm"]) * 1e-3) ** 2

    c_low, c_high = cell_um2(low_area["sram"]), cell_um2(high_area["sram"])
    eff = low_area["sram"]["array_efficiency"]
    if eff != high_area["sram"]["array_efficiency"]:
        raise ValueError("the endpoint tables' SRAM array efficiencies differ")
    cell = interpolate(c_low, c_high, t)
    cell_f2 = rounded(cell / (node * 1e-3) ** 2)
    area = {
        "node_scale": node_scale,
        "node_scale_note": (
            f"Assumption: the Aladdin rows are 40 nm numbers; their scale factor is interpolated "
            f"geometrically in the node between {LOW_TABLE}'s ({s_low:.7g}) and {HIGH_TABLE}'s "
            f"({s_high:.7g}): {s_low:.7g} · ({s_high:.7g}/{s_low:.7g})^{t:.4f} = {node_scale:g}. "
            f"Ideal "
            f"scaling from 40 nm would give ({node}/40)^2 = {(node / 40) ** 2:.4g}."
        ),
        "components": components,
        "sram": {
            "cell_area_f2": cell_f2,
            "feature_nm": node,
            "array_efficiency": eff,
            "source": (
                f"Interpolated: 6T bit cell {c_low:.4g} um^2 at {lo_nm} nm ({LOW_TABLE}: "
                f"{_clean(low_area['sram']['source'])}) and {c_high:.4g} um^2 at {hi_nm} nm "
                f"({HIGH_TABLE}: {_clean(high_area['sram']['source'])})"
            ),
            "note": (
                f"Assumption: the bit cell shrinks geometrically in the node between the two "
                f"tables' cells: {c_low:.4g} · ({c_high:.4g}/{c_low:.4g})^{t:.4f} = {cell:.4g} "
                f"um^2 = {cell_f2:g} F^2 at F = {node} nm; not a published {node} nm cell. Array "
                f"efficiency {eff} as in both tables. Area does not depend on banks, ports or "
                f"word width (assumption: each bank's periphery is ignored)."
            ),
        },
    }
    return {
        "name": name,
        "description": description,
        "technology_nm": node,
        "operations": operations,
        "dram": dram,
        "leakage": leakage,
        "area": area,
    }


# ------------------------------------------------------------------------------------- writing

_PLAIN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 ._()/,+-]*$")


def _scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return repr(value)
    raise TypeError(f"cannot write {value!r}")


def _lines(obj: dict[str, Any], indent: int) -> list[str]:
    pad = " " * indent
    out: list[str] = []
    for key, value in obj.items():
        if isinstance(value, dict):
            if not value:
                out.append(f"{pad}{key}: {{}}")
            else:
                out.append(f"{pad}{key}:")
                out.extend(_lines(value, indent + 2))
        elif isinstance(value, list) and not any(isinstance(v, dict) for v in value):
            out.append(f"{pad}{key}: [{', '.join(_scalar(v) for v in value)}]")
        elif isinstance(value, list):
            out.append(f"{pad}{key}:")
            for item in value:
                sub = _lines(item, indent + 4)
                sub[0] = f"{pad}  - {sub[0][indent + 4 :]}"
                out.extend(sub)
        elif isinstance(value, str):
            text = _clean(value)
            one = f"{pad}{key}: {text}"
            if _PLAIN.match(text) and len(one) <= WIDTH and yaml.safe_load(text) == text:
                out.append(one)
            else:
                out.append(f"{pad}{key}: >-")
                body = " " * (indent + 2)
                out.extend(
                    body + line
                    for line in textwrap.wrap(
                        text,
                        width=WIDTH - len(body),
                        break_long_words=False,
                        break_on_hyphens=False,
                    )
                )
        else:
            out.append(f"{pad}{key}: {_scalar(value)}")
    return out


def render(table: dict[str, Any]) -> str:
    """The YAML text of one generated table (checked to load back to ``table``)."""
    header = [
        f"# Generated by scripts/node_tables.py from {LOW_TABLE}.yaml and {HIGH_TABLE}.yaml.",
        "# Do not edit by hand: edit the script or an endpoint table and rerun",
        "# `python scripts/node_tables.py` (tests/energy/test_node_tables.py checks the files).",
    ]
    text = "\n".join([*header, *_lines(table, 0)]) + "\n"
    if yaml.safe_load(text) != _normalised(table):
        raise AssertionError(f"{table['name']}: the written YAML does not load back unchanged")
    return text


def _normalised(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {k: _normalised(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_normalised(v) for v in obj]
    if isinstance(obj, str):
        return _clean(obj)
    return obj


def generate(out_dir: Path, tables_dir: Path = TABLES_DIR) -> list[Path]:
    """Write ``node-<n>nm.yaml`` for every node in :data:`NODES` to ``out_dir``."""
    low, high = _load(tables_dir, LOW_TABLE), _load(tables_dir, HIGH_TABLE)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for node in NODES:
        path = out_dir / f"node-{node}nm.yaml"
        path.write_text(render(build(node, low, high)), encoding="utf-8")
        written.append(path)
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=TABLES_DIR, help="output folder")
    parser.add_argument(
        "--check", action="store_true", help="compare with the files in --out; write nothing"
    )
    args = parser.parse_args(argv)
    if not args.check:
        for path in generate(args.out):
            print(f"wrote {path}")
        return 0
    low, high = _load(TABLES_DIR, LOW_TABLE), _load(TABLES_DIR, HIGH_TABLE)
    stale = [
        path
        for node in NODES
        if not (path := args.out / f"node-{node}nm.yaml").is_file()
        or path.read_text(encoding="utf-8") != render(build(node, low, high))
    ]
    for path in stale:
        print(f"stale: {path} (rerun python scripts/node_tables.py)", file=sys.stderr)
    return 1 if stale else 0


if __name__ == "__main__":
    raise SystemExit(main())

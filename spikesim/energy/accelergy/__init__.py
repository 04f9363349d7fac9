"""Import an Accelergy energy reference table (ERT), with its area reference table (ART), as a
spikesim energy table (``spikesim energy import``).

Accelergy writes, beside each run, the ERT (energy per action of each component instance), the
ART (area of each instance) and the flattened architecture (each instance's class and
attributes): their formats, versions 0.2-0.4, are in :mod:`.formats`.

Mapping (class names compared case-insensitively, ``_`` and ``-`` ignored; ``classes`` adds or
overrides entries of :data:`~.classes.DEFAULT_CLASSES`); each kind, the ERT action used, and the
entry:

``intadder`` (also ``aladdin_adder``, ``adder``)
    ``add`` (else ``read``, the library plug-in's "typical action") → an
    ``operations.int_add`` row at ``width`` (= ``datawidth``) bits.
``intmultiplier`` (also ``aladdin_multiplier``, ``multiplier``)
    ``multiply`` (else ``read``) → an ``operations.int_mult`` row at ``width`` bits (or at
    ``width_a`` = ``width_b``; unequal operands are refused).
``fpadder``, ``fpmultiplier``
    ``add``, ``multiply`` → ``operations.fp_add``, ``fp_mult`` rows at ``width``/``datawidth``.
``regfile`` (also ``register``, ``aladdin_register``)
    ``read``, ``write`` → ``operations.register_read``, ``register_write`` rows at ``width``
    (else ``datawidth``: Accelergy 0.3's regfile gives only that) bits.
``SRAM`` (also ``cacti_sram``)
    ``read`` (see ``access``) → one ``sram`` point: capacity ``depth × width / 8`` bytes, a
    ``width``-bit access.
``DRAM`` (also ``cacti_dram``)
    ``read`` (see ``access``) → ``dram.energy_pj_per_bit`` = energy / ``width``.
``intmac`` (also ``aladdin_intmac``), ``fpmac``
    ``mac_random`` (0.2/0.3), ``compute`` (0.4) → refused unless ``mac`` says how (below).
``dummy_storage``
    left out: Timeloop's placeholder level, no hardware.

Rules, each stated in the produced rows' notes:

* A width or capacity the architecture does not give is an error naming the entry; nothing is
  guessed. Two synonyms that disagree (``width: 8``, ``datawidth: 16`` on an adder) are an error.
* An action listed with several argument combinations is priced at its most expensive one (0.3
  SRAMs: ``address_delta: 1, data_delta: 1``, a random access); the note names it.
* spikesim's ``sram`` points and ``dram`` hold one energy per access for reads and writes alike;
  ``access`` chooses: ``read`` (default), ``write``, ``max`` or ``mean`` of the two; the note
  quotes both.
* A MAC's ``compute`` energy is one multiply plus one add, and the files do not say how it
  splits, while spikesim prices ``int_mult`` and ``int_add`` apart. ``mac="refuse"`` (default)
  refuses it; ``multiply`` takes the whole MAC as the multiply row (an upper bound: spikesim's
  accumulate adds are charged again through ``int_add``); ``split`` subtracts the energy of the
  ERT's own adder entry at the MAC's adder width (``adder_width``, else its one width) and keeps
  the rest as the multiply (assumption: the MAC's adder costs what the standalone adder costs).
  The same rule splits a MAC's area in the ART.
* Rows that land on the same entry at the same width (three 16-bit registers) are merged when
  they agree; different energies at one width, or energies that fall as the width (SRAM: the
  energy per bit as the capacity) grows, are errors naming both entries, since a table has one
  monotone row per width.
* ``technology_nm`` is the node shared by the on-chip entries (``45nm`` or ``45``); the DRAM,
  a separate chip, does not count. Disagreeing or absent nodes are an error unless
  ``technology_nm`` is given.
* ``leak``, ``idle`` and ``update`` actions are not imported (no leakage section is written).
* Area (ART, optional): per instance (ART area / ``n_instances``). Adders → ``area.components
  .int_add`` (linear), multipliers → ``int_mult`` (product), registers/regfiles → ``register``
  at ``width × depth`` bits (linear), MACs as above. spikesim's SRAM area is one macro area per
  bit: the largest SRAM of the ART gives it (area / bits, written as ``cell_area_f2`` at
  ``feature_nm`` = the node with ``array_efficiency`` 1: the ART area is the whole macro); the
  other SRAMs' per-bit areas are quoted in the note. An ART without an SRAM entry cannot give
  an area section (it needs one) and is refused. DRAM and floating-point areas (``fpadder``,
  ``fpmultiplier``, ``fpmac``) are left out (spikesim's area model has no such parts).

Everything not mapped is refused with the entry's name (``InputError`` naming the file and the
field path), unless it is left out on purpose (``skip``, or class kind ``skip``). Sections the
files do not provide are left out of the table: a hardware file takes the rest from other tables
(``energy: {operations: imported.yaml, sram: cacti7-45nm-hp, dram: horowitz-45nm}``).

Conversion (:func:`convert`) is pure: parsed mappings in, the table as a plain mapping out.
:func:`import_files` reads the files (:func:`spikesim.config.loader.read_yaml_mapping`, bounded);
:func:`table_yaml` renders the result. Writing the file is the caller's.

Modules, one job each (lowest first): :mod:`.text` (numbers and notes as written),
:mod:`.formats` (the three files → records), :mod:`.classes` (class → kind),
:mod:`.attributes` (widths, capacities, node), :mod:`.context` (options, and what a conversion
records), :mod:`.actions` (which ERT action prices an entry), :mod:`.rows` (candidate rows and
their merging), :mod:`.operations`, :mod:`.memory` and :mod:`.area` (the sections),
:mod:`.convert` (the conversion, the files, the YAML).
"""

from spikesim.energy.accelergy.classes import Kind, normalise_class
from spikesim.energy.accelergy.context import Access, ImportOptions, MacRule
from spikesim.energy.accelergy.convert import ImportResult, convert, import_files, table_yaml
from spikesim.energy.accelergy.formats import Document, default_arch_path

__all__ = [
    "Access",
    "Document",
    "ImportOptions",
    "ImportResult",
    "Kind",
    "MacRule",
    "convert",
    "default_arch_path",
    "import_files",
    "normalise_class",
    "table_yaml",
]

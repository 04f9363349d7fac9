"""Layout of the integer statistics vector returned by the block-timing kernels and their twins.

Append new entries at the end. numba's on-disk cache does not see changes to globals imported
from another module: the kernels read these indices at compile time, so renumbering them needs
the cache cleared (the vector's size is passed in, not read from here).
"""

TOTAL = 0
"""Cycles from the block's start until its last output is written."""
COMPUTE = 1
"""Cycles the array does useful work: ideal issue cycles, slope/shift/merge cycles, fire phase."""
STALL_ENCODER = 2
"""Cycles the array waits for an encoded vector (encoder-bound)."""
STALL_BANK = 3
"""Extra issue cycles caused by weight-bank port conflicts (actual - ideal)."""
EVENTS_NORMAL = 4
"""Input spike events of normal passes."""
EVENTS_SALIENT = 5
"""Input spike events of salient passes."""
SCANNED_NORMAL = 6
"""Values scanned by the encoders in normal passes (K per token)."""
SCANNED_SALIENT = 7
"""Salient records scanned (one per salient value)."""
SALIENT_PASSES = 8
"""Tokens that have a salient pass (at least one salient value)."""
EXTRA_ACC = 9
"""Per-column accumulates that are not input events: TTFS slope adds and bit-serial merges."""
SHIFTS = 10
"""Per-column bit-serial partial-sum shifts."""
ISSUE_CYCLES = 11
"""Cycles in which the array issued at least one event (actual issue cycles)."""
FIRE_CYCLES = 12
"""Cycles spent in fire phases."""
FETCHES = 13
"""Weight-row reads from the weight SRAM: one per event, or one per non-zero value of a latched
pass."""
LATCHED_EVENTS = 14
"""Events that read their weight row from a latch (latched passes: every event)."""
SHIFTED_EVENTS = 15
"""Events of latched bit-serial passes: each adds its latched weight shifted by its plane."""
MEMBRANE_CYCLES = 16
"""Cycles spent writing partial membranes back and re-reading them (K-split layers)."""
COMPARES = 17
"""Per-column compares of fire phases (token-batched: fire_cycles per fired token)."""
RECORD_WORDS = 18
"""Membrane-store words read, and as many written, by issue and slope/shift/merge ops
(token-batched array with its membranes in an SRAM)."""
RECORD_FIRE_WORDS = 19
"""Membrane-store words the fire phases read (token-batched array, SRAM store)."""
LATCH_FILLS = 20
"""Weight-row fetches of latched passes: each fills the row latch (token-batched array)."""
ISSUE_GROUPS = 21
"""Issue groups that issued at least one event: one per pass with events under count coding or
a row latch (one stream), one per time step with events otherwise (bit planes, TTFS steps).
The spike × spike attention form folds its coincidence counters after each of them
(token-batched: issue groups of batch passes)."""
FOLDED_TOKENS = 22
"""Token-batched kernel: Σ over issue groups with events of the batch's tokens (the spike ×
spike form folds every token's counters of the batch after each group)."""
SIZE = 23

"""Spike × spike form of the attention matmuls on the token-serial and token-batched IF arrays
(``if_array.attention_form: spike_spike``).

Which layers
------------
The attention matmuls (``op`` ``attn_score``: S = Q Kᵀ, and ``attn_value``: O = P V, built by
:mod:`spikesim.trace.attention`; ``op_class`` ``attention``) of a spiking design. Their x
operand (Q, or the probabilities P) is spike-coded by the quantization config's codings exactly
as in the spike × integer form (normal and salient passes, count / bit-serial / TTFS, the same
encoders, FIFO and events). Their w operand (K, or Vᵀ, quantized at ``kv_cache.bits``) is not
an integer weight any more but spikes too. Linear layers, MAC designs and the default form
(``spike_int``) are untouched.

Formulation: x events × bit planes of w (exact)
-----------------------------------------------
With P = ``kv_cache.bits`` − 1 magnitude planes, a symmetric integer w (|w| ≤ 2^P − 1) is
sign-magnitude bit planes, w = sgn(w) · Σ_{s<P} 2^s · w_s with w_s ∈ {0, 1}. The array integrates
events exactly as the spike × integer array does, but instead of adding ±w into a register it
counts, per output column j and plane s, the *coincidences* of the events with the set bits of
plane s, in a signed counter::

    C_s[j] += sgn(x_e) · sgn(w[j, i_e]) · w_s[j, i_e]          for every event e of a group
    R[j]   += Σ_s 2^s · C_s[j];  C_s[j] = 0                     after the group (the fold)

where a *group* is one issue group with events (count coding: a whole pass, one stream;
bit-serial: one bit plane t of x; TTFS: one time step) and R the register the group's events
would have added into (V for count coding, the partial sum P for bit-serial, the slope I for
TTFS). Σ_s 2^s C_s[j] is exactly Σ_{e∈group} ±w[j, i_e], so every register, and the membrane,
holds the same (``acc_bits``-wrapped) value as under spike × integer, and the fire phase gives
the integer reference's outputs: ``round(x_q · w_q / θ)``. With bit-serial x this is the
bit-plane × bit-plane product Σ_t Σ_s ±2^(t+s) · popcount(x_t AND w_s) (the shift of P between
x planes supplies 2^t); with count-coded x it is Σ_s 2^s · (signed count of unit spikes meeting
w_s). The sums stay exact because a counter never overflows: one group issues at most K events
(bit-serial, TTFS) or K × the largest magnitude (count coding) to a counter, and a layer for
which that exceeds ``if_array.coincidence_bits`` is an InputError naming that field.

Why bit planes of w and not count × count: unary (thermometer) K/V would need 2^P − 1 stored bits
per value instead of P + 1 (7 against 4 at KV4) and |x| · |w| unit coincidences per product;
the bit planes are the KV cache's own bits.

The physics of one event
------------------------
An x event of input i, issued on a lane, reads the tile's spike planes of row i of K (or Vᵀ):
``columns`` × (1 sign + P planes) bits — the same ``columns × kv_cache.bits`` bits, so the same
SRAM words and bank (i mod banks), as an integer row (the KV cache in spike form *is* its stored
bits, in sign-magnitude layout). Each magnitude bit meets the event in an AND: since an
event-driven array only ever processes x = 1 (zero x bits emit no event and are skipped, as in
spike × integer), x AND w_s = w_s: the coincidence is the read bit itself, which enables
(clock-gates) its counter, and sgn(x) XOR sgn(w) sets the counter's direction. The dense
attention cores of Bishop and Spikformer's SSA evaluate the AND for every (x bit, w bit) pair,
zero x bits included; here those pairs never reach the array. Each coincidence is one up/down
increment of a ``coincidence_bits`` counter.

Cycle model
-----------
The token-serial array's, unchanged (:mod:`spikesim.dataflows.if_token_serial`: ``lanes``
events per cycle, a weight bank's ``ports`` reads per cycle, count coding one stream, bit-serial
and TTFS a cycle never mixing steps, TTFS slope and bit-serial shift/merge cycles, encoder FIFO,
fire phase, K-split membrane traffic, DRAM double buffering), plus, after each issue group with
events, ``fold_cycles`` = ceil(P / lanes) compute cycles: each column's ``lanes`` adders (the
ones that add ``lanes`` events per cycle under spike × integer) add one shifted counter each per
cycle into the group's register. At KV4 and 16 lanes that is one cycle per group: a count-coded
pass takes one cycle more, a bit-serial or TTFS pass one more per step with events. The row
latch (``if_array.row_latch``) is not used by these layers: a latched bit-serial event weighs
2^plane, not ±1; their passes issue unlatched.

On the token-batched array (``if_array.dataflow: token_batched``) every token of the batch has
its own ``columns`` × P counters beside its membranes (so the batch's membranes must be
registers: ``membrane_store: registers``; an SRAM store is a configuration error naming that
field). Events integrate into their token's counters; after each issue group with events of a
batch pass (the whole pass under count coding, one bit plane or TTFS step otherwise) the fold
adds every token's counters, bt · P adds per column with ``lanes`` adders per column:
ceil(bt · P / lanes) cycles (= ceil(P / lanes) at bt = 1), whether or not a token had events
in that group, as the batch's slope and shift ops sweep every token. Each column counts P
``acc_bits`` adds per token folded (the kernel's ``FOLDED_TOKENS``).

Actions (component, action, bits) and what each counts
------------------------------------------------------
- ``sram.<weights>`` ``read`` at its word width: one spike-plane row, ceil(columns ·
  kv_cache.bits / word_bits) words, per event and tile (as spike × integer).
- ``if_array`` ``acc`` at ``coincidence_bits``: one counter increment per coincidence, i.e. per
  (event, output column, set magnitude bit of that column's w):
  Σ_i E_i · Σ_n popcount(|w[n, i]|) over the layer, E_i the events input i emits.
- ``if_array`` ``acc`` at ``acc_bits``: P per column per fold (one per issue group with events;
  token-batched: P per column for every token of the batch per fold),
  plus the TTFS slope adds and bit-serial merges of spike × integer. No ``acc_bits`` add per
  event: that is what the counters replace.
- ``if_array`` ``shift`` / ``compare`` / ``fire``, ``encoder`` ``convert`` / ``emit``,
  ``threshold`` ``multiply``, the activation, salient, output and membrane SRAM traffic and the
  DRAM loads (K and V are the cache's read traffic): as spike × integer.

The energy model prices ``if_array.acc`` as the operations table's ``int_add`` at its bits
(:mod:`spikesim.energy.price`; in the default table the Horowitz ISSCC 2014 8- and 32-bit
integer-add rows, linear in bits: 0.053 pJ at 16 bits against 0.077 pJ for a 24-bit membrane
add), and under ``energy.spike_add: operand_width`` at min(bits, weight_bits + guard bits), as
every ``if_array.acc``. No new action and no new table row: an increment *is* an add of ±1.

Assumptions (stated, not sourced)
---------------------------------
- A counter increment costs an integer add at the counter's width (there is no counter row in
  the tables; an up/down increment is an add of ±1 through the counter) — an upper bound.
- No energy for the AND (the identity on an event-driven array, see above) or for the counters'
  clock gating.
- The ``lanes`` coincidences a counter may receive in one cycle count as that many increments,
  as spike × integer counts one add per event and column whatever merges a cycle's lanes.
- The KV cache is written in sign-magnitude layout at no extra cost (the quantizer computes sign
  and magnitude anyway; same bits).
- One counter width (``coincidence_bits``, default 16) for every layer; the fold reuses the
  column adders.

Sources (the idea; the exact formulation above is our reconstruction): Bishop (Xu et al., ISCA
2025, arXiv 2505.12281), whose attention core does "AND" + accumulate on spiking Q/K/V;
Spikformer's spiking self-attention (Zhou et al., ICLR 2023, arXiv 2209.15425), QKᵀ of binary
spike matrices as AND + sum with no softmax, counted as accumulates by the Spikingformer energy
script (``zhouchenlin2096/Spikingformer``, ``energy_consumption_calculation``); the Spike-driven
Transformer accelerator's dual-spike attention module (arXiv 2501.07825); bit-plane products
of both operands in Laconic (Sharify et al., ISCA 2019). Those cores AND spikes of the *same*
time step (an approximation of the product of multi-bit values); here every (x event, w plane)
pair meets, so the product is exact. Summaries in ``shared/reference/spiking-architectures.md``.

Files: :mod:`.params` (parameters, the counter check, the coincidence count), :mod:`.engine`
(fast engine: the token-serial or token-batched engine with this arithmetic), :mod:`.reference`
(cycle-by-cycle, both arrays), :mod:`.area` (logic parts). The timing kernels are the arrays'
block kernels (their ``fold_cycles`` / ``fold_planes`` arguments), proven against their NumPy
twins.
"""

from __future__ import annotations

from spikesim.dataflows.spike_spike.area import area_parts
from spikesim.dataflows.spike_spike.engine import simulate_layer
from spikesim.dataflows.spike_spike.params import applies
from spikesim.dataflows.spike_spike.reference import reference_simulate_layer

__all__ = ["applies", "area_parts", "reference_simulate_layer", "simulate_layer"]

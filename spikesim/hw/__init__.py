"""Shared hardware units that the dataflows compose, each kernel beside its NumPy twin.

coding.py (spike coding of a pass), issue.py (lane x bank-port issue), transfers.py (the DRAM
channel and double buffers, as simpy transactions), memory.py (DRAM and SRAM fill counts of a
schedule), functional.py (exact integer matmul, wrap, fire rule), params.py (the integer
parameters of the IF datapath), stats.py (layout of a block kernel's statistics), parts.py
(logic parts for area), reference_units.py (the unit machines of the cycle-by-cycle
references). Nothing here knows a design name or imports :mod:`spikesim.energy`.
"""

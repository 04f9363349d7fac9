"""Simulation of whole traces: every (layer, design) through its design's engine, collected into
tables (:mod:`.counts`), the priced result type (:mod:`.result`), design comparisons
(:mod:`.compare`) and spike statistics (:mod:`.stats`). Never imports :mod:`spikesim.energy`."""

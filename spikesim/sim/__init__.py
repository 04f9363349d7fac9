"""Simulation: the fast transaction-level engine and the cycle-by-cycle reference."""

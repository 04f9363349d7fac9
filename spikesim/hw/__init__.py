"""Hardware models of the spiking accelerator: numba kernels and their NumPy twins."""

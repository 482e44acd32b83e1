"""Data simulators for sites (plant sensor streams with ground-truth faults)."""

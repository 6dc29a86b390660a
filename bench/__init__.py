"""Benchmarks of the portal against the test servers: figures beside their targets (issue 14)."""

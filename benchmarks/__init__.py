"""Benchmarks: numbers, not assertions. Run with `make bench`."""

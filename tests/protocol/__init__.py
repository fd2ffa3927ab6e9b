"""Tests of the sans-IO protocol core (walink.protocol)."""

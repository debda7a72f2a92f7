"""Benchmarks: each writes a JSON result; `anchor bench` runs them all."""

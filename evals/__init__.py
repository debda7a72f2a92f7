"""Datasets, metrics, reports and benchmarks."""

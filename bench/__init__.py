"""Benchmarks: run as modules from the project root, e.g. `python -m bench.bench_pricing` (`make bench`)."""

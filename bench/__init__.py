"""Benchmarks (not tests): `make bench` / `python -m bench [name ...]` runs bench/bench_*.py."""

"""Benchmarks. `make bench` runs them all; `make bench BENCH=name` runs `bench/bench_<name>.py`."""

"""asv benchmarks for leakyrelu; see docs/benchmarking.md."""

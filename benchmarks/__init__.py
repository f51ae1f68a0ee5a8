"""Efficiency benchmarks of txl_ts (streaming latency, training cost, throughput).

Each script runs as `python -m benchmarks.<name> [--smoke] [--out DIR]` and writes JSON and PNG
files; `python -m benchmarks.report` turns the JSON files into docs/benchmarks.md, with the sections
of decisions already made (the experiments/ folder's results) rendered by `benchmarks.records`.
"""

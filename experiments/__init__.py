"""Experiments behind decisions already made: ablations, probes and studies whose conclusions
docs/benchmarks.md records. Not part of the package (the wheel ships txl_ts only); each runs from
the repository root as `python -m experiments.<name>`, through txl_ts's API and the fitted
models' attributes, never by swapping a part of the package (tests/test_imports.py checks), and
writes its results to benchmarks/results, from which `python -m benchmarks.report` renders them.
"""

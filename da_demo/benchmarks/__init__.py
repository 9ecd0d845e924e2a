"""Measurements that tests should not make (timings, accuracy against goals), each a script that
prints a table: ``python -m da_demo.benchmarks.<name>``.

* ``compare_skada``: our DANN against SKADA 0.6's, side by side (needs ``requirements-bench.txt``).
* ``app_bench``: the app's start-up, per-digit latency, UMAP and a live session.
* ``loadtest``: many visitors at once, two of them training.
"""

"""Benchmark suite: skautodiff against the tools a user would otherwise pick (issue 5).

Run it with ``python -m benchmarks.run`` (``make bench``); ``--quick`` smoke-tests everything on
small sizes. See doc/performance.md for the latest table and what each figure means.
"""

"""The benchmark harness behind ``make bench``; ``bench/run.py`` is the entry point.

Each module does one job: knobs, processes, memory, the upstreams, the systems under test, the
load generators, the leak check and the report.
"""

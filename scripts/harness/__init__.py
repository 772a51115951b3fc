"""Benchmark and comparison harnesses of the scripts: peers, subprocess runners and tables.

Not part of the installed library: only the scripts beside this package (which find it because
Python puts a script's own folder first on ``sys.path``) and the tests (``pythonpath`` in
pyproject.toml) import it. Peers such as stable-baselines3 or nashpy are imported here, never under
``ascentrl.*``.
"""

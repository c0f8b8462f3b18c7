"""Reliability scenarios: loss accounting, faults and hostile input.

Each scenario is a function returning its figures as a dict. The tests in
``tests/test_reliability.py``, ``tests/test_faults.py`` and
``tests/test_hostile.py`` run them with counts small enough for ``make test``;
``python -m stress.run`` (``make stress``) runs them at full size, prints a
table and writes ``results/stress.json``.
"""

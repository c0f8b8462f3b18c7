"""zcomet's benchmark suite: throughput, fan-out latency and hot-path costs.

Every zcomet figure is measured beside a raw pyzmq + msgpack baseline carrying
the same bytes through the same sockets in the same run, and reported as a
ratio to it. Run it with ``make bench`` (the quick suite), ``python -m
benchmarks --help`` or ``zcomet bench``.

Modules, by job:

- :mod:`benchmarks.payloads`: the two messages (small, ticket) and their bytes;
- :mod:`benchmarks.roles`: senders, listeners and forwarders, zcomet and raw;
- :mod:`benchmarks.workers`: child-process entry points around the roles;
- :mod:`benchmarks.harness`: starts a topology of processes, collects, cleans up;
- :mod:`benchmarks.throughput`, :mod:`benchmarks.latency`,
  :mod:`benchmarks.micro`: the three suites;
- :mod:`benchmarks.report`: the terminal table, the JSON file and the plots.

The suite lives outside the ``zcomet`` package on purpose.
"""

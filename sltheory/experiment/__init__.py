"""The experiment engine: jobs, run folders, executors and the scripts' shared command-line plumbing.

* :mod:`.runs` — run folders named by the hash of their configuration (``config.json`` +
  ``results.csv``, atomic writes, resumable, a lock per folder);
* :mod:`.executors` — run jobs in this process, a process pool or on Ray, yielding each result as
  it finishes;
* :mod:`.sweep` — one job of a width sweep (sample, prune, certify, attack, classify).

May import: everything of the library below it (the public API, tickets, constructions, the
certificate, data). Never ``sltheory.report`` or ``sltheory.cli``: reports read what experiments
saved, not the reverse. Scripts under ``experiments/`` and ``benchmarks/`` are thin layers over it.
"""

"""The experiment engine: configurations, jobs, run folders, executors and progress.

* :mod:`.config` — experiment configurations as dataclasses that generate their command line
  (typed checks before any work, ``--quick``, the dict a run folder hashes);
* :mod:`.engine` — the shared run loop: jobs → executor → run folder → progress → ``latest``;
* :mod:`.runs` — run folders named by the hash of their configuration (``config.json`` +
  ``results.csv``, atomic writes, resumable, a lock per folder);
* :mod:`.executors` — run jobs in this process, a process pool or on Ray, yielding each result as
  it finishes; :mod:`.progress` — a tqdm bar on a terminal, one line per job elsewhere;
* :mod:`.width_sweep` — the main job: the width sweep's configuration, targets, jobs and command
  (its figures are passed in as ``report``), with :mod:`.sweep` one job of it (sample, prune,
  certify, attack, classify);
* :mod:`.search` — search against construction (issue 16): the search methods and the
  subset-sum construction on the same random networks, classifiers, planted tickets;
* :mod:`.structure` — structure or weights (issue 17): masks, k % of the weights, random masks,
  RigL, IMP and dense training on one random network, and continual learning with masks;
* the benchmarks' jobs: :mod:`.soundness` (random cases checked against an independent lower
  bound, passed in), :mod:`.counting` (the counting-limit cells and their run folder),
  :mod:`.scale` (one size of the scale benchmark, timed, with peak memory).

May import: everything of the library below it (the public API, tickets, constructions, the
certificate, search, training, data). Never ``sltheory.report`` or ``sltheory.cli``: reports read what
experiments saved, not the reverse. Scripts under ``experiments/`` and ``benchmarks/`` are thin
layers over it: a config, a job, and a report.
"""

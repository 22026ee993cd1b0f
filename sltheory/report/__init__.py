"""Reports: figures and tables rebuilt from saved run folders, and drawings of tickets.

* :mod:`.figures` — every figure and table of the paper from the saved runs (``sltheory
  figures``, ``experiments/make_figures.py``);
* one module per experiment or benchmark: :mod:`.width_sweep` (its figures and tables, and the
  sweep's command with them attached: ``sltheory sweep``), :mod:`.solver_time`,
  :mod:`.ticket_graph`, :mod:`.fidelity`, :mod:`.soundness` (the printed summary),
  :mod:`.counting` (the counting-limit tables), :mod:`.search` (search against construction),
  :mod:`.structure` (structure or weights);
* :mod:`.plotting` — a ticket's graph drawn with matplotlib, and saved / reloaded as JSON.

May import: the foundation and ``sltheory.experiment`` (saved results, the experiments'
configurations and row types); never the constructions or the certificate directly, so a figure
is made from data already saved and never re-runs an experiment. Exposed to users as
``sltheory.plotting`` (its old name, kept).
"""

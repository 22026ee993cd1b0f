"""Reports: figures and tables rebuilt from saved run folders, and drawings of tickets.

* :mod:`.plotting` — a ticket's graph drawn with matplotlib, and saved / reloaded as JSON.

May import: the foundation, and ``sltheory.experiment.runs`` to read saved results; never the
constructions or the certificate (a report is made from data already saved, so a figure never
re-runs an experiment). Exposed to users as ``sltheory.plotting`` (its old name, kept).
"""

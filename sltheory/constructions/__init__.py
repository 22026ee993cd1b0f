"""Constructions: one module per theorem's construction, each with the same shape
(:class:`~sltheory.constructions.base.Construction`: plan, sample, prune, certify, width bound),
registered by name in :mod:`.registry` (``sltheory.construction(name)``).

May import: the foundation, the core objects (``network``, ``targets``), the certificate (each
construction certifies the masks it returns) and the subset-sum solvers. Never tickets, the public
API, the experiment engine or reports: a construction returns masks and a certificate; the caller
(``sltheory.approximate``) wraps them in a ticket.
"""

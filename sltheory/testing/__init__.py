"""Test helpers shipped with the library: an independent lower bound on a ticket's error
(:mod:`.lower_bound`, sharing no code with the certificate or the adversarial search) and
hypothesis strategies for targets (:mod:`.strategies`).

May import: the foundation and the core objects only — never the certificate, so that what it
checks the certificate against stays independent of it.
"""

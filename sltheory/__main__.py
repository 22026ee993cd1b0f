"""``python -m sltheory``: the ``sltheory`` command (:mod:`sltheory.cli.main`)."""

from .cli.main import main

if __name__ == "__main__":
    raise SystemExit(main())

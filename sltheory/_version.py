"""The library's version (foundation: hashed into run folders by the experiment engine)."""

__version__ = "0.1.0"

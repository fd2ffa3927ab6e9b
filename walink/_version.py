"""The single source of walink's version number."""

__version__ = "0.1.0"

"""trine's version, readable by every layer of the package (files record it)."""
__version__ = "0.1.0"

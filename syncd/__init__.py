"""syncd keeps partner cities' news platforms in step across languages."""

__version__ = "0.1.0"

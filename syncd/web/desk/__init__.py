"""The editors' desk on the web front door (``/desk``)."""

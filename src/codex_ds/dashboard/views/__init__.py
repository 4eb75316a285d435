"""The dashboard's pages: one module each, with ``render(filters)``."""

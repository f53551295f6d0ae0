"""Wiring: the Worker for the ``experiments`` task queue, search-attribute registration, payload codec."""

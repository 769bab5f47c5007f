"""Routers of the ``/api/v2`` surface."""

"""Optuna studies that outlive a call: storages, exclusive and shared modes, exact budgets
across workers, heartbeats, and the workers that join shared studies.

The engine (``engine.walk_forward``) drives studies in memory; this layer opens them in a
journal file, SQLite or PostgreSQL (``storages.open_storage``, the one place that builds a
storage from a string) and hands them to the engine's runner (``runs.run_study``).
"""

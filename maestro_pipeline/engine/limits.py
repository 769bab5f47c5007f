"""Bounds shared by the engine's computations and the study spec.

A module of plain constants: the study spec (``walk_forward.config``) loads on the CLI's fast
path, where importing ``cpcv`` (numpy) would cost what the lazy imports save.
"""

# Each cpcv split is one Optuna search: more than this many is a study nobody means to run
# (and C(N, k) splits are materialized as objects before the first search).
MAX_SPLITS = 500

"""Maestro: a Dagster data-and-backtest pipeline for systematic crypto-strategy research."""

import os

# One thread per process for numba and BLAS: parallelism comes from Dagster running several
# studies (processes) side by side, and nested thread pools would oversubscribe the cores.
# setdefault keeps whatever the deployment chose.
for _variable in (
    "NUMBA_NUM_THREADS",
    "OMP_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "MKL_NUM_THREADS",
):
    os.environ.setdefault(_variable, "1")

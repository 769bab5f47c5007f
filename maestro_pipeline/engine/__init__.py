"""Pure research library: bar transforms, strategies, backtests, walk-forward, metrics.

Nothing here imports Dagster or touches files or the network.
"""

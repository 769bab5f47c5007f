"""Analytics of finished studies: QuantStats metrics and tear sheets, Optuna insights."""

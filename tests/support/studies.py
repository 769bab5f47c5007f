"""Study settings shared by tests of the engine and of the optimization layer."""

from __future__ import annotations

from maestro_pipeline.engine.walk_forward.config import WalkForwardConfig

# Small but real: 3 folds x 16 trials in batches of 8, two pruning steps.
SMALL = WalkForwardConfig(
    n_splits=3, is_oos_ratio=3.0, n_trials=16, batch_size=8, pruning_steps=2, seed=7
)

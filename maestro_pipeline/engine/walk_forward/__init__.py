"""Walk-forward studies: optimize on each fold's in-sample window, test on the window after it.

Modules: ``config`` (the study spec), ``params`` (drawing and repairing parameters),
``batched`` (the ask-and-tell loop), ``objective`` (scoring batches on in-sample windows),
``statistics`` (WFE, parameter stability, DSR, PBO), ``results`` (stitching folds),
``searches`` (a study's folds or cpcv splits and their objectives), ``segments`` (scoring
segmented training sets), ``cpcv_study`` (cpcv paths), ``plateau`` (parameter plateaus),
``validation`` (bootstrap, trade Monte Carlo, plateaus and verdict in the summary) and
``runner`` (``run_walk_forward``, either scheme). Public names are importable from here
and load on first use (PEP 562), so reading the spec does not import Optuna or vectorbt.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from maestro_pipeline.engine.lazy import lazy_exports

_EXPORTS = {
    "ConfigError": "config",
    "OBJECTIVES": "config",
    "PRUNERS": "config",
    "SettingInfo": "config",
    "WalkForwardConfig": "config",
    "setting_infos": "config",
    "repair_order": "params",
    "BatchProgress": "batched",
    "OptimizationSummary": "batched",
    "TrialCoordinator": "batched",
    "optimize_batched": "batched",
    "fold_objective": "objective",
    "parameter_stability": "statistics",
    "walk_forward_efficiency": "statistics",
    "WalkForwardResult": "results",
    "FoldStudyRequest": "runner",
    "WalkForwardProgress": "runner",
    "data_fingerprint": "runner",
    "run_walk_forward": "runner",
    "study_name": "runner",
    "walk_forward_folds": "searches",
    "study_windows": "searches",
    "window_objective": "searches",
    "SUMMARY_KEYS": "validation",
}

__all__ = [
    "OBJECTIVES",
    "PRUNERS",
    "SUMMARY_KEYS",
    "BatchProgress",
    "ConfigError",
    "FoldStudyRequest",
    "OptimizationSummary",
    "SettingInfo",
    "TrialCoordinator",
    "WalkForwardConfig",
    "WalkForwardProgress",
    "WalkForwardResult",
    "data_fingerprint",
    "fold_objective",
    "optimize_batched",
    "parameter_stability",
    "repair_order",
    "run_walk_forward",
    "setting_infos",
    "study_name",
    "study_windows",
    "walk_forward_efficiency",
    "walk_forward_folds",
    "window_objective",
]

if TYPE_CHECKING:
    from maestro_pipeline.engine.walk_forward.batched import (
        BatchProgress,
        OptimizationSummary,
        TrialCoordinator,
        optimize_batched,
    )
    from maestro_pipeline.engine.walk_forward.config import (
        OBJECTIVES,
        PRUNERS,
        ConfigError,
        SettingInfo,
        WalkForwardConfig,
        setting_infos,
    )
    from maestro_pipeline.engine.walk_forward.objective import fold_objective
    from maestro_pipeline.engine.walk_forward.params import repair_order
    from maestro_pipeline.engine.walk_forward.results import WalkForwardResult
    from maestro_pipeline.engine.walk_forward.runner import (
        FoldStudyRequest,
        WalkForwardProgress,
        data_fingerprint,
        run_walk_forward,
        study_name,
    )
    from maestro_pipeline.engine.walk_forward.searches import (
        study_windows,
        walk_forward_folds,
        window_objective,
    )
    from maestro_pipeline.engine.walk_forward.statistics import (
        parameter_stability,
        walk_forward_efficiency,
    )
    from maestro_pipeline.engine.walk_forward.validation import SUMMARY_KEYS

__getattr__ = lazy_exports(__name__, _EXPORTS)

"""What one fold's search left behind: its trials and the in-sample Sharpes scored on the way."""

from __future__ import annotations

from dataclasses import dataclass

from optuna.trial import FrozenTrial, TrialState

from maestro_pipeline.engine.cpcv import CpcvSplit
from maestro_pipeline.engine.splits import WalkForwardFold
from maestro_pipeline.engine.walk_forward.batched import INFEASIBLE_ATTR


@dataclass(frozen=True)
class FoldOutcome:
    """What one search (a walk-forward fold or a cpcv split) left: its trials and the IS
    Sharpes scored on the way."""

    fold: WalkForwardFold | CpcvSplit
    study_name: str
    trials: list[FrozenTrial]
    is_sharpes: dict[str, float]
    n_evaluated_here: int

    def complete(self) -> list[FrozenTrial]:
        return [t for t in self.trials if t.state == TrialState.COMPLETE]

    def best(self) -> FrozenTrial | None:
        complete = self.complete()
        # Ties go to the earliest trial, as Optuna's own best_trial does.
        return max(complete, key=lambda t: (t.value, -t.number)) if complete else None

    def counts(self) -> dict[str, int]:
        return {
            "n_complete": sum(t.state == TrialState.COMPLETE for t in self.trials),
            "n_pruned": sum(t.state == TrialState.PRUNED for t in self.trials),
            "n_infeasible": sum(
                t.state == TrialState.FAIL and INFEASIBLE_ATTR in t.user_attrs for t in self.trials
            ),
        }

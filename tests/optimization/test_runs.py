"""Walk-forward studies kept in Optuna storages: resumed, and shared on the storage itself."""

from __future__ import annotations

import dataclasses

import optuna
import pytest
from optuna.storages import JournalStorage
from optuna.storages.journal import JournalFileBackend

from maestro_pipeline.engine.walk_forward import WalkForwardProgress, run_walk_forward
from maestro_pipeline.optimization.runs import run_study
from tests.support.studies import SMALL

optuna.logging.set_verbosity(optuna.logging.WARNING)


def test_rerun_on_a_journal_resumes_without_new_trials(tmp_path, half_year, ema_cross):
    path = str(tmp_path / "studies.journal")
    progress: list[WalkForwardProgress] = []
    first = run_study(
        half_year, ema_cross, SMALL, storage=JournalStorage(JournalFileBackend(path)),
        progress=progress.append,
    )  # fmt: skip
    assert first.summary["n_evaluated_here"] == SMALL.n_splits * SMALL.n_trials
    assert [p.fold for p in progress] == sorted(p.fold for p in progress)
    assert progress[-1].trials_done == SMALL.n_trials and progress[-1].n_folds == SMALL.n_splits

    # A new process would open the file afresh: so does this second storage object.
    second = run_study(
        half_year, ema_cross, SMALL, storage=JournalStorage(JournalFileBackend(path))
    )
    assert second.summary["n_evaluated_here"] == 0
    assert second.folds.get_column("n_evaluated_here").to_list() == [0] * SMALL.n_splits
    keep = [c for c in first.folds.columns if c != "n_evaluated_here"]
    assert second.folds.select(keep).equals(first.folds.select(keep))
    assert second.trials.equals(first.trials)
    assert second.equity.equals(first.equity)
    assert second.summary["deflated_sharpe_ratio"] == pytest.approx(
        first.summary["deflated_sharpe_ratio"]
    )
    assert second.summary["pbo"] == first.summary["pbo"]

    # Different inputs (another seed) open other studies in the same storage.
    other = run_study(
        half_year,
        ema_cross,
        dataclasses.replace(SMALL, seed=8),
        storage=JournalStorage(JournalFileBackend(path)),
    )
    assert other.summary["n_evaluated_here"] == SMALL.n_splits * SMALL.n_trials
    names = optuna.get_all_study_names(JournalStorage(JournalFileBackend(path)))
    assert len(names) == 2 * SMALL.n_splits
    assert all(n.startswith("ema_cross:") and ":fold-0" in n for n in names)


def test_shared_storage_mode_gives_the_same_study(tmp_path, half_year, ema_cross):
    """exclusive=False asks and tells on the storage itself; the trials are the same."""
    result = run_walk_forward(half_year, ema_cross, SMALL)
    storage = JournalStorage(JournalFileBackend(str(tmp_path / "shared.journal")))
    shared = run_study(half_year, ema_cross, SMALL, storage=storage, exclusive=False)
    assert shared.folds.drop("n_evaluated_here").equals(result.folds.drop("n_evaluated_here"))
    assert shared.trials.equals(result.trials)
    stored = optuna.load_study(study_name=shared.folds["study_name"][0], storage=storage)
    assert len(stored.trials) == SMALL.n_trials


def test_a_cpcv_study_resumes_to_the_same_paths_and_verdict(tmp_path, half_year, ema_cross):
    cpcv = dataclasses.replace(SMALL, scheme="cpcv", n_groups=4, n_test_groups=2)
    path = str(tmp_path / "cpcv.journal")
    first = run_study(half_year, ema_cross, cpcv, storage=JournalStorage(JournalFileBackend(path)))
    assert first.summary["n_evaluated_here"] == 6 * cpcv.n_trials  # C(4, 2) splits
    second = run_study(half_year, ema_cross, cpcv, storage=JournalStorage(JournalFileBackend(path)))
    assert second.summary["n_evaluated_here"] == 0
    assert second.trials.equals(first.trials)
    assert second.paths.equals(first.paths) and second.paths.height == 3 * half_year.height
    # Resumed trials get their IS Sharpes from the split's own evaluator: equal statistics.
    for key in ("deflated_sharpe", "cpcv", "bootstrap", "plateau", "verdict", "verdict_details"):
        assert second.summary[key] == first.summary[key], key
    names = optuna.get_all_study_names(JournalStorage(JournalFileBackend(path)))
    assert len(names) == 6

"""The storage string accepted by --storage and the Dagster Optuna resource."""

from __future__ import annotations

import optuna
import pytest

from maestro_pipeline.optimization.storages import optuna_storage


def test_nothing_means_in_memory():
    assert optuna_storage(None) is None
    assert optuna_storage("  ") is None


def test_urls_pass_through_for_open_study(tmp_path):
    url = f"sqlite:///{tmp_path / 'deep' / 'studies.db'}"
    assert optuna_storage(url) == url
    assert (tmp_path / "deep").is_dir()
    assert optuna_storage("postgresql+psycopg://u@host/db") == "postgresql+psycopg://u@host/db"


def test_journal_and_sqlite_paths(tmp_path):
    journal = optuna_storage(tmp_path / "optuna" / "studies.journal")
    assert isinstance(journal, optuna.storages.JournalStorage)
    optuna.create_study(storage=journal, study_name="s").optimize(lambda t: 1.0, n_trials=1)
    assert (tmp_path / "optuna" / "studies.journal").stat().st_size > 0
    assert isinstance(optuna_storage(str(tmp_path / "a.log")), optuna.storages.JournalStorage)
    assert optuna_storage(str(tmp_path / "x.db")) == f"sqlite:///{(tmp_path / 'x.db').resolve()}"


def test_anything_else_is_a_clear_error(tmp_path):
    with pytest.raises(ValueError, match="neither a SQLAlchemy URL"):
        optuna_storage(str(tmp_path / "studies.txt"))

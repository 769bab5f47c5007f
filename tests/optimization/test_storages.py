"""The storage string accepted by --storage and the Dagster Optuna resource."""

from __future__ import annotations

import optuna
import pytest

from maestro_pipeline.optimization.storages import (
    is_journal_directory,
    optuna_storage,
    storage_of_study,
)


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


def test_a_journal_directory_gives_each_study_its_own_file(tmp_path):
    directory = f"{tmp_path / 'optuna'}/"
    assert is_journal_directory(directory)
    first = storage_of_study(directory, "ema_cross.BTC-USD.1h")
    second = storage_of_study(directory, "rsi.BTC-USD.1h")
    assert first == str(tmp_path / "optuna" / "ema_cross.BTC-USD.1h.journal")
    assert first != second
    for spec in (first, second):
        optuna.create_study(storage=optuna_storage(spec), study_name="fold-00").optimize(
            lambda t: 1.0, n_trials=2
        )
    # Each file holds its own study only: opening one replays nothing of the other.
    assert len(optuna.get_all_study_summaries(optuna_storage(first))) == 1
    # Files and databases name one storage for every study.
    assert storage_of_study("sqlite:///x.db", "a.b.1h") == "sqlite:///x.db"
    assert storage_of_study(str(tmp_path / "all.journal"), "a.b.1h") == str(
        tmp_path / "all.journal"
    )
    assert storage_of_study(None, "a.b.1h") is None


def test_a_journal_directory_is_not_one_storage(tmp_path):
    with pytest.raises(ValueError, match="one per study"):
        optuna_storage(f"{tmp_path}/")

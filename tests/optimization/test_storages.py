"""The storage string accepted by --storage and the Dagster Optuna resource."""

from __future__ import annotations

from pathlib import Path

import optuna
import pytest
from optuna.storages.journal import JournalFileBackend

from maestro_pipeline.optimization.storages import (
    grouped_writes,
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


def _finished(value: float) -> optuna.trial.FrozenTrial:
    return optuna.trial.create_trial(
        params={"x": value},
        distributions={"x": optuna.distributions.FloatDistribution(0.0, 10.0)},
        value=value * 2,
    )


def test_grouped_trials_reach_the_journal_in_one_write_in_order(tmp_path):
    path = str(tmp_path / "grouped.journal")
    storage = optuna_storage(path)
    study = optuna.create_study(storage=storage, study_name="fold-00")
    other_process = optuna.storages.JournalStorage(JournalFileBackend(path))
    lines_before = Path(path).read_text().count("\n")
    with grouped_writes(storage):
        study.add_trials([_finished(float(v)) for v in range(5)])
        # Held: another process sees none of the batch yet, and no line was written.
        assert optuna.load_study(study_name="fold-00", storage=other_process).trials == []
        assert Path(path).read_text().count("\n") == lines_before
    seen = optuna.load_study(study_name="fold-00", storage=other_process).trials
    assert [(t.number, t.params["x"], t.value) for t in seen] == [
        (n, float(n), 2.0 * n) for n in range(5)
    ]
    assert [t.number for t in study.trials] == list(range(5))


def test_a_write_by_another_process_during_a_group_keeps_both_studies_whole(tmp_path):
    path = str(tmp_path / "shared.journal")
    storage = optuna_storage(path)
    mine = optuna.create_study(storage=storage, study_name="mine")
    other_storage = optuna.storages.JournalStorage(JournalFileBackend(path))
    theirs = optuna.create_study(storage=other_storage, study_name="theirs")
    with grouped_writes(storage):
        mine.add_trials([_finished(1.0), _finished(2.0), _finished(3.0)])
        theirs.add_trials([_finished(7.0), _finished(8.0)])
    mine.add_trials([_finished(4.0)])
    fresh = optuna.storages.JournalStorage(JournalFileBackend(path))
    for view in (storage, other_storage, fresh):
        by_name = {
            name: [t.params["x"] for t in optuna.load_study(study_name=name, storage=view).trials]
            for name in ("mine", "theirs")
        }
        assert by_name == {"mine": [1.0, 2.0, 3.0, 4.0], "theirs": [7.0, 8.0]}


def test_other_storages_write_as_they_always_did(tmp_path):
    with grouped_writes(None):
        pass
    url = f"sqlite:///{tmp_path / 'x.db'}"
    study = optuna.create_study(storage=url, study_name="s")
    with grouped_writes(optuna.storages.RDBStorage(url)):
        study.add_trials([_finished(1.0)])
    assert len(optuna.load_study(study_name="s", storage=url).trials) == 1

"""Where Optuna studies are kept, from one string: a database URL or a journal file path.

* ``None`` or ``""``: in memory (nothing survives the process; fastest, ~2 ms per trial).
* a SQLAlchemy URL (``sqlite:///studies.db``, ``postgresql+psycopg://user@host/db``): returned
  as is, so that ``engine.optimize.open_study`` builds the RDB storage with heartbeats and
  SQLite write-ahead logging. A shared PostgreSQL serves many workers on many machines;
  SQLite costs ~25-30 ms per trial.
* a path ending in ``.log`` or ``.journal``: Optuna's journal file storage (~5 ms per trial),
  append-only, resumable, safe for several processes on one machine.
* a path ending in ``.db``, ``.sqlite`` or ``.sqlite3``: shorthand for ``sqlite:///PATH``.

All of them open in ``optuna-dashboard`` (the journal file as ``optuna-dashboard FILE``).
"""

from __future__ import annotations

from pathlib import Path

import optuna
from optuna.storages.journal import JournalFileBackend

JOURNAL_SUFFIXES = (".log", ".journal")
SQLITE_SUFFIXES = (".db", ".sqlite", ".sqlite3")


def optuna_storage(spec: str | Path | None) -> str | optuna.storages.BaseStorage | None:
    """The Optuna storage described by ``spec`` (see the module docstring).

    Journal files and SQLite files get their parent directory created. Raises
    ``ValueError`` for anything else, naming what is accepted.
    """
    if spec is None:
        return None
    text = str(spec).strip()
    if not text:
        return None
    if "://" in text:
        scheme = text.split("://", 1)[0]
        if not scheme or not scheme.replace("+", "").replace("_", "").isalnum():
            raise ValueError(f"storage URL {text!r} has no valid scheme (e.g. sqlite:///x.db)")
        if scheme.startswith("sqlite"):
            database = text.split("://", 1)[1].lstrip("/")
            if database and database != ":memory:":
                Path(text.split("://", 1)[1][1:]).parent.mkdir(parents=True, exist_ok=True)
        return text
    path = Path(text).expanduser()
    suffix = path.suffix.lower()
    if suffix in JOURNAL_SUFFIXES:
        if path.is_dir():
            raise ValueError(f"journal storage path {str(path)!r} is a directory")
        path.parent.mkdir(parents=True, exist_ok=True)
        return optuna.storages.JournalStorage(JournalFileBackend(str(path)))
    if suffix in SQLITE_SUFFIXES:
        path.parent.mkdir(parents=True, exist_ok=True)
        return f"sqlite:///{path.resolve()}"
    raise ValueError(
        f"storage {text!r} is neither a SQLAlchemy URL (sqlite:///x.db, "
        "postgresql+psycopg://user@host/db) nor a file path ending in "
        f"{', '.join(JOURNAL_SUFFIXES + SQLITE_SUFFIXES)}"
    )


def is_shared_storage(spec: str | Path | None) -> bool:
    """Whether ``spec`` names a database server (PostgreSQL, MySQL) that other workers reach.

    Studies there are run in shared mode, so that `maestro worker` processes on any machine
    can join them; files (journal, SQLite) and memory belong to one run.
    """
    text = "" if spec is None else str(spec).strip()
    return "://" in text and not text.split("://", 1)[0].startswith("sqlite")

"""A study backfill on Celery workers (Redis broker, PostgreSQL instance) equals the same
backfill on Dagster's multiprocess executor. Real servers, real daemon, real workers."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from dagster import DagsterInstance, DagsterRunStatus, MultiPartitionKey, RunsFilter
from dagster._core.instance.ref import InstanceRef

from maestro_pipeline.keys import SERIES_DIM, STRATEGY_DIM, StudyKey
from maestro_pipeline.storage.studies import StudyStore
from tests.support.processes import COMMAND_SECONDS, stop, wait_for_line, wait_until
from tests.support.servers import ServerUnavailable, postgres_server, redis_server

REPO_ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
STRATEGIES = ("ema_cross", "rsi", "macd")
# Three months of bars, two folds of twenty trials: small, but every piece of the path.
STUDY_ENV = {
    "MAESTRO_SYMBOLS": "BTC/USD",
    "MAESTRO_START": "2019-07-01",
    "MAESTRO_END": "2019-10-01",
    "MAESTRO_STUDY_SPLITS": "2",
    "MAESTRO_STUDY_TRIALS": "20",
}


@pytest.fixture(scope="module")
def servers():
    try:
        with postgres_server("dagster") as pg, redis_server() as redis:
            yield pg.replace("postgresql+psycopg://", "postgresql+psycopg2://"), redis
    except ServerUnavailable as exc:
        if os.environ.get("CI"):
            raise
        pytest.skip(str(exc))


def _run(command: list[str], env: dict[str, str], timeout: float = COMMAND_SECONDS) -> None:
    result = subprocess.run(command, cwd=REPO_ROOT, env=env, capture_output=True,
                            timeout=timeout, text=True)  # fmt: skip
    assert result.returncode == 0, f"{command}\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"


@contextlib.contextmanager
def _background(command: list[str], env: dict[str, str], log: Path):
    with log.open("wb") as sink:
        process = subprocess.Popen(command, cwd=REPO_ROOT, env=env, stdout=sink,
                                   stderr=subprocess.STDOUT, start_new_session=True)  # fmt: skip
    try:
        yield process
    finally:
        # Whole process group: the daemon's code server and Celery's pool processes too.
        stop(process, group=True)


def _home(root: Path, source: Path) -> Path:
    home = root / "dagster_home"
    home.mkdir(parents=True)
    shutil.copy(source, home / "dagster.yaml")
    return home


def _backfill(env: dict[str, str], home: Path, logs: Path, partitions: list[str]) -> None:
    """Submit the study backfill through the daemon and wait until every run has ended."""
    # The instance's storage is created here, by one process, before the daemon and the
    # backfill command start together: both would otherwise create a fresh SQLite instance's
    # tables at once and stamp its schema version twice.
    instance = DagsterInstance.from_ref(InstanceRef.from_dir(str(home)))
    log = logs / "daemon.log"
    try:
        with _background([str(BIN / "dagster-daemon"), "run", "-w", "workspace.yaml"], env,
                         log) as daemon:  # fmt: skip
            keys = ",".join(partitions)
            _run([str(BIN / "dagster"), "job", "backfill", "-w", "workspace.yaml", "-j",
                  "walk_forward_job", "--partitions", keys, "--noprompt"], env)  # fmt: skip

            def all_ended() -> list:
                runs = instance.get_runs(RunsFilter(job_name="walk_forward_job"))
                ended = [r for r in runs if r.is_finished]
                return ended if len(ended) == len(runs) == len(partitions) else []

            ended = wait_until(all_ended, "every run of the backfill ended",
                               timeout=COMMAND_SECONDS, process=daemon, log=log,
                               interval=1.0)  # fmt: skip
    finally:
        instance.dispose()
    failed = [r.run_id for r in ended if r.status != DagsterRunStatus.SUCCESS]
    assert not failed, f"failed runs {failed}: see {logs}"


def _published(data_dir: Path, strategy: str) -> dict:
    store = StudyStore(data_dir)
    summary = store.read_summary(StudyKey(strategy, "BTC/USD", "1h"))
    folds = store.read_frame(StudyKey(strategy, "BTC/USD", "1h"), "folds")
    return {
        "best_params": folds.get_column("best_params").to_list(),
        "oos": {k: summary["oos"][k] for k in ("sharpe_ratio", "total_return", "trade_count")},
        "n_trials_total": summary["n_trials_total"],
    }


def test_study_backfill_on_two_celery_workers_matches_the_multiprocess_executor(
    servers, tmp_path, monkeypatch
):
    pg_url, redis_url = servers
    # The PostgreSQL instance's config reads its database URL from the environment.
    monkeypatch.setenv("MAESTRO_DAGSTER_PG_URL", pg_url)
    broker, backend = redis_url, redis_url.rsplit("/", 1)[0] + "/1"
    base = {**os.environ, **STUDY_ENV, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}",
            "PYTHONPATH": str(REPO_ROOT)}  # fmt: skip
    partitions = [
        str(MultiPartitionKey({STRATEGY_DIM: s, SERIES_DIM: "BTC/USD@1h"})) for s in STRATEGIES
    ]

    # Celery: PostgreSQL instance, Redis broker, two single-process workers.
    celery_root, logs = tmp_path / "celery", tmp_path / "logs"
    logs.mkdir()
    celery_home = _home(celery_root, REPO_ROOT / "deploy" / "distributed" / "dagster.yaml")
    celery_env = {**base, "DAGSTER_HOME": str(celery_home), "MAESTRO_DAGSTER_PG_URL": pg_url,
                  "MAESTRO_DATA_DIR": str(celery_root / "data"), "MAESTRO_EXECUTOR": "celery",
                  "MAESTRO_CELERY_BROKER": broker, "MAESTRO_CELERY_BACKEND": backend}  # fmt: skip
    _run([str(BIN / "maestro"), "materialize", "--job", "market_data_job"], celery_env)
    worker_yaml = REPO_ROOT / "deploy" / "distributed" / "celery-worker.yaml"
    # The multiprocess run reads the very same bars.
    shutil.copytree(celery_root / "data" / "lake", tmp_path / "multiprocess" / "data" / "lake")

    workers = [
        _background(
            [
                str(BIN / "dagster-celery"),
                "worker",
                "start",
                "-A",
                "dagster_celery.app",
                "-y",
                str(worker_yaml),
                "-n",
                name,
                "--",
                "--concurrency",
                "1",
            ],
            celery_env,
            logs / f"{name}.log",
        )
        for name in ("worker1", "worker2")
    ]
    with contextlib.ExitStack() as stack:
        started = [stack.enter_context(worker) for worker in workers]
        # Celery logs "<name>@<host> ready." once it consumes tasks. Both are ready before the
        # backfill starts, so neither finds the queue already drained by the other.
        for name, process in zip(("worker1", "worker2"), started, strict=True):
            wait_for_line(logs / f"{name}.log", " ready.", process)
        _backfill(celery_env, celery_home, logs, partitions)
    executed = {
        name: (logs / f"{name}.log").read_text(errors="replace").count("succeeded in")
        for name in ("worker1", "worker2")
    }
    # Each run's two steps (study, report) were Celery tasks, spread over both workers.
    assert sum(executed.values()) == 2 * len(partitions), executed
    assert all(executed.values()), executed

    # The same backfill on the default executor, in a SQLite instance of its own.
    mp_root = tmp_path / "multiprocess"
    mp_home = _home(mp_root, REPO_ROOT / "dagster.yaml")
    mp_env = {**base, "DAGSTER_HOME": str(mp_home), "MAESTRO_DATA_DIR": str(mp_root / "data")}
    mp_env.pop("MAESTRO_EXECUTOR", None)
    _backfill(mp_env, mp_home, logs, partitions)

    for strategy in STRATEGIES:
        on_celery = _published(celery_root / "data", strategy)
        on_multiprocess = _published(mp_root / "data", strategy)
        assert on_celery == on_multiprocess, strategy
        assert on_celery["n_trials_total"] == 2 * 20

"""The market-data asset graph end to end, with real resources in a temporary directory."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from maestro_pipeline.defs.market_data import market_data_assets
from maestro_pipeline.defs.resources import MarketDataResource, build_resources
from maestro_pipeline.defs.schedules import refresh_latest_bars
from maestro_pipeline.settings import Settings
from tests.support.binance_server import BinanceLikeServer
from tests.support.processes import COMMAND_SECONDS

ROOT = Path(__file__).resolve().parents[2]
PARTITIONS = ["2017-10-01|BTC/USD", "2017-10-01|ETH/USD", "2018-02-01|BTC/USD"]


def _materialize(settings: Settings, key: str, instance: dg.DagsterInstance, **kwargs):
    return dg.materialize(
        market_data_assets,
        partition_key=key,
        resources=build_resources(settings),
        instance=instance,
        **kwargs,
    )


def _warehouse_counts(settings: Settings) -> list[tuple]:
    with duckdb.connect(str(settings.warehouse_path), read_only=True) as conn:
        return conn.execute(
            "SELECT symbol, timeframe, count(*), count(DISTINCT timestamp) FROM ohlcv "
            "GROUP BY ALL ORDER BY ALL"
        ).fetchall()


def _month_rows(frame, year: int, month: int) -> int:
    ts = frame.get_column("timestamp")
    return int(((ts.dt.year() == year) & (ts.dt.month() == month)).sum())


def test_graph_materializes_and_rematerializing_changes_nothing(sample_settings, btc_30m, eth_30m):
    instance = dg.DagsterInstance.ephemeral()
    for key in PARTITIONS:
        result = _materialize(sample_settings, key, instance)
        assert result.success
        checks = result.get_asset_check_evaluations()
        assert len(checks) == 6
        assert all(c.passed for c in checks), [c.check_name for c in checks if not c.passed]
    first = _warehouse_counts(sample_settings)
    by_series = {(s, tf): n for s, tf, n, _ in first}
    assert by_series[("ETH/USD", "30m")] == _month_rows(eth_30m, 2017, 10)
    assert by_series[("BTC/USD", "30m")] == _month_rows(btc_30m, 2017, 10) + _month_rows(
        btc_30m, 2018, 2
    )
    assert by_series[("BTC/USD", "1d")] == 31 + 28
    assert all(n == distinct for *_, n, distinct in first)

    lake_files = sorted(
        p.relative_to(sample_settings.data_dir) for p in sample_settings.data_dir.rglob("*.parquet")
    )
    for key in PARTITIONS:
        assert _materialize(sample_settings, key, instance).success
    assert _warehouse_counts(sample_settings) == first
    assert (
        sorted(
            p.relative_to(sample_settings.data_dir)
            for p in sample_settings.data_dir.rglob("*.parquet")
        )
        == lake_files
    )

    mat = instance.get_latest_materialization_event(dg.AssetKey("bars"))
    meta = mat.asset_materialization.metadata
    assert meta["dagster/row_count"].value > 1000
    assert meta["first_timestamp"].value.startswith("2018-02-01")
    assert "preview" in meta and "gap_ratio" in meta


def test_exchange_source_through_the_graph_rejects_a_malformed_row_and_keeps_data_on_failure(
    tmp_path, btc_30m
):
    with BinanceLikeServer({"BTC/USD": btc_30m}, max_limit=500) as server:
        settings = Settings(
            source="ccxt", exchange="binance", exchange_url=server.base_url, data_dir=tmp_path
        )
        resources = build_resources(settings)
        # Resources are immutable configuration: build a new one with quick backoff.
        resources["market_data"] = MarketDataResource(
            **{
                **resources["market_data"].model_dump(),
                "retry_base_seconds": 0.01,
                "page_limit": 500,
            }
        )
        bad_ts = int(datetime(2017, 10, 3, 12, tzinfo=UTC).timestamp() * 1000)
        server.malformed_at["BTCUSD"] = bad_ts
        instance = dg.DagsterInstance.ephemeral()
        key = "2017-10-01|BTC/USD"
        result = dg.materialize(
            market_data_assets, partition_key=key, resources=resources, instance=instance
        )
        assert result.success
        bars_meta = result.asset_materializations_for_node("bars")[0].metadata
        assert bars_meta["invalid_rows_rejected"].value == 1
        assert bars_meta["dagster/row_count"].value == 1487
        failed = {c.check_name for c in result.get_asset_check_evaluations() if not c.passed}
        assert failed == {"no_rejected_rows"}
        before = _warehouse_counts(settings)
        lake_bytes = {p: p.read_bytes() for p in tmp_path.rglob("*.parquet")}

        server.fail_after = server.kline_requests + 1  # the exchange dies after one more page
        again = dg.materialize(
            market_data_assets,
            partition_key=key,
            resources=resources,
            instance=instance,
            raise_on_error=False,
        )
        assert not again.success
        errors = [e for e in again.all_events if e.is_step_failure]
        assert "failed after retries" in str(errors[0].step_failure_data.error)
    assert _warehouse_counts(settings) == before
    assert {p: p.read_bytes() for p in tmp_path.rglob("*.parquet")} == lake_bytes


def test_schedule_requests_the_latest_month_of_every_symbol():
    context = dg.build_schedule_context(
        scheduled_execution_time=datetime(2030, 1, 1, 0, 15, tzinfo=UTC)
    )
    requests = refresh_latest_bars(context)
    keys = sorted(str(r.partition_key) for r in requests)
    assert keys == ["2019-09-01|BTC/USD", "2019-09-01|ETH/USD"]


def test_definitions_validate(tmp_path):
    env = {**os.environ, "DAGSTER_HOME": str(tmp_path)}
    (tmp_path / "dagster.yaml").write_text((ROOT / "dagster.yaml").read_text())
    proc = subprocess.run(
        [
            str(Path(sys.executable).with_name("dagster")),
            "definitions",
            "validate",
            "-w",
            "workspace.yaml",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=COMMAND_SECONDS,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "All code locations passed validation" in proc.stderr + proc.stdout


@pytest.mark.slow
def test_full_backfill_from_the_cli_twice_changes_nothing(tmp_path):
    """All 48 sample partitions through `maestro materialize`, recorded in a real instance."""
    home = tmp_path / "home"
    home.mkdir()
    (home / "dagster.yaml").write_text((ROOT / "dagster.yaml").read_text())
    env = {**os.environ, "DAGSTER_HOME": str(home), "MAESTRO_DATA_DIR": str(tmp_path / "data")}
    maestro = str(Path(sys.executable).with_name("maestro"))
    settings = replace(Settings(), data_dir=tmp_path / "data")
    counts = []
    for extra in ([], [], ["--missing"]):
        proc = subprocess.run(
            [maestro, "materialize", "--job", "market_data_job", *extra],
            env=env,
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=COMMAND_SECONDS,
        )
        assert proc.returncode == 0, proc.stderr[-3000:]
        counts.append(_warehouse_counts(settings))
        if extra:
            assert "every partition is materialized" in proc.stdout
        else:
            assert "48/48 partitions" in proc.stdout
    assert counts[0] == counts[1] == counts[2]
    totals = {(s, tf): n for s, tf, n, _ in counts[0]}
    assert totals[("BTC/USD", "30m")] == 35_018  # 35,019 sample rows minus the 2019-10-01 bar
    assert totals[("ETH/USD", "1d")] == 730
    with dg.DagsterInstance.from_config(str(home)) as instance:
        runs = instance.get_run_records(dg.RunsFilter(job_name="market_data_job"))
        # Many partitions per run: one run for the 48 partitions, each time.
        assert len(runs) == 2
        assert all(r.dagster_run.status == dg.DagsterRunStatus.SUCCESS for r in runs)
        for asset in ("raw_ohlcv", "bars", "ohlcv"):
            events = instance.fetch_materializations(dg.AssetKey(asset), limit=200).records
            assert len(events) == 96
            per_partition = {e.partition_key for e in events}
            assert len(per_partition) == 48

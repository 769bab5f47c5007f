"""Ingest under load: 50 chart clients read a year of 1h bars over HTTP while a backfill
re-materializes the same twelve months through the Dagster assets with revised prices.

Every month file is replaced while it is being read; each answer must be whole: the year's exact
timestamps, once each, and every month equal to one complete version of it (old or new), never a
mixture or a partial file. Failed requests and torn reads are counted; both must be 0.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections import Counter
from dataclasses import dataclass, field

import dagster as dg
import httpx
import numpy as np
import orjson
import polars as pl
import uvicorn

from api.main import create_app
from maestro_pipeline.defs.market_data import market_data_assets
from maestro_pipeline.defs.resources import MarketDataResource, build_resources
from maestro_pipeline.settings import Settings
from tests.api.conftest import api_config, free_port
from tests.support.binance_server import BinanceLikeServer
from tests.support.processes import STOP_SECONDS, wait_until

CLIENTS = 50
POLL_SECONDS = 0.2  # each chart client asks again after this pause
MAX_REQUESTS_PER_CLIENT = 1500  # bounds the load (with the time limit) whatever the machine
TIME_LIMIT_SECONDS = 900.0
YEAR = "2018"
MONTHS = tuple(f"{YEAR}-{m:02d}-01" for m in range(1, 13))
PRICES = ("open", "high", "low", "close")
BARS_URL = "/api/v2/bars/BTC-USD"


def _query(client: int) -> dict[str, str]:
    """The year of 1h bars. Each client's end lies a few minutes apart past the last bar: the
    same bars, but its own response-cache entry, so every client reads the lake itself after
    each rewrite instead of being served one shared cached answer."""
    return {
        "timeframe": "1h",
        "start": f"{YEAR}-01-01T00:00:00Z",
        "end": f"2019-01-01T00:{client:02d}:00Z",
    }


def _materialize(resources: dict, instance: dg.DagsterInstance, months=MONTHS) -> None:
    for month in months:
        result = dg.materialize(
            market_data_assets,
            partition_key=f"{month}|BTC/USD",
            resources=resources,
            instance=instance,
        )
        assert result.success


@dataclass
class Version:
    """One published version of the year: its bars, and the row range of each month."""

    bars: pl.DataFrame
    months: list[tuple[int, int]] = field(init=False)

    def __post_init__(self) -> None:
        month = self.bars.get_column("timestamp").dt.month().to_numpy()
        bounds = np.flatnonzero(np.diff(month)) + 1
        edges = [0, *bounds.tolist(), len(month)]
        self.months = list(itertools.pairwise(edges))

    def column(self, name: str) -> np.ndarray:
        if name == "timestamp":
            return self.bars.get_column("timestamp").dt.epoch("ms").to_numpy()
        return self.bars.get_column(name).to_numpy()


@dataclass
class Tally:
    requests: int = 0
    failures: list[str] = field(default_factory=list)
    torn: list[str] = field(default_factory=list)
    during_backfill: int = 0
    mixtures: Counter = field(default_factory=Counter)  # (old months, new months) per answer
    lock: threading.Lock = field(default_factory=threading.Lock)


def _judge(body: dict, old: Version, new: Version) -> tuple[str | None, tuple[int, int]]:
    """Why an answer is torn (None if whole) and how many months are old and new."""
    stamps = np.asarray(body["timestamp"], dtype=np.int64)
    if body["count"] != len(stamps) or not np.array_equal(stamps, old.column("timestamp")):
        duplicated = len(stamps) - len(np.unique(stamps))
        return (
            f"{len(stamps)} bars ({duplicated} duplicated timestamps), "
            f"expected the year's {old.bars.height}",
            (0, 0),
        )
    counts = [0, 0]
    for index, (lo, hi) in enumerate(old.months):
        got = {name: np.asarray(body[name][lo:hi], dtype=np.float64) for name in PRICES}
        for which, version in enumerate((old, new)):
            if all(np.array_equal(got[n], version.column(n)[lo:hi]) for n in PRICES):
                counts[which] += 1
                break
        else:
            return f"month {index + 1} is neither the old nor the new version", (0, 0)
    return None, (counts[0], counts[1])


def _chart_client(
    url: str, query: dict, old: Version, new: Version, tally: Tally, backfill: dict, deadline: float
) -> None:
    with httpx.Client(base_url=url, timeout=120) as client:
        for _ in range(MAX_REQUESTS_PER_CLIENT):
            started = time.monotonic()
            began_during = backfill.get("started", np.inf) <= started
            try:
                response = client.get(BARS_URL, params=query)
                problem = None if response.status_code == 200 else f"HTTP {response.status_code}"
                body = orjson.loads(response.content) if problem is None else None
            except httpx.HTTPError as exc:
                problem, body = f"{type(exc).__name__}: {exc}", None
            torn, mix = _judge(body, old, new) if body is not None else (None, (0, 0))
            ended_during = "ended" not in backfill
            with tally.lock:
                tally.requests += 1
                if problem:
                    tally.failures.append(problem)
                if torn:
                    tally.torn.append(torn)
                if began_during and ended_during:
                    tally.during_backfill += 1
                tally.mixtures[mix] += 1
            # Keep reading while the backfill runs, and once more after it.
            if ("ended" in backfill and backfill["ended"] < started) or time.monotonic() > deadline:
                return
            time.sleep(POLL_SECONDS)


def test_chart_clients_never_see_a_torn_month_while_a_backfill_rewrites_it(tmp_path, btc_30m):
    with BinanceLikeServer({"BTC/USD": btc_30m}) as exchange:
        settings = Settings(
            source="ccxt",
            exchange="binance",
            exchange_url=exchange.base_url,
            symbols=("BTC/USD",),
            timeframes=("1h",),
            data_dir=tmp_path / "data",
        )
        resources = build_resources(settings)
        resources["market_data"] = MarketDataResource(
            **{**resources["market_data"].model_dump(), "retry_base_seconds": 0.01}
        )
        instance = dg.DagsterInstance.ephemeral()
        _materialize(resources, instance)
        old = Version(settings.lake.read_bars("binance", "BTC/USD", "1h"))
        assert old.bars.height > 8700 and len(old.months) == 12

        # The exchange revises its history: every price x1.25. Scaling commutes with the 1h
        # bars' first/max/min/last, so the new version is the old one scaled (checked below
        # against what the lake holds after the backfill).
        exchange.serve("BTC/USD", btc_30m.with_columns(pl.col(p) * 1.25 for p in PRICES))
        new = Version(old.bars.with_columns(pl.col(p) * 1.25 for p in PRICES))
        backfill: dict[str, float] = {}
        outcome: dict[str, BaseException] = {}

        def run_backfill() -> None:
            backfill["started"] = time.monotonic()
            try:
                _materialize(resources, instance)
            except BaseException as exc:  # surfaced below
                outcome["error"] = exc
            finally:
                backfill["ended"] = time.monotonic()

        port = free_port()
        app = create_app(settings, api_config(tmp_path))
        server = uvicorn.Server(
            uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning")
        )
        serving = threading.Thread(target=server.run, daemon=True)
        serving.start()
        try:
            wait_until(
                lambda: server.started or not serving.is_alive(), "the API listening", interval=0.05
            )
            assert server.started, "the API's server thread ended without serving"
            tally = Tally()
            readers = [
                threading.Thread(
                    target=_chart_client,
                    args=(
                        f"http://127.0.0.1:{port}",
                        _query(index),
                        old,
                        new,
                        tally,
                        backfill,
                        time.monotonic() + TIME_LIMIT_SECONDS,
                    ),
                )
                for index in range(CLIENTS)
            ]
            for reader in readers:
                reader.start()
            writer = threading.Thread(target=run_backfill)
            writer.start()
            writer.join()
            for reader in readers:
                reader.join()
        finally:
            server.should_exit = True
            serving.join(timeout=STOP_SECONDS)

    assert "error" not in outcome, outcome.get("error")
    final = Version(settings.lake.read_bars("binance", "BTC/USD", "1h"))
    assert final.bars.equals(new.bars), "the backfill did not publish the revised prices"
    assert tally.failures == [], f"{len(tally.failures)} of {tally.requests} requests failed"
    assert tally.torn == [], f"{len(tally.torn)} of {tally.requests} answers torn: {tally.torn[:3]}"
    assert tally.during_backfill > 0, "no read overlapped the backfill"
    # Each client's last request started after the backfill: all twelve months are new.
    assert tally.mixtures[(0, 12)] >= CLIENTS, dict(tally.mixtures)

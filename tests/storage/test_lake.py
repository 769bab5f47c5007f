"""The Parquet lake: safe paths, atomic writes, ranged reads."""

from __future__ import annotations

from datetime import UTC, datetime

import polars as pl
import pytest

from maestro_pipeline.engine.bars import resample_bars
from maestro_pipeline.keys import UnknownSymbolError, symbol_slug
from maestro_pipeline.storage.files import atomic_write_parquet
from maestro_pipeline.storage.lake import Lake


@pytest.mark.parametrize("bad", ["../../etc", "BTC/../x", "BTC", "", "BTC/USD/EUR", "a b/c"])
def test_symbols_that_could_escape_the_lake_are_rejected(bad):
    with pytest.raises(UnknownSymbolError, match="invalid symbol"):
        symbol_slug(bad)


def test_slugs_round_trip():
    assert symbol_slug("BTC/USDT") == "BTC-USDT"
    assert symbol_slug("BTC/USDT:USDT") == "BTC-USDT_USDT"


def test_failed_write_keeps_the_previous_file(tmp_path, btc_30m):
    path = tmp_path / "x.parquet"
    atomic_write_parquet(btc_30m.head(10), path)

    class Exploding(pl.DataFrame):
        def write_parquet(self, *args, **kwargs):
            raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        atomic_write_parquet(Exploding(btc_30m.head(20)), path)
    assert pl.read_parquet(path).height == 10
    assert [p.name for p in tmp_path.iterdir()] == ["x.parquet"]


def test_read_bars_across_months_and_range(tmp_path, btc_30m):
    lake = Lake(tmp_path)
    hourly = resample_bars(btc_30m, "1h")
    for (year, month), frame in hourly.group_by(
        pl.col("timestamp").dt.year().alias("y"), pl.col("timestamp").dt.month().alias("m")
    ):
        lake.write_month("bars", "sample", "BTC/USD", "1h", f"{year:04d}-{month:02d}", frame)
    assert lake.read_bars("sample", "BTC/USD", "1h").equals(hourly)
    start, end = datetime(2018, 1, 15, tzinfo=UTC), datetime(2018, 3, 2, tzinfo=UTC)
    part = lake.read_bars("sample", "BTC/USD", "1h", start, end)
    assert part["timestamp"].min() == start
    assert part["timestamp"].max() < end
    assert (
        part.height
        == hourly.filter(pl.col("timestamp").is_between(start, end, closed="left")).height
    )
    assert lake.symbols("sample") == ["BTC/USD"]


def test_unknown_symbol_lists_known_ones(tmp_path, btc_30m):
    lake = Lake(tmp_path)
    lake.write_month("bars", "sample", "BTC/USD", "1h", "2017-10", btc_30m.head(2))
    with pytest.raises(UnknownSymbolError, match="known symbols: BTC/USD"):
        lake.read_bars("sample", "XRP/USD", "1h")

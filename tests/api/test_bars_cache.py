"""Cached bars answers: gzip and identity representations, 304s, the fast path for repeated
requests, and never a cached month that the lake has replaced since."""

from __future__ import annotations

import asyncio
import gzip
import os
import time

import httpx
import orjson
import pytest

from api import bars_cache
from api.bars_cache import accepts_gzip, etag_matches
from api.main import create_app
from maestro_pipeline.settings import Settings
from maestro_pipeline.storage.lake import month_stamps
from tests.api.conftest import TestClient, api_config, month_bars

URL = "/api/v2/bars/BTC-USD"
QUERY = {"timeframe": "1h", "start": "2018-01-01", "end": "2018-04-01"}
MONTHS = ("2018-01", "2018-02", "2018-03")
GZIP = {"Accept-Encoding": "gzip, deflate"}
PLAIN = {"Accept-Encoding": "identity"}


@pytest.fixture
def settings(tmp_path) -> Settings:
    settings = Settings(data_dir=tmp_path / "data")
    for month in MONTHS:
        settings.lake.write_month("bars", "sample", "BTC/USD", "1h", month, month_bars(month))
    return settings


@pytest.fixture
def app(settings, tmp_path):
    return create_app(settings, api_config(tmp_path, cors_origins=("http://ui.example",)))


@pytest.fixture
def client(app):
    with TestClient(app) as client:
        yield client


def folder(settings: Settings) -> str:
    return str(settings.lake.series_dir("bars", "sample", "BTC/USD", "1h"))


def opens(response: httpx.Response) -> list[float]:
    return orjson.loads(response.content)["open"]


def test_gzip_and_plain_answers_carry_the_same_bars_under_their_own_etags(client, settings):
    zipped = client.get(URL, params=QUERY, headers=GZIP)
    plain = client.get(URL, params=QUERY, headers=PLAIN)
    assert zipped.status_code == plain.status_code == 200
    assert zipped.headers["content-encoding"] == "gzip"
    assert "content-encoding" not in plain.headers
    assert (
        "Accept-Encoding" in zipped.headers["vary"] and "Accept-Encoding" in plain.headers["vary"]
    )
    assert zipped.content == plain.content  # httpx decoded the gzip body
    assert int(zipped.headers["content-length"]) < len(plain.content) / 2
    assert zipped.headers["etag"] != plain.headers["etag"]
    body = orjson.loads(plain.content)
    lake = settings.lake.read_bars("sample", "BTC/USD", "1h")
    assert body["count"] == lake.height == 24 * (31 + 28 + 31)
    assert body["open"] == lake.get_column("open").to_list()


def test_a_repeated_request_is_answered_from_the_cache_with_the_same_headers(client, app):
    cache = app.state.bars_cache
    first = client.get(URL, params=QUERY, headers=GZIP)
    reads, hits = cache.stats.reads, cache.stats.hits
    again = client.get(URL, params=QUERY, headers=GZIP)
    assert (cache.stats.reads, cache.stats.hits) == (reads, hits + 1)
    assert again.content == first.content
    assert dict(again.headers) == dict(first.headers)
    # Revalidation: the slash form of the symbol is a new raw request, answered by the route
    # first, then by the fast path; neither reads the lake.
    for headers in (GZIP, PLAIN):
        etag = client.get(URL, params=QUERY, headers=headers).headers["etag"]
        for _ in range(2):
            revalidated = client.get(
                "/api/v2/bars/BTC/USD", params=QUERY, headers={**headers, "If-None-Match": etag}
            )
            assert revalidated.status_code == 304 and revalidated.content == b""
            assert revalidated.headers["etag"] == etag
            assert revalidated.headers["cache-control"] == "no-cache"
    assert cache.stats.reads == reads


def test_cached_answers_carry_cors_headers(client):
    origin = {"Origin": "http://ui.example", **GZIP}
    for _ in range(2):  # the route, then the fast path
        response = client.get(URL, params=QUERY, headers=origin)
        assert response.headers["access-control-allow-origin"] == "http://ui.example"


def test_a_rewritten_month_is_never_served_from_the_cache(client, settings):
    before = client.get(URL, params=QUERY, headers=GZIP)
    etag = before.headers["etag"]
    assert client.get(URL, params=QUERY, headers=GZIP).content == before.content

    settings.lake.write_month(
        "bars", "sample", "BTC/USD", "1h", "2018-02", month_bars("2018-02", 2)
    )
    after = client.get(URL, params=QUERY, headers={**GZIP, "If-None-Match": etag})
    assert after.status_code == 200 and after.headers["etag"] != etag
    january, february = 24 * 31, 24 * 28
    assert opens(after)[:january] == opens(before)[:january]
    assert opens(after)[january : january + february] == [
        2 * c for c in opens(before)[january : january + february]
    ]
    # A month written after the first read joins the answer.
    wider = {**QUERY, "end": "2018-05-01"}
    assert orjson.loads(client.get(URL, params=wider).content)["count"] == 24 * 90
    settings.lake.write_month("bars", "sample", "BTC/USD", "1h", "2018-04", month_bars("2018-04"))
    assert orjson.loads(client.get(URL, params=wider).content)["count"] == 24 * 120


def test_a_rewrite_within_one_clock_tick_of_the_last_is_still_seen(client, settings, app):
    """A rename in the same tick of the file-system clock as the one before leaves the folder's
    mtime unchanged: while the folder was touched recently, the months themselves decide."""
    series = folder(settings)
    before = client.get(URL, params=QUERY, headers=GZIP)
    assert client.get(URL, params=QUERY, headers=GZIP).content == before.content
    folder_mtime = os.stat(series).st_mtime_ns
    settings.lake.write_month(
        "bars", "sample", "BTC/USD", "1h", "2018-03", month_bars("2018-03", 3)
    )
    os.utime(series, ns=(folder_mtime, folder_mtime))  # as if within the same tick
    after = client.get(URL, params=QUERY, headers=GZIP)
    assert opens(after)[-1] == 3 * opens(before)[-1]


def test_a_rewrite_of_a_long_quiet_folder_is_seen(client, settings, app, monkeypatch):
    """Once the folder's mtime has stayed the same for a while, it alone vouches for the
    months; the rename of a rewrite changes it."""
    monkeypatch.setattr(bars_cache, "QUIET_NS", 100_000_000)
    before = client.get(URL, params=QUERY, headers=GZIP)
    entry = next(iter(app.state.bars_cache._entries.values()))
    assert client.get(URL, params=QUERY, headers=GZIP).content == before.content
    time.sleep(0.15)
    assert client.get(URL, params=QUERY, headers=GZIP).content == before.content
    assert entry.settled is not None  # the folder's mtime has vouched since
    assert client.get(URL, params=QUERY, headers=GZIP).content == before.content
    settings.lake.write_month(
        "bars", "sample", "BTC/USD", "1h", "2018-01", month_bars("2018-01", 5)
    )
    after = client.get(URL, params=QUERY, headers=GZIP)
    assert opens(after)[0] == 5 * opens(before)[0]


def test_month_stamps_tell_a_replaced_file_by_its_inode(tmp_path):
    """Same name, size and mtime: only the inode of the new file differs (a rename into place
    gives every version a new one)."""
    path = tmp_path / "2018-01.parquet"
    path.write_bytes(b"a" * 100)
    before = month_stamps(tmp_path, "2018-01", "2018-01")
    mtime = path.stat().st_mtime_ns
    replacement = tmp_path / ".2018-01.parquet.tmp"
    replacement.write_bytes(b"b" * 100)
    os.utime(replacement, ns=(mtime, mtime))
    keep_inode_busy = path.open("rb")  # the old inode cannot be reused while open
    try:
        os.replace(replacement, path)
        after = month_stamps(tmp_path, "2018-01", "2018-01")
    finally:
        keep_inode_busy.close()
    assert [s[0] for s in after] == ["2018-01.parquet"]
    assert (after[0][2], after[0][3]) == (before[0][2], before[0][3])
    assert after != before
    with pytest.raises(FileNotFoundError):
        month_stamps(tmp_path / "missing", "0000-00", "9999-99")


def test_concurrent_first_requests_read_the_lake_once(app):
    async def fetch_all() -> list[httpx.Response]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            return await asyncio.gather(
                *(client.get(URL, params=QUERY, headers=GZIP) for _ in range(20))
            )

    responses = asyncio.run(fetch_all())
    assert {r.status_code for r in responses} == {200}
    assert len({r.content for r in responses}) == 1
    assert app.state.bars_cache.stats.reads == 1


def test_errors_are_not_cached(client, settings, monkeypatch):
    from api.routers import bars

    monkeypatch.setattr(bars, "MAX_BAR_ROWS", 100)
    for _ in range(2):
        assert client.get(URL, params=QUERY, headers=GZIP).status_code == 422
    monkeypatch.setattr(bars, "MAX_BAR_ROWS", 50_000)
    assert client.get(URL, params=QUERY, headers=GZIP).status_code == 200


@pytest.mark.parametrize(
    ("header", "gzip_ok"),
    [
        ("gzip, deflate, br, zstd", True),
        ("deflate", False),
        ("gzip;q=0", False),
        ("*", True),
        ("*;q=0", False),
        ("identity, *;q=0.5", True),
        ("br, gzip;q=0, *", False),
        ("GZIP;Q=0.8", True),
        ("gzip;q=oops", False),
    ],
)
def test_accept_encoding_is_negotiated(header, gzip_ok):
    assert accepts_gzip(header) is gzip_ok


def test_if_none_match_lists_and_weak_tags():
    assert etag_matches('"a", "b"', '"b"')
    assert etag_matches('W/"b"', '"b"')
    assert etag_matches("*", '"b"')
    assert not etag_matches('"a-gzip"', '"a"')


def test_gzip_body_is_a_gzip_stream(app, settings):
    with TestClient(app) as client:
        raw = client.get(URL, params=QUERY, headers=GZIP)
        # httpx decodes; the bytes on the wire are what Content-Length counts
        stream = client.stream("GET", URL, params=QUERY, headers=GZIP)
        with stream as response:
            wire = b"".join(response.iter_raw())
    assert int(raw.headers["content-length"]) == len(wire)
    assert orjson.loads(gzip.decompress(wire)) == orjson.loads(raw.content)

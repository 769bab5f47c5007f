"""Encoded bars responses, kept per worker process and checked against the lake on every use.

A response is cached with the stamps (name, inode, mtime, size) of the month files it read. A
month is republished by writing a new file and renaming it into place, which gives it a new
inode (and mtime), so comparing the stamps taken now with the cached ones tells whether the
cached bytes are still what the lake holds: a cached answer is never served for a month that
was rewritten since. The inode matters: two rewrites within one tick of the file-system clock
can leave mtime and size unchanged.

Each entry holds the body once per content coding asked for (identity, gzip): the compression
runs once per version of the data, not once per request.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import time
import zlib
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache

import anyio

from maestro_pipeline.storage.lake import Stamps, month_stamps

CACHE_BYTES = 64 * 1024 * 1024
MAX_ALIASES = 4096
# Level 4 of zlib: within 3 % of level 6's size on a year of 1h bars, in a third of the time
# (a miss right after a month is rewritten pays it once per worker).
GZIP_LEVEL = 4
# Part of every ETag: a change to how bars are encoded must not answer 304 to an old copy.
ENCODING_VERSION = "bars-json-1"
# How long a series folder's mtime must stay the same before it alone vouches for the months:
# far above the file-system clock's tick (ms; 1 s or 2 s on coarse file systems).
QUIET_NS = 3_000_000_000


@dataclass(frozen=True)
class BarsRead:
    """What a validated bars request reads: one series, a range, and a row limit."""

    root: str
    exchange: str
    symbol: str
    timeframe: str
    start: datetime | None
    end: datetime | None
    limit: int | None


def version_tag(read: BarsRead, stamps: Stamps) -> str:
    """The entity tag of one version of a read (same in every worker: any of them can 304)."""
    digest = hashlib.blake2b(repr((ENCODING_VERSION, read, stamps)).encode(), digest_size=12)
    return digest.hexdigest()


@lru_cache(maxsize=256)
def accepts_gzip(accept_encoding: str) -> bool:
    """Whether an Accept-Encoding header admits gzip (explicitly or as ``*``, q > 0)."""
    weights: dict[str, float] = {}
    for item in accept_encoding.lower().split(","):
        coding, _, params = item.strip().partition(";")
        quality = 1.0
        for param in params.split(";"):
            name, _, value = param.strip().partition("=")
            if name == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        weights[coding.strip()] = quality
    return weights.get("gzip", weights.get("x-gzip", weights.get("*", 0.0))) > 0


def etag_matches(if_none_match: str, etag: str) -> bool:
    """Weak comparison of ``etag`` with an If-None-Match list (``*`` matches anything)."""
    opaque = etag.removeprefix("W/")
    for candidate in if_none_match.split(","):
        candidate = candidate.strip()
        if candidate == "*" or candidate.removeprefix("W/") == opaque:
            return True
    return False


def entity_tag(tag: str, coding: str) -> str:
    """The strong ETag of one representation: the gzip bytes get their own."""
    return f'"{tag}"' if coding == "identity" else f'"{tag}-{coding}"'


def not_modified_headers(etag: str) -> tuple[tuple[bytes, bytes], ...]:
    """The headers of a 304 answer for ``etag``."""
    return (
        (b"etag", etag.encode()),
        (b"cache-control", b"no-cache"),
        (b"vary", b"Accept-Encoding"),
    )


@dataclass(frozen=True)
class Variant:
    """One representation of an entry: the body and every header of its 200 answer."""

    body: bytes
    etag: str
    headers: tuple[tuple[bytes, bytes], ...]
    not_modified: tuple[tuple[bytes, bytes], ...]


def make_variant(body: bytes, tag: str, coding: str) -> Variant:
    """The identity or gzip representation of ``body`` (JSON) with its headers."""
    if coding == "gzip":
        compressor = zlib.compressobj(GZIP_LEVEL, zlib.DEFLATED, 31)  # 31: gzip container
        body = compressor.compress(body) + compressor.flush()
    etag = entity_tag(tag, coding)
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        *not_modified_headers(etag),
    ]
    if coding != "identity":
        headers.append((b"content-encoding", coding.encode()))
    return Variant(body, etag, tuple(headers), not_modified_headers(etag))


@dataclass
class Entry:
    """The cached version of one read: where its months live, their stamps, its bodies."""

    read: BarsRead
    folder: str
    months: tuple[str, str]
    stamps: Stamps
    tag: str
    variants: dict[str, Variant] = field(default_factory=dict)
    # (inode, mtime ns) of the series folder and when it was first seen so (monotonic ns).
    folder_seen: tuple[tuple[int, int], int] | None = None
    # The folder's (inode, mtime ns) once seen unchanged for QUIET_NS: it alone vouches.
    settled: tuple[int, int] | None = None

    @property
    def size(self) -> int:
        return sum(len(v.body) for v in self.variants.values())

    def is_current(self) -> bool:
        """Whether the lake still holds exactly the month files this entry was read from.

        Every lake write renames a file into the series folder, which sets the folder's mtime
        to the file system's (coarse) clock. Two renames within one tick of that clock leave
        the same mtime, so the folder's mtime alone proves nothing until it has stayed the
        same for longer than a tick (QUIET_NS, on this process's clock); until then the
        months themselves are compared. After that, a rename would set a later mtime: one
        ``stat`` of the folder instead of one per month.
        """
        try:
            folder = os.stat(self.folder)
            mark = (folder.st_ino, folder.st_mtime_ns)
            if self.settled == mark:
                return True
            if month_stamps(self.folder, *self.months) != self.stamps:
                return False
        except OSError:
            return False
        now = time.monotonic_ns()
        if self.folder_seen is None or self.folder_seen[0] != mark:
            self.folder_seen, self.settled = (mark, now), None
        elif now - self.folder_seen[1] > QUIET_NS:
            # Any rename in the tick that set this mtime happened long before the months
            # just compared were looked at: they include it.
            self.settled = mark
        return True


@dataclass
class CacheStats:
    """Counters for tests and benchmarks: answers from the cache, and reads of the lake."""

    hits: int = 0
    reads: int = 0


class BarsCache:
    """LRU of entries by read (at most ``max_bytes`` of bodies), and of the raw request
    (path, query string) that last led to each read, so a repeated request is answered
    without routing or validating it again.

    Used from the event loop only (the reads and encodings run in worker threads, and their
    results are stored back on the loop), so it needs no lock.
    """

    def __init__(self, max_bytes: int = CACHE_BYTES, max_aliases: int = MAX_ALIASES) -> None:
        self._max_bytes = max_bytes
        self._max_aliases = max_aliases
        self._bytes = 0
        self._entries: OrderedDict[BarsRead, Entry] = OrderedDict()
        self._aliases: OrderedDict[tuple[str, bytes], BarsRead] = OrderedDict()
        self._pending: dict[tuple[str, str], asyncio.Future[Variant]] = {}
        self.stats = CacheStats()

    def current(
        self, read: BarsRead, folder: str, months: tuple[str, str], stamps: Stamps
    ) -> Entry:
        """The entry of ``read`` at ``stamps``: the cached one if it matches, else a new one."""
        entry = self._entries.get(read)
        if entry is not None and entry.stamps == stamps:
            self._entries.move_to_end(read)
            return entry
        if entry is not None:
            self._bytes -= entry.size
        entry = Entry(read, folder, months, stamps, version_tag(read, stamps))
        self._entries[read] = entry
        self._entries.move_to_end(read)
        return entry

    def alias(self, path: str, query: bytes, read: BarsRead) -> None:
        """Remember that this raw request reads ``read``."""
        self._aliases[(path, query)] = read
        self._aliases.move_to_end((path, query))
        while len(self._aliases) > self._max_aliases:
            self._aliases.popitem(last=False)

    def lookup(self, path: str, query: bytes, coding: str) -> Variant | None:
        """The cached answer to a raw request, if the lake still holds what it was read from."""
        read = self._aliases.get((path, query))
        entry = self._entries.get(read) if read is not None else None
        if entry is None:
            return None
        variant = entry.variants.get(coding)
        if variant is None or not entry.is_current():
            return None
        self._entries.move_to_end(read)
        self.stats.hits += 1
        return variant

    async def variant(self, entry: Entry, coding: str, read_json: Callable[[], bytes]) -> Variant:
        """The ``coding`` representation of ``entry``, read and encoded once however many
        requests ask for it at the same time (the others wait for the first one's work, which
        goes on if the request that started it goes away)."""
        variant = entry.variants.get(coding)
        if variant is not None:
            self.stats.hits += 1
            return variant
        key = (entry.tag, coding)
        task = self._pending.get(key)
        if task is None:
            task = asyncio.ensure_future(self._encode(entry, coding, read_json))
            self._pending[key] = task
            task.add_done_callback(lambda done: self._forget_pending(key, done))
        return await asyncio.shield(task)

    def _forget_pending(self, key: tuple[str, str], task: asyncio.Future[Variant]) -> None:
        del self._pending[key]
        if not task.cancelled():
            task.exception()  # retrieved here: no warning when every waiter has gone

    async def _encode(self, entry: Entry, coding: str, read_json: Callable[[], bytes]) -> Variant:
        identity = entry.variants.get("identity")
        source = identity.body if identity is not None else None

        def encode() -> tuple[Variant | None, Variant]:
            body = source if source is not None else read_json()
            plain = make_variant(body, entry.tag, "identity") if source is None else None
            if coding == "identity":
                return plain, plain or make_variant(body, entry.tag, coding)
            return plain, make_variant(body, entry.tag, coding)

        self.stats.reads += source is None
        plain, variant = await anyio.to_thread.run_sync(encode)
        self._store(entry, plain, variant, coding)
        return variant

    def _store(self, entry: Entry, plain: Variant | None, variant: Variant, coding: str) -> None:
        live = self._entries.get(entry.read) is entry
        for name, value in (("identity", plain), (coding, variant)):
            if value is None or name in entry.variants:
                continue
            entry.variants[name] = value
            if live:
                self._bytes += len(value.body)
        while self._bytes > self._max_bytes and self._entries:
            _, evicted = self._entries.popitem(last=False)
            self._bytes -= evicted.size

"""Repeated bars requests answered from the cache before routing.

A chart viewer asks for the same bars again and again. Once the bars route has validated a
request, read the lake and encoded the answer, the same raw request (path and query string) is
answered here: one look at the month files' stamps, and the cached bytes (or a 304) are sent
without FastAPI's routing, validation and dependency resolution, which cost more than the
lookup itself. Anything else (a first request, a rewritten month, an error) goes to the app.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send

from api.bars_cache import BarsCache, accepts_gzip, etag_matches


class BarsFastPath:
    """ASGI middleware serving cached answers of GET ``{prefix}...`` from ``cache``."""

    def __init__(self, app: ASGIApp, cache: BarsCache, prefix: str) -> None:
        self.app = app
        self.cache = cache
        self.prefix = prefix

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] == "http"
            and scope["method"] == "GET"
            and scope["path"].startswith(self.prefix)
        ):
            accept_encoding = if_none_match = ""
            for name, value in scope["headers"]:
                if name == b"accept-encoding":
                    accept_encoding = value.decode("latin-1")
                elif name == b"if-none-match":
                    if_none_match = value.decode("latin-1")
            coding = "gzip" if accept_encoding and accepts_gzip(accept_encoding) else "identity"
            variant = self.cache.lookup(scope["path"], scope["query_string"], coding)
            if variant is not None:
                if if_none_match and etag_matches(if_none_match, variant.etag):
                    status, headers, body = 304, variant.not_modified, b""
                else:
                    status, headers, body = 200, variant.headers, variant.body
                await send({"type": "http.response.start", "status": status, "headers": headers})
                await send({"type": "http.response.body", "body": body})
                return
        await self.app(scope, receive, send)

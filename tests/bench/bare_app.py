"""A bare aiohttp app that answers the gateway's captured responses byte for byte.

It is the ceiling `bench_http.py` compares the gateway with: same framework, same
bytes, same Content-Type and status, no work in between, so the gap between the two
is the gateway's own cost per request.

Run: python tests/bench/bare_app.py --captures FILE --host 127.0.0.1 --port P
where FILE is the JSON list `bench_http.py` writes (method, path, status,
content_type, body_b64).
"""

from __future__ import annotations

import argparse
import base64
import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from aiohttp import web

Handler = Callable[[web.Request], Awaitable[web.Response]]


def fixed_handler(status: int, content_type: str, body: bytes, *, read_body: bool) -> Handler:
    """A handler answering `body`; a POST reads its body first, as any real server must."""

    async def handler(request: web.Request) -> web.Response:
        if read_body:
            await request.read()
        return web.Response(status=status, body=body, headers={"Content-Type": content_type})

    return handler


def by_route_header(handlers: dict[str, Handler], header: str) -> Handler:
    """One handler for several captures on the same method and path, picked by the
    route named in `header` (the first capture when it names none)."""
    first = next(iter(handlers.values()))

    async def handler(request: web.Request) -> web.Response:
        return await handlers.get(request.headers.get(header, ""), first)(request)

    return handler


def build_app(captures: list[dict[str, Any]], route_header: str) -> web.Application:
    app = web.Application()
    routes: dict[tuple[str, str], dict[str, Handler]] = {}
    for capture in captures:
        method = capture["method"].upper()
        handler = fixed_handler(
            int(capture["status"]),
            capture["content_type"],
            base64.b64decode(capture["body_b64"]),
            read_body=method == "POST",
        )
        routes.setdefault((method, capture["path"]), {})[capture["route"]] = handler
    for (method, path), handlers in routes.items():
        if len(handlers) == 1:
            app.router.add_route(method, path, next(iter(handlers.values())))
        else:
            app.router.add_route(method, path, by_route_header(handlers, route_header))
    app.router.add_get(
        "/healthz", fixed_handler(200, "application/json", b'{"status":"ok"}', read_body=False)
    )
    return app


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--captures", type=Path, required=True)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--route-header", required=True)
    args = parser.parse_args(argv)
    captures = json.loads(args.captures.read_text(encoding="utf-8"))
    # access_log=None exactly as the gateway's `serve` passes it to its server.
    web.run_app(
        build_app(captures, args.route_header),
        host=args.host,
        port=args.port,
        access_log=None,
        print=None,
    )


if __name__ == "__main__":
    main()

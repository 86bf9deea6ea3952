"""Open311 routes: `{base}/{resource}.{format}`, matched by our own small table.

aiohttp's router cannot answer an unknown suffix or a wrong method with an error in
the requested format, nor tolerate the doubled slash some clients send without a
redirect (which breaks POST), so the edge resolves paths here.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from gateway.open311.errors import Open311Error, not_found
from gateway.open311.render import Format

if TYPE_CHECKING:
    from gateway.http.call import Call

Handler = Callable[["Call"], Awaitable[bytes]]

FORMATS: frozenset[str] = frozenset({"xml", "json"})
_SLASHES = re.compile(r"/{2,}")


@dataclass(frozen=True, slots=True)
class Route:
    name: str
    """The route's template, e.g. `requests/{id}`: what logs and metrics show."""
    pattern: re.Pattern[str]
    handlers: dict[str, Handler]


@dataclass(frozen=True, slots=True)
class Match:
    route: Route
    handler: Handler
    fmt: Format
    argument: str


class Router:
    def __init__(self, base_path: str = "") -> None:
        self.base_path = base_path
        self._routes: list[Route] = []
        self.resolve = functools.lru_cache(maxsize=4096)(self._resolve)
        """Paths repeat (services.json, requests.xml): a hit skips the regex scan."""

    def add(self, template: str, **handlers: Handler) -> None:
        """Register `template` (with at most one `{name}` segment) for the given methods."""
        regex = re.sub(r"\\\{\w+\\\}", "([^/]+)", re.escape(template))
        self._routes.append(
            Route(
                template,
                re.compile(rf"{regex}\.(\w+)"),
                {m.upper(): h for m, h in handlers.items()},
            )
        )
        self.resolve.cache_clear()

    def resource_path(self, path: str) -> str:
        """The path relative to the base, with doubled slashes merged."""
        path = _SLASHES.sub("/", path)
        if self.base_path and path.startswith(self.base_path + "/"):
            path = path[len(self.base_path) :]
        return path.lstrip("/")

    def _resolve(self, method: str, path: str) -> Match:
        resource = self.resource_path(path)
        for route in self._routes:
            found = route.pattern.fullmatch(resource)
            if found is None:
                continue
            *arguments, fmt = found.groups()
            if fmt not in FORMATS:
                raise not_found(f"unknown format '.{fmt}': use .xml or .json")
            handler = route.handlers.get(method)
            if handler is None:
                allowed = ", ".join(sorted(route.handlers))
                raise Open311Error(
                    405, f"method {method} is not allowed here", headers={"Allow": allowed}
                )
            return Match(route, handler, fmt, arguments[0] if arguments else "")  # type: ignore[arg-type]
        raise not_found(f"no such resource '/{resource}'")


def requested_format(path: str) -> Format:
    """The format errors are answered in, even when the path matched no route."""
    return "json" if path.rstrip("/").endswith(".json") else "xml"

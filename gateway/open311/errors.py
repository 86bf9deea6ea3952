"""Protocol errors: what the client did wrong (or what we cannot do), as Open311 sees it.

Each error carries its HTTP status and one or more problems; the edge renders them
as `<errors><error>…</error></errors>` or a JSON array in the requested format.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Problem:
    code: int
    description: str


class Open311Error(Exception):
    """An error answered to the client, with every problem found listed."""

    def __init__(
        self,
        status: int,
        *descriptions: str,
        headers: dict[str, str] | None = None,
    ) -> None:
        self.status = status
        self.problems = tuple(Problem(status, text) for text in descriptions)
        self.headers = headers or {}
        super().__init__("; ".join(descriptions))


def bad_request(*descriptions: str) -> Open311Error:
    return Open311Error(400, *descriptions)


def forbidden(description: str) -> Open311Error:
    return Open311Error(403, description)


def not_found(description: str) -> Open311Error:
    return Open311Error(404, description)


def unavailable(description: str, retry_after: int = 30) -> Open311Error:
    return Open311Error(503, description, headers={"Retry-After": str(retry_after)})

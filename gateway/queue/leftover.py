"""Jobs an earlier release left in `queue.db`, when the embedded queue had a file of its
own beside a SQLite store: adopted into the store's file, where the queue now lives by
default, so an upgrade neither loses nor strands a job.

The old file is first renamed (`queue.db.adopting`, with its WAL), so one process alone
adopts it, then its jobs and dead letters are copied in one transaction (a job already
there, from an adoption cut short, is skipped), and the file is kept as
`queue.db.adopted` for the operator to delete.
"""

from __future__ import annotations

from contextlib import suppress
from pathlib import Path

from sqlalchemy import Connection

from gateway.logs import get_logger
from gateway.queue.schema import dead_letters, jobs
from gateway.sqlitefile import SqliteFile

log = get_logger(__name__)

LEFTOVER_NAME = "queue.db"
_ADOPTING, _ADOPTED = ".adopting", ".adopted"
_SIDECARS = ("-wal", "-shm")


async def adopt_leftover_queue(file: SqliteFile) -> int:
    """Jobs and dead letters moved from a leftover `queue.db` beside `file` into it."""
    leftover = file.path.with_name(LEFTOVER_NAME)
    adopting = leftover.with_name(LEFTOVER_NAME + _ADOPTING)
    if leftover != file.path and leftover.exists() and not adopting.exists():
        for suffix in _SIDECARS:
            _rename(Path(f"{leftover}{suffix}"), Path(f"{adopting}{suffix}"))
        _rename(leftover, adopting)
    if not adopting.exists():
        return 0
    moved = await file.outside_transaction(lambda connection: _copy(connection, adopting))
    for suffix in ("", *_SIDECARS):
        _rename(Path(f"{adopting}{suffix}"), Path(f"{leftover}{_ADOPTED}{suffix}"))
    log.warning("leftover_queue_adopted", jobs=moved, kept_as=f"{leftover}{_ADOPTED}")
    return moved


def _rename(source: Path, target: Path) -> None:
    with suppress(FileNotFoundError):
        source.rename(target)


def _copy(connection: Connection, old: Path) -> int:
    """On the file's thread, between transactions: ATTACH and DETACH go to the driver's
    connection, as SQLAlchemy would open a transaction around them."""
    driver = connection.connection.dbapi_connection
    assert driver is not None
    driver.execute("ATTACH DATABASE ? AS leftover", (str(old),))
    try:
        with connection.begin():
            tables = (jobs, dead_letters)
            return sum(_copy_table(connection, table.name, skip={"seq"}) for table in tables)
    finally:
        driver.execute("DETACH DATABASE leftover")


def _copy_table(connection: Connection, table: str, skip: set[str]) -> int:
    """Rows of the old table, in the columns both have (an older file may lack some, all
    nullable); `seq` is given anew so the old order follows the jobs already queued."""

    def columns(schema: str) -> list[str]:
        rows = connection.exec_driver_sql(f"PRAGMA {schema}.table_info({table})")
        return [row[1] for row in rows]

    old = columns("leftover")
    if not old:
        return 0
    shared = [name for name in columns("main") if name in old and name not in skip]
    names = ", ".join(shared)
    order = " ORDER BY seq" if "seq" in old else ""
    copied = connection.exec_driver_sql(
        f"INSERT OR IGNORE INTO main.{table} ({names}) SELECT {names} FROM leftover.{table}{order}"
    )
    return copied.rowcount

"""NULLs and blobs reach SQLite through registered adapters, bound unchanged."""

from __future__ import annotations

import sqlite3

from connectors.sql.database import sqlite_setup


def test_setting_up_a_sqlite_database_registers_adapters_for_null_and_blobs() -> None:
    sqlite_setup(1000, begin=None)
    for kind in (type(None), memoryview):
        assert (kind, sqlite3.PrepareProtocol) in sqlite3.adapters


def test_nulls_and_blobs_are_bound_as_they_were() -> None:
    sqlite_setup(1000, begin=None)
    connection = sqlite3.connect(":memory:")
    try:
        connection.execute("CREATE TABLE t (a, b)")
        connection.execute("INSERT INTO t VALUES (?, ?)", (None, memoryview(b"\x00payload")))
        row = connection.execute("SELECT a, typeof(a), b, typeof(b) FROM t").fetchone()
    finally:
        connection.close()
    assert row == (None, "null", b"\x00payload", "blob")

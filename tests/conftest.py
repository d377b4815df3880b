"""Fixtures shared by test modules: the real PostgreSQL server on loopback."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from leanlearn._util import first_line, redact

POSTGRES = os.environ.get("LEANLEARN_TEST_POSTGRES", "postgresql+psycopg2://postgres@127.0.0.1:5432/test")


@pytest.fixture(scope="module")
def postgres() -> Iterator[object]:
    """An engine on the loopback PostgreSQL (trust auth, database ``test``); without one the test skips, saying why."""
    sa = pytest.importorskip("sqlalchemy")
    pytest.importorskip("psycopg2")
    engine = sa.create_engine(POSTGRES, connect_args={"connect_timeout": 2}, poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as connection:
            connection.execute(sa.text("select 1"))
    except sa.exc.DBAPIError as exc:
        engine.dispose()
        pytest.skip(f"PostgreSQL at {redact(POSTGRES)} is not reachable ({first_line(exc.orig or exc)})")
    yield engine
    engine.dispose()
